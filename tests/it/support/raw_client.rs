//! Helpers for tests that attack the real `pulse` binary: start it as a child process, open
//! TCP connections from a chosen loopback source address (Linux routes all of 127/8 to `lo`,
//! so 127.0.0.2 is "another machine" for per-address limits and lockouts), send exact bytes,
//! read status lines with timeouts, and watch the process's RSS and thread count.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::unix::io::FromRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The address the health probe comes from: never the attacker's.
pub const BYSTANDER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
pub const ATTACKER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pulse-raw-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `pulse` binary on 127.0.0.1 (a port the kernel picked), killed on drop.
pub struct Pulse {
    pub child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    own_dir: bool,
}

impl Pulse {
    /// Starts the binary with a fresh data dir and `env` (which may shrink the limits).
    pub fn start(env: &[(&str, &str)]) -> Pulse {
        let dir = temp_dir("srv");
        let mut p = Pulse::start_in(&dir, env);
        p.own_dir = true;
        p
    }

    /// Starts the binary on an existing data dir (kept on drop: a restart test reuses it).
    pub fn start_in(dir: &std::path::Path, env: &[(&str, &str)]) -> Pulse {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pulse"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PULSE_DATA_DIR", dir)
            .env("FRONTEND_PORT", "0")
            .env("PULSE_BIND_ADDRESS", "127.0.0.1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn pulse");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Keeps draining stderr for the child's whole life, so logging never blocks it.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("msg=listening") {
                    let _ = tx.send(line);
                }
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("pulse did not start");
            }
        };
        let addr: SocketAddr = line
            .split("addr=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .expect("addr in the listening line")
            .parse()
            .expect("socket address");
        Pulse {
            child,
            addr,
            data_dir: dir.to_path_buf(),
            own_dir: false,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Panics if the process has exited.
    pub fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("pulse died during the attack: {status}");
        }
    }

    /// (VmRSS in KiB, thread count) from /proc.
    pub fn usage(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("pulse is running");
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("Threads:"))
    }

    /// `/api/health` from [`BYSTANDER`] answers 200 within 2 s (the generous liveness bound;
    /// `make bench` measures the real figure).
    pub fn assert_health(&mut self) {
        self.assert_alive();
        let t0 = Instant::now();
        let status = health_from(self.addr, BYSTANDER, Duration::from_secs(2));
        assert_eq!(
            status,
            Some(200),
            "/api/health from another address did not answer 200 within 2 s (took {:?})",
            t0.elapsed()
        );
    }

    /// Waits (bounded) until RSS and threads are back within the margins of `baseline`, then
    /// checks health.
    pub fn assert_back_to(&mut self, baseline: (u64, u64), rss_margin_kb: u64, threads: u64) {
        self.assert_settled(baseline, rss_margin_kb, threads);
        self.assert_health();
    }

    /// Waits (bounded) until RSS and threads are back within the margins of `baseline`.
    pub fn assert_settled(&self, baseline: (u64, u64), rss_margin_kb: u64, threads: u64) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut now = self.usage();
        while Instant::now() < deadline {
            now = self.usage();
            if now.0 <= baseline.0 + rss_margin_kb && now.1 <= baseline.1 + threads {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(
            now.0 <= baseline.0 + rss_margin_kb,
            "RSS {} KiB did not come back near the baseline {} KiB",
            now.0,
            baseline.0
        );
        assert!(
            now.1 <= baseline.1 + threads,
            "{} threads, baseline {}",
            now.1,
            baseline.1
        );
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.own_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// Raises this process's open-file limit to its hard limit (for tests that hold thousands of
/// connections); returns the soft limit now in force.
pub fn raise_nofile() -> u64 {
    // SAFETY: plain getrlimit/setrlimit on a struct we own.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 1024;
        }
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur
    }
}

/// A TCP connection to `to` whose source address is `from` (any 127/8 address works on
/// Linux), with a connect timeout: a full accept queue must fail the test, not hang it.
pub fn connect_from(
    from: Ipv4Addr,
    to: SocketAddr,
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 only")
    };
    let sa = |a: SocketAddrV4| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: socket calls on a descriptor we create; it is owned by the TcpStream (or closed)
    // before returning.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let local = sa(SocketAddrV4::new(from, 0));
        if libc::bind(fd, &local as *const _ as *const libc::sockaddr, len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let remote = sa(to);
        if libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len) != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLOUT,
                revents: 0,
            };
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            if libc::poll(&mut pfd, 1, ms) != 1 {
                return Err(std::io::Error::new(
                    ErrorKind::TimedOut,
                    "connect timed out",
                ));
            }
            if let Some(e) = stream.take_error()? {
                return Err(e);
            }
        }
        stream.set_nonblocking(false)?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// Connects from `from` with a 5 s timeout, panicking on failure.
pub fn open(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    connect_from(from, to, Duration::from_secs(5)).expect("connect")
}

/// `GET /api/health` on a fresh connection from `from`; the status if it came within `limit`.
pub fn health_from(to: SocketAddr, from: Ipv4Addr, limit: Duration) -> Option<u16> {
    let deadline = Instant::now() + limit;
    let mut s = connect_from(from, to, limit).ok()?;
    s.write_all(b"GET /api/health HTTP/1.1\r\nHost: pulse\r\nConnection: close\r\n\r\n")
        .ok()?;
    read_status(&mut s, deadline.saturating_duration_since(Instant::now()))
}

/// Reads up to the end of the status line and returns the status code.
pub fn read_status(s: &mut TcpStream, limit: Duration) -> Option<u16> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n") && got.len() < 256 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(left)).ok()?;
        match s.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            _ => return None,
        }
    }
    let line = String::from_utf8_lossy(&got);
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A client stream whose reads can be bounded in time: a plain `TcpStream`, or a TLS stream
/// over one (the hostile-client suite runs over both).
pub trait Timed: Read + Write {
    /// Reads give up (`WouldBlock` or `TimedOut`) after `limit`; `None` waits forever.
    fn set_read_limit(&mut self, limit: Option<Duration>) -> std::io::Result<()>;
}

impl Timed for TcpStream {
    fn set_read_limit(&mut self, limit: Option<Duration>) -> std::io::Result<()> {
        self.set_read_timeout(limit)
    }
}

/// One complete response read off a connection that may stay open.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Reads one response (head, then a Content-Length or chunked body; `head_only` for HEAD and
/// 1xx) within `limit`. `buf` carries bytes read past this response to the next call.
pub fn read_response<S: Timed>(
    s: &mut S,
    buf: &mut Vec<u8>,
    head_only: bool,
    limit: Duration,
) -> Option<Resp> {
    let deadline = Instant::now() + limit;
    let fill = |s: &mut S, buf: &mut Vec<u8>| -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_limit(Some(left)).is_err() {
            return false;
        }
        let mut chunk = [0u8; 16 * 1024];
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    };
    let end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        if !fill(s, buf) {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.drain(..end + 4);
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut r = Resp {
        status,
        head,
        body: Vec::new(),
    };
    if head_only || status < 200 || status == 204 || status == 304 {
        return Some(r);
    }
    if r.header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        loop {
            let nl = loop {
                if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                    break p;
                }
                if !fill(s, buf) {
                    return None;
                }
            };
            let size_text = String::from_utf8_lossy(&buf[..nl]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            while buf.len() < nl + 2 + size + 2 {
                if !fill(s, buf) {
                    return None;
                }
            }
            r.body.extend_from_slice(&buf[nl + 2..nl + 2 + size]);
            buf.drain(..nl + 2 + size + 2);
            if size == 0 {
                return Some(r);
            }
        }
    }
    match r.header("content-length").map(|v| v.parse::<usize>()) {
        Some(Ok(len)) => {
            while buf.len() < len {
                if !fill(s, buf) {
                    return None;
                }
            }
            r.body = buf.drain(..len).collect();
        }
        _ => {
            // No length: the body runs to the close.
            while fill(s, buf) {}
            r.body = std::mem::take(buf);
        }
    }
    Some(r)
}

/// Sends `raw` on a fresh connection from `from` and reads one response within `limit`.
/// Writing may fail half way (the server answers and closes early): that is not an error.
pub fn exchange(to: SocketAddr, from: Ipv4Addr, raw: &[u8], limit: Duration) -> Option<Resp> {
    let mut s = open(from, to);
    let _ = s.write_all(raw);
    read_response(&mut s, &mut Vec::new(), false, limit)
}

/// Whether the peer closed the connection (EOF or reset) within `limit`; whatever it still
/// sends before closing is read and dropped.
pub fn closed_within<S: Timed>(s: &mut S, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_limit(Some(left)).is_err() {
            return false;
        }
        match s.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Runs `attack` on a thread while this thread checks `/api/health` from [`BYSTANDER`] every
/// 200 ms until the attack is over; returns the attack's result.
pub fn during<T: Send + 'static>(
    pulse: &mut Pulse,
    attack: impl FnOnce() -> T + Send + 'static,
) -> T {
    let h = std::thread::spawn(attack);
    while !h.is_finished() {
        pulse.assert_health();
        std::thread::sleep(Duration::from_millis(200));
    }
    h.join().expect("attack thread")
}

/// Reads until the peer closes; the bytes it sent on the way, or `None` if it did not close
/// within `limit`.
pub fn rest_until_close<S: Timed>(s: &mut S, limit: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_limit(Some(left)).is_err() {
            return None;
        }
        match s.read(&mut chunk) {
            Ok(0) => return Some(out),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None
            }
            Err(_) => return Some(out),
        }
    }
}

/// Sends `raw` from `from` on a writer thread (the server may answer and close before taking
/// it all, so writing must not hold up reading) and reads one response within `limit`.
/// Returns the response and the stream, for checks on what follows.
pub fn send_and_read(
    to: SocketAddr,
    from: Ipv4Addr,
    raw: Vec<u8>,
    limit: Duration,
) -> (Option<Resp>, TcpStream) {
    let mut s = open(from, to);
    let mut w = s.try_clone().expect("clone stream");
    w.set_write_timeout(Some(limit)).unwrap();
    let writer = std::thread::spawn(move || {
        for piece in raw.chunks(64 * 1024) {
            if w.write_all(piece).is_err() {
                break;
            }
        }
    });
    let r = read_response(&mut s, &mut Vec::new(), false, limit);
    let _ = writer.join();
    (r, s)
}

/// Samples the process's RSS every 50 ms until `done` is set; returns the peak in KiB.
pub fn rss_sampler(
    pid: u32,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !done.load(Ordering::SeqCst) {
            if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                let rss = s
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                peak = peak.max(rss);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        peak
    })
}
