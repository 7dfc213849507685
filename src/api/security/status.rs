//! `GET /api/security/status` (public): what the UI needs to choose between First-Run Setup,
//! the login page and the dashboard, and to show its security warnings. Field names as Pulse
//! (research §4.11). Identity details (`apiTokenHint`, `authUsername`) only go to callers
//! that are already authenticated.

use crate::auth::client_ip;
use crate::auth::guard::Security;
use crate::auth::policy::Principal;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityStatus {
    pub api_token_configured: bool,
    pub api_token_hint: String,
    pub requires_auth: bool,
    pub export_protected: bool,
    pub unprotected_export_allowed: bool,
    pub has_authentication: bool,
    /// Credentials are applied at once here; a restart is never pending.
    pub configured_but_pending_restart: bool,
    pub has_audit_logging: bool,
    pub credentials_encrypted: bool,
    #[serde(rename = "hasHTTPS")]
    pub has_https: bool,
    #[serde(rename = "clientIP")]
    pub client_ip: String,
    pub is_private_network: bool,
    pub is_trusted_network: bool,
    pub public_access: bool,
    pub has_proxy_auth: bool,
    #[serde(rename = "proxyAuthLogoutURL")]
    pub proxy_auth_logout_url: String,
    pub proxy_auth_username: String,
    pub proxy_auth_is_admin: bool,
    pub auth_username: String,
    pub oidc_enabled: bool,
    pub oidc_username: String,
    pub oidc_issuer: String,
    pub oidc_client_id: String,
    #[serde(rename = "oidcLogoutURL")]
    pub oidc_logout_url: String,
    /// While nothing is configured: where the bootstrap token for quick-setup is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap_token_path: Option<String>,
}

impl Security {
    /// The status for a caller identified as `principal` (from `authorize` on the public
    /// route), seen at `client_ip`.
    pub fn status(
        &self,
        principal: &Principal,
        client_ip: IpAddr,
        is_https: bool,
    ) -> SecurityStatus {
        let mode = self.mode();
        let authenticated = principal.is_authenticated();
        let private = client_ip::is_private(client_ip);
        let trusted = if self.trusted_networks.is_empty() {
            private
        } else {
            self.trusted_networks.contains(client_ip)
        };
        let username = match principal {
            Principal::Session {
                username: Some(u), ..
            } => u.clone(),
            Principal::Session { .. } | Principal::Token { .. } => self
                .admin
                .as_ref()
                .map(|a| a.username.clone())
                .unwrap_or_default(),
            _ => String::new(),
        };
        SecurityStatus {
            api_token_configured: mode.tokens,
            api_token_hint: if authenticated {
                self.tokens.primary_hint().unwrap_or_default()
            } else {
                String::new()
            },
            requires_auth: mode.any(),
            export_protected: mode.tokens || !self.allow_unprotected_export,
            unprotected_export_allowed: self.allow_unprotected_export,
            has_authentication: mode.any(),
            configured_but_pending_restart: false,
            has_audit_logging: true,
            credentials_encrypted: true,
            has_https: is_https,
            client_ip: client_ip.to_string(),
            is_private_network: private,
            is_trusted_network: trusted,
            public_access: !private,
            has_proxy_auth: false,
            proxy_auth_logout_url: String::new(),
            proxy_auth_username: String::new(),
            proxy_auth_is_admin: false,
            auth_username: if authenticated {
                username
            } else {
                String::new()
            },
            oidc_enabled: false,
            oidc_username: String::new(),
            oidc_issuer: String::new(),
            oidc_client_id: String::new(),
            oidc_logout_url: String::new(),
            bootstrap_token_path: self
                .bootstrap
                .as_ref()
                .map(|b| b.path().display().to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::guard::{Admin, SecurityConfig};
    use crate::auth::password::PasswordHash;
    use crate::auth::secret;
    use crate::util::time::UtcTime;

    #[test]
    fn fields_for_anonymous_and_authenticated_callers() {
        let dir = std::env::temp_dir().join(format!(
            "pulse-status-{}-{}",
            std::process::id(),
            secret::random_hex(4).unwrap().expose()
        ));
        let now = UtcTime::from_unix(1_700_000_000);
        let (open, _) = Security::open(
            SecurityConfig {
                data_dir: dir.clone(),
                ..Default::default()
            },
            now,
        )
        .unwrap();
        let v = serde_json::to_value(open.status(
            &Principal::Anonymous,
            "8.8.8.8".parse().unwrap(),
            false,
        ))
        .unwrap();
        assert_eq!(v["hasAuthentication"], false);
        assert_eq!(v["publicAccess"], true);
        assert_eq!(v["clientIP"], "8.8.8.8");
        assert!(v["bootstrapTokenPath"]
            .as_str()
            .unwrap()
            .ends_with(".bootstrap_token"));
        drop(open);

        let hash = PasswordHash::parse_hash(&bcrypt::hash("pw", 4).unwrap()).unwrap();
        let admin = Some(Admin {
            username: "admin".into(),
            hash,
        });
        let (mut s, _) = Security::open(
            SecurityConfig {
                data_dir: dir.clone(),
                admin,
                ..Default::default()
            },
            now,
        )
        .unwrap();
        let (raw, view) = s.tokens.create("t", None, now).unwrap();
        let ip = "192.168.1.2".parse().unwrap();
        let v = serde_json::to_value(s.status(&Principal::Anonymous, ip, true)).unwrap();
        assert_eq!(v["hasAuthentication"], true);
        assert_eq!(v["requiresAuth"], true);
        assert_eq!(v["apiTokenConfigured"], true);
        assert_eq!(v["apiTokenHint"], "", "no hint for strangers");
        assert_eq!(v["authUsername"], "");
        assert_eq!(v["hasHTTPS"], true);
        assert_eq!(v["isPrivateNetwork"], true);
        assert!(v.get("bootstrapTokenPath").is_none());
        let me = Principal::Token {
            id: view.id.clone(),
            scopes: view.scopes.clone(),
        };
        let v = serde_json::to_value(s.status(&me, ip, false)).unwrap();
        assert_eq!(
            v["apiTokenHint"],
            format!("{}...{}", view.prefix, view.suffix)
        );
        assert_eq!(v["authUsername"], "admin");
        assert!(!v.to_string().contains(raw.expose()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
