//! One error type for every Proxmox call, typed so the scheduler can decide between "retry
//! soon" (transient) and "the configuration is wrong" (permanent) without parsing strings.

use std::fmt;

/// What went wrong talking to a Proxmox VE, Backup Server or Mail Gateway API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxmoxError {
    /// TCP connect failed, DNS failed or the connection dropped mid-exchange.
    Connect(String),
    /// The TLS handshake failed: untrusted certificate, fingerprint mismatch, bad signature.
    Tls(String),
    /// No complete answer within the configured time.
    Timeout(String),
    /// 401 / 403 (and 595 on non-node paths, as Proxmox uses it for failed proxy auth).
    Auth { status: u16, message: String },
    /// Any other HTTP status >= 400, with the first bytes of the body for the operator.
    Http { status: u16, excerpt: String },
    /// The body was not the JSON shape we expected at `path`.
    Decode { path: String, msg: String },
    /// The server answered with something that is not a Proxmox API (an HTML page: wrong
    /// port, a reverse proxy login page, plain HTTP on the HTTPS port...).
    NotProxmox(String),
    /// The body exceeded the configured response size cap.
    TooLarge { limit: u64 },
    /// The configuration cannot work (bad URL, token without secret...). Never retried.
    Config(String),
}

impl ProxmoxError {
    /// True for errors that may go away by themselves (network, overload, node reboot).
    pub fn is_transient(&self) -> bool {
        match self {
            ProxmoxError::Connect(_) | ProxmoxError::Timeout(_) => true,
            ProxmoxError::Http { status, .. } => {
                // 595 is "node unreachable" from the cluster proxy: the node may come back.
                *status >= 500 || *status == 429 || *status == 408 || *status == 425
            }
            ProxmoxError::Tls(_)
            | ProxmoxError::Auth { .. }
            | ProxmoxError::Decode { .. }
            | ProxmoxError::NotProxmox(_)
            | ProxmoxError::TooLarge { .. }
            | ProxmoxError::Config(_) => false,
        }
    }

    /// `"transient"` or `"permanent"`, the category strings Pulse's scheduler reports.
    pub fn category(&self) -> &'static str {
        if self.is_transient() {
            "transient"
        } else {
            "permanent"
        }
    }

    /// True for 401/403-style failures that count toward auth-failure removal (§2.7).
    pub fn is_auth(&self) -> bool {
        matches!(self, ProxmoxError::Auth { .. })
    }

    /// The HTTP status, when the server answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ProxmoxError::Auth { status, .. } | ProxmoxError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for ProxmoxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxmoxError::Connect(m) => write!(f, "connection failed: {m}"),
            ProxmoxError::Tls(m) => write!(f, "TLS error: {m}"),
            ProxmoxError::Timeout(m) => write!(f, "timeout: {m}"),
            ProxmoxError::Auth { status, message } => {
                write!(f, "authentication error: API error {status}: {message}")
            }
            ProxmoxError::Http { status, excerpt } => write!(f, "API error {status}: {excerpt}"),
            ProxmoxError::Decode { path, msg } => write!(f, "cannot decode {path}: {msg}"),
            ProxmoxError::NotProxmox(m) => write!(f, "not a Proxmox API response: {m}"),
            ProxmoxError::TooLarge { limit } => write!(f, "response larger than {limit} bytes"),
            ProxmoxError::Config(m) => write!(f, "invalid configuration: {m}"),
        }
    }
}

impl std::error::Error for ProxmoxError {}

/// The first `max` characters of a body, on one line, for error messages.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(max).collect();
    out = out.replace(['\r', '\n'], " ");
    if text.chars().count() > max {
        out.push('…');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_matches_scheduler_rules() {
        assert_eq!(ProxmoxError::Timeout("x".into()).category(), "transient");
        assert_eq!(ProxmoxError::Connect("x".into()).category(), "transient");
        let http = |status| ProxmoxError::Http {
            status,
            excerpt: String::new(),
        };
        assert!(http(500).is_transient());
        assert!(http(429).is_transient());
        assert!(http(408).is_transient());
        assert!(!http(404).is_transient());
        assert!(!http(400).is_transient());
        let auth = ProxmoxError::Auth {
            status: 401,
            message: String::new(),
        };
        assert_eq!(auth.category(), "permanent");
        assert!(auth.is_auth());
        assert_eq!(ProxmoxError::Tls("x".into()).category(), "permanent");
        assert_eq!(ProxmoxError::NotProxmox("x".into()).category(), "permanent");
    }

    #[test]
    fn excerpt_is_single_line_and_bounded() {
        assert_eq!(excerpt(b"a\nb", 10), "a b");
        assert_eq!(excerpt(b"abcdef", 3), "abc…");
    }
}
