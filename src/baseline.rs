//! Comparing a report with an earlier one (`--baseline OLD.json`): which findings are new,
//! which were fixed, and how coverage moved.
//!
//! Findings are matched by fingerprint, which is built from the rule, the file, the
//! enclosing function, the whitespace-normalised source line and the occurrence index of
//! that combination: moving code (lines above it added or removed) keeps a finding's
//! fingerprint, and two identical new findings are two.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

use crate::report::{Change, Delta, Report, SCHEMA};

#[derive(Debug, Error)]
pub enum BaselineError {
    #[error("{path}: cannot read the baseline: {message}")]
    Read { path: String, message: String },
    #[error("{path}: not an oauth-audit JSON report: {message}")]
    Invalid { path: String, message: String },
}

/// The parts of an earlier report a comparison needs.
#[derive(Debug, Deserialize)]
pub struct Baseline {
    pub schema: String,
    pub summary: BaselineSummary,
    pub findings: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct BaselineSummary {
    pub percent_complete: f64,
    pub complete: usize,
}

pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| BaselineError::Read { path: display.clone(), message: error.to_string() })?;
    let baseline: Baseline =
        serde_json::from_str(&text).map_err(|error| BaselineError::Invalid { path: display.clone(), message: error.to_string() })?;
    if baseline.schema != SCHEMA {
        return Err(BaselineError::Invalid { path: display, message: format!("schema is {:?}, expected {SCHEMA:?}", baseline.schema) });
    }
    if let Some(position) =
        baseline.findings.iter().position(|finding| finding.get("fingerprint").and_then(|value| value.as_str()).is_none())
    {
        return Err(BaselineError::Invalid { path: display, message: format!("finding {position} has no fingerprint") });
    }
    Ok(baseline)
}

pub fn compare(report: &Report, baseline: &Baseline, baseline_name: &str) -> Delta {
    let fingerprint = |finding: &serde_json::Value| finding.get("fingerprint").and_then(|value| value.as_str()).unwrap_or("").to_string();
    let before: BTreeSet<String> = baseline.findings.iter().map(fingerprint).collect();
    let after: BTreeSet<&str> = report.findings.iter().map(|finding| finding.fingerprint.as_str()).collect();
    Delta {
        baseline: baseline_name.to_string(),
        percent_complete: Change { before: baseline.summary.percent_complete, after: report.summary.percent_complete },
        complete: Change { before: baseline.summary.complete, after: report.summary.complete },
        findings: Change { before: baseline.findings.len(), after: report.findings.len() },
        new: report.findings.iter().filter(|finding| !before.contains(&finding.fingerprint)).cloned().collect(),
        fixed: baseline.findings.iter().filter(|finding| !after.contains(fingerprint(finding).as_str())).cloned().collect(),
    }
}
