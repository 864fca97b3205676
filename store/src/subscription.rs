//! Reading the global log as a stream: [`ReadAll`] (everything from position N, one bounded
//! page at a time) and [`Subscription`] (catch up, then follow live appends).
//!
//! Both read strictly by position — "give me the records from my next position on" — and
//! check that each record is exactly the next position, so they can never skip or repeat one
//! (design invariant 2), however busy the writers are. They only use the [`EventStore`] trait,
//! so every backend gets the same behaviour.

use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::Arc;

use tokio::sync::watch;

use std::future::Future;

use crate::consumer::{ConsumerName, DurableSubscription};
use crate::{EventStore, RecordedEvent, StoreError, READ_ALL_PAGE_EVENTS_MAX};

/// Take the next record from `buffer`, insisting it is exactly position `next`.
fn take_next(
    buffer: &mut VecDeque<RecordedEvent>,
    next: &mut u64,
) -> Option<Result<RecordedEvent, StoreError>> {
    let record = buffer.pop_front()?;
    if record.position != *next {
        buffer.clear();
        return Some(Err(StoreError::Corrupt {
            position: *next,
            reason: format!(
                "the log returned position {} where {} was expected (a gap or repeat)",
                record.position, *next
            ),
        }));
    }
    *next += 1;
    Some(Ok(record))
}

/// Pages through the global log from a position up to the head at the time of each read (or
/// up to a fixed last position, [`ReadAll::through`]), checking that every record is exactly
/// the next position. Memory is bounded by one page. It reads through any handle of a store:
/// an `Arc<dyn EventStore>` (the default), `&dyn EventStore` or `&S`.
///
/// It is the one reader of the global log: verify, export, read-model folds and scans all page
/// through it rather than calling `read_all` themselves.
pub struct ReadAll<H = Arc<dyn EventStore>> {
    store: H,
    next: u64,
    through: u64,
    page_events_max: u32,
    buffer: VecDeque<RecordedEvent>,
    done: bool,
}

impl<H> ReadAll<H>
where
    H: Deref,
    H::Target: EventStore,
{
    /// Read everything from `from_position` (0 and 1 both mean the start), in pages of
    /// `page_events_max` (capped at [`READ_ALL_PAGE_EVENTS_MAX`], at least 1).
    pub fn new(store: H, from_position: u64, page_events_max: u32) -> Self {
        ReadAll {
            store,
            next: from_position.max(1),
            through: u64::MAX,
            page_events_max: page_events_max.clamp(1, READ_ALL_PAGE_EVENTS_MAX),
            buffer: VecDeque::new(),
            done: false,
        }
    }

    /// Stop after position `last` (typically the head read before the walk): no page asks
    /// for more than is left up to it, and records after it are never returned.
    pub fn through(mut self, last: u64) -> Self {
        self.through = last;
        self
    }

    /// The position the next record will have.
    pub fn next_position(&self) -> u64 {
        self.next
    }

    /// The next page, or `None` once the head (or the `through` position) has been reached.
    pub async fn next_page(&mut self) -> Result<Option<Vec<RecordedEvent>>, StoreError> {
        let mut page = Vec::new();
        if self.buffer.is_empty() && !self.fill().await? {
            return Ok(None);
        }
        while let Some(record) = self.take() {
            page.push(record?);
        }
        Ok(Some(page))
    }

    /// The next record, or `None` once the head (or the `through` position) has been reached.
    pub async fn next(&mut self) -> Result<Option<RecordedEvent>, StoreError> {
        if self.buffer.is_empty() && !self.fill().await? {
            return Ok(None);
        }
        self.take().transpose()
    }

    /// The next buffered record, unless it lies beyond `through`.
    fn take(&mut self) -> Option<Result<RecordedEvent, StoreError>> {
        if self.next > self.through {
            self.buffer.clear();
            self.done = true;
            return None;
        }
        take_next(&mut self.buffer, &mut self.next)
    }

    async fn fill(&mut self) -> Result<bool, StoreError> {
        if self.done || self.next > self.through {
            self.done = true;
            return Ok(false);
        }
        let left = self.through - self.next + 1;
        let want = u32::try_from(left.min(u64::from(self.page_events_max)))
            .unwrap_or(self.page_events_max);
        let page = self.store.read_all(self.next, want).await?;
        if page.is_empty() {
            self.done = true;
            return Ok(false);
        }
        self.buffer.extend(page);
        Ok(true)
    }
}

/// Every record from a position on, in order, each exactly once: first the existing log
/// (through `read_all` pages), then live appends (woken by `watch_head`).
pub struct Subscription {
    store: Arc<dyn EventStore>,
    head: watch::Receiver<u64>,
    next: u64,
    buffer: VecDeque<RecordedEvent>,
}

impl Subscription {
    /// Subscribe from `from_position` (0 and 1 both mean the start of the log).
    pub fn new(store: Arc<dyn EventStore>, from_position: u64) -> Self {
        let head = store.watch_head();
        Subscription {
            store,
            head,
            next: from_position.max(1),
            buffer: VecDeque::new(),
        }
    }

    /// The position the next record will have.
    pub fn next_position(&self) -> u64 {
        self.next
    }

    /// Wait for and return the next record. Fails with [`StoreError::Closed`] when the store
    /// is closed.
    pub async fn next(&mut self) -> Result<RecordedEvent, StoreError> {
        loop {
            if let Some(record) = take_next(&mut self.buffer, &mut self.next) {
                return record;
            }
            // Mark the current head as seen *before* reading: any append published after this
            // line wakes `changed()` below, so no append can slip between read and wait.
            let head = *self.head.borrow_and_update();
            if head >= self.next {
                let page = self
                    .store
                    .read_all(self.next, READ_ALL_PAGE_EVENTS_MAX)
                    .await?;
                if page.is_empty() {
                    return Err(StoreError::Backend(format!(
                        "head is {head} but position {} cannot be read",
                        self.next
                    )));
                }
                self.buffer.extend(page);
                continue;
            }
            if self.head.changed().await.is_err() {
                return Err(StoreError::Closed);
            }
        }
    }
}

/// `subscribe` / `read_all_from` for any shared store; the same behaviour for every backend.
pub trait EventStoreExt {
    /// Catch up from `from_position`, then follow live appends.
    fn subscribe(&self, from_position: u64) -> Subscription;
    /// Page through the log from `from_position` to the head.
    fn read_all_from(&self, from_position: u64) -> ReadAll;
    /// Resume durable consumer `name` after its stored checkpoint (the start of the log for a
    /// new name); its checkpoint moves only through [`DurableSubscription::acknowledge`].
    fn subscribe_durable(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<DurableSubscription, StoreError>> + Send;
}

async fn open_durable(
    store: Arc<dyn EventStore>,
    name: &str,
) -> Result<DurableSubscription, StoreError> {
    DurableSubscription::open(store, ConsumerName::new(name)?).await
}

impl EventStoreExt for Arc<dyn EventStore> {
    fn subscribe(&self, from_position: u64) -> Subscription {
        Subscription::new(Arc::clone(self), from_position)
    }
    fn read_all_from(&self, from_position: u64) -> ReadAll {
        ReadAll::new(Arc::clone(self), from_position, READ_ALL_PAGE_EVENTS_MAX)
    }
    fn subscribe_durable(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<DurableSubscription, StoreError>> + Send {
        open_durable(Arc::clone(self), name)
    }
}

impl<S: EventStore> EventStoreExt for Arc<S> {
    fn subscribe(&self, from_position: u64) -> Subscription {
        Subscription::new(Arc::clone(self) as Arc<dyn EventStore>, from_position)
    }
    fn read_all_from(&self, from_position: u64) -> ReadAll {
        ReadAll::new(
            Arc::clone(self) as Arc<dyn EventStore>,
            from_position,
            READ_ALL_PAGE_EVENTS_MAX,
        )
    }
    fn subscribe_durable(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<DurableSubscription, StoreError>> + Send {
        open_durable(Arc::clone(self) as Arc<dyn EventStore>, name)
    }
}
