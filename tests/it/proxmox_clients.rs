//! Every client against the simulator over real HTTPS on 127.0.0.1: auth modes, TLS
//! policies, faults (typed error, no panic, bounded time) and PVE cluster failover.

use pulse::proxmox::{ClientConfig, PbsClient, PmgClient, Product, ProxmoxError, PveClient};
use pulse::sim::{Fault, SimClientConfig, SimConfig, SimHandle, Simulator, LIMITED_TOKEN_ID};
use std::time::{Duration, Instant};

fn sim() -> SimHandle {
    sim_with(SimConfig::default())
}

fn sim_with(cfg: SimConfig) -> SimHandle {
    Simulator::start(cfg).unwrap_or_else(|e| panic!("simulator: {e}"))
}

fn pve(cfg: &ClientConfig) -> PveClient {
    PveClient::new(cfg).unwrap_or_else(|e| panic!("client: {e}"))
}

#[test]
fn pve_token_auth_reads_every_monitoring_endpoint() {
    let s = sim();
    let mut c = pve(&s.token_config(Product::Pve));
    let v = c.version().expect("version");
    assert_eq!(v.release.as_deref(), Some("9.0"));
    let nodes = c.nodes().expect("nodes");
    assert_eq!(nodes.len(), 3);
    assert!(nodes
        .iter()
        .all(|n| n.status.as_deref() == Some("online") && n.maxmem.is_some()));
    for n in &nodes {
        let st = c.node_status(&n.node).expect("node status");
        assert!(st.memory.as_ref().and_then(|m| m.total).is_some());
        assert_eq!(st.loadavg.len(), 3);
        assert!(!c.node_rrd_memory(&n.node).expect("rrd").is_empty());
        assert!(!c.node_storage(&n.node).expect("storage").is_empty());
        assert!(!c.disks(&n.node).expect("disks").is_empty());
        assert!(!c.node_tasks(&n.node).expect("tasks").is_empty());
    }
    let cs = c.cluster_status().expect("cluster status");
    assert!(cs.iter().any(|r| r.kind == "cluster" && r.nodes == Some(3)));
    let res = c.cluster_resources_vms().expect("resources");
    assert_eq!(res.len(), 30);
    assert!(res.iter().all(|r| r.kind == "qemu" || r.kind == "lxc"));
    // A running VM with the agent (vmid 100: index 0, qemu, agent, running).
    let vm = res.iter().find(|r| r.vmid == Some(100)).expect("vm 100");
    let node = vm.node.clone().unwrap_or_default();
    let st = c.qemu_status(&node, 100).expect("qemu status");
    assert_eq!(st.status.as_deref(), Some("running"));
    assert_eq!(st.agent, Some(1));
    let ifs = c.agent_network_interfaces(&node, 100).expect("ifs");
    assert!(ifs.result.iter().any(|i| i.name == "eth0"));
    assert!(c.agent_osinfo(&node, 100).expect("osinfo").name.is_some());
    assert!(c
        .agent_info(&node, 100)
        .expect("info")
        .agent_version()
        .is_some());
    assert!(!c
        .agent_fsinfo(&node, 100)
        .expect("fsinfo")
        .result
        .is_empty());
    // A container (vmid 102).
    let ct = res.iter().find(|r| r.vmid == Some(102)).expect("ct 102");
    let ct_node = ct.node.clone().unwrap_or_default();
    assert_eq!(
        c.lxc_status(&ct_node, 102).expect("lxc status").vmid,
        Some(102)
    );
    assert!(c
        .lxc_config(&ct_node, 102)
        .expect("config")
        .contains_key("net0"));
    assert!(!c
        .lxc_interfaces(&ct_node, 102)
        .expect("interfaces")
        .is_empty());
    assert!(!c.lxc_rrd_memory(&ct_node, 102).expect("lxc rrd").is_empty());
    assert!(c
        .lxc_list(&ct_node)
        .expect("lxc list")
        .iter()
        .any(|g| g.vmid == 102));
    assert!(c
        .qemu_list(&node)
        .expect("qemu list")
        .iter()
        .any(|g| g.vmid == 100));
    // Storage and backups.
    let storage = c.storage_config().expect("storage config");
    assert!(storage
        .iter()
        .any(|s| s.kind == "nfs" && s.shared == Some(true)));
    let backups = c.storage_content(&node, "nfs-backup").expect("content");
    assert!(backups
        .iter()
        .any(|b| b.vmid == Some(100) && b.content.as_deref() == Some("backup")));
    let snaps = c.qemu_snapshots(&node, 100).expect("snapshots");
    assert!(snaps.iter().any(|s| s.name == "current"));
    // Ceph.
    let ceph = c.ceph_status().expect("ceph");
    assert_eq!(
        ceph.health.and_then(|h| h.status).as_deref(),
        Some("HEALTH_OK")
    );
    assert!(ceph
        .servicemap
        .is_some_and(|m| m.services.get("mon").is_some_and(|s| s.daemons.len() == 3)));
    let df = c.ceph_df().expect("ceph df");
    assert!(
        df.data
            .and_then(|d| d.stats)
            .and_then(|s| s.total_bytes)
            .unwrap_or(0)
            > 0
    );
    assert!(c.endpoint_health().iter().all(|h| h.healthy));
}

#[test]
fn pbs_token_auth() {
    let s = sim();
    let mut c = PbsClient::new(&s.token_config(Product::Pbs)).expect("client");
    assert!(c.version().expect("version").version.is_some());
    let st = c.node_status().expect("status");
    assert!(st.memory.and_then(|m| m.total).is_some());
    let stores = c.datastores().expect("datastores");
    assert_eq!(
        stores.iter().map(|d| d.store.as_str()).collect::<Vec<_>>(),
        vec!["main", "offsite"]
    );
    let status = c.datastore_status("main").expect("ds status");
    assert!(status.total.unwrap_or(0) > status.used.unwrap_or(u64::MAX));
    // GC that ran vs GC that never ran (`"upid": null`).
    assert!(matches!(
        c.datastore_gc("main").expect("gc").upid,
        Some(Some(_))
    ));
    assert_eq!(c.datastore_gc("offsite").expect("gc").upid, Some(None));
    assert!(!c.datastore_rrd("main").expect("rrd").is_empty());
    assert!(!c.datastore_usage().expect("usage").is_empty());
    let ns = c.namespaces("main").expect("namespaces");
    assert_eq!(ns.first().map(|n| n.ns.as_str()), Some(""));
    assert!(ns.iter().any(|n| n.ns == "prod/db"));
    let groups = c.groups("main", "").expect("groups");
    assert!(groups.iter().any(|g| g.backup_type == "host"));
    let g = groups
        .iter()
        .find(|g| g.backup_type == "vm")
        .expect("vm group");
    let snaps = c
        .snapshots("main", "", &g.backup_type, &g.backup_id)
        .expect("snapshots");
    assert_eq!(snaps.len(), 3);
    assert!(snaps.iter().any(|s| s.verification.is_none()));
    assert!(snaps.iter().any(|s| s.verified()));
    assert!(!c.groups("main", "prod").expect("ns groups").is_empty());
    assert!(matches!(
        c.datastore_status("nope"),
        Err(ProxmoxError::Http { status: 404, .. })
    ));
}

#[test]
fn pmg_token_auth() {
    let s = sim();
    let mut c = PmgClient::new(&s.token_config(Product::Pmg)).expect("client");
    assert_eq!(
        c.version().expect("version").version.as_deref(),
        Some("8.2")
    );
    let nodes = c.cluster_status().expect("cluster");
    let node = nodes.first().map(|n| n.name.clone()).expect("a node");
    assert!(c.postfix_queue(&node).expect("queue").deferred.is_some());
    assert_eq!(c.node_backups(&node).expect("backups").len(), 2);
    let mail = c.mail_statistics().expect("mail");
    assert!(mail.bytes_in.is_some(), "bytes_in arrives as a string");
    assert!(mail.avptime.is_some(), "avptime arrives as a string");
    assert_eq!(c.mail_count(86_400).expect("mailcount").len(), 24);
    assert!(matches!(
        c.mail_count(24),
        Err(ProxmoxError::Http { status: 400, .. })
    ));
    assert!(!c.spam_scores().expect("scores").is_empty());
    assert!(c.spam_quarantine().expect("spam").count.is_some());
    assert_eq!(c.virus_quarantine().expect("virus").count, Some(2));
}

#[test]
fn bad_and_limited_tokens_are_auth_errors() {
    let s = sim();
    for product in [Product::Pve, Product::Pbs, Product::Pmg] {
        let mut cfg = s.token_config(product);
        cfg.token_value = "wrong".into();
        let err = ProbeClient::new(&cfg).version().err();
        assert!(
            matches!(err, Some(ProxmoxError::Auth { status: 401, .. })),
            "{product:?}: {err:?}"
        );

        let mut cfg = s.token_config(product);
        cfg.token_name = LIMITED_TOKEN_ID.into();
        cfg.token_value = s.limited_token_secret();
        let mut c = ProbeClient::new(&cfg);
        assert!(
            c.version().is_ok(),
            "{product:?}: limited token may read /version"
        );
        let err = c.other().err();
        assert!(
            matches!(err, Some(ProxmoxError::Auth { status: 403, .. })),
            "{product:?}: {err:?}"
        );
    }
}

/// The three clients behind one interface, for tests that loop over products.
enum ProbeClient {
    Pve(PveClient),
    Pbs(PbsClient),
    Pmg(PmgClient),
}

impl ProbeClient {
    fn new(cfg: &ClientConfig) -> ProbeClient {
        match cfg.product {
            Product::Pve => ProbeClient::Pve(pve(cfg)),
            Product::Pbs => ProbeClient::Pbs(PbsClient::new(cfg).expect("pbs client")),
            Product::Pmg => ProbeClient::Pmg(PmgClient::new(cfg).expect("pmg client")),
        }
    }

    fn version(&mut self) -> Result<(), ProxmoxError> {
        match self {
            ProbeClient::Pve(c) => c.version().map(drop),
            ProbeClient::Pbs(c) => c.version().map(drop),
            ProbeClient::Pmg(c) => c.version().map(drop),
        }
    }

    /// Some authenticated call other than `/version`.
    fn other(&mut self) -> Result<(), ProxmoxError> {
        match self {
            ProbeClient::Pve(c) => c.nodes().map(drop),
            ProbeClient::Pbs(c) => c.datastores().map(drop),
            ProbeClient::Pmg(c) => c.mail_statistics().map(drop),
        }
    }
}

#[test]
fn ticket_auth_logs_in_once_and_renews_after_expiry() {
    let s = sim();
    for product in [Product::Pve, Product::Pbs, Product::Pmg] {
        s.set_ticket_lifetime(Duration::from_millis(400));
        let mut c = ProbeClient::new(&s.password_config(product));
        c.version().expect("first call logs in");
        c.other().expect("second call reuses the ticket");
        assert_eq!(s.login_count(product), 1, "{product:?}");
        std::thread::sleep(Duration::from_millis(500));
        // The server now rejects the ticket with 401: the client logs in again, once.
        c.other().expect("renewed after 401");
        assert_eq!(s.login_count(product), 2, "{product:?}");
    }
}

#[test]
fn ticket_login_falls_back_to_form_encoding() {
    let s = sim();
    s.set_json_login(false);
    let mut c = pve(&s.password_config(Product::Pve));
    assert!(c.nodes().is_ok());
    assert_eq!(s.login_count(Product::Pve), 1);
}

#[test]
fn wrong_password_is_an_auth_error() {
    let s = sim();
    let mut cfg = s.password_config(Product::Pmg);
    cfg.password = "nope".into();
    let err = ProbeClient::new(&cfg).version().err();
    assert!(
        matches!(err, Some(ProxmoxError::Auth { status: 401, .. })),
        "{err:?}"
    );
}

#[test]
fn csrf_token_is_sent_on_writes_with_ticket_auth() {
    let s = sim();
    let mut c = pve(&s.password_config(Product::Pve));
    // vmid 106 (index 6) is stopped on pve1.
    let started: Option<String> = c
        .with_client(|api| api.post_form("/nodes/pve1/qemu/106/status/start", &[]))
        .expect("write with CSRF");
    assert!(started.is_some_and(|upid| upid.starts_with("UPID:pve1:")));
    assert_eq!(
        c.qemu_status("pve1", 106)
            .expect("status")
            .status
            .as_deref(),
        Some("running")
    );
}

#[test]
fn fingerprint_pinning_accepts_match_and_rejects_mismatch() {
    let s = sim();
    let mut cfg = s.token_config(Product::Pve);
    // Colons dropped and lower-cased: still the same pin.
    cfg.fingerprint = Some(s.fingerprint().replace(':', "").to_lowercase());
    assert!(pve(&cfg).version().is_ok());
    cfg.fingerprint = Some(s.wrong_fingerprint());
    let err = pve(&cfg).version().err();
    assert!(matches!(err, Some(ProxmoxError::Tls(_))), "{err:?}");
    // A pin wins even over verify_ssl = false.
    cfg.verify_ssl = false;
    assert!(matches!(pve(&cfg).version(), Err(ProxmoxError::Tls(_))));
}

#[test]
fn verify_ssl_rejects_self_signed_and_insecure_accepts() {
    let s = sim();
    let mut cfg = s.token_config(Product::Pbs);
    cfg.fingerprint = None;
    cfg.verify_ssl = true;
    let err = PbsClient::new(&cfg).expect("client").version().err();
    assert!(matches!(err, Some(ProxmoxError::Tls(_))), "{err:?}");
    cfg.verify_ssl = false;
    assert!(PbsClient::new(&cfg).expect("client").version().is_ok());
}

#[test]
fn plain_http_works_for_demo_mode() {
    let s = sim();
    let mut cfg = s.token_config(Product::Pve);
    cfg.host = s.http_url(Product::Pve);
    assert_eq!(pve(&cfg).nodes().expect("nodes over http").len(), 3);
}

#[test]
fn https_client_against_plain_http_port_fails_cleanly() {
    let s = sim();
    let mut cfg = s.token_config(Product::Pve);
    cfg.host = s.http_url(Product::Pve).replace("http://", "https://");
    let err = pve(&cfg).version().err();
    assert!(
        matches!(err, Some(ProxmoxError::Tls(_) | ProxmoxError::Connect(_))),
        "{err:?}"
    );
}

/// Runs `call` under `fault` and returns the error, checking it came back in bounded time.
fn under_fault(s: &SimHandle, fault: Fault, timeout: Duration) -> Option<ProxmoxError> {
    s.clear_faults();
    s.set_fault("/nodes", fault);
    let mut cfg = s.token_config(Product::Pve);
    cfg.timeout = timeout;
    let started = Instant::now();
    let result = pve(&cfg).nodes();
    assert!(
        started.elapsed() < timeout + Duration::from_secs(5),
        "call not bounded"
    );
    result.err()
}

#[test]
fn faults_become_typed_errors() {
    let s = sim();
    let t = Duration::from_secs(5);
    let e = under_fault(&s, Fault::Status { status: 500 }, t);
    assert!(
        matches!(e, Some(ProxmoxError::Http { status: 500, .. })),
        "{e:?}"
    );
    let e = under_fault(&s, Fault::Status { status: 429 }, t);
    assert!(
        e.as_ref()
            .is_some_and(|e| e.is_transient() && e.status() == Some(429)),
        "{e:?}"
    );
    let e = under_fault(&s, Fault::GarbageJson, t);
    assert!(
        matches!(e, Some(ProxmoxError::Decode { ref path, .. }) if path == "/nodes"),
        "{e:?}"
    );
    let e = under_fault(&s, Fault::HtmlPage, t);
    assert!(matches!(e, Some(ProxmoxError::NotProxmox(_))), "{e:?}");
    let e = under_fault(&s, Fault::TruncatedBody, t);
    assert!(matches!(e, Some(ProxmoxError::Connect(_))), "{e:?}");
    let e = under_fault(&s, Fault::ConnectionReset, t);
    assert!(matches!(e, Some(ProxmoxError::Connect(_))), "{e:?}");
    let e = under_fault(&s, Fault::Hang, Duration::from_millis(800));
    assert!(matches!(e, Some(ProxmoxError::Timeout(_))), "{e:?}");
    assert!(e.is_some_and(|e| e.category() == "transient"));
    assert!(under_fault(&s, Fault::Latency { ms: 200 }, t).is_none());
    // Faults match by prefix: other paths are untouched.
    assert!(pve(&s.token_config(Product::Pve)).version().is_ok());
}

#[test]
fn wrong_certificate_fault_trips_the_pin() {
    let s = sim();
    s.set_fault_for(Product::Pmg, "", Fault::WrongCertificate);
    let err = PmgClient::new(&s.token_config(Product::Pmg))
        .expect("client")
        .version()
        .err();
    assert!(matches!(err, Some(ProxmoxError::Tls(_))), "{err:?}");
    s.clear_faults();
    assert!(PmgClient::new(&s.token_config(Product::Pmg))
        .expect("client")
        .version()
        .is_ok());
}

#[test]
fn faults_can_be_set_through_the_admin_endpoint() {
    let s = sim();
    let url = format!("{}/__sim/faults", s.http_url(Product::Pve));
    let agent = ureq::Agent::new_with_defaults();
    let body = r#"{"product":"pve","prefix":"/version","fault":{"kind":"status","status":503}}"#;
    let resp = agent
        .post(&url)
        .content_type("application/json")
        .send(body)
        .expect("admin post");
    assert_eq!(resp.status().as_u16(), 200);
    let err = pve(&s.token_config(Product::Pve)).version().err();
    assert!(
        matches!(err, Some(ProxmoxError::Http { status: 503, .. })),
        "{err:?}"
    );
    agent.delete(&url).call().expect("admin delete");
    assert!(pve(&s.token_config(Product::Pve)).version().is_ok());
}

#[test]
fn offline_node_answers_595_as_node_error() {
    let s = sim();
    assert!(s.set_node_online("pve2", false));
    let mut c = pve(&s.token_config(Product::Pve));
    let nodes = c.nodes().expect("nodes");
    let off = nodes.iter().find(|n| n.node == "pve2").expect("pve2");
    assert_eq!(off.status.as_deref(), Some("offline"));
    assert_eq!(off.maxmem, None);
    let err = c.node_status("pve2").err();
    assert!(
        matches!(err, Some(ProxmoxError::Http { status: 595, .. })),
        "{err:?}"
    );
    assert!(!err.is_some_and(|e| e.is_auth()));
    let res = c.cluster_resources_vms().expect("resources");
    assert!(res
        .iter()
        .filter(|r| r.node.as_deref() == Some("pve2"))
        .all(|r| r.status.as_deref() == Some("unknown")));
}

#[test]
fn cluster_fails_over_from_a_dead_endpoint_and_reports_health() {
    let s = sim();
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("https://{}", l.local_addr().expect("addr"))
    };
    let mut cfg = s.token_config(Product::Pve);
    cfg.cluster_endpoints = vec![dead.clone(), s.https_url(Product::Pve)];
    let mut c = pve(&cfg);
    c.probe_endpoints();
    let probed = c.endpoint_health();
    assert!(
        probed.iter().any(|h| h.endpoint == dead && !h.healthy),
        "{probed:?}"
    );
    for _ in 0..6 {
        assert_eq!(c.nodes().expect("failover").len(), 3);
    }
    let health = c.endpoint_health();
    assert_eq!(health.len(), 2);
    let dead_health = health
        .iter()
        .find(|h| h.endpoint == dead)
        .expect("dead endpoint");
    let live_health = health
        .iter()
        .find(|h| h.endpoint != dead)
        .expect("live endpoint");
    assert!(live_health.healthy);
    // Random choice: the dead endpoint was either tried (and marked) or never picked.
    if dead_health.last_error.is_some() {
        assert!(!dead_health.healthy);
    }
    // Errors that are the same on every member are returned, not failed over.
    assert!(matches!(
        c.node_status("nope"),
        Err(ProxmoxError::Http { status: 500, .. })
    ));
}

#[test]
fn cluster_with_no_reachable_member_errors_in_bounded_time() {
    let dead: Vec<String> = (0..2)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            format!("https://{}", l.local_addr().expect("addr"))
        })
        .collect();
    let mut cfg = ClientConfig::new(Product::Pve, dead[0].clone());
    cfg.cluster_endpoints = dead;
    cfg.token_name = "root@pam!x".into();
    cfg.token_value = "y".into();
    cfg.verify_ssl = false;
    cfg.timeout = Duration::from_secs(2);
    let started = Instant::now();
    let err = pve(&cfg).nodes().err();
    assert!(matches!(err, Some(ProxmoxError::Connect(_))), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn large_estate_lists_completely() {
    let s = sim_with(SimConfig {
        nodes: 50,
        guests: 3000,
        ..SimConfig::default()
    });
    let mut c = pve(&s.token_config(Product::Pve));
    assert_eq!(c.nodes().expect("nodes").len(), 50);
    let res = c.cluster_resources_vms().expect("resources");
    assert_eq!(res.len(), 3000);
    assert_eq!(
        res.iter()
            .filter(|r| r.node.as_deref() == Some("pve7"))
            .count(),
        60
    );
}

#[test]
fn response_size_cap_is_enforced() {
    let s = sim_with(SimConfig {
        guests: 500,
        ..SimConfig::default()
    });
    let mut cfg = s.token_config(Product::Pve);
    cfg.max_response_bytes = 4096;
    let err = pve(&cfg).cluster_resources_vms().err();
    assert!(
        matches!(err, Some(ProxmoxError::TooLarge { limit: 4096 })),
        "{err:?}"
    );
}

/// A peer that accepts TCP but never speaks TLS: the handshake must time out, not hang.
fn silent_peer(addr: &str) -> Option<(std::net::SocketAddr, std::thread::JoinHandle<()>)> {
    let listener = std::net::TcpListener::bind(addr).ok()?;
    let local = listener.local_addr().ok()?;
    let t = std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            std::thread::sleep(Duration::from_millis(1500));
            drop(stream);
        }
    });
    Some((local, t))
}

#[test]
fn silent_server_times_out_during_handshake() {
    let Some((addr, t)) = silent_peer("127.0.0.1:0") else {
        return;
    };
    let mut cfg = ClientConfig::new(Product::Pbs, format!("https://{addr}"));
    cfg.token_name = "root@pam!x".into();
    cfg.token_value = "y".into();
    cfg.verify_ssl = false;
    cfg.timeout = Duration::from_millis(700);
    let started = Instant::now();
    let err = PbsClient::new(&cfg).expect("client").version().err();
    assert!(matches!(err, Some(ProxmoxError::Timeout(_))), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let _ = t.join();
}

#[test]
fn ipv6_literal_hosts_connect() {
    // Skipped where the machine has no IPv6 loopback.
    let Some((addr, t)) = silent_peer("[::1]:0") else {
        eprintln!("no IPv6 loopback: skipping");
        return;
    };
    let mut cfg = ClientConfig::new(Product::Pve, "::1");
    cfg.host = format!("[::1]:{}", addr.port());
    cfg.token_name = "root@pam!x".into();
    cfg.token_value = "y".into();
    cfg.verify_ssl = false;
    cfg.timeout = Duration::from_millis(500);
    // Reaching the handshake (and timing out there) proves URL building and SNI handling.
    let err = pve(&cfg).version().err();
    assert!(matches!(err, Some(ProxmoxError::Timeout(_))), "{err:?}");
    let _ = t.join();
}

#[test]
fn unhealthy_members_are_reprobed_and_recover() {
    let s = sim();
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("https://{}", l.local_addr().expect("addr"))
    };
    let mut cfg = s.token_config(Product::Pve);
    cfg.cluster_endpoints = vec![s.https_url(Product::Pve), dead];
    let mut c = pve(&cfg);
    c.set_reprobe_interval(Duration::from_millis(200));
    s.set_fault("", Fault::ConnectionReset);
    let err = c.nodes().err();
    assert!(matches!(err, Some(ProxmoxError::Connect(_))), "{err:?}");
    assert!(c.endpoint_health().iter().all(|h| !h.healthy));
    s.clear_faults();
    // Within the rest period nobody is probed: still no healthy member.
    assert!(c.nodes().is_err());
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(c.nodes().expect("recovered").len(), 3);
    let live = s.https_url(Product::Pve);
    assert!(c
        .endpoint_health()
        .iter()
        .any(|h| h.endpoint == live && h.healthy));
}
