//! What the state model needs to know about monitored instances and their poll failures.
//! Defined here, below both the state and the monitor, so the state model never depends on
//! the monitor (the monitor re-exports these under its own paths).

/// Variants in alphabetical order so that `TaskKey`'s derived order is its string order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceKind {
    Pbs,
    Pmg,
    Pve,
}

impl InstanceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceKind::Pve => "pve",
            InstanceKind::Pbs => "pbs",
            InstanceKind::Pmg => "pmg",
        }
    }
}

/// Whether retrying can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Network, timeout, 5xx, rate limiting: retry with backoff.
    Transient,
    /// Authentication, permissions, invalid configuration: park until something changes.
    Permanent,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
        }
    }
}

/// Why a poll failed, as the poll executor classified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollError {
    pub class: ErrorClass,
    pub message: String,
}

impl PollError {
    pub fn transient(message: impl Into<String>) -> PollError {
        PollError {
            class: ErrorClass::Transient,
            message: message.into(),
        }
    }
    pub fn permanent(message: impl Into<String>) -> PollError {
        PollError {
            class: ErrorClass::Permanent,
            message: message.into(),
        }
    }
}
