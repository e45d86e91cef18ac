//! Language frontends: syntax to the language-neutral facts of [`crate::facts`].

pub mod python;
pub mod rust;
pub mod typescript;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum FrontendError {
    #[error("could not load the grammar: {0}")]
    Grammar(String),
    #[error("parsing took longer than {0} s and was abandoned")]
    ParseTimeout(u64),
    #[error("no {0} frontend yet")]
    Unsupported(&'static str),
    /// A file the parser cannot read (1-based line and character column).
    #[error("syntax error at line {line}, column {column}: {message}")]
    Syntax { line: usize, column: usize, message: String },
    #[error("internal error in the frontend: {0}")]
    Internal(String),
}

use crate::facts::{Block, Expr, FileFacts, Function, FunctionId, Language, Point, Span, Stmt, StmtKind};

/// What to read besides declarations and statements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Declarations only: functions keep decorators and parameters, not their bodies.
    /// Enough to group a file by its routes, at a fraction of the cost.
    pub outline: bool,
    /// Comments holding this text (suppression markers): found from the text's
    /// occurrences, not by walking the tree. `None`: no comments.
    pub comments_with: Option<&'static str>,
}

/// The facts of one file in the given language.
pub fn extract(language: Language, text: &str, options: ExtractOptions) -> Result<FileFacts, FrontendError> {
    match language {
        Language::Python => python::extract(text, options),
        Language::Rust => rust::extract(text, options),
        Language::TypeScript => typescript_without_path(text, options),
    }
}

/// The facts of a file, read with the grammar its extension asks for (TSX for `.tsx` and
/// `.jsx`, TypeScript for the other TypeScript and JavaScript files).
pub fn extract_path(language: Language, path: &str, text: &str, options: ExtractOptions) -> Result<FileFacts, FrontendError> {
    match (language, typescript_dialect(path)) {
        (Language::TypeScript, Some(dialect)) => typescript::extract(text, dialect, options),
        _ => extract(language, text, options),
    }
}

/// Parses a file with its frontend's parser and nothing more (Ruff's for Python, tree-sitter
/// for TypeScript, syn for Rust), in the grammar [`extract_path`] would use: the floor a
/// benchmark compares a scan with. False when the parser gives up.
pub fn parse_only(language: Language, path: &str, text: &str) -> bool {
    match language {
        Language::Python => python::parse_only(text),
        Language::TypeScript => typescript::parse_only(text, typescript_dialect(path).unwrap_or(typescript::Dialect::TypeScript)),
        Language::Rust => syn::parse_file(text).is_ok(),
    }
}

/// The TypeScript grammar a path asks for, when its extension names one.
pub fn typescript_dialect(path: &str) -> Option<typescript::Dialect> {
    let extension = path.rsplit_once('.').map(|(_, extension)| extension)?;
    match extension {
        "tsx" | "jsx" => Some(typescript::Dialect::Tsx),
        other if TYPESCRIPT_EXTENSIONS.contains(&other) => Some(typescript::Dialect::TypeScript),
        _ => None,
    }
}

/// The extensions the TypeScript frontend reads (JavaScript included), in the order ES
/// module resolution tries them for a specifier that leaves its extension out.
pub const TYPESCRIPT_EXTENSIONS: &[&str] = &["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs"];

/// TypeScript text of unknown extension: the TypeScript grammar, or TSX when that reads
/// the text with fewer syntax errors (JSX).
fn typescript_without_path(text: &str, options: ExtractOptions) -> Result<FileFacts, FrontendError> {
    let plain = typescript::extract(text, typescript::Dialect::TypeScript, options)?;
    if plain.syntax_errors == 0 || !text.contains('<') {
        return Ok(plain);
    }
    match typescript::extract(text, typescript::Dialect::Tsx, options) {
        Ok(tsx) if tsx.syntax_errors < plain.syntax_errors => Ok(tsx),
        _ => Ok(plain),
    }
}

/// The byte offset of each line's start (lines end at `\n`), for frontends whose parser
/// gives byte offsets only.
fn line_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::with_capacity(memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1);
    starts.push(0);
    starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|newline| newline + 1));
    starts
}

/// Nests `branches` as `if a: .. else: if b: .. else: otherwise`, built from the end in a
/// loop. Past `budget` levels the remaining branches become siblings, so a chain of fifty
/// thousand `elif`s (or `else if`s, or match arms) stays shallow enough to walk.
fn if_chain(branches: Vec<(Expr, Block, Span)>, otherwise: Option<Block>, budget: usize) -> Option<Block> {
    if branches.is_empty() {
        return otherwise;
    }
    let budget = budget.max(1);
    let mut branches = branches;
    let overflow = if branches.len() > budget { branches.split_off(budget) } else { Vec::new() };
    let mut chain = otherwise;
    if !overflow.is_empty() {
        let mut flat: Vec<Stmt> = overflow
            .into_iter()
            .map(|(condition, then_block, span)| Stmt { span, kind: StmtKind::If { condition, then_block, else_block: None } })
            .collect();
        if let Some(block) = chain.take() {
            flat.extend(block.statements);
        }
        chain = Some(Block { statements: flat });
    }
    for (condition, then_block, span) in branches.into_iter().rev() {
        let stmt = Stmt { span, kind: StmtKind::If { condition, then_block, else_block: chain.take() } };
        chain = Some(Block { statements: vec![stmt] });
    }
    chain
}

// ----- shared by the tree-sitter frontends -----------------------------------------------

/// Where an error region really starts: an ERROR node often begins with constructs that
/// parsed fine (a whole valid function before the broken one), so skip its complete named
/// children and descend into the first part that is not.
fn error_start(error: tree_sitter::Node) -> tree_sitter::Node {
    let mut node = error;
    loop {
        let mut cursor = node.walk();
        let first_bad = node.children(&mut cursor).find(|child| !(child.is_named() && !child.has_error() && !child.is_missing()));
        match first_bad {
            Some(child) if child.has_error() && child.child_count() > 0 && child.id() != node.id() => node = child,
            Some(child) => return child,
            None => return node,
        }
    }
}

/// Calls `visit` on `root` and its descendants in document order, iteratively; below a node
/// only when `visit` returns true for it.
fn walk_nodes<'t>(root: tree_sitter::Node<'t>, mut visit: impl FnMut(tree_sitter::Node<'t>) -> bool) {
    let mut cursor = root.walk();
    loop {
        if visit(cursor.node()) && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

/// Syntax errors: a walk that descends only into subtrees holding one.
pub(crate) fn scan_errors(root: tree_sitter::Node) -> (usize, Option<Span>) {
    let mut errors = 0;
    let mut first_error = None;
    if !root.has_error() {
        return (0, None);
    }
    walk_nodes(root, |node| {
        if node.is_error() || node.is_missing() {
            errors += 1;
            if first_error.is_none() {
                first_error = Some(span_of(error_start(node)));
            }
        }
        node.has_error() && !node.is_error()
    });
    (errors, first_error)
}

pub(crate) fn span_of(node: tree_sitter::Node) -> Span {
    let start = node.start_position();
    let end = node.end_position();
    Span {
        start_byte: node.start_byte(),
        end_byte: node.end_byte(),
        start: Point { line: start.row, column: start.column },
        end: Point { line: end.row, column: end.column },
    }
}

/// Parses with `parser`, abandoning a parse that runs longer than `limit`.
pub(crate) fn parse_bounded(
    parser: &mut tree_sitter::Parser,
    text: &str,
    limit: std::time::Duration,
) -> Result<tree_sitter::Tree, FrontendError> {
    let started = std::time::Instant::now();
    let mut progress = |_: &tree_sitter::ParseState| {
        if started.elapsed() > limit { std::ops::ControlFlow::Break(()) } else { std::ops::ControlFlow::Continue(()) }
    };
    let bytes = text.as_bytes();
    let mut input = |offset: usize, _: tree_sitter::Point| bytes.get(offset..).unwrap_or(&[]);
    let options = tree_sitter::ParseOptions::new().progress_callback(&mut progress);
    let tree = parser.parse_with_options(&mut input, None, Some(options));
    // A cancelled parse leaves state behind that would leak into the next file.
    parser.reset();
    tree.ok_or(FrontendError::ParseTimeout(limit.as_secs()))
}

/// A function with its place and name, before its parameters and body are read.
pub(crate) fn empty_function(
    id: FunctionId,
    name: String,
    parent: Option<FunctionId>,
    span: Span,
    name_span: Span,
    is_async: bool,
) -> Function {
    Function {
        id,
        name,
        class: None,
        parent,
        span,
        name_span,
        is_async,
        params: Vec::new(),
        decorators: Vec::new(),
        body: Block::default(),
    }
}
