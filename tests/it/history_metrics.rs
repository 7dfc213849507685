//! `GET /metrics` through the real server over the demo estate: a strict parser of the text
//! exposition format accepts it, its values equal `/api/state`'s, label sets are fixed, and
//! it needs a `monitoring:read` token or session.

use crate::support::auth::{login, mint, start_with_admin};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's `promtool` (package `prometheus`; `.ci/run` unpacks it into /opt/prom).
pub fn promtool() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    let candidates = [
        std::env::var("PULSE_PROMTOOL").unwrap_or_default(),
        "/opt/prom/usr/bin/promtool".to_string(),
    ];
    candidates
        .into_iter()
        .chain(path.split(':').map(|d| format!("{d}/promtool")))
        .find(|p| !p.is_empty() && std::path::Path::new(p).exists())
        .expect("promtool not found: run .ci/run's install step (Debian package prometheus)")
}

/// `promtool check metrics` on `text`: exit 0 and no complaint.
pub fn promtool_check(text: &str) {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.0 == name
                && labels
                    .iter()
                    .all(|(k, v)| s.1.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.2)
}

pub type Sample = (String, BTreeMap<String, String>, f64);

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// A strict reader of the text format (0.0.4): HELP then TYPE before a family's samples,
/// each family once, valid names, quoted and escaped label values, no duplicate label names
/// or series, float values. Panics with the offending line.
pub fn parse(text: &str) -> Vec<Sample> {
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    assert!(text.ends_with('\n'), "must end with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(is_name(name) && helped.insert(name.to_string()), "{line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect(line);
            assert!(helped.contains(name), "TYPE before HELP: {line}");
            assert!(
                ["gauge", "counter", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter without _total: {line}");
            }
            assert!(
                typed.insert(name.to_string(), kind.to_string()).is_none(),
                "{line}"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let name_end = line.find(['{', ' ']).expect(line);
        let name = &line[..name_end];
        // A summary's samples are `<family>_sum` and `<family>_count`.
        let family = ["_sum", "_count"]
            .iter()
            .find_map(|sfx| {
                let base = name.strip_suffix(sfx)?;
                (typed.get(base).map(String::as_str) == Some("summary")).then_some(base)
            })
            .unwrap_or(name);
        assert!(typed.contains_key(family), "sample before TYPE: {line}");
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(r) = rest.strip_prefix('{') {
            let mut r = r;
            loop {
                if let Some(after) = r.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let (k, after) = r.split_once("=\"").expect(line);
                assert!(is_name(k) && !k.starts_with("__"), "{line}");
                let mut value = String::new();
                let mut chars = after.char_indices();
                let end = loop {
                    match chars.next().expect(line) {
                        (_, '\\') => match chars.next().expect(line).1 {
                            'n' => value.push('\n'),
                            '\\' => value.push('\\'),
                            '"' => value.push('"'),
                            c => panic!("bad escape \\{c} in {line}"),
                        },
                        (i, '"') => break i,
                        (_, c) => value.push(c),
                    }
                };
                assert!(
                    labels.insert(k.to_string(), value).is_none(),
                    "dup label {line}"
                );
                r = &after[end + 1..];
                r = r.strip_prefix(',').unwrap_or(r);
            }
        }
        let value = rest.strip_prefix(' ').expect(line);
        let v: f64 = match value {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value {line}")),
        };
        assert!(
            seen.insert(format!("{name}{labels:?}")),
            "duplicate series {line}"
        );
        out.push((name.to_string(), labels, v));
    }
    out
}

#[test]
fn metrics_are_valid_exposition_equal_to_the_state_and_need_a_token() {
    let s = start_with_admin(&[
        ("PULSE_MOCK_MODE", "true"),
        ("PULSE_MOCK_NODES", "2"),
        ("PULSE_MOCK_VMS_PER_NODE", "2"),
        ("PULSE_MOCK_LXCS_PER_NODE", "1"),
    ]);
    assert_eq!(s.get("/metrics").status, 401, "anonymous is refused");
    let b = login(&s);
    let (token, _) = mint(&s, &b, "prom", Some(&["monitoring:read"]));
    let (other, _) = mint(&s, &b, "other", Some(&["settings:read"]));
    let get = |path: &str, tok: &str| s.req("GET", path, &[("X-API-Token", tok)], None);
    assert_eq!(get("/metrics", &other).status, 403, "wrong scope");
    // Wait for the first poll, and take state and metrics while the figures hold still
    // long enough to compare (retry across a poll boundary).
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let state: Value = get("/api/state", &token).json();
        let r = get("/metrics", &token);
        assert_eq!(r.status, 200);
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let samples = parse(&r.text());
        let guests: Vec<&Value> = state["vms"]
            .as_array()
            .unwrap()
            .iter()
            .chain(state["containers"].as_array().unwrap())
            .collect();
        let cpu: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.0 == "pulse_guest_cpu_usage_ratio")
            .collect();
        if guests.len() == 6 && cpu.len() == 6 {
            let mut equal = true;
            for g in &guests {
                let want: BTreeSet<&str> = ["instance", "node", "vmid", "name", "type"].into();
                let m = cpu
                    .iter()
                    .find(|s| {
                        s.1["vmid"].parse::<u64>().ok() == g["vmid"].as_u64()
                            && s.1["node"] == g["node"].as_str().unwrap()
                    })
                    .expect("guest has a series");
                assert_eq!(
                    m.1.keys().map(String::as_str).collect::<BTreeSet<_>>(),
                    want
                );
                assert_eq!(m.1["name"], g["name"].as_str().unwrap());
                // Tags ride on one info series per guest, sorted and `;`-joined.
                let info = samples
                    .iter()
                    .find(|s| {
                        s.0 == "pulse_guest_info"
                            && s.1["vmid"].parse::<u64>().ok() == g["vmid"].as_u64()
                            && s.1["node"] == g["node"].as_str().unwrap()
                    })
                    .expect("guest info");
                let mut tags: Vec<&str> = g["tags"]
                    .as_str()
                    .unwrap_or("")
                    .split([';', ',', ' '])
                    .filter(|t| !t.is_empty())
                    .collect();
                tags.sort_unstable();
                tags.dedup();
                assert_eq!(info.1["tags"], tags.join(";"), "{g}");
                assert_eq!(info.2, 1.0);
                equal &= m.2 == g["cpu"].as_f64().unwrap();
            }
            let nodes = samples
                .iter()
                .filter(|s| s.0 == "pulse_node_memory_total_bytes")
                .count();
            assert_eq!(nodes, 2);
            let storage = samples
                .iter()
                .find(|s| s.0 == "pulse_storage_total_bytes")
                .expect("storage");
            assert_eq!(
                storage.1.keys().map(String::as_str).collect::<Vec<_>>(),
                ["instance", "node", "storage", "type"]
            );
            // The history counts samples once the first poll has finished (not its early part).
            let recorded = samples
                .iter()
                .any(|s| s.0 == "pulse_history_samples_total" && s.2 > 0.0);
            // Storage and node figures equal the state's too.
            for st in state["storage"].as_array().unwrap() {
                let labels = [
                    ("instance", st["instance"].as_str().unwrap()),
                    ("node", st["node"].as_str().unwrap()),
                    ("storage", st["storage"].as_str().unwrap()),
                ];
                equal &=
                    value_of(&samples, "pulse_storage_used_bytes", &labels) == st["used"].as_f64();
            }
            for n in state["nodes"].as_array().unwrap() {
                let labels = [
                    ("instance", n["instance"].as_str().unwrap()),
                    ("node", n["name"].as_str().unwrap()),
                ];
                equal &= value_of(&samples, "pulse_node_memory_used_bytes", &labels)
                    == n["memory"]["used"].as_f64();
            }
            // Active alerts by level add up to the state's list (the demo activates alerts).
            let active = state["activeAlerts"].as_array().map_or(0, Vec::len) as f64;
            let counted: f64 = ["warning", "critical"]
                .iter()
                .filter_map(|l| value_of(&samples, "pulse_alerts_active", &[("level", l)]))
                .sum();
            equal &= counted == active;
            if equal && recorded {
                let text = r.text();
                promtool_check(&text);
                // Pulse's own figures: the demo's polls (an instance whose poll finished),
                // answers, the process.
                let polled = samples
                    .iter()
                    .find(|x| {
                        x.0 == "pulse_polls_total" && x.1["result"] == "success" && x.2 >= 1.0
                    })
                    .expect("a successful poll is counted");
                let l = [
                    ("instance_type", polled.1["instance_type"].as_str()),
                    ("instance", polled.1["instance"].as_str()),
                ];
                assert!(
                    value_of(&samples, "pulse_poll_duration_seconds_count", &l).unwrap() >= 1.0
                );
                assert_eq!(
                    value_of(&samples, "pulse_scheduler_breaker_state", &l),
                    Some(0.0)
                );
                assert!(
                    value_of(&samples, "pulse_http_responses_total", &[("code", "2xx")]).unwrap()
                        >= 2.0
                );
                assert!(
                    value_of(&samples, "pulse_http_responses_total", &[("code", "4xx")]).unwrap()
                        >= 2.0,
                    "the 401 and 403 above"
                );
                assert!(
                    value_of(&samples, "pulse_process_resident_memory_bytes", &[]).unwrap() > 1e6
                );
                assert!(value_of(&samples, "pulse_process_threads", &[]).unwrap() >= 2.0);
                assert_eq!(
                    value_of(&samples, "pulse_websocket_clients", &[]),
                    Some(0.0),
                    "no WebSocket client in this test"
                );
                assert_eq!(
                    value_of(&samples, "pulse_guest_up", &[]).map(|_| ()),
                    Some(())
                );
                // Every family's label names are the documented set.
                for (fam, want) in [
                    ("pulse_node_up", &["instance", "node"][..]),
                    (
                        "pulse_guest_memory_used_bytes",
                        &["instance", "name", "node", "type", "vmid"],
                    ),
                    (
                        "pulse_storage_used_bytes",
                        &["instance", "node", "storage", "type"],
                    ),
                    (
                        "pulse_polls_total",
                        &["instance", "instance_type", "result"],
                    ),
                    ("pulse_http_responses_total", &["code"]),
                    (
                        "pulse_guest_info",
                        &["instance", "name", "node", "tags", "type", "vmid"],
                    ),
                ] {
                    for smp in samples.iter().filter(|x| x.0 == fam) {
                        let got: Vec<&str> = smp.1.keys().map(String::as_str).collect();
                        assert_eq!(got, want, "{fam}");
                    }
                }
                return;
            }
        }
        assert!(Instant::now() < until, "metrics never matched the state");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_metrics_port_serves_only_metrics_without_a_token() {
    let s = start_with_admin(&[
        ("PULSE_MOCK_MODE", "true"),
        ("PULSE_MOCK_NODES", "2"),
        ("PULSE_MOCK_VMS_PER_NODE", "1"),
        ("PULSE_MOCK_LXCS_PER_NODE", "1"),
        ("PULSE_METRICS_PORT", "0"),
    ]);
    let port = s.metrics_addr().expect("the metrics listener");
    assert_ne!(port, s.addr);
    // The main port still wants a token.
    assert_eq!(s.get("/metrics").status, 401);
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let r = crate::support::request(port, "GET", "/metrics", &[], None);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let samples = parse(&r.text());
        if samples.iter().any(|x| x.0 == "pulse_node_up" && x.2 == 1.0) {
            promtool_check(&r.text());
            break;
        }
        assert!(
            Instant::now() < until,
            "no node figures on the metrics port"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Nothing else is served there: not the API, not the UI.
    for path in ["/api/state", "/api/health", "/", "/metrics/"] {
        let r = crate::support::request(port, "GET", path, &[], None);
        assert_eq!(r.status, 404, "{path}");
    }
    let r = crate::support::request(port, "POST", "/metrics", &[], Some(b"{}"));
    assert_eq!(r.status, 405);
    s.stop();
    // A value that is not a port stops start-up with an error naming the variable.
    let dir = crate::support::temp_dir("metrics-port");
    let vars = [
        ("PULSE_DATA_DIR", dir.to_str().unwrap()),
        ("FRONTEND_PORT", "0"),
        ("PULSE_BIND_ADDRESS", "127.0.0.1"),
        ("PULSE_METRICS_PORT", "nine"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let cfg = pulse::env::RuntimeConfig::load(pulse::env::EnvVars::from_pairs(vars)).unwrap();
    let err = pulse::start_with(cfg, Vec::new()).err().expect("refused");
    assert!(err.to_string().contains("PULSE_METRICS_PORT"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
