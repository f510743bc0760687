//! The HTTP client of the `/v1` protocol (reqwest, rustls). One call, one
//! typed result; retrying is the caller's business, through
//! [`super::retry::RetryPolicy`].

use std::time::{Duration, Instant};

use cetak_model::wire::ErrorBody;
use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("district {url} unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    /// The district answered with an error: its code and sentence.
    #[error("district refused ({status} {code}): {message}")]
    Refused { status: u16, code: String, message: String, retry_after: Option<Duration> },
    #[error("district {url} answered something that is not /v1: {reason}")]
    Protocol { url: String, reason: String },
}

impl QueueError {
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            QueueError::Refused { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The token is no longer accepted: retrying will not help.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, QueueError::Refused { status: 401, .. })
    }
}

/// Makes rustls use one crypto provider (ring) in the whole process.
pub fn install_crypto() {
    // Err means a provider is already installed: fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// What the client trusts on `https`.
pub enum Trust<'a> {
    /// Only this CA (PEM): after enrolment.
    Ca(&'a str),
    /// A server presenting this pinned CA: the enrolment call.
    Pinned(&'a std::sync::Arc<super::tls::PinnedCa>),
    /// Nothing: only `http` works (a trial on one machine).
    Nothing,
}

impl Client {
    pub fn new(base: &str, token: Option<&str>, trust: Trust<'_>) -> Result<Self, QueueError> {
        install_crypto();
        let bad = |reason: String| QueueError::Unreachable { url: base.into(), reason };
        // An idle connection is given up before the district closes it (20 s
        // after its last answer, `cetak_serve::Limits::DISTRICT`), so a
        // request never starts on a socket the server is closing.
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(15))
            .user_agent(concat!("cetak/", env!("CARGO_PKG_VERSION")));
        let tls = match trust {
            Trust::Ca(pem) => Some(super::tls::trusting(pem).map_err(bad)?),
            Trust::Pinned(p) => Some(p.config().map_err(bad)?),
            Trust::Nothing => None,
        };
        if let Some(config) = tls {
            builder = builder.tls_backend_preconfigured(config);
        } else if base.starts_with("https:") {
            return Err(bad("https needs the district's CA: enrol with --ca-sha256".into()));
        }
        let http = builder.build().map_err(|e| bad(error_chain(&e)))?;
        Ok(Self { http, base: base.trim_end_matches('/').to_string(), token: token.map(str::to_string) })
    }

    /// POSTs `body` to `path` and reads the answer; returns it with the
    /// call's round-trip time (for the clock). `timeout` bounds the whole
    /// call, long poll included.
    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<(R, Duration), QueueError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.post(&url).json(body).timeout(timeout);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let started = Instant::now();
        let resp = req.send().await.map_err(|e| QueueError::Unreachable { url: url.clone(), reason: error_chain(&e) })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp.bytes().await.map_err(|e| QueueError::Unreachable { url: url.clone(), reason: error_chain(&e) })?;
        let rtt = started.elapsed();
        if !status.is_success() {
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(e) => (e.code, e.error),
                Err(_) => ("http".into(), status.canonical_reason().unwrap_or("error").to_string()),
            };
            return Err(QueueError::Refused { status: status.as_u16(), code, message, retry_after });
        }
        let value = serde_json::from_slice(&bytes).map_err(|e| QueueError::Protocol { url, reason: e.to_string() })?;
        Ok((value, rtt))
    }
}

/// An error with its causes, on one line (reqwest hides the useful part).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
