//! `GET /metrics` through the real server over the demo estate: a strict parser of the text
//! exposition format accepts it, its values equal `/api/state`'s, label sets are fixed, and
//! it needs a `monitoring:read` token or session.

use crate::support::auth::{login, mint, start_with_admin};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

type Sample = (String, BTreeMap<String, String>, f64);

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// A strict reader of the text format (0.0.4): HELP then TYPE before a family's samples,
/// each family once, valid names, quoted and escaped label values, no duplicate label names
/// or series, float values. Panics with the offending line.
fn parse(text: &str) -> Vec<Sample> {
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
            assert!(["gauge", "counter", "untyped"].contains(&kind), "{line}");
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
        assert!(typed.contains_key(name), "sample before TYPE: {line}");
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
            if equal && recorded {
                return;
            }
        }
        assert!(Instant::now() < until, "metrics never matched the state");
        std::thread::sleep(Duration::from_millis(200));
    }
}
