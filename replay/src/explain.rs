//! Explain a decision: for a decision event, the inputs as they stood when it
//! was made, the ruleset and reason code, the actor and role; a re-evaluation of the same
//! inputs under the ruleset of that time, flagging any difference from what was recorded;
//! and, clearly labelled, what today's ruleset would decide on the same inputs.
//!
//! "As they stood when it was made": the case's events before the decision in position order
//! (all recorded by then), applied when effective by the decision's effective time — the
//! bitemporal as-of of [`crate::asof`] at the decision's own (recorded, effective) instants.

use caseledger_domain::derived;
use caseledger_domain::event::{Event, HandoverDatesCalculated, TierCalculated, TierV3Calculated};
use caseledger_domain::handover::{self, HandoverEra, HandoverResult};
use caseledger_domain::state::CaseState;
use caseledger_domain::tier;
use caseledger_store::{Actor, EventStore, ReadAll, RecordedEvent, READ_ALL_PAGE_EVENTS_MAX};
use jiff::civil::Date;
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::asof::AsOf;
use crate::diff::{diff, Change};
use crate::domain_model::{decision_of, DomainCase};
use crate::error::ReplayError;
use crate::export::format_instant_us;
use crate::history::state_as_of;
use crate::model::CaseModel;
use crate::redecide;

/// Where the inputs shown come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum InputsSource {
    /// The event carries its inputs in full.
    RecordedInEvent,
    /// The event carries only a digest; the inputs were rebuilt from the case state as of the
    /// decision. `digest_matches` says whether they are provably the inputs used.
    RederivedFromCaseState {
        recorded_digest: String,
        rederived_digest: String,
        digest_matches: bool,
    },
    /// Neither recorded nor re-derivable.
    NotAvailable { why: String },
}

/// One evaluation of the inputs under a named ruleset.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// What this evaluation is, in words (e.g. "under today's rules").
    pub label: String,
    pub ruleset: String,
    pub outcome: Value,
    /// True when the outcome equals what was recorded.
    pub same_as_recorded: bool,
    /// From the recorded outcome to this one.
    pub differences: Vec<Change>,
}

/// Another decision on the same subject (a sentence's handover dates): the one a decision
/// replaced, or the one that replaced it, with the rules it was made under.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RelatedDecision {
    pub event_id: Uuid,
    pub position: u64,
    pub effective_at: String,
    pub actor: Actor,
    /// The operating-model ruleset of the decision (`tr-2014`, `unified-2021`, …).
    pub decision_ruleset: String,
    /// The handover rules it was calculated under (`omic-2019`, `omic-2022`, `omic-2023`).
    pub handover_era: String,
    pub reason_code: String,
    /// Its outcome, in the shape of [`Explanation::recorded_outcome`].
    pub outcome: Value,
}

/// One decision replacing another, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Replacement {
    pub decision: RelatedDecision,
    /// Why the later decision replaced the earlier one, in words, from the later one's reason.
    pub why: String,
}

/// Everything an inspector needs about one decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub event_id: Uuid,
    pub stream_id: String,
    pub position: u64,
    pub event_type: String,
    pub effective_at: String,
    pub recorded_at: String,
    /// Who made the decision: id, role and organisation.
    pub actor: Actor,
    /// The ruleset id in the envelope (the policy version that produced the decision).
    pub ruleset_id: String,
    /// The operating-model ruleset and reason code in the payload.
    pub decision_ruleset: Option<String>,
    pub reason_code: Option<String>,
    /// The event as recorded.
    pub recorded: Value,
    /// The outcome as recorded, in the same shape as the evaluations' outcomes.
    pub recorded_outcome: Option<Value>,
    pub inputs: Option<Value>,
    pub inputs_source: InputsSource,
    /// How derived inputs were read from the case, where a rule chooses among its facts (a
    /// tier: every breach and recall and whether it counts as previous enforcement,
    /// tier-rules.md §3.4).
    pub inputs_derivation: Option<Value>,
    /// The calculator run on the inputs shown, with its breakdown (a tier: every protect and
    /// change component's points, V3 steps when requested).
    pub calculation: Option<Value>,
    /// The case state when the decision was made.
    pub case_state_when_made: Value,
    /// The same inputs under the ruleset of the decision's time.
    pub reevaluation: Option<Evaluation>,
    /// The same inputs under the ruleset in force on `today` (labelled as such).
    pub under_todays_rules: Option<Evaluation>,
    /// `today` as given by the caller (the library never reads a clock).
    pub today: String,
    /// Why there is no re-evaluation, when there is none.
    pub not_reevaluated: Option<String>,
    /// The decision this one replaced (the sentence's previous handover dates), and why.
    pub replaces: Option<Replacement>,
    /// The decision that later replaced this one, and why.
    pub replaced_by: Option<Replacement>,
}

/// The prefix of the reason code of a handover decision recorded because the rules changed
/// (RULES-1: `rule_change_omic_2023_from_2023_04_01`).
const RULE_CHANGE_REASON_PREFIX: &str = "rule_change_";

/// Why `later` replaced an earlier decision, in words, from its reason code.
fn why_replaced(later: &RelatedDecision, earlier: &RelatedDecision) -> String {
    if later.reason_code.starts_with(RULE_CHANGE_REASON_PREFIX) {
        format!(
            "the rules changed (reason {}): {} replaced {} and the handover was recalculated \
             under it by {} (role {}) on {}, as handover-rules.md §4 and §11 require; the earlier \
             decision stands in the history under its own rules",
            later.reason_code,
            later.handover_era,
            earlier.handover_era,
            later.actor.id,
            later.actor.role,
            later.effective_at
        )
    } else {
        format!(
            "recalculated (reason {}) under {} after the case changed; the earlier decision \
             stands in the history",
            later.reason_code, later.handover_era
        )
    }
}

fn related_handover(
    record: &RecordedEvent,
    decision: &HandoverDatesCalculated,
) -> Option<RelatedDecision> {
    Some(RelatedDecision {
        event_id: record.event_id,
        position: record.position,
        effective_at: format_instant_us(record.effective_at_us).ok()?,
        actor: record.actor.clone(),
        decision_ruleset: decision.decision.ruleset_id.as_str().to_owned(),
        handover_era: decision.handover_era.as_str().to_owned(),
        reason_code: decision.decision.reason_code.as_str().to_owned(),
        outcome: recorded_handover_outcome(decision),
    })
}

/// The handover decisions of `sentence` in `records`, in version order.
fn handover_decisions<'r>(
    records: impl Iterator<Item = &'r RecordedEvent> + 'r,
    sentence: caseledger_domain::sentence::SentenceId,
) -> impl Iterator<Item = RelatedDecision> + 'r {
    records
        .filter(|r| r.event_type == "HandoverDatesCalculated")
        .filter_map(move |r| match DomainCase::default().decode(r).ok()? {
            Event::HandoverDatesCalculated(h) if h.sentence_id == sentence => {
                related_handover(r, &h)
            }
            _ => None,
        })
}

/// The sentence's handover decisions just before and just after the one at `index`.
fn handover_replacements(
    records: &[RecordedEvent],
    index: usize,
    decision: &HandoverDatesCalculated,
) -> (Option<Replacement>, Option<Replacement>) {
    let Some(this) = related_handover(&records[index], decision) else {
        return (None, None);
    };
    let earlier = handover_decisions(records[..index].iter().rev(), decision.sentence_id).next();
    let later = handover_decisions(records[index + 1..].iter(), decision.sentence_id).next();
    (
        earlier.map(|e| Replacement {
            why: why_replaced(&this, &e),
            decision: e,
        }),
        later.map(|l| Replacement {
            why: why_replaced(&l, &this),
            decision: l,
        }),
    )
}

fn recorded_handover_outcome(decision: &HandoverDatesCalculated) -> Value {
    handover_outcome(
        &serde_json::to_value(decision.responsibility)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        decision.start_date,
        decision.handover_date,
        decision.handover_reason.as_str(),
    )
}

fn handover_outcome(
    responsibility: &str,
    start: Option<Date>,
    handover: Option<Date>,
    reason: &str,
) -> Value {
    json!({
        "responsibility": responsibility,
        "start_date": start.map(|d| d.to_string()),
        "handover_date": handover.map(|d| d.to_string()),
        "reason": reason,
    })
}

fn result_outcome(result: &HandoverResult) -> Value {
    handover_outcome(
        result.responsibility.as_str(),
        result.start_date,
        result.handover_date,
        result.reason.as_str(),
    )
}

fn evaluation(label: String, ruleset: String, outcome: Value, recorded: &Value) -> Evaluation {
    let differences = diff(recorded, &outcome);
    Evaluation {
        label,
        ruleset,
        same_as_recorded: differences.is_empty(),
        outcome,
        differences,
    }
}

/// The explanation parts specific to a calculator decision (handover dates, tier).
struct CalculatorParts {
    recorded_outcome: Value,
    inputs: Option<Value>,
    inputs_source: InputsSource,
    inputs_derivation: Option<Value>,
    calculation: Option<Value>,
    reevaluation: Option<Evaluation>,
    under_todays_rules: Option<Evaluation>,
    not_reevaluated: Option<String>,
}

fn explain_handover(
    decision: &HandoverDatesCalculated,
    state: &CaseState,
    today: Date,
) -> CalculatorParts {
    let recorded_outcome = recorded_handover_outcome(decision);
    let mut parts = CalculatorParts {
        recorded_outcome: recorded_outcome.clone(),
        inputs: None,
        inputs_source: InputsSource::NotAvailable { why: String::new() },
        inputs_derivation: None,
        calculation: None,
        reevaluation: None,
        under_todays_rules: None,
        not_reevaluated: None,
    };
    // The calculator knows the three OMiC eras; `pre-omic` decisions have nothing to re-run.
    let era_then = decision.handover_era;
    if !era_then.is_omic() {
        let why = format!(
            "the decision was made under {}, which the handover calculator does not model",
            decision.handover_era.as_str()
        );
        parts.inputs_source = InputsSource::NotAvailable { why: why.clone() };
        parts.not_reevaluated = Some(why);
        return parts;
    }
    let input = match derived::handover_input(
        state,
        decision.sentence_id,
        decision.handover_era,
        decision.calculated_on,
    ) {
        Ok(input) => input,
        Err(why) => {
            let why = why.to_string();
            parts.inputs_source = InputsSource::NotAvailable { why: why.clone() };
            parts.not_reevaluated = Some(why);
            return parts;
        }
    };
    let rederived_digest = derived::inputs_digest(&input)
        .map(|d| d.as_str().to_owned())
        .unwrap_or_else(|e| format!("(cannot be computed: {e})"));
    parts.inputs_source = InputsSource::RederivedFromCaseState {
        digest_matches: rederived_digest == decision.inputs_digest.as_str(),
        recorded_digest: decision.inputs_digest.as_str().to_owned(),
        rederived_digest,
    };
    parts.inputs = serde_json::to_value(&input).ok();
    let run = |era: HandoverEra| {
        let mut with_era = input.clone();
        with_era.era = Some(era);
        match handover::calculate(&with_era) {
            Ok(result) => result_outcome(&result),
            Err(error) => json!({ "error": error.to_string() }),
        }
    };
    parts.reevaluation = Some(evaluation(
        format!(
            "re-evaluated under the rules of the time ({}), same inputs and calculation date",
            era_then.as_str()
        ),
        era_then.as_str().to_owned(),
        run(era_then),
        &recorded_outcome,
    ));
    let nation = if input.welsh {
        caseledger_domain::reference::Nation::Wales
    } else {
        caseledger_domain::reference::Nation::England
    };
    let era_now = HandoverEra::for_date(today, nation);
    parts.under_todays_rules = era_now.is_omic().then(|| {
        evaluation(
            format!(
                "under today's rules ({}, in force on {today}), same inputs and calculation date — not the rules the decision was made under",
                era_now.as_str()
            ),
            era_now.as_str().to_owned(),
            run(era_now),
            &recorded_outcome,
        )
    });
    parts
}

/// Explain a `TierCalculated`: the tier inputs are rebuilt from the case as it stood with the
/// domain's own builder (`derived::tier_input`, tier-rules.md §1) on the decision's calculation
/// date, their digest is compared with the recorded one, and `decide` records the tier again
/// under the ruleset of that date and under today's, so every field the event records (tier,
/// previous tier, digest, reallocation advice, ruleset, reason) is compared with what was
/// recorded. The tier calculator itself has one version (`tier::TIER_RULES_VERSION`); the
/// operating-model ruleset is what differs between eras (BR-C4, BR-C6 reallocation advice only
/// in the unified model).
fn explain_tier(decision: &TierCalculated, state: &CaseState, today: Date) -> CalculatorParts {
    let on = decision.calculated_on;
    explain_tier_result(
        TierDecision {
            event_type: "TierCalculated",
            recorded_outcome: serde_json::to_value(decision).unwrap_or(Value::Null),
            recorded_digest: decision.inputs_digest.as_str(),
            on,
        },
        state,
        Ok(derived::tier_input(state, on)),
        derived::tier_command(state, decision.decision.reason_code.clone(), on),
        today,
    )
}

/// Explain a `TierV3Calculated` the same way: the inputs with V3 requested
/// (`derived::tier_v3_input`: the V2 inputs plus the predictor scores and latest release,
/// tier-rules.md §1 `v3`), the calculation with its V3 steps and provisional conditions (§6,
/// §7), and the V3 tier recorded again through `decide`.
fn explain_tier_v3(decision: &TierV3Calculated, state: &CaseState, today: Date) -> CalculatorParts {
    let on = decision.calculated_on;
    explain_tier_result(
        TierDecision {
            event_type: "TierV3Calculated",
            recorded_outcome: serde_json::to_value(decision).unwrap_or(Value::Null),
            recorded_digest: decision.inputs_digest.as_str(),
            on,
        },
        state,
        derived::tier_v3_input(state, on).ok_or(derived::NotDerivable::NoPredictors),
        derived::tier_v3_command(state, decision.decision.reason_code.clone(), on),
        today,
    )
}

/// What a recorded tier decision (V2 or V3) says, for [`explain_tier_result`].
struct TierDecision<'a> {
    event_type: &'static str,
    recorded_outcome: Value,
    recorded_digest: &'a str,
    on: Date,
}

/// The parts of a tier explanation from the rebuilt `input` and the `command` that records its
/// result: digest check, how previous enforcement was read (tier-rules.md §3.4), the
/// calculation's breakdown, and the re-evaluations under the rules of the time and of today.
fn explain_tier_result(
    decision: TierDecision<'_>,
    state: &CaseState,
    input: Result<tier::TierInput, derived::NotDerivable>,
    command: Result<caseledger_domain::DomainCommand, derived::NotDerivable>,
    today: Date,
) -> CalculatorParts {
    let TierDecision {
        event_type,
        recorded_outcome,
        recorded_digest,
        on,
    } = decision;
    let mut parts = CalculatorParts {
        recorded_outcome: recorded_outcome.clone(),
        inputs: None,
        inputs_source: InputsSource::NotAvailable { why: String::new() },
        inputs_derivation: Some(json!({
            "previous_enforcement": derived::enforcement_considered(state, on),
        })),
        calculation: None,
        reevaluation: None,
        under_todays_rules: None,
        not_reevaluated: None,
    };
    let input = match input {
        Ok(input) => input,
        Err(why) => {
            parts.inputs_source = InputsSource::NotAvailable {
                why: why.to_string(),
            };
            parts.not_reevaluated = Some(why.to_string());
            return parts;
        }
    };
    let rederived_digest = derived::inputs_digest(&input)
        .map(|d| d.as_str().to_owned())
        .unwrap_or_else(|e| format!("(cannot be computed: {e})"));
    parts.inputs_source = InputsSource::RederivedFromCaseState {
        digest_matches: rederived_digest == recorded_digest,
        recorded_digest: recorded_digest.to_owned(),
        rederived_digest,
    };
    parts.inputs = serde_json::to_value(&input).ok();
    parts.calculation = tier::calculate(&input)
        .map(|result| serde_json::to_value(result).unwrap_or(Value::Null))
        .ok();
    let command = match command {
        Ok(command) => command,
        Err(why) => {
            parts.not_reevaluated = Some(why.to_string());
            return parts;
        }
    };
    match redecide::ruleset_on(state, on) {
        Ok(then) => {
            parts.reevaluation = Some(evaluation(
                format!(
                    "re-evaluated under the rules of the time ({}, tier rules {}), same case state and calculation date",
                    then.id.as_str(),
                    tier::TIER_RULES_VERSION
                ),
                then.id.as_str().to_owned(),
                redecide::redecide(state, &command, &then, on, event_type),
                &recorded_outcome,
            ))
        }
        Err(why) => parts.not_reevaluated = Some(why),
    }
    if let Ok(now) = redecide::ruleset_on(state, today) {
        parts.under_todays_rules = Some(evaluation(
            format!(
                "under today's rules ({}, in force on {today}; tier rules {}), same case state and calculation date — not the rules the decision was made under",
                now.id.as_str(),
                tier::TIER_RULES_VERSION
            ),
            now.id.as_str().to_owned(),
            redecide::redecide(state, &command, &now, on, event_type),
            &recorded_outcome,
        ));
    }
    parts
}

fn parts_into(explanation: &mut Explanation, parts: CalculatorParts) {
    explanation.recorded_outcome = Some(parts.recorded_outcome);
    explanation.inputs = parts.inputs;
    explanation.inputs_source = parts.inputs_source;
    explanation.inputs_derivation = parts.inputs_derivation;
    explanation.calculation = parts.calculation;
    explanation.reevaluation = parts.reevaluation;
    explanation.under_todays_rules = parts.under_todays_rules;
    explanation.not_reevaluated = parts.not_reevaluated;
}

/// The stream holding `event_id`, the case a decision to explain belongs to: a scan of the
/// log in pages of [`READ_ALL_PAGE_EVENTS_MAX`], because the store keeps no event-id index
/// (explain is an occasional audit query, not a hot path). The engine's `explain` and the
/// CLI's both find the case here.
pub async fn stream_of_event(
    store: &dyn EventStore,
    event_id: Uuid,
) -> Result<String, ReplayError> {
    let head = store.head().await?;
    let mut records = ReadAll::new(store, 1, READ_ALL_PAGE_EVENTS_MAX).through(head);
    while let Some(record) = records.next().await? {
        if record.event_id == event_id {
            return Ok(record.stream_id);
        }
    }
    Err(ReplayError::NoSuchEvent {
        event_id: event_id.to_string(),
    })
}

/// Explain the decision `event_id` of the case whose stream is `records` (version order),
/// with `today` for "under today's rules", the person's sealed data opened by `model` (a
/// tier re-evaluated without it would take the default gender).
pub fn explain_decision(
    model: &DomainCase,
    records: &[RecordedEvent],
    event_id: Uuid,
    today: Date,
) -> Result<Explanation, ReplayError> {
    let index = records
        .iter()
        .position(|r| r.event_id == event_id)
        .ok_or_else(|| ReplayError::NoSuchEvent {
            event_id: event_id.to_string(),
        })?;
    let record = &records[index];
    let undecodable = |reason: String| ReplayError::Undecodable {
        position: record.position,
        reason,
    };
    let event = model.decode(record).map_err(undecodable)?;
    let Some(decision) = decision_of(&event) else {
        return Err(ReplayError::NotADecision {
            event_id: event_id.to_string(),
            event_type: record.event_type.clone(),
        });
    };
    let as_of = AsOf {
        recorded_through_us: Some(record.recorded_at_us),
        effective_through_us: Some(record.effective_at_us),
    };
    let state = state_as_of(model, &records[..index], as_of)?;
    let mut explanation = Explanation {
        event_id,
        stream_id: record.stream_id.clone(),
        position: record.position,
        event_type: record.event_type.clone(),
        effective_at: format_instant_us(record.effective_at_us).map_err(undecodable)?,
        recorded_at: format_instant_us(record.recorded_at_us).map_err(undecodable)?,
        actor: record.actor.clone(),
        ruleset_id: record.ruleset_id.clone(),
        decision_ruleset: Some(decision.ruleset_id.as_str().to_owned()),
        reason_code: Some(decision.reason_code.as_str().to_owned()),
        recorded: model.event_json(&event),
        recorded_outcome: None,
        inputs: None,
        inputs_source: InputsSource::NotAvailable { why: String::new() },
        inputs_derivation: None,
        calculation: None,
        case_state_when_made: model.state_json(&state),
        reevaluation: None,
        under_todays_rules: None,
        today: today.to_string(),
        not_reevaluated: None,
        replaces: None,
        replaced_by: None,
    };
    match &event {
        Event::HandoverDatesCalculated(handover) => {
            parts_into(&mut explanation, explain_handover(handover, &state, today));
            (explanation.replaces, explanation.replaced_by) =
                handover_replacements(records, index, handover);
        }
        Event::TierCalculated(tier) => {
            parts_into(&mut explanation, explain_tier(tier, &state, today));
        }
        Event::TierV3Calculated(tier) => {
            parts_into(&mut explanation, explain_tier_v3(tier, &state, today));
        }
        other => {
            // Decisions that carry an `inputs` field show it as recorded.
            let recorded_inputs = explanation.recorded.get("inputs").cloned();
            explanation.inputs_source = match &recorded_inputs {
                Some(_) => InputsSource::RecordedInEvent,
                None => InputsSource::NotAvailable {
                    why: format!(
                        "{} does not record its inputs; the case state when it was made is shown instead",
                        other.event_type()
                    ),
                },
            };
            explanation.inputs = recorded_inputs;
            match redecide::command_for(other) {
                Some((command, on)) => {
                    let recorded = explanation.recorded.clone();
                    explanation.recorded_outcome = Some(recorded.clone());
                    let event_type = other.event_type();
                    let then = redecide::ruleset_on(&state, on);
                    match &then {
                        Ok(ruleset) => {
                            explanation.reevaluation = Some(evaluation(
                                format!(
                                    "re-decided under the rules of the time ({}), same case state and date",
                                    ruleset.id.as_str()
                                ),
                                ruleset.id.as_str().to_owned(),
                                redecide::redecide(&state, &command, ruleset, on, event_type),
                                &recorded,
                            ));
                        }
                        Err(why) => explanation.not_reevaluated = Some(why.clone()),
                    }
                    if let Ok(now) = redecide::ruleset_on(&state, today) {
                        explanation.under_todays_rules = Some(evaluation(
                            format!(
                                "under today's rules ({}, in force on {today}), same case state and date — not the rules the decision was made under",
                                now.id.as_str()
                            ),
                            now.id.as_str().to_owned(),
                            redecide::redecide(&state, &command, &now, on, event_type),
                            &recorded,
                        ));
                    }
                }
                None => {
                    explanation.not_reevaluated = Some(format!(
                        "re-evaluation is implemented for handover dates, tiers, provider allocation and risk escalation outcomes; the domain exposes no pure function to re-run a {} decision",
                        other.event_type()
                    ));
                }
            }
        }
    }
    Ok(explanation)
}

fn evaluation_text(out: &mut String, evaluation: &Evaluation) {
    use std::fmt::Write;
    let _ = writeln!(out, "\n{}:", evaluation.label);
    let _ = writeln!(out, "  outcome {}", evaluation.outcome);
    if evaluation.same_as_recorded {
        let _ = writeln!(out, "  same as recorded");
    } else {
        let _ = writeln!(out, "  DIFFERS from what was recorded:");
        for change in &evaluation.differences {
            let show =
                |v: &Option<Value>| v.as_ref().map_or("(absent)".to_owned(), Value::to_string);
            let _ = writeln!(
                out,
                "    {}: recorded {}, here {}",
                change.path,
                show(&change.before),
                show(&change.after)
            );
        }
    }
}

fn replacement_text(out: &mut String, relation: &str, replacement: &Replacement) {
    use std::fmt::Write;
    let d = &replacement.decision;
    let _ = writeln!(
        out,
        "{relation} decision [{}] at position {} (effective {}, by {} role {}): ruleset {}  \
         handover era {}  reason {}  outcome {}",
        d.event_id,
        d.position,
        d.effective_at,
        d.actor.id,
        d.actor.role,
        d.decision_ruleset,
        d.handover_era,
        d.reason_code,
        d.outcome
    );
    let _ = writeln!(out, "  why: {}", replacement.why);
}

/// The explanation for people (`caseledger explain`).
pub fn explain_text(explanation: &Explanation) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let e = explanation;
    let _ = writeln!(out, "decision {} [{}]", e.event_type, e.event_id);
    let _ = writeln!(out, "case {} position {}", e.stream_id, e.position);
    let _ = writeln!(
        out,
        "effective {}  recorded {}",
        e.effective_at, e.recorded_at
    );
    let _ = writeln!(
        out,
        "made by {} (role {}, {})",
        e.actor.id, e.actor.role, e.actor.organisation
    );
    let _ = writeln!(
        out,
        "ruleset {}  reason {}",
        e.decision_ruleset.as_deref().unwrap_or(&e.ruleset_id),
        e.reason_code.as_deref().unwrap_or("-")
    );
    if let Some(replaces) = &e.replaces {
        replacement_text(&mut out, "replaces", replaces);
    }
    if let Some(replaced_by) = &e.replaced_by {
        replacement_text(&mut out, "replaced by", replaced_by);
    }
    let _ = writeln!(out, "recorded {}", e.recorded);
    if let Some(outcome) = &e.recorded_outcome {
        let _ = writeln!(out, "recorded outcome {outcome}");
    }
    match &e.inputs_source {
        InputsSource::RecordedInEvent => {
            let _ = writeln!(out, "\ninputs (as recorded in the event):");
        }
        InputsSource::RederivedFromCaseState {
            digest_matches,
            recorded_digest,
            rederived_digest,
        } => {
            let _ = writeln!(
                out,
                "\ninputs (re-derived from the case state when the decision was made; the event records only their digest):"
            );
            let _ = writeln!(
                out,
                "  digest {} ({})",
                if *digest_matches {
                    "MATCHES the recorded one: these are the inputs used"
                } else {
                    "DIFFERS from the recorded one: the decision used inputs the case record does not hold"
                },
                if *digest_matches {
                    recorded_digest.clone()
                } else {
                    format!("recorded {recorded_digest}, re-derived {rederived_digest}")
                }
            );
        }
        InputsSource::NotAvailable { why } => {
            let _ = writeln!(out, "\ninputs not available: {why}");
        }
    }
    if let Some(inputs) = &e.inputs {
        let _ = writeln!(out, "{inputs:#}");
    }
    if let Some(derivation) = &e.inputs_derivation {
        let _ = writeln!(
            out,
            "\nhow the inputs were read from the case:\n{derivation:#}"
        );
    }
    if let Some(calculation) = &e.calculation {
        let _ = writeln!(out, "\ncalculation on these inputs:\n{calculation:#}");
    }
    if let Some(evaluation) = &e.reevaluation {
        evaluation_text(&mut out, evaluation);
    }
    if let Some(evaluation) = &e.under_todays_rules {
        evaluation_text(&mut out, evaluation);
    }
    if let Some(why) = &e.not_reevaluated {
        let _ = writeln!(out, "\nnot re-evaluated: {why}");
    }
    let _ = writeln!(
        out,
        "\ncase state when the decision was made:\n{:#}",
        e.case_state_when_made
    );
    out
}
