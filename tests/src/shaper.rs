//! A link-shaping TCP proxy for the slow-link tests: between a client and the real service on
//! loopback it behaves like a mobile hotspot — a bandwidth per direction shared by every
//! connection (bytes queue behind each other as on one radio link), a one-way latency, and on a
//! seeded schedule, resets of every open connection (RST, as when the hotspot drops) and stalls
//! (nothing moves for a while, then the link carries on).
//!
//! Bytes are counted as they are delivered, so a test can compare what a run cost on the wire.
//! Written here rather than taken from a crate for the same reasons as [`crate::proxy`]: it runs
//! in-process, seeded, with counters a test reads.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What the link is like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Client-to-service bandwidth in bits per second (0: unlimited).
    pub up_bps: u64,
    /// Service-to-client bandwidth in bits per second (0: unlimited).
    pub down_bps: u64,
    /// One-way latency added to every byte.
    pub latency: Duration,
    /// Reset every open connection at intervals drawn uniformly from this range.
    pub resets: Option<(Duration, Duration)>,
    /// Stall the link (both directions) at intervals drawn from `.0...1`, each for `.2`.
    pub stalls: Option<(Duration, Duration, Duration)>,
    /// Seed of the reset and stall schedules.
    pub seed: u64,
}

impl Shape {
    /// A symmetric link of `bps` bits per second with 50 ms of latency and no faults.
    pub fn symmetric(bps: u64) -> Self {
        Self {
            up_bps: bps,
            down_bps: bps,
            latency: Duration::from_millis(50),
            resets: None,
            stalls: None,
            seed: 1,
        }
    }

    pub fn with_resets(self, min: Duration, max: Duration, seed: u64) -> Self {
        Self {
            resets: Some((min, max)),
            seed,
            ..self
        }
    }
}

/// Counters a test reads afterwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShapeStats {
    pub connections: u64,
    /// Bytes delivered to the service.
    pub bytes_up: u64,
    /// Bytes delivered to the client.
    pub bytes_down: u64,
    /// Resets that broke at least one open connection.
    pub resets: u64,
    /// Resets scheduled while no connection was open (nothing to break).
    pub idle_resets: u64,
    pub stalls: u64,
}

#[derive(Debug)]
struct Link {
    /// When the link is free to carry the next byte, per direction.
    up_free: Instant,
    down_free: Instant,
    /// Nothing moves before this instant (a stall).
    stalled_until: Instant,
    open: u64,
    stats: ShapeStats,
}

/// A running shaping proxy; dropping it (or [`ShapingProxy::stop`]) closes everything.
#[derive(Debug)]
pub struct ShapingProxy {
    addr: SocketAddr,
    link: Arc<Mutex<Link>>,
    shape: Arc<Mutex<Shape>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn lock(link: &Mutex<Link>) -> std::sync::MutexGuard<'_, Link> {
    link.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock_shape(shape: &Mutex<Shape>) -> std::sync::MutexGuard<'_, Shape> {
    shape
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A small seeded generator (splitmix64): the schedules need no more.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn between(&mut self, min: Duration, max: Duration) -> Duration {
        let span = max.saturating_sub(min).as_millis() as u64;
        min + Duration::from_millis(if span == 0 { 0 } else { self.next() % span })
    }
}

impl ShapingProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `upstream` through a link shaped as
    /// `shape`. The reset and stall schedules start now.
    pub async fn start(upstream: SocketAddr, shape: Shape) -> std::io::Result<Self> {
        let shape = Arc::new(Mutex::new(shape));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let now = Instant::now();
        let link = Arc::new(Mutex::new(Link {
            up_free: now,
            down_free: now,
            stalled_until: now,
            open: 0,
            stats: ShapeStats::default(),
        }));
        let (stop, stopped) = watch::channel(false);
        let (reset_tx, reset_rx) = watch::channel(0u64);
        let mut tasks = vec![tokio::spawn(accept_loop(
            listener,
            upstream,
            shape.clone(),
            link.clone(),
            reset_rx,
            stopped.clone(),
        ))];
        // The schedules follow the shape as it is now: set without resets, nothing resets.
        let (l, sh) = (link.clone(), shape.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng: Option<(u64, Seeded)> = None;
            loop {
                let (resets, seed) = {
                    let s = lock_shape(&sh);
                    (s.resets, s.seed)
                };
                let Some((min, max)) = resets else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                if rng.as_ref().is_none_or(|(s, _)| *s != seed) {
                    rng = Some((seed, Seeded(seed)));
                }
                let wait = rng.as_mut().map_or(min, |(_, r)| r.between(min, max));
                tokio::time::sleep(wait).await;
                if lock_shape(&sh).resets.is_none() {
                    continue;
                }
                {
                    let mut l = lock(&l);
                    if l.open > 0 {
                        l.stats.resets += 1;
                    } else {
                        l.stats.idle_resets += 1;
                    }
                }
                reset_tx.send_modify(|n| *n += 1);
            }
        }));
        let (l, sh) = (link.clone(), shape.clone());
        tasks.push(tokio::spawn(async move {
            let seed = lock_shape(&sh).seed;
            let mut rng = Seeded(seed ^ 0x5EED);
            loop {
                let stalls = lock_shape(&sh).stalls;
                let Some((min, max, length)) = stalls else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                tokio::time::sleep(rng.between(min, max)).await;
                if lock_shape(&sh).stalls.is_none() {
                    continue;
                }
                let mut l = lock(&l);
                l.stats.stalls += 1;
                l.stalled_until = Instant::now() + length;
            }
        }));
        Ok(Self {
            addr,
            link,
            shape,
            stop,
            tasks,
        })
    }

    /// Changes the link from now on (bandwidth and latency at once; the reset and stall
    /// schedules from their next interval).
    pub fn set_shape(&self, shape: Shape) {
        *lock_shape(&self.shape) = shape;
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> ShapeStats {
        lock(&self.link).stats
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for ShapingProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    shape: Arc<Mutex<Shape>>,
    link: Arc<Mutex<Link>>,
    resets: watch::Receiver<u64>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                lock(&link).stats.connections += 1;
                connections.spawn(handle(
                    client,
                    upstream,
                    shape.clone(),
                    link.clone(),
                    resets.clone(),
                    stopped.clone(),
                ));
            }
        }
    }
    connections.shutdown().await;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Up,
    Down,
}

async fn handle(
    client: TcpStream,
    upstream: SocketAddr,
    shape: Arc<Mutex<Shape>>,
    link: Arc<Mutex<Link>>,
    mut resets: watch::Receiver<u64>,
    mut stopped: watch::Receiver<bool>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    lock(&link).open += 1;
    resets.mark_unchanged();
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let reset = {
        let up = carry(&mut cr, &mut sw, Dir::Up, &shape, &link);
        let down = carry(&mut sr, &mut cw, Dir::Down, &shape, &link);
        tokio::select! {
            _ = async { tokio::join!(up, down) } => false,
            _ = resets.changed() => true,
            _ = stopped.changed() => false,
        }
    };
    lock(&link).open -= 1;
    if reset && let (Ok(c), Ok(s)) = (cr.reunite(cw), sr.reunite(sw)) {
        // Closing with a zero linger sends RST: both ends see the connection reset.
        let _ = c.set_zero_linger();
        let _ = s.set_zero_linger();
    }
}

/// Carries one direction through the shaped link until the source ends.
async fn carry(
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    dir: Dir,
    shape: &Mutex<Shape>,
    link: &Mutex<Link>,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(4);
    let read = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let (bps, latency) = {
                let s = lock_shape(shape);
                let bps = match dir {
                    Dir::Up => s.up_bps,
                    Dir::Down => s.down_bps,
                };
                (bps, s.latency)
            };
            // About 50 ms of the link's bytes at a time, so the shaping is smooth.
            let quantum = if bps == 0 {
                buf.len()
            } else {
                usize::try_from(bps / 8 / 20)
                    .unwrap_or(buf.len())
                    .clamp(64, buf.len())
            };
            let n = match from.read(&mut buf[..quantum]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let deliver = {
                let mut l = lock(link);
                let start = Instant::now().max(l.stalled_until);
                let free = match dir {
                    Dir::Up => &mut l.up_free,
                    Dir::Down => &mut l.down_free,
                };
                let start = start.max(*free);
                let busy = (n as u64 * 8 * 1_000_000_000)
                    .checked_div(bps)
                    .map_or(Duration::ZERO, Duration::from_nanos);
                *free = start + busy;
                *free + latency
            };
            if tx.send((deliver, buf[..n].to_vec())).await.is_err() {
                break;
            }
        }
    };
    let write = async move {
        while let Some((deliver, bytes)) = rx.recv().await {
            tokio::time::sleep_until(deliver).await;
            // A stall that began after these bytes were queued holds them too.
            let stalled = lock(link).stalled_until;
            tokio::time::sleep_until(stalled).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
            let mut l = lock(link);
            match dir {
                Dir::Up => l.stats.bytes_up += bytes.len() as u64,
                Dir::Down => l.stats.bytes_down += bytes.len() as u64,
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(read, write);
}
