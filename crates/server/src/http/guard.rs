//! Limits per client, so that one device, one credential or one address cannot take the
//! service from everyone else: requests in flight, request rate and bytes per credential and per
//! address (`429` with `Retry-After`), open connections per address, a bound on wrong
//! enrollment codes and credentials per address, and a log line for every failed sign-in with an
//! alarm when they come faster than a person could type.
//!
//! Rates are `governor` token buckets keyed by address or credential. Counting requests in flight
//! per key is written here by hand: tower's `ConcurrencyLimit` is one shared pool (the pool is
//! what a slow client used to fill for everyone) and governor limits rates, not concurrency.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ring::digest;

use super::ApiError;
use super::limits::Limits;

/// Counts something per key (requests in flight, open connections) and refuses past a maximum.
#[derive(Debug)]
pub(crate) struct PerKey<K: Hash + Eq> {
    map: Mutex<HashMap<K, usize>>,
}

impl<K: Hash + Eq> Default for PerKey<K> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
}

/// One counted use; the count goes down when it is dropped.
#[derive(Debug)]
pub(crate) struct Slot<K: Hash + Eq + Clone> {
    set: Arc<PerKey<K>>,
    key: K,
}

impl<K: Hash + Eq + Clone> PerKey<K> {
    pub(crate) fn try_take(self: &Arc<Self>, key: K, max: usize) -> Option<Slot<K>> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key.clone()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            set: self.clone(),
            key,
        })
    }

    #[cfg(test)]
    fn count(&self, key: &K) -> usize {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key).copied().unwrap_or(0)
    }
}

impl<K: Hash + Eq + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut map = self.set.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                // Keys leave the map when unused, so random keys cannot grow it.
                map.remove(&self.key);
            }
        }
    }
}

/// A credential as the limiter knows it: SHA-256 of the bearer token as sent (checked or not; a
/// wrong one is refused by authentication, and still counts against its address).
type CredKey = [u8; 32];

/// Failed guesses (wrong enrollment codes, wrong or revoked credentials) of one address in the
/// current window. A fixed window counter, written by hand because the check must look without
/// spending (a right code must not be charged) and governor's buckets spend on every check.
#[derive(Debug, Default)]
struct Guesses {
    by_addr: HashMap<IpAddr, (Instant, u32)>,
    window_start: Option<Instant>,
    window_total: u64,
    alarmed: bool,
}

type Keyed<K> = DefaultKeyedRateLimiter<K>;

/// The shared state of the limits.
pub struct Guard {
    limits: Limits,
    addr_inflight: Arc<PerKey<IpAddr>>,
    cred_inflight: Arc<PerKey<CredKey>>,
    pub(crate) addr_connections: Arc<PerKey<IpAddr>>,
    addr_connects: Keyed<IpAddr>,
    addr_rate: Keyed<IpAddr>,
    cred_rate: Keyed<CredKey>,
    addr_bytes: Keyed<IpAddr>,
    cred_bytes: Keyed<CredKey>,
    guesses: Mutex<Guesses>,
    checks: AtomicU64,
    clock: DefaultClock,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").finish_non_exhaustive()
    }
}

fn quota(per_second: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_second.max(1)).expect("non-zero");
    Quota::per_second(rate).allow_burst(NonZeroU32::new(burst.max(1)).expect("non-zero"))
}

/// `429` with a `Retry-After` of at least a second.
pub(crate) fn too_many(code: &'static str, message: String, wait: Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message);
    e.retry_after = Some(secs.max(1));
    e
}

fn bearer_key(headers: &HeaderMap) -> Option<CredKey> {
    let v = headers.get(header::AUTHORIZATION)?.as_bytes();
    let t = v
        .strip_prefix(b"Bearer ")
        .or_else(|| v.strip_prefix(b"bearer "))?;
    digest::digest(&digest::SHA256, t.trim_ascii())
        .as_ref()
        .try_into()
        .ok()
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The address of the connection a request came on (absent when the router is driven without a
/// socket, as in handler tests).
pub(crate) fn peer(req_ext: &axum::http::Extensions) -> Option<IpAddr> {
    req_ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// The caller's address, as an extractor.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(peer(&parts.extensions)))
    }
}

impl Guard {
    pub fn new(limits: Limits) -> Self {
        let l = &limits;
        Self {
            addr_inflight: Default::default(),
            cred_inflight: Default::default(),
            addr_connections: Default::default(),
            addr_connects: Keyed::hashmap(quota(l.addr_connects_per_s, l.addr_connect_burst)),
            addr_rate: Keyed::hashmap(quota(l.addr_requests_per_s, l.addr_request_burst)),
            cred_rate: Keyed::hashmap(quota(
                l.credential_requests_per_s,
                l.credential_request_burst,
            )),
            addr_bytes: Keyed::hashmap(quota(l.addr_kib_per_s, l.addr_kib_burst)),
            cred_bytes: Keyed::hashmap(quota(l.credential_kib_per_s, l.credential_kib_burst)),
            guesses: Mutex::new(Guesses::default()),
            checks: AtomicU64::new(0),
            clock: DefaultClock::default(),
            limits,
        }
    }

    /// Rate state of keys unused for longer than a bucket takes to refill is forgotten now and
    /// then, so that many addresses or made-up credentials cannot grow it without end.
    fn tidy(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.addr_rate.retain_recent();
            self.cred_rate.retain_recent();
            self.addr_bytes.retain_recent();
            self.cred_bytes.retain_recent();
            self.addr_connects.retain_recent();
        }
    }

    fn rate<K: Hash + Eq + Clone>(
        &self,
        limiter: &Keyed<K>,
        key: &K,
        cells: u32,
        code: &'static str,
        what: &str,
    ) -> Result<(), ApiError> {
        let Some(n) = NonZeroU32::new(cells) else {
            return Ok(());
        };
        match limiter.check_key_n(key, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(too_many(
                code,
                format!("too many {what}; try again later"),
                not_until.wait_time_from(self.clock.now()),
            )),
            // More than the whole burst at once: never fits, so wait for a full bucket.
            Err(_) => Err(too_many(
                code,
                format!("too many {what}; try again later"),
                Duration::from_secs(60),
            )),
        }
    }

    /// May `addr` open another connection now? Checked at accept, before any request is read,
    /// so that a client reconnecting as fast as it can costs a static refusal each time.
    pub(crate) fn may_connect(&self, addr: IpAddr) -> bool {
        self.tidy();
        self.addr_connects.check_key(&addr).is_ok()
    }

    /// Is `addr` allowed another guess (an enrollment code, a credential)? Looks without
    /// counting.
    pub(crate) fn may_guess(&self, addr: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(addr) = addr else { return Ok(()) };
        let g = self.guesses.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((start, n)) = g.by_addr.get(&addr) {
            let left = self.limits.guess_window.saturating_sub(start.elapsed());
            if !left.is_zero() && *n >= self.limits.guesses_per_window {
                return Err(too_many(
                    "auth.too_many_failures",
                    "too many wrong codes or credentials from this address; try again later".into(),
                    left,
                ));
            }
        }
        Ok(())
    }

    /// Records a failed sign-in or enrollment (`code`), logs it, and raises the alarm when the
    /// service-wide failure rate passes [`Limits::alarm_failures_per_minute`].
    pub(crate) fn failed_guess(&self, addr: Option<IpAddr>, what: &str, code: &str) {
        let now = Instant::now();
        let mut g = self.guesses.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.limits.guess_window;
        if let Some(addr) = addr {
            let e = g.by_addr.entry(addr).or_insert((now, 0));
            if now.duration_since(e.0) >= window {
                *e = (now, 0);
            }
            e.1 = e.1.saturating_add(1);
            if g.by_addr.len() > 100_000 {
                g.by_addr
                    .retain(|_, (s, _)| now.duration_since(*s) < window);
            }
        }
        let minute = Duration::from_secs(60);
        if g.window_start
            .is_none_or(|s| now.duration_since(s) >= minute)
        {
            g.window_start = Some(now);
            g.window_total = 0;
            g.alarmed = false;
        }
        g.window_total += 1;
        let addr_text = addr.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
        tracing::warn!(target: "hearth::auth", addr = %addr_text, what, code, "failed sign-in");
        if !g.alarmed && g.window_total >= u64::from(self.limits.alarm_failures_per_minute) {
            g.alarmed = true;
            tracing::error!(
                target: "hearth::alarm",
                failures = g.window_total,
                "ALARM: failed sign-ins and enrollment codes above {} a minute: someone may be guessing",
                self.limits.alarm_failures_per_minute
            );
        }
    }
}

/// Every request passes here before routing: rate and bytes per address and per credential, and
/// requests in flight per address and per credential. The slots are held until the answer is
/// made.
pub async fn limit(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    guard.tidy();
    let l = &guard.limits;
    let addr = peer(req.extensions());
    let cred = bearer_key(req.headers());
    // Bytes are charged from Content-Length before the body is read (the body reader holds the
    // request to it); in KiB, rounded up.
    let kib = content_length(req.headers())
        .map(|n| u32::try_from(n.div_ceil(1024)).unwrap_or(u32::MAX))
        .unwrap_or(0);
    if let Some(a) = addr {
        if let Err(r) = guard.rate(
            &guard.addr_rate,
            &a,
            1,
            "request.rate_limited",
            "requests from this address",
        ) {
            return r.into_response();
        }
        if let Err(r) = guard.rate(
            &guard.addr_bytes,
            &a,
            kib,
            "request.bytes_limited",
            "bytes from this address",
        ) {
            return r.into_response();
        }
    }
    if let Some(c) = &cred {
        if let Err(r) = guard.rate(
            &guard.cred_rate,
            c,
            1,
            "request.rate_limited",
            "requests with this credential",
        ) {
            return r.into_response();
        }
        if let Err(r) = guard.rate(
            &guard.cred_bytes,
            c,
            kib,
            "request.bytes_limited",
            "bytes with this credential",
        ) {
            return r.into_response();
        }
    }
    let _addr_slot = match addr {
        Some(a) => match guard.addr_inflight.try_take(a, l.max_in_flight_per_addr) {
            Some(s) => Some(s),
            None => {
                return too_many(
                    "request.too_many_at_once",
                    format!(
                        "at most {} requests from one address at once",
                        l.max_in_flight_per_addr
                    ),
                    Duration::from_secs(1),
                )
                .into_response();
            }
        },
        None => None,
    };
    let _cred_slot = match cred {
        Some(c) => match guard
            .cred_inflight
            .try_take(c, l.max_in_flight_per_credential)
        {
            Some(s) => Some(s),
            None => {
                return too_many(
                    "request.too_many_at_once",
                    format!(
                        "at most {} requests with one credential at once",
                        l.max_in_flight_per_credential
                    ),
                    Duration::from_secs(1),
                )
                .into_response();
            }
        },
        None => None,
    };
    let has_body = content_length(req.headers()).is_some_and(|n| n > 0)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let timeout = l.request_timeout;
    let mut res = match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request.timeout",
            format!(
                "the request took longer than {} s; try again",
                timeout.as_secs()
            ),
        )
        .into_response(),
    };
    // An error answer may be sent before the request's body was read; the connection is then
    // closed, and the client is told so rather than finding out on its next request.
    if has_body && (res.status().is_client_error() || res.status().is_server_error()) {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_per_key_and_free_on_drop() {
        let set: Arc<PerKey<u8>> = Arc::default();
        let a = set.try_take(1, 2).unwrap();
        let _b = set.try_take(1, 2).unwrap();
        assert!(set.try_take(1, 2).is_none(), "third at once is refused");
        assert!(set.try_take(2, 2).is_some(), "another key is not affected");
        drop(a);
        assert_eq!(set.count(&1), 1);
        assert!(set.try_take(1, 2).is_some());
    }

    #[test]
    fn guesses_are_bounded_per_address_and_raise_the_alarm() {
        let guard = Guard::new(Limits {
            guesses_per_window: 3,
            ..Limits::default()
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(guard.may_guess(Some(a)).is_ok());
            guard.failed_guess(Some(a), "enroll", "enroll.invalid_code");
        }
        let refused = guard.may_guess(Some(a)).unwrap_err().into_response();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.headers().contains_key(header::RETRY_AFTER));
        assert!(
            guard.may_guess(Some(b)).is_ok(),
            "other addresses unaffected"
        );
    }

    /// A shared buffer the log is written into.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Log {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn failed_sign_ins_are_logged_and_a_fast_stream_raises_the_alarm() {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let guard = Guard::new(Limits {
            alarm_failures_per_minute: 5,
            ..Limits::default()
        });
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..8u8 {
                let addr = IpAddr::from([192, 0, 2, i]);
                guard.failed_guess(Some(addr), "enrollment code", "enroll.invalid_code");
            }
        });
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text.matches("hearth::auth: failed sign-in").count(),
            8,
            "{text}"
        );
        assert!(text.contains("addr=192.0.2.7"), "{text}");
        assert!(text.contains("enroll.invalid_code"), "{text}");
        // One alarm line per minute, however many more failures come.
        assert_eq!(text.matches("ALARM").count(), 1, "{text}");
    }
}
