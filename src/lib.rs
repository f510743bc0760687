//! cetak: the print-station agent for e-KTP card printers.
//!
//! One module a concept: [`config`], [`control`] (the operator's socket), [`journal`] (the crash-safe store),
//! [`station`] (one loop per printer), [`render`] (PRR to panels),
//! [`local`] (local job source and result sink), [`messages`] (the
//! Indonesian/English catalog), [`demo`], [`bench`], and [`cli`] (the operator's
//! commands). The binary in `main.rs` only parses arguments.

pub mod bench;
pub mod cli;
pub mod config;
pub mod control;
pub mod demo;
pub mod doctor;
pub mod health;
pub mod journal;
pub mod local;
pub mod logging;
pub mod messages;
pub mod printers;
pub mod queue;
pub mod render;
pub mod service;
pub mod station;
pub mod stock;
pub mod users;

#[cfg(test)]
mod layering;
