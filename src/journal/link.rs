//! The state of the link to the district: online or offline since when,
//! the next retry and the last error, the district's time, and how much of
//! the ledger the district holds.

use rusqlite::{params, OptionalExtension};

use super::{now, Journal, Result};

/// The state of the link to the district.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    pub online: bool,
    /// Unix seconds of the last change between online and offline.
    pub since: i64,
    pub last_contact: Option<i64>,
    pub skew_ms: i64,
}

impl Journal {
    /// Records a contact with the district (or a failed one).
    pub fn set_link(&self, online: bool, district_ms: Option<i64>, skew_ms: Option<i64>) -> Result<()> {
        let t = now();
        self.conn
            .execute(
                "INSERT INTO district_link (id, online, since, last_contact, last_district_ms, skew_ms) VALUES (1, ?1, ?2, ?3, ?4, COALESCE(?5, 0))
                 ON CONFLICT (id) DO UPDATE SET
                   since = CASE WHEN online = ?1 THEN since ELSE ?2 END,
                   online = ?1,
                   last_contact = COALESCE(?3, last_contact),
                   next_retry_at = CASE WHEN ?1 THEN NULL ELSE next_retry_at END,
                   last_district_ms = COALESCE(?4, last_district_ms),
                   skew_ms = COALESCE(?5, skew_ms)",
                params![online, t, online.then_some(t), district_ms, skew_ms],
            )
            .map_err(self.ctx.sql())?;
        Ok(())
    }

    /// A failed call: when the next try is due and what went wrong (a
    /// district error or the network's; never a payload). A later contact
    /// clears both.
    pub fn set_retry(&self, next_at: i64, error: &str) -> Result<()> {
        self.conn
            .execute("UPDATE district_link SET next_retry_at = ?1, last_error = ?2 WHERE id = 1", params![next_at, error])
            .map_err(self.ctx.sql())?;
        Ok(())
    }

    /// When the next try is due and the last call's error, while offline.
    pub fn retry(&self) -> Result<Option<(i64, String)>> {
        Ok(self
            .conn
            .query_row("SELECT next_retry_at, last_error FROM district_link WHERE id = 1 AND online = 0", [], |r| {
                Ok(r.get::<_, Option<i64>>(0)?.zip(r.get::<_, Option<String>>(1)?))
            })
            .optional()
            .map_err(self.ctx.sql())?
            .flatten())
    }

    pub fn link(&self) -> Result<Option<Link>> {
        self.conn
            .query_row("SELECT online, since, last_contact, skew_ms FROM district_link WHERE id = 1", [], |r| {
                Ok(Link { online: r.get(0)?, since: r.get(1)?, last_contact: r.get(2)?, skew_ms: r.get(3)? })
            })
            .optional()
            .map_err(self.ctx.sql())
    }

    /// The latest district time ever seen (Unix ms), for a clock that must
    /// not fall behind it after a restart.
    pub fn last_district_ms(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT last_district_ms FROM district_link WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(self.ctx.sql())?
            .flatten())
    }
}

impl Journal {
    /// Ledger events after the last head the district stored, oldest
    /// first, as the stock report sends them.
    pub fn ledger_unreported(&self) -> Result<Vec<super::LedgerRow>> {
        let head: Option<String> = self
            .conn
            .query_row("SELECT stock_head FROM district_link WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(self.ctx.sql())?
            .flatten();
        // A head we no longer hold (a rewritten ledger) sends everything:
        // the district then sees the chain does not grow from its head.
        let after: i64 = match head {
            Some(h) => self
                .conn
                .query_row("SELECT id FROM ledger WHERE hash = ?1", [h], |r| r.get(0))
                .optional()
                .map_err(self.ctx.sql())?
                .unwrap_or(0),
            None => 0,
        };
        self.ledger_rows_after(after)
    }

    /// The district holds the ledger up to `hash` (`None`: nothing of it).
    pub fn set_stock_head(&self, hash: Option<&str>) -> Result<()> {
        self.conn.execute("UPDATE district_link SET stock_head = ?1 WHERE id = 1", params![hash]).map_err(self.ctx.sql())?;
        Ok(())
    }
}
