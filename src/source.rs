//! A source file's text and the mapping between byte offsets and line/column positions.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::facts::Language;

/// One file read from disk, with its path relative to the scan root.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the scan root, with `/` separators (what reports show).
    pub relative_path: String,
    /// Path on disk.
    pub path: PathBuf,
    pub language: Language,
    pub text: String,
    /// Where each line starts, found when a line is first asked for: most files of a scan
    /// never are, and a whole tree's line table would be a quarter of its text's size.
    line_starts: OnceLock<Vec<u32>>,
}

impl SourceFile {
    pub fn new(relative_path: String, path: PathBuf, language: Language, text: String) -> SourceFile {
        SourceFile { relative_path, path, language, text, line_starts: OnceLock::new() }
    }

    fn line_starts(&self) -> &[u32] {
        self.line_starts.get_or_init(|| {
            let bytes = self.text.as_bytes();
            let mut starts = Vec::with_capacity(memchr::memchr_iter(b'\n', bytes).count() + 1);
            starts.push(0);
            // Discovery reads no file near 4 GiB; in a longer one, lines past it would read as empty.
            starts.extend(memchr::memchr_iter(b'\n', bytes).map_while(|index| u32::try_from(index + 1).ok()));
            starts
        })
    }

    pub fn line_count(&self) -> usize {
        self.line_starts().len()
    }

    /// The text of a 0-based line without its line ending; empty past the end.
    pub fn line(&self, line: usize) -> &str {
        let starts = self.line_starts();
        let Some(&start) = starts.get(line) else {
            return "";
        };
        let (start, end) = (start as usize, starts.get(line + 1).map_or(self.text.len(), |end| *end as usize));
        let raw = self.text.get(start..end).unwrap_or("");
        raw.trim_end_matches(['\n', '\r'])
    }

    /// 1-based character column of a 0-based byte column on a 0-based line. A byte order
    /// mark is not a character of the first line.
    pub fn character_column(&self, line: usize, byte_column: usize) -> usize {
        let text = self.line(line);
        let mut end = byte_column.min(text.len());
        while end > 0 && !text.is_char_boundary(end) {
            end -= 1;
        }
        let prefix = text.get(..end).unwrap_or("");
        let prefix = if line == 0 { prefix.strip_prefix('\u{feff}').unwrap_or(prefix) } else { prefix };
        prefix.chars().count() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_character_columns() {
        let file = SourceFile::new("a.py".into(), "a.py".into(), Language::Python, "x = 1\r\né = r.json()\n".into());
        assert_eq!(file.line(0), "x = 1");
        assert_eq!(file.line(1), "é = r.json()");
        assert_eq!(file.line(7), "");
        // `r` is at byte 5 of line 1 (é is two bytes) and at character 5 (1-based).
        assert_eq!(file.character_column(1, 5), 5);
        assert_eq!(file.character_column(1, 0), 1);
        assert_eq!(file.line_count(), 3);
        let with_bom = SourceFile::new("b.py".into(), "b.py".into(), Language::Python, "\u{feff}x = r.json()\n".into());
        // `r` is at byte 7 (the BOM is three bytes) and at character 5.
        assert_eq!(with_bom.character_column(0, 7), 5);
    }
}
