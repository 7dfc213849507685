//! `GET /simple-stats`: a small self-contained HTML page (no external scripts or styles) that
//! shows estate counts from the live feed. Public as the document says: the page carries no
//! data; the `/ws` feed it opens authorizes the caller (close 1008 → "sign in first").

use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::{Body, Reply};
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route};

const PAGE: &[u8] = include_bytes!("assets/simple_stats.html");

fn page(_: &mut App, ctx: &Ctx) -> Outcome {
    if let Err(r) = super::known_params(ctx.req, &[]) {
        return r.into();
    }

    Reply::new(200)
        .header("Content-Type", "text/html; charset=utf-8")
        .header("Cache-Control", "no-cache")
        .body(Body::Static(PAGE))
        .into()
}

pub fn routes() -> Vec<Route> {
    vec![Route {
        methods: &[Method::Get],
        pattern: "/simple-stats",
        access: Access::Public,
        csrf: Csrf::Required,
        handler: page,
    }]
}
