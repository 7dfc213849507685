//! Setup scripts: syntax (`bash -n`, shellcheck when installed) and a real run of each script
//! against stub Proxmox CLIs, posting to a local HTTP listener, to check what the node sends.

use pulse::config::model::nodes::NodeType;
use pulse::setup::script::{render, ScriptParams};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::{fs, thread};

fn temp_dir(tag: &str) -> PathBuf {
    // A counter, not only the time: two tests of one node type starting in the same
    // millisecond shared a directory, and the first to finish deleted the other's script.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "pulse-setup-{tag}-{}-{}-{n}",
        std::process::id(),
        pulse::util::time::now_ms()
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn script(t: NodeType, pulse_url: &str) -> String {
    render(&ScriptParams {
        node_type: t,
        host: Some("10.9.8.7".to_string()),
        pulse_url: pulse_url.to_string(),
        backup_perms: false,
        auth_token: None,
        now: 1_700_000_000,
    })
    .unwrap()
}

#[test]
fn scripts_pass_bash_n_and_shellcheck() {
    let dir = temp_dir("syntax");
    let has_shellcheck = Command::new("shellcheck").arg("--version").output().is_ok();
    for t in NodeType::ALL {
        let path = dir.join(format!("{}.sh", t.as_str()));
        fs::write(&path, script(t, "https://pulse.lan:7655")).unwrap();
        let out = Command::new("bash").arg("-n").arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "{t:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if has_shellcheck {
            let out = Command::new("shellcheck")
                .args(["-S", "warning"])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{t:?}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

fn stub(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Accepts one HTTP request, answers `status`, returns (request line, body).
fn one_request(
    listener: TcpListener,
    status: &'static str,
) -> thread::JoinHandle<(String, String)> {
    thread::spawn(move || {
        // Bounded: a script that never calls (it failed first) must fail the test, not hang it.
        listener.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "the setup script never called Pulse"
                    );
                    thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).unwrap();
        let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 20\r\nConnection: close\r\n\r\n{{\"status\":\"success\"}}");
        reader.get_mut().write_all(reply.as_bytes()).unwrap();
        (request_line, String::from_utf8(body).unwrap())
    })
}

/// Runs a script with stubbed system commands; returns (exit ok, stdout, command log, request).
fn run(
    t: NodeType,
    code: Option<&str>,
    status: &'static str,
) -> (bool, String, String, Option<(String, String)>) {
    run_with(t, code, status, &[])
}

/// `run` with arguments for the script.
fn run_with(
    t: NodeType,
    code: Option<&str>,
    status: &'static str,
    args: &[&str],
) -> (bool, String, String, Option<(String, String)>) {
    let dir = temp_dir(t.as_str());
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let log = dir.join("calls.log");
    let log_cmd = format!("echo \"$(basename \"$0\") $*\" >> '{}'", log.display());
    stub(&bin, "id", "echo 0");
    stub(&bin, "hostname", "echo node1.lan");
    for tool in ["pveum", "proxmox-backup-manager"] {
        stub(&bin, tool, &format!(
            "{log_cmd}\ncase \"$*\" in *token*) echo '{{\"full-tokenid\":\"x\",\"value\":\"0d5e-secret-uuid\"}}';; esac"
        ));
    }
    stub(
        &bin,
        "pmgsh",
        &format!("{log_cmd}\ncase \"$1\" in get) exit 1;; esac"),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = code.map(|_| one_request(listener, status));
    let path = dir.join("setup.sh");
    fs::write(&path, script(t, &url)).unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(&path)
        .args(args)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match code {
        Some(c) => cmd.env("PULSE_SETUP_TOKEN", c),
        None => cmd.env_remove("PULSE_SETUP_TOKEN"),
    };
    // A new session has no controlling terminal, so the code prompt (which reads /dev/tty) cannot
    // block when the tests are run from an interactive shell.
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let calls = fs::read_to_string(&log).unwrap_or_default();
    let req = server.map(|s| s.join().unwrap());
    fs::remove_dir_all(&dir).unwrap();
    let stdout =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), stdout, calls, req)
}

#[test]
fn pve_script_creates_read_only_token_and_registers() {
    let (ok, out, calls, req) = run(NodeType::Pve, Some("AB3DEF"), "200 OK");
    assert!(ok, "{out}");
    assert!(
        calls.contains("pveum user add pulse-monitor@pam"),
        "{calls}"
    );
    assert!(
        calls.contains(
            "pveum user token add pulse-monitor@pam pulse-127-0-0-1-1700000000 --privsep 0"
        ),
        "{calls}"
    );
    assert!(
        calls.contains("pveum aclmod / -user pulse-monitor@pam -role PVEAuditor"),
        "{calls}"
    );
    assert!(
        !calls.contains("PVEDatastoreAdmin"),
        "backup perms only when asked"
    );
    let (line, body) = req.unwrap();
    assert!(line.starts_with("POST /api/auto-register "), "{line}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["type"], "pve");
    assert_eq!(v["host"], "https://10.9.8.7:8006");
    assert_eq!(v["serverName"], "node1.lan");
    assert_eq!(v["tokenId"], "pulse-monitor@pam!pulse-127-0-0-1-1700000000");
    assert_eq!(v["tokenValue"], "0d5e-secret-uuid");
    assert_eq!(v["authToken"], "AB3DEF");
}

#[test]
fn pbs_script_grants_audit_to_user_and_token() {
    let (ok, out, calls, req) = run(NodeType::Pbs, Some("AB3DEF"), "200 OK");
    assert!(ok, "{out}");
    assert!(
        calls.contains("acl update / Audit --auth-id pulse-monitor@pbs!pulse-127-0-0-1-1700000000"),
        "{calls}"
    );
    let v: serde_json::Value = serde_json::from_str(&req.unwrap().1).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["host"].as_str()),
        (Some("pbs"), Some("https://10.9.8.7:8007"))
    );
}

#[test]
fn pmg_script_creates_audit_user_with_password() {
    let (ok, out, calls, req) = run(NodeType::Pmg, Some("AB3DEF"), "200 OK");
    assert!(ok, "{out}");
    assert!(
        calls.contains("pmgsh create /access/users --userid pulse-monitor@pmg --password"),
        "{calls}"
    );
    assert!(calls.contains("--role audit"), "{calls}");
    let v: serde_json::Value = serde_json::from_str(&req.unwrap().1).unwrap();
    assert_eq!(v["username"], "pulse-monitor@pmg");
    assert!(v["password"].as_str().unwrap().len() >= 24);
}

#[test]
fn without_a_code_the_script_prints_manual_instructions() {
    let (ok, out, _, _) = run(NodeType::Pve, None, "200 OK");
    assert!(ok, "{out}");
    assert!(
        out.contains("Token value: 0d5e-secret-uuid")
            && out.contains("Host: https://10.9.8.7:8006"),
        "{out}"
    );
}

#[test]
fn a_refused_registration_fails_loudly() {
    let (ok, out, _, _) = run(NodeType::Pve, Some("WRONG2"), "401 Unauthorized");
    assert!(!ok);
    assert!(out.contains("HTTP 401"), "{out}");
}

#[test]
fn remove_mode_deletes_the_monitoring_user_and_registers_nothing() {
    for (t, expect) in [
        (NodeType::Pve, "pveum user delete pulse-monitor@pam"),
        (
            NodeType::Pbs,
            "proxmox-backup-manager user remove pulse-monitor@pbs",
        ),
        (
            NodeType::Pmg,
            "pmgsh delete /access/users/pulse-monitor@pmg",
        ),
    ] {
        let (ok, out, calls, _) = run_with(t, None, "200 OK", &["--remove"]);
        assert!(ok, "{out}");
        assert!(calls.contains(expect), "{t:?}: {calls}");
        assert!(
            !calls.contains("token add") && !calls.contains("generate-token"),
            "{calls}"
        );
    }
}
