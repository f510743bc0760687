//! The journal's consumables ledger operations (DESIGN §4): blanks received
//! into the office safe, moved to a printer's hopper, ribbons and films
//! installed, physical counts booked as adjustments with the operator's
//! reason. Each is one transaction and one or two chained ledger events;
//! the card events (used, spoiled, ribbon and film panels) are booked with
//! their attempt in `end_attempt`.

use super::Actor;
use rusqlite::params;
use serde_json::json;

use super::{Journal, JournalError, Result, Transaction};

/// The office safe.
pub const SAFE: &str = "safe";

pub fn hopper(printer: &str) -> String {
    format!("hopper:{printer}")
}

pub fn printer_loc(printer: &str) -> String {
    format!("printer:{printer}")
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
        let loc = printer_loc(printer);
        self.ledger(tx, "ribbon_used", &loc, "ribbon", -1, Some(job_id), Some(attempt), json!({}))?;
        let film: bool = tx
            .query_row("SELECT EXISTS (SELECT 1 FROM ledger WHERE kind = 'film_installed' AND location = ?1)", [&loc], |r| r.get(0))
            .map_err(self.sql())?;
        if film {
            self.ledger(tx, "film_used", &loc, "film", -1, Some(job_id), Some(attempt), json!({}))?;
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
        self.book(actor, "stock_receive", &[("received", SAFE, "blanko", i64::from(r.blanko), detail)])?;
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
            &[("loaded", SAFE, "blanko", -i64::from(blanko), d.clone()), ("loaded", &hopper(printer), "blanko", i64::from(blanko), d)],
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
        if !matches!(item, "ribbon" | "film") || capacity == 0 {
            return Err(StockError::Invalid("install a ribbon or a film with a capacity above 0".into()));
        }
        let loc = printer_loc(printer);
        let left = self.on_hand(&loc, item)?;
        let d = json!({"lot": lot, "operator_uid": actor.uid()});
        let mut events = Vec::new();
        if left != 0 {
            events.push(("removed", loc.as_str(), item, -left, d.clone()));
        }
        let kind = if item == "ribbon" { "ribbon_installed" } else { "film_installed" };
        events.push((kind, loc.as_str(), item, i64::from(capacity), d));
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
        let diff = i64::from(counted) - self.on_hand(location, item)?;
        let d = json!({"reason": reason, "counted": counted, "operator_uid": actor.uid()});
        let kind = if diff == 0 { "counted" } else { "adjustment" };
        self.book(actor, "stock_count", &[(kind, location, item, diff, d)])?;
        Ok(diff)
    }

    /// Books ledger events in one transaction, with the operator's action.
    fn book(&mut self, actor: &Actor, action: &str, events: &[(&str, &str, &str, i64, serde_json::Value)]) -> Result<()> {
        let tx = self.ctx.begin(&mut self.conn)?;
        for (kind, location, item, quantity, detail) in events {
            self.ctx.ledger(&tx, kind, location, item, *quantity, None, None, detail.clone())?;
        }
        let detail = json!(events.iter().map(|e| json!([e.0, e.1, e.2, e.3])).collect::<Vec<_>>()).to_string();
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
                "SELECT count(*) FROM ledger WHERE location = ?1 AND kind IN ('blank_used', 'blank_spoiled')",
                [hopper(printer)],
                |r| r.get(0),
            )
            .map_err(self.ctx.sql())?;
        let tx = self.ctx.begin(&mut self.conn)?;
        self.ctx.ledger(
            &tx,
            "reconciled",
            &hopper(printer),
            "counter",
            0,
            None,
            None,
            json!({"serial": serial, "card_counter": card_counter, "ledger_blanks_out": out}),
        )?;
        self.ctx.commit(tx)
    }
}
