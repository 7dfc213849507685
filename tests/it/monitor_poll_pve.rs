//! The PVE poll executor end to end, answering every call from real captured responses:
//! which calls it makes, what it derives, how it degrades, and what `/api/state` then shows.

use pulse::monitor::poll_pve::{poll_pve, PveApi, PvePollContext, PveSettings};
use pulse::monitor::ErrorClass;
use pulse::proxmox::pve_types::{
    AgentFsInfoList, AgentInfo, AgentInterfaces, AgentOsInfo, CephDf, CephStatus, ClusterResource,
    GuestListEntry, GuestRrdPoint, LxcConfig, LxcInterface, LxcStatus, NodeListEntry, NodeRrdPoint,
    NodeStatus, NodeStorage, PhysicalDisk, QemuStatus, Snapshot, StorageConfig, StorageContent,
    Task,
};
use pulse::proxmox::ProxmoxError;
use pulse::state::LiveState;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const T0: i64 = 1_700_000_000_000;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../shared/fixtures/proxmox/pve/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    v["data"].clone()
}

fn decode<T: DeserializeOwned>(v: Value) -> Result<T, ProxmoxError> {
    serde_json::from_value(v).map_err(|e| ProxmoxError::Decode {
        path: "fixture".into(),
        msg: e.to_string(),
    })
}

/// Answers from fixtures; counts calls; can be told to fail an endpoint.
struct FixtureApi {
    nodes: Value,
    resources: Value,
    net_bump: u64,
    fail: Vec<&'static str>,
    calls: BTreeMap<&'static str, usize>,
}

impl FixtureApi {
    fn new() -> FixtureApi {
        let nodes = json!([
            {"node": "node1", "status": "online", "cpu": 0.5, "maxcpu": 12, "mem": 1, "maxmem": 65_919_459_328u64,
             "disk": 1, "maxdisk": 2, "uptime": 100},
            {"node": "node2", "status": "online", "cpu": 0.25, "maxcpu": 4, "mem": 1, "maxmem": 16_535_748_608u64,
             "disk": 1, "maxdisk": 2, "uptime": 100}
        ]);
        let mut resources = fixture("cluster_resources.json");
        if let Some(rows) = resources.as_array_mut() {
            rows.retain(|r| r["type"] == "qemu");
            rows.push(json!({"id": "lxc/300", "type": "lxc", "node": "node1", "vmid": 300, "name": "ct", "status": "running",
                             "maxmem": 1_073_741_824u64, "mem": 900_000_000u64, "maxdisk": 8_000_000_000u64,
                             "disk": 2_000_000_000u64, "maxcpu": 2, "cpu": 0.1, "uptime": 99, "template": 0,
                             "netin": 1_000, "netout": 0, "diskread": 0, "diskwrite": 0}));
        }
        FixtureApi {
            nodes,
            resources,
            net_bump: 0,
            fail: Vec::new(),
            calls: BTreeMap::new(),
        }
    }

    fn hit(&mut self, name: &'static str) -> Result<(), ProxmoxError> {
        *self.calls.entry(name).or_default() += 1;
        if self.fail.contains(&name) {
            return Err(ProxmoxError::Connect(format!("{name}: connection refused")));
        }
        Ok(())
    }

    fn count(&self, name: &str) -> usize {
        self.calls.get(name).copied().unwrap_or(0)
    }
}

impl PveApi for FixtureApi {
    fn nodes(&mut self) -> Result<Vec<NodeListEntry>, ProxmoxError> {
        self.hit("nodes")?;
        decode(self.nodes.clone())
    }
    fn node_status(&mut self, node: &str) -> Result<NodeStatus, ProxmoxError> {
        self.hit("node_status")?;
        let mut v = fixture("nodes_node_status.json");
        if node == "node2" {
            // PVE 8.4: no `available`; the RRD has `memavailable`.
            v["memory"] = json!({"total": 16_535_748_608u64, "used": 15_000_000_000u64, "free": 1_535_748_608u64});
        }
        decode(v)
    }
    fn node_rrd_memory(&mut self, node: &str) -> Result<Vec<NodeRrdPoint>, ProxmoxError> {
        self.hit("node_rrd_memory")?;
        if node == "node1" {
            return Ok(Vec::new()); // PVE 7: no memavailable series
        }
        decode(fixture("nodes_node_rrddata.json"))
    }
    fn cluster_resources_vms(&mut self) -> Result<Vec<ClusterResource>, ProxmoxError> {
        self.hit("cluster_resources_vms")?;
        let mut rows: Vec<ClusterResource> = decode(self.resources.clone())?;
        for r in &mut rows {
            r.netin = r.netin.map(|n| n + self.net_bump);
        }
        Ok(rows)
    }
    fn qemu_status(&mut self, _node: &str, _vmid: u32) -> Result<QemuStatus, ProxmoxError> {
        self.hit("qemu_status")?;
        let mut v = fixture("nodes_node_qemu_vmid_status_current.json");
        v["netin"] = json!(547_369_168u64 + self.net_bump);
        decode(v)
    }
    fn agent_network_interfaces(
        &mut self,
        _node: &str,
        _vmid: u32,
    ) -> Result<AgentInterfaces, ProxmoxError> {
        self.hit("agent_network_interfaces")?;
        decode(fixture(
            "nodes_node_qemu_vmid_agent_network-get-interfaces.json",
        ))
    }
    fn agent_osinfo(&mut self, _node: &str, _vmid: u32) -> Result<AgentOsInfo, ProxmoxError> {
        self.hit("agent_osinfo")?;
        decode(
            json!({"name": "Ubuntu", "pretty-name": "Ubuntu 24.04 LTS", "version": "24.04 LTS (Noble Numbat)"}),
        )
    }
    fn agent_info(&mut self, _node: &str, _vmid: u32) -> Result<AgentInfo, ProxmoxError> {
        self.hit("agent_info")?;
        decode(json!({"version": "8.2.2"}))
    }
    fn agent_fsinfo(&mut self, _node: &str, _vmid: u32) -> Result<AgentFsInfoList, ProxmoxError> {
        self.hit("agent_fsinfo")?;
        decode(fixture("nodes_node_qemu_vmid_agent_get-fsinfo.json"))
    }
    fn lxc_rrd_memory(
        &mut self,
        _node: &str,
        _vmid: u32,
    ) -> Result<Vec<GuestRrdPoint>, ProxmoxError> {
        self.hit("lxc_rrd_memory")?;
        decode(
            json!([{"time": 1, "memavailable": 773_741_824.0, "maxmem": 1_073_741_824.0}, {"time": 2}]),
        )
    }
    fn qemu_list(&mut self, _node: &str) -> Result<Vec<GuestListEntry>, ProxmoxError> {
        self.hit("qemu_list")?;
        decode(fixture("nodes_node_qemu.json"))
    }
    fn lxc_list(&mut self, _node: &str) -> Result<Vec<GuestListEntry>, ProxmoxError> {
        self.hit("lxc_list")?;
        decode(fixture("nodes_node_lxc.json"))
    }
    fn storage_config(&mut self) -> Result<Vec<StorageConfig>, ProxmoxError> {
        self.hit("storage_config")?;
        decode(json!([
            {"storage": "local", "type": "dir"},
            {"storage": "synology", "type": "nfs", "shared": 1},
            {"storage": "vm_nvme", "type": "rbd", "shared": 1, "nodes": "node9"}
        ]))
    }
    fn node_storage(&mut self, _node: &str) -> Result<Vec<NodeStorage>, ProxmoxError> {
        self.hit("node_storage")?;
        decode(fixture("nodes_node_storage.json"))
    }
    fn lxc_status(&mut self, _node: &str, _vmid: u32) -> Result<LxcStatus, ProxmoxError> {
        self.hit("lxc_status")?;
        decode(fixture("nodes_node_lxc_vmid_status_current.json"))
    }
    fn lxc_config(&mut self, _node: &str, _vmid: u32) -> Result<LxcConfig, ProxmoxError> {
        self.hit("lxc_config")?;
        decode(json!({"net0": "name=eth0,bridge=vmbr0,hwaddr=bc:24:11:aa:bb:cc,ip=dhcp,type=veth"}))
    }
    fn lxc_interfaces(
        &mut self,
        _node: &str,
        _vmid: u32,
    ) -> Result<Vec<LxcInterface>, ProxmoxError> {
        self.hit("lxc_interfaces")?;
        decode(
            json!([{"name": "lo", "inet": "127.0.0.1/8"}, {"name": "eth0", "hwaddr": "bc:24:11:aa:bb:cc", "inet": "192.168.7.20/24"}]),
        )
    }
    fn node_tasks(&mut self, _node: &str) -> Result<Vec<Task>, ProxmoxError> {
        self.hit("node_tasks")?;
        let mut tasks = fixture("nodes_node_tasks.json");
        tasks[0]["type"] = json!("vzdump");
        tasks[0]["id"] = json!("100");
        decode(tasks)
    }
    fn storage_content(
        &mut self,
        _node: &str,
        _storage: &str,
    ) -> Result<Vec<StorageContent>, ProxmoxError> {
        self.hit("storage_content")?;
        decode(fixture("nodes_node_storage_storage_content.json"))
    }
    fn qemu_snapshots(&mut self, _node: &str, _vmid: u32) -> Result<Vec<Snapshot>, ProxmoxError> {
        self.hit("qemu_snapshots")?;
        decode(
            json!([{"name": "before-upgrade", "snaptime": 1_699_000_000, "description": "pre 8.1", "vmstate": 1},
                      {"name": "current", "description": "You are here!", "parent": "before-upgrade"}]),
        )
    }
    fn lxc_snapshots(&mut self, _node: &str, _vmid: u32) -> Result<Vec<Snapshot>, ProxmoxError> {
        self.hit("lxc_snapshots")?;
        decode(json!([{"name": "current"}]))
    }
    fn cluster_replication(&mut self) -> Result<Vec<Value>, ProxmoxError> {
        self.hit("cluster_replication")?;
        Ok(vec![
            json!({"id": "300-0", "guest": 300, "source": "node1", "target": "node2", "schedule": "*/15",
                       "type": "local", "last_sync": 1_699_999_000, "duration": 12.5, "fail_count": 0}),
        ])
    }
    fn disks(&mut self, _node: &str) -> Result<Vec<PhysicalDisk>, ProxmoxError> {
        self.hit("disks")?;
        decode(fixture("nodes_node_disks_list.json"))
    }
    fn ceph_status(&mut self) -> Result<CephStatus, ProxmoxError> {
        self.hit("ceph_status")?;
        decode(fixture("cluster_ceph_status.json"))
    }
    fn ceph_df(&mut self) -> Result<CephDf, ProxmoxError> {
        self.hit("ceph_df")?;
        Err(ProxmoxError::Http {
            status: 501,
            excerpt: "not implemented".into(),
        })
    }
    fn endpoint_health(&self) -> (usize, usize) {
        (1, 1)
    }
}

fn state_json(state: &LiveState) -> Value {
    serde_json::from_slice(&state.to_frontend_json()).unwrap_or(Value::Null)
}

fn find<'a>(v: &'a Value, key: &str, id: &str) -> &'a Value {
    v[key]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id))
        .unwrap_or(&Value::Null)
}

#[test]
fn full_poll_derives_true_numbers_and_fills_state() {
    let mut api = FixtureApi::new();
    let mut settings = PveSettings::new("lab", "https://pve.lab:8006");
    settings
        .node_hosts
        .insert("node2".into(), "https://10.0.0.2:8006".into());
    let mut ctx = PvePollContext::new(settings, 7);
    let snap = poll_pve(&mut api, &mut ctx, T0).expect("poll succeeds");
    let mut state = LiveState::new();
    state.replace_pve_instance("lab", snap, T0);
    let v = state_json(&state);

    // Nodes: PVE 7 (no better figure than `used`), PVE 8.4 (RRD memavailable).
    let n1 = find(&v, "nodes", "lab-node1");
    assert_eq!(n1["memory"]["used"], 8_095_399_936u64);
    assert_eq!(
        n1["displayName"], "lab",
        "standalone instance: its configured name"
    );
    assert_eq!(n1["host"], "https://pve.lab:8006");
    let n2 = find(&v, "nodes", "lab-node2");
    assert_eq!(
        n2["host"], "https://10.0.0.2:8006",
        "cluster member links to itself"
    );
    assert_eq!(n2["memory"]["used"], 16_535_748_608u64 - 9_764_272_810);
    assert_eq!(n2["cpu"], 0.25);
    assert_eq!(api.count("node_rrd_memory"), 2);

    // Guests: template 101 skipped; running VM with agent; stopped VMs; container from RRD.
    let vm_ids: Vec<&str> = v["vms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert_eq!(vm_ids, ["lab-node2-100", "lab-node1-102", "lab-node1-200"]);
    let vm = find(&v, "vms", "lab-node2-100");
    assert_eq!(vm["memory"]["used"], 2_097_152_000u64 - 887_222_272);
    assert_eq!(
        vm["disk"]["total"], 1_916_223_488u64,
        "guest-agent filesystems, squashfs skipped"
    );
    assert_eq!(vm["disks"].as_array().map(Vec::len), Some(1));
    assert_eq!(vm["osName"], "Ubuntu");
    assert_eq!(vm["osVersion"], "24.04 LTS (Noble Numbat)");
    assert_eq!(vm["agentVersion"], "8.2.2");
    assert_eq!(
        vm["ipAddresses"],
        json!([
            "10.1.2.3",
            "10.10.2.3",
            "fd8c:4687:e88d:1be3:5b70:7b88:c79c:293"
        ])
    );
    let ifaces: Vec<&str> = vm["networkInterfaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert_eq!(ifaces, ["docker0", "eth0"], "lo dropped, sorted by name");
    assert_eq!(vm["networkIn"], 0, "first sample has no rate yet");
    let stopped = find(&v, "vms", "lab-node1-102");
    assert_eq!(
        (stopped["cpu"].as_f64(), stopped["disk"]["usage"].as_f64()),
        (Some(0.0), Some(-1.0))
    );
    let ct = find(&v, "containers", "lab-node1-300");
    assert_eq!(
        ct["memory"]["used"], 900_000_000,
        "the live row's cgroup figure (page cache already excluded); no guest RRD asked"
    );
    assert_eq!(api.count("lxc_rrd_memory"), 0);
    assert_eq!(
        ct["ipAddresses"],
        json!(["192.168.7.20"]),
        "config says dhcp: address from /interfaces"
    );
    assert_eq!(ct["networkInterfaces"][0]["mac"], "BC:24:11:AA:BB:CC");
    assert_eq!(
        api.count("qemu_status"),
        1,
        "only running VMs are asked for status"
    );

    // Storage: shared NFS once for the cluster, local per node.
    let st: Vec<&str> = v["storage"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert_eq!(
        st,
        ["lab-node1-local", "lab-node2-local", "lab-node1-synology"]
    );
    assert_eq!(find(&v, "storage", "lab-node1-synology")["nodeCount"], 2);
    assert_eq!(v["connectionHealth"], json!({"lab": true}));

    // Replication, joined with the container it replicates.
    let job = &v["replicationJobs"][0];
    assert_eq!(
        (
            job["id"].as_str(),
            job["guestName"].as_str(),
            job["guestType"].as_str()
        ),
        (Some("lab-300-0"), Some("ct"), Some("lxc"))
    );
    assert_eq!(
        (job["lastSyncTime"].as_i64(), job["durationHuman"].as_str()),
        (Some(1_699_999_000_000), Some("00:00:12"))
    );

    // Ceph (an rbd storage is configured): totals from pgmap since df is unavailable.
    let ceph = &v["cephClusters"][0];
    assert_eq!(ceph["id"], "lab-d11c6ea1-7ab2-41fa-99c5-b85f4d7ffd49");
    assert_eq!(ceph["health"], "HEALTH_WARN");
    assert_eq!(
        ceph["healthMessage"],
        "OSD_NEARFULL: 3 nearfull osd(s); POOL_NEARFULL: 4 pool(s) nearfull"
    );
    assert_eq!(
        (
            ceph["totalBytes"].as_i64(),
            ceph["numOsds"].as_i64(),
            ceph["numPGs"].as_i64()
        ),
        (Some(51_850_204_151_808), Some(21), Some(577))
    );
    assert!(
        ceph["numMons"].as_i64().unwrap_or(0) > 0,
        "monitors counted from the quorum"
    );
    // The first poll is the live part and the details only: disks and backups wait a cycle
    // so a new instance is on screen as fast as possible.
    assert_eq!(api.count("disks"), 0);
    assert_eq!(api.count("node_tasks"), 0);
    let snaps: Vec<&str> = v["backups"]["pve"]["guestSnapshots"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert_eq!(
        snaps.len(),
        3,
        "snapshots are a per-guest detail, read in the first cycle here: {snaps:?}"
    );
    assert!(snaps.contains(&"lab-node2-100-before-upgrade"));

    // Second poll 10 s later: counters moved → rates; details are fresh, not asked again.
    api.net_bump = 100_000;
    let snap = poll_pve(&mut api, &mut ctx, T0 + 10_000).expect("second poll");
    state.replace_pve_instance("lab", snap, T0 + 10_000);
    let v = state_json(&state);
    assert_eq!(find(&v, "vms", "lab-node2-100")["networkIn"], 10_000);
    assert_eq!(find(&v, "containers", "lab-node1-300")["networkIn"], 10_000);
    assert_eq!(
        api.count("agent_osinfo"),
        1,
        "details are held between refreshes"
    );
    assert_eq!(api.count("agent_fsinfo"), 1);
    assert_eq!(api.count("qemu_status"), 1);
    assert_eq!(
        find(&v, "vms", "lab-node2-100")["disk"]["total"],
        1_916_223_488u64,
        "held filesystems still shown"
    );
    assert_eq!(api.count("node_rrd_memory"), 2, "node RRD cached for 30 s");

    // Physical disks: per node, wear N/A → −1, ids from the device path.
    let disk = find(&v, "physicalDisks", "lab-node1--dev-sda");
    assert_eq!(
        (disk["wearout"].as_i64(), disk["health"].as_str()),
        (Some(-1), Some("OK"))
    );
    assert_eq!(api.count("disks"), 2);

    // Backups (the second poll is the first backup cycle).
    let b = &v["backups"]["pve"];
    assert_eq!(b, &v["pveBackups"]);
    let task = &b["backupTasks"][0];
    assert_eq!(
        (
            task["type"].as_str(),
            task["vmid"].as_i64(),
            task["status"].as_str()
        ),
        (Some("vzdump"), Some(100), Some("OK"))
    );
    assert!(task["id"]
        .as_str()
        .unwrap_or_default()
        .starts_with("lab-UPID:"));
    assert_eq!(
        b["backupTasks"].as_array().map(Vec::len),
        Some(2),
        "only vzdump tasks, one per node"
    );
    // local on each node + the shared NFS once: 3 listings of 2 files.
    assert_eq!(api.count("storage_content"), 3);
    let sb = &b["storageBackups"][0];
    assert_eq!(
        (
            sb["type"].as_str(),
            sb["vmid"].as_i64(),
            sb["ctime"].as_i64()
        ),
        (Some("qemu"), Some(931), Some(1_702_582_560))
    );
    assert_eq!(sb["time"], "2023-12-14T19:36:00Z");
    assert_eq!(b["guestSnapshots"][0]["vmstate"], true);
    assert_eq!(
        b["guestSnapshots"].as_array().map(Vec::len),
        Some(3),
        "kept between cycles"
    );

    // Third poll: nothing slow is due again.
    let snap = poll_pve(&mut api, &mut ctx, T0 + 20_000).expect("third poll");
    state.replace_pve_instance("lab", snap, T0 + 20_000);
    let v = state_json(&state);
    assert_eq!(api.count("disks"), 2, "disks every 5 minutes only");
    assert_eq!(api.count("node_tasks"), 2, "backups only every 10th poll");
    assert_eq!(
        v["physicalDisks"].as_array().map(Vec::len),
        Some(2 * 3),
        "kept between disk polls"
    );
}
#[test]
fn resources_failure_falls_back_to_per_node_lists() {
    let mut api = FixtureApi::new();
    api.fail = vec!["cluster_resources_vms"];
    let mut ctx = PvePollContext::new(PveSettings::new("lab", "https://pve.lab:8006"), 7);
    let snap = poll_pve(&mut api, &mut ctx, T0).expect("poll succeeds");
    assert_eq!(api.count("qemu_list"), 2);
    // Each node's lists: VMs 100 (running), 101 (stopped); CTs 105, 106 (template 101 skipped).
    assert_eq!(snap.vms.len(), 4);
    assert_eq!(snap.containers.len(), 4);
    assert!(snap.containers.iter().all(|c| c.vmid != 101));
    assert!(snap.unlisted_guest_nodes.is_empty());

    api.fail = vec!["cluster_resources_vms", "lxc_list"];
    let snap = poll_pve(&mut api, &mut ctx, T0 + 10_000).expect("poll succeeds");
    assert_eq!(
        snap.unlisted_guest_nodes.len(),
        2,
        "previous guests of those nodes will be kept"
    );
}

#[test]
fn node_list_failure_is_the_poll_failure_and_is_classified() {
    let mut api = FixtureApi::new();
    api.fail = vec!["nodes"];
    let mut ctx = PvePollContext::new(PveSettings::new("lab", "https://pve.lab:8006"), 7);
    let err = poll_pve(&mut api, &mut ctx, T0).expect_err("no node list, no poll");
    assert_eq!(err.class, ErrorClass::Transient);
    assert!(err.message.contains("connection refused"));

    // A failing node status degrades to /nodes figures instead of failing the poll.
    api.fail = vec!["node_status", "node_storage"];
    let snap = poll_pve(&mut api, &mut ctx, T0).expect("poll succeeds");
    let n1 = snap
        .nodes
        .iter()
        .find(|n| n.name == "node1")
        .expect("node1");
    assert_eq!(n1.memory.used, 1);
    assert!(snap.storage.is_empty() && snap.storage_nodes.is_empty());
}
