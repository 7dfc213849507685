//! Persisting credentials to `<data dir>/.env`, the file Pulse users already know: the
//! username, the bcrypt hash, and SHA3 hashes of API tokens, never a plaintext secret.
//! Other lines (comments, unrelated settings) are kept as they are.

use crate::util::atomic::write_atomic;
use std::io;
use std::path::Path;

pub const ENV_FILE: &str = ".env";

/// Sets (`Some`) or removes (`None`) `KEY='value'` lines in the `.env` at `path`, creating it
/// if needed, always 0600. Values are single-quoted so a bcrypt `$` is never expanded; values
/// containing a quote or a line break are refused.
pub fn update(path: &Path, updates: &[(&str, Option<&str>)]) -> io::Result<()> {
    for (key, value) in updates {
        if let Some(v) = value {
            if v.contains(['\'', '\n', '\r']) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{key}: value must not contain quotes or line breaks"),
                ));
            }
        }
    }
    let existing = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut lines: Vec<String> = Vec::new();
    let mut written: Vec<&str> = Vec::new();
    for line in existing.lines() {
        match updates.iter().find(|(k, _)| line_key(line) == Some(k)) {
            Some((key, Some(value))) if !written.contains(key) => {
                lines.push(format!("{key}='{value}'"));
                written.push(key);
            }
            // A removed key, or a duplicate of one already written.
            Some(_) => {}
            None => lines.push(line.to_string()),
        }
    }
    for (key, value) in updates {
        if let (Some(value), false) = (value, written.contains(key)) {
            lines.push(format!("{key}='{value}'"));
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    write_atomic(path, out.as_bytes(), 0o600)
}

/// The key of a `KEY=value` / `export KEY=value` line, if it is one.
fn line_key(line: &str) -> Option<&str> {
    let l = line.trim_start();
    if l.starts_with('#') {
        return None;
    }
    let l = l.strip_prefix("export ").unwrap_or(l);
    l.split_once('=').map(|(k, _)| k.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::secret;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn updates_keep_other_lines_and_quote_values() {
        let dir = std::env::temp_dir().join(format!(
            "pulse-envfile-{}-{}",
            std::process::id(),
            secret::random_hex(4).unwrap().expose()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(ENV_FILE);
        std::fs::write(
            &path,
            "# comment\nLOG_LEVEL=debug\nexport PULSE_AUTH_PASS=old\nAPI_TOKEN=x\nAPI_TOKEN=y\n",
        )
        .unwrap();
        update(
            &path,
            &[
                ("PULSE_AUTH_USER", Some("admin")),
                ("PULSE_AUTH_PASS", Some("$2b$12$abc")),
                ("API_TOKEN", None),
            ],
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "# comment\nLOG_LEVEL=debug\nPULSE_AUTH_PASS='$2b$12$abc'\nPULSE_AUTH_USER='admin'\n"
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(update(&path, &[("PULSE_AUTH_USER", Some("a'b"))]).is_err());
        let fresh = dir.join("new.env");
        update(&fresh, &[("API_TOKENS", Some("h1,h2"))]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&fresh).unwrap(),
            "API_TOKENS='h1,h2'\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
