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
    "doctor.fix_images_kept",
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

/// The instruction for a printer fault.
pub fn fault(lang: Lang, f: cetak_drivers::Fault) -> String {
    text(lang, &format!("fault.{}", f.as_str()), &[])
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

    #[test]
    fn every_fault_has_an_instruction() {
        use cetak_drivers::Fault::*;
        for f in [FeederEmpty, Jam, CoverOpen, RibbonOut, FilmOut, Gone, CardInside, HeadTemp, Busy] {
            assert!(KEYS.contains(&format!("fault.{}", f.as_str()).as_str()), "{f:?}");
        }
        assert_eq!(fault(Lang::Id, Jam), "Kartu macet: buka penutup, keluarkan kartu, tutup penutup");
    }

    #[test]
    fn placeholders_are_filled() {
        let s = text(Lang::En, "resolve.done", &[("job", &"j-1"), ("state", &"printed")]);
        assert_eq!(s, "Job j-1 is now printed");
    }
}
