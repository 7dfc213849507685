pub use pulse_wire::time::*;
