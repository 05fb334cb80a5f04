//! Kiosk sign-in cards: a printed QR code holding a per-learner secret.
//!
//! A PIN can be told to a friend, who then studies in the learner's place (代学). A card the
//! learner holds raises the bar, and — unlike a PIN — it lets the service check afterwards that
//! the card really was at the kiosk: the card carries a 32-byte secret `S` the service made, the
//! kiosk's roster carries only a verifier of it, and a card sign-in receipt carries a proof that
//! only a holder of `S` can compute, bound to the receipt's place in the kiosk's chain.
//!
//! ```text
//! card text = "HEARTH-CARD/1/" learner uuid "/" serial (decimal) "/" hex(S)   (case-insensitive)
//! verifier  = SHA-256("HEARTH/card/1\0" || learner uuid bytes || serial:u32 BE || S)
//! proof     = HMAC-SHA256(key = S, "HEARTH/card-proof/1\0" || device uuid bytes
//!                          || learner uuid bytes || serial:u32 BE || seq:u64 BE || prev id)
//! ```
//!
//! `S` is 32 random bytes, so a fast hash is enough for the verifier: nobody finds `S` from it.
//! The proof names the device, the learner, and the chain position (sequence number and the id of
//! the receipt it follows) of the sign-in receipt that carries it, so a proof can never be
//! copied into another receipt. A kiosk forgets `S` once it has signed.
//!
//! What it does not stop: a modified kiosk that once read a card can keep `S` and make further
//! sign-ins with it; a card lent to a friend works for the friend. Reissuing a card
//! (a new serial and secret) ends both.

use ring::{digest, hmac};

use crate::ids::{DeviceId, LearnerId, ReceiptId};

/// The fixed start of every card text.
pub const CARD_PREFIX: &str = "HEARTH-CARD/1/";
const VERIFIER_DOMAIN: &[u8] = b"HEARTH/card/1\0";
const PROOF_DOMAIN: &[u8] = b"HEARTH/card-proof/1\0";
/// Bytes of a card secret.
pub const SECRET_LEN: usize = 32;
/// Longest card text read (a scanner that runs on must not feed an unbounded string).
pub const MAX_CARD_TEXT: usize = 200;

/// What a card holds.
#[derive(Clone, PartialEq, Eq)]
pub struct Card {
    pub learner: LearnerId,
    pub serial: u32,
    pub secret: [u8; SECRET_LEN],
}

impl std::fmt::Debug for Card {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card")
            .field("learner", &self.learner)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

/// Why a card text was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CardTextError {
    #[error("this is not a Hearth card (the text does not start with HEARTH-CARD/1/)")]
    NotACard,
    #[error("the card text is damaged or incomplete")]
    Malformed,
}

impl Card {
    /// The text printed in the card's QR code (upper case: QR's compact alphanumeric mode).
    pub fn text(&self) -> String {
        format!(
            "{CARD_PREFIX}{}/{}/{}",
            self.learner.0,
            self.serial,
            hex::encode(self.secret)
        )
        .to_uppercase()
    }

    /// Reads a card text as a scanner types it: surrounding white space is ignored, letters in
    /// either case.
    pub fn parse(text: &str) -> Result<Card, CardTextError> {
        let text = text.trim();
        if text.len() > MAX_CARD_TEXT {
            return Err(CardTextError::Malformed);
        }
        let upper = text.to_ascii_uppercase();
        let Some(rest) = upper.strip_prefix(CARD_PREFIX) else {
            return Err(CardTextError::NotACard);
        };
        let mut parts = rest.split('/');
        let (Some(learner), Some(serial), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CardTextError::Malformed);
        };
        let learner = uuid::Uuid::parse_str(learner).map_err(|_| CardTextError::Malformed)?;
        if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardTextError::Malformed);
        }
        let serial: u32 = serial.parse().map_err(|_| CardTextError::Malformed)?;
        let secret: [u8; SECRET_LEN] = hex::decode(secret)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or(CardTextError::Malformed)?;
        Ok(Card {
            learner: LearnerId(learner),
            serial,
            secret,
        })
    }

    /// The verifier the kiosk's roster carries for this card (hex).
    pub fn verifier(&self) -> String {
        card_verifier(self.learner, self.serial, &self.secret)
    }

    /// The proof for a sign-in receipt of this card at chain position (`seq`, `prev`) of
    /// `device`.
    pub fn proof(&self, device: DeviceId, seq: u64, prev: ReceiptId) -> [u8; 32] {
        card_proof(&self.secret, device, self.learner, self.serial, seq, prev)
    }
}

/// The verifier of a card (hex of the SHA-256 above).
pub fn card_verifier(learner: LearnerId, serial: u32, secret: &[u8; SECRET_LEN]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(VERIFIER_DOMAIN);
    ctx.update(learner.0.as_bytes());
    ctx.update(&serial.to_be_bytes());
    ctx.update(secret);
    hex::encode(ctx.finish())
}

/// Whether `card` matches `verifier`, a roster's hex verifier for the same learner and serial.
/// Both sides are digests of a high-entropy secret; comparing them leaks nothing useful.
pub fn card_matches(verifier: &str, card: &Card) -> bool {
    card.verifier().eq_ignore_ascii_case(verifier.trim())
}

/// The sign-in proof (see the module documentation).
pub fn card_proof(
    secret: &[u8; SECRET_LEN],
    device: DeviceId,
    learner: LearnerId,
    serial: u32,
    seq: u64,
    prev: ReceiptId,
) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(PROOF_DOMAIN);
    ctx.update(device.0.as_bytes());
    ctx.update(learner.0.as_bytes());
    ctx.update(&serial.to_be_bytes());
    ctx.update(&seq.to_be_bytes());
    ctx.update(&prev.0);
    let tag = ctx.sign();
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Whether `proof` is the right proof for this position, in constant time.
pub fn proof_matches(
    secret: &[u8; SECRET_LEN],
    device: DeviceId,
    learner: LearnerId,
    serial: u32,
    seq: u64,
    prev: ReceiptId,
    proof: &[u8; 32],
) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut msg = Vec::with_capacity(PROOF_DOMAIN.len() + 16 + 16 + 4 + 8 + 32);
    msg.extend_from_slice(PROOF_DOMAIN);
    msg.extend_from_slice(device.0.as_bytes());
    msg.extend_from_slice(learner.0.as_bytes());
    msg.extend_from_slice(&serial.to_be_bytes());
    msg.extend_from_slice(&seq.to_be_bytes());
    msg.extend_from_slice(&prev.0);
    hmac::verify(&key, &msg, proof).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn card() -> Card {
        Card {
            learner: LearnerId(Uuid::from_u128(0x1234)),
            serial: 3,
            secret: [9; SECRET_LEN],
        }
    }

    #[test]
    fn a_card_text_reads_back_in_either_case_with_white_space() {
        let c = card();
        let t = c.text();
        assert!(t.starts_with("HEARTH-CARD/1/"));
        assert_eq!(Card::parse(&t).unwrap(), c);
        assert_eq!(
            Card::parse(&format!("  {}\n", t.to_lowercase())).unwrap(),
            c
        );
    }

    #[test]
    fn damaged_card_texts_are_refused_with_their_reason() {
        let t = card().text();
        assert_eq!(Card::parse("1234"), Err(CardTextError::NotACard));
        assert_eq!(
            Card::parse(&t[..t.len() - 2]),
            Err(CardTextError::Malformed)
        );
        assert_eq!(
            Card::parse(&format!("{t}/X")),
            Err(CardTextError::Malformed)
        );
        let bad_serial = t.replace("/3/", "/-3/");
        assert_eq!(Card::parse(&bad_serial), Err(CardTextError::Malformed));
        assert_eq!(
            Card::parse(&format!("{t}{}", "0".repeat(300))),
            Err(CardTextError::Malformed)
        );
    }

    #[test]
    fn the_verifier_binds_learner_serial_and_secret() {
        let c = card();
        let v = c.verifier();
        assert!(card_matches(&v, &c));
        let mut other = c.clone();
        other.serial = 4;
        assert!(!card_matches(&v, &other));
        let mut other = c.clone();
        other.secret[0] ^= 1;
        assert!(!card_matches(&v, &other));
        let mut other = c.clone();
        other.learner = LearnerId(Uuid::from_u128(7));
        assert!(!card_matches(&v, &other));
    }

    #[test]
    fn a_proof_holds_only_at_its_own_chain_position() {
        let c = card();
        let dev = DeviceId(Uuid::from_u128(5));
        let prev = ReceiptId([1; 32]);
        let p = c.proof(dev, 10, prev);
        assert!(proof_matches(&c.secret, dev, c.learner, 3, 10, prev, &p));
        assert!(!proof_matches(&c.secret, dev, c.learner, 3, 11, prev, &p));
        assert!(!proof_matches(
            &c.secret,
            dev,
            c.learner,
            3,
            10,
            ReceiptId([2; 32]),
            &p
        ));
        assert!(!proof_matches(
            &c.secret,
            DeviceId(Uuid::from_u128(6)),
            c.learner,
            3,
            10,
            prev,
            &p
        ));
        assert!(!proof_matches(&[8; 32], dev, c.learner, 3, 10, prev, &p));
    }
}
