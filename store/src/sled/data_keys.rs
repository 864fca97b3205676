//! The sled key store ([`crate::keystore::KeyStore`]): the tree [`TREE_DATA_KEYS`] beside the
//! log. Key: the subject (stream id, printable ASCII); value: its wrapped data key, or an
//! empty value for a destroyed key (the tombstone). The KEK id sits under [`KEK_ID_KEY`],
//! which starts with a byte no stream id has.
//!
//! Destroying a key removes its bytes from the tree; sled's log-structured files may hold
//! the old page until its segment is rewritten (docs/operations.md "Erasure"): those bytes
//! are the key wrapped under the KEK, unreadable without it.

use async_trait::async_trait;

use super::{backend, fsync_tree, SledStore};
use crate::crypto::{KekId, WrappedKey};
use crate::keystore::{DataKeyEntry, KeyStore};
use crate::{Durability, StoreError, StreamId};

/// The tree of data keys (module doc).
pub const TREE_DATA_KEYS: &str = "data_keys";
/// The key of the KEK id in [`TREE_DATA_KEYS`].
pub const KEK_ID_KEY: &[u8] = b"\0kek-id";

fn entry_from(subject: &StreamId, value: Option<sled::IVec>) -> Result<DataKeyEntry, StoreError> {
    Ok(match value {
        None => DataKeyEntry::Absent,
        Some(v) if v.is_empty() => DataKeyEntry::Destroyed,
        Some(v) => DataKeyEntry::Wrapped(WrappedKey::from_stored(v.to_vec()).ok_or_else(|| {
            StoreError::Corrupt {
                position: 0,
                reason: format!(
                    "the stored data key of {subject} is {} bytes, not a wrapped key",
                    v.len()
                ),
            }
        })?),
    })
}

impl SledStore {
    /// Make a key store change durable in the store's durability mode, like an append.
    fn make_keys_durable(&self) -> Result<(), StoreError> {
        if self.durability == Durability::Buffered {
            return Ok(());
        }
        self.db
            .flush()
            .map_err(|e| backend("flushing the key store", e))?;
        if self.durability == Durability::Fsync {
            fsync_tree(&self.path).map_err(|e| backend("fsync of the store directory", e))?;
        }
        Ok(())
    }

    fn keys_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.keys_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn stored_kek_id(&self) -> Result<Option<KekId>, StoreError> {
        let value = self
            .data_keys
            .get(KEK_ID_KEY)
            .map_err(|e| backend("reading the KEK id", e))?;
        value
            .map(|v| {
                std::str::from_utf8(&v)
                    .ok()
                    .and_then(KekId::parse)
                    .ok_or_else(|| StoreError::Corrupt {
                        position: 0,
                        reason: "the stored KEK id is not 32 hex digits".into(),
                    })
            })
            .transpose()
    }

    fn stored_data_key(&self, subject: &StreamId) -> Result<DataKeyEntry, StoreError> {
        let value = self
            .data_keys
            .get(subject.as_str())
            .map_err(|e| backend("reading a data key", e))?;
        entry_from(subject, value)
    }
}

#[async_trait]
impl KeyStore for SledStore {
    async fn kek_id(&self) -> Result<Option<KekId>, StoreError> {
        self.stored_kek_id()
    }

    async fn claim_kek_id(&self, id: &KekId) -> Result<KekId, StoreError> {
        self.writable()?;
        let _serial = self.keys_lock();
        if let Some(stored) = self.stored_kek_id()? {
            return Ok(stored);
        }
        self.data_keys
            .insert(KEK_ID_KEY, id.as_str().as_bytes())
            .map_err(|e| backend("writing the KEK id", e))?;
        self.make_keys_durable()?;
        Ok(id.clone())
    }

    async fn data_key(&self, subject: &StreamId) -> Result<DataKeyEntry, StoreError> {
        self.stored_data_key(subject)
    }

    async fn insert_data_key(
        &self,
        subject: &StreamId,
        wrapped: &WrappedKey,
    ) -> Result<DataKeyEntry, StoreError> {
        self.writable()?;
        let _serial = self.keys_lock();
        let stored = self.stored_data_key(subject)?;
        if stored != DataKeyEntry::Absent {
            return Ok(stored);
        }
        self.data_keys
            .insert(subject.as_str(), wrapped.as_bytes())
            .map_err(|e| backend("writing a data key", e))?;
        self.make_keys_durable()?;
        Ok(DataKeyEntry::Wrapped(wrapped.clone()))
    }

    async fn destroy_data_key(&self, subject: &StreamId) -> Result<bool, StoreError> {
        self.writable()?;
        let _serial = self.keys_lock();
        let before = self
            .data_keys
            .insert(subject.as_str(), &[][..])
            .map_err(|e| backend("destroying a data key", e))?;
        self.make_keys_durable()?;
        Ok(before.is_some_and(|v| !v.is_empty()))
    }

    async fn data_keys_page(
        &self,
        after: Option<&StreamId>,
        limit: u32,
    ) -> Result<Vec<(StreamId, DataKeyEntry)>, StoreError> {
        use std::ops::Bound;
        let from = after.map_or(Bound::Unbounded, |s| {
            Bound::Excluded(s.as_str().as_bytes().to_vec())
        });
        let mut page = Vec::new();
        for item in self.data_keys.range::<Vec<u8>, _>((from, Bound::Unbounded)) {
            if page.len() >= limit as usize {
                break;
            }
            let (key, value) = item.map_err(|e| backend("listing data keys", e))?;
            // The KEK id's key starts with a byte no subject has.
            if key.starts_with(b"\0") {
                continue;
            }
            let subject = std::str::from_utf8(&key)
                .ok()
                .and_then(|s| StreamId::new(s).ok())
                .ok_or_else(|| StoreError::Corrupt {
                    position: 0,
                    reason: "a data key is stored under a key that is not a stream id".into(),
                })?;
            let entry = entry_from(&subject, Some(value))?;
            page.push((subject, entry));
        }
        Ok(page)
    }
}
