//! Totals for the health endpoint's metrics, counted from the journal
//! itself (the ledger and the attempts), so what `/metrics` says is what
//! the journal says. Reason labels are fault codes or the operator's
//! spoil reasons, never a personal value.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;

use super::{Journal, Result};

/// Counters since the journal began, and the outbox's depth.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tallies {
    /// Blanks booked `blank_used`: good cards.
    pub printed: u64,
    /// Blanks booked `blank_spoiled`, by reason.
    pub spoiled: BTreeMap<String, u64>,
    /// Attempts that did not end with a good card, by fault.
    pub failures: BTreeMap<String, u64>,
    /// Messages for the district not yet acknowledged.
    pub outbox: u64,
}

impl Journal {
    pub fn tallies(&self) -> Result<Tallies> {
        let printed: i64 = self
            .conn
            .query_row("SELECT COALESCE(-SUM(quantity), 0) FROM ledger WHERE kind = 'blank_used' AND item = 'blanko'", [], |r| r.get(0))
            .map_err(self.ctx.sql())?;
        let grouped = |query: &str| -> Result<BTreeMap<String, u64>> {
            let mut stmt = self.conn.prepare(query).map_err(self.ctx.sql())?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).map_err(self.ctx.sql())?;
            rows.map(|r| r.map(|(k, n)| (k, n.max(0) as u64))).collect::<std::result::Result<_, _>>().map_err(self.ctx.sql())
        };
        let spoiled = grouped(
            "SELECT COALESCE(json_extract(detail, '$.reason'), 'unknown'), -SUM(quantity)
             FROM ledger WHERE kind = 'blank_spoiled' AND item = 'blanko' GROUP BY 1",
        )?;
        let failures = grouped(
            "SELECT COALESCE(fault, 'unknown'), COUNT(*) FROM attempts
             WHERE outcome IN ('spoiled', 'not_fed', 'uncertain') GROUP BY 1",
        )?;
        let outbox: i64 =
            self.conn.query_row("SELECT COUNT(*) FROM outbox WHERE acked_at IS NULL", [], |r| r.get(0)).map_err(self.ctx.sql())?;
        Ok(Tallies { printed: printed.max(0) as u64, spoiled, failures, outbox: outbox.max(0) as u64 })
    }

    /// Whether the journal takes a write now: a write transaction begun and
    /// rolled back (a full disk or a read-only mount shows here).
    pub fn writable(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;").map_err(self.ctx.sql())
    }

    /// The last attempt that did not give a good card: (when, printer,
    /// job id, fault).
    pub fn last_failure(&self) -> Result<Option<(i64, String, String, String)>> {
        self.conn
            .query_row(
                "SELECT ended_at, printer, job_id, COALESCE(fault, 'unknown') FROM attempts
                 WHERE outcome IN ('spoiled', 'not_fed', 'uncertain') ORDER BY ended_at DESC, id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(self.ctx.sql())
    }

    /// When the station last heard from its district (Unix seconds).
    pub fn last_contact(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT last_contact FROM district_link WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(self.ctx.sql())?
            .flatten())
    }
}
