//! A reconnect storm, simulated (issue 11): many stations, each with the
//! agent's own [`RetryPolicy`], through a district outage and its recovery,
//! in virtual time (no sockets, no sleeping), so that the request rate the
//! district sees can be measured for hundreds of stations in milliseconds.
//!
//! Each station runs the agent's two request streams: the poller (a long
//! poll answered after `wait_s` when there is no work, then the next) and
//! the reporter (a heartbeat every `heartbeat_s`, and a flush of the results
//! held during the outage as soon as the district answers again). During
//! the outage every request fails at once (the server is down: connection
//! refused, or a held long poll cut) and the stream waits what its policy
//! says; after the recovery the first try succeeds and the stream resumes.

use std::collections::BinaryHeap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::retry::RetryPolicy;

/// What is simulated.
#[derive(Clone, Debug)]
pub struct StormParams {
    pub stations: usize,
    pub wait_s: f64,
    pub heartbeat_s: f64,
    /// The outage: from `outage_start_s` for `outage_s`.
    pub outage_start_s: f64,
    pub outage_s: f64,
    /// Simulated time after the recovery.
    pub after_s: f64,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Width of the bins the rate is measured in.
    pub bin_s: f64,
    pub seed: u64,
}

impl Default for StormParams {
    fn default() -> Self {
        Self {
            stations: 500,
            wait_s: 25.0,
            heartbeat_s: 60.0,
            outage_start_s: 300.0,
            outage_s: 600.0,
            after_s: 600.0,
            retry_base: super::retry::BASE,
            retry_cap: super::retry::CAP,
            bin_s: 10.0,
            seed: 1,
        }
    }
}

/// What the district saw.
#[derive(Clone, Debug)]
pub struct StormReport {
    /// Requests a second, before the outage.
    pub steady_rate: f64,
    /// The busiest bin during the outage and after the recovery.
    pub outage_peak_rate: f64,
    pub after_peak_rate: f64,
    /// The mean rate during the outage.
    pub outage_mean_rate: f64,
    /// Seconds after the recovery until the last station's poller got an
    /// answer.
    pub last_back_s: f64,
    /// Requests a second in each bin, from time zero.
    pub bins: Vec<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stream {
    Poll,
    Report,
}

/// An event: a stream's next request at `at` (ordered earliest first).
#[derive(PartialEq, Debug)]
struct Next {
    at: f64,
    station: usize,
    stream: Stream,
}

impl Eq for Next {}
impl PartialOrd for Next {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Next {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.at.total_cmp(&self.at).then(other.station.cmp(&self.station))
    }
}

pub fn simulate(p: &StormParams) -> StormReport {
    let end = p.outage_start_s + p.outage_s + p.after_s;
    let down = |t: f64| t >= p.outage_start_s && t < p.outage_start_s + p.outage_s;
    let mut rng = StdRng::seed_from_u64(p.seed);
    let policy = |i: usize, s: Stream| {
        let seed = p.seed.wrapping_mul(1_000_003).wrapping_add(i as u64 * 2 + u64::from(s == Stream::Report));
        RetryPolicy::with(p.retry_base, p.retry_cap, StdRng::seed_from_u64(seed))
    };
    let mut policies: Vec<[RetryPolicy; 2]> = (0..p.stations).map(|i| [policy(i, Stream::Poll), policy(i, Stream::Report)]).collect();
    let mut failing: Vec<[bool; 2]> = vec![[false; 2]; p.stations];
    let mut back: Vec<Option<f64>> = vec![None; p.stations];
    let mut queue = BinaryHeap::new();
    for station in 0..p.stations {
        queue.push(Next { at: rng.random_range(0.0..p.wait_s), station, stream: Stream::Poll });
        queue.push(Next { at: rng.random_range(0.0..p.heartbeat_s), station, stream: Stream::Report });
    }
    let mut bins = vec![0u64; (end / p.bin_s).ceil() as usize + 1];
    while let Some(Next { at, station, stream }) = queue.pop() {
        if at >= end {
            break;
        }
        let k = usize::from(stream == Stream::Report);
        bins[(at / p.bin_s) as usize] += 1;
        let mut backoff = |station: usize| policies[station][k].after_failure(None).as_secs_f64();
        let next = if down(at) {
            failing[station][k] = true;
            at + backoff(station)
        } else {
            let was_failing = std::mem::replace(&mut failing[station][k], false);
            match stream {
                Stream::Poll => {
                    if was_failing && back[station].is_none() {
                        back[station] = Some(at - (p.outage_start_s + p.outage_s));
                    }
                    let answered = at + p.wait_s;
                    if at < p.outage_start_s && answered > p.outage_start_s {
                        // A long poll held when the district goes down is
                        // cut then: a failure, not a new request.
                        failing[station][k] = true;
                        p.outage_start_s + backoff(station)
                    } else {
                        answered
                    }
                }
                Stream::Report if was_failing => {
                    // The results held through the outage go at once, then
                    // the heartbeat cycle resumes.
                    bins[(at / p.bin_s) as usize] += 1;
                    at + p.heartbeat_s
                }
                Stream::Report => at + p.heartbeat_s,
            }
        };
        if !failing[station][k] {
            policies[station][k].succeeded();
        }
        queue.push(Next { at: next, station, stream });
    }
    let rate = |range: std::ops::Range<f64>| -> Vec<f64> {
        let (from, to) = ((range.start / p.bin_s).ceil() as usize, (range.end / p.bin_s).floor() as usize);
        bins[from..to.min(bins.len())].iter().map(|n| *n as f64 / p.bin_s).collect()
    };
    // Skip the first wait: the streams start spread over it.
    let steady = rate(p.heartbeat_s..p.outage_start_s);
    let outage = rate(p.outage_start_s..p.outage_start_s + p.outage_s);
    let after = rate(p.outage_start_s + p.outage_s..end);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    StormReport {
        steady_rate: mean(&steady),
        outage_peak_rate: max(&outage),
        after_peak_rate: max(&after),
        outage_mean_rate: mean(&outage),
        last_back_s: back.iter().map(|b| b.unwrap_or(f64::INFINITY)).fold(0.0, f64::max),
        bins: bins.iter().map(|n| *n as f64 / p.bin_s).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN §6's promise for 500 stations: the district is not hammered
    /// during an outage or after it, and every station is back within the
    /// retry cap plus 10%.
    #[test]
    fn five_hundred_stations_ride_out_an_outage_without_a_storm() {
        for seed in 1..=3 {
            let r = simulate(&StormParams { seed, ..StormParams::default() });
            assert!(r.steady_rate > 25.0, "{r:?}");
            assert!(
                r.outage_peak_rate <= 3.0 * r.steady_rate,
                "seed {seed}: outage peak {} vs steady {}",
                r.outage_peak_rate,
                r.steady_rate
            );
            assert!(
                r.after_peak_rate <= 3.0 * r.steady_rate,
                "seed {seed}: recovery peak {} vs steady {}",
                r.after_peak_rate,
                r.steady_rate
            );
            assert!(r.last_back_s <= 1.1 * CAP_S, "seed {seed}: last station back after {} s", r.last_back_s);
        }
    }

    const CAP_S: f64 = 120.0;

    /// With DESIGN's first ceiling of 1 s the stations cut at the same
    /// moment retry densely at first: the bound above is seen to fail.
    #[test]
    fn a_one_second_first_ceiling_storms_the_district() {
        let r = simulate(&StormParams { retry_base: Duration::from_secs(1), ..StormParams::default() });
        assert!(r.outage_peak_rate > 3.0 * r.steady_rate, "{} vs {}", r.outage_peak_rate, r.steady_rate);
    }
}
