//! The district queue client. So far only its retry policy exists; the
//! protocol client (poll, heartbeat, results, outbox sender) comes with the
//! rest of the district queue issue.

pub mod retry;
