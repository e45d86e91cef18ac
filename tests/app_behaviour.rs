//! Behaviour, not only syntax: the Python fixture `fixtures/python-fastapi` runs as a FastAPI app
//! against a fake OAuth provider on loopback, before and after `oauth-audit fix --write`.
//!
//! The tests themselves are in `tests/app/` (pytest; `conftest.py` says how to run them by
//! hand). Each phase runs on a copy of the fixture in a temporary folder, never on the fixture:
//! - `before`: the fixture as shipped. A `200 text/html` login page from the provider fails the
//!   Zoom callback with a JSON decode error (OA001) and no token row is stored (OA002).
//! - `after`: the copy once `oauth-audit fix --write` ran on it. The same page is a 400 whose
//!   detail carries the page title; a JSON answer stores the token row in SQLite (still there
//!   after reopening the file) and queues a sync job; a failing insert is rolled back.
//!
//! The Python side needs a venv with the pinned `tests/app/requirements.txt`: it is created once
//! at `target/app-venv` (needs PyPI) and reused while the requirements and the interpreter are
//! unchanged. A missing `python3` (3.10 or later) or a failed install skips with a message on
//! stderr, except under `CI=true`, where it fails the test.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{available, describe_failure, manifest_dir, venv};

/// Files `fix --write` must change for the after phase to mean anything.
const ZOOM_FILES: [&str; 2] = ["backend/integrations/auth_handler_zoom.py", "backend/api/routes/integrations/zoom_routes.py"];

fn app_tests() -> PathBuf {
    manifest_dir().join("tests/app")
}

/// A copy of `fixtures/python-fastapi` (without Python caches) in a fresh temporary folder.
fn fixture_copy() -> tempfile::TempDir {
    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap_or_else(|error| panic!("{}: {error}", to.display()));
        for entry in std::fs::read_dir(from).unwrap_or_else(|error| panic!("{}: {error}", from.display())) {
            let entry = entry.expect("a directory entry");
            let name = entry.file_name();
            if name == "__pycache__" || name == ".pytest_cache" {
                continue;
            }
            let (source, target) = (entry.path(), to.join(&name));
            if entry.file_type().expect("a file type").is_dir() {
                copy_tree(&source, &target);
            } else {
                std::fs::copy(&source, &target).unwrap_or_else(|error| panic!("{} -> {}: {error}", source.display(), target.display()));
            }
        }
    }
    let dir = tempfile::Builder::new().prefix("oauth-audit-app-").tempdir().expect("a temporary folder");
    copy_tree(&common::fixture("python-fastapi"), &dir.path().join("python-fastapi"));
    dir
}

/// How many tests carry `@pytest.mark.<phase>` in `tests/app/`: all of them must pass.
fn tests_marked(phase: &str) -> usize {
    let marker = format!("@pytest.mark.{phase}");
    std::fs::read_dir(app_tests())
        .expect("tests/app")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            path.file_name().and_then(|name| name.to_str()).is_some_and(|name| name.starts_with("test_") && name.ends_with(".py"))
        })
        .map(|path| std::fs::read_to_string(&path).expect("a test file").lines().filter(|line| line.trim() == marker).count())
        .sum()
}

/// Runs the pytest phase on the copy at `app_dir` and checks every test of that phase passed.
fn run_phase(python: &Path, app_dir: &Path, phase: &str) {
    let output = Command::new(python)
        .args(["-m", "pytest", "-c"])
        .arg(app_tests().join("pytest.ini"))
        .arg(app_tests())
        .args(["-p", "no:cacheprovider", "-q", "-rA", "--color=no"])
        .current_dir(app_dir.join("backend"))
        .env("APP_DIR", app_dir)
        .env("PHASE", phase)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .env_remove("PYTHONPATH")
        .env_remove("PYTEST_ADDOPTS")
        .env_remove("DATABASE_URL")
        .output()
        .expect("the venv's python runs");
    let what = format!("PHASE={phase} pytest tests/app on {}", app_dir.display());
    assert!(output.status.success(), "{}", describe_failure(&what, &output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout.lines().rev().find(|line| line.contains(" passed")).unwrap_or_default();
    let passed: usize = summary
        .split(',')
        .find_map(|part| part.trim().trim_matches('=').trim().strip_suffix(" passed")?.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0);
    let expected = tests_marked(phase);
    assert!(expected > 0, "no test in tests/app is marked {phase}");
    assert!(
        passed == expected && !summary.contains("skipped") && !summary.contains("xfail"),
        "{what}: {passed} passed of the {expected} marked {phase}: {summary}\n{stdout}"
    );
    let _ = writeln!(std::io::stderr(), "app_behaviour: PHASE={phase}: {passed} passed");
}

#[test]
fn before_fix_html_breaks_the_zoom_callback_and_tokens_are_not_stored() {
    let python = venv();
    if !available("the app behaviour tests", python.as_ref().err().map(String::as_str)) {
        return;
    }
    let python = python.expect("checked");
    let copy = fixture_copy();
    run_phase(&python, &copy.path().join("python-fastapi"), "before");
}

#[test]
fn after_fix_write_the_zoom_callback_guards_stores_syncs_and_rolls_back() {
    let python = venv();
    if !available("the app behaviour tests", python.as_ref().err().map(String::as_str)) {
        return;
    }
    let python = python.expect("checked");
    let copy = fixture_copy();
    let app_dir = copy.path().join("python-fastapi");
    let original: Vec<String> =
        ZOOM_FILES.iter().map(|file| std::fs::read_to_string(app_dir.join(file)).expect("a fixture file")).collect();

    let output = common::oauth_audit().arg("fix").arg("--write").arg(&app_dir).output().expect("the binary runs");
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", describe_failure("oauth-audit fix --write", &output));
    for (file, before) in ZOOM_FILES.iter().zip(&original) {
        let after = std::fs::read_to_string(app_dir.join(file)).expect("a patched file");
        assert_ne!(&after, before, "oauth-audit fix --write left {file} unchanged\n{}", describe_failure("fix", &output));
    }

    run_phase(&python, &app_dir, "after");
}
