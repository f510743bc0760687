//! The one encrypting seam for personal data at rest.
//!
//! Each UTC day has its own 256-bit key in `keys/YYYY-MM-DD.key` (mode
//! 0600; a looser mode is refused). Payloads are sealed with
//! XChaCha20-Poly1305 under the key of the day they arrived, with the job id
//! as associated data, so a ciphertext cannot be moved to another job.
//! Destroying a day's key makes every copy of that day's payloads
//! unreadable, old WAL frames and disk blocks included.
//!
//! Day keys are stored wrapped (sealed) by a master key. Under systemd the
//! master key is the service's credential `cetak-master-key` (the package
//! makes it with `systemd-creds encrypt`, TPM2-bound where the PC has one,
//! and the unit loads it with `LoadCredentialEncrypted=`), so a copy of the
//! disk alone opens nothing. Where systemd credentials are missing, the
//! master key is `keys/master.secret` (mode 0600) on the same disk: it
//! keeps the day keys from being read by anyone but the service user, and
//! no more. `keys/master.source` records which one wrapped the keys, so a
//! command run outside the service refuses rather than making a second
//! master key.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

const NONCE_LEN: usize = 24;

/// The systemd credential's name (`LoadCredentialEncrypted=NAME:FILE`).
pub const CREDENTIAL: &str = "cetak-master-key";

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the day keys in {dir} are wrapped by the systemd credential {CREDENTIAL}, which this process does not have: run it through the service (systemctl), or as 'systemd-run -p LoadCredentialEncrypted={CREDENTIAL}:/etc/cetak/master-key.cred --pipe --wait cetak ...'")]
    NoCredential { dir: PathBuf },
    #[error("master key {path} is damaged (expected 32 bytes)")]
    BadMaster { path: PathBuf },
    #[error("key folder {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("key file {path} has mode {mode:o}: only the service may read it (chmod 600)")]
    LooseMode { path: PathBuf, mode: u32 },
    #[error("key file {path} is damaged (expected 32 bytes)")]
    BadKey { path: PathBuf },
    #[error("key file {path} does not open with this station's master key: it is damaged, or was wrapped under another master key")]
    Unwrap { path: PathBuf },
    #[error("the key of {day} is gone: its payloads were destroyed")]
    KeyDestroyed { day: String },
    #[error("payload of job {job_id} does not decrypt (damaged or moved)")]
    Tampered { job_id: String },
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

impl VaultError {
    /// A stable code for why a payload could not be read, as a station
    /// reports the job it set aside.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCredential { .. } => "payload.no_credential",
            Self::BadMaster { .. } => "payload.master_damaged",
            Self::Io { .. } => "payload.io",
            Self::LooseMode { .. } => "payload.key_mode",
            Self::BadKey { .. } => "payload.key_damaged",
            Self::Unwrap { .. } => "payload.key_unwrap",
            Self::KeyDestroyed { .. } => "payload.key_destroyed",
            Self::Tampered { .. } => "payload.tampered",
            Self::Random(_) => "payload.no_randomness",
        }
    }
}

/// Day keys in one folder, wrapped by the master key.
#[derive(Clone)]
pub struct Vault {
    dir: PathBuf,
    master: Key,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// Where the master key comes from.
#[derive(Clone, Debug)]
pub enum Master {
    /// systemd's credentials folder (`$CREDENTIALS_DIRECTORY`), holding
    /// [`CREDENTIAL`].
    Credential(PathBuf),
    /// `keys/master.secret`, made on first use.
    File,
}

impl Master {
    /// The service's credential when systemd gave one, else the file.
    pub fn from_env() -> Self {
        match std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from) {
            Some(d) if d.join(CREDENTIAL).exists() => Master::Credential(d),
            _ => Master::File,
        }
    }
}

impl Vault {
    pub fn open(dir: &Path) -> Result<Self, VaultError> {
        Self::open_with(dir, Master::from_env())
    }

    pub fn open_with(dir: &Path, master: Master) -> Result<Self, VaultError> {
        let io = |source| VaultError::Io { path: dir.to_path_buf(), source };
        fs::create_dir_all(dir).map_err(io)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        let source_path = dir.join("master.source");
        let recorded = fs::read_to_string(&source_path).ok().map(|s| s.trim().to_string());
        let (key, source) = match master {
            Master::Credential(d) => {
                let path = d.join(CREDENTIAL);
                let bytes = fs::read(&path).map_err(|source| VaultError::Io { path: path.clone(), source })?;
                let key = master_bytes(&bytes).ok_or(VaultError::BadMaster { path })?;
                (key, "credential")
            }
            Master::File if recorded.as_deref() == Some("credential") => return Err(VaultError::NoCredential { dir: dir.to_path_buf() }),
            Master::File => (read_or_make_secret(&dir.join("master.secret"))?, "file"),
        };
        if recorded.as_deref() != Some(source) {
            // The first master key in use, or the package added a
            // credential to a station that had a file. (Replaced whole: a
            // process starting beside this one never reads it half written.)
            replace(&source_path, source.as_bytes())?;
        }
        Ok(Self { dir: dir.to_path_buf(), master: key })
    }

    fn path(&self, day: &str) -> PathBuf {
        self.dir.join(format!("{day}.key"))
    }

    /// A day key sealed by the master key, the day as associated data.
    fn wrap(&self, day: &str, key: &Key) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| VaultError::Random(e.to_string()))?;
        let aad = format!("cetak-day-key:{day}");
        let ct = XChaCha20Poly1305::new(&self.master)
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: key.as_slice(), aad: aad.as_bytes() })
            .map_err(|_| VaultError::BadKey { path: self.path(day) })?;
        Ok([nonce.to_vec(), ct].concat())
    }

    fn unwrap_key(&self, day: &str, bytes: &[u8]) -> Option<Key> {
        let (nonce, ct) = bytes.split_at_checked(NONCE_LEN)?;
        let aad = format!("cetak-day-key:{day}");
        let plain =
            XChaCha20Poly1305::new(&self.master).decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: aad.as_bytes() }).ok()?;
        (plain.len() == 32).then(|| *Key::from_slice(&plain))
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
                if bytes.len() == 32 {
                    // A key from before wrapping (or from the other master
                    // source): wrapped now, in place.
                    let key = *Key::from_slice(&bytes);
                    replace(&path, &self.wrap(day, &key)?)?;
                    return Ok(key);
                }
                self.unwrap_key(day, &bytes).ok_or(VaultError::Unwrap { path })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| VaultError::Random(e.to_string()))?;
                let key = *Key::from_slice(&key);
                // Linked into place whole: a second process making the
                // same day's key at the same moment gets this one.
                let tmp = path.with_extension(temp_suffix());
                write_new(&tmp, &self.wrap(day, &key)?)?;
                let linked = fs::hard_link(&tmp, &path);
                let _ = fs::remove_file(&tmp);
                match linked {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return self.load(day, false),
                    Err(source) => return Err(io(source)),
                }
                fs::File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io)?;
                Ok(key)
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

    /// Seals under `day`'s key, or, when that key file is damaged (it does
    /// not open with the master key), under a fresh key of the same day
    /// (`DAY.1`, `DAY.2`, ...): a damaged key loses the payloads it sealed,
    /// never the jobs that come after it. Returns the key's name and the
    /// sealed bytes; the damaged file stays until no payload names it.
    pub fn seal_today(&self, day: &str, job_id: &str, plain: &[u8]) -> Result<(String, Vec<u8>), VaultError> {
        let mut name = day.to_string();
        for n in 1..=9 {
            match self.seal(&name, job_id, plain) {
                Ok(sealed) => return Ok((name, sealed)),
                Err(e @ (VaultError::Unwrap { .. } | VaultError::BadKey { .. })) => {
                    tracing::error!(key = %name, error = %e, "a day key is damaged: new jobs are sealed under another key of the day");
                    name = format!("{day}.{n}");
                }
                Err(e) => return Err(e),
            }
        }
        self.seal(&name, job_id, plain).map(|sealed| (name, sealed))
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
            let len = fs::metadata(&path).map(|m| m.len() as usize).unwrap_or(0).max(32);
            let mut f = OpenOptions::new().write(true).open(&path).map_err(io)?;
            f.write_all(&vec![0u8; len]).map_err(io)?;
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

/// A master key: 32 raw bytes, or 64 hex digits (a trailing newline
/// allowed).
fn master_bytes(bytes: &[u8]) -> Option<Key> {
    match bytes.len() {
        32 => Some(*Key::from_slice(bytes)),
        _ => {
            let text = std::str::from_utf8(bytes).ok()?.trim();
            let raw = hex::decode(text).ok()?;
            (raw.len() == 32).then(|| *Key::from_slice(&raw))
        }
    }
}

fn read_or_make_secret(path: &Path) -> Result<Key, VaultError> {
    match fs::read(path) {
        Ok(bytes) => {
            let mode = fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
            if mode & 0o077 != 0 {
                return Err(VaultError::LooseMode { path: path.to_path_buf(), mode });
            }
            master_bytes(&bytes).ok_or(VaultError::BadMaster { path: path.to_path_buf() })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Written whole under another name, then linked into place: two
            // processes starting at once agree on one key (the second link
            // fails and that process reads the first one's key).
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| VaultError::Random(e.to_string()))?;
            let tmp = path.with_extension(temp_suffix());
            write_new(&tmp, &key)?;
            let linked = fs::hard_link(&tmp, path);
            let _ = fs::remove_file(&tmp);
            match linked {
                Ok(()) => Ok(*Key::from_slice(&key)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_or_make_secret(path),
                Err(source) => Err(VaultError::Io { path: path.to_path_buf(), source }),
            }
        }
        Err(source) => Err(VaultError::Io { path: path.to_path_buf(), source }),
    }
}

/// A temporary file's extension, unique to this call (threads of one
/// process included).
fn temp_suffix() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!("new.{}.{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// Writes a new file, mode 0600, synced.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let io = |source| VaultError::Io { path: path.to_path_buf(), source };
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Replaces a file's content atomically (a new file renamed over it).
fn replace(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let tmp = path.with_extension(temp_suffix());
    write_new(&tmp, bytes)?;
    fs::rename(&tmp, path).map_err(|source| VaultError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests;
