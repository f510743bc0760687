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

mod recovery;

use std::sync::atomic::{AtomicBool, Ordering};

use cetak_drivers::{CardPosition, Fault, PrintFailure, Printer};
use serde_json::json;

use crate::journal::{AttemptEnd, JobState, Journal, JournalError};
use crate::messages::{self, Lang};
use crate::render::{self, RenderError};

#[derive(Debug, thiserror::Error)]
pub enum StationError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("job {job_id}: stored payload no longer validates")]
    Payload { job_id: String },
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
    /// A ready job whose envelope no longer verifies (its key revoked since
    /// it was checked): returned unprinted, with the reason reported.
    Refused(String),
}

pub struct Station<P: Printer> {
    opts: StationOptions,
    printer: P,
    journal: Journal,
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
    beat: Option<std::sync::Arc<crate::service::watchdog::Beat>>,
    /// The status last recorded: an idle loop does not rewrite (and fsync)
    /// the same row twice a second.
    shown: Option<(String, String)>,
}

impl<P: Printer> Station<P> {
    pub fn new(journal: Journal, printer: P, opts: StationOptions) -> Self {
        Self {
            opts,
            printer,
            journal,
            connected: false,
            lost_before_any_panel: None,
            ahead: None,
            reconciled: false,
            beat: None,
            shown: None,
        }
    }

    /// Reports this loop's progress to the watchdog's supervisor.
    pub fn with_beat(mut self, beat: std::sync::Arc<crate::service::watchdog::Beat>) -> Self {
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

    /// Validates and fit-checks every `assigned` job: each becomes `ready`
    /// or `rejected` with its first finding's code and field.
    pub fn prepare_assigned(&mut self) -> Result<(), StationError> {
        let caps = self.printer.capabilities();
        for job in self.journal.jobs_in(JobState::Assigned)? {
            let done = match self.check_job(&job.job_id, &caps) {
                Ok(Ok(approved)) => self.journal.mark_ready(&job.job_id, approved),
                Ok(Err((code, field))) => {
                    tracing::info!(job_id = %job.job_id, code = %code, "job rejected");
                    self.journal.reject(&job.job_id, &code, &field)
                }
                Err(StationError::Journal(e)) => Err(e),
                Err(e) => return Err(e),
            };
            match done {
                Ok(()) => {}
                // The district client released it meanwhile (a cancel, a
                // drop, a dry sister): nothing to do here.
                Err(_) if self.released_meanwhile(&job.job_id) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
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

    /// `Ok(approved)` when the job can print; else the rejection's code and
    /// field. The rendered card is discarded (one card ahead is enough).
    fn check_job(&self, job_id: &str, caps: &cetak_drivers::Capabilities) -> Result<Result<bool, (String, String)>, StationError> {
        let bytes = self.journal.payload(job_id)?;
        let text = String::from_utf8_lossy(&bytes);
        let Ok(raw) = cetak_model::RawPrr::parse(&text) else {
            return Ok(Err(("payload.not_json".into(), "payload".into())));
        };
        let v = cetak_model::validate(&raw, crate::journal::today());
        if let Some(f) = v.findings.iter().find(|f| f.severity == cetak_model::Severity::Invalid) {
            return Ok(Err((f.code.clone(), f.field.to_string())));
        }
        if raw.job_id() != Some(job_id) {
            return Ok(Err(("job_id.mismatch".into(), "job_id".into())));
        }
        let mut approved = false;
        if !self.opts.local_mode {
            match self.check_envelope(job_id, &text)? {
                Ok(a) => approved = a,
                Err(code) => return Ok(Err((code.into(), "envelope".into()))),
            }
            if !approved && !cetak_drivers::failpoint::door_open("approval") {
                if let Some(f) = v.findings.iter().find(|f| f.severity == cetak_model::Severity::NeedsApproval) {
                    return Ok(Err((f.code.clone(), f.field.to_string())));
                }
            }
        }
        if self.opts.local_mode {
            if let Some(f) = v.findings.iter().find(|f| f.severity == cetak_model::Severity::NeedsApproval) {
                return Ok(Err((f.code.clone(), f.field.to_string())));
            }
        }
        let Some(prr) = v.prr else { return Ok(Err(("payload.invalid".into(), "payload".into()))) };
        match render::render(&prr, caps) {
            Ok(_) => Ok(Ok(approved)),
            Err(e) => Ok(Err(e.code())),
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
            None => (crate::journal::now(), 600, 7 * 86_400),
        };
        let checks = cetak_model::envelope::Checks { regions: &enrolment.regions, now, max_ahead, max_age };
        Ok(match cetak_model::envelope::verify(&env, prr, &enrolment.key_set(), &checks) {
            Ok(()) => Ok(env.approved),
            Err(e) if cetak_drivers::failpoint::door_open(e.code()) => Ok(env.approved),
            Err(e) => {
                tracing::warn!(job_id, reason = %e, "envelope refused");
                Err(e.code())
            }
        })
    }

    fn render_job(&mut self, job_id: &str) -> Result<cetak_drivers::CardPanels, StationError> {
        if let Some((id, panels)) = self.ahead.take() {
            if id == job_id {
                return Ok(panels);
            }
        }
        let bytes = self.journal.payload(job_id)?;
        render_payload(job_id, &bytes, &self.printer.capabilities())
    }

    /// The job after `current`, with its payload, to render while
    /// `current` prints.
    fn next_to_render(&self, current: &str) -> Option<(String, Vec<u8>)> {
        let next = self.journal.jobs_in(JobState::Ready).ok()?.into_iter().find(|j| j.job_id != current)?;
        let bytes = self.journal.payload(&next.job_id).ok()?;
        Some((next.job_id, bytes))
    }

    fn status(&mut self, state: &str, detail: &str) {
        if self.shown.as_ref().is_some_and(|(s, d)| s == state && d == detail) {
            return;
        }
        match self.journal.set_station_status(&self.opts.name, state, detail) {
            Ok(()) => self.shown = Some((state.to_string(), detail.to_string())),
            Err(e) => tracing::warn!(error = %e, "could not record station status"),
        }
    }

    fn lost(&mut self) -> Step {
        self.connected = false;
        self.reconciled = false;
        self.status("offline", "fault.gone");
        Step::Offline
    }

    /// Moves at most one card. See the module doc for the order of checks.
    pub fn step(&mut self) -> Result<Step, StationError> {
        self.prepare_assigned()?;
        if self.opts.local_mode {
            crate::local::acknowledge_all(&mut self.journal)?;
        }
        if !self.connected {
            match self.recover() {
                Ok(Some(step)) => return Ok(step),
                Ok(None) => {}
                Err(recovery::RecoveryError::Printer(_)) => return Ok(self.lost()),
                Err(recovery::RecoveryError::Journal(e)) => return Err(e.into()),
            }
        }
        if let Some((reason, _)) = self.journal.pause_of(&self.opts.name)? {
            self.status("paused", &format!("pause.{reason}"));
            return Ok(Step::Paused(reason));
        }
        // A standing fault is shown even with nothing to print, so the
        // clerk refills blanks or ribbon before the next job arrives.
        let status = match self.printer.status() {
            Ok(s) => s,
            Err(_) => return Ok(self.lost()),
        };
        if let Some(f) = status.faults.first().copied().or(status.card_inside.then_some(Fault::CardInside)) {
            self.status("waiting", &format!("fault.{}", f.as_str()));
            return Ok(Step::Waiting(f));
        }
        let Some(job) = self.journal.next_ready()? else {
            self.status("idle", "state.idle");
            return Ok(Step::Idle);
        };
        let job_id = job.job_id.clone();
        match self.print_next(job) {
            Err(_) if self.released_meanwhile(&job_id) => Ok(Step::Idle),
            other => other,
        }
    }

    /// Prints `job` (ready). An error while the card has not started is
    /// judged by the caller: the district client may have released the job
    /// meanwhile, which is no fault.
    fn print_next(&mut self, job: crate::journal::JobRow) -> Result<Step, StationError> {
        // Checked again right before the card: a key may have been revoked
        // since the job became ready.
        if !self.opts.local_mode {
            let prr = String::from_utf8_lossy(&self.journal.payload(&job.job_id)?).into_owned();
            if let Err(code) = self.check_envelope(&job.job_id, &prr)? {
                self.journal.release(&job.job_id, code)?;
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
        let panels = self.render_job(&job.job_id)?;
        let k_hash = panels.k_hash();
        let attempt = self.journal.begin_attempt(&job.job_id, &self.opts.name, &identity.serial, counters.cards, k_hash.as_deref())?;
        self.status("printing", &job.job_id);
        tracing::info!(job_id = %job.job_id, attempt, "printing");
        // Print this card and, meanwhile, render the next.
        let next = self.next_to_render(&job.job_id);
        let caps = self.printer.capabilities();
        if let Some(b) = &self.beat {
            b.busy_for(self.printer.card_deadline());
        }
        let printer = &mut self.printer;
        let (printed, ahead) = std::thread::scope(|scope| {
            let renderer = next.map(|(id, bytes)| scope.spawn(move || render_payload(&id, &bytes, &caps).ok().map(|p| (id, p))));
            let printed = printer.print(&panels);
            (printed, renderer.and_then(|h| h.join().ok().flatten()))
        });
        self.ahead = ahead;
        let step = match printed {
            Ok(after) => {
                self.journal.end_attempt(
                    &job.job_id,
                    attempt,
                    &AttemptEnd::Printed { counter_after: after.cards },
                    self.opts.spoil_retries,
                )?;
                tracing::info!(job_id = %job.job_id, attempt, "printed");
                Step::Printed(job.job_id.clone())
            }
            Err(failure) => self.book_failure(&job.job_id, attempt, counters.cards, failure)?,
        };
        if self.opts.local_mode {
            crate::local::acknowledge_all(&mut self.journal)?;
        }
        Ok(step)
    }

    /// The printer's card counter must equal the journal's last known
    /// value. A printer seen for the first time is adopted; a new serial on
    /// this port is adopted with an event; any other difference is a blank
    /// unaccounted and pauses the station until an operator books it.
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
            Some(p) if p.last_counter == cards => {
                if !self.reconciled {
                    self.journal.reconcile(&name, &identity.serial, cards)?;
                    self.reconciled = true;
                }
                Ok(None)
            }
            Some(p) => {
                let diff = cards as i64 - p.last_counter as i64;
                tracing::warn!(printer = %name, expected = p.last_counter, found = cards, "blank unaccounted: station paused");
                self.journal.pause(&name, "blank_unaccounted", json!({"expected": p.last_counter, "found": cards, "cards": diff}))?;
                self.status("paused", "pause.blank_unaccounted");
                Ok(Some(Step::Paused("blank_unaccounted".into())))
            }
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
                if progress.card == CardPosition::Inside {
                    // Into the reject box if the printer can move it; a
                    // jammed card waits for the clerk (status shows how).
                    let _ = self.printer.reject();
                }
                // A blank was taken: it is card number `before + 1`, whether
                // the printer's counter steps at pick or only at eject.
                let counter_after = before + 1;
                if progress.panels_started == 0 && progress.panels_done == 0 {
                    let to = self.journal.end_attempt(
                        job_id,
                        attempt,
                        &AttemptEnd::Spoiled { fault: fault.as_str().into(), counter_after },
                        spoil,
                    )?;
                    Ok(Step::Spoiled { job_id: job_id.into(), failed: to == JobState::Failed })
                } else {
                    let end = AttemptEnd::Uncertain {
                        fault: fault.as_str().into(),
                        counter_after: Some(counter_after),
                        panels_done: progress.panels_done,
                    };
                    self.journal.end_attempt(job_id, attempt, &end, spoil)?;
                    tracing::warn!(job_id, "card uncertain: operator must decide");
                    Ok(Step::Uncertain(job_id.into()))
                }
            }
        }
    }

    /// Steps until `stop` is set. A stop is honoured between cards only:
    /// the card in the printer is always finished. With `until_idle` it
    /// also returns once nothing more can happen without a person: no job
    /// to print, or a printer that waits for a clerk.
    pub fn run(&mut self, stop: &AtomicBool, idle: std::time::Duration, until_idle: bool) -> Result<Step, StationError> {
        let mut last = Step::Idle;
        while !stop.load(Ordering::SeqCst) {
            if let Some(b) = &self.beat {
                b.alive();
            }
            cetak_drivers::failpoint::hang("station.step");
            last = self.step()?;
            if matches!(last, Step::Idle | Step::Waiting(_) | Step::Paused(_) | Step::Offline) {
                if until_idle {
                    break;
                }
                std::thread::sleep(idle);
            }
        }
        if stop.load(Ordering::SeqCst) {
            // Told to the district in the agent's farewell heartbeat: a
            // stopped station is no sister to share a region's work with.
            self.status("stopped", "state.stopped");
        }
        Ok(last)
    }

    /// The operator's instruction for what the station waits on.
    pub fn instruction(&self, step: &Step) -> Option<String> {
        match step {
            Step::Waiting(f) => Some(messages::fault(self.opts.lang, *f)),
            Step::Offline => Some(messages::fault(self.opts.lang, Fault::Gone)),
            Step::Uncertain(job) => Some(messages::text(self.opts.lang, "job.uncertain", &[("job", job)])),
            _ => None,
        }
    }
}

/// Parses, validates and renders a stored payload (on any thread: it
/// touches neither the journal nor the printer).
fn render_payload(job_id: &str, bytes: &[u8], caps: &cetak_drivers::Capabilities) -> Result<cetak_drivers::CardPanels, StationError> {
    let bad = || StationError::Payload { job_id: job_id.to_string() };
    let raw = cetak_model::RawPrr::parse(&String::from_utf8_lossy(bytes)).map_err(|_| bad())?;
    let prr = cetak_model::validate(&raw, crate::journal::today()).prr.ok_or_else(bad)?;
    let panels = render::render(&prr, caps).map_err(|_: RenderError| bad())?;
    cetak_drivers::failpoint::hit("render.after");
    Ok(panels)
}
