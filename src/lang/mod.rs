//! Language frontends: syntax to the language-neutral facts of [`crate::facts`].

pub mod python;
pub mod rust;

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

use crate::facts::{Block, Expr, FileFacts, Language, Span, Stmt, StmtKind};

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
        Language::TypeScript => Err(FrontendError::Unsupported(language.name())),
    }
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
