//! Live state: the latest derived picture of every monitored instance, and its JSON forms.
//!
//! [`LiveState`] is a plain struct owned by the event loop. Poll results come in as
//! [`PveSnapshot`] (or PBS/PMG instances) and replace everything of their instance;
//! [`LiveState::to_frontend_json`] produces the `/api/state` body.

pub mod backups;
pub mod backups_json;
pub mod ceph;
pub mod frontend;
pub mod guest;
pub mod instance;
pub mod node;
pub mod node_temperature;
pub mod pbs;
pub mod physical_disk;
pub mod pmg;
pub mod replication;
pub mod snapshot;
pub mod storage;
pub mod store;
pub mod values;
pub mod views;
pub mod zfs;

pub use frontend::StateFrontend;
pub use guest::{guest_id, ContainerFrontend, VMFrontend};
pub use node::{node_id, NodeFrontend};
pub use snapshot::PveSnapshot;
pub use storage::{storage_id, StorageFrontend};
pub use store::{connection_key, ExtraArea, LiveState};
pub use values::{CpuInfo, Disk, GuestNetworkInterface, Memory};
