//! From sites and findings to per-integration steps, statuses and the summary.

use std::collections::BTreeMap;

use crate::report::{Callback, FindingCounts, Integration, NextEntry, ReportFinding, STEPS, Status, Step, Summary};
use crate::rules::RULES;

/// One measured unit of a step: a `.json()` site, a callback, a handler.
pub struct StepItem {
    pub step: &'static str,
    pub integration: Option<String>,
    pub done: bool,
}

pub struct CoverageInput<'a> {
    /// Integration of every scanned file, by relative path.
    pub files: &'a [(String, Option<String>)],
    /// Callbacks and stubs, with their integration (their own route's, or their file's).
    pub callbacks: &'a [(Option<String>, Callback)],
    pub items: &'a [StepItem],
    pub findings: &'a [ReportFinding],
    pub suppressed: usize,
    pub files_skipped: usize,
}

fn empty_steps() -> BTreeMap<&'static str, Step> {
    STEPS.iter().map(|step| (*step, Step::default())).collect()
}

/// A status from the steps: `no-callback` without callbacks; `complete` when every step is
/// full and no finding of a step rule remains; `not-started` when no step has progress.
pub fn status(callbacks: usize, steps: &BTreeMap<&'static str, Step>, step_findings: usize) -> Status {
    if callbacks == 0 {
        return Status::NoCallback;
    }
    if steps.values().all(Step::is_full) && step_findings == 0 {
        return Status::Complete;
    }
    if steps.values().all(|step| step.done == 0) {
        return Status::NotStarted;
    }
    Status::Partial
}

pub fn compute(input: &CoverageInput) -> (Vec<Integration>, Summary, Vec<NextEntry>) {
    let mut by_name: BTreeMap<String, Integration> = BTreeMap::new();
    fn entry<'m>(by_name: &'m mut BTreeMap<String, Integration>, name: &str) -> &'m mut Integration {
        by_name.entry(name.to_string()).or_insert_with(|| Integration {
            name: name.to_string(),
            status: Status::NoCallback,
            files: Vec::new(),
            callbacks: Vec::new(),
            steps: empty_steps(),
            findings: Vec::new(),
        })
    }
    for (file, integration) in input.files {
        if let Some(name) = integration {
            entry(&mut by_name, name).files.push(file.clone());
        }
    }
    // A callback whose route names another integration than its file's brings its file
    // into that integration too.
    for (integration, callback) in input.callbacks {
        if let Some(name) = integration {
            let integration = entry(&mut by_name, name);
            if !integration.files.contains(&callback.file) {
                integration.files.push(callback.file.clone());
            }
            integration.callbacks.push(callback.clone());
        }
    }
    let mut totals = empty_steps();
    for item in input.items {
        let steps =
            [Some(&mut totals), item.integration.as_ref().and_then(|name| by_name.get_mut(name)).map(|integration| &mut integration.steps)];
        for step in steps.into_iter().flatten() {
            let entry = step.entry(item.step).or_default();
            entry.total += 1;
            if item.done {
                entry.done += 1;
            }
        }
    }
    let mut step_findings: BTreeMap<String, usize> = BTreeMap::new();
    for finding in input.findings {
        let Some(name) = &finding.integration else { continue };
        if let Some(integration) = by_name.get_mut(name) {
            integration.findings.push(finding.fingerprint.clone());
            let is_step_rule = RULES.iter().any(|rule| rule.slug == finding.rule && rule.step.is_some());
            if is_step_rule {
                *step_findings.entry(name.clone()).or_default() += 1;
            }
        }
    }
    for integration in by_name.values_mut() {
        integration.files.sort();
        integration.findings.sort();
        integration.findings.dedup();
        integration.callbacks.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        let findings = step_findings.get(&integration.name).copied().unwrap_or(0);
        let callbacks = integration.callbacks.iter().filter(|callback| callback.is_connection()).count();
        integration.status = status(callbacks, &integration.steps, findings);
    }
    let integrations: Vec<Integration> = by_name.into_values().collect();
    let complete = integrations.iter().filter(|integration| integration.status == Status::Complete).count();
    let percent_complete = percent(complete, integrations.len());
    let mut by_rule: BTreeMap<&'static str, usize> = RULES.iter().map(|rule| (rule.slug, 0)).collect();
    for finding in input.findings {
        *by_rule.entry(finding.rule).or_default() += 1;
    }
    let summary = Summary {
        files_scanned: input.files.len(),
        files_skipped: input.files_skipped,
        integrations: integrations.len(),
        complete,
        percent_complete,
        steps: totals,
        findings: FindingCounts { total: input.findings.len(), suppressed: input.suppressed, by_rule },
    };
    let next = next_steps(&integrations);
    (integrations, summary, next)
}

/// The unfinished integrations that have work left, least first (closest to done), those
/// with a callback before the API-only ones; ties by name.
fn next_steps(integrations: &[Integration]) -> Vec<NextEntry> {
    let mut next: Vec<NextEntry> = integrations
        .iter()
        .filter(|integration| integration.status != Status::Complete)
        .map(|integration| {
            let steps: BTreeMap<&'static str, usize> =
                integration.steps.iter().map(|(step, counts)| (*step, counts.total - counts.done)).filter(|(_, left)| *left > 0).collect();
            NextEntry { integration: integration.name.clone(), status: integration.status, remaining: steps.values().sum(), steps }
        })
        .filter(|entry| entry.remaining > 0)
        .collect();
    next.sort_by(|a, b| {
        let api_only = |entry: &NextEntry| entry.status == Status::NoCallback;
        (api_only(a), a.remaining, &a.integration).cmp(&(api_only(b), b.remaining, &b.integration))
    });
    next
}

/// `100 * part / whole` rounded to one decimal; 0 when there is nothing.
pub fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (1000.0 * part as f64 / whole as f64).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_to_one_decimal() {
        assert_eq!(percent(11, 39), 28.2);
        assert_eq!(percent(0, 0), 0.0);
        assert_eq!(percent(1, 3), 33.3);
    }

    #[test]
    fn statuses() {
        let mut steps = empty_steps();
        assert_eq!(status(0, &steps, 0), Status::NoCallback);
        assert_eq!(status(1, &steps, 0), Status::Complete);
        steps.insert("html_guard", Step { done: 0, total: 2 });
        assert_eq!(status(1, &steps, 2), Status::NotStarted);
        steps.insert("html_guard", Step { done: 1, total: 2 });
        assert_eq!(status(1, &steps, 1), Status::Partial);
    }
}
