//! The domain model says what an event changed by comparing the case state part by part
//! (so a long case does not cost its length squared); it must say exactly what a diff of the
//! whole states' JSON says, on every event of many random histories and of a long one.

use std::collections::BTreeMap;

use caseledger_domain::state::{evolve, CaseState};
use caseledger_domain::Event;
use caseledger_projections::synthetic::{long_case, Cohort};
use caseledger_replay::diff::{diff, Change, CHANGES_PER_EVENT_MAX};
use caseledger_replay::domain_model::DomainCase;
use caseledger_replay::model::CaseModel;

fn sorted(mut changes: Vec<Change>) -> Vec<(String, String, String)> {
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    changes
        .into_iter()
        .map(|c| (c.path, format!("{:?}", c.before), format!("{:?}", c.after)))
        .collect()
}

/// Fold `event` into `state`, checking the part-by-part changes against the JSON diff;
/// returns how many changes the event made.
fn check(state: &mut CaseState, event: &Event) -> usize {
    let before = state.clone();
    *state = evolve(std::mem::take(state), event);
    let whole = diff(
        &DomainCase::default().state_json(&before),
        &DomainCase::default().state_json(state),
    );
    let parts = DomainCase::default().changes(&before, state);
    if whole.len() < CHANGES_PER_EVENT_MAX {
        assert_eq!(
            sorted(parts),
            sorted(whole.clone()),
            "changes of {}",
            event.event_type()
        );
    } else {
        assert_eq!(parts.len(), CHANGES_PER_EVENT_MAX, "capped the same way");
    }
    whole.len()
}

#[test]
fn part_by_part_changes_equal_the_json_diff_on_random_histories() {
    for seed in 1..=3 {
        let mut cohort = Cohort::new(seed, 0, 8).expect("cohort");
        let mut states: BTreeMap<String, CaseState> = BTreeMap::new();
        let mut changed = 0;
        let mut types = std::collections::BTreeSet::new();
        for _ in 0..1_500 {
            let (crn, events) = cohort.step_random().expect("step");
            let state = states.entry(crn).or_default();
            for event in &events {
                types.insert(event.event_type());
                changed += check(state, event);
            }
        }
        assert!(changed > 1_000, "seed {seed}: the histories changed things");
        assert!(types.len() > 20, "seed {seed}: many event types: {types:?}");
    }
}

#[test]
fn part_by_part_changes_equal_the_json_diff_on_a_long_case() {
    let mut state = CaseState::default();
    for event in &long_case("L000001", 300).expect("long case") {
        assert!(check(&mut state, event) > 0);
    }
    assert_eq!(state.appointments.len(), 300);
}
