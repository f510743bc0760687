//! Hostile clients: sockets opened by the thousand and left idle or half
//! sent, against the district and against an agent's health endpoint,
//! while real stations print. Each service runs under a descriptor limit
//! it cannot lift (systemd's default soft limit for the district, a low one
//! for the agent); the attacker connects from another loopback address
//! (127.0.0.2), as a host that is not a station would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::envelopes::region_lines;
use crate::fleet::{judge_printed_once, Fleet};
use crate::support::fleet::{free_port, limited, raise_open_files, StationSetup};
use crate::support::{Daemon, ProcessRig};

/// What an attacking socket does once connected.
#[derive(Clone, Copy)]
enum Kind {
    /// Nothing at all.
    Silent,
    /// Half a request line, in clear.
    HalfRequest,
    /// A finished TLS handshake, then half a request line.
    HalfRequestTls,
}

/// One attacking socket, as the attacker holds it.
enum Held {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Held {
    fn tcp(&self) -> &TcpStream {
        match self {
            Held::Plain(s) => s,
            Held::Tls(s) => &s.sock,
        }
    }

    /// Whether the server has closed it (or said anything: it has nothing
    /// to answer an unfinished request with but a closing word).
    fn closed(&self) -> bool {
        let tcp = self.tcp();
        if tcp.set_nonblocking(true).is_err() {
            return true;
        }
        let mut b = [0u8; 1];
        let closed = !matches!(tcp.peek(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        let _ = tcp.set_nonblocking(false);
        closed
    }
}

/// Keeps up to `per_kind` sockets of each kind open against `target`,
/// opening again those the server closes, until dropped.
struct Attacker {
    stop: Arc<AtomicBool>,
    open: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Attacker {
    fn start(target: SocketAddr, kinds: &[Kind], per_kind: usize, tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        let (stop, open) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let threads = kinds
            .iter()
            .map(|&kind| {
                let (stop, open, tls) = (Arc::clone(&stop), Arc::clone(&open), tls.clone());
                std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                    let mut held: Vec<Option<Held>> = (0..per_kind).map(|_| None).collect();
                    while !stop.load(Ordering::SeqCst) {
                        let mut opened = 0;
                        for slot in held.iter_mut() {
                            if slot.as_ref().is_some_and(Held::closed) {
                                *slot = None;
                                open.fetch_sub(1, Ordering::SeqCst);
                            }
                            // A few new ones a round: refused sockets are
                            // tried again, not in a tight loop.
                            if slot.is_none() && opened < 100 {
                                opened += 1;
                                *slot = connect(&rt, target, kind, tls.as_ref());
                                if slot.is_some() {
                                    open.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                })
            })
            .collect();
        Self { stop, open, threads }
    }

    /// Waits until at least `n` sockets are open (or `limit` passes);
    /// returns how many are.
    fn wait_open(&self, n: usize, limit: Duration) -> usize {
        let until = Instant::now() + limit;
        while self.open.load(Ordering::SeqCst) < n && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(100));
        }
        self.open.load(Ordering::SeqCst)
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A socket from 127.0.0.2, in the state `kind` leaves it; `None` when the
/// server refused or dropped it.
fn connect(rt: &tokio::runtime::Runtime, target: SocketAddr, kind: Kind, tls: Option<&Arc<rustls::ClientConfig>>) -> Option<Held> {
    let socket = connect_from_another_address(rt, target)?;
    socket.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    socket.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    match kind {
        Kind::Silent => Some(Held::Plain(socket)),
        Kind::HalfRequest => {
            let mut s = socket;
            s.write_all(b"GET /status HT").ok()?;
            Some(Held::Plain(s))
        }
        Kind::HalfRequestTls => {
            let config = Arc::clone(tls?);
            let name = rustls::pki_types::ServerName::try_from("127.0.0.1").ok()?;
            let conn = rustls::ClientConnection::new(config, name).ok()?;
            let mut s = rustls::StreamOwned::new(conn, socket);
            while s.conn.is_handshaking() {
                s.conn.complete_io(&mut s.sock).ok()?;
            }
            s.write_all(b"POST /v1/poll HT").ok()?;
            s.flush().ok()?;
            Some(Held::Tls(Box::new(s)))
        }
    }
}

/// A TCP connection to `target` from 127.0.0.2 (std cannot bind before
/// connecting; tokio's socket can).
fn connect_from_another_address(rt: &tokio::runtime::Runtime, target: SocketAddr) -> Option<TcpStream> {
    let stream = rt.block_on(async {
        let s = tokio::net::TcpSocket::new_v4().ok()?;
        s.bind("127.0.0.2:0".parse().ok()?).ok()?;
        tokio::time::timeout(Duration::from_secs(2), s.connect(target)).await.ok()?.ok()
    })?;
    let std = stream.into_std().ok()?;
    std.set_nonblocking(false).ok()?;
    Some(std)
}

/// How long a fresh connection's `GET path` takes to answer, from
/// 127.0.0.1; `None`: no answer within 10 s.
fn answered_in(get: impl Fn() -> bool) -> Option<Duration> {
    let t = Instant::now();
    get().then(|| t.elapsed())
}

#[test]
fn two_thousand_idle_and_half_sent_sockets_leave_the_district_answering_its_stations() {
    assert!(raise_open_files(8192) >= 4096, "the test needs room for its own sockets");
    // As under systemd with no LimitNOFILE: 1,024 descriptors, not raised.
    let f = Fleet::start_limited(&[], Some(1024));
    let lines: Vec<String> = region_lines("17.71.01.1001").into_iter().take(12).collect();
    f.import("jobs.jsonl", &lines);
    let mut st = f.station(StationSetup { name: "kel-a", regions: &["17.71.01.1001"], time_scale: 0.05, ..Default::default() });

    let addr: SocketAddr = f.district.addr().parse().expect("addr");
    cetak::queue::client::install_crypto();
    let tls = Arc::new(cetak::queue::tls::trusting(&f.district.ca_pem()).expect("tls config"));
    let attacker = Attacker::start(addr, &[Kind::Silent, Kind::HalfRequestTls], 1000, Some(tls));
    let held = attacker.wait_open(400, Duration::from_secs(30));
    st.start();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let url = format!("{}/v1/openapi.json", f.district.url());
    let probe = || {
        // A new client each time: a new connection, as a station's first.
        let client = f.district.http();
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), client.get(&url).send()).await })
            .is_ok_and(|r| r.is_ok_and(|r| r.status().is_success()))
    };
    let mut slowest = Duration::ZERO;
    let until = Instant::now() + Duration::from_secs(90);
    while f.db.done() < lines.len() {
        assert!(Instant::now() < until, "the station's jobs are not done: {:?}\n{}", f.db.jobs(), st.log_tail());
        let took = answered_in(probe).unwrap_or_else(|| panic!("no answer to a genuine request (attacker holds {held})"));
        slowest = slowest.max(took);
        std::thread::sleep(Duration::from_millis(250));
    }
    // The attack went on throughout: the deadlines cut sockets and the
    // attacker opened them again.
    let still = attacker.open.load(Ordering::SeqCst);
    drop(attacker);
    st.stop();
    eprintln!("district: the attack held {held} sockets at its start, {still} at its end; the slowest genuine request took {slowest:?}");
    assert!(slowest < Duration::from_secs(2), "a genuine request took {slowest:?}");
    assert_eq!(judge_printed_once(&[&st], &lines).len(), lines.len());
    assert!(held >= 400 && still >= 1, "the attack held {held} sockets at its start, {still} at its end");
    let log = std::fs::read_to_string(&f.district.log).unwrap_or_default();
    assert!(log.contains("connections refused"), "refusals are logged");
}

#[test]
fn five_hundred_idle_sockets_on_the_health_endpoint_leave_the_agent_printing_and_answering() {
    assert!(raise_open_files(4096) >= 1024, "the test needs room for its own sockets");
    let port = free_port();
    let rig = ProcessRig::with_printer(20, &format!("kind = \"emulator\"\ntime_scale = 0.02\n[health]\nlisten = \"127.0.0.1:{port}\"\n"));
    let mut cmd = limited(env!("CARGO_BIN_EXE_cetak"), Some(256));
    cmd.env_remove("CETAK_FAILPOINT").env_remove("RUST_LOG").arg("--config").arg(&rig.config).arg("run");
    let mut daemon = Daemon::spawn(cmd);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    crate::support::fleet::wait_until(Duration::from_secs(20), "the health endpoint listens", || TcpStream::connect(addr).is_ok());
    let attacker = Attacker::start(addr, &[Kind::Silent, Kind::HalfRequest], 250, None);
    let held = attacker.wait_open(16, Duration::from_secs(10));
    assert!(held >= 16, "the attack holds {held} sockets");

    let healthz = || {
        let Ok(mut s) = TcpStream::connect(addr) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.starts_with("HTTP/1.1 200")
    };
    let printed = || rig.journal().attempts().map(|a| a.iter().filter(|a| a.outcome.as_deref() == Some("printed")).count()).unwrap_or(0);
    let mut slowest = Duration::ZERO;
    let until = Instant::now() + Duration::from_secs(90);
    while printed() < 20 {
        assert!(daemon.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none()), "the agent ended under the attack");
        assert!(Instant::now() < until, "the agent did not print its jobs: {} printed", printed());
        let took = answered_in(healthz).unwrap_or_else(|| panic!("no answer from /healthz"));
        slowest = slowest.max(took);
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(attacker);
    eprintln!("agent: the attack held {held} sockets; the slowest /healthz took {slowest:?}");
    assert!(slowest < Duration::from_secs(2), "/healthz took {slowest:?}");

    // A flood of /status from another address is throttled there (429 with
    // Retry-After); the monitor's /healthz from its own address is not.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let answers: Vec<String> = (0..200)
        .map(|_| {
            let Some(mut s) = connect_from_another_address(&rt, addr) else { return String::new() };
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            out
        })
        .collect();
    let throttled = answers.iter().filter(|a| a.starts_with("HTTP/1.1 429") && a.to_ascii_lowercase().contains("retry-after: ")).count();
    let served = answers.iter().filter(|a| a.starts_with("HTTP/1.1 200")).count();
    eprintln!("agent: a flood of 200 /status from 127.0.0.2: {served} served, {throttled} throttled");
    assert!(throttled >= 100 && served >= 40, "{served} served, {throttled} throttled of 200");
    assert!(healthz(), "the monitor's own address is not throttled");
    let status = daemon.terminate();
    assert!(status.success(), "the agent stopped with {status}");
    crate::support::assert_no_card_printed_twice(&rig.device());
}

/// An HTTP client that trusts `district`'s CA, connecting from `from`.
fn client_from(district: &crate::support::fleet::DistrictProcess, from: &str) -> reqwest::Client {
    cetak::queue::client::install_crypto();
    let config = cetak::queue::tls::trusting(&district.ca_pem()).expect("tls config");
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .local_address(from.parse::<std::net::IpAddr>().expect("address"))
        .build()
        .expect("client")
}

/// (status, Retry-After) of `n` POSTs of `body` to `path`.
fn flood(client: &reqwest::Client, url: &str, token: Option<&str>, body: &serde_json::Value, n: usize) -> Vec<(u16, Option<String>)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let mut req = client.post(url).json(body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.expect("answered");
            let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            out.push((r.status().as_u16(), retry));
        }
        out
    })
}

fn tally(answers: &[(u16, Option<String>)], status: u16) -> usize {
    answers.iter().filter(|(s, _)| *s == status).count()
}

/// Guessed enrolment codes and tokens from one address are throttled there
/// (429 with Retry-After), while a genuine enrolment from another address
/// goes through; one station flooding its reports is throttled without
/// touching another station.
#[test]
fn guessing_and_flooding_are_throttled_at_their_source_and_nowhere_else() {
    let f = Fleet::start();
    let base = f.district.url();
    let attacker = client_from(&f.district, "127.0.0.2");

    let codes = flood(&attacker, &format!("{base}/v1/enroll"), None, &serde_json::json!({"code": "AAAAAAAAAAAA"}), 200);
    assert!(tally(&codes, 401) <= 10 && tally(&codes, 429) >= 190, "bad codes: {} 401, {} 429", tally(&codes, 401), tally(&codes, 429));
    assert!(codes.iter().filter(|(s, _)| *s == 429).all(|(_, r)| r.as_deref().is_some_and(|r| r.parse::<u64>().is_ok_and(|s| s >= 1))));
    let tokens = flood(&attacker, &format!("{base}/v1/heartbeat"), Some("not-a-token"), &serde_json::json!({}), 120);
    assert!(tally(&tokens, 429) >= 50, "guessed tokens: {} 401, {} 429", tally(&tokens, 401), tally(&tokens, 429));

    // The office enrols from its own address meanwhile, and prints.
    let lines: Vec<String> = region_lines("17.71.01.1001").into_iter().take(2).collect();
    f.import("jobs.jsonl", &lines);
    let mut a = f.station(StationSetup { name: "kel-a", regions: &["17.71.01.1001"], ..Default::default() });
    let b = f.station(StationSetup { name: "kel-b", regions: &["17.71.01.1001"], ..Default::default() });

    // kel-b's token floods /v1/events: throttled; kel-a prints on.
    let token_b = b.journal().enrolment().expect("enrolment").expect("enrolled").token;
    let events = serde_json::json!({"events": [{"id": 1, "body": {"event": "x"}}]});
    a.start();
    let flooded = flood(&attacker, &format!("{base}/v1/events"), Some(&token_b), &events, 400);
    assert!(tally(&flooded, 429) >= 100, "a station's flood: {} 200, {} 429", tally(&flooded, 200), tally(&flooded, 429));
    f.wait_done(2, Duration::from_secs(30), "kel-a prints while kel-b's token floods", &[&a]);
    a.stop();
    eprintln!(
        "throttled: bad codes {} of 200, guessed tokens {} of 120, a station's flood {} of 400",
        tally(&codes, 429),
        tally(&tokens, 429),
        tally(&flooded, 429)
    );
}

/// One station's flood of words stops at its quota and nothing past it is
/// stored, while another station prints and is heard; a finished job's
/// extra results are duplicates, stored once; a chain-alarm report sent
/// again and again is kept once, as the alarm's evidence.
#[test]
fn one_station_s_flood_stops_at_its_quota_and_the_others_are_untouched() {
    let f = Fleet::start_with(&["--events-per-station", "300", "--stock-events-per-station", "3"]);
    let base = f.district.url();
    let lines: Vec<String> = region_lines("17.71.01.1001").into_iter().take(2).collect();
    f.import("jobs.jsonl", &lines);
    let mut a = f.station(StationSetup { name: "kel-a", regions: &["17.71.01.1001"], ..Default::default() });
    let b = f.station(StationSetup { name: "kel-b", regions: &["17.71.02.1002"], ..Default::default() });
    let token_b = b.journal().enrolment().expect("enrolment").expect("enrolled").token;
    let http = client_from(&f.district, "127.0.0.2");
    let post = |path: &str, token: &str, body: serde_json::Value| flood(&http, &format!("{base}{path}"), Some(token), &body, 1)[0].0;

    // Events: a hundred new ones a request, until the quota (300).
    let answers: Vec<u16> = (0..6)
        .map(|r| {
            let events: Vec<serde_json::Value> =
                (0..100).map(|i| serde_json::json!({"id": r * 100 + i, "body": {"event": "noise", "n": i}})).collect();
            post("/v1/events", &token_b, serde_json::json!({ "events": events }))
        })
        .collect();
    assert_eq!(answers, [200, 200, 200, 429, 429, 429], "stopped at the quota");
    let count_b = || f.db.count("SELECT count(*) FROM station_events WHERE station = 'kel-b'");
    assert_eq!(count_b(), 300);
    let big = serde_json::json!({"events": [{"id": 9999, "body": {"pad": "x".repeat(10_000)}}]});
    assert_eq!(post("/v1/events", &token_b, big), 400, "an event of 10 kB");
    let many: Vec<serde_json::Value> = (0..600).map(|i| serde_json::json!({"id": 10_000 + i, "body": {}})).collect();
    assert_eq!(post("/v1/events", &token_b, serde_json::json!({ "events": many })), 400, "600 items in one request");
    assert_eq!(count_b(), 300, "nothing past the quota stored");

    // A stock report whose chain does not grow from the district's head,
    // twenty times: one alarm, its evidence kept once.
    let bogus = serde_json::json!({"head": "h", "events": [{"at": 0, "kind": "blank_used", "location": "hopper:p", "item": "blanko",
        "quantity": -1, "detail": "{}", "prev_hash": "not-the-head", "hash": "h"}]});
    for _ in 0..20 {
        assert_eq!(post("/v1/stock", &token_b, bogus.clone()), 200);
    }
    assert_eq!(f.db.count("SELECT count(*) FROM stock_alarms WHERE station = 'kel-b' AND evidence IS NOT NULL"), 1);
    // Thirty different ones: the alarms stop at the station's cap (20),
    // each kept with its evidence.
    for n in 0..30 {
        let mut other = bogus.clone();
        other["events"][0]["hash"] = serde_json::json!(format!("h{n}"));
        assert_eq!(post("/v1/stock", &token_b, other), 200);
    }
    assert_eq!(f.db.count("SELECT count(*) FROM stock_alarms WHERE station = 'kel-b'"), 20, "alarms held at the cap");

    // A chain that hashes, past the stock quota (3 events): two are taken,
    // the next two refused whole, nothing of them stored.
    let chain = |from: &str, n: i64| -> Vec<cetak_model::ledger::LedgerEvent> {
        let mut prev = from.to_string();
        (0..n)
            .map(|i| {
                let detail = format!("{{\"n\":{i}}}");
                let hash = cetak_model::ledger::event_hash(&prev, i, "received", "safe", "blanko", 1, None, None, &detail);
                let e = cetak_model::ledger::LedgerEvent {
                    at: i,
                    kind: "received".into(),
                    location: "safe".into(),
                    item: "blanko".into(),
                    quantity: 1,
                    job_id: None,
                    attempt: None,
                    detail,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    };
    let first = chain(cetak_model::ledger::ZERO_HASH, 4);
    let report =
        |events: &[cetak_model::ledger::LedgerEvent]| serde_json::json!({"head": events.last().map(|e| e.hash.clone()), "events": events});
    assert_eq!(post("/v1/stock", &token_b, report(&first[..2])), 200);
    assert_eq!(post("/v1/stock", &token_b, report(&first[2..])), 429, "past the stock quota");
    assert_eq!(f.db.count("SELECT count(*) FROM stock_events WHERE station = 'kel-b'"), 2, "nothing past the stock quota");

    // The other station prints, and its words are taken. It is past the
    // stock quota too (its ledger has more than 3 events): its stock waits
    // in its journal, and its results still go.
    a.start();
    f.wait_done(2, Duration::from_secs(30), "kel-a prints", &[&a]);
    assert_eq!(f.db.count("SELECT count(*) FROM stock_events WHERE station = 'kel-a'"), 0, "kel-a's stock: past its quota");
    crate::support::fleet::wait_until(Duration::from_secs(20), "kel-a's event taken", || {
        f.db.count("SELECT count(*) FROM station_events WHERE station = 'kel-a'") >= 1
    });
    a.stop();

    // Extra results for kel-a's finished job, fifty attempt numbers: each
    // a duplicate, the job's results stored once.
    let journal = a.journal();
    let job = journal.attempts().expect("attempts").into_iter().find(|x| x.outcome.as_deref() == Some("printed")).expect("a card").job_id;
    let epoch = journal.epoch_of(&job).expect("epoch").expect("an epoch");
    let token_a = journal.enrolment().expect("enrolment").expect("enrolled").token;
    let results: Vec<serde_json::Value> =
        (2..52).map(|n| serde_json::json!({"job_id": job, "epoch": epoch, "attempt": n, "outcome": "printed"})).collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let answer: serde_json::Value = rt.block_on(async {
        let r = http.post(format!("{base}/v1/results")).bearer_auth(&token_a).json(&serde_json::json!({ "results": results })).send().await;
        r.expect("answered").json().await.expect("json")
    });
    let items = answer["items"].as_array().expect("items");
    assert!(items.len() == 50 && items.iter().all(|i| i == "duplicate"), "{answer}");
    let stored = f.db.results().iter().filter(|r| r.0 == job).count();
    assert_eq!(stored, 1, "the finished job's results: stored once");
}
