//! Identity through the real binary: the operating-system user recorded beside the declared
//! actor, `--actor-policy`, duplicate keys and the engine's own identity refused.

mod cli_support;
mod engine_support;

use std::path::Path;
use std::process::Command;

use caseledger::{Engine, EngineConfig};
use cli_support::{Cli, Ran};
use engine_support::*;

const CRN: &str = "X300001";

/// Run the binary on `data`, with `stdin` (empty when `None`).
fn caseledger(data: &Path, args: &[&str], stdin: Option<&str>) -> Ran {
    let input = stdin.unwrap_or("").as_bytes();
    Cli::on(data).input(input).run(args)
}

/// The user name as another program sees it (`id -un`), to check the binary's own reading.
fn os_user_name() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn lines() -> Vec<String> {
    vec![
        as_case_administrator(CRN, "2022-03-01", open_case(CRN, 79, "2022-03-01")),
        as_court_officer(CRN, "2022-03-01", community_order("2022-03-01")),
        as_probation_officer(CRN, "2022-03-02", assess("2022-03-02", "initial", "low")),
    ]
}

#[test]
fn every_event_leads_to_the_os_user_who_ran_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("commands.jsonl");
    let all = lines();
    std::fs::write(&file, format!("{}\n{}\n", all[0], all[1])).unwrap();
    let out = caseledger(&data, &["import", file.to_str().unwrap()], None);
    assert!(out.success(), "{}", out.stderr);
    let out = caseledger(&data, &["exec"], Some(&all[2]));
    assert!(out.success(), "{}", out.stderr);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = Engine::open(EngineConfig::sled(&data)).unwrap();
        let sessions = engine.sessions().await.unwrap();
        assert_eq!(sessions.len(), 2);
        let me = os_user_name();
        for (session, program) in sessions
            .iter()
            .zip(["caseledger import", "caseledger exec"])
        {
            assert_eq!(session.os_user, me);
            assert_eq!(session.program, program);
            assert_eq!(session.actor_policy_sha256, None);
        }
        let events = engine.case_events(CRN).await.unwrap();
        assert!(events.len() >= 3);
        for event in &events {
            let session = sessions
                .iter()
                .find(|s| s.session_id == event.correlation_id)
                .unwrap_or_else(|| panic!("event {} has no session", event.position));
            // The declared actor stays as declared; the OS user is beside it.
            let expected = if event.command_id.to_string() == command_id_of(&all[2]) {
                "caseledger exec"
            } else {
                "caseledger import"
            };
            assert_eq!(session.program, expected, "event {}", event.position);
        }
    });
}

fn command_id_of(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["command_id"].as_str().unwrap().to_owned()
}

#[test]
fn an_actor_policy_limits_whom_the_os_user_may_act_as() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let policy = dir.path().join("policy.json");
    let me = os_user_name();
    let allowed = serde_json::json!({ me.clone(): ["case_administrator-1", "court_officer-1"] });
    std::fs::write(&policy, allowed.to_string()).unwrap();
    let policy_arg = policy.to_str().unwrap();
    let all = lines();
    for line in &all[..2] {
        let out = caseledger(&data, &["--actor-policy", policy_arg, "exec"], Some(line));
        assert!(out.success(), "{}", out.stderr);
    }
    let out = caseledger(
        &data,
        &["--actor-policy", policy_arg, "exec"],
        Some(&all[2]),
    );
    assert_eq!(out.code, 5, "{}", out.stderr);
    let message = &out.stderr;
    assert!(
        message.contains(&format!(
            "operating-system user {me} may not act as probation_officer-1"
        )),
        "{message}"
    );
    // Without the policy the operator shell trusts the declaration.
    let out = caseledger(
        &data,
        &["exec"],
        Some(&all[2].replace(&command_id_of(&all[2]), &uuid::Uuid::new_v4().to_string())),
    );
    assert!(out.success(), "{}", out.stderr);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = Engine::open(EngineConfig::sled(&data)).unwrap();
        let refusals = engine.refusals().await.unwrap();
        assert_eq!(refusals.len(), 1);
        assert_eq!(refusals[0].actor_id, "probation_officer-1");
        assert!(refusals[0].reason.contains(&me), "{}", refusals[0].reason);
        let sessions = engine.sessions().await.unwrap();
        assert!(sessions[0].actor_policy_sha256.is_some());
    });

    // A policy that cannot be read is an unusable argument.
    std::fs::write(&policy, "[\"not a map\"]").unwrap();
    let out = caseledger(
        &data,
        &["--actor-policy", policy_arg, "exec"],
        Some(&all[2]),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--actor-policy"), "{}", out.stderr);
}

#[test]
fn duplicate_keys_and_the_engines_identity_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let all = lines();
    let out = caseledger(&data, &["exec"], Some(&all[0]));
    assert!(out.success(), "{}", out.stderr);
    let twice = all[1].replace(
        "\"role\":\"court_officer\"",
        "\"role\":\"inspector\",\"role\":\"court_officer\"",
    );
    let out = caseledger(&data, &["exec"], Some(&twice));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("actor.role: appears twice"),
        "{}",
        out.stderr
    );

    let forged = command(
        CRN,
        "system",
        "hmpps",
        "2022-03-03",
        serde_json::json!({"type": "record_tier", "on": "2022-03-03", "tier": "A3",
            "inputs_digest": "0".repeat(64), "reason_code": "risk_assessed"}),
    );
    let out = caseledger(&data, &["exec"], Some(&forged));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("actor.role"), "{}", out.stderr);
    let forged = forged.replace("\"role\":\"system\"", "\"role\":\"service\"");
    let out = caseledger(&data, &["exec"], Some(&forged));
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr.contains("not what the engine derives"),
        "{}",
        out.stderr
    );
}
