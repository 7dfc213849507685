//! Bounds on what an agent may report. A report is checked whole before anything of it is
//! applied, so a bad one changes nothing; the error names the first offending field
//! (`containers[3].labels`), which is what the agent's log needs to show.

use pulse_wire::agents::docker::{Container, DockerReport};
use pulse_wire::agents::host::HostReport;
use pulse_wire::agents::{Disk, NetworkInterface, Sensors};
use std::collections::BTreeMap;

/// Identifiers, names, states, versions.
pub const MAX_SHORT: usize = 256;
/// Images, paths, label values, messages.
pub const MAX_LONG: usize = 4096;
pub const MAX_CONTAINERS: usize = 2000;
pub const MAX_SERVICES: usize = 1000;
pub const MAX_TASKS: usize = 5000;
pub const MAX_LABELS: usize = 200;
/// Disks, interfaces, ports, mounts, networks, addresses, sensors, tags: each list.
pub const MAX_ITEMS: usize = 256;
/// Longest reporting interval an agent may declare (a day).
pub const MAX_INTERVAL_SECS: i64 = 86_400;

pub struct Invalid(pub String);

struct Check {
    path: String,
}

impl Check {
    fn at(&self, field: &str) -> Check {
        Check {
            path: if self.path.is_empty() {
                field.to_string()
            } else {
                format!("{}.{field}", self.path)
            },
        }
    }
    fn idx(&self, i: usize) -> Check {
        Check {
            path: format!("{}[{i}]", self.path),
        }
    }
    fn fail(&self, why: &str) -> Invalid {
        Invalid(format!("{}: {why}", self.path))
    }
    fn text(&self, s: &str, max: usize) -> Result<(), Invalid> {
        if s.len() > max {
            return Err(self.fail(&format!("longer than {max} bytes")));
        }
        if s.chars().any(|c| c.is_control() && c != '\t') {
            return Err(self.fail("contains control characters"));
        }
        Ok(())
    }
    fn count<T>(&self, v: &[T], max: usize) -> Result<(), Invalid> {
        if v.len() > max {
            return Err(self.fail(&format!("{} entries, at most {max} allowed", v.len())));
        }
        Ok(())
    }
    fn non_negative(&self, v: i64) -> Result<(), Invalid> {
        if v < 0 {
            return Err(self.fail("must not be negative"));
        }
        Ok(())
    }
    fn number(&self, v: f64) -> Result<(), Invalid> {
        if !v.is_finite() {
            return Err(self.fail("not a finite number"));
        }
        Ok(())
    }
    fn map(&self, m: &BTreeMap<String, String>) -> Result<(), Invalid> {
        if m.len() > MAX_LABELS {
            return Err(self.fail(&format!(
                "{} entries, at most {MAX_LABELS} allowed",
                m.len()
            )));
        }
        for (k, v) in m {
            self.text(k, MAX_SHORT)?;
            self.at(k).text(v, MAX_LONG)?;
        }
        Ok(())
    }
}

fn root(field: &str) -> Check {
    Check {
        path: field.to_string(),
    }
}

fn interval(c: Check, v: i64) -> Result<(), Invalid> {
    if !(0..=MAX_INTERVAL_SECS).contains(&v) {
        return Err(c.fail(&format!("must be between 0 and {MAX_INTERVAL_SECS}")));
    }
    Ok(())
}

fn hostname(c: Check, s: &str) -> Result<(), Invalid> {
    if s.trim().is_empty() {
        return Err(c.fail("required"));
    }
    c.text(s, 253)
}

fn disks(c: Check, list: &[Disk]) -> Result<(), Invalid> {
    c.count(list, MAX_ITEMS)?;
    for (i, d) in list.iter().enumerate() {
        let c = c.idx(i);
        for (f, s) in [
            ("device", &d.device),
            ("mountpoint", &d.mountpoint),
            ("filesystem", &d.filesystem),
            ("type", &d.fs_type),
        ] {
            c.at(f).text(s, MAX_LONG)?;
        }
        for (f, v) in [
            ("totalBytes", d.total_bytes),
            ("usedBytes", d.used_bytes),
            ("freeBytes", d.free_bytes),
        ] {
            c.at(f).non_negative(v)?;
        }
        c.at("usage").number(d.usage)?;
    }
    Ok(())
}

fn network(c: Check, list: &[NetworkInterface]) -> Result<(), Invalid> {
    c.count(list, MAX_ITEMS)?;
    for (i, n) in list.iter().enumerate() {
        let c = c.idx(i);
        c.at("name").text(&n.name, MAX_SHORT)?;
        c.at("mac").text(&n.mac, MAX_SHORT)?;
        c.at("addresses").count(&n.addresses, MAX_ITEMS)?;
        for (j, a) in n.addresses.iter().enumerate() {
            c.at("addresses").idx(j).text(a, MAX_SHORT)?;
        }
    }
    Ok(())
}

fn load(c: Check, v: &[f64]) -> Result<(), Invalid> {
    c.count(v, 3)?;
    v.iter().try_for_each(|x| c.number(*x))
}

fn container(c: Check, k: &Container) -> Result<(), Invalid> {
    if k.id.is_empty() {
        return Err(c.at("id").fail("required"));
    }
    for (f, s) in [
        ("id", &k.id),
        ("name", &k.name),
        ("state", &k.state),
        ("status", &k.status),
        ("health", &k.health),
    ] {
        c.at(f).text(s, MAX_SHORT)?;
    }
    c.at("image").text(&k.image, MAX_LONG)?;
    for (f, v) in [
        ("cpuPercent", k.cpu_percent),
        ("memoryPercent", k.memory_percent),
    ] {
        c.at(f).number(v)?;
    }
    for (f, v) in [
        ("memoryUsageBytes", k.memory_usage_bytes),
        ("memoryLimitBytes", k.memory_limit_bytes),
        ("restartCount", k.restart_count),
        ("uptimeSeconds", k.uptime_seconds),
    ] {
        c.at(f).non_negative(v)?;
    }
    c.at("labels").map(&k.labels)?;
    c.at("ports").count(&k.ports, MAX_ITEMS)?;
    c.at("networks").count(&k.networks, MAX_ITEMS)?;
    c.at("mounts").count(&k.mounts, MAX_ITEMS)?;
    for (i, n) in k.networks.iter().enumerate() {
        let c = c.at("networks").idx(i);
        c.at("name").text(&n.name, MAX_SHORT)?;
        c.at("ipv4").text(&n.ipv4, MAX_SHORT)?;
        c.at("ipv6").text(&n.ipv6, MAX_SHORT)?;
    }
    for (i, m) in k.mounts.iter().enumerate() {
        let c = c.at("mounts").idx(i);
        c.at("source").text(&m.source, MAX_LONG)?;
        c.at("destination").text(&m.destination, MAX_LONG)?;
    }
    Ok(())
}

/// The `agent` block both report kinds open with.
fn agent(id: &str, version: &str, interval_seconds: i64) -> Result<(), Invalid> {
    let a = root("agent");
    a.at("id").text(id, MAX_SHORT)?;
    a.at("version").text(version, MAX_SHORT)?;
    interval(a.at("intervalSeconds"), interval_seconds)
}

pub fn docker(r: &DockerReport) -> Result<(), Invalid> {
    agent(&r.agent.id, &r.agent.version, r.agent.interval_seconds)?;
    let h = root("host");
    hostname(h.at("hostname"), &r.host.hostname)?;
    for (f, s) in [
        ("name", &r.host.name),
        ("machineId", &r.host.machine_id),
        ("os", &r.host.os),
        ("runtime", &r.host.runtime),
        ("runtimeVersion", &r.host.runtime_version),
        ("kernelVersion", &r.host.kernel_version),
        ("architecture", &r.host.architecture),
        ("dockerVersion", &r.host.docker_version),
    ] {
        h.at(f).text(s, MAX_SHORT)?;
    }
    h.at("cpuUsagePercent").number(r.host.cpu_usage_percent)?;
    load(h.at("loadAverage"), &r.host.load_average)?;
    disks(h.at("disks"), &r.host.disks)?;
    network(h.at("network"), &r.host.network)?;
    let c = root("containers");
    c.count(&r.containers, MAX_CONTAINERS)?;
    for (i, k) in r.containers.iter().enumerate() {
        container(c.idx(i), k)?;
    }
    let s = root("services");
    s.count(&r.services, MAX_SERVICES)?;
    for (i, svc) in r.services.iter().enumerate() {
        let c = s.idx(i);
        for (f, v) in [("id", &svc.id), ("name", &svc.name), ("stack", &svc.stack)] {
            c.at(f).text(v, MAX_SHORT)?;
        }
        c.at("image").text(&svc.image, MAX_LONG)?;
        c.at("labels").map(&svc.labels)?;
        c.at("endpointPorts")
            .count(&svc.endpoint_ports, MAX_ITEMS)?;
    }
    let t = root("tasks");
    t.count(&r.tasks, MAX_TASKS)?;
    for (i, task) in r.tasks.iter().enumerate() {
        let c = t.idx(i);
        for (f, v) in [
            ("id", &task.id),
            ("serviceId", &task.service_id),
            ("serviceName", &task.service_name),
            ("nodeName", &task.node_name),
            ("currentState", &task.current_state),
            ("containerName", &task.container_name),
        ] {
            c.at(f).text(v, MAX_SHORT)?;
        }
        c.at("error").text(&task.error, MAX_LONG)?;
        c.at("message").text(&task.message, MAX_LONG)?;
    }
    Ok(())
}

fn sensors(c: Check, s: &Sensors) -> Result<(), Invalid> {
    for (f, m) in [
        ("temperatureCelsius", &s.temperature_celsius),
        ("fanRpm", &s.fan_rpm),
        ("additional", &s.additional),
    ] {
        let c = c.at(f);
        if m.len() > MAX_ITEMS {
            return Err(c.fail(&format!("{} entries, at most {MAX_ITEMS} allowed", m.len())));
        }
        for (k, v) in m {
            c.text(k, MAX_SHORT)?;
            c.at(k).number(*v)?;
        }
    }
    Ok(())
}

pub fn host(r: &HostReport) -> Result<(), Invalid> {
    agent(&r.agent.id, &r.agent.version, r.agent.interval_seconds)?;
    let h = root("host");
    hostname(h.at("hostname"), &r.host.hostname)?;
    for (f, s) in [
        ("id", &r.host.id),
        ("displayName", &r.host.display_name),
        ("machineId", &r.host.machine_id),
        ("platform", &r.host.platform),
        ("osName", &r.host.os_name),
        ("osVersion", &r.host.os_version),
        ("kernelVersion", &r.host.kernel_version),
        ("architecture", &r.host.architecture),
        ("cpuModel", &r.host.cpu_model),
    ] {
        h.at(f).text(s, MAX_SHORT)?;
    }
    h.at("cpuCount").non_negative(r.host.cpu_count)?;
    load(h.at("loadAverage"), &r.host.load_average)?;
    root("metrics")
        .at("cpuUsagePercent")
        .number(r.metrics.cpu_usage_percent)?;
    root("metrics")
        .at("diskIo")
        .count(&r.metrics.disk_io, MAX_ITEMS)?;
    disks(root("disks"), &r.disks)?;
    network(root("network"), &r.network)?;
    sensors(root("sensors"), &r.sensors)?;
    let t = root("tags");
    t.count(&r.tags, MAX_ITEMS)?;
    for (i, tag) in r.tags.iter().enumerate() {
        t.idx(i).text(tag, MAX_SHORT)?;
    }
    Ok(())
}
