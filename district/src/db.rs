//! The connection pool and the migrations in `district/migrations/`.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Connection;

#[derive(Debug, thiserror::Error)]
pub enum DistrictError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    /// A line that cannot be a job: nothing from the file is imported.
    #[error("{path}:{line}: {reason}")]
    Line { path: String, line: usize, reason: String },
    /// What an officer typed that cannot be (a region code, a station
    /// name, a missing option): the sentence says which and how.
    #[error("{0}")]
    Invalid(String),
    /// An officer's action on a job that is not in a state it applies to.
    #[error("job {job_id} is {state}: {rule}")]
    WrongState { job_id: String, state: String, rule: &'static str },
    #[error("no job {job_id}")]
    NoJob { job_id: String },
    #[error("no station {station}")]
    NoStation { station: String },
    #[error("no enrolled station {station}")]
    NotEnrolled { station: String },
    #[error("job {job_id} is not assigned to {station}")]
    NotAssigned { job_id: String, station: String },
    #[error("station {station} is not enrolled for {region}")]
    NotForRegion { station: String, region: String },
    #[error("station {station} holds job {job_id} already")]
    HoldsAlready { station: String, job_id: String },
    /// The PRR was destroyed (retention): the job cannot be sent again.
    #[error("job {job_id} has no PRR any more")]
    NoPrr { job_id: String },
    #[error("job {job_id} is not waiting for approval")]
    NotHeld { job_id: String },
    #[error("no key {key_id} in use")]
    NoKey { key_id: String },
    /// A stored signing secret of the wrong length.
    #[error("signing key {key_id} is damaged")]
    DamagedKey { key_id: String },
    /// The operating system gave no randomness (for a token or a key).
    #[error("no randomness{purpose}: {reason}")]
    NoRandomness { purpose: &'static str, reason: String },
    #[error("TLS: {what}: {reason}")]
    Tls { what: String, reason: String },
    /// A value of ours that does not serialize (a defect, named).
    #[error("encoding {what}: {source}")]
    Encode { what: &'static str, source: serde_json::Error },
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// The first connection found no database at the address.
    #[error("the district's database: nothing answers at {at} ({reason}): is PostgreSQL running there, and is the address right?")]
    Unreachable { at: String, reason: String },
}

/// How long the first connection may take before the address is named as
/// unreachable (later ones wait longer: see [`connect`]).
pub const FIRST_CONNECTION: std::time::Duration = std::time::Duration::from_secs(10);

/// Connects and brings the schema up to date.
pub async fn connect(url: &str) -> Result<PgPool, DistrictError> {
    let opts: PgConnectOptions = url.parse()?;
    let at = format!("{}:{}", opts.get_host(), opts.get_port());
    // Many stations' polls arrive together after an outage: they queue for
    // a connection rather than fail.
    let pool = PgPoolOptions::new().max_connections(16).acquire_timeout(std::time::Duration::from_secs(120));
    // The first connection, though, is given seconds, and tried once: a
    // database that is not there is said at once, with its address, not
    // after two minutes of the pool's retries in silence. A database that
    // answers and refuses (a password, a missing database) says so in its
    // own words.
    match tokio::time::timeout(FIRST_CONNECTION, sqlx::PgConnection::connect_with(&opts)).await {
        Ok(Ok(first)) => first.close().await?,
        Ok(Err(e @ (sqlx::Error::Io(_) | sqlx::Error::Tls(_)))) => return Err(DistrictError::Unreachable { at, reason: e.to_string() }),
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => return Err(DistrictError::Unreachable { at, reason: format!("no answer within {} s", FIRST_CONNECTION.as_secs()) }),
    }
    let pool = pool.connect_with(opts).await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

/// Records who did what, when (the `audit` table), in the caller's
/// transaction.
pub async fn audit(
    conn: &mut sqlx::PgConnection,
    actor: &str,
    action: &str,
    job_id: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), DistrictError> {
    sqlx::query("INSERT INTO audit (actor, action, job_id, detail) VALUES ($1, $2, $3, $4)")
        .bind(actor)
        .bind(action)
        .bind(job_id)
        .bind(detail)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
