//! `--format json`: the report as the `oauth-audit/report@1` contract, pretty-printed.

use crate::report::Report;

pub fn render(report: &Report) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    Ok(text)
}
