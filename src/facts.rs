//! The language-neutral facts a frontend extracts from one file.
//!
//! Frontends turn syntax into this small statement/expression model; rules read only these
//! types. The model keeps what the rules of the 3-step pattern need: functions with their
//! parameters and decorators (route handlers), statements with their control structure
//! (try/except regions with caught types, `if` branches that leave, `with` blocks), calls
//! with receivers and arguments, assignments (to names and to attributes), imports, and
//! comments (suppressions). Anything else is kept as `Other` with its children, so a call
//! nested in an unmodelled expression is still seen. Some facts are there for the rules
//! and codemods still to come (callbacks, persistence, fixes): name spans, `is_async`,
//! parameter spans and defaults, class and import spans.

use serde::Serialize;

/// The last segment of a dotted name: `check_html_response` for `utils.check_html_response`.
pub fn last_segment(dotted: &str) -> &str {
    dotted.rsplit('.').next().unwrap_or(dotted)
}

/// True for a byte of an ASCII identifier (raw-text prefilters look no further).
pub fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Lower-case words of a name: split on punctuation and camelCase boundaries.
pub fn words_of(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The dotted name raw text starts with: `router.get` in `router.get("/x")`, empty when it
/// starts with anything else.
pub fn dotted_prefix(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|byte| !(is_name_byte(*byte) || *byte == b'.')).unwrap_or(bytes.len());
    &bytes[..end]
}

/// A position in a file: 0-based line, 0-based byte column within the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Point {
    pub line: usize,
    pub column: usize,
}

/// A byte range in a file with its start and end points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Span {
    pub start_byte: usize,
    pub end_byte: usize,
    pub start: Point,
    pub end: Point,
}

impl Span {
    pub fn contains(&self, other: &Span) -> bool {
        self.start_byte <= other.start_byte && other.end_byte <= self.end_byte
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Python,
    TypeScript,
    Rust,
}

impl Language {
    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::TypeScript => "typescript",
            Language::Rust => "rust",
        }
    }

    /// Whether `oauth-audit fix` has a codemod for rule `code` in this language: every
    /// fixable rule in Python; in TypeScript all but OA002, whose template would have to
    /// know where the code base keeps tokens.
    pub fn has_codemod(self, code: &str) -> bool {
        match self {
            Language::Python => true,
            Language::TypeScript => code != "OA002",
            Language::Rust => false,
        }
    }
}

/// Everything a frontend knows about one file.
#[derive(Debug, Clone)]
pub struct FileFacts {
    pub language: Language,
    /// Functions and methods, nested ones included. Index 0 is the module body itself
    /// (name `<module>`), so module-level statements are analysed like any other body.
    pub functions: Vec<Function>,
    pub classes: Vec<Class>,
    pub imports: Vec<Import>,
    pub comments: Vec<Comment>,
    /// Number of syntax error regions the parser recovered from.
    pub syntax_errors: usize,
    /// Location of the first syntax error, when there is one.
    pub first_syntax_error: Option<Span>,
}

impl FileFacts {
    pub fn module(&self) -> Option<&Function> {
        self.functions.first()
    }

    /// Methods of `class_name` and module-level functions named `name`, methods first.
    pub fn find_function(&self, class_name: Option<&str>, name: &str) -> Option<&Function> {
        if let Some(class_name) = class_name {
            let method = self.functions.iter().find(|function| function.name == name && function.class.as_deref() == Some(class_name));
            if method.is_some() {
                return method;
            }
        }
        self.functions.iter().find(|function| function.name == name && function.class.is_none() && function.parent == Some(FunctionId(0)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FunctionId(pub usize);

#[derive(Debug, Clone)]
pub struct Function {
    pub id: FunctionId,
    pub name: String,
    /// The class this function is a method of.
    pub class: Option<String>,
    /// The enclosing function (the module for top-level definitions); `None` for the module.
    pub parent: Option<FunctionId>,
    pub span: Span,
    pub name_span: Span,
    pub is_async: bool,
    pub params: Vec<Param>,
    pub decorators: Vec<Expr>,
    pub body: Block,
}

impl Function {
    pub fn is_module(&self) -> bool {
        self.parent.is_none()
    }

    /// `Class.method` or `function`, the name reports show.
    pub fn qualified_name(&self) -> String {
        match &self.class {
            Some(class) => format!("{class}.{}", self.name),
            None => self.name.clone(),
        }
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|param| param.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    /// The annotation as written (`Request`, `httpx.Response`), whitespace removed.
    pub annotation: Option<String>,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Class {
    pub name: String,
    pub bases: Vec<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Import {
    /// The module imported from (`core.oauth_utils`, `httpx`); relative imports keep their dots.
    pub module: String,
    /// The imported name for `from m import name`, `None` for `import m`.
    pub name: Option<String>,
    /// The name bound in this file.
    pub alias: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, Default)]
pub struct Block {
    pub statements: Vec<Stmt>,
}

#[derive(Debug, Clone)]
pub struct Stmt {
    pub span: Span,
    pub kind: StmtKind,
}

#[derive(Debug, Clone)]
pub enum StmtKind {
    /// `a = b`, `a, b = c`, `self.x = y`, `x: T = y`, `x += y` (with `augmented`).
    Assign {
        targets: Vec<Expr>,
        value: Expr,
        augmented: bool,
    },
    Expr(Expr),
    If {
        condition: Expr,
        then_block: Block,
        else_block: Option<Block>,
    },
    Try {
        body: Block,
        handlers: Vec<Handler>,
        else_block: Option<Block>,
        finally_block: Option<Block>,
    },
    With {
        items: Vec<WithItem>,
        body: Block,
        is_async: bool,
    },
    /// `for target in iter:` (`iter` set) or `while condition:` (`condition` set).
    Loop {
        targets: Vec<Expr>,
        // Boxed, as in `Raise`: two optional expressions inline made every statement of
        // every file 344 bytes instead of 208.
        iter: Option<Box<Expr>>,
        condition: Option<Box<Expr>>,
        body: Block,
        else_block: Option<Block>,
    },
    Return(Option<Expr>),
    /// `raise` (bare, `None`), `raise X`, `raise X from e` (`cause`).
    Raise {
        exception: Option<Box<Expr>>,
        cause: Option<Box<Expr>>,
    },
    Break,
    Continue,
    /// A nested function or method definition.
    FunctionDef(FunctionId),
    ClassDef {
        name: String,
        body: Block,
    },
    /// Statements the rules need nothing from, with the expressions they hold.
    Other(Vec<Expr>),
}

#[derive(Debug, Clone)]
pub struct Handler {
    /// Caught types as dotted names (`httpx.HTTPError`); empty for a bare `except:`.
    pub types: Vec<String>,
    pub name: Option<String>,
    pub body: Block,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct WithItem {
    pub context: Expr,
    pub binding: Option<Expr>,
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub span: Span,
    pub kind: ExprKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolOp {
    And,
    Or,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Name(String),
    Attribute {
        object: Box<Expr>,
        name: String,
    },
    Call(Call),
    Await(Box<Expr>),
    /// `e?` (Rust): the success value of `e`, or an early return of its error.
    Try(Box<Expr>),
    Subscript {
        object: Box<Expr>,
        index: Box<Expr>,
    },
    /// A string literal's content without quotes or prefixes.
    String(String),
    /// An f-string or template literal: its text (interpolations as `{...}`) and the
    /// interpolated expressions.
    Interpolated {
        text: String,
        parts: Vec<Expr>,
    },
    Number(String),
    /// `None`, `True`, `False`, `null`, ...
    Constant(String),
    /// `a < b in c`: operands and the operators between them (`==`, `not in`, `is not`, ...).
    Compare {
        operands: Vec<Expr>,
        operators: Vec<String>,
    },
    Bool {
        operator: BoolOp,
        operands: Vec<Expr>,
    },
    Not(Box<Expr>),
    /// `a if c else b`
    Conditional {
        condition: Box<Expr>,
        then_value: Box<Expr>,
        else_value: Box<Expr>,
    },
    Lambda {
        body: Box<Expr>,
    },
    /// List/set/dict comprehensions and generator expressions: every part in source order,
    /// and the targets its `for` clauses bind.
    Comprehension {
        parts: Vec<Expr>,
        targets: Vec<Expr>,
    },
    /// Tuples, lists, sets (and target patterns `a, b`).
    Sequence(Vec<Expr>),
    Dict(Vec<(Option<Expr>, Expr)>),
    /// Anything else, with the sub-expressions it holds.
    Other(Vec<Expr>),
}

#[derive(Debug, Clone)]
pub struct Call {
    pub callee: Box<Expr>,
    pub args: Vec<Expr>,
    pub keywords: Vec<(String, Expr)>,
    /// `*args` / `**kwargs` in the call.
    pub has_splat: bool,
}

impl Call {
    pub fn has_no_arguments(&self) -> bool {
        self.args.is_empty() && self.keywords.is_empty() && !self.has_splat
    }

    /// Positional arguments, then keyword values.
    pub fn arguments(&self) -> impl Iterator<Item = &Expr> {
        self.args.iter().chain(self.keywords.iter().map(|(_, value)| value))
    }
}

impl Expr {
    /// The dotted path of a name or attribute chain (`self.client.post`), `None` otherwise.
    pub fn dotted(&self) -> Option<String> {
        match &self.kind {
            ExprKind::Name(name) => Some(name.clone()),
            ExprKind::Attribute { object, name } => object.dotted().map(|base| format!("{base}.{name}")),
            _ => None,
        }
    }

    /// The calls a method is chained on, outermost first: for the callee
    /// `client.post(url).form(f).send`, `client.post(url).form(f)` then `client.post(url)`.
    pub fn chained_calls(&self) -> impl Iterator<Item = &Call> {
        fn chained_on(callee: &Expr) -> Option<&Call> {
            match &callee.kind {
                ExprKind::Attribute { object, .. } => object.unawaited().as_call(),
                _ => None,
            }
        }
        std::iter::successors(chained_on(self), |call| chained_on(&call.callee))
    }

    /// For a method chained on a call of `method` with a string first argument, that call's
    /// receiver and string: for the callee `router.route('/x').get(a).post` and `route`,
    /// `router` and `/x` (Express's `router.route(path)` chains).
    pub fn chained_on(&self, method: &str) -> Option<(&Expr, &str)> {
        self.chained_calls().find_map(|call| match (&call.callee.kind, call.args.first().map(|arg| &arg.kind)) {
            (ExprKind::Attribute { object, name }, Some(ExprKind::String(text))) if name == method => Some((&**object, text.as_str())),
            _ => None,
        })
    }

    /// This expression with `await` (and Rust's `?`) removed: the value it evaluates to.
    pub fn unawaited(&self) -> &Expr {
        match &self.kind {
            ExprKind::Await(inner) | ExprKind::Try(inner) => inner.unawaited(),
            _ => self,
        }
    }

    pub fn as_call(&self) -> Option<&Call> {
        match &self.kind {
            ExprKind::Call(call) => Some(call),
            _ => None,
        }
    }

    pub fn as_name(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Name(name) => Some(name),
            _ => None,
        }
    }

    /// A read of one named field, and the object it is read from: `request.code`,
    /// `args["code"]`, `params.get("code")`.
    pub fn keyed_read(&self) -> Option<(&Expr, &str)> {
        match &self.kind {
            ExprKind::Attribute { object, name } => Some((object, name)),
            ExprKind::Subscript { object, index } => match &index.kind {
                ExprKind::String(key) => Some((object, key)),
                _ => None,
            },
            ExprKind::Call(call) => match (&call.callee.kind, call.args.first().map(|arg| &arg.kind)) {
                (ExprKind::Attribute { object, name }, Some(ExprKind::String(key))) if name == "get" => Some((object, key)),
                _ => None,
            },
            _ => None,
        }
    }

    /// The direct sub-expressions, in source order.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Name(_) | ExprKind::String(_) | ExprKind::Number(_) | ExprKind::Constant(_) => Vec::new(),
            ExprKind::Attribute { object, .. } => vec![object],
            ExprKind::Call(call) => {
                let mut children: Vec<&Expr> = vec![&call.callee];
                children.extend(call.args.iter());
                children.extend(call.keywords.iter().map(|(_, value)| value));
                children
            }
            ExprKind::Await(inner) | ExprKind::Not(inner) | ExprKind::Try(inner) => vec![inner],
            ExprKind::Subscript { object, index } => vec![object, index],
            ExprKind::Compare { operands, .. } | ExprKind::Bool { operands, .. } => operands.iter().collect(),
            ExprKind::Conditional { condition, then_value, else_value } => vec![condition, then_value, else_value],
            ExprKind::Lambda { body } => vec![body],
            ExprKind::Comprehension { parts, .. }
            | ExprKind::Sequence(parts)
            | ExprKind::Other(parts)
            | ExprKind::Interpolated { parts, .. } => parts.iter().collect(),
            ExprKind::Dict(entries) => {
                let mut children = Vec::new();
                for (key, value) in entries {
                    if let Some(key) = key {
                        children.push(key);
                    }
                    children.push(value);
                }
                children
            }
        }
    }

    /// Visits this expression and every sub-expression, depth first, in source order.
    pub fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a Expr)) {
        visit(self);
        for child in self.children() {
            child.walk(visit);
        }
    }

    /// True when any sub-expression satisfies `predicate`.
    pub fn any(&self, predicate: &dyn Fn(&Expr) -> bool) -> bool {
        if predicate(self) {
            return true;
        }
        self.children().into_iter().any(|child| child.any(predicate))
    }

    /// Every plain name this expression mentions, in source order (`ct` in `"json" in ct`).
    pub fn names(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.walk(&mut |part| {
            if let ExprKind::Name(name) = &part.kind {
                names.push(name.as_str());
            }
        });
        names
    }

    /// Names bound when this expression is an assignment target (`a`, `a, b`, `(a, *b)`).
    pub fn bound_names(&self) -> Vec<&str> {
        match &self.kind {
            ExprKind::Name(name) => vec![name.as_str()],
            ExprKind::Sequence(parts) | ExprKind::Other(parts) => parts.iter().flat_map(|part| part.bound_names()).collect(),
            _ => Vec::new(),
        }
    }
}

impl Stmt {
    /// The blocks directly nested in this statement.
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        // Without allocating: walks call this for every statement.
        let none: [Option<&Block>; 2] = [None, None];
        let (leading, handlers, trailing): ([Option<&Block>; 2], &[Handler], [Option<&Block>; 2]) = match &self.kind {
            StmtKind::If { then_block, else_block, .. } => ([Some(then_block), else_block.as_ref()], &[], none),
            StmtKind::Try { body, handlers, else_block, finally_block } => {
                ([Some(body), None], handlers, [else_block.as_ref(), finally_block.as_ref()])
            }
            StmtKind::With { body, .. } | StmtKind::ClassDef { body, .. } => ([Some(body), None], &[], none),
            StmtKind::Loop { body, else_block, .. } => ([Some(body), else_block.as_ref()], &[], none),
            _ => (none, &[], none),
        };
        leading.into_iter().flatten().chain(handlers.iter().map(|handler| &handler.body)).chain(trailing.into_iter().flatten())
    }

    /// The expressions this statement holds directly (not those of nested blocks).
    pub fn expressions(&self) -> Vec<&Expr> {
        match &self.kind {
            StmtKind::Assign { targets, value, .. } => {
                let mut expressions: Vec<&Expr> = targets.iter().collect();
                expressions.push(value);
                expressions
            }
            StmtKind::Expr(expr) => vec![expr],
            StmtKind::If { condition, .. } => vec![condition],
            StmtKind::With { items, .. } => {
                let mut expressions = Vec::new();
                for item in items {
                    expressions.push(&item.context);
                    expressions.extend(item.binding.iter());
                }
                expressions
            }
            StmtKind::Loop { targets, iter, condition, .. } => {
                let mut expressions: Vec<&Expr> = targets.iter().collect();
                expressions.extend(iter.as_deref());
                expressions.extend(condition.as_deref());
                expressions
            }
            StmtKind::Return(value) => value.iter().collect(),
            StmtKind::Raise { exception, cause } => exception.as_deref().into_iter().chain(cause.as_deref()).collect(),
            StmtKind::Other(expressions) => expressions.iter().collect(),
            StmtKind::Try { .. } | StmtKind::Break | StmtKind::Continue | StmtKind::FunctionDef(_) | StmtKind::ClassDef { .. } => {
                Vec::new()
            }
        }
    }

    /// This statement and those nested in it (not in a nested function) binding `name`:
    /// assignments (with the value), `with` items (with the context) and loops (no value).
    pub fn bindings(&self, name: &str) -> Vec<(&Stmt, Option<&Expr>)> {
        if matches!(self.kind, StmtKind::FunctionDef(_)) {
            return Vec::new();
        }
        let binds = |target: &Expr| target.dotted().as_deref() == Some(name) || target.bound_names().contains(&name);
        let mut found = Vec::new();
        match &self.kind {
            StmtKind::Assign { targets, value, .. } if targets.iter().any(binds) => found.push((self, Some(value))),
            StmtKind::With { items, .. } => {
                found.extend(items.iter().filter(|item| item.binding.as_ref().is_some_and(binds)).map(|item| (self, Some(&item.context))));
            }
            StmtKind::Loop { targets, .. } if targets.iter().any(binds) => found.push((self, None)),
            _ => {}
        }
        found.extend(self.blocks().flat_map(|block| block.bindings(name)));
        found
    }

    /// True when control never falls through the end of this statement.
    pub fn leaves(&self) -> bool {
        self.leaves_by(Exits { returns: true, loop_exits: true })
    }

    /// True when the statement never falls through, leaving by `raise` or by the other
    /// ways `exits` allows.
    fn leaves_by(&self, exits: Exits) -> bool {
        let leaves = |block: &Block| block.statements.iter().any(|stmt| stmt.leaves_by(exits));
        match &self.kind {
            StmtKind::Raise { .. } => true,
            StmtKind::Return(_) => exits.returns,
            StmtKind::Break | StmtKind::Continue => exits.loop_exits,
            StmtKind::If { then_block, else_block: Some(else_block), .. } => leaves(then_block) && leaves(else_block),
            StmtKind::Try { body, handlers, finally_block, .. } => {
                finally_block.as_ref().is_some_and(leaves) || (leaves(body) && handlers.iter().all(|handler| leaves(&handler.body)))
            }
            StmtKind::With { body, .. } => leaves(body),
            _ => false,
        }
    }
}

/// The ways out of a statement besides `raise` that [`Stmt::leaves_by`] accepts.
#[derive(Clone, Copy)]
struct Exits {
    returns: bool,
    /// `break` and `continue`.
    loop_exits: bool,
}

impl Block {
    /// The statements of the block, at any depth, binding `name` (see [`Stmt::bindings`]).
    pub fn bindings(&self, name: &str) -> Vec<(&Stmt, Option<&Expr>)> {
        self.statements.iter().flat_map(|stmt| stmt.bindings(name)).collect()
    }

    /// The calls in the block, at any depth, of a method on `object` (`db.commit()` for
    /// `db`), each with the method's name and the call's expression.
    pub fn calls_on<'a>(&'a self, object: &str) -> Vec<(&'a str, &'a Call, &'a Expr)> {
        self.calls()
            .into_iter()
            .filter_map(|(_, call, expression)| match &call.callee.kind {
                ExprKind::Attribute { object: on, name } if on.dotted().as_deref() == Some(object) => {
                    Some((name.as_str(), call, expression))
                }
                _ => None,
            })
            .collect()
    }

    /// True when the block never falls through its end: one of its statements leaves.
    pub fn leaves(&self) -> bool {
        self.statements.iter().any(Stmt::leaves)
    }

    /// True when the block leaves the function: it never falls through its end, and not
    /// by `break` or `continue`.
    pub fn exits(&self) -> bool {
        self.statements.iter().any(|stmt| stmt.leaves_by(Exits { returns: true, loop_exits: false }))
    }

    /// True when the block ends in an error on every path: it never falls through its
    /// end, returns, breaks or continues.
    pub fn raises(&self) -> bool {
        self.statements.iter().any(|stmt| stmt.leaves_by(Exits { returns: false, loop_exits: false }))
    }

    /// Visits every statement of this block and its nested blocks in source order, not
    /// those of nested function definitions.
    pub fn visit<'a>(&'a self, visit: &mut dyn FnMut(&'a Stmt)) {
        for stmt in &self.statements {
            if matches!(stmt.kind, StmtKind::FunctionDef(_)) {
                continue;
            }
            visit(stmt);
            for nested in stmt.blocks() {
                nested.visit(visit);
            }
        }
    }

    /// Every call in this block and its nested blocks (not nested functions), in source order.
    pub fn calls(&self) -> Vec<(&Stmt, &Call, &Expr)> {
        let mut calls = Vec::new();
        self.visit(&mut |stmt| {
            for expression in stmt.expressions() {
                expression.walk(&mut |part| {
                    if let ExprKind::Call(call) = &part.kind {
                        calls.push((stmt, call, part));
                    }
                });
            }
        });
        calls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(words_of("HubSpotOAuthRouter"), vec!["hub", "spot", "oauth", "router"]);
        assert_eq!(words_of("google-calendar_service"), vec!["google", "calendar", "service"]);
        assert_eq!(words_of("oauth2callback"), vec!["oauth2callback"]);
    }
}
