//! The route table: method + path pattern → access rule (who, which token scope, CSRF) +
//! handler. One table for the whole API is the one source of access truth: the gate reads
//! each route's rule, the auth-matrix test walks every route, and the 404/405 answers come
//! from one place.

use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::request::{ApiRequest, Method};

/// Who may call a route and whether it checks CSRF: the vocabulary is the policy's, so the
/// table below is the one place that says what each route requires.
pub use crate::auth::policy::{Access, Csrf, RouteRule};
pub use crate::auth::tokens::Scope;

pub type Handler = fn(&mut App, &Ctx) -> Outcome;

pub struct Route {
    pub methods: &'static [Method],
    /// `/api/config/nodes/{id}`: `{name}` matches one segment, `{*name}` the rest of the path.
    pub pattern: &'static str,
    /// Enforced by the request gate before the handler runs.
    pub access: Access,
    /// Whether session callers need the CSRF token on state-changing methods.
    pub csrf: Csrf,
    pub handler: Handler,
}

impl Route {
    /// A route that needs the CSRF token on unsafe methods (the usual case).
    pub fn new(
        methods: &'static [Method],
        pattern: &'static str,
        access: Access,
        handler: Handler,
    ) -> Route {
        Route {
            methods,
            pattern,
            access,
            csrf: Csrf::Required,
            handler,
        }
    }

    /// The route's whole access rule, as the gate hands it to `auth`.
    pub fn rule(&self) -> RouteRule {
        RouteRule {
            access: self.access,
            csrf: self.csrf,
        }
    }
}

/// What a handler gets besides the app: the request, the path parameters, and who is calling
/// (as established by the gate).
pub struct Ctx<'a> {
    pub req: &'a ApiRequest,
    pub params: Vec<(&'static str, String)>,
    /// The caller: a session, an API token, anonymous (public route or no auth configured).
    pub principal: crate::auth::policy::Principal,
    /// The client address (forwarding headers honoured only from trusted proxies).
    pub client_ip: std::net::IpAddr,
}

/// A [`Ctx`] that outlives its request's turn: for a handler that must run later.
pub struct OwnedCtx {
    req: ApiRequest,
    params: Vec<(&'static str, String)>,
    principal: crate::auth::policy::Principal,
    client_ip: std::net::IpAddr,
}

impl OwnedCtx {
    /// Lends the context back in its borrowed form.
    pub fn with<T>(&self, f: impl FnOnce(&Ctx) -> T) -> T {
        f(&Ctx {
            req: &self.req,
            params: self.params.clone(),
            principal: self.principal.clone(),
            client_ip: self.client_ip,
        })
    }
}

impl Ctx<'_> {
    /// A copy that can wait (the request, its parameters, the caller).
    pub fn to_owned_ctx(&self) -> OwnedCtx {
        OwnedCtx {
            req: self.req.clone(),
            params: self.params.clone(),
            principal: self.principal.clone(),
            client_ip: self.client_ip,
        }
    }

    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

pub enum Match<'r> {
    Found(&'r Route, Vec<(&'static str, String)>),
    MethodNotAllowed(Vec<Method>),
    NotFound,
}

#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    pub fn new(routes: Vec<Route>) -> Router {
        Router { routes }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn lookup(&self, method: Method, path: &str) -> Match<'_> {
        let mut allowed: Vec<Method> = Vec::new();
        for route in &self.routes {
            let Some(params) = match_pattern(route.pattern, path) else {
                continue;
            };
            let ok = route.methods.contains(&method)
                || (method == Method::Head && route.methods.contains(&Method::Get));
            if ok {
                return Match::Found(route, params);
            }
            for m in route.methods {
                if !allowed.contains(m) {
                    allowed.push(*m);
                }
            }
        }
        if allowed.is_empty() {
            Match::NotFound
        } else {
            if allowed.contains(&Method::Get) && !allowed.contains(&Method::Head) {
                allowed.push(Method::Head);
            }
            Match::MethodNotAllowed(allowed)
        }
    }
}

/// Matches `path` against `pattern`; a single trailing slash on either side is ignored.
fn match_pattern(pattern: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    fn trim(s: &str) -> &str {
        if s.len() > 1 {
            s.strip_suffix('/').unwrap_or(s)
        } else {
            s
        }
    }
    let mut params = Vec::new();
    let mut pat = trim(pattern).split('/');
    let mut segs = trim(path).split('/');
    loop {
        match (pat.next(), segs.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(s)) if p.starts_with("{*") && p.ends_with('}') => {
                let mut rest = vec![s];
                rest.extend(segs);
                if rest.iter().any(|r| r.is_empty()) {
                    return None;
                }
                let value = crate::http::request::percent_decode(&rest.join("/"))?;
                params.push((&p[2..p.len() - 1], value));
                return Some(params);
            }
            (Some(p), Some(s)) if p.starts_with('{') && p.ends_with('}') => {
                if s.is_empty() {
                    return None;
                }
                params.push((&p[1..p.len() - 1], crate::http::request::percent_decode(s)?));
            }
            (Some(p), Some(s)) if p == s => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::reply::Reply;

    fn h(_: &mut App, _: &Ctx) -> Outcome {
        Outcome::Reply(Reply::no_content())
    }

    #[test]
    fn matches_params_tails_and_methods() {
        let r = Router::new(vec![
            Route {
                methods: &[Method::Get],
                pattern: "/api/storage/",
                access: Access::Public,
                csrf: Csrf::Required,
                handler: h,
            },
            Route {
                methods: &[Method::Put, Method::Delete],
                pattern: "/api/config/nodes/{id}",
                access: Access::Public,
                csrf: Csrf::Required,
                handler: h,
            },
            Route {
                methods: &[Method::Get],
                pattern: "/api/guests/metadata/{*id}",
                access: Access::Public,
                csrf: Csrf::Required,
                handler: h,
            },
        ]);
        assert!(matches!(
            r.lookup(Method::Get, "/api/storage"),
            Match::Found(..)
        ));
        assert!(matches!(
            r.lookup(Method::Head, "/api/storage/"),
            Match::Found(..)
        ));
        match r.lookup(Method::Delete, "/api/config/nodes/pve-0") {
            Match::Found(_, p) => assert_eq!(p, vec![("id", "pve-0".to_string())]),
            _ => panic!("no match"),
        }
        match r.lookup(Method::Get, "/api/guests/metadata/node1/100") {
            Match::Found(_, p) => assert_eq!(p, vec![("id", "node1/100".to_string())]),
            _ => panic!("no match"),
        }
        // '+' is a literal plus in a path (a space only in query strings); %2B is a plus too.
        for (path, id) in [
            ("/api/config/nodes/a+b", "a+b"),
            ("/api/config/nodes/a%2Bb%20c", "a+b c"),
        ] {
            match r.lookup(Method::Put, path) {
                Match::Found(_, p) => assert_eq!(p, vec![("id", id.to_string())], "{path}"),
                _ => panic!("no match for {path}"),
            }
        }
        match r.lookup(Method::Get, "/api/guests/metadata/n+1/100") {
            Match::Found(_, p) => assert_eq!(p, vec![("id", "n+1/100".to_string())]),
            _ => panic!("no match"),
        }
        match r.lookup(Method::Get, "/api/config/nodes/x") {
            Match::MethodNotAllowed(m) => assert_eq!(m, vec![Method::Put, Method::Delete]),
            _ => panic!("expected 405"),
        }
        assert!(matches!(
            r.lookup(Method::Get, "/api/nope"),
            Match::NotFound
        ));
        assert!(matches!(
            r.lookup(Method::Put, "/api/config/nodes/"),
            Match::NotFound
        ));
    }
}
