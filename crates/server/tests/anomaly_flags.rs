//! Anomaly flags (issue #17, item 4; docs/flags.md): each flag raised by a scripted case and not
//! by honest study, through a real service over HTTP on 127.0.0.1:0 with real signed receipts,
//! and the credit of a flagged learner the same as the rules give without any flag.
//!
//! | case | script | flag | credit |
//! |---|---|---|---|
//! | kiosk farm | 6 learners on one kiosk, 30 × 1 min each, identical sessions | `flag.kiosk_regular_sessions` | 30 min each |
//! | kiosk relay | 13 learners on one kiosk, 3 min each, one after another | `flag.kiosk_rapid_switching` | 3 min each |
//! | shared PC | learner 0's own PC signs study for learner 1 | `flag.personal_device_shared` | learner 0 unchanged |
//! | exam bot | exam submitted 2 s after it started, all right | `flag.exam_too_fast` | exam passed, course complete |
//! | answer bot | 25 practice answers exactly 4 s apart | `flag.answer_delay_constant` | unchanged |
//! | check bot | 12 attention checks each answered 5 s after showing | `flag.check_delay_constant` | as a person's with the same study |
//! | check liar | a check "answered after 20 s" 1 s after the previous study record | `flag.check_delay_contradicted` | unchanged |
//! | kiosk check farm | 4 learners on one kiosk answering checks 7 s after showing | `flag.kiosk_same_check_delays` | unchanged |
//! | honest | a kiosk class of varied sessions and checks, personal study, a whole course, answers and checks at human pace | none | as studied |

mod common;

use common::lab::*;
use hearth_protocol::wire::{
    AnomalyFlag, BATCH_CONTENT_TYPE, FlagsReport, LearnerRecord, encode_batch,
};
use hearth_protocol::{Answer, CourseId, Event, ItemId, LearnerId};
use hearth_server::store::Role;
use hearth_server::{Limits, Running};

/// A lab with its service listening on 127.0.0.1:0 and an administrator's credential.
struct Served {
    lab: Lab,
    server: Running,
    admin: String,
    http: reqwest::Client,
}

impl Served {
    async fn new(learners: usize) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let lab = Lab::new(learners);
        let (_, admin) = lab.svc.add_user(lab.org, Role::Admin, "管理员").unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = hearth_server::spawn(listener, lab.svc.clone(), Limits::default()).unwrap();
        Served {
            lab,
            server,
            admin,
            http: reqwest::Client::new(),
        }
    }

    /// Uploads receipts as the device does: one zstd batch under its credential.
    async fn send(&self, dev: &Dev, envelopes: Vec<Vec<u8>>) {
        let body = zstd::encode_all(&encode_batch(&envelopes)[..], 3).unwrap();
        let res = self
            .http
            .post(self.server.url("/v1/sync/receipts"))
            .bearer_auth(&dev.credential)
            .header("content-type", BATCH_CONTENT_TYPE)
            .header("content-encoding", "zstd")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(status, 200, "upload: {text}");
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let res = self
            .http
            .get(self.server.url(path))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn flags(&self) -> Vec<AnomalyFlag> {
        self.get::<FlagsReport>("/v1/admin/flags").await.anomalies
    }

    async fn record(&self, l: LearnerId) -> LearnerRecord {
        self.get(&format!("/v1/learners/{}/record", l.0)).await
    }

    async fn credited(&self, l: LearnerId) -> u64 {
        self.record(l).await.credited_ms
    }
}

fn codes(flags: &[AnomalyFlag]) -> Vec<&str> {
    flags.iter().map(|f| f.code.as_str()).collect()
}

/// One session on a kiosk: sign in, `minutes` of one-minute spans, sign out.
fn kiosk_session(lab: &Lab, kiosk: &mut Dev, learner: LearnerId, minutes: u64) -> Vec<Vec<u8>> {
    kiosk.learner = learner;
    let mut b = vec![kiosk.receipt(signed_in())];
    b.extend(honest(lab, kiosk, minutes, long_study));
    b.push(kiosk.receipt(signed_out()));
    lab.advance(MINUTE);
    kiosk.wait(MINUTE);
    b
}

fn practice(n: u32) -> Event {
    Event::QuizAnswered {
        course: course(),
        lesson: lesson("l1"),
        quiz: "l1-quiz".parse().unwrap(),
        item: "q1".parse().unwrap(),
        answer: Answer::Choices(vec![(n % 2) as u8]),
    }
}

/// Practice answers `delays` apart on `dev`.
fn answers(lab: &Lab, dev: &mut Dev, delays: impl Iterator<Item = u64>) -> Vec<Vec<u8>> {
    let mut b = vec![dev.receipt(practice(0))];
    for (i, d) in delays.enumerate() {
        lab.advance(d);
        dev.wait(d);
        b.push(dev.receipt(practice(i as u32 + 1)));
    }
    b
}

/// Delays of a person answering: 3–14 s, no two alike in a row.
fn human_delays(n: u64) -> impl Iterator<Item = u64> {
    (0..n).map(|i| 3_000 + (i * 7_919 % 23) * 480)
}

/// The fixture course with attention checks (check c1 of lesson l1, right option 1).
fn checked() -> CourseId {
    CourseId::new("checked-course").unwrap()
}

fn publish_checked(lab: &Lab) {
    lab.svc
        .publish(&common::fixture_course().with_file_name("checked-course"))
        .unwrap();
}

fn checked_credit(rec: &LearnerRecord) -> u64 {
    rec.courses
        .iter()
        .find(|c| c.course == "checked-course")
        .map_or(0, |c| c.credited_ms)
}

/// Stretches of checked study (`minutes` each), each closed by check c1 answered right; the
/// check shows `gaps[i]` after the stretch's last study record and the app states `shown[i]`
/// (the same, for an honest app).
fn checked_study(
    lab: &Lab,
    dev: &mut Dev,
    minutes: u64,
    gaps: &[u64],
    shown: &[u64],
) -> Vec<Vec<u8>> {
    let mut b = Vec::new();
    for (&gap, &shown) in gaps.iter().zip(shown) {
        b.extend(honest(lab, dev, minutes, |ms| Event::ActiveStudy {
            course: checked(),
            lesson: lesson("l1"),
            active_ms: ms as u32,
        }));
        lab.advance(gap);
        dev.wait(gap);
        b.push(dev.receipt(Event::CheckAnswered {
            course: checked(),
            lesson: lesson("l1"),
            check: ItemId::new("c1").unwrap(),
            choice: Some(1),
            shown_ms: shown as u32,
        }));
    }
    b
}

/// Delays of people answering checks: 4–24 s, scattered (a multiplicative hash of the seed).
fn human_check_delays(n: u64, seed: u64) -> Vec<u64> {
    (0..n)
        .map(|i| 4_000 + (seed * 100 + i + 1) * 2_654_435_761 % 20_011)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_always_answered_five_seconds_after_showing_are_flagged_and_credited() {
    let s = Served::new(2).await;
    publish_checked(&s.lab);
    let (bot, person) = (s.lab.learners[0], s.lab.learners[1]);
    let mut pc = s.lab.personal(47, bot);
    pc.fetch_anchor(&s.lab);
    let five = vec![5_000; 12];
    let b = checked_study(&s.lab, &mut pc, 12, &five, &five);
    s.send(&pc, b).await;
    // A person doing the same study, answering at a person's pace.
    let mut pc2 = s.lab.personal(48, person);
    pc2.fetch_anchor(&s.lab);
    let human = human_check_delays(12, 0);
    let b = checked_study(&s.lab, &mut pc2, 12, &human, &human);
    s.send(&pc2, b).await;

    let rec = s.record(bot).await;
    assert_eq!(codes(&rec.anomalies), ["flag.check_delay_constant"]);
    assert!(
        rec.anomalies[0].detail.contains("12 checks"),
        "{:?}",
        rec.anomalies
    );
    assert_eq!(codes(&s.flags().await), ["flag.check_delay_constant"]);
    let honest_rec = s.record(person).await;
    assert!(
        honest_rec.anomalies.is_empty(),
        "{:?}",
        honest_rec.anomalies
    );
    assert!(checked_credit(&rec) > 0);
    assert_eq!(
        checked_credit(&rec),
        checked_credit(&honest_rec),
        "the flag withholds nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_answered_after_20_s_one_second_after_study_is_contradicted() {
    let s = Served::new(2).await;
    publish_checked(&s.lab);
    let (liar, person) = (s.lab.learners[0], s.lab.learners[1]);
    let mut pc = s.lab.personal(49, liar);
    pc.fetch_anchor(&s.lab);
    let b = checked_study(&s.lab, &mut pc, 10, &[8_000, 1_000], &[8_000, 20_000]);
    s.send(&pc, b).await;
    let mut pc2 = s.lab.personal(50, person);
    pc2.fetch_anchor(&s.lab);
    let b = checked_study(&s.lab, &mut pc2, 10, &[8_000, 20_000], &[8_000, 20_000]);
    s.send(&pc2, b).await;

    let rec = s.record(liar).await;
    assert_eq!(codes(&rec.anomalies), ["flag.check_delay_contradicted"]);
    assert!(
        rec.anomalies[0]
            .detail
            .contains("20000 ms after showing, 1000 ms after"),
        "{:?}",
        rec.anomalies
    );
    let honest_rec = s.record(person).await;
    assert!(
        honest_rec.anomalies.is_empty(),
        "{:?}",
        honest_rec.anomalies
    );
    assert_eq!(checked_credit(&rec), checked_credit(&honest_rec));
    assert_eq!(checked_credit(&rec), 20 * MINUTE, "both stretches credited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_learners_answering_checks_after_the_same_delay_on_one_kiosk_are_flagged() {
    let s = Served::new(4).await;
    publish_checked(&s.lab);
    let mut k = s.lab.kiosk(51);
    k.fetch_anchor(&s.lab);
    let mut b = Vec::new();
    for (i, &l) in s.lab.learners.iter().enumerate() {
        k.learner = l;
        b.push(k.receipt(signed_in()));
        let d = [7_000 + i as u64 * 20];
        b.extend(checked_study(&s.lab, &mut k, 10 + i as u64 * 3, &d, &d));
        b.push(k.receipt(signed_out()));
    }
    s.send(&k, b).await;
    let flags = s.flags().await;
    assert_eq!(codes(&flags), ["flag.kiosk_same_check_delays"]);
    assert_eq!(flags[0].device_id, Some(k.id()));
    assert_eq!(flags[0].learner_ids.len(), 4);
    for (i, &l) in s.lab.learners.iter().enumerate() {
        assert_eq!(
            checked_credit(&s.record(l).await),
            (10 + i as u64 * 3) * MINUTE,
            "credited in full"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_kiosk_sessions_are_flagged_and_credited_in_full() {
    let s = Served::new(6).await;
    let mut k = s.lab.kiosk(40);
    k.fetch_anchor(&s.lab);
    let mut b = Vec::new();
    for &l in &s.lab.learners {
        b.extend(kiosk_session(&s.lab, &mut k, l, 30));
    }
    s.send(&k, b).await;
    let flags = s.flags().await;
    assert_eq!(codes(&flags), ["flag.kiosk_regular_sessions"], "{flags:?}");
    assert_eq!(flags[0].device_id, Some(k.id()));
    assert_eq!(flags[0].learner_ids.len(), 6);
    for &l in &s.lab.learners {
        assert_eq!(s.credited(l).await, 30 * MINUTE, "a flag withholds nothing");
        assert!(s.record(l).await.withheld.is_empty());
    }
    // Deriving the facts again from the receipts (as after a policy change) finds it again.
    s.lab.svc.set_daily_cap(s.lab.org, 6.0).unwrap();
    assert_eq!(s.flags().await, flags);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirteen_learners_in_an_hour_on_one_kiosk_are_flagged_and_credited() {
    let s = Served::new(13).await;
    let mut k = s.lab.kiosk(41);
    k.fetch_anchor(&s.lab);
    let mut b = Vec::new();
    for &l in &s.lab.learners {
        b.extend(kiosk_session(&s.lab, &mut k, l, 3));
    }
    s.send(&k, b).await;
    let flags = s.flags().await;
    assert_eq!(codes(&flags), ["flag.kiosk_rapid_switching"], "{flags:?}");
    assert_eq!(flags[0].learner_ids.len(), 13);
    for &l in &s.lab.learners {
        assert_eq!(s.credited(l).await, 3 * MINUTE);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_pc_signing_for_another_learner_is_flagged() {
    let s = Served::new(2).await;
    let (owner, other) = (s.lab.learners[0], s.lab.learners[1]);
    let mut pc = s.lab.personal(42, owner);
    pc.fetch_anchor(&s.lab);
    let mut b = honest(&s.lab, &mut pc, 20, long_study);
    pc.learner = other;
    b.extend(honest(&s.lab, &mut pc, 5, long_study));
    s.send(&pc, b).await;
    let flags = s.flags().await;
    assert_eq!(codes(&flags), ["flag.personal_device_shared"], "{flags:?}");
    assert_eq!(flags[0].device_id, Some(pc.id()));
    assert_eq!(flags[0].learner_ids, [other]);
    assert_eq!(
        s.credited(owner).await,
        20 * MINUTE,
        "the owner's credit is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exam_submitted_faster_than_it_reads_is_flagged_but_still_passes() {
    let s = Served::new(1).await;
    let l = s.lab.learners[0];
    let mut pc = s.lab.personal(43, l);
    pc.fetch_anchor(&s.lab);
    // The whole course with the exam taking 12 minutes, then the same for a bot taking 2 s.
    let mut b = honest(&s.lab, &mut pc, 10, |ms| study("l1", ms));
    b.push(pc.receipt(completed("l1")));
    for i in 0..6 {
        s.lab.advance(10_000);
        pc.wait(10_000);
        b.push(pc.receipt(watched(s.lab.media, i * 10_000, (i + 1) * 10_000)));
    }
    b.push(pc.receipt(study("l2", MINUTE)));
    b.push(pc.receipt(completed("l2")));
    b.push(pc.receipt(exam_started(1)));
    s.lab.advance(2_000);
    pc.wait(2_000);
    b.push(pc.receipt(exam_submitted(1, true)));
    s.send(&pc, b).await;

    let rec = s.record(l).await;
    assert_eq!(codes(&rec.anomalies), ["flag.exam_too_fast"]);
    assert!(
        rec.anomalies[0].detail.contains("2000 ms"),
        "{:?}",
        rec.anomalies
    );
    let c = &rec
        .courses
        .iter()
        .find(|c| c.course == "electrician-safety")
        .unwrap();
    assert!(
        c.exams[0].passed && c.completed,
        "a flag does not fail the exam"
    );
    assert_eq!(codes(&s.flags().await), ["flag.exam_too_fast"]);
    s.lab.svc.set_daily_cap(s.lab.org, 6.0).unwrap();
    assert_eq!(s.record(l).await.anomalies, rec.anomalies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_always_four_seconds_apart_are_flagged() {
    let s = Served::new(1).await;
    let l = s.lab.learners[0];
    let mut pc = s.lab.personal(44, l);
    pc.fetch_anchor(&s.lab);
    let mut b = honest(&s.lab, &mut pc, 15, |ms| study("l1", ms));
    b.extend(answers(&s.lab, &mut pc, std::iter::repeat_n(4_000, 25)));
    s.send(&pc, b).await;
    let rec = s.record(l).await;
    assert_eq!(codes(&rec.anomalies), ["flag.answer_delay_constant"]);
    assert_eq!(codes(&s.flags().await), ["flag.answer_delay_constant"]);
    assert_eq!(
        rec.credited_ms,
        10 * MINUTE,
        "lesson l1's 10 minutes, as without the flag"
    );
    s.lab.svc.set_daily_cap(s.lab.org, 6.0).unwrap();
    assert_eq!(s.record(l).await.anomalies, rec.anomalies);
}

/// Honest study of every kind the flags look at raises none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_study_raises_no_flag() {
    let s = Served::new(8).await;
    // A kiosk class: eight learners, sessions of different lengths.
    let mut k = s.lab.kiosk(45);
    k.fetch_anchor(&s.lab);
    let mut b = Vec::new();
    for (i, &l) in s.lab.learners.iter().enumerate() {
        b.extend(kiosk_session(&s.lab, &mut k, l, 20 + (i as u64 * 7) % 17));
    }
    s.send(&k, b).await;
    // The same class on another kiosk, in the course with checks, answering at people's pace.
    publish_checked(&s.lab);
    let mut k2 = s.lab.kiosk(52);
    k2.fetch_anchor(&s.lab);
    let mut b = Vec::new();
    for (i, &l) in s.lab.learners.iter().enumerate() {
        k2.learner = l;
        b.push(k2.receipt(signed_in()));
        let d = human_check_delays(3, i as u64);
        b.extend(checked_study(&s.lab, &mut k2, 12 + i as u64, &d, &d));
        b.push(k2.receipt(signed_out()));
    }
    s.send(&k2, b).await;
    // At home, learner 1 studies the course with checks for hours, answering them as people do.
    let mut pc1 = s.lab.personal(53, s.lab.learners[1]);
    pc1.fetch_anchor(&s.lab);
    let d = human_check_delays(14, 5);
    let b = checked_study(&s.lab, &mut pc1, 15, &d, &d);
    s.send(&pc1, b).await;
    // At home, learner 0 does the whole course, answering practice at a person's pace.
    let l = s.lab.learners[0];
    let mut pc = s.lab.personal(46, l);
    pc.fetch_anchor(&s.lab);
    let mut b = answers(&s.lab, &mut pc, human_delays(40));
    b.extend(whole_course(&s.lab, &mut pc));
    s.send(&pc, b).await;

    let flags = s.flags().await;
    assert!(flags.is_empty(), "{flags:?}");
    let rec = s.record(l).await;
    assert!(rec.anomalies.is_empty(), "{:?}", rec.anomalies);
    assert!(rec.courses.iter().any(|c| c.completed));
}
