//! cetak: the print-station agent for e-KTP card printers.
//!
//! One module a concept (the map, with which way each arrow points, is
//! `docs/architecture.md`): [`service`] (the composition root: the daemon
//! and its platform sides), [`cli`] (the operator's commands; `main.rs`
//! only parses arguments), [`station`] (one loop a printer), [`queue`]
//! (the district's poller and reporter), [`control`] (the operator's
//! socket), [`health`] (the health endpoint and metrics), [`journal`] (the
//! crash-safe store), [`stock`] (the ledger's fold and reports),
//! [`printers`] (opening what the config names, through the drivers'
//! registry), [`render`] (PRR to panels), [`local`] (the local job source
//! and result sink), [`messages`] (the Indonesian/English catalog),
//! [`config`], [`doctor`], [`demo`], [`bench`], and the leaves [`clock`],
//! [`logging`] and [`users`].

pub mod bench;
pub mod cli;
pub mod clock;
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
