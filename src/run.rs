//! The commands, from parsed arguments to an exit status.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::baseline;
use crate::cli::{ColorChoice, Command, FailOn, FixArgs, FixFormat, Format, RulesArgs, ScanArgs};
use crate::config::Config;
use crate::discover;
use crate::fix::{self, FixOptions};
use crate::report::{PathBase, github, json, markdown, sarif, text};
use crate::rules::{RULES, Severity, find_rule};
use crate::scan::{self, ScanOptions};

/// What the process exits with: 0 clean, 1 findings or thresholds breached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Clean,
    Failed,
}

pub fn run(command: Command) -> Result<Outcome> {
    match command {
        Command::Scan(args) => run_scan(args),
        Command::Fix(args) => run_fix(args),
        Command::Rules(args) => {
            print!("{}", rules_listing(&args));
            Ok(Outcome::Clean)
        }
        Command::Explain { id } => {
            let Some(rule) = find_rule(&id) else {
                bail!("unknown rule {id:?}; known rules: {}", known_rules());
            };
            print!("{}", rule.documentation());
            Ok(Outcome::Clean)
        }
    }
}

fn known_rules() -> String {
    RULES.iter().map(|rule| format!("{} ({})", rule.code, rule.slug)).collect::<Vec<_>>().join(", ")
}

fn rules_listing(args: &RulesArgs) -> String {
    if args.json {
        let rules: Vec<serde_json::Value> = RULES
            .iter()
            .map(|rule| serde_json::json!({"code": rule.code, "slug": rule.slug, "step": rule.step, "severity": rule.severity, "fixable": rule.fixable, "title": rule.title}))
            .collect();
        return serde_json::to_string_pretty(&rules).unwrap_or_default() + "\n";
    }
    let mut out = format!("{:6}  {:19}  {:17}  {:8}  {:7}  {}\n", "code", "slug", "step", "severity", "fixable", "title");
    for rule in RULES {
        out.push_str(&format!(
            "{:6}  {:19}  {:17}  {:8}  {:7}  {}\n",
            rule.code,
            rule.slug,
            rule.step.unwrap_or("-"),
            rule.severity.name(),
            if rule.fixable { "yes" } else { "no" },
            rule.title
        ));
    }
    out
}

fn run_scan(args: ScanArgs) -> Result<Outcome> {
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
    let rules = resolve_rules(&args.rules)?;
    if let Some(minimum) = args.min_coverage
        && !(0.0..=100.0).contains(&minimum)
    {
        bail!("--min-coverage must be between 0 and 100, not {minimum}");
    }
    let root = discover::scan_root(&paths);
    let mut config = Config::resolve(args.config.as_deref(), &root)?;
    if let Some(depth) = args.max_depth {
        config.callbacks.max_depth = depth;
    }
    let integrations = args.integrations.iter().map(|name| crate::config::normalize_provider(name)).collect();
    let options = ScanOptions { paths, root, include_tests: args.include_tests, jobs: args.jobs, rules, integrations };
    if args.fail_on == FailOn::New && args.baseline.is_none() {
        bail!("--fail-on new needs --baseline REPORT.json to tell new findings from old ones");
    }
    let baseline = args.baseline.as_deref().map(baseline::load).transpose()?;
    let mut outcome = scan::scan(&options, &config)?;
    if let (Some(baseline), Some(path)) = (&baseline, &args.baseline) {
        outcome.report.delta = Some(baseline::compare(&outcome.report, baseline, &path.display().to_string()));
    }
    let report = &outcome.report;
    let color = use_colour(args.color, args.output.is_none() && std::io::stdout().is_terminal());
    let rendered = match args.format {
        Format::Text => Some(text::render(report, &outcome.project.files, &outcome.syntax_warnings, color)),
        // Streamed where it goes: the largest of the reports.
        Format::Json => None,
        Format::Sarif => Some(sarif::render(report, &path_base(&outcome.root)).context("cannot serialise the SARIF report")?),
        Format::Github => Some(github::render(report, &path_base(&outcome.root))),
        Format::Markdown => Some(markdown::render(report)),
    };
    let emit = |out: &mut dyn Write| match &rendered {
        Some(text) => out.write_all(text.as_bytes()),
        None => json::write(report, out),
    };
    match &args.output {
        Some(path) => write_output(path, emit)?,
        None => {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            emit(&mut stdout).and_then(|()| stdout.flush()).context("cannot write to standard output")?;
        }
    }
    if args.stats {
        let stats = &outcome.stats;
        eprintln!(
            "stats: files={} bytes={} parsed={} parsed_bytes={} resolved={} elapsed_ms={} peak_rss_kb={} discover_ms={} analyse_ms={}",
            stats.files,
            stats.bytes,
            stats.parsed,
            stats.parsed_bytes,
            stats.resolved,
            stats.elapsed.as_millis(),
            scan::peak_rss_kib().map(|kib| kib.to_string()).unwrap_or_else(|| "unknown".into()),
            stats.discover.as_millis(),
            stats.analyse.as_millis(),
        );
    }
    let failing_findings = match args.fail_on {
        FailOn::Error => report.findings.iter().any(|finding| finding.severity <= Severity::Error),
        FailOn::Warning => report.findings.iter().any(|finding| finding.severity <= Severity::Warning),
        FailOn::New => report.delta.as_ref().is_some_and(|delta| !delta.new.is_empty()),
        FailOn::Never => false,
    };
    let below_coverage = args.min_coverage.is_some_and(|minimum| report.summary.percent_complete < minimum);
    if below_coverage {
        eprintln!(
            "oauth-audit: coverage {:.1}% is below --min-coverage {:.1}%",
            report.summary.percent_complete,
            args.min_coverage.unwrap_or(0.0)
        );
    }
    Ok(if failing_findings || below_coverage { Outcome::Failed } else { Outcome::Clean })
}

fn path_base(root: &Path) -> PathBase {
    PathBase::new(root, std::env::current_dir().ok().as_deref())
}

/// Writes through a temporary file in the same folder, renamed into place, so a reader
/// never sees half a report; a device or pipe (`/dev/null`) is written to directly.
fn write_output(path: &Path, emit: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let failed = || format!("{}: cannot write the report", path.display());
    if path.exists() && !path.is_file() {
        // A device or pipe (`/dev/stdout`): written in place.
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).with_context(failed)?);
        return emit(&mut out).and_then(|()| out.flush()).with_context(failed);
    }
    fix::write::atomic_write_with(path, None, false, emit).with_context(failed)
}

fn resolve_rules(ids: &[String]) -> Result<Vec<&'static crate::rules::RuleInfo>> {
    let mut rules = Vec::new();
    for id in ids {
        match find_rule(id) {
            Some(rule) => rules.push(rule),
            None => bail!("unknown rule {id:?} in --rule; known rules: {}", known_rules()),
        }
    }
    Ok(rules)
}

fn use_colour(choice: ColorChoice, to_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty()),
    }
}

fn run_fix(args: FixArgs) -> Result<Outcome> {
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
    let rules = resolve_rules(&args.rules)?;
    if let Some(rule) = rules.iter().find(|rule| !fix::FIXABLE_RULES.iter().any(|fixable| fixable.code == rule.code)) {
        let fixable: Vec<&str> = fix::FIXABLE_RULES.iter().map(|rule| rule.code).collect();
        bail!("{} ({}) has no automatic fix; fixable rules: {}", rule.code, rule.slug, fixable.join(", "));
    }
    let root = discover::scan_root(&paths);
    let config = Config::resolve(args.config.as_deref(), &root)?;
    let integrations = args.integrations.iter().map(|name| crate::config::normalize_provider(name)).collect();
    let scan = ScanOptions { paths, root, include_tests: args.include_tests, jobs: args.jobs, rules: Vec::new(), integrations };
    let plan = fix::plan(&FixOptions { scan, rules }, &config)?;

    if let Some(folder) = &args.patch_dir {
        std::fs::create_dir_all(folder).with_context(|| format!("{}: cannot create the patch folder", folder.display()))?;
        // Two names can make one file name (`{client}` and `client`): the later one is numbered.
        let mut used = std::collections::HashSet::new();
        for (integration, changes) in &plan.by_integration {
            let patch: String = changes.iter().map(fix::write::unified_diff).collect();
            let stem = fix::patch_file_stem(integration);
            let mut name = stem.clone();
            for number in 2.. {
                if used.insert(name.clone()) {
                    break;
                }
                name = format!("{stem}-{number}");
            }
            let path = folder.join(format!("{name}.patch"));
            fix::write::atomic_write(&path, patch.as_bytes(), None, false)
                .with_context(|| format!("{}: cannot write the patch", path.display()))?;
        }
    }
    let mut refused = Vec::new();
    let mut written = 0;
    if args.write {
        for change in &plan.changes {
            match fix::write::write_change(change) {
                Ok(()) => written += 1,
                Err(refusal) => refused.push(refusal),
            }
        }
    }
    let refused_files: Vec<&str> = refused.iter().map(|refusal| refusal.file.as_str()).collect();
    let applied: Vec<&fix::AppliedFix> = plan.applied.iter().filter(|fix| !refused_files.contains(&fix.file.as_str())).collect();
    let mut skipped = plan.skipped.clone();
    for fix in plan.applied.iter().filter(|fix| refused_files.contains(&fix.file.as_str())) {
        let reason = refused.iter().find(|refusal| refusal.file == fix.file).map(|refusal| refusal.reason.clone()).unwrap_or_default();
        skipped.push(fix::SkippedFix { file: fix.file.clone(), line: fix.line, rule: fix.code, reason: format!("not written: {reason}") });
    }
    skipped.sort();
    let files_changed = if args.write { written } else { plan.changes.len() };
    let mut out = String::new();
    match args.format {
        FixFormat::Json => {
            let value = serde_json::json!({
                "schema": fix::SCHEMA,
                "written": args.write,
                "applied": applied,
                "skipped": skipped,
                "refused": refused,
                "files_changed": files_changed,
                "not_scanned": plan.not_scanned.iter().map(|entry| serde_json::json!({"file": entry.file, "reason": entry.reason})).collect::<Vec<_>>(),
            });
            out.push_str(&serde_json::to_string_pretty(&value).context("cannot serialise the fix report")?);
            out.push('\n');
        }
        FixFormat::Text => {
            let colour = use_colour(args.color, std::io::stdout().is_terminal());
            if !args.write {
                for change in &plan.changes {
                    let diff = fix::write::unified_diff(change);
                    out.push_str(&if colour { fix::write::colour(&diff) } else { diff });
                }
            }
            for entry in &skipped {
                out.push_str(&format!("skipped {}:{} {}: {}\n", entry.file, entry.line, entry.rule, entry.reason));
            }
            for entry in &plan.not_scanned {
                out.push_str(&format!("not scanned {}: {}\n", entry.file, entry.reason));
            }
            let verb = if args.write { "applied" } else { "would apply" };
            out.push_str(&format!(
                "{verb} {} fix{} in {}; skipped {}\n",
                applied.len(),
                if applied.len() == 1 { "" } else { "es" },
                crate::report::counted(files_changed, "file"),
                skipped.len()
            ));
        }
    }
    std::io::stdout().lock().write_all(out.as_bytes()).context("cannot write to standard output")?;
    Ok(if refused.is_empty() { Outcome::Clean } else { Outcome::Failed })
}
