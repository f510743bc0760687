//! Bad disks, made for real: the journal on a read-only filesystem, on a
//! full one, and in a folder the user may not write. Each gives a clear
//! error in the chosen language and leaves the journal consistent.
//!
//! The filesystems are made inside a private mount namespace (`unshare -m`)
//! so nothing leaks to the machine; that needs root, and these tests fail
//! loudly without it rather than skip. The permission test switches to an
//! unprivileged user, since root ignores file modes.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use cetak::journal::{JobState, Journal};

use crate::support::{data, sample_lines};

fn require_root() {
    assert!(
        rustix::process::getuid().is_root(),
        "the bad-disk tests make filesystems in a private mount namespace and switch users: run the suite as root (CI does)"
    );
}

/// A state folder holding a journal with three assigned jobs, and a file of
/// more jobs to import.
fn journal_with_three_jobs() -> (tempfile::TempDir, PathBuf, PathBuf, Vec<(String, JobState)>) {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let three = dir.path().join("three.jsonl");
    std::fs::write(&three, sample_lines("prr-valid.jsonl")[..3].join("\n")).expect("write");
    let mut j = Journal::open(&state).expect("journal");
    cetak::local::import_file(&mut j, &three).expect("import");
    let snapshot = snapshot(&j);
    drop(j);
    (dir, state, data("prr-valid.jsonl"), snapshot)
}

fn snapshot(j: &Journal) -> Vec<(String, JobState)> {
    j.all_jobs().expect("jobs").into_iter().map(|r| (r.job_id, r.state)).collect()
}

/// The journal is consistent and holds exactly what it held before.
fn assert_unchanged(state: &Path, before: &[(String, JobState)]) {
    let j = Journal::open(state).expect("journal opens again");
    assert_eq!(j.check().expect("check"), Vec::<String>::new(), "journal inconsistent");
    assert_eq!(snapshot(&j), before, "the journal changed");
    assert!(j.attempts().expect("attempts").is_empty());
}

/// Runs a shell script in a private mount namespace; `$CETAK` is the binary.
fn in_namespace(script: &str) -> String {
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .env("CETAK", env!("CARGO_BIN_EXE_cetak"))
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("unshare");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "namespace script failed (is unshare permitted here?):\n{text}");
    text
}

#[test]
fn a_read_only_filesystem_is_named_and_nothing_is_written() {
    require_root();
    let (_dir, state, more, before) = journal_with_three_jobs();
    let s = state.display();
    let out = in_namespace(&format!(
        r#"mount --bind "{s}" "{s}" && mount -o remount,bind,ro "{s}"
        touch "{s}/probe" 2>/dev/null && echo "NOT READ-ONLY"
        "$CETAK" --language en import "{more}" --state-dir "{s}"; echo "import_exit=$?"
        "$CETAK" --language id run --emulator --until-idle --state-dir "{s}"; echo "run_exit=$?"
        true"#,
        more = more.display()
    ));
    assert!(!out.contains("NOT READ-ONLY"), "{out}");
    assert!(out.contains("import_exit=1") && out.contains("run_exit=1"), "{out}");
    assert!(out.contains(&format!("The journal folder {s} is on a read-only filesystem: nothing was written")), "{out}");
    assert!(out.contains(&format!("Folder jurnal {s} berada di sistem berkas hanya-baca")), "{out}");
    assert_unchanged(&state, &before);
}

#[test]
fn a_full_disk_mid_import_is_named_and_the_import_rolls_back() {
    require_root();
    let (dir, state, more, before) = journal_with_three_jobs();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).expect("mnt");
    let out = in_namespace(&format!(
        r#"set -e
        mount -t tmpfs -o size=4m tmpfs "{m}"
        cp -a "{s}" "{m}/state"
        dd if=/dev/zero of="{m}/filler" bs=16k 2>/dev/null || true
        truncate -s -120K "{m}/filler"
        set +e
        "$CETAK" --language en import "{more}" --state-dir "{m}/state"; echo "import_exit=$?"
        rm "{m}/filler"
        "$CETAK" --language en doctor --min-free-mb 1 --state-dir "{m}/state"
        "$CETAK" --language en jobs --state-dir "{m}/state"
        true"#,
        m = mnt.display(),
        s = state.display(),
        more = more.display()
    ));
    assert!(out.contains("import_exit=1"), "the import must fail on a full disk:\n{out}");
    assert!(out.contains(&format!("The disk holding the journal folder {}/state is full: nothing was written", mnt.display())), "{out}");
    assert!(out.contains("[ok] journal opens and is consistent"), "journal inconsistent after the full disk:\n{out}");
    let listed: Vec<&str> = out.lines().filter(|l| l.starts_with("prr-")).map(|l| l.split_whitespace().next().unwrap_or("")).collect();
    let expected: Vec<&str> = before.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(listed, expected, "only the three jobs from before, none half-imported:\n{out}");
    // The import was large enough to need the space it did not get.
    assert!(std::fs::metadata(&more).expect("more").len() > 120 * 1024);
}

#[test]
fn a_folder_the_user_may_not_write_is_named() {
    require_root();
    let (dir, state, more, before) = journal_with_three_jobs();
    for p in [dir.path(), state.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cetak"))
        .args(["--language", "en", "import"])
        .arg(&more)
        .arg("--state-dir")
        .arg(&state)
        .env("RUST_BACKTRACE", "0")
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run as nobody");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("cetak may not write the journal folder {}", state.display())), "{stderr}");
    assert_unchanged(&state, &before);
}
