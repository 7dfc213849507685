//! Notifications on the loop: the alerts engine's outbox goes to the notifier thread (bounded,
//! never waited for), configuration changes are saved through the writer and handed to the
//! thread as a snapshot, and every delivery outcome comes back here into the history.

use crate::core::app::App;
use crate::core::event_loop::Msg;
use crate::core::writer::{Refused, Ticket, Write};
use crate::notify::delivery::Cmd;
use crate::notify::history::{self, Entry};
use std::sync::Arc;
use std::time::Duration;

impl App {
    /// Loads the notification files and starts the notifier thread (once, at start-up).
    pub fn start_notifier(&mut self) {
        let mut warnings = Vec::new();
        let cipher = self.config.store().ok().map(|s| s.cipher());
        let vars = &self.cfg.vars;
        self.notify = crate::notify::Service::open(
            &self.cfg.data_dir,
            cipher,
            &|k| vars.get(k).map(str::to_string),
            &mut warnings,
        );
        for w in warnings {
            crate::log_warn!("notifications", note = w);
        }
        let handle = self.handle.clone();
        let report = Arc::new(move |e: Entry| {
            // An outcome must not be lost: `post` waits for room in the loop's inbox (this is
            // the notifier's thread, never the loop).
            handle.post(Msg::Apply(Box::new(move |app: &mut App| {
                app.record_notification(e)
            })));
        });
        match crate::notify::start_thread(
            self.notify.tuning.clone(),
            self.notify.smtp_ca.clone(),
            report,
        ) {
            Ok(tx) => {
                self.notify.attach(tx);
                self.push_channels();
            }
            Err(e) => crate::log_error!("notifier thread not started", error = e.to_string()),
        }
    }

    /// Takes up `email.enc`, `webhooks.enc`, `apprise.enc` as a configuration import wrote
    /// them (small reads, as at start-up).
    pub fn reload_notifications(&mut self) {
        let mut warnings = Vec::new();
        let cipher = self.config.store().ok().map(|s| s.cipher());
        let vars = &self.cfg.vars;
        let fresh = crate::notify::Service::open(
            &self.cfg.data_dir,
            cipher,
            &|k| vars.get(k).map(str::to_string),
            &mut warnings,
        );
        for w in warnings {
            crate::log_warn!("notifications", note = w);
        }
        self.notify.email = fresh.email;
        self.notify.webhooks = fresh.webhooks;
        self.notify.apprise = fresh.apprise;
        self.push_channels();
    }

    /// The CIDRs webhook targets may reach although private to this host.
    pub fn webhook_allowed(&self) -> crate::auth::client_ip::CidrList {
        self.notify
            .allowed(&self.config.system.webhook_allowed_cidrs)
    }

    /// Hands the current configuration to the notifier thread.
    pub fn push_channels(&mut self) {
        self.notify.pushed_setting = self.config.system.webhook_allowed_cidrs.clone();
        let ch = self.notify.channels(self.webhook_allowed());
        if !self.notify.send(Cmd::Channels(Arc::new(ch))) {
            crate::log_warn!("notifier queue full: configuration change not passed on");
        }
    }

    /// The alerts engine's notification outbox → the notifier thread.
    pub fn forward_notifications(&mut self) {
        if self.alerts.outbox_len() == 0 {
            return;
        }
        if self.notify.pushed_setting != self.config.system.webhook_allowed_cidrs {
            self.push_channels();
        }
        let events = self.alerts.take_outbox();
        let g = &self.alerts.config().schedule;
        let secs = if g.grouping.window > 0 {
            g.grouping.window
        } else {
            g.grouping_window
        };
        let n = events.len();
        if !self
            .notify
            .send(Cmd::Events(events, Duration::from_secs(u64::from(secs))))
        {
            crate::log_warn!("notifier queue full: notifications dropped", events = n);
        }
    }

    /// A delivery outcome: into the history, saved in the background.
    pub fn record_notification(&mut self, e: Entry) {
        self.notify.history.push(e);
        let bytes = self.notify.history.encode();
        let path = history::History::path(&self.cfg.data_dir);
        if let Err(e) = self
            .writer()
            .submit(vec![Write::replace(path, bytes, 0o600)], None)
        {
            crate::log_warn!("notification history not saved", error = e.to_string());
        }
    }

    /// Saves one notification file (sealed with the data-dir key); the ticket tells when it
    /// is on disk.
    pub fn save_notify_file(
        &mut self,
        name: &str,
        value: &impl serde::Serialize,
    ) -> Result<Ticket, String> {
        let store = self.config.store().map_err(|e| e.to_string())?;
        let sealed = crate::notify::Service::sealed(store.cipher(), value)?;
        let write = store.replace_write(name, sealed);
        let ticket = Ticket::new();
        self.writer()
            .submit(vec![write], Some(ticket.done()))
            .map_err(|e: Refused| e.to_string())?;
        Ok(ticket)
    }
}
