//! The sync fault suite: the real `hearth-server` binary, a client (in-process hearth-core over
//! HTTP, and the `hearth` CLI as a separate process), and a fault proxy between them. Each seeded
//! scenario records new receipts, then syncs through one fault: the connection closed or reset at
//! a random byte in either direction, a stall, a delay, an injected 5xx, the service killed and
//! restarted mid-sync, or the client process killed mid-sync. After each scenario a clean sync
//! must leave the outbox empty and the service holding the device's whole chain, ending at the
//! same receipt as the client's.
//!
//! `HEARTH_FAULT_SCENARIOS` sets how many scenarios run (200 by default in `make test`; the full
//! set is 1000: `HEARTH_FAULT_SCENARIOS=1000 cargo test -p hearth-e2e --test sync_faults`).
//! `HEARTH_FAULT_SEED` changes the seed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_core::sync::http::{HttpTransport, enroll};
use hearth_core::sync::sync_round;
use hearth_core::{Env, Hearth};
use hearth_e2e::proxy::{Direction, Fault, FaultProxy};
use hearth_e2e::service::{Service, binaries};
use hearth_protocol::{CourseId, Event, LessonId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Clone, Copy)]
enum Scenario {
    Network(Fault),
    /// The service is killed (SIGKILL) `after` into a sync, then restarted.
    ServiceRestart {
        after: Duration,
    },
    /// The client process (`hearth sync`) is killed `after` into its run.
    ClientKill {
        after: Duration,
    },
}

impl Scenario {
    fn kind(&self) -> &'static str {
        match self {
            Scenario::Network(Fault::Pass) => "pass",
            Scenario::Network(Fault::Close { .. }) => "close",
            Scenario::Network(Fault::Reset { .. }) => "reset",
            Scenario::Network(Fault::Stall { .. }) => "stall",
            Scenario::Network(Fault::Delay { .. }) => "delay",
            Scenario::Network(Fault::HttpStatus { .. }) => "http-5xx",
            Scenario::ServiceRestart { .. } => "service-restart",
            Scenario::ClientKill { .. } => "client-kill",
        }
    }
}

fn pick(rng: &mut ChaCha8Rng) -> Scenario {
    // Offsets within what a round sends: a state request and a few small compressed batches up
    // (a few hundred bytes each), JSON answers down.
    let (dir, after) = if rng.random_bool(0.5) {
        (Direction::Up, rng.random_range(0..900))
    } else {
        (Direction::Down, rng.random_range(0..700))
    };
    match rng.random_range(0..10) {
        0 => Scenario::Network(Fault::Pass),
        1 | 2 => Scenario::Network(Fault::Close { dir, after }),
        3 | 4 => Scenario::Network(Fault::Reset { dir, after }),
        5 => Scenario::Network(Fault::Stall {
            dir,
            after,
            stall: Duration::from_millis(rng.random_range(50..400)),
        }),
        6 => Scenario::Network(Fault::Delay {
            delay: Duration::from_millis(rng.random_range(1..20)),
        }),
        7 => Scenario::Network(Fault::HttpStatus {
            status: [500, 502, 503][rng.random_range(0..3)],
        }),
        8 => Scenario::ServiceRestart {
            after: Duration::from_millis(rng.random_range(0..150)),
        },
        _ => Scenario::ClientKill {
            after: Duration::from_millis(rng.random_range(0..400)),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_receipt_arrives_exactly_once_through_every_fault() {
    let scenarios = env_number("HEARTH_FAULT_SCENARIOS", 200);
    let seed = env_number("HEARTH_FAULT_SEED", 7);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    let mut service = Service::start().unwrap();
    let learner = service.add_learner("王小明", "110101199003071234").unwrap();
    let code = service.enrollment_code(Some(&learner)).unwrap();
    let proxy = FaultProxy::start(service.addr()).await.unwrap();
    let proxy_url = format!("http://{}", proxy.addr());

    let dir = tempfile::tempdir().unwrap();
    let hearth = Arc::new(Mutex::new(Hearth::open(dir.path(), Env::system()).unwrap()));
    let public = hearth.lock().unwrap().device().public_key;
    let answer = enroll(&proxy_url, &code, public, Some("fault suite".into()), 0)
        .await
        .unwrap();
    hearth
        .lock()
        .unwrap()
        .apply_enrollment(&answer.enrollment, &answer.roster, answer.anchor)
        .unwrap();
    let enrollment = answer.enrollment;
    let me = enrollment
        .owner
        .expect("a personal device belongs to its learner");
    assert_eq!(hearth.lock().unwrap().at_keyboard(), Some(me));
    let course = CourseId::new("electrician-safety").unwrap();

    let mut tally = std::collections::BTreeMap::<&str, u32>::new();
    let (mut faults_before, mut unapplied) = (0, 0);
    for n in 0..scenarios {
        let scenario = pick(&mut rng);
        *tally.entry(scenario.kind()).or_default() += 1;
        // A new client per scenario: its first connection is the one the fault is planned for
        // (a pooled connection from the last scenario would slip past it).
        let transport = HttpTransport::new(&enrollment).unwrap();
        {
            let mut h = hearth.lock().unwrap();
            for _ in 0..rng.random_range(1..30) {
                let lesson = LessonId::new(format!("lesson-{}", rng.random_range(1..6))).unwrap();
                h.record(Event::ActiveStudy {
                    course: course.clone(),
                    lesson,
                    active_ms: rng.random_range(1_000..60_000),
                })
                .unwrap();
            }
        }
        let batch = rng.random_range(1..12);
        match scenario {
            Scenario::Network(fault) => {
                proxy.push_faults([fault]);
                // Any outcome is fine here; what matters is the state afterwards.
                let _ = sync_round(&hearth, &transport, &enrollment.anchor_key, batch).await;
            }
            Scenario::ServiceRestart { after } => {
                let round = {
                    let hearth = hearth.clone();
                    let transport = transport.clone();
                    let key = enrollment.anchor_key;
                    tokio::spawn(async move {
                        sync_round(&hearth, &transport, &key, batch)
                            .await
                            .map(|_| ())
                    })
                };
                tokio::time::sleep(after).await;
                service.kill();
                let _ = round.await.unwrap();
                service.restart().unwrap();
            }
            Scenario::ClientKill { after } => {
                let mut child = std::process::Command::new(&binaries().client)
                    .arg("--data")
                    .arg(dir.path())
                    .args(["sync", "--batch", &batch.to_string()])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap();
                tokio::time::sleep(after).await;
                let _ = child.kill();
                let _ = child.wait();
            }
        }

        // A clean sync settles everything.
        let planned = matches!(scenario, Scenario::Network(f) if f != Fault::Pass);
        if planned && proxy.stats().faults_applied == faults_before {
            unapplied += 1;
        }
        faults_before = proxy.stats().faults_applied;
        proxy.clear_faults();
        let transport = HttpTransport::new(&enrollment).unwrap();
        let report = sync_round(&hearth, &transport, &enrollment.anchor_key, 50)
            .await
            .unwrap_or_else(|e| panic!("scenario {n} {scenario:?}: the clean sync failed: {e}"));
        let (local, pending) = {
            let h = hearth.lock().unwrap();
            (
                h.verify_ledger().unwrap(),
                h.ledger_status().unwrap().pending,
            )
        };
        assert_eq!(
            (report.left, pending),
            (0, 0),
            "scenario {n} {scenario:?}: the outbox is empty after a clean sync"
        );
        let remote = transport.state().await.unwrap();
        assert_eq!(
            (remote.head.seq, remote.head.id),
            (local.seq, local.id),
            "scenario {n} {scenario:?}: the service holds the whole chain, ending at the client's last receipt"
        );
        assert_eq!(
            remote.pending, 0,
            "scenario {n} {scenario:?}: nothing is left waiting on a gap"
        );
        assert!(
            !remote.flagged,
            "scenario {n} {scenario:?}: retries never look like a fork"
        );
    }
    let total = hearth.lock().unwrap().ledger_status().unwrap().head_seq;
    let network = tally
        .iter()
        .filter(|(k, _)| !matches!(**k, "pass" | "service-restart" | "client-kill"))
        .map(|(_, v)| v)
        .sum::<u32>();
    // A fault placed beyond the bytes a scenario sends (a short upload, a small answer) never
    // fires; most must.
    assert!(
        unapplied * 4 <= network,
        "{unapplied} of {network} network faults never fired"
    );
    eprintln!(
        "fault suite: {scenarios} scenarios, {total} receipts, {} connections, {unapplied} planned faults not reached; {tally:?}",
        proxy.stats().connections
    );
}
