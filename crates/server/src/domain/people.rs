//! People sign in to the console (issue #15): administrators and trainers with a login name and
//! a password, sessions, lock-out.
//!
//! - **Passwords** are hashed with argon2id (the RustCrypto `argon2` crate) at m = 19 MiB,
//!   t = 2, p = 1 (OWASP's first recommended setting), a 16-byte salt from the service's
//!   randomness, kept as a PHC string (which names the parameters, so they can be raised later
//!   and old hashes still verify). At least 10 characters, at most 256 bytes.
//! - **Sessions**: a random 32-byte token in an HttpOnly, SameSite=Strict cookie (Secure when the
//!   service's public URL is https); only its SHA-256 is stored, with an expiry 8 hours after
//!   sign-in. Signing out deletes it; setting a new password ends every session of the person.
//! - **CSRF**: every session has a second random token, handed to the page at sign-in and by
//!   `GET /console/api/session`, which every state-changing console request must send back in
//!   the `X-CSRF-Token` header (a synchroniser token, checked against the session's). A bearer
//!   token (scripts) needs none: a browser never sends it by itself.
//! - **Lock-out**, persisted in the database (so it holds across restarts and processes): a
//!   login with 5 failed sign-ins in 15 minutes since its last successful one is refused, even
//!   with the right password, until the oldest of them is 15 minutes old; an address with 20
//!   failures in 15 minutes is refused whichever login it names. A locked attempt does not run
//!   the password hash and is not counted. An unknown login costs the same hash as a known one
//!   and is locked the same way, so neither the time nor the lock-out tells which logins exist.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use serde_json::json;
use uuid::Uuid;

use super::audit::Actor;
use super::{Service, ServiceError, ServiceResult, sha256};
use crate::env::random_bytes;
use crate::store::{ConsoleAccount, ConsoleSession, Role, SignInFailure, StoreError, User};

/// The console's numbers.
#[derive(Clone, Copy, Debug)]
pub struct ConsolePolicy {
    pub session_ms: i64,
    /// Failed sign-ins of one account in the window before it is locked.
    pub account_failures: u64,
    /// Failed sign-ins from one address in the window before it is refused.
    pub address_failures: u64,
    pub failure_window_ms: i64,
}

impl Default for ConsolePolicy {
    fn default() -> Self {
        Self {
            session_ms: 8 * 3600 * 1000,
            account_failures: 5,
            address_failures: 20,
            failure_window_ms: 15 * 60 * 1000,
        }
    }
}

/// argon2id, m = 19 MiB, t = 2, p = 1.
fn hasher() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters"),
    )
}

/// A verifier nobody's password matches, hashed once, so that an unknown login costs the same
/// time as a known one.
fn dummy_phc() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::encode_b64(&[7; 16]).expect("salt");
        hasher()
            .hash_password(b"no password is this one", &salt)
            .expect("hash")
            .to_string()
    })
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A login name: 3 to 64 characters of letters, digits, `.`, `-`, `_`, `@`; compared lower case.
pub fn normalise_login(raw: &str) -> ServiceResult<String> {
    let l = raw.trim().to_lowercase();
    let ok = (3..=64).contains(&l.chars().count())
        && l.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    if !ok {
        return Err(ServiceError::Invalid(
            "console.invalid_login",
            "a login name has 3 to 64 letters, digits, '.', '-', '_' or '@'".into(),
        ));
    }
    Ok(l)
}

/// What a successful sign-in hands back.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    /// For the cookie (shown once; only its hash is stored).
    pub session_token: String,
    /// For the `X-CSRF-Token` header.
    pub csrf_token: String,
    pub expires_ms: i64,
}

/// A signed-in person, from their session cookie.
#[derive(Clone, Debug)]
pub struct ConsoleCaller {
    pub user: User,
    pub session: ConsoleSession,
}

impl ConsoleCaller {
    pub fn csrf_token(&self) -> String {
        b64(&self.session.csrf)
    }
}

impl Service {
    /// Sets (or replaces) a person's console login and password, and ends their sessions.
    pub fn set_password(&self, user: Uuid, login: &str, password: &str) -> ServiceResult<()> {
        let login = normalise_login(login)?;
        if password.chars().count() < 10 || password.len() > 256 {
            return Err(ServiceError::Invalid(
                "console.weak_password",
                "a password has at least 10 characters (and at most 256 bytes)".into(),
            ));
        }
        let u = self
            .store
            .user(user)?
            .ok_or(ServiceError::NotFound("user.not_found", "no such user"))?;
        let salt = SaltString::encode_b64(&random_bytes::<16>(&*self.random))
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let phc = hasher()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .to_string();
        self.store
            .put_console_account(&ConsoleAccount {
                user: u.id,
                org: u.org,
                login: login.clone(),
                password_phc: phc,
                set_ms: self.now(),
                last_ok_ms: None,
            })
            .map_err(|e| match e {
                StoreError::Conflict(_) => ServiceError::Conflict(
                    "console.login_taken",
                    "another person has this login name",
                ),
                e => e.into(),
            })?;
        self.store.delete_console_sessions_of(u.id)?;
        self.audit(
            u.org,
            Actor::Cli,
            "password.set",
            json!({ "user": u.id, "login": login }),
        )?;
        Ok(())
    }

    /// Checks a login and password from `address` and opens a session.
    pub fn sign_in(&self, login: &str, password: &str, address: &str) -> ServiceResult<SignedIn> {
        let policy = self.config.console;
        let now = self.now();
        let window_start = now - policy.failure_window_ms;
        let bad =
            || ServiceError::Unauthorized("console.bad_credentials", "wrong login or password");
        let (_, from_addr) = self
            .store
            .sign_in_failures_since(None, address, window_start)?;
        if from_addr >= policy.address_failures {
            return Err(ServiceError::Locked(
                "console.address_locked",
                "too many failed sign-ins from this address; try again in 15 minutes",
            ));
        }
        // Failures are counted by the login as typed (an invalid one shortened), known or not.
        let (login, valid) = match normalise_login(login) {
            Ok(l) => (l, true),
            Err(_) => (
                login.trim().to_lowercase().chars().take(64).collect(),
                false,
            ),
        };
        let account = if valid {
            self.store.console_account(&login)?
        } else {
            None
        };
        let last_ok = account.as_ref().and_then(|a| a.last_ok_ms);
        let since = window_start.max(last_ok.map_or(i64::MIN, |t| t + 1));
        let (of_login, _) = self
            .store
            .sign_in_failures_since(Some(&login), address, since)?;
        if of_login >= policy.account_failures {
            return Err(ServiceError::Locked(
                "console.account_locked",
                "too many failed sign-ins for this account; try again in 15 minutes",
            ));
        }
        let phc = account
            .as_ref()
            .map_or(dummy_phc(), |a| a.password_phc.as_str());
        let parsed = PasswordHash::new(phc).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let ok = hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && account.is_some();
        let user = match &account {
            Some(a) if ok => self.store.user(a.user)?,
            _ => None,
        };
        let Some(user) = user else {
            self.store.add_sign_in_failure(&SignInFailure {
                account: account.as_ref().map(|a| (a.user, a.org)),
                login: login.clone(),
                address: address.to_owned(),
                at_ms: now,
            })?;
            if let Some(a) = &account {
                self.audit(
                    a.org,
                    Actor::User(a.user),
                    "sign_in.failed",
                    json!({ "address": address }),
                )?;
            }
            // Old failures count for nothing; forget them now and then.
            if now % 64 == 0 {
                self.store.prune_sign_in_failures(now - 24 * 3600 * 1000)?;
            }
            return Err(bad());
        };
        let session_raw: [u8; 32] = random_bytes(&*self.random);
        let csrf: [u8; 32] = random_bytes(&*self.random);
        let session_token = format!("hs1_{}", b64(&session_raw));
        let session = ConsoleSession {
            hash: sha256(session_token.as_bytes()),
            org: user.org,
            user: user.id,
            csrf,
            created_ms: now,
            expires_ms: now + policy.session_ms,
        };
        self.store.put_console_session(&session)?;
        self.store.console_signed_in(user.id, now)?;
        self.audit(
            user.org,
            Actor::User(user.id),
            "sign_in.ok",
            json!({ "address": address }),
        )?;
        Ok(SignedIn {
            user,
            session_token,
            csrf_token: b64(&csrf),
            expires_ms: session.expires_ms,
        })
    }

    /// The person a session cookie belongs to.
    pub fn console_caller(&self, session_token: &str) -> ServiceResult<ConsoleCaller> {
        let none = ServiceError::Unauthorized("console.no_session", "sign in first");
        if session_token.len() > 200 {
            return Err(none);
        }
        let session = self
            .store
            .console_session(&sha256(session_token.as_bytes()))?
            .ok_or(none)?;
        if session.expires_ms <= self.now() {
            self.store.delete_console_session(&session.hash)?;
            return Err(ServiceError::Unauthorized(
                "console.session_expired",
                "the session has ended; sign in again",
            ));
        }
        let user = self
            .store
            .user(session.user)?
            .ok_or(ServiceError::Unauthorized(
                "console.no_session",
                "sign in first",
            ))?;
        Ok(ConsoleCaller { user, session })
    }

    /// Checks the anti-forgery token a state-changing request sent.
    pub fn check_csrf(&self, caller: &ConsoleCaller, sent: Option<&str>) -> ServiceResult<()> {
        let expected = caller.csrf_token();
        match sent {
            Some(s) if sha256(s.as_bytes()) == sha256(expected.as_bytes()) => Ok(()),
            _ => Err(ServiceError::Forbidden(
                "console.csrf",
                "the request lacks this session's X-CSRF-Token header",
            )),
        }
    }

    /// Ends a session.
    pub fn sign_out(&self, caller: &ConsoleCaller) -> ServiceResult<()> {
        self.store.delete_console_session(&caller.session.hash)?;
        self.audit(
            caller.user.org,
            Actor::User(caller.user.id),
            "sign_out",
            json!({}),
        )?;
        Ok(())
    }

    /// An administrator of the caller's organisation, or refused.
    pub fn require_console_admin(&self, user: &User) -> ServiceResult<()> {
        if user.role != Role::Admin {
            return Err(ServiceError::Forbidden(
                "auth.forbidden",
                "only an administrator may do this",
            ));
        }
        Ok(())
    }
}
