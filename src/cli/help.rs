//! `--help` in the operator's language. clap writes help from the doc
//! comments, which are English; with `--language id` (or an `id_*`
//! locale) every command's description and every option's are replaced
//! from the catalog's `help.*` messages before parsing (`help.arg.CMD.ID`
//! for an option, CMD its command path joined by `_`). What stays English,
//! decided: the names of commands and options (they are typed as they
//! are) and clap's own words (`Usage`, `Options`, `Print help`). The
//! config's `language` is not known yet when the command line is parsed,
//! so it does not choose the help's language.

use clap::{CommandFactory, FromArgMatches};

use super::Cli;
use crate::messages::{text, Lang};

/// Each command path (space-separated) with its `help.*` key.
pub const COMMANDS: &[(&str, &str)] = &[
    ("", "help.cetak"),
    ("demo", "help.demo"),
    ("run", "help.run"),
    ("import", "help.import"),
    ("enroll", "help.enroll"),
    ("status", "help.status"),
    ("jobs", "help.jobs"),
    ("jobs resolve", "help.jobs_resolve"),
    ("pause", "help.pause"),
    ("resume", "help.resume"),
    ("doctor", "help.doctor"),
    ("render", "help.render"),
    ("printers", "help.printers"),
    ("printers test", "help.printers_test"),
    ("bench", "help.bench"),
    ("stock", "help.stock"),
    ("stock explain", "help.stock_explain"),
    ("stock receive", "help.stock_receive"),
    ("stock load", "help.stock_load"),
    ("stock ribbon", "help.stock_ribbon"),
    ("stock film", "help.stock_film"),
    ("stock count", "help.stock_count"),
    ("stock verify", "help.stock_verify"),
    ("stock report", "help.stock_report"),
];

/// The global options with their `help.*` key.
pub const GLOBAL_OPTIONS: &[(&str, &str)] = &[
    ("config", "help.opt_config"),
    ("language", "help.opt_language"),
    ("log_format", "help.opt_log_format"),
    ("state_dir", "help.opt_state_dir"),
];

/// The command line's definition, its texts in `lang`.
pub fn command(lang: Lang) -> clap::Command {
    let mut cmd = Cli::command();
    if lang == Lang::En {
        return cmd;
    }
    for (id, key) in GLOBAL_OPTIONS {
        cmd = cmd.mut_arg(*id, |a| a.help(text(lang, key, &[])));
    }
    for (path, key) in COMMANDS {
        let about = text(lang, key, &[]);
        cmd = translate(cmd, &path.split_whitespace().collect::<Vec<_>>(), about);
    }
    translate_options(cmd, "", lang)
}

/// The `help.arg.*` key of an option of the command at `path`.
fn option_key(path: &str, id: &str) -> String {
    format!("help.arg.{path}.{id}")
}

/// Each command's own options, from `help.arg.*`, down the tree.
fn translate_options(mut cmd: clap::Command, path: &str, lang: Lang) -> clap::Command {
    let ids: Vec<String> = own_options(&cmd).map(|a| a.get_id().to_string()).collect();
    for id in ids {
        let key = option_key(path, &id);
        if crate::messages::catalog(lang).contains_key(&key) {
            let help = text(lang, &key, &[]);
            cmd = cmd.mut_arg(id, |a| a.help(help.clone()).long_help(help));
        }
    }
    let subs: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    for name in subs {
        let sub_path = if path.is_empty() { name.clone() } else { format!("{path}_{name}") };
        cmd = cmd.mut_subcommand(name, |sub| translate_options(sub, &sub_path, lang));
    }
    cmd
}

/// A command's options that are its own (not the global ones, not clap's).
fn own_options(cmd: &clap::Command) -> impl Iterator<Item = &clap::Arg> {
    cmd.get_arguments().filter(|a| !a.is_global_set() && !matches!(a.get_id().as_str(), "help" | "version") && !a.is_hide_set())
}

fn translate(cmd: clap::Command, path: &[&str], about: String) -> clap::Command {
    match path {
        [] => cmd.about(about.clone()).long_about(about),
        [first, rest @ ..] => {
            let rest = rest.to_vec();
            cmd.mut_subcommand(*first, move |sub| translate(sub, &rest, about))
        }
    }
}

/// The language the help is written in: `--language` on the command
/// line, else the locale.
fn language_of(args: &[String]) -> Lang {
    let flag = args.iter().enumerate().find_map(|(i, a)| match a.strip_prefix("--language") {
        Some("") => args.get(i + 1).cloned(),
        Some(v) => v.strip_prefix('=').map(str::to_string),
        None => None,
    });
    let flag = flag.and_then(|v| match v.as_str() {
        "id" => Some(Lang::Id),
        "en" => Some(Lang::En),
        _ => None,
    });
    Lang::choose(flag, None)
}

/// Parses the process's command line, help and errors in the chosen
/// language; exits on `--help`, `--version` or a bad argument as clap does.
pub fn parse() -> Cli {
    let args: Vec<String> = std::env::args().collect();
    let matches = command(language_of(&args)).get_matches_from(&args);
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_an_indonesian_description_and_no_other_is_missed() {
        let mut paths = Vec::new();
        fn walk(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = if prefix.is_empty() { sub.get_name().to_string() } else { format!("{prefix} {}", sub.get_name()) };
                out.push(path.clone());
                walk(sub, &path, out);
            }
        }
        walk(&Cli::command(), "", &mut paths);
        for p in &paths {
            assert!(COMMANDS.iter().any(|(c, _)| c == p), "`cetak {p}` has no help.* message");
        }
        // Every option of every command is described, in both languages.
        let root = Cli::command();
        for p in &paths {
            let mut cmd = &root;
            for name in p.split_whitespace() {
                cmd = cmd.find_subcommand(name).expect("the command walked");
            }
            for a in own_options(cmd) {
                let key = option_key(&p.replace(' ', "_"), a.get_id().as_str());
                assert!(a.get_help().is_some(), "`cetak {p} {}` has no description", a.get_id());
                assert!(crate::messages::catalog(Lang::Id).contains_key(&key), "{key} missing");
            }
        }
        let id = command(Lang::Id);
        let stock = id.find_subcommand("stock").expect("stock");
        assert_eq!(stock.get_about().map(ToString::to_string), Some(text(Lang::Id, "help.stock", &[])));
        let explain = stock.find_subcommand("explain").expect("explain");
        assert_eq!(explain.get_about().map(ToString::to_string), Some(text(Lang::Id, "help.stock_explain", &[])));
        let reason = explain.get_arguments().find(|a| a.get_id() == "reason").and_then(|a| a.get_help()).map(ToString::to_string);
        assert_eq!(reason, Some(text(Lang::Id, "help.arg.stock_explain.reason", &[])), "an option's help in Indonesian");
        id.debug_assert();
    }

    #[test]
    fn the_language_flag_is_found_before_parsing() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(language_of(&args(&["cetak", "--language", "id", "stock", "--help"])), Lang::Id);
        assert_eq!(language_of(&args(&["cetak", "stock", "--language=en", "--help"])), Lang::En);
    }
}
