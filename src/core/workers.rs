//! A fixed pool of threads for blocking work (Proxmox polls, bcrypt, connection tests).
//!
//! The queue is bounded and submission never blocks: the event loop must not wait on a worker,
//! so a full queue is reported back and the caller decides (skip this poll, answer 503, ...).

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// The two pools handlers defer work to (see `core::outcome::Pool`).
pub struct HandlerPools {
    /// Short CPU work: bcrypt, PBKDF2.
    pub cpu: WorkerPool,
    /// Work that waits on the network: connection tests, cluster detection.
    pub net: WorkerPool,
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
