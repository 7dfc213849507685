//! The data dir on disk: files in Pulse's formats, their encryption, and the all-or-nothing
//! replacement of several files that import uses.

pub mod crypto;
pub mod store;
pub(crate) mod transaction;
