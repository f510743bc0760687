//! The one retry policy every call to the district goes through (DESIGN
//! §6): exponential backoff with full jitter, capped at 120 s, the server's
//! `Retry-After` honoured, reset after a success.
//!
//! The schedule comes from the `backoff` crate, as the project's stack asks.
//! RustSec lists `backoff` (RUSTSEC-2025-0012) and its dependency `instant`
//! (RUSTSEC-2024-0384) as unmaintained, so it stays inside this one module,
//! which `backon` could replace without touching any caller. Full jitter is
//! applied here: the wait is drawn uniformly between zero and the schedule's
//! ceiling, which spreads hundreds of stations' reconnections after an
//! outage instead of synchronising them.

use std::time::Duration;

use backoff::backoff::Backoff;
use backoff::ExponentialBackoff;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// First ceiling 15 s, doubling, cap 120 s. DESIGN §5 said 1 s; the
/// simulated reconnect storm ([`super::storm`]) showed 500 stations whose
/// long polls were cut at once retrying at 8.2 times the steady request
/// rate in the first ten seconds with a 1 s base, 2.7 times with 10 s and
/// 1.9 times with 15 s. A print station holds a day of work, so a first
/// retry up to 15 s later costs nothing.
pub const BASE: Duration = Duration::from_secs(15);
pub const CAP: Duration = Duration::from_secs(120);
/// The longest `Retry-After` obeyed (a broken server must not park a
/// station for days).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

pub struct RetryPolicy {
    schedule: ExponentialBackoff,
    rng: StdRng,
}

impl RetryPolicy {
    /// The default policy, jitter drawn from the operating system.
    pub fn new() -> Self {
        Self::with(BASE, CAP, StdRng::from_os_rng())
    }

    /// A policy with its own ceilings and random source (tests seed it).
    pub fn with(base: Duration, cap: Duration, rng: StdRng) -> Self {
        let schedule = ExponentialBackoff {
            current_interval: base,
            initial_interval: base,
            // The ceiling is exact; the jitter is ours (full jitter).
            randomization_factor: 0.0,
            multiplier: 2.0,
            max_interval: cap,
            // Never give up: a station keeps its jobs and tries again.
            max_elapsed_time: None,
            ..ExponentialBackoff::default()
        };
        Self { schedule, rng }
    }

    /// How long to wait after a failed call: uniform in [0, ceiling], the
    /// ceiling doubling with each failure up to the cap; never less than
    /// the server's `Retry-After` (itself bounded).
    pub fn after_failure(&mut self, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.schedule.next_backoff().unwrap_or(self.schedule.max_interval);
        let jittered = Duration::from_secs_f64(self.rng.random_range(0.0..=ceiling.as_secs_f64()));
        match retry_after {
            Some(ra) => jittered.max(ra.min(MAX_RETRY_AFTER)),
            None => jittered,
        }
    }

    /// A call succeeded: the next failure starts from the base again.
    pub fn succeeded(&mut self) {
        self.schedule.reset();
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1 s base, so the doubling is easy to read.
    fn policy(seed: u64) -> RetryPolicy {
        RetryPolicy::with(Duration::from_secs(1), CAP, StdRng::seed_from_u64(seed))
    }

    /// The largest wait seen over many policies after `failures` failures.
    fn max_after(failures: usize) -> Duration {
        (0..300u64)
            .map(|seed| {
                let mut p = policy(seed);
                (0..failures).map(|_| p.after_failure(None)).last().unwrap_or_default()
            })
            .max()
            .unwrap_or_default()
    }

    #[test]
    fn ceilings_double_up_to_the_cap_and_waits_never_exceed_it() {
        // After n failures the wait is at most 2^(n-1) s, and close to it
        // for some seed (full jitter reaches its ceiling).
        for (n, ceiling) in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0)] {
            let m = max_after(n).as_secs_f64();
            assert!(m <= ceiling + 1e-9 && m > ceiling * 0.9, "after {n} failures max {m}, ceiling {ceiling}");
        }
        let mut p = policy(1);
        for _ in 0..50 {
            assert!(p.after_failure(None) <= CAP);
        }
        assert!(max_after(12).as_secs_f64() > 110.0, "the cap is reached");
    }

    #[test]
    fn full_jitter_spreads_waits_down_to_zero() {
        let waits: Vec<f64> = (0..500u64)
            .map(|seed| {
                let mut p = policy(seed);
                (0..8).map(|_| p.after_failure(None)).last().unwrap_or_default().as_secs_f64()
            })
            .collect();
        let below_a_quarter = waits.iter().filter(|&&w| w < 128.0 / 4.0).count();
        // Uniform in [0, 120]: about 27% fall below 32 s.
        assert!((80..=200).contains(&below_a_quarter), "{below_a_quarter} of 500 below 32 s");
    }

    #[test]
    fn retry_after_is_honoured_and_bounded() {
        let mut p = policy(3);
        assert!(p.after_failure(Some(Duration::from_secs(30))) >= Duration::from_secs(30));
        assert_eq!(p.after_failure(Some(Duration::from_secs(86_400))), MAX_RETRY_AFTER, "a day-long Retry-After is obeyed for an hour");
    }

    #[test]
    fn a_success_resets_the_schedule() {
        let mut p = policy(4);
        for _ in 0..10 {
            p.after_failure(None);
        }
        p.succeeded();
        assert!(p.after_failure(None) <= BASE, "back to the first ceiling");
    }

    #[test]
    fn the_config_s_default_first_ceiling_is_the_policy_s() {
        let base = crate::config::DistrictConfig::default().retry_base_ms;
        assert_eq!(Duration::from_millis(base), BASE);
    }
}
