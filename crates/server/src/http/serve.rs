//! The connection loop: hyper's HTTP/1 server with a header-read timeout that also closes
//! connections idle between requests, a cap on open connections in all (kept below the
//! process's open-files limit) and per address, and a graceful stop.
//!
//! `axum::serve` has none of these knobs (no timer, so hyper's header timeout is off, and no
//! connection cap), so connections are accepted here and handed to hyper-util's builder.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::guard::Guard;
use super::limits::Limits;
use super::router_with;
use crate::domain::Service;

/// File descriptors kept for the database, its journal, blob files and logs.
const FDS_KEPT: u64 = 64;

/// The soft open-files limit of this process, where the platform tells it (Linux).
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The connection cap in force: the configured one, but never more than the open-files limit
/// allows, so the service keeps descriptors for its own files when connections pile up.
pub fn connection_cap(limits: &Limits) -> usize {
    let configured = limits.max_connections.max(1);
    match open_files_limit() {
        Some(n) => configured.min(n.saturating_sub(FDS_KEPT).max(8) as usize),
        None => configured,
    }
}

/// Sent on a connection refused because its address has too many open, or opens them too fast;
/// written by hand since no request has been read yet.
const TOO_MANY_CONNECTIONS: &str = concat!(
    "HTTP/1.1 429 Too Many Requests\r\n",
    "content-type: application/json\r\n",
    "retry-after: 1\r\n",
    "connection: close\r\n",
    "content-length: 90\r\n",
    "\r\n",
    r#"{"code":"request.too_many_connections","message":"too many connections from this address"}"#,
);

/// Serves the API on `listener` until `shutdown` completes, then lets requests in flight finish
/// (at most `Limits::request_timeout`).
pub async fn serve(
    listener: TcpListener,
    svc: Service,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guard = Arc::new(Guard::new(limits));
    let app = router_with(svc, limits, guard.clone());
    let cap = connection_cap(&limits);
    let slots = Arc::new(Semaphore::new(cap));
    tracing::info!(
        max_connections = cap,
        header_timeout_s = limits.header_timeout.as_secs_f32(),
        "accepting connections"
    );
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .max_buf_size(64 * 1024);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // A slot is taken before accepting: when all are in use, new connections wait in the
        // kernel's backlog instead of each taking a file descriptor here.
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (mut stream, addr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait a little
                    // rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let addr_slot = if guard.may_connect(addr.ip()) {
            guard
                .addr_connections
                .try_take(addr.ip(), limits.max_connections_per_addr)
        } else {
            None
        };
        let Some(addr_slot) = addr_slot else {
            tracing::debug!(addr = %addr.ip(), "too many connections from one address");
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    let _ = stream.write_all(TOO_MANY_CONNECTIONS.as_bytes()).await;
                    let _ = stream.shutdown().await;
                })
                .await;
                drop(slot);
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = app
            .clone()
            .map_request(move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(addr));
                req
            });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(addr = %addr, error = %e, "connection ended with an error");
            }
            drop(addr_slot);
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.request_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight at the stop were cut");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_is_well_formed() {
        let body = TOO_MANY_CONNECTIONS.split("\r\n\r\n").nth(1).unwrap();
        assert_eq!(body.len(), 90);
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["code"], "request.too_many_connections");
    }

    #[test]
    fn cap_stays_below_the_open_files_limit() {
        let l = Limits {
            max_connections: 1_000_000,
            ..Limits::default()
        };
        if let Some(n) = open_files_limit() {
            assert!((connection_cap(&l) as u64) < n.max(FDS_KEPT + 8));
        }
    }
}
