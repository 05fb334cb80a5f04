//! Kiosk PIN verifiers.
//!
//! The service hands a kiosk its organisation's roster with, for each person who has a PIN, a
//! verifier `hex(SHA-256("HEARTH/pin/1\0" || learner uuid bytes || PIN))`, so the kiosk checks
//! sign-ins with no network. Binding the learner id into the hash means one learner's PIN never
//! opens another learner, even when both chose the same digits.
//!
//! What this protects: one person signing in as another at a shared machine. What it does not:
//! a short PIN can be found from the verifier by anyone who copies the kiosk's database, so the
//! kiosk's data folder is owner-only and PIN sign-ins are throttled on the kiosk
//! (hearth-core's kiosk module); the receipts of every session stay signed and attributable.

use ring::digest;

use crate::ids::LearnerId;

const PIN_DOMAIN: &[u8] = b"HEARTH/pin/1\0";

/// The verifier stored for `learner`'s `pin`.
pub fn pin_verifier(learner: LearnerId, pin: &str) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(PIN_DOMAIN);
    ctx.update(learner.0.as_bytes());
    ctx.update(pin.as_bytes());
    hex::encode(ctx.finish())
}

/// Whether `pin` is `learner`'s PIN under `verifier`.
pub fn pin_matches(verifier: &str, learner: LearnerId, pin: &str) -> bool {
    // Both sides are SHA-256 digests of secret-dependent input; comparing digests leaks nothing
    // useful about the PIN through timing.
    pin_verifier(learner, pin).eq_ignore_ascii_case(verifier)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_pin_opens_only_its_own_learner() {
        let a = LearnerId(Uuid::from_u128(1));
        let b = LearnerId(Uuid::from_u128(2));
        let va = pin_verifier(a, "1234");
        assert!(pin_matches(&va, a, "1234"));
        assert!(!pin_matches(&va, a, "1235"));
        assert!(
            !pin_matches(&va, b, "1234"),
            "the same digits are another learner's different verifier"
        );
        assert_ne!(va, pin_verifier(b, "1234"));
    }

    #[test]
    fn verifier_is_frozen() {
        // Rosters already handed out carry this exact form (computed independently with Python's
        // hashlib over the documented bytes).
        assert_eq!(
            pin_verifier(LearnerId(Uuid::from_u128(1)), "0000"),
            "26f1818a1ac383c484592aea9ba1776266d2078779304c063a419b0c39f1a1c4"
        );
    }
}
