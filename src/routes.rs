//! Route handlers declared in a file: FastAPI/Starlette (`@router.get("/callback")`,
//! `@router.api_route(path, methods=[...])`, `router.add_api_route(path, handler, ...)`) and
//! Flask (`@app.route(rule, methods=[...])`, `app.add_url_rule(rule, view_func=handler)`),
//! with the prefix of the router they are declared on (`APIRouter(prefix="/api/zoom")`,
//! `Blueprint(..., url_prefix=...)`). Flask-AppBuilder's `@expose("/oauth2/")` methods are
//! served under their class's route base ([`view_route_base`]).
//!
//! Prefixes added where a router is mounted in another file (`app.include_router(
//! notion_routes.router, prefix="/v2")`, Flask's `register_blueprint(bp, url_prefix=...)`)
//! are found by [`mounts_in`] and joined by [`mounted_prefixes`].
//!
//! TypeScript: Express, Router and Hono registrations (`router.post('/callback', mw,
//! handler)`, `router.route('/callback').get(handler).post(other)`, mounted with
//! `app.use('/api/x', router)` or Hono's `app.route('/api', sub)`, through several files),
//! NestJS controllers (`@Controller('x')` on the class, `@Get('cb')` on the method, under
//! `app.setGlobalPrefix('api')` from `main.ts`), and routes that the file's path declares ([`path_routes`]): Next.js
//! app router files (`app/**/route.ts` exporting `GET`/`POST`), pages router API files
//! (`pages/api/**.ts`, the default export, any method) and Supabase/Deno edge functions
//! (`serve(handler)` in `functions/<name>/index.ts`, at `/functions/v1/<name>`).
//!
//! The scan collects every file's routes into the tree's route table
//! ([`crate::index::Project::routes`]) for requests that forward a callback's code to another
//! route of the tree, and [`matches`] says whether a request's method and path reach a route.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::facts::{Call, Expr, ExprKind, FileFacts, Function, Language, StmtKind, dotted_prefix, last_segment, words_of};
use crate::index::Project;
use rayon::prelude::*;

/// Router and application constructors, and the keyword holding their prefix (none for
/// applications: their routes start at `/`).
const ROUTER_CONSTRUCTORS: &[(&str, Option<&str>)] = &[
    ("APIRouter", Some("prefix")),
    ("Blueprint", Some("url_prefix")),
    ("FastAPI", None),
    ("Flask", None),
    ("Starlette", None),
    ("Router", None),
    ("Hono", None),
];

/// NestJS method decorators and the HTTP method each declares (`All`: any).
const NEST_DECORATORS: &[(&str, &str)] = &[
    ("Get", "GET"),
    ("Post", "POST"),
    ("Put", "PUT"),
    ("Patch", "PATCH"),
    ("Delete", "DELETE"),
    ("Head", "HEAD"),
    ("Options", "OPTIONS"),
    ("All", ""),
];

/// The key under which [`router_prefixes`]-style maps hold the prefix NestJS's
/// `app.setGlobalPrefix('api')` puts before every controller (not a variable name).
const NEST_GLOBAL_PREFIX: &str = "@Controller";

/// Decorator methods that declare one HTTP method each.
const METHOD_DECORATORS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options"];

/// Decorator methods that take `methods=[...]` (default GET).
const MULTI_METHOD_DECORATORS: &[&str] = &["route", "api_route"];

/// Flask-AppBuilder's method decorator, `@expose("/oauth2/", methods=["GET"])`, declaring a
/// route under its class's route base ([`view_route_base`]).
const FAB_EXPOSE: &str = "expose";

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

impl Route {
    /// A route a browser may come back to named `callback` (`/oauth2callback`,
    /// `/callback/{p}`, `notion_callback`, `/x/callback2`): a stub when it exchanges nothing,
    /// and what names an unknown provider. The word is singular (`/config/callbacks` lists
    /// settings) and not a callback URL (`/callback-url`); the method is one a redirect uses
    /// (GET, or POST for `form_post`); the handler's name lists no callback settings
    /// (`get_team_callbacks`) and, off GET, has none of `[callbacks] settings_verbs`
    /// (`POST /config/callback/delete` of `delete_callback`) nor, in the path or the name,
    /// one of `[callbacks] other_protocol_words` (`POST /sso/saml/callback`,
    /// `POST /twilio/status-callback`). An anonymous handler, named for its route
    /// (`get /install/callback`), has no name of its own to judge.
    pub fn is_named_callback(&self, config: &Config) -> bool {
        let get = self.methods.is_empty() || self.methods.iter().any(|method| method == "GET");
        if !get && !self.methods.iter().any(|method| method == "POST") {
            return false;
        }
        let name = if self.handler.contains([' ', '/']) { "" } else { last_segment(&self.handler) };
        let name_words = words_of(name);
        let path_words = words_of(&self.path);
        let lists_settings = name_words.iter().any(|word| word.ends_with("callbacks"));
        let manages = name_words.iter().any(|word| config.callbacks.settings_verbs.contains(word));
        let other_protocol = path_words.iter().chain(&name_words).any(|word| config.callbacks.other_protocol_words.contains(word));
        if lists_settings || ((manages || other_protocol) && !get) {
            return false;
        }
        let names_callback = |words: &[String]| {
            words.iter().enumerate().any(|(index, word)| {
                word.contains("callback")
                    && !word.ends_with("callbacks")
                    && !matches!(words.get(index + 1).map(String::as_str), Some("url" | "uri"))
            })
        };
        names_callback(&path_words) || names_callback(&name_words)
    }
}

/// Cheap test on the raw text: a file without a route decorator (`@router.get(`,
/// `@app.route(`) or a registering call declares no route handler. In Python only
/// decorators and `add_api_route`/`add_url_rule` declare routes ([`routes_with_prefixes`]),
/// so an HTTP client's `client.get("/users/me")` does not count there.
pub fn may_declare_handlers(text: &str, language: Language) -> bool {
    let bytes = text.as_bytes();
    if memchr::memmem::find(bytes, b"add_api_route").is_some() || memchr::memmem::find(bytes, b"add_url_rule").is_some() {
        return true;
    }
    if language == Language::Python {
        return has_route_decorator(bytes, true);
    }
    if memchr::memmem::find(bytes, b".route(").is_some()
        || memchr::memmem::find(bytes, b"@Controller(").is_some()
        || memchr::memmem::find(bytes, b"serve(").is_some()
    {
        return true;
    }
    // Express, Router and Hono: `router.post('/callback'`, `app.get("/x"`.
    if memchr::memchr_iter(b'.', bytes).any(|at| {
        let rest = &bytes[at + 1..];
        METHOD_DECORATORS.iter().chain(["all"].iter()).any(|method| {
            rest.strip_prefix(method.as_bytes())
                .and_then(|tail| tail.strip_prefix(b"("))
                .is_some_and(|tail| matches!(tail.first(), Some(b'\'' | b'"' | b'`')) && tail.get(1) == Some(&b'/'))
        })
    }) {
        return true;
    }
    // actix-web's `#[get("/callback")]`.
    if memchr::memmem::find_iter(bytes, b"#[").any(|at| {
        let rest = &bytes[at + 2..];
        METHOD_DECORATORS.iter().any(|method| rest.strip_prefix(method.as_bytes()).is_some_and(|tail| tail.first() == Some(&b'(')))
    }) {
        return true;
    }
    has_route_decorator(bytes, false)
}

/// `@router.get(`, `@app.route(`, and with `bare`, Litestar's `@get(` too.
fn has_route_decorator(bytes: &[u8], bare: bool) -> bool {
    memchr::memchr_iter(b'@', bytes).any(|at| {
        let rest = &bytes[at + 1..];
        let dotted = dotted_prefix(rest);
        if rest.get(dotted.len()) != Some(&b'(') {
            return false;
        }
        let dotted = std::str::from_utf8(dotted).unwrap_or("");
        let method = last_segment(dotted);
        (bare || dotted.contains('.'))
            && (METHOD_DECORATORS.contains(&method) || MULTI_METHOD_DECORATORS.contains(&method) || (bare && method == FAB_EXPOSE))
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
                // Flask-AppBuilder's `@expose(...)` on a view's or API's method.
                ExprKind::Attribute { name: method, .. } | ExprKind::Name(method)
                    if method == FAB_EXPOSE && facts.language == Language::Python =>
                {
                    let Some(class) = &function.class else { continue };
                    (view_route_base(facts, class), method)
                }
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
    match facts.language {
        Language::Python => {}
        Language::Rust => routes.extend(method_routers(facts)),
        Language::TypeScript => {
            routes.extend(registered_handlers(facts, &prefix_of));
            routes.extend(nest_routes(facts, prefixes.get(NEST_GLOBAL_PREFIX).map(String::as_str).unwrap_or_default()));
        }
    }
    routes.sort();
    routes
}

/// The routes of a file: those its code declares, and those its path declares.
pub fn file_routes(facts: &FileFacts, prefixes: &BTreeMap<String, String>, relative_path: &str) -> Vec<Route> {
    let mut routes = routes_with_prefixes(facts, prefixes);
    routes.extend(path_routes(facts, relative_path));
    routes.sort();
    routes
}

fn route_of(function: &Function, path: String, methods: Vec<String>, line: usize) -> Route {
    Route {
        path,
        methods,
        handler: function.qualified_name(),
        line,
        params: function.params.iter().map(|param| param.name.clone()).collect(),
    }
}

/// Express, Router and Hono registrations: `router.post('/callback', requireUser, handler)`
/// or `router.route('/callback').get(handler).post(other)`, where the last argument names
/// a function of the file (a closure is one, named for its route by the frontend).
fn registered_handlers(facts: &FileFacts, prefix_of: &dyn Fn(&Expr) -> String) -> Vec<Route> {
    let mut routes = Vec::new();
    for function in &facts.functions {
        function.body.visit(&mut |stmt| {
            for expression in stmt.expressions() {
                expression.walk(&mut |part| {
                    let Some(call) = part.as_call() else { return };
                    let ExprKind::Attribute { object: router, name: method } = &call.callee.kind else { return };
                    let methods = match method.as_str() {
                        "all" => Vec::new(),
                        verb if METHOD_DECORATORS.contains(&verb) => vec![verb.to_uppercase()],
                        _ => return,
                    };
                    let Some(handler) = call.args.last().and_then(Expr::as_name) else { return };
                    // `router.post('/callback', mw, handler)`, or a method of a
                    // `router.route('/callback').get(handler).post(other)` chain.
                    let (router, path) = match call.args.first().map(|arg| &arg.kind) {
                        Some(ExprKind::String(path)) if call.args.len() >= 2 => (&**router, path.as_str()),
                        _ => match call.callee.chained_on("route") {
                            Some((router, path)) if router.dotted().is_some() => (router, path),
                            _ => return,
                        },
                    };
                    if !path.starts_with('/') {
                        return;
                    }
                    let Some(defined) = facts.functions.iter().find(|candidate| candidate.name == handler && !candidate.is_module()) else {
                        return;
                    };
                    routes.push(route_of(defined, join(&prefix_of(router), path), methods.clone(), part.span.start.line));
                });
            }
        });
    }
    routes
}

/// NestJS: methods whose decorators hold `@Controller(prefix)` (the class's, first) and a
/// method decorator `@Get(path)`, under the application's `setGlobalPrefix(prefix)`.
fn nest_routes(facts: &FileFacts, global_prefix: &str) -> Vec<Route> {
    let mut routes = Vec::new();
    for function in facts.functions.iter().filter(|function| function.class.is_some()) {
        let mut controller = None;
        let mut declared = Vec::new();
        for decorator in &function.decorators {
            let Some(call) = decorator.as_call() else { continue };
            let Some(name) = call.callee.as_name() else { continue };
            let argument = match call.args.first().map(|arg| &arg.kind) {
                Some(ExprKind::String(text)) => Some(text.clone()),
                // `@Controller({ path: 'x' })`
                Some(ExprKind::Dict(entries)) => {
                    entries.iter().find_map(|(key, value)| match (key.as_ref().map(|key| &key.kind), &value.kind) {
                        (Some(ExprKind::String(key)), ExprKind::String(text)) if key == "path" => Some(text.clone()),
                        _ => None,
                    })
                }
                _ => None,
            };
            if name == "Controller" {
                controller = Some(argument.unwrap_or_default());
            } else if let Some((_, method)) = NEST_DECORATORS.iter().find(|(decorator, _)| *decorator == name) {
                declared.push((argument.unwrap_or_default(), *method, decorator.span.start.line));
            }
        }
        let Some(controller) = controller else { continue };
        for (path, method, line) in declared {
            let methods = if method.is_empty() { Vec::new() } else { vec![method.to_string()] };
            let full = join(&join(&join("/", global_prefix), &controller), &path);
            routes.push(route_of(function, if full.starts_with('/') { full } else { format!("/{full}") }, methods, line));
        }
    }
    routes
}

/// How a route handler answers a request, as far as code inserted into it to answer early
/// (`fix`'s guard) must follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerStyle {
    /// Returns a web `Response`: a Next.js app router method export, an edge function.
    WebResponse,
    /// A NestJS controller method: throws an `HttpException`.
    NestException,
    /// Anything else: an Express-style `res` parameter, Hono's context, or no handler.
    Other,
}

/// The [`AnswerStyle`] of `function`, defined in the file at `relative_path`.
pub fn answer_style(facts: &FileFacts, relative_path: &str, function: &Function) -> AnswerStyle {
    let handles = |routes: Vec<Route>| routes.iter().any(|route| route.handler == function.qualified_name());
    if function.class.is_some() && handles(nest_routes(facts, "")) {
        return AnswerStyle::NestException;
    }
    let web = matches!(path_route(relative_path), Some(PathRoute::MethodExports(_) | PathRoute::Served(_)));
    if web && handles(path_routes(facts, relative_path)) { AnswerStyle::WebResponse } else { AnswerStyle::Other }
}

/// True for a file whose path declares routes: a Next.js `route.ts` or pages router API
/// file, or an edge function's entry point.
pub fn is_route_file(relative_path: &str) -> bool {
    path_route(relative_path).is_some()
}

/// What a file's path declares: the route path, and whether the file's exported HTTP
/// method functions (`GET`, `POST`) are the handlers (Next.js app router) or its default
/// export (pages router), or a `serve(handler)` call (edge functions).
#[derive(Debug, Clone, PartialEq, Eq)]
enum PathRoute {
    MethodExports(String),
    DefaultExport(String),
    Served(String),
}

fn path_route(relative_path: &str) -> Option<PathRoute> {
    let (stem_path, extension) = relative_path.rsplit_once('.')?;
    if !crate::lang::TYPESCRIPT_EXTENSIONS.contains(&extension) {
        return None;
    }
    let segments: Vec<&str> = stem_path.split('/').collect();
    let url = |parts: &[&str]| -> String {
        let kept: Vec<String> = parts
            .iter()
            // Route groups `(auth)` and parallel routes `@modal` are not in the URL.
            .filter(|part| !(part.starts_with('@') || part.starts_with('(') && part.ends_with(')')) && **part != "index")
            .map(|part| match part.strip_prefix('[').and_then(|inner| inner.strip_suffix(']')) {
                Some(parameter) => format!("{{{}}}", parameter.trim_start_matches("...")),
                None => part.to_string(),
            })
            .collect();
        format!("/{}", kept.join("/"))
    };
    if segments.last() == Some(&"route")
        && let Some(app) = segments.iter().rposition(|segment| *segment == "app")
    {
        return Some(PathRoute::MethodExports(url(segments.get(app + 1..segments.len() - 1).unwrap_or_default())));
    }
    if let Some(pages) = segments.iter().rposition(|segment| *segment == "pages")
        && segments.get(pages + 1) == Some(&"api")
    {
        return Some(PathRoute::DefaultExport(url(segments.get(pages + 1..).unwrap_or_default())));
    }
    if segments.last() == Some(&"index")
        && let Some(functions) = segments.iter().rposition(|segment| *segment == "functions")
        && segments.len() == functions + 3
    {
        let name = segments.get(functions + 1).copied().unwrap_or_default();
        if !name.starts_with('_') {
            return Some(PathRoute::Served(format!("/functions/v1/{name}")));
        }
    }
    None
}

/// The routes a file's path declares, with the handlers its code defines for them.
pub fn path_routes(facts: &FileFacts, relative_path: &str) -> Vec<Route> {
    let Some(declared) = path_route(relative_path) else { return Vec::new() };
    let module_functions =
        || facts.functions.iter().filter(|function| function.parent == Some(crate::facts::FunctionId(0)) && function.class.is_none());
    match declared {
        PathRoute::MethodExports(path) => module_functions()
            .filter(|function| {
                METHOD_DECORATORS.contains(&function.name.to_lowercase().as_str()) && function.name.chars().all(|c| c.is_ascii_uppercase())
            })
            .map(|function| route_of(function, path.clone(), vec![function.name.clone()], function.name_span.start.line))
            .collect(),
        PathRoute::DefaultExport(path) => {
            // `export default handler` assigns `default = handler`; an anonymous one is `default`.
            let exported = facts.module().and_then(|module| {
                module.body.statements.iter().find_map(|stmt| match &stmt.kind {
                    StmtKind::Assign { targets, value, .. } if targets.iter().any(|target| target.as_name() == Some("default")) => {
                        value.as_name().map(str::to_string)
                    }
                    _ => None,
                })
            });
            let name = exported.unwrap_or_else(|| "default".to_string());
            module_functions()
                .find(|function| function.name == name)
                .map(|function| route_of(function, path, Vec::new(), function.name_span.start.line))
                .into_iter()
                .collect()
        }
        PathRoute::Served(path) => {
            let mut routes = Vec::new();
            if let Some(module) = facts.module() {
                for (_, call, expression) in module.body.calls() {
                    let served = call.callee.dotted().is_some_and(|callee| callee == "serve" || callee == "Deno.serve");
                    let Some(handler) = call.args.last().and_then(Expr::as_name).filter(|_| served) else { continue };
                    if let Some(function) = facts.functions.iter().find(|function| function.name == handler && !function.is_module()) {
                        routes.push(route_of(function, path.clone(), Vec::new(), expression.span.start.line));
                    }
                }
            }
            routes
        }
    }
}

/// A route of the scanned tree, with the file declaring it.
#[derive(Debug, Clone)]
pub struct ProjectRoute {
    pub file_index: usize,
    pub route: Route,
}

/// The routers other files mount into each file's routers, by index of the file defining
/// them (`app.include_router(r, prefix=...)`, `app.use('/api', router)`), in parallel on
/// the current thread pool.
pub fn project_mounts(project: &Project) -> Vec<Vec<Mount>> {
    let found: Vec<Vec<Mount>> = (0..project.files.len())
        .into_par_iter()
        .with_max_len(1)
        .map(|index| {
            if !may_mount_routers(&project.files[index].text, project.files[index].language) {
                return Vec::new();
            }
            project.facts(index).map(|facts| mounts_in(project, index, facts)).unwrap_or_default()
        })
        .collect();
    let mut mounts: Vec<Vec<Mount>> = vec![Vec::new(); project.files.len()];
    for mount in found.into_iter().flatten() {
        if let Some(slot) = mounts.get_mut(mount.file_index) {
            slot.push(mount);
        }
    }
    mounts
}

/// The name of a path parameter segment, `None` for a literal segment: FastAPI's `{id}` and
/// `{path:path}`, Express's `:id`, `:id?` and `:id(a|b)`, Next.js's `[id]` and
/// `[...slug]`, Flask's `<id>` and `<int:id>`, and an interpolated `{expr}` or `${expr}`
/// (its text).
pub fn parameter_name(segment: &str) -> Option<&str> {
    let name = if let Some(rest) = segment.strip_prefix(':') {
        // `:provider(google|github)`, `:id?`: the name before any pattern or modifier.
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        &rest[..end]
    } else if let Some(inner) = segment.strip_prefix("${").or_else(|| segment.strip_prefix('{')).and_then(|rest| rest.strip_suffix('}')) {
        inner.split(':').next().unwrap_or(inner)
    } else if let Some(inner) = segment.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
        inner.trim_matches(['[', ']', '.'])
    } else if let Some(inner) = segment.strip_prefix('<').and_then(|rest| rest.strip_suffix('>')) {
        inner.rsplit(':').next().unwrap_or(inner)
    } else {
        return None;
    };
    Some(name.trim_end_matches(['?', '*', '+']).trim())
}

/// The segments of a path, parameters ([`parameter_name`]) as `None`.
fn path_segments(path: &str) -> Vec<Option<&str>> {
    path.split('?')
        .next()
        .unwrap_or(path)
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| parameter_name(segment).is_none().then_some(segment))
        .collect()
}

/// True when a request with `method` to `path` reaches `route`: the same segments, a
/// parameter on either side matching any one segment, and the method among the route's
/// (a route with no methods answers any).
pub fn matches(route: &Route, method: &str, path: &str) -> bool {
    let (wanted, declared) = (path_segments(path), path_segments(&route.path));
    wanted.len() == declared.len()
        && wanted.iter().zip(&declared).all(|(a, b)| a.is_none() || b.is_none() || a == b)
        && (route.methods.is_empty() || route.methods.iter().any(|candidate| candidate.eq_ignore_ascii_case(method)))
}

/// How close a route is to a request that reaches none: shared leading segments first,
/// then shared segments anywhere, then the method.
pub fn closeness(route: &Route, method: &str, path: &str) -> (usize, usize, bool) {
    let (wanted, declared) = (path_segments(path), path_segments(&route.path));
    let leading = wanted.iter().zip(&declared).take_while(|(a, b)| a.is_none() || b.is_none() || a == b).count();
    let shared = wanted.iter().filter(|segment| segment.is_some() && declared.contains(segment)).count();
    let same_method = route.methods.is_empty() || route.methods.iter().any(|candidate| candidate.eq_ignore_ascii_case(method));
    (leading, shared, same_method)
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
    /// How many mounts lie between this one and the router: 0 for a direct mount, 1 for
    /// the prefix of a router that mounts the one mounting it (`app.use('/api/x',
    /// xRouter)` where `xRouter.use('', oauthRouter)`). Inner prefixes apply first.
    pub depth: usize,
}

/// Cheap test on the raw text: a file without these calls mounts no router. Python mounts
/// with `include_router`/`register_blueprint` only: its `.route(` is Flask's decorator, which
/// [`direct_mounts`] never reads as a mount.
pub fn may_mount_routers(text: &str, language: Language) -> bool {
    let found = |needle: &[u8]| memchr::memmem::find(text.as_bytes(), needle).is_some();
    found(b"include_router(")
        || found(b"register_blueprint(")
        || (language != Language::Python && (found(b".use(") || found(b".route(") || found(b".setGlobalPrefix(")))
}

/// How many routers deep mounts through mounts are followed.
const MOUNT_DEPTH: usize = 3;

/// The routers file `file_index` mounts with a prefix, resolved to the files defining them,
/// and the routers those mount in turn (with this file's prefix, one level deeper).
pub fn mounts_in(project: &Project, file_index: usize, facts: &FileFacts) -> Vec<Mount> {
    let mut mounts = direct_mounts(project, file_index, facts, None);
    let mut frontier = mounts.clone();
    for depth in 1..=MOUNT_DEPTH {
        let mut next = Vec::new();
        for mount in &frontier {
            // A mounted router's file is parsed here only when it mounts routers itself:
            // otherwise it would be parsed up front, on this file's thread, rather than in
            // the parallel per-file pass (`main.py` mounting thirty routers).
            if !project.files.get(mount.file_index).is_some_and(|file| may_mount_routers(&file.text, file.language)) {
                continue;
            }
            let Some(target_facts) = project.facts(mount.file_index) else { continue };
            for inner in direct_mounts(project, mount.file_index, target_facts, Some(&mount.router)) {
                if inner.file_index == file_index
                    || mounts.iter().chain(&next).any(|known: &Mount| known.file_index == inner.file_index && known.router == inner.router)
                {
                    continue;
                }
                next.push(Mount { prefix: mount.prefix.clone(), replaces: mount.replaces, depth, ..inner });
            }
        }
        mounts.extend(next.iter().cloned());
        frontier = next;
    }
    mounts
}

/// The mounts written in one file, on `on` (a router variable) when given.
fn direct_mounts(project: &Project, file_index: usize, facts: &FileFacts, on: Option<&str>) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for function in &facts.functions {
        function.body.visit(&mut |stmt| {
            let StmtKind::Expr(expr) = &stmt.kind else { return };
            let Some(call) = expr.unawaited().as_call() else { return };
            let ExprKind::Attribute { name, object: mounting } = &call.callee.kind else { return };
            if on.is_some_and(|on| mounting.dotted().as_deref() != Some(on)) {
                return;
            }
            // Express's `app.use('/api/x', auth, router)` and Hono's `app.route('/api', sub)`.
            if facts.language != Language::Python
                && matches!(name.as_str(), "use" | "route")
                && let (Some(ExprKind::String(prefix)), Some(router)) =
                    (call.args.first().map(|arg| &arg.kind), call.args.last().and_then(Expr::dotted))
                && call.args.len() >= 2
                && (prefix.is_empty() || prefix.starts_with('/'))
            {
                let target = match router.rsplit_once('.') {
                    Some((module, variable)) => {
                        project.resolve_module_alias(file_index, facts, module).map(|target| (target, variable.to_string()))
                    }
                    None => project
                        .resolve_import(file_index, facts, &router)
                        .map(|(target, name)| (target, name.to_string()))
                        .or_else(|| router_prefixes(facts).contains_key(&router).then(|| (file_index, router.clone()))),
                };
                if let Some((target, variable)) = target {
                    let variable = project.exported_name(target, &variable);
                    mounts.push(Mount { file_index: target, router: variable, prefix: prefix.clone(), replaces: false, depth: 0 });
                }
                return;
            }
            // NestJS's `app.setGlobalPrefix('api')` in `main.ts`: every controller of the
            // application (the files under this one's folder) is under it.
            if name == "setGlobalPrefix"
                && facts.language != Language::Python
                && on.is_none()
                && let Some(ExprKind::String(prefix)) = call.args.first().map(|arg| &arg.kind)
            {
                let folder = project.path(file_index).rsplit_once('/').map(|(folder, _)| format!("{folder}/")).unwrap_or_default();
                for (target, file) in project.files.iter().enumerate() {
                    if file.relative_path.starts_with(&folder) && memchr::memmem::find(file.text.as_bytes(), b"@Controller(").is_some() {
                        let router = NEST_GLOBAL_PREFIX.to_string();
                        mounts.push(Mount { file_index: target, router, prefix: prefix.clone(), replaces: false, depth: 0 });
                    }
                }
                return;
            }
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
                mounts.push(Mount { file_index: target, router: variable, prefix: prefix.clone(), replaces, depth: 0 });
            }
        });
    }
    mounts
}

/// The prefixes of a file's routers once `mounts` (of this file's routers) are applied.
pub fn mounted_prefixes(facts: &FileFacts, mounts: &[Mount]) -> BTreeMap<String, String> {
    let mut prefixes = router_prefixes(facts);
    let mut ordered: Vec<&Mount> = mounts.iter().collect();
    ordered.sort_by_key(|mount| mount.depth);
    for mount in ordered {
        if mount.router == NEST_GLOBAL_PREFIX {
            prefixes.insert(mount.router.clone(), mount.prefix.clone());
            continue;
        }
        if let Some(own) = prefixes.get_mut(&mount.router) {
            *own = if mount.replaces { mount.prefix.clone() } else { join(&mount.prefix, own) };
        }
    }
    prefixes
}

/// The path and methods a route decorator declares, if it is one.
fn declared(call: &Call, method: &str) -> Option<(String, Vec<String>)> {
    if method == FAB_EXPOSE {
        // `@expose()` is the view's index, at its route base.
        let path = if call.args.is_empty() && keyword(call, "url").is_none() { String::new() } else { string_argument(call, 0, &["url"])? };
        return Some((path, methods_keyword(call).unwrap_or_else(|| vec!["GET".to_string()])));
    }
    let path = string_argument(call, 0, &["path", "rule"])?;
    if METHOD_DECORATORS.contains(&method) {
        return Some((path, vec![method.to_uppercase()]));
    }
    if MULTI_METHOD_DECORATORS.contains(&method) {
        return Some((path, methods_keyword(call).unwrap_or_else(|| vec!["GET".to_string()])));
    }
    None
}

/// The route bases of a file's Flask-AppBuilder classes ([`view_route_base`]) that expose
/// routes: what router prefixes are to FastAPI, they say what the routes are about
/// (`/api/v1/database` of Superset's `DatabaseRestApi`).
pub fn view_route_bases(facts: &FileFacts) -> Vec<String> {
    if facts.language != Language::Python {
        return Vec::new();
    }
    // Each class once: a view exposes many methods, and its base is read from the module.
    let classes: std::collections::BTreeSet<&str> = facts
        .functions
        .iter()
        .filter(|function| function.decorators.iter().any(is_expose))
        .filter_map(|function| function.class.as_deref())
        .collect();
    let mut bases: Vec<String> = classes.into_iter().map(|class| view_route_base(facts, class)).collect();
    bases.sort();
    bases.dedup();
    bases
}

fn is_expose(decorator: &Expr) -> bool {
    decorator.as_call().and_then(|call| call.callee.dotted()).is_some_and(|callee| last_segment(&callee) == FAB_EXPOSE)
}

/// Where Flask-AppBuilder serves a class's `@expose` routes: its `route_base`; for an API
/// (`BaseApi`, `ModelRestApi`, a class whose base is named `...Api`, or one naming a
/// `resource_name`), `/api/<version>/<resource_name>`; for a view, `/<class name>`. Names
/// default as Flask-AppBuilder's do: version `v1`, resource and view the class name in lower
/// case.
fn view_route_base(facts: &FileFacts, class: &str) -> String {
    let mut attributes: BTreeMap<&str, &str> = BTreeMap::new();
    if let Some(module) = facts.functions.first() {
        module.body.visit(&mut |stmt| {
            let StmtKind::ClassDef { name, body } = &stmt.kind else { return };
            if name != class {
                return;
            }
            for stmt in &body.statements {
                let StmtKind::Assign { targets, value, augmented: false } = &stmt.kind else { continue };
                let (Some(target), ExprKind::String(text)) = (targets.first().and_then(Expr::as_name), &value.kind) else { continue };
                attributes.insert(target, text);
            }
        });
    }
    if let Some(base) = attributes.get("route_base") {
        return base.to_string();
    }
    let lower = class.to_lowercase();
    let is_api = attributes.contains_key("resource_name")
        || facts.classes.iter().filter(|defined| defined.name == class).flat_map(|defined| &defined.bases).any(|base| {
            base.dotted().is_some_and(|base| {
                let base = last_segment(&base);
                base.ends_with("Api") || base.ends_with("API")
            })
        });
    if !is_api {
        return format!("/{lower}");
    }
    let version = attributes.get("version").copied().unwrap_or("v1");
    let resource = attributes.get("resource_name").copied().unwrap_or(&lower);
    format!("/api/{version}/{resource}")
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
    fn python_declares_routes_by_decorator_only() {
        let python = |text: &str| may_declare_handlers(text, Language::Python);
        assert!(!python("async def me(client):\n    return await client.get(\"/users/me\")\n"));
        assert!(python("@router.get(\"/callback\")\nasync def callback(code: str):\n    ...\n"));
        assert!(python("@get(\"/callback\")\nasync def callback(code: str) -> None:\n    ...\n"));
        assert!(python("router.add_api_route(\"/callback\", callback)\n"));
        // The same call declares an Express route.
        assert!(may_declare_handlers("router.get('/users/me', handler);\n", Language::TypeScript));
        // What the prefilter lets through is what routes_of reads: a client call is no route.
        assert!(routes("def handler():\n    ...\n\nclient.get(\"/users/me\", handler)\n").is_empty());
        assert_eq!(routes("from litestar import get\n\n@get(\"/callback\")\nasync def callback(code: str) -> None:\n    ...\n").len(), 1);
    }

    #[test]
    fn python_mounts_by_include_router_and_register_blueprint_only() {
        assert!(may_mount_routers("app.include_router(zoom.router, prefix=\"/api\")\n", Language::Python));
        assert!(may_mount_routers("app.register_blueprint(bp, url_prefix=\"/x\")\n", Language::Python));
        // Flask's decorator and Express/Hono/NestJS calls mount nothing in Python.
        let flask = "@app.route(\"/callback\")\ndef callback():\n    ...\n\napp.route(\"/api\", sub)\napp.use(\"/x\", sub)\n";
        assert!(!may_mount_routers(flask, Language::Python));
        assert!(may_mount_routers("app.route('/api', sub);\n", Language::TypeScript));
        assert!(may_mount_routers("app.use('/api/x', router);\n", Language::TypeScript));
        // What the prefilter skips, the mount reader finds nothing in.
        let file = |path: &str, text: &str| crate::source::SourceFile::new(path.into(), path.into(), Language::Python, text.into());
        let project = Project::new(vec![file("app.py", &format!("from sub import sub\n{flask}")), file("sub.py", "sub = Router()\n")]);
        let facts = project.facts(0).expect("parses");
        assert!(direct_mounts(&project, 0, facts, None).is_empty());
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
    fn flask_appbuilder_exposes_routes_under_the_class_route_base() {
        let text = "from flask_appbuilder import BaseView, expose\nfrom flask_appbuilder.api import BaseApi\n\n\
                    class DatabaseRestApi(BaseSupersetModelRestApi):\n    resource_name = \"database\"\n\n\
                    \x20   @expose(\"/oauth2/\", methods=[\"GET\"])\n    @transaction()\n    def oauth2(self):\n        ...\n\n\
                    class ChartApi(BaseApi):\n    version = \"v2\"\n\n    @expose(url=\"/<pk>\", methods=(\"get\", \"POST\"))\n    def get(self, pk):\n        ...\n\n\
                    class RedirectView(BaseView):\n    route_base = \"/redirect\"\n\n    @expose(\"/\")\n    def redirect(self):\n        ...\n\n\
                    class Dashboard(BaseView):\n    @expose()\n    def index(self):\n        ...\n\n\
                    @expose(\"/loose\")\ndef loose():\n    ...\n";
        assert!(may_declare_handlers(text, Language::Python));
        let found: Vec<(String, Vec<String>, String)> =
            routes(text).into_iter().map(|route| (route.path, route.methods, route.handler)).collect();
        let expected = [
            ("/api/v1/database/oauth2/", vec!["GET"], "DatabaseRestApi.oauth2"),
            ("/api/v2/chartapi/<pk>", vec!["GET", "POST"], "ChartApi.get"),
            ("/dashboard", vec!["GET"], "Dashboard.index"),
            ("/redirect/", vec!["GET"], "RedirectView.redirect"),
        ];
        let expected: Vec<(String, Vec<String>, String)> = expected
            .iter()
            .map(|(path, methods, handler)| {
                (path.to_string(), methods.iter().map(|method| method.to_string()).collect(), handler.to_string())
            })
            .collect();
        assert_eq!(found, expected);
        // A TypeScript `@expose(` is no route decorator.
        assert!(!may_declare_handlers("@expose(\"/x\")\nclass A {}\n", Language::TypeScript));
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
        let mount = |router: &str, prefix: &str, replaces: bool| Mount {
            file_index: 0,
            router: router.into(),
            prefix: prefix.into(),
            replaces,
            depth: 0,
        };
        let prefixes =
            mounted_prefixes(&facts, &[mount("router", "/api", false), mount("bp", "/new", true), mount("missing", "/x", false)]);
        assert_eq!(prefixes.get("router").map(String::as_str), Some("/api/zoom"));
        assert_eq!(prefixes.get("bp").map(String::as_str), Some("/new"));
        assert!(!prefixes.contains_key("missing"));
    }

    fn ts_routes(text: &str, prefixes: &[(&str, &str)]) -> Vec<(String, Vec<String>, String)> {
        let facts = crate::lang::typescript::extract(text, crate::lang::typescript::Dialect::TypeScript, ExtractOptions::default())
            .expect("parses");
        let prefixes: BTreeMap<String, String> = prefixes.iter().map(|(name, prefix)| (name.to_string(), prefix.to_string())).collect();
        routes_with_prefixes(&facts, &prefixes).into_iter().map(|route| (route.path, route.methods, route.handler)).collect()
    }

    #[test]
    fn express_route_chains_register_each_method() {
        let text = "const router = Router();\nasync function remove(req, res) {}\n\
                    router.route('/install/callback').get(async (req, res) => {\n  res.send('ok');\n}).post(remove);\n\
                    router.route('/x');\nrouter.post('/y', remove);\n";
        let found = ts_routes(text, &[("router", "/api/hubspot")]);
        assert_eq!(
            found,
            vec![
                ("/api/hubspot/install/callback".to_string(), vec!["GET".to_string()], "get /install/callback".to_string()),
                ("/api/hubspot/install/callback".to_string(), vec!["POST".to_string()], "remove".to_string()),
                ("/api/hubspot/y".to_string(), vec!["POST".to_string()], "remove".to_string()),
            ]
        );
    }

    #[test]
    fn a_route_named_callback_is_one_a_redirect_comes_back_to() {
        let config = Config::defaults().expect("defaults");
        let named = |methods: &[&str], path: &str, handler: &str| {
            let methods = methods.iter().map(|method| method.to_string()).collect();
            Route { path: path.into(), methods, handler: handler.into(), line: 0, params: Vec::new() }.is_named_callback(&config)
        };
        assert!(named(&["GET"], "/oauth2callback", "finish"));
        assert!(named(&[], "/api/x/callback/{provider}", "finish"));
        assert!(named(&["POST"], "/sso/oidc", "oidc_callback"));
        assert!(named(&["GET"], "/connect", "Handler.handleCallback"));
        assert!(named(&["GET"], "/globex/callback2", "finish"));
        assert!(named(&["GET"], "/initech/oauthcallbackhandler", "finish"));
        // A browser lands on a GET: a verb in the handler's name does not veto it, nor do
        // the words of an anonymous handler's path.
        assert!(named(&["GET"], "/slack/add/callback", "add_to_slack_callback"));
        assert!(named(&["GET"], "/acme/set-up/callback", "get /acme/set-up/callback"));
        assert!(named(&["POST"], "/acme/set-up/callback", "post /acme/set-up/callback"));
        // LiteLLM's logging callbacks, a DELETE on a callback path, a callback URL.
        assert!(!named(&["GET"], "/get/config/callbacks", "get_config"));
        assert!(!named(&["POST"], "/config/callback/delete", "delete_callback"));
        assert!(!named(&["POST"], "/team/{team_id}/callback", "add_team_callbacks"));
        assert!(!named(&["GET"], "/team/{team_id}/callback", "get_team_callbacks"));
        assert!(!named(&["DELETE"], "/install/callback", "handleUninstall"));
        assert!(!named(&["GET"], "/oauth/callback-url", "get_callback_url"));
        assert!(!named(&["GET"], "/items", "list_items"));
        // Another protocol's callbacks: SAML's assertion consumer, a webhook's status callback.
        // A browser lands on a GET: those words do not veto it (an `events` product).
        assert!(named(&["GET"], "/api/events/callback", "events_callback"));
        assert!(named(&["GET"], "/api/notion/callback", "notification_settings_callback"));
        assert!(!named(&["POST"], "/sso/saml/callback", "saml_callback"));
        assert!(!named(&["POST"], "/sso/acs", "callback"));
        assert!(!named(&["POST"], "/twilio/status-callback", "handle"));
        assert!(!named(&["POST"], "/hooks/callback", "webhook_callback"));
    }

    #[test]
    fn a_nest_global_prefix_goes_before_every_controller() {
        let text = "@Controller('integrations/notion')\nexport class C {\n  @Get('callback')\n  async callback() {}\n}\n";
        assert_eq!(ts_routes(text, &[])[0].0, "/integrations/notion/callback");
        assert_eq!(ts_routes(text, &[(NEST_GLOBAL_PREFIX, "api")])[0].0, "/api/integrations/notion/callback");
        assert_eq!(ts_routes(text, &[(NEST_GLOBAL_PREFIX, "/v1/")])[0].0, "/v1/integrations/notion/callback");
    }

    #[test]
    fn joining_paths() {
        assert_eq!(join("/api/", "/callback"), "/api/callback");
        assert_eq!(join("", "/callback"), "/callback");
        assert_eq!(join("/api", ""), "/api");
        assert_eq!(join("", ""), "/");
    }

    #[test]
    fn answer_styles_follow_the_framework() {
        let style = |path: &str, text: &str, function: &str| {
            let facts = crate::lang::typescript::extract(text, crate::lang::typescript::Dialect::TypeScript, ExtractOptions::default())
                .expect("parses");
            let found = facts.functions.iter().find(|candidate| candidate.name == function).expect("function");
            answer_style(&facts, path, found)
        };
        let app = "export async function GET(request) { return null; }\nexport async function helper() {}\n";
        assert_eq!(style("src/app/api/zoom/callback/route.ts", app, "GET"), AnswerStyle::WebResponse);
        assert_eq!(style("src/app/api/zoom/callback/route.ts", app, "helper"), AnswerStyle::Other);
        assert_eq!(style("src/lib/route.ts", app, "GET"), AnswerStyle::Other);
        let edge = "serve(async (req) => { return new Response('ok'); });\n";
        assert_eq!(style("supabase/functions/zoom-exchange/index.ts", edge, "serve"), AnswerStyle::WebResponse);
        let nest = "@Controller('zoom')\nexport class ZoomController {\n  @Get('callback')\n  async callback() {}\n  async other() {}\n}\n";
        assert_eq!(style("src/zoom/zoom.controller.ts", nest, "callback"), AnswerStyle::NestException);
        assert_eq!(style("src/zoom/zoom.controller.ts", nest, "other"), AnswerStyle::Other);
        let express = "router.get('/callback', async (req, res) => { res.send('ok'); });\n";
        assert_eq!(style("src/routes.ts", express, "get /callback"), AnswerStyle::Other);
    }
}
