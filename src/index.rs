//! The scanned tree as a whole: every readable source file, and resolution of imported
//! names, modules and base classes to the files and functions that define them.
//!
//! A file's own analysis parses it and drops its facts when done; only files that
//! resolution reaches from another file (wrapper modules, base classes) are parsed into the
//! cache here and kept, so memory follows the links between files, not the size of the tree.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use crate::facts::{Block, Expr, ExprKind, FileFacts, Function, Language, Stmt, StmtKind, last_segment};
use crate::lang::{self, ExtractOptions, FrontendError};
use crate::source::SourceFile;

/// How many levels of base classes are searched for an inherited method.
pub const BASE_CLASS_DEPTH: usize = 3;

/// How many re-exports (`export { a } from './a'`, `export * from './lib'`) are followed
/// to the file defining a name.
pub const REEXPORT_DEPTH: usize = 3;

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
    /// `tsconfig.json` path aliases by the folder holding the config (relative path).
    ts_paths: Mutex<HashMap<String, Option<TsPaths>>>,
    /// The service each folder belongs to (see [`Project::service_root`]), by folder.
    service_roots: Mutex<HashMap<String, String>>,
    /// The same by file: a delegation compares the service of every route of the tree.
    file_services: Vec<OnceLock<String>>,
    /// Every route of the tree, as the scan's per-file pass collects them
    /// ([`Project::set_routes`]).
    route_table: OnceLock<Vec<crate::routes::ProjectRoute>>,
    /// Files whose analysis needed the route table before it was set ([`Project::defer`]).
    deferred: Mutex<Vec<usize>>,
    /// The answers of [`Project::files_containing`], by needles.
    containing: Mutex<HashMap<Vec<String>, Arc<Vec<usize>>>>,
    /// [`Project::python_definitions`], read on first use.
    python_definitions: OnceLock<HashSet<u64>>,
}

/// The `paths` of a `tsconfig.json` (or `jsconfig.json`): pattern -> targets, relative to
/// the scan root, with `*` as the wildcard.
#[derive(Debug, Clone, Default)]
struct TsPaths {
    paths: Vec<(String, Vec<String>)>,
}

impl Project {
    pub fn new(files: Vec<SourceFile>) -> Project {
        let resolved = files.iter().map(|_| OnceLock::new()).collect();
        let file_services = files.iter().map(|_| OnceLock::new()).collect();
        let mut by_file_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, file) in files.iter().enumerate() {
            let name = file.relative_path.rsplit('/').next().unwrap_or(&file.relative_path);
            by_file_name.entry(name.to_string()).or_default().push(index);
        }
        Project {
            files,
            resolved,
            by_file_name,
            absolute: Mutex::new(HashMap::new()),
            ts_paths: Mutex::new(HashMap::new()),
            service_roots: Mutex::new(HashMap::new()),
            file_services,
            route_table: OnceLock::new(),
            deferred: Mutex::new(Vec::new()),
            containing: Mutex::new(HashMap::new()),
            python_definitions: OnceLock::new(),
        }
    }

    /// The names the Python files of the tree define a function by (`def name`, by
    /// [`crate::callers::name_key`]), read from the text: more than the functions the
    /// parses hold when `def` sits in a string, never fewer. Only calls of these can be
    /// asked about, so the call records keep no other.
    pub fn python_definitions(&self) -> &HashSet<u64> {
        self.python_definitions.get_or_init(|| {
            let finder = memchr::memmem::Finder::new(b"def");
            let mut names = HashSet::new();
            for file in self.files.iter().filter(|file| file.language == Language::Python) {
                let text = file.text.as_bytes();
                for at in finder.find_iter(text) {
                    let before = at.checked_sub(1).and_then(|before| text.get(before));
                    if before.is_some_and(|byte| !byte.is_ascii_whitespace()) {
                        continue;
                    }
                    let rest = text.get(at + 3..).unwrap_or_default();
                    let name_start = rest.iter().position(|byte| !matches!(byte, b' ' | b'\t')).unwrap_or(rest.len());
                    if name_start == 0 {
                        continue;
                    }
                    let name = &rest[name_start..];
                    let name = &name[..name
                        .iter()
                        .position(|byte| !(byte.is_ascii_alphanumeric() || *byte == b'_' || *byte >= 0x80))
                        .unwrap_or(name.len())];
                    if let Ok(name) = std::str::from_utf8(name)
                        && !name.is_empty()
                    {
                        names.insert(crate::callers::name_key(name));
                    }
                }
            }
            names
        })
    }

    /// The files of `language` whose text holds any of `needles`, in file order: searched
    /// once per set of needles, however many analyses ask (every TypeScript OA003 finding
    /// looks for the tree's sync function).
    pub fn files_containing(&self, language: Language, needles: &[String]) -> Arc<Vec<usize>> {
        let key: Vec<String> = std::iter::once(language.name().to_string()).chain(needles.iter().cloned()).collect();
        if let Some(found) = self.containing.lock().ok().and_then(|known| known.get(&key).cloned()) {
            return found;
        }
        let finders: Vec<memchr::memmem::Finder> = needles.iter().map(|needle| memchr::memmem::Finder::new(needle.as_bytes())).collect();
        let found: Arc<Vec<usize>> = Arc::new(
            self.files
                .iter()
                .enumerate()
                .filter(|(_, file)| file.language == language && finders.iter().any(|finder| finder.find(file.text.as_bytes()).is_some()))
                .map(|(index, _)| index)
                .collect(),
        );
        if let Ok(mut known) = self.containing.lock() {
            known.insert(key, Arc::clone(&found));
        }
        found
    }

    /// Every route of the tree, once [`Project::set_routes`] has set them. Until then an
    /// analysis that needs them (a callback forwarding its code) records its file with
    /// [`Project::defer`]: the scan's per-file pass lists each file's routes anyway, and only
    /// the few forwarding files are analysed again afterwards.
    pub fn routes(&self) -> Option<&[crate::routes::ProjectRoute]> {
        self.route_table.get().map(Vec::as_slice)
    }

    /// Records that the analysis of file `index` needed the route table before it was
    /// complete: its results are to be computed again.
    pub(crate) fn defer(&self, index: usize) {
        if let Ok(mut deferred) = self.deferred.lock() {
            deferred.push(index);
        }
    }

    /// True when the analysis of file `index` was deferred ([`Project::defer`]).
    pub fn is_deferred(&self, index: usize) -> bool {
        self.deferred.lock().is_ok_and(|deferred| deferred.contains(&index))
    }

    /// Keeps the facts a file's own analysis parsed (with the options of the cache) for
    /// its analysis to be repeated without parsing again.
    pub fn keep(&self, index: usize, facts: FileFacts) {
        if let Some(slot) = self.resolved.get(index) {
            let _ = slot.set(Ok(facts));
        }
    }

    /// Completes the route table (every route of the tree, in file order) and returns the
    /// files whose analysis was deferred, sorted.
    pub fn set_routes(&self, routes: Vec<crate::routes::ProjectRoute>) -> Vec<usize> {
        let _ = self.route_table.set(routes);
        let mut deferred = self.deferred.lock().map(|mut deferred| std::mem::take(&mut *deferred)).unwrap_or_default();
        deferred.sort_unstable();
        deferred.dedup();
        deferred
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

    /// Drops every cached parse: once a scan's analyses are done, what they kept would
    /// otherwise stay in memory while the report is built. A later [`Project::facts`]
    /// parses again.
    pub fn release_facts(&mut self) {
        for slot in &mut self.resolved {
            slot.take();
        }
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
        match from.language {
            Language::Rust => self.resolve_rust_module(&from.relative_path, module),
            Language::TypeScript => self.resolve_es_module(from_index, module),
            Language::Python => self.resolve_python_module(&from.relative_path, module),
        }
    }

    /// A Python module path (`core.http`, `.http`, `..core.http`) imported from the file at
    /// `from_path`.
    fn resolve_python_module(&self, from_path: &str, module: &str) -> Option<usize> {
        let dots = module.chars().take_while(|c| *c == '.').count();
        let relative: String = module[dots..].replace('.', "/");
        if dots > 0 {
            let mut folder: Vec<&str> = from_path.split('/').collect();
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

    /// An ES module specifier imported from file `from_index`: relative (`./x`, `../lib/x`),
    /// or through a `tsconfig.json` `paths` alias (`@/lib/x`) of the nearest config above
    /// the file, or `@/`/`~/` for `src/` when no config says; a file with one of the usual
    /// extensions, or a folder's `index`. Packages (`express`) are not in the tree.
    fn resolve_es_module(&self, from_index: usize, module: &str) -> Option<usize> {
        let from = self.files.get(from_index)?;
        let folder = from.relative_path.rsplit_once('/').map(|(folder, _)| folder).unwrap_or("");
        if module.starts_with("./") || module.starts_with("../") || module == "." || module == ".." {
            return self.es_candidates(&normalize_path(&join_path(folder, module))?);
        }
        let mut ancestor = Some(folder.to_string());
        while let Some(current) = ancestor {
            if let Some(paths) = self.ts_paths_in(from_index, &current) {
                for (pattern, targets) in &paths.paths {
                    let rest = match pattern.strip_suffix('*') {
                        Some(head) => module.strip_prefix(head),
                        None => (module == pattern).then_some(""),
                    };
                    let Some(rest) = rest else { continue };
                    for target in targets {
                        if let Some(found) = normalize_path(&target.replace('*', rest)).and_then(|path| self.es_candidates(&path)) {
                            return Some(found);
                        }
                    }
                }
            }
            ancestor =
                if current.is_empty() { None } else { Some(current.rsplit_once('/').map(|(parent, _)| parent).unwrap_or("").to_string()) };
        }
        // The usual alias without a config: `@/lib/x` is `src/lib/x` of an enclosing folder.
        let rest = module.strip_prefix("@/").or_else(|| module.strip_prefix("~/"))?;
        let mut current = folder.to_string();
        loop {
            for base in [join_path(&current, "src"), current.clone()] {
                if let Some(found) = normalize_path(&join_path(&base, rest)).and_then(|path| self.es_candidates(&path)) {
                    return Some(found);
                }
            }
            if current.is_empty() {
                return None;
            }
            current = current.rsplit_once('/').map(|(parent, _)| parent).unwrap_or("").to_string();
        }
    }

    /// The file a module path without extension names: `path.ts`, ..., `path/index.ts`, ...
    /// (`./x.js` in an ESM TypeScript project names `x.ts`).
    fn es_candidates(&self, path: &str) -> Option<usize> {
        if let Some(found) = self.exact(path) {
            return Some(found);
        }
        let stem = match path.rsplit_once('.') {
            Some((stem, extension)) if crate::lang::TYPESCRIPT_EXTENSIONS.contains(&extension) && !stem.ends_with('/') => stem,
            _ => path,
        };
        crate::lang::TYPESCRIPT_EXTENSIONS
            .iter()
            .map(|extension| format!("{stem}.{extension}"))
            .chain(crate::lang::TYPESCRIPT_EXTENSIONS.iter().map(|extension| join_path(path, &format!("index.{extension}"))))
            .find_map(|candidate| self.exact(&candidate))
    }

    /// The path aliases of the `tsconfig.json` (or `jsconfig.json`) in `folder` (relative
    /// to the scan root), read from disk beside file `from_index` once per folder.
    fn ts_paths_in(&self, from_index: usize, folder: &str) -> Option<TsPaths> {
        if let Some(known) = self.ts_paths.lock().ok().and_then(|cache| cache.get(folder).cloned()) {
            return known;
        }
        let from = self.files.get(from_index)?;
        // The folder on disk: the file's folder, up as many levels as `folder` is above it.
        let below = from.relative_path.split('/').count().saturating_sub(1) - if folder.is_empty() { 0 } else { folder.split('/').count() };
        let mut disk = from.path.parent().map(std::path::Path::to_path_buf);
        for _ in 0..below {
            disk = disk.and_then(|path| path.parent().map(std::path::Path::to_path_buf));
        }
        let paths = disk
            .and_then(|disk| ["tsconfig.json", "jsconfig.json"].iter().find_map(|name| std::fs::read_to_string(disk.join(name)).ok()))
            .and_then(|text| read_ts_paths(&text, folder));
        if let Ok(mut cache) = self.ts_paths.lock() {
            cache.insert(folder.to_string(), paths.clone());
        }
        paths
    }

    /// The folder (relative to the scan root) of the service file `file_index` belongs to:
    /// the nearest folder above it holding a project manifest (`package.json`,
    /// `pyproject.toml`, `requirements.txt`, `Cargo.toml`, `deno.json`, `go.mod`), the scan
    /// root when there is none. A Next.js app and the backend it calls are two services.
    pub fn service_root(&self, file_index: usize) -> &str {
        match self.file_services.get(file_index) {
            Some(slot) => slot.get_or_init(|| self.find_service_root(file_index)),
            None => "",
        }
    }

    fn find_service_root(&self, file_index: usize) -> String {
        const MANIFESTS: &[&str] =
            &["package.json", "pyproject.toml", "requirements.txt", "setup.py", "Cargo.toml", "deno.json", "deno.jsonc", "go.mod"];
        let Some(file) = self.files.get(file_index) else { return String::new() };
        let mut folder = file.relative_path.rsplit_once('/').map(|(folder, _)| folder.to_string()).unwrap_or_default();
        let mut disk = file.path.parent().map(std::path::Path::to_path_buf);
        let mut visited = Vec::new();
        let found = loop {
            if let Some(known) = self.service_roots.lock().ok().and_then(|cache| cache.get(&folder).cloned()) {
                break known;
            }
            visited.push(folder.clone());
            if disk.as_ref().is_some_and(|disk| MANIFESTS.iter().any(|manifest| disk.join(manifest).is_file())) {
                break folder.clone();
            }
            if folder.is_empty() {
                break String::new();
            }
            folder = folder.rsplit_once('/').map(|(parent, _)| parent.to_string()).unwrap_or_default();
            disk = disk.and_then(|path| path.parent().map(std::path::Path::to_path_buf));
        };
        if let Ok(mut cache) = self.service_roots.lock() {
            for folder in visited {
                cache.insert(folder, found.clone());
            }
        }
        found
    }

    /// The name file `file_index` defines for what it exports as `name`: `default` is the
    /// name of `export default <name>`; a name re-exported from another file stays as it is.
    pub fn exported_name(&self, file_index: usize, name: &str) -> String {
        self.facts(file_index).and_then(|facts| module_alias(facts, name)).unwrap_or_else(|| name.to_string())
    }

    /// The file and name that define what file `file_index` exports as `name`, through
    /// `export default f` (`default = f`) and re-exports, at most `depth` files away.
    fn resolve_export(&self, file_index: usize, name: &str, depth: usize) -> Option<(usize, String)> {
        let facts = self.facts(file_index)?;
        let name = module_alias(facts, name).unwrap_or_else(|| name.to_string());
        let defines = facts.find_function(None, &name).is_some()
            || facts.classes.iter().any(|class| class.name == name)
            || facts
                .module()
                .is_some_and(|module| instance_class_at_top(&module.body, &name).is_some() || assigns_at_top(&module.body, &name));
        if defines || depth == 0 {
            return Some((file_index, name));
        }
        if let Some(import) = facts.imports.iter().find(|import| import.alias == name && import.name.is_some())
            && let Some(target) = self.resolve_module(file_index, &import.module)
        {
            return self.resolve_export(target, import.name.as_deref()?, depth - 1);
        }
        for import in facts.imports.iter().filter(|import| import.alias == "*") {
            if let Some(target) = self.resolve_module(file_index, &import.module)
                && let Some((found, local)) = self.resolve_export(target, &name, depth - 1)
                && self.facts(found).is_some_and(|found_facts| {
                    found_facts.find_function(None, &local).is_some() || found_facts.classes.iter().any(|class| class.name == local)
                })
            {
                return Some((found, local));
            }
        }
        Some((file_index, name))
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
    /// In TypeScript, default exports and re-exports are followed to the defining file.
    pub fn resolve_import(&self, from_index: usize, facts: &FileFacts, alias: &str) -> Option<(usize, String)> {
        let import = facts.imports.iter().find(|import| import.alias == alias && import.name.is_some())?;
        let target = self.resolve_module(from_index, &import.module)?;
        let name = import.name.as_deref()?;
        if facts.language == Language::TypeScript {
            return self.resolve_export(target, name, REEXPORT_DEPTH);
        }
        Some((target, name.to_string()))
    }

    /// The function an imported name refers to: `from core.http import post_with_retry`.
    pub fn resolve_imported_function(&self, from_index: usize, facts: &FileFacts, name: &str) -> Option<(usize, &Function)> {
        let (target, imported) = self.resolve_import(from_index, facts, name)?;
        let function = self.facts(target)?.find_function(None, &imported)?;
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
                    Some((target, name)) => (Some(target), name),
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

    /// The file whose analysis this resolver serves.
    pub fn home(&self) -> usize {
        self.home
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
                let class = instance_class_at_top(&self.facts(target)?.module()?.body, &imported)?;
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
        target_facts.classes.iter().any(|class| class.name == name).then_some((target, target_facts, name))
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

/// What a module-level `name = other` aliases (`default = handler` for `export default
/// handler`).
fn module_alias(facts: &FileFacts, name: &str) -> Option<String> {
    facts.module()?.body.statements.iter().find_map(|stmt| match &stmt.kind {
        StmtKind::Assign { targets, value, .. } if targets.iter().any(|target| target.as_name() == Some(name)) => {
            value.as_name().filter(|other| *other != name).map(str::to_string)
        }
        _ => None,
    })
}

/// True when module-level statements assign `name`.
fn assigns_at_top(body: &Block, name: &str) -> bool {
    body.statements
        .iter()
        .any(|stmt| matches!(&stmt.kind, StmtKind::Assign { targets, .. } if targets.iter().any(|target| target.as_name() == Some(name))))
}

/// `a/./b/../c` as `a/c`; `None` above the root.
fn normalize_path(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            _ => parts.push(segment),
        }
    }
    Some(parts.join("/"))
}

/// The `compilerOptions.paths` of a `tsconfig.json` in `folder`, targets made relative to
/// the scan root (through `baseUrl`, default the config's folder). Comments and trailing
/// commas, which tsconfig files allow, are removed first.
fn read_ts_paths(text: &str, folder: &str) -> Option<TsPaths> {
    let value: serde_json::Value = serde_json::from_str(&strip_json_comments(text)).ok()?;
    let options = value.get("compilerOptions")?;
    let base = options.get("baseUrl").and_then(|base| base.as_str()).unwrap_or(".");
    let base = normalize_path(&join_path(folder, base))?;
    let paths = options.get("paths")?.as_object()?;
    let mut out = Vec::new();
    for (pattern, targets) in paths {
        let targets: Vec<String> =
            targets.as_array()?.iter().filter_map(|target| target.as_str()).map(|target| join_path(&base, target)).collect();
        out.push((pattern.clone(), targets));
    }
    // The longest pattern wins, as in TypeScript.
    out.sort_by_key(|(pattern, _)| std::cmp::Reverse(pattern.len()));
    Some(TsPaths { paths: out })
}

/// JSON with `//` and `/* */` comments and trailing commas, as plain JSON.
fn strip_json_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for next in chars.by_ref() {
                    if next == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut previous = ' ';
                for next in chars.by_ref() {
                    if previous == '*' && next == '/' {
                        break;
                    }
                    previous = next;
                }
            }
            _ => out.push(c),
        }
    }
    // Trailing commas: `,` followed by whitespace and a closing bracket.
    let mut cleaned = String::with_capacity(out.len());
    let characters: Vec<char> = out.chars().collect();
    let mut in_string = false;
    for (index, c) in characters.iter().enumerate() {
        if *c == '"' && (index == 0 || characters.get(index - 1) != Some(&'\\')) {
            in_string = !in_string;
        }
        if *c == ',' && !in_string {
            let next = characters.get(index + 1..).unwrap_or_default().iter().find(|next| !next.is_whitespace());
            if matches!(next, Some('}' | ']')) {
                continue;
            }
        }
        cleaned.push(*c);
    }
    cleaned
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
    fn files_containing_a_needle_are_found_once_per_language_and_needles() {
        let file = |path: &str, language, text: &str| SourceFile::new(path.into(), path.into(), language, text.into());
        let project = Project::new(vec![
            file("a.ts", Language::TypeScript, "export async function triggerSync() {}\n"),
            file("b.py", Language::Python, "def trigger_sync():\n    ...\n"),
            file("c.ts", Language::TypeScript, "const x = 1;\n"),
            file("d.ts", Language::TypeScript, "trigger_sync();\n"),
        ]);
        let needles = ["triggerSync".to_string(), "trigger_sync".to_string()];
        let first = project.files_containing(Language::TypeScript, &needles);
        assert_eq!(*first, vec![0, 3]);
        assert!(Arc::ptr_eq(&first, &project.files_containing(Language::TypeScript, &needles)), "searched once");
        assert_eq!(*project.files_containing(Language::Python, &needles), vec![1]);
    }

    #[test]
    fn released_facts_are_parsed_again_on_demand() {
        let text = "def a():\n    return 1\n";
        let mut project = Project::new(vec![SourceFile::new("a.py".into(), "a.py".into(), Language::Python, text.into())]);
        assert_eq!(project.facts(0).map(|facts| facts.functions.len()), Some(2));
        assert_eq!(project.resolved_count(), 1);
        project.release_facts();
        assert_eq!(project.resolved_count(), 0);
        assert_eq!(project.facts(0).map(|facts| facts.functions.len()), Some(2), "the module and `a`, parsed again");
    }

    #[test]
    fn es_modules_resolve_relative_index_and_aliases() {
        let typescript = |paths: &[&str]| {
            Project::new(
                paths.iter().map(|path| SourceFile::new(path.to_string(), path.into(), Language::TypeScript, String::new())).collect(),
            )
        };
        let project =
            typescript(&["web/src/app/api/x/route.ts", "web/src/lib/store.ts", "web/src/lib/http/index.ts", "web/src/lib/util.js"]);
        assert_eq!(project.resolve_module(0, "../../../lib/store"), Some(1));
        assert_eq!(project.resolve_module(0, "../../../lib/http"), Some(2), "a folder's index");
        assert_eq!(project.resolve_module(0, "../../../lib/store.js"), Some(1), "ESM `.js` names the `.ts` file");
        assert_eq!(project.resolve_module(0, "../../../lib/util"), Some(3));
        assert_eq!(project.resolve_module(0, "@/lib/store"), Some(1), "`@/` is `src/` without a config");
        assert_eq!(project.resolve_module(0, "express"), None);
        assert_eq!(project.resolve_module(0, "../../../../../../x"), None, "past the root");
    }

    #[test]
    fn tsconfig_paths_allow_comments_and_trailing_commas() {
        let text = "{\n  // comment\n  \"compilerOptions\": { /* base */ \"baseUrl\": \".\", \"paths\": { \"@/*\": [\"./src/*\",], \"@lib/*\": [\"lib/*\"] }, },\n}\n";
        let paths = read_ts_paths(text, "web").expect("parses");
        let first = paths.paths.iter().find(|(pattern, _)| pattern == "@/*").expect("alias");
        assert_eq!(first.1, vec!["web/./src/*".to_string()]);
        assert_eq!(normalize_path("web/./src/lib"), Some("web/src/lib".into()));
    }

    #[test]
    fn ambiguous_modules_resolve_to_nothing() {
        let project = project(&["svc_a/core/http.py", "svc_b/core/http.py", "svc_a/notion.py"]);
        assert_eq!(project.resolve_module(2, "core.http"), None);
        assert_eq!(project.resolve_module(2, "svc_a.core.http"), Some(0));
    }
}
