//! What one kiosk PIN check costs, and so what guessing a PIN from a copied kiosk database
//! costs: every guess is one full derivation of the verifier.
//!
//! `cargo bench -p hearth-protocol --bench pin`; the figures are in README.md ("Kiosk PINs").

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use hearth_protocol::LearnerId;
use hearth_protocol::pin::{PIN_ITERATIONS, pin_matches, pin_verifier};

fn pin_check(c: &mut Criterion) {
    let learner = LearnerId(uuid::Uuid::from_u128(0x1234));
    let verifier = pin_verifier(learner, "482913", &[9; hearth_protocol::pin::SALT_LEN]);
    let mut group = c.benchmark_group("pin");
    group.sample_size(10);
    group.bench_function("check one PIN (wrong)", |b| {
        b.iter(|| pin_matches(black_box(&verifier), learner, black_box("000000")))
    });
    group.finish();

    // The same figure measured directly, turned into the cost of guessing.
    let runs = 10;
    let start = Instant::now();
    for _ in 0..runs {
        black_box(pin_matches(
            black_box(&verifier),
            learner,
            black_box("000000"),
        ));
    }
    let per_check = start.elapsed().as_secs_f64() / f64::from(runs);
    let six_digits = 1_000_000.0 * per_check;
    let four_digits = 10_000.0 * per_check;
    println!(
        "PBKDF2-HMAC-SHA256, {PIN_ITERATIONS} iterations: one PIN check {:.0} ms on this core",
        per_check * 1000.0
    );
    println!(
        "offline guessing of one person's PIN, all values, one core: 4 digits {:.0} min, 6 digits {:.1} days ({:.0} core-hours); half that on average",
        four_digits / 60.0,
        six_digits / 86_400.0,
        six_digits / 3_600.0
    );
}

criterion_group!(benches, pin_check);
criterion_main!(benches);
