//! `cetak demo`: the agent, the emulated printer and a local job source in
//! one folder, printing until nothing is left, then a summary. Needs no
//! server, no printer and no config.

use std::path::{Path, PathBuf};

use cetak_drivers::emulator::{Device, DeviceOptions};

use crate::journal::{JobState, Journal};
use crate::messages::{term, text, Lang, Term};
use crate::station::{Station, StationOptions, Step};

#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Through the Evolis driver and a real pseudo-terminal.
    pub wire: bool,
    /// A JSONL file of PRRs; without it, `count` synthetic ones from `seed`.
    pub jobs: Option<PathBuf>,
    pub seed: u64,
    pub count: usize,
    /// Keep everything in this folder; without it a temporary folder is
    /// used and wiped at the end (real PRRs must not linger).
    pub out: Option<PathBuf>,
    pub time_scale: f64,
    pub spoil_retries: u32,
    pub lang: Lang,
    pub progress: bool,
    /// Device faults to inject (`POINT:KIND[@CARD]`). With faults the demo
    /// plays the clerk and the operator: it takes a jammed card out and
    /// declares a half-printed one spoiled, so every job still ends.
    pub faults: Vec<cetak_drivers::emulator::ScheduledFault>,
}

/// What the demo did, counted from the journal and the emulator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub printed: usize,
    /// (job id, code, field)
    pub rejected: Vec<(String, String, String)>,
    pub spoiled: usize,
    pub uncertain: usize,
    pub failed: usize,
    /// Jobs not printed yet (held, ready or with a card in the printer):
    /// `stopped_on` says why.
    pub waiting: usize,
    pub blanks_left: u32,
    pub ribbon_left: u32,
    pub film_left: Option<u32>,
    /// Why the demo stopped early, if it did (an instruction for a person).
    pub stopped_on: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo folder: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    #[error(transparent)]
    Local(#[from] crate::local::LocalError),
    #[error(transparent)]
    Station(#[from] crate::station::StationError),
    #[error(transparent)]
    Emulator(#[from] cetak_drivers::emulator::EmulatorError),
    #[error(transparent)]
    Stock(#[from] crate::journal::stock::StockError),
}

/// Runs the demo and returns its summary.
pub fn run(opts: &DemoOptions) -> Result<DemoSummary, DemoError> {
    let temp;
    let dir: &Path = match &opts.out {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d
        }
        None => {
            temp = tempfile::Builder::new().prefix("cetak-demo-").tempdir()?;
            temp.path()
        }
    };
    eprintln!("{}", text(opts.lang, "demo.title", &[]));
    eprintln!("{}", text(opts.lang, "demo.folder", &[("path", &dir.display())]));

    let jobs_file = match &opts.jobs {
        Some(f) => f.clone(),
        None => {
            let f = dir.join("jobs.jsonl");
            let people = cetak_model::generator::generate(opts.seed, opts.count, crate::clock::today());
            std::fs::write(&f, people.iter().map(|p| format!("{p}\n")).collect::<String>())?;
            // Previews of the synthetic cards only: a real PRR's preview
            // never lands in a folder that outlives the demo.
            write_previews(&dir.join("previews"), &people)?;
            f
        }
    };
    let mut journal = Journal::open(&dir.join("state"))?;
    let imported = crate::local::import_file(&mut journal, &jobs_file)?.imported.len();
    let device = Device::open(
        &dir.join("emulator"),
        &DeviceOptions { feeder: 100, ribbon_cards: 200, time_scale: opts.time_scale, ..DeviceOptions::default() },
    )?;
    // The office's stock as a clerk would book it: the printer's blanks
    // received and loaded, its ribbon installed, so `cetak stock` agrees
    // with the printer.
    if journal.ledger_rows()?.is_empty() {
        let st = device.state();
        let receipt = crate::journal::stock::Receipt {
            blanko: st.feeder,
            batch: "DEMO".into(),
            version: "demo".into(),
            serial_from: Some("DEMO000001".into()),
            serial_to: None,
        };
        let clerk = &demo_clerk();
        journal.receive(&receipt, &["demo".into()], clerk)?;
        journal.load("emulator-1", st.feeder, clerk)?;
        journal.install("emulator-1", "ribbon", st.ribbon_panels / 5, Some("DEMO"), clerk)?;
    }
    for f in &opts.faults {
        device.inject(*f);
    }
    let station_opts =
        StationOptions { name: "emulator-1".into(), spoil_retries: opts.spoil_retries, local_mode: true, lang: opts.lang, district: None };
    let printer: Box<dyn cetak_drivers::Printer> = if opts.wire {
        // The emulator's wire server on a pseudo-terminal, the driver on a
        // serial port opened on its other end: the code that drives hardware.
        let path = cetak_drivers::emulator::serve::serve_pty(device.clone(), Vec::new())?;
        eprintln!("{}", text(opts.lang, "demo.wire", &[("path", &path)]));
        let t = cetak_drivers::transport::serial::SerialTransport::new(cetak_drivers::transport::serial::SerialSettings {
            path,
            baud: 115_200,
            parity: serialport::Parity::None,
            flow: serialport::FlowControl::None,
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        Box::new(cetak_drivers::evolis::EvolisPrinter::new(t, true))
    } else {
        Box::new(device.printer())
    };
    let mut station = Station::new(journal, printer, station_opts);

    let bar = if opts.progress { indicatif::ProgressBar::new(imported as u64) } else { indicatif::ProgressBar::hidden() };
    let mut stopped_on = None;
    loop {
        let step = station.step()?;
        let done = station
            .journal()
            .all_jobs()?
            .iter()
            .filter(|j| !matches!(j.state, JobState::Assigned | JobState::Ready | JobState::Printing))
            .count();
        bar.set_position(done as u64);
        if !opts.faults.is_empty() {
            narrate_fault(&mut station, &step, opts.lang);
        }
        if !opts.faults.is_empty() && tend(&device, &mut station, &step, opts.spoil_retries, opts.lang)? {
            continue;
        }
        match step {
            Step::Idle => break,
            Step::Waiting(_) | Step::Paused(_) | Step::Offline | Step::PrinterRefused { .. } => {
                // Nobody tends the demo's printer: say what a clerk would do.
                stopped_on = station.instruction(&step).or(Some(format!("{step:?}")));
                break;
            }
            _ => {}
        }
    }
    bar.finish_and_clear();
    let journal = station.journal();
    let mut s = DemoSummary { stopped_on, ..DemoSummary::default() };
    for job in journal.all_jobs()? {
        let final_state = journal.final_result(&job.job_id)?;
        match final_state {
            Some(JobState::Printed) => s.printed += 1,
            Some(JobState::Failed) => s.failed += 1,
            Some(JobState::Rejected) => {
                s.rejected.push((job.job_id.clone(), job.reject_code.unwrap_or_default(), job.reject_field.unwrap_or_default()))
            }
            _ => {}
        }
        if job.state == JobState::Uncertain {
            s.uncertain += 1;
        }
        if matches!(job.state, JobState::Assigned | JobState::Ready | JobState::Printing) {
            s.waiting += 1;
        }
    }
    s.spoiled = journal.ledger_rows()?.iter().filter(|r| r.ledger_kind() == Some(cetak_model::ledger::LedgerKind::BlankSpoiled)).count();
    let st = device.state();
    s.blanks_left = st.feeder;
    s.ribbon_left = st.ribbon_panels / 5;
    s.film_left = st.film_panels;
    Ok(s)
}

/// The clerk and the operator of a demo with faults: a card stuck in the
/// printer is taken out, a half-printed card declared spoiled. `true` when
/// they did something and the demo goes on.
fn tend<P: cetak_drivers::Printer>(
    device: &Device,
    station: &mut Station<P>,
    step: &Step,
    spoil_retries: u32,
    lang: Lang,
) -> Result<bool, DemoError> {
    let mut acted = false;
    if let Step::Waiting(f @ (cetak_drivers::Fault::Jam | cetak_drivers::Fault::CardInside)) = step {
        if device.state().card_inside.is_some() {
            eprintln!("  {}", text(lang, "demo.clerk_removes", &[("fault", &term(lang, Term::Fault, f.as_str()))]));
            device.remove_card_by_hand()?;
            acted = true;
        }
    }
    for job in station.journal().jobs_in(JobState::Uncertain)? {
        eprintln!("  {}", text(lang, "demo.operator_spoils", &[("job", &job.job_id)]));
        station.journal().resolve_uncertain(&job.job_id, false, demo_clerk(), spoil_retries)?;
        acted = true;
    }
    Ok(acted)
}

/// What the printer just did to a card, told as the demo goes (with
/// faults only: the card's number is what `--fault ...@CARD` counts).
fn narrate_fault<P: cetak_drivers::Printer>(station: &mut Station<P>, step: &Step, lang: Lang) {
    let journal = station.journal();
    let card = journal.attempts().map(|a| a.len()).unwrap_or(0);
    let fault = journal.last_failure().ok().flatten().map(|(_, _, _, f)| term(lang, Term::Fault, &f)).unwrap_or_default();
    let last_fault = || fault.clone();
    let said = match step {
        Step::Spoiled { job_id, .. } => text(lang, "demo.card_spoiled", &[("card", &card), ("job", job_id), ("fault", &last_fault())]),
        Step::Uncertain(job_id) => text(lang, "demo.card_uncertain", &[("card", &card), ("job", job_id), ("fault", &last_fault())]),
        Step::NotFed { job_id, fault } => {
            text(lang, "demo.card_not_fed", &[("job", job_id), ("fault", &term(lang, Term::Fault, fault.as_str()))])
        }
        _ => return,
    };
    eprintln!("{said}");
}

/// Prints the summary for a person.
pub fn print_summary(s: &DemoSummary, lang: Lang) {
    let t = |k: &str| text(lang, k, &[]);
    println!("\n{}", t("demo.summary"));
    println!("  {:<40} {}", t("demo.printed"), s.printed);
    println!("  {:<40} {}", t("demo.rejected"), s.rejected.len());
    for (job, code, _) in &s.rejected {
        println!("    {job}: {}", crate::messages::rejection(lang, code));
    }
    println!("  {:<40} {}", t("demo.spoiled"), s.spoiled);
    println!("  {:<40} {}", t("demo.uncertain"), s.uncertain);
    println!("  {:<40} {}", t("demo.failed"), s.failed);
    println!("  {:<40} {}", t("demo.waiting"), s.waiting);
    println!("  {:<40} {}", t("demo.blanks_left"), s.blanks_left);
    println!("  {:<40} {}", t("demo.ribbon_left"), s.ribbon_left);
    println!("  {:<40} {}", t("demo.film_left"), s.film_left.map(|f| f.to_string()).unwrap_or_else(|| t("demo.not_fitted")));
    if let Some(why) = &s.stopped_on {
        println!("\n  {why}");
    }
}

/// Writes `previews/<job>.png` for each synthetic person.
fn write_previews(dir: &Path, people: &[serde_json::Value]) -> Result<(), DemoError> {
    std::fs::create_dir_all(dir)?;
    let caps = cetak_drivers::Printer::capabilities(&cetak_drivers::evolis::EvolisPrinter::new(
        cetak_drivers::transport::tcp::TcpTransport::new("unused:0"),
        true,
    ));
    let renderer = crate::render::Renderer::shipped();
    for p in people {
        let Ok(raw) = cetak_model::RawPrr::from_value(p.clone()) else { continue };
        let Some(prr) = cetak_model::validate(&raw, crate::clock::today()).prr else { continue };
        if let Ok(r) = renderer.render(&prr, &caps) {
            let path = dir.join(format!("{}.png", prr.job_id));
            crate::render::preview(&r).save(&path).map_err(|e| std::io::Error::other(e.to_string()))?;
        }
    }
    Ok(())
}

/// The clerk and operator the demo plays: the user running it.
fn demo_clerk() -> crate::journal::Actor {
    let uid = rustix::process::getuid().as_raw();
    crate::journal::Actor::User { uid, name: crate::users::user_name(uid) }
}
