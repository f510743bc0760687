//! Stock on hand as a fold of the journal's ledger (DESIGN §4), usage, and
//! the forecast of when each consumable runs out.

use std::collections::BTreeMap;

use crate::journal::LedgerRow;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// One consumable at one location.
#[derive(Clone, Debug, PartialEq)]
pub struct OnHand {
    pub location: String,
    pub item: String,
    pub quantity: i64,
}

/// What `cetak stock` shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub on_hand: Vec<OnHand>,
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
    matches!(row.kind.as_str(), "blank_used" | "blank_spoiled" | "ribbon_used" | "film_used")
}

/// Folds the ledger as of `now` (Unix seconds).
pub fn summary(rows: &[LedgerRow], now: i64) -> Summary {
    let mut s = Summary::default();
    let mut totals: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut used_week: BTreeMap<String, i64> = BTreeMap::new();
    let today = now - now.rem_euclid(DAY);
    for r in rows {
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
        if r.kind == "blank_spoiled" {
            let detail: serde_json::Value = serde_json::from_str(&r.detail).unwrap_or_default();
            let reason = detail["reason"].as_str().or(detail["fault"].as_str()).unwrap_or("unknown").to_string();
            *s.spoiled.entry(reason).or_default() += 1;
        }
    }
    let mut per_item: BTreeMap<String, i64> = BTreeMap::new();
    for ((location, item), quantity) in totals {
        *per_item.entry(item.clone()).or_default() += quantity;
        s.on_hand.push(OnHand { location, item, quantity });
    }
    for (item, total) in per_item {
        let used = used_week.get(&item).copied().unwrap_or(0);
        s.days_left.insert(item, days_left(total, used));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let total: i64 = s.on_hand.iter().filter(|o| o.item == "blanko").map(|o| o.quantity).sum();
        assert_eq!(total, 700 - 140 - 2 - 1);
        assert_eq!(s.blanks_week, 142);
        assert_eq!(s.blanks_today, 22);
        assert_eq!(s.spoiled.get("jam"), Some(&2));
        let days = s.days_left["blanko"].expect("a rate");
        assert!((days - 557.0 / (142.0 / 7.0)).abs() < 1e-9, "{days}");
        assert_eq!(days_left(10, 0), None);
    }
}
