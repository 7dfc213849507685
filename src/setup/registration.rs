//! Auto-registration's "add or re-key" step: a node that runs the setup script registers itself
//! with a fresh token (or, for PMG, a user and password); if the same host is already configured
//! it gets the new credentials, otherwise it is added with Pulse's auto-register defaults.

use crate::config::error::ConfigError;
use crate::config::model::host::normalize_host;
use crate::config::model::node_edit::{valid_name, Node, NodeRequest};
use crate::config::model::nodes::{NodeType, NodesConfig};
use crate::util::secret::Secret;

/// Credentials a node sends when it registers itself (setup script / `POST /api/auto-register`).
#[derive(Debug, Clone)]
pub enum RegistrationAuth {
    /// Full Proxmox token id (`user@realm!name`) and its secret.
    Token {
        token_id: String,
        token_value: Secret,
    },
    /// User and password (PMG, which has no API tokens).
    Password { user: String, password: Secret },
}

#[derive(Debug, Clone)]
pub struct Registration {
    pub node_type: NodeType,
    pub host: String,
    pub server_name: String,
    pub auth: RegistrationAuth,
}

impl NodesConfig {
    /// Auto-registration: a node already configured with the same (normalised) host gets the new
    /// credentials; otherwise a node is added with Pulse's auto-register defaults. Returns the id
    /// and whether it was newly added.
    pub fn register(&mut self, reg: &Registration) -> Result<(String, bool), ConfigError> {
        let host = normalize_host(reg.node_type, &reg.host)?;
        let (user, password, token_name, token_value) = match &reg.auth {
            RegistrationAuth::Token {
                token_id,
                token_value,
            } => {
                let user = token_id.split_once('!').map(|(u, _)| u).unwrap_or("");
                if user.is_empty() || token_value.is_empty() {
                    return Err(ConfigError::Invalid(
                        "tokenId must look like user@realm!name and tokenValue must not be empty"
                            .to_string(),
                    ));
                }
                (
                    user.to_string(),
                    None,
                    Some(token_id.clone()),
                    Some(token_value.clone()),
                )
            }
            RegistrationAuth::Password { user, password } => {
                (user.clone(), Some(password.clone()), None, None)
            }
        };
        let req = NodeRequest {
            node_type: Some(reg.node_type.as_str().to_string()),
            host: Some(host.clone()),
            user: Some(user),
            password,
            token_name,
            token_value,
            ..NodeRequest::default()
        };
        let existing = self
            .summaries()
            .iter()
            .find(|s| s.node_type == reg.node_type && s.host.eq_ignore_ascii_case(&host))
            .map(|s| s.id.to_string());
        if let Some(id) = existing {
            self.update_node(&id, &req)?;
            return Ok((id, false));
        }
        let base = registration_name(&reg.server_name, &host);
        let mut name = base.clone();
        let mut n = 2;
        while self.name_taken(reg.node_type, &name, None) {
            name = format!("{base}-{n}");
            n += 1;
        }
        let mut node = Node::from_request(&NodeRequest {
            name: Some(name),
            ..req
        })?;
        if let Node::Pbs(p) = &mut node {
            p.monitor_datastores = true;
            p.monitor_sync_jobs = true;
            p.monitor_verify_jobs = true;
            p.monitor_prune_jobs = true;
        }
        if let Node::Pmg(p) = &mut node {
            p.monitor_queues = true;
            p.monitor_quarantine = true;
            p.monitor_domain_stats = true;
        }
        Ok((self.insert(node)?, true))
    }
}

/// The name of an auto-registered node: the server's own name if usable, else its host.
fn registration_name(server_name: &str, host: &str) -> String {
    let name = server_name.trim();
    if !name.is_empty() && valid_name(name).is_ok() {
        return name.to_string();
    }
    host.split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(host)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_adds_then_rekeys_same_host() {
        let mut cfg = NodesConfig::default();
        let reg = |value: &str| Registration {
            node_type: NodeType::Pve,
            host: "https://10.0.0.5:8006".to_string(),
            server_name: "pve5.lan".to_string(),
            auth: RegistrationAuth::Token {
                token_id: "pulse-monitor@pam!pulse-1".to_string(),
                token_value: Secret::new(value),
            },
        };
        assert_eq!(
            cfg.register(&reg("one")).unwrap(),
            ("pve-0".to_string(), true)
        );
        assert_eq!(cfg.pve[0].user, "pulse-monitor@pam");
        assert_eq!(
            cfg.register(&reg("two")).unwrap(),
            ("pve-0".to_string(), false)
        );
        assert_eq!((cfg.pve.len(), cfg.pve[0].token_value.expose()), (1, "two"));
        let bad = Registration {
            auth: RegistrationAuth::Token {
                token_id: "no-bang".into(),
                token_value: Secret::new("x"),
            },
            ..reg("x")
        };
        assert!(cfg.register(&bad).is_err());
    }
}
