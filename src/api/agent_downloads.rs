//! What a machine needs to become an agent: `/install-docker-agent.sh`,
//! `/install-host-agent.sh` (one template, `packaging/agents/install-agent.sh`) and the agent
//! binaries, `/download/pulse-docker-agent?arch=` and `/download/pulse-host-agent?arch=`,
//! served from the directory of the `pulse` binary (or `PULSE_AGENT_BIN_DIR`) with their
//! SHA-256 in `X-Checksum-Sha256`. Reading and hashing a binary happens on the task pool.

use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::{Body, Reply};
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route};
use std::path::PathBuf;

const TEMPLATE: &str = include_str!("../../packaging/agents/install-agent.sh");
/// Larger files are not agent binaries.
const MAX_BINARY: u64 = 64 << 20;

/// The install script of `agent` (`pulse-docker-agent`), with this server as default URL.
pub fn install_script(agent: &str, kind: &str, default_url: &str) -> String {
    TEMPLATE
        .replace("@AGENT@", agent)
        .replace("@KIND@", kind)
        .replace("@DEFAULT_URL@", default_url)
}

fn script(app: &App, ctx: &Ctx, agent: &str, kind: &str) -> Outcome {
    // The Host header lands inside a shell script: only host-name characters pass.
    let host = ctx
        .req
        .header("host")
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost:7655");
    let scheme = if app.http.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{host}");
    Reply::new(200)
        .header("Content-Type", "text/x-shellscript; charset=utf-8")
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Pragma", "no-cache")
        .header("Expires", "0")
        .body(Body::Bytes(install_script(agent, kind, &url).into_bytes()))
        .into()
}

fn docker_script(app: &mut App, ctx: &Ctx) -> Outcome {
    script(app, ctx, "pulse-docker-agent", "docker")
}

fn host_script(app: &mut App, ctx: &Ctx) -> Outcome {
    script(app, ctx, "pulse-host-agent", "host")
}

/// `amd64`, `x86_64`, `linux-amd64` → `linux-amd64`; `None` for what we do not build.
pub fn normalize_arch(arch: &str) -> Option<&'static str> {
    match arch
        .trim()
        .to_ascii_lowercase()
        .trim_start_matches("linux-")
    {
        "amd64" | "x86_64" | "x86-64" => Some("linux-amd64"),
        "arm64" | "aarch64" => Some("linux-arm64"),
        "armv7" | "armv7l" | "armhf" | "arm" => Some("linux-armv7"),
        _ => None,
    }
}

fn own_arch() -> Option<&'static str> {
    normalize_arch(std::env::consts::ARCH)
}

fn bin_dir(app: &App) -> PathBuf {
    if let Some(dir) = app.cfg.vars.get("PULSE_AGENT_BIN_DIR") {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/opt/pulse/bin"))
}

fn download(app: &mut App, ctx: &Ctx, agent: &'static str) -> Outcome {
    let requested = ctx.req.query_param("arch").unwrap_or_default();
    let arch = if requested.is_empty() {
        own_arch()
    } else {
        normalize_arch(&requested)
    };
    let Some(arch) = arch else {
        return Reply::error(
            400,
            &format!("unsupported arch {requested:?}: use linux-amd64, linux-arm64 or linux-armv7"),
        )
        .into();
    };
    let dir = bin_dir(app);
    // `pulse-docker-agent-linux-amd64`, else a plain `pulse-docker-agent` built for our own
    // architecture (what `make static` leaves beside `pulse`).
    let mut candidates = vec![dir.join(format!("{agent}-{arch}"))];
    if Some(arch) == own_arch() {
        candidates.push(dir.join(agent));
    }
    Outcome::defer(
        move || {
            for path in &candidates {
                let Ok(meta) = std::fs::metadata(path) else {
                    continue;
                };
                if !meta.is_file() || meta.len() > MAX_BINARY {
                    continue;
                }
                if let Ok(bytes) = std::fs::read(path) {
                    let sum = ring::digest::digest(&ring::digest::SHA256, &bytes);
                    return Ok((bytes, data_encoding::HEXLOWER.encode(sum.as_ref())));
                }
            }
            Err(format!(
                "{agent} for {arch} is not installed on this Pulse server: put {agent}-{arch} \
                 (or {agent} for this server's own architecture) in {} — `make static` builds it",
                dir.display()
            ))
        },
        move |_app, result: Result<(Vec<u8>, String), String>| match result {
            Ok((bytes, sum)) => Reply::new(200)
                .header("Content-Type", "application/octet-stream")
                .header(
                    "Content-Disposition",
                    &format!("attachment; filename=\"{agent}\""),
                )
                .header("X-Checksum-Sha256", &sum)
                .header("Cache-Control", "no-cache")
                .body(Body::Bytes(bytes)),
            Err(message) => Reply::error(404, &message),
        },
    )
}

fn docker_binary(app: &mut App, ctx: &Ctx) -> Outcome {
    download(app, ctx, "pulse-docker-agent")
}

fn host_binary(app: &mut App, ctx: &Ctx) -> Outcome {
    download(app, ctx, "pulse-host-agent")
}

pub fn routes() -> Vec<Route> {
    let public = |pattern, handler| Route {
        methods: &[Method::Get],
        pattern,
        access: Access::Public,
        csrf: Csrf::Required,
        handler,
    };
    vec![
        public("/install-docker-agent.sh", docker_script),
        public("/install-host-agent.sh", host_script),
        public("/download/pulse-docker-agent", docker_binary),
        public("/download/pulse-host-agent", host_binary),
    ]
}
