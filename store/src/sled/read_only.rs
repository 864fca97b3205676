//! The read-only open: a private copy of the store, taken under a shared lock, is what the
//! handle reads, so nothing in the original directory changes.

use super::*;

/// What a read-only handle holds beside the copy it reads: a shared lock on the original
/// store (writers take it exclusively, so none runs while the copy is read) and the scratch
/// directory, removed when the handle is dropped.
pub(super) struct ReadOnlyCopy {
    pub(super) original: PathBuf,
    pub(super) _shared_lock: File,
    pub(super) scratch: PathBuf,
}

impl Drop for ReadOnlyCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Files of a store directory that are not part of the log: the lock file and a snapshot sled
/// was still writing (`snap.*.generating`).
pub(super) fn is_copied(name: &str) -> bool {
    name != LOCK_FILE_NAME && !name.ends_with(".generating")
}

/// Copy the store directory `from` (its files and `blobs/`) into the new directory `to`.
pub(super) fn copy_store(from: &Path, to: &Path) -> std::io::Result<()> {
    create_private_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_store(&entry.path(), &to.join(&name))?;
        } else if kind.is_file() && is_copied(&name.to_string_lossy()) {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

/// Open the copy a read-only handle reads. sled 0.34 panics while recovering some damaged logs
/// (serialising a snapshot with a page it could not read); on a copy that is a corrupt log to
/// report, not a crash.
pub(super) fn open_recovered_copy(
    copy: &Path,
    original: &Path,
    cache_capacity_bytes: u64,
) -> Result<SledStore, StoreError> {
    let options = SledOptions {
        durability: Durability::Flush,
        clock: Arc::new(SystemClock),
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        SledStore::open_waiting(copy, options, cache_capacity_bytes, 0)
    }))
    .unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned());
        Err(StoreError::Corrupt {
            position: 0,
            reason: format!(
                "sled cannot recover the log in {} ({why}); the records sled wrote after its \
                 last snapshot are damaged",
                original.display()
            ),
        })
    })
}

/// The error of any write on a read-only handle.
pub(super) fn read_only_error(original: &Path) -> StoreError {
    StoreError::Backend(format!(
        "the store at {} was opened read-only (verify, export); nothing can be written through \
         this handle",
        original.display()
    ))
}

impl SledStore {
    /// Open the store at `path` to read it without writing anything there: no byte of its
    /// files changes and no file is created in it, so it opens on a full disk and on a
    /// read-only mount.
    ///
    /// sled 0.34 has no read-only mode: opening a store recovers it, which zeroes the tail
    /// of its last segment in `db` and writes a new `snap.*` file. So the store's files are
    /// copied into a new private directory under `scratch` (which needs room for one copy of
    /// the store: put it on another filesystem, e.g. `TMPDIR=/dev/shm`, when the store's is
    /// full) and the copy is opened; the copy is removed when the handle is dropped. While the
    /// copy is taken a shared lock on the original's `caseledger.lock` (or, without one, on its
    /// `db`) keeps writers out; a writer holding the store is waited for up to `lock_wait_ms`,
    /// then [`StoreError::InUse`]. Appends and acknowledgements through the handle are refused.
    pub fn open_read_only(
        path: impl AsRef<Path>,
        scratch: &Path,
        cache_capacity_bytes: u64,
        lock_wait_ms: u64,
    ) -> Result<SledStore, StoreError> {
        let original = path.as_ref().to_path_buf();
        let lock_path = [LOCK_FILE_NAME, "db"]
            .into_iter()
            .map(|name| original.join(name))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                backend(
                    &format!("opening {} read-only", original.display()),
                    "no caseledger store there",
                )
            })?;
        let shared_lock = File::open(&lock_path)
            .map_err(|e| backend(&format!("opening {}", lock_path.display()), e))?;
        lock_shared_waiting(
            &shared_lock,
            &original,
            lock_wait_ms.min(STORE_LOCK_WAIT_MS_MAX),
        )?;
        create_private_dir(scratch)
            .map_err(|e| backend(&format!("creating {}", scratch.display()), e))?;
        let copy = scratch.join(format!(
            "caseledger-read-only-{}-{}",
            std::process::id(),
            SystemClock.now_us()
        ));
        let read_only = ReadOnlyCopy {
            original: original.clone(),
            _shared_lock: shared_lock,
            scratch: copy.clone(),
        };
        copy_store(&original, &copy).map_err(|e| {
            backend(
                &format!(
                    "copying {} to {} to read it without writing to it (the scratch directory \
                     needs room for one copy of the store; set TMPDIR to another filesystem)",
                    original.display(),
                    copy.display()
                ),
                e,
            )
        })?;
        let mut store = open_recovered_copy(&copy, &original, cache_capacity_bytes)?;
        store.read_only = Some(Box::new(read_only));
        Ok(store)
    }

    /// Whether this handle was opened with [`SledStore::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    /// Refuse a write on a read-only handle.
    pub(super) fn writable(&self) -> Result<(), StoreError> {
        match &self.read_only {
            Some(copy) => Err(read_only_error(&copy.original)),
            None => Ok(()),
        }
    }
}
