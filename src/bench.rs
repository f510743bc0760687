//! `cetak bench`: the agent's own cost, measured the same way each time.
//! Run it from a release build (`cargo run --release -- bench`); it is not
//! part of the test suite, and its figures are printed, never asserted.
//!
//! - per card: import one job, validate and fit-check it, render it, write
//!   the attempt ahead, print on the emulator with no mechanical time and
//!   with its own disk syncs off, book the outcome, report and purge; every
//!   journal commit fsynced;
//! - one journal transition: `assigned` → `ready`, one fsynced transaction;
//! - the filesystem both ran on.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cetak_drivers::emulator::{Device, DeviceOptions};

use crate::journal::Journal;
use crate::messages::Lang;
use crate::station::{Station, StationOptions, Step};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("bench folder: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    #[error(transparent)]
    Local(#[from] crate::local::LocalError),
    #[error(transparent)]
    Station(#[from] crate::station::StationError),
    #[error(transparent)]
    Emulator(#[from] cetak_drivers::emulator::EmulatorError),
    #[error("the station did not print job {0} (stopped on {1})")]
    NotPrinted(String, String),
}

/// An emulated printer for a benchmark: a large feeder and ribbon, its own
/// disk syncs off (they are not the agent's cost), at `card_time` a card
/// (zero: no mechanical time).
fn bench_device(dir: &Path, name: &str, card_time: Duration) -> Result<Device, BenchError> {
    let opts = DeviceOptions {
        card_time,
        time_scale: 1.0,
        durable: false,
        feeder: 1000,
        feeder_capacity: 1000,
        ribbon_cards: 1000,
        ..DeviceOptions::default()
    };
    Ok(Device::open(&dir.join(name), &opts)?)
}

/// Median and 90th percentile of a sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    pub median: Duration,
    pub p90: Duration,
    pub n: usize,
}

fn figures(mut v: Vec<Duration>) -> Figures {
    v.sort();
    let at = |q: f64| v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default();
    Figures { median: at(0.5), p90: at(0.9), n: v.len() }
}

/// Rendering figures.
#[derive(Clone, Debug)]
pub struct RenderFigures {
    pub render: Figures,
    pub render_and_encode: Figures,
    /// The printer's idle time between cards caused by the agent, as a
    /// share of the card cycle, with the emulator at `card_time` a card.
    pub idle_share: f64,
    pub idle_median: Duration,
    pub card_time: Duration,
    pub cards: usize,
}

/// Times each `print` call, to find the printer's idle gaps.
struct Timed<P> {
    inner: P,
    spans: std::sync::Arc<std::sync::Mutex<Vec<(Instant, Instant)>>>,
}

impl<P: cetak_drivers::Printer> cetak_drivers::Printer for Timed<P> {
    fn identify(&mut self) -> Result<cetak_drivers::Identity, cetak_drivers::PrinterError> {
        self.inner.identify()
    }
    fn capabilities(&self) -> cetak_drivers::Capabilities {
        self.inner.capabilities()
    }
    fn prepare(&mut self) -> Result<(), cetak_drivers::PrinterError> {
        self.inner.prepare()
    }
    fn status(&mut self) -> Result<cetak_drivers::Status, cetak_drivers::PrinterError> {
        self.inner.status()
    }
    fn counters(&mut self) -> Result<cetak_drivers::Counters, cetak_drivers::PrinterError> {
        self.inner.counters()
    }
    fn print(
        &mut self,
        card: &cetak_drivers::CardPanels,
        feeding: &mut dyn FnMut() -> bool,
    ) -> Result<cetak_drivers::Counters, cetak_drivers::PrintFailure> {
        let start = Instant::now();
        let r = self.inner.print(card, feeding);
        if let Ok(mut spans) = self.spans.lock() {
            spans.push((start, Instant::now()));
        }
        r
    }
    fn reject(&mut self) -> Result<(), cetak_drivers::PrinterError> {
        self.inner.reject()
    }
    fn cancel(&mut self) -> Result<(), cetak_drivers::PrinterError> {
        self.inner.cancel()
    }
    fn clear_memory(&mut self) -> Result<(), cetak_drivers::PrinterError> {
        self.inner.clear_memory()
    }
    fn counts_at(&self) -> cetak_drivers::CountsAt {
        self.inner.counts_at()
    }
    fn card_deadline(&self) -> Duration {
        self.inner.card_deadline()
    }
}

fn render_figures(dir: &Path, rounds: usize, cards: usize, card_time: Duration) -> Result<RenderFigures, BenchError> {
    let bad = |e: String| BenchError::NotPrinted("bench".into(), e);
    let people = cetak_model::generator::generate(11, cards, crate::clock::today());
    let raw = cetak_model::RawPrr::from_value(people[0].clone()).map_err(|e| bad(e.to_string()))?;
    let prr = cetak_model::validate(&raw, crate::clock::today()).prr.ok_or_else(|| bad("invalid".into()))?;
    let device = bench_device(dir, "render-emulator", card_time)?;
    let caps = cetak_drivers::Printer::capabilities(&device.printer());
    let renderer = crate::render::Renderer::shipped();
    let mut render = Vec::new();
    let mut both = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        let r = renderer.render(&prr, &caps).map_err(|e| bad(e.to_string()))?;
        render.push(start.elapsed());
        for p in &r.panels.panels {
            let _ = cetak_drivers::evolis::bitmap::encode_compressed(p);
        }
        both.push(start.elapsed());
    }
    // The printer's idle time: the gaps between one print ending and the
    // next starting, while the station keeps the queue full.
    let spans = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let printer = Timed { inner: device.printer(), spans: std::sync::Arc::clone(&spans) };
    let mut station = Station::new(
        Journal::open(&dir.join("render-state"))?,
        printer,
        StationOptions { name: "bench".into(), spoil_retries: 2, local_mode: true, lang: Lang::En, district: None },
    );
    let file = dir.join("render-jobs.jsonl");
    std::fs::write(&file, people.iter().map(|p| format!("{p}\n")).collect::<String>())?;
    crate::local::import_file(station.journal(), &file)?;
    while matches!(station.step()?, Step::Printed(_)) {}
    let spans = spans.lock().map(|s| s.clone()).unwrap_or_default();
    let gaps: Vec<Duration> = spans.windows(2).map(|w| w[1].0.duration_since(w[0].1)).collect();
    let total = spans.last().zip(spans.first()).map(|(l, f)| l.1.duration_since(f.0)).unwrap_or_default();
    let idle: Duration = gaps.iter().sum();
    let idle_share = if total.is_zero() { 0.0 } else { idle.as_secs_f64() / total.as_secs_f64() };
    Ok(RenderFigures {
        render: figures(render),
        render_and_encode: figures(both),
        idle_share,
        idle_median: figures(gaps).median,
        card_time,
        cards: spans.len(),
    })
}

/// Peak resident memory of this process so far (VmHWM), in KiB.
pub fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[derive(Clone, Debug)]
pub struct BenchReport {
    pub render: RenderFigures,
    pub peak_kib: Option<u64>,
    pub per_card: Figures,
    pub transition: Figures,
    pub filesystem: String,
    pub release_build: bool,
    pub wire: WireFigures,
}

/// One card's panels on the Evolis wire.
#[derive(Clone, Debug)]
pub struct WireFigures {
    pub encode_plain: Figures,
    pub encode_compressed: Figures,
    pub bytes_plain: usize,
    pub bytes_compressed: usize,
    /// A whole card through the pty with no line limit (compressed).
    pub pty_unthrottled: Figures,
    /// A whole card through the pty throttled to 115,200 baud (compressed).
    pub pty_115200: Figures,
}

/// Encodes one rendered card's panels, and prints it through the
/// emulator's wire server on a pseudo-terminal.
fn wire_figures(dir: &Path, rounds: usize) -> Result<WireFigures, BenchError> {
    use cetak_drivers::evolis::bitmap::{encode_compressed, encode_full};
    let job = cetak_model::generator::generate(7, 1, crate::clock::today()).remove(0);
    let raw = cetak_model::RawPrr::from_value(job).map_err(|e| BenchError::NotPrinted("bench".into(), e.to_string()))?;
    let prr =
        cetak_model::validate(&raw, crate::clock::today()).prr.ok_or_else(|| BenchError::NotPrinted("bench".into(), "invalid".into()))?;
    let device = bench_device(dir, "wire-emulator", Duration::ZERO)?;
    let caps = cetak_drivers::Printer::capabilities(&device.printer());
    let card = crate::render::render(&prr, &caps).map_err(|e| BenchError::NotPrinted("bench".into(), e.to_string()))?;
    let time = |f: &dyn Fn() -> usize| -> (Figures, usize) {
        let mut v = Vec::new();
        let mut bytes = 0;
        for _ in 0..rounds {
            let start = Instant::now();
            bytes = f();
            v.push(start.elapsed());
        }
        (figures(v), bytes)
    };
    let (encode_plain, bytes_plain) = time(&|| card.panels.iter().map(|p| encode_full(p).map(|b| b.len()).unwrap_or(0)).sum());
    let (encode_compressed, bytes_compressed) =
        time(&|| card.panels.iter().map(|p| encode_compressed(p).map(|b| b.len()).unwrap_or(0)).sum());
    let through = |baud: Option<u32>, n: usize| -> Result<Figures, BenchError> {
        let path = cetak_drivers::emulator::serve::serve_pty_at(device.clone(), Vec::new(), baud, None)?;
        let t = cetak_drivers::transport::serial::SerialTransport::new(cetak_drivers::transport::serial::SerialSettings {
            path,
            baud: 115_200,
            parity: serialport::Parity::None,
            flow: serialport::FlowControl::None,
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut p = cetak_drivers::evolis::EvolisPrinter::new(t, true);
        cetak_drivers::Printer::prepare(&mut p).map_err(|e| BenchError::NotPrinted("bench".into(), e.to_string()))?;
        let mut v = Vec::new();
        for _ in 0..n {
            let start = Instant::now();
            cetak_drivers::Printer::print(&mut p, &card, &mut || true)
                .map_err(|e| BenchError::NotPrinted("bench".into(), e.to_string()))?;
            cetak_drivers::Printer::clear_memory(&mut p).map_err(|e| BenchError::NotPrinted("bench".into(), e.to_string()))?;
            v.push(start.elapsed());
        }
        Ok(figures(v))
    };
    let pty_unthrottled = through(None, rounds)?;
    let pty_115200 = through(Some(115_200), 3)?;
    Ok(WireFigures { encode_plain, encode_compressed, bytes_plain, bytes_compressed, pty_unthrottled, pty_115200 })
}

/// The filesystem holding `dir`, from `/proc/self/mountinfo`: type, source
/// and mount point.
pub fn filesystem_of(dir: &Path) -> String {
    let Ok(dir) = dir.canonicalize() else { return "unknown".into() };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return "unknown".into() };
    let mut best: Option<(usize, String)> = None;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else { continue };
        let (Some(mount), Some(fstype), Some(source)) = (fields.get(4), fields.get(sep + 1), fields.get(sep + 2)) else { continue };
        if dir.starts_with(mount) && best.as_ref().is_none_or(|(len, _)| mount.len() >= *len) {
            best = Some((mount.len(), format!("{fstype} on {source}, mounted at {mount}")));
        }
    }
    best.map(|b| b.1).unwrap_or_else(|| "unknown".into())
}

/// Runs the benchmark in `dir` (a temporary folder when `None`).
pub fn run(cards: usize, dir: Option<&Path>) -> Result<BenchReport, BenchError> {
    let builder = tempfile::Builder::new().prefix("cetak-bench-").clone();
    let temp = match dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            builder.tempdir_in(d)?
        }
        None => builder.tempdir()?,
    };
    let dir: PathBuf = temp.path().to_path_buf();
    let today = crate::clock::today();
    let jobs = cetak_model::generator::generate(42, cards, today);
    let device = bench_device(&dir, "emulator", Duration::ZERO)?;
    let mut station = Station::new(
        Journal::open(&dir.join("state"))?,
        device.printer(),
        StationOptions { name: "bench".into(), spoil_retries: 2, local_mode: true, lang: Lang::En, district: None },
    );
    // Warm-up: the first card adopts the printer and creates the day key.
    let mut per_card = Vec::with_capacity(cards);
    let job_file = dir.join("job.jsonl");
    for (i, job) in jobs.iter().enumerate() {
        std::fs::write(&job_file, job.to_string())?;
        let start = Instant::now();
        crate::local::import_file(station.journal(), &job_file)?;
        let id = job["job_id"].as_str().unwrap_or_default().to_string();
        match station.step()? {
            Step::Printed(p) if p == id => {}
            other => return Err(BenchError::NotPrinted(id, format!("{other:?}"))),
        }
        crate::local::acknowledge_all(station.journal())?;
        if i > 0 {
            per_card.push(start.elapsed());
        }
    }
    drop(station);

    // One transition: assigned -> ready, each its own fsynced transaction.
    let mut journal = Journal::open(&dir.join("transitions"))?;
    let all: String = jobs.iter().map(|j| format!("{j}\n")).collect();
    std::fs::write(&job_file, all)?;
    let ids = crate::local::import_file(&mut journal, &job_file)?.imported;
    let mut transition = Vec::with_capacity(ids.len());
    for id in &ids {
        let start = Instant::now();
        journal.mark_ready(id, false)?;
        transition.push(start.elapsed());
    }
    let filesystem = filesystem_of(&dir);
    let wire = wire_figures(&dir, 20)?;
    let render = render_figures(&dir, 50, 12, Duration::from_secs(1))?;
    drop(temp);
    Ok(BenchReport {
        per_card: figures(per_card),
        transition: figures(transition),
        filesystem,
        release_build: !cfg!(debug_assertions),
        wire,
        render,
        peak_kib: peak_memory_kib(),
    })
}

/// One figure in the shared report format, printed only when
/// `CETAK_FIGURES` is set: `figure | what | measured | target`.
/// `scripts/benchmarks` runs every benchmark with it and collects these
/// lines into `docs/benchmarks.md`, so each figure is measured and named
/// in one place, beside its target.
pub fn figure(what: &str, measured: &str, target: &str) {
    if std::env::var_os("CETAK_FIGURES").is_some() {
        println!("figure | {what} | {measured} | {target}");
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Prints the report for a person.
pub fn print(r: &BenchReport) {
    if !r.release_build {
        println!("warning: a debug build; run `cargo run --release -- bench` for figures worth quoting");
    }
    println!("filesystem: {}", r.filesystem);
    println!(
        "agent time per card (import, validate, render, write-ahead, print with no mechanical time, book, purge; journal fsynced): median {}, p90 {} over {} cards",
        ms(r.per_card.median),
        ms(r.per_card.p90),
        r.per_card.n
    );
    println!(
        "journal transition assigned->ready (one fsynced transaction): median {}, p90 {} over {}",
        ms(r.transition.median),
        ms(r.transition.p90),
        r.transition.n
    );
    let w = &r.wire;
    println!(
        "encode one card's 5 panels (YMCKO): plain median {} ({} bytes), compressed median {} ({} bytes)",
        ms(w.encode_plain.median),
        w.bytes_plain,
        ms(w.encode_compressed.median),
        w.bytes_compressed
    );
    println!(
        "one card through the pty, compressed: unthrottled median {} over {}; at 115,200 baud median {} over {}",
        ms(w.pty_unthrottled.median),
        w.pty_unthrottled.n,
        ms(w.pty_115200.median),
        w.pty_115200.n
    );
    let rf = &r.render;
    println!(
        "render one card: median {}, p90 {}; render and encode: median {}, p90 {} (over {})",
        ms(rf.render.median),
        ms(rf.render.p90),
        ms(rf.render_and_encode.median),
        ms(rf.render_and_encode.p90),
        rf.render.n
    );
    println!(
        "printer idle between cards caused by the agent: {:.3}% of the cycle (median gap {}) over {} cards at {:?} a card",
        rf.idle_share * 100.0,
        ms(rf.idle_median),
        rf.cards,
        rf.card_time
    );
    if let Some(kib) = r.peak_kib {
        println!("peak resident memory of the benchmark process: {:.1} MiB", kib as f64 / 1024.0);
    }
    println!(
        "one card sent plain at 115,200 baud would take {:.0} s on the line (computed: {} bytes at 11,520 bytes/s)",
        w.bytes_plain as f64 / 11_520.0,
        w.bytes_plain
    );
    let none = "none set (a card takes about 20 s)";
    let med_p90 = |f: &Figures| format!("{} (p90 {})", ms(f.median), ms(f.p90));
    figure("agent time per card, journal fsynced (`cetak bench`)", &med_p90(&r.per_card), none);
    figure("one journal transition, fsynced (`cetak bench`)", &med_p90(&r.transition), none);
    figure("render one card (`cetak bench`)", &med_p90(&rf.render), "< 30 ms at the median");
    figure("render and encode one card (`cetak bench`)", &med_p90(&rf.render_and_encode), none);
    figure(
        "encode five panels, compressed (`cetak bench`)",
        &format!("{} ({} bytes)", ms(w.encode_compressed.median), w.bytes_compressed),
        none,
    );
    figure(
        "one card through the pty at 115,200 baud, compressed (`cetak bench`)",
        &format!("{:.2} s", w.pty_115200.median.as_secs_f64()),
        none,
    );
    figure(
        "printer idle between cards caused by the agent (`cetak bench`)",
        &format!("{:.3}% of a {:?} cycle", rf.idle_share * 100.0, rf.card_time),
        "< 1%",
    );
    if let Some(kib) = r.peak_kib {
        figure("peak memory of the benchmark process (`cetak bench`)", &format!("{:.1} MiB", kib as f64 / 1024.0), none);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_pick_the_middle_and_the_tail() {
        let v: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        let f = figures(v);
        assert_eq!((f.median, f.p90, f.n), (Duration::from_millis(6), Duration::from_millis(9), 10));
    }

    #[test]
    fn the_root_filesystem_is_found() {
        assert_ne!(filesystem_of(Path::new("/")), "unknown");
    }
}
