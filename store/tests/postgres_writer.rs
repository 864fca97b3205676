//! The PostgreSQL writer's two-round-trip transaction (BEGIN + lock + reads pipelined; the
//! one write statement + COMMIT pipelined) against a real server: a write the server refuses
//! stores nothing, leaves the head where it was and the connection usable; a write that
//! silently loses rows (a hand-added trigger) cannot move the head, so nothing is committed.

mod postgres_support;

use caseledger_store::{EventStore, ExpectedVersion, StoreError, StreamId};
use postgres_support::{event, server, TestSchema};
use uuid::Uuid;

fn crn(s: &str) -> StreamId {
    StreamId::new(s).unwrap()
}

async fn count_events(schema: &TestSchema) -> i64 {
    let client = schema.client().await;
    let row = client
        .query_one(&format!("SELECT count(*) FROM {}.events", schema.name), &[])
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn a_write_the_server_refuses_stores_nothing_and_the_next_append_works() {
    let Some(url) = server().await else { return };
    let schema = TestSchema::new(&url);
    let store = schema.open().await;
    let stream = crn("X100001");
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![event(1, "CaseOpened", b"a")],
            None,
        )
        .await
        .unwrap();
    // An operator's trigger refuses one event type.
    let client = schema.client().await;
    client
        .batch_execute(&format!(
            "CREATE FUNCTION {s}.refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.event_type = 'Bad' THEN RAISE EXCEPTION 'bad event type'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER refuse_bad BEFORE INSERT ON {s}.events \
             FOR EACH ROW EXECUTE FUNCTION {s}.refuse_bad();",
            s = schema.name
        ))
        .await
        .unwrap();
    let refused = store
        .append(
            &stream,
            ExpectedVersion::Exact(1),
            vec![event(2, "Bad", b"b")],
            Some(Uuid::from_u128(77)),
        )
        .await
        .unwrap_err();
    match &refused {
        StoreError::Backend(message) => {
            assert!(message.contains("nothing of it was stored"), "{message}");
            assert!(message.contains("bad event type"), "{message}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    assert_eq!(store.head().await.unwrap(), 1);
    assert_eq!(count_events(&schema).await, 1);
    // The key was not stored either: the same key may be used for the retry.
    let after = store
        .append(
            &stream,
            ExpectedVersion::Exact(1),
            vec![event(3, "Good", b"c")],
            Some(Uuid::from_u128(77)),
        )
        .await
        .unwrap();
    assert_eq!((after.first_position, after.deduplicated), (2, false));
    assert!(store.verify(1, None).await.unwrap().is_ok());
}

#[tokio::test]
async fn a_write_that_loses_rows_cannot_move_the_head_so_nothing_is_committed() {
    let Some(url) = server().await else { return };
    let schema = TestSchema::new(&url);
    let store = schema.open().await;
    let stream = crn("X100002");
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![event(10, "CaseOpened", b"a")],
            None,
        )
        .await
        .unwrap();
    // A hand-added trigger that silently drops one event type's rows (returns NULL).
    let client = schema.client().await;
    client
        .batch_execute(&format!(
            "CREATE FUNCTION {s}.drop_lost() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.event_type = 'Lost' THEN RETURN NULL; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER drop_lost BEFORE INSERT ON {s}.events \
             FOR EACH ROW EXECUTE FUNCTION {s}.drop_lost();",
            s = schema.name
        ))
        .await
        .unwrap();
    let e = store
        .append(
            &stream,
            ExpectedVersion::Exact(1),
            vec![event(11, "Kept", b"b"), event(12, "Lost", b"c")],
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Backend(m) if m.contains("nothing of it was stored")),
        "{e:?}"
    );
    // Neither the kept row nor the head made it: the batch is all or nothing.
    assert_eq!(store.head().await.unwrap(), 1);
    assert_eq!(count_events(&schema).await, 1);
    assert_eq!(store.read_stream(&stream, 1).await.unwrap().len(), 1);
}
