//! `App`: all mutable application state, owned by the event-loop thread.
//!
//! Each subsystem (auth, config, monitor, state, WebSocket hub...) is a plain field; handlers get
//! `&mut App`. Nothing here is shared with other threads except through messages.

use crate::core::event_loop::{LoopHandle, Msg};
use crate::core::outcome::{AnyResult, Finish, Outcome};
use crate::core::timers::TimerHeap;
use crate::core::workers::WorkerPool;
use crate::env::RuntimeConfig;
use crate::http::reply::Reply;
use crate::http::router::Router;
use crate::http::server::{HttpEvent, HttpServer, Upgraded};
use crate::http::write::GzipPlan;
use crate::ws::client::{Client, FrameKind, Inbound};
use crate::ws::hub::{self, Hub};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Periodic housekeeping the loop runs for the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Once a second: expire pending replies, and later scheduler and hub ticks.
    Housekeeping,
    /// Once a minute: expire sessions, rate windows and lockouts; save token `lastUsedAt`.
    Security,
    /// A held deferred answer (`Outcome::not_before`) may go out now.
    Release(u64),
}

pub struct App {
    pub cfg: RuntimeConfig,
    /// Data-dir configuration: nodes, settings, guest metadata, setup codes, discovery.
    pub config: crate::config::state::ConfigState,
    started: Instant,
    version: crate::version::VersionInfo,
    pub(crate) handle: LoopHandle,
    /// The route table (shared so a handler can run while `&mut App` is lent to it).
    pub(crate) router: std::sync::Arc<Router>,
    /// Short blocking jobs for handlers (bcrypt, PBKDF2).
    pub(crate) tasks: WorkerPool,
    /// Jobs that wait on the network (connection tests, cluster detection): a hung host can
    /// hold one of these threads for its whole timeout without delaying a login.
    pub(crate) net_tasks: WorkerPool,
    /// The data-dir writer: every durable write leaves the loop through it.
    writer: crate::core::writer::Writer,
    /// Deferred work older than this is answered 504.
    deferred_timeout: Duration,
    /// The loop's mio registry, for sockets the loop drives itself (HTTP, WebSocket clients).
    pub(crate) registry: mio::Registry,
    /// The HTTP server: listener and connections, driven by this loop.
    pub(crate) http: HttpServer,
    pub(crate) hub: Hub,
    /// The monitor: poll schedule, live state, demo cluster (see `core::polling`).
    pub polling: crate::core::polling::Polling,
    /// Alert configuration, engine, history (see `core::alerting`).
    pub alerts: crate::alerts::service::Alerts,
    /// Notification configuration, history and the notifier thread (see `core::notifying`).
    pub notify: crate::notify::Service,
    /// Metric history (see `core::history`), reloaded from the data dir at start-up.
    pub history: crate::history::History,
    /// Pulse's own figures for `/metrics` (HTTP answers, polls).
    pub self_metrics: crate::core::self_metrics::SelfMetrics,
    /// Docker and host agents (see `core::agents`); `agents_published` is the revision the
    /// state holds.
    pub agents: crate::agents::Agents,
    pub agents_published: Option<u64>,
    /// The `/api/state` document and its WebSocket frames, built off the loop
    /// (`core::state_feed`).
    pub(crate) feed: crate::core::state_feed::StateFeed,
    /// Credentials, sessions, tokens, lockout, rate limits, audit.
    pub security: crate::auth::guard::Security,
    timers: TimerHeap<Timer>,
    pending: HashMap<u64, Pending>,
    /// Pending answers waiting for the alert engine to come back (`Pool::AlertEngine`).
    pub(crate) alert_waiters: Vec<u64>,
    next_id: u64,
    shutting_down: bool,
    /// Shutdown waits for in-flight answers until then at most.
    drain_until: Option<Instant>,
}

/// A request whose answer waits for deferred work.
struct Pending {
    finish: Finish,
    /// The connection that asked; if it closed meanwhile, the answer is dropped.
    conn: mio::Token,
    deadline: Instant,
    /// See `Outcome::not_before`; `held` keeps a result that arrived earlier.
    not_before: Option<Instant>,
    held: Option<AnyResult>,
}

/// How long deferred work may take before the caller gets 504 (the worker's late result is
/// then simply dropped). Tests shrink it through `core::workers::Limits`.
pub const DEFERRED_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a shutdown waits for in-flight requests to be answered and written.
pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);

impl App {
    // Each argument is a piece built by `core::start` before the loop thread exists.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: RuntimeConfig,
        handle: LoopHandle,
        pools: crate::core::workers::HandlerPools,
        router: std::sync::Arc<Router>,
        registry: mio::Registry,
        http: HttpServer,
        security: crate::auth::guard::Security,
        polling: crate::core::polling::Polling,
    ) -> App {
        let mut security = security;
        let writer = pools.writer;
        let report_to = handle.clone();
        writer.set_report(std::sync::Arc::new(
            move |e: &crate::core::writer::WriteError| {
                // Surfaced on the loop like the synchronous errors were; a full inbox must not
                // stall the writer, so a report that does not fit is logged here instead.
                let msg = e.to_string();
                let log = msg.clone();
                let sent = report_to.try_send(Msg::Apply(Box::new(move |_app: &mut App| {
                    crate::log_error!("data-dir write failed", error = msg);
                })));
                if sent.is_err() {
                    crate::log_error!("data-dir write failed", error = log);
                }
            },
        ));
        security.attach_writer(writer.handle());
        let (alerts, warnings) =
            crate::alerts::service::Alerts::open(&cfg.data_dir, crate::util::time::now_ms());
        for w in warnings {
            crate::log_warn!("alerts", note = w);
        }
        let (history, warning) =
            crate::history::store::load(&cfg.data_dir, crate::util::time::now_ms());
        if let Some(w) = warning {
            crate::log_warn!("metric history", note = w);
        }
        let feed = crate::core::state_feed::StateFeed::new(polling.core.state());
        let mut timers = TimerHeap::default();
        timers.schedule(Instant::now() + Duration::from_secs(1), Timer::Housekeeping);
        timers.schedule(Instant::now() + Duration::from_secs(60), Timer::Security);
        App {
            version: crate::version::VersionInfo::detect(),
            config: crate::config::state::ConfigState::open(
                &cfg.data_dir,
                &|k| cfg.vars.get(k).map(str::to_string),
                crate::util::time::UtcTime::now(),
                writer.handle(),
            ),
            notify: crate::notify::Service::idle(&cfg.data_dir),
            writer,
            deferred_timeout: pools.limits.deferred_timeout,
            cfg,
            started: Instant::now(),
            handle,
            router,
            tasks: pools.cpu,
            net_tasks: pools.net,
            registry,
            http,
            hub: Hub::new(Instant::now()),
            polling,
            alerts,
            history,
            self_metrics: Default::default(),
            agents: crate::agents::Agents::default(),
            agents_published: None,
            feed,
            security,
            timers,
            pending: HashMap::new(),
            alert_waiters: Vec::new(),
            next_id: 0,
            shutting_down: false,
            drain_until: None,
        }
    }

    pub fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Deferred { id, result } => {
                if let Some(p) = self.pending.get_mut(&id) {
                    if let Some(at) = p.not_before.filter(|at| *at > Instant::now()) {
                        p.held = Some(result);
                        self.timers.schedule(at, Timer::Release(id));
                        return;
                    }
                }
                self.finish_pending(id, result);
            }
            Msg::Apply(f) => f(self),
            Msg::Shutdown => self.request_shutdown(),
        }
    }

    /// Acts on what the HTTP server reports: requests go through the gate to their handler
    /// right here on the loop; accepted upgrades join the hub. An immediate answer may let
    /// the connection report its next event, which is handled in the same pass.
    fn on_http(&mut self, events: Vec<HttpEvent>) {
        let mut queue: VecDeque<HttpEvent> = events.into();
        while let Some(event) = queue.pop_front() {
            match event {
                HttpEvent::Request(conn, req) => {
                    if self.shutting_down {
                        let reply = Reply::error(503, "Pulse is shutting down");
                        queue.extend(self.send(conn, reply));
                        continue;
                    }
                    let outcome = if self.http.is_metrics_conn(conn) {
                        crate::core::dispatch::handle_metrics_port(self, &req)
                    } else {
                        crate::core::dispatch::handle_http(self, &req)
                    };
                    if let Some(reply) = self.answer(outcome, conn) {
                        queue.extend(self.send(conn, reply));
                    }
                }
                HttpEvent::Upgrade(up) => self.attach_ws(up),
            }
        }
    }

    /// An answer for a connection (deferred work finished, or timed out).
    fn deliver(&mut self, conn: mio::Token, reply: Reply) {
        let events = self.send(conn, reply);
        self.on_http(events);
    }

    /// Writes an answer to its connection. Compression that is real work happens on a
    /// worker: a big owned body is compressed there and delivered afterwards; a shared body
    /// (the state snapshot) goes out as it is while a worker computes its gzip once for
    /// everyone after.
    fn send(&mut self, conn: mio::Token, reply: Reply) -> Vec<HttpEvent> {
        self.self_metrics.http_answer(reply.status);
        match crate::http::write::gzip_plan(&reply, self.http.gzip_ok(conn)) {
            GzipPlan::Inline => {}
            GzipPlan::WarmShared(body) => {
                // Computed when first asked for, not with every build: most builds are read
                // only by WebSocket clients, and gzip is a third of a build's CPU.
                let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(reply)));
                let (job_slot, handle) = (std::sync::Arc::clone(&slot), self.handle.clone());
                let job = Box::new(move || {
                    body.gzipped();
                    handle.post(Msg::Apply(Box::new(move |app: &mut App| {
                        let reply = job_slot.lock().ok().and_then(|mut r| r.take());
                        if let Some(reply) = reply {
                            let events =
                                app.http.respond(&app.registry, conn, reply, Instant::now());
                            app.on_http(events);
                        }
                    })));
                });
                if self.tasks.try_submit(job).is_ok() {
                    return Vec::new();
                }
                // The pool is full: send identity now.
                let reply = slot.lock().ok().and_then(|mut r| r.take());
                return match reply {
                    Some(r) => self.http.respond(&self.registry, conn, r, Instant::now()),
                    None => Vec::new(),
                };
            }
            GzipPlan::Offload => {
                let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(reply)));
                let (job_slot, handle) = (std::sync::Arc::clone(&slot), self.handle.clone());
                let job = Box::new(move || {
                    let taken = job_slot.lock().ok().and_then(|mut r| r.take());
                    if let Some(reply) = taken {
                        let reply = crate::http::write::compress_reply(reply);
                        handle.post(Msg::Apply(Box::new(move |app: &mut App| {
                            let events =
                                app.http.respond(&app.registry, conn, reply, Instant::now());
                            app.on_http(events);
                        })));
                    }
                });
                if self.tasks.try_submit(job).is_ok() {
                    return Vec::new();
                }
                // The pool is full: compress here rather than refuse the answer.
                let reply = slot.lock().ok().and_then(|mut r| r.take());
                return match reply {
                    Some(r) => self.http.respond(&self.registry, conn, r, Instant::now()),
                    None => Vec::new(),
                };
            }
        }
        self.http
            .respond(&self.registry, conn, reply, Instant::now())
    }

    /// The reply to send now, or `None` when deferred work will answer later.
    fn answer(&mut self, outcome: Outcome, conn: mio::Token) -> Option<Reply> {
        match outcome {
            Outcome::Reply(r) => Some(r),
            Outcome::Defer(d) => {
                self.next_id += 1;
                let id = self.next_id;
                let handle = self.handle.clone();
                let work = d.work;
                let job = Box::new(move || {
                    let result = work();
                    handle.post(Msg::Deferred { id, result });
                });
                let submitted = match d.pool {
                    crate::core::outcome::Pool::Cpu => self.tasks.try_submit(job).is_ok(),
                    crate::core::outcome::Pool::Net => self.net_tasks.try_submit(job).is_ok(),
                    crate::core::outcome::Pool::Writer => self.writer.after_queued(job).is_ok(),
                    crate::core::outcome::Pool::StateBuild(revision) => {
                        self.wait_for_state_build(revision, id);
                        true
                    }
                    crate::core::outcome::Pool::AlertEngine => {
                        self.alert_waiters.push(id);
                        true
                    }
                };
                if submitted {
                    let deadline = Instant::now() + self.deferred_timeout;
                    self.pending.insert(
                        id,
                        Pending {
                            finish: d.finish,
                            conn,
                            deadline,
                            not_before: d.not_before,
                            held: None,
                        },
                    );
                    None
                } else {
                    Some(Reply::error(503, "Server busy, retry shortly"))
                }
            }
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        if self.hub.has_more_to_read() {
            return Some(Instant::now());
        }
        [
            self.timers.next_deadline(),
            self.next_poll_deadline(),
            self.http.next_deadline(),
            self.drain_until,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Start-up work that needs the whole app: demo mode, configured nodes, first snapshot.
    pub fn start_monitoring(&mut self) {
        self.apply_runtime_settings();
        if self.cfg.mock_mode {
            // Started on a worker; its instances are polled once it runs.
            self.start_demo_in_background();
        }
        self.sync_monitor_with_config();
        self.publish_state_if_changed();
        self.start_due_polls();
    }

    pub fn on_timers(&mut self, now: Instant) {
        let events = self.http.on_timers(&self.registry, now);
        self.on_http(events);
        for t in self.timers.pop_due(now) {
            match t {
                Timer::Housekeeping => {
                    self.expire_pending(now);
                    self.hub.tick(&self.registry, now);
                    if now.duration_since(self.hub.last_state_broadcast) >= hub::STATE_EVERY {
                        self.broadcast_state();
                    }
                    crate::core::discovery::tick(self);
                    self.save_history(false);
                    self.sweep_agents(crate::util::time::now_ms());
                    self.timers
                        .schedule(now + Duration::from_secs(1), Timer::Housekeeping);
                }
                Timer::Release(id) => {
                    if let Some(result) = self.pending.get_mut(&id).and_then(|p| p.held.take()) {
                        self.finish_pending(id, result);
                    }
                }
                Timer::Security => {
                    for e in self.security.tick(crate::util::time::UtcTime::now()) {
                        crate::log_warn!("security housekeeping failed", error = e);
                    }
                    self.timers
                        .schedule(now + Duration::from_secs(60), Timer::Security);
                }
            }
        }
    }

    pub(crate) fn finish_pending(&mut self, id: u64, result: AnyResult) {
        if let Some(p) = self.pending.remove(&id) {
            let outcome = (p.finish)(self, result);
            if let Some(reply) = self.answer(outcome, p.conn) {
                self.deliver(p.conn, reply);
            }
        }
    }

    fn expire_pending(&mut self, now: Instant) {
        let expired: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                self.deliver(p.conn, Reply::error(504, "Operation timed out"));
            }
        }
    }

    /// Called after each batch of messages: publish snapshots that changed.
    pub fn after_batch(&mut self) {
        let events = self.http.run_again(&self.registry, Instant::now());
        self.on_http(events);
        if self.shutting_down {
            return;
        }
        for token in self.hub.take_more_to_read() {
            self.on_socket_event(token, true, false);
        }
        self.sync_monitor_with_config();
        self.start_due_polls();
        self.evaluate_alerts(crate::util::time::now_ms());
        self.publish_state_if_changed();
    }

    /// Broadcasts any event (`alert`, `settingsUpdate`, ...) to every client.
    pub fn broadcast_event(&mut self, msg_type: &str, data: &serde_json::Value) {
        let frame = hub::frame(FrameKind::Other, msg_type, data);
        self.hub.broadcast(&self.registry, &frame, Instant::now());
    }

    /// A handshake the server answered with 101: the same socket becomes a hub client.
    fn attach_ws(&mut self, up: Upgraded) {
        let now = Instant::now();
        let info = up.info;
        let mut client = Client::new(up.stream, info.peer, up.owed, up.leftover, now);
        if !info.authorized || self.shutting_down {
            client.close(
                tungstenite::protocol::frame::coding::CloseCode::Policy,
                "Authentication required",
            );
            return;
        }
        let initial = self.state_frame("initialState");
        if let Err(e) = self.hub.add(&self.registry, client, initial, now) {
            crate::log_warn!("websocket client refused", peer = info.peer, reason = e);
        }
    }

    /// Readiness on a socket the loop drives.
    pub fn on_socket_event(&mut self, token: mio::Token, readable: bool, writable: bool) {
        let now = Instant::now();
        if self.http.owns(token) {
            let events = self.http.on_event(&self.registry, token, now);
            self.on_http(events);
            return;
        }
        if !self.hub.owns(token) {
            return;
        }
        for inbound in self
            .hub
            .on_event(&self.registry, token, readable, writable, now)
        {
            let frame = match inbound {
                Inbound::Ping => hub::frame(
                    FrameKind::Other,
                    "pong",
                    &serde_json::json!({"timestamp": crate::util::time::unix_now()}),
                ),
                Inbound::RequestData => self.state_frame("rawData"),
            };
            self.hub.send_to(&self.registry, token, frame, now);
        }
    }

    /// Stops accepting and closes idle connections; requests in flight are still answered
    /// (and written) for up to `SHUTDOWN_DRAIN`.
    pub fn request_shutdown(&mut self) {
        if self.shutting_down {
            return;
        }
        self.shutting_down = true;
        self.drain_until = Some(Instant::now() + SHUTDOWN_DRAIN);
        self.http.drain(&self.registry);
    }

    /// When the loop started (uptime).
    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn version(&self) -> &crate::version::VersionInfo {
        &self.version
    }

    /// How a worker's result reaches this loop.
    pub fn loop_handle(&self) -> &LoopHandle {
        &self.handle
    }

    /// Short CPU work (bcrypt, PBKDF2, the state snapshot); tests occupy it to hold work back.
    pub fn task_pool(&self) -> &WorkerPool {
        &self.tasks
    }

    /// Work that waits on the network (connection tests, cluster detection, demo switches).
    pub fn net_pool(&self) -> &WorkerPool {
        &self.net_tasks
    }

    /// The WebSocket clients (read-only: counts for tests and diagnostics).
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Open HTTP connections.
    pub fn http_connections(&self) -> usize {
        self.http.len()
    }

    /// notAfter (Unix seconds) of the TLS certificate in service; None with HTTPS off.
    pub fn tls_not_after(&self) -> Option<i64> {
        self.http.tls_not_after
    }

    /// The redirect-only plain-HTTP listener's address (`PULSE_HTTP_REDIRECT_PORT`).
    pub fn redirect_addr(&self) -> Option<std::net::SocketAddr> {
        self.http.redirect_addr()
    }

    /// SIGHUP: re-read the certificate and key now, whatever their timestamps say (a
    /// replacement that kept the old mtime and size is still picked up).
    pub fn reload_tls_now(&mut self) {
        if let Some(r) = self.http.tls_reload.as_mut() {
            r.force(std::time::Instant::now());
        }
    }

    /// Where durable writes go (config saves, sessions, tokens, audit).
    pub fn writer(&self) -> &crate::core::writer::WriterHandle {
        &self.writer
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// Shutting down, and every in-flight answer is out (or the drain time is up).
    pub fn ready_to_exit(&self, now: Instant) -> bool {
        self.shutting_down
            && ((self.pending.is_empty() && self.http.busy() == 0)
                || self.drain_until.is_some_and(|d| now >= d))
    }

    /// Last words: answer waiting requests, persist state, stop workers.
    pub fn shutdown(&mut self) {
        let pending: Vec<mio::Token> = self.pending.drain().map(|(_, p)| p.conn).collect();
        for conn in pending {
            self.deliver(conn, Reply::error(503, "Pulse is shutting down"));
        }
        self.hub.close_all(&self.registry);
        self.notify.send(crate::notify::delivery::Cmd::Shutdown);
        self.tasks.shutdown();
        self.net_tasks.shutdown();
        self.polling.shutdown();
        if let Err(e) = self.security.sessions.save_if_dirty() {
            crate::log_warn!("saving sessions failed", error = e);
        }
        if let Err(e) = self.security.tokens.save_if_dirty() {
            crate::log_warn!("saving API token usage failed", error = e);
        }
        self.save_history(true);
        // Active alerts whose file waited for its interval (restored at the next start).
        if let Some(write) = self.alerts.active_file_unsaved() {
            self.persist_alerts(vec![write]);
        }
        // Everything queued reaches the disk before the process may exit.
        self.writer.shutdown();
        crate::log_info!("event loop stopped");
    }
}
