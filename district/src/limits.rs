//! Rate limits of the `/v1` service (governor's GCRA). Authenticated routes
//! are limited per station, its long polls apart from its reports; only
//! where no valid token is shown (enrolment, a refused token) is the limit
//! per address, so the stations of a kecamatan behind one NAT are never
//! throttled together. A refused request is `429` with `Retry-After`; the
//! defaults are well above a real station's rate (a long poll every
//! `wait_s`, a batch of reports a few times a second while it prints).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

/// Sustained rates and bursts, per second unless named otherwise.
#[derive(Clone, Copy, Debug)]
pub struct Rates {
    /// Long polls of one station.
    pub polls_per_s: u32,
    pub poll_burst: u32,
    /// Results, held reports, events, stock and heartbeats of one station.
    pub reports_per_s: u32,
    pub report_burst: u32,
    /// Enrolments tried from one address, per minute.
    pub enrolments_per_min_per_address: u32,
    /// Enrolments tried in all, per minute.
    pub enrolments_per_min: u32,
    /// Enrolments of one station name (each replaces its token), per hour:
    /// a print PC is replaced a few times in its life, not every minute.
    pub enrolments_per_hour_per_station: u32,
    /// Requests with a token the district refuses, from one address, per
    /// minute.
    pub refused_tokens_per_min_per_address: u32,
}

impl Default for Rates {
    fn default() -> Self {
        Self {
            polls_per_s: 5,
            poll_burst: 50,
            reports_per_s: 20,
            report_burst: 200,
            enrolments_per_min_per_address: 10,
            enrolments_per_min: 60,
            enrolments_per_hour_per_station: 5,
            refused_tokens_per_min_per_address: 60,
        }
    }
}

/// Which of a station's limits a route counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Poll,
    Report,
}

/// The service's limiters.
pub struct Limiters {
    polls: DefaultKeyedRateLimiter<String>,
    reports: DefaultKeyedRateLimiter<String>,
    enrolments_by_address: DefaultKeyedRateLimiter<IpAddr>,
    enrolments: DefaultDirectRateLimiter,
    enrolments_by_station: DefaultKeyedRateLimiter<String>,
    refused_by_address: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

fn quota(per: fn(NonZeroU32) -> Quota, rate: u32, burst: u32) -> Quota {
    let n = |v: u32| NonZeroU32::new(v.max(1)).unwrap_or(NonZeroU32::MIN);
    per(n(rate)).allow_burst(n(burst))
}

impl Limiters {
    pub fn new(r: &Rates) -> Self {
        Self {
            polls: DefaultKeyedRateLimiter::keyed(quota(Quota::per_second, r.polls_per_s, r.poll_burst)),
            reports: DefaultKeyedRateLimiter::keyed(quota(Quota::per_second, r.reports_per_s, r.report_burst)),
            enrolments_by_address: DefaultKeyedRateLimiter::keyed(quota(
                Quota::per_minute,
                r.enrolments_per_min_per_address,
                r.enrolments_per_min_per_address,
            )),
            enrolments: DefaultDirectRateLimiter::direct(quota(Quota::per_minute, r.enrolments_per_min, r.enrolments_per_min)),
            enrolments_by_station: DefaultKeyedRateLimiter::keyed(quota(
                Quota::per_hour,
                r.enrolments_per_hour_per_station,
                r.enrolments_per_hour_per_station,
            )),
            refused_by_address: DefaultKeyedRateLimiter::keyed(quota(
                Quota::per_minute,
                r.refused_tokens_per_min_per_address,
                r.refused_tokens_per_min_per_address,
            )),
            clock: DefaultClock::default(),
        }
    }

    /// A request of `station`'s; `Err`: wait this long.
    pub fn station(&self, station: &str, kind: Kind) -> Result<(), Duration> {
        let limiter = match kind {
            Kind::Poll => &self.polls,
            Kind::Report => &self.reports,
        };
        limiter.check_key(&station.to_string()).map_err(|n| n.wait_time_from(self.clock.now()))
    }

    /// An enrolment tried from `address` (`None`: not known).
    pub fn enrolment(&self, address: Option<IpAddr>) -> Result<(), Duration> {
        if let Some(a) = address {
            self.enrolments_by_address.check_key(&a).map_err(|n| n.wait_time_from(self.clock.now()))?;
        }
        self.enrolments.check().map_err(|n| n.wait_time_from(self.clock.now()))
    }

    /// An enrolment with a valid code for `station`, before the code is
    /// used: past the limit the code stays valid for a later try.
    pub fn enrolment_of(&self, station: &str) -> Result<(), Duration> {
        self.enrolments_by_station.check_key(&station.to_string()).map_err(|n| n.wait_time_from(self.clock.now()))
    }

    /// A token refused, from `address`; `Err`: that address is to wait.
    pub fn refused_token(&self, address: Option<IpAddr>) -> Result<(), Duration> {
        match address {
            Some(a) => self.refused_by_address.check_key(&a).map_err(|n| n.wait_time_from(self.clock.now())),
            None => Ok(()),
        }
    }

    /// Forgets keys whose limits are back to full, so a flood of addresses
    /// or names leaves no memory behind.
    pub fn forget_idle(&self) {
        for l in [&self.polls, &self.reports, &self.enrolments_by_station] {
            l.retain_recent();
            l.shrink_to_fit();
        }
        for l in [&self.enrolments_by_address, &self.refused_by_address] {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// What one station may store at the district; past it `429` with code
/// `over_quota` (an officer looks at why a station says so much). The
/// defaults let a district of 500 stations hold years of a real station's
/// words (a few events a day) in a few gigabytes at most.
#[derive(Clone, Copy, Debug)]
pub struct Quotas {
    /// Events stored per station, in all.
    pub events_per_station: i64,
    /// One event's body, serialized.
    pub event_bytes: usize,
    /// Items in one request (results, held jobs, events).
    pub items_per_request: usize,
    /// Stock ledger events and chain alarms stored per station.
    pub stock: crate::stock::StockQuota,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            events_per_station: 50_000,
            event_bytes: 8 * 1024,
            items_per_request: cetak_model::wire::MAX_ITEMS,
            // Years of a busy station's ledger (a few hundred events a day).
            stock: crate::stock::StockQuota { events: 1_000_000, alarms: 20 },
        }
    }
}

/// Whole seconds for a `Retry-After` header: at least one.
pub fn retry_after_s(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_station_past_its_burst_waits_and_another_is_not_touched() {
        let l = Limiters::new(&Rates { reports_per_s: 1, report_burst: 3, ..Rates::default() });
        for _ in 0..3 {
            assert!(l.station("kel-a", Kind::Report).is_ok());
        }
        let wait = l.station("kel-a", Kind::Report).expect_err("past the burst");
        assert!(wait <= Duration::from_secs(1) && retry_after_s(wait) == 1, "{wait:?}");
        assert!(l.station("kel-b", Kind::Report).is_ok(), "another station");
        assert!(l.station("kel-a", Kind::Poll).is_ok(), "polls are counted apart");
    }

    #[test]
    fn enrolments_are_limited_per_address_and_in_all() {
        let l = Limiters::new(&Rates { enrolments_per_min_per_address: 2, enrolments_per_min: 3, ..Rates::default() });
        let (a, b, c): (IpAddr, IpAddr, IpAddr) =
            ("10.0.0.1".parse().expect("ip"), "10.0.0.2".parse().expect("ip"), "10.0.0.3".parse().expect("ip"));
        assert!(l.enrolment(Some(a)).is_ok() && l.enrolment(Some(a)).is_ok());
        assert!(l.enrolment(Some(a)).is_err(), "one address past its limit");
        assert!(l.enrolment(Some(b)).is_ok(), "another address");
        assert!(l.enrolment(Some(c)).is_err(), "past the limit in all");
    }

    #[test]
    fn enrolments_of_one_station_name_are_limited_and_another_name_is_not() {
        let l = Limiters::new(&Rates { enrolments_per_hour_per_station: 2, ..Rates::default() });
        assert!(l.enrolment_of("kel-a").is_ok() && l.enrolment_of("kel-a").is_ok());
        let wait = l.enrolment_of("kel-a").expect_err("a third within the hour");
        assert!(wait > Duration::from_secs(60), "{wait:?}");
        assert!(l.enrolment_of("kel-b").is_ok());
    }
}
