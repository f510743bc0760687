//! Transports move bytes to and from a printer: open, write, read with a
//! deadline, close. They know nothing of any printer's language. Each is
//! blocking and is driven from the printer's own thread.

pub mod serial;
pub mod tcp;
pub mod usb;

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the connection was closed by the printer")]
    Closed,
    #[error("{what}: {fix}")]
    Unusable { what: String, fix: &'static str },
    /// The device disappeared (unplugged, switched off): it may come back.
    #[error("{0}: the printer is unplugged or switched off: check its power and cable")]
    Unplugged(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Moves bytes to one printer.
pub trait Transport: Send {
    /// (Re)opens the link, after a loss or at start.
    fn open(&mut self) -> Result<(), TransportError>;
    /// Writes every byte within `timeout`.
    fn write_all(&mut self, data: &[u8], timeout: Duration) -> Result<(), TransportError>;
    /// Reads what arrives within `timeout` (at least one byte).
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// After a timeout: drop whatever the printer still sends, so the next
    /// command's reply is not confused with the last one's.
    fn drain(&mut self);
    fn close(&mut self);
    /// What it is connected to, for logs and `cetak printers`.
    fn describe(&self) -> String;
    /// The link's speed in bytes a second, when it is slow enough to matter
    /// (a serial line); `None` for USB and TCP.
    fn bytes_per_second(&self) -> Option<u64>;
}

/// How long to wait for a command's reply: a base for the printer to act
/// (`mechanical`), plus the time to move `payload` bytes over the link with
/// half again as margin.
pub fn deadline(t: &dyn Transport, payload: usize, mechanical: Duration) -> Duration {
    let transfer = match t.bytes_per_second() {
        Some(bps) if bps > 0 => Duration::from_secs_f64(payload as f64 / bps as f64 * 1.5),
        _ => Duration::from_secs_f64(payload as f64 / 1_000_000.0),
    };
    Duration::from_secs(2) + mechanical + transfer
}

/// Serial speed accepted: a colour card at 2,400 baud would take over an
/// hour, so anything below 57,600 is refused.
pub const MIN_BAUD: u32 = 57_600;

impl Transport for Box<dyn Transport> {
    fn open(&mut self) -> Result<(), TransportError> {
        (**self).open()
    }
    fn write_all(&mut self, data: &[u8], timeout: Duration) -> Result<(), TransportError> {
        (**self).write_all(data, timeout)
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        (**self).read(buf, timeout)
    }
    fn drain(&mut self) {
        (**self).drain()
    }
    fn close(&mut self) {
        (**self).close()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn bytes_per_second(&self) -> Option<u64> {
        (**self).bytes_per_second()
    }
}
