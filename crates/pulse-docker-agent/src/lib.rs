//! `pulse-docker-agent`: containers (state, restarts, exit codes, OOM, health, CPU, memory,
//! block I/O, ports, networks, mounts), images and Swarm services/tasks from the Docker or
//! Podman Engine API on its unix socket, reported to Pulse on an interval
//! (`POST /api/agents/docker/report`). Answers a `stop` command from Pulse by acknowledging
//! it and exiting 0. The command line is the one both agents share.

pub mod collect;
pub mod engine;

use pulse_agent_kit::cli::Options;
use pulse_agent_kit::send::Sender;
use pulse_wire::agents::{AgentCommand, CommandAck};

pub struct DockerAgent {
    cpu: collect::CpuHistory,
}

impl DockerAgent {
    pub fn new() -> DockerAgent {
        DockerAgent {
            cpu: collect::CpuHistory::default(),
        }
    }
}

impl Default for DockerAgent {
    fn default() -> Self {
        DockerAgent::new()
    }
}

impl pulse_agent_kit::Agent for DockerAgent {
    const PATH: &'static str = "/api/agents/docker/report";

    fn collect(&mut self, opts: &Options) -> Result<Vec<u8>, String> {
        let engine = engine::Engine::new(opts.docker_socket.as_deref())?;
        let report = collect::report(&engine, opts, &mut self.cpu)?;
        serde_json::to_vec(&report).map_err(|e| e.to_string())
    }

    fn command(&mut self, sender: &Sender, base: &str, host_id: &str, cmd: &AgentCommand) -> bool {
        if cmd.kind != "stop" {
            return false;
        }
        let ack = CommandAck {
            host_id: host_id.to_string(),
            status: "completed".into(),
            message: "agent stopped".into(),
        };
        let body = serde_json::to_vec(&ack).unwrap_or_default();
        let path = format!("/api/agents/docker/commands/{}/ack", cmd.id);
        if let Err(e) = sender.post(base, &path, &body) {
            eprintln!("pulse-docker-agent: acknowledging stop failed: {e}");
        }
        true
    }
}

/// The program: `args` without the program name; returns the exit code.
pub fn main_with(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn std::io::Write,
) -> i32 {
    pulse_agent_kit::run(
        "pulse-docker-agent",
        &mut DockerAgent::new(),
        args,
        env,
        out,
    )
}
