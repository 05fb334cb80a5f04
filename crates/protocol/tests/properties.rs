//! Property tests: any change to an envelope is caught with the right reason; a body that is not
//! the canonical encoding of what it decodes to is refused; any reordering, deletion,
//! duplication or fork in a chain is caught with the right reason; valid chains always verify.

mod common;

use common::*;
use hearth_protocol::chain::{verify_chain, verify_chain_to};
use hearth_protocol::{
    Answer, AttendanceCheck, ChainError, ChainHead, ChainLink, ClassId, ContentHash, Envelope,
    Event, ExamId, ItemAnswer, ItemId, QuizId, ReceiptBody, ReceiptId, RejectReason, SignInMethod,
    SignOutReason,
};
use proptest::prelude::*;

fn arb_event() -> impl Strategy<Value = Event> {
    let lesson = (0u32..50).prop_map(lesson);
    let answer = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..16).prop_map(Answer::Choices),
        "[a-z\u{4e00}-\u{4e10} ]{0,40}".prop_map(Answer::Text),
    ];
    prop_oneof![
        lesson.clone().prop_map(|l| Event::LessonOpened {
            course: course(),
            lesson: l
        }),
        (lesson.clone(), 1u32..3_600_000).prop_map(|(l, ms)| Event::ActiveStudy {
            course: course(),
            lesson: l,
            active_ms: ms
        }),
        (
            lesson.clone(),
            any::<[u8; 32]>(),
            0u32..1_000_000,
            1u32..100_000
        )
            .prop_map(|(l, h, from, len)| Event::MediaWatched {
                course: course(),
                lesson: l,
                media: ContentHash(h),
                from_ms: from,
                to_ms: from + len
            }),
        lesson.clone().prop_map(|l| Event::LessonCompleted {
            course: course(),
            lesson: l
        }),
        (lesson, answer.clone()).prop_map(|(l, a)| Event::QuizAnswered {
            course: course(),
            lesson: l,
            quiz: QuizId::new("q1").unwrap(),
            item: ItemId::new("i1").unwrap(),
            answer: a
        }),
        (1u32..4).prop_map(|a| Event::ExamStarted {
            course: course(),
            exam: ExamId::new("final").unwrap(),
            attempt: a
        }),
        prop::collection::vec(answer, 0..20).prop_map(|answers| Event::ExamSubmitted {
            course: course(),
            exam: ExamId::new("final").unwrap(),
            attempt: 1,
            answers: answers
                .into_iter()
                .enumerate()
                .map(|(i, answer)| ItemAnswer {
                    item: ItemId::new(format!("q{i}")).unwrap(),
                    answer
                })
                .collect()
        }),
        Just(Event::LearnerSignedIn {
            method: SignInMethod::Pin
        }),
        Just(Event::LearnerSignedOut {
            reason: SignOutReason::Idle
        }),
        (1u8..40).prop_map(
            |n| Event::AttendanceCheck(AttendanceCheck::TrainerAttested {
                class: ClassId::from_random_bytes([9; 16]),
                present: (0..n).map(learner).collect()
            })
        ),
        (0u8..3, proptest::option::of(any::<i64>())).prop_map(|(what, due)| {
            Event::ClassAssigned {
                class: ClassId::from_random_bytes([8; 16]),
                course: course(),
                lesson: (what == 1).then(|| common::lesson(3)),
                exam: (what == 2).then(|| ExamId::new("final").unwrap()),
                due_wall_ms: due,
            }
        }),
    ]
}

/// Length of the varint starting at `pos`.
fn varint_len(b: &[u8], pos: usize) -> usize {
    b[pos..].iter().position(|x| x & 0x80 == 0).unwrap() + 1
}

/// The varints of a body's fixed part and the event's variant index, as (offset, length, the
/// longest varint postcard reads for that type), walking the layout of docs/receipt-format.md.
fn body_varints(b: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut p = 0;
    let mut take = |p: &mut usize, max: usize| {
        let n = varint_len(b, *p);
        out.push((*p, n, max));
        *p += n;
    };
    take(&mut p, 10); // device: length 16 (a usize)
    p += 16;
    take(&mut p, 10); // seq: u64
    p += 32; // prev
    take(&mut p, 10); // learner: length 16
    p += 16;
    take(&mut p, 10); // wall_ms: i64
    take(&mut p, 5); // mono.run: u32
    take(&mut p, 10); // mono.elapsed_ms: u64
    let tag = b[p];
    p += 1;
    if tag == 1 {
        take(&mut p, 10); // anchor.issued_ms
        take(&mut p, 10); // anchor.device: length 16
        p += 16;
        take(&mut p, 10); // anchor.signature: length 64
        p += 64;
        take(&mut p, 5); // received.run
        take(&mut p, 10); // received.elapsed_ms
    }
    take(&mut p, 5); // event: variant index (u32)
    out
}

/// `bytes` with the varint at `pos` (of length `len`) re-encoded with `extra` more bytes: the same
/// value, non-minimally (continuation bits set, then zero groups).
fn pad_varint(bytes: &[u8], pos: usize, len: usize, extra: usize) -> Vec<u8> {
    let mut out = bytes[..pos + len].to_vec();
    *out.last_mut().unwrap() |= 0x80;
    out.extend(std::iter::repeat_n(0x80, extra - 1));
    out.push(0x00);
    out.extend_from_slice(&bytes[pos + len..]);
    out
}

fn links(chain: &[hearth_protocol::VerifiedReceipt]) -> Vec<ChainLink> {
    chain.iter().map(|r| r.link()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn valid_chains_always_verify(events in prop::collection::vec(arb_event(), 1..30)) {
        let k = key(1);
        let chain = chain(&k, events.clone());
        let mut verified = Vec::new();
        for (r, event) in chain.iter().zip(&events) {
            let v = Envelope::from_bytes(r.envelope_bytes().to_vec()).verify(&public(&k)).unwrap();
            prop_assert_eq!(&v.body().event, event, "the body decodes to what was signed");
            prop_assert_eq!(v.id(), r.id());
            verified.push(v);
        }
        let end = ChainHead { seq: chain.len() as u64, id: chain.last().unwrap().id() };
        prop_assert_eq!(verify_chain_to(ChainHead::EMPTY, &links(&verified), end), Ok(()));
    }

    #[test]
    fn any_changed_byte_is_detected(event in arb_event(), pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let k = key(2);
        let r = body(&k, 1, hearth_protocol::ReceiptId::ZERO, event).sign(&k).unwrap();
        let mut bytes = r.envelope_bytes().to_vec();
        let i = pos.index(bytes.len());
        bytes[i] ^= flip;
        let err = Envelope::from_bytes(bytes).verify(&public(&k)).unwrap_err();
        let want = if i == 0 { RejectReason::UnsupportedVersion(1 ^ flip) } else { RejectReason::BadSignature };
        prop_assert_eq!(err, want, "byte {} changed", i);
    }

    #[test]
    fn truncation_or_extension_is_detected(event in arb_event(), cut in any::<prop::sample::Index>(), extra in prop::collection::vec(any::<u8>(), 1..8)) {
        let k = key(3);
        let r = body(&k, 1, hearth_protocol::ReceiptId::ZERO, event).sign(&k).unwrap();
        let full = r.envelope_bytes();
        let short = &full[..cut.index(full.len())];
        let err = Envelope::from_bytes(short.to_vec()).verify(&public(&k)).unwrap_err();
        prop_assert!(matches!(err, RejectReason::Truncated | RejectReason::BadSignature), "cut to {}: {:?}", short.len(), err);
        let mut long = full.to_vec();
        long.extend_from_slice(&extra);
        prop_assert_eq!(Envelope::from_bytes(long).verify(&public(&k)).unwrap_err(), RejectReason::BadSignature);
    }

    #[test]
    fn only_the_canonical_encoding_is_accepted(
        event in arb_event(),
        seq in prop_oneof![Just(1u64), 2u64..1 << 40],
        anchored in any::<bool>(),
        which in any::<prop::sample::Index>(),
        extra in 1usize..=4,
        trailing in prop::collection::vec(any::<u8>(), 1..8),
    ) {
        let k = key(10);
        let prev = if seq == 1 { ReceiptId::ZERO } else { ReceiptId([7; 32]) };
        let mut b = body(&k, seq, prev, event);
        if anchored {
            b.anchor = Some(anchor_for(device_of(&k), &key(0x22)));
        }
        let canonical = postcard::to_allocvec(&b).unwrap();
        let accepted = Envelope::from_bytes(sign_raw(&k, &canonical)).verify(&public(&k)).unwrap();
        prop_assert_eq!(accepted.body(), &b);

        let varints = body_varints(&canonical);
        let (pos, len, max) = varints[which.index(varints.len())];
        let extra = extra.min(max - len);
        prop_assume!(extra > 0);
        let padded = pad_varint(&canonical, pos, len, extra);
        // A lenient decoder reads the same receipt from it: only the canonical check refuses it.
        prop_assert_eq!(&postcard::from_bytes::<ReceiptBody>(&padded).unwrap(), &b);
        prop_assert_eq!(
            Envelope::from_bytes(sign_raw(&k, &padded)).verify(&public(&k)).unwrap_err().code(),
            "receipt.malformed",
            "varint at {} padded by {}", pos, extra
        );

        let mut long = canonical.clone();
        long.extend_from_slice(&trailing);
        prop_assert_eq!(
            Envelope::from_bytes(sign_raw(&k, &long)).verify(&public(&k)).unwrap_err().code(),
            "receipt.malformed"
        );
    }

    #[test]
    fn another_key_is_refused(event in arb_event()) {
        let (k, other) = (key(4), key(5));
        let r = body(&k, 1, hearth_protocol::ReceiptId::ZERO, event).sign(&k).unwrap();
        prop_assert_eq!(
            Envelope::from_bytes(r.envelope_bytes().to_vec()).verify(&public(&other)).unwrap_err(),
            RejectReason::BadSignature
        );
    }

    #[test]
    fn swapped_receipts_are_out_of_order(n in 3usize..20, a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let k = key(6);
        let chain = chain(&k, (0..n).map(|i| Event::LessonOpened { course: course(), lesson: lesson(i as u32) }).collect());
        let (i, j) = (a.index(n), b.index(n));
        prop_assume!(i != j);
        let (i, j) = (i.min(j), i.max(j));
        let mut l = links(&chain);
        l.swap(i, j);
        prop_assert_eq!(
            verify_chain(ChainHead::EMPTY, &l),
            Err(ChainError::OutOfOrder { expected: i as u64 + 1, found: j as u64 + 1 })
        );
    }

    #[test]
    fn deleted_receipts_leave_a_gap(n in 2usize..20, at in any::<prop::sample::Index>()) {
        let k = key(7);
        let chain = chain(&k, (0..n).map(|i| Event::LessonOpened { course: course(), lesson: lesson(i as u32) }).collect());
        let i = at.index(n);
        let mut l = links(&chain);
        l.remove(i);
        let end = ChainHead { seq: n as u64, id: chain[n - 1].id() };
        let want = if i == n - 1 {
            // Nothing after the last receipt can show it is gone: the known head does.
            ChainError::Truncated { expected: n as u64, found: n as u64 - 1 }
        } else {
            ChainError::Gap { expected: i as u64 + 1, found: i as u64 + 2 }
        };
        prop_assert_eq!(verify_chain_to(ChainHead::EMPTY, &l, end), Err(want));
    }

    #[test]
    fn duplicated_receipts_are_flagged(n in 1usize..20, at in any::<prop::sample::Index>(), to in any::<prop::sample::Index>()) {
        let k = key(8);
        let chain = chain(&k, (0..n).map(|i| Event::LessonOpened { course: course(), lesson: lesson(i as u32) }).collect());
        let i = at.index(n);
        // Insert the copy anywhere after the original.
        let pos = i + 1 + to.index(n - i);
        let mut l = links(&chain);
        l.insert(pos, l[i]);
        prop_assert_eq!(verify_chain(ChainHead::EMPTY, &l), Err(ChainError::Duplicate { seq: i as u64 + 1 }));
    }

    #[test]
    fn a_second_history_is_a_fork(n in 2usize..20, at in any::<prop::sample::Index>()) {
        let k = key(9);
        let chain = chain(&k, (0..n).map(|i| Event::LessonOpened { course: course(), lesson: lesson(i as u32) }).collect());
        let i = at.index(n);
        // A restored backup or copied key: a different receipt signed at position i + 1.
        let other = body(&k, i as u64 + 1, chain[i].body().prev, Event::LessonCompleted { course: course(), lesson: lesson(99) })
            .sign(&k)
            .unwrap();
        let mut l = links(&chain);
        l.push(other.link());
        prop_assert_eq!(verify_chain(ChainHead::EMPTY, &l), Err(ChainError::Fork { seq: i as u64 + 1 }));
    }
}

/// A slug refused elsewhere on the thread (JSON here) does not turn a later undecodable body into
/// `receipt.invalid_event`, and a refused slug in a body does.
#[test]
fn slug_refusals_map_to_invalid_event_only_for_the_body_being_verified() {
    let k = key(11);
    assert!(serde_json::from_str::<hearth_protocol::LessonId>("\"../x\"").is_err());
    let garbage = sign_raw(&k, b"\xff\xff\xff\xff\xff");
    assert_eq!(
        Envelope::from_bytes(garbage)
            .verify(&public(&k))
            .unwrap_err()
            .code(),
        "receipt.malformed"
    );
    let b = body(
        &k,
        1,
        ReceiptId::ZERO,
        Event::LessonOpened {
            course: course(),
            lesson: lesson(1),
        },
    );
    let mut bytes = postcard::to_allocvec(&b).unwrap();
    let at = bytes.windows(8).position(|w| w == b"lesson-1").unwrap();
    bytes[at] = b'L';
    assert_eq!(
        Envelope::from_bytes(sign_raw(&k, &bytes))
            .verify(&public(&k))
            .unwrap_err(),
        RejectReason::InvalidEvent("slug")
    );
    let good = postcard::to_allocvec(&b).unwrap();
    assert!(
        Envelope::from_bytes(sign_raw(&k, &good))
            .verify(&public(&k))
            .is_ok()
    );
}
