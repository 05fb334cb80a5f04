//! What hearth-core takes from the world, injected so tests control it: time and randomness.
//! (The network is injected by the sync engine through its transport.)

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::CoreError;

/// The two clocks a receipt carries.
pub trait Clock: Send + Sync {
    /// Wall-clock time, Unix milliseconds. The user can set this clock to anything.
    fn wall_ms(&self) -> i64;
    /// Milliseconds since this clock was made; never goes backwards within one app run.
    fn mono_ms(&self) -> u64;
}

/// A source of cryptographic randomness (device keys, ids).
pub trait Entropy: Send + Sync {
    fn fill(&self, dest: &mut [u8]) -> Result<(), CoreError>;
}

/// Time and randomness for one [`crate::Hearth`].
#[derive(Clone)]
pub struct Env {
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").finish_non_exhaustive()
    }
}

impl Env {
    /// The real clocks and the operating system's randomness.
    pub fn system() -> Self {
        Self {
            clock: Arc::new(SystemClock::new()),
            entropy: Arc::new(OsEntropy::default()),
        }
    }

    pub fn random<const N: usize>(&self) -> Result<[u8; N], CoreError> {
        let mut out = [0u8; N];
        self.entropy.fill(&mut out)?;
        Ok(out)
    }
}

/// The system wall clock and a monotonic clock started when this value was made.
#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn wall_ms(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            // A clock set before 1970 is a wrong clock, not an error: say so in the receipt.
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn mono_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// The operating system's CSPRNG, through ring.
#[derive(Debug)]
pub struct OsEntropy(ring::rand::SystemRandom);

impl Default for OsEntropy {
    fn default() -> Self {
        Self(ring::rand::SystemRandom::new())
    }
}

impl Entropy for OsEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), CoreError> {
        ring::rand::SecureRandom::fill(&self.0, dest).map_err(|_| CoreError::Entropy)
    }
}

/// A clock tests set by hand.
#[derive(Debug)]
pub struct ManualClock {
    wall: AtomicI64,
    mono: AtomicU64,
}

impl ManualClock {
    pub fn new(wall_ms: i64) -> Self {
        Self {
            wall: AtomicI64::new(wall_ms),
            mono: AtomicU64::new(0),
        }
    }

    /// Lets `ms` pass on both clocks.
    pub fn advance(&self, ms: u64) {
        self.mono.fetch_add(ms, Ordering::SeqCst);
        self.wall
            .fetch_add(i64::try_from(ms).unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    /// Sets the wall clock only, as a user changing the system time does.
    pub fn set_wall(&self, wall_ms: i64) {
        self.wall.store(wall_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn wall_ms(&self) -> i64 {
        self.wall.load(Ordering::SeqCst)
    }

    fn mono_ms(&self) -> u64 {
        self.mono.load(Ordering::SeqCst)
    }
}

/// Deterministic randomness from a seed (ChaCha20), for tests and reproducible fixtures. Never
/// use it for a real device.
#[derive(Debug)]
pub struct SeededEntropy(Mutex<ChaCha20Rng>);

impl SeededEntropy {
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(ChaCha20Rng::seed_from_u64(seed)))
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), CoreError> {
        self.0
            .lock()
            .map_err(|_| CoreError::Entropy)?
            .fill_bytes(dest);
        Ok(())
    }
}

impl Env {
    /// A manual clock at `wall_ms` and seeded randomness: fully reproducible.
    pub fn deterministic(wall_ms: i64, seed: u64) -> (Self, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(wall_ms));
        (
            Self {
                clock: clock.clone(),
                entropy: Arc::new(SeededEntropy::new(seed)),
            },
            clock,
        )
    }
}
