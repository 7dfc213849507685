//! Talking to Proxmox hosts that are not (yet) polled: connection tests for a node, PVE cluster
//! detection, and the subnet scan that finds servers. Everything that waits on the network
//! here runs on a worker or its own thread, never on the event loop.

pub mod cluster_detect;
pub mod node_probe;
pub mod probe;
pub mod scan;
