//! OAuth callbacks and what they do, followed across functions and files.
//!
//! A route handler is a callback when what it receives as a code (`code`, `public_token`,
//! `request.code`) reaches a token exchange: an outgoing HTTP request, or a library
//! exchange call, in the handler or in what it calls. A handler on a `callback` path that
//! exchanges nothing is a stub. From each callback the calls are followed, through the
//! resolution of [`crate::index::Resolver`] and to a bounded depth, to find where the
//! tokens are stored (a configured sink, or session writes that are committed) and where
//! the historical sync starts, each with the chain of calls that reaches it. The handler's
//! own body tells whether it returns tokens and whether it checks `state`.
//!
//! This is the link stage: it knows calls, sessions and routes, not defects. The rules
//! `callback_no_persist`, `callback_no_sync`, `token_in_response` and
//! `state_not_validated` turn its results into findings.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use crate::config::Config;
use crate::facts::{
    Call, Expr, ExprKind, FileFacts, Function, FunctionId, Language, Param, Span, Stmt, StmtKind, WithItem, is_name_byte, last_segment,
};
use crate::index::{Project, Resolver, Target};
use crate::routes::Route;

/// One step of an evidence chain: a call site, or the write or call that is the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub file_index: usize,
    /// 0-based line.
    pub line: usize,
    /// The qualified name of the function the hop is in.
    pub function: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Callback,
    Stub,
    /// A callback signing the user in to the application (`[callbacks] sign_in_words`,
    /// `sign_in_calls`): it uses the tokens once, to learn who the user is, so storing and
    /// syncing are not its business.
    SignIn,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Callback => "callback",
            Kind::Stub => "stub",
            Kind::SignIn => "sign_in",
        }
    }

    /// Whether the route exchanges a code: a callback or a sign-in, not a stub.
    pub fn exchanges(self) -> bool {
        self != Kind::Stub
    }
}

/// How a callback treats `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateCheck {
    /// Compared with a stored value, or given to a validator.
    Validated,
    /// The callback exchanges an input that comes with no redirect (Plaid's `public_token`).
    NotApplicable,
    /// The callback reads no `state` at all.
    Absent,
    /// Only checked for presence (`if not state: raise`), at this 0-based line.
    PresenceOnly(usize),
    /// Compared with the user's id, which an attacker can know, at this 0-based line.
    UserId(usize),
    /// Read but never checked.
    Unchecked,
}

/// A request that forwards the callback's code to a route of the scanned tree (a Next.js
/// route calling the FastAPI backend), or to a path where none answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// Where the forwarding request is made.
    pub span: Span,
    pub file_index: usize,
    /// The request's method (upper case) and path (interpolations as `{...}`).
    pub method: String,
    pub path: String,
    /// The route reached: `POST /api/notion/callback`, its file and its handler.
    pub target: Option<DelegationTarget>,
    /// For a request that reaches no route: the closest routes of the tree, as
    /// `GET /api/asana/callback (backend/routes/asana.py:26)`.
    pub closest: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationTarget {
    pub route: String,
    pub file_index: usize,
    pub handler: String,
}

impl DelegationTarget {
    /// The handler function of the route reached.
    fn handler_in<'a>(&self, resolver: &Resolver<'a>) -> Option<Target<'a>> {
        let facts = resolver.facts(self.file_index)?;
        let function = facts.functions.iter().find(|function| function.qualified_name() == self.handler && !function.is_module())?;
        Some(Target { file_index: self.file_index, facts, function })
    }
}

/// Tokens put into the callback's HTTP response.
#[derive(Debug, Clone)]
pub struct TokenLeak {
    pub span: Span,
    /// What leaks and how, for the message: "spreads `token_data` into the response body".
    pub description: String,
}

/// A historical sync that runs only on one branch.
#[derive(Debug, Clone)]
pub struct PartialSync {
    pub chain: Vec<Hop>,
    /// The `if` (or loop) the sync depends on.
    pub condition: Hop,
}

#[derive(Debug, Clone)]
pub struct CallbackAnalysis {
    pub file_index: usize,
    /// The handler's qualified name.
    pub function: String,
    /// The handler's name, where findings about the callback as a whole point.
    pub span: Span,
    /// `GET /api/zoom/callback`.
    pub route: String,
    /// `/api/zoom/callback`.
    pub path: String,
    pub kind: Kind,
    /// The input the callback exchanges (`code`, `public_token`), when it reads one.
    pub input: Option<String>,
    /// Handler call site down to the exchange.
    pub exchange: Option<Vec<Hop>>,
    /// Handler call site down to the write or sink that stores the tokens.
    pub persistence: Option<Vec<Hop>>,
    /// Tokens kept in attributes only (`self.access_token = ...`): not persistence.
    pub memory_only: Option<Vec<Hop>>,
    /// The historical sync started after persistence on the success path, unconditionally.
    pub sync: Option<Vec<Hop>>,
    /// A sync after persistence that runs only on one branch.
    pub partial_sync: Option<PartialSync>,
    /// A sync started before the tokens are stored.
    pub early_sync: Option<Vec<Hop>>,
    pub leak: Option<TokenLeak>,
    pub state: StateCheck,
    /// The callback forwards the code to another route (first such request).
    pub delegation: Option<Delegation>,
}

impl StateCheck {
    pub fn name(&self) -> &'static str {
        match self {
            StateCheck::Validated => "validated",
            StateCheck::NotApplicable => "not-applicable",
            StateCheck::Absent => "absent",
            StateCheck::PresenceOnly(_) => "presence-only",
            StateCheck::UserId(_) => "user-id",
            StateCheck::Unchecked => "unchecked",
        }
    }
}

impl CallbackAnalysis {
    pub fn persists(&self) -> bool {
        self.persistence.is_some()
    }

    pub fn syncs(&self) -> bool {
        self.sync.is_some()
    }

    /// The request forwarding the code to a route no scanned route answers (OA103). Such
    /// a callback is reported for that alone: that it stores nothing (OA002) follows from
    /// it, and the fix is to the request, not a persistence block.
    pub fn dead_delegation(&self) -> Option<&Delegation> {
        self.delegation.as_ref().filter(|delegation| delegation.target.is_none())
    }
}

/// Every callback and stub among the routes of one file.
pub fn analyse_routes(
    resolver: &Resolver<'_>,
    config: &Config,
    file_index: usize,
    facts: &FileFacts,
    routes: &[Route],
) -> Vec<CallbackAnalysis> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    // Handlers of one file often call the same services: their walks are shared.
    let mut walk = Walk {
        resolver,
        config,
        events: Vec::new(),
        path: Vec::new(),
        committing: HashSet::new(),
        memo: HashMap::new(),
        follows_urls: OnceCell::new(),
    };
    for route in routes {
        let Some(function) = facts.functions.iter().find(|function| function.qualified_name() == route.handler && !function.is_module())
        else {
            continue;
        };
        if !seen.insert(function.id) {
            continue;
        }
        if let Some(analysis) = analyse_handler(&mut walk, file_index, facts, function, route) {
            out.push(analysis);
        }
    }
    out
}

/// Cheap test on the raw text: a handler of the file can exchange a code it reads only
/// when the text has a code input as a whole word (`code`, `public_token`; not
/// `status_code`). Request exchanges ([`Config::callbacks`]) read no code: see
/// `request_exchange_calls`.
pub fn mentions_code_input(text: &str, config: &Config) -> bool {
    let bytes = text.as_bytes();
    config.callbacks.code_inputs.iter().any(|word| {
        memchr::memmem::find_iter(bytes, word.as_bytes()).any(|at| {
            let before = at.checked_sub(1).and_then(|index| bytes.get(index)).copied();
            let after = bytes.get(at + word.len()).copied();
            !before.is_some_and(is_name_byte) && !after.is_some_and(is_name_byte)
        })
    })
}

/// Some file of `language` in the tree names a `request_exchange_calls` call (authlib's
/// `authorize_access_token`) or a `request_exchange_keywords` keyword (requests-oauthlib's
/// `authorization_response`): a handler may exchange without reading a code.
pub fn tree_calls_request_exchange(project: &Project, language: Language, config: &Config) -> bool {
    let callbacks = &config.callbacks;
    let needles: Vec<String> = callbacks.request_exchange_calls.iter().chain(&callbacks.request_exchange_keywords).cloned().collect();
    tree_mentions(project, language, &needles)
}

/// Some file of `language` in the tree holds one of `needles`.
fn tree_mentions(project: &Project, language: Language, needles: &[String]) -> bool {
    !needles.is_empty() && !project.files_containing(language, needles).is_empty()
}

/// Words of a route or handler name for the step where a sign-in comes back.
const SIGN_IN_WORDS: &[&str] = &["auth", "authorize", "authorized", "authorization", "oauth", "oauth2", "login", "signin", "sso", "token"];

fn analyse_handler<'a>(
    walk: &mut Walk<'_, 'a>,
    file_index: usize,
    facts: &'a FileFacts,
    function: &'a Function,
    route: &Route,
) -> Option<CallbackAnalysis> {
    let config = walk.config;
    let path = route.path.as_str();
    let input = code_input(config, function);
    // Broader than [`Route::is_named_callback`], which decides stubs: a handler reading its
    // code from the request (`request.args["code"]`) on any route mentioning a callback may
    // still exchange it.
    let looks_like_callback = path.to_lowercase().contains("callback") || function.name.to_lowercase().contains("callback");
    // authlib's callbacks read no code themselves and often sit on `/auth` or `/authorize`:
    // where the tree calls a request exchange, a handler named for a sign-in step may be one.
    let named_for_sign_in = || {
        crate::facts::words_of(path)
            .into_iter()
            .chain(crate::facts::words_of(&function.name))
            .any(|word| SIGN_IN_WORDS.contains(&word.as_str()))
    };
    let may_exchange_request = || named_for_sign_in() && tree_calls_request_exchange(walk.resolver.project, facts.language, config);
    // Superset's `OAuth2StoreTokenCommand(schema.load(request.args)).run()`: a handler named
    // for a sign-in step that hands its whole query on may exchange the code it carries.
    let hands_over_query = || named_for_sign_in() && hands_over_query(config, facts, function);
    if input.is_none() && !looks_like_callback && !may_exchange_request() && !hands_over_query() {
        return None;
    }
    let target = Target { file_index, facts, function };
    let events = walk.function(target, code_params(config, function), Incoming::of_handler(function), 0);
    let exchange_event = events.iter().find(|event| event.kind.exchanges());
    let exchange = exchange_event.map(|event| event.chain.clone());
    // Every exchange is a library's that checks `state` itself: no branch is left to check.
    let library_checks_state = exchange_event.is_some()
        && events
            .iter()
            .filter(|event| event.kind.exchanges())
            .all(|event| event.kind == EventKind::RequestExchange { checks_state: true });
    let delegation = events.iter().find_map(|event| event.delegation.as_deref().cloned());
    let signs_in_by_path = || crate::facts::words_of(path).iter().any(|word| config.callbacks.sign_in_words.contains(word));
    let kind = match exchange {
        None => Kind::Stub,
        Some(_) if signs_in_by_path() || events.iter().any(|event| event.kind == EventKind::SignIn) => Kind::SignIn,
        Some(_) => Kind::Callback,
    };
    if kind == Kind::Stub && !route.is_named_callback(config) {
        return None;
    }
    // An OAuth server's token endpoint answers its clients with tokens by design.
    if kind.exchanges() && is_token_endpoint(config, function) {
        return None;
    }
    let success = |event: &&Event| event.flags.error_path.is_none();
    let persist_index = events.iter().position(|event| event.kind == EventKind::Persist && event.flags.error_path.is_none());
    let persistence = persist_index.map(|index| events[index].chain.clone());
    let memory_only = events.iter().find(|event| event.kind == EventKind::Memory).map(|event| event.chain.clone());
    let mut sync = None;
    let mut partial_sync = None;
    let mut early_sync = None;
    if let Some(persist_index) = persist_index {
        for event in events.iter().skip(persist_index + 1).filter(success).filter(|event| event.kind == EventKind::Sync) {
            match &event.flags.condition {
                None => {
                    sync = Some(event.chain.clone());
                    break;
                }
                Some(condition) => {
                    if partial_sync.is_none() {
                        partial_sync = Some(PartialSync { chain: event.chain.clone(), condition: condition.clone() });
                    }
                }
            }
        }
        if sync.is_some() {
            partial_sync = None;
        } else if partial_sync.is_none() {
            early_sync = events
                .iter()
                .take(persist_index)
                .filter(success)
                .find(|event| event.kind == EventKind::Sync)
                .map(|event| event.chain.clone());
        }
    }
    let (leak, state) = if kind.exchanges() {
        // authlib's `authorize_access_token(request)` compares `state` with the session's.
        // A callback forwarding its code to a route of the tree leaves `state` to that
        // route too: the route reached may check it.
        let delegated_state = || {
            let target = delegation.as_ref()?.target.as_ref()?.handler_in(walk.resolver)?;
            let input = code_input(config, target.function);
            Some(state_check(walk.resolver, config, target.file_index, target.function, input.as_deref()))
        };
        let state = if library_checks_state {
            StateCheck::Validated
        } else {
            match state_check(walk.resolver, config, file_index, function, input.as_deref()) {
                own @ (StateCheck::Validated | StateCheck::NotApplicable) => own,
                own => delegated_state().filter(|theirs| *theirs == StateCheck::Validated).unwrap_or(own),
            }
        };
        // A call given the URL the browser came back to answers the tokens, as one given the
        // code does (`token = handler.finish(request.url)`).
        let follows_urls = walk.follows_urls(facts.language);
        let handler = FunctionWalk::new(config, target, HashSet::new(), Incoming::of_handler(function), follows_urls, 0);
        // A function of the tree the handler calls returns the token response when, given
        // the code, what it returns leaks by the same test (one call deep).
        let resolver = walk.resolver;
        let returns_tokens = |call: &Call, holds_code: &dyn Fn(&Expr) -> bool| {
            let callee = resolver.resolve_call(file_index, function, &call.callee)?;
            let given = parameters_receiving(callee.function, call, &call.args, holds_code);
            let inner = Answers { config, facts: callee.facts, returns_tokens: &|_, _| None, delegates: false };
            Some(token_leak(&inner, callee.function, given, &|_| false).is_some())
        };
        let answers = Answers { config, facts, returns_tokens: &returns_tokens, delegates: delegation.is_some() };
        let leak = token_leak(&answers, function, code_params(config, function), &|expression| handler.holds_url(config, expression));
        (leak, state)
    } else {
        (None, StateCheck::NotApplicable)
    };
    Some(CallbackAnalysis {
        file_index,
        function: function.qualified_name(),
        span: function.name_span,
        route: route_text(route),
        path: path.to_string(),
        kind,
        input,
        exchange,
        persistence: if kind.exchanges() { persistence } else { None },
        memory_only,
        sync: if kind.exchanges() { sync } else { None },
        partial_sync,
        early_sync,
        leak,
        state,
        delegation,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Exchange,
    /// A library call reading the code from the incoming request it is given; one of
    /// `[callbacks] state_validators` checks `state` too (authlib's `authorize_access_token`).
    RequestExchange {
        checks_state: bool,
    },
    Persist,
    Sync,
    /// A token assigned to an attribute of `self`.
    Memory,
    /// A call signing the user in to the application (`[callbacks] sign_in_calls`).
    SignIn,
}

impl EventKind {
    fn exchanges(self) -> bool {
        matches!(self, EventKind::Exchange | EventKind::RequestExchange { .. })
    }
}

/// Where in the control flow an event happens, as seen from the handler.
#[derive(Debug, Clone, Default)]
struct Flags {
    /// The innermost `if` or loop the event depends on.
    condition: Option<Hop>,
    /// The `except` handler the event runs in.
    error_path: Option<Hop>,
}

#[derive(Debug, Clone)]
struct Event {
    kind: EventKind,
    chain: Vec<Hop>,
    flags: Flags,
    /// On the exchange event of a request forwarding the code to another route.
    delegation: Option<Rc<Delegation>>,
}

/// A walked function: file, function, its tainted, request and URL parameters, the sessions
/// its callers' decorators commit (each sorted) and the depth.
type WalkKey = (usize, FunctionId, Vec<String>, Vec<String>, Vec<String>, Vec<String>, usize);

/// A depth-first walk over the calls of a callback, recording events in source order
/// with the events of a callee inlined at its call site.
struct Walk<'r, 'a> {
    resolver: &'r Resolver<'a>,
    config: &'r Config,
    /// The events of the function being walked, chains and flags relative to it.
    events: Vec<Event>,
    /// The functions on the current call path, against recursion.
    path: Vec<(usize, FunctionId)>,
    /// The sessions committed when a function on the current call path returns: those its
    /// decorators commit ([`Walk::decorator_commits`]).
    committing: HashSet<String>,
    /// The events of functions already walked, by function, tainted parameters and depth.
    memo: HashMap<WalkKey, Rc<Vec<Event>>>,
    /// The tree names a `request_exchange_keywords` keyword, so the URL the browser came back
    /// to is followed (computed when first asked).
    follows_urls: OnceCell<bool>,
}

/// What one function does with database sessions.
pub struct Sessions {
    /// Session names bound in the function (parameters, `with ... as db`, factories).
    bound: HashSet<String>,
    /// Sessions whose writes are committed: a commit call on them, or a committing manager.
    committed: HashSet<String>,
    /// The function assigns a token attribute on an object that is not `self`.
    assigns_token_attribute: bool,
    /// The function mentions a token at all.
    mentions_token: bool,
    /// Transactions that roll back when dropped uncommitted (`let tx = pool.begin()`).
    scoped: HashSet<String>,
    /// Names holding an HTTP client, whatever they are called: `async with
    /// aiohttp.ClientSession() as session` is no database session.
    http: HashSet<String>,
}

impl<'a> Walk<'_, 'a> {
    fn follows_urls(&self, language: Language) -> bool {
        *self.follows_urls.get_or_init(|| tree_mentions(self.resolver.project, language, &self.config.callbacks.request_exchange_keywords))
    }

    /// The events of one function, chains starting at its own lines and flags relative to
    /// its body.
    fn function(&mut self, target: Target<'a>, initial: HashSet<String>, incoming: Incoming, depth: usize) -> Vec<Event> {
        let key = (target.file_index, target.function.id);
        if self.path.contains(&key) {
            return Vec::new();
        }
        self.path.push(key);
        let outer = std::mem::take(&mut self.events);
        let own_commits = self.decorator_commits(target);
        let committing_outer = (!own_commits.is_empty()).then(|| {
            let mut committing = self.committing.clone();
            committing.extend(own_commits);
            std::mem::replace(&mut self.committing, committing)
        });
        let tainted = taint(self.config, target.function, initial);
        let follows_urls = self.follows_urls(target.facts.language);
        let context = FunctionWalk::new(self.config, target, tainted, incoming, follows_urls, depth);
        self.block(&context, &target.function.body.statements, &Flags::default());
        if let Some(outer) = committing_outer {
            self.committing = outer;
        }
        self.path.pop();
        std::mem::replace(&mut self.events, outer)
    }

    fn block(&mut self, context: &FunctionWalk<'a>, statements: &'a [Stmt], flags: &Flags) {
        for stmt in statements {
            match &stmt.kind {
                StmtKind::FunctionDef(_) | StmtKind::ClassDef { .. } => {}
                StmtKind::If { condition, then_block, else_block } => {
                    self.expression(context, condition, flags);
                    let nested = Flags { condition: Some(context.hop(stmt.span.start.line)), error_path: flags.error_path.clone() };
                    self.block(context, &then_block.statements, &nested);
                    if let Some(else_block) = else_block {
                        self.block(context, &else_block.statements, &nested);
                    }
                }
                StmtKind::Loop { targets, iter, condition, body, else_block } => {
                    for expression in targets.iter().chain(iter.as_deref()).chain(condition.as_deref()) {
                        self.expression(context, expression, flags);
                    }
                    let nested = Flags { condition: Some(context.hop(stmt.span.start.line)), error_path: flags.error_path.clone() };
                    self.block(context, &body.statements, &nested);
                    if let Some(else_block) = else_block {
                        self.block(context, &else_block.statements, &nested);
                    }
                }
                StmtKind::Try { body, handlers, else_block, finally_block } => {
                    self.block(context, &body.statements, flags);
                    for handler in handlers {
                        let nested = Flags { condition: flags.condition.clone(), error_path: Some(context.hop(handler.span.start.line)) };
                        self.block(context, &handler.body.statements, &nested);
                    }
                    for block in else_block.iter().chain(finally_block.iter()) {
                        self.block(context, &block.statements, flags);
                    }
                }
                StmtKind::With { items, body, .. } => {
                    for item in items {
                        self.expression(context, &item.context, flags);
                    }
                    self.block(context, &body.statements, flags);
                }
                StmtKind::Assign { targets, value, .. } => {
                    self.expression(context, value, flags);
                    for target in targets {
                        if let ExprKind::Attribute { object, name } = &target.kind
                            && object.as_name().is_some_and(|object| object == "self")
                            && is_token_key(self.config, name)
                        {
                            self.push(EventKind::Memory, context.chain(stmt.span.start.line), flags);
                        }
                    }
                }
                _ => {
                    for expression in stmt.expressions() {
                        self.expression(context, expression, flags);
                    }
                }
            }
        }
    }

    /// The calls of an expression, outer calls first (source order for the usual
    /// `await service.call(...)` statement).
    fn expression(&mut self, context: &FunctionWalk<'a>, expression: &'a Expr, flags: &Flags) {
        let mut calls = Vec::new();
        expression.walk(&mut |part| {
            if let ExprKind::Call(call) = &part.kind {
                calls.push((call, part.span));
            }
        });
        for (call, span) in calls {
            self.call(context, call, span, flags);
        }
    }

    fn call(&mut self, context: &FunctionWalk<'a>, call: &'a Call, span: Span, flags: &Flags) {
        let config = self.config;
        let line = span.start.line;
        // `Service().connect(code)` has no dotted name: its method name is enough here.
        let callee_name = match (&call.callee.kind, call.callee.dotted()) {
            (_, Some(dotted)) => dotted,
            (ExprKind::Attribute { name, .. }, None) => name.clone(),
            _ => return,
        };
        let name = last_segment(&callee_name);
        // `run_in_threadpool(handler.exchange_code, code, uri)` calls its first argument.
        let (callee, args): (&Expr, &[Expr]) = match call.args.split_first() {
            Some((first, rest)) if config.callbacks.call_through.iter().any(|through| through == name) => (first, rest),
            _ => (&call.callee, &call.args),
        };
        let callee_name = callee.dotted().unwrap_or_else(|| callee_name.clone());
        let name = last_segment(&callee_name);
        if names_one_of(name, &config.sync_triggers) {
            self.push(EventKind::Sync, context.chain(line), flags);
            return;
        }
        // Still followed: a function of the tree named `login_with_code(code)` may exchange.
        if signs_in(config, name) {
            self.push(EventKind::SignIn, context.chain(line), flags);
        }
        let tainted_args = args.iter().chain(call.keywords.iter().map(|(_, value)| value)).any(|arg| context.is_tainted(config, arg));
        let is_sink = names_one_of(name, &config.persistence.sinks)
            || looks_like_sink(config, &callee_name, args, &call.keywords)
            || is_client_write(config, call);
        if tainted_args && let Some(delegation) = self.delegation(context, call, span) {
            self.delegate(context, delegation, line, flags);
            return;
        }
        let resolved = if context.depth < config.callbacks.max_depth {
            self.resolver.resolve_call(context.target.file_index, context.target.function, callee)
        } else {
            None
        };
        if let Some(target) = resolved {
            let initial = mapped_taint(config, context, target.function, call, args);
            let incoming = Incoming {
                requests: parameters_receiving(target.function, call, args, &|arg| context.is_request(arg)),
                urls: if context.follows_urls {
                    parameters_receiving(target.function, call, args, &|arg| context.holds_url(config, arg))
                } else {
                    HashSet::new()
                },
            };
            let sorted = |names: &HashSet<String>| {
                let mut sorted: Vec<String> = names.iter().cloned().collect();
                sorted.sort();
                sorted
            };
            let key = (
                target.file_index,
                target.function.id,
                sorted(&initial),
                sorted(&incoming.requests),
                sorted(&incoming.urls),
                sorted(&self.committing),
                context.depth + 1,
            );
            let events = match self.memo.get(&key) {
                Some(events) => Rc::clone(events),
                None => {
                    let events = Rc::new(self.function(target, initial, incoming, context.depth + 1));
                    self.memo.insert(key, Rc::clone(&events));
                    events
                }
            };
            let call_site = context.hop(line);
            for event in events.iter() {
                let mut chain = Vec::with_capacity(event.chain.len() + 1);
                chain.push(call_site.clone());
                chain.extend(event.chain.iter().cloned());
                let flags = Flags {
                    condition: event.flags.condition.clone().or_else(|| flags.condition.clone()),
                    error_path: event.flags.error_path.clone().or_else(|| flags.error_path.clone()),
                };
                self.events.push(Event { kind: event.kind, chain, flags, delegation: event.delegation.clone() });
            }
            let persisted = events.iter().any(|event| event.kind == EventKind::Persist);
            if is_sink && !persisted {
                self.push(EventKind::Persist, context.chain(line), flags);
            }
            return;
        }
        if is_sink {
            self.push(EventKind::Persist, context.chain(line), flags);
            return;
        }
        if tainted_args && (is_built_request(config, context.target.facts, callee) || is_exchange_call(config, name)) {
            self.push(EventKind::Exchange, context.chain(line), flags);
            return;
        }
        // `await oauth.acme.authorize_access_token(request)`, Flask's taking the request from a
        // global, so no positional argument (keywords are options: `claims_options=...`); or
        // `oauth.fetch_token(url, authorization_response=request.url)`.
        let checks_state = match request_read(config, name, call) {
            Some(RequestRead::Request)
                if args.is_empty()
                    || args.iter().chain(call.keywords.iter().map(|(_, value)| value)).any(|arg| context.is_request(arg)) =>
            {
                Some(config.callbacks.state_validators.iter().any(|validator| validator == name))
            }
            Some(RequestRead::Url(url)) if context.holds_url(config, url) => Some(context.built_with_state(config, callee, line)),
            _ => None,
        };
        if let Some(checks_state) = checks_state {
            self.push(EventKind::RequestExchange { checks_state }, context.chain(line), flags);
            return;
        }
        // Session writes: `db.add(token)` with a commit on `db`, or `db.commit()` after a
        // token attribute was set on a loaded row.
        if let ExprKind::Attribute { name: method, .. } = &callee.kind
            && (config.persistence.writes.contains(method) || config.persistence.commits.contains(method))
            && let Some(session) = self.sessions(context).written_session(config, call)
        {
            let sessions = self.sessions(context);
            let committed = sessions.committed.contains(&session);
            let write = config.persistence.writes.contains(method) && committed && sessions.mentions_token;
            let commit = config.persistence.commits.contains(method) && sessions.assigns_token_attribute;
            if write || commit {
                self.push(EventKind::Persist, context.chain(line), flags);
            }
        }
    }

    /// What the walked function does with sessions, taking the sessions that the decorators
    /// of it and of its callers commit as committed.
    fn sessions<'c>(&self, context: &'c FunctionWalk<'a>) -> &'c Sessions {
        context.sessions.get_or_init(|| {
            let mut sessions = sessions_of(self.config, context.target.function);
            sessions.committed.extend(self.committing.iter().cloned());
            sessions
        })
    }

    /// The sessions the decorators of a function of the tree commit when it returns: those
    /// committed in the decorator or in the functions it nests (Superset's `@transaction()`
    /// calls `db.session.commit()` in its `wrapped`).
    fn decorator_commits(&self, target: Target<'a>) -> HashSet<String> {
        let mut committed = HashSet::new();
        for decorator in &target.function.decorators {
            let callee = decorator.as_call().map_or(decorator, |call| &call.callee);
            let Some(found) = self.resolver.resolve_call(target.file_index, target.function, callee) else { continue };
            let span = found.function.span;
            for function in found.facts.functions.iter().filter(|function| span.contains(&function.span)) {
                committed.extend(sessions_of(self.config, function).committed);
            }
        }
        committed
    }

    fn push(&mut self, kind: EventKind, chain: Vec<Hop>, flags: &Flags) {
        self.events.push(Event { kind, chain, flags: flags.clone(), delegation: None });
    }

    /// The delegation a request forwarding the code makes: a request whose URL is a path
    /// of this service (`/api/x`) or of one whose base is interpolated
    /// (`${BACKEND_URL}/api/x/callback`), that reaches a route of the tree, or that reaches
    /// none under a `[callbacks] delegation_prefixes` path.
    fn delegation(&self, context: &FunctionWalk<'a>, call: &'a Call, span: Span) -> Option<Delegation> {
        let config = self.config;
        let facts = context.target.facts;
        if !is_built_request(config, facts, &call.callee) {
            return None;
        }
        let url = call.args.first()?;
        let path = forwarded_path(url, context.target.function)?;
        let method = request_method(config, call);
        let project = self.resolver.project;
        // `${BACKEND_URL}/api/x` is another service's route; `/api/x` may be this one's.
        let other_service = match &url.unawaited().kind {
            ExprKind::Interpolated { text, .. } => !text.starts_with('/'),
            ExprKind::Name(_) => forwarded_base(url, context.target.function),
            _ => false,
        };
        let Some(table) = project.routes() else {
            // The table is still being collected: this file is analysed again once it is.
            project.defer(self.resolver.home());
            return None;
        };
        let home = project.service_root(context.target.file_index);
        let language = facts.language;
        // The table lists routes file by file: one service comparison per file. A file in
        // another language is another service's even in a tree without manifests (a Next.js
        // app calling the FastAPI backend beside it).
        let mut last_file: Option<(usize, bool)> = None;
        let routes: Vec<&crate::routes::ProjectRoute> = table
            .iter()
            .filter(|candidate| {
                if !other_service {
                    return true;
                }
                match last_file {
                    Some((file_index, other)) if file_index == candidate.file_index => other,
                    _ => {
                        let other = project.service_root(candidate.file_index) != home
                            || project.files.get(candidate.file_index).is_some_and(|file| file.language != language);
                        last_file = Some((candidate.file_index, other));
                        other
                    }
                }
            })
            .collect();
        let reached = routes.iter().find(|candidate| crate::routes::matches(&candidate.route, &method, &path));
        let target = reached.map(|found| DelegationTarget {
            route: route_text(&found.route),
            file_index: found.file_index,
            handler: found.route.handler.clone(),
        });
        if target.is_none() && !config.callbacks.delegation_prefixes.iter().any(|prefix| path.starts_with(prefix.as_str())) {
            return None;
        }
        let mut closest = Vec::new();
        if target.is_none() {
            type Ranked<'r> = (&'r crate::routes::ProjectRoute, (usize, usize, bool));
            // Closest first; then by path, so the list is the same on every run.
            let order = |(a, a_rank): &Ranked, (b, b_rank): &Ranked| {
                b_rank.cmp(a_rank).then_with(|| project.path(a.file_index).cmp(project.path(b.file_index))).then(a.route.cmp(&b.route))
            };
            // The first three of a stable sort, without sorting every route of the tree.
            let mut ranked: Vec<Ranked> = Vec::with_capacity(4);
            for entry in routes
                .iter()
                .copied()
                .filter(|candidate| candidate.file_index != context.target.file_index)
                .map(|candidate| (candidate, crate::routes::closeness(&candidate.route, &method, &path)))
                .filter(|(_, (leading, shared, _))| *leading > 0 || *shared > 0)
            {
                let at = ranked.partition_point(|kept| order(kept, &entry) != std::cmp::Ordering::Greater);
                if at < 3 {
                    ranked.insert(at, entry);
                    ranked.truncate(3);
                }
            }
            closest = ranked
                .iter()
                .take(3)
                .map(|(candidate, _)| {
                    format!("{} ({}:{})", route_text(&candidate.route), project.path(candidate.file_index), candidate.route.line + 1)
                })
                .collect();
        }
        // A path no route of the tree is near is another service's, not a dead one.
        if target.is_none() && closest.is_empty() {
            return None;
        }
        Some(Delegation { span, file_index: context.target.file_index, method, path, target, closest })
    }

    /// A request forwarding the code: an exchange by this callback, whose persistence and
    /// sync are those of the route it reaches (walked as a handler of its own).
    fn delegate(&mut self, context: &FunctionWalk<'a>, delegation: Delegation, line: usize, flags: &Flags) {
        let reached = delegation.target.as_ref().and_then(|target| target.handler_in(self.resolver));
        self.events.push(Event {
            kind: EventKind::Exchange,
            chain: context.chain(line),
            flags: flags.clone(),
            delegation: Some(Rc::new(delegation)),
        });
        let Some(target) = reached else { return };
        if context.depth >= self.config.callbacks.max_depth {
            return;
        }
        let events =
            self.function(target, code_params(self.config, target.function), Incoming::of_handler(target.function), context.depth + 1);
        let call_site = context.hop(line);
        for event in events {
            if event.kind.exchanges() {
                continue;
            }
            let mut chain = Vec::with_capacity(event.chain.len() + 1);
            chain.push(call_site.clone());
            chain.extend(event.chain);
            let flags = Flags {
                condition: event.flags.condition.or_else(|| flags.condition.clone()),
                error_path: event.flags.error_path.or_else(|| flags.error_path.clone()),
            };
            self.events.push(Event { kind: event.kind, chain, flags, delegation: None });
        }
    }
}

/// One function being walked, and what the walk knows about it.
struct FunctionWalk<'a> {
    target: Target<'a>,
    tainted: HashSet<String>,
    /// Names holding the incoming request itself (parameters and their copies), and the URL
    /// the browser came back to, for [`Config::callbacks`]' request exchanges.
    requests: HashSet<String>,
    urls: HashSet<String>,
    /// Whether URLs are followed at all ([`Walk::follows_urls`]).
    follows_urls: bool,
    /// The file's names for a global request, computed when first asked.
    globals: OnceCell<GlobalRequest>,
    /// Computed when the first session call is met ([`Walk::sessions`]).
    sessions: OnceCell<Sessions>,
    depth: usize,
}

/// What a walked function is given of the incoming request: parameters holding the request
/// itself, and parameters holding the URL the browser came back to.
#[derive(Default)]
struct Incoming {
    requests: HashSet<String>,
    urls: HashSet<String>,
}

impl Incoming {
    /// A handler's: its request parameters ([`request_params`]).
    fn of_handler(function: &Function) -> Incoming {
        Incoming { requests: request_params(function), urls: HashSet::new() }
    }
}

impl<'a> FunctionWalk<'a> {
    fn new(config: &Config, target: Target<'a>, tainted: HashSet<String>, incoming: Incoming, follows_urls: bool, depth: usize) -> Self {
        let function = target.function;
        // `req = request`
        let requests = if incoming.requests.is_empty() {
            incoming.requests
        } else {
            propagate(function, incoming.requests, &|value, names| value.unawaited().as_name().is_some_and(|name| names.contains(name)))
        };
        let mut context = FunctionWalk {
            target,
            tainted,
            requests,
            urls: HashSet::new(),
            follows_urls,
            globals: OnceCell::new(),
            sessions: OnceCell::new(),
            depth,
        };
        if follows_urls {
            // `url = str(request.url)`, `authorization_response = flask.request.url`
            let url_read = |part: &Expr| context.is_url_read(config, part);
            let urls = taint_with(function, incoming.urls, &url_read);
            context.urls = urls;
        }
        context
    }

    fn hop(&self, line: usize) -> Hop {
        Hop { file_index: self.target.file_index, line, function: self.target.function.qualified_name() }
    }

    fn chain(&self, line: usize) -> Vec<Hop> {
        vec![self.hop(line)]
    }

    fn is_tainted(&self, config: &Config, expression: &Expr) -> bool {
        holds(expression, &self.tainted, &|part| is_code_read(config, part))
    }

    /// The expression is the incoming request itself (not a part of it).
    fn is_request(&self, expression: &Expr) -> bool {
        expression.unawaited().as_name().is_some_and(|name| self.requests.contains(name))
    }

    /// The expression holds the URL the browser came back to: a read of the request's URL
    /// (`request.url`, `str(request.url)`, `flask.request.url`) or a name holding one.
    fn holds_url(&self, config: &Config, expression: &Expr) -> bool {
        self.follows_urls && holds(expression, &self.urls, &|part| self.is_url_read(config, part))
    }

    /// `request.url`, `request.build_absolute_uri` (of its call): a `[callbacks]
    /// request_url_fields` field of the request or of the global request.
    fn is_url_read(&self, config: &Config, part: &Expr) -> bool {
        let ExprKind::Attribute { object, name } = &part.kind else { return false };
        config.callbacks.request_url_fields.contains(name) && (self.is_request(object) || self.globals(config).is(object))
    }

    fn globals(&self, config: &Config) -> &GlobalRequest {
        self.globals.get_or_init(|| GlobalRequest::of(config, self.target.facts))
    }

    /// The expression mentions the incoming request: a name holding it, or the global one.
    fn mentions_request(&self, config: &Config, expression: &Expr) -> bool {
        holds(expression, &self.requests, &|part| self.globals(config).is(part))
    }

    /// The exchange's receiver was built with a stored `state`, which requests-oauthlib
    /// compares with the URL's: `OAuth2Session(client_id, state=session["oauth_state"])`, in
    /// the call itself or in the last assignment to the receiver before `line`.
    fn built_with_state(&self, config: &Config, callee: &Expr, line: usize) -> bool {
        let ExprKind::Attribute { object, .. } = &callee.kind else { return false };
        let with_stored_state = |value: &Expr| {
            value.unawaited().as_call().is_some_and(|call| {
                call.keywords.iter().any(|(key, value)| config.callbacks.state_inputs.contains(key) && self.is_stored_state(config, value))
            })
        };
        if with_stored_state(object) {
            return true;
        }
        let Some(receiver) = object.as_name() else { return false };
        assignments_to(self.target.function, receiver)
            .into_iter()
            .rfind(|(stmt, _)| stmt.span.start.line < line)
            .is_some_and(|(_, value)| with_stored_state(value))
    }

    /// A `state` kept from the start of the flow: not a literal, and not the URL's own
    /// (the handler's `state` parameter, or a read of the request's query; the request's
    /// session and cookies are kept).
    fn is_stored_state(&self, config: &Config, value: &Expr) -> bool {
        if matches!(value.unawaited().kind, ExprKind::Constant(_) | ExprKind::String(_) | ExprKind::Number(_)) {
            return false;
        }
        let function = self.target.function;
        let is_state_input = |name: &str| config.callbacks.state_inputs.iter().any(|state| state == name);
        let url_state = |part: &Expr| match &part.kind {
            ExprKind::Name(name) => is_state_input(name) && function.param(name).is_some(),
            _ => code_read(part)
                .is_some_and(|(object, key)| is_state_input(key) && self.mentions_request(config, object) && !is_stored_part(object)),
        };
        let params = function.params.iter().filter(|param| is_state_input(&param.name)).map(|param| param.name.clone()).collect();
        let derived = taint_with(function, params, &url_state);
        !holds(value, &derived, &url_state)
    }
}

/// Parts of the incoming request kept from earlier requests: `request.session`,
/// `request.cookies`.
const STORED_REQUEST_PARTS: &[&str] = &["session", "cookies"];

fn is_stored_part(object: &Expr) -> bool {
    matches!(&object.kind, ExprKind::Attribute { name, .. } if STORED_REQUEST_PARTS.contains(&name.as_str()))
}

/// How a file reaches a global incoming request (`[callbacks] global_request_modules`):
/// `request` imported from Flask (under its alias), or `flask.request` (under the module's).
#[derive(Default)]
struct GlobalRequest {
    names: HashSet<String>,
    modules: HashSet<String>,
}

impl GlobalRequest {
    fn of(config: &Config, facts: &FileFacts) -> GlobalRequest {
        let mut global = GlobalRequest::default();
        for import in &facts.imports {
            let top = import.module.split('.').next().unwrap_or_default();
            if !config.callbacks.global_request_modules.iter().any(|module| module == top) {
                continue;
            }
            match import.name.as_deref() {
                Some("request") => {
                    global.names.insert(import.alias.clone());
                }
                None => {
                    global.modules.insert(import.alias.clone());
                }
                Some(_) => {}
            }
        }
        global
    }

    /// The expression is the global request.
    fn is(&self, expression: &Expr) -> bool {
        match &expression.kind {
            ExprKind::Name(name) => self.names.contains(name),
            ExprKind::Attribute { object, name } => {
                name == "request" && object.as_name().is_some_and(|module| self.modules.contains(module))
            }
            _ => false,
        }
    }
}

/// How a library call reads the code from the incoming request: given the request
/// (authlib's `authorize_access_token(request)`, `[callbacks] request_exchange_calls`), or
/// given the URL the browser came back to through a keyword (requests-oauthlib's
/// `fetch_token(url, authorization_response=request.url)`, `request_exchange_keywords`).
enum RequestRead<'c> {
    Request,
    Url(&'c Expr),
}

/// What the call named `name` reads from the request, if it is a request exchange.
fn request_read<'c>(config: &Config, name: &str, call: &'c Call) -> Option<RequestRead<'c>> {
    let callbacks = &config.callbacks;
    if callbacks.request_exchange_calls.iter().any(|exchange| exchange == name) {
        return Some(RequestRead::Request);
    }
    if !is_exchange_call(config, name) {
        return None;
    }
    call.keywords.iter().find(|(key, _)| callbacks.request_exchange_keywords.contains(key)).map(|(_, url)| RequestRead::Url(url))
}

impl Sessions {
    /// True when `dotted` (`db`, `self.session`) names a database session here.
    pub fn is_session(&self, config: &Config, dotted: &str) -> bool {
        self.bound.contains(dotted) || (!self.http.contains(dotted) && config.persistence.is_session_name(dotted))
    }

    /// Also holding an HTTP client: the `self` attributes other methods of the class bind
    /// to one (`self.session = aiohttp.ClientSession()` in `__init__`).
    pub fn with_http_clients(mut self, names: impl IntoIterator<Item = String>) -> Sessions {
        self.http.extend(names);
        self
    }

    /// The session a method call acts on: its receiver (`db.add(row)`), or, when the
    /// receiver is no session, its first argument (`query(sql).execute(&mut *tx)`).
    pub fn written_session(&self, config: &Config, call: &Call) -> Option<String> {
        let ExprKind::Attribute { object, .. } = &call.callee.kind else { return None };
        if let Some(session) = object.dotted()
            && self.is_session(config, &session)
        {
            return Some(session);
        }
        call.args.first().and_then(|arg| arg.unawaited().dotted()).filter(|session| self.is_session(config, session))
    }

    /// Transactions bound here that roll back when dropped uncommitted.
    pub fn scoped(&self) -> &HashSet<String> {
        &self.scoped
    }
}

/// A type as written, without references, generics or path separators: `&mut sqlx::Transaction<'_, Postgres>` -> `sqlx.Transaction`.
fn plain_type(annotation: &str) -> String {
    let mut text = annotation.trim();
    while let Some(rest) = text.strip_prefix('&') {
        let rest = rest.trim_start();
        // Annotations come with whitespace removed: `&mut sqlx::X` reads `&mutsqlx::X`
        // (and a type path starting `mutex` keeps its name).
        text = rest.strip_prefix("mut").filter(|tail| !tail.starts_with("ex")).unwrap_or(rest).trim_start();
    }
    let base = text.split('<').next().unwrap_or(text);
    base.replace("::", ".")
}

fn is_type_in(annotation: &str, types: &[String]) -> bool {
    let plain = plain_type(annotation);
    types.iter().any(|candidate| plain == *candidate || plain.strip_suffix(candidate.as_str()).is_some_and(|head| head.ends_with('.')))
}

/// The sessions a `with` item puts under a context manager that commits on success and
/// rolls back on error: the name it binds (`with get_db_session() as db`) and the session
/// it is called on (`with db.begin():`).
pub fn managed_sessions(config: &Config, item: &WithItem) -> Vec<String> {
    let Some(call) = item.context.unawaited().as_call() else { return Vec::new() };
    let Some(callee) = call.callee.dotted() else { return Vec::new() };
    if !config.rollback.is_manager(&callee) {
        return Vec::new();
    }
    let mut sessions: Vec<String> = item.binding.as_ref().and_then(Expr::dotted).into_iter().collect();
    if let ExprKind::Attribute { object, .. } = &call.callee.kind
        && let Some(session) = object.dotted()
    {
        sessions.push(session);
    }
    sessions
}

/// The session a `with` item opens and closes on the way out, which rolls back whatever it
/// did not commit: a session factory's (`with SessionLocal() as db`), a session type's
/// (`async with AsyncSession(engine) as session`), or any manager's that binds a session
/// name (`async with db.session_context() as session`, `with engine.connect() as conn`).
/// Not when it is given a session or connection: `get_db_context(db)` may hand `db` back
/// unclosed, and closing `Session(bind=conn)` leaves `conn`'s transaction open. Not an HTTP
/// client's (`requests.Session()`).
pub fn closed_session(config: &Config, item: &WithItem) -> Option<String> {
    let (binding, call) = with_session(config, item)?;
    given_to(config, call).is_none().then_some(binding)
}

/// The session a `with` item binds from a manager it gives a session or connection to, with
/// the name given: `async with get_async_db_context(db) as session` may bind `db` itself,
/// left open, or a session of its own that it closes (Open WebUI's, as a setting says).
pub fn given_session(config: &Config, item: &WithItem) -> Option<(String, String)> {
    let (binding, call) = with_session(config, item)?;
    Some((binding, given_to(config, call)?))
}

/// The first session or connection name among a call's arguments.
fn given_to(config: &Config, call: &Call) -> Option<String> {
    let mut given = None;
    for arg in call.arguments() {
        arg.walk(&mut |part| {
            if given.is_none() {
                given = part.dotted().filter(|name| config.persistence.is_session_name(name));
            }
        });
    }
    given
}

/// The session a `with` item binds, with the call binding it: a session factory's, a
/// session type's or any manager's binding a session name, not an HTTP client's.
fn with_session<'i>(config: &Config, item: &'i WithItem) -> Option<(String, &'i Call)> {
    let call = item.context.unawaited().as_call()?;
    let callee = call.callee.dotted()?;
    let binding = item.binding.as_ref().and_then(Expr::dotted)?;
    let persistence = &config.persistence;
    if config.http.is_client_constructor(&callee) {
        return None;
    }
    let opens = persistence.session_factories.iter().any(|factory| factory == last_segment(&callee))
        || is_type_in(&callee, &persistence.session_types)
        || persistence.is_session_name(&binding);
    opens.then_some((binding, call))
}

/// The names a function binds to a new HTTP client: `async with aiohttp.ClientSession() as
/// session`, `self.session = requests.Session()`.
pub fn http_clients_bound(config: &Config, function: &Function) -> HashSet<String> {
    let constructs = |value: &Expr| {
        value.unawaited().as_call().and_then(|call| call.callee.dotted()).is_some_and(|callee| config.http.is_client_constructor(&callee))
    };
    let mut names = HashSet::new();
    function.body.visit(&mut |stmt| match &stmt.kind {
        StmtKind::With { items, .. } => {
            for item in items.iter().filter(|item| constructs(&item.context)) {
                names.extend(item.binding.as_ref().and_then(Expr::dotted));
            }
        }
        StmtKind::Assign { targets, value, .. } if constructs(value) => {
            names.extend(targets.iter().filter_map(Expr::dotted));
        }
        _ => {}
    });
    names
}

/// The database sessions of a function, and what it does with them.
pub fn sessions_of(config: &Config, function: &Function) -> Sessions {
    let persistence = &config.persistence;
    let mut bound = HashSet::new();
    let mut committed = HashSet::new();
    let mut scoped = HashSet::new();
    for param in &function.params {
        let annotated = param.annotation.as_deref().is_some_and(|annotation| is_type_in(annotation, &persistence.session_types));
        if param.annotation.as_deref().is_some_and(|annotation| is_type_in(annotation, &persistence.autocommit_types)) {
            committed.insert(param.name.clone());
        }
        let injected = param.default.as_ref().is_some_and(|default| {
            default.any(&|part| {
                part.dotted().is_some_and(|name| persistence.session_factories.iter().any(|factory| *factory == last_segment(&name)))
            })
        });
        if annotated || injected {
            bound.insert(param.name.clone());
        }
    }
    let mut assigns_token_attribute = false;
    let mut mentions_token = false;
    function.body.visit(&mut |stmt| {
        match &stmt.kind {
            StmtKind::With { items, .. } => {
                for item in items {
                    let managed = managed_sessions(config, item);
                    bound.extend(managed.iter().cloned());
                    committed.extend(managed);
                    bound.extend(with_session(config, item).map(|(binding, _)| binding));
                }
            }
            StmtKind::Assign { targets, value, .. } => {
                if let Some(call) = value.unawaited().as_call()
                    && let ExprKind::Attribute { name: method, .. } | ExprKind::Name(method) = &call.callee.kind
                {
                    let method = last_segment(method);
                    let factory = persistence.session_factories.iter().any(|factory| factory == method);
                    let transaction = config.rollback.scoped.iter().any(|call| call == method);
                    for name in targets.iter().filter_map(Expr::dotted) {
                        if factory || transaction {
                            bound.insert(name.clone());
                        }
                        if transaction {
                            scoped.insert(name);
                        }
                    }
                }
                for target in targets {
                    if let ExprKind::Attribute { object, name } = &target.kind
                        && object.as_name() != Some("self")
                        && is_token_key(config, name)
                    {
                        assigns_token_attribute = true;
                    }
                }
            }
            _ => {}
        }
        for expression in stmt.expressions() {
            if !mentions_token && expression.any(&|part| mentions_token_name(part)) {
                mentions_token = true;
            }
            expression.walk(&mut |part| {
                if let ExprKind::Call(call) = &part.kind
                    && let ExprKind::Attribute { object, name } = &call.callee.kind
                    && persistence.commits.contains(name)
                    && let Some(session) = object.dotted()
                {
                    committed.insert(session);
                }
            });
        }
    });
    let http = http_clients_bound(config, function);
    Sessions { bound, committed, assigns_token_attribute, mentions_token, scoped, http }
}

/// A store call by its name and what it is given: a verb of `[persistence] sink_verbs`
/// first in the method's name, a noun of `sink_nouns` in the callee
/// (`create_credential(info, user, db)`, `installation_store.save(installation)`), and an
/// argument that names a token or credential unless the method names one itself.
fn looks_like_sink(config: &Config, callee: &str, args: &[Expr], keywords: &[(String, Expr)]) -> bool {
    let method = crate::facts::words_of(last_segment(callee));
    let Some(verb) = method.first() else { return false };
    if !config.persistence.sink_verbs.contains(verb) {
        return false;
    }
    let has_noun = |words: &[String]| words.iter().any(|word| config.persistence.sink_nouns.contains(word));
    if has_noun(&method[1..]) {
        return true;
    }
    has_noun(&crate::facts::words_of(callee))
        && args.iter().chain(keywords.iter().map(|(_, value)| value)).any(|arg| arg.any(&mentions_token_name))
}

fn mentions_token_name(expression: &Expr) -> bool {
    let text = match &expression.kind {
        ExprKind::Name(name) | ExprKind::String(name) => name,
        ExprKind::Attribute { name, .. } => name,
        ExprKind::Call(call) => {
            return call.keywords.iter().any(|(keyword, _)| keyword.to_lowercase().contains("token"));
        }
        _ => return false,
    };
    let lower = text.to_lowercase();
    lower.contains("token") || lower.contains("credential")
}

fn is_code_input(config: &Config, name: &str) -> bool {
    config.callbacks.code_inputs.iter().any(|input| input == name)
}

fn is_token_key(config: &Config, name: &str) -> bool {
    config.callbacks.token_keys.iter().any(|key| key == name)
}

/// A read of a code from a request: `request.code`, `args["code"]`, `params.get("code")`.
fn is_code_read(config: &Config, expression: &Expr) -> bool {
    code_read(expression).is_some_and(|(object, key)| is_code_input(config, key) && object.as_name() != Some("self"))
}

/// A read of a named field: [`Expr::keyed_read`], or a query accessor given the name
/// (Hono's `c.req.query("code")`, `c.req.param("code")`).
fn code_read(expression: &Expr) -> Option<(&Expr, &str)> {
    expression.keyed_read().or_else(|| {
        let call = expression.as_call()?;
        let ExprKind::Attribute { object, name } = &call.callee.kind else { return None };
        let ExprKind::String(key) = &call.args.first()?.kind else { return None };
        matches!(name.as_str(), "query" | "param" | "queries").then_some((&**object, key.as_str()))
    })
}

/// True when `expression` holds one of `names`, or something `is_read` reads.
fn holds(expression: &Expr, names: &HashSet<String>, is_read: &dyn Fn(&Expr) -> bool) -> bool {
    expression.any(&|part| is_read(part) || part.as_name().is_some_and(|name| names.contains(name)))
}

/// The parameters of `callee` that receive an argument `holds` accepts (`self`/`cls`
/// skipped for methods).
fn parameters_receiving(callee: &Function, call: &Call, args: &[Expr], holds: &dyn Fn(&Expr) -> bool) -> HashSet<String> {
    let skip =
        usize::from(callee.class.is_some() && callee.params.first().is_some_and(|param| param.name == "self" || param.name == "cls"));
    let mut received = HashSet::new();
    for (position, arg) in args.iter().enumerate() {
        if holds(arg)
            && let Some(param) = callee.params.get(position + skip)
        {
            received.insert(param.name.clone());
        }
    }
    for (keyword, value) in &call.keywords {
        if holds(value) {
            received.insert(keyword.clone());
        }
    }
    received
}

fn is_response_constructor(config: &Config, call: &Call) -> bool {
    calls_one_of(call, &config.callbacks.response_constructors)
}

/// The callee is one of `names`: equal, the same last segment, or ending with one
/// (`axum.response.Redirect.to` for `Redirect.to`).
fn calls_one_of(call: &Call, names: &[String]) -> bool {
    // `res.status(400).json(body)`: the chain's root and the method, `res.json`.
    let chained = || match &call.callee.kind {
        ExprKind::Attribute { name, .. } => chain_root(&call.callee).map(|root| format!("{root}.{name}")),
        _ => None,
    };
    call.callee.dotted().or_else(chained).is_some_and(|callee| {
        names.iter().any(|name| {
            *name == callee
                || (!name.contains('.') && name == last_segment(&callee))
                || callee.strip_suffix(name.as_str()).is_some_and(|head| head.ends_with('.'))
        })
    })
}

/// The token endpoint of an OAuth server: a handler taking one of `[callbacks]
/// token_request_inputs` (`grant_type`) as a parameter, or reading one from what its client
/// sent: the request, its body, or a value read from those (`request.form["grant_type"]`,
/// `body.grant_type` of `body = req.body`, `form.get("grant_type")` after `form = await
/// request.formData()`). A client's own token request writes `grant_type`, or reads it from
/// its configuration (`PROVIDERS[provider]["grant_type"]`, `settings.grant_type`): neither
/// is read from the request.
fn is_token_endpoint(config: &Config, function: &Function) -> bool {
    let is_input = |name: &str| config.callbacks.token_request_inputs.iter().any(|input| input == name);
    if function.params.iter().any(|param| is_input(&param.name)) {
        return true;
    }
    let sent = function
        .params
        .iter()
        .filter(|param| is_request_param(param) || CLIENT_INPUT_PARAMS.contains(&param.name.as_str()))
        .map(|param| param.name.clone())
        .chain(["request".to_string()])
        .collect();
    let sent = taint_with(function, sent, &|_| false);
    let incoming = |object: &Expr| {
        is_request_part(object) || object.dotted().is_some_and(|dotted| sent.contains(dotted.split('.').next().unwrap_or_default()))
    };
    let mut found = false;
    function.body.visit(&mut |stmt| {
        let read = match &stmt.kind {
            StmtKind::Assign { value, .. } => vec![value],
            _ => stmt.expressions(),
        };
        for expression in read {
            found |= expression.any(&|part| code_read(part).is_some_and(|(object, key)| is_input(key) && incoming(object)));
        }
    });
    found
}

/// Parameters holding what a client sent, besides the request itself ([`is_request_param`]):
/// Express's `req`, Hono's context, a form or body model.
const CLIENT_INPUT_PARAMS: &[&str] = &["req", "c", "ctx", "body", "form", "form_data", "payload"];

/// The code input a handler reads: a parameter, or a field of a request it reads.
fn code_input(config: &Config, function: &Function) -> Option<String> {
    if let Some(param) = function.params.iter().find(|param| is_code_input(config, &param.name)) {
        return Some(param.name.clone());
    }
    let mut found = None;
    function.body.visit(&mut |stmt| {
        for expression in stmt.expressions() {
            expression.walk(&mut |part| {
                if found.is_none() && is_code_read(config, part) {
                    found = code_read(part).map(|(_, key)| key.to_string());
                }
            });
        }
    });
    found
}

/// Names holding the code in a function: the initial ones, and names assigned from an
/// expression holding one (`data = {"code": code}`), to a fixpoint.
fn taint(config: &Config, function: &Function, initial: HashSet<String>) -> HashSet<String> {
    taint_with(function, initial, &|part| is_code_read(config, part))
}

/// [`taint`] for the leak finder: what a call given the code answers (`token = await
/// provider.get_token(code)`) holds the call's answer, not the code, and neither do values
/// derived from it (Chainlit's `user = await config.oauth_callback(token)`, then `response =
/// await _authenticate_user(user)`): those are not the token response. A value built out of
/// the code (`urlencode({"code": code})`), or read from the request
/// (`searchParams.get("code")`), holds it.
fn code_holders(config: &Config, function: &Function, initial: HashSet<String>) -> HashSet<String> {
    value_holders(function, initial, &|part| is_code_read(config, part))
}

/// Names holding a value (the code, `state`) in a function: the initial ones and those
/// assigned from an expression holding one, not from what a call given it answers, unless
/// the call builds a value out of it or is itself a read (`is_read`).
fn value_holders(function: &Function, initial: HashSet<String>, is_read: &dyn Fn(&Expr) -> bool) -> HashSet<String> {
    propagate(function, initial, &|value, names| {
        let inner = value.unawaited();
        let answer = inner.as_call().is_some_and(|call| !is_value_builder(call)) && !is_read(inner);
        !answer && holds(value, names, is_read)
    })
}

/// Calls that build a value out of their arguments (`dict(code=code)`, `urlencode(...)`,
/// `json.dumps(...)`, `str(...)`): what they answer still holds what they were given.
fn is_value_builder(call: &Call) -> bool {
    const BUILDERS: &[&str] = &["dict", "urlencode", "dumps", "str", "format", "encode", "quote", "copy", "URLSearchParams", "stringify"];
    call.callee.dotted().is_some_and(|callee| BUILDERS.contains(&last_segment(&callee)))
}

/// The parts of an incoming request holding the query a redirect brings back.
const QUERY_PARTS: &[&str] = &["args", "values", "query_params", "GET", "query"];

/// The handler gives the whole query of its request to a call (`schema.load(request.args)`,
/// `dict(request.query_params)`), so what reads the code may be further on.
fn hands_over_query(config: &Config, facts: &FileFacts, function: &Function) -> bool {
    let requests = request_params(function);
    let global = GlobalRequest::of(config, facts);
    function.body.calls().iter().any(|(_, call, _)| {
        call.arguments().any(|argument| match &argument.kind {
            ExprKind::Attribute { object, name } if QUERY_PARTS.contains(&name.as_str()) => {
                global.is(object) || object.as_name().is_some_and(|object| requests.contains(object))
            }
            _ => false,
        })
    })
}

/// A handler's parameters carrying a code (`code`, `public_token`): where its taint starts.
fn code_params(config: &Config, function: &Function) -> HashSet<String> {
    function.params.iter().filter(|param| is_code_input(config, &param.name)).map(|param| param.name.clone()).collect()
}

/// A handler's parameters holding the incoming request: typed `Request` (Starlette,
/// FastAPI), or named `request` with no type (Django); not `request: CallbackBody`.
fn request_params(function: &Function) -> HashSet<String> {
    function.params.iter().filter(|param| is_request_param(param)).map(|param| param.name.clone()).collect()
}

fn is_request_param(param: &Param) -> bool {
    match param.annotation.as_deref() {
        Some(annotation) => is_request_type(annotation),
        None => param.name == "request",
    }
}

/// Starlette's and FastAPI's `Request`, however imported.
fn is_request_type(annotation: &str) -> bool {
    last_segment(annotation) == "Request"
}

/// The callee's parameters that receive a tainted argument.
fn mapped_taint(config: &Config, context: &FunctionWalk<'_>, callee: &Function, call: &Call, args: &[Expr]) -> HashSet<String> {
    parameters_receiving(callee, call, args, &|arg| context.is_tainted(config, arg))
}

/// An outgoing request: `client.post(...)`, `requests.get(...)`, `self.http.request(...)`,
/// `fetch(url, ...)`.
fn is_http_request(config: &Config, facts: &FileFacts, callee: &Expr) -> bool {
    if let ExprKind::Name(name) = &callee.kind {
        return is_request_function(config, facts, name);
    }
    let ExprKind::Attribute { object, name } = &callee.kind else { return false };
    if !config.http.methods.contains(name) {
        return false;
    }
    if matches!(name.as_str(), "post" | "put" | "patch") {
        return true;
    }
    let Some(receiver) = object.dotted() else {
        // `httpx.AsyncClient().get(...)`
        return object
            .as_call()
            .and_then(|call| call.callee.dotted())
            .is_some_and(|constructor| config.http.is_client_constructor(&constructor));
    };
    let root = receiver.split('.').next().unwrap_or(&receiver);
    config.http.modules.iter().any(|module| module == root)
        || config.http.client_names.iter().any(|client| client == last_segment(&receiver))
}

/// An HTTP request, or a call building one on a request: `client.post(url).form(&params)`,
/// `ureq::post(url).send_form(params)`.
fn is_built_request(config: &Config, facts: &FileFacts, callee: &Expr) -> bool {
    is_http_request(config, facts, callee) || callee.chained_calls().any(|call| is_http_request(config, facts, &call.callee))
}

/// The part of an incoming request that carries its parameters: `req.query`, `req.body`,
/// `ctx.request.body`, or what a destructured read was taken from.
fn is_request_part(object: &Expr) -> bool {
    match &object.unawaited().kind {
        ExprKind::Attribute { name, .. } => matches!(name.as_str(), "query" | "body" | "params" | "searchParams" | "query_params"),
        ExprKind::Name(name) => name.starts_with("$destructured"),
        _ => false,
    }
}

/// `GET|POST /api/x/callback`, as reports show a route.
pub fn route_text(route: &Route) -> String {
    if route.methods.is_empty() { route.path.clone() } else { format!("{} {}", route.methods.join("|"), route.path) }
}

/// The path a request URL names when it stays in the tree: a path (`/api/x`), or a path
/// after an interpolated base (`${BACKEND_URL}/api/x/{id}`), query string dropped. A name
/// holding such a URL (assigned in `function`) is followed once.
fn forwarded_path(url: &Expr, function: &Function) -> Option<String> {
    let text = match &url.unawaited().kind {
        ExprKind::String(text) => text.clone(),
        ExprKind::Interpolated { text, .. } => text.clone(),
        ExprKind::Name(name) => {
            let found = assignments_to(function, name)
                .into_iter()
                .rev()
                .find(|(_, value)| matches!(value.kind, ExprKind::String(_) | ExprKind::Interpolated { .. }));
            return found.and_then(|(_, value)| forwarded_path(value, function));
        }
        _ => return None,
    };
    let path = if text.starts_with('/') {
        text.as_str()
    } else {
        // `{BACKEND_URL}/api/x`: the base is the first interpolation, closed at its brace.
        let rest = text.strip_prefix('{')?;
        let mut depth = 1usize;
        let close = rest.char_indices().find_map(|(index, c)| {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(index)
        })?;
        rest.get(close + 1..)?
    };
    if !path.starts_with('/') || path.starts_with("//") {
        return None;
    }
    Some(path.split(['?', '#']).next().unwrap_or(path).to_string())
}

/// True when the URL is a name bound to an interpolated string (`const url =
/// `${BASE}/api/x``): a base of its own, so another service.
fn forwarded_base(url: &Expr, function: &Function) -> bool {
    let Some(name) = url.unawaited().as_name() else { return false };
    assignments_to(function, name)
        .last()
        .is_some_and(|(_, value)| matches!(&value.kind, ExprKind::Interpolated { text, .. } if !text.starts_with('/')))
}

/// The method of a request: the client's verb (`client.post`), or `method` in the options
/// of a request function (`fetch(url, { method: 'POST' })`), else GET.
fn request_method(config: &Config, call: &Call) -> String {
    if let ExprKind::Attribute { name, .. } = &call.callee.kind
        && config.http.methods.contains(name)
        && !matches!(name.as_str(), "request" | "send")
    {
        return name.to_uppercase();
    }
    let option = call.args.iter().skip(1).find_map(|arg| match &arg.kind {
        ExprKind::Dict(entries) => entries.iter().find_map(|(key, value)| match (key.as_ref().map(|key| &key.kind), &value.kind) {
            (Some(ExprKind::String(key)), ExprKind::String(method)) if key == "method" => Some(method.to_uppercase()),
            _ => None,
        }),
        _ => None,
    });
    option.unwrap_or_else(|| "GET".to_string())
}

/// A function that sends a request (`[http] functions`): `fetch`, `got`, or `request`
/// imported from undici (an entry `undici.request`), unless the file defines its own.
pub fn is_request_function(config: &Config, facts: &FileFacts, name: &str) -> bool {
    if facts.find_function(None, name).is_some() {
        return false;
    }
    let import = facts.imports.iter().find(|import| import.alias == name);
    config.http.functions.iter().any(|function| match function.rsplit_once('.') {
        Some((module, imported)) => import.is_some_and(|import| import.module == module && import.name.as_deref() == Some(imported)),
        // A plain name is a global (`fetch`) or the default export of its package.
        None => match import {
            None => function == name,
            Some(import) => import.module == *function || import.name.as_deref() == Some(function.as_str()),
        },
    })
}

/// True when `name` is one of `names`, spelled as written or in camelCase
/// (`triggerHistoricalSync` for `trigger_historical_sync`).
/// Whether a call named `name` signs the user in to the application: one of `[callbacks]
/// sign_in_calls`, or named with one of `sign_in_words` (`create_signin_response`).
fn signs_in(config: &Config, name: &str) -> bool {
    let callbacks = &config.callbacks;
    names_one_of(name, &callbacks.sign_in_calls) || crate::facts::words_of(name).iter().any(|word| callbacks.sign_in_words.contains(word))
}

pub fn names_one_of(name: &str, names: &[String]) -> bool {
    if names.iter().any(|candidate| candidate == name) {
        return true;
    }
    if !name.chars().any(|c| c.is_ascii_uppercase()) {
        return false;
    }
    let snake = crate::facts::words_of(name).join("_");
    names.contains(&snake)
}

/// The name a chain of calls and attributes starts from: `supabase` for
/// `supabase.from('t').upsert`, `self.tokenRepository` for `this.tokenRepository.save`,
/// `knex` for `knex('t').insert`.
pub fn chain_root(expression: &Expr) -> Option<String> {
    let mut current = expression;
    for _ in 0..64 {
        match &current.unawaited().kind {
            ExprKind::Call(call) => current = &call.callee,
            ExprKind::Attribute { object, .. } if object.unawaited().as_call().is_some() => current = object,
            ExprKind::Attribute { object, name } => {
                // `this.tokenRepository.save`: the attribute holding the client.
                return match object.unawaited().kind {
                    ExprKind::Name(_) | ExprKind::Attribute { .. } => {
                        object.dotted().map(|dotted| if dotted == "self" { format!("self.{name}") } else { dotted })
                    }
                    _ => None,
                };
            }
            ExprKind::Name(name) => return Some(name.clone()),
            _ => return None,
        }
    }
    None
}

/// A write of a token through a database or store client (`[persistence] clients` and
/// `client_writes`): `prisma.oauthToken.upsert({...})`, `supabase.from('tokens').insert(row)`,
/// `redis.set(key, JSON.stringify(tokens))`, `db.insert(tokens).values({...})`.
fn is_client_write(config: &Config, call: &Call) -> bool {
    let ExprKind::Attribute { name: method, .. } = &call.callee.kind else { return false };
    if !config.persistence.client_writes.contains(method) {
        return false;
    }
    let Some(root) = chain_root(&call.callee) else { return false };
    // `prisma.oauthToken` (the client first), `self.tokenRepository` (held in an attribute).
    let known = root.split('.').filter(|segment| *segment != "self").any(|segment| {
        let holder = segment.to_lowercase();
        config.persistence.clients.iter().any(|client| {
            let client = client.to_lowercase();
            holder == client || holder.starts_with(&client) || holder.ends_with(&client)
        })
    });
    if !known {
        return false;
    }
    let mentions = |expression: &Expr| expression.any(&mentions_token_name);
    call.arguments().any(mentions) || call.callee.chained_calls().any(|inner| inner.arguments().any(mentions)) || mentions(&call.callee)
}

/// A library exchange call by name: a configured one, or one whose name holds `token` or
/// `exchange`.
fn is_exchange_call(config: &Config, name: &str) -> bool {
    let lower = name.to_lowercase();
    config.callbacks.exchange_calls.iter().any(|call| call == name) || lower.contains("exchange") || lower.contains("token")
}

/// Tokens the handler puts into its response: token keys in a returned dict, a spread
/// token dict, the token dict itself, or a token in a redirect URL. A dict the handler
/// strips (`tokens.pop("access_token")`) no longer counts. The token response is what a call
/// given the code, or the URL `holds_url` accepts, answers.
fn token_leak(
    answers: &Answers<'_>,
    function: &Function,
    code_given: HashSet<String>,
    holds_url: &dyn Fn(&Expr) -> bool,
) -> Option<TokenLeak> {
    let config = answers.config;
    let mut dicts: HashSet<String> = HashSet::new();
    let mut values: HashSet<String> = config.callbacks.token_keys.iter().cloned().collect();
    let mut stripped: HashSet<String> = HashSet::new();
    let mut returns = Vec::new();
    let mut responses = Vec::new();
    let tainted = code_holders(config, function, code_given);
    let holds_code = |expression: &Expr| holds(expression, &tainted, &|part| is_code_read(config, part)) || holds_url(expression);
    function.body.visit(&mut |stmt| {
        match &stmt.kind {
            StmtKind::Assign { targets, value, .. } => {
                let names: Vec<String> = targets.iter().flat_map(|target| target.bound_names()).map(str::to_string).collect();
                let inner = value.unawaited();
                let from_exchange = answers.token_response(inner, &dicts, &holds_code).is_some();
                let copies_dict = match &inner.kind {
                    ExprKind::Name(name) => dicts.contains(name),
                    // `TokenResponse(**token_data)`, `dict(token_data)`, `token_data.copy()`
                    ExprKind::Call(call) => match &call.callee.kind {
                        ExprKind::Attribute { object, name } => name == "copy" && object.as_name().is_some_and(|name| dicts.contains(name)),
                        callee => {
                            (call.has_splat || matches!(callee, ExprKind::Name(name) if name == "dict"))
                                && call.args.iter().any(|arg| splat_name(arg).is_some_and(|name| dicts.contains(name)))
                        }
                    },
                    _ => false,
                };
                if from_exchange || copies_dict {
                    dicts.extend(names.iter().cloned());
                } else if is_token_value(config, &dicts, &values, inner) {
                    values.extend(names.iter().cloned());
                }
            }
            StmtKind::Return(Some(value)) => returns.push(value),
            StmtKind::Other(expressions) => {
                // `del tokens["access_token"]`
                for expression in expressions {
                    if let ExprKind::Subscript { object, index } = &expression.kind
                        && matches!(&index.kind, ExprKind::String(key) if is_token_key(config, key))
                        && let Some(name) = object.as_name()
                    {
                        stripped.insert(name.to_string());
                    }
                }
            }
            _ => {}
        }
        for expression in stmt.expressions() {
            expression.walk(&mut |part| {
                let ExprKind::Call(call) = &part.kind else { return };
                if let ExprKind::Attribute { object, name } = &call.callee.kind
                    && name == "pop"
                    && matches!(call.args.first().map(|arg| &arg.kind), Some(ExprKind::String(key)) if is_token_key(config, key))
                    && let Some(dict) = object.as_name()
                {
                    stripped.insert(dict.to_string());
                }
                if is_response_constructor(config, call) {
                    responses.push(part);
                }
            });
        }
    });
    dicts.retain(|name| !stripped.contains(name));
    let token_response = |expression: &Expr| answers.token_response(expression, &dicts, &holds_code);
    let leak = Leak { config, dicts: &dicts, values: &values, token_response: &token_response };
    returns.into_iter().chain(responses).find_map(|expression| leak.find(expression, true))
}

/// Whether a call of the tree returns the token response, given which of its arguments
/// hold the code (see [`Answers`]).
type ReturnsTokens<'a> = dyn Fn(&Call, &dyn Fn(&Expr) -> bool) -> Option<bool> + 'a;

/// What the calls of a function answer, for the leak finder.
struct Answers<'a> {
    config: &'a Config,
    /// The facts of the function's file (which calls are HTTP requests).
    facts: &'a FileFacts,
    /// For a call to a function of the tree, whether what it returns is the token response,
    /// given which of its arguments hold the code; `None` for a call out of the tree.
    returns_tokens: &'a ReturnsTokens<'a>,
    /// The function forwards the code to a route of the tree (a Next.js callback calling the
    /// backend's): what its HTTP requests answer is that route's response, judged there.
    delegates: bool,
}

/// Words of a call that checks or ends a token rather than answering one (`verify_token`,
/// `token_is_valid`, `revoke_token`).
const TOKEN_CHECK_WORDS: &[&str] = &["verify", "validate", "valid", "revoke", "introspect", "check", "is", "has"];

impl Answers<'_> {
    /// How a message names `expression` when it is the provider's token response:
    /// - a call given the code: to a function of the tree that returns the token response
    ///   (not one that stores the tokens and redirects), or out of the tree, an HTTP request
    ///   or a call named for a token or an exchange (`exchange_code_for_token(code)`), not one
    ///   checking one (`verify_token(code)`);
    /// - a library's token call reading the request (`authorize_access_token(request)`);
    /// - `.json()` with no argument of one, or of a name holding one (`tokens.json()`); with
    ///   arguments it is a model's serialisation (`tokens.json(include={"scope"})`).
    ///
    /// Values derived from it (`data.get("team")`, the user it signs in) are not.
    fn token_response(&self, expression: &Expr, dicts: &HashSet<String>, holds_code: &dyn Fn(&Expr) -> bool) -> Option<String> {
        let config = self.config;
        let inner = expression.unawaited();
        let call = inner.as_call()?;
        let callee = || call.callee.dotted().unwrap_or_else(|| "the exchange".to_string());
        if is_request_exchange_value(config, inner) {
            return Some(format!("what `{}` answers", callee()));
        }
        // `[http] json_methods`: `.json()`, reqwest's `.json::<T>()`, ureq's `.into_json()`.
        if let ExprKind::Attribute { object, name: method } = &call.callee.kind
            && config.http.json_methods.contains(method)
        {
            if call.arguments().next().is_some() {
                return None;
            }
            let object = object.unawaited();
            return match object.as_name() {
                Some(name) => dicts.contains(name).then(|| format!("`{name}.{method}()`")),
                None => self.token_response(object, dicts, holds_code).map(|answer| format!("the parsed body of {answer}")),
            };
        }
        if !call.arguments().any(holds_code) {
            return None;
        }
        let answers = match (self.returns_tokens)(call, holds_code) {
            Some(returns) => returns,
            None => {
                let name = match &call.callee.kind {
                    ExprKind::Attribute { name, .. } | ExprKind::Name(name) => name.as_str(),
                    _ => "",
                };
                let checks = crate::facts::words_of(name).iter().any(|word| TOKEN_CHECK_WORDS.contains(&word.as_str()));
                !checks && (is_exchange_call(config, name) || (!self.delegates && is_http_request(config, self.facts, &call.callee)))
            }
        };
        answers.then(|| format!("what `{}` answers", callee()))
    }
}

/// The token response of a library reading the code from the request: authlib's
/// `await oauth.acme.authorize_access_token(request)`, requests-oauthlib's
/// `session.fetch_token(url, authorization_response=request.url)`. Only a call named for a
/// token answers one (fastapi-sso's `verify_and_process` answers the user's profile).
fn is_request_exchange_value(config: &Config, expression: &Expr) -> bool {
    let Some(call) = expression.unawaited().as_call() else { return false };
    let name = match &call.callee.kind {
        ExprKind::Attribute { name, .. } | ExprKind::Name(name) => name.as_str(),
        _ => return false,
    };
    name.to_lowercase().contains("token") && request_read(config, name, call).is_some()
}

/// The name in `**name` (or a plain name).
fn splat_name(expression: &Expr) -> Option<&str> {
    match &expression.kind {
        ExprKind::Name(name) => Some(name),
        ExprKind::Other(parts) if parts.len() == 1 => parts[0].as_name(),
        _ => None,
    }
}

/// A token: a name holding one, or a token key read from the token response
/// (`tokens.access_token`, `tokens["access_token"]`, `tokens.get("access_token")`).
fn is_token_value(config: &Config, dicts: &HashSet<String>, values: &HashSet<String>, expression: &Expr) -> bool {
    match &expression.kind {
        ExprKind::Name(name) => values.contains(name),
        _ => expression
            .keyed_read()
            .is_some_and(|(object, key)| is_token_key(config, key) && object.as_name().is_some_and(|object| dicts.contains(object))),
    }
}

struct Leak<'l> {
    config: &'l Config,
    dicts: &'l HashSet<String>,
    values: &'l HashSet<String>,
    /// How a message names an expression that is the provider's token response
    /// ([`Answers::token_response`]).
    token_response: &'l dyn Fn(&Expr) -> Option<String>,
}

impl Leak<'_> {
    /// The tokens in `expression`. `body` says it is put into the response body as a value
    /// (what the handler returns, a response constructor's argument, a dict value): there
    /// the token response itself counts, not inside a string built from other values.
    fn find(&self, expression: &Expr, body: bool) -> Option<TokenLeak> {
        let leak = |description: String| Some(TokenLeak { span: expression.span, description });
        if body && let Some(answer) = (self.token_response)(expression) {
            return leak(format!("returns {answer}, the provider's token response, as the response body"));
        }
        match &expression.unawaited().kind {
            ExprKind::Name(name) if self.dicts.contains(name) => {
                leak(format!("returns `{name}`, the provider's token response, as the response body"))
            }
            ExprKind::Dict(entries) => {
                for (key, value) in entries {
                    match key {
                        None => {
                            if let Some(name) = splat_name(value).filter(|name| self.dicts.contains(*name)) {
                                return leak(format!("spreads `{name}` (the provider's tokens) into the response body"));
                            }
                        }
                        Some(key) => {
                            let token_key = matches!(&key.kind, ExprKind::String(text) if is_token_key(self.config, text));
                            let constant = matches!(value.kind, ExprKind::Constant(_));
                            if (token_key && !constant) || is_token_value(self.config, self.dicts, self.values, value) {
                                return leak("returns a token in the response body".to_string());
                            }
                            if let Some(found) = self.find(value, true) {
                                return Some(found);
                            }
                        }
                    }
                }
                None
            }
            ExprKind::Interpolated { parts, .. } => parts
                .iter()
                .any(|part| is_token_value(self.config, self.dicts, self.values, part))
                .then(|| TokenLeak { span: expression.span, description: "puts a token in the redirect URL".to_string() }),
            ExprKind::Call(call)
                if is_response_constructor(self.config, call) || calls_one_of(call, &self.config.callbacks.value_wrappers) =>
            {
                call.arguments().find_map(|arg| self.find(arg, true))
            }
            ExprKind::Sequence(items) => items.iter().find_map(|item| self.find(item, body)),
            _ => None,
        }
    }
}

/// How the handler checks `state`.
fn state_check(resolver: &Resolver<'_>, config: &Config, file_index: usize, function: &Function, input: Option<&str>) -> StateCheck {
    if input.is_some_and(|input| config.callbacks.stateless_inputs.iter().any(|stateless| stateless == input)) {
        return StateCheck::NotApplicable;
    }
    // axum's `State(state): State<AppState>` is the application's state, not OAuth's.
    let app_state = |name: &str| {
        function
            .param(name)
            .and_then(|param| param.annotation.as_deref())
            .is_some_and(|annotation| is_type_in(annotation, &config.callbacks.app_state_types))
    };
    let is_state_input = |name: &str| config.callbacks.state_inputs.iter().any(|state| state == name);
    let incoming_request = |name: &str| function.param(name).and_then(|param| param.annotation.as_deref()).is_some_and(is_request_type);
    // A read of `state`: the parameter, `request.state` on a request model (not
    // Starlette's `Request.state`), `args["state"]`, `params.get("state")`.
    let is_read = |part: &Expr| match &part.kind {
        ExprKind::Name(name) => is_state_input(name) && function.param(name).is_some() && !app_state(name),
        ExprKind::Attribute { object, name } => {
            is_state_input(name)
                && (object.as_name().is_some_and(|object| object != "self" && !incoming_request(object)) || is_request_part(object))
        }
        _ => code_read(part).is_some_and(|(_, key)| is_state_input(key)),
    };
    let initial: HashSet<String> = function
        .params
        .iter()
        .filter(|param| is_state_input(&param.name) && !app_state(&param.name))
        .map(|param| param.name.clone())
        .collect();
    let read = !initial.is_empty() || {
        let mut found = false;
        function.body.visit(&mut |stmt| found |= stmt.expressions().iter().any(|expression| expression.any(&is_read)));
        found
    };
    let derived = taint_with(function, initial.clone(), &is_read);
    let checker = StateChecker { resolver, config };
    let verdict = checker.check(file_index, function, &derived, &is_read, 0);
    match verdict {
        Some(verdict) => verdict,
        None if !read => StateCheck::Absent,
        None => {
            // Only `if not state:` and the like; not a check of what a call given `state`
            // answers (`if (!response.ok)` after forwarding it).
            let holders = value_holders(function, initial, &is_read);
            let mut presence = None;
            function.body.visit(&mut |stmt| {
                if let StmtKind::If { condition, .. } = &stmt.kind
                    && presence.is_none()
                    && holds(condition, &holders, &is_read)
                {
                    presence = Some(stmt.span.start.line);
                }
            });
            presence.map(StateCheck::PresenceOnly).unwrap_or(StateCheck::Unchecked)
        }
    }
}

struct StateChecker<'c, 'r, 'a> {
    resolver: &'c Resolver<'a>,
    config: &'r Config,
}

impl StateChecker<'_, '_, '_> {
    /// `Some(Validated)` or `Some(UserId(line))` when `function` checks the state held by
    /// `derived` names (or read by `is_read`), following calls it passes the state to.
    fn check(
        &self,
        file_index: usize,
        function: &Function,
        derived: &HashSet<String>,
        is_read: &dyn Fn(&Expr) -> bool,
        depth: usize,
    ) -> Option<StateCheck> {
        let holds = |expression: &Expr| holds(expression, derived, is_read);
        let mut validated = false;
        let mut user_id = None;
        let mut callees = Vec::new();
        function.body.visit(&mut |stmt| {
            for expression in stmt.expressions() {
                expression.walk(&mut |part| match &part.kind {
                    ExprKind::Call(call) => {
                        let Some(callee) = call.callee.dotted() else { return };
                        let arguments: Vec<&Expr> = call.arguments().collect();
                        if !arguments.iter().any(|arg| holds(arg)) {
                            return;
                        }
                        if self.validates(&callee) {
                            if arguments.iter().any(|arg| is_user_id(arg)) {
                                user_id = Some(part.span.start.line);
                            } else {
                                validated = true;
                            }
                        } else if is_store_lookup(&callee) {
                            validated = true;
                        } else {
                            callees.push(call);
                        }
                    }
                    ExprKind::Compare { operands, operators } => {
                        let equality = operators.iter().all(|operator| matches!(operator.as_str(), "==" | "!=" | "in" | "not in"));
                        if !equality || !operands.iter().any(&holds) {
                            return;
                        }
                        let others: Vec<&Expr> = operands.iter().filter(|operand| !holds(operand)).collect();
                        if others.iter().any(|other| is_user_id(other)) {
                            user_id = Some(part.span.start.line);
                        } else if others
                            .iter()
                            .any(|other| !matches!(other.kind, ExprKind::Constant(_) | ExprKind::String(_) | ExprKind::Number(_)))
                        {
                            validated = true;
                        }
                    }
                    _ => {}
                });
            }
        });
        if validated {
            return Some(StateCheck::Validated);
        }
        if let Some(line) = user_id {
            return Some(StateCheck::UserId(line));
        }
        // `user_id = get_decoded_id(state)`: the check may be in the function it goes to.
        if depth < 2 {
            for call in callees {
                let Some(target) = self.resolver.resolve_call(file_index, function, &call.callee) else { continue };
                let initial = parameters_receiving(target.function, call, &call.args, &holds);
                let inner = taint_with(target.function, initial, &|_| false);
                if let Some(verdict) = self.check(target.file_index, target.function, &inner, &|_| false, depth + 1) {
                    return Some(verdict);
                }
            }
        }
        None
    }

    /// A configured validator, or a signed-state decoder (`jwt.decode`, itsdangerous'
    /// `loads`/`unsign`): a forged `state` fails its signature check.
    fn validates(&self, callee: &str) -> bool {
        let name = last_segment(callee);
        if self.config.callbacks.state_validators.iter().any(|validator| validator == name) {
            return true;
        }
        let lower = callee.to_lowercase();
        (lower.contains("jwt") && name == "decode")
            || name == "unsign"
            || (name == "loads" && (lower.contains("serializer") || lower.contains("signer")))
    }
}

/// A lookup of the state in a server-side store: `redis.get(key)`, `cache.pop(state)`,
/// `store.getdel(...)`; not a read of the incoming request.
fn is_store_lookup(callee: &str) -> bool {
    let name = last_segment(callee);
    let receiver = callee.rsplit_once('.').map(|(receiver, _)| receiver.to_lowercase()).unwrap_or_default();
    let request = ["request", "query_params", "args", "params", "form", "headers", "cookies"].iter().any(|part| receiver.ends_with(part));
    matches!(name, "get" | "getdel" | "pop" | "hget" | "exists" | "get_state" | "load_state") && !receiver.is_empty() && !request
}

/// Names holding what `is_read` reads (or the `initial` names), through assignments.
fn taint_with(function: &Function, initial: HashSet<String>, is_read: &dyn Fn(&Expr) -> bool) -> HashSet<String> {
    propagate(function, initial, &|value, names| holds(value, names, is_read))
}

/// The names bound, directly or through other names, to a value `carries` accepts given
/// the names found so far: a fixpoint over the function's assignments.
fn propagate(function: &Function, initial: HashSet<String>, carries: &dyn Fn(&Expr, &HashSet<String>) -> bool) -> HashSet<String> {
    let mut found = initial;
    let mut assignments = Vec::new();
    function.body.visit(&mut |stmt| {
        if let StmtKind::Assign { targets, value, .. } = &stmt.kind {
            assignments.push((targets, value));
        }
    });
    loop {
        let before = found.len();
        for (targets, value) in &assignments {
            if carries(value, &found) {
                for target in targets.iter() {
                    for name in target.bound_names() {
                        found.insert(name.to_string());
                    }
                }
            }
        }
        if found.len() == before {
            return found;
        }
    }
}

/// The assignments to `name` in the function's own body, in source order.
pub(crate) fn assignments_to<'f>(function: &'f Function, name: &str) -> Vec<(&'f Stmt, &'f Expr)> {
    let mut found = Vec::new();
    function.body.visit(&mut |stmt| {
        if let StmtKind::Assign { targets, value, .. } = &stmt.kind
            && targets.iter().any(|target| target.as_name() == Some(name))
        {
            found.push((stmt, value));
        }
    });
    found
}

/// `user.id`, `current_user.id`, `user_id`, `str(current_user.id)`.
fn is_user_id(expression: &Expr) -> bool {
    expression.any(&|part| {
        part.dotted().is_some_and(|dotted| {
            let lower = dotted.to_lowercase();
            lower.ends_with("user_id") || lower.ends_with("userid") || (lower.contains("user") && lower.ends_with(".id"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Language;
    use crate::index::Project;
    use crate::lang::{ExtractOptions, python};
    use crate::routes::routes_of;
    use crate::source::SourceFile;

    fn analyse(files: &[(&str, &str)]) -> Vec<CallbackAnalysis> {
        let config = Config::defaults().expect("defaults");
        let project = Project::new(
            files.iter().map(|(path, text)| SourceFile::new(path.to_string(), path.into(), Language::Python, text.to_string())).collect(),
        );
        let facts = python::extract(files[0].1, ExtractOptions::default()).expect("parses");
        // The route table, as the scan's per-file pass would collect it.
        let mut table = Vec::new();
        for (file_index, (path, text)) in files.iter().enumerate() {
            let file_facts = python::extract(text, ExtractOptions::default()).expect("parses");
            let routes = crate::routes::file_routes(&file_facts, &std::collections::BTreeMap::new(), path);
            table.extend(routes.into_iter().map(|route| crate::routes::ProjectRoute { file_index, route }));
        }
        project.set_routes(table);
        let resolver = Resolver::new(&project, 0, &facts);
        analyse_routes(&resolver, &config, 0, &facts, &routes_of(&facts))
    }

    const ROUTE_HEAD: &str =
        "from fastapi import APIRouter\nfrom services import Service, handler\nrouter = APIRouter(prefix=\"/api/acme\")\n";

    #[test]
    fn persistence_and_sync_through_an_instance_and_a_singleton() {
        let routes = format!(
            "{ROUTE_HEAD}@router.get(\"/callback\")\nasync def callback(code: str, state: str):\n    if not await store.consume_state(state):\n        raise E()\n    \
             service = Service()\n    await service.connect(code)\n    await handler.after()\n"
        );
        let services = "import httpx\nclass Service:\n    async def connect(self, code):\n        data = {\"code\": code}\n        \
                        r = await self.client.post(URL, data=data)\n        tokens = r.json()\n        token_storage.save_token(\"acme\", tokens)\n\n\
                        class Handler:\n    async def after(self):\n        await trigger_historical_sync_on_connection(\"acme\")\n\nhandler = Handler()\n";
        let found = analyse(&[("routes.py", &routes), ("services.py", services)]);
        assert_eq!(found.len(), 1);
        let callback = &found[0];
        assert_eq!(callback.kind, Kind::Callback);
        assert_eq!(callback.route, "GET /api/acme/callback");
        let persistence = callback.persistence.as_ref().expect("persists");
        assert_eq!(persistence.iter().map(|hop| (hop.file_index, hop.line)).collect::<Vec<_>>(), vec![(0, 8), (1, 6)]);
        let sync = callback.sync.as_ref().expect("syncs");
        assert_eq!(sync.last().map(|hop| hop.function.as_str()), Some("Handler.after"));
        assert_eq!(callback.state, StateCheck::Validated);
    }

    /// Superset's `@transaction()` commits `db.session` when the function it wraps returns:
    /// a write in that function, or in one it calls, is committed; another decorator
    /// commits nothing.
    #[test]
    fn a_session_write_committed_by_a_decorator_persists() {
        let decorators = "from app import db\n\ndef transaction():\n    def decorate(func):\n        def wrapped(*args):\n            \
                          result = func(*args)\n            db.session.commit()\n            return result\n        return wrapped\n    \
                          return decorate\n\ndef logged(func):\n    return func\n";
        let store = "from app import db\nfrom decorators import transaction, logged\n\ndef store(tokens):\n    db.session.add(Row(access_token=tokens[\"access_token\"]))\n";
        let persists = |handler_decorator: &str, store_decorator: &str| {
            let routes = format!(
                "{ROUTE_HEAD}from decorators import transaction, logged\nfrom store import store\n\n\
                 @router.get(\"/callback\")\n@{handler_decorator}\nasync def callback(code: str, state: str):\n    \
                 if not await store.consume_state(state):\n        raise E()\n    tokens = exchange_token(code)\n    store(tokens)\n"
            );
            let store = store.replace("def store", &format!("@{store_decorator}\ndef store"));
            let found = analyse(&[("routes.py", &routes), ("decorators.py", decorators), ("store.py", &store)]);
            assert_eq!(found.len(), 1);
            found[0].persistence.is_some()
        };
        assert!(persists("transaction()", "logged"), "the handler's decorator commits what its callee writes");
        assert!(persists("logged", "transaction()"), "the callee's own decorator commits");
        assert!(!persists("logged", "logged"));
    }

    #[test]
    fn memory_only_storage_is_not_persistence_and_stubs_are_stubs() {
        let routes = format!(
            "{ROUTE_HEAD}@router.get(\"/callback\")\nasync def callback(code: str, state: str = None):\n    if not state:\n        raise E()\n    \
             return await handler.exchange(code)\n\n@router.get(\"/mobile/callback\")\nasync def mobile(code: str):\n    return RedirectResponse(f\"app://x?code={{code}}\")\n"
        );
        let services = "class Handler:\n    async def exchange(self, code):\n        r = await self.client.post(URL, params={\"code\": code})\n        \
                        data = r.json()\n        self.access_token = data[\"access_token\"]\n        return data\n\nhandler = Handler()\n";
        let found = analyse(&[("routes.py", &routes), ("services.py", services)]);
        assert_eq!(found.len(), 2);
        let callback = &found[0];
        assert_eq!(callback.kind, Kind::Callback);
        assert!(callback.persistence.is_none());
        assert_eq!(callback.memory_only.as_ref().and_then(|chain| chain.last()).map(|hop| hop.line), Some(4));
        assert_eq!(callback.state, StateCheck::PresenceOnly(5));
        assert_eq!(found[1].kind, Kind::Stub);
    }

    #[test]
    fn a_callback_signing_the_user_in_is_a_sign_in() {
        // Chainlit's `oauth_callback` issues its own JWT two calls down; LiteLLM's sits on
        // `/sso/callback`; a connection that fetches the provider's user info and stores the
        // tokens stays a callback.
        let routes = format!(
            "{ROUTE_HEAD}from services import authenticate_user\n\n@router.get(\"/auth/oauth/{{provider}}/callback\")\nasync def oauth_callback(provider: str, code: str, state: str):\n    \
             token = await handler.exchange(code)\n    return await authenticate_user(token)\n\n\
             @router.get(\"/sso/callback\")\nasync def sso_callback(code: str):\n    return await handler.exchange(code)\n\n\
             @router.get(\"/api/notion/callback\")\nasync def notion_callback(code: str, state: str):\n    \
             token = await handler.exchange(code)\n    user = await handler.user_info(token)\n    token_storage.save_token(user, token)\n"
        );
        let services = "class Handler:\n    async def exchange(self, code):\n        r = await self.client.post(URL, params={\"code\": code})\n        \
                        return r.json()\n\n    async def user_info(self, token):\n        return {}\n\nhandler = Handler()\n\n\
                        async def authenticate_user(token):\n    access_token = create_jwt(token)\n    return access_token\n";
        let found = analyse(&[("routes.py", &routes), ("services.py", services)]);
        let kind_of = |name: &str| found.iter().find(|callback| callback.function == name).map(|callback| callback.kind);
        assert_eq!(kind_of("oauth_callback"), Some(Kind::SignIn));
        assert_eq!(kind_of("sso_callback"), Some(Kind::SignIn));
        assert_eq!(kind_of("notion_callback"), Some(Kind::Callback));
        // A sign-in is still checked for `state` (OA102) and token leaks (OA101).
        let sso = found.iter().find(|callback| callback.function == "sso_callback").expect("sso_callback");
        assert_eq!(sso.state, StateCheck::Absent);
    }

    #[test]
    fn code_inputs_are_found_as_whole_words() {
        let config = Config::defaults().expect("defaults");
        let may = |text: &str| mentions_code_input(text, &config);
        assert!(may("def cb(code: str):\n"));
        assert!(may("code = args[\"code\"]\n"));
        assert!(may("const c = req.query.code;\n"));
        assert!(!may("if r.status_code == 200:\n    encode(x)\n"));
        assert!(!may("def items(request: Request):\n    return []\n"));
    }

    #[test]
    fn a_library_reading_the_code_from_the_request_exchanges_it() {
        // authlib: the handler passes the request to a service, which hands it to the
        // library; authlib checks `state` against the session.
        let routes = format!(
            "{ROUTE_HEAD}from starlette.requests import Request\n@router.get(\"/callback\")\nasync def callback(request: Request, db=Depends(get_db)):\n    \
             return await handler.finish(request, db)\n\n@router.get(\"/other/callback\")\nasync def other(request: Request):\n    \
             return await oauth.acme.authorize_access_token(make_request())\n"
        );
        let services = "class Handler:\n    async def finish(self, incoming, db):\n        token = await oauth.acme.authorize_access_token(incoming)\n        \
                        db.add(Token(**token))\n        db.commit()\n\nhandler = Handler()\n";
        let found = analyse(&[("routes.py", &routes), ("services.py", services)]);
        assert_eq!(found.iter().map(|callback| callback.kind).collect::<Vec<_>>(), vec![Kind::Callback, Kind::Stub]);
        let callback = &found[0];
        assert_eq!(callback.exchange.as_ref().and_then(|chain| chain.last()).map(|hop| (hop.file_index, hop.line)), Some((1, 2)));
        assert!(callback.persistence.is_some());
        assert_eq!(callback.state, StateCheck::Validated);
        // Flask's authlib reads the global request; fastapi-sso leaves `state` to the handler.
        let flask = "from flask import Blueprint\nbp = Blueprint(\"acme\", __name__, url_prefix=\"/acme\")\n\
                     @bp.route(\"/callback\")\ndef callback():\n    token = oauth.acme.authorize_access_token()\n    return token\n";
        let found = analyse(&[("routes.py", flask)]);
        assert_eq!((found[0].kind, &found[0].state), (Kind::Callback, &StateCheck::Validated));
        assert!(found[0].leak.as_ref().is_some_and(|leak| leak.description.contains("`token`")), "{:?}", found[0].leak);
        let sso = format!(
            "{ROUTE_HEAD}@router.get(\"/sso/callback\")\nasync def sso_callback(request: Request):\n    \
             user = await google_sso.verify_and_process(request)\n    return user\n"
        );
        let found = analyse(&[("routes.py", &sso)]);
        // On `/sso/...`: a sign-in, still checked for `state`.
        assert_eq!((found[0].kind, &found[0].state), (Kind::SignIn, &StateCheck::Absent));
        // What it answers is the user's profile, not tokens.
        assert!(found[0].leak.is_none(), "{:?}", found[0].leak);
    }

    #[test]
    fn oauthlib_parses_the_code_out_of_the_url_the_browser_came_back_to() {
        let verdict = |files: &[(&str, &str)]| {
            analyse(files).into_iter().map(|callback| (callback.function, callback.kind, callback.state)).collect::<Vec<_>>()
        };
        let callback = |name: &str, state: StateCheck| vec![(name.to_string(), Kind::Callback, state)];
        // requests-oauthlib's Flask example: the session was built with the stored `state`.
        let flask = |session: &str| {
            format!(
                "from flask import Flask, request, session\nfrom requests_oauthlib import OAuth2Session\n\
                 @app.route(\"/callback\")\ndef callback():\n    github = {session}\n    \
                 token = github.fetch_token(TOKEN_URL, client_secret=SECRET, authorization_response=request.url)\n    \
                 session[\"oauth_token\"] = token\n    return redirect(\"/\")\n"
            )
        };
        let stored = flask("OAuth2Session(CLIENT_ID, state=session[\"oauth_state\"])");
        assert_eq!(verdict(&[("app.py", &stored)]), callback("callback", StateCheck::Validated));
        // No state to compare with, or the URL's own: not validated.
        let unchecked = flask("OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT)");
        assert_eq!(verdict(&[("app.py", &unchecked)]), callback("callback", StateCheck::Absent));
        let own = flask("OAuth2Session(CLIENT_ID, state=request.args[\"state\"])");
        assert_ne!(verdict(&[("app.py", &own)])[0].2, StateCheck::Validated);
        // A state kept in the request's session or cookies is stored; a literal, the handler's
        // own `state` parameter or a session built before the one used are not.
        let fastapi = |handler: &str| {
            format!(
                "{ROUTE_HEAD}from starlette.requests import Request\n@router.get(\"/callback\")\nasync def callback({handler}\n    \
                 return oauth.fetch_token(TOKEN_URL, authorization_response=str(request.url))\n"
            )
        };
        let kept = fastapi("request: Request):\n    oauth = OAuth2Session(ID, state=request.session[\"state\"])");
        assert_eq!(verdict(&[("routes.py", &kept)]), callback("callback", StateCheck::Validated));
        let cookie = fastapi("request: Request):\n    oauth = OAuth2Session(ID, state=request.cookies.get(\"state\"))");
        assert_eq!(verdict(&[("routes.py", &cookie)]), callback("callback", StateCheck::Validated));
        for handler in [
            "request: Request, state: str):\n    oauth = OAuth2Session(ID, state=state)",
            "request: Request):\n    oauth = OAuth2Session(ID, state=None)",
            "request: Request):\n    oauth = OAuth2Session(ID, state=request.session[\"s\"])\n    oauth = OAuth2Session(ID)",
        ] {
            assert_ne!(verdict(&[("routes.py", &fastapi(handler))])[0].2, StateCheck::Validated, "{handler}");
        }
        // What it answers is the token response: returning it leaks the tokens.
        assert!(analyse(&[("app.py", &stored)])[0].leak.is_none());
        let leaking = stored.replace("return redirect(\"/\")", "return {\"token\": token}");
        assert!(analyse(&[("app.py", &leaking)])[0].leak.is_some());
        // google-auth-oauthlib's example: `import flask`, the URL read into a name first.
        let google = "import flask\nimport google_auth_oauthlib.flow\n@app.route(\"/oauth2callback\")\ndef oauth2callback():\n    \
                      state = flask.session[\"state\"]\n    \
                      flow = google_auth_oauthlib.flow.Flow.from_client_secrets_file(SECRETS, scopes=SCOPES, state=state)\n    \
                      authorization_response = flask.request.url\n    flow.fetch_token(authorization_response=authorization_response)\n    \
                      return flask.redirect(\"/\")\n";
        assert_eq!(verdict(&[("app.py", google)]), callback("oauth2callback", StateCheck::Validated));
        // The URL handed to a service in another file; a copy of the request given to authlib.
        let routes = format!(
            "{ROUTE_HEAD}from starlette.requests import Request\n@router.get(\"/callback\")\nasync def callback(request: Request):\n    \
             return await handler.finish(str(request.url))\n\n@router.get(\"/login/authorized\")\nasync def authorized(request: Request):\n    \
             incoming = request\n    token = await oauth.acme.authorize_access_token(incoming)\n    session_user(token)\n    return {{\"ok\": True}}\n"
        );
        let services = "class Handler:\n    async def finish(self, url):\n        \
                        return self.oauth.fetch_token(TOKEN_URL, authorization_response=url)\n\nhandler = Handler()\n";
        let found = verdict(&[("routes.py", &routes), ("services.py", services)]);
        assert_eq!(
            found,
            vec![
                ("callback".to_string(), Kind::Callback, StateCheck::Absent),
                // On `/login/...`: a sign-in, still checked for `state`.
                ("authorized".to_string(), Kind::SignIn, StateCheck::Validated)
            ]
        );
        // What the service answers is the token response, as with a service given the code.
        let leaking = routes
            .replace("return await handler.finish(str(request.url))", "token = await handler.finish(str(request.url))\n    return token");
        assert!(analyse(&[("routes.py", &leaking), ("services.py", services)])[0].leak.is_some());
        // The token response kept out of the body: no leak.
        assert!(analyse(&[("routes.py", &routes), ("services.py", services)])[1].leak.is_none());
        let returned = routes.replace("return {\"ok\": True}", "return {\"ok\": True, \"token\": token}");
        assert!(analyse(&[("routes.py", &returned), ("services.py", services)])[1].leak.is_some());
        // A URL that is not the request's is no exchange: a stub.
        let other = flask("OAuth2Session(CLIENT_ID)").replace("authorization_response=request.url", "authorization_response=SAVED_URL");
        assert_eq!(verdict(&[("app.py", &other)])[0].1, Kind::Stub);
    }

    #[test]
    fn request_exchanges_off_callback_paths_with_options_or_in_one_branch() {
        let verdicts = |body: &str| {
            let routes = format!("{ROUTE_HEAD}{body}");
            analyse(&[("routes.py", &routes)])
                .into_iter()
                .map(|callback| (callback.function, callback.kind, callback.state))
                .collect::<Vec<_>>()
        };
        // authlib's documented `/auth` route, and Flask's call with options only.
        let found = verdicts(
            "@router.get(\"/auth\")\nasync def auth(request: Request):\n    return await oauth.acme.authorize_access_token(request)\n\n\
             @router.get(\"/authorized\")\ndef authorized():\n    return oauth.acme.authorize_access_token(claims_options={\"iss\": {}})\n\n\
             @router.get(\"/profile\")\nasync def profile(request: Request):\n    return await oauth.acme.authorize_access_token(request)\n",
        );
        let callback = |name: &str| (name.to_string(), Kind::Callback, StateCheck::Validated);
        // `/profile` names no sign-in step: not looked at.
        assert_eq!(found, vec![callback("auth"), callback("authorized")]);
        // A request body named `request` is not the incoming request.
        let found = verdicts(
            "@router.get(\"/callback\")\nasync def callback(request: CallbackBody):\n    return await oauth.acme.authorize_access_token(request)\n",
        );
        assert_eq!(found.iter().map(|(_, kind, _)| *kind).collect::<Vec<_>>(), vec![Kind::Stub]);
        // One branch exchanges the code itself, and nothing checks its `state`.
        let found = verdicts(
            "@router.get(\"/callback\")\nasync def callback(request: Request, provider: str):\n    if provider == \"acme\":\n        \
             return await oauth.acme.authorize_access_token(request)\n    \
             return requests.post(URL, data={\"code\": request.query_params[\"code\"]}).json()\n",
        );
        assert_eq!(found, vec![("callback".to_string(), Kind::Callback, StateCheck::Absent)]);
    }

    #[test]
    fn tokens_in_the_response_and_partial_sync() {
        let routes = format!(
            "{ROUTE_HEAD}@router.post(\"/oauth/complete\")\ndef complete(request: OAuthRequest, db: Session = Depends(get_db)):\n    \
             token_data = requests.post(URL, data={{\"code\": request.code}}).json()\n    db.add(Token(access_token=token_data[\"access_token\"]))\n    db.commit()\n    \
             if token_data.get(\"scope\"):\n        trigger_historical_sync_on_connection(\"acme\")\n    return {{\"ok\": True, **token_data}}\n"
        );
        let found = analyse(&[("routes.py", &routes)]);
        let callback = &found[0];
        assert_eq!(callback.kind, Kind::Callback);
        assert_eq!(callback.persistence.as_ref().map(|chain| chain[0].line), Some(6));
        assert!(callback.sync.is_none());
        assert_eq!(callback.partial_sync.as_ref().map(|partial| partial.condition.line), Some(8));
        assert!(callback.leak.as_ref().is_some_and(|leak| leak.description.contains("spreads `token_data`")));
        assert_eq!(callback.state, StateCheck::Absent);
    }

    #[test]
    fn a_copy_of_the_tokens_leaks_unless_they_are_stripped() {
        let handler = |strip: &str| {
            format!(
                "{ROUTE_HEAD}@router.get(\"/callback\")\nasync def callback(code: str):\n    connection = await exchange(code)\n    row = dict(connection)\n{strip}    return row\n"
            )
        };
        let leaking = analyse(&[("routes.py", &handler(""))]);
        assert!(leaking[0].leak.is_some(), "{:?}", leaking[0].leak);
        let stripped = analyse(&[("routes.py", &handler("    row.pop(\"access_token\", None)\n    del row[\"refresh_token\"]\n"))]);
        assert!(stripped[0].leak.is_none(), "{:?}", stripped[0].leak);
    }

    #[test]
    fn returning_the_token_response_itself_leaks() {
        let handler = |returned: &str| {
            format!(
                "{ROUTE_HEAD}from fastapi import Request\n@router.get(\"/callback\")\nasync def callback(code: str, request: Request):\n    \
                 if not await store.consume_state(request.query_params[\"state\"]):\n        raise E()\n    return {returned}\n"
            )
        };
        let leak = |returned: &str| analyse(&[("routes.py", &handler(returned))])[0].leak.clone().map(|leak| leak.description);
        for returned in [
            "await exchange_code_for_token(code)",
            "await oauth.acme.fetch_access_token(code=code)",
            "requests.post(TOKEN_URL, data={\"code\": code}).json()",
            "JSONResponse(await exchange_code_for_token(code))",
            "JSONResponse(content=await oauth.acme.authorize_access_token(request))",
            "(await exchange_code_for_token(code), 200)",
            "{\"ok\": True, \"tokens\": await exchange_code_for_token(code)}",
        ] {
            assert!(leak(returned).is_some_and(|description| description.contains("the provider's token response")), "{returned}");
        }
        // Out of the tree, a call given the code whose name says no token answers anything
        // (a redirect, most often), and one checking a token answers no token; a model's
        // partial serialisation is not the token response, nor is a value read from it.
        for returned in [
            "await service.handle_callback(code)",
            "await auth.verify_token(code)",
            "auth.token_is_valid(code)",
            "(await exchange_code_for_token(code)).json(include={\"scope\"})",
            "(await exchange_code_for_token(code)).portal_id",
            "{\"portal\": (await exchange_code_for_token(code)).portal_id}",
            "{\"result\": await auth.revoke_token(code)}",
        ] {
            assert_eq!(leak(returned), None, "{returned}");
        }
        // A function of the tree answers what it returns: the token response, or a redirect
        // after storing the tokens, whatever its name.
        let service = |returned: &str| {
            format!(
                "class Service:\n    async def exchange_code(self, authorization_code):\n        \
                 resp = requests.post(TOKEN_URL, data={{\"code\": authorization_code}})\n        tokens = resp.json()\n        \
                 token_storage.save_token(\"acme\", tokens)\n        return {returned}\n"
            )
        };
        let through = |returned: &str| {
            let routes = handler("await Service().exchange_code(code)");
            analyse(&[("routes.py", &routes), ("services.py", &service(returned))])[0].leak.is_some()
        };
        assert!(through("tokens"));
        assert!(through("JSONResponse(tokens)"));
        assert!(!through("RedirectResponse(\"/settings?connected=acme\")"));
        assert!(!through("\"/settings?connected=acme\""));
    }

    #[test]
    fn a_token_endpoint_answering_its_own_clients_is_not_a_callback() {
        // LiteLLM's MCP gateway: an OAuth server's token endpoint takes `grant_type` and the
        // code, exchanges it upstream and answers its client with tokens, by design.
        let form = format!(
            "{ROUTE_HEAD}@router.post(\"/token\")\nasync def token_endpoint(grant_type: str = Form(...), code: str = Form(None)):\n    \
             return await exchange_token_with_server(grant_type=grant_type, code=code)\n"
        );
        assert!(analyse(&[("routes.py", &form)]).is_empty());
        let flask = "from flask import Blueprint, request\nbp = Blueprint(\"acme\", __name__)\n@bp.route(\"/oauth/token\", methods=[\"POST\"])\n\
                     def token():\n    if request.form[\"grant_type\"] != \"authorization_code\":\n        abort(400)\n    \
                     return exchange_code(request.form[\"code\"])\n";
        assert!(analyse(&[("routes.py", flask)]).is_empty());
        let read_first = format!(
            "{ROUTE_HEAD}@router.post(\"/token\")\nasync def token(request: Request):\n    form = await request.form()\n    \
             if form.get(\"grant_type\") != \"authorization_code\":\n        raise E()\n    return await exchange_code(form[\"code\"])\n"
        );
        assert!(analyse(&[("routes.py", &read_first)]).is_empty());
        let body_model = format!(
            "{ROUTE_HEAD}@router.post(\"/token\")\nasync def token(body: TokenRequest):\n    \
             if body.grant_type != \"authorization_code\":\n        raise E()\n    return await exchange_code(body.code)\n"
        );
        assert!(analyse(&[("routes.py", &body_model)]).is_empty());
        // A client's own token request writes `grant_type` (here into a copy of the query it
        // was sent), or reads it from its configuration: still a callback.
        let client = |body: &str| {
            let text = format!(
                "{ROUTE_HEAD}@router.get(\"/{{provider}}/callback\")\nasync def callback(request: Request, provider: str, code: str, \
                 settings: Settings = Depends(get_settings)):\n{body}    tokens = requests.post(URL, data=data).json()\n    save_token(tokens)\n"
            );
            analyse(&[("routes.py", &text)]).first().map(|callback| callback.kind)
        };
        for body in [
            "    data = dict(request.query_params, code=code)\n    data[\"grant_type\"] = \"authorization_code\"\n",
            "    cfg = PROVIDERS[provider]\n    data = {\"grant_type\": cfg[\"grant_type\"], \"code\": code}\n",
            "    data = {\"grant_type\": settings.grant_type, \"code\": code}\n",
        ] {
            assert_eq!(client(body), Some(Kind::Callback), "{body}");
        }
    }

    #[test]
    fn state_checked_through_a_store_lookup_or_a_signed_decoder_is_validated() {
        let handler = |body: &str| {
            format!(
                "{ROUTE_HEAD}import jwt\n@router.get(\"/callback\")\nasync def callback(code: str, state: str):\n{body}    return await exchange_code(code)\n"
            )
        };
        let verdict = |body: &str| analyse(&[("routes.py", &handler(body))])[0].state.clone();
        assert_eq!(verdict("    key = f\"oauth:{state}\"\n    if not redis.get(key):\n        raise E()\n"), StateCheck::Validated);
        assert_eq!(verdict("    user_id = decoded(state)\n"), StateCheck::Unchecked);
        assert_eq!(verdict("    data = base64.urlsafe_b64decode(state)\n"), StateCheck::Unchecked, "decoding is not checking");
        let text = format!(
            "{}\ndef decoded(value):\n    return jwt.decode(value, SECRET, algorithms=[\"HS256\"])[\"uid\"]\n",
            handler("    user_id = decoded(state)\n")
        );
        assert_eq!(analyse(&[("routes.py", &text)])[0].state, StateCheck::Validated, "a signed state, checked in a helper");
    }

    #[test]
    fn values_derived_from_the_token_response_are_not_tokens() {
        let routes = format!(
            "{ROUTE_HEAD}@router.post(\"/callback\")\ndef callback(code: str):\n    response = requests.post(URL, data={{\"code\": code}})\n    \
             data = response.json()\n    team_id = data.get(\"team\", {{}}).get(\"id\")\n    create_credential({{\"bot_token\": data.get(\"access_token\")}}, user, db)\n    \
             return {{\"team_id\": team_id}}\n"
        );
        let found = analyse(&[("routes.py", &routes)]);
        assert!(found[0].leak.is_none(), "{:?}", found[0].leak);
        assert!(found[0].persists(), "create_credential(...) outside the tree stores by its name");
        // Chainlit: the user the token signs in, then the session response made for that
        // user, are not the token response.
        let login = format!(
            "{ROUTE_HEAD}@router.get(\"/callback\")\nasync def callback(request: Request, code: str):\n    \
             token = await provider.get_token(code, url)\n    (raw_user_data, default_user) = await provider.get_user_info(token)\n    \
             user = await config.code.oauth_callback(token, raw_user_data, default_user)\n    \
             response = await _authenticate_user(request, user)\n    return response\n"
        );
        assert!(analyse(&[("routes.py", &login)])[0].leak.is_none());
        // A body built out of the code still holds it: what the request answers is.
        let built = format!(
            "{ROUTE_HEAD}@router.get(\"/callback\")\ndef callback(code: str):\n    body = urlencode({{\"code\": code}})\n    \
             tokens = requests.post(URL, data=body)\n    return tokens.json()\n"
        );
        assert!(analyse(&[("routes.py", &built)])[0].leak.is_some());
    }

    #[test]
    fn methods_of_objects_held_in_attributes_are_followed() {
        let routes = format!(
            "{ROUTE_HEAD}@router.get(\"/callback\")\nasync def callback(code: str, state: str):\n    if not await store.consume_state(state):\n        raise E()\n    \
             await Service().connect(code)\n"
        );
        let services = "from vault import Vault\nclass Service:\n    def __init__(self):\n        self.vault = Vault()\n\n    \
                        async def connect(self, code):\n        tokens = (await self.client.post(URL, data={\"code\": code})).json()\n        self.vault.keep(tokens)\n";
        let vault = "class Vault:\n    def keep(self, tokens):\n        with get_db_session() as db:\n            db.add(Token(access_token=tokens[\"access_token\"]))\n";
        let found = analyse(&[("routes.py", &routes), ("services.py", services), ("vault.py", vault)]);
        let persistence = found[0].persistence.as_ref().unwrap_or_else(|| panic!("persists through self.vault: {:#?}", found[0]));
        assert_eq!(persistence.last().map(|hop| (hop.file_index, hop.function.as_str())), Some((2, "Vault.keep")));
    }

    #[test]
    fn library_exchanges_are_known_by_name() {
        let handler = |call: &str| {
            format!("{ROUTE_HEAD}@router.get(\"/slack/oauth\")\nasync def install(code: str):\n    response = {call}\n    return {{}}\n")
        };
        let kind = |call: &str| analyse(&[("routes.py", &handler(call))]).first().map(|callback| callback.kind);
        assert_eq!(kind("web_client.oauth_v2_access(client_id=ID, code=code)"), Some(Kind::Callback), "configured");
        assert_eq!(kind("flow.fetch_token(code=code)"), Some(Kind::Callback), "`token` in the name");
        assert_eq!(kind("audit.record(code)"), None, "neither: not a callback, and not on a callback path");
    }
}
