//! The real `cetak` binary: the demo on the samples, and refusals.

use std::process::Command;

use crate::support::data;

fn cetak() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cetak"));
    c.env_remove("RUST_LOG").env("LANG", "C");
    c
}

fn summary_value(stdout: &str, label: &str) -> usize {
    stdout
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{stdout}"))
}

#[test]
fn demo_prints_all_valid_samples() {
    let out = cetak().args(["demo", "--language", "en", "--jobs"]).arg(data("prr-valid.jsonl")).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary_value(&stdout, "Printed"), 50, "{stdout}");
    assert_eq!(summary_value(&stdout, "Rejected"), 0);
    assert_eq!(summary_value(&stdout, "Blanks left"), 50);
}

#[test]
fn demo_rejects_all_invalid_samples_and_prints_none() {
    let out = cetak().args(["demo", "--language", "en", "--jobs"]).arg(data("prr-invalid.jsonl")).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(summary_value(&stdout, "Printed"), 0, "{stdout}");
    assert_eq!(summary_value(&stdout, "Rejected"), 8);
    assert_eq!(summary_value(&stdout, "Blanks left"), 100);
}

#[test]
fn demo_default_prints_twenty_generated_cards_in_indonesian() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = cetak().args(["demo", "--language", "id", "--seed", "7", "--out"]).arg(dir.path()).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(summary_value(&stdout, "Tercetak"), 20, "{stdout}");
    assert!(dir.path().join("emulator/physical-log.jsonl").exists());
    let previews = std::fs::read_dir(dir.path().join("previews")).expect("previews").count();
    assert_eq!(previews, 20, "a preview of each synthetic card");
}

#[test]
fn run_without_a_config_refuses_the_emulator() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = cetak().args(["run", "--language", "en", "--state-dir"]).arg(dir.path()).output().expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--emulator"), "{stderr}");
    assert!(!dir.path().join("journal.db").exists(), "nothing written");
}

#[test]
fn a_bad_config_stops_start_up_with_file_line_and_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("cetak.toml");
    std::fs::write(&cfg, "language = \"id\"\n[station]\nspoil_retries = \"two\"\n").expect("write");
    let out = cetak().args(["status", "--config"]).arg(&cfg).output().expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{}:3:", cfg.display())), "{stderr}");
}

#[test]
fn run_prints_local_jobs_and_stops_on_sigterm_after_the_card() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("cetak.toml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir = \"{}\"\n[station]\nidle_poll_ms = 20\n[[printer]]\nname = \"p1\"\nkind = \"emulator\"\ntime_scale = 0.01\n[local]\njobs_file = \"{}\"\n",
            dir.path().join("state").display(),
            data("prr-valid.jsonl").display()
        ),
    )
    .expect("write");
    let mut cmd = cetak();
    cmd.args(["run", "--language", "en", "--config"]).arg(&cfg);
    let daemon = crate::support::Daemon::spawn(cmd);
    let log = dir.path().join("state/emulator/p1/physical-log.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&log).map(|s| s.lines().count()).unwrap_or(0) < 3 {
        assert!(std::time::Instant::now() < deadline, "no cards printed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}");
    // Every card that left the feeder is in the journal as printed: the
    // card in the printer at SIGTERM was finished, none was half-done.
    let journal = cetak::journal::Journal::open(&dir.path().join("state")).expect("journal");
    let device = cetak_drivers::emulator::Device::open(&dir.path().join("state/emulator/p1"), &Default::default()).expect("device");
    assert!(device.state().card_inside.is_none(), "a card left inside the printer");
    assert!(journal.in_flight("p1").expect("in flight").is_none());
    let printed = journal.attempts().expect("attempts").iter().filter(|a| a.outcome.as_deref() == Some("printed")).count();
    assert_eq!(printed, device.physical_log().expect("log").len());
    assert!(printed < 50, "stopped early, as asked");
}

#[test]
fn demo_wire_prints_the_samples_through_the_pty() {
    let out = cetak().args(["demo", "--wire", "--language", "en", "--jobs"]).arg(data("prr-valid.jsonl")).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pseudo-terminal /dev/pts/"));
    assert_eq!(summary_value(&stdout, "Printed"), 50, "{stdout}");
}
