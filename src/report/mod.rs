//! The report of one scan (the `oauth-audit/report@1` contract) and its renderings.

pub mod github;
pub mod json;
pub mod markdown;
pub mod sarif;
pub mod text;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::discover::Skipped;
use crate::rules::{Confidence, Severity};

/// `count` and `noun`, plural unless one: `1 file`, `3 findings`.
pub fn counted(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

pub const SCHEMA: &str = "oauth-audit/report@1";

/// Where report paths (relative to the scan root) sit for tools that resolve paths from
/// the working directory, as GitHub does from the repository root: the scan root's path
/// under the working directory (`backend/` when scanning `backend` from the repository),
/// and that directory.
#[derive(Debug, Clone)]
pub struct PathBase {
    pub directory: std::path::PathBuf,
    pub prefix: String,
}

impl PathBase {
    /// The working directory when the scan root is inside it, else the scan root itself.
    pub fn new(root: &std::path::Path, working_directory: Option<&std::path::Path>) -> PathBase {
        let working_directory = working_directory.and_then(|directory| directory.canonicalize().ok());
        if let Some(directory) = working_directory
            && let Ok(inside) = root.strip_prefix(&directory)
        {
            let prefix: Vec<String> = inside.components().map(|component| component.as_os_str().to_string_lossy().to_string()).collect();
            let prefix = if prefix.is_empty() { String::new() } else { format!("{}/", prefix.join("/")) };
            return PathBase { directory, prefix };
        }
        PathBase { directory: root.to_path_buf(), prefix: String::new() }
    }

    pub fn path(&self, relative: &str) -> String {
        format!("{}{relative}", self.prefix)
    }
}
pub const TOOL_NAME: &str = "oauth-audit";
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The steps of the pattern, in report order.
pub const STEPS: [&str; 4] = ["html_guard", "token_persistence", "historical_sync", "rollback"];

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub tool: Tool,
    pub summary: Summary,
    pub integrations: Vec<Integration>,
    /// The unfinished integrations, least work left first: what to do next.
    pub next: Vec<NextEntry>,
    pub findings: Vec<ReportFinding>,
    pub skipped: Vec<Skipped>,
    /// The comparison with `--baseline`, `null` without one.
    pub delta: Option<Delta>,
}

/// How this report differs from a baseline report (`--baseline OLD.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Delta {
    /// The baseline file as given on the command line.
    pub baseline: String,
    pub percent_complete: Change<f64>,
    pub complete: Change<usize>,
    pub findings: Change<usize>,
    /// Findings of this report whose fingerprint the baseline does not have.
    pub new: Vec<ReportFinding>,
    /// Findings of the baseline whose fingerprint this report does not have, as the
    /// baseline recorded them.
    pub fixed: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Change<T> {
    pub before: T,
    pub after: T,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Step {
    pub done: usize,
    pub total: usize,
}

impl Step {
    pub fn is_full(&self) -> bool {
        self.done == self.total
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub files_scanned: usize,
    pub files_skipped: usize,
    pub integrations: usize,
    pub complete: usize,
    pub percent_complete: f64,
    pub steps: BTreeMap<&'static str, Step>,
    pub findings: FindingCounts,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingCounts {
    pub total: usize,
    pub suppressed: usize,
    pub by_rule: BTreeMap<&'static str, usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Integration {
    pub name: String,
    pub status: Status,
    pub files: Vec<String>,
    pub callbacks: Vec<Callback>,
    pub steps: BTreeMap<&'static str, Step>,
    pub findings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Complete,
    Partial,
    NotStarted,
    NoCallback,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Partial => "partial",
            Status::NotStarted => "not-started",
            Status::NoCallback => "no-callback",
        }
    }
}

/// An unfinished integration and the work it has left.
#[derive(Debug, Clone, Serialize)]
pub struct NextEntry {
    pub integration: String,
    pub status: Status,
    /// Step items not done, over every step.
    pub remaining: usize,
    /// Items not done per step, for the steps with any.
    pub steps: BTreeMap<&'static str, usize>,
}

impl Callback {
    /// A callback proper, connecting the integration: not a stub nor a sign-in.
    pub fn is_connection(&self) -> bool {
        self.kind == crate::callbacks::Kind::Callback.name()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Callback {
    pub file: String,
    pub line: usize,
    pub function: String,
    /// `GET /api/zoom/callback`.
    pub route: String,
    /// `callback`, or `stub` for a callback route that exchanges nothing.
    pub kind: &'static str,
    pub persists: bool,
    /// `path:line` of the write or sink that stores the tokens.
    pub persisted_in: Option<String>,
    /// The calls from the handler to that write, the write last.
    pub persisted_via: Vec<HopEntry>,
    pub syncs: bool,
    pub synced_in: Option<String>,
    pub synced_via: Vec<HopEntry>,
    pub returns_tokens: bool,
    pub validates_state: bool,
    /// How `state` is checked: `validated`, `not-applicable` (a stub, or an input with no
    /// redirect such as Plaid's `public_token`), `absent`, `presence-only`, `user-id`,
    /// `unchecked`.
    pub state: &'static str,
}

/// One step of an evidence chain.
#[derive(Debug, Clone, Serialize)]
pub struct HopEntry {
    pub file: String,
    pub line: usize,
    pub function: String,
}

/// A place that explains a finding.
#[derive(Debug, Clone, Serialize)]
pub struct RelatedEntry {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportFinding {
    pub fingerprint: String,
    pub rule: &'static str,
    pub code: &'static str,
    pub severity: Severity,
    pub confidence: Option<Confidence>,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub integration: Option<String>,
    pub function: Option<String>,
    pub message: String,
    pub fixable: bool,
    /// Places that explain the finding, in order (a callback's calls to where it stores
    /// its tokens).
    pub related: Vec<RelatedEntry>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn counted_nouns_are_plural_unless_one() {
        assert_eq!(super::counted(1, "file"), "1 file");
        assert_eq!(super::counted(0, "finding"), "0 findings");
        assert_eq!(super::counted(12, "region"), "12 regions");
    }
}
