//! The outbox relay: every publishable event of the log, as an HMPPS domain event
//! ([`crate::domain_event`]), to a NATS JetStream stream (feature `relay`, async-nats).
//!
//! A shell over the store (design.md "Shells"): it reads through the durable consumer
//! `relay.nats` ([`caseledger_store::consumer`]) and decides nothing. What it keeps:
//! - **The checkpoint never runs ahead of the broker.** Publishes are pipelined (at most
//!   `in_flight_max`), their acknowledgements awaited in log order, and the consumer
//!   acknowledged only over the prefix the broker has acknowledged.
//! - **Exactly once, in log order.** Each message carries `Nats-Msg-Id` = the event id (the
//!   stream drops a re-send within its duplicate window), `Caseledger-Position` = the event's
//!   position, and `Nats-Expected-Last-Sequence` = the stream sequence of the message before
//!   it: if one message of a pipeline is lost (a broker restart, a dropped connection), every
//!   later one is refused by the stream instead of being stored out of order. A new session
//!   starts after the position in the stream's last message, so what the broker stored but a
//!   killed relay never acknowledged is not sent again, whatever the duplicate window.
//! - **Retries.** A NATS failure ends the session — a dropped connection at once, not after
//!   the acknowledgement timeout; the relay reconnects with a growing pause
//!   and gives up after `retry_ms_max` without progress. Store and mapping errors are not
//!   retried.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, context::PublishAckFuture, stream};
use async_nats::HeaderMap;
use caseledger_store::{DurableSubscription, EventStore, EventStoreExt, RecordedEvent, StoreError};
use tokio::sync::watch;

use crate::domain_event::{domain_event, DetailBaseUrl, DomainEventError};

/// Stream created when none exists.
pub const STREAM_DEFAULT: &str = "CASELEDGER_DOMAIN_EVENTS";
/// Subjects are `<prefix>.<eventType>`.
pub const SUBJECT_PREFIX_DEFAULT: &str = "caseledger";
/// The durable consumer the relay acknowledges under.
pub const CONSUMER_DEFAULT: &str = "relay.nats";
/// Publishes awaiting the broker's acknowledgement at once, by default.
pub const IN_FLIGHT_MAX_DEFAULT: usize = 1_024;
/// Most publishes in flight that may be asked for (async-nats holds 5,000 ack slots).
pub const IN_FLIGHT_MAX_MAX: usize = 4_096;
/// The stream's duplicate window when the relay creates it.
pub const DUPLICATE_WINDOW_S: u64 = 120;
/// How long one publish acknowledgement may take before the session is ended.
pub const ACK_TIMEOUT_MS: u64 = 5_000;
/// How long the relay keeps retrying without publishing anything, by default.
pub const RETRY_MS_MAX_DEFAULT: u64 = 60_000;
/// Longest pause between two attempts.
const RETRY_PAUSE_MS_MAX: u64 = 2_000;
/// Header carrying the event's position in the log.
pub const POSITION_HEADER: &str = "Caseledger-Position";
/// Longest stream name and subject prefix, in bytes.
pub const NAME_BYTES_MAX: usize = 64;

/// What the relay publishes where.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    pub nats_url: String,
    pub stream: String,
    pub subject_prefix: String,
    pub consumer: String,
    pub detail_base: DetailBaseUrl,
    /// Keep following the log after catching up, until shut down.
    pub follow: bool,
    pub in_flight_max: usize,
    pub retry_ms_max: u64,
}

impl RelayConfig {
    /// Defaults for everything but the server and the base of `detailUrl`.
    pub fn new(nats_url: &str, detail_base: DetailBaseUrl) -> RelayConfig {
        RelayConfig {
            nats_url: nats_url.to_owned(),
            stream: STREAM_DEFAULT.to_owned(),
            subject_prefix: SUBJECT_PREFIX_DEFAULT.to_owned(),
            consumer: CONSUMER_DEFAULT.to_owned(),
            detail_base,
            follow: false,
            in_flight_max: IN_FLIGHT_MAX_DEFAULT,
            retry_ms_max: RETRY_MS_MAX_DEFAULT,
        }
    }

    /// Check the names before anything connects.
    pub fn validate(&self) -> Result<(), RelayError> {
        let token = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if self.stream.is_empty()
            || self.stream.len() > NAME_BYTES_MAX
            || !self.stream.chars().all(token)
        {
            return Err(RelayError::BadArgument(format!(
                "--stream {:?}: 1-{NAME_BYTES_MAX} ASCII letters, digits, _ or -",
                self.stream
            )));
        }
        if self.subject_prefix.is_empty()
            || self.subject_prefix.len() > NAME_BYTES_MAX
            || self
                .subject_prefix
                .split('.')
                .any(|t| t.is_empty() || !t.chars().all(token))
        {
            return Err(RelayError::BadArgument(format!(
                "--subject-prefix {:?}: dot-separated tokens of ASCII letters, digits, _ or - \
                 (no wildcards), at most {NAME_BYTES_MAX} bytes",
                self.subject_prefix
            )));
        }
        if !(1..=IN_FLIGHT_MAX_MAX).contains(&self.in_flight_max) {
            return Err(RelayError::BadArgument(format!(
                "--in-flight {}: between 1 and {IN_FLIGHT_MAX_MAX}",
                self.in_flight_max
            )));
        }
        caseledger_store::ConsumerName::new(self.consumer.as_str())
            .map_err(|e| RelayError::BadArgument(format!("--consumer: {e}")))?;
        Ok(())
    }
}

/// What a run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayReport {
    /// Messages the broker acknowledged as newly stored.
    pub published: u64,
    /// Messages the broker acknowledged as duplicates (already stored).
    pub duplicates: u64,
    /// Records passed over: refusals, withheld types.
    pub withheld: u64,
    /// Records found already in the stream at the start of a session (published by a run
    /// that stopped before acknowledging them).
    pub found_in_stream: u64,
    /// The consumer's checkpoint at the end.
    pub checkpoint: u64,
}

#[derive(thiserror::Error, Debug)]
pub enum RelayError {
    #[error("{0}")]
    BadArgument(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    DomainEvent(#[from] DomainEventError),
    #[error("NATS: {0}")]
    Nats(String),
    #[error("stream {stream}: {reason}; give the relay a stream of its own (--stream)")]
    ForeignStream { stream: String, reason: String },
    #[error("gave up after {waited_ms} ms without publishing: {last}")]
    GaveUp { waited_ms: u64, last: String },
}

impl RelayError {
    /// Worth reconnecting for: the broker or the connection, not the log or the arguments.
    fn is_retryable(&self) -> bool {
        matches!(self, RelayError::Nats(_))
    }
}

fn nats(doing: &str) -> impl Fn(&dyn std::fmt::Display) -> RelayError + '_ {
    move |e| RelayError::Nats(format!("{doing}: {e}"))
}

/// Publish until caught up with the head seen at the start (or, with `follow`, until
/// `shutdown` turns true). `on_error` hears each failure that will be retried.
pub async fn run(
    store: Arc<dyn EventStore>,
    config: &RelayConfig,
    mut shutdown: watch::Receiver<bool>,
    on_error: &mut (dyn FnMut(&RelayError) + Send),
) -> Result<RelayReport, RelayError> {
    config.validate()?;
    let target = if config.follow {
        None
    } else {
        Some(store.head().await?)
    };
    let mut report = RelayReport::default();
    let mut pause_ms = 50;
    let mut last_progress = Instant::now();
    loop {
        let before = report.checkpoint;
        match session(&store, config, target, &mut report, &mut shutdown).await {
            Ok(()) => return Ok(report),
            Err(e) if e.is_retryable() => {
                if report.checkpoint > before {
                    last_progress = Instant::now();
                    pause_ms = 50;
                }
                let waited_ms = last_progress.elapsed().as_millis() as u64;
                if waited_ms >= config.retry_ms_max {
                    return Err(RelayError::GaveUp {
                        waited_ms,
                        last: e.to_string(),
                    });
                }
                on_error(&e);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(pause_ms)) => {}
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    return Ok(report);
                }
                pause_ms = (pause_ms * 2).min(RETRY_PAUSE_MS_MAX);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The stream, created with the documented settings when missing; one that does not take
/// our subjects is refused.
async fn ensure_stream(
    js: &jetstream::Context,
    config: &RelayConfig,
) -> Result<stream::Stream, RelayError> {
    let subjects = format!("{}.>", config.subject_prefix);
    let mut stream = js
        .get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            subjects: vec![subjects.clone()],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            discard: stream::DiscardPolicy::Old,
            duplicate_window: Duration::from_secs(DUPLICATE_WINDOW_S),
            num_replicas: 1,
            ..Default::default()
        })
        .await
        .map_err(|e| nats("get or create the stream")(&e))?;
    let info = stream
        .info()
        .await
        .map_err(|e| nats("read the stream")(&e))?;
    if !info.config.subjects.contains(&subjects) {
        return Err(RelayError::ForeignStream {
            stream: config.stream.clone(),
            reason: format!(
                "it takes subjects {:?}, not {subjects}",
                info.config.subjects
            ),
        });
    }
    Ok(stream)
}

/// The stream's last sequence and the log position its last message carries (0 when empty).
async fn stream_tail(
    stream: &mut stream::Stream,
    name: &str,
    head: u64,
) -> Result<(u64, u64), RelayError> {
    let state = stream
        .info()
        .await
        .map_err(|e| nats("read the stream")(&e))?
        .state
        .clone();
    if state.messages == 0 {
        return Ok((state.last_sequence, 0));
    }
    let last = stream
        .get_raw_message(state.last_sequence)
        .await
        .map_err(|e| nats("read the stream's last message")(&e))?;
    let foreign = |reason: String| RelayError::ForeignStream {
        stream: name.to_owned(),
        reason,
    };
    let position = last
        .headers
        .get(POSITION_HEADER)
        .and_then(|v| v.as_str().parse::<u64>().ok())
        .ok_or_else(|| {
            foreign(format!(
                "its last message (sequence {}) has no {POSITION_HEADER} header",
                state.last_sequence
            ))
        })?;
    if position > head {
        return Err(foreign(format!(
            "its last message is position {position} but this log's head is {head}: it was \
             filled from another log"
        )));
    }
    Ok((state.last_sequence, position))
}

/// One publish awaiting its acknowledgement, or a record passed over, in log order.
struct Pending {
    position: u64,
    ack: Option<(PublishAckFuture, u64)>,
}

/// One connection's worth of publishing.
async fn session(
    store: &Arc<dyn EventStore>,
    config: &RelayConfig,
    target: Option<u64>,
    report: &mut RelayReport,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), RelayError> {
    // Set when the connection drops: what is in flight then is not waited for until the
    // acknowledgement timeout (a reply sent on the old connection never arrives).
    let (lost_tx, mut lost) = watch::channel(false);
    let lost_tx = Arc::new(lost_tx);
    let client = async_nats::ConnectOptions::new()
        .event_callback(move |event| {
            let lost_tx = lost_tx.clone();
            async move {
                if matches!(event, async_nats::Event::Disconnected) {
                    lost_tx.send_replace(true);
                }
            }
        })
        .connect(config.nats_url.as_str())
        .await
        .map_err(|e| match e.kind() {
            async_nats::ConnectErrorKind::ServerParse => {
                RelayError::BadArgument(format!("--nats {:?}: {e}", config.nats_url))
            }
            _ => nats(&format!("connect to {}", config.nats_url))(&e),
        })?;
    let mut js = jetstream::new(client);
    js.set_timeout(Duration::from_millis(ACK_TIMEOUT_MS));
    let mut stream = ensure_stream(&js, config).await?;
    let head = store.head().await?;
    let (mut last_sequence, stored_through) =
        stream_tail(&mut stream, &config.stream, head).await?;
    let mut subscription = store.subscribe_durable(&config.consumer).await?;
    report.checkpoint = subscription.acknowledged();
    // What a killed run published but never acknowledged is already in the stream.
    if stored_through > subscription.acknowledged() {
        while subscription.next_position() <= stored_through {
            subscription.next().await?;
            report.found_in_stream += 1;
        }
        subscription.acknowledge(stored_through).await?;
        report.checkpoint = stored_through;
    }
    let mut pending: VecDeque<Pending> = VecDeque::with_capacity(config.in_flight_max);
    loop {
        if target.is_some_and(|t| subscription.next_position() > t) {
            return Ok(());
        }
        if *shutdown.borrow() {
            return Ok(());
        }
        let available = *store.watch_head().borrow();
        if subscription.next_position() > available {
            // Caught up: wait for the next append (only with --follow; without, the target
            // is at most the head, so this is not reached).
            let record = tokio::select! {
                record = subscription.next() => record?,
                _ = shutdown.changed() => continue,
            };
            publish(&js, config, &record, &mut last_sequence, &mut pending).await?;
        }
        let last = target.unwrap_or(u64::MAX).min(*store.watch_head().borrow());
        while pending.len() < config.in_flight_max && subscription.next_position() <= last {
            let record = subscription.next().await?;
            publish(&js, config, &record, &mut last_sequence, &mut pending).await?;
        }
        settle(&mut subscription, &mut pending, report, &mut lost).await?;
    }
}

/// Send `record` (if publishable) expecting the stream to be at `last_sequence`.
async fn publish(
    js: &jetstream::Context,
    config: &RelayConfig,
    record: &RecordedEvent,
    last_sequence: &mut u64,
    pending: &mut VecDeque<Pending>,
) -> Result<(), RelayError> {
    let Some(event) = domain_event(record, &config.detail_base)? else {
        pending.push_back(Pending {
            position: record.position,
            ack: None,
        });
        return Ok(());
    };
    let payload = serde_json::to_vec(&event)
        .map_err(|e| RelayError::BadArgument(format!("encoding a domain event: {e}")))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        record.event_id.to_string().as_str(),
    );
    headers.insert(
        async_nats::header::NATS_EXPECTED_LAST_SEQUENCE,
        last_sequence.to_string().as_str(),
    );
    headers.insert(POSITION_HEADER, record.position.to_string().as_str());
    let subject = format!("{}.{}", config.subject_prefix, event.event_type);
    let ack = js
        .publish_with_headers(subject, headers, payload.into())
        .await
        .map_err(|e| nats("publish")(&e))?;
    *last_sequence += 1;
    pending.push_back(Pending {
        position: record.position,
        ack: Some((ack, *last_sequence)),
    });
    Ok(())
}

/// Await every pending acknowledgement in order and acknowledge the consumer over the prefix
/// the broker acknowledged — also when a later one failed.
async fn settle(
    subscription: &mut DurableSubscription,
    pending: &mut VecDeque<Pending>,
    report: &mut RelayReport,
    lost: &mut watch::Receiver<bool>,
) -> Result<(), RelayError> {
    let mut acked_through = None;
    let mut failure = None;
    while let Some(p) = pending.pop_front() {
        match p.ack {
            None => report.withheld += 1,
            Some((ack, sequence)) => match acknowledgement(ack, lost).await {
                Ok(ack) if ack.duplicate => report.duplicates += 1,
                Ok(ack) if ack.sequence == sequence => report.published += 1,
                Ok(ack) => {
                    failure = Some(RelayError::Nats(format!(
                        "position {} was stored at stream sequence {} where {sequence} was \
                         expected",
                        p.position, ack.sequence
                    )));
                    break;
                }
                Err(e) => {
                    failure =
                        Some(nats(&format!("acknowledgement of position {}", p.position))(&e));
                    break;
                }
            },
        }
        acked_through = Some(p.position);
    }
    pending.clear();
    if let Some(position) = acked_through {
        subscription.acknowledge(position).await?;
        report.checkpoint = position;
    }
    failure.map_or(Ok(()), Err)
}

/// The broker's answer to one publish, or why there is none: its error, the timeout, or the
/// connection dropping before it came (an answer already received is taken first).
async fn acknowledgement(
    ack: PublishAckFuture,
    lost: &mut watch::Receiver<bool>,
) -> Result<jetstream::publish::PublishAck, String> {
    tokio::select! {
        biased;
        answer = ack => answer.map_err(|e| e.to_string()),
        _ = lost.wait_for(|lost| *lost) => Err("the connection dropped before it came".into()),
    }
}
