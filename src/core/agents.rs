//! The agents registry on the loop: reports and removals change `App::agents`, and this
//! writes its JSON forms into the live state (which publishes them with the next snapshot).
//! The offline sweep runs with the once-a-second housekeeping (a few comparisons per host).

use crate::agents::{HealthChange, TokenInfo};
use crate::auth::policy::Principal;
use crate::core::app::App;
use crate::state::store::ExtraArea;

impl App {
    /// Copies the registry into the state if it changed since the last copy.
    pub fn publish_agents(&mut self) {
        let rev = self.agents.revision();
        if self.agents_published == Some(rev) {
            return;
        }
        self.agents_published = Some(rev);
        let docker = self.agents.docker_json();
        let removed = self.agents.removed_json();
        let hosts = self.agents.hosts_json();
        let state = self.polling.core.state_mut();
        state.set_extra(ExtraArea::DockerHosts, docker);
        state.set_extra(ExtraArea::RemovedDockerHosts, removed);
        state.set_extra(ExtraArea::Hosts, hosts);
        self.publish_host_temperatures();
    }

    /// Applies `connectionHealth` changes and republishes.
    pub fn agents_changed(&mut self, health: Vec<HealthChange>) {
        let state = self.polling.core.state_mut();
        for h in health {
            match h {
                HealthChange::Set(k, v) => state.set_connection_health(k, Some(v)),
                HealthChange::Remove(k) => state.set_connection_health(k, None),
            }
        }
        self.publish_agents();
    }

    /// The offline sweep (housekeeping; tests call it with a future `now_ms`), and the demo
    /// estate's reports while demo mode is on.
    pub fn sweep_agents(&mut self, now_ms: i64) {
        self.feed_demo_agents(now_ms);
        let changes = self.agents.sweep(now_ms);
        self.agents_changed(changes);
    }

    /// Demo mode: the demo Docker hosts and hosts report through the same validation and
    /// ingestion as the API, every `DEMO_EVERY_MS`; leaving demo mode removes them.
    fn feed_demo_agents(&mut self, now_ms: i64) {
        use crate::agents::{demo, validate};
        if self.polling.demo.is_none() {
            if self.agents.demo_fed.is_some() {
                self.agents.forget_demo();
            }
            return;
        }
        let tick = match self.agents.demo_fed {
            Some((at, _)) if now_ms - at < demo::DEMO_EVERY_MS => return,
            Some((_, n)) => n + 1,
            None => 0,
        };
        self.agents.demo_fed = Some((now_ms, tick));
        let mut health = Vec::new();
        for r in demo::docker_reports(tick, now_ms) {
            if validate::docker(&r).is_ok() {
                if let Ok(a) = self.agents.apply_docker(r, None, now_ms) {
                    self.record_docker_history(&a.host_id, now_ms);
                    health.push(HealthChange::Set(
                        crate::agents::docker::health_key(&a.host_id),
                        true,
                    ));
                }
            }
        }
        for r in demo::host_reports(tick, now_ms) {
            if validate::host(&r).is_ok() {
                if let Ok(a) = self.agents.apply_host(r, None, now_ms) {
                    self.record_host_history(&a.host_id, now_ms);
                    health.push(HealthChange::Set(
                        crate::agents::host::health_key(&a.host_id),
                        true,
                    ));
                }
            }
        }
        self.agents_changed(health);
    }

    /// The token a request came with, as an agent entry shows it.
    pub fn token_info(&self, principal: &Principal) -> Option<TokenInfo> {
        let Principal::Token { id, .. } = principal else {
            return None;
        };
        let rec = self.security.tokens.get(id)?;
        Some(TokenInfo {
            id: rec.id.clone(),
            name: rec.name.clone(),
            hint: rec.hint(),
            last_used_ms: rec
                .last_used_at
                .map_or_else(crate::util::time::now_ms, |t| t.unix_ms()),
        })
    }
}
