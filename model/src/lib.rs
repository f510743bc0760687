//! The shared vocabulary of cetak: Print Ready Records (PRRs), their
//! validation, and the synthetic generator used by the demo and the tests.
//!
//! Nothing here ever formats a personal value into an error or a log line:
//! findings carry a stable code and a field name only, and the validated
//! card prints redacted in `Debug`.

pub mod actor;
pub mod edge;
pub mod envelope;
pub mod generator;
pub mod ledger;
pub mod prr;
pub mod reasons;
pub mod validate;
pub mod wire;

pub use actor::Actor;
pub use prr::{Card, KodeWilayah, Priority, Prr, RawPrr, RequestType};
pub use validate::{validate, Finding, Severity, Validation};
