//! The office's usage report: each blank printed or spoiled, with its batch
//! and serial inferred first in, first out, and the balance per batch.

use std::collections::BTreeMap;

use cetak_model::ledger::{Item, LedgerKind};

use crate::journal::LedgerRow;

/// A blank's batch and serial, inferred first in, first out from the
/// receipts' serial ranges through the loads (marked as inferred wherever
/// it is shown: the printer does not read serials).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blank {
    pub batch: String,
    pub serial: Option<String>,
}

/// The next serial after `s`: its trailing digits counted up, width kept.
fn serial_plus(s: &str, n: u64) -> Option<String> {
    let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let (prefix, number) = s.split_at(s.len() - digits);
    let v: u64 = number.parse().ok()?;
    Some(format!("{prefix}{:0width$}", v + n, width = digits))
}

/// Follows every blank from its receipt through loads to the event that
/// used or spoiled it: the ledger row id → the blank.
pub fn inferred_blanks(rows: &[LedgerRow]) -> std::collections::HashMap<i64, Blank> {
    use std::collections::{HashMap, VecDeque};
    let mut places: HashMap<String, VecDeque<Blank>> = HashMap::new();
    let mut out = HashMap::new();
    for r in rows.iter().filter(|r| r.item == Item::Blanko.as_str()) {
        let detail: serde_json::Value = serde_json::from_str(&r.detail).unwrap_or_default();
        let queue = places.entry(r.location.clone()).or_default();
        match (r.ledger_kind(), r.quantity) {
            (Some(LedgerKind::Received), n) if n > 0 => {
                let batch = detail["batch"].as_str().unwrap_or("?").to_string();
                let from = detail["serial_from"].as_str();
                for i in 0..n as u64 {
                    queue.push_back(Blank { batch: batch.clone(), serial: from.and_then(|f| serial_plus(f, i)) });
                }
            }
            (Some(LedgerKind::Loaded), n) if n < 0 => {
                let moved: Vec<Blank> = (0..-n).filter_map(|_| queue.pop_front()).collect();
                if let Some(to) = rows.iter().find(|o| o.id > r.id && o.ledger_kind() == Some(LedgerKind::Loaded) && o.quantity == -n) {
                    places.entry(to.location.clone()).or_default().extend(moved);
                }
            }
            (Some(LedgerKind::Loaded), _) => {}
            (Some(k), _) if k.is_blank_out() => {
                let b = queue.pop_front().unwrap_or(Blank { batch: "unknown".into(), serial: None });
                out.insert(r.id, b);
            }
            (_, n) if n < 0 => {
                for _ in 0..-n {
                    queue.pop_front();
                }
            }
            (_, n) => {
                for _ in 0..n {
                    queue.push_back(Blank { batch: "adjusted".into(), serial: None });
                }
            }
        }
    }
    out
}

/// The office's usage report as CSV: one line per blank printed or
/// spoiled between `from` and `to` (Unix seconds, `to` excluded), with its
/// inferred batch and serial, then the balance per batch now.
pub fn report_csv(rows: &[LedgerRow], from: i64, to: i64) -> String {
    let blanks = inferred_blanks(rows);
    let mut csv = String::from("kind,date,job_id,attempt,reason,batch,serial_inferred\n");
    let day = |t: i64| time::OffsetDateTime::from_unix_timestamp(t).map(|d| d.date().to_string()).unwrap_or_default();
    for r in rows.iter().filter(|r| r.ledger_kind().is_some_and(LedgerKind::is_blank_out) && r.at >= from && r.at < to) {
        let spoiled = r.ledger_kind() == Some(LedgerKind::BlankSpoiled);
        let detail: serde_json::Value = serde_json::from_str(&r.detail).unwrap_or_default();
        let reason = if spoiled { detail["reason"].as_str().or(detail["fault"].as_str()).unwrap_or("unknown") } else { "" };
        let b = blanks.get(&r.id);
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            if spoiled { "spoiled" } else { "printed" },
            day(r.at),
            r.job_id.as_deref().unwrap_or(""),
            r.attempt.map(|a| a.to_string()).unwrap_or_default(),
            reason.replace(',', ";"),
            b.map(|b| b.batch.as_str()).unwrap_or("unknown"),
            b.and_then(|b| b.serial.as_deref()).unwrap_or(""),
        ));
    }
    // What is left of each batch: received minus the blanks that left.
    let mut balance: BTreeMap<String, i64> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.ledger_kind() == Some(LedgerKind::Received) && r.item == Item::Blanko.as_str()) {
        let detail: serde_json::Value = serde_json::from_str(&r.detail).unwrap_or_default();
        *balance.entry(detail["batch"].as_str().unwrap_or("?").to_string()).or_default() += r.quantity;
    }
    for b in blanks.values() {
        *balance.entry(b.batch.clone()).or_default() -= 1;
    }
    for (batch, left) in balance {
        csv.push_str(&format!("balance,,,,,{batch},{left}\n"));
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stock::DAY;

    fn row(id: i64, at: i64, kind: &str, location: &str, quantity: i64, detail: &str, job: Option<&str>) -> LedgerRow {
        LedgerRow {
            id,
            at,
            kind: kind.into(),
            location: location.into(),
            item: "blanko".into(),
            quantity,
            job_id: job.map(str::to_string),
            attempt: job.map(|_| 1),
            detail: detail.into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn a_day_with_printed_and_spoiled_cards_reports_their_serials_and_the_balance() {
        let day1 = 20_000 * DAY; // 2024-10-04
        let rows = vec![
            row(1, day1 - DAY, "received", "safe", 5, r#"{"batch":"B1","serial_from":"KTP000098"}"#, None),
            row(2, day1 - DAY, "received", "safe", 3, r#"{"batch":"B2"}"#, None),
            row(3, day1 - 60, "loaded", "safe", -6, "{}", None),
            row(4, day1 - 60, "loaded", "hopper:p", 6, "{}", None),
            row(5, day1 + 10, "blank_used", "hopper:p", -1, "{}", Some("j1")),
            row(6, day1 + 20, "blank_spoiled", "hopper:p", -1, r#"{"reason":"jam"}"#, Some("j2")),
            row(7, day1 + 30, "blank_used", "hopper:p", -1, "{}", Some("j2")),
            // The next day is outside the report.
            row(8, day1 + DAY + 5, "blank_used", "hopper:p", -1, "{}", Some("j3")),
        ];
        let csv = report_csv(&rows, day1, day1 + DAY);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines,
            vec![
                "kind,date,job_id,attempt,reason,batch,serial_inferred",
                "printed,2024-10-04,j1,1,,B1,KTP000098",
                "spoiled,2024-10-04,j2,1,jam,B1,KTP000099",
                "printed,2024-10-04,j2,1,,B1,KTP000100",
                "balance,,,,,B1,1",
                "balance,,,,,B2,3",
            ]
        );
    }
}
