//! How many receipts go in the next upload: sized from the link's measured throughput, so one
//! request stays well under the service's time limit (60 s: a slower request gets a 408 and
//! nothing is stored) on a 4 kbit/s link as on a LAN. A pure state machine over what each upload
//! took; the caller passes the times, so every case is a line in a table test.
//!
//! - It starts small ([`BatchConfig::start`]) and at most doubles after each answered upload,
//!   never beyond what the measured rate moves in [`BatchConfig::target`].
//! - A 408 or a client timeout quarters the size and caps the rate estimate at half of what the
//!   failed request proved (its bytes did not get through in the time it took).
//! - A connection cut halves the size; once cuts have been seen, a request is also kept to an
//!   eighth of the mean time between cuts, so a cut costs a small share of what got through.
//!
//! Sizes are in receipts; rates in bytes of envelopes (before compression) per millisecond,
//! which cancels out of "receipts per target time" as long as the receipts compress alike.

use std::time::Duration;

/// Tunables of the batch size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// The smallest batch (receipts).
    pub min: u32,
    /// The largest batch (receipts), whatever the link.
    pub max: u32,
    /// The first batch of a run, before anything is measured.
    pub start: u32,
    /// How long one upload should take at most at the measured rate.
    pub target: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            min: 5,
            max: 500,
            start: 50,
            // Well under the service's 60 s: a rate that falls to a third mid-request still
            // fits. Shorter costs more per receipt on the slowest links (each request's headers
            // and round trip): at 4 kbit/s, 8 s took 107 s for 500 receipts.
            target: Duration::from_secs(15),
        }
    }
}

impl BatchConfig {
    /// Always `n` receipts (at least 1): no adaptation.
    pub fn fixed(n: u32) -> Self {
        let n = n.max(1);
        Self {
            min: n,
            max: n,
            start: n,
            target: Duration::from_secs(15),
        }
    }
}

/// Share of the mean time between cuts one request may take.
const CUT_SHARE: f64 = 8.0;
/// Weight of the newest measurement in the moving averages.
const ALPHA: f64 = 0.5;
/// Uploads answered faster than this say nothing about the link's rate (loopback, a LAN).
const MIN_MEASURE_MS: u64 = 20;

/// The batch-size controller's state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchSizer {
    pub config: BatchConfig,
    size: u32,
    /// Envelope bytes per millisecond the link moved, a moving average.
    rate: Option<f64>,
    /// Envelope bytes per receipt, a moving average.
    per_receipt: Option<f64>,
    /// Cuts seen, and when the first upload started (the caller's monotonic milliseconds).
    cuts: u32,
    since_ms: Option<u64>,
}

impl BatchSizer {
    pub fn new(config: BatchConfig) -> Self {
        let min = config.min.max(1);
        let max = config.max.max(min);
        let config = BatchConfig { min, max, ..config };
        Self {
            size: config.start.clamp(min, max),
            config,
            rate: None,
            per_receipt: None,
            cuts: 0,
            since_ms: None,
        }
    }

    /// Receipts in the next upload.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The measured rate in bytes per second (for reports), once known.
    pub fn rate_bytes_per_sec(&self) -> Option<u64> {
        self.rate.map(|r| (r * 1000.0) as u64)
    }

    /// An upload is about to start at `now_ms`.
    pub fn started(&mut self, now_ms: u64) {
        self.since_ms.get_or_insert(now_ms);
    }

    /// An upload of `receipts` (`bytes` of envelopes) was answered after `elapsed_ms`.
    pub fn succeeded(&mut self, receipts: u32, bytes: u64, elapsed_ms: u64, now_ms: u64) {
        if receipts > 0 {
            let per = bytes as f64 / f64::from(receipts);
            self.per_receipt = Some(average(self.per_receipt, per));
        }
        if elapsed_ms >= MIN_MEASURE_MS && bytes > 0 {
            self.rate = Some(average(self.rate, bytes as f64 / elapsed_ms as f64));
        }
        let grown = self.size.saturating_mul(2);
        self.size = self.bounded(grown.min(self.fit(now_ms).unwrap_or(u32::MAX)));
    }

    /// An upload of `receipts` (`bytes` of envelopes) got no answer within `elapsed_ms` (a 408,
    /// or the client's timeout): the link moves less than that.
    pub fn timed_out(&mut self, receipts: u32, bytes: u64, elapsed_ms: u64, now_ms: u64) {
        if receipts > 0 {
            let per = bytes as f64 / f64::from(receipts);
            self.per_receipt = Some(average(self.per_receipt, per));
        }
        if elapsed_ms > 0 && bytes > 0 {
            // The request did not finish, so the link is slower than this, by how much nobody
            // knows: take half of it, so the next batch is not a second 408.
            let bound = bytes as f64 / elapsed_ms as f64 / 2.0;
            self.rate = Some(self.rate.map_or(bound, |r| r.min(bound)));
        }
        let quarter = self.size / 4;
        self.size = self.bounded(quarter.min(self.fit(now_ms).unwrap_or(u32::MAX)));
    }

    /// A connection broke during an upload at `now_ms`.
    pub fn cut(&mut self, now_ms: u64) {
        self.cuts = self.cuts.saturating_add(1);
        let half = self.size / 2;
        self.size = self.bounded(half.min(self.fit(now_ms).unwrap_or(u32::MAX)));
    }

    /// Receipts the measured rate moves in the time a request may take, if the rate is known.
    fn fit(&self, now_ms: u64) -> Option<u32> {
        let (rate, per) = (self.rate?, self.per_receipt?);
        let mut budget_ms = self.config.target.as_millis() as f64;
        if self.cuts > 0 {
            let span = now_ms.saturating_sub(self.since_ms.unwrap_or(now_ms)) as f64;
            budget_ms = budget_ms.min(span / f64::from(self.cuts) / CUT_SHARE);
        }
        let n = rate * budget_ms / per.max(1.0);
        Some(if n >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            n as u32
        })
    }

    fn bounded(&self, n: u32) -> u32 {
        n.clamp(self.config.min, self.config.max)
    }
}

fn average(old: Option<f64>, new: f64) -> f64 {
    old.map_or(new, |o| o * (1.0 - ALPHA) + new * ALPHA)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BatchConfig {
        BatchConfig::default()
    }

    /// One event of a run.
    #[derive(Clone, Copy, Debug)]
    enum E {
        /// (receipts, bytes, elapsed ms, now ms)
        Ok(u32, u64, u64, u64),
        /// (receipts, bytes, elapsed ms, now ms)
        Timeout(u32, u64, u64, u64),
        /// (now ms)
        Cut(u64),
    }

    fn run(events: &[E]) -> Vec<u32> {
        let mut s = BatchSizer::new(config());
        s.started(0);
        events
            .iter()
            .map(|e| {
                match *e {
                    E::Ok(n, b, t, now) => s.succeeded(n, b, t, now),
                    E::Timeout(n, b, t, now) => s.timed_out(n, b, t, now),
                    E::Cut(now) => s.cut(now),
                }
                s.size()
            })
            .collect()
    }

    #[test]
    fn case_table() {
        // 75 bytes a receipt; 4 kbit/s moves 0.5 bytes/ms, so 15 s is 7.5 kB, 100 receipts.
        let cases: [(&str, Vec<E>, Vec<u32>); 8] = [
            (
                "a fast link doubles up to the maximum",
                vec![
                    E::Ok(50, 3_750, 2, 2),
                    E::Ok(100, 7_500, 3, 5),
                    E::Ok(200, 15_000, 5, 10),
                    E::Ok(400, 30_000, 9, 20),
                    E::Ok(500, 37_500, 11, 31),
                ],
                vec![100, 200, 400, 500, 500],
            ),
            (
                "4 kbit/s settles where a request takes 15 s",
                vec![
                    E::Ok(50, 3_750, 7_500, 7_500),
                    E::Ok(100, 7_500, 15_000, 22_500),
                ],
                vec![100, 100],
            ),
            (
                "64 kbit/s (8 bytes/ms) grows to the maximum",
                vec![
                    E::Ok(50, 3_750, 470, 470),
                    E::Ok(100, 7_500, 940, 1_410),
                    E::Ok(200, 15_000, 1_880, 3_290),
                    E::Ok(400, 30_000, 3_750, 7_040),
                ],
                vec![100, 200, 400, 500],
            ),
            (
                "a 408 sizes the batch to the rate it proves",
                // 100 receipts did not get through in 60 s: less than 0.125 bytes/ms, taken
                // as half that; 15 s then carry 940 B, 12 receipts.
                vec![
                    E::Ok(50, 3_750, 2, 2),
                    E::Timeout(100, 7_500, 60_000, 60_002),
                ],
                vec![100, 12],
            ),
            (
                "a quick client timeout quarters the size",
                vec![E::Ok(50, 3_750, 2, 2), E::Timeout(100, 7_500, 1_000, 1_002)],
                vec![100, 25],
            ),
            (
                "a 408 after a measured rate fits the size to the bound",
                vec![
                    E::Ok(50, 3_750, 100, 100),
                    E::Ok(100, 7_500, 200, 300),
                    E::Timeout(200, 15_000, 60_000, 60_300),
                ],
                vec![100, 200, 25],
            ),
            (
                "a cut halves; later requests take an eighth of the time between cuts",
                // 8 bytes/ms; one cut at 40 s: 5 s a request, 40 kB, 533 receipts (max 500);
                // a second at 48 s: 3 s, 24 kB, 320 receipts.
                vec![
                    E::Ok(50, 3_750, 470, 470),
                    E::Ok(100, 7_500, 940, 1_410),
                    E::Ok(200, 15_000, 1_880, 3_290),
                    E::Ok(400, 30_000, 3_750, 7_040),
                    E::Cut(40_000),
                    E::Ok(250, 18_750, 2_340, 42_340),
                    E::Cut(48_000),
                    E::Ok(250, 18_750, 2_340, 50_340),
                ],
                vec![100, 200, 400, 500, 250, 500, 250, 335],
            ),
            (
                "never below the minimum",
                vec![
                    E::Timeout(50, 3_750, 60_000, 60_000),
                    E::Timeout(6, 450, 60_000, 120_000),
                    E::Cut(130_000),
                ],
                vec![6, 5, 5],
            ),
        ];
        for (why, events, want) in cases {
            assert_eq!(run(&events), want, "{why}");
        }
    }

    #[test]
    fn fixed_never_changes() {
        let mut s = BatchSizer::new(BatchConfig::fixed(10));
        s.succeeded(10, 750, 5, 5);
        s.timed_out(10, 750, 60_000, 60_005);
        s.cut(61_000);
        assert_eq!(s.size(), 10);
        assert_eq!(BatchSizer::new(BatchConfig::fixed(0)).size(), 1);
    }
}
