//! One event of a station's consumables ledger (DESIGN §4) as the station
//! stores it and the district receives it, and the hash that chains it to
//! the one before. Both sides compute the hash here, so the district can
//! recompute a station's chain and see a rewritten history.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of a ledger's first event.
pub const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a ledger event records. Stored, sent and hashed as its name
/// (`as_str`), so the chain and the wire keep the text: a kind a newer
/// peer writes still travels and verifies, and reads here as `None` from
/// [`LedgerKind::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LedgerKind {
    /// Blanks into the safe.
    Received,
    /// Blanks from the safe into a hopper (two events: out of one, into the other).
    Loaded,
    /// A card printed from a blank.
    BlankUsed,
    /// A blank spoiled (with its reason).
    BlankSpoiled,
    /// A count's difference, or a blank unaccounted a person booked.
    Adjustment,
    /// A count that matched.
    Counted,
    /// What was left of a ribbon or film written off at a new one.
    Removed,
    RibbonInstalled,
    RibbonUsed,
    FilmInstalled,
    FilmUsed,
    /// A printer (by serial) taken into use, with its counter.
    PrinterAdopted,
    /// The printer's counter matched the ledger at a connection.
    Reconciled,
    /// A service reset of the printer's card counter, booked by a person.
    CounterReset,
}

impl LedgerKind {
    pub const ALL: [LedgerKind; 14] = [
        Self::Received,
        Self::Loaded,
        Self::BlankUsed,
        Self::BlankSpoiled,
        Self::Adjustment,
        Self::Counted,
        Self::Removed,
        Self::RibbonInstalled,
        Self::RibbonUsed,
        Self::FilmInstalled,
        Self::FilmUsed,
        Self::PrinterAdopted,
        Self::Reconciled,
        Self::CounterReset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Loaded => "loaded",
            Self::BlankUsed => "blank_used",
            Self::BlankSpoiled => "blank_spoiled",
            Self::Adjustment => "adjustment",
            Self::Counted => "counted",
            Self::Removed => "removed",
            Self::RibbonInstalled => "ribbon_installed",
            Self::RibbonUsed => "ribbon_used",
            Self::FilmInstalled => "film_installed",
            Self::FilmUsed => "film_used",
            Self::PrinterAdopted => "printer_adopted",
            Self::Reconciled => "reconciled",
            Self::CounterReset => "counter_reset",
        }
    }

    /// The kind a stored name names; `None` for a newer peer's.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// A card's use of a consumable (what the usage rates count).
    pub fn is_use(self) -> bool {
        matches!(self, Self::BlankUsed | Self::BlankSpoiled | Self::RibbonUsed | Self::FilmUsed)
    }

    /// A blank that left a feeder with a card attempt.
    pub fn is_blank_out(self) -> bool {
        matches!(self, Self::BlankUsed | Self::BlankSpoiled)
    }
}

/// Where a consumable is: the office safe, a printer's hopper (blanks), or
/// in a printer (ribbon, film, its counter). Stored as `safe`,
/// `hopper:NAME`, `printer:NAME`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    Safe,
    Hopper(String),
    Printer(String),
}

impl Location {
    pub fn parse(text: &str) -> Option<Self> {
        match text.split_once(':') {
            None if text == "safe" => Some(Self::Safe),
            Some(("hopper", name)) if !name.is_empty() => Some(Self::Hopper(name.into())),
            Some(("printer", name)) if !name.is_empty() => Some(Self::Printer(name.into())),
            _ => None,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Safe => f.write_str("safe"),
            Self::Hopper(p) => write!(f, "hopper:{p}"),
            Self::Printer(p) => write!(f, "printer:{p}"),
        }
    }
}

/// Which consumable an event counts. Stored as its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    Blanko,
    /// Cards' worth of panels.
    Ribbon,
    /// Cards' worth of retransfer film.
    Film,
    /// A printer's card counter (events of quantity 0).
    Counter,
}

impl Item {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blanko => "blanko",
            Self::Ribbon => "ribbon",
            Self::Film => "film",
            Self::Counter => "counter",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Blanko, Self::Ribbon, Self::Film, Self::Counter].into_iter().find(|i| i.as_str() == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LedgerEvent {
    /// Unix seconds.
    pub at: i64,
    /// A [`LedgerKind`]'s name (`received`, `blank_used`, …; a newer
    /// peer's kind too).
    pub kind: String,
    /// A [`Location`]: `safe`, `hopper:PRINTER` or `printer:PRINTER`.
    pub location: String,
    /// An [`Item`]'s name: `blanko`, `ribbon`, `film`, `counter`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_location_and_item_reads_back_as_it_is_stored() {
        for k in LedgerKind::ALL {
            assert_eq!(LedgerKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(LedgerKind::parse("blank_recycled"), None, "a newer peer's kind");
        for l in [Location::Safe, Location::Hopper("meja-1".into()), Location::Printer("p".into())] {
            assert_eq!(Location::parse(&l.to_string()), Some(l));
        }
        assert_eq!(Location::parse("hopper:"), None);
        assert_eq!(Item::parse("film"), Some(Item::Film));
    }
}
