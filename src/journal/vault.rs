//! The one encrypting seam for personal data at rest.
//!
//! Each UTC day has its own 256-bit key in `keys/YYYY-MM-DD.key` (mode
//! 0600; a looser mode is refused). Payloads are sealed with
//! XChaCha20-Poly1305 under the key of the day they arrived, with the job id
//! as associated data, so a ciphertext cannot be moved to another job.
//! Destroying a day's key makes every copy of that day's payloads
//! unreadable, old WAL frames and disk blocks included.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("key folder {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("key file {path} has mode {mode:o}: only the service may read it (chmod 600)")]
    LooseMode { path: PathBuf, mode: u32 },
    #[error("key file {path} is damaged (expected 32 bytes)")]
    BadKey { path: PathBuf },
    #[error("the key of {day} is gone: its payloads were destroyed")]
    KeyDestroyed { day: String },
    #[error("payload of job {job_id} does not decrypt (damaged or moved)")]
    Tampered { job_id: String },
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

/// Day keys in one folder.
#[derive(Clone, Debug)]
pub struct Vault {
    dir: PathBuf,
}

impl Vault {
    pub fn open(dir: &Path) -> Result<Self, VaultError> {
        let io = |source| VaultError::Io { path: dir.to_path_buf(), source };
        fs::create_dir_all(dir).map_err(io)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        Ok(Self { dir: dir.to_path_buf() })
    }

    fn path(&self, day: &str) -> PathBuf {
        self.dir.join(format!("{day}.key"))
    }

    fn load(&self, day: &str, create: bool) -> Result<Key, VaultError> {
        let path = self.path(day);
        let io = |source| VaultError::Io { path: path.clone(), source };
        match fs::metadata(&path) {
            Ok(meta) => {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(VaultError::LooseMode { path, mode });
                }
                let bytes = fs::read(&path).map_err(io)?;
                if bytes.len() != 32 {
                    return Err(VaultError::BadKey { path });
                }
                Ok(*Key::from_slice(&bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| VaultError::Random(e.to_string()))?;
                let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(io)?;
                f.write_all(&key).map_err(io)?;
                f.sync_all().map_err(io)?;
                fs::File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io)?;
                Ok(*Key::from_slice(&key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(VaultError::KeyDestroyed { day: day.to_string() }),
            Err(source) => Err(VaultError::Io { path, source }),
        }
    }

    /// Encrypts `plain` under `day`'s key (created if missing); the result
    /// is nonce followed by ciphertext.
    pub fn seal(&self, day: &str, job_id: &str, plain: &[u8]) -> Result<Vec<u8>, VaultError> {
        let key = self.load(day, true)?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| VaultError::Random(e.to_string()))?;
        let cipher = XChaCha20Poly1305::new(&key);
        let ct = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: job_id.as_bytes() })
            .map_err(|_| VaultError::Tampered { job_id: job_id.to_string() })?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open_sealed(&self, day: &str, job_id: &str, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        let key = self.load(day, false)?;
        if sealed.len() < NONCE_LEN {
            return Err(VaultError::Tampered { job_id: job_id.to_string() });
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        XChaCha20Poly1305::new(&key)
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: job_id.as_bytes() })
            .map_err(|_| VaultError::Tampered { job_id: job_id.to_string() })
    }

    /// Overwrites and deletes a day's key.
    pub fn destroy(&self, day: &str) -> Result<(), VaultError> {
        let path = self.path(day);
        let io = |source| VaultError::Io { path: path.clone(), source };
        if path.exists() {
            let mut f = OpenOptions::new().write(true).open(&path).map_err(io)?;
            f.write_all(&[0u8; 32]).map_err(io)?;
            f.sync_all().map_err(io)?;
            fs::remove_file(&path).map_err(io)?;
        }
        Ok(())
    }

    /// Days that still have a key.
    pub fn days(&self) -> Result<Vec<String>, VaultError> {
        let io = |source| VaultError::Io { path: self.dir.clone(), source };
        let mut days = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io)? {
            let name = entry.map_err(io)?.file_name().to_string_lossy().to_string();
            if let Some(day) = name.strip_suffix(".key") {
                days.push(day.to_string());
            }
        }
        days.sort();
        Ok(days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_binds_the_job_id_and_destroy_makes_it_unreadable() -> Result<(), VaultError> {
        let dir = tempfile::tempdir().map_err(|source| VaultError::Io { path: "tmp".into(), source })?;
        let v = Vault::open(dir.path())?;
        let sealed = v.seal("2026-11-23", "job-1", b"secret")?;
        assert_eq!(v.open_sealed("2026-11-23", "job-1", &sealed)?, b"secret");
        assert!(matches!(v.open_sealed("2026-11-23", "job-2", &sealed), Err(VaultError::Tampered { .. })));
        v.destroy("2026-11-23")?;
        assert!(matches!(v.open_sealed("2026-11-23", "job-1", &sealed), Err(VaultError::KeyDestroyed { .. })));
        Ok(())
    }

    #[test]
    fn loose_key_mode_is_refused() -> Result<(), VaultError> {
        let dir = tempfile::tempdir().map_err(|source| VaultError::Io { path: "tmp".into(), source })?;
        let v = Vault::open(dir.path())?;
        v.seal("2026-11-23", "j", b"x")?;
        let p = dir.path().join("2026-11-23.key");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).map_err(|source| VaultError::Io { path: p.clone(), source })?;
        assert!(matches!(v.seal("2026-11-23", "j", b"x"), Err(VaultError::LooseMode { mode: 0o644, .. })));
        Ok(())
    }
}
