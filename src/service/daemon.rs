//! `cetak run`: the long-running agent. The station loops run on threads
//! of their own (printer libraries block); this thread starts them, then
//! watches signals, the watchdog and the loops until they end.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio_util::sync::CancellationToken;

use super::watchdog::{Beat, Supervisor};
use crate::config::Config;
use crate::control;
use crate::journal::Journal;
use crate::messages::{text, Lang};
use crate::station::{Station, StationOptions};

/// What `cetak run` was asked to do.
pub struct RunOptions {
    /// The config file, for SIGHUP (none: the embedded default, which
    /// cannot be reloaded).
    pub config_path: Option<PathBuf>,
    pub config: Config,
    pub state_dir: PathBuf,
    pub lang: Lang,
    /// A local job file to import first (local mode only).
    pub local_file: Option<PathBuf>,
    /// Exit once nothing more can be printed without a person.
    pub until_idle: bool,
    /// The office's card template and font, shared by every printer loop.
    pub renderer: crate::render::Renderer,
}

/// How often the main thread looks at signals, the loops and the watchdog.
const TICK: Duration = Duration::from_millis(100);

pub fn run(opts: RunOptions) -> anyhow::Result<()> {
    let RunOptions { config_path, config, state_dir, lang, local_file, until_idle, renderer } = opts;
    let renderer = Arc::new(renderer);
    // First of all: a SIGTERM during start-up stops cleanly too. One
    // shutdown for every loop and server: the printer loops, the district
    // client, the health endpoint.
    let stop = CancellationToken::new();
    let reload = Arc::new(AtomicBool::new(false));
    let _signals = Signals::listen(stop.clone(), Arc::clone(&reload))?;
    let _lock = control::lock_daemon_within(&state_dir, Duration::from_secs(5))?;
    let mut journal = Journal::open(&state_dir)?;
    let enrolled = journal.enrolment()?.is_some();
    if local_file.is_some() {
        if let Some(e) = journal.enrolment()? {
            bail!("{}", text(lang, "local.enrolled", &[("district", &e.district), ("station", &e.station)]));
        }
    }
    let clock = Arc::new(crate::queue::Clock::scaled(journal.last_district_ms()?, config.district.clock_scale));
    crate::stock::log_warnings(&journal.ledger_rows()?, config.stock.warn_days, &mut Vec::new());
    if let Some(f) = &local_file {
        let r = crate::local::import_file(&mut journal, f)?;
        println!("{}", text(lang, "import.done", &[("imported", &r.imported.len()), ("skipped", &r.skipped.len())]));
    }
    drop(journal);
    if config.printers.is_empty() {
        bail!("no [[printer]] in the configuration: nothing to drive");
    }

    let live = Arc::new(RwLock::new(config.clone()));
    let policy = Arc::new(RwLock::new(crate::control::Policy::of(Some(&config))));
    let _control = control::Server::start(&config.control_socket(), &state_dir, &config.service.operator_group, Arc::clone(&policy))?;
    let beats: Vec<Arc<Beat>> = config.printers.iter().map(|p| Beat::new(&p.name)).collect();
    let health = match config.health.address() {
        Some(addr) => {
            let state =
                crate::health::HealthState::new(&state_dir, Arc::clone(&live), config.printers.iter().map(|p| p.name.clone()).collect())?;
            crate::health::spawn(addr, state, stop.clone())
        }
        None => None,
    };

    let drained = CancellationToken::new();
    let sync = if enrolled {
        let opts = crate::queue::SyncOptions {
            state_dir: state_dir.clone(),
            district: config.district.clone(),
            printers: config.printers.iter().map(|p| p.name.clone()).collect(),
            warn_days: config.stock.warn_days,
        };
        Some(crate::queue::spawn(opts, Arc::clone(&clock), stop.clone(), drained.clone())?)
    } else {
        None
    };
    let window = enrolled.then(|| crate::station::EnvelopeWindow {
        clock: Arc::clone(&clock),
        max_ahead_s: config.district.max_ahead_s as i64,
        retention_s: config.district.retention_s as i64,
    });
    let mut threads = Vec::new();
    // One claims registry: the loops share the journal's jobs.
    let claims = crate::station::claims::Claims::new();
    for (p, beat) in config.printers.iter().zip(&beats) {
        let printer = crate::printers::open(p, &config.state_dir)?;
        let journal = Journal::open(&state_dir)?;
        let opts = StationOptions {
            name: p.name.clone(),
            spoil_retries: config.station.spoil_retries,
            local_mode: !enrolled,
            lang,
            district: window.clone(),
        };
        let idle = config.station.idle_poll();
        let stop = stop.clone();
        let beat = Arc::clone(beat);
        let (claims, counts_at, renderer) = (Arc::clone(&claims), p.counts_at, Arc::clone(&renderer));
        threads.push(std::thread::Builder::new().name(format!("station-{}", p.name)).spawn(move || {
            let mut station =
                Station::new(journal, printer, opts).with_renderer(renderer).with_beat(beat).with_claims(claims).with_counts_at(counts_at);
            crate::station::supervisor::run_supervised(&mut station, &stop, idle, until_idle)
        })?);
    }
    // The journal is open and recovered; the printers' states are for
    // /readyz, not for start-up.
    notify(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status("printing")]);
    println!("{}", text(lang, "run.started", &[("printers", &config.printers.len())]));

    let names: Vec<String> = config.printers.iter().map(|p| p.name.clone()).collect();
    let stall = Duration::from_secs(config.service.stall_s);
    let supervisor = Supervisor::new(beats, stall);
    let mut watchdog = Watchdog::from_env();
    let mut hung = HungLoops::new(&state_dir, stall);
    let mut stopping = false;
    loop {
        let stuck = supervisor.stuck();
        let restarting = hung.restart_wanted();
        let ended = |i: usize, t: &std::thread::JoinHandle<_>| t.is_finished() || (restarting && stuck.contains(&names[i].as_str()));
        if threads.iter().enumerate().all(|(i, t)| ended(i, t)) {
            break;
        }
        std::thread::sleep(TICK);
        if stop.is_cancelled() && !stopping {
            stopping = true;
            tracing::info!("stopping: the card in each printer finishes, no new card starts");
            notify(&[sd_notify::NotifyState::Stopping, sd_notify::NotifyState::Status("draining")]);
        }
        if reload.swap(false, Ordering::SeqCst) {
            match &config_path {
                Some(path) => reload_config(path, &live, &policy),
                None => tracing::warn!("SIGHUP: running on the embedded default, no config file to reload"),
            }
        }
        let stuck = supervisor.stuck();
        hung.watch(&stuck);
        if hung.restart_wanted() && !stopping {
            stopping = true;
            tracing::error!(printers = ?stuck, "a station loop stays hung: the other printers finish their card, then the agent exits for a restart");
            stop.cancel();
        }
        // Fed while a loop that works makes progress: a hung one is named,
        // never a reason to kill its healthy siblings mid-card.
        watchdog.tick(&stuck, stuck.len() < names.len());
    }
    let restart = hung.restart_wanted().then(|| supervisor.stuck().into_iter().map(str::to_string).collect::<Vec<_>>());
    let mut failed = None;
    for (i, t) in threads.into_iter().enumerate() {
        if restart.as_ref().is_some_and(|r| r.contains(&names[i])) {
            continue;
        }
        match t.join() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => failed = Some(anyhow::Error::from(e)),
            Err(_) => failed = Some(anyhow::anyhow!("a station thread panicked")),
        }
    }
    if let Some(r) = restart {
        failed = Some(anyhow::anyhow!("station loop(s) {r:?} hung: the agent exits so its service restarts it"));
    }
    // The stations are done (a stop, or idle): the district client makes
    // its short last try with the outbox, says goodbye and ends.
    stop.cancel();
    drained.cancel();
    if let Some(t) = sync {
        if t.join().is_err() {
            failed = failed.or(Some(anyhow::anyhow!("the district client panicked")));
        }
    }
    if let Some(t) = health {
        let _ = t.join();
    }
    if let Some(e) = failed {
        return Err(e);
    }
    println!("{}", text(lang, "run.stopped", &[]));
    Ok(())
}

/// SIGTERM and SIGINT cancel the shutdown token; SIGHUP asks the main loop
/// for a reload. A thread of its own waits for them (no flag is polled).
struct Signals {
    handle: signal_hook::iterator::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Signals {
    fn listen(stop: CancellationToken, reload: Arc<AtomicBool>) -> anyhow::Result<Self> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]).context("installing signal handlers")?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new().name("signals".into()).spawn(move || {
            for signal in signals.forever() {
                if signal == SIGHUP {
                    reload.store(true, Ordering::SeqCst);
                } else {
                    stop.cancel();
                }
            }
        })?;
        Ok(Self { handle, thread: Some(thread) })
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Tells systemd, when it is listening (`NOTIFY_SOCKET`).
fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "sd_notify");
    }
}

/// Feeds systemd's watchdog at half its interval, while a loop that works
/// makes progress; names the loops found hung (systemd's status line).
struct Watchdog {
    interval: Option<Duration>,
    last: Instant,
    /// The loops last found hung (logged once a change).
    stuck: Vec<String>,
}

impl Watchdog {
    fn from_env() -> Self {
        let interval = sd_notify::watchdog_enabled().map(|d| d / 2);
        if let Some(i) = interval {
            tracing::info!(every_ms = i.as_millis() as u64, "feeding the systemd watchdog");
        }
        Self { interval, last: Instant::now(), stuck: Vec::new() }
    }

    fn tick(&mut self, stuck: &[&str], some_loop_works: bool) {
        let Some(interval) = self.interval else { return };
        if self.last.elapsed() < interval {
            return;
        }
        self.last = Instant::now();
        let stuck: Vec<String> = stuck.iter().map(|s| s.to_string()).collect();
        if stuck != self.stuck {
            if stuck.is_empty() {
                tracing::info!("every station loop makes progress again: feeding the watchdog");
                notify(&[sd_notify::NotifyState::Status("printing")]);
            } else {
                if !some_loop_works {
                    tracing::error!(printers = ?stuck, "every station loop is hung: the watchdog is no longer fed, systemd will restart the agent");
                }
                let line = format!("station loop hung: {}", stuck.join(", "));
                notify(&[sd_notify::NotifyState::Status(&line)]);
            }
            self.stuck = stuck;
        }
        if some_loop_works {
            notify(&[sd_notify::NotifyState::Watchdog]);
        }
    }
}

/// The loops found hung: each is said once (log, its status row, an event
/// for the district); one still hung a second stall limit later asks for a
/// restart of the agent, which waits for its siblings' cards.
struct HungLoops {
    journal: Option<Journal>,
    stall: Duration,
    since: std::collections::HashMap<String, Instant>,
}

impl HungLoops {
    fn new(state_dir: &Path, stall: Duration) -> Self {
        let journal = Journal::open(state_dir).map_err(|e| tracing::warn!(error = %e, "the hung-loop watcher has no journal")).ok();
        Self { journal, stall, since: Default::default() }
    }

    fn watch(&mut self, stuck: &[&str]) {
        self.since.retain(|name, _| stuck.contains(&name.as_str()));
        for name in stuck {
            if self.since.contains_key(*name) {
                continue;
            }
            self.since.insert(name.to_string(), Instant::now());
            tracing::error!(printer = %name, "a station loop is hung: it is named in the status, /readyz and to the district");
            if let Some(j) = self.journal.as_mut() {
                let said = j.set_station_status(name, cetak_model::wire::PrinterState::Hung, "loop.hung").and_then(|()| {
                    j.record_event(serde_json::json!({"event": "printer_loop_hung", "printer": name, "stall_s": self.stall.as_secs()}))
                });
                if let Err(e) = said {
                    tracing::warn!(error = %e, "could not record the hung loop");
                }
            }
        }
    }

    fn restart_wanted(&self) -> bool {
        self.since.values().any(|t| t.elapsed() >= self.stall)
    }
}

/// SIGHUP: reads the config again. A bad one is refused with its file,
/// line and reason and the running one stays. `[stock]` and the health
/// endpoint's token apply at once; anything else that changed is named as
/// waiting for a restart (printers, the state folder and the district link
/// are held by running threads).
fn reload_config(path: &Path, live: &RwLock<Config>, policy: &RwLock<control::Policy>) {
    let new = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "config reload refused: the running config stays");
            notify(&[sd_notify::NotifyState::Status("config reload refused: the running config stays")]);
            return;
        }
    };
    let Ok(mut current) = live.write() else { return };
    let mut restart = Vec::new();
    let differs = |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
    for (section, changed) in [
        ("printer", differs(&current.printers, &new.printers)),
        ("state_dir", current.state_dir != new.state_dir),
        ("station", differs(&current.station, &new.station)),
        ("district", differs(&current.district, &new.district)),
        ("render", differs(&current.render, &new.render)),
        ("service", differs(&current.service, &new.service)),
        ("health.listen", current.health.listen != new.health.listen),
        ("local", differs(&current.local, &new.local)),
    ] {
        if changed {
            restart.push(section);
        }
    }
    if !restart.is_empty() {
        tracing::warn!(sections = ?restart, "config reloaded; these changes take effect at the next restart");
    }
    current.stock = new.stock.clone();
    current.health.token = new.health.token.clone();
    current.language = new.language;
    if let Ok(mut p) = policy.write() {
        p.blank_versions = new.stock.blank_versions.clone();
        p.warn_days = new.stock.warn_days;
    }
    tracing::info!(path = %path.display(), "config reloaded");
    notify(&[sd_notify::NotifyState::Status("printing (config reloaded)")]);
}
