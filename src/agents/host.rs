//! Host agents: applying a report and the `hosts` entry the UI reads.

use super::{normalize_version, sanitize_id, Agents, Refusal, TokenInfo, CLOCK_RESET_MS};
use crate::state::{Disk, Memory};
use pulse_wire::agents::host::HostReport;
use pulse_wire::agents::ReportAnswer;
use pulse_wire::time::UtcTime;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct HostAgent {
    pub id: String,
    pub report: HostReport,
    /// Pulse's clock, Unix ms.
    pub last_seen_ms: i64,
    pub online: bool,
    pub token: Option<TokenInfo>,
    pub agent_version: String,
}

pub fn health_key(id: &str) -> String {
    format!("host-{id}")
}

/// The state's memory object from an agent's figures (`None` when the total is unknown).
pub fn memory(m: &pulse_wire::agents::MemoryMetric) -> Option<Memory> {
    if m.total_bytes <= 0 {
        return None;
    }
    let mut out = Memory::from_used(m.total_bytes, m.used_bytes);
    out.swap_total = m.swap_total_bytes.max(0);
    out.swap_used = m.swap_used_bytes.clamp(0, out.swap_total);
    Some(out)
}

pub fn disks(list: &[pulse_wire::agents::Disk]) -> Vec<Disk> {
    list.iter()
        .map(|d| {
            let mut out = Disk::from_used(d.total_bytes, d.used_bytes);
            out.mountpoint = d.mountpoint.clone();
            out.kind = d.fs_type.clone();
            out.device = d.device.clone();
            out
        })
        .collect()
}

impl HostAgent {
    pub fn display_name(&self) -> &str {
        if self.report.host.display_name.is_empty() {
            &self.report.host.hostname
        } else {
            &self.report.host.display_name
        }
    }

    /// The `hosts` entry.
    pub fn frontend(&self) -> Value {
        let h = &self.report.host;
        let m = &self.report.metrics;
        let mut v = json!({
            "id": self.id,
            "agentId": self.report.agent.id,
            "hostname": h.hostname,
            "displayName": self.display_name(),
            "status": if self.online { "online" } else { "offline" },
            "lastSeen": self.last_seen_ms,
            "reportedAt": self.report.timestamp.unix_ms(),
            "intervalSeconds": self.report.agent.interval_seconds,
            "cpuUsage": m.cpu_usage_percent,
        });
        let o = v.as_object_mut().expect("object");
        for (k, s) in [
            ("platform", &h.platform.to_ascii_lowercase()),
            ("osName", &h.os_name),
            ("osVersion", &h.os_version),
            ("kernelVersion", &h.kernel_version),
            ("architecture", &h.architecture),
            ("cpuModel", &h.cpu_model),
            ("agentVersion", &self.agent_version),
        ] {
            if !s.is_empty() {
                o.insert(k.into(), json!(s));
            }
        }
        if h.cpu_count > 0 {
            o.insert("cpuCount".into(), json!(h.cpu_count));
        }
        if h.uptime_seconds > 0 {
            o.insert("uptimeSeconds".into(), json!(h.uptime_seconds));
        }
        if !h.load_average.is_empty() {
            o.insert("loadAverage".into(), json!(h.load_average));
        }
        if let Some(mem) = memory(&m.memory) {
            o.insert("memory".into(), json!(mem));
        }
        if !self.report.disks.is_empty() {
            o.insert("disks".into(), json!(disks(&self.report.disks)));
        }
        if !m.disk_io.is_empty() {
            o.insert("diskIo".into(), json!(m.disk_io));
        }
        if !self.report.network.is_empty() {
            o.insert("networkInterfaces".into(), json!(self.report.network));
        }
        if !self.report.sensors.is_empty() {
            o.insert("sensors".into(), json!(self.report.sensors));
        }
        if !self.report.tags.is_empty() {
            o.insert("tags".into(), json!(self.report.tags));
        }
        if let Some(t) = &self.token {
            o.insert("tokenId".into(), json!(t.id));
            o.insert("tokenName".into(), json!(t.name));
            o.insert("tokenHint".into(), json!(t.hint));
            o.insert("tokenLastUsedAt".into(), json!(t.last_used_ms));
        }
        v
    }
}

/// Host id: sanitised host id, machine id, agent id or hostname, whichever comes first.
pub fn host_id(r: &HostReport) -> String {
    [
        &r.host.id,
        &r.host.machine_id,
        &r.agent.id,
        &r.host.hostname,
    ]
    .into_iter()
    .map(|s| sanitize_id(s))
    .find(|s| !s.is_empty())
    .unwrap_or_else(|| "host".into())
}

impl Agents {
    /// Applies one validated host report at `now_ms`.
    pub fn apply_host(
        &mut self,
        mut r: HostReport,
        token: Option<TokenInfo>,
        now_ms: i64,
    ) -> Result<ReportAnswer, Refusal> {
        if r.timestamp.is_zero() {
            r.timestamp = UtcTime::from_unix_ms(now_ms);
        }
        let id = host_id(&r);
        if let Some(prev) = self.hosts.get(&id) {
            let p = prev.report.timestamp;
            if r.timestamp <= p && p.unix_ms() - r.timestamp.unix_ms() < CLOCK_RESET_MS {
                return Ok(answer(prev));
            }
        }
        let version = normalize_version(&r.agent.version);
        let host = self.hosts.entry(id.clone()).or_insert_with(|| HostAgent {
            id: id.clone(),
            report: HostReport::default(),
            last_seen_ms: now_ms,
            online: true,
            token: None,
            agent_version: String::new(),
        });
        host.report = r;
        host.last_seen_ms = now_ms;
        host.online = true;
        if !version.is_empty() {
            host.agent_version = version;
        }
        if token.is_some() {
            host.token = token;
        }
        let out = answer(host);
        self.touch();
        Ok(out)
    }

    /// `DELETE /api/agents/host/<id>`.
    pub fn remove_host(&mut self, id: &str) -> bool {
        let had = self.hosts.remove(id).is_some();
        if had {
            self.touch();
        }
        had
    }
}

fn answer(h: &HostAgent) -> ReportAnswer {
    ReportAnswer {
        success: true,
        host_id: h.id.clone(),
        containers: None,
        last_seen: Some(UtcTime::from_unix_ms(h.last_seen_ms)),
        commands: Vec::new(),
    }
}
