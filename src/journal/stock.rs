//! The journal's consumables ledger operations (DESIGN §4): blanks received
//! into the office safe, moved to a printer's hopper, ribbons and films
//! installed, physical counts booked as adjustments with the operator's
//! reason. Each is one transaction and one or two chained ledger events;
//! the card events (used, spoiled, ribbon and film panels) are booked with
//! their attempt in `end_attempt`.

use super::Actor;
use cetak_model::ledger::{Item, LedgerKind, Location};
use rusqlite::params;
use serde_json::json;

use rusqlite::Transaction;

use super::{Journal, JournalError, Result};

/// The office safe, as the ledger stores it ([`Location::Safe`]).
pub const SAFE: &str = "safe";

/// A printer's hopper, as the ledger stores it ([`Location::Hopper`]).
pub fn hopper(printer: &str) -> String {
    Location::Hopper(printer.into()).to_string()
}

/// What is in a printer (ribbon, film), as the ledger stores it
/// ([`Location::Printer`]).
pub fn printer_loc(printer: &str) -> String {
    Location::Printer(printer.into()).to_string()
}

/// Blanks received: how many, their batch and version, and the serial
/// range printed on them when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub blanko: u32,
    pub batch: String,
    pub version: String,
    pub serial_from: Option<String>,
    pub serial_to: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StockError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("blank version {version} is not one this station supports ({supported}): refused")]
    Version { version: String, supported: String },
    #[error("the safe holds {have} blank(s): cannot move {want}")]
    NotEnough { have: i64, want: u32 },
    #[error("{0}")]
    Invalid(String),
}

impl super::Ctx {
    /// Ribbon and film used by a printed card, in the attempt's
    /// transaction. Film only where a film was ever installed.
    pub(super) fn consumables_used(&self, tx: &Transaction<'_>, printer: &str, job_id: &str, attempt: u32) -> Result<()> {
        let loc = Location::Printer(printer.into());
        self.ledger(tx, LedgerKind::RibbonUsed, &loc, Item::Ribbon, -1, Some(job_id), Some(attempt), json!({}))?;
        let film: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM ledger WHERE kind = ?1 AND location = ?2)",
                params![LedgerKind::FilmInstalled.as_str(), loc.to_string()],
                |r| r.get(0),
            )
            .map_err(self.sql())?;
        if film {
            self.ledger(tx, LedgerKind::FilmUsed, &loc, Item::Film, -1, Some(job_id), Some(attempt), json!({}))?;
        }
        Ok(())
    }
}

impl Journal {
    /// On hand at a location, for one item: the fold of its events.
    pub fn on_hand(&self, location: &str, item: &str) -> Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(SUM(quantity), 0) FROM ledger WHERE location = ?1 AND item = ?2", params![location, item], |r| {
                r.get(0)
            })
            .map_err(self.ctx.sql())
    }

    /// Blanks into the safe. Versions not in `supported` are refused.
    pub fn receive(&mut self, r: &Receipt, supported: &[String], actor: impl Into<Actor>) -> std::result::Result<(), StockError> {
        let actor = &actor.into();
        if !supported.iter().any(|v| v == &r.version) {
            return Err(StockError::Version { version: r.version.clone(), supported: supported.join(", ") });
        }
        if r.blanko == 0 || r.batch.trim().is_empty() {
            return Err(StockError::Invalid("a receipt needs --blanko above 0 and a --batch".into()));
        }
        let detail = json!({
            "batch": r.batch, "version": r.version, "serial_from": r.serial_from, "serial_to": r.serial_to, "operator_uid": actor.uid(),
        });
        self.book(actor, "stock_receive", &[(LedgerKind::Received, Location::Safe, Item::Blanko, i64::from(r.blanko), detail)])?;
        Ok(())
    }

    /// Blanks from the safe into a printer's hopper.
    pub fn load(&mut self, printer: &str, blanko: u32, actor: impl Into<Actor>) -> std::result::Result<(), StockError> {
        let actor = &actor.into();
        let have = self.on_hand(SAFE, "blanko")?;
        if have < i64::from(blanko) || blanko == 0 {
            return Err(StockError::NotEnough { have, want: blanko });
        }
        let d = json!({"printer": printer, "operator_uid": actor.uid()});
        self.book(
            actor,
            "stock_load",
            &[
                (LedgerKind::Loaded, Location::Safe, Item::Blanko, -i64::from(blanko), d.clone()),
                (LedgerKind::Loaded, Location::Hopper(printer.into()), Item::Blanko, i64::from(blanko), d),
            ],
        )?;
        Ok(())
    }

    /// A new ribbon or film in a printer: what is left of the old one is
    /// written off, the new one's capacity (in cards) booked.
    pub fn install(
        &mut self,
        printer: &str,
        item: &str,
        capacity: u32,
        lot: Option<&str>,
        actor: impl Into<Actor>,
    ) -> std::result::Result<(), StockError> {
        let actor = &actor.into();
        let (item, kind) = match Item::parse(item) {
            Some(Item::Ribbon) if capacity > 0 => (Item::Ribbon, LedgerKind::RibbonInstalled),
            Some(Item::Film) if capacity > 0 => (Item::Film, LedgerKind::FilmInstalled),
            _ => return Err(StockError::Invalid("install a ribbon or a film with a capacity above 0".into())),
        };
        let loc = Location::Printer(printer.into());
        let left = self.on_hand(&loc.to_string(), item.as_str())?;
        let d = json!({"lot": lot, "operator_uid": actor.uid()});
        let mut events = Vec::new();
        if left != 0 {
            events.push((LedgerKind::Removed, loc.clone(), item, -left, d.clone()));
        }
        events.push((kind, loc, item, i64::from(capacity), d));
        self.book(actor, "stock_install", &events)?;
        Ok(())
    }

    /// A physical count: the difference to the ledger is booked as an
    /// adjustment with the operator's reason. Returns the difference.
    pub fn count(
        &mut self,
        location: &str,
        item: &str,
        counted: u32,
        reason: &str,
        actor: impl Into<Actor>,
    ) -> std::result::Result<i64, StockError> {
        let actor = &actor.into();
        if reason.trim().is_empty() {
            return Err(StockError::Invalid("a count needs --reason".into()));
        }
        let place =
            Location::parse(location).ok_or_else(|| StockError::Invalid(format!("{location:?} is not a place (safe, hopper:PRINTER)")))?;
        let thing = Item::parse(item).ok_or_else(|| StockError::Invalid(format!("{item:?} is not counted here (blanko, ribbon, film)")))?;
        let diff = i64::from(counted) - self.on_hand(location, item)?;
        let d = json!({"reason": reason, "counted": counted, "operator_uid": actor.uid()});
        let kind = if diff == 0 { LedgerKind::Counted } else { LedgerKind::Adjustment };
        self.book(actor, "stock_count", &[(kind, place, thing, diff, d)])?;
        Ok(diff)
    }

    /// Books ledger events in one transaction, with the operator's action.
    fn book(&mut self, actor: &Actor, action: &str, events: &[(LedgerKind, Location, Item, i64, serde_json::Value)]) -> Result<()> {
        let tx = self.ctx.begin(&mut self.conn)?;
        for (kind, location, item, quantity, detail) in events {
            self.ctx.ledger(&tx, *kind, location, *item, *quantity, None, None, detail.clone())?;
        }
        let detail =
            json!(events.iter().map(|e| json!([e.0.as_str(), e.1.to_string(), e.2.as_str(), e.3])).collect::<Vec<_>>()).to_string();
        self.ctx.operator_action(&tx, actor, action, None, &detail)?;
        self.ctx.commit(tx)
    }
}

impl Journal {
    /// Records that the printer's card counter matched the ledger (once a
    /// connection): its counter, and the blanks the ledger says left this
    /// printer's hopper (used or spoiled, and booked adjustments).
    pub fn reconcile(&mut self, printer: &str, serial: &str, card_counter: u64) -> Result<()> {
        let out: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM ledger WHERE location = ?1 AND kind IN (?2, ?3)",
                params![hopper(printer), LedgerKind::BlankUsed.as_str(), LedgerKind::BlankSpoiled.as_str()],
                |r| r.get(0),
            )
            .map_err(self.ctx.sql())?;
        let tx = self.ctx.begin(&mut self.conn)?;
        self.ctx.ledger(
            &tx,
            LedgerKind::Reconciled,
            &Location::Hopper(printer.into()),
            Item::Counter,
            0,
            None,
            None,
            json!({"serial": serial, "card_counter": card_counter, "ledger_blanks_out": out}),
        )?;
        self.ctx.commit(tx)
    }
}
