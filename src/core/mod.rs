//! The event loop and what runs around it. `start` wires the pieces together:
//!
//! ```text
//!  sockets (listener, HTTP connections, WebSocket clients)
//!        │ mio readiness
//!        ▼
//!  ┌──────────────────────────────┐  try_submit   ┌─────────────────────────────┐
//!  │ event loop: HttpServer, Hub, │──────────────▶│ task / net pools, poll      │
//!  │ App (gate + handlers)        │◀──────────────│ workers (blocking work)     │
//!  └──────────────────────────────┘ Msg::Deferred └─────────────────────────────┘
//!                                    / Apply
//! ```

pub mod agents;
pub mod alerting;
pub mod app;
pub mod demo;
pub mod discovery;
pub mod dispatch;
pub mod event_loop;
pub mod gate;
pub mod history;
pub mod history_forecast;
pub mod notifying;
pub mod outcome;
pub mod polling;
pub mod self_metrics;
pub mod state_feed;
pub mod temperatures;
pub mod timers;
pub mod workers;
pub mod writer;

use crate::env::RuntimeConfig;
use crate::http::server::HttpServer;
use event_loop::{LoopHandle, Msg, WAKE};
use mio::{Poll, Waker};
use std::net::SocketAddr;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::thread::JoinHandle;

/// A running Pulse: the loop thread (which also serves HTTP) and the address it listens on.
pub struct Running {
    pub addr: SocketAddr,
    /// The `/metrics`-only listener's address (`PULSE_METRICS_PORT`), when configured.
    pub metrics_addr: Option<SocketAddr>,
    handle: LoopHandle,
    loop_thread: Option<JoinHandle<()>>,
}

/// Starts Pulse serving `routes` (the caller builds the table: `crate::start` uses
/// `api::all_routes()`, so the core never names the API layer).
pub fn start(
    cfg: RuntimeConfig,
    routes: Vec<crate::http::router::Route>,
) -> std::io::Result<Running> {
    let router = Arc::new(crate::http::router::Router::new(routes));
    let security = gate::open(&cfg)?;
    let listener = crate::http::listener::bind(cfg.bind, cfg.port)?;
    let addr = listener.local_addr()?;
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
    // Connections from trusted proxies share the proxy's address: exempt from the per-address
    // cap (the configuration was validated by `gate::open` above).
    let proxies = crate::auth::client_ip::CidrList::parse(
        cfg.vars.get("PULSE_TRUSTED_PROXY_CIDRS").unwrap_or(""),
    )
    .unwrap_or_default();
    let mut http = HttpServer::new(listener, poll.registry(), cfg.http, proxies)?;
    // `PULSE_METRICS_PORT`: a second, plain-HTTP listener on the same address that serves
    // only `GET /metrics`, without a token (as the original's port 9091), for a scraper that
    // cannot send one; the main port's `/metrics` still needs `monitoring:read`.
    if let Some(v) = cfg
        .vars
        .get("PULSE_METRICS_PORT")
        .filter(|v| !v.trim().is_empty())
    {
        let port = v.trim().parse::<u16>().map_err(|_| {
            std::io::Error::other(format!(
                "PULSE_METRICS_PORT={v:?} is not a TCP port number 0-65535"
            ))
        })?;
        let metrics = crate::http::listener::bind(cfg.bind, port)?;
        let at = http.add_metrics_listener(metrics, poll.registry())?;
        crate::log_info!("metrics listener", addr = at);
    }
    let metrics_addr = http.metrics_addr;
    // HTTPS: a bad certificate or key stops start-up with an error naming the variable.
    let tls_files = crate::http::tls::from_env(&|k| cfg.vars.get(k).map(str::to_string))
        .map_err(std::io::Error::other)?;
    if let Some(files) = &tls_files {
        let now = crate::util::time::unix_now();
        let (tls, not_after) = crate::http::tls::load(files, now).map_err(std::io::Error::other)?;
        crate::http::tls::warn_if_expiring(not_after, now);
        http.tls = Some(tls);
        http.tls_not_after = Some(not_after);
        http.tls_reload = Some(crate::http::tls_reload::Reloader::new(
            files.clone(),
            std::time::Instant::now(),
        ));
    }
    if let Some(v) = cfg.vars.get("PULSE_HTTP_REDIRECT_PORT") {
        let bad =
            |why: String| std::io::Error::other(format!("PULSE_HTTP_REDIRECT_PORT={v}: {why}"));
        let port: u16 = v
            .trim()
            .parse()
            .map_err(|_| bad("not a port number".into()))?;
        if tls_files.is_none() {
            // Nothing to redirect to: saying so beats silently serving the UI in clear twice.
            crate::log_warn!(
                "PULSE_HTTP_REDIRECT_PORT is set but HTTPS is off: no redirect listener",
                port = port
            );
        } else {
            let l = crate::http::listener::bind(cfg.bind, port)
                .map_err(|e| bad(format!("cannot listen: {e}")))?;
            let raddr = http.listen_redirect(poll.registry(), l)?;
            crate::log_info!("redirecting plain HTTP to HTTPS", addr = raddr);
        }
    }
    let limits = workers::Limits::from_lookup(&|k| cfg.vars.get(k).map(str::to_string));
    let (tx, rx) = sync_channel(limits.inbox);
    let handle = LoopHandle::new(tx, waker);
    let tasks =
        workers::WorkerPool::new("task", limits.task_threads, limits.task_queue, 512 * 1024)?;
    let demo_sizes =
        crate::monitor::demo::DemoSizes::from_lookup(|k| cfg.vars.get(k).map(str::to_string));
    let mut polling = polling::Polling::new(cfg.connection_timeout, demo_sizes)?;
    let zfs_off = cfg
        .vars
        .bool("PULSE_DISABLE_ZFS_MONITORING")
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    // Detail requests per 10 s cycle and PVE instance (BENCHMARKS.md "Polling budget").
    let detail_budget = cfg
        .vars
        .count("PULSE_PVE_DETAIL_BUDGET", 10_000)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    polling
        .core
        .set_detail_budget(detail_budget.map(|n| n as u32));
    polling
        .core
        .set_slow_reads(crate::monitor::poll_pve::SlowReads {
            zfs: zfs_off != Some(true),
            ..Default::default()
        });
    let pools = workers::HandlerPools {
        cpu: tasks,
        net: workers::WorkerPool::new("net", limits.net_threads, limits.net_queue, 1024 * 1024)?,
        writer: writer::Writer::start(limits.writer_queue)?,
        limits,
    };
    let loop_handle = handle.clone();
    let registry = poll.registry().try_clone()?;
    // The app is built on the loop thread itself: it holds non-Send continuations and never
    // leaves that thread.
    let loop_thread = std::thread::Builder::new()
        .name("event-loop".into())
        .spawn(move || {
            let mut app = app::App::new(
                cfg,
                loop_handle,
                pools,
                router,
                registry,
                http,
                security,
                polling,
            );
            // A panic here would leave a process that answers 503 forever; better to die
            // loudly and let the supervisor (systemd, Docker) restart us.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                app.start_monitoring();
                app.start_notifier();
                event_loop::run(app, poll, rx)
            }));
            if ran.is_err() {
                crate::log_error!("event loop panicked; aborting so the supervisor restarts Pulse");
                std::process::abort();
            }
        })?;
    crate::log_info!("listening", addr = addr, version = crate::VERSION);
    Ok(Running {
        addr,
        metrics_addr,
        handle,
        loop_thread: Some(loop_thread),
    })
}

impl Running {
    pub fn handle(&self) -> &LoopHandle {
        &self.handle
    }

    /// SIGHUP: the loop re-reads the TLS certificate and key (new connections get them).
    pub fn reload_tls(&self) {
        self.handle.post(Msg::Apply(Box::new(|app: &mut app::App| {
            app.reload_tls_now()
        })));
    }

    /// Graceful stop: no new connections, in-flight requests answered and written (bounded),
    /// state persisted by the loop.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(t) = self.loop_thread.take() {
            self.handle.post(Msg::Shutdown);
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}
