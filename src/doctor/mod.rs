//! `cetak doctor`: every check an installer would do by hand, each with a
//! verdict and, when it fails, what was found and how to fix it, in the
//! operator's language. Nothing here changes the station, except that an
//! enrolled station sends the district one heartbeat (to test the token).
//!
//! While the daemon runs it holds the printers (a serial port or a TCP
//! printer takes one client), so the printer checks then read what its
//! station loops last recorded instead of opening the printers.

use cetak_model::wire::PrinterState;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Config, ConfigError, PrinterConfig, TransportKind};
use crate::journal::Journal;
use crate::messages::{fault, term, text, Lang, Term};

/// One check's outcome: empty `problems` is a pass.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub check: String,
    pub problems: Vec<Problem>,
}

#[derive(Clone, Debug)]
pub struct Problem {
    pub found: String,
    pub fix: String,
}

pub struct DoctorOptions<'a> {
    /// The config as loaded, or why it did not load (`None`: no file).
    pub config: Option<&'a Result<Config, ConfigError>>,
    pub state_dir: &'a Path,
    pub lang: Lang,
    /// Free space the state folder's disk must have.
    pub min_free_mb: u64,
}

/// Runs every check, in an installer's order.
pub fn run(o: &DoctorOptions<'_>) -> Vec<Verdict> {
    let lang = o.lang;
    let t = |key: &str| text(lang, key, &[]);
    let p = |found: String, fix_key: &str| Problem { found, fix: t(fix_key) };
    let mut out = Vec::new();

    let config = match o.config {
        Some(Ok(c)) => {
            out.push(Verdict { check: t("doctor.config"), problems: Vec::new() });
            Some(c)
        }
        Some(Err(e)) => {
            out.push(Verdict { check: t("doctor.config"), problems: vec![p(e.to_string(), "doctor.fix_config")] });
            None
        }
        None => {
            out.push(Verdict { check: t("doctor.config"), problems: vec![p(t("doctor.no_config"), "doctor.fix_config")] });
            None
        }
    };

    // Looking creates nothing: before the service's first start there is
    // no journal yet, and that is no failure.
    let journal = match Journal::open_existing(o.state_dir) {
        Ok(None) => {
            out.push(Verdict { check: text(lang, "doctor.journal_none", &[("path", &o.state_dir.display())]), problems: Vec::new() });
            None
        }
        Ok(Some(j)) => {
            let problems = match j.check() {
                Ok(list) => list.into_iter().map(|f| p(f, "doctor.fix_journal")).collect(),
                Err(e) => vec![p(e.to_string(), "doctor.fix_journal")],
            };
            out.push(Verdict { check: t("doctor.journal"), problems });
            Some(j)
        }
        Err(e) => {
            out.push(Verdict { check: t("doctor.journal"), problems: vec![p(e.to_string(), "doctor.fix_journal")] });
            None
        }
    };

    out.push(Verdict { check: t("doctor.disk"), problems: disk(o.state_dir, o.min_free_mb, lang) });

    if let Some(c) = config {
        out.push(Verdict { check: t("doctor.users"), problems: users(c, lang) });
        // No state folder: no daemon has run (and none is created here).
        let daemon_running = o.state_dir.exists()
            && matches!(crate::control::lock_daemon(o.state_dir), Err(crate::control::ControlError::AlreadyRunning(_)));
        for pc in &c.printers {
            let check = text(lang, "doctor.printer", &[("printer", &pc.name)]);
            let problems =
                if daemon_running { printer_from_journal(pc, journal.as_ref(), lang) } else { printer(pc, c, journal.as_ref(), lang) };
            out.push(Verdict { check, problems });
        }
    }

    if let Some(j) = &journal {
        if let Ok(Some(_)) = j.enrolment() {
            out.push(Verdict { check: t("doctor.district"), problems: district(j, lang) });
        }
    }
    out
}

/// Free space where the journal lives.
fn disk(state_dir: &Path, min_free_mb: u64, lang: Lang) -> Vec<Problem> {
    // The state folder may not exist yet: its nearest existing parent.
    let mut at: PathBuf = state_dir.to_path_buf();
    while !at.exists() {
        match at.parent() {
            Some(parent) => at = parent.to_path_buf(),
            None => break,
        }
    }
    match rustix::fs::statvfs(&at) {
        Ok(s) => {
            let free_mb = s.f_bavail.saturating_mul(s.f_frsize) / (1024 * 1024);
            if free_mb < min_free_mb {
                let found = text(lang, "doctor.disk_low", &[("path", &at.display()), ("free", &free_mb), ("needed", &min_free_mb)]);
                vec![Problem { found, fix: text(lang, "doctor.fix_disk", &[]) }]
            } else {
                Vec::new()
            }
        }
        Err(e) => vec![Problem { found: format!("{}: {e}", at.display()), fix: text(lang, "doctor.fix_disk", &[]) }],
    }
}

/// The service user and the operators' group exist; the caller, unless
/// root or the service user, may use the operator's socket.
fn users(c: &Config, lang: Lang) -> Vec<Problem> {
    use crate::users;
    let mut problems = Vec::new();
    let fix = |key: &str| text(lang, key, &[]);
    let s = &c.service;
    if users::user(&s.user).is_none() {
        problems.push(Problem { found: text(lang, "doctor.no_user", &[("user", &s.user)]), fix: fix("doctor.fix_users") });
    }
    if users::group(&s.operator_group).is_none() {
        problems.push(Problem { found: text(lang, "doctor.no_group", &[("group", &s.operator_group)]), fix: fix("doctor.fix_users") });
    }
    let me = users::user_name(rustix::process::getuid().as_raw());
    let caller = std::env::var("SUDO_USER").ok().filter(|u| !u.is_empty()).unwrap_or(me);
    if caller != "root" && caller != s.user && !users::in_group(&caller, &s.operator_group) {
        problems.push(Problem {
            found: text(lang, "doctor.not_operator", &[("user", &caller), ("group", &s.operator_group)]),
            fix: text(lang, "doctor.fix_operator", &[("user", &caller), ("group", &s.operator_group)]),
        });
    }
    problems
}

/// A serial printer's device node must be readable and writable by the
/// service user (the udev rule's group); `None` when that holds or does not
/// apply.
fn permission(pc: &PrinterConfig, c: &Config, lang: Lang) -> Option<Problem> {
    use std::os::unix::fs::MetadataExt;
    if pc.transport != Some(TransportKind::Serial) {
        return None;
    }
    let path = pc.path.as_deref()?;
    let meta = std::fs::metadata(path).ok()?;
    let (uid, gid) = crate::users::user(&c.service.user)?;
    let groups = crate::users::groups_of(&c.service.user, gid);
    let mode = meta.mode();
    let allowed = uid == 0 || (meta.uid() == uid && mode & 0o600 == 0o600) || (groups.contains(&meta.gid()) && mode & 0o060 == 0o060);
    (!allowed).then(|| Problem {
        found: text(lang, "doctor.not_permitted", &[("path", &path), ("user", &c.service.user)]),
        fix: text(lang, "doctor.fix_permission", &[]),
    })
}

/// Opens the printer: found, permitted, ready, consumables.
fn printer(pc: &PrinterConfig, c: &Config, journal: Option<&Journal>, lang: Lang) -> Vec<Problem> {
    let mut problems: Vec<Problem> = permission(pc, c, lang).into_iter().collect();
    let not_found = |reason: String| Problem {
        found: text(lang, "doctor.printer_missing", &[("reason", &reason)]),
        fix: text(lang, "doctor.fix_printer_missing", &[]),
    };
    let mut printer = match crate::printers::open(pc, &c.state_dir) {
        Ok(p) => p,
        Err(e) => {
            problems.push(not_found(e.to_string()));
            return problems;
        }
    };
    if let Err(e) = printer.prepare() {
        problems.push(not_found(e.to_string()));
        return problems;
    }
    // Harmless: no resident's image may stay in the printer.
    if let Err(e) = printer.clear_memory() {
        problems.push(images_kept(lang, &e.to_string()));
    }
    match printer.status() {
        Ok(status) => {
            for f in &status.faults {
                let key = if consumable(*f) { "doctor.consumable" } else { "doctor.not_ready" };
                problems.push(Problem { found: text(lang, key, &[("fault", &f.as_str())]), fix: fault(lang, *f) });
            }
            if status.card_inside && status.faults.is_empty() {
                let f = cetak_drivers::Fault::CardInside;
                problems.push(Problem { found: text(lang, "doctor.not_ready", &[("fault", &f.as_str())]), fix: fault(lang, f) });
            }
            if status.ribbon_left == Some(0) && !status.faults.contains(&cetak_drivers::Fault::RibbonOut) {
                let f = cetak_drivers::Fault::RibbonOut;
                problems.push(Problem { found: text(lang, "doctor.consumable", &[("fault", &f.as_str())]), fix: fault(lang, f) });
            }
        }
        Err(e) => problems.push(not_found(e.to_string())),
    }
    problems.extend(ledger_stock(pc, journal, lang));
    problems
}

fn consumable(f: cetak_drivers::Fault) -> bool {
    use cetak_drivers::Fault;
    matches!(f, Fault::FeederEmpty | Fault::RibbonOut | Fault::FilmOut)
}

/// The ledger's view: a tracked consumable at zero at this printer.
fn ledger_stock(pc: &PrinterConfig, journal: Option<&Journal>, lang: Lang) -> Vec<Problem> {
    let Some(rows) = journal.and_then(|j| j.ledger_rows().ok()) else { return Vec::new() };
    let places = [crate::journal::stock::hopper(&pc.name), crate::journal::stock::printer_loc(&pc.name)];
    crate::stock::exhausted(&rows, crate::clock::now())
        .into_iter()
        .filter(|o| places.contains(&o.location))
        .map(|o| Problem {
            found: text(
                lang,
                "doctor.stock_zero",
                &[("item", &term(lang, Term::Item, &o.item)), ("location", &term(lang, Term::Place, &o.location))],
            ),
            fix: text(lang, "doctor.fix_stock", &[]),
        })
        .collect()
}

/// The daemon holds the printer: what its station loop last recorded.
fn printer_from_journal(pc: &PrinterConfig, journal: Option<&Journal>, lang: Lang) -> Vec<Problem> {
    let status = journal.and_then(|j| j.station_status().ok()).unwrap_or_default();
    let mut problems = Vec::new();
    match status.into_iter().find(|(name, _, _)| name == &pc.name) {
        Some((_, PrinterState::Offline, _)) => problems.push(Problem {
            found: text(lang, "doctor.printer_missing", &[("reason", &"the daemon cannot reach it")]),
            fix: text(lang, "doctor.fix_printer_missing", &[]),
        }),
        Some((_, PrinterState::Waiting, detail)) => {
            let code = detail.strip_prefix("fault.").unwrap_or(&detail).to_string();
            problems.push(Problem { found: text(lang, "doctor.not_ready", &[("fault", &code)]), fix: text(lang, &detail, &[]) })
        }
        _ => {}
    }
    // The station loop clears the printer's memory after every card and
    // queues an event when the printer refuses: one in the last day counts.
    let day_ago = crate::clock::now() - 86_400;
    let kept = journal.and_then(|j| j.recent_events("bitmaps_not_cleared", day_ago).ok()).unwrap_or_default();
    if let Some(body) = kept.iter().rev().find(|b| b["printer"] == pc.name.as_str()) {
        problems.push(images_kept(lang, body["error"].as_str().unwrap_or("")));
    }
    problems.extend(ledger_stock(pc, journal, lang));
    problems
}

/// The printer keeps the stored images of a card (`Wcb` refused).
fn images_kept(lang: Lang, error: &str) -> Problem {
    Problem { found: text(lang, "doctor.images_kept", &[("error", &error)]), fix: text(lang, "doctor.fix_images_kept", &[]) }
}

/// Reaches the district with the station's token (one heartbeat) and
/// measures the clock against the district's time.
fn district(journal: &Journal, lang: Lang) -> Vec<Problem> {
    let Ok(Some(e)) = journal.enrolment() else { return Vec::new() };
    if let Ok(Some(ms)) = journal.last_district_ms() {
        crate::queue::tls::raise_time_floor(ms.div_euclid(1000));
    }
    let fix = |key: &str| text(lang, key, &[]);
    let client = match crate::queue::client_for(&e) {
        Ok(c) => c,
        Err(err) => return vec![Problem { found: err.to_string(), fix: fix("doctor.fix_district") }],
    };
    let hb = match crate::queue::heartbeat(journal, journal.link().ok().flatten().map(|l| l.skew_ms).unwrap_or(0)) {
        Ok(hb) => hb,
        Err(err) => return vec![Problem { found: err.to_string(), fix: fix("doctor.fix_journal") }],
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => return vec![Problem { found: err.to_string(), fix: fix("doctor.fix_district") }],
    };
    let answer = rt.block_on(client.post::<_, cetak_model::wire::Ack>("/v1/heartbeat", &hb, Duration::from_secs(15)));
    match answer {
        Ok((ack, rtt)) => {
            let ours = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
            let skew_s = (ours - (ack.time_ms + rtt.as_millis() as i64 / 2)) / 1000;
            if skew_s.abs() > MAX_SKEW_S {
                vec![Problem { found: text(lang, "doctor.skew", &[("seconds", &skew_s)]), fix: fix("doctor.fix_skew") }]
            } else {
                Vec::new()
            }
        }
        Err(err) if err.is_unauthorized() => {
            vec![Problem { found: text(lang, "doctor.token_refused", &[("district", &e.district)]), fix: fix("doctor.fix_token") }]
        }
        Err(err) => vec![Problem { found: err.to_string(), fix: fix("doctor.fix_district") }],
    }
}

/// A system clock further than this from the district's is reported: the
/// agent copes (it keeps the district's time), but TLS certificates and the
/// office's own records do not.
const MAX_SKEW_S: i64 = 300;

/// Prints the verdicts; the number of failed checks.
pub fn print(verdicts: &[Verdict], lang: Lang) -> usize {
    let colour = crate::logging::colour(&std::io::stdout());
    let mut failed = 0;
    for v in verdicts {
        let ok = v.problems.is_empty();
        failed += usize::from(!ok);
        let mark = if ok { text(lang, "doctor.ok", &[]) } else { text(lang, "doctor.fail", &[]) };
        let mark = match (colour, ok) {
            (true, true) => format!("\x1b[32m{mark}\x1b[0m"),
            (true, false) => format!("\x1b[31m{mark}\x1b[0m"),
            _ => mark,
        };
        println!("[{mark}] {}", v.check);
        for p in &v.problems {
            println!("      {}", p.found);
            println!("      -> {}", p.fix);
        }
    }
    failed
}
