//! Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the directory.
//! A reader therefore sees either the old file or the new one, never a torn mix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `data` to `path` atomically with the given Unix permission bits (e.g. `0o600`).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?
        .to_string_lossy();
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // The rename is only durable once the directory entry is on disk.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The staging file of a file written in pieces (`.<name>.part` next to it).
pub fn staging_path(path: &Path) -> io::Result<std::path::PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?
        .to_string_lossy();
    Ok(path.with_file_name(format!(".{name}.part")))
}

/// A file written in pieces over time, for data too large to hold twice (the metric history).
/// `begin` truncates the staging file, `append` adds a piece, `commit` checks the staged
/// length, writes `patch` at its offset, fsyncs and renames the staging file over `path`.
/// Until `commit`, `path` keeps its previous contents; a crash leaves only a stale staging
/// file, which the next `begin` truncates.
pub mod pieces {
    use super::*;
    use std::os::unix::fs::FileExt;

    pub fn begin(path: &Path, first: &[u8], mode: u32) -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(staging_path(path)?)?;
        f.write_all(first)
    }

    pub fn append(path: &Path, piece: &[u8]) -> io::Result<()> {
        // No `create`: a piece without its `begin` (a refused or failed one) must fail.
        OpenOptions::new()
            .append(true)
            .open(staging_path(path)?)?
            .write_all(piece)
    }

    pub fn commit(path: &Path, len: u64, patch: &[u8], patch_at: u64) -> io::Result<()> {
        let tmp = staging_path(path)?;
        let result = (|| {
            let f = OpenOptions::new().write(true).open(&tmp)?;
            let staged = f.metadata()?.len();
            if staged != len {
                // A piece went missing (refused, failed half-way): never publish the gap.
                return Err(io::Error::other(format!(
                    "staged {staged} bytes, expected {len}; previous file kept"
                )));
            }
            f.write_all_at(patch, patch_at)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, path)?;
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            File::open(dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_replaces_and_sets_mode() {
        let dir = std::env::temp_dir().join(format!("pulse-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.json");
        write_atomic(&p, b"one", 0o600).unwrap();
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".tmp.")
            })
            .collect();
        assert!(leftovers.is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pieces_replace_only_when_complete() {
        let dir = std::env::temp_dir().join(format!("pulse-pieces-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("h.bin");
        write_atomic(&p, b"old", 0o600).unwrap();
        pieces::begin(&p, b"HDR0", 0o600).unwrap();
        pieces::append(&p, b"abc").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"old", "untouched until commit");
        // A piece short: the commit refuses and the old file stays.
        assert!(pieces::commit(&p, 9, b"1", 3).is_err());
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert!(!staging_path(&p).unwrap().exists());
        // Without a `begin`, a piece is refused.
        assert!(pieces::append(&p, b"x").is_err());
        pieces::begin(&p, b"HDR0", 0o600).unwrap();
        pieces::append(&p, b"abc").unwrap();
        pieces::append(&p, b"de").unwrap();
        pieces::commit(&p, 9, b"9", 3).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"HDR9abcde");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!staging_path(&p).unwrap().exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
