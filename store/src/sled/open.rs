//! Opening a writable store: the directory and file modes, the process locks, and the
//! writer thread started over the checked layout.

use super::*;

/// How long `open` waits for sled's own file lock once it holds caseledger.lock: long enough
/// for a just-dropped handle's background threads to let go, short enough to fail fast.
pub(super) const SLED_LOCK_WAIT_MS_MAX: u64 = 2_000;
/// Pause between attempts while waiting for sled's lock.
pub(super) const SLED_LOCK_RETRY_MS: u64 = 10;

/// Mode of a store directory this build creates: the log holds names and dates of birth.
pub const STORE_DIR_MODE: u32 = 0o700;
/// Mode of every file this build (and its vendored sled, PATCHES.md §8) creates in a store.
pub const STORE_FILE_MODE: u32 = 0o600;

/// `create_dir_all` with every directory it creates made [`STORE_DIR_MODE`].
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, STORE_DIR_MODE);
    builder.create(path)
}

/// Open options that create a missing file [`STORE_FILE_MODE`].
pub fn private_file_options() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, STORE_FILE_MODE);
    options
}

/// Longest [`SledStore::open_waiting`] waits for another process to release a store: one hour.
pub const STORE_LOCK_WAIT_MS_MAX: u64 = 3_600_000;
/// Pause between attempts to take a store's lock while waiting for it.
pub(super) const STORE_LOCK_RETRY_MS: u64 = 50;

/// Take the exclusive lock on `lock`, trying again for up to `wait_ms` while another holder
/// has it.
pub(super) fn lock_waiting(lock: &File, path: &Path, wait_ms: u64) -> Result<(), StoreError> {
    lock_waiting_with(lock, path, wait_ms, fs2::FileExt::try_lock_exclusive)
}

/// [`lock_waiting`] for a shared lock: readers share it, a writer holds it exclusively.
pub(super) fn lock_shared_waiting(
    lock: &File,
    path: &Path,
    wait_ms: u64,
) -> Result<(), StoreError> {
    lock_waiting_with(lock, path, wait_ms, fs2::FileExt::try_lock_shared)
}

pub(super) fn lock_waiting_with(
    lock: &File,
    path: &Path,
    wait_ms: u64,
    try_lock: fn(&File) -> std::io::Result<()>,
) -> Result<(), StoreError> {
    let start = std::time::Instant::now();
    loop {
        let error = match try_lock(lock) {
            Ok(()) => return Ok(()),
            Err(e) => lock_error(path, &e),
        };
        let waited_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        if !matches!(error, StoreError::InUse { .. }) || waited_ms >= wait_ms {
            return Err(error);
        }
        let pause_ms = STORE_LOCK_RETRY_MS.min(wait_ms - waited_ms);
        std::thread::sleep(std::time::Duration::from_millis(pause_ms));
    }
}

pub(super) fn lock_error(path: &Path, e: &std::io::Error) -> StoreError {
    if e.kind() == std::io::ErrorKind::WouldBlock
        || e.raw_os_error() == fs2::lock_contended_error().raw_os_error()
    {
        StoreError::InUse {
            path: path.display().to_string(),
        }
    } else {
        backend(&format!("locking {}", path.display()), e)
    }
}

/// fsync every file under `dir` and the directories themselves: sled's flush uses
/// `sync_file_range`, which does not flush the drive's volatile cache (operations.md).
pub(super) fn fsync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            fsync_tree(&entry.path())?;
        } else if kind.is_file() {
            File::open(entry.path())?.sync_all()?;
        }
    }
    File::open(dir)?.sync_all()
}

impl SledStore {
    /// Open (or create) the store at `path`. Fails with [`StoreError::InUse`] if another
    /// process (or another handle in this one) has it open, and with
    /// [`StoreError::UnknownLayout`] if the directory holds a log in a layout this build does
    /// not read.
    pub fn open(path: impl AsRef<Path>, options: SledOptions) -> Result<SledStore, StoreError> {
        Self::open_with_cache(path, options, SLED_CACHE_CAPACITY_BYTES_DEFAULT)
    }

    /// [`SledStore::open`] with sled's page cache capped at `cache_capacity_bytes` (clamped to
    /// [`SLED_CACHE_CAPACITY_BYTES_MIN`]..=[`SLED_CACHE_CAPACITY_BYTES_DEFAULT`]). A reader that
    /// pages through the log once, such as a full read-model rebuild, gains nothing from a
    /// large cache: every page is read once, so a small cache bounds its resident memory
    /// without slowing it (operations.md "Memory"). The on-disk layout does not depend on it.
    ///
    /// A separate constructor rather than a field of [`SledOptions`], because callers build
    /// `SledOptions` with struct literals and a new field would break them.
    pub fn open_with_cache(
        path: impl AsRef<Path>,
        options: SledOptions,
        cache_capacity_bytes: u64,
    ) -> Result<SledStore, StoreError> {
        Self::open_waiting(path, options, cache_capacity_bytes, 0)
    }

    /// [`SledStore::open_with_cache`] that, when another process holds the store, waits up
    /// to `lock_wait_ms` (at most [`STORE_LOCK_WAIT_MS_MAX`]) for it to let go before failing
    /// with [`StoreError::InUse`]: a job started while another finishes (a nightly export
    /// behind an import) then queues instead of failing at once.
    pub fn open_waiting(
        path: impl AsRef<Path>,
        options: SledOptions,
        cache_capacity_bytes: u64,
        lock_wait_ms: u64,
    ) -> Result<SledStore, StoreError> {
        let cache_capacity_bytes = cache_capacity_bytes.clamp(
            SLED_CACHE_CAPACITY_BYTES_MIN,
            SLED_CACHE_CAPACITY_BYTES_DEFAULT,
        );
        let path = path.as_ref().to_path_buf();
        create_private_dir(&path)
            .map_err(|e| backend(&format!("creating {}", path.display()), e))?;
        let lock_path = path.join(LOCK_FILE_NAME);
        let lock = private_file_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| backend(&format!("opening {}", lock_path.display()), e))?;
        lock_waiting(&lock, &path, lock_wait_ms.min(STORE_LOCK_WAIT_MS_MAX))?;

        let flush_every_ms = match options.durability {
            Durability::Buffered => Some(BUFFERED_FLUSH_EVERY_MS),
            // Durable modes flush on every group commit; the background flusher only adds
            // competing I/O.
            Durability::Flush | Durability::Fsync => None,
        };
        // We hold caseledger.lock, so no other caseledger process has this store open. sled's
        // own file lock can still be held for a moment by a handle of THIS process that was
        // just dropped (sled's background threads release their reference asynchronously), so
        // a lock failure here is retried for a bounded time before it is reported as InUse.
        let mut waited_ms: u64 = 0;
        let db = loop {
            let opened = sled::Config::new()
                .path(&path)
                .flush_every_ms(flush_every_ms)
                .cache_capacity(cache_capacity_bytes)
                .open();
            match opened {
                Ok(db) => break db,
                Err(sled::Error::Io(ref io))
                    if io.to_string().contains("could not acquire lock") =>
                {
                    if waited_ms >= SLED_LOCK_WAIT_MS_MAX {
                        return Err(StoreError::InUse {
                            path: path.display().to_string(),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(SLED_LOCK_RETRY_MS));
                    waited_ms += SLED_LOCK_RETRY_MS;
                }
                Err(other) => {
                    return Err(backend(
                        &format!("opening sled at {}", path.display()),
                        other,
                    ))
                }
            }
        };
        let (log, layout) = check_layout(&db, &path)?;
        let upgrading = log
            .contains_key(META_UPGRADING_KEY)
            .map_err(|e| backend("reading meta", e))?;
        if layout == LAYOUT_V2 || upgrading {
            upgrade_from_layout_2(&db, &log)?;
        }
        let (sealed_through, unsealed) = seal_on_open(&log)?;
        db.flush()
            .map_err(|e| backend("flushing sealed records", e))?;

        let tip = match unsealed.last() {
            Some(bytes) => Tip::after(&decode_at(sealed_through + unsealed.len() as u64, bytes)?),
            None if sealed_through > 0 => {
                let record =
                    read_record_from(&log, sealed_through, &mut None)?.ok_or_else(|| {
                        StoreError::Corrupt {
                            position: sealed_through,
                            reason: "the last sealed record is missing from its block".into(),
                        }
                    })?;
                Tip::after(&record)
            }
            None => Tip::empty(),
        };
        let consumers = db
            .open_tree(TREE_CONSUMERS)
            .map_err(|e| backend(&format!("opening tree {TREE_CONSUMERS}"), e))?;
        let data_keys = db
            .open_tree(TREE_DATA_KEYS)
            .map_err(|e| backend(&format!("opening tree {TREE_DATA_KEYS}"), e))?;
        let keys_written = KeysWritten::at_open(&log)?;
        let (head, head_rx) = watch::channel(tip.head);
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            writer: Mutex::new(Writer {
                db: db.clone(),
                path: path.clone(),
                log: log.clone(),
                durability: options.durability,
                clock: options.clock,
                tip,
                head: head.clone(),
                counters: Arc::clone(&counters),
                versions: StreamVersions::default(),
                keys_written,
                sealed_through,
                unsealed,
                failed: None,
            }),
            queued: AtomicU64::new(0),
            appends_in_flight: AtomicU64::new(0),
        });
        let (requests, receiver) = std_mpsc::sync_channel(APPEND_QUEUE_DEPTH_MAX);
        let thread_shared = Arc::clone(&shared);
        let writer_thread = std::thread::Builder::new()
            .name("caseledger-writer".into())
            .spawn(move || run_writer_thread(&thread_shared, &receiver))
            .map_err(|e| backend("starting the writer thread", e))?;
        Ok(SledStore {
            path,
            db,
            log,
            head,
            head_rx,
            shared,
            requests: Some(requests),
            writer_thread: Some(writer_thread),
            counters,
            consumers,
            consumers_lock: Mutex::new(()),
            data_keys,
            keys_lock: Mutex::new(()),
            durability: options.durability,
            _lock: lock,
            read_only: None,
        })
    }
}
