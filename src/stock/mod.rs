//! Stock on hand as a fold of the journal's ledger (DESIGN §4), usage, and
//! the forecast of when each consumable runs out; the office's usage
//! report (`report`) follows each blank to its batch.

use std::collections::BTreeMap;

use cetak_model::ledger::LedgerKind;

use crate::journal::LedgerRow;

mod report;
pub use report::{inferred_blanks, report_csv, Blank};

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// One consumable at one location.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OnHand {
    pub location: String,
    pub item: String,
    pub quantity: i64,
}

/// A consumable used beyond what was booked into its location (an office
/// that prints before it books its delivery): printing goes on, the stock
/// shows zero, and this is said by name, never as a negative stock.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NotBooked {
    pub location: String,
    pub item: String,
    /// Used beyond the bookings.
    pub used: i64,
}

/// What `cetak stock` shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Never below zero: use beyond the bookings is in `not_booked`.
    pub on_hand: Vec<OnHand>,
    pub not_booked: Vec<NotBooked>,
    /// Blanks used or spoiled since the start of today (UTC) and in the
    /// last 7 days.
    pub blanks_today: i64,
    pub blanks_week: i64,
    /// Spoiled blanks in the last 7 days, by reason.
    pub spoiled: BTreeMap<String, i64>,
    /// Days left per item at the last 7 days' rate (`None`: not used).
    pub days_left: BTreeMap<String, Option<f64>>,
}

/// Days until `on_hand` runs out at the rate of `used_in_7_days`.
pub fn days_left(on_hand: i64, used_in_7_days: i64) -> Option<f64> {
    (used_in_7_days > 0).then(|| on_hand.max(0) as f64 / (used_in_7_days as f64 / 7.0))
}

fn uses(row: &LedgerRow) -> bool {
    row.ledger_kind().is_some_and(LedgerKind::is_use)
}

/// Consumables with fewer than `warn_days` left: (item, days).
pub fn warnings(rows: &[LedgerRow], now: i64, warn_days: f64) -> Vec<(String, f64)> {
    summary(rows, now).days_left.into_iter().filter_map(|(item, d)| d.filter(|d| *d < warn_days).map(|d| (item, d))).collect()
}

/// Logs the consumables running out, each time that list changes.
pub fn log_warnings(rows: &[LedgerRow], warn_days: f64, last: &mut Vec<String>) {
    let now = crate::clock::now();
    let warned = warnings(rows, now, warn_days);
    let items: Vec<String> = warned.iter().map(|(i, _)| i.clone()).collect();
    if items != *last {
        for (item, days) in &warned {
            tracing::warn!(item = %item, days_left = format!("{days:.1}"), "consumable running out");
        }
        *last = items;
    }
}

/// Raises a `stock_not_booked` event for the district at most once a day
/// while stock is used beyond its bookings; printing goes on.
pub fn report_not_booked(journal: &mut crate::journal::Journal, rows: &[LedgerRow]) -> Result<(), crate::journal::JournalError> {
    let now = crate::clock::now();
    let not_booked = summary(rows, now).not_booked;
    if not_booked.is_empty() || !journal.recent_events("stock_not_booked", now - DAY)?.is_empty() {
        return Ok(());
    }
    for n in &not_booked {
        tracing::warn!(location = %n.location, item = %n.item, used = n.used, "stock used that was never booked: printing goes on, book the delivery");
    }
    journal.record_event(serde_json::json!({"event": "stock_not_booked", "items": not_booked}))
}

/// Folds the ledger as of `now` (Unix seconds).
pub fn summary(rows: &[LedgerRow], now: i64) -> Summary {
    let mut s = Summary::default();
    let mut totals: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut used_week: BTreeMap<String, i64> = BTreeMap::new();
    let today = now - now.rem_euclid(DAY);
    for r in rows.iter().filter(|r| matches!(r.item.as_str(), "blanko" | "ribbon" | "film")) {
        *totals.entry((r.location.clone(), r.item.clone())).or_default() += r.quantity;
        if !uses(r) || r.at <= now - 7 * DAY {
            continue;
        }
        *used_week.entry(r.item.clone()).or_default() -= r.quantity;
        if r.item == "blanko" {
            s.blanks_week -= r.quantity;
            if r.at >= today {
                s.blanks_today -= r.quantity;
            }
        }
        if r.ledger_kind() == Some(LedgerKind::BlankSpoiled) {
            let detail: serde_json::Value = serde_json::from_str(&r.detail).unwrap_or_default();
            let reason = detail["reason"].as_str().or(detail["fault"].as_str()).unwrap_or("unknown").to_string();
            *s.spoiled.entry(reason).or_default() += 1;
        }
    }
    let mut per_item: BTreeMap<String, i64> = BTreeMap::new();
    for ((location, item), quantity) in totals {
        *per_item.entry(item.clone()).or_default() += quantity;
        if quantity < 0 {
            s.not_booked.push(NotBooked { location: location.clone(), item: item.clone(), used: -quantity });
        }
        s.on_hand.push(OnHand { location, item, quantity: quantity.max(0) });
    }
    for (item, total) in per_item {
        let used = used_week.get(&item).copied().unwrap_or(0);
        s.days_left.insert(item, days_left(total, used));
    }
    s
}

/// Consumables at a printer (hopper, ribbon, film) that the ledger tracks
/// and that are at zero or below. A location is tracked once stock was
/// booked into it (a load, an install, a count); a station whose office
/// never books stock is not reported empty.
pub fn exhausted(rows: &[LedgerRow], now: i64) -> Vec<OnHand> {
    let stocked: std::collections::BTreeSet<(&str, &str)> =
        rows.iter().filter(|r| r.quantity > 0).map(|r| (r.location.as_str(), r.item.as_str())).collect();
    summary(rows, now)
        .on_hand
        .into_iter()
        .filter(|o| o.location != crate::journal::stock::SAFE && o.quantity <= 0)
        .filter(|o| stocked.contains(&(o.location.as_str(), o.item.as_str())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten cards printed before any delivery was booked: zero on hand, ten
    /// named as used without a booking, never a stock of -10.
    #[test]
    fn cards_printed_with_no_stock_booked_are_named_and_the_stock_is_never_negative() {
        let rows: Vec<LedgerRow> = (1..=10).map(|i| row(i, "blank_used", "hopper:p", "blanko", -1)).collect();
        let s = summary(&rows, 20);
        assert_eq!(s.on_hand, [OnHand { location: "hopper:p".into(), item: "blanko".into(), quantity: 0 }]);
        assert_eq!(s.not_booked, [NotBooked { location: "hopper:p".into(), item: "blanko".into(), used: 10 }]);
        let booked: Vec<LedgerRow> = std::iter::once(row(0, "blank_loaded", "hopper:p", "blanko", 100)).chain(rows).collect();
        assert!(summary(&booked, 20).not_booked.is_empty());
    }

    #[test]
    fn only_stocked_locations_can_be_exhausted() {
        let never_stocked = [row(1, "blank_used", "hopper:p", "blanko", -1)];
        assert!(exhausted(&never_stocked, 10).is_empty());
        let emptied = [row(1, "blank_loaded", "hopper:p", "blanko", 1), row(2, "blank_used", "hopper:p", "blanko", -1)];
        assert_eq!(exhausted(&emptied, 10).len(), 1);
        let safe = [row(1, "received", SAFE_FOR_TEST, "blanko", 1), row(2, "moved", SAFE_FOR_TEST, "blanko", -1)];
        assert!(exhausted(&safe, 10).is_empty(), "the safe is not at a printer");
    }

    const SAFE_FOR_TEST: &str = crate::journal::stock::SAFE;

    fn row(at: i64, kind: &str, location: &str, item: &str, quantity: i64) -> LedgerRow {
        LedgerRow {
            id: 0,
            at,
            kind: kind.into(),
            location: location.into(),
            item: item.into(),
            quantity,
            job_id: None,
            attempt: None,
            detail: r#"{"reason":"jam"}"#.into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn forecast_from_a_known_history() {
        // 700 received; 20 blanks a day used for the last 7 days (140), and
        // 2 spoiled: 558 left at 142/7 a day = 27.5 days.
        let now = 100 * DAY + 3600;
        let mut rows = vec![row(now - 30 * DAY, "received", "safe", "blanko", 700)];
        for d in 0..7 {
            for _ in 0..20 {
                rows.push(row(now - d * DAY - 60, "blank_used", "hopper:p", "blanko", -1));
            }
        }
        rows.push(row(now - 100, "blank_spoiled", "hopper:p", "blanko", -1));
        rows.push(row(now - 200, "blank_spoiled", "hopper:p", "blanko", -1));
        // Older use does not count toward the rate.
        rows.push(row(now - 20 * DAY, "blank_used", "hopper:p", "blanko", -1));
        let s = summary(&rows, now);
        // No load into the hopper was booked: it shows zero and the 143
        // taken from it are named; the forecast counts them (557 left).
        let total: i64 = s.on_hand.iter().filter(|o| o.item == "blanko").map(|o| o.quantity).sum();
        assert_eq!(total, 700);
        assert_eq!(s.not_booked, [NotBooked { location: "hopper:p".into(), item: "blanko".into(), used: 140 + 2 + 1 }]);
        assert_eq!(s.blanks_week, 142);
        assert_eq!(s.blanks_today, 22);
        assert_eq!(s.spoiled.get("jam"), Some(&2));
        let days = s.days_left["blanko"].expect("a rate");
        assert!((days - 557.0 / (142.0 / 7.0)).abs() < 1e-9, "{days}");
        assert_eq!(days_left(10, 0), None);
    }
}
