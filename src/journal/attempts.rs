//! Attempts: each card a job tries, written ahead before the feed and
//! ended with its outcome (DESIGN §3), and the operator's word on a card
//! the station cannot be sure came out.

use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::json;

use super::outbox::{HeldCard, HeldState, JobResult};
use super::{
    attempt_row, counters, now, Actor, AttemptEnd, AttemptRow, Ctx, JobState, Journal, JournalError, Message, Result, ATTEMPT_SELECT,
};
use cetak_model::ledger::{Item, LedgerKind, Location};
use cetak_model::wire::Outcome;

impl Journal {
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
        let hopper = Location::Hopper(printer.clone());
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
                self.ctx.ledger(&tx, LedgerKind::BlankUsed, &hopper, Item::Blanko, -1, Some(job_id), Some(attempt), detail)?;
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
                self.ctx.ledger(&tx, LedgerKind::BlankSpoiled, &hopper, Item::Blanko, -1, Some(job_id), Some(attempt), d)?;
                self.ctx.set_counter(&tx, &printer, *counter_after)?;
                self.ctx.after_spoil(&tx, job_id, JobState::Printing, fault, spoil_limit)?
            }
            AttemptEnd::Uncertain { fault, counter_after, panels_done } => {
                // Panels were printed: the ribbon moved on, whatever the
                // operator decides about the card.
                if *panels_done > 0 {
                    self.ctx.ledger(
                        &tx,
                        LedgerKind::RibbonUsed,
                        &Location::Printer(printer.clone()),
                        Item::Ribbon,
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
        let hopper = Location::Hopper(printer.clone());
        let detail = json!({"operator_uid": actor.uid()});
        let to = if printed {
            self.ctx.ledger(&tx, LedgerKind::BlankUsed, &hopper, Item::Blanko, -1, Some(job_id), Some(attempt), detail)?;
            self.ctx.transition(&tx, job_id, JobState::Uncertain, JobState::Printed, "operator: printed")?;
            let result = JobResult { attempt, operator_uid: actor.uid(), ..JobResult::new(job_id, Outcome::Printed, None) };
            self.ctx.outbox(&tx, &Message::Result(result))?;
            JobState::Printed
        } else {
            let mut d = detail;
            d["reason"] = json!("operator: spoiled");
            self.ctx.ledger(&tx, LedgerKind::BlankSpoiled, &hopper, Item::Blanko, -1, Some(job_id), Some(attempt), d)?;
            self.ctx.after_spoil(&tx, job_id, JobState::Uncertain, "operator: spoiled", spoil_limit)?
        };
        self.ctx.operator_action(&tx, actor, "resolve", Some(job_id), if printed { "printed" } else { "spoiled" })?;
        self.ctx.commit(tx)?;
        Ok(to)
    }
}

impl Ctx {
    /// Counts a spoiled blank against the job's limit: back to `ready`, or
    /// `failed` (reported) once the limit is passed.
    pub(super) fn after_spoil(
        &self,
        tx: &Transaction<'_>,
        job_id: &str,
        from: JobState,
        fault: &str,
        spoil_limit: u32,
    ) -> Result<JobState> {
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
}
