//! The three Proxmox products and the protocol facts that differ between them.

use std::time::Duration;

/// Which Proxmox product an instance is: decides default port, auth header and cookie names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Product {
    Pve,
    Pbs,
    Pmg,
}

impl Product {
    pub fn default_port(self) -> u16 {
        match self {
            Product::Pve | Product::Pmg => 8006,
            Product::Pbs => 8007,
        }
    }

    /// Name of the ticket cookie.
    pub fn cookie_name(self) -> &'static str {
        match self {
            Product::Pve => "PVEAuthCookie",
            Product::Pbs => "PBSAuthCookie",
            Product::Pmg => "PMGAuthCookie",
        }
    }

    /// How long a login ticket is valid (PVE/PBS 2 h, PMG 90 min, per Proxmox docs).
    pub fn ticket_lifetime(self) -> Duration {
        match self {
            Product::Pve | Product::Pbs => Duration::from_secs(2 * 3600),
            Product::Pmg => Duration::from_secs(90 * 60),
        }
    }

    /// Realm added to user names without one.
    pub fn default_realm(self) -> &'static str {
        match self {
            Product::Pve => "pam",
            Product::Pbs => "pbs",
            Product::Pmg => "pmg",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Product::Pve => "pve",
            Product::Pbs => "pbs",
            Product::Pmg => "pmg",
        }
    }
}
