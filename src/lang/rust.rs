//! Rust frontend: `syn` syntax to [`FileFacts`].
//!
//! The facts model was drawn for Python; Rust maps onto it as follows, so that rules
//! written against the facts read Rust without knowing the language.
//!
//! - Functions: `fn` items, methods of `impl Type` and `impl Trait for Type` (`class` is
//!   the type's last path segment, generics dropped), trait methods with a default body
//!   (`class` is the trait), and `fn` items nested in bodies (a `FunctionDef` statement).
//!   Inline `mod name { .. }` blocks are flattened: their functions belong to the module.
//!   Attributes other than doc comments are `decorators`: `#[get("/cb")]` is
//!   `Call { callee: Name("get"), args: [String("/cb")] }`, `#[tokio::main]` the chain
//!   `tokio.main`, `name = value` arguments are keywords. A parameter is named by the
//!   binding of its pattern (`Query(params): Query<P>` is `params`, `&self` is `self`);
//!   a pattern binding several names gives one parameter per name. Annotations are the
//!   type as written, whitespace removed.
//! - Structs, enums, unions and traits are classes (`bases` empty). `impl` blocks and
//!   traits are `ClassDef` statements holding their methods' `FunctionDef`s and their
//!   associated consts (as assignments). `const` and `static` items are assignments.
//! - `use` trees give one import per leaf with `.` as separator: `use a::b::C as D` is
//!   module `a.b`, name `C`, alias `D`; `use reqwest;` is module `reqwest`, no name;
//!   `use a::b::{self}` is module `a.b`, no name, alias `b`. Globs are skipped.
//! - Paths are `Name`/`Attribute` chains (`reqwest.Client.new`), generics dropped.
//!   Method calls are calls of an attribute; `e.await` is `Await`; `e?` is `Try`; `&e`,
//!   `&mut e`, `*e`, `e as T` and parentheses are `e` itself; `!e` is `Not`; comparisons
//!   are `Compare`, `&&`/`||` are `Bool`; other operators, ranges and `-e` are `Other`.
//!   Tuples and arrays are sequences; struct literals are calls of the struct with its
//!   fields as keywords (`..base` sets `has_splat` and adds `Other([base])` to `args`).
//!   Closures and `async` blocks are `Lambda`s; a block body becomes `Other` holding the
//!   expressions of its statements. String, byte string and char literals are strings,
//!   `true`/`false` constants, `None` a plain name.
//! - Macros: `format!`, `print(ln)!`, `eprint(ln)!`, `write(ln)!`, `panic!`, `anyhow!`,
//!   `bail!`, `unreachable!`, `todo!`, `unimplemented!`, `format_args!` with a literal
//!   format string are `Interpolated` (the other arguments, then the `{name}` captures
//!   as names spanning the literal), or a `String` when there is nothing to interpolate.
//!   `json!` is a call of `json!` with the JSON value as argument: objects are `Dict`s
//!   with string keys, arrays sequences. Any other macro is a call of a `Name` holding
//!   its path and `!` (`vec!`, `sqlx.query!`, `tracing.warn!`) with its comma-separated
//!   arguments, each parsed on its own when the whole does not parse (`name = value` and
//!   tracing's `name: value` are keywords, `%`/`?` sigils dropped); in logging and assert
//!   macros a literal with `{name}` captures is `Interpolated`.
//! - Statements: `let p = e` is an assignment to the pattern (`mut x` and `x: T` are `x`,
//!   tuples sequences, `Ok(x)`, `Some(x)` and struct patterns `Other` of their bindings);
//!   `let p;` is `Other([p])`; `a = b` and `a += b` are assignments. Blocks, `unsafe` and
//!   `const` blocks in statement position are inlined. `for`, `while`, `while let` (the
//!   pattern is the loop's target) and `loop` (condition `true`) are loops. `panic!`,
//!   `bail!`, `unreachable!`, `todo!` and `unimplemented!` statements are `Raise`.
//! - Values: the tail expression of a function body is a `Return`. A `match`, `if` or
//!   block that gives the value of a `let`, of an assignment's right side or of a
//!   function's tail is lowered into statements whose branches end in the assignment (or
//!   return) of their own tail, so the control flow stays visible; elsewhere (arguments,
//!   operands) it is `Other` holding the expressions of its statements.
//! - Error handling is a `Try`: `match e { Ok(v) => A, Err(err) => B }` is `Try { body:
//!   [v = e, A..], handlers: [Handler { name: "err", body: B }] }` (`Expr(e)` first when
//!   the `Ok` arm binds nothing; several `Ok` arms become an `if` chain in the body). Each
//!   `Err(..)` arm is a handler, and so is a catch-all (`_`, `other`) arm after an `Ok`
//!   arm. A handler's `types` are empty for `Err(e)`/`Err(_)` (catch-all) and hold the
//!   pattern's path for `Err(Error::Timeout)`; a guard is an `Other([guard])` statement
//!   first in the handler. `if let Err(e) = x { B } else { C }` is `Try { body: [x],
//!   handlers: [B], else_block: C }`; `if let Ok(v) = x { A } else { B }` is `Try { body:
//!   [v = x, A..], handlers: [B] }` (an empty handler without `else`); `let Ok(v) = x
//!   else { B };` is `Try { body: [v = x], handlers: [B] }`. Any other `let .. else` is an
//!   assignment followed by `If { condition: Other([pattern]), then_block: else-block }`.
//!   Any other `match` is its subject as `Other([subject])` followed by an `if` chain
//!   whose conditions are `Other([pattern, guard])`, as for Python's `match`; `if let p =
//!   e` has the condition `Other([p, e])`.
//!
//! Total on any input: syn has no error recovery, so a file it cannot parse is a
//! [`FrontendError::Syntax`] with the position of the error (1-based line and character
//! column). syn's parser and its tree's destructor recurse, so a file whose nesting
//! (delimiters, prefix operators, generic arguments, ..., estimated by a scan of the
//! text) passes [`MAX_NESTING`] is refused the same way, and parsing runs on a parser
//! thread with a stack large enough for that and for the file's size (one long-lived
//! thread per calling thread; a panic there is a [`FrontendError::Internal`]). The
//! conversion itself stops at [`MAX_DEPTH`] like the Python frontend. Comments (only
//! those holding `comments_with`) come from the same scan, which skips strings, raw
//! strings, character literals and lifetimes.

use proc_macro2::{Delimiter, LineColumn, Spacing, TokenStream, TokenTree};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;

use crate::facts::*;
use crate::lang::{ExtractOptions, FrontendError};

type TokenSpan = proc_macro2::Span;

/// Expressions or statements nested deeper than this are kept as opaque `Other` nodes.
const MAX_DEPTH: usize = 200;

/// Files whose estimated parser recursion passes this are refused before parsing.
/// Ordinary code stays under a hundred; each level costs syn up to 60 KB of stack in a
/// debug build.
pub const MAX_NESTING: usize = 1000;

/// Parser thread stack: room for [`MAX_NESTING`] levels, plus room per byte of input
/// for the recursive destruction of long left-leaning chains (`a + b + c ...`,
/// `x.f().g()...`), which syn parses in a loop but drops recursively. Only the pages a
/// parse touches are ever committed.
const STACK_BASE: usize = 256 << 20;
const STACK_PER_BYTE: usize = 64;

/// Paths with more segments than this keep only their first ones (facts stay shallow).
const MAX_PATH_SEGMENTS: usize = 64;

/// Macros whose format string is the first argument (`write!`'s is the second).
const FORMAT_MACROS: &[&str] = &[
    "format",
    "format_args",
    "print",
    "println",
    "eprint",
    "eprintln",
    "write",
    "writeln",
    "panic",
    "anyhow",
    "bail",
    "unreachable",
    "todo",
    "unimplemented",
];

/// Macros that never return, as statements.
const RAISING_MACROS: &[&str] = &["panic", "bail", "unreachable", "todo", "unimplemented"];

/// Macros whose string arguments may capture names (`warn!("failed: {error}")`).
const CAPTURING_MACROS: &[&str] = &[
    "trace",
    "debug",
    "info",
    "warn",
    "error",
    "event",
    "log",
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "ensure",
];

/// Reads the facts of one Rust file.
pub fn extract(text: &str, options: ExtractOptions) -> Result<FileFacts, FrontendError> {
    let stack_size = STACK_BASE.saturating_add(text.len().saturating_mul(STACK_PER_BYTE));
    if stack_size <= WORKER_STACK {
        return parser_thread::read(text, options);
    }
    // Larger than the usual file limit: a thread of its own, sized for it.
    std::thread::scope(|scope| {
        let worker =
            std::thread::Builder::new().name("rust-frontend".into()).stack_size(stack_size).spawn_scoped(scope, || read(text, options));
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|panic| Err(panicked(&*panic))),
            Err(error) => Err(FrontendError::Internal(format!("could not start the parser thread: {error}"))),
        }
    })
}

/// Stack of the long-lived parser threads: enough for files up to 2 MB (the default size
/// limit); larger ones get a thread of their own.
const WORKER_STACK: usize = STACK_BASE + (2 << 20) * STACK_PER_BYTE;

/// One parser thread per calling thread, kept for the next file: starting a thread (and
/// its allocator heap) per file costs a quarter of the parse.
mod parser_thread {
    use std::cell::RefCell;
    use std::sync::mpsc;

    use super::*;

    struct Job {
        text: String,
        options: ExtractOptions,
        reply: mpsc::Sender<Result<FileFacts, FrontendError>>,
    }

    thread_local! {
        static JOBS: RefCell<Option<mpsc::Sender<Job>>> = const { RefCell::new(None) };
    }

    pub(super) fn read(text: &str, options: ExtractOptions) -> Result<FileFacts, FrontendError> {
        JOBS.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(start()?);
            }
            let Some(jobs) = slot.as_ref() else {
                return Err(FrontendError::Internal("no parser thread".into()));
            };
            let (reply, answer) = mpsc::channel();
            if jobs.send(Job { text: text.to_owned(), options, reply }).is_err() {
                *slot = None;
                return Err(FrontendError::Internal("the parser thread stopped".into()));
            }
            answer.recv().unwrap_or_else(|_| {
                *slot = None;
                Err(FrontendError::Internal("the parser thread stopped".into()))
            })
        })
    }

    fn start() -> Result<mpsc::Sender<Job>, FrontendError> {
        let (jobs, received) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("rust-frontend".into())
            .stack_size(WORKER_STACK)
            .spawn(move || {
                // Ends when the calling thread, which holds the sender, ends.
                for job in received {
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| super::read(&job.text, job.options)))
                        .unwrap_or_else(|panic| Err(panicked(&*panic)));
                    // proc-macro2 keeps every parsed text in a per-thread source map.
                    proc_macro2::extra::invalidate_current_thread_spans();
                    let _ = job.reply.send(result);
                }
            })
            .map_err(|error| FrontendError::Internal(format!("could not start the parser thread: {error}")))?;
        Ok(jobs)
    }
}

fn panicked(panic: &(dyn std::any::Any + Send)) -> FrontendError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|message| message.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the parser panicked".into());
    FrontendError::Internal(message)
}

/// Scans, parses and converts, on a parser thread.
fn read(text: &str, options: ExtractOptions) -> Result<FileFacts, FrontendError> {
    let lines = LineIndex::new(text);
    let scan = scan(text, options.comments_with, &lines);
    if let Some(offset) = scan.too_deep {
        let point = lines.point_at(offset);
        return Err(FrontendError::Syntax {
            line: point.line + 1,
            column: lines.char_column(point) + 1,
            message: format!("nesting deeper than {MAX_NESTING} levels; not parsed"),
        });
    }
    parse_and_convert(text, &lines, options, scan.comments)
}

/// Parses and converts on the current (parser) thread. The syn tree is dropped here too:
/// its destructor is as recursive as the parser.
fn parse_and_convert(text: &str, lines: &LineIndex, options: ExtractOptions, comments: Vec<Comment>) -> Result<FileFacts, FrontendError> {
    let file = syn::parse_file(text).map_err(|error| syntax_error(&error, lines))?;
    let mut converter = Converter {
        lines,
        outline: options.outline,
        functions: Vec::new(),
        classes: Vec::new(),
        imports: Vec::new(),
        function_stack: Vec::new(),
        depth: 0,
    };
    let whole = lines.whole();
    converter.functions.push(Function {
        id: FunctionId(0),
        name: "<module>".into(),
        class: None,
        parent: None,
        span: whole,
        name_span: whole,
        is_async: false,
        params: Vec::new(),
        decorators: Vec::new(),
        body: Block::default(),
    });
    let mut statements = Vec::new();
    converter.items_into(&file.items, &mut statements);
    if let Some(module) = converter.functions.first_mut() {
        module.body = Block { statements };
    }
    Ok(FileFacts {
        language: Language::Rust,
        functions: converter.functions,
        classes: converter.classes,
        imports: converter.imports,
        comments,
        syntax_errors: 0,
        first_syntax_error: None,
    })
}

fn syntax_error(error: &syn::Error, lines: &LineIndex) -> FrontendError {
    let mut message = error.to_string();
    if message == "cannot parse string into token stream" {
        message = "unbalanced delimiter".into();
    }
    // At the top level, syn places a missing end nowhere (an empty span at 0).
    let span = error.span();
    let point = if span.byte_range() == (0..0) && message.starts_with("unexpected end of input") {
        lines.point_at(lines.text.len())
    } else {
        lines.location(span.start()).1
    };
    FrontendError::Syntax { line: point.line + 1, column: lines.char_column(point) + 1, message }
}

// ----- positions ------------------------------------------------------------------------

/// Line starts of the text, to turn proc-macro2's positions (1-based line, 0-based
/// character column) into byte offsets and byte columns.
struct LineIndex<'t> {
    text: &'t str,
    starts: Vec<usize>,
    /// Per line, for lines holding non-ASCII text: the byte column of every
    /// `CHECKPOINT`-th character (empty for ASCII lines, whose columns are the same).
    checkpoints: Vec<Vec<usize>>,
    /// syn skips a byte order mark, so its columns on the first line are one short.
    bom: bool,
}

const CHECKPOINT: usize = 32;

impl<'t> LineIndex<'t> {
    fn new(text: &'t str) -> Self {
        let starts = super::line_starts(text);
        let mut checkpoints = Vec::with_capacity(starts.len());
        for (line, &start) in starts.iter().enumerate() {
            let end = starts.get(line + 1).copied().unwrap_or(text.len());
            let line_text = text.get(start..end).unwrap_or("");
            if line_text.is_ascii() {
                checkpoints.push(Vec::new());
            } else {
                checkpoints.push(line_text.char_indices().step_by(CHECKPOINT).map(|(offset, _)| offset).collect());
            }
        }
        LineIndex { text, starts, checkpoints, bom: text.starts_with('\u{feff}') }
    }

    fn line_text(&self, line: usize) -> &'t str {
        let start = self.starts.get(line).copied().unwrap_or(self.text.len());
        let end = self.starts.get(line + 1).copied().unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or("")
    }

    /// Byte offset and point of a proc-macro2 position.
    fn location(&self, at: LineColumn) -> (usize, Point) {
        let line = at.line.saturating_sub(1);
        let Some(&start) = self.starts.get(line) else {
            return (self.text.len(), self.point_at(self.text.len()));
        };
        let chars = if self.bom && line == 0 { at.column + 1 } else { at.column };
        let line_text = self.line_text(line);
        let column = match self.checkpoints.get(line) {
            None => chars.min(line_text.len()),
            Some(points) if points.is_empty() => chars.min(line_text.len()),
            Some(points) => {
                let index = chars / CHECKPOINT;
                match points.get(index) {
                    Some(&base) => line_text
                        .get(base..)
                        .and_then(|tail| tail.char_indices().nth(chars - index * CHECKPOINT))
                        .map(|(offset, _)| base + offset)
                        .unwrap_or(line_text.len()),
                    None => line_text.len(),
                }
            }
        };
        (start + column, Point { line, column })
    }

    /// The point of a byte offset.
    fn point_at(&self, offset: usize) -> Point {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|start| *start <= offset).saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        Point { line, column: offset - start }
    }

    /// The character column of a point (for messages).
    fn char_column(&self, point: Point) -> usize {
        self.line_text(point.line).get(..point.column).map(|head| head.chars().count()).unwrap_or(point.column)
    }

    fn span_of_bytes(&self, start: usize, end: usize) -> Span {
        Span { start_byte: start, end_byte: end, start: self.point_at(start), end: self.point_at(end) }
    }

    fn whole(&self) -> Span {
        self.span_of_bytes(0, self.text.len())
    }

    fn span(&self, token: TokenSpan) -> Span {
        let (start_byte, start) = self.location(token.start());
        let (end_byte, end) = self.location(token.end());
        if end_byte < start_byte {
            return Span { start_byte, end_byte: start_byte, start, end: start };
        }
        Span { start_byte, end_byte, start, end }
    }
}

/// From the start of `first` to the end of `last`.
fn join(first: Span, last: Span) -> Span {
    if last.end_byte < first.start_byte {
        return first;
    }
    Span { start_byte: first.start_byte, end_byte: last.end_byte, start: first.start, end: last.end }
}

// ----- the text scan: comments and nesting ----------------------------------------------

struct Scan {
    comments: Vec<Comment>,
    /// Where the nesting estimate first passed [`MAX_NESTING`].
    too_deep: Option<usize>,
}

/// A lexical token, as far as the nesting estimate cares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lexeme<'t> {
    /// An opening delimiter; `opaque` for the body of a macro or an attribute, which syn
    /// keeps as tokens.
    Open {
        opaque: bool,
    },
    Close {
        brace: bool,
    },
    /// `;`, `,` and `=>`: the end of a statement, argument or arm.
    Separator,
    Word(&'t str),
    Punct(&'t str),
    Other,
}

#[derive(Clone, Copy)]
struct Level {
    count: usize,
    opaque: bool,
    /// An attribute between statements: the statement continues after it.
    resumes: bool,
}

/// An upper estimate of how deep syn recurses over a stretch of tokens: the open
/// delimiters, plus, in each, the tokens since the last separator that may start a
/// nested expression, type or pattern (prefix operators, `=`, `<`, `::`, keywords). An
/// operator after an operand (`a | b`, `a - b`) is read in a loop, a statement keyword
/// after a closing brace starts a new statement, and `if` after `else` continues a chain
/// syn also reads in a loop: none of these adds up.
struct Nesting {
    levels: Vec<Level>,
    total: usize,
    statement_start: bool,
    /// After `#` (or `#!`) at the start of a statement.
    attribute_start: bool,
    after_else: bool,
    /// After the end of an operand (a name, a literal, a closing delimiter, `?`).
    after_operand: bool,
}

const PRONE_WORDS: &[&str] = &[
    "if", "match", "while", "for", "loop", "unsafe", "async", "move", "return", "break", "continue", "yield", "let", "const", "static",
    "mut", "ref", "dyn", "impl", "fn", "as", "box", "become", "raw", "safe", "extern", "use", "mod", "struct", "enum", "trait", "type",
    "pub", "where", "in",
];

const STATEMENT_WORDS: &[&str] = &[
    "let", "if", "match", "while", "for", "loop", "unsafe", "return", "break", "continue", "fn", "struct", "enum", "impl", "use", "mod",
    "pub", "const", "static", "trait", "type", "async", "extern",
];

const PRONE_PUNCTS: &[&str] = &["<", "<<", "=", "+=", "-=", "*=", "/=", "%=", "^=", "&=", "|=", "<<=", ">>=", "@", "->", "::", ":"];

/// Operators that nest only as prefixes: after an operand they are binary (or `|` between
/// patterns), which syn reads in a loop.
const PREFIX_PUNCTS: &[&str] = &["!", "-", "*", "&", "&&", "|", "||", "..", "..=", "..."];

/// Keywords that end an operand.
const OPERAND_WORDS: &[&str] = &["self", "Self", "super", "crate", "true", "false", "await"];

/// Every operator the lexers produce, to keep token-tree operators as `'static` text.
const PUNCTS: &[&str] = &[
    "..=", "...", "<<=", ">>=", "::", "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=", "%=", "^=", "&=", "|=", "<<",
    ">>", "..", "!", "-", "*", "&", "|", "<", ">", "=", "@", ":", "#", "+", "/", "%", "^", ".", "$", "~", "?",
];

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop",
    "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe",
    "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof",
    "unsized", "virtual", "yield", "try", "gen",
];

impl Nesting {
    fn new() -> Self {
        Nesting {
            levels: vec![Level { count: 0, opaque: false, resumes: false }],
            total: 1,
            statement_start: true,
            attribute_start: false,
            after_else: false,
            after_operand: false,
        }
    }

    fn top(&mut self) -> &mut Level {
        if self.levels.is_empty() {
            self.levels.push(Level { count: 0, opaque: false, resumes: false });
        }
        let last = self.levels.len() - 1;
        &mut self.levels[last]
    }

    fn count(&mut self) {
        let level = self.top();
        if !level.opaque {
            level.count += 1;
            self.total += 1;
        }
    }

    /// Takes back the count of a `!` that turned out to be a macro's (`name! {`).
    fn forget_bang(&mut self) {
        let level = self.top();
        if level.count > 0 {
            level.count -= 1;
            self.total = self.total.saturating_sub(1);
        }
    }

    fn reset(&mut self) {
        let level = self.top();
        let count = std::mem::take(&mut level.count);
        self.total = self.total.saturating_sub(count);
    }

    /// Feeds one token; the estimate after it.
    fn feed(&mut self, lexeme: Lexeme) -> usize {
        let statement_start = std::mem::take(&mut self.statement_start);
        let attribute_start = std::mem::take(&mut self.attribute_start);
        let after_else = std::mem::take(&mut self.after_else);
        let after_operand = std::mem::replace(
            &mut self.after_operand,
            match lexeme {
                Lexeme::Close { .. } | Lexeme::Other | Lexeme::Punct("?") => true,
                Lexeme::Word(word) => !KEYWORDS.contains(&word) || OPERAND_WORDS.contains(&word),
                _ => false,
            },
        );
        match lexeme {
            Lexeme::Open { opaque } => {
                let opaque = opaque || self.top().opaque;
                self.levels.push(Level { count: 0, opaque, resumes: attribute_start });
                self.total += 1;
                self.statement_start = true;
            }
            Lexeme::Close { brace } => {
                let mut resumes = false;
                if self.levels.len() > 1
                    && let Some(level) = self.levels.pop()
                {
                    self.total = self.total.saturating_sub(level.count + 1);
                    resumes = level.resumes;
                }
                self.statement_start = brace || resumes;
            }
            Lexeme::Separator => {
                self.reset();
                self.statement_start = true;
            }
            Lexeme::Word("else") => self.after_else = true,
            Lexeme::Word(word) => {
                if word == "if" && after_else {
                    // `else if`: syn reads the chain in a loop.
                } else if PRONE_WORDS.contains(&word) {
                    if statement_start && STATEMENT_WORDS.contains(&word) {
                        self.reset();
                    }
                    self.count();
                }
            }
            Lexeme::Punct("#") if statement_start => self.attribute_start = true,
            Lexeme::Punct("!") if attribute_start => self.attribute_start = true,
            Lexeme::Punct(punct) => {
                if PRONE_PUNCTS.contains(&punct) || (PREFIX_PUNCTS.contains(&punct) && !after_operand) {
                    self.count();
                    // `&&x` is two references.
                    if punct == "&&" {
                        self.count();
                    }
                }
            }
            Lexeme::Other => {}
        }
        self.total
    }
}

/// Recent tokens, to tell a macro's or an attribute's body from other groups.
#[derive(Default)]
struct Recent<'t> {
    last: [Option<Lexeme<'t>>; 3],
}

impl<'t> Recent<'t> {
    fn push(&mut self, lexeme: Lexeme<'t>) {
        self.last = [Some(lexeme), self.last[0], self.last[1]];
    }

    /// Whether a group opened now is a macro's body: `name!(..)`.
    fn opens_macro(&self) -> bool {
        let is_identifier = |lexeme: Option<Lexeme>| matches!(lexeme, Some(Lexeme::Word(word)) if !KEYWORDS.contains(&word));
        matches!(self.last, [Some(Lexeme::Punct("!")), before, _] if is_identifier(before))
    }

    /// Whether a group opened now is kept as tokens by syn: `name!(..)`,
    /// `macro_rules! name {..}`, `#[..]`, `#![..]`.
    fn opens_opaque(&self, delimiter: u8) -> bool {
        match self.last {
            _ if self.opens_macro() => true,
            [Some(Lexeme::Word(_)), Some(Lexeme::Punct("!")), Some(Lexeme::Word("macro_rules"))] => true,
            [Some(Lexeme::Punct("#")), _, _] => delimiter == b'[',
            [Some(Lexeme::Punct("!")), Some(Lexeme::Punct("#")), _] => delimiter == b'[',
            _ => false,
        }
    }
}

/// One pass over the text: the comments holding `needle`, and the nesting estimate.
fn scan(text: &str, needle: Option<&str>, lines: &LineIndex) -> Scan {
    let bytes = text.as_bytes();
    let mut comments = Vec::new();
    let mut nesting = Nesting::new();
    let mut recent = Recent::default();
    let mut at = if text.starts_with('\u{feff}') { 3 } else { 0 };
    if bytes.get(at..at + 2) == Some(&b"#!"[..]) && !starts_inner_attribute(bytes, at + 2) {
        at = memchr::memchr(b'\n', &bytes[at..]).map(|newline| at + newline).unwrap_or(bytes.len());
    }
    while let Some(&byte) = bytes.get(at) {
        let start = at;
        let next = bytes.get(at + 1).copied();
        let lexeme = match byte {
            b'/' if next == Some(b'/') => {
                at = memchr::memchr(b'\n', &bytes[at..]).map(|newline| at + newline).unwrap_or(bytes.len());
                record_comment(text, lines, needle, start, at, &mut comments);
                continue;
            }
            b'/' if next == Some(b'*') => {
                at = block_comment_end(bytes, at);
                record_comment(text, lines, needle, start, at, &mut comments);
                continue;
            }
            _ if byte.is_ascii_whitespace() => {
                at += 1;
                continue;
            }
            b'"' => {
                at = string_end(bytes, at + 1);
                Lexeme::Other
            }
            b'\'' => {
                at = quote_end(bytes, at);
                Lexeme::Other
            }
            b'0'..=b'9' => {
                at = number_end(bytes, at);
                Lexeme::Other
            }
            _ if is_identifier_start(byte) => match prefixed_literal_end(bytes, at) {
                Some(end) => {
                    at = end;
                    Lexeme::Other
                }
                None => {
                    at = identifier_end(bytes, at);
                    Lexeme::Word(text.get(start..at).unwrap_or(""))
                }
            },
            b'(' | b'[' | b'{' => {
                at += 1;
                if recent.opens_macro() {
                    nesting.forget_bang();
                }
                Lexeme::Open { opaque: recent.opens_opaque(byte) }
            }
            b')' | b']' | b'}' => {
                at += 1;
                Lexeme::Close { brace: byte == b'}' }
            }
            b';' | b',' => {
                at += 1;
                Lexeme::Separator
            }
            _ => {
                at += punct_length(bytes, at);
                match text.get(start..at).unwrap_or("") {
                    "=>" => Lexeme::Separator,
                    punct => Lexeme::Punct(punct),
                }
            }
        };
        recent.push(lexeme);
        if nesting.feed(lexeme) > MAX_NESTING {
            return Scan { comments, too_deep: Some(start) };
        }
    }
    Scan { comments, too_deep: None }
}

fn record_comment(text: &str, lines: &LineIndex, needle: Option<&str>, start: usize, end: usize, comments: &mut Vec<Comment>) {
    let Some(needle) = needle else { return };
    let Some(comment) = text.get(start..end) else { return };
    if comment.contains(needle) {
        comments.push(Comment { text: comment.to_string(), span: lines.span_of_bytes(start, end) });
    }
}

/// `#!` followed (after whitespace and comments) by `[` is an inner attribute, not a shebang.
fn starts_inner_attribute(bytes: &[u8], mut at: usize) -> bool {
    loop {
        match bytes.get(at) {
            Some(byte) if byte.is_ascii_whitespace() => at += 1,
            Some(b'/') if bytes.get(at + 1) == Some(&b'/') => {
                at = memchr::memchr(b'\n', &bytes[at..]).map(|newline| at + newline).unwrap_or(bytes.len())
            }
            Some(b'/') if bytes.get(at + 1) == Some(&b'*') => at = block_comment_end(bytes, at),
            Some(b'[') => return true,
            _ => return false,
        }
    }
}

/// The end of a (nested) block comment starting at `at`.
fn block_comment_end(bytes: &[u8], mut at: usize) -> usize {
    let mut depth = 0usize;
    while at < bytes.len() {
        if bytes[at] == b'/' && bytes.get(at + 1) == Some(&b'*') {
            depth += 1;
            at += 2;
        } else if bytes[at] == b'*' && bytes.get(at + 1) == Some(&b'/') {
            depth = depth.saturating_sub(1);
            at += 2;
            if depth == 0 {
                return at;
            }
        } else {
            at += 1;
        }
    }
    bytes.len()
}

/// The end of a string whose content starts at `at`.
fn string_end(bytes: &[u8], mut at: usize) -> usize {
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// The end of a character literal or a lifetime starting at the quote at `at`.
fn quote_end(bytes: &[u8], at: usize) -> usize {
    match bytes.get(at + 1) {
        Some(b'\\') => {
            let mut end = at + 3;
            while let Some(&byte) = bytes.get(end) {
                if byte == b'\'' || byte == b'\n' {
                    return end + 1;
                }
                end += 1;
            }
            bytes.len()
        }
        Some(&lead) => {
            let length = match lead {
                0x00..=0x7f => 1,
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            if bytes.get(at + 1 + length) == Some(&b'\'') {
                return at + 2 + length;
            }
            identifier_end(bytes, at + 1).max(at + 1)
        }
        None => bytes.len(),
    }
}

fn number_end(bytes: &[u8], mut at: usize) -> usize {
    while let Some(&byte) = bytes.get(at) {
        let decimal_point = byte == b'.' && bytes.get(at + 1).is_some_and(u8::is_ascii_digit);
        if byte.is_ascii_alphanumeric() || byte == b'_' || decimal_point {
            at += 1;
        } else {
            break;
        }
    }
    at
}

fn is_identifier_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte >= 0x80
}

fn identifier_end(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(|byte| byte.is_ascii_alphanumeric() || *byte == b'_' || *byte >= 0x80) {
        at += 1;
    }
    at
}

/// The end of a literal with a prefix (`b"..."`, `r#"..."#`, `br"..."`, `c"..."`, `b'x'`)
/// starting at `at`, or `None` for an identifier (`r#match` included).
fn prefixed_literal_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut cursor = at;
    if matches!(bytes.get(cursor), Some(b'b' | b'c')) {
        cursor += 1;
        match bytes.get(cursor) {
            Some(b'"') => return Some(string_end(bytes, cursor + 1)),
            Some(b'\'') if bytes[at] == b'b' => return Some(quote_end(bytes, cursor)),
            _ => {}
        }
    }
    if bytes.get(cursor) != Some(&b'r') {
        return None;
    }
    cursor += 1;
    let hashes = bytes.get(cursor..).map(|rest| rest.iter().take_while(|byte| **byte == b'#').count()).unwrap_or(0);
    if bytes.get(cursor + hashes) != Some(&b'"') {
        return None;
    }
    let mut end = cursor + hashes + 1;
    while end < bytes.len() {
        if bytes[end] == b'"' && bytes.get(end + 1..end + 1 + hashes).is_some_and(|tail| tail.iter().all(|byte| *byte == b'#')) {
            return Some(end + 1 + hashes);
        }
        end += 1;
    }
    Some(bytes.len())
}

fn punct_length(bytes: &[u8], at: usize) -> usize {
    const LONG: &[&[u8]] = &[b"..=", b"...", b"<<=", b">>="];
    const SHORT: &[&[u8]] = &[
        b"::", b"->", b"=>", b"==", b"!=", b"<=", b">=", b"&&", b"||", b"+=", b"-=", b"*=", b"/=", b"%=", b"^=", b"&=", b"|=", b"<<",
        b">>", b"..",
    ];
    let rest = bytes.get(at..).unwrap_or(&[]);
    if LONG.iter().any(|op| rest.starts_with(op)) {
        3
    } else if SHORT.iter().any(|op| rest.starts_with(op)) {
        2
    } else {
        1
    }
}

/// Whether syn can parse `tokens` (a macro's or attribute's arguments) within the
/// nesting budget: the same estimate as for the file, over token trees, without recursion.
fn tokens_within_limit(tokens: &TokenStream) -> bool {
    let mut walk = TokenWalk { nesting: Nesting::new(), operator: String::new(), within: true };
    let mut stack: Vec<(proc_macro2::token_stream::IntoIter, bool)> = vec![(tokens.clone().into_iter(), false)];
    let mut recent: [Option<TokenTree>; 2] = [None, None];
    while let Some((current, brace)) = stack.last_mut() {
        let brace = *brace;
        let Some(tree) = current.next() else {
            walk.flush();
            stack.pop();
            if !stack.is_empty() {
                walk.feed(Lexeme::Close { brace });
            }
            continue;
        };
        match &tree {
            TokenTree::Punct(punct) => {
                match punct.as_char() {
                    ',' | ';' => {
                        walk.flush();
                        walk.feed(Lexeme::Separator);
                    }
                    character => {
                        walk.operator.push(character);
                        if punct.spacing() == Spacing::Alone {
                            walk.flush();
                        }
                    }
                }
                recent = [Some(tree), recent[0].take()];
                continue;
            }
            _ => walk.flush(),
        }
        let lexeme = match &tree {
            TokenTree::Group(group) => {
                let opaque = match &recent {
                    [Some(TokenTree::Punct(bang)), Some(TokenTree::Ident(_))] if bang.as_char() == '!' => {
                        walk.nesting.forget_bang();
                        true
                    }
                    [Some(TokenTree::Punct(pound)), _] => pound.as_char() == '#' && group.delimiter() == Delimiter::Bracket,
                    _ => false,
                };
                if group.delimiter() == Delimiter::None { Lexeme::Other } else { Lexeme::Open { opaque } }
            }
            TokenTree::Ident(ident) => {
                let word = ident.to_string();
                match KEYWORDS.iter().chain(PRONE_WORDS.iter()).find(|keyword| **keyword == word) {
                    Some(keyword) => Lexeme::Word(keyword),
                    None => Lexeme::Word("identifier"),
                }
            }
            _ => Lexeme::Other,
        };
        walk.feed(lexeme);
        if let TokenTree::Group(group) = &tree
            && group.delimiter() != Delimiter::None
        {
            stack.push((group.stream().into_iter(), group.delimiter() == Delimiter::Brace));
        }
        recent = [Some(tree), recent[0].take()];
    }
    walk.within
}

/// The nesting estimate over token trees, with joint punctuation (`&&`, `->`, `..=`)
/// reassembled into the operators the text lexer sees.
struct TokenWalk {
    nesting: Nesting,
    operator: String,
    within: bool,
}

impl TokenWalk {
    fn feed(&mut self, lexeme: Lexeme<'static>) {
        if self.nesting.feed(lexeme) > MAX_NESTING {
            self.within = false;
        }
    }

    fn flush(&mut self) {
        let operator = std::mem::take(&mut self.operator);
        let bytes = operator.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let length = punct_length(bytes, at);
            let text = operator.get(at..at + length).unwrap_or("");
            at += length;
            match PUNCTS.iter().find(|known| **known == text) {
                Some(&"=>") => self.feed(Lexeme::Separator),
                Some(known) => self.feed(Lexeme::Punct(known)),
                None => self.feed(Lexeme::Punct("")),
            }
        }
    }
}

// ----- conversion -----------------------------------------------------------------------

/// Where the value of a block or branch goes.
#[derive(Clone)]
enum Sink {
    /// Nowhere (a statement).
    Discard,
    /// To these targets (`let x = match ...`).
    Assign(Vec<Expr>),
    /// Out of the function (its body's tail).
    Return,
}

/// One argument of a macro or attribute.
enum Piece {
    Positional(syn::Expr),
    Named(String, syn::Expr),
}

/// What an arm or `if let` pattern says about a `Result`.
enum ResultArm<'p> {
    Ok(&'p syn::Pat),
    /// `Err(p)`, or `Err(a) | Err(b)`.
    Err(Vec<&'p syn::Pat>),
    CatchAll(Option<String>),
    Other,
}

struct Converter<'a> {
    lines: &'a LineIndex<'a>,
    /// Leave function bodies empty.
    outline: bool,
    functions: Vec<Function>,
    classes: Vec<Class>,
    imports: Vec<Import>,
    /// Functions being converted, innermost last.
    function_stack: Vec<FunctionId>,
    depth: usize,
}

fn identifier(ident: &syn::Ident) -> String {
    let name = ident.to_string();
    match name.strip_prefix("r#") {
        Some(raw) => raw.to_string(),
        None => name,
    }
}

fn path_text(path: &syn::Path) -> String {
    path.segments.iter().map(|segment| identifier(&segment.ident)).collect::<Vec<_>>().join(".")
}

fn path_last(path: &syn::Path) -> String {
    path.segments.last().map(|segment| identifier(&segment.ident)).unwrap_or_default()
}

fn visibility_start(visibility: &syn::Visibility) -> Option<TokenSpan> {
    match visibility {
        syn::Visibility::Public(token) => Some(token.span),
        syn::Visibility::Restricted(restricted) => Some(restricted.pub_token.span),
        _ => None,
    }
}

fn signature_start(signature: &syn::Signature) -> TokenSpan {
    signature
        .constness
        .map(|token| token.span)
        .or(signature.asyncness.map(|token| token.span))
        .or(match &signature.safety {
            syn::Safety::Unsafe(token) => Some(token.span),
            syn::Safety::Safe(token) => Some(token.span),
            _ => None,
        })
        .or(signature.abi.as_ref().map(|abi| abi.extern_token.span))
        .unwrap_or(signature.fn_token.span)
}

fn macro_close(delimiter: &syn::MacroDelimiter) -> TokenSpan {
    match delimiter {
        syn::MacroDelimiter::Paren(paren) => paren.span.close(),
        syn::MacroDelimiter::Brace(brace) => brace.span.close(),
        syn::MacroDelimiter::Bracket(bracket) => bracket.span.close(),
    }
}

fn path_first_token(path: &syn::Path) -> Option<TokenSpan> {
    match &path.leading_colon {
        Some(colon) => Some(colon.spans[0]),
        None => path.segments.first().map(|segment| segment.ident.span()),
    }
}

fn path_last_token(path: &syn::Path) -> Option<TokenSpan> {
    let segment = path.segments.last()?;
    Some(match &segment.arguments {
        syn::PathArguments::AngleBracketed(arguments) => arguments.gt_token.spans[0],
        syn::PathArguments::Parenthesized(arguments) => match &arguments.output {
            syn::ReturnType::Type(_, output) => output.span(),
            syn::ReturnType::Default => arguments.paren_token.span.close(),
        },
        syn::PathArguments::None => segment.ident.span(),
    })
}

fn range_limits(limits: &syn::RangeLimits) -> (TokenSpan, TokenSpan) {
    match limits {
        syn::RangeLimits::HalfOpen(token) => (token.spans[0], token.spans[1]),
        syn::RangeLimits::Closed(token) => (token.spans[0], token.spans[2]),
    }
}

fn block_close(block: &syn::Block) -> TokenSpan {
    block.brace_token.span.close()
}

/// The first token of an expression, without recursion.
fn first_token(expr: &syn::Expr) -> TokenSpan {
    use syn::Expr as S;
    let mut expr = expr;
    loop {
        expr = match expr {
            S::Binary(binary) => &binary.left,
            S::MethodCall(call) => &call.receiver,
            S::Field(field) => &field.base,
            S::Await(awaited) => &awaited.base,
            S::Try(tried) => &tried.expr,
            S::Index(index) => &index.expr,
            S::Call(call) => &call.func,
            S::Cast(cast) => &cast.expr,
            S::Assign(assign) => &assign.left,
            S::Group(group) => &group.expr,
            S::Range(range) => match &range.start {
                Some(start) => start,
                None => return range_limits(&range.limits).0,
            },
            other => return own_first_token(other),
        };
    }
}

fn label_start(label: &Option<syn::Label>) -> Option<TokenSpan> {
    label.as_ref().map(|label| label.name.apostrophe)
}

fn own_first_token(expr: &syn::Expr) -> TokenSpan {
    use syn::Expr as S;
    match expr {
        S::Paren(paren) => paren.paren_token.span.open(),
        S::Tuple(tuple) => tuple.paren_token.span.open(),
        S::Array(array) => array.bracket_token.span.open(),
        S::Repeat(repeat) => repeat.bracket_token.span.open(),
        S::Lit(literal) => literal.lit.span(),
        S::Path(path) => match &path.qself {
            Some(qself) => qself.lt_token.spans[0],
            None => path_first_token(&path.path).unwrap_or_else(TokenSpan::call_site),
        },
        S::Struct(literal) => match &literal.qself {
            Some(qself) => qself.lt_token.spans[0],
            None => path_first_token(&literal.path).unwrap_or_else(TokenSpan::call_site),
        },
        S::Macro(mac) => path_first_token(&mac.mac.path).unwrap_or_else(|| mac.mac.bang_token.spans[0]),
        S::Unary(unary) => match &unary.op {
            syn::UnOp::Deref(token) => token.spans[0],
            syn::UnOp::Not(token) => token.spans[0],
            syn::UnOp::Neg(token) => token.spans[0],
            _ => unary.expr.span(),
        },
        S::Reference(reference) => reference.and_token.spans[0],
        S::RawAddr(raw) => raw.and_token.spans[0],
        S::Closure(closure) => closure
            .lifetimes
            .as_ref()
            .map(|lifetimes| lifetimes.for_token.span)
            .or(closure.constness.map(|token| token.span))
            .or(closure.asyncness.map(|token| token.span))
            .or(closure.capture.map(|token| token.span))
            .unwrap_or(closure.inputs_begin.spans[0]),
        S::Async(block) => block.async_token.span,
        S::Block(block) => label_start(&block.label).unwrap_or(block.block.brace_token.span.open()),
        S::Unsafe(block) => block.unsafe_token.span,
        S::Const(block) => block.const_token.span,
        S::TryBlock(block) => block.try_token.span,
        S::If(conditional) => conditional.if_token.span,
        S::Match(matched) => matched.match_token.span,
        S::Loop(looped) => label_start(&looped.label).unwrap_or(looped.loop_token.span),
        S::While(looped) => label_start(&looped.label).unwrap_or(looped.while_token.span),
        S::ForLoop(looped) => label_start(&looped.label).unwrap_or(looped.for_token.span),
        S::Let(binding) => binding.let_token.span,
        S::Return(returned) => returned.return_token.span,
        S::Break(broken) => broken.break_token.span,
        S::Continue(continued) => continued.continue_token.span,
        S::Yield(yielded) => yielded.yield_token.span,
        S::Infer(infer) => infer.underscore_token.spans[0],
        S::Verbatim(tokens) => tokens.clone().into_iter().next().map(|tree| tree.span()).unwrap_or_else(TokenSpan::call_site),
        other => other.span(),
    }
}

/// The last token of an expression, without recursion.
fn last_token(expr: &syn::Expr) -> TokenSpan {
    use syn::Expr as S;
    let mut expr = expr;
    loop {
        expr = match expr {
            S::Binary(binary) => &binary.right,
            S::Unary(unary) => &unary.expr,
            S::Reference(reference) => &reference.expr,
            S::RawAddr(raw) => &raw.expr,
            S::Assign(assign) => &assign.right,
            S::Closure(closure) => &closure.body,
            S::Let(binding) => &binding.expr,
            S::Group(group) => &group.expr,
            S::Range(range) => match &range.end {
                Some(end) => end,
                None => return range_limits(&range.limits).1,
            },
            S::Return(returned) => match &returned.expr {
                Some(value) => value,
                None => return returned.return_token.span,
            },
            S::Break(broken) => match (&broken.expr, &broken.label) {
                (Some(value), _) => value,
                (None, Some(label)) => return label.ident.span(),
                (None, None) => return broken.break_token.span,
            },
            S::Yield(yielded) => match &yielded.expr {
                Some(value) => value,
                None => return yielded.yield_token.span,
            },
            S::If(conditional) => match &conditional.else_branch {
                Some((_, otherwise)) => otherwise,
                None => return block_close(&conditional.then_branch),
            },
            other => return own_last_token(other),
        };
    }
}

fn own_last_token(expr: &syn::Expr) -> TokenSpan {
    use syn::Expr as S;
    match expr {
        S::MethodCall(call) => call.paren_token.span.close(),
        S::Call(call) => call.paren_token.span.close(),
        S::Field(field) => match &field.member {
            syn::Member::Named(ident) => ident.span(),
            syn::Member::Unnamed(index) => index.span,
        },
        S::Index(index) => index.bracket_token.span.close(),
        S::Await(awaited) => awaited.await_token.span,
        S::Try(tried) => tried.question_token.spans[0],
        S::Cast(cast) => cast.ty.span(),
        S::Paren(paren) => paren.paren_token.span.close(),
        S::Tuple(tuple) => tuple.paren_token.span.close(),
        S::Array(array) => array.bracket_token.span.close(),
        S::Repeat(repeat) => repeat.bracket_token.span.close(),
        S::Lit(literal) => literal.lit.span(),
        S::Path(path) => path_last_token(&path.path).unwrap_or_else(TokenSpan::call_site),
        S::Struct(literal) => literal.brace_token.span.close(),
        S::Macro(mac) => macro_close(&mac.mac.delimiter),
        S::Async(block) => block_close(&block.block),
        S::Block(block) => block_close(&block.block),
        S::Unsafe(block) => block_close(&block.block),
        S::Const(block) => block_close(&block.block),
        S::TryBlock(block) => block_close(&block.block),
        S::Match(matched) => matched.brace_token.span.close(),
        S::Loop(looped) => block_close(&looped.body),
        S::While(looped) => block_close(&looped.body),
        S::ForLoop(looped) => block_close(&looped.body),
        S::Continue(continued) => continued.label.as_ref().map(|label| label.ident.span()).unwrap_or(continued.continue_token.span),
        S::Infer(infer) => infer.underscore_token.spans[0],
        S::Verbatim(tokens) => tokens.clone().into_iter().last().map(|tree| tree.span()).unwrap_or_else(TokenSpan::call_site),
        other => other.span(),
    }
}

/// `Ok(p)`/`Err(p)` (through parentheses and references), a catch-all (`_`, a lowercase
/// binding), or anything else.
fn result_arm(pattern: &syn::Pat) -> ResultArm<'_> {
    let mut pattern = pattern;
    loop {
        pattern = match pattern {
            syn::Pat::Paren(paren) => &paren.pat,
            syn::Pat::Reference(reference) => &reference.pat,
            syn::Pat::TupleStruct(tuple) if tuple.qself.is_none() && tuple.elems.len() == 1 => {
                let Some(inner) = tuple.elems.first() else { return ResultArm::Other };
                return match path_last(&tuple.path).as_str() {
                    "Ok" => ResultArm::Ok(inner),
                    "Err" => ResultArm::Err(vec![inner]),
                    _ => ResultArm::Other,
                };
            }
            syn::Pat::Or(alternatives) => {
                let mut inner = Vec::new();
                for case in &alternatives.cases {
                    match result_arm(case) {
                        ResultArm::Err(patterns) => inner.extend(patterns),
                        _ => return ResultArm::Other,
                    }
                }
                return if inner.is_empty() { ResultArm::Other } else { ResultArm::Err(inner) };
            }
            syn::Pat::Wild(_) => return ResultArm::CatchAll(None),
            syn::Pat::Ident(binding) if binding.subpat.is_none() && is_binding_name(&identifier(&binding.ident)) => {
                return ResultArm::CatchAll(Some(identifier(&binding.ident)));
            }
            _ => return ResultArm::Other,
        };
    }
}

/// A lowercase identifier binds; `None` or `MAX` in a pattern names a variant or constant.
fn is_binding_name(name: &str) -> bool {
    name.chars().next().is_some_and(|first| first.is_lowercase() || first == '_')
}

/// The `{name}` captures of a format string (`{name:?}` included, positions and `{{`
/// escapes not).
fn format_captures(text: &str) -> Vec<String> {
    let mut captures = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        let after = &rest[open + 1..];
        if rest[open..].starts_with("{{") || rest[open..].starts_with("}}") {
            rest = &rest[open + 2..];
            continue;
        }
        if rest[open..].starts_with('}') {
            rest = after;
            continue;
        }
        let Some(close) = after.find('}') else { break };
        let argument = after[..close].split(':').next().unwrap_or("").trim();
        let is_name = argument.chars().next().is_some_and(|first| first.is_alphabetic() || first == '_')
            && argument.chars().all(|c| c.is_alphanumeric() || c == '_')
            && argument != "_";
        if is_name && !captures.iter().any(|known| known == argument) {
            captures.push(argument.to_string());
        }
        rest = &after[close + 1..];
    }
    captures
}

/// `tokens` split at top-level commas.
fn split_commas(tokens: &TokenStream) -> Vec<Vec<TokenTree>> {
    let mut pieces = vec![Vec::new()];
    for tree in tokens.clone() {
        match &tree {
            TokenTree::Punct(punct) if punct.as_char() == ',' => pieces.push(Vec::new()),
            _ => {
                if let Some(piece) = pieces.last_mut() {
                    piece.push(tree);
                }
            }
        }
    }
    pieces.retain(|piece| !piece.is_empty());
    pieces
}

/// The index of the first lone `:` (not part of `::`).
fn lone_colon(tokens: &[TokenTree]) -> Option<usize> {
    let mut index = 0;
    while index < tokens.len() {
        if let TokenTree::Punct(punct) = &tokens[index]
            && punct.as_char() == ':'
        {
            let joined =
                punct.spacing() == Spacing::Joint && matches!(tokens.get(index + 1), Some(TokenTree::Punct(next)) if next.as_char() == ':');
            if !joined {
                return Some(index);
            }
            index += 2;
            continue;
        }
        index += 1;
    }
    None
}

/// The index of the first lone `=` (not part of `==`, `<=`, `=>`, ...).
fn lone_equals(tokens: &[TokenTree]) -> Option<usize> {
    tokens.iter().enumerate().position(|(index, tree)| {
        let TokenTree::Punct(punct) = tree else { return false };
        let after_joint = index > 0 && matches!(&tokens[index - 1], TokenTree::Punct(before) if before.spacing() == Spacing::Joint);
        punct.as_char() == '=' && punct.spacing() == Spacing::Alone && !after_joint
    })
}

fn without_sigil(tokens: &[TokenTree]) -> &[TokenTree] {
    match tokens.split_first() {
        Some((TokenTree::Punct(punct), rest)) if matches!(punct.as_char(), '%' | '?') => rest,
        _ => tokens,
    }
}

fn parse_expression(tokens: &[TokenTree]) -> Option<syn::Expr> {
    syn::parse2::<syn::Expr>(tokens.iter().cloned().collect()).ok()
}

/// An argument `name = value` is named; anything else positional.
fn piece_of(expr: syn::Expr) -> Piece {
    match expr {
        syn::Expr::Assign(assign) => {
            let syn::ExprAssign { attrs, left, eq_token, right } = assign;
            match *left {
                syn::Expr::Path(path) if path.qself.is_none() && path.path.get_ident().is_some() => match path.path.get_ident() {
                    Some(ident) => Piece::Named(identifier(ident), *right),
                    None => Piece::Positional(syn::Expr::Path(path)),
                },
                left => Piece::Positional(syn::Expr::Assign(syn::ExprAssign { attrs, left: Box::new(left), eq_token, right })),
            }
        }
        other => Piece::Positional(other),
    }
}

/// One comma-separated argument parsed on its own: an expression, tracing's
/// `field.name = %value` and `target: "..."`, or nothing.
fn piece_of_tokens(tokens: &[TokenTree]) -> Option<Piece> {
    if let Some(expr) = parse_expression(without_sigil(tokens)) {
        return Some(piece_of(expr));
    }
    if let Some(equals) = lone_equals(tokens) {
        let name: String = tokens[..equals].iter().map(ToString::to_string).collect();
        let value = parse_expression(without_sigil(&tokens[equals + 1..]))?;
        return Some(Piece::Named(name, value));
    }
    if let [TokenTree::Ident(name), TokenTree::Punct(colon), rest @ ..] = tokens
        && colon.as_char() == ':'
        && colon.spacing() == Spacing::Alone
    {
        return Some(Piece::Named(identifier(name), parse_expression(without_sigil(rest))?));
    }
    None
}

/// The arguments of a macro or attribute: comma-separated expressions, each parsed on
/// its own when the whole does not parse.
fn pieces(tokens: &TokenStream) -> Vec<Piece> {
    if tokens.is_empty() || !tokens_within_limit(tokens) {
        return Vec::new();
    }
    if let Ok(list) = Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated.parse2(tokens.clone()) {
        return list.into_iter().map(piece_of).collect();
    }
    split_commas(tokens).iter().filter_map(|piece| piece_of_tokens(piece)).collect()
}

impl<'a> Converter<'a> {
    fn span(&self, token: TokenSpan) -> Span {
        self.lines.span(token)
    }

    fn span_between(&self, first: TokenSpan, last: TokenSpan) -> Span {
        join(self.span(first), self.span(last))
    }

    /// The extent of an expression in the source, parentheses included.
    fn extent(&self, expr: &syn::Expr) -> Span {
        self.span_between(first_token(expr), last_token(expr))
    }

    fn text_of(&self, span: Span) -> String {
        self.lines.text.get(span.start_byte..span.end_byte).unwrap_or("").split_whitespace().collect()
    }

    fn type_text(&self, ty: &syn::Type) -> String {
        self.text_of(self.span(ty.span()))
    }

    /// The name of the type an `impl` is for: its last path segment.
    fn type_name(&self, ty: &syn::Type) -> String {
        let mut ty = ty;
        loop {
            ty = match ty {
                syn::Type::Reference(reference) => &reference.elem,
                syn::Type::Paren(paren) => &paren.elem,
                syn::Type::Group(group) => &group.elem,
                syn::Type::Path(path) => return path_last(&path.path),
                other => return self.type_text(other),
            };
        }
    }

    fn other(&self, span: Span, parts: Vec<Expr>) -> Expr {
        Expr { span, kind: ExprKind::Other(parts) }
    }

    // ----- items --------------------------------------------------------------------

    fn items_into(&mut self, items: &[syn::Item], out: &mut Vec<Stmt>) {
        for item in items {
            self.item_into(item, out);
        }
    }

    fn item_into(&mut self, item: &syn::Item, out: &mut Vec<Stmt>) {
        if self.depth > MAX_DEPTH {
            return;
        }
        self.depth += 1;
        match item {
            syn::Item::Fn(function) => {
                let start = visibility_start(&function.vis).unwrap_or(signature_start(&function.sig));
                let span = self.span_between(start, block_close(&function.block));
                let id = self.function(&function.attrs, &function.sig, Some(&function.block), span, None);
                out.push(Stmt { span, kind: StmtKind::FunctionDef(id) });
            }
            syn::Item::Impl(implementation) => {
                let start = implementation.unsafety.map(|token| token.span).unwrap_or(implementation.impl_token.span);
                let span = self.span_between(start, implementation.brace_token.span.close());
                let name = self.type_name(&implementation.self_ty);
                let mut body = Vec::new();
                for member in &implementation.items {
                    match member {
                        syn::ImplItem::Fn(method) => {
                            let start = visibility_start(&method.vis).unwrap_or(signature_start(&method.sig));
                            let method_span = self.span_between(start, block_close(&method.block));
                            let id = self.function(&method.attrs, &method.sig, Some(&method.block), method_span, Some(name.clone()));
                            body.push(Stmt { span: method_span, kind: StmtKind::FunctionDef(id) });
                        }
                        syn::ImplItem::Const(constant) => {
                            let start = visibility_start(&constant.vis).unwrap_or(constant.const_token.span);
                            let constant_span = self.span_between(start, constant.semi_token.spans[0]);
                            body.push(self.constant(&constant.ident, &constant.expr, constant_span));
                        }
                        _ => {}
                    }
                }
                out.push(Stmt { span, kind: StmtKind::ClassDef { name, body: Block { statements: body } } });
            }
            syn::Item::Trait(definition) => {
                let start = visibility_start(&definition.vis).unwrap_or(definition.trait_token.span);
                let span = self.span_between(start, definition.brace_token.span.close());
                let name = identifier(&definition.ident);
                self.classes.push(Class { name: name.clone(), bases: Vec::new(), span });
                let mut body = Vec::new();
                for member in &definition.items {
                    if let syn::TraitItem::Fn(method) = member
                        && let Some(default) = &method.default
                    {
                        let method_span = self.span_between(signature_start(&method.sig), block_close(default));
                        let id = self.function(&method.attrs, &method.sig, Some(default), method_span, Some(name.clone()));
                        body.push(Stmt { span: method_span, kind: StmtKind::FunctionDef(id) });
                    }
                }
                out.push(Stmt { span, kind: StmtKind::ClassDef { name, body: Block { statements: body } } });
            }
            syn::Item::Struct(definition) => {
                let start = visibility_start(&definition.vis).unwrap_or(definition.struct_token.span);
                let end = match (&definition.semi_token, &definition.fields) {
                    (Some(semi), _) => semi.spans[0],
                    (None, syn::Fields::Named(fields)) => fields.brace_token.span.close(),
                    (None, syn::Fields::Unnamed(fields)) => fields.paren_token.span.close(),
                    (None, syn::Fields::Unit) => definition.ident.span(),
                };
                self.class(&definition.ident, self.span_between(start, end), out);
            }
            syn::Item::Enum(definition) => {
                let start = visibility_start(&definition.vis).unwrap_or(definition.enum_token.span);
                self.class(&definition.ident, self.span_between(start, definition.brace_token.span.close()), out);
            }
            syn::Item::Union(definition) => {
                let start = visibility_start(&definition.vis).unwrap_or(definition.union_token.span);
                self.class(&definition.ident, self.span_between(start, definition.fields.brace_token.span.close()), out);
            }
            syn::Item::Use(declaration) => {
                let start = visibility_start(&declaration.vis).unwrap_or(declaration.use_token.span);
                let span = self.span_between(start, declaration.semi_token.spans[0]);
                let mut prefix = Vec::new();
                self.use_tree(&declaration.tree, &mut prefix, span, 0);
                out.push(Stmt { span, kind: StmtKind::Other(Vec::new()) });
            }
            syn::Item::ExternCrate(declaration) => {
                let start = visibility_start(&declaration.vis).unwrap_or(declaration.extern_token.span);
                let span = self.span_between(start, declaration.semi_token.spans[0]);
                let module = identifier(&declaration.ident);
                let alias = declaration.rename.as_ref().map(|(_, rename)| identifier(rename)).unwrap_or_else(|| module.clone());
                self.imports.push(Import { module, name: None, alias, span });
                out.push(Stmt { span, kind: StmtKind::Other(Vec::new()) });
            }
            syn::Item::Const(constant) => {
                let start = visibility_start(&constant.vis).unwrap_or(constant.const_token.span);
                let span = self.span_between(start, constant.semi_token.spans[0]);
                out.push(self.constant(&constant.ident, &constant.expr, span));
            }
            syn::Item::Static(constant) => {
                let start = visibility_start(&constant.vis).unwrap_or(constant.static_token.span);
                let span = self.span_between(start, constant.semi_token.spans[0]);
                out.push(self.constant(&constant.ident, &constant.expr, span));
            }
            syn::Item::Mod(module) => {
                if let Some((_, items)) = &module.content {
                    self.items_into(items, out);
                }
            }
            // `macro_rules! name { .. }` (with an ident) defines a macro: nothing to read.
            syn::Item::Macro(mac) if mac.ident.is_none() => {
                let start = path_first_token(&mac.mac.path).unwrap_or(mac.mac.bang_token.spans[0]);
                let end = mac.semi_token.map(|semi| semi.spans[0]).unwrap_or(macro_close(&mac.mac.delimiter));
                let span = self.span_between(start, end);
                self.macro_statement_into(&mac.mac, &Sink::Discard, span, out);
            }
            _ => {}
        }
        self.depth -= 1;
    }

    fn class(&mut self, ident: &syn::Ident, span: Span, out: &mut Vec<Stmt>) {
        let name = identifier(ident);
        self.classes.push(Class { name: name.clone(), bases: Vec::new(), span });
        out.push(Stmt { span, kind: StmtKind::ClassDef { name, body: Block::default() } });
    }

    fn constant(&mut self, ident: &syn::Ident, value: &syn::Expr, span: Span) -> Stmt {
        let target = Expr { span: self.span(ident.span()), kind: ExprKind::Name(identifier(ident)) };
        let value = self.expr(value);
        Stmt { span, kind: StmtKind::Assign { targets: vec![target], value, augmented: false } }
    }

    fn use_tree(&mut self, tree: &syn::UseTree, prefix: &mut Vec<String>, span: Span, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(identifier(&path.ident));
                self.use_tree(&path.tree, prefix, span, depth + 1);
                prefix.pop();
            }
            syn::UseTree::Name(name) => self.import(prefix, identifier(&name.ident), None, span),
            syn::UseTree::Rename(rename) => self.import(prefix, identifier(&rename.ident), Some(identifier(&rename.rename)), span),
            syn::UseTree::Group(group) => {
                for item in &group.items {
                    self.use_tree(item, prefix, span, depth + 1);
                }
            }
            syn::UseTree::Glob(_) => {}
        }
    }

    fn import(&mut self, prefix: &[String], name: String, alias: Option<String>, span: Span) {
        if name == "self" {
            let Some(last) = prefix.last() else { return };
            self.imports.push(Import { module: prefix.join("."), name: None, alias: alias.unwrap_or_else(|| last.clone()), span });
        } else if prefix.is_empty() {
            self.imports.push(Import { module: name.clone(), name: None, alias: alias.unwrap_or(name), span });
        } else {
            self.imports.push(Import { module: prefix.join("."), name: Some(name.clone()), alias: alias.unwrap_or(name), span });
        }
    }

    fn function(
        &mut self,
        attributes: &[syn::Attribute],
        signature: &syn::Signature,
        block: Option<&syn::Block>,
        span: Span,
        class: Option<String>,
    ) -> FunctionId {
        let parent = self.function_stack.last().copied().unwrap_or(FunctionId(0));
        let id = FunctionId(self.functions.len());
        self.functions.push(Function {
            id,
            name: identifier(&signature.ident),
            class,
            parent: Some(parent),
            span,
            name_span: self.span(signature.ident.span()),
            is_async: signature.asyncness.is_some(),
            params: Vec::new(),
            decorators: Vec::new(),
            body: Block::default(),
        });
        let decorators = self.decorators(attributes);
        let params = self.params(signature);
        self.function_stack.push(id);
        let body = match block {
            Some(block) if !self.outline => self.block(block, &Sink::Return),
            _ => Block::default(),
        };
        self.function_stack.pop();
        if let Some(function) = self.functions.get_mut(id.0) {
            function.params = params;
            function.decorators = decorators;
            function.body = body;
        }
        id
    }

    fn decorators(&mut self, attributes: &[syn::Attribute]) -> Vec<Expr> {
        let mut decorators = Vec::new();
        for attribute in attributes {
            if !matches!(attribute.style, syn::AttrStyle::Outer) || attribute.path().is_ident("doc") {
                continue;
            }
            decorators.push(self.meta(&attribute.meta));
        }
        decorators
    }

    fn meta(&mut self, meta: &syn::Meta) -> Expr {
        match meta {
            syn::Meta::Path(path) => self.path_expr(path, None),
            syn::Meta::List(list) => {
                let callee = self.path_expr(&list.path, None);
                let span = join(callee.span, self.span(macro_close(&list.delimiter)));
                let (args, keywords) = self.arguments(pieces(&list.tokens), false);
                Expr { span, kind: ExprKind::Call(Call { callee: Box::new(callee), args, keywords, has_splat: false }) }
            }
            syn::Meta::NameValue(pair) => {
                let callee = self.path_expr(&pair.path, None);
                let (value, value_extent) = self.expr_with_extent(&pair.value);
                let span = join(callee.span, value_extent);
                Expr {
                    span,
                    kind: ExprKind::Call(Call { callee: Box::new(callee), args: vec![value], keywords: Vec::new(), has_splat: false }),
                }
            }
        }
    }

    fn params(&mut self, signature: &syn::Signature) -> Vec<Param> {
        let mut params = Vec::new();
        for input in &signature.inputs {
            match input {
                syn::FnArg::Receiver(receiver) => {
                    let annotation = match &receiver.kind {
                        syn::ReceiverKind::Typed(_, ty) => Some(self.type_text(ty)),
                        _ => None,
                    };
                    params.push(Param { name: "self".into(), annotation, default: None, span: self.span(receiver.span()) });
                }
                syn::FnArg::Typed(typed) => {
                    let span = self.span(typed.span());
                    let annotation = self.type_text(&typed.ty);
                    let mut names = Vec::new();
                    binding_names(&typed.pat, &mut names, 0);
                    if names.is_empty() {
                        names.push("_".into());
                    }
                    for name in names {
                        params.push(Param { name, annotation: Some(annotation.clone()), default: None, span });
                    }
                }
            }
        }
        params
    }

    // ----- statements ---------------------------------------------------------------

    fn block(&mut self, block: &syn::Block, sink: &Sink) -> Block {
        let mut statements = Vec::new();
        self.block_into(block, sink, &mut statements);
        Block { statements }
    }

    fn block_into(&mut self, block: &syn::Block, sink: &Sink, out: &mut Vec<Stmt>) {
        let count = block.stmts.len();
        for (index, stmt) in block.stmts.iter().enumerate() {
            let sink = if index + 1 == count { sink } else { &Sink::Discard };
            self.statement_into(stmt, sink, out);
        }
    }

    fn statement_span(&self, stmt: &syn::Stmt) -> Span {
        match stmt {
            syn::Stmt::Local(local) => self.span_between(local.let_token.span, local.semi_token.spans[0]),
            syn::Stmt::Expr(expr, semi) => {
                let extent = self.extent(expr);
                match semi {
                    Some(semi) => join(extent, self.span(semi.spans[0])),
                    None => extent,
                }
            }
            syn::Stmt::Macro(mac) => {
                let start = path_first_token(&mac.mac.path).unwrap_or(mac.mac.bang_token.spans[0]);
                let end = mac.semi_token.map(|semi| semi.spans[0]).unwrap_or(macro_close(&mac.mac.delimiter));
                self.span_between(start, end)
            }
            syn::Stmt::Item(item) => self.span(item.span()),
        }
    }

    fn statement_into(&mut self, stmt: &syn::Stmt, sink: &Sink, out: &mut Vec<Stmt>) {
        if self.depth > MAX_DEPTH {
            let span = self.statement_span(stmt);
            out.push(Stmt { span, kind: StmtKind::Other(Vec::new()) });
            return;
        }
        self.depth += 1;
        match stmt {
            syn::Stmt::Local(local) => self.local_into(local, out),
            syn::Stmt::Item(item) => self.item_into(item, out),
            syn::Stmt::Expr(expr, semi) => {
                let sink = if semi.is_some() { &Sink::Discard } else { sink };
                let span = self.statement_span(stmt);
                self.expr_statement_into(expr, sink, span, out);
            }
            syn::Stmt::Macro(mac) => {
                let sink = if mac.semi_token.is_some() { &Sink::Discard } else { sink };
                let span = self.statement_span(stmt);
                self.macro_statement_into(&mac.mac, sink, span, out);
            }
        }
        self.depth -= 1;
    }

    fn local_into(&mut self, local: &syn::Local, out: &mut Vec<Stmt>) {
        let span = self.span_between(local.let_token.span, local.semi_token.spans[0]);
        let target = self.pattern(&local.pat);
        let Some(init) = &local.init else {
            out.push(Stmt { span, kind: StmtKind::Other(vec![target]) });
            return;
        };
        if let Some((else_token, diverge)) = &init.diverge {
            let else_span = join(self.span(else_token.span), self.extent(diverge));
            let mut otherwise = Vec::new();
            self.expr_statement_into(diverge, &Sink::Discard, else_span, &mut otherwise);
            if let ResultArm::Ok(inner) = result_arm(&local.pat) {
                let value = self.expr(&init.expr);
                let first = self.bind(inner, value);
                let handler = Handler { types: Vec::new(), name: None, body: Block { statements: otherwise }, span: else_span };
                let kind = StmtKind::Try {
                    body: Block { statements: vec![first] },
                    handlers: vec![handler],
                    else_block: None,
                    finally_block: None,
                };
                out.push(Stmt { span, kind });
            } else {
                let value = self.expr(&init.expr);
                let condition = self.other(target.span, vec![target.clone()]);
                out.push(Stmt { span, kind: StmtKind::Assign { targets: vec![target], value, augmented: false } });
                out.push(Stmt {
                    span: else_span,
                    kind: StmtKind::If { condition, then_block: Block { statements: otherwise }, else_block: None },
                });
            }
            return;
        }
        if is_lowered(&init.expr) {
            self.expr_statement_into(&init.expr, &Sink::Assign(vec![target]), span, out);
        } else {
            let value = self.expr(&init.expr);
            out.push(Stmt { span, kind: StmtKind::Assign { targets: vec![target], value, augmented: false } });
        }
    }

    /// `v = value` when the pattern binds something, else the value alone.
    fn bind(&mut self, pattern: &syn::Pat, value: Expr) -> Stmt {
        let target = self.pattern(pattern);
        let binds = target.bound_names().iter().any(|name| *name != "_" && is_binding_name(name));
        if binds {
            Stmt { span: join(target.span, value.span), kind: StmtKind::Assign { targets: vec![target], value, augmented: false } }
        } else {
            Stmt { span: value.span, kind: StmtKind::Expr(value) }
        }
    }

    /// A value reaching its sink: an expression statement, an assignment or a return.
    fn sink_value(&self, value: Expr, sink: &Sink, span: Span, out: &mut Vec<Stmt>) {
        let kind = match sink {
            Sink::Discard => StmtKind::Expr(value),
            Sink::Assign(targets) => StmtKind::Assign { targets: targets.clone(), value, augmented: false },
            Sink::Return => StmtKind::Return(Some(value)),
        };
        out.push(Stmt { span, kind });
    }

    fn expr_statement_into(&mut self, expr: &syn::Expr, sink: &Sink, span: Span, out: &mut Vec<Stmt>) {
        use syn::Expr as S;
        match expr {
            S::If(conditional) => self.if_into(conditional, sink, span, out),
            S::Match(matched) => self.match_into(matched, sink, span, out),
            S::Block(block) => self.block_into(&block.block, sink, out),
            S::Unsafe(block) => self.block_into(&block.block, sink, out),
            S::Const(block) => self.block_into(&block.block, sink, out),
            S::Paren(paren) if is_lowered(&paren.expr) => self.expr_statement_into(&paren.expr, sink, span, out),
            S::Loop(looped) => {
                let condition = Expr { span: self.span(looped.loop_token.span), kind: ExprKind::Constant("true".into()) };
                let body = self.block(&looped.body, &Sink::Discard);
                out.push(Stmt {
                    span,
                    kind: StmtKind::Loop { targets: Vec::new(), iter: None, condition: Some(Box::new(condition)), body, else_block: None },
                });
            }
            S::While(looped) => {
                let (targets, condition) = match &*looped.cond {
                    S::Let(binding) => (vec![self.pattern(&binding.pat)], self.expr(&binding.expr)),
                    other => (Vec::new(), self.expr(other)),
                };
                let body = self.block(&looped.body, &Sink::Discard);
                out.push(Stmt {
                    span,
                    kind: StmtKind::Loop { targets, iter: None, condition: Some(Box::new(condition)), body, else_block: None },
                });
            }
            S::ForLoop(looped) => {
                let target = self.pattern(&looped.pat);
                let iter = self.expr(&looped.expr);
                let body = self.block(&looped.body, &Sink::Discard);
                out.push(Stmt {
                    span,
                    kind: StmtKind::Loop { targets: vec![target], iter: Some(Box::new(iter)), condition: None, body, else_block: None },
                });
            }
            S::Return(returned) => {
                let value = returned.expr.as_ref().map(|value| self.expr(value));
                out.push(Stmt { span, kind: StmtKind::Return(value) });
            }
            S::Break(broken) => {
                if let Some(value) = &broken.expr {
                    let value = self.expr(value);
                    out.push(Stmt { span: value.span, kind: StmtKind::Expr(value) });
                }
                out.push(Stmt { span, kind: StmtKind::Break });
            }
            S::Continue(_) => out.push(Stmt { span, kind: StmtKind::Continue }),
            S::Assign(assign) => {
                let target = self.expr(&assign.left);
                let targets = vec![target];
                if is_lowered(&assign.right) {
                    self.expr_statement_into(&assign.right, &Sink::Assign(targets), span, out);
                } else {
                    let value = self.expr(&assign.right);
                    out.push(Stmt { span, kind: StmtKind::Assign { targets, value, augmented: false } });
                }
            }
            S::Binary(binary) if is_compound_assignment(&binary.op) => {
                let target = self.expr(&binary.left);
                let value = self.expr(&binary.right);
                out.push(Stmt { span, kind: StmtKind::Assign { targets: vec![target], value, augmented: true } });
            }
            S::Macro(mac) => self.macro_statement_into(&mac.mac, sink, span, out),
            other => {
                let value = self.expr(other);
                self.sink_value(value, sink, span, out);
            }
        }
    }

    fn macro_statement_into(&mut self, mac: &syn::Macro, sink: &Sink, span: Span, out: &mut Vec<Stmt>) {
        let value = self.macro_expr(mac);
        if RAISING_MACROS.contains(&path_last(&mac.path).as_str()) {
            out.push(Stmt { span, kind: StmtKind::Raise { exception: Some(Box::new(value)), cause: None } });
        } else {
            self.sink_value(value, sink, span, out);
        }
    }

    /// An `if` condition: `let p = e` is `Other([p, e])`.
    fn condition(&mut self, condition: &syn::Expr) -> Expr {
        match condition {
            syn::Expr::Let(binding) => {
                let span = self.extent(condition);
                let pattern = self.pattern(&binding.pat);
                let value = self.expr(&binding.expr);
                self.other(span, vec![pattern, value])
            }
            other => self.expr(other),
        }
    }

    fn if_into(&mut self, conditional: &syn::ExprIf, sink: &Sink, span: Span, out: &mut Vec<Stmt>) {
        if let syn::Expr::Let(binding) = &*conditional.cond
            && let arm @ (ResultArm::Ok(_) | ResultArm::Err(_)) = result_arm(&binding.pat)
        {
            let stmt = self.if_let_result(conditional, binding, arm, sink, span);
            out.push(stmt);
            return;
        }
        let chain_end = self.span(if_end(conditional));
        let mut branches = Vec::new();
        let mut otherwise = None;
        let mut current = conditional;
        loop {
            let clause_span = join(self.span(current.if_token.span), chain_end);
            let condition = self.condition(&current.cond);
            let then_block = self.block(&current.then_branch, sink);
            branches.push((condition, then_block, clause_span));
            let Some((_, alternative)) = &current.else_branch else { break };
            match &**alternative {
                syn::Expr::If(next) if !is_result_if(next) => current = next,
                other => {
                    let mut statements = Vec::new();
                    let alternative_span = self.extent(other);
                    if self.depth > MAX_DEPTH {
                        statements.push(Stmt { span: alternative_span, kind: StmtKind::Other(Vec::new()) });
                    } else {
                        self.depth += 1;
                        self.expr_statement_into(other, sink, alternative_span, &mut statements);
                        self.depth -= 1;
                    }
                    otherwise = Some(Block { statements });
                    break;
                }
            }
        }
        if let Some(mut chain) = self.if_chain(branches, otherwise) {
            if let Some(first) = chain.statements.first_mut() {
                first.span = span;
            }
            out.append(&mut chain.statements);
        }
    }

    /// `if let Err(e) = x { B } else { C }` and `if let Ok(v) = x { A } else { B }`.
    fn if_let_result(&mut self, conditional: &syn::ExprIf, binding: &syn::ExprLet, arm: ResultArm, sink: &Sink, span: Span) -> Stmt {
        let value = self.expr(&binding.expr);
        let then_span = self.span_between(conditional.if_token.span, block_close(&conditional.then_branch));
        let then_block = self.block(&conditional.then_branch, sink);
        let otherwise = match &conditional.else_branch {
            Some((else_token, alternative)) => {
                let else_span = join(self.span(else_token.span), self.extent(alternative));
                let mut statements = Vec::new();
                self.expr_statement_into(alternative, sink, else_span, &mut statements);
                Some((Block { statements }, else_span))
            }
            None => None,
        };
        let kind = match arm {
            ResultArm::Err(inner) => {
                let (types, name) = self.error_bindings(&inner);
                let handler = Handler { types, name, body: then_block, span: then_span };
                StmtKind::Try {
                    body: Block { statements: vec![Stmt { span: value.span, kind: StmtKind::Expr(value) }] },
                    handlers: vec![handler],
                    else_block: otherwise.map(|(block, _)| block),
                    finally_block: None,
                }
            }
            _ => {
                let first = match arm {
                    ResultArm::Ok(inner) => self.bind(inner, value),
                    _ => Stmt { span: value.span, kind: StmtKind::Expr(value) },
                };
                let mut body = vec![first];
                body.extend(then_block.statements);
                let handler = match otherwise {
                    Some((block, else_span)) => Handler { types: Vec::new(), name: None, body: block, span: else_span },
                    None => Handler { types: Vec::new(), name: None, body: Block::default(), span },
                };
                StmtKind::Try { body: Block { statements: body }, handlers: vec![handler], else_block: None, finally_block: None }
            }
        };
        Stmt { span, kind }
    }

    fn if_chain(&mut self, branches: Vec<(Expr, Block, Span)>, otherwise: Option<Block>) -> Option<Block> {
        super::if_chain(branches, otherwise, MAX_DEPTH.saturating_sub(self.depth))
    }

    fn arm_span(&self, arm: &syn::Arm) -> Span {
        join(self.span(arm.pat.span()), self.extent(&arm.body))
    }

    /// The statements of an arm's body, its value going to `sink`.
    fn arm_body(&mut self, body: &syn::Expr, sink: &Sink) -> Vec<Stmt> {
        let mut statements = Vec::new();
        let span = self.extent(body);
        self.expr_statement_into(body, sink, span, &mut statements);
        statements
    }

    fn match_into(&mut self, matched: &syn::ExprMatch, sink: &Sink, span: Span, out: &mut Vec<Stmt>) {
        let arms: Vec<(&syn::Arm, &syn::Pat, Option<&syn::Expr>, ResultArm)> = matched
            .arms
            .iter()
            .map(|arm| {
                let (pattern, guard) = match &arm.pat {
                    syn::Pat::Guard(guarded) => (&*guarded.pat, Some(&*guarded.guard)),
                    pattern => (pattern, None),
                };
                (arm, pattern, guard, result_arm(pattern))
            })
            .collect();
        let first_ok = arms.iter().position(|(_, _, _, kind)| matches!(kind, ResultArm::Ok(_)));
        let is_result = arms.iter().enumerate().any(|(index, (_, _, _, kind))| match kind {
            ResultArm::Err(_) => true,
            ResultArm::CatchAll(_) => first_ok.is_some_and(|first| first < index),
            _ => false,
        });
        if !is_result {
            let subject = self.expr(&matched.expr);
            out.push(Stmt { span: subject.span, kind: StmtKind::Other(vec![subject]) });
            let mut branches = Vec::new();
            for (arm, pattern, guard, _) in &arms {
                let mut parts = vec![self.pattern(pattern)];
                if let Some(guard) = guard {
                    parts.push(self.expr(guard));
                }
                let condition = self.other(self.span(arm.pat.span()), parts);
                let then_block = Block { statements: self.arm_body(&arm.body, sink) };
                branches.push((condition, then_block, self.arm_span(arm)));
            }
            if let Some(mut chain) = self.if_chain(branches, None) {
                out.append(&mut chain.statements);
            }
            return;
        }
        let subject = self.expr(&matched.expr);
        let mut successes = Vec::new();
        let mut handlers = Vec::new();
        let mut seen_ok = false;
        for (arm, pattern, guard, kind) in arms {
            match kind {
                ResultArm::Ok(inner) => {
                    seen_ok = true;
                    successes.push((arm, Some(inner), guard));
                }
                ResultArm::Err(inner) => {
                    let (types, name) = self.error_bindings(&inner);
                    handlers.push(self.handler(arm, types, name, guard, sink));
                }
                ResultArm::CatchAll(name) if seen_ok => handlers.push(self.handler(arm, Vec::new(), name, guard, sink)),
                _ => successes.push((arm, Some(pattern), guard)),
            }
        }
        let mut body = Vec::new();
        match successes.as_slice() {
            [(arm, inner, None)] => {
                body.push(match inner {
                    Some(inner) => self.bind(inner, subject),
                    None => Stmt { span: subject.span, kind: StmtKind::Expr(subject) },
                });
                body.extend(self.arm_body(&arm.body, sink));
            }
            _ => {
                body.push(Stmt { span: subject.span, kind: StmtKind::Expr(subject) });
                let mut branches = Vec::new();
                for (arm, inner, guard) in &successes {
                    let mut parts: Vec<Expr> = inner.map(|inner| self.pattern(inner)).into_iter().collect();
                    if let Some(guard) = guard {
                        parts.push(self.expr(guard));
                    }
                    let condition = self.other(self.span(arm.pat.span()), parts);
                    let then_block = Block { statements: self.arm_body(&arm.body, sink) };
                    branches.push((condition, then_block, self.arm_span(arm)));
                }
                if let Some(mut chain) = self.if_chain(branches, None) {
                    body.append(&mut chain.statements);
                }
            }
        }
        out.push(Stmt { span, kind: StmtKind::Try { body: Block { statements: body }, handlers, else_block: None, finally_block: None } });
    }

    fn handler(&mut self, arm: &syn::Arm, types: Vec<String>, name: Option<String>, guard: Option<&syn::Expr>, sink: &Sink) -> Handler {
        let mut statements = Vec::new();
        if let Some(guard) = guard {
            let guard = self.expr(guard);
            statements.push(Stmt { span: guard.span, kind: StmtKind::Other(vec![guard]) });
        }
        statements.extend(self.arm_body(&arm.body, sink));
        Handler { types, name, body: Block { statements }, span: self.arm_span(arm) }
    }

    /// What `Err(a) | Err(b)` catches, and the name all of them bind.
    fn error_bindings(&self, patterns: &[&syn::Pat]) -> (Vec<String>, Option<String>) {
        let mut types = Vec::new();
        let mut names = Vec::new();
        for pattern in patterns {
            let (caught, name) = self.error_binding(pattern);
            if caught.is_empty() {
                // One alternative catches everything.
                return (Vec::new(), name);
            }
            types.extend(caught);
            names.push(name);
        }
        let name = match names.split_first() {
            Some((first, rest)) if rest.iter().all(|name| name == first) => first.clone(),
            _ => None,
        };
        (types, name)
    }

    /// What an `Err(..)` pattern catches and the name it binds: `Err(e)` everything as
    /// `e`, `Err(Error::Timeout)` only that, `Err(Error::Io(e))` that as `e`.
    fn error_binding(&self, pattern: &syn::Pat) -> (Vec<String>, Option<String>) {
        let mut pattern = pattern;
        loop {
            pattern = match pattern {
                syn::Pat::Paren(paren) => &paren.pat,
                syn::Pat::Reference(reference) => &reference.pat,
                syn::Pat::Ident(binding) => {
                    let name = identifier(&binding.ident);
                    if !is_binding_name(&name) {
                        return (vec![name], None);
                    }
                    return match &binding.subpat {
                        Some((_, inner)) => (self.error_binding(inner).0, Some(name)),
                        None => (Vec::new(), Some(name)),
                    };
                }
                syn::Pat::Path(path) => return (vec![path_text(&path.path)], None),
                syn::Pat::TupleStruct(tuple) => {
                    let name = match tuple.elems.first() {
                        Some(syn::Pat::Ident(binding)) if tuple.elems.len() == 1 && binding.subpat.is_none() => {
                            Some(identifier(&binding.ident)).filter(|name| is_binding_name(name))
                        }
                        _ => None,
                    };
                    return (vec![path_text(&tuple.path)], name);
                }
                syn::Pat::Struct(structure) => return (vec![path_text(&structure.path)], None),
                syn::Pat::Or(alternatives) => {
                    let types = alternatives.cases.iter().flat_map(|case| self.error_binding(case).0).collect();
                    return (types, None);
                }
                _ => return (Vec::new(), None),
            };
        }
    }

    /// The expressions of statements (as `Stmt::expressions` and nested blocks give
    /// them), for a block in expression position.
    fn flatten(statements: Vec<Stmt>, out: &mut Vec<Expr>) {
        for stmt in statements {
            match stmt.kind {
                StmtKind::Assign { targets, value, .. } => {
                    out.extend(targets);
                    out.push(value);
                }
                StmtKind::Expr(expr) => out.push(expr),
                StmtKind::If { condition, then_block, else_block } => {
                    out.push(condition);
                    Self::flatten(then_block.statements, out);
                    if let Some(block) = else_block {
                        Self::flatten(block.statements, out);
                    }
                }
                StmtKind::Try { body, handlers, else_block, finally_block } => {
                    Self::flatten(body.statements, out);
                    for handler in handlers {
                        Self::flatten(handler.body.statements, out);
                    }
                    for block in else_block.into_iter().chain(finally_block) {
                        Self::flatten(block.statements, out);
                    }
                }
                StmtKind::With { items, body, .. } => {
                    for item in items {
                        out.push(item.context);
                        out.extend(item.binding);
                    }
                    Self::flatten(body.statements, out);
                }
                StmtKind::Loop { targets, iter, condition, body, else_block } => {
                    out.extend(targets);
                    out.extend(iter.map(|iter| *iter));
                    out.extend(condition.map(|condition| *condition));
                    Self::flatten(body.statements, out);
                    if let Some(block) = else_block {
                        Self::flatten(block.statements, out);
                    }
                }
                StmtKind::Return(value) => out.extend(value),
                StmtKind::Raise { exception, cause } => {
                    out.extend(exception.map(|exception| *exception));
                    out.extend(cause.map(|cause| *cause));
                }
                StmtKind::ClassDef { body, .. } => Self::flatten(body.statements, out),
                StmtKind::Other(expressions) => out.extend(expressions),
                StmtKind::Break | StmtKind::Continue | StmtKind::FunctionDef(_) => {}
            }
        }
    }

    /// A block in expression position: `Other` of its statements' expressions.
    fn block_expr(&mut self, block: &syn::Block, span: Span) -> Expr {
        let statements = self.block(block, &Sink::Discard).statements;
        let mut parts = Vec::new();
        Self::flatten(statements, &mut parts);
        self.other(span, parts)
    }

    // ----- expressions --------------------------------------------------------------

    fn expr(&mut self, expr: &syn::Expr) -> Expr {
        self.expr_with_extent(expr).0
    }

    /// The expression and its extent in the source: `(x)`, `&x`, `x as T` are `x` with
    /// the span of `x`, and extend over their parentheses, `&` or type.
    fn expr_with_extent(&mut self, expr: &syn::Expr) -> (Expr, Span) {
        // A loop, not recursion: a file may nest parentheses deeply.
        let mut inner = expr;
        let mut outer = None;
        loop {
            match inner {
                syn::Expr::Paren(paren) => {
                    outer = outer.or(Some(paren.paren_token.span.join()));
                    inner = &paren.expr;
                }
                syn::Expr::Group(group) => inner = &group.expr,
                _ => break,
            }
        }
        if self.depth > MAX_DEPTH {
            let span = self.extent(inner);
            return (self.other(span, Vec::new()), outer.map(|outer| self.span(outer)).unwrap_or(span));
        }
        self.depth += 1;
        let (converted, extent) = self.expr_inner(inner);
        self.depth -= 1;
        let extent = outer.map(|outer| self.span(outer)).unwrap_or(extent);
        (converted, extent)
    }

    fn exprs<'e>(&mut self, exprs: impl IntoIterator<Item = &'e syn::Expr>) -> Vec<Expr> {
        exprs.into_iter().map(|expr| self.expr(expr)).collect()
    }

    fn expr_inner(&mut self, expr: &syn::Expr) -> (Expr, Span) {
        use syn::Expr as S;
        let made = |kind: ExprKind, span: Span| (Expr { span, kind }, span);
        match expr {
            S::Path(path) => {
                let qself = path.qself.as_ref().map(|qself| qself.lt_token.spans[0]);
                let converted = self.path_expr(&path.path, qself);
                let extent = join(converted.span, self.span(path_last_token(&path.path).unwrap_or_else(TokenSpan::call_site)));
                (converted, extent)
            }
            S::Lit(literal) => {
                let span = self.span(literal.lit.span());
                made(literal_kind(&literal.lit), span)
            }
            S::Call(call) => {
                let (callee, callee_extent) = self.expr_with_extent(&call.func);
                let args = self.exprs(&call.args);
                let span = join(callee_extent, self.span(call.paren_token.span.close()));
                made(ExprKind::Call(Call { callee: Box::new(callee), args, keywords: Vec::new(), has_splat: false }), span)
            }
            S::MethodCall(call) => {
                let (receiver, receiver_extent) = self.expr_with_extent(&call.receiver);
                let callee_span = join(receiver_extent, self.span(call.method.span()));
                let callee =
                    Expr { span: callee_span, kind: ExprKind::Attribute { object: Box::new(receiver), name: identifier(&call.method) } };
                let args = self.exprs(&call.args);
                let span = join(receiver_extent, self.span(call.paren_token.span.close()));
                made(ExprKind::Call(Call { callee: Box::new(callee), args, keywords: Vec::new(), has_splat: false }), span)
            }
            S::Field(field) => {
                let (object, object_extent) = self.expr_with_extent(&field.base);
                let (name, member_span) = match &field.member {
                    syn::Member::Named(ident) => (identifier(ident), ident.span()),
                    syn::Member::Unnamed(index) => (index.index.to_string(), index.span),
                };
                let span = join(object_extent, self.span(member_span));
                made(ExprKind::Attribute { object: Box::new(object), name }, span)
            }
            S::Index(index) => {
                let (object, object_extent) = self.expr_with_extent(&index.expr);
                let subscript = self.expr(&index.index);
                let span = join(object_extent, self.span(index.bracket_token.span.close()));
                made(ExprKind::Subscript { object: Box::new(object), index: Box::new(subscript) }, span)
            }
            S::Await(awaited) => {
                let (inner, extent) = self.expr_with_extent(&awaited.base);
                let span = join(extent, self.span(awaited.await_token.span));
                made(ExprKind::Await(Box::new(inner)), span)
            }
            S::Try(tried) => {
                let (inner, extent) = self.expr_with_extent(&tried.expr);
                let span = join(extent, self.span(tried.question_token.spans[0]));
                made(ExprKind::Try(Box::new(inner)), span)
            }
            S::Unary(unary) => {
                let (inner, extent) = self.expr_with_extent(&unary.expr);
                let span = join(self.span(own_first_token(expr)), extent);
                match &unary.op {
                    syn::UnOp::Not(_) => made(ExprKind::Not(Box::new(inner)), span),
                    syn::UnOp::Deref(_) => (inner, span),
                    _ => made(ExprKind::Other(vec![inner]), span),
                }
            }
            S::Reference(reference) => {
                let (inner, extent) = self.expr_with_extent(&reference.expr);
                (inner, join(self.span(reference.and_token.spans[0]), extent))
            }
            S::RawAddr(raw) => {
                let (inner, extent) = self.expr_with_extent(&raw.expr);
                (inner, join(self.span(raw.and_token.spans[0]), extent))
            }
            S::Cast(cast) => {
                let (inner, extent) = self.expr_with_extent(&cast.expr);
                (inner, join(extent, self.span(cast.ty.span())))
            }
            S::Binary(binary) => {
                let (left, left_extent) = self.expr_with_extent(&binary.left);
                let (right, right_extent) = self.expr_with_extent(&binary.right);
                let span = join(left_extent, right_extent);
                let comparison = match &binary.op {
                    syn::BinOp::Eq(_) => Some("=="),
                    syn::BinOp::Ne(_) => Some("!="),
                    syn::BinOp::Lt(_) => Some("<"),
                    syn::BinOp::Le(_) => Some("<="),
                    syn::BinOp::Gt(_) => Some(">"),
                    syn::BinOp::Ge(_) => Some(">="),
                    _ => None,
                };
                let operator = match &binary.op {
                    syn::BinOp::And(_) => Some(BoolOp::And),
                    syn::BinOp::Or(_) => Some(BoolOp::Or),
                    _ => None,
                };
                let kind = match (comparison, operator) {
                    (Some(comparison), _) => ExprKind::Compare { operands: vec![left, right], operators: vec![comparison.into()] },
                    (None, Some(operator)) => {
                        let mut operands = Vec::new();
                        for operand in [left, right] {
                            match operand.kind {
                                ExprKind::Bool { operator: inner, operands: nested } if inner == operator => operands.extend(nested),
                                kind => operands.push(Expr { span: operand.span, kind }),
                            }
                        }
                        ExprKind::Bool { operator, operands }
                    }
                    (None, None) => ExprKind::Other(vec![left, right]),
                };
                made(kind, span)
            }
            S::Assign(assign) => {
                let (left, left_extent) = self.expr_with_extent(&assign.left);
                let (right, right_extent) = self.expr_with_extent(&assign.right);
                made(ExprKind::Other(vec![left, right]), join(left_extent, right_extent))
            }
            S::Range(range) => {
                let (first, last) = range_limits(&range.limits);
                let mut parts = Vec::new();
                let mut span = join(self.span(first), self.span(last));
                if let Some(start) = &range.start {
                    let (start, extent) = self.expr_with_extent(start);
                    span = join(extent, span);
                    parts.push(start);
                }
                if let Some(end) = &range.end {
                    let (end, extent) = self.expr_with_extent(end);
                    span = join(span, extent);
                    parts.push(end);
                }
                made(ExprKind::Other(parts), span)
            }
            S::Tuple(tuple) => {
                let span = self.span(tuple.paren_token.span.join());
                made(ExprKind::Sequence(self.exprs(&tuple.elems)), span)
            }
            S::Array(array) => {
                let span = self.span(array.bracket_token.span.join());
                made(ExprKind::Sequence(self.exprs(&array.elems)), span)
            }
            S::Repeat(repeat) => {
                let span = self.span(repeat.bracket_token.span.join());
                let parts = vec![self.expr(&repeat.expr), self.expr(&repeat.len)];
                made(ExprKind::Other(parts), span)
            }
            S::Struct(literal) => {
                let qself = literal.qself.as_ref().map(|qself| qself.lt_token.spans[0]);
                let callee = self.path_expr(&literal.path, qself);
                let span = join(callee.span, self.span(literal.brace_token.span.close()));
                let mut keywords = Vec::new();
                for field in &literal.fields {
                    let name = match &field.member {
                        syn::Member::Named(ident) => identifier(ident),
                        syn::Member::Unnamed(index) => index.index.to_string(),
                    };
                    keywords.push((name, self.expr(&field.expr)));
                }
                let mut args = Vec::new();
                if let Some(rest) = &literal.rest {
                    let (base, extent) = self.expr_with_extent(rest);
                    let splat_span = match &literal.dot2_token {
                        Some(dots) => join(self.span(dots.spans[0]), extent),
                        None => extent,
                    };
                    args.push(self.other(splat_span, vec![base]));
                }
                let has_splat = !args.is_empty();
                made(ExprKind::Call(Call { callee: Box::new(callee), args, keywords, has_splat }), span)
            }
            S::Closure(closure) => {
                let body = match &*closure.body {
                    S::Block(block) if block.label.is_none() => {
                        let span = self.span(block.block.brace_token.span.join());
                        self.block_expr(&block.block, span)
                    }
                    other => self.expr(other),
                };
                let span = join(self.span(own_first_token(expr)), self.extent(&closure.body));
                made(ExprKind::Lambda { body: Box::new(body) }, span)
            }
            S::Async(block) => {
                let span = self.span_between(block.async_token.span, block_close(&block.block));
                let body = self.block_expr(&block.block, span);
                made(ExprKind::Lambda { body: Box::new(body) }, span)
            }
            S::Block(block) => {
                let span = self.extent(expr);
                (self.block_expr(&block.block, span), span)
            }
            S::Unsafe(block) => {
                let span = self.extent(expr);
                (self.block_expr(&block.block, span), span)
            }
            S::Const(block) => {
                let span = self.extent(expr);
                (self.block_expr(&block.block, span), span)
            }
            S::TryBlock(block) => {
                let span = self.extent(expr);
                (self.block_expr(&block.block, span), span)
            }
            S::If(_) | S::Match(_) | S::Loop(_) | S::While(_) | S::ForLoop(_) => {
                let span = self.extent(expr);
                let mut statements = Vec::new();
                self.expr_statement_into(expr, &Sink::Discard, span, &mut statements);
                let mut parts = Vec::new();
                Self::flatten(statements, &mut parts);
                made(ExprKind::Other(parts), span)
            }
            S::Let(binding) => {
                let span = self.extent(expr);
                let parts = vec![self.pattern(&binding.pat), self.expr(&binding.expr)];
                made(ExprKind::Other(parts), span)
            }
            S::Return(returned) => {
                let span = self.extent(expr);
                let parts = returned.expr.iter().map(|value| self.expr(value)).collect();
                made(ExprKind::Other(parts), span)
            }
            S::Break(broken) => {
                let span = self.extent(expr);
                let parts = broken.expr.iter().map(|value| self.expr(value)).collect();
                made(ExprKind::Other(parts), span)
            }
            S::Yield(yielded) => {
                let span = self.extent(expr);
                let parts = yielded.expr.iter().map(|value| self.expr(value)).collect();
                made(ExprKind::Other(parts), span)
            }
            S::Macro(mac) => {
                let converted = self.macro_expr(&mac.mac);
                let span = converted.span;
                (converted, span)
            }
            S::Infer(infer) => made(ExprKind::Name("_".into()), self.span(infer.underscore_token.spans[0])),
            S::Paren(paren) => self.expr_with_extent(&paren.expr),
            S::Group(group) => self.expr_with_extent(&group.expr),
            other => {
                let span = self.extent(other);
                made(ExprKind::Other(Vec::new()), span)
            }
        }
    }

    /// A path as a `Name`/`Attribute` chain, generic arguments dropped.
    fn path_expr(&mut self, path: &syn::Path, qself: Option<TokenSpan>) -> Expr {
        let first_token = qself.or(path_first_token(path)).unwrap_or_else(TokenSpan::call_site);
        let start = self.span(first_token);
        let mut segments = path.segments.iter().take(MAX_PATH_SEGMENTS);
        let Some(first) = segments.next() else {
            return self.other(start, Vec::new());
        };
        let mut expr = Expr { span: join(start, self.span(first.ident.span())), kind: ExprKind::Name(identifier(&first.ident)) };
        for segment in segments {
            let span = join(start, self.span(segment.ident.span()));
            expr = Expr { span, kind: ExprKind::Attribute { object: Box::new(expr), name: identifier(&segment.ident) } };
        }
        expr
    }

    // ----- macros -------------------------------------------------------------------

    fn macro_expr(&mut self, mac: &syn::Macro) -> Expr {
        let path = path_text(&mac.path);
        let last = path_last(&mac.path);
        let start = path_first_token(&mac.path).unwrap_or(mac.bang_token.spans[0]);
        let span = self.span_between(start, macro_close(&mac.delimiter));
        let callee = Expr { span: self.span_between(start, mac.bang_token.spans[0]), kind: ExprKind::Name(format!("{path}!")) };
        if self.depth > MAX_DEPTH {
            return self.other(span, Vec::new());
        }
        self.depth += 1;
        let kind = if last == "json" {
            let value = self.json_value(&mac.tokens.clone().into_iter().collect::<Vec<_>>(), span);
            ExprKind::Call(Call { callee: Box::new(callee), args: vec![value], keywords: Vec::new(), has_splat: false })
        } else {
            let arguments = pieces(&mac.tokens);
            let format_index = if matches!(last.as_str(), "write" | "writeln") { 1 } else { 0 };
            let format = match arguments.get(format_index) {
                Some(Piece::Positional(syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(format), .. }))) => Some(format.clone()),
                _ => None,
            };
            match format {
                Some(format) if FORMAT_MACROS.contains(&last.as_str()) => {
                    let mut arguments = arguments;
                    arguments.remove(format_index);
                    self.interpolated(&format, arguments)
                }
                _ => {
                    let (args, keywords) = self.arguments(arguments, CAPTURING_MACROS.contains(&last.as_str()));
                    ExprKind::Call(Call { callee: Box::new(callee), args, keywords, has_splat: false })
                }
            }
        };
        self.depth -= 1;
        Expr { span, kind }
    }

    /// A format string with its arguments and the names it captures.
    fn interpolated(&mut self, format: &syn::LitStr, arguments: Vec<Piece>) -> ExprKind {
        let text = format.value();
        let literal_span = self.span(format.span());
        let mut named = Vec::new();
        let mut parts = Vec::new();
        for argument in &arguments {
            match argument {
                Piece::Positional(value) => parts.push(self.expr(value)),
                Piece::Named(name, value) => {
                    named.push(name.clone());
                    parts.push(self.expr(value));
                }
            }
        }
        for capture in format_captures(&text) {
            if !named.contains(&capture) {
                parts.push(Expr { span: literal_span, kind: ExprKind::Name(capture) });
            }
        }
        if parts.is_empty() { ExprKind::String(text) } else { ExprKind::Interpolated { text, parts } }
    }

    /// Positional arguments and keywords; with `captures`, a string literal that
    /// captures names is `Interpolated`.
    fn arguments(&mut self, arguments: Vec<Piece>, captures: bool) -> (Vec<Expr>, Vec<(String, Expr)>) {
        let mut args = Vec::new();
        let mut keywords = Vec::new();
        for argument in arguments {
            match argument {
                Piece::Positional(syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(literal), .. }))
                    if captures && !format_captures(&literal.value()).is_empty() =>
                {
                    let span = self.span(literal.span());
                    args.push(Expr { span, kind: self.interpolated(&literal, Vec::new()) });
                }
                Piece::Positional(value) => args.push(self.expr(&value)),
                Piece::Named(name, value) => keywords.push((name, self.expr(&value))),
            }
        }
        (args, keywords)
    }

    /// A `json!` value: objects are dicts, arrays sequences, anything else an expression.
    fn json_value(&mut self, tokens: &[TokenTree], fallback: Span) -> Expr {
        if self.depth > MAX_DEPTH {
            return self.other(fallback, Vec::new());
        }
        self.depth += 1;
        let value = match tokens {
            [TokenTree::Group(group)] if group.delimiter() == Delimiter::Brace => {
                let span = self.span(group.span());
                let mut entries = Vec::new();
                for entry in split_commas(&group.stream()) {
                    let Some(colon) = lone_colon(&entry) else { continue };
                    let (key, value) = (&entry[..colon], &entry[colon + 1..]);
                    let key_expr = match key {
                        [TokenTree::Literal(literal)] => {
                            let literal = syn::Lit::new(literal.clone());
                            Some(Expr { span: self.span(literal.span()), kind: literal_kind(&literal) })
                        }
                        _ => parse_expression(key).map(|key| self.expr(&key)),
                    };
                    let value = self.json_value(value, span);
                    entries.push((key_expr, value));
                }
                Expr { span, kind: ExprKind::Dict(entries) }
            }
            [TokenTree::Group(group)] if group.delimiter() == Delimiter::Bracket => {
                let span = self.span(group.span());
                let items = split_commas(&group.stream()).iter().map(|item| self.json_value(item, span)).collect();
                Expr { span, kind: ExprKind::Sequence(items) }
            }
            [TokenTree::Ident(ident)] if ident == "null" => Expr { span: self.span(ident.span()), kind: ExprKind::Constant("null".into()) },
            _ => {
                let stream: TokenStream = tokens.iter().cloned().collect();
                let parsed = if tokens_within_limit(&stream) { syn::parse2::<syn::Expr>(stream).ok() } else { None };
                match parsed {
                    Some(expr) => self.expr(&expr),
                    None => self.other(fallback, Vec::new()),
                }
            }
        };
        self.depth -= 1;
        value
    }

    // ----- patterns -----------------------------------------------------------------

    /// A pattern as an assignment target: bindings are names, tuples and slices
    /// sequences, `Ok(x)` and struct patterns `Other` of their parts.
    fn pattern(&mut self, pattern: &syn::Pat) -> Expr {
        use syn::Pat as P;
        let span = self.span(pattern.span());
        if self.depth > MAX_DEPTH {
            return self.other(span, Vec::new());
        }
        self.depth += 1;
        let kind = match pattern {
            P::Ident(binding) => {
                let name = Expr { span: self.span(binding.ident.span()), kind: ExprKind::Name(identifier(&binding.ident)) };
                match &binding.subpat {
                    Some((_, inner)) => ExprKind::Other(vec![name, self.pattern(inner)]),
                    None => name.kind,
                }
            }
            P::Wild(_) => ExprKind::Name("_".into()),
            P::Tuple(tuple) => ExprKind::Sequence(tuple.elems.iter().map(|part| self.pattern(part)).collect()),
            P::Slice(slice) => ExprKind::Sequence(slice.elems.iter().map(|part| self.pattern(part)).collect()),
            P::TupleStruct(tuple) => ExprKind::Other(tuple.elems.iter().map(|part| self.pattern(part)).collect()),
            P::Struct(structure) => ExprKind::Other(structure.fields.iter().map(|field| self.pattern(&field.pat)).collect()),
            P::Or(alternatives) => ExprKind::Other(alternatives.cases.iter().map(|case| self.pattern(case)).collect()),
            P::Path(path) => self.path_expr(&path.path, path.qself.as_ref().map(|qself| qself.lt_token.spans[0])).kind,
            P::Lit(literal) => literal_kind(&literal.lit),
            P::Range(range) => {
                let parts = range.start.iter().chain(range.end.iter()).map(|bound| self.expr(bound)).collect();
                ExprKind::Other(parts)
            }
            P::Reference(reference) => {
                let inner = self.pattern(&reference.pat);
                self.depth -= 1;
                return inner;
            }
            P::Paren(paren) => {
                let inner = self.pattern(&paren.pat);
                self.depth -= 1;
                return inner;
            }
            P::Type(typed) => {
                let inner = self.pattern(&typed.pat);
                self.depth -= 1;
                return inner;
            }
            P::Guard(guarded) => ExprKind::Other(vec![self.pattern(&guarded.pat), self.expr(&guarded.guard)]),
            _ => ExprKind::Other(Vec::new()),
        };
        self.depth -= 1;
        Expr { span, kind }
    }
}

/// The names a parameter pattern binds, in order.
fn binding_names(pattern: &syn::Pat, names: &mut Vec<String>, depth: usize) {
    use syn::Pat as P;
    if depth > MAX_DEPTH {
        return;
    }
    match pattern {
        P::Ident(binding) => {
            names.push(identifier(&binding.ident));
            if let Some((_, inner)) = &binding.subpat {
                binding_names(inner, names, depth + 1);
            }
        }
        P::Tuple(tuple) => tuple.elems.iter().for_each(|part| binding_names(part, names, depth + 1)),
        P::Slice(slice) => slice.elems.iter().for_each(|part| binding_names(part, names, depth + 1)),
        P::TupleStruct(tuple) => tuple.elems.iter().for_each(|part| binding_names(part, names, depth + 1)),
        P::Struct(structure) => structure.fields.iter().for_each(|field| binding_names(&field.pat, names, depth + 1)),
        P::Or(alternatives) => {
            if let Some(first) = alternatives.cases.first() {
                binding_names(first, names, depth + 1);
            }
        }
        P::Reference(reference) => binding_names(&reference.pat, names, depth + 1),
        P::Paren(paren) => binding_names(&paren.pat, names, depth + 1),
        P::Type(typed) => binding_names(&typed.pat, names, depth + 1),
        _ => {}
    }
}

fn literal_kind(literal: &syn::Lit) -> ExprKind {
    match literal {
        syn::Lit::Str(text) => ExprKind::String(text.value()),
        syn::Lit::ByteStr(bytes) => ExprKind::String(String::from_utf8_lossy(&bytes.value()).into_owned()),
        syn::Lit::CStr(text) => ExprKind::String(text.value().to_string_lossy().into_owned()),
        syn::Lit::Char(character) => ExprKind::String(character.value().to_string()),
        syn::Lit::Byte(byte) => ExprKind::String(char::from(byte.value()).to_string()),
        syn::Lit::Int(number) => ExprKind::Number(number.token().to_string()),
        syn::Lit::Float(number) => ExprKind::Number(number.token().to_string()),
        syn::Lit::Bool(value) => ExprKind::Constant(value.value().to_string()),
        _ => ExprKind::Other(Vec::new()),
    }
}

/// Expressions lowered into statements when they give a value (`let x = match ...`).
fn is_lowered(expr: &syn::Expr) -> bool {
    match expr {
        syn::Expr::If(_) | syn::Expr::Match(_) | syn::Expr::Unsafe(_) | syn::Expr::Const(_) => true,
        syn::Expr::Block(block) => block.label.is_none(),
        syn::Expr::Paren(paren) => is_lowered(&paren.expr),
        _ => false,
    }
}

/// The last token of an `if` chain.
fn if_end(conditional: &syn::ExprIf) -> TokenSpan {
    match &conditional.else_branch {
        Some((_, otherwise)) => last_token(otherwise),
        None => block_close(&conditional.then_branch),
    }
}

fn is_result_if(conditional: &syn::ExprIf) -> bool {
    matches!(&*conditional.cond, syn::Expr::Let(binding) if matches!(result_arm(&binding.pat), ResultArm::Ok(_) | ResultArm::Err(_)))
}

fn is_compound_assignment(op: &syn::BinOp) -> bool {
    matches!(
        op,
        syn::BinOp::AddAssign(_)
            | syn::BinOp::SubAssign(_)
            | syn::BinOp::MulAssign(_)
            | syn::BinOp::DivAssign(_)
            | syn::BinOp::RemAssign(_)
            | syn::BinOp::BitXorAssign(_)
            | syn::BinOp::BitAndAssign(_)
            | syn::BinOp::BitOrAssign(_)
            | syn::BinOp::ShlAssign(_)
            | syn::BinOp::ShrAssign(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: ExtractOptions = ExtractOptions { outline: false, comments_with: Some("oauth-audit:") };

    fn facts(text: &str) -> FileFacts {
        match extract(text, OPTIONS) {
            Ok(facts) => facts,
            Err(error) => panic!("does not parse: {error}"),
        }
    }

    fn function<'f>(facts: &'f FileFacts, name: &str) -> &'f Function {
        facts.functions.iter().find(|function| function.name == name).unwrap_or_else(|| panic!("no function {name}"))
    }

    /// Every call's callee as written (`state.http.post`, `….json`), in walk order.
    fn callees(block: &Block) -> Vec<String> {
        block
            .calls()
            .into_iter()
            .map(|(_, call, _)| match (&call.callee.kind, call.callee.dotted()) {
                (_, Some(dotted)) => dotted,
                (ExprKind::Attribute { name, .. }, None) => format!("….{name}"),
                _ => "?".into(),
            })
            .collect()
    }

    fn text_of(text: &str, span: Span) -> &str {
        &text[span.start_byte..span.end_byte]
    }

    const HANDLER: &str = r#"use axum::extract::{Query, State};
use crate::runtime::store::{self, TokenStore as Store};

const TOKEN_URL: &str = "https://slack.com/api/oauth.v2.access";

async fn oauth_callback(Query(params): Query<CallbackParams>, State(state): State<AppState>) -> Result<Redirect, AppError> {
    let tenant = params.state.clone();
    let resp = state.http.post(TOKEN_URL).form(&[("code", params.code.as_str())]).send().await?;
    let token: TokenResponse = resp.json().await?;
    state.store.upsert_token(&tenant, "slack", &token)?;
    let mut tx = state.db.begin().await?;
    sqlx::query("INSERT INTO tokens VALUES ($1)").bind(&token.access_token).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(Redirect::to("/done"))
}
"#;

    #[test]
    fn an_axum_callback_reads_like_any_handler() {
        let facts = facts(HANDLER);
        let callback = function(&facts, "oauth_callback");
        assert!(callback.is_async);
        assert_eq!(callback.parent, Some(FunctionId(0)));
        let params: Vec<(&str, Option<&str>)> =
            callback.params.iter().map(|param| (param.name.as_str(), param.annotation.as_deref())).collect();
        assert_eq!(params, vec![("params", Some("Query<CallbackParams>")), ("state", Some("State<AppState>"))]);
        let statements = &callback.body.statements;
        assert_eq!(statements.len(), 8);
        // `let resp = ....send().await?;`: the value is `?` of `await` of the call.
        let StmtKind::Assign { targets, value, augmented: false } = &statements[1].kind else { panic!("an assignment") };
        assert_eq!(targets[0].as_name(), Some("resp"));
        let ExprKind::Try(awaited) = &value.kind else { panic!("`?`: {:?}", value.kind) };
        assert!(matches!(awaited.kind, ExprKind::Await(_)));
        let send = value.unawaited().as_call().expect("a call");
        assert!(matches!(&send.callee.kind, ExprKind::Attribute { name, .. } if name == "send"));
        // `let token: T = resp.json().await?;`: a zero-argument `.json()` on `resp`.
        let StmtKind::Assign { targets, value, .. } = &statements[2].kind else { panic!("an assignment") };
        assert_eq!(targets[0].as_name(), Some("token"));
        let json = value.unawaited().as_call().expect("a call");
        assert!(json.has_no_arguments());
        let ExprKind::Attribute { object, name } = &json.callee.kind else { panic!("a method call") };
        assert_eq!((object.as_name(), name.as_str()), (Some("resp"), "json"));
        assert_eq!(text_of(HANDLER, value.span), "resp.json().await?");
        assert_eq!(
            callees(&callback.body),
            vec![
                "params.state.clone",
                "….send",
                "….form",
                "state.http.post",
                "params.code.as_str",
                "resp.json",
                "state.store.upsert_token",
                "state.db.begin",
                "….execute",
                "….bind",
                "sqlx.query",
                "tx.commit",
                "Ok",
                "Redirect.to",
            ]
        );
        // `&mut *tx` is `tx`.
        let (_, execute, _) = callback
            .body
            .calls()
            .into_iter()
            .find(|(_, call, _)| matches!(&call.callee.kind, ExprKind::Attribute { name, .. } if name == "execute"))
            .expect("execute");
        assert_eq!(execute.args[0].as_name(), Some("tx"));
        // `tx.commit().await?;` is an expression statement; the tail is the return value.
        assert!(matches!(&statements[6].kind, StmtKind::Expr(expr) if expr.unawaited().as_call().is_some()));
        let StmtKind::Return(Some(returned)) = &statements[7].kind else { panic!("the tail returns") };
        assert_eq!(returned.as_call().and_then(|call| call.callee.dotted()).as_deref(), Some("Ok"));
        // Module level: imports, the constant, the function.
        let module = facts.module().expect("module");
        let StmtKind::Assign { targets, value, .. } = &module.body.statements[2].kind else { panic!("const is an assignment") };
        assert_eq!(targets[0].as_name(), Some("TOKEN_URL"));
        assert!(matches!(&value.kind, ExprKind::String(url) if url.starts_with("https://slack.com")));
        assert!(matches!(module.body.statements[3].kind, StmtKind::FunctionDef(FunctionId(1))));
    }

    #[test]
    fn use_trees_give_one_import_per_leaf() {
        let facts = facts(
            "use axum::extract::{Query, State};\nuse crate::runtime::store::{self, TokenStore as Store, nested::{Deep}};\nuse reqwest;\nuse serde_json as json;\nuse std::io::*;\nuse ::log::info;\nextern crate alloc as heap;\npub(crate) use r#async::r#type;\n",
        );
        let imports: Vec<(&str, Option<&str>, &str)> =
            facts.imports.iter().map(|import| (import.module.as_str(), import.name.as_deref(), import.alias.as_str())).collect();
        assert_eq!(
            imports,
            vec![
                ("axum.extract", Some("Query"), "Query"),
                ("axum.extract", Some("State"), "State"),
                ("crate.runtime.store", None, "store"),
                ("crate.runtime.store", Some("TokenStore"), "Store"),
                ("crate.runtime.store.nested", Some("Deep"), "Deep"),
                ("reqwest", None, "reqwest"),
                ("serde_json", None, "json"),
                ("log", Some("info"), "info"),
                ("alloc", None, "heap"),
                ("async", Some("type"), "type"),
            ]
        );
        assert_eq!(facts.imports[0].span.start.line, 0);
        assert_eq!(facts.imports[2].span.start.line, 1);
    }

    #[test]
    fn methods_belong_to_their_type_and_modules_are_flattened() {
        let text = r#"
pub struct TokenStore<T> { db: T }
enum Provider { Slack, Zoom }
impl<T: Db> TokenStore<T> {
    #[instrument(skip(self), fields(provider = "slack"))]
    pub async fn save(&mut self, token: &Token) -> Result<(), Error> {
        fn helper(x: u8) -> u8 { x }
        self.db.insert(token).await?;
        self.last = Some(token.clone());
        Ok(())
    }
    const LIMIT: usize = 3;
}
impl Drop for &TokenStore<Pool> { fn drop(self: Box<Self>) {} }
trait Sync { fn run(&self) -> u8 { Self::helper(1) } fn required(&self); }
mod inner { pub fn nested_module_function() {} }
"#;
        let facts = facts(text);
        let classes: Vec<&str> = facts.classes.iter().map(|class| class.name.as_str()).collect();
        assert_eq!(classes, vec!["TokenStore", "Provider", "Sync"]);
        let save = function(&facts, "save");
        assert_eq!(save.class.as_deref(), Some("TokenStore"));
        assert_eq!(save.qualified_name(), "TokenStore.save");
        assert_eq!(save.params[0].name, "self");
        assert_eq!(save.params[0].annotation, None);
        assert_eq!(save.params[1].annotation.as_deref(), Some("&Token"));
        assert_eq!(text_of(text, save.name_span), "save");
        assert!(text_of(text, save.span).starts_with("pub async fn save"));
        assert!(text_of(text, save.span).ends_with("Ok(())\n    }"));
        // `#[instrument(skip(self), fields(provider = "slack"))]`
        let Some(Call { callee, args, .. }) = save.decorators[0].as_call() else { panic!("a call") };
        assert_eq!(callee.as_name(), Some("instrument"));
        assert_eq!(args.len(), 2);
        let helper = function(&facts, "helper");
        assert_eq!((helper.class.as_deref(), helper.parent), (None, Some(save.id)));
        assert!(matches!(save.body.statements[0].kind, StmtKind::FunctionDef(id) if id == helper.id));
        // `self.last = ...` assigns an attribute of `self`.
        let StmtKind::Assign { targets, .. } = &save.body.statements[2].kind else { panic!("an assignment") };
        assert_eq!(targets[0].dotted().as_deref(), Some("self.last"));
        let drop = function(&facts, "drop");
        assert_eq!(drop.class.as_deref(), Some("TokenStore"));
        assert_eq!(drop.params[0].annotation.as_deref(), Some("Box<Self>"));
        let run = function(&facts, "run");
        assert_eq!(run.class.as_deref(), Some("Sync"));
        assert_eq!(callees(&run.body), vec!["Self.helper"]);
        assert!(!facts.functions.iter().any(|function| function.name == "required"), "no body, nothing to read");
        let nested = function(&facts, "nested_module_function");
        assert_eq!((nested.class.as_deref(), nested.parent), (None, Some(FunctionId(0))));
        // The impl is a class statement holding its methods and constants.
        let module = facts.module().expect("module");
        let Some(StmtKind::ClassDef { name, body }) = module.body.statements.get(2).map(|stmt| &stmt.kind) else { panic!("impl") };
        assert_eq!(name, "TokenStore");
        assert!(matches!(body.statements[0].kind, StmtKind::FunctionDef(_)));
        assert!(matches!(&body.statements[1].kind, StmtKind::Assign { targets, .. } if targets[0].as_name() == Some("LIMIT")));
    }

    #[test]
    fn attributes_are_decorators() {
        let facts = facts(
            "/// Handles the callback.\n#[get(\"/callback\")]\n#[actix_web::post(\"/x\", name = \"x\")]\n#[tokio::main]\n#[cfg(test)]\n#[doc = \"more\"]\n#[must_use = \"why\"]\nasync fn callback(query: web::Query<Params>) {}\n",
        );
        let callback = function(&facts, "callback");
        let decorators = &callback.decorators;
        assert_eq!(decorators.len(), 5, "doc comments are not decorators");
        let get = decorators[0].as_call().expect("a call");
        assert_eq!(get.callee.as_name(), Some("get"));
        assert!(matches!(&get.args[0].kind, ExprKind::String(path) if path == "/callback"));
        assert_eq!(decorators[0].span.start.line, 1);
        let post = decorators[1].as_call().expect("a call");
        assert_eq!(post.callee.dotted().as_deref(), Some("actix_web.post"));
        assert!(matches!(&post.callee.kind, ExprKind::Attribute { .. }));
        assert_eq!(post.keywords.len(), 1);
        assert_eq!(decorators[2].dotted().as_deref(), Some("tokio.main"));
        assert_eq!(decorators[3].as_call().and_then(|call| call.callee.as_name()), Some("cfg"));
        let must_use = decorators[4].as_call().expect("a call");
        assert!(matches!(&must_use.args[0].kind, ExprKind::String(reason) if reason == "why"));
        assert_eq!(callback.params[0].annotation.as_deref(), Some("web::Query<Params>"));
    }

    #[test]
    fn a_match_on_a_result_is_a_try() {
        let text = r#"
fn f() {
    match client.post(url).send() {
        Ok(response) => { let data = response.json(); save(data); }
        Err(error) => { log(error); return; }
    }
    let token = match response.json::<Token>() {
        Ok(token) => token,
        Err(Error::Decode(inner)) | Err(Error::Body(inner)) => return Err(inner.into()),
        Err(_) if retry => fallback(),
    };
    match outcome {
        Ok(Some(x)) => use_it(x),
        Ok(None) => {}
        other => report(other),
    }
    match status { 200 => ok(), _ => fail() }
}
"#;
        let facts = facts(text);
        let statements = &function(&facts, "f").body.statements;
        let StmtKind::Try { body, handlers, else_block: None, finally_block: None } = &statements[0].kind else { panic!("a try") };
        let StmtKind::Assign { targets, value, .. } = &body.statements[0].kind else { panic!("the Ok binding") };
        assert_eq!(targets[0].as_name(), Some("response"));
        assert!(value.as_call().is_some());
        assert_eq!(callees(body), vec!["….send", "client.post", "response.json", "save"]);
        assert_eq!(handlers.len(), 1);
        assert_eq!((handlers[0].types.clone(), handlers[0].name.as_deref()), (Vec::<String>::new(), Some("error")));
        assert!(handlers[0].body.leaves());
        assert!(text_of(text, handlers[0].span).starts_with("Err(error) =>"));
        // `let token = match ...`: the arms end in assignments of `token`.
        let StmtKind::Try { body, handlers, .. } = &statements[1].kind else { panic!("a try") };
        assert!(text_of(text, statements[1].span).starts_with("let token = match"));
        let assigned: Vec<Option<&str>> = body
            .statements
            .iter()
            .map(|stmt| match &stmt.kind {
                StmtKind::Assign { targets, .. } => targets[0].as_name(),
                _ => None,
            })
            .collect();
        assert_eq!(assigned, vec![Some("token"), Some("token")], "`token = json()`, then `token = token`");
        assert_eq!(handlers.len(), 2);
        assert_eq!(handlers[0].types, vec!["Error.Decode".to_string(), "Error.Body".to_string()]);
        assert!(matches!(handlers[0].body.statements[0].kind, StmtKind::Return(Some(_))));
        assert_eq!(handlers[1].name, None);
        assert!(matches!(&handlers[1].body.statements[0].kind, StmtKind::Other(guard) if guard[0].as_name() == Some("retry")));
        assert!(matches!(&handlers[1].body.statements[1].kind, StmtKind::Assign { targets, .. } if targets[0].as_name() == Some("token")));
        // Two `Ok` arms: an `if` chain in the body; the catch-all after them is the handler.
        let StmtKind::Try { body, handlers, .. } = &statements[2].kind else { panic!("a try") };
        assert!(matches!(body.statements[0].kind, StmtKind::Expr(_)));
        assert!(matches!(body.statements[1].kind, StmtKind::If { .. }));
        assert_eq!(handlers[0].name.as_deref(), Some("other"));
        // Not a result: the subject, then an `if` per arm.
        assert!(matches!(&statements[3].kind, StmtKind::Other(subject) if subject[0].as_name() == Some("status")));
        let StmtKind::If { condition, else_block: Some(otherwise), .. } = &statements[4].kind else { panic!("an if chain") };
        assert!(matches!(&condition.kind, ExprKind::Other(parts) if matches!(parts[0].kind, ExprKind::Number(_))));
        assert!(matches!(otherwise.statements[0].kind, StmtKind::If { .. }));
    }

    #[test]
    fn if_let_on_a_result_is_a_try() {
        let text = r#"
async fn f() {
    if let Err(error) = tx.execute(query).await {
        warn!("could not queue: {error}");
    }
    if let Ok(body) = response.json::<Value>().await { use_it(body) } else { return Err(AppError::Html) }
    if let Err(_) = check() { bail!("bad") } else { proceed() }
    let Ok(token) = response.json().await else { return Err(anyhow!("no token")) };
    let Some(code) = params.code else { return Ok(Redirect::to("/")) };
    if let Some(code) = params.code.as_ref() { exchange(code) }
}
"#;
        let facts = facts(text);
        let statements = &function(&facts, "f").body.statements;
        let StmtKind::Try { body, handlers, else_block, .. } = &statements[0].kind else { panic!("a try") };
        assert!(matches!(&body.statements[0].kind, StmtKind::Expr(expr) if matches!(expr.kind, ExprKind::Await(_))));
        assert_eq!(handlers[0].name.as_deref(), Some("error"));
        assert!(text_of(text, handlers[0].span).starts_with("if let Err(error)"));
        assert!(else_block.is_none());
        // `warn!("...{error}")` uses the caught error.
        let StmtKind::Expr(warning) = &handlers[0].body.statements[0].kind else { panic!("an expression") };
        assert_eq!(warning.as_call().and_then(|call| call.callee.as_name()), Some("warn!"));
        assert_eq!(warning.names(), vec!["warn!", "error"]);
        let StmtKind::Try { body, handlers, .. } = &statements[1].kind else { panic!("a try") };
        assert!(matches!(&body.statements[0].kind, StmtKind::Assign { targets, .. } if targets[0].as_name() == Some("body")));
        assert_eq!(callees(body), vec!["response.json", "use_it"]);
        assert!(handlers[0].body.leaves());
        assert!(text_of(text, handlers[0].span).starts_with("else {"));
        let StmtKind::Try { handlers, else_block: Some(otherwise), .. } = &statements[2].kind else { panic!("a try with else") };
        assert!(matches!(handlers[0].body.statements[0].kind, StmtKind::Raise { .. }));
        assert_eq!(callees(otherwise), vec!["proceed"]);
        // `let Ok(token) = x else { .. }`
        let StmtKind::Try { body, handlers, .. } = &statements[3].kind else { panic!("a try") };
        assert!(matches!(&body.statements[0].kind, StmtKind::Assign { targets, .. } if targets[0].as_name() == Some("token")));
        assert!(handlers[0].body.leaves());
        // `let Some(code) = x else { .. }`: the binding, then an `if` that leaves.
        assert!(matches!(&statements[4].kind, StmtKind::Assign { targets, .. } if targets[0].bound_names() == vec!["code"]));
        assert!(matches!(&statements[5].kind, StmtKind::If { then_block, .. } if then_block.leaves()));
        // `if let Some(..)` is an ordinary `if` with the pattern and the value as condition.
        let StmtKind::If { condition, .. } = &statements[6].kind else { panic!("an if") };
        assert!(matches!(&condition.kind, ExprKind::Other(parts) if parts.len() == 2 && parts[0].bound_names() == vec!["code"]));
    }

    #[test]
    fn values_of_ifs_and_blocks_are_lowered_into_their_branches() {
        let text = r#"
fn f() -> u8 {
    let data = if content_type.contains("json") { resp.json().await? } else { return Err(html()) };
    total += 1;
    count = { let x = g(); x + 1 };
    call(if a { b() } else { c() });
    for (key, value) in map.iter() { seen.insert(key); }
    while let Some(row) = rows.next().await? { handle(row); }
    loop { break tick(); }
    if ready { first() } else if later { second() } else { third() }
}
"#;
        let facts = facts(text);
        let statements = &function(&facts, "f").body.statements;
        let StmtKind::If { condition, then_block, else_block: Some(otherwise) } = &statements[0].kind else { panic!("an if") };
        assert!(condition.as_call().is_some());
        assert!(matches!(&then_block.statements[0].kind, StmtKind::Assign { targets, .. } if targets[0].as_name() == Some("data")));
        assert!(otherwise.leaves());
        assert!(matches!(&statements[1].kind, StmtKind::Assign { augmented: true, .. }));
        assert!(matches!(&statements[2].kind, StmtKind::Assign { targets, .. } if targets[0].as_name() == Some("x")));
        assert!(matches!(&statements[3].kind, StmtKind::Assign { targets, .. } if targets[0].as_name() == Some("count")));
        // In an argument, an `if` is `Other` of its parts: the calls are still there.
        let StmtKind::Expr(call) = &statements[4].kind else { panic!("an expression") };
        assert_eq!(callees(&Block { statements: vec![statements[4].clone()] }), vec!["call", "b", "c"]);
        assert!(matches!(&call.as_call().expect("call").args[0].kind, ExprKind::Other(_)));
        let StmtKind::Loop { targets, iter: Some(_), condition: None, .. } = &statements[5].kind else { panic!("a for loop") };
        assert_eq!(targets[0].bound_names(), vec!["key", "value"]);
        let StmtKind::Loop { targets, iter: None, condition: Some(condition), .. } = &statements[6].kind else { panic!("while let") };
        assert_eq!(targets[0].bound_names(), vec!["row"]);
        assert!(matches!(condition.kind, ExprKind::Try(_)));
        let StmtKind::Loop { condition: Some(condition), body, .. } = &statements[7].kind else { panic!("loop") };
        assert!(matches!(&condition.kind, ExprKind::Constant(value) if value == "true"));
        assert!(matches!(body.statements[1].kind, StmtKind::Break));
        // The tail `if` chain returns from every branch.
        let StmtKind::If { then_block, else_block: Some(otherwise), .. } = &statements[8].kind else { panic!("an if") };
        assert!(then_block.leaves());
        let StmtKind::If { else_block: Some(last), .. } = &otherwise.statements[0].kind else { panic!("else if") };
        assert!(matches!(last.statements[0].kind, StmtKind::Return(Some(_))));
    }

    #[test]
    fn macros_and_struct_literals() {
        let text = r#"
fn f() {
    let body = json!({"access_token": token.access_token, "nested": {"refresh_token": r}, "list": [1, x], "none": null});
    let message = format!("{} failed for {tenant}: {error:?} {{literal}}", provider, error = e);
    let saved = TokenSet { access_token: token.access_token, refresh_token, ..TokenSet::default() };
    let rows = sqlx::query!("SELECT * FROM t WHERE a = $1", a).fetch_all(&db).await?;
    let items = vec![first(), second()];
    tracing::info!(tenant = %tenant, provider, "stored {count} tokens");
    write!(out, "{x}")?;
    bail!("state mismatch for {tenant}");
}
"#;
        let facts = facts(text);
        let statements = &function(&facts, "f").body.statements;
        let value = |index: usize| match &statements[index].kind {
            StmtKind::Assign { value, .. } => value.clone(),
            StmtKind::Expr(value) => value.clone(),
            other => panic!("no value: {other:?}"),
        };
        let json = value(0);
        let call = json.as_call().expect("json! is a call");
        assert_eq!(call.callee.as_name(), Some("json!"));
        let ExprKind::Dict(entries) = &call.args[0].kind else { panic!("a dict") };
        let keys: Vec<&str> = entries
            .iter()
            .map(|(key, _)| match key.as_ref().map(|key| &key.kind) {
                Some(ExprKind::String(key)) => key.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(keys, vec!["access_token", "nested", "list", "none"]);
        assert_eq!(entries[0].1.dotted().as_deref(), Some("token.access_token"));
        assert!(matches!(&entries[1].1.kind, ExprKind::Dict(inner) if inner.len() == 1));
        assert!(matches!(&entries[2].1.kind, ExprKind::Sequence(items) if items.len() == 2));
        assert!(matches!(&entries[3].1.kind, ExprKind::Constant(null) if null == "null"));
        assert_eq!(
            text_of(text, call.args[0].span),
            r#"{"access_token": token.access_token, "nested": {"refresh_token": r}, "list": [1, x], "none": null}"#
        );
        let ExprKind::Interpolated { text: format, parts } = &value(1).kind else { panic!("interpolated") };
        assert_eq!(format, "{} failed for {tenant}: {error:?} {{literal}}");
        let names: Vec<Option<&str>> = parts.iter().map(Expr::as_name).collect();
        assert_eq!(names, vec![Some("provider"), Some("e"), Some("tenant")], "arguments, then captures not named");
        let saved = value(2);
        let literal = saved.as_call().expect("a struct literal is a call");
        assert_eq!(literal.callee.as_name(), Some("TokenSet"));
        let keywords: Vec<&str> = literal.keywords.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(keywords, vec!["access_token", "refresh_token"]);
        assert_eq!(literal.keywords[1].1.as_name(), Some("refresh_token"));
        assert!(literal.has_splat);
        assert!(matches!(&literal.args[0].kind, ExprKind::Other(parts) if parts[0].as_call().is_some()));
        let rows = value(3);
        let query = rows.unawaited().as_call().and_then(|call| match &call.callee.kind {
            ExprKind::Attribute { object, .. } => object.as_call(),
            _ => None,
        });
        assert_eq!(query.and_then(|call| call.callee.as_name()), Some("sqlx.query!"));
        assert_eq!(query.map(|call| call.args.len()), Some(2));
        let items = value(4);
        assert_eq!(items.as_call().map(|call| (call.callee.as_name(), call.args.len())), Some((Some("vec!"), 2)));
        let info = value(5);
        let info = info.as_call().expect("a call");
        assert_eq!(info.callee.as_name(), Some("tracing.info!"));
        assert_eq!(info.keywords[0].0, "tenant");
        assert_eq!(info.args[0].as_name(), Some("provider"));
        assert!(matches!(&info.args[1].kind, ExprKind::Interpolated { parts, .. } if parts[0].as_name() == Some("count")));
        let ExprKind::Try(write) = &value(6).kind else { panic!("write!(..)?") };
        assert!(matches!(&write.kind, ExprKind::Interpolated { parts, .. } if parts.len() == 2));
        let StmtKind::Raise { exception: Some(exception), .. } = &statements[7].kind else { panic!("bail! raises") };
        assert!(matches!(&exception.kind, ExprKind::Interpolated { text, .. } if text.starts_with("state mismatch")));
    }

    #[test]
    fn closures_and_async_blocks_keep_their_calls() {
        let facts = facts(
            "fn f() {\n    let token = web::block(move || { let r = ureq::post(url).call()?; r.into_json() }).await??;\n    spawn(async move { sync(tenant).await });\n    let ids = rows.iter().map(|row| row.id).collect::<Vec<_>>();\n}\n",
        );
        let body = &function(&facts, "f").body;
        assert_eq!(
            callees(body),
            vec!["web.block", "….call", "ureq.post", "r.into_json", "spawn", "sync", "….collect", "….map", "rows.iter"]
        );
        let StmtKind::Assign { value, .. } = &body.statements[0].kind else { panic!("an assignment") };
        let block = value.unawaited().as_call().expect("a call");
        assert!(matches!(&block.args[0].kind, ExprKind::Lambda { body } if matches!(body.kind, ExprKind::Other(_))));
        let StmtKind::Expr(spawned) = &body.statements[1].kind else { panic!("an expression") };
        assert!(matches!(spawned.as_call().map(|call| &call.args[0].kind), Some(ExprKind::Lambda { .. })));
    }

    #[test]
    fn spans_are_byte_offsets_on_non_ascii_lines() {
        let text = "fn f() {\n    let café = \"naïve ✓\"; let r = résponse.json();\n}\n";
        let facts = facts(text);
        let body = &function(&facts, "f").body;
        let StmtKind::Assign { targets, value, .. } = &body.statements[1].kind else { panic!("an assignment") };
        assert_eq!(text_of(text, targets[0].span), "r");
        assert_eq!(text_of(text, value.span), "résponse.json()");
        let line = text.lines().nth(1).expect("line");
        let column = line.find("résponse").expect("found");
        assert_eq!(value.span.start, Point { line: 1, column });
        assert_eq!(value.span.end, Point { line: 1, column: column + "résponse.json()".len() });
        assert_eq!(text_of(text, body.statements[1].span), "let r = résponse.json();");
        let StmtKind::Assign { targets, value, .. } = &body.statements[0].kind else { panic!("an assignment") };
        assert_eq!(text_of(text, targets[0].span), "café");
        assert!(matches!(&value.kind, ExprKind::String(content) if content == "naïve ✓"));
        assert_eq!(text_of(text, value.span), "\"naïve ✓\"");
        // A long non-ASCII line: columns past the checkpoints.
        let long = format!("fn g() {{ let s = \"{}\"; resp.json() }}\n", "é".repeat(100));
        let facts = self::facts(&long);
        let StmtKind::Return(Some(json)) = &function(&facts, "g").body.statements[1].kind else { panic!("the tail") };
        assert_eq!(text_of(&long, json.span), "resp.json()");
        // A byte order mark shifts the first line; a shebang line is skipped.
        let text = "\u{feff}fn é() { go() }";
        let facts = self::facts(text);
        assert_eq!(text_of(text, function(&facts, "é").name_span), "é");
        let text = "#!/usr/bin/env run-cargo-script\nfn main() { go() }\n";
        let facts = self::facts(text);
        assert_eq!(text_of(text, function(&facts, "main").name_span), "main");
    }

    #[test]
    fn a_file_that_does_not_parse_is_an_error_with_its_position() {
        let error = extract("fn ok() {}\n\nfn broken() {\n    let x = ;\n}\n", OPTIONS).expect_err("does not parse");
        let FrontendError::Syntax { line, column, message } = &error else { panic!("a syntax error: {error}") };
        assert_eq!((*line, *column), (4, 13));
        assert!(message.contains("expected"), "{message}");
        assert!(error.to_string().starts_with("syntax error at line 4, column 13"));
        let unclosed = extract("fn f() {\n    let é = (1;\n", OPTIONS).expect_err("unbalanced");
        assert!(matches!(unclosed, FrontendError::Syntax { line: 1, .. } | FrontendError::Syntax { line: 2, .. }), "{unclosed}");
        let truncated = extract("fn f() -> \n", OPTIONS).expect_err("truncated");
        assert!(matches!(truncated, FrontendError::Syntax { line: 2, .. }), "{truncated}");
        let inside = extract("fn f() {\n    let x = \n}\n", OPTIONS).expect_err("no value");
        assert!(
            matches!(&inside, FrontendError::Syntax { line: 3, column: 1, message } if message.starts_with("unexpected end")),
            "{inside}"
        );
    }

    #[test]
    fn comments_are_found_outside_strings() {
        let text = r##"// oauth-audit: ignore[unguarded-json] -- first
fn f<'a>(x: &'a str) -> char {
    let url = "https://x.test/?q=// oauth-audit: not a comment";
    let raw = r#"/* oauth-audit: nor this */ "quoted" "#;
    let quote = '"'; let apostrophe = '\''; let byte = b'"';
    let r = resp.json(); // oauth-audit: ignore -- trailing
    /* outer /* nested oauth-audit: inner */ still comment */
    /// doc oauth-audit: in a doc comment
    'x'
}
// unrelated comment
"##;
        let facts = facts(text);
        let comments: Vec<(&str, usize)> = facts.comments.iter().map(|comment| (comment.text.as_str(), comment.span.start.line)).collect();
        assert_eq!(
            comments,
            vec![
                ("// oauth-audit: ignore[unguarded-json] -- first", 0),
                ("// oauth-audit: ignore -- trailing", 5),
                ("/* outer /* nested oauth-audit: inner */ still comment */", 6),
                ("/// doc oauth-audit: in a doc comment", 7),
            ]
        );
        let trailing = &facts.comments[1];
        assert_eq!(text_of(text, trailing.span), trailing.text);
        let none = extract(text, ExtractOptions::default()).expect("parses");
        assert!(none.comments.is_empty());
    }

    #[test]
    fn outline_keeps_declarations_without_bodies() {
        let text = "#[get(\"/cb\")]\nasync fn callback(Query(q): Query<P>) -> String { fn inner() {} resp.json().await }\nimpl Api { fn call(&self) { self.x() } }\n";
        let outline = extract(text, ExtractOptions { outline: true, comments_with: None }).expect("parses");
        let callback = function(&outline, "callback");
        assert_eq!(callback.decorators.len(), 1);
        assert_eq!(callback.params[0].name, "q");
        assert!(callback.body.statements.is_empty());
        assert!(!outline.functions.iter().any(|function| function.name == "inner"));
        let call = function(&outline, "call");
        assert_eq!(call.class.as_deref(), Some("Api"));
        assert!(call.body.statements.is_empty());
    }

    #[test]
    fn deep_nesting_is_refused_or_cut_off_without_overflowing() {
        // Too deep to parse: an error at the place it gets too deep.
        let parens = format!("fn f() {{ let x = {}r.json(){}; }}\n", "(".repeat(5000), ")".repeat(5000));
        let error = extract(&parens, OPTIONS).expect_err("too deep");
        assert!(matches!(&error, FrontendError::Syntax { line: 1, message, .. } if message.contains("nesting")), "{error}");
        // Under the limit: parsed, the conversion cut off at its own depth.
        let parens = format!("fn f() {{ let x = {}r.json(){}; }}\n", "(".repeat(900), ")".repeat(900));
        let facts = self::facts(&parens);
        assert_eq!(callees(&function(&facts, "f").body), vec!["r.json"], "parentheses are unwrapped in a loop");
        // Long chains parse in a loop and nest to the left.
        let sum = format!("fn f() {{ let x = {}r.json(); }}\n", "a + ".repeat(50_000));
        let facts = self::facts(&sum);
        let StmtKind::Assign { value, .. } = &function(&facts, "f").body.statements[0].kind else { panic!("an assignment") };
        assert_eq!(text_of(&sum, value.span).len(), 50_000 * 4 + "r.json()".len());
        let chain = format!("fn f() {{ x{}; }}\n", ".next()?".repeat(30_000));
        let facts = self::facts(&chain);
        assert_eq!(function(&facts, "f").body.statements.len(), 1);
        let mut elses = String::from("fn f() {\n    if a == 0 { x() }\n");
        for index in 1..5000 {
            elses.push_str(&format!("    else if a == {index} {{ r.json() }}\n"));
        }
        elses.push_str("}\n");
        let facts = self::facts(&elses);
        let body = &function(&facts, "f").body;
        assert_eq!(callees(body).len(), 5000, "every branch is kept");
        fn depth(block: &Block) -> usize {
            block.statements.iter().map(|stmt| 1 + stmt.blocks().map(depth).max().unwrap_or(0)).max().unwrap_or(0)
        }
        assert!(depth(body) <= MAX_DEPTH + 2, "depth {}", depth(body));
        let arms: String = (0..5000).map(|index| format!("{index} => r.json(),\n")).collect();
        let facts = self::facts(&format!("fn f() {{ match a {{ {arms} _ => {{}} }} }}"));
        assert_eq!(callees(&function(&facts, "f").body).len(), 5000);
    }

    #[test]
    fn every_kind_of_nesting_up_to_the_limit_parses_within_the_stack() {
        // Just under the limit, the costliest recursions syn knows must fit the parser
        // thread's stack (in a debug build too); past it, they are refused.
        type Case = fn(usize) -> String;
        let parsed: [Case; 13] = [
            |n| format!("fn f() {{ {}x{}; }}", "(".repeat(n), ")".repeat(n)),
            |n| format!("fn f() {}{}", "{".repeat(n), "}".repeat(n)),
            |n| format!("fn f() {{ {}x; }}", "!".repeat(n)),
            |n| format!("fn f() {{ {}x; }}", "&".repeat(n)),
            |n| format!("fn f() {{ {}1; }}", "a = ".repeat(n)),
            |n| format!("fn f(x: {}T{}) {{}}", "V<".repeat(n), ">".repeat(n)),
            |n| format!("fn f(x: {}T) {{}}", "&".repeat(n)),
            |n| format!("fn f(x: {}T) {{}}", "&&".repeat(n / 2)),
            |n| format!("fn f() {{ {}x; }}", "|| ".repeat(n / 2)),
            |n| format!("fn f() {{ {}x; }}", "return ".repeat(n)),
            |n| format!("fn f() {{ {}x{}; }}", "if ".repeat(n), " {}".repeat(n)),
            |n| format!("use {}x;", "a::".repeat(n)),
            |n| format!("fn f() {{ let {}x = 1; }}", "&".repeat(n)),
        ];
        for case in parsed {
            // Either outcome is fine under the limit; a crash is not.
            let _ = extract(&case(MAX_NESTING - 10), OPTIONS);
            let too_deep = case(2 * MAX_NESTING);
            assert!(extract(&too_deep, OPTIONS).is_err(), "past the limit: {}", &too_deep[..40]);
        }
        // Macro and attribute arguments are tokens to syn: past the limit, the file is
        // read and the arguments are dropped.
        let opaque: [Case; 2] = [
            |n| format!("fn f() {{ vec![{}x{}]; }}", "(".repeat(n), ")".repeat(n)),
            |n| format!("#[a({}x{})] fn f() {{}}", "(".repeat(n), ")".repeat(n)),
        ];
        for case in opaque {
            let _ = extract(&case(MAX_NESTING - 10), OPTIONS);
            let too_deep = case(MAX_NESTING / 2).replace('x', &"-".repeat(MAX_NESTING));
            let facts = extract(&too_deep, OPTIONS).expect("read");
            let f = function(&facts, "f");
            let calls = f.decorators.iter().chain(f.body.statements.iter().flat_map(Stmt::expressions)).filter_map(Expr::as_call);
            assert!(calls.clone().count() == 1 && calls.clone().all(|call| call.args.is_empty()), "{}", &too_deep[..30]);
        }
        // `json!` values are read group by group, down to the conversion's depth.
        let json = |n: usize| format!("fn f() {{ json!({}x{}); }}", "[".repeat(n), "]".repeat(n));
        assert!(extract(&json(MAX_NESTING - 10), OPTIONS).is_ok());
        assert!(extract(&json(MAX_NESTING / 2).replace('x', &"-".repeat(MAX_NESTING)), OPTIONS).is_ok());
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in [
            "",
            "\u{feff}",
            "#!",
            "#![allow(x)]",
            "fn",
            "'",
            "\"",
            "r#\"",
            "b'",
            "/*",
            "fn f() { 'a: loop { break 'a; } }",
            "fn f() { x?? }",
            "fn f() { let 'a = 1; }",
            "fn f() -> impl Fn() -> u8 { || 1 }",
            "macro_rules! m { ($x:expr) => { $x }; }",
            "fn f() { m!(%%% ,, ; ::) ; json!({ : }); json!({ \"a\" }); format!(1, 2); write!(); }",
            "fn f() { match x { Ok(..) => {}, Err(..) => {} } }",
            "fn f(_: u8, (a, b): (u8, u8), S { x, .. }: S) {}",
            "struct S; union U { a: u8 } type T = u8; extern \"C\" { fn g(); }",
            "fn f() { let x = y else { return }; }",
        ] {
            let _ = extract(text, OPTIONS);
        }
        let facts = facts("fn f(_: u8, (a, b): (u8, u8), S { x, .. }: S) {}");
        let names: Vec<&str> = function(&facts, "f").params.iter().map(|param| param.name.as_str()).collect();
        assert_eq!(names, vec!["_", "a", "b", "x"]);
    }
}
