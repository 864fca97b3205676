//! The password when the URL gives none: `PGPASSWORD`, else the password file (libpq's
//! format and lookup rules).

use std::path::Path;

use super::{Environment, PostgresConfigError};

/// Longest password file read, in bytes.
pub const PASSWORD_FILE_BYTES_MAX: usize = 64 * 1024;

/// The password for `client`'s host, port, database and user when the URL gives none:
/// `PGPASSWORD`, else the first matching line of the password file (`PGPASSFILE`, else
/// `~/.pgpass`, libpq's format `host:port:database:user:password` with `*` and `\:`).
/// A password file that group or others may read is refused, as libpq ignores it: the
/// operator learns why the password was not used.
pub(super) fn password_from(
    client: &tokio_postgres::Config,
    environment: &Environment,
) -> Result<Option<String>, PostgresConfigError> {
    if let Some(password) = &environment.password {
        return Ok(Some(password.clone()));
    }
    let path = match (&environment.password_file, &environment.home) {
        (Some(path), _) => path.clone(),
        (None, Some(home)) => home.join(".pgpass"),
        (None, None) => return Ok(None),
    };
    let Some(text) = read_password_file(&path)? else {
        return Ok(None);
    };
    let host = match client.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(_)) => "localhost".to_owned(),
        None => return Ok(None),
    };
    let port = client
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = client.get_user().unwrap_or("");
    let database = client.get_dbname().unwrap_or(user);
    Ok(password_file_lookup(&text, [&host, &port, database, user]))
}

pub(super) fn read_password_file(path: &Path) -> Result<Option<String>, PostgresConfigError> {
    let bad = |reason: String| PostgresConfigError::PasswordFile {
        path: path.display().to_string(),
        reason,
    };
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    if !metadata.is_file() {
        return Err(bad("is not a regular file".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "group or others may read it (mode {mode:04o}); chmod 0600 it"
            )));
        }
    }
    if metadata.len() > PASSWORD_FILE_BYTES_MAX as u64 {
        return Err(bad(format!(
            "is larger than {PASSWORD_FILE_BYTES_MAX} bytes"
        )));
    }
    std::fs::read_to_string(path)
        .map(Some)
        .map_err(|e| bad(e.to_string()))
}

/// The password of the first line whose four fields match `wanted` (host, port, database,
/// user); `*` matches anything, `\` escapes `:` and `\`.
pub(super) fn password_file_lookup(text: &str, wanted: [&str; 4]) -> Option<String> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .find_map(|line| {
            let fields = split_password_line(line);
            if fields.len() < 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(wanted)
                .all(|((field, literal_star), want)| {
                    (field == "*" && !literal_star) || field == want
                });
            matches.then(|| fields[4].0.clone())
        })
}

/// Fields of one password-file line, each with whether an escape was used in it (an escaped
/// `*` is a literal star, not a wildcard).
pub(super) fn split_password_line(line: &str) -> Vec<(String, bool)> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut escaped_any = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    field.push(next);
                    escaped_any = true;
                }
            }
            ':' if fields.len() < 4 => {
                fields.push((std::mem::take(&mut field), escaped_any));
                escaped_any = false;
            }
            _ => field.push(c),
        }
    }
    fields.push((field, escaped_any));
    fields
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;

    fn password_of(url: &str, env: &Environment) -> Option<Vec<u8>> {
        PostgresConfig::from_url_with(url, env)
            .unwrap()
            .client
            .get_password()
            .map(<[u8]>::to_vec)
    }

    #[test]
    fn the_password_comes_from_the_url_then_pgpassword_then_the_password_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\n\
             other:5432:test:clerk:wrong-host\n\
             db.internal:5433:probation:clerk:from-file\n\
             *:*:*:clerk:wildcard\n\
             db\\:x:*:*:*:escaped\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let env = Environment {
            password_file: Some(file.clone()),
            ..Environment::none()
        };
        assert_eq!(
            password_of("postgres://clerk@db.internal:5433/probation", &env).as_deref(),
            Some(&b"from-file"[..])
        );
        assert_eq!(
            password_of("postgres://clerk@elsewhere/x", &env).as_deref(),
            Some(&b"wildcard"[..])
        );
        assert_eq!(password_of("postgres://nobody@elsewhere/x", &env), None);
        assert_eq!(
            password_of("postgres://clerk:in-url@db.internal:5433/probation", &env).as_deref(),
            Some(&b"in-url"[..])
        );
        let with_variable = Environment {
            password: Some("from-variable".into()),
            ..env.clone()
        };
        assert_eq!(
            password_of(
                "postgres://clerk@db.internal:5433/probation",
                &with_variable
            )
            .as_deref(),
            Some(&b"from-variable"[..])
        );
        // ~/.pgpass when PGPASSFILE is not set.
        std::fs::copy(&file, dir.path().join(".pgpass")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let home_file = dir.path().join(".pgpass");
            std::fs::set_permissions(&home_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let home = Environment {
            home: Some(dir.path().to_owned()),
            ..Environment::none()
        };
        assert_eq!(
            password_of("postgres://clerk@db.internal:5433/probation", &home).as_deref(),
            Some(&b"from-file"[..])
        );
        // A missing file is no password, not an error.
        let missing = Environment {
            password_file: Some(dir.path().join("absent")),
            ..Environment::none()
        };
        assert_eq!(password_of("postgres://clerk@h/db", &missing), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_password_file_others_can_read_is_refused_naming_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "*:*:*:*:secret-password\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let env = Environment {
            password_file: Some(file),
            ..Environment::none()
        };
        let e = PostgresConfig::from_url_with("postgres://u@h/db", &env).unwrap_err();
        assert!(matches!(e, PostgresConfigError::PasswordFile { .. }), "{e}");
        assert!(e.to_string().contains("chmod 0600"), "{e}");
        assert!(!e.to_string().contains("secret-password"), "{e}");
    }

    #[test]
    fn password_file_lines_follow_libpq_escapes_and_wildcards() {
        let text = "h\\:1:5432:db:u:p1\nh:5432:db:u:pa\\:ss\n";
        assert_eq!(
            password_file_lookup(text, ["h:1", "5432", "db", "u"]).as_deref(),
            Some("p1")
        );
        assert_eq!(
            password_file_lookup(text, ["h", "5432", "db", "u"]).as_deref(),
            Some("pa:ss")
        );
        // An escaped star is a literal star, not a wildcard.
        let text = "\\*:*:*:*:literal\n";
        assert_eq!(password_file_lookup(text, ["h", "1", "d", "u"]), None);
        assert_eq!(
            password_file_lookup(text, ["*", "1", "d", "u"]).as_deref(),
            Some("literal")
        );
    }
}
