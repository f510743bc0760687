//! The Evolis driver against the emulator as a separate process, over a
//! real pseudo-terminal and over TCP: identity, counters, full cards whose
//! decoded panels equal what was rendered, and the faults, each judged from
//! the emulator's physical log.

use cetak::journal::{JobState, Journal};
use cetak::messages::Lang;
use cetak::station::{Station, StationOptions, Step};
use cetak_drivers::evolis::EvolisPrinter;
use cetak_drivers::transport::Transport;
use cetak_drivers::{Fault, Printer};

use crate::support::{assert_memory_matches, assert_no_record_twice, sample_lines, EmulatorProcess, Link, PRINTER};

type WirePrinter = EvolisPrinter<Box<dyn Transport>>;

struct WireRig {
    dir: tempfile::TempDir,
    emu: EmulatorProcess,
    station: Station<WirePrinter>,
}

impl WireRig {
    fn new(link: Link, emulator_args: &[&str], compress: bool) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let emu = EmulatorProcess::start(&dir.path().join("emulator"), link, emulator_args);
        let journal = Journal::open(&dir.path().join("state")).expect("journal");
        let station = Station::new(
            journal,
            emu.printer(compress),
            StationOptions { name: PRINTER.into(), spoil_retries: 2, local_mode: true, lang: Lang::En, district: None },
        )
        // As an office's config says of a printer that counts at eject.
        .with_counts_at(emulator_args.contains(&"--count-at-eject").then_some(cetak_drivers::CountsAt::Eject));
        Self { dir, emu, station }
    }

    fn import(&mut self, n: usize) -> Vec<String> {
        let f = self.dir.path().join("jobs.jsonl");
        std::fs::write(&f, sample_lines("prr-valid.jsonl")[..n].join("\n")).expect("jobs");
        cetak::local::import_file(self.station.journal(), &f).expect("import").imported
    }

    fn step(&mut self) -> Step {
        self.station.step().expect("step")
    }

    fn judge(&mut self) {
        let (state, log) = self.emu.memory();
        assert_memory_matches(self.station.journal(), &state, &log);
        assert_no_record_twice(&log);
        assert_eq!(state.reprint_commands, 0, "the driver sent a command that reprints");
        assert!(state.stored_bitmaps.is_empty() || state.card_inside.is_some(), "bitmaps left in the printer: {:?}", state.stored_bitmaps);
    }

    fn state_of(&mut self, job: &str) -> JobState {
        self.station.journal().job(job).expect("journal").expect("job").state
    }
}

/// The panels cetak renders for sample `i` on an Evolis printer, hashed.
fn rendered_hashes(i: usize, printer: &WirePrinter) -> Vec<String> {
    let raw = cetak_model::RawPrr::parse(&sample_lines("prr-valid.jsonl")[i]).expect("sample");
    let prr = cetak_model::validate(&raw, cetak::clock::today()).prr.expect("valid");
    cetak::render::render(&prr, &printer.capabilities()).expect("render").panels.iter().map(|p| p.hash()).collect()
}

#[test]
fn identity_counters_and_host_managed_errors_over_both_links() {
    for link in [Link::Tcp, Link::Pty] {
        let dir = tempfile::tempdir().expect("tmp");
        let emu = EmulatorProcess::start(dir.path(), link, &["--serial", "EVO1234567"]);
        let mut p = emu.printer(true);
        p.prepare().expect("prepare");
        let id = p.identify().expect("identify");
        assert_eq!(id.serial, "EVO1234567", "{link:?}");
        assert_eq!(p.counters().expect("counters").cards, 0);
        let st = p.status().expect("status");
        assert!(st.ready(), "{link:?}: {st:?}");
        assert!(emu.memory().0.host_managed_errors, "{link:?}: Pem;18 set and read back");
    }
}

#[test]
fn full_cards_over_each_link_decode_to_what_was_rendered() {
    for (link, compress) in [(Link::Tcp, true), (Link::Tcp, false), (Link::Pty, true), (Link::Pty, false)] {
        let mut rig = WireRig::new(link, &[], compress);
        let ids = rig.import(2);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(rig.step(), Step::Printed(id.clone()), "{link:?} compress={compress}");
            let expected = rendered_hashes(i, &rig.emu.printer(compress));
            let (_, log) = rig.emu.memory();
            assert_eq!(log[i].panel_hashes, expected, "{link:?} compress={compress}: decoded panels differ from the rendered ones");
        }
        assert!(rig.emu.memory().0.stored_bitmaps.is_empty(), "bitmaps cleared after each card");
        rig.judge();
    }
}

#[test]
fn jam_at_the_feed_over_the_wire_spoils_waits_for_the_clerk_and_retries() {
    let mut rig = WireRig::new(Link::Tcp, &["--fault", "after_pick:jam"], true);
    let id = rig.import(1).remove(0);
    assert_eq!(rig.step(), Step::Spoiled { job_id: id.clone(), failed: false });
    assert_eq!(rig.step(), Step::Waiting(Fault::Jam));
    rig.emu.clerk("remove-card");
    assert_eq!(rig.step(), Step::Printed(id));
    rig.judge();
}

#[test]
fn jam_at_the_feed_on_a_printer_counting_at_eject_still_spoils_the_blank() {
    let mut rig = WireRig::new(Link::Tcp, &["--count-at-eject", "--fault", "after_pick:jam"], true);
    let id = rig.import(1).remove(0);
    assert_eq!(rig.step(), Step::Spoiled { job_id: id.clone(), failed: false }, "a taken card is never booked as not fed");
    rig.emu.clerk("remove-card");
    assert_eq!(rig.step(), Step::Printed(id));
    rig.judge();
}

#[test]
fn jam_and_head_temperature_after_a_panel_are_uncertain() {
    for fault in ["after_panel.2:jam", "after_panel.1:head_temp"] {
        let mut rig = WireRig::new(Link::Pty, &["--fault", fault], true);
        let id = rig.import(1).remove(0);
        assert_eq!(rig.step(), Step::Uncertain(id.clone()), "{fault}");
        rig.judge();
    }
}

#[test]
fn standing_conditions_are_caught_before_the_feed() {
    // Cover opened before the card was taken: no blank used.
    let mut rig = WireRig::new(Link::Tcp, &["--fault", "before_pick:cover_open"], true);
    let id = rig.import(1).remove(0);
    assert_eq!(rig.step(), Step::NotFed { job_id: id.clone(), fault: Fault::CoverOpen });
    assert_eq!(rig.step(), Step::Waiting(Fault::CoverOpen));
    rig.emu.clerk("close-cover");
    assert_eq!(rig.step(), Step::Printed(id));
    rig.judge();

    // Ribbon out and feeder empty: waiting, no attempt.
    let mut rig = WireRig::new(Link::Tcp, &["--feeder", "0"], true);
    let id = rig.import(1).remove(0);
    assert_eq!(rig.step(), Step::Waiting(Fault::FeederEmpty));
    rig.emu.clerk("load 5");
    rig.emu.clerk("ribbon 0");
    assert_eq!(rig.step(), Step::Waiting(Fault::RibbonOut));
    rig.emu.clerk("ribbon 100");
    assert_eq!(rig.step(), Step::Printed(id.clone()));
    assert_eq!(rig.station.journal().attempts().expect("attempts").len(), 1);
    rig.judge();
}

#[test]
fn a_printer_gone_at_the_feed_comes_back_and_the_blank_is_spoiled() {
    let mut rig = WireRig::new(Link::Tcp, &["--fault", "after_pick:gone"], true);
    let id = rig.import(1).remove(0);
    assert_eq!(rig.step(), Step::Offline);
    assert_eq!(rig.state_of(&id), JobState::Printing);
    rig.emu.clerk("plug");
    assert_eq!(rig.step(), Step::Spoiled { job_id: id.clone(), failed: false });
    assert_eq!(rig.step(), Step::Printed(id));
    rig.judge();
}

#[test]
fn a_garbled_reply_to_the_eject_is_never_read_as_a_printed_card() {
    let mut rig = WireRig::new(Link::Tcp, &["--wire-fault", "Se:garbage"], true);
    let id = rig.import(1).remove(0);
    let first = rig.step();
    assert!(!matches!(first, Step::Printed(_)), "garbage taken for success: {first:?}");
    let mut settled = first;
    for _ in 0..3 {
        if settled == Step::Uncertain(id.clone()) {
            break;
        }
        settled = rig.step();
    }
    assert_eq!(settled, Step::Uncertain(id.clone()), "the card came out: the operator decides");
    rig.judge();
}

#[test]
fn a_reply_cut_in_half_at_the_feed_is_settled_by_recovery() {
    let mut rig = WireRig::new(Link::Pty, &["--wire-fault", "Ss:half"], true);
    let id = rig.import(1).remove(0);
    assert_eq!(rig.step(), Step::Offline, "a half reply is no reply");
    // The running agent knows no panel was sent: the blank is spoiled.
    assert_eq!(rig.step(), Step::Spoiled { job_id: id.clone(), failed: false });
    assert_eq!(rig.step(), Step::Printed(id));
    rig.judge();
}

#[test]
fn silence_mid_job_makes_the_card_uncertain() {
    let mut rig = WireRig::new(Link::Tcp, &["--wire-fault", "Dbc:silent@2"], true);
    let id = rig.import(1).remove(0);
    assert_eq!(rig.step(), Step::Offline);
    assert_eq!(rig.step(), Step::Uncertain(id));
    rig.judge();
}

#[test]
fn the_emulator_killed_and_restarted_mid_job() {
    let mut rig = WireRig::new(Link::Tcp, &["--fault", "after_panel.3:gone"], true);
    let ids = rig.import(2);
    assert_eq!(rig.step(), Step::Offline);
    rig.emu.restart();
    assert_eq!(rig.step(), Step::Uncertain(ids[0].clone()));
    assert_eq!(rig.step(), Step::Printed(ids[1].clone()));
    rig.judge();
}

#[test]
fn cetak_printers_test_reports_a_wire_printer_without_using_a_card() {
    let dir = tempfile::tempdir().expect("tmp");
    let emu = EmulatorProcess::start(&dir.path().join("emu"), Link::Tcp, &["--serial", "EVO7654321"]);
    let cfg = dir.path().join("cetak.toml");
    std::fs::write(
        &cfg,
        format!("state_dir = \"{}\"\n[[printer]]\nname = \"meja-1\"\n{}", dir.path().join("state").display(), emu.config_entry()),
    )
    .expect("config");
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_cetak")).arg("--config").arg(&cfg).args(["printers", "test"]).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().find(|l| l.contains("meja-1")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("serial=EVO7654321") && line.contains("cards=0") && line.contains("state=ready"), "{line}");
    let (state, log) = emu.memory();
    assert_eq!((state.card_counter, log.len()), (0, 0), "no card used");
}

/// A printer that answers but refuses a command (here `Pem;18`, the
/// host-managed error mode) is named with the command and its answer in
/// `cetak printers test`, in the daemon's log and in `status`, which no
/// longer tells the clerk to check power and cable.
#[test]
fn a_printer_that_refuses_a_command_is_named_with_it_in_printers_test_the_log_and_status() {
    let dir = tempfile::tempdir().expect("tmp");
    let emu = EmulatorProcess::start(&dir.path().join("emu"), Link::Tcp, &["--wire-fault", "Pem:refuse@1", "--wire-fault", "Pem:refuse@2"]);
    let cfg = dir.path().join("cetak.toml");
    std::fs::write(
        &cfg,
        format!("state_dir = \"{}\"\n[[printer]]\nname = \"meja-1\"\n{}", dir.path().join("state").display(), emu.config_entry()),
    )
    .expect("config");
    let cetak = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cetak")).arg("--config").arg(&cfg).args(args).output().expect("run");
        (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (stdout, _) = cetak(&["printers", "test"]);
    let line = stdout.lines().find(|l| l.contains("meja-1")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("Pem;18") && line.contains("ERR CDE") && !line.contains("Err("), "{line}");
    assert!(!line.contains("not reachable") && !line.contains("check the printer"), "the printer answered: {line}");

    let jobs = dir.path().join("jobs.jsonl");
    std::fs::write(&jobs, sample_lines("prr-valid.jsonl")[..1].join("\n")).expect("jobs");
    let (_, log) = cetak(&["--log-format", "json", "run", "--jobs", jobs.to_str().expect("path"), "--until-idle"]);
    let said = log.lines().find(|l| l.contains("refused a command")).unwrap_or_else(|| panic!("not in the log: {log}"));
    assert!(said.contains("Pem;18") && said.contains("meja-1"), "{said}");
    for lang in ["en", "id"] {
        let (status, _) = cetak(&["--language", lang, "status"]);
        let line = status.lines().find(|l| l.contains("meja-1")).unwrap_or_else(|| panic!("{status}"));
        assert!(line.contains("Pem;18") && line.contains("ERR CDE"), "{lang}: {line}");
        assert!(!line.contains("periksa daya") && !line.contains("check the printer"), "{lang}: {line}");
    }
    assert_eq!(emu.memory().0.card_counter, 0, "no card was fed to a printer whose setup was refused");
}

#[test]
fn faults_during_a_job_over_the_wire() {
    // The ribbon ends after the third panel, the cover is opened during the
    // job: a genuine card may exist, so the operator decides.
    for fault in ["after_panel.3:ribbon_out", "after_panel.4:cover_open"] {
        let mut rig = WireRig::new(Link::Tcp, &["--fault", fault], true);
        let id = rig.import(1).remove(0);
        assert_eq!(rig.step(), Step::Uncertain(id), "{fault}");
        rig.judge();
    }
    // A printer still cooling takes no card: no blank used, tried again.
    let mut rig = WireRig::new(Link::Pty, &["--fault", "before_pick:busy"], true);
    let id = rig.import(1).remove(0);
    assert_eq!(rig.step(), Step::NotFed { job_id: id.clone(), fault: Fault::Busy });
    assert_eq!(rig.step(), Step::Printed(id));
    rig.judge();
}

#[test]
fn decoded_panels_are_written_as_png_on_request() {
    let dir = tempfile::tempdir().expect("tmp");
    let pngs = dir.path().join("png");
    let pngs_arg = pngs.display().to_string();
    let mut rig = WireRig::new(Link::Tcp, &["--png", &pngs_arg], false);
    let id = rig.import(1).remove(0);
    assert_eq!(rig.step(), Step::Printed(id));
    let mut names: Vec<String> =
        std::fs::read_dir(&pngs).expect("png dir").map(|e| e.expect("entry").file_name().to_string_lossy().to_string()).collect();
    names.sort();
    assert_eq!(names, ["card-1-c.png", "card-1-k.png", "card-1-m.png", "card-1-o.png", "card-1-y.png"]);
    let k = image::open(pngs.join("card-1-k.png")).expect("a PNG").to_luma8();
    assert_eq!(k.dimensions(), (1016, 648), "the landscape card");
    assert!(k.pixels().any(|p| p.0[0] == 0) && k.pixels().any(|p| p.0[0] == 255), "text in black on white");
}
