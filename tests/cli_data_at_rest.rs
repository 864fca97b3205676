//! Data at rest through the real binary: the data directory is private to its owner (0700,
//! files 0600) — the store, the files sled creates later (snapshots, blobs), the read-model
//! database and the ack log — even when the process runs with umask 000.

mod cli_support;
mod engine_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cli_support::Cli;
use engine_support::*;

const NOTTINGHAM_CITY: u8 = 79;

/// Runs `args` on `data` under `umask 000` (see [`Cli::umask_000`]), insisting it exits 0;
/// its stdout.
fn ok(data: &Path, args: &[&str]) -> String {
    Cli::on(data).umask_000().ok(args).stdout
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// Every file and directory under `root` (root included), with its mode.
fn walk(root: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut out = vec![(root.to_path_buf(), true, mode(root))];
    for entry in std::fs::read_dir(root).expect("read_dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if entry.file_type().expect("file type").is_dir() {
            out.extend(walk(&path));
        } else {
            out.push((path.clone(), false, mode(&path)));
        }
    }
    out
}

fn assert_private(root: &Path) -> usize {
    let entries = walk(root);
    for (path, is_dir, mode) in &entries {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(
            *mode,
            want,
            "{} is {mode:03o}, want {want:03o}",
            path.display()
        );
    }
    entries.len()
}

fn commands(cases: u32) -> String {
    let mut lines = String::new();
    for i in 0..cases {
        let crn = format!("P{:06}", 200_000 + i);
        for line in [
            as_case_administrator(
                &crn,
                "2022-03-01",
                open_case(&crn, NOTTINGHAM_CITY, "2022-03-01"),
            ),
            as_court_officer(&crn, "2022-03-01", community_order("2022-03-01")),
            as_probation_officer(&crn, "2022-03-02", assess("2022-03-02", "initial", "low")),
        ] {
            lines.push_str(&line);
            lines.push('\n');
        }
    }
    lines
}

#[test]
fn init_import_and_rebuild_leave_every_file_private_to_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&data, &["init"]);
    assert_eq!(mode(&data), 0o700);
    assert!(data.join("db").exists(), "sled's log file");
    assert_private(&data);

    let input = dir.path().join("commands.jsonl");
    std::fs::write(&input, commands(40)).unwrap();
    let ack = dir.path().join("ack.log");
    let args = [
        "import",
        input.to_str().unwrap(),
        "--ack-log",
        ack.to_str().unwrap(),
    ];
    ok(&data, &args);
    assert_eq!(mode(&ack), 0o600, "the ack log names cases");
    assert!(std::fs::read_to_string(&ack).unwrap().lines().count() >= 120);

    // Reopening writes a new sled snapshot; rebuild creates the read-model database.
    ok(&data, &["rebuild"]);
    ok(&data, &["case", "P200000"]);
    let snapshots = std::fs::read_dir(&data)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("snap.")
        })
        .count();
    assert!(snapshots > 0, "sled wrote a snapshot after the first open");
    assert!(data.join("readmodels").join("db").exists());
    let checked = assert_private(&data);
    assert!(
        checked > 8,
        "walked the store and the read models: {checked}"
    );
}

#[test]
fn init_takes_group_and_other_access_away_from_an_existing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = ok(&data, &["init"]);
    assert!(out.contains("was 755; now 700"), "init says so: {out}");
    assert_private(&data);
}

/// The person of case `i`: a name and a date of birth found nowhere else.
fn person(i: u32) -> (String, String) {
    (
        format!("Quillon Marchbanks-{i:03}"),
        format!("19{:02}-0{}-1{}", 60 + i % 30, 1 + i % 9, i % 10),
    )
}

/// Does any file under `root` hold `needle`? Names the file.
fn file_holding(root: &Path, needle: &[u8]) -> Option<PathBuf> {
    let files = if root.is_dir() {
        walk(root)
    } else {
        vec![(root.to_path_buf(), false, 0)]
    };
    files.into_iter().find_map(|(path, is_dir, _)| {
        let bytes = if is_dir {
            Vec::new()
        } else {
            std::fs::read(&path).unwrap()
        };
        bytes
            .windows(needle.len())
            .any(|w| w == needle)
            .then_some(path)
    })
}

/// Personal data is sealed at rest (docs/decisions/0009-crypto-shredding.md): after `init`,
/// `import`, `rebuild`, `case` and a report, no name or date of birth from the commands is
/// in any file of the data directory (log, key store, read models, snapshots), nor in the ack
/// log — while `case` and `subject-access`, which hold the key, still show them.
#[test]
fn no_name_or_date_of_birth_from_the_commands_is_in_any_file_of_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&data, &["init"]);
    let mut lines = String::new();
    for i in 0..30 {
        let crn = format!("P{:06}", 300_000 + i);
        let (name, born) = person(i);
        let mut open = open_case(&crn, NOTTINGHAM_CITY, "2022-03-01");
        open["person"]["name"] = name.into();
        open["person"]["date_of_birth"] = born.into();
        lines.push_str(&as_case_administrator(&crn, "2022-03-01", open));
        lines.push('\n');
        let order = community_order("2022-03-01");
        lines.push_str(&as_court_officer(&crn, "2022-03-01", order));
        lines.push('\n');
    }
    let input = dir.path().join("commands.jsonl");
    std::fs::write(&input, lines).unwrap();
    let ack = dir.path().join("ack.log");
    let import = [
        "import",
        input.to_str().unwrap(),
        "--ack-log",
        ack.to_str().unwrap(),
    ];
    ok(&data, &import);
    ok(&data, &["rebuild"]);
    ok(&data, &["report", "caseload"]);

    let (name, born) = person(7);
    let case = ok(&data, &["case", "P300007"]);
    assert!(case.contains(&name) && case.contains(&born), "{case}");
    let access = ok(&data, &["subject-access", "P300007"]);
    assert!(access.contains(&name) && access.contains(&born), "{access}");

    for i in 0..30 {
        let (name, born) = person(i);
        for needle in [name.as_bytes(), born.as_bytes(), b"Quillon"] {
            for root in [&data, &ack] {
                let found = file_holding(root, needle);
                assert_eq!(
                    found,
                    None,
                    "{:?} is in a file",
                    String::from_utf8_lossy(needle)
                );
            }
        }
    }
}
