//! One event of a station's consumables ledger (DESIGN §4) as the station
//! stores it and the district receives it, and the hash that chains it to
//! the one before. Both sides compute the hash here, so the district can
//! recompute a station's chain and see a rewritten history.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of a ledger's first event.
pub const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LedgerEvent {
    /// Unix seconds.
    pub at: i64,
    /// `received`, `loaded`, `blank_used`, `blank_spoiled`, `adjustment`,
    /// `ribbon_installed`, `ribbon_used`, `film_installed`, `film_used`,
    /// `printer_adopted`, …
    pub kind: String,
    /// `safe`, `hopper:PRINTER` or `printer:PRINTER`.
    pub location: String,
    /// `blanko`, `ribbon` (cards' worth of panels), `film` (cards).
    pub item: String,
    /// The change at the location (negative: taken out or used).
    pub quantity: i64,
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub attempt: Option<u32>,
    /// JSON text: batch, version, serials, reason, operator.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The chain hash of an event's fields after `prev`.
#[allow(clippy::too_many_arguments)]
pub fn event_hash(
    prev: &str,
    at: i64,
    kind: &str,
    location: &str,
    item: &str,
    quantity: i64,
    job_id: Option<&str>,
    attempt: Option<u32>,
    detail: &str,
) -> String {
    let canonical = serde_json::json!([prev, at, kind, location, item, quantity, job_id, attempt, detail]).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

impl LedgerEvent {
    /// The hash this event must carry after `prev`.
    pub fn expected_hash(&self, prev: &str) -> String {
        event_hash(prev, self.at, &self.kind, &self.location, &self.item, self.quantity, self.job_id.as_deref(), self.attempt, &self.detail)
    }
}

/// Checks a run of events chained after `head`: `Ok(last hash)` or the
/// index of the first event that does not chain or whose hash is wrong.
pub fn verify_chain(head: &str, events: &[LedgerEvent]) -> Result<String, usize> {
    let mut prev = head.to_string();
    for (i, e) in events.iter().enumerate() {
        if e.prev_hash != prev || e.hash != e.expected_hash(&prev) {
            return Err(i);
        }
        prev = e.hash.clone();
    }
    Ok(prev)
}
