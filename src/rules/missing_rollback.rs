//! ## missing-rollback (OA004)
//!
//! ### What it does
//! Finds `except` handlers that run after a write to a database session inside their `try`
//! and leave (or carry on) without rolling that session back.
//!
//! ### Why is this bad?
//! After a failed flush or commit, a SQLAlchemy session refuses all further work until it
//! is rolled back ("This Session's transaction has been rolled back due to a previous
//! exception during flush"). Every later request that gets the same session, or the rest
//! of this one, fails with an error that has nothing to do with its cause. The worst case
//! is a handler that swallows the error and lets the function commit anyway: a half-done
//! unit of work is committed.
//!
//! Writes are session calls (`[rollback] writes`: `add`, `merge`, `delete`, `execute`,
//! `flush`, `commit`, `bulk_*`) on a session: a name or annotation that says so, a
//! `Depends(get_db)` parameter, or a name bound by a session factory or manager. A handler
//! is fine when it calls `<same session>.rollback()` (awaited or not) or rolls back a
//! savepoint or transaction of it bound once before the first write (`sp =
//! db.begin_nested()` or `with db.begin_nested() as sp:`, then `sp.rollback()`); when the writes sit inside a context manager
//! that commits or rolls back (`with session.begin():`, `with get_db_session() as db:`,
//! `[rollback] managers`, or a FastAPI dependency that is one or works inside one: `db:
//! Session = Depends(session_scope)`, `session: DbSession` with `DbSession =
//! Annotated[AsyncSession, Depends(...)]`) and the handler re-raises, so the manager sees
//! the error; or when
//! they sit inside a `with` that opened the session and closes it on the way out (`with
//! SessionLocal() as db:`, `with Session(engine) as s:`, any manager binding a session
//! name, `async with db.session_context() as session:`) and the handler leaves the `with`:
//! returns, raises, or breaks or continues a loop around it.
//! A manager given a session or connection (`get_db_context(db)`, `Session(bind=conn)`)
//! may leave its transaction open and closes nothing. One that may hand the given session
//! back or open one of its own and close it (Open WebUI's `get_async_db_context(db)`, as a
//! setting decides) makes a handler fine in the second case only: it is reported with
//! `medium` confidence, saying so.
//!
//! What needs nothing: writes inside such a `with` that is itself inside the `try` are
//! undone before the handler runs, a savepoint's (`with db.begin_nested():`, `[rollback]
//! savepoints`) only when nothing that can fail follows it in the `try`, since one left
//! normally keeps its writes in the session's transaction. A `try` whose writes only stage
//! rows in memory (`db.add(row)`, `[rollback] unflushed_writes`), outside any loop (the
//! next pass's query would flush them), with nothing after the first but more of them and
//! plain assignments, has sent no SQL when its handlers run. A `try` without writes needs
//! nothing (an `except` that runs before any write cannot leave a dirty session), and a
//! handler that catches only errors the application raises itself (`HTTPException`,
//! `[rollback] early_errors`) needs nothing unless one is raised after the first write; one
//! that catches only a failed import (`ImportError`) needs nothing unless an import follows
//! the first write.
//!
//! In an Alembic migration (a session from `op.get_bind()`, see [`Migration`]) a handler that
//! raises needs nothing: Alembic rolls the migration back. One that swallows is reported with
//! a savepoint as the repair, since `rollback()` would undo the whole migration.
//!
//! TypeScript has no session to go by: only explicit transactions need a rollback. One is
//! opened on a receiver (`await queryRunner.startTransaction()`, `[rollback]
//! transaction_methods`), returned by a call without a callback (`const trx = await
//! knex.transaction()`, `transaction_factories`), or by SQL (`await client.query('BEGIN')`,
//! `transaction_statements`). A write is a call on it after it is opened (`[rollback]
//! transaction_writes`: `queryRunner.manager.save(row)`, `trx('tokens').insert(row)`,
//! `client.query(sql)`); a `catch` after one must roll it back with the matching call
//! (`queryRunner.rollbackTransaction()`, `trx.rollback()`, `client.query('ROLLBACK')`).
//! Prisma's `$transaction(async (tx) => ..)`, knex's `transaction(async (trx) => ..)` and
//! auto-committing clients roll back by themselves and need nothing.
//!
//! ### Example
//! ```python
//! try:
//!     db.add(token)
//!     db.commit()
//! except Exception as e:
//!     logger.error("could not store token: %s", e)
//!     raise HTTPException(status_code=500, detail="Connection failed") from e
//! ```
//! ```ts
//! await queryRunner.startTransaction();
//! try {
//!   await queryRunner.manager.save(token);
//!   await queryRunner.commitTransaction();
//! } catch (error) {
//!   throw new InternalServerErrorException('could not store token');
//! }
//! ```
//!
//! ### Use instead
//! ```python
//! try:
//!     db.add(token)
//!     db.commit()
//! except Exception as e:
//!     db.rollback()
//!     logger.error("could not store token: %s", e)
//!     raise HTTPException(status_code=500, detail="Connection failed") from e
//! ```
//! ```ts
//! } catch (error) {
//!   await queryRunner.rollbackTransaction();
//!   throw new InternalServerErrorException('could not store token');
//! }
//! ```
//!
//! ### How to suppress
//! `# oauth-audit: ignore[missing-rollback] -- reason` (`//` in TypeScript) on the
//! `except`/`catch` line or the line above.
//!
//! ### Fix safety
//! `oauth-audit fix` inserts `<session>.rollback()` first in the handler (awaited for an
//! async session); a handler whose body is on its `except` line is skipped. On a migration's
//! connection it nests the `try` body under `with conn.begin_nested():` instead
//! (`rules/templates/python/savepoint.tmpl`), leaving multi-line strings as they are; a body
//! that commits or rolls back the connection itself, and an ORM session on the migration's
//! connection, are skipped. A session only the `try` binds (`async with get_db_context(db)
//! as session:` inside it) is unbound in the handler when the binding failed: the fix sets it
//! to `None` before the `try` and guards the rollback (`if session is not None:`), as it
//! guards that of a parameter defaulting to None that the `try` binds again. A handler that
//! goes on with a loop whose body never commits the session is skipped and not `fixable`:
//! the rollback would also discard what the earlier passes wrote. In TypeScript
//! it inserts `await <rollback call>;` (`queryRunner.rollbackTransaction()`) first in the
//! `catch` block.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::callbacks::{Sessions, closed_session, given_session, http_clients_bound, managed_sessions, sessions_of};
use crate::callers::{self, CallRecord, FileCalls};
use crate::config::Config;
use crate::facts::{
    Block, Call, Expr, ExprKind, FileFacts, Function, Handler, Import, Language, Span, Stmt, StmtKind, WithItem, dotted_prefix,
    is_name_byte, last_segment,
};
use crate::index::{Project, Resolver, Target};
use crate::rules::{Confidence, Finding, Related, RuleInfo, Severity};

pub static RULE: RuleInfo = RuleInfo {
    code: "OA004",
    slug: "missing-rollback",
    step: Some("rollback"),
    severity: Severity::Error,
    fixable: true,
    title: "`except` after a database write leaves without rolling the session back",
    source: include_str!("missing_rollback.rs"),
};

/// An `except` handler that runs after a write and so needs a rollback.
#[derive(Debug, Clone)]
pub struct RollbackSite {
    pub span: Span,
    /// `None` when the handler rolls back (or a manager does).
    pub finding: Option<Finding>,
    /// The session the handler must roll back, with the finding (TypeScript: the
    /// transaction's receiver as written, `queryRunner`, `this.queryRunner`).
    pub session: Option<String>,
    /// TypeScript, with the finding: the call that rolls the transaction back, as code
    /// (no `await`, no `;`): `queryRunner.rollbackTransaction()`, `client.query('ROLLBACK')`,
    /// `trx.rollback()`. `None` for Python and Rust.
    pub rollback_call: Option<String>,
    /// With the finding (Python): the handler raises on every path and the function does
    /// not bind the session itself (a parameter, `db.session`, `self.session`), so the
    /// error goes to whoever gave the session; the finding stands unless every caller
    /// rolls back what reaches it ([`rollback_calls`]).
    pub handed_over: bool,
    /// With the finding (Python): the session belongs to a migration, whose repair is a
    /// savepoint, not a rollback.
    pub migration: Option<Migration>,
    /// With the finding (Python): the line of a loop around the `try` whose earlier passes'
    /// writes a rollback in the handler would discard too (see [`loop_losing_passes`]).
    pub loop_losing_passes: Option<usize>,
}

/// The loop around `handler` (in `function`) whose earlier passes wrote to `session` without
/// committing, when the handler goes on with it (`exits`: whether it leaves the function):
/// the innermost loop holding the handler, binding no new session per pass and committing
/// `session` nowhere in its body. `session.rollback()` there discards those passes' rows
/// too; a savepoint per pass (`with session.begin_nested():`) undoes only the failed one.
fn loop_losing_passes<'f>(function: &'f Function, handler: &Handler, session: &str, commits: &[String], exits: bool) -> Option<&'f Stmt> {
    if exits {
        return None;
    }
    let mut innermost = None;
    function.body.visit(&mut |stmt| {
        if matches!(stmt.kind, StmtKind::Loop { .. })
            && stmt.span.start_byte <= handler.span.start_byte
            && handler.span.end_byte <= stmt.span.end_byte
        {
            innermost = Some(stmt);
        }
    });
    let stmt: &Stmt = innermost?;
    let StmtKind::Loop { body, .. } = &stmt.kind else { return None };
    let per_pass = !stmt.bindings(session).is_empty();
    let commits_session = body.calls_on(session).iter().any(|(method, _, _)| commits.iter().any(|commit| commit == method));
    (!per_pass && !commits_session).then_some(stmt)
}

/// A session of an Alembic migration. Alembic runs a migration in one transaction on the
/// connection `op.get_bind()` returns: an error that leaves the migration rolls it all back,
/// which needs nothing from a handler, but `rollback()` in a handler that goes on undoes the
/// statements before it as well. A statement that may fail belongs in a savepoint
/// (`with conn.begin_nested():`), which undoes only itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migration {
    /// The migration's connection (`conn = op.get_bind()`).
    Connection,
    /// A session bound to it (`session = Session(bind=op.get_bind())`).
    BoundSession,
}

/// What `session` is in a migration, if it is bound from `op.get_bind()`: directly, through a
/// name only ever bound to it, or as an argument of the call making the session.
fn migration_of(function: &Function, session: &str) -> Option<Migration> {
    let values: Vec<Option<&Expr>> = function.body.bindings(session).into_iter().map(|(_, value)| value).collect();
    let is_get_bind = |expr: &Expr| {
        expr.unawaited()
            .as_call()
            .and_then(|call| call.callee.dotted())
            .is_some_and(|callee| callee == "op.get_bind" || callee.ends_with(".op.get_bind"))
    };
    let gets_bind = |expr: &Expr| {
        is_get_bind(expr)
            || expr.dotted().is_some_and(|name| {
                let bound = function.body.bindings(&name);
                !bound.is_empty() && bound.iter().all(|(_, value)| value.is_some_and(is_get_bind))
            })
    };
    if values.is_empty() {
        return None;
    }
    if values.iter().all(|value| value.is_some_and(gets_bind)) {
        return Some(Migration::Connection);
    }
    let bound_session =
        |value: &Option<&Expr>| value.and_then(|expr| expr.unawaited().as_call()).is_some_and(|call| call.arguments().any(gets_bind));
    values.iter().all(bound_session).then_some(Migration::BoundSession)
}

/// Cheap test on the raw text: a file without `except` (or `Err(`) and a session write
/// (`[rollback] writes`), or without `catch` and a transaction opening (`[rollback]
/// transaction_methods`, `transaction_factories`, `transaction_statements` in either case),
/// needs no parse for this rule.
pub fn may_have_sites(text: &str, config: &Config) -> bool {
    let bytes = text.as_bytes();
    let found = |needle: &str| memchr::memmem::find(bytes, needle.as_bytes()).is_some();
    let rollback = &config.rollback;
    let sessions = (found("except") || found("Err(")) && may_write_session(bytes, config);
    sessions
        || (found("catch")
            && (rollback
                .transaction_methods
                .keys()
                .chain(rollback.transaction_factories.keys())
                .any(|method| found(&format!("{method}(")))
                || rollback.transaction_statements.keys().any(|statement| found(statement) || found(&statement.to_ascii_lowercase()))))
}

/// True when the text may hold a `[rollback] writes` call on a session, as
/// [`Sessions::written_session`](crate::callbacks::Sessions::written_session) decides it: a
/// receiver or first argument with a session's name (`db.add(`, `self.session.commit(`,
/// `.execute(&mut *tx)`), or any write in a file naming a session type, factory, manager
/// or scoped transaction, through which a session of any name can be bound. A file whose
/// only writes are `seen.add(x)` and `query.execute()` needs no parse for this rule.
fn may_write_session(bytes: &[u8], config: &Config) -> bool {
    let persistence = &config.persistence;
    let is_session_name = |name: &[u8]| !name.is_empty() && persistence.session_names.iter().any(|session| session.as_bytes() == name);
    let mut any_write = false;
    for write in &config.rollback.writes {
        let needle = format!(".{write}(");
        for at in memchr::memmem::find_iter(bytes, needle.as_bytes()) {
            any_write = true;
            if is_session_name(name_before(bytes, at)) || is_session_name(argument_name(&bytes[at + needle.len()..])) {
                return true;
            }
        }
    }
    any_write
        && persistence
            .session_types
            .iter()
            .chain(&persistence.session_factories)
            .chain(&config.rollback.managers)
            .chain(&config.rollback.scoped)
            .any(|name| memchr::memmem::find(bytes, last_segment(name).as_bytes()).is_some())
}

/// The name just before the `.` at `dot` (`db` in `self.db.add(`), across line breaks.
fn name_before(bytes: &[u8], dot: usize) -> &[u8] {
    let mut end = dot;
    while end > 0 && matches!(bytes[end - 1], b' ' | b'\t' | b'\r' | b'\n' | b'\\') {
        end -= 1;
    }
    let start = bytes[..end].iter().rposition(|byte| !is_name_byte(*byte)).map_or(0, |at| at + 1);
    &bytes[start..end]
}

/// The last name of a call's first argument (`tx` in `(&mut *tx)`, `db` in `(self.db)`).
fn argument_name(bytes: &[u8]) -> &[u8] {
    let mut rest = bytes;
    loop {
        let trimmed = rest.trim_ascii_start();
        let stripped = [&b"&"[..], b"*", b"mut", b"await"].iter().find_map(|prefix| {
            // A keyword only as a whole word: `mutex` and `awaiting` are names.
            trimmed.strip_prefix(*prefix).filter(|tail| prefix.len() == 1 || !tail.first().is_some_and(|byte| is_name_byte(*byte)))
        });
        match stripped {
            Some(tail) => rest = tail,
            None => {
                rest = trimmed;
                break;
            }
        }
    }
    let dotted = dotted_prefix(rest);
    let start = dotted.iter().rposition(|byte| *byte == b'.').map_or(0, |at| at + 1);
    &dotted[start..]
}

/// Every handler of the file that runs after a write, with a finding when it does not
/// roll back.
pub fn check_file(project: &Project, config: &Config, file_index: usize, facts: &FileFacts) -> Vec<RollbackSite> {
    let resolver = Resolver::new(project, file_index, facts);
    let mut sites = Vec::new();
    let mut class_clients: HashMap<&str, HashSet<String>> = HashMap::new();
    for function in facts.functions.iter().filter(|function| !function.is_module()) {
        let mut has_handler = false;
        function.body.visit(&mut |stmt| has_handler |= matches!(&stmt.kind, StmtKind::Try { handlers, .. } if !handlers.is_empty()));
        if !has_handler {
            continue;
        }
        let transactions = if facts.language == Language::TypeScript { transactions(config, function) } else { Vec::new() };
        if facts.language == Language::TypeScript && transactions.is_empty() {
            continue;
        }
        // `self.session = aiohttp.ClientSession()` in another method of the class, found
        // once per class.
        let clients = match &function.class {
            Some(class) => class_clients
                .entry(class.as_str())
                .or_insert_with(|| {
                    facts
                        .functions
                        .iter()
                        .filter(|method| method.class.as_ref() == Some(class))
                        .flat_map(|method| http_clients_bound(config, method))
                        .filter(|name| name.starts_with("self."))
                        .collect()
                })
                .clone(),
            None => HashSet::new(),
        };
        let sessions = sessions_of(config, function).with_http_clients(clients);
        let injected = if facts.language == Language::Python {
            injected_sessions(&resolver, config, file_index, function, &sessions)
        } else {
            Vec::new()
        };
        let mut checker = Checker {
            config,
            resolver: &resolver,
            file_index,
            language: facts.language,
            function,
            sessions: &sessions,
            transactions: &transactions,
            injected: &injected,
            imports: &facts.imports,
            given_closes: false,
            flagged_when_closed: None,
        };
        // A transaction that rolls back when dropped is managed for the whole function, as
        // is a session a dependency that rolls back hands over.
        let managed: BTreeSet<String> =
            sessions.scoped().iter().cloned().chain(injected.iter().map(|(session, _)| session.clone())).collect();
        let enclosing = Enclosing { managed, ..Enclosing::default() };
        // A manager given a session (`get_async_db_context(db)`) may hand it back open or
        // open one it closes: the handlers fine in the second case are reported as
        // depending on which.
        if facts.language == Language::Python && !given_managers(config, function).is_empty() {
            let lenient = Checker { given_closes: true, flagged_when_closed: None, ..checker };
            let mut flagged = Vec::new();
            lenient.block(&function.body, &enclosing, &mut flagged);
            checker.flagged_when_closed = Some(flagged.into_iter().filter(|site| site.finding.is_some()).map(|site| site.span).collect());
        }
        checker.block(&function.body, &enclosing, &mut sites);
    }
    sites
}

/// How many functions deep a dependency is followed to the manager that rolls back
/// (`SessionDep` -> `_get_session` -> `create_session`).
const DEPENDENCY_DEPTH: usize = 3;

/// The session parameters of `function` a FastAPI dependency hands over and rolls back when an error
/// reaches it, each with that dependency: `session: DbSession` where `DbSession =
/// Annotated[AsyncSession, Depends(session_scope)]`, or `db: Session = Depends(get_db_session)`.
/// The dependency is one of `[rollback] managers`, or a function of the tree that rolls
/// back and re-raises (`except Exception: session.rollback(); raise`) or runs its body
/// inside such a manager. A handler that raises hands the error to it; one that swallows
/// leaves the session failed.
fn injected_sessions<'a>(
    resolver: &Resolver<'a>,
    config: &Config,
    file_index: usize,
    function: &'a Function,
    sessions: &Sessions,
) -> Vec<(String, String)> {
    let mut injected = Vec::new();
    // Only sessions are followed: an annotation naming a class (`tenant: Tenant`) would
    // have its module parsed for nothing.
    for param in function.params.iter().filter(|param| sessions.is_session(config, &param.name)) {
        let provider =
            (param.default.as_ref().and_then(dependency).map(|provider| (file_index, function, provider.clone()))).or_else(|| {
                param.annotation.as_deref().and_then(|annotation| annotated_dependency(resolver, file_index, function, annotation))
            });
        let Some((at, caller, provider)) = provider else { continue };
        if rolls_back(resolver, config, at, caller, &provider, 0) {
            injected.push((param.name.clone(), provider.dotted().unwrap_or_default()));
        }
    }
    injected
}

/// What `Depends(provider)` (or `Security(provider)`) in `expr` is given.
fn dependency(expr: &Expr) -> Option<&Expr> {
    let mut found = None;
    expr.walk(&mut |part| {
        if found.is_none()
            && let ExprKind::Call(call) = &part.kind
            && call.callee.dotted().is_some_and(|callee| matches!(last_segment(&callee), "Depends" | "Security"))
        {
            found = call.args.first();
        }
    });
    found
}

/// The dependency an annotation names, with the file and function to resolve it from:
/// `Annotated[Session, Depends(get_db)]` as written, or an alias of one assigned at the
/// top of this file or of the file it is imported from (`SessionDep`), directly or through
/// modules re-exporting it.
fn annotated_dependency<'a>(
    resolver: &Resolver<'a>,
    file_index: usize,
    function: &'a Function,
    annotation: &str,
) -> Option<(usize, &'a Function, Expr)> {
    if let Some((_, rest)) = annotation.split_once("Depends(").or_else(|| annotation.split_once("Security(")) {
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.').collect();
        return (!name.is_empty()).then(|| (file_index, function, dotted_expr(&name, function.span)));
    }
    if !annotation.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    // Followed through the modules re-exporting it (`from .core import DbSession` in a
    // package's `__init__.py`).
    let (mut at, mut name) = (file_index, annotation.to_string());
    for _ in 0..=DEPENDENCY_DEPTH {
        let facts = resolver.facts(at)?;
        let module = facts.module()?;
        if let Some(value) = top_level_value(module, &name) {
            return dependency(value).map(|provider| (at, module, provider.clone()));
        }
        (at, name) = resolver.project.resolve_import(at, facts, &name)?;
    }
    None
}

/// The value a module assigns to `name` at its top level.
fn top_level_value<'f>(module: &'f Function, name: &str) -> Option<&'f Expr> {
    module.body.statements.iter().rev().find_map(|stmt| match &stmt.kind {
        StmtKind::Assign { targets, value, .. } if targets.iter().any(|target| target.as_name() == Some(name)) => Some(value),
        _ => None,
    })
}

/// `a.b.c` as the expression that spells it.
fn dotted_expr(dotted: &str, span: Span) -> Expr {
    let mut parts = dotted.split('.');
    let first = parts.next().unwrap_or_default();
    parts.fold(Expr { span, kind: ExprKind::Name(first.to_string()) }, |object, name| Expr {
        span,
        kind: ExprKind::Attribute { object: Box::new(object), name: name.to_string() },
    })
}

/// True when the function or manager `provider` (resolved from `caller` in file
/// `file_index`) rolls its session back on an error that reaches it: one of `[rollback]
/// managers`, or a function of the tree with a handler that calls `.rollback()` and
/// re-raises, or that works inside a `with` of such a one.
fn rolls_back(resolver: &Resolver, config: &Config, file_index: usize, caller: &Function, provider: &Expr, depth: usize) -> bool {
    let Some(dotted) = provider.dotted() else { return false };
    if config.rollback.is_manager(&dotted) {
        return true;
    }
    if depth >= DEPENDENCY_DEPTH {
        return false;
    }
    let Some(Target { file_index: at, function, .. }) = resolver.resolve_call(file_index, caller, provider) else { return false };
    let mut found = false;
    function.body.visit(&mut |stmt| match &stmt.kind {
        StmtKind::Try { handlers, .. } if !found => {
            found = handlers.iter().any(|handler| handler.body.raises() && rolls_something_back(&handler.body));
        }
        StmtKind::With { items, .. } if !found => {
            found = items.iter().any(|item| {
                item.context.unawaited().as_call().is_some_and(|call| rolls_back(resolver, config, at, function, &call.callee, depth + 1))
            });
        }
        _ => {}
    });
    found
}

/// Whether `block` (Python, in `function`) ends in a call of a function of the tree that
/// raises on every path, as its last statement (`raise_conflict(name)`; an `async def` one
/// awaited, since calling it alone only makes a coroutine).
fn ends_in_raising_call(resolver: &Resolver, file_index: usize, function: &Function, block: &Block) -> bool {
    let Some(StmtKind::Expr(expression)) = block.statements.last().map(|stmt| &stmt.kind) else { return false };
    let Some(call) = expression.unawaited().as_call() else { return false };
    let awaited = matches!(expression.kind, ExprKind::Await(_));
    resolver
        .resolve_call(file_index, function, &call.callee)
        .is_some_and(|target| !target.function.is_module() && (awaited || !target.function.is_async) && target.function.body.raises())
}

/// Whether `block` calls a `.rollback()`, whatever it is called on.
fn rolls_something_back(block: &Block) -> bool {
    block.calls().iter().any(|(_, call, _)| matches!(&call.callee.kind, ExprKind::Attribute { name, .. } if name == "rollback"))
}

/// The guard bit of a call whose error is rolled back where it is made, in the records
/// [`rollback_calls`] makes.
pub const ROLLED_BACK: u8 = 1;

/// Every call in the functions of a Python file, for the OA004 sites handed over to the
/// caller ([`RollbackSite::handed_over`]): a call carries [`ROLLED_BACK`] when an error it
/// raises is rolled back around it: inside a `with` of a manager that rolls back
/// (`[rollback] managers`, or a function of the tree that rolls back and re-raises), in a
/// function decorated with one (Superset's `@transaction()`) or handed a session by a
/// dependency that rolls back, or in a `try` whose every handler rolls back. A call in a
/// `try` with a handler that neither rolls back nor raises stops the error there: it is
/// recorded on the module's body, whose callers are never asked about.
pub fn rollback_calls(project: &Project, config: &Config, file_index: usize, facts: &FileFacts) -> FileCalls {
    let resolver = Resolver::new(project, file_index, facts);
    let mut calls = Vec::new();
    for (index, function) in facts.functions.iter().enumerate().filter(|(_, function)| !function.is_module()) {
        // Decorators by name only: a decorator's body wraps the call, no `with` shows it.
        let decorated = function.decorators.iter().any(|decorator| {
            let callee = decorator.as_call().map_or(decorator, |call| &call.callee);
            callee.dotted().is_some_and(|dotted| config.rollback.is_manager(&dotted))
        });
        let sessions = sessions_of(config, function);
        let covered = decorated || !injected_sessions(&resolver, config, file_index, function, &sessions).is_empty();
        let recorder = CallRecorder { resolver: &resolver, config, file_index, function, caller: u32::try_from(index).unwrap_or(u32::MAX) };
        recorder.block(&function.body, covered, &mut calls);
    }
    FileCalls::of(project, facts, calls)
}

#[derive(Clone, Copy)]
struct CallRecorder<'r, 'a> {
    resolver: &'r Resolver<'a>,
    config: &'r Config,
    file_index: usize,
    function: &'a Function,
    caller: u32,
}

impl CallRecorder<'_, '_> {
    /// Records the calls of `block`; `covered`: an error raised here is rolled back.
    fn block(&self, block: &Block, covered: bool, calls: &mut Vec<CallRecord>) {
        for stmt in &block.statements {
            match &stmt.kind {
                StmtKind::FunctionDef(_) | StmtKind::ClassDef { .. } => continue,
                StmtKind::With { items, body, .. } => {
                    let managed =
                        items.iter().any(|item| {
                            !managed_sessions(self.config, item).is_empty()
                                || item.context.unawaited().as_call().is_some_and(|call| {
                                    rolls_back(self.resolver, self.config, self.file_index, self.function, &call.callee, 0)
                                })
                        });
                    for item in items {
                        self.expression(&item.context, covered, calls);
                    }
                    self.block(body, covered || managed, calls);
                }
                StmtKind::Try { body, handlers, else_block, finally_block } => {
                    let inside = if handlers.is_empty() {
                        Some(covered)
                    } else if handlers.iter().all(|handler| rolls_something_back(&handler.body)) {
                        Some(true)
                    } else if handlers.iter().all(|handler| {
                        handler.body.raises() || ends_in_raising_call(self.resolver, self.file_index, self.function, &handler.body)
                    }) {
                        Some(covered)
                    } else {
                        None
                    };
                    match inside {
                        Some(inside) => self.block(body, inside, calls),
                        // Stopped: recorded where no caller is asked about.
                        None => Self { caller: 0, ..*self }.block(body, false, calls),
                    }
                    for handler in handlers {
                        self.block(&handler.body, covered, calls);
                    }
                    for block in else_block.iter().chain(finally_block.iter()) {
                        self.block(block, covered, calls);
                    }
                }
                _ => {
                    for expression in stmt.expressions() {
                        self.expression(expression, covered, calls);
                    }
                    for nested in stmt.blocks() {
                        self.block(nested, covered, calls);
                    }
                }
            }
        }
    }

    fn expression(&self, expression: &Expr, covered: bool, calls: &mut Vec<CallRecord>) {
        expression.walk(&mut |part| {
            if let ExprKind::Call(call) = &part.kind
                && let Some(name) = callers::called_name(call)
            {
                let guarded = if covered { ROLLED_BACK } else { 0 };
                calls.push(CallRecord { name: callers::name_key(name), caller: self.caller, guarded, mentioned: true, count: 1 });
            }
        });
    }
}

/// A value of names, literals and classes being built (`Row(key=k)`): no other call, no
/// attribute read (a lazy load may send SQL), subscript or `await`.
fn is_plain(expr: &Expr) -> bool {
    !expr.any(&|part| match &part.kind {
        ExprKind::Call(call) => !call.callee.as_name().is_some_and(|name| name.starts_with(|first: char| first.is_ascii_uppercase())),
        ExprKind::Attribute { .. } | ExprKind::Subscript { .. } | ExprKind::Await(_) => true,
        _ => false,
    })
}

/// A statement that runs nothing of note: an assignment of a plain value ([`is_plain`]) to
/// names, `pass`, `break`, `continue`, a bare `return` or one of a plain value.
fn is_inert(stmt: &Stmt) -> bool {
    match &stmt.kind {
        StmtKind::Assign { targets, value, .. } => targets.iter().all(|target| target.as_name().is_some()) && is_plain(value),
        StmtKind::Return(value) => value.as_ref().is_none_or(is_plain),
        StmtKind::Break | StmtKind::Continue => true,
        StmtKind::Other(expressions) => expressions.iter().all(is_plain),
        _ => false,
    }
}

/// True when every statement of `block` starting at or after `at` passes `ok`, nested ones
/// included; a function definition is a statement too (its defaults and decorators run).
fn all_after(block: &Block, at: usize, ok: &dyn Fn(&Stmt) -> bool) -> bool {
    block.statements.iter().all(|stmt| (stmt.span.start_byte < at || ok(stmt)) && stmt.blocks().all(|nested| all_after(nested, at, ok)))
}

/// True when `block` binds `name` again: assigns it, or binds it by a `with` or a loop.
fn rebinds(block: &Block, name: &str) -> bool {
    !block.bindings(name).is_empty()
}

struct Checker<'c> {
    config: &'c Config,
    resolver: &'c Resolver<'c>,
    file_index: usize,
    language: Language,
    function: &'c Function,
    sessions: &'c Sessions,
    /// TypeScript's explicit transactions (Python and Rust go by `sessions`).
    transactions: &'c [Transaction],
    /// Parameters a dependency that rolls back hands over, each with the dependency.
    injected: &'c [(String, String)],
    /// The file's import statements, at any level.
    imports: &'c [Import],
    /// Whether a manager given a session closes the one it binds, as when it opens its own.
    given_closes: bool,
    /// The handlers reported when managers given a session close the one they bind, if the
    /// function has such a manager.
    flagged_when_closed: Option<Vec<Span>>,
}

/// The sessions the `with` statements of `function` bind from a manager given one, each
/// with the manager and the name given: (`session`, `get_async_db_context`, `db`).
fn given_managers(config: &Config, function: &Function) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    function.body.visit(&mut |stmt| {
        if let StmtKind::With { items, .. } = &stmt.kind {
            for item in items {
                let manager = item.context.unawaited().as_call().and_then(|call| call.callee.dotted());
                if let (Some((binding, given)), Some(manager)) = (given_session(config, item), manager) {
                    found.push((binding, manager, given));
                }
            }
        }
    });
    found
}

/// The sessions the `with` statements around a `try` undo when they are left.
#[derive(Clone, Default)]
struct Enclosing {
    /// Bound by a context manager that commits on success and rolls back on error
    /// (`with session_scope() as db:`, `with db.begin():`).
    managed: BTreeSet<String>,
    /// Opened by the `with` and closed when it is left, which rolls back what was not
    /// committed (`with SessionLocal() as db:`).
    closed: BTreeSet<String>,
    /// Those of `closed` whose `with` sits inside the innermost loop around the `try`, so
    /// that `break` and `continue` leave it too.
    closed_by_loop_exits: BTreeSet<String>,
}

/// A session write inside a `try`.
struct Write {
    session: String,
    /// The method called (`add`, `commit`).
    method: String,
    span: Span,
}

/// An explicit TypeScript transaction.
struct Transaction {
    /// The receiver or variable it is reached by, as in the facts (`self.queryRunner`).
    handle: String,
    /// Where it is opened: calls on `handle` before this are not inside it.
    opened_at: usize,
    /// The call rolling it back, as code: `queryRunner.rollbackTransaction()`.
    rollback_call: String,
}

/// A dotted name as TypeScript writes it: the frontend's `self` is `this`.
fn as_written(handle: &str) -> String {
    match handle.strip_prefix("self") {
        Some(rest) if rest.is_empty() || rest.starts_with('.') => format!("this{rest}"),
        _ => handle.to_string(),
    }
}

/// The transactions a function opens: `queryRunner.startTransaction()`,
/// `client.query('BEGIN')`, `const trx = await knex.transaction()`.
fn transactions(config: &Config, function: &Function) -> Vec<Transaction> {
    let rollback = &config.rollback;
    let mut found = Vec::new();
    function.body.visit(&mut |stmt| {
        if let StmtKind::Assign { targets, value, .. } = &stmt.kind
            && let [target] = targets.as_slice()
            && let Some(handle) = target.dotted()
            && let Some(call) = value.unawaited().as_call()
            && let ExprKind::Attribute { name, .. } = &call.callee.kind
            && let Some(method) = rollback.transaction_factories.get(name)
            // With a callback the library commits and rolls back by itself.
            && call.arguments().all(|arg| matches!(arg.kind, ExprKind::Dict(_)))
        {
            found.push(Transaction { rollback_call: format!("{}.{method}()", as_written(&handle)), handle, opened_at: stmt.span.end_byte });
        }
        for expression in stmt.expressions() {
            expression.walk(&mut |part| {
                let ExprKind::Call(call) = &part.kind else { return };
                let ExprKind::Attribute { object, name } = &call.callee.kind else { return };
                let Some(handle) = object.dotted() else { return };
                let rollback_call = if let Some(method) = rollback.transaction_methods.get(name) {
                    format!("{}.{method}()", as_written(&handle))
                } else if let Some(sql) = sql_text(config, call)
                    && let Some(statement) = rollback.transaction_statements.get(&sql)
                {
                    format!("{}.{name}('{statement}')", as_written(&handle))
                } else {
                    return;
                };
                found.push(Transaction { handle, opened_at: part.span.end_byte, rollback_call });
            });
        }
    });
    found
}

/// The SQL a `[rollback] sql_methods` call sends, upper case without a final `;`.
fn sql_text(config: &Config, call: &Call) -> Option<String> {
    let ExprKind::Attribute { name, .. } = &call.callee.kind else { return None };
    if !config.rollback.sql_methods.contains(name) {
        return None;
    }
    let ExprKind::String(sql) = &call.args.first()?.kind else { return None };
    Some(sql.trim().trim_end_matches(';').trim_end().to_uppercase())
}

impl Transaction {
    /// True when `call` acts on this transaction: its chain starts from it, or is handed
    /// it (`knex('t').transacting(trx).insert(row)`).
    fn is_on(&self, call: &Call) -> bool {
        let on_handle =
            |dotted: &str| dotted == self.handle || dotted.strip_prefix(self.handle.as_str()).is_some_and(|rest| rest.starts_with('.'));
        crate::callbacks::chain_root(&call.callee).is_some_and(|base| on_handle(&base))
            || call
                .callee
                .chained_calls()
                .any(|chained| chained.args.iter().any(|arg| arg.dotted().as_deref() == Some(self.handle.as_str())))
    }
}

impl Checker<'_> {
    /// The session a `with` item closes on the way out; with `given_closes`, also one bound
    /// from a manager given a session.
    fn closed_session(&self, item: &WithItem) -> Option<String> {
        let given = || given_session(self.config, item).map(|(binding, _)| binding);
        closed_session(self.config, item).or_else(|| self.given_closes.then(given).flatten())
    }

    /// `enclosing`: what the `with` statements around `block` undo.
    fn block(&self, block: &Block, enclosing: &Enclosing, sites: &mut Vec<RollbackSite>) {
        for stmt in &block.statements {
            match &stmt.kind {
                StmtKind::FunctionDef(_) | StmtKind::ClassDef { .. } => continue,
                StmtKind::With { items, body, .. } => {
                    let mut inner = enclosing.clone();
                    for item in items {
                        inner.managed.extend(managed_sessions(self.config, item));
                        let closed = self.closed_session(item).filter(|session| !rebinds(body, session));
                        inner.closed_by_loop_exits.extend(closed.clone());
                        inner.closed.extend(closed);
                    }
                    self.block(body, &inner, sites);
                    continue;
                }
                // `break` and `continue` of a loop inside the `with` stay inside it.
                StmtKind::Loop { .. } => {
                    let inner = Enclosing { closed_by_loop_exits: BTreeSet::new(), ..enclosing.clone() };
                    for nested in stmt.blocks() {
                        self.block(nested, &inner, sites);
                    }
                    continue;
                }
                StmtKind::Try { body, handlers, .. } => {
                    let writes = self.writes(body);
                    if let Some(first) = writes.first().filter(|_| !self.stages_only(body, &writes)) {
                        for handler in handlers {
                            if self.runs_before_writes(handler, body, first.span.end_byte) {
                                continue;
                            }
                            sites.push(self.site(handler, &writes, enclosing, stmt.span.end_byte));
                        }
                    }
                }
                _ => {}
            }
            for nested in stmt.blocks() {
                self.block(nested, enclosing, sites);
            }
        }
    }

    /// True when a `try` only stages rows in its sessions and then does nothing that could
    /// send SQL, so none has run on the session when a handler runs (Python): its writes are
    /// all `[rollback] unflushed_writes` (`db.add(row)`), none is inside a loop (the next
    /// pass's query would flush it), and every statement after the first is another such
    /// write or a plain assignment (`created += 1`), with no call, attribute read (a lazy
    /// load), subscript or `await` in it but a class being built (`db.add(Row(key=k))`).
    fn stages_only(&self, body: &Block, writes: &[Write]) -> bool {
        let unflushed = &self.config.rollback.unflushed_writes;
        let Some(first) = writes.first() else { return false };
        if self.language != Language::Python || !writes.iter().all(|write| unflushed.contains(&write.method)) {
            return false;
        }
        let mut in_loop = false;
        self.function.body.visit(&mut |stmt| {
            if matches!(stmt.kind, StmtKind::Loop { .. }) {
                in_loop |=
                    writes.iter().any(|write| stmt.span.start_byte <= write.span.start_byte && write.span.end_byte <= stmt.span.end_byte);
            }
        });
        !in_loop && all_after(body, first.span.end_byte, &|stmt| self.stages_harmlessly(stmt))
    }

    /// A statement that sends no SQL: an inert one ([`is_inert`]) or an `[rollback]
    /// unflushed_writes` call given only plain values.
    fn stages_harmlessly(&self, stmt: &Stmt) -> bool {
        is_inert(stmt)
            || matches!(&stmt.kind, StmtKind::Expr(expr) if expr.as_call().is_some_and(|call| {
                matches!(&call.callee.kind, ExprKind::Attribute { name, .. } if self.config.rollback.unflushed_writes.contains(name))
                    && call.arguments().all(is_plain)
            }))
    }

    /// The `with` statements of a `try` body that undo their session's writes before a
    /// handler of that `try` runs: a manager rolls them back (`with db.begin_nested():`,
    /// `async with session_scope() as s:`), a session the `with` opened is closed. Each
    /// with the session it undoes. A savepoint (`[rollback] savepoints`) left normally
    /// keeps its writes in the session's transaction: it undoes them only when nothing that
    /// can fail follows it in the `try` ([`is_inert`]), so that an error can only come from
    /// inside it. Nor does a
    /// `with` whose body binds its session's name again undo that session.
    fn undoing_withs<'b>(&self, body: &'b Block) -> Vec<(&'b Stmt, String)> {
        let followed = |with: &Stmt| !all_after(body, with.span.end_byte, &is_inert);
        let mut withs = Vec::new();
        body.visit(&mut |stmt| {
            if let StmtKind::With { items, body: inner, .. } = &stmt.kind {
                withs.push((stmt, items, inner));
            }
        });
        let mut undoing = Vec::new();
        for (stmt, items, inner) in withs {
            for item in items {
                let savepoint = item
                    .context
                    .unawaited()
                    .as_call()
                    .and_then(|call| call.callee.dotted())
                    .is_some_and(|callee| self.config.rollback.savepoints.iter().any(|method| method == last_segment(&callee)));
                if savepoint && followed(stmt) {
                    continue;
                }
                let sessions = managed_sessions(self.config, item).into_iter().chain(self.closed_session(item));
                undoing.extend(sessions.filter(|session| !rebinds(inner, session)).map(|session| (stmt, session)));
            }
        }
        undoing
    }

    /// Session writes (Python, Rust), or calls on an open transaction (TypeScript, the
    /// transaction's handle as `session`), that a handler of the `try` whose body is
    /// `block` finds undone: not those a `with` inside undoes on the way out.
    fn writes(&self, block: &Block) -> Vec<Write> {
        let undoing = self.undoing_withs(block);
        let undone = |write: &Write| {
            undoing.iter().any(|(with, session)| {
                *session == write.session && with.span.start_byte <= write.span.start_byte && write.span.end_byte <= with.span.end_byte
            })
        };
        let typescript = self.language == Language::TypeScript;
        let methods = if typescript { &self.config.rollback.transaction_writes } else { &self.config.rollback.writes };
        let mut writes: Vec<Write> = block
            .calls()
            .into_iter()
            .filter_map(|(_, call, expression)| {
                let ExprKind::Attribute { name, .. } = &call.callee.kind else { return None };
                if !methods.contains(name) {
                    return None;
                }
                if self.language == Language::Python
                    && self.config.rollback.statement_methods.contains(name)
                    && call.args.first().is_some_and(|statement| self.is_read_statement(statement, &mut Vec::new()))
                {
                    return None;
                }
                let session = if typescript {
                    self.transaction_at(call, expression.span.start_byte)?.handle.clone()
                } else {
                    self.sessions.written_session(self.config, call)?
                };
                Some(Write { session, method: name.clone(), span: expression.span })
            })
            .filter(|write| !undone(write))
            .collect();
        writes.sort_by_key(|write| write.span.start_byte);
        writes
    }

    /// A statement that only reads: a query builder of `[rollback] read_statements`
    /// however chained (`select(User).where(...)`), SQL starting with one of them
    /// (`text("SELECT 1")`), or a name every assignment of which is one (`stmt =
    /// select(...)`, then `stmt = stmt.offset(skip)`). `seen`: names being resolved.
    fn is_read_statement(&self, statement: &Expr, seen: &mut Vec<String>) -> bool {
        let reads = &self.config.rollback.read_statements;
        // `SELECT ... INTO t` creates a table.
        let reads_sql = |sql: &String| {
            sql.split_whitespace().next().is_some_and(|word| reads.iter().any(|read| read.eq_ignore_ascii_case(word)))
                && !sql.split_whitespace().any(|word| word.eq_ignore_ascii_case("into"))
        };
        let mut current = statement.unawaited();
        loop {
            match &current.kind {
                ExprKind::String(sql) | ExprKind::Interpolated { text: sql, .. } => return reads_sql(sql),
                ExprKind::Call(call) => {
                    let callee = call.callee.dotted();
                    let last = callee.as_deref().map(last_segment);
                    if last.is_some_and(|last| reads.iter().any(|read| read == last)) {
                        return true;
                    }
                    if last == Some("text") {
                        return matches!(call.args.first().map(|arg| &arg.kind),
                            Some(ExprKind::String(sql) | ExprKind::Interpolated { text: sql, .. }) if reads_sql(sql));
                    }
                    let ExprKind::Attribute { object, .. } = &call.callee.kind else { return false };
                    current = object.unawaited();
                }
                ExprKind::Name(name) => {
                    // A name refining itself (`stmt = stmt.limit(n)`): its other assignments decide.
                    if seen.iter().any(|being| being == name) {
                        return true;
                    }
                    seen.push(name.clone());
                    let values = crate::callbacks::assignments_to(self.function, name);
                    return !values.is_empty() && values.iter().all(|(_, value)| self.is_read_statement(value, seen));
                }
                _ => return false,
            }
        }
    }

    /// The transaction open at byte `at` that `call` acts on, the latest opened first.
    fn transaction_at(&self, call: &Call, at: usize) -> Option<&Transaction> {
        self.transactions
            .iter()
            .filter(|transaction| transaction.opened_at <= at && transaction.is_on(call))
            .max_by_key(|transaction| transaction.opened_at)
    }

    /// The sessions (or transactions) a handler rolls back: also the session of a savepoint
    /// or transaction it rolls back (`savepoint = session.begin_nested()`, then
    /// `savepoint.rollback()`).
    /// `first_write`: where the first write of the `try` starts.
    fn rolled_back(&self, handler: &Handler, first_write: usize) -> BTreeSet<String> {
        let mut rolled = self.rolled_back_handles(handler);
        if self.language == Language::Python {
            let sessions: Vec<String> = rolled.iter().filter_map(|handle| self.opened_on(handle, first_write)).collect();
            rolled.extend(sessions);
        }
        rolled
    }

    /// The session a name holds a transaction or savepoint of (`tx = conn.begin()`,
    /// `savepoint = session.begin_nested()`, `with db.begin_nested() as sp:`, `[rollback]
    /// managers` called on it): its only binding in the function, made before `first_write`
    /// (by a `with` still open there), so that it is open whenever the handler runs.
    fn opened_on(&self, handle: &str, first_write: usize) -> Option<String> {
        let [(stmt, Some(value))] = self.function.body.bindings(handle)[..] else { return None };
        let open_at_write = match stmt.kind {
            StmtKind::With { .. } => stmt.span.start_byte <= first_write && first_write < stmt.span.end_byte,
            _ => stmt.span.end_byte <= first_write,
        };
        if !open_at_write {
            return None;
        }
        let call = value.unawaited().as_call()?;
        let ExprKind::Attribute { object, name } = &call.callee.kind else { return None };
        self.config.rollback.managers.contains(name).then(|| object.dotted()).flatten()
    }

    /// The names whose rollback a handler calls.
    fn rolled_back_handles(&self, handler: &Handler) -> BTreeSet<String> {
        let rollback = &self.config.rollback;
        handler
            .body
            .calls()
            .into_iter()
            .filter_map(|(_, call, _)| match &call.callee.kind {
                ExprKind::Attribute { object, name } if self.language != Language::TypeScript => {
                    (name == "rollback").then(|| object.dotted()).flatten()
                }
                ExprKind::Attribute { object, name } => {
                    let by_method =
                        rollback.transaction_methods.values().chain(rollback.transaction_factories.values()).any(|method| method == name);
                    let by_sql = sql_text(self.config, call)
                        .is_some_and(|sql| rollback.transaction_statements.values().any(|statement| statement.eq_ignore_ascii_case(&sql)));
                    (by_method || by_sql).then(|| object.dotted()).flatten()
                }
                _ => None,
            })
            .collect()
    }

    /// What rolls `session` back, as the message says it.
    fn rollback_text(&self, session: &str) -> String {
        match self.transactions.iter().find(|transaction| transaction.handle == session) {
            Some(transaction) => transaction.rollback_call.clone(),
            None => format!("{session}.rollback()"),
        }
    }

    /// A handler that catches only errors the application raises itself, none of which
    /// is raised after the first write; or only a failed import (`ImportError`,
    /// `ModuleNotFoundError`) with no import statement or `import_module(...)` after it.
    fn runs_before_writes(&self, handler: &Handler, body: &Block, first_write_end: usize) -> bool {
        let import_error = |name: &str| matches!(last_segment(name), "ImportError" | "ModuleNotFoundError");
        if self.language == Language::Python && !handler.types.is_empty() && handler.types.iter().all(|name| import_error(name)) {
            let body_end = body.statements.last().map_or(0, |stmt| stmt.span.end_byte);
            let after = |span: &Span| span.start_byte > first_write_end && span.end_byte <= body_end;
            let imports_after = self.imports.iter().any(|import| after(&import.span))
                || body.calls().into_iter().any(|(_, call, expression)| {
                    after(&expression.span)
                        && call.callee.dotted().is_some_and(|callee| matches!(last_segment(&callee), "import_module" | "__import__"))
                });
            return !imports_after;
        }
        let early = |name: &str| self.config.rollback.early_errors.iter().any(|early| early == last_segment(name));
        if handler.types.is_empty() || !handler.types.iter().all(|name| early(name)) {
            return false;
        }
        let mut raised_after = false;
        body.visit(&mut |stmt| {
            if let StmtKind::Raise { exception: Some(exception), .. } = &stmt.kind
                && stmt.span.start_byte > first_write_end
            {
                let raised = exception.as_call().map(|call| &*call.callee).unwrap_or(exception);
                if raised.dotted().is_some_and(|name| handler.types.iter().any(|caught| last_segment(caught) == last_segment(&name))) {
                    raised_after = true;
                }
            }
        });
        !raised_after
    }

    fn site(&self, handler: &Handler, writes: &[Write], enclosing: &Enclosing, try_end: usize) -> RollbackSite {
        let written: BTreeSet<&str> = writes.iter().map(|write| write.session.as_str()).collect();
        let first_write = writes.first().map_or(handler.span.start_byte, |write| write.span.start_byte);
        let rolled_back = self.rolled_back(handler, first_write);
        // A handler ending in a call of a function that always raises raises too
        // (mlflow's `handle_resource_already_exist_error(...)`).
        let raises_by_call =
            self.language == Language::Python && ends_in_raising_call(self.resolver, self.file_index, self.function, &handler.body);
        let leaves = handler.body.leaves() || raises_by_call;
        let managed = &enclosing.managed;
        // Leaving the function leaves the `with` too, which closes the session it opened.
        let exits = handler.body.exits() || raises_by_call;
        // A manager that commits sees the error only when it is raised on: one swallowed
        // (`return`, `continue`) lets it commit the half-done work. A transaction scoped to
        // the function is rolled back however it is left.
        let raises = handler.body.raises() || raises_by_call;
        let migration = |session: &str| if self.language == Language::Python { migration_of(self.function, session) } else { None };
        let unsafe_session = written.iter().find(|session| {
            let rolled = rolled_back.contains(**session);
            let by_manager = managed.contains(**session) && if self.sessions.scoped().contains(**session) { leaves } else { raises };
            // A manager that commits is not merely closing (above).
            let leaves_with = exits || (leaves && enclosing.closed_by_loop_exits.contains(**session));
            let by_closing = enclosing.closed.contains(**session) && !managed.contains(**session) && leaves_with;
            // Alembic rolls back a migration an error leaves.
            let by_migration = raises && migration(session).is_some();
            !rolled && !by_manager && !by_closing && !by_migration
        });
        let Some(session) = unsafe_session else {
            return RollbackSite {
                span: handler.span,
                finding: None,
                session: None,
                rollback_call: None,
                handed_over: false,
                migration: None,
                loop_losing_passes: None,
            };
        };
        let migration = migration(session);
        let rollback_call = self.rollback_text(session);
        let shown = if self.language == Language::TypeScript { as_written(session) } else { session.to_string() };
        let first = writes.iter().find(|write| write.session == *session).map(|write| write.span).unwrap_or(handler.span);
        let caught = match (self.language, handler.types.is_empty()) {
            (Language::Rust, true) => format!("the `Err({})` handler", handler.name.as_deref().unwrap_or("_")),
            (Language::Rust, false) => format!("the `Err({})` handler", handler.types.join(" | ")),
            (Language::TypeScript, _) => match &handler.name {
                Some(name) => format!("`catch ({name})`"),
                None => "`catch`".to_string(),
            },
            (_, true) => "a bare `except`".to_string(),
            (_, false) => format!("`except {}`", handler.types.join(", ")),
        };
        let head =
            format!("{caught} in `{}` runs after a write to `{shown}` (line {})", self.function.qualified_name(), first.start.line + 1);
        let aftermath = if self.language == Language::TypeScript {
            "the transaction stays open on its connection, and whatever uses the connection next fails or commits half of it"
        } else {
            "the session stays in a failed transaction for whatever uses it next"
        };
        let commit_after = (!leaves).then(|| self.commit_after(session, try_end)).flatten();
        let mut related =
            vec![Related { file_index: self.file_index, line: first.start.line, message: format!("first write to `{shown}`") }];
        let injected_by = self.injected.iter().find(|(name, _)| name == session).map(|(_, provider)| provider);
        let spared = self.flagged_when_closed.as_ref().is_some_and(|flagged| !flagged.contains(&handler.span));
        let loop_losing = if self.language == Language::Python && migration.is_none() {
            loop_losing_passes(self.function, handler, session, &self.config.persistence.commits, exits)
        } else {
            None
        };
        let handed_back = if spared {
            given_managers(self.config, self.function)
                .into_iter()
                .find(|(binding, _, _)| binding == session)
                .map(|(_, manager, given)| (manager, given))
        } else {
            None
        };
        let message = if let Some(migration) = migration {
            let (held, nested) = match migration {
                Migration::Connection => ("on the migration's connection", "the `try` body"),
                Migration::BoundSession => ("in a session on the migration's connection", "each statement that may fail"),
            };
            format!(
                "{head} and swallows the error {held}: on PostgreSQL every later statement of the migration fails; run {nested} in a savepoint (`with {shown}.begin_nested():`), since `{rollback_call}` would undo the whole migration"
            )
        } else if let Some(provider) = injected_by {
            format!(
                "{head} and swallows the error without `{rollback_call}`: its dependency `{provider}` rolls back only an error that reaches it, and the failed session is used on; re-raise or roll back"
            )
        } else if let Some((manager, given)) = &handed_back {
            let how = if leaves { "leaves" } else { "swallows the error" };
            format!(
                "{head} and {how} without `{rollback_call}`: `{manager}` may hand back the `{given}` it was given, which then stays in a failed transaction for the caller (a session it opens itself, it closes)"
            )
        } else if managed.contains(*session) && !self.sessions.scoped().contains(*session) {
            format!(
                "{head} and swallows the error inside a context manager that commits: the failed unit of work is committed; re-raise or call `{rollback_call}`"
            )
        } else if let Some(commit) = commit_after {
            related.push(Related {
                file_index: self.file_index,
                line: commit.start.line,
                message: format!("`{shown}` committed after the error"),
            });
            format!(
                "{head}, swallows the error without `{rollback_call}`, and the function then commits (line {}): the worst case, a half-done unit of work is committed",
                commit.start.line + 1
            )
        } else if !leaves {
            format!("{head} and swallows the error without `{rollback_call}`: {aftermath}")
        } else {
            format!("{head} and leaves without `{rollback_call}`: {aftermath}")
        };
        let finding = Finding {
            rule: &RULE,
            file_index: self.file_index,
            span: handler.span,
            function: Some(self.function.qualified_name()),
            message,
            // Whether the session fails depends on which the manager binds.
            confidence: Some(if handed_back.is_some() { Confidence::Medium } else { Confidence::High }),
            // A savepoint around ORM commits is left to a person (see `fix`), as is one per
            // pass of a loop whose earlier passes a rollback would discard.
            fixable: migration != Some(Migration::BoundSession) && loop_losing.is_none(),
            related,
        };
        let rollback_call = (self.language == Language::TypeScript).then_some(rollback_call);
        let handed_over = self.language == Language::Python && raises && self.function.body.bindings(session).is_empty();
        RollbackSite {
            span: handler.span,
            finding: Some(finding),
            session: Some(shown),
            rollback_call,
            handed_over,
            migration,
            loop_losing_passes: loop_losing.map(|stmt| stmt.span.start.line),
        }
    }

    /// A commit of `session` after the `try` ending at byte `try_end`.
    fn commit_after(&self, session: &str, try_end: usize) -> Option<Span> {
        if self.language == Language::TypeScript {
            // `queryRunner.commitTransaction()`, `trx.commit()`, `client.query('COMMIT')`.
            return self.function.body.calls_on(session).into_iter().find_map(|(method, call, expression)| {
                let commits = method.to_lowercase().starts_with("commit") || sql_text(self.config, call).is_some_and(|sql| sql == "COMMIT");
                (commits && expression.span.start_byte >= try_end).then_some(expression.span)
            });
        }
        let commits = &self.config.persistence.commits;
        self.function.body.calls_on(session).into_iter().find_map(|(method, _, expression)| {
            (commits.iter().any(|commit| commit == method) && expression.span.start_byte >= try_end).then_some(expression.span)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{ExtractOptions, python};
    use crate::source::SourceFile;

    fn check(text: &str) -> Vec<RollbackSite> {
        let config = Config::defaults().expect("defaults");
        let facts = python::extract(text, ExtractOptions::default()).expect("parses");
        check_file(&alone("m.py", Language::Python, text), &config, 0, &facts)
    }

    /// A tree of one file.
    fn alone(path: &str, language: Language, text: &str) -> Project {
        tree_of(&[(path, text)], language)
    }

    /// A tree of the files `(path, text)`, all in `language`.
    fn tree_of(files: &[(&str, &str)], language: Language) -> Project {
        Project::new(files.iter().map(|(path, text)| SourceFile::new(path.to_string(), path.into(), language, text.to_string())).collect())
    }

    fn verdicts(text: &str) -> Vec<(usize, bool)> {
        check(text).iter().map(|site| (site.span.start.line + 1, site.finding.is_some())).collect()
    }

    #[test]
    fn handlers_after_writes_need_a_rollback() {
        let text = "def f(db: Session = Depends(get_db)):\n    try:\n        db.add(x)\n        db.commit()\n    except HTTPException:\n        raise\n    \
                    except Exception as e:\n        log(e)\n        raise HTTPException(500) from e\n\n\
                    def g(db):\n    try:\n        db.add(x)\n        db.commit()\n    except Exception:\n        db.rollback()\n        raise\n";
        assert_eq!(verdicts(text), vec![(7, true), (15, false)]);
    }

    #[test]
    fn the_prefilter_wants_a_write_on_a_session() {
        let config = Config::defaults().expect("defaults");
        let needs = |text: &str| may_have_sites(text, &config);
        // Writes on something no session: a set, a query builder's result.
        assert!(!needs("def f(seen):\n    try:\n        seen.add(1)\n    except E:\n        pass\n"));
        assert!(!needs("def f(q):\n    try:\n        q.filter(x).delete()\n    except E:\n        pass\n"));
        // Every file the rule finds a handler in passes, whatever binds the session.
        let with_sites = [
            "def f(db):\n    try:\n        db.merge(x)\n    except E:\n        log()\n",
            "def f(self):\n    try:\n        (self.session\n            .commit())\n    except E:\n        log()\n",
            "def f():\n    s = SessionLocal()\n    try:\n        s.merge(x)\n    except E:\n        log()\n",
            "def f(s: AsyncSession):\n    try:\n        s.merge(x)\n    except E:\n        log()\n",
            "def f():\n    with session_scope() as s:\n        try:\n            s.merge(x)\n        except E:\n            log()\n",
        ];
        for text in with_sites {
            assert!(check(text).iter().any(|site| site.finding.is_some()), "{text}");
            assert!(needs(text), "{text}");
        }
        // sqlx: the session is the first argument.
        assert!(needs("async fn f(pool: X) { match sqlx::query(q).execute(&mut *tx).await { Err(e) => {} Ok(_) => {} } }"));
        assert!(needs("async fn f(pool: X) { match sqlx::query(q).execute(&mut*tx).await { Err(e) => {} Ok(_) => {} } }"));
        assert!(needs("def f(x):\n    try:\n        x.execute(await conn)\n    except E:\n        pass\n"));
        // A keyword is stripped only as a word: `awaitdb` is a name, not `await db`.
        assert!(!needs("def f(x):\n    try:\n        x.execute(awaitdb)\n    except E:\n        pass\n"));
        assert!(!needs("fn f() { match q.execute(&mut *cursor) { Err(e) => {} Ok(_) => {} } }"));
    }

    #[test]
    fn an_except_before_any_write_needs_nothing() {
        assert!(verdicts("def f(db):\n    try:\n        data = parse()\n    except ValueError:\n        return None\n    db.add(data)\n    db.commit()\n").is_empty());
        assert!(
            verdicts("def f(items):\n    seen = set()\n    try:\n        seen.add(1)\n    except Exception:\n        pass\n").is_empty()
        );
    }

    #[test]
    fn executing_a_read_is_no_write() {
        let handler = |body: &str| {
            format!(
                "async def f(db: AsyncSession, user_id):\n    stmt = None\n    try:\n{body}    except Exception:\n        return None\n"
            )
        };
        // Open WebUI's and Airflow's reads: a `select(...)` however chained, SQL text starting
        // with SELECT, a name only ever bound to a read (refined by itself).
        for body in [
            "        result = await db.execute(select(Memory).filter_by(user_id=user_id).order_by(Memory.id))\n",
            "        db.execute(sa.select(User.settings)).fetchall()\n",
            "        db.execute(sa.text(\"select json_extract('{}', '$.a')\")).fetchone()\n",
            "        db.execute(\"SHOW search_path\")\n",
            // Langflow's migrations read SQLite's schema.
            "        db.execute(sa.text('PRAGMA table_info(\"file\")'))\n",
            // Superset's and mlflow's f-strings.
            "        db.execute(f'SELECT * FROM \"{url}\" LIMIT 1')\n",
            "        count = db.execute(text(f\"SELECT COUNT(*) FROM {table}\")).scalar()\n",
        ] {
            assert!(verdicts(&handler(body)).is_empty(), "{body}");
        }
        let refined = "async def f(db: AsyncSession, skip):\n    stmt = select(Skill)\n    if skip:\n        stmt = stmt.offset(skip)\n    try:\n        \
                       await db.execute(stmt)\n    except Exception:\n        return None\n";
        assert!(verdicts(refined).is_empty());
        // Writes: an UPDATE, a statement the function does not show, a read then a write, a
        // name also bound to an insert.
        for body in [
            "        db.execute(text(\"UPDATE t SET a = 1\"))\n",
            "        db.execute(build_statement())\n",
            "        await db.execute(select(Memory))\n        db.merge(row)\n",
        ] {
            assert_eq!(verdicts(&handler(body)).len(), 1, "{body}");
        }
        let rebound = "def f(db: Session, row):\n    stmt = select(T)\n    if row:\n        stmt = insert(T).values(row)\n    try:\n        \
                       db.execute(stmt)\n    except Exception:\n        pass\n";
        assert_eq!(verdicts(rebound), vec![(7, true)]);
    }

    #[test]
    fn an_http_client_named_session_is_no_database_session() {
        // Open WebUI: aiohttp's `session.delete(url)` is an HTTP request, bound here or in
        // `__init__`; a `requests.Session()` likewise.
        let bound_here = "async def f(url):\n    try:\n        async with aiohttp.ClientSession(trust_env=True) as session:\n            \
                          async with session.delete(f\"{url}/x\") as response:\n                data = await response.json()\n    \
                          except Exception as e:\n        log(e)\n";
        assert!(verdicts(bound_here).is_empty());
        let assigned =
            "def f(url):\n    session = requests.Session()\n    try:\n        session.delete(url)\n    except Exception:\n        pass\n";
        assert!(verdicts(assigned).is_empty());
        let in_init = "class Kernel:\n    def __init__(self):\n        self.session = aiohttp.ClientSession(base_url=URL)\n\n    \
                       async def close(self):\n        try:\n            await self.session.delete(\"api/kernels/1\")\n        \
                       except Exception:\n            pass\n";
        assert!(verdicts(in_init).is_empty());
        // SQLAlchemy's `db.Session(bind=...)` (Superset's migrations) is a database session,
        // and so is another class's `self.session`.
        let sqlalchemy = "def upgrade():\n    session = db.Session(bind=bind)\n    try:\n        session.commit()\n    except Exception as ex:\n        print(ex)\n";
        assert_eq!(verdicts(sqlalchemy), vec![(5, true)]);
        let other_class = format!(
            "{in_init}\nclass Store:\n    def save(self, row):\n        try:\n            self.session.merge(row)\n        except Exception:\n            pass\n"
        );
        assert_eq!(verdicts(&other_class), vec![(15, true)]);
    }

    #[test]
    fn managers_that_roll_back_cover_a_re_raise_but_not_a_swallow() {
        let text = "def f():\n    with get_db_session() as db:\n        try:\n            db.merge(x)\n        except Exception:\n            raise\n\n\
                    def g():\n    with get_db_session() as db:\n        try:\n            db.merge(x)\n        except Exception:\n            log()\n";
        assert_eq!(verdicts(text), vec![(5, false), (12, true)]);
        let message = check(text)[1].finding.as_ref().map(|finding| finding.message.clone()).unwrap_or_default();
        assert!(message.contains("inside a context manager that commits"), "{message}");
    }

    /// The sites of the first of `files` (path, text), the others in the tree with it.
    fn verdicts_in(files: &[(&str, &str)]) -> Vec<(usize, bool, String)> {
        let config = Config::defaults().expect("defaults");
        let facts = python::extract(files[0].1, ExtractOptions::default()).expect("parses");
        check_file(&tree_of(files, Language::Python), &config, 0, &facts)
            .into_iter()
            .map(|site| {
                let message = site.finding.as_ref().map(|finding| finding.message.clone()).unwrap_or_default();
                (site.span.start.line + 1, site.finding.is_some(), message)
            })
            .collect()
    }

    #[test]
    fn a_session_from_a_dependency_that_rolls_back_takes_a_raise_but_not_a_swallow() {
        // Airflow's: `SessionDep` -> `_get_session` -> `create_session`, which rolls back and
        // re-raises whatever reaches it.
        let session = "import contextlib\n@contextlib.contextmanager\ndef create_session(scoped=True):\n    session = Session()\n    \
                       try:\n        yield session\n        session.commit()\n    except Exception:\n        session.rollback()\n        \
                       raise\n    finally:\n        session.close()\n";
        let common = "from app.session import create_session\n\ndef _get_session():\n    with create_session(scoped=False) as session:\n        \
                      yield session\n\nSessionDep = Annotated[Session, Depends(_get_session, scope=\"function\")]\n";
        let routes = "from app.common import SessionDep\n\ndef delete(session: SessionDep):\n    try:\n        session.delete(row)\n        \
                      session.flush()\n    except Exception as e:\n        raise HTTPException(409) from e\n\n\
                      def quiet(session: SessionDep):\n    try:\n        session.merge(row)\n    except Exception:\n        log()\n";
        let found = verdicts_in(&[("app/routes.py", routes), ("app/common.py", common), ("app/session.py", session)]);
        assert_eq!(found.iter().map(|(line, finding, _)| (*line, *finding)).collect::<Vec<_>>(), vec![(7, false), (13, true)]);
        assert!(found[1].2.contains("its dependency `_get_session` rolls back only an error that reaches it"), "{}", found[1].2);
        // Written out in the annotation, or as the default.
        let inline = "def f(db: Annotated[Session, Depends(get_db_session)]):\n    try:\n        db.merge(x)\n    except Exception:\n        raise\n\n\
                      def g(db: Session = Depends(get_db_session)):\n    try:\n        db.merge(x)\n    except Exception:\n        raise\n";
        assert_eq!(verdicts(inline), vec![(4, false), (10, false)]);
        // A dependency that only closes the session hands the error to no rollback (FIELD-NOTES 15).
        let closing = "def get_db():\n    db = SessionLocal()\n    try:\n        yield db\n    finally:\n        db.close()\n\n\
                       def f(db: Session = Depends(get_db)):\n    try:\n        db.merge(x)\n    except Exception:\n        raise\n";
        assert_eq!(verdicts(closing), vec![(11, true)]);
        // An alias the tree cannot see into (imported from an installed package) is known by
        // the dependency's name only: Langflow's `DbSession` from lfx.
        let langflow = "from lfx.services.deps import injectable_session_scope\n\
                        DbSession = Annotated[AsyncSession, Depends(injectable_session_scope, scope=\"function\")]\n\n\
                        async def f(session: DbSession):\n    try:\n        session.add(row)\n        await session.commit()\n    \
                        except Exception as e:\n        raise HTTPException(500) from e\n";
        assert_eq!(verdicts(langflow), vec![(8, false)]);
    }

    #[test]
    fn calls_are_recorded_with_whether_what_they_raise_is_rolled_back() {
        let text = "@transaction()\ndef command(self):\n    self.unsubscribe(task)\n\n\
                    def job():\n    with get_db_session() as db:\n        remove(db)\n    remove(db)\n\n\
                    def lenient(db):\n    try:\n        remove(db)\n    except Conflict:\n        log()\n    \
                    try:\n        remove(db)\n    except Exception:\n        db.rollback()\n\n\
                    def remove(db):\n    db.merge(row)\n\n\
                    async def unsubscribe(self, task):\n    db.session.delete(task)\n";
        let config = Config::defaults().expect("defaults");
        let facts = python::extract(text, ExtractOptions::default()).expect("parses");
        let record = rollback_calls(&alone("m.py", Language::Python, text), &config, 0, &facts);
        let of = |name: &str| -> Vec<(u32, u8)> {
            record.calls.iter().filter(|call| call.name == callers::name_key(name)).map(|call| (call.caller, call.guarded)).collect()
        };
        // `command` is function 1, `job` 2, `lenient` 3; a swallowed call goes to the module (0).
        assert_eq!(of("unsubscribe"), vec![(1, ROLLED_BACK)], "under a decorator that rolls back");
        assert_eq!(of("remove"), vec![(0, 0), (2, 0), (2, ROLLED_BACK), (3, ROLLED_BACK)]);
        assert!(of("log").is_empty() && of("merge").is_empty(), "no function of the tree is called so: never asked about");
    }

    #[test]
    fn a_caller_handler_ending_in_a_raising_helper_hands_the_error_on() {
        let text = "def strict(db):\n    try:\n        archive(db)\n    except Conflict:\n        conflict(db)\n\n\
                    def loose(db):\n    try:\n        archive(db)\n    except Conflict:\n        note(db)\n\n\
                    def conflict(db):\n    raise Failed()\n\n\
                    def note(db):\n    log(db)\n\n\
                    def archive(db):\n    db.merge(row)\n";
        let config = Config::defaults().expect("defaults");
        let facts = python::extract(text, ExtractOptions::default()).expect("parses");
        let record = rollback_calls(&alone("m.py", Language::Python, text), &config, 0, &facts);
        let mut archive: Vec<u32> =
            record.calls.iter().filter(|call| call.name == callers::name_key("archive")).map(|call| call.caller).collect();
        archive.sort();
        // `strict` is function 1: its error goes on to its callers; `loose` swallows it, so its
        // call is recorded on the module (0), whose callers are never asked about.
        assert_eq!(archive, vec![0, 1]);
    }

    #[test]
    fn a_with_inside_the_try_undoes_its_writes_before_the_handler_runs() {
        // Langflow's, mlflow's and Airflow's savepoints (`begin_nested()` rolls the insert back
        // and the session goes on), a committing manager, a session the `with` opened and
        // closed. A savepoint followed by more of the `try` was released when the error
        // comes: its writes count too, the first at line 27.
        let text = "def f(conn):\n    for row in rows:\n        try:\n            with conn.begin_nested():\n                conn.execute(insert(t))\n        \
                    except IntegrityError:\n            continue\n\n\
                    async def g():\n    try:\n        async with session_scope() as session:\n            session.merge(x)\n    except Exception:\n        return None\n\n\
                    def h(engine):\n    try:\n        with Session(engine) as s:\n            s.merge(x)\n            s.commit()\n    except Exception:\n        log()\n\n\
                    def k(db):\n    try:\n        with db.begin_nested():\n            db.merge(x)\n        db.merge(y)\n    except Exception:\n        log()\n";
        assert_eq!(verdicts(text), vec![(29, true)]);
        let sites = check(text);
        let message = sites[0].finding.as_ref().map(|finding| finding.message.clone()).unwrap_or_default();
        assert!(message.contains("(line 27)"), "{message}");
    }

    #[test]
    fn a_manager_binding_a_session_it_was_not_given_closes_it() {
        // Prefect's `db.session_context()`, mlflow's `self.ManagedSessionMaker()`, Open
        // WebUI's `get_async_db()`; its `get_async_db_context(db)` may hand `db` back.
        let text = "async def f(db):\n    try:\n        async with db.session_context() as session:\n            await session.execute(update(T))\n            \
                    await session.commit()\n    except Exception:\n        handle()\n\n\
                    def g(self, row):\n    with self.ManagedSessionMaker(read_only=False) as session:\n        try:\n            session.merge(row)\n            \
                    session.flush()\n        except IntegrityError as e:\n            raise Conflict() from e\n\n\
                    async def h(db=None):\n    try:\n        async with get_async_db_context(db) as db:\n            await db.execute(delete(T))\n    \
                    except Exception:\n        return False\n";
        assert_eq!(verdicts(text), vec![(14, false), (21, true)]);
    }

    #[test]
    fn a_try_that_only_stages_rows_at_its_end_needs_nothing() {
        // Langflow's and Superset's: nothing runs after `add`, which sends no SQL.
        let staged = "def f(db, secret, task):\n    try:\n        payload = decrypt(secret)\n        task.credential = payload\n        \
                      db.add(Row(task=task))\n    except SecretError:\n        log()\n";
        assert!(verdicts(staged).is_empty());
        // A call after the `add` may fail with the row staged, a flush sends SQL.
        let called_after = "def f(db, row):\n    try:\n        db.add(row)\n        notify(row)\n    except Exception:\n        log()\n";
        assert_eq!(verdicts(called_after), vec![(5, true)]);
        let flushed = "def f(db, row):\n    try:\n        db.add(row)\n        db.flush()\n    except Exception:\n        log()\n";
        assert_eq!(verdicts(flushed), vec![(5, true)]);
    }

    #[test]
    fn rolling_back_a_savepoint_rolls_back_its_session() {
        // mlflow's and Open WebUI's savepoints around an insert that may collide.
        let text = "def f(session, row):\n    savepoint = session.begin_nested()\n    try:\n        session.add(row)\n        session.flush()\n    \
                    except IntegrityError:\n        savepoint.rollback()\n        return None\n\n\
                    def g(conn, row):\n    other = make()\n    try:\n        conn.execute(insert(t))\n    except Exception:\n        other.rollback()\n";
        assert_eq!(verdicts(text), vec![(6, false), (14, true)]);
    }

    #[test]
    fn undone_staged_and_savepointed_writes_are_judged_by_when_the_error_comes() {
        // Cases from a review, each checked against SQLAlchemy 2.1 on SQLite: all need a rollback.
        let cases = [
            // A savepoint released normally keeps its writes in the transaction.
            "def f(db, item):\n    try:\n        with db.begin_nested():\n            db.add(item)\n        notify(item)\n    except Exception:\n        log()\n    db.commit()\n",
            // Get-or-create in a loop: the next pass's query flushes the staged row.
            "def f(db, items):\n    for item in items:\n        try:\n            existing = db.query(Row).filter_by(key=item.key).first()\n            \
             if existing is None:\n                db.add(Row(key=item.key))\n        except IntegrityError:\n            continue\n    db.commit()\n",
            // After the `add`: a query iterated, a lazy load, a nested def's default.
            "def f(db, row, q):\n    try:\n        db.add(row)\n        for o in q:\n            seen(o)\n    except IntegrityError:\n        log()\n",
            "def f(db, row, parent):\n    try:\n        db.add(row)\n        first = parent.children[0]\n    except IntegrityError:\n        log()\n",
            "def f(db, row):\n    try:\n        db.add(row)\n        def cb(x=db.query(Row).count()):\n            return x\n    except IntegrityError:\n        log()\n",
            // A savepoint bound twice, or opened after the first write.
            "def f(db, item):\n    sp = None\n    try:\n        db.execute(update(T))\n        sp = db.begin_nested()\n        db.add(item)\n        db.flush()\n    \
             except IntegrityError:\n        sp.rollback()\n    db.commit()\n",
            "def f(db, item):\n    try:\n        db.execute(update(T))\n        sp = db.begin_nested()\n        db.add(item)\n        db.flush()\n    \
             except IntegrityError:\n        sp.rollback()\n    db.commit()\n",
            // A nested def after a released savepoint runs its decorator; a savepoint name a
            // loop binds again holds something else at the handler.
            "def f(db, item):\n    try:\n        with db.begin_nested():\n            db.add(item)\n        @register(db.scalar(select(func.count())))\n        \
             def cb():\n            pass\n    except Exception:\n        log()\n",
            "def f(db, item, sps):\n    sp = db.begin_nested()\n    for sp in sps:\n        pass\n    try:\n        db.add(item)\n        db.flush()\n    \
             except IntegrityError:\n        sp.rollback()\n",
            // A session bound to an outside connection: closing it leaves the connection's transaction.
            "def f(conn, item):\n    trans = conn.begin()\n    try:\n        with Session(bind=conn) as session:\n            session.merge(item)\n            \
             session.flush()\n    except Exception:\n        log()\n    trans.commit()\n",
            // `return` inside a committing manager lets it commit the half-done work.
            "def f(item):\n    with session_scope() as s:\n        try:\n            s.merge(item)\n            notify(item)\n        except Exception:\n            return None\n",
            // `SELECT ... INTO` creates a table.
            "def f(db, t):\n    try:\n        db.execute(text(f\"SELECT * INTO {t}_bak FROM {t}\"))\n    except Exception:\n        log()\n",
        ];
        for text in cases {
            assert!(check(text).iter().any(|site| site.finding.is_some()), "{text}");
        }
        // A savepoint followed only by `break` is the last thing that can fail (Langflow's
        // version retry loop); a savepoint bound once before the `try` is rolled back.
        let fine = [
            "async def f(session, entry):\n    for attempt in range(3):\n        try:\n            async with session.begin_nested():\n                \
             session.add(entry)\n                await session.flush()\n            break\n        except IntegrityError:\n            continue\n",
            "def f(db, item):\n    sp = db.begin_nested()\n    try:\n        db.add(item)\n        db.flush()\n    except IntegrityError:\n        sp.rollback()\n",
            "def f(db, item):\n    with db.begin_nested() as sp:\n        try:\n            db.add(item)\n            db.flush()\n        except IntegrityError:\n            \
             sp.rollback()\n    db.commit()\n",
        ];
        for text in fine {
            assert!(check(text).iter().all(|site| site.finding.is_none()), "{text}");
        }
    }

    #[test]
    fn a_session_a_manager_may_hand_back_is_reported_as_depending_on_it() {
        // Open WebUI: `get_async_db_context(db)` yields `db` when sessions are shared, or a
        // session of its own that it closes. Leaving the `with` is fine in the second case
        // only; going on inside it is not fine in either.
        let text = "async def f(db=None):\n    try:\n        async with get_async_db_context(db) as session:\n            \
                    await session.execute(delete(T))\n            await session.commit()\n    except Exception:\n        return False\n\n\
                    async def g(names, db=None):\n    async with get_async_db_context(db) as db:\n        for name in names:\n            \
                    try:\n                db.add(Group(name=name))\n                await db.commit()\n            except Exception:\n                \
                    continue\n";
        let found: Vec<(usize, Confidence, String)> = check(text)
            .into_iter()
            .filter_map(|site| site.finding)
            .map(|finding| (finding.span.start.line + 1, finding.confidence.unwrap(), finding.message))
            .collect();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!((found[0].0, found[0].1), (6, Confidence::Medium));
        assert!(
            found[0].2.ends_with(
                "and leaves without `session.rollback()`: `get_async_db_context` may hand back the `db` it was given, which then stays in a failed transaction for the caller (a session it opens itself, it closes)"
            ),
            "{}",
            found[0].2
        );
        assert_eq!((found[1].0, found[1].1), (15, Confidence::High));
        assert!(found[1].2.ends_with("the session stays in a failed transaction for whatever uses it next"), "{}", found[1].2);
    }

    #[test]
    fn a_rollback_that_would_discard_earlier_passes_is_left_to_a_person() {
        let text = "def f(db, rows):\n    for row in rows:\n        try:\n            db.add(row)\n            db.flush()\n        \
                    except Exception:\n            continue\n    db.commit()\n\n\
                    def g(db, rows):\n    for row in rows:\n        try:\n            db.add(row)\n            db.commit()\n        \
                    except Exception:\n            log(row)\n\n\
                    def h(rows):\n    for row in rows:\n        db = make_session()\n        try:\n            db.add(row)\n            \
                    db.flush()\n        except Exception:\n            continue\n\n\
                    def k(db, rows):\n    for row in rows:\n        try:\n            db.add(row)\n            db.flush()\n        \
                    except Exception:\n            return None\n";
        let found: Vec<(usize, Option<usize>, bool)> = check(text)
            .into_iter()
            .filter_map(|site| {
                let finding = site.finding?;
                Some((finding.span.start.line + 1, site.loop_losing_passes.map(|line| line + 1), finding.fixable))
            })
            .collect();
        // f goes on without committing; g commits each pass; h has a session per pass; k
        // returns.
        assert_eq!(found, vec![(6, Some(2), false), (15, None, true), (24, None, true), (32, None, true)]);
    }

    #[test]
    fn a_session_the_with_opened_is_closed_when_the_handler_leaves_the_function() {
        let text = "def f():\n    with SessionLocal() as db:\n        try:\n            db.add(x)\n            db.commit()\n        except Exception:\n            return None\n\n\
                    def g():\n    with SessionLocal() as db:\n        for x in xs:\n            try:\n                db.add(x)\n                db.commit()\n            \
                    except Exception:\n                continue\n\n\
                    def h():\n    for x in xs:\n        with SessionLocal() as db:\n            try:\n                db.add(x)\n                db.commit()\n            \
                    except Exception:\n                continue\n";
        // `continue` of a loop inside the `with` goes on with the failed session; `return`
        // closes it, and so does `continue` of a loop around the `with`.
        assert_eq!(verdicts(text), vec![(6, false), (15, true), (24, false)]);
    }

    #[test]
    fn swallowing_then_committing_is_the_worst_case() {
        let text = "def f(db: Session):\n    try:\n        db.add(x)\n        db.flush()\n        notify()\n    except Exception as e:\n        log(e)\n    db.commit()\n";
        let sites = check(text);
        let message = sites[0].finding.as_ref().map(|finding| finding.message.clone()).unwrap_or_default();
        assert!(message.contains("the worst case") && message.contains("line 8"), "{message}");
    }

    fn check_ts(text: &str) -> Vec<RollbackSite> {
        let config = Config::defaults().expect("defaults");
        let facts = crate::lang::typescript::extract(text, crate::lang::typescript::Dialect::TypeScript, ExtractOptions::default())
            .expect("parses");
        check_file(&alone("m.ts", Language::TypeScript, text), &config, 0, &facts)
    }

    /// (line, finding?, session, rollback call) per site.
    fn ts_verdicts(text: &str) -> Vec<(usize, bool, Option<String>, Option<String>)> {
        check_ts(text)
            .into_iter()
            .map(|site| (site.span.start.line + 1, site.finding.is_some(), site.session, site.rollback_call))
            .collect()
    }

    #[test]
    fn typeorm_query_runners_roll_back_with_rollback_transaction() {
        let text = "class S {\n  async f(row: Row) {\n    const qr = this.ds.createQueryRunner();\n    await qr.startTransaction();\n    try {\n      await qr.manager.save(row);\n      await qr.commitTransaction();\n    } catch (e) {\n      throw e;\n    } finally {\n      await qr.release();\n    }\n  }\n\
                    async g(row: Row) {\n    await this.runner.startTransaction();\n    try {\n      await this.runner.manager.save(row);\n    } catch (e) {\n      await this.runner.rollbackTransaction();\n      throw e;\n    }\n  }\n\
                    async h(row: Row) {\n    await this.runner.startTransaction();\n    try {\n      await this.runner.query('UPDATE t SET x = 1');\n    } catch {\n      log();\n    }\n  }\n}\n";
        assert_eq!(
            ts_verdicts(text),
            vec![
                (8, true, Some("qr".into()), Some("qr.rollbackTransaction()".into())),
                (18, false, None, None),
                (27, true, Some("this.runner".into()), Some("this.runner.rollbackTransaction()".into())),
            ]
        );
        let message = check_ts(text)[0].finding.as_ref().map(|finding| finding.message.clone()).unwrap_or_default();
        assert!(
            message.starts_with("`catch (e)` in `S.f` runs after a write to `qr` (line 6) and leaves without `qr.rollbackTransaction()`"),
            "{message}"
        );
    }

    #[test]
    fn pg_begin_and_knex_transactions_roll_back_their_own_way() {
        let text = "async function f(pool: Pool) {\n  const client = await pool.connect();\n  try {\n    await client.query('BEGIN');\n    await client.query('INSERT INTO t VALUES (1)');\n    await client.query('COMMIT');\n  } catch (e) {\n    throw e;\n  }\n}\n\
                    async function g(pool: Pool) {\n  const client = await pool.connect();\n  try {\n    await client.query('begin;');\n    await client.query('DELETE FROM t');\n  } catch (e) {\n    await client.query('ROLLBACK');\n    throw e;\n  }\n}\n\
                    async function h() {\n  const trx = await knex.transaction();\n  try {\n    await trx('t').where({ id: 1 }).del();\n    await knex('u').transacting(trx).insert({ id: 2 });\n  } catch (e) {\n    log(e);\n  }\n  await trx.commit();\n}\n";
        let verdicts = ts_verdicts(text);
        assert_eq!(
            verdicts,
            vec![
                (7, true, Some("client".into()), Some("client.query('ROLLBACK')".into())),
                (16, false, None, None),
                (26, true, Some("trx".into()), Some("trx.rollback()".into())),
            ]
        );
        let message = check_ts(text)[2].finding.as_ref().map(|finding| finding.message.clone()).unwrap_or_default();
        assert!(message.contains("the worst case") && message.contains("line 29"), "{message}");
    }

    #[test]
    fn self_committing_transactions_and_clients_need_nothing() {
        let text = "async function f() {\n  try {\n    await prisma.$transaction(async (tx) => {\n      await tx.token.delete({ where: { id } });\n    });\n  } catch (e) {\n    log(e);\n  }\n}\n\
                    async function g() {\n  await knex.transaction(async (trx) => {\n    try {\n      await trx('t').insert({ id: 1 });\n    } catch (e) {\n      throw e;\n    }\n  });\n}\n\
                    async function h(db: Db) {\n  try {\n    await db.delete(tokens);\n    await db.execute(sql);\n  } catch (e) {\n    log(e);\n  }\n}\n\
                    async function i(client: PoolClient) {\n  try {\n    await client.query('SELECT 1');\n  } catch (e) {\n    log(e);\n  }\n  await client.query('BEGIN');\n}\n";
        assert!(ts_verdicts(text).is_empty(), "{:?}", ts_verdicts(text));
    }

    #[test]
    fn python_sites_carry_no_rollback_call() {
        let text = "def f(db):\n    try:\n        db.merge(x)\n    except Exception:\n        raise\n";
        let sites = check(text);
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].session.as_deref(), Some("db"));
        assert_eq!(sites[0].rollback_call, None);
    }

    #[test]
    fn an_early_error_raised_after_the_write_needs_a_rollback() {
        let text = "def f(db):\n    try:\n        db.add(x)\n        if bad:\n            raise HTTPException(400)\n        db.commit()\n    except HTTPException:\n        raise\n";
        assert_eq!(verdicts(text), vec![(7, true)]);
    }

    #[test]
    fn a_migration_raises_to_alembic_and_swallows_into_a_savepoint() {
        let text = "\
def upgrade():
    conn = op.get_bind()
    bind = op.get_bind()
    session = Session(bind=bind)
    for row in rows:
        try:
            conn.execute(update(row))
        except Exception:
            continue
    try:
        conn.execute(update(1))
    except Exception:
        raise
    try:
        session.execute(update(2))
    except Exception:
        pass
";
        let sites = check(text);
        let found: Vec<(usize, Option<Migration>)> =
            sites.iter().filter(|site| site.finding.is_some()).map(|site| (site.span.start.line + 1, site.migration)).collect();
        assert_eq!(found, vec![(8, Some(Migration::Connection)), (16, Some(Migration::BoundSession))]);
        assert!(sites[0].finding.as_ref().is_some_and(|finding| finding.fixable && finding.message.contains("with conn.begin_nested():")));
        assert!(sites[2].finding.as_ref().is_some_and(|finding| !finding.fixable));
        // Outside a migration a swallow is the usual finding, with `rollback()` as the fix.
        let plain = check("def f(conn):\n    try:\n        conn.execute(update(1))\n    except Exception:\n        pass\n");
        assert_eq!(plain.iter().map(|site| site.migration).collect::<Vec<_>>(), vec![None]);
        assert!(plain[0].finding.as_ref().is_some_and(|finding| finding.message.contains("without `conn.rollback()`")));
    }

    #[test]
    fn a_handler_ending_in_a_call_that_always_raises_raises() {
        let text = "\
def conflict(name):
    if name:
        raise Conflict(name)
    raise Conflict('?')

def create(name):
    with SessionLocal() as db:
        try:
            db.add(Row(name))
            db.commit()
        except IntegrityError:
            conflict(name)

def create_quietly(name):
    with SessionLocal() as db:
        try:
            db.add(Row(name))
            db.commit()
        except IntegrityError:
            log(name)
        db.add(Other())
        db.commit()
";
        assert_eq!(verdicts(text), vec![(11, false), (19, true)]);
        // An `async def` helper raises only when awaited.
        let unawaited = text.replace("def conflict", "async def conflict");
        assert_eq!(verdicts(&unawaited), vec![(11, true), (19, true)]);
        let awaited = unawaited.replace("def create(", "async def create(").replace("            conflict(", "            await conflict(");
        assert_eq!(verdicts(&awaited), vec![(11, false), (19, true)]);
    }

    #[test]
    fn a_failed_import_is_raised_only_by_an_import() {
        let before =
            "def f(db):\n    try:\n        import extras\n        db.add(x)\n        db.commit()\n    except ImportError:\n        pass\n";
        assert_eq!(verdicts(before), vec![]);
        let after = "def f(db):\n    try:\n        db.add(x)\n        db.flush()\n        from extras import hook\n    except ModuleNotFoundError:\n        pass\n";
        assert_eq!(verdicts(after), vec![(6, true)]);
        let dynamic =
            "def f(db):\n    try:\n        db.add(x)\n        importlib.import_module(name)\n    except ImportError:\n        pass\n";
        assert_eq!(verdicts(dynamic), vec![(5, true)]);
    }
}
