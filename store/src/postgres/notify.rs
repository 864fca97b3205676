//! Feeding `watch_head` from other processes' commits.
//!
//! A dedicated connection LISTENs on `<schema>_head`; every append transaction calls
//! `pg_notify` with its new head, and PostgreSQL delivers notifications only at commit and in
//! commit order, so a notification never announces a position that is not yet visible. A slow
//! poll of the head row is the safety net for notifications lost while this connection was
//! down. The head only ever moves up ([`super::raise_head`]).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_postgres::AsyncMessage;

use super::config::PostgresConfig;

/// Longest pause between reconnection attempts of the listening connection, in milliseconds.
pub const LISTEN_RECONNECT_DELAY_MS_MAX: u64 = 5_000;
/// First pause after the listening connection is lost, in milliseconds (doubles to the max).
pub const LISTEN_RECONNECT_DELAY_MS_MIN: u64 = 50;

/// Listen and poll until the task is aborted (when the store is dropped).
pub(crate) async fn run(config: PostgresConfig, head: Arc<watch::Sender<u64>>) {
    let mut delay_ms = LISTEN_RECONNECT_DELAY_MS_MIN;
    loop {
        if listen_once(&config, &head).await {
            delay_ms = LISTEN_RECONNECT_DELAY_MS_MIN;
        }
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        delay_ms = (delay_ms * 2).min(LISTEN_RECONNECT_DELAY_MS_MAX);
    }
}

/// One connection's life. Returns whether it got as far as listening.
async fn listen_once(config: &PostgresConfig, head: &watch::Sender<u64>) -> bool {
    let Ok((client, mut connection)) = config.client.connect(config.tls_connector()).await else {
        return false;
    };
    let (message_tx, mut messages) = tokio::sync::mpsc::unbounded_channel();
    // Drive the connection; forward notifications. Ends when the connection does.
    let driver = tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = stream.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if message_tx.send(n.payload().to_owned()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    let head_sql = super::statements::sql(super::statements::HEAD_SQL, &config.schema);
    let listening = client
        .batch_execute(&format!("LISTEN {}", config.channel()))
        .await
        .is_ok();
    if listening {
        let mut poll = tokio::time::interval(config.head_poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                payload = messages.recv() => match payload {
                    // The payload is the committed head; an unparsable one only triggers a read.
                    Some(payload) => match payload.parse::<u64>() {
                        Ok(position) => super::raise_head(head, position),
                        Err(_) => poll.reset_immediately(),
                    },
                    None => break,
                },
                _ = poll.tick() => match client.query_one(head_sql.as_str(), &[]).await {
                    Ok(row) => {
                        if let Ok(position) = u64::try_from(row.get::<_, i64>(0)) {
                            super::raise_head(head, position);
                        }
                    }
                    Err(_) => break,
                },
            }
        }
    }
    drop(client);
    driver.abort();
    listening
}
