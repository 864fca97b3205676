//! What the two crash tests (`crash.rs` on sled, `postgres_crash.rs` on PostgreSQL) share: the
//! seeded generator and one round of "start a real writer process, wait for its first
//! acknowledgement, SIGKILL it at a random moment, collect what it acknowledged".

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// xorshift64*: a tiny deterministic generator; the seed is printed so a failure can be rerun.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The seed from `CRASH_SEED`, else from the clock (odd, so never zero for xorshift).
pub fn seed() -> u64 {
    std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        })
}

/// What a killed writer left behind.
pub struct KilledWriter {
    /// Its first complete line, if one came within the wait; `None` means it acknowledged
    /// nothing in time.
    pub first: Option<String>,
    /// Every complete line after the first, each still ending in `\n`.
    pub rest: Vec<String>,
    pub status: ExitStatus,
    pub stderr: String,
}

impl KilledWriter {
    /// All complete lines, the first included, each ending in `\n`.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.first
            .iter()
            .chain(self.rest.iter())
            .map(String::as_str)
    }
}

/// Start `command` with piped output, wait at most `first_line_wait_max` for its first line
/// (so the kill lands while appends are in flight), sleep a random time below
/// `kill_after_ms_max` ms, SIGKILL it and collect its lines and stderr.
pub fn run_and_kill(
    mut command: Command,
    rng: &mut Rng,
    first_line_wait_max: Duration,
    kill_after_ms_max: u64,
) -> KilledWriter {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the writer");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                // Only newline-terminated lines are complete acknowledgements; a line cut by
                // the kill is not one.
                Ok(n) if n > 0 && line.ends_with(b"\n") => {
                    if lines_tx
                        .send(String::from_utf8_lossy(&line).into_owned())
                        .is_err()
                    {
                        break;
                    }
                }
                _ => break,
            }
        }
    });
    let first = lines_rx.recv_timeout(first_line_wait_max).ok();
    std::thread::sleep(Duration::from_millis(rng.next() % kill_after_ms_max));
    child.kill().expect("SIGKILL the writer");
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    KilledWriter {
        first,
        rest: lines_rx.try_iter().collect(),
        status,
        stderr,
    }
}
