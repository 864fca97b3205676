//! Test helper for the crash test (`tests/crash.rs`): run a full rebuild of the case read
//! models of the sled log at `<log>` into the read-model database at `<readmodels>`, printing
//! `progress <position> <head>` after every committed batch so the test can SIGKILL it at a
//! chosen moment in the middle of the rebuild. Prints `done <generation>` on completion.
//!
//! Usage: `caseledger-rebuild-crash <log> <readmodels>`

use std::io::Write;
use std::process::ExitCode;

use caseledger_projections::case::CaseProjection;
use caseledger_projections::{rebuild, ReadModelDb};
use caseledger_store::{SledOptions, SledStore};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, log, readmodels] = args.as_slice() else {
        eprintln!("usage: caseledger-rebuild-crash <log> <readmodels>");
        return ExitCode::from(2);
    };
    match run(log, readmodels) {
        Ok(generation) => {
            println!("done {generation}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("caseledger-rebuild-crash: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(log: &str, readmodels: &str) -> Result<u64, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let store = SledStore::open(log, SledOptions::default()).map_err(|e| e.to_string())?;
    let db = ReadModelDb::open(readmodels).map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout();
    let mut progress = |_: &str, position: u64, head: u64| {
        // The parent reads these lines to choose when to kill us; a failed write only means
        // it has stopped listening.
        let _ = writeln!(stdout, "progress {position} {head}");
        let _ = stdout.flush();
    };
    let report = runtime
        .block_on(rebuild(
            &store,
            &db,
            &CaseProjection::default(),
            &mut progress,
        ))
        .map_err(|e| e.to_string())?;
    db.flush().map_err(|e| e.to_string())?;
    Ok(report.generation)
}
