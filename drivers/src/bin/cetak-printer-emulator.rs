//! `cetak-printer-emulator`: the emulated card printer as a process of its
//! own, speaking the Evolis protocol on TCP or a pseudo-terminal. Training,
//! demos and the wire tests use it. Its memory (state file, physical log)
//! lives in `--dir` and survives restarts, as a printer's would.
//!
//! The first line on standard output says where it listens
//! (`tcp 127.0.0.1:PORT` or `pty /dev/pts/N`); each line on standard input
//! is a clerk's action (`remove-card`, `open-cover`, `close-cover`,
//! `load N`, `ribbon N`, `film N`, `test-card`, `unplug`, `plug`,
//! `fault SPEC`, `reset-counter N` (a service reset of the card counter),
//! `refuse-clear [off]` (the printer keeps its stored bitmaps)), answered
//! `ok` or `error: ...`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use cetak_drivers::emulator::serve::{clerk_from_stdin, parse_fault, serve_pty_at, serve_tcp};
use cetak_drivers::emulator::wire::WireFault;
use cetak_drivers::emulator::{Device, DeviceOptions, ScheduledFault};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "cetak-printer-emulator", version, about = "An emulated Evolis card printer on TCP or a pseudo-terminal")]
struct Args {
    /// The printer's memory: state file and physical log.
    #[arg(long)]
    dir: PathBuf,
    /// Listen on this TCP address (port 0: any free port).
    #[arg(long, conflicts_with = "pty")]
    tcp: Option<String>,
    /// Serve a new pseudo-terminal.
    #[arg(long)]
    pty: bool,
    /// Mechanical time scale (1.0 = real time).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Serial number of a new printer.
    #[arg(long, default_value = "EMU0000001")]
    serial: String,
    /// Blanks in the feeder of a new printer.
    #[arg(long, default_value_t = 100)]
    feeder: u32,
    /// Cards the ribbon of a new printer prints.
    #[arg(long, default_value_t = 200)]
    ribbon: u32,
    /// The card counter steps when a card leaves, not when it is taken.
    #[arg(long)]
    count_at_eject: bool,
    /// A device fault: POINT:KIND[@CARD] (repeatable).
    #[arg(long = "fault", value_parser = parse_fault)]
    faults: Vec<ScheduledFault>,
    /// Write each decoded panel as a PNG into this folder.
    #[arg(long)]
    png: Option<PathBuf>,
    /// A wire fault: CMD:garbage|half|silent[@N] (repeatable).
    #[arg(long = "wire-fault")]
    wire_faults: Vec<WireFault>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let opts = DeviceOptions {
        serial: args.serial.clone(),
        feeder: args.feeder,
        ribbon_cards: args.ribbon,
        time_scale: args.time_scale,
        count_at_eject: args.count_at_eject,
        ..DeviceOptions::default()
    };
    let device = Device::open(&args.dir, &opts).context("opening the emulator's memory")?;
    for f in args.faults {
        device.inject(f);
    }
    let mut out = std::io::stdout();
    if let Some(d) = &args.png {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    if args.pty {
        let path = serve_pty_at(device.clone(), args.wire_faults, None, args.png)?;
        writeln!(out, "pty {path}")?;
        out.flush()?;
        clerk_from_stdin(device);
        loop {
            std::thread::park();
        }
    }
    let addr = args.tcp.unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = std::net::TcpListener::bind(&addr).with_context(|| format!("listening on {addr}"))?;
    writeln!(out, "tcp {}", listener.local_addr()?)?;
    out.flush()?;
    clerk_from_stdin(device.clone());
    serve_tcp(device, listener, args.wire_faults, args.png)?;
    Ok(())
}
