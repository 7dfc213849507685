//! Network discovery as the loop runs it: a periodic scan when enabled (from the housekeeping
//! timer) or one on demand (`POST /api/discover`), each on its own thread, the result applied
//! on the loop and broadcast to WebSocket clients.

use crate::core::app::App;
use crate::core::event_loop::Msg;
use crate::discovery::scan::{scan, ScanOptions, ScanResult};
use crate::util::time::unix_now;

/// Starts a background scan on its own thread unless one is running. `subnet` overrides the
/// configured one for this scan. The result comes back to the loop as `Msg::Apply`.
pub fn start(app: &mut App, subnet: Option<&str>) -> Result<(), String> {
    if app.config.discovery.is_scanning() {
        return Ok(());
    }
    let s = app
        .config
        .system
        .with_env(&|k| app.cfg.vars.get(k).map(str::to_string))
        .0;
    let subnet = subnet.unwrap_or(&s.discovery_subnet).to_string();
    // Subnet lists can be long: refuse absurd input here, expand it on the scan thread.
    if subnet.len() > 4096 || subnet.split(',').count() > 64 {
        return Err("subnet list too long (at most 64 entries)".to_string());
    }
    ScanOptions::validate_subnets(&subnet).map_err(|e| e.to_string())?;
    let discovery_config = s.discovery_config.clone();
    let handle = app.handle.clone();
    app.config.discovery.started();
    let spawned = std::thread::Builder::new()
        .name("discovery".into())
        .spawn(move || {
            let result = match ScanOptions::from_settings(&subnet, &discovery_config) {
                Ok(opts) => scan(&opts),
                Err(e) => ScanResult {
                    errors: vec![e.to_string()],
                    ..Default::default()
                },
            };
            handle.post(Msg::Apply(Box::new(move |app: &mut App| {
                crate::log_info!(
                    "discovery scan finished",
                    servers = result.servers.len(),
                    errors = result.errors.len()
                );
                app.config.discovery.finished(result, unix_now());
                let response = serde_json::to_value(app.config.discovery.response(unix_now()))
                    .unwrap_or_default();
                app.broadcast_event("discovery_update", &response);
            })));
        });
    if let Err(e) = spawned {
        app.config
            .discovery
            .finished(Default::default(), unix_now());
        return Err(format!("could not start discovery: {e}"));
    }
    Ok(())
}

/// For the loop's housekeeping timer: starts the periodic scan when discovery is enabled.
pub fn tick(app: &mut App) {
    let enabled = app
        .config
        .system
        .with_env(&|k| app.cfg.vars.get(k).map(str::to_string))
        .0
        .discovery_enabled;
    if app.config.discovery.due(enabled, unix_now()) {
        if let Err(e) = start(app, None) {
            crate::log_warn!("discovery not started", error = e);
        }
    }
}
