//! What changed between two case states: the leaves of their JSON forms that differ, by
//! JSON Pointer path (RFC 6901). Used by the case history to show, beside each event, what it
//! changed. Object keys are compared in sorted order and arrays by index, so
//! the result is deterministic.

use serde::Serialize;
use serde_json::Value;

/// Most changes reported for one event. A case state has tens of fields; a diff longer than
/// this is summarised by its last entry rather than growing the history without bound.
pub const CHANGES_PER_EVENT_MAX: usize = 256;
/// Deepest nesting walked. Deeper differences are reported at this depth as a whole value.
pub const DIFF_DEPTH_MAX: u32 = 32;

/// One changed leaf: `before` is `None` when the path did not exist, `after` likewise.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Differences from `before` to `after`, at most [`CHANGES_PER_EVENT_MAX`]; when the limit is
/// reached the last entry has path `…` and says how many were left out.
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut omitted = 0u64;
    walk(
        before,
        after,
        &mut String::new(),
        0,
        &mut changes,
        &mut omitted,
    );
    if omitted > 0 {
        changes.push(Change {
            path: "…".to_owned(),
            before: None,
            after: Some(Value::String(format!("{omitted} more changes not shown"))),
        });
    }
    changes
}

/// Changes gathered piece by piece — one part of a state at a time, each under its own path —
/// by a model that can tell which parts changed without turning the whole state into JSON
/// ([`crate::model::CaseModel::changes`]). [`ChangeSet::finish`] caps them like [`diff`].
#[derive(Debug, Default)]
pub struct ChangeSet {
    changes: Vec<Change>,
    omitted: u64,
}

impl ChangeSet {
    pub fn new() -> ChangeSet {
        ChangeSet::default()
    }

    /// The differences from `before` to `after`, both found at `path` (a JSON Pointer, `""`
    /// for the root).
    pub fn values(&mut self, path: &str, before: &Value, after: &Value) {
        let mut path = path.to_owned();
        walk(
            before,
            after,
            &mut path,
            0,
            &mut self.changes,
            &mut self.omitted,
        );
    }

    /// `path` was added (`before` is `None`), removed (`after` is `None`) or replaced whole.
    pub fn whole(&mut self, path: &str, before: Option<Value>, after: Option<Value>) {
        record(
            &mut self.changes,
            &mut self.omitted,
            Change {
                path: path.to_owned(),
                before,
                after,
            },
        );
    }

    /// The changes, at most [`CHANGES_PER_EVENT_MAX`], the last saying how many were left out.
    pub fn finish(mut self) -> Vec<Change> {
        if self.omitted > 0 {
            self.changes.push(Change {
                path: "…".to_owned(),
                before: None,
                after: Some(Value::String(format!(
                    "{} more changes not shown",
                    self.omitted
                ))),
            });
        }
        self.changes
    }
}

/// `key` as one segment of a JSON Pointer (RFC 6901: `~` → `~0`, `/` → `~1`).
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn record(changes: &mut Vec<Change>, omitted: &mut u64, change: Change) {
    if changes.len() < CHANGES_PER_EVENT_MAX - 1 {
        changes.push(change);
    } else {
        *omitted += 1;
    }
}

fn walk(
    before: &Value,
    after: &Value,
    path: &mut String,
    depth: u32,
    changes: &mut Vec<Change>,
    omitted: &mut u64,
) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(a), Value::Object(b)) if depth < DIFF_DEPTH_MAX => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let len = path.len();
                path.push('/');
                path.push_str(&escape(key));
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => walk(x, y, path, depth + 1, changes, omitted),
                    (x, y) => record(
                        changes,
                        omitted,
                        Change {
                            path: path.clone(),
                            before: x.cloned(),
                            after: y.cloned(),
                        },
                    ),
                }
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) if depth < DIFF_DEPTH_MAX => {
            for index in 0..a.len().max(b.len()) {
                let len = path.len();
                path.push('/');
                path.push_str(&index.to_string());
                match (a.get(index), b.get(index)) {
                    (Some(x), Some(y)) => walk(x, y, path, depth + 1, changes, omitted),
                    (x, y) => record(
                        changes,
                        omitted,
                        Change {
                            path: path.clone(),
                            before: x.cloned(),
                            after: y.cloned(),
                        },
                    ),
                }
                path.truncate(len);
            }
        }
        _ => record(
            changes,
            omitted,
            Change {
                path: if path.is_empty() {
                    "/".into()
                } else {
                    path.clone()
                },
                before: Some(before.clone()),
                after: Some(after.clone()),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn reports_changed_added_and_removed_leaves_by_pointer() {
        let before = json!({"rosh": "medium", "mappa": {"level": 1}, "flags": ["a"], "gone": 1});
        let after =
            json!({"rosh": "high", "mappa": {"level": 1, "category": 2}, "flags": ["a", "b"]});
        let changes = diff(&before, &after);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["/flags/1", "/gone", "/mappa/category", "/rosh"]);
        assert_eq!(changes[3].before, Some(json!("medium")));
        assert_eq!(changes[3].after, Some(json!("high")));
        assert_eq!(changes[1].after, None);
        assert_eq!(changes[0].before, None);
    }

    #[test]
    fn escapes_slash_and_tilde_in_keys() {
        let changes = diff(&json!({"a/b~": 1}), &json!({"a/b~": 2}));
        assert_eq!(changes[0].path, "/a~1b~0");
    }

    #[test]
    fn long_diffs_are_capped_with_a_count_of_what_was_left_out() {
        let before = Value::Array((0..1_000).map(|i| json!(i)).collect());
        let after = Value::Array((0..1_000).map(|i| json!(i + 1)).collect());
        let changes = diff(&before, &after);
        assert_eq!(changes.len(), CHANGES_PER_EVENT_MAX);
        let last = changes.last().expect("capped diff has a summary");
        assert_eq!(last.path, "…");
        let left_out = 1_000 - (CHANGES_PER_EVENT_MAX - 1);
        assert_eq!(
            last.after,
            Some(json!(format!("{left_out} more changes not shown")))
        );
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|i| json!(i)),
            "[a-c]{0,2}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Apply a diff to `before` by pointer: must give `after` (checks completeness and paths).
    fn apply(before: &Value, changes: &[Change]) -> Value {
        let mut value = before.clone();
        // Removals first, from the highest index down; then the rest in path order, so array
        // indices stay valid (test arrays are shorter than 10, so text order is index order).
        let (mut removals, mut others): (Vec<&Change>, Vec<&Change>) =
            changes.iter().partition(|c| c.after.is_none());
        removals.sort_by(|a, b| b.path.cmp(&a.path));
        others.sort_by(|a, b| a.path.cmp(&b.path));
        for change in removals.into_iter().chain(others) {
            set(&mut value, &change.path, change.after.clone());
        }
        value
    }

    fn set(root: &mut Value, path: &str, new: Option<Value>) {
        if path == "/" {
            *root = new.unwrap_or(Value::Null);
            return;
        }
        let parts: Vec<String> = path[1..]
            .split('/')
            .map(|p| p.replace("~1", "/").replace("~0", "~"))
            .collect();
        let mut target = root;
        for part in &parts[..parts.len() - 1] {
            target = match target {
                Value::Object(m) => m.get_mut(part).expect("path exists"),
                Value::Array(a) => &mut a[part.parse::<usize>().expect("index")],
                _ => unreachable!("diff paths go through containers"),
            };
        }
        let last = &parts[parts.len() - 1];
        match (target, new) {
            (Value::Object(m), Some(v)) => {
                m.insert(last.clone(), v);
            }
            (Value::Object(m), None) => {
                m.remove(last);
            }
            (Value::Array(a), Some(v)) => {
                let i: usize = last.parse().expect("index");
                if i < a.len() {
                    a[i] = v;
                } else {
                    a.push(v);
                }
            }
            (Value::Array(a), None) => {
                a.truncate(last.parse().expect("index"));
            }
            _ => unreachable!("diff paths go through containers"),
        }
    }

    proptest! {
        #[test]
        fn applying_the_diff_to_before_gives_after(before in json_value(), after in json_value()) {
            let changes = diff(&before, &after);
            prop_assume!(changes.len() < CHANGES_PER_EVENT_MAX);
            prop_assert_eq!(changes.is_empty(), before == after);
            prop_assert_eq!(apply(&before, &changes), after);
        }
    }
}
