//! Who is at the keyboard: the one place hearth-core decides whose study is recorded.
//!
//! Every receipt is recorded for the person this session names, and only through
//! [`Hearth::record`], which takes no learner: a front end cannot record for anyone else.
//!
//! - **A personal PC enrolled for a learner**: that learner is at the keyboard from the moment the
//!   store is opened (and from enrollment on), and nobody else can sign in.
//! - **Not enrolled yet**: a local learner profile signs in with [`Hearth::sign_in`].
//! - **A kiosk** (enrolled without a learner): the person who signed in with their PIN
//!   ([`Hearth::kiosk_sign_in`]); nobody between a sign-out and the next sign-in. The kiosk's own
//!   state (the policy, the open class, lock-outs) lives here too ([`crate::kiosk::Kiosk`]), so
//!   there is no second copy of who is signed in.

use hearth_protocol::{Event, LearnerId, SignInMethod};

pub use crate::error::SessionError;
use crate::kiosk::{Kiosk, KioskPolicy};
use crate::{Hearth, RecordedReceipt, Result};

/// Who is at the keyboard, and the kiosk's state on a shared machine.
#[derive(Debug, Default)]
pub(crate) struct Session {
    pub(crate) at_keyboard: Option<LearnerId>,
    pub(crate) kiosk: Option<Kiosk>,
}

impl Hearth {
    /// The person whose study is recorded now, if anyone: on a kiosk the person signed in
    /// there, elsewhere the learner signed in on this PC.
    pub fn at_keyboard(&self) -> Option<LearnerId> {
        match &self.session.kiosk {
            Some(kiosk) => kiosk.signed_in().map(|s| s.person),
            None => self.session.at_keyboard,
        }
    }

    /// The person at the keyboard, or `session.none`.
    pub fn require_at_keyboard(&self) -> Result<LearnerId> {
        self.at_keyboard()
            .ok_or_else(|| SessionError::NobodySignedIn.into())
    }

    /// Signs a learner in on a PC that is not a kiosk: any local profile before enrollment, only
    /// its learner once the PC is enrolled for one (`session.not_owner`); a kiosk signs people in
    /// with their PIN (`session.use_pin`). Leaves a lesson the previous person had open and
    /// records `learner_signed_in { method: sole_learner }`.
    pub fn sign_in(&mut self, learner: LearnerId) -> Result<RecordedReceipt> {
        match self.enrollment()? {
            Some(e) if e.owner.is_none() => return Err(SessionError::UsePin.into()),
            Some(e) if e.owner != Some(learner) => return Err(SessionError::NotTheOwner.into()),
            _ => {}
        }
        if self.at_keyboard() != Some(learner) {
            self.leave_lesson()?;
        }
        self.record_as(
            learner,
            Event::LearnerSignedIn {
                method: SignInMethod::SoleLearner,
            },
        )
    }

    /// Records `event` as `person`, who is at the keyboard from then on (if it is recorded).
    fn record_as(&mut self, person: LearnerId, event: Event) -> Result<RecordedReceipt> {
        let recorded = self.record_for(person, event)?;
        self.session.at_keyboard = Some(person);
        Ok(recorded)
    }

    /// Sets who is at the keyboard from the enrollment: its learner on a personal PC; kiosk mode
    /// (nobody signed in) on a shared one. Called when the store opens and after enrollment.
    pub(crate) fn resume_session(&mut self, policy: KioskPolicy) -> Result<()> {
        if let Some(e) = self.enrollment()? {
            match e.owner {
                Some(owner) => {
                    self.session.kiosk = None;
                    self.session.at_keyboard = Some(owner);
                }
                None if self.session.kiosk.is_none() => {
                    self.session.kiosk = Some(Kiosk::new(policy));
                    self.session.at_keyboard = None;
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Whether this PC is a kiosk (enrolled without a learner).
    pub fn is_kiosk(&self) -> bool {
        self.session.kiosk.is_some()
    }

    /// Kiosk mode with this policy (the idle sign-out, the wrong-PIN limits). Nobody is signed
    /// out by it; `kiosk.not_a_kiosk` on a personal PC.
    pub fn set_kiosk_policy(&mut self, policy: KioskPolicy) -> Result<()> {
        match self.session.kiosk.as_mut() {
            Some(k) => {
                k.set_policy(policy);
                Ok(())
            }
            None => Err(crate::kiosk::KioskError::NotAKiosk.into()),
        }
    }
}
