//! The `caseledger` command-line interface. Exit codes: 0 success, 1 failure (I/O, store,
//! refused input), 2 unusable arguments (clap's own exit code for usage errors).

use std::io::{self, BufReader};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use caseledger::policy_cli;

#[derive(Parser)]
#[command(
    name = "caseledger",
    version,
    about = "Event-sourced case lifecycle engine for probation in England and Wales"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a policy calculator over JSON Lines on stdin (policy-cli-contract.md).
    Policy {
        #[command(subcommand)]
        calculator: PolicyCalculator,
    },
    /// Show what caseledger does on a synthetic cohort.
    Demo,
    #[command(flatten)]
    Replay(caseledger::cli_replay::ReplayCommand),
}

#[derive(Subcommand)]
enum PolicyCalculator {
    /// Prison-to-community handover dates (OMiC eras 2019, 2022, 2023).
    Handover,
    /// Probation tier (V2 protect/change, V3 A–G).
    Tier,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Policy { calculator } => {
            let stdin = BufReader::new(io::stdin().lock());
            let stdout = io::BufWriter::new(io::stdout().lock());
            match calculator {
                PolicyCalculator::Handover => policy_cli::common::run_lines(
                    stdin,
                    stdout,
                    policy_cli::handover::evaluate_line,
                ),
                PolicyCalculator::Tier => {
                    policy_cli::common::run_lines(stdin, stdout, policy_cli::tier::evaluate_line)
                }
            }
            .map_err(|e| format!("I/O error: {e}"))
        }
        Command::Replay(command) => caseledger::cli_replay::run(command),
        Command::Demo => {
            println!("caseledger demo: the workspace builds; the cohort demo arrives with the CLI issue.");
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("caseledger: {message}");
            ExitCode::from(1)
        }
    }
}
