//! The journal: the station's crash-safe memory.
//!
//! # On disk
//! One SQLite database, `journal.db`, in the state folder, in WAL mode with
//! `synchronous=FULL` (every commit is on the disk before it returns), and a
//! `keys/` folder of per-day keys (see [`vault`]). Tables: `jobs` (one row
//! per job id, forever: a purged row is the tombstone that refuses a
//! replay), `job_events` (every state change), `attempts` (one row per card
//! attempt, written before the card is fed), `outbox` (messages for the
//! district, kept until acknowledged), `ledger` (consumable events, each
//! carrying the hash of the one before), `printers` (serial and last known
//! card counter), `pauses`, `station_status`, `operator_actions`.
//!
//! # Invariants
//! - Every state change is one transaction, written **before** the action
//!   it announces, with its outbox message and its ledger events.
//! - Only the moves of [`JobState::can_move_to`] are ever written; anything
//!   else is [`JournalError::IllegalTransition`] and writes nothing.
//! - A PRR payload is stored only sealed by the [`vault`], with its job id
//!   as associated data; job id, `kode_wilayah` and priority stay in clear.
//! - A payload is destroyed when its job is purged, a day's key when no
//!   payload of that day is left, and the WAL is then truncated.
//! - A journal whose schema is newer than this binary is refused.

mod attempts;
pub mod counters;
pub mod disk;
pub mod district;
mod enrolment;
mod jobs;
mod ledger;
mod link;
pub mod operators;
pub mod outbox;
mod printers;
mod schema;
pub mod state;
pub mod stock;
pub mod tallies;
mod tx;
pub mod vault;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use tx::{sqlite_error, Ctx};

// The clock the rows are stamped with (its own module; the journal's
// files reach it as `super::now` and so on).
use crate::clock::{day_name, now, today};

pub use outbox::Message;
pub use state::JobState;

pub use cetak_model::Actor;
pub use vault::{Vault, VaultError};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("journal folder {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("journal {path} was written by a newer cetak (schema {found}, this binary knows {known}): install the newer version")]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error("job {job_id}: illegal transition {from} -> {to}")]
    IllegalTransition { job_id: String, from: JobState, to: JobState },
    #[error("job {job_id} is {actual}, expected {expected}")]
    WrongState { job_id: String, expected: JobState, actual: JobState },
    #[error("job {0} is not in the journal")]
    UnknownJob(String),
    #[error("journal holds an unknown state: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Booking(#[from] counters::BookingRefused),
}

type Result<T, E = JournalError> = std::result::Result<T, E>;

/// A job as the station and the CLI see it (no personal data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRow {
    pub job_id: String,
    pub kode_wilayah: Option<String>,
    pub priority: cetak_model::Priority,
    pub state: JobState,
    pub spoils: u32,
    pub approved: bool,
    pub reject_code: Option<String>,
    pub reject_field: Option<String>,
}

/// One card attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRow {
    pub job_id: String,
    pub attempt: u32,
    pub printer: String,
    pub printer_serial: String,
    pub counter_before: u64,
    pub k_hash: Option<String>,
    pub outcome: Option<String>,
    pub fault: Option<String>,
    pub counter_after: Option<u64>,
    /// The feed command was sent (written just before it).
    pub feed_sent: bool,
    /// The printer's counter epoch (stepped by each booked service reset).
    pub counter_epoch: u32,
    /// The printer's panel counter before the card (`None`: not known).
    pub panels_before: Option<u64>,
}

/// What the journal knows of a printer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrinterRow {
    pub name: String,
    pub serial: String,
    pub model: String,
    pub last_counter: u64,
    pub counter_epoch: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRow {
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    pub kind: String,
    pub location: String,
    pub item: String,
    pub quantity: i64,
    pub job_id: Option<String>,
    pub attempt: Option<u32>,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl LedgerRow {
    /// The event's kind as a type; `None` for a name this build does not
    /// know (the row still counts in every sum and in the chain).
    pub fn ledger_kind(&self) -> Option<cetak_model::ledger::LedgerKind> {
        cetak_model::ledger::LedgerKind::parse(&self.kind)
    }
}

/// A job offered for import: its id, and the raw payload to seal.
pub struct NewJob<'a> {
    pub job_id: &'a str,
    pub kode_wilayah: Option<&'a str>,
    pub urgent: bool,
    pub payload: &'a [u8],
    /// The district's assignment; `None` in local mode.
    pub assignment: Option<Assigned<'a>>,
}

/// What the district said about a job it assigned.
#[derive(Clone, Copy, Debug)]
pub struct Assigned<'a> {
    pub epoch: i64,
    /// The signed envelope, JSON.
    pub envelope: &'a str,
    /// The envelope's issue time (Unix seconds).
    pub issued_at: i64,
}

/// The outcome of an import: which ids went in, which were skipped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: Vec<String>,
    /// Already known (or tombstoned) ids, skipped.
    pub skipped: Vec<String>,
    /// District assignments refused as replays (id, epoch): the poll
    /// confirms them, so the district stops sending them.
    pub refused: Vec<(String, i64)>,
}

/// How a card attempt ended, as the station books it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptEnd {
    /// The card is in the output hopper.
    Printed { counter_after: u64 },
    /// No card left the feeder.
    NotFed { fault: String },
    /// The blank is spent, no panel was printed: retried or failed.
    Spoiled { fault: String, counter_after: u64 },
    /// A genuine card may exist: the operator decides.
    Uncertain { fault: String, counter_after: Option<u64>, panels_done: u8 },
}

/// The journal's file in the state folder.
pub const JOURNAL_FILE: &str = "journal.db";

/// The journal: one SQLite connection plus the vault. Each thread opens its
/// own; SQLite serialises the writers.
pub struct Journal {
    conn: Connection,
    ctx: Ctx,
}

impl Journal {
    /// Opens the journal in `dir` if there is one; `None`, and nothing
    /// created, where there is not (the commands that only look).
    pub fn open_existing(dir: &Path) -> Result<Option<Self>> {
        if !dir.join(JOURNAL_FILE).exists() {
            return Ok(None);
        }
        Self::open(dir).map(Some)
    }

    /// Opens (or creates) the journal in `dir`: [`JOURNAL_FILE`] and `keys/`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| JournalError::Io { path: dir.to_path_buf(), source })?;
        let path = dir.join(JOURNAL_FILE);
        let sql = sqlite_error(&path);
        let conn = Connection::open(&path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sql)?;
        // A destroyed payload's bytes are overwritten, not left in free
        // pages of the file (DESIGN §9).
        conn.pragma_update(None, "secure_delete", "ON").map_err(sql)?;
        let vault = Vault::open(&dir.join("keys"))?;
        let mut j = Self { conn, ctx: Ctx { path, vault, moved: Default::default() } };
        j.migrate()?;
        Ok(j)
    }

    pub fn path(&self) -> &Path {
        &self.ctx.path
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.ctx.path.clone();
        let sql = sqlite_error(&path);
        let found: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
        let known = schema::MIGRATIONS.len() as i64;
        if found > known {
            return Err(JournalError::TooNew { path, found, known });
        }
        for (i, m) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
            // Another process (the daemon and a CLI command starting
            // together) may have applied it while we waited for the lock.
            let now_at: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
            if now_at > i as i64 {
                continue;
            }
            tx.execute_batch(m).map_err(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1).map_err(sql)?;
            tx.commit().map_err(sql)?;
        }
        Ok(())
    }

    /// The `synchronous` pragma as SQLite reports it (2 = FULL).
    pub fn synchronous(&self) -> Result<i64> {
        self.conn.pragma_query_value(None, "synchronous", |r| r.get(0)).map_err(self.ctx.sql())
    }

    /// Destroys every day key that no stored payload needs, then truncates
    /// the WAL so old frames holding ciphertext are gone too.
    ///
    /// The days still needed are read and the others destroyed while this
    /// connection holds SQLite's write lock: an import seals inside its own
    /// write transaction, so it can never seal under a key that is being
    /// destroyed (another thread or a `cetak import` beside the daemon).
    pub fn destroy_unused_keys(&mut self) -> Result<()> {
        let tx = self.ctx.begin(&mut self.conn)?;
        let needed: Vec<String> = {
            let mut stmt = tx.prepare("SELECT DISTINCT key_day FROM jobs WHERE payload IS NOT NULL").map_err(self.ctx.sql())?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(self.ctx.sql())?;
            rows.collect::<Result<_, _>>().map_err(self.ctx.sql())?
        };
        for day in self.ctx.vault.days()? {
            if !needed.contains(&day) {
                self.ctx.vault.destroy(&day)?;
            }
        }
        self.ctx.commit(tx)?;
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").map_err(self.ctx.sql())?;
        Ok(())
    }

    /// Checks the journal's consistency: SQLite's own integrity check, the
    /// ledger's hash chain, and every job's state. Returns the problems.
    pub fn check(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let mut stmt = self.conn.prepare("PRAGMA integrity_check").map_err(self.ctx.sql())?;
        let rows: Vec<String> =
            stmt.query_map([], |r| r.get(0)).map_err(self.ctx.sql())?.collect::<Result<_, _>>().map_err(self.ctx.sql())?;
        if rows != ["ok"] {
            problems.extend(rows.into_iter().map(|r| format!("sqlite: {r}")));
        }
        if let Some(id) = self.verify_ledger()? {
            problems.push(format!("ledger: row {id} does not verify"));
        }
        if let Err(e) = self.all_jobs() {
            problems.push(e.to_string());
        }
        Ok(problems)
    }
}

const JOB_SELECT: &str = "SELECT job_id, kode_wilayah, priority, state, spoils, approved, reject_code, reject_field FROM jobs";
const ATTEMPT_SELECT: &str = "SELECT a.job_id, a.attempt, a.printer, a.printer_serial, a.counter_before, a.k_hash, a.outcome, a.fault,
    a.counter_after, a.feed_sent, a.counter_epoch, a.panels_before FROM attempts a";

fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<JobRow, String>> {
    let state: String = r.get(3)?;
    let Ok(state) = state.parse() else { return Ok(Err(state)) };
    // The schema allows only these two (CHECK), so another is damage.
    let priority: String = r.get(2)?;
    let Some(priority) = cetak_model::Priority::parse(&priority) else { return Ok(Err(format!("priority {priority}"))) };
    Ok(Ok(JobRow {
        job_id: r.get(0)?,
        kode_wilayah: r.get(1)?,
        priority,
        state,
        spoils: r.get(4)?,
        approved: r.get(5)?,
        reject_code: r.get(6)?,
        reject_field: r.get(7)?,
    }))
}

fn attempt_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AttemptRow> {
    Ok(AttemptRow {
        job_id: r.get(0)?,
        attempt: r.get(1)?,
        printer: r.get(2)?,
        printer_serial: r.get(3)?,
        counter_before: r.get::<_, i64>(4)?.max(0).unsigned_abs(),
        k_hash: r.get(5)?,
        outcome: r.get(6)?,
        fault: r.get(7)?,
        counter_after: r.get::<_, Option<i64>>(8)?.map(|c| c.max(0).unsigned_abs()),
        feed_sent: r.get(9)?,
        counter_epoch: r.get(10)?,
        panels_before: r.get::<_, Option<i64>>(11)?.map(|c| c.max(0).unsigned_abs()),
    })
}

fn job_state(tx: &Connection, job_id: &str) -> rusqlite::Result<Option<String>> {
    tx.query_row("SELECT state FROM jobs WHERE job_id = ?1", [job_id], |r| r.get(0)).optional()
}
