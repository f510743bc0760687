//! TLS for `cetak-district serve` (DESIGN §5): the district's own CA and a
//! server certificate it signed, kept in a folder and created on first
//! start (rcgen); rustls with ring, the workspace's one crypto provider.
//!
//! Stations trust nothing until the CA's SHA-256 fingerprint, read to them
//! by the officer with the enrolment code, matches the CA the server
//! presents: so the server sends its chain with the CA in it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::DistrictError;

/// The files of a TLS folder.
#[derive(Clone, Debug)]
pub struct TlsDir {
    pub dir: PathBuf,
}

fn tls_err(what: &str, e: impl std::fmt::Display) -> DistrictError {
    DistrictError::Tls { what: what.to_string(), reason: e.to_string() }
}

/// Makes rustls use ring in the whole process (one provider).
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn write_private(path: &Path, text: &str) -> Result<(), DistrictError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| tls_err(&path.display().to_string(), e))?;
    f.write_all(text.as_bytes()).map_err(|e| tls_err(&path.display().to_string(), e))
}

impl TlsDir {
    /// Opens the folder, creating the CA and a server certificate for
    /// `names` (host names or IP addresses) if it holds none yet.
    pub fn ensure(dir: &Path, names: &[String]) -> Result<Self, DistrictError> {
        let me = Self { dir: dir.to_path_buf() };
        if me.ca_path().exists() && me.chain_path().exists() && me.key_path().exists() {
            return Ok(me);
        }
        std::fs::create_dir_all(dir).map_err(|e| tls_err(&dir.display().to_string(), e))?;
        let gen = |e: rcgen::Error| tls_err("making certificates", e);
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(gen)?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "cetak district CA");
        ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        // Valid from a day ago (clocks differ a little), the CA for 20
        // years, the server's certificate for 5: not rcgen's 1975-4096.
        let now = time::OffsetDateTime::now_utc();
        ca_params.not_before = now - time::Duration::days(1);
        ca_params.not_after = now + time::Duration::days(20 * 365);
        let ca_key = rcgen::KeyPair::generate().map_err(gen)?;
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(gen)?;
        let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(gen)?;
        params.distinguished_name.push(rcgen::DnType::CommonName, names.first().map(String::as_str).unwrap_or("cetak-district"));
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(5 * 365);
        let key = rcgen::KeyPair::generate().map_err(gen)?;
        let cert = params.signed_by(&key, &ca).map_err(gen)?;
        write_private(&me.dir.join("ca.key"), &ca.key().serialize_pem())?;
        write_private(&me.key_path(), &key.serialize_pem())?;
        std::fs::write(me.chain_path(), format!("{}{}", cert.pem(), ca.pem())).map_err(|e| tls_err("server.pem", e))?;
        std::fs::write(me.ca_path(), ca.pem()).map_err(|e| tls_err("ca.pem", e))?;
        tracing::info!(dir = %dir.display(), names = ?names, "created the district's CA and server certificate");
        Ok(me)
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    fn chain_path(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    fn key_path(&self) -> PathBuf {
        self.dir.join("server.key")
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> Result<String, DistrictError> {
        std::fs::read_to_string(self.ca_path()).map_err(|e| tls_err("ca.pem", e))
    }

    /// The acceptor serving the chain (server certificate, then the CA).
    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, DistrictError> {
        install_crypto();
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(self.chain_path())
            .map_err(|e| tls_err("server.pem", e))?
            .collect::<Result<_, _>>()
            .map_err(|e| tls_err("server.pem", e))?;
        let key = PrivateKeyDer::from_pem_file(self.key_path()).map_err(|e| tls_err("server.key", e))?;
        let config =
            rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(chain, key).map_err(|e| tls_err("config", e))?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// SHA-256 of a PEM certificate's DER, lowercase hex: what `enroll-code`
/// prints and `cetak enroll --ca-sha256` checks.
pub fn fingerprint(pem: &str) -> Result<String, DistrictError> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| tls_err("CA certificate", e))?;
    Ok(hex::encode(Sha256::digest(der.as_ref())))
}

/// TLS for `cetak_serve`: the handshake, under its deadline there.
#[derive(Clone)]
pub struct TlsHandshake(pub tokio_rustls::TlsAcceptor);

impl cetak_serve::Handshake for TlsHandshake {
    type Io = TlsStream<TcpStream>;

    async fn handshake(&self, tcp: TcpStream) -> std::io::Result<Self::Io> {
        self.0.accept(tcp).await
    }
}
