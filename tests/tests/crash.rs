//! Durability under SIGKILL: a child process appends receipts in a loop and is killed at random
//! moments, over and over, on the same data folder. Every receipt the child reported as recorded
//! must be there afterwards with the same id, the chain must verify end to end, and the store
//! must open cleanly every time.
//!
//! Rounds: 200 by default; `HEARTH_CRASH_ROUNDS=N` for more. Seed: `HEARTH_CRASH_SEED`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use hearth_core::{Env, Hearth};
use hearth_protocol::ReceiptId;
use rand::{Rng, SeedableRng};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn receipts_reported_as_recorded_survive_sigkill() {
    let rounds = env_number("HEARTH_CRASH_ROUNDS", 200);
    let seed = env_number("HEARTH_CRASH_SEED", 20261128);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut reported: BTreeMap<u64, ReceiptId> = BTreeMap::new();
    let mut killed_while_writing = 0;

    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-appender"))
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                lines.push(line);
            }
            lines
        });
        if round % 2 == 0 {
            // Anywhere from during start-up (opening, first-run creation) to into the loop.
            std::thread::sleep(Duration::from_micros(rng.random_range(0..40_000)));
        } else {
            // Inside the append loop: after the child says it is ready, however long start-up
            // took on a loaded machine.
            let ready = rx.recv_timeout(Duration::from_secs(30));
            assert_eq!(
                ready.as_deref(),
                Ok("ready"),
                "round {round}: no ready line"
            );
            std::thread::sleep(Duration::from_micros(rng.random_range(0..20_000)));
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert!(
            !status.success() && stderr.trim().is_empty(),
            "round {round}: the child must die only by the kill, but it exited with {status}: {stderr}"
        );
        let lines = reader.join().unwrap();
        let mut got = 0;
        for line in lines.iter().filter(|l| *l != "ready") {
            let (seq, id) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("round {round}: bad line {line:?}"));
            let (seq, id): (u64, ReceiptId) = (seq.parse().unwrap(), id.parse().unwrap());
            if let Some(prev) = reported.insert(seq, id) {
                assert_eq!(
                    prev, id,
                    "round {round}: position {seq} was reported twice with different receipts"
                );
            }
            got += 1;
        }
        if got > 0 {
            killed_while_writing += 1;
        }
    }

    let hearth = Hearth::open(dir.path(), Env::system())
        .expect("the store opens cleanly after all the kills");
    let head = hearth
        .verify_ledger()
        .expect("the chain verifies end to end");
    let all = hearth.outbox(0, u32::MAX).unwrap();
    let stored: BTreeMap<u64, ReceiptId> = all
        .iter()
        .map(|o| {
            let r = hearth_protocol::Envelope::from_bytes(o.envelope.clone())
                .verify(&hearth.device().public_key)
                .unwrap();
            (o.seq, r.id())
        })
        .collect();
    for (seq, id) in &reported {
        assert_eq!(
            stored.get(seq),
            Some(id),
            "receipt {seq} was reported as recorded but is missing or different"
        );
    }
    assert_eq!(head.seq, stored.len() as u64, "the chain has no holes");
    assert!(
        reported.len() >= rounds as usize,
        "the test must exercise appends: only {} receipts in {rounds} rounds",
        reported.len()
    );
    // Every other round kills only after the child is ready, so most of those land mid-loop.
    assert!(
        killed_while_writing * 4 >= rounds,
        "a good share of rounds must kill a child mid-loop ({killed_while_writing}/{rounds})"
    );
    eprintln!(
        "crash test: {rounds} kills, {} receipts reported, {} stored, {killed_while_writing} kills mid-loop",
        reported.len(),
        stored.len()
    );
}
