//! What a PVE poll knows beyond one request: the instance's settings from the configuration
//! ([`PveSettings`], [`BackupPolicy`], [`SlowReads`]) and everything kept between polls
//! ([`PvePollContext`]: rate counters, held details, RRD and node-status caches), which the
//! event loop owns and lends to a poll worker for one poll (`poll_pve.rs`).

use super::details::{DetailAges, DetailConfig, DetailPlanner};
use super::poll_pve_details::HeldDetails;
use super::rates::RateTracker;
use crate::proxmox::pve_types::{NodeRrdPoint, StorageConfig};
use std::collections::{BTreeMap, HashMap};

/// What the configuration says about the instance.
#[derive(Debug, Clone)]
pub struct PveSettings {
    pub instance: String,
    pub host: String,
    pub is_cluster: bool,
    pub cluster_name: String,
    pub monitor_vms: bool,
    pub monitor_containers: bool,
    pub monitor_storage: bool,
    /// Cluster members' own URLs (node name → `https://<ip>:8006`), from the configured
    /// cluster endpoints: each node links to itself, not to the host Pulse talks to.
    pub node_hosts: BTreeMap<String, String>,
    /// Requests in flight per instance while details are fetched (default 4).
    pub concurrency: usize,
    /// The node's `monitorBackups`: vzdump tasks, backup files and snapshots.
    pub monitor_backups: bool,
}

/// When PVE backups are listed (the system settings `backupPollingEnabled` and
/// `backupPollingInterval`, the same for every instance; set by the monitor before each poll).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupPolicy {
    pub enabled: bool,
    /// 0: every `poll_pve::BACKUP_EVERY_POLLS`th poll (≈100 s); else at most this often.
    pub interval_ms: i64,
}

impl Default for BackupPolicy {
    fn default() -> BackupPolicy {
        BackupPolicy {
            enabled: true,
            interval_ms: 0,
        }
    }
}

impl PveSettings {
    pub fn new(instance: &str, host: &str) -> PveSettings {
        PveSettings {
            instance: instance.to_string(),
            host: host.to_string(),
            is_cluster: false,
            cluster_name: String::new(),
            monitor_vms: true,
            monitor_containers: true,
            monitor_storage: true,
            node_hosts: BTreeMap::new(),
            concurrency: super::lanes::DEFAULT_CONCURRENCY,
            monitor_backups: true,
        }
    }
}

/// SMART data changes slowly and `disks/list` is expensive: every 5 minutes (Pulse's default).
/// ZFS pools are read on the same cadence.
pub const PHYSICAL_DISK_INTERVAL_MS: i64 = 300_000;
/// The slow per-node reads (physical disks, ZFS pools): the same for every instance, set from
/// the environment (`PULSE_DISABLE_ZFS_MONITORING`); tests shorten the interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowReads {
    /// ZFS pools are read (and shown, and alerted on).
    pub zfs: bool,
    /// How often the disks and each node's pools are read again.
    pub interval_ms: i64,
}

impl Default for SlowReads {
    fn default() -> Self {
        SlowReads {
            zfs: true,
            interval_ms: PHYSICAL_DISK_INTERVAL_MS,
        }
    }
}

/// State a PVE poll carries over to the next one. Owned by the event loop, lent to a worker.
#[derive(Debug, Clone)]
pub struct PvePollContext {
    pub settings: PveSettings,
    pub(super) rates: RateTracker,
    pub(super) node_rrd: HashMap<String, (i64, Option<NodeRrdPoint>)>,
    pub(super) node_used: HashMap<String, i64>,
    pub(super) node_status: super::node_status::NodeStatusCache,
    pub(super) disks_polled_ms: Option<i64>,
    pub(super) storage_config: Option<Vec<StorageConfig>>,
    pub(super) polls: u64,
    /// Set by the configuration (`monitorBackups`).
    pub monitor_backups: bool,
    /// The system-wide backup cadence, refreshed by the monitor before each poll.
    pub backup_policy: BackupPolicy,
    /// When backups were last listed.
    pub(super) backups_listed_ms: Option<i64>,
    /// Requests the slow lanes (replication state, physical disks, backups) made and the
    /// detail budget has not paid back yet: they share the instance's budget, so a cycle
    /// that lists backups is followed by cycles with fewer detail reads, and the average
    /// stays at the live part plus the budget.
    pub(super) slow_lane_debt: u32,
    /// The slow reads' switches and cadence.
    pub slow: SlowReads,
    /// ZFS pools per node, held between slow reads.
    pub(super) zfs: super::poll_pve_zfs::ZfsCache,
    /// When each per-guest detail was read, and the request budget for them.
    pub details: DetailPlanner,
    pub(super) held: HeldDetails,
    /// Freshness of the details after the last poll (for health and the bench).
    pub detail_ages: DetailAges,
    /// Detail requests the last poll spent (≤ the budget).
    pub last_detail_cost: u32,
    /// Per source node: when its replication state was read, and the rows it gave.
    pub(super) replication_state: super::poll_pve_replication::StateCache,
}

impl PvePollContext {
    /// `seed` is kept for API stability (detail refreshes are planned, not jittered).
    pub fn new(settings: PveSettings, seed: u64) -> PvePollContext {
        let _ = seed;
        PvePollContext {
            monitor_backups: settings.monitor_backups,
            settings,
            rates: RateTracker::default(),
            node_rrd: HashMap::new(),
            node_used: HashMap::new(),
            node_status: Default::default(),
            disks_polled_ms: None,
            storage_config: None,
            polls: 0,
            backup_policy: BackupPolicy::default(),
            backups_listed_ms: None,
            slow_lane_debt: 0,
            slow: SlowReads::default(),
            zfs: super::poll_pve_zfs::ZfsCache::default(),
            details: DetailPlanner::new(DetailConfig::default()),
            held: HeldDetails::default(),
            detail_ages: DetailAges::default(),
            last_detail_cost: 0,
            replication_state: HashMap::new(),
        }
    }
}

impl PvePollContext {
    /// Backups and snapshots are read for this instance (its `monitorBackups` and the
    /// system's `backupPollingEnabled`).
    pub fn backups_wanted(&self) -> bool {
        self.monitor_backups && self.backup_policy.enabled
    }

    /// True before the instance's first poll completed.
    pub fn is_first_poll(&self) -> bool {
        self.polls == 0
    }
}
