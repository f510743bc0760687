//! Card printer drivers for cetak: what a station loop sees of a printer
//! (the [`Printer`] trait), the panels it prints, and the printer emulator.
//!
//! The emulator is one device model ([`emulator::Device`]) with a durable
//! physical log: the ground truth tests judge the agent's journal against.
//! The wire protocols (Evolis over USB, serial, TCP) come in front of this
//! same model; there is never a second emulator.

pub mod emulator;
pub mod evolis;
pub mod factory;
pub use cetak_failpoints as failpoint;
pub mod panel;
pub mod printer;
pub mod transport;

pub use panel::{CardImage, CardPanels, Panel, PanelKind};
pub use printer::{
    Capabilities, CardPosition, Counters, CountsAt, Fault, Identity, LineOrientation, PrintFailure, PrintProgress, Printer, PrinterError,
    Status,
};

#[cfg(test)]
mod tests;
