//! Each printer loop runs under a supervisor of its own: a loop never ends
//! silently, and one printer's trouble never stops its siblings.
//!
//! An unexpected error or a panic in a loop (a journal write refused, a bug)
//! is logged with the printer and the job it was working on, shown in
//! `cetak status` and `/readyz` (the printer's state becomes `error`),
//! queued for the district as a `printer_loop_failed` event, and the loop
//! starts again after a pause: 1 s, then 2, 4, 8, 16, 32 and 60 s at most
//! between tries; a loop that then runs [`HEALTHY`] without failing starts
//! the count again. The restarted loop first runs recovery, so the card in
//! flight is settled from the printer. The clerk sees the printer in
//! `error` with the number of failures and when it tries again, and, from
//! the fifth failure in a row, to call the district's IT (the district has
//! the events). `cetak run --until-idle` (tests, trials) gives up after
//! three failures in a row and exits with the error.

use cetak_model::wire::PrinterState;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use cetak_drivers::Printer;

use super::{Station, StationError, Step};

/// A loop that ran this long without failing counts as healthy again.
pub const HEALTHY: Duration = Duration::from_secs(300);

/// `--until-idle` gives up after this many failures in a row.
const UNTIL_IDLE_TRIES: u32 = 3;

/// The pause before the `failures`-th restart in a row.
pub fn backoff(failures: u32) -> Duration {
    let secs = 1u64.checked_shl(failures.saturating_sub(1)).unwrap_or(u64::MAX);
    Duration::from_secs(secs.min(60))
}

/// Runs `station` until `stop` (or, with `until_idle`, until nothing more
/// can happen without a person), restarting it after an unexpected failure.
pub fn run_supervised<P: Printer>(
    station: &mut Station<P>,
    stop: &CancellationToken,
    idle: Duration,
    until_idle: bool,
) -> Result<Step, StationError> {
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| station.run(stop, idle, until_idle)));
        let error = match outcome {
            Ok(Ok(step)) => return Ok(step),
            Ok(Err(e)) => e,
            Err(panic) => StationError::Panicked(panic_text(&panic)),
        };
        if started.elapsed() >= HEALTHY {
            failures = 0;
        }
        failures += 1;
        let wait = backoff(failures);
        station.failed(&error, failures, wait);
        if until_idle && failures >= UNTIL_IDLE_TRIES {
            return Err(error);
        }
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if stop.is_cancelled() {
                station.stopped();
                return Ok(Step::Idle);
            }
            station.alive();
            std::thread::sleep(Duration::from_millis(100).min(until.saturating_duration_since(Instant::now())));
        }
        station.restart();
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "panic".into())
}

impl<P: Printer> Station<P> {
    /// Says a loop failed: the log, the status row, the district.
    fn failed(&mut self, error: &StationError, failures: u32, wait: Duration) {
        let job = self.current.clone();
        tracing::error!(
            printer = %self.opts.name,
            job_id = job.as_deref().unwrap_or("-"),
            error = %error,
            failures,
            restart_in_s = wait.as_secs(),
            "station loop failed: restarting it"
        );
        let detail = if failures >= 5 { "loop.failing" } else { "loop.failed" };
        self.shown = None;
        self.status(PrinterState::Error, detail);
        let body = serde_json::json!({
            "event": "printer_loop_failed",
            "printer": self.opts.name,
            "job_id": job,
            "error": error.to_string(),
            "failures": failures,
            "restart_in_s": wait.as_secs(),
        });
        if let Err(e) = self.journal.record_event(body) {
            tracing::warn!(error = %e, "could not queue the failure for the district");
        }
    }

    /// The loop is waiting to restart: not hung.
    fn alive(&self) {
        if let Some(b) = &self.beat {
            b.alive();
        }
    }

    /// Before a restart: forget what the failed run held in memory, so
    /// the printer is prepared and recovered again.
    fn restart(&mut self) {
        self.connected = false;
        self.reconciled = false;
        self.ahead = None;
        self.shown = None;
        self.current = None;
    }

    fn stopped(&mut self) {
        self.status(PrinterState::Stopped, "state.stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_back_off_to_a_minute() {
        let waits: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(200).as_secs(), 60);
    }
}
