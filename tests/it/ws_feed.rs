//! The live feed with real WebSocket clients: handshake, welcome + initialState first,
//! broadcasts, ping/pong and requestData, origin refusal, and back-pressure (a client that
//! never reads is dropped while the others get every message).

use crate::support;
use crate::support::auth as auth_common;

use support::{ws_connect, ws_next, TestServer};

#[test]
fn welcome_then_initial_state_then_broadcasts() {
    let s = TestServer::start(&[]);
    s.apply(|app| app.publish_state(br#"{"nodes":[{"id":"pve-a"}],"vms":[]}"#.to_vec()));
    let mut ws = ws_connect(s.addr, "/ws", &[]).unwrap();
    let first = ws_next(&mut ws);
    assert_eq!(first["type"], "welcome");
    assert_eq!(first["data"]["message"], "Connected to Pulse WebSocket");
    let second = ws_next(&mut ws);
    assert_eq!(second["type"], "initialState");
    assert_eq!(second["data"]["nodes"][0]["id"], "pve-a");

    s.apply(|app| app.publish_state(br#"{"nodes":[{"id":"pve-b"}],"vms":[]}"#.to_vec()));
    let third = ws_next(&mut ws);
    assert_eq!(third["type"], "rawData");
    assert_eq!(third["data"]["nodes"][0]["id"], "pve-b");

    s.apply(|app| app.broadcast_event("settingsUpdate", &serde_json::json!({"theme": "dark"})));
    let fourth = ws_next(&mut ws);
    assert_eq!(fourth["type"], "settingsUpdate");
    assert_eq!(fourth["data"]["theme"], "dark");
}

#[test]
fn ping_gets_pong_and_request_data_gets_state() {
    let s = TestServer::start(&[]);
    s.apply(|app| app.publish_state(br#"{"nodes":[],"marker":7}"#.to_vec()));
    let mut ws = ws_connect(s.addr, "/ws", &[]).unwrap();
    ws_next(&mut ws);
    ws_next(&mut ws);
    ws.send(tungstenite::Message::Text(
        r#"{"type":"ping","data":{"timestamp":1}}"#.into(),
    ))
    .unwrap();
    let pong = ws_next(&mut ws);
    assert_eq!(pong["type"], "pong");
    assert!(pong["data"]["timestamp"].as_i64().unwrap() > 1_700_000_000);
    ws.send(tungstenite::Message::Text(
        r#"{"type":"requestData"}"#.into(),
    ))
    .unwrap();
    let data = ws_next(&mut ws);
    assert_eq!(data["type"], "rawData");
    assert_eq!(data["data"]["marker"], 7);
    // Garbage from the client is ignored, the connection stays usable.
    ws.send(tungstenite::Message::Text("not json".into()))
        .unwrap();
    ws.send(tungstenite::Message::Text(r#"{"type":"ping"}"#.into()))
        .unwrap();
    assert_eq!(ws_next(&mut ws)["type"], "pong");
}

#[test]
fn foreign_origins_are_refused_private_ones_allowed() {
    let s = TestServer::start(&[]);
    let err =
        ws_connect(s.addr, "/ws", &[("Origin", "https://evil.example.org")]).expect_err("refused");
    match err {
        tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 403),
        other => panic!("unexpected {other:?}"),
    }
    let mut ok = ws_connect(s.addr, "/ws", &[("Origin", "http://192.168.1.50:7655")]).unwrap();
    assert_eq!(ws_next(&mut ok)["type"], "welcome");

    let s2 = TestServer::start(&[("ALLOWED_ORIGINS", "https://dash.example.org")]);
    assert!(ws_connect(s2.addr, "/ws", &[("Origin", "https://dash.example.org")]).is_ok());
    assert!(ws_connect(s2.addr, "/ws", &[("Origin", "http://192.168.1.50")]).is_err());
}

#[test]
fn plain_get_on_ws_is_a_json_400() {
    let s = TestServer::start(&[]);
    let r = s.get("/ws");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("WebSocket"));
}

#[test]
fn socket_io_compat() {
    let s = TestServer::start(&[]);
    let r = s.get("/socket.io/?EIO=4&transport=polling");
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with("0{\"sid\":"));
    assert_eq!(
        s.get("/socket.io/?EIO=4&transport=polling&sid=1").text(),
        "6"
    );
    let mut ws = ws_connect(s.addr, "/socket.io/?EIO=4&transport=websocket", &[]).unwrap();
    assert_eq!(ws_next(&mut ws)["type"], "welcome");
}

#[test]
fn stalled_reader_is_dropped_while_readers_get_every_message() {
    // 51 clients from loopback: they arrive through a "proxy" with distinct client addresses,
    // since WebSocket connects are rate limited to 5/min per client.
    let s = TestServer::start(&[("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1/32")]);
    // A client that never reads (after the handshake), with a tiny receive window.
    let stalled =
        support::ws_connect_on(support::tiny_window_stream(s.addr), s.addr, "/ws", &[]).unwrap();
    const READERS: usize = 50;
    const EVENTS: usize = 80;
    // What each reader has seen: the broadcasts below keep within 16 frames of the slowest
    // reader (the queue holds 32), so a reader thread that a loaded machine schedules late is
    // not mistaken for a stalled client. The stalled one never reads and still overflows.
    let progress: std::sync::Arc<Vec<std::sync::atomic::AtomicUsize>> = std::sync::Arc::new(
        (0..READERS)
            .map(|_| std::sync::atomic::AtomicUsize::new(0))
            .collect(),
    );
    let readers: Vec<_> = (0..READERS)
        .map(|i| {
            let progress = std::sync::Arc::clone(&progress);
            let ip = format!("10.9.1.{i}");
            let mut ws = ws_connect(s.addr, "/ws", &[("X-Forwarded-For", &ip)]).unwrap();
            // Attached to the hub once the greeting arrives; only then do broadcasts reach it.
            assert_eq!(ws_next(&mut ws)["type"], "welcome");
            assert_eq!(ws_next(&mut ws)["type"], "initialState");
            std::thread::spawn(move || {
                let mut seen: Vec<u64> = Vec::new();
                while seen.len() < EVENTS {
                    match ws.read() {
                        Ok(tungstenite::Message::Text(t)) => {
                            // Cheap check (no need to parse 32 KiB): keys are sorted, seq is last.
                            let t = t.as_str();
                            if t.contains(r#""type":"testEvent""#) {
                                let at = t.rfind(r#""seq":"#).unwrap() + 6;
                                let digits: String =
                                    t[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
                                seen.push(digits.parse().unwrap());
                                progress[i].store(seen.len(), std::sync::atomic::Ordering::SeqCst);
                            }
                        }
                        Ok(_) => {}
                        Err(e) => panic!("reader lost the feed after {} events: {e}", seen.len()),
                    }
                }
                (seen, ws)
            })
        })
        .collect();
    let pad = "x".repeat(32 * 1024);
    for seq in 0..EVENTS {
        let slowest = || {
            progress
                .iter()
                .map(|p| p.load(std::sync::atomic::Ordering::SeqCst))
                .min()
                .unwrap_or(0)
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while slowest() + 16 <= seq && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let text = format!(r#"{{"seq":{seq},"pad":"{pad}"}}"#);
        s.apply(move |app| {
            let data: serde_json::Value = serde_json::from_str(&text).unwrap();
            app.broadcast_event("testEvent", &data)
        });
    }
    let mut alive = Vec::new();
    for r in readers {
        let (seen, ws) = r.join().expect("reader got every event");
        assert_eq!(
            seen,
            (0..EVENTS as u64).collect::<Vec<_>>(),
            "in order, none missing"
        );
        alive.push(ws);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    s.apply(move |app| tx.send((app.hub().len(), app.hub().dropped_total)).unwrap());
    let (clients, dropped) = rx.recv().unwrap();
    assert_eq!(dropped, 1, "exactly the stalled client was dropped");
    assert_eq!(clients, READERS);
    drop(stalled);
}

fn close_code(ws: &mut support::WsClient) -> Option<u16> {
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

#[test]
fn unauthenticated_feed_is_closed_with_1008_token_and_cookie_get_data() {
    let s = auth_common::start_with_admin(&[("API_TOKENS", "ws-token-for-tests-0001")]);
    // No credentials: the handshake completes, then the policy close code tells the UI to log in.
    let mut anon = ws_connect(s.addr, "/ws", &[]).unwrap();
    assert_eq!(close_code(&mut anon), Some(1008));
    let mut wrong = ws_connect(s.addr, "/ws", &[("X-API-Token", "not-the-token")]).unwrap();
    assert_eq!(close_code(&mut wrong), Some(1008));

    let mut by_token =
        ws_connect(s.addr, "/ws", &[("X-API-Token", "ws-token-for-tests-0001")]).unwrap();
    assert_eq!(ws_next(&mut by_token)["type"], "welcome");
    assert_eq!(ws_next(&mut by_token)["type"], "initialState");

    let browser = auth_common::login(&s);
    let cookie = browser.cookie_header();
    let mut by_cookie = ws_connect(s.addr, "/ws", &[("Cookie", &cookie)]).unwrap();
    assert_eq!(ws_next(&mut by_cookie)["type"], "welcome");
    assert_eq!(ws_next(&mut by_cookie)["type"], "initialState");
}

#[test]
fn websocket_connects_are_rate_limited_per_client() {
    let s = TestServer::start(&[]);
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(ws_connect(s.addr, "/ws", &[]).unwrap());
    }
    match ws_connect(s.addr, "/ws", &[]) {
        Err(tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 429);
            assert!(resp.headers().get("retry-after").is_some());
        }
        other => panic!(
            "sixth connect within a minute should be refused, got {:?}",
            other.map(|_| ())
        ),
    }
}

#[test]
fn theme_change_is_pushed_as_settings_update() {
    let s = TestServer::start(&[]);
    let mut ws = ws_connect(s.addr, "/ws", &[]).unwrap();
    assert_eq!(ws_next(&mut ws)["type"], "welcome");
    assert_eq!(ws_next(&mut ws)["type"], "initialState");
    let r = s.req(
        "POST",
        "/api/system/settings/update",
        &[("Content-Type", "application/json")],
        Some(br#"{"theme":"dark"}"#),
    );
    assert_eq!(r.status, 200, "{r:?}");
    loop {
        let m = ws_next(&mut ws);
        if m["type"] == "settingsUpdate" {
            assert_eq!(m["data"]["theme"], "dark");
            break;
        }
    }
    // test-notification reaches clients as the UI's auto-registration toast.
    assert_eq!(
        s.req("POST", "/api/test-notification", &[], None).json()["status"],
        "notification sent"
    );
    loop {
        let m = ws_next(&mut ws);
        if m["type"] == "node_auto_registered" {
            assert_eq!(m["data"]["name"], "test-node");
            break;
        }
    }
}

#[test]
fn request_data_floods_are_answered_at_most_once_a_second() {
    let s = TestServer::start(&[]);
    s.apply(|app| {
        app.publish_state(format!(r#"{{"pad":"{}"}}"#, "x".repeat(100_000)).into_bytes())
    });
    let mut ws = ws_connect(s.addr, "/ws", &[]).unwrap();
    ws_next(&mut ws);
    ws_next(&mut ws);
    for _ in 0..200 {
        ws.send(tungstenite::Message::Text(
            r#"{"type":"requestData"}"#.into(),
        ))
        .unwrap();
    }
    ws.send(tungstenite::Message::Text(r#"{"type":"ping"}"#.into()))
        .unwrap();
    // Everything up to the pong: 200 requests must not have become 200 snapshots.
    let mut snapshots = 0;
    loop {
        let m = ws_next(&mut ws);
        match m["type"].as_str() {
            Some("rawData") => snapshots += 1,
            Some("pong") => break,
            _ => {}
        }
    }
    assert!(
        (1..=2).contains(&snapshots),
        "{snapshots} snapshots for one burst"
    );
}

#[test]
fn socket_io_upgrades_count_as_websocket_connects() {
    let s = TestServer::start(&[]);
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(ws_connect(s.addr, "/socket.io/?EIO=4&transport=websocket", &[]).unwrap());
    }
    match ws_connect(s.addr, "/socket.io/?EIO=4&transport=websocket", &[]) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 429),
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn protocol_pings_are_answered_between_data_frames() {
    let s = TestServer::start(&[]);
    let mut ws = ws_connect(s.addr, "/ws", &[]).unwrap();
    ws_next(&mut ws);
    ws_next(&mut ws);
    ws.send(tungstenite::Message::Ping(b"are-you-there".to_vec().into()))
        .unwrap();
    s.apply(|app| app.broadcast_event("testEvent", &serde_json::json!({"n": 1})));
    let (mut pong, mut event) = (false, false);
    while !(pong && event) {
        match ws.read().expect("read") {
            tungstenite::Message::Pong(p) => {
                assert_eq!(&p[..], b"are-you-there");
                pong = true;
            }
            tungstenite::Message::Text(t) => event |= t.as_str().contains("testEvent"),
            _ => {}
        }
    }
}
