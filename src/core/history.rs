//! The metric history on the loop: sampled after each applied poll (only the polled
//! instance), saved through the writer thread about once a minute and at shutdown.

use crate::core::app::App;
use crate::core::writer::Write;
use crate::monitor::task_key::{InstanceKind, TaskKey};

/// How often the history is handed to the writer (a crash loses at most this much).
pub const SAVE_EVERY_S: i64 = 60;

impl App {
    /// The after-poll hook (`core::polling`): one sample per resource of `key`'s instance.
    pub fn record_history(&mut self, key: &TaskKey) {
        if key.kind != InstanceKind::Pve {
            return;
        }
        let now = crate::util::time::now_ms();
        let state = self.polling.core.state();
        crate::history::record::record_pve_instance(&mut self.history, state, &key.name, now);
    }

    /// Saves the history when it changed and the last save is old enough (`force` at shutdown).
    pub fn save_history(&mut self, force: bool) {
        let now_s = crate::util::time::now_ms() / 1000;
        if !force && now_s - self.history.last_save_s < SAVE_EVERY_S {
            return;
        }
        self.history.expire(now_s);
        if !self.history.dirty {
            return;
        }
        let path = crate::history::store::path(&self.cfg.data_dir);
        if force {
            // At shutdown the task pool is gone; the writer drains right after this.
            let bytes = crate::history::store::encode(&self.history);
            if let Err(e) = self
                .writer()
                .submit(vec![Write::replace(path, bytes, 0o600)], None)
            {
                crate::log_warn!("history not saved", reason = e.to_string());
            }
            return;
        }
        // Copying the rings is a memcpy per series; encoding them (tens of ms for thousands of
        // guests) happens on the task pool, which hands the bytes to the writer.
        let copy = self.history.snapshot();
        let writer = self.writer().clone();
        let job = Box::new(move || {
            let bytes = crate::history::store::encode(&copy);
            if let Err(e) = writer.submit(vec![Write::replace(path, bytes, 0o600)], None) {
                crate::log_warn!("history save skipped", reason = e.to_string());
            }
        });
        match self.tasks.try_submit(job) {
            Ok(()) => {
                self.history.dirty = false;
                self.history.last_save_s = now_s;
            }
            // A busy pool: try again on the next tick, the data stays in memory.
            Err(_) => crate::log_warn!("history save postponed: task pool busy"),
        }
    }
}
