//! The HTTP edge, served by the event loop itself: `listener.rs` (accept, connection caps,
//! eviction), `conn.rs` (one connection's state machine), `parse.rs` (heads, framing rules,
//! chunked decoding), `write.rs` (responses from shared buffers), `limits.rs`, `server.rs`
//! (ties them to the loop's registry); plus the request/response types handlers use, the
//! route table, static UI files, gzip and the headers every response carries.

pub mod conn;
pub mod gzip;
pub mod headers;
pub mod limits;
pub mod listener;
pub mod parse;
pub mod redirect;
pub mod reply;
pub mod request;
pub mod router;
pub mod server;
pub mod static_files;
pub mod tls;
pub mod tls_cert;
pub mod tls_reload;
pub mod write;
