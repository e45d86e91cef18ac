//! The Python fixtures are valid Python (except its one deliberate syntax error), checked by
//! the real interpreter. Needs python3: under CI=true its absence fails the test.

mod common;

use std::path::Path;
use std::process::Command;

/// The file that carries a syntax error on purpose, and the line of it.
const BROKEN: (&str, usize) = ("python-fastapi/backend/integrations/trello_service.py", 72);

fn python_files(folder: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(folder).expect("fixture folder reads") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            python_files(&path, out);
        } else if path.extension().is_some_and(|extension| extension == "py") {
            out.push(path);
        }
    }
}

#[test]
fn fixture_compiles_with_python3() {
    if !common::available("the compile check", common::missing_tool("python3").as_deref()) {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut files = Vec::new();
    python_files(&root, &mut files);
    files.sort();
    assert!(files.len() >= 100, "{} files", files.len());
    let script = "import sys\nfor path in sys.argv[1:]:\n    try:\n        compile(open(path, encoding='utf-8-sig').read(), path, 'exec')\n    except SyntaxError as error:\n        print(f'{path}:{error.lineno}: {error.msg}')\n";
    let output = Command::new("python3").arg("-c").arg(script).args(&files).output().expect("python3 runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let errors: Vec<String> = String::from_utf8_lossy(&output.stdout).lines().map(String::from).collect();
    let broken = format!("{}:{}:", root.join(BROKEN.0).display(), BROKEN.1);
    assert_eq!(errors.len(), 1, "only the deliberate error: {errors:#?}");
    assert!(errors[0].starts_with(&broken), "{errors:#?}");
}
