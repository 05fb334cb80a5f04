//! Kiosk PIN verifiers.
//!
//! The service hands a kiosk its roster with, for each person who has a PIN, a verifier, so the
//! kiosk checks sign-ins with no network:
//!
//! ```text
//! pbkdf2-sha256$<iterations>$<salt: 16 bytes hex>$<PBKDF2-HMAC-SHA256: 32 bytes hex>
//!   password = the PIN's digits, salt = "HEARTH/pin/2\0" || learner uuid bytes || salt
//! ```
//!
//! The salt is random for each PIN set, and the learner id is bound in, so one learner's PIN never
//! opens another learner even when both chose the same digits, and no table of all PINs can be
//! computed once for every person. The iteration count is slow on purpose: a sign-in costs one
//! derivation, a guess at a copied verifier costs the same ([`PIN_ITERATIONS`] and the figures
//! in README.md, measured by `cargo bench -p hearth-protocol --bench pin`).
//!
//! What this protects: one person signing in as another at a shared machine, and it makes a
//! copied kiosk database cost real time per PIN instead of microseconds. What it does not: a
//! 4–6 digit PIN has at most a million values, so a determined attacker with a copy still finds
//! one in hours on a CPU (minutes on GPUs); the kiosk's data folder is owner-only, PIN sign-ins
//! are throttled per person on the kiosk (hearth-core's kiosk module), and the receipts of every
//! session stay signed and attributable.
//!
//! Verifiers of the first format, `hex(SHA-256("HEARTH/pin/1\0" || learner uuid || PIN))`, are
//! still accepted (rosters handed out before carry them; the service keeps them until a PIN is
//! set again) but never produced.

use std::num::NonZeroU32;

use ring::{digest, pbkdf2};

use crate::ids::LearnerId;

const PIN_DOMAIN_V1: &[u8] = b"HEARTH/pin/1\0";
const PIN_DOMAIN: &[u8] = b"HEARTH/pin/2\0";
const SCHEME: &str = "pbkdf2-sha256";
pub const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

/// PBKDF2-HMAC-SHA256 iterations of a new verifier (OWASP's figure for this hash). One
/// derivation — one sign-in, or one guess — measured about 0.13 s on one server core; a low-end
/// kiosk PC (an entry-level Celeron, roughly 3 times slower per core) takes about 0.4 s, which a
/// person signing in barely notices. See README.md for the figures.
pub const PIN_ITERATIONS: u32 = 600_000;

/// Fewest and most iterations a kiosk accepts in a verifier: fewer would make it cheap to guess,
/// more would let a damaged roster stall a sign-in.
pub const MIN_ITERATIONS: u32 = 10_000;
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// A new verifier for `learner`'s `pin` with [`PIN_ITERATIONS`]; `salt` must be fresh random
/// bytes (the caller's injected randomness: this crate does no I/O).
pub fn pin_verifier(learner: LearnerId, pin: &str, salt: &[u8; SALT_LEN]) -> String {
    pin_verifier_with(learner, pin, salt, PIN_ITERATIONS)
}

/// The verifier of `pin` with this salt and cost (tests and vectors; use [`pin_verifier`]).
pub fn pin_verifier_with(
    learner: LearnerId,
    pin: &str,
    salt: &[u8; SALT_LEN],
    iterations: u32,
) -> String {
    let iterations = iterations.clamp(MIN_ITERATIONS, MAX_ITERATIONS);
    let mut out = [0u8; HASH_LEN];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        NonZeroU32::new(iterations).expect("at least MIN_ITERATIONS"),
        &full_salt(learner, salt),
        pin.as_bytes(),
        &mut out,
    );
    format!(
        "{SCHEME}${iterations}${}${}",
        hex::encode(salt),
        hex::encode(out)
    )
}

fn full_salt(learner: LearnerId, salt: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(PIN_DOMAIN.len() + 16 + salt.len());
    s.extend_from_slice(PIN_DOMAIN);
    s.extend_from_slice(learner.0.as_bytes());
    s.extend_from_slice(salt);
    s
}

/// Whether `pin` is `learner`'s PIN under `verifier` (either format). A verifier that cannot be
/// read, or whose cost is outside [`MIN_ITERATIONS`]..=[`MAX_ITERATIONS`], matches nothing.
pub fn pin_matches(verifier: &str, learner: LearnerId, pin: &str) -> bool {
    let mut parts = verifier.split('$');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(SCHEME), Some(iterations), Some(salt), Some(hash)) if parts.next().is_none() => {
            let Ok(iterations) = iterations.parse::<u32>() else {
                return false;
            };
            let (Ok(salt), Ok(hash)) = (hex::decode(salt), hex::decode(hash)) else {
                return false;
            };
            if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations)
                || salt.len() != SALT_LEN
                || hash.len() != HASH_LEN
            {
                return false;
            }
            // Constant-time comparison inside ring.
            pbkdf2::verify(
                pbkdf2::PBKDF2_HMAC_SHA256,
                NonZeroU32::new(iterations).expect("checked above"),
                &full_salt(learner, &salt),
                pin.as_bytes(),
                &hash,
            )
            .is_ok()
        }
        (Some(v1), None, None, None) if v1.len() == 2 * HASH_LEN => {
            // Both sides are SHA-256 digests of secret-dependent input; comparing digests leaks
            // nothing useful about the PIN through timing.
            legacy_verifier(learner, pin).eq_ignore_ascii_case(v1)
        }
        _ => false,
    }
}

/// The first format's verifier (accepted, never produced).
fn legacy_verifier(learner: LearnerId, pin: &str) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(PIN_DOMAIN_V1);
    ctx.update(learner.0.as_bytes());
    ctx.update(pin.as_bytes());
    hex::encode(ctx.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_pin_opens_only_its_own_learner() {
        let a = LearnerId(Uuid::from_u128(1));
        let b = LearnerId(Uuid::from_u128(2));
        let va = pin_verifier(a, "1234", &[7; SALT_LEN]);
        assert!(pin_matches(&va, a, "1234"));
        assert!(!pin_matches(&va, a, "1235"));
        assert!(
            !pin_matches(&va, b, "1234"),
            "the same digits are another learner's different verifier"
        );
    }

    #[test]
    fn a_verifier_is_slow_and_salted_per_person_and_per_pin() {
        let a = LearnerId(Uuid::from_u128(1));
        let v1 = pin_verifier(a, "1234", &[1; SALT_LEN]);
        let v2 = pin_verifier(a, "1234", &[2; SALT_LEN]);
        assert_ne!(
            v1, v2,
            "the same PIN under another salt is another verifier"
        );
        assert!(
            v1.starts_with(&format!("pbkdf2-sha256${PIN_ITERATIONS}$")),
            "{v1}"
        );
        const { assert!(PIN_ITERATIONS >= 100_000) };
    }

    #[test]
    fn unreadable_or_cheap_verifiers_match_nothing() {
        let a = LearnerId(Uuid::from_u128(1));
        let v = pin_verifier_with(a, "1234", &[7; 16], MIN_ITERATIONS);
        assert!(pin_matches(&v, a, "1234"));
        let cheap = v.replacen(&format!("${MIN_ITERATIONS}$"), "$1$", 1);
        assert!(!pin_matches(&cheap, a, "1234"));
        for bad in [
            "",
            "pbkdf2-sha256$x$00$00",
            "pbkdf2-sha256$10000$zz$zz",
            &v[..v.len() - 2],
        ] {
            assert!(!pin_matches(bad, a, "1234"), "{bad}");
        }
    }

    #[test]
    fn verifiers_are_frozen() {
        let a = LearnerId(Uuid::from_u128(1));
        // Rosters handed out before carry the first form (computed independently with Python's
        // hashlib over the documented bytes); kiosks still accept it.
        let v1 = "26f1818a1ac383c484592aea9ba1776266d2078779304c063a419b0c39f1a1c4";
        assert_eq!(legacy_verifier(a, "0000"), v1);
        assert!(pin_matches(v1, a, "0000"));
        assert!(!pin_matches(v1, a, "0001"));
        // The second form, checked against Python's hashlib.pbkdf2_hmac over the documented
        // bytes: pbkdf2_hmac("sha256", b"0000", b"HEARTH/pin/2\0" + uuid(1).bytes + bytes(16), 10000).
        let v2 = pin_verifier_with(a, "0000", &[0; 16], 10_000);
        assert_eq!(v2, FROZEN_V2);
        assert!(pin_matches(&v2, a, "0000"));
    }

    const FROZEN_V2: &str = "pbkdf2-sha256$10000$00000000000000000000000000000000$1124f684e53146eeabe688de6856fe47996efde9d3489304363ca6712a03ceb5";
}
