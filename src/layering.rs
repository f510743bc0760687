//! A test over the agent's `use crate::` lines: no two top-level modules
//! of `src/` use each other, so the arrows of `docs/architecture.md` run
//! one way (the composition root, `service`, and the command line, `cli`,
//! at the top; `journal`, `messages` and `render` at the bottom).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every `crate::NAME` a file of module `module` names, but its own.
fn uses(src: &Path, module: &str) -> BTreeSet<String> {
    let mut files = Vec::new();
    let file = src.join(format!("{module}.rs"));
    if file.is_file() {
        files.push(file);
    }
    let mut dirs = vec![src.join(module)];
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
    assert!(graph["journal"].is_empty(), "the journal uses {:?}: storage calls none of its users", graph["journal"]);
}
