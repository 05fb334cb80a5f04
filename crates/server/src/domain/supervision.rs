//! The supervisor (人社部门, issue #15 item 5): regions, the institutions each one supervises,
//! and the statistics a region's supervisor reads across them.
//!
//! A region is an administrative division (six-digit code, GB/T 2260) with an optional parent;
//! a supervisor of a region sees the institutions of that region **and of every region below
//! it** (a province's office sees its cities' institutions). Each region has an office, an
//! organisation of its own that its supervisors belong to (so their sign-in, sessions and audit
//! chain are everyone else's); the office trains nobody and is never one of the institutions.
//!
//! Every number comes from what the service derives at ingest: the learners' facts
//! (`domain::credit`) read through the same `course_progress` as a learner's record, and the
//! certificates issued. Statistics are counted over (learner, course) pairs: a learner with a
//! receipt of a course is enrolled in it; a learner with no receipts yet counts towards their
//! institution's learners only.
//!
//! Flags: each row counts the learners with an open flag (one the institution's administrator has
//! not resolved) and with a resolved one, and the learners with an open flag of each kind, from
//! the same list of flags the administrator reviews (`domain::flag_review`, every page of it). A
//! flag counts for the learners it names (a personal device's for its learner); a kiosk's fork
//! or rejections name nobody and count for no learner. Flags are not per course: in the course,
//! occupation and period rows a learner's flags count in every row the learner is in. The
//! supervisor reads flags and their evidence; resolving them stays the administrator's.
//!
//! Every table here is a [`Table`] (columns and rows of cells), so that the JSON routes, the
//! CSV and the XLSX exports are the same rows by construction.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hearth_protocol::{DeviceId, LearnerId};
use serde::Serialize;
use uuid::Uuid;

use super::credit::record::course_progress;
use super::credit::{DAY_MS, LearnerFacts};
use super::{Service, ServiceError, ServiceResult, mask_national_id};
use crate::store::{Learner, Org, Region, Role, StoreError, User};

/// The most rows of a drill-down page.
pub const MAX_PAGE: u32 = 1000;
/// Rows of a drill-down page unless asked otherwise.
pub const DEFAULT_PAGE: u32 = 100;

/// One column: a stable key, and its heading in Chinese and English.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Column {
    pub key: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
}

/// One cell: text, a whole number, a decimal, or nothing.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Cell {
    Text(String),
    Int(i64),
    Num(f64),
    Empty,
}

impl Cell {
    /// As a CSV field.
    pub fn to_text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Num(x) => x.to_string(),
            Cell::Empty => String::new(),
        }
    }
}

/// A table as every route and export gives it. `next`: the cursor of the next page, if any.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    pub next: Option<String>,
}

/// How statistics are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Institution,
    Course,
    Occupation,
    /// The month a learner's first credited study fell in (their cohort), or the month they
    /// were registered while nothing is credited yet.
    Period,
}

impl GroupBy {
    pub fn parse(s: &str) -> ServiceResult<Self> {
        match s {
            "institution" => Ok(GroupBy::Institution),
            "course" => Ok(GroupBy::Course),
            "occupation" => Ok(GroupBy::Occupation),
            "period" => Ok(GroupBy::Period),
            _ => Err(ServiceError::Invalid(
                "supervision.invalid_group",
                "group by institution, course, occupation or period".into(),
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            GroupBy::Institution => "institution",
            GroupBy::Course => "course",
            GroupBy::Occupation => "occupation",
            GroupBy::Period => "period",
        }
    }
}

/// What the supervisor may see: the region, the regions below it, their institutions.
#[derive(Clone, Debug)]
pub struct Scope {
    pub region: Region,
    /// The region's code and every code below it.
    pub regions: Vec<String>,
    pub orgs: Vec<Org>,
}

impl Scope {
    pub fn has_org(&self, org: Uuid) -> bool {
        self.orgs.iter().any(|o| o.id == org)
    }
}

/// The kinds of flag (`ConsoleFlag::kind`), in the order of the statistics' columns.
pub const FLAG_KINDS: [&str; 6] = [
    "fork",
    "rejected",
    "overlap",
    "withheld",
    "attestation",
    "anomaly",
];

/// The statistics' flag columns: learners with an open flag, with a resolved one, and with an
/// open one of each kind (keys `flags.<filter>`: the drill-down's `flags` filter).
const FLAG_COLUMNS: [Column; 8] = [
    col("flags.open", "未处理标记学员", "Learners with open flags"),
    col(
        "flags.resolved",
        "已处理标记学员",
        "Learners with resolved flags",
    ),
    col("flags.fork", "未处理：设备分叉", "Open: device fork"),
    col(
        "flags.rejected",
        "未处理：拒收记录",
        "Open: rejected receipts",
    ),
    col(
        "flags.overlap",
        "未处理：重叠学习",
        "Open: overlapping study",
    ),
    col(
        "flags.withheld",
        "未处理：未计学时",
        "Open: credit withheld",
    ),
    col("flags.attestation", "未处理：考勤存疑", "Open: attestation"),
    col("flags.anomaly", "未处理：异常模式", "Open: anomaly"),
];

/// A learner's flags as the statistics count them.
#[derive(Clone, Debug, Default)]
struct LearnerFlags {
    open: u64,
    resolved: u64,
    /// Kinds (indices into [`FLAG_KINDS`]) with an open flag.
    open_kinds: BTreeSet<usize>,
}

/// Which learners a drill-down keeps: those with an open flag, a resolved one, or an open one of
/// one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagFilter {
    Open,
    Resolved,
    Kind(usize),
}

impl FlagFilter {
    pub fn parse(s: &str) -> ServiceResult<Self> {
        match s {
            "open" => Ok(FlagFilter::Open),
            "resolved" => Ok(FlagFilter::Resolved),
            k => FLAG_KINDS
                .iter()
                .position(|x| *x == k)
                .map(FlagFilter::Kind)
                .ok_or_else(|| {
                    ServiceError::Invalid(
                        "supervision.invalid_flags",
                        format!(
                            "flags is open, resolved or a kind: {}",
                            FLAG_KINDS.join(", ")
                        ),
                    )
                }),
        }
    }

    fn keeps(self, f: Option<&LearnerFlags>) -> bool {
        let Some(f) = f else { return false };
        match self {
            FlagFilter::Open => f.open > 0,
            FlagFilter::Resolved => f.resolved > 0,
            FlagFilter::Kind(k) => f.open_kinds.contains(&k),
        }
    }
}

/// One learner in one course (or in none yet), as the statistics count it.
#[derive(Clone, Debug)]
struct Unit {
    org: Uuid,
    learner: LearnerId,
    course: Option<String>,
    occupation: Option<String>,
    period: String,
    credited_ms: u64,
    completed: bool,
    examined: bool,
    passed: bool,
    certificate: bool,
}

impl Unit {
    fn key(&self, by: GroupBy) -> Option<String> {
        match by {
            GroupBy::Institution => Some(self.org.to_string()),
            GroupBy::Course => self.course.clone(),
            GroupBy::Occupation => self
                .course
                .as_ref()
                .map(|_| self.occupation.clone().unwrap_or_else(|| "-".into())),
            GroupBy::Period => Some(self.period.clone()),
        }
    }
}

/// Everything the statistics are made from, for one scope.
struct Facts {
    units: Vec<Unit>,
    learners: HashMap<LearnerId, Learner>,
    org_names: HashMap<Uuid, String>,
    course_titles: HashMap<String, String>,
    flags: HashMap<LearnerId, LearnerFlags>,
}

fn month_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| "-".into(), |d| d.format("%Y-%m").to_string())
}

fn hours(ms: u64) -> Cell {
    Cell::Num((ms as f64 / 36_000.0).round() / 100.0)
}

fn rate(part: u64, whole: u64) -> Cell {
    if whole == 0 {
        Cell::Empty
    } else {
        Cell::Num((part as f64 * 1000.0 / whole as f64).round() / 10.0)
    }
}

fn int(n: u64) -> Cell {
    Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

const fn col(key: &'static str, zh: &'static str, en: &'static str) -> Column {
    Column { key, zh, en }
}

fn check_code(code: &str) -> ServiceResult<()> {
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ServiceError::Invalid(
            "region.invalid_code",
            "a region's code is its six-digit administrative division code".into(),
        ))
    }
}

impl Service {
    /// Creates a region (and its office organisation, named after it).
    pub fn create_region(
        &self,
        code: &str,
        name: &str,
        parent: Option<&str>,
    ) -> ServiceResult<Region> {
        check_code(code)?;
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(ServiceError::Invalid(
                "region.invalid_name",
                "a region needs a name of 1 to 200 bytes".into(),
            ));
        }
        let regions = self.store.regions()?;
        if let Some(p) = parent
            && !regions.iter().any(|r| r.code == p)
        {
            return Err(ServiceError::NotFound(
                "region.not_found",
                "no region with the parent's code",
            ));
        }
        if regions.iter().any(|r| r.code == code) {
            return Err(ServiceError::Conflict(
                "region.exists",
                "a region with this code exists",
            ));
        }
        let office = Org {
            id: self.new_uuid(),
            name: format!("{name}人力资源和社会保障局 ({code})"),
            created_ms: self.now(),
        };
        let region = Region {
            code: code.into(),
            name: name.into(),
            parent: parent.map(str::to_owned),
            office: office.id,
            created_ms: self.now(),
        };
        self.store
            .create_region(&region, &office)
            .map_err(|e| match e {
                StoreError::Conflict(_) => ServiceError::Conflict(
                    "region.exists",
                    "a region with this code, or an organisation with its office's name, exists",
                ),
                e => e.into(),
            })?;
        Ok(region)
    }

    fn region(&self, code: &str) -> ServiceResult<Region> {
        self.store
            .regions()?
            .into_iter()
            .find(|r| r.code == code)
            .ok_or(ServiceError::NotFound("region.not_found", "no such region"))
    }

    /// Puts an institution in a region (moving it out of the one it was in).
    pub fn put_org_in_region(&self, org: Uuid, code: &str) -> ServiceResult<()> {
        self.require_org(org)?;
        self.region(code)?;
        if self.store.regions()?.iter().any(|r| r.office == org) {
            return Err(ServiceError::Invalid(
                "region.office_not_institution",
                "a region's office is not an institution it supervises".into(),
            ));
        }
        self.store.set_org_region(org, code, self.now())?;
        Ok(())
    }

    /// Adds a supervisor of a region (a person of its office); their id and a token.
    pub fn add_supervisor(&self, code: &str, name: &str) -> ServiceResult<(User, String)> {
        let region = self.region(code)?;
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(ServiceError::Invalid(
                "user.invalid_name",
                "a person needs a name of 1 to 200 bytes".into(),
            ));
        }
        let user = User {
            id: self.new_uuid(),
            org: region.office,
            role: Role::Supervisor,
            name: name.into(),
            created_ms: self.now(),
            pin_hash: None,
        };
        self.store.create_supervisor(&user, &region.code)?;
        let token = self.issue_user_token(user.id, self.config.user_token_days)?;
        Ok((user, token))
    }

    /// What `user` supervises: `auth.forbidden` unless they are a supervisor.
    pub fn supervisor_scope(&self, user: &User) -> ServiceResult<Scope> {
        let forbidden =
            ServiceError::Forbidden("auth.forbidden", "only a region's supervisor may do this");
        if user.role != Role::Supervisor {
            return Err(forbidden);
        }
        let Some(code) = self.store.supervisor_region(user.id)? else {
            return Err(forbidden);
        };
        let all = self.store.regions()?;
        let region = all
            .iter()
            .find(|r| r.code == code)
            .cloned()
            .ok_or(ServiceError::NotFound("region.not_found", "no such region"))?;
        // The region and every region below it (the parent links form a forest: a region is
        // made after its parent, so there is no cycle).
        let mut regions = vec![code];
        let mut i = 0;
        while i < regions.len() {
            for r in &all {
                if r.parent.as_deref() == Some(regions[i].as_str()) && !regions.contains(&r.code) {
                    regions.push(r.code.clone());
                }
            }
            i += 1;
        }
        let orgs = self.store.orgs_in_regions(&regions)?;
        Ok(Scope {
            region,
            regions,
            orgs,
        })
    }

    fn supervision_facts(&self, scope: &Scope, org: Option<Uuid>) -> ServiceResult<Facts> {
        let catalog = self.published_courses()?;
        let mut units = Vec::new();
        let mut learners = HashMap::new();
        let mut org_names = HashMap::new();
        let mut course_titles = HashMap::new();
        let mut flags: HashMap<LearnerId, LearnerFlags> = HashMap::new();
        for o in &scope.orgs {
            if org.is_some_and(|id| id != o.id) {
                continue;
            }
            org_names.insert(o.id, o.name.clone());
            let policy = self.policy_of(o.id)?;
            let people: HashMap<LearnerId, Learner> = self
                .store
                .learners_of_org(o.id)?
                .into_iter()
                .map(|l| (l.id, l))
                .collect();
            let certs: BTreeSet<(LearnerId, String)> = self
                .store
                .certificates_of_org(o.id)?
                .into_iter()
                .map(|c| (c.learner, c.course))
                .collect();
            let mut seen = BTreeSet::new();
            for (id, bytes) in self.store.facts_of_org(o.id)? {
                // Trainers have facts too (their attestations): only learners count.
                let Some(l) = people.get(&id) else { continue };
                let facts = LearnerFacts::decode(&bytes).unwrap_or_default();
                let period = facts
                    .days
                    .iter()
                    .find(|(_, ms)| **ms > 0)
                    .map_or_else(|| month_of(l.created_ms), |(d, _)| month_of(d * DAY_MS));
                if facts.courses.is_empty() {
                    continue;
                }
                seen.insert(id);
                for course in &facts.courses {
                    let latest = catalog.latest(course).map(|v| &v.manifest);
                    if let Some(m) = latest {
                        course_titles
                            .entry(course.clone())
                            .or_insert_with(|| m.title.clone());
                    }
                    let p = course_progress(course, &facts, latest, &policy);
                    let examined = p.exams.iter().any(|e| e.status == "exam.graded");
                    units.push(Unit {
                        org: o.id,
                        learner: id,
                        course: Some(course.clone()),
                        occupation: latest.and_then(|m| m.occupation.clone()),
                        period: period.clone(),
                        credited_ms: p.credited_ms,
                        completed: p.completed,
                        examined,
                        passed: p.exams.iter().any(|e| e.passed),
                        certificate: certs.contains(&(id, course.clone())),
                    });
                }
            }
            for (id, l) in &people {
                if !seen.contains(id) {
                    units.push(Unit {
                        org: o.id,
                        learner: *id,
                        course: None,
                        occupation: None,
                        period: month_of(l.created_ms),
                        credited_ms: 0,
                        completed: false,
                        examined: false,
                        passed: false,
                        certificate: false,
                    });
                }
            }
            for f in self.org_flags(o.id, true)? {
                let kind = FLAG_KINDS.iter().position(|k| *k == f.kind);
                for l in f.learner_ids.iter().filter(|l| people.contains_key(l)) {
                    let e = flags.entry(*l).or_default();
                    if f.resolution.is_some() {
                        e.resolved += 1;
                    } else {
                        e.open += 1;
                        e.open_kinds.extend(kind);
                    }
                }
            }
            learners.extend(people);
        }
        Ok(Facts {
            units,
            learners,
            org_names,
            course_titles,
            flags,
        })
    }

    fn label(&self, facts: &Facts, by: GroupBy, key: &str) -> String {
        match by {
            GroupBy::Institution => Uuid::parse_str(key)
                .ok()
                .and_then(|id| facts.org_names.get(&id).cloned())
                .unwrap_or_default(),
            GroupBy::Course => facts.course_titles.get(key).cloned().unwrap_or_default(),
            GroupBy::Occupation => crate::occupations::name_of(key)
                .map(str::to_owned)
                .unwrap_or_default(),
            GroupBy::Period => key.to_owned(),
        }
    }

    /// The region's statistics grouped `by`, optionally of one institution; one row a group,
    /// each with the key its drill-down takes.
    pub fn supervision_stats(
        &self,
        scope: &Scope,
        by: GroupBy,
        org: Option<Uuid>,
    ) -> ServiceResult<Table> {
        if let Some(o) = org
            && !scope.has_org(o)
        {
            return Err(not_in_region());
        }
        let facts = self.supervision_facts(scope, org)?;
        #[derive(Default)]
        struct Acc {
            learners: BTreeSet<LearnerId>,
            credited_ms: u64,
            pairs: u64,
            completed: u64,
            examined: u64,
            passed: u64,
            certificates: u64,
            flags_open: BTreeSet<LearnerId>,
            flags_resolved: BTreeSet<LearnerId>,
            by_kind: [BTreeSet<LearnerId>; FLAG_KINDS.len()],
        }
        let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
        if by == GroupBy::Institution {
            for o in &scope.orgs {
                if org.is_none_or(|id| id == o.id) {
                    groups.entry(o.id.to_string()).or_default();
                }
            }
        }
        for u in &facts.units {
            let Some(key) = u.key(by) else { continue };
            let a = groups.entry(key).or_default();
            a.learners.insert(u.learner);
            a.credited_ms += u.credited_ms;
            if let Some(f) = facts.flags.get(&u.learner) {
                if f.open > 0 {
                    a.flags_open.insert(u.learner);
                }
                if f.resolved > 0 {
                    a.flags_resolved.insert(u.learner);
                }
                for &k in &f.open_kinds {
                    a.by_kind[k].insert(u.learner);
                }
            }
            if u.course.is_some() {
                a.pairs += 1;
                a.completed += u64::from(u.completed);
                a.examined += u64::from(u.examined);
                a.passed += u64::from(u.passed);
                a.certificates += u64::from(u.certificate);
            }
        }
        let rows = groups
            .into_iter()
            .map(|(key, a)| {
                let mut row = vec![
                    Cell::Text(self.label(&facts, by, &key)),
                    Cell::Text(key),
                    int(a.learners.len() as u64),
                    hours(a.credited_ms),
                    int(a.pairs),
                    int(a.completed),
                    rate(a.completed, a.pairs),
                    int(a.examined),
                    rate(a.passed, a.examined),
                    int(a.certificates),
                    int(a.flags_open.len() as u64),
                    int(a.flags_resolved.len() as u64),
                ];
                row.extend(a.by_kind.iter().map(|k| int(k.len() as u64)));
                row
            })
            .collect();
        Ok(Table {
            title: format!(
                "{} {} ({})",
                scope.region.name,
                by.as_str(),
                scope.region.code
            ),
            columns: [
                col("name", "名称", "Name"),
                col("key", "编号", "Key"),
                col("learners", "学员数", "Learners"),
                col("hours", "认定学时", "Hours credited"),
                col("enrolments", "课程报名", "Course enrolments"),
                col("completed", "完成", "Completed"),
                col("completionRate", "完成率 %", "Completion %"),
                col("examined", "参加考试", "Examined"),
                col("passRate", "通过率 %", "Pass %"),
                col("certificates", "证书", "Certificates"),
            ]
            .into_iter()
            .chain(FLAG_COLUMNS)
            .collect(),
            rows,
            next: None,
        })
    }

    /// The learners behind one row of the statistics (`by`, `key`), by learner id, a page after
    /// the learner `after`; `limit: None` gives them all (exports). With `flags`, only those
    /// the row's flag columns count.
    pub fn supervision_learners(
        &self,
        scope: &Scope,
        by: GroupBy,
        key: &str,
        flags: Option<FlagFilter>,
        after: Option<LearnerId>,
        limit: Option<u32>,
    ) -> ServiceResult<Table> {
        // An institution's key names one organisation: read only that one (and refuse another
        // region's, exactly as a missing one).
        let org = match by {
            GroupBy::Institution => {
                let id = Uuid::parse_str(key).map_err(|_| not_in_region())?;
                if !scope.has_org(id) {
                    return Err(not_in_region());
                }
                Some(id)
            }
            _ => None,
        };
        let facts = self.supervision_facts(scope, org)?;
        #[derive(Default)]
        struct Acc {
            credited_ms: u64,
            courses: u64,
            completed: u64,
            passed: u64,
            certificates: u64,
        }
        let mut per: BTreeMap<LearnerId, Acc> = BTreeMap::new();
        for u in facts
            .units
            .iter()
            .filter(|u| u.key(by).as_deref() == Some(key))
            .filter(|u| flags.is_none_or(|f| f.keeps(facts.flags.get(&u.learner))))
        {
            let a = per.entry(u.learner).or_default();
            // Per course for course and occupation rows; all of the learner's otherwise.
            a.credited_ms += u.credited_ms;
            if u.course.is_some() {
                a.courses += 1;
                a.completed += u64::from(u.completed);
                a.passed += u64::from(u.passed);
                a.certificates += u64::from(u.certificate);
            }
        }
        let limit = limit.map(|l| l.clamp(1, MAX_PAGE) as usize);
        let mut rows = Vec::new();
        let mut next = None;
        for (id, a) in per.range((
            after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
            std::ops::Bound::Unbounded,
        )) {
            if limit.is_some_and(|l| rows.len() == l) {
                next = rows
                    .last()
                    .and_then(|r: &Vec<Cell>| r.get(1))
                    .map(Cell::to_text);
                break;
            }
            let Some(l) = facts.learners.get(id) else {
                continue;
            };
            rows.push(vec![
                Cell::Text(l.name.clone()),
                Cell::Text(id.to_string()),
                Cell::Text(mask_national_id(&l.national_id_tail, 18)),
                Cell::Text(facts.org_names.get(&l.org).cloned().unwrap_or_default()),
                hours(a.credited_ms),
                int(a.courses),
                int(a.completed),
                int(a.passed),
                int(a.certificates),
                int(facts.flags.get(id).map_or(0, |f| f.open)),
                int(facts.flags.get(id).map_or(0, |f| f.resolved)),
            ]);
        }
        let title = match flags {
            Some(FlagFilter::Open) => {
                format!("{} {}={key} flags=open", scope.region.name, by.as_str())
            }
            Some(FlagFilter::Resolved) => {
                format!("{} {}={key} flags=resolved", scope.region.name, by.as_str())
            }
            Some(FlagFilter::Kind(k)) => format!(
                "{} {}={key} flags={}",
                scope.region.name,
                by.as_str(),
                FLAG_KINDS[k]
            ),
            None => format!("{} {}={key}", scope.region.name, by.as_str()),
        };
        Ok(Table {
            title,
            columns: vec![
                col("name", "姓名", "Name"),
                col("learnerId", "学员编号", "Learner id"),
                col("nationalId", "身份证号", "National ID"),
                col("institution", "培训机构", "Institution"),
                col("hours", "认定学时", "Hours credited"),
                col("courses", "课程", "Courses"),
                col("completed", "完成", "Completed"),
                col("passed", "考试通过", "Exams passed"),
                col("certificates", "证书", "Certificates"),
                col("openFlags", "未处理标记", "Open flags"),
                col("resolvedFlags", "已处理标记", "Resolved flags"),
            ],
            rows,
            next,
        })
    }

    /// One learner's flags with their evidence (what was measured against which threshold) and
    /// their resolution, open ones first; `not_found` unless the learner is of the supervisor's
    /// region. Read-only: resolving is the institution administrator's.
    pub fn supervision_learner_flags(
        &self,
        scope: &Scope,
        learner: LearnerId,
    ) -> ServiceResult<Table> {
        let l = self
            .store
            .learner(learner)?
            .filter(|l| scope.has_org(l.org))
            .ok_or_else(not_in_region)?;
        let mut flags: Vec<_> = self
            .org_flags(l.org, true)?
            .into_iter()
            .filter(|f| f.learner_ids.contains(&learner))
            .collect();
        flags.sort_by_key(|f| f.resolution.is_some());
        let time = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms).map_or_else(String::new, |d| {
                d.format("%Y-%m-%d %H:%M:%S UTC").to_string()
            })
        };
        let rows = flags
            .into_iter()
            .map(|f| {
                let (status, note, by, at) = match &f.resolution {
                    Some(r) => (
                        "resolved",
                        Cell::Text(r.note.clone()),
                        Cell::Text(r.by_name.clone()),
                        Cell::Text(time(r.resolved_ms)),
                    ),
                    None => ("open", Cell::Empty, Cell::Empty, Cell::Empty),
                };
                vec![
                    Cell::Text(f.kind.to_owned()),
                    Cell::Text(f.code),
                    Cell::Text(f.detail),
                    f.device_id.map_or(Cell::Empty, Cell::Text),
                    Cell::Text(status.to_owned()),
                    note,
                    by,
                    at,
                ]
            })
            .collect();
        Ok(Table {
            title: format!("{} {} flags", l.name, learner),
            columns: vec![
                col("kind", "类别", "Kind"),
                col("code", "代码", "Code"),
                col("detail", "依据", "Evidence"),
                col("device", "设备", "Device"),
                col("status", "状态", "Status"),
                col("note", "处理说明", "Resolution note"),
                col("resolvedBy", "处理人", "Resolved by"),
                col("resolvedAt", "处理时间", "Resolved at"),
            ],
            rows,
            next: None,
        })
    }

    /// One learner's receipts (the evidence behind their hours), by device and chain position,
    /// a page after `after`; `not_found` unless the learner is of the supervisor's region.
    pub fn supervision_receipts(
        &self,
        scope: &Scope,
        learner: LearnerId,
        after: Option<(DeviceId, u64)>,
        limit: Option<u32>,
    ) -> ServiceResult<Table> {
        let l = self
            .store
            .learner(learner)?
            .filter(|l| scope.has_org(l.org))
            .ok_or_else(not_in_region)?;
        let limit = limit.map_or(u32::MAX, |l| l.clamp(1, MAX_PAGE));
        let mut rows = Vec::new();
        let mut cursor = after;
        let mut next = None;
        'pages: loop {
            let want = (limit as usize - rows.len()).min(MAX_PAGE as usize) as u32;
            let page = self.store.receipts_of_learner(l.id, cursor, want + 1)?;
            let more = page.len() > want as usize;
            for r in page.into_iter().take(want as usize) {
                cursor = Some((r.device, r.seq));
                rows.push(vec![
                    Cell::Text(r.device.to_string()),
                    int(r.seq),
                    Cell::Text(r.kind.into_owned()),
                    Cell::Text(
                        chrono::DateTime::from_timestamp_millis(r.received_ms)
                            .map_or_else(String::new, |d| {
                                d.format("%Y-%m-%d %H:%M:%S UTC").to_string()
                            }),
                    ),
                    Cell::Text(r.id.to_hex()),
                ]);
            }
            if !more {
                break 'pages;
            }
            if rows.len() >= limit as usize {
                next = cursor.map(|(d, s)| format!("{d}:{s}"));
                break 'pages;
            }
        }
        Ok(Table {
            title: format!("{} {}", l.name, learner),
            columns: vec![
                col("device", "设备", "Device"),
                col("seq", "序号", "Seq"),
                col("kind", "类型", "Kind"),
                col("received", "到达时间", "Received"),
                col("receipt", "凭证编号", "Receipt id"),
            ],
            rows,
            next,
        })
    }
}

fn not_in_region() -> ServiceError {
    ServiceError::NotFound(
        "supervision.not_found",
        "no such institution or learner in this region",
    )
}

/// Parses a receipts cursor `DEVICE:SEQ`.
pub fn parse_receipt_cursor(s: &str) -> ServiceResult<(DeviceId, u64)> {
    let bad = || {
        ServiceError::Invalid(
            "request.invalid_query",
            "the cursor is DEVICE:SEQ as a page's next gave it".into(),
        )
    };
    let (d, seq) = s.split_once(':').ok_or_else(bad)?;
    Ok((
        DeviceId(Uuid::parse_str(d).map_err(|_| bad())?),
        seq.parse().map_err(|_| bad())?,
    ))
}

/// The table as CSV (UTF-8 with a byte-order mark, so that spreadsheet programs read Chinese),
/// headings in Chinese.
pub fn to_csv(t: &Table) -> ServiceResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let internal = |e: csv::Error| ServiceError::Internal(format!("csv: {e}"));
    w.write_record(t.columns.iter().map(|c| c.zh))
        .map_err(internal)?;
    for r in &t.rows {
        w.write_record(r.iter().map(Cell::to_text))
            .map_err(internal)?;
    }
    w.into_inner()
        .map_err(|e| ServiceError::Internal(format!("csv: {e}")))
}

/// The table as an XLSX workbook of one sheet: the headings in Chinese, then the rows, numbers
/// as numbers.
pub fn to_xlsx(t: &Table) -> ServiceResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let internal = |e: rust_xlsxwriter::XlsxError| ServiceError::Internal(format!("xlsx: {e}"));
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let bold = Format::new().set_bold();
    for (c, col) in t.columns.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, col.zh, &bold)
            .map_err(internal)?;
    }
    for (r, row) in t.rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| ServiceError::Internal("too many rows".into()))?;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => sheet.write_string(r, c, s).map(|_| ()),
                Cell::Int(n) => sheet.write_number(r, c, *n as f64).map(|_| ()),
                Cell::Num(x) => sheet.write_number(r, c, *x).map(|_| ()),
                Cell::Empty => Ok(()),
            }
            .map_err(internal)?;
        }
    }
    book.save_to_buffer().map_err(internal)
}
