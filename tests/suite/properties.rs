//! Property tests on the agent's inputs (issue 11): whatever arrives, the
//! PRR parser and validator, the config loader and the parsing of the
//! district's answers return a result or a clear refusal, never a panic,
//! and a refusal points inside the input. Inputs are valid ones mutated:
//! bytes flipped, inserted and cut, and JSON values swapped for others.
//! (The printer reply parser has its own in `cetak-drivers`.)

use proptest::prelude::*;
use serde_json::Value;

use crate::support::sample_lines;

/// A byte-level edit of a text.
#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Cut(usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
            (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Cut(i, n)),
        ],
        1..6,
    )
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for e in edits {
        let len = bytes.len().max(1);
        match *e {
            Edit::Flip(i, b) if !bytes.is_empty() => bytes[i % len] = b,
            Edit::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Edit::Cut(i, n) if !bytes.is_empty() => {
                let at = i % len;
                bytes.drain(at..(at + n).min(bytes.len()));
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Values a field may be swapped for: wrong types, empties, extremes.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(Value::Bool(true)),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        ".{0,40}".prop_map(Value::String),
        Just(Value::String("9".repeat(5000))),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
    ]
}

/// Answers of the district as the agent receives them, used as seeds below.
const ANSWERS: [&str; 4] = [
    r#"{"time_ms":1795484293175,"jobs":[{"job_id":"j1","epoch":1,"urgent":false,"prr":"{}","envelope":{"key_id":"k1","job_id":"j1","kode_wilayah":"17.71.01.1001","prr_sha256":"00","approved":false,"issued_at":1,"signature":"00"}}],"commands":[{"id":1,"kind":"pause"}],"release":[],"drop":[{"job_id":"j0","epoch":2}]}"#,
    r#"{"time_ms":1795484293175,"items":["applied","duplicate"]}"#,
    r#"{"time_ms":1795484293175}"#,
    r#"{"code":"unauthorized","error":"the station's token was revoked","time_ms":1}"#,
];

#[test]
fn the_seed_answers_parse() {
    let poll: cetak_model::wire::PollResponse = serde_json::from_str(ANSWERS[0]).expect("poll");
    assert_eq!((poll.jobs.len(), poll.commands.len(), poll.drop_jobs.len()), (1, 1, 1));
    assert_eq!(serde_json::from_str::<cetak_model::wire::ResultsResponse>(ANSWERS[1]).expect("results").items.len(), 2);
    assert!(serde_json::from_str::<cetak_model::wire::Ack>(ANSWERS[2]).is_ok());
    assert_eq!(serde_json::from_str::<cetak_model::wire::ErrorBody>(ANSWERS[3]).expect("error").code, "unauthorized");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_prr_line_parses_or_is_refused_and_validation_never_panics(i in 0usize..50, e in edits()) {
        let lines = sample_lines("prr-valid.jsonl");
        let line = apply(&lines[i % lines.len()], &e);
        if let Ok(raw) = cetak_model::RawPrr::parse(&line) {
            let v = cetak_model::validate(&raw, cetak::clock::today());
            // A record that validates has no finding that refuses it.
            if v.prr.is_some() {
                prop_assert!(v.findings.iter().all(|f| f.severity != cetak_model::Severity::Invalid), "{:?}", v.findings);
            } else {
                prop_assert!(v.reason().is_some(), "a refused record names its reason");
            }
        }
    }

    #[test]
    fn any_card_field_swapped_for_an_odd_value_is_judged(i in 0usize..50, field in 0usize..22, value in odd_value()) {
        let lines = sample_lines("prr-valid.jsonl");
        let mut v: Value = serde_json::from_str(&lines[i % lines.len()]).expect("sample");
        let card = v["card"].as_object_mut().expect("card");
        let key = card.keys().nth(field % card.len()).expect("a field").clone();
        card.insert(key.clone(), value);
        match cetak_model::RawPrr::parse(&v.to_string()) {
            Ok(raw) => {
                let judged = cetak_model::validate(&raw, cetak::clock::today());
                prop_assert!(judged.prr.is_some() || judged.reason().is_some(), "{key}: neither valid nor refused with a reason");
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn any_config_loads_or_is_refused_at_a_line_inside_the_file(e in edits()) {
        let example = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cetak.example.toml")).expect("example");
        let text = apply(&example, &e);
        if let Err(err) = cetak::config::Config::parse(std::path::Path::new("cetak.toml"), &text) {
            prop_assert!(!err.reason.is_empty());
            if let Some(line) = err.line {
                prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "line {line} of {}", text.lines().count());
            }
        }
    }

    #[test]
    fn any_district_answer_parses_or_is_refused(e in edits(), which in 0usize..4) {
        let text = apply(ANSWERS[which], &e);
        // Each parse returns; none panics, whatever the bytes. Jobs that
        // parse go into a journal as the poller stores them: each is held
        // as assigned (the station loop then judges it) or refused whole.
        if let Ok(poll) = serde_json::from_str::<cetak_model::wire::PollResponse>(&text) {
            let dir = tempfile::tempdir().expect("tmp");
            let mut journal = cetak::journal::Journal::open(dir.path()).expect("journal");
            if journal.import_assignments(&poll.jobs).is_ok() {
                for j in journal.all_jobs().expect("jobs") {
                    prop_assert_eq!(j.state, cetak::journal::JobState::Assigned);
                }
            }
        }
        let _ = serde_json::from_str::<cetak_model::wire::ResultsResponse>(&text);
        let _ = serde_json::from_str::<cetak_model::wire::Ack>(&text);
        let _ = serde_json::from_str::<cetak_model::wire::ErrorBody>(&text);
    }
}
