//! Every cell of the fault table (issue "Foundation, part one"), each
//! judged at the end by the emulator's physical log.

use cetak::journal::JobState;
use cetak::station::Step;
use cetak_drivers::emulator::{Destination, DeviceOptions, FaultPoint, ScheduledFault};
use cetak_drivers::Fault;

use crate::support::Rig;

fn inject(rig: &Rig, point: FaultPoint, fault: Fault) {
    rig.device.inject(ScheduledFault::next(point, fault));
}

fn one_job() -> (Rig, String) {
    let mut rig = Rig::new();
    let ids = rig.import_samples(1);
    (rig, ids[0].clone())
}

fn attempts_of(rig: &mut Rig, job: &str) -> Vec<Option<String>> {
    rig.journal().attempts().expect("attempts").into_iter().filter(|a| a.job_id == job).map(|a| a.outcome).collect()
}

fn destinations(rig: &Rig) -> Vec<Destination> {
    rig.device.physical_log().expect("log").iter().map(|r| r.destination).collect()
}

#[test]
fn feeder_empty_uses_no_blank_and_waits_for_blanks() {
    let mut rig = Rig::with(DeviceOptions { feeder: 0, ..DeviceOptions::default() }, 2);
    let job = rig.import_samples(1).remove(0);
    assert_eq!(rig.step(), Step::Waiting(Fault::FeederEmpty));
    assert_eq!(rig.state_of(&job), JobState::Ready);
    assert!(attempts_of(&mut rig, &job).is_empty(), "no attempt is started without blanks");
    rig.device.load_blanks(10).expect("load");
    assert_eq!(rig.step(), Step::Printed(job.clone()));
    rig.judge();
}

#[test]
fn a_failed_pick_at_the_feed_leaves_the_job_ready() {
    let (mut rig, job) = one_job();
    inject(&rig, FaultPoint::BeforePick, Fault::FeederEmpty);
    assert_eq!(rig.step(), Step::NotFed { job_id: job.clone(), fault: Fault::FeederEmpty });
    assert_eq!(rig.state_of(&job), JobState::Ready);
    assert_eq!(rig.device.state().card_counter, 0, "no card left the feeder");
    assert_eq!(rig.step(), Step::Printed(job.clone()));
    assert_eq!(attempts_of(&mut rig, &job), vec![Some("not_fed".into()), Some("printed".into())]);
    rig.judge();
}

#[test]
fn jam_at_the_feed_spoils_the_blank_waits_for_the_clerk_and_retries() {
    let (mut rig, job) = one_job();
    inject(&rig, FaultPoint::AfterPick, Fault::Jam);
    assert_eq!(rig.step(), Step::Spoiled { job_id: job.clone(), failed: false });
    assert_eq!(rig.state_of(&job), JobState::Ready);
    // The station waits with the instruction until the clerk clears it.
    let waiting = rig.step();
    assert_eq!(waiting, Step::Waiting(Fault::Jam));
    assert_eq!(rig.station.instruction(&waiting).as_deref(), Some("Card jam: open the cover, take out the card, close the cover"));
    rig.device.remove_card_by_hand().expect("clerk");
    assert_eq!(rig.step(), Step::Printed(job.clone()));
    assert_eq!(destinations(&rig), vec![Destination::RemovedByHand, Destination::Output]);
    rig.judge();
}

#[test]
fn jam_after_a_panel_makes_the_job_uncertain() {
    let (mut rig, job) = one_job();
    inject(&rig, FaultPoint::AfterPanel(2), Fault::Jam);
    assert_eq!(rig.step(), Step::Uncertain(job.clone()));
    assert_eq!(rig.state_of(&job), JobState::Uncertain);
    rig.device.remove_card_by_hand().expect("clerk");
    // The operator holds a half-printed card: spoiled, printed again.
    assert_eq!(rig.journal().resolve_uncertain(&job, false, 1000, 2).expect("resolve"), JobState::Ready);
    assert_eq!(rig.step(), Step::Printed(job.clone()));
    rig.judge();
}

#[test]
fn cover_open_at_the_feed_with_no_card_taken_uses_no_blank() {
    let (mut rig, job) = one_job();
    inject(&rig, FaultPoint::BeforePick, Fault::CoverOpen);
    assert_eq!(rig.step(), Step::NotFed { job_id: job.clone(), fault: Fault::CoverOpen });
    assert_eq!(rig.step(), Step::Waiting(Fault::CoverOpen));
    rig.device.set_cover_open(false).expect("close");
    assert_eq!(rig.step(), Step::Printed(job.clone()));
    assert_eq!(destinations(&rig), vec![Destination::Output]);
    rig.judge();
}

#[test]
fn cover_open_at_the_feed_with_a_card_taken_is_handled_as_a_jam() {
    let (mut rig, job) = one_job();
    inject(&rig, FaultPoint::AfterPick, Fault::CoverOpen);
    assert_eq!(rig.step(), Step::Spoiled { job_id: job.clone(), failed: false });
    assert!(matches!(rig.step(), Step::Waiting(Fault::CoverOpen)));
    rig.device.remove_card_by_hand().expect("clerk");
    assert_eq!(rig.step(), Step::Printed(job.clone()));
    rig.judge();
}

#[test]
fn cover_open_after_a_panel_makes_the_job_uncertain() {
    let (mut rig, job) = one_job();
    inject(&rig, FaultPoint::AfterPanel(4), Fault::CoverOpen);
    assert_eq!(rig.step(), Step::Uncertain(job.clone()));
    rig.device.remove_card_by_hand().expect("clerk");
    // The clerk has the good card after all.
    assert_eq!(rig.journal().resolve_uncertain(&job, true, 1000, 2).expect("resolve"), JobState::Printed);
    rig.judge();
}

#[test]
fn ribbon_out_is_caught_before_the_feed_and_waits_for_a_new_ribbon() {
    let (mut rig, job) = one_job();
    rig.device.replace_ribbon(0).expect("ribbon");
    assert_eq!(rig.step(), Step::Waiting(Fault::RibbonOut));
    assert!(attempts_of(&mut rig, &job).is_empty());
    assert_eq!(rig.device.state().card_counter, 0, "no blank used");
    rig.device.replace_ribbon(200).expect("ribbon");
    assert_eq!(rig.step(), Step::Printed(job.clone()));
    rig.judge();
}

#[test]
fn film_out_is_caught_before_the_feed() {
    let mut rig = Rig::with(DeviceOptions { film_cards: Some(0), ..DeviceOptions::default() }, 2);
    let job = rig.import_samples(1).remove(0);
    assert_eq!(rig.step(), Step::Waiting(Fault::FilmOut));
    assert_eq!(rig.device.state().card_counter, 0);
    rig.device.replace_film(100).expect("film");
    assert_eq!(rig.step(), Step::Printed(job.clone()));
    rig.judge();
}

#[test]
fn ribbon_out_after_a_panel_makes_the_job_uncertain_and_the_card_goes_to_the_reject_box() {
    let (mut rig, job) = one_job();
    inject(&rig, FaultPoint::AfterPanel(3), Fault::RibbonOut);
    assert_eq!(rig.step(), Step::Uncertain(job.clone()));
    assert_eq!(destinations(&rig), vec![Destination::RejectBox]);
    assert_eq!(rig.step(), Step::Waiting(Fault::RibbonOut));
    rig.judge();
}

#[test]
fn film_out_after_a_panel_makes_the_job_uncertain() {
    let mut rig = Rig::with(DeviceOptions { film_cards: Some(50), ..DeviceOptions::default() }, 2);
    let job = rig.import_samples(1).remove(0);
    inject(&rig, FaultPoint::AfterPanel(5), Fault::FilmOut);
    assert_eq!(rig.step(), Step::Uncertain(job.clone()));
    rig.judge();
}

#[test]
fn printer_gone_at_the_feed_with_the_card_inside_rejects_it_spoils_the_blank_and_retries() {
    let (mut rig, job) = one_job();
    inject(&rig, FaultPoint::AfterPick, Fault::Gone);
    assert_eq!(rig.step(), Step::Offline);
    assert_eq!(rig.state_of(&job), JobState::Printing, "settled only when the printer answers");
    assert_eq!(rig.step(), Step::Offline);
    rig.device.plug_in();
    assert_eq!(rig.step(), Step::Spoiled { job_id: job.clone(), failed: false });
    assert_eq!(rig.step(), Step::Printed(job.clone()));
    assert_eq!(destinations(&rig), vec![Destination::RejectBox, Destination::Output]);
    rig.judge();
}

#[test]
fn printer_gone_at_the_feed_with_no_card_taken_uses_no_blank() {
    let (mut rig, job) = one_job();
    inject(&rig, FaultPoint::BeforePick, Fault::Gone);
    assert_eq!(rig.step(), Step::Offline);
    rig.device.plug_in();
    assert_eq!(rig.step(), Step::NotFed { job_id: job.clone(), fault: Fault::Gone });
    assert_eq!(rig.step(), Step::Printed(job.clone()));
    assert_eq!(destinations(&rig), vec![Destination::Output]);
    rig.judge();
}

#[test]
fn printer_gone_with_the_counter_advanced_and_no_card_inside_is_uncertain() {
    let (mut rig, job) = one_job();
    inject(&rig, FaultPoint::AfterPick, Fault::Gone);
    assert_eq!(rig.step(), Step::Offline);
    // While it was away, somebody pulled the card out.
    rig.device.remove_card_by_hand().expect("by hand");
    rig.device.plug_in();
    assert_eq!(rig.step(), Step::Uncertain(job.clone()));
    rig.judge();
}

#[test]
fn printer_gone_after_a_panel_is_uncertain() {
    let (mut rig, job) = one_job();
    inject(&rig, FaultPoint::AfterPanel(2), Fault::Gone);
    assert_eq!(rig.step(), Step::Offline);
    rig.device.plug_in();
    assert_eq!(rig.step(), Step::Uncertain(job.clone()));
    // Recovery put the half-printed card into the reject box.
    assert_eq!(destinations(&rig), vec![Destination::RejectBox]);
    rig.judge();
}

#[test]
fn printer_gone_at_eject_is_uncertain() {
    let (mut rig, job) = one_job();
    inject(&rig, FaultPoint::AtEject, Fault::Gone);
    assert_eq!(rig.step(), Step::Offline);
    rig.device.plug_in();
    assert_eq!(rig.step(), Step::Uncertain(job.clone()));
    rig.judge();
}

#[test]
fn jam_at_eject_is_uncertain() {
    let (mut rig, job) = one_job();
    inject(&rig, FaultPoint::AtEject, Fault::Jam);
    assert_eq!(rig.step(), Step::Uncertain(job.clone()));
    rig.device.remove_card_by_hand().expect("clerk");
    rig.judge();
}

#[test]
fn the_spoil_beyond_the_limit_fails_the_job() {
    let (mut rig, job) = one_job();
    for _ in 0..3 {
        inject(&rig, FaultPoint::AfterPick, Fault::Jam);
    }
    assert_eq!(rig.step(), Step::Spoiled { job_id: job.clone(), failed: false });
    rig.device.remove_card_by_hand().expect("clerk");
    assert_eq!(rig.step(), Step::Spoiled { job_id: job.clone(), failed: false });
    rig.device.remove_card_by_hand().expect("clerk");
    assert_eq!(rig.step(), Step::Spoiled { job_id: job.clone(), failed: true });
    rig.device.remove_card_by_hand().expect("clerk");
    assert_eq!(rig.result_of(&job), Some(JobState::Failed));
    assert_eq!(rig.step(), Step::Idle);
    assert_eq!(destinations(&rig), vec![Destination::RemovedByHand; 3]);
    rig.judge();
}

#[test]
fn the_judge_catches_a_card_the_journal_does_not_know() {
    let (mut rig, job) = one_job();
    assert_eq!(rig.step(), Step::Printed(job));
    rig.device.front_panel_test_card().expect("test card");
    let device = rig.device.clone();
    let journal = rig.journal();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| crate::support::assert_physical_log_matches(journal, &device)));
    assert!(caught.is_err(), "an unbooked card must fail the judge");
}
