//! `--baseline`: new and fixed findings by fingerprint on an edited copy of the fixture, a
//! pure line move that changes nothing, `--fail-on new`, bad baselines; and the Markdown
//! dashboard.

mod common;

use std::path::Path;

use common::{fixture, run, stderr, stdout, string_pairs};

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn edit(path: &Path, change: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).expect("read");
    std::fs::write(path, change(text)).expect("write");
}

fn scan_json(root: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["scan", root.to_str().expect("path"), "--format", "json"];
    args.extend_from_slice(extra);
    let output = run(&args);
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{error}: {}", stderr(&output)));
    (output.status.code(), report)
}

fn fingerprints(findings: &serde_json::Value) -> Vec<(String, u64)> {
    findings
        .as_array()
        .expect("array")
        .iter()
        .map(|finding| (finding["file"].as_str().expect("file").to_string(), finding["line"].as_u64().expect("line")))
        .collect()
}

#[test]
fn new_and_fixed_findings_survive_line_moves() {
    let folder = tempfile::tempdir().expect("temp dir");
    let root = folder.path().join("code");
    std::fs::create_dir_all(&root).expect("mkdir");
    copy_tree(&fixture("python-fastapi"), &root);
    let baseline = folder.path().join("baseline.json");
    let (_, before) = scan_json(&root, &[]);
    std::fs::write(&baseline, serde_json::to_string(&before).expect("JSON")).expect("write");
    let baseline_arg = baseline.to_str().expect("path").to_string();

    // A pure move: lines added above every finding of a file. Nothing is new or fixed.
    edit(&root.join("backend/integrations/notion_service.py"), |text| format!("# moved down\n\n\n{text}"));
    let (code, moved) = scan_json(&root, &["--baseline", &baseline_arg, "--fail-on", "new"]);
    assert_eq!(code, Some(0), "no new finding: --fail-on new passes");
    assert_eq!(moved["delta"]["new"], serde_json::json!([]), "{:#}", moved["delta"]);
    assert_eq!(moved["delta"]["fixed"], serde_json::json!([]));
    assert_eq!(moved["summary"]["findings"]["total"], before["summary"]["findings"]["total"]);

    // Fix one site (the chained call in search), add two identical unguarded ones.
    edit(&root.join("backend/integrations/notion_service.py"), |text| {
        let fixed = text.replacen("(await self.client.get(", "(await self.client.get_text(", 1);
        assert_ne!(fixed, text, "the fixture still has the chained call");
        format!(
            "{fixed}\n\nasync def extra(client, url):\n    first = await client.get(url)\n    return first.json()\n\n\nasync def extra_again(client, url):\n    first = await client.get(url)\n    return first.json()\n"
        )
    });
    let (code, after) = scan_json(&root, &["--baseline", &baseline_arg, "--fail-on", "new"]);
    assert_eq!(code, Some(1), "new findings fail --fail-on new");
    let delta = &after["delta"];
    assert_eq!(delta["baseline"], baseline_arg);
    let new = fingerprints(&delta["new"]);
    assert_eq!(new.len(), 2, "two identical new findings are two: {new:?}");
    assert!(new.iter().all(|(file, _)| file == "backend/integrations/notion_service.py"));
    let fixed = fingerprints(&delta["fixed"]);
    assert_eq!(fixed.len(), 1, "{fixed:?}");
    assert_eq!(fixed[0].0, "backend/integrations/notion_service.py");
    assert_eq!(
        delta["findings"],
        serde_json::json!({"before": before["summary"]["findings"]["total"], "after": after["summary"]["findings"]["total"]})
    );
    assert_eq!(delta["percent_complete"]["before"], before["summary"]["percent_complete"]);

    // The same comparison in text and Markdown.
    let text = stdout(&run(&["scan", root.to_str().expect("path"), "--baseline", &baseline_arg, "--color", "never"]));
    assert!(text.contains("2 new, 1 fixed"), "{text}");
    let markdown = stdout(&run(&["scan", root.to_str().expect("path"), "--baseline", &baseline_arg, "--format", "markdown"]));
    assert!(markdown.contains("2 new, 1 fixed."), "{markdown}");
    assert!(markdown.contains("\nNew:\n- `backend/integrations/notion_service.py:"), "{markdown}");

    // Finish two steps: HubSpot's callback starts the sync after its service stores the
    // tokens (OA003 fixed), and Intercom's last unguarded site is reviewed and suppressed,
    // which completes Intercom: the percentage moves.
    edit(&root.join("backend/api/routes/integrations/hubspot_routes.py"), |text| {
        let synced = text.replacen(
            "    logger.info(\"HubSpot connected",
            "    await trigger_historical_sync_on_connection(integration_id=\"hubspot\", user_id=current_user.id, tenant_id=current_tenant.id, db=None)\n    logger.info(\"HubSpot connected",
            1,
        );
        assert_ne!(synced, text);
        synced.replacen(
            "from core.database import get_db\n",
            "from core.database import get_db\nfrom core.oauth_utils import trigger_historical_sync_on_connection\n",
            1,
        )
    });
    edit(&root.join("backend/connectors/intercom/client.py"), |text| {
        let reviewed = text.replacen(
            "        return response.json()",
            "        # oauth-audit: ignore[unguarded-json] -- usage API answers JSON or 204\n        return response.json()",
            1,
        );
        assert_ne!(reviewed, text);
        reviewed
    });
    let (_, finished) = scan_json(&root, &["--baseline", &baseline_arg]);
    let delta = &finished["delta"];
    assert_eq!(delta["percent_complete"], serde_json::json!({"before": 7.7, "after": 15.4}), "{delta:#}");
    assert_eq!(delta["complete"], serde_json::json!({"before": 1, "after": 2}));
    let fixed = string_pairs(&delta["fixed"], "code", "file");
    assert!(fixed.contains(&("OA003".to_string(), "backend/api/routes/integrations/hubspot_routes.py".to_string())), "{fixed:?}");
    assert!(fixed.contains(&("OA001".to_string(), "backend/connectors/intercom/client.py".to_string())), "{fixed:?}");
    let intercom = finished["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .find(|integration| integration["name"] == "intercom")
        .expect("intercom");
    assert_eq!(intercom["status"], "complete");
}

#[test]
fn bad_baselines_and_fail_on_new_without_one_are_usage_errors() {
    let folder = tempfile::tempdir().expect("temp dir");
    let path = fixture("python-fastapi");
    let path = path.to_str().expect("path");
    let output = run(&["scan", path, "--fail-on", "new"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--fail-on new needs --baseline"), "{}", stderr(&output));

    let missing = folder.path().join("missing.json");
    let output = run(&["scan", path, "--baseline", missing.to_str().expect("path")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("missing.json: cannot read the baseline"), "{}", stderr(&output));

    let wrong = folder.path().join("sarif.json");
    std::fs::write(&wrong, stdout(&run(&["scan", path, "--format", "sarif"]))).expect("write");
    let output = run(&["scan", path, "--baseline", wrong.to_str().expect("path")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("sarif.json: not an oauth-audit JSON report"), "{}", stderr(&output));
}

#[test]
fn markdown_dashboard_snapshot() {
    let output = run(&["scan", fixture("python-fastapi").to_str().expect("path"), "--format", "markdown"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.starts_with("## oauth-audit: 1/13 integrations complete (7.7%)"), "{text}");
    insta::assert_snapshot!("python_fastapi_markdown", text);
}
