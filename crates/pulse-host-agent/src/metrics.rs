//! Reading the machine: each function returns what it could read (an unreadable file is an
//! empty list, not an error: containers and odd kernels hide parts of `/proc` and `/sys`).

use pulse_wire::agents::host::DiskIo;
use pulse_wire::agents::{Disk, NetworkInterface, Sensors};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::fs;
use std::time::{Duration, Instant};

/// CPU use between two readings of `/proc/stat`'s first line.
#[derive(Default)]
pub struct CpuSampler {
    last: Option<(u64, u64, Instant)>,
}

/// (busy, total) jiffies.
fn cpu_times() -> Option<(u64, u64)> {
    let text = fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is already in user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

impl CpuSampler {
    /// Percent busy since the previous call; the first call samples 250 ms itself.
    pub fn usage_percent(&mut self) -> f64 {
        if self.last.is_none() {
            if let Some((b, t)) = cpu_times() {
                self.last = Some((b, t, Instant::now()));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let Some((busy, total)) = cpu_times() else {
            return 0.0;
        };
        let out = match self.last {
            Some((b0, t0, _)) if total > t0 => {
                (busy.saturating_sub(b0)) as f64 * 100.0 / (total - t0) as f64
            }
            _ => 0.0,
        };
        self.last = Some((busy, total, Instant::now()));
        out.clamp(0.0, 100.0)
    }
}

pub fn cpu_count() -> i64 {
    std::thread::available_parallelism().map_or(0, |n| n.get() as i64)
}

pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// Filesystems that hold no user data (as `df` leaves them out).
const PSEUDO_FS: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "tmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "securityfs",
    "pstore",
    "debugfs",
    "tracefs",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "bpf",
    "autofs",
    "binfmt_misc",
    "nsfs",
    "rpc_pipefs",
    "squashfs",
    "ramfs",
    "efivarfs",
    "selinuxfs",
    "fuse.lxcfs",
    "fuse.gvfsd-fuse",
    "fuse.portal",
    "nfsd",
    "iso9660",
];

/// `/proc/self/mounts` unescapes `\040` (space) and friends.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            if let Ok(n) = u8::from_str_radix(&s[i + 1..(i + 4).min(s.len())], 8) {
                out.push(n as char);
                i += 4;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// (total, used, available) bytes of the filesystem at `path`, as `df` computes them.
pub fn statvfs(path: &str) -> Option<(i64, i64, i64)> {
    let c = CString::new(path).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `s` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    let f = s.f_frsize as i64;
    let total = s.f_blocks as i64 * f;
    let used = (s.f_blocks as i64 - s.f_bfree as i64) * f;
    let avail = s.f_bavail as i64 * f;
    Some((total, used, avail))
}

/// Each mounted real filesystem once (a device mounted twice is reported at its first mount).
pub fn filesystems() -> Vec<Disk> {
    let text = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 || PSEUDO_FS.contains(&f[2]) {
            continue;
        }
        let (device, mountpoint, fs_type) = (unescape(f[0]), unescape(f[1]), f[2].to_string());
        if !seen.insert(device.clone()) {
            continue;
        }
        let Some((total, used, avail)) = statvfs(&mountpoint) else {
            continue;
        };
        if total == 0 {
            continue;
        }
        // `df`'s Use%: used of what a user could have (used + available).
        let usage = if used + avail > 0 {
            used as f64 * 100.0 / (used + avail) as f64
        } else {
            0.0
        };
        out.push(Disk {
            device,
            mountpoint,
            fs_type,
            total_bytes: total,
            used_bytes: used,
            free_bytes: avail,
            usage,
            ..Disk::default()
        });
    }
    out
}

/// Bytes read and written by each whole disk since boot (`/proc/diskstats`, 512-byte sectors).
pub fn disk_io() -> Vec<DiskIo> {
    let text = fs::read_to_string("/proc/diskstats").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let name = *f.get(2)?;
            // Whole disks only (they have a /sys/block entry), no loop or RAM devices.
            if name.starts_with("loop") || name.starts_with("ram") {
                return None;
            }
            if fs::metadata(format!("/sys/block/{name}")).is_err() {
                return None;
            }
            let read: u64 = f.get(5)?.parse().ok()?;
            let written: u64 = f.get(9)?.parse().ok()?;
            Some(DiskIo {
                device: name.to_string(),
                read_bytes: read * 512,
                write_bytes: written * 512,
            })
        })
        .collect()
}

/// Addresses per interface name (`getifaddrs`).
fn addresses() -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we walk read-only and free once.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut p = head;
        while !p.is_null() {
            let ifa = &*p;
            p = ifa.ifa_next;
            if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
                continue;
            }
            let name = std::ffi::CStr::from_ptr(ifa.ifa_name)
                .to_string_lossy()
                .into_owned();
            let addr = match (*ifa.ifa_addr).sa_family as i32 {
                libc::AF_INET => {
                    let a = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    std::net::IpAddr::from(u32::from_be(a.sin_addr.s_addr).to_be_bytes())
                }
                libc::AF_INET6 => {
                    let a = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    std::net::IpAddr::from(a.sin6_addr.s6_addr)
                }
                _ => continue,
            };
            out.entry(name).or_default().push(addr.to_string());
        }
        libc::freeifaddrs(head);
    }
    out
}

/// Interfaces with their counters (`/proc/net/dev`), MAC and speed (`/sys/class/net`).
pub fn network() -> Vec<NetworkInterface> {
    let text = fs::read_to_string("/proc/net/dev").unwrap_or_default();
    let mut addrs = addresses();
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let name = name.trim();
            if name == "lo" {
                return None;
            }
            let v: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            let sys =
                |f: &str| pulse_agent_kit::sys::read_trimmed(&format!("/sys/class/net/{name}/{f}"));
            Some(NetworkInterface {
                name: name.to_string(),
                mac: sys("address").unwrap_or_default(),
                addresses: addrs.remove(name).unwrap_or_default(),
                rx_bytes: v.first().copied(),
                tx_bytes: v.get(8).copied(),
                speed_mbps: sys("speed")
                    .and_then(|s| s.parse().ok())
                    .filter(|s: &i64| *s > 0),
            })
        })
        .collect()
}

/// Temperatures from hwmon (`<chip> <label>` → °C) and thermal zones, where exposed.
pub fn sensors() -> Sensors {
    let mut s = Sensors::default();
    if let Ok(dir) = fs::read_dir("/sys/class/hwmon") {
        for entry in dir.flatten() {
            let base = entry.path();
            let chip = fs::read_to_string(base.join("name"))
                .map(|n| n.trim().to_string())
                .unwrap_or_default();
            let Ok(files) = fs::read_dir(&base) else {
                continue;
            };
            for f in files.flatten() {
                let file = f.file_name().to_string_lossy().into_owned();
                let Some(prefix) = file.strip_suffix("_input") else {
                    continue;
                };
                let Some(v) = fs::read_to_string(f.path())
                    .ok()
                    .and_then(|t| t.trim().parse::<f64>().ok())
                else {
                    continue;
                };
                let label = fs::read_to_string(base.join(format!("{prefix}_label")))
                    .map(|l| l.trim().to_string())
                    .unwrap_or_else(|_| prefix.to_string());
                let key = format!("{chip} {label}").trim().to_string();
                if prefix.starts_with("temp") {
                    s.temperature_celsius.insert(key, v / 1000.0);
                } else if prefix.starts_with("fan") {
                    s.fan_rpm.insert(key, v);
                }
            }
        }
    }
    if s.temperature_celsius.is_empty() {
        if let Ok(dir) = fs::read_dir("/sys/class/thermal") {
            for entry in dir.flatten() {
                let p = entry.path();
                let (Ok(kind), Ok(t)) = (
                    fs::read_to_string(p.join("type")),
                    fs::read_to_string(p.join("temp")),
                ) else {
                    continue;
                };
                if let Ok(v) = t.trim().parse::<f64>() {
                    s.temperature_celsius
                        .insert(kind.trim().to_string(), v / 1000.0);
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn this_machine_has_a_root_filesystem_and_cpu() {
        let disks = filesystems();
        assert!(statvfs("/").is_some());
        assert!(cpu_count() > 0);
        let mut s = CpuSampler::default();
        let u = s.usage_percent();
        assert!((0.0..=100.0).contains(&u));
        let _ = disks;
    }
}
