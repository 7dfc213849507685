//! The live feed at `/ws`: clients are upgraded by tiny_http, then their sockets are taken over
//! by the event loop (`fd.rs`) and driven without threads (`client.rs`, `hub.rs`).

pub mod client;
pub mod fd;
pub mod handshake;
pub mod hub;

/// What the gate decided about an upgrade, carried from the handler to the HTTP thread and
/// back to the loop with the socket.
#[derive(Debug, Clone)]
pub struct WsUpgrade {
    pub peer: std::net::IpAddr,
    /// false: complete the handshake, then close with 1008 (policy: not authenticated), which
    /// tells the browser UI to show the login page.
    pub authorized: bool,
}
