//! Bytes on the wire per receipt for an upload batch of realistic receipts, zstd-compressed as
//! the service accepts them (a later issue targets at most 120 bytes per receipt at batch ≥ 100).

mod common;

use common::*;
use hearth_protocol::wire::{decode_batch, encode_batch};
use hearth_protocol::{
    AnchorRef, CourseId, Event, LearnerId, LessonId, MonoStamp, ReceiptBody, ReceiptId, TimeAnchor,
};

#[test]
fn a_compressed_batch_of_100_stays_under_120_bytes_per_receipt() {
    let k = key(0x11);
    let dev = device_of(&k);
    let anchor = AnchorRef {
        anchor: TimeAnchor::issue(&key(0x22), dev, T0),
        received: MonoStamp {
            run: 1,
            elapsed_ms: 0,
        },
    };
    let mut prev = ReceiptId::ZERO;
    let mut envs = Vec::new();
    for seq in 1..=100u64 {
        let event = match seq % 3 {
            0 => Event::LessonOpened {
                course: CourseId::new("electrician-safety").unwrap(),
                lesson: LessonId::new(format!("lesson-{}", seq / 10)).unwrap(),
            },
            _ => Event::ActiveStudy {
                course: CourseId::new("electrician-safety").unwrap(),
                lesson: LessonId::new(format!("lesson-{}", seq / 10)).unwrap(),
                active_ms: 30_000 + (seq as u32 * 37) % 1000,
            },
        };
        let r = ReceiptBody {
            device: dev,
            seq,
            prev,
            learner: LearnerId::from_random_bytes([1; 16]),
            wall_ms: T0 + seq as i64 * 31_234,
            mono: MonoStamp {
                run: 1,
                elapsed_ms: seq * 31_234,
            },
            anchor: Some(anchor),
            event,
        }
        .sign(&k)
        .unwrap();
        prev = r.id();
        envs.push(r.into_envelope_bytes());
    }
    let raw: usize = envs.iter().map(|e| e.len()).sum();
    let batch = encode_batch(&envs);
    assert_eq!(decode_batch(&batch).unwrap(), envs);
    let wire = zstd::encode_all(&batch[..], 3).unwrap();
    let per = wire.len() as f64 / 100.0;
    println!(
        "raw {} B/receipt, batch {} B/receipt, zstd {per:.1} B/receipt",
        raw / 100,
        batch.len() / 100
    );
    assert!(per <= 120.0, "{per} bytes per receipt");
}
