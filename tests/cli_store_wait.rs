//! `--wait SECONDS` with two real processes: one holds the sled store (an `exec` waiting for
//! its command on stdin), the other waits for it — exit 4 once the wait is over, or carries on
//! as soon as the holder lets go.

mod cli_support;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::caseledger;

/// Longest the test waits for the holder to take the store.
const HOLDER_START_MAX: Duration = Duration::from_secs(60);

/// An `exec` that opens the store and then waits for its command on stdin; the caller waits
/// for it ([`release`]).
#[allow(clippy::zombie_processes)]
fn hold(data: &Path) -> Child {
    let mut holder = Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .arg("--data")
        .arg(data)
        // It waits too: the probes below hold the store for a moment each.
        .args(["--wait", "60", "exec"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the holder");
    let start = Instant::now();
    // The holder has the store once a second opener is refused with exit code 4.
    loop {
        let probe = caseledger(data, &["verify"]);
        if probe.code == 4 {
            return holder;
        }
        if start.elapsed() > HOLDER_START_MAX {
            let _ = holder.kill();
            let _ = holder.wait();
            panic!("the holder never took the store");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn release(mut holder: Child) {
    // End of input: exec has no command to run and exits, releasing the store.
    drop(holder.stdin.take());
    holder.wait().expect("the holder exits");
}

#[test]
fn a_second_process_waits_for_the_store_then_gives_up_with_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(caseledger(&data, &["init"]).success());
    let holder = hold(&data);
    for args in [
        vec!["--wait", "2", "verify"],
        vec!["--wait", "2", "case", "X123456"],
    ] {
        let start = Instant::now();
        let out = caseledger(&data, &args);
        let waited = start.elapsed();
        assert_eq!(out.code, 4, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("in use"), "names the reason");
        assert!(
            waited >= Duration::from_millis(1_900),
            "{args:?} gave up after {waited:?}, before its wait"
        );
    }
    // Without --wait: refused at once, as before.
    assert_eq!(caseledger(&data, &["verify"]).code, 4);
    release(holder);
}

#[test]
fn a_waiting_process_carries_on_when_the_holder_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(caseledger(&data, &["init"]).success());
    let mut holder = hold(&data);
    let waiter = Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .arg("--data")
        .arg(&data)
        .args(["--wait", "120", "verify"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the waiter");
    std::thread::sleep(Duration::from_secs(1));
    // Still waiting while the holder holds the store.
    assert!(
        holder.try_wait().unwrap().is_none(),
        "the holder still runs"
    );
    let _ = holder.stdin.as_mut().unwrap().flush();
    release(holder);
    let out = waiter.wait_with_output().expect("the waiter exits");
    assert!(
        out.status.success(),
        "verify after the wait: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("chain intact"));
}

#[test]
fn a_wait_over_an_hour_is_an_unusable_argument() {
    let dir = tempfile::tempdir().unwrap();
    let out = caseledger(dir.path(), &["--wait", "3601", "verify"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--wait"));
}
