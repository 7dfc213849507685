//! HTTP transport: one keep-alive ureq agent per instance with our own TLS connector, a whole-
//! request time budget, a response size cap, and errors mapped to [`ProxmoxError`].
//!
//! ureq 3 only offers "CA roots" or "no verification"; a pinned-fingerprint verifier needs a
//! custom connector, built on `ureq::unversioned::transport` (outside semver: ureq is pinned
//! to an exact version in Cargo.toml, and the pinning tests guard the upgrade).
//!
//! Every method blocks: call it from a worker thread.

use super::error::{excerpt, ProxmoxError};
use super::tls::{self, TlsPolicy};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use std::sync::Arc;
use std::time::Duration;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector,
    Transport, TransportAdapter,
};

/// Connect phase cap: a dead host should fail fast even with a long overall timeout.
const MAX_CONNECT: Duration = Duration::from_secs(10);

/// A raw answer: status and the (size-capped) body.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// A request body with its content type.
pub struct Payload<'a> {
    pub content_type: &'a str,
    pub bytes: Vec<u8>,
}

/// One origin (`https://host:port`) reachable through a pooled agent.
pub struct Http {
    agent: ureq::Agent,
    origin: String,
    max_body: u64,
}

impl Http {
    /// `origin` is `scheme://host:port` as built by [`super::config::normalize_origin`].
    pub fn new(
        origin: String,
        policy: &TlsPolicy,
        timeout: Duration,
        max_body: u64,
    ) -> Result<Http, ProxmoxError> {
        let tls = PolicyTls {
            config: tls::client_config(policy)?,
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout.min(MAX_CONNECT)))
            .max_redirects(0)
            .max_idle_connections_per_host(4)
            .max_idle_age(Duration::from_secs(60))
            .user_agent(concat!("pulse/", env!("CARGO_PKG_VERSION")))
            .build();
        let connector = ().chain(TcpConnector::default()).chain(tls);
        let agent = ureq::Agent::with_parts(config, connector, DefaultResolver::default());
        Ok(Http {
            agent,
            origin,
            max_body,
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Performs `method` on `origin + path_and_query`. Any HTTP status is returned as a
    /// response; only transport failures are errors. `timeout` overrides the agent budget.
    pub fn send(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        payload: Option<Payload<'_>>,
        timeout: Option<Duration>,
    ) -> Result<RawResponse, ProxmoxError> {
        let url = format!("{}{}", self.origin, path_and_query);
        let result = match (method, payload) {
            ("GET", _) => {
                let mut req = self.agent.get(&url);
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                if let Some(t) = timeout {
                    req = req.config().timeout_global(Some(t)).build();
                }
                req.call()
            }
            (m, payload) => {
                let mut req = match m {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    other => {
                        return Err(ProxmoxError::Config(format!("unsupported method {other}")));
                    }
                };
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                if let Some(t) = timeout {
                    req = req.config().timeout_global(Some(t)).build();
                }
                match payload {
                    Some(p) => req.content_type(p.content_type).send(&p.bytes[..]),
                    None => req.send_empty(),
                }
            }
        };
        let mut response = result.map_err(map_ureq_error)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .body_mut()
            .with_config()
            .limit(self.max_body)
            .read_to_vec()
            .map_err(map_ureq_error)?;
        Ok(RawResponse {
            status,
            content_type,
            body,
        })
    }
}

/// Maps ureq's error zoo onto the categories the scheduler understands.
pub fn map_ureq_error(e: ureq::Error) -> ProxmoxError {
    match e {
        ureq::Error::Timeout(t) => ProxmoxError::Timeout(t.to_string()),
        ureq::Error::Rustls(e) => ProxmoxError::Tls(e.to_string()),
        ureq::Error::Tls(m) => ProxmoxError::Tls(m.to_string()),
        ureq::Error::BodyExceedsLimit(limit) => ProxmoxError::TooLarge { limit },
        ureq::Error::HostNotFound => ProxmoxError::Connect("host not found".into()),
        ureq::Error::ConnectionFailed => ProxmoxError::Connect("connection failed".into()),
        ureq::Error::BadUri(m) => ProxmoxError::Config(format!("bad URL: {m}")),
        ureq::Error::Protocol(p) => ProxmoxError::NotProxmox(format!("invalid HTTP response: {p}")),
        ureq::Error::Io(io) => map_io_error(io),
        ureq::Error::Decompress(_, io) => ProxmoxError::Connect(format!("gzip body: {io}")),
        other => ProxmoxError::Connect(other.to_string()),
    }
}

fn map_io_error(io: std::io::Error) -> ProxmoxError {
    use std::io::ErrorKind;
    if io
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>())
    {
        return ProxmoxError::Tls(io.to_string());
    }
    match io.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => ProxmoxError::Timeout(io.to_string()),
        _ => ProxmoxError::Connect(io.to_string()),
    }
}

/// Wraps the TCP transport in rustls with our [`TlsPolicy`] config (plain `http://` passes
/// through untouched: demo mode and the simulator's HTTP port).
struct PolicyTls {
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for PolicyTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PolicyTls")
    }
}

impl<In: Transport> Connector<In> for PolicyTls {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .ok_or(ureq::Error::Tls("URL without host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let name =
            ServerName::try_from(host).map_err(|_| ureq::Error::Tls("invalid server name"))?;
        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        if let Err(io) = conn.complete_io(&mut sock) {
            // Surface certificate problems as TLS errors, not as generic I/O.
            return Err(
                match io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    Some(tls_err) => ureq::Error::Rustls(tls_err.clone()),
                    None => ureq::Error::from(io),
                },
            );
        }
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        use std::io::Write;
        self.stream.get_mut().set_timeout(timeout);
        let output = self
            .buffers
            .output()
            .get(..amount)
            .ok_or(ureq::Error::Tls("output buffer underrun"))?;
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        use std::io::Read;
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// Short description of a non-JSON body for [`ProxmoxError::NotProxmox`].
pub(crate) fn describe_non_json(resp: &RawResponse) -> String {
    let ct = resp.content_type.as_deref().unwrap_or("no content type");
    format!(
        "HTTP {} with {ct}: {} (wrong port or scheme? PVE/PMG use 8006, PBS 8007, over https)",
        resp.status,
        excerpt(&resp.body, 120)
    )
}
