//! Attention checks graded on the service (issue #17 item 1, docs/credit.md "Attention checks"):
//! a course's check questions are published without their answers, and the active study of a
//! device since its previous check is credited only when the check that closes it is answered
//! right within a minute. Played with real signed receipts (tests/common/lab.rs) by honest
//! learners and by a modified client that answers at random or not at all.

mod common;

use std::sync::Arc;

use common::lab::*;
use hearth_protocol::{CourseId, Event, ItemId, LearnerId};
use hearth_server::domain::credit::CourseBook;
use hearth_server::domain::credit::book::LoadedBook;
use hearth_server::env::ManualClock;
use rand::{Rng, SeedableRng};

/// The fixture course with checks: c1 (lesson l1, right option 1), c2 (l1, 2), c3 (l2, 0).
const KEYS: [(&str, &str, u8); 3] = [("c1", "l1", 1), ("c2", "l1", 2), ("c3", "l2", 0)];

fn checked() -> CourseId {
    CourseId::new("checked-course").unwrap()
}

fn study_l(lesson_id: &str) -> impl Fn(u64) -> Event + '_ {
    move |ms| Event::ActiveStudy {
        course: checked(),
        lesson: lesson(lesson_id),
        active_ms: ms as u32,
    }
}

fn answer(lesson_id: &str, check: &str, choice: Option<u8>, shown_ms: u64) -> Event {
    Event::CheckAnswered {
        course: checked(),
        lesson: lesson(lesson_id),
        check: ItemId::new(check).unwrap(),
        choice,
        shown_ms: shown_ms as u32,
    }
}

fn lab_with_checks(learners: usize) -> Lab {
    let lab = Lab::new(learners);
    lab.svc
        .publish(&common::fixture_course().with_file_name("checked-course"))
        .unwrap();
    lab
}

fn checked_credit(lab: &Lab, l: LearnerId) -> u64 {
    lab.record(l)
        .courses
        .iter()
        .find(|c| c.course == "checked-course")
        .map_or(0, |c| c.credited_ms)
}

/// The learner is shown a check; it stays `shown_ms` on screen (no study counts meanwhile) and
/// is answered with `choice` (`None`: the minute ran out).
fn ask(
    lab: &Lab,
    dev: &mut Dev,
    lesson_id: &str,
    check: &str,
    choice: Option<u8>,
    shown_ms: u64,
) -> Vec<u8> {
    lab.advance(shown_ms);
    dev.wait(shown_ms);
    dev.receipt(answer(lesson_id, check, choice, shown_ms))
}

/// One step of a case: study minutes of a lesson, or a check answered.
#[derive(Clone, Copy, Debug)]
enum Step {
    Study(&'static str, u64),
    /// Lesson named, check, choice, how long it showed.
    Check(&'static str, &'static str, Option<u8>, u64),
    /// Study of the course without checks (the long course).
    Unchecked(u64),
    /// A check receipt naming the long course (which has none).
    UncheckedCheck,
}

use Step::*;

/// The grading rule, case by case: (what the device sends, credited minutes of the checked
/// course, withheld minutes under `credit.check_missed`, under `credit.check_wrong`).
#[test]
fn the_check_rule_case_by_case() {
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<Step>, u64, u64, u64)> = vec![
        ("right within the minute credits the stretch",
            vec![Study("l1", 15), Check("l1", "c1", Some(1), 10_000)], 15, 0, 0),
        ("right at exactly 60 s still counts",
            vec![Study("l1", 15), Check("l1", "c1", Some(1), 60_000)], 15, 0, 0),
        ("right but after 61 s is missed",
            vec![Study("l1", 15), Check("l1", "c1", Some(1), 61_000)], 0, 15, 0),
        ("the minute ran out: missed",
            vec![Study("l1", 15), Check("l1", "c1", None, 60_000)], 0, 15, 0),
        ("wrong withholds the stretch",
            vec![Study("l1", 15), Check("l1", "c1", Some(0), 8_000)], 0, 0, 15),
        ("a check of another lesson counts as wrong",
            vec![Study("l1", 15), Check("l1", "c3", Some(0), 8_000)], 0, 0, 15),
        ("a made-up check counts as wrong",
            vec![Study("l1", 15), Check("l1", "zz", Some(0), 8_000)], 0, 0, 15),
        ("a stretch not yet closed credits up to 25 min",
            vec![Study("l1", 20)], 20, 0, 0),
        ("beyond 25 min without a check nothing more",
            vec![Study("l1", 40)], 25, 15, 0),
        ("a late right check does not give back what was past 25 min",
            vec![Study("l1", 40), Check("l1", "c2", Some(2), 5_000)], 25, 15, 0),
        ("a wrong check takes back only the stretch it closes",
            vec![Study("l1", 10), Check("l1", "c1", Some(1), 5_000),
                 Study("l1", 10), Check("l1", "c2", Some(0), 5_000)], 10, 0, 10),
        ("a stretch over two lessons is taken back from both",
            vec![Study("l1", 10), Study("l2", 10), Check("l2", "c3", Some(3), 5_000),
                 Study("l2", 5)], 5, 0, 20),
        ("a right check after a wrong one credits its own stretch",
            vec![Study("l1", 10), Check("l1", "c1", None, 60_000),
                 Study("l1", 12), Check("l1", "c2", Some(2), 20_000)], 12, 10, 0),
        ("checks of a course without checks change nothing",
            vec![Unchecked(30), UncheckedCheck], 0, 0, 0),
    ];
    let lab = lab_with_checks(cases.len());
    for (i, (name, steps, credited, missed, wrong)) in cases.iter().enumerate() {
        let l = lab.learners[i];
        let mut pc = lab.personal(u8::try_from(i + 1).unwrap(), l);
        pc.fetch_anchor(&lab);
        let mut b = Vec::new();
        for s in steps {
            match *s {
                Study(lesson_id, min) => b.extend(honest(&lab, &mut pc, min, study_l(lesson_id))),
                Check(lesson_id, check, choice, shown) => {
                    b.push(ask(&lab, &mut pc, lesson_id, check, choice, shown))
                }
                Unchecked(min) => b.extend(honest(&lab, &mut pc, min, long_study)),
                UncheckedCheck => b.push(pc.receipt(Event::CheckAnswered {
                    course: long_course(),
                    lesson: lesson("l1"),
                    check: ItemId::new("c1").unwrap(),
                    choice: Some(0),
                    shown_ms: 1_000,
                })),
            }
        }
        let out = lab.send(&pc, b);
        assert!(!out.flagged, "{name}");
        assert_eq!(
            checked_credit(&lab, l),
            credited * MINUTE,
            "{name}: credited"
        );
        assert_eq!(
            lab.withheld(l, "credit.check_missed"),
            missed * MINUTE,
            "{name}: check_missed"
        );
        assert_eq!(
            lab.withheld(l, "credit.check_wrong"),
            wrong * MINUTE,
            "{name}: check_wrong"
        );
        // What the rule takes back leaves the day totals too.
        let days: u64 = lab.record(l).days.iter().map(|d| d.credited_ms).sum();
        let unchecked = if matches!(steps[0], Unchecked(_)) {
            30 * MINUTE
        } else {
            0
        };
        assert_eq!(days, credited * MINUTE + unchecked, "{name}: days");
        if matches!(steps[0], Unchecked(_)) {
            assert_eq!(lab.long_credit(l), 30 * MINUTE, "{name}");
        }
    }
}

/// The stretch is per device: a wrong check on one PC does not take back what another PC's
/// stretch holds.
#[test]
fn stretches_are_per_device() {
    let lab = lab_with_checks(1);
    let l = lab.learners[0];
    let (mut home, mut cafe) = (lab.personal(1, l), lab.personal(2, l));
    home.fetch_anchor(&lab);
    cafe.fetch_anchor(&lab);
    let b = honest(&lab, &mut home, 10, study_l("l1"));
    lab.send(&home, b);
    cafe.wall = lab.now();
    let mut b = honest(&lab, &mut cafe, 10, study_l("l1"));
    b.push(ask(&lab, &mut cafe, "l1", "c1", Some(3), 5_000));
    lab.send(&cafe, b);
    assert_eq!(checked_credit(&lab, l), 10 * MINUTE);
    assert_eq!(lab.withheld(l, "credit.check_wrong"), 10 * MINUTE);
    // Home's stretch is still open and closes right later.
    home.wall = lab.now();
    let mut b = honest(&lab, &mut home, 5, study_l("l1"));
    b.push(ask(&lab, &mut home, "l1", "c2", Some(2), 5_000));
    lab.send(&home, b);
    assert_eq!(checked_credit(&lab, l), 15 * MINUTE);
}

/// Three hours of study with a check every 10-20 minutes of active study.
fn session(
    lab: &Lab,
    dev: &mut Dev,
    rng: &mut rand_chacha::ChaCha8Rng,
    mut choose: impl FnMut(&mut rand_chacha::ChaCha8Rng, u8) -> Option<Option<u8>>,
) -> (Vec<Vec<u8>>, u64) {
    let mut b = Vec::new();
    let mut studied = 0;
    let mut earned = 0;
    let mut n = 0usize;
    while studied < 180 {
        let stretch = rng.random_range(10..=20u64).min(180 - studied);
        let (check, lesson_id, key) = KEYS[n % 2];
        n += 1;
        b.extend(honest(lab, dev, stretch, study_l(lesson_id)));
        studied += stretch;
        match choose(rng, key) {
            // No check receipt at all.
            None => {}
            Some(choice) => {
                let shown = rng.random_range(3_000..30_000u64);
                b.push(ask(lab, dev, lesson_id, check, choice, shown));
                if choice == Some(key) {
                    earned += stretch;
                }
            }
        }
    }
    (b, earned * MINUTE)
}

/// Must show (issue #17): an honest scripted learner earns full credit; a modified client that
/// answers the checks at random earns only the stretches its guesses got right, and one that
/// never answers earns at most one stretch's worth (25 min) however long it claims.
#[test]
fn random_or_missing_answers_earn_only_what_the_rule_allows_and_honest_study_all() {
    let lab = lab_with_checks(3);
    let (honest_l, guesser, silent) = (lab.learners[0], lab.learners[1], lab.learners[2]);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);

    let mut pc = lab.personal(1, honest_l);
    pc.fetch_anchor(&lab);
    let (b, earned) = session(&lab, &mut pc, &mut rng, |_, key| Some(Some(key)));
    assert_eq!(earned, 3 * HOUR);
    assert!(!lab.send(&pc, b).flagged);
    assert_eq!(
        checked_credit(&lab, honest_l),
        3 * HOUR,
        "honest study in full"
    );
    assert_eq!(lab.withheld(honest_l, "credit.check_missed"), 0);
    assert_eq!(lab.withheld(honest_l, "credit.check_wrong"), 0);

    // The modified client signs the same study but cannot know the answers (they are not in
    // the package): it picks an option at random, or lets the minute run out.
    let mut pc = lab.personal(2, guesser);
    pc.fetch_anchor(&lab);
    let (b, earned) = session(&lab, &mut pc, &mut rng, |rng, _| {
        Some(rng.random_bool(0.8).then(|| rng.random_range(0..4u8)))
    });
    lab.send(&pc, b);
    let got = checked_credit(&lab, guesser);
    eprintln!("random answers: {got} ms credited of 3 h claimed");
    assert_eq!(got, earned, "exactly the stretches whose guess was right");
    assert!(got < HOUR, "random answers earn about a quarter: {got}");
    assert_eq!(
        got + lab.withheld(guesser, "credit.check_missed")
            + lab.withheld(guesser, "credit.check_wrong"),
        3 * HOUR
    );

    let mut pc = lab.personal(3, silent);
    pc.fetch_anchor(&lab);
    let (b, _) = session(&lab, &mut pc, &mut rng, |_, _| None);
    lab.send(&pc, b);
    assert_eq!(checked_credit(&lab, silent), 25 * MINUTE);
    assert_eq!(
        lab.withheld(silent, "credit.check_missed"),
        3 * HOUR - 25 * MINUTE
    );
}

/// Facts derived again from the receipts (`hearth-server rederive`) come out the same.
#[test]
fn check_grading_survives_a_rederive() {
    let lab = lab_with_checks(1);
    let l = lab.learners[0];
    let mut pc = lab.personal(1, l);
    pc.fetch_anchor(&lab);
    let mut b = honest(&lab, &mut pc, 12, study_l("l1"));
    b.push(ask(&lab, &mut pc, "l1", "c1", Some(1), 9_000));
    b.extend(honest(&lab, &mut pc, 14, study_l("l2")));
    b.push(ask(&lab, &mut pc, "l2", "c3", Some(2), 9_000));
    b.extend(honest(&lab, &mut pc, 3, study_l("l2")));
    lab.send(&pc, b);
    let before = lab.record(l);
    assert_eq!(checked_credit(&lab, l), 15 * MINUTE);
    lab.svc.rebuild_facts(None).unwrap();
    assert_eq!(lab.record(l).withheld, before.withheld);
    assert_eq!(checked_credit(&lab, l), 15 * MINUTE);
}

/// Every demo course has attention checks in its source, and the published package (manifest
/// and the one-file export) carries the questions but not one answer: the check files are not
/// shipped and a published check has no field but its id, lesson, prompt and options.
#[test]
fn demo_courses_publish_their_checks_without_answers() {
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/courses");
    let dir = tempfile::tempdir().unwrap();
    let svc = common::open_service(dir.path(), Arc::new(ManualClock::new(common::T0)), 3);
    let mut courses = 0;
    for entry in std::fs::read_dir(&assets).unwrap() {
        let course = entry.unwrap().path();
        if !course.join("course.toml").exists() {
            continue;
        }
        courses += 1;
        let p = svc.publish(&course).unwrap();
        let m = svc.latest_manifest(&p.course.to_string()).unwrap().unwrap();
        assert!(
            m.manifest.checks.len() >= 4,
            "{}: checks published",
            course.display()
        );
        let body = &m.bytes[hearth_protocol::manifest::MANIFEST_HEADER_LEN..];
        let json: serde_json::Value = serde_json::from_slice(body).unwrap();
        for c in json["checks"].as_array().unwrap() {
            let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(|k| k.as_str()).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["id", "lesson", "options", "prompt"]);
        }
        let out = dir.path().join(format!("{}.hearthpkg", p.course));
        svc.export_package(&p.course.to_string(), None, &out)
            .unwrap();
        let pkg = std::fs::read(&out).unwrap();
        // The check sources are not among the shipped files, and the service holds every
        // check's key (it grades them) while the package holds none.
        for f in &m.manifest.files {
            assert!(
                !f.path.starts_with("checks") && !f.path.ends_with(".toml"),
                "{}: {} shipped",
                course.display(),
                f.path
            );
        }
        let text = String::from_utf8_lossy(&pkg);
        assert!(!text.contains("@checks"));
        let book = LoadedBook {
            catalog: svc.published_courses().unwrap(),
            classes: Default::default(),
            cards: Default::default(),
        };
        for f in std::fs::read_dir(course.join("checks")).unwrap() {
            let f = f.unwrap().path();
            let lesson_id = f.file_stem().unwrap().to_str().unwrap().to_owned();
            let src: toml::Table = std::fs::read_to_string(&f).unwrap().parse().unwrap();
            for item in src["items"].as_array().unwrap() {
                let id = item["id"].as_str().unwrap();
                let right = u8::try_from(item["answer"].as_integer().unwrap()).unwrap();
                let c = p.course.as_str();
                assert_eq!(book.check_right(c, &lesson_id, id, right), Some(true));
                assert_eq!(book.check_right(c, &lesson_id, id, right + 1), Some(false));
                assert!(m.manifest.checks.iter().any(|q| q.id.as_str() == id));
            }
        }
    }
    assert_eq!(courses, 4);
}
