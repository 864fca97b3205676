//! Export of the log as self-describing JSON Lines.
//!
//! Line 1 is a header: format name and version, head position, Merkle root. Each following
//! line is one record, in position order (position p is on line p + 1), carrying every
//! envelope field, the hashes as hex and the payload as JSON with its event type and schema
//! version. Lines are canonical: `serde_json` compact output of [`RecordLine`], so the same log
//! always exports to the same bytes and import can refuse any line that is not byte-for-byte
//! what export wrote.

use std::io::Write;

use caseledger_store::{Actor, EventStore, RecordedEvent};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::ReplayError;
use crate::merkle::{Hash32, MerkleAccumulator};
use crate::payload::PayloadJson;
use crate::store_glue::canonical_record_bytes;
use crate::verify::{read_page, verify_log, walk_log, VERIFY_PAGE_EVENTS};
use caseledger_store::hash::ChainVerifier;

/// Name in the header's `format` field.
pub const EXPORT_FORMAT_NAME: &str = "caseledger-log";
/// Version of the export format; bump on any change to the line shapes.
pub const EXPORT_FORMAT_VERSION: u32 = 1;
/// Longest line accepted on import, in bytes. A payload is at most 64 KiB of bytes; as JSON it
/// can grow a few times; 1 MiB bounds what one line can make the importer buffer.
pub const EXPORT_LINE_BYTES_MAX: usize = 1 << 20;

/// The first line of an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderLine {
    pub format: String,
    pub version: u32,
    /// Records 1..=head_position follow, one per line.
    pub head_position: u64,
    /// RFC 6962 root over those records, hex.
    pub root: String,
}

/// Who caused an event, as exported (strict: unknown fields are refused on import).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorLine {
    pub id: String,
    pub role: String,
    pub organisation: String,
}

/// The payload, self-described.
///
/// For an event type the exporter's [`PayloadJson`] knows, `payload` is the event as JSON.
/// For any other (e.g. the command handler's `CommandRefused` audit records, which the domain
/// does not define), `payload` is `null` and `payload_bytes_hex` carries the stored bytes, so
/// the log still exports and imports byte for byte.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadLine {
    pub event_type: String,
    pub schema_version: u16,
    pub payload: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_bytes_hex: Option<String>,
}

/// One record line. Field order here is the order on the line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordLine {
    pub position: u64,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_id: Uuid,
    /// RFC 3339, UTC, microsecond precision.
    pub recorded_at: String,
    /// RFC 3339, UTC, microsecond precision.
    pub effective_at: String,
    pub actor: ActorLine,
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    pub ruleset_id: String,
    pub payload: PayloadLine,
    pub previous_hash: String,
    pub hash: String,
}

/// Render microseconds since the epoch as RFC 3339 UTC.
pub fn format_instant_us(us: i64) -> Result<String, String> {
    Timestamp::from_microsecond(us)
        .map(|t| t.to_string())
        .map_err(|e| format!("{us} µs is outside the representable range: {e}"))
}

/// Parse RFC 3339 back to microseconds; refuses sub-microsecond precision.
pub fn parse_instant_us(text: &str) -> Result<i64, String> {
    let t: Timestamp = text
        .parse()
        .map_err(|e| format!("{text:?} is not an RFC 3339 instant: {e}"))?;
    if t.subsec_nanosecond() % 1_000 != 0 {
        return Err(format!("{text:?} is more precise than a microsecond"));
    }
    Ok(t.as_microsecond())
}

fn parse_hash(field: &str, text: &str) -> Result<Hash32, String> {
    let bytes = hex::decode(text).map_err(|e| format!("{field} is not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|_| format!("{field} is not 32 bytes"))
}

impl RecordLine {
    /// The line for `record`, with its payload converted to JSON by `payloads`.
    pub fn from_record(
        record: &RecordedEvent,
        payloads: &dyn PayloadJson,
    ) -> Result<Self, ReplayError> {
        let not_exportable = |reason: String| ReplayError::PayloadNotExportable {
            position: record.position,
            event_type: record.event_type.clone(),
            schema_version: record.schema_version,
            reason,
        };
        let (json, bytes_hex) = if payloads.knows(&record.event_type) {
            let json = payloads
                .payload_to_json(&record.event_type, record.schema_version, &record.payload)
                .map_err(not_exportable)?;
            (json, None)
        } else {
            (Value::Null, Some(hex::encode(&record.payload)))
        };
        Ok(RecordLine {
            position: record.position,
            stream_id: record.stream_id.clone(),
            stream_version: record.stream_version,
            event_id: record.event_id,
            recorded_at: format_instant_us(record.recorded_at_us).map_err(not_exportable)?,
            effective_at: format_instant_us(record.effective_at_us).map_err(not_exportable)?,
            actor: ActorLine {
                id: record.actor.id.clone(),
                role: record.actor.role.clone(),
                organisation: record.actor.organisation.clone(),
            },
            command_id: record.command_id,
            correlation_id: record.correlation_id,
            causation_id: record.causation_id,
            ruleset_id: record.ruleset_id.clone(),
            payload: PayloadLine {
                event_type: record.event_type.clone(),
                schema_version: record.schema_version,
                payload: json,
                payload_bytes_hex: bytes_hex,
            },
            previous_hash: hex::encode(record.previous_hash),
            hash: hex::encode(record.hash),
        })
    }

    /// Back to the stored record: the payload re-encoded by `payloads`. Checks nothing about
    /// hashes (the caller does, with the chain).
    pub fn to_record(&self, payloads: &dyn PayloadJson) -> Result<RecordedEvent, String> {
        let payload = match &self.payload.payload_bytes_hex {
            // Only for types the converter cannot show; for the others the canonical-line
            // check refuses a hex payload, since export writes JSON for them.
            Some(bytes_hex) => {
                hex::decode(bytes_hex).map_err(|e| format!("payload_bytes_hex is not hex: {e}"))?
            }
            None => payloads
                .payload_from_json(
                    &self.payload.event_type,
                    self.payload.schema_version,
                    &self.payload.payload,
                )
                .map_err(|e| {
                    format!(
                        "payload is not a valid {} v{}: {e}",
                        self.payload.event_type, self.payload.schema_version
                    )
                })?,
        };
        Ok(RecordedEvent {
            position: self.position,
            stream_id: self.stream_id.clone(),
            stream_version: self.stream_version,
            recorded_at_us: parse_instant_us(&self.recorded_at)
                .map_err(|e| format!("recorded_at: {e}"))?,
            event_id: self.event_id,
            event_type: self.payload.event_type.clone(),
            schema_version: self.payload.schema_version,
            effective_at_us: parse_instant_us(&self.effective_at)
                .map_err(|e| format!("effective_at: {e}"))?,
            actor: Actor {
                id: self.actor.id.clone(),
                role: self.actor.role.clone(),
                organisation: self.actor.organisation.clone(),
            },
            command_id: self.command_id,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            ruleset_id: self.ruleset_id.clone(),
            payload,
            previous_hash: parse_hash("previous_hash", &self.previous_hash)?,
            hash: parse_hash("hash", &self.hash)?,
        })
    }

    /// The canonical text of this line (no trailing newline).
    pub fn to_line(&self) -> Result<String, String> {
        serde_json::to_string(self).map_err(|e| format!("cannot render the line: {e}"))
    }
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    pub head: u64,
    pub root: Hash32,
    /// Lines written, header included (= head + 1).
    pub lines: u64,
}

/// Write the whole log (records 1..=head at the time of the call) to `out` as JSON Lines.
///
/// Two passes over the store: the first verifies the chain and computes the root for the
/// header (a broken log is refused: an export must be importable); the second writes the
/// lines and recomputes the root, which must match. Every line is checked to convert back to
/// the very same record before it is written, so an export that cannot be imported is never
/// produced silently.
pub async fn export_log<S: EventStore + ?Sized, W: Write>(
    store: &S,
    payloads: &dyn PayloadJson,
    mut out: W,
) -> Result<ExportSummary, ReplayError> {
    let verified = verify_log(store, None).await?;
    if let Some((position, reason)) = verified.first_bad {
        return Err(ReplayError::LogNotIntact { position, reason });
    }
    let head = verified.head;
    let header = HeaderLine {
        format: EXPORT_FORMAT_NAME.to_owned(),
        version: EXPORT_FORMAT_VERSION,
        head_position: head,
        root: hex::encode(verified.root),
    };
    serde_json::to_writer(&mut out, &header).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    let mut merkle = MerkleAccumulator::new();
    walk_log(store, head, |record| {
        let line = RecordLine::from_record(record, payloads)?;
        let round_trip = line.to_record(payloads);
        if round_trip.as_ref() != Ok(record) {
            return Err(ReplayError::PayloadNotExportable {
                position: record.position,
                event_type: record.event_type.clone(),
                schema_version: record.schema_version,
                reason: match round_trip {
                    Err(e) => e,
                    Ok(_) => "its JSON does not convert back to the same bytes".to_owned(),
                },
            });
        }
        let text = line.to_line().map_err(|reason| ReplayError::LogNotIntact {
            position: record.position,
            reason,
        })?;
        out.write_all(text.as_bytes())?;
        out.write_all(b"\n")?;
        merkle.push_leaf_bytes(&canonical_record_bytes(record)?);
        Ok(())
    })
    .await?;
    out.flush()?;
    if merkle.root() != verified.root {
        return Err(ReplayError::LogChangedDuringRead { head });
    }
    Ok(ExportSummary {
        head,
        root: verified.root,
        lines: head + 1,
    })
}

/// What [`salvage_log`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SalvageSummary {
    /// The export holds records 1..=head: an intact prefix of the log.
    pub head: u64,
    pub root: Hash32,
    /// Where and why it stopped; `None` when the whole log was intact.
    pub stopped: Option<(u64, String)>,
}

/// The records 1..=n that are intact, and why n + 1 is not (`None`: the whole log is).
///
/// Pages with `read_page` rather than [`ReadAll`](caseledger_store::ReadAll): a missing or
/// out-of-place position, or a range that cannot be read, is where the intact prefix ends (an
/// answer), where `ReadAll` would fail the whole read.
async fn intact_prefix<S: EventStore + ?Sized>(
    store: &S,
    payloads: &dyn PayloadJson,
) -> Result<(u64, Hash32, Option<(u64, String)>), ReplayError> {
    let head = store.head().await?;
    let mut walker = ChainVerifier::new();
    let mut merkle = MerkleAccumulator::new();
    // The last position to take: the head, or just before the first unreadable record.
    let mut end = head;
    let mut unreadable: Option<(u64, String)> = None;
    let mut next = 1u64;
    while next <= end {
        let want = u32::try_from((end - next + 1).min(u64::from(VERIFY_PAGE_EVENTS)))
            .unwrap_or(VERIFY_PAGE_EVENTS);
        let page = match read_page(store, next, want, end).await {
            Ok(page) if page.first().is_some_and(|r| r.position == next) => page,
            Ok(_) => return Ok((next - 1, merkle.root(), Some((next, "missing".into())))),
            Err(ReplayError::Damaged {
                first,
                range,
                reason,
            }) => {
                // Take what comes before the damage, then stop there.
                end = first - 1;
                unreadable = Some((first, format!("{range} cannot be read: {reason}")));
                continue;
            }
            Err(other) => return Err(other),
        };
        for record in page.iter().take_while(|r| r.position <= end) {
            let exportable = RecordLine::from_record(record, payloads)
                .map_err(|e| e.to_string())
                .and_then(|line| match line.to_record(payloads) {
                    Ok(back) if &back == record => Ok(()),
                    Ok(_) => Err("its JSON does not convert back to the same bytes".into()),
                    Err(e) => Err(e),
                });
            let checked = if record.position != next {
                Err(format!("found position {} instead", record.position))
            } else {
                walker.accept(record).and(exportable)
            };
            if let Err(reason) = checked {
                return Ok((next - 1, merkle.root(), Some((next, reason))));
            }
            merkle.push_leaf_bytes(&canonical_record_bytes(record)?);
            next += 1;
        }
    }
    Ok((end, merkle.root(), unreadable))
}

/// Like [`export_log`], for a damaged log: write every record up to the first that cannot be
/// read, breaks the hash chain or cannot be exported, with a header for exactly that prefix,
/// so `import-log` rebuilds a store holding the log's whole valid prefix. Says where it
/// stopped. Run against a store nobody writes to.
pub async fn salvage_log<S: EventStore + ?Sized, W: Write>(
    store: &S,
    payloads: &dyn PayloadJson,
    mut out: W,
) -> Result<SalvageSummary, ReplayError> {
    let (head, root, stopped) = intact_prefix(store, payloads).await?;
    let header = HeaderLine {
        format: EXPORT_FORMAT_NAME.to_owned(),
        version: EXPORT_FORMAT_VERSION,
        head_position: head,
        root: hex::encode(root),
    };
    serde_json::to_writer(&mut out, &header).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    let mut merkle = MerkleAccumulator::new();
    walk_log(store, head, |record| {
        let line = RecordLine::from_record(record, payloads)?;
        let text = line.to_line().map_err(|reason| ReplayError::LogNotIntact {
            position: record.position,
            reason,
        })?;
        out.write_all(text.as_bytes())?;
        out.write_all(b"\n")?;
        merkle.push_leaf_bytes(&canonical_record_bytes(record)?);
        Ok(())
    })
    .await?;
    out.flush()?;
    if merkle.root() != root {
        return Err(ReplayError::LogChangedDuringRead { head });
    }
    Ok(SalvageSummary {
        head,
        root,
        stopped,
    })
}
