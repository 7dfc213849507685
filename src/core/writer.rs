//! The data-dir writer: one thread that performs every durable write (config saves, sessions,
//! API tokens, audit appends) so the event loop never waits on `fsync`.
//!
//! The loop hands over immutable values — already-serialised bytes and a target path — in a
//! bounded queue. Jobs run strictly in submission order; a job's writes run in order and stop at
//! the first failure. Semantics on disk are those of the synchronous code it replaces:
//! `Replace` is `util::atomic::write_atomic` (temp, fsync, rename, fsync dir), `Append` is one
//! `write` call followed by `fsync`. A full queue is an answer (`Busy`: the API says 503), never a
//! wait, and nothing of a refused job is written.
//!
//! A queued job that only replaces one file is superseded by a newer replace of the same path
//! (the newer bytes take its place and both waiters hear the outcome): a burst of settings saves
//! costs one fsync per file, not one per request.

use crate::util::atomic::{pieces, write_atomic};
use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Jobs that may wait in the queue by default (`PULSE_WRITER_QUEUE` shrinks it for tests).
pub const DEFAULT_QUEUE: usize = 256;

/// One durable operation on the data dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Replace `path` atomically with `bytes` (permission bits `mode`).
    Replace {
        path: PathBuf,
        bytes: Vec<u8>,
        mode: u32,
    },
    /// Append `bytes` (one `write` call, then fsync), creating the file with `mode`. When the
    /// file has reached `rotate_at` bytes it is first renamed to `<path>.1`.
    Append {
        path: PathBuf,
        bytes: Vec<u8>,
        mode: u32,
        rotate_at: Option<u64>,
    },
    /// One piece of a file written over several jobs (`util::atomic::pieces`): the metric
    /// history, encoded a slice of resources per loop tick, so no whole copy of it is ever
    /// held. The file is replaced only by a `Commit` after every piece arrived.
    Piece {
        path: PathBuf,
        bytes: Vec<u8>,
        mode: u32,
        step: PieceStep,
    },
    /// Keep only the `keep` newest files of `dir` whose name starts with `prefix` (names sort
    /// chronologically): the rolling `nodes.enc.backup-*`.
    Prune {
        dir: PathBuf,
        prefix: String,
        keep: usize,
    },
}

/// Where a [`Write::Piece`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceStep {
    /// Starts the staging file with these bytes.
    Begin,
    /// Appends the bytes after `prepare` (run here, on the writer thread, so work such as
    /// checksums stays off the loop).
    Append { prepare: Prepare },
    /// Publishes the file if it holds `len` bytes, writing the bytes at `patch_at` first.
    Commit { len: u64, patch_at: u64 },
}

/// Work done on a piece's bytes on the writer thread, before they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepare {
    Nothing,
    /// Framed history records: fill in each record's checksum (`history::store::seal`).
    HistoryChecksums,
}

impl Prepare {
    fn apply(self, bytes: &mut [u8]) {
        match self {
            Prepare::Nothing => {}
            Prepare::HistoryChecksums => crate::history::store::seal(bytes),
        }
    }
}

impl Write {
    pub fn replace(path: impl Into<PathBuf>, bytes: Vec<u8>, mode: u32) -> Write {
        Write::Replace {
            path: path.into(),
            bytes,
            mode,
        }
    }

    pub fn append(path: impl Into<PathBuf>, bytes: Vec<u8>, mode: u32) -> Write {
        Write::Append {
            path: path.into(),
            bytes,
            mode,
            rotate_at: None,
        }
    }

    /// The file (or, for `Prune`, the directory) this write changes.
    pub fn path(&self) -> &Path {
        match self {
            Write::Replace { path, .. }
            | Write::Append { path, .. }
            | Write::Piece { path, .. } => path,
            Write::Prune { dir, .. } => dir,
        }
    }

    /// Performs the write on the calling thread (the writer thread, or a tool without one).
    pub fn perform(&mut self) -> io::Result<()> {
        match self {
            Write::Piece {
                path,
                bytes,
                mode,
                step,
            } => match *step {
                PieceStep::Begin => pieces::begin(path, bytes, *mode),
                PieceStep::Append { prepare } => {
                    prepare.apply(bytes);
                    pieces::append(path, bytes)
                }
                PieceStep::Commit { len, patch_at } => pieces::commit(path, len, bytes, patch_at),
            },
            Write::Replace { path, bytes, mode } => write_atomic(path, bytes, *mode),
            Write::Append {
                path,
                bytes,
                mode,
                rotate_at,
            } => {
                if let Some(limit) = rotate_at {
                    if fs::metadata(&*path).is_ok_and(|m| m.len() >= *limit) {
                        let mut rotated = path.clone().into_os_string();
                        rotated.push(".1");
                        fs::rename(&*path, rotated)?;
                    }
                }
                let mut f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(*mode)
                    .open(&*path)?;
                // One write call per record: concurrent appenders never interleave inside it.
                f.write_all(bytes)?;
                f.sync_data()
            }
            Write::Prune { dir, prefix, keep } => {
                let mut names: Vec<String> = fs::read_dir(&*dir)?
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(prefix.as_str()))
                    .collect();
                names.sort();
                let excess = names.len().saturating_sub(*keep);
                for old in &names[..excess] {
                    fs::remove_file(dir.join(old))?;
                }
                Ok(())
            }
        }
    }
}

/// A write that failed: which file and why (no contents, which may be secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "writing {}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for WriteError {}

/// Why a job was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue is full; retry later (the API answers 503).
    Busy,
    /// The writer has stopped (shutdown).
    Stopped,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refused::Busy => "too many pending disk writes, retry shortly",
            Refused::Stopped => "Pulse is shutting down",
        })
    }
}

/// Where a job's outcome waits for whoever needs it after the fact (a deferred HTTP answer:
/// see `core::outcome::Outcome::after_write`).
#[derive(Clone, Default)]
pub struct Ticket(Arc<Mutex<Option<Result<(), WriteError>>>>);

impl Ticket {
    pub fn new() -> Ticket {
        Ticket::default()
    }

    /// The `Done` that fills this ticket.
    pub fn done(&self) -> Done {
        let slot = Arc::clone(&self.0);
        Box::new(move |r| *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(r))
    }

    /// The outcome; an error if the job has not run (it always has once a later
    /// `after_queued` callback runs, as jobs run in order).
    pub fn outcome(&self) -> Result<(), WriteError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| {
                Err(WriteError {
                    path: PathBuf::new(),
                    message: "write did not run".to_string(),
                })
            })
    }
}

/// Told the outcome of a job, on the writer thread (it typically posts a message to the loop).
pub type Done = Box<dyn FnOnce(Result<(), WriteError>) + Send>;

/// Told about every failed write, on the writer thread, whether or not the job had a `Done`.
pub type Report = Arc<dyn Fn(&WriteError) + Send + Sync>;

struct Job {
    writes: Vec<Write>,
    done: Vec<Done>,
}

impl Job {
    /// A lone replace: the only kind a newer write may supersede.
    fn lone_replace(&self) -> Option<&Path> {
        match self.writes.as_slice() {
            [w @ Write::Replace { .. }] => Some(w.path()),
            _ => None,
        }
    }
}

struct Queue {
    jobs: VecDeque<Job>,
    /// Jobs with writes waiting (jobs without writes — notifications — do not count).
    queued_writes: usize,
    /// A job taken by the thread and not finished yet.
    running: bool,
    stopping: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a job arrives or the writer is asked to stop.
    work: Condvar,
    /// Signalled when a job finishes (for `flush`).
    idle: Condvar,
    capacity: usize,
    report: Mutex<Option<Report>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A poisoned lock only means a `Done` panicked; the queue itself is consistent.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How the loop (and anything it lends it to) submits writes. Cheap to clone.
#[derive(Clone)]
pub struct WriterHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for WriterHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterHandle")
            .field("capacity", &self.shared.capacity)
            .finish()
    }
}

/// The writer thread. Dropping it flushes and stops it.
pub struct Writer {
    handle: WriterHandle,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the thread with room for `capacity` waiting jobs (at least one).
    pub fn start(capacity: usize) -> io::Result<Writer> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                queued_writes: 0,
                running: false,
                stopping: false,
            }),
            work: Condvar::new(),
            idle: Condvar::new(),
            capacity: capacity.max(1),
            report: Mutex::new(None),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("writer".into())
            .stack_size(256 * 1024)
            .spawn(move || run(&for_thread))?;
        Ok(Writer {
            handle: WriterHandle { shared },
            thread: Some(thread),
        })
    }

    pub fn handle(&self) -> WriterHandle {
        self.handle.clone()
    }

    /// Writes everything queued, then stops the thread. Later submissions are `Stopped`.
    pub fn shutdown(&mut self) {
        if let Some(t) = self.thread.take() {
            self.handle.shared.lock().stopping = true;
            self.handle.shared.work.notify_all();
            let _ = t.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::ops::Deref for Writer {
    type Target = WriterHandle;
    fn deref(&self) -> &WriterHandle {
        &self.handle
    }
}

impl WriterHandle {
    /// Queues `writes` as one job (all of it or nothing is accepted). `done` hears the outcome.
    pub fn submit(&self, writes: Vec<Write>, done: Option<Done>) -> Result<(), Refused> {
        let mut q = self.shared.lock();
        if q.stopping {
            return Err(Refused::Stopped);
        }
        let job = Job {
            writes,
            done: done.into_iter().collect(),
        };
        if let Some(path) = job.lone_replace() {
            // Supersede the newest queued job touching this file if it is a lone replace (it
            // has not started: the running job is no longer in the queue). Only the newest:
            // an older one followed by another write of the file must keep its place.
            let last = q
                .jobs
                .iter_mut()
                .rev()
                .find(|j| j.writes.iter().any(|w| w.path() == path));
            if let Some(old) = last.filter(|j| j.lone_replace() == Some(path)) {
                old.writes = job.writes;
                old.done.extend(job.done);
                return Ok(());
            }
        }
        if !job.writes.is_empty() {
            if q.queued_writes >= self.shared.capacity {
                return Err(Refused::Busy);
            }
            q.queued_writes += 1;
        }
        q.jobs.push_back(job);
        drop(q);
        self.shared.work.notify_one();
        Ok(())
    }

    /// Runs `then` on the writer thread once everything submitted before it has been written.
    /// Not bounded by the queue (it writes nothing), so it is only refused after shutdown.
    pub fn after_queued(&self, then: Box<dyn FnOnce() + Send>) -> Result<(), Refused> {
        let mut q = self.shared.lock();
        if q.stopping {
            return Err(Refused::Stopped);
        }
        q.jobs.push_back(Job {
            writes: Vec::new(),
            done: vec![Box::new(move |_| then())],
        });
        drop(q);
        self.shared.work.notify_one();
        Ok(())
    }

    /// Blocks until every job submitted so far has run (shutdown, tests). Never call it from
    /// the event loop while it serves requests.
    pub fn flush(&self) {
        let mut q = self.shared.lock();
        while !q.jobs.is_empty() || q.running {
            q = self.shared.idle.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Sets who hears about failed writes (the loop logs them).
    pub fn set_report(&self, report: Report) {
        *self.shared.report.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
    }

    /// Jobs with writes currently waiting (for tests and diagnostics).
    pub fn queued(&self) -> usize {
        self.shared.lock().queued_writes
    }

    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }
}

fn run(shared: &Shared) {
    loop {
        let job = {
            let mut q = shared.lock();
            loop {
                if let Some(job) = q.jobs.pop_front() {
                    if !job.writes.is_empty() {
                        q.queued_writes -= 1;
                    }
                    q.running = true;
                    break job;
                }
                if q.stopping {
                    return;
                }
                q = shared.work.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        let mut job = job;
        let result = job.writes.iter_mut().try_for_each(|w| {
            w.perform().map_err(|e| WriteError {
                path: w.path().to_path_buf(),
                message: e.to_string(),
            })
        });
        if let Err(e) = &result {
            let report = shared
                .report
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            match report {
                Some(r) => r(e),
                None => crate::log_warn!("data-dir write failed", error = e),
            }
        }
        for done in job.done {
            // A panicking callback must not stop the writer (every later write would be lost).
            let r = result.clone();
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || done(r))).is_err() {
                crate::log_error!("writer callback panicked");
            }
        }
        shared.lock().running = false;
        shared.idle.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pulse-writer-{tag}-{}-{}",
            std::process::id(),
            crate::util::time::now_ms()
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// Occupies the writer thread until the returned sender is dropped or sent to.
    fn block(w: &WriterHandle) -> std::sync::mpsc::Sender<()> {
        let (gate_tx, gate_rx) = channel::<()>();
        let (started_tx, started_rx) = channel();
        w.after_queued(Box::new(move || {
            started_tx.send(()).unwrap();
            let _ = gate_rx.recv_timeout(Duration::from_secs(10));
        }))
        .unwrap();
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        gate_tx
    }

    #[test]
    fn writes_in_order_and_reports_outcomes() {
        let dir = temp_dir("order");
        let w = Writer::start(8).unwrap();
        let (tx, rx) = channel();
        let p = dir.join("a.json");
        let log = dir.join("audit.log");
        for i in 0..3 {
            let tx = tx.clone();
            w.submit(
                vec![
                    Write::replace(&p, format!("v{i}").into_bytes(), 0o600),
                    Write::append(&log, format!("line {i}\n").into_bytes(), 0o600),
                ],
                Some(Box::new(move |r| tx.send((i, r)).unwrap())),
            )
            .unwrap();
        }
        let bad = dir.join("missing-dir").join("x");
        let tx2 = tx.clone();
        w.submit(
            vec![Write::replace(&bad, b"x".to_vec(), 0o600)],
            Some(Box::new(move |r| tx2.send((9, r)).unwrap())),
        )
        .unwrap();
        w.flush();
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(got.len(), 4);
        assert!(got[..3].iter().all(|(_, r)| r.is_ok()));
        assert_eq!(got[3].0, 9);
        assert_eq!(got[3].1.as_ref().unwrap_err().path, bad);
        assert_eq!(fs::read(&p).unwrap(), b"v2");
        assert_eq!(
            fs::read_to_string(&log).unwrap(),
            "line 0\nline 1\nline 2\n"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn full_queue_is_busy_and_writes_nothing_of_the_refused_job() {
        let dir = temp_dir("busy");
        let mut w = Writer::start(2).unwrap();
        let gate = block(&w);
        for name in ["a", "b"] {
            w.submit(
                vec![Write::replace(dir.join(name), b"1".to_vec(), 0o600)],
                None,
            )
            .unwrap();
        }
        let refused = w.submit(
            vec![
                Write::replace(dir.join("c"), b"1".to_vec(), 0o600),
                Write::replace(dir.join("d"), b"1".to_vec(), 0o600),
            ],
            None,
        );
        assert_eq!(refused, Err(Refused::Busy));
        // A newer replace of a queued file still fits: it supersedes the queued one.
        w.submit(
            vec![Write::replace(dir.join("a"), b"2".to_vec(), 0o600)],
            None,
        )
        .unwrap();
        drop(gate);
        w.flush();
        assert_eq!(fs::read(dir.join("a")).unwrap(), b"2");
        assert!(dir.join("b").exists());
        assert!(!dir.join("c").exists() && !dir.join("d").exists());
        w.shutdown();
        assert_eq!(
            w.submit(vec![Write::replace(dir.join("e"), vec![], 0o600)], None),
            Err(Refused::Stopped)
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn coalescing_keeps_the_last_write_of_a_file_last() {
        let dir = temp_dir("coalesce");
        let w = Writer::start(8).unwrap();
        let gate = block(&w);
        let p = dir.join("nodes");
        let (tx, rx) = channel();
        let t = tx.clone();
        w.submit(
            vec![Write::replace(&p, b"1".to_vec(), 0o600)],
            Some(Box::new(move |r| t.send(r.is_ok()).unwrap())),
        )
        .unwrap();
        // A batch touching the file follows; a lone replace after it must not jump over it.
        w.submit(
            vec![
                Write::replace(dir.join("backup"), b"1".to_vec(), 0o600),
                Write::replace(&p, b"2".to_vec(), 0o600),
            ],
            None,
        )
        .unwrap();
        let t = tx.clone();
        w.submit(
            vec![Write::replace(&p, b"3".to_vec(), 0o600)],
            Some(Box::new(move |r| t.send(r.is_ok()).unwrap())),
        )
        .unwrap();
        let t = tx.clone();
        w.submit(
            vec![Write::replace(&p, b"4".to_vec(), 0o600)],
            Some(Box::new(move |r| t.send(r.is_ok()).unwrap())),
        )
        .unwrap();
        assert_eq!(w.queued(), 3, "4 superseded 3");
        drop(gate);
        w.flush();
        assert_eq!(fs::read(&p).unwrap(), b"4");
        assert_eq!(
            rx.try_iter().filter(|ok| *ok).count(),
            3,
            "every waiter hears"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn append_rotates_and_prune_keeps_the_newest() {
        let dir = temp_dir("rotate");
        let w = Writer::start(8).unwrap();
        let log = dir.join("audit.log");
        fs::write(&log, b"0123456789").unwrap();
        w.submit(
            vec![Write::Append {
                path: log.clone(),
                bytes: b"new\n".to_vec(),
                mode: 0o600,
                rotate_at: Some(10),
            }],
            None,
        )
        .unwrap();
        for i in 0..5 {
            fs::write(dir.join(format!("b-{i}")), b"x").unwrap();
        }
        w.submit(
            vec![Write::Prune {
                dir: dir.clone(),
                prefix: "b-".into(),
                keep: 2,
            }],
            None,
        )
        .unwrap();
        w.flush();
        assert_eq!(fs::read(&log).unwrap(), b"new\n");
        assert_eq!(fs::read(dir.join("audit.log.1")).unwrap(), b"0123456789");
        let mut left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("b-"))
            .collect();
        left.sort();
        assert_eq!(left, ["b-3", "b-4"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
