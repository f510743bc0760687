//! The queue proper (DESIGN §5): assignment with epochs, results, held
//! reports, station events and stock reports.
//!
//! A job assigned to a station stays that station's until it reports a
//! final result or releases it: nothing here hands a job to another
//! station on a timer. An assignment is sent again on every poll until the
//! station's next poll confirms it arrived, so a lost answer loses no job.

use cetak_model::envelope::Envelope;
use cetak_model::wire::{Assignment, HeldJob, JobRef, JobResult, Outcome, ResultStatus, StationEvent};
use sqlx::postgres::PgPool;

use crate::DistrictError;

/// A job picked for assignment: id, epoch, priority, region, PRR, needs
/// approval, approved by.
#[derive(sqlx::FromRow)]
struct Picked {
    job_id: String,
    epoch: i64,
    priority: String,
    kode_wilayah: String,
    prr: String,
    needs_approval: bool,
    approved_by: Option<String>,
}

/// An assignment to send again.
#[derive(sqlx::FromRow)]
struct Unconfirmed {
    job_id: String,
    epoch: i64,
    priority: String,
    prr: Option<String>,
    envelope: Option<serde_json::Value>,
}

/// The district's signing key, for the envelopes of new assignments.
pub struct Signer<'a> {
    pub key_id: &'a str,
    pub key: &'a ed25519_dalek::SigningKey,
}

impl Signer<'_> {
    /// Signs the envelope of a job's new assignment (issued now, on the
    /// database's clock), stores it with the job and records the assignment
    /// (a station may report only on its own). Both the poll and an
    /// officer's reassignment assign through here.
    #[allow(clippy::too_many_arguments)]
    pub async fn assign(
        &self,
        tx: &mut sqlx::PgConnection,
        job_id: &str,
        epoch: i64,
        station: &str,
        kode_wilayah: &str,
        prr: &str,
        approved: bool,
    ) -> Result<Envelope, DistrictError> {
        let (now,): (i64,) = sqlx::query_as("SELECT (EXTRACT(EPOCH FROM now()))::bigint").fetch_one(&mut *tx).await?;
        let envelope = Envelope::sign(self.key_id, self.key, job_id, kode_wilayah, prr, approved, now);
        let env_json = serde_json::to_value(&envelope).map_err(|source| DistrictError::Encode { what: "an envelope", source })?;
        sqlx::query("UPDATE jobs SET envelope = $2 WHERE job_id = $1").bind(job_id).bind(env_json).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO assignments (job_id, epoch, station) VALUES ($1, $2, $3)")
            .bind(job_id)
            .bind(epoch)
            .bind(station)
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({"station": station, "epoch": epoch, "key_id": self.key_id});
        crate::db::audit(tx, &format!("station:{station}"), "assign", Some(job_id), detail).await?;
        Ok(envelope)
    }
}

/// What a poll may take.
#[derive(Clone, Debug)]
pub struct Want<'a> {
    pub station: &'a str,
    pub regions: &'a [String],
    pub max_jobs: u32,
    pub urgent_only: bool,
}

/// Tells waiting long polls that something changed for `topic`:
/// `work:REGION`, `station:NAME` or `all` (delivered at commit).
pub async fn notify(conn: &mut sqlx::PgConnection, topic: &str) -> Result<(), DistrictError> {
    sqlx::query("SELECT pg_notify('cetak', $1)").bind(topic).execute(&mut *conn).await?;
    Ok(())
}

/// Assignments not yet confirmed are sent again first; then new jobs of
/// the station's regions, urgent first then oldest, each signed now, up to
/// the station's room and, per region, its fair share (DESIGN §5): where
/// several stations serve a region, each holds at most its share of the
/// region's outstanding jobs, counting only stations with a ready printer
/// seen lately; a station whose printer is not ready gets nothing while a
/// sister's is.
pub async fn take_jobs(pool: &PgPool, want: &Want<'_>) -> Result<Vec<Assignment>, DistrictError> {
    let mut out = unconfirmed(pool, want.station).await?;
    let unconfirmed = i64::try_from(out.len()).unwrap_or(i64::MAX);
    let mut room = if want.urgent_only { 1 } else { i64::from(want.max_jobs).saturating_sub(unconfirmed).max(0) };
    if room == 0 {
        return Ok(out);
    }
    let (key_id, key) = crate::keys::signing_key(pool).await?;
    let mut tx = pool.begin().await?;
    let mut picked: Vec<Picked> = Vec::new();
    for region in want.regions {
        if room <= 0 {
            break;
        }
        // Sisters polling at once must not both take the same share.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(region).execute(&mut *tx).await?;
        let share = allowance(&mut tx, want.station, region).await?;
        let limit = if want.urgent_only { room } else { room.min(share.jobs) };
        if limit <= 0 {
            continue;
        }
        // A job this station gave back comes back to it only when it can
        // print again and nobody else can: the reason it gave the job back
        // no longer holds, and the job never bounces (DESIGN §5).
        let got: Vec<Picked> = sqlx::query_as(
            "WITH picked AS (
                SELECT job_id FROM jobs
                WHERE state = 'pending' AND kode_wilayah = $2 AND (NOT ($1 = ANY(released_by)) OR $5)
                  AND (NOT $3 OR priority = 'urgent')
                ORDER BY (priority = 'urgent') DESC, imported_at, job_id
                LIMIT $4 FOR UPDATE SKIP LOCKED)
             UPDATE jobs SET state = 'assigned', station = $1, epoch = jobs.epoch + 1, assigned_at = now(), delivered = false,
                             release_asked = false
             FROM picked WHERE jobs.job_id = picked.job_id
             RETURNING jobs.job_id, jobs.epoch, jobs.priority, jobs.kode_wilayah, jobs.prr, jobs.needs_approval, jobs.approved_by",
        )
        .bind(want.station)
        .bind(region)
        .bind(want.urgent_only)
        .bind(limit)
        .bind(share.may_retake)
        .fetch_all(&mut *tx)
        .await?;
        room -= got.len() as i64;
        picked.extend(got);
    }
    let mut fresh = Vec::new();
    for Picked { job_id, epoch, priority, kode_wilayah, prr, needs_approval, approved_by } in picked {
        let signer = Signer { key_id: &key_id, key: &key };
        let approved = needs_approval && approved_by.is_some();
        let envelope = signer.assign(&mut tx, &job_id, epoch, want.station, &kode_wilayah, &prr, approved).await?;
        fresh.push(Assignment { job_id, epoch, urgent: priority == "urgent", prr, envelope });
    }
    tx.commit().await?;
    for a in &fresh {
        tracing::info!(job_id = %a.job_id, station = %want.station, epoch = a.epoch, "assigned");
    }
    out.extend(fresh);
    Ok(out)
}

/// What a station may take of a region on this poll.
struct Share {
    /// Its fair share of the region's outstanding jobs minus what it holds.
    jobs: i64,
    /// It may take back jobs it gave back: its printer is ready and no
    /// other station of the region's is.
    may_retake: bool,
}

/// The region's stations: (station, healthy), healthy meaning a ready
/// printer and seen in the last 5 minutes.
async fn sisters(tx: &mut sqlx::PgConnection, region: &str) -> Result<Vec<(String, bool)>, DistrictError> {
    Ok(sqlx::query_as(
        "SELECT station, ready AND COALESCE(last_seen > now() - interval '5 minutes', false) FROM stations
         WHERE regions @> ARRAY[$1] AND revoked_at IS NULL AND token_sha256 IS NOT NULL",
    )
    .bind(region)
    .fetch_all(&mut *tx)
    .await?)
}

/// How many more jobs of `region` this station may hold: its fair share of
/// the region's outstanding jobs minus what it holds.
async fn allowance(tx: &mut sqlx::PgConnection, station: &str, region: &str) -> Result<Share, DistrictError> {
    let sisters = sisters(tx, region).await?;
    let me_healthy = sisters.iter().any(|(s, h)| s == station && *h);
    let healthy_others = sisters.iter().filter(|(s, h)| s != station && *h).count() as i64;
    let may_retake = me_healthy && healthy_others == 0;
    if !me_healthy && healthy_others > 0 {
        return Ok(Share { jobs: 0, may_retake });
    }
    let sharers = if me_healthy { healthy_others + 1 } else { sisters.len().max(1) as i64 };
    let (outstanding, mine): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state IN ('pending', 'assigned')),
                count(*) FILTER (WHERE state = 'assigned' AND station = $2)
         FROM jobs WHERE kode_wilayah = $1",
    )
    .bind(region)
    .bind(station)
    .fetch_one(&mut *tx)
    .await?;
    let share = (outstanding + sharers - 1) / sharers;
    Ok(Share { jobs: (share - mine).max(0), may_retake })
}

/// The station's regions in which another station is healthy: where a
/// broken printer's jobs are worth releasing (someone else can print them).
pub async fn ready_sisters(pool: &PgPool, station: &str, regions: &[String]) -> Result<Vec<String>, DistrictError> {
    let mut conn = pool.acquire().await?;
    let mut out = Vec::new();
    for r in regions {
        if sisters(&mut conn, r).await?.iter().any(|(s, h)| s != station && *h) {
            out.push(r.clone());
        }
    }
    Ok(out)
}

/// A station that runs dry (holds nothing, got nothing) asks each sister
/// holding two or more unprinted jobs of a shared region to give back half
/// of them, newest first; the sister hears it on its next poll.
pub async fn ask_sisters(pool: &PgPool, station: &str, regions: &[String]) -> Result<u64, DistrictError> {
    // Only a station that can print takes work from a sister, and only one
    // dry by the district's own records, not by its word alone: it may
    // hold no more assignments than its heartbeat names printers to be
    // printing them on (its results not yet in). A token that takes jobs
    // and polls saying it holds none would otherwise make its sisters give
    // work away again and again.
    let me: Option<(bool, i32, i64)> = sqlx::query_as(
        "SELECT s.ready, COALESCE(jsonb_array_length(s.last_status->'printers'), 0)::int,
                (SELECT count(*) FROM jobs j WHERE j.station = s.station AND j.state = 'assigned')
         FROM stations s WHERE s.station = $1",
    )
    .bind(station)
    .fetch_optional(pool)
    .await?;
    match me {
        Some((true, printers, held)) if held <= i64::from(printers) => {}
        Some((true, _, held)) => {
            tracing::info!(station, held, "a station polling as dry still holds assignments: its sisters are not asked");
            return Ok(0);
        }
        _ => return Ok(0),
    }
    let mut tx = pool.begin().await?;
    let asked: Vec<(String,)> = sqlx::query_as(
        "WITH held AS (
            SELECT job_id, station, row_number() OVER (PARTITION BY station, kode_wilayah ORDER BY assigned_at DESC) AS n,
                   count(*) OVER (PARTITION BY station, kode_wilayah) AS total
            FROM jobs
            WHERE state = 'assigned' AND delivered AND station <> $1 AND kode_wilayah = ANY($2) AND NOT ($1 = ANY(released_by)))
         UPDATE jobs SET release_asked = true FROM held
         WHERE jobs.job_id = held.job_id AND held.total >= 2 AND held.n <= held.total / 2 AND NOT jobs.release_asked
         RETURNING held.station",
    )
    .bind(station)
    .bind(regions)
    .fetch_all(&mut *tx)
    .await?;
    let mut sisters: Vec<&str> = asked.iter().map(|(s,)| s.as_str()).collect();
    sisters.dedup();
    for s in &sisters {
        notify(&mut tx, &format!("station:{s}")).await?;
    }
    tx.commit().await?;
    if !asked.is_empty() {
        tracing::info!(station, asked = asked.len(), "a dry station asked its sisters for unrendered jobs");
    }
    Ok(asked.len() as u64)
}

/// Jobs this station should give back to a dry sister.
pub async fn release_asked(pool: &PgPool, station: &str) -> Result<Vec<JobRef>, DistrictError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT job_id, epoch FROM jobs WHERE station = $1 AND state = 'assigned' AND release_asked ORDER BY job_id")
            .bind(station)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(job_id, epoch)| JobRef { job_id, epoch }).collect())
}

/// Of the jobs a station says it holds, those that are no longer its own
/// assignment (reassigned, cancelled): it drops them. A job the district
/// does not know is dropped too, so the answer never tells a station
/// whether another region's job id exists.
pub async fn no_longer_yours(pool: &PgPool, station: &str, holding: &[JobRef]) -> Result<Vec<JobRef>, DistrictError> {
    if holding.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = holding.iter().map(|h| h.job_id.clone()).collect();
    let epochs: Vec<i64> = holding.iter().map(|h| h.epoch).collect();
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT h.job_id, h.epoch FROM unnest($1::text[], $2::bigint[]) AS h(job_id, epoch) LEFT JOIN jobs j ON j.job_id = h.job_id
         WHERE j.job_id IS NULL OR NOT (j.state IN ('assigned', 'done') AND j.station = $3 AND j.epoch = h.epoch)",
    )
    .bind(&ids)
    .bind(&epochs)
    .bind(station)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(job_id, epoch)| JobRef { job_id, epoch }).collect())
}

/// This station's assignments it has not confirmed receiving.
async fn unconfirmed(pool: &PgPool, station: &str) -> Result<Vec<Assignment>, DistrictError> {
    let rows: Vec<Unconfirmed> = sqlx::query_as(
        "SELECT job_id, epoch, priority, prr, envelope FROM jobs
         WHERE station = $1 AND state = 'assigned' AND NOT delivered ORDER BY (priority = 'urgent') DESC, assigned_at, job_id",
    )
    .bind(station)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for Unconfirmed { job_id, epoch, priority, prr, envelope } in rows {
        let (Some(prr), Some(envelope)) = (prr, envelope) else { continue };
        let envelope: Envelope =
            serde_json::from_value(envelope).map_err(|source| DistrictError::Encode { what: "a stored envelope", source })?;
        out.push(Assignment { job_id, epoch, urgent: priority == "urgent", prr, envelope });
    }
    // A job signed anew is on its way now: the station's next confirmation
    // is of this envelope.
    let sent: Vec<String> = out.iter().map(|a| a.job_id.clone()).collect();
    sqlx::query("UPDATE jobs SET resend = false WHERE station = $1 AND job_id = ANY($2) AND resend")
        .bind(station)
        .bind(&sent)
        .execute(pool)
        .await?;
    Ok(out)
}

/// The station's poll confirms the assignments it holds (every one sent
/// before this poll and still assigned to it).
pub async fn confirm_delivered(pool: &PgPool, station: &str, jobs: &[(String, i64)]) -> Result<(), DistrictError> {
    for (job_id, epoch) in jobs {
        sqlx::query("UPDATE jobs SET delivered = true WHERE job_id = $1 AND station = $2 AND epoch = $3 AND NOT resend")
            .bind(job_id)
            .bind(station)
            .bind(epoch)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Stores a batch of results, each on its own (DESIGN §5), idempotent on
/// (job, station, epoch, attempt). A result for the current assignment is
/// applied; one for an old epoch or a cancelled job is stored flagged (the
/// card is withheld at collection); one for an assignment the station never
/// had is refused alone (`not_yours`), nothing stored, and the rest of the
/// batch goes on.
pub async fn store_results(pool: &PgPool, station: &str, results: &[JobResult]) -> Result<Vec<ResultStatus>, DistrictError> {
    let mut tx = pool.begin().await?;
    let mut out = Vec::new();
    for r in results {
        let mine: Option<(i64,)> = sqlx::query_as("SELECT epoch FROM assignments WHERE job_id = $1 AND epoch = $2 AND station = $3")
            .bind(&r.job_id)
            .bind(r.epoch)
            .bind(station)
            .fetch_optional(&mut *tx)
            .await?;
        if mine.is_none() {
            tracing::warn!(job_id = ?r.job_id, station, epoch = r.epoch, "result for an assignment the station never had: refused");
            out.push(ResultStatus::NotYours);
            continue;
        }
        let (state, cur_station, cur_epoch): (String, Option<String>, i64) =
            sqlx::query_as("SELECT state, station, epoch FROM jobs WHERE job_id = $1 FOR UPDATE")
                .bind(&r.job_id)
                .fetch_one(&mut *tx)
                .await?;
        let ours = cur_station.as_deref() == Some(station) && cur_epoch == r.epoch;
        let current = state == "assigned" && ours;
        let flag = match (current, state.as_str()) {
            (true, _) => None,
            (false, "cancelled") => Some("cancelled"),
            (false, _) => Some("reassigned"),
        };
        // At most one late row per assignment: a station cannot fill the
        // table with new attempt numbers for a job already settled (a job
        // this assignment finished is a duplicate, a late one is flagged
        // once).
        let settled: Option<(i32,)> = if flag.is_some() {
            sqlx::query_as(
                "SELECT 1 FROM results WHERE job_id = $1 AND station = $2 AND epoch = $3 AND (flagged IS NOT NULL OR $4) LIMIT 1",
            )
            .bind(&r.job_id)
            .bind(station)
            .bind(r.epoch)
            .bind(state == "done" && ours)
            .fetch_optional(&mut *tx)
            .await?
        } else {
            None
        };
        if settled.is_some() {
            out.push(ResultStatus::Duplicate);
            continue;
        }
        let inserted = sqlx::query(
            "INSERT INTO results (job_id, station, epoch, attempt, outcome, code, flagged) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT DO NOTHING",
        )
        .bind(&r.job_id)
        .bind(station)
        .bind(r.epoch)
        .bind(i64::from(r.attempt))
        .bind(r.outcome.as_str())
        .bind(&r.code)
        .bind(flag)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let status = match (inserted, flag) {
            (false, _) => ResultStatus::Duplicate,
            (true, Some("cancelled")) => ResultStatus::Cancelled,
            (true, Some(_)) => ResultStatus::Reassigned,
            (true, None) => {
                apply(&mut tx, station, r).await?;
                ResultStatus::Applied
            }
        };
        if inserted {
            let detail =
                serde_json::json!({"epoch": r.epoch, "attempt": r.attempt, "outcome": r.outcome.as_str(), "code": r.code, "flagged": flag});
            crate::db::audit(&mut tx, &format!("station:{station}"), "result", Some(&r.job_id), detail).await?;
        }
        if flag.is_some() && inserted {
            tracing::warn!(job_id = %r.job_id, station, epoch = r.epoch, outcome = r.outcome.as_str(), "late result stored and flagged");
        }
        out.push(status);
    }
    tx.commit().await?;
    Ok(out)
}

/// Refusal codes the district itself can cure: a job signed by a key that
/// was revoked since is signed anew at its next assignment.
fn cured_by_a_new_envelope(code: Option<&str>) -> bool {
    matches!(code, Some("envelope.revoked_key" | "envelope.unknown_key"))
}

async fn apply(tx: &mut sqlx::PgConnection, station: &str, r: &JobResult) -> Result<(), DistrictError> {
    match r.outcome {
        Outcome::Released => {
            sqlx::query(
                "UPDATE jobs SET state = 'pending', station = NULL, delivered = false, envelope = NULL, release_asked = false,
                        released_by = array_append(released_by, $2)
                 WHERE job_id = $1",
            )
            .bind(&r.job_id)
            .bind(station)
            .execute(&mut *tx)
            .await?;
            let (region,): (String,) =
                sqlx::query_as("SELECT kode_wilayah FROM jobs WHERE job_id = $1").bind(&r.job_id).fetch_one(&mut *tx).await?;
            notify(&mut *tx, &format!("work:{region}")).await?;
        }
        // Never a final result: held for an officer, unless a new envelope
        // cures it (a revoked key), when it is queued again at once.
        Outcome::Refused => {
            let cured = cured_by_a_new_envelope(r.code.as_deref());
            let (region,): (String,) = sqlx::query_as(
                "UPDATE jobs SET state = CASE WHEN $4 THEN 'pending' ELSE 'refused' END, station = NULL, delivered = false,
                        envelope = NULL, release_asked = false, refusal = CASE WHEN $4 THEN NULL ELSE $3 END, refused_by = $2,
                        released_by = array_append(released_by, $2)
                 WHERE job_id = $1 RETURNING kode_wilayah",
            )
            .bind(&r.job_id)
            .bind(station)
            .bind(&r.code)
            .bind(cured)
            .fetch_one(&mut *tx)
            .await?;
            if cured {
                tracing::info!(job_id = %r.job_id, station, code = ?r.code, "refused for its key: signed anew at the next assignment");
                notify(&mut *tx, &format!("work:{region}")).await?;
            } else {
                tracing::warn!(job_id = %r.job_id, station, code = ?r.code, "a station refused a job: it waits for an officer");
            }
        }
        outcome => {
            let (region,): (String,) =
                sqlx::query_as("UPDATE jobs SET state = 'done', result = $2, finished_at = now() WHERE job_id = $1 RETURNING kode_wilayah")
                    .bind(&r.job_id)
                    .bind(outcome.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
            // Sisters' fair shares of the region just grew.
            notify(&mut *tx, &format!("work:{region}")).await?;
        }
    }
    Ok(())
}

/// What became of a held report.
#[derive(Debug, PartialEq, Eq)]
pub enum Held {
    Stored,
    /// Jobs the station was never given at that epoch (another station's,
    /// another region's, or none at all): nothing of the report is stored.
    NotYours(Vec<String>),
}

/// Jobs waiting for the station's operator: the card may exist. Only for
/// assignments this station had (the job at that epoch, given to it); any
/// other item refuses the whole report, and the answer is the same whether
/// such a job exists or not.
pub async fn store_held(pool: &PgPool, station: &str, jobs: &[HeldJob]) -> Result<Held, DistrictError> {
    let ids: Vec<String> = jobs.iter().map(|h| h.job_id.clone()).collect();
    let epochs: Vec<i64> = jobs.iter().map(|h| h.epoch).collect();
    let mut tx = pool.begin().await?;
    let foreign: Vec<(String,)> = sqlx::query_as(
        "SELECT h.job_id FROM unnest($1::text[], $2::bigint[]) AS h(job_id, epoch)
         WHERE NOT EXISTS (SELECT 1 FROM assignments a WHERE a.job_id = h.job_id AND a.epoch = h.epoch AND a.station = $3)",
    )
    .bind(&ids)
    .bind(&epochs)
    .bind(station)
    .fetch_all(&mut *tx)
    .await?;
    if !foreign.is_empty() {
        tracing::warn!(station, jobs = foreign.len(), "held report for assignments the station never had: refused");
        return Ok(Held::NotYours(foreign.into_iter().map(|(j,)| j).collect()));
    }
    for h in jobs {
        sqlx::query(
            "INSERT INTO held_reports (job_id, station, epoch, attempt, fault) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (job_id, station, epoch) DO UPDATE SET attempt = $4, fault = $5, received_at = now()",
        )
        .bind(&h.job_id)
        .bind(station)
        .bind(h.epoch)
        .bind(i64::from(h.attempt))
        .bind(&h.fault)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Held::Stored)
}

/// What became of an events report.
#[derive(Debug, PartialEq, Eq)]
pub enum Events {
    Stored,
    /// The station's events would pass its quota: none of the report is
    /// stored.
    OverQuota {
        stored: i64,
        quota: i64,
    },
}

/// Stores a station's events once each (by its id), within its quota.
pub async fn store_events(pool: &PgPool, station: &str, events: &[StationEvent], quota: i64) -> Result<Events, DistrictError> {
    let mut tx = pool.begin().await?;
    // One report at a time per station, so two cannot both fit the quota;
    // the count is kept beside the station (migration 0011), not counted.
    let (stored,): (i64,) =
        sqlx::query_as("SELECT events_stored FROM stations WHERE station = $1 FOR UPDATE").bind(station).fetch_one(&mut *tx).await?;
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let (known,): (i64,) = sqlx::query_as("SELECT count(*) FROM station_events WHERE station = $1 AND id = ANY($2)")
        .bind(station)
        .bind(&ids)
        .fetch_one(&mut *tx)
        .await?;
    let fresh = i64::try_from(ids.len()).unwrap_or(i64::MAX).saturating_sub(known);
    if stored.saturating_add(fresh) > quota {
        tracing::warn!(station, stored, quota, "a station's events would pass its quota: refused");
        return Ok(Events::OverQuota { stored, quota });
    }
    let mut taken: u64 = 0;
    for e in events {
        taken += sqlx::query("INSERT INTO station_events (station, id, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(station)
            .bind(e.id)
            .bind(&e.body)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    sqlx::query("UPDATE stations SET events_stored = events_stored + $2 WHERE station = $1")
        .bind(station)
        .bind(i64::try_from(taken).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Events::Stored)
}

/// Keeps a stock report that raised a chain alarm, once, as the alarm's
/// evidence (later copies of the same report add nothing).
pub async fn keep_alarm_evidence(
    pool: &PgPool,
    station: &str,
    bad_hash: &str,
    head: &str,
    events: &[cetak_model::ledger::LedgerEvent],
) -> Result<(), DistrictError> {
    let evidence = serde_json::json!({"head": head, "events": events});
    sqlx::query("UPDATE stock_alarms SET evidence = $3 WHERE station = $1 AND bad_hash = $2 AND evidence IS NULL")
        .bind(station)
        .bind(bad_hash)
        .bind(evidence)
        .execute(pool)
        .await?;
    Ok(())
}

/// Destroys the PRRs of jobs whose final result is older than
/// `retention`; the result rows stay. Returns how many.
pub async fn destroy_old_payloads(pool: &PgPool, retention: std::time::Duration) -> Result<u64, DistrictError> {
    let r = sqlx::query(
        "UPDATE jobs SET prr = NULL, envelope = NULL
         WHERE state IN ('done', 'cancelled') AND prr IS NOT NULL
           AND COALESCE(finished_at, imported_at) < now() - make_interval(secs => $1)",
    )
    .bind(retention.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}

/// The district's time, Unix milliseconds.
pub async fn now_ms(pool: &PgPool) -> Result<i64, DistrictError> {
    let (ms,): (i64,) = sqlx::query_as("SELECT (EXTRACT(EPOCH FROM now()) * 1000)::bigint").fetch_one(pool).await?;
    Ok(ms)
}
