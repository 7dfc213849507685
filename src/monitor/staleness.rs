//! How old each instance's data is: 0 just after a successful poll, rising to 1 once the last
//! success is `max_stale_ms` old (or when there never was one). Shown in scheduler health and
//! used to prioritise polls.

use super::task_key::TaskKey;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StalenessEntry {
    pub last_success_ms: Option<i64>,
    pub last_error_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct StalenessTracker {
    max_stale_ms: i64,
    entries: BTreeMap<TaskKey, StalenessEntry>,
}

impl StalenessTracker {
    pub fn new(max_stale_ms: i64) -> StalenessTracker {
        StalenessTracker {
            max_stale_ms: max_stale_ms.max(1),
            entries: BTreeMap::new(),
        }
    }

    pub fn record_success(&mut self, key: &TaskKey, now_ms: i64) {
        self.entries.entry(key.clone()).or_default().last_success_ms = Some(now_ms);
    }

    pub fn record_error(&mut self, key: &TaskKey, now_ms: i64) {
        self.entries.entry(key.clone()).or_default().last_error_ms = Some(now_ms);
    }

    pub fn remove(&mut self, key: &TaskKey) {
        self.entries.remove(key);
    }

    pub fn get(&self, key: &TaskKey) -> Option<&StalenessEntry> {
        self.entries.get(key)
    }

    /// 0 (fresh) ..= 1 (stale or never polled successfully).
    pub fn score(&self, key: &TaskKey, now_ms: i64) -> f64 {
        match self.entries.get(key).and_then(|e| e.last_success_ms) {
            None => 1.0,
            Some(at) => ((now_ms - at).max(0) as f64 / self.max_stale_ms as f64).min(1.0),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&TaskKey, &StalenessEntry)> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::task_key::InstanceKind;

    #[test]
    fn score_grows_with_age_and_resets_on_success() {
        let key = TaskKey::new(InstanceKind::Pve, "main");
        let mut t = StalenessTracker::new(300_000);
        assert_eq!(t.score(&key, 0), 1.0);
        t.record_success(&key, 1_000);
        assert_eq!(t.score(&key, 1_000), 0.0);
        assert!((t.score(&key, 151_000) - 0.5).abs() < 1e-9);
        t.record_error(&key, 400_000);
        assert_eq!(t.score(&key, 900_000), 1.0);
        t.record_success(&key, 900_000);
        assert_eq!(t.score(&key, 900_000), 0.0);
        assert_eq!(t.get(&key).and_then(|e| e.last_error_ms), Some(400_000));
    }
}
