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
    let builder = tracing_subscriber::fmt().with_env_filter(filter()).with_writer(std::io::stderr).with_ansi(colour(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Whether output to `stream` takes colours: on a terminal only, and not
/// where `NO_COLOR` is set (<https://no-color.org>: to anything but empty).
pub fn colour(stream: &impl std::io::IsTerminal) -> bool {
    colour_for(stream.is_terminal(), std::env::var_os("NO_COLOR"))
}

fn colour_for(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod colour_tests {
    use super::colour_for;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_for(true, None));
        assert!(!colour_for(false, None), "a file or a pipe");
        assert!(!colour_for(true, Some("1".into())), "NO_COLOR");
        assert!(colour_for(true, Some("".into())), "an empty NO_COLOR is unset");
    }
}
