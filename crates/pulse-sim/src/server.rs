//! Listeners and connection threads. One accept thread per (product, scheme); each accepted
//! connection gets a thread, bounded by `max_connections` (the accept loop waits for a slot).
//! Faults are applied here, around the router.

use super::config::Fault;
use super::http::{self, Request, Response};
use super::pace::Pace;
use super::router;
use super::state::Shared;
use pulse_wire::Product;
use rustls::{ServerConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Read timeout slice: how quickly idle threads notice `stop`.
const POLL: Duration = Duration::from_millis(100);
/// Keep-alive connections idle longer than this are closed.
const IDLE: Duration = Duration::from_secs(30);

pub struct Bound {
    pub product: Product,
    pub tls: bool,
    pub addr: SocketAddr,
    pub thread: JoinHandle<()>,
}

/// Binds `127.0.0.1:port` (0 = OS choice) and starts its accept thread.
pub fn listen(
    shared: Arc<Shared>,
    product: Product,
    tls: bool,
    port: u16,
) -> std::io::Result<Bound> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let addr = listener.local_addr()?;
    let thread = std::thread::Builder::new()
        .name(format!(
            "sim-{}-{}",
            product.as_str(),
            if tls { "https" } else { "http" }
        ))
        .spawn(move || accept_loop(&shared, &listener, product, tls))?;
    Ok(Bound {
        product,
        tls,
        addr,
        thread,
    })
}

/// Wakes an accept loop blocked in `accept()` so it sees the stop flag.
pub fn wake(addr: SocketAddr) {
    let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener, product: Product, tls: bool) {
    for stream in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let Ok(stream) = stream else { continue };
        while shared.active_connections.load(Ordering::Acquire) >= shared.cfg.max_connections {
            shared.slot_wanted.store(true, Ordering::Relaxed);
            if shared.stopping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        shared.slot_wanted.store(false, Ordering::Relaxed);
        shared.active_connections.fetch_add(1, Ordering::AcqRel);
        let conn_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("sim-conn".into())
            .spawn(move || {
                handle_connection(&conn_shared, stream, product, tls);
                conn_shared
                    .active_connections
                    .fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            shared.active_connections.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A served stream: plain TCP or rustls over TCP, with access to the socket for resets.
trait Conn: Read + Write {
    fn tcp(&self) -> &TcpStream;
}

impl Conn for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Conn for StreamOwned<ServerConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

fn handle_connection(shared: &Shared, stream: TcpStream, product: Product, tls: bool) {
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_nodelay(true);
    if !tls {
        let mut s = stream;
        serve(shared, &mut s, product);
        return;
    }
    let identity = if shared.faults().wrong_cert(product) {
        &shared.wrong_identity
    } else {
        &shared.identity
    };
    let Ok(conn) = ServerConnection::new(identity.config.clone()) else {
        return;
    };
    let mut s = StreamOwned::new(conn, stream);
    serve(shared, &mut s, product);
}

/// The `Server` header each product's API daemon sends.
fn server_name(product: Product) -> &'static str {
    match product {
        Product::Pve => "pve-api-daemon/3.0",
        Product::Pmg => "pmg-api-daemon/3.0",
        Product::Pbs => "proxmox-backup-api",
    }
}

fn serve<C: Conn>(shared: &Shared, conn: &mut C, product: Product) {
    let mut buf = Vec::new();
    // At the `pveproxy` pace (PVE only): its idle timeout and keep-alive request limit.
    let pace = match shared.cfg.pace {
        Pace::Pveproxy(p) if product == Product::Pve => Some(p),
        _ => None,
    };
    let idle = pace.map_or(IDLE, |p| p.idle);
    let mut served: u32 = 0;
    while let Ok(Some(req)) =
        http::read_request(conn, &mut buf, &shared.stop, &shared.slot_wanted, idle)
    {
        shared.requests.fetch_add(1, Ordering::Relaxed);
        served = served.saturating_add(1);
        let action = match pace {
            // One of the few workers answers, taking the per-request latency.
            Some(p) => shared.workers.run(p.workers, || {
                std::thread::sleep(p.latency);
                respond(shared, product, &req)
            }),
            None => respond(shared, product, &req),
        };
        let mut keep_alive = req.keep_alive;
        if let (Some(p), Action::Send(resp)) = (pace, &action) {
            // pveproxy ends keep-alive after its request budget and after any error.
            keep_alive = keep_alive && served < p.keep_alive_requests && resp.status < 400;
        }
        match action {
            Action::Send(resp) => {
                let resp = resp.gzip_if_accepted(&req);
                if resp.gzipped {
                    shared.gzipped.fetch_add(1, Ordering::Relaxed);
                }
                if http::write_response(conn, &resp, keep_alive, server_name(product)).is_err()
                    || !keep_alive
                {
                    break;
                }
            }
            Action::Truncate(resp) => {
                let resp = resp.gzip_if_accepted(&req);
                let mut out = resp.head_bytes(false, server_name(product));
                out.extend_from_slice(resp.body.get(..resp.body.len() / 2).unwrap_or_default());
                let _ = conn.write_all(&out);
                let _ = conn.flush();
                let _ = conn.tcp().shutdown(Shutdown::Both);
                break;
            }
            Action::Reset => {
                reset(conn.tcp());
                break;
            }
            Action::Hang => {
                let until = Instant::now() + shared.cfg.hang_limit;
                while Instant::now() < until && !shared.stopping() {
                    std::thread::sleep(Duration::from_millis(20));
                }
                break;
            }
        }
    }
    let _ = conn.flush();
}

enum Action {
    Send(Response),
    Truncate(Response),
    Reset,
    Hang,
}

/// Applies any injected fault, otherwise routes the request. Admin paths are never faulted.
fn respond(shared: &Shared, product: Product, req: &Request) -> Action {
    let api_path = req.path.strip_prefix("/api2/json").unwrap_or("");
    let fault = if req.path.starts_with("/api2/json") {
        shared.faults().lookup(product, api_path)
    } else {
        None
    };
    match fault {
        None => Action::Send(router::route(shared, product, req)),
        Some(Fault::Latency { ms }) => {
            let until = Instant::now() + Duration::from_millis(ms);
            while Instant::now() < until && !shared.stopping() {
                std::thread::sleep(Duration::from_millis(5).min(until - Instant::now()));
            }
            Action::Send(router::route(shared, product, req))
        }
        Some(Fault::Hang) => Action::Hang,
        Some(Fault::Status { status }) => {
            Action::Send(Response::error(status, &format!("simulated error {status}")))
        }
        Some(Fault::GarbageJson) => Action::Send(Response {
            status: 200,
            reason: "OK".into(),
            content_type: http::JSON,
            body: br#"{"data": {"version": "9.0.3"}}}]garbage"#.to_vec(),
            gzipped: false,
        }),
        Some(Fault::TruncatedBody) => Action::Truncate(router::route(shared, product, req)),
        Some(Fault::ConnectionReset) => Action::Reset,
        Some(Fault::HtmlPage) => Action::Send(Response {
            status: 200,
            reason: "OK".into(),
            content_type: "text/html; charset=utf-8",
            body: b"<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body>It works</body></html>\n".to_vec(),
            gzipped: false,
        }),
        // Handled at accept time; reaching here means the client accepted the other cert.
        Some(Fault::WrongCertificate) => Action::Send(router::route(shared, product, req)),
    }
}

/// Closes with RST instead of FIN (SO_LINGER 0), as a crashing proxy would.
fn reset(tcp: &TcpStream) {
    let _ = rustix::net::sockopt::set_socket_linger(tcp, Some(std::time::Duration::ZERO));
    // The RST goes out when the caller drops the stream.
}
