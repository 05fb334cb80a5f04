//! `--read-database` (issue #13): reports read from a streaming replica made by `pg_basebackup`
//! from the throwaway primary (scripts/pg-cluster.sh --replica), while a device's own reads stay
//! on the primary. With the replica's replay paused, an administrator's report shows the state
//! before the last upload (so it is served from the replica), while the device that uploaded
//! reads its new chain head and credit at once (read-your-writes); once replay resumes the report
//! catches up. Needs `HEARTH_TEST_DATABASE` and `HEARTH_TEST_REPLICA` (make pg-test); without
//! them it says so and passes.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use hearth_protocol::{CourseId, Event, LessonId};
use hearth_server::store::PostgresStore;

fn on_replica(url: &str, sql: &str) {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute(&sql).unwrap();
    })
    .join()
    .unwrap();
}

fn study(ms: u32) -> Event {
    Event::ActiveStudy {
        course: CourseId::new("electrician-safety").unwrap(),
        lesson: LessonId::new("l1").unwrap(),
        active_ms: ms,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_come_from_the_replica_and_a_device_reads_its_own_writes() {
    let (Some(_), Ok(replica)) = (common::db::pg_url(), std::env::var("HEARTH_TEST_REPLICA"))
    else {
        eprintln!("HEARTH_TEST_DATABASE / HEARTH_TEST_REPLICA not set: skipped");
        return;
    };
    let mut w = World::new().await;
    w.svc.publish(&fixture_course()).unwrap();
    // The replica of this test's schema (its tables arrive by streaming replication).
    let schema_url = std::fs::read_to_string(w.dir.path().join("pg-url")).unwrap();
    let search_path = schema_url.rsplit(' ').next().unwrap();
    let replica_url = format!("{replica} {search_path}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let store = loop {
        let url = replica_url.clone();
        let opened = std::thread::spawn(move || PostgresStore::open_replica(&url, 4))
            .join()
            .unwrap();
        match opened {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for the replica: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the replica never had the schema: {e}"),
        }
    };
    w.svc.read_store = Some(Arc::new(store));
    w.stop().await;
    w.start().await;

    let k = key(21);
    let e = w.enroll(w.org_a, Some(w.learner_a1), &k).await;
    let mut d = ReceiptWriter::new(21, w.learner_a1);
    d.take_anchor(&e.anchor);
    let record = format!("/v1/learners/{}/record", w.learner_a1);
    let credited = |v: &serde_json::Value| v["creditedMs"].as_u64().unwrap();

    // Five minutes of study, then the replica catches up.
    let first: Vec<_> = (0..5).map(|_| d.next(60_000, study(60_000))).collect();
    w.clock.advance(6 * 60_000);
    let (s, _) = w.upload(&e.credential, &first).await;
    assert_eq!(s, 200);
    let (_, mine) = w.get(&record, &e.credential).await;
    assert_eq!(credited(&mine), 5 * 60_000);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, report) = w.get(&record, &w.admin_a).await;
        assert_eq!(s, 200);
        if credited(&report) == 5 * 60_000 {
            break;
        }
        assert!(Instant::now() < deadline, "the replica never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Replay paused: the replica stays where it is.
    on_replica(&replica, "SELECT pg_wal_replay_pause()");
    let more: Vec<_> = (0..4).map(|_| d.next(60_000, study(60_000))).collect();
    w.clock.advance(5 * 60_000);
    let (s, _) = w.upload(&e.credential, &more).await;
    assert_eq!(s, 200);
    // The device reads its own writes: the primary.
    let (_, st) = w.get("/v1/sync/state", &e.credential).await;
    assert_eq!(st["head"]["seq"], 9);
    let (_, mine) = w.get(&record, &e.credential).await;
    assert_eq!(credited(&mine), 9 * 60_000);
    // The administrator's report: the replica, still before the upload.
    let (_, report) = w.get(&record, &w.admin_a).await;
    assert_eq!(
        credited(&report),
        5 * 60_000,
        "served from the paused replica"
    );
    let (s, flags) = w.get("/v1/admin/flags", &w.admin_a).await;
    assert_eq!(s, 200, "{flags}");

    on_replica(&replica, "SELECT pg_wal_replay_resume()");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, report) = w.get(&record, &w.admin_a).await;
        if credited(&report) == 9 * 60_000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never caught up after resuming"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
