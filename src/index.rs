//! The scanned tree as a whole: every readable source file, its facts parsed on demand,
//! and resolution of imported names to the files and functions that define them.

use std::sync::OnceLock;

use crate::facts::{FileFacts, Function, Language};
use crate::lang::{self, FrontendError};
use crate::source::SourceFile;

pub struct Project {
    pub files: Vec<SourceFile>,
    facts: Vec<OnceLock<Result<FileFacts, FrontendError>>>,
}

impl Project {
    pub fn new(files: Vec<SourceFile>) -> Project {
        let facts = files.iter().map(|_| OnceLock::new()).collect();
        Project { files, facts }
    }

    /// The facts of file `index`, parsing it the first time they are asked for.
    pub fn facts(&self, index: usize) -> Option<&FileFacts> {
        self.parse_result(index)?.as_ref().ok()
    }

    pub fn parse_result(&self, index: usize) -> Option<&Result<FileFacts, FrontendError>> {
        let file = self.files.get(index)?;
        let slot = self.facts.get(index)?;
        Some(slot.get_or_init(|| lang::extract(file.language, &file.text)))
    }

    /// True when the file has been parsed (by a rule or by resolution).
    pub fn is_parsed(&self, index: usize) -> bool {
        self.facts.get(index).is_some_and(|slot| slot.get().is_some())
    }

    /// The file a module path (`core.http`, `.http`, `..core.http`) imported from the file
    /// `from_index` refers to, when the scanned tree holds exactly one candidate.
    pub fn resolve_module(&self, from_index: usize, module: &str) -> Option<usize> {
        let from = self.files.get(from_index)?;
        if from.language != Language::Python {
            return None;
        }
        let dots = module.chars().take_while(|c| *c == '.').count();
        let rest = &module[dots..];
        let relative: String = rest.replace('.', "/");
        let candidates: Vec<String> = if dots > 0 {
            let mut folder: Vec<&str> = from.relative_path.split('/').collect();
            folder.pop();
            for _ in 1..dots {
                folder.pop();
            }
            let base = folder.join("/");
            let joined = |tail: &str| if base.is_empty() { tail.to_string() } else { format!("{base}/{tail}") };
            if relative.is_empty() {
                vec![joined("__init__.py")]
            } else {
                vec![joined(&format!("{relative}.py")), joined(&format!("{relative}/__init__.py"))]
            }
        } else {
            vec![format!("{relative}.py"), format!("{relative}/__init__.py")]
        };
        let mut found = None;
        for (index, file) in self.files.iter().enumerate() {
            let matches = candidates.iter().any(|candidate| {
                if dots > 0 {
                    file.relative_path == *candidate
                } else {
                    file.relative_path == *candidate || file.relative_path.ends_with(&format!("/{candidate}"))
                }
            });
            if matches {
                if found.is_some() {
                    return None;
                }
                found = Some(index);
            }
        }
        found
    }

    /// The file a name bound to a module refers to: `import app.http as h`, or
    /// `from app import http as h` (a submodule).
    pub fn resolve_module_alias(&self, from_index: usize, alias: &str) -> Option<usize> {
        let facts = self.facts(from_index)?;
        let import = facts.imports.iter().find(|import| import.alias == alias)?;
        match &import.name {
            None => self.resolve_module(from_index, &import.module),
            Some(name) => {
                let separator = if import.module.ends_with('.') { "" } else { "." };
                self.resolve_module(from_index, &format!("{}{separator}{name}", import.module))
            }
        }
    }

    /// The method `method` of class `class` defined in file `file_index`, or inherited from
    /// a base class in the same file or imported from another file of the tree, following
    /// at most `depth` levels of bases.
    pub fn find_method(&self, file_index: usize, class: &str, method: &str, depth: usize) -> Option<(usize, &Function)> {
        let facts = self.facts(file_index)?;
        if let Some(function) = facts.functions.iter().find(|function| function.name == method && function.class.as_deref() == Some(class))
        {
            return Some((file_index, function));
        }
        if depth == 0 {
            return None;
        }
        let definition = facts.classes.iter().find(|candidate| candidate.name == class)?;
        for base in &definition.bases {
            let Some(dotted) = base.dotted() else { continue };
            if dotted != class
                && facts.classes.iter().any(|candidate| candidate.name == dotted)
                && let Some(found) = self.find_method(file_index, &dotted, method, depth - 1)
            {
                return Some(found);
            }
            // `from app.base import BaseService` or `base.BaseService`.
            let (target, name) = match dotted.rsplit_once('.') {
                Some((module, name)) => (self.resolve_module_alias(file_index, module), name.to_string()),
                None => {
                    let import = facts.imports.iter().find(|import| import.alias == dotted && import.name.is_some());
                    let target = import.and_then(|import| self.resolve_module(file_index, &import.module));
                    (target, import.and_then(|import| import.name.clone()).unwrap_or(dotted.clone()))
                }
            };
            if let Some(target) = target
                && let Some(found) = self.find_method(target, &name, method, depth - 1)
            {
                return Some(found);
            }
        }
        None
    }

    /// The function an imported name refers to: `from core.http import post_with_retry`.
    pub fn resolve_imported_function(&self, from_index: usize, name: &str) -> Option<(usize, &Function)> {
        let facts = self.facts(from_index)?;
        let import = facts.imports.iter().find(|import| import.alias == name && import.name.is_some())?;
        let target = self.resolve_module(from_index, &import.module)?;
        let imported = import.name.as_deref()?;
        let function = self.facts(target)?.find_function(None, imported)?;
        Some((target, function))
    }
}
