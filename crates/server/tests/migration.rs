//! A service database of schema 4 (before credit facts) moves to schema 5 in place: every
//! receipt stays byte for byte, and credit is derived again from the receipts under the new
//! rules before anything is served (issue #12). A schema-8 database's kiosks are linked to
//! their organisation's classes (issue #16).

mod common;

use std::sync::Arc;

use common::lab::*;
use common::{T0, fixture_course};
use hearth_protocol::DeviceId;
use hearth_server::Service;
use hearth_server::env::{ManualClock, SeededRandom};
use ring::signature::Ed25519KeyPair;

fn open(dir: &std::path::Path, clock: &Arc<ManualClock>) -> Service {
    Service::open(dir, clock.clone(), Arc::new(SeededRandom::new(3))).unwrap()
}

/// A receipt row: device, seq, id, learner, kind, arrival, envelope.
type Row = (i64, i64, Vec<u8>, Vec<u8>, String, i64, Vec<u8>);

/// Every receipt row, as stored.
fn dump(db: &std::path::Path) -> Vec<Row> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare(
            "SELECT device, seq, id, learner, kind, received_ms, envelope FROM receipts
             ORDER BY device, seq",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Turns a database of this build back into exactly what a schema-4 build left: the tables and
/// columns of schemas 5 (facts), 6 (revocation, relays), 7 (certificate credentials), 8
/// (roster stamps and their triggers), 9 (kiosk classes), the console's 010 (accounts, failed
/// sign-ins, sessions, the audit log) and 013 (flag resolutions), the supervisor's 012
/// (regions, their institutions, supervisors) and the claims of 014 gone, `user_version` 4. (012's wider users.role
/// check stays: schema 4 has no supervisor rows.)
fn downgrade_to_schema_4(db: &std::path::Path) {
    downgrade_to_schema_8(db);
    let c = rusqlite::Connection::open(db).unwrap();
    c.execute_batch(
        "DROP TABLE roster_stamps;
         DROP TRIGGER learners_roster_insert; DROP TRIGGER learners_roster_update;
         DROP TRIGGER learners_roster_delete; DROP TRIGGER users_roster_insert;
         DROP TRIGGER users_roster_update; DROP TRIGGER users_roster_delete;
         DROP TRIGGER classes_roster_insert; DROP TRIGGER classes_roster_update;
         DROP TRIGGER classes_roster_delete; DROP TRIGGER assignments_roster_insert;
         DROP TRIGGER assignments_roster_update; DROP TRIGGER assignments_roster_delete;
         DROP TABLE certificate_credentials;
         DROP TABLE relays;
         DROP INDEX tokens_by_subject;
         DROP TABLE learner_facts;
         DROP TABLE device_facts;
         DROP TABLE facts_meta;
         DROP TABLE rejection_counts;
         DROP TABLE org_policy;
         ALTER TABLE devices DROP COLUMN flag_resolved_ms;
         ALTER TABLE devices DROP COLUMN flag_resolved_by;
         ALTER TABLE devices DROP COLUMN flag_resolved_reason;
         PRAGMA user_version = 4;",
    )
    .unwrap();
}

/// What a schema-8 build left: the kiosk class tables of schema 9, the console's of 10 and 13,
/// the supervisor's of 12, the claims of 14, the sign-in cards of 15 and the photo checkpoints' of 16 gone, `user_version` 8.
fn downgrade_to_schema_8(db: &std::path::Path) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.execute_batch(
        "DROP TABLE claims;
         DROP TABLE audit_photos; DROP TABLE photo_requests; DROP TABLE org_photo_policy;
         DROP TABLE learner_cards;
         DROP TABLE flag_resolutions;
         DROP TABLE supervisors; DROP TABLE org_regions; DROP TABLE regions;
         DROP TABLE audit_log; DROP TABLE console_sessions; DROP TABLE sign_in_failures;
         DROP TABLE console_accounts;
         DROP TABLE kiosk_classes;
         DROP TABLE enrollment_code_classes;
         PRAGMA user_version = 8;",
    )
    .unwrap();
}

/// Kiosks enrolled before kiosks named their classes (schema 8) keep signing people in after the
/// upgrade: each is linked to every class of its organisation, a personal PC to none, and the
/// learners of no class are no longer on a kiosk's roster (issue #16).
#[test]
fn schema_8_kiosks_are_linked_to_their_organisations_classes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let db = dir.path().join("hearth.db");
    let enroll = |svc: &Service, org, learner, seed: u8| {
        let key = Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap();
        let pk = common::public(&key);
        let code = svc.issue_enrollment_code(org, learner, None).unwrap();
        svc.enroll(&code, pk, DeviceId::for_key(&pk), None)
            .unwrap()
            .device
    };
    let (kiosk, personal, other_kiosk, classes, in_class, no_class) = {
        let svc = open(dir.path(), &clock);
        let org = svc.create_org("Upgraded centre").unwrap().id;
        let other = svc.create_org("Other centre").unwrap().id;
        let (t, _) = svc.add_trainer(org, "王老师", Some("2468")).unwrap();
        let (t2, _) = svc.add_trainer(other, "李老师", None).unwrap();
        let c1 = svc.add_class(t.id, "电工一班").unwrap().id;
        let c2 = svc.add_class(t.id, "焊工班").unwrap().id;
        svc.add_class(t2.id, "别处的班").unwrap();
        let in_class = svc
            .add_learner(org, "赵六", "110105194912310053", Some(c1), None)
            .unwrap()
            .id;
        let no_class = svc
            .add_learner(org, "钱七", "110105194912310061", None, None)
            .unwrap()
            .id;
        let kiosk = enroll(&svc, org, None, 1);
        let personal = enroll(&svc, org, Some(in_class), 2);
        let other_kiosk = enroll(&svc, other, None, 3);
        assert!(svc.roster(&kiosk).unwrap().is_empty(), "no class named");
        let mut classes = vec![c1, c2];
        classes.sort();
        (kiosk, personal, other_kiosk, classes, in_class, no_class)
    };
    downgrade_to_schema_8(&db);

    let svc = open(dir.path(), &clock);
    assert_eq!(svc.store.kiosk_classes(kiosk.id).unwrap(), classes);
    assert!(svc.store.kiosk_classes(personal.id).unwrap().is_empty());
    assert_eq!(svc.store.kiosk_classes(other_kiosk.id).unwrap().len(), 1);
    let roster: Vec<_> = svc
        .roster(&kiosk)
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert!(roster.contains(&in_class));
    assert!(
        !roster.contains(&no_class),
        "a learner of no class is on no kiosk"
    );
    assert_eq!(roster.len(), 2, "the class's learner and its trainer");
}

#[test]
fn schema_4_database_migrates_with_receipts_kept_and_credit_derived_again() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let db = dir.path().join("hearth.db");
    let (learner, expected) = {
        let svc = open(dir.path(), &clock);
        let org = svc.create_org("Migrated centre").unwrap().id;
        let l = svc
            .add_learner(org, "赵六", "110105194912310053", None, None)
            .unwrap()
            .id;
        svc.publish(&fixture_course()).unwrap();
        // A learner's PC: honest study, the course done, plus a claim the rules cut.
        let key = Ed25519KeyPair::from_seed_unchecked(&[5; 32]).unwrap();
        let pk = common::public(&key);
        let code = svc.issue_enrollment_code(org, Some(l), None).unwrap();
        let e = svc.enroll(&code, pk, DeviceId::for_key(&pk), None).unwrap();
        let anchor = svc.anchor_for(e.device.id);
        let mut receipts = Vec::new();
        let mut seq = 0;
        let mut prev = hearth_protocol::ReceiptId::ZERO;
        let mut elapsed = 0;
        let mut sign = |elapsed: u64, event: hearth_protocol::Event| {
            seq += 1;
            let r = hearth_protocol::ReceiptBody {
                device: e.device.id,
                seq,
                prev,
                learner: l,
                wall_ms: T0 + elapsed as i64,
                mono: hearth_protocol::MonoStamp {
                    run: 1,
                    elapsed_ms: elapsed,
                },
                anchor: Some(hearth_protocol::AnchorRef {
                    anchor,
                    received: hearth_protocol::MonoStamp {
                        run: 1,
                        elapsed_ms: 0,
                    },
                }),
                event,
            }
            .sign(&key)
            .unwrap();
            prev = r.id();
            r.into_envelope_bytes()
        };
        for _ in 0..12 {
            elapsed += MINUTE;
            receipts.push(sign(elapsed, study("l1", MINUTE)));
        }
        receipts.push(sign(elapsed, completed("l1")));
        elapsed += MINUTE;
        receipts.push(sign(elapsed, study("l1", 5 * HOUR)));
        clock.advance(3 * HOUR as i64);
        svc.ingest(&e.device, receipts).unwrap();
        let rec = svc
            .learner_record(&svc.store.learner(l).unwrap().unwrap())
            .unwrap();
        (l, rec)
    };
    assert_eq!(expected.courses[0].lessons[0].credited_ms, 10 * MINUTE);
    let before = dump(&db);
    assert_eq!(before.len(), 14);
    downgrade_to_schema_4(&db);

    let svc = open(dir.path(), &clock);
    let version: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, hearth_server::store::sqlite::SCHEMA_VERSION);
    assert_eq!(dump(&db), before, "every receipt byte for byte");
    let rec = svc
        .learner_record(&svc.store.learner(learner).unwrap().unwrap())
        .unwrap();
    assert_eq!(rec.credited_ms, expected.credited_ms);
    assert_eq!(rec.courses, expected.courses);
    assert_eq!(rec.withheld, expected.withheld);
    assert!(
        rec.withheld.iter().any(|w| w.code == "credit.run_overlap"),
        "the new rules were applied: {:?}",
        rec.withheld
    );
}
