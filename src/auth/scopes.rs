//! The scopes an API token can carry (Pulse's names), as the route table and the token
//! store know them.

use std::fmt;

/// A permission a token can carry. Sessions are never scope-limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `*`: every scope (the default for omitted scopes and legacy tokens).
    All,
    MonitoringRead,
    MonitoringWrite,
    DockerReport,
    DockerManage,
    HostAgentReport,
    HostAgentManage,
    SettingsRead,
    SettingsWrite,
}

impl Scope {
    /// The canonical list, as `docs/CONFIGURATION.md` and the token-creation validator know it.
    pub const KNOWN: [Scope; 9] = [
        Scope::All,
        Scope::MonitoringRead,
        Scope::MonitoringWrite,
        Scope::DockerReport,
        Scope::DockerManage,
        Scope::HostAgentReport,
        Scope::HostAgentManage,
        Scope::SettingsRead,
        Scope::SettingsWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "*",
            Scope::MonitoringRead => "monitoring:read",
            Scope::MonitoringWrite => "monitoring:write",
            Scope::DockerReport => "docker:report",
            Scope::DockerManage => "docker:manage",
            Scope::HostAgentReport => "host-agent:report",
            Scope::HostAgentManage => "host-agent:manage",
            Scope::SettingsRead => "settings:read",
            Scope::SettingsWrite => "settings:write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::KNOWN.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
