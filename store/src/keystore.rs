//! The key store beside the log: each person's data key, wrapped under the store's KEK, and
//! the id of that KEK. Unlike the log it is NOT append-only: destroying a person's key
//! deletes it, which makes every value sealed with it unreadable (crypto-shredding,
//! docs/decisions/0009-crypto-shredding.md). A destroyed key leaves a tombstone (the subject
//! and nothing else) so no new key is ever made for an erased person.
//!
//! Backends: a sled tree of its own ([`crate::sled::TREE_DATA_KEYS`]), PostgreSQL tables of
//! their own (migration 5), a map in [`crate::MemoryStore`]; the conformance suite
//! (`conformance::check_key_store`) holds all three to this contract. [`Keyring`] is the one
//! user of the trait: it checks the KEK on open, wraps, unwraps and caches keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::crypto::{DataKey, Kek, KekId, WrappedKey, KEY_FILE_ENV};
use crate::{EventStore, StoreError, StreamId};

/// Most unwrapped data keys a [`Keyring`] keeps in memory (32 bytes each, plus the subject).
pub const DATA_KEYS_CACHED_MAX: usize = 16_384;

/// What the key store holds for one subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataKeyEntry {
    /// No key was ever made for this subject.
    Absent,
    /// The subject's key, wrapped under the store's KEK.
    Wrapped(WrappedKey),
    /// The subject's key was destroyed: what was sealed with it is erased.
    Destroyed,
}

/// The key store a backend keeps beside its log.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The id of the KEK this store's data keys are wrapped under; `None` before any.
    async fn kek_id(&self) -> Result<Option<KekId>, StoreError>;

    /// Record `id` as the store's KEK unless one is recorded; returns the id now recorded
    /// (the first one wins, for good).
    async fn claim_kek_id(&self, id: &KekId) -> Result<KekId, StoreError>;

    /// What is held for `subject`.
    async fn data_key(&self, subject: &StreamId) -> Result<DataKeyEntry, StoreError>;

    /// Store `wrapped` as `subject`'s key unless an entry exists (a key or a tombstone);
    /// returns the entry now stored. Durable, like an append, before it returns.
    async fn insert_data_key(
        &self,
        subject: &StreamId,
        wrapped: &WrappedKey,
    ) -> Result<DataKeyEntry, StoreError>;

    /// Delete `subject`'s key, leaving a tombstone. `true` when a key was deleted now; `false`
    /// when there was none or it was already destroyed (a tombstone is left either way).
    /// Durable before it returns.
    async fn destroy_data_key(&self, subject: &StreamId) -> Result<bool, StoreError>;

    /// At most `limit` entries (keys and tombstones, never [`DataKeyEntry::Absent`]) whose
    /// subjects come after `after` (from the first when `None`), in the backend's order of
    /// subjects; the next page starts after the last subject of this one. For a backup of the
    /// key store (`caseledger export --keys`); the KEK id is not an entry.
    async fn data_keys_page(
        &self,
        after: Option<&StreamId>,
        limit: u32,
    ) -> Result<Vec<(StreamId, DataKeyEntry)>, StoreError>;
}

/// Why the keyring cannot be used.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum KeyringError {
    #[error("this store's personal data is encrypted under key-encryption key {expected}, and no key was given: name the file that holds it with --key-file or {KEY_FILE_ENV} (docs/operations.md \"Key management\")")]
    MissingKek { expected: KekId },
    #[error("this store's personal data is encrypted under key-encryption key {expected}, but {origin} holds key {given}: name the file that holds key {expected} with --key-file or {KEY_FILE_ENV}")]
    WrongKek {
        expected: KekId,
        given: KekId,
        origin: String,
    },
    #[error("no key-encryption key is configured, so no data key can be made or read: run `caseledger init` (which creates one) or name a key file with --key-file or {KEY_FILE_ENV}")]
    NoKek,
    #[error("the data key of {subject} cannot be used: {reason}")]
    BadDataKey { subject: String, reason: String },
    /// A synchronous reader asked for a key a network key store was not asked for first: a
    /// defect in the reader (it must prefetch), never served as withheld data.
    #[error("the data key of {subject} was not fetched before a synchronous read; this is a defect: please report it")]
    NotFetched { subject: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Check `kek` against the store's recorded KEK id: a store with one refuses a missing or
/// different key; a store without one records `kek`'s id when `record` is set (a writable
/// open) and accepts anything otherwise.
pub async fn check_kek(
    keys: &dyn KeyStore,
    kek: Option<&Kek>,
    record: bool,
) -> Result<(), KeyringError> {
    let recorded = keys.kek_id().await?;
    match (recorded, kek) {
        (Some(expected), None) => Err(KeyringError::MissingKek { expected }),
        (Some(expected), Some(kek)) if &expected != kek.id() => Err(KeyringError::WrongKek {
            expected,
            given: kek.id().clone(),
            origin: kek.origin().to_owned(),
        }),
        (None, Some(kek)) if record => {
            let now = keys.claim_kek_id(kek.id()).await?;
            if &now != kek.id() {
                return Err(KeyringError::WrongKek {
                    expected: now,
                    given: kek.id().clone(),
                    origin: kek.origin().to_owned(),
                });
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The output of `future` if it is ready at once (a sled or memory key store never waits),
/// else `None`: for synchronous callers of the key store.
pub fn ready_now<F: std::future::Future>(future: F) -> Option<F::Output> {
    use futures_util::FutureExt;
    future.now_or_never()
}

/// A person's data key as the keyring gives it out.
#[derive(Clone, Debug)]
pub enum SubjectKey {
    Live(DataKey),
    /// Destroyed: nothing sealed with it can be opened again.
    Destroyed,
}

/// Data keys for one store, checked against its KEK, unwrapped on first use and cached
/// (at most [`DATA_KEYS_CACHED_MAX`]). The one place keys are made, read and destroyed.
///
/// The cache belongs to one handle: a key destroyed through another keyring (another
/// process on a shared PostgreSQL log) stays in this one's cache until it is dropped.
pub struct Keyring {
    store: Arc<dyn EventStore>,
    kek: Option<Kek>,
    cache: Mutex<HashMap<String, SubjectKey>>,
}

impl Keyring {
    /// Open the keyring of `store`, refusing a missing or wrong KEK ([`check_kek`]).
    /// `kek = None` on a store that never had one gives a keyring that makes and reads no
    /// data key ([`KeyringError::NoKek`]).
    pub async fn open(
        store: Arc<dyn EventStore>,
        kek: Option<Kek>,
        writable: bool,
    ) -> Result<Keyring, KeyringError> {
        check_kek(store.key_store(), kek.as_ref(), writable).await?;
        Ok(Keyring {
            store,
            kek,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// [`Keyring::open`] for a store whose key store answers without waiting (sled, memory),
    /// from synchronous code; a key store that would wait (PostgreSQL) is refused.
    pub fn open_now(
        store: Arc<dyn EventStore>,
        kek: Option<Kek>,
        writable: bool,
    ) -> Result<Keyring, KeyringError> {
        use futures_util::FutureExt;
        Keyring::open(store, kek, writable)
            .now_or_never()
            .unwrap_or_else(|| {
                Err(KeyringError::Store(StoreError::Backend(
                    "this store's key store is asynchronous: open it with an async open".into(),
                )))
            })
    }

    /// A keyring with no KEK that checks nothing: it makes and reads no data key
    /// ([`KeyringError::NoKek`]).
    pub fn without_kek(store: Arc<dyn EventStore>) -> Keyring {
        Keyring {
            store,
            kek: None,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A keyring with `kek` that does not check it against (or record it in) the store: for
    /// an engine over a store handed in by its caller from synchronous code, with this
    /// process's in-memory KEK (`Kek::process_ephemeral`). A data key wrapped under another
    /// KEK fails to unwrap ([`KeyringError::BadDataKey`]); it is never read as data.
    pub fn unchecked(store: Arc<dyn EventStore>, kek: Kek) -> Keyring {
        Keyring {
            store,
            kek: Some(kek),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The KEK's id, if a KEK is configured.
    pub fn kek_id(&self) -> Option<&KekId> {
        self.kek.as_ref().map(Kek::id)
    }

    fn cached(&self, subject: &StreamId) -> Option<SubjectKey> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(subject.as_str()).cloned()
    }

    fn remember(&self, subject: &StreamId, key: SubjectKey) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= DATA_KEYS_CACHED_MAX {
            cache.clear();
        }
        cache.insert(subject.as_str().to_owned(), key);
    }

    fn kek(&self) -> Result<&Kek, KeyringError> {
        self.kek.as_ref().ok_or(KeyringError::NoKek)
    }

    fn unwrap_entry(
        &self,
        subject: &StreamId,
        entry: DataKeyEntry,
    ) -> Result<Option<SubjectKey>, KeyringError> {
        Ok(match entry {
            DataKeyEntry::Absent => None,
            DataKeyEntry::Destroyed => Some(SubjectKey::Destroyed),
            DataKeyEntry::Wrapped(wrapped) => Some(SubjectKey::Live(
                self.kek()?
                    .unwrap(subject.as_str(), &wrapped)
                    .map_err(|e| KeyringError::BadDataKey {
                        subject: subject.to_string(),
                        reason: e.to_string(),
                    })?,
            )),
        })
    }

    /// `subject`'s key for reading: `None` when none was ever made.
    pub async fn key_for_reading(
        &self,
        subject: &StreamId,
    ) -> Result<Option<SubjectKey>, KeyringError> {
        if let Some(key) = self.cached(subject) {
            return Ok(Some(key));
        }
        let entry = self.store.key_store().data_key(subject).await?;
        let key = self.unwrap_entry(subject, entry)?;
        if let Some(key) = &key {
            self.remember(subject, key.clone());
        }
        Ok(key)
    }

    /// `subject`'s key for reading, from synchronous code (a projection's or a replay's
    /// decode): from the cache, or from a key store that answers at once (sled, memory). A
    /// network key store's key must have been fetched first ([`Keyring::prefetch`]);
    /// otherwise [`KeyringError::NotFetched`].
    pub fn key_now(&self, subject: &StreamId) -> Result<Option<SubjectKey>, KeyringError> {
        if let Some(key) = self.cached(subject) {
            return Ok(Some(key));
        }
        ready_now(self.key_for_reading(subject)).unwrap_or_else(|| {
            Err(KeyringError::NotFetched {
                subject: subject.to_string(),
            })
        })
    }

    /// Fetch the keys of `subjects` into the cache, so [`Keyring::key_now`] finds them; at
    /// most [`DATA_KEYS_CACHED_MAX`] subjects at a time (the cache is emptied first when
    /// they would not fit, so none of them is evicted before it is read).
    pub async fn prefetch(&self, subjects: &[&StreamId]) -> Result<(), KeyringError> {
        assert!(
            subjects.len() <= DATA_KEYS_CACHED_MAX,
            "prefetch at most the cache's size"
        );
        {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() + subjects.len() > DATA_KEYS_CACHED_MAX {
                cache.clear();
            }
        }
        for subject in subjects {
            self.key_for_reading(subject).await?;
        }
        Ok(())
    }

    /// `subject`'s key for sealing, made (and stored durably, before anything is sealed
    /// with it) on first use. [`SubjectKey::Destroyed`] for an erased subject: nothing
    /// personal is stored for it again.
    pub async fn key_for_sealing(&self, subject: &StreamId) -> Result<SubjectKey, KeyringError> {
        if let Some(key) = self.key_for_reading(subject).await? {
            return Ok(key);
        }
        let kek = self.kek()?;
        let wrapped = kek.wrap(subject.as_str(), &DataKey::generate());
        // Another writer may have made one first: the stored entry is the one to use.
        let stored = self
            .store
            .key_store()
            .insert_data_key(subject, &wrapped)
            .await?;
        let key = self
            .unwrap_entry(subject, stored)?
            .ok_or_else(|| KeyringError::BadDataKey {
                subject: subject.to_string(),
                reason: "the key store kept no entry after an insert".into(),
            })?;
        self.remember(subject, key.clone());
        Ok(key)
    }

    /// Destroy `subject`'s key (the erasure). `true` when a key was destroyed now.
    pub async fn destroy(&self, subject: &StreamId) -> Result<bool, KeyringError> {
        let destroyed = self.store.key_store().destroy_data_key(subject).await?;
        self.remember(subject, SubjectKey::Destroyed);
        Ok(destroyed)
    }
}
