//! Node temperatures in the state: the readings of host agents running on the nodes (keyed by
//! short lower-case hostname, see `agents::host_temperature`), and whether temperature
//! monitoring is on (`temperatureMonitoringEnabled`: the system setting, overridden per PVE
//! instance by its node configuration).
//!
//! Kept beside the polled nodes rather than written into them: a node is part of its
//! instance's shared poll result, which a host report must not copy; the `/api/state` view
//! and the alert observer ask [`LiveState::node_temperature`] instead.

use super::node::NodeFrontend;
use super::store::LiveState;
use super::values::Temperature;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The key a node's name is matched on (as `agents::host_temperature::match_key`).
fn node_key(name: &str) -> String {
    name.trim()
        .split('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

impl LiveState {
    /// The host agents' temperatures by short lower-case hostname (a new revision only when
    /// they changed).
    pub fn set_host_temperatures(&mut self, temps: BTreeMap<String, Temperature>) {
        if self.host_temperatures != temps {
            self.host_temperatures = temps;
            self.bump_revision();
        }
    }

    /// The system-wide setting and the per-instance overrides (PVE instance name → on/off).
    pub fn set_temperature_settings(
        &mut self,
        enabled: bool,
        per_instance: BTreeMap<String, bool>,
    ) {
        if self.temperature_monitoring_enabled != enabled
            || self.temperature_per_instance != per_instance
        {
            self.temperature_monitoring_enabled = enabled;
            self.temperature_per_instance = per_instance;
            self.bump_revision();
        }
    }

    /// The per-node `temperatureMonitoringEnabled` (the node's instance setting, if any).
    fn node_temperature_setting(&self, n: &NodeFrontend) -> Option<bool> {
        n.temperature_monitoring_enabled
            .or_else(|| self.temperature_per_instance.get(&n.instance).copied())
    }

    /// The temperature shown for a node: its own, else that of a host agent on the same
    /// machine; none while temperature monitoring is off for it.
    pub fn node_temperature<'s>(&'s self, n: &'s NodeFrontend) -> Option<&'s Temperature> {
        if !self
            .node_temperature_setting(n)
            .unwrap_or(self.temperature_monitoring_enabled)
        {
            return None;
        }
        n.temperature
            .as_ref()
            .or_else(|| self.host_temperatures.get(&node_key(&n.name)))
    }

    /// The node as `/api/state` shows it: borrowed unless temperature or its setting differ
    /// from the polled entry (a few nodes, never the guests, are copied).
    pub(super) fn node_view<'s>(&'s self, n: &'s NodeFrontend) -> Cow<'s, NodeFrontend> {
        let temperature = self.node_temperature(n);
        let setting = self.node_temperature_setting(n);
        if temperature == n.temperature.as_ref() && setting == n.temperature_monitoring_enabled {
            return Cow::Borrowed(n);
        }
        let mut owned = n.clone();
        owned.temperature = temperature.cloned();
        owned.temperature_monitoring_enabled = setting;
        Cow::Owned(owned)
    }
}
