//! Importing PRR files into the district queue, and the officer's approval.
//!
//! One import is one transaction: a line that is not a JSON object with a
//! job id stops the import with its file and line, and nothing is imported.
//! Every other record is validated with `cetak-model`: an invalid one is
//! refused with its code and field; one from outside the district's regency
//! is refused and counted; one that needs an officer's approval is held;
//! the rest wait to be assigned. Ids already known are skipped. The import
//! and each approval are audited: who, what, when.

use cetak_model::{validate, RawPrr, Severity};
use serde_json::json;
use sqlx::postgres::PgPool;

use crate::DistrictError;

/// What an import did, by job id.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub pending: Vec<String>,
    /// Waiting for an officer's approval.
    pub held: Vec<String>,
    /// Outside the district's regency: refused.
    pub foreign: Vec<String>,
    /// (job id, code, field) of each invalid record.
    pub invalid: Vec<(String, String, String)>,
    /// Already in the queue: skipped.
    pub known: Vec<String>,
}

/// Imports `path` for the district of `regency` (`PP.KK`), as `actor`.
pub async fn import_file(
    pool: &PgPool,
    path: &std::path::Path,
    regency: &str,
    actor: &str,
    today: time::Date,
) -> Result<ImportReport, DistrictError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| DistrictError::Read { path: name.clone(), source })?;
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| DistrictError::Line { path: name.clone(), line: i + 1, reason };
        let raw = RawPrr::parse(line).map_err(|e| bad(e.to_string()))?;
        let id = raw.job_id().map(str::to_string).ok_or_else(|| bad("no job_id".into()))?;
        records.push((i + 1, id, raw, line));
    }
    let mut report = ImportReport::default();
    let mut tx = pool.begin().await?;
    for (line_no, id, raw, line) in records {
        let known: Option<(String,)> =
            sqlx::query_as("SELECT job_id FROM jobs WHERE job_id = $1").bind(&id).fetch_optional(&mut *tx).await?;
        if known.is_some() {
            report.known.push(id);
            continue;
        }
        let v = validate(&raw, today);
        let refuse = |code: &str, field: &str| {
            sqlx::query("INSERT INTO import_refusals (file, line, job_id, code, field) VALUES ($1, $2, $3, $4, $5)")
                .bind(name.clone())
                .bind(i32::try_from(line_no).unwrap_or(i32::MAX))
                .bind(id.clone())
                .bind(code.to_string())
                .bind(field.to_string())
        };
        if let Some(f) = v.findings.iter().find(|f| f.severity == Severity::Invalid) {
            refuse(&f.code, f.field).execute(&mut *tx).await?;
            report.invalid.push((id, f.code.clone(), f.field.to_string()));
            continue;
        }
        let Some(prr) = v.prr.as_ref() else { continue };
        if prr.kode_wilayah.regency() != regency {
            refuse("kode_wilayah.other_regency", "kode_wilayah").execute(&mut *tx).await?;
            report.foreign.push(id);
            continue;
        }
        let held = v.needs_approval();
        sqlx::query(
            "INSERT INTO jobs (job_id, kode_wilayah, priority, state, needs_approval, prr, imported_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(prr.kode_wilayah.as_str())
        .bind(prr.priority.as_str())
        .bind(if held { "held" } else { "pending" })
        .bind(held)
        .bind(line)
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        if held {
            report.held.push(id);
        } else {
            report.pending.push(id);
        }
    }
    let detail = json!({
        "file": name,
        "pending": report.pending.len(),
        "held": report.held,
        "foreign": report.foreign.len(),
        "invalid": report.invalid.len(),
        "known": report.known.len(),
    });
    crate::db::audit(&mut tx, actor, "import", None, detail).await?;
    let mut regions: Vec<String> = regions_of(&mut tx, &report.pending).await?;
    regions.dedup();
    for r in regions {
        crate::queue::notify(&mut tx, &format!("work:{r}")).await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// An officer approves held jobs: each becomes pending, audited. Unknown
/// or not-held ids refuse the whole approval.
pub async fn approve(pool: &PgPool, job_ids: &[String], actor: &str) -> Result<(), DistrictError> {
    let mut tx = pool.begin().await?;
    for id in job_ids {
        let r =
            sqlx::query("UPDATE jobs SET state = 'pending', approved_by = $2, approved_at = now() WHERE job_id = $1 AND state = 'held'")
                .bind(id)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
        if r.rows_affected() != 1 {
            return Err(DistrictError::NotHeld { job_id: id.to_string() });
        }
        crate::db::audit(&mut tx, actor, "approve", Some(id), json!({})).await?;
    }
    for r in regions_of(&mut tx, job_ids).await? {
        crate::queue::notify(&mut tx, &format!("work:{r}")).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A job as `cetak-district jobs` lists it (no personal data).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct JobSummary {
    pub job_id: String,
    pub kode_wilayah: String,
    pub priority: String,
    pub state: String,
    pub needs_approval: bool,
    pub approved_by: Option<String>,
    /// The station that refused it and why, while it waits for an officer.
    pub refused_by: Option<String>,
    pub refusal: Option<String>,
    /// The station holding it.
    pub station: Option<String>,
}

pub async fn jobs(pool: &PgPool) -> Result<Vec<JobSummary>, DistrictError> {
    Ok(sqlx::query_as(
        "SELECT job_id, kode_wilayah, priority, state, needs_approval, approved_by, refused_by, refusal, station FROM jobs
         ORDER BY imported_at, job_id",
    )
    .fetch_all(pool)
    .await?)
}

/// The audit trail, oldest first: (actor, action, job id).
pub async fn audit(pool: &PgPool) -> Result<Vec<(String, String, Option<String>)>, DistrictError> {
    Ok(sqlx::query_as("SELECT actor, action, job_id FROM audit ORDER BY id").fetch_all(pool).await?)
}

/// The distinct region codes of some jobs, sorted.
async fn regions_of(tx: &mut sqlx::PgConnection, job_ids: &[String]) -> Result<Vec<String>, DistrictError> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT kode_wilayah FROM jobs WHERE job_id = ANY($1) ORDER BY 1")
        .bind(job_ids)
        .fetch_all(&mut *tx)
        .await?;
    Ok(rows.into_iter().map(|(r,)| r).collect())
}
