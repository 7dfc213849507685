//! Small helpers shared by every module: time formats, atomic file writes, the secret type.

pub mod atomic;
pub mod fast_hash;
pub mod json_path;
pub mod secret;
pub mod time;
