//! The emulated printer's persistent memory, written atomically.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use super::EmulatorError;

/// A card inside the printer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InsideCard {
    /// The card counter value when this card was picked.
    pub counter: u64,
    pub panels: u8,
    pub k_hash: Option<String>,
    /// Hash of each panel printed on it, in order.
    #[serde(default)]
    pub panel_hashes: Vec<String>,
    /// A jammed card cannot be moved by the printer: a clerk removes it.
    pub jammed: bool,
}

/// Everything the printer remembers across power cycles.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceState {
    pub model: String,
    pub serial: String,
    pub firmware: String,
    pub card_counter: u64,
    pub panel_counter: u64,
    pub feeder: u32,
    pub feeder_capacity: u32,
    /// Ribbon panels left (a YMCKO card takes five).
    pub ribbon_panels: u32,
    /// Film panels left; `None` on direct-to-card models.
    pub film_panels: Option<u32>,
    pub cover_open: bool,
    pub card_inside: Option<InsideCard>,
    /// Host-managed error handling, as `Pem;18` sets it.
    pub host_managed_errors: bool,
    /// Bitmaps held in the printer's memory (kind letters); cleared after
    /// each card so no resident's image stays in the printer.
    pub stored_bitmaps: Vec<char>,
    /// Commands that would make the printer print by itself (`Sc`, `St`)
    /// received: cetak must never send one.
    #[serde(default)]
    pub reprint_commands: u32,
    /// The card counter steps when a card leaves the printer rather than
    /// when it is taken from the feeder (printers differ: docs/hardware.md).
    #[serde(default)]
    pub count_at_eject: bool,
    /// Service resets of the card counter so far (a board replaced).
    #[serde(default)]
    pub counter_generation: u32,
    /// The printer refuses to clear its stored bitmaps (a fault to test
    /// that cetak says so).
    #[serde(default)]
    pub refuse_clear: bool,
}

/// Where the state lives, and whether each write is synced.
#[derive(Clone, Debug)]
pub(crate) struct StatePath {
    pub path: PathBuf,
    pub durable: bool,
}

pub(crate) fn load(path: &StatePath) -> Result<Option<DeviceState>, EmulatorError> {
    let path = path.path.as_path();
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|source| EmulatorError::Corrupt { path: path.to_path_buf(), source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(EmulatorError::Io { path: path.to_path_buf(), source }),
    }
}

/// Writes the state to a temporary file, syncs it, and renames it over the
/// old one, so a crash leaves either the old state or the new.
pub(crate) fn save(at: &StatePath, state: &DeviceState) -> Result<(), EmulatorError> {
    let path = at.path.as_path();
    let io = |source| EmulatorError::Io { path: path.to_path_buf(), source };
    let tmp: PathBuf = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| io(std::io::Error::other(e)))?;
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(&bytes).map_err(io)?;
    if at.durable {
        f.sync_all().map_err(io)?;
    }
    fs::rename(&tmp, path).map_err(io)?;
    if let (true, Some(dir)) = (at.durable, path.parent()) {
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}
