//! What one request and one client may cost: the limits the body extractors (`body.rs`), the
//! per-client guard (`guard.rs`) and the connection loop (`serve.rs`) enforce.

use std::time::Duration;

/// What one request and one client may cost. A compressed body is limited both as sent and as
/// decompressed, and the decompressor stops at the second limit, so a small bomb cannot make the
/// service allocate more. The rest bound time, connections, rates and bytes per client
/// (see `guard.rs` and docs/api.md "Limits").
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// JSON bodies, as sent and decompressed.
    pub json: usize,
    /// Receipt batches as sent (usually compressed).
    pub batch_wire: usize,
    /// Receipt batches after decompression.
    pub batch_decoded: usize,
    /// A request's headers must arrive within this, and a connection idle between requests is
    /// closed after it.
    pub header_timeout: Duration,
    /// A request's whole body must arrive within this (`408 request.timeout`).
    pub body_timeout: Duration,
    /// A request must be answered within this (`408 request.timeout`).
    pub request_timeout: Duration,
    /// Open connections in all. The service also keeps this below its open-files limit.
    pub max_connections: usize,
    /// Open connections from one address (a classroom behind one router shares one: 40 kiosks
    /// downloading a course on 3 lanes each is 120).
    pub max_connections_per_addr: usize,
    /// New connections per second from one address, and their burst.
    pub addr_connects_per_s: u32,
    pub addr_connect_burst: u32,
    /// Requests in flight from one address.
    pub max_in_flight_per_addr: usize,
    /// Requests in flight with one credential.
    pub max_in_flight_per_credential: usize,
    pub addr_requests_per_s: u32,
    pub addr_request_burst: u32,
    pub credential_requests_per_s: u32,
    pub credential_request_burst: u32,
    /// Body bytes (by `Content-Length`, in KiB) per address and per credential.
    pub addr_kib_per_s: u32,
    pub addr_kib_burst: u32,
    pub credential_kib_per_s: u32,
    pub credential_kib_burst: u32,
    /// Receipt batches and bundles decompressed, decoded and ingested at once, service-wide
    /// (the rest wait their turn with their compressed bytes only): bounds the memory of
    /// decoding whatever arrives at once.
    pub max_decoding_at_once: usize,
    /// Request bodies held in memory at once, service-wide, by their `Content-Length` (or the
    /// wire limit when it is not sent): past it `503 service.busy` with `Retry-After`.
    pub max_buffered_bytes: usize,
    /// Wrong enrollment codes or credentials one address may send per `guess_window`.
    pub guesses_per_window: u32,
    pub guess_window: Duration,
    /// Failed sign-ins and enrollment codes a minute, service-wide, that raise the alarm in the
    /// log (target `hearth::alarm`).
    pub alarm_failures_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            json: 64 * 1024,
            batch_wire: 4 * 1024 * 1024,
            batch_decoded: 8 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_connections_per_addr: 256,
            addr_connects_per_s: 100,
            addr_connect_burst: 400,
            max_in_flight_per_addr: 128,
            max_in_flight_per_credential: 4,
            addr_requests_per_s: 200,
            addr_request_burst: 1000,
            credential_requests_per_s: 50,
            credential_request_burst: 300,
            addr_kib_per_s: 8 * 1024,
            addr_kib_burst: 64 * 1024,
            credential_kib_per_s: 2 * 1024,
            credential_kib_burst: 16 * 1024,
            max_decoding_at_once: 2,
            max_buffered_bytes: 256 * 1024 * 1024,
            guesses_per_window: 30,
            guess_window: Duration::from_secs(300),
            alarm_failures_per_minute: 60,
        }
    }
}
