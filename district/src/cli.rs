//! `cetak-district`: the district queue's commands. The binary itself is
//! built by the workspace's root package (`src/bin/cetak-district.rs`), so
//! the end-to-end tests there can start it as a process.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cetak-district", version, about = "The district queue of cetak, on PostgreSQL")]
struct Cli {
    /// PostgreSQL URL (or CETAK_DISTRICT_DB).
    #[arg(long, env = "CETAK_DISTRICT_DB", global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Imports a JSONL file of PRRs for the district of REGENCY (PP.KK).
    Import {
        /// PRRs, one JSON object a line.
        file: PathBuf,
        /// The regency this district serves, PP.KK (records of others are
        /// refused).
        #[arg(long)]
        regency: String,
    },
    /// An officer approves jobs held for approval.
    Approve {
        /// The held jobs' ids.
        jobs: Vec<String>,
    },
    /// The jobs in the queue (no personal data).
    Jobs,
    /// Tries the system on one machine: a throw-away PostgreSQL cluster
    /// (its URL printed for the other commands) and the service on it,
    /// until Ctrl-C, which stops and removes both.
    Dev {
        /// Address and port to serve on.
        #[arg(long, default_value = "127.0.0.1:8700")]
        listen: String,
        #[command(flatten)]
        serving: ServingArgs,
    },
    /// Prints the TLS CA's SHA-256 fingerprint (for `cetak enroll`).
    CaFingerprint,
    /// Revokes a station's token (audited): its next request and its
    /// waiting long polls fail with 401.
    Revoke {
        /// The station's name.
        station: String,
    },
    /// Gives a job to another station (audited, with a reason).
    Reassign {
        /// The job's id.
        job: String,
        /// The station that gets it.
        #[arg(long)]
        to: String,
        /// Why, in words for the audit log.
        #[arg(long)]
        reason: String,
    },
    /// The envelope-signing keys: list, rotate, revoke KEY_ID.
    Keys {
        #[command(subcommand)]
        action: Option<KeysAction>,
    },
    /// Serves the `/v1` protocol until SIGTERM or Ctrl-C.
    Serve {
        /// Address and port to serve on.
        #[arg(long, default_value = "127.0.0.1:8700")]
        listen: String,
        /// The TLS folder: the district's CA and server certificate,
        /// created on first start.
        #[arg(long, required_unless_present = "plain_http")]
        tls_dir: Option<PathBuf>,
        /// Names (host or IP) the server certificate is made for, on first
        /// start (repeat for several).
        #[arg(long = "tls-name", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
        tls_names: Vec<String>,
        /// Serve plain HTTP (a trial on one machine only: tokens and PRRs
        /// travel in clear).
        #[arg(long, conflicts_with = "tls_dir")]
        plain_http: bool,
        #[command(flatten)]
        serving: ServingArgs,
    },
    /// A one-time code with which a station enrols for its region codes.
    EnrollCode {
        /// The new station's name (kel-..., kec-...).
        #[arg(long)]
        station: String,
        /// A kode_wilayah the station serves (repeat for several).
        #[arg(long = "wilayah", required = true)]
        wilayah: Vec<String>,
    },
    /// The fleet: what each station last pushed; `reset-stock` for a
    /// replaced print PC.
    Stations {
        #[command(subcommand)]
        action: Option<StationsAction>,
    },
    /// Sends a job a station refused back to the queue (audited).
    Reissue {
        /// The job's id.
        job: String,
        /// Why, in words for the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Closes a refused, pending or held job for good (audited).
    Close {
        /// The job's id.
        job: String,
        /// Why, in words for the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Takes a job back from the station holding it, to the queue (audited):
    /// after a print PC was replaced, say.
    Release {
        /// The job's id.
        job: String,
        /// Why, in words for the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Each station's blanks, burn rate and days left, the station that
    /// runs out soonest first; ledger alarms.
    Stock,
    /// Sends a command to a station through its next poll (audited).
    #[command(name = "command")]
    Send {
        /// The station's name.
        #[arg(long)]
        station: String,
        /// pause, resume, drain, report-stock, cancel, release-held or
        /// purge.
        kind: String,
        /// The job, for cancel.
        #[arg(long)]
        job: Option<String>,
    },
    /// Prints the OpenAPI document of `/v1`.
    Openapi,
}

/// How the service serves: `serve`'s and `dev`'s flags.
#[derive(clap::Args, Debug)]
struct ServingArgs {
    /// Days a PRR is kept after its final result.
    #[arg(long, default_value_t = 30.0)]
    payload_retention_days: f64,
    /// The longest long poll a station may ask for, in seconds.
    #[arg(long, default_value_t = 60)]
    max_wait_s: u64,
    /// Open connections at most (stations hold two each: a long poll
    /// and a report); past it new ones are refused at once. Keep it
    /// well below the unit's LimitNOFILE.
    #[arg(long, default_value_t = cetak_serve::Limits::DISTRICT.max_connections)]
    max_connections: usize,
    /// Open connections at most from one address (a kecamatan's
    /// stations behind one NAT hold a few each).
    #[arg(long, default_value_t = cetak_serve::Limits::DISTRICT.per_address)]
    max_connections_per_address: usize,
    /// Long polls a second one station may make (a burst of ten times
    /// as many is allowed); past it `429` with Retry-After.
    #[arg(long, default_value_t = crate::limits::Rates::default().polls_per_s)]
    station_polls_per_s: u32,
    /// Reports (results, held, events, stock, heartbeat) a second one
    /// station may send (a burst of ten times as many).
    #[arg(long, default_value_t = crate::limits::Rates::default().reports_per_s)]
    station_reports_per_s: u32,
    /// Events one station may have stored in all; past it `429`
    /// `over_quota`, nothing stored.
    #[arg(long, default_value_t = crate::limits::Quotas::default().events_per_station)]
    events_per_station: i64,
    /// Stock ledger events one station may have stored in all; past it
    /// `429` `over_quota`, nothing stored.
    #[arg(long, default_value_t = crate::limits::Quotas::default().stock.events)]
    stock_events_per_station: i64,
}

impl ServingArgs {
    fn options(&self) -> crate::server::ServeOptions {
        crate::server::ServeOptions {
            payload_retention: std::time::Duration::from_secs_f64(self.payload_retention_days.max(0.0) * 86_400.0),
            max_wait: std::time::Duration::from_secs(self.max_wait_s),
            limits: cetak_serve::Limits {
                max_connections: self.max_connections,
                per_address: self.max_connections_per_address,
                ..cetak_serve::Limits::DISTRICT
            },
            rates: crate::limits::Rates {
                polls_per_s: self.station_polls_per_s,
                poll_burst: self.station_polls_per_s.saturating_mul(10),
                reports_per_s: self.station_reports_per_s,
                report_burst: self.station_reports_per_s.saturating_mul(10),
                ..crate::limits::Rates::default()
            },
            quotas: crate::limits::Quotas {
                events_per_station: self.events_per_station,
                stock: crate::stock::StockQuota { events: self.stock_events_per_station, ..crate::limits::Quotas::default().stock },
                ..crate::limits::Quotas::default()
            },
            ..Default::default()
        }
    }
}

#[derive(Subcommand, Debug)]
enum StationsAction {
    /// A replaced print PC: accept a new ledger chain from zero for the
    /// station (audited), and list the jobs the old PC may hold.
    ResetStock {
        /// The station's name.
        station: String,
        /// Why, in words for the audit log.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
enum KeysAction {
    /// A new key signs from now on; older jobs stay valid.
    Rotate,
    /// Stations refuse every unprinted job this key signed.
    Revoke {
        /// The key's id, as `cetak-district keys` lists it.
        key_id: String,
    },
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// The officer: the operating-system user running the command.
fn actor() -> String {
    format!("uid:{}", rustix::process::getuid().as_raw())
}

/// Parses the command line and runs the command.
pub fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into());
    // Colour only on a terminal, and not with NO_COLOR set (to anything
    // but empty, <https://no-color.org>): a log file or the journal gets
    // plain text.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && !no_color)
        .with_env_filter(filter)
        .init();
    let cli = Cli::parse();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let url = || cli.database_url.clone().context("no database: give --database-url or CETAK_DISTRICT_DB (try 'cetak-district dev')");
    match &cli.command {
        Command::Dev { listen, serving } => {
            let cluster = crate::pgtemp::TempCluster::start()?;
            let pool = crate::connect(&cluster.url()).await?;
            let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
            // A throw-away CA, in the cluster's folder, gone with it.
            let tls = crate::tls::TlsDir::ensure(&cluster.dir().join("tls"), &["localhost".into(), "127.0.0.1".into()])?;
            println!("export CETAK_DISTRICT_DB='{}'", cluster.url());
            println!("throw-away cluster in {}; serving /v1 on https://{}", cluster.dir().display(), listener.local_addr()?);
            println!("CA fingerprint (for cetak enroll --ca-sha256): {}", crate::tls::fingerprint(&tls.ca_pem()?)?);
            println!("Ctrl-C stops both and removes the cluster");
            crate::server::serve(pool, listener, Some(tls), serving.options(), shutdown()).await?;
        }
        Command::Serve { listen, tls_dir, tls_names, plain_http: _, serving } => {
            let pool = crate::connect(&url()?).await?;
            let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
            let opts = serving.options();
            tracing::info!(address = %listener.local_addr()?, "serving /v1");
            let tls = tls_dir.as_ref().map(|d| crate::tls::TlsDir::ensure(d, tls_names)).transpose()?;
            let scheme = if tls.is_some() { "https" } else { "http" };
            // Officers' commands run right after this line may need the CA.
            crate::server::prepare(&pool, tls.as_ref()).await?;
            println!("listening on {} ({scheme})", listener.local_addr()?);
            crate::server::serve(pool, listener, tls, opts, shutdown()).await?;
        }
        Command::EnrollCode { station, wilayah } => {
            let pool = crate::connect(&url()?).await?;
            let code = crate::fleet::enroll_code(&pool, station, wilayah, &actor()).await?;
            println!("{code}");
            match crate::fleet::ca_fingerprint(&pool).await? {
                Some(fp) => println!("ca-sha256 {fp}"),
                None => eprintln!("warning: no TLS CA recorded (serve runs with --plain-http): stations cannot check this district"),
            }
            eprintln!("one-time code for station {station} ({}); valid 24 hours", wilayah.join(", "));
        }
        Command::Stations { action: Some(StationsAction::ResetStock { station, reason }) } => {
            let pool = crate::connect(&url()?).await?;
            let held = crate::fleet::reset_stock(&pool, station, reason, &actor()).await?;
            println!("{station}: a new stock ledger is accepted from zero");
            if held.is_empty() {
                println!("no job is assigned to {station}");
            } else {
                println!("jobs assigned to {station} (the old PC may have held them; 'cetak-district release JOB --reason ...' returns one to the queue):");
                for j in held {
                    println!("  {j}");
                }
            }
        }
        Command::Reissue { job, reason } => {
            let pool = crate::connect(&url()?).await?;
            crate::fleet::reissue(&pool, job, reason, &actor()).await?;
            println!("job {job} is back in the queue");
        }
        Command::Close { job, reason } => {
            let pool = crate::connect(&url()?).await?;
            crate::fleet::close(&pool, job, reason, &actor()).await?;
            println!("job {job} closed");
        }
        Command::Release { job, reason } => {
            let pool = crate::connect(&url()?).await?;
            crate::fleet::release(&pool, job, reason, &actor()).await?;
            println!("job {job} is back in the queue");
        }
        Command::Stations { action: None } => {
            let pool = crate::connect(&url()?).await?;
            for s in crate::fleet::stations(&pool).await? {
                let seen = s.seconds_since_seen.map(|x| format!("{x:.0} s ago")).unwrap_or_else(|| "never".into());
                let printers = s
                    .last_status
                    .as_ref()
                    .and_then(|v| v["printers"].as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .map(|p| format!("{}={}", p["name"].as_str().unwrap_or("?"), p["state"].as_str().unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join(" ");
                let revoked = if s.revoked { " REVOKED" } else { "" };
                println!(
                    "{:<16} {:<32} seen {seen:<10} assigned {:<4} held {:<3} {printers}{revoked}",
                    s.station,
                    s.regions.join(","),
                    s.assigned,
                    s.held
                );
            }
        }
        Command::Send { station, kind, job } => {
            let pool = crate::connect(&url()?).await?;
            let k = cetak_model::wire::CommandKind::parse(kind).with_context(|| {
                format!("unknown command {kind:?}: one of pause, resume, drain, report-stock, cancel, release-held, purge")
            })?;
            let id = crate::fleet::command(&pool, station, k, job.as_deref(), &actor()).await?;
            println!("command {id} queued for {station}");
        }
        Command::Stock => {
            let pool = crate::connect(&url()?).await?;
            println!("{:<16} {:>8} {:>10} {:>10}  alarms", "station", "blanko", "per day", "days left");
            for s in crate::stock::fleet(&pool).await? {
                let days = s.days_left().map(|d| format!("{d:.1}")).unwrap_or_else(|| "-".into());
                let alarm = if s.alarms > 0 { format!("{} LEDGER REWRITTEN", s.alarms) } else { "0".into() };
                println!("{:<16} {:>8} {:>10.1} {:>10}  {alarm}", s.station, s.blanko, s.per_day, days);
            }
        }
        Command::Revoke { station } => {
            let pool = crate::connect(&url()?).await?;
            crate::fleet::revoke(&pool, station, &actor()).await?;
            println!("revoked {station}");
        }
        Command::Reassign { job, to, reason } => {
            let pool = crate::connect(&url()?).await?;
            let epoch = crate::fleet::reassign(&pool, job, to, reason, &actor()).await?;
            println!("job {job} reassigned to {to} (epoch {epoch})");
        }
        Command::Keys { action } => {
            let pool = crate::connect(&url()?).await?;
            match action {
                Some(KeysAction::Rotate) => println!("signing with {}", crate::keys::rotate(&pool, &actor()).await?),
                Some(KeysAction::Revoke { key_id }) => {
                    crate::keys::revoke(&pool, key_id, &actor()).await?;
                    println!("revoked {key_id}");
                }
                None => {
                    crate::keys::signing_key(&pool).await?;
                }
            }
            for k in crate::keys::public_keys(&pool).await? {
                println!("{} {}{}", k.key_id, k.public_key, if k.revoked { " REVOKED" } else { "" });
            }
        }
        Command::CaFingerprint => {
            let pool = crate::connect(&url()?).await?;
            match crate::fleet::ca_fingerprint(&pool).await? {
                Some(fp) => println!("{fp}"),
                None => anyhow::bail!("no TLS CA recorded: start 'cetak-district serve --tls-dir DIR' once"),
            }
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&crate::server::openapi())?);
        }
        Command::Import { file, regency } => {
            let pool = crate::connect(&url()?).await?;
            let today = time::OffsetDateTime::now_utc().date();
            let r = crate::import_file(&pool, file, regency, &actor(), today).await?;
            println!(
                "pending {}, held for approval {}, other regency refused {}, invalid refused {}, already known {}",
                r.pending.len(),
                r.held.len(),
                r.foreign.len(),
                r.invalid.len(),
                r.known.len()
            );
            for (id, code, _) in &r.invalid {
                println!("  refused {id}: {}", cetak_model::reasons::shown(code, cetak_model::reasons::Language::En));
            }
        }
        Command::Approve { jobs } => {
            let pool = crate::connect(&url()?).await?;
            crate::approve(&pool, jobs, &actor()).await?;
            println!("approved {}", jobs.len());
        }
        Command::Jobs => {
            let pool = crate::connect(&url()?).await?;
            for j in crate::jobs(&pool).await? {
                let at = match (j.state.as_str(), &j.station, &j.refused_by) {
                    ("assigned", Some(s), _) => format!(" at {s}"),
                    ("refused", _, Some(s)) => format!(" by {s}: {} (reissue or close it)", j.refusal.as_deref().unwrap_or("?")),
                    _ => String::new(),
                };
                println!(
                    "{:<24} {} {:<7} {:<8} approval={}{at}",
                    j.job_id,
                    j.kode_wilayah,
                    j.priority,
                    j.state,
                    j.approved_by.as_deref().unwrap_or("-")
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command and every option of `cetak-district --help` is
    /// described (district IT reads it on a server with no other guide).
    #[test]
    fn every_command_and_option_is_described() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments().filter(|a| !matches!(a.get_id().as_str(), "help" | "version")) {
                if a.get_help().is_none() {
                    missing.push(format!("{path} --{}", a.get_id()));
                }
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {}", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "cetak-district", &mut missing);
        assert!(missing.is_empty(), "without a description: {missing:#?}");
    }
}
