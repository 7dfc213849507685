//! Benchmark plumbing (`make bench` only): the real `pulse` binary as a child process, its
//! resource use read from /proc, bounded HTTP load on 127.0.0.1 and latency statistics.
//! Every loop here stops after a fixed count or a deadline, whichever comes first.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test: the static musl build from `make bench`, else the cargo-built one.
pub fn bench_bin() -> String {
    std::env::var("PULSE_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pulse").to_string())
}

/// Lets the bench (and the Pulse it spawns, which inherits the limit) hold thousands of sockets.
pub fn raise_fd_limit() -> u64 {
    // SAFETY: plain getrlimit/setrlimit on a struct we own.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        lim.rlim_cur
    }
}

/// A running `pulse` process on 127.0.0.1 with its own data dir; stopped on drop.
pub struct PulseProc {
    child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
}

impl PulseProc {
    pub fn start(env: &[(&str, &str)]) -> PulseProc {
        let dir = crate::support::temp_dir("bench");
        let mut cmd = Command::new(bench_bin());
        cmd.env("PULSE_DATA_DIR", &dir)
            .env("FRONTEND_PORT", "0")
            .env("PULSE_BIND_ADDRESS", "127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn pulse");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let started = Instant::now();
        let port: u16 = loop {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "pulse did not log its address"
            );
            let line = lines
                .next()
                .expect("pulse exited before listening")
                .expect("stderr line");
            if let Some(a) = line.split("addr=").nth(1) {
                let a = a.split_whitespace().next().unwrap_or_default();
                break a
                    .rsplit(':')
                    .next()
                    .unwrap_or_default()
                    .parse()
                    .expect("port");
            }
        };
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if line.contains("level=error") {
                    eprintln!("pulse: {line}");
                }
            }
        });
        PulseProc {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A `/proc/<pid>/status` value as printed (`12345 kB`, `15`).
    pub fn status(&self, key: &str) -> String {
        proc_status(self.pid(), key)
    }

    /// A `/proc/<pid>/status` value in kB (VmRSS, VmHWM) or as a count (Threads).
    pub fn status_num(&self, key: &str) -> u64 {
        self.status(key)
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// User + system CPU time consumed so far, in seconds.
    pub fn cpu_secs(&self) -> f64 {
        stat_cpu_secs(&format!("/proc/{}/stat", self.pid())).1
    }

    /// CPU seconds so far per thread name (`poll-0`, `http-req`, ...), summed over threads
    /// with the same name.
    pub fn cpu_by_thread(&self) -> std::collections::BTreeMap<String, f64> {
        let mut out = std::collections::BTreeMap::new();
        let Ok(dir) = std::fs::read_dir(format!("/proc/{}/task", self.pid())) else {
            return out;
        };
        for task in dir.flatten() {
            let (name, secs) = stat_cpu_secs(&task.path().join("stat").display().to_string());
            *out.entry(name).or_insert(0.0) += secs;
        }
        out
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let r = http(self.addr, "GET", path, &[], None);
        serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null)
    }
}

impl Drop for PulseProc {
    fn drop(&mut self) {
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// (comm, utime + stime in seconds) from a `/proc/.../stat` file.
fn stat_cpu_secs(path: &str) -> (String, f64) {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // `pid (comm) state ...`: comm may contain spaces; utime and stime are fields 14 and 15.
    let (head, rest) = stat.rsplit_once(')').unwrap_or_default();
    let name = head.split_once('(').map(|(_, n)| n).unwrap_or_default();
    // Trailing digits make threads of one pool (`poll-0`, `poll-1`) one group.
    let name = name
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .to_string();
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (name, ticks as f64 / hz)
}

pub fn proc_status(pid: u32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim_start_matches(':').trim().to_string())
        .unwrap_or_default()
}

/// Status, headers (lower-cased names) and body of one response.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How a load client reaches Pulse: plain TCP, or TLS with this client configuration (server
/// name `localhost`).
#[derive(Clone)]
pub enum Transport {
    Plain,
    Tls(std::sync::Arc<rustls::ClientConfig>),
}

/// One request on a fresh connection (`Connection: close`), read to EOF; status 0 if the
/// connection failed or the answer was not HTTP.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    http_via(&Transport::Plain, addr, method, path, headers, body)
}

/// [`http`] over plain TCP or TLS (a full or resumed handshake per request, as the client
/// configuration allows).
pub fn http_via(
    transport: &Transport,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    let Ok(tcp) = TcpStream::connect_timeout(&addr, Duration::from_secs(10)) else {
        return Resp {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
        };
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(60)));
    match transport {
        Transport::Plain => exchange(tcp, addr, method, path, headers, body),
        Transport::Tls(cfg) => {
            let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
            let conn = rustls::ClientConnection::new(cfg.clone(), name).expect("TLS client");
            exchange(
                rustls::StreamOwned::new(conn, tcp),
                addr,
                method,
                path,
                headers,
                body,
            )
        }
    }
}

fn exchange<S: Read + Write>(
    mut s: S,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    let failed = Resp {
        status: 0,
        headers: Vec::new(),
        body: Vec::new(),
    };
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body.unwrap_or_default());
    if s.write_all(&raw).is_err() {
        return failed;
    }
    let mut buf = Vec::with_capacity(64 * 1024);
    if s.read_to_end(&mut buf).is_err() {
        return failed;
    }
    let Some(split) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return failed;
    };
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    buf.drain(..split + 4);
    let chunked = headers
        .iter()
        .any(|(k, v): &(String, String)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(&buf) } else { buf };
    Resp {
        status,
        headers,
        body,
    }
}

/// Decodes a chunked body; stops at the last chunk or at anything malformed.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size_line = String::from_utf8_lossy(&b[..nl]);
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_hex, 16) else {
            break;
        };
        let Some(chunk) = b.get(nl + 2..nl + 2 + size) else {
            break;
        };
        if size == 0 {
            break;
        }
        out.extend_from_slice(chunk);
        b = b.get(nl + 2 + size + 2..).unwrap_or_default();
    }
    out
}

/// Latencies of one load run.
pub struct Load {
    pub lat: Vec<Duration>,
    pub wall: Duration,
    pub bytes: u64,
    pub errors: usize,
    pub encoding: String,
}

impl Load {
    pub fn p(&self, q: f64) -> f64 {
        ms(percentile(&self.lat, q))
    }

    pub fn rps(&self) -> f64 {
        self.lat.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    pub fn mean_bytes(&self) -> u64 {
        self.bytes / (self.lat.len() as u64).max(1)
    }
}

/// `clients` threads, each sending up to `per_client` GETs one after another (new connection
/// each), all stopping at `limit`. Client `i` sends `X-Forwarded-For: 10.9.0.i` so per-IP rate
/// limits see distinct clients when Pulse trusts loopback as a proxy.
pub fn load(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    clients: usize,
    per_client: usize,
    limit: Duration,
) -> Load {
    load_via(
        &Transport::Plain,
        addr,
        path,
        headers,
        clients,
        per_client,
        limit,
    )
}

/// [`load`] over plain TCP or TLS.
pub fn load_via(
    transport: &Transport,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    clients: usize,
    per_client: usize,
    limit: Duration,
) -> Load {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(clients + 1));
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let headers = headers.clone();
            let path = path.to_string();
            let barrier = barrier.clone();
            let transport = transport.clone();
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let xff = format!("10.9.{}.{}", i / 250, i % 250 + 1);
                    let mut h: Vec<(&str, &str)> = headers
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    h.push(("X-Forwarded-For", &xff));
                    barrier.wait();
                    let end = Instant::now() + limit;
                    let mut out = (Vec::new(), 0u64, 0usize, String::new());
                    for _ in 0..per_client {
                        if Instant::now() >= end {
                            break;
                        }
                        let t = Instant::now();
                        let r = http_via(&transport, addr, "GET", &path, &h, None);
                        let d = t.elapsed();
                        if r.status == 200 {
                            out.0.push(d);
                            out.1 += r.body.len() as u64;
                            out.3 = r.header("content-encoding").unwrap_or("none").to_string();
                        } else {
                            out.2 += 1;
                        }
                    }
                    out
                })
                .expect("spawn load thread")
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let mut run = Load {
        lat: Vec::new(),
        wall: Duration::ZERO,
        bytes: 0,
        errors: 0,
        encoding: String::new(),
    };
    for h in handles {
        if let Ok((lat, bytes, errors, enc)) = h.join() {
            run.lat.extend(lat);
            run.bytes += bytes;
            run.errors += errors;
            if !enc.is_empty() {
                run.encoding = enc;
            }
        }
    }
    run.wall = started.elapsed();
    run.lat.sort();
    run
}

/// Nearest-rank percentile of a sorted slice (zero when empty).
pub fn percentile<T: Copy + Default>(sorted: &[T], q: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Wall clock in microseconds since the Unix epoch (to compare with Pulse's `lastUpdate`).
pub fn wall_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// One `rawData` broadcast as the WebSocket clients saw it.
pub struct Broadcast {
    /// The state's `lastUpdate` (Unix ms): when the poll result that changed it was applied.
    pub last_update_ms: i64,
    /// Per receiving client: receive time minus `lastUpdate`, sorted, in microseconds.
    pub lat_us: Vec<i64>,
    /// Last receipt minus first receipt, in microseconds.
    pub spread_us: i64,
}

pub struct Fanout {
    pub connected: usize,
    pub failed: usize,
    pub connect_wall: Duration,
    pub frame_bytes: usize,
    pub broadcasts: Vec<Broadcast>,
    /// Pulse's RSS (kB) and threads with every client connected.
    pub rss_kb: u64,
    pub threads: u64,
}

/// `lastUpdate` of a `rawData` message; it is the second-to-last field of the state object.
fn raw_data_last_update(text: &str) -> Option<i64> {
    if !text.starts_with("{\"type\":\"rawData\"") {
        return None;
    }
    let b = text.as_bytes();
    let tail = &b[b.len().saturating_sub(256)..];
    let key = b"\"lastUpdate\":";
    let at = tail.windows(key.len()).rposition(|w| w == key)? + key.len();
    let digits: String = tail[at..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .map(|c| *c as char)
        .collect();
    digits.parse().ok()
}

/// Connects `clients` WebSocket clients (spread over `threads` threads, each multiplexing its
/// sockets with one mio poll), then records every `rawData` broadcast until `broadcasts` new
/// states have been published after the last connect, or `limit` passes.
pub fn ws_fanout(
    pulse: &PulseProc,
    clients: usize,
    threads: usize,
    broadcasts: usize,
    limit: Duration,
) -> Fanout {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    let addr = pulse.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let frame_bytes = Arc::new(AtomicUsize::new(0));
    let ready = Arc::new(Barrier::new(threads + 1));
    let connect_started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (stop, ready, frame_bytes) = (stop.clone(), ready.clone(), frame_bytes.clone());
            std::thread::spawn(move || {
                fanout_thread(addr, t, threads, clients, &stop, &ready, &frame_bytes)
            })
        })
        .collect();
    ready.wait();
    let connect_wall = connect_started.elapsed();
    let connected_at_ms = wall_us() / 1000;
    let rss_kb = pulse.status_num("VmRSS");
    let threads_now = pulse.status_num("Threads");

    // Count published states through the API; stop a little after the last one.
    let end = Instant::now() + limit;
    let mut seen = Vec::new();
    while seen.len() < broadcasts && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(250));
        let lu = pulse.get_json("/api/state")["lastUpdate"]
            .as_i64()
            .unwrap_or(0);
        if lu > connected_at_ms && !seen.contains(&lu) {
            seen.push(lu);
        }
    }
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::SeqCst);

    let mut connected = 0;
    let mut failed = 0;
    let mut by_update: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for h in handles {
        let Ok((ok, bad, recs)) = h.join() else {
            continue;
        };
        connected += ok;
        failed += bad;
        for (lu, recv_us) in recs {
            if lu > connected_at_ms {
                by_update.entry(lu).or_default().push(recv_us);
            }
        }
    }
    let broadcasts = by_update
        .into_iter()
        .map(|(lu, mut recv)| {
            recv.sort();
            let spread_us = recv.last().copied().unwrap_or(0) - recv.first().copied().unwrap_or(0);
            Broadcast {
                last_update_ms: lu,
                lat_us: recv.iter().map(|r| r - lu * 1000).collect(),
                spread_us,
            }
        })
        .collect();
    Fanout {
        connected,
        failed,
        connect_wall,
        frame_bytes: frame_bytes.load(Ordering::SeqCst),
        broadcasts,
        rss_kb,
        threads: threads_now,
    }
}

type Ws = tungstenite::WebSocket<TcpStream>;

/// One client thread: connect its share, then read every socket as it becomes readable and
/// note (lastUpdate, receive time) the first time each client sees a state.
fn fanout_thread(
    addr: SocketAddr,
    t: usize,
    threads: usize,
    clients: usize,
    stop: &std::sync::atomic::AtomicBool,
    ready: &std::sync::Barrier,
    frame_bytes: &std::sync::atomic::AtomicUsize,
) -> (usize, usize, Vec<(i64, i64)>) {
    use mio::{Events, Interest, Poll, Token};
    use std::sync::atomic::Ordering;
    let mut poll = Poll::new().expect("mio poll");
    // (socket, last lastUpdate seen, a duplicate of the descriptor registered with mio: the
    // WebSocket keeps whatever the handshake already buffered, so it must stay the reader).
    let mut socks: Vec<Option<(Ws, i64, mio::net::TcpStream)>> = Vec::new();
    let mut failed = 0;
    for i in (t..clients).step_by(threads) {
        let xff = format!("10.{}.{}.{}", 100 + t, i / 250, i % 250 + 1);
        let conn = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .map_err(tungstenite::Error::Io)
            .and_then(|s| {
                crate::support::ws_connect_on(s, addr, "/ws", &[("X-Forwarded-For", &xff)])
            });
        match conn {
            Ok(ws) if ws.get_ref().set_nonblocking(true).is_ok() => {
                let token = Token(socks.len());
                let registered = ws.get_ref().try_clone().ok().and_then(|dup| {
                    let mut dup = mio::net::TcpStream::from_std(dup);
                    poll.registry()
                        .register(&mut dup, token, Interest::READABLE)
                        .ok()
                        .map(|()| dup)
                });
                match registered {
                    Some(dup) => socks.push(Some((ws, 0, dup))),
                    None => failed += 1,
                }
            }
            _ => failed += 1,
        }
    }
    let connected = socks.len();
    ready.wait();
    let mut recs = Vec::new();
    let mut events = Events::with_capacity(1024);
    // Data the handshake already buffered raises no new edge: drain every socket once first.
    let mut pending: Vec<usize> = (0..socks.len()).collect();
    while !stop.load(Ordering::SeqCst) {
        for idx in pending.drain(..) {
            let Some(slot) = socks.get_mut(idx) else {
                continue;
            };
            let mut dead = false;
            if let Some((ws, last, _)) = slot.as_mut() {
                loop {
                    match ws.read() {
                        Ok(tungstenite::Message::Text(text)) => {
                            let now = wall_us();
                            if let Some(lu) = raw_data_last_update(text.as_str()) {
                                if lu != *last {
                                    *last = lu;
                                    recs.push((lu, now));
                                    frame_bytes.store(text.len(), Ordering::Relaxed);
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(tungstenite::Error::Io(e))
                            if e.kind() == std::io::ErrorKind::WouldBlock =>
                        {
                            break
                        }
                        Err(_) => {
                            dead = true;
                            break;
                        }
                    }
                }
            }
            if dead {
                *slot = None;
            }
        }
        if poll
            .poll(&mut events, Some(Duration::from_millis(100)))
            .is_err()
        {
            continue;
        }
        pending.extend(events.iter().map(|e| e.token().0));
    }
    (connected, failed, recs)
}
