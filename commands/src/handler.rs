//! The command handler: authorise → load the stream → decide → derived decisions → append with
//! the expected version, retrying a bounded number of times on a version conflict.
//!
//! The command id is the idempotency key: a command already recorded on its case returns its
//! original receipt and writes nothing. A refused command writes nothing to its case; the
//! refusal is appended to `audit-refusals` (once per command id).

use std::sync::Arc;

pub use crate::cache::Lease;
use crate::cache::{CaseCache, CASE_CACHE_BYTES_MAX_DEFAULT};

use caseledger_domain::{
    decide, evolve, evolve_recorded, CaseState, DomainCommand, Event, Ruleset,
};
use caseledger_store::codec::encode_payload;
use caseledger_store::keystore::SubjectKey;
use caseledger_store::{
    Actor, AppendResult, EventStore, ExpectedVersion, Fingerprint, GroupedAppend, IdempotencyKey,
    Keyring, KeyringError, NewEvent, RecordedEvent, StoreError, StreamId,
};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{
    bounded_reason, refusal_key, CommandRefused, RefusalKind, COMMAND_REFUSED,
    COMMAND_REFUSED_SCHEMA_VERSION, REFUSALS_STREAM,
};
use crate::derived::derived_decisions_onto;
use crate::due::{due_commands, DueCommand};
use crate::envelope::{
    CommandActor, CommandEnvelope, EffectiveAt, ParseError, PartialHeader, ENGINE_ACTOR_ID,
};
use crate::role::{authorise, Role};
use caseledger_domain::identity::Crn;

/// Attempts of load → decide → append before a version conflict is reported. Conflicts need
/// two writers on one case at once; a few retries absorb that without livelock.
pub const CONFLICT_RETRIES_MAX: u32 = 8;
/// Most events one case stream may hold before the handler refuses to load it; a case of
/// 40 years has a few thousand events, so this bounds memory without touching real cases.
pub const CASE_EVENTS_MAX: usize = 200_000;

/// Namespace of event ids (UUID v5 over command id and index), so re-running a command
/// stream produces the same event ids.
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x9b1f_3c2d_4e5a_4b6c_8d7e_0f1a_2b3c_4d5e);

/// The actor recorded on derived decision events: the engine itself.
pub fn engine_actor() -> Actor {
    Actor {
        id: crate::envelope::ENGINE_ACTOR_ID.into(),
        role: Role::System.as_str().into(),
        organisation: "hmpps".into(),
    }
}

/// What a successful command wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub command_id: Uuid,
    pub crn: String,
    /// Global positions of the events written (or found, when deduplicated).
    pub first_position: u64,
    pub last_position: u64,
    /// The case stream's version after the command.
    pub stream_version: u64,
    /// Event types written: the command's own, then derived decisions.
    pub event_types: Vec<String>,
    /// How many of `event_types` are derived decisions (tier, handover dates).
    pub derived_events: u32,
    /// True when the command had been applied before: nothing was written now.
    pub deduplicated: bool,
    /// How this execution went (for tracing; not part of what was written, never serialised).
    #[serde(skip)]
    pub timing: ExecutionTiming,
}

/// How one execution of a command went, as the handler measured it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecutionTiming {
    /// Decide → append attempts repeated because the case changed meanwhile (at most
    /// [`CONFLICT_RETRIES_MAX`] − 1).
    pub retries: u32,
    /// From handing the events to the store until it acknowledged them durable: the wait
    /// for the group commit (its queue, batch write and flush) that carried them; zero when
    /// nothing was appended (deduplicated).
    pub flush_wait: std::time::Duration,
}

/// A refused command, as recorded in the audit stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub reason: String,
    /// Position of the refusal record in the global log.
    pub audit_position: u64,
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// Refused: nothing was written to the case; the refusal is in `audit-refusals`.
    #[error("refused ({kind:?}): {reason}", kind = .0.kind, reason = .0.reason)]
    Refused(Refusal),
    #[error("case {crn} kept changing while the command was decided ({attempts} attempts); retry the command")]
    Conflict { crn: String, attempts: u32 },
    #[error("case {crn} has more than {max} events; it cannot be loaded", max = CASE_EVENTS_MAX)]
    CaseTooLarge { crn: String },
    #[error("stored event at position {position} cannot be read: {reason}")]
    UnreadableEvent { position: u64, reason: String },
    /// `execute_due` was given something the engine does not find due on the case.
    #[error(
        "{command_id} is not due on case {crn}; only what the engine finds due runs as the engine"
    )]
    NotDue { crn: String, command_id: Uuid },
    /// The store's idempotency index holds the command id for this case, but none of the
    /// case's records carry it: the store is inconsistent and must be verified.
    #[error("command {command_id} is recorded as applied to case {crn}, but none of the case's events carry it; run `caseledger verify`")]
    RepeatWithoutEvents { crn: String, command_id: Uuid },
    /// An event the command decided cannot be encoded as a payload; nothing was written.
    #[error(transparent)]
    Payload(#[from] caseledger_payload::PayloadError),
    /// The person's data key cannot be made or read (docs/operations.md "Key management").
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CommandError {
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            CommandError::Refused(r) => Some(r),
            _ => None,
        }
    }
}

/// A loaded case: its stream, events and folded state.
pub struct LoadedCase {
    pub records: Vec<RecordedEvent>,
    pub state: CaseState,
}

/// The id of the `index`-th event (the command's own first, then derived decisions) a command
/// writes: UUID v5 of (command id, index), so a retry writes the same ids and a generator
/// that knows the command id knows the ids its events will be stored under.
pub fn event_id(command_id: &Uuid, index: u32) -> Uuid {
    let mut name = command_id.as_bytes().to_vec();
    name.extend_from_slice(&index.to_be_bytes());
    Uuid::new_v5(&EVENT_ID_NAMESPACE, &name)
}

/// Load and fold a case stream, its personal data opened with `keyring`.
pub async fn load_case(
    store: &dyn EventStore,
    keyring: &Keyring,
    stream: &StreamId,
) -> Result<LoadedCase, CommandError> {
    let records = store.read_stream(stream, 1).await?;
    let key = key_for_records(keyring, stream, &records).await?;
    let state = fold_onto(CaseState::default(), stream, &records, key.as_ref())?;
    Ok(LoadedCase { records, state })
}

/// The subject's key when one of `records` holds sealed personal data (the fold opens it:
/// `decide` reads the date of birth and gender), else none is fetched.
async fn key_for_records(
    keyring: &Keyring,
    stream: &StreamId,
    records: &[RecordedEvent],
) -> Result<Option<SubjectKey>, CommandError> {
    if caseledger_payload::sealed_subjects(records)?.is_empty() {
        return Ok(None);
    }
    Ok(keyring.key_for_reading(stream).await?)
}

/// Fold `records` — the stream's records after `state.version`, in version order — onto
/// `state`, opening sealed personal data with `key`: the one fold behind [`load_case`] and
/// the handler's [`CaseCache`].
fn fold_onto(
    mut state: CaseState,
    stream: &StreamId,
    records: &[RecordedEvent],
    key: Option<&SubjectKey>,
) -> Result<CaseState, CommandError> {
    if state.version as usize + records.len() > CASE_EVENTS_MAX {
        return Err(CommandError::CaseTooLarge {
            crn: stream.to_string(),
        });
    }
    for record in records {
        // A record out of place would fold into the wrong state: the cache relies on it.
        assert_eq!(
            record.stream_version,
            state.version + 1,
            "stream {stream} is not gapless"
        );
        let event: Event =
            caseledger_payload::decode(&record.event_type, record.schema_version, &record.payload)
                .and_then(|event| caseledger_payload::open(event, stream.as_str(), key))
                .map_err(|e| CommandError::UnreadableEvent {
                    position: record.position,
                    reason: e.to_string(),
                })?;
        let id = caseledger_domain::identity::EventRef::from_u128(record.event_id.as_u128());
        state = evolve_recorded(state, &id, &event);
        // evolve counts events; the stream's version must agree or the fold missed something.
        debug_assert_eq!(state.version, record.stream_version);
    }
    Ok(state)
}

/// Executes commands against one store.
#[derive(Clone)]
pub struct Handler {
    store: Arc<dyn EventStore>,
    /// Persons' data keys: personal data is sealed before it is written and opened when a
    /// case is folded.
    keyring: Arc<Keyring>,
    /// Case states this handler folded, so a command reads only what it does not know yet.
    cache: Arc<CaseCache>,
    /// The `correlation_id` written on every event and refusal: the operator session
    /// (`audit::OperatorSession`) when one is bound, else each command's own id.
    session: Option<Uuid>,
}

impl Handler {
    pub fn new(store: Arc<dyn EventStore>, keyring: Arc<Keyring>) -> Handler {
        Handler {
            store,
            keyring,
            cache: Arc::new(CaseCache::new(CASE_CACHE_BYTES_MAX_DEFAULT)),
            session: None,
        }
    }

    /// Correlate everything this handler writes with the session `session_id` (recorded in
    /// `audit-sessions` by whoever opened it).
    pub fn with_session(mut self, session_id: Uuid) -> Handler {
        self.session = Some(session_id);
        self
    }

    /// A fresh case cache of at most `bytes_max` bytes (0: none kept).
    pub fn with_case_cache_bytes_max(mut self, bytes_max: usize) -> Handler {
        self.cache = Arc::new(CaseCache::new(bytes_max));
        self
    }

    fn correlation(&self, command_id: Uuid) -> Uuid {
        self.session.unwrap_or(command_id)
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The case's state as the store holds it now: the cached fold plus whatever was appended
    /// after it (by this process or, on PostgreSQL, any other).
    pub async fn current_case(&self, stream: &StreamId) -> Result<CaseState, CommandError> {
        let (mut lease, read_now) = self.lease(stream).await?;
        if !read_now {
            self.catch_up(stream, &mut lease).await?;
        }
        Ok(lease.state().clone())
    }

    /// Bytes and entries the handler's case cache holds now.
    pub fn case_cache_usage(&self) -> (usize, usize) {
        self.cache.usage()
    }

    /// The case for one command: taken out of the cache (it may be behind, which the append's
    /// version check finds out), or read now. The flag says whether it was read just now.
    async fn lease<'a>(&'a self, stream: &StreamId) -> Result<(Lease<'a>, bool), CommandError> {
        if let Some(lease) = self.cache.take(stream.as_str()) {
            return Ok((lease, false));
        }
        Ok((self.lease_stored(stream).await?, true))
    }

    /// The case for one command, read and folded from the store now.
    async fn lease_stored<'a>(&'a self, stream: &StreamId) -> Result<Lease<'a>, CommandError> {
        let records = self.store.read_stream(stream, 1).await?;
        let key = key_for_records(&self.keyring, stream, &records).await?;
        let state = fold_onto(CaseState::default(), stream, &records, key.as_ref())?;
        let payload_bytes = records.iter().map(|r| r.payload.len()).sum();
        Ok(self.cache.lease(stream.as_str(), state, payload_bytes))
    }

    /// Fold what was appended after the leased state onto it.
    async fn catch_up(&self, stream: &StreamId, lease: &mut Lease<'_>) -> Result<(), CommandError> {
        let tail = self
            .store
            .read_stream(stream, lease.state().version + 1)
            .await?;
        let bytes: usize = tail.iter().map(|r| r.payload.len()).sum();
        let key = key_for_records(&self.keyring, stream, &tail).await?;
        lease.advance(bytes, |state| fold_onto(state, stream, &tail, key.as_ref()))
    }

    /// Decide `envelope` on the leased state and fold what it decided onto it, as
    /// [`load_case`] folds the stored events: the state is taken by value, so a command costs
    /// the same on a case of any length. The lease is then ahead of the store: unless the
    /// events are written as decided, the caller gives it up. A refusal, or an own event that
    /// cannot be encoded, leaves the lease as it was; a derived event that cannot be encoded
    /// gives it up.
    fn decide_onto(
        &self,
        envelope: &CommandEnvelope,
        lease: &mut Lease<'_>,
        key: Option<&SubjectKey>,
    ) -> Result<Decided, NotDecided> {
        let today = envelope.effective_at.date;
        let own =
            decide_own(lease.state(), &envelope.command, today).map_err(NotDecided::Refused)?;
        // A tier or handover result asked for from outside was checked against the engine's
        // own derivation (`decide_own`): it is the engine's decision and is recorded as such.
        let own_actor = if is_engine_decision(&envelope.command) {
            engine_actor()
        } else {
            self.actor(envelope)
        };
        let mut events = Vec::with_capacity(own.len());
        for (index, event) in own.iter().enumerate() {
            let actor = own_actor.clone();
            events.push(self.new_event(envelope, index, event, actor, Uuid::nil(), key)?);
        }
        let expected_version = lease.state().version;
        let planned = lease.fold(|state| fold_planned(state, &envelope.command_id, own, today));
        for (index, event) in planned.derived.iter().enumerate() {
            let index = planned.own.len() + index;
            match self.new_event(
                envelope,
                index,
                event,
                engine_actor(),
                envelope.command_id,
                key,
            ) {
                Ok(new) => events.push(new),
                Err(e) => {
                    lease.give_up();
                    return Err(e.into());
                }
            }
        }
        lease.weigh(events.iter().map(|e| e.payload.len()).sum());
        assert_eq!(
            lease.state().version,
            expected_version + events.len() as u64,
            "the fold and the events disagree"
        );
        Ok(Decided {
            planned,
            events,
            expected_version,
        })
    }

    /// Take the case's state for deciding commands on it without the handler's append (a
    /// pipelined import, `Engine::import_commands`): out of the cache, or read and folded now.
    /// It goes back into the cache when the lease is dropped, unless it is discarded.
    pub async fn lease_case<'a>(&'a self, stream: &StreamId) -> Result<Lease<'a>, CommandError> {
        Ok(self.lease(stream).await?.0)
    }

    /// Decide `envelope` on the leased state as [`Handler::execute`] would, without writing:
    /// the append that records it (its version check expecting the leased state; the caller
    /// sets `after` when it groups appends) and what its receipt will say, with the lease
    /// advanced by its events. `None` when only `execute` can answer it — the engine's
    /// identity, an unauthorised role, a command the rules refuse or whose events cannot be
    /// encoded: a refusal is given on the case as the store holds it, after the repeat check.
    /// A lease given up (a derived event that could not be encoded) decides nothing ahead.
    pub async fn decide_ahead(
        &self,
        envelope: &CommandEnvelope,
        lease: &mut Lease<'_>,
    ) -> Option<(GroupedAppend, DecidedAhead)> {
        if envelope.actor.role == Role::System
            || envelope.actor.id == ENGINE_ACTOR_ID
            || is_erasure(&envelope.command)
        {
            return None;
        }
        authorise(envelope.actor.role, &envelope.command).ok()?;
        let stream = StreamId::new(envelope.crn.as_str()).ok()?;
        if !lease.is_held() {
            return None;
        }
        let key = self
            .data_key_for(&stream, envelope, lease.state().version)
            .await
            .ok()?;
        let Decided {
            planned,
            events,
            expected_version,
        } = self.decide_onto(envelope, lease, key.as_ref()).ok()?;
        let stream_version = expected_version + events.len() as u64;
        let append = GroupedAppend {
            stream,
            expected: ExpectedVersion::Exact(expected_version),
            events,
            key: Some(IdempotencyKey {
                id: envelope.command_id,
                fingerprint: Some(envelope.fingerprint()),
            }),
            after: None,
        };
        let decided = DecidedAhead {
            event_types: planned
                .own
                .iter()
                .chain(planned.derived.iter())
                .map(|e| e.event_type().to_owned())
                .collect(),
            derived_events: u32::try_from(planned.derived.len()).unwrap_or(u32::MAX),
            stream_version,
        };
        Some((append, decided))
    }

    /// Execute one command from a caller. `Ok` when its events are appended (or were
    /// already); `Err(CommandError::Refused)` when it was refused and the refusal recorded.
    /// The engine's own identity (role `system`, actor id `caseledger`) is refused here: a
    /// caller cannot write as the engine, however the envelope was built.
    pub async fn execute(&self, envelope: &CommandEnvelope) -> Result<Receipt, CommandError> {
        if let Some(refused) = self.refuse_engine_identity(envelope).await {
            return Err(refused);
        }
        if is_erasure(&envelope.command) {
            return Err(self
                .refuse(
                    envelope,
                    RefusalKind::BadInput,
                    ERASURE_ONLY_THROUGH_THE_ENGINE,
                )
                .await);
        }
        self.execute_checked(envelope).await
    }

    /// Execute an erasure (`erase_personal_data`) for the engine, which destroys the
    /// person's data key once `PersonalDataErased` is recorded (`Engine::execute`): the
    /// same checks and append as [`Handler::execute`], which refuses an erasure by itself.
    pub async fn execute_erasure(
        &self,
        envelope: &CommandEnvelope,
    ) -> Result<Receipt, CommandError> {
        if let Some(refused) = self.refuse_engine_identity(envelope).await {
            return Err(refused);
        }
        self.execute_checked(envelope).await
    }

    /// The refusal of an envelope that claims the engine's own identity (role `system`, actor
    /// id `caseledger`), recorded; `None` for any other actor.
    async fn refuse_engine_identity(&self, envelope: &CommandEnvelope) -> Option<CommandError> {
        if envelope.actor.role != Role::System && envelope.actor.id != ENGINE_ACTOR_ID {
            return None;
        }
        let reason = "the role system and the actor caseledger are the engine's own; a caller \
                      cannot act as the engine";
        Some(
            self.refuse(envelope, RefusalKind::Unauthorised, reason)
                .await,
        )
    }

    /// Execute, as the engine, a time-driven command on `crn`: accepted only when
    /// [`due_commands`] finds exactly this command due on the case now (or it was applied
    /// before), so nothing but the engine's own rules can write with its identity.
    pub async fn execute_due(&self, crn: &Crn, due: &DueCommand) -> Result<Receipt, CommandError> {
        let envelope = CommandEnvelope {
            command_id: due.command_id,
            crn: crn.clone(),
            actor: CommandActor {
                id: ENGINE_ACTOR_ID.into(),
                role: Role::System,
                organisation: "hmpps".into(),
            },
            effective_at: EffectiveAt::from_date(due.on),
            command: due.command.clone(),
        };
        let stream = StreamId::new(crn.as_str())?;
        let case = load_case(self.store.as_ref(), &self.keyring, &stream).await?;
        if let Some(receipt) = already_applied(&envelope, &case.records) {
            return Ok(receipt);
        }
        let (found, _) = due_commands(crn, &case.state, due.on);
        if !found.contains(due) {
            return Err(CommandError::NotDue {
                crn: crn.to_string(),
                command_id: due.command_id,
            });
        }
        self.execute_checked(&envelope).await
    }

    async fn execute_checked(&self, envelope: &CommandEnvelope) -> Result<Receipt, CommandError> {
        let (type_name, _) = crate::role::permission(&envelope.command);
        if let Err(e) = authorise(envelope.actor.role, &envelope.command) {
            return Err(self
                .refuse(envelope, RefusalKind::Unauthorised, &e.to_string())
                .await);
        }
        let stream = StreamId::new(envelope.crn.as_str())?;
        let fingerprint = envelope.fingerprint();
        let key = IdempotencyKey {
            id: envelope.command_id,
            fingerprint: Some(fingerprint),
        };
        let (mut lease, mut read_now) = self.lease(&stream).await?;
        for attempt in 0..CONFLICT_RETRIES_MAX {
            let version = lease.state().version;
            let data_key = self.data_key_for(&stream, envelope, version).await?;
            let decided = match self.decide_onto(envelope, &mut lease, data_key.as_ref()) {
                Ok(decided) => decided,
                // A state that may be behind must not refuse what the current one allows.
                Err(NotDecided::Refused(_)) if !read_now => {
                    self.catch_up(&stream, &mut lease).await?;
                    read_now = true;
                    continue;
                }
                Err(NotDecided::Refused(reason)) => {
                    drop(lease);
                    // A repeat of an applied command is answered as a repeat, not refused by
                    // the rules its first application changed.
                    if let Some(answer) = self.repeat(envelope, &stream, fingerprint).await? {
                        return answer;
                    }
                    return Err(self.refuse(envelope, RefusalKind::Rule, &reason).await);
                }
                Err(NotDecided::Payload(e)) => return Err(e.into()),
            };
            let Decided {
                planned,
                events,
                expected_version,
            } = decided;
            let expected = ExpectedVersion::Exact(expected_version);
            let handed = std::time::Instant::now();
            let appended = self
                .store
                .append_fingerprinted(&stream, expected, events, key)
                .await;
            // The lease is ahead of the store by this command: it is kept only if the command
            // was written as decided.
            let result = match appended {
                Ok(result) if !result.deduplicated => result,
                Ok(_) => {
                    lease.discard();
                    let mut receipt = self.repeat_receipt(envelope, &stream).await?;
                    receipt.timing.retries = attempt;
                    return Ok(receipt);
                }
                Err(StoreError::WrongExpectedVersion { .. }) => {
                    // Written meanwhile by another: decide again on the case as stored.
                    lease.discard();
                    lease = self.lease_stored(&stream).await?;
                    read_now = true;
                    continue;
                }
                Err(StoreError::IdempotencyConflict { stored, given, .. }) => {
                    lease.discard();
                    return Err(self.refuse_conflict(envelope, &stored, &given).await);
                }
                Err(StoreError::IdempotencyKeyReused {
                    original_stream, ..
                }) => {
                    lease.discard();
                    return Err(self.refuse_reused(envelope, &original_stream).await);
                }
                Err(other) => {
                    lease.discard();
                    return Err(other.into());
                }
            };
            assert_eq!(
                lease.state().version,
                result.stream_version,
                "the fold and the store disagree"
            );
            let mut receipt = receipt(
                envelope,
                &result,
                planned.own.iter().chain(planned.derived.iter()),
                planned.derived.len(),
            );
            receipt.timing = ExecutionTiming {
                retries: attempt,
                flush_wait: handed.elapsed(),
            };
            return Ok(receipt);
        }
        let _ = type_name;
        Err(CommandError::Conflict {
            crn: stream.to_string(),
            attempts: CONFLICT_RETRIES_MAX,
        })
    }

    /// When the command id is already in the store's idempotency index: the original
    /// receipt for a repeat, or the refusal of a different command under a used id.
    async fn repeat(
        &self,
        envelope: &CommandEnvelope,
        stream: &StreamId,
        fingerprint: Fingerprint,
    ) -> Result<Option<Result<Receipt, CommandError>>, CommandError> {
        let Some(record) = self.store.idempotency_record(envelope.command_id).await? else {
            return Ok(None);
        };
        if record.stream_id != stream.as_str() {
            return Ok(Some(Err(self
                .refuse_reused(envelope, &record.stream_id)
                .await)));
        }
        match record.fingerprint {
            Some(stored) if stored != fingerprint => Ok(Some(Err(self
                .refuse_conflict(envelope, &hex::encode(stored), &hex::encode(fingerprint))
                .await))),
            _ => Ok(Some(self.repeat_receipt(envelope, stream).await)),
        }
    }

    /// The receipt of a command applied before, read from its case's records.
    async fn repeat_receipt(
        &self,
        envelope: &CommandEnvelope,
        stream: &StreamId,
    ) -> Result<Receipt, CommandError> {
        let records = self.store.read_stream(stream, 1).await?;
        already_applied(envelope, &records).ok_or_else(|| CommandError::RepeatWithoutEvents {
            crn: stream.to_string(),
            command_id: envelope.command_id,
        })
    }

    /// Refuse a command whose id was first used on another case.
    async fn refuse_reused(
        &self,
        envelope: &CommandEnvelope,
        original_stream: &str,
    ) -> CommandError {
        let reason = format!(
            "command id {} was first used on case {original_stream}, and now on case {}: a \
             command id names one command; send this one with a fresh id",
            envelope.command_id, envelope.crn
        );
        self.refuse(envelope, RefusalKind::IdempotencyConflict, &reason)
            .await
    }

    /// The actor of `envelope`, as recorded on its events.
    fn actor(&self, envelope: &CommandEnvelope) -> Actor {
        Actor {
            id: envelope.actor.id.clone(),
            role: envelope.actor.role.as_str().to_owned(),
            organisation: envelope.actor.organisation.clone(),
        }
    }

    /// The person's data key for a command that records personal data — the opening of a
    /// case not yet recorded (`version` 0; `caseledger_payload::needs_sealing` says which
    /// events hold it) — made on first use; else none. An event that needs sealing without a
    /// key is refused by `encode`, never written in plaintext. A case already recorded gets no
    /// new key: its opening is refused anyway, and a key made for a case whose key is missing
    /// (a log restored without its keys) would not open what is sealed.
    async fn data_key_for(
        &self,
        stream: &StreamId,
        envelope: &CommandEnvelope,
        version: u64,
    ) -> Result<Option<SubjectKey>, CommandError> {
        if version > 0 || !matches!(envelope.command, DomainCommand::OpenCase { .. }) {
            return Ok(None);
        }
        Ok(Some(self.keyring.key_for_sealing(stream).await?))
    }

    /// The `index`-th event `envelope` writes (its own first, then derived decisions), its
    /// personal data sealed with `key`.
    fn new_event(
        &self,
        envelope: &CommandEnvelope,
        index: usize,
        event: &Event,
        actor: Actor,
        causation_id: Uuid,
        key: Option<&SubjectKey>,
    ) -> Result<NewEvent, caseledger_payload::PayloadError> {
        let sealed = match key {
            Some(key) => caseledger_payload::seal(event, envelope.crn.as_str(), key)?,
            None => std::borrow::Cow::Borrowed(event),
        };
        let encoded = caseledger_payload::encode(&sealed)?;
        Ok(NewEvent {
            event_id: event_id(&envelope.command_id, index as u32),
            event_type: encoded.event_type.to_owned(),
            schema_version: encoded.schema_version,
            effective_at_us: envelope.effective_at.instant_us,
            actor,
            command_id: envelope.command_id,
            correlation_id: self.correlation(envelope.command_id),
            causation_id,
            ruleset_id: decision_ruleset(event).unwrap_or_default(),
            payload: encoded.bytes,
        })
    }

    /// Record a refusal in `audit-refusals` and return the error to give the caller.
    pub async fn refuse(
        &self,
        envelope: &CommandEnvelope,
        kind: RefusalKind,
        reason: &str,
    ) -> CommandError {
        let record = CommandRefused {
            command_id: envelope.command_id,
            crn: envelope.crn.as_str().to_owned(),
            actor_id: envelope.actor.id.clone(),
            actor_role: envelope.actor.role.as_str().to_owned(),
            actor_organisation: envelope.actor.organisation.clone(),
            command_type: envelope.command_type().to_owned(),
            effective_on: Some(envelope.effective_at.date.to_string()),
            kind,
            reason: bounded_reason(reason),
        };
        self.record_refusal(record, envelope.effective_at.instant_us)
            .await
    }

    /// Refuse a command whose id was first applied with other content: the first command
    /// stands, this one is not applied, and both fingerprints are named.
    async fn refuse_conflict(
        &self,
        envelope: &CommandEnvelope,
        stored: &str,
        given: &str,
    ) -> CommandError {
        let reason = format!(
            "command id {} was first applied to case {} as a different command (fingerprint \
             {stored}); this one (fingerprint {given}) was not applied: a command id names one \
             command, so send a different command with a fresh id",
            envelope.command_id, envelope.crn
        );
        self.refuse(envelope, RefusalKind::IdempotencyConflict, &reason)
            .await
    }

    /// Record the refusal of a command that could not be parsed, when enough of it was read
    /// to say who sent it (`command_id` and `actor`). Returns `None` when it could not.
    pub async fn refuse_unparsed(
        &self,
        header: &PartialHeader,
        error: &ParseError,
    ) -> Option<CommandError> {
        let (Some(command_id), Some(actor)) = (header.command_id, header.actor.as_ref()) else {
            return None;
        };
        let CommandActor {
            id,
            role,
            organisation,
        } = actor;
        let record = CommandRefused {
            command_id,
            crn: header.crn.clone().unwrap_or_default(),
            actor_id: id.clone(),
            actor_role: role.as_str().to_owned(),
            actor_organisation: organisation.clone(),
            command_type: header.command_type.clone().unwrap_or_default(),
            effective_on: header.effective_at.map(|e| e.date.to_string()),
            kind: RefusalKind::BadInput,
            reason: bounded_reason(&error.to_string()),
        };
        let effective = header.effective_at.map(|e| e.instant_us).unwrap_or(0);
        Some(self.record_refusal(record, effective).await)
    }

    async fn record_refusal(&self, record: CommandRefused, effective_at_us: i64) -> CommandError {
        let kind = record.kind;
        let reason = record.reason.clone();
        let payload = match encode_payload(&record) {
            Ok(p) => p,
            Err(e) => return CommandError::Store(e),
        };
        let stream = match StreamId::new(REFUSALS_STREAM) {
            Ok(s) => s,
            Err(e) => return CommandError::Store(e),
        };
        let event = NewEvent {
            event_id: refusal_key(record.command_id),
            event_type: COMMAND_REFUSED.into(),
            schema_version: COMMAND_REFUSED_SCHEMA_VERSION,
            effective_at_us,
            actor: Actor {
                id: record.actor_id.clone(),
                role: record.actor_role.clone(),
                organisation: record.actor_organisation.clone(),
            },
            command_id: record.command_id,
            correlation_id: self.correlation(record.command_id),
            causation_id: Uuid::nil(),
            ruleset_id: String::new(),
            payload,
        };
        match self
            .store
            .append(
                &stream,
                ExpectedVersion::Any,
                vec![event],
                Some(refusal_key(record.command_id)),
            )
            .await
        {
            Ok(result) => CommandError::Refused(Refusal {
                kind,
                reason,
                audit_position: result.last_position,
            }),
            Err(e) => CommandError::Store(e),
        }
    }
}

/// Why [`Handler::execute`] refuses an erasure: recording it without destroying the data key
/// would leave the person readable while the log says they were erased.
pub const ERASURE_ONLY_THROUGH_THE_ENGINE: &str = "an erasure (erase_personal_data) destroys \
     the person's data key after it is recorded, which only the engine does: send it with \
     `caseledger erase CRN --reason TEXT`, `Engine::execute` or POST /commands, not in an \
     import";

/// An erasure: recorded, then the person's data key is destroyed (by the engine).
pub fn is_erasure(command: &DomainCommand) -> bool {
    matches!(command, DomainCommand::ErasePersonalData { .. })
}

/// A command decided ahead of its append ([`Handler::decide_ahead`]).
#[derive(Clone, Debug)]
pub struct DecidedAhead {
    event_types: Vec<String>,
    derived_events: u32,
    /// The case's version once it is written.
    stream_version: u64,
}

impl DecidedAhead {
    /// The receipt of the command once its append was written as decided: `None` when the
    /// answer is anything else (refused, deduplicated, another version), which only
    /// [`Handler::execute`] can settle.
    pub fn receipt(
        &self,
        envelope: &CommandEnvelope,
        answer: &Result<AppendResult, StoreError>,
    ) -> Option<Receipt> {
        let result = answer.as_ref().ok()?;
        if result.deduplicated || result.stream_version != self.stream_version {
            return None;
        }
        Some(Receipt {
            command_id: envelope.command_id,
            crn: envelope.crn.as_str().to_owned(),
            first_position: result.first_position,
            last_position: result.last_position,
            stream_version: result.stream_version,
            event_types: self.event_types.clone(),
            derived_events: self.derived_events,
            deduplicated: false,
            timing: ExecutionTiming::default(),
        })
    }
}

/// The command's own events and the derived decisions that follow.
pub struct Planned {
    pub own: Vec<Event>,
    pub derived: Vec<Event>,
}

/// A command decided on a leased state ([`Handler::decide_onto`]): its events to append,
/// and the version the case had before them.
struct Decided {
    planned: Planned,
    events: Vec<NewEvent>,
    expected_version: u64,
}

/// Why [`Handler::decide_onto`] decided nothing.
enum NotDecided {
    /// The rules refuse the command on the leased state, for this reason.
    Refused(String),
    Payload(caseledger_payload::PayloadError),
}

impl From<caseledger_payload::PayloadError> for NotDecided {
    fn from(e: caseledger_payload::PayloadError) -> NotDecided {
        NotDecided::Payload(e)
    }
}

/// Pure: decide the command on `state` as of `today`, then the derived decisions. Copies the
/// state once to derive on; the handler decides on a state it owns instead ([`decide_own`],
/// [`fold_planned`]), with the same result.
pub fn plan(state: &CaseState, command: &DomainCommand, today: Date) -> Result<Planned, String> {
    let own = decide_own(state, command, today)?;
    let after = own.iter().fold(state.clone(), evolve);
    let (_, derived) =
        derived_decisions_onto(after, &own, today, |state, _, event| evolve(state, event));
    Ok(Planned { own, derived })
}

/// Pure: the command's own events decided on `state` as of `today`, or the reason it is
/// refused.
pub fn decide_own(
    state: &CaseState,
    command: &DomainCommand,
    today: Date,
) -> Result<Vec<Event>, String> {
    let nation = match (state.pdu, command) {
        (Some(pdu), _) => pdu.nation(),
        (None, DomainCommand::OpenCase { pdu, .. }) => pdu.nation(),
        (None, _) => return Err(caseledger_domain::DomainError::CaseNotOpen.to_string()),
    };
    // History is decided under the rules of its own time (design.md invariant 6).
    let ruleset = Ruleset::for_date(command.on(), nation).map_err(|e| e.to_string())?;
    check_engine_decision(state, command, today)?;
    let own = decide(state, command, &ruleset, today).map_err(|e| e.to_string())?;
    // decide returns at least one event for an accepted command; an empty append would be a
    // store error, so treat it as a refusal with a clear reason instead.
    if own.is_empty() {
        return Err("the command changes nothing on this case".into());
    }
    Ok(own)
}

/// Pure: `state` (owned, not copied) with the command's own events folded onto it, then the
/// derived decisions they call for, each folded as it is stored: under the id the command's
/// `index`-th event is stored under ([`event_id`]), as [`load_case`] folds the stream.
pub fn fold_planned(
    state: CaseState,
    command_id: &Uuid,
    own: Vec<Event>,
    today: Date,
) -> (CaseState, Planned) {
    let recorded = |state: CaseState, index: usize, event: &Event| {
        let id = event_id(command_id, index as u32);
        let id = caseledger_domain::identity::EventRef::from_u128(id.as_u128());
        evolve_recorded(state, &id, event)
    };
    let mut state = state;
    for (index, event) in own.iter().enumerate() {
        state = recorded(state, index, event);
    }
    let (state, derived) = derived_decisions_onto(state, &own, today, |state, index, event| {
        recorded(state, own.len() + index, event)
    });
    (state, Planned { own, derived })
}

/// Tier and handover results are the engine's (design.md invariant 5): it derives them itself
/// from the case. One asked for from outside must be exactly what the engine derives from this
/// case on `today` — same result, same inputs digest — so a forged result (say, an all-zero
/// digest) is refused instead of recorded.
fn is_engine_decision(command: &DomainCommand) -> bool {
    matches!(
        command,
        DomainCommand::RecordTier { .. }
            | DomainCommand::RecordTierV3 { .. }
            | DomainCommand::RecordHandoverDates { .. }
    )
}

fn check_engine_decision(
    state: &CaseState,
    command: &DomainCommand,
    today: Date,
) -> Result<(), String> {
    use caseledger_domain::derived::{handover_command, tier_command, tier_v3_command};
    let (name, derived) = match command {
        DomainCommand::RecordTier { reason_code, .. } => (
            "record_tier",
            tier_command(state, reason_code.clone(), today),
        ),
        DomainCommand::RecordTierV3 { reason_code, .. } => (
            "record_tier_v3",
            tier_v3_command(state, reason_code.clone(), today),
        ),
        DomainCommand::RecordHandoverDates {
            sentence_id,
            handover_era,
            ..
        } => (
            "record_handover_dates",
            handover_command(state, *sentence_id, *handover_era, today),
        ),
        _ => return Ok(()),
    };
    let derived = derived.map_err(|e| {
        format!("{name}: the engine cannot derive this decision for the case ({e}); tier and handover results are the engine's own")
    })?;
    if &derived == command {
        return Ok(());
    }
    Err(format!(
        "{name}: not what the engine derives from this case on {today} (it derives {}); tier and \
         handover results are the engine's own, derived from the case record",
        engine_summary(&derived)
    ))
}

fn engine_summary(command: &DomainCommand) -> String {
    match command {
        DomainCommand::RecordTier {
            tier,
            inputs_digest,
            ..
        } => format!("tier {tier} with inputs digest {inputs_digest}"),
        DomainCommand::RecordTierV3 {
            tier,
            provisional,
            inputs_digest,
            ..
        } => format!(
            "V3 tier {} (provisional {provisional}) with inputs digest {inputs_digest}",
            tier.as_str()
        ),
        DomainCommand::RecordHandoverDates {
            start_date,
            handover_date,
            inputs_digest,
            ..
        } => format!(
            "start {}, handover {}, inputs digest {inputs_digest}",
            start_date.map_or("none".into(), |d| d.to_string()),
            handover_date.map_or("none".into(), |d| d.to_string())
        ),
        _ => String::new(),
    }
}

fn decision_ruleset(event: &Event) -> Option<String> {
    let value = serde_json::to_value(event).ok()?;
    let inner = value.as_object()?.values().next()?;
    let ruleset = inner.get("decision")?.get("ruleset_id")?;
    ruleset.as_str().map(str::to_owned)
}

fn already_applied(envelope: &CommandEnvelope, records: &[RecordedEvent]) -> Option<Receipt> {
    let mine: Vec<&RecordedEvent> = records
        .iter()
        .filter(|r| r.command_id == envelope.command_id)
        .collect();
    let first = mine.first()?;
    let last = mine.last()?;
    Some(Receipt {
        command_id: envelope.command_id,
        crn: envelope.crn.as_str().to_owned(),
        first_position: first.position,
        last_position: last.position,
        stream_version: records.len() as u64,
        event_types: mine.iter().map(|r| r.event_type.clone()).collect(),
        derived_events: u32::try_from(
            mine.iter()
                .filter(|r| r.causation_id != Uuid::nil())
                .count(),
        )
        .unwrap_or(u32::MAX),
        deduplicated: true,
        timing: ExecutionTiming::default(),
    })
}

fn receipt<'a>(
    envelope: &CommandEnvelope,
    result: &AppendResult,
    events: impl Iterator<Item = &'a Event>,
    derived: usize,
) -> Receipt {
    Receipt {
        command_id: envelope.command_id,
        crn: envelope.crn.as_str().to_owned(),
        first_position: result.first_position,
        last_position: result.last_position,
        stream_version: result.stream_version,
        event_types: events.map(|e| e.event_type().to_owned()).collect(),
        derived_events: u32::try_from(derived).unwrap_or(u32::MAX),
        deduplicated: result.deduplicated,
        timing: ExecutionTiming::default(),
    }
}
