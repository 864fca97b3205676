//! Two writer PROCESSES append to one PostgreSQL log at the same time while a subscriber
//! follows it: no gaps, no repeats, commit order (invariant 2).
//!
//! Two watchers run during the writes:
//! - a `Subscription` (the generic one every backend uses), which must deliver 1, 2, 3, … ;
//! - a raw SQL poller that reads the committed positions straight from the table, below the
//!   store's API, and fails if it ever sees a position before all lower ones are visible (the
//!   Marten/Axon sequence bug: a later position committed and visible, an earlier one not yet).

mod postgres_support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use caseledger_store::{EventStore, EventStoreExt, RecordedEvent, SystemClock};
use postgres_support::{parse_acks, server, TestSchema, PG_WRITER};

/// Appends per task of each writer process (3 tasks each, 1–3 events per append).
const APPENDS_PER_TASK: u32 = 120;
/// Longest the writers may take before the test declares them stuck.
const WRITERS_WAIT_MAX: Duration = Duration::from_secs(90);
/// Longest the subscriber may wait for its next event while the log is still growing.
const SUBSCRIBER_STALL_MAX: Duration = Duration::from_secs(20);
/// Raw-poller reads are capped so the test is bounded even if the writers hang.
const RAW_POLLS_MAX: u32 = 200_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writer_processes_and_a_subscriber_see_gapless_commit_order() {
    let Some(url) = server().await else { return };
    let schema = TestSchema::new(&url);
    let store = Arc::new(schema.open_with_clock(Arc::new(SystemClock)).await);

    let children: Vec<_> = ["A", "B"]
        .iter()
        .map(|name| {
            Command::new(PG_WRITER)
                .args([&url, &schema.name, *name, &APPENDS_PER_TASK.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a writer process")
        })
        .collect();

    // Raw poller: positions visible in the table must always be exactly 1..=max.
    let raw_client = schema.client().await;
    let events_table = format!("{}.events", schema.name);
    let stop = Arc::new(AtomicBool::new(false));
    let stop_raw = stop.clone();
    let raw = tokio::spawn(async move {
        let mut seen = 0i64;
        let mut polls = 0u32;
        let mut distinct_heads = 0u32;
        let sql =
            format!("SELECT position FROM {events_table} WHERE position > $1 ORDER BY position");
        while polls < RAW_POLLS_MAX {
            polls += 1;
            let rows = raw_client.query(sql.as_str(), &[&seen]).await.unwrap();
            for row in &rows {
                let position: i64 = row.get(0);
                assert_eq!(
                    position,
                    seen + 1,
                    "position {position} was visible before position {}",
                    seen + 1
                );
                seen = position;
            }
            if !rows.is_empty() {
                distinct_heads += 1;
            }
            if stop_raw.load(Ordering::Relaxed) && rows.is_empty() {
                break;
            }
        }
        (seen, distinct_heads)
    });

    // Subscriber: the generic Subscription over this (third) instance.
    let sub_store: Arc<dyn EventStore> = store.clone();
    // It stops once it has delivered the final head, which it learns when the writers exit.
    let (final_head, mut final_head_rx) = tokio::sync::watch::channel(None::<u64>);
    let subscriber = tokio::spawn(async move {
        let mut subscription = sub_store.subscribe(1);
        let mut delivered: Vec<RecordedEvent> = Vec::new();
        loop {
            if let Some(target) = *final_head_rx.borrow_and_update() {
                if delivered.len() as u64 >= target {
                    break;
                }
            }
            tokio::select! {
                next = tokio::time::timeout(SUBSCRIBER_STALL_MAX, subscription.next()) => match next {
                    Ok(Ok(record)) => delivered.push(record),
                    Ok(Err(e)) => panic!("subscription failed: {e}"),
                    Err(_) => panic!("subscription delivered nothing for {SUBSCRIBER_STALL_MAX:?} after position {}", delivered.len()),
                },
                _ = final_head_rx.changed() => {}
            }
        }
        delivered
    });

    let started = Instant::now();
    let mut acks = Vec::new();
    for mut child in children {
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let out = child.wait_with_output().unwrap();
                assert!(
                    status.success(),
                    "writer failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                acks.extend(parse_acks(&String::from_utf8_lossy(&out.stdout)));
                break;
            }
            if started.elapsed() > WRITERS_WAIT_MAX {
                let _ = child.kill();
                panic!("writer processes did not finish within {WRITERS_WAIT_MAX:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let head = store.head().await.unwrap();
    final_head.send_replace(Some(head));
    let delivered = subscriber.await.unwrap();
    stop.store(true, Ordering::Relaxed);
    // A hole seen by the raw poller panics inside it; unwrap carries that panic here.
    let (raw_seen, raw_reads) = raw.await.unwrap();
    assert_eq!(raw_seen as u64, head, "the raw poller saw every position");
    println!("raw poller: {raw_reads} reads that saw new positions");

    // Every append of both processes was acknowledged and counted.
    assert_eq!(acks.len() as u32, 2 * 3 * APPENDS_PER_TASK);
    let acked_events: u64 = acks.iter().map(|a| a.event_ids.len() as u64).sum();
    assert_eq!(head, acked_events, "head = number of acknowledged events");

    // The subscriber got 1..=head, each once, in order.
    let positions: Vec<u64> = delivered.iter().map(|r| r.position).collect();
    assert_eq!(positions, (1..=head).collect::<Vec<_>>());

    // Each acknowledged event is where its ack says, with its id; streams are gapless.
    let by_position: BTreeMap<u64, &RecordedEvent> =
        delivered.iter().map(|r| (r.position, r)).collect();
    for ack in &acks {
        for (offset, id) in (0..).zip(&ack.event_ids) {
            let record = by_position[&(ack.first_position + offset)];
            assert_eq!(record.event_id, *id);
            assert_eq!(record.stream_id, ack.stream);
        }
        assert_eq!(
            by_position[&ack.last_position].stream_version,
            ack.stream_version
        );
    }
    // Both processes' events are interleaved in the log (they really ran at once), shown
    // by the position ranges overlapping; printed, not asserted, as scheduling may vary.
    let range = |writer: &str| {
        let mine: Vec<u64> = acks
            .iter()
            .filter(|a| a.stream.starts_with(&format!("PG-{writer}-")))
            .map(|a| a.first_position)
            .collect();
        (
            mine.iter().min().copied().unwrap_or(0),
            mine.iter().max().copied().unwrap_or(0),
        )
    };
    println!(
        "writer A positions {:?}, writer B positions {:?}, head {head}",
        range("A"),
        range("B")
    );
    let report = store.verify(1, None).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records_checked, head);
}
