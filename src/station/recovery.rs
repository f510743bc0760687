//! Recovery, at start-up and on every reconnect (DESIGN §3): one function
//! for both.
//!
//! Prepare the printer (host-managed error mode set and read back); if a
//! card is inside, eject it to the reject box; read serial and card counter
//! and settle the attempt in flight, if any. `before` is the counter the
//! attempt wrote ahead; "fed" says the write-ahead recorded that the feed
//! command was sent; the panel counter, written ahead too, is the second
//! witness (a service reset of the card counter does not touch it).
//!
//! | what recovery finds | outcome |
//! |---|---|
//! | another serial | `uncertain` (the printer's counter is adopted at the next card) |
//! | card inside, the running agent knows no panel was sent | spoiled, retried |
//! | card inside | `uncertain` |
//! | counter unchanged, not fed | not fed: no blank used, `ready` |
//! | counter unchanged, fed, panels printed since | `uncertain`: a card was printed and the counter reset behind it |
//! | counter unchanged, fed, printer counts at pick | not fed (its pick would have counted) |
//! | counter unchanged, fed, printer counts at eject | `uncertain`: a card pulled out by hand is never counted |
//! | counter advanced, not fed | not fed; the step is a blank unaccounted |
//! | counter advanced, fed | `uncertain` (the card is `before + 1`) |
//! | counter lower | `uncertain` if fed, else not fed; a counter reset |
//!
//! The counter a settled card leaves behind is what the card itself
//! accounts for (one, or none for a card a printer counting at eject has not
//! let out); any other difference, then or at any reconnect, pauses the
//! printer as a blank unaccounted or a counter reset for an operator to
//! book. This overrides DESIGN §3's "counter unchanged: ready" for printers
//! that count at eject. It never sends anything that makes the printer
//! print by itself.

use cetak_drivers::{CountsAt, Printer, PrinterError};

use super::{Station, Step};
use crate::journal::counters::CounterGap;
use crate::journal::{AttemptEnd, JobState, JournalError};

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The printer still does not answer (or answers wrongly).
    #[error(transparent)]
    Printer(#[from] PrinterError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// The attempt in flight as recovery settles it: the outcome and the
/// counter the journal then expects (`None`: another printer, adopted).
fn settle(
    counts_at: CountsAt,
    a: &crate::journal::AttemptRow,
    same_serial: bool,
    card_inside: Option<bool>,
    knew_no_panel: bool,
    found: cetak_drivers::Counters,
) -> (AttemptEnd, Option<u64>) {
    let before = a.counter_before;
    // Panels printed since the write-ahead: a card certainly left the
    // feeder, whatever its counter says now.
    let panels_printed = a.panels_before.is_some_and(|p| found.panels > p);
    let found = found.cards;
    if !same_serial {
        return (AttemptEnd::Uncertain { fault: "serial_changed".into(), counter_after: None, panels_done: 0 }, None);
    }
    // `card_inside`: `Some(left)` when a card was inside, `left` whether it
    // left through the printer (the reject box) or waits for the clerk.
    if let Some(left) = card_inside {
        let after = counts_at.after_card(before, left);
        let end = if knew_no_panel {
            AttemptEnd::Spoiled { fault: "gone".into(), counter_after: after }
        } else {
            AttemptEnd::Uncertain { fault: "card_inside_at_recovery".into(), counter_after: Some(after), panels_done: 0 }
        };
        return (end, Some(after));
    }
    let not_fed = (AttemptEnd::NotFed { fault: "gone".into() }, Some(before));
    let fed_uncertain =
        |fault: &str, after: u64| (AttemptEnd::Uncertain { fault: fault.into(), counter_after: Some(after), panels_done: 0 }, Some(after));
    match (found.cmp(&before), a.feed_sent) {
        (std::cmp::Ordering::Equal, true) if panels_printed && counts_at == CountsAt::Pick => fed_uncertain("counter_reset", before + 1),
        (std::cmp::Ordering::Equal, true) if counts_at == CountsAt::Eject => fed_uncertain("fed_not_counted", before),
        (std::cmp::Ordering::Equal, _) => not_fed,
        (_, false) => not_fed,
        (std::cmp::Ordering::Greater, true) => fed_uncertain("counter_changed", before + 1),
        (std::cmp::Ordering::Less, true) => fed_uncertain("counter_changed", before + 1),
    }
}

impl<P: Printer> Station<P> {
    /// Brings the printer back and settles any card in flight. `Ok(None)`:
    /// nothing to settle. An error: the printer still does not answer.
    pub fn recover(&mut self) -> Result<Option<Step>, RecoveryError> {
        self.printer.prepare()?;
        let identity = self.printer.identify()?;
        let status = self.printer.status()?;
        // A jammed card cannot be moved: the clerk takes it out, the
        // station waits on the standing fault.
        let card_inside = status.card_inside.then(|| self.printer.reject().is_ok());
        let counters = self.printer.counters()?;
        self.connected = true;
        let knew_no_panel = self.lost_before_any_panel.take().unwrap_or(false);
        let known = self.journal.printer(&self.opts.name)?.filter(|p| p.serial == identity.serial);
        let Some(a) = self.journal.in_flight(&self.opts.name)? else {
            // Nothing in flight: the counter must still be the journal's (a
            // test card while the agent was down is caught here).
            if let Some(gap) = known.and_then(|p| CounterGap::of(p.last_counter, counters.cards)) {
                return Ok(Some(self.pause_for(gap).map_err(station_to_recovery)?));
            }
            return Ok(None);
        };
        let (end, expected) = settle(self.counts_at(), &a, identity.serial == a.printer_serial, card_inside, knew_no_panel, counters);
        tracing::warn!(job_id = %a.job_id, attempt = a.attempt, outcome = ?end, "recovery settled the card in flight");
        let to = self.journal.end_attempt(&a.job_id, a.attempt, &end, self.opts.spoil_retries)?;
        if let Some(gap) = expected.and_then(|e| CounterGap::of(e, counters.cards)) {
            self.pause_for(gap).map_err(station_to_recovery)?;
        }
        Ok(Some(match (end, to) {
            (AttemptEnd::NotFed { .. }, _) => Step::NotFed { job_id: a.job_id, fault: cetak_drivers::Fault::Gone },
            (AttemptEnd::Spoiled { .. }, to) => Step::Spoiled { job_id: a.job_id, failed: to == JobState::Failed },
            _ => Step::Uncertain(a.job_id),
        }))
    }
}

fn station_to_recovery(e: super::StationError) -> RecoveryError {
    match e {
        super::StationError::Journal(j) => RecoveryError::Journal(j),
        other => RecoveryError::Journal(JournalError::Corrupt(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cetak_drivers::Counters;

    /// An attempt written ahead at card counter `before` and panel counter
    /// 50.
    fn attempt(before: u64, fed: bool) -> crate::journal::AttemptRow {
        crate::journal::AttemptRow {
            job_id: "j".into(),
            attempt: 1,
            printer: "p".into(),
            printer_serial: "S".into(),
            counter_before: before,
            k_hash: None,
            outcome: None,
            fault: None,
            counter_after: None,
            feed_sent: fed,
            counter_epoch: 0,
            panels_before: Some(50),
        }
    }

    fn outcome(end: &AttemptEnd) -> &'static str {
        match end {
            AttemptEnd::Printed { .. } => "printed",
            AttemptEnd::NotFed { .. } => "not_fed",
            AttemptEnd::Spoiled { .. } => "spoiled",
            AttemptEnd::Uncertain { .. } => "uncertain",
        }
    }

    #[test]
    fn the_decision_table_is_the_code() {
        use CountsAt::{Eject, Pick};
        // (counts at, fed, card inside (left?), knew no panel, cards found) -> outcome, counter expected;
        // the panel counter found is the one written ahead (50)
        type Row = (CountsAt, bool, Option<bool>, bool, u64, &'static str, Option<u64>);
        let rows: [Row; 12] = [
            (Pick, true, Some(true), false, 11, "uncertain", Some(11)),
            (Pick, true, Some(false), true, 11, "spoiled", Some(11)),
            (Eject, true, Some(false), false, 10, "uncertain", Some(10)),
            (Eject, true, Some(true), false, 11, "uncertain", Some(11)),
            (Pick, false, None, false, 10, "not_fed", Some(10)),
            (Pick, true, None, false, 10, "not_fed", Some(10)),
            (Eject, true, None, false, 10, "uncertain", Some(10)),
            (Eject, false, None, false, 10, "not_fed", Some(10)),
            (Pick, false, None, false, 12, "not_fed", Some(10)),
            (Pick, true, None, false, 12, "uncertain", Some(11)),
            (Pick, true, None, false, 3, "uncertain", Some(11)),
            (Eject, false, None, false, 3, "not_fed", Some(10)),
        ];
        for (counts, fed, inside, knew, found, want, expected) in rows {
            let (end, after) = settle(counts, &attempt(10, fed), true, inside, knew, Counters { cards: found, panels: 50 });
            assert_eq!((outcome(&end), after), (want, expected), "{counts:?} fed {fed} inside {inside:?} found {found}");
        }
        let (end, after) = settle(Pick, &attempt(10, true), false, None, false, Counters { cards: 500, panels: 50 });
        assert_eq!((outcome(&end), after), ("uncertain", None), "another serial");
    }

    /// A card printed, then its counter reset to the value before it while
    /// the agent was down: the panels show it, the card is `uncertain` and
    /// the counter a reset (the crash matrix found it: the job printed
    /// twice).
    #[test]
    fn panels_printed_under_an_unchanged_counter_are_a_card_and_a_reset() {
        let (end, after) = settle(CountsAt::Pick, &attempt(0, true), true, None, false, Counters { cards: 0, panels: 55 });
        assert_eq!((outcome(&end), after), ("uncertain", Some(1)));
        assert!(CounterGap::of(1, 0).is_some(), "the counter below the card is a gap to book");
        // Written by an older version (no panel counter): as before.
        let old = crate::journal::AttemptRow { panels_before: None, ..attempt(0, true) };
        let (end, _) = settle(CountsAt::Pick, &old, true, None, false, Counters { cards: 0, panels: 55 });
        assert_eq!(outcome(&end), "not_fed");
    }
}
