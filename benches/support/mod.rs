//! Shared by the benchmark binaries: their settings from the environment, the binary as a
//! child process, and a child's peak RSS. Each binary uses part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The setting `name` from the environment, or `default` when it is not set; a value that
/// does not parse stops the benchmark rather than measuring something else.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: not a number")))
        .unwrap_or(default)
}

/// The release binary on the data directory `data`.
pub fn caseledger(data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_caseledger"));
    command.arg("--data").arg(data);
    command
}

/// Run `command` to the end (it must succeed); (peak RSS in MiB, seconds).
// The child is waited for with `wait4`, which std's `Child::wait` does not expose.
#[allow(clippy::zombie_processes)]
pub fn peak_rss(command: &mut Command) -> (f64, f64) {
    let start = Instant::now();
    let child = command.spawn().expect("spawn the benchmarked process");
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: all-zero bytes are a valid `rusage` (integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; `status` and `usage` are valid for
    // writes for the duration of the call.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed: status {status}"
    );
    // Linux reports ru_maxrss in KiB.
    (
        usage.ru_maxrss as f64 / 1024.0,
        start.elapsed().as_secs_f64(),
    )
}
