//! The commands besides scanning, exit codes and thresholds, suppressions and config.

mod common;

use common::{fixture, json_report, run, stderr, stdout};

const UNGUARDED: &str =
    "import httpx\n\nasync def fetch(url):\n    response = await httpx.AsyncClient().get(url)\n    return response.json()\n";

#[test]
fn rules_lists_every_rule() {
    let output = run(&["rules"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.lines().any(|line| line.starts_with("OA001   unguarded-json       html_guard         error     yes")), "{text}");
    assert!(text.lines().any(|line| line.starts_with("OA102   state-not-validated  -                  warning   no")), "{text}");
    let listed: serde_json::Value = serde_json::from_slice(&run(&["rules", "--json"]).stdout).expect("JSON");
    let codes: Vec<&str> = listed.as_array().expect("rules").iter().filter_map(|rule| rule["code"].as_str()).collect();
    assert_eq!(codes, vec!["OA001", "OA002", "OA003", "OA004", "OA101", "OA102", "OA103"]);
    assert_eq!(listed[0]["fixable"], true);
    // Every rule explains itself in the fixed sections.
    for code in codes {
        let text = stdout(&run(&["explain", code]));
        for section in
            ["### What it does", "### Why is this bad?", "### Example", "### Use instead", "### How to suppress", "### Fix safety"]
        {
            assert!(text.contains(section), "{code} lacks {section}");
        }
    }
}

#[test]
fn explain_prints_the_rule_documentation() {
    for id in ["OA001", "unguarded-json", "oa001"] {
        let output = run(&["explain", id]);
        assert_eq!(output.status.code(), Some(0));
        let text = stdout(&output);
        for section in
            ["### What it does", "### Why is this bad?", "### Example", "### Use instead", "### How to suppress", "check_html_response"]
        {
            assert!(text.contains(section), "{id}: missing {section}");
        }
    }
    let output = run(&["explain", "OA999"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unknown rule"));
}

#[test]
fn fail_on_and_min_coverage_decide_the_exit_status() {
    let folder = tempfile::tempdir().expect("temp dir");
    std::fs::write(folder.path().join("notion_service.py"), UNGUARDED).expect("write");
    let path = folder.path().to_str().expect("path");
    assert_eq!(run(&["scan", path]).status.code(), Some(1));
    assert_eq!(run(&["scan", path, "--fail-on", "warning"]).status.code(), Some(1));
    assert_eq!(run(&["scan", path, "--fail-on", "never"]).status.code(), Some(0));
    let output = run(&["scan", path, "--fail-on", "never", "--min-coverage", "50"]);
    assert_eq!(output.status.code(), Some(1), "no integration is complete: 0% < 50%");
    assert!(stderr(&output).contains("coverage 0.0% is below --min-coverage 50.0%"));
    assert_eq!(run(&["scan", path, "--fail-on", "never", "--min-coverage", "0"]).status.code(), Some(0));

    let clean = tempfile::tempdir().expect("temp dir");
    std::fs::write(clean.path().join("models.py"), "class Token:\n    pass\n").expect("write");
    assert_eq!(run(&["scan", clean.path().to_str().expect("path")]).status.code(), Some(0));
}

#[test]
fn suppressions_silence_a_site_and_are_counted() {
    let folder = tempfile::tempdir().expect("temp dir");
    let code = "import requests\n\n\
def a(url):\n    r = requests.get(url)\n    # oauth-audit: ignore[unguarded-json] -- provider always sends JSON\n    return r.json()\n\n\
def b(url):\n    r = requests.get(url)\n    return r.json()  # oauth-audit: ignore\n\n\
def c(url):\n    r = requests.get(url)\n    # oauth-audit: ignore[callback-no-persist]\n    return r.json()\n";
    std::fs::write(folder.path().join("zoom_client.py"), code).expect("write");
    let report = json_report(&[folder.path().to_str().expect("path")]);
    assert_eq!(report["summary"]["findings"]["suppressed"], 2);
    let lines: Vec<u64> =
        report["findings"].as_array().expect("findings").iter().map(|finding| finding["line"].as_u64().expect("line")).collect();
    assert_eq!(lines, vec![15], "a suppression of another rule does not apply");
}

#[test]
fn rule_and_integration_filters() {
    let path = fixture("python-fastapi");
    let path = path.to_str().expect("path");
    let notion = json_report(&[path, "--integration", "notion"]);
    let integrations: Vec<&str> =
        notion["integrations"].as_array().expect("list").iter().filter_map(|integration| integration["name"].as_str()).collect();
    assert_eq!(integrations, vec!["notion"]);
    assert!(notion["findings"].as_array().expect("findings").iter().all(|finding| finding["integration"] == "notion"));
    assert!(!notion["findings"].as_array().expect("findings").is_empty());
    let by_slug = json_report(&[path, "--rule", "unguarded-json"]);
    let by_code = json_report(&[path, "--rule", "OA001"]);
    assert_eq!(by_slug["findings"], by_code["findings"]);
    // The selected rule still runs: filtering keeps every finding of it, and only those.
    let all = json_report(&[path]);
    let oa001: Vec<&serde_json::Value> =
        all["findings"].as_array().expect("findings").iter().filter(|finding| finding["code"] == "OA001").collect();
    assert!(oa001.len() < all["findings"].as_array().expect("findings").len(), "other rules report too");
    assert_eq!(by_slug["findings"].as_array().expect("findings").iter().collect::<Vec<_>>(), oa001);
    assert!(by_slug["summary"]["findings"]["by_rule"]["unguarded-json"].as_u64().expect("count") > 0);
}

#[test]
fn config_is_found_from_the_scan_root_upward_and_extends_the_defaults() {
    let folder = tempfile::tempdir().expect("temp dir");
    let code = "import httpx\n\nasync def fetch(client: httpx.AsyncClient, url):\n    response = await client.get(url)\n    assert_json_body(response)\n    return response.json()\n";
    std::fs::create_dir_all(folder.path().join("src")).expect("mkdir");
    std::fs::write(folder.path().join("src/acme_service.py"), code).expect("write");
    let src = folder.path().join("src");
    let before = json_report(&[src.to_str().expect("path")]);
    assert_eq!(before["findings"].as_array().expect("findings").len(), 1);
    std::fs::write(folder.path().join("oauth-audit.toml"), "[guards]\nraising = [\"assert_json_body\"]\n[providers]\nknown = [\"acme\"]\n")
        .expect("write");
    let after = json_report(&[src.to_str().expect("path")]);
    assert_eq!(after["findings"].as_array().expect("findings").len(), 0, "the raising helper from the parent folder's config guards");
    assert_eq!(after["integrations"][0]["name"], "acme");
    assert_eq!(after["integrations"][0]["steps"]["html_guard"]["done"], 1);
}

#[test]
fn unknown_providers_come_from_callbacks_and_router_prefixes_join_files_to_them() {
    let folder = tempfile::tempdir().expect("temp dir");
    let root = folder.path();
    std::fs::create_dir_all(root.join("app/routes")).expect("mkdir");
    let write = |name: &str, text: &str| std::fs::write(root.join("app/routes").join(name), text).expect("write");
    // No provider in the name or folder: the segment before `/callback` names it, after the
    // router's generic prefix.
    write(
        "oauth_routes.py",
        "import requests\nfrom fastapi import APIRouter\nrouter = APIRouter(prefix=\"/api/integrations\")\n\n\
@router.get(\"/acme/callback\")\ndef acme_callback(code: str):\n    return requests.post(\"https://acme.example/token\", data={\"code\": code}).json()\n",
    );
    // An exchange endpoint without `callback` in its path: its router prefix names the provider.
    write(
        "globex_connect.py",
        "import requests\nfrom fastapi import APIRouter\nrouter = APIRouter(prefix=\"/api/globex-crm\")\n\n\
@router.get(\"/connect/complete\")\ndef complete(code: str):\n    return requests.post(\"https://globex.example/token\", data={\"code\": code}).json()\n",
    );
    // Data routes join the providers callbacks named, by their router prefix.
    let data = |prefix: &str| {
        format!(
            "import requests\nfrom flask import Blueprint\nbp = Blueprint(\"data\", __name__, url_prefix=\"{prefix}\")\n\n\
@bp.route(\"/items\")\ndef items():\n    return requests.get(\"https://data.example/items\").json()\n"
        )
    };
    write("crm.py", &data("/api/globex-crm/v2"));
    write("items.py", &data("/api/acme"));
    // A prefix no callback names is a resource, not a provider.
    write("channels.py", &data("/api/v1/channels"));
    let groups = |report: &serde_json::Value| -> Vec<(String, Vec<String>)> {
        report["integrations"]
            .as_array()
            .expect("integrations")
            .iter()
            .map(|integration| {
                let files = integration["files"].as_array().expect("files").iter().map(|file| file.as_str().expect("file").to_string());
                (integration["name"].as_str().expect("name").to_string(), files.collect())
            })
            .collect()
    };
    let report = json_report(&[root.to_str().expect("path")]);
    let group = |name: &str, files: &[&str]| (name.to_string(), files.iter().map(|file| format!("app/routes/{file}")).collect::<Vec<_>>());
    let expected = vec![group("acme", &["items.py", "oauth_routes.py"]), group("globex_crm", &["crm.py", "globex_connect.py"])];
    assert_eq!(groups(&report), expected);
    // The grouping does not depend on which rules run: with OA001 alone the exchange
    // endpoint is still found and still names its provider.
    let oa001_only = json_report(&[root.to_str().expect("path"), "--rule", "unguarded-json"]);
    assert_eq!(groups(&oa001_only), expected);
    assert!(
        oa001_only["integrations"]
            .as_array()
            .expect("integrations")
            .iter()
            .all(|integration| integration["callbacks"] == serde_json::json!([]))
    );
    // The channels finding is still reported, in no integration.
    let channels: Vec<&serde_json::Value> =
        report["findings"].as_array().expect("findings").iter().filter(|finding| finding["file"] == "app/routes/channels.py").collect();
    assert_eq!(channels.len(), 1, "{:#?}", report["findings"]);
    assert!(channels[0]["integration"].is_null(), "{:#?}", channels[0]);
}
