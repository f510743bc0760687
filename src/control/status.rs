//! `cetak status`: the station at a glance for the operator: the district
//! link, each printer and the card in it, the jobs held by priority, stock
//! with days left, the last error. Colours on a terminal, plain when piped
//! (or with `NO_COLOR`). The daemon renders it for operators who may not
//! read the journal themselves (the state folder is the service's alone).

use cetak_model::wire::PrinterState;
use std::collections::BTreeMap;
use std::fmt::Write;

use crate::clock::format_time;
use crate::journal::{JobState, Journal, JournalError};
use crate::messages::{term, text, Detail, Lang, Term};

/// How a line is marked: fine, needs an eye, needs action.
#[derive(Clone, Copy)]
enum Tone {
    Good,
    Warn,
    Bad,
}

struct Paint(bool);

/// Whether this process's output takes colours.
pub fn colour_here() -> bool {
    crate::logging::colour(&std::io::stdout())
}

impl Paint {
    fn tone(&self, tone: Tone, s: &str) -> String {
        if !self.0 {
            return s.to_string();
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Warn => "33",
            Tone::Bad => "1;31",
        };
        format!("\x1b[{code}m{s}\x1b[0m")
    }
}

/// The operator's view as text, coloured or plain.
pub fn render(journal: &Journal, lang: Lang, warn_days: f64, colour: bool) -> Result<String, JournalError> {
    let paint = Paint(colour);
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "{}", text(lang, "status.header", &[]));
    match (journal.enrolment()?, journal.link()?) {
        (None, _) => {
            let _ = writeln!(w, "{}", text(lang, "status.local", &[]));
        }
        (Some(e), Some(link)) if !link.online => {
            let since = format_time(link.since);
            let _ =
                writeln!(w, "{}", paint.tone(Tone::Bad, &text(lang, "status.offline", &[("district", &e.district), ("since", &since)])));
            if let Some((at, error)) = journal.retry()? {
                let _ = writeln!(w, "  {}", text(lang, "status.next_retry", &[("at", &format_time(at)), ("error", &error)]));
            }
        }
        (Some(e), _) => {
            let _ = writeln!(
                w,
                "{}",
                paint.tone(Tone::Good, &text(lang, "status.online", &[("district", &e.district), ("station", &e.station)]))
            );
        }
    }

    let _ = writeln!(w, "\n{}:", text(lang, "status.printers", &[]));
    let stations = journal.station_status()?;
    if stations.is_empty() {
        let _ = writeln!(w, "  {}", text(lang, "status.none", &[]));
    }
    for (printer, state, detail) in stations {
        // The state's own sentence says it (`idle - idle, waiting` said it
        // twice, in English whatever the language).
        let (tone, shown) = match state {
            PrinterState::Printing => (Tone::Good, text(lang, "status.card_in", &[("job", &detail)])),
            PrinterState::Paused => (Tone::Warn, pause_text(journal, lang, &printer, &detail)?),
            PrinterState::Idle => (Tone::Good, Detail::parse(&detail).text(lang)),
            PrinterState::Offline | PrinterState::Error | PrinterState::Hung => (Tone::Bad, Detail::parse(&detail).text(lang)),
            PrinterState::Waiting | PrinterState::Stopped | PrinterState::Unknown => (Tone::Warn, Detail::parse(&detail).text(lang)),
        };
        let _ = writeln!(w, "  {printer}: {}", paint.tone(tone, &shown));
    }

    let _ = writeln!(w, "\n{}:", text(lang, "status.held", &[]));
    let mut held: BTreeMap<(bool, &str), u64> = BTreeMap::new();
    let jobs = journal.all_jobs()?;
    for j in &jobs {
        if matches!(j.state, JobState::Assigned | JobState::Ready | JobState::Printing) {
            *held.entry((j.priority != cetak_model::Priority::Urgent, j.state.as_str())).or_default() += 1;
        }
    }
    if held.is_empty() {
        let _ = writeln!(w, "  -");
    }
    for ((normal, state), n) in held {
        let priority = term(lang, Term::Priority, if normal { "normal" } else { "urgent" });
        let _ = writeln!(w, "  {priority:<9} {:<14} {n}", term(lang, Term::Job, state));
    }
    for j in jobs.iter().filter(|j| j.state == JobState::Uncertain) {
        let _ = writeln!(w, "  {}", paint.tone(Tone::Bad, &format!("! {}", text(lang, "job.uncertain", &[("job", &j.job_id)]))));
    }
    for (job, flag) in journal.flagged_outbox()? {
        let key = match flag.as_str() {
            "not_yours" => "status.not_yours",
            "unreadable" => "status.unreadable",
            _ => continue,
        };
        let job = job.unwrap_or_else(|| "-".into());
        let _ = writeln!(w, "  {}", paint.tone(Tone::Bad, &format!("! {}", text(lang, key, &[("job", &job)]))));
    }

    let summary = crate::stock::summary(&journal.ledger_rows()?, crate::clock::now());
    if !summary.on_hand.is_empty() {
        let _ = writeln!(w, "\n{}:", text(lang, "status.stock", &[]));
        for o in &summary.on_hand {
            let _ = writeln!(w, "  {}", on_hand_line(lang, o));
        }
        for n in &summary.not_booked {
            let line = not_booked_line(lang, n);
            let _ = writeln!(w, "  {}", paint.tone(Tone::Warn, &format!("! {line}")));
        }
        for (item, days) in &summary.days_left {
            let Some(d) = days else { continue };
            let item = &term(lang, Term::Item, item);
            let line = text(lang, "stock.days_left", &[("item", item), ("days", &format!("{d:.1}"))]);
            if *d < warn_days {
                let _ = writeln!(
                    w,
                    "  {}",
                    paint.tone(Tone::Warn, &format!("! {}", text(lang, "stock.warn", &[("item", item), ("days", &format!("{d:.1}"))])))
                );
            } else {
                let _ = writeln!(w, "  {line}");
            }
        }
    }

    if let Some((at, printer, job, fault)) = journal.last_failure()? {
        let _ = writeln!(
            w,
            "\n{}",
            text(
                lang,
                "status.last_error",
                &[("at", &format_time(at)), ("printer", &printer), ("job", &job), ("fault", &term(lang, Term::Fault, &fault))]
            )
        );
    }
    Ok(out)
}

/// One place's stock, its place and item in the operator's words.
pub fn on_hand_line(lang: Lang, o: &crate::stock::OnHand) -> String {
    format!("{:<26} {:<8} {:>6}", term(lang, Term::Place, &o.location), term(lang, Term::Item, &o.item), o.quantity)
}

/// Stock used where none was booked in.
pub fn not_booked_line(lang: Lang, n: &crate::stock::NotBooked) -> String {
    text(
        lang,
        "stock.not_booked",
        &[("item", &term(lang, Term::Item, &n.item)), ("location", &term(lang, Term::Place, &n.location)), ("used", &n.used)],
    )
}

fn pause_text(journal: &Journal, lang: Lang, printer: &str, detail: &str) -> Result<String, JournalError> {
    let Some(reason) = detail.strip_prefix("pause.") else { return Ok(detail.to_string()) };
    let (_, d) = journal.pause_of(printer)?.unwrap_or_default();
    let v = serde_json::from_str::<serde_json::Value>(&d).unwrap_or_default();
    let number = |k: &str| v[k].as_u64().map(|n| n.to_string()).or_else(|| v[k].as_str().map(str::to_string)).unwrap_or_default();
    let (cards, expected, found) = (number("cards"), number("expected"), number("found"));
    Ok(text(lang, &format!("pause.{reason}"), &[("printer", &printer), ("cards", &cards), ("expected", &expected), ("found", &found)]))
}
