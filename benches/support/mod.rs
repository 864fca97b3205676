//! Shared by the benchmark binaries: run a child process to the end and read its peak RSS.

use std::process::Command;
use std::time::Instant;

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
