//! The event loop: one thread, a `mio::Poll` with a `Waker`, a bounded inbox and the app's
//! timers. Every mutation of application state happens here, one message at a time.

use crate::core::app::App;
use mio::{Events, Poll, Token, Waker};
use std::any::Any;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::Instant;

pub const WAKE: Token = Token(0);

/// Everything that reaches the loop.
pub enum Msg {
    /// A deferred handler's work finished on a worker.
    Deferred {
        id: u64,
        result: Box<dyn Any + Send>,
    },
    /// A worker's result that knows how to apply itself (poll results, connection tests...).
    Apply(Box<dyn FnOnce(&mut App) + Send>),
    /// Stop: stop accepting, answer what is in flight (bounded), persist, exit.
    Shutdown,
}

/// How other threads reach the loop. Cheap to clone.
#[derive(Clone)]
pub struct LoopHandle {
    tx: SyncSender<Msg>,
    waker: Arc<Waker>,
}

impl LoopHandle {
    pub fn new(tx: SyncSender<Msg>, waker: Arc<Waker>) -> LoopHandle {
        LoopHandle { tx, waker }
    }

    /// Non-blocking send for callers that can answer "busy" themselves.
    pub fn try_send(&self, msg: Msg) -> Result<(), Msg> {
        match self.tx.try_send(msg) {
            Ok(()) => {
                let _ = self.waker.wake();
                Ok(())
            }
            Err(TrySendError::Full(m)) | Err(TrySendError::Disconnected(m)) => Err(m),
        }
    }

    /// Blocking send for results that must not be lost (a worker's poll result); workers may
    /// wait for room, the loop never does.
    pub fn post(&self, msg: Msg) -> bool {
        let ok = self.tx.send(msg).is_ok();
        let _ = self.waker.wake();
        ok
    }
}

/// Runs until `Msg::Shutdown` (or every sender is gone), then lets the app persist and stop.
pub fn run(mut app: App, mut poll: Poll, rx: Receiver<Msg>) {
    let mut events = Events::with_capacity(256);
    loop {
        let timeout = app
            .next_deadline()
            .map(|d| d.saturating_duration_since(Instant::now()));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                crate::log_error!("event loop poll failed", error = e);
            }
        }
        for event in events.iter() {
            if event.token() != WAKE {
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                app.on_socket_event(event.token(), readable, event.is_writable());
            }
        }
        // Drain everything queued: one wake may stand for many messages.
        loop {
            match rx.try_recv() {
                Ok(Msg::Shutdown) => app.request_shutdown(),
                Ok(msg) => app.handle(msg),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    app.request_shutdown();
                    break;
                }
            }
        }
        app.on_timers(Instant::now());
        app.after_batch();
        if app.ready_to_exit(Instant::now()) {
            app.shutdown();
            return;
        }
    }
}
