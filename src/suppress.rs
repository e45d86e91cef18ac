//! Inline suppressions: `# oauth-audit: ignore[unguarded-json] -- reason` (or `//`) on the
//! line of a finding or the line above; a bare `ignore` suppresses every rule there.

use std::collections::BTreeMap;

use crate::facts::Comment;
use crate::rules::RuleInfo;
use crate::source::SourceFile;

/// Every suppression comment holds this: the frontend reads only comments holding it.
pub const MARKER: &str = "oauth-audit:";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suppression {
    All,
    Rules(Vec<String>),
}

/// Suppressions by 0-based line.
#[derive(Debug, Default)]
pub struct Suppressions {
    /// A comment at the end of a line of code covers that line.
    trailing: BTreeMap<usize, Suppression>,
    /// A comment alone on its line covers that line and the next.
    standalone: BTreeMap<usize, Suppression>,
}

impl Suppressions {
    pub fn from_comments(comments: &[Comment], file: &SourceFile) -> Suppressions {
        let mut suppressions = Suppressions::default();
        for comment in comments {
            let Some(suppression) = parse(&comment.text) else { continue };
            let line = comment.span.start.line;
            let before = file.line(line).get(..comment.span.start.column).unwrap_or("");
            if before.trim().is_empty() {
                suppressions.standalone.insert(line, suppression);
            } else {
                suppressions.trailing.insert(line, suppression);
            }
        }
        suppressions
    }

    /// True when a finding of `rule` on 0-based `line` is suppressed.
    pub fn covers(&self, rule: &RuleInfo, line: usize) -> bool {
        let applies = |suppression: Option<&Suppression>| match suppression {
            Some(Suppression::All) => true,
            Some(Suppression::Rules(ids)) => ids.iter().any(|id| rule.matches(id)),
            None => false,
        };
        applies(self.trailing.get(&line))
            || applies(self.standalone.get(&line))
            || line.checked_sub(1).is_some_and(|above| applies(self.standalone.get(&above)))
    }
}

/// Reads one comment: `# oauth-audit: ignore`, `// oauth-audit: ignore[a, OA002] -- why`.
pub fn parse(comment: &str) -> Option<Suppression> {
    let start = comment.find(MARKER)?;
    let rest = comment[start + MARKER.len()..].trim_start();
    let rest = rest.strip_prefix("ignore")?;
    // `ignore` must be a whole word: `ignored` is not a suppression.
    if rest.chars().next().is_some_and(|c| !(c.is_whitespace() || c == '-' || c == '[')) {
        return None;
    }
    if let Some(list) = rest.trim_start().strip_prefix('[') {
        let end = list.find(']')?;
        let ids: Vec<String> = list[..end].split(',').map(|id| id.trim().to_string()).filter(|id| !id.is_empty()).collect();
        return Some(if ids.is_empty() { Suppression::All } else { Suppression::Rules(ids) });
    }
    Some(Suppression::All)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("# oauth-audit: ignore"), Some(Suppression::All));
        assert_eq!(parse("# oauth-audit: ignore -- provider always JSON"), Some(Suppression::All));
        assert_eq!(
            parse("// oauth-audit: ignore[unguarded-json, OA002] -- why"),
            Some(Suppression::Rules(vec!["unguarded-json".into(), "OA002".into()]))
        );
        assert_eq!(parse("# oauth-audit: ignored"), None);
        assert_eq!(parse("# oauth-audit: ignore  # another comment"), Some(Suppression::All));
        assert_eq!(parse("#oauth-audit:ignore[OA001]"), Some(Suppression::Rules(vec!["OA001".into()])));
        assert_eq!(parse("# nothing here"), None);
    }
}
