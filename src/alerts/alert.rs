//! An alert as the API, the state and the WebSocket show it (Pulse's `Alert` JSON), and what
//! an evaluation feeds the engine: one `Observation` per resource.

use super::threshold::Metric;
use crate::util::time::UtcTime;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Warning,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub id: String,
    /// The metric key (`cpu`, `memory`, `usage`...), `connectivity` or `powered-off`.
    #[serde(rename = "type")]
    pub kind: String,
    pub level: Level,
    pub resource_id: String,
    pub resource_name: String,
    pub node: String,
    pub instance: String,
    pub message: String,
    pub value: f64,
    pub threshold: f64,
    pub start_time: UtcTime,
    pub last_seen: UtcTime,
    pub acknowledged: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_time: Option<UtcTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_user: Option<String>,
    pub metadata: AlertMetadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_notified: Option<UtcTime>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalation_times: Vec<UtcTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_time: Option<UtcTime>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertMetadata {
    /// `VM`, `Container`, `Node`, `Storage`, `PBS`...
    pub resource_type: String,
    pub clear_threshold: f64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
    pub monitor_only: bool,
    /// Fired and resolved too often in the flapping window: shown, not notified.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flapping: bool,
    /// The resource's figures are not current (its poll is failing): the alert is held as it
    /// was, neither raised nor resolved, until fresh data arrives.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

/// What kind of resource an observation is, for thresholds, grace periods and labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Vm,
    Container,
    Node,
    Storage,
    PbsDatastore,
    PbsInstance,
    PmgInstance,
    /// A node's physical disk (SMART health, SSD wearout).
    PhysicalDisk,
    /// A guest snapshot (its age, when `snapshotDefaults` is enabled).
    Snapshot,
    /// A server reporting through the host agent (`host:<id>`).
    Host,
    /// One filesystem a host agent reports (`host:<id>/disk:<label>`).
    HostDisk,
    /// A Docker / Podman host reporting through the Docker agent (`docker:<id>`).
    DockerHost,
    /// A container of a Docker host (`docker:<host>/<container>`).
    DockerContainer,
}

impl ResourceKind {
    pub fn label(self) -> &'static str {
        match self {
            ResourceKind::Vm => "VM",
            ResourceKind::Container => "Container",
            ResourceKind::Node => "Node",
            ResourceKind::Storage => "Storage",
            ResourceKind::PbsDatastore => "PBS Datastore",
            ResourceKind::PbsInstance => "PBS",
            ResourceKind::PmgInstance => "PMG",
            ResourceKind::PhysicalDisk => "Disk",
            ResourceKind::Snapshot => "Snapshot",
            ResourceKind::Host => "Host",
            ResourceKind::HostDisk => "Host Disk",
            ResourceKind::DockerHost => "Docker Host",
            ResourceKind::DockerContainer => "Docker Container",
        }
    }

    /// Keys for `timeThresholds` / `metricTimeThresholds`, most specific first.
    pub fn type_keys(self) -> &'static [&'static str] {
        match self {
            ResourceKind::Vm | ResourceKind::Container => &["guest"],
            ResourceKind::Node => &["node"],
            ResourceKind::Storage => &["storage"],
            ResourceKind::PbsDatastore | ResourceKind::PbsInstance => &["pbs", "node"],
            ResourceKind::PmgInstance => &["pmg", "node"],
            ResourceKind::PhysicalDisk => &["disk", "storage"],
            ResourceKind::Snapshot => &["snapshot"],
            ResourceKind::Host | ResourceKind::HostDisk => &["host"],
            ResourceKind::DockerHost => &["dockerhost", "docker", "node"],
            ResourceKind::DockerContainer => &["docker", "guest"],
        }
    }

    pub fn is_guest(self) -> bool {
        matches!(self, ResourceKind::Vm | ResourceKind::Container)
    }

    /// Stopping is only news for what was seen running (guests, Docker containers): one
    /// stopped from the start may be meant to be.
    pub fn tracks_running(self) -> bool {
        self.is_guest() || self == ResourceKind::DockerContainer
    }

    /// Consecutive down samples before a connectivity / powered-off alert (Pulse's counts).
    pub fn down_confirmations(self) -> u32 {
        match self {
            ResourceKind::Vm
            | ResourceKind::Container
            | ResourceKind::Storage
            | ResourceKind::DockerContainer => 2,
            // Offline already means several of the agent's own report intervals without a
            // report (the agents' sweep), and evaluations run only when the state changes.
            ResourceKind::DockerHost | ResourceKind::Host => 1,
            _ => 3,
        }
    }
}

/// Is the resource there?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Online / running.
    Up,
    /// A node, storage or instance that does not answer.
    Offline,
    /// A guest that is stopped (or paused) on purpose or not.
    Stopped,
}

/// One resource's current figures, borrowed from the live state for one evaluation.
#[derive(Debug, Clone)]
pub struct Observation<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub kind: ResourceKind,
    pub node: &'a str,
    pub instance: &'a str,
    /// Guests only: the VMID, so an override keyed by the old id follows a migrated guest.
    pub vmid: Option<u32>,
    pub tags: &'a [String],
    pub presence: Presence,
    pub template: bool,
    /// The resource's data is not current (its instance's poll keeps failing).
    pub stale: bool,
    /// When these figures were taken (ms); a new value counts as one more poll for the
    /// offline confirmations.
    pub sample_ms: i64,
    /// Values in the metric's unit (percent, MB/s, °C); negative or NaN means unknown.
    pub metrics: Vec<(Metric, f64)>,
    /// Checks the observer already judged (disk health and wearout, PMG queues and
    /// quarantine): each its own alert, with grace periods, escalation and resolution as for
    /// metrics.
    pub conditions: Vec<Condition>,
}

/// A state check judged by the observer against its own thresholds (counts with warning and
/// critical levels, a SMART verdict), so the engine only runs the alert's life cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The alert id (Pulse's format: `disk-health-<disk>`, `<pmg>-queue-total`...).
    pub id: String,
    /// The alert type (`disk-health`, `disk-wearout`, `queue-total`, `oldest-message`...).
    pub kind: &'static str,
    /// How bad it is now; `None`: not alerting.
    pub level: Option<Level>,
    /// With `level == None`: whether an active alert resolves now (below its clear level) or
    /// holds (between clear and warning: hysteresis).
    pub cleared: bool,
    pub value: f64,
    /// The warning level (shown as the alert's `threshold`).
    pub threshold: f64,
    pub clear_threshold: f64,
    pub unit: &'static str,
    pub message: String,
}

/// Alert ids as Pulse forms them.
pub fn metric_alert_id(resource_id: &str, metric: Metric) -> String {
    format!("{resource_id}-{}", metric.key())
}

pub fn down_alert_id(kind: ResourceKind, resource_id: &str) -> String {
    match kind {
        ResourceKind::Vm | ResourceKind::Container => format!("guest-powered-off-{resource_id}"),
        ResourceKind::Node => format!("node-offline-{resource_id}"),
        ResourceKind::Storage => format!("storage-offline-{resource_id}"),
        ResourceKind::PbsDatastore | ResourceKind::PbsInstance => {
            format!("pbs-offline-{resource_id}")
        }
        ResourceKind::PmgInstance => format!("pmg-offline-{resource_id}"),
        ResourceKind::PhysicalDisk => format!("disk-offline-{resource_id}"),
        ResourceKind::Snapshot => format!("snapshot-missing-{resource_id}"),
        // Pulse's ids name the agent's host id, without our resource prefix.
        // Never raised: a disk is judged by its usage, its host's offline alert says the rest.
        ResourceKind::HostDisk => format!("host-disk-offline-{resource_id}"),
        ResourceKind::Host => format!(
            "host-offline-{}",
            resource_id.strip_prefix("host:").unwrap_or(resource_id)
        ),
        ResourceKind::DockerHost => format!(
            "docker-host-offline-{}",
            resource_id.strip_prefix("docker:").unwrap_or(resource_id)
        ),
        ResourceKind::DockerContainer => format!("docker-container-state-{resource_id}"),
    }
}

/// `"VM cpu at 93.5%"`, `"Storage at 91.0%"`, `"Node temperature at 85.0°C"`.
pub fn metric_message(kind: ResourceKind, metric: Metric, value: f64) -> String {
    match metric {
        Metric::Usage => format!("{} at {value:.1}%", kind.label()),
        _ => format!(
            "{} {} at {value:.1}{}",
            kind.label(),
            metric.key(),
            metric.unit()
        ),
    }
}

/// The quiet-hours category of an alert type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Performance,
    Storage,
    Offline,
}

pub fn category_of(kind: &str) -> Category {
    match kind {
        "usage" | "disk-health" | "disk-wearout" | "pbs-verify-failed" | "pbs-job-failed" => {
            Category::Storage
        }
        k if k.starts_with("zfs") => Category::Storage,
        "connectivity" | "offline" | "powered-off" | "docker-container-state" => Category::Offline,
        _ => Category::Performance,
    }
}
