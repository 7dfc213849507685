//! The `/api/state` document and the WebSocket `rawData` frame, built off the loop.
//!
//! At 3,000 guests the document is ~5.3 MB: serialising and framing it costs tens of
//! milliseconds, too much for the loop once per change. So after each batch the loop only
//! notices that the state's revision moved and hands a snapshot to the task pool
//! ([`LiveState::snapshot`]: reference counts, microseconds whatever the estate's size). The
//! worker serialises the JSON and wraps it in the `rawData` frame (its gzip is computed once,
//! by a worker, when a reader first asks for it); the
//! loop then swaps the finished bytes in and broadcasts them.
//!
//! One build at a time. Changes that arrive while a build runs are coalesced: when it
//! finishes, the next build takes the newest state, so a burst of poll results costs at most
//! two builds. Readers (`GET /api/state`, a client's `requestData`, the 10 s re-broadcast)
//! always get the newest finished bytes and never wait for a build.

use crate::core::app::App;
use crate::core::event_loop::Msg;
use crate::http::reply::SharedBody;
use crate::state::LiveState;
use crate::ws::client::{Frame, FrameKind};
use crate::ws::hub;

/// What a worker hands back: the body and its `rawData` frame.
pub struct Built {
    pub body: SharedBody,
    pub raw_data: Frame,
}

impl Built {
    /// Serialise + frame: the work that must not run on the loop.
    pub fn from_state(state: &LiveState) -> Built {
        Built::from_json(state.to_frontend_json())
    }

    /// As `from_state`, serialising straight into the `rawData` frame, in a buffer sized for
    /// the last document (`hint` bytes, plus an eighth): the body served to `GET /api/state`
    /// is a view into the frame's bytes. At 3,000 guests that is one 5 MB buffer per
    /// document where there were two (and a growing `Vec` would peak at twice the document).
    pub fn from_state_sized(state: &LiveState, hint: usize) -> Built {
        let (text, body) = hub::frame_around(FrameKind::State, "rawData", hint + hint / 8, |out| {
            state.write_frontend_json(out)
        });
        Built {
            body: SharedBody::from_bytes(body),
            raw_data: text,
        }
    }

    /// The gzip form is not computed here: the first reader that accepts gzip has a worker
    /// compute it once (`GzipPlan::WarmShared`). Most builds are read only by WebSocket
    /// clients, and gzip is about a third of a build's CPU.
    pub fn from_json(json: Vec<u8>) -> Built {
        let raw_data = hub::frame_raw(FrameKind::State, "rawData", &json);
        let body = SharedBody::new(json);
        Built { body, raw_data }
    }
}

/// The loop's side of the feed: what is served, and whether a build is running.
pub struct StateFeed {
    /// The newest finished `/api/state` body.
    body: SharedBody,
    /// `rawData` (built by the worker) and `initialState` (built on first use: a new
    /// WebSocket client is rare next to a change) frames of `body`.
    frames: [Option<Frame>; 2],
    /// The state revision last handed to a build (finished or not).
    requested: Option<u64>,
    /// The revision of the build running now.
    building: Option<u64>,
    /// The revision `body` was built from (`None` for a document published directly).
    served: Option<u64>,
    /// Bumped by a direct publish: a build started before it must not replace it.
    generation: u64,
    /// Builds finished (visible to tests through [`App::state_feed_stats`]).
    built: u64,
    /// Pending answers waiting for a document at least as new as their revision.
    waiters: Vec<(u64, u64)>,
}

/// Counters of the feed, for tests and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedStats {
    /// Builds finished and published.
    pub built: u64,
    /// The revision of the bytes served now (`None` before the first build or after a body
    /// was published directly).
    pub served_revision: Option<u64>,
    /// A build is running.
    pub building: bool,
    /// An alert evaluation of the newest change is running: the build waits for its alerts.
    pub alerts_evaluating: bool,
}

impl StateFeed {
    /// Starts out serving `initial` (the empty state's document, built at start-up where it
    /// costs nothing), so `/api/state` always has every key.
    pub fn new(initial: &LiveState) -> StateFeed {
        let built = Built::from_state(initial);
        StateFeed {
            body: built.body,
            frames: [Some(built.raw_data), None],
            requested: Some(initial.revision()),
            building: None,
            served: Some(initial.revision()),
            generation: 0,
            built: 0,
            waiters: Vec::new(),
        }
    }
}

impl App {
    /// The newest finished `/api/state` body (shared, never copied).
    pub fn state_body(&self) -> SharedBody {
        self.feed.body.clone()
    }

    /// The revision of the live state now (what a reader asking now must see).
    pub fn state_revision(&self) -> u64 {
        self.polling.core.state().revision()
    }

    /// The served body stands for the live state as it is now: no change since it was built
    /// (or published).
    pub fn state_body_is_current(&self) -> bool {
        self.feed.building.is_none() && self.feed.requested == Some(self.state_revision())
    }

    /// Parks pending answer `id` until a document of `revision` or newer is served.
    pub(crate) fn wait_for_state_build(&mut self, revision: u64, id: u64) {
        self.feed.waiters.push((revision, id));
    }

    /// Answers the readers that waited for `revision` or older.
    fn release_state_waiters(&mut self, revision: Option<u64>) {
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.feed.waiters)
            .into_iter()
            .partition(|(wanted, _)| revision.is_none_or(|r| *wanted <= r));
        self.feed.waiters = waiting;
        for (_, id) in ready {
            self.finish_pending(id, Box::new(()));
        }
    }

    pub fn state_feed_stats(&self) -> FeedStats {
        FeedStats {
            built: self.feed.built,
            served_revision: self.feed.served,
            building: self.feed.building.is_some(),
            alerts_evaluating: self.alerts.is_away(),
        }
    }

    /// After each batch: if the state changed since the last build and none is running,
    /// hands a snapshot of it to the task pool. A full pool is tried again after the next
    /// batch (the loop wakes at least once a second).
    pub fn publish_state_if_changed(&mut self) {
        let revision = self.polling.core.state().revision();
        // An alert evaluation of this change is running: its alerts go into the same
        // document (it calls this again when it is back).
        if self.feed.requested == Some(revision)
            || self.feed.building.is_some()
            || self.alerts.is_away()
        {
            return;
        }
        // `performance`/`stats` as of this build (they do not move the revision).
        self.refresh_state_blocks();
        let snapshot = self.polling.core.state().snapshot();
        let hint = self.feed.body.raw.len();
        let handle = self.handle.clone();
        let generation = self.feed.generation;
        let job = Box::new(move || {
            let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Built::from_state_sized(&snapshot, hint)
            }))
            .ok();
            // The snapshot's last references to replaced instances go here, not on the loop.
            drop(snapshot);
            handle.post(Msg::Apply(Box::new(move |app: &mut App| {
                app.state_built(revision, generation, built)
            })));
        });
        if self.tasks.try_submit(job).is_ok() {
            self.feed.requested = Some(revision);
            self.feed.building = Some(revision);
        }
    }

    /// A build finished: serve it and push it to every WebSocket client. A build that
    /// panicked (a bug) is logged and skipped; the next change builds again.
    fn state_built(&mut self, revision: u64, generation: u64, built: Option<Built>) {
        if self.feed.building == Some(revision) {
            self.feed.building = None;
        }
        match built {
            Some(_) if generation != self.feed.generation => {}
            Some(b) => {
                self.feed.built += 1;
                self.feed.served = Some(revision);
                self.serve(b);
            }
            None => crate::log_error!("building the state snapshot panicked", revision = revision),
        }
        // A failed or superseded build still releases its readers: they get the newest
        // finished document rather than a 504.
        self.release_state_waiters(Some(revision));
        // Changes that came in meanwhile: build the newest now rather than after the next
        // batch (the loop may sleep until a timer).
        self.publish_state_if_changed();
    }

    fn serve(&mut self, built: Built) {
        self.feed.body = built.body;
        self.feed.frames = [Some(built.raw_data), None];
        self.broadcast_state();
    }

    /// Publishes a ready document at once (tests inject documents this way): served as it
    /// is, its gzip and frame built on first use. A later state change
    /// replaces it.
    pub fn publish_state(&mut self, json: Vec<u8>) {
        let body = SharedBody::new(json);
        self.feed.body = body;
        self.feed.frames = [None, None];
        self.feed.served = None;
        // It stands for the state as it is now: only a change after it replaces it.
        self.feed.generation += 1;
        self.feed.requested = Some(self.polling.core.state().revision());
        self.broadcast_state();
        self.release_state_waiters(None);
    }

    /// The snapshot as a WebSocket frame (`rawData` or `initialState`), built once per
    /// snapshot and shared by every client: a thousand clients hold pointers, not copies.
    pub(crate) fn state_frame(&mut self, msg_type: &'static str) -> Frame {
        let slot = usize::from(msg_type != "rawData");
        if let Some(f) = &self.feed.frames[slot] {
            return f.clone();
        }
        let f = hub::frame_raw(FrameKind::State, msg_type, &self.feed.body.raw);
        self.feed.frames[slot] = Some(f.clone());
        f
    }

    pub(crate) fn broadcast_state(&mut self) {
        let frame = self.state_frame("rawData");
        self.hub
            .broadcast(&self.registry, &frame, std::time::Instant::now());
    }
}
