//! No secret leaks: run the real `pulse` binary (debug logging on), go through a full
//! session, and search its log, every response and every file in the data dir for the
//! passwords and token values. A token value may appear only in the one response that
//! creates it.

use crate::support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{request, Response};

const PASSWORD: &str = "Plain-Text-Pass-123";
const WRONG: &str = "Wrong-Guess-Pass-987";
const NEW_PASSWORD: &str = "Brand-New-Pass-456";
const ENV_TOKEN: &str = "env-secret-token-abcdef123456";

fn cookie(r: &Response, name: &str) -> String {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, v)| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_string()
}

/// Everything a response exposes, as one string.
fn dump(r: &Response) -> String {
    let mut s = format!("{}\n", r.status);
    for (k, v) in &r.headers {
        s.push_str(&format!("{k}: {v}\n"));
    }
    s.push_str(&r.text());
    s
}

#[test]
fn a_full_session_leaks_no_password_or_token() {
    let dir = support::temp_dir("auth-secrets");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pulse"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PULSE_DATA_DIR", &dir)
        .env("FRONTEND_PORT", "0")
        .env("PULSE_BIND_ADDRESS", "127.0.0.1")
        .env("LOG_LEVEL", "debug")
        .env("PULSE_AUTH_USER", "admin")
        .env("PULSE_AUTH_PASS", PASSWORD)
        .env("API_TOKENS", ENV_TOKEN)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn pulse");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr: SocketAddr = loop {
        assert!(Instant::now() < deadline, "pulse did not start: {log:?}");
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let found = line
                .split("addr=")
                .nth(1)
                .and_then(|a| a.split_whitespace().next())
                .map(str::to_string);
            log.push(line);
            if let Some(a) =
                found.filter(|_| log.last().is_some_and(|l| l.contains("msg=listening")))
            {
                break a.parse().unwrap();
            }
        }
    };

    let json = [("Content-Type", "application/json")];
    let mut responses: Vec<String> = Vec::new();
    let mut send = |method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>| {
        let r = request(addr, method, path, headers, body.map(str::as_bytes));
        responses.push(dump(&r));
        r
    };

    send("GET", "/api/security/status", &[], None);
    let login = |p: &str| serde_json::json!({"username": "admin", "password": p}).to_string();
    assert_eq!(
        send("POST", "/api/login", &json, Some(&login(WRONG))).status,
        401
    );
    let r = send("POST", "/api/login", &json, Some(&login(PASSWORD)));
    assert_eq!(r.status, 200);
    let cookies = format!(
        "pulse_session={}; pulse_csrf={}",
        cookie(&r, "pulse_session"),
        cookie(&r, "pulse_csrf")
    );

    let session = cookie(&r, "pulse_session");
    // A write without the CSRF header is refused and hands out a fresh token (the UI retries).
    let r = send(
        "POST",
        "/api/security/tokens",
        &[("Cookie", cookies.as_str())],
        Some("{}"),
    );
    assert_eq!(r.status, 403);
    let csrf = r.header("x-csrf-token").unwrap().to_string();
    let cookies = format!("pulse_session={session}; pulse_csrf={csrf}");
    let browser = [
        ("Cookie", cookies.as_str()),
        ("X-CSRF-Token", csrf.as_str()),
        ("Content-Type", "application/json"),
    ];

    send("GET", "/api/security/tokens", &browser, None);
    send(
        "GET",
        "/api/security/status",
        &[("X-API-Token", ENV_TOKEN)],
        None,
    );
    // The one response allowed to carry this token's value.
    let created = request(
        addr,
        "POST",
        "/api/security/tokens",
        &browser,
        Some(br#"{"name":"ci"}"#),
    );
    assert_eq!(created.status, 200);
    let token = created.json()["token"].as_str().unwrap().to_string();
    send(
        "GET",
        "/api/security/tokens",
        &[("X-API-Token", &token)],
        None,
    );
    send(
        "GET",
        "/api/security/status",
        &[("Authorization", &format!("Bearer {token}"))],
        None,
    );
    assert_eq!(
        send(
            "GET",
            &format!("/api/security/tokens?token={token}"),
            &[],
            None
        )
        .status,
        400
    );
    assert_eq!(
        send(
            "GET",
            "/api/security/tokens",
            &[("X-API-Token", "pulse_not-a-real-token")],
            None
        )
        .status,
        401
    );
    let change =
        serde_json::json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}).to_string();
    assert_eq!(
        send(
            "POST",
            "/api/security/change-password",
            &browser,
            Some(&change)
        )
        .status,
        200
    );
    assert_eq!(
        send("POST", "/api/login", &json, Some(&login(NEW_PASSWORD))).status,
        200
    );
    let regenerated = request(
        addr,
        "POST",
        "/api/security/regenerate-token",
        &browser,
        None,
    );
    assert_eq!(regenerated.status, 200);
    let token2 = regenerated.json()["token"].as_str().unwrap().to_string();
    send(
        "GET",
        "/api/security/tokens",
        &[("X-API-Token", &token2)],
        None,
    );
    send("GET", "/api/security/recovery", &browser, None);
    send("POST", "/api/logout", &browser, None);

    // Stop the server and collect its whole log.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let _ = reader.join();
    log.extend(rx.try_iter());
    let log = log.join("\n");
    assert!(
        log.contains("msg=\"http request\""),
        "debug request logging was on"
    );

    let mut files = String::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        if entry.path().is_file() {
            files.push_str(&String::from_utf8_lossy(
                &std::fs::read(entry.path()).unwrap(),
            ));
        }
    }
    assert!(
        files.contains("\"event\":\"password_change\""),
        "audit log written"
    );

    let secrets = [
        PASSWORD,
        WRONG,
        NEW_PASSWORD,
        ENV_TOKEN,
        token.as_str(),
        token2.as_str(),
    ];
    for s in secrets {
        assert!(!log.contains(s), "log leaks {s}");
        assert!(!files.contains(s), "data dir leaks {s}");
        for r in &responses {
            assert!(!r.contains(s), "response leaks {s}: {r}");
        }
    }
    // And each new token shows up nowhere but its own creating response.
    assert!(!dump(&regenerated).contains(&token));
    assert!(!dump(&created).contains(&token2));
    let _ = std::fs::remove_dir_all(&dir);
}
