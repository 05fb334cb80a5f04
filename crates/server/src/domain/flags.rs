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
//! - per **kiosk**, also the attention checks answered on it (who, after what delay);
//! - per **learner**, each exam attempt's least duration as the record shows it (already derived
//!   for the time limit), the delays between consecutive practice answers, the last
//!   [`KEPT_DELAYS`], the delays from showing to answer of their attention checks, the last
//!   [`KEPT_CHECKS`], and the checks whose stated delay the device's own clock contradicts.
//!
//! What receipts do not carry: when a practice question was *shown*. A `quiz_answered` receipt
//! says only when it was answered, so [`ANSWER_DELAY_CONSTANT`] measures the delay between one
//! answer and the next on the same device in the same app run. An attention check's receipt
//! states its delay (`CheckAnswered.shown_ms`), but that is the client's word: a script choosing
//! it could vary it, so [`CHECK_DELAY_CONSTANT`] catches programs that tell it truthfully, and
//! [`CHECK_DELAY_CONTRADICTED`] compares it with the device's own monotonic clock (the check
//! cannot have shown before the study span recorded just before it ended).

use std::collections::BTreeSet;

use hearth_protocol::manifest::Manifest;
use hearth_protocol::wire::AnomalyFlag;
use hearth_protocol::{DeviceId, LearnerId};

use super::credit::LearnerFacts;
use super::credit::book::Catalog;
pub use super::credit::evidence::{
    AnswerTiming, CHECK_GAP_SLACK_MS, DELAY_MAX_MS, DeviceEvidence, KEPT_CHECKS, KEPT_DELAYS,
    KEPT_OTHERS, KEPT_SESSIONS, KioskSession,
};
use super::credit::facts::ExamStatus;
use crate::store::Device;

/// Flag codes (stable).
pub const KIOSK_REGULAR_SESSIONS: &str = "flag.kiosk_regular_sessions";
pub const KIOSK_RAPID_SWITCHING: &str = "flag.kiosk_rapid_switching";
pub const PERSONAL_DEVICE_SHARED: &str = "flag.personal_device_shared";
pub const EXAM_TOO_FAST: &str = "flag.exam_too_fast";
pub const ANSWER_DELAY_CONSTANT: &str = "flag.answer_delay_constant";
pub const CHECK_DELAY_CONSTANT: &str = "flag.check_delay_constant";
pub const CHECK_DELAY_CONTRADICTED: &str = "flag.check_delay_contradicted";
pub const KIOSK_SAME_CHECK_DELAYS: &str = "flag.kiosk_same_check_delays";

/// Every flag code, in the order the docs and the app list them.
pub const ALL_CODES: [&str; 8] = [
    KIOSK_REGULAR_SESSIONS,
    KIOSK_RAPID_SWITCHING,
    KIOSK_SAME_CHECK_DELAYS,
    PERSONAL_DEVICE_SHARED,
    EXAM_TOO_FAST,
    ANSWER_DELAY_CONSTANT,
    CHECK_DELAY_CONSTANT,
    CHECK_DELAY_CONTRADICTED,
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

/// Constant check delay: raised over at least this many answered attention checks (checks come
/// every 10–20 minutes of study: about two and a half hours of it) ...
pub const CHECK_MIN_ANSWERS: usize = 10;
/// ... when the median absolute deviation of their stated delays is at most this share (per
/// mille) of their median. Tighter than for practice answers: fewer values to judge.
pub const CHECK_MAX_SPREAD_PER_MILLE: u64 = 30;

/// Same check delays on one kiosk: answered checks whose delays lie within this of each other
/// count as "the same delay" ...
pub const KIOSK_CHECK_TOLERANCE_MS: u64 = 100;
/// ... raised when that many different learners answered checks after the same delay,
pub const KIOSK_CHECK_MIN_LEARNERS: usize = 4;
/// ... and they are at least this share (per cent) of the kiosk's kept checks.
pub const KIOSK_CHECK_MIN_SHARE_PERCENT: usize = 25;

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
        CHECK_DELAY_CONSTANT => "attention checks were always answered after the same delay",
        CHECK_DELAY_CONTRADICTED => {
            "an attention check's stated answer time contradicts the computer's own clock"
        }
        KIOSK_SAME_CHECK_DELAYS => {
            "many learners on one classroom computer answered checks after the same delay"
        }
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
    if let Some(f) = same_check_delays(device.id, &ev.checks) {
        out.push(f);
    }
    out
}

/// The largest group of `values` (learner, value) lying within `tolerance` of each other, by
/// the number of different learners in it: (its first and last value, its size, its learners).
fn largest_group(
    values: &[(LearnerId, u64)],
    tolerance: u64,
) -> Option<(u64, u64, usize, BTreeSet<LearnerId>)> {
    let mut s = values.to_vec();
    s.sort_by_key(|v| v.1);
    let mut best: Option<(u64, u64, usize, BTreeSet<LearnerId>)> = None;
    let mut lo = 0;
    for hi in 0..s.len() {
        while s[hi].1 - s[lo].1 > tolerance {
            lo += 1;
        }
        let learners: BTreeSet<LearnerId> = s[lo..=hi].iter().map(|v| v.0).collect();
        if best.as_ref().is_none_or(|b| learners.len() > b.3.len()) {
            best = Some((s[lo].1, s[hi].1, hi - lo + 1, learners));
        }
    }
    best
}

/// Raised when the kiosk's kept check answers hold a group within
/// [`KIOSK_CHECK_TOLERANCE_MS`] of [`KIOSK_CHECK_MIN_LEARNERS`] learners and
/// [`KIOSK_CHECK_MIN_SHARE_PERCENT`] of the checks.
fn same_check_delays(device: DeviceId, checks: &[(LearnerId, u32)]) -> Option<AnomalyFlag> {
    let values: Vec<(LearnerId, u64)> = checks.iter().map(|&(l, d)| (l, u64::from(d))).collect();
    let (lo, hi, group, learners) = largest_group(&values, KIOSK_CHECK_TOLERANCE_MS)?;
    if learners.len() < KIOSK_CHECK_MIN_LEARNERS
        || group * 100 < values.len() * KIOSK_CHECK_MIN_SHARE_PERCENT
    {
        return None;
    }
    Some(flag(
        KIOSK_SAME_CHECK_DELAYS,
        Some(device),
        learners.into_iter().collect(),
        format!(
            "{group} of {} checks answered {lo}–{hi} ms after showing (threshold: \
             {KIOSK_CHECK_MIN_LEARNERS} learners within {KIOSK_CHECK_TOLERANCE_MS} ms, \
             {KIOSK_CHECK_MIN_SHARE_PERCENT}% of checks)",
            values.len()
        ),
    ))
}

/// The largest group of closed sessions (of at least [`REGULAR_MIN_SESSION_MS`]) whose lengths
/// lie within [`REGULAR_TOLERANCE_MS`] of each other; raised when it holds sessions of at least
/// [`REGULAR_MIN_LEARNERS`] learners and [`REGULAR_MIN_SHARE_PERCENT`] of the compared sessions.
fn regular_sessions(device: DeviceId, sessions: &[KioskSession]) -> Option<AnomalyFlag> {
    let values: Vec<(LearnerId, u64)> = sessions
        .iter()
        .filter(|s| s.study_ms >= REGULAR_MIN_SESSION_MS)
        .map(|s| (s.learner, s.study_ms))
        .collect();
    let (lo, hi, group, learners) = largest_group(&values, REGULAR_TOLERANCE_MS)?;
    if learners.len() < REGULAR_MIN_LEARNERS
        || group * 100 < values.len() * REGULAR_MIN_SHARE_PERCENT
    {
        return None;
    }
    Some(flag(
        KIOSK_REGULAR_SESSIONS,
        Some(device),
        learners.into_iter().collect(),
        format!(
            "{group} of {} sessions lasted {lo}–{hi} ms (threshold: {REGULAR_MIN_LEARNERS} \
             learners within {REGULAR_TOLERANCE_MS} ms, {REGULAR_MIN_SHARE_PERCENT}% of sessions)",
            values.len(),
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
    if let Some((median, mad)) = spread(&facts.answer_timing.delays, DELAY_MIN_ANSWERS)
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
    let t = &facts.answer_timing;
    if let Some((median, mad)) = spread(&t.checks, CHECK_MIN_ANSWERS)
        && mad * 1000 <= median * CHECK_MAX_SPREAD_PER_MILLE
    {
        out.push(flag(
            CHECK_DELAY_CONSTANT,
            None,
            vec![learner],
            format!(
                "{} checks answered {median} ms after showing (median, as the app states), \
                 deviating {mad} ms (threshold: at least {CHECK_MIN_ANSWERS} checks deviating at \
                 most {CHECK_MAX_SPREAD_PER_MILLE}‰ of the median)",
                t.checks.len()
            ),
        ));
    }
    if let Some((stated, gap)) = t.last_contradiction {
        out.push(flag(
            CHECK_DELAY_CONTRADICTED,
            None,
            vec![learner],
            format!(
                "{} checks; the latest stated it was answered {stated} ms after showing, {gap} ms \
                 after the computer's previous study record (threshold: any check stated more \
                 than {CHECK_GAP_SLACK_MS} ms longer than that)",
                t.contradicted
            ),
        ));
    }
    out
}

/// (median, median absolute deviation) of the delays, when there are at least `min` to judge.
fn spread(delays: &[u32], min: usize) -> Option<(u64, u64)> {
    if delays.len() < min.max(1) {
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
        let (m, mad) = spread(&t.delays, DELAY_MIN_ANSWERS).unwrap();
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
        let (m, mad) = spread(&human, DELAY_MIN_ANSWERS).unwrap();
        assert!(mad * 1000 >= m * DELAY_MAX_SPREAD_PER_MILLE);
    }

    #[test]
    fn check_delays_constant_or_contradicted_are_flagged_and_human_ones_are_not() {
        let facts = |t: AnswerTiming| LearnerFacts {
            answer_timing: t,
            ..Default::default()
        };
        let raised = |t: AnswerTiming| -> Vec<String> {
            learner_flags(l(1), &facts(t), &Catalog::default())
                .into_iter()
                .map(|f| f.code)
                .collect()
        };
        // A script answering 5 s after every check, give or take its timer.
        let mut bot = AnswerTiming::default();
        for i in 0..CHECK_MIN_ANSWERS as u32 {
            let d = 5_000 + (i % 4) * 40;
            bot.check(d, true, Some(u64::from(d)));
        }
        assert_eq!(raised(bot.clone()), [CHECK_DELAY_CONSTANT]);
        // One check fewer is not enough to judge; timeouts are not answers.
        let mut few = AnswerTiming::default();
        for _ in 1..CHECK_MIN_ANSWERS {
            few.check(5_000, true, None);
        }
        few.check(5_000, false, None);
        assert!(raised(few).is_empty());
        // A person: 4–25 s, as reading and thinking take.
        let mut person = AnswerTiming::default();
        for i in 0..40u32 {
            let d = 4_000 + (i * 7_919 % 29) * 700;
            person.check(d, true, Some(u64::from(d) + 10));
        }
        assert!(raised(person.clone()).is_empty(), "{person:?}");
        // "Answered after 20 s" one second after the previous study record.
        person.check(20_000, true, Some(1_000));
        assert_eq!(raised(person.clone()), [CHECK_DELAY_CONTRADICTED]);
        // Within the slack, or with no study before it in the run: not contradicted.
        let mut near = AnswerTiming::default();
        near.check(20_000, true, Some(20_000 - CHECK_GAP_SLACK_MS));
        near.check(20_000, false, None);
        assert_eq!(near.contradicted, 0);
    }

    #[test]
    fn same_check_delays_of_four_learners_on_a_kiosk_are_flagged() {
        let flagged = |checks: &[(u128, u32)]| -> Vec<String> {
            let mut ev = DeviceEvidence::default();
            for &(who, d) in checks {
                ev.kiosk_check(l(who), d);
            }
            device_flags(&kiosk(), &ev)
                .into_iter()
                .map(|f| f.code)
                .collect()
        };
        let same = [(1, 6_000), (2, 6_050), (3, 5_990), (4, 6_020)];
        assert_eq!(flagged(&same), [KIOSK_SAME_CHECK_DELAYS]);
        // Three learners are not enough; 150 ms apart is not the same delay.
        assert!(flagged(&same[..3]).is_empty());
        assert!(flagged(&[(1, 6_000), (2, 6_150), (3, 6_300), (4, 6_450)]).is_empty());
        // A class of 10 answering at people's pace, three checks each.
        let class: Vec<(u128, u32)> = (0..30u32)
            .map(|i| (u128::from(i % 10), 3_000 + (i * 7_919 % 31) * 650))
            .collect();
        assert!(flagged(&class).is_empty());
    }
}
