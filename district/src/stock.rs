//! Stations' consumables ledgers at the district (DESIGN §4): each stock
//! report carries the events after the head the district last stored; the
//! district recomputes their chain from that head and stores them, or
//! raises an alarm when the report does not grow from what it holds (a
//! station's history rewritten). The fleet's stock is a fold of them.

use cetak_model::ledger::{verify_chain, LedgerEvent, ZERO_HASH};
use sqlx::postgres::PgPool;

use crate::DistrictError;

/// What a stock report did.
#[derive(Debug, PartialEq, Eq)]
pub enum StockOutcome {
    Stored(usize),
    /// The chain does not grow from the district's head: nothing stored,
    /// an alarm raised.
    Rewritten {
        at_hash: String,
    },
    /// The events would take the station past its quota: nothing stored.
    OverQuota {
        stored: i64,
        quota: i64,
    },
}

/// What one station may keep of its ledger at the district.
#[derive(Clone, Copy, Debug)]
pub struct StockQuota {
    /// Ledger events, in all (a busy station writes a few hundred a day).
    pub events: i64,
    /// Chain alarms of its current chain; past it an alarm is logged but
    /// not stored (its officers have that many to look at already).
    pub alarms: i64,
}

pub async fn store(pool: &PgPool, station: &str, events: &[LedgerEvent], quota: StockQuota) -> Result<StockOutcome, DistrictError> {
    let mut tx = pool.begin().await?;
    let row: Option<(Option<String>, i32, i64)> =
        sqlx::query_as("SELECT stock_head, stock_chain, stock_events_stored FROM stations WHERE station = $1 FOR UPDATE")
            .bind(station)
            .fetch_optional(&mut *tx)
            .await?;
    let chain = row.as_ref().map_or(0, |r| r.1);
    let stored = row.as_ref().map_or(0, |r| r.2);
    let head = row.and_then(|(h, _, _)| h).unwrap_or_else(|| ZERO_HASH.to_string());
    // A report sent again (its answer lost) starts with events we hold.
    let mut fresh = events;
    while let Some(first) = fresh.first() {
        let known: Option<(String,)> = sqlx::query_as("SELECT hash FROM stock_events WHERE station = $1 AND hash = $2 AND chain = $3")
            .bind(station)
            .bind(&first.hash)
            .bind(chain)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            break;
        }
        fresh = &fresh[1..];
    }
    if fresh.is_empty() {
        return Ok(StockOutcome::Stored(0));
    }
    let taking = i64::try_from(fresh.len()).unwrap_or(i64::MAX);
    if stored.saturating_add(taking) > quota.events {
        tracing::warn!(station, stored, quota = quota.events, "stock report past the station's quota: nothing stored");
        return Ok(StockOutcome::OverQuota { stored, quota: quota.events });
    }
    let new_head = match verify_chain(&head, fresh) {
        Ok(h) => h,
        Err(i) => {
            let bad = fresh[i].hash.clone();
            let reason = if i == 0 && fresh[0].prev_hash != head {
                format!("the report does not grow from the head the district holds ({head})")
            } else {
                format!("event {i} of the report does not hash to its chain")
            };
            let (alarms,): (i64,) = sqlx::query_as("SELECT count(*) FROM stock_alarms WHERE station = $1 AND chain = $2")
                .bind(station)
                .bind(chain)
                .fetch_one(&mut *tx)
                .await?;
            if alarms < quota.alarms {
                sqlx::query("INSERT INTO stock_alarms (station, bad_hash, reason, chain) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                    .bind(station)
                    .bind(&bad)
                    .bind(&reason)
                    .bind(chain)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            tracing::error!(station, reason = %reason, alarms_held = alarms, "ALARM: a station's ledger history was rewritten");
            return Ok(StockOutcome::Rewritten { at_hash: bad });
        }
    };
    for e in fresh {
        sqlx::query(
            "INSERT INTO stock_events (station, hash, prev_hash, at, kind, location, item, quantity, job_id, attempt, detail, chain)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (station, hash) DO UPDATE SET chain = $12",
        )
        .bind(station)
        .bind(&e.hash)
        .bind(&e.prev_hash)
        .bind(e.at)
        .bind(&e.kind)
        .bind(&e.location)
        .bind(&e.item)
        .bind(e.quantity)
        .bind(&e.job_id)
        .bind(e.attempt.map(i64::from))
        .bind(&e.detail)
        .bind(chain)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE stations SET stock_head = $2, stock_events_stored = stock_events_stored + $3 WHERE station = $1")
        .bind(station)
        .bind(&new_head)
        .bind(taking)
        .execute(&mut *tx)
        .await?;
    let detail = serde_json::json!({"events": fresh.len(), "head": new_head});
    crate::db::audit(&mut tx, &format!("station:{station}"), "stock_report", None, detail).await?;
    tx.commit().await?;
    Ok(StockOutcome::Stored(fresh.len()))
}

/// The head of `station`'s current chain the district holds.
pub async fn head(pool: &PgPool, station: &str) -> Result<Option<String>, DistrictError> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT stock_head FROM stations WHERE station = $1").bind(station).fetch_optional(pool).await?;
    Ok(row.and_then(|(h,)| h))
}

/// One station's stock as `cetak-district stock` shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StationStock {
    pub station: String,
    /// Blanks in the safe and every hopper.
    pub blanko: i64,
    /// Blanks used or spoiled in the last 7 days, a day.
    pub per_day: f64,
    pub alarms: i64,
}

impl StationStock {
    /// Days until the blanks run out at the recent rate.
    pub fn days_left(&self) -> Option<f64> {
        (self.per_day > 0.0).then(|| self.blanko.max(0) as f64 / self.per_day)
    }
}

/// Every station's blanks, burn rate and alarms, the station that runs out soonest first.
pub async fn fleet(pool: &PgPool) -> Result<Vec<StationStock>, DistrictError> {
    let mut rows: Vec<StationStock> = sqlx::query_as(
        "SELECT s.station,
                COALESCE((SELECT sum(quantity) FROM stock_events e WHERE e.station = s.station AND e.chain = s.stock_chain
                          AND e.item = 'blanko'), 0)::bigint AS blanko,
                COALESCE((SELECT count(*) FROM stock_events e WHERE e.station = s.station AND e.chain = s.stock_chain
                          AND e.kind IN ('blank_used', 'blank_spoiled')
                          AND e.at > EXTRACT(EPOCH FROM now())::bigint - 7 * 86400), 0)::float8 / 7.0 AS per_day,
                (SELECT count(*) FROM stock_alarms a WHERE a.station = s.station AND a.chain = s.stock_chain) AS alarms
         FROM stations s ORDER BY s.station",
    )
    .fetch_all(pool)
    .await?;
    rows.sort_by(|a, b| a.days_left().unwrap_or(f64::INFINITY).total_cmp(&b.days_left().unwrap_or(f64::INFINITY)));
    Ok(rows)
}
