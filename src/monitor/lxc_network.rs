//! Container network identity (interfaces, MACs, addresses) from what PVE knows without a guest
//! agent: the `netN` lines of the container config, the addresses `status/current` reports on
//! some versions, and `/interfaces` (PVE 8+) when neither gave an address.

use crate::proxmox::pve_types::{LxcConfig, LxcInterface, LxcStatus};
use crate::state::GuestNetworkInterface;
use serde_json::Value;
use std::collections::BTreeMap;

/// Placeholders PVE accepts in `ip=`/`ip6=` that are not addresses.
const NOT_ADDRESSES: &[&str] = &[
    "dhcp", "manual", "static", "auto", "none", "n/a", "unknown", "0.0.0.0", "::", "::1",
];

/// `"10.0.0.5/24"` → `"10.0.0.5"`, `"fe80::1%eth0"` → dropped; `None` for anything unusable.
fn clean_address(raw: &str) -> Option<String> {
    let ip = raw
        .trim()
        .split('/')
        .next()?
        .split('%')
        .next()?
        .trim()
        .to_ascii_lowercase();
    if ip.is_empty()
        || NOT_ADDRESSES.contains(&ip.as_str())
        || ip.starts_with("127.")
        || ip.starts_with("fe80")
    {
        return None;
    }
    Some(ip)
}

/// Strings found in a value that is a string, a list of strings, or nested (status fields vary).
fn strings_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.extend(s.split([',', ' ', ';']).map(str::to_string)),
        Value::Array(items) => items.iter().for_each(|i| strings_in(i, out)),
        Value::Object(map) => {
            for key in ["ip", "ip6", "ipv4", "ipv6", "inet", "inet6"] {
                if let Some(inner) = map.get(key) {
                    strings_in(inner, out);
                }
            }
        }
        _ => {}
    }
}

#[derive(Default)]
struct Iface {
    mac: String,
    addresses: Vec<String>,
}

/// Interfaces (sorted by name, `lo` dropped, MACs upper-case) and all addresses (sorted).
pub fn lxc_network(
    config: Option<&LxcConfig>,
    status: Option<&LxcStatus>,
    interfaces: &[LxcInterface],
) -> (Vec<GuestNetworkInterface>, Vec<String>) {
    let mut by_name: BTreeMap<String, Iface> = BTreeMap::new();
    let mut loose: Vec<String> = Vec::new();

    for (key, value) in config.into_iter().flatten() {
        let (Some(rest), Value::String(line)) = (key.strip_prefix("net"), value) else {
            continue;
        };
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let mut name = key.clone();
        let mut entry = Iface::default();
        for part in line.split(',') {
            match part.split_once('=') {
                Some(("name", v)) => name = v.to_string(),
                Some(("hwaddr", v)) => entry.mac = v.to_ascii_uppercase(),
                Some(("ip" | "ip6", v)) => entry.addresses.extend(clean_address(v)),
                _ => {}
            }
        }
        let slot = by_name.entry(name).or_default();
        if slot.mac.is_empty() {
            slot.mac = entry.mac;
        }
        slot.addresses.extend(entry.addresses);
    }

    if let Some(st) = status {
        for v in [&st.ip, &st.ip6, &st.ipv4, &st.ipv6].into_iter().flatten() {
            strings_in(v, &mut loose);
        }
        for (name, v) in st.network.iter().flatten() {
            let mut found = Vec::new();
            strings_in(v, &mut found);
            let slot = by_name.entry(name.clone()).or_default();
            slot.addresses
                .extend(found.iter().filter_map(|a| clean_address(a)));
            if let Some(mac) = v
                .get("hwaddr")
                .and_then(Value::as_str)
                .filter(|_| slot.mac.is_empty())
            {
                slot.mac = mac.to_ascii_uppercase();
            }
        }
    }

    for i in interfaces {
        let slot = by_name.entry(i.name.clone()).or_default();
        if let Some(mac) = i.hwaddr.as_deref().filter(|_| slot.mac.is_empty()) {
            slot.mac = mac.to_ascii_uppercase();
        }
        let listed = i.ip_addresses.iter().map(|a| a.ip_address.as_str());
        let inet = [i.inet.as_deref(), i.inet6.as_deref()]
            .into_iter()
            .flatten();
        slot.addresses
            .extend(listed.chain(inet).filter_map(clean_address));
    }

    let mut all: Vec<String> = loose.iter().filter_map(|a| clean_address(a)).collect();
    let mut out = Vec::new();
    for (name, mut iface) in by_name {
        if name == "lo" {
            continue;
        }
        iface.addresses.sort();
        iface.addresses.dedup();
        if iface.addresses.is_empty() && iface.mac.is_empty() {
            continue;
        }
        all.extend(iface.addresses.iter().cloned());
        out.push(GuestNetworkInterface {
            name,
            mac: iface.mac,
            addresses: iface.addresses,
            rx_bytes: 0,
            tx_bytes: 0,
        });
    }
    all.sort();
    all.dedup();
    (out, all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_status_and_interfaces_merge() {
        let config: LxcConfig = serde_json::from_value(json!({
            "net0": "name=eth0,bridge=vmbr0,hwaddr=bc:24:11:aa:bb:cc,ip=192.168.1.50/24,ip6=dhcp,type=veth",
            "net1": "name=eth1,bridge=vmbr1,hwaddr=bc:24:11:00:00:01,ip=dhcp,type=veth",
            "netmask": "not a net line",
            "rootfs": "local-lvm:vm-300-disk-0,size=8G"
        }))
        .unwrap_or_default();
        let ifaces: Vec<LxcInterface> = serde_json::from_value(json!([
            {"name": "lo", "inet": "127.0.0.1/8"},
            {"name": "eth1", "hwaddr": "bc:24:11:00:00:01", "inet": "10.0.0.7/16", "inet6": "fe80::1/64"}
        ]))
        .unwrap_or_default();
        let (list, all) = lxc_network(Some(&config), None, &ifaces);
        let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["eth0", "eth1"]);
        assert_eq!(list[0].mac, "BC:24:11:AA:BB:CC");
        assert_eq!(list[0].addresses, ["192.168.1.50"]);
        assert_eq!(list[1].addresses, ["10.0.0.7"]);
        assert_eq!(all, ["10.0.0.7", "192.168.1.50"]);
    }
}
