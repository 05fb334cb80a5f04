//! Kiosk sign-in by card (issue #17 item 3): a card sign-in earns credit only with the proof
//! only the card's secret can make, at the receipt's own place in the kiosk's chain. A modified
//! kiosk that has the roster's verifiers — and nothing else — earns nothing for the card
//! sign-ins it claims; a replaced card stops counting once the kiosk could have known.

mod common;

use common::lab::*;
use hearth_protocol::card::Card;
use hearth_protocol::{Event, SignInMethod};

const SLACK: u64 = 1_000;

/// The sign-in receipt's event for `card` at `dev`'s next chain position.
fn card_sign_in(dev: &Dev, card: &Card) -> Event {
    Event::LearnerSignedIn {
        method: SignInMethod::CardProved {
            serial: card.serial,
            proof: card.proof(dev.id(), dev.seq + 1, dev.prev),
        },
    }
}

/// A session on the kiosk: sign-in `event`, `minutes` of study, sign-out.
fn session(lab: &Lab, k: &mut Dev, sign_in: Event, minutes: u64) -> Vec<Vec<u8>> {
    let mut batch = vec![k.receipt(sign_in)];
    batch.extend(honest(lab, k, minutes, long_study));
    batch.push(k.receipt(signed_out()));
    batch
}

#[test]
fn card_sign_ins_count_only_with_the_cards_own_proof() {
    let lab = Lab::new(4);
    let cards = lab
        .svc
        .issue_class_cards(hearth_protocol::ClassId(lab.class))
        .unwrap();
    assert_eq!(cards.len(), 4);
    let card_of = |l| {
        let c = cards.iter().find(|c| c.learner_id == l).unwrap();
        assert!(c.national_id_masked.starts_with("****"));
        Card::parse(&c.card_text).unwrap()
    };
    let mut k = lab.kiosk(2);
    // The kiosk's roster carries each learner's verifier, never the secret.
    let roster = lab.svc.roster(&k.device).unwrap();
    for l in &lab.learners {
        let card = card_of(*l);
        let entry = roster.iter().find(|p| p.id == *l).unwrap();
        let v = entry
            .card
            .as_ref()
            .expect("a card verifier on the kiosk roster");
        assert_eq!(v.serial, card.serial);
        assert_eq!(v.verifier, card.verifier());
        assert!(!v.verifier.contains(&hex::encode(card.secret)));
    }
    let personal = lab.personal(9, lab.learners[0]);
    let own = lab.svc.roster(&personal.device).unwrap();
    assert!(
        own.iter().all(|p| p.card.is_none()),
        "no card verifier leaves for a PC"
    );

    k.fetch_anchor(&lab);
    let [honest_l, forged_l, bare_l, replay_l] = [0, 1, 2, 3].map(|i| lab.learners[i]);
    let mut batch = Vec::new();
    // An honest card sign-in.
    k.learner = honest_l;
    let ev = card_sign_in(&k, &card_of(honest_l));
    batch.extend(session(&lab, &mut k, ev, 3));
    // A modified kiosk that knows only the verifier: it cannot make the proof.
    k.learner = forged_l;
    let forged = Event::LearnerSignedIn {
        method: SignInMethod::CardProved {
            serial: card_of(forged_l).serial,
            proof: [0x5a; 32],
        },
    };
    batch.extend(session(&lab, &mut k, forged, 3));
    // A card sign-in with no proof at all.
    k.learner = bare_l;
    batch.extend(session(
        &lab,
        &mut k,
        Event::LearnerSignedIn {
            method: SignInMethod::Card,
        },
        3,
    ));
    // A proof the card made once, copied into a later sign-in.
    k.learner = replay_l;
    let first = card_sign_in(&k, &card_of(replay_l));
    batch.extend(session(&lab, &mut k, first.clone(), 2));
    batch.extend(session(&lab, &mut k, first, 3));
    let out = lab.send(&k, batch);
    assert!(
        out.results
            .iter()
            .all(|r| matches!(r, hearth_server::domain::ReceiptOutcome::Accepted)),
        "every receipt is well signed and accepted: {:?}",
        out.results
    );

    let credited = lab.long_credit(honest_l);
    assert!(
        (3 * MINUTE - SLACK..=3 * MINUTE + SLACK).contains(&credited),
        "the honest card sign-in earns its study: {credited}"
    );
    assert_eq!(lab.withheld(honest_l, "credit.card_unverified"), 0);
    for l in [forged_l, bare_l] {
        assert_eq!(
            lab.long_credit(l),
            0,
            "nothing for a card sign-in without proof"
        );
        assert!(lab.withheld(l, "credit.card_unverified") >= 3 * MINUTE - SLACK);
    }
    let replayed = lab.long_credit(replay_l);
    assert!(
        (2 * MINUTE - SLACK..=2 * MINUTE + SLACK).contains(&replayed),
        "only the first session of a copied proof counts: {replayed}"
    );
    assert!(lab.withheld(replay_l, "credit.card_unverified") >= 3 * MINUTE - SLACK);
    // The learner and the administrator are told why.
    let rec = lab.record(forged_l);
    let w = rec
        .withheld
        .iter()
        .find(|w| w.code == "credit.card_unverified")
        .unwrap();
    assert!(w.message.contains("card"), "{w:?}");

    // A rebuild of the facts (another facts version, a flag resolved) comes to the same.
    lab.svc.rebuild_facts(Some(lab.org)).unwrap();
    assert_eq!(lab.long_credit(honest_l), credited);
    assert_eq!(lab.long_credit(forged_l), 0);
    assert_eq!(lab.long_credit(replay_l), replayed);
}

#[test]
fn a_replaced_card_stops_counting_once_the_kiosk_could_know() {
    let lab = Lab::new(1);
    let l = lab.learners[0];
    let old = Card::parse(&lab.svc.issue_card(l).unwrap().card_text).unwrap();
    let mut k = lab.kiosk(2);
    k.learner = l;
    k.fetch_anchor(&lab);
    let old_anchor = k.anchor;
    lab.advance(MINUTE);
    let new = Card::parse(&lab.svc.issue_card(l).unwrap().card_text).unwrap();
    assert_eq!((old.serial, new.serial), (1, 2));
    assert_ne!(old.secret, new.secret);
    let roster = lab.svc.roster(&k.device).unwrap();
    let v = roster
        .iter()
        .find(|p| p.id == l)
        .unwrap()
        .card
        .clone()
        .unwrap();
    assert_eq!(v.serial, 2, "the kiosk's next roster has only the new card");
    assert_eq!(v.verifier, new.verifier());

    // Offline since before the new card: the kiosk could not know, so the old card counts.
    let ev = card_sign_in(&k, &old);
    let batch = session(&lab, &mut k, ev, 2);
    lab.send(&k, batch);
    let before = lab.long_credit(l);
    assert!(
        (2 * MINUTE - SLACK..=2 * MINUTE + SLACK).contains(&before),
        "{before}"
    );

    // After it heard from the service again, the old card counts for nothing; the new one does.
    k.fetch_anchor(&lab);
    let ev = card_sign_in(&k, &old);
    let mut batch = session(&lab, &mut k, ev, 3);
    let ev = card_sign_in(&k, &new);
    batch.extend(session(&lab, &mut k, ev, 1));
    // A modified kiosk that kept the old card's secret cites its old anchor again: its chain
    // has already shown the newer one, so that gains nothing.
    k.anchor = old_anchor;
    let ev = card_sign_in(&k, &old);
    batch.extend(session(&lab, &mut k, ev, 2));
    lab.send(&k, batch);
    let after = lab.long_credit(l);
    assert!(
        (3 * MINUTE - 2 * SLACK..=3 * MINUTE + 2 * SLACK).contains(&after),
        "two minutes of the old card offline, one of the new card: {after}"
    );
    assert!(lab.withheld(l, "credit.card_unverified") >= 5 * MINUTE - SLACK);
}

#[test]
fn cards_for_nobody_are_refused_with_a_code() {
    let lab = Lab::new(1);
    let e = lab
        .svc
        .issue_card(hearth_protocol::LearnerId(uuid::Uuid::from_u128(42)))
        .unwrap_err();
    assert_eq!(e.code(), "person.not_found");
    let e = lab
        .svc
        .issue_class_cards(hearth_protocol::ClassId(uuid::Uuid::from_u128(42)))
        .unwrap_err();
    assert_eq!(e.code(), "class.not_found");
}

/// `hearth-server issue-cards` writes secrets (whoever reads a card text signs in as that
/// learner), so its file is the service account's alone, also when it replaces an older file
/// that others could read.
#[cfg(unix)]
#[test]
fn issued_card_files_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hearth-server"))
            .arg("--data")
            .arg(data.path())
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let org = cli(&["create-org", "Card school"]);
    let learner = cli(&[
        "add-learner",
        "--org",
        &org,
        "--name",
        "张三",
        "--national-id",
        "11010519491231002X",
    ]);
    let out = data.path().join("cards.txt");
    std::fs::write(&out, "old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    cli(&[
        "issue-cards",
        "--learner",
        &learner,
        "--out",
        out.to_str().unwrap(),
        "--format",
        "text",
    ]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("HEARTH-CARD/1/"), "{text}");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "card file mode {mode:o}");
}
