//! Request routing: simulator admin endpoints, login, auth, then the product's API.

use super::auth::Access;
use super::faults::FaultRule;
use super::http::{form_param, Request, Response};
use super::state::Shared;
use super::{pbs_routes, pmg_routes, pve_routes};
use pulse_wire::Product;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub fn route(shared: &Shared, product: Product, req: &Request) -> Response {
    if let Some(admin) = req.path.strip_prefix("/__sim") {
        return admin_route(shared, req, admin);
    }
    let Some(path) = req.path.strip_prefix("/api2/json") else {
        return Response::error(404, "Not Found");
    };
    if path == "/access/ticket" {
        return login(shared, product, req);
    }
    shared.counters.hit(product.as_str(), path);
    if product == Product::Pve && req.method == "GET" {
        if let Err(refused) = super::pace::check_params(path, &req.query) {
            return refused;
        }
    }
    let write = req.method != "GET";
    let access = shared.auth().check(
        product,
        req.header("authorization"),
        req.header("cookie"),
        req.header("csrfpreventiontoken"),
        write,
        Instant::now(),
    );
    match access {
        Access::Denied => return Response::error(401, "authentication failure"),
        Access::Limited if path != "/version" => {
            return Response::error(403, "Permission check failed (/, Sys.Audit)");
        }
        _ => {}
    }
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(super::http::percent_decode)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let t = shared.now();
    match product {
        Product::Pve => {
            if write {
                let mut estate = shared.estate_mut();
                return pve_routes::write(&mut estate, t, &segs);
            }
            pve_routes::route(&shared.estate(), t, &segs, req)
        }
        Product::Pbs => pbs_routes::route(&shared.estate(), t, &segs, req),
        Product::Pmg => pmg_routes::route(
            &shared.estate(),
            t,
            &segs,
            req,
            &shared.identity.fingerprint,
        ),
    }
}

/// `POST /access/ticket`, JSON or form encoded.
fn login(shared: &Shared, product: Product, req: &Request) -> Response {
    if req.method != "POST" {
        return Response::error(501, "Method not implemented");
    }
    let is_json = req
        .header("content-type")
        .is_some_and(|c| c.contains("json"));
    let mut auth = shared.auth();
    let (user, pass) = if is_json {
        if !auth.json_login {
            return Response::error(415, "Unsupported Media Type");
        }
        let v: serde_json::Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => return Response::error(400, "Parameter verification failed"),
        };
        let field = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string()
        };
        (field("username"), field("password"))
    } else {
        let body = String::from_utf8_lossy(&req.body);
        (
            form_param(&body, "username").unwrap_or_default(),
            form_param(&body, "password").unwrap_or_default(),
        )
    };
    match auth.login(product, &user, &pass, Instant::now()) {
        Some((ticket, csrf)) => Response::data(serde_json::json!({
            "username": user,
            "ticket": ticket,
            "CSRFPreventionToken": csrf,
            "cap": {},
        })),
        None => Response::error(401, "authentication failure"),
    }
}

fn admin_route(shared: &Shared, req: &Request, path: &str) -> Response {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let ok = || Response::raw_json(200, serde_json::json!({ "ok": true }));
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", ["info"]) => Response::raw_json(
            200,
            serde_json::json!({
                "fingerprint": shared.identity.fingerprint,
                "now": shared.now(),
                "requests": shared.requests.load(Ordering::Relaxed),
            }),
        ),
        ("GET", ["requests"]) => Response::raw_json(
            200,
            serde_json::to_value(shared.counters.snapshot()).unwrap_or_default(),
        ),
        ("DELETE", ["requests"]) => {
            shared.counters.reset();
            ok()
        }
        ("GET", ["faults"]) => Response::raw_json(
            200,
            serde_json::to_value(shared.faults().rules()).unwrap_or_default(),
        ),
        ("POST", ["faults"]) => match serde_json::from_slice::<FaultRule>(&req.body) {
            Ok(rule) => {
                shared.faults().add(rule);
                ok()
            }
            Err(e) => Response::raw_json(400, serde_json::json!({ "error": e.to_string() })),
        },
        ("DELETE", ["faults"]) => {
            shared.faults().clear();
            ok()
        }
        ("POST", ["nodes", name, state @ ("online" | "offline")]) => {
            let mut estate = shared.estate_mut();
            match estate.nodes.iter_mut().find(|n| n.name == *name) {
                Some(n) => {
                    n.online = *state == "online";
                    ok()
                }
                None => Response::raw_json(404, serde_json::json!({ "error": "no such node" })),
            }
        }
        (method @ ("POST" | "DELETE"), ["nodes", name, "zfs"]) => {
            let degraded = match (method, req.query_param("state").as_deref()) {
                ("DELETE", _) => None,
                (_, Some("degraded")) => Some(true),
                (_, Some("online")) => Some(false),
                _ => {
                    return Response::raw_json(
                        400,
                        serde_json::json!({ "error": "state must be degraded or online" }),
                    )
                }
            };
            let mut estate = shared.estate_mut();
            match estate.nodes.iter_mut().find(|n| n.name == *name) {
                Some(n) => {
                    n.zfs_degraded = degraded;
                    ok()
                }
                None => Response::raw_json(404, serde_json::json!({ "error": "no such node" })),
            }
        }
        (method @ ("POST" | "DELETE"), ["guests", vmid, "cpu"]) => {
            let pin = match (method, req.query_param("value").map(|v| v.parse::<f64>())) {
                ("DELETE", _) => None,
                (_, Some(Ok(v))) if (0.0..=1.0).contains(&v) => Some(v),
                _ => {
                    return Response::raw_json(
                        400,
                        serde_json::json!({ "error": "value must be a fraction between 0 and 1" }),
                    )
                }
            };
            let mut estate = shared.estate_mut();
            let idx = vmid
                .parse::<u32>()
                .ok()
                .and_then(|v| estate.by_vmid.get(&v).copied());
            match idx.and_then(|i| estate.guests.get_mut(i)) {
                Some(g) => {
                    g.cpu_pin = pin;
                    ok()
                }
                None => Response::raw_json(404, serde_json::json!({ "error": "no such guest" })),
            }
        }
        ("POST", ["advance"]) => {
            let secs: i64 = req
                .query_param("secs")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            shared.offset.fetch_add(secs, Ordering::Relaxed);
            ok()
        }
        ("POST", ["ticket-lifetime"]) => {
            let ms: u64 = req
                .query_param("ms")
                .and_then(|s| s.parse().ok())
                .unwrap_or(7_200_000);
            shared.auth().ticket_lifetime = Duration::from_millis(ms);
            ok()
        }
        _ => Response::raw_json(
            404,
            serde_json::json!({ "error": "unknown simulator endpoint" }),
        ),
    }
}
