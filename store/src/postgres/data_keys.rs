//! The PostgreSQL key store ([`crate::keystore::KeyStore`]): the tables `data_keys` and
//! `key_encryption_key` of migration 5, through the reader's connection (each statement its
//! own transaction, committed with the server's WAL flush like an acknowledgement).

use async_trait::async_trait;

use super::migrations::backend;
use super::{statements, PostgresStore};
use crate::crypto::{KekId, WrappedKey};
use crate::keystore::{DataKeyEntry, KeyStore};
use crate::{StoreError, StreamId};

impl PostgresStore {
    async fn run_key_sql(
        &self,
        template: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        what: &'static str,
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let conn = self.reader.get().await?;
        let sql = statements::sql(template, &self.config.schema);
        conn.client.query(&sql, params).await.map_err(backend(what))
    }
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn kek_id(&self) -> Result<Option<KekId>, StoreError> {
        let rows = self
            .run_key_sql(statements::KEK_ID_SQL, &[], "read the KEK id")
            .await?;
        rows.first()
            .map(|row| {
                KekId::parse(row.get(0)).ok_or_else(|| StoreError::Corrupt {
                    position: 0,
                    reason: "the stored KEK id is not 32 hex digits".into(),
                })
            })
            .transpose()
    }

    async fn claim_kek_id(&self, id: &KekId) -> Result<KekId, StoreError> {
        self.run_key_sql(
            statements::CLAIM_KEK_ID_SQL,
            &[&id.as_str()],
            "record the KEK id",
        )
        .await?;
        self.kek_id().await?.ok_or_else(|| {
            StoreError::Backend("the KEK id was not kept after it was recorded".into())
        })
    }

    async fn data_key(&self, subject: &StreamId) -> Result<DataKeyEntry, StoreError> {
        let rows = self
            .run_key_sql(
                statements::DATA_KEY_SQL,
                &[&subject.as_str()],
                "read a data key",
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(DataKeyEntry::Absent);
        };
        entry_from_row(subject, row.get(0))
    }

    async fn insert_data_key(
        &self,
        subject: &StreamId,
        wrapped: &WrappedKey,
    ) -> Result<DataKeyEntry, StoreError> {
        self.run_key_sql(
            statements::INSERT_DATA_KEY_SQL,
            &[&subject.as_str(), &wrapped.as_bytes()],
            "write a data key",
        )
        .await?;
        self.data_key(subject).await
    }

    async fn destroy_data_key(&self, subject: &StreamId) -> Result<bool, StoreError> {
        let rows = self
            .run_key_sql(
                statements::DESTROY_DATA_KEY_SQL,
                &[&subject.as_str()],
                "destroy a data key",
            )
            .await?;
        Ok(rows.first().is_some_and(|row| row.get::<_, bool>(0)))
    }

    async fn data_keys_page(
        &self,
        after: Option<&StreamId>,
        limit: u32,
    ) -> Result<Vec<(StreamId, DataKeyEntry)>, StoreError> {
        // "" sorts before every subject (each is at least one byte long) in any collation.
        let after = after.map_or("", StreamId::as_str);
        let rows = self
            .run_key_sql(
                statements::DATA_KEYS_PAGE_SQL,
                &[&after, &i64::from(limit)],
                "list data keys",
            )
            .await?;
        rows.iter()
            .map(|row| {
                let subject = StreamId::new(row.get::<_, String>(0))?;
                let entry = entry_from_row(&subject, row.get(1))?;
                Ok((subject, entry))
            })
            .collect()
    }
}

/// The entry a stored `wrapped` column holds (NULL: destroyed).
fn entry_from_row(
    subject: &StreamId,
    wrapped: Option<Vec<u8>>,
) -> Result<DataKeyEntry, StoreError> {
    Ok(match wrapped {
        None => DataKeyEntry::Destroyed,
        Some(bytes) => {
            let len = bytes.len();
            DataKeyEntry::Wrapped(WrappedKey::from_stored(bytes).ok_or_else(|| {
                StoreError::Corrupt {
                    position: 0,
                    reason: format!(
                        "the stored data key of {subject} is {len} bytes, not a wrapped key"
                    ),
                }
            })?)
        }
    })
}
