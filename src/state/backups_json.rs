//! The PVE backup listing as JSON, serialised once per change of the listing rather than with
//! every `/api/state` build: at 3,000 guests with a month of backups it is more than half of
//! the document (twice: `pveBackups` and `backups.pve`), yet it changes only when a backup
//! poll brings a new listing, while guests change every cycle.

use super::backups::{BackupTask, GuestSnapshot, PVEBackups, StorageBackup};
use serde::ser::Error as _;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use std::sync::{Arc, Mutex};

/// Shared by a state and all its snapshots: the builds (one at a time, on a worker) fill it,
/// the next build reuses it while every instance's listing is the same `Arc`. Holding those
/// `Arc`s in the key keeps their addresses from being reused by a different listing.
#[derive(Debug, Default, Clone)]
pub struct BackupsJsonCache(Arc<Mutex<Option<Cached>>>);

#[derive(Debug)]
struct Cached {
    key: Vec<Arc<PVEBackups>>,
    json: Arc<RawValue>,
}

/// `pveBackups` / `backups.pve`: sorted borrowed lists (read by the backup endpoints) and,
/// when serialised as part of the state document, the cache that spares the work.
#[derive(Debug, Clone)]
pub struct PveBackupsView<'a> {
    pub backup_tasks: Vec<&'a BackupTask>,
    pub storage_backups: Vec<&'a StorageBackup>,
    pub guest_snapshots: Vec<&'a GuestSnapshot>,
    pub(super) cache: Option<(&'a BackupsJsonCache, Vec<Arc<PVEBackups>>)>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Fields<'b, 'a> {
    backup_tasks: &'b [&'a BackupTask],
    storage_backups: &'b [&'a StorageBackup],
    guest_snapshots: &'b [&'a GuestSnapshot],
}

impl PveBackupsView<'_> {
    fn fields(&self) -> Fields<'_, '_> {
        Fields {
            backup_tasks: &self.backup_tasks,
            storage_backups: &self.storage_backups,
            guest_snapshots: &self.guest_snapshots,
        }
    }

    /// The cached JSON if the listings are the ones it was made from, else made now and kept.
    fn cached_json(&self) -> Option<Result<Arc<RawValue>, serde_json::Error>> {
        let (cache, key) = self.cache.as_ref()?;
        let mut slot = cache.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = slot.as_ref() {
            let same =
                c.key.len() == key.len() && c.key.iter().zip(key).all(|(a, b)| Arc::ptr_eq(a, b));
            if same {
                return Some(Ok(Arc::clone(&c.json)));
            }
        }
        let json = match serde_json::value::to_raw_value(&self.fields()) {
            Ok(raw) => Arc::<RawValue>::from(raw),
            Err(e) => return Some(Err(e)),
        };
        *slot = Some(Cached {
            key: key.clone(),
            json: Arc::clone(&json),
        });
        Some(Ok(json))
    }
}

impl Serialize for PveBackupsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.cached_json() {
            Some(Ok(raw)) => {
                let raw: &RawValue = &raw;
                raw.serialize(s)
            }
            Some(Err(e)) => Err(S::Error::custom(e)),
            None => self.fields().serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::backups::PveBackupsUpdate;
    use super::super::LiveState;
    use super::*;

    fn backup(id: &str, time: i64) -> StorageBackup {
        StorageBackup {
            id: id.into(),
            storage: "local".into(),
            node: "pve1".into(),
            instance: "lab".into(),
            time: crate::util::time::UtcTime::from_unix_ms(time),
            ..Default::default()
        }
    }

    fn listing(st: &mut LiveState, ids: &[&str]) {
        let update = PveBackupsUpdate {
            storage_backups: Some(ids.iter().map(|id| backup(id, 1_000)).collect()),
            ..PveBackupsUpdate::default()
        };
        st.update_pve_backups("lab", update, 1);
    }

    fn doc(st: &LiveState) -> serde_json::Value {
        serde_json::from_slice(&st.to_frontend_json()).unwrap()
    }

    #[test]
    fn made_once_per_listing_and_remade_when_it_changes() {
        let mut st = LiveState::default();
        listing(&mut st, &["a"]);
        let first = doc(&st);
        assert_eq!(first["pveBackups"]["storageBackups"][0]["id"], "a");
        assert_eq!(first["backups"]["pve"], first["pveBackups"]);
        let made = st
            .pve_backups_json
            .0
            .lock()
            .unwrap()
            .as_ref()
            .map(|c| Arc::clone(&c.json));
        // A snapshot serialised later reuses the very same bytes.
        let snap = st.snapshot();
        assert_eq!(doc(&snap), first);
        let reused = st
            .pve_backups_json
            .0
            .lock()
            .unwrap()
            .as_ref()
            .map(|c| Arc::clone(&c.json));
        assert!(Arc::ptr_eq(&made.unwrap(), &reused.unwrap()), "made again");
        // A new listing is serialised anew, in both keys.
        listing(&mut st, &["b", "c"]);
        let second = doc(&st);
        let ids: Vec<_> = second["pveBackups"]["storageBackups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&"b".to_string()) && ids.contains(&"c".to_string()));
        assert_eq!(second["backups"]["pve"], second["pveBackups"]);
        // The typed view the backup endpoints read is unaffected.
        assert_eq!(st.frontend().pve_backups.storage_backups.len(), 2);
    }
}
