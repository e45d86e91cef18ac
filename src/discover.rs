//! Finding the files to scan: a parallel walk (the `ignore` crate) that honours
//! `.gitignore` (inside or outside a git repository), skips hidden files, dependency and
//! build folders, virtualenvs and, unless asked, test files; then reading each file, with
//! files too large, binary or not UTF-8 listed as skipped with the reason.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{DirEntry, WalkBuilder, WalkState};
use rayon::prelude::*;
use serde::Serialize;

use crate::config::Config;
use crate::facts::Language;
use crate::source::SourceFile;

/// Folders never scanned: dependencies, build output, caches, virtualenvs.
const SKIPPED_FOLDERS: &[&str] = &[
    "node_modules",
    "bower_components",
    "jspm_packages",
    "__pycache__",
    "site-packages",
    "dist-packages",
    ".venv",
    "venv",
    ".env",
    "env",
    "virtualenv",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "build",
    "dist",
    "target",
    "out",
    ".next",
    ".nuxt",
    ".svelte-kit",
    ".turbo",
    "coverage",
    "htmlcov",
    ".git",
    ".hg",
    ".svn",
    ".eggs",
];

/// Folders holding tests.
const TEST_FOLDERS: &[&str] = &["tests", "test", "__tests__", "testing"];

/// Bytes inspected for a NUL byte to call a file binary.
const BINARY_PROBE: usize = 8192;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Skipped {
    pub file: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct DiscoverOptions {
    pub paths: Vec<PathBuf>,
    /// The folder report paths are relative to: [`scan_root`] of `paths`.
    pub root: PathBuf,
    pub include_tests: bool,
    pub threads: usize,
}

pub struct Discovery {
    /// The folder paths in reports are relative to.
    pub root: PathBuf,
    /// Readable source files, sorted by relative path.
    pub files: Vec<SourceFile>,
    /// Files that were found but not scanned, sorted by path.
    pub skipped: Vec<Skipped>,
    /// A PATH argument that does not exist (the only fatal discovery error).
    pub missing: Vec<PathBuf>,
}

/// The language a file's extension says, for the languages with a frontend.
pub fn language_of(path: &Path) -> Option<Language> {
    match path.extension()?.to_str()? {
        "py" => Some(Language::Python),
        "rs" => Some(Language::Rust),
        extension if crate::lang::TYPESCRIPT_EXTENSIONS.contains(&extension) => Some(Language::TypeScript),
        _ => None,
    }
}

/// A line longer than this marks a minified or generated file.
const MAX_LINE_LENGTH: usize = 1000;

/// Why a TypeScript or JavaScript file is not source to audit: a declaration file
/// (`.d.ts`), a generated file (`// @generated` or `/* eslint-disable */` banner), or a
/// minified one (a line over 1,000 characters).
pub fn generated_reason(relative_path: &str, language: Language, text: &str) -> Option<String> {
    if language != Language::TypeScript {
        return None;
    }
    let file_name = relative_path.rsplit('/').next().unwrap_or(relative_path);
    if [".d.ts", ".d.mts", ".d.cts"].iter().any(|suffix| file_name.ends_with(suffix)) {
        return Some("TypeScript declaration file (.d.ts): types only".into());
    }
    if file_name.contains(".min.") {
        return Some("minified file (.min. in its name)".into());
    }
    // The banner: the first comment lines of the file.
    for line in text.trim_start_matches('\u{feff}').lines().take(5) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if !(line.starts_with("//") || line.starts_with("/*") || line.starts_with('*') || line.starts_with("#!")) {
            break;
        }
        if line.contains("@generated") {
            return Some("generated file (`@generated` banner)".into());
        }
        let compact: String = line.split_whitespace().collect();
        if compact == "/*eslint-disable*/" {
            return Some("generated file (`/* eslint-disable */` banner)".into());
        }
    }
    let mut line_number = 0;
    for line in text.split('\n') {
        line_number += 1;
        if line.len() > MAX_LINE_LENGTH && line.chars().count() > MAX_LINE_LENGTH {
            return Some(format!("minified or generated file (line {line_number} is over {MAX_LINE_LENGTH} characters)"));
        }
    }
    None
}

/// True for test files: in a tests folder, `test_*.py`, `*_test.py`, `*_tests.py`,
/// `conftest.py`, `*.test.ts`, `*.spec.tsx`.
pub fn is_test_file(relative_path: &str) -> bool {
    let mut segments: Vec<&str> = relative_path.split('/').collect();
    let Some(file_name) = segments.pop() else {
        return false;
    };
    if segments.iter().any(|segment| TEST_FOLDERS.contains(segment)) {
        return true;
    }
    let stem = file_name.rsplit_once('.').map(|(stem, _)| stem).unwrap_or(file_name);
    if stem.ends_with(".test") || stem.ends_with(".spec") {
        return true;
    }
    stem == "conftest" || stem.starts_with("test_") || stem.ends_with("_test") || stem.ends_with("_tests")
}

/// The folder reports are relative to: the one PATH when it is a folder, its parent when it
/// is a file, and the deepest common folder of several.
pub fn scan_root(paths: &[PathBuf]) -> PathBuf {
    let folders: Vec<PathBuf> = paths
        .iter()
        .map(|path| {
            let absolute = path.canonicalize().unwrap_or_else(|_| path.clone());
            if absolute.is_file() { absolute.parent().map(Path::to_path_buf).unwrap_or(absolute) } else { absolute }
        })
        .collect();
    let Some(first) = folders.first() else {
        return PathBuf::from(".");
    };
    let mut common = first.clone();
    for folder in &folders[1..] {
        while !folder.starts_with(&common) {
            if !common.pop() {
                break;
            }
        }
    }
    common
}

/// `path` relative to `root`, `/`-separated. The parent folder is resolved, not the entry
/// itself, so a symlink is reported under its own name rather than its target's.
fn relative_to(root: &Path, path: &Path) -> String {
    let resolved_parent = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new(".")).canonicalize();
    let absolute = match (resolved_parent, path.file_name()) {
        (Ok(parent), Some(name)) => parent.join(name),
        _ => path.canonicalize().unwrap_or_else(|_| path.to_path_buf()),
    };
    let relative = absolute.strip_prefix(root).unwrap_or(&absolute);
    relative.components().map(|component| component.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// The file or folder a walk error is about.
fn error_path(error: &ignore::Error) -> Option<&Path> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::Loop { child, .. } => Some(child),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => error_path(err),
        ignore::Error::Partial(errors) => errors.first().and_then(error_path),
        _ => None,
    }
}

fn is_virtualenv(path: &Path) -> bool {
    path.join("pyvenv.cfg").is_file()
}

pub fn discover(options: &DiscoverOptions, config: &Config) -> Discovery {
    let root = options.root.clone();
    let mut missing = Vec::new();
    let found: Mutex<Vec<(PathBuf, bool)>> = Mutex::new(Vec::new());
    let walk_errors: Mutex<Vec<Skipped>> = Mutex::new(Vec::new());
    for path in &options.paths {
        if !path.exists() {
            missing.push(path.clone());
            continue;
        }
        if path.is_file() {
            // A file named on the command line is scanned whatever its name says.
            found.lock().map(|mut found| found.push((path.clone(), true))).ok();
            continue;
        }
        let walker = WalkBuilder::new(path)
            .hidden(true)
            .git_ignore(true)
            .git_global(false)
            .git_exclude(true)
            .require_git(false)
            .ignore(true)
            .parents(true)
            // Symlinks are followed, so a linked source folder is scanned and a link loop
            // is detected and reported instead of silently ignored.
            .follow_links(true)
            .threads(options.threads.max(1))
            .filter_entry(|entry: &DirEntry| {
                let is_dir = entry.file_type().is_some_and(|kind| kind.is_dir());
                if !is_dir || entry.depth() == 0 {
                    return true;
                }
                let name = entry.file_name().to_string_lossy();
                !SKIPPED_FOLDERS.contains(&name.as_ref()) && !is_virtualenv(entry.path())
            })
            .build_parallel();
        walker.run(|| {
            Box::new(|result| {
                match result {
                    Ok(entry) => {
                        if entry.file_type().is_some_and(|kind| kind.is_file()) && language_of(entry.path()).is_some() {
                            found.lock().map(|mut found| found.push((entry.into_path(), false))).ok();
                        }
                    }
                    Err(error) => {
                        let file = error_path(&error).map(|path| path.display().to_string()).unwrap_or_else(|| String::from("?"));
                        walk_errors.lock().map(|mut errors| errors.push(Skipped { file, reason: format!("cannot walk: {error}") })).ok();
                    }
                }
                WalkState::Continue
            })
        });
    }
    let found = found.into_inner().unwrap_or_default();
    let mut skipped = walk_errors.into_inner().unwrap_or_default();
    for error in &mut skipped {
        if error.file != "?" {
            error.file = relative_to(&root, Path::new(&error.file));
        }
    }
    let mut candidates: Vec<(String, PathBuf)> = found
        .into_iter()
        .filter_map(|(path, explicit)| {
            let relative = relative_to(&root, &path);
            let excluded = config.exclude.is_match(config.glob_path(&root, &relative))
                || (!explicit && !options.include_tests && is_test_file(&relative));
            (!excluded).then_some((relative, path))
        })
        .collect();
    candidates.sort();
    candidates.dedup_by(|a, b| a.0 == b.0);
    let max_size = config.max_file_size;
    let read: Vec<Result<SourceFile, Skipped>> =
        candidates.into_par_iter().map(|(relative, path)| read_source(relative, path, max_size)).collect();
    let mut files = Vec::new();
    for outcome in read {
        match outcome {
            Ok(file) => files.push(file),
            Err(skip) => skipped.push(skip),
        }
    }
    skipped.sort();
    Discovery { root, files, skipped, missing }
}

fn read_source(relative: String, path: PathBuf, max_size: u64) -> Result<SourceFile, Skipped> {
    let skip = |reason: String| Skipped { file: relative.clone(), reason };
    let Some(language) = language_of(&path) else {
        return Err(skip("no frontend for this file type".into()));
    };
    let metadata = std::fs::metadata(&path).map_err(|error| skip(format!("cannot read: {error}")))?;
    if metadata.len() > max_size {
        return Err(skip(format!("file is {} bytes, over the {} byte limit (scan.max_file_size)", metadata.len(), max_size)));
    }
    let bytes = std::fs::read(&path).map_err(|error| skip(format!("cannot read: {error}")))?;
    if bytes.len() as u64 > max_size {
        return Err(skip(format!("file is {} bytes, over the {} byte limit (scan.max_file_size)", bytes.len(), max_size)));
    }
    let probe = &bytes[..bytes.len().min(BINARY_PROBE)];
    if memchr::memchr(0, probe).is_some() {
        return Err(skip("binary file (contains NUL bytes)".into()));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let offset = error.utf8_error().valid_up_to();
            return Err(skip(format!("not valid UTF-8 (invalid byte at offset {offset})")));
        }
    };
    if let Some(reason) = generated_reason(&relative, language, &text) {
        return Err(skip(reason));
    }
    // A byte order mark stays in the text, so byte offsets match what tree-sitter saw;
    // `SourceFile::character_column` leaves it out of first-line columns.
    Ok(SourceFile::new(relative, path, language, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_files() {
        assert!(is_test_file("tests/test_notion.py"));
        assert!(is_test_file("backend/tests/helpers.py"));
        assert!(is_test_file("backend/conftest.py"));
        assert!(is_test_file("backend/integrations/zoom_service_test.py"));
        assert!(is_test_file("test_x.py"));
        assert!(is_test_file("backend/zoom_tests.py"));
        assert!(!is_test_file("backend/integrations/latest_service.py"));
        assert!(!is_test_file("backend/contest/attest.py"));
        assert!(is_test_file("src/notion.test.ts"));
        assert!(is_test_file("src/Page.spec.tsx"));
        assert!(!is_test_file("src/latest.ts"));
    }

    #[test]
    fn declaration_generated_and_minified_files_are_not_source() {
        let ts = Language::TypeScript;
        assert!(generated_reason("src/types.d.ts", ts, "export {}").is_some_and(|reason| reason.contains(".d.ts")));
        assert!(generated_reason("src/api.ts", ts, "// @generated by openapi\nexport const a = 1;\n").is_some());
        assert!(generated_reason("src/api.ts", ts, "/* eslint-disable */\nexport const a = 1;\n").is_some());
        assert!(generated_reason("src/api.ts", ts, "/* eslint-disable no-console */\nexport const a = 1;\n").is_none());
        let long = format!("export const a = \"{}\";\n", "x".repeat(1200));
        assert!(generated_reason("src/bundle.js", ts, &long).is_some_and(|reason| reason.contains("line 1")));
        assert!(generated_reason("src/api.ts", ts, "import x from 'y';\n// @generated below the banner does not count\n").is_none());
        assert!(generated_reason("src/long.py", Language::Python, &long).is_none(), "Python files are not checked");
    }
}
