//! The web UI, embedded at build time from `assets/` (see build.rs).

use crate::http::reply::{Body, Reply};
use std::sync::OnceLock;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

pub fn find(path: &str) -> Option<&'static [u8]> {
    embedded::ASSETS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, b)| *b)
}

pub fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "application/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        "sh" => "text/x-shellscript; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Content-hashed build outputs (`name-3f9a1c2b.js`) never change: cache them for a year.
/// Everything else must be revalidated, above all `index.html`, which names the hashed files.
fn cache_control(path: &str) -> &'static str {
    let file = path.rsplit('/').next().unwrap_or("");
    let stem = file.split('.').next().unwrap_or("");
    let hashed = path.starts_with("/assets/")
        && stem.rsplit_once('-').is_some_and(|(_, h)| {
            h.len() >= 8 && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

fn index() -> &'static [u8] {
    static FALLBACK: OnceLock<&'static [u8]> = OnceLock::new();
    FALLBACK.get_or_init(|| find("/index.html").unwrap_or(b"<!doctype html><title>Pulse</title>"))
}

/// Serves an embedded file, or `index.html` for any other path (SPA client routes).
pub fn serve(path: &str) -> Reply {
    let (file, bytes) = match find(path) {
        Some(b) if path != "/" => (path, b),
        _ => ("/index.html", index()),
    };
    Reply::new(200)
        .header("Content-Type", content_type(file))
        .header("Cache-Control", cache_control(file))
        .body(Body::Static(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_policy_by_name() {
        assert_eq!(
            cache_control("/assets/index-3f9a1c2b.js"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_control("/index.html"), "no-cache");
        assert_eq!(cache_control("/assets/app.js"), "no-cache");
        assert_eq!(content_type("/x/y.CSS"), "text/css; charset=utf-8");
    }
}
