//! The `Printer` trait: what a station loop sees of one open card printer.

use crate::panel::{CardPanels, PanelKind};

/// Model and serial number: the serial ties the journal's card counter to
/// one physical printer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub model: String,
    pub serial: String,
    pub firmware: String,
}

/// How the printer lays a panel's lines on the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineOrientation {
    /// Each line runs across the card's short side (Evolis: 648-dot lines,
    /// 1016 lines along the long side).
    AcrossShortSide,
    /// Each line runs along the card's long side.
    AlongLongSide,
}

/// What a printer family can print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Canvas of the landscape card in dots: width (long side), height.
    pub canvas: (u32, u32),
    pub dpi: u32,
    pub orientation: LineOrientation,
    /// The panels of one card, in print order, with their grey levels.
    pub panels: Vec<(PanelKind, u16)>,
    pub ribbon: String,
    /// Retransfer printers consume film as well as ribbon.
    pub has_film: bool,
}

impl Capabilities {
    /// An Evolis direct-to-card printer with a YMCKO ribbon: a 1016 x 648
    /// canvas at 300 dpi, lines across the short side, colour at 32 levels,
    /// K and O at 2. The emulator speaks Evolis, so it reports the same.
    pub fn evolis_ymcko(has_film: bool) -> Self {
        Self {
            canvas: (1016, 648),
            dpi: 300,
            orientation: LineOrientation::AcrossShortSide,
            panels: vec![(PanelKind::Y, 32), (PanelKind::M, 32), (PanelKind::C, 32), (PanelKind::K, 2), (PanelKind::O, 2)],
            ribbon: "ymcko".into(),
            has_film,
        }
    }
}

/// When a printer's card counter steps: as a blank is taken from the
/// feeder, or only as a card leaves the printer (output or reject box).
/// Printers differ and their guides do not always say (docs/hardware.md
/// tells how to find out on the bench); a card a clerk pulls out by hand
/// is never counted by a printer that counts at eject.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CountsAt {
    #[default]
    Pick,
    Eject,
}

impl CountsAt {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pick => "pick",
            Self::Eject => "eject",
        }
    }

    /// The counter a card taken at `before` leaves behind: one more,
    /// unless the printer counts at eject and the card has not left
    /// through the printer (it is inside, or a clerk pulled it out).
    pub fn after_card(self, before: u64, left_through_printer: bool) -> u64 {
        match self {
            Self::Pick => before + 1,
            Self::Eject if left_through_printer => before + 1,
            Self::Eject => before,
        }
    }
}

/// The card counters; `cards` (cards counted by the printer, lifetime) is
/// the one the journal checks for continuity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub cards: u64,
    pub panels: u64,
}

/// A standing condition of the printer, or what stopped a card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    FeederEmpty,
    Jam,
    CoverOpen,
    RibbonOut,
    FilmOut,
    /// The printer stopped answering (unplugged, powered off, silent).
    Gone,
    /// A card is already inside the printer.
    CardInside,
    /// The print head's temperature is wrong: the card was abandoned.
    HeadTemp,
    /// The printer is cooling down and takes no card yet.
    Busy,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FeederEmpty => "feeder_empty",
            Self::Jam => "jam",
            Self::CoverOpen => "cover_open",
            Self::RibbonOut => "ribbon_out",
            Self::FilmOut => "film_out",
            Self::Gone => "gone",
            Self::CardInside => "card_inside",
            Self::HeadTemp => "head_temp",
            Self::Busy => "busy",
        }
    }
}

/// Where a card is after a print ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardPosition {
    /// No card was taken from the feeder.
    NotTaken,
    /// The card is inside the printer.
    Inside,
    RejectBox,
    Output,
    /// The printer stopped answering: nobody knows.
    Unknown,
}

/// How far a failed print got, from the agent's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrintProgress {
    /// Panel downloads the agent started (0: it knows no panel was sent).
    pub panels_started: u8,
    /// Panels the printer confirmed printed.
    pub panels_done: u8,
    pub card: CardPosition,
}

/// A print that did not end with a card in the output hopper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("print stopped by {fault:?} after {} panel(s), card {:?}", progress.panels_done, progress.card)]
pub struct PrintFailure {
    pub fault: Fault,
    pub progress: PrintProgress,
}

/// The printer's state as the station and the health page see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// Standing conditions that prevent the next card.
    pub faults: Vec<Fault>,
    pub card_inside: bool,
    pub blanks_in_feeder: Option<u32>,
    /// Cards still printable on the ribbon.
    pub ribbon_left: Option<u32>,
    pub film_left: Option<u32>,
}

impl Status {
    pub fn ready(&self) -> bool {
        self.faults.is_empty() && !self.card_inside
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PrinterError {
    #[error("printer not reachable")]
    Gone,
    #[error("printer reported {0:?}")]
    Fault(Fault),
    #[error("printer protocol error: {0}")]
    Protocol(String),
    /// The printer answered, and refused: a command its firmware does not
    /// take or a setting it does not allow. Not a lost printer: power and
    /// cable are fine, its setup is not.
    #[error("printer refused {command}: it answered {answer}")]
    Refused { command: String, answer: String },
    #[error("printer I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// One open card printer. Methods block (the hardware libraries do), so a
/// station drives its printer from a thread of its own.
pub trait Printer: Send {
    /// Model, serial and firmware.
    fn identify(&mut self) -> Result<Identity, PrinterError>;
    /// Canvas, line orientation and panels of this printer.
    fn capabilities(&self) -> Capabilities;
    /// On open and every reconnect: set host-managed error handling and
    /// read it back, so the printer never retries a card on its own.
    fn prepare(&mut self) -> Result<(), PrinterError>;
    fn status(&mut self) -> Result<Status, PrinterError>;
    fn counters(&mut self) -> Result<Counters, PrinterError>;
    /// Prints one card: feed, each panel, eject. A failure says how far it
    /// got and where the card is. `feeding` is called right before the
    /// printer is asked to take a blank, so the station can write ahead
    /// that a feed may have happened; when it returns `false` (the write
    /// failed) nothing is fed and the print ends `NotTaken` with
    /// [`Fault::Busy`]. Stored bitmaps are not cleared here: the station
    /// calls [`Printer::clear_memory`] after every card and books a refusal.
    fn print(&mut self, card: &CardPanels, feeding: &mut dyn FnMut() -> bool) -> Result<Counters, PrintFailure>;
    /// Clears every image the printer holds in its memory, so no
    /// resident's picture stays there after a card. An error says the
    /// printer refused or did not answer.
    fn clear_memory(&mut self) -> Result<(), PrinterError>;
    /// When this family's card counter steps (a config may override it).
    fn counts_at(&self) -> CountsAt {
        CountsAt::Pick
    }
    /// Ejects a card inside the printer to the reject box.
    fn reject(&mut self) -> Result<(), PrinterError>;
    /// Abandons the current sequence without feeding another card.
    fn cancel(&mut self) -> Result<(), PrinterError>;
    /// The longest one [`Printer::print`] may block before it gives up:
    /// every command's own deadline added up, for the worst card this
    /// printer accepts on its link. The service's watchdog and stop
    /// timeout are sized from it.
    fn card_deadline(&self) -> std::time::Duration;
}

impl Printer for Box<dyn Printer> {
    fn identify(&mut self) -> Result<Identity, PrinterError> {
        (**self).identify()
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
    fn prepare(&mut self) -> Result<(), PrinterError> {
        (**self).prepare()
    }
    fn status(&mut self) -> Result<Status, PrinterError> {
        (**self).status()
    }
    fn counters(&mut self) -> Result<Counters, PrinterError> {
        (**self).counters()
    }
    fn print(&mut self, card: &CardPanels, feeding: &mut dyn FnMut() -> bool) -> Result<Counters, PrintFailure> {
        (**self).print(card, feeding)
    }
    fn clear_memory(&mut self) -> Result<(), PrinterError> {
        (**self).clear_memory()
    }
    fn counts_at(&self) -> CountsAt {
        (**self).counts_at()
    }
    fn reject(&mut self) -> Result<(), PrinterError> {
        (**self).reject()
    }
    fn cancel(&mut self) -> Result<(), PrinterError> {
        (**self).cancel()
    }
    fn card_deadline(&self) -> std::time::Duration {
        (**self).card_deadline()
    }
}
