//! [`Answer`]: the HTTP-independent response the security endpoints build (status, JSON
//! body, headers such as `Set-Cookie`). `api::security` turns it into the server's `Reply`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    /// `None` for bodiless answers (204).
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    /// `{"error": message}`, the API's error shape.
    pub fn error(status: u16, message: &str) -> Answer {
        Answer::json(status, serde_json::json!({ "error": message }))
    }

    pub fn no_content() -> Answer {
        Answer {
            status: 204,
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: String) -> Answer {
        self.headers.push((name.to_string(), value));
        self
    }

    /// The value of a header, for tests and callers.
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
