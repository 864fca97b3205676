//! The store crash test against PostgreSQL: SIGKILL a real writer process at random moments,
//! at least [`ROUNDS_MIN`] times, and after each kill check that every acknowledged event is
//! stored at its acknowledged position, positions are still gapless, and the chain verifies
//! (invariant 4). Every round's writer continues the same streams with exact expected
//! versions, so a killed transaction that left anything behind would also break the next one.

mod crash_support;
mod postgres_support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crash_support::{run_and_kill, seed, Rng};

use caseledger_store::{EventStore, StreamId};
use postgres_support::{parse_acks, server, Ack, TestSchema, PG_WRITER};
use uuid::Uuid;

const ROUNDS_MIN: u32 = 20;
const ROUNDS_MAX: u32 = 30;
/// The test stops starting new rounds after this long (it still needs ROUNDS_MIN).
const TEST_BUDGET: Duration = Duration::from_secs(20);
/// Longest a child runs after its first acknowledgement before it is killed, in ms.
const KILL_AFTER_MS_MAX: u64 = 150;
/// Longest to wait for a child's first acknowledgement.
const FIRST_ACK_WAIT_MAX: Duration = Duration::from_secs(15);
/// Appends per task the child would make if never killed (its own safety net).
const CHILD_APPENDS_PER_TASK: &str = "20000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_sigkill_of_a_postgres_writer() {
    let Some(url) = server().await else { return };
    let seed = seed();
    println!("postgres crash test seed {seed} (rerun with CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let schema = TestSchema::new(&url);
    let store = schema.open().await;

    // position -> (stream, version, event id), over all rounds.
    let mut acknowledged: BTreeMap<u64, (String, u64, Uuid)> = BTreeMap::new();
    let started = Instant::now();
    let mut rounds = 0;
    let mut kills_with_acks = 0;
    while rounds < ROUNDS_MIN || (rounds < ROUNDS_MAX && started.elapsed() < TEST_BUDGET) {
        rounds += 1;
        let mut writer = Command::new(PG_WRITER);
        writer.args([&url, &schema.name, "C", CHILD_APPENDS_PER_TASK]);
        let killed = run_and_kill(writer, &mut rng, FIRST_ACK_WAIT_MAX, KILL_AFTER_MS_MAX);
        assert!(
            killed.first.is_some(),
            "round {rounds}: the writer acknowledged nothing within {FIRST_ACK_WAIT_MAX:?} \
             (status {}): {}",
            killed.status,
            killed.stderr
        );
        let text: String = killed.lines().collect();
        let acks: Vec<Ack> = parse_acks(&text);
        if !acks.is_empty() {
            kills_with_acks += 1;
        }
        for ack in acks {
            for (offset, id) in (0..).zip(&ack.event_ids) {
                let version = ack.stream_version + 1 + offset - ack.event_ids.len() as u64;
                let earlier = acknowledged.insert(
                    ack.first_position + offset,
                    (ack.stream.clone(), version, *id),
                );
                assert!(
                    earlier.is_none(),
                    "position {} acknowledged twice",
                    ack.first_position + offset
                );
            }
        }

        // After the kill: every acknowledged event at its position, gapless, verified.
        // The killed writer's last COMMIT may still land after the kill (it was already on
        // the wire), so the log may grow while it is read: read to its end, then compare.
        let head_before = store.head().await.unwrap();
        let mut log = Vec::new();
        loop {
            let page = store.read_all(log.len() as u64 + 1, 4_096).await.unwrap();
            if page.is_empty() {
                break;
            }
            log.extend(page);
        }
        let head = log.len() as u64;
        assert!(head >= head_before, "round {rounds}: the head went back");
        let positions: Vec<u64> = log.iter().map(|r| r.position).collect();
        assert_eq!(
            positions,
            (1..=head).collect::<Vec<_>>(),
            "round {rounds}: gapless"
        );
        for (&position, (stream, version, id)) in &acknowledged {
            let record = log.get((position - 1) as usize).unwrap_or_else(|| {
                panic!(
                    "round {rounds} (seed {seed}): acknowledged {stream} v{version} at \
                     {position} is missing after SIGKILL (head {head})"
                )
            });
            assert_eq!(
                (&record.stream_id, record.stream_version, record.event_id),
                (stream, *version, *id),
                "round {rounds} (seed {seed}): position {position}"
            );
        }
        for task in 0..3 {
            let stream = StreamId::new(format!("PG-C-{task}")).unwrap();
            let versions: Vec<u64> = store
                .read_stream(&stream, 1)
                .await
                .unwrap()
                .iter()
                .map(|r| r.stream_version)
                .collect();
            assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>());
        }
        let report = store.verify(1, Some(head)).await.unwrap();
        assert!(report.is_ok(), "round {rounds} (seed {seed}): {report:?}");
        assert_eq!(report.records_checked, head);
    }
    assert!(rounds >= ROUNDS_MIN);
    assert!(
        kills_with_acks >= ROUNDS_MIN,
        "every round killed a writer that had acknowledged appends"
    );
    println!(
        "{rounds} rounds, {} acknowledged events checked",
        acknowledged.len()
    );
}
