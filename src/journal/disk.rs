//! Telling a person why the journal cannot be written: a read-only
//! filesystem, a full disk, or a folder the service may not write. Decided
//! from the error codes on the way, then by asking the filesystem itself.

use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskProblem {
    ReadOnly,
    Full,
    NotPermitted,
}

impl DiskProblem {
    /// The catalog key of the message for a person.
    pub fn message_key(self) -> &'static str {
        match self {
            Self::ReadOnly => "journal.read_only",
            Self::Full => "journal.full",
            Self::NotPermitted => "journal.not_permitted",
        }
    }
}

fn from_errno(code: i32) -> Option<DiskProblem> {
    match rustix::io::Errno::from_raw_os_error(code) {
        rustix::io::Errno::ROFS => Some(DiskProblem::ReadOnly),
        rustix::io::Errno::NOSPC | rustix::io::Errno::DQUOT => Some(DiskProblem::Full),
        rustix::io::Errno::ACCESS | rustix::io::Errno::PERM => Some(DiskProblem::NotPermitted),
        _ => None,
    }
}

/// Walks an error's chain for a code that names the problem.
fn from_chain(err: &(dyn std::error::Error + 'static)) -> Option<DiskProblem> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(p) = io.raw_os_error().and_then(from_errno) {
                return Some(p);
            }
        }
        if let Some(rusqlite::Error::SqliteFailure(f, _)) = e.downcast_ref::<rusqlite::Error>() {
            // SQLite's "read-only database" also means a folder this user
            // may not write: the filesystem tells those apart.
            match f.code {
                rusqlite::ErrorCode::DiskFull => return Some(DiskProblem::Full),
                rusqlite::ErrorCode::PermissionDenied => return Some(DiskProblem::NotPermitted),
                _ => {}
            }
        }
        cur = e.source();
    }
    None
}

/// Asks the filesystem holding `dir` (or its nearest existing parent).
fn from_filesystem(dir: &Path) -> Option<DiskProblem> {
    let existing = dir.ancestors().find(|p| p.exists())?;
    let st = rustix::fs::statvfs(existing).ok()?;
    if st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
        return Some(DiskProblem::ReadOnly);
    }
    if st.f_bavail == 0 {
        return Some(DiskProblem::Full);
    }
    if rustix::fs::access(existing, rustix::fs::Access::WRITE_OK).is_err() {
        return Some(DiskProblem::NotPermitted);
    }
    None
}

/// Why writing the journal in `dir` failed with `err`, if it is the disk.
pub fn diagnose(dir: &Path, err: &(dyn std::error::Error + 'static)) -> Option<DiskProblem> {
    from_chain(err).or_else(|| from_filesystem(dir))
}
