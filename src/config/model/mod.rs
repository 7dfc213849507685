//! The node model: what is stored per PVE/PBS/PMG instance, how the API edits it, how the API
//! shows it, host validation and write-only secrets.

pub mod host;
pub mod node_edit;
pub mod node_view;
pub mod nodes;
