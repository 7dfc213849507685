//! The HTTP edge: tiny_http threads, the request/response types handlers use, the route
//! table, static UI files, gzip and the headers every response carries.

pub mod gzip;
pub mod headers;
pub mod reply;
pub mod request;
pub mod router;
pub mod server;
pub mod static_files;
