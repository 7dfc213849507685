//! The PVE API of the simulator: listings, node and cluster endpoints. Guest-level payloads
//! live in `pve_guest.rs`, storage/backup/disk payloads in `pve_storage.rs`.

use super::config::PveFlavor;
use super::estate::*;
use super::http::{Request, Response};
use super::{pve_guest, pve_storage};
use serde_json::{json, Map, Value};

pub fn route(e: &Estate, t: i64, segs: &[&str], req: &Request) -> Response {
    match segs {
        ["version"] => Response::data(version(e.nodes.first().map(|n| n.flavor))),
        ["nodes"] => Response::data(Value::Array(
            e.nodes.iter().map(|n| node_row(e, n, t)).collect(),
        )),
        ["cluster", "status"] => Response::data(cluster_status(e)),
        ["cluster", "resources"] => {
            Response::data(cluster_resources(e, t, req.query_param("type").as_deref()))
        }
        ["cluster", "ceph", "status"] if e.ceph => Response::data(pve_storage::ceph_status(e, t)),
        ["cluster", "ceph", "df"] if e.ceph => Response::data(pve_storage::ceph_df(e, t)),
        ["cluster", "ceph", ..] => Response::error(500, "binary not installed: /usr/bin/ceph-mon"),
        ["storage"] => Response::data(pve_storage::storage_config(e)),
        ["cluster", "replication"] => Response::data(pve_storage::replication_jobs(e)),
        ["cluster", "backup"] => Response::data(pve_storage::backup_jobs(e)),
        ["nodes", node, rest @ ..] => {
            let Some(n) = e.node(node) else {
                return Response::error(
                    500,
                    &format!("hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known"),
                );
            };
            if !n.online {
                return Response::error(595, "No route to host");
            }
            node_route(e, n, t, rest, req)
        }
        _ => not_implemented(req),
    }
}

fn node_route(e: &Estate, n: &Node, t: i64, rest: &[&str], req: &Request) -> Response {
    match rest {
        ["status"] => Response::data(node_status(e, n, t)),
        ["rrddata"] => Response::data(node_rrd(e, n, t)),
        ["qemu"] => Response::data(pve_guest::list(e, n, t, GuestKind::Qemu)),
        ["lxc"] => Response::data(pve_guest::list(e, n, t, GuestKind::Lxc)),
        ["storage"] => Response::data(pve_storage::node_storage(e, n, t)),
        ["storage", storage, "content"] => {
            pve_storage::content(e, n, t, storage, req.query_param("content").as_deref())
        }
        ["disks", "list"] => Response::data(pve_storage::disks(e, n)),
        ["disks", "zfs"] => Response::data(pve_storage::zfs_pools(e, n, t)),
        ["disks", "zfs", pool] => pve_storage::zfs_pool(n, pool),
        ["replication"] => Response::data(pve_storage::node_replication(e, n, t)),
        ["tasks"] => Response::data(pve_storage::tasks(e, n, t)),
        [kind @ ("qemu" | "lxc"), vmid, guest_rest @ ..] => {
            let kind = if *kind == "qemu" {
                GuestKind::Qemu
            } else {
                GuestKind::Lxc
            };
            let guest = vmid
                .parse::<u32>()
                .ok()
                .and_then(|v| e.guest_on(n, v, kind));
            let Some(g) = guest else {
                let dir = if kind == GuestKind::Qemu {
                    "qemu-server"
                } else {
                    "lxc"
                };
                return Response::error(
                    500,
                    &format!(
                        "Configuration file 'nodes/{}/{dir}/{vmid}.conf' does not exist",
                        n.name
                    ),
                );
            };
            pve_guest::route(e, n, g, t, guest_rest).unwrap_or_else(|| not_implemented(req))
        }
        _ => not_implemented(req),
    }
}

/// `POST /nodes/{n}/{qemu|lxc}/{vmid}/status/{start|stop}`: a write (needs CSRF with tickets).
pub fn write(e: &mut Estate, t: i64, segs: &[&str]) -> Response {
    let ["nodes", node, kind @ ("qemu" | "lxc"), vmid, "status", action @ ("start" | "stop")] =
        segs
    else {
        return Response::error(501, "Method not implemented");
    };
    let Some(n) = e.node(node).cloned() else {
        return Response::error(500, "no such node");
    };
    if !n.online {
        return Response::error(595, "No route to host");
    }
    let kind = if *kind == "qemu" {
        GuestKind::Qemu
    } else {
        GuestKind::Lxc
    };
    let Some(idx) = vmid
        .parse::<u32>()
        .ok()
        .and_then(|v| e.guest_on(&n, v, kind))
        .map(|g| g.index)
    else {
        return Response::error(500, "Configuration file does not exist");
    };
    if let Some(g) = e.guests.get_mut(idx) {
        if g.template {
            return Response::error(500, "you can't start a vm if it's a template");
        }
        g.running = *action == "start";
        if g.running {
            g.boot = t;
        }
    }
    let verb = if kind == GuestKind::Qemu {
        format!("qm{action}")
    } else {
        format!("vz{action}")
    };
    Response::data(json!(format!(
        "UPID:{}:0000{:04X}:00000000:{:08X}:{verb}:{vmid}:root@pam:",
        n.name,
        idx % 0xFFFF,
        t
    )))
}

fn not_implemented(req: &Request) -> Response {
    Response::error(
        501,
        &format!("Method '{} {}' not implemented", req.method, req.path),
    )
}

pub fn version(flavor: Option<PveFlavor>) -> Value {
    match flavor.unwrap_or(PveFlavor::Pve9) {
        PveFlavor::Pve7 => json!({"version": "7.4-16", "release": "7.4", "repoid": "0f39f621"}),
        PveFlavor::Pve84 => {
            json!({"version": "8.4.1", "release": "8.4", "repoid": "2a5fa54a8503f96d"})
        }
        PveFlavor::Pve9 => {
            json!({"version": "9.0.10", "release": "9.0", "repoid": "deb1ca707ec72a89"})
        }
    }
}

fn pveversion(f: PveFlavor) -> &'static str {
    match f {
        PveFlavor::Pve7 => "pve-manager/7.4-16/0f39f621",
        PveFlavor::Pve84 => "pve-manager/8.4.1/2a5fa54a8503f96d",
        PveFlavor::Pve9 => "pve-manager/9.0.10/deb1ca707ec72a89",
    }
}

fn kernel(f: PveFlavor) -> (&'static str, &'static str) {
    match f {
        PveFlavor::Pve7 => (
            "5.15.108-1-pve",
            "#1 SMP PVE 5.15.108-2 (2023-07-20T10:06Z)",
        ),
        PveFlavor::Pve84 => (
            "6.8.12-9-pve",
            "#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-9 (2025-03-16T19:18Z)",
        ),
        PveFlavor::Pve9 => (
            "6.14.11-2-pve",
            "#1 SMP PREEMPT_DYNAMIC PMX 6.14.11-2 (2025-09-12T09:46Z)",
        ),
    }
}

fn node_row(e: &Estate, n: &Node, t: i64) -> Value {
    if !n.online {
        return json!({"node": n.name, "status": "offline", "id": format!("node/{}", n.name), "type": "node"});
    }
    let (total, _, _, free) = node_memory(e, n, t);
    json!({
        "node": n.name, "status": "online", "type": "node", "id": format!("node/{}", n.name),
        "cpu": node_cpu(e, n, t), "maxcpu": n.maxcpu,
        "mem": total - free, "maxmem": total,
        "disk": node_root_used(e, n, t), "maxdisk": n.maxdisk,
        "uptime": t - n.boot, "level": "",
        "ssl_fingerprint": fake_fingerprint(e, n.index as u64),
    })
}

fn node_root_used(e: &Estate, n: &Node, t: i64) -> u64 {
    (n.maxdisk as f64 * (0.05 + 0.2 * e.w(n.index as u64, 7, t, 86_400))) as u64
}

fn fake_fingerprint(e: &Estate, entity: u64) -> String {
    let a = mix(e.seed ^ 0xF1 ^ entity);
    let b = mix(a);
    let hex = format!("{a:016X}{b:016X}{:016X}{:016X}", mix(b), mix(a ^ b));
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

fn node_status(e: &Estate, n: &Node, t: i64) -> Value {
    let (total, _app, cache, free) = node_memory(e, n, t);
    let load = |k: u64| {
        format!(
            "{:.2}",
            n.maxcpu as f64 * 0.6 * e.w(n.index as u64, 20 + k, t, 60 * (k as i64 + 1))
        )
    };
    let (krel, kver) = kernel(n.flavor);
    let mut memory = json!({"total": total, "used": total - free, "free": free});
    if n.flavor == PveFlavor::Pve9 {
        memory["available"] = json!(free + cache);
    }
    let swap_total = 8 * GIB;
    let swap_used = (swap_total as f64 * 0.1 * e.w(n.index as u64, 8, t, 3600)) as u64;
    let root_used = node_root_used(e, n, t);
    let mut v = json!({
        "uptime": t - n.boot,
        "cpu": node_cpu(e, n, t),
        "wait": 0.002 * e.w(n.index as u64, 9, t, 30),
        "idle": 0,
        "loadavg": [load(0), load(1), load(2)],
        "kversion": format!("Linux {krel} {kver}"),
        "pveversion": pveversion(n.flavor),
        "cpuinfo": {
            "model": "Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz", "sockets": 1,
            "cores": n.maxcpu / 2, "cpus": n.maxcpu, "mhz": "2400.000", "hvm": "1", "user_hz": 100,
        },
        "memory": memory,
        "swap": {"total": swap_total, "used": swap_used, "free": swap_total - swap_used},
        "rootfs": {"total": n.maxdisk, "used": root_used, "free": n.maxdisk - root_used, "avail": n.maxdisk - root_used},
        "ksm": {"shared": 0},
    });
    if n.flavor != PveFlavor::Pve7 {
        v["boot-info"] = json!({"mode": "efi", "secureboot": false});
        v["current-kernel"] =
            json!({"sysname": "Linux", "release": krel, "version": kver, "machine": "x86_64"});
    }
    v
}

/// `rrddata?timeframe=hour`: 70 one-minute rows. PVE 7 has no `memavailable`.
fn node_rrd(e: &Estate, n: &Node, t: i64) -> Value {
    let last = t - t.rem_euclid(60);
    let rows = (0..70).rev().map(|k| {
        let ts = last - k * 60;
        let (total, app, cache, free) = node_memory(e, n, ts);
        let mut row = Map::new();
        row.insert("time".into(), json!(ts));
        row.insert("cpu".into(), json!(node_cpu(e, n, ts)));
        row.insert("maxcpu".into(), json!(n.maxcpu));
        row.insert("memtotal".into(), json!(total));
        row.insert(
            "loadavg".into(),
            json!(n.maxcpu as f64 * 0.5 * e.w(n.index as u64, 20, ts, 60)),
        );
        row.insert(
            "netin".into(),
            json!(20_000.0 + 200_000.0 * e.w(n.index as u64, 30, ts, 60)),
        );
        row.insert(
            "netout".into(),
            json!(10_000.0 + 100_000.0 * e.w(n.index as u64, 31, ts, 60)),
        );
        row.insert("roottotal".into(), json!(n.maxdisk));
        row.insert("rootused".into(), json!(node_root_used(e, n, ts)));
        row.insert(
            "iowait".into(),
            json!(0.002 * e.w(n.index as u64, 9, ts, 30)),
        );
        match n.flavor {
            PveFlavor::Pve7 => {
                row.insert("memused".into(), json!(total - free));
            }
            PveFlavor::Pve84 | PveFlavor::Pve9 => {
                row.insert("memused".into(), json!(app));
                row.insert("memavailable".into(), json!(free + cache));
            }
        }
        if n.flavor == PveFlavor::Pve9 {
            row.insert("arcsize".into(), json!(cache / 2));
            row.insert(
                "pressurecpusome".into(),
                json!(2.0 * e.w(n.index as u64, 40, ts, 60)),
            );
            row.insert("pressurememorysome".into(), json!(0));
            row.insert("pressureiosome".into(), json!(0));
        }
        Value::Object(row)
    });
    Value::Array(rows.collect())
}

fn cluster_status(e: &Estate) -> Value {
    let mut rows = Vec::new();
    if e.is_cluster() {
        rows.push(json!({
            "type": "cluster", "id": "cluster", "name": e.cluster_name, "nodes": e.nodes.len(),
            "quorate": u8::from(e.nodes.iter().filter(|n| n.online).count() * 2 > e.nodes.len()),
            "version": e.nodes.len() + 3,
        }));
    }
    for n in &e.nodes {
        rows.push(json!({
            "type": "node", "id": format!("node/{}", n.name), "name": n.name, "nodeid": n.index + 1,
            "ip": n.ip, "online": u8::from(n.online), "local": u8::from(n.index == 0), "level": "",
        }));
    }
    Value::Array(rows)
}

fn cluster_resources(e: &Estate, t: i64, kind: Option<&str>) -> Value {
    let mut rows = Vec::new();
    if matches!(kind, None | Some("node")) {
        for n in &e.nodes {
            let mut r = node_row(e, n, t);
            if let Some(o) = r.as_object_mut() {
                o.remove("ssl_fingerprint");
                o.insert("cgroup-mode".into(), json!(2));
            }
            rows.push(r);
        }
    }
    if matches!(kind, None | Some("vm")) {
        for g in &e.guests {
            let node = e.nodes.get(g.node);
            rows.push(pve_guest::resource_row(e, g, node, t));
        }
    }
    if matches!(kind, None | Some("storage")) {
        for n in e.nodes.iter().filter(|n| n.online) {
            for s in pve_storage::node_storage_rows(e, n, t) {
                rows.push(json!({
                    "id": format!("storage/{}/{}", n.name, s["storage"].as_str().unwrap_or_default()),
                    "type": "storage", "node": n.name, "storage": s["storage"], "plugintype": s["type"],
                    "content": s["content"], "shared": s["shared"], "disk": s["used"], "maxdisk": s["total"],
                    "status": if s["active"] == json!(1) { "available" } else { "unknown" },
                }));
            }
        }
    }
    Value::Array(rows)
}
