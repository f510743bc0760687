//! The station loop: one per printer, on a thread of its own (printer
//! libraries block). Each [`Station::step`] moves at most one card:
//!
//! 1. validate and fit-check newly assigned jobs (`assigned` → `ready` or
//!    `rejected`);
//! 2. after a start or a lost printer, run [`recovery`] first;
//! 3. honour a pause, a standing printer fault, an empty queue;
//! 4. check counter continuity (the printer's card counter must equal the
//!    journal's last known value);
//! 5. write the attempt ahead, print, and book the outcome.
//!
//! Faults are booked by where the card is (DESIGN §3): no card taken → no
//! blank used; taken with no panel printed → spoiled, retried up to the
//! spoil limit; a panel printed or the card's fate unknown → `uncertain`,
//! for the operator to settle.
//!
//! Several printers on one station each have a loop on the one journal;
//! [`claims`] keeps two loops from preparing or printing the same job. A job
//! that cannot be read (its payload or day key damaged, its envelope
//! refused) is given back as a refusal and the loop goes on: one bad job
//! never stops a station. Around each loop, [`supervisor`] catches the
//! unexpected (an error, a panic), says so and restarts it.
//!
//! The card counter must step by exactly the card across a card (one, or
//! none for a card still inside a printer that counts at eject): anything
//! else pauses the printer for an operator's booking ([`CounterGap`]).

pub mod beat;
pub mod claims;
mod recovery;
pub mod supervisor;

use cetak_model::wire::PrinterState;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use cetak_drivers::{CardPosition, CountsAt, Fault, PrintFailure, Printer, PrinterError};

use self::claims::{Claim, Claims};
use crate::journal::counters::{self, CounterGap};
use crate::journal::{AttemptEnd, JobState, Journal, JournalError};
use crate::messages::{self, Lang};
use crate::render::{RenderError, Renderer};

#[derive(Debug, thiserror::Error)]
pub enum StationError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("job {job_id}: stored payload no longer validates")]
    Payload { job_id: String },
    #[error("the station loop panicked: {0}")]
    Panicked(String),
}

/// How the station is set up.
#[derive(Clone, Debug)]
pub struct StationOptions {
    /// The printer's name in the config (and in the journal).
    pub name: String,
    pub spoil_retries: u32,
    /// Not enrolled: jobs come from a local file, and records needing an
    /// officer's approval are rejected since nobody can approve them.
    pub local_mode: bool,
    pub lang: Lang,
    /// Enrolled: the clock and windows envelopes are checked with.
    pub district: Option<EnvelopeWindow>,
}

/// What an enrolled station checks an envelope's time against.
#[derive(Clone, Debug)]
pub struct EnvelopeWindow {
    pub clock: std::sync::Arc<crate::queue::Clock>,
    pub max_ahead_s: i64,
    pub retention_s: i64,
}

/// What one step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Printed(String),
    /// A blank was spoiled with no panel printed; the job is retried (or
    /// failed past the spoil limit).
    Spoiled {
        job_id: String,
        failed: bool,
    },
    /// A card may exist: the operator decides.
    Uncertain(String),
    /// The printer did not take a card: no blank used, the job stays ready.
    NotFed {
        job_id: String,
        fault: Fault,
    },
    /// Nothing to print.
    Idle,
    /// A standing printer condition stops the next card.
    Waiting(Fault),
    /// Paused until an operator acts (reason code).
    Paused(String),
    /// The printer does not answer.
    Offline,
    /// The printer answers but refuses a command it must take (its
    /// firmware or settings are not what cetak drives): not a cable to
    /// check, a setup for district IT. Tried again like [`Step::Offline`].
    PrinterRefused {
        command: String,
        answer: String,
    },
    /// A job this station cannot print (its envelope no longer verifies,
    /// its payload or key cannot be read): given back unprinted, with the
    /// reason reported.
    Refused(String),
}

/// What preparing a job found.
enum Verdict {
    Ready {
        approved: bool,
    },
    /// The record itself is wrong (a validation finding, a card that does
    /// not fit): final.
    Rejected {
        code: String,
        field: String,
    },
    /// This station cannot print it (an envelope refused, a payload it
    /// cannot read): given back for an officer.
    Refused {
        code: String,
    },
}

pub struct Station<P: Printer> {
    opts: StationOptions,
    printer: P,
    journal: Journal,
    /// The office's template and font (the shipped ones unless the daemon
    /// hands the config's).
    renderer: Arc<Renderer>,
    /// Prepared and recovered since the last start or loss.
    connected: bool,
    /// After a loss during a card in this run: whether the agent knows no
    /// panel was sent (only a running agent can know this).
    lost_before_any_panel: Option<bool>,
    /// The next card, rendered while the last one printed (one ahead is
    /// enough for the printer never to wait for the agent).
    ahead: Option<(String, cetak_drivers::CardPanels)>,
    /// The printer's counter was reconciled with the ledger since the last
    /// start or loss (booked once per connection).
    reconciled: bool,
    /// What the watchdog's supervisor watches (under the daemon).
    beat: Option<std::sync::Arc<beat::Beat>>,
    /// The status last recorded: an idle loop does not rewrite (and fsync)
    /// the same row twice a second.
    shown: Option<(PrinterState, String)>,
    /// The jobs the station's loops are working on (shared by them all).
    claims: Arc<Claims>,
    /// When this printer's card counter steps; `None`: the family's own.
    counts_at: Option<CountsAt>,
    /// The job this loop is working on, for a failure's report.
    current: Option<String>,
    /// When an idle loop last read the printer's card counter.
    counter_checked: Option<std::time::Instant>,
}

/// How often an idle printer's card counter is read (a test card pressed
/// while nothing prints).
const IDLE_COUNTER_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

impl<P: Printer> Station<P> {
    pub fn new(journal: Journal, printer: P, opts: StationOptions) -> Self {
        Self {
            opts,
            printer,
            journal,
            renderer: Arc::new(Renderer::shipped()),
            connected: false,
            lost_before_any_panel: None,
            ahead: None,
            reconciled: false,
            beat: None,
            shown: None,
            claims: Claims::new(),
            counts_at: None,
            current: None,
            counter_checked: None,
        }
    }

    /// Renders with the office's template and font.
    pub fn with_renderer(mut self, renderer: Arc<Renderer>) -> Self {
        self.renderer = renderer;
        self
    }

    /// Shares the claims of the station's other printer loops.
    pub fn with_claims(mut self, claims: Arc<Claims>) -> Self {
        self.claims = claims;
        self
    }

    /// Sets when the printer's card counter steps (the config's
    /// `counts_at`); otherwise the printer family's own answer.
    pub fn with_counts_at(mut self, counts_at: Option<CountsAt>) -> Self {
        self.counts_at = counts_at;
        self
    }

    fn counts_at(&self) -> CountsAt {
        self.counts_at.unwrap_or_else(|| self.printer.counts_at())
    }

    /// The printer's name in the config.
    pub fn name(&self) -> &str {
        &self.opts.name
    }

    /// The job the loop was working on, if any.
    pub fn current_job(&self) -> Option<&str> {
        self.current.as_deref()
    }

    /// Reports this loop's progress to the watchdog's supervisor.
    pub fn with_beat(mut self, beat: std::sync::Arc<beat::Beat>) -> Self {
        self.beat = Some(beat);
        self
    }

    /// The job whose card was rendered ahead, if any.
    pub fn rendered_ahead(&self) -> Option<&str> {
        self.ahead.as_ref().map(|(id, _)| id.as_str())
    }

    pub fn journal(&mut self) -> &mut Journal {
        &mut self.journal
    }

    pub fn printer(&mut self) -> &mut P {
        &mut self.printer
    }

    /// Validates and fit-checks every `assigned` job no other loop is
    /// preparing: each becomes `ready`, `rejected` with its first finding's
    /// code and field, or is given back refused.
    pub fn prepare_assigned(&mut self) -> Result<(), StationError> {
        let caps = self.printer.capabilities();
        for job in self.journal.jobs_in(JobState::Assigned)? {
            // A batch of a day's jobs takes a while to check: each is progress.
            if let Some(b) = &self.beat {
                b.alive();
            }
            let Some(_claim) = self.claims.try_claim(&job.job_id, &self.opts.name) else { continue };
            // Prepared by a sibling between the list and the claim.
            if self.journal.job(&job.job_id)?.map(|j| j.state) != Some(JobState::Assigned) {
                continue;
            }
            self.current = Some(job.job_id.clone());
            let done = match self.check_job(&job.job_id, &caps)? {
                Verdict::Ready { approved } => self.journal.mark_ready(&job.job_id, approved),
                Verdict::Rejected { code, field } => {
                    tracing::info!(job_id = %job.job_id, code = %code, "job rejected");
                    self.journal.reject(&job.job_id, &code, &field)
                }
                Verdict::Refused { code } => self.refuse(&job.job_id, &code).map(|_| ()),
            };
            match done {
                Ok(()) => {}
                // The district client released it meanwhile (a cancel, a
                // drop, a dry sister): nothing to do here.
                Err(_) if self.released_meanwhile(&job.job_id) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.current = None;
        Ok(())
    }

    /// Gives a job back that this station cannot print, with the reason
    /// (reported to the district as a refusal), and goes on.
    fn refuse(&mut self, job_id: &str, code: &str) -> Result<bool, JournalError> {
        tracing::warn!(job_id, code, printer = %self.opts.name, "job set aside: this station cannot print it");
        self.journal.refuse(job_id, code)
    }

    /// Whether the district client released the job meanwhile (a cancel,
    /// a drop, a dry sister, retention): it runs beside the station loop,
    /// and only ever moves jobs that have not started printing.
    fn released_meanwhile(&self, job_id: &str) -> bool {
        self.journal
            .job(job_id)
            .ok()
            .flatten()
            .is_some_and(|j| matches!(j.state, JobState::Released | JobState::Reported | JobState::Purged))
    }

    /// A job's stored payload, or the reason it cannot be read (a day key
    /// damaged or destroyed, a payload tampered with): the job's problem,
    /// not the station's.
    fn read_payload(&self, job_id: &str) -> Result<Result<Vec<u8>, &'static str>, StationError> {
        match self.journal.payload(job_id) {
            Ok(bytes) => Ok(Ok(bytes)),
            Err(JournalError::Vault(e)) => {
                tracing::warn!(job_id, reason = %e, "stored payload unreadable");
                Ok(Err(e.code()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// What the job is: ready (approved or not), rejected, or refused. The
    /// rendered card is discarded (one card ahead is enough).
    fn check_job(&self, job_id: &str, caps: &cetak_drivers::Capabilities) -> Result<Verdict, StationError> {
        let bytes = match self.read_payload(job_id)? {
            Ok(b) => b,
            Err(code) => return Ok(Verdict::Refused { code: code.into() }),
        };
        let rejected = |code: &str, field: &str| Verdict::Rejected { code: code.into(), field: field.into() };
        let text = String::from_utf8_lossy(&bytes);
        let Ok(raw) = cetak_model::RawPrr::parse(&text) else {
            return Ok(rejected("payload.not_json", "payload"));
        };
        let v = cetak_model::validate(&raw, crate::clock::today());
        if let Some(f) = v.findings.iter().find(|f| f.severity == cetak_model::Severity::Invalid) {
            return Ok(rejected(&f.code, f.field));
        }
        if raw.job_id() != Some(job_id) {
            return Ok(rejected("job_id.mismatch", "job_id"));
        }
        let mut approved = false;
        if !self.opts.local_mode {
            match self.check_envelope(job_id, &text)? {
                Ok(a) => approved = a,
                Err(code) => return Ok(Verdict::Refused { code: code.into() }),
            }
            if !approved && !cetak_failpoints::door_open("approval") {
                if let Some(f) = v.findings.iter().find(|f| f.severity == cetak_model::Severity::NeedsApproval) {
                    return Ok(rejected(&f.code, f.field));
                }
            }
        }
        if self.opts.local_mode {
            if let Some(f) = v.findings.iter().find(|f| f.severity == cetak_model::Severity::NeedsApproval) {
                return Ok(rejected(&f.code, f.field));
            }
        }
        let Some(prr) = v.prr else { return Ok(rejected("payload.invalid", "payload")) };
        match self.renderer.panels(&prr, caps) {
            Ok(_) => Ok(Verdict::Ready { approved }),
            Err(e) => {
                let (code, field) = e.code();
                Ok(Verdict::Rejected { code, field })
            }
        }
    }

    /// An enrolled station prints nothing whose envelope fails: the
    /// district's signature over this very PRR, a region this station
    /// serves, an issue time inside the window. `Ok(approved)` or the
    /// refusal's code.
    fn check_envelope(&self, job_id: &str, prr: &str) -> Result<Result<bool, &'static str>, StationError> {
        let (Some(enrolment), Some(job)) = (self.journal.enrolment()?, self.journal.district_job(job_id)?) else {
            return Ok(Err("envelope.missing"));
        };
        let Ok(env) = serde_json::from_str::<cetak_model::envelope::Envelope>(&job.envelope) else {
            return Ok(Err("envelope.malformed"));
        };
        if env.job_id != job_id {
            return Ok(Err("envelope.bad_signature"));
        }
        let (now, max_ahead, max_age) = match &self.opts.district {
            Some(w) => (w.clock.now_s(), w.max_ahead_s, w.retention_s),
            None => (crate::clock::now(), 600, 7 * 86_400),
        };
        let checks = cetak_model::envelope::Checks { regions: &enrolment.regions, now, max_ahead, max_age };
        Ok(match cetak_model::envelope::verify(&env, prr, &enrolment.key_set(), &checks) {
            Ok(()) => Ok(env.approved),
            Err(e) if cetak_failpoints::door_open(e.code()) => Ok(env.approved),
            Err(e) => {
                tracing::warn!(job_id, reason = %e, "envelope refused");
                Err(e.code())
            }
        })
    }

    /// The card for `job_id`: the one rendered ahead, or rendered now.
    /// `Ok(Err(code))`: the job cannot be printed here (given back).
    fn render_job(&mut self, job_id: &str) -> Result<Result<cetak_drivers::CardPanels, String>, StationError> {
        if let Some((id, panels)) = self.ahead.take() {
            if id == job_id {
                return Ok(Ok(panels));
            }
        }
        let bytes = match self.read_payload(job_id)? {
            Ok(b) => b,
            Err(code) => return Ok(Err(code.into())),
        };
        match render_payload(&self.renderer, job_id, &bytes, &self.printer.capabilities()) {
            Ok(p) => Ok(Ok(p)),
            // It validated when it became ready; today it does not.
            Err(StationError::Payload { .. }) => Ok(Err("payload.no_longer_valid".into())),
            Err(e) => Err(e),
        }
    }

    /// The ready job after `current` that no sibling is working on, with
    /// its payload, to render while `current` prints.
    fn next_to_render(&self, current: &str) -> Option<(String, Vec<u8>)> {
        let next = self
            .journal
            .jobs_in(JobState::Ready)
            .ok()?
            .into_iter()
            .find(|j| j.job_id != current && !self.claims.held_by_other(&j.job_id, &self.opts.name))?;
        let bytes = self.journal.payload(&next.job_id).ok()?;
        Some((next.job_id, bytes))
    }

    /// Claims the next ready job (urgent first, then oldest) that no
    /// sibling holds.
    fn claim_next(&self) -> Result<Option<(crate::journal::JobRow, Claim)>, StationError> {
        for job in self.journal.jobs_in(JobState::Ready)? {
            if let Some(claim) = self.claims.try_claim(&job.job_id, &self.opts.name) {
                // Printed or given back by another between the list and the claim.
                if self.journal.job(&job.job_id)?.map(|j| j.state) == Some(JobState::Ready) {
                    return Ok(Some((job, claim)));
                }
            }
        }
        Ok(None)
    }

    fn status(&mut self, state: PrinterState, detail: &str) {
        if self.shown.as_ref().is_some_and(|(s, d)| *s == state && d == detail) {
            return;
        }
        match self.journal.set_station_status(&self.opts.name, state, detail) {
            Ok(()) => self.shown = Some((state, detail.to_string())),
            Err(e) => tracing::warn!(error = %e, "could not record station status"),
        }
    }

    fn lost(&mut self) -> Step {
        self.connected = false;
        self.reconciled = false;
        self.status(PrinterState::Offline, "fault.gone");
        Step::Offline
    }

    /// The printer refused a command while being brought back: said in
    /// the log (once a change, with the command) and in the status, whose
    /// detail names the command and the answer.
    fn refused(&mut self, command: String, answer: String) -> Step {
        self.connected = false;
        self.reconciled = false;
        let detail = messages::Detail::new("printer.refused").with("command", &command).with("answer", &answer).to_string();
        if self.shown.as_ref().is_none_or(|(s, d)| *s != PrinterState::Error || *d != detail) {
            tracing::warn!(printer = %self.opts.name, %command, %answer, "the printer refused a command: its setup is not what cetak drives");
        }
        self.status(PrinterState::Error, &detail);
        Step::PrinterRefused { command, answer }
    }

    /// Moves at most one card. See the module doc for the order of checks.
    pub fn step(&mut self) -> Result<Step, StationError> {
        self.current = None;
        cetak_failpoints::panic_point(&format!("station.step.{}", self.opts.name));
        self.prepare_assigned()?;
        if self.opts.local_mode {
            crate::local::acknowledge_all(&mut self.journal)?;
        }
        if !self.connected {
            match self.recover() {
                Ok(Some(step)) => return Ok(step),
                Ok(None) => {}
                Err(recovery::RecoveryError::Printer(PrinterError::Refused { command, answer })) => {
                    return Ok(self.refused(command, answer))
                }
                Err(recovery::RecoveryError::Printer(_)) => return Ok(self.lost()),
                Err(recovery::RecoveryError::Journal(e)) => return Err(e.into()),
            }
        }
        if let Some((reason, _)) = self.journal.pause_of(&self.opts.name)? {
            let detail = format!("pause.{reason}");
            // A paused printer's counter is read too, when the pause is
            // first seen and then as when idle: a test card pressed just
            // before a pause, or during it, would otherwise be absorbed by
            // a service reset of the counter made while paused (a counter
            // pause then takes the operator's place: it is lifted only by
            // its booking).
            let counter_pause = reason == counters::BLANK_UNACCOUNTED || reason == counters::COUNTER_RESET;
            let newly = self.shown.as_ref().is_none_or(|(s, d)| *s != PrinterState::Paused || *d != detail);
            if !counter_pause && (newly || self.counter_check_due()) {
                if let Some(step) = self.check_counter_now(false)? {
                    return Ok(step);
                }
            }
            self.status(PrinterState::Paused, &detail);
            return Ok(Step::Paused(reason));
        }
        // A standing fault is shown even with nothing to print, so the
        // clerk refills blanks or ribbon before the next job arrives.
        let status = match self.printer.status() {
            Ok(s) => s,
            Err(_) => return Ok(self.lost()),
        };
        if let Some(f) = status.faults.first().copied().or(status.card_inside.then_some(Fault::CardInside)) {
            self.status(PrinterState::Waiting, &format!("fault.{}", f.as_str()));
            return Ok(Step::Waiting(f));
        }
        let Some((job, _claim)) = self.claim_next()? else {
            // A test card pressed while nothing prints is caught now, not
            // when the next job comes.
            if self.counter_check_due() {
                if let Some(step) = self.check_counter_now(true)? {
                    return Ok(step);
                }
            }
            self.status(PrinterState::Idle, "state.idle");
            return Ok(Step::Idle);
        };
        let job_id = job.job_id.clone();
        self.current = Some(job_id.clone());
        match self.print_next(job) {
            Err(_) if self.released_meanwhile(&job_id) => Ok(Step::Idle),
            other => other,
        }
    }

    fn counter_check_due(&self) -> bool {
        self.counter_checked.is_none_or(|t| t.elapsed() >= IDLE_COUNTER_CHECK)
    }

    /// Reads the printer's counter against the journal's with no card under
    /// way. A printer that does not answer is lost, or (`lose` false, a
    /// paused printer, which may be switched off) checked again later.
    fn check_counter_now(&mut self, lose: bool) -> Result<Option<Step>, StationError> {
        self.counter_checked = Some(std::time::Instant::now());
        match (self.printer.identify(), self.printer.counters()) {
            (Ok(identity), Ok(c)) => self.check_continuity(&identity, c.cards),
            _ if lose => Ok(Some(self.lost())),
            _ => Ok(None),
        }
    }

    /// Prints `job` (ready, claimed). An error while the card has not
    /// started is judged by the caller: the district client may have
    /// released the job meanwhile, which is no fault.
    fn print_next(&mut self, job: crate::journal::JobRow) -> Result<Step, StationError> {
        // Checked again right before the card: a key may have been revoked
        // since the job became ready.
        if !self.opts.local_mode {
            let prr = match self.read_payload(&job.job_id)? {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(code) => {
                    self.refuse(&job.job_id, code)?;
                    return Ok(Step::Refused(job.job_id));
                }
            };
            if let Err(code) = self.check_envelope(&job.job_id, &prr)? {
                self.refuse(&job.job_id, code)?;
                return Ok(Step::Refused(job.job_id));
            }
        }
        let (identity, counters) = match (self.printer.identify(), self.printer.counters()) {
            (Ok(i), Ok(c)) => (i, c),
            _ => return Ok(self.lost()),
        };
        if let Some(step) = self.check_continuity(&identity, counters.cards)? {
            return Ok(step);
        }
        let panels = match self.render_job(&job.job_id)? {
            Ok(p) => p,
            Err(code) => {
                self.refuse(&job.job_id, &code)?;
                return Ok(Step::Refused(job.job_id));
            }
        };
        let k_hash = panels.k_hash();
        let attempt = self.journal.begin_attempt(&job.job_id, &self.opts.name, &identity.serial, counters, k_hash.as_deref())?;
        self.status(PrinterState::Printing, &job.job_id);
        tracing::info!(job_id = %job.job_id, attempt, printer = %self.opts.name, "printing");
        // Print this card and, meanwhile, render the next.
        let next = self.next_to_render(&job.job_id);
        let caps = self.printer.capabilities();
        if let Some(b) = &self.beat {
            b.busy_for(self.printer.card_deadline());
        }
        let (printer, journal, renderer) = (&mut self.printer, &mut self.journal, &*self.renderer);
        let mut feed_error = None;
        let (printed, ahead) = std::thread::scope(|scope| {
            let renderer = next.map(|(id, bytes)| scope.spawn(move || render_payload(renderer, &id, &bytes, &caps).ok().map(|p| (id, p))));
            // Written ahead of the feed: after a crash, recovery knows a
            // blank may have left the feeder.
            let mut feeding = || match journal.feed_sent(&job.job_id, attempt) {
                Ok(()) => true,
                Err(e) => {
                    feed_error = Some(e);
                    false
                }
            };
            let printed = printer.print(&panels, &mut feeding);
            (printed, renderer.and_then(|h| h.join().ok().flatten()))
        });
        self.ahead = ahead;
        if let Some(e) = feed_error {
            // Nothing was fed; the attempt in flight is settled by recovery.
            self.connected = false;
            return Err(e.into());
        }
        self.clear_printer_memory(&job.job_id);
        let step = match printed {
            Ok(after) => {
                let expected = counters.cards + 1;
                self.journal.end_attempt(
                    &job.job_id,
                    attempt,
                    &AttemptEnd::Printed { counter_after: expected },
                    self.opts.spoil_retries,
                )?;
                tracing::info!(job_id = %job.job_id, attempt, "printed");
                self.counter_after_card(expected, Some(after.cards))?;
                Step::Printed(job.job_id.clone())
            }
            Err(failure) => self.book_failure(&job.job_id, attempt, counters.cards, failure)?,
        };
        if self.opts.local_mode {
            crate::local::acknowledge_all(&mut self.journal)?;
        }
        Ok(step)
    }

    /// After every card: no resident's image may stay in the printer. A
    /// printer that refuses is logged with its name and reported to the
    /// district as an event; `cetak doctor` checks it too.
    fn clear_printer_memory(&mut self, job_id: &str) {
        if let Err(e) = self.printer.clear_memory() {
            tracing::error!(printer = %self.opts.name, job_id, error = %e, "the printer did not clear its stored images");
            let body =
                serde_json::json!({"event": "bitmaps_not_cleared", "printer": self.opts.name, "job_id": job_id, "error": e.to_string()});
            if let Err(je) = self.journal.record_event(body) {
                tracing::warn!(error = %je, "could not queue the event");
            }
        }
    }

    /// Once a card is booked: the counter the journal now expects beside
    /// the one the printer shows (`None`: not read). A difference pauses
    /// the printer for an operator, with both numbers.
    fn counter_after_card(&mut self, expected: u64, found: Option<u64>) -> Result<(), StationError> {
        let Some(gap) = found.and_then(|f| CounterGap::of(expected, f)) else { return Ok(()) };
        self.pause_for(gap)?;
        Ok(())
    }

    fn pause_for(&mut self, gap: CounterGap) -> Result<Step, StationError> {
        tracing::warn!(printer = %self.opts.name, gap = ?gap, "card counter differs from the journal: station paused");
        self.journal.pause_for_counter(&self.opts.name, gap)?;
        let reason = gap.reason();
        self.status(PrinterState::Paused, &format!("pause.{reason}"));
        Ok(Step::Paused(reason.into()))
    }

    /// The printer's card counter must equal the journal's last known
    /// value. A printer seen for the first time is adopted; a new serial on
    /// this port is adopted with an event; any other difference (a blank
    /// unaccounted, a counter that went down) pauses the station until an
    /// operator books it.
    fn check_continuity(&mut self, identity: &cetak_drivers::Identity, cards: u64) -> Result<Option<Step>, StationError> {
        let name = self.opts.name.clone();
        match self.journal.printer(&name)? {
            None => {
                tracing::info!(printer = %name, counter = cards, "printer adopted");
                self.journal.adopt_printer(&name, &identity.serial, &identity.model, cards)?;
                Ok(None)
            }
            Some(p) if p.serial != identity.serial => {
                tracing::warn!(printer = %name, "a different printer is connected; adopted");
                self.journal.adopt_printer(&name, &identity.serial, &identity.model, cards)?;
                Ok(None)
            }
            Some(p) => match CounterGap::of(p.last_counter, cards) {
                None => {
                    if !self.reconciled {
                        self.journal.reconcile(&name, &identity.serial, cards)?;
                        self.reconciled = true;
                    }
                    Ok(None)
                }
                Some(gap) => self.pause_for(gap).map(Some),
            },
        }
    }

    /// Books a print that did not end in the output hopper, by where the
    /// card is and how far the agent got.
    fn book_failure(&mut self, job_id: &str, attempt: u32, before: u64, failure: PrintFailure) -> Result<Step, StationError> {
        let PrintFailure { fault, progress } = failure;
        let spoil = self.opts.spoil_retries;
        tracing::warn!(job_id, attempt, fault = fault.as_str(), panels = progress.panels_done, "print stopped");
        match progress.card {
            CardPosition::NotTaken => {
                self.journal.end_attempt(job_id, attempt, &AttemptEnd::NotFed { fault: fault.as_str().into() }, spoil)?;
                Ok(Step::NotFed { job_id: job_id.into(), fault })
            }
            CardPosition::Unknown => {
                // Settled by recovery when the printer answers again.
                self.lost_before_any_panel = Some(progress.panels_started == 0);
                Ok(self.lost())
            }
            CardPosition::Inside | CardPosition::RejectBox | CardPosition::Output => {
                // Into the reject box if the printer can move it; a jammed
                // card waits for the clerk (status shows how).
                let left_through = progress.card != CardPosition::Inside || self.printer.reject().is_ok();
                // The blank taken is card number `before + 1`; the counter
                // shows it unless it counts at eject and the card is still
                // inside (or will leave by the clerk's hand).
                let counter_after = self.counts_at().after_card(before, left_through);
                let step = if progress.panels_started == 0 && progress.panels_done == 0 {
                    let to = self.journal.end_attempt(
                        job_id,
                        attempt,
                        &AttemptEnd::Spoiled { fault: fault.as_str().into(), counter_after },
                        spoil,
                    )?;
                    Step::Spoiled { job_id: job_id.into(), failed: to == JobState::Failed }
                } else {
                    let end = AttemptEnd::Uncertain {
                        fault: fault.as_str().into(),
                        counter_after: Some(counter_after),
                        panels_done: progress.panels_done,
                    };
                    self.journal.end_attempt(job_id, attempt, &end, spoil)?;
                    tracing::warn!(job_id, "card uncertain: operator must decide");
                    Step::Uncertain(job_id.into())
                };
                let found = self.printer.counters().ok().map(|c| c.cards);
                self.counter_after_card(counter_after, found)?;
                Ok(step)
            }
        }
    }

    /// Steps until `stop` is cancelled. A stop is honoured between cards only:
    /// the card in the printer is always finished. With `until_idle` it
    /// also returns once nothing more can happen without a person: no job
    /// to print, or a printer that waits for a clerk.
    pub fn run(&mut self, stop: &CancellationToken, idle: std::time::Duration, until_idle: bool) -> Result<Step, StationError> {
        let mut last = Step::Idle;
        while !stop.is_cancelled() {
            if let Some(b) = &self.beat {
                b.alive();
            }
            cetak_failpoints::hang("station.step");
            cetak_failpoints::hang(&format!("station.step.{}", self.opts.name));
            last = self.step()?;
            if matches!(last, Step::Idle | Step::Waiting(_) | Step::Paused(_) | Step::Offline | Step::PrinterRefused { .. }) {
                if until_idle {
                    break;
                }
                std::thread::sleep(idle);
            }
        }
        if stop.is_cancelled() {
            // Told to the district in the agent's farewell heartbeat: a
            // stopped station is no sister to share a region's work with.
            self.status(PrinterState::Stopped, "state.stopped");
        }
        Ok(last)
    }

    /// The operator's instruction for what the station waits on.
    pub fn instruction(&self, step: &Step) -> Option<String> {
        match step {
            Step::Waiting(f) => Some(messages::fault(self.opts.lang, *f)),
            Step::Offline => Some(messages::fault(self.opts.lang, Fault::Gone)),
            Step::PrinterRefused { command, answer } => {
                Some(messages::text(self.opts.lang, "printer.refused", &[("command", command), ("answer", answer)]))
            }
            Step::Uncertain(job) => Some(messages::text(self.opts.lang, "job.uncertain", &[("job", job)])),
            _ => None,
        }
    }
}

/// Parses, validates and renders a stored payload (on any thread: it
/// touches neither the journal nor the printer).
fn render_payload(
    renderer: &Renderer,
    job_id: &str,
    bytes: &[u8],
    caps: &cetak_drivers::Capabilities,
) -> Result<cetak_drivers::CardPanels, StationError> {
    let bad = || StationError::Payload { job_id: job_id.to_string() };
    let raw = cetak_model::RawPrr::parse(&String::from_utf8_lossy(bytes)).map_err(|_| bad())?;
    let prr = cetak_model::validate(&raw, crate::clock::today()).prr.ok_or_else(bad)?;
    let panels = renderer.panels(&prr, caps).map_err(|_: RenderError| bad())?;
    cetak_failpoints::hit("render.after");
    Ok(panels)
}
