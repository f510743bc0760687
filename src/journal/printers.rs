//! The printers the journal knows (serial, model, last card counter and
//! its epoch) and each station loop's state for `status`, the health
//! endpoint and the district's heartbeat.

use rusqlite::{params, OptionalExtension, Transaction};

use cetak_model::ledger::{Item, LedgerKind, Location};
use cetak_model::wire::PrinterState;
use serde_json::json;

use super::{counters, now, Ctx, Journal, PrinterRow, Result};

impl Journal {
    pub fn printer(&self, name: &str) -> Result<Option<PrinterRow>> {
        self.conn
            .query_row("SELECT name, serial, model, last_counter, counter_epoch FROM printers WHERE name = ?1", [name], |r| {
                Ok(PrinterRow {
                    name: r.get(0)?,
                    serial: r.get(1)?,
                    model: r.get(2)?,
                    last_counter: r.get::<_, i64>(3)?.max(0).unsigned_abs(),
                    counter_epoch: r.get(4)?,
                })
            })
            .optional()
            .map_err(self.ctx.sql())
    }

    /// Adopts a printer seen for the first time (or a new serial on the
    /// same port, after an operator settled the change), with an event.
    pub fn adopt_printer(&mut self, name: &str, serial: &str, model: &str, counter: u64) -> Result<()> {
        let tx = self.ctx.begin(&mut self.conn)?;
        tx.execute(
            "INSERT INTO printers (name, serial, model, last_counter, adopted_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (name) DO UPDATE SET serial = ?2, model = ?3, last_counter = ?4, adopted_at = ?5",
            params![name, serial, model, counters::counter_i64(counter)?, now()],
        )
        .map_err(self.ctx.sql())?;
        self.ctx.ledger(
            &tx,
            LedgerKind::PrinterAdopted,
            &Location::Hopper(name.into()),
            Item::Counter,
            0,
            None,
            None,
            json!({"serial": serial, "card_counter": counter}),
        )?;
        self.ctx.commit(tx)
    }

    /// Records what a station loop is doing, for `cetak status`.
    pub fn set_station_status(&self, printer: &str, state: PrinterState, detail: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO station_status (printer, state, detail, since) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (printer) DO UPDATE SET state = ?2, detail = ?3,
                 since = CASE WHEN station_status.state = ?2 THEN station_status.since ELSE ?4 END",
                params![printer, state.as_str(), detail, now()],
            )
            .map_err(self.ctx.sql())?;
        Ok(())
    }

    /// Each printer's last recorded state: (printer, state, detail).
    pub fn station_status(&self) -> Result<Vec<(String, PrinterState, String)>> {
        let mut stmt = self.conn.prepare("SELECT printer, state, detail FROM station_status ORDER BY printer").map_err(self.ctx.sql())?;
        let rows =
            stmt.query_map([], |r| Ok((r.get(0)?, PrinterState::parse(&r.get::<_, String>(1)?), r.get(2)?))).map_err(self.ctx.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx.sql())
    }
}

impl Ctx {
    pub(super) fn set_counter(&self, tx: &Transaction<'_>, printer: &str, counter: u64) -> Result<()> {
        tx.execute("UPDATE printers SET last_counter = ?2 WHERE name = ?1", params![printer, counters::counter_i64(counter)?])
            .map_err(self.sql())?;
        Ok(())
    }
}
