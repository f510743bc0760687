//! One home for test helpers: a station on an in-process emulator in a
//! temporary folder, sample data, and the judge that checks the journal
//! against the emulator's physical log.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cetak::journal::Journal;
use cetak::messages::Lang;
use cetak::station::{Station, StationOptions, Step};
use cetak_drivers::emulator::{Destination, Device, DeviceOptions, EmulatedPrinter};

pub const PRINTER: &str = "printer-1";

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// The sample lines of a data file.
pub fn sample_lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(data(name)).expect("sample file").lines().map(str::to_string).collect()
}

/// A station driving an in-process emulator, all in one temporary folder.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub device: Device,
    pub station: Station<EmulatedPrinter>,
}

impl Rig {
    pub fn new() -> Self {
        Self::with(DeviceOptions::default(), 2)
    }

    pub fn with(opts: DeviceOptions, spoil_retries: u32) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let device = Device::open(&dir.path().join("emulator"), &DeviceOptions { time_scale: 0.0, ..opts }).expect("emulator");
        let journal = Journal::open(&dir.path().join("state")).expect("journal");
        let station = Station::new(
            journal,
            device.printer(),
            StationOptions { name: PRINTER.into(), spoil_retries, local_mode: true, lang: Lang::En },
        );
        Self { dir, device, station }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Imports the given JSON lines through the local job source.
    pub fn import_lines(&mut self, lines: &[String]) -> Vec<String> {
        let f = self.dir.path().join(format!("jobs-{}.jsonl", rand_suffix()));
        std::fs::write(&f, lines.join("\n")).expect("write jobs");
        cetak::local::import_file(self.station.journal(), &f).expect("import").imported
    }

    /// Imports `n` valid samples, returns their ids.
    pub fn import_samples(&mut self, n: usize) -> Vec<String> {
        let lines: Vec<String> = sample_lines("prr-valid.jsonl").into_iter().take(n).collect();
        self.import_lines(&lines)
    }

    pub fn step(&mut self) -> Step {
        self.station.step().expect("station step")
    }

    /// Steps until the station is idle (or stuck), at most `max` steps.
    pub fn run_until_idle(&mut self, max: usize) -> Vec<Step> {
        let mut steps = Vec::new();
        for _ in 0..max {
            let s = self.step();
            let stop = matches!(s, Step::Idle | Step::Waiting(_) | Step::Paused(_) | Step::Offline);
            steps.push(s);
            if stop {
                break;
            }
        }
        steps
    }

    pub fn journal(&mut self) -> &mut Journal {
        self.station.journal()
    }

    pub fn state_of(&mut self, job: &str) -> cetak::journal::JobState {
        self.journal().job(job).expect("journal").expect("job").state
    }

    /// The final result of a job (also after it was purged).
    pub fn result_of(&mut self, job: &str) -> Option<cetak::journal::JobState> {
        self.journal().final_result(job).expect("journal")
    }

    pub fn judge(&mut self) {
        let device = self.device.clone();
        assert_physical_log_matches(self.journal(), &device);
    }
}

impl Default for Rig {
    fn default() -> Self {
        Self::new()
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// The shared judge: every card that left the emulator's feeder (by its
/// physical log, plus a card still inside) is booked to exactly one attempt
/// with the right outcome, matched by the card counter value at pick and
/// cross-checked by the K-panel hash; cards with no attempt are covered by
/// booked "blank unaccounted" adjustments; every blank-using attempt has
/// its ledger event.
pub fn assert_physical_log_matches(journal: &Journal, device: &Device) {
    let log = device.physical_log().expect("physical log");
    let state = device.state();
    // (serial, counter) -> (destination, or None while inside; panels; K hash)
    type Card = (Option<Destination>, u8, Option<String>);
    let mut cards: HashMap<(String, u64), Card> = HashMap::new();
    for r in &log {
        let prev = cards.insert((r.serial.clone(), r.counter), (Some(r.destination), r.panels, r.k_hash.clone()));
        assert!(prev.is_none(), "card {} of {} logged twice", r.counter, r.serial);
    }
    if let Some(c) = &state.card_inside {
        cards.insert((state.serial.clone(), c.counter), (None, c.panels, c.k_hash.clone()));
    }
    let attempts = journal.attempts().expect("attempts");
    let ledger = journal.ledger_rows().expect("ledger");
    let mut matched = std::collections::HashSet::new();
    for a in &attempts {
        let key = (a.printer_serial.clone(), a.counter_before + 1);
        let who = format!("job {} attempt {}", a.job_id, a.attempt);
        match a.outcome.as_deref() {
            Some("not_fed") => continue,
            Some("printed") => {
                let (dest, panels, k) =
                    cards.get(&key).unwrap_or_else(|| panic!("{who}: printed, but no card {key:?} in the physical log"));
                assert_eq!(*dest, Some(Destination::Output), "{who}: printed, but the card went to {dest:?}");
                assert_eq!(*panels, 5, "{who}: printed card has {panels} panels");
                assert_eq!(k, &a.k_hash, "{who}: K panel on the card is not the one the journal sent");
                assert!(
                    ledger.iter().any(|l| l.kind == "blank_used" && l.job_id.as_deref() == Some(&a.job_id) && l.attempt == Some(a.attempt)),
                    "{who}: no blank_used"
                );
            }
            Some("spoiled") => {
                let (dest, panels, _) = cards.get(&key).unwrap_or_else(|| panic!("{who}: spoiled, but no card {key:?} left the feeder"));
                assert_ne!(*dest, Some(Destination::Output), "{who}: spoiled, but the card is in the output hopper");
                assert_eq!(*panels, 0, "{who}: spoiled as unprinted, but the card has {panels} panels");
                assert!(
                    ledger
                        .iter()
                        .any(|l| l.kind == "blank_spoiled" && l.job_id.as_deref() == Some(&a.job_id) && l.attempt == Some(a.attempt)),
                    "{who}: no blank_spoiled"
                );
            }
            Some("uncertain") => {
                assert!(cards.contains_key(&key), "{who}: uncertain, but no card {key:?} left the feeder");
            }
            None => {
                // In flight: a card may or may not have been taken.
                if !cards.contains_key(&key) {
                    continue;
                }
            }
            Some(other) => panic!("{who}: unknown outcome {other}"),
        }
        assert!(matched.insert(key.clone()), "{who}: card {key:?} is booked to two attempts");
    }
    let unmatched = cards.keys().filter(|k| !matched.contains(*k)).count() as i64;
    let adjusted: i64 = ledger.iter().filter(|l| l.kind == "adjustment" && l.item == "blanko").map(|l| -l.quantity).sum();
    let pending_pause = journal.pause_of(PRINTER).expect("pause").map(|(r, _)| r) == Some("blank_unaccounted".into());
    if pending_pause {
        assert!(unmatched >= adjusted, "more adjustments than unexplained cards");
    } else {
        assert_eq!(
            unmatched, adjusted,
            "cards that left the feeder without an attempt or a booked adjustment: {unmatched} vs {adjusted} booked"
        );
    }
    assert_eq!(journal.verify_ledger().expect("verify"), None, "ledger chain broken");
}
