//! The request side of the hostile-client suite: oversized, foreign and smuggling-shaped
//! requests, huge declared lengths, pipelining, `Expect`, HEAD and a password guesser, each
//! over plain HTTP and over TLS.

use super::*;
use crate::support::raw_client::read_response;
use std::io::Write;
use std::net::Ipv4Addr;

over_both_transports!(
    oversized_and_foreign_requests_get_exact_statuses_and_a_close,
    smuggling_shapes_are_400_and_the_connection_closes,
    huge_declared_lengths_are_413_and_the_process_survives,
    five_wrong_passwords_do_not_lock_the_admin_out_elsewhere,
    pipelined_requests_are_answered_in_order,
    expect_100_continue,
    head_has_the_headers_of_get_and_no_body,
);

/// 100 KB header, 10,000 headers, 1 MB URL, invalid UTF-8, TLS bytes, HTTP/2 prefaces.
fn oversized_and_foreign_requests_get_exact_statuses_and_a_close(tr: Transport) {
    let mut t = start(tr, &[]);
    let base = baseline(&mut t);
    let big_header = format!(
        "GET /api/health HTTP/1.1\r\nHost: pulse\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let mut many = String::from("GET /api/health HTTP/1.1\r\nHost: pulse\r\n");
    for i in 0..10_000 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    // 101 short headers: under 16 KiB, over the count limit.
    let mut hundred_one = String::from("GET /api/health HTTP/1.1\r\n");
    for i in 0..101 {
        hundred_one.push_str(&format!("X-H{i}: v\r\n"));
    }
    hundred_one.push_str("\r\n");
    let long_url = format!(
        "GET /{} HTTP/1.1\r\nHost: pulse\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let url_9k = format!(
        "GET /{} HTTP/1.1\r\nHost: pulse\r\n\r\n",
        "b".repeat(9 * 1024)
    );
    // The start of a real TLS 1.2 ClientHello (record header, handshake header, version,
    // random...), as a browser sends to https:// on the plain port. Over TLS the same bytes
    // travel inside the session: to the HTTP parser they are binary garbage just the same.
    let mut tls = vec![
        0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
    ];
    tls.extend((0u8..32).map(|i| i.wrapping_mul(37)));
    tls.extend_from_slice(&[0x00, 0x00, 0x20, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e]);
    tls.extend(std::iter::repeat_n(0u8, 140));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("100 KB header", big_header.into_bytes(), 431),
        ("10,000 headers", many.into_bytes(), 431),
        ("101 headers", hundred_one.into_bytes(), 431),
        ("1 MB URL", long_url.into_bytes(), 414),
        ("9 KiB URL", url_9k.into_bytes(), 414),
        (
            "invalid UTF-8 in the target",
            b"GET /api/\xff\xfe\xfd HTTP/1.1\r\nHost: pulse\r\n\r\n".to_vec(),
            400,
        ),
        (
            "invalid UTF-8 in a header value",
            b"GET /api/health HTTP/1.1\r\nHost: pulse\r\nX-Name: \xc3\x28\xff\r\n\r\n".to_vec(),
            400,
        ),
        ("TLS ClientHello", tls, 400),
        (
            "binary garbage",
            (0..512u32).map(|i| (i * 7919 % 251) as u8).collect(),
            400,
        ),
        (
            "HTTP/2.0 request line",
            b"GET / HTTP/2.0\r\nHost: pulse\r\n\r\n".to_vec(),
            505,
        ),
        (
            "h2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            505,
        ),
    ];
    run_cases(&mut t, cases);
    t.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// Request-smuggling shapes: each is a 400, and the request glued after it is never answered.
fn smuggling_shapes_are_400_and_the_connection_closes(tr: Transport) {
    let mut t = start(tr, &[]);
    let base = baseline(&mut t);
    let post = |headers: &str, body: &str| -> Vec<u8> {
        format!(
            "POST /api/login HTTP/1.1\r\nHost: pulse\r\nContent-Type: application/json\r\n{headers}\r\n{body}{}",
            get("/api/health")
        )
        .into_bytes()
    };
    let chunked = "Transfer-Encoding: chunked\r\n";
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "CL + TE",
            post(&format!("Content-Length: 5\r\n{chunked}"), "0\r\n\r\n"),
            400,
        ),
        (
            "TE + CL",
            post(&format!("{chunked}Content-Length: 5\r\n"), "0\r\n\r\n"),
            400,
        ),
        (
            "TE: xchunked",
            post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"),
            400,
        ),
        (
            "TE: chunked, identity",
            post("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"),
            400,
        ),
        (
            "TE: identity",
            post("Transfer-Encoding: identity\r\n", "0\r\n\r\n"),
            400,
        ),
        (
            "two TE headers",
            post(&format!("{chunked}{chunked}"), "0\r\n\r\n"),
            400,
        ),
        (
            "duplicate CL, equal",
            post("Content-Length: 2\r\nContent-Length: 2\r\n", "{}"),
            400,
        ),
        (
            "duplicate CL, different",
            post("Content-Length: 2\r\nContent-Length: 7\r\n", "{}"),
            400,
        ),
        ("CL: +5", post("Content-Length: +5\r\n", "{\"a\"}"), 400),
        ("CL: -1", post("Content-Length: -1\r\n", ""), 400),
        ("CL: 5,5", post("Content-Length: 5,5\r\n", "{\"a\"}"), 400),
        ("CL: 1 2", post("Content-Length: 1 2\r\n", "{}"), 400),
        ("CL: empty", post("Content-Length: \r\n", ""), 400),
        (
            "CL: 0x10",
            post("Content-Length: 0x10\r\n", "{}{}{}{}{}{}{}{}"),
            400,
        ),
        (
            "obs-fold header",
            post("Content-Length: 2\r\nX-Folded: a\r\n b\r\n", "{}"),
            400,
        ),
        (
            "chunk size with garbage",
            post(chunked, "2x\r\n{}\r\n0\r\n\r\n"),
            400,
        ),
        (
            "negative chunk size",
            post(chunked, "-2\r\n{}\r\n0\r\n\r\n"),
            400,
        ),
        (
            "overflowing chunk size",
            post(chunked, "10000000000000002\r\n{}\r\n0\r\n\r\n"),
            400,
        ),
        (
            "chunk size with a space inside",
            post(chunked, "1 0\r\n{}\r\n0\r\n\r\n"),
            400,
        ),
        (
            "chunk without its CRLF",
            post(chunked, "2\r\n{}XX0\r\n\r\n"),
            400,
        ),
    ];
    run_cases(&mut t, cases);
    t.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// `Content-Length: 1e12` (413 at once, not an allocation), 130 × u64::MAX (413 each), and a
/// length that overflows u64 (400); the process stays up and answering.
fn huge_declared_lengths_are_413_and_the_process_survives(tr: Transport) {
    let mut t = start(tr, &[]);
    let base = baseline(&mut t);
    let head = |len: &str| {
        format!(
            "POST /api/login HTTP/1.1\r\nHost: pulse\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
        )
        .into_bytes()
    };
    let (r, mut s) = t.c.send_and_read(ATTACKER, head("1000000000000"), ANSWER);
    assert_error(&r, 413, "Content-Length 1e12");
    assert_closed_quietly(&mut s, "Content-Length 1e12");
    t.assert_health();

    let c = t.c.clone();
    let statuses = t.during(move || {
        let threads: Vec<_> = (0..10)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    (0..13)
                        .map(|_| {
                            let raw = format!(
                                "POST /api/login HTTP/1.1\r\nHost: pulse\r\nContent-Length: {}\r\n\r\n",
                                u64::MAX
                            );
                            let (r, _) = c.send_and_read(ATTACKER, raw.into_bytes(), ANSWER);
                            r.map(|r| r.status)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(statuses.len(), 130);
    assert!(
        statuses.iter().all(|s| *s == Some(413)),
        "every u64::MAX length is a 413: {statuses:?}"
    );
    t.assert_health();

    let (r, mut s) =
        t.c.send_and_read(ATTACKER, head("99999999999999999999"), ANSWER);
    assert_error(&r, 400, "Content-Length overflowing u64");
    assert_closed_quietly(&mut s, "Content-Length overflowing u64");
    t.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// Five wrong passwords for `admin` from 127.0.0.3 lock that address only: the real admin
/// from 127.0.0.4 logs in.
fn five_wrong_passwords_do_not_lock_the_admin_out_elsewhere(tr: Transport) {
    let mut t = start_with_admin(tr, &[]);
    let base = baseline(&mut t);
    let c = t.c.clone();
    let login = |from: Ipv4Addr, password: &str| {
        let body = serde_json::json!({"username": "admin", "password": password}).to_string();
        let raw = format!(
            "POST /api/login HTTP/1.1\r\nHost: pulse\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        c.exchange(from, raw.as_bytes(), ANSWER)
            .expect("login answer")
    };
    let guesser = Ipv4Addr::new(127, 0, 0, 3);
    for n in 1..=5 {
        let r = login(guesser, "wrong");
        assert_eq!(r.status, 401, "attempt {n}");
    }
    t.assert_health();
    assert_eq!(
        login(guesser, PASSWORD).status,
        403,
        "the guesser is locked"
    );
    let r = login(Ipv4Addr::new(127, 0, 0, 4), PASSWORD);
    assert_eq!(r.status, 200, "the admin elsewhere logs in: {:?}", r.json());
    t.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// Three requests in one write are answered in order on the same connection.
fn pipelined_requests_are_answered_in_order(tr: Transport) {
    let mut t = start(tr, &[]);
    let base = baseline(&mut t);
    let mut s = t.c.open(ATTACKER);
    let raw = format!(
        "{}{}GET /api/version HTTP/1.1\r\nHost: pulse\r\nConnection: close\r\n\r\n",
        get("/api/health"),
        get("/api/no-such-endpoint")
    );
    s.write_all(raw.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let statuses: Vec<(u16, serde_json::Value)> = (0..3)
        .map(|_| {
            let r = read_response(&mut s, &mut buf, false, ANSWER).expect("pipelined answer");
            (r.status, r.json())
        })
        .collect();
    assert_eq!(statuses[0].0, 200);
    assert_eq!(statuses[1].0, 404);
    assert_eq!(statuses[2].0, 200);
    assert!(statuses[2].1["version"].is_string(), "{:?}", statuses[2].1);
    assert!(rest_until_close(&mut s, ANSWER).is_some_and(|r| r.is_empty() && buf.is_empty()));
    t.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// `Expect: 100-continue`: 100 then the answer; 413 without a 100 for an oversized length;
/// 417 for an unknown expectation.
fn expect_100_continue(tr: Transport) {
    let mut t = start_with_admin(tr, &[]);
    let base = baseline(&mut t);
    let body = serde_json::json!({"username": "admin", "password": "wrong"}).to_string();
    let mut s = t.c.open(ATTACKER);
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: pulse\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let r = read_response(&mut s, &mut buf, true, ANSWER).expect("interim answer");
    assert_eq!(r.status, 100, "{}", r.head);
    s.write_all(body.as_bytes()).unwrap();
    let r = read_response(&mut s, &mut buf, false, ANSWER).expect("final answer");
    assert_eq!(r.status, 401, "the body was read after the 100");
    assert_eq!(r.json()["error"], "invalid_credentials");

    let raw = "POST /api/login HTTP/1.1\r\nHost: pulse\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n";
    let (r, mut s) = t.c.send_and_read(ATTACKER, raw.as_bytes().to_vec(), ANSWER);
    assert_error(&r, 413, "oversized length with Expect (no 100 first)");
    assert_closed_quietly(&mut s, "oversized length with Expect");

    let raw =
        "POST /api/login HTTP/1.1\r\nHost: pulse\r\nExpect: tea\r\nContent-Length: 2\r\n\r\n{}";
    let (r, mut s) = t.c.send_and_read(ATTACKER, raw.as_bytes().to_vec(), ANSWER);
    assert_error(&r, 417, "unknown expectation");
    assert_closed_quietly(&mut s, "unknown expectation");
    t.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// HEAD carries GET's headers, Content-Length included, and no body.
fn head_has_the_headers_of_get_and_no_body(tr: Transport) {
    let mut t = start(tr, &[]);
    let base = baseline(&mut t);
    let r =
        t.c.exchange(
            ATTACKER,
            b"GET /api/version HTTP/1.1\r\nHost: pulse\r\nConnection: close\r\n\r\n",
            ANSWER,
        )
        .expect("GET answer");
    assert_eq!(r.status, 200);
    let len = r
        .header("content-length")
        .expect("GET has a length")
        .to_string();
    assert_eq!(len, r.body.len().to_string());

    let mut s = t.c.open(ATTACKER);
    s.write_all(b"HEAD /api/version HTTP/1.1\r\nHost: pulse\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let r = read_response(&mut s, &mut buf, true, ANSWER).expect("HEAD answer");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(len.as_str()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let rest = rest_until_close(&mut s, ANSWER).expect("closed after HEAD");
    assert!(
        buf.is_empty() && rest.is_empty(),
        "HEAD sent a body: {:?}",
        String::from_utf8_lossy(&rest)
    );
    t.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}
