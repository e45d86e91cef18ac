//! End-to-end scan benchmark (`cargo bench --bench scan`).
//!
//! 1. Generates, deterministically, a large synthetic FastAPI code base from the fixture files
//!    in `fixtures/python-fastapi/` into `target/bench-tree/` (kept between runs; regenerated
//!    when missing or when its parameters or the fixtures change, see `.generated`). Each
//!    file starts as a fixture of its role (routes, service, auth handler, core module, test)
//!    and is padded to its size with definitions from fixtures of the same role.
//!    `BENCH_FILLER=mixed` pads every file from every role instead (generator 2's tree, in
//!    `target/bench-tree-mixed/`): models and utilities full of routes and callbacks, a
//!    worst case for the prefilter.
//! 2. Runs the release binary on it the way a user would (default exclusions, so test files
//!    are left out), and with `--include-tests`.
//! 3. Measures the parse-only floor in this process, as issue 2 defines it: read and parse
//!    with tree-sitter, in parallel on every core, every `.py` file of the tree and then only
//!    the files the scan considers; and the same floor with the parser the Python frontend
//!    uses (Ruff's); rounds of scan and floors interleaved, best of [`RUNS`] each.
//! 4. Prints a table comparing them, and what a file costs beyond its parse, on one thread
//!    with the frontend's tree just built: the conversion to facts. With the bytes the scan
//!    parses, that bounds how close to the frontend's own floor a scan that reads whole
//!    trees can come.
//!
//! `BENCH_FILES` (default 5000) and `BENCH_MB` (default 50, in 10^6 bytes) set the size of the
//! tree: `BENCH_FILES=300 BENCH_MB=3 cargo bench --bench scan` is a quick smoke run;
//! `BENCH_FILES=0` skips the Python part.
//!
//! 5. The TypeScript part: a tree of TS/TSX files generated from the TypeScript fixtures into
//!    `target/bench-tree-ts/` (`BENCH_TS_FILES`, default 2000, and `BENCH_TS_MB`, default 20;
//!    `BENCH_TS_FILES=0` skips it), scanned with default exclusions and compared with the
//!    parse-only floor of the files the scan considers: rounds of scan then floor, as in
//!    the Python part, reported as the best and the median of each.
//!
//! 6. `BENCH_TREES=dir1:dir2:...` measures existing trees instead (real code bases, e.g. those
//!    `scripts/fetch-realworld.sh` unpacks into `target/realworld/`), and nothing else: each
//!    is scanned with default exclusions and compared with the parse-only floor of exactly the
//!    files the scan's own discovery considers, every language parsed by its frontend's
//!    parser (Ruff's for Python, tree-sitter for TypeScript, syn for Rust); rounds of scan
//!    then floor.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use oauth_audit::discover::is_test_file;
use oauth_audit::facts::Language;
use oauth_audit::lang;
use oauth_audit::scan::peak_rss_kib;
use rayon::prelude::*;

/// Bump when the generator changes, so old trees are regenerated.
const GENERATOR_VERSION: u32 = 3;
const SEED: u64 = 0x0a17_2026_5eed_0001;
const RUNS: usize = 5;
const MEGABYTE: f64 = 1_000_000.0;
/// Share of the files that are test files (in `tests/` folders, `test_*.py`, `*_test.py`).
const TEST_SHARE: f64 = 0.15;
/// Chance that an ordinary (not test, not `__init__`) file calls `.json(`; with the test and
/// `__init__` files this leaves about 55 % of the tree without `.json(`.
const JSON_SHARE: f64 = 0.44;
/// Chance that a test file calls `.json(`.
const TEST_JSON_SHARE: f64 = 0.6;
/// About this many files per service folder (`svc_0042/`).
const FILES_PER_SERVICE: usize = 60;
/// `__init__.py` files per service folder.
const PACKAGE_FOLDERS: &[&str] = &["backend", "backend/integrations", "backend/core"];
/// Providers that are not in the fixtures: some known to the tool, most invented.
const EXTRA_PROVIDERS: &[&str] = &[
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "wayne",
    "stark",
    "wonka",
    "cyberdyne",
    "tyrell",
    "soylent",
    "vandelay",
    "oscorp",
    "aperture",
    "gringotts",
    "pied_piper",
    "dunder_mifflin",
    "massive_dynamic",
    "black_mesa",
    "nakatomi",
    "asana",
    "dropbox",
    "github",
    "jira",
    "linear",
    "shopify",
    "stripe",
    "xero",
    "zendesk",
    "pipedrive",
];
/// Words for utility modules and test helpers (none is a folder the scan skips).
const WORDS: &[&str] = &[
    "retry",
    "pagination",
    "crypto",
    "dates",
    "cache",
    "rate_limit",
    "serializers",
    "validators",
    "signals",
    "tasks",
    "metrics",
    "audit",
    "permissions",
    "settings",
    "session",
    "feature_flags",
    "money",
    "timezones",
    "emails",
    "storage",
];

fn main() {
    // The floor parses with the same allocators as the scanner, so the ratio compares work,
    // not allocators. SAFETY: first thing in main, before any parser or thread exists.
    unsafe { oauth_audit::alloc::install_for_parsers() };
    let files = env_number("BENCH_FILES", 5000.0) as usize;
    let megabytes = env_number("BENCH_MB", 50.0);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let binary = Path::new(env!("CARGO_BIN_EXE_oauth-audit"));
    if let Ok(trees) = std::env::var("BENCH_TREES") {
        let trees: Vec<PathBuf> = std::env::split_paths(&trees).filter(|path| !path.as_os_str().is_empty()).collect();
        assert!(!trees.is_empty(), "BENCH_TREES names no folder");
        existing_trees_benchmark(binary, &trees);
        return;
    }
    if files == 0 {
        // `BENCH_FILES=0`: the TypeScript part alone.
        typescript_benchmark(manifest, binary);
        return;
    }
    assert!(files >= 10, "BENCH_FILES must be 0 (TypeScript only) or at least 10");
    assert!(megabytes > 0.0, "BENCH_MB must be positive");
    let filler = Filler::from_env();
    let tree = manifest.join("target").join(match filler {
        Filler::SameRole => "bench-tree",
        Filler::Mixed => "bench-tree-mixed",
    });

    let corpus = Corpus::load(&manifest.join("fixtures").join("python-fastapi"));
    let parameters = format!(
        "oauth-audit bench tree: generator={GENERATOR_VERSION} files={files} mb={megabytes} filler={} seed={SEED:#x} fixtures={:016x}",
        filler.name(),
        corpus.digest
    );
    ensure_tree(&tree, &parameters, &corpus, filler, files, (megabytes * MEGABYTE) as usize);

    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    let report = std::env::temp_dir().join(format!("oauth-audit-bench-{}.json", std::process::id()));
    let inventory = Inventory::take(&tree);
    let scanned: Vec<TreeFile> = inventory.files.iter().filter(|file| !file.test).cloned().collect();
    // Rounds of scan, floor(all), floor(scanned): on a shared machine whose speed drifts,
    // each measurement's best run then comes from the same conditions as the others'.
    let mut scans = Vec::new();
    let mut scans_with_tests = Vec::new();
    let mut floor_all = Floor::unmeasured(&inventory.files);
    let mut floor_scanned = Floor::unmeasured(&scanned);
    let mut floor_frontend = Floor::unmeasured(&inventory.files);
    for run in 1..=RUNS {
        let scan = run_scan(binary, &tree, &report, &[]);
        eprintln!("round {run}/{RUNS}: scan {:.3} s, CPU {:.2} s", scan.wall.as_secs_f64(), scan.cpu);
        scans.push(scan);
        let scan = run_scan(binary, &tree, &report, &["--include-tests"]);
        eprintln!("round {run}/{RUNS}: scan --include-tests {:.3} s, CPU {:.2} s", scan.wall.as_secs_f64(), scan.cpu);
        scans_with_tests.push(scan);
        floor_all.measure("all files", run, &inventory.files, FloorParser::TreeSitter);
        floor_scanned.measure("scanned files", run, &scanned, FloorParser::TreeSitter);
        floor_frontend.measure("all files, the frontend's parser", run, &inventory.files, FloorParser::Frontend);
    }
    let _ = std::fs::remove_file(&report);
    let shares = Shares::measure(&scanned);
    // Each round's scan over the same round's floor: the machine's drift between rounds
    // cancels out of these, not out of the best-of ratio.
    let round_ratios: Vec<f64> =
        scans.iter().zip(&floor_all.walls).map(|(scan, floor)| scan.wall.as_secs_f64() / floor.as_secs_f64()).collect();
    let best = |runs: Vec<ScanRun>| runs.into_iter().min_by_key(|scan| scan.wall).unwrap_or_else(|| unreachable!("RUNS > 0"));
    let scan = best(scans);
    let scan_with_tests = best(scans_with_tests);
    let bench_rss_kib = peak_rss_kib();

    print_table(&Table {
        inventory: &inventory,
        scanned: &scanned,
        scan: &scan,
        scan_with_tests: &scan_with_tests,
        floor_all,
        floor_scanned,
        floor_frontend,
        round_ratios,
        bench_rss_kib,
        load_average,
        shares,
    });
    typescript_benchmark(manifest, binary);
}

// ---------------------------------------------------------------------------------------
// The TypeScript part: a synthetic tree of TS/TSX files from the TypeScript fixtures,
// scanned with default exclusions and compared with its parse-only floor.

/// Generates `target/bench-tree-ts/` (when missing or its parameters changed): `files`
/// files of about `bytes` in all, copies of the TypeScript fixture files with their
/// providers renamed, padded with ordinary code, 15 % of them tests (`*.test.ts`).
fn ensure_ts_tree(manifest: &Path, tree: &Path, files: usize, bytes: usize) -> Vec<(PathBuf, bool)> {
    let mut corpus: Vec<(String, String)> = Vec::new();
    for name in ["typescript-express", "nextjs", "nestjs", "supabase-edge"] {
        let root = manifest.join("fixtures").join(name);
        let mut stack = vec![root.clone()];
        while let Some(folder) = stack.pop() {
            let mut entries: Vec<PathBuf> =
                std::fs::read_dir(&folder).expect("fixture folder").map(|entry| entry.expect("entry").path()).collect();
            entries.sort();
            for path in entries {
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let relative = path.strip_prefix(&root).expect("below").to_string_lossy().replace('\\', "/");
                let is_source = relative.ends_with(".ts") || relative.ends_with(".tsx");
                if is_source && !relative.ends_with(".d.ts") && !relative.contains("generated") {
                    corpus.push((format!("{name}/{relative}"), std::fs::read_to_string(&path).expect("UTF-8")));
                }
            }
        }
    }
    let parameters = format!("ts tree: files={files} bytes={bytes} corpus={}", corpus.len());
    let stamp = tree.join(".generated");
    let mut rng = Rng::new(SEED ^ 0x7473);
    let mut out = Vec::new();
    let fresh = std::fs::read_to_string(&stamp).ok().as_deref() != Some(parameters.as_str());
    if fresh {
        let _ = std::fs::remove_dir_all(tree);
    }
    let average = bytes / files.max(1);
    for index in 0..files {
        let (relative, text) = &corpus[rng.below(corpus.len())];
        let provider = EXTRA_PROVIDERS[rng.below(EXTRA_PROVIDERS.len())];
        let test = rng.unit() < TEST_SHARE;
        let mut path =
            format!("svc_{:04}/{}", index / FILES_PER_SERVICE, relative.replace("hubspot", provider).replace("notion", provider));
        let (stem, extension) =
            path.rsplit_once('.').map(|(stem, extension)| (stem.to_string(), extension.to_string())).unwrap_or_default();
        path = if test { format!("{stem}_{index}.test.{extension}") } else { format!("{stem}_{index}.{extension}") };
        let full = tree.join(&path);
        if fresh {
            let mut body = text.replace("hubspot", provider).replace("HubSpot", provider);
            let mut filler = 0;
            while body.len() < average {
                body.push_str(&format!(
                    "\nexport function helper{filler}(items: Array<{{ id: string; value: number }}>, limit = {filler}) {{\n  const result = [];\n  for (const item of items) {{\n    if (item.value > limit) {{\n      result.push({{ ...item, label: `${{item.id}}-${{limit}}` }});\n    }}\n  }}\n  return result.sort((a, b) => a.value - b.value);\n}}\n"
                ));
                filler += 1;
            }
            std::fs::create_dir_all(full.parent().expect("parent")).expect("folder");
            std::fs::write(&full, body).expect("writes");
        }
        out.push((full, test));
    }
    if fresh {
        std::fs::write(&stamp, parameters).expect("stamp");
    }
    out
}

/// Scans the TypeScript tree and measures its parse-only floor; prints both.
fn typescript_benchmark(manifest: &Path, binary: &Path) {
    let files = env_number("BENCH_TS_FILES", 2000.0) as usize;
    let megabytes = env_number("BENCH_TS_MB", 20.0);
    if files == 0 {
        return;
    }
    let tree = manifest.join("target").join("bench-tree-ts");
    let all = ensure_ts_tree(manifest, &tree, files, (megabytes * MEGABYTE) as usize);
    let scanned: Vec<(PathBuf, String)> =
        all.iter().filter(|(_, test)| !test).map(|(path, _)| (path.clone(), std::fs::read_to_string(path).expect("reads"))).collect();
    let scanned_bytes: usize = scanned.iter().map(|(_, text)| text.len()).sum();
    let report = std::env::temp_dir().join(format!("oauth-audit-bench-ts-{}.json", std::process::id()));
    // Interleaved rounds, as in the Python part: scan and floor see the same conditions.
    let mut scans = Vec::with_capacity(RUNS);
    let mut floors = Vec::with_capacity(RUNS);
    for run in 1..=RUNS {
        let scan = run_scan(binary, &tree, &report, &[]);
        let started = Instant::now();
        let parsed =
            scanned.par_iter().filter(|(path, text)| lang::parse_only(Language::TypeScript, &path.to_string_lossy(), text)).count();
        let floor = started.elapsed();
        eprintln!("ts round {run}/{RUNS}: scan {:.3} s, floor {:.3} s ({parsed} files)", scan.wall.as_secs_f64(), floor.as_secs_f64());
        scans.push(scan.wall);
        floors.push(floor);
    }
    let _ = std::fs::remove_file(&report);
    let (best_scan, median_scan) = best_and_median(&mut scans);
    let (best_floor, median_floor) = best_and_median(&mut floors);
    println!();
    println!(
        "TypeScript tree: {} files, {} scanned (tests excluded), {:.1} MB scanned; {RUNS} rounds of scan then floor",
        all.len(),
        scanned.len(),
        scanned_bytes as f64 / MEGABYTE
    );
    println!(
        "  TS scan (release binary, default exclusions): best {:.3} s, median {:.3} s",
        best_scan.as_secs_f64(),
        median_scan.as_secs_f64()
    );
    println!(
        "  TS parse-only floor (tree-sitter parse of the scanned files, text already read, all cores): best {:.3} s, median {:.3} s",
        best_floor.as_secs_f64(),
        median_floor.as_secs_f64()
    );
    println!(
        "  TS scan / floor: best {:.2}, median {:.2}",
        best_scan.as_secs_f64() / best_floor.as_secs_f64(),
        median_scan.as_secs_f64() / median_floor.as_secs_f64()
    );
}

/// `BENCH_TREES`: each existing tree scanned by the release binary with default exclusions,
/// against the parse-only floor of the files that same discovery yields.
fn existing_trees_benchmark(binary: &Path, trees: &[PathBuf]) {
    use oauth_audit::config::Config;
    use oauth_audit::discover::{DiscoverOptions, discover, scan_root};

    let threads = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let report = std::env::temp_dir().join(format!("oauth-audit-bench-trees-{}.json", std::process::id()));
    let mut rows = Vec::new();
    for tree in trees {
        assert!(tree.is_dir(), "BENCH_TREES: {} is not a folder", tree.display());
        let paths = vec![tree.clone()];
        let config = Config::resolve(None, tree).unwrap_or_else(|error| panic!("{}: {error}", tree.display()));
        let options = DiscoverOptions { root: scan_root(&paths), paths, include_tests: false, threads };
        let mut files = discover(&options, &config).files;
        // Largest first, as the scan orders its jobs.
        files.sort_by_key(|file| std::cmp::Reverse(file.text.len()));
        let bytes: usize = files.iter().map(|file| file.text.len()).sum();
        let mut scans = Vec::with_capacity(RUNS);
        let mut floors = Vec::with_capacity(RUNS);
        let mut parsed = 0;
        for run in 1..=RUNS {
            let scan = run_scan(binary, tree, &report, &[]);
            assert_eq!(scan.files, files.len() as u64, "{}: the scan and the floor see different files", tree.display());
            parsed = scan.parsed;
            let started = Instant::now();
            // Each file parsed from its text in memory (the scan reads them too, so this
            // favours the floor).
            let failed =
                files.par_iter().with_max_len(1).filter(|file| !lang::parse_only(file.language, &file.relative_path, &file.text)).count();
            let floor = started.elapsed();
            eprintln!(
                "{} round {run}/{RUNS}: scan {:.3} s, floor {:.3} s ({} files, {failed} with errors)",
                tree.display(),
                scan.wall.as_secs_f64(),
                floor.as_secs_f64(),
                files.len()
            );
            scans.push(scan.wall);
            floors.push(floor);
        }
        let (best_scan, median_scan) = best_and_median(&mut scans);
        let (best_floor, median_floor) = best_and_median(&mut floors);
        rows.push((tree.clone(), files.len(), bytes, parsed, best_scan, median_scan, best_floor, median_floor));
    }
    let _ = std::fs::remove_file(&report);
    println!();
    println!("existing trees, default exclusions, {threads} threads, {RUNS} rounds of scan then floor (best / median):");
    println!("{:<28} {:>6} {:>8} {:>7} {:>17} {:>17} {:>11}", "tree", "files", "MB", "parsed", "scan s", "floor s", "scan/floor");
    for (tree, files, bytes, parsed, best_scan, median_scan, best_floor, median_floor) in rows {
        let name = tree.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_else(|| tree.display().to_string());
        println!(
            "{name:<28} {files:>6} {:>8.1} {parsed:>7} {:>8.3} / {:>6.3} {:>8.3} / {:>6.3} {:>5.2} / {:.2}",
            bytes as f64 / MEGABYTE,
            best_scan.as_secs_f64(),
            median_scan.as_secs_f64(),
            best_floor.as_secs_f64(),
            median_floor.as_secs_f64(),
            best_scan.as_secs_f64() / best_floor.as_secs_f64(),
            median_scan.as_secs_f64() / median_floor.as_secs_f64(),
        );
    }
}

/// The shortest and the median of some durations (the mean of the middle two for an even
/// count).
fn best_and_median(durations: &mut [Duration]) -> (Duration, Duration) {
    durations.sort();
    let best = durations.first().copied().unwrap_or_default();
    (best, median(durations, |a, b| (a + b) / 2).unwrap_or_default())
}

/// The middle of sorted values, `mean` of the middle two for an even count.
fn median<T: Copy>(sorted: &[T], mean: impl Fn(T, T) -> T) -> Option<T> {
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        count if count % 2 == 1 => Some(sorted[middle]),
        _ => Some(mean(sorted[middle - 1], sorted[middle])),
    }
}

fn env_number(name: &str, default: f64) -> f64 {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value.trim().parse().unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
        _ => default,
    }
}

// ---------------------------------------------------------------------------------------
// Randomness: xorshift64*, seeded, so the tree is the same on every machine.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------
// The fixtures, cut into top-level definitions.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Role {
    Routes,
    Service,
    Auth,
    Core,
    Test,
}

/// One top-level `def`/`class` (with its decorators and any statements after it).
struct Segment {
    text: String,
    /// The name it defines, renamed with a numeric suffix in generated files.
    name: Option<String>,
    json: bool,
    /// The fixture provider it was written for, replaced by the generated file's provider.
    provider: Option<String>,
}

struct Fixture {
    /// Docstring, imports and module-level setup before the first definition.
    preamble: String,
    segments: Vec<usize>,
    provider: Option<String>,
    role: Role,
}

struct Corpus {
    fixtures: Vec<Fixture>,
    segments: Vec<Segment>,
    providers: Vec<String>,
    /// FNV-1a over the fixture paths and contents: a change regenerates the tree.
    digest: u64,
}

impl Corpus {
    fn load(folder: &Path) -> Corpus {
        let mut paths = Vec::new();
        list_python_files(folder, folder, &mut paths);
        assert!(!paths.is_empty(), "{}: no .py fixtures", folder.display());
        let mut digest = Fnv::new();
        let mut sources = Vec::new();
        for (path, relative) in paths {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            digest.write(relative.as_bytes());
            digest.write(text.as_bytes());
            sources.push((relative, text));
        }
        let mut known: Vec<String> = sources.iter().filter_map(|(relative, _)| fixture_provider(relative)).collect();
        known.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        known.dedup();
        let mut fixtures = Vec::new();
        let mut segments = Vec::new();
        for (relative, text) in sources {
            // Files such as `tests/test_notion.py` name their provider only in the file name.
            let stem = relative.rsplit('/').next().unwrap_or(&relative);
            let provider = fixture_provider(&relative).or_else(|| known.iter().find(|name| stem.contains(name.as_str())).cloned());
            let (preamble, mut pieces) = split_top_level(&text);
            // Some fixtures are broken on purpose; copied into thousands of files that would
            // be a tree of garbage, so only definitions that parse cleanly are used.
            pieces.retain(|piece| parses_cleanly(piece));
            if pieces.is_empty() || !parses_cleanly(&preamble) {
                continue; // an empty `__init__.py` (generated separately) or a broken module
            }
            let mut indices = Vec::new();
            for piece in pieces {
                indices.push(segments.len());
                segments.push(Segment {
                    json: piece.contains(".json("),
                    name: defined_name(&piece),
                    text: piece,
                    provider: provider.clone(),
                });
            }
            fixtures.push(Fixture { preamble, segments: indices, provider, role: role_of(&relative) });
        }
        let mut providers = known;
        providers.extend(EXTRA_PROVIDERS.iter().map(|name| name.to_string()));
        providers.sort();
        providers.dedup();
        for role in [Role::Routes, Role::Service, Role::Auth, Role::Core, Role::Test] {
            assert!(fixtures.iter().any(|fixture| fixture.role == role), "no {role:?} fixture");
        }
        Corpus { fixtures, segments, providers, digest: digest.0 }
    }

    /// Segments of the fixtures with one of these roles, with or without `.json(`.
    fn pool(&self, roles: &[Role], json: bool) -> Vec<usize> {
        self.fixtures
            .iter()
            .filter(|fixture| roles.contains(&fixture.role))
            .flat_map(|fixture| fixture.segments.iter().copied())
            .filter(|index| self.segments[*index].json == json)
            .collect()
    }
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = (self.0 ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    }
}

/// Every `.py` file under `folder` as (path, path relative to `root` with `/`), sorted.
fn list_python_files(root: &Path, folder: &Path, out: &mut Vec<(PathBuf, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| entry.unwrap_or_else(|error| panic!("{}: {error}", folder.display())))
        .collect();
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        if kind.is_dir() {
            list_python_files(root, &path, out);
        } else if kind.is_file() && path.extension().is_some_and(|extension| extension == "py") {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let relative = relative.components().map(|part| part.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            out.push((path, relative));
        }
    }
}

/// The provider a fixture file was written for: `integrations/hubspot_service.py`,
/// `auth_handler_zoom.py`, `connectors/intercom/client.py`.
fn fixture_provider(relative: &str) -> Option<String> {
    let parts: Vec<&str> = relative.split('/').collect();
    let file = parts.last()?;
    let stem = file.strip_suffix(".py").unwrap_or(file);
    if let Some(index) = parts.iter().position(|part| *part == "connectors")
        && index + 2 < parts.len()
    {
        return Some(parts[index + 1].to_string());
    }
    if !parts.contains(&"integrations") {
        return None;
    }
    let mut name = stem.strip_prefix("auth_handler_").unwrap_or(stem);
    for suffix in ["_test", "_routes", "_service", "_enhanced"] {
        name = name.strip_suffix(suffix).unwrap_or(name);
    }
    let generic = name.is_empty() || name.contains("integration") || name.contains("oauth") || name == "__init__";
    (!generic).then(|| name.to_string())
}

fn role_of(relative: &str) -> Role {
    let stem = relative.rsplit('/').next().unwrap_or(relative);
    if is_test_file(relative) {
        Role::Test
    } else if stem.starts_with("auth_handler_") {
        Role::Auth
    } else if relative.contains("routes") {
        Role::Routes
    } else if relative.contains("integrations/") || relative.contains("connectors/") {
        Role::Service
    } else {
        Role::Core
    }
}

/// Splits a module into its preamble and its top-level definitions. A definition starts at a
/// column-0 `def`, `async def`, `class` or at the first of its decorators, and runs until the
/// next one (module-level statements after it stay with it).
fn split_top_level(text: &str) -> (String, Vec<String>) {
    let mut preamble = String::new();
    let mut segments: Vec<String> = Vec::new();
    let mut decorated = false;
    for line in text.split_inclusive('\n') {
        let is_definition = ["def ", "async def ", "class "].iter().any(|keyword| line.starts_with(keyword));
        let starts = if line.starts_with('@') {
            !std::mem::replace(&mut decorated, true)
        } else if is_definition {
            !std::mem::replace(&mut decorated, false)
        } else {
            false
        };
        if starts {
            segments.push(String::new());
        }
        match segments.last_mut() {
            Some(segment) => segment.push_str(line),
            None => preamble.push_str(line),
        }
    }
    let segments = segments
        .into_iter()
        .map(|segment| {
            let mut segment = segment.trim_end().to_string();
            segment.push('\n');
            segment
        })
        .collect();
    (preamble.trim_end().to_string() + "\n", segments)
}

/// Whether tree-sitter reads `text` without an error: the generator picks its definitions
/// with it, so the tree stays the same whichever parser the frontend uses.
fn parses_cleanly(text: &str) -> bool {
    tree_sitter_parse(text).is_some_and(|tree| !tree.root_node().has_error())
}

thread_local! {
    static TREE_SITTER: std::cell::RefCell<tree_sitter::Parser> = std::cell::RefCell::new({
        let mut parser = tree_sitter::Parser::new();
        parser.set_language(&tree_sitter_python::LANGUAGE.into()).unwrap_or_else(|error| panic!("tree-sitter-python: {error}"));
        parser
    });
}

/// A tree-sitter parse of Python, on this thread's parser.
fn tree_sitter_parse(text: &str) -> Option<tree_sitter::Tree> {
    TREE_SITTER.with(|parser| parser.borrow_mut().parse(text, None))
}

fn defined_name(segment: &str) -> Option<String> {
    segment.lines().find_map(|line| {
        let rest = ["async def ", "def ", "class "].iter().find_map(|keyword| line.strip_prefix(keyword))?;
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        (!name.is_empty()).then_some(name)
    })
}

// ---------------------------------------------------------------------------------------
// Rewriting: provider names and identifiers.

/// Replaces a provider's spellings (`google_calendar`, `GOOGLE_CALENDAR`, `GoogleCalendar`,
/// `googlecalendar`) by the same spelling of another provider.
fn replace_provider(text: &str, from: &str, to: &str) -> String {
    if from == to {
        return text.to_string();
    }
    let joined_from = from.replace('_', "");
    let mut forms: Vec<(&str, String, String)> = vec![(from, to.to_string(), to.to_ascii_uppercase())];
    if joined_from != from {
        forms.push((&joined_from, to.replace('_', ""), to.replace('_', "").to_ascii_uppercase()));
    }
    let camel: String = to
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut at = 0;
    'scan: while at < bytes.len() {
        for (form, lower, upper) in &forms {
            let Some(candidate) = bytes.get(at..at + form.len()) else { continue };
            if candidate.eq_ignore_ascii_case(form.as_bytes()) {
                let replacement = if candidate.iter().all(|byte| !byte.is_ascii_uppercase()) {
                    lower
                } else if candidate.iter().all(|byte| !byte.is_ascii_lowercase()) {
                    upper
                } else {
                    &camel
                };
                out.extend_from_slice(replacement.as_bytes());
                at += form.len();
                continue 'scan;
            }
        }
        out.push(bytes[at]);
        at += 1;
    }
    // Only ASCII runs were replaced by ASCII, so the text is still UTF-8.
    String::from_utf8(out).expect("replacing ASCII by ASCII keeps UTF-8")
}

/// Renames whole identifiers (also inside strings and comments, which is harmless).
fn rename_identifiers(text: &str, names: &HashMap<String, String>) -> String {
    if names.is_empty() {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        if is_word(bytes[at]) {
            while at < bytes.len() && is_word(bytes[at]) {
                at += 1;
            }
            let word = &text[start..at];
            out.push_str(names.get(word).map(String::as_str).unwrap_or(word));
        } else {
            while at < bytes.len() && !is_word(bytes[at]) {
                at += 1;
            }
            out.push_str(&text[start..at]);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The generated tree.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `__init__.py`: empty or a docstring.
    Package,
    Test {
        json: bool,
    },
    /// A few hundred KB: a single-thread tail unless scheduled first.
    Big,
    Code {
        json: bool,
    },
}

/// Where a kind of file lives (`{p}` a provider, `{w}` a word) and which fixtures it starts from.
fn templates(kind: Kind) -> &'static [(&'static str, Role)] {
    match kind {
        Kind::Package => &[],
        Kind::Test { .. } => &[
            ("tests/test_{p}.py", Role::Test),
            ("tests/integrations/test_{p}_service.py", Role::Test),
            ("tests/api/test_{p}_routes.py", Role::Test),
            ("tests/{p}/conftest.py", Role::Test),
            ("backend/integrations/{p}_service_test.py", Role::Test),
            ("backend/tests/test_{w}.py", Role::Test),
        ],
        Kind::Big => &[
            ("backend/legacy/{p}_sync_all.py", Role::Service),
            ("backend/integrations/generated/{p}_api_client.py", Role::Service),
            ("backend/api/routes/integrations/{p}_routes.py", Role::Routes),
        ],
        Kind::Code { json: true } => &[
            ("backend/integrations/{p}_service.py", Role::Service),
            ("backend/integrations/auth_handler_{p}.py", Role::Auth),
            ("backend/api/routes/integrations/{p}_routes.py", Role::Routes),
            ("backend/connectors/{p}/client.py", Role::Service),
            ("backend/connectors/{p}/routes.py", Role::Routes),
            ("backend/integrations/{p}/{p}_client.py", Role::Service),
            ("backend/workers/sync/{p}_sync.py", Role::Service),
            ("backend/core/http_{w}.py", Role::Core),
        ],
        Kind::Code { json: false } => &[
            ("backend/models/{p}_models.py", Role::Core),
            ("backend/schemas/{p}_schemas.py", Role::Core),
            ("backend/core/{w}.py", Role::Core),
            ("backend/utils/{w}.py", Role::Core),
            ("backend/integrations/{p}/models.py", Role::Core),
            ("backend/integrations/{p}_service.py", Role::Service),
            ("backend/api/routes/integrations/{p}_routes.py", Role::Routes),
        ],
    }
}

struct Planned {
    path: String,
    kind: Kind,
    role: Role,
    provider: String,
    size: usize,
}

/// Kinds, paths and target sizes of every file, then their contents, written under `tree`.
fn generate(tree: &Path, corpus: &Corpus, filler: Filler, files: usize, budget: usize) {
    let mut rng = Rng::new(SEED);
    let services = files.div_ceil(FILES_PER_SERVICE).max(1);
    let big_files = (files / 200).max(1);
    // Big files take at most a fifth of the budget.
    let big_cap = budget / 5 / big_files;
    let big_stride = files / big_files;

    let mut plan: Vec<Planned> = Vec::with_capacity(files);
    let mut used: HashSet<String> = HashSet::new();
    let mut service_providers: Vec<Vec<String>> = Vec::new();
    for _ in 0..services {
        let mut chosen: Vec<String> = Vec::new();
        let wanted = 8 + rng.below(7);
        while chosen.len() < wanted.min(corpus.providers.len()) {
            let provider = rng.pick(&corpus.providers);
            if !chosen.contains(provider) {
                chosen.push(provider.clone());
            }
        }
        service_providers.push(chosen);
    }
    // Selection sampling: close to TEST_SHARE of the files whatever their number.
    let mut test_left = ((files as f64) * TEST_SHARE).round() as usize;
    let mut service = usize::MAX;
    let mut position = 0;
    for index in 0..files {
        if index * services / files == service {
            position += 1;
        } else {
            service = index * services / files;
            position = 0;
        }
        let folder = format!("svc_{service:04}");
        let providers = &service_providers[service];
        let provider = rng.pick(providers).clone();
        if let Some(package) = PACKAGE_FOLDERS.get(position) {
            let path = format!("{folder}/{package}/__init__.py");
            used.insert(path.clone());
            plan.push(Planned { path, kind: Kind::Package, role: Role::Core, provider, size: 0 });
            continue;
        }
        let remaining = files - index;
        let kind = if index % big_stride == big_stride / 2 {
            Kind::Big
        } else if rng.below(remaining) < test_left {
            test_left -= 1;
            Kind::Test { json: rng.chance(TEST_JSON_SHARE) }
        } else {
            Kind::Code { json: rng.chance(JSON_SHARE) }
        };
        let (template, role) = *rng.pick(templates(kind));
        let word = *rng.pick(WORDS);
        let relative = template.replace("{p}", &provider).replace("{w}", word);
        let path = unique_path(&mut used, &folder, &relative);
        let test = is_test_file(path.split_once('/').map(|(_, rest)| rest).unwrap_or(&path));
        assert_eq!(test, matches!(kind, Kind::Test { .. }), "{path}: test file classification");
        plan.push(Planned { path, kind, role, provider, size: 0 });
    }

    // Sizes: log-normal weights share what the big and package files leave of the budget.
    let mut big_total = 0;
    let mut weights = vec![0.0; plan.len()];
    for (planned, weight) in plan.iter_mut().zip(&mut weights) {
        match planned.kind {
            Kind::Package => {}
            Kind::Big => {
                planned.size = (200_000 + rng.below(300_000)).min(big_cap.max(20_000));
                big_total += planned.size;
            }
            Kind::Test { .. } | Kind::Code { .. } => {
                let normal = ((0..4).map(|_| rng.unit()).sum::<f64>() - 2.0) * 3f64.sqrt();
                *weight = (0.9 * normal).exp();
            }
        }
    }
    let rest = budget.saturating_sub(big_total) as f64;
    let weight_total: f64 = weights.iter().sum();
    for (planned, weight) in plan.iter_mut().zip(&weights) {
        if *weight > 0.0 {
            planned.size = ((rest * weight / weight_total) as usize).clamp(400, 150_000);
        }
    }

    let pools = Pools::new(corpus, filler);
    for (id, planned) in plan.iter().enumerate() {
        let text = file_text(corpus, &pools, &mut rng, id, planned);
        let path = tree.join(&planned.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("{}: {error}", parent.display()));
        }
        std::fs::write(&path, text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    }
    // The scan reads the config at its root, as a user's repository would have it.
    std::fs::write(tree.join("oauth-audit.toml"), "[guards]\nraising = [\"ensure_json_response\"]\n")
        .unwrap_or_else(|error| panic!("{}: {error}", tree.display()));
}

/// `folder/relative`, or with a `v2/`, `v3/`... folder before the file name when taken (the
/// file name is kept so test files stay test files).
fn unique_path(used: &mut HashSet<String>, folder: &str, relative: &str) -> String {
    let (parent, name) = relative.rsplit_once('/').unwrap_or(("", relative));
    for version in 1.. {
        let path = match version {
            1 => format!("{folder}/{relative}"),
            _ => format!("{folder}/{parent}/v{version}/{name}"),
        };
        if used.insert(path.clone()) {
            return path;
        }
    }
    unreachable!("an unused path always exists")
}

/// Where the definitions that pad a file to its size come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filler {
    /// Fixtures of the file's own role: models and utilities are padded with the core
    /// fixtures' models and helpers, route files with routes, services with services.
    SameRole,
    /// Any non-test fixture (generator 2): a `models/` file then holds route handlers and
    /// OAuth callbacks like every other file, so nearly every byte of the tree is one a
    /// callback rule must parse. `BENCH_FILLER=mixed` builds that tree again.
    Mixed,
}

impl Filler {
    fn from_env() -> Filler {
        match std::env::var("BENCH_FILLER").as_deref() {
            Ok("mixed") => Filler::Mixed,
            Ok("same-role") | Ok("") | Err(_) => Filler::SameRole,
            Ok(other) => panic!("BENCH_FILLER={other:?}: expected same-role or mixed"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Filler::SameRole => "same-role",
            Filler::Mixed => "mixed",
        }
    }
}

/// Segments by the role of the file they pad and by `.json(`.
struct Pools {
    by_role: HashMap<(Role, bool), Vec<usize>>,
}

const CODE_ROLES: &[Role] = &[Role::Routes, Role::Service, Role::Auth, Role::Core];

impl Pools {
    fn new(corpus: &Corpus, filler: Filler) -> Pools {
        let mut by_role = HashMap::new();
        for json in [true, false] {
            let any_code = corpus.pool(CODE_ROLES, json);
            assert!(!any_code.is_empty(), "no code fixture segment with json={json}");
            let tests = corpus.pool(&[Role::Test], json);
            assert!(!tests.is_empty(), "no test fixture segment with json={json}");
            by_role.insert((Role::Test, json), tests);
            for role in CODE_ROLES {
                // Mixed, or a role with no segment of that kind: every code role's segments.
                let own = (filler == Filler::SameRole).then(|| corpus.pool(&[*role], json)).filter(|pool| !pool.is_empty());
                by_role.insert((*role, json), own.unwrap_or_else(|| any_code.clone()));
            }
        }
        Pools { by_role }
    }

    fn get(&self, role: Role, json: bool) -> &[usize] {
        &self.by_role[&(role, json)]
    }
}

/// One file: the preamble and definitions of a fixture of the right role, then definitions
/// drawn from the pools until the target size; provider names replaced by the file's
/// provider and every defined name suffixed with the file's number (repeats get a second
/// number), so no two files are alike.
fn file_text(corpus: &Corpus, pools: &Pools, rng: &mut Rng, id: usize, planned: &Planned) -> String {
    let (json, test) = match planned.kind {
        Kind::Package => {
            return if rng.chance(0.5) { String::new() } else { format!("\"\"\"The {} package.\"\"\"\n", planned.provider) };
        }
        Kind::Test { json } => (json, true),
        Kind::Big => (true, false),
        Kind::Code { json } => (json, false),
    };
    let candidates: Vec<&Fixture> = corpus
        .fixtures
        .iter()
        .filter(|fixture| fixture.role == planned.role && !fixture.preamble.contains(".json("))
        .filter(|fixture| !json || fixture.segments.iter().any(|index| corpus.segments[*index].json))
        .collect();
    let primary = if candidates.is_empty() {
        corpus.fixtures.iter().find(|fixture| fixture.role == planned.role).expect("every role has a fixture")
    } else {
        *rng.pick(&candidates)
    };
    let role = if test { Role::Test } else { planned.role };
    let (json_pool, plain_pool) = (pools.get(role, true), pools.get(role, false));

    let mut chosen: Vec<usize> = Vec::new();
    let mut size = primary.preamble.len();
    for index in &primary.segments {
        if size >= planned.size {
            break;
        }
        let segment = &corpus.segments[*index];
        if json || !segment.json {
            chosen.push(*index);
            size += segment.text.len() + 2;
        }
    }
    while size < planned.size {
        let pool = if json && rng.chance(0.5) { json_pool } else { plain_pool };
        let index = *rng.pick(pool);
        chosen.push(index);
        size += corpus.segments[index].text.len() + 2;
    }
    if json && !chosen.iter().any(|index| corpus.segments[*index].json) {
        chosen.push(*rng.pick(json_pool));
    }

    let mut text = match &primary.provider {
        Some(from) => replace_provider(&primary.preamble, from, &planned.provider),
        None => primary.preamble.clone(),
    };
    let mut renames: HashMap<String, String> = HashMap::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for index in chosen {
        let segment = &corpus.segments[index];
        let replace = |text: &str| match &segment.provider {
            Some(from) => replace_provider(text, from, &planned.provider),
            None => text.to_string(),
        };
        let mut piece = replace(&segment.text);
        if let Some(name) = segment.name.as_deref().map(replace) {
            // Two fixtures' `HubSpotService` and `NotionService` may both become `AcmeService`.
            let repeat = seen.entry(name.clone()).or_insert(0);
            *repeat += 1;
            if *repeat == 1 {
                renames.insert(name.clone(), format!("{name}_{id}"));
            } else {
                let local = HashMap::from([(name.clone(), format!("{name}_{id}_{repeat}"))]);
                piece = rename_identifiers(&piece, &local);
            }
        }
        text.push_str("\n\n");
        text.push_str(&piece);
    }
    let text = rename_identifiers(&text, &renames);
    debug_assert_eq!(json, text.contains(".json("));
    text
}

/// Generates the tree unless `.generated` records the same parameters.
fn ensure_tree(tree: &Path, parameters: &str, corpus: &Corpus, filler: Filler, files: usize, budget: usize) {
    let marker = tree.join(".generated");
    if std::fs::read_to_string(&marker).is_ok_and(|recorded| recorded.trim() == parameters) {
        eprintln!("using {} ({parameters})", tree.display());
        return;
    }
    if tree.exists() {
        std::fs::remove_dir_all(tree).unwrap_or_else(|error| panic!("{}: {error}", tree.display()));
    }
    let started = Instant::now();
    eprintln!("generating {} ({parameters})", tree.display());
    generate(tree, corpus, filler, files, budget);
    std::fs::write(&marker, format!("{parameters}\n")).unwrap_or_else(|error| panic!("{}: {error}", marker.display()));
    eprintln!("generated in {:.1} s", started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------
// Measuring.

struct ScanRun {
    wall: Duration,
    /// User + system CPU time of the scan process.
    cpu: f64,
    files: u64,
    bytes: u64,
    parsed: u64,
    parsed_bytes: u64,
    elapsed_ms: u64,
    peak_rss_kib: Option<u64>,
}

fn run_scan(binary: &Path, tree: &Path, report: &Path, extra: &[&str]) -> ScanRun {
    let cpu_before = cpu_seconds().children;
    let started = Instant::now();
    let output = Command::new(binary)
        .arg("scan")
        .arg(tree)
        .args(["--format", "json", "--output"])
        .arg(report)
        .args(["--stats", "--fail-on", "never"])
        .args(extra)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.display()));
    let wall = started.elapsed();
    let cpu = cpu_seconds().children - cpu_before;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "oauth-audit scan exited with {}:\n{stderr}", output.status);
    let Some(line) = stderr.lines().find_map(|line| line.strip_prefix("stats: ")) else {
        panic!("no `stats:` line in the scan's standard error:\n{stderr}");
    };
    let fields: HashMap<&str, &str> = line.split_whitespace().filter_map(|field| field.split_once('=')).collect();
    let number = |key: &str| -> u64 {
        let value = fields.get(key).unwrap_or_else(|| panic!("no {key}= in {line:?}"));
        value.parse().unwrap_or_else(|_| panic!("{key}={value:?} in {line:?} is not a number"))
    };
    ScanRun {
        wall,
        cpu,
        files: number("files"),
        bytes: number("bytes"),
        parsed: number("parsed"),
        parsed_bytes: number("parsed_bytes"),
        elapsed_ms: number("elapsed_ms"),
        peak_rss_kib: fields.get("peak_rss_kb").and_then(|value| value.parse().ok()),
    }
}

struct CpuTime {
    /// This process.
    own: f64,
    /// Its children that have been waited for.
    children: f64,
}

/// User + system CPU seconds from `/proc/self/stat` (in USER_HZ, 100 per second on Linux);
/// CPU time well under wall time × cores means the work was serial or the machine was busy.
fn cpu_seconds() -> CpuTime {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name in parentheses, from field 3 (state) on.
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().map(|field| field.parse().unwrap_or(0.0)).collect())
        .unwrap_or_default();
    let ticks = |index: usize| fields.get(index).copied().unwrap_or(0.0) / 100.0;
    CpuTime { own: ticks(11) + ticks(12), children: ticks(13) + ticks(14) }
}

#[derive(Clone)]
struct TreeFile {
    path: PathBuf,
    bytes: u64,
    test: bool,
}

struct Inventory {
    /// Every `.py` file, largest first (so the floor, like the scan, never ends on a big file).
    files: Vec<TreeFile>,
    test_files: usize,
    test_bytes: u64,
    without_json: usize,
}

impl Inventory {
    fn take(tree: &Path) -> Inventory {
        let mut listed = Vec::new();
        list_python_files(tree, tree, &mut listed);
        let files: Vec<(TreeFile, bool)> = listed
            .into_par_iter()
            .map(|(path, relative)| {
                let text = std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                let json = memchr::memmem::find(&text, b".json(").is_some();
                (TreeFile { path, bytes: text.len() as u64, test: is_test_file(&relative) }, json)
            })
            .collect();
        let without_json = files.iter().filter(|(_, json)| !json).count();
        let mut files: Vec<TreeFile> = files.into_iter().map(|(file, _)| file).collect();
        files.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
        let test_files = files.iter().filter(|file| file.test).count();
        let test_bytes = files.iter().filter(|file| file.test).map(|file| file.bytes).sum();
        Inventory { files, test_files, test_bytes, without_json }
    }
}

/// The parser a floor is measured with.
#[derive(Clone, Copy)]
enum FloorParser {
    /// tree-sitter-python, the floor issue 2 defines.
    TreeSitter,
    /// The Python frontend's own parser.
    Frontend,
}

struct Floor {
    wall: Duration,
    /// Every round's wall time, in order.
    walls: Vec<Duration>,
    /// User + system CPU time of this process during the best run.
    cpu: f64,
    files: usize,
    bytes: u64,
}

/// Reads and parses every file, in parallel on the global rayon pool; best of [`RUNS`] rounds.
impl Floor {
    fn unmeasured(files: &[TreeFile]) -> Floor {
        Floor { wall: Duration::MAX, walls: Vec::new(), cpu: 0.0, files: files.len(), bytes: files.iter().map(|file| file.bytes).sum() }
    }

    /// One parse of every file, in parallel, one job per file; keeps the fastest run.
    fn measure(&mut self, label: &str, run: usize, files: &[TreeFile], parser: FloorParser) {
        let cpu_before = cpu_seconds().own;
        let started = Instant::now();
        let failed = files
            .par_iter()
            .with_max_len(1)
            .filter(|file| {
                let text = std::fs::read_to_string(&file.path).unwrap_or_else(|error| panic!("{}: {error}", file.path.display()));
                match parser {
                    FloorParser::TreeSitter => tree_sitter_parse(&text).is_none(),
                    FloorParser::Frontend => !lang::parse_only(Language::Python, &file.path.to_string_lossy(), &text),
                }
            })
            .count();
        let wall = started.elapsed();
        let cpu = cpu_seconds().own - cpu_before;
        assert_eq!(failed, 0, "{failed} files did not parse");
        eprintln!("round {run}/{RUNS}: parse-only floor, {label}: {:.3} s, CPU {cpu:.2} s", wall.as_secs_f64());
        self.walls.push(wall);
        if wall < self.wall {
            self.wall = wall;
            self.cpu = cpu;
        }
    }
}

/// What a file costs beyond its parse, on one thread with the frontend's tree just built
/// (as in a scan): the conversion to facts that every rule reads.
struct Shares {
    parse: Duration,
    convert: Duration,
    bytes: u64,
}

impl Shares {
    fn measure(files: &[TreeFile]) -> Shares {
        let mut shares = Shares { parse: Duration::ZERO, convert: Duration::ZERO, bytes: 0 };
        let options = lang::ExtractOptions { outline: false, comments_with: Some(oauth_audit::suppress::MARKER) };
        for file in files {
            let text = std::fs::read_to_string(&file.path).unwrap_or_else(|error| panic!("{}: {error}", file.path.display()));
            let started = Instant::now();
            let parsed = ruff_python_parser::parse_unchecked_source(&text, ruff_python_ast::PySourceType::Python);
            shares.parse += started.elapsed();
            let started = Instant::now();
            let facts = lang::python::facts_from_parsed(&parsed, &text, options);
            shares.convert += started.elapsed();
            drop(facts);
            shares.bytes += text.len() as u64;
        }
        shares
    }
}

// ---------------------------------------------------------------------------------------
// Reporting.

struct Table<'a> {
    inventory: &'a Inventory,
    scanned: &'a [TreeFile],
    scan: &'a ScanRun,
    scan_with_tests: &'a ScanRun,
    floor_all: Floor,
    floor_scanned: Floor,
    /// Every file, with the frontend's parser.
    floor_frontend: Floor,
    /// Scan / floor(all files) of each round.
    round_ratios: Vec<f64>,
    bench_rss_kib: Option<u64>,
    /// `/proc/loadavg`'s one-minute figure before the runs: other work skews the timings.
    load_average: String,
    shares: Shares,
}

fn print_table(table: &Table) {
    let inventory = table.inventory;
    let scan = table.scan;
    let tree_files = inventory.files.len();
    let tree_bytes: u64 = inventory.files.iter().map(|file| file.bytes).sum();
    let scanned_bytes: u64 = table.scanned.iter().map(|file| file.bytes).sum();
    let threads = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let megabytes = |bytes: u64| bytes as f64 / MEGABYTE;
    let rate = |files: usize, bytes: u64, wall: Duration| {
        let seconds = wall.as_secs_f64();
        format!("{} files/s, {:.1} MB/s", thousands((files as f64 / seconds) as u64), megabytes(bytes) / seconds)
    };
    let cpu = |cpu: f64, wall: Duration| format!("CPU {cpu:.1} s ({:.2} cores)", cpu / wall.as_secs_f64());
    let rss = |kib: Option<u64>| kib.map(|kib| format!("{:.0} MB", kib as f64 * 1024.0 / MEGABYTE)).unwrap_or_else(|| "unknown".into());

    println!();
    println!(
        "tree: {} files, {:.1} MB ({} test files, {:.1} MB), {} files without .json(",
        thousands(tree_files as u64),
        megabytes(tree_bytes),
        thousands(inventory.test_files as u64),
        megabytes(inventory.test_bytes),
        thousands(inventory.without_json as u64),
    );
    println!("machine: {threads} cores, load average {} before the runs; best of {RUNS} runs each", table.load_average);
    let scan_label = format!("scan (default exclusions, {threads} threads):");
    println!(
        "{scan_label:<38} {:>7.3} s  -> {} (whole tree), {}, peak RSS {}",
        scan.wall.as_secs_f64(),
        rate(tree_files, tree_bytes, scan.wall),
        cpu(scan.cpu, scan.wall),
        rss(scan.peak_rss_kib),
    );
    println!(
        "{:<38} scanned {} files ({:.1} MB), parsed {} ({:.1} MB), in-process {:.3} s",
        "",
        thousands(scan.files),
        megabytes(scan.bytes),
        thousands(scan.parsed),
        megabytes(scan.parsed_bytes),
        scan.elapsed_ms as f64 / 1000.0,
    );
    let with_tests = table.scan_with_tests;
    println!(
        "{:<38} {:>7.3} s  -> {} (whole tree), {}, peak RSS {}, parsed {}",
        "scan --include-tests:",
        with_tests.wall.as_secs_f64(),
        rate(tree_files, tree_bytes, with_tests.wall),
        cpu(with_tests.cpu, with_tests.wall),
        rss(with_tests.peak_rss_kib),
        thousands(with_tests.parsed),
    );
    for (label, floor) in [
        ("parse-only floor, all files:", &table.floor_all),
        ("parse-only floor, scanned files only:", &table.floor_scanned),
        ("frontend's parser, all files:", &table.floor_frontend),
    ] {
        println!(
            "{label:<38} {:>7.3} s  -> {} ({} files, {:.1} MB), {}",
            floor.wall.as_secs_f64(),
            rate(floor.files, floor.bytes, floor.wall),
            thousands(floor.files as u64),
            megabytes(floor.bytes),
            cpu(floor.cpu, floor.wall),
        );
    }
    let seconds = scan.wall.as_secs_f64();
    println!(
        "ratio scan / floor(all): {:.2}   ratio scan / floor(scanned): {:.2}   ratio scan --include-tests / floor(all): {:.2}",
        seconds / table.floor_all.wall.as_secs_f64(),
        seconds / table.floor_scanned.wall.as_secs_f64(),
        with_tests.wall.as_secs_f64() / table.floor_all.wall.as_secs_f64(),
    );
    let mut sorted = table.round_ratios.clone();
    sorted.sort_by(f64::total_cmp);
    let median = median(&sorted, |a, b| (a + b) / 2.0).unwrap_or(f64::NAN);
    let rounds: Vec<String> = table.round_ratios.iter().map(|ratio| format!("{ratio:.2}")).collect();
    println!("ratio scan / floor(all) within each round: {} (median {median:.2})", rounds.join(" "));
    println!(
        "floors are tree-sitter parses (issue 2's definition) but the last, which parses with the Python frontend's parser (Ruff's): ratio scan / that floor {:.2}",
        seconds / table.floor_frontend.wall.as_secs_f64(),
    );
    println!("bench process peak RSS after the floors: {}", rss(table.bench_rss_kib));
    let shares = &table.shares;
    let parse = shares.parse.as_secs_f64();
    let convert_share = shares.convert.as_secs_f64() / parse;
    println!(
        "one thread, scanned files ({:.1} MB), the frontend's tree just built: parse {parse:.2} s; conversion to facts {:.0}% of that",
        megabytes(shares.bytes),
        100.0 * convert_share,
    );
    // The frontend's floor parses every byte of the tree; the scan parses `parsed_bytes` of
    // them and converts what it parses before any rule runs.
    println!(
        "  parse + conversion of the {:.1} MB the scan parses = {:.2} of the frontend's floor(all), before any rule",
        megabytes(scan.parsed_bytes),
        scan.parsed_bytes as f64 / tree_bytes as f64 * (1.0 + convert_share),
    );
    if scan.files != table.scanned.len() as u64 || scan.bytes != scanned_bytes {
        println!(
            "note: the scan read {} files ({} bytes) but the tree has {} non-test files ({} bytes)",
            thousands(scan.files),
            thousands(scan.bytes),
            thousands(table.scanned.len() as u64),
            thousands(scanned_bytes),
        );
    }
}

/// `1234567` as `1,234,567`.
fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
