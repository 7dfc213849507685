//! Sending a report to each Pulse target (blocking ureq, rustls/ring, 15 s per request).

use crate::cli::Options;
use pulse_wire::agents::ReportAnswer;
use std::time::Duration;

pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Pulse's answers are small; anything bigger is not Pulse.
const MAX_ANSWER: u64 = 1 << 20;

pub struct Sender {
    agent: ureq::Agent,
    urls: Vec<String>,
    token: String,
}

impl Sender {
    pub fn new(opts: &Options) -> Result<Sender, String> {
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(opts.insecure)
            .build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .max_redirects(0)
            .user_agent(concat!("pulse-agent/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build();
        Ok(Sender {
            agent: config.into(),
            urls: opts.urls.clone(),
            token: opts.token.clone().unwrap_or_default(),
        })
    }

    /// POSTs `body` to `base + path`; the decoded answer, or why Pulse refused it.
    pub fn post(&self, base: &str, path: &str, body: &[u8]) -> Result<ReportAnswer, String> {
        let url = format!("{base}{path}");
        let mut resp = self
            .agent
            .post(&url)
            .header("X-API-Token", &self.token)
            .content_type("application/json")
            .send(body)
            .map_err(|e| format!("sending failed: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_string()
            .unwrap_or_default();
        if status != 200 {
            let why = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or(text);
            return Err(format!("Pulse refused the report ({status}): {why}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("unexpected answer: {e}"))
    }

    /// Sends to every target; one result per target.
    pub fn send_all(&self, path: &str, body: &[u8]) -> Vec<(String, Result<ReportAnswer, String>)> {
        self.urls
            .iter()
            .map(|base| (base.clone(), self.post(base, path, body)))
            .collect()
    }
}
