//! Transactions and the one way a SQLite error becomes a [`JournalError`].
//!
//! Every write of the journal is one immediate transaction opened by
//! [`Ctx::begin`] and closed by [`Ctx::commit`], which also passes the
//! `journal.<from>-<to>.after` fail points of the moves it committed; every
//! SQLite error carries the journal's path through [`sqlite_error`].

use std::path::{Path, PathBuf};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{JournalError, Result, Vault};

/// The conversion of a SQLite error, naming the journal it happened in.
pub(super) fn sqlite_error(path: &Path) -> impl Fn(rusqlite::Error) -> JournalError + Copy + '_ {
    move |source| JournalError::Sqlite { path: path.to_path_buf(), source }
}

/// What the transaction helpers need besides the connection, kept apart so
/// a transaction (a borrow of the connection) and the helpers can coexist.
pub(super) struct Ctx {
    pub(super) path: PathBuf,
    pub(super) vault: Vault,
    /// Transitions of the open transaction, for the fail points that fire
    /// once it is committed.
    pub(super) moved: std::cell::RefCell<Vec<String>>,
}

impl Ctx {
    /// Opens a write transaction (taking SQLite's write lock at once).
    pub(super) fn begin<'c>(&self, conn: &'c mut Connection) -> Result<Transaction<'c>> {
        self.moved.borrow_mut().clear();
        conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(self.sql())
    }

    /// Commits, then passes the `after` fail point of each transition the
    /// transaction made (`journal.<from>-<to>.after`).
    pub(super) fn commit(&self, tx: Transaction<'_>) -> Result<()> {
        let result = tx.commit().map_err(self.sql());
        for name in self.moved.take() {
            cetak_failpoints::hit(&format!("journal.{name}.after"));
        }
        result
    }

    /// The conversion of this journal's SQLite errors, for `map_err`.
    pub(super) fn sql(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
        sqlite_error(&self.path)
    }
}
