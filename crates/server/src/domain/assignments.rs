//! Assignments: a trainer asks a class to study a lesson or a course, or to sit an exam, maybe by
//! a due date. Devices pull the assignments that concern them with every sync: a learner's own
//! device those of the learner's class, a kiosk those of every class of its organisation.

use hearth_protocol::wire::{AssignmentJson, NewAssignment};
use uuid::Uuid;

use super::{Principal, Service, ServiceError, ServiceResult};
use crate::store::{Assignment, Device};

impl From<Assignment> for AssignmentJson {
    fn from(a: Assignment) -> Self {
        AssignmentJson {
            id: a.id.to_string(),
            class_id: a.class.to_string(),
            course: a.course,
            lesson: a.lesson,
            exam: a.exam,
            due_ms: a.due_ms,
            created_ms: a.created_ms,
        }
    }
}

impl Service {
    /// The class's trainer (or an administrator) assigns work to the class. The course, and the
    /// lesson or exam named, must be published.
    pub fn assign(
        &self,
        who: &Principal,
        class: Uuid,
        new: NewAssignment,
    ) -> ServiceResult<Assignment> {
        let class = self.class_for(who, class)?;
        let Principal::User(user) = who else {
            return Err(ServiceError::Forbidden(
                "auth.forbidden",
                "assigning needs the class's trainer",
            ));
        };
        let invalid = |code, msg: &str| Err(ServiceError::Invalid(code, msg.into()));
        if new.lesson.is_some() && new.exam.is_some() {
            return invalid(
                "assignment.invalid",
                "an assignment names a lesson or an exam, not both",
            );
        }
        let Some(m) = self.latest_manifest(&new.course)? else {
            return invalid("assignment.unknown_course", "no such course is published");
        };
        if let Some(l) = &new.lesson
            && !m.manifest.lessons.iter().any(|x| x.id.as_str() == l)
        {
            return invalid("assignment.unknown_lesson", "the course has no such lesson");
        }
        if let Some(e) = &new.exam
            && !m.manifest.exams.iter().any(|x| x.id.as_str() == e)
        {
            return invalid("assignment.unknown_exam", "the course has no such exam");
        }
        let now = self.now();
        if new.due_ms.is_some_and(|d| d <= now) {
            return invalid("assignment.due_in_past", "the due date has passed");
        }
        let a = Assignment {
            id: self.new_uuid(),
            org: class.org,
            class: class.id,
            course: new.course,
            lesson: new.lesson,
            exam: new.exam,
            due_ms: new.due_ms,
            created_by: user.id,
            created_ms: now,
        };
        self.store.create_assignment(&a)?;
        Ok(a)
    }

    /// `hearth-server assign`: the operator assigns in the name of the class's trainer.
    pub fn assign_for_trainer(&self, class: Uuid, new: NewAssignment) -> ServiceResult<Assignment> {
        let c = self
            .store
            .class(class)?
            .ok_or(ServiceError::NotFound("class.not_found", "no such class"))?;
        let trainer = self.store.user(c.trainer)?.ok_or(ServiceError::NotFound(
            "user.not_found",
            "the class has no trainer",
        ))?;
        self.assign(&Principal::User(trainer), class, new)
    }

    /// A digest of what a device pulls besides receipts: its roster (with PIN verifiers and
    /// classes) and its assignments. Sent in every sync state, so a device pulls them only when they changed.
    ///
    /// Kiosks ask every round, so the tag is kept per device and computed again only when the
    /// organisation's roster stamp moved (the store's triggers move it on every change of
    /// people, PINs, classes or assignments), instead of hashing the whole roster every time.
    pub fn classroom_tag(&self, device: &Device) -> ServiceResult<String> {
        let stamp = self.store.roster_stamp(device.org)?;
        let cached = self
            .tag_cache
            .tags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&device.id)
            .filter(|(at, _)| *at == stamp)
            .map(|(_, tag)| tag.clone());
        if let Some(tag) = cached {
            return Ok(tag);
        }
        let tag = self.compute_classroom_tag(device)?;
        self.tag_cache
            .computed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.tag_cache
            .tags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(device.id, (stamp, tag.clone()));
        Ok(tag)
    }

    /// How many classroom tags were computed rather than served from the cache.
    pub fn classroom_tags_computed(&self) -> u64 {
        self.tag_cache
            .computed
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn compute_classroom_tag(&self, device: &Device) -> ServiceResult<String> {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"HEARTH/classroom/1\0");
        for p in self.roster(device)? {
            for field in [
                p.id.to_string().as_str(),
                p.name.as_str(),
                p.role,
                p.pin_hash.as_deref().unwrap_or(""),
            ] {
                ctx.update(&(field.len() as u64).to_le_bytes());
                ctx.update(field.as_bytes());
            }
            // A person's classes, count first (so the fields of one person cannot be read as
            // another's): a class added, renamed or given another trainer changes the tag, and
            // kiosks pull the roster again.
            ctx.update(&(p.classes.len() as u64).to_le_bytes());
            for c in &p.classes {
                for field in [c.id.to_string().as_str(), c.name.as_str()] {
                    ctx.update(&(field.len() as u64).to_le_bytes());
                    ctx.update(field.as_bytes());
                }
            }
        }
        for a in self.assignments_for_device(device)? {
            let json = serde_json::to_vec(&AssignmentJson::from(a))
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            ctx.update(&(json.len() as u64).to_le_bytes());
            ctx.update(&json);
        }
        Ok(hex::encode(&ctx.finish().as_ref()[..16]))
    }

    /// A class's assignments, for a person who may see the class.
    pub fn class_assignments(
        &self,
        who: &Principal,
        class: Uuid,
    ) -> ServiceResult<Vec<Assignment>> {
        let c = self.class_for(who, class)?;
        Ok(self.store.assignments(c.org, Some(c.id))?)
    }

    /// The assignments `device` should show: its learner's class (personal device) or all the
    /// organisation's (kiosk).
    pub fn assignments_for_device(&self, device: &Device) -> ServiceResult<Vec<Assignment>> {
        match device.learner {
            None => Ok(self.store.assignments(device.org, None)?),
            Some(l) => match self.store.learner(l)?.and_then(|l| l.class) {
                Some(class) => Ok(self.store.assignments(device.org, Some(class))?),
                None => Ok(Vec::new()),
            },
        }
    }
}
