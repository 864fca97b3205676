//! Running the real `caseledger` binary in the integration tests: one runner ([`Cli`]) with
//! the few ways a test varies a run (no data directory, a key file, a store URL, standard
//! input, a umask that protects nothing), what a run left ([`Ran`]), and the store set-ups
//! more than one test file makes.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// Settings the binary reads from the environment in place of flags: a run removes them, so
/// that only the test's own arguments decide which store, key and retention period it uses.
const SETTINGS: [&str; 4] = [
    "CASELEDGER_DATA",
    "CASELEDGER_KEY_FILE",
    "CASELEDGER_STORE",
    "CASELEDGER_RETENTION_YEARS_AFTER_CLOSURE",
];

/// `caseledger --data DATA ARGS…`: the plain run most tests make.
pub fn caseledger(data: &Path, args: &[&str]) -> Ran {
    Cli::on(data).run(args)
}

/// `caseledger policy CALCULATOR` with `input` (its JSON Lines) on standard input: the policy
/// calculators read no store, so the run names no data directory.
pub fn policy(calculator: &str, input: &str) -> Ran {
    Cli::without_data()
        .input(input.as_bytes())
        .run(&["policy", calculator])
}

/// The `ROOT@POSITION` of the `root ` line `verify` printed (`stdout`), insisting there is one.
pub fn verify_root(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("root "))
        .expect("verify prints a root line")
        .to_owned()
}

/// Writes `lines` (one command's JSON each) as the JSON Lines file `dir/name`; its path.
pub fn command_file(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    file
}

/// What one run of the binary left.
#[derive(Debug)]
pub struct Ran {
    /// The exit code; -1 when a signal ended the process.
    pub code: i32,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr (a byte that is not UTF-8 read as U+FFFD).
    pub stderr: String,
}

impl Ran {
    /// Insists stdout is UTF-8, as everything the binary prints there is (JSON, reports,
    /// exports), so that a test reading it as text checks that too; stderr is read lossily.
    fn of(output: Output) -> Self {
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("the binary prints UTF-8"),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Did the run exit 0?
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// All the run said, stdout then stderr: for failure messages, and for checks that do
    /// not care which stream said it.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// (exit code, stdout, stderr), for a test that names the three apart.
    pub fn parts(self) -> (i32, String, String) {
        (self.code, self.stdout, self.stderr)
    }

    /// Insists the run exited 0, naming `what` ran and all it said otherwise.
    pub fn succeeded(self, what: &str) -> Self {
        assert!(self.success(), "{what}: {}", self.text());
        self
    }

    /// The run's stdout as JSON, insisting it exited 0 and printed JSON.
    pub fn json(&self) -> Value {
        assert!(self.success(), "{}", self.text());
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

/// How to run the binary: `caseledger [--data DATA] [--key-file KEY] [--store URL] ARGS…`,
/// with the environment's settings removed ([`SETTINGS`]).
#[derive(Clone, Copy)]
pub struct Cli<'a> {
    data: Option<&'a Path>,
    key_file: Option<&'a Path>,
    store: Option<&'a str>,
    input: Option<&'a [u8]>,
    umask_000: bool,
}

impl<'a> Cli<'a> {
    /// Runs on the data directory `data`, with nothing else set.
    pub fn on(data: &'a Path) -> Self {
        Cli {
            data: Some(data),
            ..Cli::without_data()
        }
    }

    /// Runs without `--data`, for the commands that open no store (`policy`, `generate`):
    /// with [`SETTINGS`] removed, nothing points them at one either.
    pub fn without_data() -> Self {
        Cli {
            data: None,
            key_file: None,
            store: None,
            input: None,
            umask_000: false,
        }
    }

    /// Passes `--key-file KEY` when given one.
    pub fn key_file(self, key_file: Option<&'a Path>) -> Self {
        Cli { key_file, ..self }
    }

    /// Passes `--store URL` when given one (otherwise the store is sled in the data directory).
    pub fn store(self, store: Option<&'a str>) -> Self {
        Cli { store, ..self }
    }

    /// Feeds `input` on standard input (otherwise the binary reads an empty one).
    pub fn input(self, input: &'a [u8]) -> Self {
        Cli {
            input: Some(input),
            ..self
        }
    }

    /// Runs under `umask 000`, so that only the modes caseledger asks for protect its files
    /// (with the usual 022 a file would be 0644: readable by every user).
    pub fn umask_000(self) -> Self {
        Cli {
            umask_000: true,
            ..self
        }
    }

    /// Runs the binary with `args` after the global options, and waits for it.
    pub fn run(&self, args: &[&str]) -> Ran {
        let mut command = self.command(args);
        let output = match self.input {
            None => command.output().expect("the binary runs"),
            Some(input) => fed(command, input),
        };
        Ran::of(output)
    }

    /// Runs `args`, insisting it exits 0 (the failure names the arguments).
    pub fn ok(&self, args: &[&str]) -> Ran {
        self.run(args).succeeded(&format!("{args:?}"))
    }

    /// Runs `args`, insisting it exits 0 and prints JSON; that JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        self.run(args).json()
    }

    /// `case CRN` as JSON, insisting it exits 0.
    pub fn case(&self, crn: &str) -> Value {
        self.json(&["case", crn])
    }

    /// `ROOT@POSITION` from `verify`'s output, insisting the chain verifies.
    pub fn verified_root(&self) -> String {
        verify_root(&self.ok(&["verify"]).stdout)
    }

    /// `init`, then `import` of `lines` written to `dir/commands.jsonl`; both must exit 0.
    pub fn init_and_import(&self, dir: &Path, lines: &[String]) {
        let file = command_file(dir, "commands.jsonl", lines);
        self.ok(&["init"]);
        self.ok(&["import", file.to_str().unwrap()]);
    }

    /// `import` of `lines` written to `dir/name`, insisting it exits 0 and refuses nothing;
    /// what it printed.
    pub fn import_none_refused(&self, dir: &Path, name: &str, lines: &[String]) -> String {
        let file = command_file(dir, name, lines);
        let import = self.ok(&["import", file.to_str().unwrap()]);
        assert!(
            import.stdout.contains(" 0 refused"),
            "nothing refused: {}",
            import.text()
        );
        import.stdout
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = if self.umask_000 {
            let mut shell = Command::new("sh");
            shell.args(["-c", "umask 000 && exec \"$@\"", "sh"]);
            shell.arg(env!("CARGO_BIN_EXE_caseledger"));
            shell
        } else {
            Command::new(env!("CARGO_BIN_EXE_caseledger"))
        };
        for setting in SETTINGS {
            command.env_remove(setting);
        }
        if let Some(data) = self.data {
            command.arg("--data").arg(data);
        }
        if let Some(key_file) = self.key_file {
            command.arg("--key-file").arg(key_file);
        }
        if let Some(url) = self.store {
            command.arg("--store").arg(url);
        }
        command.args(args);
        command
    }
}

/// Runs `command` with `input` on its standard input, closed after it. The input is written
/// from another thread, so a run that prints much before reading all of it cannot deadlock.
fn fed(mut command: Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("wait for the binary");
    writer
        .join()
        .expect("the input writer")
        .expect("write the input");
    output
}
