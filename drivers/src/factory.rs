//! Finding and opening printers: one factory per family, one registry the
//! agent asks (probe-rs's `ProbeFactory` is the model: list what is
//! connected, open by selector). A new family (the spooler, the chip
//! encoder) adds a factory to [`Registry::standard`]; the agent's config,
//! `cetak printers` and the daemon do not change.

use std::path::PathBuf;

use crate::{CountsAt, Printer};

/// A printer family's name, as a config's `kind = "..."` names it: one of
/// the registry's, so an unknown kind is refused when the config is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Family(&'static str);

impl Family {
    /// Only a family's own module names it.
    pub(crate) const fn new(name: &'static str) -> Self {
        Self(name)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// How a wire printer is reached.
#[derive(Clone, Debug, PartialEq)]
pub enum Link {
    /// `host:port`.
    Tcp { address: String },
    /// A serial device and its line speed.
    Serial { path: String, baud: u32 },
    /// The first USB device of a known card printer, or of these
    /// `vvvv:pppp` ids (product 0000: any), as the config wrote them.
    Usb { ids: Vec<String> },
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Link::Tcp { address } => write!(f, "tcp://{address}"),
            Link::Serial { path, baud } => write!(f, "serial://{path}@{baud}"),
            Link::Usb { .. } => f.write_str("usb"),
        }
    }
}

/// What a config entry says of one printer, in no family's words: each
/// family's factory reads what it needs.
#[derive(Clone, Debug)]
pub struct Selector {
    /// The station's name for the printer (errors name it).
    pub name: String,
    pub family: Family,
    /// The wire, for families that have one.
    pub link: Option<Link>,
    /// In-process emulator: its memory folder.
    pub memory: PathBuf,
    /// In-process emulator: the serial number a new one gets.
    pub serial: String,
    /// In-process emulator: mechanical time scale, 1.0 is real time.
    pub time_scale: f64,
    /// When the card counter steps, where the config says.
    pub counts_at: Option<CountsAt>,
    /// Send panels compressed when that is shorter.
    pub compress: bool,
}

/// A printer this machine can see, found without opening it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub family: Family,
    /// Where, as a person reads it (`usb 001/004 0f49:1234`).
    pub at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The config entry cannot name a printer of its family.
    #[error("printer {name}: {reason}")]
    Config { name: String, reason: String },
    #[error(transparent)]
    Emulator(#[from] crate::emulator::EmulatorError),
}

/// One printer family's way of finding and opening its printers.
pub trait PrinterFactory: Send + Sync {
    fn family(&self) -> Family;
    /// Whether its printers are reached over a [`Link`] (the config then
    /// needs a transport) or made in process (the config may give none).
    fn wired(&self) -> bool;
    /// The printers of this family this machine can see.
    fn list(&self) -> Vec<Found>;
    /// Opens the printer a selector names. Nothing is sent to it yet.
    fn open(&self, selector: &Selector) -> Result<Box<dyn Printer>, OpenError>;
    /// Where the printer is, for display.
    fn describe(&self, selector: &Selector) -> String {
        selector.link.as_ref().map_or_else(|| "?".into(), Link::to_string)
    }
}

/// Every family this build drives.
pub struct Registry {
    factories: Vec<Box<dyn PrinterFactory>>,
}

impl Registry {
    /// The families cetak ships: the in-process emulator and Evolis.
    pub fn standard() -> Self {
        Self { factories: vec![Box::new(crate::emulator::EmulatorFactory), Box::new(crate::evolis::EvolisFactory)] }
    }

    /// The family a config's `kind` names.
    pub fn family(&self, kind: &str) -> Option<Family> {
        self.factories.iter().map(|f| f.family()).find(|f| f.as_str() == kind)
    }

    /// The families' names, for an error that lists them.
    pub fn families(&self) -> Vec<Family> {
        self.factories.iter().map(|f| f.family()).collect()
    }

    fn factory(&self, family: Family) -> Result<&dyn PrinterFactory, OpenError> {
        self.factories
            .iter()
            .find(|f| f.family() == family)
            .map(|f| f.as_ref())
            .ok_or_else(|| OpenError::Config { name: String::new(), reason: format!("no driver for kind = \"{family}\"") })
    }

    /// Whether a family's printers are reached over a wire.
    pub fn wired(&self, family: Family) -> bool {
        self.factory(family).is_ok_and(|f| f.wired())
    }

    pub fn open(&self, selector: &Selector) -> Result<Box<dyn Printer>, OpenError> {
        self.factory(selector.family)?.open(selector)
    }

    pub fn describe(&self, selector: &Selector) -> String {
        self.factory(selector.family).map_or_else(|_| "?".into(), |f| f.describe(selector))
    }

    /// Every printer of every family this machine can see.
    pub fn list(&self) -> Vec<Found> {
        self.factories.iter().flat_map(|f| f.list()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_registry_names_each_family_once_and_no_other() {
        let r = Registry::standard();
        let names: Vec<&str> = r.families().into_iter().map(Family::as_str).collect();
        assert_eq!(names, ["emulator", "evolis"]);
        assert_eq!(r.family("evolis").map(Family::as_str), Some("evolis"));
        assert_eq!(r.family("fargo"), None);
    }
}
