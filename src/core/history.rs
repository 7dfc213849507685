//! The metric history on the loop: sampled after each applied poll (only the polled
//! instance), saved through the writer thread every five minutes and at shutdown.

use crate::core::app::App;
use crate::core::writer::{PieceStep, Prepare, Write};
use crate::history::store;
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
        let path = store::path(&self.cfg.data_dir);
        if force {
            // A save in progress is abandoned: its staging file goes with the final save.
            // (A save under way had cleared `dirty`: what it was writing is still unsaved.)
            let staged = self.history.saving.take().is_some();
            self.history.expire(now_s);
            if !self.history.dirty && !staged {
                return;
            }
            // At shutdown the task pool is gone; the writer drains right after this.
            let bytes = store::encode(&self.history);
            self.history.saves_total += 1;
            self.history.saved_bytes = bytes.len() as u64;
            let mut writes = vec![Write::replace(&path, bytes, 0o600)];
            if let (true, Ok(part), Some(dir)) = (
                staged,
                crate::util::atomic::staging_path(&path),
                path.parent(),
            ) {
                writes.push(Write::Prune {
                    dir: dir.to_path_buf(),
                    prefix: part
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into(),
                    keep: 0,
                });
            }
            if let Err(e) = self.writer().submit(writes, None) {
                crate::log_warn!("history not saved", reason = e.to_string());
            }
            return;
        }
        if let Some(mut partial) = self.history.saving.take() {
            // This tick's slice goes to the writer as one piece; its checksums are computed
            // there. The last piece also publishes the file.
            let mut writes = vec![Write::Piece {
                path: path.clone(),
                bytes: partial.step(&self.history, SAVE_SLICE),
                mode: 0o600,
                step: PieceStep::Append {
                    prepare: Prepare::HistoryChecksums,
                },
            }];
            let done = partial.done();
            if done {
                writes.push(Write::Piece {
                    path,
                    bytes: partial.count_patch(),
                    mode: 0o600,
                    step: PieceStep::Commit {
                        len: partial.file_len(),
                        patch_at: store::COUNT_AT,
                    },
                });
            }
            match self.writer().submit(writes, None) {
                Err(e) => self.history_save_refused(e),
                Ok(()) if done => {
                    self.history.saves_total += 1;
                    self.history.saved_bytes = partial.file_len();
                }
                Ok(()) => self.history.saving = Some(partial),
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
        let begin = Write::Piece {
            path,
            bytes: store::Partial::header(),
            mode: 0o600,
            step: PieceStep::Begin,
        };
        match self.writer().submit(vec![begin], None) {
            // The next ticks encode and hand over the slices (the branch above).
            Ok(()) => self.history.saving = Some(store::Partial::start(&self.history)),
            Err(e) => self.history_save_refused(e),
        }
    }

    /// A piece of a save was refused (a full writer queue): the save is abandoned (the
    /// file on disk stays the previous one) and the next due save starts over.
    fn history_save_refused(&mut self, e: crate::core::writer::Refused) {
        crate::log_warn!("history save postponed", reason = e.to_string());
        self.history.dirty = true;
    }
}
