//! A test over the agent's `use crate::` lines: no two top-level modules
//! of `src/` use each other, so the arrows of `docs/architecture.md` run
//! one way (the composition root, `service`, and the command line, `cli`,
//! at the top; `journal`, `messages` and `render` at the bottom).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The `.rs` files under `dir`, at any depth.
pub(crate) fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let (mut files, mut dirs) = (Vec::new(), vec![dir.to_path_buf()]);
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files
}

/// Every `crate::NAME` a file of module `module` names, but its own.
fn uses(src: &Path, module: &str) -> BTreeSet<String> {
    let mut files = rust_files(&src.join(module));
    let file = src.join(format!("{module}.rs"));
    if file.is_file() {
        files.push(file);
    }
    let mut out = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(!text.contains("crate::{"), "{}: name each module on its own (crate::a, crate::b) so this test sees it", f.display());
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if !name.is_empty() && name != module {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn no_two_top_level_modules_use_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules: Vec<String> = std::fs::read_dir(&src)
        .expect("src")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().trim_end_matches(".rs").to_string();
            // This test's own file names `crate::` in its words.
            (!["lib", "main", "bin", "layering"].contains(&name.as_str())).then_some(name)
        })
        .collect();
    let graph: BTreeMap<&str, BTreeSet<String>> = modules.iter().map(|m| (m.as_str(), uses(&src, m))).collect();
    let mut both_ways = Vec::new();
    for (a, deps) in &graph {
        for b in deps {
            if graph.get(b.as_str()).is_some_and(|back| back.contains(*a)) && *a < b.as_str() {
                both_ways.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert!(both_ways.is_empty(), "modules that use each other: {both_ways:?}");
    let journal_uses: Vec<&String> = graph["journal"].iter().filter(|m| *m != "clock").collect();
    assert!(journal_uses.is_empty(), "the journal uses {journal_uses:?}: storage calls none of its users (the clock is a leaf)");
    assert!(graph["clock"].is_empty(), "the clock uses {:?}: it is a leaf", graph["clock"]);
}

/// The journal stays one file a concern (issue 22): none grows past 400
/// lines, so a new table gets a file of its own instead of joining one.
#[test]
fn no_journal_file_is_over_400_lines() {
    let journal = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/journal");
    let files = rust_files(&journal);
    assert!(files.len() > 10, "the journal's files are found");
    let long: Vec<String> = files
        .iter()
        .map(|p| (p, std::fs::read_to_string(p).unwrap_or_default().lines().count()))
        .filter(|(_, lines)| *lines > 400)
        .map(|(p, lines)| format!("{} ({lines})", p.display()))
        .collect();
    assert!(long.is_empty(), "journal files over 400 lines: {long:?}");
}
