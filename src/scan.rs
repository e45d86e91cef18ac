//! The scan pipeline: discover -> parse (on demand) -> rules -> suppressions ->
//! integrations -> coverage -> report.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::callbacks::{self, CallbackAnalysis};
use crate::callers::{Callers, FileCalls, Question};
use crate::config::Config;
use crate::coverage::{self, CoverageInput, StepItem};
use crate::discover::{self, DiscoverOptions, Skipped};
use crate::facts::{Span, last_segment};
use crate::index::{CowFacts, Project, Resolver};
use crate::integrations::{self, ProviderMatcher, Routing};
use crate::lang::ExtractOptions;
use crate::report::Callback;
use crate::report::{Report, ReportFinding, SCHEMA, TOOL_NAME, TOOL_VERSION, Tool};
use crate::routes;
use crate::rules::{CALLBACK_RULES, Finding, RuleInfo, callback_no_persist, callback_no_sync, missing_rollback, unguarded_json};
use crate::source::SourceFile;
use crate::suppress::Suppressions;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub paths: Vec<PathBuf>,
    /// The folder report paths are relative to: [`discover::scan_root`] of `paths`.
    pub root: PathBuf,
    pub include_tests: bool,
    /// Worker threads; 0 for one per core.
    pub jobs: usize,
    /// Rules to run; empty for all.
    pub rules: Vec<&'static RuleInfo>,
    /// Integrations to report; empty for all.
    pub integrations: Vec<String>,
}

#[derive(Debug, Error)]
pub enum ScanError {
    #[error("{0}: no such file or folder")]
    MissingPath(String),
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}

/// A file that parsed with recovered syntax errors: analysed as far as it parsed.
#[derive(Debug, Clone)]
pub struct SyntaxWarning {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub regions: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub files: usize,
    pub bytes: usize,
    pub parsed: usize,
    /// Bytes of the files parsed.
    pub parsed_bytes: usize,
    /// Files parsed (and kept) because resolution from another file reached them.
    pub resolved: usize,
    pub elapsed: Duration,
    /// Walking and reading files.
    pub discover: Duration,
    /// The per-file pass: prefilter, parsing, rules.
    pub analyse: Duration,
}

pub struct ScanOutcome {
    pub root: PathBuf,
    pub report: Report,
    pub project: Project,
    /// Where each reported finding is, in the order of `report.findings`.
    pub findings: Vec<FindingAt>,
    /// The callbacks of the reported integrations.
    pub callbacks: Vec<CallbackAnalysis>,
    pub syntax_warnings: Vec<SyntaxWarning>,
    pub stats: Stats,
}

pub fn scan(options: &ScanOptions, config: &Config) -> Result<ScanOutcome, ScanError> {
    let started = Instant::now();
    let (pool, threads) = worker_pool(options.jobs)?;
    pool.install(|| {
        let discovery = discover::discover(
            &DiscoverOptions { paths: options.paths.clone(), root: options.root.clone(), include_tests: options.include_tests, threads },
            config,
        );
        if let Some(missing) = discovery.missing.first() {
            return Err(ScanError::MissingPath(missing.display().to_string()));
        }
        Ok(scan_files(options, config, discovery.root, discovery.files, discovery.skipped, started))
    })
}

/// Scans files already read (the texts `fix` plans to write, say): everything after discovery.
pub fn scan_discovered(
    options: &ScanOptions,
    config: &Config,
    root: PathBuf,
    files: Vec<SourceFile>,
    skipped: Vec<Skipped>,
) -> Result<ScanOutcome, ScanError> {
    let started = Instant::now();
    let (pool, _) = worker_pool(options.jobs)?;
    Ok(pool.install(|| scan_files(options, config, root, files, skipped, started)))
}

/// A scan worker's stack.
const WORKER_STACK: usize = 16 * 1024 * 1024;

/// `jobs` worker threads (0: one per core), and how many that is.
fn worker_pool(jobs: usize) -> Result<(rayon::ThreadPool, usize), ScanError> {
    let threads = if jobs == 0 { std::thread::available_parallelism().map(usize::from).unwrap_or(1) } else { jobs };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        // Deeply nested code recurses in the frontend; give workers room, and tell the Python
        // frontend, which parses a file too big for it on a thread of its own.
        .stack_size(WORKER_STACK)
        .start_handler(|_| crate::lang::python::declare_stack(WORKER_STACK))
        .build()
        .map_err(|error| ScanError::Threads(error.to_string()))?;
    Ok((pool, threads))
}

fn scan_files(
    options: &ScanOptions,
    config: &Config,
    root: PathBuf,
    files: Vec<SourceFile>,
    mut skipped: Vec<Skipped>,
    started: Instant,
) -> ScanOutcome {
    let discovered = started.elapsed();
    let mut project = Project::new(files);
    let selected = |rule: &RuleInfo| options.rules.is_empty() || options.rules.iter().any(|chosen| chosen.code == rule.code);
    let matcher = ProviderMatcher::new(config);
    let run_unguarded_json = selected(&unguarded_json::RULE);
    let run_callbacks = CALLBACK_RULES.iter().any(|(rule, _)| selected(rule));
    let run_rollback = selected(&missing_rollback::RULE);
    let wants = Wants { selected: &selected, run_unguarded_json, run_callbacks, run_rollback };

    // Routers mounted with a prefix in another file (`app.include_router(r, prefix=...)`).
    let mounts = routes::project_mounts(&project);

    let analyse = |index: usize| {
        let file = &project.files[index];
        let path_provider = integrations::provider_from_path(config, &matcher, &root, file);
        let mounted = mounts.get(index).map(Vec::as_slice).unwrap_or_default();
        // Routes and prefixes group a file only when its path names no provider.
        let wants_routing = path_provider.is_none()
            && (integrations::may_declare_routes(&file.relative_path, &file.text, file.language, !mounted.is_empty())
                || integrations::names_unbacked_provider(&matcher, &file.relative_path));
        let mut analysis = analyse_file(&project, config, index, &wants, wants_routing, mounted);
        analysis.path_provider = path_provider;
        analysis
    };
    // One pass per file, largest first so one big file does not become a single-threaded
    // tail. A file is parsed only when the prefilter says a rule or grouping needs it, and
    // its facts are dropped once its results are taken.
    let mut order: Vec<usize> = (0..project.files.len()).collect();
    order.sort_by_key(|index| std::cmp::Reverse(project.files[*index].text.len()));
    let mut analyses: Vec<(usize, FileAnalysis)> = order
        .par_iter()
        // One job per file: sizes vary by orders of magnitude, so coarse chunks would
        // leave a core idle while the other works through the big files.
        .with_max_len(1)
        .map(|&index| (index, analyse(index)))
        .collect();
    analyses.sort_by_key(|(index, _)| *index);
    if run_callbacks {
        // A callback forwarding its code needs every route of the tree: the pass lists each
        // file's routes, and the few forwarding files are analysed again once it is done.
        let table = analyses
            .iter_mut()
            .flat_map(|(index, analysis)| {
                let file_index = *index;
                std::mem::take(&mut analysis.routes).into_iter().map(move |route| routes::ProjectRoute { file_index, route })
            })
            .collect();
        let again = project.set_routes(table);
        let redone: Vec<(usize, FileAnalysis)> = again.par_iter().with_max_len(1).map(|&index| (index, analyse(index))).collect();
        for (index, analysis) in redone {
            if let Some(slot) = analyses.get_mut(index).filter(|(at, _)| *at == index) {
                slot.1 = analysis;
            }
        }
    }
    if run_unguarded_json {
        settle_helpers(&project, config, &mut analyses, Settled::Json);
    }
    if run_rollback {
        settle_helpers(&project, config, &mut analyses, Settled::Rollback);
    }
    let analysed = started.elapsed();
    let resolved = project.resolved_count();
    // The parses resolution and deferred files kept are not needed for the report.
    project.release_facts();

    let mut syntax_warnings = Vec::new();
    let mut unparsed = vec![false; project.files.len()];
    let mut parsed = 0;
    let mut parsed_bytes = 0;
    let mut assignments = Vec::with_capacity(project.files.len());
    for (index, analysis) in &analyses {
        let file = &project.files[*index];
        match &analysis.parse {
            ParseStatus::NotParsed => {}
            ParseStatus::Failed(error) => {
                parsed += 1;
                parsed_bytes += file.text.len();
                unparsed[*index] = true;
                skipped.push(Skipped { file: file.relative_path.clone(), reason: format!("cannot parse: {error}") });
            }
            ParseStatus::Parsed { syntax_errors, first_error } => {
                parsed += 1;
                parsed_bytes += file.text.len();
                if *syntax_errors > 0 {
                    let at = first_error.unwrap_or_default();
                    syntax_warnings.push(SyntaxWarning {
                        file: file.relative_path.clone(),
                        line: at.start.line + 1,
                        column: file.character_column(at.start.line, at.start.column),
                        regions: *syntax_errors,
                    });
                }
            }
        }
    }
    let unknown = integrations::unknown_providers(&matcher, analyses.iter().filter_map(|(_, analysis)| analysis.routing.as_ref()));
    for (index, analysis) in &analyses {
        let file = &project.files[*index];
        let (path, text) = (file.relative_path.as_str(), file.text.as_str());
        assignments.push(integrations::assign(&matcher, analysis.path_provider.clone(), analysis.routing.as_ref(), &unknown, (path, text)));
    }
    skipped.sort();

    let mut findings = Vec::new();
    let mut suppressed = 0;
    let mut items = Vec::new();
    let mut callback_entries = Vec::new();
    let wanted = |integration: &Option<String>| {
        options.integrations.is_empty() || integration.as_ref().is_some_and(|name| options.integrations.contains(name))
    };
    // A suppressed finding is accepted: its item counts as done, and it is counted, not reported.
    let mut take = |finding: Option<Suppressible>, integration: &Option<String>| -> bool {
        match finding {
            None => true,
            Some(Suppressible { suppressed: true, .. }) => {
                suppressed += 1;
                true
            }
            Some(Suppressible { finding, .. }) => {
                findings.push((finding, integration.clone()));
                false
            }
        }
    };
    // Each callback's integration: a file of routes may serve several providers (Chainlit's
    // `server.py`), so a callback belongs to the integration its own route names, if any.
    let callback_integrations: Vec<Vec<Option<String>>> = analyses
        .iter()
        .map(|(index, analysis)| {
            let file_integration = assignments.get(*index).cloned().flatten();
            let integration_of = |callback: &AnalysedCallback| {
                integrations::of_callback(&matcher, analysis.path_provider.as_ref(), &file_integration, &callback.analysis.path)
            };
            analysis.callbacks.iter().map(integration_of).collect()
        })
        .collect();
    // The tree's callbacks by handler, with their integration and whether each of their two
    // steps is done. A callback forwarding its code to one of the same integration stores and
    // syncs through it: a missing store or sync is that route's defect, reported there once,
    // and the forwarding callback's steps are done when the route's are.
    let step_done = |callback: &AnalysedCallback, rule: &RuleInfo| {
        callback.findings.iter().all(|finding| finding.finding.rule.code != rule.code || finding.suppressed)
    };
    let routes_by_handler: HashMap<(usize, String), (&Option<String>, bool, bool)> = analyses
        .iter()
        .zip(&callback_integrations)
        .flat_map(|((_, analysis), integrations)| analysis.callbacks.iter().zip(integrations))
        .filter(|(callback, _)| callback.analysis.kind == callbacks::Kind::Callback)
        .map(|(callback, integration)| {
            let key = (callback.analysis.file_index, callback.analysis.function.clone());
            (key, (integration, step_done(callback, &callback_no_persist::RULE), step_done(callback, &callback_no_sync::RULE)))
        })
        .collect();
    // The findings move from the analyses to the report: they are the bulk of its memory.
    for ((index, analysis), integrations) in analyses.iter_mut().zip(&callback_integrations) {
        for (callback, integration) in analysis.callbacks.iter_mut().zip(integrations) {
            if !wanted(integration) {
                continue;
            }
            let route = callback
                .analysis
                .delegation
                .as_ref()
                .and_then(|delegation| delegation.target.as_ref())
                .and_then(|target| routes_by_handler.get(&(target.file_index, target.handler.clone())))
                .filter(|(route_integration, _, _)| *route_integration == integration);
            let (mut persisted, mut synced) = (true, true);
            for finding in std::mem::take(&mut callback.findings) {
                let code = finding.finding.rule.code;
                if code == callback_no_persist::RULE.code {
                    persisted = route.map_or_else(|| take(Some(finding), integration), |(_, persisted, _)| *persisted);
                } else if code == callback_no_sync::RULE.code {
                    synced = route.map_or_else(|| take(Some(finding), integration), |(_, _, synced)| *synced);
                } else {
                    take(Some(finding), integration);
                }
            }
            let analysis = &callback.analysis;
            if analysis.kind == callbacks::Kind::Callback {
                if selected(&callback_no_persist::RULE) {
                    items.push(StepItem { step: "token_persistence", integration: integration.clone(), done: persisted });
                }
                if selected(&callback_no_sync::RULE) && analysis.persists() {
                    items.push(StepItem { step: "historical_sync", integration: integration.clone(), done: synced });
                }
            }
            callback_entries.push((integration.clone(), callback_entry(&project, analysis)));
        }
        let integration = assignments.get(*index).cloned().flatten();
        if !wanted(&integration) {
            continue;
        }
        for site in std::mem::take(&mut analysis.sites) {
            let done = take(site, &integration);
            items.push(StepItem { step: "html_guard", integration: integration.clone(), done });
        }
        for rollback in std::mem::take(&mut analysis.rollbacks) {
            let done = take(rollback, &integration);
            items.push(StepItem { step: "rollback", integration: integration.clone(), done });
        }
    }

    let (report_findings, findings) = to_report_findings(&project, findings);
    // The files of the wanted integrations, with theirs; a file of another holding a callback
    // of a wanted one counts too (the callback brings it into its integration).
    let mut with_wanted_callback = vec![false; project.files.len()];
    for ((index, _), integrations) in analyses.iter().zip(&callback_integrations) {
        with_wanted_callback[*index] = integrations.iter().any(&wanted);
    }
    let files: Vec<(String, Option<String>)> = project
        .files
        .iter()
        .enumerate()
        .filter(|(index, _)| !unparsed[*index])
        .filter_map(|(index, file)| {
            let integration = assignments.get(index).cloned().flatten();
            let own = wanted(&integration);
            (own || with_wanted_callback[index]).then(|| (file.relative_path.clone(), integration.filter(|_| own)))
        })
        .collect();
    let mut callbacks = Vec::new();
    for ((_, analysis), integrations) in analyses.into_iter().zip(callback_integrations) {
        let kept = analysis.callbacks.into_iter().zip(integrations).filter(|(_, integration)| wanted(integration));
        callbacks.extend(kept.map(|(callback, _)| callback.analysis));
    }
    let (integrations, summary, next) = coverage::compute(&CoverageInput {
        files: &files,
        callbacks: &callback_entries,
        items: &items,
        findings: &report_findings,
        suppressed,
        files_skipped: skipped.len(),
    });
    let stats = Stats {
        files: project.files.len(),
        bytes: project.files.iter().map(|file| file.text.len()).sum(),
        parsed,
        parsed_bytes,
        resolved,
        elapsed: started.elapsed(),
        discover: discovered,
        analyse: analysed.saturating_sub(discovered),
    };
    let report = Report {
        schema: SCHEMA,
        tool: Tool { name: TOOL_NAME, version: TOOL_VERSION },
        summary,
        integrations,
        next,
        findings: report_findings,
        skipped,
        delta: None,
    };
    ScanOutcome { root, report, project, findings, callbacks, syntax_warnings, stats }
}

/// What one file's pass produced.
struct FileAnalysis {
    /// The provider the file's path names, if any.
    path_provider: Option<String>,
    /// `.json()` sites, with the finding of those without a guard.
    sites: Vec<Option<Suppressible>>,
    callbacks: Vec<AnalysedCallback>,
    /// `except` handlers that need a rollback, with the finding of those without one.
    rollbacks: Vec<Option<Suppressible>>,
    routing: Option<Routing>,
    /// The routes the file declares, for the route table (see [`Project::routes`]).
    routes: Vec<routes::Route>,
    /// The file's calls, for OA001 sites in helpers whose callers guard them.
    calls: Option<FileCalls>,
    /// The unguarded, unsuppressed `sites` in a function, which its callers may guard.
    helper_sites: Vec<HelperSite>,
    /// The file's calls, for OA004 handlers that raise to a caller that may roll back.
    rollback_calls: Option<FileCalls>,
    /// The unsuppressed `rollbacks` findings whose handler hands the error to the caller.
    handed_over: Vec<HelperSite>,
    parse: ParseStatus,
}

/// A finding its function's callers may settle: its index in [`FileAnalysis::sites`] (or
/// `rollbacks`), the function's name, and the guard bit its callers' calls must carry (an
/// OA001 site's library, [`unguarded_json::Library::bit`]; OA004's
/// [`missing_rollback::ROLLED_BACK`]).
struct HelperSite {
    site: usize,
    function: String,
    bit: u8,
}

/// A finding and whether a comment suppresses it.
struct Suppressible {
    finding: Finding,
    suppressed: bool,
}

struct AnalysedCallback {
    analysis: CallbackAnalysis,
    findings: Vec<Suppressible>,
}

/// Which analyses the selected rules need.
struct Wants<'w> {
    selected: &'w (dyn Fn(&RuleInfo) -> bool + Sync),
    run_unguarded_json: bool,
    run_callbacks: bool,
    run_rollback: bool,
}

enum ParseStatus {
    NotParsed,
    Parsed { syntax_errors: usize, first_error: Option<Span> },
    Failed(String),
}

fn analyse_file(
    project: &Project,
    config: &Config,
    index: usize,
    wants: &Wants,
    wants_routing: bool,
    mounts: &[routes::Mount],
) -> FileAnalysis {
    let nothing = FileAnalysis {
        path_provider: None,
        sites: Vec::new(),
        callbacks: Vec::new(),
        rollbacks: Vec::new(),
        routing: None,
        routes: Vec::new(),
        calls: None,
        helper_sites: Vec::new(),
        rollback_calls: None,
        handed_over: Vec::new(),
        parse: ParseStatus::NotParsed,
    };
    let Some(file) = project.files.get(index) else {
        return nothing;
    };
    let wants_sites = wants.run_unguarded_json && unguarded_json::may_have_sites(&file.text, config);
    // The files whose routes make the route table: those declaring route handlers.
    let declares_routes =
        wants.run_callbacks && (routes::may_declare_handlers(&file.text, file.language) || routes::is_route_file(&file.relative_path));
    let wants_callbacks = declares_routes || (wants.run_callbacks && routes::may_define_declared(&file.text, &config.callbacks.handlers));
    let wants_rollback = wants.run_rollback && missing_rollback::may_have_sites(&file.text, config);
    // Grouping needs the paths of a routing file's exchanging callbacks (an exchange endpoint's
    // prefix names its provider) even when no callback rule runs: those of files that may
    // hold one, reading a code or in a tree that calls a request exchange.
    let probes_exchanges = wants_routing
        && !wants.run_callbacks
        && routes::may_declare_handlers(&file.text, file.language)
        && (callbacks::mentions_code_input(&file.text, config) || callbacks::tree_calls_request_exchange(project, file.language, config));
    let full = wants_sites || wants_callbacks || wants_rollback || probes_exchanges;
    if !full && !wants_routing {
        return nothing;
    }
    let options = ExtractOptions { outline: !full, comments_with: full.then_some(crate::suppress::MARKER) };
    let Some(parsed) = project.parse(index, options) else {
        return nothing;
    };
    let facts = match parsed {
        Ok(facts) => facts,
        Err(error) => return FileAnalysis { parse: ParseStatus::Failed(error), ..nothing },
    };
    // Only where sites are looked for, whichever rules run, are calls recorded: a call of a
    // helper elsewhere keeps its sites unguarded, the same in every run.
    let (found_sites, calls) = if wants_sites {
        let (sites, calls) = unguarded_json::check_file_and_calls(project, config, index, &facts);
        (sites, Some(calls))
    } else {
        (Vec::new(), None)
    };
    let prefixes = if wants_callbacks || wants_routing { routes::mounted_prefixes(&facts, mounts) } else { BTreeMap::new() };
    let declared_routes = if wants_callbacks { routes::file_routes(&facts, &prefixes, &file.relative_path) } else { Vec::new() };
    let found_callbacks = if wants_callbacks {
        let resolver = Resolver::new(project, index, &facts);
        let handled: Vec<routes::Route> =
            declared_routes.iter().cloned().chain(routes::declared_handlers(&facts, &config.callbacks.handlers)).collect();
        callbacks::analyse_routes(&resolver, config, index, &facts, &handled)
    } else {
        Vec::new()
    };
    let found_rollbacks = if wants_rollback { missing_rollback::check_file(project, config, index, &facts) } else { Vec::new() };
    let exchange_paths: Vec<String> = if probes_exchanges {
        let resolver = Resolver::new(project, index, &facts);
        let handled = routes::file_routes(&facts, &prefixes, &file.relative_path);
        callbacks::analyse_routes(&resolver, config, index, &facts, &handled)
            .into_iter()
            .filter(|callback| callback.kind.exchanges())
            .map(|callback| callback.path)
            .collect()
    } else {
        found_callbacks.iter().filter(|callback| callback.kind.exchanges()).map(|callback| callback.path.clone()).collect()
    };
    let callback_findings: Vec<Vec<Finding>> = found_callbacks
        .iter()
        .map(|callback| {
            let mut findings: Vec<Finding> = CALLBACK_RULES
                .iter()
                .filter(|(rule, _)| (wants.selected)(rule))
                .filter_map(|(_, check)| check(project, callback))
                .collect();
            // A TypeScript sync call needs the code base's own sync function and a tenant or
            // user in scope: without them `fix` skips it, so the finding is not fixable.
            for finding in findings.iter_mut().filter(|finding| finding.fixable && finding.rule.code == callback_no_sync::RULE.code) {
                if facts.language == crate::facts::Language::TypeScript {
                    finding.fixable = crate::fix::typescript::sync_blocker(project, config, index, &facts, callback).is_none();
                }
            }
            findings
        })
        .collect();
    let any_finding = found_sites.iter().any(|site| !site.is_guarded())
        || callback_findings.iter().any(|findings| !findings.is_empty())
        || found_rollbacks.iter().any(|site| site.finding.is_some());
    let suppressions = if any_finding { Suppressions::from_comments(&facts.comments, file) } else { Suppressions::default() };
    let suppressible = |finding: Finding| Suppressible { suppressed: suppressions.covers(finding.rule, finding.span.start.line), finding };
    let sites: Vec<Option<Suppressible>> = found_sites.iter().map(|site| site.finding().map(suppressible)).collect();
    let helper_sites = found_sites
        .iter()
        .zip(&sites)
        .enumerate()
        .filter(|(_, (_, finding))| finding.as_ref().is_some_and(|finding| !finding.suppressed))
        .filter_map(|(at, (site, _))| {
            let function = last_segment(site.function.as_deref()?).to_string();
            Some(HelperSite { site: at, function, bit: site.library.bit() })
        })
        .collect();
    let callbacks = found_callbacks
        .into_iter()
        .zip(callback_findings)
        .map(|(analysis, findings)| AnalysedCallback { analysis, findings: findings.into_iter().map(suppressible).collect() })
        .collect();
    let rollbacks: Vec<Option<Suppressible>> = found_rollbacks.iter().map(|site| site.finding.clone().map(suppressible)).collect();
    let handed_over = found_rollbacks
        .iter()
        .zip(&rollbacks)
        .enumerate()
        .filter(|(_, (site, finding))| site.handed_over && finding.as_ref().is_some_and(|finding| !finding.suppressed))
        .filter_map(|(at, (_, finding))| {
            let function = last_segment(finding.as_ref()?.finding.function.as_deref()?).to_string();
            Some(HelperSite { site: at, function, bit: missing_rollback::ROLLED_BACK })
        })
        .collect();
    let rollback_calls = (wants_rollback && facts.language == crate::facts::Language::Python)
        .then(|| missing_rollback::rollback_calls(project, config, index, &facts));
    let analysis = FileAnalysis {
        path_provider: None,
        sites,
        callbacks,
        rollbacks,
        routing: wants_routing.then(|| Routing::of(config, &facts, &file.relative_path, prefixes, exchange_paths)),
        routes: if declares_routes { declared_routes } else { Vec::new() },
        calls,
        helper_sites,
        rollback_calls,
        handed_over,
        parse: ParseStatus::Parsed { syntax_errors: facts.syntax_errors, first_error: facts.first_syntax_error },
    };
    // A file analysed again once the route table is complete keeps its facts until then
    // (read with the cache's options, as every callback analysis is).
    if wants_callbacks
        && let CowFacts::Owned(facts) = facts
        && project.is_deferred(index)
    {
        project.keep(index, facts);
    }
    analysis
}

/// The findings [`settle_helpers`] settles from their callers.
#[derive(Clone, Copy)]
enum Settled {
    /// Unguarded OA001 sites in functions whose every call in the tree sits in a `try`
    /// that handles the site's decode error (a `try` up to
    /// [`crate::callers::MAX_CALLER_DEPTH`] calls up): LiteLLM's
    /// `transform_response(raw_response)` parses a response its only callers send inside
    /// `try: ... except Exception as e: raise self._handle_error(e)`.
    Json,
    /// OA004 handlers that raise with a session the function was given, in functions whose
    /// every call rolls back what it raises: Superset's `TaskDAO.remove_subscriber` under its
    /// caller's `@transaction()`.
    Rollback,
}

fn settle_helpers(project: &Project, config: &Config, analyses: &mut [(usize, FileAnalysis)], settled: Settled) {
    let mut questions = Vec::new();
    let mut asked = Vec::new();
    for (slot, (index, analysis)) in analyses.iter().enumerate() {
        let Some(file) = project.files.get(*index) else { continue };
        let helpers = match settled {
            Settled::Json => &analysis.helper_sites,
            Settled::Rollback => &analysis.handed_over,
        };
        for helper in helpers {
            questions.push(Question { language: file.language, name: helper.function.clone(), bit: helper.bit });
            asked.push((slot, helper.site));
        }
    }
    if questions.is_empty() {
        return;
    }
    // Analyses are in file order, one per file.
    let files = analyses
        .iter_mut()
        .map(|(_, analysis)| match settled {
            Settled::Json => analysis.calls.take(),
            Settled::Rollback => analysis.rollback_calls.take(),
        })
        .collect();
    // OA004's callers are rarely where the rule parses (no write of their own, Superset's
    // `@transaction()` commands): files mentioning a name asked about are recorded when
    // found. OA001's are read where they are recorded only: its questions are many.
    let record = |index: usize| {
        let facts = project.facts(index)?;
        (facts.language == crate::facts::Language::Python).then(|| missing_rollback::rollback_calls(project, config, index, facts))
    };
    let callers = Callers::new(project, files);
    let answers = match settled {
        Settled::Json => callers,
        Settled::Rollback => callers.with_recorder(&record, &config.rollback.writes),
    }
    .answer(&questions);
    for ((slot, site), guarded) in asked.into_iter().zip(answers) {
        let Some((_, analysis)) = analyses.get_mut(slot) else { continue };
        let findings = match settled {
            Settled::Json => &mut analysis.sites,
            Settled::Rollback => &mut analysis.rollbacks,
        };
        if guarded && let Some(finding) = findings.get_mut(site) {
            *finding = None;
        }
    }
}

/// A callback as the report lists it.
fn callback_entry(project: &Project, analysis: &CallbackAnalysis) -> Callback {
    let location = |hop: &callbacks::Hop| crate::rules::hop_location(project, hop);
    let via = |chain: &Option<Vec<callbacks::Hop>>| -> Vec<crate::report::HopEntry> {
        chain
            .iter()
            .flatten()
            .map(|hop| crate::report::HopEntry {
                file: project.path(hop.file_index).to_string(),
                line: hop.line + 1,
                function: hop.function.clone(),
            })
            .collect()
    };
    Callback {
        file: project.path(analysis.file_index).to_string(),
        line: analysis.span.start.line + 1,
        function: analysis.function.clone(),
        route: analysis.route.clone(),
        kind: analysis.kind.name(),
        persists: analysis.persists(),
        persisted_in: analysis.persistence.as_ref().and_then(|chain| chain.last()).map(location),
        persisted_via: via(&analysis.persistence),
        syncs: analysis.syncs(),
        synced_in: analysis.sync.as_ref().and_then(|chain| chain.last()).map(location),
        synced_via: via(&analysis.sync),
        returns_tokens: analysis.leak.is_some(),
        validates_state: analysis.state == callbacks::StateCheck::Validated,
        state: analysis.state.name(),
    }
}

/// A reported finding's rule and byte span: what `fix` needs beyond the report's entry.
pub struct FindingAt {
    pub rule: &'static RuleInfo,
    pub file_index: usize,
    pub span: Span,
}

/// The report's findings, each with its integration, and where each is, in the same order.
/// The findings' texts move into the report: a tree with thousands of findings would hold
/// them twice at the scan's peak memory.
fn to_report_findings(project: &Project, mut findings: Vec<(Finding, Option<String>)>) -> (Vec<ReportFinding>, Vec<FindingAt>) {
    let mut out: Vec<ReportFinding> = Vec::with_capacity(findings.len());
    let mut kept = Vec::with_capacity(findings.len());
    // Occurrences by the digest of their key: the keys themselves hold a path and a line each.
    let mut occurrences: HashMap<[u8; 32], usize> = HashMap::new();
    // Discovery sorts files by path, so file order is path order.
    findings.sort_by_key(|(finding, _)| (finding.file_index, finding.span.start_byte, finding.rule.code));
    for (finding, integration) in findings {
        let Some(file) = project.files.get(finding.file_index) else { continue };
        let Span { start, end, .. } = finding.span;
        let snippet = normalized_snippet(file.line(start.line));
        let key = format!("{}\0{}\0{}\0{}", finding.rule.slug, file.relative_path, finding.function.as_deref().unwrap_or(""), snippet);
        let occurrence = occurrences.entry(Sha256::digest(key.as_bytes()).into()).or_default();
        let fingerprint = fingerprint(&format!("{key}\0{occurrence}"));
        *occurrence += 1;
        out.push(ReportFinding {
            fingerprint,
            rule: finding.rule.slug,
            code: finding.rule.code,
            severity: finding.rule.severity,
            confidence: finding.confidence,
            file: file.relative_path.clone(),
            line: start.line + 1,
            column: file.character_column(start.line, start.column),
            end_line: end.line + 1,
            end_column: file.character_column(end.line, end.column),
            integration,
            function: finding.function,
            message: finding.message,
            fixable: finding.fixable && file.language.has_codemod(finding.rule.code),
            related: finding
                .related
                .into_iter()
                .map(|related| crate::report::RelatedEntry {
                    file: project.path(related.file_index).to_string(),
                    line: related.line + 1,
                    message: related.message,
                })
                .collect(),
        });
        kept.push(FindingAt { rule: finding.rule, file_index: finding.file_index, span: finding.span });
    }
    (out, kept)
}

/// Text with its whitespace collapsed, so re-indenting or moving code keeps fingerprints.
pub fn normalized_snippet(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn fingerprint(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect()
}

/// Peak resident memory of this process in KiB (Linux), for `--stats` and benchmarks.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
