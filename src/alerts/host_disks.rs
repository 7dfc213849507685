//! Per-filesystem disk alerts of host agents: every disk a host reports is its own resource,
//! `host:<hostId>/disk:<label>` (Pulse's id format), judged against the host `disk`
//! threshold, so a full `/var` is not hidden behind an emptier `/` and each disk resolves on
//! its own. A disk that is no longer reported is no longer observed, so its alert resolves
//! with the evaluation that misses it; while the host is offline its disks are stale (held).

use super::alert::{Observation, Presence, ResourceKind};
use super::config::AlertConfig;
use super::threshold::{Metric, ThresholdConfig};
use serde_json::Value;
use std::borrow::Cow;

/// The id part after `disk:`: Pulse's sanitising (lower case, every run of other characters
/// one `-`, trimmed). Pulse turns the root filesystem into `unknown`; we call it `root`, which
/// says what it is.
pub fn disk_label(mountpoint: &str, device: &str) -> String {
    let raw = raw_label(mountpoint, device);
    let mut out = String::with_capacity(raw.len());
    for c in raw.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if !out.is_empty() {
        out
    } else if raw.trim() == "/" {
        "root".into()
    } else {
        "unknown".into()
    }
}

/// What the disk is called in the alert's resource name: its mount point, else its device.
fn raw_label<'v>(mountpoint: &'v str, device: &'v str) -> &'v str {
    [mountpoint, device]
        .into_iter()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("disk")
}

/// `host:<id>/disk:<label>`.
pub fn resource_id(host_resource_id: &str, label: &str) -> String {
    format!("{host_resource_id}/disk:{label}")
}

/// The host's resource id (`host:<id>`) a disk resource id belongs to.
pub fn parent_of(disk_resource_id: &str) -> Option<&str> {
    disk_resource_id
        .rsplit_once("/disk:")
        .map(|(host, _)| host)
        .filter(|h| h.starts_with("host:"))
}

/// A reported disk as the observer needs it (made once per evaluation, borrowed by the
/// observations).
#[derive(Debug, Clone, PartialEq)]
pub struct HostDisk {
    /// `host:<id>/disk:<label>`.
    pub id: String,
    /// `<host name> (<mount point>)`.
    pub name: String,
    /// Percent used, `-1` when unknown.
    pub usage: f64,
}

/// The disks of a host entry of the state's `hosts`, in report order; a disk whose label
/// another disk of the host already took is skipped (one resource id, one alert).
pub fn collect(host_resource_id: &str, host_name: &str, host: &Value) -> Vec<HostDisk> {
    let mut out: Vec<HostDisk> = Vec::new();
    for d in host["disks"].as_array().into_iter().flatten() {
        let (mp, dev) = (text(d, "mountpoint"), text(d, "device"));
        let id = resource_id(host_resource_id, &disk_label(mp, dev));
        if out.iter().any(|seen| seen.id == id) {
            continue;
        }
        out.push(HostDisk {
            id,
            name: format!("{host_name} ({})", raw_label(mp, dev)),
            usage: usage_of(d),
        });
    }
    out
}

/// One observation per disk of a host.
pub fn observe<'a>(
    disks: &'a [HostDisk],
    host_id: &'a str,
    node: &'a str,
    online: bool,
    now_ms: i64,
    out: &mut Vec<Observation<'a>>,
) {
    out.extend(disks.iter().map(|d| Observation {
        id: &d.id,
        name: &d.name,
        kind: ResourceKind::HostDisk,
        node,
        instance: host_id,
        vmid: None,
        tags: &[],
        presence: Presence::Up,
        template: false,
        // An offline host's last report is not news: its disks' alerts are held.
        stale: !online,
        sample_ms: now_ms,
        metrics: vec![(Metric::Disk, d.usage)],
        conditions: Vec::new(),
    }));
}

/// Percent used; unknown when the agent could not size the filesystem.
fn usage_of(d: &Value) -> f64 {
    let known = d["total"].as_i64().is_none_or(|t| t > 0);
    d["usage"]
        .as_f64()
        .filter(|u| known && u.is_finite())
        .unwrap_or(-1.0)
}

fn text<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key].as_str().unwrap_or("")
}

/// A disk's thresholds: the host defaults with the host's override, then the disk's own
/// override (by its resource id) on top, as Pulse lets one disk differ from its host.
pub fn thresholds<'c>(cfg: &'c AlertConfig, o: &Observation) -> Option<Cow<'c, ThresholdConfig>> {
    if cfg.disable_all_hosts {
        return None;
    }
    let mut eff = Cow::Borrowed(&cfg.host_defaults);
    if let Some(over) = parent_of(o.id).and_then(|h| cfg.overrides.get(h)) {
        eff = Cow::Owned(eff.overlaid(over));
    }
    if let Some(over) = cfg.overrides.get(o.id) {
        eff = Cow::Owned(eff.overlaid(over));
    }
    (!eff.disabled).then_some(eff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_pulse_sanitising() {
        assert_eq!(disk_label("/", "/dev/sda1"), "root");
        assert_eq!(disk_label("/var/lib/Docker", ""), "var-lib-docker");
        assert_eq!(disk_label("", "/dev/nvme0n1p2"), "dev-nvme0n1p2");
        assert_eq!(disk_label("  ", ""), "disk");
        assert_eq!(disk_label("/mnt/ä", ""), "mnt");
        assert_eq!(parent_of("host:h1/disk:var"), Some("host:h1"));
        assert_eq!(parent_of("pve1-node1"), None);
    }

    #[test]
    fn duplicate_labels_make_one_resource() {
        let host = serde_json::json!({"disks": [
            {"mountpoint": "/a/b", "usage": 10.0},
            {"mountpoint": "/a-b", "usage": 99.0},
            {"mountpoint": "/", "usage": 50.0},
        ]});
        let out = collect("host:h", "h", &host);
        let ids: Vec<&str> = out.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["host:h/disk:a-b", "host:h/disk:root"]);
        assert_eq!(out[0].name, "h (/a/b)");
        assert_eq!(out[0].usage, 10.0);
    }
}
