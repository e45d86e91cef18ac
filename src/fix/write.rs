//! Writing fixes: atomic replacement of each file, unified diffs, and one `git apply`-able
//! patch per integration.

use std::io::Write;
use std::path::Path;

use similar::TextDiff;

use super::FileChange;

/// Why a file was not written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refused {
    pub file: String,
    pub reason: String,
}

/// Writes `bytes` to `path` through a temporary file in the same folder that is flushed to
/// disk and then renamed over `path`: a reader, or a crash at any point, sees the old file
/// or the new one, never a mix. The new file keeps `permissions` when given.
pub fn atomic_write(path: &Path, bytes: &[u8], permissions: Option<std::fs::Permissions>, create_only: bool) -> std::io::Result<()> {
    atomic_write_with(path, permissions, create_only, |out| out.write_all(bytes))
}

/// [`atomic_write`] of what `write` writes, streamed to the temporary file (a report too
/// large to hold twice in memory).
pub fn atomic_write_with(
    path: &Path,
    permissions: Option<std::fs::Permissions>,
    create_only: bool,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let folder = path.parent().filter(|folder| !folder.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temporary = tempfile::Builder::new().prefix(".oauth-audit-").suffix(".tmp").tempfile_in(folder)?;
    {
        let mut buffered = std::io::BufWriter::new(temporary.as_file_mut());
        write(&mut buffered)?;
        buffered.flush()?;
    }
    if let Some(permissions) = permissions {
        temporary.as_file().set_permissions(permissions)?;
    }
    temporary.as_file().sync_all()?;
    if create_only {
        temporary.persist_noclobber(path).map_err(|error| error.error)?;
    } else {
        temporary.persist(path).map_err(|error| error.error)?;
    }
    // The rename is durable once the folder is synced too.
    if let Ok(folder) = std::fs::File::open(folder) {
        let _ = folder.sync_all();
    }
    Ok(())
}

/// Writes one change, refusing a file that changed since it was read or is read-only.
pub fn write_change(change: &FileChange) -> Result<(), Refused> {
    let refuse = |reason: String| Refused { file: change.relative_path.clone(), reason };
    match &change.original {
        Some(original) => {
            let metadata = std::fs::metadata(&change.path).map_err(|error| refuse(format!("cannot read it again: {error}")))?;
            if metadata.permissions().readonly() {
                return Err(refuse("the file is read-only".into()));
            }
            let current = std::fs::read(&change.path).map_err(|error| refuse(format!("cannot read it again: {error}")))?;
            if current != original.as_bytes() {
                return Err(refuse("the file changed since it was read: run fix again".into()));
            }
            atomic_write(&change.path, change.edited.as_bytes(), Some(metadata.permissions()), false)
                .map_err(|error| refuse(format!("cannot write it: {error}")))
        }
        None => {
            if let Some(folder) = change.path.parent() {
                std::fs::create_dir_all(folder).map_err(|error| refuse(format!("cannot create its folder: {error}")))?;
            }
            atomic_write(&change.path, change.edited.as_bytes(), None, true).map_err(|error| refuse(format!("cannot create it: {error}")))
        }
    }
}

/// A unified diff of one change with git headers, so `git apply` takes it from the root.
pub fn unified_diff(change: &FileChange) -> String {
    let path = &change.relative_path;
    let original = change.original.as_deref().unwrap_or("");
    let diff = TextDiff::from_lines(original, change.edited.as_str());
    let (old_name, header) = match change.original {
        Some(_) => (format!("a/{path}"), format!("diff --git a/{path} b/{path}\n")),
        None => ("/dev/null".to_string(), format!("diff --git a/{path} b/{path}\nnew file mode 100644\n")),
    };
    let body = diff.unified_diff().context_radius(3).header(&old_name, &format!("b/{path}")).to_string();
    if body.is_empty() { String::new() } else { format!("{header}{body}") }
}

/// A diff coloured for a terminal: additions green, removals red, hunk headers cyan.
pub fn colour(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len() + diff.len() / 4);
    for line in diff.split_inclusive('\n') {
        let colour = if line.starts_with("+++") || line.starts_with("---") || line.starts_with("diff --git") {
            "\x1b[1m"
        } else if line.starts_with('+') {
            "\x1b[32m"
        } else if line.starts_with('-') {
            "\x1b[31m"
        } else if line.starts_with("@@") {
            "\x1b[36m"
        } else {
            ""
        };
        if colour.is_empty() {
            out.push_str(line);
        } else {
            let (content, ending) = match line.strip_suffix('\n') {
                Some(content) => (content, "\n"),
                None => (line, ""),
            };
            out.push_str(colour);
            out.push_str(content);
            out.push_str("\x1b[0m");
            out.push_str(ending);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(original: Option<&str>, edited: &str) -> FileChange {
        FileChange { relative_path: "a/b.py".into(), path: "a/b.py".into(), original: original.map(str::to_string), edited: edited.into() }
    }

    #[test]
    fn diffs_have_git_headers() {
        let diff = unified_diff(&change(Some("x\ny\n"), "x\nz\ny\n"));
        assert!(diff.starts_with("diff --git a/a/b.py b/a/b.py\n--- a/a/b.py\n+++ b/a/b.py\n@@"), "{diff}");
        assert!(diff.contains("\n+z\n"), "{diff}");
        let created = unified_diff(&change(None, "x\n"));
        assert!(created.contains("new file mode 100644\n--- /dev/null\n+++ b/a/b.py\n"), "{created}");
        assert!(unified_diff(&change(Some("x\n"), "x\n")).is_empty());
    }

    #[test]
    fn atomic_write_keeps_mode_and_refuses_clobbering_when_creating() {
        use std::os::unix::fs::PermissionsExt;
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("f.py");
        std::fs::write(&path, "old").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o750)).expect("chmod");
        let mode = std::fs::metadata(&path).expect("metadata").permissions();
        atomic_write(&path, b"new", Some(mode), false).expect("writes");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
        assert_eq!(std::fs::metadata(&path).expect("metadata").permissions().mode() & 0o777, 0o750);
        assert!(atomic_write(&path, b"other", None, true).is_err());
        assert_eq!(std::fs::read_dir(folder.path()).expect("list").count(), 1, "no temporary file left");
    }
}
