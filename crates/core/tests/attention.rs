//! Attention checks in the lesson player (issue #17): asked at a random point of active study
//! drawn from the policy with the injected randomness, a minute to answer on the injected
//! clock, recorded as a signed `check_answered` receipt, offline (no service at all here).

use std::sync::Arc;

use hearth_core::content::{DownloadOptions, MemorySource, Progress};
use hearth_core::study::{CHECK_ANSWER_MS, CheckPolicy, SessionState};
use hearth_core::{Env, Hearth, ManualClock, RosterPerson};
use hearth_protocol::manifest::CheckQuestion;
use hearth_protocol::{Envelope, Event, ItemId, LearnerId, ReceiptBody};

mod common;

use common::{course, l1};

const T0: i64 = 1_795_939_200_000;

struct Fx {
    _dir: tempfile::TempDir,
    h: Hearth,
    clock: Arc<ManualClock>,
    learner: LearnerId,
}

fn questions() -> Vec<CheckQuestion> {
    ["k1", "k2"]
        .iter()
        .map(|id| CheckQuestion {
            id: ItemId::new(*id).unwrap(),
            lesson: l1(),
            prompt: format!("问题 {id}"),
            options: vec!["甲".into(), "乙".into(), "丙".into()],
        })
        .collect()
}

/// A personal device with the small course installed, its lesson carrying two checks (or none).
async fn fixture(with_checks: bool, seed: u64) -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let (env, clock) = Env::deterministic(T0, seed);
    let mut h = Hearth::open(dir.path(), env).unwrap();
    let learner = LearnerId::from_random_bytes([7; 16]);
    let roster = [RosterPerson {
        id: learner,
        name: "李娜".into(),
        role: "learner".into(),
        pin_hash: None,
        card: None,
    }];
    common::enroll(&mut h, Some(learner), &roster, T0);
    let (mut m, files) = common::small_course(None);
    if with_checks {
        m.checks = questions();
    }
    let src = MemorySource::new();
    src.add_manifest(&course(), 1, m.sign(&common::publisher()).unwrap());
    for f in files {
        src.add_file(f);
    }
    let mut ignore = |_: &Progress| {};
    h.download_course(&src, &course(), 1, DownloadOptions::default(), &mut ignore)
        .await
        .unwrap();
    Fx {
        _dir: dir,
        h,
        clock,
        learner,
    }
}

fn events(h: &Hearth) -> Vec<Event> {
    let key = h.device().public_key;
    h.outbox(0, 10_000)
        .unwrap()
        .into_iter()
        .map(|o| {
            let r = Envelope::from_bytes(o.envelope).verify(&key).unwrap();
            let body: &ReceiptBody = r.body();
            body.event.clone()
        })
        .collect()
}

/// (check, choice, shown_ms) of every `check_answered` receipt.
fn answered(h: &Hearth) -> Vec<(String, Option<u8>, u32)> {
    events(h)
        .into_iter()
        .filter_map(|e| match e {
            Event::CheckAnswered {
                check,
                choice,
                shown_ms,
                ..
            } => Some((check.to_string(), choice, shown_ms)),
            _ => None,
        })
        .collect()
}

fn active_total(h: &Hearth) -> u64 {
    events(h)
        .into_iter()
        .map(|e| match e {
            Event::ActiveStudy { active_ms, .. } => u64::from(active_ms),
            _ => 0,
        })
        .sum()
}

/// Studies with input in 5 s ticks until a check shows (at most `limit_ms`); returns the active
/// time counted when it showed.
fn study_until_check(fx: &mut Fx, limit_ms: u64) -> Option<u64> {
    let mut t = 0;
    while t < limit_ms {
        fx.clock.advance(5_000);
        t += 5_000;
        let v = fx.h.study_activity(true, true).unwrap();
        if v.check.is_some() {
            return Some(active_total(&fx.h));
        }
    }
    None
}

#[tokio::test]
async fn a_check_is_asked_in_the_drawn_range_nothing_counts_while_it_shows_and_the_answer_is_signed()
 {
    let mut fx = fixture(true, 11).await;
    fx.h.set_check_policy(CheckPolicy::new(60_000, 120_000));
    fx.h.open_lesson(&course(), 1, &l1()).unwrap();
    let at = study_until_check(&mut fx, 300_000).expect("a check within the policy's range");
    assert!((60_000..=125_000).contains(&at), "asked after {at} ms");
    let v = fx.h.study_session().unwrap();
    let shown = v.check.clone().unwrap();
    assert_eq!(v.state, SessionState::AwaitingPresence);
    assert_eq!(shown.options.len(), 3);
    assert_eq!(shown.left_ms, CHECK_ANSWER_MS);
    assert!(["k1", "k2"].contains(&shown.id.as_str()));
    // While it shows: no study counts, "I'm here" does not close it, a wrong option index is
    // refused.
    for _ in 0..4 {
        fx.clock.advance(5_000);
        fx.h.study_activity(true, true).unwrap();
    }
    assert_eq!(active_total(&fx.h), at);
    assert!(fx.h.confirm_presence().unwrap().check.is_some());
    assert_eq!(fx.h.answer_check(3).unwrap_err().code(), "study.bad_answer");
    let v = fx.h.answer_check(2).unwrap();
    assert!(v.check.is_none());
    assert_eq!(v.state, SessionState::Active);
    assert_eq!(
        answered(&fx.h),
        vec![(shown.id.to_string(), Some(2), 20_000)]
    );
    assert_eq!(
        fx.h.answer_check(0).unwrap_err().code(),
        "study.no_check",
        "one answer per check"
    );
    // A new stretch with a new due point; study counts again.
    let (active, due) = fx.h.check_stretch(fx.learner, &course()).unwrap();
    assert_eq!(active, 0);
    assert!((60_000..=120_000).contains(&due));
    fx.clock.advance(5_000);
    fx.h.study_activity(true, true).unwrap();
    fx.h.leave_lesson().unwrap();
    assert_eq!(active_total(&fx.h), at + 5_000);
}

#[tokio::test]
async fn an_unanswered_check_is_recorded_as_missed_and_the_player_asks_are_you_still_here() {
    let mut fx = fixture(true, 12).await;
    fx.h.set_check_policy(CheckPolicy::new(30_000, 30_000));
    fx.h.open_lesson(&course(), 1, &l1()).unwrap();
    assert_eq!(study_until_check(&mut fx, 60_000), Some(30_000));
    for _ in 0..13 {
        fx.clock.advance(5_000);
        fx.h.study_activity(true, false).unwrap();
    }
    let v = fx.h.study_session().unwrap();
    assert!(v.check.is_none());
    assert_eq!(v.state, SessionState::AwaitingPresence);
    let a = answered(&fx.h);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].1, None);
    assert_eq!(a[0].2, 65_000);
    assert_eq!(active_total(&fx.h), 30_000);
    assert_eq!(fx.h.confirm_presence().unwrap().state, SessionState::Active);
}

#[tokio::test]
async fn leaving_the_lesson_does_not_dodge_a_check() {
    let mut fx = fixture(true, 13).await;
    fx.h.set_check_policy(CheckPolicy::new(20_000, 20_000));
    fx.h.open_lesson(&course(), 1, &l1()).unwrap();
    assert!(study_until_check(&mut fx, 60_000).is_some());
    fx.clock.advance(7_000);
    fx.h.leave_lesson().unwrap();
    let a = answered(&fx.h);
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].1, a[0].2), (None, 7_000));
}

#[tokio::test]
async fn the_stretch_survives_a_restart_and_lessons_without_checks_never_ask() {
    let mut fx = fixture(true, 14).await;
    fx.h.set_check_policy(CheckPolicy::new(60_000, 60_000));
    fx.h.open_lesson(&course(), 1, &l1()).unwrap();
    assert_eq!(study_until_check(&mut fx, 40_000), None);
    fx.h.leave_lesson().unwrap();
    assert_eq!(
        fx.h.check_stretch(fx.learner, &course()).unwrap(),
        (40_000, 60_000)
    );
    // The app restarts: the study since the last check is still counted.
    let dir = fx._dir.path().to_owned();
    let (env, clock) = Env::deterministic(T0 + 3_600_000, 99);
    drop(fx.h);
    let mut h = Hearth::open(&dir, env).unwrap();
    h.set_check_policy(CheckPolicy::new(60_000, 60_000));
    h.open_lesson(&course(), 1, &l1()).unwrap();
    let mut asked_after = None;
    for i in 1..=8u64 {
        clock.advance(5_000);
        if h.study_activity(true, true).unwrap().check.is_some() {
            asked_after = Some(i * 5_000);
            break;
        }
    }
    assert_eq!(asked_after, Some(20_000));

    // The same course without checks: only "are you still here?".
    let mut plain = fixture(false, 15).await;
    plain.h.set_check_policy(CheckPolicy::new(5_000, 5_000));
    plain.h.open_lesson(&course(), 1, &l1()).unwrap();
    assert_eq!(study_until_check(&mut plain, 120_000), None);
    assert!(answered(&plain.h).is_empty());
}
