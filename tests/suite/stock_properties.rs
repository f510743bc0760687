//! A property test of the consumables ledger: random sequences of receipts,
//! loads, prints, faults, physical counts and restarts against the
//! emulator. After every step the ledger must agree with numbers it did not
//! write: the emulator's own hopper, the printer counter's steps (the
//! blanks used plus spoiled), and a small reference model of the safe kept
//! here.

use cetak::journal::stock::{hopper, Receipt, SAFE};
use cetak::journal::{JobState, Journal};
use cetak::messages::Lang;
use cetak::station::{Station, StationOptions};
use cetak_drivers::emulator::{DeviceOptions, FaultPoint, ScheduledFault};
use cetak_drivers::Fault;
use proptest::prelude::*;

use crate::envelopes::region_lines;
use crate::support::{Rig, PRINTER};

#[derive(Clone, Debug)]
enum Op {
    Receive(u32),
    Load(u32),
    Print(usize),
    /// 0: a jam at the feed (spoiled), 1: a jam after a panel (uncertain),
    /// 2: the feeder reads empty before the pick (no card).
    Fault(u8),
    Count,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1..30u32).prop_map(Op::Receive),
        (1..20u32).prop_map(Op::Load),
        (1..4usize).prop_map(Op::Print),
        (0..3u8).prop_map(Op::Fault),
        Just(Op::Count),
        Just(Op::Restart),
    ]
}

const VERSIONS: &[&str] = &["2021"];

struct Run {
    rig: Rig,
    safe: i64,
    next_job: usize,
}

impl Run {
    fn versions() -> Vec<String> {
        VERSIONS.iter().map(|v| v.to_string()).collect()
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Receive(n) => {
                let r = Receipt { blanko: *n, batch: "B".into(), version: "2021".into(), serial_from: None, serial_to: None };
                self.rig.journal().receive(&r, &Self::versions(), 1000).expect("receive");
                self.safe += i64::from(*n);
            }
            Op::Load(n) => {
                let ok = self.rig.journal().load(PRINTER, *n, 1000).is_ok();
                assert_eq!(ok, self.safe >= i64::from(*n), "a load is refused exactly when the safe is short");
                if ok {
                    self.rig.device.load_blanks(*n).expect("the clerk loads the hopper");
                    self.safe -= i64::from(*n);
                }
            }
            Op::Print(k) => {
                let pool = region_lines("17.71.01.1001");
                let lines: Vec<String> = (0..*k)
                    .map(|i| {
                        self.next_job += 1;
                        pool[(self.next_job + i) % pool.len()].replacen(
                            "\"job_id\":\"gen-",
                            &format!("\"job_id\":\"p{}-", self.next_job),
                            1,
                        )
                    })
                    .collect();
                self.rig.import_lines(&lines);
                self.settle();
            }
            Op::Fault(kind) => {
                let (point, fault) = match kind {
                    0 => (FaultPoint::AfterPick, Fault::Jam),
                    1 => (FaultPoint::AfterPanel(2), Fault::Jam),
                    _ => (FaultPoint::BeforePick, Fault::FeederEmpty),
                };
                self.rig.device.inject(ScheduledFault::next(point, fault));
                self.settle();
            }
            Op::Count => {
                // The clerk counts the hopper: the ledger already says so.
                let counted = self.rig.device.state().feeder;
                let diff = self.rig.journal().count(&hopper(PRINTER), "blanko", counted, "weekly count", 1000).expect("count");
                assert_eq!(diff, 0, "a physical count found the ledger wrong");
            }
            Op::Restart => {
                let journal = Journal::open(&self.rig.state_dir()).expect("journal");
                let opts = StationOptions { name: PRINTER.into(), spoil_retries: 2, local_mode: true, lang: Lang::En, district: None };
                self.rig.station = Station::new(journal, self.rig.device.printer(), opts);
                self.settle();
            }
        }
    }

    /// Prints what can be printed; the clerk clears a jam and the operator
    /// declares a half-printed card spoiled, as many times as needed.
    fn settle(&mut self) {
        for _ in 0..10 {
            self.rig.run_until_idle(40);
            let mut acted = false;
            if self.rig.device.state().card_inside.is_some() {
                self.rig.device.remove_card_by_hand().expect("clerk");
                acted = true;
            }
            for job in self.rig.journal().jobs_in(JobState::Uncertain).expect("uncertain") {
                self.rig.journal().resolve_uncertain(&job.job_id, false, 1000, 2).expect("resolve");
                acted = true;
            }
            if !acted {
                return;
            }
        }
    }

    fn check(&mut self, after: &Op) {
        let st = self.rig.device.state();
        let j = self.rig.journal();
        assert_eq!(j.on_hand(&hopper(PRINTER), "blanko").expect("hopper"), i64::from(st.feeder), "hopper after {after:?}");
        assert_eq!(j.on_hand(SAFE, "blanko").expect("safe"), self.safe, "safe after {after:?}");
        let rows = j.ledger_rows().expect("rows");
        let left = rows.iter().filter(|r| r.kind == "blank_used" || r.kind == "blank_spoiled").count() as u64;
        assert_eq!(left, st.card_counter, "counter steps vs blanks used plus spoiled after {after:?}");
        // Each connection's reconciliation recorded the printer's counter
        // beside the ledger's count of blanks out: they agreed.
        for r in rows.iter().filter(|r| r.kind == "reconciled") {
            let d: serde_json::Value = serde_json::from_str(&r.detail).expect("detail");
            assert_eq!(d["card_counter"], d["ledger_blanks_out"], "reconciliation {d} after {after:?}");
        }
        assert_eq!(j.verify_ledger().expect("verify"), None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_agrees_with_the_printer_whatever_happens(ops in proptest::collection::vec(op(), 1..10)) {
        let mut run = Run { rig: Rig::with(DeviceOptions { feeder: 0, ribbon_cards: 1000, ..Default::default() }, 2), safe: 0, next_job: 0 };
        for op in &ops {
            run.apply(op);
            run.check(op);
        }
        run.rig.judge();
    }
}
