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

/// Step items not done yet: what separates an integration from `complete`.
fn work_left(integration: &Integration) -> usize {
    integration.steps.values().map(|step| step.total - step.done.min(step.total)).sum()
}

pub fn render(report: &Report) -> String {
    let summary = &report.summary;
    let mut out = format!(
        "## oauth-audit: {}/{} integrations complete ({:.1}%)\n\n{} finding{} ({} suppressed) in {} files, {} skipped.\n\n",
        summary.complete,
        summary.integrations,
        summary.percent_complete,
        summary.findings.total,
        if summary.findings.total == 1 { "" } else { "s" },
        summary.findings.suppressed,
        summary.files_scanned,
        summary.files_skipped,
    );

    out.push_str("| Integration | Status |");
    for step in STEPS {
        out.push_str(&format!(" {step} |"));
    }
    out.push_str(" Findings |\n| --- | --- |");
    for _ in STEPS {
        out.push_str(" ---: |");
    }
    out.push_str(" ---: |\n");
    for integration in &report.integrations {
        out.push_str(&format!("| {} | {} |", cell(&integration.name), integration.status.name()));
        for step in STEPS {
            let value = integration.steps.get(step).copied().unwrap_or_default();
            out.push_str(&format!(" {}/{} |", value.done, value.total));
        }
        out.push_str(&format!(" {} |\n", integration.findings.len()));
    }
    out.push_str("| **All** | |");
    for step in STEPS {
        let value = summary.steps.get(step).copied().unwrap_or_default();
        out.push_str(&format!(" {}/{} |", value.done, value.total));
    }
    out.push_str(&format!(" {} |\n", summary.findings.total));

    let mut unfinished: Vec<&Integration> =
        report.integrations.iter().filter(|integration| integration.status != Status::Complete).collect();
    unfinished.sort_by(|a, b| work_left(a).cmp(&work_left(b)).then_with(|| a.name.cmp(&b.name)));
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
