//! Benchmark: the agent at rest (issue 10). The real `cetak run` with an
//! emulated Evolis printer connected over TCP (a process of its own) and no
//! jobs: its resident memory and CPU over a minute (targets: under 20 MB,
//! under 0.5% of one core), then the cost of a `/metrics` scrape (latency,
//! and the agent's CPU time per scrape).
//!
//! `cargo bench --bench idle [-- --seconds N]` (default 60). Under
//! `cargo test` it only says how to run it.

#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../tests/suite/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{EmulatorProcess, Link, PRINTER};

fn status_kib(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0.0)
}

/// User plus system CPU time of a process, in seconds.
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0) + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let hz = rustix::param::clock_ticks_per_second() as f64;
    ticks / hz
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("idle: a benchmark; run it with `cargo bench --bench idle`");
        return;
    }
    let seconds: u64 = args.iter().position(|a| a == "--seconds").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(60);
    let tmp = tempfile::tempdir().expect("tmp");
    let emulator = EmulatorProcess::start(&tmp.path().join("printer"), Link::Tcp, &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port");
    let jobs = tmp.path().join("jobs.jsonl");
    std::fs::write(&jobs, "").expect("jobs");
    let config = tmp.path().join("cetak.toml");
    std::fs::write(
        &config,
        format!(
            "language = \"en\"\nstate_dir = \"{}\"\n[local]\njobs_file = \"{}\"\n[health]\nlisten = \"127.0.0.1:{port}\"\n[[printer]]\nname = \"{PRINTER}\"\n{}",
            tmp.path().join("state").display(),
            jobs.display(),
            emulator.config_entry()
        ),
    )
    .expect("config");
    let mut agent = Command::new(env!("CARGO_BIN_EXE_cetak"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cetak run");
    let pid = agent.id();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
    cetak::queue::client::install_crypto();
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let get = |path: &str| rt.block_on(async { http.get(url(path)).send().await.ok()?.text().await.ok() });
    let until = Instant::now() + Duration::from_secs(30);
    while !get("/status").is_some_and(|s| s.contains("\"idle\"")) {
        assert!(Instant::now() < until, "the agent did not reach idle with its printer");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let start-up settle, then measure a quiet minute.
    std::thread::sleep(Duration::from_secs(2));
    let (cpu0, t0) = (cpu_s(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(seconds));
    let (cpu1, wall) = (cpu_s(pid), t0.elapsed().as_secs_f64());
    let rss = status_kib(pid, "VmRSS:") / 1024.0;
    let hwm = status_kib(pid, "VmHWM:") / 1024.0;
    let cpu_pct = (cpu1 - cpu0) / wall * 100.0;

    let scrapes = 200;
    let mut times = Vec::with_capacity(scrapes);
    let mut bytes = 0;
    let cpu_before = cpu_s(pid);
    for _ in 0..scrapes {
        let start = Instant::now();
        bytes = get("/metrics").map(|t| t.len()).unwrap_or(0);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let cpu_per_scrape_ms = (cpu_s(pid) - cpu_before) / scrapes as f64 * 1000.0;
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let p99 = times[times.len() * 99 / 100];

    println!("idle agent, {seconds} s, one emulated Evolis printer over TCP, no jobs:");
    println!("  resident memory      {rss:>8.1} MiB (peak {hwm:.1} MiB)   target < 20 MB");
    println!("  CPU                  {cpu_pct:>8.3} % of one core           target < 0.5 %");
    println!("/metrics scrape ({scrapes} in a row, {bytes} bytes):");
    println!("  latency median       {median:>8.2} ms (p99 {p99:.2} ms)");
    println!("  agent CPU per scrape {cpu_per_scrape_ms:>8.2} ms");
    let what = |w: &str| format!("{w} (`cargo bench --bench idle`)");
    cetak::bench::figure(&what("idle agent's resident memory, printer connected, no jobs"), &format!("{rss:.1} MiB"), "< 20 MB");
    cetak::bench::figure(&what("idle agent's CPU"), &format!("{cpu_pct:.3}% of one core"), "< 0.5%");
    cetak::bench::figure(&what("one /metrics scrape"), &format!("{median:.2} ms (p99 {p99:.2} ms)"), "none set");
    let _ = rustix::process::kill_process(rustix::process::Pid::from_child(&agent), rustix::process::Signal::TERM);
    let _ = agent.wait();
    drop(emulator);
}
