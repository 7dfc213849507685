//! Small helpers shared by every module: time formats, atomic file writes.

pub mod atomic;
pub mod json_path;
pub mod time;
