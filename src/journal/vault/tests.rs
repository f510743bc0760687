//! The vault's own tests: wrapping, concurrent openers, old keys, binding
//! to the job id, and key file modes.

use super::*;

#[test]
fn day_keys_are_stored_wrapped_and_need_their_master() -> Result<(), VaultError> {
    let dir = tempfile::tempdir().map_err(|source| VaultError::Io { path: "tmp".into(), source })?;
    let creds = tempfile::tempdir().map_err(|source| VaultError::Io { path: "tmp".into(), source })?;
    let io = |source| VaultError::Io { path: "creds".into(), source };
    fs::write(creds.path().join(CREDENTIAL), [5u8; 32]).map_err(io)?;
    let v = Vault::open_with(dir.path(), Master::Credential(creds.path().to_path_buf()))?;
    let sealed = v.seal("2026-11-24", "job-1", b"secret")?;
    let stored = fs::read(dir.path().join("2026-11-24.key")).map_err(io)?;
    assert_eq!(stored.len(), NONCE_LEN + 32 + 16, "wrapped, not the raw key");
    assert!(!dir.path().join("master.secret").exists(), "no key file beside a credential");
    // Outside the service (no credential) the keys are not opened, and
    // no second master key is made.
    assert!(matches!(Vault::open_with(dir.path(), Master::File), Err(VaultError::NoCredential { .. })));
    assert!(!dir.path().join("master.secret").exists());
    // Another master key opens nothing.
    fs::write(creds.path().join(CREDENTIAL), [6u8; 32]).map_err(io)?;
    let other = Vault::open_with(dir.path(), Master::Credential(creds.path().to_path_buf()))?;
    let refused = other.open_sealed("2026-11-24", "job-1", &sealed);
    assert!(matches!(refused, Err(VaultError::Unwrap { .. })), "{refused:?}");
    let said = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(said.contains("master key") && !said.contains("32 bytes"), "{said}");
    Ok(())
}

#[test]
fn keys_made_at_the_same_moment_by_many_openers_agree() -> Result<(), VaultError> {
    let dir = tempfile::tempdir().map_err(|source| VaultError::Io { path: "tmp".into(), source })?;
    let sealed: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let d = dir.path();
                s.spawn(move || Vault::open_with(d, Master::File).and_then(|v| v.seal("2026-11-24", &format!("j{i}"), b"x")))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect::<Result<Vec<_>, _>>()
    })?;
    let v = Vault::open_with(dir.path(), Master::File)?;
    for (i, s) in sealed.iter().enumerate() {
        assert_eq!(v.open_sealed("2026-11-24", &format!("j{i}"), s)?, b"x", "opener {i}");
    }
    Ok(())
}

#[test]
fn a_key_from_before_wrapping_is_wrapped_when_read() -> Result<(), VaultError> {
    let dir = tempfile::tempdir().map_err(|source| VaultError::Io { path: "tmp".into(), source })?;
    let io = |source| VaultError::Io { path: "tmp".into(), source };
    let v = Vault::open_with(dir.path(), Master::File)?;
    let day = dir.path().join("2026-11-20.key");
    write_new(&day, &[9u8; 32])?;
    let cipher = XChaCha20Poly1305::new(Key::from_slice(&[9u8; 32]));
    let nonce = [1u8; NONCE_LEN];
    let ct = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: b"old".as_slice(), aad: b"j" })
        .map_err(|_| VaultError::Tampered { job_id: "j".into() })?;
    assert_eq!(v.open_sealed("2026-11-20", "j", &[nonce.to_vec(), ct].concat())?, b"old");
    assert_eq!(fs::read(&day).map_err(io)?.len(), NONCE_LEN + 48, "wrapped in place");
    let mode = fs::metadata(dir.path().join("master.secret")).map_err(io)?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    Ok(())
}

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
