//! `pulse-host-agent`: Linux host metrics from `/proc` and `/sys` (CPU, load, memory, swap,
//! each filesystem, disk I/O, network, temperatures, uptime, OS, kernel), reported to Pulse
//! on an interval (`POST /api/agents/host/report`). The command line is the one both agents
//! share (`pulse_agent_kit::cli`).

pub mod metrics;

use pulse_agent_kit::cli::Options;
use pulse_agent_kit::sys;
use pulse_wire::agents::host::{HostAgentInfo, HostInfo, HostMetrics, HostReport};

pub struct HostAgent {
    cpu: metrics::CpuSampler,
}

impl HostAgent {
    pub fn new() -> HostAgent {
        HostAgent {
            cpu: metrics::CpuSampler::default(),
        }
    }

    /// One report of this machine.
    pub fn report(&mut self, opts: &Options) -> HostReport {
        let (os_name, os_version) = sys::os_release();
        let hostname = sys::hostname();
        HostReport {
            agent: HostAgentInfo {
                id: sys::agent_id(opts),
                version: env!("CARGO_PKG_VERSION").into(),
                interval_seconds: opts.interval.as_secs() as i64,
                hostname: hostname.clone(),
            },
            host: HostInfo {
                hostname,
                machine_id: sys::machine_id().unwrap_or_default(),
                platform: "linux".into(),
                os_name,
                os_version,
                kernel_version: sys::kernel_version(),
                architecture: std::env::consts::ARCH.into(),
                cpu_model: metrics::cpu_model(),
                cpu_count: metrics::cpu_count(),
                uptime_seconds: sys::uptime_seconds(),
                load_average: sys::load_average(),
                ..HostInfo::default()
            },
            metrics: HostMetrics {
                cpu_usage_percent: self.cpu.usage_percent(),
                memory: sys::memory(),
                disk_io: metrics::disk_io(),
            },
            disks: metrics::filesystems(),
            network: metrics::network(),
            sensors: metrics::sensors(),
            timestamp: sys::now(),
            ..HostReport::default()
        }
    }
}

impl Default for HostAgent {
    fn default() -> Self {
        HostAgent::new()
    }
}

impl pulse_agent_kit::Agent for HostAgent {
    const PATH: &'static str = "/api/agents/host/report";

    fn collect(&mut self, opts: &Options) -> Result<Vec<u8>, String> {
        serde_json::to_vec(&self.report(opts)).map_err(|e| e.to_string())
    }
}

/// The program: `args` without the program name; returns the exit code.
pub fn main_with(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn std::io::Write,
) -> i32 {
    pulse_agent_kit::run("pulse-host-agent", &mut HostAgent::new(), args, env, out)
}
