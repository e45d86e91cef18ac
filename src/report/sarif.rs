//! `--format sarif`: SARIF 2.1.0 for code scanning, with stable rule ids, rule metadata,
//! repo-relative URIs and partial fingerprints.

use std::path::Path;

use serde_json::{Value, json};

use crate::report::{PathBase, Report, TOOL_NAME, TOOL_VERSION};
use crate::rules::RULES;

const SARIF_SCHEMA: &str = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
const FINGERPRINT_KEY: &str = "oauthAudit/v1";

/// Percent-encodes what a relative URI reference may not hold (spaces, `#`, `?`, ...).
pub fn encode_uri_path(path: &str) -> String {
    let mut out = String::new();
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'_' | b'.' | b'~');
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn root_uri(root: &Path) -> String {
    let mut uri = format!("file://{}", encode_uri_path(&root.to_string_lossy()));
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// Artifact URIs are relative to `base.directory`, given as the `SRCROOT` base: the
/// repository root when scanning a folder of it from there, as code scanning expects.
pub fn render(report: &Report, base: &PathBase) -> Result<String, serde_json::Error> {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            let documentation = rule.documentation();
            json!({
                "id": rule.code,
                "name": rule.slug,
                "shortDescription": {"text": rule.title},
                "fullDescription": {"text": documentation},
                "help": {"text": documentation, "markdown": documentation},
                "defaultConfiguration": {"level": rule.severity.name()},
                "properties": {"tags": ["oauth", "reliability"], "step": rule.step, "fixable": rule.fixable},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|finding| {
            let rule_index = RULES.iter().position(|rule| rule.code == finding.code).unwrap_or(0);
            let location = |file: &str, line: usize, message: &str, id: Option<usize>| {
                let mut location = json!({
                    "physicalLocation": {
                        "artifactLocation": {"uri": encode_uri_path(&base.path(file)), "uriBaseId": "SRCROOT"},
                        "region": {"startLine": line},
                    },
                    "message": {"text": message},
                });
                if let Some(id) = id {
                    location["id"] = json!(id);
                }
                location
            };
            let related: Vec<Value> =
                finding.related.iter().enumerate().map(|(id, related)| location(&related.file, related.line, &related.message, Some(id))).collect();
            // The evidence chain as a code flow: from the finding through each call to
            // where the chain ends (the write, the exchange), so a viewer can step through it.
            let code_flows: Vec<Value> = if finding.related.is_empty() {
                Vec::new()
            } else {
                let mut steps = vec![json!({"location": location(&finding.file, finding.line, &finding.message, None)})];
                steps.extend(finding.related.iter().map(|related| json!({"location": location(&related.file, related.line, &related.message, None)})));
                vec![json!({"threadFlows": [{"locations": steps}]})]
            };
            let mut result = json!({
                "ruleId": finding.code,
                "ruleIndex": rule_index,
                "level": finding.severity.name(),
                "message": {"text": finding.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": encode_uri_path(&base.path(&finding.file)), "uriBaseId": "SRCROOT"},
                        "region": {
                            "startLine": finding.line,
                            "startColumn": finding.column,
                            "endLine": finding.end_line,
                            "endColumn": finding.end_column,
                        },
                    },
                    "logicalLocations": finding.function.as_ref().map(|function| vec![json!({"fullyQualifiedName": function, "kind": "function"})]).unwrap_or_default(),
                }],
                "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
                "properties": {
                    "confidence": finding.confidence,
                    "integration": finding.integration,
                    "fixable": finding.fixable,
                },
            });
            if !related.is_empty() {
                result["relatedLocations"] = json!(related);
                result["codeFlows"] = json!(code_flows);
            }
            result
        })
        .collect();
    let notifications: Vec<Value> = report
        .skipped
        .iter()
        .map(|skipped| {
            json!({
                "level": "warning",
                "message": {"text": format!("skipped: {}", skipped.reason)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": encode_uri_path(&base.path(&skipped.file)), "uriBaseId": "SRCROOT"}}}],
            })
        })
        .collect();
    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": TOOL_NAME,
                "version": TOOL_VERSION,
                "semanticVersion": TOOL_VERSION,
                "rules": rules,
            }},
            "invocations": [{"executionSuccessful": true, "toolExecutionNotifications": notifications}],
            "originalUriBaseIds": {"SRCROOT": {"uri": root_uri(&base.directory)}},
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {
                "percent_complete": report.summary.percent_complete,
                "integrations": report.summary.integrations,
                "complete": report.summary.complete,
            },
        }],
    });
    let mut text = serde_json::to_string_pretty(&log)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encoding() {
        assert_eq!(encode_uri_path("a b/c#d.py"), "a%20b/c%23d.py");
        assert_eq!(encode_uri_path("backend/é.py"), "backend/%C3%A9.py");
    }
}
