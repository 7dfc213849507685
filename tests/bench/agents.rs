//! Agent ingestion (issue #14): a Docker report is parsed, validated and applied on the
//! event loop, so its cost is the loop's. Reports of 10, 200 and 2,000 containers (the most a
//! report may carry), 40 each, sequentially, against the static binary; then the size of
//! `/api/state` with 50 such hosts.

use crate::util::{http, ms, percentile, PulseProc};
use crate::TRUST_LOOPBACK;
use serde_json::json;
use std::time::Instant;

const TOKEN: &str = "bench-agent-token-0000000000001";

fn report(agent: usize, containers: usize, seq: usize) -> Vec<u8> {
    let list: Vec<_> = (0..containers)
        .map(|i| {
            json!({"id": format!("{agent}-{i:04}-0123456789abcdef"), "name": format!("/svc-{i}"),
                   "image": "registry.example/app:1.2.3", "createdAt": "2026-12-01T00:00:00Z",
                   "state": if i % 50 == 0 { "exited" } else { "running" }, "status": "Up 2 days",
                   "cpuPercent": 1.5, "memoryUsageBytes": 100_000_000, "memoryLimitBytes": 1_000_000_000i64,
                   "memoryPercent": 10.0, "uptimeSeconds": 172_800, "restartCount": 0,
                   "exitCode": if i % 50 == 0 { 1 } else { 0 },
                   "labels": {"com.docker.compose.project": "app", "com.docker.compose.service": format!("svc-{i}")},
                   "ports": [{"privatePort": 8080, "protocol": "tcp"}],
                   "networks": [{"name": "app_default", "ipv4": "172.18.0.2"}]})
        })
        .collect();
    json!({"agent": {"id": format!("bench-{agent}"), "version": "0.1.0", "intervalSeconds": 30},
           "host": {"hostname": format!("bench-{agent}"), "totalCpu": 8, "totalMemoryBytes": 32_000_000_000i64},
           "containers": list, "timestamp": format!("2026-12-04T10:{:02}:{:02}Z", seq / 60, seq % 60)})
    .to_string()
    .into_bytes()
}

#[test]
#[ignore]
fn agent_ingestion() {
    let pulse = PulseProc::start(&[TRUST_LOOPBACK, ("API_TOKENS", TOKEN)]);
    println!("\n| containers per report | body | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    for (n, agent) in [(10, 0), (200, 1), (2000, 2)] {
        let mut times = Vec::new();
        let mut size = 0;
        for seq in 0..40 {
            let body = report(agent, n, seq);
            size = body.len();
            let xff = format!("10.9.{}.{}", agent, seq);
            let headers = [
                ("X-API-Token", TOKEN),
                ("Content-Type", "application/json"),
                ("X-Forwarded-For", xff.as_str()),
            ];
            let t = Instant::now();
            let r = http(
                pulse.addr,
                "POST",
                "/api/agents/docker/report",
                &headers,
                Some(&body),
            );
            times.push(t.elapsed());
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        }
        times.sort();
        println!(
            "| {n} | {} KB | {:.1} ms | {:.1} ms | {:.1} ms |",
            size / 1024,
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(*times.last().unwrap())
        );
    }
    for agent in 10..60 {
        let body = report(agent, 40, 0);
        let xff = format!("10.8.0.{agent}");
        let headers = [
            ("X-API-Token", TOKEN),
            ("Content-Type", "application/json"),
            ("X-Forwarded-For", xff.as_str()),
        ];
        assert_eq!(
            http(
                pulse.addr,
                "POST",
                "/api/agents/docker/report",
                &headers,
                Some(&body)
            )
            .status,
            200
        );
    }
    let state = http(
        pulse.addr,
        "GET",
        "/api/state",
        &[("X-API-Token", TOKEN)],
        None,
    );
    println!(
        "\n`/api/state` with 53 Docker hosts (50 × 40 + 10 + 200 + 2,000 containers): {} KB; RSS {} kB",
        state.body.len() / 1024,
        pulse.status_num("VmRSS")
    );
}
