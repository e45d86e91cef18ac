//! Every command and flag, with its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "oauth-audit",
    version,
    about = "Audit OAuth integration code for the 3-step fix pattern: HTML guard, token persistence, historical sync (and rollback)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan code and report findings and per-integration coverage.
    Scan(ScanArgs),
    /// Patch the fixable findings (OA001-OA004): prints unified diffs, or applies them
    /// with --write, after verifying every edit by re-parsing and re-auditing.
    Fix(FixArgs),
    /// List the rules: code, slug, step, severity, fixable.
    Rules(RulesArgs),
    /// Explain a rule: what, why, before/after, how to fix, how to suppress.
    Explain {
        /// A rule code (OA001) or slug (unguarded-json).
        id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Findings with code frames, then a coverage summary.
    Text,
    /// The oauth-audit/report@1 JSON report.
    Json,
    /// SARIF 2.1.0 for code scanning.
    Sarif,
    /// GitHub Actions workflow commands (annotations).
    Github,
    /// The coverage dashboard as Markdown tables (a PR comment, $GITHUB_STEP_SUMMARY).
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Fail on findings of severity error.
    Error,
    /// Fail on findings of severity warning or error.
    Warning,
    /// Fail only on findings that the --baseline report does not have.
    New,
    /// Never fail because of findings (coverage can still fail).
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing text to a terminal and NO_COLOR is not set.
    Auto,
    /// Always colour text output.
    Always,
    /// Never colour.
    Never,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or folders to scan (default: the current folder). Paths in reports are
    /// relative to the folder, or to the deepest folder common to several.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Configuration file (default: the first oauth-audit.toml from the scan root upward).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Run only this rule (code or slug); repeatable.
    #[arg(long = "rule", value_name = "ID")]
    pub rules: Vec<String>,

    /// Report only this integration; repeatable.
    #[arg(long = "integration", value_name = "NAME")]
    pub integrations: Vec<String>,

    /// A JSON report of an earlier run: the report gets a `delta` with the new and fixed
    /// findings (matched by fingerprint) and the change in coverage.
    #[arg(long, value_name = "REPORT.json")]
    pub baseline: Option<PathBuf>,

    /// Exit 1 when a finding of this severity or above remains (`new`: a finding the
    /// baseline does not have).
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,

    /// Exit 1 when the percentage of complete integrations is below PCT.
    #[arg(long, value_name = "PCT")]
    pub min_coverage: Option<f64>,

    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    pub jobs: usize,

    /// How many calls deep a callback is followed, across files, to find where it stores
    /// its tokens and starts the sync (default: `[callbacks] max_depth` of the config, 3).
    #[arg(long, value_name = "N")]
    pub max_depth: Option<usize>,

    /// Also scan test files (tests/, test/, __tests__/, test_*.py, *_test.py, *_tests.py,
    /// conftest.py).
    #[arg(long)]
    pub include_tests: bool,

    /// Colour in text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print timing and memory figures to standard error.
    #[arg(long)]
    pub stats: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FixFormat {
    /// Unified diffs (a dry run), or a summary of what was written.
    Text,
    /// The oauth-audit/fix@1 JSON: applied and skipped fixes, files changed.
    Json,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    /// Files or folders to fix (default: the current folder).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Fix only this rule (code or slug); repeatable.
    #[arg(long = "rule", value_name = "ID")]
    pub rules: Vec<String>,

    /// Fix only this integration; repeatable.
    #[arg(long = "integration", value_name = "NAME")]
    pub integrations: Vec<String>,

    /// Print the unified diffs and change nothing (the default).
    #[arg(long, conflicts_with = "write")]
    pub diff: bool,

    /// Apply the fixes: each file is replaced atomically, keeping its line endings, byte
    /// order mark, indentation and mode; a file changed since it was read is refused.
    #[arg(long)]
    pub write: bool,

    /// Also write one `git apply`-able patch per integration into DIR (`notion.patch`).
    #[arg(long, value_name = "DIR")]
    pub patch_dir: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FixFormat::Text)]
    pub format: FixFormat,

    /// Configuration file (default: the first oauth-audit.toml from the root upward).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Also fix test files.
    #[arg(long)]
    pub include_tests: bool,

    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    pub jobs: usize,

    /// Colour in diffs.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}
