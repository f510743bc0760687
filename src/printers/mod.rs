//! Opening the printers the config names, through the drivers' registry
//! (one factory a family), so the station loop runs unchanged in process
//! or on a wire, and a new family changes nothing here.

use std::path::Path;

use cetak_drivers::factory::Registry;
use cetak_drivers::Printer;

pub use cetak_drivers::factory::OpenError;

use crate::config::PrinterConfig;
use crate::messages::{self, text, Lang};

/// Opens the printer a config entry names. The in-process emulator keeps
/// its memory in `dir` or `<state_dir>/emulator/<name>`.
pub fn open(cfg: &PrinterConfig, state_dir: &Path) -> Result<Box<dyn Printer>, OpenError> {
    Registry::standard().open(&cfg.selector(state_dir))
}

/// What `cetak printers` shows of one printer.
#[derive(Clone, Debug, Default)]
pub struct PrinterReport {
    pub name: String,
    pub link: String,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub firmware: Option<String>,
    pub cards: Option<u64>,
    pub ribbon_left: Option<u32>,
    pub state: String,
}

/// The harmless checks of `cetak printers test`: connect, set and read back
/// the error mode, identify, read counters and status. No card is used.
pub fn check(name: &str, link: String, printer: &mut dyn Printer, lang: Lang) -> PrinterReport {
    let mut r = PrinterReport { name: name.to_string(), link, ..PrinterReport::default() };
    match printer.prepare() {
        Ok(()) => {}
        // It answered: power and cable are fine; say what it refused.
        Err(cetak_drivers::PrinterError::Refused { command, answer }) => {
            r.state = text(lang, "printer.refused", &[("command", &command), ("answer", &answer)]);
            return r;
        }
        Err(e) => {
            r.state = format!("{} ({e})", text(lang, "fault.gone", &[]));
            return r;
        }
    }
    if let Ok(id) = printer.identify() {
        r.model = Some(id.model);
        r.serial = Some(id.serial);
        r.firmware = Some(id.firmware);
    }
    r.cards = printer.counters().ok().map(|c| c.cards);
    r.state = match printer.status() {
        Ok(s) => {
            r.ribbon_left = s.ribbon_left;
            if s.ready() {
                "ready".into()
            } else {
                let mut faults: Vec<String> = s.faults.iter().map(|f| messages::fault(lang, *f)).collect();
                if s.card_inside {
                    faults.push(messages::fault(lang, cetak_drivers::Fault::CardInside));
                }
                faults.join("; ")
            }
        }
        Err(e) => format!("{} ({e})", text(lang, "fault.gone", &[])),
    };
    r
}

/// The printers of every family found on this machine (without opening
/// them).
pub fn discover() -> Vec<String> {
    Registry::standard().list().into_iter().map(|f| f.at).collect()
}

/// A config entry's link, for display.
pub fn link_of(cfg: &PrinterConfig) -> String {
    Registry::standard().describe(&cfg.selector(Path::new("")))
}
