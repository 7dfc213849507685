//! Certificate reload without a restart: a loop timer stats `TLS_CERT_FILE` / `TLS_KEY_FILE`
//! (a cheap syscall) every `CHECK_EVERY`; when either changed, a short-lived thread reads and
//! parses them off the loop, and the result comes back on the next check. New connections get
//! the new configuration; open ones keep the one they started with. A broken replacement is
//! logged and the old certificate stays in service.

use crate::http::tls::{self, TlsFiles};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const CHECK_EVERY: Duration = Duration::from_secs(2);

type Loaded = Result<(Arc<rustls::ServerConfig>, i64), String>;
type Stamp = Option<[(SystemTime, u64); 2]>;

pub struct Reloader {
    files: TlsFiles,
    stamp: Stamp,
    next_check: Instant,
    pending: Option<Receiver<Loaded>>,
}

fn stamp(files: &TlsFiles) -> Stamp {
    let one = |p: &std::path::Path| {
        let m = std::fs::metadata(p).ok()?;
        Some((m.modified().ok()?, m.len()))
    };
    Some([one(&files.cert)?, one(&files.key)?])
}

impl Reloader {
    pub fn new(files: TlsFiles, now: Instant) -> Reloader {
        Reloader {
            stamp: stamp(&files),
            files,
            next_check: now + CHECK_EVERY,
            pending: None,
        }
    }

    pub fn next_check(&self) -> Instant {
        self.next_check
    }

    /// Reload now whatever the files' stamps say (SIGHUP).
    pub fn force(&mut self, now: Instant) {
        self.stamp = None;
        self.next_check = now;
    }

    /// On the loop's timers: a freshly loaded configuration (and its leaf's notAfter, Unix
    /// seconds) when one is ready.
    pub fn poll(&mut self, now: Instant) -> Option<(Arc<rustls::ServerConfig>, i64)> {
        if let Some(rx) = &self.pending {
            match rx.try_recv() {
                Ok(Ok((cfg, not_after))) => {
                    self.pending = None;
                    crate::log_info!(
                        "TLS certificate reloaded",
                        not_after = crate::util::time::format_rfc3339(not_after, 0)
                    );
                    tls::warn_if_expiring(not_after, crate::util::time::unix_now());
                    return Some((cfg, not_after));
                }
                Ok(Err(e)) => {
                    self.pending = None;
                    crate::log_warn!("TLS reload failed, keeping the old certificate", error = e);
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => self.pending = None,
            }
        }
        if now < self.next_check {
            return None;
        }
        if self.pending.is_some() {
            self.next_check = now + Duration::from_millis(50);
            return None;
        }
        self.next_check = now + CHECK_EVERY;
        let current = stamp(&self.files);
        if current == self.stamp || current.is_none() {
            return None;
        }
        self.stamp = current;
        let (tx, rx) = mpsc::sync_channel(1);
        let files = self.files.clone();
        let spawned = std::thread::Builder::new()
            .name("tls-reload".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let _ = tx.send(tls::load(&files, crate::util::time::unix_now()));
            });
        match spawned {
            Ok(_) => self.pending = Some(rx),
            Err(e) => crate::log_warn!("cannot start TLS reload", error = e),
        }
        // Pick the result up soon rather than a whole interval later.
        self.next_check = now + Duration::from_millis(50);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &std::path::Path) -> TlsFiles {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        files
    }

    /// Polls until the reload thread answers (it parses two small PEM files).
    fn result(r: &mut Reloader, mut now: Instant) -> Option<(Arc<rustls::ServerConfig>, i64)> {
        for _ in 0..200 {
            now += Duration::from_millis(50);
            if let Some(cfg) = r.poll(now) {
                return Some(cfg);
            }
            // Nothing pending: the load finished (and failed) or never started.
            r.pending.as_ref()?;
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    #[test]
    fn unchanged_files_are_not_reloaded_unless_forced() {
        let dir = std::env::temp_dir().join(format!("pulse-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = write_pair(&dir);
        let t0 = Instant::now();
        let mut r = Reloader::new(files, t0);
        // Past the check interval, same stamps: nothing to do.
        let later = t0 + CHECK_EVERY * 2;
        assert!(r.poll(later).is_none());
        assert!(r.pending.is_none(), "no reload started for unchanged files");
        // SIGHUP: reloaded even though mtime and size did not move.
        r.force(later);
        assert!(r.poll(later).is_none(), "the load runs off the loop");
        assert!(result(&mut r, later).is_some(), "forced reload delivered");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
