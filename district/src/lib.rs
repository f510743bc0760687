//! The district queue service (`cetak-district`), on PostgreSQL.
//!
//! This first step holds the database, the audited import of PRR files
//! (validated with `cetak-model`; records outside the district's regency
//! refused; records that need an officer's approval held) and the officer's
//! approval. The `/v1` protocol, enrolment and the agent's queue client come
//! next (see the closing note of issue 6).

pub mod db;
pub mod import;
pub mod pgtemp;

pub use db::{connect, DistrictError};
pub use import::{approve, audit, import_file, jobs, ImportReport, JobSummary};
