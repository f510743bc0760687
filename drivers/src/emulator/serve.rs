//! Running the emulator as its own process (`cetak-printer-emulator`):
//! the wire protocol on TCP or a pseudo-terminal, faults from the command
//! line, and a clerk's hands on standard input (one action a line).

use std::io::{BufRead, Write};
use std::net::TcpListener;

use serialport::SerialPort;

use super::device::{Device, FaultPoint, ScheduledFault};
use super::wire::{Session, WireFault};
use crate::printer::Fault;

/// Parses `POINT:KIND[@CARD]`: POINT is `before_pick`, `after_pick`,
/// `after_panel.N` or `at_eject`; KIND `jam`, `cover_open`, `ribbon_out`,
/// `film_out`, `feeder_empty` or `gone`; CARD the card counter value it
/// strikes (default: the next card to reach the point).
/// What `--fault` takes, said with every refusal.
pub const VALID_FAULTS: &str = "points: before_pick, after_pick, after_panel.1 to after_panel.5, at_eject; \
kinds: jam, cover_open, ribbon_out, film_out, feeder_empty, gone, head_temp, busy; \
@CARD: the printer's nth card (in print order, urgent jobs first)";

pub fn parse_fault(s: &str) -> Result<ScheduledFault, String> {
    let (point, rest) = s.split_once(':').ok_or_else(|| format!("expected POINT:KIND[@CARD], such as after_pick:jam@3; {VALID_FAULTS}"))?;
    let (kind, card) = match rest.split_once('@') {
        Some((k, c)) => (k, Some(c.parse::<u64>().map_err(|_| format!("{c:?} is not a card number (1, 2, ...) in {s}"))?)),
        None => (rest, None),
    };
    let point = match point {
        "before_pick" => FaultPoint::BeforePick,
        "after_pick" => FaultPoint::AfterPick,
        "at_eject" => FaultPoint::AtEject,
        p => match p.strip_prefix("after_panel.").and_then(|n| n.parse::<u8>().ok()) {
            Some(n) if (1..=5).contains(&n) => FaultPoint::AfterPanel(n),
            _ => return Err(format!("unknown fault point {p:?}; {VALID_FAULTS}")),
        },
    };
    let fault = match kind {
        "jam" => Fault::Jam,
        "cover_open" => Fault::CoverOpen,
        "ribbon_out" => Fault::RibbonOut,
        "film_out" => Fault::FilmOut,
        "feeder_empty" => Fault::FeederEmpty,
        "gone" => Fault::Gone,
        "head_temp" => Fault::HeadTemp,
        "busy" => Fault::Busy,
        other => return Err(format!("unknown fault {other:?}; {VALID_FAULTS}")),
    };
    Ok(ScheduledFault { point, fault, card })
}

/// Applies one clerk action read from standard input.
pub fn clerk(device: &Device, line: &str) -> Result<String, String> {
    let mut words = line.split_whitespace();
    let act = words.next().unwrap_or("");
    let arg = words.next().unwrap_or("");
    let n = arg.parse::<u32>().ok();
    let r = match (act, n) {
        ("reset-counter", Some(n)) => device.reset_counter(u64::from(n)),
        ("refuse-clear", _) => device.set_refuse_clear(arg != "off"),
        ("remove-card", _) => device.remove_card_by_hand().map(|_| ()),
        ("open-cover", _) => device.set_cover_open(true),
        ("close-cover", _) => device.set_cover_open(false),
        ("load", Some(n)) => device.load_blanks(n),
        ("ribbon", Some(n)) => device.replace_ribbon(n),
        ("film", Some(n)) => device.replace_film(n),
        ("test-card", _) => device.front_panel_test_card(),
        ("unplug", _) => {
            device.unplug();
            Ok(())
        }
        ("plug", _) => {
            device.plug_in();
            Ok(())
        }
        ("fault", _) => {
            let f = parse_fault(arg)?;
            device.inject(f);
            Ok(())
        }
        _ => return Err(format!("unknown action: {line}")),
    };
    r.map(|()| "ok".to_string()).map_err(|e| e.to_string())
}

/// Reads clerk actions from standard input until it closes.
pub fn clerk_from_stdin(device: Device) {
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines().map_while(Result::ok) {
            let answer = clerk(&device, &line).unwrap_or_else(|e| format!("error: {e}"));
            println!("{answer}");
            let _ = std::io::stdout().flush();
        }
    });
}

/// Serves connections one after another on `listener`.
pub fn serve_tcp(
    device: Device,
    listener: TcpListener,
    faults: Vec<WireFault>,
    png_dir: Option<std::path::PathBuf>,
) -> std::io::Result<()> {
    let mut session = Session::new(device, faults).with_png_dir(png_dir);
    for conn in listener.incoming() {
        let mut stream = conn?;
        let _ = stream.set_nodelay(true);
        if let Err(e) = session.serve(&mut stream) {
            eprintln!("connection ended: {e}");
        }
    }
    Ok(())
}

/// Serves a pseudo-terminal whose other end the agent opens as a serial
/// port. Returns the path of that end once it exists; serving goes on in a
/// thread of its own.
pub fn serve_pty(device: Device, faults: Vec<WireFault>) -> std::io::Result<String> {
    serve_pty_at(device, faults, None, None)
}

/// The same, reading as slowly as a serial line of `line_baud` would, and
/// writing decoded panels as PNG into `png_dir`.
pub fn serve_pty_at(
    device: Device,
    faults: Vec<WireFault>,
    line_baud: Option<u32>,
    png_dir: Option<std::path::PathBuf>,
) -> std::io::Result<String> {
    let (mut master, slave) = serialport::TTYPort::pair().map_err(|e| std::io::Error::other(e.description))?;
    let path = slave.name().ok_or_else(|| std::io::Error::other("pseudo-terminal has no name"))?;
    // The pty's line discipline must not translate bytes: raw mode is set
    // by `pair`; the emulator keeps its own end of the slave open so the
    // master does not see a hang-up between agent connections.
    std::thread::spawn(move || {
        let _keep = slave;
        let _ = master.set_timeout(std::time::Duration::from_secs(3600 * 24 * 365));
        let mut session = Session::new(device, faults).with_line_baud(line_baud).with_png_dir(png_dir);
        loop {
            match session.serve(&mut master) {
                Ok(()) => std::thread::sleep(std::time::Duration::from_millis(20)),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    });
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::{DeviceOptions, FaultPoint};

    /// Found by the soak: `fault SPEC` read its spec from the word after
    /// it, which the number parser had already taken, so every clerk's
    /// `fault` failed with "expected POINT:KIND".
    #[test]
    fn clerk_fault_action_injects_the_named_fault() {
        let dir = tempfile::tempdir().expect("tmp");
        let device = Device::open(dir.path(), &DeviceOptions { time_scale: 0.0, ..DeviceOptions::default() }).expect("device");
        assert_eq!(clerk(&device, "fault after_panel.2:jam"), Ok("ok".to_string()));
        assert_eq!(clerk(&device, "load 5"), Ok("ok".to_string()));
        assert!(clerk(&device, "fault nowhere:jam").is_err_and(|e| e.contains("unknown fault point")));
        let injected = device.injected();
        assert_eq!(injected.len(), 1, "{injected:?}");
        assert_eq!((injected[0].point, injected[0].fault), (FaultPoint::AfterPanel(2), Fault::Jam));
    }
}
