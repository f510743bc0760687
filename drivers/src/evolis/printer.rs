//! The Evolis driver: the [`Printer`] a station sees, speaking the Evolis
//! command language over any [`Transport`].
//!
//! Every reply is parsed strictly; a timeout, a cut or garbled reply is
//! never taken for success. In a print, the card counter (`Rco;c`) is read
//! before `Ss` and after a failure, so the driver knows whether a blank left
//! the feeder. Clearing the stored bitmaps (`Wcb`) after every card, so no
//! resident's image stays in the printer, is [`Printer::clear_memory`]: the
//! station calls it and books a refusal.

use std::time::Duration;

use super::bitmap::{encode_compressed, encode_full};
use super::command::Command;
use super::reply::{self, ErrCode, Reply, ReplyError};
use crate::failpoint;
use crate::panel::{CardPanels, PanelKind};
use crate::printer::{
    Capabilities, CardPosition, Counters, CountsAt, Fault, Identity, PrintFailure, PrintProgress, Printer, PrinterError, Status,
};
use crate::transport::{deadline, Transport, TransportError};

/// Why one command got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("bad reply to {command}: {error}")]
    Reply { command: String, error: ReplyError },
    #[error("reply to {command} longer than any reply can be")]
    TooLong { command: String },
}

impl From<WireError> for PrinterError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Transport(TransportError::Unusable { what, fix }) => PrinterError::Protocol(format!("{what}: {fix}")),
            WireError::Transport(TransportError::Unplugged(_)) => PrinterError::Gone,
            WireError::Transport(_) => PrinterError::Gone,
            other => PrinterError::Protocol(other.to_string()),
        }
    }
}

/// How long the printer may take for a step that moves a card, at real
/// speed (a colour card takes 16 to 30 s in all).
pub const MECHANICAL: Duration = Duration::from_secs(20);

pub struct EvolisPrinter<T: Transport> {
    t: T,
    /// Send panels compressed (`Dbc`) when that is shorter.
    compress: bool,
    /// Allowance for a step that moves a card, on top of the transfer.
    mechanical: Duration,
}

fn fault_of(code: ErrCode) -> Fault {
    match code {
        ErrCode::Feeder | ErrCode::NoCard => Fault::FeederEmpty,
        ErrCode::Ribbon => Fault::RibbonOut,
        ErrCode::Cover => Fault::CoverOpen,
        ErrCode::HeadTemp => Fault::HeadTemp,
        ErrCode::Busy => Fault::Busy,
        ErrCode::Mechanical | ErrCode::Card | ErrCode::Command | ErrCode::Parameter => Fault::Jam,
    }
}

/// A reply that refuses the command itself (`ERR CDE`, `ERR PAR`), named
/// with the command, so the station and `cetak printers test` can say
/// which one (a value or a condition read as such would hide it).
fn refused(cmd: &Command, reply: &Reply) -> Result<(), PrinterError> {
    match reply {
        Reply::Err(code @ (ErrCode::Command | ErrCode::Parameter)) => {
            Err(PrinterError::Refused { command: cmd.name(), answer: format!("ERR {}", code.as_str()) })
        }
        _ => Ok(()),
    }
}

/// A query must answer a value: a refusal of the command is named; any
/// other `ERR` is the condition it names (a printer busy with a card is
/// busy, not refusing: the clerk is not sent to district IT for it).
fn answered(cmd: &Command, reply: &Reply) -> Result<(), PrinterError> {
    refused(cmd, reply)?;
    match reply {
        Reply::Err(code) => Err(PrinterError::Fault(fault_of(*code))),
        Reply::Ok | Reply::Value(_) => Ok(()),
    }
}

impl<T: Transport> EvolisPrinter<T> {
    pub fn new(t: T, compress: bool) -> Self {
        Self { t, compress, mechanical: MECHANICAL }
    }

    /// Changes the allowance for mechanical steps (an emulator running
    /// faster than real time, in tests).
    pub fn with_mechanical(mut self, mechanical: Duration) -> Self {
        self.mechanical = mechanical;
        self
    }

    pub fn transport(&self) -> &T {
        &self.t
    }

    /// Sends one command and reads its one reply, up to its NUL.
    pub fn call(&mut self, cmd: &Command) -> Result<Reply, WireError> {
        let mechanical = match cmd {
            Command::Ss | Command::Se | Command::Ser | Command::Db(..) | Command::Dbc(..) => self.mechanical,
            _ => Duration::ZERO,
        };
        let limit = deadline(&self.t, cmd.payload_len(), mechanical);
        let result = self.exchange(cmd, limit);
        if result.is_err() {
            tracing::debug!(command = %cmd.name(), error = ?result.as_ref().err(), "printer command failed");
            // Whatever comes late belongs to this command: drop it.
            self.t.drain();
        }
        result
    }

    fn exchange(&mut self, cmd: &Command, limit: Duration) -> Result<Reply, WireError> {
        let start = std::time::Instant::now();
        self.t.write_all(&cmd.encode(), limit)?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(TransportError::Timeout(limit).into());
            }
            let n = self.t.read(&mut buf, left)?;
            reply.extend_from_slice(&buf[..n]);
            if let Some(end) = reply.iter().position(|&b| b == 0) {
                if end + 1 != reply.len() {
                    return Err(WireError::Reply { command: cmd.name(), error: ReplyError::Trailing });
                }
                return reply::parse(&reply).map_err(|error| WireError::Reply { command: cmd.name(), error });
            }
            if reply.len() > 1024 {
                return Err(WireError::TooLong { command: cmd.name() });
            }
        }
    }

    fn query(&mut self, cmd: Command) -> Result<Reply, PrinterError> {
        Ok(self.call(&cmd)?)
    }

    fn number(&mut self, cmd: Command) -> Result<u64, PrinterError> {
        let r = self.query(cmd.clone())?;
        answered(&cmd, &r)?;
        r.number().map_err(|e| PrinterError::Protocol(e.to_string()))
    }

    fn text(&mut self, cmd: Command) -> Result<String, PrinterError> {
        let r = self.query(cmd.clone())?;
        answered(&cmd, &r)?;
        r.text().map(str::to_string).map_err(|e| PrinterError::Protocol(e.to_string()))
    }

    fn expect_ok(&mut self, cmd: Command) -> Result<(), PrinterError> {
        let r = self.query(cmd.clone())?;
        refused(&cmd, &r)?;
        match r {
            Reply::Ok => Ok(()),
            Reply::Err(code) => Err(PrinterError::Fault(fault_of(code))),
            Reply::Value(v) => Err(PrinterError::Protocol(format!("expected OK, got {v:?}"))),
        }
    }

    /// The card counter, read to learn whether a failed sequence took a
    /// blank. `None` when the printer does not answer.
    fn card_counter(&mut self) -> Option<u64> {
        self.number(Command::Rco('c')).ok()
    }

    fn panel_command(&self, kind: PanelKind, levels: u16, panel: &crate::Panel) -> Result<Command, PrinterError> {
        let bad = |e: super::bitmap::BitmapError| PrinterError::Protocol(e.to_string());
        let full = encode_full(panel).map_err(bad)?;
        if self.compress {
            let small = encode_compressed(panel).map_err(bad)?;
            if small.len() < full.len() {
                return Ok(Command::Dbc(kind.letter(), levels, small));
            }
        }
        Ok(Command::Db(kind.letter(), levels, full))
    }

    /// A sequence step that failed: where is the card? A counter that
    /// stepped means a blank left the feeder; `Rlr;p` says if it is inside.
    /// `taken`: the feed was answered OK, so a blank left the feeder even if
    /// the counter has not stepped (a printer that counts at eject).
    fn after_failure(&mut self, before: u64, reply: Result<Reply, WireError>, taken: bool, started: u8, done: u8) -> PrintFailure {
        let fault = match reply {
            Ok(Reply::Err(code)) => fault_of(code),
            Ok(_) => Fault::Jam,
            Err(_) => {
                return PrintFailure {
                    fault: Fault::Gone,
                    progress: PrintProgress { panels_started: started, panels_done: done, card: CardPosition::Unknown },
                };
            }
        };
        // A counter that steps at eject does not tell a taken card from
        // one never fed: `Rlr;p` does.
        let inside = match self.call(&Command::Rlr) {
            Ok(Reply::Value(v)) => Some(v == "CARD INSIDE"),
            Ok(Reply::Err(ErrCode::Card)) => Some(true),
            Ok(_) => Some(false),
            Err(_) => None,
        };
        let card = match (self.card_counter(), inside) {
            (_, Some(true)) => CardPosition::Inside,
            (Some(now), Some(false)) if now == before && !taken => CardPosition::NotTaken,
            // Taken, not inside, not counted: nobody here knows where it went.
            (Some(now), Some(false)) if now == before => CardPosition::Unknown,
            (Some(_), Some(false)) => CardPosition::RejectBox,
            _ => CardPosition::Unknown,
        };
        PrintFailure { fault, progress: PrintProgress { panels_started: started, panels_done: done, card } }
    }
}

/// The longest an Evolis `print` may block: the sum of the deadlines of
/// every command of a card (checks, feed, each panel sent uncompressed at
/// its levels, eject, counters, clearing the stored bitmaps), on a link of
/// `bytes_per_second` (`None`: USB or TCP). A colour card at 57,600 baud
/// comes to about nine minutes.
pub fn worst_case_card(caps: &Capabilities, bytes_per_second: Option<u64>, mechanical: Duration) -> Duration {
    let call = |payload: usize, moves: bool| {
        let transfer = match bytes_per_second {
            Some(bps) if bps > 0 => Duration::from_secs_f64(payload as f64 / bps as f64 * 1.5),
            _ => Duration::from_secs_f64(payload as f64 / 1_000_000.0),
        };
        Duration::from_secs(2) + if moves { mechanical } else { Duration::ZERO } + transfer
    };
    let (width, height) = caps.canvas;
    let panel_bytes = |levels: u16| {
        let bits = super::bitmap::bits_per_dot(levels).unwrap_or(8) as usize;
        (width as usize * height as usize * bits).div_ceil(8)
    };
    // Rco;c, Rcr, SkF, Pr before the feed; Rco;c and Rco;p after.
    let queries = 6 * call(0, false);
    let moves = call(0, true) * 2 + call(0, false); // Ss, Se; Sr
    let panels: Duration = caps.panels.iter().map(|(_, levels)| call(panel_bytes(*levels), true)).sum();
    let clear = caps.panels.len() as u32 * call(0, false);
    queries + moves + panels + clear
}

fn not_taken(fault: Fault) -> PrintFailure {
    PrintFailure { fault, progress: PrintProgress { panels_started: 0, panels_done: 0, card: CardPosition::NotTaken } }
}

impl<T: Transport> Printer for EvolisPrinter<T> {
    fn identify(&mut self) -> Result<Identity, PrinterError> {
        Ok(Identity { model: self.text(Command::Rtp)?, serial: self.text(Command::Rsn)?, firmware: self.text(Command::Rfv)? })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::evolis_ymcko(false)
    }

    /// Reconnects, then sets host-managed errors without printer retries
    /// (`Pem;18`) and reads the mode back (`Rem`).
    fn prepare(&mut self) -> Result<(), PrinterError> {
        self.t.open().map_err(|e| PrinterError::from(WireError::Transport(e)))?;
        self.expect_ok(Command::Pem(18))?;
        let mode = self.text(Command::Rem)?;
        if mode.split(';').next() != Some("18") {
            return Err(PrinterError::Protocol(format!("error mode reads back as {mode:?}, not 18")));
        }
        Ok(())
    }

    fn status(&mut self) -> Result<Status, PrinterError> {
        let mut faults = Vec::new();
        if let Reply::Err(code) = self.query(Command::Rcr)? {
            faults.push(fault_of(code));
        }
        let mut card_inside = false;
        match self.query(Command::Rlr)? {
            Reply::Value(v) if v == "CARD INSIDE" => card_inside = true,
            Reply::Err(ErrCode::Card) => {
                card_inside = true;
                faults.push(Fault::Jam);
            }
            Reply::Err(ErrCode::Cover) => faults.push(Fault::CoverOpen),
            _ => {}
        }
        if self.number(Command::SkF)? != 0 {
            faults.push(Fault::FeederEmpty);
        }
        let ribbon_left = self.number(Command::Rco('l')).ok().map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        Ok(Status { faults, card_inside, blanks_in_feeder: None, ribbon_left, film_left: None })
    }

    fn counters(&mut self) -> Result<Counters, PrinterError> {
        Ok(Counters { cards: self.number(Command::Rco('c'))?, panels: self.number(Command::Rco('p'))? })
    }

    fn print(&mut self, card: &CardPanels, feeding: &mut dyn FnMut() -> bool) -> Result<Counters, PrintFailure> {
        let gone_before = || not_taken(Fault::Gone);
        let before = self.card_counter().ok_or_else(gone_before)?;
        // Checks before a blank is taken: ribbon, feeder.
        match self.call(&Command::Rcr) {
            Ok(Reply::Ok) => {}
            Ok(Reply::Err(code)) => return Err(not_taken(fault_of(code))),
            _ => return Err(gone_before()),
        }
        match self.call(&Command::SkF).map(|r| r.number()) {
            Ok(Ok(0)) => {}
            Ok(Ok(_)) => return Err(not_taken(Fault::FeederEmpty)),
            _ => return Err(gone_before()),
        }
        let mut commands = Vec::with_capacity(card.panels.len());
        for p in &card.panels {
            commands.push(self.panel_command(p.kind, p.levels, p).map_err(|_| not_taken(Fault::Jam))?);
        }
        failpoint::hit("encode.after");
        if !matches!(self.call(&Command::Pr("ymcko".into())), Ok(Reply::Ok)) {
            return Err(gone_before());
        }
        if !feeding() {
            return Err(not_taken(Fault::Busy));
        }
        failpoint::hit("driver.before_feed");
        let r = self.call(&Command::Ss);
        if !matches!(r, Ok(Reply::Ok)) {
            return Err(self.after_failure(before, r, false, 0, 0));
        }
        failpoint::hit("driver.after_feed");
        let r = self.call(&Command::Sr);
        if !matches!(r, Ok(Reply::Ok)) {
            return Err(self.after_failure(before, r, true, 0, 0));
        }
        let total = commands.len() as u8;
        for (i, cmd) in commands.iter().enumerate() {
            let n = i as u8 + 1;
            let r = self.call(cmd);
            if !matches!(r, Ok(Reply::Ok)) {
                return Err(self.after_failure(before, r, true, n, n - 1));
            }
            failpoint::hit(&format!("driver.after_panel.{n}"));
        }
        failpoint::hit("driver.before_eject");
        let r = self.call(&Command::Se);
        if !matches!(r, Ok(Reply::Ok)) {
            return Err(self.after_failure(before, r, true, total, total));
        }
        failpoint::hit("driver.after_eject");
        let after = self.counters().map_err(|_| PrintFailure {
            fault: Fault::Gone,
            progress: PrintProgress { panels_started: total, panels_done: total, card: CardPosition::Unknown },
        })?;
        Ok(after)
    }

    /// `Wcb` for every panel; the first that is not answered `OK` is the
    /// error (the printer keeps an image).
    fn clear_memory(&mut self) -> Result<(), PrinterError> {
        for letter in ['y', 'm', 'c', 'k', 'o'] {
            match self.call(&Command::Wcb(letter)) {
                Ok(Reply::Ok) => {}
                Ok(other) => return Err(PrinterError::Protocol(format!("Wcb;{letter};0 refused: {other:?}"))),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The guide: `Rco;c` counts cards taken from the feeder.
    fn counts_at(&self) -> CountsAt {
        CountsAt::Pick
    }

    fn reject(&mut self) -> Result<(), PrinterError> {
        self.expect_ok(Command::Ser)
    }

    fn cancel(&mut self) -> Result<(), PrinterError> {
        for letter in ['y', 'm', 'c', 'k', 'o'] {
            let _ = self.call(&Command::Wcb(letter));
        }
        Ok(())
    }

    fn card_deadline(&self) -> Duration {
        worst_case_card(&self.capabilities(), self.t.bytes_per_second(), self.mechanical)
    }
}

/// Moves the card to a chip-encoding station (contact or contactless),
/// for the chip work that comes later.
pub fn to_chip_station<T: Transport>(p: &mut EvolisPrinter<T>, contactless: bool) -> Result<(), PrinterError> {
    p.expect_ok(if contactless { Command::Sic } else { Command::Sis })
}
