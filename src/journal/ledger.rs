//! The stock ledger: every movement of a blank, a ribbon or a film as an
//! event chained by hash to the one before it (the district holds the
//! same chain), and its verification.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{now, Ctx, Journal, LedgerRow, Result};
use cetak_model::ledger::{event_hash as ledger_hash, Item, LedgerKind, Location, ZERO_HASH};

impl LedgerRow {
    /// The event as a stock report carries it.
    pub fn to_event(&self) -> cetak_model::ledger::LedgerEvent {
        cetak_model::ledger::LedgerEvent {
            at: self.at,
            kind: self.kind.clone(),
            location: self.location.clone(),
            item: self.item.clone(),
            quantity: self.quantity,
            job_id: self.job_id.clone(),
            attempt: self.attempt,
            detail: self.detail.clone(),
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        }
    }
}

impl Journal {
    pub fn ledger_rows(&self) -> Result<Vec<LedgerRow>> {
        self.ledger_rows_after(0)
    }

    /// Ledger events with an id above `id`, oldest first.
    pub fn ledger_rows_after(&self, id: i64) -> Result<Vec<LedgerRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, kind, location, item, quantity, job_id, attempt, detail, prev_hash, hash, at FROM ledger WHERE id > ?1 ORDER BY id",
            )
            .map_err(self.ctx.sql())?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(LedgerRow {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    location: r.get(2)?,
                    item: r.get(3)?,
                    quantity: r.get(4)?,
                    job_id: r.get(5)?,
                    attempt: r.get(6)?,
                    detail: r.get(7)?,
                    prev_hash: r.get(8)?,
                    hash: r.get(9)?,
                    at: r.get(10)?,
                })
            })
            .map_err(self.ctx.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx.sql())
    }

    /// Recomputes the ledger's hash chain; returns the id of the first row
    /// that does not verify.
    pub fn verify_ledger(&self) -> Result<Option<i64>> {
        // One verification for the station and the district: the model's.
        let rows = self.ledger_rows()?;
        let events: Vec<_> = rows.iter().map(LedgerRow::to_event).collect();
        Ok(cetak_model::ledger::verify_chain(ZERO_HASH, &events).err().and_then(|i| rows.get(i)).map(|r| r.id))
    }
}

impl Ctx {
    /// Appends a ledger event chained to the one before it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn ledger(
        &self,
        tx: &Transaction<'_>,
        kind: LedgerKind,
        location: &Location,
        item: Item,
        quantity: i64,
        job_id: Option<&str>,
        attempt: Option<u32>,
        detail: serde_json::Value,
    ) -> Result<()> {
        let prev: String = tx
            .query_row("SELECT hash FROM ledger ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(self.sql())?
            .unwrap_or_else(|| ZERO_HASH.to_string());
        let at = now();
        let detail = detail.to_string();
        let (kind, location, item) = (kind.as_str(), location.to_string(), item.as_str());
        let hash = ledger_hash(&prev, at, kind, &location, item, quantity, job_id, attempt, &detail);
        tx.execute(
            "INSERT INTO ledger (at, kind, location, item, quantity, job_id, attempt, detail, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![at, kind, location, item, quantity, job_id, attempt, detail, prev, hash],
        )
        .map_err(self.sql())?;
        // A crash here dies inside the transaction: the event is not kept.
        cetak_failpoints::hit(&format!("ledger.{kind}"));
        Ok(())
    }
}
