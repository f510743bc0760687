//! Real parts for the district tests: `cetak-district serve` as a process
//! on a throw-away PostgreSQL, stations as real `cetak run` processes each
//! with its emulator as a process of its own, and a TCP proxy per station
//! that cuts or stalls its connections to the district.

use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cetak::journal::Journal;
use cetak_drivers::emulator::{Destination, PhysicalRecord};

use super::{EmulatorProcess, Link, PRINTER};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn kill9(child: &mut Child) {
    let _ = rustix::process::kill_process(rustix::process::Pid::from_child(child), rustix::process::Signal::KILL);
    let _ = child.wait();
}

/// Lifts this process's soft limit on open files to `want` (the hard one
/// too where it may): a test that opens sockets by the thousand. Returns
/// the limit now.
pub fn raise_open_files(want: u64) -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let cur = getrlimit(Resource::Nofile);
    let hard = cur.maximum.unwrap_or(u64::MAX).max(want);
    let _ = setrlimit(Resource::Nofile, Rlimit { current: Some(want), maximum: Some(hard) });
    getrlimit(Resource::Nofile).current.unwrap_or(0)
}

/// `program`, under a hard limit of `open_files` descriptors when given
/// (util-linux's `prlimit`, in every Debian).
pub fn limited(program: impl AsRef<std::ffi::OsStr>, open_files: Option<u64>) -> Command {
    match open_files {
        Some(n) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--nofile={n}:{n}")).arg("--").arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// `cetak-district serve` on a fixed port, so a restart after SIGKILL is
/// found at the same address.
pub struct DistrictProcess {
    pub db_url: String,
    /// The TLS folder: the district's CA, made on first start.
    pub tls_dir: PathBuf,
    /// More arguments for `serve`.
    pub args: Vec<String>,
    pub port: u16,
    pub log: PathBuf,
    /// A limit on open files the process cannot lift (`prlimit`), as a
    /// unit without `LimitNOFILE` would have; `None`: the test's own.
    pub open_files: Option<u64>,
    child: Option<Child>,
}

impl DistrictProcess {
    pub fn start(db_url: &str, log_dir: &Path) -> Self {
        Self::start_with(db_url, log_dir, &[])
    }

    pub fn start_with(db_url: &str, log_dir: &Path, args: &[&str]) -> Self {
        Self::start_limited(db_url, log_dir, args, None)
    }

    /// The same, under a hard limit of `open_files` descriptors.
    pub fn start_limited(db_url: &str, log_dir: &Path, args: &[&str], open_files: Option<u64>) -> Self {
        let mut d = Self {
            db_url: db_url.into(),
            tls_dir: log_dir.join("district-tls"),
            args: args.iter().map(|a| a.to_string()).collect(),
            port: free_port(),
            log: log_dir.join("district.log"),
            open_files,
            child: None,
        };
        d.spawn();
        d
    }

    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", if self.plain() { "http" } else { "https" }, self.port)
    }

    /// Started with `--plain-http` (benchmarks compare it with TLS).
    pub fn plain(&self) -> bool {
        self.args.iter().any(|a| a == "--plain-http")
    }

    /// The CA certificate (PEM) the stations will trust.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.tls_dir.join("ca.pem")).expect("ca.pem")
    }

    /// The CA's fingerprint, as an officer reads it out.
    pub fn ca_sha256(&self) -> String {
        cetak_district::tls::fingerprint(&self.ca_pem()).expect("fingerprint")
    }

    /// An HTTP client that trusts this district's CA.
    pub fn http(&self) -> reqwest::Client {
        cetak::queue::client::install_crypto();
        let config = cetak::queue::tls::trusting(&self.ca_pem()).expect("tls config");
        reqwest::Client::builder().tls_backend_preconfigured(config).build().expect("client")
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("district log");
        let mut child = limited(super::workspace_bin(super::DISTRICT), self.open_files)
            .args(["serve", "--listen", &self.addr()])
            .args(if self.plain() { vec![] } else { vec!["--tls-dir".into(), self.tls_dir.display().to_string()] })
            .args(if self.args.iter().any(|a| a == "--max-wait-s") { &[][..] } else { &["--max-wait-s", "5"][..] })
            .args(&self.args)
            .env("CETAK_DISTRICT_DB", &self.db_url)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start cetak-district");
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("district says it listens");
        assert!(first.starts_with("listening on"), "district: {first:?} (log {})", self.log.display());
        self.child = Some(child);
    }

    /// The server's process id (for its memory, in benchmarks).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: a crash or a power cut of the district server.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill9(&mut c);
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// An officer's command; its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(super::workspace_bin(super::DISTRICT))
            .args(args)
            .env("CETAK_DISTRICT_DB", &self.db_url)
            .output()
            .expect("cetak-district");
        assert!(out.status.success(), "cetak-district {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for DistrictProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the proxy does with a station's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    Pass = 0,
    /// Every connection closed at once, new ones too: the line is down.
    Cut = 1,
    /// Connections accepted but nothing forwarded: a dead route.
    Stall = 2,
}

/// A TCP proxy between one station and the district.
pub struct Proxy {
    pub addr: String,
    mode: Arc<AtomicU8>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    done: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let mode = Arc::new(AtomicU8::new(ProxyMode::Pass as u8));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let done = Arc::new(AtomicBool::new(false));
        let (m, o, d, up) = (Arc::clone(&mode), Arc::clone(&open), Arc::clone(&done), upstream.to_string());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if d.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = conn else { continue };
                match m.load(Ordering::SeqCst) {
                    1 => drop(client),
                    2 => o.lock().expect("lock").push(client),
                    _ => {
                        let Ok(server) = TcpStream::connect(&up) else { continue };
                        let mut list = o.lock().expect("lock");
                        for s in [&client, &server] {
                            if let Ok(c) = s.try_clone() {
                                list.push(c);
                            }
                        }
                        drop(list);
                        pipe(&client, &server);
                        pipe(&server, &client);
                    }
                }
            }
        });
        Self { addr, mode, open, done }
    }

    /// The district as seen through this proxy (TLS passes through).
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn set(&self, mode: ProxyMode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
        if mode != ProxyMode::Pass {
            for s in self.open.lock().expect("lock").drain(..) {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        self.set(ProxyMode::Cut);
    }
}

fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else { return };
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

/// A station: its folder, config, emulator process, proxy and daemon.
pub struct StationProcess {
    pub name: String,
    pub regions: Vec<String>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub emulator: EmulatorProcess,
    /// More printers on this PC (`printer-2` ...), each an emulator of its own.
    pub more: Vec<(String, EmulatorProcess)>,
    pub proxy: Proxy,
    daemon: Option<Child>,
    /// When the daemon was started.
    started: Option<Instant>,
}

/// How a test station is set up.
pub struct StationSetup<'a> {
    pub name: &'a str,
    pub regions: &'a [&'a str],
    /// Blanks in its printer's feeder (0: a printer that cannot print).
    pub feeder: u32,
    /// Cards its printer's ribbon prints.
    pub ribbon: u32,
    /// More emulator arguments (faults).
    pub emulator_args: &'a [&'a str],
    /// Mechanical time scale of its printer (1.0: 20 s a card).
    pub time_scale: f64,
    /// Extra lines for the `[district]` table.
    pub district: &'a str,
    /// A second printer on the same PC, with these emulator arguments
    /// (`--count-at-eject` makes it one that counts at eject, and the config
    /// says so).
    pub second_printer: Option<&'a [&'a str]>,
}

impl Default for StationSetup<'_> {
    fn default() -> Self {
        Self {
            name: "kel",
            regions: &[],
            feeder: 500,
            ribbon: 500,
            emulator_args: &[],
            time_scale: 0.005,
            district: "",
            second_printer: None,
        }
    }
}

/// A config entry for an emulator process, with `counts_at` as it counts.
fn entry_for(emulator: &EmulatorProcess, args: &[&str]) -> String {
    let eject = if args.contains(&"--count-at-eject") { "counts_at = \"eject\"\n" } else { "" };
    format!("{}{eject}", emulator.config_entry())
}

impl StationProcess {
    /// Sets up and enrols a station (through its proxy); not started.
    pub fn enrol(district: &DistrictProcess, s: &StationSetup<'_>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let serial = format!("EMU-{}", s.name.to_uppercase());
        let (feeder, ribbon) = (s.feeder.to_string(), s.ribbon.to_string());
        let mut args = vec!["--serial", serial.as_str(), "--feeder", feeder.as_str(), "--ribbon", ribbon.as_str()];
        args.extend_from_slice(s.emulator_args);
        let emulator = EmulatorProcess::start_timed(&dir.path().join("printer"), Link::Tcp, s.time_scale, &args);
        let mut more = Vec::new();
        let mut tables = format!("[[printer]]\nname = \"{PRINTER}\"\n{}", entry_for(&emulator, &args));
        if let Some(extra) = s.second_printer {
            let serial2 = format!("{serial}-2");
            let mut args2 = vec!["--serial", serial2.as_str(), "--feeder", feeder.as_str(), "--ribbon", ribbon.as_str()];
            args2.extend_from_slice(extra);
            let e2 = EmulatorProcess::start_timed(&dir.path().join("printer-2"), Link::Tcp, s.time_scale, &args2);
            tables.push_str(&format!("[[printer]]\nname = \"printer-2\"\n{}", entry_for(&e2, &args2)));
            more.push(("printer-2".to_string(), e2));
        }
        let proxy = Proxy::start(&district.addr());
        let config = dir.path().join("cetak.toml");
        std::fs::write(
            &config,
            format!(
                "language = \"en\"\nstate_dir = \"{}\"\n[station]\nidle_poll_ms = 20\n[district]\n{}\n{tables}",
                dir.path().join("state").display(),
                district_table(s.district),
            ),
        )
        .expect("config");
        let mut code_args = vec!["enroll-code", "--station", s.name];
        for r in s.regions {
            code_args.extend(["--wilayah", r]);
        }
        let out = district.cli(&code_args);
        let code = out.lines().next().expect("a code").trim().to_string();
        let fp = out.lines().find_map(|l| l.strip_prefix("ca-sha256 ")).expect("the CA fingerprint").trim().to_string();
        assert_eq!(fp, district.ca_sha256(), "enroll-code prints the CA's fingerprint");
        let st = Self {
            name: s.name.into(),
            regions: s.regions.iter().map(|r| r.to_string()).collect(),
            dir,
            config,
            emulator,
            more,
            proxy,
            daemon: None,
            started: None,
        };
        let out =
            st.cetak().args(["enroll", "--district", &st.proxy.url(), "--code", &code, "--ca-sha256", &fp]).output().expect("cetak enroll");
        assert!(out.status.success(), "enroll {}: {}", s.name, String::from_utf8_lossy(&out.stderr));
        st
    }

    pub fn cetak(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cetak"));
        c.env_remove("CETAK_FAILPOINT").env("RUST_LOG", "info").arg("--config").arg(&self.config);
        c
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn start(&mut self) {
        self.start_with_env(&[]);
    }

    /// Starts the daemon with `env` added (libfaketime's, say).
    pub fn start_with_env(&mut self, env: &[(&str, &str)]) {
        assert!(self.daemon.is_none(), "{} already runs", self.name);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("agent.log")).expect("log");
        let mut cmd = self.cetak();
        cmd.envs(env.iter().copied());
        let child = cmd.arg("run").stdout(Stdio::null()).stderr(log).spawn().expect("cetak run");
        self.daemon = Some(child);
        self.started = Some(Instant::now());
    }

    /// SIGTERM and wait: the card in the printer finishes. A daemon started
    /// less than a second ago is given that second first: a SIGTERM before
    /// its `main` runs kills it (systemd counts that a clean stop; this
    /// judge would not).
    pub fn stop(&mut self) {
        if let Some(at) = self.started {
            std::thread::sleep(Duration::from_secs(1).saturating_sub(at.elapsed()));
        }
        if let Some(mut c) = self.daemon.take() {
            let _ = rustix::process::kill_process(rustix::process::Pid::from_child(&c), rustix::process::Signal::TERM);
            let status = c.wait().expect("wait");
            assert!(status.success(), "{} stopped with {status}; log:\n{}", self.name, self.log_tail());
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            kill9(&mut c);
        }
    }

    /// The daemon's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(Child::id)
    }

    /// The daemon's exit status once it has ended on its own (a fail
    /// point's SIGKILL, say); `None` while it runs or when none was started.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.daemon.as_mut()?.try_wait().expect("wait")?;
        self.daemon = None;
        Some(status)
    }

    /// Plays the operator for every `uncertain` job from the printers'
    /// physical logs (the daemon may be running): `super::play_operator`;
    /// and books every printer paused on its counter.
    pub fn settle_uncertain(&self) -> usize {
        let logs: Vec<PhysicalRecord> = self.printers().flat_map(|(_, e)| e.memory().1).collect();
        let journal = self.journal();
        super::play_operator(&journal, &logs, || self.cetak()) + self.book_counter_gaps()
    }

    /// Books each printer paused on its card counter (`super::book_counter_gaps`).
    pub fn book_counter_gaps(&self) -> usize {
        let names: Vec<&str> = self.printers().map(|(n, _)| n).collect();
        super::book_counter_gaps(&self.journal(), &names, || self.cetak())
    }

    /// Waits until the journal accounts for every card each printer has
    /// counted (its counter is the printer's, in the same epoch, with no
    /// counter pause left), booking each gap as the agent finds it; a fixed
    /// wait raced the agent's 5 s counter check under a loaded CI machine.
    /// Returns the bookings.
    pub fn settle_counters(&self, within: Duration) -> usize {
        let until = Instant::now() + within;
        let mut booked = 0;
        loop {
            booked += self.book_counter_gaps();
            let journal = self.journal();
            let behind: Vec<String> = self
                .printers()
                .filter_map(|(name, e)| {
                    let device = e.state().map(|s| (s.counter_generation, s.card_counter));
                    let known = journal.printer(name).ok().flatten().map(|p| (p.counter_epoch, p.last_counter));
                    let paused = journal.counter_gap(name).ok().flatten();
                    (device.is_none() || device != known || paused.is_some())
                        .then(|| format!("{name}: printer {device:?}, journal {known:?}, pause {paused:?}"))
                })
                .collect();
            if behind.is_empty() {
                return booked;
            }
            if Instant::now() >= until {
                let text = std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default();
                let said: Vec<&str> = text
                    .lines()
                    .filter(|l| ["counter", "pause", "adopted", "settled", "uncertain"].iter().any(|w| l.contains(w)))
                    .collect();
                panic!(
                    "{}: the journal never caught up with its printers' counters: {behind:?}\nthe agent said:\n{}",
                    self.name,
                    said[said.len().saturating_sub(80)..].join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every printer of the station: its name in the config and its emulator.
    pub fn printers(&self) -> impl Iterator<Item = (&str, &EmulatorProcess)> {
        std::iter::once((PRINTER, &self.emulator)).chain(self.more.iter().map(|(n, e)| (n.as_str(), e)))
    }

    /// The same, to act on them (a clerk, a power cut).
    pub fn printers_mut(&mut self) -> impl Iterator<Item = (&str, &mut EmulatorProcess)> {
        std::iter::once((PRINTER, &mut self.emulator)).chain(self.more.iter_mut().map(|(n, e)| (n.as_str(), e)))
    }

    /// Judges every printer against its physical log, and no K panel twice.
    pub fn judge_printers(&self) {
        let journal = self.journal();
        let mut all = Vec::new();
        for (name, e) in self.printers() {
            let (state, log) = e.memory();
            let judged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                super::assert_printer_matches(&journal, name, &state, &log);
            }));
            if let Err(panic) = judged {
                // What the agent said about its counters and pauses, to read
                // beside the verdict.
                let text = std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default();
                let said: Vec<&str> = text
                    .lines()
                    .filter(|l| {
                        (l.contains(name) && (l.contains("counter") || l.contains("pause")))
                            || l.contains("settled")
                            || l.contains("uncertain")
                    })
                    .collect();
                eprintln!("--- {} {name}, the agent on its counter:\n{}", self.name, said[said.len().saturating_sub(60)..].join("\n"));
                std::panic::resume_unwind(panic);
            }
            all.extend(log);
        }
        super::assert_no_record_twice(&all);
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(80)..].join("\n")
    }

    pub fn journal(&self) -> Journal {
        Journal::open(&self.state_dir()).expect("journal")
    }

    /// Cards in this station's output hoppers, from its printers' memory.
    pub fn printed(&self) -> Vec<PhysicalRecord> {
        self.printers().flat_map(|(_, e)| e.memory().1).filter(|r| r.destination == Destination::Output).collect()
    }
}

impl Drop for StationProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The test's quick `[district]` settings, unless the setup gives its own.
fn district_table(given: &str) -> String {
    let mut table = given.to_string();
    for (key, value) in [("wait_s", "2"), ("heartbeat_s", "1"), ("retry_base_ms", "100"), ("retry_cap_s", "1"), ("request_timeout_s", "3")]
    {
        if !given.lines().any(|l| l.trim_start().starts_with(&format!("{key} "))) {
            table.push_str(&format!("\n{key} = {value}"));
        }
    }
    table
}

/// The environment that sets a process's wall clock `offset` away
/// (`-3y`, `+1h`) with Debian's libfaketime, timers left on the real
/// monotonic clock. The library is preloaded directly (the `faketime`
/// command forks and would not pass SIGTERM on).
pub fn faketime_env(offset: &str) -> Vec<(&'static str, String)> {
    let lib = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("libfaketime (apt-get install faketime)");
    vec![("LD_PRELOAD", lib.to_string()), ("FAKETIME", offset.to_string()), ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_string())]
}

/// Waits until `f` holds, or panics with `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < until, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
