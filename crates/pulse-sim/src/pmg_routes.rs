//! The PMG API of the simulator. No real PMG capture exists (see SOURCES.md), so shapes
//! follow the PMG API schema and what Pulse reads; the 400 answers for `timeframe` and a
//! too-short `timespan` mirror the behaviour reported from a real PMG (Pulse issue #614).
//! Some statistics are sent as strings, as real PMG does.

use super::estate::*;
use super::http::{Request, Response};
use serde_json::{json, Value};

pub fn route(e: &Estate, t: i64, segs: &[&str], req: &Request, fingerprint: &str) -> Response {
    let node = e.pmg_node.as_str();
    match segs {
        ["version"] => {
            Response::data(json!({"version": "8.2", "release": "4", "repoid": "8c7e6ba7f2e42a14"}))
        }
        ["config", "cluster", "status"] => Response::data(json!([{
            "cid": 1, "name": node, "type": "master", "ip": "127.0.0.1", "fingerprint": fingerprint,
        }])),
        ["nodes", n, "postfix", "queue"] if *n == node => {
            let w = |s: u64, max: f64| (max * e.w(0x9A, s, t, 120)) as u64;
            Response::data(json!({
                "active": w(1, 5.0), "deferred": w(2, 30.0), "hold": w(3, 2.0), "incoming": w(4, 3.0),
                "oldest_age": w(5, 7200.0),
            }))
        }
        ["nodes", n, "backup"] if *n == node => Response::data(json!([
            {"filename": "pmg-backup_2025_11_27_6749A1B0.tgz", "size": 83_412, "timestamp": e.epoch - 2 * 86_400},
            {"filename": "pmg-backup_2025_11_28_674AF330.tgz", "size": 83_977, "timestamp": e.epoch - 86_400},
        ])),
        ["nodes", n, ..] => Response::error(500, &format!("no such cluster node '{n}'")),
        ["statistics", "mail"] => {
            if req.query_param("timeframe").is_some() {
                return Response::error(
                    400,
                    "Parameter verification failed. (timeframe: property is not defined in schema)",
                );
            }
            Response::data(mail_stats(e, t))
        }
        ["statistics", "mailcount"] => {
            let span: i64 = match req.query_param("timespan") {
                None => 86_400,
                Some(s) => match s.parse() {
                    Ok(v) if v >= 3600 => v,
                    _ => return Response::error(400, "Parameter verification failed. (timespan: value must have a minimum value of 3600)"),
                },
            };
            Response::data(mail_count(e, t, span))
        }
        ["statistics", "spamscores"] => Response::data(json!([
            {"level": 0, "count": 1520, "ratio": 0.61}, {"level": 1, "count": 402, "ratio": 0.16},
            {"level": 3, "count": 210, "ratio": 0.08}, {"level": 5, "count": 180, "ratio": 0.07},
            {"level": 10, "count": 190, "ratio": 0.08},
        ])),
        ["quarantine", "spamstatus"] => Response::data(json!({
            "count": 40 + (30.0 * e.w(0x9B, 1, t, 3600)) as u64, "avgbytes": "15234.5", "avgspam": 7.2, "mbytes": 0.62,
        })),
        ["quarantine", "virusstatus"] => {
            Response::data(json!({"count": 2, "avgbytes": 40960, "mbytes": 0.08}))
        }
        _ => Response::error(501, "Method not implemented"),
    }
}

/// Daily totals that grow through the day.
fn mail_stats(e: &Estate, t: i64) -> Value {
    let secs_today = t.rem_euclid(86_400) as f64;
    let base = 2.0 + secs_today / 20.0;
    let count_in = (base * 0.7) as u64;
    let count_out = (base * 0.3) as u64;
    json!({
        "count": count_in + count_out, "count_in": count_in, "count_out": count_out,
        "spamcount_in": count_in / 5, "spamcount_out": 0, "viruscount_in": count_in / 500, "viruscount_out": 0,
        "bounces_in": count_in / 100, "bounces_out": count_out / 200,
        "bytes_in": (count_in * 48_000).to_string(), "bytes_out": count_out * 30_000,
        "glcount": count_in / 50, "junk_in": count_in / 8, "rbl_rejects": count_in / 20,
        "pregreet_rejects": count_in / 40, "avptime": format!("{:.3}", 0.3 + 0.4 * e.w(0x9C, 1, t, 600)),
    })
}

/// Hourly points over `span` seconds, oldest first.
fn mail_count(e: &Estate, t: i64, span: i64) -> Value {
    let hours = (span / 3600).clamp(1, 24 * 31);
    let last = t - t.rem_euclid(3600);
    let rows = (0..hours).map(|i| {
        let ts = last - (hours - 1 - i) * 3600;
        let n = (50.0 + 150.0 * e.w(0x9D, 1, ts, 3600)) as u64;
        json!({
            "index": i, "time": ts, "count": n, "count_in": n * 7 / 10, "count_out": n * 3 / 10,
            "spamcount_in": n / 6, "spamcount_out": 0, "viruscount_in": u64::from(i % 7 == 0), "viruscount_out": 0,
            "bounces_in": n / 100, "bounces_out": 0, "rbl_rejects": n / 20, "pregreet_rejects": n / 40,
            "glcount": n / 50,
        })
    });
    Value::Array(rows.collect())
}
