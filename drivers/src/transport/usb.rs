//! USB card printers through `rusb` (libusb, built from source by the
//! `vendored` feature). The libusb calls sit behind [`UsbBackend`] and
//! [`UsbHandle`], so selection, claiming, the timeout-and-drain rule and
//! unplugging are tested with a fake; this is the only code that differs
//! on real hardware.

use std::time::Duration;

use super::{Transport, TransportError};

/// A USB device as the bus lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbDeviceInfo {
    pub bus: u8,
    pub address: u8,
    pub vendor_id: u16,
    pub product_id: u16,
    /// The printer-class interface and its bulk endpoints, when found.
    pub interface: Option<UsbInterface>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsbInterface {
    pub number: u8,
    pub bulk_out: u8,
    pub bulk_in: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsbError {
    #[error("timed out")]
    Timeout,
    #[error("device gone")]
    NoDevice,
    #[error("device busy")]
    Busy,
    #[error("access denied")]
    Access,
    #[error("endpoint stalled")]
    Pipe,
    #[error("{0}")]
    Other(String),
}

/// Lists and opens USB devices.
pub trait UsbBackend: Send {
    fn devices(&self) -> Result<Vec<UsbDeviceInfo>, UsbError>;
    fn open(&self, dev: &UsbDeviceInfo) -> Result<Box<dyn UsbHandle>, UsbError>;
}

/// An open USB device.
pub trait UsbHandle: Send {
    fn kernel_driver_active(&mut self, iface: u8) -> Result<bool, UsbError>;
    fn detach_kernel_driver(&mut self, iface: u8) -> Result<(), UsbError>;
    fn claim_interface(&mut self, iface: u8) -> Result<(), UsbError>;
    fn write_bulk(&mut self, ep: u8, data: &[u8], timeout: Duration) -> Result<usize, UsbError>;
    fn read_bulk(&mut self, ep: u8, buf: &mut [u8], timeout: Duration) -> Result<usize, UsbError>;
    fn clear_halt(&mut self, ep: u8) -> Result<(), UsbError>;
}

/// Which device to drive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsbSelector {
    /// The first device whose ids are in the list.
    Ids(Vec<(u16, u16)>),
    /// Exactly this bus and address.
    BusAddress(u8, u8),
}

/// Card printers known by USB ids. Evolis' vendor id 0x0F49 is widely
/// given but unverified (docs/hardware.md); Magicard is 0x0C1F. A config
/// may add ids.
pub const KNOWN_PRINTERS: &[(u16, u16, &str)] = &[(0x0F49, 0x0000, "Evolis (any product)"), (0x0C1F, 0x0000, "Magicard (any product)")];

/// Whether a device matches one of `ids`; a product id of 0 matches any
/// product of that vendor.
pub fn matches(ids: &[(u16, u16)], dev: &UsbDeviceInfo) -> bool {
    ids.iter().any(|&(v, p)| v == dev.vendor_id && (p == 0 || p == dev.product_id))
}

fn unusable(e: UsbError, what: String) -> TransportError {
    let fix = match e {
        UsbError::Busy => {
            "the printer is claimed by another program (a vendor driver or CUPS): stop it; cetak detaches the kernel's usblp itself"
        }
        UsbError::Access => {
            "permission denied: install config/60-cetak-printers.rules, put the service user in the cetak group, then replug the printer"
        }
        UsbError::NoDevice => "the printer is unplugged or switched off: check its power and USB cable",
        _ => "check the USB cable and the printer, then try again",
    };
    TransportError::Unusable { what, fix }
}

pub struct UsbTransport {
    backend: Box<dyn UsbBackend>,
    selector: UsbSelector,
    open: Option<(Box<dyn UsbHandle>, UsbInterface, UsbDeviceInfo)>,
}

impl UsbTransport {
    pub fn new(backend: Box<dyn UsbBackend>, selector: UsbSelector) -> Self {
        Self { backend, selector, open: None }
    }

    fn select(&self) -> Result<UsbDeviceInfo, TransportError> {
        let devices = self.backend.devices().map_err(|e| unusable(e, "listing USB devices".into()))?;
        let found = devices.into_iter().find(|d| match &self.selector {
            UsbSelector::Ids(ids) => matches(ids, d),
            UsbSelector::BusAddress(b, a) => d.bus == *b && d.address == *a,
        });
        found.ok_or_else(|| TransportError::Unplugged(format!("no USB card printer matches {:?}", self.selector)))
    }

    fn handle(&mut self) -> Result<&mut (Box<dyn UsbHandle>, UsbInterface, UsbDeviceInfo), TransportError> {
        if self.open.is_none() {
            self.open()?;
        }
        self.open.as_mut().ok_or(TransportError::Closed)
    }

    /// A lost device is forgotten, so the next command reopens it.
    fn lost(&mut self, e: UsbError, timeout: Duration) -> TransportError {
        match e {
            UsbError::Timeout => TransportError::Timeout(timeout),
            UsbError::NoDevice => {
                self.open = None;
                TransportError::Unplugged("USB printer".into())
            }
            other => unusable(other, "USB transfer".into()),
        }
    }
}

impl Transport for UsbTransport {
    fn open(&mut self) -> Result<(), TransportError> {
        self.open = None;
        let dev = self.select()?;
        let iface = dev.interface.ok_or_else(|| TransportError::Unusable {
            what: format!("USB device {:04x}:{:04x} has no printer-class interface with bulk endpoints", dev.vendor_id, dev.product_id),
            fix: "check that this is the card printer, not another device",
        })?;
        let what = format!("USB printer on bus {} address {}", dev.bus, dev.address);
        let mut h = self.backend.open(&dev).map_err(|e| unusable(e, what.clone()))?;
        if h.kernel_driver_active(iface.number).unwrap_or(false) {
            h.detach_kernel_driver(iface.number).map_err(|e| unusable(e, what.clone()))?;
        }
        h.claim_interface(iface.number).map_err(|e| unusable(e, what))?;
        self.open = Some((h, iface, dev));
        Ok(())
    }

    fn write_all(&mut self, data: &[u8], timeout: Duration) -> Result<(), TransportError> {
        let mut sent = 0;
        while sent < data.len() {
            let (h, iface, _) = self.handle()?;
            let ep = iface.bulk_out;
            match h.write_bulk(ep, &data[sent..], timeout) {
                Ok(n) => sent += n,
                Err(e) => return Err(self.lost(e, timeout)),
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let (h, iface, _) = self.handle()?;
        let ep = iface.bulk_in;
        loop {
            match h.read_bulk(ep, buf, timeout) {
                // A zero-length packet is no answer yet.
                Ok(0) => continue,
                Ok(n) => return Ok(n),
                Err(e) => return Err(self.lost(e, timeout)),
            }
        }
    }

    /// Cancels what is pending: clears both endpoints and reads away any
    /// late reply, so the next command starts clean.
    fn drain(&mut self) {
        if let Some((h, iface, _)) = self.open.as_mut() {
            let _ = h.clear_halt(iface.bulk_out);
            let _ = h.clear_halt(iface.bulk_in);
            let mut sink = [0u8; 512];
            for _ in 0..64 {
                match h.read_bulk(iface.bulk_in, &mut sink, Duration::from_millis(20)) {
                    Ok(n) if n > 0 => continue,
                    _ => break,
                }
            }
        }
    }

    fn close(&mut self) {
        self.open = None;
    }

    fn describe(&self) -> String {
        match &self.open {
            Some((_, _, d)) => format!("usb://{:03}/{:03} ({:04x}:{:04x})", d.bus, d.address, d.vendor_id, d.product_id),
            None => format!("usb ({:?})", self.selector),
        }
    }

    fn bytes_per_second(&self) -> Option<u64> {
        None
    }
}

/// The real bus, through libusb.
pub struct RusbBackend {
    ctx: rusb::Context,
}

use rusb::UsbContext;

impl RusbBackend {
    pub fn new() -> Result<Self, UsbError> {
        rusb::Context::new().map(|ctx| Self { ctx }).map_err(usb_error)
    }
}

fn usb_error(e: rusb::Error) -> UsbError {
    match e {
        rusb::Error::Timeout => UsbError::Timeout,
        rusb::Error::NoDevice | rusb::Error::NotFound => UsbError::NoDevice,
        rusb::Error::Busy => UsbError::Busy,
        rusb::Error::Access => UsbError::Access,
        rusb::Error::Pipe => UsbError::Pipe,
        other => UsbError::Other(other.to_string()),
    }
}

/// The printer-class (7) interface with a bulk OUT and a bulk IN endpoint.
fn printer_interface(dev: &rusb::Device<rusb::Context>) -> Option<UsbInterface> {
    let config = dev.active_config_descriptor().ok()?;
    for iface in config.interfaces() {
        for alt in iface.descriptors() {
            if alt.class_code() != 7 {
                continue;
            }
            let mut out = None;
            let mut inp = None;
            for ep in alt.endpoint_descriptors() {
                if ep.transfer_type() == rusb::TransferType::Bulk {
                    match ep.direction() {
                        rusb::Direction::Out => out = Some(ep.address()),
                        rusb::Direction::In => inp = Some(ep.address()),
                    }
                }
            }
            if let (Some(bulk_out), Some(bulk_in)) = (out, inp) {
                return Some(UsbInterface { number: alt.interface_number(), bulk_out, bulk_in });
            }
        }
    }
    None
}

impl UsbBackend for RusbBackend {
    fn devices(&self) -> Result<Vec<UsbDeviceInfo>, UsbError> {
        let list = self.ctx.devices().map_err(usb_error)?;
        Ok(list
            .iter()
            .filter_map(|d| {
                let desc = d.device_descriptor().ok()?;
                Some(UsbDeviceInfo {
                    bus: d.bus_number(),
                    address: d.address(),
                    vendor_id: desc.vendor_id(),
                    product_id: desc.product_id(),
                    interface: printer_interface(&d),
                })
            })
            .collect())
    }

    fn open(&self, info: &UsbDeviceInfo) -> Result<Box<dyn UsbHandle>, UsbError> {
        let list = self.ctx.devices().map_err(usb_error)?;
        let dev = list.iter().find(|d| d.bus_number() == info.bus && d.address() == info.address).ok_or(UsbError::NoDevice)?;
        Ok(Box::new(RusbHandle(dev.open().map_err(usb_error)?)))
    }
}

struct RusbHandle(rusb::DeviceHandle<rusb::Context>);

impl UsbHandle for RusbHandle {
    fn kernel_driver_active(&mut self, iface: u8) -> Result<bool, UsbError> {
        self.0.kernel_driver_active(iface).map_err(usb_error)
    }
    fn detach_kernel_driver(&mut self, iface: u8) -> Result<(), UsbError> {
        self.0.detach_kernel_driver(iface).map_err(usb_error)
    }
    fn claim_interface(&mut self, iface: u8) -> Result<(), UsbError> {
        self.0.claim_interface(iface).map_err(usb_error)
    }
    fn write_bulk(&mut self, ep: u8, data: &[u8], timeout: Duration) -> Result<usize, UsbError> {
        self.0.write_bulk(ep, data, timeout).map_err(usb_error)
    }
    fn read_bulk(&mut self, ep: u8, buf: &mut [u8], timeout: Duration) -> Result<usize, UsbError> {
        self.0.read_bulk(ep, buf, timeout).map_err(usb_error)
    }
    fn clear_halt(&mut self, ep: u8) -> Result<(), UsbError> {
        self.0.clear_halt(ep).map_err(usb_error)
    }
}
