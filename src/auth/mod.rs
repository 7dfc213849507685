//! Security library: passwords, API tokens with scopes, sessions and CSRF, lockout, rate
//! limits, client-IP resolution, audit log, bootstrap and recovery, and the per-request
//! policy decision.
//!
//! Everything here is plain synchronous data owned by the event-loop thread, with the clock
//! passed in (`now`). The only slow calls are bcrypt (`password`), which must run on a
//! worker. The HTTP layer talks to [`guard::Security`]; the route table uses
//! [`policy::Access`] and [`policy::Csrf`] (each route declares its own rule).

pub mod audit;
pub mod bootstrap;
pub mod client_ip;
pub mod cookies;
pub mod csrf;
pub mod envfile;
pub mod guard;
pub mod lockout;
pub mod login;
pub mod password;
pub mod policy;
pub mod ratelimit;
pub mod recovery;
pub mod request;
pub mod scopes;
pub mod secret;
pub mod sessions;
pub mod tokens;
