//! `--format text`: one block per finding in the style of ruff (`path:line:col: CODE
//! message` and a code frame), then skipped files and a coverage summary.

use crate::report::{Report, STEPS};
use crate::scan::SyntaxWarning;
use crate::source::SourceFile;

/// ANSI styling, all empty when colour is off.
pub struct Style {
    pub bold: &'static str,
    pub red: &'static str,
    pub yellow: &'static str,
    pub blue: &'static str,
    pub dim: &'static str,
    pub reset: &'static str,
}

impl Style {
    pub fn new(color: bool) -> Style {
        if color {
            Style { bold: "\x1b[1m", red: "\x1b[31m", yellow: "\x1b[33m", blue: "\x1b[34m", dim: "\x1b[2m", reset: "\x1b[0m" }
        } else {
            Style { bold: "", red: "", yellow: "", blue: "", dim: "", reset: "" }
        }
    }
}

/// Lines of context shown above and below a finding.
const CONTEXT: usize = 1;

/// `files` are the scanned sources, sorted by relative path (the code frames come from them).
pub fn render(report: &Report, files: &[SourceFile], syntax_warnings: &[SyntaxWarning], color: bool) -> String {
    let style = Style::new(color);
    let mut out = String::new();
    for finding in &report.findings {
        out.push_str(&format!(
            "{}{}:{}:{}{}: {}{}{} {}{}\n",
            style.bold,
            finding.file,
            finding.line,
            finding.column,
            style.reset,
            if finding.severity == crate::rules::Severity::Error { style.red } else { style.yellow },
            finding.code,
            style.reset,
            finding.message,
            finding
                .confidence
                .map(|confidence| format!(
                    " [{}]",
                    serde_json::to_value(confidence).ok().and_then(|value| value.as_str().map(String::from)).unwrap_or_default()
                ))
                .unwrap_or_default(),
        ));
        if let Ok(index) = files.binary_search_by(|file| file.relative_path.as_str().cmp(finding.file.as_str()))
            && let Some(file) = files.get(index)
        {
            out.push_str(&code_frame(file, finding.line, finding.column, finding.end_line, finding.end_column, finding.code, &style));
        }
        for related in &finding.related {
            out.push_str(&format!("  {}= {}:{}{}: {}\n", style.blue, related.file, related.line, style.reset, related.message));
        }
        out.push('\n');
    }
    for warning in syntax_warnings {
        out.push_str(&format!(
            "{}warning{}: {}:{}:{}: syntax error ({}); analysed what parsed\n",
            style.yellow,
            style.reset,
            warning.file,
            warning.line,
            warning.column,
            super::counted(warning.regions, "region")
        ));
    }
    for skipped in &report.skipped {
        out.push_str(&format!("{}skipped{}: {}: {}\n", style.yellow, style.reset, skipped.file, skipped.reason));
    }
    if !syntax_warnings.is_empty() || !report.skipped.is_empty() {
        out.push('\n');
    }
    out.push_str(&summary(report, &style));
    out
}

fn code_frame(
    file: &crate::source::SourceFile,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    code: &str,
    style: &Style,
) -> String {
    let first = line.saturating_sub(CONTEXT).max(1);
    let last = (line + CONTEXT).min(file.line_count());
    let width = last.to_string().len();
    let mut out = format!("{}{:width$} |{}\n", style.blue, "", style.reset);
    for number in first..=last {
        let text = file.line(number - 1).replace('\t', "    ");
        out.push_str(&format!("{}{number:>width$} |{} {text}\n", style.blue, style.reset));
        if number == line {
            let raw = file.line(number - 1);
            // Tabs were expanded above; expand them in the offset too.
            let prefix: String = raw.chars().take(column.saturating_sub(1)).collect();
            let offset = prefix.replace('\t', "    ").chars().count();
            let length = if end_line == line {
                end_column.saturating_sub(column).max(1)
            } else {
                raw.chars().count().saturating_sub(column.saturating_sub(1)).max(1)
            };
            out.push_str(&format!(
                "{}{:width$} |{} {}{}{} {code}{}\n",
                style.blue,
                "",
                style.reset,
                " ".repeat(offset),
                style.red,
                "^".repeat(length),
                style.reset
            ));
        }
    }
    out.push_str(&format!("{}{:width$} |{}\n", style.blue, "", style.reset));
    out
}

fn summary(report: &Report, style: &Style) -> String {
    let summary = &report.summary;
    let mut out = String::new();
    out.push_str(&format!(
        "{}Found {} ({} suppressed) in {} ({} skipped).{}\n",
        style.bold,
        super::counted(summary.findings.total, "finding"),
        summary.findings.suppressed,
        super::counted(summary.files_scanned, "file"),
        summary.files_skipped,
        style.reset
    ));
    out.push_str(&format!("Integrations: {}/{} complete ({:.1}%)\n", summary.complete, summary.integrations, summary.percent_complete));
    let steps: Vec<String> =
        STEPS.iter().filter_map(|name| summary.steps.get(name).map(|step| format!("{name} {}/{}", step.done, step.total))).collect();
    out.push_str(&format!("Steps: {}\n", steps.join(", ")));
    if let Some(delta) = &report.delta {
        out.push_str(&format!(
            "Compared with {}: {} new, {} fixed; complete {:.1}% -> {:.1}%\n",
            delta.baseline,
            delta.new.len(),
            delta.fixed.len(),
            delta.percent_complete.before,
            delta.percent_complete.after
        ));
    }
    if !report.integrations.is_empty() {
        let width = report.integrations.iter().map(|integration| integration.name.len()).max().unwrap_or(0).max("integration".len());
        out.push_str(&format!("\n{}{:width$}  {:11}", style.dim, "integration", "status"));
        for step in STEPS {
            out.push_str(&format!("  {step}"));
        }
        out.push_str(&format!("{}\n", style.reset));
        for integration in &report.integrations {
            out.push_str(&format!("{:width$}  {:11}", integration.name, integration.status.name()));
            for step in STEPS {
                let value = integration.steps.get(step).copied().unwrap_or_default();
                out.push_str(&format!("  {:>width$}", format!("{}/{}", value.done, value.total), width = step.len()));
            }
            out.push('\n');
        }
    }
    out
}
