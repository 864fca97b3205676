//! `caseledger generate --people N --seed S` and `caseledger demo [--dir DIR] [--people N]`.
//!
//! `generate` writes a synthetic cohort as command JSON Lines (caseledger-fixtures), the
//! format `caseledger import` reads. `demo` shows the engine's real job on it: a fresh store,
//! the cohort imported with a progress bar, read models rebuilt, caseload / MAPPA /
//! performance summaries, the hash chain verified, and the commands to try next.
//!
//! Progress bars draw on stderr and hide themselves when stderr is not a terminal.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use caseledger_fixtures::history::HISTORY_END;
use caseledger_projections::AsOf;

use crate::cli_ops::{self, Failure};
use crate::cli_report;

/// People in the default demo cohort: measured to finish well under 2 minutes on 2 cores in
/// release mode (docs/benchmarks.md, "Demo").
pub const DEMO_PEOPLE_DEFAULT: u64 = 1_500;
/// The seed of the demo cohort.
pub const DEMO_SEED: u64 = 1;
/// Most people a demo may have (a demo, not a benchmark: `generate` + `import` for more).
pub const DEMO_PEOPLE_MAX: u64 = 250_000;
/// Lines of each summary table printed by the demo; the full table is one command away.
pub const SUMMARY_LINES_MAX: usize = 18;

fn progress_bar(length: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(length);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta} left)")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// `caseledger generate`: write the cohort to `out`.
pub fn generate(people: u64, seed: u64, out: &mut dyn Write) -> Result<(), Failure> {
    let bar = progress_bar(people, "people");
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let result = caseledger_fixtures::generate_with_progress(people, seed, &mut out, |done| {
        bar.set_position(done)
    });
    bar.finish_and_clear();
    match result {
        Ok(_) => Ok(()),
        Err(e @ caseledger_fixtures::GenerateError::TooManyPeople { .. }) => {
            Err(Failure::Usage(format!("--people: {e}")))
        }
        Err(e) => Err(Failure::Failed(e.to_string())),
    }
}

/// Where the demo keeps its files: `<dir>/commands.jsonl` and the store in `<dir>/data`.
fn demo_dir(dir: Option<PathBuf>) -> Result<PathBuf, Failure> {
    match dir {
        Some(dir) => {
            let fresh = match std::fs::read_dir(&dir) {
                Ok(mut entries) => entries.next().is_none(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
                Err(e) => {
                    return Err(Failure::Failed(format!(
                        "cannot read --dir {}: {e}",
                        dir.display()
                    )))
                }
            };
            if !fresh {
                return Err(Failure::Usage(format!(
                    "--dir {}: not empty; the demo needs a fresh directory (give a new path, or omit --dir for a temporary one)",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(&dir)
                .map_err(|e| Failure::Failed(format!("cannot create {}: {e}", dir.display())))?;
            Ok(dir)
        }
        None => tempfile::Builder::new()
            .prefix("caseledger-demo-")
            .tempdir()
            // Kept after the demo so the commands it suggests can be tried on it.
            .map(|t| t.keep())
            .map_err(|e| Failure::Failed(format!("cannot create a temporary directory: {e}"))),
    }
}

fn write_err(e: std::io::Error) -> Failure {
    Failure::Failed(format!("cannot write the demo output: {e}"))
}

/// `caseledger demo`.
pub async fn demo(dir: Option<PathBuf>, people: u64, out: &mut dyn Write) -> Result<(), Failure> {
    if people == 0 || people > DEMO_PEOPLE_MAX {
        return Err(Failure::Usage(format!(
            "--people: {people} is outside 1..={DEMO_PEOPLE_MAX}"
        )));
    }
    let started = Instant::now();
    let dir = demo_dir(dir)?;
    let data = dir.join("data");
    let commands = dir.join("commands.jsonl");
    writeln!(
        out,
        "caseledger demo: {people} synthetic people (seed {DEMO_SEED}), 2014-06-01 to {HISTORY_END}, in {}",
        dir.display()
    )
    .map_err(write_err)?;

    // 1. Generate.
    let phase = Instant::now();
    {
        let file = File::create(&commands)
            .map_err(|e| Failure::Failed(format!("cannot create {}: {e}", commands.display())))?;
        let mut file = BufWriter::new(file);
        generate(people, DEMO_SEED, &mut file)?;
        file.flush()
            .map_err(|e| Failure::Failed(format!("cannot write {}: {e}", commands.display())))?;
    }
    let lines = count_lines(&commands)?;
    writeln!(
        out,
        "  generated {lines} commands in {:.1}s -> {}",
        phase.elapsed().as_secs_f64(),
        commands.display()
    )
    .map_err(write_err)?;

    // 2. Import.
    let phase = Instant::now();
    let mut engine = cli_ops::open(&cli_ops::StoreArgs::sled(&data)).await?;
    let operator =
        crate::cli_identity::Operator::begin(&mut engine, "caseledger demo", None).await?;
    let mut refusals = Vec::new();
    let summary = cli_ops::import(&engine, &operator, &commands, None, &mut refusals).await?;
    let head = engine
        .store()
        .head()
        .await
        .map_err(|e| Failure::Failed(e.to_string()))?;
    writeln!(
        out,
        "  imported in {:.1}s: {} applied, {} refused, {head} events in the log",
        phase.elapsed().as_secs_f64(),
        summary.applied,
        summary.refused
    )
    .map_err(write_err)?;
    if summary.refused > 0 {
        // The generator drives the domain's own rules, so a refusal is a bug worth showing.
        out.write_all(&refusals).map_err(write_err)?;
    }

    // 3. Rebuild the read models.
    let phase = Instant::now();
    let readmodels = cli_report::readmodels_path(&data);
    let mut rebuilt = Vec::new();
    cli_report::rebuild(
        &engine,
        &readmodels,
        caseledger_projections::RebuildOptions::default(),
        false,
        &mut rebuilt,
    )
    .await
    .map_err(Failure::Failed)?;
    writeln!(
        out,
        "  rebuilt the read models in {:.1}s",
        phase.elapsed().as_secs_f64()
    )
    .map_err(write_err)?;

    // 4. Summaries, judged on the last day of the history.
    for (name, title) in [
        ("caseload", "Caseload"),
        ("mappa", "MAPPA register"),
        ("performance", "Performance measures"),
    ] {
        let mut table = Vec::new();
        cli_report::report(
            &engine,
            &readmodels,
            name,
            &Default::default(),
            AsOf::Now,
            HISTORY_END,
            "table",
            &mut table,
        )
        .await
        .map_err(Failure::Failed)?;
        let text = String::from_utf8_lossy(&table);
        let total = text.lines().count();
        writeln!(out, "\n{title} (caseledger report {name}):").map_err(write_err)?;
        for line in text.lines().take(SUMMARY_LINES_MAX) {
            writeln!(out, "  {line}").map_err(write_err)?;
        }
        if total > SUMMARY_LINES_MAX {
            writeln!(out, "  … {} more lines", total - SUMMARY_LINES_MAX).map_err(write_err)?;
        }
    }

    // 5. Verify the hash chain and compute the Merkle root over the whole log.
    let phase = Instant::now();
    let verified = caseledger_replay::verify::verify_log(engine.store().as_ref(), None)
        .await
        .map_err(|e| Failure::Failed(e.to_string()))?;
    match &verified.first_bad {
        None => writeln!(
            out,
            "\nverify: {} records checked in {:.1}s, hash chain intact; root {} (caseledger verify)",
            verified.records_checked,
            phase.elapsed().as_secs_f64(),
            verified.checkpoint()
        ),
        Some((position, why)) => writeln!(out, "\nverify: FAILED at position {position}: {why}"),
    }
    .map_err(write_err)?;
    drop(engine);

    let d = data.display();
    writeln!(
        out,
        "\nDone in {:.1}s. Where to look next (the store stays in {}):
  caseledger --data {d} report caseload --today {HISTORY_END}       # or mappa, handovers, enforcement, allocations, performance; --format json|csv
  caseledger --data {d} case A000001                               # one case's current state
  caseledger --data {d} report caseload --as-of-effective 2019-06-30 --today 2019-06-30
  caseledger --data {d} rebuild --digest                           # rebuild read models, print their SHA-256
  caseledger --data {d} verify                                     # hash chain and Merkle root ROOT@POSITION
  caseledger --data {d} replay A000001                             # one case's history, event by event
  caseledger --data {d} tick --to {HISTORY_END}                     # COM allocations and handovers falling due
  caseledger generate --people 10000 --seed 1 > cohort.jsonl       # a bigger cohort to import
Remove {} when done.",
        started.elapsed().as_secs_f64(),
        dir.display(),
        dir.display()
    )
    .map_err(write_err)?;
    if verified.first_bad.is_some() || summary.refused > 0 {
        return Err(Failure::Failed(
            "the demo finished with refused commands or a broken hash chain (see above)".into(),
        ));
    }
    Ok(())
}

fn count_lines(path: &Path) -> Result<u64, Failure> {
    use std::io::Read;
    let mut file = File::open(path)
        .map_err(|e| Failure::Failed(format!("cannot read {}: {e}", path.display())))?;
    let mut buffer = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| Failure::Failed(format!("cannot read {}: {e}", path.display())))?;
        if n == 0 {
            return Ok(lines);
        }
        lines += buffer[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
}
