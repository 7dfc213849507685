//! Install scripts (bash -n, shellcheck) and agent binary downloads with their checksum.

use crate::support::TestServer;

fn check_script(body: &str, tag: &str) {
    let dir = crate::support::temp_dir(tag);
    let path = dir.join("install.sh");
    std::fs::write(&path, body).unwrap();
    let n = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        n.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&n.stderr)
    );
    let sc = std::process::Command::new("shellcheck")
        .arg(&path)
        .output()
        .expect("shellcheck is installed (.ci/run installs it)");
    assert!(
        sc.status.success(),
        "shellcheck: {}",
        String::from_utf8_lossy(&sc.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn install_scripts_pass_bash_n_and_shellcheck() {
    let srv = TestServer::start(&[]);
    for (path, agent) in [
        ("/install-docker-agent.sh", "pulse-docker-agent"),
        ("/install-host-agent.sh", "pulse-host-agent"),
    ] {
        let r = srv.get(path);
        assert_eq!(r.status, 200);
        assert!(r.header("content-type").unwrap().contains("shellscript"));
        assert!(r.header("cache-control").unwrap().contains("no-store"));
        let body = r.text();
        assert!(body.contains(&format!("AGENT=\"{agent}\"")));
        assert!(
            body.contains(&format!("urls=(\"http://{}\")", srv.addr)),
            "default URL is this server"
        );
        assert!(body.contains("X-Checksum-Sha256") || body.contains("x-checksum-sha256"));
        assert!(body.contains("--uninstall"));
        check_script(&body, "script");
    }
}

#[test]
fn agent_downloads_carry_their_checksum_or_say_what_to_install() {
    let bin = crate::support::temp_dir("bins");
    let bytes = b"\x7fELF not really an agent".to_vec();
    std::fs::write(bin.join("pulse-docker-agent-linux-arm64"), &bytes).unwrap();
    let dir = bin.display().to_string();
    let srv = TestServer::start(&[("PULSE_AGENT_BIN_DIR", &dir)]);
    let r = srv.get("/download/pulse-docker-agent?arch=arm64");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bytes);
    let sum = ring::digest::digest(&ring::digest::SHA256, &bytes);
    assert_eq!(
        r.header("x-checksum-sha256").unwrap(),
        data_encoding::HEXLOWER.encode(sum.as_ref())
    );
    assert_eq!(
        r.header("content-type").unwrap(),
        "application/octet-stream"
    );
    let r = srv.get("/download/pulse-host-agent?arch=linux-amd64");
    assert_eq!(r.status, 404);
    let msg = r.json()["error"].as_str().unwrap().to_string();
    assert!(
        msg.contains("pulse-host-agent-linux-amd64") && msg.contains("make static"),
        "{msg}"
    );
    assert_eq!(
        srv.get("/download/pulse-docker-agent?arch=sparc").status,
        400
    );
    let _ = std::fs::remove_dir_all(&bin);
}

/// Stand-ins for what the script needs from a real host: root (`id -u`), the architecture
/// (`uname -m`) and systemd (`systemctl`, which logs its arguments).
fn fake_host_tools(dir: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let tools = dir.join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    let log = dir.join("systemctl.log");
    for (name, body) in [
        ("id", "echo 0".to_string()),
        ("uname", "echo x86_64".to_string()),
        ("systemctl", format!("echo \"$*\" >> '{}'", log.display())),
    ] {
        let p = tools.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs the install script with `args`, everything installed below `root`.
fn install(
    script: &std::path::Path,
    root: &std::path::Path,
    path: &str,
    args: &[&str],
) -> (bool, String) {
    let out = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .env("PATH", path)
        .env("PULSE_INSTALL_ROOT", root)
        .env_remove("PULSE_URL")
        .env_remove("PULSE_TOKEN")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// One HTTP answer to whatever is asked: a binary whose checksum header lies.
fn lying_server(body: &'static [u8]) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Checksum-Sha256: {}\r\nConnection: close\r\n\r\n",
                body.len(),
                "0".repeat(64)
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body);
        }
    });
    addr
}

#[test]
fn install_script_downloads_verifies_installs_and_uninstalls() {
    use std::os::unix::fs::PermissionsExt;
    let dir = crate::support::temp_dir("install-run");
    let bins = dir.join("bins");
    std::fs::create_dir_all(&bins).unwrap();
    let agent = b"#!/bin/sh\necho fake host agent\n".to_vec();
    std::fs::write(bins.join("pulse-host-agent-linux-amd64"), &agent).unwrap();
    let srv = TestServer::start(&[("PULSE_AGENT_BIN_DIR", &bins.display().to_string())]);
    let script = dir.join("install-host-agent.sh");
    std::fs::write(&script, srv.get("/install-host-agent.sh").text()).unwrap();
    let path = fake_host_tools(&dir);
    let root = dir.join("root");

    // A server whose checksum does not match what it sent: refused, nothing installed.
    let liar = lying_server(b"not the agent");
    let (ok, out) = install(
        &script,
        &root,
        &path,
        &["--url", &format!("http://{liar}"), "--token", "t0"],
    );
    assert!(!ok && out.contains("checksum mismatch"), "{out}");
    assert!(!root.join("usr/local/bin/pulse-host-agent").exists());

    // From this Pulse (the script's default URL): binary, token, environment, unit, started.
    let (ok, out) = install(
        &script,
        &root,
        &path,
        &["--token", "tok-123", "--interval", "15s"],
    );
    assert!(ok, "{out}");
    let bin = root.join("usr/local/bin/pulse-host-agent");
    assert_eq!(std::fs::read(&bin).unwrap(), agent);
    assert_eq!(
        std::fs::metadata(&bin).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let token = root.join("etc/pulse/pulse-host-agent.token");
    assert_eq!(std::fs::read_to_string(&token).unwrap(), "tok-123\n");
    assert_eq!(
        std::fs::metadata(&token).unwrap().permissions().mode() & 0o077,
        0,
        "token readable by root only"
    );
    let env = std::fs::read_to_string(root.join("etc/pulse/pulse-host-agent.env")).unwrap();
    assert!(
        env.contains(&format!("PULSE_URL=http://{}\n", srv.addr)),
        "{env}"
    );
    assert!(env.contains("PULSE_INTERVAL=15s\n"), "{env}");
    let unit =
        std::fs::read_to_string(root.join("etc/systemd/system/pulse-host-agent.service")).unwrap();
    assert!(
        unit.contains(&format!("ExecStart={}", bin.display())),
        "{unit}"
    );
    let log = std::fs::read_to_string(dir.join("systemctl.log")).unwrap();
    assert!(
        log.contains("enable --now pulse-host-agent.service"),
        "{log}"
    );

    // Not on the server: a clear failure.
    std::fs::remove_file(bins.join("pulse-host-agent-linux-amd64")).unwrap();
    let (ok, out) = install(&script, &dir.join("root2"), &path, &["--token", "t"]);
    assert!(!ok && out.contains("download failed"), "{out}");

    // --uninstall removes what was installed and disables the service.
    let (ok, out) = install(&script, &root, &path, &["--uninstall"]);
    assert!(ok, "{out}");
    assert!(!bin.exists() && !token.exists());
    assert!(!root
        .join("etc/systemd/system/pulse-host-agent.service")
        .exists());
    let log = std::fs::read_to_string(dir.join("systemctl.log")).unwrap();
    assert!(
        log.contains("disable --now pulse-host-agent.service"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
