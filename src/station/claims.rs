//! Which printer loop is working on which job, for a station with several
//! printers on one journal.
//!
//! Every loop sees the same `assigned` and `ready` jobs. Before a loop
//! prepares a job or picks it for its next card it claims it here; a job
//! another loop holds is skipped. The claim lasts while the loop works on
//! the job (prepare, or render, write-ahead and print) and ends when that
//! work ends, so a printer that waits on a fault, is switched off or is
//! paused holds nothing: its siblings take the next jobs at once, with no
//! timer. The journal's transitions stay the one judge of state (a move
//! from a state the job is no longer in is refused); claims only keep two
//! loops from doing the same work, and they live in memory because they
//! mean nothing after the process ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The claims of one station (one per process, shared by its loops).
#[derive(Debug, Default)]
pub struct Claims {
    held: Mutex<HashMap<String, String>>,
}

impl Claims {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A loop that panicked holding the lock leaves a usable map.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims `job` for `printer`, unless another printer holds it.
    pub fn try_claim(self: &Arc<Self>, job: &str, printer: &str) -> Option<Claim> {
        let mut held = self.held();
        if held.get(job).is_some_and(|p| p != printer) {
            return None;
        }
        held.insert(job.to_string(), printer.to_string());
        Some(Claim { claims: Arc::clone(self), job: job.to_string() })
    }

    /// Whether a printer other than `printer` holds `job`.
    pub fn held_by_other(&self, job: &str, printer: &str) -> bool {
        self.held().get(job).is_some_and(|p| p != printer)
    }
}

/// A job held by one loop; dropped, the job is free again.
#[derive(Debug)]
pub struct Claim {
    claims: Arc<Claims>,
    job: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.claims.held().remove(&self.job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_held_by_one_printer_until_its_claim_ends() {
        let claims = Claims::new();
        let first = claims.try_claim("job-1", "p1").expect("free");
        assert!(claims.try_claim("job-1", "p2").is_none(), "held by p1");
        assert!(claims.held_by_other("job-1", "p2"));
        assert!(!claims.held_by_other("job-1", "p1"));
        drop(first);
        assert!(claims.try_claim("job-1", "p2").is_some(), "free once p1 let go");
    }
}
