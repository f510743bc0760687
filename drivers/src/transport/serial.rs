//! Serial lines through `serialport` (also a pseudo-terminal, which is how
//! the tests reach the emulator through a real tty).

use std::io::{Read, Write};
use std::time::Duration;

use serialport::{FlowControl, Parity, SerialPort};

use super::{Transport, TransportError, MIN_BAUD};

/// Serial settings from the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerialSettings {
    pub path: String,
    pub baud: u32,
    pub parity: Parity,
    pub flow: FlowControl,
}

pub struct SerialTransport {
    settings: SerialSettings,
    port: Option<Box<dyn SerialPort>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{baud} baud is too slow for card printing (a colour card at 2,400 baud takes over an hour): use {MIN_BAUD} or faster")]
pub struct TooSlow {
    pub baud: u32,
}

impl SerialTransport {
    /// Refuses a speed below [`MIN_BAUD`], with the reason.
    pub fn new(settings: SerialSettings) -> Result<Self, TooSlow> {
        if settings.baud < MIN_BAUD {
            return Err(TooSlow { baud: settings.baud });
        }
        Ok(Self { settings, port: None })
    }

    fn port(&mut self) -> Result<&mut Box<dyn SerialPort>, TransportError> {
        if self.port.is_none() {
            self.open()?;
        }
        self.port.as_mut().ok_or(TransportError::Closed)
    }
}

fn serial_error(e: serialport::Error) -> TransportError {
    match e.kind() {
        serialport::ErrorKind::NoDevice => TransportError::Unplugged(e.description),
        serialport::ErrorKind::Io(std::io::ErrorKind::PermissionDenied) => TransportError::Unusable {
            what: e.description,
            fix: "permission denied: add the service user to the 'dialout' group (or install the udev rule), then restart",
        },
        _ => TransportError::Io(std::io::Error::other(e.description)),
    }
}

impl Transport for SerialTransport {
    fn open(&mut self) -> Result<(), TransportError> {
        self.port = None;
        let s = &self.settings;
        let port = serialport::new(&s.path, s.baud)
            .parity(s.parity)
            .flow_control(s.flow)
            .timeout(Duration::from_secs(1))
            .open()
            .map_err(serial_error)?;
        self.port = Some(port);
        Ok(())
    }

    fn write_all(&mut self, data: &[u8], timeout: Duration) -> Result<(), TransportError> {
        let port = self.port()?;
        port.set_timeout(timeout.max(Duration::from_millis(1))).map_err(serial_error)?;
        port.write_all(data).map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => TransportError::Timeout(timeout),
            _ => TransportError::Io(e),
        })?;
        port.flush().map_err(TransportError::Io)
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let port = self.port()?;
        port.set_timeout(timeout.max(Duration::from_millis(1))).map_err(serial_error)?;
        match port.read(buf) {
            Ok(0) => Err(TransportError::Closed),
            Ok(n) => Ok(n),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {
                Err(TransportError::Timeout(timeout))
            }
            Err(e) => {
                self.port = None;
                Err(TransportError::Io(e))
            }
        }
    }

    fn drain(&mut self) {
        if let Some(p) = self.port.as_mut() {
            let _ = p.clear(serialport::ClearBuffer::All);
            let mut sink = [0u8; 4096];
            let _ = p.set_timeout(Duration::from_millis(50));
            while matches!(p.read(&mut sink), Ok(n) if n > 0) {}
        }
    }

    fn close(&mut self) {
        self.port = None;
    }

    fn describe(&self) -> String {
        format!("serial://{}@{}", self.settings.path, self.settings.baud)
    }

    fn bytes_per_second(&self) -> Option<u64> {
        // 8N1: ten bits a byte on the line.
        Some(u64::from(self.settings.baud) / 10)
    }
}

/// Serial ports on this machine, for `cetak printers`.
pub fn list_ports() -> Vec<String> {
    serialport::available_ports().map(|v| v.into_iter().map(|p| p.port_name).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_line_is_refused_with_the_reason() {
        let s = SerialSettings { path: "/dev/ttyS0".into(), baud: 9600, parity: Parity::None, flow: FlowControl::None };
        let e = SerialTransport::new(s).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("57600"), "{e}");
    }
}
