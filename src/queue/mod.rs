//! The district queue client (DESIGN §5, §6): enrolment, and while the
//! daemon runs, two tasks on one small runtime of their own:
//!
//! - the **poller** long-polls for assignments and commands, stores jobs
//!   in the journal before confirming them, and carries out commands;
//! - the **reporter** sends the outbox (results, held reports, events) in
//!   batches and a heartbeat, acknowledging each message only once the
//!   district has stored it.
//!
//! Both retry every failed call through the one [`retry::RetryPolicy`].
//! While the district is unreachable the station loops print what the
//! journal holds; the link's state ("offline since") is journalled for
//! `cetak status`.

pub mod client;
pub mod clock;
pub mod retry;
pub mod storm;
mod sync;

pub use sync::heartbeat;
pub mod tls;

pub use client::{Client, QueueError, Trust};
pub use clock::Clock;
pub use sync::{spawn, SyncOptions};

use std::time::Duration;

use cetak_model::wire::{EnrollRequest, EnrollResponse};

use crate::journal::district::Enrolment;
use crate::journal::Journal;

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    #[error("this station holds {0} unfinished local job(s): print or finish them before enrolling")]
    LocalJobsLeft(usize),
    #[error("{district}: {reason}; nothing was stored")]
    Untrusted { district: String, reason: String },
}

/// Exchanges a one-time code for the station's token and the district's
/// keys, and stores them with the district's CA. On `https` nothing is
/// trusted without `ca_sha256`, and a district whose CA does not match it
/// is refused before the code is even sent. Local jobs still unfinished
/// block enrolment: an enrolled station has no local source to report them
/// to.
pub async fn enroll(journal: &mut Journal, district: &str, code: &str, ca_sha256: Option<&str>) -> Result<Enrolment, EnrollError> {
    let open = journal
        .all_jobs()?
        .into_iter()
        .filter(|j| !matches!(j.state, crate::journal::JobState::Purged | crate::journal::JobState::Reported))
        .count();
    if journal.enrolment()?.is_none() && open > 0 {
        return Err(EnrollError::LocalJobsLeft(open));
    }
    let untrusted = |reason: &str| EnrollError::Untrusted { district: district.into(), reason: reason.into() };
    let pinned = match (district.starts_with("https://"), ca_sha256) {
        (true, Some(fp)) => Some(std::sync::Arc::new(tls::PinnedCa::new(fp))),
        (true, None) => return Err(untrusted("an https district needs --ca-sha256 (the fingerprint the officer gave with the code)")),
        (false, Some(_)) => return Err(untrusted("--ca-sha256 given for a district without TLS (http://)")),
        (false, None) => None,
    };
    let client = match &pinned {
        Some(p) => Client::new(district, None, Trust::Pinned(p))?,
        None => Client::new(district, None, Trust::Nothing)?,
    };
    let resp: EnrollResponse = match client.post("/v1/enroll", &EnrollRequest { code: code.into() }, Duration::from_secs(30)).await {
        Ok((r, _)) => r,
        Err(QueueError::Unreachable { reason, .. }) if reason.contains(tls::MISMATCH) => return Err(untrusted(tls::MISMATCH)),
        Err(e) => return Err(e.into()),
    };
    let ca_pem = pinned.as_ref().and_then(|p| p.ca_pem());
    if pinned.is_some() && ca_pem.is_none() {
        return Err(untrusted("the district's CA could not be read"));
    }
    let e = Enrolment {
        district: district.trim_end_matches('/').into(),
        station: resp.station,
        token: resp.token,
        regions: resp.regions,
        keys: resp.keys,
        ca_pem,
    };
    journal.enroll(&e)?;
    journal.set_link(true, Some(resp.time_ms), None)?;
    Ok(e)
}

/// The client an enrolled station uses: its token, its district's CA.
pub fn client_for(e: &Enrolment) -> Result<Client, QueueError> {
    let trust = match &e.ca_pem {
        Some(pem) => Trust::Ca(pem),
        None => Trust::Nothing,
    };
    Client::new(&e.district, Some(&e.token), trust)
}
