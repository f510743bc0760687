//! Recovery, at start-up and on every reconnect (DESIGN §3): one function
//! for both.
//!
//! Prepare the printer (host-managed error mode set and read back); if a
//! card is inside, eject it to the reject box; read serial and card counter
//! and settle the attempt in flight, if any:
//! - card inside and the running agent knows no panel was sent: the blank is
//!   spoiled and the job retried;
//! - card inside otherwise: `uncertain`;
//! - same serial and counter unchanged: no blank used, `ready`;
//! - counter advanced, lower, or serial different: `uncertain`.
//!
//! It never sends anything that makes the printer print by itself.

use cetak_drivers::{Printer, PrinterError};

use super::{Station, Step};
use crate::journal::{AttemptEnd, JobState, JournalError};

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The printer still does not answer (or answers wrongly).
    #[error(transparent)]
    Printer(#[from] PrinterError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl<P: Printer> Station<P> {
    /// Brings the printer back and settles any card in flight. `Ok(None)`:
    /// nothing to settle. An error: the printer still does not answer.
    pub fn recover(&mut self) -> Result<Option<Step>, RecoveryError> {
        self.printer.prepare()?;
        let identity = self.printer.identify()?;
        let status = self.printer.status()?;
        if status.card_inside {
            // A jammed card cannot be moved: the clerk takes it out, the
            // station waits on the standing fault.
            let _ = self.printer.reject();
        }
        let counters = self.printer.counters()?;
        self.connected = true;
        let knew_no_panel = self.lost_before_any_panel.take().unwrap_or(false);
        let in_flight = self.journal.in_flight(&self.opts.name)?;
        let Some(a) = in_flight else { return Ok(None) };
        // A card that was inside is card number `counter_before + 1`, even
        // on a printer whose counter steps only when a card leaves.
        let taken = counters.cards.max(a.counter_before + 1);
        let end = if identity.serial != a.printer_serial {
            AttemptEnd::Uncertain { fault: "serial_changed".into(), counter_after: None, panels_done: 0 }
        } else if status.card_inside && knew_no_panel {
            AttemptEnd::Spoiled { fault: "gone".into(), counter_after: taken }
        } else if status.card_inside {
            AttemptEnd::Uncertain { fault: "card_inside_at_recovery".into(), counter_after: Some(taken), panels_done: 0 }
        } else if counters.cards == a.counter_before {
            AttemptEnd::NotFed { fault: "gone".into() }
        } else {
            AttemptEnd::Uncertain { fault: "counter_changed".into(), counter_after: Some(counters.cards), panels_done: 0 }
        };
        tracing::warn!(job_id = %a.job_id, attempt = a.attempt, outcome = ?end, "recovery settled the card in flight");
        let to = self.journal.end_attempt(&a.job_id, a.attempt, &end, self.opts.spoil_retries)?;
        Ok(Some(match (end, to) {
            (AttemptEnd::NotFed { .. }, _) => Step::NotFed { job_id: a.job_id, fault: cetak_drivers::Fault::Gone },
            (AttemptEnd::Spoiled { .. }, to) => Step::Spoiled { job_id: a.job_id, failed: to == JobState::Failed },
            _ => Step::Uncertain(a.job_id),
        }))
    }
}
