//! The agent as a system service, on the real binary: SIGTERM drains,
//! SIGHUP reloads (or refuses a bad config and keeps printing), the health
//! endpoint follows the printer and matches the journal, and the watchdog
//! is fed only while the station loops make progress. systemd itself is
//! played by the test: a datagram socket as `NOTIFY_SOCKET`.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cetak::journal::{JobState, Journal};
use cetak_drivers::emulator::Destination;

use crate::support::fleet::free_port;
use crate::support::{sample_lines, EmulatorProcess, Link, PRINTER};

/// A station folder with its config, and the daemon's log.
struct ServiceRig {
    dir: tempfile::TempDir,
    config: PathBuf,
    health: u16,
    emulator: Option<EmulatorProcess>,
    daemon: Option<Child>,
}

impl ServiceRig {
    /// `jobs` valid samples as a local job file; `printer` the printer's
    /// keys after its name (none: an emulator process on TCP with `args`).
    fn new(jobs: usize, printer: Option<&str>, emulator_args: &[&str], extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let jobs_file = dir.path().join("jobs.jsonl");
        std::fs::write(&jobs_file, sample_lines("prr-valid.jsonl")[..jobs].join("\n")).expect("jobs");
        let emulator = printer.is_none().then(|| EmulatorProcess::start(&dir.path().join("printer"), Link::Tcp, emulator_args));
        let entry = printer.map(str::to_string).unwrap_or_else(|| emulator.as_ref().map(|e| e.config_entry()).unwrap_or_default());
        let health = free_port();
        let config = dir.path().join("cetak.toml");
        let rig = Self { dir, config, health, emulator, daemon: None };
        rig.write_config(&jobs_file, &entry, extra);
        rig
    }

    fn write_config(&self, jobs_file: &std::path::Path, entry: &str, extra: &str) {
        let text = format!(
            "language = \"en\"\nstate_dir = \"{}\"\n[station]\nidle_poll_ms = 20\n[local]\njobs_file = \"{}\"\n[health]\nlisten = \"127.0.0.1:{}\"\n{extra}\n[[printer]]\nname = \"{PRINTER}\"\n{entry}",
            self.state_dir().display(),
            jobs_file.display(),
            self.health,
        );
        std::fs::write(&self.config, text).expect("config");
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }

    fn start(&mut self, env: &[(&str, &str)]) {
        let log = std::fs::File::create(self.dir.path().join("agent.log")).expect("log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cetak"));
        cmd.env_remove("CETAK_FAILPOINT").env_remove("NOTIFY_SOCKET").env_remove("WATCHDOG_USEC").env("RUST_LOG", "info");
        cmd.arg("--config").arg(&self.config).arg("run").envs(env.iter().copied());
        self.daemon = Some(cmd.stdout(Stdio::null()).stderr(log).spawn().expect("cetak run"));
    }

    fn signal(&self, sig: rustix::process::Signal) {
        let child = self.daemon.as_ref().expect("running");
        rustix::process::kill_process(rustix::process::Pid::from_child(child), sig).expect("signal");
    }

    /// SIGTERM and the exit status.
    fn terminate(&mut self) -> std::process::ExitStatus {
        self.signal(rustix::process::Signal::TERM);
        let mut child = self.daemon.take().expect("running");
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < until, "no exit 60 s after SIGTERM; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn journal(&self) -> Journal {
        Journal::open(&self.state_dir()).expect("journal")
    }

    fn get(&self, path: &str) -> (u16, String) {
        cetak::queue::client::install_crypto();
        let url = format!("http://127.0.0.1:{}{path}", self.health);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            match reqwest::Client::new().get(&url).timeout(Duration::from_secs(5)).send().await {
                Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
                Err(_) => (0, String::new()),
            }
        })
    }

    /// Waits until `f` holds; on a timeout, panics with the agent's log.
    fn wait(&self, limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
        let until = Instant::now() + limit;
        while !f() {
            assert!(Instant::now() < until, "timed out waiting: {what}; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Good cards, as the ledger books them (local mode moves printed jobs
    /// on to reported and purged).
    fn printed(&self) -> u64 {
        self.journal().tallies().map(|t| t.printed).unwrap_or(0)
    }

    fn count(&self, state: JobState) -> usize {
        self.journal().jobs_in(state).map(|j| j.len()).unwrap_or(0)
    }
}

impl Drop for ServiceRig {
    fn drop(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn sigterm_mid_card_finishes_that_card_starts_no_other_and_exits_0() {
    // About 2 s a card, in process: time to signal in the middle of one.
    let mut rig = ServiceRig::new(4, Some("kind = \"emulator\"\ntime_scale = 0.1\n"), &[], "");
    rig.start(&[]);
    rig.wait(Duration::from_secs(30), "a card in the printer", || rig.count(JobState::Printing) == 1);
    let in_printer = rig.journal().jobs_in(JobState::Printing).expect("jobs").remove(0).job_id;
    let status = rig.terminate();
    assert!(status.success(), "exit {status}; log:\n{}", rig.log());
    let journal = rig.journal();
    assert_eq!(journal.final_result(&in_printer).expect("result"), Some(JobState::Printed), "the card in the printer finished");
    assert_eq!(rig.count(JobState::Printing), 0, "no attempt left open");
    let printed = rig.printed() as usize;
    assert!(printed < 4, "the stop came mid-run: {printed} printed");
    assert_eq!(rig.count(JobState::Ready), 4 - printed, "none started after the stop");
    // Judged from the printer: exactly the printed cards came out, each once.
    let device = cetak_drivers::emulator::Device::open(
        &rig.state_dir().join("emulator").join(PRINTER),
        &cetak_drivers::emulator::DeviceOptions::default(),
    )
    .expect("device");
    let log = device.physical_log().expect("log");
    assert_eq!(log.iter().filter(|r| r.destination == Destination::Output).count(), printed);
    assert!(log.iter().all(|r| r.destination == Destination::Output), "no blank spoiled by the stop: {log:?}");
}

#[test]
fn sighup_with_a_broken_config_keeps_the_old_one_while_printing_goes_on() {
    let mut rig = ServiceRig::new(6, Some("kind = \"emulator\"\ntime_scale = 0.03\n"), &[], "");
    let good = std::fs::read_to_string(&rig.config).expect("config");
    rig.start(&[]);
    rig.wait(Duration::from_secs(30), "a first card", || rig.printed() >= 1);
    // A value out of range on line 5 of the new file.
    let broken = good.replacen("idle_poll_ms = 20", "idle_poll_ms = 20\nspoil_retries = 50", 1);
    std::fs::write(&rig.config, &broken).expect("broken config");
    rig.signal(rustix::process::Signal::HUP);
    rig.wait(Duration::from_secs(10), "the refusal in the log", || rig.log().contains("config reload refused"));
    let refusal = rig.log().lines().find(|l| l.contains("config reload refused")).unwrap_or_default().to_string();
    assert!(refusal.contains(&format!("{}:5", rig.config.display())), "file and line: {refusal}");
    assert!(refusal.contains("at most 10"), "the reason: {refusal}");
    rig.wait(Duration::from_secs(60), "every card printed after the refusal", || rig.printed() == 6);
    // A good change is taken.
    std::fs::write(&rig.config, good.replace("[health]", "[stock]\nwarn_days = 5\n[health]")).expect("config");
    rig.signal(rustix::process::Signal::HUP);
    rig.wait(Duration::from_secs(10), "the reload", || rig.log().contains("config reloaded"));
    assert!(rig.terminate().success(), "log:\n{}", rig.log());
}

#[test]
fn readyz_turns_unready_when_the_printer_stops_and_ready_when_it_returns() {
    let mut rig = ServiceRig::new(1, None, &[], "");
    rig.start(&[]);
    rig.wait(Duration::from_secs(30), "ready", || rig.get("/readyz").0 == 200);
    assert_eq!(rig.get("/healthz"), (200, "ok\n".to_string()));
    // The daemon renders `cetak status` for the caller, over its socket.
    let out = Command::new(env!("CARGO_BIN_EXE_cetak")).arg("--config").arg(&rig.config).arg("status").output().expect("status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains(&format!("{PRINTER}: ")) && text.contains("Jobs held"), "{text}");
    rig.emulator.as_mut().expect("emulator").kill();
    rig.wait(Duration::from_secs(30), "unready", || rig.get("/readyz").0 == 503);
    let (_, body) = rig.get("/readyz");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["failing"], serde_json::json!([format!("printer:{PRINTER}")]), "{body}");
    rig.emulator.as_mut().expect("emulator").restart();
    rig.wait(Duration::from_secs(30), "ready again", || rig.get("/readyz").0 == 200);
    assert!(rig.terminate().success());
}

#[test]
fn metrics_parse_as_prometheus_text_and_match_the_journal() {
    // A jam at the first feed spoils a blank; the clerk clears the card
    // if it stayed inside.
    let mut rig = ServiceRig::new(3, None, &["--fault", "after_pick:jam@1"], "");
    rig.start(&[]);
    rig.wait(Duration::from_secs(30), "the jam", || rig.journal().tallies().is_ok_and(|t| !t.spoiled.is_empty()));
    let waiting = || rig.journal().station_status().is_ok_and(|s| s.iter().any(|(_, state, _)| state == "waiting"));
    rig.wait(Duration::from_secs(30), "the clerk's turn or the next card", || waiting() || rig.printed() > 0);
    if waiting() {
        rig.emulator.as_mut().expect("emulator").clerk("remove-card");
    }
    rig.wait(Duration::from_secs(60), "every card", || rig.printed() == 3);
    rig.wait(Duration::from_secs(10), "the printer idle", || {
        rig.journal().station_status().is_ok_and(|s| s.iter().any(|(_, state, _)| state == "idle"))
    });
    let (code, text) = rig.get("/metrics");
    assert_eq!(code, 200);
    for line in text.lines() {
        let info = prometheus_parse::LineInfo::parse(line);
        assert!(!matches!(info, prometheus_parse::LineInfo::Ignored | prometheus_parse::LineInfo::Empty), "not Prometheus text: {line:?}");
    }
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    let value = |name: &str, labels: &[(&str, &str)]| {
        scrape.samples.iter().find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))).map(|s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
    };
    let journal = rig.journal();
    let tallies = journal.tallies().expect("tallies");
    assert_eq!(tallies.printed, 3);
    assert_eq!(value("cetak_cards_printed_total", &[]), Some(3.0));
    assert_eq!(value("cetak_cards_spoiled_total", &[("reason", "jam")]), Some(1.0));
    assert_eq!(value("cetak_failures_total", &[("reason", "jam")]), Some(1.0));
    for (state, n) in journal.counts().expect("counts") {
        assert_eq!(value("cetak_jobs", &[("state", state.as_str())]), Some(n as f64), "{state}");
    }
    assert_eq!(value("cetak_outbox_depth", &[]), Some(tallies.outbox as f64));
    assert_eq!(value("cetak_printer_state", &[("printer", PRINTER), ("state", "idle")]), Some(1.0));
    assert_eq!(value("cetak_printer_state", &[("printer", PRINTER), ("state", "offline")]), Some(0.0));
    assert_eq!(value("cetak_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), Some(1.0));
    assert!(scrape.docs.contains_key("cetak_stock"), "the stock family is described");
    assert_eq!(promtool_check_metrics(&text), "", "promtool check metrics");
    // No delivery was booked: the stock shows zero, never -4, and the four
    // blanks taken (three cards, one spoiled) and three ribbon prints are
    // named as not booked.
    for s in scrape.samples.iter().filter(|s| s.metric == "cetak_stock") {
        assert!(matches!(s.value, prometheus_parse::Value::Gauge(v) if v >= 0.0), "a negative stock: {s:?}");
    }
    assert_eq!(value("cetak_stock_not_booked", &[("location", &format!("hopper:{PRINTER}")), ("item", "blanko")]), Some(4.0));
    let (code, ready) = rig.get("/readyz");
    assert_eq!(code, 200, "printing goes on with no stock booked: {ready}");
    let ready: serde_json::Value = serde_json::from_str(&ready).expect("readyz json");
    assert_eq!(
        ready["warnings"],
        serde_json::json!([
            format!("stock not booked: hopper:{PRINTER} blanko (4 used)"),
            format!("stock not booked: printer:{PRINTER} ribbon (3 used)")
        ])
    );
    let (_, status) = rig.get("/status");
    let v: serde_json::Value = serde_json::from_str(&status).expect("status json");
    assert_eq!(v["printers"][0]["state"], "idle", "{status}");
    assert_eq!(v["not_booked"][0]["used"], 4, "{status}");
    assert!(rig.terminate().success());
}

#[test]
fn a_health_token_is_asked_of_every_caller() {
    let mut rig = ServiceRig::new(0, Some("kind = \"emulator\"\ntime_scale = 0.0\n"), &[], "");
    let text = std::fs::read_to_string(&rig.config).expect("config");
    std::fs::write(&rig.config, text.replace("[health]\n", "[health]\ntoken = \"0123456789abcdef-secret\"\n")).expect("config");
    rig.start(&[]);
    rig.wait(Duration::from_secs(30), "the endpoint", || rig.get("/healthz").0 != 0);
    assert_eq!(rig.get("/metrics").0, 401);
    cetak::queue::client::install_crypto();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let code = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/metrics", rig.health))
            .bearer_auth("0123456789abcdef-secret")
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    });
    assert_eq!(code, 200);
    assert!(rig.terminate().success());
}

/// systemd's side of `sd_notify`: what the agent sent, with arrival times.
struct Systemd {
    socket: UnixDatagram,
    path: PathBuf,
}

impl Systemd {
    fn listen(dir: &std::path::Path) -> Self {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("notify socket");
        socket.set_read_timeout(Some(Duration::from_millis(50))).expect("timeout");
        Self { socket, path }
    }

    /// Messages received for `how_long`: (seconds since the call, text).
    fn collect(&self, how_long: Duration) -> Vec<(f64, String)> {
        let start = Instant::now();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while start.elapsed() < how_long {
            if let Ok(n) = self.socket.recv(&mut buf) {
                out.push((start.elapsed().as_secs_f64(), String::from_utf8_lossy(&buf[..n]).into_owned()));
            }
        }
        out
    }

    fn env(&self) -> [(&str, String); 2] {
        // Half a second: the agent pings every quarter second.
        [("NOTIFY_SOCKET", self.path.display().to_string()), ("WATCHDOG_USEC", "500000".into())]
    }
}

/// The longest gap between watchdog pings in `msgs` (and before the first
/// and after the last, within `span`).
fn longest_gap(msgs: &[(f64, String)], span: f64) -> f64 {
    let mut times: Vec<f64> = msgs.iter().filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1")).map(|(t, _)| *t).collect();
    times.insert(0, 0.0);
    times.push(span);
    times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
}

#[test]
fn the_watchdog_is_fed_through_a_long_card_and_stops_when_a_loop_hangs() {
    // Cards of about 4 s, far past the 1 s stall limit: a legitimate wait.
    let mut rig = ServiceRig::new(2, Some("kind = \"emulator\"\ntime_scale = 0.2\n"), &[], "[service]\nstall_s = 1");
    let systemd = Systemd::listen(rig.dir.path());
    let env = systemd.env();
    rig.start(&[(env[0].0, env[0].1.as_str()), (env[1].0, env[1].1.as_str())]);
    let first = systemd.collect(Duration::from_secs(3));
    assert!(first.iter().any(|(_, m)| m.lines().any(|l| l == "READY=1")), "READY=1 once the journal is recovered: {first:?}");
    rig.wait(Duration::from_secs(10), "a card in the printer", || rig.count(JobState::Printing) == 1);
    let during = systemd.collect(Duration::from_secs(3));
    assert_eq!(rig.count(JobState::Printing), 1, "still inside the card");
    assert!(longest_gap(&during, 3.0) < 0.5, "fed through the card: {during:?}");
    assert!(rig.terminate().success());

    // The same loop made to hang (a test seam): the pings stop.
    let mut hung = ServiceRig::new(1, Some("kind = \"emulator\"\ntime_scale = 0.0\n"), &[], "[service]\nstall_s = 1");
    let systemd = Systemd::listen(hung.dir.path());
    let env = systemd.env();
    hung.start(&[(env[0].0, env[0].1.as_str()), (env[1].0, env[1].1.as_str()), ("CETAK_HANGPOINT", "station.step")]);
    let msgs = systemd.collect(Duration::from_secs(5));
    assert!(msgs.iter().any(|(_, m)| m.contains("READY=1")), "{msgs:?}");
    let late: Vec<_> = msgs.iter().filter(|(t, m)| *t > 2.5 && m.lines().any(|l| l == "WATCHDOG=1")).collect();
    assert!(late.is_empty(), "no ping once the loop is hung past the stall limit: {late:?}");
    assert!(hung.log().contains("station loop is hung"), "log:\n{}", hung.log());
    assert_eq!(hung.printed(), 0);
}

#[test]
fn timeout_stop_sec_covers_the_worst_card_on_the_slowest_transport() {
    let unit = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cetak.service")).expect("unit");
    let value = unit.lines().find_map(|l| l.strip_prefix("TimeoutStopSec=")).expect("TimeoutStopSec in the unit").trim();
    let stop = parse_systemd_span(value);
    // A colour card at the slowest serial speed the config accepts, every
    // panel uncompressed, each command up to its own deadline.
    let caps = cetak_drivers::Capabilities::evolis_ymcko(false);
    let slowest = u64::from(cetak_drivers::transport::MIN_BAUD) / 10;
    let card = cetak_drivers::evolis::worst_case_card(&caps, Some(slowest), cetak_drivers::evolis::MECHANICAL);
    assert!(card > Duration::from_secs(240), "a colour card at 57,600 baud takes minutes: {card:?}");
    // After the card: the outbox's short last try (one request timeout).
    let last_try = Duration::from_secs(cetak::config::Config::emulated(std::path::Path::new(".")).district.request_timeout_s);
    assert!(stop >= card + last_try, "TimeoutStopSec={value} ({stop:?}) < worst card {card:?} + last try {last_try:?}");
}

/// `15min`, `900`, `900s`, `1h 5min`: a systemd time span.
fn parse_systemd_span(v: &str) -> Duration {
    let mut total = 0u64;
    for part in v.split_whitespace() {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        let n: u64 = digits.parse().expect("a number");
        total += n * match &part[digits.len()..] {
            "" | "s" | "sec" => 1,
            "min" | "m" => 60,
            "h" => 3600,
            unit => panic!("unit {unit}"),
        };
    }
    Duration::from_secs(total)
}

impl ServiceRig {
    /// `cetak doctor` with `args`: (success, stdout).
    fn doctor(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_cetak"))
            .env("RUST_BACKTRACE", "0")
            .arg("--config")
            .arg(&self.config)
            .arg("doctor")
            .args(args)
            .output()
            .expect("cetak doctor");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn edit_config(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.config).expect("config");
        assert!(text.contains(from), "{from:?} in the config");
        std::fs::write(&self.config, text.replacen(from, to, 1)).expect("config");
    }

    fn cli(&self, args: &[&str]) {
        let out = Command::new(env!("CARGO_BIN_EXE_cetak")).arg("--config").arg(&self.config).args(args).output().expect("cetak");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// The one failed verdict in `out`, whose line starts with `check`.
fn assert_fails_only(ok: bool, out: &str, check: &str, says: &str) {
    assert!(!ok, "doctor passed:\n{out}");
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("[FAILED]")).collect();
    assert_eq!(failed.len(), 1, "one failed check expected:\n{out}");
    assert!(failed[0].starts_with(&format!("[FAILED] {check}")), "{check} failed expected:\n{out}");
    assert!(out.contains(says), "{says:?} in:\n{out}");
    assert!(out.contains("-> "), "a fix is given:\n{out}");
}

#[test]
fn doctor_passes_then_names_each_check_failing_on_purpose() {
    let service = "[service]\nuser = \"root\"\noperator_group = \"root\"";
    let mut rig = ServiceRig::new(0, None, &[], service);
    let (ok, out) = rig.doctor(&[]);
    assert!(ok, "a sound station passes:\n{out}");
    for check in ["configuration", "journal", "disk space", "service user", "printer printer-1"] {
        assert!(out.lines().any(|l| l.starts_with(&format!("[ok] {check}"))), "{check}:\n{out}");
    }

    let (ok, out) = rig.doctor(&["--min-free-mb", "1000000000"]);
    assert_fails_only(ok, &out, "disk space", "MB free");

    rig.edit_config("operator_group = \"root\"", "operator_group = \"no-such-group-cetak\"");
    let (ok, out) = rig.doctor(&[]);
    assert_fails_only(ok, &out, "service user", "no group no-such-group-cetak");
    rig.edit_config("operator_group = \"no-such-group-cetak\"", "operator_group = \"root\"");

    let emulator = rig.emulator.as_mut().expect("emulator");
    emulator.clerk("open-cover");
    let (ok, out) = rig.doctor(&[]);
    assert_fails_only(ok, &out, "printer printer-1", "not ready (cover_open)");
    rig.emulator.as_mut().expect("emulator").clerk("close-cover");

    // The ledger tracks the hopper and counts it empty.
    rig.cli(&["stock", "receive", "--blanko", "1", "--batch", "B1", "--version", "2021"]);
    rig.cli(&["stock", "load", "--printer", PRINTER, "--blanko", "1"]);
    rig.cli(&["stock", "count", "--printer", PRINTER, "--blanko", "0", "--reason", "doctor test"]);
    let (ok, out) = rig.doctor(&[]);
    assert_fails_only(ok, &out, "printer printer-1", "no blanks left at hopper of printer-1");
    rig.cli(&["stock", "receive", "--blanko", "5", "--batch", "B2", "--version", "2021"]);
    rig.cli(&["stock", "load", "--printer", PRINTER, "--blanko", "5"]);
    assert!(rig.doctor(&[]).0, "stock loaded again");

    rig.emulator.as_mut().expect("emulator").kill();
    let (ok, out) = rig.doctor(&[]);
    assert_fails_only(ok, &out, "printer printer-1", "not found");
    rig.emulator.as_mut().expect("emulator").restart();

    // A ledger event altered behind the journal's back.
    let db = rusqlite::Connection::open(rig.state_dir().join("journal.db")).expect("db");
    db.execute("UPDATE ledger SET quantity = 99 WHERE id = (SELECT MIN(id) FROM ledger)", []).expect("tamper");
    drop(db);
    let (ok, out) = rig.doctor(&[]);
    assert!(!ok && out.lines().any(|l| l.starts_with("[FAILED] journal")), "{out}");
    assert!(out.contains("does not verify"), "{out}");

    std::fs::write(&rig.config, "[station]\nspoil_retries = 99\n").expect("config");
    let (ok, out) = rig.doctor(&[]);
    assert!(!ok && out.lines().any(|l| l.starts_with("[FAILED] configuration")), "{out}");
    assert!(out.contains(&format!("{}:2", rig.config.display())) && out.contains("at most 10"), "file, line, reason:\n{out}");
}

#[test]
fn doctor_finds_a_serial_printer_the_service_user_cannot_open() {
    let dir = tempfile::tempdir().expect("tmp");
    let emulator = EmulatorProcess::start(&dir.path().join("printer"), Link::Pty, &[]);
    // The pseudo-terminal belongs to the test's user; "nobody" may not
    // open it, as a printer without the udev rule.
    let printer = emulator.config_entry();
    let mut rig = ServiceRig::new(0, Some(&printer), &[], "[service]\nuser = \"nobody\"\noperator_group = \"root\"");
    rig.emulator = Some(emulator);
    let (ok, out) = rig.doctor(&[]);
    assert_fails_only(ok, &out, "printer printer-1", "cannot be read and written by the service user nobody");
}

#[test]
fn status_shows_printers_held_jobs_by_priority_and_the_last_error_plain_when_piped() {
    // The second card jams after its first panel: an uncertain card.
    let rig = ServiceRig::new(3, None, &["--fault", "after_panel.1:jam@2"], "");
    let out =
        Command::new(env!("CARGO_BIN_EXE_cetak")).arg("--config").arg(&rig.config).args(["run", "--until-idle"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_cetak")).arg("--config").arg(&rig.config).arg("status").output().expect("status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains('\x1b'), "no colour codes when piped:\n{text}");
    // The state's own sentence, said once (`waiting - Card jam ...`).
    assert!(text.contains(&format!("{PRINTER}: Card jam: open the cover")), "the printer's state:\n{text}");
    let held = text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["normal", "ready", "1"]);
    assert!(text.contains("Jobs held (by priority)") && held, "held jobs by priority:\n{text}");
    assert!(text.contains("unsure whether a good card came out"), "the uncertain job:\n{text}");
    assert!(text.contains("Last printing error:") && text.contains(": jam"), "the last error:\n{text}");
}

/// Two emulated printers in process, cards of `scale` x 20 s.
fn two_printers(scale: f64) -> String {
    format!("kind = \"emulator\"\ntime_scale = {scale}\nserial = \"EMU-A\"\n[[printer]]\nname = \"printer-2\"\nkind = \"emulator\"\ntime_scale = {scale}\nserial = \"EMU-B\"\n")
}

#[test]
fn a_station_loop_that_fails_is_said_and_restarted_while_its_sibling_prints_on() {
    let mut rig = ServiceRig::new(8, Some(&two_printers(0.01)), &[], "");
    rig.start(&[("CETAK_PANICPOINT", "station.step.printer-2@3")]);
    // While printer-2 waits to restart, /readyz names it.
    rig.wait(Duration::from_secs(20), "/readyz names the failed loop", || {
        let (code, body) = rig.get("/readyz");
        code == 503 && body.contains("printer:printer-2") && body.contains("error: loop.failed")
    });
    rig.wait(Duration::from_secs(30), "every job printed", || rig.printed() == 8);
    let log = rig.log();
    assert!(log.contains("station loop failed: restarting it") && log.contains("printer-2"), "log:\n{log}");
    let events: Vec<String> = rig.journal().outbox_history().expect("outbox").into_iter().map(|m| m.body).collect();
    assert!(events.iter().any(|b| b.contains("printer_loop_failed") && b.contains("printer-2")), "{events:?}");
    rig.wait(Duration::from_secs(10), "printer-2 back", || {
        rig.journal().station_status().expect("status").iter().any(|(p, s, _)| p == "printer-2" && s != "error")
    });
    assert!(rig.terminate().success(), "the agent never stopped");
}

#[test]
fn a_hung_loop_is_named_while_its_sibling_is_fed_and_the_restart_waits_for_the_sibling_s_card() {
    let mut rig = ServiceRig::new(20, Some(&two_printers(0.02)), &[], "[service]\nstall_s = 2");
    let systemd = Systemd::listen(rig.dir.path());
    let env = systemd.env();
    rig.start(&[(env[0].0, env[0].1.as_str()), (env[1].0, env[1].1.as_str()), ("CETAK_HANGPOINT", "station.step.printer-2")]);
    // systemd reads every message, to the end.
    let collector = std::thread::spawn(move || systemd.collect(Duration::from_secs(8)));
    std::thread::sleep(Duration::from_secs(3));
    let (code, body) = rig.get("/readyz");
    assert!(code == 503 && body.contains("printer:printer-2") && body.contains("hung"), "{code} {body}");
    let mut child = rig.daemon.take().expect("running");
    let until = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < until, "the agent did not restart itself; log:\n{}", rig.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    let msgs = collector.join().expect("collector");
    let fed_late = msgs.iter().any(|(t, m)| *t > 2.5 && m.lines().any(|l| l == "WATCHDOG=1"));
    assert!(fed_late, "fed while printer-1 prints, after printer-2 hung: {msgs:?}");
    assert!(msgs.iter().any(|(_, m)| m.contains("station loop hung: printer-2")), "{msgs:?}");
    assert!(!status.success(), "exits non-zero, for the service to restart it");
    let log = rig.log();
    assert!(log.contains("stays hung") && log.contains("printer-2"), "log:\n{log}");
    let journal = rig.journal();
    assert_eq!(journal.jobs_in(JobState::Printing).expect("jobs").len(), 0, "printer-1's card finished before the exit");
    assert_eq!(journal.jobs_in(JobState::Uncertain).expect("jobs").len(), 0);
    assert!(rig.printed() >= 1, "printer-1 printed meanwhile");
    let d = cetak_drivers::emulator::Device::open(&rig.state_dir().join("emulator").join(PRINTER), &Default::default()).expect("device");
    assert!(d.state().card_inside.is_none(), "no card cut off inside printer-1");
    crate::support::assert_physical_log_matches(&journal, &d);
}

/// `promtool check metrics` on `text` (Debian's `prometheus` package, which
/// the test script installs): what it complains of, empty when clean.
fn promtool_check_metrics(text: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus; scripts/test installs it)");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("promtool");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)).trim().to_string()
}

/// An office's own card template (`[render] layout`) is what the daemon's
/// printer loops render with: here one whose province line has no room, so
/// every job is rejected with that field named and no blank is used, where
/// the shipped template prints the same jobs.
#[test]
fn the_office_s_card_template_is_the_one_its_printers_render_with() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/layout/ektp.toml")).expect("layout");
    let cramped = shipped.replacen("box = [2.0, 1.4, 81.6, 3.0]", "box = [2.0, 1.4, 81.6, 0.2]", 1);
    assert_ne!(cramped, shipped, "the province box is where the test expects it");
    let layout = dir.path().join("cramped.toml");
    std::fs::write(&layout, cramped).expect("write layout");
    let rig =
        ServiceRig::new(2, Some("kind = \"emulator\"\ntime_scale = 0.0"), &[], &format!("[render]\nlayout = \"{}\"", layout.display()));
    let out =
        Command::new(env!("CARGO_BIN_EXE_cetak")).arg("--config").arg(&rig.config).args(["run", "--until-idle"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let journal = rig.journal();
    for line in &sample_lines("prr-valid.jsonl")[..2] {
        let job: serde_json::Value = serde_json::from_str(line).expect("sample");
        let id = job["job_id"].as_str().expect("job id");
        assert_eq!(journal.final_result(id).expect("result"), Some(JobState::Rejected), "{id}, by the office's template");
    }
    assert_eq!(rig.printed(), 0, "no card printed");
}
