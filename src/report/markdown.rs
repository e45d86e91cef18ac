//! `--format markdown`: the coverage dashboard for a pull-request comment or
//! `$GITHUB_STEP_SUMMARY`: the progress table, what is left per integration (closest to
//! done first), and the comparison with a baseline when there is one.

use crate::report::{Integration, Report, ReportFinding, STEPS, Status};

/// Findings listed per integration; GitHub comments are limited in size.
const MAX_LISTED: usize = 20;

/// Escapes text for a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn finding_line(finding: &ReportFinding) -> String {
    let function = finding.function.as_ref().map(|function| format!(" in `{function}`")).unwrap_or_default();
    format!("- `{}:{}` {} `{}`{function}: {}\n", finding.file, finding.line, finding.code, finding.rule, finding.message.replace('\n', " "))
}

fn list(findings: &[&ReportFinding], out: &mut String) {
    for finding in findings.iter().take(MAX_LISTED) {
        out.push_str(&finding_line(finding));
    }
    if findings.len() > MAX_LISTED {
        out.push_str(&format!("- … and {} more\n", findings.len() - MAX_LISTED));
    }
}

/// The status as the hand-kept trackers show it.
fn status_cell(status: Status) -> String {
    let mark = match status {
        Status::Complete => "✅",
        Status::Partial => "🟡",
        Status::NotStarted => "⬜",
        Status::NoCallback => "➖",
    };
    format!("{mark} {}", status.name())
}

/// Where the integration's callbacks are: `file.py:34` (the file name only, to keep the
/// table narrow), stubs left out.
fn callback_cell(integration: &Integration) -> String {
    let places: Vec<String> = integration
        .callbacks
        .iter()
        .filter(|callback| callback.is_connection())
        .map(|callback| format!("`{}:{}`", callback.file.rsplit('/').next().unwrap_or(&callback.file), callback.line))
        .collect();
    if places.is_empty() { "—".to_string() } else { cell(&places.join(", ")) }
}

pub fn render(report: &Report) -> String {
    let summary = &report.summary;
    let mut out = format!(
        "## oauth-audit: {}/{} integrations complete ({:.1}%)\n\n{} ({} suppressed) in {}, {} skipped.\n\n",
        summary.complete,
        summary.integrations,
        summary.percent_complete,
        super::counted(summary.findings.total, "finding"),
        summary.findings.suppressed,
        super::counted(summary.files_scanned, "file"),
        summary.files_skipped,
    );

    out.push_str("| Integration | Status | Callback |");
    for step in STEPS {
        out.push_str(&format!(" {step} |"));
    }
    out.push_str(" Findings |\n| --- | --- | --- |");
    for _ in STEPS {
        out.push_str(" ---: |");
    }
    out.push_str(" ---: |\n");
    for integration in &report.integrations {
        out.push_str(&format!("| {} | {} | {} |", cell(&integration.name), status_cell(integration.status), callback_cell(integration)));
        for step in STEPS {
            let value = integration.steps.get(step).copied().unwrap_or_default();
            out.push_str(&format!(" {}/{} |", value.done, value.total));
        }
        out.push_str(&format!(" {} |\n", integration.findings.len()));
    }
    out.push_str("| **All** | | |");
    for step in STEPS {
        let value = summary.steps.get(step).copied().unwrap_or_default();
        out.push_str(&format!(" {}/{} |", value.done, value.total));
    }
    out.push_str(&format!(" {} |\n", summary.findings.total));

    // The report's `next` order: least work left first.
    let unfinished: Vec<&Integration> =
        report.next.iter().filter_map(|next| report.integrations.iter().find(|integration| integration.name == next.integration)).collect();
    let outside: Vec<&ReportFinding> = report.findings.iter().filter(|finding| finding.integration.is_none()).collect();
    if !unfinished.is_empty() || !outside.is_empty() {
        out.push_str("\n### What is left\n");
    }
    for integration in unfinished {
        let steps: Vec<String> = STEPS
            .iter()
            .filter_map(|step| {
                integration.steps.get(step).filter(|value| !value.is_full()).map(|value| format!("{step} {}/{}", value.done, value.total))
            })
            .collect();
        let steps = if steps.is_empty() { String::new() } else { format!(": {}", steps.join(", ")) };
        out.push_str(&format!("\n**{}** ({}){steps}\n", integration.name, integration.status.name()));
        let findings: Vec<&ReportFinding> =
            report.findings.iter().filter(|finding| finding.integration.as_deref() == Some(integration.name.as_str())).collect();
        list(&findings, &mut out);
    }
    if !outside.is_empty() {
        out.push_str("\n**Outside any integration**\n");
        list(&outside, &mut out);
    }

    if let Some(delta) = &report.delta {
        out.push_str(&format!(
            "\n### Compared with `{}`\n\nComplete: {:.1}% → {:.1}% ({} → {} integrations). Findings: {} → {}: {} new, {} fixed.\n",
            delta.baseline,
            delta.percent_complete.before,
            delta.percent_complete.after,
            delta.complete.before,
            delta.complete.after,
            delta.findings.before,
            delta.findings.after,
            delta.new.len(),
            delta.fixed.len(),
        ));
        if !delta.new.is_empty() {
            out.push_str("\nNew:\n");
            let new: Vec<&ReportFinding> = delta.new.iter().collect();
            list(&new, &mut out);
        }
        if !delta.fixed.is_empty() {
            out.push_str("\nFixed:\n");
            for finding in delta.fixed.iter().take(MAX_LISTED) {
                let field = |name: &str| {
                    finding.get(name).map(|value| value.as_str().map(String::from).unwrap_or_else(|| value.to_string())).unwrap_or_default()
                };
                out.push_str(&format!(
                    "- `{}:{}` {} `{}`: {}\n",
                    field("file"),
                    field("line"),
                    field("code"),
                    field("rule"),
                    field("message")
                ));
            }
            if delta.fixed.len() > MAX_LISTED {
                out.push_str(&format!("- … and {} more\n", delta.fixed.len() - MAX_LISTED));
            }
        }
    }
    out
}
