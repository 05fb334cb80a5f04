//! Kiosk sign-in cards (issue #17 item 3): issuing them, and what a kiosk's roster carries.
//!
//! The service makes each card's 32-byte secret (injected randomness) and keeps it
//! (`learner_cards`); the card's QR code holds it (`hearth_protocol::card`); a kiosk's roster
//! carries only a verifier of the learner's current card. A card sign-in receipt carries a proof
//! made with the secret, which the credit rules check (`credit::facts`, docs/credit.md). Issuing
//! a card again replaces the old one: kiosks stop taking it at their next roster pull.

use hearth_protocol::card::Card;
use hearth_protocol::wire::CardVerifier;
use hearth_protocol::{ClassId, LearnerId};
use serde::Serialize;

use super::{Service, ServiceError, ServiceResult};
use crate::env::random_bytes;

/// The QR code of a card's text as an SVG image (one unit a module, a four-module quiet zone),
/// for the console's printable card sheet.
pub fn card_qr_svg(text: &str) -> ServiceResult<String> {
    use qrcode::{Color, EcLevel, QrCode};
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| ServiceError::Internal(format!("card QR code: {e}")))?;
    let n = code.width();
    let colors = code.to_colors();
    let size = n + 8;
    let mut path = String::new();
    for (i, c) in colors.iter().enumerate() {
        if *c == Color::Dark {
            let (x, y) = (i % n + 4, i / n + 4);
            path += &format!("M{x} {y}h1v1h-1z");
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

/// A card just issued, to print.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCard {
    pub learner_id: LearnerId,
    pub name: String,
    /// The ID number masked but for its last four characters.
    pub national_id_masked: String,
    pub serial: u32,
    /// The text of the card's QR code (`HEARTH-CARD/1/…`): a secret, print it only on the card.
    pub card_text: String,
}

impl Service {
    /// Issues `learner` a new sign-in card (replacing the one they had). `person.not_found`
    /// when there is no such learner.
    pub fn issue_card(&self, learner: LearnerId) -> ServiceResult<IssuedCard> {
        let l = self.store.learner(learner)?.ok_or(ServiceError::NotFound(
            "person.not_found",
            "no learner with this id",
        ))?;
        let secret: [u8; 32] = random_bytes(&*self.random);
        let serial =
            self.store
                .issue_card(learner, &secret, self.now())?
                .ok_or(ServiceError::NotFound(
                    "person.not_found",
                    "no learner with this id",
                ))?;
        tracing::info!(learner = %learner, serial, "sign-in card issued");
        let card = Card {
            learner,
            serial,
            secret,
        };
        Ok(IssuedCard {
            learner_id: learner,
            name: l.name,
            national_id_masked: format!("**************{}", l.national_id_tail),
            serial,
            card_text: card.text(),
        })
    }

    /// Issues a new card to every learner of `class`, by name. `class.not_found`.
    pub fn issue_class_cards(&self, class: ClassId) -> ServiceResult<Vec<IssuedCard>> {
        if self.store.class(class.0)?.is_none() {
            return Err(ServiceError::NotFound("class.not_found", "no such class"));
        }
        let mut learners = self.store.learners_of_class(class.0)?;
        learners.sort_by(|a, b| (a.name.as_bytes(), a.id.0).cmp(&(b.name.as_bytes(), b.id.0)));
        learners
            .into_iter()
            .map(|l| self.issue_card(l.id))
            .collect()
    }

    /// The verifier of `learner`'s current card, for a kiosk's roster.
    pub(crate) fn card_verifier(&self, learner: LearnerId) -> ServiceResult<Option<CardVerifier>> {
        Ok(self
            .store
            .cards_of(learner)?
            .into_iter()
            .rev()
            .find(|c| c.replaced_ms.is_none())
            .map(|c| CardVerifier {
                serial: c.serial,
                verifier: hearth_protocol::card::card_verifier(learner, c.serial, &c.secret),
            }))
    }
}
