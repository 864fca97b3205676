//! Export / import end to end on a real `MemoryStore` with real domain events:
//! an untouched export imports to byte-identical records and the same root; every kind of
//! tampering is refused, naming the first bad line, and nothing is imported.

mod support;

use std::sync::Arc;

use caseledger_domain::risk::RoshLevel;
use caseledger_domain::ruleset::RulesetId;
use caseledger_replay::domain_payload::DomainPayloads;
use caseledger_replay::export::export_log;
use caseledger_replay::import::{stage_import, STAGE_CHUNK_LINES_MAX};
use caseledger_replay::verify::verify_log;
use caseledger_replay::ReplayError;
use caseledger_store::codec::encode_record;
use caseledger_store::{Clock, EventStore, ManualClock, MemoryStore};
use proptest::prelude::*;
use support::events::*;
use support::*;

/// Two interleaved cases, 12 events, several recorded late.
async fn sample_log() -> TestLog {
    let mut log = new_log();
    let officer = actor("PO-0001", "probation_officer");
    let spo = actor("SPO-0002", "senior_probation_officer");
    log.open_case("X000001", "2025-01-06", officer.clone())
        .await;
    log.open_case("Y000002", "2025-01-07", officer.clone())
        .await;
    for (i, (crn, day)) in [
        ("X000001", "2025-01-10"),
        ("Y000002", "2025-01-11"),
        ("X000001", "2025-02-10"),
        ("Y000002", "2025-02-11"),
    ]
    .into_iter()
    .enumerate()
    {
        let rosh = if i % 2 == 0 {
            RoshLevel::Medium
        } else {
            RoshLevel::High
        };
        log.append(
            crn,
            risk_assessed(day, rosh, RulesetId::Unified2021),
            day_us(day),
            us(&format!("{day}T10:00:00Z")),
            officer.clone(),
        )
        .await;
    }
    log.append(
        "X000001",
        registration_added(1, "2025-02-20"),
        day_us("2025-02-20"),
        us("2025-02-20T11:00:00Z"),
        officer.clone(),
    )
    .await;
    log.append(
        "X000001",
        mappa_level_set("2025-03-01", 2),
        day_us("2025-03-01"),
        us("2025-03-01T12:00:00Z"),
        spo.clone(),
    )
    .await;
    // Recorded late: effective in January, recorded in March.
    log.append(
        "Y000002",
        risk_assessed("2025-01-20", RoshLevel::VeryHigh, RulesetId::Unified2021),
        day_us("2025-01-20"),
        us("2025-03-03T15:00:00.123456Z"),
        spo.clone(),
    )
    .await;
    log.append(
        "Y000002",
        registration_added(7, "2025-03-04"),
        day_us("2025-03-04"),
        us("2025-03-04T08:00:00Z"),
        officer.clone(),
    )
    .await;
    log.append(
        "X000001",
        mappa_level_set("2025-03-05", 3),
        day_us("2025-03-05"),
        us("2025-03-05T08:00:00Z"),
        spo,
    )
    .await;
    log.append(
        "Y000002",
        registration_added(8, "2025-03-06"),
        day_us("2025-03-06"),
        us("2025-03-06T08:00:00Z"),
        officer,
    )
    .await;
    // Not a domain event: the handler's audit of a refused command.
    log.append_audit(
        "assess_risk refused: case is closed",
        us("2025-03-07T08:00:00Z"),
    )
    .await;
    log
}

async fn export_text(store: &MemoryStore) -> String {
    let mut out = Vec::new();
    export_log(store, &DomainPayloads, &mut out)
        .await
        .expect("export succeeds");
    String::from_utf8(out).expect("export is UTF-8")
}

fn empty_target() -> (Arc<ManualClock>, MemoryStore) {
    let clock = Arc::new(ManualClock::new(0));
    let store = MemoryStore::new(clock.clone() as Arc<dyn Clock>);
    (clock, store)
}

/// Import `text`, which must check out, into a new store.
async fn import_ok(text: &str) -> MemoryStore {
    let (clock, target) = empty_target();
    let staged = stage_import(text.as_bytes(), &DomainPayloads).expect("the export checks out");
    staged
        .commit(&target, &clock, &DomainPayloads)
        .await
        .expect("a staged import commits");
    target
}

/// Import `text`, which must be refused: return (line, reason); check nothing was written.
async fn refusal(text: &str) -> (u64, String) {
    let (clock, target) = empty_target();
    let refused = match stage_import(text.as_bytes(), &DomainPayloads) {
        Ok(staged) => {
            let summary = staged.commit(&target, &clock, &DomainPayloads).await;
            panic!("a tampered export was imported: {summary:?}");
        }
        Err(ReplayError::ImportLine { line, reason }) => (line, reason),
        Err(other) => panic!("unexpected error kind: {other}"),
    };
    assert_eq!(target.head().await.expect("head"), 0, "nothing imported");
    refused
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

fn join(lines: &[String]) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

#[tokio::test]
async fn untouched_export_imports_to_byte_identical_records_and_the_same_root() {
    let log = sample_log().await;
    let text = export_text(&log.store).await;
    assert_eq!(lines(&text).len(), 14, "header + 13 records");
    let target = import_ok(&text).await;
    let source_records = log.store.read_all(1, 100).await.expect("read source");
    let target_records = target.read_all(1, 100).await.expect("read target");
    assert_eq!(source_records.len(), 13);
    for (a, b) in source_records.iter().zip(&target_records) {
        assert_eq!(
            encode_record(a).expect("encode"),
            encode_record(b).expect("encode"),
            "position {}",
            a.position
        );
    }
    let before = verify_log(log.store.as_ref(), None).await.expect("verify");
    let after = verify_log(&target, None).await.expect("verify");
    assert!(before.is_ok() && after.is_ok());
    assert_eq!(before.root, after.root);
    assert_eq!(before.head, after.head);
    // And the re-export is byte-identical: export is deterministic.
    assert_eq!(export_text(&target).await, text);
}

#[tokio::test]
async fn byte_changed_inside_a_payload_is_refused_at_that_line() {
    let text = export_text(&sample_log().await.store).await;
    let mut all = lines(&text);
    // Line 5 holds position 4, a RiskAssessed with OGRS 42.
    assert!(all[4].contains("\"ogrs\":42"), "{}", all[4]);
    all[4] = all[4].replacen("\"ogrs\":42", "\"ogrs\":43", 1);
    let (line, reason) = refusal(&join(&all)).await;
    assert_eq!(line, 5);
    assert!(reason.contains("hash"), "{reason}");
}

#[tokio::test]
async fn deleted_line_is_refused_at_its_place() {
    let text = export_text(&sample_log().await.store).await;
    let mut all = lines(&text);
    all.remove(6); // line 7, position 6
    let (line, reason) = refusal(&join(&all)).await;
    assert_eq!(line, 7);
    assert!(reason.contains("position 6 was due"), "{reason}");
}

#[tokio::test]
async fn last_line_deleted_is_refused_as_missing() {
    let text = export_text(&sample_log().await.store).await;
    let mut all = lines(&text);
    all.pop();
    let (line, reason) = refusal(&join(&all)).await;
    assert_eq!(line, 14, "the first missing line");
    assert!(reason.contains("missing"), "{reason}");
}

#[tokio::test]
async fn two_swapped_lines_are_refused_at_the_first() {
    let text = export_text(&sample_log().await.store).await;
    let mut all = lines(&text);
    all.swap(3, 4);
    let (line, reason) = refusal(&join(&all)).await;
    assert_eq!(line, 4);
    assert!(reason.contains("position 3 was due"), "{reason}");
}

#[tokio::test]
async fn inserted_line_is_refused_at_the_insertion() {
    let text = export_text(&sample_log().await.store).await;
    let mut all = lines(&text);
    let copy = all[8].clone();
    all.insert(9, copy);
    let (line, _) = refusal(&join(&all)).await;
    assert_eq!(line, 10);
    // Inserted before the first record, too.
    let mut all = lines(&text);
    let copy = all[2].clone();
    all.insert(1, copy);
    let (line, _) = refusal(&join(&all)).await;
    assert_eq!(line, 2);
}

#[tokio::test]
async fn truncation_is_refused_mid_line_and_at_a_line_boundary() {
    let text = export_text(&sample_log().await.store).await;
    let all = lines(&text);
    // Cut in the middle of line 9.
    let cut: usize = all[..8].iter().map(|l| l.len() + 1).sum::<usize>() + all[8].len() / 2;
    let (line, reason) = refusal(&text[..cut]).await;
    assert_eq!(line, 9);
    assert!(reason.contains("not a record line"), "{reason}");
    // Cut cleanly after line 6.
    let (line, reason) = refusal(&join(&all[..6])).await;
    assert_eq!(line, 7);
    assert!(reason.contains("missing"), "{reason}");
    // Nothing at all.
    let (line, _) = refusal("").await;
    assert_eq!(line, 1);
}

#[tokio::test]
async fn altered_header_root_or_head_is_refused_at_line_1() {
    let text = export_text(&sample_log().await.store).await;
    let mut all = lines(&text);
    let header = all[0].clone();
    all[0] = header.replace("\"head_position\":13", "\"head_position\":12");
    let (line, _) = refusal(&join(&all)).await;
    assert_eq!(line, 14, "record 13 is beyond the claimed head");
    let root_at = header.find("\"root\":\"").expect("root field") + 8;
    let mut flipped = header.clone().into_bytes();
    flipped[root_at] = if flipped[root_at] == b'0' { b'1' } else { b'0' };
    all[0] = String::from_utf8(flipped).expect("ascii");
    let (line, reason) = refusal(&join(&all)).await;
    assert_eq!(line, 1);
    assert!(reason.contains("root"), "{reason}");
}

#[tokio::test]
async fn reformatted_but_equivalent_line_is_refused() {
    let text = export_text(&sample_log().await.store).await;
    let mut all = lines(&text);
    all[3] = all[3].replacen("{\"position\"", "{ \"position\"", 1);
    let (line, reason) = refusal(&join(&all)).await;
    assert_eq!(line, 4);
    assert!(
        reason.contains("differs from what export writes"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_renamed_payload_field_that_the_event_would_ignore_is_refused() {
    let text = export_text(&sample_log().await.store).await;
    let mut all = lines(&text);
    // `review_on` is optional: renamed, the payload still decodes to the same event and the
    // hash still matches, but the line is not what export wrote.
    assert!(all[12].contains("\"review_on\":null"), "{}", all[12]);
    all[12] = all[12].replacen("\"review_on\"", "\"revhew_on\"", 1);
    let (line, reason) = refusal(&join(&all)).await;
    assert_eq!(line, 13);
    assert!(
        reason.contains("differs from what export writes"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_record_the_domain_does_not_define_travels_as_hex_bytes_and_a_known_one_cannot() {
    let text = export_text(&sample_log().await.store).await;
    let all = lines(&text);
    let audit: serde_json::Value = serde_json::from_str(&all[13]).expect("json");
    assert_eq!(
        audit.pointer("/stream_id"),
        Some(&serde_json::json!("audit-refusals"))
    );
    assert_eq!(
        audit.pointer("/payload/payload"),
        Some(&serde_json::Value::Null)
    );
    assert!(audit.pointer("/payload/payload_bytes_hex").is_some());
    let known: serde_json::Value = serde_json::from_str(&all[12]).expect("json");
    assert!(known.pointer("/payload/payload_bytes_hex").is_none());
    // A known event rewritten with its (correct) bytes in hex: same record, not the line
    // export writes, refused.
    let log = sample_log().await;
    let record = &log.store.read_all(12, 1).await.expect("read")[0];
    let mut as_hex = known.clone();
    as_hex["payload"]["payload"] = serde_json::Value::Null;
    as_hex["payload"]["payload_bytes_hex"] = serde_json::json!(hex::encode(&record.payload));
    let mut tampered = all.clone();
    tampered[12] = as_hex.to_string();
    let (line, _) = refusal(&join(&tampered)).await;
    assert_eq!(line, 13);
}

#[tokio::test]
async fn import_into_a_store_that_is_not_empty_writes_nothing() {
    let log = sample_log().await;
    let text = export_text(&log.store).await;
    let staged = stage_import(text.as_bytes(), &DomainPayloads).expect("stages");
    let error = staged
        .commit(log.store.as_ref(), &log.clock, &DomainPayloads)
        .await
        .expect_err("refused");
    assert!(
        matches!(error, ReplayError::TargetNotEmpty { head: 13 }),
        "{error}"
    );
    assert_eq!(log.store.head().await.expect("head"), 13);
}

/// A log longer than three of import's chunks of lines: one case opened, then registrations
/// recorded a microsecond apart.
async fn long_log() -> TestLog {
    let mut log = new_log();
    let officer = actor("PO-0001", "probation_officer");
    log.open_case("X000001", "2025-01-06", officer.clone())
        .await;
    for id in 1..=3 * STAGE_CHUNK_LINES_MAX as u16 + 10 {
        log.append(
            "X000001",
            registration_added(id, "2025-01-10"),
            day_us("2025-01-10"),
            us("2025-01-10T10:00:00Z") + i64::from(id),
            officer.clone(),
        )
        .await;
    }
    log
}

/// `line` with the string field `field` set to `value`, the rest of the text untouched.
fn with_field(line: &str, field: &str, value: &str) -> String {
    let parsed: serde_json::Value = serde_json::from_str(line).expect("a record line");
    let old = parsed[field].as_str().expect("a string field");
    let (from, to) = (
        format!("\"{field}\":\"{old}\""),
        format!("\"{field}\":\"{value}\""),
    );
    assert!(line.contains(&from), "{field} in {line}");
    line.replacen(&from, &to, 1)
}

/// `line` with its position set to `position`.
fn with_position(line: &str, position: usize) -> String {
    let at = line.find(",\"stream_id\"").expect("a record line");
    format!("{{\"position\":{position}{}", &line[at..])
}

/// A 64-digit hex string other than `hex`.
fn other_hash(hex: &str) -> String {
    let first = if hex.starts_with('0') { '1' } else { '0' };
    format!("{first}{}", &hex[1..])
}

fn field(line: &str, name: &str) -> String {
    let parsed: serde_json::Value = serde_json::from_str(line).expect("a record line");
    parsed[name].as_str().expect("a string field").to_owned()
}

#[tokio::test]
async fn the_first_bad_line_is_named_however_deep_and_whatever_comes_after() {
    let text = export_text(&long_log().await.store).await;
    let all = lines(&text);
    let chunk = STAGE_CHUNK_LINES_MAX;
    assert!(all.len() > 3 * chunk + 1, "{} lines", all.len());
    let (second, third) = (chunk + 20, 2 * chunk + 5);
    let hash_altered = |all: &mut Vec<String>, at: usize| {
        let hash = other_hash(&field(&all[at], "hash"));
        all[at] = with_field(&all[at], "hash", &hash);
    };
    // One fault, in the third chunk.
    let mut one = all.clone();
    hash_altered(&mut one, third);
    let (line, reason) = refusal(&join(&one)).await;
    assert_eq!(
        (line, reason.contains("stored hash")),
        (third as u64 + 1, true),
        "{reason}"
    );
    // Two, in different chunks: the later one's fault is found first on a line-by-line
    // reading of its own line (not JSON at all), the earlier one's last (not canonical).
    let mut two = all.clone();
    two[second] = two[second].replacen("{\"position\"", "{ \"position\"", 1);
    two[third] = "not json".to_owned();
    let (line, reason) = refusal(&join(&two)).await;
    assert_eq!(line, second as u64 + 1);
    assert!(
        reason.contains("differs from what export writes"),
        "{reason}"
    );
    // A line too long to read, later, does not hide an earlier bad line either.
    let mut long = all.clone();
    hash_altered(&mut long, second);
    long[third] = "x".repeat(caseledger_replay::export::EXPORT_LINE_BYTES_MAX + 1);
    let (line, reason) = refusal(&join(&long)).await;
    assert_eq!(
        (line, reason.contains("stored hash")),
        (second as u64 + 1, true),
        "{reason}"
    );
    // Alone, it is named at its line.
    let mut long = all.clone();
    long[third] = "x".repeat(caseledger_replay::export::EXPORT_LINE_BYTES_MAX + 1);
    let (line, reason) = refusal(&join(&long)).await;
    assert_eq!(
        (line, reason.contains("longer than")),
        (third as u64 + 1, true),
        "{reason}"
    );
    // Lines deleted at the end of a long export.
    let (line, reason) = refusal(&join(&all[..all.len() - 3])).await;
    assert_eq!(line, all.len() as u64 - 2);
    assert!(reason.contains("missing"), "{reason}");
}

#[tokio::test]
async fn of_several_faults_on_one_line_the_same_one_is_named_as_checked_in_turn() {
    let text = export_text(&long_log().await.store).await;
    let all = lines(&text);
    let at = 2 * STAGE_CHUNK_LINES_MAX + 5;
    let head = all.len() - 1;
    let record = all[at].clone();
    let position = at; // line at + 1 holds position at
    let hash = other_hash(&field(&record, "hash"));
    let previous_hash = other_hash(&field(&record, "previous_hash"));
    let reformatted = |line: &str| line.replacen("{\"position\"", "{ \"position\"", 1);
    let cases = [
        // Not JSON of a record line, whatever else.
        (
            format!("{}x", with_position(&record, head + 5)),
            "not a record line",
        ),
        // Beyond the head, with the hash not matching either.
        (
            with_field(&with_position(&record, head + 5), "hash", &hash),
            "beyond the head position",
        ),
        // Not convertible to a record (hash not hex), at a position not due.
        (
            with_field(&with_position(&record, position + 1), "hash", "zz"),
            "hash is not hex",
        ),
        // Not the position due, with the hash not matching either.
        (
            with_field(&with_position(&record, position + 1), "hash", &hash),
            &format!("position {position} was due"),
        ),
        // A broken link, with the hash and the formatting altered too.
        (
            reformatted(&with_field(
                &with_field(&record, "previous_hash", &previous_hash),
                "hash",
                &hash,
            )),
            "does not match the hash",
        ),
        // Recorded before the record before it, which changes its hash.
        (
            with_field(&record, "recorded_at", "2025-01-01T00:00:00Z"),
            "must not decrease",
        ),
        // The hash altered and the formatting too.
        (
            reformatted(&with_field(&record, "hash", &hash)),
            "stored hash",
        ),
    ];
    for (altered, expected) in cases {
        let mut tampered = all.clone();
        tampered[at] = altered;
        let (line, reason) = refusal(&join(&tampered)).await;
        assert_eq!(line, at as u64 + 1, "{reason}");
        assert!(reason.contains(expected), "{expected:?} expected: {reason}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    /// Any single changed byte anywhere in an export is refused, naming the line it is on (or,
    /// for a header field that only the records can contradict, the line that contradicts it).
    #[test]
    fn any_single_byte_change_is_refused(index in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        runtime.block_on(async {
            let text = export_text(&sample_log().await.store).await;
            let mut bytes = text.clone().into_bytes();
            let at = index.index(bytes.len());
            bytes[at] ^= xor;
            let (clock, target) = empty_target();
            let result = stage_import(bytes.as_slice(), &DomainPayloads);
            prop_assert!(result.is_err(), "a change at byte {} was accepted", at);
            let line_of_change = 1 + text.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() as u64;
            if let Err(ReplayError::ImportLine { line, .. }) = &result {
                // A changed newline joins or splits lines; otherwise the named line is the
                // changed one, or a later one only when the header was changed.
                if text.as_bytes()[at] != b'\n' && line_of_change > 1 {
                    prop_assert_eq!(*line, line_of_change);
                }
            }
            drop(clock);
            prop_assert_eq!(target.head().await.expect("head"), 0);
            Ok(())
        })?;
    }
}
