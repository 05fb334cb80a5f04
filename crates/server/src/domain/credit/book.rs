//! The published courses as the credit rules read them: every version's manifest (checked
//! again under the publisher key) and exam keys, loaded once and kept until something is
//! published.

use std::collections::HashMap;
use std::sync::Arc;

use hearth_protocol::manifest::{self, Manifest};
use hearth_protocol::{Answer, ContentHash, LearnerId};
use uuid::Uuid;

use super::Policy;
use super::exam_key::ExamKey;
use super::facts::{CourseBook, ExamSheet};
use crate::domain::{Service, ServiceError, ServiceResult};
use crate::store::CardRecord;

/// One published version of a course.
#[derive(Debug)]
pub struct Version {
    pub version: u32,
    pub published_ms: i64,
    pub manifest: Manifest,
    exams: HashMap<String, Arc<ExamSheet>>,
    /// Attention check id → its key (kept on the service, never in the package).
    checks: HashMap<String, ExamKey>,
}

/// Every published version of every course, oldest first.
#[derive(Debug, Default)]
pub struct Catalog {
    courses: HashMap<String, Vec<Version>>,
    /// (package count, newest publish time) when loaded: a cheap check that nothing changed.
    stamp: (u64, i64),
}

impl Catalog {
    /// The newest version of a course.
    pub fn latest(&self, course: &str) -> Option<&Version> {
        self.courses.get(course)?.last()
    }

    /// One published version of a course.
    pub fn version(&self, course: &str, version: u32) -> Option<&Version> {
        self.versions(course).iter().find(|v| v.version == version)
    }

    fn versions(&self, course: &str) -> &[Version] {
        self.courses.get(course).map_or(&[], |v| v.as_slice())
    }
}

/// The catalog plus the classes the receipts at hand name, and the sign-in cards of the people
/// they sign in by card.
#[derive(Debug)]
pub struct LoadedBook {
    pub catalog: Arc<Catalog>,
    pub classes: HashMap<Uuid, (Uuid, Uuid)>,
    pub cards: HashMap<LearnerId, Vec<CardRecord>>,
}

impl CourseBook for LoadedBook {
    fn lesson_exists(&self, course: &str, lesson: &str) -> bool {
        self.catalog
            .versions(course)
            .iter()
            .any(|v| v.manifest.lessons.iter().any(|l| l.id.as_str() == lesson))
    }

    fn media_len(&self, course: &str, media: &ContentHash) -> Option<u64> {
        self.catalog
            .versions(course)
            .iter()
            .rev()
            .flat_map(|v| v.manifest.files.iter())
            .find(|f| f.sha256 == *media)
            .map(|f| f.duration_ms.unwrap_or(0))
    }

    fn quiz_right(&self, course: &str, quiz: &str, item: &str, answer: &Answer) -> Option<bool> {
        let v = self.catalog.latest(course)?;
        let it = v
            .manifest
            .quizzes
            .iter()
            .find(|q| q.id.as_str() == quiz)?
            .items
            .iter()
            .find(|i| i.id.as_str() == item)?;
        Some(
            ExamKey {
                choices: Some(it.correct.clone()),
                text: None,
            }
            .is_right(answer),
        )
    }

    fn exam_at(&self, course: &str, exam: &str, at_ms: i64) -> Option<Arc<ExamSheet>> {
        let versions = self.catalog.versions(course);
        let with_exam = |v: &&Version| v.exams.contains_key(exam);
        let v = versions
            .iter()
            .rev()
            .filter(with_exam)
            .find(|v| v.published_ms <= at_ms)
            .or_else(|| versions.iter().find(with_exam))?;
        v.exams.get(exam).cloned()
    }

    fn exam_version(&self, course: &str, exam: &str, version: u32) -> Option<Arc<ExamSheet>> {
        self.catalog
            .versions(course)
            .iter()
            .find(|v| v.version == version)?
            .exams
            .get(exam)
            .cloned()
    }

    fn class(&self, id: Uuid) -> Option<(Uuid, Uuid)> {
        self.classes.get(&id).copied()
    }

    fn has_checks(&self, course: &str) -> bool {
        self.catalog
            .latest(course)
            .is_some_and(|v| !v.manifest.checks.is_empty())
    }

    fn check_right(&self, course: &str, lesson: &str, check: &str, choice: u8) -> Option<bool> {
        self.catalog.versions(course).iter().rev().find_map(|v| {
            let q = v
                .manifest
                .checks
                .iter()
                .find(|q| q.id.as_str() == check && q.lesson.as_str() == lesson)?;
            let key = v.checks.get(q.id.as_str())?;
            Some(key.is_right(&Answer::Choices(vec![choice])))
        })
    }

    fn card(&self, learner: LearnerId, serial: u32) -> Option<([u8; 32], Option<i64>)> {
        self.cards
            .get(&learner)?
            .iter()
            .find(|c| c.serial == serial)
            .map(|c| (c.secret, c.replaced_ms))
    }
}

impl Service {
    /// The published catalog, loaded again only when a package was published since.
    pub fn published_courses(&self) -> ServiceResult<Arc<Catalog>> {
        let stamp = self.store.catalog_stamp()?;
        {
            let cached = self.catalog_cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cached.as_ref()
                && c.stamp == stamp
            {
                return Ok(c.clone());
            }
        }
        let policy = Policy::default();
        let mut courses: HashMap<String, Vec<Version>> = HashMap::new();
        for pkg in self.store.packages()? {
            // The stored manifest was signed here at publish time; it is checked again all the
            // same, so a tampered database row cannot change what is graded.
            let v = manifest::verify(&pkg.manifest, &[self.keys.publisher_public()])
                .map_err(|e| ServiceError::Internal(format!("stored manifest: {e}")))?;
            let m = v.manifest;
            let mut keys: HashMap<String, Vec<(String, ExamKey, u32)>> = HashMap::new();
            for k in self.store.exam_keys(&pkg.course, pkg.version)? {
                // A key that does not parse is a broken database, not a wrong answer: refuse
                // loudly rather than grade every answer as wrong.
                let key: ExamKey = serde_json::from_str(&k.correct).map_err(|e| {
                    ServiceError::Internal(format!(
                        "exam key {}/{}/{} does not parse: {e}",
                        pkg.course, k.exam, k.item
                    ))
                })?;
                keys.entry(k.exam)
                    .or_default()
                    .push((k.item, key, k.points));
            }
            let checks: HashMap<String, ExamKey> = keys
                .remove(super::exam_key::CHECK_KEYS)
                .unwrap_or_default()
                .into_iter()
                .map(|(item, key, _)| (item, key))
                .collect();
            let exams = m
                .exams
                .iter()
                .map(|e| {
                    let mut items = keys.remove(e.id.as_str()).unwrap_or_default();
                    // Only items the published exam lists are graded, in its order.
                    items.retain(|(item, _, _)| e.items.iter().any(|i| i.id.as_str() == item));
                    (
                        e.id.to_string(),
                        Arc::new(ExamSheet {
                            version: m.version,
                            duration_ms: u64::from(e.duration_min) * 60_000,
                            pass_percent: e.pass_percent,
                            max_attempts: e.max_attempts.unwrap_or(policy.default_max_attempts),
                            items,
                        }),
                    )
                })
                .collect();
            courses
                .entry(pkg.course.clone())
                .or_default()
                .push(Version {
                    version: pkg.version,
                    published_ms: pkg.published_ms,
                    manifest: m,
                    exams,
                    checks,
                });
        }
        for v in courses.values_mut() {
            v.sort_by_key(|v| v.version);
        }
        let c = Arc::new(Catalog { courses, stamp });
        *self.catalog_cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
        Ok(c)
    }
}
