//! The physical log: one durable JSON line per card that left the printer.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::EmulatorError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// The output hopper: a card a clerk hands to the resident.
    Output,
    RejectBox,
    /// A jammed card a clerk pulled out.
    RemovedByHand,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PhysicalRecord {
    pub serial: String,
    /// The card counter value when the card was picked.
    pub counter: u64,
    pub destination: Destination,
    /// Panels printed on it.
    pub panels: u8,
    pub k_hash: Option<String>,
    /// Hash of each decoded panel, in print order.
    #[serde(default)]
    pub panel_hashes: Vec<String>,
    /// Whether the printer's card counter counts this card: a card a clerk
    /// pulls out of a printer that counts at eject is never counted, so the
    /// next card picked carries the same number.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub counted: bool,
    /// How many service resets of the counter came before this card: the
    /// numbers start again after each.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u32,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Appends and reads the physical log file.
#[derive(Clone, Debug)]
pub struct PhysicalLog {
    path: PathBuf,
    durable: bool,
}

impl PhysicalLog {
    pub fn new(path: &Path, durable: bool) -> Self {
        Self { path: path.to_path_buf(), durable }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and syncs it before returning.
    pub fn append(&self, rec: &PhysicalRecord) -> Result<(), EmulatorError> {
        let io = |source| EmulatorError::Io { path: self.path.clone(), source };
        let mut line = serde_json::to_vec(rec).map_err(|e| io(std::io::Error::other(e)))?;
        line.push(b'\n');
        let mut f = OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?;
        f.write_all(&line).map_err(io)?;
        if self.durable {
            f.sync_data().map_err(io)?;
        }
        Ok(())
    }

    /// Every record so far; a torn last line (power cut mid-write) is
    /// ignored, as the card it would describe is still in the state file.
    pub fn read(&self) -> Result<Vec<PhysicalRecord>, EmulatorError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(EmulatorError::Io { path: self.path.clone(), source }),
        };
        Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
    }
}
