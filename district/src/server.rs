//! The `/v1` HTTP service (axum). Every answer, errors included, carries the
//! district's time; every route but enrolment needs a station's bearer
//! token, and a station sees and touches only its own regions and
//! assignments. The OpenAPI document is generated from these handlers.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use cetak_model::wire::*;

use sqlx::postgres::PgPool;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::body::{Body, MAX_BODY};
use crate::{fleet, queue, DistrictError};

/// How the service runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The longest long poll a station may ask for.
    pub max_wait: Duration,
    /// How often a waiting long poll looks for new work without being
    /// notified (notifications wake it at once; this covers one lost).
    pub poll_tick: Duration,
    /// PRRs are destroyed this long after their final result.
    pub payload_retention: Duration,
    /// Deadlines and the cap on connections (`cetak_serve`).
    pub limits: cetak_serve::Limits,
    /// Request rates per station and per address (`limits`).
    pub rates: crate::limits::Rates,
    /// What one station may store (`limits`).
    pub quotas: crate::limits::Quotas,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_wait: Duration::from_secs(60),
            poll_tick: Duration::from_secs(30),
            payload_retention: Duration::from_secs(30 * 86_400),
            limits: cetak_serve::Limits::DISTRICT,
            rates: crate::limits::Rates::default(),
            quotas: crate::limits::Quotas::default(),
        }
    }
}

#[derive(Clone)]
struct AppState {
    pool: PgPool,
    opts: Arc<ServeOptions>,
    /// Turns true when the service stops: waiting long polls answer at
    /// once, so a stop does not wait out every station's poll.
    stopping: tokio::sync::watch::Receiver<bool>,
    /// Topics notified by any district process (`queue::notify`): waiting
    /// long polls wake when one concerns them.
    wake: tokio::sync::broadcast::Sender<String>,
    limiters: Arc<crate::limits::Limiters>,
}

pub fn time_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// An error answer: status, a stable code, a sentence.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Seconds for `Retry-After` (429 and 503).
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }

    /// 429: this caller is past its rate; it may come back after `wait`.
    fn too_many(wait: Duration) -> Self {
        let s = crate::limits::retry_after_s(wait);
        Self {
            retry_after: Some(s),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", format!("too many requests: retry in {s} s"))
        }
    }
}

impl ApiError {
    /// 429 `over_quota`: the station has `stored` of `what`, its quota is
    /// `quota`; nothing was stored. An hour is asked: an officer is to look.
    fn over_quota(what: &str, stored: i64, quota: i64) -> Self {
        Self {
            retry_after: Some(3600),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "over_quota",
                format!(
                    "this station has {stored} {what} stored, its quota is {quota}: nothing stored; the district's officers are to look"
                ),
            )
        }
    }
}

impl From<DistrictError> for ApiError {
    fn from(e: DistrictError) -> Self {
        tracing::error!(error = %e, "request failed");
        let e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the district could not complete the request; retry later");
        ApiError { retry_after: Some(5), ..e }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { code: self.code.into(), error: self.message, time_ms: time_ms() };
        let mut r = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(s));
        }
        r
    }
}

/// The station behind a request's bearer token.
struct Station {
    name: String,
    regions: Vec<String>,
    token: String,
}

impl Station {
    /// Whether a notified topic concerns this station.
    fn concerns(&self, topic: &str) -> bool {
        topic == "all"
            || topic.strip_prefix("station:") == Some(self.name.as_str())
            || topic.strip_prefix("work:").is_some_and(|r| self.regions.iter().any(|m| m == r))
    }
}

impl FromRequestParts<AppState> for Station {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let unauthorized = || ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid station token is needed");
        let token =
            parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        // No token: nothing is looked up and nothing guessed, so the answer
        // is 401 at once, never 429.
        let Some(token) = token else { return Err(unauthorized()) };
        let Some((name, regions)) = fleet::station_of(&state.pool, token).await? else {
            // Guessing tokens is limited per address (a station with a
            // valid token is never counted here).
            state.limiters.refused_token(cetak_serve::peer(&parts.extensions).map(|a| a.ip())).map_err(ApiError::too_many)?;
            return Err(unauthorized());
        };
        let kind = if parts.uri.path() == "/v1/poll" { crate::limits::Kind::Poll } else { crate::limits::Kind::Report };
        state.limiters.station(&name, kind).map_err(ApiError::too_many)?;
        Ok(Station { name, regions, token: token.to_string() })
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The caller's IP address, as the connection gave it (`cetak_serve`).
struct Peer(Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(cetak_serve::peer(&parts.extensions).map(|a| a.ip())))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cetak district queue",
        version = "1",
        description = "The protocol between print stations and their district (docs/protocol.md). Bodies are JSON \
            (`Content-Type: application/json`, 1 MiB at most); a string never holds U+0000 (400); an integer may be written \
            as a whole-number float within ±2^53 (`14655.0`); a field a body does not name is ignored, so a newer station's additions \
            reach an older district unrefused (fields are only ever added within /v1)."
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// Declares the station's bearer token the routes name as `bearer`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The answers every route can give, added to each operation after the
/// routes are merged (a route names only its own): `400` for a body that
/// is not JSON of its schema (or sent without `Content-Type:
/// application/json`), `413` past [`MAX_BODY`], `429` past a rate, `503`
/// when the database fails, and on routes that need a token `401`. Both
/// `429` and `503` carry `Retry-After`.
struct CommonAnswers;

impl utoipa::Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{header::Header, schema::Ref, Content, ObjectBuilder, ResponseBuilder, Type};
        let answer = |description: &str, retry_after: bool| {
            let mut r = ResponseBuilder::new()
                .description(description)
                .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))));
            if retry_after {
                let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).build();
                r = r.header("Retry-After", Header::new(seconds));
            }
            r.build()
        };
        for item in openapi.paths.paths.values_mut() {
            let Some(op) = item.post.as_mut() else { continue };
            let needs_token = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut add = |status: &str, description: &str, retry_after: bool| {
                op.responses.responses.entry(status.to_string()).or_insert_with(|| answer(description, retry_after).into());
            };
            add("400", "`bad_request`: not JSON of this body's schema, or sent without `Content-Type: application/json`", false);
            add("413", "`too_large`: a body over 1 MiB", false);
            add("503", "`unavailable`: the district could not complete the request; retry after `Retry-After`", true);
            add(
                "429",
                "`rate_limited`: past this station's rate (enrolment: this address's or the district's); `over_quota` (events, \
                 stock): past what the station may store; retry after `Retry-After`",
                true,
            );
            if needs_token {
                add("401", "`unauthorized`: no token, or one the district does not know or revoked", false);
            }
        }
    }
}

fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(enroll))
        .routes(routes!(poll))
        .routes(routes!(heartbeat))
        .routes(routes!(results))
        .routes(routes!(held))
        .routes(routes!(events))
        .routes(routes!(stock))
}

/// The router and its OpenAPI document, generated from the handlers below.
fn router_and_document() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = routes().split_for_parts();
    utoipa::Modify::modify(&CommonAnswers, &mut doc);
    (router, doc)
}

/// The OpenAPI document of `/v1`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    router_and_document().1
}

/// The service's routes, `/v1/openapi.json` included.
pub fn app(
    pool: PgPool,
    opts: ServeOptions,
    stopping: tokio::sync::watch::Receiver<bool>,
    wake: tokio::sync::broadcast::Sender<String>,
    limiters: Arc<crate::limits::Limiters>,
) -> Router {
    let (router, doc) = router_and_document();
    // Serialized once and shared: the router is cloned for every
    // connection, and a captured document would be cloned with it (about
    // 380 KiB a waiting station, measured).
    let doc: Arc<str> = serde_json::to_string(&doc).unwrap_or_default().into();
    router
        .route(
            "/v1/openapi.json",
            axum::routing::get(move || {
                let doc = Arc::clone(&doc);
                async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], doc.to_string()) }
            }),
        )
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route in /v1") })
        .layer(axum::middleware::from_fn(crate::body::read_first))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(AppState { pool, limiters, opts: Arc::new(opts), stopping, wake })
}

/// What must exist before the service says it listens: the signing key,
/// and the CA's certificate where `enroll-code` reads its fingerprint.
/// Idempotent.
pub async fn prepare(pool: &PgPool, tls: Option<&crate::tls::TlsDir>) -> std::io::Result<()> {
    crate::keys::signing_key(pool).await.map_err(std::io::Error::other)?;
    if let Some(t) = tls {
        let pem = t.ca_pem().map_err(std::io::Error::other)?;
        sqlx::query("INSERT INTO settings (key, value) VALUES ('ca_pem', $1) ON CONFLICT (key) DO UPDATE SET value = $1")
            .bind(pem)
            .execute(pool)
            .await
            .map_err(std::io::Error::other)?;
    }
    Ok(())
}

/// Serves until `shutdown` resolves, over TLS when `tls` is given (the
/// field) or plain HTTP (trials on one machine); a background task destroys
/// old PRRs.
pub async fn serve(
    pool: PgPool,
    listener: tokio::net::TcpListener,
    tls: Option<crate::tls::TlsDir>,
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    prepare(&pool, tls.as_ref()).await?;
    // A socket per station: the soft limit (1,024 by default) is lifted to
    // the hard one, and the cap on connections stays below what is left.
    let open_files = cetak_serve::raise_descriptor_limit(1 << 20);
    tracing::info!(open_files = ?open_files, max_connections = opts.limits.effective_cap(), "connection limits");
    let sweeper = {
        let (pool, retention) = (pool.clone(), opts.payload_retention);
        tokio::spawn(async move {
            loop {
                match queue::destroy_old_payloads(&pool, retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(jobs = n, "destroyed PRRs past retention"),
                    Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
                }
                tokio::time::sleep(Duration::from_secs(1).max(retention / 10).min(Duration::from_secs(3600))).await;
            }
        })
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (wake, _) = tokio::sync::broadcast::channel(4096);
    let listener_task = tokio::spawn(listen(pool.clone(), wake.clone()));
    let limits = opts.limits;
    let limiters = Arc::new(crate::limits::Limiters::new(&opts.rates));
    let forgetting = {
        let limiters = Arc::clone(&limiters);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                limiters.forget_idle();
            }
        })
    };
    let app = app(pool, opts, stop_rx.clone(), wake, limiters);
    let mut stopped = stop_rx;
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let graceful = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    let r = match tls {
        Some(t) => {
            let tls = crate::tls::TlsHandshake(t.acceptor().map_err(std::io::Error::other)?);
            cetak_serve::serve(listener, tls, app, limits, graceful).await
        }
        None => cetak_serve::serve(listener, cetak_serve::Plain, app, limits, graceful).await,
    };
    sweeper.abort();
    forgetting.abort();
    listener_task.abort();
    r
}

/// Relays the database's `cetak` notifications to the long polls. On a
/// lost connection every poll is woken once (it re-reads the database), and
/// the listener reconnects.
async fn listen(pool: PgPool, wake: tokio::sync::broadcast::Sender<String>) {
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut l) => {
                if let Err(e) = l.listen("cetak").await {
                    tracing::warn!(error = %e, "cannot listen for notifications");
                } else {
                    let _ = wake.send("all".into());
                    loop {
                        match l.try_recv().await {
                            Ok(Some(n)) => {
                                let _ = wake.send(n.payload().to_string());
                            }
                            Ok(None) => {
                                let _ = wake.send("all".into());
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "notification listener lost");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect the notification listener"),
        }
        let _ = wake.send("all".into());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Exchanges a one-time enrolment code for a station token and the
/// district's public keys.
#[utoipa::path(post, path = "/v1/enroll", request_body = EnrollRequest,
    responses((status = 200, description = "the station's identity and token", body = EnrollResponse), (status = 401, description = "`bad_code`: unknown, used or expired code", body = ErrorBody)))]
async fn enroll(State(st): State<AppState>, Peer(peer): Peer, Body(req): Body<EnrollRequest>) -> ApiResult<EnrollResponse> {
    st.limiters.enrolment(peer).map_err(ApiError::too_many)?;
    // Each enrolment replaces the station's token: a burst for one name
    // (codes leaked in a batch) is stopped before a code is used.
    if let Some(station) = fleet::code_station(&st.pool, &req.code).await? {
        st.limiters.enrolment_of(&station).map_err(ApiError::too_many)?;
    }
    let Some((station, token, regions)) = fleet::enroll(&st.pool, &req.code).await? else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "bad_code", "the enrolment code is unknown, used or expired"));
    };
    crate::keys::signing_key(&st.pool).await?;
    let keys = crate::keys::public_keys(&st.pool).await?;
    tracing::info!(station = %station, "station enrolled");
    Ok(Json(EnrollResponse { station, token, regions, keys, time_ms: time_ms() }))
}

/// Long poll for work and commands. Confirms, by sending `confirm`, the
/// assignments the station now holds.
#[utoipa::path(post, path = "/v1/poll", request_body = PollRequest,
    responses((status = 200, description = "work, commands and news, or nothing when the wait ran out", body = PollResponse)), security(("bearer" = [])))]
async fn poll(State(st): State<AppState>, me: Station, Body(req): Body<PollRequest>) -> Result<Json<PollResponse>, ApiError> {
    let mut woken = st.wake.subscribe();
    // The database work runs in boxed futures: a waiting poll (thousands of
    // them at once) then keeps only the small waiting state in memory.
    Box::pin(arrive(&st, &me, &req)).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(req.wait_s.into()).min(st.opts.max_wait);
    let mut asked_sisters = false;
    loop {
        let last_look = tokio::time::Instant::now() >= deadline || *st.stopping.borrow();
        if let Some(resp) = Box::pin(look(&st, &me, &req, last_look)).await? {
            return Ok(Json(resp));
        }
        // Dry: nothing held, nothing to take. Ask sisters once a poll.
        if req.holding.is_empty() && !req.urgent_only && !asked_sisters {
            asked_sisters = true;
            Box::pin(queue::ask_sisters(&st.pool, &me.name, &me.regions)).await?;
        }
        let mut stopping = st.stopping.clone();
        // Woken by a notification that concerns us, or after a while
        // anyway (a notification lost with a connection).
        let wait = async {
            loop {
                match woken.recv().await {
                    Ok(topic) if me.concerns(&topic) => return,
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        };
        tokio::select! {
            _ = wait => {}
            _ = tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + st.opts.poll_tick)) => {}
            _ = stopping.changed() => {}
        }
        // A revocation ends a waiting poll at once.
        if Box::pin(fleet::station_of(&st.pool, &me.token)).await?.is_none() {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "the station's token was revoked"));
        }
    }
}

/// What a poll confirms: the station is alive, its commands done, its
/// assignments stored.
async fn arrive(st: &AppState, me: &Station, req: &PollRequest) -> Result<(), ApiError> {
    fleet::seen(&st.pool, &me.name).await?;
    fleet::ack_commands(&st.pool, &me.name, &req.ack_commands).await?;
    queue::confirm_delivered(&st.pool, &me.name, &req.confirm.iter().map(|c| (c.job_id.clone(), c.epoch)).collect::<Vec<_>>()).await?;
    Ok(())
}

/// One look at the database for this station: `Some` answer when there is
/// news for it, or when `last` (the wait is over).
async fn look(st: &AppState, me: &Station, req: &PollRequest, last: bool) -> Result<Option<PollResponse>, ApiError> {
    let want = queue::Want { station: &me.name, regions: &me.regions, max_jobs: req.max_jobs, urgent_only: req.urgent_only };
    let keys = crate::keys::public_keys(&st.pool).await?;
    let keys = (keys_version(&keys) != req.keys_version).then_some(keys);
    let jobs = queue::take_jobs(&st.pool, &want).await?;
    let commands = fleet::open_commands(&st.pool, &me.name).await?;
    let release = queue::release_asked(&st.pool, &me.name).await?;
    let drop_jobs = queue::no_longer_yours(&st.pool, &me.name, &req.holding).await?;
    let news = !jobs.is_empty() || !commands.is_empty() || keys.is_some() || !release.is_empty() || !drop_jobs.is_empty();
    if !(news || last) {
        return Ok(None);
    }
    let ready_sisters = queue::ready_sisters(&st.pool, &me.name, &me.regions).await?;
    Ok(Some(PollResponse { time_ms: time_ms(), jobs, commands, keys, release, drop_jobs, ready_sisters }))
}

/// The station's status for the fleet view.
#[utoipa::path(post, path = "/v1/heartbeat", request_body = Heartbeat,
    responses((status = 200, description = "stored", body = Ack)), security(("bearer" = [])))]
async fn heartbeat(State(st): State<AppState>, me: Station, Body(hb): Body<Heartbeat>) -> ApiResult<Ack> {
    fleet::heartbeat(&st.pool, &me.name, &hb).await?;
    Ok(Json(Ack { time_ms: time_ms() }))
}

/// Final results in a batch, each idempotent on (job, station, epoch,
/// attempt) and answered on its own: a result for an assignment this
/// station never had is `not_yours` (nothing stored for it), the others
/// are taken.
#[utoipa::path(post, path = "/v1/results", request_body = ResultsRequest,
    responses((status = 200, description = "one status per result, in order", body = ResultsResponse)),
    security(("bearer" = [])))]
async fn results(State(st): State<AppState>, me: Station, Body(req): Body<ResultsRequest>) -> ApiResult<ResultsResponse> {
    too_many_items(req.results.len(), st.opts.quotas.items_per_request)?;
    let items = queue::store_results(&st.pool, &me.name, &req.results).await?;
    Ok(Json(ResultsResponse { time_ms: time_ms(), items }))
}

/// Jobs waiting for the station's operator (`uncertain`), each for an
/// assignment this station had; any other refuses the report whole (403,
/// `not_yours`, nothing stored). A fault is a code (`[a-z0-9_.]`, at most
/// 64 characters), not free text.
#[utoipa::path(post, path = "/v1/held", request_body = HeldReport,
    responses((status = 200, description = "stored", body = Ack),
        (status = 403, description = "a job this station was never given at that epoch", body = ErrorBody)),
    security(("bearer" = [])))]
async fn held(State(st): State<AppState>, me: Station, Body(req): Body<HeldReport>) -> ApiResult<Ack> {
    too_many_items(req.jobs.len(), st.opts.quotas.items_per_request)?;
    if let Some(h) = req.jobs.iter().find(|h| !is_code(&h.fault)) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("fault of {} is not a code", h.job_id)));
    }
    match queue::store_held(&st.pool, &me.name, &req.jobs).await? {
        queue::Held::Stored => Ok(Json(Ack { time_ms: time_ms() })),
        queue::Held::NotYours(jobs) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_yours",
            format!("not this station's assignments: {}; nothing was stored", jobs.join(", ")),
        )),
    }
}

/// A fault or refusal code as stations send them: short, lowercase, no
/// free text (nothing personal can ride in it).
fn is_code(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
}

/// Station events: a blank unaccounted, a pause, an operator's booking.
#[utoipa::path(post, path = "/v1/events", request_body = EventsReport,
    responses((status = 200, description = "stored", body = Ack)), security(("bearer" = [])))]
async fn events(State(st): State<AppState>, me: Station, Body(req): Body<EventsReport>) -> ApiResult<Ack> {
    let q = st.opts.quotas;
    too_many_items(req.events.len(), q.items_per_request)?;
    if let Some(e) = req.events.iter().find(|e| !e.body.is_object() || e.body.to_string().len() > q.event_bytes) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("event {}: the body must be an object of at most {} bytes", e.id, q.event_bytes),
        ));
    }
    match queue::store_events(&st.pool, &me.name, &req.events, q.events_per_station).await? {
        queue::Events::Stored => Ok(Json(Ack { time_ms: time_ms() })),
        queue::Events::OverQuota { stored, quota } => Err(ApiError::over_quota("events", stored, quota)),
    }
}

/// A batch longer than a station ever sends is refused (400).
fn too_many_items(n: usize, max: usize) -> Result<(), ApiError> {
    if n > max {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("{n} items in one request: at most {max}")));
    }
    Ok(())
}

/// Consumables: the station's ledger events since the last head. The
/// answer names the head the district holds, so a station whose chain it
/// does not hold sends its whole chain next time.
#[utoipa::path(post, path = "/v1/stock", request_body = StockReport,
    responses((status = 200, description = "the events are in the station's chain", body = StockAck)), security(("bearer" = [])))]
async fn stock(State(st): State<AppState>, me: Station, Body(req): Body<StockReport>) -> ApiResult<StockAck> {
    // The events go into the chain; a report that raises an alarm is kept
    // once, as its evidence.
    match crate::stock::store(&st.pool, &me.name, &req.events, st.opts.quotas.stock).await? {
        crate::stock::StockOutcome::Stored(_) => {}
        crate::stock::StockOutcome::Rewritten { at_hash } => {
            queue::keep_alarm_evidence(&st.pool, &me.name, &at_hash, &req.head, &req.events).await?
        }
        crate::stock::StockOutcome::OverQuota { stored, quota } => return Err(ApiError::over_quota("ledger events", stored, quota)),
    }
    let head = crate::stock::head(&st.pool, &me.name).await?;
    Ok(Json(StockAck { time_ms: time_ms(), head }))
}
