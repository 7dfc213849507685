//! `App`: all mutable application state, owned by the event-loop thread.
//!
//! Each subsystem (auth, config, monitor, state, WebSocket hub...) is a plain field; handlers get
//! `&mut App`. Nothing here is shared with other threads except through messages.

use crate::api::version::VersionInfo;
use crate::core::event_loop::{LoopHandle, Msg};
use crate::core::outcome::{AnyResult, Finish, Outcome};
use crate::core::timers::TimerHeap;
use crate::core::workers::WorkerPool;
use crate::env::RuntimeConfig;
use crate::http::reply::{Reply, SharedBody};
use crate::http::router::Router;
use crate::ws::client::{Client, Frame, FrameKind, Inbound};
use crate::ws::hub::{self, Hub};
use std::collections::HashMap;
use std::sync::mpsc::SyncSender;
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
    pub started: Instant,
    pub version: VersionInfo,
    pub handle: LoopHandle,
    /// The route table (shared so a handler can run while `&mut App` is lent to it).
    pub router: std::sync::Arc<Router>,
    /// Short blocking jobs for handlers (bcrypt, PBKDF2).
    pub tasks: WorkerPool,
    /// Jobs that wait on the network (connection tests, cluster detection): a hung host can
    /// hold one of these threads for its whole timeout without delaying a login.
    pub net_tasks: WorkerPool,
    /// The loop's mio registry, for sockets the loop drives itself (WebSocket clients).
    pub registry: mio::Registry,
    pub hub: Hub,
    /// The monitor: poll schedule, live state, demo cluster (see `core::polling`).
    pub polling: crate::core::polling::Polling,
    /// The latest `/api/state` JSON, serialised once per change and shared by every reader.
    pub state_json: SharedBody,
    /// `rawData` and `initialState` frames of the current snapshot, built on first use.
    state_frames: [Option<Frame>; 2],
    /// Credentials, sessions, tokens, lockout, rate limits, audit.
    pub security: crate::auth::guard::Security,
    timers: TimerHeap<Timer>,
    pending: HashMap<u64, Pending>,
    next_id: u64,
    shutting_down: bool,
}

/// A request whose answer waits for deferred work.
struct Pending {
    finish: Finish,
    reply: SyncSender<Reply>,
    deadline: Instant,
    /// See `Outcome::not_before`; `held` keeps a result that arrived earlier.
    not_before: Option<Instant>,
    held: Option<AnyResult>,
}

/// How long deferred work may take before the caller gets 504 (the HTTP thread gives up at
/// the same time, so the worker's late result is simply dropped).
pub const DEFERRED_TIMEOUT: Duration = Duration::from_secs(30);

impl App {
    pub fn new(
        cfg: RuntimeConfig,
        handle: LoopHandle,
        pools: crate::core::workers::HandlerPools,
        router: std::sync::Arc<Router>,
        registry: mio::Registry,
        security: crate::auth::guard::Security,
        polling: crate::core::polling::Polling,
    ) -> App {
        let mut timers = TimerHeap::default();
        timers.schedule(Instant::now() + Duration::from_secs(1), Timer::Housekeeping);
        timers.schedule(Instant::now() + Duration::from_secs(60), Timer::Security);
        App {
            version: VersionInfo::detect(),
            config: crate::config::state::ConfigState::open(
                &cfg.data_dir,
                &|k| cfg.vars.get(k).map(str::to_string),
                crate::util::time::UtcTime::now(),
            ),
            cfg,
            started: Instant::now(),
            handle,
            router,
            tasks: pools.cpu,
            net_tasks: pools.net,
            registry,
            hub: Hub::new(Instant::now()),
            polling,
            state_json: SharedBody::new(b"{}".to_vec()),
            state_frames: [None, None],
            security,
            timers,
            pending: HashMap::new(),
            next_id: 0,
            shutting_down: false,
        }
    }

    pub fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Http { req, reply } => {
                if self.shutting_down {
                    let _ = reply.try_send(Reply::error(503, "Pulse is shutting down"));
                    return;
                }
                let outcome = crate::core::dispatch::handle_http(self, &req);
                self.answer(outcome, reply);
            }
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
            Msg::WsAttach { stream, keep, info } => self.attach_ws(stream, keep, info),
            Msg::Shutdown => self.request_shutdown(),
        }
    }

    fn answer(&mut self, outcome: Outcome, reply: SyncSender<Reply>) {
        match outcome {
            Outcome::Reply(r) => {
                let _ = reply.try_send(r);
            }
            Outcome::Defer(d) => {
                self.next_id += 1;
                let id = self.next_id;
                let handle = self.handle.clone();
                let work = d.work;
                let job = Box::new(move || {
                    let result = work();
                    handle.post(Msg::Deferred { id, result });
                });
                let pool = match d.pool {
                    crate::core::outcome::Pool::Cpu => &self.tasks,
                    crate::core::outcome::Pool::Net => &self.net_tasks,
                };
                match pool.try_submit(job) {
                    Ok(()) => {
                        let deadline = Instant::now() + DEFERRED_TIMEOUT;
                        self.pending.insert(
                            id,
                            Pending {
                                finish: d.finish,
                                reply,
                                deadline,
                                not_before: d.not_before,
                                held: None,
                            },
                        );
                    }
                    Err(_) => {
                        let _ = reply.try_send(Reply::error(503, "Server busy, retry shortly"));
                    }
                }
            }
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        if self.hub.has_more_to_read() {
            return Some(Instant::now());
        }
        match (self.timers.next_deadline(), self.next_poll_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Start-up work that needs the whole app: demo mode, configured nodes, first snapshot.
    pub fn start_monitoring(&mut self) {
        self.apply_runtime_settings();
        if self.cfg.mock_mode {
            let sizes = self.polling.demo_sizes;
            if let Err(e) = self.set_demo(true, sizes) {
                crate::log_error!("demo mode failed to start", error = e);
            }
        }
        self.sync_monitor_with_config();
        self.publish_state_if_changed();
        self.start_due_polls();
    }

    pub fn on_timers(&mut self, now: Instant) {
        for t in self.timers.pop_due(now) {
            match t {
                Timer::Housekeeping => {
                    self.expire_pending(now);
                    self.hub.tick(&self.registry, now);
                    if now.duration_since(self.hub.last_state_broadcast) >= hub::STATE_EVERY {
                        self.broadcast_state();
                    }
                    crate::api::setup::discovery_tick(self);
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

    fn finish_pending(&mut self, id: u64, result: AnyResult) {
        if let Some(p) = self.pending.remove(&id) {
            let reply = (p.finish)(self, result);
            let _ = p.reply.try_send(reply);
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
                let _ = p.reply.try_send(Reply::error(504, "Operation timed out"));
            }
        }
    }

    /// Called after each batch of messages: publish snapshots that changed.
    pub fn after_batch(&mut self) {
        if self.shutting_down {
            return;
        }
        for token in self.hub.take_more_to_read() {
            self.on_socket_event(token, true, false);
        }
        self.sync_monitor_with_config();
        self.start_due_polls();
        self.publish_state_if_changed();
    }

    /// Replaces the state snapshot and pushes it to every WebSocket client.
    pub fn publish_state(&mut self, json: Vec<u8>) {
        self.state_json = SharedBody::new(json);
        self.state_frames = [None, None];
        self.broadcast_state();
    }

    /// The snapshot as a WebSocket frame (`rawData` or `initialState`), built once per
    /// snapshot and shared by every client: a thousand clients hold pointers, not copies.
    fn state_frame(&mut self, msg_type: &'static str) -> Frame {
        let slot = if msg_type == "rawData" { 0 } else { 1 };
        if let Some(f) = &self.state_frames[slot] {
            return f.clone();
        }
        let f = hub::frame_raw(FrameKind::State, msg_type, &self.state_json.raw);
        self.state_frames[slot] = Some(f.clone());
        f
    }

    fn broadcast_state(&mut self) {
        let frame = self.state_frame("rawData");
        self.hub.broadcast(&self.registry, &frame, Instant::now());
    }

    /// Broadcasts any event (`alert`, `settingsUpdate`, ...) to every client.
    pub fn broadcast_event(&mut self, msg_type: &str, data: &serde_json::Value) {
        let frame = hub::frame(FrameKind::Other, msg_type, data);
        self.hub.broadcast(&self.registry, &frame, Instant::now());
    }

    fn attach_ws(
        &mut self,
        stream: std::net::TcpStream,
        keep: Box<dyn tiny_http::ReadWrite + Send>,
        info: crate::ws::WsUpgrade,
    ) {
        let now = Instant::now();
        let mut client = Client::new(mio::net::TcpStream::from_std(stream), info.peer, keep, now);
        if !info.authorized {
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

    pub fn request_shutdown(&mut self) {
        self.shutting_down = true;
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// Last words: answer waiting requests, persist state, stop workers.
    pub fn shutdown(&mut self) {
        for (_, p) in self.pending.drain() {
            let _ = p
                .reply
                .try_send(Reply::error(503, "Pulse is shutting down"));
        }
        self.hub.close_all(&self.registry);
        self.tasks.shutdown();
        self.net_tasks.shutdown();
        self.polling.shutdown();
        if let Err(e) = self.security.sessions.save_if_dirty() {
            crate::log_warn!("saving sessions failed", error = e);
        }
        if let Err(e) = self.security.tokens.save_if_dirty() {
            crate::log_warn!("saving API token usage failed", error = e);
        }
        crate::log_info!("event loop stopped");
    }
}
