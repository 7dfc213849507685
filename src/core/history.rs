//! The metric history on the loop: sampled after each applied poll (only the polled
//! instance), saved through the writer thread every five minutes and at shutdown.

use crate::core::app::App;
use crate::core::writer::Write;
use crate::monitor::task_key::{InstanceKind, TaskKey};

/// How often the history is handed to the writer (a crash loses at most this much; a clean
/// stop saves everything). At 3,000 guests the file is ~21 MB: every minute that was 30 GB a
/// day written to the small SSD or SD card such an appliance runs on, and a fifth of the
/// loop's CPU copying the rings.
pub const SAVE_EVERY_S: i64 = 300;
/// Resources encoded per housekeeping tick while saving (~2 ms at 3,000 guests, BENCHMARKS.md).
pub const SAVE_SLICE: usize = 200;

impl App {
    /// The after-poll hook (`core::polling`): one sample per resource of `key`'s instance.
    pub fn record_history(&mut self, key: &TaskKey) {
        let now = crate::util::time::now_ms();
        let state = self.polling.core.state();
        match key.kind {
            InstanceKind::Pve => {
                crate::history::record::record_pve_instance(
                    &mut self.history,
                    state,
                    &key.name,
                    now,
                );
            }
            InstanceKind::Pbs => {
                crate::history::record::record_pbs_instance(
                    &mut self.history,
                    state,
                    &key.name,
                    now,
                );
            }
            InstanceKind::Pmg => {
                crate::history::record::record_pmg_instance(
                    &mut self.history,
                    state,
                    &key.name,
                    now,
                );
            }
        }
    }

    /// An agent report was applied: one sample of that Docker host and its containers.
    pub fn record_docker_history(&mut self, host_id: &str, now_ms: i64) {
        if let Some(host) = self.agents.docker.get(host_id) {
            crate::history::record::record_docker_host(&mut self.history, host, now_ms);
        }
    }

    /// An agent report was applied: one sample of that host.
    pub fn record_host_history(&mut self, host_id: &str, now_ms: i64) {
        if let Some(host) = self.agents.hosts.get(host_id) {
            crate::history::record::record_host_agent(&mut self.history, host, now_ms);
        }
    }

    /// Saves the history when it changed and the last save is old enough (`force` at shutdown).
    /// Called every housekeeping second: a save in progress encodes its next slice.
    pub fn save_history(&mut self, force: bool) {
        let now_s = crate::util::time::now_ms() / 1000;
        // `metricsRetentionDays` as saved now (0: the default, the rings' 7 days).
        self.history
            .set_retention_days(self.config.system.metrics_retention_days);
        if !force {
            self.refresh_forecasts_if_due(now_s);
        }
        let path = crate::history::store::path(&self.cfg.data_dir);
        if force {
            self.history.saving = None;
            self.history.expire(now_s);
            if !self.history.dirty {
                return;
            }
            // At shutdown the task pool is gone; the writer drains right after this.
            let bytes = crate::history::store::encode(&self.history);
            self.history.saves_total += 1;
            self.history.saved_bytes = bytes.len() as u64;
            if let Err(e) = self
                .writer()
                .submit(vec![Write::replace(path, bytes, 0o600)], None)
            {
                crate::log_warn!("history not saved", reason = e.to_string());
            }
            return;
        }
        if let Some(mut partial) = self.history.saving.take() {
            if !partial.step(&self.history, SAVE_SLICE) {
                self.history.saving = Some(partial);
                return;
            }
            // The checksum (a pass over megabytes) and the hand-over to the writer run on
            // the task pool.
            let bytes = partial.finish();
            self.history.saves_total += 1;
            self.history.saved_bytes = bytes.len() as u64 + 8;
            let writer = self.writer().clone();
            let job = Box::new(move || {
                let bytes = crate::history::store::seal(bytes);
                if let Err(e) = writer.submit(vec![Write::replace(path, bytes, 0o600)], None) {
                    crate::log_warn!("history save skipped", reason = e.to_string());
                }
            });
            if self.tasks.try_submit(job).is_err() {
                // A busy pool: the next due save starts over; the data stays in memory.
                crate::log_warn!("history save postponed: task pool busy");
                self.history.dirty = true;
            }
            return;
        }
        if now_s - self.history.last_save_s < SAVE_EVERY_S {
            return;
        }
        self.history.expire(now_s);
        if !self.history.dirty {
            return;
        }
        self.history.dirty = false;
        self.history.last_save_s = now_s;
        let mut partial = crate::history::store::Partial::start(&self.history);
        // Done or not, the next tick continues it (or seals it) through the branch above.
        partial.step(&self.history, SAVE_SLICE);
        self.history.saving = Some(partial);
    }
}
