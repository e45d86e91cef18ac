//! Shared helpers for the end-to-end tests: the built binary, fixture paths, and the
//! `# expect:` (`// expect:` in Rust and TypeScript) markers the fixtures carry on every
//! `.json()` line.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

pub fn schema(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

pub fn oauth_audit() -> Command {
    let mut command = Command::cargo_bin("oauth-audit").expect("the oauth-audit binary is built");
    command.env_remove("NO_COLOR");
    command
}

/// Runs the binary and returns its output, whatever the exit status.
pub fn run(args: &[&str]) -> Output {
    oauth_audit().args(args).output().expect("the binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// `(item[first], item[second])` of each item of a report's array (`report["findings"]`),
/// strings or empty.
pub fn string_pairs(items: &serde_json::Value, first: &str, second: &str) -> Vec<(String, String)> {
    let text = |item: &serde_json::Value, key: &str| item[key].as_str().unwrap_or("").to_string();
    items.as_array().expect("an array").iter().map(|item| (text(item, first), text(item, second))).collect()
}

/// Writes `bytes` to `relative` under `root`, making its folders.
pub fn write_file(root: &Path, relative: &str, bytes: impl AsRef<[u8]>) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

pub fn json_report(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let output = run(&all);
    assert!(matches!(output.status.code(), Some(0 | 1)), "exit {:?}: {}", output.status.code(), stderr(&output));
    serde_json::from_slice(&output.stdout).expect("the JSON report parses")
}

/// What a fixture line's `# expect:` marker says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// `# expect: OA001 high|medium`
    Finding(String),
    /// `# expect: ok`
    Ok,
    /// `# expect: suppressed`
    Suppressed,
    /// `# expect: OA001 test`: a site in a test file.
    TestSite,
}

/// Every OA001 marker under `root`, by (relative path, 1-based line).
pub fn markers(root: &Path) -> BTreeMap<(String, usize), Expect> {
    let mut found = BTreeMap::new();
    for (relative, line, item) in marker_items(root) {
        let expect = match item.as_str() {
            "OA001 high" => Expect::Finding("high".into()),
            "OA001 medium" => Expect::Finding("medium".into()),
            "ok" => Expect::Ok,
            "suppressed" => Expect::Suppressed,
            "OA001 test" => Expect::TestSite,
            _ => continue,
        };
        found.insert((relative, line), expect);
    }
    found
}

/// Every marker of the other rules (`# expect: OA002, OA003 medium`) under `root`, by
/// (relative path, 1-based line, code), with the confidence when the marker gives one.
pub fn rule_markers(root: &Path) -> BTreeMap<(String, usize, String), Option<String>> {
    let mut found = BTreeMap::new();
    for (relative, line, item) in marker_items(root) {
        let mut words = item.split_whitespace();
        let Some(code) = words.next().filter(|code| code.starts_with("OA") && *code != "OA001") else { continue };
        found.insert((relative, line, code.to_string()), words.next().map(str::to_string));
    }
    found
}

/// The comma-separated items of every `# expect:` marker under `root`.
fn marker_items(root: &Path) -> Vec<(String, usize, String)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("fixture folder reads") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            // `# expect:` in Python, `// expect:` in Rust and TypeScript.
            let marker = match path.extension().and_then(|extension| extension.to_str()) {
                Some("py") => "# expect: ",
                Some("rs" | "ts" | "tsx" | "mts" | "cts") => "// expect: ",
                _ => continue,
            };
            let relative = path.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path).expect("fixture is UTF-8");
            for (index, line) in text.lines().enumerate() {
                let Some((_, marker)) = line.rsplit_once(marker) else { continue };
                for item in marker.split(',') {
                    let item = item.trim().to_string();
                    let known = matches!(item.as_str(), "OA001 high" | "OA001 medium" | "ok" | "suppressed" | "OA001 test")
                        || (item.starts_with("OA") && item != "OA001");
                    assert!(known, "{relative}:{}: unknown marker {item:?}", index + 1);
                    found.push((relative.clone(), index + 1, item));
                }
            }
        }
    }
    found
}

/// True under `CI=true`, where a test that needs a missing tool must fail, not skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

/// Whether a test part can run: with no `problem`, yes; outside CI it prints why it skips;
/// under `CI=true` it fails.
pub fn available(part: &str, problem: Option<&str>) -> bool {
    let Some(problem) = problem else { return true };
    assert!(!in_ci(), "{part}: {problem} (required under CI=true)");
    // Straight to stderr: the test harness captures `eprintln!` of a passing test.
    let _ = std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("skipping {part} outside CI: {problem}\n"));
    false
}

/// Why `tool` cannot be used, when `tool --version` does not run.
pub fn missing_tool(tool: &str) -> Option<String> {
    let found = std::process::Command::new(tool).arg("--version").output().is_ok_and(|output| output.status.success());
    (!found).then(|| format!("`{tool}` was not found on PATH"))
}

/// A failed command's status and output, for an assertion message.
pub fn describe_failure(what: &str, output: &Output) -> String {
    format!(
        "{what} exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The TypeScript package pinned in `tests/node`, installed with `npm ci` once per test run
/// when it is missing or is not the locked version.
pub fn typescript_package() -> Result<PathBuf, String> {
    static INSTALL: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    INSTALL
        .get_or_init(|| {
            let node_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
            let package = node_dir.join("node_modules/typescript");
            let locked = locked_typescript_version(&node_dir)?;
            if installed_version(&package).as_deref() == Some(locked.as_str()) {
                return Ok(package);
            }
            if let Some(problem) = missing_tool("npm") {
                return Err(problem);
            }
            let output = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&node_dir)
                .output()
                .map_err(|error| format!("running npm ci: {error}"))?;
            if !output.status.success() {
                return Err(describe_failure(&format!("npm ci in {}", node_dir.display()), &output));
            }
            match installed_version(&package) {
                Some(version) if version == locked => Ok(package),
                other => Err(format!("after npm ci, {} holds version {other:?}, not {locked}", package.display())),
            }
        })
        .clone()
}

fn locked_typescript_version(node_dir: &Path) -> Result<String, String> {
    let path = node_dir.join("package-lock.json");
    let text = std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
    let lock: serde_json::Value = serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    lock.pointer("/packages/node_modules~1typescript/version")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("{} locks no typescript version", path.display()))
}

fn installed_version(package: &Path) -> Option<String> {
    let text = std::fs::read_to_string(package.join("package.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
    manifest.get("version")?.as_str().map(str::to_owned)
}

/// The project folder (fixtures, templates, `tests/`).
pub fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) { venv.join("Scripts").join("python.exe") } else { venv.join("bin").join("python") }
}

/// `python3`'s version and real path, when it is 3.10 or later (the fixture uses `X | None`).
fn base_interpreter() -> Result<String, String> {
    let probe = "import os, sys; print(sys.version_info >= (3, 10), os.path.realpath(sys.executable), sys.version)";
    let output = Command::new("python3").args(["-c", probe]).output().map_err(|error| format!("`python3` did not start: {error}"))?;
    if !output.status.success() {
        return Err(describe_failure("python3 -c", &output));
    }
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    match text.strip_prefix("True ") {
        Some(identity) => Ok(identity.to_owned()),
        None => Err(format!("python3 3.10 or later is needed, found: {text}")),
    }
}

/// The venv at `target/app-venv` with `tests/app/requirements.txt` installed (FastAPI, httpx,
/// requests, SQLAlchemy, pytest: the app tests and the Python guard's vectors use it), created when it
/// is missing or was made from other requirements or another interpreter. The stamp file is
/// written last, so an interrupted install is redone.
pub fn venv() -> Result<PathBuf, String> {
    static VENV: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    VENV.get_or_init(|| {
        let interpreter = base_interpreter()?;
        let requirements = manifest_dir().join("tests/app/requirements.txt");
        let pinned = std::fs::read(&requirements).map_err(|error| format!("{}: {error}", requirements.display()))?;
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut hasher, interpreter.as_bytes());
        sha2::Digest::update(&mut hasher, [0]);
        sha2::Digest::update(&mut hasher, &pinned);
        let digest: String = sha2::Digest::finalize(hasher).iter().map(|byte| format!("{byte:02x}")).collect();

        let venv = manifest_dir().join("target/app-venv");
        let stamp = venv.join(".requirements-sha256");
        let python = venv_python(&venv);
        if python.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|text| text.trim() == digest) {
            return Ok(python);
        }
        match std::fs::remove_dir_all(&venv) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(format!("{}: {error}", venv.display())),
            _ => {}
        }
        let started = std::time::Instant::now();
        let output =
            Command::new("python3").args(["-m", "venv"]).arg(&venv).output().map_err(|error| format!("python3 -m venv: {error}"))?;
        if !output.status.success() {
            return Err(describe_failure(&format!("python3 -m venv {}", venv.display()), &output));
        }
        let output = Command::new(&python)
            .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet", "-r"])
            .arg(&requirements)
            .output()
            .map_err(|error| format!("pip install: {error}"))?;
        if !output.status.success() {
            return Err(describe_failure(&format!("pip install -r {}", requirements.display()), &output));
        }
        std::fs::write(&stamp, format!("{digest}\n")).map_err(|error| format!("{}: {error}", stamp.display()))?;
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!("tests: created {} in {:.1?}\n", venv.display(), started.elapsed()),
        );
        Ok(python)
    })
    .clone()
}
