//! `hearth-server migrate --from DIR --to postgres://…` (issue #13) on a real SQLite service
//! folder written by this build: honest study on personal PCs and a kiosk, a forked device
//! (a flag and kept rejections), a receipt waiting for a gap, a certificate. The real binary
//! copies it; its own verification reads every receipt back; this test then compares every
//! receipt and every learner's record and the flags report served from PostgreSQL with
//! SQLite's. Needs `HEARTH_TEST_DATABASE` (make pg-test); without it it says so and passes.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::lab::*;
use hearth_server::Service;
use hearth_server::env::ManualClock;
use hearth_server::store::{SqliteStore, Store};

fn migrate(from: &std::path::Path, to: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hearth-server"))
        .args(["migrate", "--from"])
        .arg(from)
        .args(["--to", to])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn migrate_copies_a_sqlite_service_byte_for_byte_and_serves_the_same_credit() {
    let Some(base) = common::db::pg_url() else {
        eprintln!("HEARTH_TEST_DATABASE is not set: skipped");
        return;
    };
    let lab = Lab::in_data_folder(3);
    let (a, b, c) = (lab.learners[0], lab.learners[1], lab.learners[2]);
    let mut pa = lab.personal(1, a);
    let mut pb = lab.personal(2, b);
    let mut kiosk = lab.kiosk(3);
    pa.fetch_anchor(&lab);
    pb.fetch_anchor(&lab);
    kiosk.fetch_anchor(&lab);
    let batch = honest(&lab, &mut pa, 30, |ms| study("l1", ms));
    lab.send(&pa, batch);
    let mut done = vec![pa.receipt(completed("l1"))];
    done.extend(honest(&lab, &mut pa, 20, long_study));
    lab.send(&pa, done);
    let batch = honest(&lab, &mut pb, 15, |ms| study("l1", ms));
    lab.send(&pb, batch);
    kiosk.learner = c;
    let mut k = vec![kiosk.receipt(signed_in())];
    k.extend(honest(&lab, &mut kiosk, 10, long_study));
    k.push(kiosk.receipt(signed_out()));
    lab.send(&kiosk, k);
    // A copied data folder signs a different receipt at the same position: a fork.
    let mut copy = pb.fork();
    let ours = honest(&lab, &mut pb, 2, long_study);
    copy.wait(1);
    let theirs = vec![copy.receipt(long_study(1_000))];
    lab.send(&pb, ours);
    assert!(lab.send(&copy, theirs).flagged);
    // A receipt after a gap waits in `pending`.
    let mut gap = pa.fork();
    gap.seq += 1;
    let waiting = vec![gap.receipt(long_study(1_000))];
    lab.send(&pa, waiting);

    let learners = [a, b, c];
    let records: Vec<_> = learners.iter().map(|l| lab.record(*l)).collect();
    assert!(records[0].credited_ms > 0 && records[2].credited_ms > 0);
    let flags = serde_json::to_value(lab.svc.flags_report(lab.org, None, None).unwrap()).unwrap();
    // A kiosk code not yet redeemed keeps its classes across the move too.
    let waiting_code = lab
        .svc
        .issue_kiosk_code(lab.org, &[lab.class], None)
        .unwrap();
    // An administrator resolved the fork in the console (migration 013's table).
    let (admin, _) = lab
        .svc
        .add_user(lab.org, hearth_server::store::Role::Admin, "Admin")
        .unwrap();
    let fork_key = format!("fork:{}", pb.id());
    lab.svc
        .resolve_console_flag(lab.org, admin.id, &fork_key, "checked in person")
        .unwrap();
    let console_flags = lab.svc.console_flags(lab.org).unwrap();
    // The supervisor's tables (012): a region under a province, the centre in it, a supervisor.
    lab.svc.create_region("440000", "广东省", None).unwrap();
    lab.svc
        .create_region("440300", "深圳市", Some("440000"))
        .unwrap();
    lab.svc.put_org_in_region(lab.org, "440300").unwrap();
    let (supervisor, _) = lab.svc.add_supervisor("440000", "督导").unwrap();
    let stats = {
        let scope = lab.svc.supervisor_scope(&supervisor).unwrap();
        lab.svc
            .supervision_stats(
                &scope,
                hearth_server::domain::supervision::GroupBy::Course,
                None,
            )
            .unwrap()
    };
    // A claim rejected and one pending (014's table): the frozen packs come along byte for byte.
    let first = lab.svc.submit_claim(&admin, lab.class).unwrap();
    lab.svc
        .decide_claim(&supervisor, first.id, false, Some("缺少签到表"))
        .unwrap();
    let second = lab.svc.submit_claim(&admin, lab.class).unwrap();
    let claims = lab.svc.claims_for(&admin).unwrap();
    let packs: Vec<Vec<u8>> = [first.id, second.id]
        .iter()
        .map(|id| lab.svc.claim_pack_bytes(&admin, *id).unwrap())
        .collect();
    let dir = lab.dir.path().to_path_buf();
    let (org, now, class) = (lab.org, lab.now(), lab.class);
    let Lab {
        dir: _keep, svc, ..
    } = lab;
    drop(svc);

    let url = common::db::fresh_schema(&base);
    let out = migrate(&dir, &url);
    assert!(
        out.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sqlite = SqliteStore::open(&dir.join("hearth.db")).unwrap();
    let devices = [pa.id(), pb.id(), kiosk.id()];
    let mut want = Vec::new();
    for d in devices {
        want.extend(sqlite.receipts_of_device(d, 1, 10_000).unwrap());
    }
    assert_eq!(want.len(), 30 + 1 + 20 + 15 + 12 + 2);
    assert_eq!(report["receiptsVerified"], want.len() as u64);

    // Served from PostgreSQL: the same receipts, byte for byte, and the same credit.
    let svc = Service::open_with(
        &dir,
        Some(&url),
        Arc::new(ManualClock::new(now)),
        Arc::new(hearth_server::env::SeededRandom::new(12)),
    )
    .unwrap();
    let mut got = Vec::new();
    for d in devices {
        got.extend(svc.store.receipts_of_device(d, 1, 10_000).unwrap());
    }
    assert_eq!(
        got, want,
        "every receipt, with its columns and envelope bytes"
    );
    assert_eq!(svc.store.chain_state(pa.id()).unwrap().pending, 1);
    assert!(svc.store.chain_state(pb.id()).unwrap().flag.is_some());
    for (l, rec) in learners.iter().zip(&records) {
        let again = svc
            .learner_record(&svc.store.learner(*l).unwrap().unwrap())
            .unwrap();
        assert_eq!(&again, rec, "learner {l}");
    }
    assert_eq!(
        serde_json::to_value(svc.flags_report(org, None, None).unwrap()).unwrap(),
        flags
    );
    // The kiosk serves its class from PostgreSQL too, and the waiting code brings its class.
    assert_eq!(svc.store.kiosk_classes(kiosk.id()).unwrap(), vec![class]);
    let k = common::key(41);
    let pk = common::public(&k);
    let later = svc
        .enroll(
            &waiting_code.code,
            pk,
            hearth_protocol::DeviceId::for_key(&pk),
            None,
        )
        .unwrap();
    assert_eq!(
        svc.store.kiosk_classes(later.device.id).unwrap(),
        vec![class]
    );
    assert_eq!(
        later.roster.len(),
        4,
        "the class's three learners and its trainer"
    );
    let moved = svc.console_flags(org).unwrap();
    assert_eq!(moved, console_flags, "flag resolutions are copied");
    assert!(
        moved
            .iter()
            .any(|f| f.key == fork_key && f.resolution.is_some())
    );
    // The supervisor, their region and its institution came along: the same statistics.
    let moved = svc.store.user(supervisor.id).unwrap().unwrap();
    let scope = svc.supervisor_scope(&moved).unwrap();
    assert_eq!(scope.regions, vec!["440000", "440300"]);
    assert_eq!(
        svc.supervision_stats(
            &scope,
            hearth_server::domain::supervision::GroupBy::Course,
            None
        )
        .unwrap(),
        stats
    );
    // The claims, their decisions and their frozen packs.
    assert_eq!(svc.claims_for(&admin).unwrap(), claims);
    for (id, pack) in [first.id, second.id].iter().zip(&packs) {
        assert_eq!(&svc.claim_pack_bytes(&admin, *id).unwrap(), pack);
    }
    // Devices enrolled after the move get numbers after the copied ones.
    let code = svc.issue_enrollment_code(org, None, None).unwrap();
    let k = common::key(40);
    let pk = common::public(&k);
    let e = svc
        .enroll(&code, pk, hearth_protocol::DeviceId::for_key(&pk), None)
        .unwrap();
    assert!(svc.store.chain_state(e.device.id).unwrap().head.seq == 0);

    // Into a database that already holds a service: refused, nothing changed.
    let again = migrate(&dir, &url);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds a service"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        svc.store
            .receipts_of_device(pa.id(), 1, 10_000)
            .unwrap()
            .len(),
        51
    );
}
