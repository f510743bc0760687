//! Logs through tracing: to journald under systemd (with the level as the
//! entry's priority), readable text on a terminal, JSON with a flag. Logs
//! carry job ids only, never a personal value.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` overrides the `default`
/// level (`info` for the daemon, `warn` for the demo). Under systemd
/// (`JOURNAL_STREAM` set: its output goes to the journal) text logs go to
/// journald directly; JSON stays on stderr for log shippers.
pub fn init(format: LogFormat, default: &str) {
    let filter = || tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    if format == LogFormat::Text && std::env::var_os("JOURNAL_STREAM").is_some() {
        if let Ok(journald) = tracing_journald::layer() {
            // A second init (tests) keeps the first subscriber.
            let _ = tracing_subscriber::registry().with(filter()).with(journald.with_syslog_identifier("cetak".into())).try_init();
            return;
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
