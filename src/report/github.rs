//! `--format github`: GitHub Actions workflow commands, one annotation per finding.

use crate::report::{PathBase, Report};
use crate::rules::Severity;

/// Escapes the message part of a workflow command.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a property value (`file=`, `title=`) of a workflow command.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Paths are given from `base.directory` (the repository root in a workflow).
pub fn render(report: &Report, base: &PathBase) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        let command = match finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        out.push_str(&format!(
            "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            escape_property(&base.path(&finding.file)),
            finding.line,
            finding.column,
            finding.end_line,
            finding.end_column,
            escape_property(&format!("{} {}", finding.code, finding.rule)),
            escape_data(&finding.message),
        ));
    }
    for skipped in &report.skipped {
        out.push_str(&format!(
            "::warning file={},title={}::{}\n",
            escape_property(&skipped.file),
            escape_property("oauth-audit skipped file"),
            escape_data(&skipped.reason)
        ));
    }
    let summary = &report.summary;
    out.push_str(&format!(
        "::notice title={}::{}\n",
        escape_property("oauth-audit"),
        escape_data(&format!(
            "{} findings ({} suppressed); {}/{} integrations complete ({:.1}%)",
            summary.findings.total, summary.findings.suppressed, summary.complete, summary.integrations, summary.percent_complete
        ))
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
