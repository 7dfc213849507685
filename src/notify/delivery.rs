//! The notifier thread: takes alert events from the loop (bounded channel), groups fired alerts
//! for the configured window, turns each batch into one delivery per channel, and runs them.
//!
//! - Each attempt runs on a short-lived `notify-send` thread (at most [`Tuning::max_in_flight`]
//!   at once, one per destination at a time), so a destination that hangs for its whole
//!   timeout holds only its own queue: the others keep going.
//! - Failures that may pass (no answer, timeout, 429, 5xx, transient SMTP) are retried with
//!   exponential backoff (1 s doubling, ≤ 30 s); a 429's `Retry-After` is honoured.
//! - A destination gets at most [`Tuning::rate_per_min`] deliveries a minute; more are dropped
//!   and recorded.
//! - Every outcome goes to the history (through `report`, which posts it to the loop).

use super::config::{AppriseConfig, Channels, EmailConfig};
use super::email::{self, Mail};
use super::history::Entry;
use super::payloads::{self, HttpJob, Kind};
use super::webhook::{self, Attempt};
use crate::alerts::alert::Alert;
use crate::alerts::engine::{Event, EventKind};
use crate::util::time::UtcTime;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bounds and timings (`PULSE_NOTIFY_*` in tests).
#[derive(Debug, Clone)]
pub struct Tuning {
    pub timeout: Duration,
    pub backoff: Duration,
    pub max_backoff: Duration,
    pub retries: u32,
    pub rate_per_min: usize,
    pub max_in_flight: usize,
    /// `Retry-After` is honoured up to this.
    pub max_retry_after: Duration,
}

impl Tuning {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Tuning {
        let ms = |k: &str, d: u64| {
            Duration::from_millis(get(k).and_then(|v| v.parse().ok()).unwrap_or(d))
        };
        let n = |k: &str, d: usize| get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        Tuning {
            timeout: ms("PULSE_NOTIFY_TIMEOUT_MS", 30_000),
            backoff: ms("PULSE_NOTIFY_BACKOFF_MS", 1_000),
            max_backoff: Duration::from_secs(30),
            retries: n("PULSE_NOTIFY_RETRIES", 3) as u32,
            rate_per_min: n("PULSE_NOTIFY_RATE_PER_MIN", 10),
            max_in_flight: 8,
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// What the loop (and the send threads) tell the notifier.
pub enum Cmd {
    Channels(Arc<Channels>),
    /// Alert events and the grouping window in force.
    Events(Vec<Event>, Duration),
    Done(u64, Attempt),
    Shutdown,
}

/// One unit of work for a destination.
#[derive(Debug, Clone)]
pub enum Job {
    Http(HttpJob),
    Email(EmailConfig, Mail),
    Apprise(AppriseConfig, Vec<Alert>, Kind),
}

/// Performs one attempt, blocking (send threads; the net pool for tests).
pub fn perform(job: &Job, ch: &Channels, t: &Tuning, smtp_ca: Option<&[u8]>) -> Attempt {
    match job {
        Job::Http(h) => webhook::send(h, &ch.allowed, t.timeout),
        Job::Email(cfg, mail) => match email::send(cfg, mail, t.timeout, smtp_ca) {
            Ok(()) => Attempt {
                status: 250,
                ..Attempt::default()
            },
            Err(e) => Attempt::failed(e.message, e.retryable),
        },
        Job::Apprise(cfg, alerts, kind) => {
            super::apprise::send(cfg, alerts, *kind, &ch.public_url, &ch.allowed)
        }
    }
}

/// A delivery as the notifier tracks it.
struct Delivery {
    id: u64,
    dest: String,
    entry: Entry,
    job: Job,
    channels: Arc<Channels>,
    attempt: u32,
    due: Instant,
}

pub type Report = Arc<dyn Fn(Entry) + Send + Sync>;

pub struct Notifier {
    tx: SyncSender<Cmd>,
    rx: Receiver<Cmd>,
    tuning: Tuning,
    smtp_ca: Option<Arc<Vec<u8>>>,
    report: Report,
    channels: Arc<Channels>,
    fired: Vec<(Alert, Option<String>)>,
    resolved: Vec<(Alert, Option<String>)>,
    flush_at: Option<Instant>,
    queue: VecDeque<Delivery>,
    running: HashMap<u64, Delivery>,
    busy: HashSet<String>,
    sent: HashMap<String, VecDeque<Instant>>,
    next_id: u64,
}

impl Notifier {
    pub fn new(
        tx: SyncSender<Cmd>,
        rx: Receiver<Cmd>,
        tuning: Tuning,
        smtp_ca: Option<Vec<u8>>,
        report: Report,
    ) -> Notifier {
        Notifier {
            tx,
            rx,
            tuning,
            smtp_ca: smtp_ca.map(Arc::new),
            report,
            channels: Arc::new(Channels::default()),
            fired: Vec::new(),
            resolved: Vec::new(),
            flush_at: None,
            queue: VecDeque::new(),
            running: HashMap::new(),
            busy: HashSet::new(),
            sent: HashMap::new(),
            next_id: 0,
        }
    }

    pub fn run(mut self) {
        loop {
            let now = Instant::now();
            if self.flush_at.is_some_and(|at| at <= now) {
                self.flush(now);
            }
            self.start_due(now);
            let wait = self
                .next_wake()
                .map(|at| at.saturating_duration_since(Instant::now()));
            let cmd = match wait {
                Some(w) => match self.rx.recv_timeout(w) {
                    Ok(c) => c,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                },
                None => match self.rx.recv() {
                    Ok(c) => c,
                    Err(_) => return,
                },
            };
            match cmd {
                Cmd::Channels(c) => self.channels = c,
                Cmd::Events(events, window) => self.take(events, window),
                Cmd::Done(id, attempt) => self.finished(id, attempt),
                Cmd::Shutdown => return,
            }
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        let due = self
            .queue
            .iter()
            .filter(|d| !self.busy.contains(&d.dest))
            .map(|d| d.due)
            .min();
        match (due, self.flush_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fired alerts wait for the grouping window; a resolution of an alert whose firing is
    /// still waiting cancels both (nobody heard of it).
    fn take(&mut self, events: Vec<Event>, window: Duration) {
        for e in events {
            match e.kind {
                EventKind::Resolved => {
                    let before = self.fired.len();
                    self.fired.retain(|(a, _)| a.id != e.alert.id);
                    if self.fired.len() == before {
                        self.resolved.push((e.alert, e.notify));
                    }
                }
                _ => {
                    self.fired.retain(|(a, _)| a.id != e.alert.id);
                    self.fired.push((e.alert, e.notify));
                }
            }
        }
        if self.flush_at.is_none() && !(self.fired.is_empty() && self.resolved.is_empty()) {
            self.flush_at = Some(Instant::now() + window);
        }
    }

    fn flush(&mut self, now: Instant) {
        self.flush_at = None;
        let fired = std::mem::take(&mut self.fired);
        let resolved = std::mem::take(&mut self.resolved);
        for (batch, kind) in [(fired, Kind::Alert), (resolved, Kind::Resolved)] {
            // Escalations name their channel; group by that restriction.
            let mut groups: Vec<(Option<String>, Vec<Alert>)> = Vec::new();
            for (a, only) in batch {
                match groups.iter_mut().find(|(o, _)| *o == only) {
                    Some((_, v)) => v.push(a),
                    None => groups.push((only, vec![a])),
                }
            }
            for (only, alerts) in groups {
                for d in plan(&self.channels, &alerts, kind, only.as_deref()) {
                    self.enqueue(d, now);
                }
            }
        }
    }

    fn enqueue(&mut self, planned: Planned, now: Instant) {
        let Planned { dest, entry, job } = planned;
        let job = match job {
            Ok(j) => j,
            Err(e) => {
                (self.report)(Entry {
                    error_message: Some(e),
                    ..entry
                });
                return;
            }
        };
        let window = self.sent.entry(dest.clone()).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60))
        {
            window.pop_front();
        }
        if window.len() >= self.tuning.rate_per_min {
            (self.report)(Entry {
                error_message: Some(format!(
                    "rate limited: more than {} deliveries a minute to this destination",
                    self.tuning.rate_per_min
                )),
                ..entry
            });
            return;
        }
        window.push_back(now);
        self.next_id += 1;
        self.queue.push_back(Delivery {
            id: self.next_id,
            dest,
            entry,
            job,
            channels: self.channels.clone(),
            attempt: 0,
            due: now,
        });
    }

    fn start_due(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.queue.len() && self.running.len() < self.tuning.max_in_flight {
            let d = &self.queue[i];
            if d.due > now || self.busy.contains(&d.dest) {
                i += 1;
                continue;
            }
            let Some(d) = self.queue.remove(i) else { break };
            let (job, ch, tuning, tx, id) = (
                d.job.clone(),
                d.channels.clone(),
                self.tuning.clone(),
                self.tx.clone(),
                d.id,
            );
            let ca = self.smtp_ca.clone();
            let spawned = std::thread::Builder::new()
                .name("notify-send".into())
                .stack_size(512 * 1024)
                .spawn(move || {
                    let a = perform(&job, &ch, &tuning, ca.as_deref().map(|v| v.as_slice()));
                    let _ = tx.send(Cmd::Done(id, a));
                });
            self.busy.insert(d.dest.clone());
            self.running.insert(id, d);
            if spawned.is_err() {
                self.finished(
                    id,
                    Attempt::failed("no thread for the delivery".into(), true),
                );
            }
        }
    }

    fn finished(&mut self, id: u64, a: Attempt) {
        let Some(mut d) = self.running.remove(&id) else {
            return;
        };
        self.busy.remove(&d.dest);
        if !a.ok() && a.retryable && d.attempt < self.tuning.retries {
            let backoff = self
                .tuning
                .backoff
                .saturating_mul(1 << d.attempt.min(16))
                .min(self.tuning.max_backoff);
            // The server's own word (429/503 `Retry-After`) beats our guess.
            let wait = a
                .retry_after
                .map(|r| r.min(self.tuning.max_retry_after))
                .unwrap_or(backoff);
            d.attempt += 1;
            d.due = Instant::now() + wait;
            crate::log_info!(
                "notification retry",
                channel = d.entry.channel,
                name = d.entry.name,
                attempt = d.attempt,
                wait_ms = wait.as_millis(),
                error = a.error.clone().unwrap_or_default()
            );
            self.queue.push_back(d);
            return;
        }
        let entry = Entry {
            status_code: a.status,
            success: a.ok(),
            error_message: a.error.clone(),
            retry_attempts: d.attempt,
            timestamp: UtcTime::now().to_rfc3339(),
            ..d.entry
        };
        if a.ok() {
            crate::log_info!(
                "notification sent",
                channel = entry.channel,
                name = entry.name,
                kind = entry.kind
            );
        } else {
            crate::log_warn!(
                "notification failed",
                channel = entry.channel,
                name = entry.name,
                kind = entry.kind,
                error = entry.error_message.clone().unwrap_or_default()
            );
        }
        (self.report)(entry);
    }
}

/// A delivery before it is queued: the job, or why it could not be built.
pub struct Planned {
    pub dest: String,
    pub entry: Entry,
    pub job: Result<Job, String>,
}

fn base_entry(
    channel: &str,
    name: &str,
    target: String,
    service: &str,
    kind: Kind,
    alerts: &[Alert],
    size: usize,
) -> Entry {
    Entry {
        channel: channel.into(),
        name: name.into(),
        target,
        service: service.into(),
        kind: kind.as_str().into(),
        alert_ids: alerts.iter().map(|a| a.id.clone()).collect(),
        timestamp: UtcTime::now().to_rfc3339(),
        status_code: 0,
        success: false,
        error_message: None,
        retry_attempts: 0,
        payload_size: size,
    }
}

/// One delivery per enabled channel for a batch (`only`: an escalation's `email`/`webhook`).
pub fn plan(ch: &Channels, alerts: &[Alert], kind: Kind, only: Option<&str>) -> Vec<Planned> {
    let mut out = Vec::new();
    if alerts.is_empty() {
        return out;
    }
    let wants = |c: &str| matches!(only, None | Some("all")) || only == Some(c);
    let now = UtcTime::now();
    if wants("webhook") {
        for w in ch.webhooks.iter().filter(|w| w.enabled) {
            let job = payloads::build(w, alerts, kind, &ch.public_url, now);
            let size = job.as_ref().map(|j| j.body.len()).unwrap_or(0);
            out.push(Planned {
                dest: format!("webhook:{}", w.id),
                entry: base_entry(
                    "webhook",
                    &w.name,
                    super::config::mask_url(&w.url),
                    &w.service,
                    kind,
                    alerts,
                    size,
                ),
                job: job.map(Job::Http),
            });
        }
    }
    if wants("email") && ch.email.enabled {
        let mail = email::compose(alerts, kind, &ch.public_url);
        out.push(Planned {
            dest: "email".into(),
            entry: base_entry(
                "email",
                &ch.email.recipients().join(", "),
                format!("{}:{}", ch.email.server, ch.email.port),
                "smtp",
                kind,
                alerts,
                mail.text.len() + mail.html.len(),
            ),
            job: Ok(Job::Email(ch.email.clone(), mail)),
        });
    }
    if matches!(only, None | Some("all")) && ch.apprise.enabled {
        out.push(Planned {
            dest: "apprise".into(),
            entry: base_entry(
                "apprise",
                "apprise",
                ch.apprise.mode.clone(),
                &ch.apprise.mode,
                kind,
                alerts,
                0,
            ),
            job: Ok(Job::Apprise(ch.apprise.clone(), alerts.to_vec(), kind)),
        });
    }
    out
}
