//! The `/v1` protocol as a station's token sees it, against the real
//! service on a real PostgreSQL: enrolment codes, bearer tokens, region
//! scoping, other stations' assignments, the OpenAPI document, and the end
//! of local mode at enrolment.

use std::time::Duration;

use cetak::queue::{Client, QueueError, Trust};
use cetak_district::pgtemp::TempCluster;
use cetak_model::wire::*;

use crate::envelopes::region_lines;
use crate::support::fleet::{DistrictProcess, StationProcess, StationSetup};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio")
}

const T: Duration = Duration::from_secs(10);

fn enrol(rt: &tokio::runtime::Runtime, d: &DistrictProcess, code: &str) -> Result<EnrollResponse, QueueError> {
    let pem = d.ca_pem();
    let c = Client::new(&d.url(), None, Trust::Ca(&pem))?;
    rt.block_on(c.post::<_, EnrollResponse>("/v1/enroll", &EnrollRequest { code: code.into() }, T)).map(|r| r.0)
}

fn poll(rt: &tokio::runtime::Runtime, d: &DistrictProcess, token: &str, max_jobs: u32) -> Result<PollResponse, QueueError> {
    let pem = d.ca_pem();
    let c = Client::new(&d.url(), Some(token), Trust::Ca(&pem))?;
    rt.block_on(c.post::<_, PollResponse>("/v1/poll", &PollRequest { max_jobs, ..Default::default() }, T)).map(|r| r.0)
}

#[test]
fn a_token_sees_only_its_regions_and_touches_only_its_assignments() {
    let cluster = TempCluster::start().expect("PostgreSQL");
    let tmp = tempfile::tempdir().expect("tmp");
    let d = DistrictProcess::start(&cluster.url(), tmp.path());
    let rt = rt();
    let mut lines: Vec<String> = region_lines("17.71.01.1001").into_iter().take(3).collect();
    lines.extend(region_lines("17.71.02.1002").into_iter().take(3));
    let f = tmp.path().join("jobs.jsonl");
    std::fs::write(&f, lines.join("\n")).expect("write");
    d.cli(&["import", f.to_str().expect("path"), "--regency", "17.71"]);

    let first_line = |out: String| out.lines().next().expect("code").trim().to_string();
    let code_x = first_line(d.cli(&["enroll-code", "--station", "kel-x", "--wilayah", "17.71.01.1001"]));
    let code_y = first_line(d.cli(&["enroll-code", "--station", "kel-y", "--wilayah", "17.71.02.1002"]));
    let x = enrol(&rt, &d, &code_x).expect("enrol x");
    assert_eq!((x.station.as_str(), x.regions.as_slice()), ("kel-x", ["17.71.01.1001".to_string()].as_slice()));
    assert_eq!(x.keys.len(), 1, "the district's signing key comes with enrolment");
    // A code is used once.
    assert!(matches!(enrol(&rt, &d, &code_x), Err(QueueError::Refused { status: 401, .. })));
    let y = enrol(&rt, &d, &code_y).expect("enrol y");

    // Each token sees its own region's jobs, none of the other's.
    let px = poll(&rt, &d, &x.token, 10).expect("poll x");
    let py = poll(&rt, &d, &y.token, 10).expect("poll y");
    assert_eq!(px.jobs.len(), 3);
    assert!(
        px.jobs.iter().all(|j| j.envelope.kode_wilayah == "17.71.01.1001"),
        "{:?}",
        px.jobs.iter().map(|j| &j.job_id).collect::<Vec<_>>()
    );
    assert!(py.jobs.iter().all(|j| j.envelope.kode_wilayah == "17.71.02.1002"));
    assert!(px.time_ms > 0, "every answer carries the district's time");

    // Y cannot report on X's assignment: refused, nothing stored.
    let theirs = &px.jobs[0];
    let forged = ResultsRequest {
        results: vec![JobResult { job_id: theirs.job_id.clone(), epoch: theirs.epoch, attempt: 1, outcome: Outcome::Printed, code: None }],
    };
    let cy = Client::new(&d.url(), Some(&y.token), Trust::Ca(&d.ca_pem())).expect("client");
    // (Answered item by item: `not_yours`, and the rest of a batch is taken.)
    let r = rt.block_on(cy.post::<_, ResultsResponse>("/v1/results", &forged, T)).expect("answered").0;
    assert_eq!(r.items, [ResultStatus::NotYours], "{r:?}");
    // X can, once; the same result again is a duplicate, still stored once.
    let cx = Client::new(&d.url(), Some(&x.token), Trust::Ca(&d.ca_pem())).expect("client");
    let first = rt.block_on(cx.post::<_, ResultsResponse>("/v1/results", &forged, T)).expect("x reports").0;
    let again = rt.block_on(cx.post::<_, ResultsResponse>("/v1/results", &forged, T)).expect("x repeats").0;
    assert_eq!((first.items[0], again.items[0]), (ResultStatus::Applied, ResultStatus::Duplicate));

    // A malformed body is a 400 with a code, not a crash or plain text.
    let bad = rt
        .block_on(
            d.http()
                .post(format!("{}/v1/poll", d.url()))
                .bearer_auth(&x.token)
                .body("{\"max_jobs\": \"many\"}")
                .header("content-type", "application/json")
                .send(),
        )
        .expect("send");
    assert_eq!(bad.status().as_u16(), 400);
    assert_eq!(rt.block_on(bad.json::<serde_json::Value>()).expect("json")["code"], "bad_request");
    for body in ["{\"max_jobs\": ", "not json at all", "[1, 2"] {
        let r = rt
            .block_on(
                d.http()
                    .post(format!("{}/v1/poll", d.url()))
                    .bearer_auth(&x.token)
                    .body(body)
                    .header("content-type", "application/json")
                    .send(),
            )
            .expect("send");
        assert_eq!(r.status().as_u16(), 400, "{body}");
        assert_eq!(rt.block_on(r.json::<serde_json::Value>()).expect("json")["code"], "bad_request", "{body}");
    }
    // A body past the bound is refused whole, with its own code, and the
    // sender hears it: the answer comes after the body is in, not while it
    // is still being written (a broken pipe, once in a few tries).
    let huge = format!("{{\"events\": [\"{}\"]}}", "x".repeat(cetak_district::body::MAX_BODY + 1));
    for _ in 0..20 {
        let r = rt
            .block_on(
                d.http()
                    .post(format!("{}/v1/events", d.url()))
                    .bearer_auth(&x.token)
                    .body(huge.clone())
                    .header("content-type", "application/json")
                    .send(),
            )
            .expect("send");
        assert_eq!(r.status().as_u16(), 413);
        assert_eq!(rt.block_on(r.json::<serde_json::Value>()).expect("json")["code"], "too_large");
    }
    // No token, or a wrong one: 401 with a code.
    assert!(matches!(poll(&rt, &d, "not-a-token", 1), Err(QueueError::Refused { status: 401, .. })));
}

#[test]
fn the_openapi_document_names_exactly_the_routes_served() {
    let cluster = TempCluster::start().expect("PostgreSQL");
    let tmp = tempfile::tempdir().expect("tmp");
    let d = DistrictProcess::start(&cluster.url(), tmp.path());
    let doc: serde_json::Value = serde_json::to_value(cetak_district::server::openapi()).expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    let mut paths: Vec<String> = doc["paths"].as_object().expect("paths").keys().cloned().collect();
    paths.sort();
    let expected = ["/v1/enroll", "/v1/events", "/v1/heartbeat", "/v1/held", "/v1/poll", "/v1/results", "/v1/stock"];
    assert_eq!(paths, expected);
    // Each documented route answers (401 without a token, 4xx for an empty
    // body), never 404 or 405; an undocumented one is 404.
    let rt = rt();
    let http = d.http();
    for p in &paths {
        let status = rt.block_on(http.post(format!("{}{p}", d.url())).json(&serde_json::json!({})).send()).expect("send").status();
        assert!(status.is_client_error() && status.as_u16() != 404 && status.as_u16() != 405, "{p}: {status}");
    }
    let served: serde_json::Value =
        rt.block_on(async { http.get(format!("{}/v1/openapi.json", d.url())).send().await?.json().await }).expect("openapi.json");
    assert_eq!(served, doc, "the served document is the generated one");
    // Errors are JSON with a code and the district's time, like answers.
    let missing = rt.block_on(http.post(format!("{}/v1/lease", d.url())).send()).expect("send");
    assert_eq!(missing.status().as_u16(), 404);
    let body: serde_json::Value = rt.block_on(missing.json()).expect("json error");
    assert!(body["code"] == "not_found" && body["time_ms"].as_i64().is_some_and(|t| t > 0), "{body}");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object(), "the token scheme is declared");

    // Every answer a route can give is in the document: the body's 400
    // and 413, 429 and 503 with their Retry-After, 401 where a token is
    // needed.
    for p in &paths {
        let op = &doc["paths"][p.as_str()]["post"];
        let answers = op["responses"].as_object().expect("responses");
        for status in ["200", "400", "401", "413", "429", "503"] {
            assert!(answers.contains_key(status), "{p} does not list {status}");
            assert!(answers[status]["description"].is_string(), "{p} {status} has no description");
        }
        for status in ["429", "503"] {
            assert!(answers[status]["headers"]["Retry-After"].is_object(), "{p} {status} without Retry-After");
        }
    }
    // u32 fields with their real bounds, batches with theirs, a fault as a
    // code.
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in
        [("PollRequest", "max_jobs"), ("PollRequest", "wait_s"), ("HeldJob", "attempt"), ("JobResult", "attempt"), ("Heartbeat", "buffer")]
    {
        let f = &schemas[schema]["properties"][field];
        assert!(f["minimum"] == 0 && f["maximum"] == u64::from(u32::MAX) && f["format"] != "int32", "{schema}.{field}: {f}");
    }
    for (schema, field) in [("ResultsRequest", "results"), ("HeldReport", "jobs"), ("EventsReport", "events")] {
        assert_eq!(schemas[schema]["properties"][field]["maxItems"], MAX_ITEMS, "{schema}.{field}");
    }
    assert!(schemas["HeldJob"]["properties"]["fault"]["pattern"].is_string());
    assert_eq!(schemas["StationEvent"]["properties"]["body"]["type"], "object");
}

/// Bodies are read as the document says: a whole-number float is an
/// integer, a number past a field's bounds or a string with U+0000 is a
/// 400 that stores nothing, and a request with no token at all is 401
/// however often it comes (nothing is guessed, so nothing is throttled).
#[test]
fn bodies_are_read_as_the_document_says() {
    let cluster = TempCluster::start().expect("PostgreSQL");
    let tmp = tempfile::tempdir().expect("tmp");
    let d = DistrictProcess::start(&cluster.url(), tmp.path());
    let rt = rt();
    let code = d.cli(&["enroll-code", "--station", "kel-x", "--wilayah", "17.71.01.1001"]).lines().next().expect("code").trim().to_string();
    let x = enrol(&rt, &d, &code).expect("enrol");
    let http = d.http();
    let post = |path: &str, token: Option<&str>, body: &str| -> (u16, serde_json::Value) {
        let mut req = http.post(format!("{}{path}", d.url())).header("content-type", "application/json").body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        rt.block_on(async {
            let r = req.send().await.expect("answered");
            (r.status().as_u16(), r.json().await.expect("json"))
        })
    };
    let token = Some(x.token.as_str());
    assert_eq!(post("/v1/poll", token, r#"{"max_jobs": 2.0, "wait_s": 0.0}"#).0, 200, "whole-number floats");
    for body in [
        r#"{"max_jobs": 4294967296}"#,
        r#"{"max_jobs": -1}"#,
        r#"{"max_jobs": 1.5}"#,
        r#"{"max_jobs": 1, "holding": [{"job_id": "j", "epoch": -9223372036854775809}]}"#,
    ] {
        let (status, answer) = post("/v1/poll", token, body);
        assert_eq!((status, answer["code"].as_str()), (400, Some("bad_request")), "{body}: {answer}");
    }
    let db = crate::fleet::Db::open(&cluster.url());
    for (path, body) in [
        ("/v1/events", r#"{"events": [{"id": 1, "body": {"note": "a\u0000b"}}]}"#),
        ("/v1/events", r#"{"events": [{"id": 2, "body": {"k\u0000": 1}}]}"#),
        ("/v1/heartbeat", r#"{"buffer": 0, "outbox_depth": 0, "version": "1\u0000"}"#),
    ] {
        let (status, answer) = post(path, token, body);
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| e.contains("U+0000")), "{answer}");
    }
    assert_eq!(db.count("SELECT count(*) FROM station_events"), 0, "nothing stored");
    assert_eq!(db.count("SELECT count(*) FROM stations WHERE last_status IS NOT NULL"), 0, "no heartbeat stored");
    assert_eq!(post("/v1/events", token, r#"{"events": [{"id": 3.0, "body": {"n": 1.0}}]}"#).0, 200, "an id as a whole float");
    assert_eq!(db.count("SELECT count(*) FROM station_events WHERE id = 3"), 1);
    // No token, a hundred times from one address: 401 each, never 429.
    let statuses: Vec<u16> = (0..100).map(|_| post("/v1/heartbeat", None, "{}").0).collect();
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    // A large body with no token gets its 401 whole, not a connection
    // closed while it is still being sent.
    let big = format!(r#"{{"results": [{{"job_id": "{}", "epoch": 1, "attempt": 1, "outcome": "printed"}}]}}"#, "x".repeat(900_000));
    for _ in 0..5 {
        assert_eq!(post("/v1/results", None, &big).0, 401);
    }
    // The district's log, written to a file, is plain text (no colour
    // escapes), and names the enrolment it saw.
    let log = std::fs::read_to_string(&d.log).expect("district log");
    assert!(log.contains("station enrolled") && !log.contains('\u{1b}'), "{log}");
}

#[test]
fn an_enrolled_station_refuses_local_job_files() {
    let cluster = TempCluster::start().expect("PostgreSQL");
    let tmp = tempfile::tempdir().expect("tmp");
    let d = DistrictProcess::start(&cluster.url(), tmp.path());
    let st = StationProcess::enrol(&d, &StationSetup { name: "kel-a", regions: &["17.71.01.1001"], ..Default::default() });
    let f = tmp.path().join("local.jsonl");
    std::fs::write(&f, region_lines("17.71.01.1001")[0].as_str()).expect("write");
    for args in [vec!["import", f.to_str().expect("path")], vec!["run", "--jobs", f.to_str().expect("path")]] {
        let out = st.cetak().args(&args).output().expect("cetak");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted a local file");
        assert!(err.contains("enrolled with district") && err.contains("local job files are refused"), "{args:?}: {err}");
    }
    assert!(st.journal().all_jobs().expect("jobs").is_empty(), "nothing imported");
}

#[test]
fn enrolment_with_a_wrong_fingerprint_is_refused_and_stores_nothing() {
    let cluster = TempCluster::start().expect("PostgreSQL");
    let tmp = tempfile::tempdir().expect("tmp");
    let d = DistrictProcess::start(&cluster.url(), tmp.path());
    let out = d.cli(&["enroll-code", "--station", "kel-a", "--wilayah", "17.71.01.1001"]);
    let code = out.lines().next().expect("code").trim().to_string();
    let state = tmp.path().join("station");
    let cetak = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cetak")).arg("--state-dir").arg(&state).args(args).output().expect("cetak")
    };
    // A district whose CA is not the one the officer read out (another
    // district's, or a man in the middle's): refused before the code goes.
    let wrong = "00".repeat(32);
    let r = cetak(&["enroll", "--district", &d.url(), "--code", &code, "--ca-sha256", &wrong]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("does not match the fingerprint"), "{}", String::from_utf8_lossy(&r.stderr));
    // Without a fingerprint, https trusts nothing.
    let r = cetak(&["enroll", "--district", &d.url(), "--code", &code]);
    assert!(!r.status.success() && String::from_utf8_lossy(&r.stderr).contains("--ca-sha256"));
    let journal = cetak::journal::Journal::open(&state).expect("journal");
    assert!(journal.enrolment().expect("enrolment").is_none(), "nothing stored");
    // The code was never sent, so it still works with the right fingerprint.
    let r = cetak(&["enroll", "--district", &d.url(), "--code", &code, "--ca-sha256", &d.ca_sha256()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let e = journal.enrolment().expect("enrolment").expect("enrolled");
    assert_eq!(e.ca_pem.as_deref(), Some(d.ca_pem().as_str()), "the district's CA is stored");
}

#[test]
fn a_revoked_station_fails_at_once_even_mid_long_poll_and_on_a_kept_alive_connection() {
    let cluster = TempCluster::start().expect("PostgreSQL");
    let tmp = tempfile::tempdir().expect("tmp");
    let d = DistrictProcess::start(&cluster.url(), tmp.path());
    let rt = rt();
    let code = d.cli(&["enroll-code", "--station", "kel-x", "--wilayah", "17.71.01.1001"]).lines().next().expect("code").to_string();
    let x = enrol(&rt, &d, &code).expect("enrol");
    // One client: its connection is kept alive between the calls.
    let pem = d.ca_pem();
    let c = Client::new(&d.url(), Some(&x.token), Trust::Ca(&pem)).expect("client");
    let ok = rt.block_on(c.post::<_, PollResponse>("/v1/poll", &PollRequest { max_jobs: 1, ..Default::default() }, T));
    assert!(ok.is_ok(), "{ok:?}");
    let long = PollRequest { max_jobs: 1, wait_s: 30, keys_version: keys_version(&x.keys), ..Default::default() };
    let started = std::time::Instant::now();
    let waiting = rt.block_on(async {
        let pending = c.post::<_, PollResponse>("/v1/poll", &long, Duration::from_secs(40));
        let revoke = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let url = d.db_url.clone();
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(crate::support::workspace_bin(crate::support::DISTRICT))
                    .args(["revoke", "kel-x"])
                    .env("CETAK_DISTRICT_DB", url)
                    .output()
                    .expect("revoke")
            })
            .await
            .expect("join")
        };
        let (r, out) = tokio::join!(pending, revoke);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        r
    });
    assert!(matches!(waiting, Err(QueueError::Refused { status: 401, .. })), "{waiting:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "the long poll was not woken by the revocation: {:?}", started.elapsed());
    let next = rt.block_on(c.post::<_, Ack>("/v1/heartbeat", &Heartbeat::default(), T));
    assert!(matches!(next, Err(QueueError::Refused { status: 401, .. })), "{next:?}");
}

#[test]
fn doctor_checks_the_district_link_token_and_clock() {
    let cluster = TempCluster::start().expect("PostgreSQL");
    let tmp = tempfile::tempdir().expect("tmp");
    let mut d = DistrictProcess::start(&cluster.url(), tmp.path());
    let st = StationProcess::enrol(&d, &StationSetup { name: "kel-doc", regions: &["17.71.01.1001"], ..Default::default() });
    let doctor = |wrap: &[&str]| {
        let mut cmd = match wrap.split_first() {
            Some((first, rest)) => {
                let mut c = std::process::Command::new(first);
                c.args(rest).arg(env!("CARGO_BIN_EXE_cetak"));
                c
            }
            None => std::process::Command::new(env!("CARGO_BIN_EXE_cetak")),
        };
        let out = cmd.env("RUST_BACKTRACE", "0").arg("--config").arg(&st.config).arg("doctor").output().expect("doctor");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text.lines().find(|l| l.contains("district reachable")).unwrap_or_default().to_string();
        (line, text)
    };
    let (line, out) = doctor(&[]);
    assert!(line.starts_with("[ok]"), "{out}");

    // The PC's clock an hour ahead (faketime, Debian's package).
    let (line, out) = doctor(&["faketime", "-f", "+1h"]);
    assert!(line.starts_with("[FAILED]") && out.contains("s off the district's") && out.contains("timedatectl"), "{out}");

    d.cli(&["revoke", "kel-doc"]);
    let (line, out) = doctor(&[]);
    assert!(line.starts_with("[FAILED]") && out.contains("refused this station's token"), "{out}");

    d.kill();
    let (line, out) = doctor(&[]);
    assert!(line.starts_with("[FAILED]") && out.contains("VPN"), "{out}");
}

/// Every station route that names a job, against four kinds of job: the
/// caller's own assignment, another station's, one that does not exist,
/// and another region's job still pending. Only its own is taken; every
/// other is refused and answered alike (no answer says whether it exists),
/// and nothing of a refused report is stored.
#[test]
fn every_station_route_takes_only_the_callers_own_assignments_and_answers_alike_for_any_other_job() {
    let cluster = TempCluster::start().expect("PostgreSQL");
    let tmp = tempfile::tempdir().expect("tmp");
    let d = DistrictProcess::start(&cluster.url(), tmp.path());
    let db = crate::fleet::Db::open(&cluster.url());
    let rt = rt();
    let mut lines: Vec<String> = region_lines("17.71.01.1001").into_iter().take(2).collect();
    lines.extend(region_lines("17.71.02.1002").into_iter().take(3));
    let f = tmp.path().join("jobs.jsonl");
    std::fs::write(&f, lines.join("\n")).expect("write");
    d.cli(&["import", f.to_str().expect("path"), "--regency", "17.71"]);
    let first_line = |out: String| out.lines().next().expect("code").trim().to_string();
    let x = enrol(&rt, &d, &first_line(d.cli(&["enroll-code", "--station", "kel-x", "--wilayah", "17.71.01.1001"]))).expect("x");
    let y = enrol(&rt, &d, &first_line(d.cli(&["enroll-code", "--station", "kel-y", "--wilayah", "17.71.02.1002"]))).expect("y");
    let px = poll(&rt, &d, &x.token, 1).expect("poll x");
    let py = poll(&rt, &d, &y.token, 1).expect("poll y");
    let own = JobRef { job_id: px.jobs[0].job_id.clone(), epoch: px.jobs[0].epoch };
    let theirs = JobRef { job_id: py.jobs[0].job_id.clone(), epoch: py.jobs[0].epoch };
    let pending = db
        .jobs()
        .into_iter()
        .find(|j| j.1 == "pending" && !lines[..2].iter().any(|l| l.contains(&j.0)))
        .expect("a pending job of 17.71.02");
    let others = [
        ("another station's", theirs.clone()),
        ("unknown", JobRef { job_id: "no-such-job".into(), epoch: 1 }),
        ("another region's", JobRef { job_id: pending.0.clone(), epoch: 1 }),
    ];
    let cx = Client::new(&d.url(), Some(&x.token), Trust::Ca(&d.ca_pem())).expect("client");
    let held = |j: &[&JobRef]| HeldReport {
        jobs: j.iter().map(|r| HeldJob { job_id: r.job_id.clone(), epoch: r.epoch, attempt: 1, fault: "jam".into() }).collect(),
    };
    let refusal = |r: Result<(Ack, Duration), QueueError>| match r {
        Err(QueueError::Refused { status, code, .. }) => (status, code),
        other => panic!("not refused: {other:?}"),
    };

    // /v1/held
    for (what, j) in &others {
        assert_eq!(refusal(rt.block_on(cx.post::<_, Ack>("/v1/held", &held(&[j]), T))), (403, "not_yours".into()), "held, {what}");
        assert_eq!(
            refusal(rt.block_on(cx.post::<_, Ack>("/v1/held", &held(&[&own, j]), T))),
            (403, "not_yours".into()),
            "held with {what}: the whole report"
        );
    }
    assert_eq!(db.count("SELECT count(*) FROM held_reports"), 0, "nothing of a refused report is stored");
    rt.block_on(cx.post::<_, Ack>("/v1/held", &held(&[&own]), T)).expect("its own held job is taken");
    assert_eq!(db.count("SELECT count(*) FROM held_reports"), 1);
    let free_text = HeldReport {
        jobs: vec![HeldJob { job_id: own.job_id.clone(), epoch: own.epoch, attempt: 1, fault: "Ibu Siti, NIK 1771...".into() }],
    };
    assert_eq!(refusal(rt.block_on(cx.post::<_, Ack>("/v1/held", &free_text, T))).0, 400, "a fault is a code, not free text");

    // /v1/poll: the holding list gets the same answer for each other job,
    // existing or not; a confirmation of another's job changes nothing.
    let holding: Vec<JobRef> = std::iter::once(own.clone()).chain(others.iter().map(|(_, j)| j.clone())).collect();
    let req = PollRequest { max_jobs: 0, holding, confirm: vec![theirs.clone()], ..Default::default() };
    let answer = rt.block_on(cx.post::<_, PollResponse>("/v1/poll", &req, T)).expect("poll").0;
    let mut dropped: Vec<&str> = answer.drop_jobs.iter().map(|j| j.job_id.as_str()).collect();
    dropped.sort_unstable();
    let mut want: Vec<&str> = others.iter().map(|(_, j)| j.job_id.as_str()).collect();
    want.sort_unstable();
    assert_eq!(dropped, want, "every job not its own is answered alike, its own is kept");
    assert_eq!(db.count("SELECT count(*) FROM jobs WHERE delivered"), 0, "kel-x confirmed kel-y's job: nothing changed");

    // /v1/results, item by item; an attempt number past i32 is stored whole.
    let result =
        |j: &JobRef, attempt| JobResult { job_id: j.job_id.clone(), epoch: j.epoch, attempt, outcome: Outcome::Printed, code: None };
    let mut batch: Vec<JobResult> = others.iter().map(|(_, j)| result(j, 1)).collect();
    batch.push(result(&own, u32::MAX));
    let r = rt.block_on(cx.post::<_, ResultsResponse>("/v1/results", &ResultsRequest { results: batch }, T)).expect("results").0;
    assert_eq!(r.items, [ResultStatus::NotYours, ResultStatus::NotYours, ResultStatus::NotYours, ResultStatus::Applied]);
    assert_eq!(db.count("SELECT count(*) FROM results WHERE attempt = 4294967295"), 1, "the attempt is stored as sent");
    assert_eq!(db.count("SELECT count(*) FROM results"), 1, "nothing stored for the others");
}

/// A token that takes its share, confirms it and then polls saying it
/// holds nothing is not dry on the district's records: its sister is not
/// asked to give work back. Once its cards are reported it is dry, and the
/// sister is asked.
#[test]
fn a_station_cannot_make_its_sisters_give_work_back_on_its_word_alone() {
    let cluster = TempCluster::start().expect("PostgreSQL");
    let tmp = tempfile::tempdir().expect("tmp");
    let d = DistrictProcess::start(&cluster.url(), tmp.path());
    let db = crate::fleet::Db::open(&cluster.url());
    let rt = rt();
    let lines: Vec<String> = region_lines("17.71.01.1001").into_iter().take(8).collect();
    let f = tmp.path().join("jobs.jsonl");
    std::fs::write(&f, lines.join("\n")).expect("write");
    d.cli(&["import", f.to_str().expect("path"), "--regency", "17.71"]);
    let first_line = |out: String| out.lines().next().expect("code").trim().to_string();
    let code = |name: &str| first_line(d.cli(&["enroll-code", "--station", name, "--wilayah", "17.71.01.1001"]));
    let (sister, rogue) = (enrol(&rt, &d, &code("kel-s")).expect("s"), enrol(&rt, &d, &code("kel-r")).expect("r"));
    let client = |token: &str| Client::new(&d.url(), Some(token), Trust::Ca(&d.ca_pem())).expect("client");
    let (cs, cr) = (client(&sister.token), client(&rogue.token));
    let one_printer = Heartbeat {
        printers: vec![PrinterStatus { name: "printer-1".into(), state: "idle".into(), detail: String::new() }],
        buffer: 0,
        outbox_depth: 0,
        uncertain: 0,
        clock_skew_ms: 0,
        version: String::new(),
    };
    let version = keys_version(&sister.keys);
    let take = |c: &Client, max_jobs: u32| {
        rt.block_on(c.post::<_, Ack>("/v1/heartbeat", &one_printer, T)).expect("heartbeat");
        let got = rt.block_on(c.post::<_, PollResponse>(
            "/v1/poll",
            &PollRequest { max_jobs, keys_version: version.clone(), ..Default::default() },
            T,
        ));
        let jobs: Vec<JobRef> = got.expect("poll").0.jobs.iter().map(|j| JobRef { job_id: j.job_id.clone(), epoch: j.epoch }).collect();
        let confirm = PollRequest { max_jobs: 0, confirm: jobs.clone(), keys_version: version.clone(), ..Default::default() };
        rt.block_on(c.post::<_, PollResponse>("/v1/poll", &confirm, T)).expect("confirm");
        jobs
    };
    assert_eq!(take(&cs, 4).len(), 4, "the sister holds four");
    let taken = take(&cr, 4);
    assert_eq!(taken.len(), 4, "the rogue takes the rest");
    // Dry by its word: holding nothing, asking for more, waiting a second.
    let dry = PollRequest { max_jobs: 4, wait_s: 1, keys_version: version.clone(), ..Default::default() };
    rt.block_on(cr.post::<_, PollResponse>("/v1/poll", &dry, T)).expect("poll");
    assert_eq!(db.count("SELECT count(*) FROM jobs WHERE release_asked"), 0, "the sister was made to give work back");
    // Its cards reported but one (the one its printer may be printing): dry.
    let results = taken[..3]
        .iter()
        .map(|j| JobResult { job_id: j.job_id.clone(), epoch: j.epoch, attempt: 1, outcome: Outcome::Printed, code: None })
        .collect();
    rt.block_on(cr.post::<_, ResultsResponse>("/v1/results", &ResultsRequest { results }, T)).expect("results");
    rt.block_on(cr.post::<_, PollResponse>("/v1/poll", &dry, T)).expect("poll");
    assert_eq!(db.count("SELECT count(*) FROM jobs WHERE release_asked"), 2, "a station dry on the district's records asks its sister");
}
