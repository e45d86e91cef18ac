//! Where a fix goes: finding statements, calls and handlers in the facts of a file. The
//! facts are the same for every language, so the planners of each language share these.

use std::collections::BTreeSet;

use crate::callbacks::CallbackAnalysis;
use crate::facts::{Block, Expr, ExprKind, FileFacts, Function, Span, Stmt, StmtKind};

use super::edit::{Edit, Layout, indentation_at, line_start, next_line_start};
use super::template::Template;

/// The innermost function (not the module) holding `span`, with its index in the facts.
pub fn function_at(facts: &FileFacts, span: Span) -> Option<(usize, &Function)> {
    facts
        .functions
        .iter()
        .enumerate()
        .filter(|(_, function)| !function.is_module() && function.span.contains(&span))
        .min_by_key(|(_, function)| function.span.end_byte - function.span.start_byte)
}

/// The statements holding `span`, outermost first (not entering nested functions).
pub fn statement_path(block: &Block, span: Span) -> Vec<&Stmt> {
    let mut path = Vec::new();
    let mut current = Some(block);
    while let Some(block) = current.take() {
        let Some(stmt) = block.statements.iter().find(|stmt| stmt.span.contains(&span)) else { break };
        path.push(stmt);
        current = stmt.blocks().find(|inner| inner.statements.iter().any(|nested| nested.span.contains(&span)));
    }
    path
}

/// The innermost simple statement starting on 0-based `line`, or holding it.
pub fn statement_on_line(body: &Block, line: usize) -> Option<&Stmt> {
    let mut best: Option<&Stmt> = None;
    body.visit(&mut |stmt| {
        let simple = matches!(stmt.kind, StmtKind::Assign { .. } | StmtKind::Expr(_) | StmtKind::Return(_));
        if simple && stmt.span.start.line <= line && line <= stmt.span.end.line {
            best = Some(stmt);
        }
    });
    best
}

pub fn find_call(stmt: &Stmt, span: Span) -> Option<&crate::facts::Expr> {
    let mut found = None;
    for expression in stmt.expressions() {
        expression.walk(&mut |part| {
            if part.span == span && matches!(part.kind, ExprKind::Call(_)) {
                found = Some(part);
            }
        });
    }
    found
}

pub fn awaits_method_of(body: &Block, object: &str) -> bool {
    let mut found = false;
    body.visit(&mut |stmt| {
        for expression in stmt.expressions() {
            expression.walk(&mut |part| {
                if let ExprKind::Await(inner) = &part.kind
                    && let ExprKind::Call(call) = &inner.kind
                    && let ExprKind::Attribute { object: receiver, .. } = &call.callee.kind
                    && receiver.dotted().as_deref() == Some(object)
                {
                    found = true;
                }
            });
        }
    });
    found
}

pub fn handler_of<'a>(facts: &'a FileFacts, callback: &CallbackAnalysis) -> Result<(usize, &'a Function), String> {
    facts
        .functions
        .iter()
        .enumerate()
        .find(|(_, function)| function.name_span == callback.span)
        .ok_or_else(|| format!("the handler `{}` is not where the report says", callback.function))
}

/// Every name a function's parameters and body mention.
pub fn function_names(function: &Function) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = function.params.iter().map(|param| param.name.clone()).collect();
    function.body.visit(&mut |stmt| {
        for expression in stmt.expressions() {
            names.extend(expression.names().into_iter().map(str::to_string));
        }
        if let StmtKind::Try { handlers, .. } = &stmt.kind {
            names.extend(handlers.iter().filter_map(|handler| handler.name.clone()));
        }
    });
    names
}

pub fn check_binds(function: &Function, templates: &[&Template]) -> Result<(), String> {
    let names = function_names(function);
    for template in templates {
        if let Some(name) = template.binds.iter().find(|name| names.contains(*name)) {
            return Err(format!("the handler already uses `{name}`, which the inserted code assigns"));
        }
    }
    Ok(())
}

/// `block` preceded by a line break when the statement ends the file without one.
pub fn ensure_line_break(text: &str, end: usize, layout: &Layout, block: String) -> String {
    if next_line_start(text, end) == text.len() && !text.ends_with('\n') { format!("{}{block}", layout.newline) } else { block }
}

pub fn snippet(text: &str, span: Span) -> String {
    let collapsed = crate::scan::normalized_snippet(text.get(span.start_byte..span.end_byte).unwrap_or(""));
    if collapsed.chars().count() > 60 { format!("{}...", collapsed.chars().take(57).collect::<String>()) } else { collapsed }
}

/// A statement that is a call of a commit method (`[persistence] commits`).
pub fn is_commit(stmt: &Stmt, commits: &[String]) -> bool {
    matches!(&stmt.kind, StmtKind::Expr(expression)
        if matches!(&expression.unawaited().kind, ExprKind::Call(call)
            if matches!(&call.callee.kind, ExprKind::Attribute { name, .. } if commits.contains(name))))
}

/// Where an OA001 guard goes: the statement holding the parse, in a function.
pub struct GuardSite<'a> {
    pub function_index: usize,
    pub function: &'a Function,
    pub stmt: &'a Stmt,
    /// The response the parse reads (`response` in `response.json()`), `await` removed.
    pub receiver: &'a Expr,
}

/// The statement a guard for the parse at `call_span` goes before, or why none can: the
/// parse must read a named response, in a statement a guard can precede (not a condition,
/// loop header or `with`), outside a lambda, comprehension, conditional or `and`/`or`,
/// in a function.
pub fn guard_site<'a>(facts: &'a FileFacts, text: &str, call_span: Span) -> Result<GuardSite<'a>, String> {
    let (function_index, function) = function_at(facts, call_span)
        .map(|(index, function)| (Some(index), function))
        .or_else(|| facts.module().map(|module| (None, module)))
        .ok_or("no function holds the call")?;
    let path = statement_path(&function.body, call_span);
    let stmt = *path.last().ok_or("the call is not inside a statement")?;
    let call = find_call(stmt, call_span).ok_or("the call is not where the report says")?;
    let ExprKind::Call(call) = &call.kind else { return Err("the call is not where the report says".into()) };
    let ExprKind::Attribute { object, .. } = &call.callee.kind else {
        return Err("the parse has no receiver to guard".into());
    };
    let receiver = object.unawaited();
    if receiver.dotted().is_none() {
        return Err(format!(
            "chained call `{}`: the response has no name to guard; assign it to a variable first",
            snippet(text, call_span)
        ));
    }
    match &stmt.kind {
        StmtKind::If { .. } => {
            return Err("the parse is in an `if` condition: a guard before it would also run for the other branches".into());
        }
        StmtKind::Loop { .. } => return Err("the parse is in a loop header: it runs again on every iteration".into()),
        StmtKind::With { .. } => return Err("the parse is in a `with` header".into()),
        StmtKind::Assign { .. } | StmtKind::Expr(_) | StmtKind::Return(_) | StmtKind::Raise { .. } | StmtKind::Other(_) => {}
        _ => return Err("the parse is in a statement a guard cannot precede".into()),
    }
    for expression in stmt.expressions() {
        let mut reason = None;
        expression.walk(&mut |part| {
            if !part.span.contains(&call_span) || reason.is_some() {
                return;
            }
            reason = match &part.kind {
                ExprKind::Lambda { .. } => Some("the parse is inside a lambda: it runs later, not where a guard could go"),
                ExprKind::Comprehension { .. } => Some("the parse is inside a comprehension: it runs once per item"),
                ExprKind::Conditional { .. } => {
                    Some("the parse is inside a conditional expression: a guard before it would run for both branches")
                }
                ExprKind::Bool { .. } => Some("the parse is inside `and`/`or`: it may not run at all"),
                _ => None,
            };
        });
        if let Some(reason) = reason {
            return Err(reason.into());
        }
    }
    let function_index = function_index.ok_or("the parse runs at module level: there is no request to answer with an error")?;
    Ok(GuardSite { function_index, function, stmt, receiver })
}

/// The edit adding new import `lines` (each with its line break) to a file: after the
/// last top-level import; in a file with none, after the leading string statements (a
/// Python docstring, `'use client'`) and before the next statement.
pub fn import_lines(text: &str, facts: &FileFacts, layout: &Layout, lines: String) -> Edit {
    let last_import = facts
        .imports
        .iter()
        .filter(|import| indentation_at(text, import.span.start_byte) == Some(""))
        .map(|import| import.span.end_byte)
        .max();
    let at = match last_import {
        Some(end) => next_line_start(text, end),
        None => {
            let statements = facts.module().map(|module| module.body.statements.as_slice()).unwrap_or_default();
            let leading = statements
                .iter()
                .take_while(|stmt| matches!(&stmt.kind, StmtKind::Expr(expr) if matches!(expr.kind, ExprKind::String(_))))
                .count();
            match (leading.checked_sub(1).and_then(|last| statements.get(last)), statements.get(leading)) {
                (_, Some(first)) => line_start(text, first.span.start_byte),
                (Some(string), None) => next_line_start(text, string.span.end_byte),
                (None, None) => text.strip_prefix('\u{feff}').map_or(0, |_| 3),
            }
        }
    };
    let prefix = if at == text.len() && !text.is_empty() && !text.ends_with('\n') { layout.newline } else { "" };
    Edit::insert(at, format!("{prefix}{lines}"))
}

/// The names a file binds at module level: imports, top-level functions and classes, and
/// assigned names. A fix imports only names not among these.
pub fn module_names(facts: &FileFacts) -> BTreeSet<String> {
    let mut bound: BTreeSet<String> = facts.imports.iter().map(|import| import.alias.clone()).collect();
    for function in &facts.functions {
        if function.class.is_none() && function.parent.is_some_and(|parent| parent.0 == 0) {
            bound.insert(function.name.clone());
        }
    }
    if let Some(module) = facts.module() {
        for stmt in &module.body.statements {
            match &stmt.kind {
                StmtKind::ClassDef { name, .. } => {
                    bound.insert(name.clone());
                }
                StmtKind::Assign { targets, .. } => {
                    bound.extend(targets.iter().flat_map(|target| target.bound_names()).map(str::to_string))
                }
                _ => {}
            }
        }
    }
    bound
}
