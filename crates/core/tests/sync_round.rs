//! One sync round against an in-memory service that verifies and places receipts with the
//! protocol's own rules, with the network failing where the test says.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use hearth_core::sync::{ReceiptOutcome, SyncTransport, TransportError, UploadOutcome, sync_round};
use hearth_core::{Env, Hearth, ManualClock};
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
    /// Whether the sync state tells the device its acknowledged head (as the real service does).
    tells_head: bool,
    /// Uploads of more receipts than this get a 408 (the link cannot carry them in time).
    timeout_above: Option<usize>,
    /// Sizes of the uploads asked, in order (failed ones too).
    asked: Mutex<Vec<usize>>,
    /// Upload calls that reset before reaching the service.
    reset_on_calls: Vec<u32>,
    /// A simulated link: the device's clock and the bytes per millisecond the link carries.
    /// An upload moves the clock by the time its bytes take; one that would take more than
    /// 60 s gets a 408 after 60 s, as from the real service.
    link: Option<(std::sync::Arc<ManualClock>, f64)>,
    /// How long each upload took on the simulated link (ms).
    took: Mutex<Vec<u64>>,
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
            tells_head: false,
            timeout_above: None,
            asked: Mutex::new(Vec::new()),
            reset_on_calls: Vec::new(),
            link: None,
            took: Mutex::new(Vec::new()),
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

    fn acked_head(&self) -> Option<ChainHead> {
        self.tells_head.then(|| self.chain.lock().unwrap().0)
    }

    async fn upload(&self, envelopes: Vec<Vec<u8>>) -> Result<UploadOutcome, TransportError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        self.asked.lock().unwrap().push(envelopes.len());
        if let Some((clock, rate)) = &self.link {
            let bytes: usize = envelopes.iter().map(Vec::len).sum();
            let ms = (bytes as f64 / rate) as u64;
            clock.advance(ms.min(60_000));
            self.took.lock().unwrap().push(ms);
            if ms > 60_000 {
                return Err(TransportError::TimedOut("408".into()));
            }
        }
        if self.timeout_above.is_some_and(|n| envelopes.len() > n) {
            return Err(TransportError::TimedOut("408".into()));
        }
        if self.reset_on_calls.contains(&call) {
            return Err(TransportError::Interrupted("connection reset".into()));
        }
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
    let (dir, h, _) = ledger_with_clock(receipts);
    (dir, h)
}

fn ledger_with_clock(
    receipts: u32,
) -> (
    tempfile::TempDir,
    Mutex<Hearth>,
    std::sync::Arc<ManualClock>,
) {
    let dir = tempfile::tempdir().unwrap();
    let (env, clock) = Env::deterministic(1_790_000_000_000, 5);
    let mut h = Hearth::open(dir.path(), env).unwrap();
    let l = h.add_learner("孙丽").unwrap();
    if receipts > 0 {
        h.sign_in(l.id).unwrap();
    }
    for i in 1..receipts {
        let lesson = LessonId::new(format!("l{}", i % 4)).unwrap();
        h.record(Event::LessonOpened {
            course: CourseId::new("c").unwrap(),
            lesson,
        })
        .unwrap();
    }
    (dir, Mutex::new(h), clock)
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
async fn the_next_round_resumes_from_the_services_head_instead_of_sending_again() {
    let (_dir, hearth) = ledger_with(25);
    let mut service = MemoryService::new(hearth.lock().unwrap().device().public_key);
    service.tells_head = true;
    service.lose_answer_on_call = Some(1);
    let err = sync_round(&hearth, &service, &service.public(), 10)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "sync.offline");
    let report = sync_round(&hearth, &service, &service.public(), 10)
        .await
        .unwrap();
    assert_eq!(
        (report.resumed, report.duplicates, report.sent, report.left),
        (10, 0, 5, 0),
        "the batch the service stored is dropped from the outbox, not sent again"
    );
    assert_eq!(service.stored.load(Ordering::SeqCst), 25);
}

#[tokio::test(start_paused = true)]
async fn one_round_retries_through_cuts_and_resumes_from_the_head() {
    use hearth_core::sync::{RoundOptions, sync_round_with};
    let (_dir, hearth) = ledger_with(60);
    let mut service = MemoryService::new(hearth.lock().unwrap().device().public_key);
    service.tells_head = true;
    service.lose_answer_on_call = Some(0); // stored, answer cut
    service.reset_on_calls = vec![1, 2]; // cut before the service, twice in a row
    let mut options = RoundOptions::default();
    let report = sync_round_with(&hearth, &service, &service.public(), &mut options)
        .await
        .unwrap();
    assert_eq!(report.left, 0);
    assert_eq!(report.retries, 3);
    assert_eq!(report.duplicates, 0, "nothing stored is sent again");
    assert_eq!(service.stored.load(Ordering::SeqCst), 60);
    let asked = service.asked.lock().unwrap().clone();
    // 50 stored but unanswered (the batch halves to 25); the sync state says so, and only
    // the 10 left are sent, cut twice (12, then 6), then sent in two batches.
    assert_eq!(asked, [50, 10, 10, 6, 4], "{asked:?}");
    assert_eq!(report.resumed, 50);
}

#[tokio::test(start_paused = true)]
async fn a_408_shrinks_the_batch_until_it_fits() {
    use hearth_core::sync::{RoundOptions, sync_round_with};
    let (_dir, hearth) = ledger_with(40);
    let mut service = MemoryService::new(hearth.lock().unwrap().device().public_key);
    service.tells_head = true;
    service.timeout_above = Some(12);
    let mut options = RoundOptions::default();
    let report = sync_round_with(&hearth, &service, &service.public(), &mut options)
        .await
        .unwrap();
    assert_eq!((report.left, report.accepted), (0, 40));
    let asked = service.asked.lock().unwrap().clone();
    assert_eq!(asked[..2], [40, 12], "a 408 quarters the batch: {asked:?}");

    // Over a simulated 4 kbit/s link, starting from the old fixed 500: one 408, then batches
    // that each take well under the service's 60 s.
    let (_dir, hearth, clock) = ledger_with_clock(600);
    let mut service = MemoryService::new(hearth.lock().unwrap().device().public_key);
    service.tells_head = true;
    service.link = Some((clock.clone(), 0.5));
    let mut options = RoundOptions {
        batch: hearth_core::sync::batch::BatchSizer::new(hearth_core::sync::batch::BatchConfig {
            start: 500,
            ..Default::default()
        }),
        ..Default::default()
    };
    let report = sync_round_with(&hearth, &service, &service.public(), &mut options)
        .await
        .unwrap();
    assert_eq!((report.left, report.accepted, report.retries), (0, 600, 1));
    let asked = service.asked.lock().unwrap().clone();
    assert_eq!(asked[0], 500, "{asked:?}");
    let took = service.took.lock().unwrap().clone();
    assert!(took[0] > 60_000, "{took:?}");
    assert!(
        took[1..].iter().all(|ms| *ms < 30_000),
        "every batch after the 408 takes under 30 s: {asked:?} {took:?}"
    );
    eprintln!("4 kbit/s simulated: batches {asked:?}, ms {took:?}");

    // A service that keeps answering 408 ends the round with its own code, not "offline".
    let (_dir, hearth) = ledger_with(40);
    let mut service = MemoryService::new(hearth.lock().unwrap().device().public_key);
    service.timeout_above = Some(0);
    let err = sync_round_with(
        &hearth,
        &service,
        &service.public(),
        &mut RoundOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "sync.timeout");
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
        h.record(Event::LessonCompleted {
            course: CourseId::new("c").unwrap(),
            lesson: LessonId::new("l1").unwrap(),
        })
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
