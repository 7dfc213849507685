//! Connection tests for a configured (or about to be configured) node: the real PVE, PBS or PMG
//! client, one or two cheap calls, and — when it fails — a message that tells the admin which
//! of the usual suspects it is (credentials, privileges, certificate, firewall, wrong port).
//!
//! [`probe`] blocks on the network (up to the timeout per call): run it on a worker thread.
//! [`Failure::from_error`] is pure, so the wording is testable without a server.

use crate::config::model::node_edit::Node;
use crate::proxmox::{ClientConfig, PbsClient, PmgClient, Product, ProxmoxError, PveClient};
use std::time::{Duration, Instant};

/// Upper bound for one call of a connection test: the admin is waiting for the answer.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(10);

impl Node {
    /// The client configuration for this node: its host, credentials and TLS policy, and
    /// `timeout` per request. Cluster endpoints are not included: a connection test must
    /// reach exactly the host that was entered.
    pub fn client_config(&self, timeout: Duration) -> ClientConfig {
        macro_rules! config {
            ($n:expr, $product:expr) => {{
                let mut cfg = ClientConfig::new($product, $n.host.clone());
                cfg.user = $n.user.clone();
                cfg.password = $n.password.expose().to_string();
                cfg.token_name = $n.token_name.clone();
                cfg.token_value = $n.token_value.expose().to_string();
                cfg.verify_ssl = $n.verify_ssl;
                let fingerprint = $n.fingerprint.trim();
                cfg.fingerprint = (!fingerprint.is_empty()).then(|| fingerprint.to_string());
                cfg.timeout = timeout;
                cfg
            }};
        }
        match self {
            Node::Pve(n) => config!(n, Product::Pve),
            Node::Pbs(n) => config!(n, Product::Pbs),
            Node::Pmg(n) => config!(n, Product::Pmg),
        }
    }
}

/// What a successful test learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Success {
    Pve {
        node_count: usize,
        is_cluster: bool,
        /// Non-fatal problems (e.g. `/cluster/status` not readable with these privileges).
        warnings: Vec<String>,
    },
    Pbs {
        datastore_count: usize,
    },
    Pmg {
        version: Option<String>,
    },
}

impl Success {
    /// Pulse's wording for the success message.
    pub fn message(&self) -> String {
        match self {
            Success::Pve { node_count, .. } => {
                format!("Successfully connected to {node_count} node(s)")
            }
            Success::Pbs { datastore_count } => {
                format!("Successfully connected. Found {datastore_count} datastore(s)")
            }
            Success::Pmg { version: Some(v) } => format!("Connected to PMG instance (version {v})"),
            Success::Pmg { version: None } => "Connected to PMG instance".to_string(),
        }
    }
}

/// Which of the usual failures it was. `as_str` is the `code` in the JSON answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// 401: wrong user, password or token.
    Auth,
    /// 403: the credentials work but lack privileges.
    Permission,
    /// The certificate does not match the configured fingerprint.
    Fingerprint,
    /// Any other TLS failure (untrusted self-signed certificate, plain HTTP on the port...).
    Tls,
    Timeout,
    /// Nothing listens on that port.
    Refused,
    /// DNS failure, reset, or another network error.
    Unreachable,
    /// Something answered, but not a Proxmox API (HTML page, garbage, wrong port).
    NotProxmox,
    /// Proxmox answered with an HTTP error other than 401/403.
    Upstream,
    /// The settings cannot work (bad URL, malformed fingerprint...).
    Config,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Auth => "auth_failed",
            FailureKind::Permission => "permission_denied",
            FailureKind::Fingerprint => "fingerprint_mismatch",
            FailureKind::Tls => "tls_error",
            FailureKind::Timeout => "timeout",
            FailureKind::Refused => "connection_refused",
            FailureKind::Unreachable => "unreachable",
            FailureKind::NotProxmox => "not_proxmox",
            FailureKind::Upstream => "upstream_error",
            FailureKind::Config => "invalid_config",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    /// Classifies a client error into a message an admin can act on. `origin` is the URL that
    /// was tried, `pinned` whether a fingerprint was configured.
    pub fn from_error(
        err: &ProxmoxError,
        product: Product,
        origin: &str,
        pinned: bool,
        timeout: Duration,
    ) -> Failure {
        let name = product_name(product);
        let (kind, message) = match err {
            ProxmoxError::Auth { status: 403, .. } => (
                FailureKind::Permission,
                format!(
                    "Permission denied (HTTP 403) by {origin}: the credentials are valid but lack \
                     the privileges Pulse needs (grant the Auditor role, or PVEAuditor on PVE)"
                ),
            ),
            ProxmoxError::Auth { status, .. } => (
                FailureKind::Auth,
                format!(
                    "Authentication failed (HTTP {status}) at {origin}: check the user, password or \
                     API token (token id and secret)"
                ),
            ),
            ProxmoxError::Tls(m) if looks_like_plain_http(m) => (
                FailureKind::NotProxmox,
                format!(
                    "{origin} did not answer with TLS: this port does not serve {name}'s HTTPS API \
                     (wrong port, or plain HTTP?)"
                ),
            ),
            ProxmoxError::Tls(_) if pinned => (
                FailureKind::Fingerprint,
                format!(
                    "TLS certificate fingerprint mismatch: the certificate presented by {origin} \
                     does not match the configured fingerprint"
                ),
            ),
            ProxmoxError::Tls(m) => (
                FailureKind::Tls,
                format!(
                    "TLS verification failed for {origin} ({m}): the certificate is not trusted; \
                     set its fingerprint or turn off certificate verification"
                ),
            ),
            ProxmoxError::Timeout(_) => (
                FailureKind::Timeout,
                format!(
                    "Timed out after {} s waiting for {origin}: the host may be down, firewalled \
                     or overloaded",
                    timeout.as_secs_f64()
                ),
            ),
            ProxmoxError::Connect(m) if looks_refused(m) => (
                FailureKind::Refused,
                format!(
                    "Connection refused by {origin}: nothing is listening on that port (is it \
                     {name}, port {}?)",
                    product.default_port()
                ),
            ),
            ProxmoxError::Connect(m) if m.contains("end of file") => (
                FailureKind::Unreachable,
                format!(
                    "{origin} closed the connection without answering: is this {name}'s HTTPS \
                     port (default {})?",
                    product.default_port()
                ),
            ),
            ProxmoxError::Connect(m) if m.contains("host not found") => (
                FailureKind::Unreachable,
                format!("Cannot resolve the host name of {origin}"),
            ),
            ProxmoxError::Connect(m) => (
                FailureKind::Unreachable,
                format!("Cannot reach {origin}: {m}"),
            ),
            ProxmoxError::NotProxmox(m) => (
                FailureKind::NotProxmox,
                format!(
                    "{origin} answered, but it is not a {name} API ({m}): wrong port, or a web \
                     page or proxy in front of it?"
                ),
            ),
            ProxmoxError::Decode { path, .. } => (
                FailureKind::NotProxmox,
                format!("{origin} answered {path} with something that is not {name}'s API format"),
            ),
            ProxmoxError::Http { status, excerpt } => (
                FailureKind::Upstream,
                format!("{name} at {origin} answered HTTP {status}: {excerpt}"),
            ),
            ProxmoxError::TooLarge { limit } => (
                FailureKind::NotProxmox,
                format!("{origin} sent a response larger than {limit} bytes"),
            ),
            ProxmoxError::Config(m) => (
                FailureKind::Config,
                format!("Invalid connection settings: {m}"),
            ),
        };
        Failure { kind, message }
    }
}

fn product_name(p: Product) -> &'static str {
    match p {
        Product::Pve => "Proxmox VE",
        Product::Pbs => "Proxmox Backup Server",
        Product::Pmg => "Proxmox Mail Gateway",
    }
}

/// rustls' complaint when the other side speaks plain HTTP on a TLS connection.
fn looks_like_plain_http(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("invalidcontenttype") || m.contains("corrupt message")
}

fn looks_refused(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("refused") || m == "connection failed"
}

/// The result of one connection test.
#[derive(Debug, Clone)]
pub struct Report {
    pub outcome: Result<Success, Failure>,
    /// Wall time of the whole test.
    pub latency: Duration,
}

/// Tests the connection to `node` with the real client: PVE `/nodes` then `/cluster/status`,
/// PBS `/admin/datastore`, PMG `/version`. Blocks for up to `timeout` per call (a second PVE
/// call only starts if time is left): run on a worker.
pub fn probe(node: &Node, timeout: Duration) -> Report {
    let cfg = node.client_config(timeout);
    let started = Instant::now();
    let result = match cfg.product {
        Product::Pve => probe_pve(&cfg, started),
        Product::Pbs => PbsClient::new(&cfg)
            .and_then(|mut c| c.datastores())
            .map(|stores| Success::Pbs {
                datastore_count: stores.len(),
            }),
        Product::Pmg => PmgClient::new(&cfg)
            .and_then(|mut c| c.version())
            .map(|v| Success::Pmg { version: v.version }),
    };
    let outcome = result.map_err(|e| {
        let origin = crate::proxmox::config::normalize_origin(&cfg.host, cfg.product)
            .unwrap_or_else(|_| cfg.host.clone());
        Failure::from_error(&e, cfg.product, &origin, cfg.fingerprint.is_some(), timeout)
    });
    Report {
        outcome,
        latency: started.elapsed(),
    }
}

/// The SHA-256 fingerprint of the certificate `node`'s host presents, in the form a pin takes,
/// so a failed test over an untrusted or mismatched certificate can offer "trust this one".
/// One handshake with any certificate accepted (nothing secret is sent); `None` when the host
/// does not speak TLS or cannot be reached.
pub fn presented_fingerprint(node: &Node, timeout: Duration) -> Option<String> {
    use std::net::ToSocketAddrs;
    let cfg = node.client_config(timeout);
    let origin = crate::proxmox::config::normalize_origin(&cfg.host, cfg.product).ok()?;
    let authority = origin.split_once("://")?.1.trim_end_matches('/');
    let addr = authority.to_socket_addrs().ok()?.next()?;
    let tls = crate::discovery::probe::probe_tls_config().ok()?;
    let resp = crate::discovery::probe::fetch(&tls, addr, "/", timeout, timeout).ok()?;
    (!resp.certificate.is_empty()).then(|| pulse_wire::fingerprint_of(&resp.certificate))
}

fn probe_pve(cfg: &ClientConfig, started: Instant) -> Result<Success, ProxmoxError> {
    let mut client = PveClient::new(cfg)?;
    let nodes = client.nodes()?;
    let mut warnings = Vec::new();
    // Pulse ignores a failing cluster check: the connection itself works.
    let is_cluster = if started.elapsed() < cfg.timeout {
        match client.cluster_status() {
            Ok(rows) => crate::discovery::cluster_detect::is_cluster(&rows),
            Err(e) => {
                warnings.push(format!("Could not read the cluster status: {e}"));
                false
            }
        }
    } else {
        false
    };
    Ok(Success::Pve {
        node_count: nodes.len(),
        is_cluster,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(e: ProxmoxError, pinned: bool) -> Failure {
        Failure::from_error(
            &e,
            Product::Pve,
            "https://h:8006",
            pinned,
            Duration::from_secs(10),
        )
    }

    #[test]
    fn each_failure_kind_has_its_own_message() {
        let auth = classify(
            ProxmoxError::Auth {
                status: 401,
                message: String::new(),
            },
            false,
        );
        assert_eq!(auth.kind, FailureKind::Auth);
        assert!(auth.message.contains("Authentication failed"));
        let perm = classify(
            ProxmoxError::Auth {
                status: 403,
                message: String::new(),
            },
            false,
        );
        assert_eq!(perm.kind, FailureKind::Permission);
        let tls = ProxmoxError::Tls("invalid peer certificate: UnknownIssuer".into());
        assert_eq!(classify(tls.clone(), true).kind, FailureKind::Fingerprint);
        assert_eq!(classify(tls, false).kind, FailureKind::Tls);
        let http = ProxmoxError::Tls("received corrupt message of type InvalidContentType".into());
        assert_eq!(classify(http, true).kind, FailureKind::NotProxmox);
        let t = classify(ProxmoxError::Timeout("x".into()), false);
        assert!(t.message.contains("Timed out after 10 s"), "{}", t.message);
        let refused = ProxmoxError::Connect("Connection refused (os error 111)".into());
        assert_eq!(classify(refused, false).kind, FailureKind::Refused);
        let eof = classify(
            ProxmoxError::Connect("unexpected end of file".into()),
            false,
        );
        assert!(
            eof.message.contains("closed the connection"),
            "{}",
            eof.message
        );
        let html = classify(ProxmoxError::NotProxmox("text/html".into()), false);
        assert_eq!(html.kind, FailureKind::NotProxmox);
        assert!(html.message.contains("not a Proxmox VE API"));
    }
}
