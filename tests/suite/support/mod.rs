//! One home for test helpers: a station on an in-process emulator in a
//! temporary folder, sample data, and the judge that checks the journal
//! against the emulator's physical log.

#![allow(dead_code)]

pub mod fleet;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cetak::journal::Journal;
use cetak::messages::Lang;
use cetak::station::{Station, StationOptions, Step};
use cetak_drivers::emulator::{Destination, Device, DeviceOptions, EmulatedPrinter};

pub const PRINTER: &str = "printer-1";

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// The district's and the emulator's binaries: their packages
/// (`cetak-district`, `cetak-drivers`) build them, and stable Cargo names a
/// binary (`CARGO_BIN_EXE_*`) only to its own package's tests, so they are
/// found beside the build's own: scripts/test builds every workspace binary
/// before the suite (`cargo build --workspace --bins`, the suite's features).
pub const DISTRICT: &str = "cetak-district";
pub const EMULATOR: &str = "cetak-printer-emulator";

/// The path of a workspace binary of this build (see [`DISTRICT`]).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/suite-<hash> -> target/<profile>/<name>
    let profile = exe.parent().and_then(Path::parent).expect("target/<profile>/deps");
    let bin = profile.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is not built: run `cargo build --workspace --bins --features cetak/failpoints,cetak-district/failpoints` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// The sample lines of a data file.
pub fn sample_lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(data(name)).expect("sample file").lines().map(str::to_string).collect()
}

/// A station driving an in-process emulator, all in one temporary folder.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub device: Device,
    pub station: Station<EmulatedPrinter>,
}

impl Rig {
    pub fn new() -> Self {
        Self::with(DeviceOptions::default(), 2)
    }

    pub fn with(opts: DeviceOptions, spoil_retries: u32) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let device = Device::open(&dir.path().join("emulator"), &DeviceOptions { time_scale: 0.0, ..opts }).expect("emulator");
        let journal = Journal::open(&dir.path().join("state")).expect("journal");
        let station = Station::new(
            journal,
            device.printer(),
            StationOptions { name: PRINTER.into(), spoil_retries, local_mode: true, lang: Lang::En, district: None },
        );
        Self { dir, device, station }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Imports the given JSON lines through the local job source.
    pub fn import_lines(&mut self, lines: &[String]) -> Vec<String> {
        let f = self.dir.path().join(format!("jobs-{}.jsonl", rand_suffix()));
        std::fs::write(&f, lines.join("\n")).expect("write jobs");
        cetak::local::import_file(self.station.journal(), &f).expect("import").imported
    }

    /// Imports `n` valid samples, returns their ids.
    pub fn import_samples(&mut self, n: usize) -> Vec<String> {
        let lines: Vec<String> = sample_lines("prr-valid.jsonl").into_iter().take(n).collect();
        self.import_lines(&lines)
    }

    pub fn step(&mut self) -> Step {
        self.station.step().expect("station step")
    }

    /// Steps until the station is idle (or stuck), at most `max` steps.
    pub fn run_until_idle(&mut self, max: usize) -> Vec<Step> {
        let mut steps = Vec::new();
        for _ in 0..max {
            let s = self.step();
            let stop = matches!(s, Step::Idle | Step::Waiting(_) | Step::Paused(_) | Step::Offline);
            steps.push(s);
            if stop {
                break;
            }
        }
        steps
    }

    pub fn journal(&mut self) -> &mut Journal {
        self.station.journal()
    }

    pub fn state_of(&mut self, job: &str) -> cetak::journal::JobState {
        self.journal().job(job).expect("journal").expect("job").state
    }

    /// The final result of a job (also after it was purged).
    pub fn result_of(&mut self, job: &str) -> Option<cetak::journal::JobState> {
        self.journal().final_result(job).expect("journal")
    }

    pub fn judge(&mut self) {
        let device = self.device.clone();
        assert_physical_log_matches(self.journal(), &device);
    }
}

impl Default for Rig {
    fn default() -> Self {
        Self::new()
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// The shared judge: every card that left the emulator's feeder (by its
/// physical log, plus a card still inside) is booked to exactly one attempt
/// with the right outcome, matched by the card counter value at pick (in
/// the counter's epoch: a booked service reset starts a new one) and
/// cross-checked by the K-panel hash; cards with no attempt are covered by
/// booked "blank unaccounted" adjustments; every blank-using attempt has
/// its ledger event.
pub fn assert_physical_log_matches(journal: &Journal, device: &Device) {
    assert_memory_matches(journal, &device.state(), &device.physical_log().expect("physical log"));
}

/// The same judge, from an emulator's memory read off its folder (a
/// printer another process runs), for the station's one printer.
pub fn assert_memory_matches(
    journal: &Journal,
    state: &cetak_drivers::emulator::DeviceState,
    log: &[cetak_drivers::emulator::PhysicalRecord],
) {
    assert_printer_matches(journal, PRINTER, state, log);
}

/// One card as the judge sees it.
struct Card {
    /// `None` while it is inside the printer.
    dest: Option<Destination>,
    panels: u8,
    k_hash: Option<String>,
    used: bool,
}

/// The judge for printer `printer` of a station with any number of them:
/// its attempts, its hopper's adjustments, its pause.
pub fn assert_printer_matches(
    journal: &Journal,
    printer: &str,
    state: &cetak_drivers::emulator::DeviceState,
    log: &[cetak_drivers::emulator::PhysicalRecord],
) {
    // (serial, counter epoch, counter at pick) -> the cards of that number:
    // at most one the printer counted, and any it never counted (pulled out
    // by hand from a printer that counts at eject).
    type Key = (String, u32, u64);
    let mut cards: HashMap<Key, Vec<Card>> = HashMap::new();
    let mut counted = std::collections::HashSet::new();
    for r in log {
        let key = (r.serial.clone(), r.generation, r.counter);
        if r.counted {
            assert!(counted.insert(key.clone()), "card {} of {} (epoch {}) logged twice", r.counter, r.serial, r.generation);
        }
        cards.entry(key).or_default().push(Card { dest: Some(r.destination), panels: r.panels, k_hash: r.k_hash.clone(), used: false });
    }
    if let Some(c) = &state.card_inside {
        let key = (state.serial.clone(), state.counter_generation, c.counter);
        cards.entry(key).or_default().push(Card { dest: None, panels: c.panels, k_hash: c.k_hash.clone(), used: false });
    }
    let attempts: Vec<_> = journal.attempts().expect("attempts").into_iter().filter(|a| a.printer == printer).collect();
    let ledger = journal.ledger_rows().expect("ledger");
    let booked = |kind: &str, a: &cetak::journal::AttemptRow| {
        ledger.iter().any(|l| l.kind == kind && l.job_id.as_deref() == Some(&a.job_id) && l.attempt == Some(a.attempt))
    };
    // Printed cards first: they are the ones a number names for sure.
    let rank = |o: Option<&str>| match o {
        Some("printed") => 0,
        Some("spoiled") => 1,
        Some("uncertain") => 2,
        _ => 3,
    };
    let mut ordered: Vec<_> = attempts.iter().collect();
    ordered.sort_by_key(|a| rank(a.outcome.as_deref()));
    for a in ordered {
        let mut key = (a.printer_serial.clone(), a.counter_epoch, a.counter_before + 1);
        let who = format!("job {} attempt {}", a.job_id, a.attempt);
        if a.outcome.as_deref() == Some("printed") {
            // A test card pressed between the agent's counter read and the
            // feed takes the number the attempt wrote ahead; the job's card
            // is the next one, found by its face (the test card is then one
            // the operator booked as unaccounted).
            let face = |k: &Key| {
                cards.get(k).is_some_and(|v| v.iter().any(|c| !c.used && c.dest == Some(Destination::Output) && c.k_hash == a.k_hash))
            };
            if let Some(later) = (0..4).map(|d| (key.0.clone(), key.1, key.2 + d)).find(|k| face(k)) {
                key = later;
            }
        }
        let near = |cards: &HashMap<Key, Vec<Card>>| {
            let mut v: Vec<String> = cards
                .iter()
                .filter(|(k, _)| k.0 == key.0 && k.2.abs_diff(key.2) <= 3)
                .flat_map(|(k, cs)| cs.iter().map(move |c| format!("{k:?} {:?} {} panels used {}", c.dest, c.panels, c.used)))
                .collect();
            v.sort();
            v.join("; ")
        };
        let around = near(&cards);
        let at = cards.get_mut(&key);
        let take = |f: &dyn Fn(&Card) -> bool| -> Option<&mut Card> {
            let c = at?.iter_mut().find(|c| !c.used && f(c))?;
            c.used = true;
            Some(c)
        };
        match a.outcome.as_deref() {
            Some("not_fed") => {}
            Some("printed") => {
                let c = take(&|c| c.dest == Some(Destination::Output))
                    .unwrap_or_else(|| panic!("{who}: printed, but no card {key:?} in the output hopper; near it: {around}"));
                assert_eq!(c.panels, 5, "{who}: printed card has {} panels", c.panels);
                assert_eq!(c.k_hash, a.k_hash, "{who}: K panel on the card is not the one the journal sent");
                assert!(booked("blank_used", a), "{who}: no blank_used");
            }
            Some("spoiled") => {
                let c = take(&|c| c.dest != Some(Destination::Output) && c.panels == 0)
                    .unwrap_or_else(|| panic!("{who}: spoiled as unprinted, but no such card {key:?} left the feeder"));
                assert_eq!(c.panels, 0);
                assert!(booked("blank_spoiled", a), "{who}: no blank_spoiled");
            }
            Some("uncertain") => {
                assert!(
                    take(&|_| true).is_some(),
                    "{who}: uncertain, but no card {key:?} left the feeder; the attempt {a:?}; near it: {around}; the printer now: epoch {} counter {}",
                    state.counter_generation,
                    state.card_counter
                );
            }
            // In flight: a card may or may not have been taken.
            None => {
                let _ = take(&|_| true);
            }
            Some(other) => panic!("{who}: unknown outcome {other}"),
        }
    }
    let unmatched = cards.values().flatten().filter(|c| !c.used).count() as i64;
    let hopper = format!("hopper:{printer}");
    let adjusted: i64 =
        ledger.iter().filter(|l| l.kind == "adjustment" && l.item == "blanko" && l.location == hopper).map(|l| -l.quantity).sum();
    let pending_pause = journal.pause_of(printer).expect("pause").map(|(r, _)| r) == Some("blank_unaccounted".into());
    if pending_pause {
        assert!(unmatched >= adjusted, "more adjustments than unexplained cards");
    } else {
        let loose: Vec<(&Key, &Card)> = cards.iter().flat_map(|(k, cs)| cs.iter().filter(|c| !c.used).map(move |c| (k, c))).collect();
        let near: Vec<String> = attempts
            .iter()
            .filter(|a| loose.iter().any(|(k, _)| k.1 == a.counter_epoch && k.2.abs_diff(a.counter_before + 1) <= 3))
            .map(|a| format!("{a:?}"))
            .collect();
        let loose: Vec<String> =
            loose.iter().map(|(k, c)| format!("{k:?} {:?} {} panels, K panel {}", c.dest, c.panels, c.k_hash.is_some())).collect();
        let bookings: Vec<String> = ledger
            .iter()
            .filter(|l| l.location == hopper && (l.kind == "adjustment" || l.kind == "counter_reset"))
            .map(|l| format!("{l:?}"))
            .collect();
        assert_eq!(
            unmatched,
            adjusted,
            "{printer}: cards that left the feeder without an attempt or a booked adjustment: {unmatched} vs {adjusted} booked\n\
             the cards: {loose:?}\nattempts near them: {near:#?}\nbookings: {bookings:#?}\npause now: {:?}",
            journal.pause_of(printer).ok().flatten()
        );
    }
    assert_eq!(journal.verify_ledger().expect("verify"), None, "ledger chain broken");
}

/// The real `cetak` binary with an in-process emulator, in a folder of its
/// own: the emulator's state file is the printer's memory across kills.
pub struct ProcessRig {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl ProcessRig {
    /// A station with `jobs` of the valid samples in its local job file.
    pub fn new(jobs: usize) -> Self {
        Self::with_printer(jobs, "kind = \"emulator\"\ntime_scale = 0.0\n")
    }

    /// The same, with the `[[printer]]` keys (after `name`) given.
    pub fn with_printer(jobs: usize, printer: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let jobs_file = dir.path().join("jobs.jsonl");
        std::fs::write(&jobs_file, sample_lines("prr-valid.jsonl")[..jobs].join("\n")).expect("jobs");
        let config = dir.path().join("cetak.toml");
        std::fs::write(
            &config,
            format!(
                "language = \"en\"\nstate_dir = \"{}\"\n[station]\nidle_poll_ms = 10\n[local]\njobs_file = \"{}\"\n[[printer]]\nname = \"{PRINTER}\"\n{printer}",
                dir.path().join("state").display(),
                jobs_file.display()
            ),
        )
        .expect("config");
        Self { dir, config }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn emulator_dir(&self) -> PathBuf {
        self.state_dir().join("emulator").join(PRINTER)
    }

    pub fn cetak(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cetak"));
        c.env_remove("CETAK_FAILPOINT").env_remove("RUST_LOG").arg("--config").arg(&self.config);
        c
    }

    /// Runs the daemon until it is idle, or until the fail point kills it.
    pub fn run(&self, failpoint: Option<&str>) -> std::process::Output {
        let mut c = self.cetak();
        c.args(["run", "--until-idle"]);
        if let Some(fp) = failpoint {
            c.env("CETAK_FAILPOINT", fp);
        }
        c.output().expect("cetak run")
    }

    pub fn journal(&self) -> Journal {
        Journal::open(&self.state_dir()).expect("journal")
    }

    /// The printer as it is now (the agent is not running).
    pub fn device(&self) -> Device {
        Device::open(&self.emulator_dir(), &DeviceOptions::default()).expect("device")
    }

    /// Plays the operator for every `uncertain` job from the physical log:
    /// a card of this attempt in the output hopper with every panel is the
    /// good card; anything else is spoiled. Returns the decisions made.
    pub fn settle_uncertain_from_physical_log(&self) -> usize {
        self.settle_uncertain_from(&self.device().physical_log().expect("log"))
    }

    /// The same, from a given physical log (a printer another process runs).
    pub fn settle_uncertain_from(&self, log: &[cetak_drivers::emulator::PhysicalRecord]) -> usize {
        play_operator(&self.journal(), log, || self.cetak())
    }
}

/// Plays the operator for every `uncertain` job of `journal` from the
/// printer's physical log, through `cetak jobs resolve` (`cetak` makes the
/// command, with the station's config): a card of that attempt in the
/// output hopper with every panel is the good card; anything else is
/// spoiled. A command whose daemon died mid-request may or may not have
/// acted: like a person, the operator looks again next time (a job still
/// uncertain is asked again). Returns the decisions confirmed.
pub fn play_operator(
    journal: &Journal,
    log: &[cetak_drivers::emulator::PhysicalRecord],
    cetak: impl Fn() -> std::process::Command,
) -> usize {
    let mut decisions = 0;
    for job in journal.jobs_in(cetak::journal::JobState::Uncertain).expect("jobs") {
        let a =
            journal.attempts().expect("attempts").into_iter().rfind(|a| a.job_id == job.job_id).expect("an uncertain job has an attempt");
        // The card in hand is matched by its number and its face (K panel):
        // on a printer that counts at eject, a card pulled out by hand and the
        // next one printed carry one number.
        let good = log.iter().any(|r| {
            r.serial == a.printer_serial
                && r.generation == a.counter_epoch
                && r.counter == a.counter_before + 1
                && r.destination == Destination::Output
                && r.panels == 5
                && r.k_hash == a.k_hash
        });
        let flag = if good { "--printed" } else { "--spoiled" };
        let out = cetak().args(["jobs", "resolve", &job.job_id, flag]).output().expect("resolve");
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && err.contains("may or may not have been carried out") {
            continue;
        }
        assert!(out.status.success(), "resolve {}: {err}", job.job_id);
        decisions += 1;
    }
    decisions
}

/// Plays the operator for every printer paused on its card counter: a blank
/// unaccounted is explained (the test's clerk pressed the button), a counter
/// that went down is booked as a service reset. Returns the bookings made.
pub fn book_counter_gaps(journal: &Journal, printers: &[&str], cetak: impl Fn() -> std::process::Command) -> usize {
    let mut booked = 0;
    for p in printers {
        let args: &[&str] = match journal.pause_of(p).expect("pause").map(|(r, _)| r).as_deref() {
            Some("blank_unaccounted") => &["--reason", "test card from the front panel"],
            Some("counter_reset") => &["--reset", "--reason", "service reset of the counter"],
            _ => continue,
        };
        let out = cetak().args(["stock", "explain", "--printer", p]).args(args).output().expect("explain");
        let err = String::from_utf8_lossy(&out.stderr);
        // Booked meanwhile, or the daemon died mid-request: looked at again.
        if out.status.success() {
            booked += 1;
        } else {
            assert!(err.contains("already booked") || err.contains("may or may not") || err.contains("no reset"), "explain {p}: {err}");
        }
    }
    booked
}

/// No card came out twice: each K-panel hash appears at most once among the
/// cards in the output hopper.
pub fn assert_no_card_printed_twice(device: &Device) {
    assert_no_record_twice(&device.physical_log().expect("log"));
}

pub fn assert_no_record_twice(log: &[cetak_drivers::emulator::PhysicalRecord]) {
    let mut seen = std::collections::HashSet::new();
    // A card with no K panel in the output hopper is a test card from the
    // front panel, no job's.
    for r in log {
        if let (Destination::Output, Some(k)) = (r.destination, &r.k_hash) {
            assert!(seen.insert(k.clone()), "card {} printed twice (same K panel)", r.counter);
        }
    }
}

/// A running daemon that is killed if the test ends without stopping it,
/// so a failed assertion never leaves a process holding the test's pipes.
pub struct Daemon {
    pub child: Option<std::process::Child>,
}

impl Daemon {
    pub fn spawn(mut cmd: std::process::Command) -> Self {
        Self { child: Some(cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().expect("spawn daemon")) }
    }

    /// SIGTERM, then wait: the daemon's exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        rustix::process::kill_process(rustix::process::Pid::from_child(&child), rustix::process::Signal::TERM).expect("term");
        child.wait().expect("wait")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The emulator as a process of its own, on TCP or a pseudo-terminal, with
/// a clerk on its standard input. Killed when dropped.
pub struct EmulatorProcess {
    pub dir: PathBuf,
    pub args: Vec<String>,
    pub link: Link,
    pub endpoint: String,
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Tcp,
    Pty,
}

impl EmulatorProcess {
    /// Starts an emulator with no mechanical time; `args` add faults.
    pub fn start(dir: &Path, link: Link, args: &[&str]) -> Self {
        Self::start_at(dir, link, args.iter().map(|s| s.to_string()).collect(), None, 0.0)
    }

    /// The same with mechanical time (1.0: about 20 s a card).
    pub fn start_timed(dir: &Path, link: Link, time_scale: f64, args: &[&str]) -> Self {
        Self::start_at(dir, link, args.iter().map(|s| s.to_string()).collect(), None, time_scale)
    }

    fn start_at(dir: &Path, link: Link, args: Vec<String>, tcp: Option<&str>, time_scale: f64) -> Self {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(workspace_bin(EMULATOR));
        cmd.arg("--dir").arg(dir).args(["--time-scale", &time_scale.to_string()]).args(&args);
        match link {
            Link::Tcp => cmd.args(["--tcp", tcp.unwrap_or("127.0.0.1:0")]),
            Link::Pty => cmd.arg("--pty"),
        };
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the emulator");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("emulator says where it listens");
        let endpoint = first.split_whitespace().nth(1).expect("endpoint").to_string();
        Self { dir: dir.to_path_buf(), args, link, endpoint, child, stdin, stdout }
    }

    /// A clerk's action (`remove-card`, `close-cover`, `load 10`, ...).
    pub fn clerk(&mut self, action: &str) {
        let answer = self.try_clerk(action);
        assert_eq!(answer, "ok", "clerk action {action:?}");
    }

    /// A clerk's action the printer may refuse (`test-card` while a card is
    /// inside a printer that counts at eject): its answer.
    pub fn try_clerk(&mut self, action: &str) -> String {
        use std::io::{BufRead, Write};
        writeln!(self.stdin, "{action}").expect("clerk writes");
        self.stdin.flush().expect("flush");
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("clerk answer");
        answer.trim().to_string()
    }

    /// The printer's state file alone (cheap: no physical log); `None`
    /// while it is being rewritten.
    pub fn state(&self) -> Option<cetak_drivers::emulator::DeviceState> {
        serde_json::from_slice(&std::fs::read(self.dir.join("printer-state.json")).ok()?).ok()
    }

    /// The printer's memory as on its disk.
    pub fn memory(&self) -> (cetak_drivers::emulator::DeviceState, Vec<cetak_drivers::emulator::PhysicalRecord>) {
        cetak_drivers::emulator::read_memory(&self.dir).expect("emulator memory")
    }

    /// Kills the process (the printer switched off); `restart` brings it
    /// back.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the process (a power cut) and starts it again on the same
    /// address, memory kept.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let endpoint = self.endpoint.clone();
        let again = Self::start_at(&self.dir, self.link, Vec::new(), (self.link == Link::Tcp).then_some(endpoint.as_str()), 0.0);
        *self = again;
    }

    /// A transport to this emulator, as the config would open it.
    pub fn transport(&self) -> Box<dyn cetak_drivers::transport::Transport> {
        match self.link {
            Link::Tcp => Box::new(cetak_drivers::transport::tcp::TcpTransport::new(&self.endpoint)),
            Link::Pty => Box::new(
                cetak_drivers::transport::serial::SerialTransport::new(cetak_drivers::transport::serial::SerialSettings {
                    path: self.endpoint.clone(),
                    baud: 115_200,
                    parity: serialport::Parity::None,
                    flow: serialport::FlowControl::None,
                })
                .expect("serial settings"),
            ),
        }
    }

    /// The Evolis driver on this emulator, with no mechanical allowance
    /// (the emulator runs with no mechanical time).
    pub fn printer(&self, compress: bool) -> cetak_drivers::evolis::EvolisPrinter<Box<dyn cetak_drivers::transport::Transport>> {
        cetak_drivers::evolis::EvolisPrinter::new(self.transport(), compress).with_mechanical(std::time::Duration::ZERO)
    }

    /// A config entry that drives this emulator.
    pub fn config_entry(&self) -> String {
        match self.link {
            Link::Tcp => format!("kind = \"evolis\"\ntransport = \"tcp\"\naddress = \"{}\"\n", self.endpoint),
            Link::Pty => format!("kind = \"evolis\"\ntransport = \"serial\"\npath = \"{}\"\nbaud = 115200\n", self.endpoint),
        }
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
