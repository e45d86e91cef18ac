//! Fix templates: the snippets `fix` inserts, kept as files in `rules/templates/` that a
//! configuration can replace (`[fix.templates]`).
//!
//! A template is a header and a body separated by a line `---`. Header lines:
//! - `# ...`: a comment;
//! - `import <statement>`: an import the body needs (`import from fastapi import HTTPException`);
//! - `param <role> <declaration>; <import>; ...`: a handler parameter the body reads as
//!   `{role}`, added with its imports when the handler has none playing that role;
//! - `binds <name>...`: names the body assigns; a function already using one is not patched;
//! - `requires async`: the body awaits, so only an `async def` can hold it.
//!
//! The body is written with 4-space indentation; it is re-indented with the file's own unit
//! (tabs or N spaces) and placed at the indentation of the statement it goes next to.
//! `{name}` is replaced by the placeholder's value; `{{` and `}}` are literal braces.

use std::collections::BTreeMap;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum TemplateError {
    #[error("{name}: no `---` line between the header and the body")]
    NoBody { name: String },
    #[error("{name}:{line}: {message}")]
    Header { name: String, line: usize, message: String },
    #[error("{name}: unknown placeholder {{{placeholder}}}")]
    Placeholder { name: String, placeholder: String },
}

/// A handler parameter a template needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// The placeholder naming it in the body (`session`).
    pub role: String,
    /// `db: Session = Depends(get_db)`.
    pub declaration: String,
    pub imports: Vec<String>,
}

impl ParamSpec {
    /// The parameter's name in its declaration (`db`).
    pub fn name(&self) -> &str {
        let end = self.declaration.find([':', '=', ' ']).unwrap_or(self.declaration.len());
        &self.declaration[..end]
    }

    /// The annotation's last segment (`Session` in `db: orm.Session = ...`).
    pub fn annotation(&self) -> Option<&str> {
        let (_, rest) = self.declaration.split_once(':')?;
        let annotation = rest.split('=').next()?.trim();
        let annotation = annotation.rsplit('.').next()?;
        (!annotation.is_empty()).then_some(annotation)
    }
}

#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    pub imports: Vec<String>,
    pub params: Vec<ParamSpec>,
    pub binds: Vec<String>,
    pub requires_async: bool,
    body: String,
}

impl Template {
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut template = Template {
            name: name.to_string(),
            imports: Vec::new(),
            params: Vec::new(),
            binds: Vec::new(),
            requires_async: false,
            body: String::new(),
        };
        let mut lines = text.lines().enumerate();
        let mut has_body = false;
        for (number, line) in lines.by_ref() {
            let line = line.trim_end();
            if line == "---" {
                has_body = true;
                break;
            }
            let header = |message: &str| TemplateError::Header { name: name.to_string(), line: number + 1, message: message.to_string() };
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (keyword, rest) = line.split_once(' ').unwrap_or((line, ""));
            match keyword {
                "import" if !rest.trim().is_empty() => template.imports.push(rest.trim().to_string()),
                "param" => {
                    let (role, declaration) =
                        rest.trim().split_once(' ').ok_or_else(|| header("`param` needs a role and a declaration"))?;
                    let mut parts = declaration.split(';').map(str::trim).filter(|part| !part.is_empty());
                    let declaration = parts.next().ok_or_else(|| header("`param` needs a declaration"))?.to_string();
                    template.params.push(ParamSpec { role: role.to_string(), declaration, imports: parts.map(str::to_string).collect() });
                }
                "binds" => template.binds.extend(rest.split_whitespace().map(str::to_string)),
                "requires" if rest.trim() == "async" => template.requires_async = true,
                _ => return Err(header(&format!("unknown header line {line:?}"))),
            }
        }
        if !has_body {
            return Err(TemplateError::NoBody { name: name.to_string() });
        }
        template.body = lines.map(|(_, line)| line.trim_end()).collect::<Vec<_>>().join("\n").trim_end().to_string();
        Ok(template)
    }

    /// The body with its placeholders filled, as lines of (indentation level, text).
    pub fn render(&self, values: &BTreeMap<&str, String>) -> Result<Vec<(usize, String)>, TemplateError> {
        let filled = fill(&self.name, &self.body, values)?;
        Ok(filled
            .lines()
            .map(|line| {
                let spaces = line.len() - line.trim_start_matches(' ').len();
                (spaces / 4, format!("{}{}", " ".repeat(spaces % 4), line.trim_start_matches(' ')))
            })
            .collect())
    }

    /// The imports with their placeholders filled.
    pub fn filled_imports(&self, values: &BTreeMap<&str, String>) -> Result<Vec<String>, TemplateError> {
        self.imports.iter().map(|import| fill(&self.name, import, values)).collect()
    }
}

/// Replaces `{name}` by its value; `{{`/`}}` are literal braces.
fn fill(template: &str, text: &str, values: &BTreeMap<&str, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if let Some(after) = tail.strip_prefix('}') {
            out.push('}');
            rest = after;
            continue;
        }
        let Some(end) = tail.find('}') else {
            out.push_str(tail);
            rest = "";
            break;
        };
        let placeholder = &tail[1..end];
        let value = values
            .get(placeholder)
            .ok_or_else(|| TemplateError::Placeholder { name: template.to_string(), placeholder: placeholder.to_string() })?;
        out.push_str(value);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_body() {
        let template = Template::parse(
            "t",
            "# c\nimport from x import y\nparam session db: Session = Depends(get_db); from a import Session\nbinds a b\nrequires async\n---\nif {x}:\n    raise E({{}})\n",
        )
        .expect("parses");
        assert_eq!(template.imports, vec!["from x import y"]);
        assert_eq!(template.params[0].name(), "db");
        assert_eq!(template.params[0].annotation(), Some("Session"));
        assert_eq!(template.params[0].imports, vec!["from a import Session"]);
        assert_eq!(template.binds, vec!["a", "b"]);
        assert!(template.requires_async);
        let values = BTreeMap::from([("x", "ok".to_string())]);
        assert_eq!(template.render(&values).expect("renders"), vec![(0, "if ok:".to_string()), (1, "raise E({})".to_string())]);
    }

    #[test]
    fn errors_name_the_template() {
        assert!(Template::parse("t", "import x\n").unwrap_err().to_string().starts_with("t: no `---`"));
        assert!(Template::parse("t", "bogus\n---\n").unwrap_err().to_string().starts_with("t:1:"));
        let template = Template::parse("t", "---\n{missing}\n").expect("parses");
        assert!(template.render(&BTreeMap::new()).unwrap_err().to_string().contains("{missing}"));
    }
}
