//! The documentation matches the code: the event catalogue lists every event type (and
//! nothing else), and every rule id a test names is in docs/rules.md.

use std::collections::BTreeSet;
use std::path::Path;

use caseledger_domain::EVENT_TYPES;

fn docs(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn event_catalogue_lists_every_event_type_and_nothing_else() {
    let catalogue = docs("event-catalogue.md");
    let listed: BTreeSet<&str> = catalogue
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(str::trim)
        .collect();
    let code: BTreeSet<&str> = EVENT_TYPES.iter().copied().collect();
    let missing: Vec<_> = code.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&code).collect();
    assert!(
        missing.is_empty(),
        "not in docs/event-catalogue.md: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "in the catalogue but not in the code: {extra:?}"
    );
    // Each entry states its schema version, who causes it and its rules.
    for section in catalogue.split("\n### ").skip(1) {
        for key in ["- schema version:", "- caused by:", "- rules:", "- fields:"] {
            assert!(
                section.contains(key),
                "entry {:?} lacks {key}",
                section.lines().next()
            );
        }
    }
}

/// `br_a10_…` → `BR-A10`.
fn rule_id(test_name: &str) -> Option<String> {
    let rest = test_name.strip_prefix("br_")?;
    let id: String = rest.split('_').next()?.to_uppercase();
    let mut chars = id.chars();
    let letter = chars.next()?;
    let digits: String = chars.collect();
    (letter.is_ascii_uppercase()
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit()))
    .then(|| format!("BR-{letter}{digits}"))
}

fn test_names(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("fn "))
        .filter_map(|l| l.split('(').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_rule_id_named_by_a_test_is_listed_in_rules_md() {
    let rules = docs("rules.md");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    for dir in ["tests", "src", "src/decide", "src/event"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "rs") {
                sources.push(std::fs::read_to_string(&path).expect("read source"));
            }
        }
    }
    let ids: BTreeSet<String> = sources
        .iter()
        .flat_map(|s| test_names(s))
        .filter_map(|n| rule_id(&n))
        .collect();
    assert!(ids.len() >= 20, "expected many rule tests, found {ids:?}");
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !rules.contains(&format!("| {id} |")))
        .collect();
    assert!(
        missing.is_empty(),
        "rule ids tested but not in docs/rules.md: {missing:?}"
    );
    // And every test named in rules.md exists.
    let all_names: BTreeSet<String> = sources.iter().flat_map(|s| test_names(s)).collect();
    for cell in rules.split('`') {
        if let Some(name) = cell.split("::").nth(1) {
            if name.starts_with("br_") || name.starts_with("seed_") || name.starts_with("wales_") {
                assert!(
                    all_names.contains(name),
                    "docs/rules.md names a test that does not exist: {name}"
                );
            }
        }
    }
}

#[test]
fn rule_ids_are_read_from_test_names() {
    assert_eq!(rule_id("br_a10_case_stays").as_deref(), Some("BR-A10"));
    assert_eq!(rule_id("br_tr_era").as_deref(), None);
    assert_eq!(rule_id("seed_001_story"), None);
}
