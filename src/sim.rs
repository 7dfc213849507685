//! The Proxmox simulator (the `pulse-sim` crate) as Pulse uses it for demo mode, and the
//! client settings that reach it. Only in builds with the `demo` feature.

pub use pulse_sim::*;

use crate::proxmox::ClientConfig;
use std::time::Duration;

/// Client settings for a running simulator: HTTPS with its pinned fingerprint.
pub trait SimClientConfig {
    /// Authenticates with the full API token.
    fn token_config(&self, product: Product) -> ClientConfig;
    /// Authenticates with user + password (ticket login).
    fn password_config(&self, product: Product) -> ClientConfig;
}

impl SimClientConfig for SimHandle {
    fn token_config(&self, product: Product) -> ClientConfig {
        let mut c = ClientConfig::new(product, self.https_url(product));
        c.token_name = TOKEN_ID.into();
        c.token_value = self.token_secret();
        c.fingerprint = Some(self.fingerprint());
        c.timeout = Duration::from_secs(10);
        c
    }

    fn password_config(&self, product: Product) -> ClientConfig {
        let mut c = ClientConfig::new(product, self.https_url(product));
        c.user = self.user();
        c.password = self.password();
        c.fingerprint = Some(self.fingerprint());
        c.timeout = Duration::from_secs(10);
        c
    }
}
