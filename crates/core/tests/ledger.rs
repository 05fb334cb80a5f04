//! The ledger on a real SQLite file: first run, recording, the outbox, acknowledgements, anchors.

use std::sync::Arc;

use hearth_core::{CoreError, Env, Hearth, ManualClock};
use hearth_protocol::{
    ChainHead, CourseId, Envelope, Event, LearnerId, LessonId, ReceiptId, TimeAnchor,
};
use ring::signature::{Ed25519KeyPair, KeyPair};

const T0: i64 = 1_790_000_000_000;

fn env(seed: u64) -> (Env, Arc<ManualClock>) {
    Env::deterministic(T0, seed)
}

fn opened(event_lesson: u32) -> Event {
    Event::LessonOpened {
        course: CourseId::new("electrician-safety").unwrap(),
        lesson: LessonId::new(format!("lesson-{event_lesson}")).unwrap(),
    }
}

#[test]
fn first_run_makes_an_owner_only_key_and_reopening_keeps_the_identity() {
    let dir = tempfile::tempdir().unwrap();
    let first = Hearth::open(dir.path(), env(1).0).unwrap().device();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("device.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the key must be readable by the owner only"
        );
    }
    // Different randomness on the second open: the identity must come from disk, not be remade.
    let again = Hearth::open(dir.path(), env(2).0).unwrap().device();
    assert_eq!(first, again);
    assert_eq!(
        first.id,
        hearth_protocol::DeviceId::for_key(&first.public_key)
    );
}

#[test]
fn records_survive_reopening_and_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (e, clock) = env(3);
    let mut h = Hearth::open(dir.path(), e.clone()).unwrap();
    let a = h.add_learner("王小明").unwrap();
    let b = h.add_learner("李娟").unwrap();
    let mut ids = Vec::new();
    for i in 0..10u32 {
        clock.advance(1_000);
        // Every second receipt is the other learner's: signing in is itself a receipt.
        let who = if i % 2 == 0 { a.id } else { b.id };
        let r = if h.at_keyboard() == Some(who) {
            h.record(opened(i)).unwrap()
        } else {
            h.sign_in(who).unwrap()
        };
        assert_eq!(r.learner, who, "recorded for the learner signed in");
        assert_eq!(
            r.seq,
            u64::from(i) + 1,
            "sequence numbers run from 1 without holes"
        );
        ids.push(r.id);
    }
    drop(h);

    let h = Hearth::open(dir.path(), e).unwrap();
    let names: Vec<_> = h
        .learners()
        .unwrap()
        .into_iter()
        .map(|l| l.display_name)
        .collect();
    assert_eq!(names, ["王小明", "李娟"]);
    let recent = h.recent_receipts(3).unwrap();
    assert_eq!(
        recent.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [10, 9, 8],
        "newest first"
    );
    assert_eq!(recent[0].id, ids[9]);
    assert_eq!(recent[0].kind, "learner_signed_in");
    assert_eq!(recent[0].learner, b.id);
    assert_eq!(
        h.verify_ledger().unwrap(),
        ChainHead {
            seq: 10,
            id: ids[9]
        }
    );
    let status = h.ledger_status().unwrap();
    assert_eq!(
        (status.head_seq, status.acked_seq, status.pending),
        (10, 0, 10)
    );
}

#[test]
fn receipts_carry_both_clocks_and_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (e, clock) = env(4);
    let mut h = Hearth::open(dir.path(), e.clone()).unwrap();
    let l = h.add_learner("张伟").unwrap();
    clock.advance(5_000);
    clock.set_wall(T0 - 86_400_000); // the user sets the clock back a day
    h.sign_in(l.id).unwrap();
    drop(h);
    let h = Hearth::open(dir.path(), e).unwrap();
    let key = h.device().public_key;
    let item = &h.outbox(0, 10).unwrap()[0];
    let r = Envelope::from_bytes(item.envelope.clone())
        .verify(&key)
        .unwrap();
    assert_eq!(
        r.body().wall_ms,
        T0 - 86_400_000,
        "the wall clock is recorded as the device saw it"
    );
    assert_eq!(r.body().mono.elapsed_ms, 5_000);
    assert_eq!(r.body().mono.run, 1, "the first open is run 1");
    let mut h = h;
    let r2 = h.sign_in(l.id).unwrap();
    let item = h.outbox(r2.seq - 1, 1).unwrap().remove(0);
    let body = Envelope::from_bytes(item.envelope)
        .verify(&key)
        .unwrap()
        .body()
        .clone();
    assert_eq!(body.mono.run, 2, "reopening starts a new run");
}

#[test]
fn an_unknown_learner_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Hearth::open(dir.path(), env(5).0).unwrap();
    let stranger = LearnerId::from_random_bytes([7; 16]);
    assert_eq!(
        h.record(opened(1)).unwrap_err().code(),
        "session.none",
        "nobody is signed in: nothing can be recorded"
    );
    let err = h.sign_in(stranger).unwrap_err();
    assert_eq!(err.code(), "learner.unknown");
    assert_eq!(h.ledger_status().unwrap().head_seq, 0);
    for bad in ["", "   ", &"长".repeat(65), "a\u{0}b"] {
        assert_eq!(
            h.add_learner(bad).unwrap_err().code(),
            "input.invalid",
            "{bad:?}"
        );
    }
    assert!(h.learners().unwrap().is_empty());
}

#[test]
fn acknowledgements_shrink_the_outbox_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Hearth::open(dir.path(), env(6).0).unwrap();
    let l = h.add_learner("赵敏").unwrap();
    // Signing in is the first receipt; four more follow.
    let mut recorded = vec![h.sign_in(l.id).unwrap()];
    recorded.extend((1..5).map(|i| h.record(opened(i)).unwrap()));
    assert_eq!(h.outbox(0, 100).unwrap().len(), 5);
    assert_eq!(
        h.outbox(2, 2)
            .unwrap()
            .iter()
            .map(|o| o.seq)
            .collect::<Vec<_>>(),
        [3, 4]
    );

    let wrong = ChainHead {
        seq: 3,
        id: ReceiptId([9; 32]),
    };
    assert!(matches!(
        h.mark_acknowledged(wrong),
        Err(CoreError::AckMismatch { seq: 3 })
    ));
    let beyond = ChainHead {
        seq: 6,
        id: ReceiptId([9; 32]),
    };
    assert!(matches!(
        h.mark_acknowledged(beyond),
        Err(CoreError::AckBeyondHead { seq: 6, head: 5 })
    ));
    assert_eq!(
        h.ledger_status().unwrap().acked_seq,
        0,
        "a refused acknowledgement changes nothing"
    );

    let changes = h
        .mark_acknowledged(ChainHead {
            seq: 3,
            id: recorded[2].id,
        })
        .unwrap();
    assert!(changes.receipts, "the UI is told the receipt list changed");
    assert_eq!(
        h.outbox(0, 100)
            .unwrap()
            .iter()
            .map(|o| o.seq)
            .collect::<Vec<_>>(),
        [4, 5]
    );
    h.mark_acknowledged(ChainHead {
        seq: 1,
        id: recorded[0].id,
    })
    .unwrap();
    assert_eq!(
        h.ledger_status().unwrap().acked_seq,
        3,
        "acknowledgements never move backwards"
    );
    let recent = h.recent_receipts(10).unwrap();
    assert_eq!(recent.iter().filter(|r| r.acknowledged).count(), 3);
}

#[test]
fn anchors_are_checked_and_carried_by_later_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let (e, clock) = env(7);
    let mut h = Hearth::open(dir.path(), e).unwrap();
    let l = h.add_learner("陈静").unwrap();
    let service = Ed25519KeyPair::from_seed_unchecked(&[0x22; 32]).unwrap();
    let service_pk = hearth_protocol::PublicKey::from_slice(service.public_key().as_ref()).unwrap();
    let device = h.device().id;

    let impostor = Ed25519KeyPair::from_seed_unchecked(&[0x23; 32]).unwrap();
    let forged = TimeAnchor::issue(&impostor, device, T0 + 999_999);
    assert_eq!(
        h.store_anchor(forged, &service_pk).unwrap_err().code(),
        "receipt.bad_anchor"
    );

    clock.advance(2_000);
    h.store_anchor(TimeAnchor::issue(&service, device, T0), &service_pk)
        .unwrap();
    clock.advance(60_000);
    h.sign_in(l.id).unwrap();
    let env = h.outbox(0, 1).unwrap().remove(0).envelope;
    let r = Envelope::from_bytes(env)
        .verify(&h.device().public_key)
        .unwrap();
    let anchor = r.body().anchor.expect("the receipt carries the anchor");
    assert_eq!(anchor.anchor.issued_ms, T0);
    assert_eq!(
        anchor.earliest_real_time(r.body().mono),
        T0 + 60_000,
        "anchor time plus elapsed monotonic time"
    );
}

#[test]
fn enrollment_keeps_the_service_keys_and_the_roster() {
    use hearth_core::{Enrollment, RosterPerson};
    let dir = tempfile::tempdir().unwrap();
    let mut h = Hearth::open(dir.path(), env(8).0).unwrap();
    let service = Ed25519KeyPair::from_seed_unchecked(&[0x22; 32]).unwrap();
    let anchor_key = hearth_protocol::PublicKey::from_slice(service.public_key().as_ref()).unwrap();
    let trainer = LearnerId::from_random_bytes([3; 16]);
    let enrollment = Enrollment {
        service_url: "http://127.0.0.1:8080".into(),
        credential: "secret".into(),
        credential_expires_ms: T0 + 1_000_000,
        org_id: "org-1".into(),
        org_name: "城关镇培训中心".into(),
        owner: None,
        anchor_key,
        publisher_keys: vec![
            hearth_protocol::PublicKey([5; 32]),
            hearth_protocol::PublicKey([6; 32]),
        ],
        enrolled_ms: T0,
    };
    let roster = [RosterPerson {
        id: trainer,
        name: "周老师".into(),
        role: "trainer".into(),
        pin_hash: Some("ab".into()),
        card: None,
    }];
    let forged = TimeAnchor::issue(
        &Ed25519KeyPair::from_seed_unchecked(&[1; 32]).unwrap(),
        h.device().id,
        T0,
    );
    assert_eq!(
        h.apply_enrollment(&enrollment, &roster, forged)
            .unwrap_err()
            .code(),
        "receipt.bad_anchor"
    );
    assert_eq!(
        h.enrollment().unwrap(),
        None,
        "a refused enrollment keeps nothing"
    );

    h.apply_enrollment(
        &enrollment,
        &roster,
        TimeAnchor::issue(&service, h.device().id, T0),
    )
    .unwrap();
    drop(h);
    let h = Hearth::open(dir.path(), env(8).0).unwrap();
    assert_eq!(h.enrollment().unwrap(), Some(enrollment));
    assert_eq!(
        h.learners()
            .unwrap()
            .iter()
            .map(|l| l.id)
            .collect::<Vec<_>>(),
        [trainer]
    );
}

#[test]
fn exported_receipts_are_the_unacknowledged_ones_exactly_as_signed() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Hearth::open(dir.path(), env(10).0).unwrap();
    let l = h.add_learner("黄磊").unwrap();
    let mut recorded = vec![h.sign_in(l.id).unwrap()];
    recorded.extend((1..7).map(|i| h.record(opened(i)).unwrap()));
    h.mark_acknowledged(ChainHead {
        seq: 2,
        id: recorded[1].id,
    })
    .unwrap();

    let usb = tempfile::tempdir().unwrap();
    let file = usb.path().join("receipts.hrx");
    assert_eq!(h.export_receipts(&file).unwrap(), 5);
    let sections = hearth_protocol::bundle::decode_bundle(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(sections.len(), 1);
    assert_eq!(sections[0].device, h.device().id);
    let ids: Vec<_> = sections[0]
        .envelopes
        .iter()
        .map(|e| {
            Envelope::from_bytes(e.clone())
                .verify(&h.device().public_key)
                .unwrap()
                .id()
        })
        .collect();
    assert_eq!(ids, recorded[2..].iter().map(|r| r.id).collect::<Vec<_>>());
    assert!(
        !usb.path().join("receipts.hrx.partial").exists(),
        "no temporary file is left behind"
    );
    assert_eq!(
        h.ledger_status().unwrap().pending,
        5,
        "exporting does not empty the outbox; acknowledgement does"
    );
}

/// A busy kiosk's week does not fit one upload batch: the export splits it into sections of at
/// most `MAX_BATCH_RECEIPTS`, in chain order, so the service can import every section.
#[test]
fn a_large_export_is_split_into_importable_sections() {
    use hearth_protocol::wire::MAX_BATCH_RECEIPTS;
    let dir = tempfile::tempdir().unwrap();
    let mut h = Hearth::open(dir.path(), env(11).0).unwrap();
    let l = h.add_learner("赵强").unwrap();
    let n = MAX_BATCH_RECEIPTS + 3;
    h.sign_in(l.id).unwrap();
    for i in 1..n {
        h.record(opened(i as u32)).unwrap();
    }
    let usb = tempfile::tempdir().unwrap();
    let file = usb.path().join("receipts.hrx");
    assert_eq!(h.export_receipts(&file).unwrap(), n as u64);
    let sections = hearth_protocol::bundle::decode_bundle(&std::fs::read(&file).unwrap()).unwrap();
    let sizes: Vec<usize> = sections.iter().map(|s| s.envelopes.len()).collect();
    assert_eq!(sizes, vec![MAX_BATCH_RECEIPTS, 3]);
    let exported: Vec<Vec<u8>> = sections.into_iter().flat_map(|s| s.envelopes).collect();
    let outbox: Vec<Vec<u8>> = h
        .outbox(0, n as u32)
        .unwrap()
        .into_iter()
        .map(|o| o.envelope)
        .collect();
    assert_eq!(exported, outbox, "every receipt once, in chain order");
}
