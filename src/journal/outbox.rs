//! The outbox's messages: what the station owes the district, one typed
//! message a row. The transition that owes a message writes it in its own
//! transaction; the reporter (or the local sink) reads it back as the same
//! type and matches on it, so "reported exactly once" rests on one
//! contract the compiler checks, not on JSON keys picked apart by hand.
//!
//! A row keeps its kind (`result`, `held`, `event`) in a column, for the
//! journal's own queries, and the message's JSON as its body. The bodies
//! are the ones earlier versions wrote, so a journal written before this
//! type existed reads back unchanged.

use cetak_model::wire::Outcome;
use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::{job_state, now, state, Ctx, JobState, Journal, JournalError, Result};

/// The kind of a message, as the outbox's `kind` column has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Result,
    Held,
    Event,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Result => "result",
            Kind::Held => "held",
            Kind::Event => "event",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Kind::Result, Kind::Held, Kind::Event].into_iter().find(|k| k.as_str() == s)
    }
}

/// One message for the district.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// A job's result: final (printed, failed, rejected) or a give-back
    /// (released, refused).
    Result(JobResult),
    /// A card the station cannot say came out: the district keeps the job
    /// assigned here until the operator settles it.
    Held(HeldCard),
    /// Anything else the district should know (a pause, an operator's
    /// action, a printer loop that failed): a JSON object named by its
    /// `event` key, about a job or not.
    Event { job_id: Option<String>, body: serde_json::Value },
}

/// A job's result as the station owes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub job_id: String,
    pub result: Outcome,
    /// A rejection's, failure's or refusal's code; a release's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The field a rejection names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The attempt that ended the job (0 when no card was tried).
    #[serde(default)]
    pub attempt: u32,
    /// The assignment's epoch when it is not the job's own in the journal
    /// (a replay refused); otherwise the job's epoch at sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
    /// The printer that printed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer_serial: Option<String>,
    /// The operator who settled an uncertain card as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_uid: Option<u32>,
    /// Spoiled cards, for a job failed at the spoil limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spoils: Option<u32>,
}

impl JobResult {
    /// A result with only its job, outcome and code.
    pub fn new(job_id: &str, result: Outcome, code: Option<&str>) -> Self {
        Self {
            job_id: job_id.to_string(),
            result,
            code: code.map(str::to_string),
            field: None,
            attempt: 0,
            epoch: None,
            printer_serial: None,
            operator_uid: None,
            spoils: None,
        }
    }
}

/// What a held card is (one state today; named so the body says it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldState {
    Uncertain,
}

/// A card held uncertain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeldCard {
    pub job_id: String,
    pub state: HeldState,
    /// The printer's fault, as a code.
    pub fault: String,
    pub attempt: u32,
    /// The assignment's epoch, when the body names it; otherwise the job's
    /// epoch at sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
}

/// An outbox row that does not read as a message: written by a newer
/// version, or damaged. Never sent as something else; kept flagged.
#[derive(Debug, thiserror::Error)]
#[error("outbox message {id} ({kind}) cannot be read: {reason}")]
pub struct Unreadable {
    pub id: i64,
    pub kind: String,
    pub reason: String,
}

impl Message {
    pub fn kind(&self) -> Kind {
        match self {
            Message::Result(_) => Kind::Result,
            Message::Held(_) => Kind::Held,
            Message::Event { .. } => Kind::Event,
        }
    }

    /// The job the message is about, if any.
    pub fn job_id(&self) -> Option<&str> {
        match self {
            Message::Result(r) => Some(&r.job_id),
            Message::Held(h) => Some(&h.job_id),
            Message::Event { job_id, .. } => job_id.as_deref(),
        }
    }

    /// The row's body. An error is not swallowed into an empty body (which
    /// would be set aside as unreadable later): the transaction that owes
    /// the message fails instead.
    pub fn body(&self) -> serde_json::Result<String> {
        match self {
            Message::Result(r) => serde_json::to_string(r),
            Message::Held(h) => serde_json::to_string(h),
            Message::Event { body, .. } => serde_json::to_string(body),
        }
    }

    /// Reads a row back.
    pub fn read(id: i64, kind: &str, job_id: Option<&str>, body: &str) -> Result<Self, Unreadable> {
        let unreadable = |reason: String| Unreadable { id, kind: kind.to_string(), reason };
        let kind = Kind::parse(kind).ok_or_else(|| unreadable("an unknown kind".into()))?;
        let message = match kind {
            Kind::Result => Message::Result(serde_json::from_str(body).map_err(|e| unreadable(e.to_string()))?),
            Kind::Held => Message::Held(serde_json::from_str(body).map_err(|e| unreadable(e.to_string()))?),
            Kind::Event => {
                let body: serde_json::Value = serde_json::from_str(body).map_err(|e| unreadable(e.to_string()))?;
                if !body.is_object() {
                    return Err(unreadable("an event that is not a JSON object".into()));
                }
                Message::Event { job_id: job_id.map(str::to_string), body }
            }
        };
        if message.job_id() != job_id {
            return Err(unreadable("its body names another job than its row".into()));
        }
        Ok(message)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub job_id: Option<String>,
    pub body: String,
}

impl OutboxRow {
    /// The row as the message it holds.
    pub fn message(&self) -> std::result::Result<Message, Unreadable> {
        Message::read(self.id, &self.kind, self.job_id.as_deref(), &self.body)
    }
}

impl Journal {
    /// Every outbox message ever queued, acknowledged or not.
    pub fn outbox_history(&self) -> Result<Vec<OutboxRow>> {
        let mut stmt = self.conn.prepare("SELECT id, kind, job_id, body FROM outbox ORDER BY id").map_err(self.ctx.sql())?;
        let rows = stmt
            .query_map([], |r| Ok(OutboxRow { id: r.get(0)?, kind: r.get(1)?, job_id: r.get(2)?, body: r.get(3)? }))
            .map_err(self.ctx.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx.sql())
    }

    pub fn pending_outbox(&self) -> Result<Vec<OutboxRow>> {
        let mut stmt =
            self.conn.prepare("SELECT id, kind, job_id, body FROM outbox WHERE acked_at IS NULL ORDER BY id").map_err(self.ctx.sql())?;
        let rows = stmt
            .query_map([], |r| Ok(OutboxRow { id: r.get(0)?, kind: r.get(1)?, job_id: r.get(2)?, body: r.get(3)? }))
            .map_err(self.ctx.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx.sql())
    }

    /// The district (or the local sink) acknowledged these messages. A
    /// final result moves its job to `reported` and then `purged`: its
    /// payload is destroyed, then any day key no payload needs.
    pub fn ack_outbox(&mut self, ids: &[i64]) -> Result<usize> {
        let tx = self.ctx.begin(&mut self.conn)?;
        let mut purged = 0;
        for id in ids {
            let row: Option<(String, Option<String>)> = tx
                .query_row("SELECT kind, job_id FROM outbox WHERE id = ?1 AND acked_at IS NULL", [id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(self.ctx.sql())?;
            tx.execute("UPDATE outbox SET acked_at = ?2 WHERE id = ?1", params![id, now()]).map_err(self.ctx.sql())?;
            let result_kind = Kind::Result.as_str();
            let Some((_, Some(job_id))) = row.filter(|(kind, _)| kind == result_kind) else { continue };
            // A message about a job this journal does not hold (nothing to
            // move) is only acknowledged.
            let Some(st) = job_state(&tx, &job_id).map_err(self.ctx.sql())? else { continue };
            let st: JobState = st.parse().map_err(|e: state::UnknownState| JournalError::Corrupt(e.0))?;
            // Given back is not finished: a released job keeps its state
            // (its payload went at the release), so the district may assign
            // it here again.
            if st.is_final() && st != JobState::Released {
                self.ctx.transition(&tx, &job_id, st, JobState::Reported, "acknowledged")?;
                self.ctx.transition(&tx, &job_id, JobState::Reported, JobState::Purged, "payload destroyed")?;
                tx.execute("UPDATE jobs SET payload = NULL WHERE job_id = ?1", [&job_id]).map_err(self.ctx.sql())?;
                purged += 1;
            }
        }
        self.ctx.commit(tx)?;
        if purged > 0 {
            self.destroy_unused_keys()?;
        }
        Ok(purged)
    }

    /// Queues an event for the district that changes no job (a printer
    /// loop that failed, a printer that kept its stored images).
    pub fn record_event(&mut self, body: serde_json::Value) -> Result<()> {
        let tx = self.ctx.begin(&mut self.conn)?;
        let job_id = body["job_id"].as_str().map(str::to_string);
        self.ctx.outbox(&tx, &Message::Event { job_id, body })?;
        self.ctx.commit(tx)
    }

    /// The bodies of events named `event` queued since `since` (Unix
    /// seconds), oldest first.
    pub fn recent_events(&self, event: &str, since: i64) -> Result<Vec<serde_json::Value>> {
        let mut stmt = self
            .conn
            .prepare("SELECT body FROM outbox WHERE kind = 'event' AND created_at >= ?1 AND json_extract(body, '$.event') = ?2 ORDER BY id")
            .map_err(self.ctx.sql())?;
        let rows = stmt.query_map(params![since, event], |r| r.get::<_, String>(0)).map_err(self.ctx.sql())?;
        let mut out = Vec::new();
        for r in rows {
            out.push(serde_json::from_str(&r.map_err(self.ctx.sql())?).unwrap_or_default());
        }
        Ok(out)
    }

    /// Acknowledges messages the district refused alone (a result for an
    /// assignment it says this station never had): no longer sent, kept
    /// with `flag` for the operator (`cetak status`, `/metrics`).
    pub fn ack_flagged(&mut self, ids: &[i64], flag: &str) -> Result<usize> {
        {
            let tx = self.ctx.begin(&mut self.conn)?;
            for id in ids {
                tx.execute("UPDATE outbox SET flag = ?2 WHERE id = ?1", params![id, flag]).map_err(self.ctx.sql())?;
            }
            self.ctx.commit(tx)?;
        }
        self.ack_outbox(ids)
    }

    /// Sets aside messages that cannot be read (`Message::read`): flagged
    /// and no longer sent, and nothing moves on their account (a final
    /// result set aside does not make its job reported).
    pub fn set_aside(&mut self, ids: &[i64], flag: &str) -> Result<usize> {
        let tx = self.ctx.begin(&mut self.conn)?;
        let mut n = 0;
        for id in ids {
            n += tx
                .execute("UPDATE outbox SET flag = ?2, acked_at = ?3 WHERE id = ?1 AND acked_at IS NULL", params![id, flag, now()])
                .map_err(self.ctx.sql())?;
        }
        self.ctx.commit(tx)?;
        Ok(n)
    }

    /// Messages kept flagged: (job id, flag).
    pub fn flagged_outbox(&self) -> Result<Vec<(Option<String>, String)>> {
        let mut stmt = self.conn.prepare("SELECT job_id, flag FROM outbox WHERE flag IS NOT NULL ORDER BY id").map_err(self.ctx.sql())?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(self.ctx.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx.sql())
    }
}

impl Ctx {
    /// Queues an event for the district.
    pub(crate) fn event(&self, tx: &Transaction<'_>, job_id: Option<&str>, body: serde_json::Value) -> Result<()> {
        self.outbox(tx, &Message::Event { job_id: job_id.map(str::to_string), body })
    }

    pub(super) fn outbox(&self, tx: &Transaction<'_>, message: &Message) -> Result<()> {
        let body = message.body().map_err(|e| JournalError::Corrupt(format!("an outbox message that does not serialize: {e}")))?;
        tx.execute(
            "INSERT INTO outbox (kind, job_id, body, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![message.kind().as_str(), message.job_id(), body, now()],
        )
        .map_err(self.sql())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(m: &Message) -> Message {
        Message::read(1, m.kind().as_str(), m.job_id(), &m.body().expect("body")).expect("reads back")
    }

    #[test]
    fn every_message_reads_back_as_itself() {
        let mut printed = JobResult::new("j1", Outcome::Printed, None);
        printed.attempt = 2;
        printed.printer_serial = Some("S".into());
        let messages = [
            Message::Result(printed),
            Message::Result(JobResult { field: Some("nik".into()), ..JobResult::new("j2", Outcome::Rejected, Some("nik.length")) }),
            Message::Result(JobResult { epoch: Some(4), ..JobResult::new("j3", Outcome::Refused, Some("job_id.replayed")) }),
            Message::Held(HeldCard { job_id: "j4".into(), state: HeldState::Uncertain, fault: "jam".into(), attempt: 1, epoch: None }),
            Message::Event { job_id: None, body: serde_json::json!({"event": "blank_unaccounted", "printer": "p"}) },
            Message::Event { job_id: Some("j5".into()), body: serde_json::json!({"event": "operator_action", "job_id": "j5"}) },
        ];
        for m in &messages {
            assert_eq!(&round_trip(m), m);
        }
    }

    /// The bodies the journal wrote before the outbox was typed (a journal
    /// on disk from the previous version) read as the same messages.
    #[test]
    fn bodies_written_by_the_previous_version_read_as_their_messages() {
        let rows = [
            ("result", r#"{"job_id":"a","result":"printed","attempt":1,"printer_serial":"S"}"#, Outcome::Printed, 1, None),
            ("result", r#"{"job_id":"a","result":"rejected","code":"nik.length","field":"nik"}"#, Outcome::Rejected, 0, None),
            ("result", r#"{"job_id":"a","result":"failed","code":"spoil_limit","spoils":3}"#, Outcome::Failed, 0, None),
            ("result", r#"{"job_id":"a","result":"printed","attempt":2,"operator_uid":0}"#, Outcome::Printed, 2, None),
            (
                "result",
                r#"{"job_id":"a","result":"refused","code":"job_id.replayed","field":"job_id","epoch":7}"#,
                Outcome::Refused,
                0,
                Some(7),
            ),
            ("result", r#"{"job_id":"a","result":"released","code":"drain"}"#, Outcome::Released, 0, None),
        ];
        for (kind, body, outcome, attempt, epoch) in rows {
            let Ok(Message::Result(r)) = Message::read(1, kind, Some("a"), body) else { panic!("{body}") };
            assert_eq!((r.result, r.attempt, r.epoch), (outcome, attempt, epoch), "{body}");
        }
        let held = Message::read(2, "held", Some("a"), r#"{"job_id":"a","state":"uncertain","fault":"jam","attempt":3}"#);
        assert!(matches!(held, Ok(Message::Held(HeldCard { attempt: 3, .. }))), "{held:?}");
    }

    /// The reporter once read any outcome it did not know as `rejected`,
    /// a final result the district would have taken: such a row is now
    /// unreadable, and never sent as something else.
    #[test]
    fn a_result_of_an_unknown_outcome_is_unreadable_not_rejected() {
        for (kind, body) in [
            ("result", r#"{"job_id":"a","result":"printed_twice"}"#),
            ("result", r#"{"job_id":"a"}"#),
            ("result", "not json"),
            ("held", r#"{"job_id":"a","state":"lost","fault":"jam","attempt":1}"#),
            ("event", "[1,2]"),
            ("receipt", "{}"),
            ("result", r#"{"job_id":"b","result":"printed"}"#),
        ] {
            let r = Message::read(9, kind, Some("a"), body);
            assert!(r.is_err(), "{kind} {body}: {r:?}");
        }
    }
}
