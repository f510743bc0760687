//! TCP, for printers with Ethernet (and the emulator on loopback).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::{Transport, TransportError};

pub struct TcpTransport {
    addr: String,
    stream: Option<TcpStream>,
}

impl TcpTransport {
    pub fn new(addr: &str) -> Self {
        Self { addr: addr.to_string(), stream: None }
    }

    fn stream(&mut self) -> Result<&mut TcpStream, TransportError> {
        if self.stream.is_none() {
            self.open()?;
        }
        self.stream.as_mut().ok_or(TransportError::Closed)
    }
}

fn io_error(e: std::io::Error, timeout: Duration) -> TransportError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => TransportError::Timeout(timeout),
        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
            TransportError::Closed
        }
        _ => TransportError::Io(e),
    }
}

impl Transport for TcpTransport {
    fn open(&mut self) -> Result<(), TransportError> {
        self.stream = None;
        let addrs = self.addr.to_socket_addrs()?;
        let mut last = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, Duration::from_secs(3)) {
                Ok(s) => {
                    s.set_nodelay(true)?;
                    self.stream = Some(s);
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.map(TransportError::Io).unwrap_or(TransportError::Closed))
    }

    fn write_all(&mut self, data: &[u8], timeout: Duration) -> Result<(), TransportError> {
        let s = self.stream()?;
        s.set_write_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let r = s.write_all(data).map_err(|e| io_error(e, timeout));
        if r.is_err() {
            self.stream = None;
        }
        r
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let s = self.stream()?;
        s.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        match s.read(buf) {
            Ok(0) => {
                self.stream = None;
                Err(TransportError::Closed)
            }
            Ok(n) => Ok(n),
            Err(e) => {
                let e = io_error(e, timeout);
                if !matches!(e, TransportError::Timeout(_)) {
                    self.stream = None;
                }
                Err(e)
            }
        }
    }

    fn drain(&mut self) {
        // A reply that arrives after its deadline belongs to a command
        // already given up: start the next one on a fresh connection.
        self.stream = None;
    }

    fn close(&mut self) {
        self.stream = None;
    }

    fn describe(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    fn bytes_per_second(&self) -> Option<u64> {
        None
    }
}
