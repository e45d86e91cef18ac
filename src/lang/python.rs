//! Python frontend: the syntax tree of Ruff's Python parser to [`FileFacts`].
//!
//! Total on any input: the parser recovers from syntax errors (what parsed around an error is
//! kept), nesting deeper than [`MAX_DEPTH`] is kept as opaque `Other` nodes, and a file big
//! enough that its nesting could exhaust the stack is parsed on a thread with room for it.
//!
//! Spans follow the source as a reader points at it: a function or class starts at its
//! `def`/`async`/`class` keyword (its decorated statement at the first decorator), a
//! parenthesized expression is the expression inside, lines are 0-based and columns bytes.

use std::cell::Cell;

use ruff_python_ast::{self as ast, PySourceType, StringFlags, token::TokenKind};
use ruff_text_size::{Ranged, TextRange};

use crate::facts::*;
use crate::lang::{ExtractOptions, FrontendError};

/// Expressions or statements nested deeper than this are kept as opaque `Other` nodes.
const MAX_DEPTH: usize = 200;

/// Stack to allow per byte of source for the syntax tree's destructor, which recurses once
/// per level of nesting (the parser itself grows its stack on the heap): a chain of a
/// quarter million one-byte unary operators (`--...-x`) fills 16 MiB in a release build,
/// 64 bytes a level; twice that here. Unoptimised builds need more than 64, less than 160.
const STACK_PER_BYTE: usize = if cfg!(debug_assertions) { 512 } else { 128 };

/// Stack that any thread is assumed to have; see [`declare_stack`].
const DEFAULT_STACK: usize = 2 * 1024 * 1024;

/// Extra stack for the converter and its caller on a thread of its own.
const CONVERTER_STACK: usize = 4 * 1024 * 1024;

thread_local! {
    static STACK: Cell<usize> = const { Cell::new(DEFAULT_STACK) };
}

/// Tells the frontend that the calling thread has `bytes` of stack (a scan worker's), so
/// files up to a proportionate size are parsed on it instead of on a thread of their own.
pub fn declare_stack(bytes: usize) {
    STACK.with(|stack| stack.set(bytes));
}

/// Reads the facts of one Python file.
pub fn extract(text: &str, options: ExtractOptions) -> Result<FileFacts, FrontendError> {
    with_parsed(text, |parsed| facts_from_parsed(parsed, text, options))
}

/// Parses `text` and hands the module to `then`, where the stack is deep enough for both
/// and for dropping the tree (see [`with_stack_for`]).
fn with_parsed<T: Send>(
    text: &str,
    then: impl FnOnce(&ruff_python_parser::Parsed<ast::ModModule>) -> T + Send,
) -> Result<T, FrontendError> {
    with_stack_for(text, || then(&ruff_python_parser::parse_unchecked_source(text, PySourceType::Python)))
}

/// Runs `work` (a parse of `text` and what follows it) where the stack is deep enough for
/// the worst nesting `text` can hold: on this thread, or on a scoped one of its own.
fn with_stack_for<T: Send>(text: &str, work: impl FnOnce() -> T + Send) -> Result<T, FrontendError> {
    let needed = text.len().saturating_mul(STACK_PER_BYTE);
    let available = STACK.with(Cell::get);
    let run = || std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    let outcome = if needed <= available / 2 {
        run()
    } else {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("python-parse".into())
                .stack_size(needed.saturating_add(CONVERTER_STACK))
                .spawn_scoped(scope, run)
                .map_err(|error| FrontendError::Internal(format!("cannot start a parsing thread: {error}")))?
                .join()
                .map_err(|_| FrontendError::Internal("the parsing thread failed".into()))
        })?
    };
    outcome.map_err(|panic| {
        let message = panic.downcast_ref::<&str>().map(|text| text.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
        FrontendError::Internal(format!("the Python parser failed: {}", message.unwrap_or_else(|| "no message".into())))
    })
}

/// The facts of a module [`parse_only`]'s parser made from `text`: [`extract`] without the
/// parse, so a benchmark can time the conversion alone.
pub fn facts_from_parsed(parsed: &ruff_python_parser::Parsed<ast::ModModule>, text: &str, options: ExtractOptions) -> FileFacts {
    let mut converter = Converter {
        text,
        lines: super::line_starts(text),
        outline: options.outline,
        functions: Vec::new(),
        classes: Vec::new(),
        imports: Vec::new(),
        current_class: None,
        function_stack: Vec::new(),
        depth: 0,
    };
    let module_span = converter.module_span();
    let module_id = converter.reserve_function("<module>".into(), None, module_span, module_span, false);
    let body = converter.block(&parsed.syntax().body);
    if let Some(module) = converter.functions.get_mut(module_id.0) {
        module.body = body;
    }
    let errors = parsed.errors();
    let first_syntax_error = errors.iter().map(|error| error.location).min_by_key(|range| range.start()).map(|range| converter.span(range));
    let comments = options.comments_with.map(|needle| converter.comments_with(parsed.tokens(), needle)).unwrap_or_default();
    FileFacts {
        language: Language::Python,
        functions: converter.functions,
        classes: converter.classes,
        imports: converter.imports,
        comments,
        syntax_errors: errors.len(),
        first_syntax_error,
    }
}

/// The byte ranges of the string literals of `text` (f-strings whole) that span lines.
pub fn multiline_strings(text: &str) -> Result<Vec<(usize, usize)>, FrontendError> {
    with_parsed(text, |parsed| {
        let mut strings = Vec::new();
        let mut open = Vec::new();
        for token in parsed.tokens().iter() {
            let range = token.range();
            let (start, end) = match token.kind() {
                TokenKind::String => (usize::from(range.start()), usize::from(range.end())),
                TokenKind::FStringStart | TokenKind::TStringStart => {
                    open.push(usize::from(range.start()));
                    continue;
                }
                TokenKind::FStringEnd | TokenKind::TStringEnd => match open.pop() {
                    Some(start) => (start, usize::from(range.end())),
                    None => continue,
                },
                _ => continue,
            };
            // Nested f-strings sit inside the outer one: only the outermost is kept.
            if open.is_empty() && text.get(start..end).is_some_and(|string| string.contains('\n')) {
                strings.push((start, end));
            }
        }
        strings
    })
}

/// Parses and discards the tree: the floor a benchmark compares full analysis against.
pub fn parse_only(text: &str) -> bool {
    with_parsed(text, |_| ()).is_ok()
}

struct Converter<'a> {
    text: &'a str,
    lines: Vec<usize>,
    /// Leave function bodies empty.
    outline: bool,
    functions: Vec<Function>,
    classes: Vec<Class>,
    imports: Vec<Import>,
    current_class: Option<String>,
    /// Functions being converted, innermost last.
    function_stack: Vec<FunctionId>,
    depth: usize,
}

impl<'a> Converter<'a> {
    fn point(&self, offset: usize) -> Point {
        let line = self.lines.partition_point(|start| *start <= offset).saturating_sub(1);
        Point { line, column: offset - self.lines.get(line).copied().unwrap_or(0) }
    }

    fn span_between(&self, start: usize, end: usize) -> Span {
        Span { start_byte: start, end_byte: end, start: self.point(start), end: self.point(end) }
    }

    fn span(&self, range: TextRange) -> Span {
        self.span_between(usize::from(range.start()), usize::from(range.end()))
    }

    fn text_of(&self, range: TextRange) -> &'a str {
        self.text.get(usize::from(range.start())..usize::from(range.end())).unwrap_or("")
    }

    /// The module: from its first token or comment to its last, as a reader sees it.
    fn module_span(&self) -> Span {
        let end = self.text.trim_end().len();
        let start = (end - self.text[..end].trim_start().len()).min(end);
        self.span_between(start, end)
    }

    /// Where the keyword `word` ends right before `at`, across spaces and line continuations:
    /// the start of `word`, or `None`.
    fn keyword_before(&self, at: usize, word: &str) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let mut end = at;
        loop {
            match bytes.get(end.checked_sub(1)?) {
                Some(b' ' | b'\t' | b'\x0c') => end -= 1,
                Some(b'\n') if end >= 2 && matches!(bytes.get(end - 2), Some(b'\\')) => end -= 2,
                Some(b'\n') if end >= 3 && bytes.get(end - 3..end - 1) == Some(b"\\\r") => end -= 3,
                _ => break,
            }
        }
        let start = end.checked_sub(word.len())?;
        (self.text.get(start..end) == Some(word)).then_some(start)
    }

    /// The start of a `def` (or `async def`) or `class` whose name starts at `name`.
    fn definition_start(&self, name: usize, keyword: &str, is_async: bool) -> Option<usize> {
        let start = self.keyword_before(name, keyword)?;
        if is_async { self.keyword_before(start, "async").or(Some(start)) } else { Some(start) }
    }

    /// Where a block ends as a reader sees it: after its last statement and the comments
    /// that still belong to it (one on that statement's line, then comment lines indented at
    /// least as deep as the block, across blank lines). `None` for an empty block.
    fn block_end(&self, body: &[ast::Stmt]) -> Option<usize> {
        let first = usize::from(body.first()?.start());
        let last = usize::from(body.last()?.end());
        let line_start = self.lines.get(self.point(first).line).copied().unwrap_or(0);
        // A block on its header's line (`def f(): pass`) keeps only the comment on that line.
        let indent = self.text.get(line_start..first).filter(|before| before.trim().is_empty()).map(str::len);
        let bytes = self.text.as_bytes();
        let line_end = |at: usize| memchr::memchr(b'\n', bytes.get(at..).unwrap_or_default()).map_or(bytes.len(), |offset| at + offset);
        let mut end = last;
        let stop = line_end(last);
        let rest = self.text.get(last..stop).unwrap_or("");
        if rest.trim_start().starts_with('#') {
            end = stop - (rest.len() - rest.trim_end().len());
        }
        let Some(indent) = indent else { return Some(end) };
        let mut at = stop + 1;
        while at < bytes.len() {
            let stop = line_end(at);
            let line = self.text.get(at..stop).unwrap_or("");
            let content = line.trim_start_matches([' ', '\t', '\x0c']);
            if content.trim().is_empty() {
                at = stop + 1;
                continue;
            }
            let column = line.len() - content.len();
            if !content.starts_with('#') || column < indent {
                break;
            }
            end = at + column + content.trim_end().len();
            at = stop + 1;
        }
        Some(end)
    }

    /// The span from `start` to the end of `range` or of the last of `bodies` that is not
    /// empty (a compound statement's last clause), whichever is later.
    fn compound_span(&self, start: usize, range: TextRange, bodies: &[&[ast::Stmt]]) -> Span {
        let end = bodies.iter().rev().find_map(|body| self.block_end(body)).unwrap_or(0).max(usize::from(range.end()));
        self.span_between(start, end)
    }

    fn reserve_function(&mut self, name: String, parent: Option<FunctionId>, span: Span, name_span: Span, is_async: bool) -> FunctionId {
        let id = FunctionId(self.functions.len());
        self.functions.push(super::empty_function(id, name, parent, span, name_span, is_async));
        id
    }

    /// The comments that hold `needle`: each occurrence in the text is looked up among the
    /// comment tokens.
    fn comments_with(&self, tokens: &ast::token::Tokens, needle: &str) -> Vec<Comment> {
        let mut occurrences = memchr::memmem::find_iter(self.text.as_bytes(), needle.as_bytes()).peekable();
        if occurrences.peek().is_none() {
            return Vec::new();
        }
        let ranges: Vec<TextRange> = tokens.iter().filter(|token| token.kind() == TokenKind::Comment).map(Ranged::range).collect();
        let mut comments: Vec<Comment> = Vec::new();
        for offset in occurrences {
            let index = ranges.partition_point(|range| usize::from(range.end()) <= offset);
            let Some(range) = ranges.get(index).filter(|range| usize::from(range.start()) <= offset) else { continue };
            let span = self.span(*range);
            if comments.last().is_some_and(|last| last.span.start_byte == span.start_byte) {
                continue;
            }
            comments.push(Comment { text: self.text_of(*range).to_string(), span });
        }
        comments
    }
}

// ----- statements -----------------------------------------------------------------------

impl<'a> Converter<'a> {
    fn block(&mut self, body: &[ast::Stmt]) -> Block {
        let mut statements = Vec::with_capacity(body.len());
        for stmt in body {
            self.statement_into(stmt, &mut statements);
        }
        Block { statements }
    }

    /// A clause's block, `None` when the clause is absent (an empty `else` cannot be written).
    fn optional_block(&mut self, body: &[ast::Stmt]) -> Option<Block> {
        (!body.is_empty()).then(|| self.block(body))
    }

    fn statement_into(&mut self, stmt: &ast::Stmt, out: &mut Vec<Stmt>) {
        if self.depth > MAX_DEPTH {
            out.push(Stmt { span: self.span(stmt.range()), kind: StmtKind::Other(Vec::new()) });
            return;
        }
        self.depth += 1;
        match stmt {
            ast::Stmt::Match(statement) => self.match_statement(statement, out),
            _ => {
                let converted = self.statement(stmt);
                out.push(converted);
            }
        }
        self.depth -= 1;
    }

    fn statement(&mut self, stmt: &ast::Stmt) -> Stmt {
        let span = self.statement_span(stmt);
        let kind = match stmt {
            ast::Stmt::Expr(statement) => match statement.value.as_ref() {
                // `a(), b()`: the parts, as one expression spanning the statement.
                ast::Expr::Tuple(tuple) if !tuple.parenthesized => {
                    StmtKind::Expr(Expr { span, kind: ExprKind::Sequence(self.exprs(&tuple.elts)) })
                }
                value => StmtKind::Expr(self.expr(value)),
            },
            ast::Stmt::Assign(assign) => {
                let targets = self.exprs(&assign.targets);
                StmtKind::Assign { targets, value: self.expr(&assign.value), augmented: false }
            }
            ast::Stmt::AugAssign(assign) => {
                let targets = vec![self.expr(&assign.target)];
                StmtKind::Assign { targets, value: self.expr(&assign.value), augmented: true }
            }
            ast::Stmt::AnnAssign(assign) => {
                let targets = vec![self.expr(&assign.target)];
                match &assign.value {
                    Some(value) => StmtKind::Assign { targets, value: self.expr(value), augmented: false },
                    // An annotation without a value (`x: int`) binds nothing useful.
                    None => StmtKind::Other(targets),
                }
            }
            ast::Stmt::If(statement) => {
                let condition = self.expr(&statement.test);
                let then_block = self.block(&statement.body);
                let else_block = self.else_chain(&statement.elif_else_clauses);
                StmtKind::If { condition, then_block, else_block }
            }
            ast::Stmt::Try(statement) => {
                let body = self.block(&statement.body);
                let handlers = statement.handlers.iter().map(|handler| self.handler(handler)).collect();
                let else_block = self.optional_block(&statement.orelse);
                let finally_block = self.optional_block(&statement.finalbody);
                StmtKind::Try { body, handlers, else_block, finally_block }
            }
            ast::Stmt::With(statement) => {
                let items = statement
                    .items
                    .iter()
                    .map(|item| WithItem {
                        context: self.expr(&item.context_expr),
                        binding: item.optional_vars.as_deref().map(|binding| self.expr(binding)),
                    })
                    .collect();
                StmtKind::With { items, body: self.block(&statement.body), is_async: statement.is_async }
            }
            ast::Stmt::For(statement) => {
                let targets = vec![self.expr(&statement.target)];
                let iter = self.expr(&statement.iter);
                let body = self.block(&statement.body);
                let else_block = self.optional_block(&statement.orelse);
                StmtKind::Loop { targets, iter: Some(Box::new(iter)), condition: None, body, else_block }
            }
            ast::Stmt::While(statement) => {
                let condition = self.expr(&statement.test);
                let body = self.block(&statement.body);
                let else_block = self.optional_block(&statement.orelse);
                StmtKind::Loop { targets: Vec::new(), iter: None, condition: Some(Box::new(condition)), body, else_block }
            }
            ast::Stmt::Return(statement) => StmtKind::Return(statement.value.as_deref().map(|value| self.expr(value))),
            ast::Stmt::Raise(statement) => StmtKind::Raise {
                exception: statement.exc.as_deref().map(|exception| Box::new(self.expr(exception))),
                cause: statement.cause.as_deref().map(|cause| Box::new(self.expr(cause))),
            },
            ast::Stmt::Break(_) => StmtKind::Break,
            ast::Stmt::Continue(_) => StmtKind::Continue,
            ast::Stmt::FunctionDef(definition) => StmtKind::FunctionDef(self.function_definition(definition)),
            ast::Stmt::ClassDef(definition) => self.class_definition(definition),
            ast::Stmt::Import(statement) => {
                for alias in &statement.names {
                    let module = alias.name.id.to_string();
                    let alias_name = alias.asname.as_ref().map_or_else(|| module.clone(), |name| name.id.to_string());
                    self.imports.push(Import { module, name: None, alias: alias_name, span });
                }
                StmtKind::Other(Vec::new())
            }
            ast::Stmt::ImportFrom(statement) => {
                self.import_from(statement, span);
                StmtKind::Other(Vec::new())
            }
            // Statements without rule-relevant structure: their expressions are kept so calls
            // inside them are still seen.
            ast::Stmt::Delete(statement) => StmtKind::Other(self.exprs(&statement.targets)),
            ast::Stmt::Assert(statement) => {
                let mut parts = vec![self.expr(&statement.test)];
                parts.extend(statement.msg.as_deref().map(|message| self.expr(message)));
                StmtKind::Other(parts)
            }
            ast::Stmt::TypeAlias(statement) => StmtKind::Other(vec![self.expr(&statement.name), self.expr(&statement.value)]),
            ast::Stmt::Global(ast::StmtGlobal { names, .. }) | ast::Stmt::Nonlocal(ast::StmtNonlocal { names, .. }) => {
                StmtKind::Other(names.iter().map(|name| self.identifier(name)).collect())
            }
            ast::Stmt::Match(statement) => StmtKind::Other(vec![self.expr(&statement.subject)]),
            ast::Stmt::Pass(_) | ast::Stmt::IpyEscapeCommand(_) => StmtKind::Other(Vec::new()),
        };
        Stmt { span, kind }
    }

    /// A statement's span; a compound one ends with the comments its last block keeps.
    fn statement_span(&self, stmt: &ast::Stmt) -> Span {
        let start = usize::from(stmt.start());
        let range = stmt.range();
        match stmt {
            ast::Stmt::If(statement) => {
                let last = statement.elif_else_clauses.last().map_or(&statement.body, |clause| &clause.body);
                self.compound_span(start, range, &[last])
            }
            ast::Stmt::Try(statement) => {
                let handler = statement.handlers.last().map(|ast::ExceptHandler::ExceptHandler(handler)| handler.body.as_slice());
                let bodies = [&statement.body[..], handler.unwrap_or_default(), &statement.orelse, &statement.finalbody];
                self.compound_span(start, range, &bodies)
            }
            ast::Stmt::With(statement) => self.compound_span(start, range, &[&statement.body]),
            ast::Stmt::For(ast::StmtFor { body, orelse, .. }) | ast::Stmt::While(ast::StmtWhile { body, orelse, .. }) => {
                self.compound_span(start, range, &[body, orelse])
            }
            ast::Stmt::FunctionDef(ast::StmtFunctionDef { body, .. }) | ast::Stmt::ClassDef(ast::StmtClassDef { body, .. }) => {
                self.compound_span(start, range, &[body])
            }
            _ => self.span(range),
        }
    }

    /// `elif` clauses become nested `if` statements in the else branch.
    fn else_chain(&mut self, clauses: &[ast::ElifElseClause]) -> Option<Block> {
        let mut branches = Vec::new();
        let mut otherwise = None;
        for clause in clauses {
            match &clause.test {
                Some(test) => {
                    let condition = self.expr(test);
                    let then_block = self.block(&clause.body);
                    let span = self.compound_span(usize::from(clause.start()), clause.range, &[&clause.body]);
                    branches.push((condition, then_block, span));
                }
                None => otherwise = Some(self.block(&clause.body)),
            }
        }
        self.if_chain(branches, otherwise)
    }

    fn if_chain(&mut self, branches: Vec<(Expr, Block, Span)>, otherwise: Option<Block>) -> Option<Block> {
        super::if_chain(branches, otherwise, MAX_DEPTH.saturating_sub(self.depth))
    }

    /// `match subject: case p if g: ...`: the subject once, then an `if`/`else` chain
    /// whose conditions hold each case's pattern and guard, so every case body is analysed.
    fn match_statement(&mut self, statement: &ast::StmtMatch, out: &mut Vec<Stmt>) {
        let subject = self.expr(&statement.subject);
        out.push(Stmt { span: subject.span, kind: StmtKind::Other(vec![subject]) });
        let mut branches = Vec::with_capacity(statement.cases.len());
        for case in &statement.cases {
            let mut condition_parts = vec![self.pattern(&case.pattern)];
            condition_parts.extend(case.guard.as_deref().map(|guard| self.expr(guard)));
            let then_block = self.block(&case.body);
            let span = self.compound_span(usize::from(case.start()), case.range, &[&case.body]);
            branches.push((Expr { span, kind: ExprKind::Other(condition_parts) }, then_block, span));
        }
        if let Some(chain) = self.if_chain(branches, None) {
            out.extend(chain.statements);
        }
    }

    /// A `case` pattern: the names it binds and the values it compares with.
    fn pattern(&mut self, pattern: &ast::Pattern) -> Expr {
        let span = self.span(pattern.range());
        if self.depth > MAX_DEPTH {
            return Expr { span, kind: ExprKind::Other(Vec::new()) };
        }
        self.depth += 1;
        let kind = match pattern {
            ast::Pattern::MatchValue(value) => self.expr(&value.value).kind,
            ast::Pattern::MatchSingleton(_) => ExprKind::Constant(self.text_of(pattern.range()).to_string()),
            ast::Pattern::MatchSequence(sequence) => ExprKind::Sequence(sequence.patterns.iter().map(|part| self.pattern(part)).collect()),
            ast::Pattern::MatchMapping(mapping) => {
                let mut parts = self.exprs(&mapping.keys);
                parts.extend(mapping.patterns.iter().map(|part| self.pattern(part)));
                parts.extend(mapping.rest.as_ref().map(|rest| self.identifier(rest)));
                ExprKind::Other(parts)
            }
            ast::Pattern::MatchClass(class) => {
                let mut parts = vec![self.expr(&class.cls)];
                parts.extend(class.arguments.patterns.iter().map(|part| self.pattern(part)));
                parts.extend(class.arguments.keywords.iter().map(|keyword| self.pattern(&keyword.pattern)));
                ExprKind::Other(parts)
            }
            ast::Pattern::MatchStar(star) => ExprKind::Other(star.name.iter().map(|name| self.identifier(name)).collect()),
            ast::Pattern::MatchAs(binding) => {
                let mut parts: Vec<Expr> = binding.pattern.iter().map(|inner| self.pattern(inner)).collect();
                parts.extend(binding.name.as_ref().map(|name| self.identifier(name)));
                ExprKind::Other(parts)
            }
            ast::Pattern::MatchOr(alternatives) => ExprKind::Other(alternatives.patterns.iter().map(|part| self.pattern(part)).collect()),
        };
        self.depth -= 1;
        Expr { span, kind }
    }

    fn handler(&mut self, handler: &ast::ExceptHandler) -> Handler {
        let ast::ExceptHandler::ExceptHandler(handler) = handler;
        let mut types = Vec::new();
        if let Some(type_expr) = handler.type_.as_deref() {
            let type_expr = self.expr(type_expr);
            match &type_expr.kind {
                ExprKind::Sequence(parts) => types.extend(parts.iter().map(|part| part.dotted().unwrap_or_else(|| "?".into()))),
                _ => types.push(type_expr.dotted().unwrap_or_else(|| "?".into())),
            }
        }
        let name = handler.name.as_ref().map(|name| name.id.to_string());
        let span = self.compound_span(usize::from(handler.start()), handler.range, &[&handler.body]);
        Handler { types, name, body: self.block(&handler.body), span }
    }

    fn function_definition(&mut self, definition: &ast::StmtFunctionDef) -> FunctionId {
        let decorators: Vec<Expr> = definition.decorator_list.iter().map(|decorator| self.expr(&decorator.expression)).collect();
        let name_span = self.span(definition.name.range);
        let start = if definition.decorator_list.is_empty() {
            usize::from(definition.range.start())
        } else {
            self.definition_start(name_span.start_byte, "def", definition.is_async).unwrap_or(usize::from(definition.range.start()))
        };
        let span = self.compound_span(start, definition.range, &[&definition.body]);
        let parent = self.function_stack.last().copied().unwrap_or(FunctionId(0));
        let id = self.reserve_function(definition.name.id.to_string(), Some(parent), span, name_span, definition.is_async);
        let params = self.parameters(&definition.parameters);
        // A class's methods belong to it; functions nested in a method do not.
        let class = self.current_class.take();
        self.function_stack.push(id);
        let body = if self.outline { Block::default() } else { self.block(&definition.body) };
        self.function_stack.pop();
        self.current_class = class.clone();
        if let Some(function) = self.functions.get_mut(id.0) {
            function.class = class;
            function.params = params;
            function.decorators = decorators;
            function.body = body;
        }
        id
    }

    fn class_definition(&mut self, definition: &ast::StmtClassDef) -> StmtKind {
        let name = definition.name.id.to_string();
        let bases = definition.arguments.as_deref().map(|arguments| self.arguments_in_order(arguments)).unwrap_or_default();
        let start = if definition.decorator_list.is_empty() {
            usize::from(definition.range.start())
        } else {
            self.definition_start(usize::from(definition.name.range.start()), "class", false)
                .unwrap_or(usize::from(definition.range.start()))
        };
        let span = self.compound_span(start, definition.range, &[&definition.body]);
        self.classes.push(Class { name: name.clone(), bases, span });
        let outer = self.current_class.replace(name.clone());
        let body = self.block(&definition.body);
        self.current_class = outer;
        StmtKind::ClassDef { name, body }
    }

    /// Class bases and keywords in source order; a keyword is its name and value together.
    fn arguments_in_order(&mut self, arguments: &ast::Arguments) -> Vec<Expr> {
        arguments
            .iter_source_order()
            .map(|argument| match argument {
                ast::ArgOrKeyword::Arg(argument) => self.expr(argument),
                ast::ArgOrKeyword::Keyword(keyword) => {
                    let mut parts: Vec<Expr> = keyword.arg.iter().map(|name| self.identifier(name)).collect();
                    parts.push(self.expr(&keyword.value));
                    Expr { span: self.span(keyword.range), kind: ExprKind::Other(parts) }
                }
            })
            .collect()
    }

    fn parameters(&mut self, parameters: &ast::Parameters) -> Vec<Param> {
        let mut params = Vec::with_capacity(parameters.len());
        for parameter in parameters.iter_source_order() {
            let (parameter, default, range) = match parameter {
                ast::AnyParameterRef::NonVariadic(with_default) => {
                    (&with_default.parameter, with_default.default.as_deref(), with_default.range)
                }
                ast::AnyParameterRef::Variadic(parameter) => {
                    // `*args` and `**kwargs` start at their stars.
                    let start = self.text[..usize::from(parameter.range.start())].trim_end_matches('*').len();
                    (parameter, None, TextRange::new(start.try_into().unwrap_or(parameter.range.start()), parameter.range.end()))
                }
            };
            params.push(Param {
                name: parameter.name.id.to_string(),
                annotation: parameter.annotation.as_deref().map(|annotation| self.text_of(annotation.range()).split_whitespace().collect()),
                default: default.map(|default| self.expr(default)),
                span: self.span(range),
            });
        }
        params
    }

    fn import_from(&mut self, statement: &ast::StmtImportFrom, span: Span) {
        let name = statement.module.as_ref().map(|module| module.id.as_str()).unwrap_or("");
        // `from __future__ import ...` is a compiler directive, not an import of a module.
        if statement.level == 0 && name == "__future__" {
            return;
        }
        let module = format!("{}{name}", ".".repeat(statement.level as usize));
        for alias in &statement.names {
            let imported = alias.name.id.to_string();
            let alias_name = alias.asname.as_ref().map_or_else(|| imported.clone(), |name| name.id.to_string());
            self.imports.push(Import { module: module.clone(), name: Some(imported), alias: alias_name, span });
        }
    }
}

// ----- expressions ----------------------------------------------------------------------

impl<'a> Converter<'a> {
    fn exprs(&mut self, expressions: &[ast::Expr]) -> Vec<Expr> {
        expressions.iter().map(|expression| self.expr(expression)).collect()
    }

    fn identifier(&self, identifier: &ast::Identifier) -> Expr {
        Expr { span: self.span(identifier.range), kind: ExprKind::Name(identifier.id.to_string()) }
    }

    fn expr(&mut self, expression: &ast::Expr) -> Expr {
        let span = self.span(expression.range());
        if self.depth > MAX_DEPTH {
            return Expr { span, kind: ExprKind::Other(Vec::new()) };
        }
        self.depth += 1;
        let kind = self.expr_kind(expression, span);
        self.depth -= 1;
        Expr { span, kind }
    }

    fn expr_kind(&mut self, expression: &ast::Expr, span: Span) -> ExprKind {
        match expression {
            ast::Expr::Name(name) => ExprKind::Name(name.id.to_string()),
            ast::Expr::Attribute(attribute) => {
                ExprKind::Attribute { object: Box::new(self.expr(&attribute.value)), name: attribute.attr.id.to_string() }
            }
            ast::Expr::Call(call) => self.call(call),
            ast::Expr::Await(inner) => ExprKind::Await(Box::new(self.expr(&inner.value))),
            ast::Expr::Subscript(subscript) => {
                let object = self.expr(&subscript.value);
                let index = match subscript.slice.as_ref() {
                    // `a[i, j]`: the indices, spanning the subscript.
                    ast::Expr::Tuple(tuple) if !tuple.parenthesized && tuple.elts.len() > 1 => {
                        Expr { span, kind: ExprKind::Sequence(self.exprs(&tuple.elts)) }
                    }
                    ast::Expr::Tuple(tuple) if !tuple.parenthesized && tuple.elts.len() == 1 => self.expr(&tuple.elts[0]),
                    index => self.expr(index),
                };
                ExprKind::Subscript { object: Box::new(object), index: Box::new(index) }
            }
            ast::Expr::StringLiteral(_) | ast::Expr::BytesLiteral(_) | ast::Expr::FString(_) | ast::Expr::TString(_) => {
                let mut parts = Vec::new();
                let text = self.string_content(expression, &mut parts);
                if parts.is_empty() { ExprKind::String(text) } else { ExprKind::Interpolated { text, parts } }
            }
            ast::Expr::NumberLiteral(_) => ExprKind::Number(self.text_of(expression.range()).to_string()),
            ast::Expr::BooleanLiteral(_) | ast::Expr::NoneLiteral(_) | ast::Expr::EllipsisLiteral(_) => {
                ExprKind::Constant(self.text_of(expression.range()).to_string())
            }
            ast::Expr::Compare(compare) => {
                let mut operands = Vec::with_capacity(compare.comparators.len() + 1);
                operands.push(self.expr(&compare.left));
                operands.extend(compare.comparators.iter().map(|comparator| self.expr(comparator)));
                let operators = compare.ops.iter().map(|operator| operator.as_str().to_string()).collect();
                ExprKind::Compare { operands, operators }
            }
            ast::Expr::BoolOp(boolean) => {
                let operator = match boolean.op {
                    ast::BoolOp::Or => BoolOp::Or,
                    ast::BoolOp::And => BoolOp::And,
                };
                let mut operands = Vec::with_capacity(boolean.values.len());
                for value in &boolean.values {
                    let operand = self.expr(value);
                    match operand.kind {
                        // `a and (b and c)` reads as one chain.
                        ExprKind::Bool { operator: inner_operator, operands: inner } if inner_operator == operator => {
                            operands.extend(inner)
                        }
                        _ => operands.push(operand),
                    }
                }
                ExprKind::Bool { operator, operands }
            }
            ast::Expr::UnaryOp(unary) if unary.op == ast::UnaryOp::Not => ExprKind::Not(Box::new(self.expr(&unary.operand))),
            ast::Expr::UnaryOp(unary) => ExprKind::Other(vec![self.expr(&unary.operand)]),
            ast::Expr::BinOp(binary) => ExprKind::Other(vec![self.expr(&binary.left), self.expr(&binary.right)]),
            ast::Expr::If(conditional) => {
                let then_value = Box::new(self.expr(&conditional.body));
                let condition = Box::new(self.expr(&conditional.test));
                let else_value = Box::new(self.expr(&conditional.orelse));
                ExprKind::Conditional { condition, then_value, else_value }
            }
            ast::Expr::Lambda(lambda) => ExprKind::Lambda { body: Box::new(self.expr(&lambda.body)) },
            ast::Expr::ListComp(ast::ExprListComp { elt, generators, .. })
            | ast::Expr::SetComp(ast::ExprSetComp { elt, generators, .. })
            | ast::Expr::Generator(ast::ExprGenerator { elt, generators, .. }) => {
                let body = self.expr(elt);
                self.comprehension(body, generators)
            }
            ast::Expr::DictComp(comprehension) => {
                let mut pair = Vec::with_capacity(2);
                pair.extend(comprehension.key.as_deref().map(|key| self.expr(key)));
                pair.push(self.expr(&comprehension.value));
                let start = pair.first().map_or(span.start_byte, |part| part.span.start_byte);
                let end = pair.last().map_or(span.end_byte, |part| part.span.end_byte);
                let body = Expr { span: self.span_between(start, end), kind: ExprKind::Other(pair) };
                self.comprehension(body, &comprehension.generators)
            }
            ast::Expr::Tuple(ast::ExprTuple { elts, .. })
            | ast::Expr::List(ast::ExprList { elts, .. })
            | ast::Expr::Set(ast::ExprSet { elts, .. }) => ExprKind::Sequence(self.exprs(elts)),
            ast::Expr::Dict(dict) => {
                let mut entries = Vec::with_capacity(dict.items.len());
                for item in &dict.items {
                    let value = self.expr(&item.value);
                    match &item.key {
                        Some(key) => entries.push((Some(self.expr(key)), value)),
                        None => {
                            // `**d`: the splat, from its stars.
                            let before = self.text[..value.span.start_byte].trim_end();
                            let start = if before.ends_with("**") { before.len() - 2 } else { value.span.start_byte };
                            let splat = Expr { span: self.span_between(start, value.span.end_byte), kind: ExprKind::Other(vec![value]) };
                            entries.push((None, splat));
                        }
                    }
                }
                ExprKind::Dict(entries)
            }
            ast::Expr::Starred(starred) => ExprKind::Other(vec![self.expr(&starred.value)]),
            ast::Expr::Named(named) => ExprKind::Other(vec![self.expr(&named.target), self.expr(&named.value)]),
            ast::Expr::Yield(inner) => ExprKind::Other(inner.value.as_deref().map(|value| self.expr(value)).into_iter().collect()),
            ast::Expr::YieldFrom(inner) => ExprKind::Other(vec![self.expr(&inner.value)]),
            ast::Expr::Slice(slice) => {
                let parts = [&slice.lower, &slice.upper, &slice.step];
                ExprKind::Other(parts.into_iter().filter_map(|part| part.as_deref()).map(|part| self.expr(part)).collect())
            }
            ast::Expr::IpyEscapeCommand(_) => ExprKind::Other(Vec::new()),
        }
    }

    /// A comprehension: its body, then each `for` clause (target and iterable) and `if`
    /// filter in source order; the `for` targets are the names it binds.
    fn comprehension(&mut self, body: Expr, generators: &[ast::Comprehension]) -> ExprKind {
        let mut parts = vec![body];
        let mut targets = Vec::with_capacity(generators.len());
        for generator in generators {
            let target = self.expr(&generator.target);
            let iter = self.expr(&generator.iter);
            let clause = self.span_between(usize::from(generator.range.start()), iter.span.end_byte);
            targets.push(target.clone());
            parts.push(Expr { span: clause, kind: ExprKind::Other(vec![target, iter]) });
            for condition in &generator.ifs {
                let condition = self.expr(condition);
                let start = self.keyword_before(condition.span.start_byte, "if").unwrap_or(condition.span.start_byte);
                let clause = self.span_between(start, condition.span.end_byte);
                parts.push(Expr { span: clause, kind: ExprKind::Other(vec![condition]) });
            }
        }
        ExprKind::Comprehension { parts, targets }
    }

    fn call(&mut self, call: &ast::ExprCall) -> ExprKind {
        let callee = self.expr(&call.func);
        let mut args = Vec::with_capacity(call.arguments.args.len());
        let mut keywords = Vec::with_capacity(call.arguments.keywords.len());
        let mut has_splat = false;
        for argument in call.arguments.iter_source_order() {
            match argument {
                ast::ArgOrKeyword::Arg(argument) => {
                    has_splat |= argument.is_starred_expr();
                    args.push(self.expr(argument));
                }
                ast::ArgOrKeyword::Keyword(keyword) => match &keyword.arg {
                    Some(name) => keywords.push((name.id.to_string(), self.expr(&keyword.value))),
                    None => {
                        has_splat = true;
                        let value = self.expr(&keyword.value);
                        args.push(Expr { span: self.span(keyword.range), kind: ExprKind::Other(vec![value]) });
                    }
                },
            }
        }
        ExprKind::Call(Call { callee: Box::new(callee), args, keywords, has_splat })
    }

    /// The text of a string as written between its quotes (implicitly concatenated parts
    /// joined); an f-string's interpolations are kept as `{expression}` and their
    /// expressions go to `parts`.
    fn string_content(&mut self, expression: &ast::Expr, parts: &mut Vec<Expr>) -> String {
        let mut content = String::new();
        match expression {
            ast::Expr::StringLiteral(string) => {
                for part in string.value.iter() {
                    content.push_str(self.inner_text(part.range, part.flags));
                }
            }
            ast::Expr::BytesLiteral(bytes) => {
                for part in bytes.value.iter() {
                    content.push_str(self.inner_text(part.range, part.flags));
                }
            }
            ast::Expr::FString(string) => {
                for part in string.value.iter() {
                    match part {
                        ast::FStringPart::Literal(literal) => content.push_str(self.inner_text(literal.range, literal.flags)),
                        ast::FStringPart::FString(interpolated) => self.interpolated(&interpolated.elements, &mut content, parts),
                    }
                }
            }
            ast::Expr::TString(string) => {
                for part in string.value.iter() {
                    self.interpolated(&part.elements, &mut content, parts);
                }
            }
            _ => {}
        }
        content
    }

    fn interpolated(&mut self, elements: &ast::InterpolatedStringElements, content: &mut String, parts: &mut Vec<Expr>) {
        for element in elements.iter() {
            match element {
                ast::InterpolatedStringElement::Literal(literal) => content.push_str(self.text_of(literal.range)),
                ast::InterpolatedStringElement::Interpolation(interpolation) => {
                    content.push('{');
                    content.push_str(self.text_of(interpolation.range).trim_start_matches('{').trim_end_matches('}'));
                    content.push('}');
                    parts.push(self.expr(&interpolation.expression));
                }
            }
        }
    }

    /// A string part's text between its opening and closing quotes.
    fn inner_text(&self, range: TextRange, flags: impl StringFlags) -> &'a str {
        let start = usize::from(range.start() + flags.opener_len());
        let end = usize::from(range.end()).saturating_sub(usize::from(flags.closer_len())).max(start);
        self.text.get(start..end).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(text: &str) -> FileFacts {
        extract(text, ExtractOptions { outline: false, comments_with: Some("#") }).expect("parses")
    }

    fn count_calls(block: &Block, name: &str) -> usize {
        let mut count = 0;
        for stmt in &block.statements {
            for expr in stmt.expressions() {
                expr.walk(&mut |part| {
                    if let ExprKind::Call(call) = &part.kind
                        && matches!(&call.callee.kind, ExprKind::Attribute { name: called, .. } if called == name)
                    {
                        count += 1;
                    }
                });
            }
            for nested in stmt.blocks() {
                count += count_calls(nested, name);
            }
        }
        count
    }

    #[test]
    fn elif_becomes_a_nested_if_in_the_else_branch() {
        let facts = facts("if a:\n    x = 1\nelif b:\n    y = r.json()\nelse:\n    z = 3\n");
        let module = facts.module().expect("module");
        let StmtKind::If { else_block: Some(else_block), .. } = &module.body.statements[0].kind else { panic!("an if") };
        let StmtKind::If { condition, else_block: Some(last), .. } = &else_block.statements[0].kind else { panic!("elif is an if") };
        assert_eq!(condition.as_name(), Some("b"));
        assert_eq!(last.statements.len(), 1);
        assert_eq!(count_calls(&module.body, "json"), 1);
    }

    #[test]
    fn match_keeps_its_subject_once_and_every_case_body() {
        let facts = facts("match r.json():\n    case {\"a\": 1}:\n        x = s.json()\n    case _:\n        y = t.json()\n");
        let module = facts.module().expect("module");
        assert_eq!(count_calls(&module.body, "json"), 3, "the subject once, each case body once");
    }

    #[test]
    fn a_very_long_elif_chain_stays_shallow() {
        let mut text = String::from("if a == 0:\n    pass\n");
        for index in 1..5000 {
            text.push_str(&format!("elif a == {index}:\n    x = r.json()\n"));
        }
        let facts = facts(&text);
        let module = facts.module().expect("module");
        assert_eq!(count_calls(&module.body, "json"), 4999, "every branch is kept");
        fn depth(block: &Block) -> usize {
            block.statements.iter().map(|stmt| 1 + stmt.blocks().map(depth).max().unwrap_or(0)).max().unwrap_or(0)
        }
        assert!(depth(&module.body) <= MAX_DEPTH + 2, "depth {}", depth(&module.body));
    }

    #[test]
    fn nesting_deeper_than_the_stack_allows_is_parsed_on_a_thread_with_room() {
        // A chain of unary minus signs, one byte a level: the parser's syntax tree is as deep
        // as the file is long, deeper than this thread's stack would hold.
        let text = format!("x = {}a\nafter = r.json()\n", "-".repeat(400_000));
        let facts = facts(&text);
        let module = facts.module().expect("module");
        assert_eq!(module.body.statements.len(), 2);
        assert_eq!(count_calls(&module.body, "json"), 1, "the statement after the chain is read");
    }

    #[test]
    fn multiline_strings_are_found_whole() {
        let text = "a = '''x\ny'''\nb = f\"\"\"{a}\n{f'{1}'}\"\"\"\nc = 'one line'\n";
        let strings = multiline_strings(text).expect("parses");
        let texts: Vec<&str> = strings.iter().map(|(start, end)| &text[*start..*end]).collect();
        assert_eq!(texts, vec!["'''x\ny'''", "f\"\"\"{a}\n{f'{1}'}\"\"\""]);
    }

    #[test]
    fn blocks_end_with_the_comments_they_keep() {
        let text = "def f():\n    try:\n        x = 1\n    except E:\n        y = 2  # inline\n        # same\n    # outer\n\n# col0\ndef g(): pass  # c\n    # odd\n";
        let facts = facts(text);
        let function = |name: &str| facts.functions.iter().find(|function| function.name == name).expect("function");
        let f = function("f");
        assert!(text[f.span.start_byte..f.span.end_byte].ends_with("\n    # outer"));
        let StmtKind::Try { handlers, .. } = &f.body.statements[0].kind else { panic!("a try") };
        assert!(text[handlers[0].span.start_byte..handlers[0].span.end_byte].ends_with("y = 2  # inline\n        # same"));
        let g = function("g");
        assert_eq!(&text[g.span.start_byte..g.span.end_byte], "def g(): pass  # c");
    }

    #[test]
    fn a_decorated_definition_starts_at_its_keyword() {
        let facts = facts("@router.get(\"/x\")\nasync def handler():\n    pass\n\n@dataclass\nclass Token:\n    value: str\n");
        let handler = facts.functions.iter().find(|function| function.name == "handler").expect("function");
        assert_eq!((handler.span.start.line, handler.span.start.column), (1, 0));
        assert_eq!(handler.decorators.len(), 1);
        assert_eq!((facts.classes[0].span.start.line, facts.classes[0].span.start.column), (5, 0));
    }

    #[test]
    fn comments_are_found_anywhere_when_asked_for() {
        let text = "x = (u and  # oauth-audit: ignore\n     r.json())\ny = r.headers[  # second oauth-audit: x\n    'content-type']\ns = 'oauth-audit: not a comment'\n";
        let with_comments = extract(text, ExtractOptions { outline: false, comments_with: Some("oauth-audit:") }).expect("parses");
        let texts: Vec<&str> = with_comments.comments.iter().map(|comment| comment.text.as_str()).collect();
        assert_eq!(texts, vec!["# oauth-audit: ignore", "# second oauth-audit: x"]);
        let without = extract(text, ExtractOptions::default()).expect("parses");
        assert!(without.comments.is_empty());
    }

    #[test]
    fn syntax_errors_are_counted_and_located() {
        let facts = facts("def ok():\n    return 1\n\ndef broken(:\n    return (1,\n");
        assert!(facts.syntax_errors >= 1);
        let first = facts.first_syntax_error.expect("located");
        assert_eq!(first.start.line, 3);
        assert!(facts.functions.iter().any(|function| function.name == "ok"), "what parsed is kept");
        let clean = super::extract("x = 1\n", ExtractOptions::default()).expect("parses");
        assert_eq!((clean.syntax_errors, clean.first_syntax_error), (0, None));
    }

    #[test]
    fn outline_keeps_decorators_and_drops_bodies() {
        let text =
            "router = APIRouter(prefix=\"/api/zoom\")\n\n@router.get(\"/callback\")\nasync def callback(code: str):\n    return r.json()\n";
        let outline = extract(text, ExtractOptions { outline: true, comments_with: None }).expect("parses");
        let callback = outline.functions.iter().find(|function| function.name == "callback").expect("function");
        assert_eq!(callback.decorators.len(), 1);
        assert_eq!(callback.params[0].name, "code");
        assert!(callback.body.statements.is_empty());
    }
}
