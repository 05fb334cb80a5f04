//! A fault-injecting TCP proxy for the end-to-end tests: it stands between a client and the real
//! service on loopback and, per connection, relays faithfully or breaks the connection the way a
//! flaky mobile hotspot does: close at a chosen byte, reset, stall, delay, or answer with an HTTP
//! 5xx without reaching the service.
//!
//! Written here rather than taken from a crate because the faults must be placed at exact byte
//! offsets chosen by a seeded test plan, which general-purpose proxies (toxiproxy and the like)
//! do not offer in-process.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which way bytes flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to service (the request, an upload).
    Up,
    /// Service to client (the answer).
    Down,
}

/// What happens to one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Relay everything.
    Pass,
    /// Relay `after` bytes in `dir`, then close both sides cleanly (FIN).
    Close { dir: Direction, after: u64 },
    /// Relay `after` bytes in `dir`, then reset both sides (RST).
    Reset { dir: Direction, after: u64 },
    /// Relay `after` bytes in `dir`, then relay nothing more for `stall`, then close.
    Stall {
        dir: Direction,
        after: u64,
        stall: Duration,
    },
    /// Relay everything, each chunk held back by `delay`.
    Delay { delay: Duration },
    /// Read the request, then answer `HTTP/1.1 <status>` without contacting the service.
    HttpStatus { status: u16 },
}

/// Counters a test reads afterwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    pub connections: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub faults_applied: u64,
}

#[derive(Debug, Default)]
struct Shared {
    /// Faults for the next connections, in order; `Pass` once empty.
    plan: VecDeque<Fault>,
    stats: ProxyStats,
}

/// A running proxy. Dropping it (or [`FaultProxy::stop`]) stops accepting and closes open
/// connections.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    upstream: Arc<Mutex<SocketAddr>>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let upstream = Arc::new(Mutex::new(upstream));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            shared.clone(),
            upstream.clone(),
            stopped,
        ));
        Ok(Self {
            addr,
            shared,
            upstream,
            stop,
            task: Some(task),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Points the proxy at a new service address (after a restart on another port).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.upstream.lock().expect("proxy lock") = upstream;
    }

    /// Queues faults for the next connections, in order.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.lock().expect("proxy lock").plan.extend(faults);
    }

    /// Drops any faults not yet used.
    pub fn clear_faults(&self) {
        self.shared.lock().expect("proxy lock").plan.clear();
    }

    pub fn stats(&self) -> ProxyStats {
        self.shared.lock().expect("proxy lock").stats
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Mutex<Shared>>,
    upstream: Arc<Mutex<SocketAddr>>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                let fault = {
                    let mut s = shared.lock().expect("proxy lock");
                    s.stats.connections += 1;
                    s.plan.pop_front().unwrap_or(Fault::Pass)
                };
                let to = *upstream.lock().expect("proxy lock");
                connections.spawn(handle(client, to, fault, shared.clone()));
            }
        }
    }
    connections.shutdown().await;
}

async fn handle(client: TcpStream, upstream: SocketAddr, fault: Fault, shared: Arc<Mutex<Shared>>) {
    let _ = client.set_nodelay(true);
    if let Fault::HttpStatus { status } = fault {
        answer_status(client, status, &shared).await;
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        // The service is down: the client sees its connection closed, as it would through NAT.
        return;
    };
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = relay(&mut cr, &mut sw, Direction::Up, fault, &shared);
    let down = relay(&mut sr, &mut cw, Direction::Down, fault, &shared);
    // Whichever direction ends first (or breaks) ends the connection.
    let outcome = tokio::select! {
        o = up => o,
        o = down => o,
    };
    if outcome == Outcome::Reset
        && let (Ok(c), Ok(s)) = (cr.reunite(cw), sr.reunite(sw))
    {
        let _ = c.set_zero_linger();
        let _ = s.set_zero_linger();
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    Close,
    Reset,
}

async fn relay(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    dir: Direction,
    fault: Fault,
    shared: &Mutex<Shared>,
) -> Outcome {
    let limit = match fault {
        Fault::Close { dir: d, after }
        | Fault::Reset { dir: d, after }
        | Fault::Stall { dir: d, after, .. }
            if d == dir =>
        {
            Some(after)
        }
        _ => None,
    };
    let mut sent = 0u64;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if limit == Some(sent) {
            shared.lock().expect("proxy lock").stats.faults_applied += 1;
            return match fault {
                Fault::Reset { .. } => Outcome::Reset,
                Fault::Stall { stall, .. } => {
                    tokio::time::sleep(stall).await;
                    Outcome::Close
                }
                _ => Outcome::Close,
            };
        }
        let want = limit.map_or(buf.len(), |l| {
            buf.len()
                .min(usize::try_from(l - sent).unwrap_or(usize::MAX))
        });
        let n = match from.read(&mut buf[..want]).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return Outcome::Done;
            }
            Ok(n) => n,
        };
        if let Fault::Delay { delay } = fault {
            if sent == 0 && dir == Direction::Up {
                shared.lock().expect("proxy lock").stats.faults_applied += 1;
            }
            tokio::time::sleep(delay).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return Outcome::Done;
        }
        sent += n as u64;
        let mut s = shared.lock().expect("proxy lock");
        match dir {
            Direction::Up => s.stats.bytes_up += n as u64,
            Direction::Down => s.stats.bytes_down += n as u64,
        }
    }
}

/// Reads one HTTP request head (and whatever body arrives within a moment), then answers with
/// `status` and closes.
async fn answer_status(mut client: TcpStream, status: u16, shared: &Mutex<Shared>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
    shared.lock().expect("proxy lock").stats.faults_applied += 1;
    let body = format!("{{\"code\":\"proxy.injected\",\"message\":\"injected {status}\"}}");
    let answer = format!(
        "HTTP/1.1 {status} Injected\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(answer.as_bytes()).await;
    let _ = client.shutdown().await;
}
