//! The CLI's surface through the real binary: read-only commands never create a store, report
//! names and formats are checked by the argument parser (exit 2, the choices listed),
//! `CASELEDGER_DATA` stands in for `--data`, and completions are printed for the shells.

use std::path::Path;
use std::process::{Command, Output};

fn caseledger(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_caseledger"));
    command
        .args(args)
        .env_remove("CASELEDGER_DATA")
        .env_remove("CASELEDGER_STORE");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn read_only_commands_on_a_missing_store_name_the_path_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-store-here");
    let data = missing.to_str().unwrap();
    for args in [
        vec!["case", "X123456"],
        vec!["report", "caseload"],
        vec!["replay", "X123456"],
        vec!["verify"],
        vec!["export"],
        vec!["explain", "0b7f3c8e-2f1a-4c55-9d5e-1d2c3b4a5f60"],
    ] {
        let mut full = vec!["--data", data];
        full.extend(&args);
        let output = caseledger(&full, &[]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(data),
            "{args:?} names the path: {}",
            stderr(&output)
        );
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
    }
}

#[test]
fn an_unknown_report_or_format_is_exit_2_listing_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let output = caseledger(&["--data", data, "report", "caseloads"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("caseload, mappa, handovers"),
        "{}",
        stderr(&output)
    );
    let output = caseledger(&["--data", data, "report", "mappa", "--format", "xml"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("table, json, csv"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn caseledger_data_in_the_environment_stands_in_for_the_data_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let init = caseledger(&["init"], &[("CASELEDGER_DATA", &data)]);
    assert!(init.status.success(), "{}", stderr(&init));
    assert!(
        data.join("db").is_file(),
        "init created the store in CASELEDGER_DATA"
    );
    let report = caseledger(
        &["report", "mappa", "--format", "json"],
        &[("CASELEDGER_DATA", &data)],
    );
    assert!(report.status.success(), "{}", stderr(&report));
    assert_eq!(String::from_utf8_lossy(&report.stdout).trim(), "[]");
}

#[test]
fn completions_are_printed_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "_caseledger()"),
        ("zsh", "#compdef caseledger"),
        ("fish", "complete -c caseledger"),
    ] {
        let output = caseledger(&["completions", shell], &[]);
        assert!(output.status.success(), "{shell}: {}", stderr(&output));
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(script.contains(marker), "{shell} script lacks {marker:?}");
        assert!(
            script.contains("import-log"),
            "{shell} script completes subcommands"
        );
    }
    let output = caseledger(&["completions", "tcsh"], &[]);
    assert_eq!(output.status.code(), Some(2));
}
