//! The Evolis family as the registry sees it (`kind = "evolis"`): the
//! command language over USB, a serial line or TCP (the emulator as its own
//! process is one too).

use crate::evolis::EvolisPrinter;
use crate::factory::{Family, Found, Link, OpenError, PrinterFactory, Selector};
use crate::transport::serial::{list_ports, SerialSettings, SerialTransport};
use crate::transport::tcp::TcpTransport;
use crate::transport::usb::{matches, RusbBackend, UsbBackend, UsbSelector, UsbTransport, KNOWN_PRINTERS};
use crate::transport::Transport;
use crate::Printer;

pub const EVOLIS: Family = Family::new("evolis");

pub struct EvolisFactory;

/// The known card printers' USB ids, and the config's own `vvvv:pppp`.
fn usb_ids(name: &str, extra: &[String]) -> Result<Vec<(u16, u16)>, OpenError> {
    let mut out: Vec<(u16, u16)> = KNOWN_PRINTERS.iter().map(|(v, p, _)| (*v, *p)).collect();
    for s in extra {
        let parsed = s.split_once(':').and_then(|(v, p)| Some((u16::from_str_radix(v, 16).ok()?, u16::from_str_radix(p, 16).ok()?)));
        let Some(id) = parsed else {
            return Err(OpenError::Config { name: name.into(), reason: format!("usb id {s:?} is not vvvv:pppp in hex") });
        };
        out.push(id);
    }
    Ok(out)
}

/// The transport a link describes.
fn transport(name: &str, link: &Link) -> Result<Box<dyn Transport>, OpenError> {
    let bad = |reason: String| OpenError::Config { name: name.into(), reason };
    Ok(match link {
        Link::Tcp { address } => Box::new(TcpTransport::new(address)),
        Link::Serial { path, baud } => Box::new(
            SerialTransport::new(SerialSettings {
                path: path.clone(),
                baud: *baud,
                parity: serialport::Parity::None,
                flow: serialport::FlowControl::None,
            })
            .map_err(|e| bad(e.to_string()))?,
        ),
        Link::Usb { ids } => {
            let backend = RusbBackend::new().map_err(|e| bad(format!("USB unavailable: {e}")))?;
            Box::new(UsbTransport::new(Box::new(backend), UsbSelector::Ids(usb_ids(name, ids)?)))
        }
    })
}

impl PrinterFactory for EvolisFactory {
    fn family(&self) -> Family {
        EVOLIS
    }

    fn wired(&self) -> bool {
        true
    }

    /// USB devices with a known card printer's ids, and serial ports
    /// (without opening them).
    fn list(&self) -> Vec<Found> {
        let mut found = Vec::new();
        match RusbBackend::new() {
            Ok(backend) => {
                let ids: Vec<(u16, u16)> = KNOWN_PRINTERS.iter().map(|(v, p, _)| (*v, *p)).collect();
                for d in backend.devices().unwrap_or_default() {
                    if matches(&ids, &d) {
                        let at = format!("usb {:03}/{:03} {:04x}:{:04x}", d.bus, d.address, d.vendor_id, d.product_id);
                        found.push(Found { family: EVOLIS, at });
                    }
                }
            }
            Err(e) => found.push(Found { family: EVOLIS, at: format!("usb: not available ({e})") }),
        }
        found.extend(list_ports().into_iter().map(|p| Found { family: EVOLIS, at: format!("serial {p}") }));
        found
    }

    fn open(&self, selector: &Selector) -> Result<Box<dyn Printer>, OpenError> {
        let Some(link) = &selector.link else {
            return Err(OpenError::Config { name: selector.name.clone(), reason: "no transport".into() });
        };
        Ok(Box::new(EvolisPrinter::new(transport(&selector.name, link)?, selector.compress)))
    }
}
