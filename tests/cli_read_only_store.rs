//! `verify` and `export` read a sled store without writing to it: on a filesystem with no
//! space left (a small tmpfs filled to the last byte, when the test runs as root and may
//! mount one) or, otherwise, in a directory the user may not write to, both succeed through
//! the real binary and leave every file of the store byte for byte and time for time as it
//! was, with no file added.

mod cli_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cli_support::caseledger;

/// Every file under `dir` with its bytes, length and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                let bytes = std::fs::read(entry.path()).unwrap();
                out.insert(entry.path(), (bytes, meta.modified().unwrap()));
            }
        }
    }
    out
}

/// A store of a small generated cohort in `dir/source`.
fn store(dir: &Path) -> PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .args(["generate", "--people", "8", "--seed", "5"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let commands = dir.join("commands.jsonl");
    std::fs::write(&commands, &out.stdout).unwrap();
    let data = dir.join("source");
    let out = caseledger(&data, &["import", commands.to_str().unwrap()]);
    assert!(out.success(), "{}", out.stderr);
    data
}

/// A tmpfs of `bytes` mounted on `at`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, bytes: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}")])
            .arg("tmpfs")
            .arg(at)
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Copy the store directory `from` into `to` (files and `blobs/`).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Write zeros to `path` until the filesystem has no space left.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        if file.write_all(&block).and_then(|()| file.flush()).is_err() {
            break;
        }
    }
    // The last bytes of a block that did not fit.
    while file.write_all(&[0u8]).is_ok() {}
    assert!(
        std::fs::File::create(path.with_extension("more"))
            .and_then(|mut f| f.write_all(&[0u8; 4096]).and_then(|()| f.sync_all()))
            .is_err(),
        "the filesystem is full"
    );
}

/// Run verify and export on `data` and check they succeed and change nothing in it.
fn verify_and_export_change_nothing(data: &Path, reference_export: &str) {
    let before = snapshot(data);
    let out = caseledger(data, &["verify"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("chain intact"));
    let out = caseledger(data, &["export"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, reference_export);
    let after = snapshot(data);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "no file is added or removed"
    );
    for (path, (bytes, modified)) in &before {
        let (bytes_after, modified_after) = &after[path];
        assert!(bytes == bytes_after, "{} changed", path.display());
        assert_eq!(modified, modified_after, "{} was written", path.display());
    }
}

#[test]
fn verify_and_export_read_a_store_on_a_full_disk_without_writing_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let source = store(dir.path());
    let reference = caseledger(&source, &["export"]);
    assert!(reference.success());
    let reference = reference.stdout;
    // Root may mount a tmpfs just big enough for the store and fill it; anyone else gets a
    // directory they may not write to.
    let size = snapshot(&source)
        .values()
        .map(|(b, _)| b.len() as u64)
        .sum::<u64>();
    let mount_point = dir.path().join("full");
    if let Some(_tmpfs) = Tmpfs::mount(&mount_point, size + 2 * 1024 * 1024) {
        let data = mount_point.join("data");
        copy_dir(&source, &data);
        fill(&mount_point.join("filler"));
        verify_and_export_change_nothing(&data, &reference);
        // And on a read-only mount.
        let remounted = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&mount_point)
            .status()
            .unwrap();
        assert!(remounted.success());
        verify_and_export_change_nothing(&data, &reference);
    } else {
        use std::os::unix::fs::PermissionsExt;
        let data = dir.path().join("read-only");
        copy_dir(&source, &data);
        let set = |mode: u32| {
            for path in [data.join("blobs"), data.clone()] {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        };
        set(0o500);
        verify_and_export_change_nothing(&data, &reference);
        set(0o700);
    }
}

#[test]
fn a_read_only_reader_keeps_writers_out_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = store(dir.path());
    let before = snapshot(&source);
    let reader = caseledger::store::SledStore::open_read_only(
        &source,
        &dir.path().join("scratch"),
        caseledger::store::SLED_CACHE_CAPACITY_BYTES_MIN,
        0,
    )
    .unwrap();
    assert!(reader.is_read_only());
    // A writer cannot open the store while it is being read.
    let out = caseledger(&source, &["init"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    // Nothing can be appended through the reader.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use caseledger::store::EventStore;
        let head = reader.head().await.unwrap();
        assert!(head > 0);
        let stream = caseledger::store::StreamId::new("X000001").unwrap();
        let event = caseledger::store::NewEvent {
            event_id: uuid::Uuid::new_v4(),
            event_type: "Noted".into(),
            schema_version: 1,
            effective_at_us: 0,
            actor: caseledger::store::Actor {
                id: "a".into(),
                role: "r".into(),
                organisation: "o".into(),
            },
            command_id: uuid::Uuid::new_v4(),
            correlation_id: uuid::Uuid::new_v4(),
            causation_id: uuid::Uuid::nil(),
            ruleset_id: String::new(),
            payload: vec![1],
        };
        let refused = reader
            .append(
                &stream,
                caseledger::store::ExpectedVersion::Any,
                vec![event],
                None,
            )
            .await;
        let error = refused.expect_err("a read-only handle refuses appends");
        assert!(error.to_string().contains("read-only"), "{error}");
        assert_eq!(reader.head().await.unwrap(), head);
    });
    drop(reader);
    assert_eq!(snapshot(&source), before);
    let scratch: Vec<_> = std::fs::read_dir(dir.path().join("scratch"))
        .unwrap()
        .collect();
    assert!(scratch.is_empty(), "the copy is removed with the handle");
}
