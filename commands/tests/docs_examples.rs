//! Every command type is documented in docs/commands.md with an example that parses.

use caseledger_commands::envelope::{parse_command, COMMAND_TYPES};

fn examples() -> Vec<String> {
    let doc = include_str!("../../docs/commands.md");
    let start = doc.find("```jsonl\n").expect("a jsonl block") + "```jsonl\n".len();
    let end = start + doc[start..].find("```").expect("the block ends");
    doc[start..end].lines().map(str::to_owned).collect()
}

#[test]
fn every_command_type_has_a_documented_example_that_parses() {
    let examples = examples();
    for (snake, _, _) in COMMAND_TYPES {
        let body = examples
            .iter()
            .find(|e| e.contains(&format!("\"type\": \"{snake}\"")))
            .unwrap_or_else(|| panic!("{snake} has no example in docs/commands.md"));
        let line = format!(
            r#"{{"command_id": "0b7f3c8e-2f1a-4c55-9d5e-1d2c3b4a5f60", "crn": "X123456",
                "actor": {{"id": "a", "role": "service", "organisation": "hmpps"}},
                "effective_at": "2030-01-01", "command": {body}}}"#
        );
        let envelope = parse_command(&line).unwrap_or_else(|e| panic!("{snake}: {e}"));
        assert_eq!(envelope.command_type(), *snake);
    }
    assert_eq!(examples.len(), COMMAND_TYPES.len());
}
