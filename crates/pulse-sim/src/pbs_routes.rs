//! The PBS API of the simulator: datastores with namespaces, backup groups of the PVE guests
//! and dated snapshots (some verified, some failed, the newest not yet verified).

use super::estate::*;
use super::http::{Request, Response};
use serde_json::{json, Value};

const TIB: u64 = 1024 * GIB;

pub fn route(e: &Estate, t: i64, segs: &[&str], req: &Request) -> Response {
    match segs {
        ["version"] => Response::data(
            json!({"version": "4.0", "release": "14", "repoid": "7ee7b4e0a1f1b6e2b3f6e1c65d0b8ac4b2e6a7f1"}),
        ),
        ["nodes", "localhost", "status"] => Response::data(node_status(e, t)),
        ["admin", "datastore"] => Response::data(Value::Array(
            e.pbs_stores
                .iter()
                .map(|s| json!({"store": s, "comment": format!("{s} datastore")}))
                .collect(),
        )),
        ["admin", kind @ ("sync" | "verify" | "prune" | "gc")] => {
            Response::data(Value::Array(jobs(e, kind, t)))
        }
        ["status", "datastore-usage"] => Response::data(Value::Array(
            e.pbs_stores.iter().map(|s| usage(e, s, t)).collect(),
        )),
        ["admin", "datastore", store, rest @ ..] => {
            if !e.pbs_stores.iter().any(|s| s == store) {
                return Response::error(404, &format!("datastore '{store}' does not exist"));
            }
            let ns = req.query_param("ns").unwrap_or_default();
            match rest {
                ["status"] => Response::data(status(e, store, t)),
                ["rrd"] => Response::data(rrd(e, store, t)),
                ["gc"] => Response::data(gc(e, store)),
                ["namespace"] => Response::data(json!([
                    {"ns": ""}, {"ns": "prod"}, {"ns": "prod/db"}
                ])),
                ["groups"] => Response::data(Value::Array(
                    groups(e, store)
                        .filter(|g| g.ns == ns)
                        .map(|g| group_json(e, &g))
                        .collect(),
                )),
                ["snapshots"] => {
                    let bt = req.query_param("backup-type");
                    let bid = req.query_param("backup-id");
                    let list = groups(e, store)
                        .filter(|g| g.ns == ns)
                        .filter(|g| bt.as_deref().is_none_or(|b| b == g.btype))
                        .filter(|g| bid.as_deref().is_none_or(|b| b == g.bid))
                        .flat_map(|g| snapshots(e, &g))
                        .collect();
                    Response::data(Value::Array(list))
                }
                _ => Response::error(404, "Path not found"),
            }
        }
        _ => Response::error(404, "Path not found"),
    }
}

fn node_status(e: &Estate, t: i64) -> Value {
    let total = 32 * GIB;
    let used = (total as f64 * (0.2 + 0.3 * e.w(0xB5, 1, t, 60))) as u64;
    json!({
        "cpu": 0.01 + 0.2 * e.w(0xB5, 2, t, 20), "wait": 0.01,
        "memory": {"total": total, "used": used, "free": total - used},
        "swap": {"total": 8 * GIB, "used": 0, "free": 8 * GIB},
        "root": {"total": 224_872_357_888u64, "used": 4_948_684_800u64, "avail": 208_426_250_240u64},
        "loadavg": [0.02, 0.03, 0.04], "uptime": t - (e.epoch - 20 * 86_400),
        "kversion": "Linux 6.14.11-2-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.11-2",
        "info": {"fingerprint": "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89"},
    })
}

fn store_index(e: &Estate, store: &str) -> u64 {
    e.pbs_stores.iter().position(|s| s == store).unwrap_or(0) as u64
}

fn space(e: &Estate, store: &str, t: i64) -> (u64, u64) {
    let i = store_index(e, store);
    let total = (8 - i * 2) * TIB;
    let used = (total as f64 * (0.3 + 0.2 * e.w(0xB50 + i, 3, t, 86_400))) as u64;
    (total, used)
}

fn status(e: &Estate, store: &str, t: i64) -> Value {
    let (total, used) = space(e, store, t);
    json!({"total": total, "used": used, "avail": total - used, "gc-status": gc(e, store)})
}

fn usage(e: &Estate, store: &str, t: i64) -> Value {
    let (total, used) = space(e, store, t);
    json!({"store": store, "total": total, "used": used, "avail": total - used, "backend-type": "filesystem"})
}

fn rrd(e: &Estate, store: &str, t: i64) -> Value {
    let last = t - t.rem_euclid(60);
    let rows = (0..70).rev().map(|k| {
        let ts = last - k * 60;
        let (total, used) = space(e, store, ts);
        json!({"time": ts, "total": total, "used": used, "available": total - used,
               "read_bytes": 1000.0 * e.w(0xB6, 1, ts, 60), "write_bytes": 5000.0 * e.w(0xB6, 2, ts, 60)})
    });
    Value::Array(rows.collect())
}

/// GC status. A store that never ran GC has no `last-run-*` keys and `"upid": null`.
fn gc(e: &Estate, store: &str) -> Value {
    if store_index(e, store) == 1 {
        return json!({"store": store, "upid": null, "schedule": "daily", "next-run": e.epoch + 3600});
    }
    json!({
        "store": store, "upid": format!("UPID:pbs:000030B1:000082AF:00000010:{:08X}:garbage_collection:{store}:root@pam:", e.epoch - 7200),
        "index-data-bytes": 575_554_027_520u64, "disk-bytes": 115_363_386_675u64, "disk-chunks": 52_747,
        "index-file-count": 20, "pending-bytes": 4_732_488_637u64, "pending-chunks": 3180,
        "removed-bytes": 0, "removed-chunks": 0, "removed-bad": 0, "still-bad": 0,
        "cache-stats": {"hits": 84_482, "misses": 52_746},
        "last-run-endtime": e.epoch - 7200 + 684, "last-run-state": "OK", "duration": 684,
        "next-run": e.epoch + 79_200, "schedule": "daily",
    })
}

struct Group {
    ns: String,
    btype: &'static str,
    bid: String,
    index: usize,
    name: String,
    disk: u64,
}

/// Groups of a store: the first 40 non-template guests (the second store keeps every third),
/// spread over namespaces, plus one host backup.
fn groups<'a>(e: &'a Estate, store: &str) -> impl Iterator<Item = Group> + 'a {
    let si = store_index(e, store) as usize;
    let guests = e
        .guests
        .iter()
        .filter(|g| !g.template)
        .take(40)
        .filter(move |g| si == 0 || g.index % 3 == 0)
        .map(|g| Group {
            ns: match g.index % 5 {
                1 => "prod".to_string(),
                3 => "prod/db".to_string(),
                _ => String::new(),
            },
            btype: if g.kind == GuestKind::Qemu {
                "vm"
            } else {
                "ct"
            },
            bid: g.vmid.to_string(),
            index: g.index,
            name: g.name.clone(),
            disk: g.maxdisk,
        });
    let host = (si == 0).then(|| Group {
        ns: String::new(),
        btype: "host",
        bid: "pve1".into(),
        index: 9999,
        name: "pve1 config".into(),
        disk: GIB,
    });
    guests.chain(host)
}

fn snapshot_times(e: &Estate, g: &Group) -> Vec<i64> {
    let day = e.epoch - e.epoch.rem_euclid(86_400);
    (0..3)
        .map(|k| day - k * 86_400 + 7200 + (g.index as i64 * 53) % 3600)
        .collect()
}

fn files(g: &Group) -> Vec<&'static str> {
    match g.btype {
        "vm" => vec![
            "qemu-server.conf.blob",
            "drive-scsi0.img.fidx",
            "index.json.blob",
        ],
        "ct" => vec![
            "pct.conf.blob",
            "root.pxar.didx",
            "catalog.pcat1.didx",
            "index.json.blob",
        ],
        _ => vec!["etc.pxar.didx", "index.json.blob"],
    }
}

fn group_json(e: &Estate, g: &Group) -> Value {
    let times = snapshot_times(e, g);
    json!({
        "backup-type": g.btype, "backup-id": g.bid, "backup-count": times.len(),
        "last-backup": times.first().copied().unwrap_or_default(), "files": files(g),
        "owner": "root@pam", "comment": g.name,
    })
}

fn snapshots(e: &Estate, g: &Group) -> Vec<Value> {
    snapshot_times(e, g)
        .into_iter()
        .enumerate()
        .map(|(k, time)| {
            let size = g.disk / 5 + mix(g.index as u64 ^ k as u64) % GIB;
            let file_list: Vec<Value> = files(g)
                .into_iter()
                .map(|f| json!({"filename": f, "size": if f.ends_with("blob") { 1024 } else { size }, "crypt-mode": "none"}))
                .collect();
            let mut o = json!({
                "backup-type": g.btype, "backup-id": g.bid, "backup-time": time, "files": file_list,
                "size": size, "owner": "root@pam", "comment": g.name, "protected": k == 2 && g.index.is_multiple_of(5),
            });
            // The newest snapshot was not verified yet: PBS omits the key.
            if k > 0 {
                let state = if g.index % 9 == 4 { "failed" } else { "ok" };
                o["verification"] = json!({"state": state, "upid": format!("UPID:pbs:000030B1:000082AF:0000000F:{:08X}:verificationjob:main\\x3aweekly:root@pam:", time + 3600)});
            }
            o
        })
        .collect()
}

/// `/admin/{sync,verify,prune,gc}` as PBS 3/4 answer them (shapes from real captures): per
/// datastore a daily verify job (the first store's last run failed), a nightly prune job and
/// its GC (as `/admin/datastore/<store>/gc`: the second store never ran); one sync job from a
/// remote that is failing.
fn jobs(e: &Estate, kind: &str, t: i64) -> Vec<Value> {
    let day = 86_400;
    let midnight = t - t.rem_euclid(day);
    e.pbs_stores
        .iter()
        .enumerate()
        .filter(|(i, _)| kind != "sync" || *i == 0)
        .map(|(i, store)| {
            let ran = midnight + 3 * 3600 - if t - midnight < 3 * 3600 { day } else { 0 };
            let next = ran + day;
            let upid = format!("UPID:pbs:000030B1:000082AF:0000000F:{ran:08X}:{kind}:{store}:root@pam:");
            match kind {
                "sync" => json!({
                    "id": format!("pull-{store}"), "store": store, "remote": "offsite",
                    "remote-store": "mirror", "schedule": "hourly", "last-run-upid": upid,
                    "last-run-endtime": t - t.rem_euclid(3600), "next-run": t - t.rem_euclid(3600) + 3600,
                    "last-run-state": "connection error: Connection refused (os error 111)",
                }),
                "verify" => json!({
                    "id": "weekly", "store": store, "ignore-verified": true, "outdated-after": 30,
                    "schedule": "03:00", "last-run-upid": upid, "last-run-endtime": ran + 600,
                    "next-run": next,
                    "last-run-state": if i == 0 { "verification failed - please check the log for details" } else { "OK" },
                }),
                "prune" => json!({
                    "id": format!("prune-{store}"), "store": store, "schedule": "02:00",
                    "keep-daily": 7, "keep-weekly": 4, "last-run-upid": upid,
                    "last-run-endtime": ran - 3600 + 30, "next-run": next - 3600, "last-run-state": "OK",
                }),
                _ => gc(e, store),
            }
        })
        .collect()
}
