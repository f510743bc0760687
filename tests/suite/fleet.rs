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

use crate::envelopes::region_lines;
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

    /// Runs a statement; its error, if any.
    pub fn execute(&self, sql: &'static str) -> Result<u64, sqlx::Error> {
        self.rt.block_on(sqlx::query(sql).execute(&self.pool)).map(|r| r.rows_affected())
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
            let prr = cetak_model::validate(&raw, cetak::clock::today()).prr.expect("valid");
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
        // (A card with no K panel is a front-panel test card, no job's.)
        for card in st.printed().into_iter().filter(|c| c.k_hash.is_some()) {
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

/// Every result applied once: one `printed` result per job, from the
/// station whose printer has the card; any other result is a release
/// (a job handed back to a dry sister), none flagged.
pub fn assert_results_match(results: &[(String, String, i64, String, Option<String>)], printed_by: &HashMap<String, String>) {
    for (job, station) in printed_by {
        let printed: Vec<_> = results.iter().filter(|r| &r.0 == job && r.3 == "printed").collect();
        assert_eq!(printed.len(), 1, "{job}: {printed:?}");
        assert_eq!(&printed[0].1, station, "{job}: the district credits another station");
    }
    for r in results {
        assert!(r.4.is_none() && (r.3 == "printed" || r.3 == "released"), "{r:?}");
    }
    assert_eq!(results.iter().filter(|r| r.3 == "printed").count(), printed_by.len(), "{results:?}");
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

    let setup = |name, regions| StationSetup { name, regions, ..Default::default() };
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
    assert_results_match(&db.results(), &printed_by);
    // Stations report their consumables ledger.
    assert_eq!(db.count("SELECT count(DISTINCT station) FROM stock_events"), 3);
    // The stations purged every payload once the district acknowledged.
    for s in [&a, &b, &c] {
        let j = s.journal();
        // Finished here (purged) or given back to a sister (released).
        let kept =
            |job: &cetak::journal::JobRow| !matches!(job.state, cetak::journal::JobState::Purged | cetak::journal::JobState::Released);
        assert!(!j.all_jobs().expect("jobs").iter().any(kept), "{}", s.name);
        assert!(j.all_jobs().expect("jobs").iter().all(|job| j.payload(&job.job_id).is_err()), "{}: a payload kept", s.name);
        assert!(j.pending_outbox().expect("outbox").is_empty(), "{}", s.name);
    }
}

/// A district with its cluster, its database for the test, and a folder.
pub struct Fleet {
    _cluster: TempCluster,
    pub tmp: tempfile::TempDir,
    pub district: DistrictProcess,
    pub db: Db,
}

impl Fleet {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    pub fn start_with(args: &[&str]) -> Self {
        Self::start_limited(args, None)
    }

    /// The same, the district under a hard limit of `open_files`.
    pub fn start_limited(args: &[&str], open_files: Option<u64>) -> Self {
        let cluster = TempCluster::start().expect("a throw-away PostgreSQL");
        let tmp = tempfile::tempdir().expect("tmp");
        let district = DistrictProcess::start_limited(&cluster.url(), tmp.path(), args, open_files);
        let db = Db::open(&cluster.url());
        Self { _cluster: cluster, tmp, district, db }
    }

    /// Imports PRR lines for Bengkulu through the officer's command.
    pub fn import(&self, name: &str, lines: &[String]) {
        let f = self.tmp.path().join(name);
        std::fs::write(&f, lines.join("\n")).expect("write");
        let out = self.district.cli(&["import", f.to_str().expect("path"), "--regency", "17.71"]);
        assert!(out.starts_with(&format!("pending {}", lines.len())), "{out}");
    }

    /// Waits until `n` jobs are done at the district; on a timeout the
    /// panic shows the district's view of every job and result.
    pub fn wait_done(&self, n: usize, limit: Duration, what: &str, stations: &[&StationProcess]) {
        let until = std::time::Instant::now() + limit;
        while self.db.done() < n {
            if std::time::Instant::now() > until {
                let log = std::fs::read_to_string(&self.district.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                let agents: Vec<String> = stations.iter().map(|s| format!("--- {}:\n{}", s.name, s.log_tail())).collect();
                panic!(
                    "timed out: {what}\njobs {:?}\nresults {:?}\ndistrict log (newest first):\n{}\n{}",
                    self.db.jobs(),
                    self.db.results(),
                    tail.join("\n"),
                    agents.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn station(&self, s: StationSetup<'_>) -> StationProcess {
        StationProcess::enrol(&self.district, &s)
    }
}

pub fn ids(lines: &[String]) -> Vec<String> {
    lines.iter().map(|l| cetak_model::RawPrr::parse(l).expect("prr").job_id().expect("id").to_string()).collect()
}

pub fn held_ids(st: &StationProcess) -> HashSet<String> {
    st.journal().all_jobs().expect("jobs").into_iter().map(|j| j.job_id).collect()
}

#[test]
fn a_cut_off_station_prints_what_it_holds_and_its_sister_never_does() {
    let f = Fleet::start();
    let lines: Vec<String> = region_lines("17.71.01.1001").into_iter().take(16).collect();
    f.import("jobs.jsonl", &lines);
    let setup = |name| StationSetup { name, regions: &["17.71.01.1001"], time_scale: 0.02, district: "buffer = 5", ..Default::default() };
    let mut a = f.station(setup("kel-a"));
    let mut b = f.station(setup("kel-b"));

    a.start();
    wait_until(Duration::from_secs(20), "kel-a holds its buffer", || held_ids(&a).len() >= 5);
    a.proxy.set(ProxyMode::Cut);
    let held = held_ids(&a);
    b.start();
    // The sister prints everything else; kel-a prints what it holds, offline.
    wait_until(Duration::from_secs(60), "kel-b prints the rest", || f.db.done() == lines.len() - held.len());
    wait_until(Duration::from_secs(30), "kel-a prints its held jobs offline", || a.printed().len() == held.len());
    let status = a.cetak().arg("status").output().expect("status");
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("OFFLINE since"), "{status}");
    // Many heartbeats later, the district still has kel-a's jobs as kel-a's.
    std::thread::sleep(Duration::from_secs(3));
    for (job, state, _, station) in f.db.jobs() {
        if held.contains(&job) {
            assert_eq!((state.as_str(), station.as_deref()), ("assigned", Some("kel-a")), "{job} left kel-a on a timer");
        }
    }
    assert!(b.printed().len() == lines.len() - held.len(), "kel-b printed a held job");

    a.proxy.set(ProxyMode::Pass);
    wait_until(Duration::from_secs(30), "kel-a's results reach the district", || f.db.done() == lines.len());
    a.stop();
    b.stop();
    let printed_by = judge_printed_once(&[&a, &b], &lines);
    assert_eq!(printed_by.len(), lines.len());
    for job in &held {
        assert_eq!(printed_by.get(job).map(String::as_str), Some("kel-a"), "{job}");
    }
    assert_results_match(&f.db.results(), &printed_by);
}

#[test]
fn a_station_whose_printer_stays_broken_releases_its_jobs_to_the_sister() {
    let f = Fleet::start();
    let lines: Vec<String> = region_lines("17.71.02.1002").into_iter().take(6).collect();
    f.import("jobs.jsonl", &lines);
    let regions = &["17.71.02.1002"];
    // A jam at the pick of its first card, and no clerk: broken, not waiting
    // (an empty feeder would be waiting for the clerk, and keep its jobs).
    let mut broken = f.station(StationSetup {
        name: "kel-c",
        regions,
        emulator_args: &["--fault", "after_pick:jam"],
        district: "printer_broken_release_s = 2",
        ..Default::default()
    });
    let mut sister = f.station(StationSetup { name: "kel-d", regions, ..Default::default() });
    broken.start();
    wait_until(Duration::from_secs(20), "kel-c takes the jobs", || !held_ids(&broken).is_empty());
    let taken = held_ids(&broken);
    sister.start();
    f.wait_done(lines.len(), Duration::from_secs(60), "every job printed", &[&broken, &sister]);
    broken.stop();
    sister.stop();
    let printed_by = judge_printed_once(&[&broken, &sister], &lines);
    assert_eq!(printed_by.len(), lines.len());
    assert!(broken.printed().is_empty());
    let released: HashSet<String> = f.db.results().into_iter().filter(|r| r.1 == "kel-c" && r.3 == "released").map(|r| r.0).collect();
    // The job whose blank jammed went back to ready and was released with
    // the others.
    assert!(taken.is_subset(&released), "kel-c took {taken:?}, released {released:?}");
}

#[test]
fn district_kills_and_cut_lines_lose_no_job_and_print_none_twice() {
    use rand::{Rng, SeedableRng};
    let f = Fleet::start();
    let mut lines: Vec<String> = region_lines("17.71.01.1001").into_iter().take(12).collect();
    lines.extend(region_lines("17.71.02.1002").into_iter().take(12));
    f.import("jobs.jsonl", &lines);
    let setup = |name, regions| StationSetup { name, regions, time_scale: 0.01, district: "buffer = 4", ..Default::default() };
    let mut stations = [
        f.station(setup("kel-a", &["17.71.01.1001", "17.71.02.1002"])),
        f.station(setup("kel-b", &["17.71.01.1001"])),
        f.station(setup("kel-c", &["17.71.02.1002"])),
    ];
    for s in &mut stations {
        s.start();
    }
    let seed: u64 = rand::rng().random();
    eprintln!("chaos seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut district = f.district;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut kills = 0;
    while f.db.done() < lines.len() {
        assert!(std::time::Instant::now() < deadline, "not done after 120 s (seed {seed}): {:?}", f.db.jobs());
        std::thread::sleep(Duration::from_millis(rng.random_range(200..900)));
        if kills == 0 || rng.random_bool(0.5) {
            district.kill();
            kills += 1;
            std::thread::sleep(Duration::from_millis(rng.random_range(50..600)));
            district.restart();
        } else {
            let s = &stations[rng.random_range(0..stations.len())];
            s.proxy.set(ProxyMode::Cut);
            std::thread::sleep(Duration::from_millis(rng.random_range(100..1500)));
            s.proxy.set(ProxyMode::Pass);
        }
    }
    assert!(kills > 0, "the chaos never killed the district");
    for s in &mut stations {
        s.stop();
    }
    let printed_by = judge_printed_once(&stations.iter().collect::<Vec<_>>(), &lines);
    assert_eq!(printed_by.len(), lines.len(), "seed {seed}");
    assert_results_match(&f.db.results(), &printed_by);
}

#[test]
fn an_urgent_job_is_the_next_card_even_when_the_buffer_is_full() {
    let f = Fleet::start();
    let all = region_lines("17.71.01.1001");
    let normal: Vec<String> = all.iter().filter(|l| l.contains("\"priority\":\"normal\"")).take(8).cloned().collect();
    let urgent: Vec<String> = all.iter().filter(|l| l.contains("\"priority\":\"urgent\"")).take(1).cloned().collect();
    assert_eq!((normal.len(), urgent.len()), (8, 1));
    f.import("normal.jsonl", &normal);
    let mut st = f.station(StationSetup {
        name: "kel-a",
        regions: &["17.71.01.1001"],
        time_scale: 0.1,
        district: "buffer = 3",
        ..Default::default()
    });
    st.start();
    wait_until(Duration::from_secs(30), "two cards out", || st.printed().len() >= 2);
    wait_until(Duration::from_secs(10), "the buffer full", || st.journal().buffered().expect("buffered") >= 3);
    f.import("urgent.jsonl", &urgent);
    let before = st.printed().len();
    let urgent_k = expected_cards(&urgent).into_keys().next().expect("k");
    wait_until(Duration::from_secs(30), "the urgent card", || st.printed().iter().any(|r| r.k_hash.as_deref() == Some(urgent_k.as_str())));
    st.stop();
    let order: Vec<_> = st.printed().into_iter().map(|r| r.k_hash.expect("k")).collect();
    let at = order.iter().position(|k| *k == urgent_k).expect("printed");
    // At most the card already in the printer came out between.
    assert!(at <= before + 1, "urgent card came out {} cards after its import", at - before);
}

pub fn state_at(st: &StationProcess, job: &str) -> Option<cetak::journal::JobState> {
    st.journal().job(job).expect("job").map(|j| j.state)
}

#[test]
fn district_commands_pause_cancel_release_and_resume_a_station() {
    use cetak::journal::JobState;
    let f = Fleet::start();
    let lines: Vec<String> = region_lines("17.71.01.1001").into_iter().take(6).collect();
    f.import("jobs.jsonl", &lines);
    let regions = &["17.71.01.1001"];
    let mut a = f.station(StationSetup { name: "kel-a", regions, time_scale: 0.05, ..Default::default() });
    let mut b = f.station(StationSetup { name: "kel-b", regions, ..Default::default() });
    a.start();
    wait_until(Duration::from_secs(30), "a first card", || !a.printed().is_empty());

    f.district.cli(&["command", "--station", "kel-a", "pause"]);
    wait_until(Duration::from_secs(10), "kel-a paused", || a.journal().pause_of(crate::support::PRINTER).expect("pause").is_some());
    let at_pause = a.printed().len();
    let cancelled = a.journal().jobs_in(JobState::Ready).expect("ready").into_iter().next().expect("a job waiting at kel-a").job_id;
    f.district.cli(&["command", "--station", "kel-a", "cancel", "--job", &cancelled]);
    wait_until(Duration::from_secs(10), "the cancelled job returned", || {
        matches!(state_at(&a, &cancelled), Some(JobState::Released | JobState::Reported | JobState::Purged))
    });
    f.district.cli(&["command", "--station", "kel-a", "release-held"]);
    wait_until(Duration::from_secs(10), "kel-a holds nothing", || a.journal().buffered().expect("buffered") == 0);
    std::thread::sleep(Duration::from_secs(2));
    assert!(a.printed().len() <= at_pause + 1, "kel-a started a card while paused");

    f.district.cli(&["command", "--station", "kel-a", "resume"]);
    wait_until(Duration::from_secs(10), "kel-a resumed", || a.journal().pause_of(crate::support::PRINTER).expect("pause").is_none());
    b.start();
    wait_until(Duration::from_secs(60), "the rest printed by kel-b", || f.db.done() == lines.len() - 1);
    a.stop();
    b.stop();
    let printed_by = judge_printed_once(&[&a, &b], &lines);
    assert!(!printed_by.contains_key(&cancelled), "the cancelled job was printed");
    assert_eq!(printed_by.len(), lines.len() - 1);
    let state = f.db.jobs().into_iter().find(|j| j.0 == cancelled).expect("job").1;
    assert_eq!(state, "cancelled");
    // Every command was carried out and acknowledged, and audited.
    assert_eq!(f.db.count("SELECT count(*) FROM commands WHERE acked_at IS NULL"), 0);
    assert_eq!(f.db.count("SELECT count(*) FROM audit WHERE action = 'command'"), 4);
}

#[test]
fn an_uncertain_card_is_reported_held_and_settled_by_the_operator() {
    let f = Fleet::start();
    let lines: Vec<String> = region_lines("17.71.01.1001").into_iter().take(2).collect();
    f.import("jobs.jsonl", &lines);
    let mut a = f.station(StationSetup {
        name: "kel-a",
        regions: &["17.71.01.1001"],
        emulator_args: &["--fault", "after_panel.3:jam@1"],
        ..Default::default()
    });
    a.start();
    wait_until(Duration::from_secs(30), "a held report at the district", || f.db.count("SELECT count(*) FROM held_reports") == 1);
    let uncertain = a.journal().jobs_in(cetak::journal::JobState::Uncertain).expect("jobs");
    assert_eq!(uncertain.len(), 1);
    // The clerk takes the jammed card out; the operator declares it spoiled;
    // the job prints again and the district gets one result for it.
    a.emulator.clerk("remove-card");
    let out = a.cetak().args(["jobs", "resolve", &uncertain[0].job_id, "--spoiled"]).output().expect("resolve");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_until(Duration::from_secs(30), "both jobs done", || f.db.done() == lines.len());
    a.stop();
    assert_eq!(judge_printed_once(&[&a], &lines).len(), lines.len());
    assert_eq!(f.db.results().len(), lines.len());
}

#[test]
fn payloads_past_retention_are_released_and_destroyed_on_both_sides() {
    // The district keeps a PRR 2 s after its final result here (30 days in
    // the field); the station keeps an unprinted one 2 s (7 days).
    let f = Fleet::start_with(&["--payload-retention-days", "0.000023"]);
    let printable: Vec<String> = region_lines("17.71.01.1001").into_iter().take(2).collect();
    let stuck: Vec<String> = region_lines("17.71.02.1002").into_iter().take(2).collect();
    f.import("printable.jsonl", &printable);
    f.import("stuck.jsonl", &stuck);
    let mut a = f.station(StationSetup { name: "kel-a", regions: &["17.71.01.1001"], ..Default::default() });
    // A printer with no blanks, and a retention shorter than its release.
    let mut c = f.station(StationSetup {
        name: "kel-c",
        regions: &["17.71.02.1002"],
        feeder: 0,
        district: "retention_s = 2\nprinter_broken_release_s = 3600",
        ..Default::default()
    });
    a.start();
    c.start();
    wait_until(Duration::from_secs(30), "kel-c releases what it kept too long", || {
        f.db.results().iter().filter(|r| r.1 == "kel-c" && r.3 == "released").count() == stuck.len()
    });
    wait_until(Duration::from_secs(30), "kel-a prints", || f.db.done() == printable.len());
    wait_until(Duration::from_secs(30), "the district destroys printed PRRs", || {
        f.db.count("SELECT count(*) FROM jobs WHERE state = 'done' AND prr IS NULL") == printable.len() as i64
    });
    let journal = c.journal();
    for job in journal.all_jobs().expect("jobs") {
        // Given back, not finished: `released`, with nothing personal left.
        assert_eq!(job.state, cetak::journal::JobState::Released, "{}", job.job_id);
        assert!(journal.payload(&job.job_id).is_err(), "{}: payload kept", job.job_id);
    }
    assert!(c.printed().is_empty());
    // Released jobs wait, with their PRR, for a station that can print:
    // kel-c, the region's only one, once its printer has blanks again.
    assert_eq!(f.db.count("SELECT count(*) FROM jobs WHERE state = 'pending' AND prr IS NOT NULL"), stuck.len() as i64);
    c.emulator.clerk("load 50");
    f.wait_done(printable.len() + stuck.len(), Duration::from_secs(60), "kel-c prints the jobs it gave back", &[&a, &c]);
    a.stop();
    c.stop();
    let printed_by = judge_printed_once(&[&a, &c], &[printable, stuck.clone()].concat());
    for job in ids(&stuck) {
        assert_eq!(printed_by.get(&job).map(String::as_str), Some("kel-c"), "{job}");
    }
}

#[test]
fn under_a_scaled_clock_seven_days_of_retention_release_the_jobs_held() {
    let f = Fleet::start();
    let stuck: Vec<String> = region_lines("17.71.02.1002").into_iter().take(2).collect();
    f.import("stuck.jsonl", &stuck);
    // The default retention, 7 days, passes in about 3 s at this scale; the
    // printer has no blanks, and its broken-printer release is far away.
    let mut c = f.station(StationSetup {
        name: "kel-c",
        regions: &["17.71.02.1002"],
        feeder: 0,
        district: "clock_scale = 200000\nprinter_broken_release_s = 86400",
        ..Default::default()
    });
    let started = std::time::Instant::now();
    c.start();
    wait_until(Duration::from_secs(30), "the jobs released for retention", || {
        f.db.count("SELECT count(*) FROM results WHERE station = 'kel-c' AND outcome = 'released' AND code = 'retention'") == 2
    });
    assert!(started.elapsed() >= Duration::from_secs(2), "released before 7 scaled days");
    c.stop();
    assert!(c.printed().is_empty());
}

impl Db {
    fn key_of(&self, job: &str) -> String {
        let (k,): (Option<String>,) = self
            .rt
            .block_on(sqlx::query_as("SELECT envelope->>'key_id' FROM jobs WHERE job_id = $1").bind(job).fetch_one(&self.pool))
            .expect("key");
        k.unwrap_or_default()
    }
}

pub fn pause(f: &Fleet, st: &StationProcess, on: bool) {
    f.district.cli(&["command", "--station", &st.name, if on { "pause" } else { "resume" }]);
    wait_until(Duration::from_secs(10), "the station hears the command", || {
        st.journal().pause_of(crate::support::PRINTER).expect("pause").is_some() == on
    });
}

pub fn hold(st: &StationProcess, n: u32) {
    wait_until(Duration::from_secs(15), "the station holds its jobs", || st.journal().buffered().expect("buffered") >= n);
}

#[test]
fn rotated_keys_keep_working_and_jobs_of_a_revoked_key_are_signed_anew_not_stranded() {
    let f = Fleet::start();
    let jobs: Vec<String> = region_lines("17.71.01.1001").into_iter().take(5).collect();
    let mut a = f.station(StationSetup { name: "kel-a", regions: &["17.71.01.1001"], ..Default::default() });
    a.start();
    pause(&f, &a, true);
    f.import("before.jsonl", &jobs[0..1]);
    hold(&a, 1);
    let k1 = f.db.key_of(&ids(&jobs[0..1])[0]);

    f.district.cli(&["keys", "rotate"]);
    wait_until(Duration::from_secs(10), "the new key reaches the station", || {
        a.journal().enrolment().expect("e").is_some_and(|e| e.keys.len() == 2)
    });
    f.import("after.jsonl", &jobs[1..3]);
    hold(&a, 3);
    let k2 = f.db.key_of(&ids(&jobs[1..2])[0]);
    assert_ne!(k1, k2, "jobs after the rotation are signed with the new key");
    pause(&f, &a, false);
    f.wait_done(3, Duration::from_secs(30), "jobs of both keys printed", &[&a]);

    // k2 signs two more jobs, held; then k2 is revoked before they print.
    pause(&f, &a, true);
    f.import("doomed.jsonl", &jobs[3..5]);
    hold(&a, 2);
    f.district.cli(&["keys", "revoke", &k2]);
    wait_until(Duration::from_secs(10), "the revocation reaches the station", || {
        a.journal().enrolment().expect("e").is_some_and(|e| e.keys.iter().any(|k| k.key_id == k2 && k.revoked))
    });
    // The district signed both anew with its current key: the station took
    // the new envelopes and prints them; nothing is stranded, nothing printed
    // under the revoked key.
    for job in ids(&jobs[3..5]) {
        assert_ne!(f.db.key_of(&job), k2, "{job} still carries the revoked key");
    }
    assert_eq!(f.db.count("SELECT count(*) FROM audit WHERE action = 'resign'"), 2);
    pause(&f, &a, false);
    f.wait_done(5, Duration::from_secs(30), "the re-signed jobs printed", &[&a]);
    a.stop();
    let printed = judge_printed_once(&[&a], &jobs);
    assert_eq!(printed.len(), 5, "{printed:?}");
    assert_eq!(f.db.count("SELECT count(*) FROM results WHERE code LIKE 'envelope.%'"), 0, "{:?}\n{}", f.db.results(), a.log_tail());
    // Nothing personal of any job appears in the agent's log.
    let log = std::fs::read_to_string(a.dir.path().join("agent.log")).expect("log");
    assert!(log.contains("signed the job anew"), "{log}");
    for line in &jobs {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        for key in ["nik", "nama", "alamat"] {
            let value = v["card"][key].as_str().expect(key);
            assert!(!log.contains(value), "the {key} of a job is in the agent's log");
        }
    }
}

#[test]
fn sisters_share_a_region_fairly_and_a_not_ready_printer_gets_no_work() {
    let f = Fleet::start();
    let jobs: Vec<String> = region_lines("17.71.01.1001").into_iter().take(12).collect();
    let regions = &["17.71.01.1001"];
    let setup = |name| StationSetup { name, regions, time_scale: 0.02, ..Default::default() };
    let mut a = f.station(setup("kel-a"));
    let mut b = f.station(setup("kel-b"));
    let mut broken = f.station(StationSetup { name: "kel-x", regions, feeder: 0, ..Default::default() });
    for s in [&mut a, &mut b, &mut broken] {
        s.start();
    }
    wait_until(Duration::from_secs(20), "every station has told its printer's state", || {
        f.db.count("SELECT count(*) FROM stations WHERE last_status->'printers' != '[]'::jsonb") == 3
            && f.db.count("SELECT count(*) FROM stations WHERE NOT ready") == 1
    });
    f.import("jobs.jsonl", &jobs);
    f.wait_done(jobs.len(), Duration::from_secs(60), "all printed", &[&a, &b, &broken]);
    for s in [&mut a, &mut b, &mut broken] {
        s.stop();
    }
    judge_printed_once(&[&a, &b, &broken], &jobs);
    let (na, nb) = (a.printed().len() as i64, b.printed().len() as i64);
    assert!((na - nb).abs() <= 1, "split {na} / {nb} of {}", jobs.len());
    assert!(broken.journal().all_jobs().expect("jobs").is_empty(), "the station with no ready printer got work");
}

#[test]
fn a_stopped_station_says_goodbye_and_its_sister_gets_the_whole_region() {
    // Found by the benchmark report: a station stopped minutes ago still
    // counted as a healthy sister (seen within 5 minutes), so the one left
    // got half the region's jobs and ran dry through outages.
    let f = Fleet::start();
    let regions = &["17.71.01.1001"];
    let mut a = f.station(StationSetup { name: "kel-a", regions, ..Default::default() });
    // kel-b prints slowly (20 s a card): what it holds is what it was given.
    let mut b = f.station(StationSetup { name: "kel-b", regions, time_scale: 1.0, district: "buffer = 10", ..Default::default() });
    a.start();
    b.start();
    wait_until(Duration::from_secs(20), "both stations ready at the district", || {
        f.db.count("SELECT count(*) FROM stations WHERE ready AND last_seen IS NOT NULL") == 2
    });
    a.stop();
    assert_eq!(f.db.count("SELECT count(*) FROM stations WHERE station = 'kel-a' AND ready"), 0, "kel-a said goodbye as it stopped");
    let lines: Vec<String> = region_lines("17.71.01.1001").into_iter().take(8).collect();
    f.import("jobs.jsonl", &lines);
    wait_until(Duration::from_secs(20), "kel-b holds all eight jobs", || held_ids(&b).len() == lines.len());
    b.stop();
}

#[test]
fn a_dry_station_gets_its_sisters_unrendered_jobs() {
    let f = Fleet::start();
    let jobs: Vec<String> = region_lines("17.71.01.1001").into_iter().take(12).collect();
    let regions = &["17.71.01.1001"];
    // kel-a is slow and alone at first: it takes everything.
    let mut a = f.station(StationSetup { name: "kel-a", regions, time_scale: 0.1, ..Default::default() });
    a.start();
    f.import("jobs.jsonl", &jobs);
    hold(&a, 10);
    let mut b = f.station(StationSetup { name: "kel-b", regions, ..Default::default() });
    b.start();
    f.wait_done(jobs.len(), Duration::from_secs(60), "all printed", &[&a, &b]);
    a.stop();
    b.stop();
    judge_printed_once(&[&a, &b], &jobs);
    assert!(b.printed().len() >= 3, "the dry sister printed {} of {}", b.printed().len(), jobs.len());
    let released = f.db.count("SELECT count(*) FROM results WHERE station = 'kel-a' AND outcome = 'released' AND code = 'sister_dry'");
    assert!(released >= 3, "{released}");
}

#[test]
fn an_officers_reassignment_reaches_a_cut_off_station_which_drops_the_job() {
    let f = Fleet::start();
    let jobs: Vec<String> = region_lines("17.71.01.1001").into_iter().take(2).collect();
    let regions = &["17.71.01.1001"];
    // kel-a cannot print (no blanks) and is the only station seen: it
    // takes both jobs, then its line is cut.
    let mut a = f.station(StationSetup { name: "kel-a", regions, feeder: 0, ..Default::default() });
    a.start();
    f.import("jobs.jsonl", &jobs);
    hold(&a, 2);
    a.proxy.set(ProxyMode::Cut);
    let mut b = f.station(StationSetup { name: "kel-b", regions, ..Default::default() });
    let moved = ids(&jobs)[0].clone();
    let out = f.district.cli(&["reassign", &moved, "--to", "kel-b", "--reason", "kel-a printer out of blanks, line down"]);
    assert!(out.contains("reassigned to kel-b"), "{out}");
    b.start();
    wait_until(Duration::from_secs(30), "kel-b prints the reassigned job", || b.printed().len() == 1);
    a.proxy.set(ProxyMode::Pass);
    wait_until(Duration::from_secs(30), "kel-a drops it on return", || {
        f.db.count("SELECT count(*) FROM results WHERE station = 'kel-a' AND flagged = 'reassigned'") == 1
    });
    a.stop();
    b.stop();
    let printed = judge_printed_once(&[&a, &b], &jobs);
    assert_eq!(printed.get(&moved).map(String::as_str), Some("kel-b"));
    assert!(a.printed().is_empty());
    assert_eq!(f.db.count("SELECT count(*) FROM audit WHERE action = 'reassign'"), 1);
}

#[test]
fn a_card_printed_before_the_station_learned_of_its_reassignment_is_flagged() {
    let f = Fleet::start();
    let jobs: Vec<String> = region_lines("17.71.01.1001").into_iter().take(2).collect();
    let regions = &["17.71.01.1001"];
    // kel-a is slow (5 s a card) and alone: it takes both jobs.
    let mut a = f.station(StationSetup { name: "kel-a", regions, time_scale: 0.25, ..Default::default() });
    a.start();
    f.import("jobs.jsonl", &jobs);
    hold(&a, 1);
    wait_until(Duration::from_secs(10), "kel-a holds both", || held_ids(&a).len() == 2);
    a.proxy.set(ProxyMode::Cut);
    let mut b = f.station(StationSetup { name: "kel-b", regions, ..Default::default() });
    // The job kel-a will print second, moved while kel-a cannot hear.
    // (Ready, or still Assigned while the first card prints.)
    let waiting = |state| a.journal().jobs_in(state).expect("jobs");
    let second = [waiting(cetak::journal::JobState::Ready), waiting(cetak::journal::JobState::Assigned)]
        .concat()
        .last()
        .expect("a waiting job")
        .job_id
        .clone();
    f.district.cli(&["reassign", &second, "--to", "kel-b", "--reason", "kel-a unreachable"]);
    b.start();
    wait_until(Duration::from_secs(30), "kel-a prints both, unaware", || a.printed().len() == 2);
    wait_until(Duration::from_secs(30), "kel-b prints the reassigned job", || b.printed().len() == 1);
    a.proxy.set(ProxyMode::Pass);
    wait_until(Duration::from_secs(30), "kel-a's late print reaches the district, flagged", || {
        f.db.count("SELECT count(*) FROM results WHERE station = 'kel-a' AND outcome = 'printed' AND flagged = 'reassigned'") == 1
    });
    a.stop();
    b.stop();
    // Two genuine cards of one job exist: the district knows which to
    // withhold at collection.
    let expected = expected_cards(&jobs);
    let job_of = |r: &cetak_drivers::emulator::PhysicalRecord| expected.get(r.k_hash.as_deref().unwrap_or_default()).map(|j| j.0.clone());
    assert_eq!(b.printed().iter().filter_map(job_of).collect::<Vec<_>>(), vec![second.clone()]);
    assert_eq!(a.printed().iter().filter_map(job_of).filter(|j| *j == second).count(), 1);
    let flagged: Vec<_> = f.db.results().into_iter().filter(|r| r.4.is_some()).collect();
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert_eq!((flagged[0].0.as_str(), flagged[0].1.as_str()), (second.as_str(), "kel-a"));
    let applied = f.db.jobs().into_iter().find(|j| j.0 == second).expect("job");
    assert_eq!((applied.2.as_deref(), applied.3.as_deref()), (Some("printed"), Some("kel-b")), "the district credits kel-b's card");
}

#[test]
fn a_ledger_rewritten_and_rehashed_at_the_station_is_caught_by_the_district() {
    let f = Fleet::start();
    let jobs: Vec<String> = region_lines("17.71.01.1001").into_iter().take(3).collect();
    f.import("jobs.jsonl", &jobs);
    let mut a = f.station(StationSetup { name: "kel-a", regions: &["17.71.01.1001"], ..Default::default() });
    a.start();
    f.wait_done(3, Duration::from_secs(30), "printed", &[&a]);
    wait_until(Duration::from_secs(20), "the ledger reported", || {
        f.db.count("SELECT count(*) FROM stock_events WHERE station = 'kel-a' AND kind = 'blank_used'") == 3
    });
    a.stop();
    // An insider hides a used blank and rebuilds the whole chain so that
    // it verifies locally.
    let mut rows = a.journal().ledger_rows().expect("rows");
    if let Some(r) = rows.iter_mut().find(|r| r.kind == "blank_used") {
        r.quantity = 0;
    }
    let db = rusqlite::Connection::open(a.state_dir().join("journal.db")).expect("db");
    let mut prev = cetak_model::ledger::ZERO_HASH.to_string();
    for r in &rows {
        let hash = cetak_model::ledger::event_hash(
            &prev,
            r.at,
            &r.kind,
            &r.location,
            &r.item,
            r.quantity,
            r.job_id.as_deref(),
            r.attempt,
            &r.detail,
        );
        db.execute(
            "UPDATE ledger SET quantity = ?2, prev_hash = ?3, hash = ?4 WHERE id = ?1",
            rusqlite::params![r.id, r.quantity, prev, hash],
        )
        .expect("rewrite");
        prev = hash;
    }
    drop(db);
    let local = a.cetak().args(["stock", "verify"]).output().expect("verify");
    assert!(local.status.success(), "the rewritten chain verifies locally: only the district can tell");
    a.start();
    wait_until(Duration::from_secs(20), "the district's alarm", || {
        f.db.count("SELECT count(*) FROM stock_alarms WHERE station = 'kel-a'") >= 1
    });
    a.stop();
    let table = f.district.cli(&["stock"]);
    assert!(table.lines().any(|l| l.starts_with("kel-a") && l.contains("LEDGER REWRITTEN")), "{table}");
    // The district kept the history it had: three blanks used.
    assert_eq!(f.db.count("SELECT count(*) FROM stock_events WHERE station = 'kel-a' AND kind = 'blank_used' AND quantity = -1"), 3);
}

#[test]
fn a_station_whose_clock_fell_back_years_still_reaches_its_district() {
    let f = Fleet::start();
    let regions = &["17.71.01.1001"];
    let mut a = f.station(StationSetup { name: "kel-a", regions, ..Default::default() });
    // Once with the true clock: the district's time is journalled.
    let enrolled_at = a.journal().last_district_ms().ok().flatten().unwrap_or(0);
    a.start();
    wait_until(Duration::from_secs(20), "a contact after enrolment", || {
        a.journal().last_district_ms().ok().flatten().is_some_and(|t| t > enrolled_at)
    });
    a.stop();
    // Then with the PC's clock three years back (a dead CMOS battery):
    // the district's certificate is "not yet valid" by that clock.
    let env = crate::support::fleet::faketime_env("-3y");
    a.start_with_env(&env.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
    let jobs: Vec<String> = region_lines("17.71.01.1001").into_iter().take(1).collect();
    f.import("jobs.jsonl", &jobs);
    wait_until(Duration::from_secs(30), "the job printed through TLS", || a.printed().len() == 1);
    f.wait_done(1, Duration::from_secs(30), "the result reported", &[&a]);
    a.stop();
    assert!(!a.log_tail().contains("NotValidYet"), "{}", a.log_tail());
}

#[test]
fn every_assignment_result_and_stock_report_is_audited_and_the_audit_cannot_be_changed() {
    let f = Fleet::start();
    let jobs: Vec<String> = region_lines("17.71.01.1001").into_iter().take(2).collect();
    f.import("jobs.jsonl", &jobs);
    let mut a = f.station(StationSetup { name: "kel-a", regions: &["17.71.01.1001"], ..Default::default() });
    a.start();
    f.wait_done(2, Duration::from_secs(30), "printed", &[&a]);
    wait_until(Duration::from_secs(20), "the stock report", || {
        f.db.count("SELECT count(*) FROM audit WHERE action = 'stock_report' AND actor = 'station:kel-a'") >= 1
    });
    a.stop();
    assert_eq!(f.db.count("SELECT count(*) FROM audit WHERE action = 'import'"), 1);
    assert_eq!(f.db.count("SELECT count(*) FROM audit WHERE action = 'assign' AND actor = 'station:kel-a'"), 2);
    assert_eq!(f.db.count("SELECT count(*) FROM audit WHERE action = 'result' AND actor = 'station:kel-a'"), 2);
    // The application's role (here the cluster's owner, the most it could
    // be) can neither change nor delete a row, nor empty the table.
    let before = f.db.count("SELECT count(*) FROM audit");
    for sql in ["UPDATE audit SET actor = 'someone else'", "DELETE FROM audit WHERE action = 'import'", "TRUNCATE audit"] {
        let e = f.db.execute(sql).expect_err(sql);
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    assert_eq!(f.db.count("SELECT count(*) FROM audit"), before);
    assert_eq!(f.db.count("SELECT count(*) FROM audit WHERE actor = 'someone else'"), 0);
}

/// A fleet with one job, held by a station with no blanks (it prints
/// nothing), stopped: the job's id and epoch.
fn one_job_held_with_no_blanks() -> (Fleet, StationProcess, String, i64) {
    let f = Fleet::start();
    let jobs: Vec<String> = region_lines("17.71.01.1001").into_iter().take(1).collect();
    f.import("jobs.jsonl", &jobs);
    let mut a = f.station(StationSetup { name: "kel-a", regions: &["17.71.01.1001"], feeder: 0, ..Default::default() });
    a.start();
    hold(&a, 1);
    a.stop();
    let (own, epoch) = a.journal().holding().expect("holding").remove(0);
    (f, a, own, epoch)
}

/// Writes an outbox row into a stopped station's journal by hand.
fn write_outbox_row(a: &StationProcess, kind: &str, job: &str, body: &serde_json::Value) {
    let db = rusqlite::Connection::open(a.state_dir().join("journal.db")).expect("journal");
    db.execute(
        "INSERT INTO outbox (kind, job_id, body, created_at) VALUES (?1, ?2, ?3, 0)",
        rusqlite::params![kind, job, body.to_string()],
    )
    .expect("an outbox row");
}

/// A held report the district refuses (a job it never gave this station:
/// here a row written into the journal by hand) is kept flagged at the
/// station; the station's own held report in the same batch is taken, and
/// nothing waits behind the refused one.
#[test]
fn a_held_report_the_district_refuses_is_kept_flagged_and_holds_back_nothing() {
    let (f, mut a, own, epoch) = one_job_held_with_no_blanks();
    for (job, epoch) in [(own.as_str(), epoch), ("no-such-job", 1)] {
        let body = serde_json::json!({"job_id": job, "state": "uncertain", "fault": "jam", "attempt": 1, "epoch": epoch});
        write_outbox_row(&a, "held", job, &body);
    }
    a.start();
    wait_until(Duration::from_secs(30), "both held reports are settled", || {
        a.journal().pending_outbox().expect("outbox").iter().all(|m| m.kind != "held")
    });
    assert_eq!(f.db.count("SELECT count(*) FROM held_reports"), 1, "the station's own is taken");
    assert_eq!(a.journal().flagged_outbox().expect("flagged"), [(Some("no-such-job".to_string()), "not_yours".to_string())]);
    a.stop();
}

/// An outbox row the station cannot read (here a result of an outcome no
/// version knows, written by hand) is set aside, flagged for the operator
/// in `status`, and never sent as something else: the reporter once sent
/// any unknown outcome as `rejected`, which the district takes as final.
#[test]
fn an_outbox_message_the_station_cannot_read_is_set_aside_not_sent_as_another() {
    let (f, mut a, own, _) = one_job_held_with_no_blanks();
    write_outbox_row(&a, "result", &own, &serde_json::json!({"job_id": own, "result": "printed_twice", "attempt": 1}));
    a.start();
    wait_until(Duration::from_secs(30), "the unreadable row is settled", || {
        a.journal().pending_outbox().expect("outbox").iter().all(|m| m.kind != "result")
    });
    assert_eq!(a.journal().flagged_outbox().expect("flagged"), [(Some(own.clone()), "unreadable".to_string())]);
    let job = f.db.jobs().into_iter().find(|j| j.0 == own).expect("the job at the district");
    assert!(job.1 != "done" && job.2.is_none(), "the district took no result for {own}: {job:?}");
    let status = a.cetak().arg("status").output().expect("status");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains(&format!("message for the district about {own} cannot be read")), "{text}");
    a.stop();
}

/// A district's pause reads as a sentence in both languages, and its
/// resume is recorded as the district's (it was recorded as an operator
/// action by uid 0, root, and reached the district as such).
#[test]
fn a_district_pause_reads_in_both_languages_and_its_resume_is_the_district_s() {
    let (f, mut a, _, _) = one_job_held_with_no_blanks();
    a.start();
    f.district.cli(&["command", "--station", "kel-a", "pause"]);
    wait_until(Duration::from_secs(10), "kel-a paused", || a.journal().pause_of(crate::support::PRINTER).expect("pause").is_some());
    for (lang, words) in [("en", "Paused by the district"), ("id", "Dijeda oleh Disdukcapil")] {
        let out = a.cetak().args(["--language", lang, "status"]).output().expect("status");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(words) && !text.contains("pause.district"), "{lang}: {text}");
    }
    f.district.cli(&["command", "--station", "kel-a", "resume"]);
    wait_until(Duration::from_secs(10), "kel-a resumed", || a.journal().pause_of(crate::support::PRINTER).expect("pause").is_none());
    let journal = a.journal();
    let (who, action, _) = journal.actions().expect("actions").pop().expect("an action");
    assert_eq!(action, "resume");
    assert!(matches!(who, cetak::journal::Actor::District { .. }), "{who:?}");
    assert!(journal.operator_actions().expect("actions").iter().all(|(_, action, _)| action != "resume"), "a person's resume");
    let event = journal
        .outbox_history()
        .expect("outbox")
        .into_iter()
        .filter_map(|m| serde_json::from_str::<Value>(&m.body).ok())
        .rfind(|b| b["event"] == "operator_action")
        .expect("the resume's event");
    assert_eq!((event["actor"]["kind"].as_str(), event["uid"].as_u64()), (Some("district"), None), "{event}");
    a.stop();
}

/// An office that prints before it books its delivery of blanks: printing
/// goes on, and the district hears of it once a day, not at every
/// heartbeat (the stock never shows as negative: `service::metrics_...`).
#[test]
fn printing_with_no_stock_booked_goes_on_and_tells_the_district_once_a_day() {
    let f = Fleet::start();
    let jobs: Vec<String> = region_lines("17.71.01.1001").into_iter().take(3).collect();
    f.import("jobs.jsonl", &jobs);
    let mut a = f.station(StationSetup { name: "kel-a", regions: &["17.71.01.1001"], ..Default::default() });
    a.start();
    f.wait_done(3, Duration::from_secs(30), "printed with no stock booked", &[&a]);
    let said = || f.db.count("SELECT count(*) FROM station_events WHERE station = 'kel-a' AND body->>'event' = 'stock_not_booked'");
    wait_until(Duration::from_secs(20), "the district told", || said() == 1);
    // Many heartbeats later (one a second here), still once.
    std::thread::sleep(Duration::from_secs(4));
    a.stop();
    assert_eq!(said(), 1, "once a day");
}
