//! Derived progress: credited study time, quiz and exam results, completion and certificates,
//! computed from the stored receipts alone (client totals are never read).
//!
//! Rules (see docs/api.md, "Derived progress"):
//!
//! - Only receipts from devices of the learner's organisation count, and from a personal device
//!   only those of its own learner.
//! - Study time comes from `active_study` receipts. A span is credited only when the receipt
//!   carries a time anchor: it ends at the receipt's monotonic time and is clipped so spans of one
//!   app run never overlap. All spans that carry the same anchor together get at most the real
//!   time between the anchor's issue and the moment the service received the last of them.
//! - A receipt is flagged (and credits nothing) when its monotonic time goes back within one app
//!   run, or when its earliest possible real time (`AnchorRef::earliest_real_time`) lies after
//!   the moment the service received it.
//! - A lesson's credit is capped at the manifest's `creditMs`; media segments count towards
//!   watching only within the media's length.
//! - A lesson is complete with a `lesson_completed` receipt and at least 90% of each of its media
//!   watched; a course is complete when every lesson is and every exam is passed. Completion gives
//!   one certificate per learner and course, with a unique serial number.

use std::collections::{BTreeMap, HashMap};

use hearth_protocol::manifest::{self, Manifest};
use hearth_protocol::receipt::HEADER_LEN;
use hearth_protocol::wire::{
    AttestationJson, CertificateJson, ClassProgress, CourseProgress, ExamResult, FlaggedDevice,
    FlagsReport, LearnerRecord, LessonProgress, OverlapFlag, QuizResult, RejectedReceipt,
    StudyOverlap,
};
use hearth_protocol::{
    Answer, AttendanceCheck, ContentHash, DeviceId, Event, ItemAnswer, ReceiptBody,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Service, ServiceResult, mask_national_id};
use crate::env::random_bytes;
use crate::store::{Certificate, Class, Device, ExamKeyItem, Learner, StoredReceipt};

/// An exam item's answer key as stored (never sent to clients).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamKey {
    /// The set of right option indices, for choice items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<u8>>,
    /// Accepted text answers (compared trimmed, case-insensitive), for text items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Vec<String>>,
}

impl ExamKey {
    pub fn is_right(&self, answer: &Answer) -> bool {
        match (answer, &self.choices, &self.text) {
            (Answer::Choices(c), Some(want), _) => {
                let mut c = c.clone();
                c.sort_unstable();
                c.dedup();
                let mut w = want.clone();
                w.sort_unstable();
                c == w
            }
            (Answer::Text(t), _, Some(ok)) => {
                ok.iter().any(|o| o.trim().eq_ignore_ascii_case(t.trim()))
            }
            _ => false,
        }
    }
}

/// The course as the service knows it: its latest manifest and exam keys.
struct CourseInfo {
    manifest: Manifest,
    keys: HashMap<(String, String), (ExamKey, u32)>,
}

#[derive(Default)]
struct LessonAcc {
    credited: u64,
    claimed: u64,
    completed_claim: bool,
}

#[derive(Default)]
struct CourseAcc {
    lessons: BTreeMap<String, LessonAcc>,
    /// Watched intervals per media hash.
    media: HashMap<ContentHash, Vec<(u64, u64)>>,
    /// Latest correctness per (quiz, item).
    quiz: BTreeMap<String, BTreeMap<String, bool>>,
    exams: Vec<ExamResult>,
}

const WATCHED_ENOUGH: f64 = 0.9;

fn covered(intervals: &mut [(u64, u64)]) -> u64 {
    intervals.sort_unstable();
    let mut total = 0;
    let mut cur: Option<(u64, u64)> = None;
    for &(a, b) in intervals.iter() {
        match cur {
            Some((s, e)) if a <= e => cur = Some((s, e.max(b))),
            Some((s, e)) => {
                total += e - s;
                cur = Some((a, b));
            }
            None => cur = Some((a, b)),
        }
    }
    if let Some((s, e)) = cur {
        total += e - s;
    }
    total
}

/// A span of active study placed in real (service) time, before cross-device checks.
struct Span {
    course: String,
    lesson: String,
    device: DeviceId,
    start: i64,
    end: i64,
}

/// Overlap between devices shorter than this is not reported: a learner who moves from a kiosk to
/// their laptop can show a few seconds of overlap from the anchors' trip time alone. It is still
/// credited only once.
pub const OVERLAP_REPORT_MS: u64 = 60_000;

/// Credits each moment of real time once, whichever device it was studied on: spans are swept in
/// order of start and each is credited only for the part after everything credited before it.
/// Time that another device had already been credited for is reported per device pair.
fn credit_spans_once(
    mut spans: Vec<Span>,
    courses: &mut BTreeMap<String, CourseAcc>,
) -> Vec<StudyOverlap> {
    spans.sort_by_key(|s| (s.start, s.end));
    // The furthest real time credited so far, overall and per device.
    let mut frontier = i64::MIN;
    let mut device_frontier: HashMap<DeviceId, i64> = HashMap::new();
    let mut pairs: BTreeMap<(DeviceId, DeviceId), (u64, i64)> = BTreeMap::new();
    for s in spans {
        let credit = u64::try_from(s.end - s.start.max(frontier)).unwrap_or(0);
        // The other device whose credited time reaches furthest into this span.
        if let Some((&other, &f)) = device_frontier
            .iter()
            .filter(|&(d, &f)| *d != s.device && f > s.start)
            .max_by_key(|&(_, &f)| f)
        {
            let overlap = u64::try_from(f.min(s.end) - s.start).unwrap_or(0);
            let e = pairs.entry((s.device, other)).or_insert((0, s.start));
            e.0 += overlap;
            e.1 = e.1.min(s.start);
        }
        courses
            .entry(s.course)
            .or_default()
            .lessons
            .entry(s.lesson)
            .or_default()
            .credited += credit;
        frontier = frontier.max(s.end);
        let d = device_frontier.entry(s.device).or_insert(s.end);
        *d = (*d).max(s.end);
    }
    pairs
        .into_iter()
        .filter(|(_, (ms, _))| *ms >= OVERLAP_REPORT_MS)
        .map(
            |((device_id, other_device_id), (overlap_ms, first_ms))| StudyOverlap {
                device_id,
                other_device_id,
                overlap_ms,
                first_ms,
            },
        )
        .collect()
}

impl Service {
    fn course_info(&self, course: &str) -> ServiceResult<Option<CourseInfo>> {
        let Some(pkg) = self.store.latest_package(course)? else {
            return Ok(None);
        };
        // The stored manifest was signed here at publish time; it is checked again all the same.
        let v = manifest::verify(&pkg.manifest, &[self.keys.publisher_public()])
            .map_err(|e| super::ServiceError::Internal(format!("stored manifest: {e}")))?;
        let mut keys = HashMap::new();
        for k in self.store.exam_keys(course, pkg.version)? {
            let ExamKeyItem {
                exam,
                item,
                correct,
                points,
            } = k;
            let key: ExamKey = serde_json::from_str(&correct).unwrap_or_default();
            keys.insert((exam, item), (key, points));
        }
        Ok(Some(CourseInfo {
            manifest: v.manifest,
            keys,
        }))
    }

    /// Derives `learner`'s record from their receipts, issuing certificates for completed
    /// courses.
    pub fn learner_record(&self, learner: &Learner) -> ServiceResult<LearnerRecord> {
        let receipts = self.store.receipts_of_learner(learner.id)?;
        let mut devices: HashMap<DeviceId, Option<Device>> = HashMap::new();
        let mut courses: BTreeMap<String, CourseAcc> = BTreeMap::new();
        let mut infos: HashMap<String, Option<CourseInfo>> = HashMap::new();
        let mut flagged = 0u64;
        let mut spans: Vec<Span> = Vec::new();
        let skew = self.config.clock_skew_ms;

        // Group by device (the store returns them by device, then chain order).
        let mut start = 0;
        while start < receipts.len() {
            let dev = receipts[start].device;
            let end = receipts[start..]
                .iter()
                .position(|r| r.device != dev)
                .map_or(receipts.len(), |p| start + p);
            let group = &receipts[start..end];
            start = end;
            if let std::collections::hash_map::Entry::Vacant(v) = devices.entry(dev) {
                v.insert(self.store.device(dev)?);
            }
            let Some(Some(device)) = devices.get(&dev) else {
                continue;
            };
            if device.org != learner.org || device.learner.is_some_and(|l| l != learner.id) {
                continue;
            }
            let bodies: Vec<(ReceiptBody, &StoredReceipt)> = group
                .iter()
                .filter_map(|r| {
                    postcard::from_bytes::<ReceiptBody>(r.envelope.get(HEADER_LEN..)?)
                        .ok()
                        .map(|b| (b, r))
                })
                .collect();
            // Real time each anchor can cover: up to the last arrival of a receipt carrying it.
            let mut budget: HashMap<i64, u64> = HashMap::new();
            for (b, r) in &bodies {
                if let Some(a) = &b.anchor {
                    let span = (r.received_ms - a.anchor.issued_ms).max(0) as u64;
                    let e = budget.entry(a.anchor.issued_ms).or_insert(0);
                    *e = (*e).max(span);
                }
            }
            // Device-wide chain order, not just this learner's receipts, decides run ordering;
            // a kiosk's other learners do not share a learner's spans, so per-learner is right.
            let mut run_end: HashMap<u32, u64> = HashMap::new();
            let mut last_mono: Option<(u32, u64)> = None;
            for (b, r) in &bodies {
                let mut impossible = false;
                if let Some((run, el)) = last_mono
                    && run == b.mono.run
                    && b.mono.elapsed_ms < el
                {
                    impossible = true;
                }
                if let Some(a) = &b.anchor
                    && a.earliest_real_time(b.mono) > r.received_ms + skew
                {
                    impossible = true;
                }
                last_mono = Some((b.mono.run, b.mono.elapsed_ms));
                if impossible {
                    flagged += 1;
                    continue;
                }
                let course_of = |e: &Event| -> Option<String> {
                    match e {
                        Event::LessonOpened { course, .. }
                        | Event::ActiveStudy { course, .. }
                        | Event::MediaWatched { course, .. }
                        | Event::LessonCompleted { course, .. }
                        | Event::QuizAnswered { course, .. }
                        | Event::ExamStarted { course, .. }
                        | Event::ExamSubmitted { course, .. } => Some(course.to_string()),
                        _ => None,
                    }
                };
                let Some(course) = course_of(&b.event) else {
                    continue;
                };
                if let std::collections::hash_map::Entry::Vacant(v) = infos.entry(course.clone()) {
                    v.insert(self.course_info(&course)?);
                }
                let info = infos.get(&course).and_then(|i| i.as_ref());
                let acc = courses.entry(course.clone()).or_default();
                match &b.event {
                    Event::ActiveStudy {
                        lesson, active_ms, ..
                    } => {
                        let l = acc.lessons.entry(lesson.to_string()).or_default();
                        l.claimed += u64::from(*active_ms);
                        let Some(a) = &b.anchor else { continue };
                        let end = b.mono.elapsed_ms;
                        let prev_end = run_end.get(&b.mono.run).copied().unwrap_or(0);
                        let begin = end.saturating_sub(u64::from(*active_ms)).max(prev_end);
                        let mut credit = end.saturating_sub(begin);
                        run_end.insert(b.mono.run, prev_end.max(end));
                        let left = budget.entry(a.anchor.issued_ms).or_insert(0);
                        credit = credit.min(*left);
                        *left -= credit;
                        if a.received.run == b.mono.run
                            && b.mono.elapsed_ms >= a.received.elapsed_ms
                        {
                            // The span's place in real time is known (to within the anchor's
                            // trip to the device): it is credited after checking other devices.
                            let end = a.earliest_real_time(b.mono);
                            spans.push(Span {
                                course: course.clone(),
                                lesson: lesson.to_string(),
                                device: dev,
                                start: end.saturating_sub(credit as i64),
                                end,
                            });
                        } else {
                            l.credited += credit;
                        }
                    }
                    Event::MediaWatched {
                        media,
                        from_ms,
                        to_ms,
                        ..
                    } => {
                        let len = info
                            .and_then(|i| i.manifest.files.iter().find(|f| f.sha256 == *media))
                            .and_then(|f| f.duration_ms)
                            .unwrap_or(0);
                        let (a, z) = (u64::from(*from_ms).min(len), u64::from(*to_ms).min(len));
                        if z > a {
                            acc.media.entry(*media).or_default().push((a, z));
                        }
                    }
                    Event::LessonCompleted { lesson, .. } => {
                        acc.lessons
                            .entry(lesson.to_string())
                            .or_default()
                            .completed_claim = true;
                    }
                    Event::QuizAnswered {
                        quiz, item, answer, ..
                    } => {
                        let right = info
                            .and_then(|i| i.manifest.quizzes.iter().find(|q| q.id == *quiz))
                            .and_then(|q| q.items.iter().find(|it| it.id == *item))
                            .is_some_and(|it| {
                                ExamKey {
                                    choices: Some(it.correct.clone()),
                                    text: None,
                                }
                                .is_right(answer)
                            });
                        acc.quiz
                            .entry(quiz.to_string())
                            .or_default()
                            .insert(item.to_string(), right);
                    }
                    Event::ExamSubmitted {
                        exam,
                        attempt,
                        answers,
                        ..
                    } => {
                        if let Some(info) = info
                            && let Some(e) = info.manifest.exams.iter().find(|e| e.id == *exam)
                        {
                            let r = grade(info, e, answers);
                            let res = ExamResult {
                                exam: exam.to_string(),
                                attempt: *attempt,
                                score: r.0,
                                max_score: r.1,
                                passed: r.1 > 0
                                    && u64::from(r.0) * 100
                                        >= u64::from(r.1) * u64::from(e.pass_percent),
                            };
                            if !acc
                                .exams
                                .iter()
                                .any(|x| x.exam == res.exam && x.attempt == res.attempt)
                            {
                                acc.exams.push(res);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }

        let overlaps = credit_spans_once(spans, &mut courses);

        let mut out_courses = Vec::new();
        let mut total = 0u64;
        for (course, mut acc) in courses {
            let info = infos.get(&course).and_then(|i| i.as_ref());
            let mut lessons = Vec::new();
            let mut all_done = info.is_some();
            let mut course_credit = 0;
            if let Some(info) = info {
                for l in &info.manifest.lessons {
                    let a = acc.lessons.remove(l.id.as_str()).unwrap_or_default();
                    let credited = a.credited.min(l.credit_ms);
                    let media_ok = l.media.iter().all(|p| {
                        let Some(f) = info.manifest.file(p) else {
                            return false;
                        };
                        let len = f.duration_ms.unwrap_or(0);
                        let seen = acc.media.get_mut(&f.sha256).map_or(0, |v| covered(v));
                        len == 0 || seen as f64 >= len as f64 * WATCHED_ENOUGH
                    });
                    let completed = a.completed_claim && media_ok;
                    all_done &= completed;
                    course_credit += credited;
                    lessons.push(LessonProgress {
                        lesson: l.id.to_string(),
                        credited_ms: credited,
                        claimed_ms: a.claimed,
                        completed,
                    });
                }
                for e in &info.manifest.exams {
                    all_done &= acc
                        .exams
                        .iter()
                        .any(|r| r.exam == e.id.as_str() && r.passed);
                }
            }
            // Study of lessons the service does not publish is shown but never credited.
            for (lesson, a) in acc.lessons {
                lessons.push(LessonProgress {
                    lesson,
                    credited_ms: 0,
                    claimed_ms: a.claimed,
                    completed: false,
                });
            }
            let quizzes = acc
                .quiz
                .into_iter()
                .map(|(quiz, items)| QuizResult {
                    quiz,
                    answered: items.len() as u32,
                    correct: items.values().filter(|&&c| c).count() as u32,
                })
                .collect();
            if all_done {
                self.issue_certificate(learner, &course)?;
            }
            total += course_credit;
            out_courses.push(CourseProgress {
                course,
                credited_ms: course_credit,
                lessons,
                quizzes,
                exams: acc.exams,
                completed: all_done,
            });
        }
        let certificates = self
            .store
            .certificates_of_learner(learner.id)?
            .into_iter()
            .map(|c| CertificateJson {
                serial: c.serial,
                course: c.course,
                learner_id: c.learner,
                issued_ms: c.issued_ms,
            })
            .collect();
        Ok(LearnerRecord {
            learner_id: learner.id,
            name: learner.name.clone(),
            national_id_masked: mask_national_id(&learner.national_id_tail, 18),
            credited_ms: total,
            courses: out_courses,
            certificates,
            flagged_receipts: flagged,
            overlaps,
        })
    }

    fn issue_certificate(&self, learner: &Learner, course: &str) -> ServiceResult<Certificate> {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let raw: [u8; 12] = random_bytes(&*self.random);
        let tail: String = raw
            .iter()
            .map(|b| ALPHABET[usize::from(b % 32)] as char)
            .collect();
        Ok(self.store.issue_certificate(&Certificate {
            serial: format!("HC-{tail}"),
            learner: learner.id,
            course: course.into(),
            issued_ms: self.now(),
        })?)
    }

    pub fn class_progress(&self, class: &Class) -> ServiceResult<ClassProgress> {
        let learners = self
            .store
            .learners_of_class(class.id)?
            .iter()
            .map(|l| self.learner_record(l))
            .collect::<ServiceResult<Vec<_>>>()?;
        Ok(ClassProgress {
            class_id: class.id.to_string(),
            name: class.name.clone(),
            learners,
            attestations: self.attestations(class)?,
        })
    }

    /// The class's trainer attestations: `attendance_check` receipts signed in the trainer's
    /// name on a device of the class's organisation, naming this class.
    fn attestations(&self, class: &Class) -> ServiceResult<Vec<AttestationJson>> {
        let mut out = Vec::new();
        let mut orgs: HashMap<DeviceId, Option<Uuid>> = HashMap::new();
        for r in self
            .store
            .receipts_of_learner(hearth_protocol::LearnerId(class.trainer))?
        {
            if r.kind != "attendance_check" {
                continue;
            }
            let org = match orgs.get(&r.device) {
                Some(o) => *o,
                None => {
                    let o = self.store.device(r.device)?.map(|d| d.org);
                    orgs.insert(r.device, o);
                    o
                }
            };
            if org != Some(class.org) {
                continue;
            }
            let Some(body) = r
                .envelope
                .get(HEADER_LEN..)
                .and_then(|b| postcard::from_bytes::<ReceiptBody>(b).ok())
            else {
                continue;
            };
            if let Event::AttendanceCheck(AttendanceCheck::TrainerAttested {
                class: attested,
                present,
            }) = body.event
                && attested.0 == class.id
            {
                out.push(AttestationJson {
                    receipt_id: r.id.to_hex(),
                    device_id: r.device,
                    trainer_id: r.learner,
                    wall_ms: body.wall_ms,
                    received_ms: r.received_ms,
                    present,
                });
            }
        }
        out.sort_by_key(|a| (a.received_ms, a.wall_ms));
        Ok(out)
    }

    pub fn flags_report(&self, org: Uuid) -> ServiceResult<FlagsReport> {
        let devices = self
            .store
            .flagged_devices(org)?
            .into_iter()
            .map(|(d, f)| FlaggedDevice {
                device_id: d.id,
                label: d.label,
                code: f.code,
                detail: f.detail,
                flagged_ms: f.flagged_ms,
            })
            .collect();
        let rejections = self
            .store
            .rejections(org, 1000)?
            .into_iter()
            .map(|r| RejectedReceipt {
                device_id: r.device,
                code: r.code,
                seq: r.seq,
                received_ms: r.received_ms,
                envelope: hex::encode(&r.envelope),
            })
            .collect();
        // Overlaps are derived, like credit, so they are found by deriving every record.
        let mut overlaps = Vec::new();
        for l in self.store.learners_of_org(org)? {
            let rec = self.learner_record(&l)?;
            if !rec.overlaps.is_empty() {
                overlaps.push(OverlapFlag {
                    learner_id: rec.learner_id,
                    name: rec.name,
                    overlaps: rec.overlaps,
                });
            }
        }
        Ok(FlagsReport {
            devices,
            rejections,
            overlaps,
        })
    }
}

/// Grades an exam submission against the keys kept on the service: (score, max score).
fn grade(info: &CourseInfo, exam: &manifest::Exam, answers: &[ItemAnswer]) -> (u32, u32) {
    let mut score = 0;
    let mut max = 0;
    for item in &exam.items {
        let Some((key, points)) = info.keys.get(&(exam.id.to_string(), item.id.to_string())) else {
            continue;
        };
        max += points;
        if let Some(a) = answers.iter().find(|a| a.item == item.id)
            && key.is_right(&a.answer)
        {
            score += points;
        }
    }
    (score, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_merges_overlaps() {
        assert_eq!(covered(&mut [(0, 10), (5, 20), (30, 40)]), 30);
        assert_eq!(covered(&mut []), 0);
    }

    #[test]
    fn exam_keys() {
        let k = ExamKey {
            choices: Some(vec![2, 0]),
            text: None,
        };
        assert!(k.is_right(&Answer::Choices(vec![0, 2])));
        assert!(!k.is_right(&Answer::Choices(vec![0])));
        assert!(!k.is_right(&Answer::Text("0".into())));
        let t = ExamKey {
            choices: None,
            text: Some(vec!["Ground".into()]),
        };
        assert!(t.is_right(&Answer::Text(" ground ".into())));
    }
}
