//! Who is asking: a bearer token (JWT) verified with an HS256 secret or with the RS256/ES256
//! keys of a JWKS file, turned into the one actor the request acts as.
//!
//! The actor comes from the token only (`sub`, `role` or HMPPS `authorities`,
//! `organisation`), never from a request body. Claims (docs/operations.md "HTTP server"):
//! - `sub`: the actor id (1..=128 bytes);
//! - `role`: one of the roles of docs/commands.md, or, when absent, the first HMPPS Auth
//!   authority of [`AUTHORITIES`] the token carries;
//! - `organisation`: as in a command's actor (`nps`, `crc:DLNR CRC`, `prison`, …);
//! - `exp`: required; checked with [`CLOCK_LEEWAY_S`] of leeway.
//!
//! The `system` role is the engine's own (time-driven commands): a token cannot claim it.

use std::path::Path;

use caseledger_commands::envelope::{VerifiedActor, ACTOR_ID_BYTES_MAX};
use caseledger_commands::Role;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{
    decode, decode_header, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};

/// Longest bearer token read, in bytes: a JWT with a handful of claims is well under 2 KiB.
pub const TOKEN_BYTES_MAX: usize = 8 * 1024;
/// Leeway on `exp` (and `nbf`), in seconds, for clocks that disagree a little.
pub const CLOCK_LEEWAY_S: u64 = 30;
/// Most keys read from a JWKS file.
pub const JWKS_KEYS_MAX: usize = 64;
/// Largest secret or JWKS file read, in bytes.
pub const KEY_FILE_BYTES_MAX: u64 = 256 * 1024;
/// Shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the hash size).
pub const HS256_SECRET_BYTES_MIN: usize = 32;
/// Most `authorities` read from a token.
pub const AUTHORITIES_MAX: usize = 256;

/// HMPPS Auth `authorities` mapped to roles, in precedence order: when a token has no `role`
/// claim, the first row whose authority it carries gives its role. HMPPS Auth issues roles
/// per service; these are caseledger's. `system` is never mapped.
pub const AUTHORITIES: &[(&str, Role)] = &[
    ("ROLE_CASELEDGER_INSPECTOR", Role::Inspector),
    ("ROLE_CASELEDGER_REGULATOR", Role::Regulator),
    (
        "ROLE_CASELEDGER_SENIOR_PROBATION_OFFICER",
        Role::SeniorProbationOfficer,
    ),
    ("ROLE_CASELEDGER_PROBATION_OFFICER", Role::ProbationOfficer),
    (
        "ROLE_CASELEDGER_PROBATION_SERVICES_OFFICER",
        Role::ProbationServicesOfficer,
    ),
    (
        "ROLE_CASELEDGER_CASE_ADMINISTRATOR",
        Role::CaseAdministrator,
    ),
    ("ROLE_CASELEDGER_COURT_OFFICER", Role::CourtOfficer),
    (
        "ROLE_CASELEDGER_PRISON_OFFENDER_MANAGER",
        Role::PrisonOffenderManager,
    ),
    ("ROLE_CASELEDGER_MAPPA_COORDINATOR", Role::MappaCoordinator),
    (
        "ROLE_CASELEDGER_DATA_PROTECTION",
        Role::DataProtectionOfficer,
    ),
    ("ROLE_CASELEDGER_SERVICE", Role::Service),
];

/// The verified actor of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub id: String,
    pub role: Role,
    pub organisation: String,
    /// The same identity as the commands crate checks it (never the engine's own).
    pub actor: VerifiedActor,
}

/// Why a request is not authenticated (401) or its identity cannot act (403 for `system`).
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token: send `Authorization: Bearer <JWT>`")]
    Missing,
    #[error("{0}")]
    Invalid(String),
    #[error("the token has expired; get a new one")]
    Expired,
    #[error("claim {claim}: {reason}")]
    Claim { claim: &'static str, reason: String },
    #[error("the system role is the engine's own; a token cannot act as it")]
    SystemRole,
}

impl AuthError {
    /// The field a problem report names.
    pub fn field(&self) -> &'static str {
        match self {
            AuthError::Missing | AuthError::Invalid(_) | AuthError::Expired => "authorization",
            AuthError::Claim { claim, .. } => claim,
            AuthError::SystemRole => "role",
        }
    }
}

/// Why the key material cannot be used (at start-up).
#[derive(thiserror::Error, Debug)]
pub enum KeyError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    role: Option<String>,
    organisation: Option<String>,
    #[serde(default)]
    authorities: Vec<String>,
}

/// The claims of a development token signed by [`sign_hs256`].
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct DevClaims {
    pub sub: String,
    pub role: String,
    pub organisation: String,
    pub exp: u64,
}

enum Keys {
    Hs256(DecodingKey),
    Jwks(Vec<(Jwk, DecodingKey, Algorithm)>),
}

/// Verifies bearer tokens.
pub struct Authenticator {
    keys: Keys,
}

fn read_key_file(path: &Path) -> Result<Vec<u8>, KeyError> {
    let err = |reason: String| KeyError::File {
        path: path.display().to_string(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.len() > KEY_FILE_BYTES_MAX {
        return Err(err(format!(
            "is {} bytes; at most {KEY_FILE_BYTES_MAX} allowed",
            meta.len()
        )));
    }
    std::fs::read(path).map_err(|e| err(e.to_string()))
}

/// The HMAC key of a secret file: its bytes with one trailing newline removed.
pub fn read_hs256_secret(path: &Path) -> Result<Vec<u8>, KeyError> {
    let mut bytes = read_key_file(path)?;
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    if bytes.len() < HS256_SECRET_BYTES_MIN {
        return Err(KeyError::File {
            path: path.display().to_string(),
            reason: format!(
                "the secret is {} bytes; HS256 needs at least {HS256_SECRET_BYTES_MIN}",
                bytes.len()
            ),
        });
    }
    Ok(bytes)
}

impl Authenticator {
    pub fn hs256(secret: &[u8]) -> Authenticator {
        Authenticator {
            keys: Keys::Hs256(DecodingKey::from_secret(secret)),
        }
    }

    /// The RS256 and ES256 keys of a JWKS file (`{"keys": [...]}`); other keys are refused.
    pub fn jwks_file(path: &Path) -> Result<Authenticator, KeyError> {
        let err = |reason: String| KeyError::File {
            path: path.display().to_string(),
            reason,
        };
        let bytes = read_key_file(path)?;
        let set: JwkSet = serde_json::from_slice(&bytes)
            .map_err(|e| err(format!("not a JWKS document ({e})")))?;
        if set.keys.is_empty() || set.keys.len() > JWKS_KEYS_MAX {
            return Err(err(format!(
                "has {} keys; 1..={JWKS_KEYS_MAX} allowed",
                set.keys.len()
            )));
        }
        let mut keys = Vec::with_capacity(set.keys.len());
        for (i, jwk) in set.keys.into_iter().enumerate() {
            let algorithm = match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(p)
                    if p.curve == jsonwebtoken::jwk::EllipticCurve::P256 =>
                {
                    Algorithm::ES256
                }
                _ => return Err(err(format!("keys[{i}]: only RSA and P-256 keys are used"))),
            };
            let key = DecodingKey::from_jwk(&jwk).map_err(|e| err(format!("keys[{i}]: {e}")))?;
            keys.push((jwk, key, algorithm));
        }
        Ok(Authenticator {
            keys: Keys::Jwks(keys),
        })
    }

    /// Verify the `Authorization` header value and read the actor from the token.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Principal, AuthError> {
        let header = authorization.ok_or(AuthError::Missing)?;
        if header.len() > TOKEN_BYTES_MAX + 7 {
            return Err(AuthError::Invalid(format!(
                "the token is longer than {TOKEN_BYTES_MAX} bytes"
            )));
        }
        let text = std::str::from_utf8(header)
            .map_err(|_| AuthError::Invalid("the Authorization header is not text".into()))?;
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .ok_or_else(|| AuthError::Invalid("Authorization must be `Bearer <JWT>`".into()))?
            .trim();
        let claims = self.verify(token)?;
        principal(claims)
    }

    fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let head = decode_header(token)
            .map_err(|e| AuthError::Invalid(format!("the token cannot be read ({e})")))?;
        let (key, algorithm) = match &self.keys {
            Keys::Hs256(key) => (key, Algorithm::HS256),
            Keys::Jwks(keys) => {
                let found = keys.iter().find(|(jwk, _, alg)| {
                    *alg == head.alg
                        && match (&head.kid, &jwk.common.key_id) {
                            (Some(want), Some(have)) => want == have,
                            (Some(_), None) => false,
                            (None, _) => true,
                        }
                });
                let (_, key, alg) = found.ok_or_else(|| {
                    AuthError::Invalid(format!(
                        "no {:?} key{} in the JWKS verifies this token",
                        head.alg,
                        head.kid
                            .as_deref()
                            .map(|k| format!(" with kid {k:?}"))
                            .unwrap_or_default()
                    ))
                })?;
                (key, *alg)
            }
        };
        if head.alg != algorithm {
            return Err(AuthError::Invalid(format!(
                "the token is signed with {:?}; this server accepts {algorithm:?}",
                head.alg
            )));
        }
        let mut validation = Validation::new(algorithm);
        validation.leeway = CLOCK_LEEWAY_S;
        validation.set_required_spec_claims(&["exp"]);
        decode::<Claims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(c) => AuthError::Claim {
                    claim: if c == "exp" { "exp" } else { "token" },
                    reason: "required".into(),
                },
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    AuthError::Invalid("the token's signature does not verify".into())
                }
                _ => AuthError::Invalid(format!("the token is not valid ({e})")),
            })
    }
}

fn principal(claims: Claims) -> Result<Principal, AuthError> {
    let claim = |claim: &'static str, reason: &str| AuthError::Claim {
        claim,
        reason: reason.into(),
    };
    let id = claims
        .sub
        .ok_or_else(|| claim("sub", "required: the actor id"))?;
    if id.trim().is_empty() || id.len() > ACTOR_ID_BYTES_MAX || id.chars().any(char::is_control) {
        return Err(claim(
            "sub",
            &format!("must be 1..={ACTOR_ID_BYTES_MAX} bytes of printable text"),
        ));
    }
    let role = match claims.role {
        Some(name) => Role::parse(&name).ok_or_else(|| {
            claim(
                "role",
                &format!(
                    "{:?} is not a role; one of {}",
                    name.chars().take(64).collect::<String>(),
                    role_names()
                ),
            )
        })?,
        None => role_from_authorities(&claims.authorities)?,
    };
    if role == Role::System {
        return Err(AuthError::SystemRole);
    }
    let organisation = claims
        .organisation
        .ok_or_else(|| claim("organisation", "required (e.g. nps, crc:DLNR CRC)"))?;
    let actor = VerifiedActor::new(&id, role, &organisation).map_err(|e| {
        let name = match e.field.as_str() {
            "actor.role" => "role",
            "actor.organisation" => "organisation",
            _ => "sub",
        };
        claim(name, &e.message)
    })?;
    Ok(Principal {
        id,
        role,
        organisation,
        actor,
    })
}

fn role_names() -> String {
    Role::ALL
        .iter()
        .filter(|r| **r != Role::System)
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn role_from_authorities(authorities: &[String]) -> Result<Role, AuthError> {
    if authorities.len() > AUTHORITIES_MAX {
        return Err(AuthError::Claim {
            claim: "authorities",
            reason: format!("at most {AUTHORITIES_MAX} allowed"),
        });
    }
    AUTHORITIES
        .iter()
        .find(|(name, _)| authorities.iter().any(|a| a == name))
        .map(|(_, role)| *role)
        .ok_or_else(|| AuthError::Claim {
            claim: "role",
            reason: "required: a `role` claim or an `authorities` entry of docs/operations.md's table (ROLE_CASELEDGER_…)".into(),
        })
}

/// Sign a development token with an HS256 secret (`caseledger token`).
pub fn sign_hs256(secret: &[u8], claims: &DevClaims) -> Result<String, String> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> u64 {
        jiff::Timestamp::now().as_second() as u64
    }

    fn token(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    fn auth(token: &str) -> Result<Principal, AuthError> {
        Authenticator::hs256(SECRET).authenticate(Some(format!("Bearer {token}").as_bytes()))
    }

    #[test]
    fn the_actor_comes_from_sub_role_and_organisation() {
        let p = auth(&token(serde_json::json!({"sub": "N07PO1", "role": "probation_officer", "organisation": "nps", "exp": now() + 60}))).unwrap();
        assert_eq!(
            (p.id.as_str(), p.role, p.organisation.as_str()),
            ("N07PO1", Role::ProbationOfficer, "nps")
        );
        assert_eq!(p.actor.actor().id, "N07PO1");
        // The engine's own actor id cannot be claimed either.
        let e = auth(&token(serde_json::json!({"sub": "caseledger", "role": "probation_officer", "organisation": "nps", "exp": now() + 60}))).unwrap_err();
        assert_eq!(e.field(), "sub");
    }

    #[test]
    fn hmpps_authorities_map_to_a_role_by_the_table_in_precedence_order() {
        let p = auth(&token(serde_json::json!({"sub": "i1", "organisation": "hmi_probation", "exp": now() + 60,
            "authorities": ["ROLE_SOMETHING_ELSE", "ROLE_CASELEDGER_PROBATION_OFFICER", "ROLE_CASELEDGER_INSPECTOR"]}))).unwrap();
        assert_eq!(p.role, Role::Inspector);
        let e = auth(&token(
            serde_json::json!({"sub": "i1", "organisation": "nps", "exp": now() + 60,
            "authorities": ["ROLE_SOMETHING_ELSE"]}),
        ))
        .unwrap_err();
        assert_eq!(e.field(), "role");
    }

    #[test]
    fn bad_tokens_are_refused_naming_what_is_wrong() {
        let exp = now() + 60;
        let cases = [
            (
                serde_json::json!({"sub": "a", "role": "wizard", "organisation": "nps", "exp": exp}),
                "role",
            ),
            (
                serde_json::json!({"sub": "a", "role": "system", "organisation": "nps", "exp": exp}),
                "role",
            ),
            (
                serde_json::json!({"role": "inspector", "organisation": "nps", "exp": exp}),
                "sub",
            ),
            (
                serde_json::json!({"sub": "a", "role": "inspector", "exp": exp}),
                "organisation",
            ),
            (
                serde_json::json!({"sub": "a", "role": "inspector", "organisation": "nps"}),
                "exp",
            ),
            (
                serde_json::json!({"sub": "a", "role": "inspector", "organisation": "nps", "exp": now() - 3600}),
                "authorization",
            ),
        ];
        for (claims, field) in cases {
            let e = auth(&token(claims.clone())).unwrap_err();
            assert_eq!(e.field(), field, "{claims} → {e}");
        }
        let other = jsonwebtoken::encode(&Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "a", "role": "inspector", "organisation": "nps", "exp": exp}),
            &EncodingKey::from_secret(b"another secret of thirty-two bytes!")).unwrap();
        assert!(matches!(auth(&other), Err(AuthError::Invalid(m)) if m.contains("signature")));
        assert_eq!(
            Authenticator::hs256(SECRET).authenticate(None),
            Err(AuthError::Missing)
        );
        assert!(auth("not.a.jwt").is_err());
    }
}
