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
    if let Some(k) = active(pool).await? {
        return Ok(k);
    }
    create(pool).await
}

async fn active(pool: &PgPool) -> Result<Option<(String, SigningKey)>, DistrictError> {
    let row: Option<(String, Vec<u8>)> =
        sqlx::query_as("SELECT key_id, secret FROM signing_keys WHERE revoked_at IS NULL ORDER BY created_at DESC LIMIT 1")
            .fetch_optional(pool)
            .await?;
    let Some((id, secret)) = row else { return Ok(None) };
    let bytes: [u8; 32] = secret.try_into().map_err(|_| DistrictError::Refused(format!("signing key {id} is damaged")))?;
    Ok(Some((id, SigningKey::from_bytes(&bytes))))
}

/// Creates a signing key; being the newest, it signs from now on.
pub async fn create(pool: &PgPool) -> Result<(String, SigningKey), DistrictError> {
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
    // Stations hear of the new key set with their next poll.
    let mut conn = pool.acquire().await?;
    crate::queue::notify(&mut conn, "all").await?;
    Ok((id, key))
}

/// Rotates: a new key signs from now on; jobs signed by the old one stay
/// valid until it is revoked. Audited.
pub async fn rotate(pool: &PgPool, actor: &str) -> Result<String, DistrictError> {
    let (id, _) = create(pool).await?;
    crate::db::audit(&mut *pool.acquire().await?, actor, "key_rotate", None, serde_json::json!({"key_id": id})).await?;
    Ok(id)
}

/// Revokes a key: stations refuse every job it signed that they have not
/// printed. If it was the signing key, a new one is made. Audited.
pub async fn revoke(pool: &PgPool, key_id: &str, actor: &str) -> Result<(), DistrictError> {
    let r = sqlx::query("UPDATE signing_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL")
        .bind(key_id)
        .execute(pool)
        .await?;
    if r.rows_affected() != 1 {
        return Err(DistrictError::Refused(format!("no key {key_id} in use")));
    }
    crate::db::audit(&mut *pool.acquire().await?, actor, "key_revoke", None, serde_json::json!({"key_id": key_id})).await?;
    signing_key(pool).await?;
    let mut conn = pool.acquire().await?;
    crate::queue::notify(&mut conn, "all").await?;
    Ok(())
}

/// Every key a station should know, revoked ones marked.
pub async fn public_keys(pool: &PgPool) -> Result<Vec<PublicKey>, DistrictError> {
    let rows: Vec<(String, Vec<u8>, bool)> =
        sqlx::query_as("SELECT key_id, public, revoked_at IS NOT NULL FROM signing_keys ORDER BY created_at").fetch_all(pool).await?;
    Ok(rows.into_iter().map(|(key_id, public, revoked)| PublicKey { key_id, public_key: hex::encode(public), revoked }).collect())
}
