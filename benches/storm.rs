//! Benchmark: a reconnect storm, simulated (issue 11). 500 stations, each
//! with the agent's own retry policy, in virtual time, through a 10-minute
//! district outage and its recovery: the request rate the district sees
//! before, during and after, and when the last station is back.
//!
//! `cargo bench --bench storm [-- --stations N --outage-s S --base-ms B]`.

use std::time::Duration;

use cetak::queue::storm::{simulate, StormParams};

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)?.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("storm: a benchmark; run it with `cargo bench --bench storm`");
        return;
    }
    let mut p = StormParams::default();
    p.stations = arg(&args, "--stations").unwrap_or(p.stations);
    p.outage_s = arg(&args, "--outage-s").unwrap_or(p.outage_s);
    for base_ms in arg::<u64>(&args, "--base-ms").map(|b| vec![b]).unwrap_or_else(|| vec![1_000, p.retry_base.as_millis() as u64]) {
        let r = simulate(&StormParams { retry_base: Duration::from_millis(base_ms), ..p.clone() });
        println!(
            "{} stations, outage {:.0} s, retry base {:.1} s, cap {:.0} s, 10 s bins:",
            p.stations,
            p.outage_s,
            base_ms as f64 / 1000.0,
            p.retry_cap.as_secs_f64()
        );
        println!("  steady            {:>7.1} requests/s", r.steady_rate);
        println!("  outage mean       {:>7.1} requests/s", r.outage_mean_rate);
        println!(
            "  outage peak       {:>7.1} requests/s ({:.2}x steady; target <= 3x)",
            r.outage_peak_rate,
            r.outage_peak_rate / r.steady_rate
        );
        println!(
            "  after peak        {:>7.1} requests/s ({:.2}x steady; target <= 3x)",
            r.after_peak_rate,
            r.after_peak_rate / r.steady_rate
        );
        println!("  last station back {:>7.1} s after the recovery (target <= {:.0} s)", r.last_back_s, 1.1 * p.retry_cap.as_secs_f64());
        let what = |w: &str| {
            format!(
                "reconnect storm, {} stations, first retry ceiling {:.0} s: {w} (`cargo bench --bench storm`)",
                p.stations,
                base_ms as f64 / 1000.0
            )
        };
        // The targets hold for the agent's policy; DESIGN's 1 s is shown for comparison.
        let target = |t: String| if base_ms == p.retry_base.as_millis() as u64 { t } else { "(comparison only)".to_string() };
        cetak::bench::figure(
            &what("peak during the outage"),
            &format!("{:.2}× steady", r.outage_peak_rate / r.steady_rate),
            &target("≤ 3×".into()),
        );
        cetak::bench::figure(
            &what("peak after the recovery"),
            &format!("{:.2}× steady", r.after_peak_rate / r.steady_rate),
            &target("≤ 3×".into()),
        );
        cetak::bench::figure(
            &what("last station back after the recovery"),
            &format!("{:.1} s", r.last_back_s),
            &target(format!("≤ {:.0} s (cap + 10%)", 1.1 * p.retry_cap.as_secs_f64())),
        );
    }
}
