//! Where the PostgreSQL log lives: a connection URL plus the schema that holds the tables.
//!
//! The URL is what operators already write for `psql` (`postgres://user@host:port/db`). The
//! schema is part of the configuration (default [`SCHEMA_DEFAULT`]) so one database can hold
//! several independent logs (one per test, one per environment); it may be given in the URL as
//! `?schema=name`, which is stripped before the URL reaches the client library.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use super::tls::{self, SslMode};

mod password;

use password::password_from;
pub use password::PASSWORD_FILE_BYTES_MAX;

/// Schema used when none is configured.
pub const SCHEMA_DEFAULT: &str = "caseledger";
/// Longest schema name accepted, in bytes. PostgreSQL identifiers stop at 63 bytes; the NOTIFY
/// channel is `<schema>_head`, so the schema keeps 5 bytes of room for that suffix.
pub const SCHEMA_NAME_BYTES_MAX: usize = 58;
/// Longest connection URL accepted, in bytes: a URL is a line of configuration, not a document.
pub const URL_BYTES_MAX: usize = 4_096;
/// How long one connection attempt may take before the store gives up and says so.
pub const CONNECT_TIMEOUT_MS_DEFAULT: u64 = 5_000;
/// How often the subscription safety net re-reads the head, in milliseconds. LISTEN/NOTIFY is
/// the fast path; this only bounds the delay if a notification is ever lost (e.g. while the
/// listening connection reconnects).
pub const HEAD_POLL_INTERVAL_MS_DEFAULT: u64 = 1_000;

/// Session settings of every connection the store opens. `force_custom_plan`: a prepared
/// statement is planned for each execution against the table as it is then, never run from a
/// generic plan cached while `events` was small (a sequential scan that stays cached as the
/// table grows made an import quadratic; docs/operations.md "Query plans").
pub const SESSION_OPTIONS: &str = "-c plan_cache_mode=force_custom_plan";

/// Everything needed to open a [`super::PostgresStore`].
#[derive(Clone)]
pub struct PostgresConfig {
    pub(crate) client: tokio_postgres::Config,
    pub(crate) schema: String,
    pub(crate) head_poll_interval: Duration,
    pub(crate) ssl_mode: SslMode,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    allow_public_schema: bool,
}

/// Where a configuration may find what the URL leaves out, as libpq does: the password
/// (`PGPASSWORD`, then the password file `PGPASSFILE` or `~/.pgpass`) and the TLS mode
/// (`PGSSLMODE`, `PGSSLROOTCERT`). [`PostgresConfig::from_url`] reads them from the process
/// environment; tests pass their own.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub home: Option<PathBuf>,
    pub ssl_mode: Option<String>,
    pub ssl_root_cert: Option<PathBuf>,
}

impl Environment {
    /// The process environment.
    pub fn current() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        Environment {
            password: var("PGPASSWORD"),
            password_file: var("PGPASSFILE").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
            ssl_mode: var("PGSSLMODE"),
            ssl_root_cert: var("PGSSLROOTCERT").map(PathBuf::from),
        }
    }

    /// None of the above: only the URL counts.
    pub fn none() -> Self {
        Environment::default()
    }
}

/// A configuration that cannot be used, with what to change.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum PostgresConfigError {
    #[error("PostgreSQL URL is {bytes} bytes; at most {max} allowed")]
    UrlTooLong { bytes: usize, max: usize },
    #[error("PostgreSQL URL {url:?} is not valid ({reason}); write it as postgres://user@host:5432/database[?schema=name]")]
    InvalidUrl { url: String, reason: String },
    #[error("PostgreSQL schema name {schema:?} {reason}; use 1..={max} bytes of lower-case ASCII letters, digits and '_', not starting with a digit", max = SCHEMA_NAME_BYTES_MAX)]
    InvalidSchema { schema: String, reason: String },
    #[error("PostgreSQL URL gives the schema twice; keep one `schema=` parameter")]
    SchemaGivenTwice,
    #[error("PostgreSQL URL gives `{name}` twice; keep one")]
    ParameterGivenTwice { name: &'static str },
    #[error("PostgreSQL schema `public` refused: it is shared with every other application in the database; name a schema of caseledger's own (?schema=caseledger), or add `allow_public_schema=true` to the URL if the database is caseledger's alone")]
    PublicSchema,
    #[error("PostgreSQL URL: allow_public_schema={value:?}; write true or false")]
    InvalidFlag { value: String },
    #[error("PostgreSQL sslmode {value:?} is not supported; use disable, prefer, require, verify-ca or verify-full")]
    InvalidSslMode { value: String },
    #[error("PostgreSQL sslmode={mode} needs the CA certificate to check the server against: add sslrootcert=/path/to/ca.pem to the URL (or set PGSSLROOTCERT)")]
    RootCertMissing { mode: &'static str },
    #[error("PostgreSQL sslrootcert {path}: {reason}; give a readable PEM file of the CA certificate(s)")]
    RootCert { path: String, reason: String },
    #[error("PostgreSQL TLS: {reason}")]
    Tls { reason: String },
    #[error("PostgreSQL password file {path}: {reason}")]
    PasswordFile { path: String, reason: String },
}

impl PostgresConfig {
    /// Parse a `postgres://` (or `postgresql://`) URL, taking what it leaves out (password,
    /// TLS mode) from the process environment as libpq does ([`Environment::current`]).
    ///
    /// Parameters caseledger reads itself: `schema=` (default [`SCHEMA_DEFAULT`]; `public` only
    /// with `allow_public_schema=true`), `sslmode=` (disable, prefer (default), require,
    /// verify-ca, verify-full; see [`super::tls`]) and `sslrootcert=`. The others go to
    /// tokio-postgres (`connect_timeout`, `application_name`, …).
    pub fn from_url(url: &str) -> Result<Self, PostgresConfigError> {
        Self::from_url_with(url, &Environment::current())
    }

    /// [`Self::from_url`] with the given environment instead of the process's.
    pub fn from_url_with(
        url: &str,
        environment: &Environment,
    ) -> Result<Self, PostgresConfigError> {
        if url.len() > URL_BYTES_MAX {
            return Err(PostgresConfigError::UrlTooLong {
                bytes: url.len(),
                max: URL_BYTES_MAX,
            });
        }
        let redacted = redact_url(url);
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(PostgresConfigError::InvalidUrl {
                url: redacted,
                reason: "it must start with postgres:// or postgresql://".into(),
            });
        }
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, query),
            None => (url, ""),
        };
        let mut ours = OwnParameters::default();
        let mut rest: Vec<&str> = Vec::new();
        for parameter in query.split('&').filter(|p| !p.is_empty()) {
            if !ours.take(parameter)? {
                rest.push(parameter);
            }
        }
        let client_url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut client = tokio_postgres::Config::from_str(&client_url).map_err(|e| {
            PostgresConfigError::InvalidUrl {
                url: redacted.clone(),
                reason: e.to_string(),
            }
        })?;
        if client.get_hosts().is_empty() {
            return Err(PostgresConfigError::InvalidUrl {
                url: redacted,
                reason: "it names no host".into(),
            });
        }
        if client.get_connect_timeout().is_none() {
            client.connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS_DEFAULT));
        }
        if client.get_application_name().is_none() {
            client.application_name("caseledger");
        }
        let options = match client.get_options() {
            Some(given) => format!("{given} {SESSION_OPTIONS}"),
            None => SESSION_OPTIONS.to_owned(),
        };
        client.options(&options);
        let ssl_mode = match (&ours.ssl_mode, &environment.ssl_mode) {
            (Some(mode), _) | (None, Some(mode)) => SslMode::parse(mode)?,
            (None, None) => SslMode::Prefer,
        };
        client.ssl_mode(ssl_mode.client_mode());
        let root_cert = ours
            .ssl_root_cert
            .map(PathBuf::from)
            .or_else(|| environment.ssl_root_cert.clone());
        let tls = tls::client_config(ssl_mode, root_cert.as_deref())?;
        if client.get_password().is_none() {
            if let Some(password) = password_from(&client, environment)? {
                client.password(password);
            }
        }
        let config = PostgresConfig {
            client,
            schema: SCHEMA_DEFAULT.to_owned(),
            head_poll_interval: Duration::from_millis(HEAD_POLL_INTERVAL_MS_DEFAULT),
            ssl_mode,
            tls,
            allow_public_schema: ours.allow_public_schema,
        };
        match ours.schema {
            Some(schema) => config.with_schema(&schema),
            None => Ok(config),
        }
    }

    /// The TLS mode in force.
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// Let [`Self::with_schema`] use `public` (the URL's `allow_public_schema=true`).
    pub fn allow_public_schema(mut self, allow: bool) -> Self {
        self.allow_public_schema = allow;
        self
    }

    /// Use `schema` instead of the one in the URL (or the default).
    pub fn with_schema(mut self, schema: &str) -> Result<Self, PostgresConfigError> {
        validate_schema(schema)?;
        if schema == "public" && !self.allow_public_schema {
            return Err(PostgresConfigError::PublicSchema);
        }
        self.schema = schema.to_owned();
        Ok(self)
    }

    /// How often the subscription safety net polls the head (at least 10 ms).
    pub fn with_head_poll_interval(mut self, interval: Duration) -> Self {
        self.head_poll_interval = interval.max(Duration::from_millis(10));
        self
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The TLS connector for every connection of this configuration (used only when the
    /// `sslmode` asks for TLS and the server offers it).
    pub(crate) fn tls_connector(&self) -> tokio_postgres_rustls::MakeRustlsConnect {
        tokio_postgres_rustls::MakeRustlsConnect::new((*self.tls).clone())
    }

    /// Name of the NOTIFY channel that carries the new head after each commit.
    pub(crate) fn channel(&self) -> String {
        format!("{}_head", self.schema)
    }

    /// Where the store connects, without credentials: safe for logs and error messages.
    pub fn describe(&self) -> String {
        let host = match self.client.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "?".into(),
        };
        let port = self.client.get_ports().first().copied().unwrap_or(5432);
        format!(
            "postgres://{}@{}:{}/{} (schema {}, sslmode {})",
            self.client.get_user().unwrap_or("?"),
            host,
            port,
            self.client.get_dbname().unwrap_or("?"),
            self.schema,
            self.ssl_mode.as_str()
        )
    }
}

impl PostgresConfig {
    /// A file-name-safe key for this log's location (host, port, database, schema; never the
    /// user or password), e.g. `127.0.0.1-5432-test-caseledger`. Local state derived from
    /// the log (the CLI's read models) is kept under it, so state built from one log is
    /// never mixed with another's.
    pub fn location_key(&self) -> String {
        let host = match self.client.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => String::new(),
        };
        let port = self.client.get_ports().first().copied().unwrap_or(5432);
        let database = self
            .client
            .get_dbname()
            .or(self.client.get_user())
            .unwrap_or("");
        let safe = |text: &str| -> String {
            text.chars()
                .take(LOCATION_KEY_PART_CHARS_MAX)
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        format!(
            "{}-{port}-{}-{}",
            safe(&host),
            safe(database),
            safe(&self.schema)
        )
    }
}

/// Longest host or database name kept in a [`PostgresConfig::location_key`], in characters:
/// the key becomes a directory name, and file systems limit those to 255 bytes.
pub const LOCATION_KEY_PART_CHARS_MAX: usize = 64;

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The schema name is spliced into SQL text (identifiers cannot be bind parameters), so only
/// plain lower-case identifiers are accepted: no quoting, no injection, no case surprises.
pub fn validate_schema(schema: &str) -> Result<(), PostgresConfigError> {
    let bad = |reason: &str| PostgresConfigError::InvalidSchema {
        schema: schema.chars().take(80).collect(),
        reason: reason.to_owned(),
    };
    if schema.is_empty() {
        return Err(bad("is empty"));
    }
    if schema.len() > SCHEMA_NAME_BYTES_MAX {
        return Err(bad("is too long"));
    }
    if schema.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(bad("starts with a digit"));
    }
    if schema.starts_with("pg_") {
        return Err(bad("starts with pg_, which PostgreSQL reserves"));
    }
    if let Some(c) = schema
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(bad(&format!("contains {c:?}")));
    }
    Ok(())
}

/// The URL parameters caseledger reads itself (the rest go to tokio-postgres).
#[derive(Default)]
struct OwnParameters {
    schema: Option<String>,
    ssl_mode: Option<String>,
    ssl_root_cert: Option<String>,
    allow_public_schema: bool,
    allow_given: bool,
}

impl OwnParameters {
    /// Take `parameter` if it is one of ours; `false` if it is for tokio-postgres.
    fn take(&mut self, parameter: &str) -> Result<bool, PostgresConfigError> {
        let Some((name, value)) = parameter.split_once('=') else {
            return Ok(false);
        };
        let value = percent_decode(value);
        let slot = match name {
            "schema" => {
                if self.schema.is_some() {
                    return Err(PostgresConfigError::SchemaGivenTwice);
                }
                self.schema = Some(value);
                return Ok(true);
            }
            "allow_public_schema" => {
                if self.allow_given {
                    return Err(PostgresConfigError::ParameterGivenTwice {
                        name: "allow_public_schema",
                    });
                }
                self.allow_given = true;
                self.allow_public_schema = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(PostgresConfigError::InvalidFlag { value }),
                };
                return Ok(true);
            }
            "sslmode" => (&mut self.ssl_mode, "sslmode"),
            "sslrootcert" => (&mut self.ssl_root_cert, "sslrootcert"),
            _ => return Ok(false),
        };
        if slot.0.is_some() {
            return Err(PostgresConfigError::ParameterGivenTwice { name: slot.1 });
        }
        *slot.0 = Some(value);
        Ok(true)
    }
}

/// `%XX` escapes decoded (a path in `sslrootcert` may contain them); anything malformed is
/// kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Replace a password in `url` with `***` so it never reaches an error message or a log.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.chars().take(200).collect();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once("password=") {
        Some((before, _)) => format!("{before}password=***"),
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn url_with_schema_parameter_selects_the_schema() {
        let c = PostgresConfig::from_url("postgres://postgres@127.0.0.1:5432/test?schema=ledger_a")
            .unwrap();
        assert_eq!(c.schema(), "ledger_a");
        assert_eq!(
            c.describe(),
            "postgres://postgres@127.0.0.1:5432/test (schema ledger_a, sslmode prefer)"
        );
        assert_eq!(c.channel(), "ledger_a_head");
    }

    #[test]
    fn url_without_schema_uses_the_default_and_keeps_client_options() {
        let c = PostgresConfig::from_url(
            "postgresql://root@localhost/test?connect_timeout=2&schema=s1&application_name=x",
        )
        .unwrap();
        assert_eq!(c.schema(), "s1");
        assert_eq!(
            c.client.get_connect_timeout(),
            Some(&Duration::from_secs(2))
        );
        assert_eq!(c.client.get_application_name(), Some("x"));
        let d = PostgresConfig::from_url("postgres://root@localhost/test").unwrap();
        assert_eq!(d.schema(), SCHEMA_DEFAULT);
    }

    #[test]
    fn bad_urls_are_typed_errors_without_the_password() {
        let e = PostgresConfig::from_url("mysql://u:secret@h/db").unwrap_err();
        assert!(matches!(e, PostgresConfigError::InvalidUrl { .. }));
        assert!(!e.to_string().contains("secret"), "{e}");
        let e = PostgresConfig::from_url("postgres://u:secret@h/db?bogus=1").unwrap_err();
        assert!(matches!(e, PostgresConfigError::InvalidUrl { .. }));
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(e.to_string().contains("u:***@h"), "{e}");
        assert_eq!(
            PostgresConfig::from_url("postgres://h/db?schema=a&schema=b").unwrap_err(),
            PostgresConfigError::SchemaGivenTwice
        );
        let long = format!("postgres://h/{}", "d".repeat(URL_BYTES_MAX));
        assert!(matches!(
            PostgresConfig::from_url(&long).unwrap_err(),
            PostgresConfigError::UrlTooLong { .. }
        ));
    }

    #[test]
    fn location_key_names_host_port_database_and_schema_but_no_credentials() {
        let c =
            PostgresConfig::from_url("postgres://alice:s3cret@db.example:6543/prod?schema=ledger")
                .unwrap();
        assert_eq!(c.location_key(), "db.example-6543-prod-ledger");
        let d = PostgresConfig::from_url("postgres://alice@127.0.0.1/test").unwrap();
        assert_eq!(d.location_key(), "127.0.0.1-5432-test-caseledger");
        let odd = PostgresConfig::from_url("postgres://u@h/we%2Fird%20db").unwrap();
        let key = odd.location_key();
        assert!(!key.contains('/') && !key.contains(' '), "{key}");
        assert!(!c.location_key().contains("s3cret") && !c.location_key().contains("alice"));
    }

    #[test]
    fn schema_names_that_could_escape_sql_are_refused() {
        for bad in [
            "",
            "Caseledger",
            "a-b",
            "a;drop table x",
            "a\"b",
            "1abc",
            "pg_catalog",
            "ünïcode",
        ] {
            assert!(
                matches!(
                    validate_schema(bad),
                    Err(PostgresConfigError::InvalidSchema { .. })
                ),
                "{bad:?} accepted"
            );
        }
        assert!(validate_schema(&"a".repeat(SCHEMA_NAME_BYTES_MAX)).is_ok());
        assert!(validate_schema(&"a".repeat(SCHEMA_NAME_BYTES_MAX + 1)).is_err());
        assert!(validate_schema("caseledger_test_12_3").is_ok());
    }

    fn no_env() -> Environment {
        Environment::none()
    }

    #[test]
    fn the_public_schema_is_refused_unless_allowed_explicitly() {
        let e = PostgresConfig::from_url_with("postgres://u@h/db?schema=public", &no_env())
            .unwrap_err();
        assert_eq!(e, PostgresConfigError::PublicSchema);
        assert!(e.to_string().contains("allow_public_schema=true"), "{e}");
        let c = PostgresConfig::from_url_with(
            "postgres://u@h/db?allow_public_schema=true&schema=public",
            &no_env(),
        )
        .unwrap();
        assert_eq!(c.schema(), "public");
        // Allowed in the URL but another schema named: that one is used.
        let c =
            PostgresConfig::from_url_with("postgres://u@h/db?allow_public_schema=true", &no_env())
                .unwrap();
        assert_eq!(c.schema(), SCHEMA_DEFAULT);
        let d = PostgresConfig::from_url_with("postgres://u@h/db", &no_env()).unwrap();
        assert_eq!(
            d.clone().with_schema("public").unwrap_err(),
            PostgresConfigError::PublicSchema
        );
        assert_eq!(
            d.allow_public_schema(true)
                .with_schema("public")
                .unwrap()
                .schema(),
            "public"
        );
        assert!(matches!(
            PostgresConfig::from_url_with("postgres://u@h/db?allow_public_schema=yes", &no_env()),
            Err(PostgresConfigError::InvalidFlag { .. })
        ));
    }

    #[test]
    fn sslmode_is_read_from_the_url_or_the_environment_and_verifying_needs_a_ca() {
        let mode = |url: &str, env: &Environment| {
            PostgresConfig::from_url_with(url, env).map(|c| (c.ssl_mode(), c.client.get_ssl_mode()))
        };
        use tokio_postgres::config::SslMode as Client;
        assert_eq!(
            mode("postgres://u@h/db", &no_env()).unwrap(),
            (SslMode::Prefer, Client::Prefer)
        );
        assert_eq!(
            mode("postgres://u@h/db?sslmode=disable", &no_env()).unwrap(),
            (SslMode::Disable, Client::Disable)
        );
        assert_eq!(
            mode("postgres://u@h/db?sslmode=require", &no_env()).unwrap(),
            (SslMode::Require, Client::Require)
        );
        let env = Environment {
            ssl_mode: Some("require".into()),
            ..Environment::none()
        };
        assert_eq!(mode("postgres://u@h/db", &env).unwrap().0, SslMode::Require);
        // The URL wins over the environment.
        assert_eq!(
            mode("postgres://u@h/db?sslmode=disable", &env).unwrap().0,
            SslMode::Disable
        );
        assert!(matches!(
            mode("postgres://u@h/db?sslmode=allow", &no_env()),
            Err(PostgresConfigError::InvalidSslMode { .. })
        ));
        assert!(matches!(
            mode("postgres://u@h/db?sslmode=verify-full", &no_env()),
            Err(PostgresConfigError::RootCertMissing {
                mode: "verify-full"
            })
        ));
        let missing = mode(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            &no_env(),
        )
        .unwrap_err();
        assert!(
            matches!(missing, PostgresConfigError::RootCert { .. }),
            "{missing}"
        );
        assert!(
            missing.to_string().contains("/nonexistent/ca.pem"),
            "{missing}"
        );
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "not a certificate").unwrap();
        let url = format!(
            "postgres://u@h/db?sslmode=verify-ca&sslrootcert={}",
            not_pem.display()
        );
        assert!(matches!(
            mode(&url, &no_env()),
            Err(PostgresConfigError::RootCert { .. })
        ));
        assert_eq!(
            PostgresConfig::from_url_with(
                "postgres://u@h/db?sslmode=require&sslmode=disable",
                &no_env()
            )
            .unwrap_err(),
            PostgresConfigError::ParameterGivenTwice { name: "sslmode" }
        );
    }

    proptest! {
        #[test]
        fn any_url_text_gives_a_config_or_a_typed_error(url in ".{0,200}") {
            // Never panics; an accepted schema always passes validation.
            if let Ok(c) = PostgresConfig::from_url(&url) {
                prop_assert!(validate_schema(c.schema()).is_ok());
            }
        }

        #[test]
        fn passwords_never_appear_in_errors(password in "[a-zA-Z0-9]{8,20}", junk in "[ -~]{0,20}") {
            let url = format!("postgres://user:{password}@host/db?{junk}");
            if let Err(e) = PostgresConfig::from_url(&url) {
                prop_assert!(!e.to_string().contains(&password));
            }
        }
    }
}
