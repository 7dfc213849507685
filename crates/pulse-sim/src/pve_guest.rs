//! Guest payloads: listings, status/current, guest agent, container config/interfaces,
//! RRD and snapshots, in the shapes real PVE sends (see the captures in shared/fixtures).

use super::config::PveFlavor;
use super::estate::*;
use super::http::Response;
use serde_json::{json, Map, Value};

fn id(g: &Guest) -> u64 {
    10_000 + g.index as u64
}

pub fn ip_of(g: &Guest) -> String {
    format!(
        "10.{}.{}.{}",
        100 + g.node % 100,
        (g.index / 250) % 250,
        g.index % 250 + 2
    )
}

pub fn mac_of(e: &Estate, g: &Guest) -> String {
    let h = mix(e.seed ^ u64::from(g.vmid));
    format!(
        "BC:24:11:{:02X}:{:02X}:{:02X}",
        (h >> 16) & 0xff,
        (h >> 8) & 0xff,
        h & 0xff
    )
}

fn counters(e: &Estate, g: &Guest, t: i64, o: &mut Map<String, Value>) {
    let on = |v: u64| if g.running { v } else { 0 };
    o.insert(
        "netin".into(),
        json!(on(counter(e, id(g), 1, g.boot, t, 200_000))),
    );
    o.insert(
        "netout".into(),
        json!(on(counter(e, id(g), 2, g.boot, t, 80_000))),
    );
    o.insert(
        "diskread".into(),
        json!(on(counter(e, id(g), 3, g.boot, t, 300_000))),
    );
    o.insert(
        "diskwrite".into(),
        json!(on(counter(e, id(g), 4, g.boot, t, 150_000))),
    );
}

/// The host-side disk figure: 0 for VMs (PVE cannot see inside), used bytes for containers.
fn disk(e: &Estate, g: &Guest, t: i64) -> u64 {
    match g.kind {
        GuestKind::Qemu => 0,
        GuestKind::Lxc => guest_disk_used(e, g, t),
    }
}

/// A row of `/cluster/resources?type=vm`.
pub fn resource_row(e: &Estate, g: &Guest, node: Option<&Node>, t: i64) -> Value {
    let node_name = node.map(|n| n.name.clone()).unwrap_or_default();
    let mut o = Map::new();
    o.insert(
        "id".into(),
        json!(format!("{}/{}", g.kind.as_str(), g.vmid)),
    );
    o.insert("type".into(), json!(g.kind.as_str()));
    o.insert("node".into(), json!(node_name));
    o.insert("vmid".into(), json!(g.vmid));
    o.insert("name".into(), json!(g.name));
    o.insert("template".into(), json!(u8::from(g.template)));
    o.insert("maxcpu".into(), json!(g.cpus));
    o.insert("maxmem".into(), json!(g.maxmem));
    o.insert("maxdisk".into(), json!(g.maxdisk));
    if node.is_some_and(|n| !n.online) {
        // The cluster no longer hears from the node: status unknown, no live figures.
        o.insert("status".into(), json!("unknown"));
        return Value::Object(o);
    }
    o.insert(
        "status".into(),
        json!(if g.running { "running" } else { "stopped" }),
    );
    o.insert("cpu".into(), json!(guest_cpu(e, g, t)));
    o.insert("mem".into(), json!(guest_mem(e, g, t)));
    o.insert("disk".into(), json!(disk(e, g, t)));
    o.insert("uptime".into(), json!(uptime(g, t)));
    counters(e, g, t, &mut o);
    if let Some(tags) = &g.tags {
        o.insert("tags".into(), json!(tags));
    }
    if let Some(lock) = &g.lock {
        o.insert("lock".into(), json!(lock));
    }
    Value::Object(o)
}

/// `GET /nodes/{n}/qemu` or `/lxc`. The lxc list sends `vmid` as a string.
pub fn list(e: &Estate, n: &Node, t: i64, kind: GuestKind) -> Value {
    let rows = e.guests_of(n).filter(|g| g.kind == kind).map(|g| {
        let mut o = Map::new();
        match kind {
            GuestKind::Qemu => o.insert("vmid".into(), json!(g.vmid)),
            GuestKind::Lxc => {
                o.insert("type".into(), json!("lxc"));
                o.insert("vmid".into(), json!(g.vmid.to_string()))
            }
        };
        o.insert("name".into(), json!(g.name));
        o.insert(
            "status".into(),
            json!(if g.running { "running" } else { "stopped" }),
        );
        o.insert("cpus".into(), json!(g.cpus));
        o.insert("cpu".into(), json!(guest_cpu(e, g, t)));
        o.insert("mem".into(), json!(guest_mem(e, g, t)));
        o.insert("maxmem".into(), json!(g.maxmem));
        o.insert("disk".into(), json!(disk(e, g, t)));
        o.insert("maxdisk".into(), json!(g.maxdisk));
        o.insert("uptime".into(), json!(uptime(g, t)));
        counters(e, g, t, &mut o);
        if g.template {
            o.insert("template".into(), json!(1));
        }
        if let Some(lock) = &g.lock {
            o.insert("lock".into(), json!(lock));
        }
        if let Some(tags) = &g.tags {
            o.insert("tags".into(), json!(tags));
        }
        Value::Object(o)
    });
    Value::Array(rows.collect())
}

/// Routes below `/nodes/{n}/{qemu|lxc}/{vmid}`; `None` for unknown paths.
pub fn route(e: &Estate, n: &Node, g: &Guest, t: i64, rest: &[&str]) -> Option<Response> {
    Some(match (g.kind, rest) {
        (_, ["status", "current"]) => Response::data(match g.kind {
            GuestKind::Qemu => qemu_status(e, g, t),
            GuestKind::Lxc => lxc_status(e, n, g, t),
        }),
        (_, ["rrddata"]) => Response::data(rrd(e, n, g, t)),
        (_, ["snapshot"]) => Response::data(snapshots(e, g)),
        (GuestKind::Qemu, ["agent", cmd]) => agent(e, g, t, cmd)?,
        (GuestKind::Lxc, ["config"]) => Response::data(lxc_config(e, g)),
        (GuestKind::Lxc, ["interfaces"]) => {
            if !g.running {
                return Some(Response::error(500, &format!("CT {} not running", g.vmid)));
            }
            Response::data(lxc_interfaces(e, n, g))
        }
        _ => return None,
    })
}

fn qemu_status(e: &Estate, g: &Guest, t: i64) -> Value {
    let mut o = Map::new();
    o.insert("vmid".into(), json!(g.vmid));
    o.insert("name".into(), json!(g.name));
    o.insert(
        "status".into(),
        json!(if g.running { "running" } else { "stopped" }),
    );
    o.insert(
        "qmpstatus".into(),
        json!(if g.running { "running" } else { "stopped" }),
    );
    o.insert("cpus".into(), json!(g.cpus));
    o.insert("cpu".into(), json!(guest_cpu(e, g, t)));
    o.insert("maxmem".into(), json!(g.maxmem));
    o.insert("mem".into(), json!(guest_mem(e, g, t)));
    o.insert("maxdisk".into(), json!(g.maxdisk));
    o.insert("disk".into(), json!(0));
    o.insert("uptime".into(), json!(uptime(g, t)));
    o.insert("ha".into(), json!({"managed": 0}));
    counters(e, g, t, &mut o);
    if g.agent {
        o.insert("agent".into(), json!(1));
    }
    if g.template {
        o.insert("template".into(), json!(1));
    }
    if let Some(tags) = &g.tags {
        o.insert("tags".into(), json!(tags));
    }
    if let Some(lock) = &g.lock {
        o.insert("lock".into(), json!(lock));
    }
    if !g.running {
        return Value::Object(o);
    }
    o.insert("pid".into(), json!(1000 + g.index));
    o.insert("running-qemu".into(), json!("9.2.0"));
    o.insert("running-machine".into(), json!("pc-i440fx-9.2+pve1"));
    // Memory as the balloon driver and the guest see it.
    let balloon_active = g.balloon.is_some() || g.agent;
    if balloon_active {
        let target = g.balloon.unwrap_or(g.maxmem);
        let guest_total = target - target / 32;
        let avail = (guest_total as f64 * (0.25 + 0.35 * e.w(id(g), 11, t, 45))) as u64;
        let free = avail / 3;
        o.insert("balloon".into(), json!(target));
        o.insert(
            "balloon_min".into(),
            json!(g.balloon.map(|b| b / 2).unwrap_or(target)),
        );
        o.insert("freemem".into(), json!(free));
        o.insert(
            "ballooninfo".into(),
            json!({
                "actual": target, "max_mem": g.maxmem, "free_mem": free, "total_mem": guest_total,
                "major_page_faults": 1811, "minor_page_faults": 3_803_793,
                "mem_swapped_in": 0, "mem_swapped_out": 0, "last_update": t - 2,
            }),
        );
        // No `meminfo`: nothing in qemu-server produces it (pve-polling.md, Uncertainty);
        // the balloon driver's `freemem`/`ballooninfo` is all a real PVE gives.
    }
    Value::Object(o)
}

fn lxc_status(e: &Estate, n: &Node, g: &Guest, t: i64) -> Value {
    let mut o = Map::new();
    o.insert("vmid".into(), json!(g.vmid));
    o.insert("name".into(), json!(g.name));
    o.insert("type".into(), json!("lxc"));
    o.insert(
        "status".into(),
        json!(if g.running { "running" } else { "stopped" }),
    );
    // PVE 6/7 send the CPU count as a string.
    let cpus = if n.flavor == PveFlavor::Pve7 {
        json!(g.cpus.to_string())
    } else {
        json!(g.cpus)
    };
    o.insert("cpus".into(), cpus);
    o.insert("cpu".into(), json!(guest_cpu(e, g, t)));
    o.insert("mem".into(), json!(guest_mem(e, g, t)));
    o.insert("maxmem".into(), json!(g.maxmem));
    o.insert("swap".into(), json!(0));
    o.insert("maxswap".into(), json!(512 * 1024 * 1024));
    o.insert("disk".into(), json!(guest_disk_used(e, g, t)));
    o.insert("maxdisk".into(), json!(g.maxdisk));
    o.insert("uptime".into(), json!(uptime(g, t)));
    o.insert("ha".into(), json!({"managed": 0}));
    counters(e, g, t, &mut o);
    if g.running {
        o.insert("pid".into(), json!(2000 + g.index));
    }
    if g.template {
        o.insert("template".into(), json!(1));
    }
    if let Some(tags) = &g.tags {
        o.insert("tags".into(), json!(tags));
    }
    Value::Object(o)
}

fn lxc_config(e: &Estate, g: &Guest) -> Value {
    let ip = if g.index % 4 == 2 {
        "dhcp".to_string()
    } else {
        format!("{}/24", ip_of(g))
    };
    let mut o = json!({
        "arch": "amd64", "cores": g.cpus, "hostname": g.name, "memory": g.maxmem / (1024 * 1024),
        "swap": 512, "ostype": "debian", "unprivileged": 1,
        "rootfs": format!("local-lvm:vm-{}-disk-0,size={}G", g.vmid, g.maxdisk / GIB),
        "net0": format!("name=eth0,bridge=vmbr0,firewall=1,hwaddr={},ip={ip},type=veth", mac_of(e, g)),
        "digest": format!("{:040x}", u128::from(mix(u64::from(g.vmid)))),
    });
    if let Some(tags) = &g.tags {
        o["tags"] = json!(tags);
    }
    o
}

fn lxc_interfaces(e: &Estate, n: &Node, g: &Guest) -> Value {
    let ip = ip_of(g);
    let mac = mac_of(e, g).to_ascii_lowercase();
    let mut lo = json!({"name": "lo", "hwaddr": "00:00:00:00:00:00", "inet": "127.0.0.1/8", "inet6": "::1/128"});
    let mut eth = json!({"name": "eth0", "hwaddr": mac, "inet": format!("{ip}/24"), "inet6": "fe80::be24:11ff:fe00:1/64"});
    if n.flavor == PveFlavor::Pve9 {
        lo["hardware-address"] = json!("00:00:00:00:00:00");
        lo["ip-addresses"] =
            json!([{"ip-address": "127.0.0.1", "ip-address-type": "inet", "prefix": 8}]);
        eth["hardware-address"] = json!(mac);
        eth["ip-addresses"] = json!([
            {"ip-address": ip, "ip-address-type": "inet", "prefix": 24},
            {"ip-address": "fe80::be24:11ff:fe00:1", "ip-address-type": "inet6", "prefix": 64},
        ]);
    }
    json!([lo, eth])
}

/// Guest RRD: stopped periods have sparse rows (keys omitted), as real PVE sends.
fn rrd(e: &Estate, n: &Node, g: &Guest, t: i64) -> Value {
    let last = t - t.rem_euclid(60);
    let rows = (0..70).rev().map(|k| {
        let ts = last - k * 60;
        let mut o = Map::new();
        o.insert("time".into(), json!(ts));
        o.insert("maxcpu".into(), json!(g.cpus));
        o.insert("maxmem".into(), json!(g.maxmem));
        o.insert("maxdisk".into(), json!(g.maxdisk));
        o.insert("disk".into(), json!(disk(e, g, ts)));
        if g.running && ts >= g.boot {
            o.insert("cpu".into(), json!(guest_cpu(e, g, ts)));
            o.insert("mem".into(), json!(guest_mem(e, g, ts)));
            o.insert(
                "netin".into(),
                json!(1000.0 + 50_000.0 * e.w(id(g), 30, ts, 60)),
            );
            o.insert(
                "netout".into(),
                json!(500.0 + 20_000.0 * e.w(id(g), 31, ts, 60)),
            );
            o.insert("diskread".into(), json!(10_000.0 * e.w(id(g), 32, ts, 60)));
            o.insert("diskwrite".into(), json!(20_000.0 * e.w(id(g), 33, ts, 60)));
            if n.flavor == PveFlavor::Pve9 && g.kind == GuestKind::Qemu {
                o.insert("memhost".into(), json!(guest_mem(e, g, ts) / 2));
            }
        }
        Value::Object(o)
    });
    Value::Array(rows.collect())
}

fn snapshots(e: &Estate, g: &Guest) -> Value {
    let digest = format!("{:016x}", mix(e.seed ^ u64::from(g.vmid)));
    let running = u8::from(g.running);
    if !g.snapshots {
        return json!([{"name": "current", "description": "You are here!", "running": running, "digest": digest}]);
    }
    json!([
        {"name": "before-upgrade", "description": "before apt full-upgrade", "snaptime": e.epoch - 30 * 86_400, "vmstate": 0},
        {"name": "weekly", "description": "", "snaptime": e.epoch - 7 * 86_400, "parent": "before-upgrade"},
        {"name": "current", "description": "You are here!", "parent": "weekly", "running": running, "digest": digest},
    ])
}

fn agent(e: &Estate, g: &Guest, t: i64, cmd: &str) -> Option<Response> {
    if !g.running {
        return Some(Response::error(
            500,
            &format!("VM {} is not running", g.vmid),
        ));
    }
    if !g.agent {
        return Some(Response::error(500, "No QEMU guest agent configured"));
    }
    let result = match cmd {
        "network-get-interfaces" => agent_interfaces(e, g, t),
        "get-osinfo" => agent_osinfo(g),
        "info" => {
            if g.index.is_multiple_of(3) {
                json!({"qemu-ga": {"version": "5.2.0"}})
            } else {
                json!({"version": "9.0.0", "supported_commands": [{"name": "guest-ping", "enabled": true, "success-response": true}]})
            }
        }
        "get-fsinfo" => agent_fsinfo(e, g, t),
        _ => return None,
    };
    Some(Response::data(json!({ "result": result })))
}

fn agent_osinfo(g: &Guest) -> Value {
    if g.windows {
        return json!({
            "name": "Microsoft Windows", "pretty-name": "Windows Server 2022 Standard", "id": "mswindows",
            "version": "Microsoft Windows Server 2022", "version-id": "2022", "variant": "server",
            "variant-id": "server", "kernel-release": "20348", "kernel-version": "10.0", "machine": "x86_64",
        });
    }
    if g.index.is_multiple_of(2) {
        json!({
            "name": "Debian GNU/Linux", "pretty-name": "Debian GNU/Linux 12 (bookworm)", "id": "debian",
            "version": "12 (bookworm)", "version-id": "12", "kernel-release": "6.1.0-28-amd64",
            "kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)", "machine": "x86_64",
        })
    } else {
        json!({
            "name": "Ubuntu", "pretty-name": "Ubuntu 24.04.1 LTS", "id": "ubuntu",
            "version": "24.04.1 LTS (Noble Numbat)", "version-id": "24.04", "kernel-release": "6.8.0-49-generic",
            "kernel-version": "#49-Ubuntu SMP PREEMPT_DYNAMIC", "machine": "x86_64",
        })
    }
}

fn agent_interfaces(e: &Estate, g: &Guest, t: i64) -> Value {
    let rx = counter(e, id(g), 1, g.boot, t, 200_000);
    let tx = counter(e, id(g), 2, g.boot, t, 80_000);
    let mac = mac_of(e, g).to_ascii_lowercase();
    let (lo_name, eth_name) = if g.windows {
        ("Loopback Pseudo-Interface 1", "Ethernet")
    } else {
        ("lo", "eth0")
    };
    let mut list = vec![
        json!({
            "name": lo_name, "hardware-address": "00:00:00:00:00:00",
            "ip-addresses": [
                {"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8},
                {"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128},
            ],
            "statistics": {"rx-bytes": 163_244, "tx-bytes": 163_244, "rx-packets": 1623, "tx-packets": 1623,
                           "rx-errs": 0, "tx-errs": 0, "rx-dropped": 0, "tx-dropped": 0},
        }),
        json!({
            "name": eth_name, "hardware-address": mac,
            "ip-addresses": [
                {"ip-address": ip_of(g), "ip-address-type": "ipv4", "prefix": 24},
                {"ip-address": "fe80::be24:11ff:fe00:1", "ip-address-type": "ipv6", "prefix": 64},
                {"ip-address": format!("fd00:{:x}::{:x}", g.node + 1, g.vmid), "ip-address-type": "ipv6", "prefix": 64},
            ],
            "statistics": {"rx-bytes": rx, "tx-bytes": tx, "rx-packets": rx / 900, "tx-packets": tx / 700,
                           "rx-errs": 0, "tx-errs": 0, "rx-dropped": 12, "tx-dropped": 0},
        }),
    ];
    if g.bind_mounts {
        // Docker hosts: a bridge with an address but no traffic.
        list.push(json!({
            "name": "docker0", "hardware-address": "02:42:ac:11:00:01",
            "ip-addresses": [{"ip-address": "172.17.0.1", "ip-address-type": "ipv4", "prefix": 16}],
            "statistics": {"rx-bytes": 0, "tx-bytes": 0, "rx-packets": 0, "tx-packets": 0,
                           "rx-errs": 0, "tx-errs": 0, "rx-dropped": 0, "tx-dropped": 0},
        }));
    }
    Value::Array(list)
}

fn scsi_disk(dev: &str) -> Value {
    json!([{
        "bus": 0, "bus-type": "scsi", "dev": dev, "target": 0, "unit": 0,
        "serial": "0QEMU_QEMU_HARDDISK_drive-scsi0",
        "pci-controller": {"bus": 1, "domain": 0, "function": 0, "slot": 1},
    }])
}

/// Guest filesystems, with the real-world quirks Pulse must survive: bind mounts repeating
/// one device, tmpfs, `/boot/efi`, squashfs snaps, Windows `total-bytes-privileged`.
fn agent_fsinfo(e: &Estate, g: &Guest, t: i64) -> Value {
    let total = g.maxdisk - g.maxdisk / 20;
    let used = guest_disk_used(e, g, t).min(total);
    if g.windows {
        let c_total = total - 600 * 1024 * 1024;
        let mut c = json!({
            "name": "\\\\?\\Volume{4c1b02c1-d990-11dc-99ae-806e6f6e6963}\\", "mountpoint": "C:\\",
            "type": "NTFS", "used-bytes": used, "total-bytes-privileged": c_total,
            "disk": [{"bus": 0, "bus-type": "scsi", "dev": "\\\\.\\PhysicalDrive0", "target": 0, "unit": 0,
                      "serial": "drive-scsi0", "pci-controller": {"bus": 1, "domain": 0, "function": 0, "slot": 1}}],
        });
        if g.index % 2 == 1 {
            // Some agent builds send both; some send numbers as strings.
            c["total-bytes"] = json!(c_total.to_string());
            c["used-bytes"] = json!(used.to_string());
        }
        return json!([
            {"name": "\\\\?\\Volume{4c1b02c0-d990-11dc-99ae-806e6f6e6963}\\", "mountpoint": "System Reserved",
             "type": "NTFS", "total-bytes": 524_283_904u64, "used-bytes": 33_554_432u64, "disk": []},
            c,
        ]);
    }
    let boot_efi = 535_805_952u64;
    let mut list = vec![
        json!({"name": "sda1", "mountpoint": "/", "type": "ext4", "total-bytes": total - boot_efi,
               "used-bytes": used.min(total - boot_efi), "disk": scsi_disk("/dev/sda1")}),
        json!({"name": "sda15", "mountpoint": "/boot/efi", "type": "vfat", "total-bytes": boot_efi,
               "used-bytes": 6_264_832u64, "disk": scsi_disk("/dev/sda15")}),
        json!({"name": "tmpfs", "mountpoint": "/run", "type": "tmpfs", "total-bytes": g.maxmem / 10,
               "used-bytes": 1_228_800u64, "disk": []}),
    ];
    if g.bind_mounts {
        for mp in ["/var/lib/docker", "/srv/data", "/home"] {
            list.push(json!({"name": "sda1", "mountpoint": mp, "type": "ext4", "total-bytes": total - boot_efi,
                             "used-bytes": used.min(total - boot_efi), "disk": scsi_disk("/dev/sda1")}));
        }
        list.push(
            json!({"name": "loop3", "mountpoint": "/snap/core22/1663", "type": "squashfs",
                         "total-bytes": 77_725_696u64, "used-bytes": 77_725_696u64, "disk": []}),
        );
    }
    Value::Array(list)
}
