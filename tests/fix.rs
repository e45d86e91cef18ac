//! `oauth-audit fix`: the diffs on every fixture, what `--write` leaves behind (compiles,
//! re-scans clean, a second run changes nothing), per-integration patches, and the faults a
//! codemod must survive (CRLF, tabs, BOM, read-only files, files changed under it, kill -9).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fixture, oauth_audit, stdout, write_file};
use sha2::{Digest, Sha256};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("list folder") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn copy_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let folder = tempfile::tempdir().expect("tempdir");
    let root = folder.path().join(name);
    copy_tree(&fixture(name), &root);
    (folder, root)
}

/// Every file under `root` with the SHA-256 of its bytes.
fn hashes(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("list") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                let relative = path.strip_prefix(root).expect("inside").display().to_string();
                out.insert(relative, Sha256::digest(&bytes).iter().map(|byte| format!("{byte:02x}")).collect());
            }
        }
    }
    out
}

fn fix(args: &[&str]) -> std::process::Output {
    oauth_audit().arg("fix").args(args).output().expect("runs")
}

fn fix_json(args: &[&str]) -> serde_json::Value {
    let output = fix(&[args, &["--format", "json"]].concat());
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {}", stdout(&output)))
}

fn scan_json(root: &Path) -> serde_json::Value {
    let output = oauth_audit().args(["scan", "--format", "json"]).arg(root).output().expect("runs");
    serde_json::from_slice(&output.stdout).expect("JSON report")
}

fn python3() -> Option<PathBuf> {
    common::available("the py_compile checks", common::missing_tool("python3").as_deref()).then(|| PathBuf::from("python3"))
}

/// Python files under `root` that `python3 -m py_compile` accepts.
fn compiling_python_files(python: &Path, root: &Path) -> BTreeSet<String> {
    let files: Vec<String> = hashes(root).into_keys().filter(|path| path.ends_with(".py")).collect();
    let script = "import os, py_compile, sys, tempfile\nout = tempfile.mkdtemp()\nfor index, path in enumerate(sys.argv[1:]):\n    try:\n        py_compile.compile(path, cfile=os.path.join(out, f'{index}.pyc'), doraise=True)\n        print(path)\n    except py_compile.PyCompileError:\n        pass\n";
    let output = Command::new(python).arg("-c").arg(script).args(&files).current_dir(root).output().expect("python3 runs");
    assert!(output.status.success(), "py_compile script failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect()
}

fn fixable_findings(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|finding| finding["fixable"] == true)
        .map(|finding| format!("{} {}:{}", finding["code"], finding["file"], finding["line"]))
        .collect()
}

// ----- the diffs, per fixture -----------------------------------------------------------

#[test]
fn dry_run_diffs_on_every_fixture() {
    for name in ["python-fastapi", "python-oa001-cases", "rust-axum", "typescript-express", "nextjs", "nestjs", "supabase-edge"] {
        let (_folder, root) = copy_fixture(name);
        let before = hashes(&root);
        let output = fix(&[root.to_str().expect("utf-8"), "--color", "never"]);
        assert!(output.status.success(), "{name}: {}", common::stderr(&output));
        assert_eq!(hashes(&root), before, "{name}: a dry run changed files");
        insta::assert_snapshot!(format!("fix_diff_{name}"), stdout(&output));
    }
}

#[test]
fn json_output_lists_applied_and_skipped() {
    let report = fix_json(&[fixture("python-fastapi").to_str().expect("utf-8")]);
    assert_eq!(report["schema"], "oauth-audit/fix@1");
    assert_eq!(report["written"], false);
    let applied = report["applied"].as_array().expect("applied");
    assert!(applied.len() >= 30, "{} applied", applied.len());
    for entry in applied {
        assert!(entry["file"].is_string() && entry["line"].is_u64() && entry["rule"].is_string() && entry["code"].is_string(), "{entry}");
    }
    let skipped = report["skipped"].as_array().expect("skipped");
    assert!(!skipped.is_empty());
    for entry in skipped {
        assert!(entry["file"].is_string() && entry["line"].is_u64() && entry["rule"].is_string(), "{entry}");
        assert!(entry["reason"].as_str().is_some_and(|reason| !reason.is_empty()), "{entry}");
    }
    // Sites the scanner marks unfixable are exactly the ones skipped: OA001 sites `fix`
    // cannot patch safely, and an OA004 handler in a migration's ORM session.
    let scan = scan_json(&fixture("python-fastapi"));
    let unfixable: BTreeSet<(String, u64)> = scan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["fixable"] == false && (finding["code"] == "OA001" || finding["code"] == "OA004"))
        .map(|finding| (finding["file"].as_str().unwrap_or("").to_string(), finding["line"].as_u64().unwrap_or(0)))
        .collect();
    let skipped_sites: BTreeSet<(String, u64)> =
        skipped.iter().map(|entry| (entry["file"].as_str().unwrap_or("").to_string(), entry["line"].as_u64().unwrap_or(0))).collect();
    assert_eq!(unfixable, skipped_sites);
    assert!(report["files_changed"].as_u64().is_some_and(|count| count >= 15), "{}", report["files_changed"]);
}

#[test]
fn rules_and_integrations_narrow_the_run() {
    let root = fixture("python-fastapi");
    let report = fix_json(&[root.to_str().expect("utf-8"), "--rule", "OA004"]);
    let codes: BTreeSet<&str> = report["applied"].as_array().expect("applied").iter().filter_map(|entry| entry["code"].as_str()).collect();
    assert_eq!(codes, BTreeSet::from(["OA004"]));
    let report = fix_json(&[root.to_str().expect("utf-8"), "--integration", "zoom"]);
    let integrations: BTreeSet<&str> =
        report["applied"].as_array().expect("applied").iter().filter_map(|entry| entry["integration"].as_str()).collect();
    assert_eq!(integrations, BTreeSet::from(["zoom"]));
    let output = fix(&[root.to_str().expect("utf-8"), "--rule", "OA102"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(common::stderr(&output).contains("no automatic fix"), "{}", common::stderr(&output));
}

// ----- --write on copies of the fixtures -----------------------------------------------

#[test]
fn write_compiles_rescans_clean_and_is_idempotent() {
    let python = python3();
    for name in ["python-fastapi", "python-oa001-cases"] {
        let (_folder, root) = copy_fixture(name);
        let compiled_before = python.as_deref().map(|python| compiling_python_files(python, &root));
        let report = fix_json(&[root.to_str().expect("utf-8"), "--write"]);
        assert_eq!(report["written"], true);
        assert!(report["refused"].as_array().is_some_and(Vec::is_empty), "{name}: {}", report["refused"]);
        assert!(report["files_changed"].as_u64().is_some_and(|count| count > 0), "{name}");
        if let (Some(python), Some(before)) = (python.as_deref(), compiled_before) {
            let after = compiling_python_files(python, &root);
            let broken: Vec<&String> = before.difference(&after).collect();
            assert!(broken.is_empty(), "{name}: no longer compile after fix --write: {broken:?}");
        }
        let rescan = scan_json(&root);
        assert_eq!(fixable_findings(&rescan), Vec::<String>::new(), "{name}: fixable findings left");
        let written = hashes(&root);
        let again = fix_json(&[root.to_str().expect("utf-8"), "--write"]);
        assert_eq!(again["applied"].as_array().map(Vec::len), Some(0), "{name}: {}", again["applied"]);
        assert_eq!(hashes(&root), written, "{name}: a second fix --write changed bytes");
    }
}

/// `tsc --noEmit` (the TypeScript pinned in tests/node) over a copy of a TS fixture, with
/// tests/tsc/shims.d.ts declaring the third-party modules the fixtures import; `None`
/// when it passes, else its output.
fn type_errors(tsc: &Path, root: &Path) -> Option<String> {
    let shims = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tsc/shims.d.ts");
    let extends = if root.join("tsconfig.json").is_file() { "\"extends\": \"./tsconfig.json\"," } else { "" };
    let config = format!(
        r#"{{ {extends}
  "compilerOptions": {{
    "noEmit": true, "strict": false, "skipLibCheck": true, "jsx": "preserve", "target": "ES2022",
    "lib": ["ES2022", "DOM", "DOM.Iterable"], "module": "ESNext", "moduleResolution": "bundler",
    "allowImportingTsExtensions": true, "experimentalDecorators": true, "types": [], "baseUrl": "."
  }},
  "include": ["**/*.ts", "**/*.tsx", {shims:?}]
}}"#
    );
    let config_path = root.join("tsconfig.oauth-audit-check.json");
    std::fs::write(&config_path, config).expect("write tsconfig");
    let output = Command::new("node").arg(tsc).arg("-p").arg(&config_path).current_dir(root).output().expect("node runs tsc");
    std::fs::remove_file(&config_path).expect("remove tsconfig");
    (!output.status.success()).then(|| common::describe_failure("tsc --noEmit", &output))
}

#[test]
fn typescript_fixtures_type_check_rescan_clean_and_are_idempotent_after_write() {
    let tsc = match common::missing_tool("node").map_or_else(common::typescript_package, Err) {
        Ok(package) => Some(package.join("bin/tsc")),
        Err(problem) => {
            common::available("the tsc checks", Some(&problem));
            None
        }
    };
    for name in ["typescript-express", "nextjs", "nestjs", "supabase-edge"] {
        let (_folder, root) = copy_fixture(name);
        if let Some(tsc) = &tsc {
            assert_eq!(type_errors(tsc, &root), None, "{name}: the fixture does not type-check before the fix");
        }
        let report = fix_json(&[root.to_str().expect("utf-8"), "--write"]);
        assert!(report["refused"].as_array().is_some_and(Vec::is_empty), "{name}: {}", report["refused"]);
        // The NestJS fixture has nothing fixable (OA102 only).
        assert_eq!(report["files_changed"].as_u64().is_some_and(|count| count > 0), name != "nestjs", "{name}: {report}");
        if let Some(tsc) = &tsc {
            assert_eq!(type_errors(tsc, &root), None, "{name}: the fixed code does not type-check");
        }
        let written = hashes(&root);
        let again = fix_json(&[root.to_str().expect("utf-8"), "--write"]);
        assert_eq!(again["applied"].as_array().map(Vec::len), Some(0), "{name}: {}", again["applied"]);
        assert_eq!(fixable_findings(&scan_json(&root)), Vec::<String>::new(), "{name}: fixable findings left");
        assert_eq!(hashes(&root), written, "{name}: a second fix --write changed bytes");
    }
}

#[test]
fn patches_per_integration_apply_to_a_clean_copy() {
    let (_folder, root) = copy_fixture("python-fastapi");
    let patches = tempfile::tempdir().expect("tempdir");
    let output = fix(&[root.to_str().expect("utf-8"), "--patch-dir", patches.path().to_str().expect("utf-8"), "--color", "never"]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let report = scan_json(&root);
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for integration in report["integrations"].as_array().expect("integrations") {
        for file in integration["files"].as_array().into_iter().flatten() {
            owner.insert(file.as_str().unwrap_or("").to_string(), integration["name"].as_str().unwrap_or("").to_string());
        }
    }
    let mut names: Vec<String> = std::fs::read_dir(patches.path())
        .expect("list")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert!(names.iter().any(|name| name == "zoom.patch") && names.iter().any(|name| name == "hubspot.patch"), "{names:?}");
    for name in &names {
        let integration = name.trim_end_matches(".patch");
        let patch = std::fs::read_to_string(patches.path().join(name)).expect("read patch");
        for line in patch.lines().filter_map(|line| line.strip_prefix("+++ b/")) {
            let expected = owner.get(line).map(String::as_str).unwrap_or("unassigned");
            assert_eq!(expected, integration, "{name} touches {line}, a file of {expected}");
        }
        let check = Command::new("git")
            .args(["apply", "--check", "--verbose"])
            .arg(patches.path().join(name))
            .current_dir(&root)
            .output()
            .expect("git runs");
        assert!(check.status.success(), "{name} does not apply: {}", String::from_utf8_lossy(&check.stderr));
    }
    assert_eq!(hashes(&root), hashes(&fixture("python-fastapi")), "--patch-dir without --write changed the tree");
}

// ----- faults ---------------------------------------------------------------------------

const SERVICE: &str = "import httpx\n\n\nasync def exchange(code):\n    async with httpx.AsyncClient() as client:\n        response = await client.post(\"https://slack.com/api/oauth.v2.access\", data={\"code\": code})\n    return response.json()\n";

fn write_project(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("tempdir");
    for (path, bytes) in files {
        write_file(folder.path(), path, bytes);
    }
    folder
}

/// Runs `fix --write` on `project`, checks it applied `applied` edits, and returns the text
/// of `file` after them.
fn written_by_fix(project: &Path, file: &str, applied: usize) -> String {
    let report = fix_json(&[project.to_str().expect("utf-8"), "--write"]);
    assert_eq!(report["applied"].as_array().map(Vec::len), Some(applied), "{report}");
    std::fs::read_to_string(project.join(file)).expect("read")
}

/// The fixed tree re-scans clean, and a second `fix --write` changes nothing.
fn assert_fix_settled(project: &Path) {
    assert_eq!(scan_json(project)["findings"].as_array().map(Vec::len), Some(0));
    let again = fix_json(&[project.to_str().expect("utf-8"), "--write"]);
    assert_eq!(again["applied"].as_array().map(Vec::len), Some(0), "{again}");
}

#[test]
fn crlf_bom_and_tabs_are_kept() {
    let crlf = SERVICE.replace('\n', "\r\n");
    let mut bom = vec![0xef, 0xbb, 0xbf];
    bom.extend_from_slice(SERVICE.as_bytes());
    let tabs = SERVICE.replace("    ", "\t");
    let project = write_project(&[
        ("slack_crlf.py", crlf.clone().into_bytes()),
        ("slack_bom.py", bom.clone()),
        ("slack_tabs.py", tabs.clone().into_bytes()),
    ]);
    let report = fix_json(&[project.path().to_str().expect("utf-8"), "--write"]);
    assert_eq!(report["applied"].as_array().map(Vec::len), Some(3), "{report}");

    let crlf_after = std::fs::read_to_string(project.path().join("slack_crlf.py")).expect("read");
    assert!(crlf_after.contains("check_html_response(response)\r\n"), "{crlf_after:?}");
    assert_eq!(crlf_after.matches('\n').count(), crlf_after.matches("\r\n").count(), "a bare LF in a CRLF file: {crlf_after:?}");
    assert!(crlf_after.starts_with("import httpx\r\nfrom core.oauth_utils import check_html_response\r\n"), "{crlf_after:?}");

    let bom_after = std::fs::read(project.path().join("slack_bom.py")).expect("read");
    assert!(bom_after.starts_with(&[0xef, 0xbb, 0xbf, b'i']), "BOM lost");

    let tabs_after = std::fs::read_to_string(project.path().join("slack_tabs.py")).expect("read");
    assert!(
        tabs_after.contains("\n\tis_html, html_error = check_html_response(response)\n\tif is_html:\n\t\traise HTTPException("),
        "{tabs_after}"
    );
    assert!(!tabs_after.lines().any(|line| line.starts_with(' ')), "spaces in a tab-indented file: {tabs_after}");

    // Every byte outside the insertions is the original's.
    let original_lines: Vec<&str> = tabs.lines().collect();
    let kept: Vec<&str> = tabs_after.lines().filter(|line| original_lines.contains(line)).collect();
    assert_eq!(kept, original_lines);
    if let Some(python) = python3() {
        let compiled = compiling_python_files(&python, project.path());
        assert_eq!(compiled.len(), 4, "{compiled:?}"); // the three services and the created helper
    }
    assert!(project.path().join("core/oauth_utils.py").is_file(), "the missing helper module is created");
}

/// A migration's swallowed row goes into a savepoint: the `try` body is nested under
/// `with conn.begin_nested():` one step deeper (tabs here), a multi-line SQL string keeps its
/// bytes, an async connection gets `async with`, and a second run changes nothing.
#[test]
fn a_migration_row_is_nested_in_a_savepoint() {
    const MIGRATION: &str = "\
from alembic import op
import sqlalchemy as sa


def upgrade():
\tconn = op.get_bind()
\tfor row_id in ids():
\t\ttry:
\t\t\tconn.execute(
\t\t\t\tsa.text(\"\"\"
    UPDATE tokens
\t\tSET done = true
\"\"\"),
\t\t\t)

\t\t\tlog(row_id)
\t\texcept Exception:
\t\t\tcontinue


async def backfill():
\tconn = op.get_bind()
\ttry:
\t\tawait conn.execute(sa.text(\"UPDATE tokens SET done = true\"))
\texcept Exception:
\t\treturn
";
    let project = write_project(&[("migrations/versions/0001_mark.py", MIGRATION.as_bytes().to_vec())]);
    let after = written_by_fix(project.path(), "migrations/versions/0001_mark.py", 2);
    let expected = MIGRATION
        .replace(
            "\t\ttry:\n\t\t\tconn.execute(\n\t\t\t\tsa.text(",
            "\t\ttry:\n\t\t\twith conn.begin_nested():\n\t\t\t\tconn.execute(\n\t\t\t\t\tsa.text(",
        )
        .replace("\"\"\"),\n\t\t\t)\n\n\t\t\tlog(row_id)", "\"\"\"),\n\t\t\t\t)\n\n\t\t\t\tlog(row_id)")
        .replace("\ttry:\n\t\tawait conn", "\ttry:\n\t\tasync with conn.begin_nested():\n\t\t\tawait conn");
    assert_eq!(after, expected);
    assert_fix_settled(project.path());
    if let Some(python) = python3() {
        assert_eq!(compiling_python_files(&python, project.path()).len(), 1);
    }
}

#[test]
fn a_session_the_try_binds_is_rolled_back_only_when_bound() {
    // Open WebUI's shape: the `try` binds the session from a manager it gives `db`. When
    // entering the manager fails, the handler runs with `session` unbound (or `db` still
    // None): a bare `session.rollback()` would turn `return False` into a crash.
    const NOTES: &str = "\
from contextlib import asynccontextmanager


@asynccontextmanager
async def get_db_context(db=None):
    if db is None:
        raise ConnectionError(\"no database\")
    yield db


async def rename_note(note_id, title, db=None):
    try:
        async with get_db_context(db) as session:
            note = await session.get(note_id)
            note.title = title
            await session.commit()
            return True
    except Exception:
        return False


async def delete_note(note_id, db=None):
    try:
        async with get_db_context(db) as db:
            await db.execute(\"DELETE FROM notes WHERE id = :id\", {\"id\": note_id})
            await db.commit()
            return True
    except Exception:
        return False
";
    let project = write_project(&[("models/notes.py", NOTES.as_bytes().to_vec())]);
    let findings = scan_json(project.path())["findings"].clone();
    let confidences: Vec<&str> =
        findings.as_array().expect("findings").iter().filter_map(|finding| finding["confidence"].as_str()).collect();
    assert_eq!(confidences, ["medium", "medium"], "{findings}");
    let after = written_by_fix(project.path(), "models/notes.py", 2);
    let expected = NOTES
        .replace(
            "async def rename_note(note_id, title, db=None):\n    try:",
            "async def rename_note(note_id, title, db=None):\n    session = None\n    try:",
        )
        .replace(
            "            return True\n    except Exception:\n        return False\n\n\nasync def delete_note",
            "            return True\n    except Exception:\n        if session is not None:\n            await session.rollback()\n        return False\n\n\nasync def delete_note",
        );
    let expected = format!(
        "{}    except Exception:\n        if db is not None:\n            await db.rollback()\n        return False\n",
        expected.strip_suffix("    except Exception:\n        return False\n").expect("the second handler ends the file")
    );
    assert_eq!(after, expected);
    assert_fix_settled(project.path());
    let Some(python) = python3() else { return };
    // Run the patched functions: with no database both still return False, and a session
    // that fails on commit is rolled back.
    let script = "import asyncio, sys\nsys.path.insert(0, 'models')\nimport notes\n\
class Failing:\n    rolled_back = 0\n    async def get(self, key):\n        return type('Note', (), {})()\n    \
async def execute(self, *args):\n        pass\n    async def commit(self):\n        raise RuntimeError('commit failed')\n    \
async def rollback(self):\n        self.rolled_back += 1\n\
assert asyncio.run(notes.rename_note(1, 't')) is False\nassert asyncio.run(notes.delete_note(1)) is False\n\
db = Failing()\nassert asyncio.run(notes.rename_note(1, 't', db)) is False\nassert asyncio.run(notes.delete_note(1, db)) is False\n\
assert db.rolled_back == 2, db.rolled_back\nprint('ok')\n";
    let output = Command::new(python).arg("-c").arg(script).current_dir(project.path()).output().expect("python3 runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n", "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn a_rollback_discarding_earlier_passes_of_a_loop_is_skipped() {
    const IMPORT: &str = "\
def import_rows(db, rows):
    for row in rows:
        try:
            db.add(row)
            db.flush()
        except Exception:
            continue
    db.commit()
";
    let project = write_project(&[("importer.py", IMPORT.as_bytes().to_vec())]);
    let findings = scan_json(project.path())["findings"].clone();
    assert_eq!(findings[0]["code"], "OA004", "{findings}");
    assert_eq!(findings[0]["fixable"], false, "{findings}");
    let report = fix_json(&[project.path().to_str().expect("utf-8"), "--write"]);
    assert_eq!(report["applied"].as_array().map(Vec::len), Some(0), "{report}");
    let reason = report["skipped"][0]["reason"].as_str().unwrap_or_default();
    assert_eq!(
        reason,
        "the handler goes on with the loop at line 2, which never commits `db`: `db.rollback()` would also discard what its earlier passes wrote; run each pass's writes in `with db.begin_nested():` by hand",
        "{report}"
    );
    assert_eq!(std::fs::read_to_string(project.path().join("importer.py")).expect("read"), IMPORT);
}

#[test]
fn a_read_only_file_is_reported_and_the_run_continues() {
    use std::os::unix::fs::PermissionsExt;
    let project = write_project(&[("a_slack.py", SERVICE.as_bytes().to_vec()), ("b_zoom.py", SERVICE.as_bytes().to_vec())]);
    let locked = project.path().join("a_slack.py");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let output = fix(&[project.path().to_str().expect("utf-8"), "--write", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["refused"][0]["file"], "a_slack.py", "{report}");
    assert!(report["refused"][0]["reason"].as_str().is_some_and(|reason| reason.contains("read-only")), "{report}");
    assert_eq!(std::fs::read_to_string(&locked).expect("read"), SERVICE, "the read-only file was changed");
    assert!(std::fs::read_to_string(project.path().join("b_zoom.py")).expect("read").contains("check_html_response(response)"));
    assert!(report["skipped"].as_array().expect("skipped").iter().any(|entry| entry["file"] == "a_slack.py"));
}

#[test]
fn a_file_changed_between_plan_and_write_is_refused() {
    use oauth_audit::config::Config;
    use oauth_audit::fix::{self, FixOptions};
    use oauth_audit::scan::ScanOptions;
    let project = write_project(&[("slack.py", SERVICE.as_bytes().to_vec())]);
    let root = project.path().to_path_buf();
    let config = Config::defaults().expect("defaults");
    let scan = ScanOptions {
        paths: vec![root.clone()],
        root: root.clone(),
        include_tests: false,
        jobs: 1,
        rules: Vec::new(),
        integrations: Vec::new(),
    };
    let plan = fix::plan(&FixOptions { scan, rules: Vec::new() }, &config).expect("plans");
    let change = plan.changes.iter().find(|change| change.relative_path == "slack.py").expect("a change to slack.py");
    let edited_by_someone = format!("{SERVICE}# edited meanwhile\n");
    std::fs::write(root.join("slack.py"), &edited_by_someone).expect("write");
    let refused = fix::write::write_change(change).expect_err("refused");
    assert!(refused.reason.contains("changed since it was read"), "{}", refused.reason);
    assert_eq!(std::fs::read_to_string(root.join("slack.py")).expect("read"), edited_by_someone);
}

#[test]
fn kill_9_during_a_large_write_leaves_every_file_old_or_new() {
    // 400 services, each with a site to guard.
    let files: Vec<(String, Vec<u8>)> =
        (0..400).map(|index| (format!("svc{:03}/slack_{index}.py", index / 40), SERVICE.as_bytes().to_vec())).collect();
    let borrowed: Vec<(&str, Vec<u8>)> = files.iter().map(|(path, bytes)| (path.as_str(), bytes.clone())).collect();
    let template = write_project(&borrowed);
    let old = hashes(template.path());
    // What a finished run writes.
    let finished = tempfile::tempdir().expect("tempdir");
    copy_tree(template.path(), finished.path());
    let started = std::time::Instant::now();
    let report = fix_json(&[finished.path().to_str().expect("utf-8"), "--write"]);
    let full_run = started.elapsed();
    assert_eq!(report["applied"].as_array().map(Vec::len), Some(400));
    let new = hashes(finished.path());
    let binary = assert_cmd::cargo::cargo_bin!("oauth-audit");
    // Kills spread over the run, later and later, until some land while files are being
    // written (some old, some new): those are the runs that test atomicity.
    let (mut interrupted, mut mixed, mut attempts) = (0, 0, 0);
    while attempts < 32 && mixed < 2 {
        let fraction = 0.35 + 0.6 * f64::from(attempts % 8) / 7.0;
        attempts += 1;
        let run = tempfile::tempdir().expect("tempdir");
        copy_tree(template.path(), run.path());
        let mut child = Command::new(binary)
            .args(["fix", "--write", "--format", "json"])
            .arg(run.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawns");
        std::thread::sleep(full_run.mul_f64(fraction));
        // SIGKILL, as `kill -9` sends (Ok when the run had already finished).
        child.kill().expect("kills");
        let status = child.wait().expect("waits");
        if !status.success() {
            interrupted += 1;
        }
        let (mut old_files, mut new_files) = (0, 0);
        for (path, hash) in hashes(run.path()) {
            if path.rsplit('/').next().is_some_and(|name| name.starts_with(".oauth-audit-")) {
                continue; // a temporary file the kill left behind; never a source file
            }
            let is_old = old.get(&path) == Some(&hash);
            let is_new = new.get(&path) == Some(&hash);
            assert!(is_old || is_new, "attempt {attempts}: {path} is neither the old nor the new file");
            old_files += usize::from(is_old && !is_new);
            new_files += usize::from(is_new && !is_old);
        }
        if old_files > 0 && new_files > 0 {
            mixed += 1;
        }
    }
    eprintln!("kill -9: full run {full_run:?}; {attempts} runs, {interrupted} interrupted, {mixed} killed while writing");
    assert!(mixed >= 1, "no kill landed while files were being written ({attempts} runs, full run {full_run:?})");
}
