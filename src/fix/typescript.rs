//! TypeScript codemods: where each template goes, computed from the facts of the file.
//!
//! Like the Python planners, each returns the edits of one fix or the reason it cannot
//! patch the site safely. The code they insert follows the file's own style: its quotes,
//! whether it ends statements with semicolons, its indentation and line endings. Imports
//! are listed by each fix and added once per file by [`assemble`]: joined to an `import {
//! .. } from` of the same module written on one line, else on a new line after the last
//! import.
//!
//! - OA001: `const <name>Html = await checkHtmlResponse(<response>)` before the statement
//!   that parses the response, then a way out when it is an error page: a 400 answer in a
//!   route handler, in the framework's words (`res.status(400).json(..)` for Express and
//!   the Next.js pages router, `NextResponse.json(..)` or `new Response(..)` for the app
//!   router and edge functions, `c.json(.., 400)` for Hono, `BadRequestException` for
//!   NestJS), a thrown `Error` anywhere else. The helper module is imported by a relative
//!   path in the file's import style (no extension, `.js`, or `.ts` for Deno); when the
//!   tree has none, it is created from `rules/templates/oauth-utils.ts`.
//! - OA003: a call of the tree's own historical-sync function (`[sync] triggers`, such as
//!   `triggerHistoricalSync`) after the statement that stores the tokens, its arguments
//!   filled by parameter name: the provider, and the tenant or user the handler has.
//! - OA004: `await <rollback>` first in the `catch` block, where `<rollback>` is the call
//!   that rolls the transaction back (`queryRunner.rollbackTransaction()`,
//!   `client.query('ROLLBACK')`, `trx.rollback()`).
//! - OA002 has no TypeScript template: where tokens belong (Prisma, Supabase, a secrets
//!   store) differs per code base, so those findings are reported as skipped.

use crate::callbacks::{CallbackAnalysis, names_one_of};
use crate::config::Config;
use crate::facts::{Expr, ExprKind, FileFacts, Function, Span, Stmt, StmtKind};
use crate::index::Project;
use crate::routes::{self, AnswerStyle};
use crate::rules::unguarded_json::JsonSite;

use super::edit::{Edit, Layout, indentation_at, line_start, next_line_start, statement_indentation};
use super::locate::{
    GuardSite, ensure_line_break, function_names, guard_site, handler_of, import_lines, is_commit, module_names, statement_on_line,
    statement_path,
};
use super::template::Template;
use super::{Planned, Templates};

/// Why OA002 has no TypeScript fix.
pub const NO_PERSIST_TEMPLATE: &str = "no TypeScript template for storing tokens: where they belong (Prisma, Supabase, a secrets store) differs per code base; store them by hand, then `fix --rule OA003` adds the sync";

/// The message of the error answered when the provider sent a page instead of JSON.
const FALLBACK_MESSAGE: &str = "Provider returned an error page instead of JSON";

/// What the planners know besides the file.
pub struct Context<'a> {
    pub project: &'a Project,
    pub file_index: usize,
    pub facts: &'a FileFacts,
    pub templates: &'a Templates,
    pub config: &'a Config,
}

impl Context<'_> {
    fn text(&self) -> &str {
        self.project.files.get(self.file_index).map(|file| file.text.as_str()).unwrap_or("")
    }

    fn path(&self) -> &str {
        self.project.path(self.file_index)
    }

    fn style(&self) -> Style {
        Style::of(self.text(), self.facts)
    }
}

/// The guard helper as seen from one file: the path to import it from (`None` when the
/// file defines it), and the module to create when the tree has none.
#[derive(Debug, Clone)]
pub struct Helper {
    pub specifier: Option<String>,
    pub creates: Option<(String, String)>,
}

/// OA001: the guard before the statement that parses the response at `call_span`.
/// `ordinal` counts the earlier sites of the same function parsing a response of the same
/// name, so that two guards in one function bind two names.
pub fn guard(context: &Context, site: &JsonSite, ordinal: usize, helper: &Helper) -> Result<Planned, String> {
    let text = context.text();
    let GuardSite { function, stmt, receiver, .. } = guard_site(context.facts, text, site.span)?;
    if crate::rules::unguarded_json::undici_body(context.facts, &site.origin) {
        return Err(
            "undici's `body` is a stream, not a fetch `Response`: the helper cannot read its status and headers; check `statusCode` and `headers['content-type']` by hand"
                .into(),
        );
    }
    if !function.is_async {
        return Err("the parse is in a function that is not `async`: the guard awaits the helper".into());
    }
    let indent = statement_indentation(text, stmt.span.start_byte).ok_or("the statement shares its line with another")?;
    let response = text.get(receiver.span.start_byte..receiver.span.end_byte).ok_or("the response is not in the file")?;
    let base: String = response.rsplit('.').next().unwrap_or(response).chars().filter(|c| c.is_alphanumeric() || *c == '_').collect();
    if base.is_empty() {
        return Err("the response has no name to guard".into());
    }
    let names = function_names(function);
    let mut check = if ordinal == 0 { format!("{base}Html") } else { format!("{base}Html{}", ordinal + 1) };
    let mut suffix = ordinal + 1;
    while names.contains(&check) || context.facts.imports.iter().any(|import| import.alias == check) {
        suffix += 1;
        check = format!("{base}Html{suffix}");
    }
    let style = context.style();
    let (leave, mut imports) = leave_statement(context, function, &check);
    let values = std::collections::BTreeMap::from([
        ("response", response.to_string()),
        ("check", check),
        ("leave", leave.join("\n    ")),
        ("helper_module", helper.specifier.clone().unwrap_or_default()),
    ]);
    let template = &context.templates.typescript_guard;
    let lines = render(template, &values, &style)?;
    if helper.specifier.is_some() {
        imports.extend(template.filled_imports(&values).map_err(|error| error.to_string())?);
    }
    Ok(Planned {
        edits: vec![Edit::insert(line_start(text, stmt.span.start_byte), Layout::of(text).block(indent, &lines))],
        imports,
        params: Vec::new(),
    })
}

/// How a function answers when the provider sent an error page: one or two statements,
/// and the imports they need.
fn leave_statement(context: &Context, function: &Function, check: &str) -> (Vec<String>, Vec<String>) {
    let message = format!("{check}.message ?? '{FALLBACK_MESSAGE}'");
    let body = format!("{{ error: {message} }}");
    let facts = context.facts;
    let bound = |name: &str| facts.imports.iter().any(|import| import.alias == name);
    let imports_from = |module: &str| facts.imports.iter().any(|import| import.module == module);
    match routes::answer_style(facts, context.path(), function) {
        AnswerStyle::NestException => {
            return (
                vec![format!("throw new BadRequestException({message});")],
                vec!["import { BadRequestException } from '@nestjs/common'".to_string()],
            );
        }
        AnswerStyle::WebResponse if bound("NextResponse") => {
            return (vec![format!("return NextResponse.json({body}, {{ status: 400 }});")], Vec::new());
        }
        AnswerStyle::WebResponse => {
            return (
                vec![format!(
                    "return new Response(JSON.stringify({body}), {{ status: 400, headers: {{ 'Content-Type': 'application/json' }} }});"
                )],
                Vec::new(),
            );
        }
        AnswerStyle::Other => {}
    }
    let params: Vec<&str> = function.params.iter().map(|param| param.name.as_str()).filter(|name| *name != "self").collect();
    if imports_from("hono") && params.len() == 1 && function.name.contains(' ') {
        return (vec![format!("return {}.json({body}, 400);", params[0])], Vec::new());
    }
    let response_param = function.params.iter().filter(|param| param.name != "self").nth(1).filter(|param| {
        matches!(param.name.as_str(), "res" | "response" | "reply")
            || param.annotation.as_deref().is_some_and(|annotation| annotation.ends_with("Response"))
    });
    if let Some(res) = response_param {
        let returns_values = returns_a_value(function);
        let answer = format!("{}.status(400).json({body})", res.name);
        return if returns_values {
            (vec![format!("return {answer};")], Vec::new())
        } else {
            (vec![format!("{answer};"), "return;".to_string()], Vec::new())
        };
    }
    (vec![format!("throw new Error({message});")], Vec::new())
}

/// Whether a `return` of the function (not of a nested one) returns a value.
fn returns_a_value(function: &Function) -> bool {
    let mut found = false;
    function.body.visit(&mut |stmt| {
        if let StmtKind::Return(Some(_)) = &stmt.kind {
            found = true;
        }
    });
    found
}

/// OA003: the tree's own sync function, called after the statement that stores the tokens
/// (after the commit that follows it, when there is one).
pub fn sync(context: &Context, callback: &CallbackAnalysis, provider: &str) -> Result<Planned, String> {
    let text = context.text();
    let style = context.style();
    let SyncSite { anchor, indent, sync_file, sync_function, arguments } =
        sync_site(context.project, context.config, context.file_index, context.facts, callback, provider, &style)?;
    let specifier = if sync_file == context.file_index {
        String::new()
    } else {
        import_specifier(context.project, context.file_index, context.facts, context.project.path(sync_file))
    };
    let values = std::collections::BTreeMap::from([
        ("sync_function", sync_function.name.clone()),
        ("sync_module", specifier.clone()),
        ("arguments", arguments),
        ("provider", provider.to_string()),
    ]);
    let template = &context.templates.typescript_sync;
    let lines = render(template, &values, &style)?;
    let layout = Layout::of(text);
    let block = layout.block(indent, &lines);
    let imports = if specifier.is_empty() { Vec::new() } else { template.filled_imports(&values).map_err(|error| error.to_string())? };
    Ok(Planned {
        edits: vec![Edit::insert(
            next_line_start(text, anchor.span.end_byte),
            ensure_line_break(text, anchor.span.end_byte, &layout, block),
        )],
        imports,
        params: Vec::new(),
    })
}

/// Where the OA003 sync call goes and what it calls.
struct SyncSite<'a> {
    /// The statement the call follows: the write, or the commit after it.
    anchor: &'a Stmt,
    indent: &'a str,
    sync_file: usize,
    sync_function: &'a Function,
    arguments: String,
}

fn sync_site<'a>(
    project: &'a Project,
    config: &Config,
    file_index: usize,
    facts: &'a FileFacts,
    callback: &CallbackAnalysis,
    provider: &str,
    style: &Style,
) -> Result<SyncSite<'a>, String> {
    let text = project.files.get(file_index).map(|file| file.text.as_str()).unwrap_or("");
    let (_, function) = handler_of(facts, callback)?;
    if !function.is_async {
        return Err("the handler is not `async`: the sync call must be awaited".into());
    }
    let hop = callback.persistence.as_ref().and_then(|chain| chain.first()).ok_or("no persistence found in the handler")?;
    let stmt = statement_on_line(&function.body, hop.line).ok_or("the persistence call is not in a statement of the handler")?;
    if matches!(stmt.kind, StmtKind::Return(_)) {
        return Err("the tokens are stored in a `return` statement: nothing after it runs".into());
    }
    let mut blocks = vec![&function.body];
    for outer in statement_path(&function.body, stmt.span) {
        if let Some(inner) = outer.blocks().find(|inner| inner.statements.iter().any(|nested| nested.span.contains(&stmt.span))) {
            blocks.push(inner);
        }
    }
    let commits = &config.persistence.commits;
    let anchor = blocks
        .iter()
        .rev()
        .find_map(|block| {
            block.statements.iter().filter(|later| later.span.start_byte >= stmt.span.start_byte).find(|later| is_commit(later, commits))
        })
        .unwrap_or(stmt);
    let indent =
        statement_indentation(text, anchor.span.start_byte).ok_or("the persistence call shares its line with another statement")?;
    let (sync_file, sync_function) = sync_function(project, config, project.path(file_index))?;
    let arguments = sync_arguments(text, function, anchor.span, sync_function, provider, style)?;
    Ok(SyncSite { anchor, indent, sync_file, sync_function, arguments })
}

/// Why `fix` cannot add the sync call to this TypeScript callback, if it cannot: the scan
/// reports such an OA003 finding with `fixable: false`.
pub fn sync_blocker(
    project: &Project,
    config: &Config,
    file_index: usize,
    facts: &FileFacts,
    callback: &CallbackAnalysis,
) -> Option<String> {
    let text = project.files.get(file_index).map(|file| file.text.as_str()).unwrap_or("");
    sync_site(project, config, file_index, facts, callback, "provider", &Style::of(text, facts)).err()
}

/// The module-level function of the tree that starts the historical sync (`[sync]
/// triggers`, camelCase spellings included), nearest to the handler's file first.
fn sync_function<'a>(project: &'a Project, config: &Config, here: &str) -> Result<(usize, &'a Function), String> {
    let triggers = &config.sync_triggers;
    let spellings: Vec<String> = triggers.iter().map(|name| camel_case(name)).collect();
    let mut found: Vec<(usize, usize, &Function)> = Vec::new();
    let needles: Vec<String> = spellings.iter().chain(triggers).cloned().collect();
    for &index in project.files_containing(crate::facts::Language::TypeScript, &needles).iter() {
        let Some(file) = project.files.get(index) else { continue };
        let Some(facts) = project.facts(index) else { continue };
        for function in &facts.functions {
            let top_level = function.class.is_none() && function.parent.is_some_and(|parent| parent.0 == 0);
            if top_level && names_one_of(&function.name, triggers) && exported(&file.text, function) {
                let shared = here.chars().zip(file.relative_path.chars()).take_while(|(a, b)| a == b).count();
                found.push((usize::MAX - shared, index, function));
            }
        }
    }
    found.sort_by_key(|(distance, index, _)| (*distance, *index));
    found.first().map(|(_, index, function)| (*index, *function)).ok_or_else(|| {
        format!(
            "the tree has no exported historical-sync function ({}): write one, then run fix again",
            spellings.iter().take(3).map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
        )
    })
}

/// Whether the module-level `function` of a file is exported (`export function f`,
/// `export const f = ..`, `export { f }`).
fn exported(text: &str, function: &Function) -> bool {
    let before = text.get(..function.span.start_byte).unwrap_or("");
    let line = &before[before.rfind('\n').map_or(0, |at| at + 1)..];
    line.trim_start().starts_with("export")
        || text.lines().any(|line| {
            line.trim_start().starts_with("export {")
                && line.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).any(|word| word == function.name)
        })
}

/// `trigger_historical_sync` → `triggerHistoricalSync`.
fn camel_case(name: &str) -> String {
    let mut out = String::new();
    for (at, word) in name.split('_').filter(|word| !word.is_empty()).enumerate() {
        let mut chars = word.chars();
        if at == 0 {
            out.push_str(word);
        } else if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// The arguments of the sync call, by the sync function's parameter names: the provider
/// as a string, and the tenant, user or account id as the handler has it in scope at `at`.
fn sync_arguments(text: &str, handler: &Function, at: Span, sync: &Function, provider: &str, style: &Style) -> Result<String, String> {
    let mut arguments = Vec::new();
    for param in sync.params.iter().filter(|param| param.name != "self") {
        let lower = param.name.to_ascii_lowercase();
        if lower.contains("provider") || lower.contains("integration") {
            arguments.push(style.string(provider));
            continue;
        }
        if param.default.is_some() {
            break;
        }
        let identity = ["tenant", "user", "account", "owner", "workspace", "org"].iter().any(|word| lower.starts_with(word));
        let value = identity.then(|| value_in_scope(text, handler, at, &param.name)).flatten();
        match value {
            Some(value) => arguments.push(value),
            None => {
                return Err(format!(
                    "`{}` takes `{}`, and the handler has no value of that name before the tokens are stored",
                    sync.name, param.name
                ));
            }
        }
    }
    Ok(arguments.join(", "))
}

/// An expression the handler has for `name` before `at`: a parameter or local of that
/// name, else the first attribute read ending in it (`req.user.tenantId`).
fn value_in_scope(text: &str, handler: &Function, at: Span, name: &str) -> Option<String> {
    if handler.params.iter().any(|param| param.name == name) {
        return Some(name.to_string());
    }
    let mut local = false;
    let mut attribute: Option<Span> = None;
    handler.body.visit(&mut |stmt| {
        if stmt.span.start_byte >= at.start_byte {
            return;
        }
        if let StmtKind::Assign { targets, .. } = &stmt.kind
            && targets.iter().flat_map(|target| target.bound_names()).any(|bound| bound == name)
        {
            local = true;
        }
        for expression in stmt.expressions() {
            expression.walk(&mut |part: &Expr| {
                if attribute.is_none()
                    && let ExprKind::Attribute { name: attribute_name, object } = &part.kind
                    && attribute_name == name
                    && object.dotted().is_some()
                {
                    attribute = Some(part.span);
                }
            });
        }
    });
    if local {
        return Some(name.to_string());
    }
    let span = attribute?;
    let source = text.get(span.start_byte..span.end_byte)?;
    (!source.contains('\n')).then(|| source.trim_end_matches('!').to_string())
}

/// OA004: `await <rollback>` first in the `catch` block at `handler_span`.
pub fn rollback(context: &Context, handler_span: Span, rollback_call: &str) -> Result<Planned, String> {
    let text = context.text();
    let (_, function) = super::locate::function_at(context.facts, handler_span).ok_or("no function holds the catch")?;
    if !function.is_async {
        return Err("the catch is in a function that is not `async`: the rollback must be awaited".into());
    }
    let mut found = None;
    function.body.visit(&mut |stmt| {
        if let StmtKind::Try { handlers, .. } = &stmt.kind {
            found = found.or_else(|| handlers.iter().find(|handler| handler.span == handler_span));
        }
    });
    let handler = found.ok_or("the catch is not where the report says")?;
    let first = handler.body.statements.first().ok_or("the catch block is empty")?;
    if first.span.start.line == handler.span.start.line {
        return Err("the catch block starts on the `catch` line".into());
    }
    let indent = indentation_at(text, first.span.start_byte).ok_or("the catch's first statement shares its line")?;
    let style = context.style();
    let values = std::collections::BTreeMap::from([("rollback", rollback_call.to_string())]);
    let template = &context.templates.typescript_rollback;
    let lines = render(template, &values, &style)?;
    Ok(Planned {
        edits: vec![Edit::insert(line_start(text, first.span.start_byte), Layout::of(text).block(indent, &lines))],
        imports: template.filled_imports(&values).map_err(|error| error.to_string())?,
        params: Vec::new(),
    })
}

/// The guard helper for file `index`: a module of the tree defining `checkHtmlResponse`
/// (the nearest), else the one to create at `[fix] typescript_helper_file` under the
/// file's package (`src/` when the file is in it; `supabase/functions/_shared/` for edge
/// functions).
pub fn helper(project: &Project, index: usize, facts: &FileFacts, config: &Config, text: &str) -> Helper {
    if facts.find_function(None, "checkHtmlResponse").is_some() {
        return Helper { specifier: None, creates: None };
    }
    let here = project.path(index);
    let existing = project
        .files
        .iter()
        .enumerate()
        .filter(|(other, file)| {
            *other != index
                && file.language == crate::facts::Language::TypeScript
                && memchr::memmem::find(file.text.as_bytes(), b"export async function checkHtmlResponse").is_some()
        })
        .max_by_key(|(_, file)| here.chars().zip(file.relative_path.chars()).take_while(|(a, b)| a == b).count());
    if let Some((_, file)) = existing {
        return Helper { specifier: Some(import_specifier(project, index, facts, &file.relative_path)), creates: None };
    }
    let file_name = config.fix.typescript_helper_file.rsplit('/').next().unwrap_or(&config.fix.typescript_helper_file);
    let path = match here.find("supabase/functions/") {
        Some(at) => format!("{}supabase/functions/_shared/{file_name}", &here[..at]),
        None => {
            let root = project.service_root(index);
            let package = if root.is_empty() { String::new() } else { format!("{root}/") };
            let source = if here.starts_with(&format!("{package}src/")) { "src/" } else { "" };
            format!("{package}{source}{}", config.fix.typescript_helper_file)
        }
    };
    Helper { specifier: Some(import_specifier(project, index, facts, &path)), creates: Some((path, text.to_string())) }
}

/// The path file `index` imports `target` (relative to the scan root) by: relative, in
/// the file's extension style (none, `.js` for ES modules compiled from TypeScript, `.ts`
/// for Deno and edge functions).
fn import_specifier(project: &Project, index: usize, facts: &FileFacts, target: &str) -> String {
    let here = project.path(index);
    let from: Vec<&str> = here.split('/').collect();
    let from = &from[..from.len().saturating_sub(1)];
    let to: Vec<&str> = target.split('/').collect();
    let shared = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - shared];
    parts.extend(&to[shared..]);
    let mut specifier = parts.join("/");
    if !specifier.starts_with("..") {
        specifier = format!("./{specifier}");
    }
    let relative: Vec<&str> = facts.imports.iter().map(|import| import.module.as_str()).filter(|module| module.starts_with('.')).collect();
    let keeps_ts = relative.iter().any(|module| module.ends_with(".ts") || module.ends_with(".tsx"))
        || (relative.is_empty() && here.contains("supabase/functions/"));
    let uses_js = relative.iter().any(|module| module.ends_with(".js"));
    if keeps_ts {
        return specifier;
    }
    let stem = specifier.strip_suffix(".tsx").or_else(|| specifier.strip_suffix(".ts")).unwrap_or(&specifier).to_string();
    if uses_js { format!("{stem}.js") } else { stem }
}

/// A template's body for this file's style.
fn render(template: &Template, values: &std::collections::BTreeMap<&str, String>, style: &Style) -> Result<Vec<(usize, String)>, String> {
    let lines = template.render(values).map_err(|error| error.to_string())?;
    Ok(lines.into_iter().map(|(level, line)| (level, style.line(&line))).collect())
}

/// How a file writes strings and statement ends.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub quote: char,
    pub semicolons: bool,
}

impl Style {
    /// The quote of the file's import paths (of its strings when it imports nothing), and
    /// whether any line ends with a semicolon.
    pub fn of(text: &str, facts: &FileFacts) -> Style {
        let mut single = 0;
        let mut double = 0;
        for import in &facts.imports {
            match text
                .get(import.span.start_byte..import.span.end_byte)
                .and_then(|statement| statement.find(['\'', '"']).map(|at| &statement[at..]))
            {
                Some(rest) if rest.starts_with('\'') => single += 1,
                Some(_) => double += 1,
                None => {}
            }
        }
        if single + double == 0 {
            single = text.matches('\'').count();
            double = text.matches('"').count();
        }
        let semicolons = text.is_empty() || text.lines().any(|line| line.trim_end().ends_with(';'));
        Style { quote: if double > single { '"' } else { '\'' }, semicolons }
    }

    /// A string literal in the file's quotes.
    fn string(&self, value: &str) -> String {
        let quote = self.quote;
        let escaped = value.replace('\\', "\\\\").replace(quote, &format!("\\{quote}"));
        format!("{quote}{escaped}{quote}")
    }

    /// A line of a template (written with single quotes and semicolons) in this style:
    /// simple single-quoted strings requoted, a final semicolon dropped when the file
    /// writes none.
    pub fn line(&self, line: &str) -> String {
        let mut out = if self.quote == '"' { requote(line) } else { line.to_string() };
        if !self.semicolons
            && let Some(stripped) = out.trim_end().strip_suffix(';')
        {
            out = stripped.to_string();
        }
        out
    }
}

/// `'text'` → `"text"` for literals holding no quote or backslash; other string and
/// template literals are copied as they are.
fn requote(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    while at < chars.len() {
        let quote = chars[at];
        if !matches!(quote, '\'' | '"' | '`') {
            out.push(quote);
            at += 1;
            continue;
        }
        // The literal's end, past escaped characters.
        let mut end = at + 1;
        while end < chars.len() && chars[end] != quote {
            end += if chars[end] == '\\' { 2 } else { 1 };
        }
        let end = end.min(chars.len().saturating_sub(1));
        let literal: String = chars[at..=end].iter().collect();
        let content = &chars[at + 1..end];
        if quote == '\'' && chars.get(end) == Some(&'\'') && end > at && !content.iter().any(|c| matches!(c, '"' | '\\')) {
            out.push('"');
            out.extend(content);
            out.push('"');
        } else {
            out.push_str(&literal);
        }
        at = end + 1;
    }
    out
}

/// The edits adding each import the fixes of one file need, once: names already bound in
/// the file are skipped; a name from a module the file imports with `import { .. } from`
/// on one line joins that list; the others go on new lines after the last import.
pub fn assemble(text: &str, facts: &FileFacts, planned: &[&Planned]) -> Vec<Edit> {
    let layout = Layout::of(text);
    let style = Style::of(text, facts);
    let mut bound = module_names(facts);
    // Named imports by module, in first-seen order.
    let mut order: Vec<String> = Vec::new();
    let mut names: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for import in planned.iter().flat_map(|fix| fix.imports.iter()) {
        let Some((list, module)) = parse_named_import(import) else { continue };
        for name in list {
            if bound.insert(name.clone()) {
                if !names.contains_key(&module) {
                    order.push(module.clone());
                }
                names.entry(module.clone()).or_default().push(name);
            }
        }
    }
    let mut edits = Vec::new();
    let mut lines = String::new();
    for module in order {
        let list = &names[&module];
        match extendable_import(text, facts, &module) {
            Some(close) => {
                let before = text[..close].trim_end_matches(' ');
                let comma = if before.ends_with(',') || before.ends_with('{') { "" } else { "," };
                edits.push(Edit::insert(before.len(), format!("{comma} {}", list.join(", "))));
            }
            None => {
                let statement = format!("import {{ {} }} from {}", list.join(", "), style.string(&module));
                lines.push_str(&format!("{}{}", style.line(&format!("{statement};")), layout.newline));
            }
        }
    }
    if lines.is_empty() {
        return edits;
    }
    edits.push(import_lines(text, facts, &layout, lines));
    edits
}

/// `import { a, b as c } from 'm'` → (["a", "b as c"], "m").
fn parse_named_import(import: &str) -> Option<(Vec<String>, String)> {
    let rest = import.trim().strip_prefix("import")?.trim_start();
    let rest = rest.strip_prefix('{')?;
    let (list, rest) = rest.split_once('}')?;
    let module = rest.trim().strip_prefix("from")?.trim().trim_end_matches(';').trim();
    let module = module.strip_prefix(['\'', '"'])?.strip_suffix(['\'', '"'])?;
    let names = list.split(',').map(str::trim).filter(|name| !name.is_empty()).map(str::to_string).collect();
    Some((names, module.to_string()))
}

/// The offset of the `}` closing an `import { .. } from '<module>'` of the file written on
/// one line with no comment: where more names can go.
fn extendable_import(text: &str, facts: &FileFacts, module: &str) -> Option<usize> {
    facts
        .imports
        .iter()
        .filter(|import| import.module == module && import.name.as_deref().is_some_and(|name| name != "default" && name != "*"))
        .find_map(|import| {
            let statement = text.get(import.span.start_byte..import.span.end_byte)?;
            if statement.contains('\n') || statement.starts_with("import type") {
                return None;
            }
            let close = statement.find('}')?;
            statement[..close].contains('{').then_some(import.span.start_byte + close)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requotes_simple_literals_only() {
        assert_eq!(requote("f('a', 'it\\'s')"), "f(\"a\", 'it\\'s')");
        assert_eq!(requote("x = 'say \"hi\"'"), "x = 'say \"hi\"'");
    }

    #[test]
    fn named_imports_parse() {
        assert_eq!(
            parse_named_import("import { a, b as c } from './x'"),
            Some((vec!["a".to_string(), "b as c".to_string()], "./x".to_string()))
        );
        assert_eq!(parse_named_import("import x from 'y'"), None);
    }

    #[test]
    fn camel_case_of_trigger_names() {
        assert_eq!(camel_case("trigger_historical_sync"), "triggerHistoricalSync");
    }
}
