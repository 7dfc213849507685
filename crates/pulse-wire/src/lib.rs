//! What Pulse and its Proxmox simulator must agree on, byte for byte: the products and their
//! protocol facts, time formats, and certificate fingerprints. A crate of its own so the
//! simulator (a separate crate, used by tests, benchmarks and demo mode) and Pulse share one
//! definition of each instead of two copies that drift apart.

pub mod agents;
mod fingerprint;
mod product;
pub mod time;

pub use fingerprint::fingerprint_of;
pub use product::Product;
