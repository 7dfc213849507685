//! Docker hosts: applying a report (identity, duplicates, re-enrolment block), the stop
//! command queue, removal, and the `dockerHosts` entry the UI reads.

use super::issues::{self, Tracker};
use super::{normalize_version, sanitize_id, Agents, Refusal, Removed, TokenInfo};
use super::{CLOCK_RESET_MS, REMOVAL_BLOCK_MS};
use pulse_wire::agents::docker::{Container, DockerReport};
use pulse_wire::agents::{AgentCommand, CommandAck, ReportAnswer};
use pulse_wire::time::UtcTime;
use serde::Serialize;
use serde_json::{json, Value};

/// A queued command lives this long without an acknowledgement.
pub const COMMAND_TTL_MS: i64 = 600_000;

#[derive(Debug, Clone)]
pub struct DockerHost {
    pub id: String,
    pub report: DockerReport,
    /// Pulse's clock, Unix ms.
    pub last_seen_ms: i64,
    pub online: bool,
    pub token: Option<TokenInfo>,
    pub agent_version: String,
    pub pending_uninstall: bool,
    pub command: Option<Command>,
    pub tracker: Tracker,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Command {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `queued`, `dispatched`, `acknowledged`, `completed`, `failed`, `expired`.
    pub status: &'static str,
    pub message: String,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatched_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub expires_at: i64,
}

impl Command {
    /// Expires an unacknowledged command; true when this call did it.
    pub fn expire(&self, now_ms: i64) -> bool {
        matches!(self.status, "queued" | "dispatched") && now_ms > self.expires_at
    }
}

pub fn health_key(id: &str) -> String {
    format!("docker-{id}")
}

/// What `DELETE /api/agents/docker/hosts/<id>` did.
pub enum Removal {
    /// The host is online: a stop command waits for its next report.
    Queued(Value),
    Removed,
    AlreadyRemoved,
}

impl DockerHost {
    pub fn display_name(&self) -> &str {
        if self.report.host.name.is_empty() {
            &self.report.host.hostname
        } else {
            &self.report.host.name
        }
    }

    /// The `dockerHosts` entry.
    pub fn frontend(&self) -> Value {
        let h = &self.report.host;
        let runtime = match h.runtime.to_ascii_lowercase().as_str() {
            "podman" => "podman",
            _ => "docker",
        };
        let mut v = json!({
            "id": self.id,
            "agentId": self.report.agent.id,
            "hostname": h.hostname,
            "displayName": self.display_name(),
            "runtime": runtime,
            "cpus": h.total_cpu,
            "totalMemoryBytes": h.total_memory_bytes,
            "uptimeSeconds": h.uptime_seconds,
            "cpuUsagePercent": h.cpu_usage_percent,
            "status": if self.online { "online" } else { "offline" },
            "lastSeen": self.last_seen_ms,
            "reportedAt": self.report.timestamp.unix_ms(),
            "intervalSeconds": self.report.agent.interval_seconds,
            "containers": self.report.containers.iter().map(container_frontend).collect::<Vec<_>>(),
            "issues": issues::derive(&self.report, &self.tracker),
            "recentExitCodes": self.tracker.exits,
            "pendingUninstall": self.pending_uninstall,
        });
        let o = v.as_object_mut().expect("object");
        for (k, s) in [
            ("machineId", &h.machine_id),
            ("os", &h.os),
            ("kernelVersion", &h.kernel_version),
            ("architecture", &h.architecture),
            ("agentVersion", &self.agent_version),
        ] {
            if !s.is_empty() {
                o.insert(k.into(), json!(s));
            }
        }
        let runtime_version = first(&h.runtime_version, &h.docker_version);
        let docker_version = first(&h.docker_version, &h.runtime_version);
        if !runtime_version.is_empty() {
            o.insert("runtimeVersion".into(), json!(runtime_version));
            o.insert("dockerVersion".into(), json!(docker_version));
        }
        if !h.load_average.is_empty() {
            o.insert("loadAverage".into(), json!(h.load_average));
        }
        if let Some(m) = super::host::memory(&h.memory) {
            o.insert("memory".into(), json!(m));
        }
        if !h.disks.is_empty() {
            o.insert("disks".into(), json!(super::host::disks(&h.disks)));
        }
        if !h.network.is_empty() {
            o.insert("networkInterfaces".into(), json!(h.network));
        }
        if !self.report.services.is_empty() {
            o.insert("services".into(), times_to_ms(json!(self.report.services)));
        }
        if !self.report.tasks.is_empty() {
            o.insert("tasks".into(), times_to_ms(json!(self.report.tasks)));
        }
        if let Some(s) = &h.swarm {
            o.insert("swarm".into(), json!(s));
        }
        if let Some(t) = &self.token {
            o.insert("tokenId".into(), json!(t.id));
            o.insert("tokenName".into(), json!(t.name));
            o.insert("tokenHint".into(), json!(t.hint));
            o.insert("tokenLastUsedAt".into(), json!(t.last_used_ms));
        }
        if let Some(c) = &self.command {
            o.insert("command".into(), json!(c));
        }
        v
    }
}

fn first<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() {
        b
    } else {
        a
    }
}

/// RFC 3339 strings under the `*At` keys become Unix ms, as the UI expects of every time.
fn times_to_ms(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k.ends_with("At") {
                        if let Some(t) = x.as_str().and_then(UtcTime::parse) {
                            *x = json!(t.unix_ms());
                            continue;
                        }
                    }
                    walk(x);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

fn container_frontend(c: &Container) -> Value {
    let mut v = times_to_ms(json!(c));
    if let Some(o) = v.as_object_mut() {
        o.insert("name".into(), json!(c.name.trim_start_matches('/')));
        if c.created_at.is_zero() {
            o.insert("createdAt".into(), json!(0));
        }
        for k in ["startedAt", "finishedAt"] {
            if o.get(k)
                .is_some_and(|t| t.as_i64().is_some_and(|ms| ms < 0))
            {
                o.remove(k);
            }
        }
    }
    v
}

impl Agents {
    /// Applies one validated Docker report at `now_ms`.
    pub fn apply_docker(
        &mut self,
        mut r: DockerReport,
        token: Option<TokenInfo>,
        now_ms: i64,
    ) -> Result<ReportAnswer, Refusal> {
        if r.timestamp.is_zero() {
            r.timestamp = UtcTime::from_unix_ms(now_ms);
        }
        let existing = self.find_docker(&r);
        let id = match &existing {
            Some(id) => id.clone(),
            None => self.new_docker_id(&r),
        };
        if let Some(rm) = self.removed.get(&id) {
            if now_ms - rm.removed_at < REMOVAL_BLOCK_MS {
                return Err(Refusal::invalid(format!(
                    "docker host {id:?} was removed at {} and cannot report again",
                    UtcTime::from_unix_ms(rm.removed_at).to_rfc3339()
                )));
            }
            self.removed.remove(&id);
        }
        let mut commands = Vec::new();
        if let Some(host) = self.docker.get_mut(&id) {
            let prev = host.report.timestamp;
            let older = r.timestamp <= prev;
            if older && prev.unix_ms() - r.timestamp.unix_ms() < CLOCK_RESET_MS {
                // The same heartbeat again (a retry, or a fan-out echo): nothing new.
                return Ok(answer(host, commands));
            }
        }
        let agent_version = normalize_version(&r.agent.version);
        let host = self.docker.entry(id.clone()).or_insert_with(|| DockerHost {
            id: id.clone(),
            report: DockerReport::default(),
            last_seen_ms: now_ms,
            online: true,
            token: None,
            agent_version: String::new(),
            pending_uninstall: false,
            command: None,
            tracker: Tracker::default(),
        });
        host.tracker.observe(&r, now_ms);
        host.report = r;
        host.last_seen_ms = now_ms;
        host.online = true;
        if !agent_version.is_empty() {
            host.agent_version = agent_version;
        }
        if token.is_some() {
            host.token = token;
        }
        if let Some(c) = host.command.as_mut() {
            if c.expire(now_ms) {
                host.command = None;
                host.pending_uninstall = false;
            } else if matches!(c.status, "queued" | "dispatched") {
                c.status = "dispatched";
                c.dispatched_at = Some(now_ms);
                c.updated_at = now_ms;
                commands.push(AgentCommand {
                    id: c.id.clone(),
                    kind: c.kind.to_string(),
                });
            }
        } else {
            host.pending_uninstall = false;
        }
        let out = answer(host, commands);
        self.touch();
        Ok(out)
    }

    fn find_docker(&self, r: &DockerReport) -> Option<String> {
        let hosts = || self.docker.values();
        let agent = &r.agent.id;
        let (machine, hostname) = (&r.host.machine_id, &r.host.hostname);
        if !agent.is_empty() {
            if let Some(h) = hosts().find(|h| &h.report.agent.id == agent) {
                return Some(h.id.clone());
            }
        }
        if !machine.is_empty() {
            if let Some(h) = hosts().find(|h| {
                &h.report.host.machine_id == machine && &h.report.host.hostname == hostname
            }) {
                return Some(h.id.clone());
            }
        }
        hosts()
            .find(|h| h.report.agent.id.is_empty() && &h.report.host.hostname == hostname)
            .map(|h| h.id.clone())
    }

    fn new_docker_id(&self, r: &DockerReport) -> String {
        let mut base = sanitize_id(r.agent_key());
        if base.is_empty() {
            base = "docker-host".into();
        }
        let mut id = base.clone();
        let mut n = 2;
        while self.docker.contains_key(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        id
    }

    /// `DELETE /api/agents/docker/hosts/<id>`: an online host gets a stop command first
    /// (unless `force`); otherwise it is removed and blocked from re-enrolling for a day.
    pub fn remove_docker(
        &mut self,
        id: &str,
        force: bool,
        now_ms: i64,
    ) -> Result<Removal, Refusal> {
        let Some(host) = self.docker.get_mut(id) else {
            if force {
                return Ok(Removal::AlreadyRemoved);
            }
            return Err(Refusal::not_found(format!("docker host {id:?} not found")));
        };
        if host.online && !force {
            self.next_command += 1;
            let cmd = Command {
                id: format!("cmd-{now_ms:x}-{}", self.next_command),
                kind: "stop",
                status: "queued",
                message: "Stopping agent".into(),
                created_at: now_ms,
                updated_at: now_ms,
                dispatched_at: None,
                acknowledged_at: None,
                completed_at: None,
                failed_at: None,
                failure_reason: None,
                expires_at: now_ms + COMMAND_TTL_MS,
            };
            let v = json!(cmd);
            host.command = Some(cmd);
            host.pending_uninstall = true;
            self.touch();
            return Ok(Removal::Queued(v));
        }
        self.forget_docker(id, now_ms);
        Ok(Removal::Removed)
    }

    fn forget_docker(&mut self, id: &str, now_ms: i64) {
        if let Some(h) = self.docker.remove(id) {
            self.removed.insert(
                id.to_string(),
                Removed {
                    id: id.to_string(),
                    hostname: h.report.host.hostname.clone(),
                    display_name: h.display_name().to_string(),
                    removed_at: now_ms,
                },
            );
            self.touch();
        }
    }

    /// `POST /api/agents/docker/hosts/<id>/allow-reenroll`.
    pub fn allow_reenroll(&mut self, id: &str) -> bool {
        let had = self.removed.remove(id).is_some();
        if had {
            self.touch();
        }
        had
    }

    /// `POST /api/agents/docker/commands/<id>/ack`. A completed stop removes the host (and
    /// lets it enrol again at once: it stopped on request); a failed one clears the flag.
    pub fn ack_command(
        &mut self,
        command_id: &str,
        ack: &CommandAck,
        now_ms: i64,
    ) -> Result<Value, Refusal> {
        let status = match ack.status.to_ascii_lowercase().as_str() {
            "" | "ack" | "acknowledged" => "acknowledged",
            "success" | "completed" | "complete" => "completed",
            "fail" | "failed" | "error" => "failed",
            other => {
                return Err(Refusal {
                    status: 400,
                    code: "invalid_status",
                    message: format!("unknown status {other:?}"),
                })
            }
        };
        let host = self
            .docker
            .values_mut()
            .find(|h| h.command.as_ref().is_some_and(|c| c.id == command_id))
            .filter(|h| ack.host_id.is_empty() || h.id == ack.host_id)
            .ok_or_else(|| Refusal::not_found(format!("command {command_id:?} not found")))?;
        let host_id = host.id.clone();
        let c = host.command.as_mut().expect("found by command");
        c.status = status;
        c.updated_at = now_ms;
        if !ack.message.is_empty() {
            c.message = ack.message.clone();
        }
        match status {
            "acknowledged" => c.acknowledged_at = Some(now_ms),
            "completed" => c.completed_at = Some(now_ms),
            _ => {
                c.failed_at = Some(now_ms);
                c.failure_reason = Some(ack.message.clone());
            }
        }
        let view = json!({"success": true, "hostId": host_id, "command": c});
        match status {
            "completed" => {
                self.forget_docker(&host_id, now_ms);
                self.removed.remove(&host_id);
            }
            "failed" => host.pending_uninstall = false,
            _ => {}
        }
        self.touch();
        Ok(view)
    }
}

fn answer(host: &DockerHost, commands: Vec<AgentCommand>) -> ReportAnswer {
    ReportAnswer {
        success: true,
        host_id: host.id.clone(),
        containers: Some(host.report.containers.len()),
        last_seen: Some(UtcTime::from_unix_ms(host.last_seen_ms)),
        commands,
    }
}
