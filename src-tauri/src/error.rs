//! The one error contract of the shell: every command fails with `{code, message}`
//! ([`hearth_protocol::ErrorBody`]). `code` is stable and the UI picks its zh-CN or English text
//! by it; `message` is the English text, shown only for codes the UI does not know.

use hearth_core::CoreError;
use hearth_protocol::ErrorBody;
use serde::{Serialize, Serializer};

/// A command's error, serialized as `{code, message}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandError(pub ErrorBody);

impl CommandError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self(ErrorBody::new(code, message))
    }

    pub fn code(&self) -> &str {
        &self.0.code
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.code, self.0.message)
    }
}

impl std::error::Error for CommandError {}

impl From<CoreError> for CommandError {
    fn from(error: CoreError) -> Self {
        tracing::warn!(code = error.code(), %error, "command failed");
        Self(error.to_body())
    }
}

impl CommandError {
    /// A failed call to the service, with the sync engine's codes (`sync.offline`, the
    /// service's own code, `sync.bad_answer`).
    pub fn from_sync(error: hearth_core::sync::SyncError) -> Self {
        tracing::warn!(code = error.code(), %error, "service call failed");
        Self(ErrorBody::new(error.code(), error.to_string()))
    }
}

impl Serialize for CommandError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A command's text argument as the typed value it names, or `input.invalid` saying which.
pub(crate) fn parse<T: std::str::FromStr>(value: &str, what: &str) -> Result<T, CommandError> {
    value
        .parse()
        .map_err(|_| CommandError::new("input.invalid", format!("not a valid {what}")))
}
