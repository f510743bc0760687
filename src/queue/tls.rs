//! TLS towards the district (rustls, ring). Before enrolment nothing is
//! trusted but the CA fingerprint the officer gave: the enrolment call
//! accepts the server only if the chain it presents holds a certificate
//! with that SHA-256 and the server's certificate verifies against it.
//! After enrolment, that CA, stored in the journal, is the only root.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

/// The latest district time this process has seen (Unix seconds).
static DISTRICT_FLOOR_S: AtomicU64 = AtomicU64::new(0);

/// When this binary was built (build.rs).
const BUILT_S: &str = env!("CETAK_BUILD_UNIX");

/// Raises the earliest time certificates are checked at: the district's
/// time, journalled or just heard.
pub fn raise_time_floor(unix_s: i64) {
    DISTRICT_FLOOR_S.fetch_max(unix_s.max(0) as u64, Ordering::SeqCst);
}

/// The time a certificate is checked at: the latest of the system clock,
/// the build time and the district's last known time (DESIGN §9), so a PC
/// whose clock fell back to 2000 is not locked out of its district. An
/// expired certificate stays expired: the floor only ever moves time on.
pub fn check_time(system: UnixTime) -> UnixTime {
    let floor = DISTRICT_FLOOR_S.load(Ordering::SeqCst).max(BUILT_S.parse().unwrap_or(0));
    if cetak_failpoints::door_open("tls.time_floor") {
        return system;
    }
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(system.as_secs().max(floor)))
}

/// The district's CA as the only root, certificates checked at
/// [`check_time`].
#[derive(Debug)]
struct AtTimeFloor(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AtTimeFloor {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, check_time(now))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that trusts only `ca_pem`.
pub fn trusting(ca_pem: &str) -> Result<rustls::ClientConfig, String> {
    let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|e| format!("stored CA: {e}"))?;
    let mut roots = RootCertStore::empty();
    roots.add(ca).map_err(|e| format!("stored CA: {e}"))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider()).build().map_err(|e| e.to_string())?;
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AtTimeFloor(verifier)))
        .with_no_client_auth())
}

/// Accepts a server whose presented chain holds the CA with this
/// fingerprint, and whose certificate that CA signed; remembers the CA.
#[derive(Debug)]
pub struct PinnedCa {
    fingerprint: String,
    pub found: Mutex<Option<CertificateDer<'static>>>,
}

impl PinnedCa {
    pub fn new(fingerprint: &str) -> Self {
        Self { fingerprint: fingerprint.trim().replace(':', "").to_ascii_lowercase(), found: Mutex::new(None) }
    }

    /// A client configuration using this verifier.
    pub fn config(self: &Arc<Self>) -> Result<rustls::ClientConfig, String> {
        Ok(rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::clone(self) as Arc<dyn ServerCertVerifier>)
            .with_no_client_auth())
    }

    /// The CA found, PEM.
    pub fn ca_pem(&self) -> Option<String> {
        let der = self.found.lock().ok()?.clone()?;
        Some(to_pem(der.as_ref()))
    }
}

fn to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The message a fingerprint mismatch carries through reqwest's error.
pub const MISMATCH: &str = "the district's CA does not match the fingerprint given";

impl ServerCertVerifier for PinnedCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ca = intermediates
            .iter()
            .chain(std::iter::once(end_entity))
            .find(|c| hex::encode(Sha256::digest(c.as_ref())) == self.fingerprint)
            .ok_or_else(|| rustls::Error::General(MISMATCH.into()))?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned()).map_err(|e| rustls::Error::General(e.to_string()))?;
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let ok = verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp, check_time(now))?;
        if let Ok(mut found) = self.found.lock() {
            *found = Some(ca.clone().into_owned());
        }
        Ok(ok)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &provider().signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &provider().signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider().signature_verification_algorithms.supported_schemes()
    }
}
