//! Where the PostgreSQL log lives: a connection URL plus the schema that holds the tables.
//!
//! The URL is what operators already write for `psql` (`postgres://user@host:port/db`). The
//! schema is part of the configuration (default [`SCHEMA_DEFAULT`]) so one database can hold
//! several independent logs (one per test, one per environment); it may be given in the URL as
//! `?schema=name`, which is stripped before the URL reaches the client library.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

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

/// Everything needed to open a [`super::PostgresStore`].
#[derive(Clone)]
pub struct PostgresConfig {
    pub(crate) client: tokio_postgres::Config,
    pub(crate) schema: String,
    pub(crate) head_poll_interval: Duration,
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
}

impl PostgresConfig {
    /// Parse a `postgres://` (or `postgresql://`) URL. A `schema=` query parameter selects the
    /// schema; otherwise [`SCHEMA_DEFAULT`] is used.
    pub fn from_url(url: &str) -> Result<Self, PostgresConfigError> {
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
        let mut schema: Option<String> = None;
        let mut rest: Vec<&str> = Vec::new();
        for parameter in query.split('&').filter(|p| !p.is_empty()) {
            match parameter.split_once('=') {
                Some(("schema", value)) => {
                    if schema.is_some() {
                        return Err(PostgresConfigError::SchemaGivenTwice);
                    }
                    schema = Some(value.to_owned());
                }
                _ => rest.push(parameter),
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
        let config = PostgresConfig {
            client,
            schema: SCHEMA_DEFAULT.to_owned(),
            head_poll_interval: Duration::from_millis(HEAD_POLL_INTERVAL_MS_DEFAULT),
        };
        match schema {
            Some(schema) => config.with_schema(&schema),
            None => Ok(config),
        }
    }

    /// Use `schema` instead of the one in the URL (or the default).
    pub fn with_schema(mut self, schema: &str) -> Result<Self, PostgresConfigError> {
        validate_schema(schema)?;
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
            "postgres://{}@{}:{}/{} (schema {})",
            self.client.get_user().unwrap_or("?"),
            host,
            port,
            self.client.get_dbname().unwrap_or("?"),
            self.schema
        )
    }
}

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
            "postgres://postgres@127.0.0.1:5432/test (schema ledger_a)"
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
