//! Notifications: the cost of building each service's payload (template rendering + JSON
//! validation), and delivery through the notifier thread to a local receiver: latency from
//! the alert event to the request arriving, and throughput of a burst.
//!
//! `cargo test --release --test bench notify_ -- --ignored --nocapture`

use crate::support::TestServer;
use crate::util::percentile;
use pulse::alerts::alert::Level;
use pulse::alerts::engine::{Event, EventKind};
use pulse::notify::config::WebhookConfig;
use pulse::notify::payloads::{build, sample_alert, Kind};
use pulse::util::time::UtcTime;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

#[test]
#[ignore]
fn notify_payload_build_cost() {
    let now = UtcTime::now();
    let one = vec![sample_alert(now)];
    let hundred: Vec<_> = (0..100).map(|_| sample_alert(now)).collect();
    println!("| service | 1 alert: µs per payload | 100 alerts grouped: µs per payload | bytes (1 / 100) |");
    println!("|---|---:|---:|---:|");
    for service in [
        "discord",
        "slack",
        "teams",
        "telegram",
        "gotify",
        "ntfy",
        "pushover",
        "pagerduty",
        "generic",
    ] {
        let w = WebhookConfig {
            service: service.into(),
            url: "https://example.com/hook?chat_id=-100".into(),
            ..WebhookConfig::default()
        };
        let time = |batch: &[pulse::alerts::alert::Alert], n: u32| {
            let t = Instant::now();
            let mut size = 0;
            for _ in 0..n {
                size = build(&w, batch, Kind::Alert, "", now).unwrap().body.len();
            }
            (t.elapsed().as_secs_f64() * 1e6 / f64::from(n), size)
        };
        let (a, sa) = time(&one, 2000);
        let (b, sb) = time(&hundred, 200);
        println!("| {service} | {a:.1} | {b:.1} | {sa} / {sb} |");
    }
}

#[test]
#[ignore]
fn notify_delivery_latency_and_burst() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = channel::<Instant>();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut len = 0usize;
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).unwrap_or(0) == 0 || l.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                let _ = r.read_exact(&mut body);
                let _ = tx.send(Instant::now());
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            });
        }
    });
    let s = TestServer::start(&[
        ("PULSE_WEBHOOK_ALLOWED_CIDRS", "127.0.0.0/8"),
        ("PULSE_NOTIFY_RATE_PER_MIN", "1000000"),
    ]);
    let body = format!(r#"{{"name":"b","url":"http://{addr}/h","service":"discord"}}"#);
    let r = s.req(
        "POST",
        "/api/notifications/webhooks",
        &[("Content-Type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200);
    let event = |i: usize| {
        let mut a = sample_alert(UtcTime::now());
        a.id = format!("b{i}");
        a.level = Level::Critical;
        Event {
            kind: EventKind::Fired,
            alert: a,
            hold: None,
            notify: None,
        }
    };
    let fire = |evs: Vec<Event>| {
        s.apply(move |app| {
            app.notify
                .send(pulse::notify::delivery::Cmd::Events(evs, Duration::ZERO));
        })
    };
    let mut lat = Vec::new();
    for i in 0..200 {
        let t = Instant::now();
        fire(vec![event(i)]);
        let at = rx.recv_timeout(Duration::from_secs(10)).expect("delivered");
        lat.push(at - t);
    }
    lat.sort();
    // Burst: 200 single-alert batches handed over as fast as the loop takes them; one
    // destination is served one request at a time (in order), so this is its ceiling.
    let t = Instant::now();
    for i in 0..200 {
        fire(vec![event(10_000 + i)]);
    }
    for _ in 0..200 {
        rx.recv_timeout(Duration::from_secs(30))
            .expect("burst delivered");
    }
    let burst = t.elapsed();
    println!("| measure | value |");
    println!("|---|---:|");
    println!(
        "| event → webhook received, p50 | {:.2} ms |",
        lat[lat.len() / 2].as_secs_f64() * 1e3
    );
    println!(
        "| event → webhook received, p99 | {:.2} ms |",
        percentile(&lat, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "| burst of 200 to one destination | {:.0} deliveries/s |",
        200.0 / burst.as_secs_f64()
    );
}
