//! One HTTP attempt (webhooks, Apprise API mode), blocking: runs off the loop only (on the
//! notifier's send threads, or the net pool for `/webhooks/test`). The target is checked
//! against the SSRF rules right before the request, redirects are not followed (a redirect
//! could lead anywhere; 3xx is a failure), the answer is read up to 64 KiB, and error texts
//! never carry the URL (tokens live there).

use super::payloads::HttpJob;
use crate::auth::client_ip::CidrList;
use std::time::Duration;

/// What one attempt gave.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    /// HTTP status, 0 when no answer came.
    pub status: u16,
    /// The answer's first bytes (for the test endpoint).
    pub body: String,
    pub error: Option<String>,
    /// From a 429/503 answer's `Retry-After` (seconds).
    pub retry_after: Option<Duration>,
    /// Worth another try: no answer, a timeout, 429 or 5xx.
    pub retryable: bool,
}

impl Attempt {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    pub fn failed(error: String, retryable: bool) -> Attempt {
        Attempt {
            error: Some(error),
            retryable,
            ..Attempt::default()
        }
    }
}

const MAX_ANSWER: u64 = 64 * 1024;

pub fn send(job: &HttpJob, allowed: &CidrList, timeout: Duration) -> Attempt {
    if let Err(e) = super::ssrf::check_resolved(&job.url, allowed) {
        // A name that does not resolve may resolve later; a forbidden target never passes.
        let retryable = e.starts_with("cannot resolve");
        return Attempt::failed(e, retryable);
    }
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
        .max_redirects(0)
        .build();
    let agent: ureq::Agent = config.into();
    let method = job.method.as_str();
    let result = match method {
        "GET" | "DELETE" | "HEAD" => {
            let mut req = match method {
                "GET" => agent.get(&job.url),
                "HEAD" => agent.head(&job.url),
                _ => agent.delete(&job.url),
            };
            for (k, v) in &job.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            req.call()
        }
        "POST" | "PUT" | "PATCH" => {
            let mut req = match method {
                "POST" => agent.post(&job.url),
                "PUT" => agent.put(&job.url),
                _ => agent.patch(&job.url),
            };
            for (k, v) in &job.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            req.send(&job.body[..])
        }
        other => return Attempt::failed(format!("unsupported method {other}"), false),
    };
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => return Attempt::failed(describe(&e), true),
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_vec()
        .map(|b| String::from_utf8_lossy(&b[..b.len().min(1024)]).into_owned())
        .unwrap_or_default();
    let error = (!(200..300).contains(&status)).then(|| format!("HTTP {status}"));
    Attempt {
        status,
        body,
        retryable: status == 429 || status >= 500,
        retry_after,
        error,
    }
}

/// `Retry-After: <seconds>` or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = httpdate_secs(v)?;
    let now = crate::util::time::unix_now();
    Some(Duration::from_secs((at - now).max(0) as u64))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`.
fn httpdate_secs(v: &str) -> Option<i64> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 {
        return None;
    }
    let day: u32 = parts[1].parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == parts[2])? as u32 + 1;
    let year: i64 = parts[3].parse().ok()?;
    let hms: Vec<i64> = parts[4].split(':').filter_map(|x| x.parse().ok()).collect();
    if hms.len() != 3 {
        return None;
    }
    let days = pulse_wire::time::days_from_civil(year, month, day);
    Some(days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

/// An error text without the URL.
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Io(io) => format!("connection error: {}", io.kind()),
        ureq::Error::Rustls(r) => format!("TLS error: {r}"),
        ureq::Error::Tls(m) => format!("TLS error: {m}"),
        ureq::Error::Protocol(_) => "invalid HTTP response".into(),
        ureq::Error::BadUri(_) => "invalid URL".into(),
        _ => "request failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            httpdate_secs("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
