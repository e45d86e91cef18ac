//! Every `# expect:` marker in the Python fixture holds: each expected OA001 site is
//! reported at its line with its confidence, and nothing else is.

mod common;

use std::collections::BTreeMap;

use common::{Expect, fixture, json_report, markers, rule_markers};

fn findings_by_line(report: &serde_json::Value) -> BTreeMap<(String, usize), String> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|finding| finding["code"] == "OA001")
        .map(|finding| {
            let key = (finding["file"].as_str().expect("file").to_string(), finding["line"].as_u64().expect("line") as usize);
            (key, finding["confidence"].as_str().expect("confidence").to_string())
        })
        .collect()
}

#[test]
fn every_expected_oa001_verdict_holds_in_the_fastapi_codebase() {
    expected_verdicts_hold("python-fastapi", 25);
}

/// One folder per case, from an adversarial review: guards nested in `with`/`try`/`elif`,
/// polarity of content-type tests, aiohttp exception types, inherited wrappers, module and
/// class-level clients, f-strings, `match`, suppression forms, CRLF, BOM, tabs.
#[test]
fn every_expected_oa001_verdict_holds_in_the_edge_cases() {
    expected_verdicts_hold("python-oa001-cases", 40);
}

fn expected_verdicts_hold(name: &str, minimum_sites: usize) {
    let root = fixture(name);
    let expected = markers(&root);
    let expected_findings: BTreeMap<(String, usize), String> = expected
        .iter()
        .filter_map(|(key, expect)| match expect {
            Expect::Finding(confidence) => Some((key.clone(), confidence.clone())),
            _ => None,
        })
        .collect();
    assert!(expected_findings.len() >= minimum_sites, "the fixture carries its expected sites");
    let report = json_report(&[root.to_str().expect("path")]);
    let found = findings_by_line(&report);
    // One finding per place: a site reported twice would hide in the map above.
    let mut places: Vec<(String, u64, u64, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|finding| {
            (
                finding["file"].as_str().unwrap_or("").to_string(),
                finding["line"].as_u64().unwrap_or(0),
                finding["column"].as_u64().unwrap_or(0),
                finding["code"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let total = places.len();
    places.sort();
    places.dedup();
    assert_eq!(places.len(), total, "a place is reported at most once per rule");

    let missing: Vec<_> = expected_findings.iter().filter(|(key, confidence)| found.get(*key) != Some(confidence)).collect();
    let unexpected: Vec<_> = found.iter().filter(|(key, _)| !expected_findings.contains_key(*key)).collect();
    assert!(missing.is_empty(), "expected but not reported (or wrong confidence): {missing:#?}\nreported: {found:#?}");
    assert!(unexpected.is_empty(), "reported but not expected: {unexpected:#?}");

    let suppressed = expected.values().filter(|expect| **expect == Expect::Suppressed).count();
    assert_eq!(report["summary"]["findings"]["suppressed"], suppressed as u64);
    // Every site is a site of the html_guard step: reported, suppressed or guarded.
    let oks = expected.values().filter(|expect| **expect == Expect::Ok).count();
    let total = report["summary"]["steps"]["html_guard"]["total"].as_u64().expect("total") as usize;
    assert!(total >= expected_findings.len() + suppressed, "steps count every site");
    assert!(total <= expected_findings.len() + suppressed + oks, "a site is never counted twice");
}

/// The callback and rollback rules: every `# expect: OA00x` marker is reported at its line
/// (with its confidence when the marker gives one), and nothing else is.
#[test]
fn every_expected_callback_and_rollback_verdict_holds_in_the_fastapi_codebase() {
    expected_rule_verdicts_hold("python-fastapi");
}

/// The Rust frontend: axum and actix-web handlers, reqwest and ureq responses, sqlx
/// transactions, persistence through a store module one file away.
#[test]
fn every_expected_verdict_holds_in_the_axum_codebase() {
    expected_verdicts_hold("rust-axum", 3);
    expected_rule_verdicts_hold("rust-axum");
}

/// The TypeScript frontend: Express routers mounted through two files with a React
/// callback page (seed 004), a NestJS module with injected services, a Supabase edge
/// function.
#[test]
fn every_expected_verdict_holds_in_the_typescript_codebases() {
    expected_verdicts_hold("typescript-express", 4);
    expected_rule_verdicts_of("typescript-express", &["OA003", "OA101", "OA102"], &[]);
    expected_verdicts_hold("nestjs", 0);
    expected_rule_verdicts_of("nestjs", &["OA102"], &[]);
    expected_verdicts_hold("supabase-edge", 1);
    expected_rule_verdicts_of("supabase-edge", &["OA003", "OA101", "OA102"], &[]);
}

/// Next.js forwards two callbacks to the FastAPI backend: its markers hold when both are
/// scanned together (the notion delegation reaches the backend route, the asana one is
/// OA103).
#[test]
fn every_expected_verdict_holds_in_the_nextjs_app_with_its_backend() {
    expected_rule_verdicts_of("nextjs", &["OA103"], &[fixture("python-fastapi")]);
    let root = fixture("nextjs");
    let expected = markers(&root);
    let report = json_report(&[root.to_str().expect("path"), fixture("python-fastapi").to_str().expect("path")]);
    let found: BTreeMap<(String, usize), String> = findings_by_line(&report)
        .into_iter()
        .filter_map(|((file, line), confidence)| Some(((file.strip_prefix("nextjs/")?.to_string(), line), confidence)))
        .collect();
    let wanted: BTreeMap<(String, usize), String> = expected
        .iter()
        .filter_map(|(key, expect)| match expect {
            Expect::Finding(confidence) => Some((key.clone(), confidence.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(found, wanted);
}

fn expected_rule_verdicts_hold(name: &str) {
    expected_rule_verdicts_of(name, &["OA002", "OA003", "OA004", "OA101", "OA102"], &[]);
}

/// The rule markers of fixture `name` hold, scanned with the `others` folders (whose
/// findings are left out); `codes` must each be marked somewhere.
fn expected_rule_verdicts_of(name: &str, codes: &[&str], others: &[std::path::PathBuf]) {
    let root = fixture(name);
    let expected = rule_markers(&root);
    for code in codes {
        assert!(expected.keys().any(|(_, _, marked)| marked == code), "the fixture carries {code} cases");
    }
    let mut args = vec![root.to_str().expect("path").to_string()];
    args.extend(others.iter().map(|other| other.to_str().expect("path").to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = json_report(&args);
    // Scanned with other folders, paths start with the fixture's own folder name.
    let prefix = if others.is_empty() { String::new() } else { format!("{name}/") };
    let found: BTreeMap<(String, usize, String), String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["code"] != "OA001")
        .filter_map(|finding| {
            let key = (
                finding["file"].as_str().expect("file").strip_prefix(prefix.as_str())?.to_string(),
                finding["line"].as_u64().expect("line") as usize,
                finding["code"].as_str().expect("code").to_string(),
            );
            Some((key, finding["confidence"].as_str().unwrap_or("").to_string()))
        })
        .collect();
    let missing: Vec<_> = expected
        .iter()
        .filter(|(key, confidence)| match (found.get(*key), confidence) {
            (None, _) => true,
            (Some(found), Some(confidence)) => found != confidence,
            (Some(_), None) => false,
        })
        .collect();
    let unexpected: Vec<_> = found.keys().filter(|key| !expected.contains_key(*key)).collect();
    assert!(missing.is_empty(), "expected but not reported (or wrong confidence): {missing:#?}");
    assert!(unexpected.is_empty(), "reported but not expected: {unexpected:#?}");
}

#[test]
fn test_files_are_excluded_by_default_and_found_with_include_tests() {
    let root = fixture("python-fastapi");
    let expected = markers(&root);
    let test_sites: Vec<&(String, usize)> =
        expected.iter().filter(|(_, expect)| **expect == Expect::TestSite).map(|(key, _)| key).collect();
    assert!(!test_sites.is_empty());
    let path = root.to_str().expect("path");

    let default = findings_by_line(&json_report(&[path]));
    for site in &test_sites {
        assert!(!default.contains_key(*site), "{site:?} is in a test file and excluded by default");
    }
    let with_tests = findings_by_line(&json_report(&[path, "--include-tests"]));
    for site in &test_sites {
        assert!(with_tests.contains_key(*site), "{site:?} is reported with --include-tests");
    }
}

#[test]
fn integrations_are_grouped_by_name_prefix_folder_and_config() {
    let report = json_report(&[fixture("python-fastapi").to_str().expect("path")]);
    let integrations: BTreeMap<String, Vec<String>> = report["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .map(|integration| {
            let files =
                integration["files"].as_array().expect("files").iter().map(|file| file.as_str().expect("file").to_string()).collect();
            (integration["name"].as_str().expect("name").to_string(), files)
        })
        .collect();
    let has = |name: &str, file: &str| integrations.get(name).is_some_and(|files| files.iter().any(|candidate| candidate == file));
    // File name.
    assert!(has("zoom", "backend/integrations/auth_handler_zoom.py"));
    assert!(has("google_calendar", "backend/integrations/google_calendar_service.py"));
    // Router prefix: a file whose name names no provider.
    assert!(has("slack", "backend/api/routes/integrations/integration_oauth_routes.py"));
    assert!(has("zoom", "backend/api/routes/meetings.py"));
    // Folder.
    assert!(has("intercom", "backend/connectors/intercom/client.py"));
    // The config's [integrations] table.
    assert!(has("calendly", "backend/legacy/cal_sched.py"));
    // Shared code belongs to no integration.
    assert!(!integrations.values().flatten().any(|file| file.starts_with("backend/core/")));
    assert!(integrations.len() >= 8, "{integrations:#?}");
}
