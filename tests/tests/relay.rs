//! Receipts by USB and by kiosk relay, with the real service and the `hearth` CLI: two learners'
//! devices and one classroom kiosk converge to the same service state whichever way each receipt
//! travels, a carrier cannot alter a receipt, a kiosk of another organisation cannot relay, and
//! nothing is ever counted twice.

use std::path::Path;

use hearth_core::sync::http::HttpTransport;
use hearth_core::{Env, Hearth};
use hearth_e2e::service::{Service, hearth_cli};
use hearth_protocol::{CourseId, Event, LessonId};

fn hearth(data: &Path, args: &[&str]) -> serde_json::Value {
    let out = hearth_cli(data, &[&["--json"], args].concat()).unwrap();
    serde_json::from_str(&out).unwrap_or(serde_json::Value::Null)
}

fn record(data: &Path, n: u32) {
    let mut h = Hearth::open(data, Env::system()).unwrap();
    let me = h.enrollment().unwrap().unwrap().owner.unwrap();
    assert_eq!(h.at_keyboard(), Some(me), "enrolling signed its learner in");
    for i in 0..n {
        let lesson = LessonId::new(format!("lesson-{}", i % 3 + 1)).unwrap();
        h.record(Event::LessonOpened {
            course: CourseId::new("electrician-safety").unwrap(),
            lesson,
        })
        .unwrap();
    }
}

/// The service's acknowledged head for a device, asked with the device's own credential, and the
/// device's own head.
async fn heads(data: &Path) -> ((u64, String), (u64, String), u64) {
    let h = Hearth::open(data, Env::system()).unwrap();
    let local = h.verify_ledger().unwrap();
    let remote = HttpTransport::new(&h.enrollment().unwrap().unwrap())
        .unwrap()
        .state()
        .await
        .unwrap();
    (
        (remote.head.seq, remote.head.id.to_hex()),
        (local.seq, local.id.to_hex()),
        remote.pending,
    )
}

fn letters(answer: &serde_json::Value, section: usize) -> String {
    answer["sections"][section]["results"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_and_a_kiosk_relay_converge() {
    let service = Service::start().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (kiosk, usb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let url = service.url();
    for (dir, learner) in [
        (a.path(), Some(("王小明", "110101199003071234"))),
        (b.path(), Some(("李娟", "11010119920512123X"))),
        (kiosk.path(), None),
    ] {
        let id = learner.map(|(name, nid)| service.add_learner(name, nid).unwrap());
        let code = service.enrollment_code(id.as_deref()).unwrap();
        hearth(dir, &["enroll", "--service", &url, "--code", &code]);
    }

    // A studies offline; B syncs part of its study directly, then studies more offline. (Each
    // ledger starts with the sign-in enrolling recorded: 1 + 19 and 1 + 14.)
    record(a.path(), 19);
    record(b.path(), 14);
    hearth(b.path(), &["sync"]);
    record(b.path(), 10);

    // Both write their unacknowledged receipts to the USB stick.
    let (file_a, file_b) = (usb.path().join("a.hrx"), usb.path().join("b.hrx"));
    assert_eq!(
        hearth(
            a.path(),
            &["export-receipts", "--to", file_a.to_str().unwrap()]
        )["receipts"],
        20
    );
    assert_eq!(
        hearth(
            b.path(),
            &["export-receipts", "--to", file_b.to_str().unwrap()]
        )["receipts"],
        10
    );

    // A carrier flips one byte of A's 5th receipt: that receipt is refused, the ones after it
    // wait for it, and nothing altered is stored.
    let mut bytes = std::fs::read(&file_a).unwrap();
    let sections = hearth_protocol::bundle::decode_bundle(&bytes).unwrap();
    let fifth = &sections[0].envelopes[4];
    let at = bytes
        .windows(16)
        .position(|w| w == &fifth[1..17])
        .expect("the 5th signature is in the file");
    bytes[at] ^= 0x01;
    let tampered = usb.path().join("tampered.hrx");
    std::fs::write(&tampered, &bytes).unwrap();
    let answer = hearth(kiosk.path(), &["relay", tampered.to_str().unwrap()]);
    assert_eq!(
        letters(&answer, 0),
        format!("AAAAR{}", "P".repeat(15)),
        "{answer}"
    );
    assert_eq!(
        answer["sections"][0]["rejections"][0]["code"],
        "receipt.bad_signature"
    );

    // The real file fills the hole: everything from A is in, once.
    let answer = hearth(kiosk.path(), &["relay", file_a.to_str().unwrap()]);
    assert_eq!(
        letters(&answer, 0),
        format!("DDDDA{}", "D".repeat(15)),
        "{answer}"
    );
    assert_eq!(answer["sections"][0]["head"]["seq"], 20);

    // B's offline receipts by relay; then the same file imported by an administrator: duplicates.
    let answer = hearth(kiosk.path(), &["relay", file_b.to_str().unwrap()]);
    assert_eq!(letters(&answer, 0), "A".repeat(10));
    let imported = service
        .admin(&["import-receipts", file_b.to_str().unwrap()])
        .unwrap();
    let imported: serde_json::Value = serde_json::from_str(&imported).unwrap();
    assert_eq!(
        (
            imported["duplicates"].as_u64(),
            imported["accepted"].as_u64()
        ),
        (Some(10), Some(0))
    );

    // A kiosk of another organisation may not carry these devices' receipts.
    let other_org = service.admin(&["create-org", "另一个培训中心"]).unwrap();
    let stranger = tempfile::tempdir().unwrap();
    let code = service.admin(&["issue-code", "--org", &other_org]).unwrap();
    hearth(
        stranger.path(),
        &["enroll", "--service", &url, "--code", &code],
    );
    let answer = hearth(stranger.path(), &["relay", file_a.to_str().unwrap()]);
    // Answered like an unknown device, so a carrier learns nothing of other organisations.
    assert_eq!(answer["sections"][0]["code"], "device.unknown");

    // Direct syncs afterwards learn from the sync state that the service holds what the
    // devices still have (it came by relay): nothing is sent again, and every outbox is empty.
    let sync_a = hearth(a.path(), &["sync"]);
    assert_eq!(
        (
            sync_a["resumed"].as_u64(),
            sync_a["sent"].as_u64(),
            sync_a["left"].as_u64()
        ),
        (Some(20), Some(0), Some(0))
    );
    let sync_b = hearth(b.path(), &["sync"]);
    assert_eq!(
        (
            sync_b["resumed"].as_u64(),
            sync_b["sent"].as_u64(),
            sync_b["left"].as_u64()
        ),
        (Some(10), Some(0), Some(0))
    );
    for dir in [a.path(), b.path()] {
        let (remote, local, pending) = heads(dir).await;
        assert_eq!(
            remote, local,
            "the service holds the device's whole chain, ending where the device's does"
        );
        assert_eq!(pending, 0);
    }
    let (kiosk_remote, _, _) = heads(kiosk.path()).await;
    assert_eq!(
        kiosk_remote.0, 0,
        "relaying adds nothing to the kiosk's own chain"
    );
}
