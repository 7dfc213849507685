//! The thresholds in force for one observation: the type's defaults, a per-resource override
//! (which follows a migrated guest), `pulse-*` tags and the `disableAll*` switches.

use super::alert::{Observation, ResourceKind};
use super::config::AlertConfig;
use super::threshold::{Metric, Threshold, ThresholdConfig};
use std::borrow::Cow;

/// Thresholds in force for one observation, or `None` when the resource is exempt.
pub fn thresholds_for<'c>(
    cfg: &'c AlertConfig,
    o: &Observation,
) -> Option<Cow<'c, ThresholdConfig>> {
    // Borrowed unless an override or a tag changes it: the common case costs no copy.
    static NONE: std::sync::OnceLock<ThresholdConfig> = std::sync::OnceLock::new();
    let none = || Cow::Borrowed(NONE.get_or_init(ThresholdConfig::default));
    let usage = || {
        Cow::Owned(ThresholdConfig {
            usage: Some(cfg.storage_default),
            ..Default::default()
        })
    };
    let base = match o.kind {
        ResourceKind::Vm | ResourceKind::Container if !cfg.disable_all_guests => {
            Cow::Borrowed(&cfg.guest_defaults)
        }
        ResourceKind::Node if !cfg.disable_all_nodes => Cow::Borrowed(&cfg.node_defaults),
        ResourceKind::Storage if !cfg.disable_all_storage => usage(),
        ResourceKind::PbsDatastore if !cfg.disable_all_pbs => usage(),
        ResourceKind::PbsInstance if !cfg.disable_all_pbs => none(),
        ResourceKind::PmgInstance if !cfg.disable_all_pmg => none(),
        ResourceKind::PhysicalDisk if !cfg.disable_all_storage => none(),
        ResourceKind::Snapshot if cfg.snapshot_defaults.enabled => none(),
        ResourceKind::Host if !cfg.disable_all_hosts => Cow::Borrowed(&cfg.host_defaults),
        ResourceKind::HostDisk => return super::host_disks::thresholds(cfg, o),
        ResourceKind::DockerHost if !cfg.disable_all_docker_hosts => none(),
        ResourceKind::DockerContainer if !cfg.disable_all_docker_containers => {
            let d = &cfg.docker_defaults;
            Cow::Owned(ThresholdConfig {
                cpu: Some(d.cpu),
                memory: Some(d.memory),
                powered_off_severity: d
                    .extra
                    .get("statePoweredOffSeverity")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                ..Default::default()
            })
        }
        _ => return None,
    };
    let mut eff = match override_for(cfg, o) {
        Some(over) => Cow::Owned(base.overlaid(over)),
        None => base,
    };
    if eff.disabled || has_tag(o, "pulse-no-alerts") {
        return None;
    }
    if has_tag(o, "pulse-relaxed") {
        for (m, floor) in [
            (Metric::Cpu, 95.0),
            (Metric::Memory, 92.0),
            (Metric::Disk, 95.0),
        ] {
            if let Some(t) = eff.get(m).filter(|t| t.is_enabled() && t.trigger < floor) {
                let gap = t.trigger - t.clear_level();
                eff.to_mut()
                    .set(m, Some(Threshold::new(floor, floor - gap)));
            }
        }
    }
    Some(eff)
}

/// The override for this resource: by its id, or for a guest by an id it had on another node
/// of the same instance (an override follows a migrated guest).
fn override_for<'c>(cfg: &'c AlertConfig, o: &Observation) -> Option<&'c ThresholdConfig> {
    if let Some(over) = cfg.overrides.get(o.id) {
        return Some(over);
    }
    if cfg.overrides.is_empty() {
        return None; // the common case: no string work for each of thousands of guests
    }
    let vmid = o.vmid?.to_string();
    // `<instance>-<node>-<vmid>` with any node, compared in place.
    cfg.overrides
        .iter()
        .find(|(k, _)| {
            k.strip_prefix(o.instance)
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|rest| rest.strip_suffix(vmid.as_str()))
                .and_then(|node| node.strip_suffix('-'))
                .is_some_and(|node| !node.is_empty())
        })
        .map(|(_, v)| v)
}

pub fn has_tag(o: &Observation, tag: &str) -> bool {
    o.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
}

pub fn connectivity_disabled(cfg: &AlertConfig, o: &Observation) -> bool {
    let all = match o.kind {
        ResourceKind::Vm | ResourceKind::Container => cfg.disable_all_guests_offline,
        ResourceKind::Node => cfg.disable_all_nodes_offline,
        ResourceKind::PbsDatastore | ResourceKind::PbsInstance => cfg.disable_all_pbs_offline,
        ResourceKind::PmgInstance => cfg.disable_all_pmg_offline,
        ResourceKind::Host | ResourceKind::HostDisk => cfg.disable_all_hosts,
        ResourceKind::DockerHost => cfg.disable_all_docker_hosts,
        ResourceKind::DockerContainer => cfg
            .docker_defaults
            .extra
            .get("stateDisableConnectivity")
            .is_some_and(|v| v == true),
        ResourceKind::Storage | ResourceKind::PhysicalDisk | ResourceKind::Snapshot => false,
    };
    all || override_for(cfg, o).is_some_and(|t| t.disable_connectivity || t.disabled)
}
