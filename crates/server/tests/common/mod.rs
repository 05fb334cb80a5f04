//! Shared test setup: a service on a temporary folder with a manual clock, seeded randomness and
//! the test-vector keys (anchor key from seed 0x22, as in docs/test-vectors/receipts.json), and a
//! small HTTP client.
#![allow(dead_code)]

pub mod console;
pub mod db;
pub mod lab;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hearth_protocol::wire::AnchorJson;
use hearth_protocol::wire::{BATCH_CONTENT_TYPE, EnrollRequest, EnrollResponse, encode_batch};
use hearth_protocol::{
    AnchorRef, DeviceId, Event, LearnerId, MonoStamp, PublicKey, ReceiptBody, ReceiptId,
};
use hearth_server::env::{ManualClock, SeededRandom};
use hearth_server::keys::Keys;
use hearth_server::store::Role;
use hearth_server::{Limits, Running, Service};
use ring::signature::{Ed25519KeyPair, KeyPair};
use uuid::Uuid;

pub const T0: i64 = 1_790_000_000_000;

pub fn key(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
}

pub fn public(k: &Ed25519KeyPair) -> PublicKey {
    PublicKey::from_slice(k.public_key().as_ref()).unwrap()
}

pub fn device_of(k: &Ed25519KeyPair) -> DeviceId {
    DeviceId::for_key(&public(k))
}

/// A device writing a chain of signed receipts in one person's name, as a client would.
/// Fields are open so a test can rewind or fork the chain on purpose.
pub struct ReceiptWriter {
    pub key: Ed25519KeyPair,
    pub seq: u64,
    pub prev: ReceiptId,
    pub anchor: Option<AnchorRef>,
    pub mono: MonoStamp,
    pub learner: LearnerId,
}

impl ReceiptWriter {
    /// A device with key `seed`, no time anchor yet, at monotonic time 0 of run 1.
    pub fn new(seed: u8, learner: LearnerId) -> Self {
        Self {
            key: key(seed),
            seq: 0,
            prev: ReceiptId::ZERO,
            anchor: None,
            mono: MonoStamp {
                run: 1,
                elapsed_ms: 0,
            },
            learner,
        }
    }

    /// Receipts from now on carry anchor `a`, received at the current monotonic time.
    pub fn take_anchor(&mut self, a: &AnchorJson) {
        self.anchor = Some(AnchorRef {
            anchor: a.to_anchor().unwrap(),
            received: self.mono,
        });
    }

    /// The next receipt, `after_ms` of monotonic time after the previous one.
    pub fn next(&mut self, after_ms: u64, event: Event) -> Vec<u8> {
        self.next_with_id(after_ms, event).0
    }

    /// Like [`next`](Self::next), with the receipt's id.
    pub fn next_with_id(&mut self, after_ms: u64, event: Event) -> (Vec<u8>, ReceiptId) {
        self.mono.elapsed_ms += after_ms;
        self.seq += 1;
        let r = ReceiptBody {
            device: device_of(&self.key),
            seq: self.seq,
            prev: self.prev,
            learner: self.learner,
            wall_ms: T0 + self.mono.elapsed_ms as i64,
            mono: self.mono,
            anchor: self.anchor,
            event,
        }
        .sign(&self.key)
        .unwrap();
        self.prev = r.id();
        (r.into_envelope_bytes(), self.prev)
    }
}

pub fn fixture_course() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo-course")
}

/// A service over the backend the run selects ([`db::test_store`]: SQLite in `dir`, or a fresh
/// PostgreSQL schema when `HEARTH_TEST_DATABASE` is set).
pub fn open_service(dir: &Path, clock: Arc<ManualClock>, seed: u64) -> Service {
    let store = db::test_store(dir);
    std::fs::create_dir_all(dir.join("blobs")).unwrap();
    Service::with_parts(
        store,
        clock,
        Arc::new(SeededRandom::new(seed)),
        Keys::from_seeds([0x22; 32], [0x44; 32], [0x55; 32]),
        dir.join("blobs"),
    )
}

/// Two organisations with people, and a running service.
pub struct World {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub svc: Service,
    pub server: Option<Running>,
    pub org_a: Uuid,
    pub org_b: Uuid,
    pub admin_a: String,
    pub admin_b: String,
    pub trainer_a: String,
    pub trainer_a_id: Uuid,
    pub other_trainer_a: String,
    pub class_a: Uuid,
    pub learner_a1: LearnerId,
    pub learner_a2: LearnerId,
    pub learner_b1: LearnerId,
    pub http: reqwest::Client,
}

impl World {
    pub async fn new() -> Self {
        // reqwest is built without a TLS provider of its own; plain HTTP is all tests use.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let svc = open_service(dir.path(), clock.clone(), 7);
        let org_a = svc.create_org("Village centre A").unwrap().id;
        let org_b = svc.create_org("Town school B").unwrap().id;
        let (_, admin_a) = svc.add_user(org_a, Role::Admin, "Admin A").unwrap();
        let (_, admin_b) = svc.add_user(org_b, Role::Admin, "Admin B").unwrap();
        let (t, trainer_a) = svc.add_user(org_a, Role::Trainer, "王老师").unwrap();
        let (_, other_trainer_a) = svc.add_user(org_a, Role::Trainer, "李老师").unwrap();
        let class_a = svc.add_class(t.id, "电工一班").unwrap().id;
        let learner_a1 = svc
            .add_learner(
                org_a,
                "张三",
                "11010519491231002X",
                Some(class_a),
                Some("1234"),
            )
            .unwrap()
            .id;
        let learner_a2 = svc
            .add_learner(org_a, "李四", "110105194912310037", None, None)
            .unwrap()
            .id;
        let learner_b1 = svc
            .add_learner(org_b, "王五", "110105194912310045", None, None)
            .unwrap()
            .id;
        let mut w = World {
            dir,
            clock,
            svc,
            server: None,
            org_a,
            org_b,
            admin_a,
            admin_b,
            trainer_a,
            trainer_a_id: t.id,
            other_trainer_a,
            class_a,
            learner_a1,
            learner_a2,
            learner_b1,
            http: reqwest::Client::new(),
        };
        w.start().await;
        w
    }

    pub async fn start(&mut self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.server =
            Some(hearth_server::spawn(listener, self.svc.clone(), Limits::default()).unwrap());
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await.unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.as_ref().unwrap().url(path)
    }

    pub async fn enroll(
        &self,
        org: Uuid,
        learner: Option<LearnerId>,
        k: &Ed25519KeyPair,
    ) -> EnrollResponse {
        let code = self.svc.issue_enrollment_code(org, learner, None).unwrap();
        self.redeem(code, k).await
    }

    /// Enrolls a kiosk of `org` serving `classes`.
    pub async fn enroll_kiosk(
        &self,
        org: Uuid,
        classes: &[Uuid],
        k: &Ed25519KeyPair,
    ) -> EnrollResponse {
        let code = self.svc.issue_kiosk_code(org, classes, None).unwrap().code;
        self.redeem(code, k).await
    }

    async fn redeem(&self, code: String, k: &Ed25519KeyPair) -> EnrollResponse {
        let res = self
            .http
            .post(self.url("/v1/enroll"))
            .json(&EnrollRequest {
                code,
                public_key: public(k),
                device_id: device_of(k),
                label: Some("test".into()),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "enroll: {}", res.text().await.unwrap());
        res.json().await.unwrap()
    }

    /// Uploads envelopes as one zstd-compressed batch; returns status and JSON body.
    pub async fn upload(&self, token: &str, envelopes: &[Vec<u8>]) -> (u16, serde_json::Value) {
        let body = zstd::encode_all(&encode_batch(envelopes)[..], 3).unwrap();
        self.post_raw(
            "/v1/sync/receipts",
            token,
            BATCH_CONTENT_TYPE,
            Some("zstd"),
            body,
        )
        .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        encoding: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body);
        if let Some(e) = encoding {
            req = req.header("content-encoding", e);
        }
        let res = match req.send().await {
            Ok(res) => res,
            // The service may answer an oversize body (413) and close the connection while the
            // client is still writing it; the client then sees the write fail instead of the
            // answer. That is the service refusing the body early, which is what a limit is for:
            // report it as the refusal it is.
            Err(e) if e.is_request() && is_cut_while_writing(&e) => {
                return (
                    413,
                    serde_json::json!({
                        "code": "request.too_large",
                        "message": "the service closed the connection while the body was written",
                        "cutWhileWriting": true
                    }),
                );
            }
            Err(e) => panic!("POST {path}: {e:?}"),
        };
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    pub async fn assert_serving(&self) {
        let res = self.http.get(self.url("/v1/health")).send().await.unwrap();
        assert_eq!(res.status(), 200, "the service must still be serving");
    }
}

pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Whether a request failed because the connection was closed while its body was being written
/// (broken pipe or reset): the server stopped reading it.
fn is_cut_while_writing(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            );
        }
        source = err.source();
    }
    false
}
