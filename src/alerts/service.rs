//! The alerts subsystem as the loop owns it: configuration, engine, history and the
//! notification hand-off, plus what must reach the data dir (returned as [`Persist`] values for
//! the caller to hand to the writer thread: this module never touches the disk after start).

use super::alert::Alert;
use super::config::AlertConfig;
use super::engine::{Engine, Event, EventKind};
use super::history::{self, History, Query};
use super::observe::{observe, Scratch};
use super::tz::Zone;
use crate::state::store::LiveState;
use crate::util::time::UtcTime;
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const CONFIG_FILE: &str = "alerts.json";
pub const ACTIVE_FILE: &str = "active-alerts.json";
/// Notification events waiting for the notifier; beyond this the oldest are dropped (counted).
pub const OUTBOX_CAP: usize = 1024;
/// The active-alerts file is rewritten at most this often by evaluations: it only restores
/// alerts across a restart, and with thousands active each rewrite is megabytes serialised on
/// the loop and replaced on disk. User actions (acknowledge, clear) and shutdown write at once.
pub const ACTIVE_SAVE_MS: i64 = 5_000;
const ZONEINFO: &str = "/usr/share/zoneinfo";

/// A durable change for the data-dir writer.
#[derive(Debug, Clone, PartialEq)]
pub enum Persist {
    Replace(PathBuf, Vec<u8>),
    Append(PathBuf, Vec<u8>),
}

pub struct Alerts {
    dir: PathBuf,
    /// Shared with a running [`Evaluation`]; a change while it runs applies from the next.
    config: Arc<AlertConfig>,
    zone: Arc<Zone>,
    /// Empty while `away`: an [`Evaluation`] owns the real one.
    engine: Engine,
    history: History,
    scratch: Scratch,
    /// An evaluation holds the engine (and the scratch buffers) on a worker thread.
    away: bool,
    outbox: VecDeque<Event>,
    dropped: u64,
    evaluated_revision: Option<u64>,
    last_tick_ms: i64,
    /// The state revision right after `activeAlerts` / `recentlyResolved` were last written
    /// into it (`None`: never).
    published_revision: Option<u64>,
    /// How many recently resolved alerts that publication held (they expire silently).
    published_resolved: usize,
    /// The active alerts changed since the file was last written.
    active_dirty: bool,
    /// When an evaluation last wrote the active-alerts file.
    active_saved_ms: i64,
    /// [`ACTIVE_SAVE_MS`]; tests lengthen it to see what shutdown saves.
    active_save_every_ms: i64,
    /// Bumped by every call that may change an alert (an evaluation moves `lastSeen` and
    /// values even without an event).
    generation: u64,
    /// `activeAlerts` and `recentlyResolved` serialised at `generation`: the state and the
    /// active-alerts file share these bytes.
    serialised: Option<(u64, Published)>,
}

/// The active and the recently resolved alerts as JSON arrays.
pub type Published = (Arc<Box<RawValue>>, Arc<Box<RawValue>>);

/// Time-based re-evaluation period.
pub const TICK_MS: i64 = 15_000;

/// What one call changed: events for the WebSocket and the log, writes for the data dir.
#[derive(Debug, Default)]
pub struct Changes {
    pub events: Vec<Event>,
    pub persist: Vec<Persist>,
}

impl Alerts {
    /// Loads `alerts.json` (a corrupt file is set aside and defaults used), the active alerts
    /// and the history. Returns warnings to log.
    pub fn open(dir: &Path, now_ms: i64) -> (Alerts, Vec<String>) {
        let mut warnings = Vec::new();
        let config = read_config(dir, now_ms, &mut warnings);
        let zone = load_zone(&config, &mut warnings);
        let mut engine = Engine::new();
        if let Ok(bytes) = std::fs::read(dir.join(ACTIVE_FILE)) {
            match serde_json::from_slice::<Vec<Alert>>(&bytes) {
                Ok(active) => engine.restore(active, now_ms),
                Err(e) => warnings.push(format!("{ACTIVE_FILE}: {e}; active alerts not restored")),
            }
        }
        let alerts = Alerts {
            dir: dir.to_path_buf(),
            config: Arc::new(config),
            zone: Arc::new(zone),
            engine,
            history: History::load(dir, now_ms),
            scratch: Scratch::new(),
            away: false,
            outbox: VecDeque::new(),
            dropped: 0,
            evaluated_revision: None,
            last_tick_ms: now_ms,
            published_revision: None,
            published_resolved: 0,
            active_dirty: false,
            active_saved_ms: i64::MIN / 2,
            active_save_every_ms: ACTIVE_SAVE_MS,
            generation: 0,
            serialised: None,
        };
        (alerts, warnings)
    }

    pub fn config(&self) -> &AlertConfig {
        &self.config
    }

    /// Takes up `alerts.json` as written by someone else (a configuration import).
    pub fn reload_config(&mut self, now_ms: i64) -> Vec<String> {
        let mut warnings = Vec::new();
        self.config = Arc::new(read_config(&self.dir, now_ms, &mut warnings));
        self.zone = Arc::new(load_zone(&self.config, &mut warnings));
        self.evaluated_revision = None;
        warnings
    }

    /// Makes `cfg` current (already validated); returns the file write.
    pub fn set_config(&mut self, cfg: AlertConfig) -> Result<Persist, String> {
        let zone = if cfg.schedule.quiet_hours.enabled {
            Zone::load(&cfg.schedule.quiet_hours.timezone, Path::new(ZONEINFO))
                .map_err(|e| format!("schedule.quietHours.timezone: {e}"))?
        } else {
            Zone::utc()
        };
        self.config = Arc::new(cfg);
        self.zone = Arc::new(zone);
        // Re-evaluate with the new thresholds on the next turn.
        self.evaluated_revision = None;
        Ok(self.config_write())
    }

    fn config_write(&self) -> Persist {
        let bytes = serde_json::to_vec_pretty(&*self.config).unwrap_or_default();
        Persist::Replace(self.dir.join(CONFIG_FILE), bytes)
    }

    /// `POST /api/alerts/activate`: returns whether it was already active, and the write.
    pub fn activate(&mut self, now_ms: i64) -> (bool, Persist) {
        let already = self.config.activation_state == "active";
        if !already {
            let cfg = Arc::make_mut(&mut self.config);
            cfg.activation_state = "active".into();
            cfg.activation_time = Some(UtcTime::from_unix_ms(now_ms));
        }
        (already, self.config_write())
    }

    /// Evaluates the state if it changed since the last evaluation, on the caller's thread
    /// (tests, benchmarks; the loop hands [`Alerts::start_evaluation`] to a worker).
    pub fn evaluate(&mut self, state: &LiveState, now_ms: i64) -> Changes {
        match self.start_evaluation(state, now_ms) {
            Some(mut e) => {
                e.run();
                self.finish_evaluation(e)
            }
            None => Changes::default(),
        }
    }

    /// An evaluation of `state` if it changed since the last one and none is running. It
    /// takes the engine along: until [`Alerts::finish_evaluation`] gives it back, whatever
    /// reads or changes alerts must wait ([`Alerts::is_away`]).
    pub fn start_evaluation(&mut self, state: &LiveState, now_ms: i64) -> Option<Evaluation> {
        if self.away || self.evaluated_revision == Some(state.revision()) {
            return None;
        }
        self.evaluated_revision = Some(state.revision());
        self.away = true;
        Some(Evaluation {
            engine: std::mem::take(&mut self.engine),
            scratch: std::mem::take(&mut self.scratch),
            config: Arc::clone(&self.config),
            zone: Arc::clone(&self.zone),
            state: Some(state.snapshot()),
            now_ms,
            revision: state.revision(),
            events: Vec::new(),
            published: None,
        })
    }

    /// Takes the engine back from a finished evaluation and records what it found (history,
    /// notifications, the active-alerts file); its serialised alerts become the publication.
    pub fn finish_evaluation(&mut self, e: Evaluation) -> Changes {
        self.engine = e.engine;
        self.scratch = e.scratch;
        self.away = false;
        self.generation += 1;
        if let Some(p) = e.published {
            self.serialised = Some((self.generation, p));
        }
        self.after(e.events, e.now_ms, false)
    }

    /// An evaluation holds the engine: readers and actions wait for it.
    pub fn is_away(&self) -> bool {
        self.away
    }

    /// The next turn evaluates again even if the state did not move (an evaluation's result
    /// came back after newer data arrived).
    pub fn evaluate_again(&mut self) {
        self.evaluated_revision = None;
    }

    /// Re-runs the time-based rules (escalations, grace periods) at least every
    /// [`TICK_MS`] without new data, so an escalation does not wait for the next poll.
    pub fn tick(&mut self, now_ms: i64) {
        if now_ms - self.last_tick_ms >= TICK_MS {
            self.last_tick_ms = now_ms;
            self.history.expire(now_ms);
            self.evaluated_revision = None;
        }
    }

    /// The state revision these alerts reflect (after the caller wrote them into the state).
    pub fn mark_evaluated(&mut self, revision: u64) {
        self.evaluated_revision = Some(revision);
        self.published_revision = Some(revision);
        self.published_resolved = self.engine.recently_resolved().count();
    }

    /// Whether `activeAlerts` / `recentlyResolved` in the state (now at `revision`) should be
    /// rewritten although no event happened: a resolved alert expired, or there are active
    /// alerts and the state moved since the last publication (new figures: their values and
    /// `lastSeen` follow, at no extra serialisation as the state is re-serialised anyway; this
    /// also publishes alerts restored at start-up).
    pub fn needs_publish(&self, revision: u64) -> bool {
        let expired = self.engine.recently_resolved().count() != self.published_resolved;
        let moved = self.published_revision != Some(revision);
        expired || (moved && self.engine.active().next().is_some())
    }

    /// `activeAlerts` and `recentlyResolved` serialised once per change, for the state to
    /// carry as they are and the active-alerts file to copy: building `serde_json::Value`s of
    /// thousands of alerts on the loop, serialising them again for the file and again for
    /// every `/api/state` answer cost several times these bytes.
    pub fn publication(&mut self) -> Published {
        if let Some((g, p)) = &self.serialised {
            if *g == self.generation {
                return p.clone();
            }
        }
        let p = serialise(&self.engine);
        self.serialised = Some((self.generation, p.clone()));
        p
    }

    /// The active-alerts file if it changed and was last written [`ACTIVE_SAVE_MS`] ago or
    /// more (the loop asks on every turn, so the last change of a burst is saved too).
    pub fn active_file_due(&mut self, now_ms: i64) -> Option<Persist> {
        if self.away
            || !self.active_dirty
            || now_ms - self.active_saved_ms < self.active_save_every_ms
        {
            return None;
        }
        self.active_saved_ms = now_ms;
        Some(self.active_write())
    }

    /// How often evaluations may rewrite the active-alerts file (default [`ACTIVE_SAVE_MS`]).
    pub fn set_active_save_interval(&mut self, ms: i64) {
        self.active_save_every_ms = ms.max(0);
    }

    /// The active-alerts file if it has changes not yet written (at shutdown).
    /// An evaluation still away keeps its changes (the file keeps the last saved ones).
    pub fn active_file_unsaved(&mut self) -> Option<Persist> {
        (self.active_dirty && !self.away).then(|| self.active_write())
    }

    /// `immediate`: a user's action, saved now; an evaluation's changes wait for
    /// [`Alerts::active_file_due`].
    fn after(&mut self, events: Vec<Event>, now_ms: i64, immediate: bool) -> Changes {
        let mut changes = Changes::default();
        if events.is_empty() {
            return changes;
        }
        let mut lines = Vec::new();
        for e in &events {
            match e.kind {
                EventKind::Fired => lines.extend(self.history.record(&e.alert, now_ms)),
                EventKind::Resolved => {
                    lines.extend(self.history.resolve(&e.alert).unwrap_or_default())
                }
                _ => {}
            }
            if e.hold.is_none() {
                if self.outbox.len() == OUTBOX_CAP {
                    self.outbox.pop_front();
                    self.dropped += 1;
                }
                self.outbox.push_back(e.clone());
            }
        }
        if !lines.is_empty() {
            changes
                .persist
                .push(Persist::Append(self.dir.join(history::FILE), lines));
        }
        self.active_dirty = true;
        let write = if immediate {
            Some(self.active_write())
        } else {
            self.active_file_due(now_ms)
        };
        changes.persist.extend(write);
        changes.events = events;
        changes
    }

    /// The whole file as it is now (it then holds every change so far).
    fn active_write(&mut self) -> Persist {
        self.active_dirty = false;
        let (active, _) = self.publication();
        Persist::Replace(self.dir.join(ACTIVE_FILE), active.get().as_bytes().to_vec())
    }

    pub fn active(&self) -> impl Iterator<Item = &Alert> {
        self.engine.active()
    }

    pub fn recently_resolved(&self) -> impl Iterator<Item = &Alert> {
        self.engine.recently_resolved()
    }

    pub fn history(&self, q: &Query) -> Vec<&Alert> {
        self.history.query(q)
    }

    /// Entries the history holds in memory.
    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    /// Whether `id` is an active alert.
    pub fn is_active(&self, id: &str) -> bool {
        self.engine.get(id).is_some()
    }

    /// `DELETE /api/alerts/history`: memory and both files.
    pub fn clear_history(&mut self) -> Vec<Persist> {
        self.history.clear();
        vec![
            Persist::Replace(self.dir.join(history::FILE), Vec::new()),
            Persist::Replace(self.dir.join(format!("{}.1", history::FILE)), Vec::new()),
        ]
    }

    pub fn acknowledge(&mut self, id: &str, user: &str, now_ms: i64) -> Option<Persist> {
        self.generation += 1;
        self.engine
            .acknowledge(id, user, now_ms)
            .then(|| self.active_write())
    }

    pub fn unacknowledge(&mut self, id: &str) -> Option<Persist> {
        self.generation += 1;
        self.engine.unacknowledge(id).then(|| self.active_write())
    }

    /// Manual clear: the resolution event and the writes.
    pub fn clear(&mut self, id: &str, now_ms: i64) -> Option<Changes> {
        self.clear_many(&[id], now_ms).1
    }

    /// Manual clear of several alerts: which ids were active (in order), and the changes
    /// (`None` when none was).
    pub fn clear_many(&mut self, ids: &[&str], now_ms: i64) -> (Vec<bool>, Option<Changes>) {
        self.generation += 1;
        let mut events = Vec::new();
        let found = ids
            .iter()
            .map(
                |id| match self.engine.clear(&self.config, &self.zone, id, now_ms) {
                    Some(e) => {
                        events.push(e);
                        true
                    }
                    None => false,
                },
            )
            .collect();
        let changes = (!events.is_empty()).then(|| self.after(events, now_ms, true));
        (found, changes)
    }

    /// The active alerts file as it is now (after acknowledgements).
    pub fn active_file(&mut self) -> Persist {
        self.active_write()
    }

    /// Events for the notifier, oldest first.
    pub fn take_outbox(&mut self) -> Vec<Event> {
        self.outbox.drain(..).collect()
    }

    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    pub fn dropped_notifications(&self) -> u64 {
        self.dropped
    }
}

/// One evaluation, run off the loop: it owns the engine while it runs, reads an immutable
/// snapshot of the state, and serialises the alerts for the state there too (at 3,000
/// guests with hundreds of alerts active, this was most of the loop's CPU per cycle).
pub struct Evaluation {
    engine: Engine,
    scratch: Scratch,
    config: Arc<AlertConfig>,
    zone: Arc<Zone>,
    /// Dropped by `run`, so the snapshot's last references are freed off the loop too.
    state: Option<LiveState>,
    now_ms: i64,
    revision: u64,
    events: Vec<Event>,
    published: Option<Published>,
}

impl Evaluation {
    /// Observes the snapshot, runs the engine, serialises the outcome. Through `&mut self`:
    /// should it panic (a bug), the caller still holds the engine to give back.
    pub fn run(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        let observations = observe(&state, &mut self.scratch, &self.config, self.now_ms);
        self.events = self
            .engine
            .evaluate(&self.config, &self.zone, &observations, self.now_ms);
        drop(observations);
        drop(state);
        self.published = Some(serialise(&self.engine));
    }

    /// What the run found (empty before it ran).
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The state revision evaluated.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Forgets the results of a run that panicked: the engine goes back as the panic left it.
    pub fn discard_results(&mut self) {
        self.events.clear();
        self.published = None;
    }
}

/// `activeAlerts` and `recentlyResolved` as JSON.
fn serialise(engine: &Engine) -> Published {
    let active: Vec<&Alert> = engine.active().collect();
    let resolved: Vec<&Alert> = engine.recently_resolved().collect();
    (Arc::new(raw_json(&active)), Arc::new(raw_json(&resolved)))
}

/// Alerts serialise infallibly (strings, numbers, RFC 3339 times); `[]` is the fallback
/// anyway.
fn raw_json<T: serde::Serialize>(v: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(v)
        .unwrap_or_else(|_| RawValue::from_string("[]".to_string()).expect("[] is JSON"))
}

/// `alerts.json`, leniently; a corrupt file is set aside and the defaults used.
fn read_config(dir: &Path, now_ms: i64, warnings: &mut Vec<String>) -> AlertConfig {
    let path = dir.join(CONFIG_FILE);
    match std::fs::read(&path) {
        Err(_) => AlertConfig::default(),
        Ok(bytes) => match AlertConfig::from_file(&bytes) {
            Ok((cfg, w)) => {
                warnings.extend(w);
                cfg
            }
            Err(e) => {
                let aside = dir.join(format!("{CONFIG_FILE}.corrupt-{}", now_ms / 1000));
                let moved = std::fs::rename(&path, &aside).is_ok();
                warnings.push(format!(
                    "{e}; using defaults{}",
                    if moved {
                        format!(" (the file was moved to {})", aside.display())
                    } else {
                        String::new()
                    }
                ));
                AlertConfig::default()
            }
        },
    }
}

fn load_zone(cfg: &AlertConfig, warnings: &mut Vec<String>) -> Zone {
    let q = &cfg.schedule.quiet_hours;
    if !q.enabled {
        return Zone::utc();
    }
    Zone::load(&q.timezone, Path::new(ZONEINFO)).unwrap_or_else(|e| {
        warnings.push(format!("quiet hours use UTC: {e}"));
        Zone::utc()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::schedule::Hold;

    fn event(i: usize, hold: Option<Hold>) -> Event {
        let alert: Alert = serde_json::from_value(serde_json::json!({
            "id": format!("a{i}-cpu"), "type": "cpu", "level": "warning", "resourceId": format!("a{i}"),
            "resourceName": "a", "node": "n", "instance": "i", "message": "m", "value": 90.0,
            "threshold": 80.0, "startTime": "2026-01-01T00:00:00Z",
            "lastSeen": "2026-01-01T00:00:00Z", "acknowledged": false,
            "metadata": {"resourceType": "VM", "clearThreshold": 75.0, "monitorOnly": false}
        }))
        .unwrap();
        Event {
            kind: EventKind::Fired,
            alert,
            hold,
            notify: None,
        }
    }

    /// The notifier's hand-off: events that notify are queued oldest first, bounded (the
    /// oldest dropped and counted); held ones are recorded in the history only.
    #[test]
    fn the_outbox_holds_notifying_events_bounded() {
        let dir = std::env::temp_dir().join(format!("pulse-alerts-outbox-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (mut a, _) = Alerts::open(&dir, 0);
        let mut events: Vec<Event> = (0..OUTBOX_CAP + 6).map(|i| event(i, None)).collect();
        events.push(event(9999, Some(Hold::QuietHours)));
        let changes = a.after(events, 1000, false);
        assert_eq!(changes.events.len(), OUTBOX_CAP + 7);
        assert_eq!(a.outbox_len(), OUTBOX_CAP);
        assert_eq!(a.dropped_notifications(), 6);
        assert_eq!(a.history_len(), OUTBOX_CAP + 7);
        let out = a.take_outbox();
        assert_eq!(out[0].alert.id, "a6-cpu");
        assert!(out.iter().all(|e| e.alert.id != "a9999-cpu"));
        assert_eq!(a.outbox_len(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// An evaluation takes the engine along and brings it back: while it is away no second
    /// one starts, nothing reads the placeholder, and shutdown does not write it to disk.
    #[test]
    fn an_evaluation_owns_the_engine_until_it_is_finished() {
        let dir = std::env::temp_dir().join(format!("pulse-alerts-away-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (mut a, _) = Alerts::open(&dir, 0);
        a.after(vec![event(1, None)], 1000, false);
        a.after(vec![event(2, None)], 1001, false); // within the interval: unsaved
        let mut state = LiveState::new();
        state.set_extra(
            crate::state::ExtraArea::Hosts,
            vec![serde_json::json!({"id": 1})],
        );
        let mut e = a.start_evaluation(&state, 2000).expect("the state moved");
        assert!(a.is_away());
        assert!(a.start_evaluation(&state, 2001).is_none(), "one at a time");
        assert!(
            a.active_file_unsaved().is_none(),
            "not the placeholder engine"
        );
        assert!(a.active_file_due(i64::MAX / 2).is_none());
        std::thread::spawn(move || {
            e.run();
            e
        })
        .join()
        .map(|e| {
            assert_eq!(e.revision(), state.revision());
            a.finish_evaluation(e)
        })
        .unwrap();
        assert!(!a.is_away());
        assert!(
            a.start_evaluation(&state, 3000).is_none(),
            "already evaluated"
        );
        a.evaluate_again();
        let e = a
            .start_evaluation(&state, 3000)
            .expect("asked to evaluate again");
        a.finish_evaluation(e);
        assert!(
            a.active_file_unsaved().is_some(),
            "home again: saved at shutdown"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn writes_active_file(c: &Changes) -> bool {
        c.persist
            .iter()
            .any(|p| matches!(p, Persist::Replace(path, _) if path.ends_with(ACTIVE_FILE)))
    }

    /// A storm of events rewrites the active-alerts file at most every `ACTIVE_SAVE_MS`; the
    /// last change is saved once the interval is up (or at shutdown), a user's action at once.
    #[test]
    fn the_active_file_is_written_at_most_every_few_seconds() {
        let dir = std::env::temp_dir().join(format!("pulse-alerts-save-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (mut a, _) = Alerts::open(&dir, 0);
        let t0 = 1_000_000;
        let c = a.after(vec![event(1, None)], t0, false);
        assert!(writes_active_file(&c), "the first change is saved at once");
        assert!(c.persist.iter().any(|p| matches!(p, Persist::Append(..))));
        for i in 2..10 {
            let c = a.after(vec![event(i, None)], t0 + i as i64 * 100, false);
            assert!(!writes_active_file(&c), "event {i} within the interval");
            assert_eq!(c.persist.len(), 1, "the history line is still appended");
        }
        assert!(a.active_file_due(t0 + ACTIVE_SAVE_MS - 1).is_none());
        assert!(a.active_file_due(t0 + ACTIVE_SAVE_MS).is_some());
        assert!(
            a.active_file_due(t0 + 10 * ACTIVE_SAVE_MS).is_none(),
            "nothing changed since"
        );
        let t1 = t0 + 20 * ACTIVE_SAVE_MS;
        assert!(writes_active_file(&a.after(
            vec![event(20, None)],
            t1,
            false
        )));
        assert!(!writes_active_file(&a.after(
            vec![event(21, None)],
            t1 + 1,
            false
        )));
        assert!(
            writes_active_file(&a.after(vec![event(22, None)], t1 + 2, true)),
            "a manual clear is saved at once"
        );
        assert!(
            a.active_file_unsaved().is_none(),
            "that write held everything"
        );
        a.after(vec![event(23, None)], t1 + 3, false);
        assert!(a.active_file_unsaved().is_some(), "saved at shutdown");
        assert!(a.active_file_unsaved().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
