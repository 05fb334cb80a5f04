//! The published test vectors (docs/test-vectors/receipts.json) hold: every envelope gets its
//! stated verdict, every valid one its stated id and body, every chain its stated chain verdict.
//! The vectors are also rebuilt here from fixed keys and compared byte for byte, which freezes
//! the format: a change to the encoding fails this test.
//!
//! To rewrite the file after a deliberate format change (with a new format version):
//! `HEARTH_WRITE_VECTORS=1 cargo test -p hearth-protocol --test vectors`.

mod common;

use std::path::PathBuf;

use common::*;
use hearth_protocol::chain::{verify_chain, verify_chain_to};
use hearth_protocol::receipt::MAX_ENVELOPE_LEN;
use hearth_protocol::{
    Answer, AttendanceCheck, ChainHead, ClassId, ContentHash, Envelope, Event, ExamId, ItemAnswer,
    ItemId, MonoStamp, PublicKey, QuizId, ReceiptBody, ReceiptId, SignInMethod, SignOutReason,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Vectors {
    about: String,
    /// The service's time-anchor public key (hex): an envelope that verifies but carries an
    /// anchor not signed by this key for its device is `receipt.bad_anchor`.
    anchor_public_key: String,
    envelopes: Vec<EnvelopeCase>,
    chains: Vec<ChainCase>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct EnvelopeCase {
    name: String,
    /// Verify under this key (hex).
    public_key: String,
    /// The envelope (hex).
    envelope: String,
    /// `"valid"` or a reject code.
    expect: String,
    /// For valid cases: the receipt id (hex) and the decoded body.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<ReceiptBody>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct ChainCase {
    name: String,
    /// Names of cases in `envelopes`, in the order they arrive.
    receipts: Vec<String>,
    /// The head the verifier already knows for the device (from its store), when the case is
    /// checked against it (`chain::verify_chain_to`); otherwise `chain::verify_chain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    known_head: Option<KnownHead>,
    /// `"valid"` or a chain code.
    expect: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct KnownHead {
    seq: u64,
    /// Receipt id (hex).
    id: String,
}

fn file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/test-vectors/receipts.json")
}

fn valid(name: &str, k: &ring::signature::Ed25519KeyPair, body: ReceiptBody) -> EnvelopeCase {
    let r = body.sign(k).unwrap();
    EnvelopeCase {
        name: name.into(),
        public_key: public(k).to_hex(),
        envelope: hex::encode(r.envelope_bytes()),
        expect: "valid".into(),
        id: Some(r.id().to_hex()),
        body: Some(body),
    }
}

fn invalid(name: &str, key: PublicKey, bytes: Vec<u8>, code: &str) -> EnvelopeCase {
    EnvelopeCase {
        name: name.into(),
        public_key: key.to_hex(),
        envelope: hex::encode(bytes),
        expect: code.into(),
        id: None,
        body: None,
    }
}

/// The card secret of the `card-sign-in` vector.
const CARD_SECRET: [u8; 32] = [0x44; 32];

fn build() -> Vectors {
    let k = key(0x11);
    let service = key(0x22);
    let other = key(0x33);
    let pk = public(&k);
    let dev = device_of(&k);
    let c = course();

    let b1 = body(
        &k,
        1,
        ReceiptId::ZERO,
        Event::LearnerSignedIn {
            method: SignInMethod::Pin,
        },
    );
    let r1 = b1.sign(&k).unwrap();
    let mut b2 = body(
        &k,
        2,
        r1.id(),
        Event::LessonOpened {
            course: c.clone(),
            lesson: lesson(1),
        },
    );
    b2.anchor = Some(anchor_for(dev, &service));
    let r2 = b2.sign(&k).unwrap();
    let mut b3 = body(
        &k,
        3,
        r2.id(),
        Event::ActiveStudy {
            course: c.clone(),
            lesson: lesson(1),
            active_ms: 55_000,
        },
    );
    b3.anchor = b2.anchor;
    let r3 = b3.sign(&k).unwrap();
    let b4 = body(
        &k,
        4,
        r3.id(),
        Event::MediaWatched {
            course: c.clone(),
            lesson: lesson(2),
            media: ContentHash::of(b"demo video bytes"),
            from_ms: 0,
            to_ms: 30_000,
        },
    );
    let r4 = b4.sign(&k).unwrap();
    let b5 = body(
        &k,
        5,
        r4.id(),
        Event::QuizAnswered {
            course: c.clone(),
            lesson: lesson(2),
            quiz: QuizId::new("lesson-2-quiz").unwrap(),
            item: ItemId::new("q1").unwrap(),
            answer: Answer::Choices(vec![2]),
        },
    );
    let r5 = b5.sign(&k).unwrap();
    let b6 = body(
        &k,
        6,
        r5.id(),
        Event::ExamSubmitted {
            course: c.clone(),
            exam: ExamId::new("final").unwrap(),
            attempt: 1,
            answers: vec![
                ItemAnswer {
                    item: ItemId::new("e1").unwrap(),
                    answer: Answer::Choices(vec![0, 3]),
                },
                ItemAnswer {
                    item: ItemId::new("e2").unwrap(),
                    answer: Answer::Text("断开电源".into()),
                },
            ],
        },
    );
    let r6 = b6.sign(&k).unwrap();
    let b7 = body(
        &k,
        7,
        r6.id(),
        Event::AttendanceCheck(AttendanceCheck::TrainerAttested {
            class: ClassId::from_random_bytes([7; 16]),
            present: vec![learner(1), learner(2)],
        }),
    );
    let r7 = b7.sign(&k).unwrap();
    // The rest of the day, continuing the chain: every event kind has a valid vector.
    let b8 = body(
        &k,
        8,
        r7.id(),
        Event::ExamStarted {
            course: c.clone(),
            exam: ExamId::new("final").unwrap(),
            attempt: 2,
        },
    );
    let r8 = b8.sign(&k).unwrap();
    let mut b9 = body(
        &k,
        9,
        r8.id(),
        Event::AttendanceCheck(AttendanceCheck::PresencePrompt {
            course: c.clone(),
            lesson: lesson(3),
            waited_ms: 4_500,
        }),
    );
    b9.anchor = b2.anchor;
    let r9 = b9.sign(&k).unwrap();
    let b10 = body(
        &k,
        10,
        r9.id(),
        Event::ClassAssigned {
            class: ClassId::from_random_bytes([7; 16]),
            course: c.clone(),
            lesson: None,
            exam: Some(ExamId::new("final").unwrap()),
            due_wall_ms: Some(1_790_000_000_000 + 86_400_000),
        },
    );
    let r10 = b10.sign(&k).unwrap();
    let b11 = body(
        &k,
        11,
        r10.id(),
        Event::LearnerSignedOut {
            reason: SignOutReason::ClassEnded,
        },
    );
    let r11 = b11.sign(&k).unwrap();
    // Anchors the service did not sign for this device: signed by another key, and signed by
    // the service for another device. The envelopes themselves verify.
    let mut b2_foreign_anchor = b2.clone();
    b2_foreign_anchor.anchor = Some(anchor_for(dev, &other));
    let mut b2_anchor_of_other_device = b2.clone();
    b2_anchor_of_other_device.anchor = Some(anchor_for(device_of(&other), &service));
    // A second receipt at position 2: what a restored backup or a copied key produces.
    let b2_fork = body(
        &k,
        2,
        r1.id(),
        Event::LessonCompleted {
            course: c.clone(),
            lesson: lesson(9),
        },
    );

    let fork_id = b2_fork.sign(&k).unwrap().id();
    let flip = |bytes: &[u8], i: usize| {
        let mut b = bytes.to_vec();
        b[i] ^= 0x01;
        b
    };
    let raw = |b: &ReceiptBody| postcard::to_allocvec(b).unwrap();
    let mut envelopes = vec![
        valid("genesis-sign-in", &k, b1.clone()),
        valid("lesson-opened-with-anchor", &k, b2.clone()),
        valid("active-study", &k, b3),
        valid("media-watched", &k, b4),
        valid("quiz-answered", &k, b5),
        valid("exam-submitted", &k, b6),
        valid("trainer-attested-attendance", &k, b7),
        valid("exam-started", &k, b8),
        valid("presence-prompt", &k, b9),
        valid("class-assigned", &k, b10),
        valid("learner-signed-out", &k, b11),
        valid("fork-at-2", &k, b2_fork),
        // Issue #17 item 3: a card sign-in after learner-signed-out, its proof made with the
        // card secret CARD_SECRET (card serial 1 of learner 1) for this chain position.
        valid(
            "card-sign-in",
            &k,
            body(
                &k,
                12,
                r11.id(),
                Event::LearnerSignedIn {
                    method: SignInMethod::CardProved {
                        serial: 1,
                        proof: hearth_protocol::card::card_proof(
                            &CARD_SECRET,
                            dev,
                            learner(1),
                            1,
                            12,
                            r11.id(),
                        ),
                    },
                },
            ),
        ),
    ];
    let good = r2.envelope_bytes();
    let mut too_big = sign_raw(&k, &vec![0u8; MAX_ENVELOPE_LEN]);
    too_big.truncate(MAX_ENVELOPE_LEN + 1);
    let mut v2 = good.to_vec();
    v2[0] = 2;
    let mut trailing = raw(&b1);
    trailing.push(0);
    let mut seq0 = b1.clone();
    seq0.seq = 0;
    let mut genesis_with_prev = b1.clone();
    genesis_with_prev.prev = r1.id();
    let mut second_without_prev = b2.clone();
    second_without_prev.prev = ReceiptId::ZERO;
    let mut empty_span = b1.clone();
    empty_span.event = Event::ActiveStudy {
        course: c.clone(),
        lesson: lesson(1),
        active_ms: 0,
    };
    let mut backwards_media = b1.clone();
    backwards_media.event = Event::MediaWatched {
        course: c,
        lesson: lesson(1),
        media: ContentHash::ZERO,
        from_ms: 10,
        to_ms: 10,
    };
    let mut foreign_device = b1.clone();
    foreign_device.device = device_of(&other);
    // The same receipts with one varint written non-minimally: a lenient decoder reads the same
    // body, but one receipt must have one byte form (and one id).
    let canonical = raw(&b1);
    assert_eq!(
        canonical[17], 0x01,
        "seq follows the 17 bytes of the device id"
    );
    let mut long_seq = canonical[..17].to_vec();
    long_seq.extend_from_slice(&[0x81, 0x00]);
    long_seq.extend_from_slice(&canonical[18..]);
    let mut long_variant = canonical.clone();
    let tail = long_variant.len() - 2;
    assert_eq!(
        long_variant[tail..],
        [7, 1],
        "learner_signed_in (7), method pin (1)"
    );
    long_variant.splice(tail..tail + 1, [0x87, 0x00]);
    // Slugs that break the rule (1-64 bytes of a-z 0-9 . _ -, not starting with . or -), put
    // where `lesson-1` was: signing refuses them, so they are written into the bytes.
    let with_lesson = |slug: &[u8]| {
        let mut b = raw(&b2);
        let at = b.windows(8).position(|w| w == b"lesson-1").unwrap();
        b.splice(at..at + 8, slug.iter().copied());
        b
    };
    for lenient in [&long_seq, &long_variant] {
        assert_eq!(postcard::from_bytes::<ReceiptBody>(lenient).unwrap(), b1);
    }
    envelopes.extend([
        invalid("empty", pk, vec![], "receipt.truncated"),
        invalid("header-only", pk, good[..65].to_vec(), "receipt.truncated"),
        invalid("version-2", pk, v2, "receipt.unsupported_version"),
        invalid("oversize", pk, too_big, "receipt.too_large"),
        invalid(
            "flipped-signature-byte",
            pk,
            flip(good, 10),
            "receipt.bad_signature",
        ),
        invalid(
            "flipped-body-byte",
            pk,
            flip(good, good.len() - 1),
            "receipt.bad_signature",
        ),
        invalid(
            "cut-short",
            pk,
            good[..good.len() - 1].to_vec(),
            "receipt.bad_signature",
        ),
        invalid(
            "signed-by-another-key",
            pk,
            r1.envelope_bytes().to_vec().tap_resign(&other),
            "receipt.bad_signature",
        ),
        invalid(
            "verified-under-another-key",
            public(&other),
            good.to_vec(),
            "receipt.bad_signature",
        ),
        invalid(
            "garbage-body",
            pk,
            sign_raw(&k, b"\xff\xff\xff\xff\xff"),
            "receipt.malformed",
        ),
        invalid(
            "trailing-byte-in-body",
            pk,
            sign_raw(&k, &trailing),
            "receipt.malformed",
        ),
        invalid(
            "non-minimal-varint-seq",
            pk,
            sign_raw(&k, &long_seq),
            "receipt.malformed",
        ),
        invalid(
            "non-minimal-varint-event-variant",
            pk,
            sign_raw(&k, &long_variant),
            "receipt.malformed",
        ),
        invalid(
            "body-names-another-device",
            public(&other),
            sign_raw(&other, &raw(&b1)),
            "receipt.wrong_device",
        ),
        invalid(
            "signed-for-a-foreign-device-id",
            pk,
            sign_raw(&k, &raw(&foreign_device)),
            "receipt.wrong_device",
        ),
        invalid(
            "sequence-zero",
            pk,
            sign_raw(&k, &raw(&seq0)),
            "receipt.bad_sequence",
        ),
        invalid(
            "genesis-with-predecessor",
            pk,
            sign_raw(&k, &raw(&genesis_with_prev)),
            "receipt.bad_genesis",
        ),
        invalid(
            "second-without-predecessor",
            pk,
            sign_raw(&k, &raw(&second_without_prev)),
            "receipt.bad_genesis",
        ),
        invalid(
            "empty-study-span",
            pk,
            sign_raw(&k, &raw(&empty_span)),
            "receipt.invalid_event",
        ),
        invalid(
            "slug-with-capital",
            pk,
            sign_raw(&k, &with_lesson(b"Lesson-1")),
            "receipt.invalid_event",
        ),
        invalid(
            "slug-path-trick",
            pk,
            sign_raw(&k, &with_lesson(b"../../x1")),
            "receipt.invalid_event",
        ),
        invalid(
            "slug-not-utf8",
            pk,
            sign_raw(&k, &with_lesson(b"lesson-\xff")),
            "receipt.malformed",
        ),
        invalid(
            "media-segment-backwards",
            pk,
            sign_raw(&k, &raw(&backwards_media)),
            "receipt.invalid_event",
        ),
        invalid(
            "anchor-signed-by-another-key",
            pk,
            b2_foreign_anchor.sign(&k).unwrap().into_envelope_bytes(),
            "receipt.bad_anchor",
        ),
        invalid(
            "anchor-for-another-device",
            pk,
            b2_anchor_of_other_device
                .sign(&k)
                .unwrap()
                .into_envelope_bytes(),
            "receipt.bad_anchor",
        ),
    ]);

    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let all = [
        "genesis-sign-in",
        "lesson-opened-with-anchor",
        "active-study",
        "media-watched",
        "quiz-answered",
        "exam-submitted",
        "trainer-attested-attendance",
        "exam-started",
        "presence-prompt",
        "class-assigned",
        "learner-signed-out",
    ];
    let known = |seq: u64, id: ReceiptId| {
        Some(KnownHead {
            seq,
            id: id.to_hex(),
        })
    };
    let chains = vec![
        ChainCase {
            name: "complete".into(),
            receipts: names(&all[..7]),
            known_head: None,
            expect: "valid".into(),
        },
        ChainCase {
            name: "whole-day".into(),
            receipts: names(&all),
            known_head: None,
            expect: "valid".into(),
        },
        ChainCase {
            name: "withheld-third".into(),
            receipts: names(&[all[0], all[1], all[3], all[4]]),
            known_head: None,
            expect: "chain.gap".into(),
        },
        ChainCase {
            name: "reordered".into(),
            receipts: names(&[all[0], all[2], all[1]]),
            known_head: None,
            expect: "chain.out_of_order".into(),
        },
        ChainCase {
            name: "replayed".into(),
            receipts: names(&[all[0], all[1], all[1]]),
            known_head: None,
            expect: "chain.duplicate".into(),
        },
        ChainCase {
            name: "forked".into(),
            receipts: names(&[all[0], all[1], "fork-at-2"]),
            known_head: None,
            expect: "chain.fork".into(),
        },
        ChainCase {
            name: "fork-continued".into(),
            receipts: names(&[all[0], "fork-at-2", all[2]]),
            known_head: None,
            expect: "chain.broken_link".into(),
        },
        // Against the head the verifier already holds: receipts deleted from the tail, which no
        // link can show, and a known head that is not on this chain.
        ChainCase {
            name: "tail-deleted".into(),
            receipts: names(&all[..10]),
            known_head: known(11, r11.id()),
            expect: "chain.truncated".into(),
        },
        ChainCase {
            name: "whole-day-to-known-head".into(),
            receipts: names(&all),
            known_head: known(11, r11.id()),
            expect: "valid".into(),
        },
        ChainCase {
            name: "known-head-on-another-branch".into(),
            receipts: names(&all[..2]),
            known_head: known(2, fork_id),
            expect: "chain.fork".into(),
        },
    ];
    Vectors {
        about: "Hearth receipt envelope test vectors, format version 1. See docs/receipt-format.md. \
                Keys are Ed25519 from 32-byte seeds of 0x11 (device), 0x22 (service anchor), 0x33 (another device)."
            .into(),
        anchor_public_key: public(&service).to_hex(),
        envelopes,
        chains,
    }
}

/// Re-signs an envelope's body with another key (a forgery that keeps the claimed device).
trait Resign {
    fn tap_resign(self, key: &ring::signature::Ed25519KeyPair) -> Vec<u8>;
}

impl Resign for Vec<u8> {
    fn tap_resign(self, key: &ring::signature::Ed25519KeyPair) -> Vec<u8> {
        sign_raw(key, &self[65..])
    }
}

/// Envelope verification, then (as the service does) the anchor under the service's key.
fn verdict(
    case: &EnvelopeCase,
    anchor_key: &str,
) -> Result<hearth_protocol::VerifiedReceipt, String> {
    let key: PublicKey = case.public_key.parse().unwrap();
    let anchor_key: PublicKey = anchor_key.parse().unwrap();
    let r = Envelope::from_bytes(hex::decode(&case.envelope).unwrap())
        .verify(&key)
        .map_err(|e| e.code().to_string())?;
    if let Some(a) = &r.body().anchor {
        a.anchor
            .verify(&anchor_key, r.body().device)
            .map_err(|e| e.code().to_string())?;
    }
    Ok(r)
}

#[test]
fn vectors_file_matches_the_current_format() {
    let built = build();
    let json = serde_json::to_string_pretty(&built).unwrap() + "\n";
    if std::env::var_os("HEARTH_WRITE_VECTORS").is_some() {
        std::fs::create_dir_all(file().parent().unwrap()).unwrap();
        std::fs::write(file(), &json).unwrap();
    }
    let on_disk = std::fs::read_to_string(file()).expect("docs/test-vectors/receipts.json exists");
    assert_eq!(
        on_disk, json,
        "the published vectors differ from what this code signs: the format changed"
    );
}

/// The card sign-in vector's proof is the card's for its own chain position, and for no other.
#[test]
fn the_card_sign_in_vector_carries_the_cards_proof() {
    let vectors: Vectors = serde_json::from_str(&std::fs::read_to_string(file()).unwrap()).unwrap();
    let case = vectors
        .envelopes
        .iter()
        .find(|c| c.name == "card-sign-in")
        .unwrap();
    let b = case.body.as_ref().unwrap();
    let Event::LearnerSignedIn {
        method: SignInMethod::CardProved { serial, proof },
    } = b.event
    else {
        panic!("{:?}", b.event);
    };
    let holds = |seq: u64| {
        hearth_protocol::card::proof_matches(
            &CARD_SECRET,
            b.device,
            b.learner,
            serial,
            seq,
            b.prev,
            &proof,
        )
    };
    assert!(holds(b.seq));
    assert!(!holds(b.seq + 1));
}

#[test]
fn every_envelope_vector_gets_its_verdict() {
    let vectors: Vectors = serde_json::from_str(&std::fs::read_to_string(file()).unwrap()).unwrap();
    let mut codes_seen = std::collections::BTreeSet::new();
    for case in &vectors.envelopes {
        match verdict(case, &vectors.anchor_public_key) {
            Ok(r) => {
                assert_eq!(
                    case.expect, "valid",
                    "{}: verified but expected {}",
                    case.name, case.expect
                );
                assert_eq!(Some(r.id().to_hex()), case.id, "{}: id", case.name);
                assert_eq!(Some(r.body()), case.body.as_ref(), "{}: body", case.name);
            }
            Err(code) => {
                assert_eq!(code, case.expect, "{}", case.name);
                codes_seen.insert(code);
            }
        }
    }
    for code in hearth_protocol::RejectReason::ALL_CODES {
        assert!(codes_seen.contains(code), "no vector exercises {code}");
    }
    let mut kinds_seen = std::collections::BTreeSet::new();
    for case in vectors.envelopes.iter().filter_map(|c| c.body.as_ref()) {
        kinds_seen.insert(case.event.kind());
        if let Event::AttendanceCheck(AttendanceCheck::PresencePrompt { .. }) = case.event {
            kinds_seen.insert("presence_prompt");
        }
        if let Event::AttendanceCheck(AttendanceCheck::TrainerAttested { .. }) = case.event {
            kinds_seen.insert("trainer_attested");
        }
    }
    assert_eq!(
        kinds_seen.len(),
        11 + 2,
        "every event kind and both attendance checks have a valid vector: {kinds_seen:?}"
    );
}

#[test]
fn every_chain_vector_gets_its_verdict() {
    let vectors: Vectors = serde_json::from_str(&std::fs::read_to_string(file()).unwrap()).unwrap();
    for case in &vectors.chains {
        let links: Vec<_> = case
            .receipts
            .iter()
            .map(|name| {
                let env = vectors.envelopes.iter().find(|e| &e.name == name).unwrap();
                verdict(env, &vectors.anchor_public_key).unwrap().link()
            })
            .collect();
        let got = match &case.known_head {
            None => verify_chain(ChainHead::EMPTY, &links).map(|_| ()),
            Some(h) => verify_chain_to(
                ChainHead::EMPTY,
                &links,
                ChainHead {
                    seq: h.seq,
                    id: h.id.parse().unwrap(),
                },
            ),
        };
        let got = match got {
            Ok(()) => "valid".to_string(),
            Err(e) => e.code().to_string(),
        };
        assert_eq!(got, case.expect, "{}", case.name);
    }
}

/// The worked example of `earliest_real_time` in docs/receipt-format.md.
#[test]
fn earliest_real_time_worked_example() {
    let vectors: Vectors = serde_json::from_str(&std::fs::read_to_string(file()).unwrap()).unwrap();
    let body = |name: &str| {
        vectors
            .envelopes
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.body.as_ref())
            .unwrap()
    };
    let study = body("active-study");
    let a = study.anchor.unwrap();
    assert_eq!(a.anchor.issued_ms, 1_790_000_000_000);
    assert_eq!(
        a.received,
        MonoStamp {
            run: 1,
            elapsed_ms: 0
        }
    );
    assert_eq!(a.earliest_real_time(study.mono), 1_790_000_180_000);
    let prompt = body("presence-prompt");
    assert_eq!(
        prompt.anchor.unwrap().earliest_real_time(prompt.mono),
        1_790_000_540_000
    );
    let other_run = MonoStamp {
        run: 2,
        elapsed_ms: 5_000,
    };
    assert_eq!(a.earliest_real_time(other_run), 1_790_000_000_000);
    let mut late = a;
    late.received = MonoStamp {
        run: 1,
        elapsed_ms: 90_000,
    };
    assert_eq!(
        late.earliest_real_time(MonoStamp {
            run: 1,
            elapsed_ms: 30_000
        }),
        1_790_000_000_000
    );
    // Saturation: a difference beyond i64::MAX, and a sum beyond it.
    assert_eq!(
        a.earliest_real_time(MonoStamp {
            run: 1,
            elapsed_ms: u64::MAX
        }),
        i64::MAX
    );
}
