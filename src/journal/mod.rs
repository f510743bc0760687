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

pub mod counters;
pub mod disk;
pub mod district;
pub mod operators;
pub mod outbox;
mod schema;
pub mod state;
pub mod stock;
pub mod tallies;
pub mod vault;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::json;

pub use outbox::Message;
pub use state::JobState;

use cetak_model::wire::Outcome;
pub use cetak_model::Actor;
use outbox::{HeldCard, HeldState, JobResult};
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

/// Seconds since the epoch on the system clock.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Today's UTC date as `YYYY-MM-DD`, the name of the day key.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`, for people.
pub fn format_time(t: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(d) => format!("{} {:02}:{:02}:{:02} UTC", day_name(d.date()), d.hour(), d.minute(), d.second()),
        Err(_) => t.to_string(),
    }
}

pub(crate) fn day_name(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A job as the station and the CLI see it (no personal data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRow {
    pub job_id: String,
    pub kode_wilayah: Option<String>,
    pub priority: String,
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

/// What the transaction helpers need besides the connection, kept apart so
/// a transaction (a borrow of the connection) and the helpers can coexist.
struct Ctx {
    path: PathBuf,
    vault: Vault,
    /// Transitions of the open transaction, for the fail points that fire
    /// once it is committed.
    moved: std::cell::RefCell<Vec<String>>,
}

impl Ctx {
    /// Opens a write transaction (taking SQLite's write lock at once).
    fn begin<'c>(&self, conn: &'c mut Connection) -> Result<Transaction<'c>> {
        self.moved.borrow_mut().clear();
        conn.transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| JournalError::Sqlite { path: self.path.clone(), source })
    }

    /// Commits, then passes the `after` fail point of each transition the
    /// transaction made (`journal.<from>-<to>.after`).
    fn commit(&self, tx: Transaction<'_>) -> Result<()> {
        let result = tx.commit().map_err(|source| JournalError::Sqlite { path: self.path.clone(), source });
        for name in self.moved.take() {
            cetak_failpoints::hit(&format!("journal.{name}.after"));
        }
        result
    }
}

use cetak_model::ledger::{event_hash as ledger_hash, ZERO_HASH};

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
        let sql = |source| JournalError::Sqlite { path: path.clone(), source };
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
        let sql = |source| JournalError::Sqlite { path: path.clone(), source };
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

    /// Imports jobs in one transaction: all or nothing. Ids already known
    /// (tombstones included) are skipped and returned.
    pub fn import(&mut self, jobs: &[NewJob<'_>], source: &str) -> Result<ImportReport> {
        let day = day_name(today());
        let tx = self.ctx.begin(&mut self.conn)?;
        let sql = self.ctx.sql();
        let mut report = ImportReport::default();
        let mut seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM jobs", [], |r| r.get(0)).map_err(&sql)?;
        let t = now();
        for j in jobs {
            let known = tx.query_row("SELECT 1 FROM jobs WHERE job_id = ?1", [j.job_id], |_| Ok(())).optional().map_err(&sql)?.is_some();
            if known || report.imported.iter().any(|id| id == j.job_id) {
                report.skipped.push(j.job_id.to_string());
                continue;
            }
            // Sealed only once the id is known to be new, so a replay of a
            // purged job does not bring its day's key back.
            let (key, blob) = self.ctx.vault.seal_today(&day, j.job_id, j.payload)?;
            seq += 1;
            tx.execute(
                "INSERT INTO jobs (job_id, seq, kode_wilayah, priority, source, state, key_day, payload, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'assigned', ?6, ?7, ?8, ?8)",
                params![j.job_id, seq, j.kode_wilayah, if j.urgent { "urgent" } else { "normal" }, source, key, blob, t],
            )
            .map_err(&sql)?;
            tx.execute(
                "INSERT INTO job_events (job_id, from_state, to_state, at, detail) VALUES (?1, NULL, 'assigned', ?2, ?3)",
                params![j.job_id, t, source],
            )
            .map_err(&sql)?;
            if let Some(a) = &j.assignment {
                tx.execute(
                    "UPDATE jobs SET epoch = ?2, envelope = ?3, issued_at = ?4 WHERE job_id = ?1",
                    params![j.job_id, a.epoch, a.envelope, a.issued_at],
                )
                .map_err(&sql)?;
            }
            report.imported.push(j.job_id.to_string());
        }
        self.ctx.commit(tx)?;
        Ok(report)
    }

    /// A single transition with nothing else in the transaction (tests and
    /// operator tools use it; the station uses the richer calls below).
    pub fn move_job(&mut self, job_id: &str, from: JobState, to: JobState, detail: &str) -> Result<()> {
        let tx = self.ctx.begin(&mut self.conn)?;
        self.ctx.transition(&tx, job_id, from, to, detail)?;
        self.ctx.commit(tx)
    }

    /// Marks a validated, rendered job ready to print.
    pub fn mark_ready(&mut self, job_id: &str, approved: bool) -> Result<()> {
        let tx = self.ctx.begin(&mut self.conn)?;
        self.ctx.transition(&tx, job_id, JobState::Assigned, JobState::Ready, "validated")?;
        tx.execute("UPDATE jobs SET approved = ?2 WHERE job_id = ?1", params![job_id, approved]).map_err(self.ctx.sql())?;
        self.ctx.commit(tx)
    }

    /// Rejects a job with the code and field of its first finding, and
    /// queues the result for the district.
    pub fn reject(&mut self, job_id: &str, code: &str, field: &str) -> Result<()> {
        let tx = self.ctx.begin(&mut self.conn)?;
        self.ctx.transition(&tx, job_id, JobState::Assigned, JobState::Rejected, code)?;
        tx.execute("UPDATE jobs SET reject_code = ?2, reject_field = ?3 WHERE job_id = ?1", params![job_id, code, field])
            .map_err(self.ctx.sql())?;
        let result = JobResult { field: Some(field.to_string()), ..JobResult::new(job_id, Outcome::Rejected, Some(code)) };
        self.ctx.outbox(&tx, &Message::Result(result))?;
        self.ctx.commit(tx)
    }

    /// The sealed payload of a job, opened.
    pub fn payload(&self, job_id: &str) -> Result<Vec<u8>> {
        let row: Option<(Option<String>, Option<Vec<u8>>)> = self
            .conn
            .query_row("SELECT key_day, payload FROM jobs WHERE job_id = ?1", [job_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(self.ctx.sql())?;
        match row {
            Some((Some(day), Some(blob))) => Ok(self.ctx.vault.open_sealed(&day, job_id, &blob)?),
            Some(_) => Err(JournalError::Vault(VaultError::KeyDestroyed { day: "purged".into() })),
            None => Err(JournalError::UnknownJob(job_id.into())),
        }
    }

    pub fn job(&self, job_id: &str) -> Result<Option<JobRow>> {
        self.conn
            .query_row(&format!("{JOB_SELECT} WHERE job_id = ?1"), [job_id], job_row)
            .optional()
            .map_err(self.ctx.sql())?
            .map(|r| r.map_err(JournalError::Corrupt))
            .transpose()
    }

    /// Jobs in `state`, urgent first, then oldest.
    pub fn jobs_in(&self, state: JobState) -> Result<Vec<JobRow>> {
        self.query_jobs(&format!("{JOB_SELECT} WHERE state = ?1 ORDER BY priority = 'normal', seq"), params![state.as_str()])
    }

    pub fn all_jobs(&self) -> Result<Vec<JobRow>> {
        self.query_jobs(&format!("{JOB_SELECT} ORDER BY seq"), params![])
    }

    fn query_jobs(&self, q: &str, p: impl rusqlite::Params) -> Result<Vec<JobRow>> {
        let mut stmt = self.conn.prepare(q).map_err(self.ctx.sql())?;
        let rows = stmt.query_map(p, job_row).map_err(self.ctx.sql())?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r.map_err(self.ctx.sql())?.map_err(JournalError::Corrupt)?);
        }
        Ok(out)
    }

    /// The next job to print: urgent first, then oldest.
    pub fn next_ready(&self) -> Result<Option<JobRow>> {
        Ok(self.jobs_in(JobState::Ready)?.into_iter().next())
    }

    /// The final result a job reached (printed, failed, rejected or
    /// released), also after it was reported and purged.
    pub fn final_result(&self, job_id: &str) -> Result<Option<JobState>> {
        let s: Option<String> = self
            .conn
            .query_row(
                "SELECT to_state FROM job_events WHERE job_id = ?1 AND to_state IN ('printed', 'failed', 'rejected', 'released')
                 ORDER BY id DESC LIMIT 1",
                [job_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.ctx.sql())?;
        s.map(|s| s.parse().map_err(|e: state::UnknownState| JournalError::Corrupt(e.0))).transpose()
    }

    /// Counts of jobs per state.
    pub fn counts(&self) -> Result<Vec<(JobState, u64)>> {
        let mut stmt = self.conn.prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state").map_err(self.ctx.sql())?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).map_err(self.ctx.sql())?;
        let mut out = Vec::new();
        for r in rows {
            let (s, n) = r.map_err(self.ctx.sql())?;
            out.push((s.parse().map_err(|e: state::UnknownState| JournalError::Corrupt(e.0))?, n as u64));
        }
        out.sort();
        Ok(out)
    }

    /// Write-ahead of a card: the job moves to `printing` and the attempt
    /// (number, printer serial, card counter before, K-panel hash) is on
    /// disk before the printer is asked to feed.
    pub fn begin_attempt(
        &mut self,
        job_id: &str,
        printer: &str,
        serial: &str,
        before: cetak_drivers::Counters,
        k_hash: Option<&str>,
    ) -> Result<u32> {
        let tx = self.ctx.begin(&mut self.conn)?;
        self.ctx.transition(&tx, job_id, JobState::Ready, JobState::Printing, printer)?;
        let n: u32 = tx
            .query_row("SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE job_id = ?1", [job_id], |r| r.get(0))
            .map_err(self.ctx.sql())?;
        let epoch: u32 = tx
            .query_row("SELECT counter_epoch FROM printers WHERE name = ?1", [printer], |r| r.get(0))
            .optional()
            .map_err(self.ctx.sql())?
            .unwrap_or(0);
        tx.execute(
            "INSERT INTO attempts (job_id, attempt, printer, printer_serial, counter_before, k_hash, started_at, counter_epoch, panels_before)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                job_id,
                n,
                printer,
                serial,
                counters::counter_i64(before.cards)?,
                k_hash,
                now(),
                epoch,
                counters::counter_i64(before.panels)?
            ],
        )
        .map_err(self.ctx.sql())?;
        self.ctx.commit(tx)?;
        Ok(n)
    }

    /// Written right before the printer is asked to take a blank: after a
    /// crash, recovery knows a feed may have happened (a printer that counts
    /// at eject shows nothing of a card pulled out by hand).
    pub fn feed_sent(&mut self, job_id: &str, attempt: u32) -> Result<()> {
        let tx = self.ctx.begin(&mut self.conn)?;
        tx.execute("UPDATE attempts SET feed_sent = 1 WHERE job_id = ?1 AND attempt = ?2", params![job_id, attempt])
            .map_err(self.ctx.sql())?;
        self.ctx.commit(tx)
    }

    /// The attempt in flight on a printer, if a job is `printing` there.
    pub fn in_flight(&self, printer: &str) -> Result<Option<AttemptRow>> {
        self.conn
            .query_row(
                &format!("{ATTEMPT_SELECT} JOIN jobs j ON j.job_id = a.job_id WHERE j.state = 'printing' AND a.printer = ?1 AND a.outcome IS NULL ORDER BY a.id DESC LIMIT 1"),
                [printer],
                attempt_row,
            )
            .optional()
            .map_err(self.ctx.sql())
    }

    pub fn attempts(&self) -> Result<Vec<AttemptRow>> {
        let mut stmt = self.conn.prepare(&format!("{ATTEMPT_SELECT} ORDER BY a.id")).map_err(self.ctx.sql())?;
        let rows = stmt.query_map([], attempt_row).map_err(self.ctx.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx.sql())
    }

    /// Books how an attempt ended: attempt row, job state, ledger events,
    /// outbox and the printer's last counter, in one transaction.
    pub fn end_attempt(&mut self, job_id: &str, attempt: u32, end: &AttemptEnd, spoil_limit: u32) -> Result<JobState> {
        let tx = self.ctx.begin(&mut self.conn)?;
        let (printer, serial): (String, String) = tx
            .query_row("SELECT printer, printer_serial FROM attempts WHERE job_id = ?1 AND attempt = ?2", params![job_id, attempt], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(self.ctx.sql())?;
        let hopper = stock::hopper(&printer);
        let set_attempt = |outcome: &str, fault: Option<&str>, panels: Option<u8>, after: Option<u64>| {
            tx.execute(
                "UPDATE attempts SET outcome = ?3, fault = ?4, panels_done = ?5, counter_after = ?6, ended_at = ?7
                 WHERE job_id = ?1 AND attempt = ?2",
                params![job_id, attempt, outcome, fault, panels, after.and_then(|c| i64::try_from(c).ok()), now()],
            )
        };
        let detail = json!({"printer_serial": serial});
        let to = match end {
            AttemptEnd::Printed { counter_after } => {
                set_attempt("printed", None, None, Some(*counter_after)).map_err(self.ctx.sql())?;
                self.ctx.ledger(&tx, "blank_used", &hopper, "blanko", -1, Some(job_id), Some(attempt), detail)?;
                self.ctx.consumables_used(&tx, &printer, job_id, attempt)?;
                self.ctx.transition(&tx, job_id, JobState::Printing, JobState::Printed, "printed")?;
                let result =
                    JobResult { attempt, printer_serial: Some(serial.to_string()), ..JobResult::new(job_id, Outcome::Printed, None) };
                self.ctx.outbox(&tx, &Message::Result(result))?;
                self.ctx.set_counter(&tx, &printer, *counter_after)?;
                JobState::Printed
            }
            AttemptEnd::NotFed { fault } => {
                set_attempt("not_fed", Some(fault), Some(0), None).map_err(self.ctx.sql())?;
                self.ctx.transition(&tx, job_id, JobState::Printing, JobState::Ready, fault)?;
                JobState::Ready
            }
            AttemptEnd::Spoiled { fault, counter_after } => {
                set_attempt("spoiled", Some(fault), Some(0), Some(*counter_after)).map_err(self.ctx.sql())?;
                let mut d = detail;
                d["reason"] = json!(fault);
                self.ctx.ledger(&tx, "blank_spoiled", &hopper, "blanko", -1, Some(job_id), Some(attempt), d)?;
                self.ctx.set_counter(&tx, &printer, *counter_after)?;
                self.ctx.after_spoil(&tx, job_id, JobState::Printing, fault, spoil_limit)?
            }
            AttemptEnd::Uncertain { fault, counter_after, panels_done } => {
                // Panels were printed: the ribbon moved on, whatever the
                // operator decides about the card.
                if *panels_done > 0 {
                    self.ctx.ledger(
                        &tx,
                        "ribbon_used",
                        &format!("printer:{printer}"),
                        "ribbon",
                        -1,
                        Some(job_id),
                        Some(attempt),
                        json!({}),
                    )?;
                }
                set_attempt("uncertain", Some(fault), Some(*panels_done), *counter_after).map_err(self.ctx.sql())?;
                self.ctx.transition(&tx, job_id, JobState::Printing, JobState::Uncertain, fault)?;
                let held =
                    HeldCard { job_id: job_id.to_string(), state: HeldState::Uncertain, fault: fault.to_string(), attempt, epoch: None };
                self.ctx.outbox(&tx, &Message::Held(held))?;
                if let Some(c) = counter_after {
                    self.ctx.set_counter(&tx, &printer, *c)?;
                }
                JobState::Uncertain
            }
        };
        self.ctx.commit(tx)?;
        Ok(to)
    }

    /// The operator settles an `uncertain` job: the good card is in hand
    /// (`printed`), or the card is spoiled and kept for destruction.
    pub fn resolve_uncertain(&mut self, job_id: &str, printed: bool, actor: impl Into<Actor>, spoil_limit: u32) -> Result<JobState> {
        let actor = &actor.into();
        let tx = self.ctx.begin(&mut self.conn)?;
        let (printer, attempt): (String, u32) = tx
            .query_row(
                "SELECT printer, attempt FROM attempts WHERE job_id = ?1 AND outcome = 'uncertain' ORDER BY id DESC LIMIT 1",
                [job_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.ctx.sql())?
            .ok_or_else(|| JournalError::WrongState { job_id: job_id.into(), expected: JobState::Uncertain, actual: JobState::Ready })?;
        let hopper = stock::hopper(&printer);
        let detail = json!({"operator_uid": actor.uid()});
        let to = if printed {
            self.ctx.ledger(&tx, "blank_used", &hopper, "blanko", -1, Some(job_id), Some(attempt), detail)?;
            self.ctx.transition(&tx, job_id, JobState::Uncertain, JobState::Printed, "operator: printed")?;
            let result = JobResult { attempt, operator_uid: actor.uid(), ..JobResult::new(job_id, Outcome::Printed, None) };
            self.ctx.outbox(&tx, &Message::Result(result))?;
            JobState::Printed
        } else {
            let mut d = detail;
            d["reason"] = json!("operator: spoiled");
            self.ctx.ledger(&tx, "blank_spoiled", &hopper, "blanko", -1, Some(job_id), Some(attempt), d)?;
            self.ctx.after_spoil(&tx, job_id, JobState::Uncertain, "operator: spoiled", spoil_limit)?
        };
        self.ctx.operator_action(&tx, actor, "resolve", Some(job_id), if printed { "printed" } else { "spoiled" })?;
        self.ctx.commit(tx)?;
        Ok(to)
    }

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
            "printer_adopted",
            &stock::hopper(name),
            "counter",
            0,
            None,
            None,
            json!({"serial": serial, "card_counter": counter}),
        )?;
        self.ctx.commit(tx)
    }

    /// Records what a station loop is doing, for `cetak status`.
    pub fn set_station_status(&self, printer: &str, state: &str, detail: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO station_status (printer, state, detail, since) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (printer) DO UPDATE SET state = ?2, detail = ?3,
                 since = CASE WHEN station_status.state = ?2 THEN station_status.since ELSE ?4 END",
                params![printer, state, detail, now()],
            )
            .map_err(self.ctx.sql())?;
        Ok(())
    }

    pub fn station_status(&self) -> Result<Vec<(String, String, String)>> {
        let mut stmt = self.conn.prepare("SELECT printer, state, detail FROM station_status ORDER BY printer").map_err(self.ctx.sql())?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(self.ctx.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx.sql())
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

    /// Recomputes the ledger's hash chain; returns the id of the first row
    /// that does not verify.
    pub fn verify_ledger(&self) -> Result<Option<i64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, at, kind, location, item, quantity, job_id, attempt, detail, prev_hash, hash FROM ledger ORDER BY id")
            .map_err(self.ctx.sql())?;
        let mut rows = stmt.query([]).map_err(self.ctx.sql())?;
        let mut prev = ZERO_HASH.to_string();
        while let Some(r) = rows.next().map_err(self.ctx.sql())? {
            let id: i64 = r.get(0).map_err(self.ctx.sql())?;
            let (at, kind, location, item, quantity): (i64, String, String, String, i64) = (
                r.get(1).map_err(self.ctx.sql())?,
                r.get(2).map_err(self.ctx.sql())?,
                r.get(3).map_err(self.ctx.sql())?,
                r.get(4).map_err(self.ctx.sql())?,
                r.get(5).map_err(self.ctx.sql())?,
            );
            let job_id: Option<String> = r.get(6).map_err(self.ctx.sql())?;
            let attempt: Option<u32> = r.get(7).map_err(self.ctx.sql())?;
            let detail: String = r.get(8).map_err(self.ctx.sql())?;
            let (prev_hash, hash): (String, String) = (r.get(9).map_err(self.ctx.sql())?, r.get(10).map_err(self.ctx.sql())?);
            let expect = ledger_hash(&prev, at, &kind, &location, &item, quantity, job_id.as_deref(), attempt, &detail);
            if prev_hash != prev || hash != expect {
                return Ok(Some(id));
            }
            prev = hash;
        }
        Ok(None)
    }
}

impl Ctx {
    fn sql(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
        |source| JournalError::Sqlite { path: self.path.clone(), source }
    }

    /// Moves a job from `from` to `to` inside `tx`, after checking the state
    /// table and the job's current state. The one writer of `jobs.state`.
    fn transition(&self, tx: &Transaction<'_>, job_id: &str, from: JobState, to: JobState, detail: &str) -> Result<()> {
        if !from.can_move_to(to) {
            return Err(JournalError::IllegalTransition { job_id: job_id.into(), from, to });
        }
        let actual = job_state(tx, job_id).map_err(self.sql())?.ok_or_else(|| JournalError::UnknownJob(job_id.into()))?;
        let actual: JobState = actual.parse().map_err(|e: state::UnknownState| JournalError::Corrupt(e.0))?;
        if actual != from {
            return Err(JournalError::WrongState { job_id: job_id.into(), expected: from, actual });
        }
        let name = format!("{from}-{to}");
        // A crash here dies inside the transaction: nothing is written.
        cetak_failpoints::hit(&format!("journal.{name}.before"));
        self.moved.borrow_mut().push(name);
        let t = now();
        tx.execute("UPDATE jobs SET state = ?2, updated_at = ?3 WHERE job_id = ?1", params![job_id, to.as_str(), t]).map_err(self.sql())?;
        tx.execute(
            "INSERT INTO job_events (job_id, from_state, to_state, at, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![job_id, from.as_str(), to.as_str(), t, detail],
        )
        .map_err(self.sql())?;
        Ok(())
    }

    /// Appends a ledger event chained to the one before it.
    #[allow(clippy::too_many_arguments)]
    fn ledger(
        &self,
        tx: &Transaction<'_>,
        kind: &str,
        location: &str,
        item: &str,
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
        let hash = ledger_hash(&prev, at, kind, location, item, quantity, job_id, attempt, &detail);
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

    /// Counts a spoiled blank against the job's limit: back to `ready`, or
    /// `failed` (reported) once the limit is passed.
    fn after_spoil(&self, tx: &Transaction<'_>, job_id: &str, from: JobState, fault: &str, spoil_limit: u32) -> Result<JobState> {
        tx.execute("UPDATE jobs SET spoils = spoils + 1 WHERE job_id = ?1", [job_id]).map_err(self.sql())?;
        let spoils: u32 = tx.query_row("SELECT spoils FROM jobs WHERE job_id = ?1", [job_id], |r| r.get(0)).map_err(self.sql())?;
        if spoils > spoil_limit {
            self.transition(tx, job_id, from, JobState::Failed, fault)?;
            let result = JobResult { spoils: Some(spoils), ..JobResult::new(job_id, Outcome::Failed, Some("spoil_limit")) };
            self.outbox(tx, &Message::Result(result))?;
            Ok(JobState::Failed)
        } else {
            self.transition(tx, job_id, from, JobState::Ready, fault)?;
            Ok(JobState::Ready)
        }
    }

    fn set_counter(&self, tx: &Transaction<'_>, printer: &str, counter: u64) -> Result<()> {
        tx.execute("UPDATE printers SET last_counter = ?2 WHERE name = ?1", params![printer, counters::counter_i64(counter)?])
            .map_err(self.sql())?;
        Ok(())
    }
}

const JOB_SELECT: &str = "SELECT job_id, kode_wilayah, priority, state, spoils, approved, reject_code, reject_field FROM jobs";
const ATTEMPT_SELECT: &str = "SELECT a.job_id, a.attempt, a.printer, a.printer_serial, a.counter_before, a.k_hash, a.outcome, a.fault,
    a.counter_after, a.feed_sent, a.counter_epoch, a.panels_before FROM attempts a";

fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<JobRow, String>> {
    let state: String = r.get(3)?;
    let Ok(state) = state.parse() else { return Ok(Err(state)) };
    Ok(Ok(JobRow {
        job_id: r.get(0)?,
        kode_wilayah: r.get(1)?,
        priority: r.get(2)?,
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
