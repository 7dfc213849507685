//! One discovery probe: TCP connect (bounded), TLS handshake that accepts any certificate (we are
//! looking, not trusting; nothing secret is sent), `GET /api2/json/version`, and a verdict on
//! whether the answer came from PVE, PBS or PMG. Blocking; runs on discovery worker threads.

use crate::config::model::nodes::NodeType;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest response we read from a probed port.
const MAX_RESPONSE: usize = 64 * 1024;

/// TLS for probes: any certificate is accepted (we are looking, not trusting; nothing secret is
/// sent), with handshake signatures still checked — the Proxmox clients' `AcceptAny` policy.
pub fn probe_tls_config() -> Result<Arc<ClientConfig>, String> {
    crate::proxmox::tls::client_config(&crate::proxmox::tls::TlsPolicy::AcceptAny)
        .map_err(|e| format!("TLS setup: {e}"))
}

/// What one HTTPS request returned.
#[derive(Debug, Clone, Default)]
pub struct ProbeResponse {
    pub status: u16,
    pub reason: String,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// DER of the server's leaf certificate.
    pub certificate: Vec<u8>,
}

impl ProbeResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a probe found nothing. `Closed` (refused / timed out connect) is the normal case for most
/// addresses and is not reported; the others are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    Closed,
    Failed(String),
}

/// Connects to `addr` and sends `GET <path>`. `http_timeout` bounds the whole exchange after the
/// TCP connect.
pub fn fetch(
    tls: &Arc<ClientConfig>,
    addr: SocketAddr,
    path: &str,
    dial_timeout: Duration,
    http_timeout: Duration,
) -> Result<ProbeResponse, ProbeError> {
    let tcp = TcpStream::connect_timeout(&addr, dial_timeout).map_err(|_| ProbeError::Closed)?;
    let deadline = Instant::now() + http_timeout;
    let failed = |what: &str, e: &dyn std::fmt::Display| ProbeError::Failed(format!("{what}: {e}"));
    tcp.set_read_timeout(Some(http_timeout))
        .map_err(|e| failed("socket", &e))?;
    tcp.set_write_timeout(Some(http_timeout))
        .map_err(|e| failed("socket", &e))?;
    let name = ServerName::IpAddress(addr.ip().into());
    let conn = ClientConnection::new(tls.clone(), name).map_err(|e| failed("TLS", &e))?;
    let mut stream = StreamOwned::new(conn, tcp);
    let host = match addr.ip() {
        IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
        IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Pulse-Discovery\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| failed("TLS handshake or request", &e))?;
    let certificate = stream
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec())
        .unwrap_or_default();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if Instant::now() > deadline {
            return Err(ProbeError::Failed("response timed out".to_string()));
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > MAX_RESPONSE || response_complete(&raw) {
                    break;
                }
            }
            // Servers that close without close_notify still sent a usable response.
            Err(_) if !raw.is_empty() => break,
            Err(e) => return Err(failed("reading response", &e)),
        }
    }
    let mut response = parse_response(&raw)
        .ok_or_else(|| ProbeError::Failed("not an HTTP response".to_string()))?;
    response.certificate = certificate;
    Ok(response)
}

fn header_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn content_length(head: &str) -> Option<usize> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
}

fn response_complete(raw: &[u8]) -> bool {
    let Some(end) = header_end(raw) else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    content_length(&head).is_some_and(|len| raw.len() >= end + len)
}

fn parse_response(raw: &[u8]) -> Option<ProbeResponse> {
    let end = header_end(raw)?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let reason = parts.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(ProbeResponse {
        status,
        reason,
        headers,
        body: raw[end..].to_vec(),
        certificate: Vec::new(),
    })
}

/// What the version endpoint tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    /// `None` when it is Proxmox but the product is not yet known (port 8006: PVE or PMG).
    pub node_type: Option<NodeType>,
    pub version: String,
    pub release: String,
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Pure: decides from one `GET /api2/json/version` response whether this is a Proxmox product.
/// Signals: the `Server` header (`pve-api-daemon`, `pmg-api-daemon`, `proxmox-backup…`), the
/// certificate's names (Proxmox's self-signed CAs), Proxmox's 401 reason (`No ticket`), or a JSON
/// version document with `repoid`. The port decides only between products, never whether.
pub fn identify(port: u16, r: &ProbeResponse) -> Option<Identified> {
    let server = r.header("server").unwrap_or("").to_ascii_lowercase();
    let cert = &r.certificate;
    let mut node_type = if server.contains("pve-api-daemon")
        || contains(cert, "Proxmox Virtual Environment")
        || contains(cert, "PVE Cluster Manager")
    {
        Some(NodeType::Pve)
    } else if server.contains("pmg-api-daemon") || contains(cert, "Proxmox Mail Gateway") {
        Some(NodeType::Pmg)
    } else if server.contains("proxmox-backup") || contains(cert, "Proxmox Backup Server") {
        Some(NodeType::Pbs)
    } else {
        None
    };
    let json: Option<serde_json::Value> = serde_json::from_slice(&r.body).ok();
    let data = json.as_ref().and_then(|j| j.get("data"));
    let field = |k: &str| {
        data.and_then(|d| d.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let version_doc = data.is_some_and(|d| d.get("version").is_some() && d.get("repoid").is_some());
    // Proxmox's error envelope, e.g. PBS: `{"data":null,"message":"authentication failed - …"}`.
    let error_envelope = json.as_ref().is_some_and(|j| {
        j.get("data").is_some_and(|d| d.is_null())
            && j.get("message").and_then(|m| m.as_str()).is_some_and(|m| {
                let m = m.to_ascii_lowercase();
                m.contains("authentication failed") || m.contains("no ticket")
            })
    });
    let proxmox_401 = r.status == 401
        && (r.reason.eq_ignore_ascii_case("No ticket") || r.reason.contains("invalid PVE ticket"));
    if node_type.is_none()
        && !version_doc
        && !proxmox_401
        && !error_envelope
        && !server.contains("proxmox")
    {
        return None;
    }
    if node_type.is_none() && port == 8007 {
        node_type = Some(NodeType::Pbs);
    }
    Some(Identified {
        node_type,
        version: field("version"),
        release: field("release"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, reason: &str, server: &str, body: &str) -> ProbeResponse {
        ProbeResponse {
            status,
            reason: reason.to_string(),
            headers: if server.is_empty() {
                vec![]
            } else {
                vec![("server".into(), server.into())]
            },
            body: body.as_bytes().to_vec(),
            certificate: Vec::new(),
        }
    }

    #[test]
    fn identifies_by_signals() {
        let pve = identify(8006, &resp(401, "No ticket", "pve-api-daemon/3.0", "")).unwrap();
        assert_eq!(pve.node_type, Some(NodeType::Pve));
        let pmg = identify(8006, &resp(401, "No ticket", "pmg-api-daemon/3.0", "")).unwrap();
        assert_eq!(pmg.node_type, Some(NodeType::Pmg));
        let pbs = identify(8007, &resp(401, "No ticket", "", "")).unwrap();
        assert_eq!(pbs.node_type, Some(NodeType::Pbs));
        let envelope = r#"{"data":null,"message":"authentication failed - no authentication credentials provided\n"}"#;
        let pbs = identify(8007, &resp(401, "Unauthorized", "", envelope)).unwrap();
        assert_eq!(pbs.node_type, Some(NodeType::Pbs));
        let doc = r#"{"data":{"version":"8.2.4","release":"8.2","repoid":"faa83925"}}"#;
        let open = identify(8006, &resp(200, "OK", "", doc)).unwrap();
        assert_eq!(
            (open.node_type, open.version.as_str(), open.release.as_str()),
            (None, "8.2.4", "8.2")
        );
        let mut by_cert = resp(200, "OK", "", "");
        by_cert.certificate = b"...O=PVE Cluster Manager CA...".to_vec();
        assert_eq!(
            identify(8006, &by_cert).unwrap().node_type,
            Some(NodeType::Pve)
        );
    }

    #[test]
    fn other_services_are_not_proxmox() {
        assert!(identify(8006, &resp(200, "OK", "nginx", "<html>")).is_none());
        assert!(identify(8007, &resp(401, "Unauthorized", "Apache", "")).is_none());
        assert!(identify(8006, &resp(200, "OK", "", r#"{"data":{"version":"1"}}"#)).is_none());
        let other_api = r#"{"data":null,"message":"not found"}"#;
        assert!(identify(8007, &resp(404, "Not Found", "", other_api)).is_none());
    }

    #[test]
    fn parses_http() {
        let r = parse_response(
            b"HTTP/1.1 401 No ticket\r\nServer: pve-api-daemon/3.0\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            (r.status, r.reason.as_str(), r.header("server")),
            (401, "No ticket", Some("pve-api-daemon/3.0"))
        );
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_none());
        assert!(response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
        ));
        assert!(!response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi"
        ));
    }
}
