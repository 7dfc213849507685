//! `App`: all mutable application state, owned by the event-loop thread.
//!
//! Each subsystem (auth, config, monitor, state, WebSocket hub...) is a plain field; handlers get
//! `&mut App`. Nothing here is shared with other threads except through messages.

use crate::api::version::VersionInfo;
use crate::core::event_loop::{LoopHandle, Msg};
use crate::core::outcome::{Finish, Outcome};
use crate::core::timers::TimerHeap;
use crate::core::workers::WorkerPool;
use crate::env::RuntimeConfig;
use crate::http::reply::Reply;
use crate::http::router::Router;
use std::collections::HashMap;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

/// Periodic housekeeping the loop runs for the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Once a second: expire pending replies, and later scheduler and hub ticks.
    Housekeeping,
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
    /// Blocking jobs for handlers (bcrypt, connection tests).
    pub tasks: WorkerPool,
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
}

/// How long deferred work may take before the caller gets 504 (the HTTP thread gives up at
/// the same time, so the worker's late result is simply dropped).
pub const DEFERRED_TIMEOUT: Duration = Duration::from_secs(30);

impl App {
    pub fn new(
        cfg: RuntimeConfig,
        handle: LoopHandle,
        tasks: WorkerPool,
        router: std::sync::Arc<Router>,
    ) -> App {
        let mut timers = TimerHeap::default();
        timers.schedule(Instant::now() + Duration::from_secs(1), Timer::Housekeeping);
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
            tasks,
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
                if let Some(p) = self.pending.remove(&id) {
                    let reply = (p.finish)(self, result);
                    let _ = p.reply.try_send(reply);
                }
            }
            Msg::Apply(f) => f(self),
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
                match self.tasks.try_submit(job) {
                    Ok(()) => {
                        let deadline = Instant::now() + DEFERRED_TIMEOUT;
                        self.pending.insert(
                            id,
                            Pending {
                                finish: d.finish,
                                reply,
                                deadline,
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
        self.timers.next_deadline()
    }

    pub fn on_timers(&mut self, now: Instant) {
        for t in self.timers.pop_due(now) {
            match t {
                Timer::Housekeeping => {
                    self.expire_pending(now);
                    crate::api::setup::discovery_tick(self);
                    self.timers
                        .schedule(now + Duration::from_secs(1), Timer::Housekeeping);
                }
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
                let _ = p.reply.try_send(Reply::error(504, "Operation timed out"));
            }
        }
    }

    /// Called after each batch of messages: publish snapshots that changed.
    pub fn after_batch(&mut self) {}

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
        self.tasks.shutdown();
        crate::log_info!("event loop stopped");
    }
}
