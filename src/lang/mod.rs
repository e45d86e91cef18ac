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

use crate::facts::{FileFacts, Language};

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
