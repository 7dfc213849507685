//! Demo mode (`PULSE_MOCK_MODE=true`): the project's Proxmox simulator runs in-process on
//! loopback and is monitored exactly like real servers (same clients, scheduler and
//! derivations), so there is no second code path that fills the state.

#[cfg(feature = "demo")]
use super::poll_pve::PveSettings;
use super::runtime::MonitorCore;
#[cfg(feature = "demo")]
use super::task_key::InstanceKind;
use super::task_key::TaskKey;
#[cfg(feature = "demo")]
use crate::proxmox::Product;
#[cfg(feature = "demo")]
use crate::sim::{SimClientConfig, SimClock, SimConfig, SimHandle, Simulator};

/// Estate size, from Pulse's mock environment variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSizes {
    pub nodes: usize,
    pub vms_per_node: usize,
    pub lxcs_per_node: usize,
}

impl Default for DemoSizes {
    /// Pulse's defaults: 7 nodes, 5 VMs and 8 containers each.
    fn default() -> Self {
        DemoSizes {
            nodes: 7,
            vms_per_node: 5,
            lxcs_per_node: 8,
        }
    }
}

impl DemoSizes {
    /// Reads `PULSE_MOCK_NODES`, `PULSE_MOCK_VMS_PER_NODE`, `PULSE_MOCK_LXCS_PER_NODE` through
    /// `lookup` (the environment in production); missing or invalid values keep the default.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> DemoSizes {
        let d = DemoSizes::default();
        let read = |key: &str, default: usize, min: usize| {
            lookup(key)
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|n| *n >= min)
                .map_or(default, |n| n.min(5_000))
        };
        DemoSizes {
            nodes: read("PULSE_MOCK_NODES", d.nodes, 1),
            vms_per_node: read("PULSE_MOCK_VMS_PER_NODE", d.vms_per_node, 0),
            lxcs_per_node: read("PULSE_MOCK_LXCS_PER_NODE", d.lxcs_per_node, 0),
        }
    }
}

/// A running demo: the simulator and the instances it added. Dropping it stops the simulator;
/// call [`Demo::stop`] to also remove its instances from the core.
pub struct Demo {
    #[cfg(feature = "demo")]
    sim: SimHandle,
    #[cfg(feature = "demo")]
    sizes: DemoSizes,
    keys: Vec<TaskKey>,
}

/// Instance names, as the original mock estate calls them.
pub const DEMO_PVE: &str = "mock-cluster";
pub const DEMO_PBS: &str = "pbs-main";
pub const DEMO_PMG: &str = "pmg-main";
/// Guests of the demo estate held at a CPU fraction above the default 80 % trigger: vmid 100
/// (a VM) critical, 102 (a container) and 104 (a VM) warnings.
pub const DEMO_HOT_GUESTS: [(u32, f64); 3] = [(100, 0.93), (102, 0.86), (104, 0.82)];

/// A simulator started off the loop ([`Demo::launch`]), not yet polled.
pub struct Launched {
    #[cfg(feature = "demo")]
    sim: SimHandle,
    sizes: DemoSizes,
}

/// A stopped demo's simulator: dropping it shuts the simulator down and joins its threads,
/// so the loop hands it to a worker.
pub struct Retired {
    #[cfg(feature = "demo")]
    _sim: SimHandle,
}

impl Retired {
    /// Shuts the simulator down; blocks until its threads have ended.
    pub fn shut_down(self) {}
}

impl Demo {
    /// Starts the simulator and adds its instances to `core` in one go (tests; the loop uses
    /// [`Demo::launch`] on a worker, then [`Launched::attach`]).
    pub fn start(
        core: &mut MonitorCore,
        sizes: DemoSizes,
        seed: u64,
        now_ms: i64,
    ) -> Result<Demo, String> {
        Demo::launch(sizes, seed)?.attach(core, now_ms)
    }

    /// Without the `demo` feature there is no simulator to start.
    #[cfg(not(feature = "demo"))]
    pub fn launch(_sizes: DemoSizes, _seed: u64) -> Result<Launched, String> {
        Err("this Pulse was built without the demo cluster (cargo feature `demo`)".into())
    }

    /// Starts the simulator (real clock: values keep moving) on loopback ports. Blocking
    /// (certificates, binds, threads, the estate): runs on a worker.
    #[cfg(feature = "demo")]
    pub fn launch(sizes: DemoSizes, seed: u64) -> Result<Launched, String> {
        let guests = sizes
            .nodes
            .saturating_mul(sizes.vms_per_node + sizes.lxcs_per_node);
        let cfg = SimConfig {
            nodes: sizes.nodes,
            guests,
            seed,
            clock: SimClock::Real,
            ..SimConfig::default()
        };
        let sim = Simulator::start(cfg)?;
        // A few guests run hot so a new user sees real alerts (evaluated like any others):
        // one past the critical margin, two warnings. Missing vmids (tiny estates) are skipped.
        for (vmid, cpu) in DEMO_HOT_GUESTS {
            sim.set_guest_cpu(vmid, Some(cpu));
        }
        Ok(Launched { sim, sizes })
    }

    /// The simulator, e.g. to inject faults from a test or show its URL in the log.
    #[cfg(feature = "demo")]
    pub fn simulator(&self) -> &SimHandle {
        &self.sim
    }

    /// Adds the demo instance `key` to `core` again, with a new client (after its poll
    /// panicked: the client went down with it). False when `key` is not the demo's.
    pub fn rebuild(&self, key: &TaskKey, core: &mut MonitorCore, now_ms: i64) -> bool {
        if !self.keys.contains(key) {
            return false;
        }
        #[cfg(feature = "demo")]
        if let Err(e) = add_instance(&self.sim, self.sizes, key.kind, core, now_ms) {
            crate::log_error!("demo instance not rebuilt", instance = key, error = e);
        }
        #[cfg(not(feature = "demo"))]
        let _ = (core, now_ms);
        true
    }

    /// Removes the demo instances and their data from `core`; the simulator stops when the
    /// returned value is dropped (on a worker: it joins threads).
    pub fn stop(self, core: &mut MonitorCore) -> Retired {
        for key in &self.keys {
            core.remove(key);
        }
        Retired {
            #[cfg(feature = "demo")]
            _sim: self.sim,
        }
    }
}

impl Launched {
    /// Adds one PVE cluster, one PBS and one PMG polling the simulator to `core` (cheap:
    /// clients and schedule entries, on the loop). Building a client for the simulator's own
    /// loopback address does not fail in practice; if it did, the simulator is stopped here.
    #[cfg(feature = "demo")]
    pub fn attach(self, core: &mut MonitorCore, now_ms: i64) -> Result<Demo, String> {
        let mut demo = Demo {
            sim: self.sim,
            sizes: self.sizes,
            keys: Vec::new(),
        };
        for kind in [InstanceKind::Pve, InstanceKind::Pbs, InstanceKind::Pmg] {
            match add_instance(&demo.sim, demo.sizes, kind, core, now_ms) {
                Ok(key) => demo.keys.push(key),
                Err(e) => {
                    // Half-added: take back what was added (the simulator stops when dropped).
                    demo.stop(core).shut_down();
                    return Err(e);
                }
            }
        }
        Ok(demo)
    }

    #[cfg(not(feature = "demo"))]
    pub fn attach(self, _core: &mut MonitorCore, _now_ms: i64) -> Result<Demo, String> {
        Err("this Pulse was built without the demo cluster (cargo feature `demo`)".into())
    }

    pub fn sizes(&self) -> DemoSizes {
        self.sizes
    }
}

/// One demo instance of `kind` polling `sim`.
#[cfg(feature = "demo")]
fn add_instance(
    sim: &SimHandle,
    sizes: DemoSizes,
    kind: InstanceKind,
    core: &mut MonitorCore,
    now_ms: i64,
) -> Result<TaskKey, String> {
    let err = |e: crate::proxmox::ProxmoxError| format!("demo client: {e}");
    match kind {
        InstanceKind::Pve => {
            let settings = PveSettings {
                is_cluster: sizes.nodes > 1,
                cluster_name: if sizes.nodes > 1 {
                    "sim-cluster".to_string()
                } else {
                    String::new()
                },
                ..PveSettings::new(DEMO_PVE, &sim.https_url(Product::Pve))
            };
            core.add_pve(&sim.token_config(Product::Pve), settings, now_ms)
        }
        InstanceKind::Pbs => core.add_pbs(DEMO_PBS, &sim.token_config(Product::Pbs), now_ms),
        InstanceKind::Pmg => core.add_pmg(DEMO_PMG, &sim.token_config(Product::Pmg), now_ms),
    }
    .map_err(err)
}

/// `GET|POST|PUT /api/system/mock-mode` response. Pulse's `MockConfig` has no JSON tags, so
/// the `config` keys are Go field names (PascalCase with `VMs`/`LXCs`).
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct MockModeResponse {
    pub enabled: bool,
    pub config: MockConfigJson,
}

#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct MockConfigJson {
    #[serde(rename = "NodeCount")]
    pub node_count: usize,
    #[serde(rename = "VMsPerNode")]
    pub vms_per_node: usize,
    #[serde(rename = "LXCsPerNode")]
    pub lxcs_per_node: usize,
    #[serde(rename = "DockerHostCount")]
    pub docker_host_count: usize,
    #[serde(rename = "DockerContainersPerHost")]
    pub docker_containers_per_host: usize,
    #[serde(rename = "GenericHostCount")]
    pub generic_host_count: usize,
    #[serde(rename = "RandomMetrics")]
    pub random_metrics: bool,
    #[serde(rename = "HighLoadNodes")]
    pub high_load_nodes: Option<Vec<String>>,
    #[serde(rename = "StoppedPercent")]
    pub stopped_percent: f64,
}

impl MockModeResponse {
    /// The document for the current sizes. Docker and host-agent counts are 0 (the simulator
    /// models Proxmox only); `StoppedPercent` is Pulse's default (the simulator fixes its own
    /// share of stopped guests).
    pub fn new(enabled: bool, sizes: DemoSizes) -> MockModeResponse {
        MockModeResponse {
            enabled,
            config: MockConfigJson {
                node_count: sizes.nodes,
                vms_per_node: sizes.vms_per_node,
                lxcs_per_node: sizes.lxcs_per_node,
                docker_host_count: 0,
                docker_containers_per_host: 0,
                generic_host_count: 0,
                random_metrics: true,
                high_load_nodes: None,
                stopped_percent: 0.2,
            },
        }
    }
}

/// `POST|PUT /api/system/mock-mode` body.
#[derive(Debug, Clone, Default, serde::Deserialize, PartialEq)]
pub struct MockModeRequest {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub config: Option<MockConfigRequest>,
}

#[derive(Debug, Clone, Default, serde::Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MockConfigRequest {
    pub node_count: Option<i64>,
    pub vms_per_node: Option<i64>,
    pub lxcs_per_node: Option<i64>,
    pub random_metrics: Option<bool>,
    pub high_load_nodes: Option<Vec<String>>,
    pub stopped_percent: Option<f64>,
}

impl MockConfigRequest {
    /// New sizes from `current` and this request, or the plain-text 400 message Pulse sends.
    pub fn apply(&self, current: DemoSizes) -> Result<DemoSizes, String> {
        let count = |v: Option<i64>, min: i64, what: &str, cur: usize| match v {
            None => Ok(cur),
            Some(n) if n >= min && n <= 5_000 => Ok(n as usize),
            Some(_) => Err(format!("{what} must be between {min} and 5000")),
        };
        if let Some(p) = self.stopped_percent {
            if !(0.0..=1.0).contains(&p) {
                return Err("stoppedPercent must be between 0 and 1".to_string());
            }
        }
        Ok(DemoSizes {
            nodes: count(self.node_count, 1, "nodeCount", current.nodes)?,
            vms_per_node: count(self.vms_per_node, 0, "vmsPerNode", current.vms_per_node)?,
            lxcs_per_node: count(self.lxcs_per_node, 0, "lxcsPerNode", current.lxcs_per_node)?,
        })
    }
}
