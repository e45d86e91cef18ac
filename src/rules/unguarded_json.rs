//! ## unguarded-json (OA001)
//!
//! ### What it does
//! Finds zero-argument `.json()` calls on HTTP responses from a provider that are not
//! guarded against an HTML (or other non-JSON) body.
//!
//! ### Why is this bad?
//! A proxy, a login wall or a provider outage answers `200 text/html`. `.json()` then raises
//! a decode error deep in the OAuth flow and the user sees a crash instead of the provider's
//! message. `raise_for_status()`, `status_code == 200` and `res.ok` do not help: a `200` HTML
//! page passes all three.
//!
//! A call is guarded when, on every path from the response to the call, one of these holds:
//! a configured guard helper is called on that response and its result is acted on
//! (`is_html, err = check_html_response(response)` then `if is_html: raise ...`), or a
//! configured raising helper is called on it; the response's content type is checked and
//! the other branch leaves (raise/return); the call sits in a `try` whose first handler
//! that catches the decode error of that client (`json.JSONDecodeError`, `ValueError`,
//! `Exception`, bare `except`, `requests.RequestException` for requests, aiohttp's
//! `ContentTypeError`; not `httpx.HTTPError`) turns it into a clear error or a return rather
//! than re-raising it, or swallows it where nothing after the `try` reads what the `try`
//! bound; or the response comes from a wrapper that checks the content type
//! before returning it. A site in a function is guarded, too, when every call of that
//! function in the tree (by name: see [`crate::callers`]) sits in such a `try`, or in a
//! function whose calls do, up to three calls up. Incoming requests
//! (`await request.json()`) and pydantic models are not responses. Confidence is `high`
//! when the response comes from a known client call (directly or through a wrapper that
//! returns the raw response) and `medium` when only its name (`response`, `resp`, `r`,
//! `*_response`) says it is one.
//!
//! ### Example
//! ```python
//! response = await self.client.post(token_url, data=data)
//! response.raise_for_status()
//! token_data = response.json()
//! ```
//!
//! ### Use instead
//! ```python
//! response = await self.client.post(token_url, data=data)
//! response.raise_for_status()
//! is_html, html_error = check_html_response(response)
//! if is_html:
//!     raise HTTPException(status_code=400, detail=html_error or "Provider returned an error page")
//! token_data = response.json()
//! ```
//!
//! ### How to suppress
//! `# oauth-audit: ignore[unguarded-json] -- reason` on the line or the line above.
//!
//! ### Fix safety
//! `oauth-audit fix` inserts the guard (`rules/templates/python/guard.tmpl`) before the
//! statement holding the call, at its indentation, and the imports if missing; it creates
//! the helper module when the tree has none. A call inside a lambda, a comprehension, a
//! conditional expression, `and`/`or`, a statement header (`if`, `while`, `for`, `with`),
//! a statement sharing its line, module-level code or a chained expression has no statement
//! of its own to guard and is reported with `fixable: false`; so is the `body` of undici's
//! `request()`, which has no status or headers for the helper to read. In TypeScript the
//! guard is `rules/templates/typescript/guard.tmpl` (see `src/fix/typescript.rs`).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::callers::{self, CallRecord, FileCalls};
use crate::config::Config;
use crate::facts::*;
use crate::index::{Project, Resolver};
use crate::rules::{Confidence, Finding, RuleInfo, Severity};

pub static RULE: RuleInfo = RuleInfo {
    code: "OA001",
    slug: "unguarded-json",
    step: Some("html_guard"),
    severity: Severity::Error,
    fixable: true,
    title: "`.json()` on a provider response without a guard against an HTML error page",
    source: include_str!("unguarded_json.rs"),
};

/// How deep wrapper functions are followed (`_post_with_retry` -> `_send` -> client).
const MAX_WRAPPER_DEPTH: usize = 3;

/// The HTTP client library a response comes from, which decides the exceptions that its
/// `.json()` raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Library {
    Requests,
    Httpx,
    Aiohttp,
    Unknown,
}

impl Library {
    fn from_module(module: &str) -> Library {
        match module.split('.').next().unwrap_or("") {
            "requests" | "niquests" => Library::Requests,
            "httpx" => Library::Httpx,
            "aiohttp" => Library::Aiohttp,
            _ => Library::Unknown,
        }
    }

    /// Every library, each with its bit in a [`crate::callers::CallRecord`]'s guard bits.
    const ALL: [Library; 4] = [Library::Requests, Library::Httpx, Library::Aiohttp, Library::Unknown];

    /// The bits of the libraries `guards` holds for.
    fn bits(guards: impl Fn(Library) -> bool) -> u8 {
        Library::ALL.into_iter().filter(|library| guards(*library)).fold(0, |bits, library| bits | library.bit())
    }

    pub fn bit(self) -> u8 {
        match self {
            Library::Requests => 1,
            Library::Httpx => 2,
            Library::Aiohttp => 4,
            Library::Unknown => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Library::Requests => "requests",
            Library::Httpx => "httpx",
            Library::Aiohttp => "aiohttp",
            Library::Unknown => "this client's",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Verdict {
    Guarded,
    Unguarded { hints: Vec<String> },
}

/// One `.json()` call on a response, guarded or not: the sites of the `html_guard` step.
#[derive(Debug, Clone)]
pub struct JsonSite {
    pub file_index: usize,
    pub span: Span,
    pub function: Option<String>,
    pub receiver: String,
    /// The parse as the message shows it: `response.json()`, `serde_json.from_slice(body)`.
    pub parse: String,
    pub origin: String,
    /// The client library of the origin: which errors its `.json()` raises.
    pub library: Library,
    pub confidence: Confidence,
    pub verdict: Verdict,
    pub fixable: bool,
}

impl JsonSite {
    pub fn is_guarded(&self) -> bool {
        matches!(self.verdict, Verdict::Guarded)
    }

    pub fn finding(&self) -> Option<Finding> {
        let Verdict::Unguarded { hints } = &self.verdict else {
            return None;
        };
        let mut message = format!("`{}` parses {} with no guard against an HTML error page", self.parse, self.origin);
        for hint in hints {
            message.push_str("; ");
            message.push_str(hint);
        }
        Some(Finding {
            rule: &RULE,
            file_index: self.file_index,
            span: self.span,
            function: self.function.clone(),
            message,
            confidence: Some(self.confidence),
            fixable: self.fixable,
            related: Vec::new(),
        })
    }
}

/// Cheap test on the raw text: a file that names no JSON method (`.json(`, `.json::<`) and
/// no JSON parser (`from_slice(`) has no site.
pub fn may_have_sites(text: &str, config: &Config) -> bool {
    let bytes = text.as_bytes();
    let found = |needle: &str| memchr::memmem::find(bytes, needle.as_bytes()).is_some();
    config.http.json_methods.iter().any(|method| found(&format!(".{method}(")) || found(&format!(".{method}::<")))
        || config.http.json_parsers.iter().any(|parser| found(&format!("{}(", last_segment(parser))))
}

/// Every `.json()` site on a response in one file.
pub fn check_file(project: &Project, config: &Config, file_index: usize, facts: &FileFacts) -> Vec<JsonSite> {
    walk_file(project, config, file_index, facts, false).0
}

/// [`check_file`], and in the same walk every call of the file by the name it calls, with
/// the libraries whose decode error a `try` around it handles as a local `try` around a
/// `.json()` would: what settles a site in a helper whose callers all guard their call
/// ([`crate::callers`]).
pub fn check_file_and_calls(project: &Project, config: &Config, file_index: usize, facts: &FileFacts) -> (Vec<JsonSite>, FileCalls) {
    walk_file(project, config, file_index, facts, true)
}

fn walk_file(project: &Project, config: &Config, file_index: usize, facts: &FileFacts, with_calls: bool) -> (Vec<JsonSite>, FileCalls) {
    let cache = FileCache::default();
    // `from m import helper as h`: a call of `h` is a call of `helper`.
    let aliases: HashMap<&str, &str> = facts
        .imports
        .iter()
        .filter_map(|import| import.name.as_deref().filter(|name| *name != import.alias).map(|name| (import.alias.as_str(), name)))
        .collect();
    let mut sites = Vec::new();
    let mut calls = Vec::new();
    for (index, function) in facts.functions.iter().enumerate() {
        let context = FunctionContext::new(project, config, file_index, facts, function, 0).with_cache(&cache);
        // The libraries each enclosing `try` guards, by the `try`'s start: its calls share it.
        let mut by_try: HashMap<usize, u8> = HashMap::new();
        context.walk_block(&function.body, &mut Vec::new(), &mut |path, expr_context, call, call_expr| {
            if (context.is_json_call(call) || context.json_parser_argument(call).is_some())
                && let Some(site) = context.evaluate_site(path, expr_context, call, call_expr)
            {
                sites.push(site);
            }
            let Some(name) = callers::called_name(call).filter(|_| with_calls) else { return };
            // A lambda (or a generator) may run later, outside the `try`; `.catch(...)`
            // handles its receiver's failure.
            let guarded = if expr_context.in_closure {
                0
            } else if expr_context.caught {
                Library::bits(|_| true)
            } else {
                context.try_guards(path, call_expr.span, &mut by_try)
            };
            let caller = u32::try_from(index).unwrap_or(u32::MAX);
            let record = |name: &str| match aliases.get(name) {
                Some(original) => CallRecord { name: callers::name_key(original), caller, guarded, mentioned: false, count: 1 },
                None => CallRecord { name: callers::name_key(name), caller, guarded, mentioned: true, count: 1 },
            };
            calls.push(record(name));
            // `asyncio.to_thread(search, query)` calls `search` there (`[guards] running`).
            if let Some(position) = config.guards.running_position(name)
                && let Some(argument) = call.args.get(position)
                && let ExprKind::Name(ran) | ExprKind::Attribute { name: ran, .. } = &argument.kind
            {
                calls.push(record(ran));
            }
        });
    }
    sites.sort_by_key(|site| site.span.start_byte);
    (sites, FileCalls::of(project, facts, calls))
}

/// A statement on the way from a function's body to a site, with the block holding it.
#[derive(Clone, Copy)]
struct Frame<'f> {
    block: &'f Block,
    index: usize,
}

impl<'f> Frame<'f> {
    fn stmt(&self) -> Option<&'f Stmt> {
        self.block.statements.get(self.index)
    }

    /// The statements that run before this one in its block.
    fn preceding(&self) -> &'f [Stmt] {
        self.block.statements.get(..self.index).unwrap_or(&[])
    }
}

/// Where in an expression a site sits.
#[derive(Clone, Default)]
struct ExprContext<'f> {
    /// Conditions of `a if cond else b` expressions the site is a branch of, with
    /// whether the site is in the `a` (then) branch.
    conditions: Vec<(&'f Expr, bool)>,
    /// Inside a lambda or a comprehension.
    in_closure: bool,
    /// Names bound by enclosing comprehensions.
    comprehension_names: Vec<String>,
    /// The receiver of a method that handles the parse's failure: `r.json().catch(..)`,
    /// `fetch(u).then(r => r.json()).catch(..)` (`[guards] catching`).
    caught: bool,
}

/// What a receiver is and where it came from.
#[derive(Debug, Clone)]
struct Origin {
    kind: OriginKind,
    library: Library,
    /// Byte offset of the binding; guards must come after it.
    position: usize,
    description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum OriginKind {
    /// A request sent by a client (directly or through a wrapper returning the raw response).
    Client,
    /// A wrapper that checks the response before returning it.
    GuardWrapper,
    /// Only the name says response.
    Named,
    /// Not an outgoing response (an incoming request, a model, anything else).
    NotResponse,
}

/// Answers about one file that many sites ask for, computed once.
#[derive(Default)]
struct FileCache {
    /// (class, attribute) -> the library of the client `self.<attribute>` holds.
    self_clients: RefCell<HashMap<(String, String), Option<Library>>>,
}

struct FunctionContext<'p> {
    /// Shared by the functions of the file being checked; `None` for other files.
    cache: Option<&'p FileCache>,
    project: &'p Project,
    config: &'p Config,
    file_index: usize,
    facts: &'p FileFacts,
    function: &'p Function,
    file_library: Library,
    depth: usize,
    /// The function's assignments from a call of a configured guard helper, found once:
    /// a condition may test a name one of them binds.
    helper_assignments: std::cell::OnceCell<Vec<&'p Stmt>>,
    /// The bindings of each name asked about ([`collect_bindings`]).
    bindings: RefCell<HashMap<String, BindingList<'p>>>,
}

type BindingList<'f> = Vec<(usize, usize, Binding<'f>)>;

type CallVisitor<'a, 'f> = dyn FnMut(&[Frame<'f>], &ExprContext<'f>, &'f Call, &'f Expr) + 'a;

impl<'p> FunctionContext<'p> {
    fn new(
        project: &'p Project,
        config: &'p Config,
        file_index: usize,
        facts: &'p FileFacts,
        function: &'p Function,
        depth: usize,
    ) -> Self {
        let mut libraries: Vec<Library> = facts
            .imports
            .iter()
            .map(|import| Library::from_module(&import.module))
            .filter(|library| *library != Library::Unknown)
            .collect();
        libraries.dedup();
        let file_library = match libraries.as_slice() {
            [single] => *single,
            _ => Library::Unknown,
        };
        FunctionContext {
            cache: None,
            project,
            config,
            file_index,
            facts,
            function,
            file_library,
            depth,
            helper_assignments: std::cell::OnceCell::new(),
            bindings: RefCell::default(),
        }
    }

    fn with_cache(mut self, cache: &'p FileCache) -> Self {
        self.cache = Some(cache);
        self
    }

    // ----- walking ----------------------------------------------------------------------

    fn walk_block(&self, block: &'p Block, path: &mut Vec<Frame<'p>>, on_call: &mut CallVisitor<'_, 'p>) {
        for (index, stmt) in block.statements.iter().enumerate() {
            if matches!(stmt.kind, StmtKind::FunctionDef(_)) {
                continue;
            }
            path.push(Frame { block, index });
            for expr in stmt.expressions() {
                self.walk_expr(expr, path, &ExprContext::default(), on_call);
            }
            for nested in stmt.blocks() {
                self.walk_block(nested, path, on_call);
            }
            path.pop();
        }
    }

    fn walk_expr(&self, expr: &'p Expr, path: &[Frame<'p>], context: &ExprContext<'p>, on_call: &mut CallVisitor<'_, 'p>) {
        match &expr.kind {
            ExprKind::Call(call) => {
                on_call(path, context, call, expr);
                if let ExprKind::Attribute { object, name } = &call.callee.kind
                    && self.config.guards.catching.contains(name)
                {
                    let mut caught = context.clone();
                    caught.caught = true;
                    self.walk_expr(object, path, &caught, on_call);
                    for argument in call.arguments() {
                        self.walk_expr(argument, path, context, on_call);
                    }
                    return;
                }
                for child in expr.children() {
                    self.walk_expr(child, path, context, on_call);
                }
            }
            ExprKind::Conditional { condition, then_value, else_value } => {
                self.walk_expr(condition, path, context, on_call);
                let mut then_branch = context.clone();
                then_branch.conditions.push((condition, true));
                self.walk_expr(then_value, path, &then_branch, on_call);
                let mut else_branch = context.clone();
                else_branch.conditions.push((condition, false));
                self.walk_expr(else_value, path, &else_branch, on_call);
            }
            ExprKind::Lambda { body } => {
                let mut inner = context.clone();
                inner.in_closure = true;
                self.walk_expr(body, path, &inner, on_call);
            }
            ExprKind::Comprehension { parts, targets } => {
                let mut inner = context.clone();
                inner.in_closure = true;
                inner.comprehension_names.extend(targets.iter().flat_map(Expr::bound_names).map(String::from));
                for part in parts {
                    self.walk_expr(part, path, &inner, on_call);
                }
            }
            _ => {
                for child in expr.children() {
                    self.walk_expr(child, path, context, on_call);
                }
            }
        }
    }

    // ----- sites ------------------------------------------------------------------------

    fn is_json_call(&self, call: &Call) -> bool {
        matches!(&call.callee.kind, ExprKind::Attribute { name, .. } if self.config.http.json_methods.contains(name))
            && call.has_no_arguments()
    }

    /// The body a JSON parser call parses: `serde_json::from_slice(&body)`.
    fn json_parser_argument(&self, call: &'p Call) -> Option<&'p Expr> {
        let callee = call.callee.dotted()?;
        let known = self.config.http.json_parsers.iter().any(|parser| {
            *parser == callee || (last_segment(parser) == callee && self.facts.imports.iter().any(|import| import.alias == callee))
        });
        if known { call.args.first() } else { None }
    }

    fn evaluate_site(&self, path: &[Frame<'p>], context: &ExprContext<'p>, call: &'p Call, call_expr: &'p Expr) -> Option<JsonSite> {
        let (receiver, parse) = match &call.callee.kind {
            ExprKind::Attribute { object, name } if self.is_json_call(call) => (&**object, format!("{}.{name}()", receiver_text(object))),
            _ => {
                let argument = self.json_parser_argument(call)?;
                (argument, format!("{}({})", call.callee.dotted().unwrap_or_default(), receiver_text(argument)))
            }
        };
        let site_start = call_expr.span.start_byte;
        let origin = self.origin_of(receiver, site_start, context)?;
        let confidence = match origin.kind {
            OriginKind::Client | OriginKind::GuardWrapper => Confidence::High,
            OriginKind::Named => Confidence::Medium,
            OriginKind::NotResponse => return None,
        };
        let verdict = if origin.kind == OriginKind::GuardWrapper || context.caught {
            Verdict::Guarded
        } else {
            self.guard_verdict(receiver, &origin, path, context, call_expr.span, true)
        };
        // The innermost statement holding the call: a compound one holds it in its header
        // (`if`, `while`, `for`, `with`), where no guard can go before it.
        let stmt = path.last().and_then(Frame::stmt);
        let in_header = stmt.is_some_and(|stmt| matches!(stmt.kind, StmtKind::If { .. } | StmtKind::Loop { .. } | StmtKind::With { .. }));
        let shares_line = stmt.is_some_and(|stmt| {
            let text = self.project.files.get(self.file_index).map(|file| file.text.as_str()).unwrap_or("");
            crate::fix::edit::statement_indentation(text, stmt.span.start_byte).is_none()
        });
        let chained = matches!(receiver.unawaited().kind, ExprKind::Call(_));
        let undici = undici_body(self.facts, &origin.description);
        Some(JsonSite {
            file_index: self.file_index,
            span: call_expr.span,
            function: (!self.function.is_module()).then(|| self.function.qualified_name()),
            receiver: receiver_text(receiver),
            parse,
            origin: origin.description,
            library: origin.library,
            confidence,
            verdict,
            fixable: !(context.in_closure
                || undici
                || in_header
                || shares_line
                || chained
                || self.function.is_module()
                || !context.conditions.is_empty()),
        })
    }

    // ----- origins ----------------------------------------------------------------------

    fn origin_of(&self, receiver: &'p Expr, before: usize, context: &ExprContext) -> Option<Origin> {
        let expr = receiver.unawaited();
        match &expr.kind {
            ExprKind::Call(call) => {
                let origin = self.classify_call(call, before);
                match origin.kind {
                    // `api.post(url).json()` on something not known as a client: the method
                    // name alone says request.
                    OriginKind::Named if self.is_http_method_call(call) => {
                        let callee = call.callee.dotted().unwrap_or_else(|| "…".into());
                        Some(Origin { description: format!("the result of `{callee}()`"), ..origin })
                    }
                    OriginKind::Named => None,
                    _ => Some(origin),
                }
            }
            ExprKind::Name(name) => {
                if context.comprehension_names.iter().any(|bound| bound == name) {
                    return Some(self.named_origin(name, 0));
                }
                Some(self.origin_of_name(name, before, 0))
            }
            // undici's `response.body.json()`: the body of the response.
            ExprKind::Attribute { object, name } if self.config.http.body_fields.contains(name) => {
                self.origin_of(object, before, context).filter(|origin| origin.kind != OriginKind::NotResponse)
            }
            ExprKind::Attribute { name, .. } => self.is_response_name(name).then(|| self.named_origin(name, 0)),
            _ => None,
        }
    }

    fn named_origin(&self, name: &str, position: usize) -> Origin {
        let kind = if self.is_response_name(name) { OriginKind::Named } else { OriginKind::NotResponse };
        Origin { kind, library: self.file_library, position, description: format!("a value named `{name}`") }
    }

    fn not_response(&self) -> Origin {
        Origin { kind: OriginKind::NotResponse, library: Library::Unknown, position: 0, description: String::new() }
    }

    /// Where the value of `name` at byte `before` comes from.
    fn origin_of_name(&self, name: &str, before: usize, hops: usize) -> Origin {
        match self.binding_of(name, before) {
            Some(Binding::Value { value, position, from_with }) => {
                let origin = match &value.unawaited().kind {
                    ExprKind::Call(call) => {
                        let origin = self.classify_call(call, position);
                        if origin.kind == OriginKind::Named && from_with && self.is_http_method_call(call) {
                            // `async with session.get(url) as resp:`: only aiohttp-style clients
                            // return responses as context managers.
                            let library = if self.file_library == Library::Unknown { Library::Aiohttp } else { self.file_library };
                            let callee = call.callee.dotted().unwrap_or_else(|| "…".into());
                            Origin { kind: OriginKind::Client, library, position, description: format!("the response of `{callee}()`") }
                        } else {
                            origin
                        }
                    }
                    ExprKind::Name(other) if hops < 4 && other != name => self.origin_of_name(other, position, hops + 1),
                    // `requests.post(u, data=b) if as_form else requests.post(u, json=b)`: a
                    // response when both branches are the same kind of client call.
                    ExprKind::Conditional { then_value, else_value, .. } => {
                        let branch = |value: &'p Expr| match &value.unawaited().kind {
                            ExprKind::Call(call) => Some(self.classify_call(call, position)),
                            _ => None,
                        };
                        match (branch(then_value), branch(else_value)) {
                            (Some(then_origin), Some(else_origin))
                                if then_origin.kind == OriginKind::Client
                                    && else_origin.kind == OriginKind::Client
                                    && then_origin.library == else_origin.library =>
                            {
                                then_origin
                            }
                            _ => Origin { kind: OriginKind::Named, library: self.file_library, position, description: String::new() },
                        }
                    }
                    // `const { body } = await request(url)` reads `body` of the response.
                    ExprKind::Attribute { object, name: field } if self.config.http.body_fields.contains(field) => {
                        match &object.unawaited().kind {
                            ExprKind::Call(call) => self.classify_call(call, position),
                            ExprKind::Name(other) if hops < 4 && other != name => self.origin_of_name(other, position, hops + 1),
                            _ => Origin { kind: OriginKind::Named, library: self.file_library, position, description: String::new() },
                        }
                    }
                    _ => Origin { kind: OriginKind::Named, library: self.file_library, position, description: String::new() },
                };
                match origin.kind {
                    // An unclassified value: only the variable's name can say response.
                    OriginKind::Named => self.named_origin(name, position),
                    _ => Origin { position, ..origin },
                }
            }
            Some(Binding::Opaque(position)) => self.named_origin(name, position),
            None => match self.function.param(name) {
                Some(param) => {
                    let annotation = param.annotation.as_deref().unwrap_or("");
                    if is_incoming_request_type(annotation) { self.not_response() } else { self.named_origin(name, 0) }
                }
                None => self.named_origin(name, 0),
            },
        }
    }

    fn is_http_method_call(&self, call: &Call) -> bool {
        matches!(&call.callee.kind, ExprKind::Attribute { name, .. } if self.config.http.methods.contains(name))
    }

    /// The last binding of `name` before byte `before` in this function.
    fn binding_of(&self, name: &str, before: usize) -> Option<Binding<'p>> {
        // Listed once per name: a walk per query would be cubic in a long `else if` chain.
        let mut cache = self.bindings.borrow_mut();
        let bindings = cache.entry(name.to_string()).or_insert_with(|| {
            let mut found = Vec::new();
            collect_bindings(&self.function.body, name, &mut found);
            found
        });
        binding_before(bindings, before)
    }

    fn is_response_name(&self, name: &str) -> bool {
        // `tokenResponse` reads as `token_response`; capitalised names are classes.
        let lower = if name.starts_with(|c: char| c.is_lowercase()) && name.chars().any(|c| c.is_uppercase()) {
            crate::facts::words_of(name).join("_")
        } else {
            name.to_lowercase()
        };
        let lower = lower.trim_start_matches('_');
        self.config.http.response_names.iter().any(|candidate| candidate == lower)
            || self.config.http.response_suffixes.iter().any(|suffix| lower.ends_with(suffix.as_str()))
    }

    /// What a call returns: a client response, a (guarding or raw) wrapper's response,
    /// something else, or unknown (`Named`).
    fn classify_call(&self, call: &'p Call, position: usize) -> Origin {
        let callee = call.callee.unawaited();
        let unknown = Origin { kind: OriginKind::Named, library: self.file_library, position, description: String::new() };
        match &callee.kind {
            ExprKind::Attribute { object, name: method } => {
                let dotted = callee.dotted().unwrap_or_else(|| format!("….{method}"));
                if self.config.http.methods.iter().any(|candidate| candidate == method)
                    && let Some(library) = self.client_library(object, position)
                {
                    return Origin { kind: OriginKind::Client, library, position, description: format!("the response of `{dotted}()`") };
                }
                // `client.post(url).form(&params).send()`: a request built on a client's verb.
                if self.config.http.send_methods.contains(method)
                    && let Some((verb, library)) = self.built_request(object, position)
                {
                    return Origin {
                        kind: OriginKind::Client,
                        library,
                        position,
                        description: format!("the response of `{verb}(…)….{method}()`"),
                    };
                }
                // `response.error_for_status()?`, `response.bytes().await?`: the same response.
                let http = &self.config.http;
                if http.passthrough.contains(method) || (http.body_readers.contains(method) && call.has_no_arguments()) {
                    return match &object.unawaited().kind {
                        ExprKind::Name(name) => self.origin_of_name(name, position, 0),
                        ExprKind::Call(inner) => self.classify_call(inner, position),
                        _ => unknown,
                    };
                }
                if let ExprKind::Name(receiver) = &object.kind {
                    if receiver == "self" || receiver == "cls" {
                        let class = self.function.class.as_deref();
                        if let Some((file_index, method_function)) =
                            class.and_then(|class| self.project.find_method(self.file_index, self.facts, class, method, MAX_WRAPPER_DEPTH))
                        {
                            return self.wrapper_origin(file_index, method_function, &dotted, position).unwrap_or(unknown);
                        }
                    } else if is_constructor_name(receiver)
                        && self.project.resolve_module_alias(self.file_index, self.facts, receiver).is_none()
                    {
                        // `TokenResponse.parse_obj(data)`: a class method builds a model.
                        return self.not_response();
                    }
                }
                // `Requests().post(...)`, or `api = HubSpotClient(); api.get_owner(...)`: a
                // method of a class of the tree, called on an instance of it.
                if let Some(class) = self.instance_class(object, position)
                    && let Some((file_index, method_function)) = self.class_method(&class, method)
                {
                    return self.wrapper_origin(file_index, method_function, &dotted, position).unwrap_or(unknown);
                }
                // `http_utils.post_with_retry(...)` or `app.core.http.post_with_retry(...)`
                // on a module of the tree.
                if let Some(module) = object.dotted().filter(|module| module != "self" && module != "cls")
                    && let Some(target) = self.project.resolve_module_alias(self.file_index, self.facts, &module)
                    && let Some(function) = self.project.facts(target).and_then(|facts| facts.find_function(None, method))
                {
                    return self.wrapper_origin(target, function, &dotted, position).unwrap_or(unknown);
                }
                if is_constructor_name(method) {
                    return self.not_response();
                }
                unknown
            }
            ExprKind::Name(name) => {
                // `fetch(url)`, `got(url)`, undici's `request(url)`.
                if crate::callbacks::is_request_function(self.config, self.facts, name) {
                    return Origin {
                        kind: OriginKind::Client,
                        library: Library::Unknown,
                        position,
                        description: format!("the response of `{name}()`"),
                    };
                }
                if let Some(import) = self.facts.imports.iter().find(|import| import.alias == *name) {
                    let library = Library::from_module(&import.module);
                    let imported = import.name.as_deref().unwrap_or("");
                    if library != Library::Unknown && self.config.http.methods.iter().any(|method| method == imported) {
                        return Origin { kind: OriginKind::Client, library, position, description: format!("the response of `{name}()`") };
                    }
                    if let Some((target, function)) = self.project.resolve_imported_function(self.file_index, self.facts, name) {
                        return self.wrapper_origin(target, function, name, position).unwrap_or(unknown);
                    }
                } else if let Some(function) = self.facts.find_function(None, name) {
                    return self.wrapper_origin(self.file_index, function, name, position).unwrap_or(unknown);
                }
                if is_constructor_name(name) {
                    return self.not_response();
                }
                unknown
            }
            _ => unknown,
        }
    }

    /// The verb and client library of a request built by a chain of calls on a client's
    /// verb: `state.http.post(url).form(&params)`, `ureq::post(url).header("Accept", ..)`.
    fn built_request(&self, expr: &'p Expr, position: usize) -> Option<(String, Library)> {
        let first = expr.unawaited().as_call()?;
        std::iter::once(first).chain(first.callee.chained_calls()).find_map(|call| {
            let ExprKind::Attribute { object, name } = &call.callee.kind else { return None };
            if !self.config.http.methods.contains(name) {
                return None;
            }
            let library = self.client_library(object, position)?;
            Some((call.callee.dotted().unwrap_or_else(|| format!("….{name}")), library))
        })
    }

    /// The class an object is an instance of, when the code says: `HubSpotClient()`,
    /// a variable assigned one, or a parameter annotated with a class name.
    fn instance_class(&self, object: &Expr, before: usize) -> Option<String> {
        let constructed = |value: &Expr| {
            let call = value.unawaited().as_call()?;
            let dotted = call.callee.dotted()?;
            is_constructor_name(last_segment(&dotted)).then_some(dotted)
        };
        match &object.unawaited().kind {
            ExprKind::Call(_) => constructed(object),
            ExprKind::Name(name) if name != "self" && name != "cls" => match self.binding_of(name, before) {
                Some(Binding::Value { value, .. }) => constructed(value),
                Some(Binding::Opaque(_)) => None,
                None => {
                    let annotation = self.function.param(name)?.annotation.as_deref()?;
                    is_constructor_name(last_segment(annotation)).then(|| annotation.to_string())
                }
            },
            _ => None,
        }
    }

    /// Method `method` of the class named `class` (`HubSpotClient`, `clients.HubSpotClient`),
    /// defined in this file or imported from a file of the tree, inherited ones included.
    fn class_method(&self, class: &str, method: &str) -> Option<(usize, &'p Function)> {
        let target = Resolver::new(self.project, self.file_index, self.facts).class_method(self.file_index, class, method)?;
        Some((target.file_index, target.function))
    }

    /// The library of the client `object` when it is one: an HTTP module, a client name, a
    /// variable or attribute bound to a client constructor, or a constructor call.
    fn client_library(&self, object: &'p Expr, before: usize) -> Option<Library> {
        let http = &self.config.http;
        match &object.unawaited().kind {
            ExprKind::Name(name) => {
                if let Some(import) = self.facts.imports.iter().find(|import| import.alias == *name && import.name.is_none())
                    && http.modules.contains(&import.module)
                {
                    return Some(Library::from_module(&import.module));
                }
                if http.modules.iter().any(|module| module == name) && self.facts.imports.iter().all(|import| import.alias != *name) {
                    return Some(Library::from_module(name));
                }
                match self.binding_of(name, before) {
                    Some(Binding::Value { value, .. }) => {
                        if let Some(library) = self.constructor_library(value) {
                            return Some(library);
                        }
                    }
                    Some(Binding::Opaque(_)) => {}
                    None => {
                        // `session = requests.Session()` at module level.
                        if let Some(module) = self.facts.module().filter(|module| !std::ptr::eq(*module, self.function)) {
                            let mut bindings = Vec::new();
                            collect_bindings(&module.body, name, &mut bindings);
                            if let Some(Binding::Value { value, .. }) = binding_before(&bindings, usize::MAX)
                                && let Some(library) = self.constructor_library(value)
                            {
                                return Some(library);
                            }
                        }
                    }
                }
                if let Some(annotation) = self.function.param(name).and_then(|param| param.annotation.as_deref())
                    && let Some(library) = self.client_type_library(annotation, MAX_WRAPPER_DEPTH)
                {
                    return Some(library);
                }
                self.is_client_name(name).then_some(self.file_library)
            }
            ExprKind::Attribute { object: owner, name } => {
                if owner.as_name() == Some("self")
                    && let Some(library) = self.self_attribute_library(name)
                {
                    return Some(library);
                }
                self.is_client_name(name).then_some(self.file_library)
            }
            ExprKind::Call(_) => self.constructor_library(object),
            _ => None,
        }
    }

    fn is_client_name(&self, name: &str) -> bool {
        let lower = name.to_lowercase();
        self.config.http.client_names.contains(&lower)
    }

    /// The library of a client constructor call (`httpx.AsyncClient(...)`).
    fn constructor_library(&self, value: &Expr) -> Option<Library> {
        // `client or httpx.AsyncClient()`, `a if c else httpx.Client()`.
        match &value.kind {
            ExprKind::Bool { operands, .. } => return operands.iter().find_map(|operand| self.constructor_library(operand)),
            ExprKind::Conditional { then_value, else_value, .. } => {
                return self.constructor_library(then_value).or_else(|| self.constructor_library(else_value));
            }
            _ => {}
        }
        let call = value.unawaited().as_call()?;
        self.client_type_library(&call.callee.dotted()?, MAX_WRAPPER_DEPTH)
    }

    /// The library of a client type: a configured client constructor (`httpx.AsyncClient`),
    /// or a class of this file that extends one (`class ZoomSession(requests.Session)`).
    fn client_type_library(&self, dotted: &str, depth: usize) -> Option<Library> {
        if self.config.http.client_constructors.iter().any(|constructor| constructor == dotted) {
            return Some(match dotted.split_once('.') {
                Some((module, _)) => {
                    let module = self
                        .facts
                        .imports
                        .iter()
                        .find(|import| import.alias == module)
                        .map(|import| import.module.as_str())
                        .unwrap_or(module);
                    Library::from_module(module)
                }
                None => {
                    let import = self.facts.imports.iter().find(|import| import.alias == dotted);
                    import.map(|import| Library::from_module(&import.module)).unwrap_or(self.file_library)
                }
            });
        }
        if depth == 0 {
            return None;
        }
        let class = self.facts.classes.iter().find(|class| class.name == dotted)?;
        class.bases.iter().filter_map(Expr::dotted).find_map(|base| self.client_type_library(&base, depth - 1))
    }

    /// The library of `self.<attribute>` when the class (or a base class in this file)
    /// binds it to a client: `self.client = httpx.AsyncClient()` in a method, or
    /// `client = httpx.AsyncClient()` in the class body.
    fn self_attribute_library(&self, attribute: &str) -> Option<Library> {
        let class = self.function.class.clone()?;
        let Some(cache) = self.cache else {
            return self.find_self_attribute_library(class, attribute);
        };
        let key = (class, attribute.to_string());
        if let Some(known) = cache.self_clients.borrow().get(&key) {
            return *known;
        }
        let library = self.find_self_attribute_library(key.0.clone(), attribute);
        cache.self_clients.borrow_mut().insert(key, library);
        library
    }

    fn find_self_attribute_library(&self, class: String, attribute: &str) -> Option<Library> {
        let mut classes = vec![class];
        let target = format!("self.{attribute}");
        let mut visited = 0;
        while let Some(class) = classes.pop() {
            visited += 1;
            if visited > MAX_WRAPPER_DEPTH + 1 {
                break;
            }
            let mut found = None;
            // `self.client = httpx.AsyncClient()` in one of the class's methods.
            for method in self.facts.functions.iter().filter(|function| function.class.as_deref() == Some(class.as_str())) {
                visit_statements(&method.body, &mut |stmt| {
                    if let StmtKind::Assign { targets, value, .. } = &stmt.kind
                        && targets.iter().any(|assigned| assigned.dotted().as_deref() == Some(target.as_str()))
                    {
                        found = found.or(self.constructor_library(value));
                    }
                });
            }
            // `client = httpx.AsyncClient()` in the class body.
            if found.is_none()
                && let Some(definition) = self.facts.classes.iter().find(|candidate| candidate.name == class)
            {
                found = self.class_body_library(definition.span, attribute);
            }
            if found.is_some() {
                return found;
            }
            if let Some(definition) = self.facts.classes.iter().find(|candidate| candidate.name == class) {
                classes.extend(definition.bases.iter().filter_map(Expr::dotted));
            }
        }
        None
    }

    /// The library of a client assigned to `attribute` in the body of the class at `span`.
    fn class_body_library(&self, span: Span, attribute: &str) -> Option<Library> {
        // The class statement sits in the body of the function (or module) enclosing it.
        let owner = self.facts.functions.iter().rev().find(|function| function.span.contains(&span))?;
        let mut found = None;
        visit_statements(&owner.body, &mut |stmt| {
            // A decorated class statement also spans its decorators.
            if let StmtKind::ClassDef { body, .. } = &stmt.kind
                && stmt.span.contains(&span)
            {
                for inner in &body.statements {
                    if let StmtKind::Assign { targets, value, .. } = &inner.kind
                        && targets.iter().any(|assigned| assigned.as_name() == Some(attribute))
                    {
                        found = found.or(self.constructor_library(value));
                    }
                }
            }
        });
        found
    }

    /// When `function` returns a response: a raw one (`Client`) or a checked one.
    fn wrapper_origin(&self, file_index: usize, function: &'p Function, called: &str, position: usize) -> Option<Origin> {
        if self.depth >= MAX_WRAPPER_DEPTH || std::ptr::eq(function, self.function) {
            return None;
        }
        let facts = if file_index == self.file_index { self.facts } else { self.project.facts(file_index)? };
        let mut inner = FunctionContext::new(self.project, self.config, file_index, facts, function, self.depth + 1);
        if file_index == self.file_index {
            inner.cache = self.cache;
        }
        let summary = inner.summarize_returns()?;
        let (kind, description) = if summary.all_guarded {
            (OriginKind::GuardWrapper, format!("the response of `{called}()`, which checks it"))
        } else {
            (OriginKind::Client, format!("the raw response returned by `{called}()`"))
        };
        Some(Origin { kind, library: summary.library, position, description })
    }

    /// Whether this function returns a response, and whether every such return is guarded.
    fn summarize_returns(&self) -> Option<ReturnSummary> {
        let mut summary: Option<ReturnSummary> = None;
        let mut returns: Vec<(Vec<Frame<'p>>, &'p Stmt)> = Vec::new();
        collect_returns(&self.function.body, &mut Vec::new(), &mut returns);
        for (path, stmt) in returns {
            let StmtKind::Return(Some(value)) = &stmt.kind else { continue };
            let Some(origin) = self.origin_of(value, stmt.span.start_byte, &ExprContext::default()) else { continue };
            let guarded = match origin.kind {
                OriginKind::GuardWrapper => true,
                OriginKind::Client | OriginKind::Named => {
                    matches!(self.guard_verdict(value, &origin, &path, &ExprContext::default(), stmt.span, false), Verdict::Guarded)
                }
                OriginKind::NotResponse => continue,
            };
            // A returned parameter only makes a wrapper when it is checked first.
            if origin.kind == OriginKind::Named && !guarded {
                continue;
            }
            let entry = summary.get_or_insert(ReturnSummary { all_guarded: true, library: origin.library });
            entry.all_guarded &= guarded;
            if entry.library == Library::Unknown {
                entry.library = origin.library;
            }
        }
        summary
    }

    // ----- guards -----------------------------------------------------------------------

    /// Whether the site of `receiver` at `site` is guarded on every path from its origin.
    /// `with_try`: whether an enclosing `try` counts (not for a wrapper's `return`).
    fn guard_verdict(
        &self,
        receiver: &Expr,
        origin: &Origin,
        path: &[Frame<'p>],
        context: &ExprContext,
        site: Span,
        with_try: bool,
    ) -> Verdict {
        let mut hints = Vec::new();
        let target = receiver.unawaited().dotted();
        let check = target.as_deref().map(|target| Check { target, origin, before: site.start_byte });
        if let Some(check) = &check {
            for (condition, in_then) in &context.conditions {
                let guarded = if *in_then {
                    self.implies_json(condition, check, &mut hints)
                } else {
                    self.non_json_implies(condition, check, &mut hints)
                };
                if guarded {
                    return Verdict::Guarded;
                }
            }
        }
        for (depth, frame) in path.iter().enumerate().rev() {
            let Some(stmt) = frame.stmt() else { continue };
            let innermost = depth + 1 == path.len();
            if !innermost {
                match &stmt.kind {
                    StmtKind::If { condition, then_block, else_block } if stmt.span.start_byte >= origin.position => {
                        if let Some(check) = &check {
                            let in_then = block_contains(then_block, &site);
                            let in_else = else_block.as_ref().is_some_and(|block| block_contains(block, &site));
                            if (in_then && self.implies_json(condition, check, &mut hints))
                                || (in_else && self.non_json_implies(condition, check, &mut hints))
                            {
                                return Verdict::Guarded;
                            }
                            if (in_then || in_else) && self.checks_helper_result(condition, check) {
                                return Verdict::Guarded;
                            }
                        }
                    }
                    StmtKind::Try { body, handlers, .. } if with_try && block_contains(body, &site) => {
                        // An inner try that re-raises or does not catch passes the error on
                        // to the enclosing ones, which may still guard it.
                        match self.try_verdict(handlers, origin.library) {
                            TryVerdict::Guards => return Verdict::Guarded,
                            TryVerdict::Reraises(clause) => hints.push(format!("the `{clause}` handler re-raises it")),
                            // Nothing after the `try` reads what its body binds: the function
                            // goes on to its end, a `raise` or a retry, as after a `return`.
                            TryVerdict::Swallows(_, handler) if !self.reads_unbound_after(path, depth, handler) => {
                                return Verdict::Guarded;
                            }
                            TryVerdict::Swallows(clause, _) => {
                                hints.push(format!("the `{clause}` handler swallows it and carries on without the data"))
                            }
                            TryVerdict::DoesNotCatch(clauses) => match clauses.as_slice() {
                                [] => {}
                                [one] => hints.push(format!("`{one}` does not catch the JSON decode error")),
                                several => hints.push(format!(
                                    "{} do not catch the JSON decode error",
                                    several.iter().map(|clause| format!("`{clause}`")).collect::<Vec<_>>().join(" and ")
                                )),
                            },
                        }
                    }
                    _ => {}
                }
            }
            let Some(check) = &check else { continue };
            for preceding in frame.preceding() {
                if self.guard_in(preceding, check, &mut hints) {
                    return Verdict::Guarded;
                }
            }
        }
        Verdict::Unguarded { hints }
    }

    /// After `handler` swallows the decode error of the `try` at `path[depth]`, whether a
    /// statement that can run next reads a name the `try` body binds and neither the
    /// handler nor anything before the `try` binds: the statements after the `try` in each
    /// enclosing block, its `finally`, and in each enclosing loop, which runs again, its
    /// condition and what comes before the `try` (the `try` rebinds what it binds before
    /// reading it). `data = r.json()` in the body and `return data["token"]` after it is a
    /// crash a line down; `return None` after it, `data = {}` before the `try` or in the
    /// handler (or on each branch of a `try` in it), is not.
    fn reads_unbound_after(&self, path: &[Frame<'p>], depth: usize, handler: &Handler) -> bool {
        let Some(StmtKind::Try { body, finally_block, .. }) = path.get(depth).and_then(Frame::stmt).map(|stmt| &stmt.kind) else {
            return true;
        };
        let mut unbound = HashSet::new();
        bind_names(&body.statements, &mut unbound);
        let mut before = HashSet::new();
        bind_names(&handler.body.statements, &mut before);
        for frame in &path[..=depth] {
            for stmt in frame.preceding() {
                bind_names(std::slice::from_ref(stmt), &mut before);
            }
        }
        unbound.retain(|name| !before.contains(name) && self.function.param(name).is_none());
        if unbound.is_empty() {
            return false;
        }
        let reads = |stmts: &[Stmt]| {
            let mut found = false;
            for stmt in stmts {
                let mut visit = |stmt: &Stmt| {
                    found |= stmt.expressions().iter().any(|expression| reads_name(expression, &unbound, &[]));
                };
                visit(stmt);
                for block in stmt.blocks() {
                    block.visit(&mut visit);
                }
            }
            found
        };
        if finally_block.as_ref().is_some_and(|block| reads(&block.statements)) {
            return true;
        }
        path[..=depth].iter().enumerate().any(|(at, frame)| {
            let following = frame.block.statements.get(frame.index + 1..).unwrap_or(&[]);
            // A loop runs its condition again and, inside, what comes before the `try`.
            let again = match frame.stmt().map(|stmt| &stmt.kind) {
                Some(StmtKind::Loop { condition, .. }) if at < depth => {
                    condition.as_deref().is_some_and(|condition| reads_name(condition, &unbound, &[]))
                        || path[at + 1..=depth].iter().any(|inner| reads(inner.preceding()))
                }
                _ => false,
            };
            reads(following) || again
        })
    }

    /// A guard that a statement running before the site applies to the target, looking
    /// into the blocks that always run to their end before the site: `with` bodies, `try`
    /// bodies whose handlers all leave, and the branch of an `if` whose other branch leaves.
    fn guard_in(&self, stmt: &Stmt, check: &Check, hints: &mut Vec<String>) -> bool {
        let inner = |block: &Block, hints: &mut Vec<String>| block.statements.iter().any(|inner| self.guard_in(inner, check, hints));
        match &stmt.kind {
            StmtKind::With { body, .. } => inner(body, hints),
            StmtKind::Try { body, handlers, .. } if handlers.iter().all(|handler| self.block_leaves(&handler.body)) => inner(body, hints),
            StmtKind::If { condition, then_block, else_block } => {
                let then_leaves = self.block_leaves(then_block);
                let else_leaves = else_block.as_ref().is_some_and(|block| self.block_leaves(block));
                // Leaving when the condition holds needs "not JSON => condition"; leaving
                // when it does not needs "condition => JSON".
                let tests_target = stmt.span.start_byte >= check.origin.position
                    && ((then_leaves && self.non_json_implies(condition, check, hints))
                        || (else_leaves && self.implies_json(condition, check, hints))
                        || ((then_leaves || else_leaves) && self.checks_helper_result(condition, check)));
                tests_target
                    || (then_leaves && else_block.as_ref().is_some_and(|block| inner(block, hints)))
                    || (else_leaves && inner(then_block, hints))
            }
            StmtKind::Expr(expr) | StmtKind::Assign { value: expr, .. } if stmt.span.start_byte >= check.origin.position => {
                let Some(call) = expr.unawaited().as_call() else { return false };
                match self.guard_helper(call, check) {
                    Some(Helper::Raising) => true,
                    Some(Helper::Returning(name)) => {
                        if matches!(stmt.kind, StmtKind::Expr(_)) {
                            hints.push(format!("the result of `{name}({})` is ignored", check.target));
                        }
                        false
                    }
                    None => false,
                }
            }
            _ => false,
        }
    }

    /// True when control never falls through the end of the block: it ends in a
    /// return/raise/break/continue, or a call that does not return (`abort(400)`).
    fn block_leaves(&self, block: &Block) -> bool {
        block.leaves() || block.statements.iter().any(|stmt| self.is_no_return_call(stmt))
    }

    fn is_no_return_call(&self, stmt: &Stmt) -> bool {
        let StmtKind::Expr(expr) = &stmt.kind else { return false };
        let Some(callee) = expr.unawaited().as_call().and_then(|call| call.callee.dotted()) else { return false };
        let last = last_segment(&callee);
        self.config.guards.no_return.iter().any(|name| *name == callee || (!name.contains('.') && name == last))
    }

    /// "The condition holds => the body is JSON": a positive content-type test, possibly
    /// in a conjunction.
    fn implies_json(&self, condition: &Expr, check: &Check, hints: &mut Vec<String>) -> bool {
        match &condition.kind {
            ExprKind::Not(inner) => self.non_json_implies(inner, check, hints),
            ExprKind::Bool { operator: BoolOp::And, operands } => operands.iter().any(|operand| self.implies_json(operand, check, hints)),
            ExprKind::Bool { operator: BoolOp::Or, operands } => operands.iter().all(|operand| self.implies_json(operand, check, hints)),
            _ => self.content_type_test(condition, check, hints) == Some(Polarity::Json),
        }
    }

    /// "The body is not JSON => the condition holds": a negative content-type test,
    /// possibly in a disjunction.
    fn non_json_implies(&self, condition: &Expr, check: &Check, hints: &mut Vec<String>) -> bool {
        match &condition.kind {
            ExprKind::Not(inner) => self.implies_json(inner, check, hints),
            ExprKind::Bool { operator: BoolOp::Or, operands } => {
                operands.iter().any(|operand| self.non_json_implies(operand, check, hints))
            }
            ExprKind::Bool { operator: BoolOp::And, operands } => {
                operands.iter().all(|operand| self.non_json_implies(operand, check, hints))
            }
            _ => self.content_type_test(condition, check, hints) == Some(Polarity::NotJson),
        }
    }

    /// What a single test on the target's content type says when it holds:
    /// `"json" in ct` (JSON), `"application/json" not in ct` (not JSON),
    /// `ct.startswith("application/json")`, `ct != "application/json"`, `"text/html" in ct`.
    fn content_type_test(&self, test: &Expr, check: &Check, hints: &mut Vec<String>) -> Option<Polarity> {
        match &test.kind {
            // `is_html = ct.startswith("text/html")` ... `if is_html:`.
            ExprKind::Name(name) => match self.binding_of(name, check.before) {
                Some(Binding::Value { value, position, .. })
                    if position >= check.origin.position && !matches!(value.kind, ExprKind::Name(_)) =>
                {
                    self.content_type_test(value, check, hints)
                }
                _ => None,
            },
            ExprKind::Compare { operands, operators } => {
                let ([left, right], [operator]) = (operands.as_slice(), operators.as_slice()) else { return None };
                let (literal, other) = match (&left.kind, &right.kind) {
                    (ExprKind::String(text), _) => (text, right),
                    (_, ExprKind::String(text)) => (text, left),
                    _ => return None,
                };
                let polarity = self.tested_polarity(other, literal, check, hints)?;
                match operator.as_str() {
                    "in" => Some(polarity),
                    "not in" => Some(polarity.negate()),
                    // HTML pages come as `text/html; charset=utf-8`: equality with a bare
                    // `text/html` misses them, equality with `application/json` (or a body
                    // starting with `{`) does not.
                    "==" if polarity == Polarity::Json => Some(Polarity::Json),
                    "!=" if polarity == Polarity::Json => Some(Polarity::NotJson),
                    _ => None,
                }
            }
            ExprKind::Call(call) => {
                // `ct.startswith("application/json")`, `r.text.lstrip().startswith("<!doctype")`,
                // `r.text.startswith(("{", "["))`, `is_json_content_type(ct)`.
                let literal = call.args.iter().find_map(|arg| match &arg.kind {
                    ExprKind::String(text) => Some(text.clone()),
                    ExprKind::Sequence(items) => items.iter().find_map(|item| match &item.kind {
                        ExprKind::String(text) => Some(text.clone()),
                        _ => None,
                    }),
                    _ => None,
                });
                let subject = std::iter::once(call.callee.as_ref()).chain(call.args.iter());
                match literal {
                    Some(text) => subject.into_iter().find_map(|part| self.tested_polarity(part, &text, check, hints)),
                    None => {
                        if !subject.into_iter().any(|part| self.reads_content_type(part, check, hints)) {
                            return None;
                        }
                        let name = call.callee.dotted().unwrap_or_default().to_lowercase();
                        if name.contains("json") {
                            Some(Polarity::Json)
                        } else if name.contains("html") {
                            Some(Polarity::NotJson)
                        } else {
                            None
                        }
                    }
                }
            }
            _ => None,
        }
    }

    /// What finding `literal` in `subject` says: about the content type when `subject` reads
    /// it (`json` -> JSON; `html`, `text/` -> not JSON), about the body when it reads the
    /// body text (`{`, `[` -> JSON; `<html`, `<!doctype` -> not JSON).
    fn tested_polarity(&self, subject: &Expr, literal: &str, check: &Check, hints: &mut Vec<String>) -> Option<Polarity> {
        let lower = literal.trim().to_lowercase();
        if self.reads_content_type(subject, check, hints) {
            if lower.contains("json") {
                return Some(Polarity::Json);
            }
            if lower.contains("html") || lower.starts_with("text/") {
                return Some(Polarity::NotJson);
            }
            return None;
        }
        let body = [format!("{}.text", check.target), format!("{}.content", check.target)];
        if !subject.any(&|part| part.dotted().is_some_and(|dotted| body.contains(&dotted))) {
            return None;
        }
        if lower.starts_with('{') || lower.starts_with('[') {
            Some(Polarity::Json)
        } else if lower.contains("<html") || lower.contains("<!doctype") || lower.contains("<head") || lower.contains("<body") {
            Some(Polarity::NotJson)
        } else {
            None
        }
    }

    /// An expression that reads the target's content type: `r.headers.get("content-type")`,
    /// `r.headers["Content-Type"].lower()`, aiohttp's `r.content_type`, or a variable
    /// assigned from one of those before the test.
    fn reads_content_type(&self, expr: &Expr, check: &Check, hints: &mut Vec<String>) -> bool {
        if self.reads_content_type_directly(expr, check, hints) {
            return true;
        }
        // `ct = response.headers.get("content-type", "")` then a test on `ct`.
        expr.names().into_iter().any(|name| match self.binding_of(name, check.before) {
            Some(Binding::Value { value, position, .. }) if position >= check.origin.position => {
                self.reads_content_type_directly(value, check, hints)
            }
            _ => false,
        })
    }

    fn reads_content_type_directly(&self, expr: &Expr, check: &Check, hints: &mut Vec<String>) -> bool {
        let headers = format!("{}.headers", check.target);
        let reads_headers = expr.any(&|part| part.dotted().as_deref() == Some(headers.as_str()));
        let names_content_type =
            expr.any(&|part| matches!(&part.kind, ExprKind::String(text) if text.eq_ignore_ascii_case("content-type")));
        if reads_headers && names_content_type {
            return true;
        }
        let attribute = format!("{}.content_type", check.target);
        if !expr.any(&|part| part.dotted().as_deref() == Some(attribute.as_str())) {
            return false;
        }
        // Only aiohttp responses have `.content_type`; on httpx and requests the check
        // raises AttributeError or reads a mock, and guards nothing.
        match check.origin.library {
            Library::Aiohttp | Library::Unknown => true,
            Library::Requests | Library::Httpx => {
                let hint =
                    format!("`{attribute}` does not exist on {} responses, so that check guards nothing", check.origin.library.name());
                if !hints.contains(&hint) {
                    hints.push(hint);
                }
                false
            }
        }
    }

    /// The configured guard helper `call` is, when it is one called on the target.
    fn guard_helper(&self, call: &Call, check: &Check) -> Option<Helper> {
        let callee = call.callee.dotted()?;
        let name = last_segment(&callee);
        if !call_mentions(call, check.target) {
            return None;
        }
        if self.config.guards.raising.iter().any(|helper| helper == name) {
            Some(Helper::Raising)
        } else if self.config.guards.returning.iter().any(|helper| helper == name) {
            Some(Helper::Returning(name.to_string()))
        } else {
            None
        }
    }

    /// A condition on the result of a guard helper called on the target:
    /// `if check_html_response(r)[0]:` or `is_html, err = check_html_response(r)` … `if is_html:`.
    fn checks_helper_result(&self, condition: &Expr, check: &Check) -> bool {
        let is_helper_call = |expr: &Expr| expr.unawaited().as_call().is_some_and(|call| self.guard_helper(call, check).is_some());
        if condition.any(&|expr| is_helper_call(expr)) {
            return true;
        }
        // Visiting the body once per condition and site would be cubic in a long
        // `else if` chain: the helper's assignments are listed once per function.
        let assignments = self.helper_assignments.get_or_init(|| {
            let guards = &self.config.guards;
            let mut found = Vec::new();
            visit_statements(&self.function.body, &mut |stmt| {
                if let StmtKind::Assign { value, .. } = &stmt.kind
                    && let Some(callee) = value.unawaited().as_call().and_then(|call| call.callee.dotted())
                    && guards.returning.iter().chain(&guards.raising).any(|helper| helper == last_segment(&callee))
                {
                    found.push(stmt);
                }
            });
            found
        });
        if assignments.is_empty() {
            return false;
        }
        condition.names().into_iter().any(|name| {
            assignments.iter().any(|stmt| {
                matches!(&stmt.kind, StmtKind::Assign { targets, value, .. }
                    if stmt.span.start_byte >= check.origin.position
                        && stmt.span.end_byte <= check.before
                        && is_helper_call(value)
                        && targets.iter().flat_map(|assigned| assigned.bound_names()).any(|bound| bound == name))
            })
        })
    }

    /// The libraries (their bits) whose decode error the `try`s around the call at `span`
    /// handle as they would that of a `.json()` there; `by_try` keeps each `try`'s answer.
    fn try_guards(&self, path: &[Frame<'p>], span: Span, by_try: &mut HashMap<usize, u8>) -> u8 {
        let mut guarded = 0;
        for (depth, frame) in path.iter().enumerate() {
            let Some(stmt) = frame.stmt() else { continue };
            let StmtKind::Try { body, handlers, .. } = &stmt.kind else { continue };
            if !block_contains(body, &span) {
                continue;
            }
            guarded |= *by_try.entry(stmt.span.start_byte).or_insert_with(|| {
                let guards = |library: Library| match self.try_verdict(handlers, library) {
                    TryVerdict::Guards => true,
                    TryVerdict::Swallows(_, handler) => !self.reads_unbound_after(path, depth, handler),
                    TryVerdict::Reraises(_) | TryVerdict::DoesNotCatch(_) => false,
                };
                Library::bits(guards)
            });
        }
        guarded
    }

    fn try_verdict<'h>(&self, handlers: &'h [Handler], library: Library) -> TryVerdict<'h> {
        let not_catching: Vec<String> = handlers.iter().filter(|handler| !handler.types.is_empty()).map(except_clause).collect();
        for handler in handlers {
            if !catches_decode_error(&handler.types, library) {
                continue;
            }
            let clause = except_clause(handler);
            if reraises(handler, library) {
                return TryVerdict::Reraises(clause);
            }
            // Logging and falling through may leave the data unbound: the crash moves a line
            // down ([`Self::reads_unbound_after`] decides). A handler that leaves guards.
            if !self.block_leaves(&handler.body) {
                return TryVerdict::Swallows(clause, handler);
            }
            return TryVerdict::Guards;
        }
        TryVerdict::DoesNotCatch(not_catching)
    }
}

/// How a handler reads in messages: `except httpx.HTTPError`, `except (A, B)` for a tuple,
/// `except …` for a bare `except:`.
fn except_clause(handler: &Handler) -> String {
    match handler.types.as_slice() {
        [] => "except …".to_string(),
        [one] => format!("except {one}"),
        several => format!("except ({})", several.join(", ")),
    }
}

/// The site being checked: the response expression, where it came from, where the call is.
#[derive(Clone, Copy)]
struct Check<'c> {
    target: &'c str,
    origin: &'c Origin,
    before: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Polarity {
    Json,
    NotJson,
}

impl Polarity {
    fn negate(self) -> Polarity {
        match self {
            Polarity::Json => Polarity::NotJson,
            Polarity::NotJson => Polarity::Json,
        }
    }
}

/// A configured guard helper: one that raises by itself, or one whose result (named) must
/// be acted on.
enum Helper {
    Raising,
    Returning(String),
}

enum TryVerdict<'h> {
    Guards,
    /// The handler catching the decode error ([`except_clause`]) re-raises it.
    Reraises(String),
    /// The handler catching the decode error goes on after the `try`.
    Swallows(String, &'h Handler),
    /// No handler catches it: the clauses of those that name types.
    DoesNotCatch(Vec<String>),
}

struct ReturnSummary {
    all_guarded: bool,
    library: Library,
}

#[derive(Clone)]
enum Binding<'f> {
    /// `name = value`, or `with value as name` (`from_with`), at a byte offset.
    Value { value: &'f Expr, position: usize, from_with: bool },
    /// Bound by something whose value is unknown (a loop, a tuple unpacking).
    Opaque(usize),
}

/// Capitalised callees build objects (`TokenResponse(**data)`, a pydantic model).
fn is_constructor_name(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_uppercase)
}

fn is_incoming_request_type(annotation: &str) -> bool {
    let last = last_segment(annotation);
    matches!(last, "Request" | "HttpRequest" | "WebSocket" | "BaseRequest")
}

fn receiver_text(receiver: &Expr) -> String {
    match receiver.unawaited().dotted() {
        Some(dotted) => dotted,
        None => match &receiver.unawaited().kind {
            ExprKind::Call(call) => match (call.callee.dotted(), &call.callee.kind) {
                (Some(callee), _) => format!("{callee}(…)"),
                (None, ExprKind::Attribute { name, .. }) => format!("….{name}()"),
                (None, _) => "…(…)".into(),
            },
            _ => "…".into(),
        },
    }
}

/// True when one of the call's arguments is `target` (`check_html_response(response)`), or
/// a view of it (`text.as_bytes()`).
fn call_mentions(call: &Call, target: &str) -> bool {
    call.arguments().any(|arg| {
        let arg = arg.unawaited();
        arg.dotted().as_deref() == Some(target)
            || arg.as_call().is_some_and(|view| {
                view.has_no_arguments()
                    && matches!(&view.callee.kind, ExprKind::Attribute { object, .. } if object.dotted().as_deref() == Some(target))
            })
    })
}

fn catches_decode_error(types: &[String], library: Library) -> bool {
    if types.is_empty() {
        return true;
    }
    types.iter().any(|caught| {
        let last = last_segment(caught);
        let module = caught.split('.').next().unwrap_or("");
        match last {
            "Exception" | "BaseException" => true,
            // aiohttp's `.json()` raises ContentTypeError (a ClientResponseError) on an HTML
            // body, which is no ValueError.
            "ValueError" | "JSONDecodeError" => library != Library::Aiohttp,
            "RequestException" | "InvalidJSONError" => {
                matches!(library, Library::Requests | Library::Unknown) && (module == last || module == "requests")
            }
            "ContentTypeError" | "ClientResponseError" | "ClientError" => {
                matches!(library, Library::Aiohttp | Library::Unknown) && (module == last || module == "aiohttp")
            }
            _ => false,
        }
    })
}

/// A handler that re-raises what it caught (`raise`, `raise e`, `raise e from None`),
/// except under `if isinstance(e, T):` for a `T` that is not the decode error (the
/// `except Exception: if isinstance(e, HTTPException): raise` idiom).
fn reraises(handler: &Handler, library: Library) -> bool {
    /// `bare`: whether a bare `raise` here re-raises what `handler` caught, which it does
    /// not in the handler of a `try` nested in it (`except HTTPException: raise`).
    fn visit(block: &Block, handler: &Handler, library: Library, bare: bool) -> bool {
        block.statements.iter().any(|stmt| match &stmt.kind {
            StmtKind::Raise { exception: None, .. } => bare,
            StmtKind::Raise { exception: Some(exception), .. } => {
                exception.as_name().is_some_and(|name| handler.name.as_deref() == Some(name))
            }
            StmtKind::If { condition, else_block, .. } if isinstance_of_other_types(condition, handler, library) => {
                // The then-branch re-raises only errors that are not the decode error.
                else_block.as_ref().is_some_and(|block| visit(block, handler, library, bare))
            }
            StmtKind::Try { body, handlers, else_block, finally_block } => {
                let own = [Some(body), else_block.as_ref(), finally_block.as_ref()];
                // A nested handler binding the same name catches another error under it.
                let nested = handlers.iter().filter(|nested| nested.name.is_none() || nested.name != handler.name);
                own.into_iter().flatten().any(|block| visit(block, handler, library, bare))
                    || nested.into_iter().any(|nested| visit(&nested.body, handler, library, false))
            }
            StmtKind::FunctionDef(_) => false,
            _ => stmt.blocks().any(|block| visit(block, handler, library, bare)),
        })
    }
    visit(&handler.body, handler, library, true)
}

/// `isinstance(e, HTTPException)` on the caught name, for types that are not the decode error.
fn isinstance_of_other_types(condition: &Expr, handler: &Handler, library: Library) -> bool {
    let Some(call) = condition.as_call() else { return false };
    if call.callee.dotted().as_deref() != Some("isinstance") {
        return false;
    }
    let [subject, types] = call.args.as_slice() else { return false };
    if subject.as_name().is_none() || subject.as_name() != handler.name.as_deref() {
        return false;
    }
    let names: Vec<String> = match &types.kind {
        ExprKind::Sequence(parts) => parts.iter().filter_map(Expr::dotted).collect(),
        _ => types.dotted().into_iter().collect(),
    };
    !names.is_empty() && !catches_decode_error(&names, library)
}

/// The names the statements bind, nested blocks included (not nested functions): targets
/// of assignments and loops, and what `with` items bind.
fn bind_names(stmts: &[Stmt], names: &mut HashSet<String>) {
    let mut bind = |stmt: &Stmt| {
        let targets: Vec<&Expr> = match &stmt.kind {
            StmtKind::Assign { targets, .. } | StmtKind::Loop { targets, .. } => targets.iter().collect(),
            StmtKind::With { items, .. } => items.iter().filter_map(|item| item.binding.as_ref()).collect(),
            _ => Vec::new(),
        };
        names.extend(targets.iter().flat_map(|target| target.bound_names()).map(String::from));
    };
    for stmt in stmts {
        if matches!(stmt.kind, StmtKind::FunctionDef(_)) {
            continue;
        }
        bind(stmt);
        for block in stmt.blocks() {
            block.visit(&mut bind);
        }
    }
}

/// The expression reads one of `names` as it stands in the function: not a comprehension's
/// own variable of that name (`[url.strip() for url in urls]`, `shadowed`), nor a name in a
/// lambda, whose parameters are not kept.
fn reads_name(expression: &Expr, names: &HashSet<String>, shadowed: &[&str]) -> bool {
    match &expression.kind {
        ExprKind::Name(name) => names.contains(name) && !shadowed.contains(&name.as_str()),
        ExprKind::Lambda { .. } => false,
        ExprKind::Comprehension { parts, targets } => {
            let mut inner = shadowed.to_vec();
            inner.extend(targets.iter().flat_map(Expr::bound_names));
            parts.iter().any(|part| reads_name(part, names, &inner))
        }
        _ => expression.children().into_iter().any(|child| reads_name(child, names, shadowed)),
    }
}

/// Visits every statement of a block and its nested blocks (not nested functions).
fn visit_statements<'f>(block: &'f Block, visit: &mut dyn FnMut(&'f Stmt)) {
    block.visit(visit);
}

fn block_contains(block: &Block, span: &Span) -> bool {
    block.statements.iter().any(|stmt| stmt.span.contains(span))
}

fn collect_returns<'f>(block: &'f Block, path: &mut Vec<Frame<'f>>, out: &mut Vec<(Vec<Frame<'f>>, &'f Stmt)>) {
    for (index, stmt) in block.statements.iter().enumerate() {
        if matches!(stmt.kind, StmtKind::FunctionDef(_)) {
            continue;
        }
        path.push(Frame { block, index });
        if matches!(stmt.kind, StmtKind::Return(Some(_))) {
            out.push((path.clone(), stmt));
        }
        for nested in stmt.blocks() {
            collect_returns(nested, path, out);
        }
        path.pop();
    }
}

/// Every binding of `name` in `block` and the blocks it holds (not nested functions), in
/// source order, each with the offset a query must be past for it to count: its start,
/// and for an assignment its end (`response = response.json()` binds after the call).
fn collect_bindings<'f>(block: &'f Block, name: &str, found: &mut Vec<(usize, usize, Binding<'f>)>) {
    for stmt in &block.statements {
        let start = stmt.span.start_byte;
        match &stmt.kind {
            StmtKind::FunctionDef(_) => continue,
            StmtKind::Assign { targets, value, augmented: false } => {
                for target in targets {
                    match &target.kind {
                        ExprKind::Name(bound) if bound == name => {
                            found.push((start, stmt.span.end_byte, Binding::Value { value, position: start, from_with: false }))
                        }
                        _ if target.bound_names().contains(&name) => found.push((start, stmt.span.end_byte, Binding::Opaque(start))),
                        _ => {}
                    }
                }
            }
            StmtKind::With { items, .. } => {
                for item in items {
                    if let Some(binding) = &item.binding {
                        if binding.as_name() == Some(name) {
                            found.push((start, start, Binding::Value { value: &item.context, position: start, from_with: true }));
                        } else if binding.bound_names().contains(&name) {
                            found.push((start, start, Binding::Opaque(start)));
                        }
                    }
                }
            }
            StmtKind::Loop { targets, .. } if targets.iter().any(|target| target.bound_names().contains(&name)) => {
                found.push((start, start, Binding::Opaque(start)));
            }
            _ => {}
        }
        if let StmtKind::Try { handlers, .. } = &stmt.kind {
            for handler in handlers {
                if handler.name.as_deref() == Some(name) {
                    let at = handler.span.start_byte;
                    found.push((at, at, Binding::Opaque(at)));
                }
            }
        }
        for nested in stmt.blocks() {
            collect_bindings(nested, name, found);
        }
    }
}

/// The last of `bindings` (from [`collect_bindings`]) that starts before `before`.
fn binding_before<'f>(bindings: &[(usize, usize, Binding<'f>)], before: usize) -> Option<Binding<'f>> {
    bindings.iter().rev().find(|(start, end, _)| *start < before && *end <= before).map(|(_, _, binding)| binding.clone())
}

/// Whether a site described by `origin` parses the `body` of undici's `request()`: a stream
/// with no status or headers of its own, which the guard helper cannot read.
pub fn undici_body(facts: &FileFacts, origin: &str) -> bool {
    origin.contains("`request()`") && facts.imports.iter().any(|import| import.module == "undici" && import.alias == "request")
}
