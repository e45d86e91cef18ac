//! Python codemods: where each template goes, computed from the facts of the file.
//!
//! Every planner either returns the edits of one fix or the reason it cannot patch the
//! site safely; it never guesses. Imports and handler parameters are not edited here: a fix
//! lists what it needs and [`assemble`] adds each once per file, so fixes that are dropped
//! later take their imports with them.

use std::collections::{BTreeMap, BTreeSet};

use crate::callbacks::CallbackAnalysis;
use crate::facts::{Block, ExprKind, FileFacts, Function, Handler, Span, Stmt, StmtKind};
use crate::index::Project;

use super::edit::{Edit, Layout, indentation_at, line_start, next_line_start};
use super::locate::{
    GuardSite, awaits_method_of, check_binds, ensure_line_break, function_at, function_names, guard_site, handler_of, import_lines,
    is_commit, module_names, statement_on_line, statement_path,
};
use super::template::{ParamSpec, Template};
use super::{Planned, Templates};

/// Placeholder values of a template.
type Values = BTreeMap<&'static str, String>;

/// What the planners know besides the file: the project, the configuration's knowledge of
/// sessions, and the templates.
pub struct Context<'a> {
    pub project: &'a Project,
    pub file_index: usize,
    pub facts: &'a FileFacts,
    pub templates: &'a Templates,
    pub session_types: &'a [String],
    pub session_names: &'a [String],
    pub session_factories: &'a [String],
    /// Methods that commit a session (`[persistence] commits`).
    pub commits: &'a [String],
    pub helper_module: &'a str,
    pub sync_module: &'a str,
}

impl Context<'_> {
    fn text(&self) -> &str {
        self.project.files.get(self.file_index).map(|file| file.text.as_str()).unwrap_or("")
    }

    fn base_values(&self) -> BTreeMap<&'static str, String> {
        BTreeMap::from([("helper_module", self.helper_module.to_string()), ("sync_module", self.sync_module.to_string())])
    }
}

/// OA001: the guard before the statement that parses `receiver`'s body.
pub fn guard(context: &Context, call_span: Span, helper_available: Result<(), String>) -> Result<Planned, String> {
    let text = context.text();
    let GuardSite { stmt, receiver, .. } = guard_site(context.facts, text, call_span)?;
    let receiver_name = receiver.dotted().ok_or("the parse has no receiver to guard")?;
    let indent = indentation_at(text, stmt.span.start_byte).ok_or("the statement shares its line with another")?;
    helper_available?;
    let template = &context.templates.python_guard;
    let mut values = context.base_values();
    values.insert("response", receiver_name);
    let lines = template.render(&values).map_err(|error| error.to_string())?;
    let layout = Layout::of(text);
    let block = layout.block(indent, &lines);
    Ok(Planned {
        edits: vec![Edit::insert(line_start(text, stmt.span.start_byte), block)],
        imports: template.filled_imports(&values).map_err(|error| error.to_string())?,
        params: Vec::new(),
    })
}

/// OA004: `<session>.rollback()` first in the `except` handler at `handler_span`.
pub fn rollback(context: &Context, handler_span: Span, session: &str) -> Result<Planned, String> {
    let text = context.text();
    let HandlerAt { function, try_stmt, body, handler } = handler_at(context, handler_span)?;
    let first = handler.body.statements.first().ok_or("the handler has no body")?;
    if first.span.start.line == handler.span.start.line {
        return Err("the handler's body is on its `except` line".into());
    }
    let indent = indentation_at(text, first.span.start_byte).ok_or("the handler's first statement shares its line")?;
    let is_async = function.is_async
        && (function.params.iter().any(|param| param.name == session && param.annotation.as_deref().is_some_and(|a| a.contains("Async")))
            || awaits_method_of(&function.body, session));
    let mut values = context.base_values();
    values.insert("session", session.to_string());
    values.insert("await", if is_async { "await ".to_string() } else { String::new() });
    let layout = Layout::of(text);
    let mut edits = Vec::new();
    let mut imports = Vec::new();
    // A session the `try` binds (`async with get_db_context(db) as session:`) is unbound in
    // the handler when its binding failed: it is set to None before the `try`, and the
    // rollback is guarded. So is one rebinding a parameter that defaults to None.
    let template = match binding_before(function, try_stmt, body, session) {
        Before::Bound => &context.templates.python_rollback,
        Before::MaybeNone => &context.templates.python_rollback_if_bound,
        Before::Unbound => {
            let before = &context.templates.python_session_none;
            let try_indent = indentation_at(text, try_stmt.span.start_byte).ok_or("the `try` shares its line with another statement")?;
            let lines = before.render(&values).map_err(|error| error.to_string())?;
            edits.push(Edit::insert(line_start(text, try_stmt.span.start_byte), layout.block(try_indent, &lines)));
            imports.extend(before.filled_imports(&values).map_err(|error| error.to_string())?);
            &context.templates.python_rollback_if_bound
        }
    };
    let lines = template.render(&values).map_err(|error| error.to_string())?;
    edits.push(Edit::insert(line_start(text, first.span.start_byte), layout.block(indent, &lines)));
    imports.extend(template.filled_imports(&values).map_err(|error| error.to_string())?);
    Ok(Planned { edits, imports, params: Vec::new() })
}

/// What a session name the handler of `try_stmt` rolls back holds when the handler starts.
enum Before {
    /// A session: it is bound before the `try`, or it is an attribute or a name the function
    /// never binds (the module's or an enclosing function's).
    Bound,
    /// Maybe None: a parameter defaulting to None that the `try` binds
    /// (`async with get_db_context(db) as db:`).
    MaybeNone,
    /// Maybe nothing: only the `try` binds it.
    Unbound,
}

fn binding_before(function: &Function, try_stmt: &Stmt, body: &Block, session: &str) -> Before {
    if session.contains('.') || body.bindings(session).is_empty() {
        return Before::Bound;
    }
    if let Some(param) = function.params.iter().find(|param| param.name == session) {
        let defaults_to_none =
            param.default.as_ref().is_some_and(|default| matches!(&default.kind, ExprKind::Constant(value) if value == "None"));
        return if defaults_to_none { Before::MaybeNone } else { Before::Bound };
    }
    let bound_before = function.body.bindings(session).iter().any(|(stmt, _)| stmt.span.end_byte <= try_stmt.span.start_byte);
    if bound_before { Before::Bound } else { Before::Unbound }
}

/// An `except` handler of the file, with its function, its `try` statement and that
/// statement's body.
struct HandlerAt<'f> {
    function: &'f Function,
    try_stmt: &'f Stmt,
    body: &'f Block,
    handler: &'f Handler,
}

/// The handler at `handler_span`, found again in the facts.
fn handler_at<'f>(context: &Context<'f>, handler_span: Span) -> Result<HandlerAt<'f>, String> {
    let (_, function) = function_at(context.facts, handler_span).ok_or("no function holds the handler")?;
    let mut found = None;
    function.body.visit(&mut |stmt| {
        if let StmtKind::Try { body, handlers, .. } = &stmt.kind
            && let Some(handler) = handlers.iter().find(|handler| handler.span == handler_span)
        {
            found = Some(HandlerAt { function, try_stmt: stmt, body, handler });
        }
    });
    found.ok_or_else(|| "the handler is not where the report says".to_string())
}

/// OA004 in a migration: the `try` body holding the handler at `handler_span` nested under
/// a savepoint of `session` (`with conn.begin_nested():`), so that a failed statement undoes
/// only itself and the migration's transaction goes on. One insertion per line: the
/// savepoint's line before the body, and one indentation step before each of its lines but
/// blank ones and those inside a string literal, whose text must not change.
pub fn savepoint(context: &Context, handler_span: Span, session: &str) -> Result<Planned, String> {
    let text = context.text();
    let HandlerAt { function, try_stmt, body, .. } = handler_at(context, handler_span)?;
    let (Some(first), Some(last)) = (body.statements.first(), body.statements.last()) else {
        return Err("the `try` has no body".into());
    };
    if first.span.start.line == try_stmt.span.start.line {
        return Err("the `try` body is on its `try:` line".into());
    }
    let ends_transaction = body.calls_on(session).iter().any(|(method, _, _)| {
        context.commits.iter().any(|commit| commit == method) || matches!(*method, "rollback" | "begin" | "begin_nested")
    });
    if ends_transaction {
        return Err(format!(
            "the `try` body commits, rolls back or opens a transaction on `{session}`: nesting it in a savepoint changes what that does; fix it by hand"
        ));
    }
    let indent = indentation_at(text, first.span.start_byte).ok_or("the `try` body's first statement shares its line")?;
    let layout = Layout::of(text);
    let mut values = context.base_values();
    values.insert("session", session.to_string());
    let is_async = function.is_async && awaits_method_of(&function.body, session);
    values.insert("async", if is_async { "async ".to_string() } else { String::new() });
    let template = &context.templates.python_savepoint;
    let lines = template.render(&values).map_err(|error| error.to_string())?;
    if !lines.last().is_some_and(|(_, line)| line.trim_end().ends_with(':')) {
        return Err(format!("the template {} must end with the line the `try` body goes under (`...:`)", template.name));
    }
    let strings = multiline_strings(text)?;
    let start = line_start(text, first.span.start_byte);
    let end = next_line_start(text, last.span.end_byte);
    let mut edits = vec![Edit::insert(start, format!("{}{}", layout.block(indent, &lines), layout.indent_unit))];
    let mut at = next_line_start(text, start);
    while at < end {
        let line = &text[at..next_line_start(text, at)];
        let in_string = strings.iter().any(|(from, to)| *from < at && at < *to);
        if !line.trim().is_empty() && !in_string {
            edits.push(Edit::insert(at, layout.indent_unit.clone()));
        }
        at = next_line_start(text, at);
    }
    Ok(Planned { edits, imports: template.filled_imports(&values).map_err(|error| error.to_string())?, params: Vec::new() })
}

/// The byte ranges of the string literals of `text` that span lines.
fn multiline_strings(text: &str) -> Result<Vec<(usize, usize)>, String> {
    crate::lang::python::multiline_strings(text).map_err(|error| format!("cannot parse the file again: {error}"))
}

/// OA002: the persistence block (and the sync trigger) right after the exchange.
pub fn persist(context: &Context, callback: &CallbackAnalysis, provider: &str) -> Result<Planned, String> {
    let text = context.text();
    let (function_index, function) = handler_of(context.facts, callback)?;
    let hop = callback.exchange.as_ref().and_then(|chain| chain.first()).ok_or("no token exchange found in the handler")?;
    let stmt = statement_on_line(&function.body, hop.line).ok_or("the exchange is not in a statement of the handler")?;
    indentation_at(text, stmt.span.start_byte).ok_or("the exchange shares its line with another statement")?;
    let mut edits = Vec::new();
    let tokens = match &stmt.kind {
        StmtKind::Assign { targets, augmented: false, .. } if targets.len() == 1 => match &targets[0].kind {
            ExprKind::Name(name) => name.clone(),
            _ => return Err("the exchange's result is not assigned to a plain name".into()),
        },
        StmtKind::Expr(expression) if matches!(expression.unawaited().kind, ExprKind::Call(_)) => {
            if function_names(function).contains("token_data") {
                return Err("the exchange's result is dropped and `token_data` is already used".into());
            }
            edits.push(Edit::insert(stmt.span.start_byte, "token_data = "));
            "token_data".to_string()
        }
        _ => return Err("the exchange's result has no name to store (returned or nested in an expression)".into()),
    };
    // Outside a `try` whose handlers all leave: the block then runs only once the exchange
    // succeeded, and no handler of that `try` runs after its writes.
    let mut anchor = stmt;
    for outer in statement_path(&function.body, stmt.span) {
        if let StmtKind::Try { body, handlers, else_block: None, .. } = &outer.kind
            && body.statements.iter().any(|inner| inner.span.contains(&stmt.span))
            && !handlers.is_empty()
            && handlers.iter().all(|handler| handler.body.leaves())
            && !body.leaves()
        {
            anchor = outer;
            break;
        }
    }
    let indent = indentation_at(text, anchor.span.start_byte).ok_or("the exchange shares its line with another statement")?;
    let persist = &context.templates.python_persist;
    let sync = &context.templates.python_sync;
    if (persist.requires_async || sync.requires_async) && !function.is_async {
        return Err("the handler is not `async`: the sync trigger must be awaited".into());
    }
    let templates = [persist, sync];
    check_binds(function, &templates)?;
    let (mut values, params) = roles(context, function_index, function, anchor.span, &templates)?;
    values.insert("tokens", tokens);
    values.insert("provider", provider.to_string());
    let layout = Layout::of(text);
    let mut block = String::new();
    let mut imports = Vec::new();
    for template in templates {
        block.push_str(&layout.block(indent, &template.render(&values).map_err(|error| error.to_string())?));
        imports.extend(template.filled_imports(&values).map_err(|error| error.to_string())?);
    }
    edits.push(Edit::insert(next_line_start(text, anchor.span.end_byte), ensure_line_break(text, anchor.span.end_byte, &layout, block)));
    Ok(Planned { edits, imports, params })
}

/// OA003: the sync trigger after the commit that follows the persistence call.
pub fn sync(context: &Context, callback: &CallbackAnalysis, provider: &str) -> Result<Planned, String> {
    let text = context.text();
    let (function_index, function) = handler_of(context.facts, callback)?;
    let hop = callback.persistence.as_ref().and_then(|chain| chain.first()).ok_or("no persistence found in the handler")?;
    let stmt = statement_on_line(&function.body, hop.line).ok_or("the persistence call is not in a statement of the handler")?;
    // After the commit of the unit of work the write belongs to: the first commit after the
    // write in its block or an enclosing one, innermost first.
    let mut blocks = vec![&function.body];
    for outer in statement_path(&function.body, stmt.span) {
        if let Some(inner) = outer.blocks().find(|inner| inner.statements.iter().any(|nested| nested.span.contains(&stmt.span))) {
            blocks.push(inner);
        }
    }
    let anchor = blocks
        .iter()
        .rev()
        .find_map(|block| {
            block
                .statements
                .iter()
                .filter(|later| later.span.start_byte >= stmt.span.start_byte)
                .find(|later| is_commit(later, context.commits))
        })
        .unwrap_or(stmt);
    let indent = indentation_at(text, anchor.span.start_byte).ok_or("the persistence call shares its line with another statement")?;
    let template = &context.templates.python_sync;
    if template.requires_async && !function.is_async {
        return Err("the handler is not `async`: the sync trigger must be awaited".into());
    }
    check_binds(function, &[template])?;
    let (mut values, params) = roles(context, function_index, function, anchor.span, &[template])?;
    values.insert("provider", provider.to_string());
    let layout = Layout::of(text);
    let lines = template.render(&values).map_err(|error| error.to_string())?;
    let block = layout.block(indent, &lines);
    Ok(Planned {
        edits: vec![Edit::insert(
            next_line_start(text, anchor.span.end_byte),
            ensure_line_break(text, anchor.span.end_byte, &layout, block),
        )],
        imports: template.filled_imports(&values).map_err(|error| error.to_string())?,
        params,
    })
}

/// The edits that add each needed import and handler parameter once, for fixes accepted
/// in one file.
pub fn assemble(text: &str, facts: &FileFacts, planned: &[&Planned]) -> Vec<Edit> {
    let layout = Layout::of(text);
    let mut edits = Vec::new();
    // Parameters, per function, in the order the fixes asked for them.
    let mut by_function: BTreeMap<usize, Vec<&ParamSpec>> = BTreeMap::new();
    for fix in planned {
        for (function_index, param) in &fix.params {
            let list = by_function.entry(*function_index).or_default();
            if !list.iter().any(|known| known.name() == param.name()) {
                list.push(param);
            }
        }
    }
    let mut imports: Vec<String> = Vec::new();
    for (function_index, params) in &by_function {
        let Some(function) = facts.functions.get(*function_index) else { continue };
        let declarations: Vec<&str> = params.iter().map(|param| param.declaration.as_str()).collect();
        edits.extend(parameter_edits(text, function, &declarations, &layout));
        imports.extend(params.iter().flat_map(|param| param.imports.iter().cloned()));
    }
    imports.extend(planned.iter().flat_map(|fix| fix.imports.iter().cloned()));
    edits.extend(import_edits(text, facts, &imports, &layout));
    edits
}

// ----- imports ------------------------------------------------------------------------

/// The edits adding the imports whose names the module does not bind yet: appended to a
/// one-line `from m import ...` of the same module, else on new lines after the last
/// top-level import (or before the first statement after the docstring).
fn import_edits(text: &str, facts: &FileFacts, imports: &[String], layout: &Layout) -> Vec<Edit> {
    let mut bound = module_names(facts);
    // `from m import a, b` lines by module, in first-seen order; `import m` lines as they are.
    let mut order: Vec<String> = Vec::new();
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for import in imports {
        if let Some(rest) = import.strip_prefix("from ") {
            let Some((module, list)) = rest.split_once(" import ") else { continue };
            for name in list.split(',').map(str::trim).filter(|name| !name.is_empty()) {
                let alias = name.rsplit(" as ").next().unwrap_or(name).trim().to_string();
                if bound.insert(alias) {
                    if !names.contains_key(module) {
                        order.push(module.to_string());
                    }
                    names.entry(module.to_string()).or_default().push(name.to_string());
                }
            }
        } else if let Some(module) = import.strip_prefix("import ") {
            let alias = module.split(" as ").last().unwrap_or(module).split('.').next().unwrap_or(module).trim().to_string();
            if bound.insert(alias) {
                order.push(format!("import {module}"));
            }
        }
    }
    let mut edits = Vec::new();
    let mut lines = String::new();
    for entry in order {
        match names.get(&entry) {
            Some(list) => match extendable_import(text, facts, &entry) {
                // `from m import a` already there: `from m import a, b`.
                Some(end) => edits.push(Edit::insert(end, format!(", {}", list.join(", ")))),
                None => lines.push_str(&format!("from {entry} import {}{}", list.join(", "), layout.newline)),
            },
            None => lines.push_str(&format!("{entry}{}", layout.newline)),
        }
    }
    if lines.is_empty() {
        return edits;
    }
    edits.push(import_lines(text, facts, layout, lines));
    edits
}

/// The end of a top-level `from module import a, b` written on one line, with no
/// parentheses, continuation, comment or `*`: where more names can be appended.
fn extendable_import(text: &str, facts: &FileFacts, module: &str) -> Option<usize> {
    facts
        .imports
        .iter()
        .filter(|import| import.module == module && import.name.as_deref().is_some_and(|name| name != "*"))
        .filter(|import| indentation_at(text, import.span.start_byte) == Some(""))
        .find(|import| {
            let statement = text.get(import.span.start_byte..import.span.end_byte).unwrap_or("");
            let rest = text.get(import.span.end_byte..next_line_start(text, import.span.end_byte)).unwrap_or("");
            !statement.contains(['(', '\\', '\n', ';', '#']) && rest.trim().is_empty()
        })
        .map(|import| import.span.end_byte)
}

// ----- handler parameters -------------------------------------------------------------

/// The edits adding `declarations` to `function`'s parameter list, in the list's style
/// (one line, or one parameter per line with or without a trailing comma).
fn parameter_edits(text: &str, function: &Function, declarations: &[&str], layout: &Layout) -> Vec<Edit> {
    if declarations.is_empty() {
        return Vec::new();
    }
    let Some(open) = text.get(function.name_span.end_byte..).and_then(|after| after.find('(')).map(|at| function.name_span.end_byte + at)
    else {
        return Vec::new();
    };
    // A `**kwargs` parameter must stay last.
    let kwargs = function.params.iter().find(|param| text.get(param.span.start_byte..).is_some_and(|rest| rest.starts_with("**")));
    let positional: Vec<_> = function.params.iter().filter(|param| kwargs.is_none_or(|kwargs| !std::ptr::eq(*param, kwargs))).collect();
    let Some(last) = positional.last() else {
        // `def f():` or `def f(**kwargs):`.
        let joined = declarations.join(", ");
        return match kwargs {
            Some(kwargs) => vec![Edit::insert(kwargs.span.start_byte, format!("{joined}, "))],
            None => vec![Edit::insert(open + 1, joined)],
        };
    };
    let first = positional.first().map(|param| param.span.start_byte).unwrap_or(last.span.start_byte);
    let one_per_line = text.get(open..first).is_some_and(|between| between.contains('\n'));
    if let Some(kwargs) = kwargs {
        let separator = if one_per_line {
            let indent = indentation_at(text, kwargs.span.start_byte).unwrap_or("    ");
            format!(",{}{indent}", layout.newline)
        } else {
            ", ".to_string()
        };
        let joined = declarations.join(&separator);
        return vec![Edit::insert(kwargs.span.start_byte, format!("{joined}{separator}"))];
    }
    let after = text.get(last.span.end_byte..).unwrap_or("");
    let comma = after.trim_start_matches([' ', '\t']).starts_with(',').then(|| after.find(',')).flatten();
    let end_of_last = comma.map_or(last.span.end_byte, |at| last.span.end_byte + at + 1);
    let line_end = next_line_start(text, end_of_last);
    // New lines go before the closing parenthesis only when it starts a line of its own.
    let closing_on_line = text.get(end_of_last..line_end).is_some_and(|rest| rest.contains(')'));
    if !one_per_line || closing_on_line {
        return vec![match comma {
            Some(_) => Edit::insert(end_of_last, format!(" {},", declarations.join(", "))),
            None => Edit::insert(last.span.end_byte, format!(", {}", declarations.join(", "))),
        }];
    }
    let indent = indentation_at(text, last.span.start_byte).unwrap_or("    ");
    let lines: String = declarations.iter().map(|declaration| format!("{indent}{declaration},{}", layout.newline)).collect();
    let mut edits = Vec::new();
    if comma.is_none() {
        edits.push(Edit::insert(last.span.end_byte, ","));
    }
    edits.push(Edit::insert(line_end, lines));
    edits
}

/// The value of every role the templates read, and the parameters to add for roles the
/// handler does not have.
fn roles(
    context: &Context,
    function_index: usize,
    function: &Function,
    at: Span,
    templates: &[&Template],
) -> Result<(Values, Vec<(usize, ParamSpec)>), String> {
    let mut values = context.base_values();
    let mut params = Vec::new();
    let mut seen = BTreeSet::new();
    for spec in templates.iter().flat_map(|template| template.params.iter()) {
        if !seen.insert(spec.role.clone()) {
            continue;
        }
        let role: &'static str = match spec.role.as_str() {
            "session" => "session",
            "tenant" => "tenant",
            "user" => "user",
            other => return Err(format!("template parameter role `{other}` is not one of session, tenant, user")),
        };
        let existing = function.params.iter().find(|param| {
            param.name == spec.name()
                || param.annotation.as_deref().and_then(|annotation| annotation.rsplit('.').next()).is_some_and(|annotation| {
                    Some(annotation) == spec.annotation()
                        || (role == "session" && context.session_types.iter().any(|known| known == annotation))
                })
                || (role == "session"
                    && param.annotation.is_none()
                    && param
                        .default
                        .as_ref()
                        .is_some_and(|default| default.names().iter().any(|name| context.session_factories.iter().any(|f| f == name))))
        });
        let name = match existing {
            Some(param) => param.name.clone(),
            None => match (role == "session").then(|| session_in_scope(context, &function.body, at)).flatten() {
                Some(name) => name,
                None => {
                    if function_names(function).contains(spec.name()) {
                        return Err(format!("the handler has no `{role}` parameter and already uses the name `{}`", spec.name()));
                    }
                    params.push((function_index, spec.clone()));
                    spec.name().to_string()
                }
            },
        };
        if role == "session"
            && function.params.iter().any(|param| param.name == name && param.annotation.as_deref().is_some_and(|a| a.contains("Async")))
        {
            return Err(format!("`{name}` is an async session; the template is written for a synchronous one"));
        }
        values.insert(role, name);
    }
    if !params.is_empty() && !context.facts.imports.iter().any(|import| import.module == "fastapi" || import.module.starts_with("fastapi."))
    {
        return Err("the handler is not a FastAPI route: its parameters cannot be injected with `Depends`".into());
    }
    Ok((values, params))
}

/// A session bound by an enclosing `with get_db_session() as db:` around `at`.
fn session_in_scope(context: &Context, body: &Block, at: Span) -> Option<String> {
    let mut found = None;
    body.visit(&mut |stmt| {
        if let StmtKind::With { items, body, .. } = &stmt.kind
            && stmt.span.contains(&at)
            && body.statements.iter().any(|inner| inner.span.start_byte <= at.start_byte)
        {
            for item in items {
                let factory = item.context.unawaited().as_call().and_then(|call| call.callee.dotted());
                let is_session = factory.is_some_and(|factory| {
                    let last = factory.rsplit('.').next().unwrap_or(&factory).to_string();
                    context.session_factories.contains(&last)
                });
                if is_session && let Some(ExprKind::Name(name)) = item.binding.as_ref().map(|binding| &binding.kind) {
                    found = Some(name.clone());
                }
            }
        }
    });
    found.or_else(|| {
        let mut named = None;
        body.visit(&mut |stmt| {
            if let StmtKind::Assign { targets, .. } = &stmt.kind
                && stmt.span.end_byte <= at.start_byte
            {
                for name in targets.iter().flat_map(|target| target.bound_names()) {
                    if context.session_names.iter().any(|known| known == name) {
                        named = Some(name.to_string());
                    }
                }
            }
        });
        named
    })
}
