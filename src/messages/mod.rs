//! The message catalog: every text meant for a person, in Bahasa Indonesia
//! and English. Logs, metrics and the protocol stay in English.
//!
//! The texts live in `id.toml` and `en.toml` beside this file; code names
//! them by the keys in [`KEYS`], and a test checks that every key exists in
//! both catalogs and that neither has a key the code does not know.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The operator's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Bahasa Indonesia.
    Id,
    /// English.
    En,
}

impl Lang {
    /// `--language`, then the config, then the locale, then English.
    pub fn choose(flag: Option<Lang>, config: Option<Lang>) -> Lang {
        flag.or(config).or_else(Self::from_locale).unwrap_or(Lang::En)
    }

    fn from_locale() -> Option<Lang> {
        ["LC_ALL", "LC_MESSAGES", "LANG"].iter().filter_map(|v| std::env::var(v).ok()).find(|v| !v.is_empty()).map(|v| {
            if v.starts_with("id") {
                Lang::Id
            } else {
                Lang::En
            }
        })
    }
}

/// Every key the code uses.
pub const KEYS: &[&str] = &[
    "fault.feeder_empty",
    "fault.jam",
    "fault.cover_open",
    "fault.ribbon_out",
    "fault.film_out",
    "fault.gone",
    "fault.card_inside",
    "fault.head_temp",
    "fault.busy",
    "pause.blank_unaccounted",
    "pause.operator",
    "pause.district_pause",
    "pause.district_drain",
    "job.uncertain",
    "state.idle",
    "state.printing",
    "state.waiting",
    "state.paused",
    "state.offline",
    "state.stopped",
    "status.header",
    "status.local",
    "status.online",
    "status.offline",
    "local.enrolled",
    "enroll.done",
    "stock.header",
    "stock.used",
    "stock.spoiled",
    "stock.days_left",
    "stock.warn",
    "stock.not_booked",
    "stock.done",
    "stock.verify_ok",
    "stock.verify_broken",
    "status.jobs",
    "status.printers",
    "status.none",
    "status.next_retry",
    "status.card_in",
    "status.held",
    "status.stock",
    "status.last_error",
    "demo.title",
    "demo.folder",
    "demo.wire",
    "demo.summary",
    "demo.printed",
    "demo.rejected",
    "demo.spoiled",
    "demo.uncertain",
    "demo.failed",
    "demo.blanks_left",
    "demo.ribbon_left",
    "demo.film_left",
    "demo.not_fitted",
    "run.no_config",
    "state.missing",
    "run.started",
    "run.stopped",
    "import.done",
    "resolve.done",
    "pause.done",
    "resume.done",
    "resume.nothing",
    "explain.done",
    "explain.partly",
    "explain.reset_done",
    "explain.reset_partly",
    "pause.counter_reset",
    "loop.failed",
    "loop.failing",
    "loop.hung",
    "reason.needs_approval",
    "journal.read_only",
    "journal.full",
    "journal.not_permitted",
    "doctor.ok",
    "doctor.fail",
    "doctor.config",
    "doctor.journal",
    "doctor.journal_none",
    "doctor.summary_ok",
    "doctor.summary_fail",
    "doctor.fix_config",
    "doctor.no_config",
    "doctor.fix_journal",
    "doctor.disk",
    "doctor.disk_low",
    "doctor.fix_disk",
    "doctor.users",
    "doctor.no_user",
    "doctor.no_group",
    "doctor.fix_users",
    "doctor.not_operator",
    "doctor.fix_operator",
    "doctor.printer",
    "doctor.not_permitted",
    "doctor.fix_permission",
    "doctor.printer_missing",
    "doctor.fix_printer_missing",
    "doctor.consumable",
    "doctor.not_ready",
    "doctor.stock_zero",
    "doctor.fix_stock",
    "doctor.district",
    "doctor.fix_district",
    "doctor.skew",
    "doctor.fix_skew",
    "doctor.token_refused",
    "doctor.fix_token",
    "doctor.images_kept",
    "status.not_yours",
    "status.unreadable",
    "doctor.fix_images_kept",
    "printer.refused",
    "printers.configured",
    "printers.none_configured",
    "printers.found",
    "printers.none_found",
    "help.arg.demo.jobs",
    "help.arg.demo.seed",
    "help.arg.demo.count",
    "help.arg.demo.out",
    "help.arg.demo.time_scale",
    "help.arg.demo.wire",
    "help.arg.demo.faults",
    "help.arg.run.emulator",
    "help.arg.run.jobs",
    "help.arg.run.until_idle",
    "help.arg.import.file",
    "help.arg.enroll.district",
    "help.arg.enroll.code",
    "help.arg.enroll.ca_sha256",
    "help.arg.jobs_resolve.job_id",
    "help.arg.jobs_resolve.printed",
    "help.arg.jobs_resolve.spoiled",
    "help.arg.pause.printer",
    "help.arg.resume.printer",
    "help.arg.doctor.min_free_mb",
    "help.arg.render.job",
    "help.arg.render.index",
    "help.arg.render.out",
    "help.arg.bench.cards",
    "help.arg.bench.dir",
    "help.arg.stock_explain.printer",
    "help.arg.stock_explain.cards",
    "help.arg.stock_explain.reset",
    "help.arg.stock_explain.reset_to",
    "help.arg.stock_explain.reason",
    "help.arg.stock_receive.blanko",
    "help.arg.stock_receive.batch",
    "help.arg.stock_receive.version",
    "help.arg.stock_receive.serial_from",
    "help.arg.stock_receive.serial_to",
    "help.arg.stock_load.printer",
    "help.arg.stock_load.blanko",
    "help.arg.stock_ribbon.printer",
    "help.arg.stock_ribbon.cards",
    "help.arg.stock_ribbon.lot",
    "help.arg.stock_film.printer",
    "help.arg.stock_film.cards",
    "help.arg.stock_film.lot",
    "help.arg.stock_count.printer",
    "help.arg.stock_count.blanko",
    "help.arg.stock_count.reason",
    "help.arg.stock_report.from",
    "help.arg.stock_report.to",
    "help.arg.stock_report.format",
    "help.cetak",
    "help.demo",
    "help.run",
    "help.import",
    "help.enroll",
    "help.status",
    "help.jobs",
    "help.jobs_resolve",
    "help.pause",
    "help.resume",
    "help.doctor",
    "help.render",
    "help.printers",
    "help.printers_test",
    "help.bench",
    "help.stock",
    "help.stock_explain",
    "help.stock_receive",
    "help.stock_load",
    "help.stock_ribbon",
    "help.stock_film",
    "help.stock_count",
    "help.stock_verify",
    "help.stock_report",
    "help.opt_config",
    "help.opt_language",
    "help.opt_log_format",
    "help.opt_state_dir",
    "demo.waiting",
    "demo.clerk_removes",
    "demo.operator_spoils",
    "demo.card_spoiled",
    "demo.card_uncertain",
    "demo.card_not_fed",
    "term.fault.feeder_empty",
    "term.fault.jam",
    "term.fault.cover_open",
    "term.fault.ribbon_out",
    "term.fault.film_out",
    "term.fault.gone",
    "term.fault.card_inside",
    "term.fault.head_temp",
    "term.fault.busy",
    "term.fault.serial_changed",
    "term.fault.card_inside_at_recovery",
    "term.fault.unknown",
    "term.item.blanko",
    "term.item.ribbon",
    "term.item.film",
    "term.place.safe",
    "term.place.hopper",
    "term.place.printer",
    "term.priority.urgent",
    "term.priority.normal",
    "term.job.assigned",
    "term.job.ready",
    "term.job.printing",
    "term.job.rejected",
    "term.job.printed",
    "term.job.failed",
    "term.job.uncertain",
    "term.job.released",
    "term.job.reported",
    "term.job.purged",
    "jobs.spoils",
];

const ID: &str = include_str!("id.toml");
const EN: &str = include_str!("en.toml");

fn parse(text: &str) -> BTreeMap<String, String> {
    // The catalogs are compiled in and checked by a test; an unreadable one
    // degrades to keys rather than stopping a station.
    toml::from_str(text).unwrap_or_default()
}

/// The catalog of a language.
pub fn catalog(lang: Lang) -> &'static BTreeMap<String, String> {
    static CATALOGS: OnceLock<(BTreeMap<String, String>, BTreeMap<String, String>)> = OnceLock::new();
    let (id, en) = CATALOGS.get_or_init(|| (parse(ID), parse(EN)));
    match lang {
        Lang::Id => id,
        Lang::En => en,
    }
}

/// The text of `key` in `lang`, with `{name}` placeholders filled.
pub fn text(lang: Lang, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut s = catalog(lang).get(key).cloned().unwrap_or_else(|| key.to_string());
    for (name, value) in args {
        s = s.replace(&format!("{{{name}}}"), &value.to_string());
    }
    s
}

/// A message kept for later (a printer's status detail in the journal):
/// its key and the values of its placeholders, stored as JSON, so each
/// reader renders it in its own language. A bare key is a detail too
/// (every status written before details took values).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Detail {
    pub key: String,
    #[serde(default)]
    pub args: BTreeMap<String, String>,
}

impl Detail {
    pub fn new(key: &str) -> Self {
        Self { key: key.to_string(), args: BTreeMap::new() }
    }

    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.args.insert(name.to_string(), value.to_string());
        self
    }

    /// A stored detail: JSON as [`Detail::to_string`] writes it, or a bare
    /// key.
    pub fn parse(stored: &str) -> Self {
        serde_json::from_str(stored).unwrap_or_else(|_| Self::new(stored))
    }

    /// The detail in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        let args: Vec<(&str, &dyn std::fmt::Display)> = self.args.iter().map(|(k, v)| (k.as_str(), v as &dyn std::fmt::Display)).collect();
        text(lang, &self.key, &args)
    }
}

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.args.is_empty() {
            return f.write_str(&self.key);
        }
        f.write_str(&serde_json::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}

/// The kinds of code a person is shown: each has a `term.KIND.CODE`
/// message whose Indonesian is the glossary's word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Term {
    /// Why a blank was spoiled or a card failed (a printer fault code).
    Fault,
    /// A stock item: `blanko`, `ribbon`, `film`.
    Item,
    /// A ledger place: `safe`, `hopper:NAME`, `printer:NAME`.
    Place,
    /// A job's priority.
    Priority,
    /// A held job's state.
    Job,
}

impl Term {
    fn as_str(self) -> &'static str {
        match self {
            Term::Fault => "fault",
            Term::Item => "item",
            Term::Place => "place",
            Term::Priority => "priority",
            Term::Job => "job",
        }
    }
}

/// A code as a person reads it in `lang`. A code with no `term.*` message
/// (an operator's own reason for a spoiled blank) is shown as it is.
pub fn term(lang: Lang, kind: Term, code: &str) -> String {
    let (code, printer) = match kind {
        Term::Place => code.split_once(':').map_or((code, ""), |(place, printer)| (place, printer)),
        _ => (code, ""),
    };
    let key = format!("term.{}.{code}", kind.as_str());
    if catalog(lang).contains_key(&key) {
        text(lang, &key, &[("printer", &printer)])
    } else if printer.is_empty() {
        code.to_string()
    } else {
        format!("{code}:{printer}")
    }
}

/// Why a record was refused, as a list shows it: the sentence in `lang`,
/// then the code for IT (`NIK harus 16 digit [nik.length]`).
pub fn rejection(lang: Lang, code: &str) -> String {
    cetak_model::reasons::shown(code, model_language(lang))
}

fn model_language(lang: Lang) -> cetak_model::reasons::Language {
    match lang {
        Lang::Id => cetak_model::reasons::Language::Id,
        Lang::En => cetak_model::reasons::Language::En,
    }
}

/// The instruction for a printer fault.
pub fn fault(lang: Lang, f: cetak_drivers::Fault) -> String {
    text(lang, &format!("fault.{}", f.as_str()), &[])
}

const GLOSSARY: &str = include_str!("glossary.toml");

/// The glossary (`glossary.toml`): English terms and their Indonesian
/// words, and the terms that are Indonesian words too.
pub fn glossary() -> (BTreeMap<String, String>, Vec<String>) {
    #[derive(serde::Deserialize)]
    struct Homographs {
        words: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct Glossary {
        terms: BTreeMap<String, String>,
        homographs: Homographs,
    }
    // Compiled in and parsed by a test; unreadable, it holds nothing.
    let g: Glossary = toml::from_str(GLOSSARY).unwrap_or(Glossary { terms: BTreeMap::new(), homographs: Homographs { words: Vec::new() } });
    (g.terms, g.homographs.words)
}

/// The English glossary terms a piece of Indonesian text uses, outside
/// quoted commands, placeholders, flags, paths and codes: what a test
/// holds every Indonesian message and screen to.
pub fn english_terms_in(indonesian: &str) -> Vec<String> {
    let (terms, homographs) = glossary();
    let mut free = String::new();
    let (mut quoted, mut placeholder) = (false, false);
    for c in indonesian.chars() {
        match c {
            '\'' => quoted = !quoted,
            '{' => placeholder = true,
            '}' => placeholder = false,
            _ if quoted || placeholder => {}
            c => free.push(c),
        }
    }
    // Flags, paths and codes (`--state-dir`, `/var/lib`, `fault.jam`)
    // are names, not words.
    free.split_whitespace()
        .map(|t| t.trim_start_matches('(').trim_end_matches(['.', ',', ':', ';', ')']))
        .filter(|t| !t.starts_with('-') && !t.contains(['/', '=', '_', '.']))
        .flat_map(|t| t.split(|c: char| !c.is_alphanumeric()))
        .map(str::to_lowercase)
        .filter(|w| terms.get(w).is_some_and(|id| id.to_lowercase() != *w) && !homographs.contains(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_exists_in_both_languages() {
        for lang in [Lang::Id, Lang::En] {
            let cat = catalog(lang);
            assert!(!cat.is_empty(), "{lang:?} catalog does not parse");
            for key in KEYS {
                let t = cat.get(*key).map(String::as_str).unwrap_or("");
                assert!(!t.trim().is_empty(), "{key} missing in {lang:?}");
            }
            for key in cat.keys() {
                assert!(KEYS.contains(&key.as_str()), "{key} in {lang:?} is not used by the code");
            }
        }
    }

    /// A key the code names but the catalog lacks shows the reader the raw
    /// key (as `pause.district_pause` once did): every string literal in
    /// `src/` shaped like a key of the catalog's families is one of
    /// [`KEYS`]. (Keys built with `format!` are held by the tests beside
    /// their families: faults, pauses, help.)
    #[test]
    fn every_key_the_code_names_is_in_the_catalog() {
        let families: std::collections::BTreeSet<&str> = KEYS.iter().filter_map(|k| k.split('.').next()).collect();
        let files = crate::layering::rust_files(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
        assert!(files.len() > 50, "the sources are found");
        let mut unknown = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for (i, _) in text.match_indices('"') {
                let word: String =
                    text[i + 1..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '.').collect();
                let closed = text[i + 1 + word.len()..].starts_with('"');
                let family = word.split('.').next().unwrap_or("");
                // File names (`jobs.jsonl`, `journal.db`) are not keys.
                let file = [".jsonl", ".db", ".toml", ".json", ".png", ".csv", ".key", ".sock", ".rs"].iter().any(|x| word.ends_with(x));
                if closed
                    && word.contains('.')
                    && !word.ends_with('.')
                    && families.contains(family)
                    && !file
                    && !KEYS.contains(&word.as_str())
                {
                    unknown.push(format!("{}: {word}", f.display()));
                }
            }
        }
        assert!(unknown.is_empty(), "keys named in the code but not in the catalog: {unknown:?}");
    }

    #[test]
    fn every_fault_has_an_instruction() {
        use cetak_drivers::Fault::*;
        for f in [FeederEmpty, Jam, CoverOpen, RibbonOut, FilmOut, Gone, CardInside, HeadTemp, Busy] {
            assert!(KEYS.contains(&format!("fault.{}", f.as_str()).as_str()), "{f:?}");
        }
        assert_eq!(fault(Lang::Id, Jam), "Kartu macet: buka penutup, keluarkan kartu, tutup penutup");
    }

    #[test]
    fn the_glossary_parses() {
        assert!(toml::from_str::<toml::Value>(GLOSSARY).is_ok());
        assert!(glossary().0.len() > 10);
    }

    #[test]
    fn every_indonesian_message_keeps_to_the_glossary() {
        let mut found = Vec::new();
        for (key, t) in catalog(Lang::Id) {
            for w in english_terms_in(t) {
                found.push(format!("{key}: {w:?}"));
            }
        }
        for k in cetak_model::reasons::KNOWN {
            let code = if k.contains('.') { k.to_string() } else { format!("nama.{k}") };
            let t = cetak_model::reasons::sentence(&code, cetak_model::reasons::Language::Id).unwrap_or_default();
            for w in english_terms_in(&t) {
                found.push(format!("reason {code}: {w:?}"));
            }
        }
        assert!(found.is_empty(), "English terms in Indonesian messages (glossary.toml gives the word): {found:#?}");
    }

    #[test]
    fn every_code_shown_has_the_glossarys_word() {
        let (terms, _) = glossary();
        for (english, indonesian) in &terms {
            for (key, t) in catalog(Lang::Id).iter().filter(|(k, _)| k.starts_with("term.")) {
                let en = catalog(Lang::En).get(key).map(String::as_str).unwrap_or("");
                // A term whose English is the glossary term exactly says
                // the glossary's word in Indonesian.
                if en.eq_ignore_ascii_case(english) {
                    assert!(t.to_lowercase().contains(&indonesian.to_lowercase()), "{key}: {t:?} is not {indonesian:?}");
                }
            }
        }
        assert_eq!(term(Lang::Id, Term::Fault, "jam"), "macet", "a jam is macet, never an hour");
        assert_eq!(term(Lang::Id, Term::Place, "hopper:meja-1"), "penampung kartu meja-1");
        assert_eq!(term(Lang::Id, Term::Place, "safe"), "brankas");
        assert_eq!(term(Lang::Id, Term::Fault, "kartu uji"), "kartu uji", "an operator's own reason as it is");
        use cetak_drivers::Fault::*;
        for f in [FeederEmpty, Jam, CoverOpen, RibbonOut, FilmOut, Gone, CardInside, HeadTemp, Busy] {
            assert!(catalog(Lang::Id).contains_key(&format!("term.fault.{}", f.as_str())), "{f:?} has no term");
        }
    }

    /// A pause the district ordered is shown as a sentence: its key was
    /// built with `format!` and missing, so `status` showed
    /// `pause.district_pause` (found in issue 22's reading).
    #[test]
    fn every_pause_a_district_orders_has_a_sentence() {
        use cetak_model::wire::CommandKind;
        for kind in [CommandKind::Pause, CommandKind::Drain] {
            let key = format!("pause.district_{}", kind.as_str());
            for lang in [Lang::Id, Lang::En] {
                assert!(catalog(lang).contains_key(&key), "{key} in {lang:?}");
            }
        }
    }

    #[test]
    fn placeholders_are_filled() {
        let s = text(Lang::En, "resolve.done", &[("job", &"j-1"), ("state", &"printed")]);
        assert_eq!(s, "Job j-1 is now printed");
    }
}
