//! The station's clock (DESIGN §5 "Time"): the district's time plus the
//! time elapsed since it was last heard, measured on the monotonic clock.
//! A jump of the system clock (an operator setting it, a dead CMOS battery)
//! is logged as a correction and never counted as elapsed time; after a
//! restart the clock never runs behind the last district time journalled.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Jumps smaller than this are scheduling noise, not a clock change.
const JUMP: i64 = 2_000;

pub fn system_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[derive(Debug)]
struct State {
    /// Our best time (Unix ms) at `anchor`.
    anchor_ms: i64,
    anchor: Instant,
    /// The system clock and monotonic instant at the last jump check.
    seen_system_ms: i64,
    seen_at: Instant,
    /// System clock minus district clock, at the last measurement.
    skew_ms: i64,
}

#[derive(Debug)]
pub struct Clock {
    state: Mutex<State>,
    /// 1.0 in the field. Tests and training run the station's time faster:
    /// elapsed time is multiplied, and the district's time then only
    /// measures the skew (re-anchoring would undo the scaling).
    scale: f64,
}

impl Clock {
    /// Starts from the system clock, but never before `floor_ms` (the last
    /// district time journalled).
    pub fn new(floor_ms: Option<i64>) -> Self {
        Self::starting_at(system_ms(), floor_ms)
    }

    /// A clock whose time runs `scale` times faster than real time.
    pub fn scaled(floor_ms: Option<i64>, scale: f64) -> Self {
        Self { scale, ..Self::starting_at(system_ms(), floor_ms) }
    }

    fn starting_at(system: i64, floor_ms: Option<i64>) -> Self {
        if let Some(f) = floor_ms {
            super::tls::raise_time_floor(f.div_euclid(1000));
        }
        let now = Instant::now();
        let anchor_ms = system.max(floor_ms.unwrap_or(0));
        Self { state: Mutex::new(State { anchor_ms, anchor: now, seen_system_ms: system, seen_at: now, skew_ms: 0 }), scale: 1.0 }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Now, Unix milliseconds, skew-corrected.
    pub fn now_ms(&self) -> i64 {
        let s = self.lock();
        s.anchor_ms + (s.anchor.elapsed().as_secs_f64() * 1000.0 * self.scale) as i64
    }

    pub fn now_s(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// System clock minus district clock, as last measured.
    pub fn skew_ms(&self) -> i64 {
        self.lock().skew_ms
    }

    /// A district answer said `district_ms`; the call took `rtt`. The
    /// district's time is taken as of the middle of the call.
    pub fn observe(&self, district_ms: i64, rtt: Duration) {
        self.observe_at(district_ms, rtt, system_ms());
    }

    fn observe_at(&self, district_ms: i64, rtt: Duration, system: i64) {
        super::tls::raise_time_floor(district_ms.div_euclid(1000));
        let mut s = self.lock();
        let estimate = district_ms + (rtt.as_millis() as i64) / 2;
        s.skew_ms = system - estimate;
        if self.scale == 1.0 {
            s.anchor_ms = estimate;
            s.anchor = Instant::now();
        }
    }

    /// Compares the system clock's progress with the monotonic clock's
    /// since the last check; a difference beyond scheduling noise is a jump,
    /// logged as a correction and returned (ms, positive = forward). Our
    /// own time is unaffected: it runs on the monotonic clock.
    pub fn check_jump(&self) -> Option<i64> {
        self.check_jump_at(system_ms())
    }

    fn check_jump_at(&self, system: i64) -> Option<i64> {
        let mut s = self.lock();
        let elapsed = s.seen_at.elapsed().as_millis() as i64;
        let jump = (system - s.seen_system_ms) - elapsed;
        s.seen_system_ms = system;
        s.seen_at = Instant::now();
        if jump.abs() < JUMP {
            return None;
        }
        s.skew_ms += jump;
        tracing::warn!(jump_ms = jump, "system clock jumped: logged as a correction, not counted as elapsed time");
        Some(jump)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_clock_jump_is_a_correction_not_elapsed_time() {
        let clock = Clock::starting_at(1_000_000, None);
        let before = clock.now_ms();
        // The system clock is set back a year: our time does not move back.
        let jump = clock.check_jump_at(1_000_000 - 365 * 86_400_000);
        assert!(matches!(jump, Some(j) if j < -365 * 86_000_000), "{jump:?}");
        let after = clock.now_ms();
        assert!(after >= before && after - before < 1_000, "{before} -> {after}");
        // Forward a day: again a correction, our time still continuous.
        assert!(clock.check_jump_at(1_000_000 + 86_400_000).is_some());
        assert!(clock.now_ms() - before < 1_000);
        // No jump: nothing logged.
        let sys = 1_000_000 + 86_400_000 + clock.lock().seen_at.elapsed().as_millis() as i64;
        assert_eq!(clock.check_jump_at(sys), None);
    }

    #[test]
    fn the_district_time_sets_the_clock_and_the_skew() {
        let clock = Clock::starting_at(5_000_000, None);
        clock.observe_at(2_000_000, Duration::from_millis(200), 5_000_000);
        assert_eq!(clock.skew_ms(), 5_000_000 - 2_000_100);
        let now = clock.now_ms();
        assert!((2_000_100..2_001_100).contains(&now), "{now}");
    }

    #[test]
    fn a_restart_never_runs_behind_the_last_district_time() {
        let clock = Clock::starting_at(946_684_800_000, Some(1_795_000_000_000));
        assert!(clock.now_ms() >= 1_795_000_000_000);
    }
}
