//! Adding nodes without typing credentials: one-time setup codes, the setup script a Proxmox
//! host runs, and auto-registration's "add or re-key" step.

pub mod codes;
pub mod registration;
pub mod script;
