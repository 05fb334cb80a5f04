//! Certificates (issue #14): verifying a certificate from its QR text (what a phone or the CLI
//! does offline), generating a certificate PDF, and the signed claim pack of a class of 50
//! learners who all completed the course. Also prints the QR code's size and version.
//!
//! `cargo bench -p hearth-server --bench certificates`

#[path = "../tests/common/mod.rs"]
mod common;

use common::lab::{Lab, certified_lab};
use criterion::{Criterion, criterion_group, criterion_main};
use hearth_protocol::credential;
use hearth_server::domain::certificate_pdf::{QR_SIZE_PT, qr_info};

fn first_certificate(lab: &Lab) -> hearth_server::domain::certificate::IssuedCertificate {
    let serial = lab.record(lab.learners[0]).certificates[0].serial.clone();
    lab.svc.issued_certificate(&serial).unwrap()
}

fn bench(c: &mut Criterion) {
    let lab = certified_lab(50, 50);
    let issued = first_certificate(&lab);
    let key = *lab.svc.keys.issuer_public().as_bytes();
    let qr = lab.svc.certificate_qr(&issued);
    let info = qr_info(&qr).unwrap();
    let module_mm = 30.0 / (info.modules as f64 + 8.0);
    println!(
        "QR: {} characters (alphanumeric), version {}, {}x{} modules, {:.2} mm per module at {:.0} pt (3 cm) with the quiet zone",
        info.bytes, info.version, info.modules, info.modules, module_mm, QR_SIZE_PT
    );
    let pdf = lab.svc.certificate_pdf(&issued).unwrap();
    println!("certificate PDF: {} bytes", pdf.len());
    let pack = lab.svc.class_claim_pack(lab.class).unwrap();
    println!(
        "claim pack of {} learners: {} bytes",
        pack["learners"].as_array().unwrap().len(),
        pack.to_string().len()
    );

    let mut g = c.benchmark_group("certificates");
    g.bench_function("verify_qr_text", |b| {
        b.iter(|| credential::decode_qr(&qr, &key).unwrap())
    });
    g.bench_function("verify_credential", |b| {
        b.iter(|| credential::verify_certificate(&issued.credential, &key).unwrap())
    });
    g.bench_function("certificate_pdf", |b| {
        b.iter(|| lab.svc.certificate_pdf(&issued).unwrap())
    });
    g.sample_size(10);
    g.bench_function("claim_pack_class_of_50", |b| {
        b.iter(|| lab.svc.class_claim_pack(lab.class).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
