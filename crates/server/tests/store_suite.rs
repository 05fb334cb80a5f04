//! One test suite for every backend of the `Store` trait (issue #13): each behaviour is a function
//! taking a [`Backend`], run once on SQLite and once on PostgreSQL. The PostgreSQL half needs
//! `HEARTH_TEST_DATABASE` (set by `make test`'s PostgreSQL step, scripts/pg-cluster.sh); without
//! it those tests say so and pass, and the step that sets it runs them for real. Each test gets a
//! fresh database (a temporary SQLite file, a fresh PostgreSQL schema); `Backend::open` opens
//! another handle on the same one, as a second service process would.

mod common;

use std::sync::Arc;

use hearth_protocol::{ChainHead, DeviceId, LearnerId, PublicKey, ReceiptId};
use hearth_server::store::*;
use uuid::Uuid;

/// A fresh database of one backend.
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Backend {
    fn sqlite() -> Self {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    fn postgres() -> Option<Self> {
        let url = common::db::pg_url()?;
        Some(Backend::Postgres(common::db::fresh_schema(&url)))
    }

    /// A new handle on this database (a second process).
    fn open(&self) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite(d) => Arc::new(SqliteStore::open(&d.path().join("hearth.db")).unwrap()),
            Backend::Postgres(url) => Arc::new(PostgresStore::open(url, 4).unwrap()),
        }
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&super::Backend::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $name() {
                match super::Backend::postgres() {
                    Some(b) => super::$name(&b),
                    None => eprintln!("HEARTH_TEST_DATABASE is not set: PostgreSQL half skipped"),
                }
            })*
        }
    };
}

suite!(
    conflicts_are_typed,
    package_conflict_keeps_nothing,
    enrollment_code_is_redeemed_once_by_the_domains_rules,
    enrollment_refused_changes_nothing,
    devices_enrolled_at_once_on_two_handles_get_distinct_numbers,
    chain_txn_rolls_back_on_error,
    stored_receipts_carry_their_prev_link,
    receipts_of_learner_are_paged,
    rejections_are_paged_newest_first,
    set_pin_reaches_learners_and_trainers_only,
    pending_receipts_are_kept_once_and_taken,
    flags_are_kept_until_resolved,
    facts_of_one_learner_lose_no_update_across_handles,
    chains_of_one_device_are_serialised_across_handles,
    certificate_is_issued_once,
    rebuild_clears_and_versions_facts,
    device_facts_are_listed_per_organisation,
    tokens_are_revoked,
    assignments_are_stored_once,
    receipts_survive_reopening,
    console_logins_are_unique_and_replaced,
    sign_in_failures_are_counted_per_login_and_address,
    console_sessions_are_kept_by_hash_and_ended,
    audit_appends_on_two_handles_make_one_chain,
    audit_log_refuses_update_and_delete,
    learner_import_is_all_or_nothing,
    kiosk_classes_come_with_the_code_and_move_the_roster_stamp,
    flag_resolutions_are_kept_once_per_organisation,
    regions_hold_their_institutions_and_supervisors,
    region_writes_are_all_or_nothing,
    facts_and_certificates_of_an_org,
    claims_are_frozen_one_open_per_class_and_decided_once,
);

// ----- fixtures -----

fn org(s: &dyn Store, name: &str) -> Uuid {
    let id = new_id();
    s.create_org(&Org {
        id,
        name: name.into(),
        created_ms: 1,
    })
    .unwrap();
    id
}

fn learner(s: &dyn Store, org: Uuid, n: u8) -> LearnerId {
    let id = LearnerId(new_id());
    s.create_learner(&Learner {
        id,
        org,
        name: format!("学员{n}"),
        national_id_mac: [n; 32],
        national_id_tail: "0001".into(),
        class: None,
        pin_hash: None,
        created_ms: 1,
    })
    .unwrap();
    id
}

fn code(s: &dyn Store, org: Uuid, hash: [u8; 32], expires_ms: i64) {
    s.put_enrollment_code(&EnrollmentCode {
        hash,
        org,
        learner: None,
        classes: Vec::new(),
        created_ms: 0,
        expires_ms,
        used_ms: None,
    })
    .unwrap();
}

fn made(id: DeviceId, org: Uuid, key: u8) -> (Device, TokenRecord) {
    (
        Device {
            id,
            org,
            public_key: PublicKey([key; 32]),
            learner: None,
            label: None,
            enrolled_ms: 5,
        },
        TokenRecord {
            hash: [key ^ 0xff; 32],
            subject: Subject::Device(id),
            org,
            created_ms: 5,
            expires_ms: i64::MAX,
        },
    )
}

/// Enrolls a kiosk with public key `[key; 32]`.
fn enroll(s: &dyn Store, org: Uuid, key: u8) -> DeviceId {
    let hash = [key; 32];
    code(s, org, hash, i64::MAX);
    let id = DeviceId(new_id());
    s.redeem_enrollment(&hash, 5, &mut |c| Some(made(id, c.org, key)))
        .unwrap()
        .unwrap();
    id
}

fn rid(device: DeviceId, seq: u64) -> ReceiptId {
    let mut id = [0u8; 32];
    id[..16].copy_from_slice(device.0.as_bytes());
    id[16..24].copy_from_slice(&seq.to_be_bytes());
    ReceiptId(id)
}

fn receipt(device: DeviceId, seq: u64, learner: LearnerId) -> StoredReceipt {
    StoredReceipt {
        device,
        seq,
        id: rid(device, seq),
        prev: if seq == 1 {
            ReceiptId::ZERO
        } else {
            rid(device, seq - 1)
        },
        learner,
        kind: "active_study".into(),
        received_ms: seq as i64,
        envelope: (0..=255u8).chain([seq as u8, 0, 0xff]).collect(),
    }
}

/// Appends receipts `from..=to` to the device's chain in one transaction.
fn append(s: &dyn Store, device: DeviceId, from: u64, to: u64, learner: LearnerId) {
    s.chain_txn(device, &mut |tx| {
        for seq in from..=to {
            tx.append(&receipt(device, seq, learner))?;
        }
        tx.set_head(ChainHead {
            seq: to,
            id: rid(device, to),
        })
    })
    .unwrap();
}

// ----- behaviours -----

fn conflicts_are_typed(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let e = s
        .create_org(&Org {
            id: new_id(),
            name: "A".into(),
            created_ms: 2,
        })
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Conflict(Conflict::OrgExists)),
        "{e:?}"
    );
    learner(&*s, o, 1);
    let e = s
        .create_learner(&Learner {
            id: LearnerId(new_id()),
            org: o,
            name: "again".into(),
            national_id_mac: [1; 32],
            national_id_tail: "0001".into(),
            class: None,
            pin_hash: None,
            created_ms: 1,
        })
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Conflict(Conflict::LearnerExists)),
        "{e:?}"
    );
    // The same device enrolled with a second code.
    let d = enroll(&*s, o, 3);
    code(&*s, o, [4; 32], i64::MAX);
    let e = s
        .redeem_enrollment(&[4; 32], 6, &mut |c| Some(made(d, c.org, 3)))
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Conflict(Conflict::DeviceExists)),
        "{e:?}"
    );
    // The second code is still unused.
    let again = s
        .redeem_enrollment(&[4; 32], 7, &mut |c| {
            assert_eq!(c.used_ms, None);
            None
        })
        .unwrap();
    assert!(again.is_none());
}

fn package(version: u32) -> PackageRecord {
    PackageRecord {
        course: "electrician-safety".into(),
        version,
        title: "电工安全".into(),
        manifest: vec![1, 2, 3],
        manifest_sha: "ab".into(),
        total_size: 10,
        published_ms: 100 + i64::from(version),
    }
}

fn key_item(item: &str) -> ExamKeyItem {
    ExamKeyItem {
        exam: "final".into(),
        item: item.into(),
        correct: "[1]".into(),
        points: 2,
    }
}

fn package_conflict_keeps_nothing(b: &Backend) {
    let s = b.open();
    s.put_package(&package(1), &[key_item("q1")]).unwrap();
    let e = s
        .put_package(&package(1), &[key_item("q1"), key_item("q2")])
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Conflict(Conflict::PackageExists)),
        "{e:?}"
    );
    assert_eq!(s.exam_keys("electrician-safety", 1).unwrap().len(), 1);
    s.put_package(&package(2), &[key_item("q1"), key_item("q2")])
        .unwrap();
    assert_eq!(
        s.latest_package("electrician-safety")
            .unwrap()
            .unwrap()
            .version,
        2
    );
    assert_eq!(s.catalog_stamp().unwrap(), (2, 102));
    assert_eq!(s.packages().unwrap().len(), 2);
    assert_eq!(
        s.package("electrician-safety", 1).unwrap().unwrap(),
        package(1)
    );
}

fn enrollment_code_is_redeemed_once_by_the_domains_rules(b: &Backend) {
    let s = b.open();
    let other = b.open();
    let o = org(&*s, "A");
    code(&*s, o, [9; 32], 1000);
    let first = DeviceId(new_id());
    let (c, d) = s
        .redeem_enrollment(&[9; 32], 10, &mut |c| {
            assert_eq!(c.used_ms, None);
            assert_eq!(c.expires_ms, 1000);
            Some(made(first, c.org, 1))
        })
        .unwrap()
        .unwrap();
    assert_eq!(c.used_ms, Some(10));
    assert_eq!(d.id, first);
    assert_eq!(
        s.device(first).unwrap().unwrap().public_key,
        PublicKey([1; 32])
    );
    // The other handle sees it used; the rule (here: refuse a used code) is the caller's.
    let mut seen = None;
    let r = other
        .redeem_enrollment(&[9; 32], 11, &mut |c| {
            seen = c.used_ms;
            None
        })
        .unwrap();
    assert!(r.is_none());
    assert_eq!(seen, Some(10));
    assert!(matches!(
        s.redeem_enrollment(&[8; 32], 11, &mut |_| None),
        Err(StoreError::NotFound)
    ));
    // The credential was stored with the device.
    let t = s.token(&[1 ^ 0xff; 32]).unwrap().unwrap();
    assert_eq!(t.subject, Subject::Device(first));
}

fn enrollment_refused_changes_nothing(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    code(&*s, o, [9; 32], 1000);
    let id = DeviceId(new_id());
    let r = s
        .redeem_enrollment(&[9; 32], 2000, &mut |c| {
            // The domain's rule: expired.
            if c.expires_ms <= 2000 {
                None
            } else {
                Some(made(id, c.org, 1))
            }
        })
        .unwrap();
    assert!(r.is_none());
    assert!(s.device(id).unwrap().is_none());
    assert!(s.token(&[1 ^ 0xff; 32]).unwrap().is_none());
    let mut used = Some(0);
    s.redeem_enrollment(&[9; 32], 2001, &mut |c| {
        used = c.used_ms;
        None
    })
    .unwrap();
    assert_eq!(used, None);
}

fn devices_enrolled_at_once_on_two_handles_get_distinct_numbers(b: &Backend) {
    let handles = [b.open(), b.open()];
    let o = org(&*handles[0], "A");
    let l = learner(&*handles[0], o, 1);
    let ids: Vec<DeviceId> = std::thread::scope(|sc| {
        let jobs: Vec<_> = (0..2u8)
            .map(|h| {
                let s = handles[h as usize].clone();
                sc.spawn(move || {
                    (0..10u8)
                        .map(|i| enroll(&*s, o, 1 + h * 10 + i))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        jobs.into_iter().flat_map(|j| j.join().unwrap()).collect()
    });
    assert_eq!(ids.len(), 20);
    // Each chain is its own: a receipt appended to one is in no other.
    for (i, d) in ids.iter().enumerate() {
        append(&*handles[i % 2], *d, 1, 1, l);
    }
    for d in &ids {
        let got = handles[0].receipts_of_device(*d, 1, 10).unwrap();
        assert_eq!(got.len(), 1, "device {d}");
        assert_eq!(got[0].id, rid(*d, 1));
    }
}

fn chain_txn_rolls_back_on_error(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let l = learner(&*s, o, 1);
    let d = enroll(&*s, o, 1);
    let r = s.chain_txn(d, &mut |tx| {
        tx.append(&receipt(d, 1, l))?;
        tx.set_head(ChainHead {
            seq: 1,
            id: rid(d, 1),
        })?;
        tx.put_learner_facts(l, o, b"facts", true)?;
        Err(StoreError::NotFound)
    });
    assert!(matches!(r, Err(StoreError::NotFound)));
    assert!(s.receipts_of_device(d, 1, 10).unwrap().is_empty());
    assert_eq!(s.chain_state(d).unwrap().head, ChainHead::EMPTY);
    assert_eq!(s.learner_facts(l).unwrap(), None);
    assert!(matches!(
        s.chain_txn(DeviceId(new_id()), &mut |_| Ok(())),
        Err(StoreError::NotFound)
    ));
}

fn stored_receipts_carry_their_prev_link(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let l = learner(&*s, o, 1);
    let d = enroll(&*s, o, 1);
    append(&*s, d, 1, 3, l);
    let got = s.receipts_of_device(d, 1, 10).unwrap();
    assert_eq!(got, (1..=3).map(|q| receipt(d, q, l)).collect::<Vec<_>>());
    assert_eq!(got[0].prev, ReceiptId::ZERO);
    assert_eq!(got[2].prev, got[1].id);
    // From the middle of the chain too.
    assert_eq!(s.receipts_of_device(d, 2, 1).unwrap()[0].prev, got[0].id);
    let of_learner = s.receipts_of_learner(l, None, 10).unwrap();
    assert_eq!(of_learner, got);
}

fn receipts_of_learner_are_paged(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let l = learner(&*s, o, 1);
    let other = learner(&*s, o, 2);
    let d1 = enroll(&*s, o, 1);
    let d2 = enroll(&*s, o, 2);
    append(&*s, d1, 1, 4, l);
    append(&*s, d2, 1, 3, l);
    append(&*s, d2, 4, 5, other);
    let mut want: Vec<StoredReceipt> = (1..=4)
        .map(|q| receipt(d1, q, l))
        .chain((1..=3).map(|q| receipt(d2, q, l)))
        .collect();
    want.sort_by_key(|r| (r.device.0, r.seq));
    let mut got = Vec::new();
    let mut after = None;
    loop {
        let page = s.receipts_of_learner(l, after, 3).unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some((last.device, last.seq));
        got.extend(page);
    }
    assert_eq!(got, want);
    assert_eq!(s.receipts_of_learner(other, None, 100).unwrap().len(), 2);
}

fn rejection(device: DeviceId, org: Uuid, n: u8) -> RejectionRecord {
    RejectionRecord {
        device,
        org,
        code: if n.is_multiple_of(2) {
            "receipt.bad_signature"
        } else {
            "receipt.fork"
        }
        .into(),
        seq: Some(u64::from(n)),
        received_ms: 50,
        envelope: vec![n, 0, 0xff],
    }
}

fn rejections_are_paged_newest_first(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let d = enroll(&*s, o, 1);
    // All at the same received_ms: the order is the explicit id column's, not the clock's.
    s.chain_txn(d, &mut |tx| {
        for n in 0..5 {
            tx.reject(&rejection(d, o, n), n < 4)?;
        }
        assert_eq!(tx.rejections_kept()?, 4);
        Ok(())
    })
    .unwrap();
    let first = s.rejections(o, None, 2).unwrap();
    assert_eq!(
        first.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
        vec![rejection(d, o, 3), rejection(d, o, 2)]
    );
    let second = s.rejections(o, Some(first[1].0), 2).unwrap();
    assert_eq!(
        second.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
        vec![rejection(d, o, 1), rejection(d, o, 0)]
    );
    assert!(s.rejections(o, Some(second[1].0), 2).unwrap().is_empty());
    assert_eq!(
        s.rejection_counts(o).unwrap(),
        vec![
            (d, "receipt.bad_signature".to_string(), 3, 2),
            (d, "receipt.fork".to_string(), 2, 2)
        ]
    );
}

fn set_pin_reaches_learners_and_trainers_only(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let l = learner(&*s, o, 1);
    let mk = |role| User {
        id: new_id(),
        org: o,
        role,
        name: "x".into(),
        created_ms: 1,
        pin_hash: None,
    };
    let (t, a) = (mk(Role::Trainer), mk(Role::Admin));
    s.create_user(&t).unwrap();
    s.create_user(&a).unwrap();
    assert!(s.set_pin(l.0, "pin-l").unwrap());
    assert!(s.set_pin(t.id, "pin-t").unwrap());
    assert!(!s.set_pin(a.id, "pin-a").unwrap());
    assert!(!s.set_pin(new_id(), "pin-x").unwrap());
    assert_eq!(
        s.learner(l).unwrap().unwrap().pin_hash.as_deref(),
        Some("pin-l")
    );
    assert_eq!(
        s.user(t.id).unwrap().unwrap().pin_hash.as_deref(),
        Some("pin-t")
    );
    assert_eq!(s.user(a.id).unwrap().unwrap().pin_hash, None);
}

fn pending_receipts_are_kept_once_and_taken(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let l = learner(&*s, o, 1);
    let d = enroll(&*s, o, 1);
    let r5 = receipt(d, 5, l);
    let mut fork5 = receipt(d, 5, l);
    fork5.id = ReceiptId([0xee; 32]);
    s.chain_txn(d, &mut |tx| {
        tx.add_pending(&r5)?;
        tx.add_pending(&r5)?;
        tx.add_pending(&fork5)?;
        assert!(tx.has_pending(5, r5.id)?);
        assert!(!tx.has_pending(6, r5.id)?);
        Ok(())
    })
    .unwrap();
    assert_eq!(s.chain_state(d).unwrap().pending, 2);
    s.chain_txn(d, &mut |tx| {
        let mut taken = tx.take_pending(5)?;
        taken.sort_by_key(|r| r.id.0);
        let mut want = vec![r5.clone(), fork5.clone()];
        want.sort_by_key(|r| r.id.0);
        assert_eq!(taken, want);
        assert!(tx.take_pending(5)?.is_empty());
        Ok(())
    })
    .unwrap();
    assert_eq!(s.chain_state(d).unwrap().pending, 0);
}

fn flags_are_kept_until_resolved(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let d = enroll(&*s, o, 1);
    let flag = |code: &str, ms| DeviceFlag {
        code: code.into(),
        detail: "d".into(),
        flagged_ms: ms,
        resolved: None,
    };
    s.chain_txn(d, &mut |tx| {
        tx.flag(&flag("chain.fork", 10))?;
        tx.flag(&flag("chain.other", 11))
    })
    .unwrap();
    assert_eq!(s.chain_state(d).unwrap().flag, Some(flag("chain.fork", 10)));
    let res = FlagResolution {
        by: "admin".into(),
        reason: "restored backup".into(),
        resolved_ms: 20,
    };
    assert!(s.resolve_flag(d, &res).unwrap());
    assert!(!s.resolve_flag(d, &res).unwrap());
    let flagged = s.flagged_devices(o).unwrap();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].1.resolved, Some(res));
    s.chain_txn(d, &mut |tx| tx.flag(&flag("chain.fork", 30)))
        .unwrap();
    assert_eq!(s.chain_state(d).unwrap().flag, Some(flag("chain.fork", 30)));
}

/// Two handles (two service processes), each ingesting for its own device of one learner: every
/// transaction reads the learner's facts and writes them back changed. None is lost.
fn facts_of_one_learner_lose_no_update_across_handles(b: &Backend) {
    let handles = [b.open(), b.open()];
    let o = org(&*handles[0], "A");
    let l = learner(&*handles[0], o, 1);
    let devices = [enroll(&*handles[0], o, 1), enroll(&*handles[0], o, 2)];
    const ROUNDS: u64 = 40;
    std::thread::scope(|sc| {
        for h in 0..2 {
            let s = handles[h].clone();
            let d = devices[h];
            sc.spawn(move || {
                for round in 1..=ROUNDS {
                    s.chain_txn(d, &mut |tx| {
                        let n = tx
                            .learner_facts(l)?
                            .map_or(0, |f| u64::from_be_bytes(f.try_into().unwrap()));
                        tx.append(&receipt(d, round, l))?;
                        tx.set_head(ChainHead {
                            seq: round,
                            id: rid(d, round),
                        })?;
                        tx.put_device_facts(d, &round.to_be_bytes())?;
                        tx.put_learner_facts(l, o, &(n + 1).to_be_bytes(), false)
                    })
                    .unwrap();
                }
            });
        }
    });
    let n = u64::from_be_bytes(
        handles[1]
            .learner_facts(l)
            .unwrap()
            .unwrap()
            .try_into()
            .unwrap(),
    );
    assert_eq!(n, 2 * ROUNDS);
    assert_eq!(
        handles[0].receipts_of_learner(l, None, 1000).unwrap().len(),
        2 * ROUNDS as usize
    );
}

/// Two handles placing batches on one device's chain at once: each reads the head and appends
/// after it. Serialised per device, the chain ends with every batch, in some order, no gap.
fn chains_of_one_device_are_serialised_across_handles(b: &Backend) {
    let handles = [b.open(), b.open()];
    let o = org(&*handles[0], "A");
    let l = learner(&*handles[0], o, 1);
    let d = enroll(&*handles[0], o, 1);
    std::thread::scope(|sc| {
        for s in &handles {
            let s = s.clone();
            sc.spawn(move || {
                for _ in 0..20 {
                    s.chain_txn(d, &mut |tx| {
                        let head = tx.state()?.head;
                        for seq in head.seq + 1..=head.seq + 3 {
                            if tx.held_at(seq)?.is_some() {
                                return Err(StoreError::Backend(format!("{seq} is taken")));
                            }
                            tx.append(&receipt(d, seq, l))?;
                        }
                        tx.set_head(ChainHead {
                            seq: head.seq + 3,
                            id: rid(d, head.seq + 3),
                        })
                    })
                    .unwrap();
                }
            });
        }
    });
    let all = handles[0].receipts_of_device(d, 1, 1000).unwrap();
    assert_eq!(all.len(), 120);
    assert!(all.iter().zip(1..).all(|(r, seq)| r.seq == seq));
    assert_eq!(handles[1].chain_state(d).unwrap().head.seq, 120);
}

fn certificate_is_issued_once(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let l = learner(&*s, o, 1);
    let c = |serial: &str, ms| Certificate {
        serial: serial.into(),
        learner: l,
        course: "electrician-safety".into(),
        issued_ms: ms,
    };
    assert_eq!(s.issue_certificate(&c("S1", 1)).unwrap(), c("S1", 1));
    assert_eq!(s.issue_certificate(&c("S2", 2)).unwrap(), c("S1", 1));
    let d = enroll(&*s, o, 1);
    s.chain_txn(d, &mut |tx| {
        assert_eq!(tx.issue_certificate(&c("S3", 3))?, c("S1", 1));
        Ok(())
    })
    .unwrap();
    assert_eq!(s.certificates_of_learner(l).unwrap(), vec![c("S1", 1)]);
}

fn rebuild_clears_and_versions_facts(b: &Backend) {
    let s = b.open();
    let a = org(&*s, "A");
    let bo = org(&*s, "B");
    let la = learner(&*s, a, 1);
    let lb = learner(&*s, bo, 2);
    let da = enroll(&*s, a, 1);
    append(&*s, da, 1, 2, la);
    s.chain_txn(da, &mut |tx| {
        tx.put_learner_facts(la, a, b"a", true)?;
        tx.put_learner_facts(lb, bo, b"b", true)?;
        tx.put_device_facts(da, b"d")
    })
    .unwrap();
    assert_eq!(s.facts_version().unwrap(), 0);
    assert_eq!(
        s.flagged_people(a, None, 10).unwrap(),
        vec![(la, b"a".to_vec())]
    );
    s.rebuild_facts(&mut |tx| {
        let devices = tx.devices(Some(a))?;
        assert_eq!(devices.len(), 1);
        assert_eq!(tx.chain_page(da, 1, 10)?.len(), 2);
        tx.clear_facts(Some(a))?;
        assert_eq!(tx.device_facts(da)?, None);
        tx.set_facts_version(7)
    })
    .unwrap();
    assert_eq!(s.facts_version().unwrap(), 7);
    assert_eq!(s.learner_facts(la).unwrap(), None);
    assert_eq!(s.learner_facts(lb).unwrap(), Some(b"b".to_vec()));
}

/// The anomaly flags read every device's facts of one organisation, and only those.
fn device_facts_are_listed_per_organisation(b: &Backend) {
    let s = b.open();
    let a = org(&*s, "A");
    let bo = org(&*s, "B");
    let la = learner(&*s, a, 1);
    let d1 = enroll(&*s, a, 1);
    let d2 = enroll(&*s, a, 2);
    let _without_facts = enroll(&*s, a, 3);
    let db = enroll(&*s, bo, 4);
    for (d, f) in [(d1, b"one".as_slice()), (d2, b"two"), (db, b"other")] {
        s.chain_txn(d, &mut |tx| tx.put_device_facts(d, f)).unwrap();
    }
    s.chain_txn(d1, &mut |tx| tx.put_learner_facts(la, a, b"l", false))
        .unwrap();
    let listed: Vec<(DeviceId, Vec<u8>)> = s
        .device_facts_of_org(a)
        .unwrap()
        .into_iter()
        .map(|(d, f)| {
            assert_eq!(d.org, a);
            (d.id, f)
        })
        .collect();
    assert_eq!(listed, vec![(d1, b"one".to_vec()), (d2, b"two".to_vec())]);
    assert_eq!(s.device_facts_of_org(new_id()).unwrap(), vec![]);
}

fn tokens_are_revoked(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let d = enroll(&*s, o, 1);
    s.put_token(&TokenRecord {
        hash: [3; 32],
        subject: Subject::Device(d),
        org: o,
        created_ms: 1,
        expires_ms: 2,
    })
    .unwrap();
    assert_eq!(s.revoke_tokens_of(&Subject::Device(d)).unwrap(), 2);
    assert!(s.token(&[3; 32]).unwrap().is_none());
    let u = new_id();
    s.put_token(&TokenRecord {
        hash: [4; 32],
        subject: Subject::User(u),
        org: o,
        created_ms: 1,
        expires_ms: 2,
    })
    .unwrap();
    assert!(s.revoke_token(&[4; 32]).unwrap());
    assert!(!s.revoke_token(&[4; 32]).unwrap());
    s.record_relays(&[RelayRecord {
        org: o,
        device: d,
        carrier: Some(Subject::User(u)),
        received_ms: 9,
        receipts: 3,
        accepted: 2,
    }])
    .unwrap();
    assert_eq!(s.relays(o, 5).unwrap()[0].carrier, Some(Subject::User(u)));
}

fn assignments_are_stored_once(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let t = User {
        id: new_id(),
        org: o,
        role: Role::Trainer,
        name: "王老师".into(),
        created_ms: 1,
        pin_hash: None,
    };
    s.create_user(&t).unwrap();
    let class = Class {
        id: new_id(),
        org: o,
        trainer: t.id,
        name: "一班".into(),
        created_ms: 1,
    };
    s.create_class(&class).unwrap();
    let a = Assignment {
        id: new_id(),
        org: o,
        class: class.id,
        course: "c".into(),
        lesson: Some("l1".into()),
        exam: None,
        due_ms: Some(5),
        created_by: t.id,
        created_ms: 3,
    };
    let d = enroll(&*s, o, 1);
    s.chain_txn(d, &mut |tx| {
        assert_eq!(tx.class(class.id)?, Some(class.clone()));
        assert!(tx.put_assignment(&a)?);
        assert!(!tx.put_assignment(&a)?);
        Ok(())
    })
    .unwrap();
    assert_eq!(s.assignments(o, Some(class.id)).unwrap(), vec![a.clone()]);
    assert!(matches!(
        s.create_assignment(&a),
        Err(StoreError::Conflict(_))
    ));
}

fn receipts_survive_reopening(b: &Backend) {
    let (d, l) = {
        let s = b.open();
        let o = org(&*s, "A");
        let l = learner(&*s, o, 1);
        let d = enroll(&*s, o, 1);
        append(&*s, d, 1, 3, l);
        (d, l)
    };
    let s = b.open();
    assert_eq!(
        s.receipts_of_device(d, 1, 10).unwrap(),
        (1..=3).map(|q| receipt(d, q, l)).collect::<Vec<_>>()
    );
    assert_eq!(s.chain_state(d).unwrap().head.seq, 3);
}

/// Issue #16: the classes a kiosk code names become the device's when it is redeemed (seen from
/// another handle too); replacing them moves the organisation's roster stamp only when the set
/// changes; an unknown device is `NotFound` and changes nothing.
fn kiosk_classes_come_with_the_code_and_move_the_roster_stamp(b: &Backend) {
    let s = b.open();
    let other = b.open();
    let o = org(&*s, "A");
    let trainer = User {
        id: new_id(),
        org: o,
        role: Role::Trainer,
        name: "t".into(),
        created_ms: 1,
        pin_hash: None,
    };
    s.create_user(&trainer).unwrap();
    let class = |name: &str| {
        let c = Class {
            id: new_id(),
            org: o,
            trainer: trainer.id,
            name: name.into(),
            created_ms: 1,
        };
        s.create_class(&c).unwrap();
        c.id
    };
    let (c1, c2, c3) = (class("一班"), class("二班"), class("三班"));
    let hash = [3u8; 32];
    s.put_enrollment_code(&EnrollmentCode {
        hash,
        org: o,
        learner: None,
        classes: vec![c2, c1],
        created_ms: 0,
        expires_ms: i64::MAX,
        used_ms: None,
    })
    .unwrap();
    let id = DeviceId(new_id());
    let mut named = Vec::new();
    let (code, _) = other
        .redeem_enrollment(&hash, 5, &mut |c| {
            named = c.classes.clone();
            Some(made(id, c.org, 3))
        })
        .unwrap()
        .unwrap();
    let sorted = |mut v: Vec<Uuid>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(named),
        sorted(vec![c1, c2]),
        "the code's classes, read in the redemption"
    );
    assert_eq!(sorted(code.classes), sorted(vec![c1, c2]));
    assert_eq!(s.kiosk_classes(id).unwrap(), sorted(vec![c1, c2]));

    let stamp = s.roster_stamp(o).unwrap();
    s.set_kiosk_classes(id, &[c2, c3]).unwrap();
    assert_eq!(other.kiosk_classes(id).unwrap(), sorted(vec![c2, c3]));
    let moved = s.roster_stamp(o).unwrap();
    assert!(
        moved > stamp,
        "a change of a kiosk's classes moves the stamp"
    );
    s.set_kiosk_classes(id, &[c3, c2]).unwrap();
    assert_eq!(
        s.roster_stamp(o).unwrap(),
        moved,
        "the same set changes nothing"
    );
    s.set_kiosk_classes(id, &[]).unwrap();
    assert!(s.kiosk_classes(id).unwrap().is_empty());
    assert!(s.roster_stamp(o).unwrap() > moved);
    assert!(matches!(
        s.set_kiosk_classes(DeviceId(new_id()), &[c1]),
        Err(StoreError::NotFound)
    ));
    // A kiosk enrolled with a code that names no class serves none.
    let bare = enroll(&*s, o, 4);
    assert!(s.kiosk_classes(bare).unwrap().is_empty());
}

fn new_id() -> Uuid {
    Uuid::from_u128(rand::random::<u128>())
}

// ----- the console (issue #15) -----

fn user(s: &dyn Store, org: Uuid, role: Role) -> Uuid {
    let id = new_id();
    s.create_user(&User {
        id,
        org,
        role,
        name: "某人".into(),
        created_ms: 1,
        pin_hash: None,
    })
    .unwrap();
    id
}

fn account(user: Uuid, org: Uuid, login: &str, phc: &str) -> ConsoleAccount {
    ConsoleAccount {
        user,
        org,
        login: login.into(),
        password_phc: phc.into(),
        set_ms: 5,
        last_ok_ms: None,
    }
}

fn console_logins_are_unique_and_replaced(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let (u1, u2) = (user(&*s, o, Role::Admin), user(&*s, o, Role::Trainer));
    s.put_console_account(&account(u1, o, "admin", "$p1"))
        .unwrap();
    assert!(matches!(
        s.put_console_account(&account(u2, o, "admin", "$p2")),
        Err(StoreError::Conflict(_))
    ));
    // A person's new login and password replace the old ones.
    s.put_console_account(&account(u1, o, "boss", "$p3"))
        .unwrap();
    assert_eq!(s.console_account("admin").unwrap(), None);
    let a = s.console_account("boss").unwrap().unwrap();
    assert_eq!((a.user, a.org, a.password_phc.as_str()), (u1, o, "$p3"));
    s.console_signed_in(u1, 77).unwrap();
    assert_eq!(
        s.console_account("boss").unwrap().unwrap().last_ok_ms,
        Some(77)
    );
    // Now "admin" is free.
    s.put_console_account(&account(u2, o, "admin", "$p2"))
        .unwrap();
}

fn sign_in_failures_are_counted_per_login_and_address(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let u = user(&*s, o, Role::Admin);
    for (at, who, addr) in [
        (10, Some((u, o)), "192.0.2.1"),
        (20, Some((u, o)), "192.0.2.2"),
        (30, None, "192.0.2.1"),
        (40, Some((u, o)), "192.0.2.1"),
    ] {
        s.add_sign_in_failure(&SignInFailure {
            account: who,
            login: if who.is_some() { "admin" } else { "nobody" }.into(),
            address: addr.into(),
            at_ms: at,
        })
        .unwrap();
    }
    assert_eq!(
        s.sign_in_failures_since(Some("admin"), "192.0.2.1", 0)
            .unwrap(),
        (3, 3)
    );
    assert_eq!(
        s.sign_in_failures_since(Some("admin"), "192.0.2.1", 20)
            .unwrap(),
        (2, 2)
    );
    assert_eq!(
        s.sign_in_failures_since(None, "192.0.2.2", 0).unwrap(),
        (0, 1)
    );
    // A second handle (another process) sees the same.
    assert_eq!(
        b.open()
            .sign_in_failures_since(Some("admin"), "x", 41)
            .unwrap(),
        (0, 0)
    );
    assert_eq!(s.prune_sign_in_failures(25).unwrap(), 2);
    assert_eq!(
        s.sign_in_failures_since(Some("admin"), "192.0.2.1", 0)
            .unwrap(),
        (1, 2)
    );
}

fn console_sessions_are_kept_by_hash_and_ended(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    let u = user(&*s, o, Role::Admin);
    for h in [1u8, 2, 3] {
        s.put_console_session(&ConsoleSession {
            hash: [h; 32],
            org: o,
            user: u,
            csrf: [h + 10; 32],
            created_ms: 1,
            expires_ms: 100,
        })
        .unwrap();
    }
    let got = s.console_session(&[2; 32]).unwrap().unwrap();
    assert_eq!(
        (got.user, got.org, got.csrf, got.expires_ms),
        (u, o, [12; 32], 100)
    );
    assert!(s.delete_console_session(&[2; 32]).unwrap());
    assert!(!s.delete_console_session(&[2; 32]).unwrap());
    assert_eq!(s.console_session(&[2; 32]).unwrap(), None);
    assert_eq!(s.delete_console_sessions_of(u).unwrap(), 2);
    assert_eq!(s.console_session(&[1; 32]).unwrap(), None);
}

/// An entry that follows `last`, with a stand-in hash (the store keeps what it is given).
fn next_entry(org: Uuid, last: Option<&AuditEntry>, n: u8) -> AuditEntry {
    let seq = last.map_or(1, |l| l.seq + 1);
    let mut hash = [0; 32];
    hash[..8].copy_from_slice(&seq.to_be_bytes());
    hash[8] = n;
    AuditEntry {
        org,
        seq,
        at_ms: seq as i64,
        actor: "cli".into(),
        action: "test".into(),
        detail: format!("{{\"n\":{n}}}"),
        prev_hash: last.map_or([0; 32], |l| l.hash),
        hash,
    }
}

fn audit_appends_on_two_handles_make_one_chain(b: &Backend) {
    let o = org(&*b.open(), "A");
    let other = org(&*b.open(), "B");
    std::thread::scope(|scope| {
        for t in 0..2u8 {
            let s = b.open();
            scope.spawn(move || {
                for _ in 0..15 {
                    s.append_audit(o, &mut |last| next_entry(o, last, t))
                        .unwrap();
                }
            });
        }
    });
    let s = b.open();
    s.append_audit(other, &mut |last| next_entry(other, last, 9))
        .unwrap();
    let all = s.audit_entries(o, 0, 100).unwrap();
    assert_eq!(all.len(), 30);
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
        let prev = if i == 0 { [0; 32] } else { all[i - 1].hash };
        assert_eq!(e.prev_hash, prev, "entry {} links to the one before", e.seq);
    }
    let page = s.audit_entries(o, 10, 5).unwrap();
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [11, 12, 13, 14, 15]
    );
    assert_eq!(s.audit_entries(other, 0, 100).unwrap().len(), 1);
}

fn audit_log_refuses_update_and_delete(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    s.append_audit(o, &mut |last| next_entry(o, last, 1))
        .unwrap();
    let sql = ["UPDATE audit_log SET detail = 'x'", "DELETE FROM audit_log"];
    for q in sql {
        let refused = match b {
            Backend::Sqlite(d) => rusqlite::Connection::open(d.path().join("hearth.db"))
                .unwrap()
                .execute(q, [])
                .is_err(),
            Backend::Postgres(url) => {
                let (url, q) = (url.clone(), q.to_owned());
                std::thread::spawn(move || {
                    let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
                    c.execute(q.as_str(), &[]).is_err()
                })
                .join()
                .unwrap()
            }
        };
        assert!(refused, "{q} is refused");
    }
    assert_eq!(s.audit_entries(o, 0, 10).unwrap().len(), 1);
}

fn learner_import_is_all_or_nothing(b: &Backend) {
    let s = b.open();
    let o = org(&*s, "A");
    learner(&*s, o, 3);
    let new = |n: u8| Learner {
        id: LearnerId(new_id()),
        org: o,
        name: format!("学员{n}"),
        national_id_mac: [n; 32],
        national_id_tail: "0001".into(),
        class: None,
        pin_hash: None,
        created_ms: 2,
    };
    // The third is registered already: none of the four is stored.
    let batch = [new(1), new(2), new(3), new(4)];
    assert!(matches!(
        s.import_learners(&batch),
        Err(StoreError::Conflict(Conflict::LearnerExists))
    ));
    assert_eq!(s.learners_of_org(o).unwrap().len(), 1);
    s.import_learners(&[new(1), new(2), new(4)]).unwrap();
    assert_eq!(s.learners_of_org(o).unwrap().len(), 4);
}

fn flag_resolutions_are_kept_once_per_organisation(b: &Backend) {
    let s = b.open();
    let (a, other) = (org(&*s, "A"), org(&*s, "B"));
    let (admin, admin_b) = (user(&*s, a, Role::Admin), user(&*s, other, Role::Admin));
    let first = ResolvedFlag {
        org: a,
        key: "fork:x".into(),
        note: "已核实：重装系统".into(),
        by: admin,
        resolved_ms: 10,
    };
    assert!(s.put_flag_resolution(&first).unwrap());
    // A second resolution of the same flag changes nothing, on this handle or another.
    let again = ResolvedFlag {
        note: "改写".into(),
        resolved_ms: 20,
        ..first.clone()
    };
    assert!(!b.open().put_flag_resolution(&again).unwrap());
    // The same key in another organisation is another flag.
    let theirs = ResolvedFlag {
        org: other,
        by: admin_b,
        ..again.clone()
    };
    assert!(s.put_flag_resolution(&theirs).unwrap());
    let later = ResolvedFlag {
        key: "overlap:y".into(),
        resolved_ms: 30,
        ..first.clone()
    };
    assert!(s.put_flag_resolution(&later).unwrap());
    assert_eq!(s.flag_resolutions(a).unwrap(), [first, later]);
    assert_eq!(b.open().flag_resolutions(other).unwrap(), [theirs]);
    // Kept as written: the table refuses changes and removals.
    for q in [
        "UPDATE flag_resolutions SET note = 'x'",
        "DELETE FROM flag_resolutions",
    ] {
        assert!(refused(b, q), "{q} is refused");
    }
}

/// Whether the database refuses a statement run on it directly (not through the store).
fn refused(b: &Backend, q: &'static str) -> bool {
    match b {
        Backend::Sqlite(d) => rusqlite::Connection::open(d.path().join("hearth.db"))
            .unwrap()
            .execute(q, [])
            .is_err(),
        Backend::Postgres(url) => {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
                c.execute(q, &[]).is_err()
            })
            .join()
            .unwrap()
        }
    }
}

// ----- the supervisor (issue #15) -----

fn region(s: &dyn Store, code: &str, parent: Option<&str>) -> Region {
    let office = Org {
        id: new_id(),
        name: format!("office {code}"),
        created_ms: 2,
    };
    let r = Region {
        code: code.into(),
        name: format!("region {code}"),
        parent: parent.map(str::to_owned),
        office: office.id,
        created_ms: 2,
    };
    s.create_region(&r, &office).unwrap();
    r
}

fn regions_hold_their_institutions_and_supervisors(b: &Backend) {
    let s = b.open();
    let gd = region(&*s, "440000", None);
    let sz = region(&*s, "440300", Some("440000"));
    assert_eq!(s.regions().unwrap(), vec![gd.clone(), sz.clone()]);
    // The office is an organisation of its own.
    assert_eq!(s.org(sz.office).unwrap().unwrap().name, "office 440300");
    let a = org(&*s, "B school");
    let c = org(&*s, "A centre");
    s.set_org_region(a, "440300", 3).unwrap();
    s.set_org_region(c, "440000", 3).unwrap();
    assert_eq!(s.org_region(a).unwrap().as_deref(), Some("440300"));
    let names = |codes: &[&str]| {
        let codes: Vec<String> = codes.iter().map(|c| (*c).to_owned()).collect();
        s.orgs_in_regions(&codes)
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&["440300"]), vec!["B school"]);
    assert_eq!(names(&["440000", "440300"]), vec!["A centre", "B school"]);
    // Moving an institution replaces its region (seen from another handle).
    s.set_org_region(a, "440000", 4).unwrap();
    assert!(names(&["440300"]).is_empty());
    assert_eq!(b.open().org_region(a).unwrap().as_deref(), Some("440000"));
    // A supervisor is a user of the office with the new role.
    let u = User {
        id: new_id(),
        org: sz.office,
        role: Role::Supervisor,
        name: "督导".into(),
        created_ms: 3,
        pin_hash: None,
    };
    s.create_supervisor(&u, "440300").unwrap();
    assert_eq!(s.user(u.id).unwrap().unwrap(), u);
    assert_eq!(
        s.supervisor_region(u.id).unwrap().as_deref(),
        Some("440300")
    );
    assert_eq!(s.supervisor_region(new_id()).unwrap(), None);
}

fn region_writes_are_all_or_nothing(b: &Backend) {
    let s = b.open();
    region(&*s, "440000", None);
    let orgs = s.orgs().unwrap().len();
    // The code is taken: neither the region nor its office is stored.
    let office = Org {
        id: new_id(),
        name: "another office".into(),
        created_ms: 2,
    };
    let again = Region {
        code: "440000".into(),
        name: "again".into(),
        parent: None,
        office: office.id,
        created_ms: 2,
    };
    assert!(matches!(
        s.create_region(&again, &office),
        Err(StoreError::Conflict(_))
    ));
    // An unknown parent.
    let orphan = Region {
        code: "110000".into(),
        parent: Some("999999".into()),
        ..again.clone()
    };
    assert!(matches!(
        s.create_region(&orphan, &office),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.orgs().unwrap().len(), orgs);
    assert_eq!(s.regions().unwrap().len(), 1);
    // An unknown region for an institution, and a supervisor of an unknown region (whose user
    // row is not kept either).
    let a = org(&*s, "A");
    assert!(matches!(
        s.set_org_region(a, "999999", 1),
        Err(StoreError::Conflict(_))
    ));
    let u = User {
        id: new_id(),
        org: a,
        role: Role::Supervisor,
        name: "x".into(),
        created_ms: 1,
        pin_hash: None,
    };
    assert!(matches!(
        s.create_supervisor(&u, "999999"),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.user(u.id).unwrap(), None);
}

fn facts_and_certificates_of_an_org(b: &Backend) {
    let s = b.open();
    let a = org(&*s, "A");
    let other = org(&*s, "B");
    let l1 = learner(&*s, a, 1);
    let l2 = learner(&*s, a, 2);
    let l3 = learner(&*s, other, 3);
    let d = enroll(&*s, a, 1);
    s.chain_txn(d, &mut |tx| {
        tx.put_learner_facts(l1, a, b"one", false)?;
        tx.put_learner_facts(l2, a, b"two", true)?;
        tx.put_learner_facts(l3, other, b"three", false)?;
        Ok(())
    })
    .unwrap();
    let mut want = vec![(l1, b"one".to_vec()), (l2, b"two".to_vec())];
    want.sort_by_key(|(l, _)| *l.0.as_bytes());
    assert_eq!(s.facts_of_org(a).unwrap(), want);
    let cert = |serial: &str, l| Certificate {
        serial: serial.into(),
        learner: l,
        course: "c".into(),
        issued_ms: 5,
    };
    s.issue_certificate(&cert("S2", l2)).unwrap();
    s.issue_certificate(&cert("S1", l1)).unwrap();
    s.issue_certificate(&cert("S3", l3)).unwrap();
    assert_eq!(
        s.certificates_of_org(a).unwrap(),
        vec![cert("S1", l1), cert("S2", l2)]
    );
}

// ----- subsidy claims (issue #15 item 5) -----

fn claims_are_frozen_one_open_per_class_and_decided_once(b: &Backend) {
    let s = b.open();
    let (a, other) = (org(&*s, "A"), org(&*s, "B"));
    let (admin, trainer) = (user(&*s, a, Role::Admin), user(&*s, a, Role::Trainer));
    let supervisor = user(&*s, other, Role::Admin);
    let class = |name: &str| {
        let c = Class {
            id: new_id(),
            org: a,
            trainer,
            name: name.into(),
            created_ms: 1,
        };
        s.create_class(&c).unwrap();
        c.id
    };
    let (c1, c2) = (class("电工一班"), class("焊工班"));
    let claim = |class: Uuid, at: i64| Claim {
        id: new_id(),
        org: a,
        class,
        class_name: "电工一班".into(),
        submitted_by: admin,
        submitted_ms: at,
        pack_sha256: [at as u8; 32],
        learners: 3,
        credited_ms: 7_200_000,
        certificates: 1,
        open_flags: 2,
        decision: None,
    };
    let pack = br#"{"type":["HearthClaimPack"]}"#.to_vec();
    let first = claim(c1, 10);
    s.put_claim(&first, &pack).unwrap();
    assert_eq!(s.claim(first.id).unwrap().as_ref(), Some(&first));
    assert_eq!(b.open().claim_pack(first.id).unwrap(), Some(pack.clone()));
    assert_eq!(s.claim(new_id()).unwrap(), None);
    assert_eq!(s.claim_pack(new_id()).unwrap(), None);
    // One pending claim per class, on any handle; another class may have its own.
    assert!(matches!(
        b.open().put_claim(&claim(c1, 11), &pack),
        Err(StoreError::Conflict(_))
    ));
    let other_class = claim(c2, 12);
    s.put_claim(&other_class, &pack).unwrap();
    // Decided once: the second decision (on another handle) changes nothing.
    let rejected = ClaimDecision {
        approved: false,
        reason: Some("缺少签到表".into()),
        by: supervisor,
        decided_ms: 20,
    };
    assert!(s.decide_claim(first.id, &rejected).unwrap());
    let approve = ClaimDecision {
        approved: true,
        reason: None,
        by: supervisor,
        decided_ms: 21,
    };
    assert!(!b.open().decide_claim(first.id, &approve).unwrap());
    assert!(!s.decide_claim(new_id(), &approve).unwrap());
    assert_eq!(s.claim(first.id).unwrap().unwrap().decision, Some(rejected));
    // Rejected: the class may claim again; approved: it may not.
    let second = claim(c1, 30);
    s.put_claim(&second, &pack).unwrap();
    assert!(s.decide_claim(second.id, &approve).unwrap());
    assert!(matches!(
        s.put_claim(&claim(c1, 40), &pack),
        Err(StoreError::Conflict(_))
    ));
    // Newest first, only the organisations asked for.
    let ids: Vec<Uuid> = s
        .claims_of_orgs(&[a])
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, [second.id, other_class.id, first.id]);
    assert!(s.claims_of_orgs(&[other]).unwrap().is_empty());
    assert_eq!(s.claims_of_orgs(&[other, a]).unwrap().len(), 3);
    // The pack and the decision are frozen in the database itself.
    for q in [
        "UPDATE claims SET pack = pack || pack",
        "UPDATE claims SET learners = 4",
        "UPDATE claims SET reason = 'edited' WHERE decision IS NOT NULL",
        "DELETE FROM claims",
    ] {
        assert!(refused(b, q), "{q} is refused");
    }
    assert_eq!(s.claim_pack(first.id).unwrap(), Some(pack));
}
