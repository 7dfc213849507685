//! The `pulse` binary as a process: command line, environment and `.env` handling, start-up
//! failures on invalid values, and graceful shutdown on SIGTERM.

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn pulse() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pulse"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

/// Starts `pulse` and waits for its "listening" log line; returns the child, the port and
/// every stderr line read so far (the reader keeps collecting in the background).
#[allow(clippy::zombie_processes)] // callers wait() on the child they get back
pub fn spawn_server(cmd: &mut Command) -> (Child, u16, std::sync::mpsc::Receiver<String>) {
    let mut child = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn pulse");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("msg=listening") {
                let addr = line
                    .split("addr=")
                    .nth(1)
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap();
                let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
                return (child, port, rx);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("pulse did not start");
}

pub fn sigterm(child: &Child) {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}

#[test]
fn version_help_and_unknown_flags() {
    let out = pulse().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("pulse {}", pulse::VERSION)
    );

    let out = pulse().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("hash-password"));

    let out = pulse().arg("--frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown flag '--frobnicate'"));
}

#[test]
fn hash_password_prints_a_cost_12_bcrypt_hash() {
    let mut child = pulse()
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap();
    let hash = hash.trim();
    assert!(hash.starts_with("$2b$12$"), "{hash}");
    assert!(bcrypt::verify("correct horse", hash).unwrap());
    assert!(!bcrypt::verify("wrong", hash).unwrap());
}

#[test]
fn invalid_environment_values_stop_startup_with_a_clear_message() {
    let dir = support::temp_dir("badenv");
    for (key, value, accepted) in [
        ("FRONTEND_PORT", "seventy", "TCP port"),
        ("LOG_LEVEL", "loud", "debug, info, warn, error"),
        ("PULSE_MOCK_MODE", "maybe", "true, false"),
        ("CONNECTION_TIMEOUT", "soon", "seconds"),
    ] {
        let out = pulse()
            .env("PULSE_DATA_DIR", &dir)
            .env(key, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(key) && err.contains(value) && err.contains(accepted),
            "{key}: {err}"
        );
    }
}

#[test]
fn data_dir_is_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = support::temp_dir("mkdata");
    let dir = parent.join("nested/pulse");
    let out = pulse()
        .env("PULSE_DATA_DIR", &dir)
        .env("FRONTEND_PORT", "bad")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn dot_env_fills_gaps_but_never_overrides_the_process_environment() {
    let dir = support::temp_dir("dotenv");
    // If .env won, FRONTEND_PORT would be invalid and start-up would fail.
    std::fs::write(
        dir.join(".env"),
        "FRONTEND_PORT=not-a-port\nLOG_LEVEL=debug\n",
    )
    .unwrap();
    let mut cmd = pulse();
    cmd.env("PULSE_DATA_DIR", &dir)
        .env("FRONTEND_PORT", "0")
        .env("PULSE_BIND_ADDRESS", "127.0.0.1");
    let (child, port, rx) = spawn_server(&mut cmd);
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let r = support::request(addr, "GET", "/api/health", &[], None);
    assert_eq!(r.status, 200);
    // LOG_LEVEL=debug came from .env: the request shows up in the debug access log.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = false;
    while Instant::now() < deadline && !seen {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            seen = line.contains("level=debug") && line.contains("path=/api/health");
        }
    }
    sigterm(&child);
    let status = child.wait_with_output().unwrap().status;
    assert!(
        seen,
        "no debug access-log line: .env LOG_LEVEL was not applied"
    );
    assert!(status.success());
}

#[test]
fn sigterm_shuts_down_gracefully_with_exit_0() {
    let dir = support::temp_dir("sigterm");
    let mut cmd = pulse();
    cmd.env("PULSE_DATA_DIR", &dir)
        .env("FRONTEND_PORT", "0")
        .env("PULSE_BIND_ADDRESS", "127.0.0.1");
    let (mut child, port, rx) = spawn_server(&mut cmd);
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(
        support::request(addr, "GET", "/api/health", &[], None).status,
        200
    );
    sigterm(&child);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "pulse did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let lines: Vec<String> = rx.try_iter().collect();
    assert!(
        lines.iter().any(|l| l.contains("shutdown complete")),
        "{lines:?}"
    );
}

#[test]
fn config_subcommand_reaches_the_data_dir() {
    let dir = support::temp_dir("cfgcmd");
    let out = pulse()
        .arg("config")
        .arg("info")
        .env("PULSE_DATA_DIR", &dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&dir.display().to_string()) && text.contains("Nodes: 0 PVE"),
        "{text}"
    );
    let out = pulse()
        .args(["config", "frobnicate"])
        .env("PULSE_DATA_DIR", &dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
}
