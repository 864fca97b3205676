//! `caseledger publish`: the NATS JetStream relay ([`crate::relay`]) on the log in
//! `--data`/`--store`.

use std::io::Write;

use clap::Args;

use crate::cli_ops::{Failure, StoreArgs};
use crate::domain_event::{DetailBaseUrl, DomainEventError};
use crate::engine::EngineError;
use crate::relay::{self, RelayConfig, RelayError};

/// Where and how the relay publishes: the same options for `caseledger publish` and
/// `caseledger serve --publish-nats`.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct RelayArgs {
    /// The JetStream stream (created with the documented settings when missing).
    #[arg(long, default_value = relay::STREAM_DEFAULT)]
    pub stream: String,
    /// Subjects are <prefix>.<eventType>.
    #[arg(long, default_value = relay::SUBJECT_PREFIX_DEFAULT)]
    pub subject_prefix: String,
    /// The durable consumer whose checkpoint the relay keeps.
    #[arg(long, default_value = relay::CONSUMER_DEFAULT)]
    pub consumer: String,
    /// Publishes awaiting the broker's acknowledgement at once.
    #[arg(long, default_value_t = relay::IN_FLIGHT_MAX_DEFAULT)]
    pub in_flight: usize,
}

impl Default for RelayArgs {
    fn default() -> Self {
        RelayArgs {
            stream: relay::STREAM_DEFAULT.to_owned(),
            subject_prefix: relay::SUBJECT_PREFIX_DEFAULT.to_owned(),
            consumer: relay::CONSUMER_DEFAULT.to_owned(),
            in_flight: relay::IN_FLIGHT_MAX_DEFAULT,
        }
    }
}

impl RelayArgs {
    /// The relay's configuration for the server at `nats`, checked; `detail_base_url` is
    /// named `flag` in an error.
    pub fn config(
        &self,
        nats: &str,
        detail_base_url: &str,
        flag: &str,
    ) -> Result<RelayConfig, Failure> {
        let base = DetailBaseUrl::new(detail_base_url).map_err(|e| match e {
            DomainEventError::BadDetailBaseUrl { url, reason } => {
                Failure::Usage(format!("{flag} {url:?}: {reason}"))
            }
            other => Failure::Usage(other.to_string()),
        })?;
        let mut config = RelayConfig::new(nats, base);
        config.stream = self.stream.clone();
        config.subject_prefix = self.subject_prefix.clone();
        config.consumer = self.consumer.clone();
        config.in_flight_max = self.in_flight;
        config
            .validate()
            .map_err(|e| Failure::Usage(e.to_string()))?;
        Ok(config)
    }
}

/// Arguments of `caseledger publish`.
#[derive(Args, Clone, Debug)]
pub struct PublishArgs {
    /// The NATS server, e.g. nats://127.0.0.1:4222.
    #[arg(long, value_name = "URL")]
    pub nats: String,
    #[command(flatten)]
    pub relay: RelayArgs,
    /// Keep publishing new events until interrupted (SIGINT or SIGTERM).
    #[arg(long)]
    pub follow: bool,
    /// The base URL of the serve API that each message's detailUrl points into.
    #[arg(long, default_value = "http://localhost:8080")]
    pub detail_base_url: String,
    /// Give up after this long without publishing anything while NATS fails.
    #[arg(long, default_value_t = relay::RETRY_MS_MAX_DEFAULT)]
    pub retry_ms_max: u64,
}

impl PublishArgs {
    fn config(&self) -> Result<RelayConfig, Failure> {
        let mut config =
            self.relay
                .config(&self.nats, &self.detail_base_url, "--detail-base-url")?;
        config.follow = self.follow;
        config.retry_ms_max = self.retry_ms_max;
        Ok(config)
    }
}

/// Run the relay; print what it did once caught up (or stopped).
pub async fn publish(
    args: &StoreArgs,
    publish: &PublishArgs,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let config = publish.config()?;
    let engine = crate::cli_ops::open_existing(args).await?;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install the SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        stop.send_replace(true);
    });
    let mut on_error = |e: &RelayError| eprintln!("caseledger publish: {e}; retrying");
    let report = relay::run(engine.store().clone(), &config, shutdown, &mut on_error)
        .await
        .map_err(|e| match e {
            RelayError::BadArgument(m) => Failure::Usage(m),
            RelayError::Store(e) => Failure::from(EngineError::from(e)),
            other => Failure::Failed(other.to_string()),
        })?;
    writeln!(
        out,
        "published {} domain events ({} already in the stream, {} duplicates dropped by the \
         broker, {} events not publishable); consumer {} at position {}",
        report.published,
        report.found_in_stream,
        report.duplicates,
        report.withheld,
        config.consumer,
        report.checkpoint
    )
    .map_err(|e| Failure::Failed(format!("cannot write: {e}")))
}
