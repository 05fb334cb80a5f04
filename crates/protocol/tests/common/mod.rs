//! Builders shared by the protocol's integration tests.
#![allow(dead_code)]

use hearth_protocol::receipt::{FORMAT_VERSION, SIGNING_DOMAIN};
use hearth_protocol::{
    AnchorRef, CourseId, DeviceId, Event, LearnerId, LessonId, MonoStamp, PublicKey, ReceiptBody,
    ReceiptId, TimeAnchor, VerifiedReceipt,
};
use ring::signature::{Ed25519KeyPair, KeyPair};

pub fn key(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
}

pub fn public(key: &Ed25519KeyPair) -> PublicKey {
    PublicKey::from_slice(key.public_key().as_ref()).unwrap()
}

pub fn device_of(key: &Ed25519KeyPair) -> DeviceId {
    DeviceId::for_key(&public(key))
}

pub fn learner(n: u8) -> LearnerId {
    LearnerId::from_random_bytes([n; 16])
}

pub fn course() -> CourseId {
    CourseId::new("electrician-safety").unwrap()
}

pub fn lesson(n: u32) -> LessonId {
    LessonId::new(format!("lesson-{n}")).unwrap()
}

/// Signs arbitrary body bytes as a version-1 envelope, bypassing every check `ReceiptBody::sign`
/// makes: how a hostile or broken device could produce envelopes.
pub fn sign_raw(key: &Ed25519KeyPair, body: &[u8]) -> Vec<u8> {
    let mut msg = SIGNING_DOMAIN.to_vec();
    msg.extend_from_slice(body);
    let mut out = vec![FORMAT_VERSION];
    out.extend_from_slice(key.sign(&msg).as_ref());
    out.extend_from_slice(body);
    out
}

pub fn body(key: &Ed25519KeyPair, seq: u64, prev: ReceiptId, event: Event) -> ReceiptBody {
    ReceiptBody {
        device: device_of(key),
        seq,
        prev,
        learner: learner(1),
        wall_ms: 1_790_000_000_000 + seq as i64 * 60_000,
        mono: MonoStamp {
            run: 1,
            elapsed_ms: seq * 60_000,
        },
        anchor: None,
        event,
    }
}

pub fn anchor_for(device: DeviceId, service: &Ed25519KeyPair) -> AnchorRef {
    AnchorRef {
        anchor: TimeAnchor::issue(service, device, 1_790_000_000_000),
        received: MonoStamp {
            run: 1,
            elapsed_ms: 0,
        },
    }
}

/// A valid chain of `events.len()` receipts signed by `key`.
pub fn chain(key: &Ed25519KeyPair, events: Vec<Event>) -> Vec<VerifiedReceipt> {
    let mut prev = ReceiptId::ZERO;
    let mut out = Vec::new();
    for (i, event) in events.into_iter().enumerate() {
        let r = body(key, i as u64 + 1, prev, event).sign(key).unwrap();
        prev = r.id();
        out.push(r);
    }
    out
}
