//! The Evolis family: its command language over any transport
//! (`../shared/printers/evolis.md`), and the driver on top.

pub mod bitmap;
pub mod command;
mod factory;
mod printer;
pub mod reply;

pub use factory::{EvolisFactory, EVOLIS};
pub use printer::{to_chip_station, worst_case_card, EvolisPrinter, WireError, MECHANICAL};
