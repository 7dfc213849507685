//! Identity of a scheduled poll task: one per configured instance, `"<type>::<name>"`.

use std::fmt;

pub use crate::state::instance::InstanceKind;

/// Ordered by type, then name, which is also the `"<type>::<name>"` string order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskKey {
    pub kind: InstanceKind,
    pub name: String,
}

impl TaskKey {
    pub fn new(kind: InstanceKind, name: impl Into<String>) -> TaskKey {
        TaskKey {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.kind.as_str(), self.name)
    }
}
