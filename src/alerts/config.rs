//! The alert configuration (`alerts.json`, `GET/PUT /api/alerts/config`): Pulse's documented
//! shape, its defaults, strict validation for what the API receives and lenient repair for what
//! an existing Pulse file holds.
//!
//! Keys this version does not model are kept (`extra`) and written back unchanged, so a
//! configuration from a newer Pulse survives a round trip through us.

use super::threshold::{validate_pair, Metric, Threshold, ThresholdConfig};
use crate::util::time::UtcTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AlertConfig {
    pub enabled: bool,
    /// `pending_review` (fresh install: alerts are evaluated and shown, nobody is notified),
    /// `active`, or `snoozed`.
    pub activation_state: String,
    pub observation_window_hours: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation_time: Option<UtcTime>,
    pub guest_defaults: ThresholdConfig,
    pub node_defaults: ThresholdConfig,
    pub host_defaults: ThresholdConfig,
    pub storage_default: Threshold,
    pub docker_defaults: DockerDefaults,
    pub docker_ignored_container_prefixes: Vec<String>,
    #[serde(alias = "pmgThresholds")]
    pub pmg_defaults: PmgDefaults,
    pub snapshot_defaults: AgeDefaults,
    pub backup_defaults: AgeDefaults,
    pub overrides: BTreeMap<String, ThresholdConfig>,
    pub schedule: Schedule,
    pub flapping: Flapping,
    pub disable_all_nodes: bool,
    pub disable_all_guests: bool,
    pub disable_all_hosts: bool,
    pub disable_all_storage: bool,
    #[serde(rename = "disableAllPBS")]
    pub disable_all_pbs: bool,
    #[serde(rename = "disableAllPMG")]
    pub disable_all_pmg: bool,
    pub disable_all_docker_hosts: bool,
    pub disable_all_docker_containers: bool,
    pub disable_all_nodes_offline: bool,
    pub disable_all_guests_offline: bool,
    #[serde(rename = "disableAllPBSOffline")]
    pub disable_all_pbs_offline: bool,
    #[serde(rename = "disableAllPMGOffline")]
    pub disable_all_pmg_offline: bool,
    /// Points an ongoing alert's value must move before a re-fire counts as new.
    pub minimum_delta: f64,
    /// Minutes a resolved alert that comes straight back with the same value stays quiet.
    pub suppression_window: u32,
    /// Pulse's hysteresis margin setting, kept for compatibility (each pair's own clear level
    /// is what resolves an alert).
    pub hysteresis_margin: f64,
    /// Legacy grace period (seconds) for every type.
    pub time_threshold: i64,
    /// Grace period (seconds) per resource type: `guest`, `node`, `storage`, `pbs`, `all`.
    pub time_thresholds: BTreeMap<String, i64>,
    /// Grace period (seconds) per type and metric (`default`, `_default` or `*` for the rest).
    pub metric_time_thresholds: BTreeMap<String, BTreeMap<String, i64>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DockerDefaults {
    pub cpu: Threshold,
    pub memory: Threshold,
    pub disk: Threshold,
    pub restart_count: u32,
    /// Seconds.
    pub restart_window: u32,
    pub memory_warn_pct: f64,
    pub memory_critical_pct: f64,
    pub service_warn_gap_percent: f64,
    pub service_critical_gap_percent: f64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for DockerDefaults {
    fn default() -> Self {
        DockerDefaults {
            cpu: Threshold::new(80.0, 75.0),
            memory: Threshold::new(85.0, 80.0),
            disk: Threshold::new(85.0, 80.0),
            restart_count: 3,
            restart_window: 300,
            memory_warn_pct: 90.0,
            memory_critical_pct: 95.0,
            service_warn_gap_percent: 10.0,
            service_critical_gap_percent: 50.0,
            extra: Map::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PmgDefaults {
    pub queue_total_warning: u32,
    pub queue_total_critical: u32,
    pub oldest_message_warn_mins: u32,
    pub oldest_message_crit_mins: u32,
    pub deferred_queue_warn: u32,
    pub deferred_queue_critical: u32,
    pub hold_queue_warn: u32,
    pub hold_queue_critical: u32,
    pub quarantine_spam_warn: u32,
    pub quarantine_spam_critical: u32,
    pub quarantine_virus_warn: u32,
    pub quarantine_virus_critical: u32,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for PmgDefaults {
    fn default() -> Self {
        PmgDefaults {
            queue_total_warning: 500,
            queue_total_critical: 1000,
            oldest_message_warn_mins: 30,
            oldest_message_crit_mins: 60,
            deferred_queue_warn: 200,
            deferred_queue_critical: 500,
            hold_queue_warn: 100,
            hold_queue_critical: 300,
            quarantine_spam_warn: 2000,
            quarantine_spam_critical: 5000,
            quarantine_virus_warn: 2000,
            quarantine_virus_critical: 5000,
            extra: Map::new(),
        }
    }
}

/// Snapshot and backup age rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AgeDefaults {
    pub enabled: bool,
    pub warning_days: u32,
    pub critical_days: u32,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AgeDefaults {
    fn new(warning_days: u32, critical_days: u32) -> AgeDefaults {
        AgeDefaults {
            enabled: false,
            warning_days,
            critical_days,
            extra: Map::new(),
        }
    }
}

impl Default for AgeDefaults {
    fn default() -> Self {
        AgeDefaults::new(7, 14)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Schedule {
    pub quiet_hours: QuietHours,
    /// Minutes between re-notifications of one ongoing alert.
    pub cooldown: u32,
    /// Seconds (deprecated alias of `grouping.window`).
    pub grouping_window: u32,
    /// Notifications per alert per hour; 0 = no limit.
    pub max_alerts_hour: u32,
    pub escalation: Escalation,
    pub grouping: Grouping,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Schedule {
    /// A fresh install notifies sensibly from the start: 5 minutes between repeats, at most 10
    /// per alert per hour, 30 s grouping (Pulse's own fresh-install schedule is all zeros,
    /// which notifies on every poll).
    fn default() -> Self {
        Schedule {
            quiet_hours: QuietHours::default(),
            cooldown: 5,
            grouping_window: 30,
            max_alerts_hour: 10,
            escalation: Escalation::default(),
            grouping: Grouping::default(),
            extra: Map::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QuietHours {
    pub enabled: bool,
    /// `HH:MM`, local time in `timezone`; an end before the start spans midnight.
    pub start: String,
    pub end: String,
    /// IANA name (`Europe/Berlin`) or a POSIX rule.
    pub timezone: String,
    pub days: BTreeMap<String, bool>,
    pub suppress: QuietSuppress,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl Default for QuietHours {
    fn default() -> Self {
        QuietHours {
            enabled: false,
            start: "22:00".into(),
            end: "08:00".into(),
            timezone: "UTC".into(),
            days: WEEKDAYS
                .iter()
                .enumerate()
                .map(|(i, d)| (d.to_string(), i < 5))
                .collect(),
            suppress: QuietSuppress::default(),
            extra: Map::new(),
        }
    }
}

/// Which categories of *critical* alerts quiet hours also hold back (warnings always are).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QuietSuppress {
    pub performance: bool,
    pub storage: bool,
    pub offline: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Escalation {
    pub enabled: bool,
    pub levels: Vec<EscalationLevel>,
}

impl Default for Escalation {
    fn default() -> Self {
        let level = |after, notify: &str| EscalationLevel {
            after,
            notify: notify.into(),
        };
        Escalation {
            enabled: false,
            levels: vec![level(15, "email"), level(30, "webhook"), level(60, "all")],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EscalationLevel {
    /// Minutes after the alert started.
    pub after: u32,
    /// `email`, `webhook` or `all`.
    pub notify: String,
}

impl Default for EscalationLevel {
    fn default() -> Self {
        EscalationLevel {
            after: 15,
            notify: "all".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Grouping {
    pub enabled: bool,
    /// Seconds.
    pub window: u32,
    pub by_node: bool,
    pub by_guest: bool,
}

impl Default for Grouping {
    fn default() -> Self {
        Grouping {
            enabled: true,
            window: 30,
            by_node: true,
            by_guest: false,
        }
    }
}

/// An alert that fires and resolves `threshold` times within `window` seconds is flapping:
/// it stays visible, marked, and its notifications are held until it settles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Flapping {
    pub enabled: bool,
    pub threshold: u32,
    /// Seconds.
    pub window: u32,
}

impl Default for Flapping {
    fn default() -> Self {
        Flapping {
            enabled: true,
            threshold: 5,
            window: 600,
        }
    }
}

impl Default for AlertConfig {
    fn default() -> Self {
        let t = Threshold::new;
        AlertConfig {
            enabled: true,
            activation_state: "pending_review".into(),
            observation_window_hours: 24,
            activation_time: None,
            guest_defaults: ThresholdConfig {
                cpu: Some(t(80.0, 75.0)),
                memory: Some(t(85.0, 80.0)),
                disk: Some(t(90.0, 85.0)),
                disk_read: Some(Threshold::OFF),
                disk_write: Some(Threshold::OFF),
                network_in: Some(Threshold::OFF),
                network_out: Some(Threshold::OFF),
                powered_off_severity: Some("warning".into()),
                ..Default::default()
            },
            node_defaults: ThresholdConfig {
                cpu: Some(t(80.0, 75.0)),
                memory: Some(t(85.0, 80.0)),
                disk: Some(t(90.0, 85.0)),
                temperature: Some(t(80.0, 75.0)),
                ..Default::default()
            },
            host_defaults: ThresholdConfig {
                cpu: Some(t(80.0, 75.0)),
                memory: Some(t(85.0, 80.0)),
                disk: Some(t(90.0, 85.0)),
                ..Default::default()
            },
            storage_default: t(85.0, 80.0),
            docker_defaults: DockerDefaults::default(),
            docker_ignored_container_prefixes: Vec::new(),
            pmg_defaults: PmgDefaults::default(),
            snapshot_defaults: AgeDefaults::new(30, 45),
            backup_defaults: AgeDefaults::new(7, 14),
            overrides: BTreeMap::new(),
            schedule: Schedule::default(),
            flapping: Flapping::default(),
            disable_all_nodes: false,
            disable_all_guests: false,
            disable_all_hosts: false,
            disable_all_storage: false,
            disable_all_pbs: false,
            disable_all_pmg: false,
            disable_all_docker_hosts: false,
            disable_all_docker_containers: false,
            disable_all_nodes_offline: false,
            disable_all_guests_offline: false,
            disable_all_pbs_offline: false,
            disable_all_pmg_offline: false,
            minimum_delta: 2.0,
            suppression_window: 5,
            hysteresis_margin: 5.0,
            time_threshold: 5,
            time_thresholds: [("guest", 5), ("node", 5), ("storage", 5), ("pbs", 5)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            metric_time_thresholds: BTreeMap::new(),
            extra: Map::new(),
        }
    }
}

impl AlertConfig {
    /// Strict parse for the API: wrong types, out-of-range values and a clear above its trigger
    /// are refused with a message that names the field; nothing is repaired silently.
    pub fn from_api(body: &[u8]) -> Result<AlertConfig, String> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
        if !value.is_object() {
            return Err("the alert configuration must be a JSON object".into());
        }
        let mut cfg: AlertConfig = serde_json::from_value(value.clone())
            .map_err(|e| crate::util::json_path::explain::<AlertConfig>(&value, &e))?;
        cfg.validate()?;
        cfg.normalize();
        Ok(cfg)
    }

    /// Lenient parse for a file written by us or by Pulse: what cannot be used is repaired the
    /// way Pulse repairs it (a clear above its trigger becomes trigger − 5, negative delays 5 s,
    /// an unknown time zone turns quiet hours off), with one warning per repair.
    pub fn from_file(bytes: &[u8]) -> Result<(AlertConfig, Vec<String>), String> {
        let mut cfg: AlertConfig =
            serde_json::from_slice(bytes).map_err(|e| format!("alerts.json: {e}"))?;
        cfg.normalize();
        let mut warnings = Vec::new();
        let mut fix = |t: &mut Threshold, at: &str| {
            if t.is_enabled() && t.clear > t.trigger {
                warnings.push(format!("{at}: clear above trigger, set to trigger - 5"));
                t.clear = (t.trigger - 5.0).max(0.0);
            }
        };
        for (name, set) in [
            ("guestDefaults", &mut cfg.guest_defaults),
            ("nodeDefaults", &mut cfg.node_defaults),
            ("hostDefaults", &mut cfg.host_defaults),
        ] {
            for m in Metric::ALL {
                if let Some(mut t) = set.get(m) {
                    fix(&mut t, &format!("{name}.{}", m.key()));
                    set.set(m, Some(t));
                }
            }
        }
        fix(&mut cfg.storage_default, "storageDefault");
        for v in cfg.time_thresholds.values_mut() {
            if *v < 0 {
                *v = 5;
            }
        }
        if cfg.time_threshold < 0 {
            cfg.time_threshold = 5;
        }
        if cfg.activation_state.is_empty() {
            cfg.activation_state = if cfg.overrides.is_empty() {
                "pending_review".into()
            } else {
                "active".into()
            };
        }
        if !matches!(
            cfg.activation_state.as_str(),
            "pending_review" | "active" | "snoozed"
        ) {
            warnings.push(format!(
                "activationState {:?} unknown, set to pending_review",
                cfg.activation_state
            ));
            cfg.activation_state = "pending_review".into();
        }
        Ok((cfg, warnings))
    }

    pub fn validate(&self) -> Result<(), String> {
        if !matches!(
            self.activation_state.as_str(),
            "pending_review" | "active" | "snoozed"
        ) {
            return Err(format!(
                "activationState: must be pending_review, active or snoozed, not {:?}",
                self.activation_state
            ));
        }
        self.guest_defaults.validate("guestDefaults")?;
        self.node_defaults.validate("nodeDefaults")?;
        self.host_defaults.validate("hostDefaults")?;
        validate_pair(&self.storage_default, "storageDefault", 100.0)?;
        for (name, t) in [
            ("cpu", &self.docker_defaults.cpu),
            ("memory", &self.docker_defaults.memory),
            ("disk", &self.docker_defaults.disk),
        ] {
            validate_pair(t, &format!("dockerDefaults.{name}"), 100.0)?;
        }
        for (id, o) in &self.overrides {
            if id.is_empty() || id.len() > 500 {
                return Err("overrides: resource ids must be 1 to 500 characters".into());
            }
            o.validate(&format!("overrides.{id}"))?;
        }
        for (k, v) in &self.time_thresholds {
            if *v < 0 {
                return Err(format!("timeThresholds.{k}: must not be negative"));
            }
        }
        for (k, per) in &self.metric_time_thresholds {
            for (m, v) in per {
                if *v < 0 {
                    return Err(format!(
                        "metricTimeThresholds.{k}.{m}: must not be negative"
                    ));
                }
            }
        }
        if self.time_threshold < 0 {
            return Err("timeThreshold: must not be negative".into());
        }
        if !(self.minimum_delta >= 0.0 && self.hysteresis_margin >= 0.0) {
            return Err("minimumDelta and hysteresisMargin must not be negative".into());
        }
        for (at, days) in [
            ("snapshotDefaults", &self.snapshot_defaults),
            ("backupDefaults", &self.backup_defaults),
        ] {
            if days.enabled && days.critical_days < days.warning_days {
                return Err(format!(
                    "{at}.criticalDays: must not be below warningDays ({})",
                    days.warning_days
                ));
            }
        }
        let q = &self.schedule.quiet_hours;
        parse_hhmm(&q.start).ok_or("schedule.quietHours.start: expected HH:MM")?;
        parse_hhmm(&q.end).ok_or("schedule.quietHours.end: expected HH:MM")?;
        for day in q.days.keys() {
            if !WEEKDAYS.contains(&day.as_str()) {
                return Err(format!("schedule.quietHours.days: unknown day {day:?}"));
            }
        }
        for (i, l) in self.schedule.escalation.levels.iter().enumerate() {
            if !matches!(l.notify.as_str(), "email" | "webhook" | "all") {
                return Err(format!(
                    "schedule.escalation.levels[{i}].notify: must be email, webhook or all"
                ));
            }
        }
        if self.flapping.enabled && (self.flapping.threshold < 2 || self.flapping.window == 0) {
            return Err("flapping: threshold must be at least 2 and window positive".into());
        }
        Ok(())
    }

    /// Tidies what has one meaning in several spellings: Docker prefixes are trimmed, empty
    /// ones dropped, duplicates (ignoring case) removed keeping the first spelling.
    fn normalize(&mut self) {
        let mut seen: Vec<String> = Vec::new();
        self.docker_ignored_container_prefixes.retain_mut(|p| {
            *p = p.trim().to_string();
            let lower = p.to_lowercase();
            if p.is_empty() || seen.contains(&lower) {
                return false;
            }
            seen.push(lower);
            true
        });
    }

    /// Whether a Docker container is exempt from every alert: its name or id starts with one
    /// of `dockerIgnoredContainerPrefixes`, ignoring case (ephemeral CI containers...). For the
    /// Docker agent's reports; nothing else consults it.
    pub fn docker_container_ignored(&self, name: &str, id: &str) -> bool {
        if self.docker_ignored_container_prefixes.is_empty() {
            return false;
        }
        let (name, id) = (name.to_lowercase(), id.to_lowercase());
        self.docker_ignored_container_prefixes.iter().any(|p| {
            let p = p.to_lowercase();
            name.starts_with(&p) || id.starts_with(&p)
        })
    }

    /// Grace period in seconds for `metric` on a resource of `type_keys` (most specific first),
    /// resolved as Pulse does: per-metric, then per-type, then `all`, then the legacy value.
    pub fn grace_secs(&self, type_keys: &[&str], metric: &str) -> i64 {
        let per_metric = |k: &str| {
            self.metric_time_thresholds.get(k).and_then(|m| {
                [metric, "default", "_default", "*"]
                    .iter()
                    .find_map(|key| m.get(*key).copied())
            })
        };
        for k in type_keys {
            if let Some(v) = per_metric(k).or_else(|| self.time_thresholds.get(*k).copied()) {
                return v.max(0);
            }
        }
        per_metric("all")
            .or_else(|| self.time_thresholds.get("all").copied())
            .unwrap_or(self.time_threshold)
            .max(0)
    }
}

/// `HH:MM` → minute of the day.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_validate() {
        let cfg = AlertConfig::default();
        cfg.validate().unwrap();
        let json = serde_json::to_vec(&cfg).unwrap();
        assert_eq!(AlertConfig::from_api(&json).unwrap(), cfg);
        let v: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["guestDefaults"]["cpu"]["trigger"], 80.0);
        assert_eq!(v["storageDefault"]["clear"], 80.0);
        assert_eq!(v["activationState"], "pending_review");
        assert_eq!(v["disableAllPBS"], false);
    }

    #[test]
    fn api_refuses_with_the_field_named() {
        let e =
            AlertConfig::from_api(br#"{"guestDefaults": {"cpu": {"trigger": 70, "clear": 90}}}"#)
                .unwrap_err();
        assert!(e.contains("guestDefaults.cpu.clear"), "{e}");
        let e = AlertConfig::from_api(br#"{"timeThresholds": {"guest": -3}}"#).unwrap_err();
        assert!(e.contains("timeThresholds.guest"), "{e}");
        let e = AlertConfig::from_api(br#"{"schedule": {"cooldown": "soon"}}"#).unwrap_err();
        assert!(e.contains("schedule.cooldown"), "{e}");
        let e = AlertConfig::from_api(br#"{"nodeDefaults": {"memory": "high"}}"#).unwrap_err();
        assert!(e.contains("nodeDefaults.memory"), "{e}");
        assert!(AlertConfig::from_api(b"[1]").is_err());
        assert!(AlertConfig::from_api(b"{")
            .unwrap_err()
            .contains("invalid JSON"));
    }

    #[test]
    fn a_pulse_file_is_read_as_is_and_repaired_leniently() {
        let file = br#"{"enabled": true, "activationState": "",
            "guestDefaults": {"cpu": {"trigger": 80, "clear": 95}},
            "pmgThresholds": {"queueTotalWarning": 42},
            "overrides": {"pve1:node1:100": {"memory": {"trigger": 95, "clear": 90}}},
            "aggregation": {"enabled": true}}"#;
        let (cfg, warnings) = AlertConfig::from_file(file).unwrap();
        assert_eq!(cfg.guest_defaults.cpu, Some(Threshold::new(80.0, 75.0)));
        assert_eq!(warnings.len(), 1);
        assert_eq!(cfg.pmg_defaults.queue_total_warning, 42);
        assert_eq!(cfg.activation_state, "active");
        let back = serde_json::to_value(&cfg).unwrap();
        assert_eq!(back["aggregation"]["enabled"], true);
    }

    #[test]
    fn grace_period_resolution_order() {
        let mut cfg = AlertConfig::default();
        cfg.time_thresholds.insert("guest".into(), 30);
        cfg.metric_time_thresholds
            .insert("guest".into(), [("memory".to_string(), 120)].into());
        assert_eq!(cfg.grace_secs(&["guest"], "memory"), 120);
        assert_eq!(cfg.grace_secs(&["guest"], "cpu"), 30);
        cfg.time_thresholds.clear();
        cfg.time_threshold = 7;
        assert_eq!(cfg.grace_secs(&["node"], "cpu"), 7);
        cfg.time_thresholds.insert("all".into(), 9);
        assert_eq!(cfg.grace_secs(&["node"], "cpu"), 9);
    }

    #[test]
    fn docker_prefixes_are_tidied_and_match_ignoring_case() {
        let cfg = AlertConfig::from_api(
            br#"{"dockerIgnoredContainerPrefixes": [" runner-", "RUNNER-", "", "CI_"]}"#,
        )
        .unwrap();
        assert_eq!(cfg.docker_ignored_container_prefixes, ["runner-", "CI_"]);
        assert!(cfg.docker_container_ignored("Runner-abc", "0f3e"));
        assert!(cfg.docker_container_ignored("web", "ci_1234"));
        assert!(!cfg.docker_container_ignored("web", "0f3e"));
        let v = serde_json::to_value(&cfg).unwrap();
        assert_eq!(v["dockerDefaults"]["restartCount"], 3);
        assert_eq!(v["dockerDefaults"]["memory"]["trigger"], 85.0);
    }

    #[test]
    fn hhmm() {
        assert_eq!(parse_hhmm("22:00"), Some(1320));
        assert_eq!(parse_hhmm("08:05"), Some(485));
        assert_eq!(parse_hhmm("24:00"), None);
        assert_eq!(parse_hhmm("8"), None);
    }
}
