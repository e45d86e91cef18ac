//! `--format json`: the report as the `oauth-audit/report@1` contract, pretty-printed.

use crate::report::Report;

pub fn render(report: &Report) -> String {
    // Serialising plain data structs with string keys cannot fail.
    let mut text = serde_json::to_string_pretty(report).unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}
