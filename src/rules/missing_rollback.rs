//! ## missing-rollback (OA004)
//!
//! ### What it does
//! Finds `except` handlers that run after a write to a database session inside their `try`
//! and leave (or carry on) without rolling that session back.
//!
//! ### Why is this bad?
//! After a failed flush or commit, a SQLAlchemy session refuses all further work until it
//! is rolled back ("This Session's transaction has been rolled back due to a previous
//! exception during flush"). Every later request that gets the same session, or the rest
//! of this one, fails with an error that has nothing to do with its cause. The worst case
//! is a handler that swallows the error and lets the function commit anyway: a half-done
//! unit of work is committed.
//!
//! Writes are session calls (`[rollback] writes`: `add`, `merge`, `delete`, `execute`,
//! `flush`, `commit`, `bulk_*`) on a session: a name or annotation that says so, a
//! `Depends(get_db)` parameter, or a name bound by a session factory or manager. A handler
//! is fine when it calls `<same session>.rollback()` (awaited or not), or when the writes
//! sit inside a context manager that rolls back on error (`with session.begin():`,
//! `with get_db_session() as db:`, `[rollback] managers`) and the handler re-raises, so the
//! manager sees the error. A `try` without writes needs nothing (an `except` that runs
//! before any write cannot leave a dirty session), and a handler that catches only errors
//! the application raises itself (`HTTPException`, `[rollback] early_errors`) needs nothing
//! unless one is raised after the first write.
//!
//! ### Example
//! ```python
//! try:
//!     db.add(token)
//!     db.commit()
//! except Exception as e:
//!     logger.error("could not store token: %s", e)
//!     raise HTTPException(status_code=500, detail="Connection failed") from e
//! ```
//!
//! ### Use instead
//! ```python
//! try:
//!     db.add(token)
//!     db.commit()
//! except Exception as e:
//!     db.rollback()
//!     logger.error("could not store token: %s", e)
//!     raise HTTPException(status_code=500, detail="Connection failed") from e
//! ```
//!
//! ### How to suppress
//! `# oauth-audit: ignore[missing-rollback] -- reason` on the `except` line or the line above.
//!
//! ### Fix safety
//! `oauth-audit fix` inserts `<session>.rollback()` first in the handler (awaited for an
//! async session); a handler whose body is on its `except` line is skipped.

use std::collections::BTreeSet;

use crate::callbacks::{Sessions, managed_sessions, sessions_of};
use crate::config::Config;
use crate::facts::{Block, ExprKind, FileFacts, Function, Handler, Language, Span, StmtKind, last_segment};
use crate::rules::{Confidence, Finding, Related, RuleInfo, Severity};

pub static RULE: RuleInfo = RuleInfo {
    code: "OA004",
    slug: "missing-rollback",
    step: Some("rollback"),
    severity: Severity::Error,
    fixable: true,
    title: "`except` after a database write leaves without rolling the session back",
    source: include_str!("missing_rollback.rs"),
};

/// An `except` handler that runs after a write and so needs a rollback.
#[derive(Debug, Clone)]
pub struct RollbackSite {
    pub span: Span,
    /// `None` when the handler rolls back (or a manager does).
    pub finding: Option<Finding>,
    /// The session the handler must roll back, with the finding.
    pub session: Option<String>,
}

/// Cheap test on the raw text: a file without `except` and a session write needs no parse
/// for this rule.
pub fn may_have_sites(text: &str) -> bool {
    (text.contains("except") || text.contains("Err("))
        && [".commit(", ".flush(", ".add(", ".execute(", ".merge(", ".delete("].iter().any(|write| text.contains(write))
}

/// Every handler of the file that runs after a write, with a finding when it does not
/// roll back.
pub fn check_file(config: &Config, file_index: usize, facts: &FileFacts) -> Vec<RollbackSite> {
    let mut sites = Vec::new();
    for function in facts.functions.iter().filter(|function| !function.is_module()) {
        let mut has_handler = false;
        function.body.visit(&mut |stmt| has_handler |= matches!(&stmt.kind, StmtKind::Try { handlers, .. } if !handlers.is_empty()));
        if !has_handler {
            continue;
        }
        let sessions = sessions_of(config, function);
        let checker = Checker { config, file_index, language: facts.language, function, sessions: &sessions };
        // A transaction that rolls back when dropped is managed for the whole function.
        let scoped: BTreeSet<String> = sessions.scoped().iter().cloned().collect();
        checker.block(&function.body, &scoped, &mut sites);
    }
    sites
}

struct Checker<'c> {
    config: &'c Config,
    file_index: usize,
    language: Language,
    function: &'c Function,
    sessions: &'c Sessions,
}

/// A session write inside a `try`.
struct Write {
    session: String,
    span: Span,
}

impl Checker<'_> {
    /// `managed`: sessions bound by an enclosing context manager that rolls back.
    fn block(&self, block: &Block, managed: &BTreeSet<String>, sites: &mut Vec<RollbackSite>) {
        for stmt in &block.statements {
            match &stmt.kind {
                StmtKind::FunctionDef(_) | StmtKind::ClassDef { .. } => continue,
                StmtKind::With { items, body, .. } => {
                    let mut inner = managed.clone();
                    for item in items {
                        inner.extend(managed_sessions(self.config, item));
                    }
                    self.block(body, &inner, sites);
                    continue;
                }
                StmtKind::Try { body, handlers, .. } => {
                    let writes = self.writes(body);
                    if let Some(first) = writes.first() {
                        for handler in handlers {
                            if self.runs_before_writes(handler, body, first.span.end_byte) {
                                continue;
                            }
                            sites.push(self.site(handler, &writes, managed, stmt.span.end_byte));
                        }
                    }
                }
                _ => {}
            }
            for nested in stmt.blocks() {
                self.block(nested, managed, sites);
            }
        }
    }

    fn writes(&self, block: &Block) -> Vec<Write> {
        let mut writes: Vec<Write> = block
            .calls()
            .into_iter()
            .filter_map(|(_, call, expression)| {
                let ExprKind::Attribute { name, .. } = &call.callee.kind else { return None };
                if !self.config.rollback.writes.contains(name) {
                    return None;
                }
                let session = self.sessions.written_session(self.config, call)?;
                Some(Write { session, span: expression.span })
            })
            .collect();
        writes.sort_by_key(|write| write.span.start_byte);
        writes
    }

    /// A handler that catches only errors the application raises itself, none of which
    /// is raised after the first write.
    fn runs_before_writes(&self, handler: &Handler, body: &Block, first_write_end: usize) -> bool {
        let early = |name: &str| self.config.rollback.early_errors.iter().any(|early| early == last_segment(name));
        if handler.types.is_empty() || !handler.types.iter().all(|name| early(name)) {
            return false;
        }
        let mut raised_after = false;
        body.visit(&mut |stmt| {
            if let StmtKind::Raise { exception: Some(exception), .. } = &stmt.kind
                && stmt.span.start_byte > first_write_end
            {
                let raised = exception.as_call().map(|call| &*call.callee).unwrap_or(exception);
                if raised.dotted().is_some_and(|name| handler.types.iter().any(|caught| last_segment(caught) == last_segment(&name))) {
                    raised_after = true;
                }
            }
        });
        !raised_after
    }

    fn site(&self, handler: &Handler, writes: &[Write], managed: &BTreeSet<String>, try_end: usize) -> RollbackSite {
        let written: BTreeSet<&str> = writes.iter().map(|write| write.session.as_str()).collect();
        let rolled_back: BTreeSet<String> = handler
            .body
            .calls()
            .into_iter()
            .filter_map(|(_, call, _)| match &call.callee.kind {
                ExprKind::Attribute { object, name } if name == "rollback" => object.dotted(),
                _ => None,
            })
            .collect();
        let leaves = handler.body.leaves();
        let unsafe_session = written.iter().find(|session| {
            let rolled = rolled_back.contains(**session);
            let by_manager = managed.contains(**session) && leaves;
            !rolled && !by_manager
        });
        let Some(session) = unsafe_session else {
            return RollbackSite { span: handler.span, finding: None, session: None };
        };
        let first = writes.iter().find(|write| write.session == *session).map(|write| write.span).unwrap_or(handler.span);
        let caught = match (self.language, handler.types.is_empty()) {
            (Language::Rust, true) => format!("the `Err({})` handler", handler.name.as_deref().unwrap_or("_")),
            (Language::Rust, false) => format!("the `Err({})` handler", handler.types.join(" | ")),
            (_, true) => "a bare `except`".to_string(),
            (_, false) => format!("`except {}`", handler.types.join(", ")),
        };
        let head =
            format!("{caught} in `{}` runs after a write to `{session}` (line {})", self.function.qualified_name(), first.start.line + 1);
        let commit_after = (!leaves).then(|| self.commit_after(session, try_end)).flatten();
        let mut related =
            vec![Related { file_index: self.file_index, line: first.start.line, message: format!("first write to `{session}`") }];
        let message = if managed.contains(*session) && !self.sessions.scoped().contains(*session) {
            format!(
                "{head} and swallows the error inside a context manager that commits: the failed unit of work is committed; re-raise or call `{session}.rollback()`"
            )
        } else if let Some(commit) = commit_after {
            related.push(Related {
                file_index: self.file_index,
                line: commit.start.line,
                message: format!("`{session}` committed after the error"),
            });
            format!(
                "{head}, swallows the error without `{session}.rollback()`, and the function then commits (line {}): the worst case, a half-done unit of work is committed",
                commit.start.line + 1
            )
        } else if !leaves {
            format!(
                "{head} and swallows the error without `{session}.rollback()`: the session stays in a failed transaction for whatever uses it next"
            )
        } else {
            format!("{head} and leaves without `{session}.rollback()`: the session stays in a failed transaction for whatever uses it next")
        };
        let finding = Finding {
            rule: &RULE,
            file_index: self.file_index,
            span: handler.span,
            function: Some(self.function.qualified_name()),
            message,
            confidence: Some(Confidence::High),
            fixable: true,
            related,
        };
        RollbackSite { span: handler.span, finding: Some(finding), session: Some(session.to_string()) }
    }

    /// A commit of `session` after the `try` ending at byte `try_end`.
    fn commit_after(&self, session: &str, try_end: usize) -> Option<Span> {
        self.function.body.calls().into_iter().find_map(|(_, call, expression)| match &call.callee.kind {
            ExprKind::Attribute { object, name }
                if self.config.persistence.commits.contains(name)
                    && object.dotted().as_deref() == Some(session)
                    && expression.span.start_byte >= try_end =>
            {
                Some(expression.span)
            }
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{ExtractOptions, python};

    fn check(text: &str) -> Vec<RollbackSite> {
        let config = Config::defaults().expect("defaults");
        let facts = python::extract(text, ExtractOptions::default()).expect("parses");
        check_file(&config, 0, &facts)
    }

    fn verdicts(text: &str) -> Vec<(usize, bool)> {
        check(text).iter().map(|site| (site.span.start.line + 1, site.finding.is_some())).collect()
    }

    #[test]
    fn handlers_after_writes_need_a_rollback() {
        let text = "def f(db: Session = Depends(get_db)):\n    try:\n        db.add(x)\n        db.commit()\n    except HTTPException:\n        raise\n    \
                    except Exception as e:\n        log(e)\n        raise HTTPException(500) from e\n\n\
                    def g(db):\n    try:\n        db.add(x)\n        db.commit()\n    except Exception:\n        db.rollback()\n        raise\n";
        assert_eq!(verdicts(text), vec![(7, true), (15, false)]);
    }

    #[test]
    fn an_except_before_any_write_needs_nothing() {
        assert!(verdicts("def f(db):\n    try:\n        data = parse()\n    except ValueError:\n        return None\n    db.add(data)\n    db.commit()\n").is_empty());
        assert!(
            verdicts("def f(items):\n    seen = set()\n    try:\n        seen.add(1)\n    except Exception:\n        pass\n").is_empty()
        );
    }

    #[test]
    fn managers_that_roll_back_cover_a_re_raise_but_not_a_swallow() {
        let text = "def f():\n    with get_db_session() as db:\n        try:\n            db.add(x)\n        except Exception:\n            raise\n\n\
                    def g():\n    with get_db_session() as db:\n        try:\n            db.add(x)\n        except Exception:\n            log()\n";
        assert_eq!(verdicts(text), vec![(5, false), (12, true)]);
        let message = check(text)[1].finding.as_ref().map(|finding| finding.message.clone()).unwrap_or_default();
        assert!(message.contains("inside a context manager that commits"), "{message}");
    }

    #[test]
    fn swallowing_then_committing_is_the_worst_case() {
        let text = "def f(db: Session):\n    try:\n        db.add(x)\n        db.flush()\n        notify()\n    except Exception as e:\n        log(e)\n    db.commit()\n";
        let sites = check(text);
        let message = sites[0].finding.as_ref().map(|finding| finding.message.clone()).unwrap_or_default();
        assert!(message.contains("the worst case") && message.contains("line 8"), "{message}");
    }

    #[test]
    fn an_early_error_raised_after_the_write_needs_a_rollback() {
        let text = "def f(db):\n    try:\n        db.add(x)\n        if bad:\n            raise HTTPException(400)\n        db.commit()\n    except HTTPException:\n        raise\n";
        assert_eq!(verdicts(text), vec![(7, true)]);
    }
}
