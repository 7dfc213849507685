//! Alert history: every alert that fired, newest first on read, kept 30 days.
//!
//! On disk it is JSON lines appended through the data-dir writer (`alert-history.jsonl`,
//! rotated to `.1` past [`ROTATE_AT`], so the two files never pass twice that); in memory the
//! newest [`MEMORY_CAP`] entries answer queries. A torn last line (a crash mid-append) is
//! skipped on load, never fatal.
//!
//! An entry is written when the alert fires and once more when it resolves (with its last
//! value, `lastSeen` and `resolvedTime`, so the history can show how long it lasted): the later
//! line of the same alert (`id` + `startTime`) replaces the earlier one on load.

use super::alert::{Alert, Level};
use crate::util::time::UtcTime;
use std::collections::VecDeque;
use std::path::Path;

pub const FILE: &str = "alert-history.jsonl";
pub const ROTATE_AT: u64 = 4 * 1024 * 1024;
pub const MEMORY_CAP: usize = 5_000;
pub const RETENTION_MS: i64 = 30 * 24 * 3_600_000;

#[derive(Debug, Default)]
pub struct History {
    /// Oldest first.
    entries: VecDeque<Alert>,
}

/// `GET /api/alerts/history` filters.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// 0 = all.
    pub limit: usize,
    pub offset: usize,
    pub start: Option<UtcTime>,
    pub end: Option<UtcTime>,
    pub severity: Option<Level>,
    pub resource_id: Option<String>,
}

impl History {
    /// Reads `<dir>/alert-history.jsonl.1` then `<dir>/alert-history.jsonl`, skipping lines
    /// that do not parse and entries past retention.
    pub fn load(dir: &Path, now_ms: i64) -> History {
        let mut lines: Vec<Alert> = Vec::new();
        // (id, start) → position in `lines`: a resolution line replaces its firing line.
        let mut seen: std::collections::HashMap<(String, i64), usize> = Default::default();
        for name in [format!("{FILE}.1"), FILE.to_string()] {
            let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
                continue;
            };
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let Ok(a) = serde_json::from_str::<Alert>(line) else {
                    continue;
                };
                match seen.entry((a.id.clone(), a.start_time.unix_ms())) {
                    std::collections::hash_map::Entry::Occupied(at) => lines[*at.get()] = a,
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(lines.len());
                        lines.push(a);
                    }
                }
            }
        }
        let mut h = History::default();
        for a in lines {
            h.push(a, now_ms);
        }
        h
    }

    fn push(&mut self, a: Alert, now_ms: i64) {
        self.entries.push_back(a);
        while self.entries.len() > MEMORY_CAP {
            self.entries.pop_front();
        }
        self.expire(now_ms);
    }

    /// Records a fired alert; returns the line to append on disk.
    pub fn record(&mut self, a: &Alert, now_ms: i64) -> Vec<u8> {
        let mut line = serde_json::to_vec(a).unwrap_or_default();
        line.push(b'\n');
        self.push(a.clone(), now_ms);
        line
    }

    /// Records how a fired alert ended: its entry takes the final figures, and the line to
    /// append on disk is returned. `None` if the entry is gone (history cleared, or past the
    /// memory cap), so memory and disk never disagree.
    pub fn resolve(&mut self, a: &Alert) -> Option<Vec<u8>> {
        let start = a.start_time;
        // Resolutions are of recent alerts: search from the newest end.
        let e = self
            .entries
            .iter_mut()
            .rev()
            .find(|e| e.start_time == start && e.id == a.id)?;
        *e = a.clone();
        let mut line = serde_json::to_vec(a).unwrap_or_default();
        line.push(b'\n');
        Some(line)
    }

    /// Drops entries past retention (run periodically: without new alerts nothing else would,
    /// and the history must not show alerts older than it promises to keep).
    pub fn expire(&mut self, now_ms: i64) {
        while self
            .entries
            .front()
            .is_some_and(|a| now_ms - a.start_time.unix_ms() > RETENTION_MS)
        {
            self.entries.pop_front();
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Matching entries, newest first.
    pub fn query(&self, q: &Query) -> Vec<&Alert> {
        let matches = self.entries.iter().rev().filter(|a| {
            q.start.is_none_or(|s| a.start_time >= s)
                && q.end.is_none_or(|e| a.start_time <= e)
                && q.severity.is_none_or(|l| a.level == l)
                && q.resource_id.as_deref().is_none_or(|r| a.resource_id == r)
        });
        let limit = if q.limit == 0 { usize::MAX } else { q.limit };
        matches.skip(q.offset).take(limit).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::alert::AlertMetadata;

    fn alert(id: &str, start_ms: i64, level: Level) -> Alert {
        Alert {
            id: id.into(),
            kind: "cpu".into(),
            level,
            resource_id: id.into(),
            resource_name: id.into(),
            node: "n".into(),
            instance: "i".into(),
            message: "m".into(),
            value: 90.0,
            threshold: 80.0,
            start_time: UtcTime::from_unix_ms(start_ms),
            last_seen: UtcTime::from_unix_ms(start_ms),
            acknowledged: false,
            ack_time: None,
            ack_user: None,
            metadata: AlertMetadata::default(),
            last_notified: None,
            escalation_times: Vec::new(),
            resolved_time: None,
        }
    }

    #[test]
    fn filters_newest_first_and_pages() {
        let mut h = History::default();
        let now = 10_000_000;
        for i in 0..10 {
            let level = if i % 2 == 0 {
                Level::Warning
            } else {
                Level::Critical
            };
            h.record(&alert(&format!("a{i}"), now + i * 1000, level), now);
        }
        let all = h.query(&Query::default());
        assert_eq!(all.len(), 10);
        assert_eq!(all[0].id, "a9");
        let q = Query {
            limit: 2,
            offset: 1,
            severity: Some(Level::Critical),
            ..Default::default()
        };
        let ids: Vec<&str> = h.query(&q).iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a7", "a5"]);
        let q = Query {
            start: Some(UtcTime::from_unix_ms(now + 8000)),
            ..Default::default()
        };
        assert_eq!(h.query(&q).len(), 2);
    }

    #[test]
    fn a_resolution_replaces_the_firing_entry_in_memory_and_on_load() {
        let dir = std::env::temp_dir().join(format!("pulse-hist-res-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let now = 100 * 24 * 3_600_000;
        let mut h = History::default();
        let fired = alert("a", now - 5000, Level::Warning);
        let mut bytes = h.record(&fired, now);
        bytes.extend(h.record(&alert("b", now - 4000, Level::Warning), now));
        let mut resolved = fired.clone();
        resolved.value = 70.0;
        resolved.resolved_time = Some(UtcTime::from_unix_ms(now));
        bytes.extend(h.resolve(&resolved).expect("entry held"));
        assert_eq!(h.len(), 2);
        assert_eq!(h.query(&Query::default())[1].value, 70.0);
        std::fs::write(dir.join(FILE), &bytes).unwrap();
        let loaded = History::load(&dir, now);
        let all = loaded.query(&Query::default());
        assert_eq!(all.len(), 2);
        assert_eq!((all[1].id.as_str(), all[1].value), ("a", 70.0));
        assert!(all[1].resolved_time.is_some());
        h.clear();
        assert!(h.resolve(&resolved).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn entries_past_retention_expire_without_new_alerts() {
        let now = 100 * 24 * 3_600_000;
        let mut h = History::default();
        h.record(&alert("a", now - 1000, Level::Warning), now);
        h.expire(now + RETENTION_MS - 2000);
        assert_eq!(h.len(), 1);
        h.expire(now + RETENTION_MS);
        assert!(h.is_empty());
    }

    #[test]
    fn load_skips_torn_lines_and_expired_entries() {
        let dir = std::env::temp_dir().join(format!("pulse-hist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let now = 100 * 24 * 3_600_000;
        let mut h = History::default();
        let mut bytes = h.record(&alert("old", now - RETENTION_MS - 1, Level::Warning), now);
        bytes.extend(h.record(&alert("new", now - 1000, Level::Warning), now));
        bytes.extend_from_slice(b"{\"id\": \"torn");
        std::fs::write(dir.join(FILE), &bytes).unwrap();
        let loaded = History::load(&dir, now);
        let ids: Vec<&str> = loaded
            .query(&Query::default())
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(ids, ["new"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
