//! The signed job envelope (DESIGN §9): the district signs, with Ed25519,
//! the key id, job id, `kode_wilayah`, the PRR's SHA-256, the approval flag
//! and the issue time. An enrolled station prints nothing whose envelope
//! fails any check here.
//!
//! What is signed is a fixed, line-oriented text (`cetak-envelope-v1`, then
//! one field a line), so both sides build the same bytes without depending
//! on a JSON serializer's choices.

use std::collections::HashMap;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// What the district vouches for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Envelope {
    pub key_id: String,
    pub job_id: String,
    pub kode_wilayah: String,
    /// SHA-256 of the PRR's JSON line, hex.
    pub prr_sha256: String,
    /// An officer approved a record that needed it.
    pub approved: bool,
    /// Unix seconds.
    pub issued_at: i64,
    /// Ed25519 signature of [`Envelope::signed_bytes`], hex.
    pub signature: String,
}

/// Why an envelope is refused. None of these print a personal value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("signed by unknown key {0}")]
    UnknownKey(String),
    #[error("signed by revoked key {0}")]
    RevokedKey(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("the PRR does not match the signed hash (altered)")]
    Altered,
    #[error("for a region this station is not enrolled for")]
    ForeignRegion,
    #[error("issued {0} s in the future, beyond the allowed clock skew")]
    FromTheFuture(i64),
    #[error("issued {0} s ago, longer than the station keeps jobs")]
    Expired(i64),
}

impl EnvelopeError {
    /// A stable code for results and reports (`envelope.<reason>`).
    pub fn code(&self) -> &'static str {
        match self {
            EnvelopeError::UnknownKey(_) => "envelope.unknown_key",
            EnvelopeError::RevokedKey(_) => "envelope.revoked_key",
            EnvelopeError::BadSignature => "envelope.bad_signature",
            EnvelopeError::Altered => "envelope.altered",
            EnvelopeError::ForeignRegion => "envelope.foreign_region",
            EnvelopeError::FromTheFuture(_) => "envelope.from_the_future",
            EnvelopeError::Expired(_) => "envelope.expired",
        }
    }
}

/// SHA-256 of a PRR line, hex.
pub fn prr_hash(prr_json: &str) -> String {
    hex::encode(Sha256::digest(prr_json.as_bytes()))
}

impl Envelope {
    /// The exact bytes the signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        format!(
            "cetak-envelope-v1\n{}\n{}\n{}\n{}\n{}\n{}\n",
            self.key_id, self.job_id, self.kode_wilayah, self.prr_sha256, self.approved, self.issued_at
        )
        .into_bytes()
    }

    /// Signs an envelope for a PRR line.
    pub fn sign(key_id: &str, key: &SigningKey, job_id: &str, kode_wilayah: &str, prr_json: &str, approved: bool, issued_at: i64) -> Self {
        let mut e = Envelope {
            key_id: key_id.into(),
            job_id: job_id.into(),
            kode_wilayah: kode_wilayah.into(),
            prr_sha256: prr_hash(prr_json),
            approved,
            issued_at,
            signature: String::new(),
        };
        e.signature = hex::encode(key.sign(&e.signed_bytes()).to_bytes());
        e
    }
}

/// The district's public keys as a station holds them.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: HashMap<String, (VerifyingKey, bool)>,
}

impl KeySet {
    pub fn add(&mut self, key_id: &str, key: VerifyingKey) {
        self.keys.insert(key_id.into(), (key, false));
    }

    pub fn revoke(&mut self, key_id: &str) {
        if let Some(k) = self.keys.get_mut(key_id) {
            k.1 = true;
        }
    }
}

/// What a station checks beyond the signature.
#[derive(Clone, Debug)]
pub struct Checks<'a> {
    /// The region codes this station is enrolled for.
    pub regions: &'a [String],
    /// Now, on the station's skew-corrected clock (unix seconds).
    pub now: i64,
    /// How far ahead an issue time may be (default 10 minutes).
    pub max_ahead: i64,
    /// How old an envelope may be (the station's retention, 7 days).
    pub max_age: i64,
}

/// Verifies an envelope and the PRR line it came with.
pub fn verify(env: &Envelope, prr_json: &str, keys: &KeySet, checks: &Checks<'_>) -> Result<(), EnvelopeError> {
    // The signed text is one field a line: a field holding a line break
    // could pass for others.
    if [&env.key_id, &env.job_id, &env.kode_wilayah, &env.prr_sha256].iter().any(|f| f.contains('\n')) {
        return Err(EnvelopeError::BadSignature);
    }
    let (key, revoked) = keys.keys.get(&env.key_id).ok_or_else(|| EnvelopeError::UnknownKey(env.key_id.clone()))?;
    if *revoked {
        return Err(EnvelopeError::RevokedKey(env.key_id.clone()));
    }
    let sig_bytes: [u8; 64] = hex::decode(&env.signature).ok().and_then(|b| b.try_into().ok()).ok_or(EnvelopeError::BadSignature)?;
    key.verify(&env.signed_bytes(), &Signature::from_bytes(&sig_bytes)).map_err(|_| EnvelopeError::BadSignature)?;
    if prr_hash(prr_json) != env.prr_sha256 {
        return Err(EnvelopeError::Altered);
    }
    if !checks.regions.iter().any(|r| r == &env.kode_wilayah) {
        return Err(EnvelopeError::ForeignRegion);
    }
    let age = checks.now - env.issued_at;
    if -age > checks.max_ahead {
        return Err(EnvelopeError::FromTheFuture(-age));
    }
    if age > checks.max_age {
        return Err(EnvelopeError::Expired(age));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000;
    const PRR: &str = r#"{"job_id":"j-1","kode_wilayah":"17.71.01.1001"}"#;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn setup() -> (Envelope, KeySet, Vec<String>) {
        let e = Envelope::sign("k1", &key(1), "j-1", "17.71.01.1001", PRR, false, NOW - 60);
        let mut keys = KeySet::default();
        keys.add("k1", key(1).verifying_key());
        (e, keys, vec!["17.71.01.1001".to_string()])
    }

    fn checks(regions: &[String]) -> Checks<'_> {
        Checks { regions, now: NOW, max_ahead: 600, max_age: 7 * 86_400 }
    }

    #[test]
    fn a_genuine_envelope_verifies() {
        let (e, keys, regions) = setup();
        assert_eq!(verify(&e, PRR, &keys, &checks(&regions)), Ok(()));
    }

    #[test]
    fn forged_altered_foreign_and_mistimed_envelopes_are_refused() {
        let (e, mut keys, regions) = setup();
        let c = checks(&regions);
        // Forged: signed by a key the station does not hold.
        let forged = Envelope::sign("k1", &key(9), "j-1", "17.71.01.1001", PRR, false, NOW);
        assert_eq!(verify(&forged, PRR, &keys, &c), Err(EnvelopeError::BadSignature));
        let stranger = Envelope::sign("k9", &key(9), "j-1", "17.71.01.1001", PRR, false, NOW);
        assert_eq!(verify(&stranger, PRR, &keys, &c), Err(EnvelopeError::UnknownKey("k9".into())));
        // Altered: the PRR changed after signing, or a signed field did.
        assert_eq!(verify(&e, &PRR.replace("j-1", "j-2"), &keys, &c), Err(EnvelopeError::Altered));
        let mut approved = e.clone();
        approved.approved = true;
        assert_eq!(verify(&approved, PRR, &keys, &c), Err(EnvelopeError::BadSignature));
        // Foreign region, future, expired.
        let other = vec!["32.76.02.1001".to_string()];
        assert_eq!(verify(&e, PRR, &keys, &checks(&other)), Err(EnvelopeError::ForeignRegion));
        let ahead = Envelope::sign("k1", &key(1), "j-1", "17.71.01.1001", PRR, false, NOW + 3600);
        assert_eq!(verify(&ahead, PRR, &keys, &c), Err(EnvelopeError::FromTheFuture(3600)));
        let old = Envelope::sign("k1", &key(1), "j-1", "17.71.01.1001", PRR, false, NOW - 8 * 86_400);
        assert_eq!(verify(&old, PRR, &keys, &c), Err(EnvelopeError::Expired(8 * 86_400)));
        // A field smuggling a line break.
        let mut smuggled = e.clone();
        smuggled.job_id = "j-1\n17.71.01.1001".into();
        assert_eq!(verify(&smuggled, PRR, &keys, &c), Err(EnvelopeError::BadSignature));
        // Revoked key.
        keys.revoke("k1");
        assert_eq!(verify(&e, PRR, &keys, &c), Err(EnvelopeError::RevokedKey("k1".into())));
    }
}
