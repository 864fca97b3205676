//! docs/rules.md cannot rot: every test it names exists in the source tree, every
//! `module::function` it says enforces a rule is defined, and every table row names a test.
//!
//! The check reads the Markdown tables of docs/rules.md. In a table whose header has a
//! column starting with "test", every backticked name in that column must be a function
//! defined in a `.rs` file of the workspace (`domain/`, `store/`, `commands/`,
//! `projections/`, `replay/`, `fixtures/`, `src/`, `tests/`), or, when it ends in `.rs`, a
//! file of that name. In the column starting with "enforced", every backticked
//! `path::item` must name an item (fn, struct, enum, enum variant, const, trait, type, mod)
//! or a source file. Pure `std`: no parser crates, so the check itself has nothing to go stale.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Directories of the workspace that hold Rust sources named by the docs.
const SOURCE_DIRS: [&str; 8] = [
    "domain",
    "store",
    "commands",
    "projections",
    "replay",
    "fixtures",
    "src",
    "tests",
];
/// Deepest directory nesting walked; the workspace is a few levels deep, so this only
/// guards against a symlink loop.
const WALK_DEPTH_MAX: u32 = 12;
/// Most source files read; the workspace has a few hundred.
const SOURCE_FILES_MAX: usize = 10_000;
/// Fewest test names docs/rules.md must name: the lifecycle, handover, tier, workload,
/// compliance and working-day sections name well over this many, so a parser that finds
/// fewer has stopped reading the tables.
const TEST_NAMES_MIN: usize = 150;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn collect_sources(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    assert!(
        depth <= WALK_DEPTH_MAX,
        "source tree deeper than expected at {dir:?}"
    );
    let Ok(entries) = std::fs::read_dir(dir) else {
        return; // a crate still being written on another branch may be absent
    };
    for entry in entries {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "target" || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect_sources(&path, depth + 1, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
        assert!(
            out.len() <= SOURCE_FILES_MAX,
            "more source files than expected"
        );
    }
}

/// Names the sources define and the file names they live in.
struct SourceTree {
    items: BTreeSet<String>,
    files: BTreeSet<String>,
}

const ITEM_KEYWORDS: [&str; 7] = ["fn", "struct", "enum", "const", "trait", "type", "mod"];

fn identifier_prefix(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

fn source_tree() -> SourceTree {
    let mut paths = Vec::new();
    for dir in SOURCE_DIRS {
        collect_sources(&root().join(dir), 0, &mut paths);
    }
    let mut items = BTreeSet::new();
    let mut files = BTreeSet::new();
    for path in &paths {
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            files.insert(format!("{stem}.rs"));
            items.insert(stem.to_owned());
        }
        // `foo/mod.rs` defines the module `foo`.
        if let Some(parent) = path.parent().and_then(|p| p.file_name()) {
            items.insert(parent.to_string_lossy().into_owned());
        }
        let source = std::fs::read_to_string(path).expect("read source");
        for line in source.lines() {
            // An enum variant on its own line: `Name,`, `Name {`, `Name(…)`, `Name = 1,`.
            let trimmed = line.trim_start();
            let variant = identifier_prefix(trimmed);
            if variant.starts_with(|c: char| c.is_ascii_uppercase())
                && [",", " {", "(", " ="]
                    .iter()
                    .any(|next| trimmed[variant.len()..].starts_with(next))
            {
                items.insert(variant.to_owned());
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            for pair in words.windows(2) {
                if ITEM_KEYWORDS.contains(&pair[0]) {
                    let name = identifier_prefix(pair[1]);
                    if !name.is_empty() {
                        items.insert(name.to_owned());
                    }
                }
            }
        }
    }
    assert!(paths.len() >= 50, "found only {} source files", paths.len());
    SourceTree { items, files }
}

/// Backticked spans of one table cell.
fn backticked(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

fn cells(line: &str) -> Vec<&str> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(str::trim).collect()
}

/// One data row of a table: the line number, the test cell and the enforced-in cell.
struct Row<'a> {
    line: usize,
    tests: Option<&'a str>,
    enforced: Option<&'a str>,
}

fn table_rows(doc: &str) -> Vec<Row<'_>> {
    let mut rows = Vec::new();
    let mut columns: Option<(Option<usize>, Option<usize>)> = None;
    let mut previous_was_table = false;
    for (number, line) in doc.lines().enumerate() {
        let is_table = line.trim_start().starts_with('|');
        if !is_table {
            columns = None;
            previous_was_table = false;
            continue;
        }
        let row = cells(line);
        if !previous_was_table {
            // The header row.
            let test = row.iter().position(|c| c.starts_with("test"));
            let enforced = row.iter().position(|c| c.starts_with("enforced"));
            columns = Some((test, enforced));
        } else if row
            .iter()
            .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
        {
            // The separator row.
        } else if let Some((test, enforced)) = columns {
            rows.push(Row {
                line: number + 1,
                tests: test.and_then(|i| row.get(i).copied()),
                enforced: enforced.and_then(|i| row.get(i).copied()),
            });
        }
        previous_was_table = true;
    }
    rows
}

fn last_segment(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && identifier_prefix(s) == s
}

#[test]
fn every_test_and_function_named_in_rules_md_exists() {
    let doc = std::fs::read_to_string(root().join("docs/rules.md")).expect("read docs/rules.md");
    let tree = source_tree();
    let mut missing_tests = Vec::new();
    let mut missing_items = Vec::new();
    let mut rows_without_tests = Vec::new();
    let mut named_tests = BTreeSet::new();
    for row in table_rows(&doc) {
        if let Some(cell) = row.tests {
            let names = backticked(cell);
            // "—" marks a row whose gap is stated in the text; anything else needs a test.
            if names.is_empty() && !cell.starts_with('—') {
                rows_without_tests.push(row.line);
            }
            for name in names {
                let last = last_segment(name);
                if last.ends_with(".rs") {
                    if !tree.files.contains(last) {
                        missing_tests.push(format!("l.{}: file {name}", row.line));
                    }
                } else if !is_identifier(last) || !tree.items.contains(last) {
                    missing_tests.push(format!("l.{}: {name}", row.line));
                } else {
                    named_tests.insert(last.to_owned());
                }
            }
        }
        if let Some(cell) = row.enforced {
            for path in backticked(cell).into_iter().filter(|p| p.contains("::")) {
                let last = identifier_prefix(last_segment(path));
                if !tree.items.contains(last) {
                    missing_items.push(format!("l.{}: {path}", row.line));
                }
            }
        }
    }
    assert!(
        missing_tests.is_empty(),
        "docs/rules.md names tests that do not exist: {missing_tests:#?}"
    );
    assert!(
        missing_items.is_empty(),
        "docs/rules.md names functions that do not exist: {missing_items:#?}"
    );
    assert!(
        rows_without_tests.is_empty(),
        "docs/rules.md rows without a test (or a '—' gap marker) at lines {rows_without_tests:?}"
    );
    assert!(
        named_tests.len() >= TEST_NAMES_MIN,
        "docs/rules.md names only {} distinct tests; did the table format change?",
        named_tests.len()
    );
}

#[test]
fn the_table_reader_finds_test_and_enforced_columns() {
    let doc = "intro\n\
               | rule | enforced in | tests |\n\
               |---|---|---|\n\
               | r1 | `a::b::c` | `x`, `file.rs::y` |\n\
               | r2 | `d` | — gap |\n\
               \n\
               | term | meaning |\n\
               |---|---|\n\
               | CRN | `not_a_test` |\n";
    let rows = table_rows(doc);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].line, 4);
    assert_eq!(backticked(rows[0].tests.unwrap()), ["x", "file.rs::y"]);
    assert_eq!(rows[0].enforced, Some("`a::b::c`"));
    assert_eq!(rows[1].tests, Some("— gap"));
    // A table without a test column contributes no test names.
    assert_eq!(rows[2].tests, None);
    assert_eq!(last_segment("file.rs::y"), "y");
    assert_eq!(identifier_prefix("for_date(x)"), "for_date");
    assert!(!is_identifier("properties.rs"));
}

#[test]
fn the_source_tree_knows_this_test() {
    let tree = source_tree();
    assert!(tree
        .items
        .contains("every_test_and_function_named_in_rules_md_exists"));
    assert!(!tree
        .items
        .contains("a_test_name_that_is_nowhere_in_the_tree_x9"));
    assert!(tree.files.contains("docs_rules.rs"));
}

/// Abbreviations used in code identifiers and docs that docs/glossary.md must define, each in
/// exactly one row (a row may define several, written `A / B`).
const GLOSSARY_ABBREVIATIONS: [&str; 41] = [
    "CRN", "PDU", "UPW", "RAR", "OMiC", "POM", "COM", "PO", "SPO", "PSO", "PQiP", "RoSH", "RSR",
    "OGRS", "ARP", "CSRP", "DC-SRP", "OASys", "MAPPA", "IOM", "HDC", "CRD", "ARD", "PED", "HDCED",
    "HDCAD", "TED", "THD", "SED", "LED", "TUSED", "PSS", "NSI", "FTC", "TR", "CRC", "NPS", "TOM",
    "T2A", "ROTL", "AAMR",
];

#[test]
fn every_abbreviation_is_defined_once_in_the_glossary() {
    let doc =
        std::fs::read_to_string(root().join("docs/glossary.md")).expect("read docs/glossary.md");
    let terms: Vec<String> = doc
        .lines()
        .filter(|l| l.starts_with("| "))
        .filter_map(|l| cells(l).first().map(|c| c.to_string()))
        .collect();
    assert!(
        terms.len() >= GLOSSARY_ABBREVIATIONS.len(),
        "glossary table not found"
    );
    for abbreviation in GLOSSARY_ABBREVIATIONS {
        let rows = terms
            .iter()
            .filter(|term| term.split(" / ").any(|t| t.trim() == abbreviation))
            .count();
        assert_eq!(
            rows, 1,
            "{abbreviation} is defined in {rows} glossary rows; it needs exactly one"
        );
    }
}
