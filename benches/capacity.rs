//! Benchmark: district capacity (issue 7), on this machine, over TLS.
//!
//! 1. Throughput: simulated stations (tokio tasks speaking `/v1`) poll for
//!    jobs and report each one printed as soon as they get it; jobs per
//!    second through assignment, envelope signing and result, on a real
//!    PostgreSQL.
//! 2. Long polls: N stations each hold a long poll open; the district's
//!    resident memory once all wait, and how long one notification (a key
//!    rotation, which concerns every station) takes to answer them all.
//!
//! `cargo bench --bench capacity [-- --stations N]` (default 10,000; needs
//! Debian's `postgresql`). It raises its own open-file limit (the district
//! inherits it). Under `cargo test` it only says how to run it.

#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../tests/suite/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cetak::queue::{Client, Trust};
use cetak_model::wire::*;
use support::fleet::{raise_open_files, DistrictProcess};

const THROUGHPUT_STATIONS: usize = 20;

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("capacity: a benchmark; run it with `cargo bench --bench capacity`");
        return;
    }
    let stations: usize = args.iter().position(|a| a == "--stations").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(10_000);
    let limit = raise_open_files(stations as u64 * 2 + 4096);
    println!("open-file limit {limit}");
    let cluster = cetak_district::pgtemp::TempCluster::start().expect("a throw-away PostgreSQL (apt-get install postgresql)");
    let tmp = tempfile::tempdir().expect("tmp");
    let plain = args.iter().any(|a| a == "--plain-http");
    // Every simulated station connects from this one address: the caps on
    // connections are raised to fit them all.
    let cap = (stations * 2 + 1000).to_string();
    // And the throughput stations report as fast as they can: their rates
    // are raised too.
    let mut serve_args = vec![
        "--max-wait-s",
        "300",
        "--max-connections",
        &cap,
        "--max-connections-per-address",
        &cap,
        "--station-polls-per-s",
        "100000",
        "--station-reports-per-s",
        "100000",
    ];
    if plain {
        serve_args.push("--plain-http");
    }
    let district = DistrictProcess::start_with(&cluster.url(), tmp.path(), &serve_args);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let pool = rt.block_on(cetak_district::connect(&cluster.url())).expect("db");
    let pem = if plain { String::new() } else { district.ca_pem() };
    let url = district.url();

    // Stations straight into the table, each token `tok-N`.
    let add_stations = |prefix: &str, n: usize, region_sql: &'static str| {
        let sql = format!(
            "INSERT INTO stations (station, regions, token_sha256, enrolled_at, ready)
             SELECT '{prefix}' || i, ARRAY[{region_sql}], encode(sha256(('{prefix}' || i)::bytea), 'hex'), now(), true
             FROM generate_series(1, {n}) AS i"
        );
        rt.block_on(sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool)).expect("stations");
    };

    // 1. Throughput.
    let lines: Vec<String> = cetak_model::generator::generate(5, 700, cetak::clock::today())
        .into_iter()
        .filter(|v| v["kode_wilayah"].as_str().is_some_and(|k| k.starts_with("17.71.")))
        .map(|v| v.to_string())
        .collect();
    let copies = 6000 / lines.len().max(1) + 1;
    let mut all = Vec::new();
    for c in 0..copies {
        for l in &lines {
            all.push(l.replacen("\"job_id\":\"gen-", &format!("\"job_id\":\"t{c}-"), 1));
        }
    }
    let file = tmp.path().join("jobs.jsonl");
    std::fs::write(&file, all.join("\n")).expect("write");
    let t = Instant::now();
    district.cli(&["import", file.to_str().expect("path"), "--regency", "17.71"]);
    let import_s = t.elapsed().as_secs_f64();
    add_stations("tp-", THROUGHPUT_STATIONS, "CASE WHEN i % 2 = 0 THEN '17.71.01.1001' ELSE '17.71.02.1002' END");
    let keys = rt.block_on(cetak_district::keys::public_keys(&pool)).expect("keys");
    let version = keys_version(&keys);
    let done = Arc::new(AtomicUsize::new(0));
    let total = all.len();
    let t = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 1..=THROUGHPUT_STATIONS {
            let (url, pem, version, done) = (url.clone(), pem.clone(), version.clone(), Arc::clone(&done));
            tasks.push(tokio::spawn(async move {
                let c = Client::new(&url, Some(&format!("tp-{i}")), if pem.is_empty() { Trust::Nothing } else { Trust::Ca(&pem) })
                    .expect("client");
                let mut confirm = Vec::new();
                let mut empty = 0;
                while done.load(Ordering::SeqCst) < total && empty < 20 {
                    let req = PollRequest {
                        max_jobs: 20,
                        wait_s: 1,
                        confirm: std::mem::take(&mut confirm),
                        keys_version: version.clone(),
                        ..Default::default()
                    };
                    let Ok((resp, _)) = c.post::<_, PollResponse>("/v1/poll", &req, Duration::from_secs(60)).await else { continue };
                    if resp.jobs.is_empty() {
                        empty += 1;
                        continue;
                    }
                    empty = 0;
                    let results = resp
                        .jobs
                        .iter()
                        .map(|a| JobResult { job_id: a.job_id.clone(), epoch: a.epoch, attempt: 1, outcome: Outcome::Printed, code: None })
                        .collect();
                    confirm = resp.jobs.iter().map(|a| JobRef { job_id: a.job_id.clone(), epoch: a.epoch }).collect();
                    if c.post::<_, ResultsResponse>("/v1/results", &ResultsRequest { results }, Duration::from_secs(60)).await.is_ok() {
                        done.fetch_add(resp.jobs.len(), Ordering::SeqCst);
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    let secs = t.elapsed().as_secs_f64();
    let n = done.load(Ordering::SeqCst);
    println!();
    println!(
        "throughput: {n} of {total} jobs assigned, signed and reported by {THROUGHPUT_STATIONS} stations in {secs:.1} s = {:.0} jobs/s",
        n as f64 / secs
    );
    println!("import: {total} PRRs validated and stored in {import_s:.1} s = {:.0} PRRs/s", total as f64 / import_s);
    let none = "none set (a district prints well under 1 job/s)";
    cetak::bench::figure(
        "district throughput: assign, sign, report (`cargo bench --bench capacity`)",
        &format!("{:.0} jobs/s ({THROUGHPUT_STATIONS} stations)", n as f64 / secs),
        none,
    );
    cetak::bench::figure("district import (`cargo bench --bench capacity`)", &format!("{:.0} PRRs/s", total as f64 / import_s), none);

    // 2. Long polls.
    let pid = district.pid().expect("pid");
    if let Some(hold) = std::env::var("CAPACITY_HOLD_BEFORE_S").ok().and_then(|v| v.parse().ok()) {
        println!("holding before the long polls {hold} s: district pid {pid}");
        std::thread::sleep(Duration::from_secs(hold));
    }
    let idle_rss = rss_mib(pid);
    add_stations("lp-", stations, "'17.' || lpad((20 + i / 10000)::text, 2, '0') || '.' || lpad(((i / 100) % 100)::text, 2, '0') || '.' || lpad((i % 100)::text, 4, '0')");
    let waiting = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let (ramp, fanout, peak_rss) = rt.block_on(async {
        let http = {
            cetak::queue::client::install_crypto();
            let mut b = reqwest::Client::builder().pool_max_idle_per_host(0);
            if !plain {
                b = b.tls_backend_preconfigured(cetak::queue::tls::trusting(&pem).expect("tls"));
            }
            b.build().expect("client")
        };
        let mut tasks = Vec::new();
        for i in 1..=stations {
            let (http, url, version) = (http.clone(), url.clone(), version.clone());
            let (waiting, answered, failed) = (Arc::clone(&waiting), Arc::clone(&answered), Arc::clone(&failed));
            tasks.push(tokio::spawn(async move {
                let req = PollRequest { max_jobs: 10, wait_s: 240, keys_version: version, ..Default::default() };
                waiting.fetch_add(1, Ordering::SeqCst);
                let r = http
                    .post(format!("{url}/v1/poll"))
                    .bearer_auth(format!("lp-{i}"))
                    .json(&req)
                    .timeout(Duration::from_secs(280))
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status().is_success() => answered.fetch_add(1, Ordering::SeqCst),
                    _ => failed.fetch_add(1, Ordering::SeqCst),
                };
            }));
            // Stations come back with jitter: about 1,000 a second.
            if i % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        // Settled: every poll sent, the district has done its first reads.
        let mut last = 0.0;
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = rss_mib(pid);
            if (now - last).abs() < 1.0
                && answered.load(Ordering::SeqCst) + failed.load(Ordering::SeqCst) == 0
                && t.elapsed() > Duration::from_secs(5)
            {
                break;
            }
            last = now;
        }
        let ramp = t.elapsed();
        let peak = rss_mib(pid);
        if let Some(hold) = std::env::var("CAPACITY_HOLD_S").ok().and_then(|v| v.parse().ok()) {
            println!("holding {hold} s: district pid {pid}");
            tokio::time::sleep(Duration::from_secs(hold)).await;
        }
        // One notification for everyone: a key rotation answers every poll.
        let f = Instant::now();
        let url = district.db_url.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(district_bin()).args(["keys", "rotate"]).env("CETAK_DISTRICT_DB", url).output()
        })
        .await
        .expect("join")
        .expect("rotate");
        for t in tasks {
            let _ = t.await;
        }
        (ramp, f.elapsed(), peak)
    });
    println!(
        "long polls: {stations} stations waiting after {:.1} s; district RSS {idle_rss:.0} MiB idle, {peak_rss:.0} MiB with them all waiting ({:.1} KiB a station)",
        ramp.as_secs_f64(),
        (peak_rss - idle_rss) * 1024.0 / stations as f64
    );
    println!(
        "fan-out: one key rotation answered {} polls in {:.1} s; {} failed",
        answered.load(Ordering::SeqCst),
        fanout.as_secs_f64(),
        failed.load(Ordering::SeqCst)
    );
    cetak::bench::figure(
        "long-polling stations one district process holds (`cargo bench --bench capacity`)",
        &format!("{} waiting, {} failed", stations - failed.load(Ordering::SeqCst), failed.load(Ordering::SeqCst)),
        "10,000",
    );
    cetak::bench::figure(
        "district memory with them all waiting (`cargo bench --bench capacity`)",
        &format!("{peak_rss:.0} MiB ({:.1} KiB a station)", (peak_rss - idle_rss) * 1024.0 / stations as f64),
        "< 1 GB for 10,000",
    );
}

/// The district's binary, which its own package builds (scripts/benchmarks
/// runs `cargo build --release --workspace --bins` first): beside this
/// benchmark's build, as `target/release/cetak-district`.
fn district_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the benchmark's path");
    let profile = exe.parent().and_then(std::path::Path::parent).expect("target/<profile>/deps");
    profile.join(format!("cetak-district{}", std::env::consts::EXE_SUFFIX))
}
