//! Node temperatures on the loop: the settings that switch them on or off (system-wide and
//! per PVE instance) and the host agents' readings are copied into the live state, which
//! shows them on the matching nodes (`state::node_temperature`).

use crate::core::app::App;
use std::collections::BTreeMap;

impl App {
    /// After a system-settings or node-configuration change (and at start).
    pub fn sync_temperature_settings(&mut self) {
        let enabled = self.config.system.temperature_monitoring_enabled;
        let per_instance: BTreeMap<String, bool> = self
            .config
            .nodes
            .pve
            .iter()
            .filter_map(|p| Some((p.name.clone(), p.temperature_monitoring_enabled?)))
            .collect();
        self.polling
            .core
            .state_mut()
            .set_temperature_settings(enabled, per_instance);
    }

    /// After the agents registry changed: the online host agents' temperatures.
    pub fn publish_host_temperatures(&mut self) {
        let temps = self.agents.node_temperatures();
        self.polling.core.state_mut().set_host_temperatures(temps);
    }
}
