//! Offices as they are, the district side: a village with one station, jobs
//! given back and reassigned back, a refusal, a result the district does
//! not know, a replaced print PC. No job may be stranded: each test is a
//! reproduction of a defect found on the binaries, through real processes,
//! judged by the printers' physical logs and the district's tables.

use std::time::Duration;

use cetak::journal::JobState;

use crate::envelopes::region_lines;
use crate::fleet::{hold, ids, judge_printed_once, pause, state_at, Fleet};
use crate::support::fleet::{wait_until, ProxyMode, StationSetup};

const VILLAGE: &str = "17.71.01.1001";

fn results_of(f: &Fleet, station: &str, outcome: &str) -> usize {
    f.db.results().iter().filter(|r| r.1 == station && r.3 == outcome).count()
}

#[test]
fn a_village_s_only_station_keeps_its_jobs_through_an_empty_feeder_and_prints_them_when_blanks_come() {
    let f = Fleet::start();
    let lines: Vec<String> = region_lines(VILLAGE).into_iter().take(3).collect();
    f.import("jobs.jsonl", &lines);
    let mut st = f.station(StationSetup {
        name: "kel-v",
        regions: &[VILLAGE],
        feeder: 0,
        district: "printer_broken_release_s = 3",
        ..Default::default()
    });
    st.start();
    hold(&st, 3);
    // An afternoon without blanks, far past the release limit.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(results_of(&f, "kel-v", "released"), 0, "a printer waiting for blanks is not broken: {:?}", f.db.results());
    assert_eq!(st.journal().buffered().expect("buffered"), 3, "the station still holds its work");
    st.emulator.clerk("load 50");
    f.wait_done(3, Duration::from_secs(60), "the village prints its jobs", &[&st]);
    st.stop();
    assert_eq!(judge_printed_once(&[&st], &lines).len(), 3);
    st.judge_printers();
}

#[test]
fn a_village_s_only_station_keeps_its_work_through_a_printer_off_overnight_and_a_district_down_the_next_morning() {
    let mut f = Fleet::start();
    let lines: Vec<String> = region_lines(VILLAGE).into_iter().take(3).collect();
    let mut st =
        f.station(StationSetup { name: "kel-v", regions: &[VILLAGE], district: "printer_broken_release_s = 2", ..Default::default() });
    st.start();
    pause(&f, &st, true);
    f.import("jobs.jsonl", &lines);
    hold(&st, 3);
    pause(&f, &st, false);
    // The printer is switched off at night (before it printed a card, it is
    // paused no more but unreachable), for longer than the release limit.
    st.emulator.kill();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(results_of(&f, "kel-v", "released"), 0, "released with nobody else to print: {:?}", f.db.results());
    // The next morning the district is down; the printer comes back.
    f.district.kill();
    st.emulator.restart();
    wait_until(Duration::from_secs(60), "the village prints offline", || st.printed().len() == 3);
    f.district.restart();
    f.wait_done(3, Duration::from_secs(60), "the results reach the district", &[&st]);
    st.stop();
    assert_eq!(judge_printed_once(&[&st], &lines).len(), 3);
    st.judge_printers();
}

#[test]
fn a_job_reassigned_away_and_back_is_printed_by_its_first_station_not_finished_as_rejected() {
    let f = Fleet::start();
    let lines: Vec<String> = region_lines(VILLAGE).into_iter().take(1).collect();
    let job = ids(&lines).remove(0);
    let setup = |name| StationSetup { name, regions: &[VILLAGE], ..Default::default() };
    let mut a = f.station(setup("kel-a"));
    let mut b = f.station(setup("kel-b"));
    a.start();
    b.start();
    pause(&f, &a, true);
    pause(&f, &b, true);
    f.import("jobs.jsonl", &lines);
    wait_until(Duration::from_secs(20), "a station holds the job", || {
        a.journal().buffered().unwrap_or(0) + b.journal().buffered().unwrap_or(0) == 1
    });
    let (first, second) = if a.journal().buffered().expect("b") == 1 { (&a, &b) } else { (&b, &a) };
    f.district.cli(&["reassign", &job, "--to", &second.name, "--reason", "the printer there is faster"]);
    wait_until(Duration::from_secs(20), "the first station drops it", || matches!(state_at(first, &job), Some(JobState::Released)));
    wait_until(Duration::from_secs(20), "the second holds it", || second.journal().buffered().expect("b") == 1);
    f.district.cli(&["reassign", &job, "--to", &first.name, "--reason", "back: that printer is repaired"]);
    wait_until(Duration::from_secs(20), "the first holds it again", || first.journal().buffered().expect("b") == 1);
    pause(&f, first, false);
    f.wait_done(1, Duration::from_secs(30), "the job printed", &[first, second]);
    let first = first.name.clone();
    a.stop();
    b.stop();
    let (state, result, _) = f.db.jobs().into_iter().find(|j| j.0 == job).map(|j| (j.1, j.2, j.3)).expect("job");
    assert_eq!((state.as_str(), result.as_deref()), ("done", Some("printed")), "{:?}", f.db.results());
    let printed_by = judge_printed_once(&[&a, &b], &lines);
    assert_eq!(printed_by.get(&job), Some(&first));
}

#[test]
fn a_replay_refusal_waits_for_an_officer_and_the_poll_does_not_spin() {
    let f = Fleet::start();
    let lines: Vec<String> = region_lines(VILLAGE).into_iter().take(1).collect();
    let job = ids(&lines).remove(0);
    let mut a = f.station(StationSetup { name: "kel-a", regions: &[VILLAGE], ..Default::default() });
    let mut b = f.station(StationSetup { name: "kel-b", regions: &[VILLAGE], ..Default::default() });
    a.start();
    pause(&f, &a, true);
    f.import("jobs.jsonl", &lines);
    hold(&a, 1);
    // kel-a prints the card with its line cut: the district does not know.
    a.proxy.set(ProxyMode::Cut);
    pause_offline(&a, false);
    wait_until(Duration::from_secs(30), "kel-a prints offline", || a.printed().len() == 1);
    // Meanwhile an officer moves it to kel-b and back to kel-a.
    b.start();
    f.district.cli(&["reassign", &job, "--to", "kel-b", "--reason", "kel-a is offline"]);
    f.district.cli(&["reassign", &job, "--to", "kel-a", "--reason", "kel-a is back"]);
    a.proxy.set(ProxyMode::Pass);
    wait_until(Duration::from_secs(30), "the job refused at the district", || f.db.jobs().iter().any(|j| j.0 == job && j.1 == "refused"));
    std::thread::sleep(Duration::from_secs(3));
    let refusals = a.journal().outbox_history().expect("outbox").iter().filter(|m| m.body.contains("job_id.replayed")).count();
    assert_eq!(refusals, 1, "the replay refused once, not on every poll");
    let listed = f.district.cli(&["jobs"]);
    assert!(listed.contains("refused") && listed.contains("job_id.replayed"), "{listed}");
    assert_eq!(a.printed().len(), 1, "never printed again");
    f.district.cli(&["close", &job, "--reason", "printed at kel-a while offline; the card is withheld"]);
    assert!(f.db.jobs().iter().any(|j| j.0 == job && j.1 == "done" && j.2.as_deref() == Some("closed")));
    a.stop();
    b.stop();
}

/// Resumes a station whose line is cut: through its own operator's command
/// (the district's would not reach it).
fn pause_offline(st: &crate::support::fleet::StationProcess, on: bool) {
    let out = st.cetak().args([if on { "pause" } else { "resume" }, "--printer", crate::support::PRINTER]).output().expect("cetak");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_payload_a_station_cannot_read_is_refused_held_for_an_officer_and_reissued_to_it() {
    let f = Fleet::start();
    let lines: Vec<String> = region_lines(VILLAGE).into_iter().take(2).collect();
    let mut a = f.station(StationSetup { name: "kel-a", regions: &[VILLAGE], ..Default::default() });
    a.start();
    pause(&f, &a, true);
    f.import("jobs.jsonl", &lines);
    hold(&a, 2);
    // The day key is damaged on the print PC's disk.
    for e in std::fs::read_dir(a.state_dir().join("keys")).expect("keys").filter_map(Result::ok) {
        if e.file_name().to_string_lossy().starts_with("20") {
            std::fs::write(e.path(), [9u8; 72]).expect("damage");
        }
    }
    pause(&f, &a, false);
    wait_until(Duration::from_secs(30), "both refused at the district", || f.db.jobs().iter().filter(|j| j.1 == "refused").count() == 2);
    let listed = f.district.cli(&["jobs"]);
    assert!(listed.contains("by kel-a: payload.key_unwrap"), "{listed}");
    for job in ids(&lines) {
        f.district.cli(&["reissue", &job, "--reason", "the station's key was restored"]);
    }
    // The region's only station can print again: the jobs come back to it.
    f.wait_done(2, Duration::from_secs(60), "the reissued jobs printed", &[&a]);
    a.stop();
    assert_eq!(judge_printed_once(&[&a], &lines).len(), 2);
    assert_eq!(f.db.count("SELECT count(*) FROM audit WHERE action = 'reissue'"), 2);
}

#[test]
fn one_result_the_district_does_not_know_does_not_hold_back_the_others() {
    let f = Fleet::start();
    let lines: Vec<String> = region_lines(VILLAGE).into_iter().take(2).collect();
    let mut a = f.station(StationSetup { name: "kel-a", regions: &[VILLAGE], ..Default::default() });
    // A result for an assignment the district never made, first in line.
    let db = rusqlite::Connection::open(a.state_dir().join("journal.db")).expect("journal");
    db.execute(
        "INSERT INTO outbox (kind, job_id, body, created_at) VALUES ('result', 'no-such-job', ?1, 0)",
        [r#"{"job_id":"no-such-job","result":"printed","attempt":1,"epoch":1}"#],
    )
    .expect("insert");
    drop(db);
    a.start();
    f.import("jobs.jsonl", &lines);
    f.wait_done(2, Duration::from_secs(60), "the real results reach the district", &[&a]);
    wait_until(Duration::from_secs(20), "the outbox drained", || a.journal().pending_outbox().expect("outbox").is_empty());
    let flagged = a.journal().flagged_outbox().expect("flagged");
    assert_eq!(flagged, vec![(Some("no-such-job".to_string()), "not_yours".to_string())]);
    let status = a.cetak().arg("status").output().expect("status");
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("no-such-job") && status.contains("never this station's"), "{status}");
    assert!(f.db.count("SELECT count(*) FROM stations WHERE station = 'kel-a' AND last_status IS NOT NULL") == 1, "heartbeats flow");
    a.stop();
}

#[test]
fn a_replaced_print_pc_starts_a_new_ledger_and_the_jobs_the_old_one_held_print_on_the_new() {
    let f = Fleet::start();
    let lines: Vec<String> = region_lines(VILLAGE).into_iter().take(2).collect();
    let mut old = f.station(StationSetup { name: "kel-a", regions: &[VILLAGE], ..Default::default() });
    old.start();
    pause(&f, &old, true);
    f.import("jobs.jsonl", &lines);
    hold(&old, 2);
    wait_until(Duration::from_secs(20), "the old PC's ledger and confirmed jobs at the district", || {
        f.db.count("SELECT count(*) FROM stock_events WHERE station = 'kel-a'") > 0
            && f.db.count("SELECT count(*) FROM jobs WHERE station = 'kel-a' AND delivered") == 2
    });
    // The PC dies for good; a new one is enrolled under the same name.
    old.kill();
    let mut new = f.station(StationSetup { name: "kel-a", regions: &[VILLAGE], ..Default::default() });
    new.start();
    wait_until(Duration::from_secs(20), "the new PC's first stock report raises the alarm", || {
        f.db.count("SELECT count(*) FROM stock_alarms WHERE station = 'kel-a'") > 0
    });
    let out = f.district.cli(&["stations", "reset-stock", "kel-a", "--reason", "print PC replaced"]);
    for job in ids(&lines) {
        assert!(out.contains(&job), "the jobs the old PC held are listed: {out}");
        f.district.cli(&["release", &job, "--reason", "the old PC is gone"]);
    }
    f.wait_done(2, Duration::from_secs(60), "the new PC prints them", &[&new]);
    // The new chain is accepted: no alarm on it, however many reports.
    std::thread::sleep(Duration::from_secs(3));
    let stock = f.district.cli(&["stock"]);
    let row = stock.lines().find(|l| l.starts_with("kel-a")).expect("kel-a in the stock table");
    assert!(row.trim_end().ends_with(" 0"), "no alarm on the new chain: {stock}");
    new.stop();
    assert_eq!(judge_printed_once(&[&new], &lines).len(), 2);
    assert_eq!(f.db.count("SELECT count(*) FROM audit WHERE action = 'reset_stock'"), 1);
}
