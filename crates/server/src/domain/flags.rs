//! Anomaly flags (issue #17, item 4): patterns in stored receipts that signatures and the credit
//! rules cannot rule out, shown to administrators in the flags report and, for a learner's own
//! flags, in the learner record. A flag **never withholds credit**: it is evidence for a person
//! to look at (docs/flags.md lists each flag, its threshold and why, in English and Chinese).
//!
//! The evidence is kept in the facts derived at ingest (`domain::credit::facts`), compact and
//! bounded, so raising a flag never needs the receipts again:
//!
//! - per **kiosk**, its study sessions (who was studying, from when, how much study time), the
//!   last [`KEPT_SESSIONS`];
//! - per **personal device**, the receipts it signed for learners other than its own;
//! - per **learner**, each exam attempt's least duration as the record shows it (already derived
//!   for the time limit), and the delays between consecutive practice answers, the last
//!   [`KEPT_DELAYS`].
//!
//! What receipts do not carry: when a question was *shown*. A `quiz_answered` receipt says only
//! when it was answered, so [`ANSWER_DELAY_CONSTANT`] measures the delay between one answer and
//! the next on the same device in the same app run (the next question is shown when the previous
//! one is answered); an attention check that records its showing would give the exact delay.

use std::collections::BTreeSet;

use hearth_protocol::manifest::Manifest;
use hearth_protocol::wire::AnomalyFlag;
use hearth_protocol::{DeviceId, LearnerId};

use super::credit::LearnerFacts;
use super::credit::book::Catalog;
pub use super::credit::evidence::{
    AnswerTiming, DELAY_MAX_MS, DeviceEvidence, KEPT_DELAYS, KEPT_OTHERS, KEPT_SESSIONS,
    KioskSession,
};
use super::credit::facts::ExamStatus;
use crate::store::Device;

/// Flag codes (stable).
pub const KIOSK_REGULAR_SESSIONS: &str = "flag.kiosk_regular_sessions";
pub const KIOSK_RAPID_SWITCHING: &str = "flag.kiosk_rapid_switching";
pub const PERSONAL_DEVICE_SHARED: &str = "flag.personal_device_shared";
pub const EXAM_TOO_FAST: &str = "flag.exam_too_fast";
pub const ANSWER_DELAY_CONSTANT: &str = "flag.answer_delay_constant";

/// Every flag code, in the order the docs and the app list them.
pub const ALL_CODES: [&str; 5] = [
    KIOSK_REGULAR_SESSIONS,
    KIOSK_RAPID_SWITCHING,
    PERSONAL_DEVICE_SHARED,
    EXAM_TOO_FAST,
    ANSWER_DELAY_CONSTANT,
];

/// Implausible regularity: sessions shorter than this are not compared (a sign-in to look
/// something up is not study).
pub const REGULAR_MIN_SESSION_MS: u64 = 5 * 60_000;
/// Session lengths within this of each other count as "the same length".
pub const REGULAR_TOLERANCE_MS: u64 = 500;
/// ... raised when that many different learners have sessions of the same length,
pub const REGULAR_MIN_LEARNERS: usize = 5;
/// ... and they are at least this share (per cent) of the kiosk's compared sessions.
pub const REGULAR_MIN_SHARE_PERCENT: usize = 25;

/// Rapid switching: raised when more than this many study sessions start on one kiosk within
/// [`SWITCH_WINDOW_MS`] (an average under five minutes per learner, study included).
pub const SWITCH_MAX_SESSIONS: usize = 12;
pub const SWITCH_WINDOW_MS: i64 = 60 * 60_000;

/// Exam reading floor: question text (prompt and options) read at most this many characters a
/// second (about twice a fast reader of Chinese, ~500 characters a minute) ...
pub const READ_CHARS_PER_S: u64 = 15;
/// ... plus this much per item to choose or type an answer.
pub const ITEM_MIN_MS: u64 = 1_000;

/// Constant answer delay: raised over at least this many kept delays (delays longer than
/// [`DELAY_MAX_MS`] are a break and not kept),
pub const DELAY_MIN_ANSWERS: usize = 20;
/// ... when their median absolute deviation is under this share (per mille) of their median.
/// People answering questions vary by tens of per cent; a script waiting a fixed time varies
/// by its timer's jitter.
pub const DELAY_MAX_SPREAD_PER_MILLE: u64 = 50;

fn flag(
    code: &'static str,
    device: Option<DeviceId>,
    learners: Vec<LearnerId>,
    detail: String,
) -> AnomalyFlag {
    AnomalyFlag {
        code: code.to_owned(),
        message: message(code).to_owned(),
        device_id: device,
        learner_ids: learners,
        detail,
    }
}

/// What an administrator is told for a flag code (English; the app and console translate by
/// code).
pub fn message(code: &str) -> &'static str {
    match code {
        KIOSK_REGULAR_SESSIONS => {
            "many learners on one classroom computer studied sessions of the same length"
        }
        KIOSK_RAPID_SWITCHING => {
            "study on one classroom computer switched between learners faster than people can"
        }
        PERSONAL_DEVICE_SHARED => "a learner's own computer signed records for other learners",
        EXAM_TOO_FAST => "an exam was finished faster than its questions can be read",
        ANSWER_DELAY_CONSTANT => "practice answers always came after the same delay",
        _ => "",
    }
}

/// The flags a device's evidence raises (kiosk flags for a kiosk, the shared-device flag for a
/// personal one).
pub fn device_flags(device: &Device, ev: &DeviceEvidence) -> Vec<AnomalyFlag> {
    let mut out = Vec::new();
    if device.learner.is_some() {
        if !ev.others.is_empty() {
            let n: u64 = ev.others.values().sum::<u64>() + ev.others_unlisted;
            out.push(flag(
                PERSONAL_DEVICE_SHARED,
                Some(device.id),
                ev.others.keys().copied().collect(),
                format!(
                    "{n} receipts signed for {} other learners (threshold: any)",
                    ev.others.len() + usize::from(ev.others_unlisted > 0)
                ),
            ));
        }
        return out;
    }
    let mut all: Vec<&KioskSession> = ev.sessions.iter().collect();
    all.extend(ev.open.iter());
    if let Some(f) = regular_sessions(device.id, &ev.sessions) {
        out.push(f);
    }
    if let Some(f) = rapid_switching(device.id, &all) {
        out.push(f);
    }
    out
}

/// The largest group of closed sessions (of at least [`REGULAR_MIN_SESSION_MS`]) whose lengths
/// lie within [`REGULAR_TOLERANCE_MS`] of each other; raised when it holds sessions of at least
/// [`REGULAR_MIN_LEARNERS`] learners and [`REGULAR_MIN_SHARE_PERCENT`] of the compared sessions.
fn regular_sessions(device: DeviceId, sessions: &[KioskSession]) -> Option<AnomalyFlag> {
    let mut s: Vec<&KioskSession> = sessions
        .iter()
        .filter(|s| s.study_ms >= REGULAR_MIN_SESSION_MS)
        .collect();
    s.sort_by_key(|s| s.study_ms);
    let mut best: Option<(usize, usize, BTreeSet<LearnerId>)> = None;
    let mut lo = 0;
    for hi in 0..s.len() {
        while s[hi].study_ms - s[lo].study_ms > REGULAR_TOLERANCE_MS {
            lo += 1;
        }
        let learners: BTreeSet<LearnerId> = s[lo..=hi].iter().map(|s| s.learner).collect();
        if best.as_ref().is_none_or(|b| learners.len() > b.2.len()) {
            best = Some((lo, hi, learners));
        }
    }
    let (lo, hi, learners) = best?;
    let group = hi - lo + 1;
    if learners.len() < REGULAR_MIN_LEARNERS || group * 100 < s.len() * REGULAR_MIN_SHARE_PERCENT {
        return None;
    }
    Some(flag(
        KIOSK_REGULAR_SESSIONS,
        Some(device),
        learners.into_iter().collect(),
        format!(
            "{group} of {} sessions lasted {}–{} ms (threshold: {REGULAR_MIN_LEARNERS} learners \
             within {REGULAR_TOLERANCE_MS} ms, {REGULAR_MIN_SHARE_PERCENT}% of sessions)",
            s.len(),
            s[lo].study_ms,
            s[hi].study_ms
        ),
    ))
}

/// Raised when more than [`SWITCH_MAX_SESSIONS`] study sessions started within one
/// [`SWITCH_WINDOW_MS`].
fn rapid_switching(device: DeviceId, sessions: &[&KioskSession]) -> Option<AnomalyFlag> {
    let mut s: Vec<&KioskSession> = sessions
        .iter()
        .copied()
        .filter(|s| s.study_ms > 0)
        .collect();
    s.sort_by_key(|s| s.start_ms);
    // The most sessions starting within one window: (first, count).
    let mut lo = 0;
    let (mut first, mut n) = (0, 0);
    for hi in 0..s.len() {
        while s[hi].start_ms - s[lo].start_ms >= SWITCH_WINDOW_MS {
            lo += 1;
        }
        if hi + 1 - lo > n {
            (first, n) = (lo, hi + 1 - lo);
        }
    }
    if n <= SWITCH_MAX_SESSIONS {
        return None;
    }
    let (lo, hi) = (first, first + n - 1);
    let learners: BTreeSet<LearnerId> = s[lo..=hi].iter().map(|s| s.learner).collect();
    Some(flag(
        KIOSK_RAPID_SWITCHING,
        Some(device),
        learners.into_iter().collect(),
        format!(
            "{n} study sessions started within {} min (threshold: more than \
             {SWITCH_MAX_SESSIONS})",
            SWITCH_WINDOW_MS / 60_000
        ),
    ))
}

/// The least time an exam can be read in: its items' prompt and option characters at
/// [`READ_CHARS_PER_S`], plus [`ITEM_MIN_MS`] per item.
pub fn reading_floor_ms(manifest: &Manifest, exam: &str) -> Option<u64> {
    let e = manifest.exams.iter().find(|e| e.id.as_str() == exam)?;
    let chars: u64 = e
        .items
        .iter()
        .map(|i| {
            i.prompt.chars().count() as u64
                + i.options
                    .iter()
                    .map(|o| o.chars().count() as u64)
                    .sum::<u64>()
        })
        .sum();
    Some(chars * 1000 / READ_CHARS_PER_S + ITEM_MIN_MS * e.items.len() as u64)
}

/// The flags a learner's own facts raise.
pub fn learner_flags(
    learner: LearnerId,
    facts: &LearnerFacts,
    catalog: &Catalog,
) -> Vec<AnomalyFlag> {
    let mut out = Vec::new();
    for x in &facts.exams {
        let (Some(took), Some(start)) = (x.took_ms, x.start.as_ref()) else {
            continue;
        };
        if !matches!(x.status, ExamStatus::Graded | ExamStatus::OverTime) {
            continue;
        }
        let Some(floor) = catalog
            .version(&x.course, start.version)
            .and_then(|v| reading_floor_ms(&v.manifest, &x.exam))
        else {
            continue;
        };
        if took < floor {
            out.push(flag(
                EXAM_TOO_FAST,
                Some(x.device),
                vec![learner],
                format!(
                    "{}/{} attempt {}: {took} ms, reading floor {floor} ms ({READ_CHARS_PER_S} \
                     characters a second and {ITEM_MIN_MS} ms an item)",
                    x.course, x.exam, x.attempt
                ),
            ));
        }
    }
    if let Some((median, mad)) = spread(&facts.answer_timing.delays)
        && mad * 1000 < median * DELAY_MAX_SPREAD_PER_MILLE
    {
        out.push(flag(
            ANSWER_DELAY_CONSTANT,
            None,
            vec![learner],
            format!(
                "{} answers {median} ms apart (median), deviating {mad} ms (threshold: at least \
                 {DELAY_MIN_ANSWERS} answers deviating under {DELAY_MAX_SPREAD_PER_MILLE}‰ of \
                 the median)",
                facts.answer_timing.delays.len()
            ),
        ));
    }
    out
}

/// (median, median absolute deviation) of the delays, when there are enough to judge.
fn spread(delays: &[u32]) -> Option<(u64, u64)> {
    if delays.len() < DELAY_MIN_ANSWERS {
        return None;
    }
    let median = |v: &mut Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let mut d: Vec<u64> = delays.iter().map(|&d| u64::from(d)).collect();
    let m = median(&mut d);
    let mut dev: Vec<u64> = d.iter().map(|&x| x.abs_diff(m)).collect();
    Some((m, median(&mut dev)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_protocol::MonoStamp;
    use uuid::Uuid;

    fn l(n: u128) -> LearnerId {
        LearnerId(Uuid::from_u128(n))
    }

    fn kiosk() -> Device {
        Device {
            id: DeviceId(Uuid::from_u128(99)),
            org: Uuid::nil(),
            public_key: hearth_protocol::PublicKey([0; 32]),
            learner: None,
            label: None,
            enrolled_ms: 0,
        }
    }

    fn sessions(lengths: &[u64], gap_ms: i64) -> DeviceEvidence {
        let mut ev = DeviceEvidence::default();
        for (i, &len) in lengths.iter().enumerate() {
            ev.kiosk_study(l(i as u128), i as i64 * gap_ms, len);
            ev.close_session();
        }
        ev
    }

    #[test]
    fn same_length_sessions_of_five_learners_are_regular_and_varied_ones_are_not() {
        let same = [1_800_000, 1_800_100, 1_800_300, 1_799_900, 1_800_200];
        let codes = |ev: &DeviceEvidence| -> Vec<String> {
            device_flags(&kiosk(), ev)
                .into_iter()
                .map(|f| f.code)
                .collect()
        };
        assert_eq!(codes(&sessions(&same, 3_600_000)), [KIOSK_REGULAR_SESSIONS]);
        // Four learners are not enough; a 600 ms spread is not the same length.
        assert!(codes(&sessions(&same[..4], 3_600_000)).is_empty());
        let wide = [1_800_000, 1_800_600, 1_801_200, 1_801_800, 1_802_400];
        assert!(codes(&sessions(&wide, 3_600_000)).is_empty());
        // Five equal among many varied ones: under a quarter of the sessions.
        let mut many: Vec<u64> = (0..30).map(|i| 600_000 + i * 97_000).collect();
        many.extend(same);
        assert!(codes(&sessions(&many, 3_600_000)).is_empty());
    }

    #[test]
    fn thirteen_sessions_in_an_hour_switch_too_fast_and_twelve_do_not() {
        let lengths: Vec<u64> = (0..13).map(|i| 60_000 + i * 7_000).collect();
        let fast = sessions(&lengths, 4 * 60_000);
        assert_eq!(device_flags(&kiosk(), &fast)[0].code, KIOSK_RAPID_SWITCHING);
        let ok = sessions(&lengths[..12], 4 * 60_000);
        assert!(device_flags(&kiosk(), &ok).is_empty());
        let slow = sessions(&lengths, 5 * 60_000);
        assert!(device_flags(&kiosk(), &slow).is_empty());
    }

    #[test]
    fn answer_delays_are_kept_within_one_run_and_judged_by_their_spread() {
        let dev = DeviceId(Uuid::from_u128(1));
        let mut t = AnswerTiming::default();
        let mut at = 0;
        for i in 0..30u64 {
            at += 4_000 + (i % 3) * 10;
            t.answered(
                dev,
                MonoStamp {
                    run: 1,
                    elapsed_ms: at,
                },
            );
        }
        assert_eq!(t.delays.len(), 29);
        let (m, mad) = spread(&t.delays).unwrap();
        assert!(mad * 1000 < m * DELAY_MAX_SPREAD_PER_MILLE);
        // A new run starts again; a break is not a delay.
        t.answered(
            dev,
            MonoStamp {
                run: 2,
                elapsed_ms: 5,
            },
        );
        t.answered(
            dev,
            MonoStamp {
                run: 2,
                elapsed_ms: 5 + DELAY_MAX_MS + 1,
            },
        );
        assert_eq!(t.delays.len(), 29);
        let human: Vec<u32> = (0..30).map(|i| 3_000 + (i * 7919 % 13) * 900).collect();
        let (m, mad) = spread(&human).unwrap();
        assert!(mad * 1000 >= m * DELAY_MAX_SPREAD_PER_MILLE);
    }
}
