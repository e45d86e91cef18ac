//! `oauth-audit fix`: findings -> edits -> the same pipeline on the edited text to verify
//! -> diffs, patches or atomic writes.
//!
//! A fix is planned from the facts of the finding's file (see [`python`]). The fixes of one
//! file are merged with conflict detection: a fix touching a region another fix already
//! edits is skipped, never applied on top. Then every edited text is verified together:
//! - it parses with no more syntax errors than before;
//! - re-auditing the edited tree no longer reports any targeted finding, and reports no
//!   finding the original tree did not have (positions are mapped back through the edits,
//!   so a finding moved by an insertion is the same finding);
//! - planning again on the edited tree finds nothing more to do.
//!
//! A file failing a check is retried one fix at a time, keeping the fixes that pass; the
//! others are reported as skipped with the check they failed. Nothing is written before
//! this is done, and [`write`] writes each file atomically.

pub mod edit;
pub mod locate;
pub mod python;
pub mod template;
pub mod typescript;
pub mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;
use thiserror::Error;

use crate::callbacks::CallbackAnalysis;
use crate::config::{Config, Fix};
use crate::discover::Skipped;
use crate::facts::{FileFacts, Language};
use crate::rules::missing_rollback::Migration;
use crate::rules::{RuleInfo, callback_no_persist, callback_no_sync, missing_rollback, unguarded_json};
use crate::scan::{self, ScanError, ScanOptions, ScanOutcome};
use crate::source::SourceFile;

use edit::Edit;
use template::{Template, TemplateError};

pub const SCHEMA: &str = "oauth-audit/fix@1";

/// The rules `fix` patches.
pub static FIXABLE_RULES: &[&RuleInfo] =
    &[&unguarded_json::RULE, &callback_no_persist::RULE, &callback_no_sync::RULE, &missing_rollback::RULE];

#[derive(Debug, Error)]
pub enum FixError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error("{path}: cannot read the template: {message}")]
    TemplateFile { path: String, message: String },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(
        "[fix.templates] names an unknown template {0:?}; known: python/guard, python/persist, python/sync, python/rollback, python/rollback_if_bound, python/session_none, python/savepoint, python/helper, typescript/guard, typescript/sync, typescript/rollback, typescript/helper"
    )]
    UnknownTemplate(String),
}

/// The templates a run uses: the shipped ones unless the configuration replaces them.
pub struct Templates {
    pub python_guard: Template,
    pub python_persist: Template,
    pub python_sync: Template,
    pub python_rollback: Template,
    /// The rollback of a session the `try` binds, guarded, and the line before the `try`
    /// that makes it None until bound.
    pub python_rollback_if_bound: Template,
    pub python_session_none: Template,
    pub python_savepoint: Template,
    /// The guard helper module created when the tree has none.
    pub python_helper: String,
    pub typescript_guard: Template,
    pub typescript_sync: Template,
    pub typescript_rollback: Template,
    pub typescript_helper: String,
}

impl Templates {
    pub fn load(fix: &Fix) -> Result<Templates, FixError> {
        // (name, shipped file, text)
        const SHIPPED: &[(&str, &str, &str)] = &[
            ("python/guard", "rules/templates/python/guard.tmpl", include_str!("../../rules/templates/python/guard.tmpl")),
            ("python/persist", "rules/templates/python/persist.tmpl", include_str!("../../rules/templates/python/persist.tmpl")),
            ("python/sync", "rules/templates/python/sync.tmpl", include_str!("../../rules/templates/python/sync.tmpl")),
            ("python/rollback", "rules/templates/python/rollback.tmpl", include_str!("../../rules/templates/python/rollback.tmpl")),
            (
                "python/rollback_if_bound",
                "rules/templates/python/rollback_if_bound.tmpl",
                include_str!("../../rules/templates/python/rollback_if_bound.tmpl"),
            ),
            (
                "python/session_none",
                "rules/templates/python/session_none.tmpl",
                include_str!("../../rules/templates/python/session_none.tmpl"),
            ),
            ("python/savepoint", "rules/templates/python/savepoint.tmpl", include_str!("../../rules/templates/python/savepoint.tmpl")),
            ("python/helper", "rules/templates/oauth_utils.py", include_str!("../../rules/templates/oauth_utils.py")),
            ("typescript/guard", "rules/templates/typescript/guard.tmpl", include_str!("../../rules/templates/typescript/guard.tmpl")),
            ("typescript/sync", "rules/templates/typescript/sync.tmpl", include_str!("../../rules/templates/typescript/sync.tmpl")),
            (
                "typescript/rollback",
                "rules/templates/typescript/rollback.tmpl",
                include_str!("../../rules/templates/typescript/rollback.tmpl"),
            ),
            ("typescript/helper", "rules/templates/oauth-utils.ts", include_str!("../../rules/templates/oauth-utils.ts")),
        ];
        for name in fix.templates.keys() {
            if !SHIPPED.iter().any(|(known, _, _)| known == name) {
                return Err(FixError::UnknownTemplate(name.clone()));
            }
        }
        let text = |name: &str| -> Result<(String, String), FixError> {
            match fix.templates.get(name) {
                Some(path) => std::fs::read_to_string(path)
                    .map(|text| (path.display().to_string(), text))
                    .map_err(|error| FixError::TemplateFile { path: path.display().to_string(), message: error.to_string() }),
                None => Ok(SHIPPED
                    .iter()
                    .find(|(known, _, _)| *known == name)
                    .map(|(_, file, text)| (file.to_string(), text.to_string()))
                    .unwrap_or_default()),
            }
        };
        let parse = |name: &str| -> Result<Template, FixError> {
            let (source, body) = text(name)?;
            Ok(Template::parse(&source, &body)?)
        };
        Ok(Templates {
            python_guard: parse("python/guard")?,
            python_persist: parse("python/persist")?,
            python_sync: parse("python/sync")?,
            python_rollback: parse("python/rollback")?,
            python_rollback_if_bound: parse("python/rollback_if_bound")?,
            python_session_none: parse("python/session_none")?,
            python_savepoint: parse("python/savepoint")?,
            python_helper: text("python/helper")?.1,
            typescript_guard: parse("typescript/guard")?,
            typescript_sync: parse("typescript/sync")?,
            typescript_rollback: parse("typescript/rollback")?,
            typescript_helper: text("typescript/helper")?.1,
        })
    }
}

/// One fix's edits, and the imports and handler parameters it needs.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    pub edits: Vec<Edit>,
    pub imports: Vec<String>,
    /// Parameters to add, by index of the function in the file's facts.
    pub params: Vec<(usize, template::ParamSpec)>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct AppliedFix {
    pub file: String,
    pub line: usize,
    pub rule: &'static str,
    pub code: &'static str,
    pub integration: Option<String>,
    pub function: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct SkippedFix {
    pub file: String,
    pub line: usize,
    pub rule: &'static str,
    pub reason: String,
}

/// A file the fixes change (or create), with its text as read and as it will be written.
#[derive(Debug, Clone)]
pub struct FileChange {
    pub relative_path: String,
    pub path: PathBuf,
    /// `None` for a file the fix creates.
    pub original: Option<String>,
    pub edited: String,
}

/// Everything a run decided, before anything is written.
#[derive(Debug)]
pub struct FixPlan {
    pub root: PathBuf,
    pub applied: Vec<AppliedFix>,
    pub skipped: Vec<SkippedFix>,
    pub changes: Vec<FileChange>,
    /// The same changes split per integration (`unassigned` for files of none), each
    /// against the original tree, for `--patch-dir`.
    pub by_integration: BTreeMap<String, Vec<FileChange>>,
    /// Files the scan could not read or parse.
    pub not_scanned: Vec<Skipped>,
}

pub struct FixOptions {
    pub scan: ScanOptions,
    /// Rules to fix; empty for every fixable rule.
    pub rules: Vec<&'static RuleInfo>,
}

/// A fix waiting for verification.
#[derive(Debug, Clone)]
struct Candidate {
    /// The targeted finding: rule code, file, start byte in the original text.
    key: FindingKey,
    applied: AppliedFix,
    planned: Planned,
    /// A helper module the fix needs and the tree lacks: relative path and content.
    creates: Option<(String, String)>,
}

type FindingKey = (&'static str, String, usize);

/// The file name (without `.patch`) of an integration's patch: its name with anything but
/// letters, digits, `_`, `-` and `.` dropped, `/` as `-` (`clients-client_id` for the
/// dynamic integration `clients/{client_id}`).
pub fn patch_file_stem(integration: &str) -> String {
    let stem: String = integration
        .chars()
        .filter_map(|c| match c {
            '/' => Some('-'),
            c if c.is_alphanumeric() || matches!(c, '_' | '-' | '.') => Some(c),
            _ => None,
        })
        .collect();
    let stem = stem.trim_matches(['-', '.']);
    if stem.is_empty() { "unnamed".to_string() } else { stem.to_string() }
}

pub fn plan(options: &FixOptions, config: &Config) -> Result<FixPlan, FixError> {
    let templates = Templates::load(&config.fix)?;
    let mut scan_options = options.scan.clone();
    // Fixes of one rule can make another's finding appear: always re-audit with every rule.
    scan_options.rules = Vec::new();
    let outcome = scan::scan(&scan_options, config)?;
    let wanted = |code: &str| {
        FIXABLE_RULES.iter().any(|rule| rule.code == code)
            && (options.rules.is_empty() || options.rules.iter().any(|rule| rule.code == code))
    };
    let integration_filter = |integration: &Option<String>| {
        options.scan.integrations.is_empty() || integration.as_ref().is_some_and(|name| options.scan.integrations.contains(name))
    };
    let (candidates, mut skipped) =
        candidates(&outcome, config, &templates, &|code, integration| wanted(code) && integration_filter(integration));

    // Merge per file: a fix touching a region another fix edits is skipped.
    let mut accepted: Vec<Candidate> = Vec::new();
    for candidate in candidates {
        let clash = accepted.iter().filter(|other| other.applied.file == candidate.applied.file).find(|other| {
            candidate.planned.edits.iter().any(|edit| other.planned.edits.iter().any(|known| edit != known && edit.conflicts_with(known)))
        });
        match clash {
            Some(other) => skipped.push(SkippedFix {
                file: candidate.applied.file.clone(),
                line: candidate.applied.line,
                rule: candidate.applied.code,
                reason: format!(
                    "conflicts with the {} fix at line {}: apply this one on a second run",
                    other.applied.code, other.applied.line
                ),
            }),
            None => accepted.push(candidate),
        }
    }
    let verifier = Verifier { outcome: &outcome, config, templates: &templates, scan_options: &scan_options };

    // Verify; a failing file is retried one fix at a time.
    let mut failures = verifier.check(&accepted);
    let mut rounds = 0;
    while !failures.is_empty() && rounds < 4 {
        rounds += 1;
        let failing_files: BTreeSet<String> = failures.by_file.keys().cloned().collect();
        let mut dropped: BTreeMap<FindingKey, String> = failures.by_fix.clone();
        let mut kept: Vec<Candidate> = accepted.iter().filter(|candidate| !dropped.contains_key(&candidate.key)).cloned().collect();
        for file in &failing_files {
            let (in_file, mut others): (Vec<Candidate>, Vec<Candidate>) =
                kept.into_iter().partition(|candidate| &candidate.applied.file == file);
            let targets: Vec<Candidate> = if in_file.is_empty() {
                // An unchanged file got a new finding: one of the other files' fixes did it.
                let all = others;
                others = Vec::new();
                all
            } else {
                in_file
            };
            let mut chosen: Vec<Candidate> = Vec::new();
            for candidate in targets {
                let mut trial: Vec<Candidate> = others.iter().chain(chosen.iter()).cloned().collect();
                trial.push(candidate.clone());
                let result = verifier.check(&trial);
                let reason = result
                    .by_fix
                    .get(&candidate.key)
                    .cloned()
                    .or_else(|| result.by_file.get(file).cloned())
                    .or_else(|| result.by_file.get(&candidate.applied.file).cloned());
                match reason {
                    Some(reason) => {
                        dropped.insert(candidate.key.clone(), reason);
                    }
                    None => chosen.push(candidate),
                }
            }
            kept = others.into_iter().chain(chosen).collect();
        }
        for candidate in &accepted {
            if let Some(reason) = dropped.get(&candidate.key) {
                skipped.push(SkippedFix {
                    file: candidate.applied.file.clone(),
                    line: candidate.applied.line,
                    rule: candidate.applied.code,
                    reason: format!("verification failed: {reason}"),
                });
            }
        }
        accepted = kept;
        failures = verifier.check(&accepted);
    }
    if !failures.is_empty() {
        // Still failing after the retries: apply nothing rather than something unverified.
        for candidate in accepted.drain(..) {
            skipped.push(SkippedFix {
                file: candidate.applied.file.clone(),
                line: candidate.applied.line,
                rule: candidate.applied.code,
                reason: "verification failed: the fixes of this run could not be verified together".into(),
            });
        }
    }

    let changes = verifier.changes(&accepted);
    let mut by_integration: BTreeMap<String, Vec<FileChange>> = BTreeMap::new();
    let mut groups: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    for candidate in &accepted {
        groups.entry(candidate.applied.integration.clone().unwrap_or_else(|| "unassigned".into())).or_default().push(candidate.clone());
    }
    for (integration, group) in groups {
        by_integration.insert(integration, verifier.changes(&group));
    }
    let mut applied: Vec<AppliedFix> = accepted.into_iter().map(|candidate| candidate.applied).collect();
    applied.sort();
    skipped.sort();
    skipped.dedup();
    Ok(FixPlan {
        root: outcome.root.clone(),
        applied,
        skipped,
        changes,
        by_integration,
        not_scanned: outcome
            .report
            .skipped
            .iter()
            .map(|entry| Skipped { file: entry.file.clone(), reason: entry.reason.clone() })
            .collect(),
    })
}

/// Plans a fix for every finding of the fixable rules `wanted` selects.
fn candidates(
    outcome: &ScanOutcome,
    config: &Config,
    templates: &Templates,
    wanted: &dyn Fn(&str, &Option<String>) -> bool,
) -> (Vec<Candidate>, Vec<SkippedFix>) {
    let project = &outcome.project;
    let mut candidates = Vec::new();
    let mut skipped = Vec::new();
    let mut json_sites: BTreeMap<usize, Vec<unguarded_json::JsonSite>> = BTreeMap::new();
    let mut rollback_sites: BTreeMap<usize, Vec<missing_rollback::RollbackSite>> = BTreeMap::new();
    for (finding, reported) in outcome.findings.iter().zip(&outcome.report.findings) {
        if !wanted(finding.rule.code, &reported.integration) {
            continue;
        }
        let Some(file) = project.files.get(finding.file_index) else { continue };
        let applied = AppliedFix {
            file: file.relative_path.clone(),
            line: reported.line,
            rule: finding.rule.slug,
            code: finding.rule.code,
            integration: reported.integration.clone(),
            function: reported.function.clone(),
        };
        let key: FindingKey = (finding.rule.code, file.relative_path.clone(), finding.span.start_byte);
        let skip = |reason: String| SkippedFix { file: applied.file.clone(), line: applied.line, rule: applied.code, reason };
        if !file.language.has_codemod(finding.rule.code) {
            skipped.push(skip(match file.language {
                Language::TypeScript => typescript::NO_PERSIST_TEMPLATE.to_string(),
                language => format!("no codemod for {} code yet: fix it by hand", language.name()),
            }));
            continue;
        }
        let Some(facts) = project.facts(finding.file_index) else {
            skipped.push(skip("the file does not parse".into()));
            continue;
        };
        let provider = reported.integration.clone().unwrap_or_else(|| "provider".into());
        let template_names_provider =
            finding.rule.code == callback_no_persist::RULE.code || finding.rule.code == callback_no_sync::RULE.code;
        if template_names_provider && crate::integrations::is_dynamic(&provider) {
            skipped.push(skip(format!(
                "the callback serves every provider its path names (`{provider}`): the templates store and sync a provider by name, here it is a value; fix it by hand"
            )));
            continue;
        }
        // What the finding points at, found again in the facts.
        let target = match finding.rule.code {
            code if code == unguarded_json::RULE.code => json_sites
                .entry(finding.file_index)
                .or_insert_with(|| unguarded_json::check_file(project, config, finding.file_index, facts))
                .iter()
                .position(|site| site.span == finding.span)
                .map(Target::Json)
                .ok_or("the parse is not where the report says"),
            code if code == missing_rollback::RULE.code => rollback_sites
                .entry(finding.file_index)
                .or_insert_with(|| missing_rollback::check_file(project, config, finding.file_index, facts))
                .iter()
                .find(|site| site.span == finding.span)
                .map(|site| Target::Rollback {
                    session: site.session.clone(),
                    call: site.rollback_call.clone(),
                    migration: site.migration,
                    loop_losing_passes: site.loop_losing_passes,
                })
                .ok_or("the handler is not where the report says"),
            _ => callback_for(&outcome.callbacks, finding.file_index, finding.span)
                .map(Target::Callback)
                .ok_or("the callback is not where the report says"),
        };
        let mut creates = None;
        let result = match (target, file.language) {
            (Err(reason), _) => Err(reason.to_string()),
            (Ok(target), Language::TypeScript) => {
                let context = typescript::Context { project, file_index: finding.file_index, facts, templates, config };
                match target {
                    Target::Json(at) => {
                        let sites = &json_sites[&finding.file_index];
                        let site = &sites[at];
                        let ordinal = sites
                            .iter()
                            .filter(|other| {
                                !other.is_guarded()
                                    && other.function == site.function
                                    && other.receiver == site.receiver
                                    && other.span.start_byte < site.span.start_byte
                            })
                            .count();
                        let helper = typescript::helper(project, finding.file_index, facts, config, &templates.typescript_helper);
                        creates = helper.creates.clone();
                        typescript::guard(&context, site, ordinal, &helper)
                    }
                    Target::Rollback { call: Some(call), .. } => typescript::rollback(&context, finding.span, &call),
                    Target::Rollback { call: None, .. } => Err("no call known to roll this transaction back".into()),
                    Target::Callback(callback) => typescript::sync(&context, callback, &provider),
                }
            }
            (Ok(target), _) => {
                let context = python::Context {
                    project,
                    file_index: finding.file_index,
                    facts,
                    templates,
                    session_types: &config.persistence.session_types,
                    session_names: &config.persistence.session_names,
                    session_factories: &config.persistence.session_factories,
                    commits: &config.persistence.commits,
                    helper_module: &config.fix.python_helper_module,
                    sync_module: &config.fix.python_sync_module,
                };
                match target {
                    Target::Json(_) => {
                        let available = match helper_status(project, finding.file_index, facts, config, templates) {
                            HelperStatus::Available => Ok(()),
                            HelperStatus::Create(path, text) => {
                                creates = Some((path, text));
                                Ok(())
                            }
                            HelperStatus::Broken(reason) => Err(reason),
                        };
                        python::guard(&context, finding.span, available)
                    }
                    Target::Rollback { session: Some(session), migration: None, loop_losing_passes: Some(line), .. } => Err(format!(
                        "the handler goes on with the loop at line {}, which never commits `{session}`: `{session}.rollback()` would also discard what its earlier passes wrote; run each pass's writes in `with {session}.begin_nested():` by hand",
                        line + 1
                    )),
                    Target::Rollback { session: Some(session), migration: None, .. } => python::rollback(&context, finding.span, &session),
                    Target::Rollback { session: Some(session), migration: Some(Migration::Connection), .. } => {
                        python::savepoint(&context, finding.span, &session)
                    }
                    Target::Rollback { session: Some(session), migration: Some(Migration::BoundSession), .. } => Err(format!(
                        "`{session}` is a session on the migration's connection: `{session}.rollback()` would undo the whole migration, and a savepoint around ORM work is not safe to add blindly; run each statement that may fail in `with {session}.begin_nested():` by hand"
                    )),
                    Target::Rollback { session: None, .. } => Err("the handler's session is not known".into()),
                    Target::Callback(callback) if finding.rule.code == callback_no_persist::RULE.code => {
                        python::persist(&context, callback, &provider)
                    }
                    Target::Callback(callback) => python::sync(&context, callback, &provider),
                }
            }
        };
        match result {
            Ok(planned) => candidates.push(Candidate { key, applied, planned, creates }),
            Err(reason) => skipped.push(skip(reason)),
        }
    }
    (candidates, skipped)
}

/// What a finding to fix points at.
enum Target<'a> {
    /// The `.json()` site, by its index among its file's sites.
    Json(usize),
    /// The handler that needs a rollback: the session (Python) or the call rolling the
    /// transaction back (TypeScript).
    Rollback {
        session: Option<String>,
        call: Option<String>,
        /// A migration's session (Python): a savepoint, not a rollback.
        migration: Option<Migration>,
        /// The line of a loop whose earlier passes a rollback would discard too (Python).
        loop_losing_passes: Option<usize>,
    },
    Callback(&'a CallbackAnalysis),
}

fn callback_for(callbacks: &[CallbackAnalysis], file_index: usize, span: crate::facts::Span) -> Option<&CallbackAnalysis> {
    callbacks.iter().find(|callback| callback.file_index == file_index && callback.span == span)
}

enum HelperStatus {
    Available,
    /// The module is missing: create it at this path with this text.
    Create(String, String),
    Broken(String),
}

/// Whether the guard helper module can be imported from file `index`.
fn helper_status(project: &crate::index::Project, index: usize, facts: &FileFacts, config: &Config, templates: &Templates) -> HelperStatus {
    let module = &config.fix.python_helper_module;
    let defines = |facts: &FileFacts| {
        facts.find_function(None, "check_html_response").is_some()
            || facts.imports.iter().any(|import| import.alias == "check_html_response")
    };
    if let Some(found) = project.resolve_module(index, module) {
        let found_facts = if found == index { Some(facts) } else { project.facts(found) };
        return match found_facts {
            Some(found_facts) if defines(found_facts) => HelperStatus::Available,
            _ => HelperStatus::Broken(format!("`{}` does not define check_html_response", project.path(found))),
        };
    }
    if defines(facts) {
        return HelperStatus::Available;
    }
    // Absolute imports start where a module this file imports resolves from.
    let root = facts.imports.iter().filter(|import| !import.module.starts_with('.')).find_map(|import| {
        let found = project.resolve_module(index, &import.module)?;
        let path = project.path(found);
        let tail = import.module.replace('.', "/");
        path.strip_suffix(&format!("{tail}.py"))
            .or_else(|| path.strip_suffix(&format!("{tail}/__init__.py")))
            .map(|root| root.trim_end_matches('/').to_string())
    });
    let relative = match root {
        Some(root) if !root.is_empty() => format!("{root}/{}", config.fix.python_helper_file),
        _ => config.fix.python_helper_file.clone(),
    };
    HelperStatus::Create(relative, templates.python_helper.clone())
}

/// What verification found wrong, per fix and per file.
#[derive(Debug, Default)]
struct Failures {
    by_fix: BTreeMap<FindingKey, String>,
    by_file: BTreeMap<String, String>,
}

impl Failures {
    fn is_empty(&self) -> bool {
        self.by_fix.is_empty() && self.by_file.is_empty()
    }
}

struct Verifier<'a> {
    outcome: &'a ScanOutcome,
    config: &'a Config,
    templates: &'a Templates,
    scan_options: &'a ScanOptions,
}

impl Verifier<'_> {
    /// The edits per file of these fixes (their own, then imports and parameters).
    fn edits(&self, fixes: &[Candidate]) -> BTreeMap<String, Vec<Edit>> {
        let project = &self.outcome.project;
        let mut by_file: BTreeMap<String, Vec<&Candidate>> = BTreeMap::new();
        for fix in fixes {
            by_file.entry(fix.applied.file.clone()).or_default().push(fix);
        }
        let mut out = BTreeMap::new();
        for (path, fixes) in by_file {
            let Some(index) = project.files.iter().position(|file| file.relative_path == path) else { continue };
            let (Some(file), Some(facts)) = (project.files.get(index), project.facts(index)) else { continue };
            let mut edits: Vec<Edit> = Vec::new();
            for fix in &fixes {
                for edit in &fix.planned.edits {
                    if !edits.contains(edit) {
                        edits.push(edit.clone());
                    }
                }
            }
            let planned: Vec<&Planned> = fixes.iter().map(|fix| &fix.planned).collect();
            edits.extend(match file.language {
                Language::TypeScript => typescript::assemble(&file.text, facts, &planned),
                _ => python::assemble(&file.text, facts, &planned),
            });
            out.insert(path, edits);
        }
        out
    }

    fn changes(&self, fixes: &[Candidate]) -> Vec<FileChange> {
        self.changes_from(&self.edits(fixes), fixes)
    }

    /// The files `edits` change, and the helper modules `fixes` create.
    fn changes_from(&self, edits: &BTreeMap<String, Vec<Edit>>, fixes: &[Candidate]) -> Vec<FileChange> {
        let project = &self.outcome.project;
        let mut changes = Vec::new();
        for (path, edits) in edits {
            let Some(file) = project.files.iter().find(|file| &file.relative_path == path) else { continue };
            let edited = edit::apply(&file.text, edits);
            if edited != file.text {
                changes.push(FileChange {
                    relative_path: path.clone(),
                    path: file.path.clone(),
                    original: Some(file.text.clone()),
                    edited,
                });
            }
        }
        let created: BTreeMap<&String, &String> =
            fixes.iter().filter_map(|fix| fix.creates.as_ref()).map(|(path, text)| (path, text)).collect();
        for (path, text) in created {
            changes.push(FileChange {
                relative_path: path.clone(),
                path: self.outcome.root.join(path),
                original: None,
                edited: text.clone(),
            });
        }
        changes.sort_by(|a, b| a.relative_path.cmp(&b.relative_path));
        changes
    }

    fn check(&self, fixes: &[Candidate]) -> Failures {
        let mut failures = Failures::default();
        if fixes.is_empty() {
            return failures;
        }
        let project = &self.outcome.project;
        let edits = self.edits(fixes);
        let changes = self.changes_from(&edits, fixes);
        let mut files: Vec<SourceFile> = project
            .files
            .iter()
            .map(|file| match changes.iter().find(|change| change.relative_path == file.relative_path) {
                Some(change) => SourceFile::new(file.relative_path.clone(), file.path.clone(), file.language, change.edited.clone()),
                None => file.clone(),
            })
            .collect();
        for change in changes.iter().filter(|change| change.original.is_none()) {
            if files.iter().any(|file| file.relative_path == change.relative_path) {
                failures.by_file.insert(change.relative_path.clone(), "the helper module to create already exists".into());
                continue;
            }
            let language = crate::discover::language_of(&change.path).unwrap_or(Language::Python);
            files.push(SourceFile::new(change.relative_path.clone(), change.path.clone(), language, change.edited.clone()));
        }
        files.sort_by(|a, b| a.relative_path.cmp(&b.relative_path));
        let Ok(after) = scan::scan_discovered(self.scan_options, self.config, self.outcome.root.clone(), files, Vec::new()) else {
            failures.by_file.insert(String::new(), "the edited tree could not be scanned".into());
            return failures;
        };

        // Syntax: no file may parse worse than before.
        let regions = |outcome: &ScanOutcome, path: &str| {
            outcome.syntax_warnings.iter().find(|warning| warning.file == path).map_or(0, |warning| warning.regions)
        };
        for change in &changes {
            let unparsed = after.report.skipped.iter().any(|entry| entry.file == change.relative_path);
            if unparsed || regions(&after, &change.relative_path) > regions(self.outcome, &change.relative_path) {
                failures.by_file.insert(change.relative_path.clone(), format!("`{}` no longer parses cleanly", change.relative_path));
            }
        }

        // Re-audit: each finding of the edited tree, at its position in the original text.
        let before: BTreeSet<FindingKey> = self
            .outcome
            .findings
            .iter()
            .filter_map(|finding| {
                Some((finding.rule.code, project.files.get(finding.file_index)?.relative_path.clone(), finding.span.start_byte))
            })
            .collect();
        let mut after_keys: BTreeSet<FindingKey> = BTreeSet::new();
        for (finding, reported) in after.findings.iter().zip(&after.report.findings) {
            let path = reported.file.clone();
            let mapped = match edits.get(&path) {
                Some(file_edits) => edit::map_back(file_edits, finding.span.start_byte),
                None if changes.iter().any(|change| change.relative_path == path && change.original.is_none()) => None,
                None => Some(finding.span.start_byte),
            };
            match mapped {
                Some(offset) if before.contains(&(finding.rule.code, path.clone(), offset)) => {
                    after_keys.insert((finding.rule.code, path, offset));
                }
                _ => {
                    failures.by_file.entry(path).or_insert_with(|| {
                        format!("the edited code has a new {} finding at line {}: {}", reported.code, reported.line, reported.message)
                    });
                }
            }
        }
        for fix in fixes {
            if after_keys.contains(&fix.key) {
                failures.by_fix.insert(fix.key.clone(), format!("the re-audit still reports {} here", fix.applied.code));
            }
        }

        // Idempotence: a second run plans nothing new.
        let (again, _) = candidates(&after, self.config, self.templates, &|code, _| FIXABLE_RULES.iter().any(|rule| rule.code == code));
        for candidate in again {
            let path = candidate.applied.file.clone();
            let original = edits.get(&path).and_then(|file_edits| edit::map_back(file_edits, candidate.key.2)).unwrap_or(candidate.key.2);
            let key = (candidate.key.0, path.clone(), original);
            let targeted = fixes.iter().any(|fix| fix.key == key);
            if targeted || !before.contains(&key) {
                failures.by_file.entry(path).or_insert_with(|| format!("a second run would patch line {} again", candidate.applied.line));
            }
        }
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_file_names() {
        assert_eq!(patch_file_stem("hubspot"), "hubspot");
        assert_eq!(patch_file_stem("clients/{client_id}"), "clients-client_id");
        assert_eq!(patch_file_stem("{provider}"), "provider");
        assert_eq!(patch_file_stem("../../etc"), "etc");
        assert_eq!(patch_file_stem("{}"), "unnamed");
    }
}
