//! The `caseledger` command-line interface. Exit codes (docs/commands.md): 0 success,
//! 1 failure (I/O, store), 2 unusable arguments (clap), 3 bad input (file, line and field
//! named), 4 store in use by another process, 5 command refused (recorded in
//! `audit-refusals`).

/// mimalloc rather than the system allocator: a rebuild or import allocates and frees millions
/// of small records across threads, where glibc's malloc spent ~40% of the time (`perf`,
/// docs/benchmarks.md "Projections").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay`: index 15 of `mi_option_t` in the mimalloc 2 that libmimalloc-sys
/// 0.1.49 bundles (c_src/mimalloc/v2/include/mimalloc.h; the workspace asks for mimalloc 2 with
/// the `v2` feature — index 15 in its mimalloc 3 too), which its Rust API does not name.
const MIMALLOC_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

extern "C" {
    /// mimalloc's `void mi_option_set(mi_option_t option, long value)`.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Have mimalloc give freed memory back to the system at once instead of after its default
/// delay. A bounded rebuild frees each pass's states, rows and pages before the next pass
/// allocates as much again; with the delay, the freed memory is still resident when the next
/// pass peaks, and the rebuild's peak rose with the number of passes, so with the size of the
/// log (45–115 MiB less at 2,000,000 to 8,000,000 events when measured, for up to ~30% more
/// time). Only `rebuild` asks for it, because a rebuild is where memory, not
/// speed, is what an operator has to plan for; elsewhere the delay is worth its speed.
fn return_freed_memory_at_once() {
    // SAFETY: `mi_option_set` only stores `value` in mimalloc's table of options; the index
    // is a valid `mi_option_t` of the bundled mimalloc, and any `long` is a valid delay.
    unsafe { mi_option_set(MIMALLOC_OPTION_PURGE_DELAY, 0) }
}

use std::io::{self, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use caseledger::cli_ops::{self, Failure};
use caseledger::policy_cli;

#[derive(Parser)]
#[command(
    name = "caseledger",
    version,
    about = "Event-sourced case lifecycle engine for probation in England and Wales"
)]
struct Cli {
    /// Data directory: the sled store (one process at a time) and the read models.
    #[arg(
        long,
        global = true,
        env = "CASELEDGER_DATA",
        default_value = "./caseledger-data"
    )]
    data: PathBuf,
    /// Keep the log in PostgreSQL instead: postgres://user@host:5432/db[?schema=name]
    /// (schema default caseledger). Read models stay local, under
    /// <data>/postgres/<host>-<port>-<db>-<schema>/readmodels.
    #[arg(long, global = true, env = "CASELEDGER_STORE", value_name = "URL")]
    store: Option<String>,
    /// For import and exec: a JSON object from operating-system user to the actor ids that
    /// user may declare (docs/operations.md "Identity"); commands declaring any other actor
    /// are refused and recorded.
    #[arg(long, global = true, value_name = "FILE")]
    actor_policy: Option<PathBuf>,
    /// If another process holds the store in --data, wait up to SECONDS (at most 3600) for it
    /// to finish before giving up with exit code 4 (default: give up at once).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=STORE_LOCK_WAIT_SECONDS_MAX))]
    wait: u64,
    /// The key-encryption key's file (64 hex digits, mode 600) that persons' data keys are
    /// wrapped under; default: beside --data (`<data>.key`). `init` creates it when missing
    /// (docs/operations.md "Key management").
    #[arg(long, global = true, env = "CASELEDGER_KEY_FILE", value_name = "FILE")]
    key_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// `--wait` at most: `STORE_LOCK_WAIT_MS_MAX` (one hour), in seconds.
const STORE_LOCK_WAIT_SECONDS_MAX: u64 = caseledger::store::STORE_LOCK_WAIT_MS_MAX / 1_000;

#[derive(Subcommand)]
enum Command {
    /// Run a policy calculator over JSON Lines on stdin (docs/policy-cli-contract.md).
    Policy {
        #[command(subcommand)]
        calculator: PolicyCalculator,
    },
    /// Show what caseledger does: generate a synthetic cohort, import it into a fresh store,
    /// rebuild the read models and print summaries.
    Demo {
        /// A fresh directory for the demo (default: a new temporary one, kept).
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, default_value_t = caseledger::cli_demo::DEMO_PEOPLE_DEFAULT)]
        people: u64,
    },
    /// Write a synthetic cohort as command JSON Lines to stdout (deterministic per seed).
    Generate {
        #[arg(long)]
        people: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Create (or open) the store in --data, or the schema named by --store.
    Init,
    /// Apply a file of commands (JSON Lines, docs/commands.md), in file order per case.
    Import {
        file: PathBuf,
        /// Append one line per command once its events are durable: line, command id,
        /// status and positions.
        #[arg(long)]
        ack_log: Option<PathBuf>,
    },
    /// Execute one command read from stdin; print its receipt as JSON.
    Exec,
    /// Append what falls due up to a date (COM allocation, responsibility transfer).
    Tick {
        #[arg(long)]
        to: String,
        #[arg(long, value_enum, default_value_t = TickFormat::Table)]
        format: TickFormat,
    },
    /// Print the current state of a case as JSON.
    Case { crn: String },
    /// List the cases whose retention period has ended (rule RET-1; docs/operations.md
    /// "Retention"): closed at least the configured number of years ago.
    Retention {
        /// List the cases due (the only listing there is).
        #[arg(long, required = true)]
        due: bool,
        /// The day to judge on, YYYY-MM-DD (default: today, UTC).
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
        /// Keep a closed case's personal data this many years after closure; no default:
        /// the period is your records retention schedule's.
        #[arg(long, value_name = "YEARS",
              env = caseledger::cli_data_protection::RETENTION_YEARS_ENV)]
        years_after_closure: Option<u32>,
    },
    /// Write, as JSON, everything the log holds about the person of a case: the case's
    /// state, every event recorded on it, refusals addressed to it, and their data key's
    /// state (docs/operations.md "Subject access").
    SubjectAccess { crn: String },
    /// Erase the personal data of a case's person (docs/operations.md "Erasure"): record
    /// PersonalDataErased, then destroy their data key. Recorded as the operating-system
    /// user in the role data_protection_officer; an erased case is a no-op.
    Erase {
        crn: String,
        /// Why (at most 500 characters, kept in the log for good): the rule that ended the
        /// retention, e.g. "retention ended (RET-1)"; never the person's name.
        #[arg(long, required = true, value_name = "TEXT")]
        reason: String,
    },
    /// Rebuild every read model from the log.
    Rebuild {
        /// Print each read model's SHA-256.
        #[arg(long)]
        digest: bool,
        /// Most cases held in memory at once; a log with more is rebuilt in several passes
        /// (docs/operations.md "Memory").
        #[arg(long, default_value_t = caseledger::projections::STREAMS_PER_PASS_MAX_DEFAULT as u64,
              value_parser = clap::value_parser!(u64).range(1..))]
        streams_per_pass: u64,
        /// Most events (summed over the cases held) folded in one pass; a longer log is
        /// counted first and rebuilt in several passes (docs/operations.md "Memory").
        #[arg(long, default_value_t = caseledger::projections::EVENTS_PER_PASS_MAX_DEFAULT,
              value_parser = clap::value_parser!(u64).range(1..))]
        events_per_pass: u64,
    },
    /// Print a read model.
    Report {
        #[arg(value_enum)]
        name: ReportName,
        #[arg(long)]
        as_of_recorded: Option<String>,
        #[arg(long)]
        as_of_effective: Option<String>,
        /// The date rules such as "overdue" are judged on (default: today's date).
        #[arg(long)]
        today: Option<String>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
        /// Caseload only: group by provider, pdu, team, region or practitioner (default).
        #[arg(long, value_enum)]
        by: Option<CaseloadGrouping>,
    },
    /// Print a shell completion script for caseledger to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Publish every publishable event to NATS JetStream as an HMPPS domain event
    /// (docs/operations.md "Domain events"); without --follow, exit once caught up.
    Publish(caseledger::cli_publish::PublishArgs),
    /// List the durable consumers of the log with their checkpoint and lag.
    Consumers {
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    #[command(flatten)]
    Replay(caseledger::cli_replay::ReplayCommand),
    /// Serve the authenticated HTTP API (docs/operations.md "HTTP server").
    #[cfg(feature = "serve")]
    Serve(caseledger::cli_serve::ServeArgs),
    /// Print a development token signed with an HS256 secret file.
    #[cfg(feature = "serve")]
    Token(caseledger::cli_serve::TokenArgs),
}

/// The read models `report` prints.
#[derive(Clone, Copy, ValueEnum)]
enum ReportName {
    Caseload,
    Mappa,
    Handovers,
    Enforcement,
    Allocations,
    Performance,
}

/// How `report caseload --by` groups the caseload.
#[derive(Clone, Copy, ValueEnum)]
enum CaseloadGrouping {
    Practitioner,
    Team,
    Pdu,
    Region,
    Provider,
}

/// How `report` prints a table.
#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Table,
    Json,
    Csv,
}

/// How `consumers` prints its listing.
#[derive(Clone, Copy, ValueEnum)]
enum ListFormat {
    Table,
    Json,
}

/// How `tick` prints what it appended.
#[derive(Clone, Copy, ValueEnum)]
enum TickFormat {
    Table,
    Json,
    Csv,
}

/// The name clap shows for a value: the one the library functions take.
fn value_name(value: impl ValueEnum) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

#[derive(Subcommand)]
enum PolicyCalculator {
    /// Prison-to-community handover dates (OMiC eras 2019, 2022, 2023).
    Handover,
    /// Probation tier (V2 protect/change, V3 A–G).
    Tier,
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Runtime::new().map_err(|e| Failure::Failed(format!("cannot start: {e}")))
}

fn run(cli: Cli) -> Result<(), Failure> {
    let args = cli_ops::StoreArgs {
        data: cli.data,
        store: cli.store,
        lock_wait_ms: cli.wait * 1_000,
        key_file: cli.key_file,
    };
    let actor_policy = cli.actor_policy;
    match cli.command {
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
            .map_err(|e| Failure::Failed(format!("I/O error: {e}")))
        }
        Command::Replay(command) => {
            if command.reads_only() {
                runtime()?.block_on(cli_ops::require_existing_log(&args))?;
            }
            let log = match args.postgres_config()? {
                Some(config) => caseledger::cli_replay::Log::Postgres(config),
                None => caseledger::cli_replay::Log::Sled {
                    data: &args.data,
                    lock_wait_ms: args.lock_wait_ms,
                },
            };
            caseledger::cli_replay::run(command, log, args.kek()?)
        }
        Command::Demo { dir, people } => {
            runtime()?.block_on(caseledger::cli_demo::demo(dir, people, &mut io::stdout()))
        }
        Command::Generate { people, seed } => {
            caseledger::cli_demo::generate(people, seed, &mut io::stdout().lock())
        }
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "caseledger", &mut io::stdout());
            Ok(())
        }
        #[cfg(feature = "serve")]
        Command::Serve(serve) => runtime()?.block_on(caseledger::cli_serve::serve(&args, &serve)),
        #[cfg(feature = "serve")]
        Command::Token(token) => caseledger::cli_serve::token(&token, &mut io::stdout()),
        Command::Init => runtime()?.block_on(cli_ops::init(&args, &mut io::stdout())),
        Command::Import { file, ack_log } => runtime()?.block_on(async {
            let mut engine = cli_ops::open(&args).await?;
            let operator = caseledger::cli_identity::Operator::begin(
                &mut engine,
                "caseledger import",
                actor_policy.as_deref(),
            )
            .await?;
            let summary = cli_ops::import(
                &engine,
                &operator,
                &file,
                ack_log.as_deref(),
                &mut io::stderr(),
            )
            .await?;
            println!(
                "imported {}: {} applied, {} already applied, {} refused (see audit-refusals)",
                file.display(),
                summary.applied,
                summary.duplicates,
                summary.refused
            );
            Ok(())
        }),
        Command::Exec => runtime()?.block_on(async {
            let mut engine = cli_ops::open(&args).await?;
            let operator = caseledger::cli_identity::Operator::begin(
                &mut engine,
                "caseledger exec",
                actor_policy.as_deref(),
            )
            .await?;
            cli_ops::exec(
                &engine,
                &operator,
                &mut io::stdin().lock(),
                &mut io::stdout(),
            )
            .await
        }),
        Command::Tick { to, format } => runtime()?.block_on(async {
            let engine = cli_ops::open(&args).await?;
            cli_ops::tick(&engine, &to, &value_name(format), &mut io::stdout()).await
        }),
        Command::Publish(publish) => runtime()?.block_on(caseledger::cli_publish::publish(
            &args,
            &publish,
            &mut io::stdout(),
        )),
        Command::Consumers { format } => runtime()?.block_on(caseledger::cli_consumers::consumers(
            &args,
            &value_name(format),
            &mut io::stdout(),
        )),
        Command::Case { crn } => runtime()?.block_on(async {
            let engine = cli_ops::open_existing(&args).await?;
            cli_ops::case(&engine, &crn, &mut io::stdout()).await
        }),
        Command::Retention {
            due: _,
            as_of,
            years_after_closure,
        } => runtime()?.block_on(async {
            let rule = caseledger::cli_data_protection::retention_rule(years_after_closure)?;
            let engine = cli_ops::open_existing(&args).await?;
            caseledger::cli_data_protection::retention_due(
                &engine,
                rule,
                as_of.as_deref(),
                &mut io::stdout(),
            )
            .await
        }),
        Command::SubjectAccess { crn } => runtime()?.block_on(async {
            let engine = cli_ops::open_existing(&args).await?;
            caseledger::cli_data_protection::subject_access(&engine, &crn, &mut io::stdout()).await
        }),
        Command::Erase { crn, reason } => runtime()?.block_on(async {
            let arguments = caseledger::cli_data_protection::erase_arguments(&crn, &reason)?;
            let mut engine = cli_ops::open_existing(&args).await?;
            let operator = caseledger::cli_identity::Operator::begin(
                &mut engine,
                "caseledger erase",
                actor_policy.as_deref(),
            )
            .await?;
            caseledger::cli_data_protection::erase(&engine, &operator, arguments, &mut io::stdout())
                .await
        }),
        Command::Rebuild {
            digest,
            streams_per_pass,
            events_per_pass,
        } => runtime()?.block_on(async {
            return_freed_memory_at_once();
            // A rebuild reads the log once: a small page cache bounds its memory.
            let engine = caseledger::Engine::open_async(args.engine_config()?.for_one_pass())
                .await
                .map_err(Failure::from)?;
            caseledger::cli_report::rebuild(
                &engine,
                &args.readmodels_dir()?,
                caseledger::projections::RebuildOptions {
                    streams_per_pass_max: usize::try_from(streams_per_pass).unwrap_or(usize::MAX),
                    events_per_pass_max: events_per_pass,
                },
                digest,
                &mut io::stdout(),
            )
            .await
            .map_err(Failure::Failed)
        }),
        Command::Report {
            name,
            as_of_recorded,
            as_of_effective,
            today,
            format,
            by,
        } => runtime()?.block_on(async {
            if by.is_some() && !matches!(name, ReportName::Caseload) {
                return Err(Failure::Usage(format!(
                    "--by: only the caseload report is grouped; {} is not",
                    value_name(name)
                )));
            }
            let options = caseledger::cli_report::parse_options(by.map(value_name).as_deref())
                .map_err(Failure::Usage)?;
            let as_of = caseledger::cli_report::parse_as_of(
                as_of_recorded.as_deref(),
                as_of_effective.as_deref(),
            )
            .map_err(Failure::Usage)?;
            let today: jiff::civil::Date = match today {
                Some(t) => t.parse().map_err(|_| {
                    Failure::Usage(format!("--today: {t:?} is not a date YYYY-MM-DD"))
                })?,
                // The shell may read the clock; domain code never does.
                None => jiff::Zoned::now().date(),
            };
            let engine = cli_ops::open_existing(&args).await?;
            caseledger::cli_report::report(
                &engine,
                &args.readmodels_dir()?,
                &value_name(name),
                &options,
                as_of,
                today,
                &value_name(format),
                &mut io::stdout(),
            )
            .await
            .map_err(Failure::Failed)
        }),
    }
}

/// Turn transparent huge pages off for this process. mimalloc asks for huge pages on its
/// arenas (`madvise`), so a fresh arena page costs the kernel a 2 MiB fault that zeroes the
/// whole page, however little of it is used: `perf` of `import-log` found a tenth of its CPU
/// in the kernel's `clear_page_erms`, and without huge pages `import` and `import-log` ran
/// faster and peaked lower (docs/benchmarks.md "Write path"). mimalloc's own switches cannot do it
/// from here: it reserves its first arena before `main` runs (docs/decisions/0012).
fn without_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes four integer arguments and only sets a flag on this
    // process; a failure (an old kernel) leaves the default in place, which is only slower.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    without_transparent_huge_pages();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => {
            let _ = io::stdout().flush();
            ExitCode::SUCCESS
        }
        Err(failure) => {
            let _ = io::stdout().flush();
            eprintln!("caseledger: {}", failure.message());
            ExitCode::from(failure.exit_code())
        }
    }
}
