//! Opening the printers the config names: one factory for every kind, so
//! the station loop runs unchanged in process or on a wire.

use std::path::Path;

use cetak_drivers::emulator::{Device, DeviceOptions};
use cetak_drivers::evolis::EvolisPrinter;
use cetak_drivers::transport::serial::{SerialSettings, SerialTransport};
use cetak_drivers::transport::tcp::TcpTransport;
use cetak_drivers::transport::usb::{RusbBackend, UsbSelector, UsbTransport, KNOWN_PRINTERS};
use cetak_drivers::transport::Transport;
use cetak_drivers::Printer;

use crate::config::{PrinterConfig, PrinterKind, TransportKind};
use crate::messages::{self, text, Lang};

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("printer {name}: {reason}")]
    Config { name: String, reason: String },
    #[error(transparent)]
    Emulator(#[from] cetak_drivers::emulator::EmulatorError),
}

fn parse_ids(name: &str, ids: &[String]) -> Result<Vec<(u16, u16)>, OpenError> {
    let mut out: Vec<(u16, u16)> = KNOWN_PRINTERS.iter().map(|(v, p, _)| (*v, *p)).collect();
    for s in ids {
        let parsed = s.split_once(':').and_then(|(v, p)| Some((u16::from_str_radix(v, 16).ok()?, u16::from_str_radix(p, 16).ok()?)));
        let Some(id) = parsed else {
            return Err(OpenError::Config { name: name.into(), reason: format!("usb id {s:?} is not vvvv:pppp in hex") });
        };
        out.push(id);
    }
    Ok(out)
}

/// The transport a wire printer's config describes.
pub fn transport(cfg: &PrinterConfig) -> Result<Box<dyn Transport>, OpenError> {
    let bad = |reason: String| OpenError::Config { name: cfg.name.clone(), reason };
    Ok(match cfg.transport {
        Some(TransportKind::Tcp) => Box::new(TcpTransport::new(cfg.address.as_deref().unwrap_or_default())),
        Some(TransportKind::Serial) => Box::new(
            SerialTransport::new(SerialSettings {
                path: cfg.path.clone().unwrap_or_default(),
                baud: cfg.baud,
                parity: serialport::Parity::None,
                flow: serialport::FlowControl::None,
            })
            .map_err(|e| bad(e.to_string()))?,
        ),
        Some(TransportKind::Usb) => {
            let backend = RusbBackend::new().map_err(|e| bad(format!("USB unavailable: {e}")))?;
            Box::new(UsbTransport::new(Box::new(backend), UsbSelector::Ids(parse_ids(&cfg.name, &cfg.usb_ids)?)))
        }
        None => return Err(bad("no transport".into())),
    })
}

/// Opens the printer a config entry names. The in-process emulator keeps
/// its memory in `dir` or `<state_dir>/emulator/<name>`.
pub fn open(cfg: &PrinterConfig, state_dir: &Path) -> Result<Box<dyn Printer>, OpenError> {
    match cfg.kind {
        PrinterKind::Emulator => {
            let dir = cfg.dir.clone().unwrap_or_else(|| state_dir.join("emulator").join(&cfg.name));
            let device = Device::open(
                &dir,
                &DeviceOptions {
                    time_scale: cfg.time_scale,
                    serial: cfg.serial.clone(),
                    count_at_eject: cfg.counts_at == Some(cetak_drivers::CountsAt::Eject),
                    ..DeviceOptions::default()
                },
            )?;
            Ok(Box::new(device.printer()))
        }
        PrinterKind::Evolis => Ok(Box::new(EvolisPrinter::new(transport(cfg)?, cfg.compress))),
    }
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

/// USB devices with a known card printer's ids, and serial ports, found on
/// this machine (without opening them).
pub fn discover() -> Vec<String> {
    let mut found = Vec::new();
    match RusbBackend::new() {
        Ok(backend) => {
            use cetak_drivers::transport::usb::UsbBackend;
            let ids: Vec<(u16, u16)> = KNOWN_PRINTERS.iter().map(|(v, p, _)| (*v, *p)).collect();
            for d in backend.devices().unwrap_or_default() {
                if cetak_drivers::transport::usb::matches(&ids, &d) {
                    found.push(format!("usb {:03}/{:03} {:04x}:{:04x}", d.bus, d.address, d.vendor_id, d.product_id));
                }
            }
        }
        Err(e) => found.push(format!("usb: not available ({e})")),
    }
    for p in cetak_drivers::transport::serial::list_ports() {
        found.push(format!("serial {p}"));
    }
    found
}

/// A config entry's link, for display.
pub fn link_of(cfg: &PrinterConfig) -> String {
    match (cfg.kind, cfg.transport) {
        (PrinterKind::Emulator, _) => "emulator (in process)".into(),
        (_, Some(TransportKind::Tcp)) => format!("tcp://{}", cfg.address.as_deref().unwrap_or("?")),
        (_, Some(TransportKind::Serial)) => format!("serial://{}@{}", cfg.path.as_deref().unwrap_or("?"), cfg.baud),
        (_, Some(TransportKind::Usb)) => "usb".into(),
        (_, None) => "?".into(),
    }
}
