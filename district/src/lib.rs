//! The district queue service (`cetak-district`), on PostgreSQL: the audited
//! import of PRR files, stations and their enrolment, the `/v1` protocol of
//! DESIGN §5 (assignment with epochs, results, held reports, events, stock,
//! commands) and the envelope-signing key.

pub mod body;
pub mod cli;
pub mod db;
pub mod fleet;
pub mod import;
pub mod keys;
pub mod limits;
pub mod pgtemp;
pub mod queue;
pub mod server;
pub mod stock;
pub mod tls;

pub use db::{connect, DistrictError};
pub use import::{approve, audit, import_file, jobs, ImportReport, JobSummary};
