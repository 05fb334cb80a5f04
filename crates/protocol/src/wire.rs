//! Wire messages of the HTTP API (see crates/server and docs/api.md).
