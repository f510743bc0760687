//! The consumables ledger against independent numbers: the emulator's own
//! hopper, ribbon and counter; tampering found by `cetak stock verify` and
//! by the district; blank versions refused.

use cetak::journal::stock::{hopper, Receipt, SAFE};
use cetak_drivers::emulator::{DeviceOptions, FaultPoint, ScheduledFault};
use cetak_drivers::Fault;

use crate::support::{Rig, PRINTER};

fn receipt(n: u32, version: &str) -> Receipt {
    Receipt { blanko: n, batch: "B-2026-11".into(), version: version.into(), serial_from: None, serial_to: None }
}

#[test]
fn the_ledger_agrees_with_the_printer_after_faults() {
    // A printer with 40 blanks and a ribbon for 60 cards; the ledger is told
    // the same by the operator: 50 received, 40 loaded, the ribbon installed.
    let mut rig = Rig::with(DeviceOptions { feeder: 40, ribbon_cards: 60, ..Default::default() }, 2);
    let versions = vec!["2021".to_string()];
    let j = rig.journal();
    j.receive(&receipt(50, "2021"), &versions, 1000).expect("receive");
    j.load(PRINTER, 40, 1000).expect("load");
    j.install(PRINTER, "ribbon", 60, Some("R-7"), 1000).expect("ribbon");
    let jobs = rig.import_samples(12);
    // A jam at the feed spoils a blank; a jam after a panel makes a job
    // uncertain, settled by the operator as spoiled.
    rig.device.inject(ScheduledFault::next(FaultPoint::AfterPick, Fault::Jam));
    rig.run_until_idle(5);
    rig.device.remove_card_by_hand().expect("clerk");
    rig.device.inject(ScheduledFault::next(FaultPoint::AfterPanel(2), Fault::Jam));
    rig.run_until_idle(5);
    rig.device.remove_card_by_hand().expect("clerk");
    for job in rig.journal().jobs_in(cetak::journal::JobState::Uncertain).expect("uncertain") {
        rig.journal().resolve_uncertain(&job.job_id, false, 1000, 2).expect("resolve");
    }
    rig.run_until_idle(60);
    let st = rig.device.state();
    let j = rig.journal();
    // Independent numbers: the printer's hopper and ribbon, its counter.
    assert_eq!(j.on_hand(&hopper(PRINTER), "blanko").expect("hopper"), i64::from(st.feeder), "hopper vs the printer's feeder");
    assert_eq!(j.on_hand(SAFE, "blanko").expect("safe"), 10);
    assert_eq!(j.on_hand(&format!("printer:{PRINTER}"), "ribbon").expect("ribbon"), i64::from(st.ribbon_panels / 5), "ribbon");
    let rows = j.ledger_rows().expect("rows");
    let used = rows.iter().filter(|r| r.kind == "blank_used").count() as u64;
    let spoiled = rows.iter().filter(|r| r.kind == "blank_spoiled").count() as u64;
    assert_eq!(used + spoiled, st.card_counter, "the counter's steps are the blanks used plus spoiled");
    assert_eq!(used, jobs.len() as u64);
    assert!(rows.iter().any(|r| r.kind == "reconciled"), "the printer's counter was reconciled with the ledger");
    assert!(spoiled >= 2, "{spoiled}");
    let summary = cetak::stock::summary(&rows, cetak::clock::now());
    assert_eq!(summary.blanks_today, (used + spoiled) as i64);
    assert_eq!(summary.spoiled.values().sum::<i64>(), spoiled as i64);
    rig.judge();
}

#[test]
fn a_blank_version_the_station_does_not_support_is_refused() {
    let mut rig = Rig::new();
    let err = rig.journal().receive(&receipt(10, "1999"), &["2021".to_string()], 1000).expect_err("refused");
    assert!(err.to_string().contains("1999") && err.to_string().contains("2021"), "{err}");
    assert_eq!(rig.journal().on_hand(SAFE, "blanko").expect("safe"), 0, "nothing booked");
    // Loading more than the safe holds is refused too.
    assert!(rig.journal().load(PRINTER, 5, 1000).is_err());
}

#[test]
fn stock_verify_names_the_one_row_edited_behind_its_back() {
    let rig = crate::support::ProcessRig::new(3);
    let out = rig.run(None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ok = rig.cetak().args(["stock", "verify"]).output().expect("verify");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    // An insider changes one spoiled blank into nothing, in SQL.
    let db = rusqlite::Connection::open(rig.state_dir().join("journal.db")).expect("db");
    let id: i64 =
        db.query_row("SELECT id FROM ledger WHERE kind = 'blank_used' ORDER BY id LIMIT 1 OFFSET 1", [], |r| r.get(0)).expect("row");
    db.execute("UPDATE ledger SET quantity = 0 WHERE id = ?1", [id]).expect("tamper");
    drop(db);
    let bad = rig.cetak().args(["stock", "verify"]).output().expect("verify");
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains(&format!("event {id}")), "{err}");
}

#[test]
fn the_demos_summary_and_cetak_stock_agree_with_the_printer_after_faults() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("demo");
    let cetak = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cetak")).args(["--language", "en"]).args(args).output().expect("cetak")
    };
    let jobs = crate::support::data("prr-valid.jsonl");
    // A jam at the feed of card 3, a jam after two panels of card 7: the
    // demo plays the clerk and the operator.
    let demo = cetak(&[
        "demo",
        "--jobs",
        jobs.to_str().expect("path"),
        "--time-scale",
        "0",
        "--out",
        out.to_str().expect("path"),
        "--fault",
        "after_pick:jam@3",
        "--fault",
        "after_panel.2:jam@7",
    ]);
    assert!(demo.status.success(), "{}", String::from_utf8_lossy(&demo.stderr));
    let summary = String::from_utf8_lossy(&demo.stdout).into_owned();
    let number_after = |text: &str, label: &str| -> i64 {
        text.lines()
            .find(|l| l.contains(label))
            .and_then(|l| l.split_whitespace().last()?.parse().ok())
            .unwrap_or_else(|| panic!("{label}: {text}"))
    };
    let stock = cetak(&["--state-dir", out.join("state").to_str().expect("path"), "stock"]);
    let stock = String::from_utf8_lossy(&stock.stdout).into_owned();
    let (device, _) = cetak_drivers::emulator::read_memory(&out.join("emulator")).expect("printer memory");
    assert_eq!(number_after(&summary, "Blanks left in the feeder"), i64::from(device.feeder));
    assert_eq!(number_after(&stock, "hopper of emulator-1"), i64::from(device.feeder), "{stock}");
    assert_eq!(number_after(&stock, "printer emulator-1"), i64::from(device.ribbon_panels / 5), "{stock}");
    assert_eq!(number_after(&summary, "Ribbon left"), i64::from(device.ribbon_panels / 5));
    assert_eq!(number_after(&summary, "Printed"), 50);
    assert_eq!(number_after(&summary, "Spoiled blanks"), 2);
    assert!(stock.contains("52 today"), "{stock}");
    assert_eq!(device.card_counter, 52);
}
