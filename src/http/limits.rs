//! The HTTP server's limits: sizes that are fixed by the protocol contract, and the timeouts
//! and connection caps that an operator (or a test) may change through the environment.

use crate::env::{EnvError, EnvVars};
use std::time::Duration;

/// A request line longer than this is answered 414.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Request line + headers larger than this is answered 431.
pub const MAX_HEAD: usize = 16 * 1024;
/// More header lines than this is answered 431.
pub const MAX_HEADERS: usize = 100;
/// A declared or decoded body larger than this is answered 413.
pub const MAX_BODY: usize = 1024 * 1024;
/// A chunk-size line (size + extensions) longer than this is malformed (400).
pub const MAX_CHUNK_LINE: usize = 1024;
/// Chunked trailers larger than this (in total) are malformed (400).
pub const MAX_TRAILERS: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `PULSE_HTTP_MAX_CONNECTIONS`: open HTTP connections in total (WebSocket clients are
    /// counted by the hub).
    pub max_connections: usize,
    /// `PULSE_HTTP_MAX_CONNECTIONS_PER_IP`: open HTTP connections per peer address
    /// (trusted proxies are exempt).
    pub max_connections_per_ip: usize,
    /// `PULSE_HTTP_HEAD_TIMEOUT_MS`: the head must be complete this long after its first
    /// byte (or after the connection opened).
    pub head_timeout: Duration,
    /// `PULSE_HTTP_BODY_TIMEOUT_MS`: a body must make progress at least this often.
    pub body_timeout: Duration,
    /// `PULSE_HTTP_IDLE_TIMEOUT_MS`: an idle keep-alive connection is closed after this.
    pub idle_timeout: Duration,
    /// `PULSE_HTTP_WRITE_TIMEOUT_MS`: a response that makes no progress this long is dropped.
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_connections_per_ip: 128,
            head_timeout: Duration::from_millis(10_000),
            body_timeout: Duration::from_millis(10_000),
            idle_timeout: Duration::from_millis(30_000),
            write_timeout: Duration::from_millis(15_000),
        }
    }
}

impl Limits {
    /// Defaults, overridden by the `PULSE_HTTP_*` variables that are set.
    pub fn from_vars(vars: &EnvVars) -> Result<Limits, EnvError> {
        let d = Limits::default();
        let count = |key: &str, default: usize| -> Result<usize, EnvError> {
            let n = vars.whole(key, 1..=usize::MAX as u64, "a whole number above 0")?;
            Ok(n.map_or(default, |n| n as usize))
        };
        let millis = |key: &str, default: Duration| -> Result<Duration, EnvError> {
            let n = vars.whole(key, 1..=u64::MAX, "milliseconds above 0")?;
            Ok(n.map_or(default, Duration::from_millis))
        };
        Ok(Limits {
            max_connections: count("PULSE_HTTP_MAX_CONNECTIONS", d.max_connections)?,
            max_connections_per_ip: count(
                "PULSE_HTTP_MAX_CONNECTIONS_PER_IP",
                d.max_connections_per_ip,
            )?,
            head_timeout: millis("PULSE_HTTP_HEAD_TIMEOUT_MS", d.head_timeout)?,
            body_timeout: millis("PULSE_HTTP_BODY_TIMEOUT_MS", d.body_timeout)?,
            idle_timeout: millis("PULSE_HTTP_IDLE_TIMEOUT_MS", d.idle_timeout)?,
            write_timeout: millis("PULSE_HTTP_WRITE_TIMEOUT_MS", d.write_timeout)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> EnvVars {
        EnvVars::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(Limits::from_vars(&vars(&[])).unwrap(), Limits::default());
        let l = Limits::from_vars(&vars(&[
            ("PULSE_HTTP_MAX_CONNECTIONS", "10"),
            ("PULSE_HTTP_MAX_CONNECTIONS_PER_IP", "3"),
            ("PULSE_HTTP_HEAD_TIMEOUT_MS", "250"),
            ("PULSE_HTTP_IDLE_TIMEOUT_MS", "500"),
        ]))
        .unwrap();
        assert_eq!(l.max_connections, 10);
        assert_eq!(l.max_connections_per_ip, 3);
        assert_eq!(l.head_timeout, Duration::from_millis(250));
        assert_eq!(l.idle_timeout, Duration::from_millis(500));
        assert_eq!(l.write_timeout, Duration::from_millis(15_000));
        for bad in ["0", "-1", "ten", "1.5"] {
            let e = Limits::from_vars(&vars(&[("PULSE_HTTP_BODY_TIMEOUT_MS", bad)])).unwrap_err();
            assert!(e.message.contains("PULSE_HTTP_BODY_TIMEOUT_MS"), "{bad}");
        }
    }
}
