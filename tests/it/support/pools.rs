//! Holding a worker pool's threads from a test, to reach the paths where work waits or the
//! pool is full.

use super::TestServer;
use pulse::core::app::App;
use pulse::core::workers::WorkerPool;
use std::sync::mpsc;
use std::time::Duration;

/// Which pool of the app to hold.
pub type PoolOf = fn(&App) -> &WorkerPool;

/// Puts one job on `pool` that blocks until the returned sender is used (or dropped, or 30 s
/// pass). With `started`, waits until a thread runs it (the pool's thread is then held);
/// without, it may only be queued. Panics here, in the test, if the pool refused it.
pub fn hold(s: &TestServer, pool: PoolOf, started: bool) -> mpsc::Sender<()> {
    let (release, wait) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (taken_tx, taken) = mpsc::channel::<bool>();
    s.apply(move |app| {
        let ok = pool(app)
            .try_submit(Box::new(move || {
                let _ = started_tx.send(());
                let _ = wait.recv_timeout(Duration::from_secs(30));
            }))
            .is_ok();
        let _ = taken_tx.send(ok);
    });
    assert!(taken.recv().unwrap(), "the pool was full");
    if started {
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    release
}

/// Holds the only thread of the task pool (tests set `PULSE_LIMIT_TASK_THREADS=1`).
pub fn hold_task_pool(s: &TestServer) -> mpsc::Sender<()> {
    hold(s, App::task_pool, true)
}

/// Holds the only thread of the network pool (`PULSE_LIMIT_NET_THREADS=1`).
pub fn hold_net_pool(s: &TestServer) -> mpsc::Sender<()> {
    hold(s, App::net_pool, true)
}
