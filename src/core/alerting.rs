//! The alerts subsystem on the loop: evaluated after each batch in which the state changed,
//! its events broadcast (`alert`, `alertResolved`) and written into the state
//! (`activeAlerts`), its files handed to the writer thread.

use crate::alerts::engine::EventKind;
use crate::alerts::history;
use crate::alerts::service::{Changes, Persist};
use crate::core::app::App;
use crate::core::writer::Write;
use crate::state::store::ExtraArea;
use serde_json::json;

impl App {
    /// Runs the engine if the state moved (or the periodic tick asks for it).
    pub fn evaluate_alerts(&mut self, now_ms: i64) {
        self.alerts.tick(now_ms);
        let changes = self.alerts.evaluate(self.polling.core.state(), now_ms);
        self.apply_alert_changes(changes);
    }

    /// Publishes what an evaluation or an API action changed.
    pub fn apply_alert_changes(&mut self, changes: Changes) {
        if changes.events.is_empty() && changes.persist.is_empty() {
            return;
        }
        self.persist_alerts(changes.persist);
        for e in &changes.events {
            match e.kind {
                EventKind::Resolved => {
                    self.broadcast_event("alertResolved", &json!({ "alertId": e.alert.id }))
                }
                _ => self.broadcast_event("alert", &json!(e.alert)),
            }
            crate::log_info!(
                "alert",
                event = format!("{:?}", e.kind).to_lowercase(),
                id = e.alert.id,
                level = format!("{:?}", e.alert.level).to_lowercase(),
                notify = e.hold.map_or("yes", |h| h.as_str())
            );
        }
        self.publish_active_alerts();
    }

    /// Writes the active alerts into the state's `activeAlerts` (the UI reads them there).
    pub fn publish_active_alerts(&mut self) {
        let active: Vec<serde_json::Value> = self.alerts.active().map(|a| json!(a)).collect();
        let state = self.polling.core.state_mut();
        state.set_extra(ExtraArea::ActiveAlerts, active);
        let revision = state.revision();
        self.alerts.mark_evaluated(revision);
    }

    /// Hands alert files to the writer; a full queue loses this write (logged), never blocks.
    pub fn persist_alerts(&mut self, persist: Vec<Persist>) {
        let writes: Vec<Write> = persist
            .into_iter()
            .map(|p| match p {
                Persist::Replace(path, bytes) => Write::replace(path, bytes, 0o600),
                Persist::Append(path, bytes) => Write::Append {
                    path,
                    bytes,
                    mode: 0o600,
                    rotate_at: Some(history::ROTATE_AT),
                },
            })
            .collect();
        if writes.is_empty() {
            return;
        }
        if let Err(e) = self.writer().submit(writes, None) {
            crate::log_warn!("alert files not saved", error = e.to_string());
        }
    }
}
