//! The integration suite, linked into one test binary (fast builds on two
//! cores). Helpers live in `support`.

mod support;

mod cli;
mod continuity;
mod control;
mod crash;
mod disks;
mod district;
pub mod envelopes;
mod faults;
mod fleet;
mod hostile;
mod journal;
mod matrix;
mod offices;
mod priority;
mod privacy;
mod properties;
mod protocol;
mod render;
mod service;
mod soak;
mod stock;
mod stock_properties;
mod transitions;
mod validation;
mod villages;
mod wire;
