//! Certificates through the `hearth` binary against the real service (issue #14): a learner
//! studies a one-lesson course and passes its exam on their own PC, `hearth sync` uploads it and
//! the service issues the certificate; `hearth certificate list|download` fetches the signed
//! credential and the PDF, keeps them for offline use and saves them where asked;
//! `hearth verify-certificate` accepts the saved PDF and refuses a changed copy; `hearth
//! training-record` saves the signed record. Another learner's PC may read neither this
//! learner's certificate nor their record (the service's authorization, over HTTP), and a
//! revoked certificate downloads as revoked.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use hearth_core::certificates::{CertificateFolder, CheckStatus};
use hearth_core::sync::TransportError;
use hearth_core::sync::http::HttpTransport;
use hearth_core::{Env, Hearth};
use hearth_e2e::service::{Service, binaries, certificate_course, hearth_cli};
use hearth_protocol::{Answer, CourseId, ExamId, ItemAnswer, ItemId, LearnerId, LessonId};
use serde_json::Value;

fn hearth(data: &Path, args: &[&str]) -> Output {
    Command::new(&binaries().client)
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("HEARTH_ISSUER_KEY")
        .output()
        .unwrap()
}

fn json(data: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&hearth_cli(data, &all).unwrap()).unwrap()
}

/// Studies the course's lesson for a little over its minute of credit, completes it, and
/// passes the exam, all as the learner at the keyboard of `data`.
fn study_and_pass(data: &Path) {
    let mut h = Hearth::open(data, Env::system()).unwrap();
    let course = CourseId::new("cert-mini").unwrap();
    let lesson = LessonId::new("l1").unwrap();
    h.open_lesson(&course, 1, &lesson).unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(66);
    while std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(500));
        h.study_activity(true, true).unwrap();
    }
    h.complete_lesson().unwrap();
    h.leave_lesson().unwrap();
    let exam: ExamId = "final".parse().unwrap();
    let started = h.start_exam(&course, 1, &exam).unwrap();
    let answers = vec![ItemAnswer {
        item: ItemId::new("e1").unwrap(),
        answer: Answer::Choices(vec![1]),
    }];
    h.submit_exam(&course, &exam, started.attempt, answers)
        .unwrap();
}

fn enroll(service: &Service, data: &Path, learner: &str) {
    let code = service.enrollment_code(Some(learner)).unwrap();
    hearth_cli(
        data,
        &["enroll", "--service", &service.url(), "--code", &code],
    )
    .unwrap();
}

#[test]
fn a_learner_downloads_saves_and_verifies_their_certificate_with_the_cli() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut service = Service::start().unwrap();
    let src = tempfile::tempdir().unwrap();
    let course = certificate_course(src.path()).unwrap();
    service
        .admin(&["publish", course.to_str().unwrap()])
        .unwrap();
    let learner = service.add_learner("刘洋", "110101199505051234").unwrap();
    let other = service.add_learner("陈静", "110101199606061234").unwrap();
    let issuer: Value = serde_json::from_str(&service.admin(&["issuer-key"]).unwrap()).unwrap();
    let key = issuer["publicKeyMultibase"].as_str().unwrap().to_owned();

    let pc = tempfile::tempdir().unwrap();
    let data = pc.path().join("hearth");
    enroll(&service, &data, &learner);
    hearth_cli(&data, &["download", "cert-mini"]).unwrap();

    // Before any study: no certificate, and a serial not in the record is refused locally.
    assert_eq!(json(&data, &["certificate", "list"]), serde_json::json!([]));
    let out = hearth(&data, &["certificate", "download", "HC-NOTMINE"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error[certificate.not_in_record]"),
        "{out:?}"
    );

    study_and_pass(&data);
    hearth_cli(&data, &["sync"]).unwrap();
    let list = json(&data, &["certificate", "list"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["course"], "cert-mini");
    assert_eq!(list[0]["saved"], false);
    let serial = list[0]["serial"].as_str().unwrap().to_owned();

    // Download: verified, kept, and saved where asked.
    let out_dir = tempfile::tempdir().unwrap();
    let pdf = out_dir.path().join("证书.pdf");
    let vc = out_dir.path().join("cert.json");
    let check = json(
        &data,
        &[
            "certificate",
            "download",
            &serial,
            "--pdf",
            pdf.to_str().unwrap(),
            "--json-file",
            vc.to_str().unwrap(),
        ],
    );
    assert_eq!(check["status"], "valid", "{check}");
    assert_eq!(check["revocationChecked"], true);
    assert_eq!(check["certificate"]["name"], "刘洋");
    assert_eq!(check["certificate"]["occupationCode"], "6-31-01-03");
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    assert_eq!(json(&data, &["certificate", "list"])[0]["saved"], true);

    // The saved PDF verifies offline with the published key; a changed copy does not.
    let ok = hearth(
        &data,
        &["verify-certificate", pdf.to_str().unwrap(), "--key", &key],
    );
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains(&serial));
    let mut changed: Value = serde_json::from_slice(&std::fs::read(&vc).unwrap()).unwrap();
    changed["credentialSubject"]["name"] = Value::from("王五");
    let tampered = out_dir.path().join("tampered.json");
    std::fs::write(&tampered, changed.to_string()).unwrap();
    let bad = hearth(
        &data,
        &[
            "verify-certificate",
            tampered.to_str().unwrap(),
            "--key",
            &key,
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("error[credential."),
        "{bad:?}"
    );

    // The training record: signed JSON and PDF, saved where asked.
    let rec_json = out_dir.path().join("record.json");
    let rec_pdf = out_dir.path().join("record.pdf");
    hearth_cli(
        &data,
        &[
            "training-record",
            "--pdf",
            rec_pdf.to_str().unwrap(),
            "--json-file",
            rec_json.to_str().unwrap(),
        ],
    )
    .unwrap();
    let record: Value = serde_json::from_slice(&std::fs::read(&rec_json).unwrap()).unwrap();
    let issuer_key = hearth_protocol::credential::public_of_multikey(&key).unwrap();
    hearth_protocol::credential::verify_training_record(&record, &issuer_key).unwrap();
    assert!(std::fs::read(&rec_pdf).unwrap().starts_with(b"%PDF-"));
    let usage = hearth(&data, &["training-record"]);
    assert_eq!(usage.status.code(), Some(2), "{usage:?}");

    // Another learner's personal PC: the service refuses this learner's certificate and record.
    let other_pc = tempfile::tempdir().unwrap();
    let other_data = other_pc.path().join("hearth");
    enroll(&service, &other_data, &other);
    let enrollment = Hearth::open(&other_data, Env::system())
        .unwrap()
        .enrollment()
        .unwrap()
        .unwrap();
    let transport = HttpTransport::new(&enrollment).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let own: LearnerId = learner.parse().unwrap();
    for refused in [
        rt.block_on(transport.certificate(&serial)).map(|_| ()),
        rt.block_on(transport.certificate_pdf(&serial)).map(|_| ()),
        rt.block_on(transport.training_record(own)).map(|_| ()),
        rt.block_on(transport.training_record_pdf(own)).map(|_| ()),
    ] {
        match refused {
            Err(TransportError::Service { status, body }) => {
                assert_eq!((status, body.code.as_str()), (403, "auth.forbidden"));
            }
            other => panic!("another learner's PC read it: {other:?}"),
        }
    }
    // Its own record it may read.
    let theirs: LearnerId = other.parse().unwrap();
    rt.block_on(transport.training_record(theirs)).unwrap();

    // Revoked on the service: downloading again reports it, and so does the offline check.
    service
        .admin(&["revoke-certificate", &serial, "--reason", "重复发证"])
        .unwrap();
    let again = json(&data, &["certificate", "download", &serial]);
    assert_eq!(again["status"], "revoked", "{again}");
    assert_eq!(again["code"], "credential.revoked");

    // Offline: the kept copy still lists, checks and saves.
    service.kill();
    assert_eq!(json(&data, &["certificate", "list"])[0]["saved"], true);
    let folder = CertificateFolder::new(&data);
    assert_eq!(
        folder.check_saved(&serial).unwrap().status,
        CheckStatus::Revoked
    );
    let copy = out_dir.path().join("copy.pdf");
    folder.save_pdf(&serial, &copy).unwrap();
    assert!(
        std::fs::read(&copy).unwrap() == std::fs::read(folder.pdf_path(&serial)).unwrap(),
        "the saved copy is the kept PDF"
    );
}
