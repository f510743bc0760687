//! Bounded HTTP serving, one for both of cetak's services: the district's
//! `/v1` and the agent's health endpoint.
//!
//! `axum::serve` runs hyper with no timer, so a client that sends half a
//! request line, or nothing after its handshake, held a connection and a
//! file descriptor for ever: a thousand such sockets took a district offline
//! for every station, eighty took an agent's day-key read down with them.
//! Here every connection is bounded:
//!
//! - a **handshake deadline** (TLS, or none for plain TCP);
//! - a **header-read deadline**, which hyper (1.6 and later) also runs while
//!   a keep-alive connection waits for its next request, so it is the idle
//!   timeout too;
//! - a **cap on open connections**, and a smaller one **per address**: past
//!   either a new connection is closed at once, before any handshake, so
//!   those in service keep their descriptors and their time, and one host
//!   that opens sockets by the thousand cannot crowd the others out
//!   (refusals are logged, at most once a minute, with their count). The
//!   per-address cap is far above what the stations of a kecamatan behind
//!   one NAT hold (two or three each).
//! - the cap never exceeds the process's **descriptor limit** less what it
//!   keeps for itself (its database, journal, keys and logs): a service
//!   started under a low `ulimit -n` serves fewer sockets but never runs out
//!   of descriptors for its own work. [`raise_descriptor_limit`] first lifts
//!   the soft limit to the hard one (systemd's soft default is 1,024).
//!
//! A request under way is not timed here: a long poll is its route's own
//! business. Each request carries the peer's address as axum's
//! [`ConnectInfo`], for limits per address.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// The bounds of one service's connections.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// From accept to a finished handshake.
    pub handshake: Duration,
    /// For a request's head to arrive, counted from when the connection
    /// starts waiting for it (after accept, and after each answer).
    pub header_read: Duration,
    /// Open connections at most, in handshake, idle or in a request.
    pub max_connections: usize,
    /// Open connections at most from one IP address.
    pub per_address: usize,
    /// File descriptors kept for the process's own work, below its limit.
    pub keep_free: u64,
}

impl Limits {
    /// A district's `/v1`: thousands of stations, each with a long poll and
    /// a reporter, and room for the odd burst.
    pub const DISTRICT: Limits = Limits {
        handshake: Duration::from_secs(10),
        header_read: Duration::from_secs(20),
        max_connections: 4096,
        per_address: 512,
        keep_free: 256,
    };

    /// An agent's health endpoint: a few scrapers and an IT person's curl.
    pub const HEALTH: Limits = Limits {
        handshake: Duration::from_secs(5),
        header_read: Duration::from_secs(10),
        max_connections: 64,
        per_address: 16,
        keep_free: 128,
    };

    /// The cap on open connections this process can afford: the configured
    /// one, or its descriptor limit less what it keeps free.
    pub fn effective_cap(&self) -> usize {
        let affordable = descriptor_limit().map(|n| n.saturating_sub(self.keep_free)).map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        self.max_connections.min(affordable.unwrap_or(usize::MAX)).max(1)
    }
}

/// Turns an accepted TCP stream into the stream HTTP is spoken on.
pub trait Handshake: Clone + Send + Sync + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn handshake(&self, tcp: TcpStream) -> impl Future<Output = std::io::Result<Self::Io>> + Send;
}

/// Plain HTTP: the stream as accepted.
#[derive(Clone, Copy, Debug)]
pub struct Plain;

impl Handshake for Plain {
    type Io = TcpStream;

    async fn handshake(&self, tcp: TcpStream) -> std::io::Result<TcpStream> {
        Ok(tcp)
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves;
/// then stops accepting, lets each request under way finish, and returns.
pub async fn serve<H: Handshake>(
    listener: TcpListener,
    handshake: H,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let cap = limits.effective_cap();
    if cap < limits.max_connections {
        tracing::warn!(cap, configured = limits.max_connections, "fewer connections than configured: the descriptor limit is low");
    }
    let places = Places::new(cap, limits.per_address);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut refused = Refusals::default();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors and the like: back off a moment
                    // rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(place) = places.take(peer.ip()) else {
            refused.note(cap);
            drop(tcp);
            continue;
        };
        let watcher = graceful.watcher();
        let (handshake, app) = (handshake.clone(), app.clone());
        tokio::spawn(async move {
            let _place = place;
            let Ok(Ok(io)) = tokio::time::timeout(limits.handshake, handshake.handshake(tcp)).await else { return };
            let app = app.map_request(move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read)
                .serve_connection(TokioIo::new(io), hyper_util::service::TowerToHyperService::new(app));
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The open connections, in all and by address.
#[derive(Clone)]
struct Places {
    all: Arc<tokio::sync::Semaphore>,
    by_address: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
    per_address: usize,
}

/// One connection's place; given back when dropped.
struct Place {
    _all: tokio::sync::OwnedSemaphorePermit,
    address: IpAddr,
    by_address: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
}

impl Places {
    fn new(cap: usize, per_address: usize) -> Self {
        Self { all: Arc::new(tokio::sync::Semaphore::new(cap)), by_address: Arc::default(), per_address }
    }

    /// A place for a connection from `address`, if there is one.
    fn take(&self, address: IpAddr) -> Option<Place> {
        let all = Arc::clone(&self.all).try_acquire_owned().ok()?;
        let mut open = self.by_address.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(address).or_default();
        if *n >= self.per_address {
            return None;
        }
        *n += 1;
        Some(Place { _all: all, address, by_address: Arc::clone(&self.by_address) })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = self.by_address.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// The process's soft limit on open files (`None`: no such limit here).
pub fn descriptor_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Lifts the soft limit on open files to the hard one (at most `want`), as
/// a service that holds a socket per client should; returns the limit now.
pub fn raise_descriptor_limit(want: u64) -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let now = getrlimit(Resource::Nofile);
        let target = now.maximum.map_or(want, |hard| hard.min(want));
        if now.current.is_some_and(|soft| soft < target) {
            if let Err(e) = setrlimit(Resource::Nofile, Rlimit { current: Some(target), maximum: now.maximum }) {
                tracing::warn!(error = %e, "could not raise the open-files limit");
            }
        }
    }
    descriptor_limit()
}

/// Connections refused at the cap, said at most once a minute.
#[derive(Default)]
struct Refusals {
    since_said: u64,
    said_at: Option<Instant>,
}

impl Refusals {
    fn note(&mut self, cap: usize) {
        self.since_said += 1;
        if self.said_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
            tracing::warn!(refused = self.since_said, cap, "connections refused: the cap on open connections is reached");
            self.since_said = 0;
            self.said_at = Some(Instant::now());
        }
    }
}

/// The peer's address of a request served here.
pub fn peer(extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(limits: Limits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(serve(listener, Plain, app, limits, async move {
            let _ = rx.await;
        }));
        (addr, tx)
    }

    async fn get(addr: SocketAddr) -> String {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out).await;
        out
    }

    /// Half a request line is cut off at the header-read deadline, and an
    /// idle keep-alive connection too.
    #[tokio::test]
    async fn a_half_sent_request_and_an_idle_connection_are_closed_at_the_deadline() {
        let limits = Limits { header_read: Duration::from_millis(300), ..Limits::HEALTH };
        let (addr, _stop) = start(limits).await;
        let mut half = TcpStream::connect(addr).await.expect("connect");
        half.write_all(b"GET / HT").await.expect("write");
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), half.read(&mut buf)).await.expect("closed in time").unwrap_or(0);
        assert!(n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408"), "closed: {:?}", &buf[..n]);

        let mut idle = TcpStream::connect(addr).await.expect("connect");
        idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut got)).await;
        assert!(read.is_ok(), "the keep-alive connection was closed once idle");
        assert!(String::from_utf8_lossy(&got).contains("200 OK"));
    }

    /// One address at its own cap is refused while another is served.
    #[tokio::test]
    async fn one_address_at_its_cap_does_not_crowd_out_another() {
        let (addr, _stop) = start(Limits { per_address: 2, ..Limits::HEALTH }).await;
        let mut held = Vec::new();
        for _ in 0..2 {
            let s = tokio::net::TcpSocket::new_v4().expect("socket");
            s.bind("127.0.0.2:0".parse().expect("addr")).expect("bind 127.0.0.2");
            held.push(s.connect(addr).await.expect("connect"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let s = tokio::net::TcpSocket::new_v4().expect("socket");
        s.bind("127.0.0.2:0".parse().expect("addr")).expect("bind");
        let mut third = s.connect(addr).await.expect("connect");
        let mut buf = [0u8; 8];
        let n = tokio::time::timeout(Duration::from_secs(2), third.read(&mut buf)).await.expect("refused at once").unwrap_or(0);
        assert_eq!(n, 0, "the third from one address is closed");
        assert!(get(addr).await.contains("200 OK"), "another address is served");
    }

    /// Past the cap a new connection is closed at once; once one in service
    /// goes, the next is served.
    #[tokio::test]
    async fn past_the_cap_a_connection_is_refused_and_those_in_service_keep_theirs() {
        let (addr, _stop) = start(Limits { max_connections: 2, per_address: 8, ..Limits::HEALTH }).await;
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(TcpStream::connect(addr).await.expect("connect"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(get(addr).await, "", "the third connection is refused");
        held.pop();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(get(addr).await.contains("200 OK"), "a freed place is served");
    }
}
