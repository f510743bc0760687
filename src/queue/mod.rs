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
mod sync;

pub use client::{Client, QueueError};
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
}

/// Exchanges a one-time code for the station's token and the district's
/// keys, and stores them. Local jobs still unfinished block enrolment: an
/// enrolled station has no local source to report them to.
pub async fn enroll(journal: &mut Journal, district: &str, code: &str) -> Result<Enrolment, EnrollError> {
    let open = journal
        .all_jobs()?
        .into_iter()
        .filter(|j| !matches!(j.state, crate::journal::JobState::Purged | crate::journal::JobState::Reported))
        .count();
    if journal.enrolment()?.is_none() && open > 0 {
        return Err(EnrollError::LocalJobsLeft(open));
    }
    let client = Client::new(district, None)?;
    let (resp, _): (EnrollResponse, _) = client.post("/v1/enroll", &EnrollRequest { code: code.into() }, Duration::from_secs(30)).await?;
    let e = Enrolment {
        district: district.trim_end_matches('/').into(),
        station: resp.station,
        token: resp.token,
        regions: resp.regions,
        keys: resp.keys,
    };
    journal.enroll(&e)?;
    journal.set_link(true, Some(resp.time_ms), None)?;
    Ok(e)
}
