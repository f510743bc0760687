//! The district's answers as the agent reads them: a long poll's answer
//! (jobs, commands, releases, drops), a results answer, an ack and an error
//! body. Each parse returns; none panics. Jobs that parse are stored as the
//! poller stores them: the import is accepted whole (each job then known
//! to the journal) or refused whole.
#![no_main]

use std::sync::{Mutex, OnceLock};

use cetak_model::wire::{Ack, ErrorBody, PollResponse, ResultsResponse};
use libfuzzer_sys::fuzz_target;

/// One journal for the run (opening one an input would dominate the time).
fn journal() -> &'static Mutex<(tempfile::TempDir, cetak::journal::Journal)> {
    static J: OnceLock<Mutex<(tempfile::TempDir, cetak::journal::Journal)>> = OnceLock::new();
    J.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let journal = cetak::journal::Journal::open(dir.path()).expect("journal");
        Mutex::new((dir, journal))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(poll) = serde_json::from_str::<PollResponse>(text) {
        let mut guard = journal().lock().expect("journal");
        let journal = &mut guard.1;
        if journal.import_assignments(&poll.jobs).is_ok() {
            for j in &poll.jobs {
                assert!(journal.job(&j.job_id).expect("journal readable").is_some(), "an imported job is not in the journal");
            }
        }
    }
    let _ = serde_json::from_str::<ResultsResponse>(text);
    let _ = serde_json::from_str::<Ack>(text);
    let _ = serde_json::from_str::<ErrorBody>(text);
});
