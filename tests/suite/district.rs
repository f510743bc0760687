//! The district queue on a real PostgreSQL (a throw-away cluster started
//! from the machine's own binaries): the audited import and approval.

use cetak_district::pgtemp::TempCluster;
use serde_json::Value;

use crate::support::{data, sample_lines};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio")
}

fn today() -> time::Date {
    time::macros::date!(2026 - 11 - 23)
}

#[test]
fn import_refuses_other_regencies_and_invalid_records_holds_approvals_and_audits() {
    let cluster = TempCluster::start().expect("a throw-away PostgreSQL (the test script installs it)");
    let rt = runtime();
    rt.block_on(async {
        let pool = cetak_district::connect(&cluster.url()).await.expect("connect");
        // Expected from the samples themselves, not from the importer.
        let bengkulu = sample_lines("prr-valid.jsonl")
            .iter()
            .filter(|l| serde_json::from_str::<Value>(l).expect("json")["kode_wilayah"].as_str().is_some_and(|k| k.starts_with("17.71.")))
            .count();
        assert!(bengkulu > 0);
        let r = cetak_district::import_file(&pool, &data("prr-valid.jsonl"), "17.71", "officer-a", today()).await.expect("import");
        assert_eq!((r.pending.len(), r.foreign.len(), r.invalid.len(), r.held.len()), (bengkulu, 50 - bengkulu, 0, 0));

        let r = cetak_district::import_file(&pool, &data("prr-invalid.jsonl"), "17.71", "officer-a", today()).await.expect("import");
        assert_eq!(r.held, vec!["prr-1771-000001-bad".to_string()], "needs approval: held");
        let codes: Vec<&str> = r.invalid.iter().map(|(_, c, _)| c.as_str()).collect();
        assert_eq!(codes.len(), 7, "{codes:?}");
        assert!(codes.contains(&"kode_wilayah.format") && codes.contains(&"foto.not_jpeg"), "{codes:?}");

        // Importing again changes nothing.
        let again = cetak_district::import_file(&pool, &data("prr-valid.jsonl"), "17.71", "officer-b", today()).await.expect("import");
        assert_eq!((again.pending.len(), again.known.len()), (0, bengkulu));

        // An officer approves the held job; approving it twice is refused.
        cetak_district::approve(&pool, &["prr-1771-000001-bad".to_string()], "officer-c").await.expect("approve");
        assert!(cetak_district::approve(&pool, &["prr-1771-000001-bad".to_string()], "officer-c").await.is_err());
        let jobs = cetak_district::jobs(&pool).await.expect("jobs");
        let held = jobs.iter().find(|j| j.job_id == "prr-1771-000001-bad").expect("job");
        assert_eq!((held.state.as_str(), held.approved_by.as_deref()), ("pending", Some("officer-c")));
        assert_eq!(jobs.len(), bengkulu + 1);

        // Who did what: three imports and one approval.
        let audit: Vec<(String, String)> =
            cetak_district::audit(&pool).await.expect("audit").into_iter().map(|(actor, action, _)| (actor, action)).collect();
        assert_eq!(
            audit,
            vec![
                ("officer-a".into(), "import".into()),
                ("officer-a".into(), "import".into()),
                ("officer-b".into(), "import".into()),
                ("officer-c".into(), "approve".into())
            ]
        );
    });
}

#[test]
fn a_line_that_is_not_json_imports_nothing() {
    let cluster = TempCluster::start().expect("PostgreSQL");
    let rt = runtime();
    rt.block_on(async {
        let pool = cetak_district::connect(&cluster.url()).await.expect("connect");
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("broken.jsonl");
        let mut lines: Vec<String> = sample_lines("prr-valid.jsonl").into_iter().take(4).collect();
        lines.push("{ not json".into());
        std::fs::write(&f, lines.join("\n")).expect("write");
        let e = cetak_district::import_file(&pool, &f, "17.71", "officer", today()).await.expect_err("refused");
        assert!(e.to_string().contains(":5:"), "{e}");
        assert!(cetak_district::jobs(&pool).await.expect("jobs").is_empty());
    });
}

/// An officer's command against a database nothing answers at ends within
/// seconds and names the address, instead of waiting two minutes in
/// silence (a port nothing listens on, and an address that drops every
/// packet, which only a deadline can end).
#[test]
fn an_unreachable_database_is_named_within_seconds() {
    for url in ["postgres://cetak@127.0.0.1:1/nope", "postgres://cetak@10.255.255.1:5432/nope"] {
        let t = std::time::Instant::now();
        let out = std::process::Command::new(crate::support::workspace_bin(crate::support::DISTRICT))
            .args(["--database-url", url, "jobs"])
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("cetak-district");
        let took = t.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url}: {err}");
        let at = url.split('@').nth(1).and_then(|r| r.split('/').next()).expect("host:port");
        assert!(err.contains(&format!("nothing answers at {at}")), "{url}: {err}");
        assert!(took < std::time::Duration::from_secs(15), "{url}: {took:?}");
    }
}
