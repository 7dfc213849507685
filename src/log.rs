//! Structured logging to stderr in logfmt (`ts=… level=… msg="…" key=value`).
//!
//! The level is process-global (set once at start-up from `LOG_LEVEL`); everything else about a
//! log line is local to the caller. Values are quoted when needed, so a line is always one line.
//! Never pass secrets: there is no redaction here because there must be nothing to redact.

use std::fmt::{Display, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

impl Level {
    pub const ACCEPTED: &'static str = "debug, info, warn, error";

    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "debug" | "trace" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" | "warning" => Some(Level::Warn),
            "error" => Some(Level::Error),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed)
}

/// Formats one logfmt line (without the trailing newline).
pub fn format_line(level: Level, msg: &str, fields: &[(&str, &dyn Display)]) -> String {
    let mut line = String::with_capacity(96);
    let now = crate::util::time::UtcTime::now();
    let ms = crate::util::time::UtcTime {
        secs: now.secs,
        nanos: now.nanos / 1_000_000 * 1_000_000,
    };
    let _ = write!(line, "ts={} level={} msg=", ms.to_rfc3339(), level.name());
    push_value(&mut line, msg);
    for (k, v) in fields {
        let _ = write!(line, " {k}=");
        push_value(&mut line, &v.to_string());
    }
    line
}

fn push_value(out: &mut String, v: &str) {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '=' && c != '\\');
    if plain {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub fn emit(level: Level, msg: &str, fields: &[(&str, &dyn Display)]) {
    if !enabled(level) {
        return;
    }
    let mut line = format_line(level, msg, fields);
    line.push('\n');
    // One write per line so concurrent threads do not interleave within a line.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `log_info!("message", key = value, ...)`; values are anything `Display`.
#[macro_export]
macro_rules! log_at {
    ($lvl:expr, $msg:expr $(, $k:ident = $v:expr)* $(,)?) => {
        if $crate::log::enabled($lvl) {
            $crate::log::emit($lvl, $msg, &[$((stringify!($k), &$v as &dyn ::std::fmt::Display)),*])
        }
    };
}
#[macro_export]
macro_rules! log_debug { ($($t:tt)*) => { $crate::log_at!($crate::log::Level::Debug, $($t)*) }; }
#[macro_export]
macro_rules! log_info { ($($t:tt)*) => { $crate::log_at!($crate::log::Level::Info, $($t)*) }; }
#[macro_export]
macro_rules! log_warn { ($($t:tt)*) => { $crate::log_at!($crate::log::Level::Warn, $($t)*) }; }
#[macro_export]
macro_rules! log_error { ($($t:tt)*) => { $crate::log_at!($crate::log::Level::Error, $($t)*) }; }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_values_that_need_it() {
        let line = format_line(
            Level::Warn,
            "poll failed",
            &[("node", &"pve 1"), ("code", &503), ("e", &"a\"b\nc")],
        );
        assert!(
            line.contains(
                "level=warn msg=\"poll failed\" node=\"pve 1\" code=503 e=\"a\\\"b\\nc\""
            ),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn parses_levels() {
        assert_eq!(Level::parse("WARN"), Some(Level::Warn));
        assert_eq!(Level::parse("verbose"), None);
    }
}
