//! Shared helpers for integration tests: start Pulse in-process on 127.0.0.1:0 with a fresh
//! data dir, and a raw HTTP/1.1 client that shows exactly what went over the wire.
#![allow(dead_code)]

pub mod auth;
pub mod browser;
pub mod pools;
pub mod raw_client;
pub mod sim;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pulse-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    running: Option<pulse::core::Running>,
}

impl TestServer {
    pub fn start(env: &[(&str, &str)]) -> TestServer {
        TestServer::start_with(env, Vec::new())
    }

    pub fn start_with(env: &[(&str, &str)], routes: Vec<pulse::http::router::Route>) -> TestServer {
        let data_dir = temp_dir("srv");
        let mut vars: Vec<(String, String)> = vec![
            ("PULSE_DATA_DIR".into(), data_dir.display().to_string()),
            ("FRONTEND_PORT".into(), "0".into()),
            ("PULSE_BIND_ADDRESS".into(), "127.0.0.1".into()),
        ];
        for (k, v) in env {
            vars.retain(|(kk, _)| kk != k);
            vars.push((k.to_string(), v.to_string()));
        }
        let cfg =
            pulse::env::RuntimeConfig::load(pulse::env::EnvVars::from_pairs(vars)).expect("config");
        let running = pulse::start_with(cfg, routes).expect("start");
        TestServer {
            addr: running.addr,
            data_dir,
            running: Some(running),
        }
    }

    /// The `/metrics`-only listener (`PULSE_METRICS_PORT`), when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.running.as_ref().and_then(|r| r.metrics_addr)
    }

    pub fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[], None)
    }

    pub fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        request(self.addr, method, path, headers, body)
    }

    /// Runs `f` on the event loop (as a worker result would) and waits for it to finish.
    pub fn apply<F: FnOnce(&mut pulse::core::app::App) + Send + 'static>(&self, f: F) {
        let (tx, rx) = std::sync::mpsc::channel();
        let msg = pulse::core::event_loop::Msg::Apply(Box::new(move |app| {
            f(app);
            let _ = tx.send(());
        }));
        self.running.as_ref().unwrap().handle().post(msg);
        rx.recv_timeout(Duration::from_secs(10))
            .expect("loop applied the closure");
    }

    pub fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a fresh connection (`Connection: close`), response read to EOF.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        if !headers.iter().any(|(k, _)| {
            k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
        }) {
            head.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    if let Some(b) = body {
        raw.extend_from_slice(b);
    }
    raw_request(addr, &raw)
}

/// Sends raw bytes and parses whatever comes back.
pub fn raw_request(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // The server may answer (413) and close before reading everything we send.
    let _ = s.write_all(raw);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse_response(&buf)
}

pub fn parse_response(buf: &[u8]) -> Response {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(buf)));
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        body.truncate(len.1.parse().unwrap());
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[nl + 2 + size + 2..];
    }
    out
}

pub type WsClient = tungstenite::WebSocket<TcpStream>;

/// A real WebSocket client (tungstenite) connected to `path` with extra headers.
pub fn ws_connect(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<WsClient, tungstenite::Error> {
    ws_connect_on(
        TcpStream::connect(addr).expect("connect"),
        addr,
        path,
        headers,
    )
}

/// A TCP connection whose receive buffer is tiny: a client that stops reading stalls the
/// server's socket after a few kilobytes instead of megabytes.
pub fn tiny_window_stream(addr: SocketAddr) -> TcpStream {
    use std::os::unix::io::FromRawFd;
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    // SAFETY: plain socket calls on a descriptor we create and then hand to TcpStream.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let size: libc::c_int = 4096;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &size as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            &sa as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "connect");
        TcpStream::from_raw_fd(fd)
    }
}

pub fn ws_connect_on(
    stream: TcpStream,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<WsClient, tungstenite::Error> {
    use tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{addr}{path}").into_client_request()?;
    for (k, v) in headers {
        req.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            tungstenite::http::HeaderValue::from_str(v).unwrap(),
        );
    }
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    tungstenite::client(req, stream)
        .map(|(ws, _)| ws)
        .map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => tungstenite::Error::ConnectionClosed,
        })
}

/// Reads the next text message as JSON.
pub fn ws_next(ws: &mut WsClient) -> serde_json::Value {
    loop {
        match ws.read().expect("ws read") {
            tungstenite::Message::Text(t) => {
                return serde_json::from_str(t.as_str()).expect("json message")
            }
            tungstenite::Message::Close(c) => panic!("closed: {c:?}"),
            _ => continue,
        }
    }
}
