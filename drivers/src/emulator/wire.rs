//! The device side of the Evolis protocol, in front of the one device
//! model. It reads commands from any byte stream (a pseudo-terminal, a TCP
//! connection), acts on the [`Device`], and answers as `evolis.md`'s
//! conventions say: one reply per command, ended by NUL.
//!
//! Its bitmap decoders are written apart from the driver's encoders (bit by
//! bit here, word-wise there), so a bug shared by both sides cannot hide.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use super::device::{Device, StepFault};
use crate::panel::PanelKind;
use crate::printer::Fault;

/// A fault on the wire itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireFaultKind {
    /// Bytes that are not a reply.
    Garbage,
    /// The first half of the reply, then nothing.
    HalfReply,
    /// No reply at all.
    Silent,
    /// The command is not carried out and answered `ERR CDE` (a printer
    /// that refuses, say, to clear its stored bitmaps).
    Refuse,
}

/// Strikes the `nth` (1-based) reply to `command`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireFault {
    pub command: String,
    pub nth: usize,
    pub kind: WireFaultKind,
}

impl std::str::FromStr for WireFault {
    type Err = String;
    /// `CMD:garbage|half|silent|refuse[@N]`, for example `Se:half@2`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (command, rest) = s.split_once(':').ok_or("expected CMD:KIND[@N]")?;
        let (kind, nth) = match rest.split_once('@') {
            Some((k, n)) => (k, n.parse().map_err(|_| format!("bad count in {s}"))?),
            None => (rest, 1),
        };
        let kind = match kind {
            "garbage" => WireFaultKind::Garbage,
            "half" => WireFaultKind::HalfReply,
            "silent" => WireFaultKind::Silent,
            "refuse" => WireFaultKind::Refuse,
            other => return Err(format!("unknown wire fault {other}")),
        };
        Ok(Self { command: command.to_string(), nth, kind })
    }
}

/// One command as read from the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incoming {
    pub name: String,
    pub params: Vec<String>,
    pub data: Option<Vec<u8>>,
}

/// The state of one conversation with the agent.
pub struct Session {
    device: Device,
    faults: Vec<WireFault>,
    seen: std::collections::HashMap<String, usize>,
    ribbon_panels: u32,
    panel_no: u8,
    /// Emulate a serial line of this speed: reading a command takes as
    /// long as its bytes would on the line (a pty itself is unthrottled).
    line_baud: Option<u32>,
    /// Write each decoded panel as a PNG here (training, checking a layout).
    png_dir: Option<std::path::PathBuf>,
}

fn bits(levels: u16) -> Option<usize> {
    match levels {
        2 => Some(1),
        32 => Some(5),
        64 => Some(6),
        128 => Some(7),
        _ => None,
    }
}

pub const DOTS_PER_LINE: usize = 648;
pub const LINES: usize = 1016;

/// Decodes a full `Db` bitmap into one byte a dot, bit by bit.
pub fn decode_full(data: &[u8], levels: u16) -> Option<Vec<u8>> {
    let b = bits(levels)?;
    if data.len() * 8 != DOTS_PER_LINE * LINES * b {
        return None;
    }
    let bit = |i: usize| (data[i / 8] >> (7 - (i % 8))) & 1;
    Some((0..DOTS_PER_LINE * LINES).map(|d| (0..b).fold(0u8, |v, k| (v << 1) | bit(d * b + k))).collect())
}

/// Decodes a compressed `Dbc` bitmap into one byte a dot.
pub fn decode_compressed(data: &[u8], levels: u16) -> Option<Vec<u8>> {
    let b = bits(levels)?;
    let mut dots = Vec::with_capacity(DOTS_PER_LINE * LINES);
    let mut i = 0;
    for _ in 0..LINES {
        let start = dots.len();
        if b == 1 {
            let n = *data.get(i)?;
            i += 1;
            let line_bytes: Vec<u8> = match n {
                0x00 => vec![0; 81],
                0xFF => vec![0xFF; 81],
                1..=81 => {
                    let mut v = data.get(i..i + n as usize)?.to_vec();
                    i += n as usize;
                    v.resize(81, 0);
                    v
                }
                _ => return None,
            };
            for byte in line_bytes {
                for k in (0..8).rev() {
                    dots.push((byte >> k) & 1);
                }
            }
        } else {
            while dots.len() - start < DOTS_PER_LINE {
                let first = *data.get(i)?;
                i += 1;
                if first & 0x80 == 0 {
                    if usize::from(first) >= 1 << b {
                        return None;
                    }
                    dots.push(first);
                    continue;
                }
                let value = first & ((1u8 << b) - 1);
                let high = usize::from((first & 0x7F) >> b);
                let count = high * 256 + usize::from(*data.get(i)?);
                i += 1;
                if count == 0 {
                    // The rest of the line is blank.
                    dots.resize(start + DOTS_PER_LINE, 0);
                    break;
                }
                if dots.len() - start + count > DOTS_PER_LINE {
                    return None;
                }
                dots.extend(std::iter::repeat_n(value, count));
            }
        }
        if dots.len() - start != DOTS_PER_LINE {
            return None;
        }
    }
    (i == data.len()).then_some(dots)
}

/// Writes decoded dots as a greyscale PNG of the landscape card (1016 x 648,
/// ink dark), turning the wire's lines back into the card's columns.
pub fn write_panel_png(path: &std::path::Path, levels: u16, dots: &[u8]) -> io::Result<()> {
    let max = f32::from(levels.saturating_sub(1).max(1));
    let mut pixels = vec![255u8; LINES * DOTS_PER_LINE];
    for (line, chunk) in dots.chunks(DOTS_PER_LINE).enumerate() {
        for (dot, &v) in chunk.iter().enumerate() {
            // Wire line = card column; first dot = top edge.
            pixels[dot * LINES + line] = 255 - (f32::from(v) / max * 255.0) as u8;
        }
    }
    let file = std::fs::File::create(path)?;
    let mut enc = png::Encoder::new(io::BufWriter::new(file), LINES as u32, DOTS_PER_LINE as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(io::Error::other)?;
    w.write_image_data(&pixels).map_err(io::Error::other)
}

/// Hash of decoded dots, as [`crate::Panel::hash`] computes it.
pub fn dots_hash(dots: &[u8]) -> String {
    hex::encode(Sha256::digest(dots))
}

fn read_byte(r: &mut impl Read) -> io::Result<Option<u8>> {
    let mut b = [0u8; 1];
    loop {
        match r.read(&mut b) {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(Some(b[0])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reads one command: `ESC name ;params CR`, with a download's raw data
/// read by length, so a CR inside it does not end the command. `None` at
/// the end of the stream.
pub fn read_command(r: &mut impl Read) -> io::Result<Option<Incoming>> {
    let mut header: Vec<u8> = Vec::new();
    loop {
        let Some(b) = read_byte(r)? else { return Ok(None) };
        if b == 0x1B && header.is_empty() {
            continue;
        }
        if b == b'\r' {
            let text = String::from_utf8_lossy(&header).to_string();
            let mut parts = text.split(';').map(str::to_string);
            let name = parts.next().unwrap_or_default();
            return Ok(Some(Incoming { name, params: parts.collect(), data: None }));
        }
        header.push(b);
        if header.len() > 64 {
            // Not a command we know: answer it as one, then resync.
            let mut rest = Vec::new();
            while let Some(b) = read_byte(r)? {
                if b == b'\r' {
                    break;
                }
                rest.push(b);
            }
            return Ok(Some(Incoming { name: "?".into(), params: Vec::new(), data: None }));
        }
        if b != b';' {
            continue;
        }
        let text = String::from_utf8_lossy(&header).to_string();
        let parts: Vec<&str> = text.split(';').collect();
        let len = match (parts.first().copied(), parts.len()) {
            (Some("Db"), 4) => parts[2].parse::<u16>().ok().and_then(bits).map(|b| DOTS_PER_LINE * LINES * b / 8),
            (Some("Dbc"), 5) => parts[3].parse::<usize>().ok().filter(|&n| n <= 8 * 1024 * 1024),
            _ => continue,
        };
        let Some(len) = len else { continue };
        let mut data = vec![0u8; len];
        r.read_exact(&mut data)?;
        let end = read_byte(r)?;
        let params = parts[1..parts.len() - 1].iter().map(|s| s.to_string()).collect();
        let name = if end == Some(b'\r') { parts[0].to_string() } else { "?".into() };
        return Ok(Some(Incoming { name, params, data: Some(data) }));
    }
}

fn err(f: Fault) -> String {
    match f {
        Fault::FeederEmpty => "ERR FEEDER",
        Fault::RibbonOut | Fault::FilmOut => "ERR RIBBON",
        Fault::CoverOpen => "ERR COVER",
        Fault::Jam | Fault::CardInside => "ERR MECHANICAL",
        Fault::HeadTemp => "ERR HEAD TEMP",
        Fault::Busy => "ERR BUSY",
        Fault::Gone => "",
    }
    .to_string()
}

impl Session {
    pub fn new(device: Device, faults: Vec<WireFault>) -> Self {
        Self { device, faults, seen: Default::default(), ribbon_panels: 5, panel_no: 0, line_baud: None, png_dir: None }
    }

    /// Writes every decoded panel as `card-<n>-<panel>.png` in `dir`.
    pub fn with_png_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.png_dir = dir;
        self
    }

    fn write_png(&self, letter: &str, levels: u16, dots: &[u8]) {
        let Some(dir) = &self.png_dir else { return };
        let card = self.device.state().card_inside.map_or(0, |c| c.counter);
        let path = dir.join(format!("card-{card}-{letter}.png"));
        if let Err(e) = write_panel_png(&path, levels, dots) {
            eprintln!("could not write {}: {e}", path.display());
        }
    }

    /// Throttles reading to a serial line of `baud` (8N1: ten bits a byte).
    pub fn with_line_baud(mut self, baud: Option<u32>) -> Self {
        self.line_baud = baud;
        self
    }

    /// The reply to one command; `None` when the printer stays silent.
    pub fn answer(&mut self, cmd: &Incoming) -> Option<String> {
        if self.device.is_unplugged() {
            return None;
        }
        let st = self.device.state();
        let p0 = cmd.params.first().map(String::as_str);
        let step = |r: Result<(), StepFault>| match r {
            Ok(()) => Some("OK".to_string()),
            Err(f) if f.fault == Fault::Gone => None,
            Err(f) => Some(err(f.fault)),
        };
        let reply = match (cmd.name.as_str(), p0) {
            ("Rtp", _) => st.model,
            ("Rsn", _) => st.serial,
            ("Rfv", _) => st.firmware,
            ("Rco", Some("c")) => st.card_counter.to_string(),
            ("Rco", Some("p")) => st.panel_counter.to_string(),
            ("Rco", Some("l")) => (st.ribbon_panels / 5).to_string(),
            ("Rcr", _) => if st.ribbon_panels >= 5 { "OK" } else { "ERR RIBBON" }.into(),
            ("Sk", Some("f")) => if st.feeder == 0 { "1" } else { "0" }.into(),
            ("Sk", Some("w")) => if st.feeder < 10 { "1" } else { "0" }.into(),
            ("Rlr", Some("p")) => match &st.card_inside {
                Some(c) if c.jammed => "ERR CARD".into(),
                Some(_) => "CARD INSIDE".into(),
                None if st.cover_open => "ERR COVER".into(),
                None => "OK".into(),
            },
            ("Pem", Some("18")) => match self.device.set_host_managed() {
                Ok(_) => "OK".into(),
                Err(_) => return None,
            },
            ("Rem", _) => if st.host_managed_errors { "18" } else { "0" }.into(),
            ("Pr", Some(t)) => match t {
                "ymcko" | "ymckok" => {
                    self.ribbon_panels = 5;
                    "OK".into()
                }
                "kb" | "k" | "ko" => {
                    self.ribbon_panels = if t == "ko" { 2 } else { 1 };
                    "OK".into()
                }
                _ => "ERR PAR".into(),
            },
            ("Ss", _) => {
                self.panel_no = 0;
                let r = step(self.device.feed(self.ribbon_panels));
                self.device.pause();
                r?
            }
            ("Sr" | "Sv", _) => "OK".into(),
            ("Db" | "Dbc", Some(letter)) => {
                let kind = match letter {
                    "y" => PanelKind::Y,
                    "m" => PanelKind::M,
                    "c" => PanelKind::C,
                    "k" => PanelKind::K,
                    "o" => PanelKind::O,
                    _ => return Some("ERR PAR".into()),
                };
                let levels = cmd.params.get(1).and_then(|l| l.parse::<u16>().ok()).unwrap_or(0);
                let data = cmd.data.as_deref().unwrap_or_default();
                let dots = if cmd.name == "Db" { decode_full(data, levels) } else { decode_compressed(data, levels) };
                let Some(dots) = dots else { return Some("ERR PAR".into()) };
                self.write_png(letter, levels, &dots);
                self.panel_no += 1;
                let r = step(self.device.print_panel(kind, dots_hash(&dots), self.panel_no));
                self.device.pause();
                r?
            }
            ("Se", _) => {
                let r = step(self.device.eject().map(|_| ()));
                self.device.pause();
                r?
            }
            ("Ser", _) => match self.device.reject() {
                Ok(()) => "OK".into(),
                Err(crate::PrinterError::Fault(f)) => err(f),
                Err(_) => return None,
            },
            ("Sis" | "Sic", _) => if st.card_inside.is_some() { "OK" } else { "ERR MECHANICAL" }.into(),
            ("Wcb", Some(_)) => match self.device.clear_bitmaps() {
                Ok(()) => "OK".into(),
                Err(crate::PrinterError::Gone) => return None,
                Err(_) => "ERR CDE".into(),
            },
            ("Srs", _) => "OK".into(),
            ("Sc" | "St", _) => {
                // Never sent by cetak: recorded so a test can prove it.
                let _ = self.device.note_reprint_command();
                "ERR CDE".into()
            }
            ("Rco" | "Sk" | "Rlr" | "Pem" | "Pr" | "Db" | "Dbc" | "Wcb", _) => "ERR PAR".into(),
            _ => "ERR CDE".into(),
        };
        Some(reply)
    }

    /// Serves one conversation until the stream ends.
    pub fn serve(&mut self, stream: &mut (impl Read + Write)) -> io::Result<()> {
        while let Some(cmd) = read_command(stream)? {
            if let Some(baud) = self.line_baud.filter(|&b| b > 0) {
                let bytes = cmd.data.as_ref().map_or(0, Vec::len) + cmd.name.len() + 2;
                std::thread::sleep(std::time::Duration::from_secs_f64(bytes as f64 * 10.0 / f64::from(baud)));
            }
            let n = {
                let c = self.seen.entry(cmd.name.clone()).or_insert(0);
                *c += 1;
                *c
            };
            let fault = self.faults.iter().position(|f| f.command == cmd.name && f.nth == n).map(|i| self.faults.remove(i));
            let reply =
                if fault.as_ref().is_some_and(|f| f.kind == WireFaultKind::Refuse) { Some("ERR CDE".into()) } else { self.answer(&cmd) };
            let Some(reply) = reply else { continue };
            let mut bytes = reply.into_bytes();
            bytes.push(0);
            match fault.map(|f| f.kind) {
                None => stream.write_all(&bytes)?,
                Some(WireFaultKind::Garbage) => stream.write_all(b"\xfe\x13GARB\x00")?,
                Some(WireFaultKind::HalfReply) => stream.write_all(&bytes[..bytes.len() / 2])?,
                Some(WireFaultKind::Silent) => {}
                Some(WireFaultKind::Refuse) => stream.write_all(&bytes)?,
            }
            stream.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_with_a_cr_inside_its_data_is_read_whole() {
        let mut wire: Vec<u8> = b"\x1bDbc;k;2;3;\x0d\x0d\x0d\r\x1bSe\r".to_vec();
        let mut r = std::io::Cursor::new(&mut wire);
        let c = read_command(&mut r).ok().flatten();
        assert_eq!(
            c,
            Some(Incoming { name: "Dbc".into(), params: vec!["k".into(), "2".into(), "3".into()], data: Some(vec![13, 13, 13]) })
        );
        let c = read_command(&mut r).ok().flatten().map(|c| c.name);
        assert_eq!(c.as_deref(), Some("Se"));
    }
}
