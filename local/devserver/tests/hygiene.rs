//! The test suite's own rules, checked on its sources.
//!
//! No test is ignored but the benchmarks (run by hand): an `#[ignore]` for a bug outlives the
//! fix, and nobody runs it again. Every `#[ignore` attribute under `local/devserver/tests`,
//! `shared`, `functions` and `tools` must give a reason that starts with "benchmark".

use std::fs;
use std::path::{Path, PathBuf};

const ROOTS: [&str; 4] = ["local/devserver/tests", "shared", "functions", "tools"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` under `dir`, build output and dependencies left out.
fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target"
                && name != "node_modules"
                && !name.to_string_lossy().starts_with('.')
            {
                sources(&path, found);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The `#[ignore` attributes of `source` whose reason does not start with "benchmark", as
/// (line number, line).
fn wrongly_ignored(source: &str) -> Vec<(usize, String)> {
    source
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let at = line.find("#[ignore")?;
            if line[..at].contains("//") || line[..at].contains('"') {
                return None; // in a comment or a string, not an attribute
            }
            let rest = line[at + "#[ignore".len()..].trim_start();
            let reason = rest
                .strip_prefix('=')
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix('"'));
            match reason {
                Some(r) if r.starts_with("benchmark") => None,
                _ => Some((i + 1, line.trim().to_owned())),
            }
        })
        .collect()
}

#[test]
fn only_benchmarks_are_ignored() {
    let root = workspace();
    let mut files = Vec::new();
    for dir in ROOTS {
        sources(&root.join(dir), &mut files);
    }
    assert!(
        files.len() > 20,
        "the sources are found under {}",
        root.display()
    );
    let mut offences = Vec::new();
    for file in &files {
        let source = fs::read_to_string(file).expect("the source reads");
        for (line, text) in wrongly_ignored(&source) {
            let shown = file
                .strip_prefix(&root)
                .unwrap_or(file)
                .display()
                .to_string();
            offences.push(format!("{shown}:{line}: {text}"));
        }
    }
    assert!(
        offences.is_empty(),
        "only benchmarks may be ignored (#[ignore = \"benchmark, ...\"]); un-ignore these or \
         fix what they test:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_check_tells_an_ignored_bug_from_a_benchmark() {
    let source = [
        "#[ignore = \"benchmark, run by hand\"]",
        "#[ignore = \"app bug: arrays are taken\"]",
        "#[ignore]",
        "    #[ignore=\"benchmarks\"]",
        "// #[ignore = \"a comment\"]",
    ]
    .join("\n");
    let found: Vec<usize> = wrongly_ignored(&source).iter().map(|(l, _)| *l).collect();
    assert_eq!(found, vec![2, 3]);
}
