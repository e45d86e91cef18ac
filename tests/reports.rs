//! The reports on the Python fixture: snapshots of JSON and text, validation against the
//! report@1 schema and the official SARIF 2.1.0 schema, byte-identical reruns, GitHub
//! annotations and colour.

mod common;

use common::{fixture, run, schema, stderr, stdout};

fn fixture_path() -> String {
    fixture("python-fastapi").to_str().expect("path").to_string()
}

fn schema_errors(schema_name: &str, instance: &serde_json::Value) -> Vec<String> {
    let mut schema = schema(schema_name);
    // The published SARIF 2.1.0 schema has an unbalanced `]` in the pattern of the
    // `language` fields (which this tool does not emit); strict regex engines refuse it.
    replace_string(&mut schema, "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$", "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    validator.iter_errors(instance).map(|error| format!("{} at {}", error, error.instance_path())).collect()
}

fn validate(schema_name: &str, instance: &serde_json::Value) {
    let errors = schema_errors(schema_name, instance);
    assert!(errors.is_empty(), "{schema_name}: {errors:#?}");
}

#[test]
fn schemas_reject_broken_documents() {
    let output = run(&["scan", &fixture_path(), "--format", "sarif"]);
    let mut sarif: serde_json::Value = serde_json::from_slice(&output.stdout).expect("SARIF");
    sarif["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!schema_errors("sarif-2.1.0.json", &sarif).is_empty(), "the SARIF schema checks levels");
    let output = run(&["scan", &fixture_path(), "--format", "json"]);
    let mut report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    report["findings"][0]["line"] = 0.into();
    assert!(!schema_errors("report-v1.schema.json", &report).is_empty(), "the report schema checks lines");
}

fn replace_string(value: &mut serde_json::Value, from: &str, to: &str) {
    match value {
        serde_json::Value::String(text) if text == from => *text = to.to_string(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|item| replace_string(item, from, to)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|item| replace_string(item, from, to)),
        _ => {}
    }
}

#[test]
fn json_report_snapshot_and_schema() {
    let output = run(&["scan", &fixture_path(), "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "findings make exit 1: {}", stderr(&output));
    let text = stdout(&output);
    let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    validate("report-v1.schema.json", &report);
    assert_eq!(report["schema"], "oauth-audit/report@1");
    insta::assert_snapshot!("python_fastapi_json", text);
}

#[test]
fn text_report_snapshot() {
    let output = run(&["scan", &fixture_path(), "--color", "never"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(!text.contains('\x1b'), "no colour when asked for none");
    insta::assert_snapshot!("python_fastapi_text", text);
}

#[test]
fn two_runs_are_byte_identical() {
    for format in ["json", "sarif", "text", "github"] {
        let first = run(&["scan", &fixture_path(), "--format", format, "--color", "never"]);
        let second = run(&["scan", &fixture_path(), "--format", format, "--color", "never", "--jobs", "1"]);
        assert_eq!(first.stdout, second.stdout, "{format} output differs between runs");
    }
}

#[test]
fn sarif_is_valid_and_carries_rules_uris_and_fingerprints() {
    let output = run(&["scan", &fixture_path(), "--format", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_slice(&output.stdout).expect("SARIF is JSON");
    validate("sarif-2.1.0.json", &sarif);
    let run_ = &sarif["runs"][0];
    let rules = run_["tool"]["driver"]["rules"].as_array().expect("rules");
    assert_eq!(rules[0]["id"], "OA001");
    assert_eq!(rules[0]["name"], "unguarded-json");
    assert!(rules[0]["fullDescription"]["text"].as_str().expect("text").contains("What it does"));
    let results = run_["results"].as_array().expect("results");
    let json_report: serde_json::Value = serde_json::from_slice(&run(&["scan", &fixture_path(), "--format", "json"]).stdout).expect("JSON");
    assert_eq!(results.len(), json_report["findings"].as_array().expect("findings").len());
    for (result, finding) in results.iter().zip(json_report["findings"].as_array().expect("findings")) {
        assert_eq!(result["ruleId"], finding["code"]);
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(!uri.starts_with('/') && !uri.contains("://"), "repo-relative URI: {uri}");
        // The tests run from the repository root, which code scanning resolves URIs from.
        assert_eq!(uri, format!("fixtures/python-fastapi/{}", finding["file"].as_str().expect("file")));
        assert_eq!(location["artifactLocation"]["uriBaseId"], "SRCROOT");
        assert_eq!(location["region"]["startLine"], finding["line"]);
        assert_eq!(location["region"]["startColumn"], finding["column"]);
        assert_eq!(result["partialFingerprints"]["oauthAudit/v1"], finding["fingerprint"]);
    }
    assert_eq!(run_["columnKind"], "unicodeCodePoints");
    // Cross-file evidence: the chain from a callback to where it stores its tokens.
    let with_flow = results
        .iter()
        .find(|result| result["ruleId"] == "OA003" && result["relatedLocations"].as_array().is_some_and(|related| related.len() == 3))
        .expect("an OA003 result with the hubspot chain");
    let flow = with_flow["codeFlows"][0]["threadFlows"][0]["locations"].as_array().expect("thread flow");
    assert_eq!(flow.len(), 4, "the finding, then each hop");
    let last = flow[3]["location"]["physicalLocation"]["artifactLocation"]["uri"].as_str().expect("uri");
    assert!(last.ends_with("backend/core/token_storage.py"), "{last}");
}

#[test]
fn github_annotations_have_the_workflow_command_form() {
    let output = run(&["scan", &fixture_path(), "--format", "github"]);
    let text = stdout(&output);
    let annotations: Vec<&str> = text.lines().filter(|line| line.starts_with("::error ") || line.starts_with("::warning ")).collect();
    assert!(annotations.iter().any(|line| line.starts_with("::warning ")), "warnings are annotated as warnings");
    for line in &annotations {
        let (properties, message) =
            line.trim_start_matches("::error ").trim_start_matches("::warning ").split_once("::").expect("command form");
        assert!(properties.starts_with("file=fixtures/python-fastapi/backend/"), "{line}");
        assert!(properties.contains(",line=") && properties.contains(",col=") && properties.contains(",endColumn="), "{line}");
        assert!(properties.contains("title=OA0") || properties.contains("title=OA1"), "{line}");
        assert!(!message.contains('\n') && !message.contains('\r'));
    }
    assert!(text.lines().last().expect("summary").starts_with("::notice title=oauth-audit::"));
}

#[test]
fn github_and_sarif_paths_are_relative_to_the_working_directory_when_the_root_is_inside_it() {
    let root = fixture("python-fastapi");
    let inside = common::oauth_audit().current_dir(&root).args(["scan", ".", "--format", "github"]).output().expect("runs");
    let first = stdout(&inside).lines().find(|line| line.starts_with("::error ")).map(String::from).expect("an annotation");
    assert!(first.starts_with("::error file=backend/"), "{first}");
    let parent = root.parent().expect("fixtures").to_path_buf();
    let above = common::oauth_audit().current_dir(&parent).args(["scan", "python-fastapi", "--format", "sarif"]).output().expect("runs");
    let sarif: serde_json::Value = serde_json::from_slice(&above.stdout).expect("SARIF");
    let uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().expect("uri");
    assert!(uri.starts_with("python-fastapi/backend/"), "{uri}");
    let base = sarif["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"].as_str().expect("base");
    assert!(base.ends_with("/fixtures/"), "{base}");
}

#[test]
fn github_escapes_paths_and_messages_that_need_it() {
    let folder = tempfile::tempdir().expect("temp dir");
    let code = "import requests\n\ndef f(u):\n    r = requests.get(u)\n    return r.json()\n";
    std::fs::write(folder.path().join("a,b:c%.py"), code).expect("write");
    let text = stdout(&run(&["scan", folder.path().to_str().expect("path"), "--format", "github"]));
    let line = text.lines().find(|line| line.starts_with("::error ")).expect("an annotation");
    assert!(line.starts_with("::error file=a%2Cb%3Ac%25.py,line=5,col=12,"), "{line}");
}

#[test]
fn colour_is_forced_or_disabled_on_request() {
    let coloured = stdout(&run(&["scan", &fixture_path(), "--color", "always"]));
    assert!(coloured.contains("\x1b[31mOA001"), "colour on request");
    // Not a terminal: auto means no colour.
    let auto = stdout(&run(&["scan", &fixture_path()]));
    assert!(!auto.contains('\x1b'));
    let no_color = common::oauth_audit().env("NO_COLOR", "1").args(["scan", &fixture_path()]).output().expect("runs");
    assert!(!stdout(&no_color).contains('\x1b'));
}

#[test]
fn output_file_receives_the_report() {
    let folder = tempfile::tempdir().expect("temp dir");
    let target = folder.path().join("report.json");
    let output = run(&["scan", &fixture_path(), "--format", "json", "--output", target.to_str().expect("path")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "nothing on stdout when writing a file");
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&target).expect("written")).expect("JSON");
    assert_eq!(written["schema"], "oauth-audit/report@1");
    let leftovers: Vec<_> = std::fs::read_dir(folder.path()).expect("dir").filter_map(Result::ok).map(|entry| entry.file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind: {leftovers:?}");
}
