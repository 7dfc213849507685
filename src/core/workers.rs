//! A fixed pool of threads for blocking work (Proxmox polls, bcrypt, connection tests).
//!
//! The queue is bounded and submission never blocks: the event loop must not wait on a worker,
//! so a full queue is reported back and the caller decides (skip this poll, answer 503, ...).

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// The two pools handlers defer work to (see `core::outcome::Pool`), and the data-dir writer.
pub struct HandlerPools {
    /// Short CPU work: bcrypt, PBKDF2.
    pub cpu: WorkerPool,
    /// Work that waits on the network: connection tests, cluster detection.
    pub net: WorkerPool,
    /// Every durable write (config, sessions, tokens, audit): see `core::writer`.
    pub writer: crate::core::writer::Writer,
    pub limits: Limits,
}

/// The loop's bounds. Production values are the defaults; tests shrink them through the
/// environment (`PULSE_LIMIT_*`, read from `RuntimeConfig::vars`) to reach the 503/504 paths
/// without flooding a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Messages the loop's inbox holds before senders hear "busy" (`PULSE_LIMIT_INBOX`).
    pub inbox: usize,
    /// CPU pool threads and queue (`PULSE_LIMIT_TASK_THREADS`, `PULSE_LIMIT_TASK_QUEUE`).
    pub task_threads: usize,
    pub task_queue: usize,
    /// Network pool threads and queue (`PULSE_LIMIT_NET_THREADS`, `PULSE_LIMIT_NET_QUEUE`).
    pub net_threads: usize,
    pub net_queue: usize,
    /// Jobs waiting for the writer thread (`PULSE_LIMIT_WRITER_QUEUE`).
    pub writer_queue: usize,
    /// Deferred work older than this is answered 504 (`PULSE_LIMIT_DEFERRED_TIMEOUT_MS`).
    pub deferred_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            inbox: 1024,
            task_threads: 2,
            task_queue: 64,
            net_threads: 4,
            net_queue: 32,
            writer_queue: crate::core::writer::DEFAULT_QUEUE,
            deferred_timeout: std::time::Duration::from_secs(30),
        }
    }
}

impl Limits {
    /// The defaults, each replaced by its variable when that parses as a positive number.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Limits {
        let d = Limits::default();
        let num = |key: &str, default: usize| {
            get(key)
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|n| *n > 0)
                .unwrap_or(default)
        };
        Limits {
            inbox: num("PULSE_LIMIT_INBOX", d.inbox),
            task_threads: num("PULSE_LIMIT_TASK_THREADS", d.task_threads),
            task_queue: num("PULSE_LIMIT_TASK_QUEUE", d.task_queue),
            net_threads: num("PULSE_LIMIT_NET_THREADS", d.net_threads),
            net_queue: num("PULSE_LIMIT_NET_QUEUE", d.net_queue),
            writer_queue: num("PULSE_LIMIT_WRITER_QUEUE", d.writer_queue),
            deferred_timeout: std::time::Duration::from_millis(num(
                "PULSE_LIMIT_DEFERRED_TIMEOUT_MS",
                d.deferred_timeout.as_millis() as usize,
            ) as u64),
        }
    }
}

pub struct WorkerPool {
    name: &'static str,
    tx: Option<SyncSender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct PoolFull;

impl WorkerPool {
    /// `threads` workers sharing a queue of at most `queue` waiting jobs.
    pub fn new(
        name: &'static str,
        threads: usize,
        queue: usize,
        stack_size: usize,
    ) -> std::io::Result<WorkerPool> {
        let (tx, rx) = sync_channel::<Job>(queue);
        let rx: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(rx));
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            let handle = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .stack_size(stack_size)
                .spawn(move || loop {
                    // The lock is held only while waiting for the next job, never while running it.
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => {
                            // A panicking job must not take the worker (or the process) down.
                            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err()
                            {
                                crate::log_error!("worker job panicked", pool = name);
                            }
                        }
                        Err(_) => return,
                    }
                })?;
            handles.push(handle);
        }
        Ok(WorkerPool {
            name,
            tx: Some(tx),
            threads: handles,
        })
    }

    pub fn try_submit(&self, job: Job) -> Result<(), PoolFull> {
        match self.tx.as_ref() {
            Some(tx) => match tx.try_send(job) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => Err(PoolFull),
            },
            None => Err(PoolFull),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Stops accepting jobs and waits for queued ones to finish.
    pub fn shutdown(&mut self) {
        self.tx = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    #[test]
    fn limits_default_and_shrink_from_the_environment() {
        assert_eq!(Limits::from_lookup(&|_| None), Limits::default());
        let l = Limits::from_lookup(&|k| match k {
            "PULSE_LIMIT_INBOX" => Some("2".into()),
            "PULSE_LIMIT_WRITER_QUEUE" => Some(" 1 ".into()),
            "PULSE_LIMIT_DEFERRED_TIMEOUT_MS" => Some("250".into()),
            "PULSE_LIMIT_NET_QUEUE" => Some("0".into()),
            "PULSE_LIMIT_TASK_QUEUE" => Some("lots".into()),
            _ => None,
        });
        assert_eq!((l.inbox, l.writer_queue), (2, 1));
        assert_eq!(l.deferred_timeout, Duration::from_millis(250));
        // Zero and garbage keep the default: a bound of zero would refuse everything.
        assert_eq!(l.net_queue, Limits::default().net_queue);
        assert_eq!(l.task_queue, Limits::default().task_queue);
    }

    #[test]
    fn runs_jobs_and_refuses_when_full() {
        let (done_tx, done_rx) = channel();
        let (gate_tx, gate_rx) = channel::<()>();
        let gate_rx = Arc::new(Mutex::new(gate_rx));
        let mut pool = WorkerPool::new("t", 1, 1, 64 * 1024).unwrap();
        // One job blocks the only worker, one waits in the queue, the third is refused.
        let (started_tx, started_rx) = channel();
        for i in 0..2 {
            let (d, g, st) = (done_tx.clone(), Arc::clone(&gate_rx), started_tx.clone());
            pool.try_submit(Box::new(move || {
                st.send(()).unwrap();
                let _ = g.lock().unwrap().recv_timeout(Duration::from_secs(5));
                d.send(()).unwrap();
            }))
            .unwrap();
            if i == 0 {
                // Wait until the worker holds job 0, so job 1 sits in the queue.
                started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
            }
        }
        assert_eq!(pool.try_submit(Box::new(|| {})), Err(PoolFull));
        gate_tx.send(()).unwrap();
        gate_tx.send(()).unwrap();
        done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        pool.try_submit(Box::new(|| panic!("contained"))).unwrap();
        let d = done_tx.clone();
        std::thread::sleep(Duration::from_millis(20));
        pool.try_submit(Box::new(move || d.send(()).unwrap()))
            .unwrap();
        done_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("worker survives a panicking job");
        pool.shutdown();
    }
}
