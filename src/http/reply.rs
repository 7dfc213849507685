//! What a handler answers: status, headers and a body that may be shared (the pre-serialised
//! state snapshot is handed out by reference count, never copied per request).

use serde::Serialize;
use std::sync::{Arc, OnceLock};

#[derive(Clone)]
pub enum Body {
    Empty,
    Bytes(Vec<u8>),
    Static(&'static [u8]),
    Shared(SharedBody),
}

/// An immutable body shared between requests, with its gzip form computed at most once.
#[derive(Clone)]
pub struct SharedBody {
    /// May be a view into a larger shared buffer (the state body inside its `rawData` frame).
    pub raw: bytes::Bytes,
    gz: Arc<OnceLock<Arc<[u8]>>>,
}

impl SharedBody {
    pub fn new(raw: Vec<u8>) -> SharedBody {
        SharedBody::from_bytes(raw.into())
    }

    pub fn from_bytes(raw: bytes::Bytes) -> SharedBody {
        SharedBody {
            raw,
            gz: Arc::new(OnceLock::new()),
        }
    }

    /// The gzip form if it has been computed (never computes: the loop must not).
    pub fn gzipped_if_ready(&self) -> Option<Arc<[u8]>> {
        self.gz.get().cloned()
    }

    /// The gzip form, compressed by the first caller that needs it.
    pub fn gzipped(&self) -> Arc<[u8]> {
        Arc::clone(
            self.gz
                .get_or_init(|| crate::http::gzip::compress(&self.raw).into()),
        )
    }
}

impl Body {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Body::Empty => &[],
            Body::Bytes(b) => b,
            Body::Static(b) => b,
            Body::Shared(s) => &s.raw[..],
        }
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// Set on a 101 answer to `/ws`: the HTTP thread completes the upgrade and hands the
    /// socket to the event loop.
    pub upgrade: Option<crate::ws::WsUpgrade>,
}

impl Reply {
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Empty,
            upgrade: None,
        }
    }

    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Reply {
        match serde_json::to_vec(value) {
            Ok(bytes) => Reply::json_bytes(status, bytes),
            Err(e) => Reply::error(500, &format!("failed to encode response: {e}")),
        }
    }

    pub fn json_bytes(status: u16, bytes: Vec<u8>) -> Reply {
        Reply::new(status)
            .header("Content-Type", "application/json")
            .body(Body::Bytes(bytes))
    }

    pub fn json_shared(status: u16, body: SharedBody) -> Reply {
        Reply::new(status)
            .header("Content-Type", "application/json")
            .body(Body::Shared(body))
    }

    /// `{"error": message}` with the given status.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, &serde_json::json!({ "error": message }))
    }

    pub fn no_content() -> Reply {
        Reply::new(204)
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: Body) -> Reply {
        self.body = body;
        self
    }

    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(self.body.as_slice()))
            .finish()
    }
}
