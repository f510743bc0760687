//! Crash recovery against the real process: `cetak run` kills itself with
//! SIGKILL at a fail point while the emulator's state file (the printer's
//! memory) survives; the restarted agent must settle the card in flight,
//! the operator is played from the physical log, and the physical log must
//! show every job printed exactly once.

#[cfg(not(feature = "failpoints"))]
#[test]
fn crash_tests_need_the_failpoints_feature() {
    panic!("the crash tests need `--features failpoints` (scripts/test turns it on); they never skip");
}

#[cfg(feature = "failpoints")]
mod with_failpoints {
    use std::os::unix::process::ExitStatusExt;

    use cetak::journal::JobState;

    use crate::support::{assert_no_card_printed_twice, assert_physical_log_matches, ProcessRig};

    const JOBS: usize = 3;

    /// Runs to the fail point, optionally changes the printer while the
    /// agent is dead, restarts, settles, and judges. Returns the outcomes of
    /// the attempts of the job that was in flight, and the operator's
    /// decisions.
    fn crash_at(point: &str, while_dead: impl FnOnce(&ProcessRig)) -> (Vec<Option<String>>, usize) {
        crash_sequence(&[point], while_dead)
    }

    /// Like `crash_at`, but the restarted agent is killed again at each
    /// further point in turn (a second power cut during recovery).
    fn crash_sequence(points: &[&str], while_dead: impl FnOnce(&ProcessRig)) -> (Vec<Option<String>>, usize) {
        let point = points.join(" then ");
        let rig = ProcessRig::new(JOBS);
        let killed = |out: std::process::Output, at: &str| {
            assert_eq!(out.status.signal(), Some(9), "{point}: {at} did not kill the process: {}", String::from_utf8_lossy(&out.stderr));
        };
        killed(rig.run(Some(points[0])), points[0]);
        let in_flight = rig.journal().in_flight(crate::support::PRINTER).expect("journal").map(|a| a.job_id);
        while_dead(&rig);
        for again in &points[1..] {
            killed(rig.run(Some(again)), again);
        }
        let out = rig.run(None);
        assert!(out.status.success(), "{point}: restart failed: {}", String::from_utf8_lossy(&out.stderr));
        let decisions = rig.settle_uncertain_from_physical_log();
        let out = rig.run(None);
        assert!(out.status.success(), "{point}: last run failed: {}", String::from_utf8_lossy(&out.stderr));

        let journal = rig.journal();
        let device = rig.device();
        assert_physical_log_matches(&journal, &device);
        assert_no_card_printed_twice(&device);
        for job in journal.all_jobs().expect("jobs") {
            assert_eq!(journal.final_result(&job.job_id).expect("result"), Some(JobState::Printed), "{point}: {}", job.job_id);
            assert_eq!(job.state, JobState::Purged, "{point}: reported and purged");
        }
        let printed =
            device.physical_log().expect("log").iter().filter(|r| r.destination == cetak_drivers::emulator::Destination::Output).count();
        assert_eq!(printed, JOBS, "{point}: exactly one card per job in the output hopper");
        let outcomes = match in_flight {
            Some(job) => journal.attempts().expect("attempts").into_iter().filter(|a| a.job_id == job).map(|a| a.outcome).collect(),
            None => Vec::new(),
        };
        (outcomes, decisions)
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn counter_unchanged_the_job_is_retried_with_no_blank_used() {
        let (outcomes, decisions) = crash_at("journal.ready-printing.after@2", |_| {});
        assert_eq!(outcomes, vec![s("not_fed"), s("printed")]);
        assert_eq!(decisions, 0);
    }

    #[test]
    fn counter_advanced_with_the_card_out_is_uncertain_and_never_reprinted() {
        let (outcomes, decisions) = crash_at("driver.after_eject@2", |_| {});
        assert_eq!(outcomes, vec![s("uncertain")], "the card is out: no second attempt");
        assert_eq!(decisions, 1);
    }

    #[test]
    fn card_still_inside_after_the_feed_goes_to_the_reject_box_and_is_uncertain() {
        let (outcomes, decisions) = crash_at("driver.after_feed@1", |rig| {
            assert!(rig.device().state().card_inside.is_some(), "the card is inside while the agent is dead");
        });
        assert_eq!(outcomes, vec![s("uncertain"), s("printed")]);
        assert_eq!(decisions, 1);
    }

    #[test]
    fn card_inside_after_a_panel_is_uncertain() {
        let (outcomes, _) = crash_at("driver.after_panel.3@2", |_| {});
        assert_eq!(outcomes, vec![s("uncertain"), s("printed")]);
    }

    #[test]
    fn card_inside_before_the_eject_is_uncertain() {
        let (outcomes, _) = crash_at("driver.before_eject@3", |_| {});
        assert_eq!(outcomes, vec![s("uncertain"), s("printed")]);
    }

    #[test]
    fn serial_changed_while_the_agent_was_dead_is_uncertain() {
        let (outcomes, decisions) = crash_at("driver.after_feed@2", |rig| {
            // The office swapped printers: the clerk took the card out of
            // the old one, and a different printer now sits on the port.
            let device = rig.device();
            device.remove_card_by_hand().expect("clerk");
            device.swap_printer("EMU0000999", 7000).expect("swap");
        });
        assert_eq!(outcomes, vec![s("uncertain"), s("printed")]);
        assert_eq!(decisions, 1);
    }

    #[test]
    fn every_transition_of_a_card_is_a_safe_place_to_die() {
        for (i, t) in ["assigned-ready", "ready-printing", "printing-printed", "printed-reported", "reported-purged"].iter().enumerate() {
            for side in ["before", "after"] {
                // Vary which card it strikes.
                crash_at(&format!("journal.{t}.{side}@{}", 1 + (i % JOBS)), |_| {});
            }
        }
    }

    #[test]
    fn a_second_crash_during_recovery_is_settled_by_the_next_start() {
        for second in ["journal.printing-uncertain.before@1", "journal.printing-uncertain.after@1"] {
            let (outcomes, decisions) = crash_sequence(&["driver.after_eject@1", second], |_| {});
            assert_eq!(outcomes, vec![s("uncertain")], "{second}");
            assert_eq!(decisions, 1);
        }
        for second in ["journal.printing-ready.before@1", "journal.printing-ready.after@1"] {
            let (outcomes, _) = crash_sequence(&["journal.ready-printing.after@1", second], |_| {});
            assert_eq!(outcomes, vec![s("not_fed"), s("printed")], "{second}");
        }
    }

    /// Crash over the wire: the agent is killed at `point` while the
    /// emulator, a process of its own, goes on; the restarted agent settles.
    fn crash_over_the_wire(point: &str, count_at_eject: bool) -> Vec<Option<String>> {
        let emu_dir = tempfile::tempdir().expect("tmp");
        let args: &[&str] = if count_at_eject { &["--count-at-eject"] } else { &[] };
        let emu = crate::support::EmulatorProcess::start(emu_dir.path(), crate::support::Link::Tcp, args);
        let rig = ProcessRig::with_printer(JOBS, &emu.config_entry());
        let what = format!("{point} (count at eject: {count_at_eject})");
        let out = rig.run(Some(point));
        assert_eq!(out.status.signal(), Some(9), "{what}: not killed: {}", String::from_utf8_lossy(&out.stderr));
        let in_flight = rig.journal().in_flight(crate::support::PRINTER).expect("journal").map(|a| a.job_id);
        for _ in 0..2 {
            let out = rig.run(None);
            assert!(out.status.success(), "{what}: restart failed: {}", String::from_utf8_lossy(&out.stderr));
            rig.settle_uncertain_from(&emu.memory().1);
        }
        let journal = rig.journal();
        let (state, log) = emu.memory();
        crate::support::assert_memory_matches(&journal, &state, &log);
        crate::support::assert_no_record_twice(&log);
        for job in journal.all_jobs().expect("jobs") {
            assert_eq!(journal.final_result(&job.job_id).expect("result"), Some(JobState::Printed), "{what}: {}", job.job_id);
        }
        let out = log.iter().filter(|r| r.destination == cetak_drivers::emulator::Destination::Output).count();
        assert_eq!(out, JOBS, "{what}: one card per job in the output hopper");
        match in_flight {
            Some(job) => journal.attempts().expect("attempts").into_iter().filter(|a| a.job_id == job).map(|a| a.outcome).collect(),
            None => Vec::new(),
        }
    }

    #[test]
    fn crash_over_the_wire_at_each_step_of_a_card() {
        for count_at_eject in [false, true] {
            assert_eq!(crash_over_the_wire("journal.ready-printing.after@2", count_at_eject), vec![s("not_fed"), s("printed")]);
            assert_eq!(crash_over_the_wire("driver.after_feed@1", count_at_eject), vec![s("uncertain"), s("printed")]);
            assert_eq!(crash_over_the_wire("driver.after_panel.3@2", count_at_eject), vec![s("uncertain"), s("printed")]);
            assert_eq!(crash_over_the_wire("driver.after_eject@2", count_at_eject), vec![s("uncertain")]);
        }
    }
}
