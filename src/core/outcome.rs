//! What a handler returns: an answer now, or blocking work for the worker pool whose result
//! comes back to the event loop, which then answers. The loop itself never blocks.

use crate::core::app::App;
use crate::http::reply::Reply;
use std::any::Any;
use std::time::Instant;

pub type AnyResult = Box<dyn Any + Send>;
/// Builds the answer on the loop from deferred work's result (itself possibly deferred
/// again: a request that waited for the alert engine may then wait for a save).
pub type Finish = Box<dyn FnOnce(&mut App, AnyResult) -> Outcome>;

pub enum Outcome {
    Reply(Reply),
    Defer(Deferred),
}

/// Which worker pool runs deferred work. Network probes (that may hang for their whole
/// timeout) never share threads with short CPU work such as a login's bcrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    Cpu,
    Net,
    /// Not a pool: `work` runs on the data-dir writer thread once every write queued before
    /// it is on disk (see [`Outcome::after_write`]).
    Writer,
    /// Not a pool: the answer waits until the state document of this revision (or a newer
    /// one) is served (see [`Outcome::after_state_build`]); `work` is not run.
    StateBuild(u64),
    /// Not a pool: the answer waits until the alert engine is back from an evaluation on
    /// the task pool (see [`Outcome::when_alerts_home`]); `work` is not run.
    AlertEngine,
}

pub struct Deferred {
    pub pool: Pool,
    /// Runs on a worker thread (network calls, bcrypt, PBKDF2...).
    pub work: Box<dyn FnOnce() -> AnyResult + Send>,
    /// Runs back on the event loop with the work's result and builds the answer.
    pub finish: Finish,
    /// The answer is not released before this instant even if the work is done sooner (the
    /// login guard's delay). The loop holds the result and lets a timer release it: no thread
    /// sleeps, so held answers cost a map entry, not a worker.
    pub not_before: Option<Instant>,
}

impl Outcome {
    /// Holds a deferred answer until `at` (no effect on an immediate reply).
    pub fn not_before(self, at: Instant) -> Outcome {
        match self {
            Outcome::Defer(d) => Outcome::Defer(Deferred {
                not_before: Some(at),
                ..d
            }),
            reply => reply,
        }
    }

    /// Typed constructor for deferred CPU work: `work` on a worker, `finish` on the loop.
    pub fn defer<T, W, F>(work: W, finish: F) -> Outcome
    where
        T: Send + 'static,
        W: FnOnce() -> T + Send + 'static,
        F: FnOnce(&mut App, T) -> Reply + 'static,
    {
        Outcome::defer_on(Pool::Cpu, work, finish)
    }

    /// Deferred work that talks to the network (connection tests, probes).
    pub fn defer_net<T, W, F>(work: W, finish: F) -> Outcome
    where
        T: Send + 'static,
        W: FnOnce() -> T + Send + 'static,
        F: FnOnce(&mut App, T) -> Reply + 'static,
    {
        Outcome::defer_on(Pool::Net, work, finish)
    }

    /// Answers once the writer has run the job whose outcome `ticket` holds: the API never
    /// claims a save that did not reach the disk, and the loop never waits for the fsync.
    pub fn after_write<F>(ticket: crate::core::writer::Ticket, finish: F) -> Outcome
    where
        F: FnOnce(&mut App, Result<(), crate::core::writer::WriteError>) -> Reply + 'static,
    {
        Outcome::defer_on(Pool::Writer, move || ticket.outcome(), finish)
    }

    /// Answers once the `/api/state` document built from `revision` or later is served:
    /// a reader sees every change made before it asked (read-your-writes), and the loop
    /// never serialises the state itself.
    pub fn after_state_build<F>(revision: u64, finish: F) -> Outcome
    where
        F: FnOnce(&mut App) -> Reply + 'static,
    {
        Outcome::defer_on(
            Pool::StateBuild(revision),
            || (),
            move |app, ()| finish(app),
        )
    }

    /// Runs `then` once the alert engine is back on the loop (an evaluation holds it for a
    /// few milliseconds per poll): a request that reads or changes alerts never sees them
    /// half evaluated, and the loop never waits for the evaluation.
    pub fn when_alerts_home<F>(then: F) -> Outcome
    where
        F: FnOnce(&mut App) -> Outcome + 'static,
    {
        Outcome::Defer(Deferred {
            pool: Pool::AlertEngine,
            work: Box::new(|| Box::new(()) as AnyResult),
            finish: Box::new(move |app, _| then(app)),
            not_before: None,
        })
    }

    fn defer_on<T, W, F>(pool: Pool, work: W, finish: F) -> Outcome
    where
        T: Send + 'static,
        W: FnOnce() -> T + Send + 'static,
        F: FnOnce(&mut App, T) -> Reply + 'static,
    {
        Outcome::Defer(Deferred {
            pool,
            work: Box::new(move || Box::new(work()) as AnyResult),
            finish: Box::new(move |app, result| match result.downcast::<T>() {
                Ok(value) => finish(app, *value).into(),
                Err(_) => {
                    Reply::error(500, "internal error: deferred result of unexpected type").into()
                }
            }),
            not_before: None,
        })
    }
}

impl From<Reply> for Outcome {
    fn from(r: Reply) -> Outcome {
        Outcome::Reply(r)
    }
}
