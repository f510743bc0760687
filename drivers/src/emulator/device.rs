//! The device model and the in-process `Printer` on top of it.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::physlog::{Destination, PhysicalLog, PhysicalRecord};
use super::state::{self, DeviceState, InsideCard};
use super::EmulatorError;
use crate::failpoint;
use crate::panel::{CardPanels, PanelKind};
use crate::printer::{
    Capabilities, CardPosition, Counters, CountsAt, Fault, Identity, PrintFailure, PrintProgress, Printer, PrinterError, Status,
};

/// How a new emulated printer starts out (an existing state file wins).
#[derive(Clone, Debug)]
pub struct DeviceOptions {
    pub model: String,
    pub serial: String,
    pub feeder: u32,
    pub feeder_capacity: u32,
    /// Cards the installed ribbon prints (five panels each).
    pub ribbon_cards: u32,
    /// Film for retransfer models, in cards; `None`: direct-to-card.
    pub film_cards: Option<u32>,
    /// Mechanical time of one colour card at real speed.
    pub card_time: Duration,
    /// 1.0 is real time; the demo and tests run faster.
    pub time_scale: f64,
    /// Sync the printer's memory and physical log to disk on every write.
    /// Only benchmarks turn it off, so the printer's own disk writes are not
    /// counted as the agent's.
    pub durable: bool,
    /// The card counter steps at eject instead of at pick.
    pub count_at_eject: bool,
}

impl Default for DeviceOptions {
    fn default() -> Self {
        Self {
            model: "Evolis Primacy (emulated)".into(),
            serial: "EMU0000001".into(),
            feeder: 100,
            feeder_capacity: 100,
            ribbon_cards: 200,
            film_cards: None,
            card_time: Duration::from_secs(20),
            time_scale: 1.0,
            durable: true,
            count_at_eject: false,
        }
    }
}

/// A moment in a card's path at which a fault can strike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPoint {
    /// At the feed command, before a card is taken. A `FeederEmpty` here
    /// is a pick that failed with blanks still in the feeder.
    BeforePick,
    /// At the feed command, after the card was taken, before any panel.
    AfterPick,
    /// Right after panel `n` (1-based) was printed.
    AfterPanel(u8),
    /// At eject, with every panel printed.
    AtEject,
}

/// A fault that strikes the next card reaching `point` (or only the card
/// with counter value `card`, when given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduledFault {
    pub point: FaultPoint,
    pub fault: Fault,
    pub card: Option<u64>,
}

impl ScheduledFault {
    pub fn next(point: FaultPoint, fault: Fault) -> Self {
        Self { point, fault, card: None }
    }
}

/// What stopped one step of a card, and where the card is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepFault {
    pub fault: Fault,
    pub card: CardPosition,
    /// Panels printed on the card, as far as the agent could know.
    pub panels_done: u8,
}

struct Inner {
    state: DeviceState,
    state_path: state::StatePath,
    log: PhysicalLog,
    faults: VecDeque<ScheduledFault>,
    /// Unplugged or silent: every command fails with `Gone`.
    unplugged: bool,
    step_time: Duration,
}

/// The emulated printer. Clones share one device, so a test (or the demo's
/// simulated clerk) can act on the printer while a station drives it.
#[derive(Clone)]
pub struct Device {
    inner: Arc<Mutex<Inner>>,
    dir: PathBuf,
}

impl Device {
    /// Opens the device whose memory lives in `dir` (state file and physical
    /// log), creating it from `opts` the first time.
    pub fn open(dir: &Path, opts: &DeviceOptions) -> Result<Self, EmulatorError> {
        std::fs::create_dir_all(dir).map_err(|source| EmulatorError::Io { path: dir.to_path_buf(), source })?;
        let state_path = state::StatePath { path: dir.join("printer-state.json"), durable: opts.durable };
        let log = PhysicalLog::new(&dir.join("physical-log.jsonl"), opts.durable);
        let mut st = match state::load(&state_path)? {
            Some(s) => s,
            None => DeviceState {
                model: opts.model.clone(),
                serial: opts.serial.clone(),
                firmware: "EMU-1.0".into(),
                card_counter: 0,
                panel_counter: 0,
                feeder: opts.feeder.min(opts.feeder_capacity),
                feeder_capacity: opts.feeder_capacity,
                ribbon_panels: opts.ribbon_cards * 5,
                film_panels: opts.film_cards,
                cover_open: false,
                card_inside: None,
                host_managed_errors: false,
                stored_bitmaps: Vec::new(),
                reprint_commands: 0,
                count_at_eject: opts.count_at_eject,
                counter_generation: 0,
                refuse_clear: false,
            },
        };
        // A card logged as out but still marked inside: the power went
        // between the two writes. The log is the later truth. A card is
        // named by its count too: after a service reset of the counter a
        // card of the old count carries the same number (the soak lost a
        // card inside at a power cut that way).
        if let Some(card) = &st.card_inside {
            let (serial, generation) = (&st.serial, st.counter_generation);
            if log.read()?.iter().any(|r| r.serial == *serial && r.generation == generation && r.counter == card.counter) {
                st.card_inside = None;
            }
        }
        // The error mode resets at power-on unless saved.
        st.host_managed_errors = false;
        state::save(&state_path, &st)?;
        let secs = opts.card_time.as_secs_f64() * opts.time_scale.max(0.0);
        let inner =
            Inner { state: st, state_path, log, faults: VecDeque::new(), unplugged: false, step_time: Duration::from_secs_f64(secs / 7.0) };
        Ok(Self { inner: Arc::new(Mutex::new(inner)), dir: dir.to_path_buf() })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not make the printer unusable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A copy of the printer's memory.
    pub fn state(&self) -> DeviceState {
        self.lock().state.clone()
    }

    pub fn physical_log(&self) -> Result<Vec<PhysicalRecord>, EmulatorError> {
        self.lock().log.read()
    }

    /// A printer in a `Printer` wrapper for a station loop.
    pub fn printer(&self) -> EmulatedPrinter {
        EmulatedPrinter { device: self.clone() }
    }

    pub fn inject(&self, fault: ScheduledFault) {
        self.lock().faults.push_back(fault);
    }

    /// The faults injected and not yet struck.
    pub fn injected(&self) -> Vec<ScheduledFault> {
        self.lock().faults.iter().copied().collect()
    }

    fn mutate(&self, f: impl FnOnce(&mut DeviceState)) -> Result<(), EmulatorError> {
        let mut g = self.lock();
        f(&mut g.state);
        state::save(&g.state_path, &g.state)
    }

    /// A clerk puts blanks into the feeder (up to its capacity).
    pub fn load_blanks(&self, n: u32) -> Result<(), EmulatorError> {
        self.mutate(|s| s.feeder = (s.feeder + n).min(s.feeder_capacity))
    }

    pub fn replace_ribbon(&self, cards: u32) -> Result<(), EmulatorError> {
        self.mutate(|s| s.ribbon_panels = cards * 5)
    }

    pub fn replace_film(&self, cards: u32) -> Result<(), EmulatorError> {
        self.mutate(|s| s.film_panels = Some(cards))
    }

    pub fn set_cover_open(&self, open: bool) -> Result<(), EmulatorError> {
        self.mutate(|s| s.cover_open = open)
    }

    /// A clerk opens the cover, pulls out the card inside (jammed or not),
    /// and closes the cover. Returns the record logged, if a card was there.
    pub fn remove_card_by_hand(&self) -> Result<Option<PhysicalRecord>, EmulatorError> {
        let mut g = self.lock();
        let Some(card) = g.state.card_inside.clone() else {
            g.state.cover_open = false;
            state::save(&g.state_path, &g.state)?;
            return Ok(None);
        };
        let mut rec = record(&g.state, &card, Destination::RemovedByHand);
        // The printer never sees a card leave by hand.
        rec.counted = !g.state.count_at_eject;
        g.log.append(&rec)?;
        g.state.cover_open = false;
        leave(&mut g.state, false);
        state::save(&g.state_path, &g.state)?;
        Ok(Some(rec))
    }

    /// Unplugs (or silences) the printer; every command fails until
    /// [`Device::plug_in`].
    pub fn unplug(&self) {
        self.lock().unplugged = true;
    }

    pub fn plug_in(&self) {
        let mut g = self.lock();
        g.unplugged = false;
        // A power cycle resets the error mode.
        g.state.host_managed_errors = false;
    }

    /// Swaps in a different printer (same folder, new serial and counter),
    /// as when an office moves a printer between PCs.
    pub fn swap_printer(&self, serial: &str, card_counter: u64) -> Result<(), EmulatorError> {
        self.mutate(|s| {
            s.serial = serial.to_string();
            s.card_counter = card_counter;
            s.card_inside = None;
        })
    }

    /// A service reset of the card counter (a board replaced): it starts
    /// again from `to`. A technician does it with no card inside.
    pub fn reset_counter(&self, to: u64) -> Result<(), EmulatorError> {
        let mut g = self.lock();
        if g.state.card_inside.is_some() {
            return Err(EmulatorError::Busy("a card is inside: take it out before the service reset".into()));
        }
        g.state.card_counter = to;
        g.state.counter_generation += 1;
        state::save(&g.state_path, &g.state)
    }

    /// The printer refuses (or accepts again) to clear its stored bitmaps.
    pub fn set_refuse_clear(&self, refuse: bool) -> Result<(), EmulatorError> {
        self.mutate(|s| s.refuse_clear = refuse)
    }

    /// A card taken from the feeder behind the agent's back (a test card
    /// printed from the front panel), also while a card is being printed on
    /// a printer that counts at pick. A printer that counts at eject is
    /// busy until its card has left (the emulator numbers a card by the
    /// counter value that counts it, and both would carry one number).
    pub fn front_panel_test_card(&self) -> Result<(), EmulatorError> {
        let mut g = self.lock();
        if g.state.feeder == 0 {
            return Ok(());
        }
        if g.state.count_at_eject && g.state.card_inside.is_some() {
            return Err(EmulatorError::Busy("a card is inside: the front panel waits until it has left".into()));
        }
        g.state.feeder -= 1;
        g.state.card_counter += 1;
        let card = InsideCard { counter: g.state.card_counter, panels: 1, k_hash: None, panel_hashes: Vec::new(), jammed: false };
        let rec = record(&g.state, &card, Destination::Output);
        g.log.append(&rec)?;
        state::save(&g.state_path, &g.state)
    }

    /// Whether this printer's card counter steps at eject.
    pub fn counts_at(&self) -> CountsAt {
        if self.lock().state.count_at_eject {
            CountsAt::Eject
        } else {
            CountsAt::Pick
        }
    }

    /// The mechanical time of one step (the wire server waits it after
    /// each step that moves the card).
    pub fn pause(&self) {
        self.sleep();
    }

    /// Records a reprint command (`Sc`, `St`) that reached the printer.
    pub fn note_reprint_command(&self) -> Result<(), EmulatorError> {
        self.mutate(|s| s.reprint_commands += 1)
    }

    /// Mechanical time of one card at this device's time scale.
    pub fn card_time(&self) -> Duration {
        self.lock().step_time * 7
    }

    fn sleep(&self) {
        let t = self.lock().step_time;
        if !t.is_zero() {
            std::thread::sleep(t);
        }
    }

    fn take_fault(g: &mut Inner, point: FaultPoint) -> Option<Fault> {
        let next_card = g.state.card_inside.as_ref().map_or(g.state.card_counter + 1, |c| c.counter);
        let i = g.faults.iter().position(|f| f.point == point && f.card.is_none_or(|c| c == next_card))?;
        g.faults.remove(i).map(|f| f.fault)
    }

    /// Whether the printer answers at all.
    pub fn is_unplugged(&self) -> bool {
        self.lock().unplugged
    }

    /// Applies a fault that strikes while a card is inside, after `done`
    /// panels.
    fn strike(g: &mut Inner, fault: Fault, done: u8) -> StepFault {
        match fault {
            Fault::Jam => {
                if let Some(c) = g.state.card_inside.as_mut() {
                    c.jammed = true;
                }
            }
            Fault::CoverOpen => g.state.cover_open = true,
            Fault::RibbonOut => g.state.ribbon_panels = 0,
            Fault::FilmOut => g.state.film_panels = Some(0),
            Fault::Gone => {
                g.unplugged = true;
                let _ = state::save(&g.state_path, &g.state);
                // The agent never saw the last step confirmed.
                return StepFault { fault: Fault::Gone, card: CardPosition::Unknown, panels_done: done.saturating_sub(1) };
            }
            Fault::FeederEmpty | Fault::CardInside | Fault::HeadTemp | Fault::Busy => {}
        }
        let _ = state::save(&g.state_path, &g.state);
        StepFault { fault, card: CardPosition::Inside, panels_done: done }
    }

    fn gone(done: u8) -> StepFault {
        StepFault { fault: Fault::Gone, card: CardPosition::Unknown, panels_done: done }
    }

    /// `Ss`: checks the standing conditions for a card of `panels` panels,
    /// then takes a blank from the feeder (the card counter steps).
    pub fn feed(&self, panels: u32) -> Result<(), StepFault> {
        let mut g = self.lock();
        if g.unplugged {
            return Err(Self::gone(0));
        }
        let not_taken = |fault| StepFault { fault, card: CardPosition::NotTaken, panels_done: 0 };
        let s = &g.state;
        let standing = if s.card_inside.is_some() {
            Some(Fault::CardInside)
        } else if s.cover_open {
            Some(Fault::CoverOpen)
        } else if s.ribbon_panels < panels {
            Some(Fault::RibbonOut)
        } else if s.film_panels.is_some_and(|f| f == 0) {
            Some(Fault::FilmOut)
        } else if s.feeder == 0 {
            Some(Fault::FeederEmpty)
        } else {
            None
        };
        if let Some(f) = standing {
            return Err(not_taken(f));
        }
        let mut jam_at_pick = false;
        if let Some(f) = Self::take_fault(&mut g, FaultPoint::BeforePick) {
            if f == Fault::Jam {
                // A jam at the feed takes the card and sticks it.
                jam_at_pick = true;
            } else {
                let struck = Self::strike(&mut g, f, 0);
                return Err(if f == Fault::Gone { struck } else { not_taken(f) });
            }
        }
        g.state.feeder -= 1;
        // The card's number is the counter value that counts it, whenever
        // the counter steps.
        let counter = g.state.card_counter + 1;
        if !g.state.count_at_eject {
            g.state.card_counter = counter;
        }
        g.state.card_inside = Some(InsideCard { counter, panels: 0, k_hash: None, panel_hashes: Vec::new(), jammed: false });
        state::save(&g.state_path, &g.state).map_err(|_| Self::gone(0))?;
        let after = if jam_at_pick { Some(Fault::Jam) } else { Self::take_fault(&mut g, FaultPoint::AfterPick) };
        match after {
            Some(f) => Err(Self::strike(&mut g, f, 0)),
            None => Ok(()),
        }
    }

    /// `Db`: prints panel number `n` (1-based) of kind `kind` on the card
    /// inside; `hash` is the hash of its decoded dots.
    pub fn print_panel(&self, kind: PanelKind, hash: String, n: u8) -> Result<(), StepFault> {
        let mut g = self.lock();
        if g.unplugged {
            return Err(Self::gone(n.saturating_sub(1)));
        }
        if g.state.card_inside.as_ref().is_none_or(|c| c.jammed) || g.state.cover_open || g.state.ribbon_panels == 0 {
            let fault = if g.state.cover_open {
                Fault::CoverOpen
            } else if g.state.ribbon_panels == 0 {
                Fault::RibbonOut
            } else {
                Fault::Jam
            };
            let done = g.state.card_inside.as_ref().map_or(0, |c| c.panels);
            return Err(StepFault { fault, card: CardPosition::Inside, panels_done: done });
        }
        g.state.ribbon_panels -= 1;
        g.state.panel_counter += 1;
        if kind == PanelKind::O {
            if let Some(f) = g.state.film_panels.as_mut() {
                *f = f.saturating_sub(1);
            }
        }
        g.state.stored_bitmaps.push(kind.letter());
        if let Some(c) = g.state.card_inside.as_mut() {
            c.panels = n;
            c.panel_hashes.push(hash.clone());
            if kind == PanelKind::K {
                c.k_hash = Some(hash);
            }
        }
        state::save(&g.state_path, &g.state).map_err(|_| Self::gone(n))?;
        match Self::take_fault(&mut g, FaultPoint::AfterPanel(n)) {
            Some(f) => Err(Self::strike(&mut g, f, n)),
            None => Ok(()),
        }
    }

    /// `Se`: ejects the card into the output hopper and logs it.
    pub fn eject(&self) -> Result<Counters, StepFault> {
        let mut g = self.lock();
        let done = g.state.card_inside.as_ref().map_or(0, |c| c.panels);
        if g.unplugged {
            return Err(Self::gone(done));
        }
        if let Some(f) = Self::take_fault(&mut g, FaultPoint::AtEject) {
            return Err(Self::strike(&mut g, f, done));
        }
        let Some(inside) = g.state.card_inside.clone() else {
            return Err(StepFault { fault: Fault::CardInside, card: CardPosition::NotTaken, panels_done: 0 });
        };
        if inside.jammed || g.state.cover_open {
            let fault = if inside.jammed { Fault::Jam } else { Fault::CoverOpen };
            return Err(StepFault { fault, card: CardPosition::Inside, panels_done: done });
        }
        let rec = record(&g.state, &inside, Destination::Output);
        g.log.append(&rec).map_err(|_| Self::gone(done))?;
        leave(&mut g.state, true);
        state::save(&g.state_path, &g.state).map_err(|_| Self::gone(done))?;
        Ok(Counters { cards: g.state.card_counter, panels: g.state.panel_counter })
    }

    /// `Ser`: moves the card inside to the reject box (a jammed card
    /// cannot be moved).
    pub fn reject(&self) -> Result<(), PrinterError> {
        let mut g = self.lock();
        if g.unplugged {
            return Err(PrinterError::Gone);
        }
        let Some(card) = g.state.card_inside.clone() else { return Ok(()) };
        if card.jammed {
            return Err(PrinterError::Fault(Fault::Jam));
        }
        if g.state.cover_open {
            return Err(PrinterError::Fault(Fault::CoverOpen));
        }
        let rec = record(&g.state, &card, Destination::RejectBox);
        g.log.append(&rec).map_err(|e| PrinterError::Protocol(e.to_string()))?;
        leave(&mut g.state, true);
        state::save(&g.state_path, &g.state).map_err(|e| PrinterError::Protocol(e.to_string()))
    }

    /// `Pem;18` and its read-back.
    pub fn set_host_managed(&self) -> Result<bool, PrinterError> {
        let mut g = self.lock();
        if g.unplugged {
            return Err(PrinterError::Gone);
        }
        g.state.host_managed_errors = true;
        state::save(&g.state_path, &g.state).map_err(|e| PrinterError::Protocol(e.to_string()))?;
        Ok(g.state.host_managed_errors)
    }

    /// `Wcb`: clears the stored bitmaps (refused when the printer is set to
    /// refuse: the images stay).
    pub fn clear_bitmaps(&self) -> Result<(), PrinterError> {
        let mut g = self.lock();
        if g.unplugged {
            return Err(PrinterError::Gone);
        }
        if g.state.refuse_clear {
            return Err(PrinterError::Protocol("the printer refused to clear its stored bitmaps".into()));
        }
        g.state.stored_bitmaps.clear();
        state::save(&g.state_path, &g.state).map_err(|e| PrinterError::Protocol(e.to_string()))
    }

    /// The printer's standing conditions, as `status` reports them.
    pub fn status(&self) -> Result<Status, PrinterError> {
        let g = self.lock();
        if g.unplugged {
            return Err(PrinterError::Gone);
        }
        let s = &g.state;
        let mut faults = Vec::new();
        if s.cover_open {
            faults.push(Fault::CoverOpen);
        }
        if s.card_inside.as_ref().is_some_and(|c| c.jammed) {
            faults.push(Fault::Jam);
        }
        if s.ribbon_panels < 5 {
            faults.push(Fault::RibbonOut);
        }
        if s.film_panels == Some(0) {
            faults.push(Fault::FilmOut);
        }
        if s.feeder == 0 {
            faults.push(Fault::FeederEmpty);
        }
        Ok(Status {
            faults,
            card_inside: s.card_inside.is_some(),
            blanks_in_feeder: Some(s.feeder),
            ribbon_left: Some(s.ribbon_panels / 5),
            film_left: s.film_panels,
        })
    }
}

fn record(st: &DeviceState, card: &InsideCard, destination: Destination) -> PhysicalRecord {
    PhysicalRecord {
        serial: st.serial.clone(),
        counter: card.counter,
        destination,
        panels: card.panels,
        k_hash: card.k_hash.clone(),
        panel_hashes: card.panel_hashes.clone(),
        counted: true,
        generation: st.counter_generation,
    }
}

/// A card leaves the printer (output, reject box, or by hand): on a printer
/// that counts at eject, this is when the counter steps, if the card left
/// `through` the printer (not pulled out by a clerk).
fn leave(st: &mut DeviceState, through: bool) {
    if st.count_at_eject && through {
        st.card_counter += 1;
    }
    st.card_inside = None;
    st.stored_bitmaps.clear();
}

/// The emulator's memory as it is on disk, read without touching it (for
/// judging a printer another process runs).
pub fn read_memory(dir: &Path) -> Result<(DeviceState, Vec<PhysicalRecord>), EmulatorError> {
    let at = state::StatePath { path: dir.join("printer-state.json"), durable: false };
    let st = state::load(&at)?.ok_or_else(|| EmulatorError::Io {
        path: at.path.clone(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no emulator state"),
    })?;
    Ok((st, PhysicalLog::new(&dir.join("physical-log.jsonl"), false).read()?))
}

fn fail(fault: Fault, panels_started: u8, panels_done: u8, card: CardPosition) -> PrintFailure {
    PrintFailure { fault, progress: PrintProgress { panels_started, panels_done, card } }
}

/// The emulated printer as a station sees it.
pub struct EmulatedPrinter {
    device: Device,
}

impl EmulatedPrinter {
    pub fn device(&self) -> &Device {
        &self.device
    }

    fn live(&self) -> Result<MutexGuard<'_, Inner>, PrinterError> {
        let g = self.device.lock();
        if g.unplugged {
            return Err(PrinterError::Gone);
        }
        Ok(g)
    }
}

fn failure(started: u8, f: StepFault) -> PrintFailure {
    fail(f.fault, started, f.panels_done, f.card)
}

impl Printer for EmulatedPrinter {
    fn identify(&mut self) -> Result<Identity, PrinterError> {
        let g = self.live()?;
        Ok(Identity { model: g.state.model.clone(), serial: g.state.serial.clone(), firmware: g.state.firmware.clone() })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::evolis_ymcko(self.device.lock().state.film_panels.is_some())
    }

    fn prepare(&mut self) -> Result<(), PrinterError> {
        // Set, then read back, as `Pem;18` and `Rem` would.
        if self.device.set_host_managed()? {
            Ok(())
        } else {
            Err(PrinterError::Protocol("error mode did not read back as host-managed".into()))
        }
    }

    fn status(&mut self) -> Result<Status, PrinterError> {
        self.device.status()
    }

    fn counters(&mut self) -> Result<Counters, PrinterError> {
        let g = self.live()?;
        Ok(Counters { cards: g.state.card_counter, panels: g.state.panel_counter })
    }

    fn print(&mut self, card: &CardPanels, feeding: &mut dyn FnMut() -> bool) -> Result<Counters, PrintFailure> {
        let needed = card.panels.len() as u8;
        if !feeding() {
            return Err(fail(Fault::Busy, 0, 0, CardPosition::NotTaken));
        }
        failpoint::hit("driver.before_feed");
        self.device.feed(u32::from(needed)).map_err(|f| failure(0, f))?;
        failpoint::hit("driver.after_feed");
        self.device.sleep();
        for (i, panel) in card.panels.iter().enumerate() {
            let n = i as u8 + 1;
            self.device.sleep();
            self.device.print_panel(panel.kind, panel.hash(), n).map_err(|f| failure(n, f))?;
            failpoint::hit(&format!("driver.after_panel.{n}"));
        }
        failpoint::hit("driver.before_eject");
        self.device.sleep();
        let counters = self.device.eject().map_err(|f| failure(needed, f))?;
        failpoint::hit("driver.after_eject");
        Ok(counters)
    }

    fn reject(&mut self) -> Result<(), PrinterError> {
        self.device.reject()
    }

    fn cancel(&mut self) -> Result<(), PrinterError> {
        self.device.clear_bitmaps()
    }

    fn clear_memory(&mut self) -> Result<(), PrinterError> {
        self.device.clear_bitmaps()
    }

    fn counts_at(&self) -> CountsAt {
        self.device.counts_at()
    }

    /// In process there is no link: the mechanical time, twice over.
    fn card_deadline(&self) -> std::time::Duration {
        self.device.card_time() * 2 + std::time::Duration::from_secs(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> DeviceOptions {
        DeviceOptions { time_scale: 0.0, durable: false, ..DeviceOptions::default() }
    }

    /// A card inside at a power cut after a service reset of the counter,
    /// whose number a card of the old count already carries, is still
    /// inside at power-on.
    #[test]
    fn a_card_inside_after_a_counter_reset_survives_a_power_cut() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = Device::open(dir.path(), &options()).expect("open");
        d.front_panel_test_card().expect("card 1 of the first count");
        d.reset_counter(0).expect("service reset");
        d.feed(5).expect("card 1 of the second count, inside");
        drop(d);
        let d = Device::open(dir.path(), &options()).expect("power on");
        let inside = d.lock().state.card_inside.clone();
        assert_eq!(inside.map(|c| c.counter), Some(1), "the card inside was lost at power-on");
    }
}
