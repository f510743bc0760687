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
