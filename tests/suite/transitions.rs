//! The job state machine: this test keeps its own table, written from
//! DESIGN §3, and checks every from/to pair against the journal's.

use cetak::journal::{JobState, JournalError};

use crate::support::Rig;

/// DESIGN §3, row by row.
const ALLOWED: &[(&str, &str)] = &[
    ("assigned", "ready"),
    ("assigned", "rejected"),
    ("ready", "printing"),
    ("printing", "printed"),
    ("printing", "ready"),
    ("printing", "failed"),
    ("printing", "uncertain"),
    ("uncertain", "printed"),
    ("uncertain", "ready"),
    ("uncertain", "failed"),
    ("assigned", "released"),
    ("ready", "released"),
    // "The district assigns again a job this station gave back, under a
    // new epoch" (the district side of the offices).
    ("released", "assigned"),
    ("printed", "reported"),
    ("failed", "reported"),
    ("rejected", "reported"),
    ("released", "reported"),
    ("reported", "purged"),
];

#[test]
fn every_pair_matches_the_design_table() {
    let mut checked = 0;
    for from in JobState::ALL {
        for to in JobState::ALL {
            let expected = ALLOWED.contains(&(from.as_str(), to.as_str()));
            assert_eq!(from.can_move_to(to), expected, "{from} -> {to}");
            checked += 1;
        }
    }
    assert_eq!(checked, 100);
}

#[test]
fn an_illegal_transition_is_a_typed_error_and_writes_nothing() {
    let mut rig = Rig::new();
    let ids = rig.import_samples(1);
    let job = &ids[0];
    let before = rig.journal().attempts().expect("attempts").len();
    match rig.journal().move_job(job, JobState::Assigned, JobState::Printed, "test") {
        Err(JournalError::IllegalTransition { from: JobState::Assigned, to: JobState::Printed, .. }) => {}
        other => panic!("expected an illegal transition, got {other:?}"),
    }
    assert_eq!(rig.state_of(job), JobState::Assigned);
    // A legal move from the wrong current state is refused too.
    match rig.journal().move_job(job, JobState::Ready, JobState::Printing, "test") {
        Err(JournalError::WrongState { actual: JobState::Assigned, .. }) => {}
        other => panic!("expected a wrong-state error, got {other:?}"),
    }
    assert_eq!(rig.state_of(job), JobState::Assigned);
    assert_eq!(rig.journal().attempts().expect("attempts").len(), before);
}
