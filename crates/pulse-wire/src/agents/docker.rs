//! `POST /api/agents/docker/report`: one heartbeat of a Docker (or Podman) host.

use super::{is_zero_f64, is_zero_i64, nullable, Disk, MemoryMetric, NetworkInterface};
use crate::time::UtcTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}
fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DockerReport {
    pub agent: AgentInfo,
    pub host: DockerHostInfo,
    #[serde(deserialize_with = "nullable")]
    pub containers: Vec<Container>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<Task>,
    /// Agent clock; Go's zero time means "now" to Pulse.
    pub timestamp: UtcTime,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AgentInfo {
    pub id: String,
    pub version: String,
    pub interval_seconds: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DockerHostInfo {
    pub hostname: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub machine_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub runtime_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kernel_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub architecture: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub docker_version: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub total_cpu: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub total_memory_bytes: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub uptime_seconds: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmInfo>,
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub cpu_usage_percent: f64,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub load_average: Vec<f64>,
    #[serde(deserialize_with = "nullable")]
    pub memory: MemoryMetric,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<Disk>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<NetworkInterface>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    pub created_at: UtcTime,
    pub state: String,
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub health: String,
    pub cpu_percent: f64,
    pub memory_usage_bytes: i64,
    pub memory_limit_bytes: i64,
    pub memory_percent: f64,
    pub uptime_seconds: i64,
    pub restart_count: i64,
    pub exit_code: i32,
    /// Ours (the original agents never send it): the Engine's `State.OOMKilled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_killed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<UtcTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<UtcTime>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<ContainerNetwork>,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub writable_layer_bytes: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub root_filesystem_bytes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_io: Option<BlockIo>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<ContainerMount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub podman: Option<PodmanInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerPort {
    pub private_port: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub public_port: i64,
    pub protocol: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerNetwork {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ipv4: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ipv6: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BlockIo {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub read_bytes: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub write_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerMount {
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mode: String,
    pub rw: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub propagation: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodmanInfo {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod_id: String,
    #[serde(skip_serializing_if = "is_false")]
    pub infra: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compose_project: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compose_service: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compose_workdir: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compose_config_hash: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auto_update_policy: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auto_update_restart: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user_namespace: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SwarmInfo {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node_role: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_state: String,
    #[serde(skip_serializing_if = "is_false")]
    pub control_available: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Service {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stack: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mode: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub desired_tasks: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub running_tasks: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub completed_tasks: i64,
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub endpoint_ports: Vec<ServicePort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_status: Option<ServiceUpdate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<UtcTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<UtcTime>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServicePort {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_port: Option<u32>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub publish_mode: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceUpdate {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<UtcTime>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Task {
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_name: String,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub slot: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub desired_state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub current_state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub container_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub container_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<UtcTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<UtcTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<UtcTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<UtcTime>,
}

impl DockerReport {
    /// The agent's stable key: its id, else the machine id, else the hostname.
    pub fn agent_key(&self) -> &str {
        [&self.agent.id, &self.host.machine_id, &self.host.hostname]
            .into_iter()
            .find(|s| !s.is_empty())
            .map_or("", |s| s.as_str())
    }
}
