//! The API document's own examples, run as the document prints them against the real server in
//! demo mode: the Python example (always; `python3` with `requests` is a test dependency, see
//! `.ci/run`), the curl examples (full "monitor a new node" walk-through, add node, guest
//! metadata update), and the PowerShell example where `pwsh` exists. The code is read from
//! `../shared/spec/API.md` at run time; only the placeholders the document asks the reader to
//! fill in are replaced: the server address, the token, and the example node's address (a
//! loopback port nothing listens on, so the test never leaves the machine).

use crate::support;

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::auth::{login, mint, start_with_admin};
use support::TestServer;

fn api_md() -> String {
    let path = format!("{}/../shared/spec/API.md", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The first ```` ```lang ```` block after the line containing `marker`.
fn block_after(doc: &str, marker: &str, lang: &str) -> String {
    let at = doc
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} not in API.md"));
    let fence = format!("```{lang}\n");
    let start = at + doc[at..].find(&fence).expect("code block") + fence.len();
    let len = doc[start..].find("\n```").expect("end of block");
    doc[start..start + len].to_string()
}

struct Fill {
    base: String,
    token: String,
    node_host: String,
}

impl Fill {
    fn apply(&self, code: &str) -> String {
        code.replace("http://localhost:7655", &self.base)
            .replace("your-secure-token", &self.token)
            .replace("your-token", &self.token)
            .replace("https://192.168.1.100:8006", &self.node_host)
    }
}

fn run(program: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn has(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn demo_server() -> (TestServer, Fill, Vec<String>) {
    let s = start_with_admin(&[
        ("PULSE_MOCK_MODE", "true"),
        ("PULSE_MOCK_NODES", "2"),
        ("PULSE_MOCK_VMS_PER_NODE", "1"),
        ("PULSE_MOCK_LXCS_PER_NODE", "1"),
    ]);
    let b = login(&s);
    let (token, _) = mint(&s, &b, "docs", None);
    let deadline = Instant::now() + Duration::from_secs(60);
    let names = loop {
        let v: Value = s
            .req(
                "GET",
                "/api/state",
                &[("X-API-Token", token.as_str())],
                None,
            )
            .json();
        let online: Vec<String> = v["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| n["status"] == "online")
            .map(|n| n["name"].as_str().unwrap().to_string())
            .collect();
        if online.len() == 2 {
            break online;
        }
        assert!(Instant::now() < deadline, "demo never polled: {v}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let fill = Fill {
        base: format!("http://{}", s.addr),
        token,
        node_host: format!("https://127.0.0.1:{port}"),
    };
    (s, fill, names)
}

#[test]
fn python_example_runs_unchanged() {
    let doc = api_md();
    let code = block_after(&doc, "### Python Example", "python");
    let (s, fill, names) = demo_server();
    let (ok, out, err) = run("python3", &["-"], &fill.apply(&code));
    assert!(ok, "python example failed:\n{out}\n{err}");
    assert!(out.contains("Status: healthy"), "{out}");
    for name in &names {
        assert!(out.contains(&format!("Node: {name} - online")), "{out}");
    }
    s.stop();
}

#[test]
fn curl_examples_run_unchanged() {
    assert!(
        has("curl"),
        "curl is a test dependency (.ci/run installs it)"
    );
    let doc = api_md();
    let (s, fill, names) = demo_server();

    // The full walk-through: test connection, add the node, read state and charts.
    let code = block_after(&doc, "### Full Example: Monitor a New Node", "bash");
    let (ok, out, err) = run("bash", &["-e"], &fill.apply(&code));
    assert!(ok, "{out}\n{err}");
    // Step 1 reports the unreachable example host as a JSON error naming it.
    assert!(out.contains("\"status\":\"error\""), "{out}");
    // Step 2 adds it.
    assert!(out.contains("\"status\":\"success\""), "{out}");
    // Steps 3 and 4: the state with the demo nodes, and chart data.
    for name in &names {
        assert!(out.contains(&format!("\"name\":\"{name}\"")), "{out}");
    }
    assert!(out.contains("\"nodeData\""), "{out}");
    let nodes: Value = s
        .req(
            "GET",
            "/api/config/nodes",
            &[("X-API-Token", fill.token.as_str())],
            None,
        )
        .json();
    assert!(
        nodes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == "pve-node-1"),
        "{nodes}"
    );

    // Add Node Example.
    let code = block_after(&doc, "#### Add Node Example", "bash");
    let (ok, out, err) = run("bash", &["-e"], &fill.apply(&code));
    assert!(ok && out.contains("\"status\":\"success\""), "{out}\n{err}");

    // Guest metadata update, as the document shows it.
    let code = block_after(&doc, "Example metadata update:", "bash");
    let (ok, out, err) = run("bash", &["-e"], &fill.apply(&code));
    assert!(ok, "{out}\n{err}");
    let rec: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(
        rec["consoleUrl"],
        "https://custom-console.example.com/vm/100"
    );
    assert_eq!(rec["notes"], "Production database server");
    s.stop();
}

#[test]
fn powershell_example_runs_unchanged_where_pwsh_exists() {
    if !has("pwsh") {
        eprintln!("pwsh not installed: PowerShell example skipped");
        return;
    }
    let doc = api_md();
    let code = block_after(&doc, "### PowerShell Example", "powershell");
    let (s, fill, _) = demo_server();
    let (ok, out, err) = run("pwsh", &["-NoProfile", "-Command", "-"], &fill.apply(&code));
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("Status: healthy"), "{out}");
    // `/api/config/nodes` in demo mode lists the demo estate.
    assert!(out.contains("Node: mock-cluster - connected"), "{out}");
    s.stop();
}
