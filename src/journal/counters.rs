//! Pauses and the printer's card counter (DESIGN §3, counter continuity).
//!
//! The journal keeps each printer's last known card counter. Any other
//! value found on the printer is an event a person books: more cards than
//! the journal knows of is a **blank unaccounted** (a test card from the
//! front panel, another program), booked with `cetak stock explain --cards`
//! against the pause that reported it, never by more than its difference;
//! a counter that went down is a **counter reset** (a service replaced the
//! printer's board), booked with `cetak stock explain --reset`, which
//! starts a new counter epoch so a card stays named by (serial, epoch,
//! counter). Until booked, either pause holds the printer; an operator's
//! plain resume does not lift it.
//!
//! A counter step that is not a blank (a cleaning card) will be classified
//! where the station judges the counter ([`CounterGap::of`]): the one seam.

use super::Actor;
use cetak_model::ledger::{Item, LedgerKind, Location};
use rusqlite::{params, OptionalExtension};
use serde_json::json;

use super::{now, Journal, JournalError, Result};

/// Why a printer's card counter differs from the journal's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterGap {
    /// The printer counted `found - expected` cards no attempt took.
    Unaccounted { expected: u64, found: u64 },
    /// The counter went down: a service reset.
    Reset { expected: u64, found: u64 },
}

impl CounterGap {
    /// Judges a counter against the one expected: `None` when they agree.
    pub fn of(expected: u64, found: u64) -> Option<Self> {
        match found.cmp(&expected) {
            std::cmp::Ordering::Equal => None,
            std::cmp::Ordering::Greater => Some(Self::Unaccounted { expected, found }),
            std::cmp::Ordering::Less => Some(Self::Reset { expected, found }),
        }
    }

    /// The pause's reason code (a message key `pause.<reason>`).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unaccounted { .. } => BLANK_UNACCOUNTED,
            Self::Reset { .. } => COUNTER_RESET,
        }
    }

    fn numbers(self) -> (u64, u64) {
        match self {
            Self::Unaccounted { expected, found } | Self::Reset { expected, found } => (expected, found),
        }
    }
}

pub const BLANK_UNACCOUNTED: &str = "blank_unaccounted";
pub const COUNTER_RESET: &str = "counter_reset";

/// An operator's booking the journal refuses, with what would be right.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BookingRefused {
    #[error("printer {printer} has no blank unaccounted to explain (nothing is waiting, or it was already booked)")]
    NothingToExplain { printer: String },
    #[error("printer {printer}: {cards} card(s) is more than the {difference} unaccounted (the counter went from {expected} to {found})")]
    TooMany { printer: String, cards: u64, difference: u64, expected: u64, found: u64 },
    #[error("printer {printer}: explain at least one card")]
    NoCards { printer: String },
    #[error("printer {printer}'s card counter went down (from {expected} to {found}): book it as a service reset with --reset")]
    IsReset { printer: String, expected: u64, found: u64 },
    #[error("printer {printer}'s card counter did not go down: there is no reset to book")]
    NoReset { printer: String },
    #[error(
        "printer {printer}'s counter shows {found}, below the {to} the reset is said to have set: check with the technician (--reset-to)"
    )]
    ResetAbove { printer: String, to: u64, found: u64 },
    #[error("a booking needs a reason")]
    NoReason,
}

/// A pause that waits for a counter booking, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GapPause {
    gap: CounterGap,
}

impl Journal {
    /// Pauses a printer's station (an operator's pause, a district's
    /// command), with an outbox event for the district. A pause that
    /// waits for a counter booking is never replaced by another.
    pub fn pause(&mut self, printer: &str, reason: &str, detail: serde_json::Value) -> Result<()> {
        let tx = self.ctx.begin(&mut self.conn)?;
        tx.execute(
            "INSERT INTO pauses (printer, reason, detail, since) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (printer) DO UPDATE SET reason = ?2, detail = ?3
             WHERE pauses.reason NOT IN ('blank_unaccounted', 'counter_reset')",
            params![printer, reason, detail.to_string(), now()],
        )
        .map_err(self.ctx.sql())?;
        self.ctx.event(&tx, None, json!({"event": reason, "printer": printer, "detail": detail}))?;
        self.ctx.commit(tx)
    }

    /// Pauses a printer whose counter is not the journal's, with both
    /// numbers, until an operator books the difference.
    pub fn pause_for_counter(&mut self, printer: &str, gap: CounterGap) -> Result<()> {
        let (expected, found) = gap.numbers();
        let cards = i128::from(found) - i128::from(expected);
        self.pause(printer, gap.reason(), json!({"expected": expected, "found": found, "cards": cards.to_string()}))
    }

    pub fn pause_of(&self, printer: &str) -> Result<Option<(String, String)>> {
        self.conn
            .query_row("SELECT reason, detail FROM pauses WHERE printer = ?1", [printer], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(self.ctx.sql())
    }

    /// The counter gap a printer is paused for, if any.
    pub fn counter_gap(&self, printer: &str) -> Result<Option<CounterGap>> {
        Ok(self.gap_pause(printer)?.map(|p| p.gap))
    }

    fn gap_pause(&self, printer: &str) -> Result<Option<GapPause>> {
        let Some((reason, detail)) = self.pause_of(printer)? else { return Ok(None) };
        let v: serde_json::Value = serde_json::from_str(&detail).map_err(|e| JournalError::Corrupt(format!("pause of {printer}: {e}")))?;
        let (Some(expected), Some(found)) = (v["expected"].as_u64(), v["found"].as_u64()) else {
            return Ok(None);
        };
        let gap = match reason.as_str() {
            BLANK_UNACCOUNTED => CounterGap::Unaccounted { expected, found },
            COUNTER_RESET => CounterGap::Reset { expected, found },
            _ => return Ok(None),
        };
        Ok(Some(GapPause { gap }))
    }

    /// Lifts an operator's pause. A pause for the counter is lifted only by
    /// booking it ([`Journal::book_unaccounted`], [`Journal::book_reset`]).
    pub fn resume(&mut self, printer: &str, actor: impl Into<Actor>) -> Result<bool> {
        let actor = &actor.into();
        let tx = self.ctx.begin(&mut self.conn)?;
        let n = tx
            .execute("DELETE FROM pauses WHERE printer = ?1 AND reason NOT IN ('blank_unaccounted', 'counter_reset')", [printer])
            .map_err(self.ctx.sql())?;
        self.ctx.operator_action(&tx, actor, "resume", None, printer)?;
        self.ctx.commit(tx)?;
        Ok(n > 0)
    }

    /// Books blanks that left a feeder without a job (a test card from the
    /// front panel, another program) with the operator's reason, against the
    /// pause that reported them: `cards` (default: all of them) may not be
    /// more than the pause's difference. An audited adjustment; when every
    /// card is explained the station prints again, otherwise the pause stays
    /// for the rest. Returns the cards still unexplained.
    pub fn book_unaccounted(&mut self, printer: &str, cards: Option<u64>, reason: &str, actor: impl Into<Actor>) -> Result<u64> {
        let actor = &actor.into();
        if reason.trim().is_empty() {
            return Err(BookingRefused::NoReason.into());
        }
        let (expected, found) = match self.gap_pause(printer)?.map(|p| p.gap) {
            Some(CounterGap::Unaccounted { expected, found }) => (expected, found),
            Some(CounterGap::Reset { expected, found }) => {
                return Err(BookingRefused::IsReset { printer: printer.into(), expected, found }.into())
            }
            None => return Err(BookingRefused::NothingToExplain { printer: printer.into() }.into()),
        };
        let difference = found - expected;
        let cards = cards.unwrap_or(difference);
        if cards == 0 {
            return Err(BookingRefused::NoCards { printer: printer.into() }.into());
        }
        if cards > difference {
            return Err(BookingRefused::TooMany { printer: printer.into(), cards, difference, expected, found }.into());
        }
        let quantity = i64::try_from(cards).map_err(|_| JournalError::Corrupt(format!("{cards} cards")))?;
        let explained = expected + cards;
        let tx = self.ctx.begin(&mut self.conn)?;
        self.ctx.ledger(
            &tx,
            LedgerKind::Adjustment,
            &Location::Hopper(printer.into()),
            Item::Blanko,
            -quantity,
            None,
            None,
            json!({"reason": reason, "operator_uid": actor.uid(), "cause": BLANK_UNACCOUNTED, "expected": expected, "found": found}),
        )?;
        self.ctx.set_counter(&tx, printer, explained)?;
        if explained == found {
            tx.execute("DELETE FROM pauses WHERE printer = ?1", [printer]).map_err(self.ctx.sql())?;
        } else {
            let detail = json!({"expected": explained, "found": found, "cards": (found - explained).to_string()});
            tx.execute("UPDATE pauses SET detail = ?2 WHERE printer = ?1", params![printer, detail.to_string()]).map_err(self.ctx.sql())?;
        }
        let what = json!({"printer": printer, "cards": cards, "reason": reason}).to_string();
        self.ctx.operator_action(&tx, actor, "book_unaccounted", None, &what)?;
        self.ctx.event(
            &tx,
            None,
            json!({"event": "blank_unaccounted_booked", "printer": printer, "cards": cards, "left": found - explained, "operator_uid": actor.uid()}),
        )?;
        self.ctx.commit(tx)?;
        Ok(found - explained)
    }

    /// Books a service reset of a printer's card counter (it went down),
    /// against the pause that reported it: no blank moved; the counter
    /// starts again from `to` (what the reset set it to, 0 unless the
    /// technician says otherwise) in a new counter epoch. Cards the printer
    /// counted since (`found - to`: a test card pressed before the agent
    /// looked) are not part of the reset: the next counter check pauses on
    /// them as blanks to explain. Returns how many those are.
    pub fn book_reset(&mut self, printer: &str, reason: &str, to: u64, actor: impl Into<Actor>) -> Result<u64> {
        let actor = &actor.into();
        if reason.trim().is_empty() {
            return Err(BookingRefused::NoReason.into());
        }
        let (expected, found) = match self.gap_pause(printer)?.map(|p| p.gap) {
            Some(CounterGap::Reset { expected, found }) => (expected, found),
            _ => return Err(BookingRefused::NoReset { printer: printer.into() }.into()),
        };
        if to > found {
            return Err(BookingRefused::ResetAbove { printer: printer.into(), to, found }.into());
        }
        let tx = self.ctx.begin(&mut self.conn)?;
        self.ctx.ledger(
            &tx,
            LedgerKind::CounterReset,
            &Location::Hopper(printer.into()),
            Item::Counter,
            0,
            None,
            None,
            json!({"reason": reason, "operator_uid": actor.uid(), "expected": expected, "found": found, "to": to}),
        )?;
        tx.execute(
            "UPDATE printers SET last_counter = ?2, counter_epoch = counter_epoch + 1 WHERE name = ?1",
            params![printer, counter_i64(to)?],
        )
        .map_err(self.ctx.sql())?;
        tx.execute("DELETE FROM pauses WHERE printer = ?1", [printer]).map_err(self.ctx.sql())?;
        let what = json!({"printer": printer, "expected": expected, "found": found, "to": to, "reason": reason}).to_string();
        self.ctx.operator_action(&tx, actor, "book_reset", None, &what)?;
        self.ctx.event(
            &tx,
            None,
            json!({"event": "counter_reset_booked", "printer": printer, "expected": expected, "found": found, "to": to, "operator_uid": actor.uid()}),
        )?;
        self.ctx.commit(tx)?;
        Ok(found - to)
    }
}

/// A card counter as SQLite stores it (signed 64 bits).
pub(super) fn counter_i64(c: u64) -> Result<i64> {
    i64::try_from(c).map_err(|_| JournalError::Corrupt(format!("card counter {c} is out of range")))
}
