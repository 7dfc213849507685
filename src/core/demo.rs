//! Demo mode on the loop: starting the built-in simulator (certificates, six binds, threads,
//! an estate of up to 5,000 × 10,000 guests) and stopping it (joining its threads) block, so
//! both run on a network-pool worker. The loop only detaches the old demo's instances from the
//! monitor before, and attaches the new one's after (clients and schedule entries).
//!
//! Nothing changes until a worker has taken the job: its first step asks the loop to detach
//! the running demo (a message round trip), so a refused job (pool full → 503) leaves demo
//! mode as it was. One switch at a time: while one runs, `Polling::demo_change` says where it
//! is going, the status reports that, and another switch is answered 409.

use crate::core::app::App;
use crate::core::event_loop::{LoopHandle, Msg};
use crate::core::outcome::Outcome;
use crate::monitor::demo::{Demo, DemoSizes, Launched, Retired};

/// What the worker did: the simulator that now runs (or why it could not start).
type Started = Option<Result<Launched, String>>;

/// The hand-off of [`ask_loop`]: the answer, or the worker having given up on it.
enum Handoff<T> {
    Waiting,
    Abandoned,
    Done(T),
}

/// Runs `f` on the loop and waits for its result, for at most 5 s (at shutdown the loop stops
/// reading its inbox). A late `f` finds the worker gone and does not run, so nothing changes
/// that nobody will act on.
fn ask_loop<T, F>(handle: &LoopHandle, f: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce(&mut App) -> T + Send + 'static,
{
    use std::sync::{Arc, Condvar, Mutex};
    let slot = Arc::new((Mutex::new(Handoff::Waiting), Condvar::new()));
    let theirs = Arc::clone(&slot);
    handle.post(Msg::Apply(Box::new(move |app: &mut App| {
        let (lock, ready) = &*theirs;
        let Ok(mut state) = lock.lock() else { return };
        if matches!(*state, Handoff::Waiting) {
            *state = Handoff::Done(f(app));
            ready.notify_one();
        }
    })));
    let (lock, ready) = &*slot;
    let state = lock.lock().ok()?;
    let (mut state, _) = ready
        .wait_timeout_while(state, std::time::Duration::from_secs(5), |s| {
            matches!(s, Handoff::Waiting)
        })
        .ok()?;
    match std::mem::replace(&mut *state, Handoff::Abandoned) {
        Handoff::Done(v) => Some(v),
        _ => None,
    }
}

/// Why a switch did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchError {
    /// Another start or stop was running; nothing changed.
    Busy,
    /// The simulator did not start; demo mode is off.
    Failed(String),
}

/// The worker's job: ask the loop to detach the running demo, stop its simulator (joins
/// threads), start the new one, and post it to the loop to be polled (applied before a
/// deferred answer, which follows on the same inbox).
fn demo_job(
    handle: LoopHandle,
    enabled: bool,
    sizes: DemoSizes,
) -> impl FnOnce() -> Result<(), SwitchError> + Send + 'static {
    move || {
        let Some(retired) =
            ask_loop(&handle, move |app| app.begin_demo_switch(enabled, sizes)).flatten()
        else {
            return Err(SwitchError::Busy);
        };
        if let Some(r) = retired {
            r.shut_down();
        }
        let seed = crate::util::time::now_ms() as u64;
        let started: Started = enabled.then(|| Demo::launch(sizes, seed));
        let result = match &started {
            Some(Err(e)) => Err(SwitchError::Failed(e.clone())),
            _ => Ok(()),
        };
        handle.post(Msg::Apply(Box::new(move |app: &mut App| {
            app.demo_switched(started)
        })));
        result
    }
}

impl App {
    /// Where demo mode is, or is going while a switch runs.
    pub fn demo_enabled(&self) -> bool {
        self.polling
            .demo_change
            .unwrap_or(self.polling.demo.is_some())
    }

    /// A switch is running on a worker.
    pub fn demo_switching(&self) -> bool {
        self.polling.demo_change.is_some()
    }

    /// Starts or stops the demo cluster at `sizes` on the network pool; `finish` builds the
    /// answer once the simulator runs and is polled, or has stopped, from what went wrong
    /// (`Busy`: another switch was running; `Failed`: the simulator did not start).
    pub fn switch_demo<F>(&self, enabled: bool, sizes: DemoSizes, finish: F) -> Outcome
    where
        F: FnOnce(&mut App, Result<(), SwitchError>) -> crate::http::reply::Reply + 'static,
    {
        Outcome::defer_net(demo_job(self.handle.clone(), enabled, sizes), finish)
    }

    /// At start-up (`PULSE_MOCK_MODE`): nothing runs yet, so the job only launches the
    /// simulator; the status says "enabled" from now on.
    pub fn start_demo_in_background(&mut self) {
        if self.demo_switching() || self.polling.demo.is_some() {
            return;
        }
        let (handle, sizes) = (self.handle.clone(), self.polling.demo_sizes);
        let seed = crate::util::time::now_ms() as u64;
        let job = Box::new(move || {
            let started: Started = Some(Demo::launch(sizes, seed));
            handle.post(Msg::Apply(Box::new(move |app: &mut App| {
                app.demo_switched(started)
            })));
        });
        if self.net_tasks.try_submit(job).is_ok() {
            self.polling.demo_change = Some(true);
            // Activated now, not when the simulator answers: the demo's alerts are part of
            // what `PULSE_MOCK_MODE` promises from the first request on.
            self.demo_alerts_started();
        } else {
            crate::log_error!("demo mode failed to start", error = "worker pool full");
        }
    }

    /// The job's first step, on the loop: detach the running demo (cheap: its instances leave
    /// the monitor) and hand its simulator to the worker to stop. `None` while another switch
    /// runs.
    fn begin_demo_switch(&mut self, enabled: bool, sizes: DemoSizes) -> Option<Option<Retired>> {
        if self.demo_switching() {
            return None;
        }
        let retired = self
            .polling
            .demo
            .take()
            .map(|d| d.stop(&mut self.polling.core));
        self.polling.demo_sizes = sizes;
        self.polling.demo_change = Some(enabled);
        Some(retired)
    }

    /// Back on the loop: poll the new simulator (or record that demo mode is off).
    fn demo_switched(&mut self, started: Started) {
        self.polling.demo_change = None;
        match started {
            None => crate::log_info!("demo mode stopped"),
            Some(Err(e)) => crate::log_error!("demo mode failed to start", error = e),
            Some(Ok(launched)) => {
                let sizes = launched.sizes();
                let now = self.polling.clock.now_ms();
                match launched.attach(&mut self.polling.core, now) {
                    Ok(demo) => {
                        crate::log_info!(
                            "demo mode: polling the built-in simulator",
                            nodes = sizes.nodes,
                            guests_per_node = sizes.vms_per_node + sizes.lxcs_per_node
                        );
                        self.polling.demo = Some(demo);
                        self.demo_alerts_started();
                        self.start_due_polls();
                    }
                    Err(e) => crate::log_error!("demo mode failed to start", error = e),
                }
            }
        }
    }
}
