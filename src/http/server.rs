//! The HTTP front: tiny_http accepts and parses; two recv threads hand each request to a
//! short-lived handler thread (bounded in number) that reads the body, asks the event loop for
//! the answer with a bounded wait, and writes it. A slow client only ever holds its own thread.

use crate::core::event_loop::{LoopHandle, Msg};
use crate::http::headers;
use crate::http::reply::{Body, Reply};
use crate::http::request::{ApiRequest, Method};
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Largest request body accepted (413 beyond).
pub const MAX_BODY: usize = 1024 * 1024;
/// Requests being handled at once; beyond this new ones get 503 straight away.
pub const MAX_IN_FLIGHT: usize = 128;
/// A client that stops reading our response is cut off after this long (SO_SNDTIMEO).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a handler thread waits for the event loop's answer.
pub const REPLY_WAIT: Duration = Duration::from_secs(35);
const RECV_THREADS: usize = 2;

/// Binds the listener and sets SO_SNDTIMEO on it (Linux copies it to accepted sockets).
/// Never SO_RCVTIMEO: it would make tiny_http's `accept()` time out, which kills its accept loop.
pub fn bind(ip: IpAddr, port: u16) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(SocketAddr::new(ip, port))?;
    let tv = libc::timeval {
        tv_sec: SEND_TIMEOUT.as_secs() as _,
        tv_usec: 0,
    };
    // SAFETY: setsockopt on a valid fd we own, with a correctly sized timeval.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(listener)
}

pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
    in_flight: Arc<AtomicUsize>,
}

impl HttpServer {
    pub fn start(listener: TcpListener, handle: LoopHandle) -> io::Result<HttpServer> {
        let port = listener.local_addr()?.port();
        let server = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let server = Arc::new(server);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        for i in 0..RECV_THREADS {
            let (server, handle, in_flight) =
                (Arc::clone(&server), handle.clone(), Arc::clone(&in_flight));
            threads.push(
                std::thread::Builder::new()
                    .name(format!("http-recv-{i}"))
                    .stack_size(128 * 1024)
                    .spawn(move || recv_loop(&server, &handle, &in_flight, port))?,
            );
        }
        Ok(HttpServer {
            server,
            threads,
            in_flight,
        })
    }

    /// Stops taking requests and waits (bounded) for in-flight ones to be written.
    pub fn stop(&mut self) {
        // `unblock` wakes one thread blocked in `recv`; each recv thread exits on that error.
        for t in self.threads.drain(..) {
            while !t.is_finished() {
                self.server.unblock();
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = t.join();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn recv_loop(
    server: &tiny_http::Server,
    handle: &LoopHandle,
    in_flight: &Arc<AtomicUsize>,
    port: u16,
) {
    loop {
        let rq = match server.recv() {
            Ok(rq) => rq,
            Err(_) => return, // unblocked or the listener failed: we are stopping
        };
        if in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
            in_flight.fetch_sub(1, Ordering::SeqCst);
            let id = headers::request_id(None);
            respond(
                rq,
                Reply::error(503, "Too many concurrent requests"),
                &id,
                false,
            );
            continue;
        }
        let (handle, counter) = (handle.clone(), Arc::clone(in_flight));
        let spawned = std::thread::Builder::new()
            .name("http-req".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                handle_request(rq, &handle, port);
                counter.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            in_flight.fetch_sub(1, Ordering::SeqCst);
            crate::log_error!("cannot spawn request thread");
        }
    }
}

fn handle_request(mut rq: tiny_http::Request, handle: &LoopHandle, port: u16) {
    let started = Instant::now();
    let mut headers_vec: Vec<(String, String)> = rq
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    headers_vec.truncate(200);
    let incoming_id = headers_vec
        .iter()
        .find(|(k, _)| k == "x-request-id")
        .map(|(_, v)| v.clone());
    let request_id = headers::request_id(incoming_id.as_deref());
    let url = rq.url().to_string();
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (url.clone(), String::new()),
    };
    let method = Method::parse(rq.method().as_str());
    let peer = rq
        .remote_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let log = ReqLog {
        method,
        path: path.clone(),
        request_id: request_id.clone(),
        started,
    };
    let mut req = ApiRequest {
        method,
        path,
        query,
        headers: headers_vec,
        body: Vec::new(),
        peer,
        request_id,
        is_https: false,
    };
    let gzip_ok = req.accepts_gzip();

    if rq.body_length().is_some_and(|n| n > MAX_BODY) {
        let reply = Reply::error(
            413,
            &format!("Request body too large (limit {MAX_BODY} bytes)"),
        );
        return finish(rq, reply, &log, gzip_ok);
    }
    // Only read a body the request declares: an upgrade request's "body" is the raw
    // connection and reading it would block until the client hangs up.
    let declares_body = req
        .header("content-length")
        .is_some_and(|v| v.trim() != "0")
        || req.header("transfer-encoding").is_some();
    let mut body = Vec::new();
    let read = if declares_body {
        rq.as_reader()
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body)
    } else {
        Ok(0)
    };
    match read {
        Ok(n) if n > MAX_BODY => {
            let reply = Reply::error(
                413,
                &format!("Request body too large (limit {MAX_BODY} bytes)"),
            );
            return finish(rq, reply, &log, gzip_ok);
        }
        Ok(_) => {}
        Err(e) => {
            let reply = Reply::error(400, &format!("Cannot read request body: {e}"));
            return finish(rq, reply, &log, gzip_ok);
        }
    }
    req.body = body;

    let (tx, rx) = sync_channel(1);
    let mut reply = match handle.try_send(Msg::Http {
        req: Box::new(req),
        reply: tx,
    }) {
        Err(_) => Reply::error(503, "Server busy, retry shortly"),
        Ok(()) => rx
            .recv_timeout(REPLY_WAIT)
            .unwrap_or_else(|_| Reply::error(504, "Timed out waiting for an answer")),
    };
    if reply.status == 101 {
        if let Some(info) = reply.upgrade.take() {
            return upgrade(rq, reply, info, handle, port);
        }
    }
    finish(rq, reply, &log, gzip_ok);
}

/// Completes a WebSocket handshake and hands the socket to the event loop.
fn upgrade(
    rq: tiny_http::Request,
    reply: Reply,
    info: crate::ws::WsUpgrade,
    handle: &LoopHandle,
    port: u16,
) {
    let peer = rq.remote_addr().copied();
    let mut response = tiny_http::Response::empty(101);
    for (k, v) in &reply.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            response.add_header(h);
        }
    }
    let keep = rq.upgrade("websocket", response);
    let stream = peer
        .and_then(|p| crate::ws::fd::find_socket_fd(p, port))
        .ok_or_else(|| io::Error::other("socket not found"))
        .and_then(crate::ws::fd::dup_nonblocking);
    match stream {
        Ok(stream) => {
            handle.post(Msg::WsAttach { stream, keep, info });
        }
        Err(e) => crate::log_warn!("websocket upgrade failed", error = e),
    }
}

/// What the access log needs once the request itself has gone to the loop.
struct ReqLog {
    method: Method,
    path: String,
    request_id: String,
    started: Instant,
}

fn finish(rq: tiny_http::Request, reply: Reply, log: &ReqLog, gzip_ok: bool) {
    let status = reply.status;
    respond(rq, reply, &log.request_id, gzip_ok);
    crate::log_debug!(
        "http request",
        method = log.method.as_str(),
        path = log.path,
        status = status,
        ms = format!("{:.2}", log.started.elapsed().as_secs_f64() * 1000.0),
        request_id = log.request_id,
    );
}

/// Writes the reply with the pipeline's headers, compressing when the client accepts gzip.
fn respond(rq: tiny_http::Request, reply: Reply, request_id: &str, gzip_ok: bool) {
    let mut hdrs: Vec<tiny_http::Header> = Vec::with_capacity(reply.headers.len() + 10);
    let mut push = |k: &str, v: &str| {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            hdrs.push(h);
        }
    };
    for (k, v) in &reply.headers {
        push(k, v);
    }
    push("X-Request-ID", request_id);
    push("Server", "Pulse");
    for (k, v) in headers::SECURITY_HEADERS {
        if reply.get_header(k).is_none() {
            push(k, v);
        }
    }
    let content_type = reply.get_header("content-type").unwrap_or("");
    let compress = gzip_ok
        && reply.body.as_slice().len() >= crate::http::gzip::MIN_SIZE
        && crate::http::gzip::is_compressible(content_type)
        && reply.get_header("content-encoding").is_none();
    if crate::http::gzip::is_compressible(content_type) {
        push("Vary", "Accept-Encoding");
    }
    let data: Arc<[u8]> = match (&reply.body, compress) {
        (Body::Shared(s), true) => s.gzipped(),
        (body, true) => crate::http::gzip::compress(body.as_slice()).into(),
        (Body::Shared(s), false) => Arc::clone(&s.raw),
        (body, false) => body.as_slice().into(),
    };
    if compress {
        push("Content-Encoding", "gzip");
    }
    let len = data.len();
    let response = tiny_http::Response::new(
        tiny_http::StatusCode(reply.status),
        hdrs,
        io::Cursor::new(ArcBytes(data)),
        Some(len),
        None,
    )
    // The length is always known: send Content-Length, never tiny_http's chunking (which it
    // otherwise picks for bodies over 32 KiB).
    .with_chunked_threshold(usize::MAX);
    // A client that went away or stopped reading (SO_SNDTIMEO) is not our problem to report.
    let _ = rq.respond(response);
}

/// Lets a shared body be written without copying it.
struct ArcBytes(Arc<[u8]>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
