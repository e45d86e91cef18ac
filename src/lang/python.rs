//! Python frontend: tree-sitter-python syntax to [`FileFacts`].
//!
//! Total on any input: error regions are recovered (their statements are still read), deep
//! nesting is cut off at [`MAX_DEPTH`] instead of overflowing the stack, and a parse that
//! runs past the time limit yields an error instead of hanging a worker.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::Duration;

use std::num::NonZeroU16;

use tree_sitter::{Node, Parser, Tree};

use crate::facts::*;
use crate::lang::{ExtractOptions, FrontendError, span_of};

/// Expressions or statements nested deeper than this are kept as opaque `Other` nodes.
const MAX_DEPTH: usize = 200;

/// A parse that takes longer than this is abandoned (a pathological or generated file).
const PARSE_TIME_LIMIT: Duration = Duration::from_secs(20);

thread_local! {
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// Node kind names by kind id: `Node::kind` goes through a C string and a UTF-8 check on
/// every call, and the converter asks for the kind of every node.
fn kind_names() -> &'static [String] {
    static KINDS: OnceLock<Vec<String>> = OnceLock::new();
    KINDS.get_or_init(|| {
        let language: tree_sitter::Language = tree_sitter_python::LANGUAGE.into();
        let mut names = Vec::new();
        for id in 0..language.node_kind_count() as u16 {
            names.push(language.node_kind_for_id(id).unwrap_or("").to_string());
        }
        names
    })
}

/// The kind of a node (`call`, `identifier`, `ERROR`, ...).
fn kind<'t>(node: impl std::borrow::Borrow<Node<'t>>) -> &'static str {
    let node = node.borrow();
    if node.is_error() {
        return "ERROR";
    }
    kind_names().get(usize::from(node.kind_id())).map(String::as_str).unwrap_or("")
}

/// The id of field `name` in the Python grammar, looked up once per call site:
/// tree-sitter finds a field by a linear string search.
macro_rules! field_id {
    ($name:literal) => {{
        static ID: OnceLock<Option<NonZeroU16>> = OnceLock::new();
        *ID.get_or_init(|| tree_sitter::Language::from(tree_sitter_python::LANGUAGE).field_id_for_name($name))
    }};
}

/// Parses Python source with a per-thread parser, bounded in time.
pub fn parse(text: &str) -> Result<Tree, FrontendError> {
    PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut parser = Parser::new();
            parser.set_language(&tree_sitter_python::LANGUAGE.into()).map_err(|error| FrontendError::Grammar(error.to_string()))?;
            *slot = Some(parser);
        }
        let Some(parser) = slot.as_mut() else {
            return Err(FrontendError::Grammar("parser unavailable".into()));
        };
        super::parse_bounded(parser, text, PARSE_TIME_LIMIT)
    })
}

/// Reads the facts of one Python file.
pub fn extract(text: &str, options: ExtractOptions) -> Result<FileFacts, FrontendError> {
    let tree = parse(text)?;
    Ok(facts_from_tree(&tree, text, options))
}

/// The facts of a tree [`parse`] made from `text`: [`extract`] without the parse, so a
/// benchmark can time the conversion alone.
pub fn facts_from_tree(tree: &Tree, text: &str, options: ExtractOptions) -> FileFacts {
    let root = tree.root_node();
    let mut converter = Converter {
        text,
        outline: options.outline,
        functions: Vec::new(),
        classes: Vec::new(),
        imports: Vec::new(),
        current_class: None,
        function_stack: Vec::new(),
        depth: 0,
    };
    let module_id = converter.reserve_function("<module>".into(), None, root, root, false);
    let body = converter.block_from_children(root);
    converter.functions[module_id.0].body = body;
    let (syntax_errors, first_syntax_error) = super::scan_errors(root);
    let comments = options.comments_with.map(|needle| comments_with(root, text, needle)).unwrap_or_default();
    FileFacts {
        language: Language::Python,
        functions: converter.functions,
        classes: converter.classes,
        imports: converter.imports,
        comments,
        syntax_errors,
        first_syntax_error,
    }
}

/// The comments that hold `needle`: each occurrence in the text is looked up in the tree,
/// and kept when it sits in a comment.
fn comments_with(root: Node, text: &str, needle: &str) -> Vec<Comment> {
    let mut comments: Vec<Comment> = Vec::new();
    for offset in memchr::memmem::find_iter(text.as_bytes(), needle.as_bytes()) {
        let Some(node) = root.descendant_for_byte_range(offset, offset + needle.len()) else { continue };
        if kind(node) != "comment" || comments.last().is_some_and(|last| last.span.start_byte == node.start_byte()) {
            continue;
        }
        comments.push(Comment { text: text.get(node.byte_range()).unwrap_or("").to_string(), span: span_of(node) });
    }
    comments
}

/// The child in field `id` (`field_id!("body")`, ...).
fn field<'t>(node: Node<'t>, id: Option<NonZeroU16>) -> Option<Node<'t>> {
    node.child_by_field_id(id?.get())
}

/// Every child in field `id` (`alternative` clauses, comparison `operators`).
fn fields_of<'t>(node: Node<'t>, id: Option<NonZeroU16>, cursor: &mut tree_sitter::TreeCursor<'t>) -> Vec<Node<'t>> {
    match id {
        Some(id) => node.children_by_field_id(id, cursor).collect(),
        None => Vec::new(),
    }
}

struct Converter<'a> {
    text: &'a str,
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
    /// The named children of a node, comments left out.
    fn named_children<'t>(&self, node: Node<'t>) -> Vec<Node<'t>> {
        let mut cursor = node.walk();
        node.named_children(&mut cursor).filter(|child| kind(child) != "comment").collect()
    }

    fn text(&self, node: Node) -> String {
        // The source is a `str`, and node boundaries of valid UTF-8 fall on characters.
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

    fn block_field(&mut self, node: Node, id: Option<NonZeroU16>) -> Block {
        match field(node, id) {
            Some(block) => self.block_from_children(block),
            None => Block::default(),
        }
    }

    /// The first `block` child (clauses whose body has no field name in the grammar).
    fn block_child(&mut self, node: Node) -> Block {
        match self.named_children(node).into_iter().find(|child| kind(child) == "block") {
            Some(block) => self.block_from_children(block),
            None => Block::default(),
        }
    }

    fn statement_into(&mut self, node: Node, out: &mut Vec<Stmt>) {
        if self.depth > MAX_DEPTH {
            out.push(Stmt { span: span_of(node), kind: StmtKind::Other(Vec::new()) });
            return;
        }
        self.depth += 1;
        match kind(node) {
            // Recovered statements inside an error region are still statements.
            "ERROR" | "block" => {
                for child in self.named_children(node) {
                    self.statement_into(child, out);
                }
            }
            "match_statement" => self.match_statement(node, out),
            kind if is_expression_kind(kind) => {
                let expr = self.expr(node);
                out.push(Stmt { span: span_of(node), kind: StmtKind::Expr(expr) });
            }
            _ => {
                let stmt = self.statement(node);
                out.push(stmt);
            }
        }
        self.depth -= 1;
    }

    fn statement(&mut self, node: Node) -> Stmt {
        let span = span_of(node);
        let kind = match kind(node) {
            "expression_statement" => self.expression_statement(node),
            "if_statement" => self.if_statement(node),
            "try_statement" => self.try_statement(node),
            "with_statement" => self.with_statement(node),
            "for_statement" => {
                let targets = field(node, field_id!("left")).map(|left| vec![self.expr(left)]).unwrap_or_default();
                let iter = field(node, field_id!("right")).map(|right| self.expr(right));
                let body = self.block_field(node, field_id!("body"));
                let else_block = field(node, field_id!("alternative")).map(|alternative| self.clause_body(alternative));
                StmtKind::Loop { targets, iter: iter.map(Box::new), condition: None, body, else_block }
            }
            "while_statement" => {
                let condition = field(node, field_id!("condition")).map(|condition| self.expr(condition));
                let body = self.block_field(node, field_id!("body"));
                let else_block = field(node, field_id!("alternative")).map(|alternative| self.clause_body(alternative));
                StmtKind::Loop { targets: Vec::new(), iter: None, condition: condition.map(Box::new), body, else_block }
            }
            "return_statement" => StmtKind::Return(self.named_children(node).first().map(|value| self.expr(*value))),
            "raise_statement" => {
                let cause = field(node, field_id!("cause")).map(|cause| self.expr(cause));
                let cause_id = field(node, field_id!("cause")).map(|cause| cause.id());
                let exception =
                    self.named_children(node).into_iter().find(|child| Some(child.id()) != cause_id).map(|exception| self.expr(exception));
                StmtKind::Raise { exception: exception.map(Box::new), cause: cause.map(Box::new) }
            }
            "break_statement" => StmtKind::Break,
            "continue_statement" => StmtKind::Continue,
            "function_definition" => StmtKind::FunctionDef(self.function_definition(node, Vec::new())),
            "class_definition" => self.class_definition(node, Vec::new()),
            "decorated_definition" => self.decorated_definition(node),
            "import_statement" | "import_from_statement" | "future_import_statement" => {
                self.import(node);
                StmtKind::Other(Vec::new())
            }
            _ => {
                // Statements without rule-relevant structure (assert, del, global, ...):
                // keep their expressions so calls inside them are still seen.
                let children = self.named_children(node);
                let mut expressions = Vec::with_capacity(children.len());
                for child in children {
                    if kind(child) == "block" {
                        continue;
                    }
                    expressions.push(self.expr(child));
                }
                StmtKind::Other(expressions)
            }
        };
        Stmt { span, kind }
    }

    fn clause_body(&mut self, clause: Node) -> Block {
        match field(clause, field_id!("body")) {
            Some(body) => self.block_from_children(body),
            None => self.block_child(clause),
        }
    }

    fn expression_statement(&mut self, node: Node) -> StmtKind {
        let children = self.named_children(node);
        if let [single] = children.as_slice() {
            match kind(single) {
                "assignment" => return self.assignment(*single, false),
                "augmented_assignment" => return self.assignment(*single, true),
                _ => return StmtKind::Expr(self.expr(*single)),
            }
        }
        let parts = children.into_iter().map(|child| self.expr(child)).collect();
        StmtKind::Expr(Expr { span: span_of(node), kind: ExprKind::Sequence(parts) })
    }

    fn assignment(&mut self, node: Node, augmented: bool) -> StmtKind {
        // Almost always one target (`a = b = value` has two).
        let mut targets = Vec::with_capacity(1);
        let mut current = node;
        // `a = b = value` nests assignments on the right.
        loop {
            if let Some(left) = field(current, field_id!("left")) {
                targets.push(self.expr(left));
            }
            match field(current, field_id!("right")) {
                Some(right) if kind(right) == "assignment" => current = right,
                Some(right) => {
                    let value = self.expr(right);
                    return StmtKind::Assign { targets, value, augmented };
                }
                None => {
                    // An annotation without a value (`x: int`) binds nothing useful.
                    return StmtKind::Other(targets);
                }
            }
        }
    }

    fn if_statement(&mut self, node: Node) -> StmtKind {
        let condition = self.expr_field(node, field_id!("condition"));
        let then_block = self.block_field(node, field_id!("consequence"));
        let mut cursor = node.walk();
        let alternatives: Vec<Node> = fields_of(node, field_id!("alternative"), &mut cursor);
        let else_block = self.else_chain(&alternatives);
        StmtKind::If { condition, then_block, else_block }
    }

    /// `elif` clauses become nested `if` statements in the else branch.
    fn else_chain(&mut self, alternatives: &[Node]) -> Option<Block> {
        let mut branches = Vec::new();
        let mut otherwise = None;
        for alternative in alternatives {
            if kind(alternative) == "elif_clause" {
                let condition = self.expr_field(*alternative, field_id!("condition"));
                let then_block = self.block_field(*alternative, field_id!("consequence"));
                branches.push((condition, then_block, span_of(*alternative)));
            } else {
                otherwise = Some(self.clause_body(*alternative));
            }
        }
        self.if_chain(branches, otherwise)
    }

    fn if_chain(&mut self, branches: Vec<(Expr, Block, Span)>, otherwise: Option<Block>) -> Option<Block> {
        super::if_chain(branches, otherwise, MAX_DEPTH.saturating_sub(self.depth))
    }

    /// `match subject: case p if g: ...`: the subject once, then an `if`/`else` chain
    /// whose conditions hold each case's pattern and guard, so every case body is analysed.
    fn match_statement(&mut self, node: Node, out: &mut Vec<Stmt>) {
        let subject = self.expr_field(node, field_id!("subject"));
        out.push(Stmt { span: subject.span, kind: StmtKind::Other(vec![subject]) });
        let cases: Vec<Node> = field(node, field_id!("body"))
            .map(|body| self.named_children(body).into_iter().filter(|child| kind(child) == "case_clause").collect())
            .unwrap_or_default();
        let mut branches = Vec::new();
        for case in cases {
            let mut condition_parts = Vec::new();
            for child in self.named_children(case) {
                if kind(child) != "block" {
                    condition_parts.push(self.expr(child));
                }
            }
            let then_block = self.block_field(case, field_id!("consequence"));
            let condition = Expr { span: span_of(case), kind: ExprKind::Other(condition_parts) };
            branches.push((condition, then_block, span_of(case)));
        }
        if let Some(chain) = self.if_chain(branches, None) {
            out.extend(chain.statements);
        }
    }

    fn try_statement(&mut self, node: Node) -> StmtKind {
        let body = self.block_field(node, field_id!("body"));
        let mut handlers = Vec::new();
        let mut else_block = None;
        let mut finally_block = None;
        for child in self.named_children(node) {
            match kind(child) {
                "except_clause" => handlers.push(self.handler(child)),
                "else_clause" => else_block = Some(self.clause_body(child)),
                "finally_clause" => finally_block = Some(self.block_child(child)),
                _ => {}
            }
        }
        StmtKind::Try { body, handlers, else_block, finally_block }
    }

    fn handler(&mut self, node: Node) -> Handler {
        let value = field(node, field_id!("value")).or_else(|| self.named_children(node).into_iter().find(|child| kind(child) != "block"));
        let mut types = Vec::new();
        let mut name = None;
        if let Some(value) = value {
            let type_node = if kind(value) == "as_pattern" {
                name = field(value, field_id!("alias")).map(|alias| self.text(alias).trim().to_string());
                self.named_children(value).into_iter().next()
            } else {
                Some(value)
            };
            if let Some(type_node) = type_node {
                let type_expr = self.expr(type_node);
                match &type_expr.kind {
                    ExprKind::Sequence(parts) => types.extend(parts.iter().map(|part| part.dotted().unwrap_or_else(|| "?".into()))),
                    _ => types.push(type_expr.dotted().unwrap_or_else(|| "?".into())),
                }
            }
        }
        let body = self.block_child(node);
        Handler { types, name, body, span: span_of(node) }
    }

    fn with_statement(&mut self, node: Node) -> StmtKind {
        let is_async = node.child(0).is_some_and(|first| kind(first) == "async");
        let mut items = Vec::new();
        for clause in self.named_children(node).into_iter().filter(|child| kind(child) == "with_clause") {
            for item in self.named_children(clause).into_iter().filter(|child| kind(child) == "with_item") {
                let Some(value) = field(item, field_id!("value")) else { continue };
                if kind(value) == "as_pattern" {
                    let context = self.named_children(value).into_iter().next().map(|context| self.expr(context));
                    let binding = field(value, field_id!("alias"))
                        .and_then(|alias| self.named_children(alias).into_iter().next().or(Some(alias)))
                        .map(|alias| self.expr(alias));
                    if let Some(context) = context {
                        items.push(WithItem { context, binding });
                    }
                } else {
                    items.push(WithItem { context: self.expr(value), binding: None });
                }
            }
        }
        let body = self.block_field(node, field_id!("body"));
        StmtKind::With { items, body, is_async }
    }

    fn decorated_definition(&mut self, node: Node) -> StmtKind {
        let children = self.named_children(node);
        let mut decorators = Vec::with_capacity(children.len().saturating_sub(1));
        for child in children.into_iter().filter(|child| kind(child) == "decorator") {
            if let Some(expression) = self.named_children(child).into_iter().next() {
                decorators.push(self.expr(expression));
            }
        }
        match field(node, field_id!("definition")) {
            Some(definition) if kind(definition) == "function_definition" => {
                StmtKind::FunctionDef(self.function_definition(definition, decorators))
            }
            Some(definition) if kind(definition) == "class_definition" => self.class_definition(definition, decorators),
            _ => StmtKind::Other(decorators),
        }
    }

    fn function_definition(&mut self, node: Node, decorators: Vec<Expr>) -> FunctionId {
        let name_node = field(node, field_id!("name")).unwrap_or(node);
        let name = self.text(name_node);
        let is_async = node.child(0).is_some_and(|first| kind(first) == "async");
        let parent = self.function_stack.last().copied().unwrap_or(FunctionId(0));
        let id = self.reserve_function(name, Some(parent), node, name_node, is_async);
        let params = field(node, field_id!("parameters")).map(|parameters| self.parameters(parameters)).unwrap_or_default();
        // A class's methods belong to it; functions nested in a method do not.
        let class = self.current_class.take();
        self.function_stack.push(id);
        let body = if self.outline { Block::default() } else { self.block_field(node, field_id!("body")) };
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

    fn class_definition(&mut self, node: Node, _decorators: Vec<Expr>) -> StmtKind {
        let name = field(node, field_id!("name")).map(|name| self.text(name)).unwrap_or_default();
        let bases = field(node, field_id!("superclasses"))
            .map(|superclasses| self.named_children(superclasses).into_iter().map(|base| self.expr(base)).collect())
            .unwrap_or_default();
        self.classes.push(Class { name: name.clone(), bases, span: span_of(node) });
        let outer = self.current_class.replace(name.clone());
        let body = self.block_field(node, field_id!("body"));
        self.current_class = outer;
        StmtKind::ClassDef { name, body }
    }

    fn parameters(&mut self, node: Node) -> Vec<Param> {
        let children = self.named_children(node);
        let mut params = Vec::with_capacity(children.len());
        for child in children {
            let span = span_of(child);
            let (name_node, annotation, default) = match kind(child) {
                "identifier" => (Some(child), None, None),
                "typed_parameter" => {
                    let name = self
                        .named_children(child)
                        .into_iter()
                        .find(|part| matches!(kind(part), "identifier" | "list_splat_pattern" | "dictionary_splat_pattern"));
                    (name, field(child, field_id!("type")), None)
                }
                "default_parameter" | "typed_default_parameter" => {
                    (field(child, field_id!("name")), field(child, field_id!("type")), field(child, field_id!("value")))
                }
                "list_splat_pattern" | "dictionary_splat_pattern" => (self.named_children(child).into_iter().next(), None, None),
                _ => (None, None, None),
            };
            let Some(mut name_node) = name_node else { continue };
            if matches!(kind(name_node), "list_splat_pattern" | "dictionary_splat_pattern") {
                match self.named_children(name_node).into_iter().next() {
                    Some(inner) => name_node = inner,
                    None => continue,
                }
            }
            params.push(Param {
                name: self.text(name_node),
                annotation: annotation.map(|annotation| self.text(annotation).split_whitespace().collect()),
                default: default.map(|default| self.expr(default)),
                span,
            });
        }
        params
    }

    fn import(&mut self, node: Node) {
        let span = span_of(node);
        match kind(node) {
            "import_statement" => {
                let mut cursor = node.walk();
                let names: Vec<Node> = fields_of(node, field_id!("name"), &mut cursor);
                for name in names {
                    let (module, alias) = self.imported_name(name);
                    self.imports.push(Import { module: module.clone(), name: None, alias: alias.unwrap_or(module), span });
                }
            }
            "import_from_statement" => {
                let module = field(node, field_id!("module_name")).map(|module| self.text(module)).unwrap_or_default();
                let mut cursor = node.walk();
                let names: Vec<Node> = fields_of(node, field_id!("name"), &mut cursor);
                if names.is_empty() && self.named_children(node).iter().any(|child| kind(child) == "wildcard_import") {
                    self.imports.push(Import { module, name: Some("*".into()), alias: "*".into(), span });
                    return;
                }
                for name in names {
                    let (imported, alias) = self.imported_name(name);
                    self.imports.push(Import {
                        module: module.clone(),
                        name: Some(imported.clone()),
                        alias: alias.unwrap_or(imported),
                        span,
                    });
                }
            }
            _ => {}
        }
    }

    fn imported_name(&self, node: Node) -> (String, Option<String>) {
        if kind(node) == "aliased_import" {
            let name = field(node, field_id!("name")).map(|name| self.text(name)).unwrap_or_default();
            let alias = field(node, field_id!("alias")).map(|alias| self.text(alias));
            (name, alias)
        } else {
            (self.text(node), None)
        }
    }

    // ----- expressions ------------------------------------------------------------------

    fn expr_field(&mut self, node: Node, id: Option<NonZeroU16>) -> Expr {
        match field(node, id) {
            Some(child) => self.expr(child),
            None => Expr { span: span_of(node), kind: ExprKind::Other(Vec::new()) },
        }
    }

    fn child_exprs(&mut self, node: Node) -> Vec<Expr> {
        let children = self.named_children(node);
        self.exprs(children)
    }

    fn exprs(&mut self, nodes: Vec<Node>) -> Vec<Expr> {
        nodes.into_iter().map(|node| self.expr(node)).collect()
    }

    fn expr(&mut self, node: Node) -> Expr {
        // `(x)` is `x`, with the span of `x` (where a finding must point). A loop, not
        // recursion: a file may nest parentheses a million deep.
        let mut node = node;
        while kind(node) == "parenthesized_expression"
            && let [inner] = self.named_children(node).as_slice()
        {
            node = *inner;
        }
        let span = span_of(node);
        if self.depth > MAX_DEPTH {
            return Expr { span, kind: ExprKind::Other(Vec::new()) };
        }
        self.depth += 1;
        let kind = self.expr_kind(node);
        self.depth -= 1;
        Expr { span, kind }
    }

    fn expr_kind(&mut self, node: Node) -> ExprKind {
        match kind(node) {
            "identifier" | "as_pattern_target" => match self.named_children(node).into_iter().next() {
                Some(inner) if kind(node) == "as_pattern_target" => self.expr(inner).kind,
                _ => ExprKind::Name(self.text(node)),
            },
            "attribute" => {
                let object = self.expr_field(node, field_id!("object"));
                let name = field(node, field_id!("attribute")).map(|attribute| self.text(attribute)).unwrap_or_default();
                ExprKind::Attribute { object: Box::new(object), name }
            }
            "call" => self.call(node),
            "await" => match self.named_children(node).into_iter().next() {
                Some(inner) => ExprKind::Await(Box::new(self.expr(inner))),
                None => ExprKind::Other(Vec::new()),
            },
            "parenthesized_expression" => match self.named_children(node).into_iter().next() {
                Some(inner) => self.expr(inner).kind,
                None => ExprKind::Sequence(Vec::new()),
            },
            "subscript" => {
                let object = self.expr_field(node, field_id!("value"));
                let mut cursor = node.walk();
                let indices: Vec<Node> = fields_of(node, field_id!("subscript"), &mut cursor);
                let mut indices = self.exprs(indices);
                let index =
                    if indices.len() == 1 { indices.remove(0) } else { Expr { span: span_of(node), kind: ExprKind::Sequence(indices) } };
                ExprKind::Subscript { object: Box::new(object), index: Box::new(index) }
            }
            "string" | "concatenated_string" => {
                let mut parts = Vec::new();
                let text = self.string_content(node, &mut parts);
                if parts.is_empty() { ExprKind::String(text) } else { ExprKind::Interpolated { text, parts } }
            }
            "integer" | "float" => ExprKind::Number(self.text(node)),
            "true" | "false" | "none" | "ellipsis" => ExprKind::Constant(self.text(node)),
            "comparison_operator" => {
                let operands = self.child_exprs(node);
                let mut cursor = node.walk();
                let operators =
                    fields_of(node, field_id!("operators"), &mut cursor).into_iter().map(|operator| operator.kind().to_string()).collect();
                ExprKind::Compare { operands, operators }
            }
            "boolean_operator" => {
                let operator = match field(node, field_id!("operator")).map(|operator| operator.kind()) {
                    Some("or") => BoolOp::Or,
                    _ => BoolOp::And,
                };
                let mut operands = Vec::new();
                for side in [field_id!("left"), field_id!("right")] {
                    let Some(child) = field(node, side) else { continue };
                    let operand = self.expr(child);
                    match operand.kind {
                        ExprKind::Bool { operator: inner_operator, operands: inner } if inner_operator == operator => {
                            operands.extend(inner)
                        }
                        _ => operands.push(operand),
                    }
                }
                ExprKind::Bool { operator, operands }
            }
            "not_operator" => ExprKind::Not(Box::new(self.expr_field(node, field_id!("argument")))),
            "conditional_expression" => {
                let mut parts = self.child_exprs(node);
                if parts.len() == 3 {
                    let else_value = parts.pop().map(Box::new);
                    let condition = parts.pop().map(Box::new);
                    let then_value = parts.pop().map(Box::new);
                    if let (Some(then_value), Some(condition), Some(else_value)) = (then_value, condition, else_value) {
                        return ExprKind::Conditional { condition, then_value, else_value };
                    }
                }
                ExprKind::Other(parts)
            }
            "lambda" => ExprKind::Lambda { body: Box::new(self.expr_field(node, field_id!("body"))) },
            "list_comprehension" | "set_comprehension" | "dictionary_comprehension" | "generator_expression" => {
                let mut targets = Vec::new();
                for clause in self.named_children(node).into_iter().filter(|child| kind(child) == "for_in_clause") {
                    if let Some(left) = field(clause, field_id!("left")) {
                        targets.push(self.expr(left));
                    }
                }
                ExprKind::Comprehension { parts: self.child_exprs(node), targets }
            }
            "tuple" | "list" | "set" | "pattern_list" | "expression_list" | "tuple_pattern" | "list_pattern" => {
                ExprKind::Sequence(self.child_exprs(node))
            }
            "dictionary" => {
                let children = self.named_children(node);
                let mut entries = Vec::with_capacity(children.len());
                for child in children {
                    if kind(child) == "pair" {
                        let key = field(child, field_id!("key")).map(|key| self.expr(key));
                        let value = self.expr_field(child, field_id!("value"));
                        entries.push((key, value));
                    } else {
                        entries.push((None, self.expr(child)));
                    }
                }
                ExprKind::Dict(entries)
            }
            _ => ExprKind::Other(self.child_exprs(node)),
        }
    }

    fn call(&mut self, node: Node) -> ExprKind {
        let callee = self.expr_field(node, field_id!("function"));
        let mut args = Vec::new();
        let mut keywords = Vec::new();
        let mut has_splat = false;
        if let Some(arguments) = field(node, field_id!("arguments")) {
            if kind(arguments) == "generator_expression" {
                args.push(self.expr(arguments));
            } else {
                let arguments = self.named_children(arguments);
                // Sized up front: a pushed-to vector starts with room for four expressions.
                let keyword_count = arguments.iter().filter(|argument| kind(*argument) == "keyword_argument").count();
                args.reserve_exact(arguments.len() - keyword_count);
                keywords.reserve_exact(keyword_count);
                for argument in arguments {
                    match kind(argument) {
                        "keyword_argument" => {
                            let name = field(argument, field_id!("name")).map(|name| self.text(name)).unwrap_or_default();
                            let value = self.expr_field(argument, field_id!("value"));
                            keywords.push((name, value));
                        }
                        "list_splat" | "dictionary_splat" => {
                            has_splat = true;
                            args.push(self.expr(argument));
                        }
                        _ => args.push(self.expr(argument)),
                    }
                }
            }
        }
        ExprKind::Call(Call { callee: Box::new(callee), args, keywords, has_splat })
    }

    /// The text of a string; expressions interpolated in an f-string go to `parts`.
    fn string_content(&mut self, node: Node, parts: &mut Vec<Expr>) -> String {
        let mut content = String::new();
        let mut cursor = node.walk();
        let children: Vec<Node> = node.children(&mut cursor).collect();
        for child in children {
            match kind(child) {
                "string_content" | "escape_sequence" => content.push_str(&self.text(child)),
                "string" => content.push_str(&self.string_content(child, parts)),
                "interpolation" => {
                    content.push('{');
                    content.push_str(self.text(child).trim_start_matches('{').trim_end_matches('}'));
                    content.push('}');
                    if let Some(expression) = field(child, field_id!("expression")) {
                        parts.push(self.expr(expression));
                    }
                }
                _ => {}
            }
        }
        content
    }
}

fn is_expression_kind(kind: &str) -> bool {
    matches!(
        kind,
        "identifier" | "attribute" | "call" | "await" | "string" | "concatenated_string" | "parenthesized_expression" | "subscript"
    )
}

/// Parses and discards the tree: the floor the benchmark compares full analysis against.
pub fn parse_only(text: &str) -> bool {
    parse(text).is_ok()
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
    fn every_field_the_converter_reads_is_in_the_grammar() {
        // A misspelt name would make `field_id!` give `None` and the field look absent.
        let source = include_str!("python.rs");
        let language = tree_sitter::Language::from(tree_sitter_python::LANGUAGE);
        let names: Vec<&str> = source
            .split(concat!("field_id", "!(\""))
            .skip(1)
            .filter_map(|rest| rest.split_once('"').map(|(name, _)| name))
            .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .collect();
        assert!(names.len() > 40, "{} field reads found", names.len());
        for name in names {
            assert!(language.field_id_for_name(name).is_some(), "no field `{name}` in tree-sitter-python");
        }
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
