//! The USB transport against a fake at the rusb boundary (this machine has
//! no USB bus): selection, claiming, timeout-and-drain, unplugging.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::evolis::EvolisPrinter;
use crate::printer::{Printer, PrinterError};
use crate::transport::usb::{UsbBackend, UsbDeviceInfo, UsbError, UsbHandle, UsbInterface, UsbSelector, UsbTransport, KNOWN_PRINTERS};
use crate::transport::{Transport, TransportError};

/// What the fake device does, and what was done to it.
#[derive(Default)]
struct Script {
    kernel_driver: bool,
    detached: bool,
    claimed: bool,
    open_error: Option<UsbError>,
    claim_error: Option<UsbError>,
    /// Replies to reads, in order; `None` is a timeout.
    reads: VecDeque<Option<Vec<u8>>>,
    written: Vec<Vec<u8>>,
    halts_cleared: usize,
    unplugged: bool,
}

#[derive(Clone)]
struct Fake {
    devices: Vec<UsbDeviceInfo>,
    script: Arc<Mutex<Script>>,
}

struct FakeHandle(Arc<Mutex<Script>>);

fn lock(s: &Arc<Mutex<Script>>) -> std::sync::MutexGuard<'_, Script> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

impl UsbBackend for Fake {
    fn devices(&self) -> Result<Vec<UsbDeviceInfo>, UsbError> {
        Ok(if lock(&self.script).unplugged { Vec::new() } else { self.devices.clone() })
    }
    fn open(&self, _dev: &UsbDeviceInfo) -> Result<Box<dyn UsbHandle>, UsbError> {
        match lock(&self.script).open_error.clone() {
            Some(e) => Err(e),
            None => Ok(Box::new(FakeHandle(Arc::clone(&self.script)))),
        }
    }
}

impl UsbHandle for FakeHandle {
    fn kernel_driver_active(&mut self, _iface: u8) -> Result<bool, UsbError> {
        Ok(lock(&self.0).kernel_driver)
    }
    fn detach_kernel_driver(&mut self, _iface: u8) -> Result<(), UsbError> {
        let mut s = lock(&self.0);
        s.detached = true;
        s.kernel_driver = false;
        Ok(())
    }
    fn claim_interface(&mut self, _iface: u8) -> Result<(), UsbError> {
        let mut s = lock(&self.0);
        if s.kernel_driver {
            return Err(UsbError::Busy);
        }
        if let Some(e) = s.claim_error.clone() {
            return Err(e);
        }
        s.claimed = true;
        Ok(())
    }
    fn write_bulk(&mut self, _ep: u8, data: &[u8], _t: Duration) -> Result<usize, UsbError> {
        let mut s = lock(&self.0);
        if s.unplugged {
            return Err(UsbError::NoDevice);
        }
        s.written.push(data.to_vec());
        Ok(data.len())
    }
    fn read_bulk(&mut self, _ep: u8, buf: &mut [u8], _t: Duration) -> Result<usize, UsbError> {
        let mut s = lock(&self.0);
        if s.unplugged {
            return Err(UsbError::NoDevice);
        }
        match s.reads.pop_front() {
            Some(Some(bytes)) => {
                buf[..bytes.len()].copy_from_slice(&bytes);
                Ok(bytes.len())
            }
            _ => Err(UsbError::Timeout),
        }
    }
    fn clear_halt(&mut self, _ep: u8) -> Result<(), UsbError> {
        lock(&self.0).halts_cleared += 1;
        Ok(())
    }
}

const IFACE: UsbInterface = UsbInterface { number: 0, bulk_out: 0x01, bulk_in: 0x82 };

fn device(bus: u8, address: u8, vendor_id: u16, product_id: u16) -> UsbDeviceInfo {
    UsbDeviceInfo { bus, address, vendor_id, product_id, interface: Some(IFACE) }
}

fn fake(script: Script) -> Fake {
    Fake {
        devices: vec![device(1, 2, 0x046d, 0xc52b), device(1, 5, 0x0F49, 0x1234), device(2, 7, 0x0F49, 0x5678)],
        script: Arc::new(Mutex::new(script)),
    }
}

fn known() -> UsbSelector {
    UsbSelector::Ids(KNOWN_PRINTERS.iter().map(|(v, p, _)| (*v, *p)).collect())
}

#[test]
fn selects_by_known_ids_or_by_bus_and_address() {
    let f = fake(Script::default());
    let mut t = UsbTransport::new(Box::new(f.clone()), known());
    t.open().expect("open");
    assert!(t.describe().contains("001/005"), "{}", t.describe());
    let mut t = UsbTransport::new(Box::new(f.clone()), UsbSelector::BusAddress(2, 7));
    t.open().expect("open");
    assert!(t.describe().contains("002/007"), "{}", t.describe());
    let mut t = UsbTransport::new(Box::new(f), UsbSelector::Ids(vec![(0x1111, 0)]));
    assert!(matches!(t.open(), Err(TransportError::Unplugged(_))));
}

#[test]
fn the_kernel_printer_driver_is_detached_before_the_claim() {
    let f = fake(Script { kernel_driver: true, ..Script::default() });
    let mut t = UsbTransport::new(Box::new(f.clone()), known());
    t.open().expect("open");
    let s = lock(&f.script);
    assert!(s.detached && s.claimed);
}

#[test]
fn busy_and_not_permitted_say_what_to_do() {
    let f = fake(Script { claim_error: Some(UsbError::Busy), ..Script::default() });
    let e = UsbTransport::new(Box::new(f), known()).open().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("claimed by another program"), "{e}");
    let f = fake(Script { open_error: Some(UsbError::Access), ..Script::default() });
    let e = UsbTransport::new(Box::new(f), known()).open().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("60-cetak-printers.rules"), "{e}");
}

#[test]
fn after_a_timeout_the_late_reply_is_drained_and_the_next_command_starts_clean() {
    // Rsn times out; its reply arrives late; Rtp must get its own reply.
    let reads = VecDeque::from(vec![None, Some(b"EMU-LATE\0".to_vec()), None, Some(b"Primacy\0".to_vec())]);
    let f = fake(Script { reads, ..Script::default() });
    let mut p = EvolisPrinter::new(UsbTransport::new(Box::new(f.clone()), known()), true);
    assert!(matches!(p.identify(), Err(PrinterError::Gone)), "a timeout is a lost printer, never a value");
    assert!(lock(&f.script).halts_cleared >= 2, "both endpoints cleared");
    let reply = p.call(&crate::evolis::command::Command::Rtp).expect("next command");
    assert_eq!(reply, crate::evolis::reply::Reply::Value("Primacy".into()), "the stale reply was not drained");
}

#[test]
fn an_unplugged_printer_is_gone_and_comes_back_on_reopen() {
    let f = fake(Script { reads: VecDeque::from(vec![Some(b"7\0".to_vec())]), ..Script::default() });
    let mut p = EvolisPrinter::new(UsbTransport::new(Box::new(f.clone()), known()), true);
    lock(&f.script).unplugged = true;
    assert!(matches!(p.counters(), Err(PrinterError::Gone)));
    lock(&f.script).unplugged = false;
    let mut t = UsbTransport::new(Box::new(f), known());
    assert!(t.open().is_ok(), "replugged: it opens again");
}
