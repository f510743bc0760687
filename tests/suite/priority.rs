//! Urgent jobs print first; among equals, the oldest first.

use cetak::station::Step;
use serde_json::Value;

use crate::support::{sample_lines, Rig};

#[test]
fn urgent_first_then_oldest() {
    let mut rig = Rig::new();
    let lines = sample_lines("prr-valid.jsonl");
    let mut normal: Vec<String> = Vec::new();
    let mut urgent: Vec<String> = Vec::new();
    for l in &lines {
        let v: Value = serde_json::from_str(l).expect("json");
        if v["priority"] == "urgent" {
            urgent.push(l.clone());
        } else {
            normal.push(l.clone());
        }
    }
    assert!(urgent.len() >= 2 && normal.len() >= 3);
    // Normal jobs arrive first, urgent ones later.
    let n_ids = rig.import_lines(&normal[..3]);
    let u_ids = rig.import_lines(&urgent[..2]);
    let printed: Vec<String> = rig
        .run_until_idle(20)
        .into_iter()
        .filter_map(|s| match s {
            Step::Printed(id) => Some(id),
            _ => None,
        })
        .collect();
    let expected: Vec<String> = u_ids.iter().chain(n_ids.iter()).cloned().collect();
    assert_eq!(printed, expected);
    rig.judge();
}

#[test]
fn the_next_card_is_rendered_while_one_prints_and_a_late_urgent_job_is_not_mixed_up() {
    let mut rig = Rig::new();
    let lines = sample_lines("prr-valid.jsonl");
    let normal: Vec<String> = lines.iter().filter(|l| l.contains("\"priority\": \"normal\"")).take(3).cloned().collect();
    let urgent: Vec<String> = lines.iter().filter(|l| l.contains("\"priority\": \"urgent\"")).take(1).cloned().collect();
    let ids = rig.import_lines(&normal);
    assert_eq!(rig.step(), Step::Printed(ids[0].clone()));
    assert_eq!(rig.station.rendered_ahead(), Some(ids[1].as_str()), "the second card was rendered during the first");
    // An urgent job arrives: it goes next, the card rendered ahead waits.
    let u = rig.import_lines(&urgent);
    assert_eq!(rig.step(), Step::Printed(u[0].clone()));
    assert_eq!(rig.step(), Step::Printed(ids[1].clone()));
    assert_eq!(rig.step(), Step::Printed(ids[2].clone()));
    // Every card carries its own job's K panel (the judge checks hashes).
    rig.judge();
}
