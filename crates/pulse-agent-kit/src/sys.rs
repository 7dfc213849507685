//! Facts about the machine the agent runs on, read from `/proc`, `/sys` and `/etc`.

use std::fs;

pub fn read_trimmed(path: &str) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

pub fn hostname() -> String {
    read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| read_trimmed("/etc/hostname"))
        .unwrap_or_else(|| "localhost".into())
}

pub fn machine_id() -> Option<String> {
    read_trimmed("/etc/machine-id").or_else(|| read_trimmed("/var/lib/dbus/machine-id"))
}

pub fn kernel_version() -> String {
    read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default()
}

/// `(NAME, VERSION_ID)` from `/etc/os-release`.
pub fn os_release() -> (String, String) {
    let text = fs::read_to_string("/etc/os-release")
        .or_else(|_| fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    (get("NAME"), get("VERSION_ID"))
}

pub fn uptime_seconds() -> i64 {
    read_trimmed("/proc/uptime")
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0, |f| f as i64)
}

pub fn load_average() -> Vec<f64> {
    read_trimmed("/proc/loadavg")
        .map(|s| {
            s.split_whitespace()
                .take(3)
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Values of `/proc/meminfo`, in bytes.
pub fn meminfo() -> Vec<(String, i64)> {
    fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, rest) = l.split_once(':')?;
            let kb: i64 = rest.split_whitespace().next()?.parse().ok()?;
            Some((k.to_string(), kb * 1024))
        })
        .collect()
}

/// Host memory as the agents report it: used = total − available (what the kernel could
/// hand out without swapping), swap used = total − free.
pub fn memory() -> pulse_wire::agents::MemoryMetric {
    let info = meminfo();
    let get = |k: &str| info.iter().find(|(n, _)| n == k).map_or(0, |(_, v)| *v);
    let total = get("MemTotal");
    let available = if info.iter().any(|(n, _)| n == "MemAvailable") {
        get("MemAvailable")
    } else {
        get("MemFree") + get("Buffers") + get("Cached")
    };
    let used = (total - available).max(0);
    pulse_wire::agents::MemoryMetric {
        total_bytes: total,
        used_bytes: used,
        free_bytes: available,
        usage: if total > 0 {
            used as f64 * 100.0 / total as f64
        } else {
            0.0
        },
        swap_total_bytes: get("SwapTotal"),
        swap_used_bytes: (get("SwapTotal") - get("SwapFree")).max(0),
    }
}

/// The agent id: `--agent-id`, else the machine id, else the hostname. Stable, so one agent
/// reporting to several Pulse servers is the same agent everywhere.
pub fn agent_id(opts: &crate::cli::Options) -> String {
    opts.agent_id
        .clone()
        .or_else(machine_id)
        .unwrap_or_else(hostname)
}

/// RFC 3339 "now".
pub fn now() -> pulse_wire::time::UtcTime {
    pulse_wire::time::UtcTime::now()
}
