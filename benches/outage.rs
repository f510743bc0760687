//! Benchmark: printing through outages (issue 6). One station with an
//! emulated printer at a fixed time per card, a real district on a
//! throw-away PostgreSQL, and outages of the district (SIGKILL, restarted
//! after the outage) and of the station's line (a TCP proxy cut), from a
//! quarter of the buffer's horizon to twice it, all time-scaled (a card
//! takes 20 s × `SCALE`). For each outage length it prints the cards
//! printed in a fixed window as a fraction of the no-outage count, and the
//! duplicates (must be 0), beside a baseline of the same harness that holds
//! one job at a time (so it prints only while online).
//!
//! `cargo bench --bench outage` (needs Debian's `postgresql`). Under
//! `cargo test` it only says how to run it.

#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../tests/suite/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::fleet::{DistrictProcess, ProxyMode, StationProcess, StationSetup};

/// Mechanical time scale of the emulated printer: 0.2 s a card.
const SCALE: f64 = 0.01;
/// The buffered station's buffer, in jobs.
const BUFFER: u32 = 20;
/// Outage lengths, as fractions of the buffer's horizon.
const LENGTHS: [f64; 7] = [0.25, 0.5, 0.75, 0.9, 1.0, 1.5, 2.0];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outage {
    None,
    District,
    Station,
}

struct Run {
    printed: usize,
    duplicates: usize,
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("outage: a benchmark; run it with `cargo bench --bench outage`");
        return;
    }
    let cluster = cetak_district::pgtemp::TempCluster::start().expect("a throw-away PostgreSQL (apt-get install postgresql)");
    let tmp = tempfile::tempdir().expect("tmp");
    let mut district = DistrictProcess::start(&cluster.url(), tmp.path());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
    let pool = rt.block_on(cetak_district::connect(&cluster.url())).expect("db");
    let pool_lines: Vec<String> = cetak_model::generator::generate(5, 420, cetak::clock::today())
        .into_iter()
        .filter(|v| v["kode_wilayah"].as_str().is_some_and(|k| k.starts_with("17.71.")))
        // Urgent jobs are exempt from the buffer: a one-job buffer would
        // take every urgent job at once and be no baseline.
        .filter(|v| v["priority"] == "normal")
        .map(|v| v.to_string())
        .collect();
    println!("{} Bengkulu jobs available per run", pool_lines.len());

    let mut run_no = 0;
    let mut bench = |district: &mut DistrictProcess, buffer: u32, outage: Outage, length: Duration, window: Duration| -> Run {
        run_no += 1;
        // Leftovers of the previous run must not feed this one.
        rt.block_on(sqlx::query("UPDATE jobs SET state = 'cancelled' WHERE state = 'pending'").execute(&pool)).expect("clear");
        let lines: Vec<String> =
            pool_lines.iter().map(|l| l.replacen("\"job_id\":\"gen-", &format!("\"job_id\":\"b{run_no}-"), 1)).collect();
        let file = tmp.path().join(format!("jobs-{run_no}.jsonl"));
        std::fs::write(&file, lines.join("\n")).expect("write");
        district.cli(&["import", file.to_str().expect("path"), "--regency", "17.71"]);
        let name = format!("b{run_no}");
        let cfg = format!("buffer = {buffer}\nwait_s = 1\nheartbeat_s = 1\nretry_base_ms = 10\nretry_cap_s = 1\nrequest_timeout_s = 2\n");
        let mut st = StationProcess::enrol(
            district,
            &StationSetup {
                name: &name,
                regions: &["17.71.01.1001", "17.71.02.1002"],
                time_scale: SCALE,
                district: &cfg,
                ..Default::default()
            },
        );
        st.start();
        // Warm up: the first card out starts the window.
        let until = Instant::now() + Duration::from_secs(30);
        while st.printed().is_empty() {
            assert!(Instant::now() < until, "no first card");
            std::thread::sleep(Duration::from_millis(20));
        }
        let start = Instant::now();
        let at_start = st.printed().len();
        std::thread::sleep(Duration::from_secs(1));
        match outage {
            Outage::None => {}
            Outage::District => district.kill(),
            Outage::Station => st.proxy.set(ProxyMode::Cut),
        }
        std::thread::sleep(length);
        match outage {
            Outage::None => {}
            Outage::District => district.restart(),
            Outage::Station => st.proxy.set(ProxyMode::Pass),
        }
        std::thread::sleep(window.saturating_sub(start.elapsed()));
        let printed = st.printed().len() - at_start;
        st.stop();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for card in st.printed() {
            *seen.entry(card.k_hash.unwrap_or_default()).or_default() += 1;
        }
        let duplicates = seen.values().map(|n| n - 1).sum();
        Run { printed, duplicates }
    };

    // The card time, and from it the buffer's horizon and the window.
    let calib = bench(&mut district, BUFFER, Outage::None, Duration::ZERO, Duration::from_secs(8));
    let card = Duration::from_secs_f64(8.0 / calib.printed.max(1) as f64);
    let horizon = card * BUFFER;
    let window = Duration::from_secs(1) + horizon.mul_f64(2.0) + Duration::from_secs(3);
    println!(
        "card time {:.0} ms (20 s scaled by {SCALE} plus the agent); buffer {BUFFER} jobs = horizon {:.1} s; window {:.1} s",
        card.as_secs_f64() * 1000.0,
        horizon.as_secs_f64(),
        window.as_secs_f64()
    );
    let base_buffered = bench(&mut district, BUFFER, Outage::None, Duration::ZERO, window);
    let base_single = bench(&mut district, 1, Outage::None, Duration::ZERO, window);
    println!("no outage: buffered {} cards, one-at-a-time {} cards in the window", base_buffered.printed, base_single.printed);
    println!();
    println!("| outage | length (× horizon) | length here (s) | in the field (200 jobs at 20 s a card) | cetak (buffer {BUFFER}) | one job at a time | duplicates |");
    println!("|---|---|---|---|---|---|---|");
    for outage in [Outage::District, Outage::Station] {
        for f in LENGTHS {
            let length = horizon.mul_f64(f);
            let buffered = bench(&mut district, BUFFER, outage, length, window);
            let single = bench(&mut district, 1, outage, length, window);
            let field_hours = f * 200.0 * 20.0 / 3600.0;
            println!(
                "| {} | {f:.2} | {:.1} | {:.1} h | {:.0}% | {:.0}% | {} |",
                if outage == Outage::District { "district killed" } else { "station line cut" },
                length.as_secs_f64(),
                field_hours,
                100.0 * buffered.printed as f64 / base_buffered.printed.max(1) as f64,
                100.0 * single.printed as f64 / base_single.printed.max(1) as f64,
                buffered.duplicates + single.duplicates
            );
            cetak::bench::figure(
                &format!(
                    "cards printed through a {} of {f:.2}× the buffer's horizon, of the no-outage rate (`cargo bench --bench outage`)",
                    if outage == Outage::District { "district outage" } else { "line cut" }
                ),
                &format!(
                    "{:.0}% (one job at a time: {:.0}%), {} duplicates",
                    100.0 * buffered.printed as f64 / base_buffered.printed.max(1) as f64,
                    100.0 * single.printed as f64 / base_single.printed.max(1) as f64,
                    buffered.duplicates + single.duplicates
                ),
                if f < 1.0 { "≥ 95%, 0 duplicates" } else { "0 duplicates" },
            );
        }
    }
}
