//! ZFS pool checks of a `zfspool` storage (its `zfsPool`, read on the slow cadence):
//!
//! - `zfs-pool-state-<storage>`: the pool is not ONLINE (DEGRADED a warning, FAULTED, UNAVAIL,
//!   SUSPENDED and the rest critical: the data is not all there);
//! - `zfs-pool-errors-<storage>`: read, write or checksum errors counted in the pool (warning);
//! - `zfs-device-<storage>-<device>`: one per device the pool lists as needing a look (a
//!   FAULTED, UNAVAIL or REMOVED device critical, others warnings).
//!
//! They belong to the storage, so `disableAllStorage` and a storage override that disables it
//! switch them off like its usage alert. A healthy pool yields nothing (no allocation), and an
//! alert whose check is no longer reported resolves.

use super::alert::{Condition, Level};
use crate::state::zfs::{ZfsDevice, ZfsPool};

/// Pool states that are a warning rather than critical: redundancy is reduced, data is there.
const WARNING_POOL_STATES: &[&str] = &["DEGRADED"];
/// Device states that are critical: the device is gone or unusable.
const CRITICAL_DEVICE_STATES: &[&str] = &["FAULTED", "UNAVAIL", "REMOVED"];

fn is_one_of(state: &str, list: &[&str]) -> bool {
    list.iter().any(|s| state.eq_ignore_ascii_case(s))
}

/// The conditions of one storage's pool; empty when it is healthy.
pub fn zfs_pool(storage_id: &str, pool: &ZfsPool) -> Vec<Condition> {
    if pool.is_online() && !pool.has_errors() && pool.devices.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(2 + pool.devices.len());
    if !pool.is_online() {
        let level = if is_one_of(&pool.state, WARNING_POOL_STATES) {
            Level::Warning
        } else {
            Level::Critical
        };
        out.push(Condition {
            id: format!("zfs-pool-state-{storage_id}"),
            kind: "zfs-pool-state",
            level: Some(level),
            cleared: false,
            value: 1.0,
            threshold: 1.0,
            clear_threshold: 0.0,
            unit: "",
            message: format!("ZFS pool '{}' is {}", pool.name, pool.state),
        });
    }
    if pool.has_errors() {
        let total = pool
            .read_errors
            .saturating_add(pool.write_errors)
            .saturating_add(pool.checksum_errors);
        out.push(Condition {
            id: format!("zfs-pool-errors-{storage_id}"),
            kind: "zfs-pool-errors",
            level: Some(Level::Warning),
            cleared: false,
            value: total as f64,
            threshold: 1.0,
            clear_threshold: 0.0,
            unit: "errors",
            message: format!(
                "ZFS pool '{}' has errors: {} read, {} write, {} checksum",
                pool.name, pool.read_errors, pool.write_errors, pool.checksum_errors
            ),
        });
    }
    out.extend(
        pool.devices
            .iter()
            .map(|d| device(storage_id, &pool.name, d)),
    );
    out
}

fn device(storage_id: &str, pool: &str, d: &ZfsDevice) -> Condition {
    let level = if is_one_of(&d.state, CRITICAL_DEVICE_STATES) {
        Level::Critical
    } else {
        Level::Warning
    };
    let errors = d
        .read_errors
        .saturating_add(d.write_errors)
        .saturating_add(d.checksum_errors);
    let mut message = format!("ZFS device '{}' in pool '{pool}' is {}", d.name, d.state);
    if errors > 0 {
        message.push_str(&format!(
            " ({} read, {} write, {} checksum errors)",
            d.read_errors, d.write_errors, d.checksum_errors
        ));
    }
    if !d.message.is_empty() {
        message.push_str(&format!(": {}", d.message));
    }
    Condition {
        id: format!("zfs-device-{storage_id}-{}", d.name),
        kind: "zfs-device",
        level: Some(level),
        cleared: false,
        value: errors as f64,
        threshold: 1.0,
        clear_threshold: 0.0,
        unit: "errors",
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(name: &str, state: &str, read: i64) -> ZfsDevice {
        ZfsDevice {
            name: name.into(),
            kind: "disk".into(),
            state: state.into(),
            read_errors: read,
            ..ZfsDevice::default()
        }
    }

    #[test]
    fn levels_follow_pool_and_device_states() {
        let healthy = ZfsPool {
            name: "rpool".into(),
            state: "ONLINE".into(),
            ..ZfsPool::default()
        };
        assert!(zfs_pool("s", &healthy).is_empty());

        let degraded = ZfsPool {
            state: "DEGRADED".into(),
            read_errors: 3,
            devices: vec![dev("mirror-0", "DEGRADED", 0), dev("sdb", "FAULTED", 3)],
            ..healthy.clone()
        };
        let got: Vec<(String, Option<Level>)> = zfs_pool("lab-n1-local-zfs", &degraded)
            .into_iter()
            .map(|c| (c.id, c.level))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "zfs-pool-state-lab-n1-local-zfs".into(),
                    Some(Level::Warning)
                ),
                (
                    "zfs-pool-errors-lab-n1-local-zfs".into(),
                    Some(Level::Warning)
                ),
                (
                    "zfs-device-lab-n1-local-zfs-mirror-0".into(),
                    Some(Level::Warning)
                ),
                (
                    "zfs-device-lab-n1-local-zfs-sdb".into(),
                    Some(Level::Critical)
                ),
            ]
        );

        for state in ["FAULTED", "UNAVAIL", "SUSPENDED"] {
            let bad = ZfsPool {
                state: state.into(),
                ..healthy.clone()
            };
            let c = zfs_pool("s", &bad);
            assert_eq!(c.len(), 1);
            assert_eq!(c[0].level, Some(Level::Critical), "{state}");
            assert_eq!(c[0].message, format!("ZFS pool 'rpool' is {state}"));
        }

        // ONLINE but counting checksum errors: the errors, and the device that has them.
        let erring = ZfsPool {
            checksum_errors: 2,
            devices: vec![ZfsDevice {
                checksum_errors: 2,
                ..dev("sdc", "ONLINE", 0)
            }],
            ..healthy.clone()
        };
        let c = zfs_pool("s", &erring);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].kind, "zfs-pool-errors");
        assert_eq!(c[0].value, 2.0);
        assert_eq!(
            c[1].message,
            "ZFS device 'sdc' in pool 'rpool' is ONLINE (0 read, 0 write, 2 checksum errors)"
        );
        assert_eq!(c[1].level, Some(Level::Warning));
    }
}
