//! The agents themselves, in-process against real parts: the host agent on this machine's
//! `/proc` (compared with `/proc/meminfo` and `df`) and against a real Pulse; the Docker
//! agent against a fake Docker Engine API served on a unix socket, with Pulse deriving each
//! issue from what it reports.

use crate::agents_ingest::Agents;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;

fn run_host(args: &[&str]) -> (i32, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    let code = pulse_host_agent::main_with(&args, &|_| None, &mut out);
    (code, String::from_utf8(out).unwrap())
}

fn run_docker(args: &[&str]) -> i32 {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    pulse_docker_agent::main_with(&args, &|_| None, &mut Vec::new())
}

#[test]
fn host_agent_print_matches_proc_meminfo_and_df() {
    let (code, out) = run_host(&["--print"]);
    assert_eq!(code, 0);
    let r: Value = serde_json::from_str(&out).unwrap();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kb = |k: &str| -> i64 {
        meminfo
            .lines()
            .find(|l| l.starts_with(&format!("{k}:")))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse::<i64>()
            .unwrap()
            * 1024
    };
    let mem = &r["metrics"]["memory"];
    assert_eq!(mem["totalBytes"].as_i64().unwrap(), kb("MemTotal"));
    let used = kb("MemTotal") - kb("MemAvailable");
    let reported = mem["usedBytes"].as_i64().unwrap();
    assert!(
        (reported - used).abs() < kb("MemTotal") / 50,
        "used {reported} vs {used}"
    );
    assert_eq!(mem["swapTotalBytes"].as_i64().unwrap_or(0), kb("SwapTotal"));
    // Every filesystem df shows that the agent reports has df's size and (within 1 %) used.
    let df = std::process::Command::new("df")
        .args(["-B1", "--output=target,size,used"])
        .output()
        .expect("df");
    let df = String::from_utf8_lossy(&df.stdout);
    let disks = r["disks"].as_array().expect("disks");
    assert!(!disks.is_empty());
    let mut compared = 0;
    for line in df.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(target), Some(size), Some(used)) = (f.first(), f.get(1), f.get(2)) else {
            continue;
        };
        let Some(d) = disks.iter().find(|d| d["mountpoint"] == *target) else {
            continue;
        };
        let (size, used): (i64, i64) = (size.parse().unwrap(), used.parse().unwrap());
        assert_eq!(d["totalBytes"].as_i64().unwrap(), size, "{target}");
        let u = d["usedBytes"].as_i64().unwrap_or(0);
        assert!(
            (u - used).abs() <= size / 100 + 1,
            "{target}: {u} vs {used}"
        );
        compared += 1;
    }
    assert!(compared > 0, "no filesystem in common with df: {df}");
    assert!(r["host"]["cpuCount"].as_i64().unwrap() > 0);
    assert_eq!(
        r["host"]["kernelVersion"],
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap()
            .trim()
    );
    assert_eq!(r["host"]["loadAverage"].as_array().unwrap().len(), 3);
}

#[test]
fn host_agent_once_makes_the_host_appear() {
    let a = Agents::start();
    let t = a.token(&["host-agent:report"]);
    let url = format!("http://{}", a.srv.addr);
    let (code, _) = run_host(&["--url", &url, "--token", &t, "--once", "--interval", "20s"]);
    assert_eq!(code, 0);
    let hosts = a.state()["hosts"].as_array().unwrap().clone();
    assert_eq!(hosts.len(), 1);
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(hosts[0]["hostname"], hostname.trim());
    assert_eq!(hosts[0]["status"], "online");
    assert_eq!(hosts[0]["intervalSeconds"], 20);
    assert!(hosts[0]["memory"]["total"].as_i64().unwrap() > 0);
    // A token without the scope: refused, and --once says so with a non-zero exit.
    let wrong = a.token(&["docker:report"]);
    assert_eq!(run_host(&["--url", &url, "--token", &wrong, "--once"]).0, 1);
    assert_eq!(run_host(&["--once"]).0, 2, "no URL is a usage error");
}

/// A fake Docker Engine API: one canned JSON answer per path, `Connection: close`.
fn fake_engine(dir: &std::path::Path, routes: Vec<(String, Value)>) -> String {
    let path = dir.join("docker.sock");
    let listener = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let p = target.split('?').next().unwrap().to_string();
            let found = routes.iter().find(|(k, _)| *k == target || *k == p);
            match found {
                // Chunked for the container list, as the real Engine does for long bodies.
                Some((k, v)) if k.starts_with("/containers/json") => {
                    let b = v.to_string();
                    let (a, c) = b.split_at(b.len() / 2);
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{c}\r\n0\r\n\r\n",
                        a.len(),
                        c.len()
                    );
                }
                Some((_, v)) => {
                    let b = v.to_string();
                    let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len());
                }
                None => {
                    let b = r#"{"message":"page not found"}"#;
                    let _ = write!(
                        s,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n{b}",
                        b.len()
                    );
                }
            }
        }
    });
    path.display().to_string()
}

fn engine_routes() -> Vec<(String, Value)> {
    let summary = |id: &str, name: &str, state: &str| {
        json!({"Id": id, "Names": [format!("/{name}")], "Image": format!("img/{name}"), "State": state,
               "Status": state, "Created": 1_764_000_000, "Labels": {"app": name},
               "Ports": [{"PrivatePort": 80, "Type": "tcp"}],
               "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
               "Mounts": [{"Type": "volume", "Source": "/v", "Destination": "/data", "RW": true}]})
    };
    let detail = |status: &str, restarts: i64, exit: i64, oom: bool, health: Option<&str>| {
        let mut state = json!({"Status": status, "ExitCode": exit, "OOMKilled": oom,
                               "StartedAt": "2026-12-04T09:00:00.5Z", "FinishedAt": "0001-01-01T00:00:00Z"});
        if let Some(h) = health {
            state["Health"] = json!({"Status": h});
        }
        json!({"Created": "2026-12-01T00:00:00.000000001Z", "RestartCount": restarts, "State": state,
               "HostConfig": {"Memory": 0}})
    };
    let stats = json!({
        "memory_stats": {"usage": 600, "limit": 1000, "stats": {"inactive_file": 100}},
        "cpu_stats": {"cpu_usage": {"total_usage": 2000}, "system_cpu_usage": 20000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 1000}, "system_cpu_usage": 10000},
        "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 4096}, {"op": "write", "value": 8192}]}
    });
    vec![
        (
            "/version".into(),
            json!({"Version": "27.3.1", "ApiVersion": "1.47", "Components": [{"Name": "Engine"}]}),
        ),
        (
            "/info".into(),
            json!({"Name": "fakehost", "NCPU": 8, "MemTotal": 16_000_000_000i64, "OperatingSystem": "Debian GNU/Linux 12",
            "KernelVersion": "6.1.0", "Architecture": "x86_64",
            "Swarm": {"NodeID": "node1", "LocalNodeState": "active", "ControlAvailable": true,
                      "Cluster": {"ID": "clu1", "Spec": {"Name": "default"}}}}),
        ),
        (
            "/containers/json".into(),
            json!([
                summary("web", "web", "running"),
                summary("loop", "loop", "restarting"),
                summary("crash", "crash", "exited"),
                summary("oom", "oom", "exited"),
                summary("sick", "sick", "running"),
            ]),
        ),
        (
            "/containers/web/json".into(),
            detail("running", 0, 0, false, Some("healthy")),
        ),
        (
            "/containers/loop/json".into(),
            detail("restarting", 7, 1, false, None),
        ),
        (
            "/containers/crash/json".into(),
            detail("exited", 0, 2, false, None),
        ),
        (
            "/containers/oom/json".into(),
            detail("exited", 0, 137, true, None),
        ),
        (
            "/containers/sick/json".into(),
            detail("running", 0, 0, false, Some("unhealthy")),
        ),
        ("/containers/web/stats".into(), stats.clone()),
        ("/containers/sick/stats".into(), stats),
        (
            "/services".into(),
            json!([{"ID": "svc1", "Spec": {"Name": "api", "Labels": {"com.docker.stack.namespace": "shop"},
            "Mode": {"Replicated": {"Replicas": 3}}, "TaskTemplate": {"ContainerSpec": {"Image": "shop/api:2"}}},
            "ServiceStatus": {"RunningTasks": 1, "DesiredTasks": 3}}]),
        ),
        (
            "/tasks".into(),
            json!([{"ID": "t1", "ServiceID": "svc1", "Slot": 1, "NodeID": "node1", "DesiredState": "running",
            "Status": {"State": "running", "ContainerStatus": {"ContainerID": "abc"}}},
            {"ID": "t2", "ServiceID": "svc1", "Slot": 2, "DesiredState": "running", "Status": {"State": "failed", "Err": "task: non-zero exit (1)"}}]),
        ),
    ]
}

#[test]
fn docker_agent_against_a_fake_engine_and_pulse_derives_each_issue() {
    let dir = crate::support::temp_dir("engine");
    let sock = fake_engine(&dir, engine_routes());
    let a = Agents::start();
    let t = a.token(&["docker:report"]);
    let url = format!("http://{}", a.srv.addr);
    let code = run_docker(&[
        "--url",
        &url,
        "--token",
        &t,
        "--once",
        "--docker-socket",
        &format!("unix://{sock}"),
        "--agent-id",
        "fake-agent",
    ]);
    assert_eq!(code, 0);
    let hosts = a.docker_hosts();
    assert_eq!(hosts.len(), 1);
    let h = &hosts[0];
    assert_eq!(h["hostname"], "fakehost");
    assert_eq!(h["agentId"], "fake-agent");
    assert_eq!(h["cpus"], 8);
    assert_eq!(h["containers"].as_array().unwrap().len(), 5);
    let web = h["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "web")
        .unwrap()
        .clone();
    assert_eq!(web["memoryUsageBytes"], 500);
    assert_eq!(web["memoryPercent"], 50.0);
    assert_eq!(web["cpuPercent"], 20.0);
    assert_eq!(web["blockIo"]["writeBytes"], 8192);
    assert_eq!(web["health"], "healthy");
    let issue = |kind: &str, who: &str| {
        h["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["type"] == kind && (i["containerId"] == who || i["serviceName"] == who))
    };
    assert!(issue("restart-loop", "loop"), "{}", h["issues"]);
    assert!(issue("exit-code", "crash"));
    assert!(issue("oom-kill", "oom"));
    assert!(
        !issue("exit-code", "oom"),
        "an OOM kill is not also a plain exit"
    );
    assert!(issue("health-check", "sick"));
    assert!(issue("service-replicas", "api"));
    assert_eq!(h["issues"].as_array().unwrap().len(), 5);
    let codes: Vec<i64> = h["recentExitCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["exitCode"].as_i64().unwrap())
        .collect();
    assert!(codes.contains(&2) && codes.contains(&137), "{codes:?}");
    assert_eq!(h["swarm"]["clusterName"], "default");
    assert_eq!(h["services"][0]["stack"], "shop");
    assert_eq!(h["tasks"][1]["error"], "task: non-zero exit (1)");
    // A stop requested in Pulse: the agent acknowledges it and exits 0; the host is gone.
    let manage = a.token(&["docker:manage"]);
    let r = a.srv.req(
        "DELETE",
        "/api/agents/docker/hosts/fake-agent",
        &[("X-API-Token", &manage)],
        None,
    );
    assert_eq!(r.status, 200);
    let code = run_docker(&[
        "--url",
        &url,
        "--token",
        &t,
        "--docker-socket",
        &sock,
        "--agent-id",
        "fake-agent",
    ]);
    assert_eq!(code, 0, "the agent stopped on request (without --once)");
    assert!(a.docker_hosts().is_empty());
    // No Engine at the socket: a clear failure.
    assert_eq!(
        run_docker(&[
            "--url",
            &url,
            "--token",
            &t,
            "--once",
            "--docker-socket",
            "/nonexistent.sock"
        ]),
        1
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn host_agent_reports_to_several_servers_and_over_self_signed_https_with_insecure() {
    use crate::tls_https::{client, https_req, write_cert};
    const TOKEN: &str = "agent-run-token-000000000000001";
    let f = write_cert("agent-tls", false);
    let mut env = crate::tls_https::env(&f);
    env.push(("API_TOKENS", TOKEN.into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let tls = crate::support::TestServer::start(&pairs);
    let plain = crate::support::TestServer::start(&[("API_TOKENS", TOKEN)]);
    let https_url = format!("https://127.0.0.1:{}", tls.addr.port());
    let plain_url = format!("http://{}", plain.addr);
    // A self-signed certificate is refused unless --insecure says otherwise.
    let (code, _) = run_host(&["--url", &https_url, "--token", TOKEN, "--once"]);
    assert_eq!(code, 1, "self-signed certificate without --insecure");
    let (code, _) = run_host(&[
        "--url",
        &https_url,
        "--url",
        &plain_url,
        "--token",
        TOKEN,
        "--once",
        "--insecure",
    ]);
    assert_eq!(code, 0);
    let auth = [("X-API-Token", TOKEN)];
    let over_tls = https_req(tls.addr, &client(&f.der), "GET", "/api/state", &auth, "").json();
    let over_plain = plain.req("GET", "/api/state", &auth, None).json();
    let (a, b) = (&over_tls["hosts"], &over_plain["hosts"]);
    assert_eq!(a.as_array().map(Vec::len), Some(1), "{a}");
    assert_eq!(b.as_array().map(Vec::len), Some(1), "{b}");
    // The same agent is the same host on both servers.
    assert_eq!(a[0]["id"], b[0]["id"]);
    assert_eq!(a[0]["hostname"], b[0]["hostname"]);
}

#[test]
fn docker_agent_on_podmans_compatible_socket_reports_a_podman_host() {
    let dir = crate::support::temp_dir("compat-engine");
    let mut routes = engine_routes();
    // Podman's compatible API names its engine component so (the socket path here does not).
    routes[0].1 = json!({"Version": "5.2.2", "ApiVersion": "1.41",
                         "Components": [{"Name": "Podman Engine", "Version": "5.2.2"}]});
    let sock = fake_engine(&dir, routes);
    let a = Agents::start();
    let t = a.token(&["docker:report"]);
    let url = format!("http://{}", a.srv.addr);
    let code = run_docker(&[
        "--url",
        &url,
        "--token",
        &t,
        "--once",
        "--docker-socket",
        &sock,
        "--agent-id",
        "pod-agent",
    ]);
    assert_eq!(code, 0);
    let h = &a.docker_hosts()[0];
    assert_eq!(h["runtime"], "podman", "{h}");
    assert_eq!(h["runtimeVersion"], "5.2.2");
    assert_eq!(h["containers"].as_array().unwrap().len(), 5);
    let _ = std::fs::remove_dir_all(&dir);
}
