//! The district and its stations as real processes: `cetak-district serve`
//! on a throw-away PostgreSQL, three `cetak run` stations each with its
//! emulator as a process of its own, TCP proxies that cut the stations'
//! lines, and SIGKILLs of the district. Every verdict on what was printed
//! comes from the emulators' physical logs; the district's tables are
//! checked against them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use cetak_district::pgtemp::TempCluster;
use serde_json::Value;

use crate::support::fleet::{wait_until, DistrictProcess, ProxyMode, StationProcess, StationSetup};
use crate::support::{data, sample_lines};

/// The district's database, read by the test.
pub struct Db {
    rt: tokio::runtime::Runtime,
    pool: sqlx::PgPool,
}

impl Db {
    pub fn open(url: &str) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
        let pool = rt.block_on(cetak_district::connect(url)).expect("connect");
        Self { rt, pool }
    }

    /// (job, state, result, station) of every job.
    pub fn jobs(&self) -> Vec<(String, String, Option<String>, Option<String>)> {
        self.rt
            .block_on(sqlx::query_as("SELECT job_id, state, result, station FROM jobs ORDER BY job_id").fetch_all(&self.pool))
            .expect("jobs")
    }

    pub fn done(&self) -> usize {
        self.jobs().iter().filter(|j| j.1 == "done").count()
    }

    /// (job, station, epoch, outcome, flagged) of every result stored.
    pub fn results(&self) -> Vec<(String, String, i64, String, Option<String>)> {
        self.rt
            .block_on(
                sqlx::query_as("SELECT job_id, station, epoch, outcome, flagged FROM results ORDER BY job_id, epoch").fetch_all(&self.pool),
            )
            .expect("results")
    }

    pub fn count(&self, sql: &'static str) -> i64 {
        let (n,): (i64,) = self.rt.block_on(sqlx::query_as(sql).fetch_one(&self.pool)).expect("count");
        n
    }
}

/// The K-panel hash each job's card must have, rendered here from the PRR
/// itself (not from anything the agent wrote): job id and region by hash.
pub fn expected_cards(lines: &[String]) -> HashMap<String, (String, String)> {
    let caps = cetak_drivers::Capabilities::evolis_ymcko(false);
    lines
        .iter()
        .map(|l| {
            let raw = cetak_model::RawPrr::parse(l).expect("prr");
            let prr = cetak_model::validate(&raw, cetak::journal::today()).prr.expect("valid");
            let k = cetak::render::render(&prr, &caps).expect("render").k_hash().expect("k panel");
            (k, (prr.job_id.clone(), prr.kode_wilayah.as_str().to_string()))
        })
        .collect()
}

/// Every accepted job printed exactly once, by a station enrolled for its
/// region, and no other card: judged from the physical logs alone.
pub fn judge_printed_once(stations: &[&StationProcess], accepted: &[String]) -> HashMap<String, String> {
    let expected = expected_cards(accepted);
    let mut printed_by: HashMap<String, String> = HashMap::new();
    for st in stations {
        for card in st.printed() {
            let k = card.k_hash.clone().expect("printed card has a K panel");
            let (job, region) = expected.get(&k).unwrap_or_else(|| panic!("{}: a card that is no accepted job's", st.name));
            assert!(st.regions.contains(region), "{} printed {job} of {region}, a region it does not serve", st.name);
            if let Some(other) = printed_by.insert(job.clone(), st.name.clone()) {
                panic!("{job} printed twice: by {other} and {}", st.name);
            }
        }
    }
    printed_by
}

fn bengkulu(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| serde_json::from_str::<Value>(l).expect("json")["kode_wilayah"].as_str().is_some_and(|k| k.starts_with("17.71.")))
        .cloned()
        .collect()
}

#[test]
fn three_stations_print_every_accepted_card_exactly_once() {
    let cluster = TempCluster::start().expect("a throw-away PostgreSQL");
    let tmp = tempfile::tempdir().expect("tmp");
    let district = DistrictProcess::start(&cluster.url(), tmp.path());
    let db = Db::open(&cluster.url());

    let samples = sample_lines("prr-valid.jsonl");
    let accepted = bengkulu(&samples);
    let out = district.cli(&["import", data("prr-valid.jsonl").to_str().expect("path"), "--regency", "17.71"]);
    assert!(
        out.contains(&format!("pending {},", accepted.len()))
            && out.contains(&format!("other regency refused {},", samples.len() - accepted.len())),
        "{out}"
    );

    let setup = |name, regions| StationSetup { name, regions, emulator_args: &[], time_scale: 0.005, district: "" };
    let mut a = StationProcess::enrol(&district, &setup("kel-a", &["17.71.01.1001", "17.71.01.1002"]));
    let mut b = StationProcess::enrol(&district, &setup("kel-b", &["17.71.01.1001"]));
    let mut c = StationProcess::enrol(&district, &setup("kel-c", &["17.71.02.1001", "17.71.02.1002"]));
    for s in [&mut a, &mut b, &mut c] {
        s.start();
    }
    wait_until(Duration::from_secs(90), "every accepted job done at the district", || db.done() == accepted.len());
    // Status reaches the district through heartbeats.
    wait_until(Duration::from_secs(20), "heartbeats from all three", || {
        db.count("SELECT count(*) FROM stations WHERE last_status IS NOT NULL") == 3
    });
    for s in [&mut a, &mut b, &mut c] {
        s.stop();
    }

    let printed_by = judge_printed_once(&[&a, &b, &c], &accepted);
    assert_eq!(printed_by.len(), accepted.len(), "every accepted job has its card");
    // The district agrees with the physical logs: each job printed, by the
    // station that printed it, one applied result each.
    for (job, state, result, station) in db.jobs() {
        assert_eq!((state.as_str(), result.as_deref()), ("done", Some("printed")), "{job}");
        assert_eq!(station.as_ref(), printed_by.get(&job), "{job}");
    }
    let results = db.results();
    assert_eq!(results.len(), accepted.len(), "{results:?}");
    assert!(results.iter().all(|r| r.3 == "printed" && r.4.is_none()), "{results:?}");
    // Stations report their consumables ledger.
    assert!(db.count("SELECT count(*) FROM stock_reports") >= 3);
    // The stations purged every payload once the district acknowledged.
    for s in [&a, &b, &c] {
        let j = s.journal();
        assert!(j.all_jobs().expect("jobs").iter().all(|job| job.state == cetak::journal::JobState::Purged), "{}", s.name);
        assert!(j.pending_outbox().expect("outbox").is_empty(), "{}", s.name);
    }
    let _ = (ProxyMode::Pass, HashSet::<()>::new());
}
