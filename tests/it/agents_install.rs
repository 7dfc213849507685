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
