//! A real `caseledger serve` child process on an ephemeral port, and tokens signed here.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

pub const SECRET: &str = "a development secret of at least thirty-two bytes";

pub fn keys_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/keys")
}

pub enum Keys {
    Hs256,
    Jwks,
}

/// A server child process; SIGTERM and wait on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub data: PathBuf,
}

impl Server {
    pub fn start(data: &Path, keys: Keys) -> Server {
        Server::start_with(data, keys, &[])
    }

    /// Start with `extra` arguments after `serve`'s own.
    pub fn start_with(data: &Path, keys: Keys, extra: &[&str]) -> Server {
        let secret_file = data.with_extension("secret");
        std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_caseledger"));
        command.arg("--data").arg(data).args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ]);
        match keys {
            Keys::Hs256 => command.arg("--jwt-hs256-secret-file").arg(&secret_file),
            Keys::Jwks => command
                .arg("--jwks-file")
                .arg(keys_dir().join("jwks-test-only.json")),
        };
        command.args(extra);
        let log = std::fs::File::create(data.with_extension("log")).unwrap();
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start caseledger serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "unexpected first line {line:?}; log: {}",
                    data.with_extension("log").display()
                )
            })
            .to_owned();
        Server {
            child,
            base,
            data: data.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then wait for the process; returns its exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().ok().and_then(|s| s.code())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.with_extension("log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn hs256(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

pub fn rs256(claims: &Value) -> String {
    let pem = std::fs::read(keys_dir().join("rs256-test-only.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-rs256".into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

pub fn claims(sub: &str, role: &str, organisation: &str) -> Value {
    json!({"sub": sub, "role": role, "organisation": organisation, "exp": now_s() + 600})
}

/// An HS256 token for `role` at the NPS.
pub fn token(role: &str) -> String {
    hs256(&claims(&format!("{role}-1"), role, "nps"))
}

pub fn uuid(n: u128) -> String {
    uuid::Uuid::from_u128(0x5e_0000_0000_4000_8000_0000_0000_0000 | n).to_string()
}

/// `open_case` for `crn` without an actor.
pub fn open_case(id: u128, crn: &str) -> Value {
    json!({"command_id": uuid(id), "crn": crn, "effective_at": "2016-03-01",
           "command": {"type": "open_case", "crn": crn, "pdu": 1, "team": null, "on": "2016-03-01",
                       "person": {"name": "Alex Example", "date_of_birth": "1990-05-04", "gender": "male"}}})
}

/// An `assess_risk` of `kind` on `on`.
pub fn assess_risk(id: u128, crn: &str, kind: &str, rosh: &str, on: &str) -> Value {
    json!({"command_id": uuid(id), "crn": crn, "effective_at": on,
           "command": {"type": "assess_risk", "kind": kind, "rosh": rosh, "rsr": null, "ogrs": null,
                       "needs": {}, "on": on}})
}

/// Wait until the read models have folded the whole log (`/info` lag 0).
pub async fn wait_for_read_models(client: &reqwest::Client, server: &Server) {
    for _ in 0..200 {
        let info: Value = client
            .get(server.url("/info"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if info["read_model_lag"] == json!(0) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the read models did not catch up");
}
