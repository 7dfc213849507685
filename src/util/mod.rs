//! Small helpers shared by every module: time formats, atomic file writes.

pub mod atomic;
pub mod time;
