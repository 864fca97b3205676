//! Who runs the operator CLI: the operating-system user, recorded once per run in
//! `audit-sessions` and linked to every event the run writes by its `correlation_id`; and the
//! optional `--actor-policy FILE` saying which declared actors each OS user may act as
//! (docs/decisions/0006-operator-identity.md, docs/operations.md "Identity").
//!
//! The CLI is a trusted operator shell: it takes the actor a command declares, but it no longer
//! lets that declaration stand alone. The OS user cannot be chosen by the command file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use caseledger_commands::audit::{OperatorSession, RefusalKind};
use caseledger_commands::handler::{CommandError, Receipt};
use caseledger_commands::CommandEnvelope;
use sha2::{Digest, Sha256};

use crate::cli_ops::Failure;
use crate::engine::Engine;

/// Largest actor policy file read, in bytes.
pub const ACTOR_POLICY_BYTES_MAX: u64 = 1024 * 1024;
/// Most OS users, and most actor ids per OS user, in one policy.
pub const ACTOR_POLICY_ENTRIES_MAX: usize = 10_000;
/// In a policy, the actor id that stands for "any declared actor" (the engine's own identity
/// stays refused whatever the policy says).
pub const ANY_ACTOR: &str = "*";

/// The effective user this process runs as: uid and name (`uid:N` when the password database
/// has no entry). Read from the kernel and the system's user database, never from the
/// environment (`$USER` is whatever the caller set).
#[cfg(unix)]
pub fn os_user() -> (u32, String) {
    // SAFETY: geteuid cannot fail and has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to live memory of the stated size; getpwuid_r writes the
    // entry's strings into `buffer`, which outlives the read of `pw_name` below.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    let name = if rc == 0 && !found.is_null() && !entry.pw_name.is_null() {
        // SAFETY: a non-null pw_name from a successful getpwuid_r is a NUL-terminated string
        // inside `buffer`.
        unsafe { std::ffi::CStr::from_ptr(entry.pw_name) }
            .to_string_lossy()
            .into_owned()
    } else {
        format!("uid:{uid}")
    };
    (uid, name)
}

#[cfg(not(unix))]
pub fn os_user() -> (u32, String) {
    (u32::MAX, "unknown".into())
}

/// `--actor-policy FILE`: a JSON object from OS user name to the actor ids that user may
/// declare, e.g. `{"clerk1": ["ADM001", "ADM002"], "etl": ["*"]}`. An OS user the policy does
/// not name may act as nobody.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorPolicy {
    users: BTreeMap<String, BTreeSet<String>>,
    sha256: String,
}

impl ActorPolicy {
    /// Read and check the policy; a file that cannot be used is exit code 2, naming it.
    pub fn load(path: &Path) -> Result<ActorPolicy, Failure> {
        let usage =
            |why: String| Failure::Usage(format!("--actor-policy {}: {why}", path.display()));
        let size = std::fs::metadata(path)
            .map_err(|e| usage(e.to_string()))?
            .len();
        if size > ACTOR_POLICY_BYTES_MAX {
            return Err(usage(format!(
                "is {size} bytes; at most {ACTOR_POLICY_BYTES_MAX} allowed"
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| usage(e.to_string()))?;
        let users: BTreeMap<String, BTreeSet<String>> =
            serde_json::from_slice(&bytes).map_err(|e| {
                usage(format!(
                    "must be a JSON object from OS user to a list of actor ids ({e})"
                ))
            })?;
        if users.len() > ACTOR_POLICY_ENTRIES_MAX
            || users.values().any(|a| a.len() > ACTOR_POLICY_ENTRIES_MAX)
        {
            return Err(usage(format!(
                "at most {ACTOR_POLICY_ENTRIES_MAX} users and {ACTOR_POLICY_ENTRIES_MAX} actors per user"
            )));
        }
        Ok(ActorPolicy {
            users,
            sha256: hex::encode(Sha256::digest(&bytes)),
        })
    }

    /// May `os_user` declare `actor_id`?
    pub fn allows(&self, os_user: &str, actor_id: &str) -> bool {
        self.users
            .get(os_user)
            .is_some_and(|actors| actors.contains(actor_id) || actors.contains(ANY_ACTOR))
    }
}

/// One run of the operator CLI: its recorded session and the policy it enforces.
pub struct Operator {
    pub session: OperatorSession,
    policy: Option<ActorPolicy>,
}

impl Operator {
    /// Record the session in `audit-sessions` and bind the engine to it.
    pub async fn begin(
        engine: &mut Engine,
        program: &str,
        policy: Option<&Path>,
    ) -> Result<Operator, Failure> {
        let policy = policy.map(ActorPolicy::load).transpose()?;
        let (os_uid, os_user) = os_user();
        let session = OperatorSession {
            session_id: uuid::Uuid::new_v4(),
            os_user,
            os_uid,
            program: program.into(),
            actor_policy_sha256: policy.as_ref().map(|p| p.sha256.clone()),
        };
        engine
            .begin_session(&session)
            .await
            .map_err(Failure::from)?;
        Ok(Operator { session, policy })
    }

    /// Execute `envelope` if the policy lets this OS user declare its actor; otherwise refuse
    /// it (recorded in `audit-refusals`, naming the OS user and the actor).
    pub async fn execute(
        &self,
        engine: &Engine,
        envelope: &CommandEnvelope,
    ) -> Result<Receipt, CommandError> {
        if let Some(reason) = self.refusal(envelope) {
            return Err(engine
                .handler()
                .refuse(envelope, RefusalKind::Unauthorised, &reason)
                .await);
        }
        engine.execute(envelope).await
    }

    /// Why the policy does not let this OS user declare `envelope`'s actor, if it does not.
    pub fn refusal(&self, envelope: &CommandEnvelope) -> Option<String> {
        let policy = self.policy.as_ref()?;
        if policy.allows(&self.session.os_user, &envelope.actor.id) {
            return None;
        }
        Some(format!(
            "operating-system user {} may not act as {} (--actor-policy)",
            self.session.os_user, envelope.actor.id
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_names_the_actors_each_os_user_may_declare() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.json");
        std::fs::write(&path, r#"{"clerk1": ["ADM001"], "etl": ["*"]}"#).unwrap();
        let policy = ActorPolicy::load(&path).unwrap();
        assert!(policy.allows("clerk1", "ADM001"));
        assert!(!policy.allows("clerk1", "ADM002"));
        assert!(policy.allows("etl", "anyone"));
        assert!(!policy.allows("mallory", "ADM001"));
        std::fs::write(&path, r#"["clerk1"]"#).unwrap();
        let failure = ActorPolicy::load(&path).unwrap_err();
        assert_eq!(failure.exit_code(), 2, "{}", failure.message());
        assert!(
            failure.message().contains("--actor-policy"),
            "{}",
            failure.message()
        );
    }

    #[test]
    fn the_os_user_comes_from_the_kernel_not_the_environment() {
        let (uid, name) = os_user();
        // SAFETY: geteuid has no preconditions.
        assert_eq!(uid, unsafe { libc::geteuid() });
        assert!(!name.is_empty());
    }
}
