//! The alerts subsystem and the loop: after each batch in which the state changed, an
//! evaluation runs on the task pool (holding the engine); when it comes back its events are
//! broadcast (`alert`, `alertResolved`) and the alerts written into the state
//! (`activeAlerts`, `recentlyResolved`), its files handed to the writer thread.

use crate::alerts::engine::EventKind;
use crate::alerts::history;
use crate::alerts::service::{Changes, Persist};
use crate::core::app::App;
use crate::core::event_loop::Msg;
use crate::core::writer::{Refused, Ticket, Write};
use crate::state::store::ExtraArea;
use crate::ws::client::{Frame, FrameKind};
use crate::ws::hub;
use serde_json::json;
use std::sync::{Arc, Mutex};

impl App {
    /// After each batch: if the state moved (or the periodic tick asks for it), hands an
    /// evaluation to the task pool. The engine travels with it and comes back through
    /// `App::alerts_evaluated`; meanwhile requests that need it wait
    /// (`Outcome::when_alerts_home`) and the state build waits too, so one document carries a
    /// poll's figures and the alerts they raise.
    pub fn evaluate_alerts(&mut self, now_ms: i64) {
        self.alerts.tick(now_ms);
        if let Some(write) = self.alerts.active_file_due(now_ms) {
            // The last changes of a burst, once the file's interval is up.
            self.persist_alerts(vec![write]);
        }
        let Some(evaluation) = self
            .alerts
            .start_evaluation(self.polling.core.state(), now_ms)
        else {
            return;
        };
        // The hand-over slot: if the pool refuses the job, the evaluation is still here.
        let slot = Arc::new(Mutex::new(Some(evaluation)));
        let theirs = Arc::clone(&slot);
        let handle = self.handle.clone();
        let job = Box::new(move || {
            let Some(mut evaluation) = theirs.lock().ok().and_then(|mut e| e.take()) else {
                return;
            };
            run_contained(&mut evaluation);
            // The events' WebSocket frames too: serialising hundreds of alerts is work the
            // loop need not do.
            let frames = event_frames(evaluation.events());
            handle.post(Msg::Apply(Box::new(move |app: &mut App| {
                app.alerts_evaluated(evaluation, frames)
            })));
        });
        if self.tasks.try_submit(job).is_err() {
            // A full pool: evaluate here rather than lose the engine or wait.
            if let Some(mut evaluation) = slot.lock().ok().and_then(|mut e| e.take()) {
                run_contained(&mut evaluation);
                let frames = event_frames(evaluation.events());
                self.alerts_evaluated(evaluation, frames);
            }
        }
    }

    /// An evaluation came back: the engine is home again. Its events are broadcast and
    /// recorded, the alerts go into the state, waiting requests run, and the state build that
    /// waited for it starts.
    fn alerts_evaluated(
        &mut self,
        evaluation: crate::alerts::service::Evaluation,
        frames: Vec<Frame>,
    ) {
        let evaluated = evaluation.revision();
        let changes = self.alerts.finish_evaluation(evaluation);
        // Newer figures arrived while it ran: they are evaluated next.
        let moved = self.polling.core.state().revision() != evaluated;
        if changes.events.is_empty() {
            if self
                .alerts
                .needs_publish(self.polling.core.state().revision())
            {
                self.publish_active_alerts();
            }
            // The active-alerts file of an earlier burst may be due.
            if let Some(write) = self.alerts.active_file_due(crate::util::time::now_ms()) {
                self.persist_alerts(vec![write]);
            }
        } else if let Err(e) = self.apply_alert_changes_framed(changes, frames) {
            crate::log_warn!("alert files not saved", error = e.to_string());
        }
        if moved {
            self.alerts.evaluate_again();
        }
        for id in std::mem::take(&mut self.alert_waiters) {
            self.finish_pending(id, Box::new(()));
        }
        self.publish_state_if_changed();
    }

    /// Publishes what an evaluation or an API action changed (files saved in the background;
    /// a full writer queue loses them, logged).
    pub fn apply_alert_changes(&mut self, changes: Changes) {
        if let Err(e) = self.apply_alert_changes_saved(changes) {
            crate::log_warn!("alert files not saved", error = e.to_string());
        }
    }

    /// As [`App::apply_alert_changes`], with a ticket for an answer that waits for the save
    /// (`None` when there was nothing to write).
    pub fn apply_alert_changes_saved(
        &mut self,
        changes: Changes,
    ) -> Result<Option<Ticket>, Refused> {
        let frames = event_frames(&changes.events);
        self.apply_alert_changes_framed(changes, frames)
    }

    /// As [`App::apply_alert_changes_saved`], with the events' frames already built.
    fn apply_alert_changes_framed(
        &mut self,
        changes: Changes,
        frames: Vec<Frame>,
    ) -> Result<Option<Ticket>, Refused> {
        if changes.events.is_empty() && changes.persist.is_empty() {
            return Ok(None);
        }
        let saved = self.submit_alert_files(changes.persist);
        let now = std::time::Instant::now();
        for f in &frames {
            self.hub.broadcast(&self.registry, f, now);
        }
        for e in &changes.events {
            crate::log_info!(
                "alert",
                event = format!("{:?}", e.kind).to_lowercase(),
                id = e.alert.id,
                level = format!("{:?}", e.alert.level).to_lowercase(),
                notify = e.hold.map_or("yes", |h| h.as_str())
            );
        }
        self.publish_active_alerts();
        self.forward_notifications();
        saved
    }

    /// Writes the active and recently resolved alerts into the state (the UI reads them there),
    /// serialised once.
    pub fn publish_active_alerts(&mut self) {
        let (active, resolved) = self.alerts.publication();
        let state = self.polling.core.state_mut();
        state.set_extra_json(ExtraArea::ActiveAlerts, active);
        state.set_extra_json(ExtraArea::RecentlyResolved, resolved);
        let revision = state.revision();
        self.alerts.mark_evaluated(revision);
    }

    /// Hands alert files to the writer; a full queue loses this write (logged), never blocks.
    pub fn persist_alerts(&mut self, persist: Vec<Persist>) {
        if let Err(e) = self.submit_alert_files(persist) {
            crate::log_warn!("alert files not saved", error = e.to_string());
        }
    }

    /// Queues alert files as one writer job; the ticket tells when they are on disk.
    pub fn submit_alert_files(&mut self, persist: Vec<Persist>) -> Result<Option<Ticket>, Refused> {
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
            return Ok(None);
        }
        let ticket = Ticket::new();
        self.writer().submit(writes, Some(ticket.done()))?;
        Ok(Some(ticket))
    }

    /// Demo mode started: a new user should see the feature, so a fresh install's alerts
    /// (`pending_review`, which the UI does not show) are activated.
    pub fn demo_alerts_started(&mut self) {
        if self.alerts.config().activation_state != "pending_review" {
            return;
        }
        let (_, write) = self.alerts.activate(crate::util::time::now_ms());
        crate::log_info!("demo mode: alerts activated so the demo estate's alerts show");
        self.persist_alerts(vec![write]);
    }
}

/// Runs an evaluation; a panic (a bug) costs its results, not the engine.
fn run_contained(evaluation: &mut crate::alerts::service::Evaluation) {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| evaluation.run()));
    if run.is_err() {
        crate::log_error!("alert evaluation panicked; its results are dropped");
        evaluation.discard_results();
    }
}

/// The WebSocket frames of alert events: `alert` with the alert, `alertResolved` with its id.
fn event_frames(events: &[crate::alerts::engine::Event]) -> Vec<Frame> {
    events
        .iter()
        .map(|e| match e.kind {
            EventKind::Resolved => hub::frame(
                FrameKind::Other,
                "alertResolved",
                &json!({ "alertId": e.alert.id }),
            ),
            _ => match serde_json::to_vec(&e.alert) {
                Ok(bytes) => hub::frame_raw(FrameKind::Other, "alert", &bytes),
                Err(_) => hub::frame(FrameKind::Other, "alert", &json!(e.alert)),
            },
        })
        .collect()
}
