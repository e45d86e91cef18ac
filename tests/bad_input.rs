//! Bad input never stops a scan: unreadable, oversized, binary and non-UTF-8 files are
//! listed as skipped with the reason; syntax errors are analysed as far as they parse;
//! usage, configuration and output errors exit 2 naming the file and the problem.

mod common;

use common::{json_report, run, stderr, stdout, write_file};

const UNGUARDED: &str =
    "import httpx\n\nasync def fetch(url):\n    response = await httpx.AsyncClient().get(url)\n    return response.json()\n";

fn skipped_reason(report: &serde_json::Value, file: &str) -> Option<String> {
    report["skipped"].as_array()?.iter().find(|entry| entry["file"] == file).map(|entry| entry["reason"].as_str().unwrap_or("").to_string())
}

#[test]
fn unreadable_files_are_skipped_with_reasons_and_the_rest_is_scanned() {
    let folder = tempfile::tempdir().expect("temp dir");
    let root = folder.path();
    write_file(root, "notion_service.py", UNGUARDED.as_bytes());
    write_file(root, "binary_blob.py", b"import x\n\0\0\0binary");
    write_file(root, "latin1.py", b"# caf\xe9\nx = 1\n");
    let mut big = String::from("x = 1\n");
    while big.len() < 2_100_000 {
        big.push_str("value = response_data.get('access_token')  # padding\n");
    }
    write_file(root, "huge_module.py", big.as_bytes());
    write_file(root, "empty.py", b"");
    let report = json_report(&[root.to_str().expect("path")]);
    assert!(skipped_reason(&report, "binary_blob.py").expect("binary skipped").contains("binary"));
    assert!(skipped_reason(&report, "latin1.py").expect("latin-1 skipped").contains("not valid UTF-8 (invalid byte at offset 5)"));
    assert!(skipped_reason(&report, "huge_module.py").expect("huge skipped").contains("over the 2000000 byte limit"));
    assert_eq!(report["summary"]["files_skipped"], 3);
    assert_eq!(report["summary"]["files_scanned"], 2, "notion_service.py and empty.py");
    assert_eq!(report["findings"][0]["file"], "notion_service.py");
    assert_eq!(report["findings"][0]["integration"], "notion");
}

#[test]
fn a_50_mb_file_is_skipped_without_being_read() {
    let folder = tempfile::tempdir().expect("temp dir");
    write_file(folder.path(), "notion_service.py", UNGUARDED.as_bytes());
    let huge = std::fs::File::create(folder.path().join("generated_client.py")).expect("create");
    huge.set_len(50 * 1024 * 1024).expect("a sparse 50 MB file");
    let report = json_report(&[folder.path().to_str().expect("path")]);
    assert!(skipped_reason(&report, "generated_client.py").expect("skipped").contains("52428800 bytes, over the 2000000 byte limit"));
    assert_eq!(report["findings"][0]["file"], "notion_service.py", "the rest is scanned");
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_reported_and_the_rest_is_scanned() {
    let folder = tempfile::tempdir().expect("temp dir");
    let root = folder.path();
    write_file(root, "app/notion_service.py", UNGUARDED.as_bytes());
    // A folder linking back to its parent, and two files linking to each other.
    std::os::unix::fs::symlink(root.join("app"), root.join("app/again")).expect("folder loop");
    std::os::unix::fs::symlink(root.join("app/b.py"), root.join("app/a.py")).expect("link a");
    std::os::unix::fs::symlink(root.join("app/a.py"), root.join("app/b.py")).expect("link b");
    let output = run(&["scan", root.to_str().expect("path"), "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let skipped: Vec<String> =
        report["skipped"].as_array().expect("skipped").iter().map(|entry| format!("{}: {}", entry["file"], entry["reason"])).collect();
    assert!(skipped.iter().any(|entry| entry.starts_with("\"app/again\": ") && entry.contains("loop")), "{skipped:#?}");
    assert!(skipped.iter().any(|entry| entry.contains("a.py")), "{skipped:#?}");
    let files: Vec<&str> = report["findings"].as_array().expect("findings").iter().filter_map(|finding| finding["file"].as_str()).collect();
    assert_eq!(files, vec!["app/notion_service.py"]);
}

#[test]
fn the_size_limit_is_configurable() {
    let folder = tempfile::tempdir().expect("temp dir");
    write_file(folder.path(), "notion_service.py", UNGUARDED.as_bytes());
    write_file(folder.path(), "oauth-audit.toml", b"[scan]\nmax_file_size = 10\n");
    let report = json_report(&[folder.path().to_str().expect("path")]);
    assert!(skipped_reason(&report, "notion_service.py").expect("skipped").contains("over the 10 byte limit"));
}

#[test]
fn syntax_errors_do_not_skip_a_file() {
    let folder = tempfile::tempdir().expect("temp dir");
    let broken = format!(
        "{UNGUARDED}\n\ndef broken(:\n    return (1,\n\nasync def later(client):\n    resp = await client.get('/x')\n    return resp.json()\n"
    );
    write_file(folder.path(), "zoom_service.py", broken.as_bytes());
    let path = folder.path().to_str().expect("path");
    let report = json_report(&[path]);
    assert_eq!(report["summary"]["files_skipped"], 0);
    let lines: Vec<u64> =
        report["findings"].as_array().expect("findings").iter().map(|finding| finding["line"].as_u64().expect("line")).collect();
    assert!(lines.contains(&5), "the site before the error is reported: {lines:?}");
    let text = stdout(&run(&["scan", path, "--color", "never"]));
    assert!(text.contains("warning: zoom_service.py:"), "{text}");
    assert!(text.contains("syntax error"), "{text}");
}

#[test]
fn pathological_nesting_does_not_crash() {
    let folder = tempfile::tempdir().expect("temp dir");
    // A million-deep parenthesis fits the 2 MB limit; so do 50,000 elifs.
    let depth = 300_000;
    let nested = format!("x = {}1{}\nresponse = requests.get(u)\ndata = response.json()\n", "(".repeat(depth), ")".repeat(depth));
    write_file(folder.path(), "deep.py", format!("import requests\n{nested}").as_bytes());
    let calls = 20_000;
    let deep_calls = format!("import requests\nresp = requests.get(u)\nv = {}resp.json(){}\n", "f(".repeat(calls), ")".repeat(calls));
    write_file(folder.path(), "deep_calls.py", deep_calls.as_bytes());
    let mut elifs = String::from("import requests\nr = requests.get(u)\nif a == 0:\n    pass\n");
    for index in 1..50_000 {
        elifs.push_str(&format!("elif a == {index}:\n    pass\n"));
    }
    elifs.push_str("else:\n    x = r.json()\n");
    write_file(folder.path(), "elifs.py", elifs.as_bytes());
    let garbage: Vec<u8> = (0..20_000u32).map(|index| b"(){}[]:.,\n json \" ' # ="[(index * 7 % 19) as usize]).collect();
    write_file(folder.path(), "garbage.py", &garbage);
    let output = run(&["scan", folder.path().to_str().expect("path"), "--format", "json"]);
    assert!(matches!(output.status.code(), Some(0 | 1)), "exit {:?}: {}", output.status.code(), stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["summary"]["files_scanned"], 4);
    let files: Vec<&str> = report["findings"].as_array().expect("findings").iter().filter_map(|finding| finding["file"].as_str()).collect();
    assert!(files.contains(&"deep.py"), "the site after the deep expression is still found: {files:?}");
    assert!(files.contains(&"elifs.py"), "the site at the end of the elif chain is still found: {files:?}");
    // Past the depth limit a deep call is kept as an opaque expression: no crash, no finding.
    assert!(!files.contains(&"deep_calls.py"), "{files:?}");
}

#[test]
fn a_missing_path_is_a_usage_error_naming_it() {
    let output = run(&["scan", "/definitely/not/here"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("/definitely/not/here: no such file or folder"), "{}", stderr(&output));
}

#[test]
fn a_bad_config_names_the_file_line_and_problem() {
    let folder = tempfile::tempdir().expect("temp dir");
    write_file(folder.path(), "notion_service.py", UNGUARDED.as_bytes());
    write_file(folder.path(), "oauth-audit.toml", b"[guards]\nreturning = [\"a\"]\nraising = \"not a list\"\n");
    let output = run(&["scan", folder.path().to_str().expect("path")]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("oauth-audit.toml:3:11:"), "{message}");
    assert!(message.contains("expected a sequence") || message.contains("invalid type"), "{message}");

    write_file(folder.path(), "oauth-audit.toml", b"[guards]\nhelpers = [\"a\"]\n");
    let message = stderr(&run(&["scan", folder.path().to_str().expect("path")]));
    assert!(message.contains("oauth-audit.toml:2:1:") && message.contains("unknown field `helpers`"), "{message}");

    write_file(folder.path(), "oauth-audit.toml", b"[guards\n");
    let output = run(&["scan", folder.path().to_str().expect("path")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("oauth-audit.toml:1:"), "{}", stderr(&output));

    let output = run(&["scan", folder.path().to_str().expect("path"), "--config", "/nope/custom.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("/nope/custom.toml: cannot read the configuration"), "{}", stderr(&output));
}

#[test]
fn an_unwritable_output_is_an_error_naming_it() {
    let folder = tempfile::tempdir().expect("temp dir");
    write_file(folder.path(), "notion_service.py", UNGUARDED.as_bytes());
    let output = run(&["scan", folder.path().to_str().expect("path"), "--output", "/nonexistent-folder/report.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("/nonexistent-folder/report.json: cannot write the report"), "{}", stderr(&output));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["scan", ".", "--format", "yaml"]).status.code(), Some(2));
    let output = run(&["scan", ".", "--rule", "OA999"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unknown rule \"OA999\""));
    assert_eq!(run(&["scan", ".", "--min-coverage", "120"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn gitignored_hidden_and_dependency_folders_are_not_scanned() {
    let folder = tempfile::tempdir().expect("temp dir");
    let root = folder.path();
    write_file(root, "app/notion_service.py", UNGUARDED.as_bytes());
    write_file(root, ".gitignore", b"generated/\n");
    write_file(root, "generated/hubspot_client.py", UNGUARDED.as_bytes());
    write_file(root, "node_modules/pkg/slack.py", UNGUARDED.as_bytes());
    write_file(root, ".hidden/zoom.py", UNGUARDED.as_bytes());
    write_file(root, "venv/lib/python3.11/site-packages/x/zoom.py", UNGUARDED.as_bytes());
    write_file(root, "myenv/pyvenv.cfg", b"home = /usr\n");
    write_file(root, "myenv/lib/trello.py", UNGUARDED.as_bytes());
    let report = json_report(&[root.to_str().expect("path")]);
    let files: Vec<&str> = report["findings"].as_array().expect("findings").iter().filter_map(|finding| finding["file"].as_str()).collect();
    assert_eq!(files, vec!["app/notion_service.py"]);
    assert_eq!(report["summary"]["files_scanned"], 1);
}

#[test]
fn a_rust_file_syn_cannot_parse_is_skipped_with_its_position_and_the_rest_is_scanned() {
    let folder = tempfile::tempdir().expect("temp dir");
    let root = folder.path();
    write_file(root, "broken.rs", b"fn exchange() {\n    let token = resp.json();\n    let y = ;\n}\n");
    write_file(
        root,
        "notion.rs",
        b"async fn exchange(client: reqwest::Client) -> Result<Token, Error> {\n    let resp = client.post(URL).send().await?;\n    Ok(resp.json::<Token>().await?)\n}\n",
    );
    let report = json_report(&[root.to_str().expect("path")]);
    let reason = skipped_reason(&report, "broken.rs").expect("broken.rs is listed as skipped");
    assert!(reason.contains("line 3, column 13"), "{reason}");
    let findings = report["findings"].as_array().expect("findings");
    assert!(
        findings.iter().any(|finding| finding["file"] == "notion.rs" && finding["code"] == "OA001" && finding["line"] == 3),
        "{findings:#?}"
    );
}
