//! `caseledger serve` (the HTTP API of src/serve/) and `caseledger token` (a development
//! token signed with the server's HS256 secret file).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use caseledger_commands::Role;
use caseledger_projections::ReadModelDb;

use crate::cli_ops::{self, Failure, StoreArgs};
use crate::cli_publish::RelayArgs;
use crate::engine::StoreConfig;
use crate::relay::RelayConfig;
use crate::serve::auth::{read_hs256_secret, sign_hs256, Authenticator, DevClaims};
use crate::serve::{metrics::Metrics, AppState};

/// Longest lifetime `caseledger token` signs, in minutes (a development token, not a login).
pub const DEV_TOKEN_TTL_MINUTES_MAX: u64 = 24 * 60;

/// How the server verifies tokens: exactly one of the two.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct KeyArgs {
    /// HS256: the file's bytes, one trailing newline removed, are the HMAC key (≥ 32 bytes).
    #[arg(long, value_name = "FILE")]
    pub jwt_hs256_secret_file: Option<PathBuf>,
    /// RS256/ES256: the public keys of a JWKS file ({"keys": [...]}).
    #[arg(long, value_name = "FILE")]
    pub jwks_file: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub listen: String,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Log lines as `text` or `json` (one JSON object per line), on stderr.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Publish domain events to this NATS server while serving (the relay of `caseledger
    /// publish --follow`, in this process), e.g. nats://127.0.0.1:4222.
    #[arg(long, value_name = "URL")]
    pub publish_nats: Option<String>,
    /// The base URL clients reach this server at; published messages' detailUrl points into
    /// it (default: http:// and the listening address).
    #[arg(long, value_name = "URL", requires = "publish_nats")]
    pub public_url: Option<String>,
    /// Where and how the relay publishes (with --publish-nats).
    #[command(flatten, next_help_heading = "Publishing (with --publish-nats)")]
    pub relay: RelayArgs,
}

impl ServeArgs {
    /// The relay to run while serving at `local_url`, or `None` without `--publish-nats`.
    fn relay_config(&self, local_url: &str) -> Result<Option<RelayConfig>, Failure> {
        let Some(nats) = &self.publish_nats else {
            if self.relay != RelayArgs::default() {
                return Err(Failure::Usage(
                    "--stream, --subject-prefix, --consumer and --in-flight configure the \
                     relay: give --publish-nats URL too"
                        .into(),
                ));
            }
            return Ok(None);
        };
        let base = self.public_url.as_deref().unwrap_or(local_url);
        self.relay.config(nats, base, "--public-url").map(Some)
    }
}

#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    /// The server's HS256 secret file.
    #[arg(long, value_name = "FILE")]
    pub secret_file: PathBuf,
    /// The actor id (`sub`).
    #[arg(long)]
    pub sub: String,
    /// One of the roles of docs/commands.md (not `system`).
    #[arg(long)]
    pub role: String,
    /// nps, crc:<name>, prison, court, … (as a command's actor.organisation).
    #[arg(long)]
    pub organisation: String,
    /// Lifetime in minutes (at most a day).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=DEV_TOKEN_TTL_MINUTES_MAX))]
    pub ttl_minutes: u64,
}

/// Print a development token signed with the secret file.
pub fn token(args: &TokenArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let role = Role::parse(&args.role)
        .filter(|r| *r != Role::System)
        .ok_or_else(|| {
            Failure::Usage(format!(
                "--role: {:?} is not a role a token can carry (see docs/commands.md; not system)",
                args.role
            ))
        })?;
    caseledger_commands::envelope::parse_organisation(&args.organisation)
        .map_err(|e| Failure::Usage(format!("--organisation: {}", e.message)))?;
    let secret = read_hs256_secret(&args.secret_file)
        .map_err(|e| Failure::Usage(format!("--secret-file: {e}")))?;
    let exp = jiff::Timestamp::now().as_second().max(0) as u64 + args.ttl_minutes * 60;
    let claims = DevClaims {
        sub: args.sub.clone(),
        role: role.as_str().to_owned(),
        organisation: args.organisation.clone(),
        exp,
    };
    let token = sign_hs256(&secret, &claims).map_err(Failure::Failed)?;
    writeln!(out, "{token}").map_err(|e| Failure::Failed(e.to_string()))
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CASELEDGER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init()
    } else {
        builder.try_init()
    };
}

/// Open the store and the read models in `store`, listen on `args.listen`, serve until
/// SIGTERM or Ctrl-C.
pub async fn serve(store: &StoreArgs, args: &ServeArgs) -> Result<(), Failure> {
    init_logging(&args.log_format);
    let auth = match (&args.keys.jwt_hs256_secret_file, &args.keys.jwks_file) {
        (Some(secret), None) => Authenticator::hs256(
            &read_hs256_secret(secret)
                .map_err(|e| Failure::Usage(format!("--jwt-hs256-secret-file: {e}")))?,
        ),
        (None, Some(jwks)) => Authenticator::jwks_file(jwks)
            .map_err(|e| Failure::Usage(format!("--jwks-file: {e}")))?,
        _ => {
            return Err(Failure::Usage(
                "give one of --jwt-hs256-secret-file or --jwks-file".into(),
            ))
        }
    };
    // Relay arguments are checked before anything is opened or bound.
    args.relay_config("http://localhost")?;
    let store_kind = match store.engine_config()?.store {
        StoreConfig::Memory => "memory",
        StoreConfig::Sled { .. } => "sled",
        StoreConfig::Postgres { .. } => "postgres",
    };
    let engine = cli_ops::open_quiet(store).await?;
    if let Some(path) = engine.key_file_created() {
        tracing::warn!(
            key_file = %path.display(),
            "created the key-encryption key file: keep it apart from the data and back it up; \
             this store does not open without it"
        );
    }
    let readmodels_dir = store.readmodels_dir()?;
    let readmodels = ReadModelDb::open(&readmodels_dir).map_err(|e| match e {
        caseledger_projections::ProjectionError::DatabaseInUse { .. } => {
            Failure::InUse(e.to_string())
        }
        other => Failure::Failed(other.to_string()),
    })?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| Failure::Usage(format!("--listen {}: {e}", args.listen)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let relay = args.relay_config(&format!("http://{local}"))?;
    let state = Arc::new(AppState {
        engine: Arc::new(engine),
        auth,
        metrics: Metrics::default(),
        case_locks: Default::default(),
        readmodels: Some(Arc::new(readmodels)),
        store_kind,
        relay,
    });
    println!("listening on http://{local}");
    let _ = std::io::stdout().flush();
    tracing::info!(address = %local, store = store_kind, "listening");
    crate::serve::serve(state, listener, crate::serve::shutdown_signal())
        .await
        .map_err(|e| Failure::Failed(format!("serving: {e}")))
}
