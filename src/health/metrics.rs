//! `/metrics` in the Prometheus text format (version 0.0.4): counters end
//! in `_total`, times are in seconds, every family has its HELP and TYPE.

use cetak_model::wire::PrinterState;
use std::fmt::Write;

use crate::journal::{Journal, JournalError};

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
        let labels = if labels.is_empty() { String::new() } else { format!("{{{}}}", labels.join(",")) };
        let _ = writeln!(self.0, "{name}{labels} {value}");
    }
}

/// A label value as the format wants it: backslash, quote and newline
/// escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

pub fn render(journal: &Journal, printers: &[String]) -> Result<String, JournalError> {
    let t = journal.tallies()?;
    let mut o = Out(String::new());
    o.family("cetak_build_info", "gauge", "The agent's version (always 1).");
    o.sample("cetak_build_info", &[("version", env!("CARGO_PKG_VERSION"))], 1);

    o.family("cetak_cards_printed_total", "counter", "Good cards printed (blanks booked as used).");
    o.sample("cetak_cards_printed_total", &[], t.printed);
    o.family("cetak_cards_spoiled_total", "counter", "Blanks spoiled, by reason.");
    for (reason, n) in &t.spoiled {
        o.sample("cetak_cards_spoiled_total", &[("reason", reason)], n);
    }
    o.family("cetak_failures_total", "counter", "Print attempts that did not give a good card, by fault.");
    for (reason, n) in &t.failures {
        o.sample("cetak_failures_total", &[("reason", reason)], n);
    }

    o.family("cetak_jobs", "gauge", "Jobs in the journal, by state.");
    for (state, n) in journal.counts()? {
        o.sample("cetak_jobs", &[("state", state.as_str())], n);
    }
    o.family("cetak_outbox_depth", "gauge", "Results and events waiting for the district.");
    o.sample("cetak_outbox_depth", &[], t.outbox);
    o.family(
        "cetak_results_not_yours_total",
        "counter",
        "Results the district refused as for an assignment this station never had (kept flagged).",
    );
    let flagged = journal.flagged_outbox()?;
    o.sample("cetak_results_not_yours_total", &[], flagged.iter().filter(|(_, f)| f == "not_yours").count());
    o.family("cetak_outbox_unreadable_total", "counter", "Outbox messages that could not be read, set aside and not sent.");
    o.sample("cetak_outbox_unreadable_total", &[], flagged.iter().filter(|(_, f)| f == "unreadable").count());

    let rows = journal.ledger_rows()?;
    let stock = crate::stock::summary(&rows, crate::clock::now());
    o.family("cetak_stock", "gauge", "Consumables on hand, by location and item (blanks; ribbon and film in cards).");
    for s in &stock.on_hand {
        o.sample("cetak_stock", &[("location", &s.location), ("item", &s.item)], s.quantity);
    }
    o.family(
        "cetak_stock_not_booked",
        "gauge",
        "Consumables used beyond what was booked into a location (printing goes on; book the delivery).",
    );
    for n in &stock.not_booked {
        o.sample("cetak_stock_not_booked", &[("location", &n.location), ("item", &n.item)], n.used);
    }
    // In the base unit (seconds), as Prometheus names want: days x 86,400.
    o.family("cetak_stock_remaining_seconds", "gauge", "Seconds until an item runs out at the last 7 days' rate.");
    for (item, days) in &stock.days_left {
        if let Some(d) = days {
            o.sample("cetak_stock_remaining_seconds", &[("item", item)], format!("{:.0}", d * 86_400.0));
        }
    }

    if journal.enrolment()?.is_some() {
        let link = journal.link()?;
        o.family(
            "cetak_district_retry_state",
            "gauge",
            "1 while the district cannot be reached and calls are retried with backoff, else 0.",
        );
        o.sample("cetak_district_retry_state", &[], u8::from(link.as_ref().is_some_and(|l| !l.online)));
        if let Some(last) = journal.last_contact()? {
            o.family("cetak_district_last_contact_seconds", "gauge", "Seconds since the district last answered.");
            o.sample("cetak_district_last_contact_seconds", &[], (crate::clock::now() - last).max(0));
        }
    }

    let statuses = journal.station_status()?;
    o.family("cetak_printer_state", "gauge", "1 for each printer's current state, 0 for the others.");
    for p in printers {
        let current = statuses.iter().find(|(name, _, _)| name == p).map(|(_, s, _)| *s);
        // A 0/1 series for every state (`PrinterState::ALL`), so a
        // dashboard can alert on `offline == 1`.
        for state in PrinterState::ALL {
            o.sample("cetak_printer_state", &[("printer", p), ("state", state.as_str())], u8::from(current == Some(state)));
        }
    }
    Ok(o.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_are_escaped() {
        assert_eq!(super::escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
