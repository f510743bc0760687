//! Jobs: imported (or assigned by the district) with their sealed
//! payload, moved through the state machine one logged transition at a
//! time, and looked up by state for the station and the operator.

use rusqlite::{params, OptionalExtension, Transaction};

use super::outbox::JobResult;
use super::{
    day_name, job_row, job_state, now, state, today, Ctx, ImportReport, JobRow, JobState, Journal, JournalError, Message, NewJob, Result,
    VaultError, JOB_SELECT,
};
use cetak_model::wire::Outcome;

impl Journal {
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

    pub(super) fn query_jobs(&self, q: &str, p: impl rusqlite::Params) -> Result<Vec<JobRow>> {
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
}

impl Ctx {
    /// Moves a job from `from` to `to` inside `tx`, after checking the state
    /// table and the job's current state. The one writer of `jobs.state`.
    pub(super) fn transition(&self, tx: &Transaction<'_>, job_id: &str, from: JobState, to: JobState, detail: &str) -> Result<()> {
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
}
