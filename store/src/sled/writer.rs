//! The single writer: position assignment, group commit, and the thread appends queue to.

use super::*;

/// Most streams whose last index chunk (and so committed version) the writer keeps in memory.
/// A chunk is at most 256 bytes, so the cache stays under ~25 MiB; when it is full it is
/// emptied and refilled from the stream index on demand.
pub const STREAM_VERSIONS_CACHED_MAX: usize = 65_536;

/// The last index chunk of a stream (first version, positions); `None` for a stream with no
/// events.
pub(super) type LastChunk = Option<(u64, Vec<u64>)>;

/// Committed last index chunks, so deciding an append, and rewriting the chunk it extends,
/// do not read sled for streams written recently. Only the writer writes the log, so a cached
/// chunk is the committed one.
#[derive(Default)]
pub(super) struct StreamVersions(pub(super) BTreeMap<String, LastChunk>);

impl StreamVersions {
    pub(super) fn insert(&mut self, stream: &str, last: LastChunk) {
        if self.0.len() >= STREAM_VERSIONS_CACHED_MAX && !self.0.contains_key(stream) {
            self.0.clear();
        }
        self.0.insert(stream.to_owned(), last);
        assert!(self.0.len() <= STREAM_VERSIONS_CACHED_MAX);
    }

    pub(super) fn version(&self, stream: &str) -> Option<u64> {
        self.0.get(stream).map(version_of_last_chunk)
    }
}

/// The version of the last position in a stream's last chunk (0 for no chunk).
pub(super) fn version_of_last_chunk(last: &LastChunk) -> u64 {
    last.as_ref()
        .map_or(0, |(first, positions)| first + positions.len() as u64 - 1)
}

pub(super) struct SledLookup<'a> {
    pub(super) log: &'a sled::Tree,
    pub(super) versions: &'a mut StreamVersions,
    pub(super) keys_written: &'a KeysWritten,
}

/// The idempotency keys in the store, as far as the writer can vouch for them: when the
/// index was empty at open, every key since was written by this writer and is in the filter,
/// so a key the filter has never seen is not in the index and needs no lookup. Otherwise
/// (`Unknown`) every key is looked up.
pub(super) enum KeysWritten {
    AllSinceEmpty(KeyFilter),
    Unknown,
}

impl KeysWritten {
    /// For a store whose log tree is `log`: complete when its idempotency index is empty.
    pub(super) fn at_open(log: &sled::Tree) -> Result<KeysWritten, StoreError> {
        let first_key = log
            .scan_prefix([KEY_PREFIX_IDEMPOTENCY])
            .keys()
            .next()
            .transpose()
            .map_err(|e| backend("reading the idempotency index", e))?;
        Ok(match first_key {
            None => KeysWritten::AllSinceEmpty(KeyFilter::new(KEY_FILTER_BITS_LOG2_WRITER)),
            Some(_) => KeysWritten::Unknown,
        })
    }

    /// False when `key` is certainly not in the index.
    fn may_be_written(&self, key: &Uuid) -> bool {
        match self {
            KeysWritten::AllSinceEmpty(filter) => filter.may_contain(key),
            KeysWritten::Unknown => true,
        }
    }

    fn insert(&mut self, key: &Uuid) {
        if let KeysWritten::AllSinceEmpty(filter) = self {
            filter.insert(key);
        }
    }
}

impl Lookup for SledLookup<'_> {
    fn stream_version(&mut self, stream: &str) -> Result<u64, StoreError> {
        if let Some(version) = self.versions.version(stream) {
            return Ok(version);
        }
        let last = last_chunk(self.log, stream)?;
        let version = version_of_last_chunk(&last);
        self.versions.insert(stream, last);
        Ok(version)
    }
    fn idempotency(&mut self, key: &Uuid) -> Result<Option<IdempotencyEntry>, StoreError> {
        if !self.keys_written.may_be_written(key) {
            return Ok(None);
        }
        match self
            .log
            .get(idempotency_key(key))
            .map_err(|e| backend("reading idempotency index", e))?
        {
            Some(bytes) => decode_idempotency(&bytes).map(Some),
            None => Ok(None),
        }
    }
}

/// Add to `writes` one block per full block of `records` (consecutive records, the first at
/// position `first`) and return how many records the blocks hold; the rest stay unsealed.
pub(super) fn insert_full_blocks(writes: &mut sled::Batch, first: u64, records: &[&[u8]]) -> usize {
    let mut at = 0usize;
    for n in full_blocks(records.iter().map(|r| r.len())) {
        writes.insert(
            &block_key(first + at as u64)[..],
            encode_block(&records[at..at + n]),
        );
        at += n;
    }
    at
}

/// True when the caller runs on a multi-threaded tokio runtime, where committing inline
/// blocks one worker while the others keep queueing (module doc).
pub(super) fn inline_commit_allowed() -> bool {
    matches!(
        tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()),
        Ok(tokio::runtime::RuntimeFlavor::MultiThread)
    )
}

impl SledStore {
    pub(super) fn send(&self, request: Request) -> Result<(), StoreError> {
        let requests = self.requests.as_ref().ok_or(StoreError::Closed)?;
        // Count before sending so the writer thread never decrements below zero.
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        requests.try_send(request).map_err(|e| {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            match e {
                std_mpsc::TrySendError::Full(_) => StoreError::QueueFull {
                    depth_max: APPEND_QUEUE_DEPTH_MAX,
                },
                std_mpsc::TrySendError::Disconnected(_) => StoreError::Closed,
            }
        })
    }

    /// Commit `append` on the calling thread if it is the only append in flight and nobody is
    /// writing or queued; `Err` hands the append back to be queued.
    pub(super) fn try_commit_inline(
        &self,
        append: Append,
        alone: bool,
    ) -> Result<Result<AppendResult, StoreError>, Box<Append>> {
        if !alone || self.shared.queued.load(Ordering::Acquire) != 0 || !inline_commit_allowed() {
            return Err(Box::new(append));
        }
        let mut writer = match self.shared.writer.try_lock() {
            Ok(writer) => writer,
            Err(TryLockError::WouldBlock) => return Err(Box::new(append)),
            Err(TryLockError::Poisoned(_)) => return Ok(Err(writer_panicked())),
        };
        let batches_before = self.counters.batches.load(Ordering::Relaxed);
        let mut answers = writer.commit(vec![append]);
        assert_eq!(answers.len(), 1, "one answer per append");
        if self.counters.batches.load(Ordering::Relaxed) != batches_before {
            self.counters.inline_batches.fetch_add(1, Ordering::Relaxed);
        }
        Ok(answers.remove(0))
    }
}

pub(super) fn writer_panicked() -> StoreError {
    StoreError::Backend(
        "the writer stopped after an internal error (a broken invariant); reopen the store".into(),
    )
}

/// Who waits for which answers of one commit: one append, or a group's consecutive appends.
enum Reply {
    One(oneshot::Sender<Answer>),
    Group(oneshot::Sender<Vec<Answer>>, usize),
}

/// The writer thread: wait for a request, then take the writer and drain everything queued
/// into one group commit (a group request is taken whole). Exits when the store closes the
/// channel (drop).
pub(super) fn run_writer_thread(shared: &Shared, receiver: &std_mpsc::Receiver<Request>) {
    while let Ok(first) = receiver.recv() {
        // Waiting for the lock (an inline commit in progress) lets more requests queue up,
        // so take the lock before draining.
        let mut writer = lock_writer(shared);
        let mut appends: Vec<Append> = Vec::new();
        let mut replies = Vec::new();
        let mut flushes = Vec::new();
        let mut taken: u64 = 0;
        let mut events = 0usize;
        let mut next = Some(first);
        while let Some(request) = next.take() {
            taken += 1;
            match request {
                Request::Append(append, reply) => {
                    events += append.events.len();
                    appends.push(append);
                    replies.push(Reply::One(reply));
                }
                Request::Group(group, reply) => {
                    // `after` indices are the group's; in the commit they follow its offset.
                    let offset = appends.len();
                    replies.push(Reply::Group(reply, group.len()));
                    for mut append in group {
                        events += append.events.len();
                        append.after = append.after.map(|(_, i)| (offset + i, i));
                        appends.push(append);
                    }
                }
                Request::Flush(reply) => flushes.push(reply),
            }
            if appends.len() < BATCH_APPENDS_MAX && events < BATCH_EVENTS_MAX {
                next = receiver.try_recv().ok();
            }
        }
        let before = shared.queued.fetch_sub(taken, Ordering::AcqRel);
        assert!(before >= taken, "queued count {before} < taken {taken}");
        let answers = match writer.as_mut() {
            Some(writer) => writer.commit(appends),
            None => appends.iter().map(|_| Err(writer_panicked())).collect(),
        };
        let flushed: Vec<_> = flushes
            .iter()
            .map(|_| match writer.as_ref() {
                Some(writer) => writer.flush(Durability::Flush),
                None => Err(writer_panicked()),
            })
            .collect();
        drop(writer);
        let mut answers = answers.into_iter();
        for reply in replies {
            // A caller that gave up (dropped its future) does not undo the commit.
            match reply {
                Reply::One(reply) => {
                    let answer = answers.next().expect("one answer per append");
                    let _ = reply.send(answer);
                }
                Reply::Group(reply, count) => {
                    let group: Vec<Answer> = answers.by_ref().take(count).collect();
                    assert_eq!(group.len(), count, "one answer per append of a group");
                    let _ = reply.send(group);
                }
            }
        }
        assert!(answers.next().is_none(), "one answer per append");
        for (reply, answer) in flushes.into_iter().zip(flushed) {
            let _ = reply.send(answer);
        }
    }
    // Queue closed: the store is being dropped. Make buffered appends durable.
    if let Some(writer) = lock_writer(shared).as_ref() {
        let _ = writer.flush(Durability::Flush);
    }
}

/// The writer, or `None` if a commit panicked while holding it (a broken internal
/// invariant): its state can no longer be trusted, so every later append is refused.
pub(super) fn lock_writer(shared: &Shared) -> Option<MutexGuard<'_, Writer>> {
    shared.writer.lock().ok()
}

/// The single owner of position assignment.
pub(super) struct Writer {
    pub(super) db: sled::Db,
    pub(super) path: PathBuf,
    pub(super) log: sled::Tree,
    pub(super) durability: Durability,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) tip: Tip,
    pub(super) head: watch::Sender<u64>,
    pub(super) counters: Arc<Counters>,
    pub(super) versions: StreamVersions,
    /// The idempotency keys written, when the writer has seen them all.
    pub(super) keys_written: KeysWritten,
    /// The last position sealed into a block; the records after it are `unsealed`.
    pub(super) sealed_through: u64,
    /// The stored bytes of the records `sealed_through + 1 ..= head`, fewer than one full
    /// block (at most `BLOCK_RECORDS_MAX - 1` records): kept so sealing them needs no read.
    pub(super) unsealed: Vec<Vec<u8>>,
    /// Set when a commit's outcome is unknown (the batch or the flush failed): from then on
    /// the writer refuses everything, because it can no longer say what is on disk. Reopen
    /// to recover.
    pub(super) failed: Option<String>,
}

impl Writer {
    pub(super) fn flush(&self, durability: Durability) -> Result<(), StoreError> {
        self.db.flush().map_err(|e| backend("sled flush", e))?;
        if durability == Durability::Fsync {
            fsync_tree(&self.path).map_err(|e| backend("fsync of the store directory", e))?;
        }
        Ok(())
    }

    /// Decide and commit `appends` as one group commit; one answer per append, in order.
    pub(super) fn commit(&mut self, appends: Vec<Append>) -> Vec<Result<AppendResult, StoreError>> {
        if let Some(reason) = &self.failed {
            return appends
                .iter()
                .map(|_| {
                    Err(StoreError::Backend(format!(
                        "the store stopped accepting writes after an earlier failure ({reason}); reopen it"
                    )))
                })
                .collect();
        }
        let mut batch = Batch::begin(self.tip.clone(), self.clock.now_us());
        let mut lookup = SledLookup {
            log: &self.log,
            versions: &mut self.versions,
            keys_written: &self.keys_written,
        };
        let mut answers: Vec<Answer> = Vec::with_capacity(appends.len());
        for a in appends {
            let refused = a.refused.map(|e| *e).or_else(|| {
                a.after.and_then(|(at, index)| {
                    crate::not_written_before(&a.stream, index, answers.get(at))
                })
            });
            answers.push(match refused {
                Some(refused) => Err(refused),
                None => batch.decide(
                    &mut lookup,
                    &a.stream,
                    a.expected,
                    a.events,
                    a.idempotency_key,
                ),
            });
        }
        self.counters
            .appends
            .fetch_add(answers.len() as u64, Ordering::Relaxed);
        if batch.is_empty() {
            return answers;
        }
        if let Err(e) = self.write(&batch) {
            // Nothing of this batch is acknowledged; the writer is stopped (`failed`) because
            // the batch may or may not be on disk.
            return answers
                .into_iter()
                .map(|answer| match answer {
                    Ok(_) => Err(e.clone()),
                    refused => refused,
                })
                .collect();
        }
        let events = batch.records().len() as u64;
        assert_eq!(
            batch.tip().head,
            self.tip.head + events,
            "positions are gapless"
        );
        self.tip = batch.tip().clone();
        // (`write` has put each written stream's new last chunk in `versions`.)
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters.events.fetch_add(events, Ordering::Relaxed);
        // Publish only now: in the durable modes the batch is flushed, so no reader ever sees
        // an event a crash could take back.
        self.head.send_replace(self.tip.head);
        answers
    }

    /// ONE atomic sled batch (records, the blocks they fill, stream index chunks,
    /// idempotency) and, in the durable modes, ONE flush.
    pub(super) fn write(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let mut writes = sled::Batch::default();
        assert_eq!(batch.records().len(), batch.encoded().len());
        let first_unsealed = self.sealed_through + 1;
        if let Some(first) = batch.records().first() {
            assert_eq!(
                first.position,
                first_unsealed + self.unsealed.len() as u64,
                "the batch follows the unsealed records"
            );
        }
        // The unsealed records and this batch's, packed into full blocks from the first
        // unsealed position; what does not fill a block is stored under its own key.
        let unsealed: Vec<&[u8]> = self
            .unsealed
            .iter()
            .chain(batch.encoded())
            .map(Vec::as_slice)
            .collect();
        let sealed = insert_full_blocks(&mut writes, first_unsealed, &unsealed);
        let stored_before = self.unsealed.len();
        for (i, bytes) in unsealed.iter().enumerate() {
            let key = record_key(first_unsealed + i as u64);
            match (i < sealed, i < stored_before) {
                // Stored under its own key by an earlier commit, now in a block.
                (true, true) => writes.remove(&key[..]),
                // New and not in a full block yet.
                (false, false) => writes.insert(&key[..], *bytes),
                // New and sealed straight into a block, or stored and still unsealed.
                _ => {}
            }
        }
        let still_unsealed: Vec<Vec<u8>> = unsealed[sealed..].iter().map(|r| r.to_vec()).collect();
        // Stream index: each stream's new entries extend its last chunk.
        let mut per_stream: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
        for (stream, version, position) in batch.index() {
            per_stream
                .entry(stream.as_str())
                .or_default()
                .push((*version, *position));
        }
        let mut last_chunks: Vec<(&str, LastChunk)> = Vec::with_capacity(per_stream.len());
        for (stream, entries) in per_stream {
            let last = match self.versions.0.get(stream) {
                Some(cached) => cached.clone(),
                None => last_chunk(&self.log, stream)?,
            };
            let chunks = extend_chunks(last, &entries);
            for (first, positions) in &chunks {
                writes.insert(stream_index_key(stream, *first), encode_chunk(positions));
            }
            last_chunks.push((stream, chunks.into_iter().next_back()));
        }
        for (key, entry) in batch.keys() {
            writes.insert(&idempotency_key(key)[..], encode_idempotency(entry)?);
        }
        let outcome = self
            .log
            .apply_batch(writes)
            .map_err(|e| backend("committing a batch", e))
            .and_then(|()| match self.durability {
                Durability::Buffered => Ok(()),
                durable => self.flush(durable),
            });
        match &outcome {
            Ok(()) => {
                self.sealed_through += sealed as u64;
                self.unsealed = still_unsealed;
                for (stream, last) in last_chunks {
                    self.versions.insert(stream, last);
                }
                for key in batch.keys().keys() {
                    self.keys_written.insert(key);
                }
            }
            Err(e) => self.failed = Some(e.to_string()),
        }
        outcome
    }
}
