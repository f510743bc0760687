//! The district's envelope-signing keys (Ed25519). The first is created on
//! first start; part two of the district issues adds rotation.
//!
//! The secret key sits in the database, readable by the service's role:
//! whoever controls the district database can issue cards (docs/security.md
//! says so plainly).

use cetak_model::wire::PublicKey;
use ed25519_dalek::SigningKey;
use sqlx::postgres::PgPool;

use crate::DistrictError;

/// The newest key not revoked, created if there is none.
pub async fn signing_key(pool: &PgPool) -> Result<(String, SigningKey), DistrictError> {
    let row: Option<(String, Vec<u8>)> =
        sqlx::query_as("SELECT key_id, secret FROM signing_keys WHERE revoked_at IS NULL ORDER BY created_at DESC LIMIT 1")
            .fetch_optional(pool)
            .await?;
    if let Some((id, secret)) = row {
        let bytes: [u8; 32] = secret.try_into().map_err(|_| DistrictError::Refused(format!("signing key {id} is damaged")))?;
        return Ok((id, SigningKey::from_bytes(&bytes)));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| DistrictError::Refused(format!("no randomness for a key: {e}")))?;
    let key = SigningKey::from_bytes(&secret);
    let public = key.verifying_key().to_bytes();
    // The key id names the key by its public half, so two districts never
    // share one by accident.
    let id = format!("k-{}", &hex::encode(public)[..12]);
    sqlx::query("INSERT INTO signing_keys (key_id, secret, public) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(&id)
        .bind(secret.as_slice())
        .bind(public.as_slice())
        .execute(pool)
        .await?;
    tracing::info!(key_id = %id, "created the district's signing key");
    Ok((id, key))
}

/// Every key a station should know, revoked ones marked.
pub async fn public_keys(pool: &PgPool) -> Result<Vec<PublicKey>, DistrictError> {
    let rows: Vec<(String, Vec<u8>, bool)> =
        sqlx::query_as("SELECT key_id, public, revoked_at IS NOT NULL FROM signing_keys ORDER BY created_at").fetch_all(pool).await?;
    Ok(rows.into_iter().map(|(key_id, public, revoked)| PublicKey { key_id, public_key: hex::encode(public), revoked }).collect())
}
