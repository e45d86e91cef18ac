//! TypeScript and TSX frontend: tree-sitter-typescript syntax to [`FileFacts`].
//!
//! The facts model was drawn for Python; TypeScript maps onto it as follows, so that rules
//! written against the facts read TypeScript without knowing the language.
//!
//! - Functions: `function` declarations, class methods (`class` is the class name; a
//!   synthetic first parameter `self` stands for `this`, as in Python, except on `static`
//!   methods), and every arrow function or function expression with a block body. A
//!   function bound to a name (`const GET = async (req) => {..}`, `x.handler = function ()
//!   {..}`, `{ callback: async () => {..} }`) takes that name; one given as an argument is
//!   named for the call, `post /callback` for `router.post('/callback', mw, async (req,
//!   res) => {..})` (method, then the first argument when it is a string; `get /x` for
//!   `router.route('/x').get(async (req, res) => {..})`) and `serve` for
//!   `serve(async (req) => {..})`; in the argument list it is a `Name` of that function. An
//!   arrow function with an expression body given as an argument is a `Lambda`
//!   (`.then(r => r.json())`); bound to a name it is a function whose body returns the
//!   expression. Decorators are kept on methods; the class's own decorators come first in
//!   every method's list (`@Controller('x')` then `@Get('callback')`), and those of an
//!   `export` statement belong to the class it exports. Parameters are named by their
//!   binding; a destructured parameter (`({ code, state }) =>`) gives one parameter per
//!   name. Annotations are the type as written, whitespace and the leading `:` removed.
//!   NestJS constructor parameter properties (`private readonly svc: NotionService`) are
//!   an assignment `self.svc = NotionService()` at the top of the constructor, so
//!   injected services resolve like attributes set from a constructor.
//! - `this` is the name `self`. Classes are classes (`bases` from `extends`); their field
//!   initialisers (`private client = axios.create()`) are assignments in the class body.
//! - Imports: `import x from 'm'` is module `m`, name `default`, alias `x`; `import { a as
//!   b } from 'm'` is name `a`, alias `b`; `import * as ns from 'm'` is module `m`, no
//!   name; `const x = require('m')` is like a namespace import and `const { a } =
//!   require('m')` like a named one. Re-exports are imports of the file that re-exports
//!   (`export { a } from './x'`, `export * from './x'` with name and alias `*`). `export
//!   default f` (or `export default function f() {}`) also assigns `default = f` at module
//!   level; an anonymous default export is a function named `default`.
//! - Expressions: member access is an attribute (optional chaining too), `x[i]` a
//!   subscript, `new C(a)` a call of `C`, `await e` an `Await`. `e as T`, `e!`, `e
//!   satisfies T`, `<T>e` and parentheses are `e`. `===`/`==` are `==`, `!==`/`!=` are
//!   `!=`, other comparisons and `in`/`instanceof` are `Compare`; `&&` is `And`, `||` and
//!   `??` are `Or`; `!e` is `Not`; `c ? a : b` is `Conditional`. Strings are strings;
//!   template literals are `Interpolated` (interpolations as `{...}` in the text) or a
//!   string when they interpolate nothing. Objects are dicts with string keys (`{ code }`
//!   is `"code": code`, `...x` a `None` key); arrays are sequences; `true`, `false`,
//!   `null` and `undefined` are constants. JSX keeps the expressions it embeds.
//! - Statements: `const`/`let`/`var` declarations and assignments are assignments. An
//!   object pattern reads each field: `const { code, state } = req.query` is `code =
//!   req.query.code` and `state = req.query.state`; when the value is not a plain name or
//!   attribute it is assigned once to a synthetic name (`$destructured<offset>`) whose
//!   fields are then read, or read directly when there is one field. Array patterns are
//!   sequences. `if`/`else if` chains are nested `if`s (through [`super::if_chain`]);
//!   `switch` is its subject as `Other([subject])` followed by an `if` chain whose
//!   conditions are `Other([case value])`; `try/catch/finally` is a `Try` whose one
//!   handler has no types (a `catch` catches everything) and the catch parameter as name;
//!   `throw e` is `Raise`; `for`, `for..of`/`for..in`, `while` and `do..while` are loops.
//!   Blocks in statement position are inlined. Types, interfaces and enums are skipped.
//!
//! Total on any input: error regions are recovered (their statements are still read),
//! deep nesting is cut off at [`MAX_DEPTH`] instead of overflowing the stack, and a parse
//! that runs past the time limit yields an error instead of hanging a worker.

use std::cell::RefCell;
use std::collections::HashMap;
use std::num::NonZeroU16;
use std::sync::OnceLock;
use std::time::Duration;

use tree_sitter::{Node, Parser, Tree};

use crate::facts::*;
use crate::lang::{ExtractOptions, FrontendError, span_of};

/// Expressions or statements nested deeper than this are kept as opaque `Other` nodes.
const MAX_DEPTH: usize = 200;

/// A parse that takes longer than this is abandoned (a pathological or generated file).
const PARSE_TIME_LIMIT: Duration = Duration::from_secs(20);

/// The two grammars: TSX for `.tsx` (and `.jsx`), TypeScript for the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    TypeScript,
    Tsx,
}

impl Dialect {
    fn language(self) -> tree_sitter::Language {
        match self {
            Dialect::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Dialect::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
        }
    }
}

thread_local! {
    static PARSERS: RefCell<[Option<Parser>; 2]> = const { RefCell::new([None, None]) };
}

/// Node kind names by kind id and field ids by name, per grammar: looking them up through
/// tree-sitter on every node costs a C string and a UTF-8 check, or a linear search.
struct Grammar {
    kinds: Vec<String>,
    fields: HashMap<String, NonZeroU16>,
}

fn grammar(dialect: Dialect) -> &'static Grammar {
    static TYPESCRIPT: OnceLock<Grammar> = OnceLock::new();
    static TSX: OnceLock<Grammar> = OnceLock::new();
    let cell = match dialect {
        Dialect::TypeScript => &TYPESCRIPT,
        Dialect::Tsx => &TSX,
    };
    cell.get_or_init(|| {
        let language = dialect.language();
        let kinds = (0..language.node_kind_count() as u16).map(|id| language.node_kind_for_id(id).unwrap_or("").to_string()).collect();
        let mut fields = HashMap::new();
        for id in 1..=language.field_count() as u16 {
            if let (Some(name), Some(field_id)) = (language.field_name_for_id(id), NonZeroU16::new(id)) {
                fields.insert(name.to_string(), field_id);
            }
        }
        Grammar { kinds, fields }
    })
}

impl Grammar {
    fn kind(&self, node: Node) -> &str {
        if node.is_error() {
            return "ERROR";
        }
        self.kinds.get(usize::from(node.kind_id())).map(String::as_str).unwrap_or("")
    }

    fn field<'t>(&self, node: Node<'t>, name: &str) -> Option<Node<'t>> {
        let id = self.fields.get(name)?;
        node.child_by_field_id(id.get())
    }
}

/// Parses TypeScript source with a per-thread parser, bounded in time.
pub fn parse(text: &str, dialect: Dialect) -> Result<Tree, FrontendError> {
    PARSERS.with(|cell| {
        let mut slots = cell.borrow_mut();
        let slot = match dialect {
            Dialect::TypeScript => &mut slots[0],
            Dialect::Tsx => &mut slots[1],
        };
        if slot.is_none() {
            let mut parser = Parser::new();
            parser.set_language(&dialect.language()).map_err(|error| FrontendError::Grammar(error.to_string()))?;
            *slot = Some(parser);
        }
        let Some(parser) = slot.as_mut() else {
            return Err(FrontendError::Grammar("parser unavailable".into()));
        };
        super::parse_bounded(parser, text, PARSE_TIME_LIMIT)
    })
}

/// Reads the facts of one TypeScript (or TSX) file.
pub fn extract(text: &str, dialect: Dialect, options: ExtractOptions) -> Result<FileFacts, FrontendError> {
    let tree = parse(text, dialect)?;
    Ok(facts_from_tree(&tree, text, dialect, options))
}

/// Parses and discards the tree: the floor the benchmark compares full analysis against.
pub fn parse_only(text: &str, dialect: Dialect) -> bool {
    parse(text, dialect).is_ok()
}

fn facts_from_tree(tree: &Tree, text: &str, dialect: Dialect, options: ExtractOptions) -> FileFacts {
    let grammar = grammar(dialect);
    let root = tree.root_node();
    let mut converter = Converter {
        grammar,
        text,
        outline: options.outline,
        functions: Vec::new(),
        classes: Vec::new(),
        imports: Vec::new(),
        current_class: None,
        class_decorators: Vec::new(),
        function_stack: Vec::new(),
        depth: 0,
    };
    let module_id = converter.reserve_function("<module>".into(), None, root, root, false);
    let body = converter.block_from_children(root);
    if let Some(module) = converter.functions.get_mut(module_id.0) {
        module.body = body;
    }
    let (syntax_errors, first_syntax_error) = super::scan_errors(root);
    let comments = options.comments_with.map(|needle| comments_with(grammar, root, text, needle)).unwrap_or_default();
    FileFacts {
        language: Language::TypeScript,
        functions: converter.functions,
        classes: converter.classes,
        imports: converter.imports,
        comments,
        syntax_errors,
        first_syntax_error,
    }
}

/// The comments that hold `needle`, found from its occurrences in the text.
fn comments_with(grammar: &Grammar, root: Node, text: &str, needle: &str) -> Vec<Comment> {
    let mut comments: Vec<Comment> = Vec::new();
    for offset in memchr::memmem::find_iter(text.as_bytes(), needle.as_bytes()) {
        let Some(node) = root.descendant_for_byte_range(offset, offset + needle.len()) else { continue };
        if grammar.kind(node) != "comment" || comments.last().is_some_and(|last| last.span.start_byte == node.start_byte()) {
            continue;
        }
        comments.push(Comment { text: text.get(node.byte_range()).unwrap_or("").to_string(), span: span_of(node) });
    }
    comments
}

fn other(span: Span) -> Expr {
    Expr { span, kind: ExprKind::Other(Vec::new()) }
}

fn name_expr(name: &str, span: Span) -> Expr {
    Expr { span, kind: ExprKind::Name(name.to_string()) }
}

/// `default = name`: what `export default name` binds.
fn default_export(name: &str, span: Span) -> Stmt {
    Stmt { span, kind: StmtKind::Assign { targets: vec![name_expr("default", span)], value: name_expr(name, span), augmented: false } }
}

/// Expressions whose value is read without side effects: a destructuring may read them
/// once per field.
fn is_pure(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Name(_) => true,
        ExprKind::Attribute { object, .. } => is_pure(object),
        _ => false,
    }
}

struct Converter<'a> {
    grammar: &'static Grammar,
    text: &'a str,
    outline: bool,
    functions: Vec<Function>,
    classes: Vec<Class>,
    imports: Vec<Import>,
    current_class: Option<String>,
    /// Decorators of the class being converted, first in each of its methods' lists.
    class_decorators: Vec<Expr>,
    function_stack: Vec<FunctionId>,
    depth: usize,
}

impl<'a> Converter<'a> {
    fn kind(&self, node: Node) -> &'static str {
        self.grammar.kind(node)
    }

    fn field<'t>(&self, node: Node<'t>, name: &str) -> Option<Node<'t>> {
        self.grammar.field(node, name)
    }

    /// The named children of a node, comments left out.
    fn named_children<'t>(&self, node: Node<'t>) -> Vec<Node<'t>> {
        let mut cursor = node.walk();
        node.named_children(&mut cursor).filter(|child| self.kind(*child) != "comment").collect()
    }

    fn has_child_kind(&self, node: Node, wanted: &str) -> bool {
        let mut cursor = node.walk();
        node.children(&mut cursor).any(|child| self.kind(child) == wanted)
    }

    fn text(&self, node: Node) -> String {
        self.text.get(node.byte_range()).unwrap_or("").to_string()
    }

    fn reserve_function(&mut self, name: String, parent: Option<FunctionId>, node: Node, name_node: Node, is_async: bool) -> FunctionId {
        let id = FunctionId(self.functions.len());
        self.functions.push(super::empty_function(id, name, parent, span_of(node), span_of(name_node), is_async));
        id
    }

    // ----- statements -------------------------------------------------------------------

    fn block_from_children(&mut self, node: Node) -> Block {
        let children = self.named_children(node);
        // Mostly one statement per child: sized up front, a block holds no unused slots.
        let mut statements = Vec::with_capacity(children.len());
        for child in children {
            self.statement_into(child, &mut statements);
        }
        Block { statements }
    }

    /// A statement used as a body: a block's statements, or the one statement.
    fn body_of(&mut self, node: Option<Node>) -> Block {
        let Some(node) = node else { return Block::default() };
        let mut statements = Vec::new();
        self.statement_into(node, &mut statements);
        Block { statements }
    }

    fn statement_into(&mut self, node: Node, out: &mut Vec<Stmt>) {
        if self.depth > MAX_DEPTH {
            out.push(Stmt { span: span_of(node), kind: StmtKind::Other(Vec::new()) });
            return;
        }
        self.depth += 1;
        self.statement_inner(node, out);
        self.depth -= 1;
    }

    fn statement_inner(&mut self, node: Node, out: &mut Vec<Stmt>) {
        // Each form in a function of its own: this one recurses, and its stack frame is
        // what deep nesting multiplies.
        match self.kind(node) {
            "ERROR" | "statement_block" | "else_clause" | "labeled_statement" | "program" => self.inline_block(node, out),
            "empty_statement"
            | "comment"
            | "hash_bang_line"
            | "interface_declaration"
            | "type_alias_declaration"
            | "enum_declaration"
            | "ambient_declaration"
            | "function_signature"
            | "abstract_method_signature"
            | "debugger_statement" => {}
            "expression_statement" => self.expression_statements(node, out),
            "lexical_declaration" | "variable_declaration" => self.declaration(node, out),
            "if_statement" => {
                let stmt = self.if_statement(node);
                out.push(stmt);
            }
            "try_statement" => self.try_statement(node, out),
            "for_statement" => self.for_statement(node, out),
            "for_in_statement" | "while_statement" | "do_statement" => self.loop_statement(node, out),
            "switch_statement" => self.switch_statement(node, out),
            "return_statement" | "throw_statement" => self.leaving_statement(node, out),
            "break_statement" => out.push(Stmt { span: span_of(node), kind: StmtKind::Break }),
            "continue_statement" => out.push(Stmt { span: span_of(node), kind: StmtKind::Continue }),
            "function_declaration" | "generator_function_declaration" => self.function_declaration(node, out),
            "class_declaration" | "abstract_class_declaration" | "class" => {
                let kind = self.class(node, Vec::new());
                out.push(Stmt { span: span_of(node), kind });
            }
            "export_statement" => self.export_statement(node, out),
            "import_statement" => self.import_statement(node),
            "internal_module" | "module" => {
                if let Some(body) = self.field(node, "body") {
                    self.inline_block(body, out);
                }
            }
            _ => {
                let expr = self.expr(node);
                out.push(Stmt { span: span_of(node), kind: StmtKind::Expr(expr) });
            }
        }
    }

    fn inline_block(&mut self, node: Node, out: &mut Vec<Stmt>) {
        for child in self.named_children(node) {
            if self.kind(child) != "statement_identifier" {
                self.statement_into(child, out);
            }
        }
    }

    fn expression_statements(&mut self, node: Node, out: &mut Vec<Stmt>) {
        let span = span_of(node);
        for child in self.named_children(node) {
            let kind = self.expression_statement(child);
            out.push(Stmt { span, kind });
        }
    }

    fn declaration(&mut self, node: Node, out: &mut Vec<Stmt>) {
        for declarator in self.named_children(node) {
            if self.kind(declarator) == "variable_declarator" {
                self.declarator(declarator, out);
            }
        }
    }

    fn try_statement(&mut self, node: Node, out: &mut Vec<Stmt>) {
        let body = self.body_of(self.field(node, "body"));
        let mut handlers = Vec::new();
        if let Some(handler) = self.field(node, "handler") {
            let name = self.field(handler, "parameter").map(|parameter| self.text(parameter));
            let body = self.body_of(self.field(handler, "body"));
            handlers.push(Handler { types: Vec::new(), name, body, span: span_of(handler) });
        }
        let finally_block = self.field(node, "finalizer").map(|finalizer| self.field(finalizer, "body")).map(|body| self.body_of(body));
        out.push(Stmt { span: span_of(node), kind: StmtKind::Try { body, handlers, else_block: None, finally_block } });
    }

    fn for_statement(&mut self, node: Node, out: &mut Vec<Stmt>) {
        let mut targets = Vec::new();
        if let Some(initializer) = self.field(node, "initializer") {
            self.statement_into(initializer, out);
        }
        let condition = self.field(node, "condition").map(|condition| self.expr(condition));
        if let Some(increment) = self.field(node, "increment") {
            targets.push(self.expr(increment));
        }
        let body = self.body_of(self.field(node, "body"));
        out.push(Stmt {
            span: span_of(node),
            kind: StmtKind::Loop { targets, iter: None, condition: condition.map(Box::new), body, else_block: None },
        });
    }

    /// `for (x of xs)`, `for (k in o)`, `while (c)`, `do {} while (c)`.
    fn loop_statement(&mut self, node: Node, out: &mut Vec<Stmt>) {
        let targets = self.field(node, "left").map(|left| vec![self.pattern(left)]).unwrap_or_default();
        let iter = self.field(node, "right").map(|right| self.expr(right));
        let condition = self.field(node, "condition").map(|condition| self.expr(condition));
        let body = self.body_of(self.field(node, "body"));
        out.push(Stmt {
            span: span_of(node),
            kind: StmtKind::Loop { targets, iter: iter.map(Box::new), condition: condition.map(Box::new), body, else_block: None },
        });
    }

    fn leaving_statement(&mut self, node: Node, out: &mut Vec<Stmt>) {
        let value = self.named_children(node).into_iter().next().map(|value| self.expr(value));
        let kind = if self.kind(node) == "return_statement" {
            StmtKind::Return(value)
        } else {
            StmtKind::Raise { exception: value.map(Box::new), cause: None }
        };
        out.push(Stmt { span: span_of(node), kind });
    }

    fn function_declaration(&mut self, node: Node, out: &mut Vec<Stmt>) {
        let name_node = self.field(node, "name").unwrap_or(node);
        let name = self.text(name_node);
        let id = self.function(node, name, name_node, Vec::new());
        out.push(Stmt { span: span_of(node), kind: StmtKind::FunctionDef(id) });
    }

    fn expression_statement(&mut self, node: Node) -> StmtKind {
        match self.kind(node) {
            "assignment_expression" => {
                let right = self.field(node, "right");
                let left = self.field(node, "left");
                // `x.handler = async () => {..}` names the function.
                if let (Some(left), Some(right)) = (left, right)
                    && self.is_block_function(right)
                {
                    let target = self.expr(left);
                    let name = target.dotted().map(|dotted| last_segment(&dotted).to_string()).unwrap_or_else(|| "<anonymous>".into());
                    let value = self.function_value(right, name);
                    return StmtKind::Assign { targets: vec![target], value, augmented: false };
                }
                let targets = left.map(|left| vec![self.pattern(left)]).unwrap_or_default();
                let value = match right {
                    Some(right) => self.expr(right),
                    None => other(span_of(node)),
                };
                StmtKind::Assign { targets, value, augmented: false }
            }
            "augmented_assignment_expression" => {
                let targets = self.field(node, "left").map(|left| vec![self.expr(left)]).unwrap_or_default();
                let value = match self.field(node, "right") {
                    Some(right) => self.expr(right),
                    None => other(span_of(node)),
                };
                StmtKind::Assign { targets, value, augmented: true }
            }
            _ => StmtKind::Expr(self.expr(node)),
        }
    }

    fn declarator(&mut self, node: Node, out: &mut Vec<Stmt>) {
        let span = span_of(node);
        let Some(name_node) = self.field(node, "name") else { return };
        let Some(value_node) = self.field(node, "value") else {
            let target = self.pattern(name_node);
            out.push(Stmt { span, kind: StmtKind::Other(vec![target]) });
            return;
        };
        let name_kind = self.kind(name_node);
        // `const handler = async (req, res) => {..}`: a function with the variable's name.
        if name_kind == "identifier" && matches!(self.kind(value_node), "arrow_function" | "function_expression" | "function") {
            let name = self.text(name_node);
            let id = self.function(value_node, name, name_node, Vec::new());
            out.push(Stmt { span, kind: StmtKind::FunctionDef(id) });
            return;
        }
        // `const x = require('m')`, `const { a } = require('m')`.
        if let Some(module) = self.required_module(value_node) {
            match name_kind {
                "identifier" => self.imports.push(Import { module, name: None, alias: self.text(name_node), span }),
                "object_pattern" => {
                    for (key, alias) in self.pattern_fields(name_node) {
                        self.imports.push(Import { module: module.clone(), name: Some(key), alias, span });
                    }
                }
                _ => {}
            }
            return;
        }
        let value = self.expr(value_node);
        self.assign_pattern(name_node, value, span, out);
    }

    /// `name = value` for a pattern: object patterns read each field (see the module doc).
    fn assign_pattern(&mut self, pattern: Node, value: Expr, span: Span, out: &mut Vec<Stmt>) {
        if self.kind(pattern) != "object_pattern" {
            let target = self.pattern(pattern);
            out.push(Stmt { span, kind: StmtKind::Assign { targets: vec![target], value, augmented: false } });
            return;
        }
        let fields = self.object_pattern_fields(pattern);
        let object = if is_pure(&value) || fields.len() <= 1 {
            value
        } else {
            let temporary = format!("$destructured{}", span.start_byte);
            out.push(Stmt { span, kind: StmtKind::Assign { targets: vec![name_expr(&temporary, value.span)], value, augmented: false } });
            name_expr(&temporary, span)
        };
        for (key, target) in fields {
            let read = match key {
                Some(key) => {
                    let target_span = match &target {
                        PatternTarget::Name(_, name_span) => *name_span,
                        PatternTarget::Nested(node) => span_of(*node),
                    };
                    Expr { span: target_span, kind: ExprKind::Attribute { object: Box::new(object.clone()), name: key } }
                }
                // `...rest` holds the object's other fields.
                None => object.clone(),
            };
            match target {
                PatternTarget::Name(name, name_span) => out.push(Stmt {
                    span,
                    kind: StmtKind::Assign { targets: vec![name_expr(&name, name_span)], value: read, augmented: false },
                }),
                PatternTarget::Nested(node) => self.assign_pattern(node, read, span, out),
            }
        }
    }

    /// The fields of an object pattern: the key read (`None` for `...rest`) and where it goes.
    fn object_pattern_fields<'t>(&self, pattern: Node<'t>) -> Vec<(Option<String>, PatternTarget<'t>)> {
        let mut fields = Vec::new();
        for child in self.named_children(pattern) {
            match self.kind(child) {
                "shorthand_property_identifier_pattern" => {
                    let name = self.text(child);
                    fields.push((Some(name.clone()), PatternTarget::Name(name, span_of(child))));
                }
                "object_assignment_pattern" => {
                    if let Some(left) = self.field(child, "left") {
                        let name = self.text(left);
                        fields.push((Some(name.clone()), PatternTarget::Name(name, span_of(left))));
                    }
                }
                "pair_pattern" => {
                    let (Some(key), Some(value)) = (self.field(child, "key"), self.field(child, "value")) else { continue };
                    let key = self.property_key(key);
                    let value = if self.kind(value) == "assignment_pattern" { self.field(value, "left").unwrap_or(value) } else { value };
                    match self.kind(value) {
                        "identifier" => fields.push((Some(key), PatternTarget::Name(self.text(value), span_of(value)))),
                        _ => fields.push((Some(key), PatternTarget::Nested(value))),
                    }
                }
                "rest_pattern" => {
                    if let Some(inner) = self.named_children(child).into_iter().next() {
                        fields.push((None, PatternTarget::Name(self.text(inner), span_of(inner))));
                    }
                }
                _ => {}
            }
        }
        fields
    }

    /// (key, local name) of an object pattern's simple fields, for `require`.
    fn pattern_fields(&self, pattern: Node) -> Vec<(String, String)> {
        self.object_pattern_fields(pattern)
            .into_iter()
            .filter_map(|(key, target)| match (key, target) {
                (Some(key), PatternTarget::Name(name, _)) => Some((key, name)),
                _ => None,
            })
            .collect()
    }

    fn property_key(&self, key: Node) -> String {
        match self.kind(key) {
            "string" => self.string_text(key),
            _ => self.text(key),
        }
    }

    /// The module of `require('m')`.
    fn required_module(&self, value: Node) -> Option<String> {
        if self.kind(value) != "call_expression" {
            return None;
        }
        let callee = self.field(value, "function")?;
        if self.kind(callee) != "identifier" || self.text(callee) != "require" {
            return None;
        }
        let arguments = self.field(value, "arguments")?;
        let first = self.named_children(arguments).into_iter().next()?;
        (self.kind(first) == "string").then(|| self.string_text(first))
    }

    fn if_statement(&mut self, node: Node) -> Stmt {
        // `else if` chains: a loop, so a thousand `else if`s do not recurse a thousand deep.
        let mut branches = Vec::new();
        let mut otherwise = None;
        let mut current = node;
        loop {
            let condition = match self.field(current, "condition") {
                Some(condition) => self.expr(condition),
                None => other(span_of(current)),
            };
            let then_block = self.body_of(self.field(current, "consequence"));
            branches.push((condition, then_block, span_of(current)));
            let Some(alternative) = self.field(current, "alternative") else { break };
            let inner = self.named_children(alternative).into_iter().find(|child| self.kind(*child) != "comment");
            match inner {
                Some(inner) if self.kind(inner) == "if_statement" => current = inner,
                Some(inner) => {
                    otherwise = Some(self.body_of(Some(inner)));
                    break;
                }
                None => break,
            }
        }
        let span = span_of(node);
        let chain = super::if_chain(branches, otherwise, MAX_DEPTH.saturating_sub(self.depth));
        match chain.map(|block| block.statements) {
            Some(mut statements) if statements.len() == 1 => {
                statements.pop().map(|stmt| Stmt { span, kind: stmt.kind }).unwrap_or(Stmt { span, kind: StmtKind::Other(Vec::new()) })
            }
            Some(statements) => {
                // Past the nesting budget the branches are siblings: keep them in one `if`
                // whose then-branch holds them all.
                Stmt { span, kind: StmtKind::If { condition: other(span), then_block: Block { statements }, else_block: None } }
            }
            None => Stmt { span, kind: StmtKind::Other(Vec::new()) },
        }
    }

    fn switch_statement(&mut self, node: Node, out: &mut Vec<Stmt>) {
        if let Some(value) = self.field(node, "value") {
            let subject = self.expr(value);
            out.push(Stmt { span: subject.span, kind: StmtKind::Other(vec![subject]) });
        }
        let Some(body) = self.field(node, "body") else { return };
        let mut branches = Vec::new();
        let mut otherwise = None;
        for case in self.named_children(body) {
            let value = self.field(case, "value");
            let mut statements = Vec::new();
            for child in self.named_children(case) {
                if Some(child.id()) != value.map(|value| value.id()) {
                    self.statement_into(child, &mut statements);
                }
            }
            let block = Block { statements };
            match self.kind(case) {
                "switch_case" => {
                    let parts = value.map(|value| vec![self.expr(value)]).unwrap_or_default();
                    branches.push((Expr { span: span_of(case), kind: ExprKind::Other(parts) }, block, span_of(case)));
                }
                "switch_default" => otherwise = Some(block),
                _ => {}
            }
        }
        if let Some(chain) = super::if_chain(branches, otherwise, MAX_DEPTH.saturating_sub(self.depth)) {
            out.extend(chain.statements);
        }
    }

    fn export_statement(&mut self, node: Node, out: &mut Vec<Stmt>) {
        let span = span_of(node);
        let grammar = self.grammar;
        let decorator_nodes: Vec<Node> =
            self.named_children(node).into_iter().filter(|child| grammar.kind(*child) == "decorator").collect();
        let decorators: Vec<Expr> = decorator_nodes.into_iter().filter_map(|decorator| self.decorator(decorator)).collect();
        let is_default = self.has_child_kind(node, "default");
        if let Some(source) = self.field(node, "source") {
            // `export { a as b } from './x'`, `export * from './x'`.
            let module = self.string_text(source);
            let clause = self.named_children(node).into_iter().find(|child| self.kind(*child) == "export_clause");
            match clause {
                Some(clause) => {
                    for specifier in self.named_children(clause) {
                        let Some(name) = self.field(specifier, "name").map(|name| self.property_key(name)) else { continue };
                        let alias = self.field(specifier, "alias").map(|alias| self.property_key(alias)).unwrap_or_else(|| name.clone());
                        self.imports.push(Import { module: module.clone(), name: Some(name), alias, span });
                    }
                }
                None => self.imports.push(Import { module, name: Some("*".into()), alias: "*".into(), span }),
            }
            return;
        }
        if let Some(declaration) = self.field(node, "declaration") {
            let before = out.len();
            match self.kind(declaration) {
                "class_declaration" | "abstract_class_declaration" => {
                    let kind = self.class(declaration, decorators);
                    out.push(Stmt { span, kind });
                }
                _ => self.statement_into(declaration, out),
            }
            if is_default {
                // `export default function handler() {}`: `default` names it too.
                let defined = out.get(before..).unwrap_or_default().iter().find_map(|stmt| match &stmt.kind {
                    StmtKind::FunctionDef(id) => self.functions.get(id.0).map(|function| function.name.clone()),
                    StmtKind::ClassDef { name, .. } => Some(name.clone()),
                    _ => None,
                });
                if let Some(defined) = defined {
                    out.push(default_export(&defined, span));
                }
            }
            return;
        }
        if let Some(value) = self.field(node, "value") {
            if self.is_function_node(value) {
                let name = self.field(value, "name").map(|name| self.text(name)).unwrap_or_else(|| "default".into());
                let id = self.function(value, name.clone(), value, Vec::new());
                out.push(Stmt { span, kind: StmtKind::FunctionDef(id) });
                if name != "default" {
                    out.push(default_export(&name, span));
                }
                return;
            }
            if matches!(self.kind(value), "class" | "class_declaration") {
                let kind = self.class(value, decorators);
                out.push(Stmt { span, kind });
                return;
            }
            let value = self.expr(value);
            out.push(Stmt { span, kind: StmtKind::Assign { targets: vec![name_expr("default", span)], value, augmented: false } });
        }
    }

    fn import_statement(&mut self, node: Node) {
        let span = span_of(node);
        let Some(source) = self.field(node, "source") else {
            // `import x = require('m')`
            for child in self.named_children(node) {
                if self.kind(child) == "import_require_clause" {
                    let parts = self.named_children(child);
                    if let (Some(alias), Some(module)) = (parts.first(), parts.iter().find(|part| self.kind(**part) == "string")) {
                        self.imports.push(Import { module: self.string_text(*module), name: None, alias: self.text(*alias), span });
                    }
                }
            }
            return;
        };
        let module = self.string_text(source);
        let grammar = self.grammar;
        for clause in self.named_children(node).into_iter().filter(|child| grammar.kind(*child) == "import_clause") {
            for part in self.named_children(clause) {
                match self.kind(part) {
                    "identifier" => {
                        self.imports.push(Import { module: module.clone(), name: Some("default".into()), alias: self.text(part), span })
                    }
                    "namespace_import" => {
                        if let Some(alias) = self.named_children(part).into_iter().next() {
                            self.imports.push(Import { module: module.clone(), name: None, alias: self.text(alias), span });
                        }
                    }
                    "named_imports" => {
                        for specifier in self.named_children(part) {
                            if self.kind(specifier) != "import_specifier" {
                                continue;
                            }
                            let Some(name) = self.field(specifier, "name").map(|name| self.property_key(name)) else { continue };
                            let alias = self.field(specifier, "alias").map(|alias| self.text(alias)).unwrap_or_else(|| name.clone());
                            self.imports.push(Import { module: module.clone(), name: Some(name), alias, span });
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    // ----- functions and classes ----------------------------------------------------------

    fn is_function_node(&self, node: Node) -> bool {
        matches!(self.kind(node), "arrow_function" | "function_expression" | "function" | "generator_function" | "function_declaration")
    }

    /// A function expression whose body is a block (an arrow with an expression body is not).
    fn is_block_function(&self, node: Node) -> bool {
        self.is_function_node(node) && self.field(node, "body").is_none_or(|body| self.kind(body) == "statement_block")
    }

    /// A function expression as a value: defined as a function named `name`, referred to
    /// by that name.
    fn function_value(&mut self, node: Node, name: String) -> Expr {
        let id = self.function(node, name.clone(), node, Vec::new());
        let name = self.functions.get(id.0).map(|function| function.name.clone()).unwrap_or(name);
        name_expr(&name, span_of(node))
    }

    fn function(&mut self, node: Node, name: String, name_node: Node, decorators: Vec<Expr>) -> FunctionId {
        let is_async = self.has_child_kind(node, "async");
        let parent = self.function_stack.last().copied().unwrap_or(FunctionId(0));
        let id = self.reserve_function(name, Some(parent), node, name_node, is_async);
        let mut params = Vec::new();
        match (self.field(node, "parameters"), self.field(node, "parameter")) {
            (Some(parameters), _) => params = self.parameters(parameters),
            (None, Some(parameter)) => {
                params.push(Param { name: self.text(parameter), annotation: None, default: None, span: span_of(parameter) })
            }
            (None, None) => {}
        }
        let class = self.current_class.take();
        let outer_decorators = std::mem::take(&mut self.class_decorators);
        self.function_stack.push(id);
        let body = if self.outline {
            Block::default()
        } else {
            match self.field(node, "body") {
                Some(body) if self.kind(body) == "statement_block" => self.block_from_children(body),
                Some(body) => {
                    let value = self.expr(body);
                    Block { statements: vec![Stmt { span: span_of(body), kind: StmtKind::Return(Some(value)) }] }
                }
                None => Block::default(),
            }
        };
        self.function_stack.pop();
        self.current_class = class;
        self.class_decorators = outer_decorators;
        if let Some(function) = self.functions.get_mut(id.0) {
            function.params = params;
            function.decorators = decorators;
            function.body = body;
        }
        id
    }

    fn parameters(&mut self, node: Node) -> Vec<Param> {
        let mut params = Vec::new();
        for child in self.named_children(node) {
            if !matches!(self.kind(child), "required_parameter" | "optional_parameter") {
                continue;
            }
            let span = span_of(child);
            let annotation = self.field(child, "type").map(|annotation| self.annotation(annotation));
            let default = self.field(child, "value").map(|value| self.expr(value));
            let Some(pattern) = self.field(child, "pattern").or_else(|| self.field(child, "name")) else { continue };
            match self.kind(pattern) {
                "identifier" => params.push(Param { name: self.text(pattern), annotation, default, span }),
                "this" => {}
                "rest_pattern" => {
                    if let Some(inner) = self.named_children(pattern).into_iter().next() {
                        params.push(Param { name: self.text(inner), annotation, default, span });
                    }
                }
                "object_pattern" => {
                    for (_, target) in self.object_pattern_fields(pattern) {
                        if let PatternTarget::Name(name, name_span) = target {
                            params.push(Param { name, annotation: None, default: None, span: name_span });
                        }
                    }
                }
                _ => {
                    let target = self.pattern(pattern);
                    for name in target.bound_names() {
                        params.push(Param { name: name.to_string(), annotation: None, default: None, span });
                    }
                }
            }
        }
        params
    }

    fn annotation(&self, node: Node) -> String {
        let text: String = self.text(node).split_whitespace().collect();
        text.strip_prefix(':').unwrap_or(&text).to_string()
    }

    fn decorator(&mut self, node: Node) -> Option<Expr> {
        self.named_children(node).into_iter().next().map(|expression| self.expr(expression))
    }

    fn class(&mut self, node: Node, mut decorators: Vec<Expr>) -> StmtKind {
        let name = self.field(node, "name").map(|name| self.text(name)).unwrap_or_else(|| "default".into());
        for child in self.named_children(node) {
            if self.kind(child) == "decorator"
                && let Some(decorator) = self.decorator(child)
            {
                decorators.push(decorator);
            }
        }
        let mut bases = Vec::new();
        let grammar = self.grammar;
        for heritage in self.named_children(node).into_iter().filter(|child| grammar.kind(*child) == "class_heritage") {
            for clause in self.named_children(heritage) {
                if self.kind(clause) == "extends_clause"
                    && let Some(value) = self.field(clause, "value")
                {
                    bases.push(self.expr(value));
                }
            }
        }
        self.classes.push(Class { name: name.clone(), bases, span: span_of(node) });
        let mut statements = Vec::new();
        if let Some(body) = self.field(node, "body") {
            let mut pending = Vec::new();
            for member in self.named_children(body) {
                match self.kind(member) {
                    "decorator" => {
                        if let Some(decorator) = self.decorator(member) {
                            pending.push(decorator);
                        }
                    }
                    "method_definition" => {
                        let mut method_decorators = decorators.clone();
                        method_decorators.append(&mut pending);
                        let stmt = self.method(member, &name, method_decorators);
                        statements.push(stmt);
                    }
                    "public_field_definition" => {
                        pending.clear();
                        let (Some(field_name), Some(value)) = (self.field(member, "name"), self.field(member, "value")) else { continue };
                        let field_name = self.property_key(field_name);
                        let value = if self.is_block_function(value) {
                            let outer = self.current_class.replace(name.clone());
                            let value = self.function_value(value, field_name.clone());
                            self.current_class = outer;
                            value
                        } else {
                            self.expr(value)
                        };
                        statements.push(Stmt {
                            span: span_of(member),
                            kind: StmtKind::Assign { targets: vec![name_expr(&field_name, span_of(member))], value, augmented: false },
                        });
                    }
                    _ => pending.clear(),
                }
            }
        }
        StmtKind::ClassDef { name, body: Block { statements } }
    }

    fn method(&mut self, node: Node, class: &str, decorators: Vec<Expr>) -> Stmt {
        let span = span_of(node);
        let name_node = self.field(node, "name").unwrap_or(node);
        let name = self.property_key(name_node);
        let is_static = self.has_child_kind(node, "static");
        let outer = self.current_class.replace(class.to_string());
        let id = self.function(node, name.clone(), name_node, decorators);
        self.current_class = outer;
        // Parameter properties: `constructor(private readonly svc: NotionService)`.
        let mut injected = Vec::new();
        if name == "constructor"
            && let Some(parameters) = self.field(node, "parameters")
        {
            for parameter in self.named_children(parameters) {
                let is_property = self.has_child_kind(parameter, "accessibility_modifier") || self.has_child_kind(parameter, "readonly");
                let (Some(pattern), Some(annotation)) =
                    (self.field(parameter, "pattern").or_else(|| self.field(parameter, "name")), self.field(parameter, "type"))
                else {
                    continue;
                };
                if !is_property || self.kind(pattern) != "identifier" {
                    continue;
                }
                let parameter_span = span_of(parameter);
                let type_name = self.annotation(annotation);
                let type_name = type_name.split('<').next().unwrap_or(&type_name).to_string();
                let target = Expr {
                    span: parameter_span,
                    kind: ExprKind::Attribute { object: Box::new(name_expr("self", parameter_span)), name: self.text(pattern) },
                };
                let callee = Expr {
                    span: parameter_span,
                    kind: type_name.split('.').skip(1).fold(
                        ExprKind::Name(type_name.split('.').next().unwrap_or("").to_string()),
                        |object, segment| ExprKind::Attribute {
                            object: Box::new(Expr { span: parameter_span, kind: object }),
                            name: segment.to_string(),
                        },
                    ),
                };
                let value = Expr {
                    span: parameter_span,
                    kind: ExprKind::Call(Call { callee: Box::new(callee), args: Vec::new(), keywords: Vec::new(), has_splat: false }),
                };
                injected.push(Stmt { span: parameter_span, kind: StmtKind::Assign { targets: vec![target], value, augmented: false } });
            }
        }
        if let Some(function) = self.functions.get_mut(id.0) {
            function.class = Some(class.to_string());
            if !is_static {
                function.params.insert(0, Param { name: "self".into(), annotation: None, default: None, span: function.name_span });
            }
            if !injected.is_empty() {
                injected.append(&mut function.body.statements);
                function.body.statements = injected;
            }
        }
        Stmt { span, kind: StmtKind::FunctionDef(id) }
    }

    // ----- expressions ------------------------------------------------------------------

    /// A pattern as an assignment target: names, attributes, sequences for arrays,
    /// `Other` of the bound names for objects.
    fn pattern(&mut self, node: Node) -> Expr {
        let span = span_of(node);
        match self.kind(node) {
            "identifier" | "shorthand_property_identifier_pattern" => name_expr(&self.text(node), span),
            "array_pattern" => {
                let parts = self.named_children(node).into_iter().map(|part| self.pattern(part)).collect();
                Expr { span, kind: ExprKind::Sequence(parts) }
            }
            "object_pattern" => {
                let parts = self
                    .object_pattern_fields(node)
                    .into_iter()
                    .map(|(_, target)| match target {
                        PatternTarget::Name(name, name_span) => name_expr(&name, name_span),
                        PatternTarget::Nested(nested) => self.pattern(nested),
                    })
                    .collect();
                Expr { span, kind: ExprKind::Other(parts) }
            }
            "assignment_pattern" | "object_assignment_pattern" => match self.field(node, "left") {
                Some(left) => self.pattern(left),
                None => other(span),
            },
            "rest_pattern" => match self.named_children(node).into_iter().next() {
                Some(inner) => self.pattern(inner),
                None => other(span),
            },
            _ => self.expr(node),
        }
    }

    fn exprs(&mut self, nodes: Vec<Node>) -> Vec<Expr> {
        nodes.into_iter().map(|node| self.expr(node)).collect()
    }

    fn child_exprs(&mut self, node: Node) -> Vec<Expr> {
        let children = self.named_children(node);
        self.exprs(children)
    }

    fn expr(&mut self, node: Node) -> Expr {
        // Parentheses and type assertions are their expression, with its span. A loop, not
        // recursion: a file may nest parentheses a million deep.
        let mut node = node;
        while matches!(
            self.kind(node),
            "parenthesized_expression" | "as_expression" | "satisfies_expression" | "non_null_expression" | "type_assertion"
        ) {
            let inner = self.named_children(node).into_iter().find(|child| !self.kind(*child).contains("type"));
            match inner {
                Some(inner) => node = inner,
                None => break,
            }
        }
        let span = span_of(node);
        if self.depth > MAX_DEPTH {
            return other(span);
        }
        self.depth += 1;
        let kind = self.expr_kind(node);
        self.depth -= 1;
        Expr { span, kind }
    }

    fn expr_kind(&mut self, node: Node) -> ExprKind {
        // Each form in a function of its own: this one recurses, and its stack frame is
        // what deep nesting multiplies.
        match self.kind(node) {
            "identifier" | "property_identifier" | "shorthand_property_identifier" | "private_property_identifier" | "type_identifier" => {
                ExprKind::Name(self.text(node))
            }
            "this" => ExprKind::Name("self".into()),
            "super" => ExprKind::Name("super".into()),
            "member_expression" => self.member(node),
            "subscript_expression" => self.subscript(node),
            "call_expression" => self.call(node, "function"),
            "new_expression" => self.call(node, "constructor"),
            "await_expression" => match self.named_children(node).into_iter().next() {
                Some(inner) => ExprKind::Await(Box::new(self.expr(inner))),
                None => ExprKind::Other(Vec::new()),
            },
            "arrow_function" | "function_expression" | "function" | "generator_function" => self.function_expression(node),
            "string" => ExprKind::String(self.string_text(node)),
            "template_string" => self.template(node),
            "number" => ExprKind::Number(self.text(node)),
            "true" | "false" | "null" | "undefined" => ExprKind::Constant(self.text(node)),
            "binary_expression" => self.binary(node),
            "unary_expression" => self.unary(node),
            "ternary_expression" => self.ternary(node),
            "object" => self.object(node),
            "array" | "sequence_expression" => ExprKind::Sequence(self.child_exprs(node)),
            "assignment_expression" | "augmented_assignment_expression" => self.assignment_value(node),
            "class" => {
                let _ = self.class(node, Vec::new());
                ExprKind::Other(Vec::new())
            }
            // Types say nothing the rules read.
            kind if kind.contains("type") && kind != "typeof" => ExprKind::Other(Vec::new()),
            _ => ExprKind::Other(self.child_exprs(node)),
        }
    }

    fn member(&mut self, node: Node) -> ExprKind {
        let object = match self.field(node, "object") {
            Some(object) => self.expr(object),
            None => other(span_of(node)),
        };
        let name = self.field(node, "property").map(|property| self.text(property)).unwrap_or_default();
        ExprKind::Attribute { object: Box::new(object), name }
    }

    fn subscript(&mut self, node: Node) -> ExprKind {
        let object = match self.field(node, "object") {
            Some(object) => self.expr(object),
            None => other(span_of(node)),
        };
        let index = match self.field(node, "index") {
            Some(index) => self.expr(index),
            None => other(span_of(node)),
        };
        ExprKind::Subscript { object: Box::new(object), index: Box::new(index) }
    }

    fn function_expression(&mut self, node: Node) -> ExprKind {
        if self.is_block_function(node) {
            let name = self.field(node, "name").map(|name| self.text(name)).unwrap_or_else(|| "<anonymous>".into());
            return self.function_value(node, name).kind;
        }
        match self.field(node, "body") {
            Some(body) => ExprKind::Lambda { body: Box::new(self.expr(body)) },
            None => ExprKind::Other(Vec::new()),
        }
    }

    fn template(&mut self, node: Node) -> ExprKind {
        let mut text = String::new();
        let mut parts = Vec::new();
        let mut cursor = node.walk();
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        for child in children {
            match self.kind(child) {
                "string_fragment" | "escape_sequence" => text.push_str(&self.text(child)),
                "template_substitution" => {
                    let inner = self.text(child);
                    let inner = inner.strip_prefix("${").unwrap_or(&inner);
                    let inner = inner.strip_suffix('}').unwrap_or(inner);
                    text.push('{');
                    text.push_str(inner);
                    text.push('}');
                    parts.extend(self.child_exprs(child));
                }
                _ => {}
            }
        }
        if parts.is_empty() { ExprKind::String(text) } else { ExprKind::Interpolated { text, parts } }
    }

    fn unary(&mut self, node: Node) -> ExprKind {
        let operator = self.field(node, "operator").map(|operator| self.text(operator)).unwrap_or_default();
        let argument = match self.field(node, "argument") {
            Some(argument) => self.expr(argument),
            None => other(span_of(node)),
        };
        if operator == "!" { ExprKind::Not(Box::new(argument)) } else { ExprKind::Other(vec![argument]) }
    }

    fn ternary(&mut self, node: Node) -> ExprKind {
        match (self.field(node, "condition"), self.field(node, "consequence"), self.field(node, "alternative")) {
            (Some(condition), Some(then_value), Some(else_value)) => ExprKind::Conditional {
                condition: Box::new(self.expr(condition)),
                then_value: Box::new(self.expr(then_value)),
                else_value: Box::new(self.expr(else_value)),
            },
            _ => ExprKind::Other(self.child_exprs(node)),
        }
    }

    fn assignment_value(&mut self, node: Node) -> ExprKind {
        let mut parts = Vec::new();
        if let Some(left) = self.field(node, "left") {
            parts.push(self.pattern(left));
        }
        if let Some(right) = self.field(node, "right") {
            parts.push(self.expr(right));
        }
        ExprKind::Other(parts)
    }

    fn object(&mut self, node: Node) -> ExprKind {
        let mut entries = Vec::new();
        for child in self.named_children(node) {
            let child_span = span_of(child);
            match self.kind(child) {
                "pair" => {
                    let (Some(key), Some(value)) = (self.field(child, "key"), self.field(child, "value")) else { continue };
                    let key_text = self.property_key(key);
                    let key = if self.kind(key) == "computed_property_name" {
                        self.expr(key)
                    } else {
                        Expr { span: span_of(key), kind: ExprKind::String(key_text.clone()) }
                    };
                    let value = if self.is_block_function(value) { self.function_value(value, key_text) } else { self.expr(value) };
                    entries.push((Some(key), value));
                }
                "shorthand_property_identifier" => {
                    let name = self.text(child);
                    entries.push((Some(Expr { span: child_span, kind: ExprKind::String(name.clone()) }), name_expr(&name, child_span)));
                }
                "spread_element" => {
                    if let Some(inner) = self.named_children(child).into_iter().next() {
                        entries.push((None, self.expr(inner)));
                    }
                }
                "method_definition" => {
                    let name_node = self.field(child, "name").unwrap_or(child);
                    let name = self.property_key(name_node);
                    let id = self.function(child, name.clone(), name_node, Vec::new());
                    let name = self.functions.get(id.0).map(|function| function.name.clone()).unwrap_or(name);
                    entries.push((
                        Some(Expr { span: span_of(name_node), kind: ExprKind::String(name.clone()) }),
                        name_expr(&name, child_span),
                    ));
                }
                _ => entries.push((None, self.expr(child))),
            }
        }
        ExprKind::Dict(entries)
    }

    fn binary(&mut self, node: Node) -> ExprKind {
        let operator = self.field(node, "operator").map(|operator| self.text(operator)).unwrap_or_default();
        let left = self.field(node, "left");
        let right = self.field(node, "right");
        let mut operands = Vec::new();
        let bool_operator = match operator.as_str() {
            "&&" => Some(BoolOp::And),
            "||" | "??" => Some(BoolOp::Or),
            _ => None,
        };
        for side in [left, right].into_iter().flatten() {
            let operand = self.expr(side);
            match (bool_operator, operand.kind) {
                (Some(outer), ExprKind::Bool { operator: inner, operands: inner_operands }) if inner == outer => {
                    operands.extend(inner_operands)
                }
                (_, kind) => operands.push(Expr { span: operand.span, kind }),
            }
        }
        if let Some(operator) = bool_operator {
            return ExprKind::Bool { operator, operands };
        }
        let compared = match operator.as_str() {
            "===" | "==" => "==",
            "!==" | "!=" => "!=",
            "<" | ">" | "<=" | ">=" | "in" | "instanceof" => operator.as_str(),
            _ => return ExprKind::Other(operands),
        };
        ExprKind::Compare { operands, operators: vec![compared.to_string()] }
    }

    /// A call (`field` names the callee: `function`, or `constructor` for `new C(..)`).
    fn call(&mut self, node: Node, field: &str) -> ExprKind {
        let callee = match self.field(node, field) {
            Some(callee) => self.expr(callee),
            None => other(span_of(node)),
        };
        let mut args = Vec::new();
        let mut has_splat = false;
        if let Some(arguments) = self.field(node, "arguments") {
            if self.kind(arguments) == "template_string" {
                args.push(self.expr(arguments));
            } else {
                let children = self.named_children(arguments);
                let first_string = children.first().filter(|first| self.kind(**first) == "string").map(|first| self.string_text(*first));
                let method = callee.dotted().map(|dotted| last_segment(&dotted).to_string()).unwrap_or_else(|| "<anonymous>".into());
                // `router.route('/x').get(async (req, res) => {..})` is named `get /x`.
                let chained_route = match &callee.kind {
                    ExprKind::Attribute { name, .. } => callee.chained_on("route").map(|(_, path)| format!("{name} {path}")),
                    _ => None,
                };
                let function_name = match (first_string, chained_route) {
                    (Some(path), _) => format!("{method} {path}"),
                    (None, Some(name)) => name,
                    (None, None) => method,
                };
                // Sized up front: a pushed-to vector starts with room for four expressions.
                args.reserve_exact(children.len());
                for argument in children {
                    match self.kind(argument) {
                        "spread_element" => {
                            has_splat = true;
                            args.push(self.expr(argument));
                        }
                        _ if self.is_block_function(argument) => {
                            let name = self.field(argument, "name").map(|name| self.text(name)).unwrap_or_else(|| function_name.clone());
                            args.push(self.function_value(argument, name));
                        }
                        _ => args.push(self.expr(argument)),
                    }
                }
            }
        }
        ExprKind::Call(Call { callee: Box::new(callee), args, keywords: Vec::new(), has_splat })
    }

    /// A string literal's content, escapes kept as written.
    fn string_text(&self, node: Node) -> String {
        let mut content = String::new();
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            if matches!(self.kind(child), "string_fragment" | "escape_sequence") {
                content.push_str(self.text.get(child.byte_range()).unwrap_or(""));
            }
        }
        content
    }
}

/// Where one field of an object pattern goes: a name, or a nested pattern.
enum PatternTarget<'t> {
    Name(String, Span),
    Nested(Node<'t>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(text: &str) -> FileFacts {
        extract(text, Dialect::TypeScript, ExtractOptions { outline: false, comments_with: Some("oauth-audit:") }).expect("parses")
    }

    fn function<'f>(facts: &'f FileFacts, name: &str) -> &'f Function {
        facts.functions.iter().find(|function| function.name == name).unwrap_or_else(|| panic!("no function {name}"))
    }

    #[test]
    fn route_closures_are_functions_named_for_their_route() {
        let facts = facts(
            "import { Router } from 'express';\nconst router = Router();\n\
             router.post('/callback', requireUser, async (req, res) => {\n  const { code, state } = req.body;\n  const r = await fetch(URL);\n  return res.json(await r.json());\n});\n",
        );
        let handler = function(&facts, "post /callback");
        assert_eq!(handler.params.iter().map(|param| param.name.as_str()).collect::<Vec<_>>(), vec!["req", "res"]);
        assert!(handler.is_async);
        let StmtKind::Assign { targets, value, .. } = &handler.body.statements[0].kind else { panic!("destructuring") };
        assert_eq!(targets[0].as_name(), Some("code"));
        assert_eq!(value.dotted().as_deref(), Some("req.body.code"));
        let module = facts.module().expect("module");
        let StmtKind::Expr(call) = &module.body.statements[1].kind else { panic!("the route call") };
        let call = call.as_call().expect("call");
        assert_eq!(call.args.last().and_then(Expr::as_name), Some("post /callback"));
        assert_eq!(facts.imports[0].name.as_deref(), Some("Router"));
    }

    #[test]
    fn classes_methods_decorators_and_injected_services() {
        let facts = facts(
            "@Controller('notion')\nexport class NotionController {\n  constructor(private readonly notion: NotionService) {}\n\n  \
             @Get('callback')\n  async callback(@Query('code') code: string) {\n    return this.notion.connect(code);\n  }\n}\n",
        );
        let callback = function(&facts, "callback");
        assert_eq!(callback.class.as_deref(), Some("NotionController"));
        assert_eq!(callback.params.iter().map(|param| param.name.as_str()).collect::<Vec<_>>(), vec!["self", "code"]);
        let decorators: Vec<String> = callback.decorators.iter().filter_map(|decorator| decorator.as_call()?.callee.dotted()).collect();
        assert_eq!(decorators, vec!["Controller", "Get"]);
        let constructor = function(&facts, "constructor");
        let StmtKind::Assign { targets, value, .. } = &constructor.body.statements[0].kind else { panic!("injected") };
        assert_eq!(targets[0].dotted().as_deref(), Some("self.notion"));
        assert_eq!(value.as_call().and_then(|call| call.callee.dotted()).as_deref(), Some("NotionService"));
    }

    #[test]
    fn operators_templates_objects_and_try() {
        let facts = facts(
            "async function f(res) {\n  try {\n    if (!res.ok && res.status !== 200) { throw new Error(`bad ${res.status}`); }\n    \
             return { access_token: t, ...rest, code };\n  } catch (e) {\n    throw e;\n  }\n}\n",
        );
        let f = function(&facts, "f");
        let StmtKind::Try { body, handlers, .. } = &f.body.statements[0].kind else { panic!("try") };
        assert_eq!(handlers[0].name.as_deref(), Some("e"));
        assert!(handlers[0].types.is_empty());
        let StmtKind::If { condition, then_block, .. } = &body.statements[0].kind else { panic!("if") };
        let ExprKind::Bool { operator: BoolOp::And, operands } = &condition.kind else { panic!("and") };
        assert!(matches!(operands[0].kind, ExprKind::Not(_)));
        assert!(matches!(&operands[1].kind, ExprKind::Compare { operators, .. } if operators == &vec!["!=".to_string()]));
        assert!(matches!(&then_block.statements[0].kind, StmtKind::Raise { exception: Some(_), .. }));
        let StmtKind::Return(Some(value)) = &body.statements[1].kind else { panic!("return") };
        let ExprKind::Dict(entries) = &value.kind else { panic!("dict") };
        assert_eq!(entries.len(), 3);
        assert!(entries[1].0.is_none(), "a spread");
    }

    #[test]
    fn imports_exports_and_defaults() {
        let facts = facts(
            "import ky from 'ky';\nimport * as db from '@/lib/db';\nimport { a as b } from './x';\nexport { c } from './c';\nexport * from './d';\n\
             const { saveToken } = require('./store');\nexport default async function handler(req, res) {}\n",
        );
        let imports: Vec<(String, Option<String>, String)> =
            facts.imports.iter().map(|import| (import.module.clone(), import.name.clone(), import.alias.clone())).collect();
        assert!(imports.contains(&("ky".into(), Some("default".into()), "ky".into())));
        assert!(imports.contains(&("@/lib/db".into(), None, "db".into())));
        assert!(imports.contains(&("./x".into(), Some("a".into()), "b".into())));
        assert!(imports.contains(&("./c".into(), Some("c".into()), "c".into())));
        assert!(imports.contains(&("./d".into(), Some("*".into()), "*".into())));
        assert!(imports.contains(&("./store".into(), Some("saveToken".into()), "saveToken".into())));
        let module = facts.module().expect("module");
        assert!(module.body.statements.iter().any(|stmt| matches!(&stmt.kind,
            StmtKind::Assign { targets, value, .. } if targets[0].as_name() == Some("default") && value.as_name() == Some("handler"))));
    }

    #[test]
    fn tsx_and_comments() {
        let text = "export default function Page() {\n  // oauth-audit: ignore\n  return <div onClick={() => fetch(u).then(r => r.json())}>x</div>;\n}\n";
        let facts = extract(text, Dialect::Tsx, ExtractOptions { outline: false, comments_with: Some("oauth-audit:") }).expect("parses");
        assert_eq!(facts.syntax_errors, 0);
        assert_eq!(facts.comments.len(), 1);
        let page = function(&facts, "Page");
        let mut json_calls = 0;
        page.body.visit(&mut |stmt| {
            for expression in stmt.expressions() {
                expression.walk(&mut |part| {
                    if matches!(&part.kind, ExprKind::Call(call) if matches!(&call.callee.kind, ExprKind::Attribute { name, .. } if name == "json")) {
                        json_calls += 1;
                    }
                });
            }
        });
        assert_eq!(json_calls, 1);
    }

    #[test]
    fn deep_nesting_and_long_else_if_chains_stay_shallow() {
        let mut text = String::from("function f(a) {\n  if (a === 0) { x(); }\n");
        for index in 1..3000 {
            text.push_str(&format!("  else if (a === {index}) {{ r.json(); }}\n"));
        }
        text.push_str("}\n");
        let facts = facts(&text);
        fn depth(block: &Block) -> usize {
            block.statements.iter().map(|stmt| 1 + stmt.blocks().map(depth).max().unwrap_or(0)).max().unwrap_or(0)
        }
        assert!(depth(&function(&facts, "f").body) <= MAX_DEPTH + 4);
        let nested = format!("const x = {}1{};\n", "(".repeat(100_000), ")".repeat(100_000));
        let _ = super::extract(&nested, Dialect::TypeScript, ExtractOptions::default()).expect("parses");
        for (open, close) in [
            ("[", "]"),
            ("{", "}"),
            ("if (a) {", "}"),
            ("(() => {", "})"),
            ("f(async () => { try {", "} catch (e) {} });"),
            ("a.b(", ")"),
            ("!", ""),
        ] {
            let deep = format!("function g() {{ const x = {}1{}; }}\n", open.repeat(20_000), close.repeat(20_000));
            let _ = super::extract(&deep, Dialect::TypeScript, ExtractOptions::default()).expect("parses");
            let deep = format!("{}x;{}\n", open.repeat(20_000), close.repeat(20_000));
            let _ = super::extract(&deep, Dialect::Tsx, ExtractOptions::default()).expect("parses");
        }
    }
}
