//! The per-guest half of a PVE poll: which details the live rows call for, fetching the ones
//! the [`DetailPlanner`] picked (each fetch is a value, so fetches can run on several
//! connections at once), and the held results the live figures are combined with.

use super::details::{DetailKind, DetailPlanner, Wanted};
use super::guest_agent::{agent_version, network_interfaces, os_name_version, AgentMeta};
use super::lxc_network::lxc_network;
use super::poll_pve::PveApi;
use super::poll_pve_backups::{guest_snapshot, GuestRef};
use crate::proxmox::pve_types::{AgentFsInfo, QemuStatus};
use crate::proxmox::ProxmoxError;
use crate::state::backups::GuestSnapshot;
use std::collections::{BTreeSet, HashMap};

/// One detail to fetch.
#[derive(Debug, Clone)]
pub struct DetailJob {
    pub guest: String,
    pub node: String,
    pub vmid: u32,
    pub kind: DetailKind,
    /// The live state when it was asked for (recorded with the result).
    pub state: String,
    /// `"qemu"` or `"lxc"`.
    pub guest_kind: &'static str,
}

/// What a fetch brought back.
#[derive(Debug, Clone)]
pub enum DetailResult {
    VmStatus(Option<Box<QemuStatus>>),
    /// Filesystems, or the `diskStatusReason` of a failed call.
    VmFilesystems(Result<Vec<AgentFsInfo>, &'static str>),
    /// `None`: the agent did not answer (keep what we had).
    Meta(Option<AgentMeta>),
    Snapshots(Option<Vec<GuestSnapshot>>),
}

/// The `diskStatusReason` for a failed guest-agent call.
pub fn agent_failure_reason(err: &ProxmoxError) -> &'static str {
    let text = err.to_string().to_ascii_lowercase();
    match err {
        ProxmoxError::Timeout(_) => "agent-timeout",
        ProxmoxError::Auth { .. } => "permission-denied",
        _ if text.contains("not running") => "agent-not-running",
        _ if text.contains("timeout") => "agent-timeout",
        _ => "agent-error",
    }
}

/// Fetches one detail: at most [`DetailKind::cost`] requests.
pub fn fetch(api: &mut dyn PveApi, instance: &str, job: &DetailJob) -> DetailResult {
    let (node, vmid) = (job.node.as_str(), job.vmid);
    match job.kind {
        DetailKind::VmStatus => {
            DetailResult::VmStatus(api.qemu_status(node, vmid).ok().map(Box::new))
        }
        DetailKind::VmFilesystems => DetailResult::VmFilesystems(
            api.agent_fsinfo(node, vmid)
                .map(|l| l.result)
                .map_err(|e| agent_failure_reason(&e)),
        ),
        DetailKind::VmAgentMeta => {
            let Ok(list) = api.agent_network_interfaces(node, vmid) else {
                return DetailResult::Meta(None);
            };
            let (interfaces, ip_addresses) = network_interfaces(&list.result);
            let (os_name, os_version) = api
                .agent_osinfo(node, vmid)
                .map(|i| os_name_version(&i))
                .unwrap_or_default();
            let agent_version = api
                .agent_info(node, vmid)
                .map(|i| agent_version(&i))
                .unwrap_or_default();
            DetailResult::Meta(Some(AgentMeta {
                os_name,
                os_version,
                agent_version,
                interfaces,
                ip_addresses,
            }))
        }
        DetailKind::CtNetwork => {
            // `status/current` adds nothing the live row lacks for the network identity, so
            // a container costs at most config + interfaces.
            let Ok(config) = api.lxc_config(node, vmid) else {
                return DetailResult::Meta(None);
            };
            let (mut interfaces, mut ip_addresses) = lxc_network(Some(&config), None, &[]);
            if ip_addresses.is_empty() {
                if let Ok(list) = api.lxc_interfaces(node, vmid) {
                    (interfaces, ip_addresses) = lxc_network(Some(&config), None, &list);
                }
            }
            DetailResult::Meta(Some(AgentMeta {
                interfaces,
                ip_addresses,
                ..AgentMeta::default()
            }))
        }
        DetailKind::Snapshots => {
            let list = if job.guest_kind == "qemu" {
                api.qemu_snapshots(node, vmid)
            } else {
                api.lxc_snapshots(node, vmid)
            };
            let guest = GuestRef {
                node: job.node.clone(),
                vmid,
                kind: job.guest_kind,
            };
            DetailResult::Snapshots(list.ok().map(|l| {
                l.iter()
                    .filter(|s| s.name != "current")
                    .map(|s| guest_snapshot(instance, &guest, s))
                    .collect()
            }))
        }
    }
}

/// Details held between refreshes, by guest id.
#[derive(Debug, Clone, Default)]
pub struct HeldDetails {
    pub vm_status: HashMap<String, QemuStatus>,
    pub vm_fs: HashMap<String, Result<Vec<AgentFsInfo>, &'static str>>,
    /// VM agent metadata and container network identity.
    pub meta: HashMap<String, AgentMeta>,
    pub snapshots: HashMap<String, Vec<GuestSnapshot>>,
    /// Set when a snapshot list changed since the last publication.
    pub snapshots_changed: bool,
}

impl HeldDetails {
    /// Stores a fetch result. Failures keep the previous value (except filesystems, whose
    /// failure reason is itself what is shown).
    pub fn apply(&mut self, job: &DetailJob, result: DetailResult) {
        let id = job.guest.clone();
        match result {
            DetailResult::VmStatus(Some(s)) => {
                self.vm_status.insert(id, *s);
            }
            DetailResult::VmFilesystems(r) => {
                self.vm_fs.insert(id, r);
            }
            DetailResult::Meta(Some(m)) => {
                self.meta.insert(id, m);
            }
            DetailResult::Snapshots(Some(list)) => {
                if self.snapshots.get(&id) != Some(&list) {
                    self.snapshots_changed = true;
                }
                self.snapshots.insert(id, list);
            }
            DetailResult::VmStatus(None)
            | DetailResult::Meta(None)
            | DetailResult::Snapshots(None) => {}
        }
    }

    /// Forgets details nobody wants any more (guest gone, stopped, agent switched off).
    pub fn retain(&mut self, wanted: &[Wanted], planner: &mut DetailPlanner) {
        let keep: BTreeSet<(&str, DetailKind)> =
            wanted.iter().map(|w| (w.guest.as_str(), w.kind)).collect();
        let has = |g: &str, k: DetailKind| keep.contains(&(g, k));
        self.vm_status.retain(|g, _| has(g, DetailKind::VmStatus));
        self.vm_fs.retain(|g, _| has(g, DetailKind::VmFilesystems));
        self.meta
            .retain(|g, _| has(g, DetailKind::VmAgentMeta) || has(g, DetailKind::CtNetwork));
        let before = self.snapshots.len();
        self.snapshots.retain(|g, _| has(g, DetailKind::Snapshots));
        if self.snapshots.len() != before {
            self.snapshots_changed = true;
        }
        planner.retain(|g, k| has(g, k));
    }

    /// Every held snapshot, in guest order (stable output for the state).
    pub fn all_snapshots(&self) -> Vec<GuestSnapshot> {
        let mut ids: Vec<&String> = self.snapshots.keys().collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|id| self.snapshots.get(id))
            .flatten()
            .cloned()
            .collect()
    }
}
