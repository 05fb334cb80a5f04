//! Revocation of device credentials and user tokens. A revoked token is deleted, so the very
//! next request with it is refused (`401 auth.invalid_credential`): every request looks its
//! token up in the store, nothing is cached.
//!
//! Revoking a device's credentials does not unenroll it: its receipts stay, and receipts it
//! signed still verify when another device relays them. To take a device out for good, revoke it
//! and review its flags.

use hearth_protocol::DeviceId;
use ring::digest;
use uuid::Uuid;

use crate::domain::{Principal, Service, ServiceError, ServiceResult};
use crate::store::Subject;

impl Service {
    /// Revokes every credential of `device`; how many there were. `by`: who asks (`None`: the
    /// service's administrator on the command line); an administrator only of the device's
    /// organisation, and another organisation's device is answered as not found.
    pub fn revoke_device(&self, by: Option<&Principal>, device: DeviceId) -> ServiceResult<u64> {
        let d = self.store.device(device)?;
        let d = match (d, by) {
            (Some(d), None) => d,
            (Some(d), Some(who)) if d.org == who.org() => {
                self.require_admin(who)?;
                d
            }
            _ => {
                return Err(ServiceError::NotFound("device.not_found", "no such device"));
            }
        };
        let n = self.store.revoke_tokens_of(&Subject::Device(d.id))?;
        tracing::warn!(target: "hearth::auth", device = %d.id, org = %d.org, tokens = n, "device credentials revoked");
        Ok(n)
    }

    /// Revokes every token of the administrator or trainer `user`, like [`Service::revoke_device`].
    pub fn revoke_user(&self, by: Option<&Principal>, user: Uuid) -> ServiceResult<u64> {
        let u = self.store.user(user)?;
        let u = match (u, by) {
            (Some(u), None) => u,
            (Some(u), Some(who)) if u.org == who.org() => {
                let own = matches!(who, Principal::User(me) if me.id == u.id);
                if !own {
                    self.require_admin(who)?;
                }
                u
            }
            _ => return Err(ServiceError::NotFound("user.not_found", "no such user")),
        };
        let n = self.store.revoke_tokens_of(&Subject::User(u.id))?;
        tracing::warn!(target: "hearth::auth", user = %u.id, org = %u.org, tokens = n, "user tokens revoked");
        Ok(n)
    }

    /// Revokes one token (a caller signing itself out, or an administrator holding a leaked
    /// token); whether it was valid.
    pub fn revoke_token(&self, token: &str) -> ServiceResult<bool> {
        let hash: [u8; 32] = digest::digest(&digest::SHA256, token.trim().as_bytes())
            .as_ref()
            .try_into()
            .expect("32 bytes");
        let found = self.store.revoke_token(&hash)?;
        tracing::warn!(target: "hearth::auth", found, "token revoked");
        Ok(found)
    }
}
