//! The poller and the reporter (see the module above), on a thread of
//! their own with a current-thread tokio runtime: the station loops stay
//! plain threads that never wait on the network.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cetak_model::wire::*;
use rand::SeedableRng;
use tokio_util::sync::CancellationToken;

use super::retry::RetryPolicy;
use super::{Clock, QueueError};
use crate::config::DistrictConfig;
use crate::journal::{Actor, JobState, Journal, JournalError, Message};

#[derive(Clone, Debug)]
pub struct SyncOptions {
    pub state_dir: PathBuf,
    pub district: DistrictConfig,
    /// The configured printers (pause, resume and drain apply to all).
    pub printers: Vec<String>,
    /// Consumables with fewer days left are logged at each heartbeat.
    pub warn_days: f64,
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Starts the client's thread. Once `stop` is cancelled the poller ends
/// (a long poll in flight is dropped) and the reporter goes on sending what
/// the station loops finish; once `drained` is cancelled too (every loop has ended) it makes a last try with the outbox
/// and a farewell heartbeat, and ends.
pub fn spawn(
    opts: SyncOptions,
    clock: Arc<Clock>,
    stop: CancellationToken,
    drained: CancellationToken,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("district".into()).spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the district client's runtime");
                return;
            }
        };
        rt.block_on(async {
            tokio::join!(poller(&opts, &clock, &stop), reporter(&opts, &clock, &drained));
        });
    })
}

fn policy(cfg: &DistrictConfig) -> RetryPolicy {
    RetryPolicy::with(
        Duration::from_millis(cfg.retry_base_ms.max(1)),
        Duration::from_secs(cfg.retry_cap_s.max(1)),
        rand::rngs::StdRng::from_os_rng(),
    )
}

/// Sleeps `d`, waking early when `wake` is cancelled.
async fn nap(d: Duration, wake: &CancellationToken) {
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        () = wake.cancelled() => {}
    }
}

/// Notes a failed call: offline since the first failure; then waits.
async fn failed(journal: &Journal, retry: &mut RetryPolicy, e: &SyncError, wake: &CancellationToken, what: &str) {
    let ra = match e {
        SyncError::Queue(q) => q.retry_after(),
        SyncError::Journal(_) => None,
    };
    let wait = retry.after_failure(ra);
    // The district answered a request it refuses (but for the token): the
    // line is up, and the other calls go on; anything else is offline.
    let answered = matches!(e, SyncError::Queue(QueueError::Refused { status, .. }) if (400..500).contains(status) && *status != 401);
    if let (SyncError::Queue(_), false) = (e, answered) {
        let next = crate::clock::now() + wait.as_secs() as i64;
        if let Err(je) = journal.set_link(false, None, None).and_then(|_| journal.set_retry(next, &e.to_string())) {
            tracing::warn!(error = %je, "could not journal the district link");
        }
    }
    tracing::warn!(error = %e, call = what, retry_in_ms = wait.as_millis() as u64, "district call failed");
    nap(wait, wake).await;
}

fn open_journal(opts: &SyncOptions) -> Option<Journal> {
    match Journal::open(&opts.state_dir) {
        Ok(j) => Some(j),
        Err(e) => {
            tracing::error!(error = %e, "district client cannot open the journal");
            None
        }
    }
}

/// The client of the current enrolment, built once and kept (with its
/// kept-alive TLS connections) until the enrolment changes: building one
/// per call would parse the CA and shake hands again every few hundred
/// milliseconds. (A key set change rebuilds it too: rare, harmless.)
#[derive(Default)]
struct ClientCache {
    current: Option<(crate::journal::district::Enrolment, super::Client)>,
}

impl ClientCache {
    fn get(&mut self, e: &crate::journal::district::Enrolment) -> Result<super::Client, QueueError> {
        if let Some((k, c)) = &self.current {
            if k == e {
                return Ok(c.clone());
            }
        }
        let c = super::client_for(e)?;
        self.current = Some((e.clone(), c.clone()));
        Ok(c)
    }
}

/// What the poller remembers between polls.
#[derive(Default)]
struct PollState {
    /// Commands carried out, to acknowledge on the next poll.
    acked: Vec<i64>,
    /// Assignments refused as replays, to confirm so they are not sent again.
    refused: Vec<(String, i64)>,
    /// The regions where, at the last poll, a sister station could print.
    ready_sisters: Vec<String>,
}

/// Polls that return at once are spaced this far apart: a district that
/// answers every poll with news (a job refused again and again) must not
/// turn the long poll into a spin.
const MIN_POLL_SPACING: Duration = Duration::from_secs(1);

async fn poller(opts: &SyncOptions, clock: &Clock, stop: &CancellationToken) {
    let Some(mut journal) = open_journal(opts) else { return };
    let mut retry = policy(&opts.district);
    let mut state = PollState::default();
    let mut clients = ClientCache::default();
    while !stop.is_cancelled() {
        let started = Instant::now();
        match poll_once(opts, clock, &mut journal, &mut clients, &mut state, stop).await {
            Ok(()) => {
                retry.succeeded();
                nap(MIN_POLL_SPACING.saturating_sub(started.elapsed()), stop).await;
            }
            Err(e) => failed(&journal, &mut retry, &e, stop, "poll").await,
        }
    }
}

async fn poll_once(
    opts: &SyncOptions,
    clock: &Clock,
    journal: &mut Journal,
    clients: &mut ClientCache,
    state: &mut PollState,
    stop: &CancellationToken,
) -> Result<(), SyncError> {
    let Some(enrolment) = journal.enrolment()? else {
        nap(Duration::from_secs(1), stop).await;
        return Ok(());
    };
    clock.check_jump();
    housekeeping(opts, clock, journal, &state.ready_sisters)?;
    let client = clients.get(&enrolment)?;
    let buffered = journal.buffered()?;
    let mut confirm = journal.unconfirmed()?;
    confirm.extend(state.refused.iter().cloned());
    let acked = &mut state.acked;
    let refs = |v: &[(String, i64)]| v.iter().map(|(job_id, epoch)| JobRef { job_id: job_id.clone(), epoch: *epoch }).collect();
    let req = PollRequest {
        max_jobs: opts.district.buffer.saturating_sub(buffered),
        wait_s: opts.district.wait_s,
        urgent_only: buffered >= opts.district.buffer,
        ack_commands: acked.clone(),
        confirm: refs(&confirm),
        holding: refs(&journal.holding()?),
        keys_version: keys_version(&enrolment.keys),
    };
    let timeout = Duration::from_secs(u64::from(opts.district.wait_s) + opts.district.request_timeout_s.max(1));
    let call = client.post::<_, PollResponse>("/v1/poll", &req, timeout);
    let (resp, rtt) = tokio::select! {
        r = call => r?,
        () = stop.cancelled() => return Ok(()),
    };
    clock.observe(resp.time_ms, rtt);
    journal.set_link(true, Some(resp.time_ms), Some(clock.skew_ms()))?;
    journal.mark_confirmed(&confirm)?;
    acked.retain(|id| !req.ack_commands.contains(id));
    state.refused.retain(|r| !confirm.contains(r));
    state.ready_sisters = resp.ready_sisters.clone();
    if !resp.jobs.is_empty() {
        let r = journal.import_assignments(&resp.jobs)?;
        tracing::info!(received = resp.jobs.len(), stored = r.imported.len(), "assignments from the district");
        state.refused.extend(r.refused);
    }
    for c in &resp.commands {
        if carry_out(opts, journal, c)? {
            state.acked.push(c.id);
        }
    }
    if let Some(keys) = &resp.keys {
        tracing::info!(keys = keys.len(), revoked = keys.iter().filter(|k| k.revoked).count(), "the district's key set changed");
        journal.set_keys(keys)?;
    }
    for j in &resp.drop_jobs {
        if journal.epoch_of(&j.job_id)? == Some(j.epoch) && journal.release(&j.job_id, "reassigned")? {
            tracing::warn!(job_id = %j.job_id, "no longer this station's job: dropped unprinted");
        }
    }
    // A dry sister asked for jobs: give back those not rendered yet (the
    // next card in line is rendered ahead, so it stays).
    let next = journal.next_ready()?.map(|j| j.job_id);
    for j in &resp.release {
        if next.as_deref() != Some(j.job_id.as_str()) && journal.epoch_of(&j.job_id)? == Some(j.epoch) {
            journal.release(&j.job_id, "sister_dry")?;
        }
    }
    Ok(())
}

/// Carries out a district command once (by id). `Ok(false)`: not yet (a
/// cancel whose card is in the printer waits for the card's outcome).
fn carry_out(opts: &SyncOptions, journal: &mut Journal, c: &Command) -> Result<bool, JournalError> {
    if journal.command_done(c.id)? {
        return Ok(true);
    }
    tracing::info!(command = c.id, kind = c.kind.as_str(), "district command");
    match c.kind {
        CommandKind::Pause | CommandKind::Drain => {
            for p in &opts.printers {
                journal.pause(p, &format!("district_{}", c.kind.as_str()), serde_json::json!({"command": c.id}))?;
            }
        }
        CommandKind::Resume => {
            for p in &opts.printers {
                journal.resume(p, &Actor::District { command: c.id })?;
            }
        }
        CommandKind::Cancel => {
            let Some(job) = &c.job_id else { return Ok(true) };
            match journal.job(job)?.map(|j| j.state) {
                Some(JobState::Assigned | JobState::Ready) => {
                    journal.release(job, "cancelled")?;
                }
                // The card in the printer finishes first; an uncertain job
                // stays for the operator. Asked again on the next poll.
                Some(JobState::Printing | JobState::Uncertain) => return Ok(false),
                _ => {}
            }
        }
        CommandKind::ReleaseHeld => {
            for j in journal.jobs_in(JobState::Assigned)?.into_iter().chain(journal.jobs_in(JobState::Ready)?) {
                journal.release(&j.job_id, "release_held")?;
            }
        }
        // Payloads already go when their result is acknowledged; purge
        // also drops every day key nothing needs.
        CommandKind::Purge => journal.destroy_unused_keys()?,
        // Stock reports come with the ledger issue; acknowledged so the
        // command does not repeat forever.
        CommandKind::ReportStock => {}
    }
    journal.record_command(c.id, c.kind.as_str(), c.job_id.as_deref())?;
    Ok(true)
}

/// Releases what the station should not keep: payloads past retention;
/// and, when every printer has been broken for too long (in error or
/// unreachable; not waiting for the clerk), the jobs of the regions where
/// the district reported a sister that can print them (releasing helps
/// only if someone else can print: a village's only station keeps its work
/// through a printer switched off overnight).
fn housekeeping(opts: &SyncOptions, clock: &Clock, journal: &mut Journal, ready_sisters: &[String]) -> Result<(), JournalError> {
    let cutoff = clock.now_s() - opts.district.retention_s as i64;
    for job in journal.issued_before(cutoff)? {
        journal.release(&job, "retention")?;
    }
    if let Some(since) = journal.broken_since()? {
        if crate::clock::now() - since >= opts.district.printer_broken_release_s as i64 {
            let held: Vec<_> = journal
                .jobs_in(JobState::Ready)?
                .into_iter()
                .chain(journal.jobs_in(JobState::Assigned)?)
                .filter(|j| j.kode_wilayah.as_ref().is_some_and(|k| ready_sisters.contains(k)))
                .collect();
            // Urgent first, so a sister station gets them soonest.
            let (urgent, normal): (Vec<_>, Vec<_>) = held.into_iter().partition(|j| j.priority == cetak_model::Priority::Urgent);
            for j in urgent.into_iter().chain(normal) {
                if journal.release(&j.job_id, "printer_broken")? {
                    tracing::warn!(job_id = %j.job_id, "released: no printer ready for too long, and a sister can print it");
                }
            }
        }
    }
    Ok(())
}

/// Sends the outbox and the heartbeats. Its naps and retry waits end early
/// only when the stations are drained: a stopping agent still reports the
/// cards it finishes, then says goodbye (its printers `stopped`, so the
/// district stops counting it as a sister for the region's fair shares).
/// Kinds of report the district holds back because the station is past
/// its quota there (`429 over_quota`): each waits out its own Retry-After
/// in the journal, while results, held reports and the heartbeat go on.
#[derive(Default)]
struct OverQuota {
    events: Option<Instant>,
    stock: Option<Instant>,
}

#[derive(Clone, Copy, Debug)]
enum Quotaed {
    Events,
    Stock,
}

impl OverQuota {
    fn slot(&mut self, kind: Quotaed) -> &mut Option<Instant> {
        match kind {
            Quotaed::Events => &mut self.events,
            Quotaed::Stock => &mut self.stock,
        }
    }

    /// Whether `kind` may be sent now.
    fn open(&mut self, kind: Quotaed) -> bool {
        let slot = self.slot(kind);
        if slot.is_some_and(|until| Instant::now() >= until) {
            *slot = None;
        }
        slot.is_none()
    }

    /// Takes `e` as `kind`'s own when it is an over-quota refusal (then
    /// `None`: not an error of the line); gives any other error back.
    fn take(&mut self, kind: Quotaed, e: SyncError) -> Option<SyncError> {
        match &e {
            SyncError::Queue(q @ QueueError::Refused { status: 429, code, .. }) if code == "over_quota" => {
                let wait = q.retry_after().unwrap_or(Duration::from_secs(3600));
                tracing::warn!(kind = ?kind, wait_s = wait.as_secs(), error = %e,
                    "the district takes no more of this kind from this station: they wait in the journal; the other reports go on");
                *self.slot(kind) = Some(Instant::now() + wait);
                None
            }
            _ => Some(e),
        }
    }
}

async fn reporter(opts: &SyncOptions, clock: &Clock, drained: &CancellationToken) {
    let Some(mut journal) = open_journal(opts) else { return };
    let mut over_quota = OverQuota::default();
    let mut retry = policy(&opts.district);
    let mut last_beat: Option<Instant> = None;
    let mut warned = Vec::new();
    let mut clients = ClientCache::default();
    let heartbeat = Duration::from_secs(opts.district.heartbeat_s.max(1));
    loop {
        // `drained` is cancelled only after `stop`: the stations are done.
        let last = drained.is_cancelled();
        let beat_due = last || last_beat.is_none_or(|t| t.elapsed() >= heartbeat);
        let timeout = Duration::from_secs(opts.district.request_timeout_s.max(1));
        match report_once(&mut journal, &mut clients, &mut over_quota, clock, beat_due, timeout).await {
            Ok(sent) => {
                retry.succeeded();
                if beat_due && sent.is_some() {
                    last_beat = Some(Instant::now());
                    match journal.ledger_rows() {
                        Ok(rows) => {
                            crate::stock::log_warnings(&rows, opts.warn_days, &mut warned);
                            if let Err(e) = crate::stock::report_not_booked(&mut journal, &rows) {
                                tracing::warn!(error = %e, "cannot queue the stock-not-booked event");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot read the ledger for the stock forecast"),
                    }
                }
                if last {
                    return;
                }
                if sent != Some(true) {
                    nap(Duration::from_millis(300), drained).await;
                }
            }
            Err(e) => {
                if last {
                    tracing::warn!(error = %e, "outbox not sent before stopping: it stays in the journal");
                    return;
                }
                failed(&journal, &mut retry, &e, drained, "report").await;
            }
        }
    }
}

/// Sends one batch of each kind of outbox message, and a heartbeat when
/// due. `Some(true)`: something was sent; `None`: not enrolled.
async fn report_once(
    journal: &mut Journal,
    clients: &mut ClientCache,
    over_quota: &mut OverQuota,
    clock: &Clock,
    beat: bool,
    t: Duration,
) -> Result<Option<bool>, SyncError> {
    let Some(enrolment) = journal.enrolment()? else { return Ok(None) };
    let client = clients.get(&enrolment)?;
    let pending: Vec<_> = journal.pending_outbox()?.into_iter().take(200).collect();
    let mut results = Vec::new();
    let mut held = Vec::new();
    let mut events = Vec::new();
    let mut local = Vec::new();
    let mut unreadable = Vec::new();
    for m in &pending {
        let message = match m.message() {
            Ok(message) => message,
            // Never sent as something it is not: set aside, flagged for
            // the operator (`cetak status`, `/metrics`).
            Err(e) => {
                tracing::error!(error = %e, "an outbox message cannot be read: kept flagged, not sent");
                unreadable.push(m.id);
                continue;
            }
        };
        let epoch_of = |journal: &Journal, job_id: &str, own: Option<i64>| match own {
            Some(e) => Ok(Some(e)),
            None => journal.epoch_of(job_id),
        };
        match message {
            Message::Result(r) => match epoch_of(journal, &r.job_id, r.epoch)? {
                Some(epoch) => {
                    results.push((m.id, JobResult { job_id: r.job_id, epoch, attempt: r.attempt, outcome: r.result, code: r.code }))
                }
                // A job from before enrolment (local mode) has no district
                // to report to: acknowledged here, as the local sink would.
                None => local.push(m.id),
            },
            Message::Held(h) => match epoch_of(journal, &h.job_id, h.epoch)? {
                Some(epoch) => held.push((m.id, HeldJob { job_id: h.job_id, epoch, attempt: h.attempt, fault: h.fault })),
                None => local.push(m.id),
            },
            Message::Event { body, .. } => events.push((m.id, StationEvent { id: m.id, body })),
        }
    }
    if !unreadable.is_empty() {
        journal.set_aside(&unreadable, "unreadable")?;
    }
    let mut sent = !local.is_empty();
    if !local.is_empty() {
        journal.ack_outbox(&local)?;
    }
    // Each kind is sent on its own: one refused (or failing) does not hold
    // back the others, the heartbeat or the purge. The first error is
    // returned once all were tried, for the retry policy.
    let mut first_error: Option<SyncError> = None;
    let mut keep = |r: Result<bool, SyncError>, sent: &mut bool| match r {
        Ok(s) => *sent |= s,
        Err(e) => {
            tracing::warn!(error = %e, "a report to the district failed; the others go on");
            first_error.get_or_insert(e);
        }
    };
    keep(send_results(journal, &client, clock, &results, t).await, &mut sent);
    keep(send_held(journal, &client, &held, t).await, &mut sent);
    if over_quota.open(Quotaed::Events) {
        let r = send_events(journal, &client, &events, t).await;
        keep(r.or_else(|e| over_quota.take(Quotaed::Events, e).map_or(Ok(false), Err)), &mut sent);
    }
    if beat {
        if over_quota.open(Quotaed::Stock) {
            let r = send_stock(journal, &client, t).await;
            keep(r.or_else(|e| over_quota.take(Quotaed::Stock, e).map_or(Ok(false), Err)), &mut sent);
        }
        keep(send_heartbeat(journal, &client, clock, t).await, &mut sent);
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(Some(sent)),
    }
}

async fn send_results(
    journal: &mut Journal,
    client: &super::Client,
    clock: &Clock,
    results: &[(i64, JobResult)],
    t: Duration,
) -> Result<bool, SyncError> {
    if results.is_empty() {
        return Ok(false);
    }
    let req = ResultsRequest { results: results.iter().map(|(_, r)| r.clone()).collect() };
    cetak_failpoints::hit("outbox.results.before");
    let (resp, rtt): (ResultsResponse, _) = client.post("/v1/results", &req, t).await?;
    cetak_failpoints::hit("outbox.results.after");
    clock.observe(resp.time_ms, rtt);
    let mut taken = Vec::new();
    let mut not_yours = Vec::new();
    for ((id, r), status) in results.iter().zip(&resp.items) {
        match status {
            ResultStatus::Applied | ResultStatus::Duplicate => taken.push(*id),
            ResultStatus::Reassigned | ResultStatus::Cancelled => {
                tracing::warn!(job_id = %r.job_id, status = ?status, "result stored by the district but flagged");
                taken.push(*id);
            }
            ResultStatus::NotYours => {
                tracing::error!(job_id = %r.job_id, epoch = r.epoch, "the district says this station never had the job: result kept flagged");
                not_yours.push(*id);
            }
        }
    }
    // An answer with fewer items than asked leaves the rest to send again.
    journal.ack_outbox(&taken)?;
    if !not_yours.is_empty() {
        journal.ack_flagged(&not_yours, "not_yours")?;
    }
    Ok(true)
}

async fn send_held(journal: &mut Journal, client: &super::Client, held: &[(i64, HeldJob)], t: Duration) -> Result<bool, SyncError> {
    if held.is_empty() {
        return Ok(false);
    }
    let req = HeldReport { jobs: held.iter().map(|(_, h)| h.clone()).collect() };
    cetak_failpoints::hit("outbox.held.before");
    match client.post::<_, Ack>("/v1/held", &req, t).await {
        Ok(_) => {}
        // The district refuses a report whole when one job in it was never
        // this station's (an assignment it has no record of): each is sent
        // alone, and those refused are kept flagged, so one never holds
        // back the others for ever.
        Err(QueueError::Refused { status: 403, .. }) if held.len() > 1 => {
            for one in held {
                Box::pin(send_held(journal, client, std::slice::from_ref(one), t)).await?;
            }
            return Ok(true);
        }
        Err(QueueError::Refused { status: 403, code, .. }) => {
            tracing::error!(job_id = %held[0].1.job_id, code, "the district says this station never had the job: held report kept flagged");
            journal.ack_flagged(&[held[0].0], "not_yours")?;
            return Ok(true);
        }
        Err(e) => return Err(e.into()),
    }
    cetak_failpoints::hit("outbox.held.after");
    journal.ack_outbox(&held.iter().map(|(id, _)| *id).collect::<Vec<_>>())?;
    Ok(true)
}

async fn send_events(
    journal: &mut Journal,
    client: &super::Client,
    events: &[(i64, StationEvent)],
    t: Duration,
) -> Result<bool, SyncError> {
    if events.is_empty() {
        return Ok(false);
    }
    let req = EventsReport { events: events.iter().map(|(_, e)| e.clone()).collect() };
    cetak_failpoints::hit("outbox.events.before");
    let _: (Ack, _) = client.post("/v1/events", &req, t).await?;
    cetak_failpoints::hit("outbox.events.after");
    journal.ack_outbox(&events.iter().map(|(id, _)| *id).collect::<Vec<_>>())?;
    Ok(true)
}

/// The ledger events the district does not hold yet.
async fn send_stock(journal: &mut Journal, client: &super::Client, t: Duration) -> Result<bool, SyncError> {
    let rows = journal.ledger_unreported()?;
    if let Some(last) = rows.last() {
        let head = last.hash.clone();
        let events = rows.iter().map(|r| r.to_event()).collect();
        cetak_failpoints::hit("outbox.stock.before");
        let (ack, _): (StockAck, _) = client.post("/v1/stock", &StockReport { head, events }, t).await?;
        cetak_failpoints::hit("outbox.stock.after");
        // What the district holds, not what was sent: a chain it refused
        // (or one it no longer holds, after a replaced PC) is sent whole.
        journal.set_stock_head(ack.head.as_deref())?;
    }
    Ok(false)
}

/// The station's status; the answer's time sets the clock skew.
async fn send_heartbeat(journal: &mut Journal, client: &super::Client, clock: &Clock, t: Duration) -> Result<bool, SyncError> {
    let hb = heartbeat(journal, clock.skew_ms())?;
    let (ack, rtt): (Ack, _) = client.post("/v1/heartbeat", &hb, t).await?;
    clock.observe(ack.time_ms, rtt);
    journal.set_link(true, Some(ack.time_ms), Some(clock.skew_ms()))?;
    Ok(false)
}

/// The station's heartbeat as the journal has it (`cetak doctor` sends
/// one too).
pub fn heartbeat(journal: &Journal, clock_skew_ms: i64) -> Result<Heartbeat, JournalError> {
    let printers =
        journal.station_status()?.into_iter().map(|(name, state, detail)| PrinterStatus { name, state, detail }).collect::<Vec<_>>();
    Ok(Heartbeat {
        printers,
        buffer: journal.buffered()?,
        outbox_depth: journal.pending_outbox()?.len() as u32,
        uncertain: journal.jobs_in(JobState::Uncertain)?.len() as u32,
        clock_skew_ms,
        version: env!("CARGO_PKG_VERSION").into(),
    })
}
