//! TLS to the real local server with a certificate authority this test makes (rcgen): the
//! test writes a server certificate for `localhost` and its key into the server's data
//! directory (through `COPY … TO`, so the files belong to the server's user; the key is then
//! narrowed to 0600, which needs root or the server's user on this machine), points
//! `ssl_cert_file` / `ssl_key_file` at them with `ALTER SYSTEM`, reloads, and puts the
//! previous settings back at the end. A session advisory lock keeps two runs of this test
//! (other worktrees, CI) from swapping certificates under each other.
//!
//! Checked: `verify-full` with the CA connects and the store's connections are encrypted
//! (`pg_stat_ssl`); `verify-full` to a name the certificate does not carry fails, `verify-ca`
//! there connects; a CA that did not sign the server's certificate fails; `require` encrypts
//! without a CA; `prefer` and `disable` still connect while ssl is on (the other tests rely on
//! that), and `disable` is not encrypted.

mod postgres_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use caseledger_store::postgres::{PostgresConfig, PostgresOptions, PostgresStore};
use caseledger_store::{EventStore, ExpectedVersion, StoreError, StreamId, SystemClock};
use postgres_support::{event, server, TestSchema};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

/// `pg_advisory_lock` key serialising runs of this test on one server.
const TLS_TEST_LOCK_KEY: i64 = 0x6361_7365_746c_7331;
/// Longest wait for the server to serve the new certificate after the reload.
const RELOAD_WAIT_MS_MAX: u64 = 15_000;

struct Authority {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn authority(name: &str) -> Authority {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    Authority { cert, key }
}

/// A server certificate for `localhost` only (not 127.0.0.1), signed by `ca`: (cert, key) PEM.
fn server_certificate(ca: &Authority) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (cert.pem(), key.serialize_pem())
}

async fn plain_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Write `text` to `path` on the server, as the server's user (mode 0600 under its umask).
async fn server_write(client: &tokio_postgres::Client, path: &str, text: &str) {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            assert!(l
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/=- ".contains(c)));
            format!("'{l}'")
        })
        .collect();
    client
        .batch_execute(&format!(
            "COPY (SELECT unnest(ARRAY[{}]::text[])) TO '{path}'",
            lines.join(",")
        ))
        .await
        .unwrap_or_else(|e| panic!("write {path} on the server: {e:?}"));
}

/// A server setting as it was, to put back.
struct Setting {
    name: &'static str,
    /// `Some(value)` when it was set with ALTER SYSTEM; `None`: from postgresql.conf/default.
    altered: Option<String>,
}

async fn remember(client: &tokio_postgres::Client, name: &'static str) -> Setting {
    let row = client
        .query_one(
            "SELECT setting, coalesce(sourcefile, '') LIKE '%postgresql.auto.conf' \
             FROM pg_settings WHERE name = $1",
            &[&name],
        )
        .await
        .unwrap();
    let altered: bool = row.get(1);
    Setting {
        name,
        altered: altered.then(|| row.get(0)),
    }
}

/// Puts the remembered settings back and reloads, even when the test fails.
struct Restore {
    url: String,
    settings: Vec<Setting>,
    /// Files written into the server's data directory, removed when this process may.
    files: Vec<String>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        let url = self.url.clone();
        let statements: Vec<String> = self
            .settings
            .iter()
            .map(|s| match &s.altered {
                Some(value) => format!("ALTER SYSTEM SET {} = '{value}'", s.name),
                None => format!("ALTER SYSTEM RESET {}", s.name),
            })
            .collect();
        let files = self.files.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let client = plain_client(&url).await;
                for statement in statements {
                    client.batch_execute(&statement).await.unwrap();
                }
                client
                    .batch_execute("SELECT pg_reload_conf()")
                    .await
                    .unwrap();
            });
            for file in files {
                let _ = std::fs::remove_file(file);
            }
        })
        .join();
    }
}

/// `localhost` by name (so the certificate's name can be checked), 127.0.0.1 as the address.
fn by_name(url: &str, parameters: &str) -> String {
    let url = url.replace("127.0.0.1", "localhost");
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}hostaddr=127.0.0.1&{parameters}")
}

fn with(url: &str, parameters: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{parameters}")
}

async fn open(url: &str, schema: &TestSchema) -> Result<PostgresStore, StoreError> {
    let config = PostgresConfig::from_url(url)
        .map_err(|e| StoreError::Backend(e.to_string()))?
        .with_schema(&schema.name)
        .unwrap();
    PostgresStore::open(config, Arc::new(SystemClock), PostgresOptions::default()).await
}

/// Whether every connection with `application_name` is encrypted; and how many there are.
async fn encrypted(admin: &tokio_postgres::Client, application: &str) -> (bool, i64) {
    let row = admin
        .query_one(
            "SELECT coalesce(bool_and(s.ssl), false), count(*) FROM pg_stat_activity a \
             JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = $1",
            &[&application],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

async fn append_and_read(store: &PostgresStore, crn: &str) {
    let stream = StreamId::new(crn).unwrap();
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![event(u128::from(crn.as_bytes()[6]), "CaseOpened", b"x")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(store.read_stream(&stream, 1).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verify_full_require_prefer_and_disable_against_the_local_server() {
    let Some(url) = server().await else { return };
    let admin = plain_client(&url).await;
    let lock = plain_client(&url).await;
    lock.execute("SELECT pg_advisory_lock($1)", &[&TLS_TEST_LOCK_KEY])
        .await
        .unwrap();

    let ca = authority("caseledger test CA");
    let stranger = authority("some other CA");
    let (cert_pem, key_pem) = server_certificate(&ca);
    let data_directory: String = admin
        .query_one(
            "SELECT setting FROM pg_settings WHERE name = 'data_directory'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let run = format!("caseledger_test_tls_{}", std::process::id());
    let cert_file = format!("{data_directory}/{run}.crt");
    let key_file = format!("{data_directory}/{run}.key");
    server_write(&admin, &cert_file, &cert_pem).await;
    server_write(&admin, &key_file, &key_pem).await;
    // COPY creates files 0644; the server refuses a key others may read. The file belongs to
    // the server's user, so only that user or root can narrow it: this test runs as root
    // here and in CI, next to the server.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap_or_else(
            |e| {
                panic!(
                    "chmod 0600 {key_file}: {e}; run this test as root or as the server's user, \
                     on the server's machine"
                )
            },
        );
    }
    let local = tempfile::tempdir().unwrap();
    let ca_file = local.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert.pem()).unwrap();
    let stranger_file = local.path().join("stranger.pem");
    std::fs::write(&stranger_file, stranger.cert.pem()).unwrap();

    let _restore = Restore {
        url: url.clone(),
        settings: vec![
            remember(&admin, "ssl").await,
            remember(&admin, "ssl_cert_file").await,
            remember(&admin, "ssl_key_file").await,
        ],
        files: vec![cert_file.clone(), key_file.clone()],
    };
    for statement in [
        format!("ALTER SYSTEM SET ssl_cert_file = '{cert_file}'"),
        format!("ALTER SYSTEM SET ssl_key_file = '{key_file}'"),
        "ALTER SYSTEM SET ssl = on".to_owned(),
        "SELECT pg_reload_conf()".to_owned(),
    ] {
        admin.batch_execute(&statement).await.unwrap();
    }

    let schema = TestSchema::new(&url);
    let full = by_name(
        &url,
        &format!(
            "sslmode=verify-full&sslrootcert={}&application_name={run}_full",
            ca_file.display()
        ),
    );
    // The reload is asynchronous: wait until the server presents the new certificate.
    let deadline = Instant::now() + Duration::from_millis(RELOAD_WAIT_MS_MAX);
    let store = loop {
        match open(&full, &schema).await {
            Ok(store) => break store,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("verify-full never connected: {e}"),
        }
    };
    append_and_read(&store, "T000001").await;
    let (all_tls, connections) = encrypted(&admin, &format!("{run}_full")).await;
    assert!(connections >= 2, "{connections} store connections seen");
    assert!(all_tls, "a verify-full connection is not encrypted");
    drop(store);

    // verify-full checks the name: the certificate is for localhost, not 127.0.0.1.
    let by_address = with(
        &url,
        &format!("sslmode=verify-full&sslrootcert={}", ca_file.display()),
    );
    let refused = open(&by_address, &schema)
        .await
        .err()
        .expect("name not checked");
    assert!(
        refused.to_string().contains("certificate") || refused.to_string().contains("name"),
        "{refused}"
    );
    // verify-ca checks the chain only.
    let chain_only = with(
        &url,
        &format!(
            "sslmode=verify-ca&sslrootcert={}&application_name={run}_ca",
            ca_file.display()
        ),
    );
    let store = open(&chain_only, &schema).await.expect("verify-ca");
    append_and_read(&store, "T000002").await;
    assert!(encrypted(&admin, &format!("{run}_ca")).await.0);
    drop(store);

    // A CA that did not sign the server's certificate.
    let wrong = by_name(
        &url,
        &format!(
            "sslmode=verify-full&sslrootcert={}",
            stranger_file.display()
        ),
    );
    let refused = open(&wrong, &schema)
        .await
        .err()
        .expect("wrong CA accepted");
    assert!(refused.to_string().contains("certificate"), "{refused}");

    // require: encrypted, nothing verified.
    let require = with(&url, &format!("sslmode=require&application_name={run}_req"));
    let store = open(&require, &schema).await.expect("require");
    append_and_read(&store, "T000003").await;
    assert!(encrypted(&admin, &format!("{run}_req")).await.0);
    drop(store);

    // prefer (the default) and disable still connect while ssl is on.
    let prefer = with(&url, &format!("application_name={run}_pref"));
    let store = open(&prefer, &schema).await.expect("prefer");
    append_and_read(&store, "T000004").await;
    assert!(encrypted(&admin, &format!("{run}_pref")).await.0);
    drop(store);
    let disable = with(&url, &format!("sslmode=disable&application_name={run}_off"));
    let store = open(&disable, &schema).await.expect("disable");
    append_and_read(&store, "T000005").await;
    let (any_tls, connections) = encrypted(&admin, &format!("{run}_off")).await;
    assert!(
        connections >= 1 && !any_tls,
        "sslmode=disable was encrypted"
    );
    drop(store);
}
