//! Logs through tracing: readable text by default, JSON with a flag. Logs
//! carry job ids only, never a personal value.

use crate::config::LogFormat;

/// Installs the global subscriber on stderr. `RUST_LOG` overrides the
/// `default` level (`info` for the daemon, `warn` for the demo).
pub fn init(format: LogFormat, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
