//! The printer emulator's device model: feeder, ribbon, film, counters,
//! serial number, stored bitmaps, faults and mechanical time, with a state
//! file that survives restarts and a durable physical log.
//!
//! The state file is the printer's own memory: an agent that dies while the
//! emulator runs in its process finds the printer as it was on restart.
//! The physical log holds one JSON line per card that left the printer
//! (output hopper, reject box, or pulled out by hand), with the card
//! counter value at pick and the hash of its K panel. Tests judge the
//! agent's journal against it, never the other way round.

mod device;
mod factory;
mod physlog;
pub mod serve;
mod state;
pub mod wire;

pub use device::{read_memory, Device, DeviceOptions, EmulatedPrinter, FaultPoint, ScheduledFault, StepFault};
pub use factory::{EmulatorFactory, EMULATOR};
pub use physlog::{Destination, PhysicalLog, PhysicalRecord};
pub use state::{DeviceState, InsideCard};

/// Errors of the emulator's own files.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("emulator file {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("emulator state file {path} is corrupt: {source}")]
    Corrupt { path: std::path::PathBuf, source: serde_json::Error },
    /// The printer cannot do that now (a clerk's action refused).
    #[error("printer busy: {0}")]
    Busy(String),
}
