//! Local mode (DESIGN §3): a station not enrolled with a district takes
//! unsigned jobs from a JSONL file in the samples' format, and a local sink
//! acknowledges results at once, so jobs are reported and purged as
//! everywhere else.

use std::path::{Path, PathBuf};

use cetak_model::{KodeWilayah, RawPrr};

use crate::journal::{ImportReport, Journal, JournalError, NewJob};

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// A line that cannot be a job: nothing from the file is imported.
    #[error("{}:{line}: {reason}", path.display())]
    Line { path: PathBuf, line: usize, reason: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Imports a JSONL file in one transaction: an unreadable file or a line
/// that is not a JSON object with a job id is an error naming the file and
/// line, and nothing is imported. Ids already known or tombstoned are
/// skipped and logged.
pub fn import_file(journal: &mut Journal, path: &Path) -> Result<ImportReport, LocalError> {
    let text = std::fs::read_to_string(path).map_err(|source| LocalError::Read { path: path.to_path_buf(), source })?;
    let mut parsed = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| LocalError::Line { path: path.to_path_buf(), line: i + 1, reason };
        let raw = RawPrr::parse(line).map_err(|e| bad(e.to_string()))?;
        let Some(job_id) = raw.job_id().map(str::to_string) else {
            return Err(bad("no job_id: a job without an id cannot be tracked".into()));
        };
        if job_id.is_empty() || job_id.len() > 64 || !job_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(bad("job_id must be 1 to 64 letters, digits, '-', '_' or '.'".into()));
        }
        parsed.push((job_id, raw, line));
    }
    let jobs: Vec<NewJob<'_>> = parsed
        .iter()
        .map(|(job_id, raw, line)| NewJob {
            job_id,
            kode_wilayah: raw.top_str("kode_wilayah").filter(|k| KodeWilayah::parse(k).is_some()),
            urgent: raw.top_str("priority") == Some("urgent"),
            payload: line.as_bytes(),
            assignment: None,
        })
        .collect();
    let report = journal.import(&jobs, "local")?;
    for id in &report.skipped {
        tracing::info!(job_id = %id, "job already known; skipped");
    }
    Ok(report)
}

/// The local result sink: every pending message is acknowledged at once,
/// which reports and purges finished jobs.
pub fn acknowledge_all(journal: &mut Journal) -> Result<usize, JournalError> {
    let ids: Vec<i64> = journal.pending_outbox()?.iter().map(|m| m.id).collect();
    if ids.is_empty() {
        return Ok(0);
    }
    journal.ack_outbox(&ids)
}
