//! No personal data at rest in clear: the journal file and its WAL are
//! scanned for a sample NIK and a fragment of a photo while jobs are held.

use base64::Engine;
use serde_json::Value;

use crate::support::{sample_lines, Rig};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn files_of(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_file() {
            out.push((p.display().to_string(), std::fs::read(&p).expect("read")));
        }
    }
    out
}

#[test]
fn held_jobs_leave_no_nik_or_photo_in_the_journal_or_its_wal() {
    let mut rig = Rig::new();
    let lines = sample_lines("prr-valid.jsonl");
    rig.import_lines(&lines[..10]);
    rig.station.prepare_assigned().expect("validate");
    let first: Value = serde_json::from_str(&lines[0]).expect("json");
    let nik = first["card"]["nik"].as_str().expect("nik").to_string();
    let nama = first["card"]["nama"].as_str().expect("nama").to_string();
    let photo_b64 = first["card"]["foto_jpeg_base64"].as_str().expect("photo");
    let photo = base64::engine::general_purpose::STANDARD.decode(photo_b64).expect("b64");
    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("nik", nik.as_bytes().to_vec()),
        ("name", nama.as_bytes().to_vec()),
        ("photo base64", photo_b64.as_bytes()[200..260].to_vec()),
        ("photo bytes", photo[400..440].to_vec()),
    ];
    let files = files_of(&rig.state_dir());
    assert!(
        files.iter().any(|(n, _)| n.ends_with("journal.db-wal")),
        "the scan must include the WAL: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (name, bytes) in &files {
        for (what, needle) in &needles {
            assert!(!contains(bytes, needle), "{what} found in clear in {name}");
        }
    }
    // The scan itself can fail: the raw file holds the NIK.
    assert!(contains(&std::fs::read(crate::support::data("prr-valid.jsonl")).expect("sample"), nik.as_bytes()));
}

/// The personal values of a sample PRR that must never be found at rest
/// or in logs: NIK, name, birth place, address with RT/RW, and slices of
/// the photo's and signature's base64 (past the format's common header).
fn personal_values(line: &str) -> Vec<(String, Vec<u8>)> {
    let v: Value = serde_json::from_str(line).expect("json");
    let c = &v["card"];
    let s = |k: &str| c[k].as_str().expect(k).to_string();
    let slice = |k: &str| s(k).get(200..248).expect("a long base64 value").to_string();
    vec![
        ("nik".into(), s("nik").into_bytes()),
        ("nama".into(), s("nama").into_bytes()),
        ("tempat_lahir".into(), format!("\"{}\"", s("tempat_lahir")).into_bytes()),
        ("alamat".into(), s("alamat").into_bytes()),
        ("alamat with rt/rw".into(), format!("\"rt\": \"{}\", \"rw\": \"{}\"", s("rt"), s("rw")).into_bytes()),
        ("foto".into(), slice("foto_jpeg_base64").into_bytes()),
        ("tanda_tangan".into(), slice("tanda_tangan_png_base64").into_bytes()),
    ]
}

fn every_file(dir: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            every_file(&p, out);
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p.display().to_string(), bytes));
        }
    }
}

#[test]
fn after_printing_and_purging_nothing_personal_remains_on_disk_or_in_the_logs() {
    let dir = tempfile::tempdir().expect("tmp");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let lines = sample_lines("prr-valid.jsonl");
    let jobs = dir.path().join("jobs.jsonl");
    std::fs::write(&jobs, lines[..10].join("\n")).expect("jobs");
    let state = dir.path().join("state");
    let config = dir.path().join("cetak.toml");
    std::fs::write(
        &config,
        format!(
            "language = \"en\"\nstate_dir = \"{}\"\n[health]\nlisten = \"\"\n[[printer]]\nname = \"p1\"\nkind = \"emulator\"\ntime_scale = 0.0\n",
            state.display()
        ),
    )
    .expect("config");
    let cetak = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cetak"))
            .env("RUST_LOG", "debug")
            .env("TMPDIR", &tmp)
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .expect("cetak");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        [out.stdout, out.stderr].concat()
    };
    let mut logs = cetak(&["import", jobs.to_str().expect("path")]);
    // The ciphertexts of the held jobs, to look for after the purge.
    let db = rusqlite::Connection::open(state.join("journal.db")).expect("db");
    let mut stmt = db.prepare("SELECT payload FROM jobs WHERE payload IS NOT NULL").expect("sql");
    let ciphertexts: Vec<Vec<u8>> = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).expect("rows").map(|r| r.expect("row")).collect();
    drop(stmt);
    drop(db);
    assert_eq!(ciphertexts.len(), 10);
    logs.extend(cetak(&["run", "--until-idle"]));
    logs.extend(cetak(&["status"]));
    logs.extend(cetak(&["jobs"]));
    let out = dir.path().join("demo");
    logs.extend(cetak(&["demo", "--jobs", jobs.to_str().expect("path"), "--out", out.to_str().expect("path")]));
    let journal = cetak::journal::Journal::open(&state).expect("journal");
    assert!(journal.all_jobs().expect("jobs").iter().all(|j| j.state == cetak::journal::JobState::Purged), "every job printed and purged");
    drop(journal);

    let mut files = Vec::new();
    every_file(&state, &mut files);
    every_file(&tmp, &mut files);
    every_file(&out, &mut files);
    assert!(files.iter().any(|(n, _)| n.ends_with("journal.db")), "the scan covers the journal");
    let needles: Vec<(String, Vec<u8>)> = lines[..10].iter().flat_map(|l| personal_values(l)).collect();
    for (name, bytes) in &files {
        for (what, needle) in &needles {
            assert!(!contains(bytes, needle), "{what} found in {name}");
        }
        for c in &ciphertexts {
            assert!(!contains(bytes, &c[c.len() / 2..c.len() / 2 + 32]), "a purged job's ciphertext found in {name}");
        }
    }
    for (what, needle) in &needles {
        assert!(!contains(&logs, needle), "{what} found in the debug-level logs");
    }
    // The scan can fail: the job file holds every value.
    let source = std::fs::read(&jobs).expect("jobs");
    for (what, needle) in &needles {
        assert!(contains(&source, needle), "{what} is not in the source: the scan would prove nothing");
    }
}

#[test]
fn the_agent_is_not_dumpable() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    assert!(rustix::process::getuid().is_root(), "switches to another user: run the suite as root (CI does)");
    // Run as nobody: a dumpable process's /proc files belong to its user; a
    // non-dumpable one's to root, so no core and no ptrace by that user.
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cetak"))
        .args(["--state-dir", dir.path().join("state").to_str().expect("path"), "run", "--emulator"])
        .env("RUST_LOG", "warn")
        .uid(65534)
        .gid(65534)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cetak run");
    let environ = format!("/proc/{}/environ", child.id());
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let owner = loop {
        // The exec itself takes a moment: wait for the agent's own marking.
        let owner = std::fs::metadata(&environ).map(|m| m.uid()).unwrap_or(65534);
        if owner == 0 || std::time::Instant::now() > until {
            break owner;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(owner, 0, "the agent's /proc entries still belong to its user: it is dumpable");
}

#[test]
fn day_keys_are_wrapped_by_the_services_credential_and_useless_without_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).expect("creds");
    std::fs::write(creds.join(cetak::journal::vault::CREDENTIAL), [7u8; 32]).expect("credential");
    let jobs = dir.path().join("jobs.jsonl");
    std::fs::write(&jobs, sample_lines("prr-valid.jsonl")[..2].join("\n")).expect("jobs");
    let state = dir.path().join("state");
    let import = |with_credential: bool| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cetak"));
        c.env("RUST_BACKTRACE", "0").env_remove("CREDENTIALS_DIRECTORY").args(["--language", "en", "--state-dir"]).arg(&state);
        if with_credential {
            c.env("CREDENTIALS_DIRECTORY", &creds);
        }
        c.arg("import").arg(&jobs).output().expect("cetak import")
    };
    let out = import(true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let keys = state.join("keys");
    assert!(!keys.join("master.secret").exists(), "no master key file beside the credential");
    let day_keys: Vec<_> =
        std::fs::read_dir(&keys).expect("keys").flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".key")).collect();
    assert!(!day_keys.is_empty());
    for k in &day_keys {
        assert_eq!(std::fs::metadata(k.path()).expect("key").len(), 24 + 32 + 16, "a day key is stored wrapped");
    }
    // Outside the service, without the credential: refused, nothing made.
    let out = import(false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("systemd credential"), "{err}");
    assert!(!keys.join("master.secret").exists());
}
