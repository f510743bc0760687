//! The in-process emulator as a printer family (`kind = "emulator"`):
//! training, the demo and the tests. It is made, not found: its memory
//! folder is the printer.

use crate::emulator::{Device, DeviceOptions};
use crate::factory::{Family, Found, OpenError, PrinterFactory, Selector};
use crate::{CountsAt, Printer};

pub const EMULATOR: Family = Family::new("emulator");

pub struct EmulatorFactory;

impl PrinterFactory for EmulatorFactory {
    fn family(&self) -> Family {
        EMULATOR
    }

    fn wired(&self) -> bool {
        false
    }

    fn list(&self) -> Vec<Found> {
        Vec::new()
    }

    fn open(&self, selector: &Selector) -> Result<Box<dyn Printer>, OpenError> {
        let options = DeviceOptions {
            time_scale: selector.time_scale,
            serial: selector.serial.clone(),
            count_at_eject: selector.counts_at == Some(CountsAt::Eject),
            ..DeviceOptions::default()
        };
        Ok(Box::new(Device::open(&selector.memory, &options)?.printer()))
    }

    fn describe(&self, _selector: &Selector) -> String {
        "emulator (in process)".into()
    }
}
