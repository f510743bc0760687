//! Who this station is to its district: the enrolment (district, station,
//! token, regions, the district's CA) and the district's signing keys.

use rusqlite::{params, OptionalExtension};
use serde_json::json;

use super::{now, Journal, JournalError, Result};

/// Who this station is to its district.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolment {
    pub district: String,
    pub station: String,
    pub token: String,
    pub regions: Vec<String>,
    pub keys: Vec<cetak_model::wire::PublicKey>,
    /// The district's CA (PEM); `None` for a plain-HTTP trial district.
    pub ca_pem: Option<String>,
}

impl Enrolment {
    /// The key set envelopes are checked against.
    pub fn key_set(&self) -> cetak_model::envelope::KeySet {
        let mut set = cetak_model::envelope::KeySet::default();
        for k in &self.keys {
            let bytes: Option<[u8; 32]> = hex::decode(&k.public_key).ok().and_then(|b| b.try_into().ok());
            if let Some(key) = bytes.and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok()) {
                set.add(&k.key_id, key);
                if k.revoked {
                    set.revoke(&k.key_id);
                }
            }
        }
        set
    }
}

impl Journal {
    pub fn enrolment(&self) -> Result<Option<Enrolment>> {
        type Row = (String, String, String, String, String, Option<String>);
        let row: Option<Row> = self
            .conn
            .query_row("SELECT district, station, token, regions, keys, ca_pem FROM enrolment WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .optional()
            .map_err(self.ctx.sql())?;
        let Some((district, station, token, regions, keys, ca_pem)) = row else { return Ok(None) };
        let corrupt = |e: serde_json::Error| JournalError::Corrupt(format!("enrolment: {e}"));
        Ok(Some(Enrolment {
            district,
            station,
            token,
            regions: serde_json::from_str(&regions).map_err(corrupt)?,
            keys: serde_json::from_str(&keys).map_err(corrupt)?,
            ca_pem,
        }))
    }

    /// Stores the enrolment (replacing an earlier one).
    pub fn enroll(&mut self, e: &Enrolment) -> Result<()> {
        let regions = json!(e.regions).to_string();
        let keys = serde_json::to_string(&e.keys).map_err(|err| JournalError::Corrupt(err.to_string()))?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO enrolment (id, district, station, token, regions, keys, enrolled_at, ca_pem)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![e.district, e.station, e.token, regions, keys, now(), e.ca_pem],
            )
            .map_err(self.ctx.sql())?;
        Ok(())
    }

    /// Replaces the district's key set (rotation, revocation).
    pub fn set_keys(&mut self, keys: &[cetak_model::wire::PublicKey]) -> Result<()> {
        let keys = serde_json::to_string(keys).map_err(|e| JournalError::Corrupt(e.to_string()))?;
        self.conn.execute("UPDATE enrolment SET keys = ?1 WHERE id = 1", [keys]).map_err(self.ctx.sql())?;
        Ok(())
    }
}
