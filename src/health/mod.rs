//! The local health endpoint (DESIGN §7), for district IT over a VPN and
//! for the office's own monitoring: `/healthz` (the agent answers),
//! `/readyz` (printers reachable, journal writable, no consumable at zero;
//! each failing check named), `/metrics` (Prometheus text) and `/status`
//! (JSON). Everything is read from the journal, so it says what the journal
//! says. Job ids only: no personal value is ever served.
//!
//! Loopback by default; any other address needs a bearer token (the config
//! refuses one without), and a token, once set, is asked of every caller.
//! Each address is held to a rate ([`ADDRESS_RATE`]), connections are
//! bounded (`cetak_serve::Limits::HEALTH`).

mod metrics;

use cetak_model::wire::PrinterState;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use governor::Quota;
use serde::Serialize;

use crate::config::Config;
use crate::journal::{Journal, JournalError};

/// What the endpoint reads: its own journal connection, the live config.
pub struct HealthState {
    journal: Mutex<Journal>,
    config: Arc<RwLock<Config>>,
    printers: Vec<String>,
    started: Instant,
}

impl HealthState {
    pub fn new(state_dir: &Path, config: Arc<RwLock<Config>>, printers: Vec<String>) -> Result<Arc<Self>, JournalError> {
        Ok(Arc::new(Self { journal: Mutex::new(Journal::open(state_dir)?), config, printers, started: Instant::now() }))
    }

    fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn token(&self) -> Option<String> {
        self.config.read().ok().and_then(|c| c.health.token.clone())
    }
}

/// One readiness check.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// `/readyz`'s answer.
#[derive(Clone, Debug, Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// The names of the failing checks.
    pub failing: Vec<String>,
    pub checks: Vec<Check>,
    /// What does not stop printing but needs a person (stock used that was
    /// never booked): named here, `ready` stays true.
    pub warnings: Vec<String>,
}

/// Runs every readiness check against the journal.
/// A status detail as district IT reads it: a bare key as it is (the
/// dashboards match on them), one with values as its English sentence.
fn shown(detail: &str) -> String {
    let d = crate::messages::Detail::parse(detail);
    if d.args.is_empty() {
        d.key
    } else {
        d.text(crate::messages::Lang::En)
    }
}

pub fn readiness(journal: &Journal, printers: &[String]) -> Readiness {
    let mut checks = Vec::new();
    let statuses = journal.station_status().unwrap_or_default();
    for p in printers {
        let (ok, detail) = match statuses.iter().find(|(name, _, _)| name == p) {
            None => (false, "not yet seen".to_string()),
            Some((_, PrinterState::Offline, _)) => (false, "not reachable".to_string()),
            // Its loop failed (restarting) or does not answer: say which.
            Some((_, state @ (PrinterState::Error | PrinterState::Hung), detail)) => (false, format!("{state}: {}", shown(detail))),
            Some((_, state, detail)) => (true, format!("{state}: {}", shown(detail))),
        };
        checks.push(Check { name: format!("printer:{p}"), ok, detail });
    }
    let writable = journal.writable();
    checks.push(Check {
        name: "journal".into(),
        ok: writable.is_ok(),
        detail: writable.err().map(|e| e.to_string()).unwrap_or_else(|| "writable".into()),
    });
    // The ledger, read once: a consumable it tracks at a printer and that
    // is at zero fails; one it cannot read fails too, named.
    let rows = match journal.ledger_rows() {
        Ok(rows) => rows,
        Err(e) => {
            checks.push(Check { name: "ledger".into(), ok: false, detail: e.to_string() });
            Vec::new()
        }
    };
    for o in crate::stock::exhausted(&rows, crate::clock::now()) {
        checks.push(Check { name: format!("stock:{}:{}", o.location, o.item), ok: false, detail: "none left".into() });
    }
    let failing: Vec<String> = checks.iter().filter(|c| !c.ok).map(|c| c.name.clone()).collect();
    let warnings = not_booked_warnings(&rows);
    Readiness { ready: failing.is_empty(), failing, checks, warnings }
}

/// `stock not booked: LOCATION ITEM (N used)`, one per location and item
/// used beyond its bookings.
pub fn not_booked_warnings(rows: &[crate::journal::LedgerRow]) -> Vec<String> {
    crate::stock::summary(rows, crate::clock::now())
        .not_booked
        .iter()
        .map(|n| format!("stock not booked: {} {} ({} used)", n.location, n.item, n.used))
        .collect()
}

/// Serves the endpoint on a thread of its own until `stop` is cancelled.
/// A port already in use is logged and the agent prints on without it.
pub fn spawn(addr: SocketAddr, state: Arc<HealthState>, stop: CancellationToken) -> Option<std::thread::JoinHandle<()>> {
    let listener = match std::net::TcpListener::bind(addr).and_then(|l| l.set_nonblocking(true).map(|_| l)) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "health endpoint not served (printing goes on): fix [health] listen");
            return None;
        }
    };
    tracing::info!(%addr, "health endpoint listening");
    let spawned = std::thread::Builder::new().name("health".into()).spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => return tracing::error!(error = %e, "health endpoint: no runtime"),
        };
        rt.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
            let shutdown = stop.cancelled_owned();
            // Bounded (`cetak_serve`): idle and half-sent connections are
            // cut at a deadline and at most 64 are open, so sockets never
            // take the descriptors the journal and the keys need.
            let limits = cetak_serve::Limits::HEALTH;
            if let Err(e) = cetak_serve::serve(listener, cetak_serve::Plain, router(state), limits, shutdown).await {
                tracing::error!(error = %e, "health endpoint stopped");
            }
        });
    });
    spawned.map_err(|e| tracing::error!(error = %e, "health endpoint: no thread")).ok()
}

pub fn router(state: Arc<HealthState>) -> Router {
    let rate = Arc::new(PerAddress::keyed(Quota::per_second(nonzero(ADDRESS_RATE.0)).allow_burst(nonzero(ADDRESS_RATE.1))));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/status", get(status))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), authorize))
        .layer(axum::middleware::from_fn_with_state(rate, limit_rate))
        .with_state(state)
}

/// Requests a second one address may make, and its burst: far above a
/// monitor that scrapes every few seconds, low enough that a flood cannot
/// keep the journal (which every answer reads) from the printer loops.
pub const ADDRESS_RATE: (u32, u32) = (10, 50);

type PerAddress = governor::DefaultKeyedRateLimiter<std::net::IpAddr>;

fn nonzero(n: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN)
}

/// Past its address's rate a request is `429` with `Retry-After`, before
/// its token is even looked at (so guessing is throttled too).
async fn limit_rate(State(rate): State<Arc<PerAddress>>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use governor::clock::{Clock, DefaultClock};
    if let Some(peer) = cetak_serve::peer(req.extensions()) {
        if let Err(n) = rate.check_key(&peer.ip()) {
            let wait = n.wait_time_from(DefaultClock::default().now());
            let s = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, s.to_string())], "too many requests\n").into_response();
        }
        if rate.len() > 4096 {
            rate.retain_recent();
        }
    }
    next.run(req).await
}

async fn authorize(
    State(state): State<Arc<HealthState>>,
    headers: HeaderMap,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(token) = state.token() {
        let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let same =
            given.is_some_and(|g| g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0);
        if !same {
            return (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response();
        }
    }
    next.run(req).await
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<Arc<HealthState>>) -> Response {
    let r = readiness(&state.journal(), &state.printers);
    let code = if r.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(r)).into_response()
}

async fn metrics_text(State(state): State<Arc<HealthState>>) -> Response {
    let body = metrics::render(&state.journal(), &state.printers);
    match body {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// `/status`: the station at a glance, as `cetak status` shows it.
#[derive(Serialize)]
struct StatusBody {
    version: &'static str,
    uptime_s: u64,
    printers: Vec<PrinterStatus>,
    jobs: std::collections::BTreeMap<String, u64>,
    uncertain: Vec<String>,
    stock: Vec<crate::stock::OnHand>,
    /// Use beyond the bookings (never shown as a negative stock).
    not_booked: Vec<crate::stock::NotBooked>,
    days_left: std::collections::BTreeMap<String, Option<f64>>,
    district: Option<DistrictStatus>,
}

#[derive(Serialize)]
struct PrinterStatus {
    name: String,
    state: PrinterState,
    /// A fault or pause code, or the job id being printed.
    detail: String,
}

#[derive(Serialize)]
struct DistrictStatus {
    station: String,
    online: bool,
    since: i64,
    last_contact: Option<i64>,
}

async fn status(State(state): State<Arc<HealthState>>) -> Response {
    let body = (|| -> Result<StatusBody, JournalError> {
        let j = state.journal();
        let summary = crate::stock::summary(&j.ledger_rows()?, crate::clock::now());
        let district = match (j.enrolment()?, j.link()?) {
            (Some(e), link) => Some(DistrictStatus {
                station: e.station,
                online: link.as_ref().is_some_and(|l| l.online),
                since: link.as_ref().map(|l| l.since).unwrap_or(0),
                last_contact: link.and_then(|l| l.last_contact),
            }),
            (None, _) => None,
        };
        Ok(StatusBody {
            version: env!("CARGO_PKG_VERSION"),
            uptime_s: state.started.elapsed().as_secs(),
            printers: j.station_status()?.into_iter().map(|(name, state, detail)| PrinterStatus { name, state, detail }).collect(),
            jobs: j.counts()?.into_iter().map(|(s, n)| (s.to_string(), n)).collect(),
            uncertain: j.jobs_in(crate::journal::JobState::Uncertain)?.into_iter().map(|r| r.job_id).collect(),
            stock: summary.on_hand,
            not_booked: summary.not_booked,
            days_left: summary.days_left,
            district,
        })
    })();
    match body {
        Ok(b) => Json(b).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}
