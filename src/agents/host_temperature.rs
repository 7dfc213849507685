//! A host agent's temperature sensors as a node's `temperature` object: when a host agent
//! runs on a Proxmox node (its short hostname is the node's name, any case), its readings are
//! that node's CPU, core and NVMe temperatures. Pulse reads them over SSH; the agent is the
//! way this version gets them.
//!
//! Sensor keys are what agents send: ours `<hwmon chip> <label>` (`coretemp Package id 0`,
//! `coretemp Core 3`, `k10temp Tctl`, `nvme Composite`, `amdgpu edge`) or a thermal zone's
//! type (`x86_pkg_temp`), the Go agent's flat names (`cpu_package`, `cpu_core_0`, `nvme0`).

use super::Agents;
use crate::state::values::{CoreTemp, GpuTemp, NvmeTemp, Temperature};
use pulse_wire::time::UtcTime;
use std::collections::BTreeMap;

/// Readings outside this range are sensor noise (unplugged probes read 0 or −273, some
/// chips 255), not temperatures.
fn plausible(v: f64) -> bool {
    v.is_finite() && v > 0.0 && v < 150.0
}

/// The key a node name and a hostname meet on: the short name, lower case.
pub fn match_key(hostname: &str) -> String {
    hostname
        .trim()
        .split('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn tokens(key: &str) -> Vec<String> {
    key.to_ascii_lowercase()
        .split([' ', '_', '-'])
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// `core 3`, `core_3`, `core3` → 3.
fn core_index(t: &[String]) -> Option<i64> {
    t.iter().enumerate().find_map(|(i, w)| {
        if w == "core" {
            t.get(i + 1)?.parse().ok()
        } else {
            w.strip_prefix("core")?.parse().ok()
        }
    })
}

fn is_package(key: &str, t: &[String]) -> bool {
    let k = key.to_ascii_lowercase();
    t.iter().any(|w| w == "package" || w == "tctl" || w == "tdie")
        || matches!(
            k.as_str(),
            "cpu" | "cpu_package" | "cpu_temp" | "x86_pkg_temp" | "cpu-thermal" | "cpu_thermal"
        )
        // AMD's chips report one die temperature under several labels.
        || t.first()
            .is_some_and(|c| c == "k10temp" || c == "zenpower")
            && core_index(t).is_none()
}

const GPU_CHIPS: [&str; 5] = ["amdgpu", "radeon", "nouveau", "nvidia", "gpu"];

/// The node `temperature` object for these readings, `None` when none of them is a CPU, NVMe
/// or GPU temperature.
pub fn from_sensors(readings: &BTreeMap<String, f64>, at: UtcTime) -> Option<Temperature> {
    let mut package: Option<f64> = None;
    let mut cores: BTreeMap<i64, f64> = BTreeMap::new();
    let mut nvme: Vec<NvmeTemp> = Vec::new();
    let mut gpus: BTreeMap<String, GpuTemp> = BTreeMap::new();
    for (key, &v) in readings {
        if !plausible(v) {
            continue;
        }
        let t = tokens(key);
        let Some(first) = t.first() else {
            continue;
        };
        if first.starts_with("nvme") {
            // One reading per drive: its composite (or only) sensor, not the sub-sensors.
            if t.len() == 1 || t.iter().any(|w| w == "composite") {
                nvme.push(NvmeTemp {
                    device: first.clone(),
                    temp: v,
                });
            }
        } else if GPU_CHIPS.contains(&first.as_str()) {
            let g = gpus.entry(first.clone()).or_insert_with(|| GpuTemp {
                device: first.clone(),
                edge: None,
                junction: None,
                mem: None,
            });
            let slot = if t.iter().any(|w| w == "junction" || w == "hotspot") {
                &mut g.junction
            } else if t.iter().any(|w| w.starts_with("mem")) {
                &mut g.mem
            } else {
                &mut g.edge
            };
            *slot = Some(slot.map_or(v, |o: f64| o.max(v)));
        } else if let Some(i) = core_index(&t) {
            let e = cores.entry(i).or_insert(v);
            *e = e.max(v);
        } else if is_package(key, &t) {
            package = Some(package.map_or(v, |p| p.max(v)));
        }
    }
    if package.is_none() && cores.is_empty() && nvme.is_empty() && gpus.is_empty() {
        return None;
    }
    let core_max = cores.values().copied().reduce(f64::max);
    let core_min = cores.values().copied().reduce(f64::min);
    let has_cpu = package.is_some() || core_max.is_some();
    Some(Temperature {
        cpu_package: package,
        cpu_max: core_max.or(package),
        cpu_min: core_min.or(package),
        cores: cores
            .into_iter()
            .map(|(core, temp)| CoreTemp { core, temp })
            .collect(),
        has_nvme: !nvme.is_empty(),
        nvme,
        has_gpu: !gpus.is_empty(),
        gpu: gpus.into_values().collect(),
        has_cpu,
        available: true,
        last_update: at,
        ..Temperature::default()
    })
}

impl Agents {
    /// The temperatures of the host agents that are online, by [`match_key`] of their
    /// hostname (the newest report wins when two agents share a hostname).
    pub fn node_temperatures(&self) -> BTreeMap<String, Temperature> {
        let mut out: BTreeMap<String, (i64, Temperature)> = BTreeMap::new();
        for h in self.hosts.values().filter(|h| h.online) {
            let key = match_key(&h.report.host.hostname);
            if key.is_empty() {
                continue;
            }
            let at = UtcTime::from_unix_ms(h.last_seen_ms);
            let Some(t) = from_sensors(&h.report.sensors.temperature_celsius, at) else {
                continue;
            };
            if out.get(&key).is_none_or(|(seen, _)| *seen < h.last_seen_ms) {
                out.insert(key, (h.last_seen_ms, t));
            }
        }
        out.into_iter().map(|(k, (_, t))| (k, t)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readings(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn intel_hwmon_keys() {
        let t = from_sensors(
            &readings(&[
                ("coretemp Package id 0", 61.0),
                ("coretemp Core 0", 55.0),
                ("coretemp Core 1", 67.0),
                ("nvme Composite", 41.0),
                ("nvme Sensor 1", 44.0),
                ("acpitz temp1", 27.8),
                ("coretemp Core 2", 0.0),
            ]),
            UtcTime::from_unix_ms(1_000),
        )
        .unwrap();
        assert_eq!(t.cpu_package, Some(61.0));
        assert_eq!(t.cpu_max, Some(67.0));
        assert_eq!(t.cpu_min, Some(55.0));
        assert_eq!(
            t.cores.iter().map(|c| (c.core, c.temp)).collect::<Vec<_>>(),
            [(0, 55.0), (1, 67.0)]
        );
        assert_eq!(t.nvme.len(), 1);
        assert_eq!((t.nvme[0].device.as_str(), t.nvme[0].temp), ("nvme", 41.0));
        assert!(t.available && t.has_cpu && t.has_nvme && !t.has_gpu);
    }

    #[test]
    fn amd_go_agent_and_gpu_keys() {
        let t = from_sensors(
            &readings(&[
                ("k10temp Tctl", 72.5),
                ("amdgpu edge", 50.0),
                ("amdgpu junction", 58.0),
            ]),
            UtcTime::default(),
        )
        .unwrap();
        assert_eq!((t.cpu_package, t.cpu_max), (Some(72.5), Some(72.5)));
        assert_eq!(t.gpu[0].junction, Some(58.0));
        assert!(t.has_gpu);
        let t = from_sensors(
            &readings(&[("cpu_package", 48.0), ("cpu_core_0", 50.0), ("nvme0", 35.0)]),
            UtcTime::default(),
        )
        .unwrap();
        assert_eq!((t.cpu_package, t.cpu_max), (Some(48.0), Some(50.0)));
        assert_eq!(t.nvme[0].device, "nvme0");
        assert!(from_sensors(&readings(&[("acpitz temp1", 30.0)]), UtcTime::default()).is_none());
        assert_eq!(match_key(" PVE1.example.lan"), "pve1");
    }
}
