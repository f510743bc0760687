//! The operator's commands. Every text meant for a person comes from the
//! message catalog in the chosen language.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

pub mod help;

use crate::config::{Config, LogFormat};
use crate::control;
use crate::journal::Journal;
use crate::messages::{term, text, Lang, Term};

#[derive(Parser, Debug)]
#[command(name = "cetak", version, about = "Print-station agent for e-KTP card printers")]
pub struct Cli {
    /// Configuration file (TOML). Without it, the embedded defaults.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Language of messages for people: id or en.
    #[arg(long, global = true, value_enum)]
    pub language: Option<Lang>,
    /// Log format: text or json.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// State folder (journal, keys); overrides the config's `state_dir`.
    #[arg(long, global = true)]
    pub state_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Agent + emulated printer + local jobs in a temporary folder.
    Demo {
        /// PRRs as JSON lines; default: synthetic ones.
        #[arg(long)]
        jobs: Option<PathBuf>,
        /// Seed of the synthetic people (the same seed, the same jobs).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many synthetic jobs.
        #[arg(long, default_value_t = 20)]
        count: usize,
        /// Keep the demo's folder here instead of a wiped temporary one.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Mechanical time scale of the emulated printer (1.0 = real).
        #[arg(long, default_value_t = 0.002)]
        time_scale: f64,
        /// Drive the emulator through the Evolis driver over a real
        /// pseudo-terminal instead of in process.
        #[arg(long)]
        wire: bool,
        /// A printer fault, POINT:KIND[@CARD] (repeatable), such as
        /// after_pick:jam@3; the demo then plays the clerk and the operator
        /// and says what each does. Points: before_pick, after_pick,
        /// after_panel.1 to after_panel.5, at_eject. Kinds: jam,
        /// cover_open, ribbon_out, film_out, feeder_empty, gone, head_temp,
        /// busy. CARD counts the printer's cards in print order (urgent
        /// jobs first).
        #[arg(long = "fault", value_parser = cetak_drivers::emulator::serve::parse_fault)]
        faults: Vec<cetak_drivers::emulator::ScheduledFault>,
    },
    /// The daemon: drives the configured printers until SIGTERM or Ctrl-C.
    Run {
        /// Allow driving the emulated printer without a config.
        #[arg(long)]
        emulator: bool,
        /// Import this local job file first (local mode only).
        #[arg(long)]
        jobs: Option<PathBuf>,
        /// Exit once nothing more can be printed without a person (tests,
        /// batch runs).
        #[arg(long)]
        until_idle: bool,
    },
    /// Imports a local JSONL job file (local mode only).
    Import {
        /// PRRs, one JSON object a line.
        file: PathBuf,
    },
    /// Enrols this station with its district: exchanges the one-time code
    /// for a token and the district's keys. Ends local mode.
    Enroll {
        /// The district's address, such as http://district.example:8700
        #[arg(long)]
        district: String,
        /// The one-time enrolment code the district officer gave.
        #[arg(long)]
        code: String,
        /// The SHA-256 fingerprint of the district's CA, as the officer
        /// gave it with the code (required for https).
        #[arg(long)]
        ca_sha256: Option<String>,
    },
    /// The station at a glance.
    Status,
    /// Jobs in the journal, or an operator's decision on one.
    Jobs {
        #[command(subcommand)]
        action: Option<JobsAction>,
    },
    /// Pauses a printer after the card in it (through the daemon).
    Pause {
        /// The printer's name in the config (as `cetak status` shows it).
        #[arg(long)]
        printer: String,
    },
    /// Lifts an operator's pause on a printer.
    Resume {
        /// The printer's name in the config.
        #[arg(long)]
        printer: String,
    },
    /// Checks what an installer would check by hand; non-zero exit on any
    /// failure.
    Doctor {
        /// Free space the state folder's disk must have, in MB.
        #[arg(long, default_value_t = 500)]
        min_free_mb: u64,
    },
    /// Renders a job's card as a person sees it (PNG), without printing.
    Render {
        /// JSONL file of PRRs.
        #[arg(long)]
        job: PathBuf,
        /// Which line of the file (0-based).
        #[arg(long, default_value_t = 0)]
        index: usize,
        /// The PNG to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Card printers: those configured, and those found on USB and serial.
    Printers {
        #[command(subcommand)]
        action: Option<PrintersAction>,
    },
    /// Measures the agent's own cost per card and per journal transition
    /// (use a release build).
    Bench {
        /// Cards to print on the emulator (no mechanical time).
        #[arg(long, default_value_t = 200)]
        cards: usize,
        /// Folder to run in (its filesystem is what is measured).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Consumables: on hand, use, days left; or an operator's booking.
    Stock {
        #[command(subcommand)]
        action: Option<StockAction>,
    },
}

#[derive(Subcommand, Debug)]
pub enum JobsAction {
    /// Settles an uncertain job: the good card is in hand, or it is spoiled.
    Resolve {
        /// The uncertain job, as `cetak status` names it.
        job_id: String,
        /// A good card is in hand: the job is printed.
        #[arg(long, conflicts_with = "spoiled", required_unless_present = "spoiled")]
        printed: bool,
        /// The card is spoiled (kept for the destruction record): the job
        /// prints again.
        #[arg(long)]
        spoiled: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum PrintersAction {
    /// Runs the harmless checks on each configured printer (no card used).
    Test,
}

#[derive(Subcommand, Debug)]
pub enum StockAction {
    /// Books what a printer's card counter did that no job explains: blanks
    /// that left the feeder without a job (a test card), or, with
    /// `--reset`, a counter that went down (a service reset). Answers the
    /// pause that reported it; a second booking is refused.
    Explain {
        /// The paused printer, as the pause names it.
        #[arg(long)]
        printer: String,
        /// How many of the unaccounted cards this reason explains (default:
        /// all; never more than the pause counted).
        #[arg(long, conflicts_with = "reset")]
        cards: Option<u64>,
        /// The counter went down: a service reset (no blank moved).
        #[arg(long)]
        reset: bool,
        /// What the service reset set the counter to (0 unless the
        /// technician says otherwise). Cards the printer counted since are
        /// blanks to explain next, not part of the reset.
        #[arg(long, requires = "reset", default_value_t = 0)]
        reset_to: u64,
        /// Why, in words for the stock book (a test card, a service visit).
        #[arg(long)]
        reason: String,
    },
    /// Blanks received into the office safe.
    Receive {
        /// How many blanks arrived.
        #[arg(long)]
        blanko: u32,
        /// The batch printed on the box.
        #[arg(long)]
        batch: String,
        /// The blank version printed on the box.
        #[arg(long)]
        version: String,
        /// The first blank's serial, when the box says it.
        #[arg(long)]
        serial_from: Option<String>,
        /// The last blank's serial.
        #[arg(long)]
        serial_to: Option<String>,
    },
    /// Blanks moved from the safe into a printer's hopper.
    Load {
        /// The printer whose hopper is filled.
        #[arg(long)]
        printer: String,
        /// How many blanks went in.
        #[arg(long)]
        blanko: u32,
    },
    /// A new YMCKO ribbon in a printer (capacity in cards).
    Ribbon {
        /// The printer the ribbon went into.
        #[arg(long)]
        printer: String,
        /// How many cards the ribbon prints (its box says).
        #[arg(long)]
        cards: u32,
        /// The lot printed on the box.
        #[arg(long)]
        lot: Option<String>,
    },
    /// A new retransfer/overlay film in a printer (capacity in cards).
    Film {
        /// The printer the film went into.
        #[arg(long)]
        printer: String,
        /// How many cards the film laminates (its box says).
        #[arg(long)]
        cards: u32,
        /// The lot printed on the box.
        #[arg(long)]
        lot: Option<String>,
    },
    /// A physical count of blanks in the safe or a printer's hopper; the
    /// difference is booked as an adjustment with the reason.
    Count {
        /// A printer's hopper; without it, the safe.
        #[arg(long)]
        printer: Option<String>,
        /// How many blanks were counted.
        #[arg(long)]
        blanko: u32,
        /// Why the count differs, in words for the stock book.
        #[arg(long)]
        reason: String,
    },
    /// Checks the ledger's hash chain; names the first broken event.
    Verify,
    /// The office's usage report: each blank printed or spoiled (reason,
    /// batch, serial inferred first in first out), then the balance per
    /// batch; CSV.
    Report {
        /// First day, YYYY-MM-DD (UTC).
        #[arg(long)]
        from: String,
        /// Last day, included.
        #[arg(long)]
        to: String,
        /// The report's format (CSV, the only one so far: a spreadsheet
        /// opens it).
        #[arg(long, value_enum, default_value_t = ReportFormat::Csv)]
        format: ReportFormat,
    },
}

/// How `cetak stock report` writes the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Csv,
}

/// An operator's action: through the daemon's socket, or on the journal
/// when no daemon runs. Either way the real uid is recorded.
fn operator(env: &Env, req: &control::Request) -> anyhow::Result<control::Reply> {
    Ok(control::send_or_apply(&env.state_dir, &operator_socket(env), req, &control::Policy::of(env.config.as_ref()))?)
}

/// The daemon's socket: the config's; without a config (an operator who
/// may not read /etc/cetak), the package's `/run/cetak/control.sock` when a
/// daemon serves it, else the state folder's.
fn operator_socket(env: &Env) -> PathBuf {
    if let Some(c) = &env.config {
        return c.control_socket();
    }
    let packaged = Path::new("/run/cetak/control.sock");
    if packaged.exists() {
        return packaged.to_path_buf();
    }
    env.state_dir.join("control.sock")
}

struct Env {
    config: Option<Config>,
    state_dir: PathBuf,
    lang: Lang,
}

fn env(cli: &Cli) -> anyhow::Result<Env> {
    let config = match &cli.config {
        Some(p) => Some(Config::load(p)?),
        None => None,
    };
    let lang = Lang::choose(cli.language, config.as_ref().and_then(|c| c.language));
    let state_dir =
        cli.state_dir.clone().or_else(|| config.as_ref().map(|c| c.state_dir.clone())).unwrap_or_else(|| PathBuf::from("/var/lib/cetak"));
    Ok(Env { config, state_dir, lang })
}

/// Runs a parsed command line. A journal that cannot be written because of
/// the disk is explained in the operator's language.
pub fn main(cli: Cli) -> anyhow::Result<()> {
    // Decrypted PRRs live in this process's memory: no core dump of it,
    // and no other process of the same user may ptrace it (DESIGN §9).
    if let Err(e) = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable) {
        tracing::warn!(error = %e, "could not mark the process non-dumpable");
    }
    if let Command::Doctor { min_free_mb } = cli.command {
        return doctor(&cli, min_free_mb);
    }
    let env = env(&cli)?;
    let (lang, state_dir) = (env.lang, env.state_dir.clone());
    dispatch(cli, env).map_err(|e| match crate::journal::disk::diagnose(&state_dir, e.as_ref()) {
        Some(problem) => e.context(text(lang, problem.message_key(), &[("path", &state_dir.display())])),
        None => e,
    })
}

fn dispatch(cli: Cli, env: Env) -> anyhow::Result<()> {
    let log_format = cli.log_format.or(env.config.as_ref().map(|c| c.log.format)).unwrap_or_default();
    let default_level = if matches!(cli.command, Command::Demo { .. } | Command::Bench { .. }) { "warn" } else { "info" };
    crate::logging::init(log_format, default_level);
    let lang = env.lang;
    match cli.command {
        Command::Demo { jobs, seed, count, out, time_scale, wire, faults } => {
            let opts = crate::demo::DemoOptions {
                wire,
                jobs,
                seed,
                count,
                out,
                time_scale,
                spoil_retries: env.config.as_ref().map(|c| c.station.spoil_retries).unwrap_or(2),
                lang,
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
                faults,
            };
            let summary = crate::demo::run(&opts)?;
            crate::demo::print_summary(&summary, lang);
        }
        Command::Run { emulator, jobs, until_idle } => run(cli.config.clone(), &env, emulator, jobs.as_deref(), until_idle)?,
        Command::Import { file } => {
            let mut journal = Journal::open(&env.state_dir)?;
            refuse_local_if_enrolled(&journal, lang)?;
            let r = crate::local::import_file(&mut journal, &file)?;
            println!("{}", text(lang, "import.done", &[("imported", &r.imported.len()), ("skipped", &r.skipped.len())]));
        }
        Command::Enroll { district, code, ca_sha256 } => {
            let _lock = control::lock_daemon(&env.state_dir)?;
            let mut journal = Journal::open(&env.state_dir)?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let e = rt.block_on(crate::queue::enroll(&mut journal, &district, &code, ca_sha256.as_deref()))?;
            println!(
                "{}",
                text(lang, "enroll.done", &[("station", &e.station), ("district", &e.district), ("regions", &e.regions.join(", "))])
            );
        }
        Command::Status => {
            // Through the daemon when one answers; else from the journal,
            // which must exist already.
            if !operator_socket(&env).exists() {
                existing_state(&env)?;
            }
            let reply = operator(&env, &control::Request::Status { lang, colour: control::status::colour_here() })?;
            print!("{}", reply.state.unwrap_or_default());
        }
        Command::Doctor { .. } => bail!("cetak doctor runs before the config is loaded"),
        Command::Render { job, index, out } => render_preview(&job, index, &out)?,
        Command::Printers { action } => printers(&env, action.is_some())?,
        Command::Bench { cards, dir } => crate::bench::print(&crate::bench::run(cards.max(2), dir.as_deref())?),
        Command::Jobs { action: None } => {
            existing_state(&env)?;
            let journal = Journal::open(&env.state_dir)?;
            for j in journal.all_jobs()? {
                let reason = j.reject_code.map(|c| format!(" {}", crate::messages::rejection(lang, &c))).unwrap_or_default();
                let (priority, state) = (term(lang, Term::Priority, j.priority.as_str()), term(lang, Term::Job, j.state.as_str()));
                println!("{:<28} {priority:<9} {state:<14} {}={}{reason}", j.job_id, text(lang, "jobs.spoils", &[]), j.spoils);
            }
        }
        Command::Jobs { action: Some(JobsAction::Resolve { job_id, printed, .. }) } => {
            let reply = operator(&env, &control::Request::Resolve { job_id: job_id.clone(), printed })?;
            println!("{}", text(lang, "resolve.done", &[("job", &job_id), ("state", &reply.state.unwrap_or_default())]));
        }
        Command::Pause { printer } => {
            operator(&env, &control::Request::Pause { printer: printer.clone() })?;
            println!("{}", text(lang, "pause.done", &[("printer", &printer)]));
        }
        Command::Resume { printer } => {
            let reply = operator(&env, &control::Request::Resume { printer: printer.clone() })?;
            let key = if reply.state.as_deref() == Some("resumed") { "resume.done" } else { "resume.nothing" };
            println!("{}", text(lang, key, &[("printer", &printer)]));
        }
        Command::Stock { action: Some(StockAction::Explain { printer, cards, reset, reset_to, reason }) } => {
            let reply = operator(&env, &control::Request::Explain { printer: printer.clone(), cards, reset, reset_to, reason })?;
            let left: u64 = reply.state.as_deref().and_then(|s| s.strip_prefix("left ")).and_then(|n| n.parse().ok()).unwrap_or(0);
            let key = match (reset, left) {
                (true, 0) => "explain.reset_done",
                (true, _) => "explain.reset_partly",
                (false, 0) => "explain.done",
                (false, _) => "explain.partly",
            };
            println!("{}", text(lang, key, &[("printer", &printer), ("left", &left)]));
        }
        Command::Stock { action: None } => stock(&env)?,
        Command::Stock { action: Some(StockAction::Report { from, to, format: ReportFormat::Csv }) } => {
            let day = |s: &str| {
                time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
                    .map(|d| d.midnight().assume_utc().unix_timestamp())
                    .with_context(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
            };
            existing_state(&env)?;
            let journal = Journal::open(&env.state_dir)?;
            print!("{}", crate::stock::report_csv(&journal.ledger_rows()?, day(&from)?, day(&to)? + 86_400));
        }
        Command::Stock { action: Some(StockAction::Verify) } => {
            existing_state(&env)?;
            let journal = Journal::open(&env.state_dir)?;
            match journal.verify_ledger()? {
                None => println!("{}", text(lang, "stock.verify_ok", &[("events", &journal.ledger_rows()?.len())])),
                Some(id) => bail!("{}", text(lang, "stock.verify_broken", &[("id", &id)])),
            }
        }
        Command::Stock { action: Some(StockAction::Receive { blanko, batch, version, serial_from, serial_to }) } => {
            book(&env, control::Request::Receive { blanko, batch, version, serial_from, serial_to })?
        }
        Command::Stock { action: Some(StockAction::Load { printer, blanko }) } => book(&env, control::Request::Load { printer, blanko })?,
        Command::Stock { action: Some(StockAction::Ribbon { printer, cards, lot }) } => {
            book(&env, control::Request::Install { printer, item: "ribbon".into(), capacity: cards, lot })?
        }
        Command::Stock { action: Some(StockAction::Film { printer, cards, lot }) } => {
            book(&env, control::Request::Install { printer, item: "film".into(), capacity: cards, lot })?
        }
        Command::Stock { action: Some(StockAction::Count { printer, blanko, reason }) } => {
            let location = printer.map(|p| crate::journal::stock::hopper(&p)).unwrap_or_else(|| crate::journal::stock::SAFE.into());
            book(&env, control::Request::Count { location, item: "blanko".into(), counted: blanko, reason })?
        }
    }
    Ok(())
}

fn run(cli_config: Option<PathBuf>, env: &Env, emulator: bool, jobs: Option<&Path>, until_idle: bool) -> anyhow::Result<()> {
    let config = match (&env.config, emulator) {
        (Some(c), _) => c.clone(),
        (None, true) => Config::emulated(&env.state_dir),
        (None, false) => bail!("{}", text(env.lang, "run.no_config", &[])),
    };
    let renderer = office_renderer(&config)?;
    let local_file = jobs.map(Path::to_path_buf).or_else(|| config.local.as_ref().map(|l| l.jobs_file.clone()));
    crate::service::daemon::run(crate::service::daemon::RunOptions {
        config_path: cli_config,
        config,
        state_dir: env.state_dir.clone(),
        lang: env.lang,
        local_file,
        until_idle,
        renderer,
    })
}

/// Commands that only look never create state: where the state folder has
/// no journal (the agent never ran here, or another folder was meant) they
/// say so and stop, rather than make a journal and keys.
fn existing_state(env: &Env) -> anyhow::Result<()> {
    if env.state_dir.join(crate::journal::JOURNAL_FILE).exists() {
        return Ok(());
    }
    bail!("{}", text(env.lang, "state.missing", &[("path", &env.state_dir.display())]))
}

/// An operator's stock booking, through the daemon or the journal.
fn book(env: &Env, req: control::Request) -> anyhow::Result<()> {
    let reply = operator(env, &req)?;
    println!("{}", text(env.lang, "stock.done", &[("result", &reply.state.unwrap_or_default())]));
    Ok(())
}

/// `cetak stock`: on hand per location, use, spoiled by reason, days left.
fn stock(env: &Env) -> anyhow::Result<()> {
    let lang = env.lang;
    existing_state(env)?;
    let journal = Journal::open(&env.state_dir)?;
    let warn_days = env.config.as_ref().map(|c| c.stock.warn_days).unwrap_or(3.0);
    let s = crate::stock::summary(&journal.ledger_rows()?, crate::clock::now());
    println!("{}", text(lang, "stock.header", &[]));
    for o in &s.on_hand {
        println!("  {}", control::status::on_hand_line(lang, o));
    }
    for n in &s.not_booked {
        println!("  ! {}", control::status::not_booked_line(lang, n));
    }
    println!("{}", text(lang, "stock.used", &[("today", &s.blanks_today), ("week", &s.blanks_week)]));
    for (reason, n) in &s.spoiled {
        println!("  {}", text(lang, "stock.spoiled", &[("reason", &term(lang, Term::Fault, reason)), ("count", n)]));
    }
    for (item, days) in &s.days_left {
        let item = &term(lang, Term::Item, item);
        let shown = days.map(|d| format!("{d:.1}")).unwrap_or_else(|| "-".into());
        println!("  {}", text(lang, "stock.days_left", &[("item", item), ("days", &shown)]));
        if days.is_some_and(|d| d < warn_days) {
            println!("  ! {}", text(lang, "stock.warn", &[("item", item), ("days", &shown)]));
        }
    }
    Ok(())
}

/// An enrolled station takes jobs from its district only.
fn refuse_local_if_enrolled(journal: &Journal, lang: Lang) -> anyhow::Result<()> {
    if let Some(e) = journal.enrolment()? {
        bail!("{}", text(lang, "local.enrolled", &[("district", &e.district), ("station", &e.station)]));
    }
    Ok(())
}

/// `cetak doctor`: each check with a verdict and a fix. A config that does
/// not load is a failed check here, not a stop.
fn doctor(cli: &Cli, min_free_mb: u64) -> anyhow::Result<()> {
    crate::logging::init(cli.log_format.unwrap_or_default(), "warn");
    let installed = PathBuf::from("/etc/cetak/cetak.toml");
    let path = cli.config.clone().or_else(|| installed.exists().then_some(installed));
    let config = path.as_deref().map(Config::load);
    let loaded = config.as_ref().and_then(|c| c.as_ref().ok());
    let lang = Lang::choose(cli.language, loaded.and_then(|c| c.language));
    let state_dir =
        cli.state_dir.clone().or_else(|| loaded.map(|c| c.state_dir.clone())).unwrap_or_else(|| PathBuf::from("/var/lib/cetak"));
    let verdicts = crate::doctor::run(&crate::doctor::DoctorOptions { config: config.as_ref(), state_dir: &state_dir, lang, min_free_mb });
    let failed = crate::doctor::print(&verdicts, lang);
    if failed > 0 {
        bail!("{}", text(lang, "doctor.summary_fail", &[("failed", &failed)]));
    }
    println!("{}", text(lang, "doctor.summary_ok", &[]));
    Ok(())
}

/// `cetak printers [test]`.
fn printers(env: &Env, test: bool) -> anyhow::Result<()> {
    let configured = env.config.as_ref().map(|c| c.printers.clone()).unwrap_or_default();
    println!("{}", text(env.lang, "printers.configured", &[]));
    if configured.is_empty() {
        println!("  {}", text(env.lang, "printers.none_configured", &[]));
    }
    for p in &configured {
        let link = crate::printers::link_of(p);
        if !test {
            println!("  {:<12} {} {}", p.name, link, p.kind);
            continue;
        }
        let r = match crate::printers::open(p, &env.state_dir) {
            Ok(mut printer) => crate::printers::check(&p.name, link, printer.as_mut(), env.lang),
            Err(e) => crate::printers::PrinterReport { name: p.name.clone(), link, state: e.to_string(), ..Default::default() },
        };
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        println!(
            "  {:<12} {:<28} model={} serial={} firmware={} cards={} ribbon_left={} state={}",
            r.name,
            r.link,
            opt(&r.model),
            opt(&r.serial),
            opt(&r.firmware),
            r.cards.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            r.ribbon_left.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            r.state
        );
    }
    println!("{}", text(env.lang, "printers.found", &[]));
    let found = crate::printers::discover();
    if found.is_empty() {
        println!("  {}", text(env.lang, "printers.none_found", &[]));
    }
    for f in found {
        println!("  {f}");
    }
    Ok(())
}

/// `cetak render`: one job's card as a PNG. It is written only where the
/// operator asked; the demo writes previews of synthetic cards only.
fn render_preview(file: &Path, index: usize, out: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let line =
        text.lines().filter(|l| !l.trim().is_empty()).nth(index).with_context(|| format!("{} has no line {index}", file.display()))?;
    let raw = cetak_model::RawPrr::parse(line).map_err(|e| anyhow::anyhow!("{}:{}: {e}", file.display(), index + 1))?;
    let v = cetak_model::validate(&raw, crate::clock::today());
    let Some(prr) = v.prr else {
        let f = v.reason().map(|f| format!("{} ({})", f.code, f.field)).unwrap_or_default();
        bail!("{}:{}: the record does not validate: {f}", file.display(), index + 1);
    };
    let caps = cetak_drivers::Printer::capabilities(&cetak_drivers::evolis::EvolisPrinter::new(
        cetak_drivers::transport::tcp::TcpTransport::new("unused:0"),
        true,
    ));
    let r = crate::render::Renderer::shipped().render(&prr, &caps)?;
    crate::render::preview(&r).save(out).with_context(|| format!("writing {}", out.display()))?;
    println!("{}", out.display());
    Ok(())
}

/// The office's layout template and font, if the config names them, else
/// the shipped ones; a broken one stops start-up with the file and the
/// reason.
fn office_renderer(config: &Config) -> anyhow::Result<crate::render::Renderer> {
    let r = &config.render;
    if r.layout.is_none() && r.font.is_none() {
        return Ok(crate::render::Renderer::shipped());
    }
    let layout = match &r.layout {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading the card layout {}", p.display()))?,
        None => crate::render::layout::EMBEDDED.to_string(),
    };
    let font = match &r.font {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("reading the font {}", p.display()))?),
        None => None,
    };
    crate::render::Renderer::new(&layout, font).with_context(|| format!("card layout {:?} / font {:?}", r.layout, r.font))
}
