//! The journal's district side: assignments and their confirmation,
//! releases, and the commands already carried out. Who the station is to
//! its district is `enrolment`; the link's state ("offline since") is
//! `link`.

use super::outbox::{JobResult, Message};
use cetak_model::wire::Outcome;
use rusqlite::{params, OptionalExtension};

pub use super::enrolment::Enrolment;
pub use super::link::Link;

use super::{now, Assigned, ImportReport, JobState, Journal, JournalError, NewJob, Result};

/// A job received from the district with its envelope.
#[derive(Clone, Debug)]
pub struct DistrictJob {
    pub job_id: String,
    pub epoch: i64,
    pub envelope: String,
    pub issued_at: i64,
}

impl Journal {
    /// Stores assignments. What the station already knows of a job decides:
    /// - nothing: imported (`assigned`);
    /// - the same epoch: a repeat, skipped, unless the district signed it
    ///   anew (a revoked key): the envelope is replaced while unprinted;
    /// - given back here (`released`): assigned again under the new epoch,
    ///   with its payload sealed anew (`released → assigned`);
    /// - still held here under an older epoch (assigned, ready, printing,
    ///   uncertain: an officer moved it away and back): it takes the new
    ///   epoch and envelope, so its result counts;
    /// - finished here (printed, failed, rejected, and their tombstones):
    ///   never printed again; refused as a replay (a `refused` result for
    ///   the new epoch, listed in the report for the poll to confirm).
    pub fn import_assignments(&mut self, jobs: &[cetak_model::wire::Assignment]) -> Result<ImportReport> {
        let mut fresh = Vec::new();
        let mut report = ImportReport::default();
        for a in jobs {
            let known: Option<(Option<i64>, String, Option<String>)> = self
                .conn
                .query_row("SELECT epoch, state, envelope FROM jobs WHERE job_id = ?1", [&a.job_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .map_err(self.ctx.sql())?;
            let envelope = serde_json::to_string(&a.envelope).map_err(|e| JournalError::Corrupt(e.to_string()))?;
            let Some((epoch, state, held_envelope)) = known else {
                fresh.push((a, envelope));
                continue;
            };
            let state: JobState = state.parse().map_err(|e: super::state::UnknownState| JournalError::Corrupt(e.0))?;
            let unprinted = matches!(state, JobState::Assigned | JobState::Ready);
            let held_here = unprinted || matches!(state, JobState::Printing | JobState::Uncertain);
            if epoch == Some(a.epoch) {
                if unprinted && held_envelope.as_deref() != Some(envelope.as_str()) {
                    tracing::info!(job_id = %a.job_id, epoch = a.epoch, "the district signed the job anew: envelope replaced");
                    self.set_assignment(a, &envelope)?;
                }
                report.skipped.push(a.job_id.clone());
            } else if state == JobState::Released {
                self.assign_again(a, &envelope)?;
                report.imported.push(a.job_id.clone());
            } else if held_here {
                tracing::info!(job_id = %a.job_id, epoch = a.epoch, "the district assigned a job held here anew: new epoch taken");
                self.set_assignment(a, &envelope)?;
                report.skipped.push(a.job_id.clone());
            } else {
                tracing::warn!(job_id = %a.job_id, epoch = a.epoch, "job finished here before: refused as a replay");
                let tx = self.ctx.begin(&mut self.conn)?;
                let result = JobResult {
                    field: Some("job_id".into()),
                    epoch: Some(a.epoch),
                    ..JobResult::new(&a.job_id, Outcome::Refused, Some("job_id.replayed"))
                };
                self.ctx.outbox(&tx, &Message::Result(result))?;
                self.ctx.commit(tx)?;
                report.skipped.push(a.job_id.clone());
                report.refused.push((a.job_id.clone(), a.epoch));
            }
        }
        let new: Vec<NewJob<'_>> = fresh
            .iter()
            .map(|(a, env)| NewJob {
                job_id: &a.job_id,
                kode_wilayah: Some(a.envelope.kode_wilayah.as_str()),
                urgent: a.urgent,
                payload: a.prr.as_bytes(),
                assignment: Some(Assigned { epoch: a.epoch, envelope: env, issued_at: a.envelope.issued_at }),
            })
            .collect();
        let imported = self.import(&new, "district")?;
        report.imported.extend(imported.imported);
        report.skipped.extend(imported.skipped);
        Ok(report)
    }

    /// Takes a new epoch and envelope for a job held here.
    fn set_assignment(&mut self, a: &cetak_model::wire::Assignment, envelope: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE jobs SET epoch = ?2, envelope = ?3, issued_at = ?4, confirmed = 0 WHERE job_id = ?1",
                params![a.job_id, a.epoch, envelope, a.envelope.issued_at],
            )
            .map_err(self.ctx.sql())?;
        Ok(())
    }

    /// A job this station gave back, assigned here again: its payload is
    /// sealed anew under today's key, and it is `assigned` once more.
    fn assign_again(&mut self, a: &cetak_model::wire::Assignment, envelope: &str) -> Result<()> {
        let day = super::day_name(super::today());
        let tx = self.ctx.begin(&mut self.conn)?;
        let (key, blob) = self.ctx.vault.seal_today(&day, &a.job_id, a.prr.as_bytes())?;
        self.ctx.transition(&tx, &a.job_id, JobState::Released, JobState::Assigned, "assigned again")?;
        tx.execute(
            "UPDATE jobs SET epoch = ?2, envelope = ?3, issued_at = ?4, confirmed = 0, key_day = ?5, payload = ?6,
                    priority = ?7, reject_code = NULL, reject_field = NULL
             WHERE job_id = ?1",
            params![a.job_id, a.epoch, envelope, a.envelope.issued_at, key, blob, if a.urgent { "urgent" } else { "normal" }],
        )
        .map_err(self.ctx.sql())?;
        self.ctx.commit(tx)?;
        tracing::info!(job_id = %a.job_id, epoch = a.epoch, "a job given back is assigned here again");
        Ok(())
    }

    /// A district job's assignment, if it has one.
    pub fn district_job(&self, job_id: &str) -> Result<Option<DistrictJob>> {
        self.conn
            .query_row("SELECT job_id, epoch, envelope, issued_at FROM jobs WHERE job_id = ?1 AND epoch IS NOT NULL", [job_id], |r| {
                Ok(DistrictJob { job_id: r.get(0)?, epoch: r.get(1)?, envelope: r.get(2)?, issued_at: r.get(3)? })
            })
            .optional()
            .map_err(self.ctx.sql())
    }

    /// Assignments stored but not yet confirmed to the district.
    pub fn unconfirmed(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt =
            self.conn.prepare("SELECT job_id, epoch FROM jobs WHERE epoch IS NOT NULL AND confirmed = 0").map_err(self.ctx.sql())?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(self.ctx.sql())?;
        rows.collect::<std::result::Result<Vec<_>, _>>().map_err(self.ctx.sql())
    }

    pub fn mark_confirmed(&mut self, jobs: &[(String, i64)]) -> Result<()> {
        let tx = self.ctx.begin(&mut self.conn)?;
        for (id, epoch) in jobs {
            tx.execute("UPDATE jobs SET confirmed = 1 WHERE job_id = ?1 AND epoch = ?2", params![id, epoch]).map_err(self.ctx.sql())?;
        }
        self.ctx.commit(tx)
    }

    /// Jobs held and not yet started: `assigned` or `ready`.
    pub fn buffered(&self) -> Result<u32> {
        self.conn.query_row("SELECT count(*) FROM jobs WHERE state IN ('assigned', 'ready')", [], |r| r.get(0)).map_err(self.ctx.sql())
    }

    /// Returns a job unprinted (`assigned` or `ready` → `released`): its
    /// payload is destroyed at once and a `released` result queued.
    /// `Ok(false)` when the job is in no state to be released (printing,
    /// uncertain, finished): the caller tries again later or not at all.
    pub fn release(&mut self, job_id: &str, reason: &str) -> Result<bool> {
        self.give_back(job_id, reason, Outcome::Released)
    }

    /// Gives a job back unprinted because this station cannot print it
    /// (its payload or key unreadable, its envelope refused): as a release,
    /// but reported as a `refused` result, which waits for an officer at
    /// the district instead of returning to the queue by itself. The job
    /// may come back (reissued), so it is not a tombstone of a finished job.
    pub fn refuse(&mut self, job_id: &str, code: &str) -> Result<bool> {
        self.give_back(job_id, code, Outcome::Refused)
    }

    fn give_back(&mut self, job_id: &str, reason: &str, result: Outcome) -> Result<bool> {
        let Some(job) = self.job(job_id)? else { return Ok(false) };
        if !matches!(job.state, JobState::Assigned | JobState::Ready) {
            return Ok(false);
        }
        let tx = self.ctx.begin(&mut self.conn)?;
        self.ctx.transition(&tx, job_id, job.state, JobState::Released, reason)?;
        tx.execute("UPDATE jobs SET payload = NULL WHERE job_id = ?1", [job_id]).map_err(self.ctx.sql())?;
        if result == Outcome::Refused {
            tx.execute("UPDATE jobs SET reject_code = ?2 WHERE job_id = ?1", params![job_id, reason]).map_err(self.ctx.sql())?;
        }
        self.ctx.outbox(&tx, &Message::Result(JobResult::new(job_id, result, Some(reason))))?;
        self.ctx.commit(tx)?;
        tracing::info!(job_id, reason, result = result.as_str(), "job given back");
        Ok(true)
    }

    /// District jobs held unprinted whose envelope was issued before
    /// `cutoff` (Unix seconds).
    pub fn issued_before(&self, cutoff: i64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT job_id FROM jobs WHERE state IN ('assigned', 'ready') AND issued_at < ?1 ORDER BY seq")
            .map_err(self.ctx.sql())?;
        let rows = stmt.query_map([cutoff], |r| r.get(0)).map_err(self.ctx.sql())?;
        rows.collect::<std::result::Result<Vec<_>, _>>().map_err(self.ctx.sql())
    }

    /// Whether the district's command `id` was already carried out.
    pub fn command_done(&self, id: i64) -> Result<bool> {
        Ok(self.conn.query_row("SELECT 1 FROM commands_done WHERE id = ?1", [id], |_| Ok(())).optional().map_err(self.ctx.sql())?.is_some())
    }

    pub fn record_command(&mut self, id: i64, kind: &str, job_id: Option<&str>) -> Result<()> {
        self.conn
            .execute("INSERT OR IGNORE INTO commands_done (id, kind, job_id, at) VALUES (?1, ?2, ?3, ?4)", params![id, kind, job_id, now()])
            .map_err(self.ctx.sql())?;
        Ok(())
    }

    /// The epoch of a job's assignment (results carry it).
    pub fn epoch_of(&self, job_id: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT epoch FROM jobs WHERE job_id = ?1", [job_id], |r| r.get(0))
            .optional()
            .map_err(self.ctx.sql())?
            .flatten())
    }
}

impl Journal {
    /// When the last printer became broken, if every printer is broken now:
    /// in error (a jam, a head out of temperature, a card stuck inside, its
    /// loop failed or hung) or unreachable. A printer waiting for the clerk
    /// (feeder empty, ribbon or film out, cover open, cooling down) is not
    /// broken (DESIGN §5): the clerk will act and it prints again; nor is a
    /// pause, an operator's choice. `None` with no printer known.
    pub fn broken_since(&self) -> Result<Option<i64>> {
        let mut stmt = self.conn.prepare("SELECT state, detail, since FROM station_status").map_err(self.ctx.sql())?;
        let rows: Vec<(String, String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.ctx.sql())?
            .collect::<std::result::Result<_, _>>()
            .map_err(self.ctx.sql())?;
        let broken = |state: &str, detail: &str| match state {
            "offline" | "error" | "hung" => true,
            "waiting" => matches!(detail, "fault.jam" | "fault.head_temp" | "fault.card_inside" | "fault.gone"),
            _ => false,
        };
        if rows.is_empty() || rows.iter().any(|(state, detail, _)| !broken(state, detail)) {
            return Ok(None);
        }
        Ok(rows.iter().map(|(_, _, since)| *since).max())
    }
}

impl Journal {
    /// District jobs held unprinted (`assigned` or `ready`), with epochs.
    pub fn holding(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT job_id, epoch FROM jobs WHERE state IN ('assigned', 'ready') AND epoch IS NOT NULL ORDER BY seq")
            .map_err(self.ctx.sql())?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(self.ctx.sql())?;
        rows.collect::<std::result::Result<Vec<_>, _>>().map_err(self.ctx.sql())
    }
}
