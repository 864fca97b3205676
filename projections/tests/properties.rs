//! Issue 5 "must show": for random valid domain histories, the case projection built
//! incrementally (event by event, with restarts at random checkpoints) and by a full rebuild
//! gives identical digests for every read model (design.md invariant 7).

mod common;

use std::collections::BTreeMap;

use caseledger_domain::testing::{full_lifecycle, run};
use caseledger_domain::Event;
use caseledger_projections::case::CaseProjection;
use caseledger_projections::synthetic::Cohort;
use caseledger_projections::{
    catch_up, fold_store, rebuild, rebuild_with, AsOf, NoProgress, ReadModelDb, RebuildOptions,
    RowSource,
};
use common::{Backend, TestLog};
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A random valid history: `steps` steps of a cohort of `cases` cases (each step = one
/// command's events, decided by the domain), optionally with the domain's full lifecycle
/// sample (every event type) woven in.
fn history(seed: u64, cases: u32, steps: u32, lifecycle: bool) -> Vec<(String, Vec<Event>)> {
    let mut cohort = Cohort::new(seed, 0, cases).unwrap();
    let mut out = Vec::new();
    for _ in 0..steps {
        let (crn, events) = cohort.step_random().unwrap();
        if !events.is_empty() {
            out.push((crn, events));
        }
    }
    if lifecycle {
        let (_, events) = run(full_lifecycle());
        // One command's worth at a time, spread through the cohort's history.
        for (i, e) in events.into_iter().enumerate() {
            let at = (i * 7 + 3).min(out.len());
            out.insert(at, ("X123456".to_owned(), vec![e]));
        }
    }
    out
}

fn memory_digests(log: &TestLog) -> BTreeMap<String, String> {
    runtime()
        .block_on(fold_store(
            &CaseProjection::default(),
            log.dyn_store(),
            AsOf::Now,
            &mut NoProgress,
        ))
        .unwrap()
        .digests()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    #[test]
    fn case_projection_incremental_with_restarts_equals_full_rebuild(
        seed in any::<u64>(),
        cases in 1u32..8,
        steps in 1u32..300,
        cuts in proptest::collection::vec(0usize..400, 0..5),
        lifecycle in any::<bool>(),
        every_append in any::<bool>(),
        on_sled in any::<bool>(),
        streams_per_pass in 1usize..4,
        events_per_pass in 1u64..120,
    ) {
        let appends = history(seed, cases, steps, lifecycle);
        prop_assume!(!appends.is_empty());
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let log = TestLog::new(if on_sled { Backend::Sled } else { Backend::Memory });
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % appends.len()).collect();
        cuts.push(appends.len());
        cuts.sort_unstable();
        let mut done = 0;
        for cut in cuts {
            // A restart: a fresh handle on the same database at each random checkpoint.
            let db = ReadModelDb::open(dir.path().join("rm")).unwrap();
            for (i, (crn, events)) in appends[done..cut].iter().enumerate() {
                let at = i64::try_from(done + i).unwrap();
                log.push_events(crn, events, at, at);
                if every_append {
                    rt.block_on(catch_up(log.dyn_store(), &db, &CaseProjection::default(), &mut NoProgress))
                        .unwrap();
                }
            }
            done = cut;
            rt.block_on(catch_up(log.dyn_store(), &db, &CaseProjection::default(), &mut NoProgress))
                .unwrap();
        }
        let db = ReadModelDb::open(dir.path().join("rm")).unwrap();
        let view = db.view(&CaseProjection::default()).unwrap().unwrap();
        prop_assert_eq!(view.checkpoint(), log.head());
        let incremental = view.digests().unwrap();
        prop_assert_eq!(incremental.len(), 6);
        let fresh = ReadModelDb::open(dir.path().join("fresh")).unwrap();
        let full = rt
            .block_on(rebuild(log.dyn_store(), &fresh, &CaseProjection::default(), &mut NoProgress))
            .unwrap();
        prop_assert_eq!(&incremental, &full.digests);
        prop_assert_eq!(&incremental, &memory_digests(&log));
        // A rebuild bounded to a few streams in memory, in several passes, writes the same
        // rows: one pass per `streams_per_pass` streams, in order of first appearance.
        let bounded_db = ReadModelDb::open(dir.path().join("bounded")).unwrap();
        let bounded = rt
            .block_on(rebuild_with(
                log.dyn_store(),
                &bounded_db,
                &CaseProjection::default(),
                RebuildOptions {
                    streams_per_pass_max: streams_per_pass,
                    events_per_pass_max: u64::MAX,
                },
                &mut NoProgress,
            ))
            .unwrap();
        prop_assert_eq!(&bounded.digests, &incremental);
        let streams: std::collections::BTreeSet<&String> = appends.iter().map(|(crn, _)| crn).collect();
        prop_assert_eq!(bounded.passes as usize, streams.len().div_ceil(streams_per_pass));
        prop_assert_eq!(full.passes, 1);
        // Bounded by events instead: streams whose events fit, then the next ones; the same
        // rows, in at least (events / budget) passes and at most one per stream.
        let by_events_db = ReadModelDb::open(dir.path().join("by-events")).unwrap();
        let by_events = rt
            .block_on(rebuild_with(
                log.dyn_store(),
                &by_events_db,
                &CaseProjection::default(),
                RebuildOptions {
                    streams_per_pass_max: usize::MAX,
                    events_per_pass_max: events_per_pass,
                },
                &mut NoProgress,
            ))
            .unwrap();
        prop_assert_eq!(&by_events.digests, &incremental);
        // A stream with more events than the budget has a pass to itself; the passes of the
        // others hold at most the budget each.
        let mut per_stream: std::collections::BTreeMap<&String, u64> = Default::default();
        for (crn, events) in &appends {
            *per_stream.entry(crn).or_default() += events.len() as u64;
        }
        prop_assert_eq!(per_stream.values().sum::<u64>(), log.head());
        let alone = per_stream.values().filter(|&&n| n > events_per_pass).count() as u64;
        let shared: u64 = per_stream.values().filter(|&&n| n <= events_per_pass).sum();
        let passes = u64::from(by_events.passes);
        prop_assert!(passes >= alone + shared.div_ceil(events_per_pass), "{passes} passes");
        prop_assert!(passes <= streams.len() as u64);
        // A rebuild over the incrementally built database switches to the same rows.
        let again = rt
            .block_on(rebuild(log.dyn_store(), &db, &CaseProjection::default(), &mut NoProgress))
            .unwrap();
        prop_assert_eq!(&again.digests, &incremental);
    }
}

/// The digests are not trivially equal: one more sentenced case changes them.
#[test]
fn digests_tell_histories_apart() {
    let appends = history(11, 4, 200, true);
    let log = TestLog::memory();
    for (i, (crn, events)) in appends.iter().enumerate() {
        let at = i64::try_from(i).unwrap();
        log.push_events(crn, events, at, at);
    }
    let before = memory_digests(&log);
    let (_, events) = run(full_lifecycle());
    // Opened, pre-sentence report, risk assessed, sentenced: a new active case.
    log.push_events("X654321", &events[..5], 10_000, 10_000);
    let after = memory_digests(&log);
    assert_ne!(before["caseload"], after["caseload"]);
    assert_eq!(
        before["handover"], after["handover"],
        "no custody in the new case"
    );
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
}
