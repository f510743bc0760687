//! The journal's durability settings, keys, imports and tombstones.

use std::os::unix::fs::PermissionsExt;

use cetak::journal::{JobState, Journal};
use cetak::local::{import_file, LocalError};
use cetak::station::Step;

use crate::support::{sample_lines, Rig};

#[test]
fn every_commit_is_synchronous_full() {
    let dir = tempfile::tempdir().expect("tmp");
    let j = Journal::open(dir.path()).expect("open");
    assert_eq!(j.synchronous().expect("pragma"), 2, "synchronous=FULL");
}

#[test]
fn day_keys_are_private_and_a_loose_one_is_refused() {
    let mut rig = Rig::new();
    let ids = rig.import_samples(1);
    // (Beside the day keys: the master key file and its source.)
    let keys: Vec<_> = std::fs::read_dir(rig.state_dir().join("keys"))
        .expect("keys")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "key"))
        .collect();
    assert_eq!(keys.len(), 1);
    let mode = std::fs::metadata(&keys[0]).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(rig.journal().payload(&ids[0]).is_ok());
    std::fs::set_permissions(&keys[0], std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let e = rig.journal().payload(&ids[0]).expect_err("a loose key must be refused");
    assert!(e.to_string().contains("chmod 600"), "{e}");
    // Sealing a new job under that key is refused as well, and imports nothing.
    let f = rig.dir.path().join("more.jsonl");
    std::fs::write(&f, &sample_lines("prr-valid.jsonl")[1]).expect("write");
    assert!(import_file(rig.journal(), &f).is_err());
    assert_eq!(rig.journal().all_jobs().expect("jobs").len(), 1);
}

#[test]
fn a_bad_line_imports_nothing_and_names_file_and_line() {
    let mut rig = Rig::new();
    let mut lines: Vec<String> = sample_lines("prr-valid.jsonl").into_iter().take(3).collect();
    lines.insert(2, "{ this is not json".into());
    let f = rig.dir.path().join("bad.jsonl");
    std::fs::write(&f, lines.join("\n")).expect("write");
    match import_file(rig.journal(), &f) {
        Err(LocalError::Line { line, path, .. }) => {
            assert_eq!(line, 3);
            assert_eq!(path, f);
        }
        other => panic!("expected a line error, got {other:?}"),
    }
    assert!(rig.journal().all_jobs().expect("jobs").is_empty(), "nothing imported");
    let missing = rig.dir.path().join("missing.jsonl");
    assert!(matches!(import_file(rig.journal(), &missing), Err(LocalError::Read { .. })));
}

#[test]
fn a_purged_job_stays_a_tombstone_and_its_replay_is_skipped() {
    let mut rig = Rig::new();
    let ids = rig.import_samples(1);
    assert_eq!(rig.step(), Step::Printed(ids[0].clone()));
    // The local sink acknowledged the result: reported, then purged.
    rig.step();
    assert_eq!(rig.state_of(&ids[0]), JobState::Purged);
    assert!(rig.journal().payload(&ids[0]).is_err(), "payload destroyed");
    let again = rig.import_samples(1);
    assert!(again.is_empty(), "a replayed id is not imported again");
    assert_eq!(rig.state_of(&ids[0]), JobState::Purged);
    let keys = std::fs::read_dir(rig.state_dir().join("keys"))
        .expect("keys")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "key")))
        .count();
    assert_eq!(keys, 0, "the day's key is destroyed once nothing needs it");
}

#[test]
fn needs_approval_is_rejected_in_local_mode_with_that_reason() {
    let mut rig = Rig::new();
    let bad: Vec<String> = sample_lines("prr-invalid.jsonl").into_iter().filter(|l| l.contains("prr-1771-000001-bad")).collect();
    rig.import_lines(&bad);
    rig.step();
    let job = rig.journal().job("prr-1771-000001-bad").expect("journal").expect("job");
    assert_eq!(job.reject_code.as_deref(), Some("nik.birth_date_mismatch"));
    assert_eq!(rig.result_of("prr-1771-000001-bad"), Some(JobState::Rejected));
    assert!(rig.device.physical_log().expect("log").is_empty());
}

#[test]
fn a_journal_from_a_newer_cetak_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    drop(Journal::open(dir.path()).expect("open"));
    let conn = rusqlite::Connection::open(dir.path().join("journal.db")).expect("sqlite");
    conn.pragma_update(None, "user_version", 99).expect("bump");
    drop(conn);
    let e = Journal::open(dir.path()).err().unwrap_or_else(|| panic!("a newer journal was opened"));
    assert!(e.to_string().contains("newer cetak"), "{e}");
}

/// A `cetak import` beside the daemon seals new jobs while the daemon
/// destroys the day keys no payload needs: the destroyer must never take a
/// key out from under a job being sealed. Each job is given back at once,
/// so the day's key is unneeded again and the next import makes it anew:
/// every import is a chance for the race.
#[test]
fn destroying_unused_keys_never_races_a_job_being_sealed() {
    let dir = tempfile::tempdir().expect("tmp");
    let lines: Vec<String> = cetak_model::generator::generate(77, 120, cetak::clock::today()).into_iter().map(|v| v.to_string()).collect();
    let mut importer = Journal::open(dir.path()).expect("journal");
    let mut destroyer = Journal::open(dir.path()).expect("journal");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let f = dir.path().join("job.jsonl");
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                destroyer.destroy_unused_keys().expect("destroy");
            }
        });
        let mut lost = Vec::new();
        for line in &lines {
            std::fs::write(&f, line).expect("write");
            let ids = import_file(&mut importer, &f).expect("import").imported;
            for id in ids {
                if importer.payload(&id).is_err() {
                    lost.push(id.clone());
                }
                importer.release(&id, "test").expect("release");
            }
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(lost.is_empty(), "sealed under a key that was destroyed: {} of {} jobs", lost.len(), lines.len());
    });
}
