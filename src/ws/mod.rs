//! The live feed at `/ws`: the loop's HTTP server answers the handshake and hands the very
//! same non-blocking socket to the hub, which drives it without threads (`client.rs`, `hub.rs`).

pub mod client;
pub mod handshake;
pub mod hub;

/// What the gate decided about an upgrade, carried from the handler to the HTTP connection,
/// which hands it to the hub with the socket.
#[derive(Debug, Clone)]
pub struct WsUpgrade {
    pub peer: std::net::IpAddr,
    /// false: complete the handshake, then close with 1008 (policy: not authenticated), which
    /// tells the browser UI to show the login page.
    pub authorized: bool,
}
