//! The rules: one file each, documented by its module comment (what `explain` prints).

pub mod callback_no_persist;
pub mod callback_no_sync;
pub mod dead_delegation;
pub mod missing_rollback;
pub mod state_not_validated;
pub mod token_in_response;
pub mod unguarded_json;

use serde::Serialize;

use crate::facts::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Confidence {
    pub fn name(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
        }
    }
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    High,
    Medium,
}

#[derive(Debug)]
pub struct RuleInfo {
    pub code: &'static str,
    pub slug: &'static str,
    /// The step of the pattern the rule measures (`html_guard`), if any.
    pub step: Option<&'static str>,
    pub severity: Severity,
    pub fixable: bool,
    /// One line for `rules` and for SARIF's short description.
    pub title: &'static str,
    /// The source of the rule's file; its module comment is the documentation.
    pub(crate) source: &'static str,
}

impl RuleInfo {
    /// The rule's documentation: its module comment, without the comment markers.
    pub fn documentation(&self) -> String {
        let mut lines = Vec::new();
        for line in self.source.lines() {
            let Some(rest) = line.strip_prefix("//!") else { break };
            lines.push(rest.strip_prefix(' ').unwrap_or(rest));
        }
        lines.join("\n").trim().to_string() + "\n"
    }

    pub fn matches(&self, id: &str) -> bool {
        self.code.eq_ignore_ascii_case(id) || self.slug.eq_ignore_ascii_case(id)
    }
}

/// A rule that judges one callback.
pub type CallbackCheck = fn(&crate::index::Project, &crate::callbacks::CallbackAnalysis) -> Option<Finding>;

/// The rules that judge callbacks, each with its check.
pub static CALLBACK_RULES: [(&RuleInfo, CallbackCheck); 5] = [
    (&callback_no_persist::RULE, callback_no_persist::check),
    (&callback_no_sync::RULE, callback_no_sync::check),
    (&token_in_response::RULE, token_in_response::check),
    (&state_not_validated::RULE, state_not_validated::check),
    (&dead_delegation::RULE, dead_delegation::check),
];

/// Every rule this build implements, in code order.
pub static RULES: &[&RuleInfo] = &[
    &unguarded_json::RULE,
    &callback_no_persist::RULE,
    &callback_no_sync::RULE,
    &missing_rollback::RULE,
    &token_in_response::RULE,
    &state_not_validated::RULE,
    &dead_delegation::RULE,
];

pub fn find_rule(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().copied().find(|rule| rule.matches(id))
}

/// A defect at one place in one file.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static RuleInfo,
    pub file_index: usize,
    pub span: Span,
    /// The enclosing function's qualified name (`Class.method`), `None` at module level.
    pub function: Option<String>,
    pub message: String,
    pub confidence: Option<Confidence>,
    pub fixable: bool,
    /// Other places that explain the finding, in order (the calls from a callback to
    /// where it stores its tokens): SARIF related locations and code flows.
    pub related: Vec<Related>,
}

impl Finding {
    /// A finding about a callback, at its handler's name unless `span` says otherwise.
    pub fn on_callback(
        rule: &'static RuleInfo,
        callback: &crate::callbacks::CallbackAnalysis,
        span: Option<Span>,
        message: String,
        confidence: Confidence,
        related: Vec<Related>,
    ) -> Finding {
        Finding {
            rule,
            file_index: callback.file_index,
            span: span.unwrap_or(callback.span),
            function: Some(callback.function.clone()),
            message,
            confidence: Some(confidence),
            fixable: rule.fixable,
            related,
        }
    }
}

/// A place that explains a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub file_index: usize,
    /// 0-based line.
    pub line: usize,
    pub message: String,
}

/// The hops of an evidence chain as related locations: each call, then what it reaches.
pub fn chain_locations(chain: &[crate::callbacks::Hop], last: &str) -> Vec<Related> {
    chain
        .iter()
        .enumerate()
        .map(|(position, hop)| Related {
            file_index: hop.file_index,
            line: hop.line,
            message: if position + 1 == chain.len() {
                format!("{last} in `{}`", hop.function)
            } else {
                format!("call in `{}`", hop.function)
            },
        })
        .collect()
}

/// `path:line` of a hop (1-based line), as reports show it.
pub fn hop_location(project: &crate::index::Project, hop: &crate::callbacks::Hop) -> String {
    format!("{}:{}", project.path(hop.file_index), hop.line + 1)
}
