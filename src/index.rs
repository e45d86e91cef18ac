//! The scanned tree as a whole: every readable source file, and resolution of imported
//! names, modules and base classes to the files and functions that define them.
//!
//! A file's own analysis parses it and drops its facts when done; only files that
//! resolution reaches from another file (wrapper modules, base classes) are parsed into the
//! cache here and kept, so memory follows the links between files, not the size of the tree.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::facts::{Block, Expr, ExprKind, FileFacts, Function, Language, Stmt, StmtKind, last_segment};
use crate::lang::{self, ExtractOptions, FrontendError};
use crate::source::SourceFile;

/// How many levels of base classes are searched for an inherited method.
pub const BASE_CLASS_DEPTH: usize = 3;

/// What the resolution cache reads of a file: everything, suppression comments included,
/// so a file's own analysis can reuse it instead of parsing again.
const CACHED: ExtractOptions = ExtractOptions { outline: false, comments_with: Some(crate::suppress::MARKER) };

pub struct Project {
    pub files: Vec<SourceFile>,
    /// Facts of files reached by resolution, parsed on first use.
    resolved: Vec<OnceLock<Result<FileFacts, FrontendError>>>,
    /// File indices by file name (`http.py`), to find modules without scanning every path.
    by_file_name: HashMap<String, Vec<usize>>,
    /// Absolute module paths already resolved (`core.http`), shared by the workers.
    absolute: Mutex<HashMap<String, Option<usize>>>,
}

impl Project {
    pub fn new(files: Vec<SourceFile>) -> Project {
        let resolved = files.iter().map(|_| OnceLock::new()).collect();
        let mut by_file_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, file) in files.iter().enumerate() {
            let name = file.relative_path.rsplit('/').next().unwrap_or(&file.relative_path);
            by_file_name.entry(name.to_string()).or_default().push(index);
        }
        Project { files, resolved, by_file_name, absolute: Mutex::new(HashMap::new()) }
    }

    /// Parses file `index` for its own analysis, without caching, unless resolution has
    /// already parsed it (then its result is reused, failure included) and what was read
    /// there covers `options`.
    pub fn parse(&self, index: usize, options: ExtractOptions) -> Option<Result<CowFacts<'_>, String>> {
        let file = self.files.get(index)?;
        match self.resolved.get(index).and_then(OnceLock::get) {
            Some(Err(error)) => return Some(Err(error.to_string())),
            // The cache reads suppression comments too, so it covers every analysis.
            Some(Ok(facts)) if options.comments_with.is_none() || options.comments_with == CACHED.comments_with => {
                return Some(Ok(CowFacts::Cached(facts)));
            }
            _ => {}
        }
        Some(
            lang::extract_path(file.language, &file.relative_path, &file.text, options)
                .map(CowFacts::Owned)
                .map_err(|error| error.to_string()),
        )
    }

    /// The path of file `index` relative to the scan root, as reports show it.
    pub fn path(&self, index: usize) -> &str {
        self.files.get(index).map(|file| file.relative_path.as_str()).unwrap_or_default()
    }

    /// How many files resolution has parsed and keeps.
    pub fn resolved_count(&self) -> usize {
        self.resolved.iter().filter(|slot| slot.get().is_some()).count()
    }

    /// The facts of file `index` for resolution from another file: parsed once and kept.
    pub fn facts(&self, index: usize) -> Option<&FileFacts> {
        let file = self.files.get(index)?;
        let slot = self.resolved.get(index)?;
        slot.get_or_init(|| lang::extract_path(file.language, &file.relative_path, &file.text, CACHED)).as_ref().ok()
    }

    /// The file a module path (`core.http`, `.http`, `..core.http`) imported from the file
    /// `from_index` refers to, when the scanned tree holds exactly one candidate.
    pub fn resolve_module(&self, from_index: usize, module: &str) -> Option<usize> {
        let from = self.files.get(from_index)?;
        if from.language == Language::Rust {
            return self.resolve_rust_module(&from.relative_path, module);
        }
        if from.language != Language::Python {
            return None;
        }
        let dots = module.chars().take_while(|c| *c == '.').count();
        let relative: String = module[dots..].replace('.', "/");
        if dots > 0 {
            let mut folder: Vec<&str> = from.relative_path.split('/').collect();
            folder.pop();
            for _ in 1..dots {
                folder.pop()?;
            }
            let base = folder.join("/");
            let joined = |tail: &str| if base.is_empty() { tail.to_string() } else { format!("{base}/{tail}") };
            let candidates = if relative.is_empty() {
                vec![joined("__init__.py")]
            } else {
                vec![joined(&format!("{relative}.py")), joined(&format!("{relative}/__init__.py"))]
            };
            return candidates.iter().find_map(|candidate| self.exact(candidate));
        }
        // `core.http` is `core/http.py` or `core/http/__init__.py` at the root or below a
        // source folder (`backend/core/http.py`): unique or unresolved. The answer does not
        // depend on the importing file, so it is computed once per module.
        if let Some(found) = self.absolute.lock().ok().and_then(|cache| cache.get(module).copied()) {
            return found;
        }
        let found = self.resolve_absolute(&relative);
        if let Ok(mut cache) = self.absolute.lock() {
            cache.insert(module.to_string(), found);
        }
        found
    }

    /// A Rust module path (`crate.store`, `super.store`, `self.tokens`) used in the file
    /// `from_path`: `crate` is the folder holding the nearest `lib.rs`/`main.rs` above the
    /// file (the scan root when there is none); a module `m` is `m.rs` or `m/mod.rs`.
    /// Paths into other crates are not in the tree.
    fn resolve_rust_module(&self, from_path: &str, module: &str) -> Option<usize> {
        let (folder, file_name) = from_path.rsplit_once('/').unwrap_or(("", from_path));
        let stem = file_name.strip_suffix(".rs")?;
        let owns_folder = matches!(stem, "mod" | "lib" | "main");
        // Where the current module's children live, and where its siblings do.
        let children = if owns_folder { folder.to_string() } else { join_path(folder, stem) };
        let siblings =
            if owns_folder { folder.rsplit_once('/').map(|(parent, _)| parent).unwrap_or("").to_string() } else { folder.to_string() };
        let mut segments = module.split('.');
        let mut base = match segments.next()? {
            "crate" => self.crate_root(folder),
            "self" => children,
            "super" => siblings,
            _ => return None,
        };
        let mut rest: Vec<&str> = segments.collect();
        // `super::super::x`: one folder up per extra `super`.
        while rest.first() == Some(&"super") {
            rest.remove(0);
            base = base.rsplit_once('/').map(|(parent, _)| parent).unwrap_or("").to_string();
        }
        if rest.is_empty() {
            return None;
        }
        let path = join_path(&base, &rest.join("/"));
        [format!("{path}.rs"), format!("{path}/mod.rs")].iter().find_map(|candidate| self.exact(candidate))
    }

    /// The folder of the crate root (`lib.rs`/`main.rs`) nearest above `folder`.
    fn crate_root(&self, folder: &str) -> String {
        let mut current = folder.to_string();
        loop {
            if ["lib.rs", "main.rs"].iter().any(|root| self.exact(&join_path(&current, root)).is_some()) {
                return current;
            }
            if current.is_empty() {
                return current;
            }
            current = current.rsplit_once('/').map(|(parent, _)| parent.to_string()).unwrap_or_default();
        }
    }

    fn resolve_absolute(&self, relative: &str) -> Option<usize> {
        let mut found = None;
        for candidate in [format!("{relative}.py"), format!("{relative}/__init__.py")] {
            let name = candidate.rsplit('/').next().unwrap_or(&candidate);
            for &index in self.by_file_name.get(name).into_iter().flatten() {
                let path = &self.files[index].relative_path;
                if path.strip_suffix(candidate.as_str()).is_some_and(|head| head.is_empty() || head.ends_with('/')) {
                    if found.is_some_and(|other| other != index) {
                        return None;
                    }
                    found = Some(index);
                }
            }
        }
        found
    }

    fn exact(&self, relative_path: &str) -> Option<usize> {
        let name = relative_path.rsplit('/').next().unwrap_or(relative_path);
        self.by_file_name.get(name)?.iter().copied().find(|index| self.files[*index].relative_path == relative_path)
    }

    /// The file a name bound to a module refers to: `import app.http as h`, or
    /// `from app import http as h` (a submodule). `facts` are the importing file's.
    pub fn resolve_module_alias(&self, from_index: usize, facts: &FileFacts, alias: &str) -> Option<usize> {
        // Rust paths from the crate, the module or its parent need no import.
        if facts.language == Language::Rust && matches!(alias.split('.').next(), Some("crate" | "self" | "super")) {
            return self.resolve_module(from_index, alias);
        }
        let import = facts.imports.iter().find(|import| import.alias == alias)?;
        match &import.name {
            None => self.resolve_module(from_index, &import.module),
            Some(name) => {
                let separator = if import.module.ends_with('.') { "" } else { "." };
                self.resolve_module(from_index, &format!("{}{separator}{name}", import.module))
            }
        }
    }

    /// The file and the original name of a name imported with `from m import name [as
    /// alias]` into the file `from_index` (whose facts are `facts`), when `m` is in the tree.
    pub fn resolve_import<'f>(&self, from_index: usize, facts: &'f FileFacts, alias: &str) -> Option<(usize, &'f str)> {
        let import = facts.imports.iter().find(|import| import.alias == alias && import.name.is_some())?;
        Some((self.resolve_module(from_index, &import.module)?, import.name.as_deref()?))
    }

    /// The function an imported name refers to: `from core.http import post_with_retry`.
    pub fn resolve_imported_function(&self, from_index: usize, facts: &FileFacts, name: &str) -> Option<(usize, &Function)> {
        let (target, imported) = self.resolve_import(from_index, facts, name)?;
        let function = self.facts(target)?.find_function(None, imported)?;
        Some((target, function))
    }

    /// The method `method` of class `class` defined in file `file_index` (whose facts are
    /// `facts`), or inherited from a base class in the same file or imported from another
    /// file of the tree, following at most `depth` levels of bases.
    pub fn find_method<'a>(
        &'a self,
        file_index: usize,
        facts: &'a FileFacts,
        class: &str,
        method: &str,
        depth: usize,
    ) -> Option<(usize, &'a Function)> {
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
                && let Some(found) = self.find_method(file_index, facts, &dotted, method, depth - 1)
            {
                return Some(found);
            }
            // `from app.base import BaseService` or `base.BaseService`.
            let (target, name) = match dotted.rsplit_once('.') {
                Some((module, name)) => (self.resolve_module_alias(file_index, facts, module), name.to_string()),
                None => match self.resolve_import(file_index, facts, &dotted) {
                    Some((target, name)) => (Some(target), name.to_string()),
                    None => (None, dotted.clone()),
                },
            };
            if let Some(target) = target
                && let Some(target_facts) = self.facts(target)
                && let Some(found) = self.find_method(target, target_facts, &name, method, depth - 1)
            {
                return Some(found);
            }
        }
        None
    }
}

/// A function a call resolves to, with the file that defines it.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub file_index: usize,
    pub facts: &'a FileFacts,
    pub function: &'a Function,
}

/// Resolution of calls seen from the files of the tree: one file's own facts (parsed for
/// its analysis) plus the resolution cache for every other file.
pub struct Resolver<'a> {
    pub project: &'a Project,
    home: usize,
    home_facts: &'a FileFacts,
}

impl<'a> Resolver<'a> {
    pub fn new(project: &'a Project, home: usize, home_facts: &'a FileFacts) -> Resolver<'a> {
        Resolver { project, home, home_facts }
    }

    /// The facts of file `index`, the analysed file's own when it is that one.
    pub fn facts(&self, index: usize) -> Option<&'a FileFacts> {
        if index == self.home { Some(self.home_facts) } else { self.project.facts(index) }
    }

    /// The function `callee` names when called from `caller` in file `file_index`:
    /// functions of the file, imported functions, methods on `self`, on module aliases,
    /// on instances created in the caller (`service = HubSpotService()`), on annotated
    /// parameters, and on module-level singletons of this or another file
    /// (`zoom_auth_handler = ZoomAuthHandler()`).
    pub fn resolve_call(&self, file_index: usize, caller: &Function, callee: &Expr) -> Option<Target<'a>> {
        let facts = self.facts(file_index)?;
        match &callee.kind {
            ExprKind::Name(name) => {
                if let Some(function) = facts.find_function(None, name) {
                    return Some(Target { file_index, facts, function });
                }
                let (target, function) = self.project.resolve_imported_function(file_index, facts, name)?;
                Some(Target { file_index: target, facts: self.facts(target)?, function })
            }
            ExprKind::Attribute { object, name: method } => {
                if let Some(alias) = object.as_name()
                    && facts.imports.iter().any(|import| import.alias == alias)
                    && let Some(target) = self.module_function(file_index, alias, method)
                {
                    return Some(target);
                }
                let (class_file, _, class) = self.class_of(file_index, caller, object)?;
                self.class_method(class_file, &class, method)
            }
            _ => None,
        }
    }

    /// The class whose instance (or the class itself) `object` is, and the file defining it.
    fn class_of(&self, file_index: usize, caller: &Function, object: &Expr) -> Option<(usize, &'a FileFacts, String)> {
        let facts = self.facts(file_index)?;
        match &object.unawaited().kind {
            // `SalesforceAuthHandler().get_authorization_url(...)`
            ExprKind::Call(call) => self.resolve_class(file_index, &call.callee.dotted()?),
            // `self.store.save(...)` where a method of the class sets `self.store = TokenStore()`.
            ExprKind::Attribute { object, name: attribute } if object.as_name() == Some("self") => {
                let class = caller.class.as_deref()?;
                let constructor = facts
                    .functions
                    .iter()
                    .filter(|method| method.class.as_deref() == Some(class))
                    .find_map(|method| attribute_class(&method.body, attribute))?;
                self.resolve_class(file_index, &constructor)
            }
            ExprKind::Name(name) => {
                if let Some(class) = &caller.class
                    && caller.params.first().is_some_and(|param| param.name == *name)
                    && (name == "self" || name == "cls")
                {
                    return Some((file_index, facts, class.clone()));
                }
                if let Some(found) = self.resolve_class(file_index, name) {
                    return Some(found);
                }
                if let Some(param) = caller.param(name)
                    && let Some(annotation) = &param.annotation
                {
                    let annotation = annotation.trim_end_matches("|None").trim_end_matches("None|");
                    if let Some(found) = self.resolve_class(file_index, annotation) {
                        return Some(found);
                    }
                }
                if let Some(class) = instance_class(&caller.body, name) {
                    return self.resolve_class(file_index, &class);
                }
                if let Some(module) = facts.module()
                    && let Some(class) = instance_class_at_top(&module.body, name)
                {
                    return self.resolve_class(file_index, &class);
                }
                // `from integrations.auth_handler_zoom import zoom_auth_handler`
                let (target, imported) = self.project.resolve_import(file_index, facts, name)?;
                let class = instance_class_at_top(&self.facts(target)?.module()?.body, imported)?;
                self.resolve_class(target, &class)
            }
            _ => None,
        }
    }

    /// The class `dotted` names in file `file_index`: defined there, imported from a file
    /// of the tree, or reached through a module alias (`services.HubSpotService`).
    pub fn resolve_class(&self, file_index: usize, dotted: &str) -> Option<(usize, &'a FileFacts, String)> {
        let facts = self.facts(file_index)?;
        if let Some((module, name)) = dotted.rsplit_once('.') {
            let target = self.project.resolve_module_alias(file_index, facts, module)?;
            let target_facts = self.facts(target)?;
            return target_facts.classes.iter().any(|class| class.name == name).then(|| (target, target_facts, name.to_string()));
        }
        if facts.classes.iter().any(|class| class.name == dotted) {
            return Some((file_index, facts, dotted.to_string()));
        }
        let (target, name) = self.project.resolve_import(file_index, facts, dotted)?;
        let target_facts = self.facts(target)?;
        target_facts.classes.iter().any(|class| class.name == name).then(|| (target, target_facts, name.to_string()))
    }

    /// Method `method` of the class `class` names in file `file_index` (inherited ones
    /// included): `HubSpotClient`, `clients.HubSpotClient`, an imported class.
    pub fn class_method(&self, file_index: usize, class: &str, method: &str) -> Option<Target<'a>> {
        let (class_file, class_facts, class) = self.resolve_class(file_index, class)?;
        let (method_file, function) = self.project.find_method(class_file, class_facts, &class, method, BASE_CLASS_DEPTH)?;
        Some(Target { file_index: method_file, facts: self.facts(method_file)?, function })
    }

    /// A function of the module `alias` names in file `file_index` (`oauth_utils.save`).
    pub fn module_function(&self, file_index: usize, alias: &str, name: &str) -> Option<Target<'a>> {
        let facts = self.facts(file_index)?;
        let target = self.project.resolve_module_alias(file_index, facts, alias)?;
        let target_facts = self.facts(target)?;
        let function = target_facts.find_function(None, name)?;
        Some(Target { file_index: target, facts: target_facts, function })
    }
}

/// The constructor a name is assigned from in a body (`service = HubSpotService()`),
/// when it looks like a class (capitalised).
fn instance_class(body: &Block, name: &str) -> Option<String> {
    let mut found = None;
    body.visit(&mut |stmt| {
        if found.is_none() {
            found = constructed_class(stmt, name);
        }
    });
    found
}

/// The constructor `self.<attribute>` is assigned from in a method body.
fn attribute_class(body: &Block, attribute: &str) -> Option<String> {
    let mut found = None;
    body.visit(&mut |stmt| {
        let StmtKind::Assign { targets, value, .. } = &stmt.kind else { return };
        if found.is_some() {
            return;
        }
        let assigns = targets.iter().any(
            |target| matches!(&target.kind, ExprKind::Attribute { object, name } if name == attribute && object.as_name() == Some("self")),
        );
        if !assigns {
            return;
        }
        let Some(callee) = value.unawaited().as_call().and_then(|call| call.callee.dotted()) else { return };
        if last_segment(&callee).starts_with(|c: char| c.is_ascii_uppercase()) {
            found = Some(callee);
        }
    });
    found
}

/// As [`instance_class`], for module-level statements only.
fn instance_class_at_top(body: &Block, name: &str) -> Option<String> {
    body.statements.iter().find_map(|stmt| constructed_class(stmt, name))
}

fn constructed_class(stmt: &Stmt, name: &str) -> Option<String> {
    let StmtKind::Assign { targets, value, .. } = &stmt.kind else { return None };
    if !targets.iter().any(|target| target.as_name() == Some(name)) {
        return None;
    }
    let callee = value.unawaited().as_call()?.callee.dotted()?;
    last_segment(&callee).starts_with(|c: char| c.is_ascii_uppercase()).then_some(callee)
}

/// Facts borrowed from the resolution cache or parsed for one analysis.
pub enum CowFacts<'a> {
    Cached(&'a FileFacts),
    Owned(FileFacts),
}

impl std::ops::Deref for CowFacts<'_> {
    type Target = FileFacts;

    fn deref(&self) -> &FileFacts {
        match self {
            CowFacts::Cached(facts) => facts,
            CowFacts::Owned(facts) => facts,
        }
    }
}

/// `folder/tail`, or `tail` at the root.
fn join_path(folder: &str, tail: &str) -> String {
    if folder.is_empty() { tail.to_string() } else { format!("{folder}/{tail}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(paths: &[&str]) -> Project {
        Project::new(paths.iter().map(|path| SourceFile::new(path.to_string(), path.into(), Language::Python, String::new())).collect())
    }

    #[test]
    fn modules_resolve_absolute_relative_and_below_a_source_folder() {
        let project = project(&[
            "backend/core/http.py",
            "backend/core/__init__.py",
            "backend/integrations/notion.py",
            "backend/integrations/util/__init__.py",
        ]);
        let notion = 2;
        assert_eq!(project.resolve_module(notion, "core.http"), Some(0), "below a source folder");
        assert_eq!(project.resolve_module(notion, "backend.core.http"), Some(0));
        assert_eq!(project.resolve_module(notion, "..core.http"), Some(0));
        assert_eq!(project.resolve_module(notion, ".util"), Some(3), "a package");
        assert_eq!(project.resolve_module(notion, "..core"), Some(1));
        assert_eq!(project.resolve_module(notion, "....too.far"), None, "past the root");
        assert_eq!(project.resolve_module(notion, "httpx"), None, "outside the tree");
    }

    #[test]
    fn ambiguous_modules_resolve_to_nothing() {
        let project = project(&["svc_a/core/http.py", "svc_b/core/http.py", "svc_a/notion.py"]);
        assert_eq!(project.resolve_module(2, "core.http"), None);
        assert_eq!(project.resolve_module(2, "svc_a.core.http"), Some(0));
    }
}
