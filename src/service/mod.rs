//! The daemon as a system service (DESIGN §7): it tells systemd when the
//! journal is recovered (`READY=1`), feeds the watchdog only while every
//! station loop makes progress, drains on SIGTERM (the card in a printer
//! finishes, none starts, the outbox gets a short last try), reloads its
//! config on SIGHUP (a bad one is refused with file, line and reason, and
//! the old one stays), and serves the operator's socket and the health
//! endpoint.

pub mod daemon;
pub mod watchdog;

/// The users and groups the service runs as and checks (a leaf of its
/// own: the journal, control and doctor use it too).
pub use crate::users;
