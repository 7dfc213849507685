//! What is running and how it was deployed (`GET /api/version` shows it; the UI decides from
//! `deploymentType` whether self-update is possible). Detected once at start-up.

use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub version: String,
    pub build: &'static str,
    pub build_time: String,
    pub runtime: &'static str,
    pub rust_version: &'static str,
    pub channel: &'static str,
    pub deployment_type: &'static str,
    pub is_docker: bool,
    pub is_source_build: bool,
    pub is_development: bool,
    pub containerized: bool,
    pub update_available: bool,
    pub latest_version: String,
}

impl VersionInfo {
    /// Computed once at start-up: none of it changes while the process runs.
    pub fn detect() -> VersionInfo {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let root = Path::new("/");
        let deployment = detect_deployment(
            root,
            env("PULSE_DOCKER").is_some(),
            env("INVOCATION_ID").is_some(),
        );
        let dev = cfg!(debug_assertions);
        let version = crate::VERSION.to_string();
        let build_epoch: i64 = env!("PULSE_BUILD_EPOCH").parse().unwrap_or(0);
        VersionInfo {
            channel: if version.contains("rc") {
                "rc"
            } else {
                "stable"
            },
            latest_version: version.clone(),
            version,
            build: if dev { "development" } else { "release" },
            build_time: crate::util::time::format_rfc3339(build_epoch, 0),
            runtime: "rust",
            rust_version: env!("PULSE_RUSTC_VERSION"),
            deployment_type: deployment,
            is_docker: deployment == "docker",
            is_source_build: dev,
            is_development: dev,
            containerized: matches!(deployment, "docker" | "lxc"),
            update_available: false,
        }
    }
}

/// docker (`/.dockerenv` or PULSE_DOCKER), systemd (a service: INVOCATION_ID is set by
/// systemd for the units it starts), lxc (`/run/systemd/container` or PID 1's `container=`),
/// else manual. systemd wins over lxc: inside an LXC, Pulse run as a service updates like any
/// systemd install.
pub fn detect_deployment(root: &Path, docker_env: bool, systemd_invocation: bool) -> &'static str {
    if docker_env || root.join(".dockerenv").exists() {
        return "docker";
    }
    if systemd_invocation {
        return "systemd";
    }
    let container = std::fs::read_to_string(root.join("run/systemd/container")).unwrap_or_default();
    let pid1_env = std::fs::read(root.join("proc/1/environ")).unwrap_or_default();
    let pid1_lxc = pid1_env.split(|b| *b == 0).any(|kv| kv == b"container=lxc");
    if container.trim() == "lxc" || pid1_lxc {
        return "lxc";
    }
    "manual"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_deployment_from_markers() {
        let dir = std::env::temp_dir().join(format!("pulse-deploy-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("run/systemd")).unwrap();
        assert_eq!(detect_deployment(&dir, false, false), "manual");
        assert_eq!(detect_deployment(&dir, false, true), "systemd");
        std::fs::write(dir.join("run/systemd/container"), "lxc\n").unwrap();
        assert_eq!(detect_deployment(&dir, false, false), "lxc");
        std::fs::write(dir.join(".dockerenv"), "").unwrap();
        assert_eq!(detect_deployment(&dir, false, true), "docker");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
