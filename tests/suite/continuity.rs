//! Counter continuity: an unexplained step of the card counter pauses the
//! station until an operator books it.

use cetak::journal::JobState;
use cetak::station::Step;

use crate::support::{Rig, PRINTER};

#[test]
fn a_new_printer_is_adopted_with_an_event() {
    let mut rig = Rig::new();
    let ids = rig.import_samples(1);
    assert_eq!(rig.step(), Step::Printed(ids[0].clone()));
    let p = rig.journal().printer(PRINTER).expect("journal").expect("adopted");
    assert_eq!((p.serial.as_str(), p.last_counter), ("EMU0000001", 1));
    assert!(rig.journal().ledger_rows().expect("ledger").iter().any(|l| l.kind == "printer_adopted"));
    rig.judge();
}

#[test]
fn a_test_card_from_the_front_panel_pauses_until_booked() {
    let mut rig = Rig::new();
    let ids = rig.import_samples(2);
    assert_eq!(rig.step(), Step::Printed(ids[0].clone()));
    rig.device.front_panel_test_card().expect("test card");
    assert_eq!(rig.step(), Step::Paused("blank_unaccounted".into()));
    assert_eq!(rig.step(), Step::Paused("blank_unaccounted".into()), "stays paused");
    assert_eq!(rig.state_of(&ids[1]), JobState::Ready, "no card started while paused");
    assert!(rig.journal().outbox_history().expect("outbox").iter().any(|m| m.kind == "event" && m.body.contains("blank_unaccounted")));
    // An operator's plain resume does not clear it; booking does.
    assert!(!rig.journal().resume(PRINTER, 1000).expect("resume"));
    assert_eq!(rig.step(), Step::Paused("blank_unaccounted".into()));
    rig.journal().book_unaccounted(PRINTER, Some(1), "test card printed from the front panel", 1000).expect("book");
    assert_eq!(rig.step(), Step::Printed(ids[1].clone()));
    rig.judge();
}

#[test]
fn a_different_printer_on_the_same_port_is_adopted_not_paused() {
    let mut rig = Rig::new();
    let ids = rig.import_samples(2);
    assert_eq!(rig.step(), Step::Printed(ids[0].clone()));
    rig.device.swap_printer("EMU0000777", 5000).expect("swap");
    assert_eq!(rig.step(), Step::Printed(ids[1].clone()));
    let p = rig.journal().printer(PRINTER).expect("journal").expect("printer");
    assert_eq!((p.serial.as_str(), p.last_counter), ("EMU0000777", 5001));
}
