//! Security audit trail: one JSON object per line in `<data dir>/audit.log` (0600), rotated
//! to `audit.log.1` past 10 MiB.
//!
//! Events are a closed enum whose fields are ids, usernames, token names and IPs. Secrets in
//! this crate are [`super::secret::Secret`], which is not a `&str`, so handing one to
//! the audit log takes a deliberate `.expose()` at the call site. Failed logins with an
//! unknown username record no username at all: people type passwords into that field.

use crate::core::writer::{Write, WriterHandle};
use crate::util::time::UtcTime;
use serde::Serialize;
use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const AUDIT_FILE: &str = "audit.log";
pub const MAX_AUDIT_BYTES: u64 = 10 * 1024 * 1024;
const MAX_FIELD_CHARS: usize = 128;

/// A security event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent<'a> {
    LoginSucceeded {
        user: &'a str,
    },
    /// `user` only when it is the configured username, else `None`.
    LoginFailed {
        user: Option<&'a str>,
    },
    /// A failure that reached the lockout threshold.
    LockedOut {
        user: Option<&'a str>,
    },
    Logout {
        user: Option<&'a str>,
    },
    TokenCreated {
        id: &'a str,
        name: &'a str,
    },
    TokenDeleted {
        id: &'a str,
    },
    TokensRegenerated,
    PasswordChanged {
        user: &'a str,
    },
    SetupCompleted {
        user: &'a str,
    },
    LockoutReset {
        identifier: &'a str,
    },
    CsrfFailure,
    RecoveryTokenGenerated,
    RecoveryTokenUsed,
    RecoveryModeEnabled,
    RecoveryModeDisabled,
}

impl AuditEvent<'_> {
    /// Event name and outcome, as Pulse names them where it has them.
    fn kind(&self) -> (&'static str, bool) {
        match self {
            AuditEvent::LoginSucceeded { .. } => ("login", true),
            AuditEvent::LoginFailed { .. } => ("login", false),
            AuditEvent::LockedOut { .. } => ("lockout", false),
            AuditEvent::Logout { .. } => ("logout", true),
            AuditEvent::TokenCreated { .. } => ("token_create", true),
            AuditEvent::TokenDeleted { .. } => ("token_delete", true),
            AuditEvent::TokensRegenerated => ("token_regenerate", true),
            AuditEvent::PasswordChanged { .. } => ("password_change", true),
            AuditEvent::SetupCompleted { .. } => ("security_setup", true),
            AuditEvent::LockoutReset { .. } => ("lockout_reset", true),
            AuditEvent::CsrfFailure => ("csrf_failure", false),
            AuditEvent::RecoveryTokenGenerated => ("recovery_token_generate", true),
            AuditEvent::RecoveryTokenUsed => ("recovery_token_use", true),
            AuditEvent::RecoveryModeEnabled => ("recovery_mode_enable", true),
            AuditEvent::RecoveryModeDisabled => ("recovery_mode_disable", true),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    timestamp: UtcTime,
    event: &'static str,
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_FIELD_CHARS).collect()
}

/// The JSON line for an event (without the newline).
pub fn format_line(
    event: &AuditEvent<'_>,
    ip: Option<IpAddr>,
    request_id: Option<&str>,
    now: UtcTime,
) -> String {
    let (name, success) = event.kind();
    let mut line = Line {
        timestamp: now,
        event: name,
        success,
        user: None,
        ip,
        token_id: None,
        token_name: None,
        identifier: None,
        request_id,
    };
    match *event {
        AuditEvent::LoginSucceeded { user }
        | AuditEvent::PasswordChanged { user }
        | AuditEvent::SetupCompleted { user } => line.user = Some(clip(user)),
        AuditEvent::LoginFailed { user }
        | AuditEvent::LockedOut { user }
        | AuditEvent::Logout { user } => line.user = user.map(clip),
        AuditEvent::TokenCreated { id, name } => {
            line.token_id = Some(clip(id));
            line.token_name = Some(clip(name));
        }
        AuditEvent::TokenDeleted { id } => line.token_id = Some(clip(id)),
        AuditEvent::LockoutReset { identifier } => line.identifier = Some(clip(identifier)),
        AuditEvent::TokensRegenerated
        | AuditEvent::CsrfFailure
        | AuditEvent::RecoveryTokenGenerated
        | AuditEvent::RecoveryTokenUsed
        | AuditEvent::RecoveryModeEnabled
        | AuditEvent::RecoveryModeDisabled => {}
    }
    // Serialising plain strings and numbers cannot fail; fall back to a marker, not a panic.
    serde_json::to_string(&line).unwrap_or_else(|_| format!("{{\"event\":\"{name}\"}}"))
}

/// The audit file of one data directory.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    /// Inside Pulse, appends go through the data-dir writer thread (in order, fsynced there);
    /// without one (tools, unit tests) they are written here and now.
    writer: Option<WriterHandle>,
}

impl AuditLog {
    pub fn new(data_dir: &Path) -> AuditLog {
        AuditLog {
            path: data_dir.join(AUDIT_FILE),
            writer: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// From now on, appends are queued on the data-dir writer.
    pub fn attach_writer(&mut self, writer: WriterHandle) {
        self.writer = Some(writer);
    }

    /// Appends one event: queued on the writer when attached (a full queue is an error; a failed
    /// append is reported to the loop by the writer), else a small blocking append. The caller
    /// logs (never panics on) errors.
    pub fn record(
        &self,
        event: AuditEvent<'_>,
        ip: Option<IpAddr>,
        request_id: Option<&str>,
        now: UtcTime,
    ) -> io::Result<()> {
        if let Some(writer) = &self.writer {
            let mut line = format_line(&event, ip, request_id, now);
            line.push('\n');
            let append = Write::Append {
                path: self.path.clone(),
                bytes: line.into_bytes(),
                mode: 0o600,
                rotate_at: Some(MAX_AUDIT_BYTES),
            };
            return writer
                .submit(vec![append], None)
                .map_err(|r| io::Error::other(r.to_string()));
        }
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() >= MAX_AUDIT_BYTES) {
            std::fs::rename(&self.path, self.path.with_extension("log.1"))?;
        }
        let mut line = format_line(&event, ip, request_id, now);
        line.push('\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)?;
        // One write call per line: concurrent appenders never interleave inside a line.
        f.write_all(line.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::secret::{self, Secret};

    fn t(secs: i64) -> UtcTime {
        UtcTime::from_unix(1_700_000_000 + secs)
    }

    #[test]
    fn lines_are_json_with_the_expected_fields() {
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        let l = format_line(
            &AuditEvent::LoginSucceeded { user: "admin" },
            Some(ip),
            Some("req-1"),
            t(0),
        );
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["event"], "login");
        assert_eq!(v["success"], true);
        assert_eq!(v["user"], "admin");
        assert_eq!(v["ip"], "10.0.0.5");
        assert_eq!(v["requestId"], "req-1");
        assert_eq!(v["timestamp"], t(0).to_rfc3339());
        let l = format_line(
            &AuditEvent::LoginFailed { user: None },
            Some(ip),
            None,
            t(0),
        );
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(
            (v["event"].as_str(), v["success"].as_bool()),
            (Some("login"), Some(false))
        );
        assert!(v.get("user").is_none());
        let long = "x".repeat(1000);
        let l = format_line(
            &AuditEvent::LockoutReset { identifier: &long },
            None,
            None,
            t(0),
        );
        assert!(l.len() < 300, "fields are clipped");
    }

    #[test]
    fn file_is_appended_private_and_holds_no_secrets() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!(
            "pulse-audit-{}-{}",
            std::process::id(),
            secret::random_hex(4).unwrap().expose()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let log = AuditLog::new(&dir);
        let password = Secret::new("Sup3r-Secret-Passw0rd");
        let token = Secret::new("pulse_0123456789abcdef");
        let ip = Some("192.168.1.20".parse().unwrap());
        let events = [
            AuditEvent::LoginSucceeded { user: "admin" },
            AuditEvent::LoginFailed {
                user: Some("admin"),
            },
            AuditEvent::LockedOut {
                user: Some("admin"),
            },
            AuditEvent::Logout {
                user: Some("admin"),
            },
            AuditEvent::TokenCreated {
                id: "id-1",
                name: "ci",
            },
            AuditEvent::TokenDeleted { id: "id-1" },
            AuditEvent::TokensRegenerated,
            AuditEvent::PasswordChanged { user: "admin" },
            AuditEvent::SetupCompleted { user: "admin" },
            AuditEvent::LockoutReset {
                identifier: "admin",
            },
            AuditEvent::CsrfFailure,
            AuditEvent::RecoveryTokenGenerated,
            AuditEvent::RecoveryTokenUsed,
            AuditEvent::RecoveryModeEnabled,
            AuditEvent::RecoveryModeDisabled,
        ];
        for (i, e) in events.iter().enumerate() {
            log.record(*e, ip, None, t(i as i64)).unwrap();
        }
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text.lines().count(), events.len());
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        assert!(!text.contains(password.expose()));
        assert!(!text.contains(token.expose()));
        let mode = std::fs::metadata(log.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
