//! The HTTP server on the event loop: the listener and every open connection are registered
//! with the loop's `mio::Registry`; readiness drives each connection's state machine
//! (`conn.rs`), complete requests go to the app, answers come back through `respond`. Deadlines
//! live in one heap here, polled by the loop. No thread per connection, none per request.

use crate::auth::client_ip::CidrList;
use crate::http::conn::{Conn, Step};
use crate::http::limits::Limits;
use crate::http::listener::{self, Admit, Caps};
use crate::http::reply::Reply;
use crate::http::request::ApiRequest;
use crate::http::tls::Sock;
use mio::net::TcpListener;
use mio::{Interest, Registry, Token};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Instant;

/// The listening socket's token (0 is the loop's waker; the hub's tokens start at 16).
pub const LISTENER: Token = Token(1);
/// The plain-HTTP listener that only redirects to HTTPS (`PULSE_HTTP_REDIRECT_PORT`).
pub const REDIRECT_LISTENER: Token = Token(2);
/// The optional `/metrics`-only listener (`PULSE_METRICS_PORT`).
pub const METRICS_LISTENER: Token = Token(3);
/// Which listener a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Main,
    /// Plain HTTP, every request answered with a redirect to HTTPS.
    Redirect,
    /// Plain HTTP, `/metrics` only.
    Metrics,
}

/// Connection tokens are never reused, so a late answer or a stale deadline for a closed
/// connection finds nothing instead of a stranger.
const FIRST_CONN: usize = 1 << 40;

/// What the app must act on.
pub enum HttpEvent {
    /// A complete request; answer it with `HttpServer::respond(token, ..)`.
    Request(Token, Box<ApiRequest>),
    /// A WebSocket handshake was accepted: the socket is the hub's now.
    Upgrade(Upgraded),
}

/// A connection handed over to the WebSocket hub (already deregistered here).
pub struct Upgraded {
    pub stream: Sock,
    pub peer: SocketAddr,
    /// Bytes of the 101 answer not yet written.
    pub owed: Vec<u8>,
    /// Bytes the client sent after its handshake (early WebSocket frames).
    pub leftover: Vec<u8>,
    pub info: crate::ws::WsUpgrade,
}

pub struct HttpServer {
    listener: Option<TcpListener>,
    pub addr: SocketAddr,
    /// The redirect-only listener and its address.
    redirect: Option<(TcpListener, SocketAddr)>,
    /// The plain-HTTP listener that serves only `/metrics` (`PULSE_METRICS_PORT`), and the
    /// connections it accepted.
    metrics_listener: Option<TcpListener>,
    pub metrics_addr: Option<SocketAddr>,
    metrics_conns: HashSet<Token>,
    conns: HashMap<Token, Conn<Sock>>,
    /// HTTPS: new connections get this configuration (swapped on reload; open ones keep theirs).
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// Watches the certificate files (HTTPS only).
    pub tls_reload: Option<crate::http::tls_reload::Reloader>,
    /// notAfter (Unix seconds) of the certificate new connections get (HTTPS only).
    pub tls_not_after: Option<i64>,
    caps: Caps,
    limits: Limits,
    next_token: usize,
    deadlines: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Connections with input buffered that no readiness event will announce.
    again: Vec<Token>,
    draining: bool,
    /// Connections refused by the caps since start (for logs and benchmarks).
    pub refused_total: u64,
    /// Most connections open since freed heap was last handed back to the OS.
    high_water: usize,
}

/// After this many connections closed, freed heap (their buffers) goes back to the OS.
const TRIM_AFTER_CLOSING: usize = 256;

impl HttpServer {
    pub fn new(
        listener: TcpListener,
        registry: &Registry,
        limits: Limits,
        trusted_proxies: CidrList,
    ) -> std::io::Result<HttpServer> {
        let mut listener = listener;
        let addr = listener.local_addr()?;
        registry.register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(HttpServer {
            listener: Some(listener),
            addr,
            redirect: None,
            metrics_listener: None,
            metrics_addr: None,
            metrics_conns: HashSet::new(),
            conns: HashMap::new(),
            tls: None,
            tls_reload: None,
            tls_not_after: None,
            caps: Caps::new(limits, trusted_proxies),
            limits,
            next_token: FIRST_CONN,
            deadlines: BinaryHeap::new(),
            again: Vec::new(),
            draining: false,
            refused_total: 0,
            high_water: 0,
        })
    }

    /// Adds the `/metrics`-only listener. Its connections are plain HTTP even when the main
    /// port is HTTPS (as the original's separate metrics server).
    pub fn add_metrics_listener(
        &mut self,
        mut listener: TcpListener,
        registry: &Registry,
    ) -> std::io::Result<SocketAddr> {
        let addr = listener.local_addr()?;
        registry.register(&mut listener, METRICS_LISTENER, Interest::READABLE)?;
        self.metrics_listener = Some(listener);
        self.metrics_addr = Some(addr);
        Ok(addr)
    }

    /// Whether `token`'s connection came in on the `/metrics`-only listener.
    pub fn is_metrics_conn(&self, token: Token) -> bool {
        self.metrics_conns.contains(&token)
    }

    pub fn owns(&self, token: Token) -> bool {
        token == LISTENER
            || token == REDIRECT_LISTENER
            || token == METRICS_LISTENER
            || self.conns.contains_key(&token)
    }

    /// Starts the redirect-only plain-HTTP listener (HTTPS on): its connections get the same
    /// limits and timeouts, and every request on them a redirect to this server's HTTPS port.
    pub fn listen_redirect(
        &mut self,
        registry: &Registry,
        mut listener: TcpListener,
    ) -> std::io::Result<SocketAddr> {
        let addr = listener.local_addr()?;
        registry.register(&mut listener, REDIRECT_LISTENER, Interest::READABLE)?;
        self.redirect = Some((listener, addr));
        Ok(addr)
    }

    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().map(|(_, a)| *a)
    }

    /// Open HTTP connections (WebSocket clients are the hub's).
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Connections that owe or are owed an answer (shutdown waits for these, bounded).
    pub fn busy(&self) -> usize {
        self.conns.values().filter(|c| c.is_busy()).count()
    }

    /// Whether the request waiting on `token` accepts gzip.
    pub fn gzip_ok(&self, token: Token) -> bool {
        self.conns.get(&token).is_some_and(|c| c.gzip_ok())
    }

    /// Readiness on the listener or a connection.
    pub fn on_event(&mut self, registry: &Registry, token: Token, now: Instant) -> Vec<HttpEvent> {
        let mut events = Vec::new();
        if token == LISTENER {
            self.accept(registry, now, Via::Main);
        } else if token == REDIRECT_LISTENER {
            self.accept(registry, now, Via::Redirect);
        } else if token == METRICS_LISTENER {
            self.accept(registry, now, Via::Metrics);
        } else if let Some(c) = self.conns.get_mut(&token) {
            let step = c.drive(now);
            self.after(registry, token, step, now, &mut events);
        }
        events
    }

    /// The app's answer for the request on `token` (dropped if that connection is gone).
    pub fn respond(
        &mut self,
        registry: &Registry,
        token: Token,
        reply: Reply,
        now: Instant,
    ) -> Vec<HttpEvent> {
        let mut events = Vec::new();
        if let Some(c) = self.conns.get_mut(&token) {
            let step = c.respond(reply, now);
            self.after(registry, token, step, now, &mut events);
        }
        events
    }

    /// Fires due deadlines (408s, idle and stalled closes).
    pub fn on_timers(&mut self, registry: &Registry, now: Instant) -> Vec<HttpEvent> {
        let mut events = Vec::new();
        if let Some((cfg, not_after)) = self.tls_reload.as_mut().and_then(|r| r.poll(now)) {
            self.tls = Some(cfg);
            self.tls_not_after = Some(not_after);
        }
        while let Some(Reverse((at, raw))) = self.deadlines.peek().copied() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            let token = Token(raw);
            let Some(c) = self.conns.get_mut(&token) else {
                continue;
            };
            if c.scheduled == Some(at) {
                c.scheduled = None;
            }
            let step = c.on_deadline(now);
            self.after(registry, token, step, now, &mut events);
        }
        if self.conns.len() + TRIM_AFTER_CLOSING <= self.high_water {
            self.high_water = self.conns.len();
            crate::ws::hub::trim_heap();
        }
        events
    }

    /// Drives connections whose buffered input no event will announce (one step each per
    /// loop turn, so a pipelining client takes turns with everyone else).
    pub fn run_again(&mut self, registry: &Registry, now: Instant) -> Vec<HttpEvent> {
        let mut events = Vec::new();
        for token in std::mem::take(&mut self.again) {
            if let Some(c) = self.conns.get_mut(&token) {
                let step = c.drive(now);
                self.after(registry, token, step, now, &mut events);
            }
        }
        events
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        if !self.again.is_empty() {
            return Some(Instant::now());
        }
        let conn = self.deadlines.peek().map(|Reverse((at, _))| *at);
        let reload = self.tls_reload.as_ref().map(|r| r.next_check());
        conn.into_iter().chain(reload).min()
    }

    /// Shutdown: stop accepting, close idle connections, let busy ones finish and close.
    pub fn drain(&mut self, registry: &Registry) {
        self.draining = true;
        if let Some(mut l) = self.listener.take() {
            let _ = registry.deregister(&mut l);
        }
        if let Some((mut l, _)) = self.redirect.take() {
            let _ = registry.deregister(&mut l);
        }
        if let Some(mut l) = self.metrics_listener.take() {
            let _ = registry.deregister(&mut l);
        }
        let idle: Vec<Token> = self
            .conns
            .iter_mut()
            .filter_map(|(t, c)| c.drain().then_some(*t))
            .collect();
        for t in idle {
            self.close(registry, t);
        }
    }

    /// Acts on a connection's step: hand requests and upgrades to the app, close, schedule.
    fn after(
        &mut self,
        registry: &Registry,
        token: Token,
        step: Step,
        now: Instant,
        events: &mut Vec<HttpEvent>,
    ) {
        match step {
            Step::Close => {
                self.close(registry, token);
                return;
            }
            Step::Upgrade => {
                if let Some(up) = self.take_upgraded(registry, token) {
                    events.push(HttpEvent::Upgrade(up));
                }
                return;
            }
            Step::Request(req) => {
                if self.conns.get(&token).is_some_and(|c| c.redirect_only) {
                    let reply = crate::http::redirect::answer(&req, self.addr.port());
                    if let Some(c) = self.conns.get_mut(&token) {
                        let step = c.respond(reply, now);
                        return self.after(registry, token, step, now, events);
                    }
                }
                events.push(HttpEvent::Request(token, req))
            }
            Step::Idle => {}
        }
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        if c.wants_again() && !self.again.contains(&token) {
            self.again.push(token);
        }
        if let Some(d) = c.deadline() {
            if c.scheduled.is_none_or(|s| d < s || s <= now) {
                c.scheduled = Some(d);
                self.deadlines.push(Reverse((d, token.0)));
            }
        }
    }

    fn take_upgraded(&mut self, registry: &Registry, token: Token) -> Option<Upgraded> {
        let mut c = self.conns.remove(&token)?;
        self.caps.remove(c.peer.ip());
        let _ = registry.deregister(&mut c.stream);
        let (owed, leftover, info) = c.take_upgrade()?;
        Some(Upgraded {
            stream: c.stream,
            peer: c.peer,
            owed,
            leftover,
            info,
        })
    }

    fn close(&mut self, registry: &Registry, token: Token) {
        self.metrics_conns.remove(&token);
        if let Some(mut c) = self.conns.remove(&token) {
            self.caps.remove(c.peer.ip());
            let _ = registry.deregister(&mut c.stream);
        }
    }

    fn accept(&mut self, registry: &Registry, now: Instant, via: Via) {
        loop {
            let listener = match via {
                Via::Redirect => self.redirect.as_ref().map(|(l, _)| l),
                Via::Metrics => self.metrics_listener.as_ref(),
                Via::Main => self.listener.as_ref(),
            };
            let Some(listener) = listener else {
                return;
            };
            let (stream, peer) = match listener.accept() {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors and the like: the backlog keeps the rest.
                    crate::log_warn!("accept failed", error = e);
                    return;
                }
            };
            // A TLS client would read a plain-text 503 as a corrupt record: it is only closed.
            let plain = !(via == Via::Main && self.tls.is_some());
            match self.caps.admit(peer.ip()) {
                Admit::Yes => {}
                Admit::OverPerAddress => {
                    self.refused_total += 1;
                    if plain {
                        listener::refuse(stream, "Too many connections from this address");
                    }
                    continue;
                }
                Admit::OverTotal => {
                    let oldest = listener::oldest_idle(
                        self.conns
                            .iter()
                            .filter(|(_, c)| c.is_idle_keep_alive())
                            .map(|(t, c)| (*t, c.idle_since)),
                    );
                    match oldest {
                        Some(t) => self.close(registry, t),
                        None => {
                            self.refused_total += 1;
                            if plain {
                                listener::refuse(stream, "Too many connections");
                            }
                            continue;
                        }
                    }
                }
            }
            let _ = stream.set_nodelay(true);
            let tls = if via == Via::Main {
                self.tls.as_ref()
            } else {
                None
            };
            let mut stream = match Sock::new(stream, tls) {
                Ok(s) => s,
                Err(e) => {
                    crate::log_warn!("cannot start TLS", error = e);
                    continue;
                }
            };
            let token = Token(self.next_token);
            self.next_token += 1;
            if let Err(e) =
                registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            {
                crate::log_warn!("cannot register connection", error = e);
                continue;
            }
            let mut conn = Conn::new(stream, peer, self.limits, now);
            conn.draining = self.draining;
            conn.redirect_only = via == Via::Redirect;
            self.caps.add(peer.ip());
            self.conns.insert(token, conn);
            if via == Via::Metrics {
                self.metrics_conns.insert(token);
            }
            self.high_water = self.high_water.max(self.conns.len());
            self.after(registry, token, Step::Idle, now, &mut Vec::new());
        }
    }
}
