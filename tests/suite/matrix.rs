//! The crash matrix: the real `cetak run`, its emulated printer as a
//! process of its own on TCP, and the real district on a throw-away
//! PostgreSQL. For each fail point (every journal transition, ledger write,
//! render, encode, protocol step of a card and outbox send) the agent kills
//! itself with SIGKILL; in the `office` mode the printer loses its power
//! too. Everything is restarted, the operator is played from the printer's
//! physical log, the work finishes, and the run is judged from the physical
//! log and the district's tables: every job printed exactly once, every
//! blank that left the feeder booked to one attempt, the ledger chain
//! intact, the district's results those of the physical log.
//!
//! `CETAK_CRASH_SEEDS` (1 in CI) sets the runs a point and mode; each seed
//! strikes a different card. The table (point, mode, runs, reached,
//! operator decisions, violations) is printed to standard error;
//! `CETAK_CRASH_ONLY=TEXT` runs only the points whose name holds TEXT, and
//! `CETAK_CRASH_KEEP=1` keeps the folders of a run with a violation. A run
//! that fails may leave jobs at the district that the next run's station
//! then takes ("a card that is no accepted job's"): read the first
//! violation. The long run (docs/crash-matrix.md):
//! `CETAK_CRASH_SEEDS=3 cargo test --release --features cetak/failpoints
//! --test suite crash_matrix -- --nocapture`.

#[cfg(feature = "failpoints")]
mod with_failpoints {
    use std::collections::HashSet;
    use std::os::unix::process::ExitStatusExt;
    use std::panic::AssertUnwindSafe;
    use std::time::{Duration, Instant};

    use cetak_district::pgtemp::TempCluster;

    use crate::fleet::{assert_results_match, judge_printed_once, Db};
    use crate::support::fleet::{DistrictProcess, StationProcess, StationSetup};

    const JOBS: usize = 3;
    const REGION: &str = "17.71.01.1001";

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Mode {
        /// Only the agent dies.
        Agent,
        /// The office loses power: the agent and the printer die together.
        Office,
    }

    /// One run's stages: the fail point of each start in turn (a second
    /// point strikes during recovery); the last start has none.
    struct Run {
        label: String,
        stages: Vec<String>,
        mode: Mode,
        seed: u64,
        office: Office,
    }

    /// The office around the station of a run.
    #[derive(Clone, Copy, Default)]
    struct Office {
        /// A second printer on the PC, one that counts at eject.
        two_printers: bool,
        /// What the clerk does at the printers while the agent is down
        /// (`test-card`, `remove-card`, `reset-counter 0`), on printer-1
        /// or, with `all`, on every printer.
        between: Option<&'static str>,
        all: bool,
        /// The village: the station alone in its region, its release limit
        /// 1 s; after a power cut (office mode) its printers stay off 3 s
        /// while the agent runs again and the district is down.
        village: bool,
    }

    #[derive(Default)]
    struct Outcome {
        /// Stages whose fail point killed the agent.
        reached: usize,
        decisions: usize,
        violations: Vec<String>,
    }

    /// One line of the table: a point in a mode, summed over its seeds.
    struct Row {
        label: String,
        mode: Mode,
        runs: usize,
        /// Runs in which every stage's point killed the agent.
        reached: usize,
        decisions: usize,
        violations: Vec<String>,
    }

    /// One district for a whole table of runs; each run has a station of
    /// its own and its own jobs (the generator's seed is in the job ids).
    struct Matrix {
        _cluster: TempCluster,
        tmp: tempfile::TempDir,
        district: DistrictProcess,
        db: Db,
        rows: Vec<Row>,
        runs: u64,
    }

    impl Matrix {
        fn start() -> Self {
            let cluster = TempCluster::start().expect("a throw-away PostgreSQL");
            let tmp = tempfile::tempdir().expect("tmp");
            let district = DistrictProcess::start(&cluster.url(), tmp.path());
            let db = Db::open(&cluster.url());
            Self { _cluster: cluster, tmp, district, db, rows: Vec::new(), runs: 0 }
        }

        /// Jobs of this run: `JOBS` PRRs of the region, ids unique to it.
        fn jobs(&mut self) -> Vec<String> {
            self.runs += 1;
            let all = cetak_model::generator::generate(1000 + self.runs, 400, cetak::clock::today());
            let lines: Vec<String> = all.iter().filter(|v| v["kode_wilayah"] == REGION).take(JOBS).map(|v| v.to_string()).collect();
            assert_eq!(lines.len(), JOBS, "the generator gives {JOBS} jobs of {REGION}");
            let f = self.tmp.path().join(format!("jobs-{}.jsonl", self.runs));
            std::fs::write(&f, lines.join("\n")).expect("write");
            let out = self.district.cli(&["import", f.to_str().expect("path"), "--regency", "17.71"]);
            assert!(out.starts_with(&format!("pending {JOBS}")), "{out}");
            lines
        }

        fn run(&mut self, run: &Run) -> Option<Outcome> {
            if std::env::var("CETAK_CRASH_ONLY").is_ok_and(|only| !run.label.contains(&only)) {
                return None;
            }
            let lines = self.jobs();
            let name = format!("kel-m{}", self.runs);
            let eject: &[&str] = &["--count-at-eject"];
            let mut st = StationProcess::enrol(
                &self.district,
                &StationSetup {
                    name: &name,
                    regions: &[REGION],
                    time_scale: 0.0,
                    district: if run.office.village { "buffer = 3\nprinter_broken_release_s = 1" } else { "buffer = 3" },
                    second_printer: run.office.two_printers.then_some(eject),
                    ..Default::default()
                },
            );
            let mut out = Outcome::default();
            let ids: HashSet<String> =
                lines.iter().map(|l| cetak_model::RawPrr::parse(l).expect("prr").job_id().expect("id").to_string()).collect();
            let stages: Vec<Option<&str>> = run.stages.iter().map(|s| Some(s.as_str())).chain([None]).collect();
            let mut done = false;
            let mut power_back: Option<Instant> = None;
            for stage in stages {
                if done {
                    // Finished without reaching this stage's point: nothing
                    // is left for a later start to do (and a SIGTERM in a
                    // process's first milliseconds, before `main`, kills it).
                    break;
                }
                match stage {
                    Some(point) => st.start_with_env(&[("CETAK_FAILPOINT", point)]),
                    None => st.start(),
                }
                let limit = Instant::now() + Duration::from_secs(60);
                let mut finished_at: Option<Instant> = None;
                loop {
                    if power_back.is_some_and(|t| Instant::now() >= t) {
                        power_back = None;
                        for (_, e) in st.printers_mut() {
                            e.restart();
                        }
                        self.district.restart();
                    }
                    if let Some(status) = st.exited() {
                        if status.signal() == Some(9) && stage.is_some() {
                            out.reached += 1;
                            if run.mode == Mode::Office && run.office.village {
                                // Off for the night; the district is down
                                // when the power comes back.
                                for (_, e) in st.printers_mut() {
                                    e.kill();
                                }
                                self.district.kill();
                                power_back = Some(Instant::now() + Duration::from_secs(3));
                            } else if run.mode == Mode::Office {
                                for (_, e) in st.printers_mut() {
                                    e.restart();
                                }
                            }
                            if let Some(action) = run.office.between {
                                // A printer may refuse (a test card with a
                                // card inside one that counts at eject).
                                for (_, e) in st.printers_mut().take(if run.office.all { usize::MAX } else { 1 }) {
                                    let _ = e.try_clerk(action);
                                }
                            }
                        } else {
                            out.violations.push(format!("{stage:?}: the agent ended with {status}:\n{}", st.log_tail()));
                        }
                        break;
                    }
                    out.decisions += st.settle_uncertain();
                    if self.finished(&st, &ids) {
                        // Done without the fail point (it was not reached),
                        // or done for good: give a late point a moment.
                        let at = *finished_at.get_or_insert_with(Instant::now);
                        if stage.is_none() || at.elapsed() > Duration::from_secs(1) {
                            st.stop();
                            done = true;
                            break;
                        }
                    }
                    if Instant::now() > limit {
                        out.violations.push(format!(
                            "{stage:?}: not finished after 60 s: district {:?}\n{}",
                            self.db.jobs().into_iter().filter(|j| ids.contains(&j.0)).collect::<Vec<_>>(),
                            st.log_tail()
                        ));
                        st.kill();
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            if out.violations.is_empty() {
                self.judge(&st, &lines, &ids, &mut out);
            }
            if !out.violations.is_empty() && std::env::var("CETAK_CRASH_KEEP").is_ok() {
                let keep = std::env::temp_dir().join(format!("cetak-crash-{name}"));
                let _ = std::process::Command::new("cp").arg("-a").arg(st.dir.path()).arg(&keep).status();
                eprintln!("kept for a look: {}", keep.display());
            }
            Some(out)
        }

        /// `run`, with a panic of the harness itself (a stop that fails,
        /// an operator's command refused) counted as the run's violation.
        fn run_caught(&mut self, run: &Run) -> Option<Outcome> {
            std::panic::catch_unwind(AssertUnwindSafe(|| self.run(run)))
                .unwrap_or_else(|e| Some(Outcome { violations: vec![format!("harness: {}", panic_message(&e))], ..Outcome::default() }))
        }

        /// Every job done at the district and the station's outbox empty.
        fn finished(&self, st: &StationProcess, ids: &HashSet<String>) -> bool {
            let done = self.db.jobs().iter().filter(|j| ids.contains(&j.0) && j.1 == "done").count();
            done == ids.len() && st.journal().pending_outbox().expect("outbox").is_empty()
        }

        /// The judges; each failure is a violation of this run.
        fn judge(&self, st: &StationProcess, lines: &[String], ids: &HashSet<String>, out: &mut Outcome) {
            let mut check = |what: &str, f: &mut dyn FnMut()| {
                if let Err(e) = std::panic::catch_unwind(AssertUnwindSafe(f)) {
                    out.violations.push(format!("{what}: {}", panic_message(&e)));
                }
            };
            check("blanks and twice", &mut || st.judge_printers());
            check("kept", &mut || {
                let released: Vec<_> = self.db.results().into_iter().filter(|r| ids.contains(&r.0) && r.3 == "released").collect();
                assert!(released.is_empty(), "a station alone in its region gave work back: {released:?}");
            });
            check("district", &mut || {
                let printed_by = judge_printed_once(&[st], lines);
                assert_eq!(printed_by.len(), lines.len(), "every job printed once");
                let results: Vec<_> = self.db.results().into_iter().filter(|r| ids.contains(&r.0)).collect();
                assert_results_match(&results, &printed_by);
            });
        }

        fn record(&mut self, run: &Run, o: Option<Outcome>) {
            let Some(o) = o else { return };
            let row = self.rows.iter_mut().find(|r| r.label == run.label && r.mode == run.mode);
            let row = match row {
                Some(r) => r,
                None => {
                    self.rows.push(Row {
                        label: run.label.clone(),
                        mode: run.mode,
                        runs: 0,
                        reached: 0,
                        decisions: 0,
                        violations: Vec::new(),
                    });
                    self.rows.last_mut().expect("row")
                }
            };
            row.runs += 1;
            row.reached += usize::from(o.reached == run.stages.len());
            row.decisions += o.decisions;
            row.violations.extend(o.violations.into_iter().map(|v| format!("seed {}: {v}", run.seed)));
        }

        /// Prints the table and fails on any violation or on a point no
        /// run reached.
        fn report(&self, title: &str) {
            let mut t = format!(
                "\ncrash matrix: {title}\n| point | mode | runs | reached | operator decisions | violations |\n|---|---|---|---|---|---|\n"
            );
            for Row { label, mode, runs, reached, decisions, violations: v } in &self.rows {
                t.push_str(&format!("| {label} | {mode:?} | {runs} | {reached} | {decisions} | {} |\n", v.len()));
            }
            let runs: usize = self.rows.iter().map(|r| r.runs).sum();
            let violations: Vec<&String> = self.rows.iter().flat_map(|r| &r.violations).collect();
            t.push_str(&format!("total: {runs} runs, {} violations\n", violations.len()));
            eprintln!("{t}");
            assert!(violations.is_empty(), "{t}\n{}", violations.iter().map(|v| v.as_str()).collect::<Vec<_>>().join("\n---\n"));
            let unreached: Vec<_> = self.rows.iter().filter(|r| r.reached == 0).map(|r| format!("{} ({:?})", r.label, r.mode)).collect();
            assert!(unreached.is_empty(), "points never reached: {unreached:?}\n{t}");
        }
    }

    fn panic_message(e: &Box<dyn std::any::Any + Send>) -> String {
        e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
    }

    fn seeds() -> u64 {
        std::env::var("CETAK_CRASH_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1)
    }

    /// Runs every point in both modes, `seeds()` times; `max_n` bounds the
    /// hit that strikes (the card, for per-card points).
    fn table(title: &str, points: &[(&str, u64)]) {
        let mut m = Matrix::start();
        for seed in 0..seeds() {
            for (i, (point, max_n)) in points.iter().enumerate() {
                for mode in [Mode::Agent, Mode::Office] {
                    let n = 1 + (seed + i as u64) % max_n;
                    let run = Run { label: point.to_string(), stages: vec![format!("{point}@{n}")], mode, seed, office: Office::default() };
                    let o = m.run_caught(&run);
                    m.record(&run, o);
                }
            }
        }
        m.report(title);
    }

    const CARD: u64 = JOBS as u64;

    #[test]
    fn crash_matrix_journal_transitions_and_ledger_writes() {
        let mut points = Vec::new();
        let transitions = ["assigned-ready", "ready-printing", "printing-printed", "printed-reported", "reported-purged"];
        let names: Vec<String> = transitions.iter().flat_map(|t| [format!("journal.{t}.before"), format!("journal.{t}.after")]).collect();
        points.extend(names.iter().map(|n| (n.as_str(), CARD)));
        // (`ledger.film_used` needs a retransfer printer; the emulated Evolis has no film.)
        points.extend([("ledger.blank_used", CARD), ("ledger.ribbon_used", CARD)]);
        table("journal transitions and ledger writes", &points);
    }

    #[test]
    fn crash_matrix_render_encode_and_each_step_of_a_card() {
        let points = [
            ("render.after", CARD),
            ("encode.after", CARD),
            ("driver.before_feed", CARD),
            ("driver.after_feed", CARD),
            ("driver.after_panel.1", CARD),
            ("driver.after_panel.2", CARD),
            ("driver.after_panel.3", CARD),
            ("driver.after_panel.4", CARD),
            ("driver.after_panel.5", CARD),
            ("driver.before_eject", CARD),
            ("driver.after_eject", CARD),
        ];
        table("render, encode and each protocol step of a card", &points);
    }

    #[test]
    fn crash_matrix_outbox_sends_and_a_second_crash_in_recovery() {
        let points = [("outbox.results.before", 1), ("outbox.results.after", 1), ("outbox.stock.before", 1), ("outbox.stock.after", 1)];
        let mut m = Matrix::start();
        for seed in 0..seeds() {
            for (point, max_n) in points {
                for mode in [Mode::Agent, Mode::Office] {
                    let run = Run {
                        label: point.into(),
                        stages: vec![format!("{point}@{}", 1 + seed % max_n)],
                        mode,
                        seed,
                        office: Office::default(),
                    };
                    let o = m.run_caught(&run);
                    m.record(&run, o);
                }
            }
            // A card out with the agent dead is uncertain: its held report,
            // and the operator's decision's event, are sends too; and the
            // recovery itself can be cut.
            let card = 1 + seed % CARD;
            for (label, second) in [
                ("driver.after_eject, then outbox.held.before", "outbox.held.before@1"),
                ("driver.after_eject, then outbox.held.after", "outbox.held.after@1"),
                ("driver.after_eject, then outbox.events.after", "outbox.events.after@1"),
                ("driver.after_panel.2, then journal.printing-uncertain.after", "journal.printing-uncertain.after@1"),
            ] {
                let first = label.split(',').next().expect("first");
                for mode in [Mode::Agent, Mode::Office] {
                    let run = Run {
                        label: label.into(),
                        stages: vec![format!("{first}@{card}"), second.into()],
                        mode,
                        seed,
                        office: Office::default(),
                    };
                    let o = m.run_caught(&run);
                    m.record(&run, o);
                }
            }
        }
        m.report("outbox sends, and a second crash during recovery");
    }

    /// The offices' topologies and the clerk: a station with two printers,
    /// one of them counting at eject; a test card pressed, a jammed card
    /// pulled out by hand, and a service reset of the counter, each between
    /// a crash and the restart; a village's only station whose printer stays
    /// off past its release limit while the district is down. (Every run's
    /// station is alone in its region: the stations of earlier runs said
    /// goodbye, so none is a ready sister; no run may release its work.)
    #[test]
    fn crash_matrix_two_printers_the_clerk_and_the_village() {
        let two = Office { two_printers: true, ..Office::default() };
        let rows: [(&str, &str, Office); 10] = [
            ("two printers: driver.after_feed", "driver.after_feed", two),
            ("two printers: driver.after_panel.2", "driver.after_panel.2", two),
            ("two printers: driver.after_eject", "driver.after_eject", two),
            ("two printers: journal.printing-printed.before", "journal.printing-printed.before", two),
            ("test card: driver.after_eject", "driver.after_eject", Office { between: Some("test-card"), ..Office::default() }),
            ("test card: driver.after_panel.2", "driver.after_panel.2", Office { between: Some("test-card"), ..Office::default() }),
            (
                "jam pulled out by hand, two printers: driver.after_panel.2",
                "driver.after_panel.2",
                Office { two_printers: true, between: Some("remove-card"), all: true, village: false },
            ),
            ("counter reset: driver.after_eject", "driver.after_eject", Office { between: Some("reset-counter 0"), ..Office::default() }),
            (
                "village, off past the release limit: driver.after_panel.2",
                "driver.after_panel.2",
                Office { village: true, ..Office::default() },
            ),
            (
                "village, off past the release limit: driver.after_eject",
                "driver.after_eject",
                Office { village: true, ..Office::default() },
            ),
        ];
        let mut m = Matrix::start();
        for seed in 0..seeds() {
            for (i, (label, point, office)) in rows.iter().enumerate() {
                // A village's night is a power cut: the office mode only.
                let modes: &[Mode] = if office.village { &[Mode::Office] } else { &[Mode::Agent, Mode::Office] };
                for &mode in modes {
                    let n = 1 + (seed + i as u64) % CARD;
                    let run = Run { label: label.to_string(), stages: vec![format!("{point}@{n}")], mode, seed, office: *office };
                    let o = m.run_caught(&run);
                    m.record(&run, o);
                }
            }
        }
        m.report("two printers, the clerk between a crash and the restart, and the village");
    }
}
