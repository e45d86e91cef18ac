//! The shared HTML detection vectors (`fixtures/vectors/html-detection.json`) run through the
//! three implementations that must agree case by case: the reference in `src/runtime/html.rs`,
//! the Python guard helper `rules/templates/oauth_utils.py` (with the test venv's Python, through
//! `tests/vectors/run_python.py`) and the TypeScript one `rules/templates/oauth-utils.ts` (with
//! `node`, transpiled by the TypeScript pinned in `tests/node`, through
//! `tests/vectors/run_typescript.cjs`), which must also type-check under `tsc --strict`.
//!
//! `npm ci` installs that TypeScript into `tests/node/node_modules` the first time (it needs
//! the npm registry). A missing `python3`, `node` or `npm`, or a failed install, skips that
//! part with a message on stderr, except under `CI=true`, where it fails the test.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use common::{available, describe_failure, manifest_dir, missing_tool, typescript_package, venv};

use oauth_audit::runtime::html::{HtmlCheck, check_html_response};
use serde::Deserialize;

const MINIMUM_CASES: usize = 45;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vectors {
    description: String,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    status: u16,
    content_type: Option<String>,
    body: Option<String>,
    body_base64: Option<String>,
    expected: Expected,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    is_error_page: bool,
    message: Option<String>,
}

impl std::fmt::Display for Expected {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "is_error_page={} message={:?}", self.is_error_page, self.message)
    }
}

/// One line of a runner's output: the results of every entry point it tried, or its error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunnerLine {
    name: String,
    results: Option<BTreeMap<String, Expected>>,
    error: Option<String>,
}

impl Case {
    fn body_bytes(&self) -> Vec<u8> {
        match (&self.body, &self.body_base64) {
            (Some(body), None) => body.as_bytes().to_vec(),
            (None, Some(encoded)) => decode_base64(encoded).unwrap_or_else(|error| panic!("{}: body_base64: {error}", self.name)),
            _ => panic!("{}: exactly one of body and body_base64 is needed", self.name),
        }
    }
}

fn vectors_path() -> PathBuf {
    manifest_dir().join("fixtures/vectors/html-detection.json")
}

fn vectors() -> Vectors {
    let path = vectors_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Standard base64 with optional padding, enough for the vectors' `body_base64`.
fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
    let mut bits: u32 = 0;
    let mut pending = 0;
    for character in text.trim_end_matches('=').bytes() {
        let value = match character {
            b'A'..=b'Z' => character - b'A',
            b'a'..=b'z' => character - b'a' + 26,
            b'0'..=b'9' => character - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            other => return Err(format!("{:?} is not base64", char::from(other))),
        };
        bits = (bits << 6) | u32::from(value);
        pending += 6;
        if pending >= 8 {
            pending -= 8;
            bytes.push((bits >> pending) as u8);
            bits &= (1 << pending) - 1;
        }
    }
    Ok(bytes)
}

/// Runs a vectors runner and reads its lines.
fn run_runner(implementation: &str, command: &mut Command) -> Result<Vec<RunnerLine>, String> {
    let output = command.output().map_err(|error| format!("{implementation}: starting the runner: {error}"))?;
    if !output.status.success() {
        return Err(describe_failure(&format!("{implementation} runner"), &output));
    }
    let stdout = String::from_utf8(output.stdout).map_err(|error| format!("{implementation}: runner output is not UTF-8: {error}"))?;
    stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).map_err(|error| format!("{implementation}: bad runner line {line:?}: {error}")))
        .collect()
}

/// Compares a runner's lines with the vectors; returns how many results matched.
/// The Python runner's entry points, every one required for every case.
const PYTHON_ENTRY_POINTS: &[&str] =
    &["detect_html", "check_html_response(fake response)", "check_html_response(requests.Response)", "check_html_response(httpx.Response)"];

/// Checks one implementation's lines against the vectors; `required` are the entry points
/// each case must report (an error aside). Returns how many results matched.
fn compare(implementation: &str, cases: &[Case], lines: Vec<RunnerLine>, required: &[&str], problems: &mut Vec<String>) -> usize {
    let expected: BTreeMap<&str, &Expected> = cases.iter().map(|case| (case.name.as_str(), &case.expected)).collect();
    let mut seen = BTreeSet::new();
    let mut matched = 0;
    for line in lines {
        let Some(want) = expected.get(line.name.as_str()) else {
            problems.push(format!("{}: {implementation}: reported a case that is not in the vectors", line.name));
            continue;
        };
        if !seen.insert(line.name.clone()) {
            problems.push(format!("{}: {implementation}: reported twice", line.name));
        }
        if let Some(error) = &line.error {
            problems.push(format!("{}: {implementation}: raised\n{error}", line.name));
        }
        let results = line.results.unwrap_or_default();
        if line.error.is_none() {
            for missing in required.iter().filter(|entry_point| !results.contains_key(**entry_point)) {
                problems.push(format!("{}: {implementation}: no result from {missing}", line.name));
            }
        }
        for (entry_point, got) in results {
            if &got == *want {
                matched += 1;
            } else {
                problems.push(format!("{}: {implementation} {entry_point}: got {got}, expected {want}", line.name));
            }
        }
    }
    for name in expected.keys().filter(|name| !seen.contains(**name)) {
        problems.push(format!("{name}: {implementation}: no result"));
    }
    matched
}

#[test]
fn vectors_are_well_formed() {
    let vectors = vectors();
    assert!(!vectors.description.trim().is_empty(), "the vectors need a description");
    assert!(vectors.cases.len() >= MINIMUM_CASES, "{} cases, at least {MINIMUM_CASES} wanted", vectors.cases.len());
    let mut names = BTreeSet::new();
    for case in &vectors.cases {
        assert!(!case.name.trim().is_empty(), "a case has no name");
        assert!(names.insert(case.name.as_str()), "{}: the name is used twice", case.name);
        assert!((100..=599).contains(&case.status), "{}: status {}", case.name, case.status);
        case.body_bytes();
        assert_eq!(
            case.expected.is_error_page,
            case.expected.message.is_some(),
            "{}: a message goes with an error page, and only then",
            case.name
        );
    }
    let verdicts: BTreeSet<bool> = vectors.cases.iter().map(|case| case.expected.is_error_page).collect();
    assert_eq!(verdicts.len(), 2, "the vectors need both error pages and token responses");
}

#[test]
fn every_implementation_agrees_with_the_vectors() {
    let cases = vectors().cases;
    let mut problems = Vec::new();
    let mut summary = Vec::new();

    let rust_lines = cases
        .iter()
        .map(|case| {
            let HtmlCheck { is_error_page, message } = check_html_response(case.status, case.content_type.as_deref(), &case.body_bytes());
            let results = BTreeMap::from([("check_html_response".to_owned(), Expected { is_error_page, message })]);
            RunnerLine { name: case.name.clone(), results: Some(results), error: None }
        })
        .collect();
    let matched = compare("rust", &cases, rust_lines, &["check_html_response"], &mut problems);
    summary.push(format!("rust {matched}"));

    let vectors = vectors_path();
    // The venv's interpreter: it has requests and httpx, whose real responses are entry points.
    let python = venv();
    if available("the Python template", python.as_ref().err().map(String::as_str)) {
        let mut command = Command::new(python.as_ref().expect("checked"));
        command
            .arg(manifest_dir().join("tests/vectors/run_python.py"))
            .arg(manifest_dir().join("rules/templates/oauth_utils.py"))
            .arg(&vectors)
            .env("PYTHONIOENCODING", "utf-8")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        match run_runner("python", &mut command) {
            Ok(lines) => summary.push(format!("python {}", compare("python", &cases, lines, PYTHON_ENTRY_POINTS, &mut problems))),
            Err(error) => problems.push(error),
        }
    }

    let typescript = missing_tool("node").map_or_else(typescript_package, Err);
    if available("the TypeScript template", typescript.as_ref().err().map(String::as_str)) {
        let mut command = Command::new("node");
        command
            .arg(manifest_dir().join("tests/vectors/run_typescript.cjs"))
            .arg(manifest_dir().join("rules/templates/oauth-utils.ts"))
            .arg(&vectors);
        match run_runner("typescript", &mut command) {
            Ok(lines) => {
                summary.push(format!("typescript {}", compare("typescript", &cases, lines, &["detectHtml(Uint8Array)"], &mut problems)))
            }
            Err(error) => problems.push(error),
        }
    }

    eprintln!("html_vectors: {} cases; results matching per implementation: {}", cases.len(), summary.join(", "));
    assert!(problems.is_empty(), "{} disagreement(s) with fixtures/vectors/html-detection.json:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn typescript_template_type_checks_under_strict() {
    let package = missing_tool("node").map_or_else(typescript_package, Err);
    if !available("type-checking the TypeScript template", package.as_ref().err().map(String::as_str)) {
        return;
    }
    let package = package.expect("checked");
    // The strictest options target codebases commonly add, and a bundler-style module setup.
    let output = Command::new("node")
        .arg(package.join("bin/tsc"))
        .args(["--noEmit", "--strict", "--noUncheckedIndexedAccess", "--exactOptionalPropertyTypes"])
        .args(["--noUnusedLocals", "--noUnusedParameters", "--noImplicitReturns", "--noImplicitOverride"])
        .args(["--noFallthroughCasesInSwitch", "--isolatedModules", "--verbatimModuleSyntax"])
        .args(["--target", "es2020", "--lib", "es2020,dom", "--module", "esnext", "--moduleResolution", "bundler"])
        .arg(manifest_dir().join("rules/templates/oauth-utils.ts"))
        .current_dir(manifest_dir().join("tests/node"))
        .output()
        .expect("node runs");
    assert!(output.status.success(), "{}", describe_failure("tsc --noEmit --strict on rules/templates/oauth-utils.ts", &output));
}

#[test]
fn base64_decoder_reads_padding_and_rejects_garbage() {
    assert_eq!(decode_base64("77u/").as_deref(), Ok(&b"\xEF\xBB\xBF"[..]));
    assert_eq!(decode_base64("YQ==").as_deref(), Ok(&b"a"[..]));
    assert_eq!(decode_base64("YWI=").as_deref(), Ok(&b"ab"[..]));
    assert!(decode_base64("Y!==").is_err());
}
