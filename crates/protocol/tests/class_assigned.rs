//! The `class_assigned` event (a trainer assigns work to a class from a kiosk): it is appended
//! after every older event (variant 10), survives signing and verification byte for byte, is
//! refused when it names a lesson and an exam at once, and names the assignment it creates by a
//! hash of the receipt id.

mod common;

use common::*;
use hearth_protocol::receipt::class_assignment_id;
use hearth_protocol::{ClassId, Envelope, Event, ExamId, ReceiptId, RejectReason};

fn assigned(lesson: bool, exam: bool, due: Option<i64>) -> Event {
    Event::ClassAssigned {
        class: ClassId::from_random_bytes([7; 16]),
        course: course(),
        lesson: lesson.then(|| common::lesson(2)),
        exam: exam.then(|| ExamId::new("final").unwrap()),
        due_wall_ms: due,
    }
}

#[test]
fn round_trips_through_signing_and_verification() {
    let k = key(0x11);
    for event in [
        assigned(true, false, Some(1_790_000_000_000)),
        assigned(false, true, None),
        assigned(false, false, Some(-5)),
    ] {
        let b = body(&k, 1, ReceiptId::ZERO, event.clone());
        let signed = b.sign(&k).unwrap();
        let back = Envelope::from_bytes(signed.envelope_bytes().to_vec())
            .verify(&public(&k))
            .unwrap();
        assert_eq!(back.body().event, event);
        assert_eq!(back.body().event.kind(), "class_assigned");
        assert_eq!(back.id(), signed.id());
    }
}

#[test]
fn is_appended_as_variant_10() {
    // The event is the last field of the body, so its encoding is the tail of the body bytes:
    // the variant index first. Older variants keep their indices (the frozen vectors check them).
    let event = assigned(false, false, None);
    let bytes = postcard::to_allocvec(&event).unwrap();
    assert_eq!(bytes[0], 10);
    let back: Event = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, event);
}

#[test]
fn a_lesson_and_an_exam_at_once_is_refused_when_signing_and_verifying() {
    let k = key(0x11);
    let b = body(&k, 1, ReceiptId::ZERO, assigned(true, true, None));
    assert!(matches!(b.sign(&k), Err(RejectReason::InvalidEvent(_))));
    // A device that signs it anyway (bypassing the check) is refused by the verifier.
    let raw = sign_raw(&k, &postcard::to_allocvec(&b).unwrap());
    assert_eq!(
        Envelope::from_bytes(raw)
            .verify(&public(&k))
            .unwrap_err()
            .code(),
        "receipt.invalid_event"
    );
}

#[test]
fn the_assignment_id_is_a_stable_hash_of_the_receipt_id() {
    let a = class_assignment_id(ReceiptId([1; 32]));
    assert_eq!(a, class_assignment_id(ReceiptId([1; 32])));
    assert_ne!(a, class_assignment_id(ReceiptId([2; 32])));
    assert_eq!(a.get_version_num(), 8);
    // Frozen: the kiosk and the service must agree on it across versions.
    assert_eq!(
        class_assignment_id(ReceiptId::ZERO).to_string(),
        FROZEN_ZERO_ID
    );
}

const FROZEN_ZERO_ID: &str = "7b8ff75d-9445-8c5f-9e3c-e590040530bc";
