//! Byte-range edits of one file: merging with conflict detection, applying, and mapping a
//! position in the edited text back to the original.

/// Replace `start..end` of the original text by `text` (an insertion when `start == end`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

impl Edit {
    pub fn insert(at: usize, text: impl Into<String>) -> Edit {
        Edit { start: at, end: at, text: text.into() }
    }

    /// Two edits touch one region: they overlap, or one inserts inside the other's range.
    /// Two insertions at one point do not conflict; they keep their order.
    pub fn conflicts_with(&self, other: &Edit) -> bool {
        if self.start == self.end && other.start == other.end {
            return false;
        }
        if self.start == self.end {
            return other.start < self.start && self.start < other.end;
        }
        if other.start == other.end {
            return self.start < other.start && other.start < self.end;
        }
        self.start < other.end && other.start < self.end
    }
}

/// Applies edits that do not conflict, in order of position (insertions at one point in
/// the order given). Bytes outside the edits are copied as they are.
pub fn apply(original: &str, edits: &[Edit]) -> String {
    let mut ordered: Vec<(usize, &Edit)> = edits.iter().enumerate().collect();
    ordered.sort_by_key(|(order, edit)| (edit.start, edit.end, *order));
    let mut out = String::with_capacity(original.len() + edits.iter().map(|edit| edit.text.len()).sum::<usize>());
    let mut at = 0;
    for (_, edit) in ordered {
        if edit.start < at || edit.end > original.len() {
            continue;
        }
        out.push_str(&original[at..edit.start]);
        out.push_str(&edit.text);
        at = edit.end;
    }
    out.push_str(&original[at..]);
    out
}

/// The offset in the original text of `offset` in the edited one; `None` when it falls in
/// text an edit wrote.
pub fn map_back(edits: &[Edit], offset: usize) -> Option<usize> {
    let mut ordered: Vec<&Edit> = edits.iter().collect();
    ordered.sort_by_key(|edit| (edit.start, edit.end));
    let mut shift: isize = 0;
    for edit in ordered {
        let new_start = (edit.start as isize + shift) as usize;
        if offset < new_start {
            break;
        }
        let new_end = new_start + edit.text.len();
        if offset < new_end {
            return None;
        }
        shift += edit.text.len() as isize - (edit.end - edit.start) as isize;
    }
    usize::try_from(offset as isize - shift).ok()
}

/// How a file writes its lines: line ending and one level of indentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub newline: &'static str,
    pub indent_unit: String,
}

impl Layout {
    /// The line ending of the file's first line (LF when it has one line), and the
    /// indentation step most used after a line that opens a block (`:` or `{` at its end).
    pub fn of(text: &str) -> Layout {
        let newline = match text.find('\n') {
            Some(at) if at > 0 && text.as_bytes().get(at - 1) == Some(&b'\r') => "\r\n",
            _ => "\n",
        };
        let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.windows(2) {
            let (opener, next) = (pair[0].trim_end(), pair[1]);
            if !(opener.ends_with(':') || opener.ends_with('{')) || next.trim().is_empty() {
                continue;
            }
            let outer = leading_whitespace(opener);
            let inner = leading_whitespace(next);
            if let Some(step) = inner.strip_prefix(outer)
                && !step.is_empty()
                && (step.chars().all(|c| c == ' ') || step.chars().all(|c| c == '\t'))
            {
                *counts.entry(step.to_string()).or_default() += 1;
            }
        }
        let indent_unit = counts.into_iter().max_by_key(|(step, count)| (*count, std::cmp::Reverse(step.len()))).map(|(step, _)| step);
        Layout { newline, indent_unit: indent_unit.unwrap_or_else(|| "    ".to_string()) }
    }

    /// Rendered template lines at `indent`, each followed by a line ending.
    pub fn block(&self, indent: &str, lines: &[(usize, String)]) -> String {
        let mut out = String::new();
        for (level, line) in lines {
            if !line.is_empty() {
                out.push_str(indent);
                out.push_str(&self.indent_unit.repeat(*level));
                out.push_str(line);
            }
            out.push_str(self.newline);
        }
        out
    }
}

pub fn leading_whitespace(line: &str) -> &str {
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// The offset where the line holding `offset` starts.
pub fn line_start(text: &str, offset: usize) -> usize {
    text.get(..offset).and_then(|before| before.rfind('\n')).map_or(0, |at| at + 1)
}

/// The offset just past the line ending of the line holding `offset` (the text's end when
/// the line has none).
pub fn next_line_start(text: &str, offset: usize) -> usize {
    text.get(offset..).and_then(|after| after.find('\n')).map_or(text.len(), |at| offset + at + 1)
}

/// The whitespace before a statement starting at `offset`, when nothing else precedes it
/// on its line (a BOM on the first line does not count).
pub fn indentation_at(text: &str, offset: usize) -> Option<&str> {
    let start = line_start(text, offset);
    let before = text.get(start..offset)?;
    let before = if start == 0 { before.strip_prefix('\u{feff}').unwrap_or(before) } else { before };
    before.chars().all(|c| c == ' ' || c == '\t').then_some(before)
}

/// The indentation of the line a statement starts on, when nothing but that indentation
/// and a declaration keyword precedes it: the facts of a TypeScript declaration start at
/// its declarator (`tokens` in `const tokens = ...`), and the statement at the keyword.
pub fn statement_indentation(text: &str, offset: usize) -> Option<&str> {
    let start = line_start(text, offset);
    let before = text.get(start..offset)?;
    let before = if start == 0 { before.strip_prefix('\u{feff}').unwrap_or(before) } else { before };
    let keyword = before.trim_start_matches([' ', '\t']);
    matches!(keyword, "" | "const " | "let " | "var " | "export const " | "export let ").then(|| &before[..before.len() - keyword.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts() {
        let insert = |at| Edit::insert(at, "x");
        let replace = |start, end| Edit { start, end, text: String::new() };
        assert!(!insert(3).conflicts_with(&insert(3)));
        assert!(insert(3).conflicts_with(&replace(2, 5)));
        assert!(!insert(2).conflicts_with(&replace(2, 5)));
        assert!(replace(0, 4).conflicts_with(&replace(3, 6)));
        assert!(!replace(0, 3).conflicts_with(&replace(3, 6)));
    }

    #[test]
    fn apply_and_map_back() {
        let original = "abcdef";
        let edits = vec![Edit::insert(2, "XY"), Edit { start: 4, end: 5, text: "Z".into() }, Edit::insert(2, "W")];
        let edited = apply(original, &edits);
        assert_eq!(edited, "abXYWcdZf");
        assert_eq!(map_back(&edits, 0), Some(0));
        assert_eq!(map_back(&edits, 2), None);
        assert_eq!(map_back(&edits, 5), Some(2));
        assert_eq!(map_back(&edits, 8), Some(5));
    }

    #[test]
    fn layout() {
        assert_eq!(Layout::of("def f():\r\n\treturn 1\r\n"), Layout { newline: "\r\n", indent_unit: "\t".into() });
        assert_eq!(Layout::of("class A:\n  def f(self):\n    pass\n").indent_unit, "  ");
        assert_eq!(Layout::of("x = 1\n").indent_unit, "    ");
        assert_eq!(indentation_at("\u{feff}x = 1", 3), Some(""));
        assert_eq!(indentation_at("if a: b = 1", 6), None);
        assert_eq!(next_line_start("ab\ncd", 1), 3);
        assert_eq!(next_line_start("ab", 1), 2);
    }
}
