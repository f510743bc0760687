//! Fail points for crash tests: with the `failpoints` feature, a process
//! whose `CETAK_FAILPOINT` names a point kills itself with SIGKILL when it
//! reaches it (`name`, or `name@N` for the N-th time), as a power cut
//! would. Without the feature every point compiles to nothing.
//!
//! A crate of its own, so the journal, the queue, the station, the drivers
//! and the district share the points without importing each other for
//! them. The `fail` crate was looked at: its actions (panic, return, sleep,
//! pause) cannot SIGKILL the process at a point, which a power cut needs.

/// Marks a point where a crash can be injected.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}

/// Marks a point where a crash can be injected.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static HITS: AtomicUsize = AtomicUsize::new(0);
    let Ok(spec) = std::env::var("CETAK_FAILPOINT") else { return };
    let (point, nth) = match spec.split_once('@') {
        Some((p, n)) => (p.to_string(), n.parse::<usize>().unwrap_or(1)),
        None => (spec.clone(), 1),
    };
    if point != name {
        return;
    }
    if HITS.fetch_add(1, Ordering::SeqCst) + 1 == nth {
        eprintln!("failpoint {name}: killing the process");
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
        // SIGKILL cannot be caught; this is never reached.
        std::process::abort();
    }
}

/// Whether this build can inject crashes.
pub const ENABLED: bool = cfg!(feature = "failpoints");

/// Marks a point where a hang can be injected: with the `failpoints`
/// feature, a thread whose process has `CETAK_HANGPOINT` naming the point
/// blocks there for good (the watchdog tests' hung station loop).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hang(_name: &str) {}

/// Marks a point where a hang can be injected.
#[cfg(feature = "failpoints")]
pub fn hang(name: &str) {
    if std::env::var("CETAK_HANGPOINT").is_ok_and(|p| p == name) {
        eprintln!("hang point {name}: this thread stops here");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// Marks a point where a panic can be injected: with the `failpoints`
/// feature, a process whose `CETAK_PANICPOINT` names the point (`name` or
/// `name@N`, the N-th time it is passed) panics there, so a test can see a
/// station loop's supervisor catch an unexpected failure and restart it.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn panic_point(_name: &str) {}

/// Marks a point where a panic can be injected.
#[cfg(feature = "failpoints")]
pub fn panic_point(name: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static HITS: AtomicUsize = AtomicUsize::new(0);
    let Ok(spec) = std::env::var("CETAK_PANICPOINT") else { return };
    let (point, nth) = match spec.split_once('@') {
        Some((p, n)) => (p.to_string(), n.parse::<usize>().unwrap_or(1)),
        None => (spec.clone(), 1),
    };
    if point == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == nth {
        panic!("panic point {name}");
    }
}

/// Test-only: whether the security check `name` is switched off, so a test
/// can be seen to fail with its door open (`CETAK_OPEN_DOOR=name[,name]`,
/// with the `failpoints` feature; always false without it). The names are
/// the refusal codes (`envelope.bad_signature`, `job_id.replayed`, ...).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn door_open(_name: &str) -> bool {
    false
}

/// Test-only: whether the security check `name` is switched off.
#[cfg(feature = "failpoints")]
pub fn door_open(name: &str) -> bool {
    std::env::var("CETAK_OPEN_DOOR").is_ok_and(|v| v.split(',').any(|d| d.trim() == name))
}
