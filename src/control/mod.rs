//! The operator's socket (DESIGN §7): JSON lines over a Unix socket served
//! by the daemon. The caller's uid comes from the socket's peer
//! credentials, never from the environment, and is recorded with every
//! action that touches a blank or a job.
//!
//! With no daemon running (no socket, and the daemon lock free) the CLI
//! opens the journal itself and records the real uid the same way.
//!
//! One request a connection, a [`Request`] tagged by `op`: `resolve`,
//! `pause`, `resume`, `explain` (a blank unaccounted or a counter reset),
//! `receive`, `load`, `install`, `count` and `status`, for example
//! `{"op": "resolve", "job_id": "...", "printed": true}`; one reply:
//! `{"ok": true, "state": "..."}` or `{"ok": false, "error": "..."}`.
//! `status` (what `cetak status` shows) is rendered by [`status`].

use crate::journal::Actor;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

pub mod status;

use crate::journal::stock::{Receipt, StockError};
use crate::journal::{Journal, JournalError};

/// A request from the operator's CLI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Resolve {
        job_id: String,
        printed: bool,
    },
    Pause {
        printer: String,
    },
    Resume {
        printer: String,
    },
    /// Books a counter gap: `cards` unaccounted blanks (default: all the
    /// pause counted), or with `reset` a counter that went down.
    Explain {
        printer: String,
        #[serde(default)]
        cards: Option<u64>,
        #[serde(default)]
        reset: bool,
        /// What the reset set the counter to.
        #[serde(default)]
        reset_to: u64,
        reason: String,
    },
    /// Blanks into the office safe.
    Receive {
        blanko: u32,
        batch: String,
        version: String,
        serial_from: Option<String>,
        serial_to: Option<String>,
    },
    /// Blanks from the safe into a printer's hopper.
    Load {
        printer: String,
        blanko: u32,
    },
    /// A new ribbon or film (capacity in cards).
    Install {
        printer: String,
        item: String,
        capacity: u32,
        lot: Option<String>,
    },
    /// A physical count at a location; the difference is an adjustment.
    Count {
        location: String,
        item: String,
        counted: u32,
        reason: String,
    },
    /// The operator's view (`cetak status`), rendered by the daemon, which
    /// may read the journal when the operator may not.
    Status {
        lang: crate::messages::Lang,
        colour: bool,
    },
}

/// What the daemon's config says about operators' actions.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub spoil_retries: u32,
    /// Blank versions this station supports.
    pub blank_versions: Vec<String>,
    /// `cetak status` warns of consumables with fewer days left.
    pub warn_days: f64,
}

impl Policy {
    /// What `config` says (the defaults without one).
    pub fn of(config: Option<&crate::config::Config>) -> Self {
        let defaults = crate::config::Config::emulated(Path::new("."));
        let c = config.unwrap_or(&defaults);
        Self { spoil_retries: c.station.spoil_retries, blank_versions: c.stock.blank_versions.clone(), warn_days: c.stock.warn_days }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    /// The job's new state, or whether anything changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("operator socket {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the daemon holds {lock} but its socket {socket} does not answer: is it hung? (check 'systemctl status cetak')")]
    DaemonUnreachable { lock: PathBuf, socket: PathBuf },
    #[error("the daemon refused: {0}")]
    Refused(String),
    #[error("unreadable reply from the daemon: {0}")]
    BadReply(String),
    #[error(
        "the daemon on {socket} stopped answering once the request was sent ({reason}): it may or may not have been carried out; \
         check with 'cetak status' before asking again"
    )]
    NoAnswer { socket: PathBuf, reason: String },
    #[error("another cetak daemon already runs on {0}")]
    AlreadyRunning(PathBuf),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Stock(#[from] StockError),
}

fn lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join("daemon.lock")
}

/// The daemon's exclusive lock on its state folder, held while it runs.
pub struct DaemonLock {
    _file: File,
}

/// Takes the daemon lock, or says that a daemon holds it.
pub fn lock_daemon(state_dir: &Path) -> Result<DaemonLock, ControlError> {
    let path = lock_path(state_dir);
    let io = |source| ControlError::Io { path: path.clone(), source };
    std::fs::create_dir_all(state_dir).map_err(io)?;
    let file = File::options().create(true).truncate(false).write(true).open(&path).map_err(io)?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(DaemonLock { _file: file }),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(ControlError::AlreadyRunning(state_dir.to_path_buf())),
        Err(e) => Err(io(e.into())),
    }
}

/// The daemon's lock, waiting up to `grace` while someone else holds it:
/// an operator's command acting on the journal of a stopped daemon holds it
/// for a moment, and a service (re)started in that moment must not fail
/// (found by the crash matrix). A daemon that really runs still holds it
/// after the grace: `AlreadyRunning`.
pub fn lock_daemon_within(state_dir: &Path, grace: Duration) -> Result<DaemonLock, ControlError> {
    let since = std::time::Instant::now();
    loop {
        match lock_daemon(state_dir) {
            Err(ControlError::AlreadyRunning(_)) if since.elapsed() < grace => std::thread::sleep(Duration::from_millis(100)),
            other => return other,
        }
    }
}

/// Applies a request to the journal on behalf of the user `uid` (its
/// name looked up here, so the journal records who acted in words).
pub fn apply(journal: &mut Journal, req: &Request, uid: u32, policy: &Policy) -> Result<Reply, StockError> {
    let actor = &Actor::User { uid, name: crate::users::user_name(uid) };
    let state = match req {
        Request::Resolve { job_id, printed } => journal.resolve_uncertain(job_id, *printed, actor, policy.spoil_retries)?.to_string(),
        Request::Pause { printer } => {
            journal.pause(printer, "operator", serde_json::json!({"operator_uid": uid}))?;
            journal.record_action(actor, "pause", None, printer)?;
            "paused".into()
        }
        Request::Resume { printer } => (if journal.resume(printer, actor)? { "resumed" } else { "not_paused" }).into(),
        Request::Explain { printer, cards, reset: true, reset_to, reason } if cards.is_none() => {
            format!("left {}", journal.book_reset(printer, reason, *reset_to, actor)?)
        }
        Request::Explain { printer, cards, reason, .. } => format!("left {}", journal.book_unaccounted(printer, *cards, reason, actor)?),
        Request::Receive { blanko, batch, version, serial_from, serial_to } => {
            let r = Receipt {
                blanko: *blanko,
                batch: batch.clone(),
                version: version.clone(),
                serial_from: serial_from.clone(),
                serial_to: serial_to.clone(),
            };
            journal.receive(&r, &policy.blank_versions, actor)?;
            "received".into()
        }
        Request::Load { printer, blanko } => {
            journal.load(printer, *blanko, actor)?;
            "loaded".into()
        }
        Request::Install { printer, item, capacity, lot } => {
            journal.install(printer, item, *capacity, lot.as_deref(), actor)?;
            "installed".into()
        }
        Request::Count { location, item, counted, reason } => journal.count(location, item, *counted, reason, actor)?.to_string(),
        Request::Status { lang, colour } => status::render(journal, *lang, policy.warn_days, *colour)?,
    };
    Ok(Reply { ok: true, state: Some(state), error: None })
}

/// Serves the socket on a thread of its own until it is dropped: the
/// daemon drops it last, so an operator can still ask and act while the
/// last cards finish after a stop.
pub struct Server {
    path: PathBuf,
    thread: Option<std::thread::JoinHandle<()>>,
    stop: CancellationToken,
}

impl Server {
    /// Binds the socket (replacing a stale one: the caller holds the
    /// daemon lock, so no other daemon can be using it), readable and
    /// writable by its owner and `group` (the operators'). The policy is
    /// shared so a reloaded config reaches it.
    pub fn start(socket: &Path, state_dir: &Path, group: &str, policy: Arc<RwLock<Policy>>) -> Result<Self, ControlError> {
        let path = socket.to_path_buf();
        let io = |source| ControlError::Io { path: path.clone(), source };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).map_err(io)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660)).map_err(io)?;
        match crate::users::group(group) {
            Some(g) => {
                if let Err(e) = rustix::fs::chown(&path, None, Some(rustix::fs::Gid::from_raw(g.gid))) {
                    tracing::warn!(group, error = %e, "the operator's socket keeps the daemon's group: is the service in the operators' group?");
                }
            }
            None => tracing::info!(group, "no such group: the operator's socket keeps the daemon's group"),
        }
        listener.set_nonblocking(true).map_err(io)?;
        let mut journal = Journal::open(state_dir)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(io)?;
        let stop = CancellationToken::new();
        let token = stop.clone();
        let thread = std::thread::Builder::new()
            .name("control".into())
            .spawn(move || {
                runtime.block_on(async {
                    let listener = match tokio::net::UnixListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => return tracing::error!(error = %e, "the operator's socket is not served"),
                    };
                    loop {
                        let accepted = tokio::select! {
                            r = listener.accept() => r,
                            () = token.cancelled() => break,
                        };
                        // One request at a time, as before: each is short
                        // (a read timeout bounds a slow client).
                        match accepted.and_then(|(stream, _)| stream.into_std()) {
                            Ok(stream) => {
                                let policy = policy.read().map(|p| p.clone()).unwrap_or_else(|p| p.into_inner().clone());
                                if let Err(e) = serve_one(stream, &mut journal, &policy) {
                                    tracing::warn!(error = %e, "operator request failed");
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "operator socket accept failed");
                                tokio::select! {
                                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                                    () = token.cancelled() => break,
                                }
                            }
                        }
                    }
                });
            })
            .map_err(io)?;
        Ok(Self { path, thread: Some(thread), stop })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve_one(stream: UnixStream, journal: &mut Journal, policy: &Policy) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let uid = rustix::net::sockopt::socket_peercred(&stream).map_err(std::io::Error::from)?.uid.as_raw();
    let mut line = String::new();
    BufReader::new(&stream).take_line(&mut line)?;
    let reply = match serde_json::from_str::<Request>(&line) {
        Ok(req) => {
            if !matches!(req, Request::Status { .. }) {
                tracing::info!(uid, request = ?req, "operator request");
            }
            apply(journal, &req, uid, policy).unwrap_or_else(|e| Reply { ok: false, state: None, error: Some(e.to_string()) })
        }
        Err(e) => Reply { ok: false, state: None, error: Some(format!("bad request: {e}")) },
    };
    let mut out = serde_json::to_vec(&reply).map_err(std::io::Error::other)?;
    out.push(b'\n');
    (&stream).write_all(&out)
}

trait TakeLine {
    fn take_line(self, buf: &mut String) -> std::io::Result<usize>;
}

impl<R: BufRead> TakeLine for R {
    /// Reads one line of at most 64 KiB.
    fn take_line(self, buf: &mut String) -> std::io::Result<usize> {
        self.take(64 * 1024).read_line(buf)
    }
}

/// How long an operator's command waits for the socket of a daemon that
/// holds the lock: one starting up opens its journal and settles the card
/// in flight before it listens (found by the crash matrix, whose operator
/// answered an `uncertain` card in that moment).
const STARTING_GRACE: Duration = Duration::from_secs(10);

/// Sends a request to the daemon if one runs; otherwise applies it to the
/// journal directly as the calling user. Never both.
pub fn send_or_apply(state_dir: &Path, socket: &Path, req: &Request, policy: &Policy) -> Result<Reply, ControlError> {
    send_or_apply_within(state_dir, socket, req, policy, STARTING_GRACE)
}

fn send_or_apply_within(state_dir: &Path, socket: &Path, req: &Request, policy: &Policy, grace: Duration) -> Result<Reply, ControlError> {
    let since = std::time::Instant::now();
    loop {
        if let Ok(stream) = UnixStream::connect(socket) {
            return send(stream, socket, req);
        }
        // No daemon answers: act on the journal only if none holds it.
        match lock_daemon(state_dir) {
            Ok(_lock) => {
                let mut journal = Journal::open(state_dir)?;
                let uid = rustix::process::getuid().as_raw();
                return Ok(apply(&mut journal, req, uid, policy)?);
            }
            Err(ControlError::AlreadyRunning(_)) if since.elapsed() < grace => std::thread::sleep(Duration::from_millis(100)),
            Err(ControlError::AlreadyRunning(_)) => {
                return Err(ControlError::DaemonUnreachable { lock: lock_path(state_dir), socket: socket.to_path_buf() })
            }
            Err(other) => return Err(other),
        }
    }
}

/// One request over the daemon's socket, and its reply.
fn send(stream: UnixStream, socket: &Path, req: &Request) -> Result<Reply, ControlError> {
    let io = |source| ControlError::Io { path: socket.to_path_buf(), source };
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(io)?;
    let mut body = serde_json::to_vec(req).map_err(|e| io(std::io::Error::other(e)))?;
    body.push(b'\n');
    (&stream).write_all(&body).map_err(io)?;
    // From here the daemon may have acted: a lost answer says so (found by
    // the crash matrix, whose operator's daemon died mid-request).
    let no_answer = |reason: String| ControlError::NoAnswer { socket: socket.to_path_buf(), reason };
    let mut line = String::new();
    match BufReader::new(&stream).take_line(&mut line) {
        Ok(0) => return Err(no_answer("the connection closed".into())),
        Ok(_) => {}
        Err(e) => return Err(no_answer(e.to_string())),
    }
    let reply: Reply = serde_json::from_str(&line).map_err(|e| ControlError::BadReply(e.to_string()))?;
    if reply.ok {
        Ok(reply)
    } else {
        Err(ControlError::Refused(reply.error.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy { spoil_retries: 2, blank_versions: Vec::new(), warn_days: 7.0 }
    }

    fn pause() -> Request {
        Request::Pause { printer: "printer-1".into() }
    }

    #[test]
    fn the_lock_is_waited_for_while_a_command_holds_it_a_moment_and_refused_when_held_on() {
        let dir = tempfile::tempdir().expect("tmp");
        let command = lock_daemon(dir.path()).expect("lock");
        let held_on = lock_daemon_within(dir.path(), Duration::from_millis(300));
        assert!(matches!(held_on, Err(ControlError::AlreadyRunning(_))), "{:?}", held_on.err());
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(command);
        });
        assert!(lock_daemon_within(dir.path(), Duration::from_secs(10)).is_ok(), "the lock, once the command let it go");
        release.join().expect("thread");
    }

    #[test]
    fn a_daemon_that_dies_mid_request_is_reported_as_maybe_applied() {
        let dir = tempfile::tempdir().expect("tmp");
        let socket = dir.path().join("control.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        // The daemon reads the request, then is gone without a reply.
        let daemon = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).expect("request");
        });
        let r = send_or_apply_within(dir.path(), &socket, &pause(), &policy(), Duration::from_secs(1));
        daemon.join().expect("daemon");
        let e = r.expect_err("no answer");
        assert!(matches!(e, ControlError::NoAnswer { .. }), "{e:?}");
        assert!(e.to_string().contains("may or may not have been carried out"), "{e}");
    }

    #[test]
    fn a_daemon_that_holds_the_lock_and_never_listens_is_reported_unreachable() {
        let dir = tempfile::tempdir().expect("tmp");
        let _daemon = lock_daemon(dir.path()).expect("lock");
        let socket = dir.path().join("control.sock");
        let r = send_or_apply_within(dir.path(), &socket, &pause(), &policy(), Duration::from_millis(300));
        assert!(matches!(r, Err(ControlError::DaemonUnreachable { .. })), "{r:?}");
    }

    #[test]
    fn a_daemon_still_starting_is_waited_for_and_answers() {
        let dir = tempfile::tempdir().expect("tmp");
        let daemon = lock_daemon(dir.path()).expect("lock");
        let socket = dir.path().join("control.sock");
        let at = socket.clone();
        // The daemon opens its socket a moment after it took the lock.
        let server = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            let listener = std::os::unix::net::UnixListener::bind(&at).expect("bind");
            let (stream, _) = listener.accept().expect("accept");
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).expect("request");
            (&stream).write_all(b"{\"ok\":true,\"state\":\"paused\"}\n").expect("reply");
            drop(daemon);
            line
        });
        let r = send_or_apply_within(dir.path(), &socket, &pause(), &policy(), Duration::from_secs(10)).expect("answered");
        assert_eq!(r.state.as_deref(), Some("paused"));
        assert!(server.join().expect("server").contains("printer-1"));
    }
}
