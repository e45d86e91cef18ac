//! Language frontends: syntax to the language-neutral facts of [`crate::facts`].

pub mod python;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum FrontendError {
    #[error("could not load the grammar: {0}")]
    Grammar(String),
    #[error("parsing took longer than {0} s and was abandoned")]
    ParseTimeout(u64),
    #[error("no {0} frontend yet")]
    Unsupported(&'static str),
}

use crate::facts::{FileFacts, Language};

/// The outline of one file: declarations without function bodies.
pub fn extract_outline(language: Language, text: &str) -> Result<FileFacts, FrontendError> {
    match language {
        Language::Python => python::extract_outline(text),
        Language::TypeScript | Language::Rust => Err(FrontendError::Unsupported(language.name())),
    }
}

/// The facts of one file in the given language.
pub fn extract(language: Language, text: &str) -> Result<FileFacts, FrontendError> {
    match language {
        Language::Python => python::extract(text),
        Language::TypeScript | Language::Rust => Err(FrontendError::Unsupported(language.name())),
    }
}
