//! Route handlers declared in a file: FastAPI/Starlette (`@router.get("/callback")`,
//! `@router.api_route(path, methods=[...])`, `router.add_api_route(path, handler, ...)`) and
//! Flask (`@app.route(rule, methods=[...])`, `app.add_url_rule(rule, view_func=handler)`),
//! with the prefix of the router they are declared on (`APIRouter(prefix="/api/zoom")`,
//! `Blueprint(..., url_prefix=...)`).
//!
//! Prefixes added where a router is mounted in another file (`app.include_router(
//! notion_routes.router, prefix="/v2")`, Flask's `register_blueprint(bp, url_prefix=...)`)
//! are found by [`mounts_in`] and joined by [`mounted_prefixes`].

use std::collections::BTreeMap;

use crate::facts::{Call, Expr, ExprKind, FileFacts, Function, StmtKind, last_segment};
use crate::index::Project;

/// Router and application constructors, and the keyword holding their prefix (none for
/// applications: their routes start at `/`).
const ROUTER_CONSTRUCTORS: &[(&str, Option<&str>)] =
    &[("APIRouter", Some("prefix")), ("Blueprint", Some("url_prefix")), ("FastAPI", None), ("Flask", None), ("Starlette", None)];

/// Decorator methods that declare one HTTP method each.
const METHOD_DECORATORS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options"];

/// Decorator methods that take `methods=[...]` (default GET).
const MULTI_METHOD_DECORATORS: &[&str] = &["route", "api_route"];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// The path with the prefix of the router it is declared on: `/api/zoom/callback`.
    pub path: String,
    /// Upper-case HTTP methods, sorted.
    pub methods: Vec<String>,
    /// The handler's name as written (`Class.method` for a method).
    pub handler: String,
    /// 0-based line of the declaration (decorator or registering call).
    pub line: usize,
    /// The handler's parameter names, when the handler is defined in this file.
    pub params: Vec<String>,
}

/// Cheap test on the raw text: a file without a route decorator (`@router.get(`,
/// `@app.route(`) or a registering call declares no route handler.
pub fn may_declare_handlers(text: &str) -> bool {
    let bytes = text.as_bytes();
    if memchr::memmem::find(bytes, b"add_api_route").is_some()
        || memchr::memmem::find(bytes, b"add_url_rule").is_some()
        || memchr::memmem::find(bytes, b".route(").is_some()
    {
        return true;
    }
    // actix-web's `#[get("/callback")]`.
    if memchr::memmem::find_iter(bytes, b"#[").any(|at| {
        let rest = &bytes[at + 2..];
        METHOD_DECORATORS.iter().any(|method| rest.strip_prefix(method.as_bytes()).is_some_and(|tail| tail.first() == Some(&b'(')))
    }) {
        return true;
    }
    memchr::memchr_iter(b'@', bytes).any(|at| {
        let rest = &bytes[at + 1..];
        let end = rest.iter().position(|byte| !(byte.is_ascii_alphanumeric() || *byte == b'_' || *byte == b'.')).unwrap_or(rest.len());
        if rest.get(end) != Some(&b'(') {
            return false;
        }
        let dotted = std::str::from_utf8(&rest[..end]).unwrap_or("");
        let method = last_segment(dotted);
        dotted.contains('.') && (METHOD_DECORATORS.contains(&method) || MULTI_METHOD_DECORATORS.contains(&method))
    })
}

/// Every route declared in a file, sorted by path then methods.
pub fn routes_of(facts: &FileFacts) -> Vec<Route> {
    routes_with_prefixes(facts, &router_prefixes(facts))
}

/// Every route declared in a file, given its routers' prefixes ([`router_prefixes`]).
pub fn routes_with_prefixes(facts: &FileFacts, prefixes: &BTreeMap<String, String>) -> Vec<Route> {
    let prefix_of = |router: &Expr| router.dotted().and_then(|name| prefixes.get(&name).cloned()).unwrap_or_default();
    let mut routes = Vec::new();
    for function in &facts.functions {
        for decorator in &function.decorators {
            let ExprKind::Call(call) = &decorator.kind else { continue };
            // `@router.get(path)` on a router, or a bare `#[get(path)]` (actix-web) or
            // `@get(path)` (Litestar) with no router and so no prefix.
            let (prefix, method) = match &call.callee.kind {
                ExprKind::Attribute { object: router, name: method } if !is_framework_path(router) => (prefix_of(router), method),
                ExprKind::Attribute { name: method, .. } | ExprKind::Name(method) => (String::new(), method),
                _ => continue,
            };
            let Some((path, methods)) = declared(call, method) else { continue };
            routes.push(Route {
                path: join(&prefix, &path),
                methods,
                handler: function.qualified_name(),
                line: decorator.span.start.line,
                params: function.params.iter().map(|param| param.name.clone()).collect(),
            });
        }
    }
    // `router.add_api_route("/callback", handler, methods=["GET"])`,
    // `app.add_url_rule("/callback", view_func=handler, methods=["GET"])`.
    for function in &facts.functions {
        for stmt in &function.body.statements {
            let StmtKind::Expr(expr) = &stmt.kind else { continue };
            let ExprKind::Call(call) = &expr.unawaited().kind else { continue };
            let ExprKind::Attribute { object: router, name } = &call.callee.kind else { continue };
            if name != "add_api_route" && name != "add_url_rule" {
                continue;
            }
            let Some(path) = string_argument(call, 0, &["path", "rule"]) else { continue };
            let handler =
                keyword(call, "endpoint").or_else(|| keyword(call, "view_func")).or_else(|| call.args.get(1)).and_then(Expr::dotted);
            let Some(handler) = handler else { continue };
            let defined = facts.find_function(None, &handler);
            routes.push(Route {
                path: join(&prefix_of(router), &path),
                methods: methods_keyword(call).unwrap_or_else(|| vec!["GET".to_string()]),
                handler,
                line: stmt.span.start.line,
                params: defined
                    .map(|function: &Function| function.params.iter().map(|param| param.name.clone()).collect())
                    .unwrap_or_default(),
            });
        }
    }
    routes.extend(method_routers(facts));
    routes.sort();
    routes
}

/// Cheap test on the raw text: a file that does not name a declared handler defines none.
pub fn may_define_declared(text: &str, handlers: &[String]) -> bool {
    handlers.iter().any(|handler| memchr::memmem::find(text.as_bytes(), last_segment(handler).as_bytes()).is_some())
}

/// Functions the config declares as callback handlers (`[callbacks] handlers`), for flows
/// no framework route declares: a custom router, a library's callback function. The
/// route is the handler's name, with no method.
pub fn declared_handlers(facts: &FileFacts, handlers: &[String]) -> Vec<Route> {
    facts
        .functions
        .iter()
        .filter(|function| !function.is_module() && handlers.iter().any(|handler| *handler == function.qualified_name()))
        .map(|function| Route {
            path: function.qualified_name(),
            methods: Vec::new(),
            handler: function.qualified_name(),
            line: function.name_span.start.line,
            params: function.params.iter().map(|param| param.name.clone()).collect(),
        })
        .collect()
}

/// `actix_web::get` used as a path, not a router variable.
fn is_framework_path(object: &Expr) -> bool {
    object.dotted().is_some_and(|dotted| matches!(dotted.split('.').next(), Some("actix_web" | "web" | "litestar")))
}

/// Routes registered with a method router: axum's `.route("/callback", get(handler))`
/// (and `get(a).post(b)`), actix-web's `.route("/callback", web::get().to(handler))`.
fn method_routers(facts: &FileFacts) -> Vec<Route> {
    let mut routes = Vec::new();
    for function in &facts.functions {
        for (_, call, expression) in function.body.calls() {
            let ExprKind::Attribute { name, .. } = &call.callee.kind else { continue };
            if name != "route" {
                continue;
            }
            let (Some(ExprKind::String(path)), Some(router)) = (call.args.first().map(|arg| &arg.kind), call.args.get(1)) else { continue };
            if !path.starts_with('/') {
                continue;
            }
            let mut handlers = Vec::new();
            method_handlers(router, &mut handlers, 0);
            for (method, handler) in handlers {
                let defined = facts.find_function(None, last_segment(&handler));
                routes.push(Route {
                    path: path.clone(),
                    methods: vec![method],
                    handler: if defined.is_some() { last_segment(&handler).to_string() } else { handler },
                    line: expression.span.start.line,
                    params: defined.map(|function| function.params.iter().map(|param| param.name.clone()).collect()).unwrap_or_default(),
                });
            }
        }
    }
    routes
}

/// The (method, handler) pairs of a method router expression.
fn method_handlers(router: &Expr, out: &mut Vec<(String, String)>, depth: usize) {
    let Some(call) = router.unawaited().as_call() else { return };
    if depth > 16 {
        return;
    }
    let handler = || call.args.first().and_then(Expr::dotted);
    match &call.callee.kind {
        // `web::get().to(handler)`
        ExprKind::Attribute { object, name } if name == "to" => {
            if let Some(inner) = object.as_call()
                && let Some(verb) = inner.callee.dotted()
                && METHOD_DECORATORS.contains(&last_segment(&verb))
                && let Some(handler) = handler()
            {
                out.push((last_segment(&verb).to_uppercase(), handler));
            }
        }
        // `get(a).post(b)`
        ExprKind::Attribute { object, name } if METHOD_DECORATORS.contains(&name.as_str()) => {
            if let Some(handler) = handler() {
                out.push((name.to_uppercase(), handler));
            }
            method_handlers(object, out, depth + 1);
        }
        // `get(handler)`, `axum::routing::get(handler)`
        _ => {
            if let Some(verb) = call.callee.dotted()
                && METHOD_DECORATORS.contains(&last_segment(&verb))
                && let Some(handler) = handler()
            {
                out.push((last_segment(&verb).to_uppercase(), handler));
            }
        }
    }
}

/// Prefixes of the routers assigned in a file, by variable name.
pub fn router_prefixes(facts: &FileFacts) -> BTreeMap<String, String> {
    let mut prefixes = BTreeMap::new();
    for function in &facts.functions {
        for stmt in &function.body.statements {
            let StmtKind::Assign { targets, value, .. } = &stmt.kind else { continue };
            let ExprKind::Call(call) = &value.unawaited().kind else { continue };
            let Some(callee) = call.callee.dotted() else { continue };
            let Some((_, prefix_keyword)) = ROUTER_CONSTRUCTORS.iter().find(|(name, _)| *name == last_segment(&callee)) else { continue };
            let prefix = match prefix_keyword.and_then(|name| keyword(call, name)).map(|value| &value.kind) {
                Some(ExprKind::String(prefix)) => prefix.clone(),
                _ => String::new(),
            };
            for target in targets {
                if let Some(name) = target.dotted() {
                    prefixes.insert(name, prefix.clone());
                }
            }
        }
    }
    prefixes
}

/// A router mounted with a prefix: `app.include_router(zoom_routes.router, prefix="/v2")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The file defining the router.
    pub file_index: usize,
    /// The router's variable in that file.
    pub router: String,
    pub prefix: String,
    /// Flask's `url_prefix` replaces the blueprint's own; FastAPI's `prefix` goes before it.
    pub replaces: bool,
}

/// Cheap test on the raw text: a file without these calls mounts no router.
pub fn may_mount_routers(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memmem::find(bytes, b"include_router(").is_some() || memchr::memmem::find(bytes, b"register_blueprint(").is_some()
}

/// The routers file `file_index` mounts with a prefix, resolved to the files defining them.
pub fn mounts_in(project: &Project, file_index: usize, facts: &FileFacts) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for function in &facts.functions {
        function.body.visit(&mut |stmt| {
            let StmtKind::Expr(expr) = &stmt.kind else { return };
            let Some(call) = expr.unawaited().as_call() else { return };
            let ExprKind::Attribute { name, .. } = &call.callee.kind else { return };
            let (keyword_name, replaces) = match name.as_str() {
                "include_router" => ("prefix", false),
                "register_blueprint" => ("url_prefix", true),
                _ => return,
            };
            let Some(ExprKind::String(prefix)) = keyword(call, keyword_name).map(|value| &value.kind) else { return };
            let Some(router) = call.args.first().and_then(Expr::dotted) else { return };
            // `notion_routes.router` (a module alias) or `router as notion_router` (imported).
            let target = match router.rsplit_once('.') {
                Some((module, variable)) => {
                    project.resolve_module_alias(file_index, facts, module).map(|target| (target, variable.to_string()))
                }
                None => project.resolve_import(file_index, facts, &router).map(|(target, name)| (target, name.to_string())),
            };
            if let Some((target, variable)) = target {
                mounts.push(Mount { file_index: target, router: variable, prefix: prefix.clone(), replaces });
            }
        });
    }
    mounts
}

/// The prefixes of a file's routers once `mounts` (of this file's routers) are applied.
pub fn mounted_prefixes(facts: &FileFacts, mounts: &[Mount]) -> BTreeMap<String, String> {
    let mut prefixes = router_prefixes(facts);
    for mount in mounts {
        if let Some(own) = prefixes.get_mut(&mount.router) {
            *own = if mount.replaces { mount.prefix.clone() } else { join(&mount.prefix, own) };
        }
    }
    prefixes
}

/// The path and methods a route decorator declares, if it is one.
fn declared(call: &Call, method: &str) -> Option<(String, Vec<String>)> {
    let path = string_argument(call, 0, &["path", "rule"])?;
    if METHOD_DECORATORS.contains(&method) {
        return Some((path, vec![method.to_uppercase()]));
    }
    if MULTI_METHOD_DECORATORS.contains(&method) {
        return Some((path, methods_keyword(call).unwrap_or_else(|| vec!["GET".to_string()])));
    }
    None
}

fn keyword<'c>(call: &'c Call, name: &str) -> Option<&'c Expr> {
    call.keywords.iter().find(|(keyword, _)| keyword == name).map(|(_, value)| value)
}

/// A string given as the argument at `position` or as one of `names`.
fn string_argument(call: &Call, position: usize, names: &[&str]) -> Option<String> {
    let value = call.args.get(position).or_else(|| names.iter().find_map(|name| keyword(call, name)))?;
    match &value.kind {
        ExprKind::String(text) if text.starts_with('/') || text.is_empty() => Some(text.clone()),
        _ => None,
    }
}

/// `methods=["GET", "POST"]`, upper-cased and sorted.
fn methods_keyword(call: &Call) -> Option<Vec<String>> {
    let ExprKind::Sequence(items) = &keyword(call, "methods")?.kind else { return None };
    let mut methods: Vec<String> = items
        .iter()
        .filter_map(|item| match &item.kind {
            ExprKind::String(method) => Some(method.to_uppercase()),
            _ => None,
        })
        .collect();
    methods.sort();
    methods.dedup();
    (!methods.is_empty()).then_some(methods)
}

/// `prefix` + `path` with exactly one `/` between them.
pub fn join(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    match (prefix.is_empty(), path.is_empty()) {
        (true, true) => "/".to_string(),
        (true, false) => path.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}/{}", path.trim_start_matches('/')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{ExtractOptions, python};

    fn routes(text: &str) -> Vec<Route> {
        routes_of(&python::extract(text, ExtractOptions::default()).expect("parses"))
    }

    #[test]
    fn fastapi_decorators_with_router_prefix() {
        let found = routes(
            "from fastapi import APIRouter, Request\nrouter = APIRouter(prefix=\"/api/zoom\", tags=[\"zoom\"])\n\n\
             @router.get(\"/callback\")\nasync def callback(code: str, state: str, request: Request):\n    ...\n\n\
             @router.api_route(\"/token\", methods=[\"post\", \"GET\"])\nasync def token():\n    ...\n",
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].path, "/api/zoom/callback");
        assert_eq!(found[0].methods, vec!["GET"]);
        assert_eq!(found[0].handler, "callback");
        assert_eq!(found[0].params, vec!["code", "state", "request"]);
        assert_eq!(found[0].line, 3);
        assert_eq!((found[1].path.as_str(), found[1].methods.clone()), ("/api/zoom/token", vec!["GET".to_string(), "POST".to_string()]));
    }

    #[test]
    fn flask_routes_and_registered_handlers() {
        let found = routes(
            "from flask import Blueprint\nbp = Blueprint(\"hubspot\", __name__, url_prefix=\"/hubspot/\")\n\n\
             @bp.route(\"/oauth2callback\", methods=[\"GET\"])\ndef oauth2callback():\n    ...\n\n\
             def exchange(public_token):\n    ...\n\nbp.add_url_rule(\"/exchange\", view_func=exchange, methods=[\"POST\"])\n",
        );
        let paths: Vec<(&str, &str)> = found.iter().map(|route| (route.path.as_str(), route.methods[0].as_str())).collect();
        assert_eq!(paths, vec![("/hubspot/exchange", "POST"), ("/hubspot/oauth2callback", "GET")]);
        assert_eq!(found[0].params, vec!["public_token"]);
    }

    #[test]
    fn non_route_decorators_are_not_routes() {
        assert!(routes("@functools.lru_cache(maxsize=1)\ndef f():\n    ...\n\n@app.get(some_path)\ndef g():\n    ...\n").is_empty());
    }

    #[test]
    fn mounts_prepend_a_fastapi_prefix_and_replace_a_flask_one() {
        let facts = python::extract(
            "router = APIRouter(prefix=\"/zoom\")\nbp = Blueprint(\"x\", __name__, url_prefix=\"/old\")\n",
            ExtractOptions::default(),
        )
        .expect("parses");
        let mount =
            |router: &str, prefix: &str, replaces: bool| Mount { file_index: 0, router: router.into(), prefix: prefix.into(), replaces };
        let prefixes =
            mounted_prefixes(&facts, &[mount("router", "/api", false), mount("bp", "/new", true), mount("missing", "/x", false)]);
        assert_eq!(prefixes.get("router").map(String::as_str), Some("/api/zoom"));
        assert_eq!(prefixes.get("bp").map(String::as_str), Some("/new"));
        assert!(!prefixes.contains_key("missing"));
    }

    #[test]
    fn joining_paths() {
        assert_eq!(join("/api/", "/callback"), "/api/callback");
        assert_eq!(join("", "/callback"), "/callback");
        assert_eq!(join("/api", ""), "/api");
        assert_eq!(join("", ""), "/");
    }
}
