//! One sync round against an in-memory service that verifies and places receipts with the
//! protocol's own rules, with the network failing where the test says.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use hearth_core::sync::{ReceiptOutcome, SyncTransport, TransportError, UploadOutcome, sync_round};
use hearth_core::{Env, Hearth};
use hearth_protocol::chain::place;
use hearth_protocol::{
    ChainHead, CourseId, Envelope, Event, LessonId, Placement, PublicKey, ReceiptId, TimeAnchor,
};
use ring::signature::{Ed25519KeyPair, KeyPair};

struct MemoryService {
    key: Ed25519KeyPair,
    device_key: PublicKey,
    chain: Mutex<(ChainHead, BTreeMap<u64, ReceiptId>)>,
    stored: AtomicU32,
    /// Upload calls left before the answer is lost (after storing).
    lose_answer_on_call: Option<u32>,
    calls: AtomicU32,
    offline: std::sync::atomic::AtomicBool,
}

impl MemoryService {
    fn new(device_key: PublicKey) -> Self {
        Self {
            key: Ed25519KeyPair::from_seed_unchecked(&[0x22; 32]).unwrap(),
            device_key,
            chain: Mutex::new((ChainHead::EMPTY, BTreeMap::new())),
            stored: AtomicU32::new(0),
            lose_answer_on_call: None,
            calls: AtomicU32::new(0),
            offline: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn public(&self) -> PublicKey {
        PublicKey::from_slice(self.key.public_key().as_ref()).unwrap()
    }
}

impl SyncTransport for MemoryService {
    async fn time_anchor(&self) -> Result<TimeAnchor, TransportError> {
        if self.offline.load(Ordering::SeqCst) {
            return Err(TransportError::Unreachable("connection refused".into()));
        }
        Ok(TimeAnchor::issue(
            &self.key,
            hearth_protocol::DeviceId::for_key(&self.device_key),
            1_790_000_000_000,
        ))
    }

    async fn upload(&self, envelopes: Vec<Vec<u8>>) -> Result<UploadOutcome, TransportError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.chain.lock().unwrap();
        let (head, held) = &mut *guard;
        let mut results = Vec::new();
        for bytes in envelopes {
            let r = match Envelope::from_bytes(bytes).verify(&self.device_key) {
                Ok(r) => r,
                Err(e) => {
                    results.push(ReceiptOutcome::Rejected {
                        code: e.code().into(),
                    });
                    continue;
                }
            };
            let link = r.link();
            results.push(match place(*head, &link, |seq| held.get(&seq).copied()) {
                Placement::Extends => {
                    held.insert(link.seq, link.id);
                    *head = head.advanced(&link);
                    self.stored.fetch_add(1, Ordering::SeqCst);
                    ReceiptOutcome::Accepted
                }
                Placement::Duplicate => ReceiptOutcome::Duplicate,
                Placement::Gap { .. } => ReceiptOutcome::Pending,
                Placement::Fork { .. } => ReceiptOutcome::Rejected {
                    code: "chain.fork".into(),
                },
            });
        }
        if self.lose_answer_on_call == Some(call) {
            return Err(TransportError::Unreachable(
                "connection reset after the upload".into(),
            ));
        }
        Ok(UploadOutcome {
            results,
            acked: *head,
        })
    }
}

fn ledger_with(receipts: u32) -> (tempfile::TempDir, Mutex<Hearth>) {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Hearth::open(dir.path(), Env::deterministic(1_790_000_000_000, 5).0).unwrap();
    let l = h.add_learner("孙丽").unwrap();
    for i in 0..receipts {
        let lesson = LessonId::new(format!("l{}", i % 4)).unwrap();
        h.record(
            l.id,
            Event::LessonOpened {
                course: CourseId::new("c").unwrap(),
                lesson,
            },
        )
        .unwrap();
    }
    (dir, Mutex::new(h))
}

#[tokio::test]
async fn a_round_sends_everything_in_batches_and_empties_the_outbox() {
    let (_dir, hearth) = ledger_with(25);
    let service = MemoryService::new(hearth.lock().unwrap().device().public_key);
    let report = sync_round(&hearth, &service, &service.public(), 10)
        .await
        .unwrap();
    assert_eq!((report.batches, report.sent, report.accepted), (3, 25, 25));
    assert_eq!((report.acked_seq, report.left), (25, 0));
    assert!(hearth.lock().unwrap().outbox(0, 100).unwrap().is_empty());

    let again = sync_round(&hearth, &service, &service.public(), 10)
        .await
        .unwrap();
    assert_eq!(again.sent, 0, "nothing acknowledged is sent again");
}

#[tokio::test]
async fn a_lost_answer_is_retried_and_counted_once() {
    let (_dir, hearth) = ledger_with(25);
    let mut service = MemoryService::new(hearth.lock().unwrap().device().public_key);
    service.lose_answer_on_call = Some(1); // the second batch is stored, but its answer is lost
    let err = sync_round(&hearth, &service, &service.public(), 10)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "sync.offline");
    assert_eq!(
        hearth.lock().unwrap().ledger_status().unwrap().acked_seq,
        10,
        "only what was answered is marked"
    );

    let report = sync_round(&hearth, &service, &service.public(), 10)
        .await
        .unwrap();
    assert_eq!(
        (report.duplicates, report.accepted, report.left),
        (10, 5, 0)
    );
    assert_eq!(
        service.stored.load(Ordering::SeqCst),
        25,
        "every receipt stored exactly once"
    );
}

#[tokio::test]
async fn offline_changes_nothing() {
    let (_dir, hearth) = ledger_with(3);
    let service = MemoryService::new(hearth.lock().unwrap().device().public_key);
    service.offline.store(true, Ordering::SeqCst);
    let err = sync_round(&hearth, &service, &service.public(), 10)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "sync.offline");
    assert_eq!(hearth.lock().unwrap().ledger_status().unwrap().pending, 3);
}

#[tokio::test]
async fn an_anchor_from_another_key_is_refused() {
    let (_dir, hearth) = ledger_with(1);
    let service = MemoryService::new(hearth.lock().unwrap().device().public_key);
    let wrong = PublicKey([1; 32]);
    let err = sync_round(&hearth, &service, &wrong, 10).await.unwrap_err();
    assert_eq!(err.code(), "receipt.bad_anchor");
    assert_eq!(
        service.calls.load(Ordering::SeqCst),
        0,
        "nothing is uploaded to a service that cannot prove itself"
    );
}

#[tokio::test(start_paused = true)]
async fn the_loop_syncs_on_triggers_backs_off_offline_and_reports_status() {
    use hearth_core::sync::schedule::Trigger;
    use hearth_core::sync::{LoopConfig, run_loop};
    use std::sync::Arc;

    let (_dir, hearth) = ledger_with(5);
    let hearth = Arc::new(hearth);
    let service = Arc::new(MemoryService::new(
        hearth.lock().unwrap().device().public_key,
    ));
    service.offline.store(true, Ordering::SeqCst);
    let (trigger, triggers) = tokio::sync::mpsc::channel(8);
    let (status_tx, mut status) = tokio::sync::watch::channel(Default::default());
    let key = service.public();
    let task = tokio::spawn(run_loop(
        hearth.clone(),
        SharedTransport(service.clone()),
        key,
        LoopConfig::default(),
        triggers,
        status_tx,
    ));

    trigger.send(Trigger::Start).await.unwrap();
    let s = status
        .wait_for(|s| s.online.is_some() && !s.syncing)
        .await
        .unwrap()
        .clone();
    assert_eq!(s.online, Some(false));
    assert_eq!(
        s.last_error.as_ref().map(|e| e.code.as_str()),
        Some("sync.offline")
    );
    assert_eq!(s.pending, 5);

    service.offline.store(false, Ordering::SeqCst);
    trigger.send(Trigger::ConnectivityRestored).await.unwrap();
    let s = status
        .wait_for(|s| s.online == Some(true) && !s.syncing)
        .await
        .unwrap()
        .clone();
    assert_eq!((s.pending, s.last_error.is_none()), (0, true), "{s:?}");
    assert!(s.last_success_ms.is_some());

    // A new receipt is synced after the debounce, without anyone asking.
    {
        let mut h = hearth.lock().unwrap();
        let l = h.learners().unwrap()[0].id;
        h.record(
            l,
            Event::LessonCompleted {
                course: CourseId::new("c").unwrap(),
                lesson: LessonId::new("l1").unwrap(),
            },
        )
        .unwrap();
    }
    trigger.send(Trigger::NewReceipt).await.unwrap();
    status
        .wait_for(|s| {
            s.last_success_ms.is_some()
                && s.pending == 0
                && !s.syncing
                && service.stored.load(Ordering::SeqCst) == 6
        })
        .await
        .unwrap();

    drop(trigger);
    task.await.unwrap();
}

/// Shares one in-memory service between the loop and the test.
struct SharedTransport(std::sync::Arc<MemoryService>);

impl SyncTransport for SharedTransport {
    async fn time_anchor(&self) -> Result<TimeAnchor, TransportError> {
        self.0.time_anchor().await
    }
    async fn upload(&self, envelopes: Vec<Vec<u8>>) -> Result<UploadOutcome, TransportError> {
        self.0.upload(envelopes).await
    }
}
