//! Notifications (#12) against real receivers: a std `TcpListener` HTTP receiver on loopback
//! for webhooks, Python's aiosmtpd for email, the simulator for the end-to-end flow.

mod apprise;
mod e2e;
mod email;
mod secrets;
mod webhooks;

use crate::support::{self, TestServer};
use pulse::alerts::engine::{Event, EventKind};
use serde_json::Value;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver as Rx};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const JSON: (&str, &str) = ("Content-Type", "application/json");

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Got {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// A scripted answer: status, extra headers, body; `hang` never answers.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub hang: bool,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: String::new(),
            hang: false,
        }
    }
}

/// A local HTTP receiver: answers from a script (then 200), records every request.
pub struct Receiver {
    pub addr: SocketAddr,
    rx: Rx<Got>,
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        Receiver::with_default(Answer::status(200))
    }

    pub fn with_default(default: Answer) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = channel();
        let script: Arc<Mutex<VecDeque<Answer>>> = Arc::default();
        let s2 = script.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (tx, s2, default) = (tx.clone(), s2.clone(), default.clone());
                std::thread::spawn(move || serve(conn, tx, s2, default));
            }
        });
        Receiver { addr, rx, script }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn then(&self, a: Answer) {
        self.script.lock().unwrap().push_back(a);
    }

    pub fn next(&self, secs: u64) -> Got {
        self.rx
            .recv_timeout(Duration::from_secs(secs))
            .expect("the receiver got a request in time")
    }

    pub fn none_within(&self, ms: u64) -> Option<Got> {
        self.rx.recv_timeout(Duration::from_millis(ms)).ok()
    }
}

fn serve(
    mut conn: TcpStream,
    tx: std::sync::mpsc::Sender<Got>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    default: Answer,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    let answer = script.lock().unwrap().pop_front().unwrap_or(default);
    let _ = tx.send(Got {
        method,
        path,
        headers,
        body,
        at: Instant::now(),
    });
    if answer.hang {
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (k, v) in &answer.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(answer.body.as_bytes());
}

/// aiosmtpd in a child process (`tests/it/notify/smtp_sink.py`).
pub struct Sink {
    pub port: u16,
    child: Child,
    rx: Rx<Value>,
}

impl Sink {
    pub fn start(args: &[&str]) -> Sink {
        let python = if std::path::Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/notify/smtp_sink.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (installed by .ci/run)");
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = channel();
        let (ptx, prx) = channel();
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                if let Some(p) = line.strip_prefix("PORT ") {
                    let _ = ptx.send(p.trim().parse::<u16>().unwrap());
                } else if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let port = prx
            .recv_timeout(Duration::from_secs(20))
            .expect("aiosmtpd started");
        Sink { port, child, rx }
    }

    pub fn next(&self, secs: u64) -> Value {
        self.rx
            .recv_timeout(Duration::from_secs(secs))
            .expect("the SMTP server got a message in time")
    }

    pub fn none_within(&self, ms: u64) -> Option<Value> {
        self.rx.recv_timeout(Duration::from_millis(ms)).ok()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn send(s: &TestServer, method: &str, path: &str, body: &Value) -> support::Response {
    s.req(method, path, &[JSON], Some(body.to_string().as_bytes()))
}

/// Polls `path` until `pred` holds.
pub fn wait_json(s: &TestServer, path: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = s.get(path).json();
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{path} never matched: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Hands alert events to the notifier as the alerts engine does (no grouping window).
pub fn fire(s: &TestServer, events: Vec<Event>) {
    s.apply(move |app| {
        assert!(app
            .notify
            .send(pulse::notify::delivery::Cmd::Events(events, Duration::ZERO)));
    });
}

pub fn event(kind: EventKind, id: &str, level: pulse::alerts::alert::Level) -> Event {
    let mut alert = pulse::notify::payloads::sample_alert(pulse::util::time::UtcTime::now());
    alert.id = id.to_string();
    alert.level = level;
    alert.resource_name = format!("vm-{id}");
    if kind == EventKind::Resolved {
        alert.resolved_time = Some(pulse::util::time::UtcTime::now());
    }
    Event {
        kind,
        alert,
        hold: None,
        notify: None,
    }
}

/// A server whose webhooks may reach loopback receivers, with quick retries.
pub fn server(extra: &[(&str, &str)]) -> TestServer {
    let mut env = vec![
        ("PULSE_WEBHOOK_ALLOWED_CIDRS", "127.0.0.0/8"),
        ("PULSE_NOTIFY_BACKOFF_MS", "200"),
        ("PULSE_NOTIFY_TIMEOUT_MS", "3000"),
    ];
    env.extend_from_slice(extra);
    TestServer::start(&env)
}
