//! Trigger/clear pairs and the per-resource-type sets of them (`ThresholdConfig`).
//!
//! A pair fires at `value >= trigger` and resolves at `value <= clear`, so the gap between the
//! two is the hysteresis. `trigger <= 0` means "off". Besides `{"trigger": 90, "clear": 85}` a
//! bare number is accepted, as the API documentation promises: `-1` or `0` disables the metric,
//! a positive number is a trigger with the default 5-point hysteresis.

use serde::{Deserialize, Deserializer, Serialize};

/// Default distance between trigger and clear when only a trigger is given.
pub const DEFAULT_HYSTERESIS: f64 = 5.0;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    pub trigger: f64,
    pub clear: f64,
}

impl Threshold {
    pub const OFF: Threshold = Threshold {
        trigger: 0.0,
        clear: 0.0,
    };

    pub const fn new(trigger: f64, clear: f64) -> Threshold {
        Threshold { trigger, clear }
    }

    pub fn is_enabled(&self) -> bool {
        self.trigger > 0.0
    }

    /// The level at which an active alert resolves: `clear`, or the trigger when no clear
    /// level is set.
    pub fn clear_level(&self) -> f64 {
        if self.clear > 0.0 {
            self.clear
        } else {
            self.trigger
        }
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Number(f64),
            Pair {
                trigger: f64,
                #[serde(default)]
                clear: Option<f64>,
            },
        }
        match Form::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected a number or {\"trigger\": n, \"clear\": n}")
        })? {
            Form::Number(n) if n <= 0.0 => Ok(Threshold::OFF),
            Form::Number(n) => Ok(Threshold::new(n, (n - DEFAULT_HYSTERESIS).max(0.0))),
            Form::Pair { trigger, clear } => Ok(Threshold {
                trigger,
                clear: clear.unwrap_or((trigger - DEFAULT_HYSTERESIS).max(0.0)),
            }),
        }
    }
}

/// The metrics a threshold set can name, with their JSON keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    Cpu,
    Memory,
    Disk,
    DiskRead,
    DiskWrite,
    NetworkIn,
    NetworkOut,
    Usage,
    Temperature,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::Cpu,
        Metric::Memory,
        Metric::Disk,
        Metric::DiskRead,
        Metric::DiskWrite,
        Metric::NetworkIn,
        Metric::NetworkOut,
        Metric::Usage,
        Metric::Temperature,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Memory => "memory",
            Metric::Disk => "disk",
            Metric::DiskRead => "diskRead",
            Metric::DiskWrite => "diskWrite",
            Metric::NetworkIn => "networkIn",
            Metric::NetworkOut => "networkOut",
            Metric::Usage => "usage",
            Metric::Temperature => "temperature",
        }
    }

    /// Unit shown in messages: percent for utilisation, MB/s for I/O rates, °C.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::DiskRead | Metric::DiskWrite | Metric::NetworkIn | Metric::NetworkOut => "MB/s",
            Metric::Temperature => "°C",
            _ => "%",
        }
    }

    /// Largest sensible trigger (percentages cannot pass 100).
    pub fn max_trigger(self) -> f64 {
        match self {
            Metric::Cpu | Metric::Memory | Metric::Disk | Metric::Usage => 100.0,
            Metric::Temperature => 150.0,
            _ => 100_000.0,
        }
    }
}

/// Thresholds for one kind of resource (or one resource, as an override).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ThresholdConfig {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disable_connectivity: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub powered_off_severity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Threshold>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Threshold>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<Threshold>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_read: Option<Threshold>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_write: Option<Threshold>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_in: Option<Threshold>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_out: Option<Threshold>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Threshold>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Threshold>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Keys this version does not model (Pulse's `*Legacy` numbers...), kept as they came.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ThresholdConfig {
    pub fn get(&self, m: Metric) -> Option<Threshold> {
        match m {
            Metric::Cpu => self.cpu,
            Metric::Memory => self.memory,
            Metric::Disk => self.disk,
            Metric::DiskRead => self.disk_read,
            Metric::DiskWrite => self.disk_write,
            Metric::NetworkIn => self.network_in,
            Metric::NetworkOut => self.network_out,
            Metric::Usage => self.usage,
            Metric::Temperature => self.temperature,
        }
    }

    fn slot(&mut self, m: Metric) -> &mut Option<Threshold> {
        match m {
            Metric::Cpu => &mut self.cpu,
            Metric::Memory => &mut self.memory,
            Metric::Disk => &mut self.disk,
            Metric::DiskRead => &mut self.disk_read,
            Metric::DiskWrite => &mut self.disk_write,
            Metric::NetworkIn => &mut self.network_in,
            Metric::NetworkOut => &mut self.network_out,
            Metric::Usage => &mut self.usage,
            Metric::Temperature => &mut self.temperature,
        }
    }

    pub fn set(&mut self, m: Metric, t: Option<Threshold>) {
        *self.slot(m) = t;
    }

    /// `self` with every metric `over` names replaced by `over`'s value (an override), and
    /// `over`'s flags added.
    pub fn overlaid(&self, over: &ThresholdConfig) -> ThresholdConfig {
        let mut out = self.clone();
        for m in Metric::ALL {
            if let Some(t) = over.get(m) {
                out.set(m, Some(t));
            }
        }
        out.disabled |= over.disabled;
        out.disable_connectivity |= over.disable_connectivity;
        if over.powered_off_severity.is_some() {
            out.powered_off_severity = over.powered_off_severity.clone();
        }
        out
    }

    /// Checks every pair: trigger within range, clear not above trigger. `at` names the field.
    pub fn validate(&self, at: &str) -> Result<(), String> {
        for m in Metric::ALL {
            if let Some(t) = self.get(m) {
                validate_pair(&t, &format!("{at}.{}", m.key()), m.max_trigger())?;
            }
        }
        match self.powered_off_severity.as_deref() {
            None | Some("warning") | Some("critical") => Ok(()),
            Some(other) => Err(format!(
                "{at}.poweredOffSeverity: must be \"warning\" or \"critical\", not {other:?}"
            )),
        }
    }
}

pub fn validate_pair(t: &Threshold, at: &str, max: f64) -> Result<(), String> {
    if !t.trigger.is_finite() || !t.clear.is_finite() {
        return Err(format!("{at}: thresholds must be finite numbers"));
    }
    if t.trigger <= 0.0 {
        return Ok(()); // off
    }
    if t.trigger > max {
        return Err(format!(
            "{at}.trigger: {} is above the maximum {max}",
            t.trigger
        ));
    }
    if t.clear < 0.0 {
        return Err(format!("{at}.clear: must not be negative"));
    }
    if t.clear > t.trigger {
        return Err(format!(
            "{at}.clear: {} must not be above the trigger {}",
            t.clear, t.trigger
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_pairs() {
        let t: Threshold = serde_json::from_str("-1").unwrap();
        assert!(!t.is_enabled());
        let t: Threshold = serde_json::from_str("0").unwrap();
        assert!(!t.is_enabled());
        let t: Threshold = serde_json::from_str("90").unwrap();
        assert_eq!(t, Threshold::new(90.0, 85.0));
        let t: Threshold = serde_json::from_str(r#"{"trigger": 12.5, "clear": 10}"#).unwrap();
        assert_eq!(t, Threshold::new(12.5, 10.0));
        assert!(serde_json::from_str::<Threshold>(r#""90""#).is_err());
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let base = ThresholdConfig {
            cpu: Some(Threshold::new(80.0, 75.0)),
            memory: Some(Threshold::new(85.0, 80.0)),
            ..Default::default()
        };
        let over: ThresholdConfig = serde_json::from_str(r#"{"memory": -1}"#).unwrap();
        let eff = base.overlaid(&over);
        assert_eq!(eff.cpu, Some(Threshold::new(80.0, 75.0)));
        assert!(!eff.memory.unwrap().is_enabled());
    }

    #[test]
    fn validation_names_the_field() {
        let c: ThresholdConfig =
            serde_json::from_str(r#"{"cpu": {"trigger": 70, "clear": 90}}"#).unwrap();
        let e = c.validate("guestDefaults").unwrap_err();
        assert!(e.starts_with("guestDefaults.cpu.clear"), "{e}");
        let c: ThresholdConfig = serde_json::from_str(r#"{"memory": {"trigger": 150}}"#).unwrap();
        assert!(c
            .validate("nodeDefaults")
            .unwrap_err()
            .contains("memory.trigger"));
    }

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let c: ThresholdConfig = serde_json::from_str(r#"{"cpuLegacy": 80}"#).unwrap();
        assert_eq!(serde_json::to_value(&c).unwrap()["cpuLegacy"], 80);
    }
}
