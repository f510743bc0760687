//! The `/v1` wire types between a station and its district (DESIGN §5),
//! shared by both sides so they cannot drift apart. Times on the wire are
//! Unix milliseconds; every response carries the district's (`time_ms`).
//!
//! Compatibility rule: within `/v1` fields are only ever added, and every
//! added field has a default, so an older peer ignores what it does not
//! know and a newer one reads an older peer's messages. Removing or
//! renaming a field, or changing its meaning, needs `/v2`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::envelope::Envelope;

/// Items in one batch (results, held jobs, events) at most: a station
/// sends a few dozen; the document publishes this bound as `maxItems`.
pub const MAX_ITEMS: usize = 500;

/// A station exchanges a one-time code for its identity.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrollRequest {
    pub code: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrollResponse {
    pub station: String,
    /// Bearer token for every later request.
    pub token: String,
    /// The `kode_wilayah` codes this station serves.
    pub regions: Vec<String>,
    pub keys: Vec<PublicKey>,
    pub time_ms: i64,
}

/// One of the district's envelope-signing keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PublicKey {
    pub key_id: String,
    /// Ed25519 public key, hex.
    pub public_key: String,
    #[serde(default)]
    pub revoked: bool,
}

/// Asks for work. Answered at once when there is work or a command,
/// otherwise after at most `wait_s` seconds (long poll).
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct PollRequest {
    /// How many jobs the station's buffer has room for.
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub max_jobs: u32,
    /// Seconds to wait for work before answering empty.
    #[serde(default)]
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub wait_s: u32,
    /// The buffer is full: only urgent jobs, which are exempt from it.
    #[serde(default)]
    pub urgent_only: bool,
    /// Commands the station has carried out (or stored to carry out).
    #[serde(default)]
    pub ack_commands: Vec<i64>,
    /// Assignments the station has stored: the district stops sending
    /// them again.
    #[serde(default)]
    pub confirm: Vec<JobRef>,
    /// Every job the station holds unprinted: the district answers with
    /// those that are no longer the station's (`drop`).
    #[serde(default)]
    pub holding: Vec<JobRef>,
    /// A digest of the station's key set ([`keys_version`]): the district
    /// sends its key set when it differs.
    #[serde(default)]
    pub keys_version: String,
}

/// A digest of a key set, independent of its order.
pub fn keys_version(keys: &[PublicKey]) -> String {
    use sha2::{Digest, Sha256};
    let mut lines: Vec<String> = keys.iter().map(|k| format!("{} {} {}", k.key_id, k.public_key, k.revoked)).collect();
    lines.sort();
    hex::encode(Sha256::digest(lines.join("\n").as_bytes()))
}

/// One assignment: a job and its epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobRef {
    pub job_id: String,
    pub epoch: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct PollResponse {
    pub time_ms: i64,
    #[serde(default)]
    pub jobs: Vec<Assignment>,
    #[serde(default)]
    pub commands: Vec<Command>,
    /// The district's key set, when it differs from the station's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<PublicKey>>,
    /// Jobs a sister station ran dry for: give back those not yet rendered.
    #[serde(default)]
    pub release: Vec<JobRef>,
    /// Jobs the station holds that are no longer its own (reassigned by
    /// an officer, or cancelled): drop them unprinted.
    #[serde(default, rename = "drop")]
    pub drop_jobs: Vec<JobRef>,
    /// The station's regions in which another station has a ready printer
    /// and was seen lately: only jobs of these regions are worth releasing
    /// when this station's printer stays broken (someone else can print
    /// them); the others it keeps.
    #[serde(default)]
    pub ready_sisters: Vec<String>,
}

/// A job handed to this station. It stays the station's until it reports
/// a final result or releases it; the epoch names this assignment.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Assignment {
    pub job_id: String,
    pub epoch: i64,
    pub urgent: bool,
    /// The PRR exactly as imported (one JSON line): the envelope signs
    /// its SHA-256.
    pub prr: String,
    #[schema(value_type = Object)]
    pub envelope: Envelope,
}

/// An officer's command to a station, delivered through the poll until
/// the station acknowledges it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Command {
    pub id: i64,
    pub kind: CommandKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// Finish the card in the printer, start no other; keep the buffer.
    Pause,
    Resume,
    /// As pause, and say so in the status (before an upgrade).
    Drain,
    /// Send a stock report now.
    ReportStock,
    /// Return `job_id` unprinted (waits for a card in the printer).
    Cancel,
    /// Return every job held and not yet printing.
    ReleaseHeld,
    /// Destroy the payloads of jobs already reported (ledger rows and
    /// tombstones stay).
    Purge,
}

impl CommandKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Pause => "pause",
            CommandKind::Resume => "resume",
            CommandKind::Drain => "drain",
            CommandKind::ReportStock => "report_stock",
            CommandKind::Cancel => "cancel",
            CommandKind::ReleaseHeld => "release_held",
            CommandKind::Purge => "purge",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pause, Self::Resume, Self::Drain, Self::ReportStock, Self::Cancel, Self::ReleaseHeld, Self::Purge]
            .into_iter()
            .find(|k| k.as_str() == s.replace('-', "_"))
    }
}

/// The station's state as the fleet view shows it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Heartbeat {
    #[serde(default)]
    pub printers: Vec<PrinterStatus>,
    /// Jobs held and not yet printed.
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub buffer: u32,
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub outbox_depth: u32,
    /// Jobs waiting for an operator (`uncertain`).
    #[serde(default)]
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub uncertain: u32,
    /// The station's system clock minus the district's, as last measured.
    #[serde(default)]
    pub clock_skew_ms: i64,
    #[serde(default)]
    pub version: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct PrinterStatus {
    pub name: String,
    /// idle, printing, waiting, paused, offline, error, hung, stopped or
    /// unknown. Published as a string, not an enum: a state a newer
    /// station adds is read as `unknown`, not refused (the compatibility
    /// rule), and the document says what is accepted.
    #[schema(value_type = String, example = "idle")]
    pub state: PrinterState,
    pub detail: String,
}

/// What a station's printer loop is doing. A state this version does not
/// know (a newer peer's) reads as `unknown`, so older and newer stations
/// and districts still read each other's heartbeats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrinterState {
    /// Ready, waiting for a job.
    Idle,
    /// A card is in the printer.
    Printing,
    /// A standing fault (feeder empty, cover open) waits for the clerk.
    Waiting,
    /// An operator, the district or a counter gap paused it.
    Paused,
    /// The printer does not answer.
    Offline,
    /// The printer or its loop failed (refused a command, a loop restarting).
    Error,
    /// Its loop stopped answering (the watchdog's word).
    Hung,
    /// Its loop ended (the service stopping).
    Stopped,
    /// Not yet said, or a state this version does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl PrinterState {
    pub const ALL: [PrinterState; 9] = [
        PrinterState::Idle,
        PrinterState::Printing,
        PrinterState::Waiting,
        PrinterState::Paused,
        PrinterState::Offline,
        PrinterState::Error,
        PrinterState::Hung,
        PrinterState::Stopped,
        PrinterState::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PrinterState::Idle => "idle",
            PrinterState::Printing => "printing",
            PrinterState::Waiting => "waiting",
            PrinterState::Paused => "paused",
            PrinterState::Offline => "offline",
            PrinterState::Error => "error",
            PrinterState::Hung => "hung",
            PrinterState::Stopped => "stopped",
            PrinterState::Unknown => "unknown",
        }
    }

    /// Reads a state as stored; anything else is `Unknown`.
    pub fn parse(s: &str) -> Self {
        Self::ALL.into_iter().find(|p| p.as_str() == s).unwrap_or(PrinterState::Unknown)
    }
}

/// A state read from its stored name (`unknown` for any other).
impl From<&str> for PrinterState {
    fn from(s: &str) -> Self {
        Self::parse(s)
    }
}

/// A state compares with its stored name.
impl PartialEq<str> for PrinterState {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl std::fmt::Display for PrinterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plain acknowledgement.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Ack {
    pub time_ms: i64,
}

/// Final results, in a batch. Each item is idempotent on
/// (job id, station, epoch, attempt).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ResultsRequest {
    #[schema(max_items = 500)]
    pub results: Vec<JobResult>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobResult {
    pub job_id: String,
    pub epoch: i64,
    /// The attempt that ended the job (0 when no card was tried).
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub attempt: u32,
    pub outcome: Outcome,
    /// A rejection's or failure's code, a release's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Printed,
    Failed,
    Rejected,
    /// Returned unprinted: the district may assign it again.
    Released,
    /// The station cannot print it (its envelope refused, its payload or key
    /// unreadable, a replayed id): given back, and held at the district for
    /// an officer to reissue or close. Never the job's final result.
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Printed => "printed",
            Outcome::Failed => "failed",
            Outcome::Rejected => "rejected",
            Outcome::Released => "released",
            Outcome::Refused => "refused",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ResultsResponse {
    pub time_ms: i64,
    /// One per result sent, in order.
    pub items: Vec<ResultStatus>,
}

/// What the district did with one result. Every one of them means "stop
/// sending it": stored, or (`not_yours`) refused alone, the rest of the
/// batch taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    Applied,
    /// Already stored before (a retry).
    Duplicate,
    /// Stored and flagged: the job belongs to another epoch now.
    Reassigned,
    /// Stored and flagged: the job was cancelled.
    Cancelled,
    /// Not stored: this station never had this assignment. The station
    /// keeps the result flagged for its operator; the batch's other results
    /// are taken.
    NotYours,
}

/// Jobs waiting for an operator's decision (`uncertain`).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HeldReport {
    #[schema(max_items = 500)]
    pub jobs: Vec<HeldJob>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HeldJob {
    pub job_id: String,
    pub epoch: i64,
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub attempt: u32,
    /// What the station's printer said, as a code (no free text, so
    /// nothing personal can ride in it).
    #[schema(pattern = "^[a-z0-9_.]{1,64}$")]
    pub fault: String,
}

/// Station events for the district (a blank unaccounted, a pause).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EventsReport {
    #[schema(max_items = 500)]
    pub events: Vec<StationEvent>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StationEvent {
    /// The station's own id for the event: repeated sends are stored once.
    pub id: i64,
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

/// Consumables: the ledger events since the head the district holds.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StockReport {
    /// Hash of the newest ledger event included.
    pub head: String,
    pub events: Vec<crate::ledger::LedgerEvent>,
}

/// The answer to a stock report.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StockAck {
    pub time_ms: i64,
    /// The head of the station's chain the district holds now: the next
    /// report sends the events after it. `None`: the district holds no
    /// chain for the station (a replaced PC after `stations reset-stock`),
    /// so the next report sends every event.
    #[serde(default)]
    pub head: Option<String>,
}

/// Every error answer: a stable code for programs, a sentence for people.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub error: String,
    pub time_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A newer peer's state reads as `unknown`, not as a refused
    /// heartbeat; every known state reads back as itself.
    #[test]
    fn a_printer_state_this_version_does_not_know_reads_as_unknown() {
        let hb: PrinterStatus = serde_json::from_str(r#"{"name":"p","state":"warming_up","detail":""}"#).expect("read");
        assert_eq!(hb.state, PrinterState::Unknown);
        for s in PrinterState::ALL {
            let json = serde_json::to_string(&s).expect("json");
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<PrinterState>(&json).expect("back"), s);
            assert_eq!(PrinterState::parse(s.as_str()), s);
        }
    }
}
