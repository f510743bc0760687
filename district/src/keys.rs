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
    let bytes: [u8; 32] = secret.try_into().map_err(|_| DistrictError::DamagedKey { key_id: id.to_string() })?;
    Ok(Some((id, SigningKey::from_bytes(&bytes))))
}

/// Creates a signing key; being the newest, it signs from now on.
pub async fn create(pool: &PgPool) -> Result<(String, SigningKey), DistrictError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| DistrictError::NoRandomness { purpose: " for a key", reason: e.to_string() })?;
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

/// Revokes a key, audited. Revoked keys never strand jobs: in the same
/// transaction every assigned job whose envelope the key signed gets a new
/// envelope from the current key, in the same epoch, and is sent again, so
/// no station hears of the revocation without its new envelopes (it
/// replaces the envelope it holds). A job signed by the key that a station
/// refuses all the same is signed anew at its next assignment
/// (`queue::store_results`).
pub async fn revoke(pool: &PgPool, key_id: &str, actor: &str) -> Result<(), DistrictError> {
    // The key that signs from now on: the newest other one, made if needed.
    let signer = match other_active(pool, key_id).await? {
        Some(k) => k,
        None => create(pool).await?,
    };
    let mut tx = pool.begin().await?;
    let r = sqlx::query("UPDATE signing_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL")
        .bind(key_id)
        .execute(&mut *tx)
        .await?;
    if r.rows_affected() != 1 {
        return Err(DistrictError::NoKey { key_id: key_id.to_string() });
    }
    let resigned = resign(&mut tx, key_id, &signer).await?;
    crate::db::audit(&mut tx, actor, "key_revoke", None, serde_json::json!({"key_id": key_id, "resigned": resigned})).await?;
    crate::queue::notify(&mut tx, "all").await?;
    tx.commit().await?;
    if resigned > 0 {
        tracing::info!(key_id, jobs = resigned, "jobs signed by the revoked key signed anew and sent again");
    }
    Ok(())
}

/// The newest key in use other than `except`.
async fn other_active(pool: &PgPool, except: &str) -> Result<Option<(String, SigningKey)>, DistrictError> {
    let row: Option<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT key_id, secret FROM signing_keys WHERE revoked_at IS NULL AND key_id <> $1 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(except)
    .fetch_optional(pool)
    .await?;
    let Some((id, secret)) = row else { return Ok(None) };
    let bytes: [u8; 32] = secret.try_into().map_err(|_| DistrictError::DamagedKey { key_id: id.to_string() })?;
    Ok(Some((id, SigningKey::from_bytes(&bytes))))
}

/// Signs anew, with `signer`, every assigned job whose envelope `key_id`
/// signed, in the same epoch, and marks it to be sent again. Returns how many.
async fn resign(tx: &mut sqlx::PgConnection, key_id: &str, signer: &(String, SigningKey)) -> Result<u64, DistrictError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        job_id: String,
        epoch: i64,
        station: String,
        kode_wilayah: String,
        needs_approval: bool,
        approved_by: Option<String>,
        prr: Option<String>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT job_id, epoch, station, kode_wilayah, needs_approval, approved_by, prr FROM jobs
         WHERE state = 'assigned' AND envelope->>'key_id' = $1 FOR UPDATE",
    )
    .bind(key_id)
    .fetch_all(&mut *tx)
    .await?;
    let (now,): (i64,) = sqlx::query_as("SELECT (EXTRACT(EPOCH FROM now()))::bigint").fetch_one(&mut *tx).await?;
    let mut n = 0;
    for Row { job_id, epoch, station, kode_wilayah, needs_approval, approved_by, prr } in rows {
        let Some(prr) = prr else { continue };
        let approved = needs_approval && approved_by.is_some();
        let envelope = cetak_model::envelope::Envelope::sign(&signer.0, &signer.1, &job_id, &kode_wilayah, &prr, approved, now);
        let value = serde_json::to_value(&envelope).map_err(|source| DistrictError::Encode { what: "an envelope", source })?;
        sqlx::query("UPDATE jobs SET envelope = $2, delivered = false, resend = true WHERE job_id = $1")
            .bind(&job_id)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({"station": station, "epoch": epoch, "key_id": signer.0, "revoked": key_id});
        crate::db::audit(&mut *tx, "district", "resign", Some(&job_id), detail).await?;
        crate::queue::notify(&mut *tx, &format!("station:{station}")).await?;
        n += 1;
    }
    Ok(n)
}

/// Every key a station should know, revoked ones marked.
pub async fn public_keys(pool: &PgPool) -> Result<Vec<PublicKey>, DistrictError> {
    let rows: Vec<(String, Vec<u8>, bool)> =
        sqlx::query_as("SELECT key_id, public, revoked_at IS NOT NULL FROM signing_keys ORDER BY created_at").fetch_all(pool).await?;
    Ok(rows.into_iter().map(|(key_id, public, revoked)| PublicKey { key_id, public_key: hex::encode(public), revoked }).collect())
}
