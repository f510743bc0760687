//! The connection pool and the migrations in `district/migrations/`.

use sqlx::postgres::{PgPool, PgPoolOptions};

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
    #[error("{0}")]
    Refused(String),
    #[error("PostgreSQL: {0}")]
    Postgres(String),
}

/// Connects and brings the schema up to date.
pub async fn connect(url: &str) -> Result<PgPool, DistrictError> {
    // Many stations' polls arrive together after an outage: they queue for
    // a connection rather than fail.
    let pool = PgPoolOptions::new().max_connections(16).acquire_timeout(std::time::Duration::from_secs(120)).connect(url).await?;
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
