//! Who calls a function, and whether each call sits where what the function raises is
//! handled: the tree's calls by name, as the scan's per-file pass records them, and the
//! questions asked of them once the pass is done. OA001's
//! ([`crate::rules::unguarded_json::check_file_and_calls`]): a `.json()` in a helper whose
//! every caller catches its decode error. OA004's
//! ([`crate::rules::missing_rollback::rollback_calls`]): a handler that raises with the
//! session its caller gave, in a function whose every caller rolls back what it raises.
//!
//! Calls are matched by the name they call (`helper` in `self.service.helper(x)`), without
//! resolution: a name is guarded only when every call of it in the tree is, so a function
//! of the same name called without a `try` keeps the finding. Every other mention of the
//! name in a file of the language counts against it: a reference passed as a callback, a
//! keyword, a call in a file no record covers (a line comment or a docstring does not). A
//! name no file calls (a route handler, which the framework calls) is not guarded either.
//! A rule whose callers are rarely in the files it records (OA004's) records the files
//! with a mention on demand ([`Callers::with_recorder`]).

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use rayon::prelude::*;

use crate::facts::{Call, ExprKind, FileFacts, Language, StmtKind, is_name_byte};
use crate::index::Project;

/// How many calls up a guard is looked for: around the calls of the function, of their
/// callers, and of theirs.
pub const MAX_CALLER_DEPTH: usize = 3;

/// Calls alike: the name they call ([`name_key`]), the function of their file they sit in,
/// and a bit for each kind of error a `try` around them handles (what the bits mean is
/// the recording rule's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CallRecord {
    pub name: u64,
    /// Index into [`FileCalls::functions`].
    pub caller: u32,
    pub guarded: u8,
    /// Whether the calls spell the name: not ones through an alias (`h()` after `from m
    /// import helper as h`).
    pub mentioned: bool,
    /// How many calls this record stands for.
    pub count: u16,
}

/// `calls` sorted, with the records of calls alike merged into one (a function calls
/// `logger.info` many times): every file's records are held until the pass is done
/// (merging took the mixed bench tree's peak RSS from 250.5 to 248.8 MB).
pub fn merge_alike(mut calls: Vec<CallRecord>) -> Vec<CallRecord> {
    calls.sort_unstable();
    let mut merged: Vec<CallRecord> = Vec::with_capacity(calls.len());
    for call in calls {
        match merged.last_mut() {
            Some(last)
                if (last.name, last.caller, last.guarded, last.mentioned) == (call.name, call.caller, call.guarded, call.mentioned)
                    && last.count < u16::MAX =>
            {
                last.count += 1
            }
            _ => merged.push(call),
        }
    }
    merged.shrink_to_fit();
    merged
}

/// The calls of one file, with the other mentions of a name its facts account for.
#[derive(Debug, Clone, Default)]
pub struct FileCalls {
    pub calls: Vec<CallRecord>,
    /// The names of the file's functions, by index: `None` for the module body, whose code
    /// no call reaches.
    pub functions: Vec<Option<String>>,
    /// The names imported (`helper` in `from m import helper` or `... helper as h`), by
    /// [`name_key`].
    pub imported: Vec<u64>,
    /// Byte ranges of the file's docstrings (a string alone as a statement), sorted: a name
    /// mentioned there calls nothing.
    pub docstrings: Vec<(usize, usize)>,
}

/// The byte ranges of the docstrings of a file (strings alone as statements), sorted.
fn docstrings(facts: &FileFacts) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    for function in &facts.functions {
        function.body.visit(&mut |stmt| {
            if let StmtKind::Expr(expr) = &stmt.kind
                && matches!(expr.kind, ExprKind::String(_) | ExprKind::Interpolated { .. })
            {
                spans.push((expr.span.start_byte, expr.span.end_byte));
            }
        });
    }
    spans.sort_unstable();
    spans.dedup();
    spans
}

impl FileCalls {
    /// The record of a file of `project` whose facts are `facts` and whose calls are
    /// `calls`: in Python, only the calls of names the tree defines a function by
    /// ([`Project::python_definitions`]), the only ones a question can be about (most
    /// calls are of library methods: `logger.info`, `db.add`, `dict.get`).
    pub fn of(project: &Project, facts: &FileFacts, mut calls: Vec<CallRecord>) -> FileCalls {
        if facts.language == Language::Python {
            let defined = project.python_definitions();
            calls.retain(|call| defined.contains(&call.name));
        }
        FileCalls {
            calls: merge_alike(calls),
            functions: facts
                .functions
                .iter()
                .map(|function| if function.is_module() { None } else { Some(function.name.clone()) })
                .collect(),
            imported: facts.imports.iter().filter_map(|import| import.name.as_deref()).map(name_key).collect(),
            docstrings: docstrings(facts),
        }
    }

    /// Whether byte `at` is in one of the file's docstrings.
    fn in_docstring(&self, at: usize) -> bool {
        let after = self.docstrings.partition_point(|(start, _)| *start <= at);
        after.checked_sub(1).and_then(|index| self.docstrings.get(index)).is_some_and(|(_, end)| at < *end)
    }
}

/// The name a call calls, as its record keeps it: `helper` in `helper(x)` and
/// `self.service.helper(x)`.
pub fn called_name(call: &Call) -> Option<&str> {
    match &call.callee.kind {
        ExprKind::Name(name) | ExprKind::Attribute { name, .. } => Some(name),
        _ => None,
    }
}

/// The key a called name is recorded under.
pub fn name_key(name: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    name.hash(&mut hasher);
    hasher.finish()
}

/// A function whose calls are asked about: its file's language, its name, the guard bit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Question {
    pub language: Language,
    pub name: String,
    pub bit: u8,
}

/// The calls of one name, once every mention of it is accounted for: each call's guard
/// bits and the name of the function it sits in.
type Calls = Vec<(u8, Option<String>)>;

/// Makes the record of a file the pass did not record, on demand.
pub type Recorder<'a> = dyn Fn(usize) -> Option<FileCalls> + Sync + 'a;

/// Answers [`Question`]s from the records of the files the recording rule read (those
/// where it may find a site): a mention of a name in any other file counts against it,
/// unless a [`Recorder`] records that file when a mention is found there.
pub struct Callers<'a> {
    project: &'a Project,
    /// By file: its record, if the recording rule read it.
    files: Vec<Option<FileCalls>>,
    /// Records the files with a mention and no record, once each.
    recorder: Option<&'a Recorder<'a>>,
    recorded: Vec<bool>,
    /// Names not looked for: their calls are taken as unexplained (see [`Callers::with_recorder`]).
    unsought: &'a [String],
    /// By language and name: every call of the name, or `None` when a mention is no
    /// recorded call, definition or import.
    known: HashMap<(Language, String), Option<Calls>>,
}

impl<'a> Callers<'a> {
    pub fn new(project: &'a Project, files: Vec<Option<FileCalls>>) -> Callers<'a> {
        let recorded = vec![false; files.len()];
        Callers { project, files, recorder: None, recorded, unsought: &[], known: HashMap::new() }
    }

    /// Also records, with `recorder`, the files that mention a name asked about and hold
    /// no record; but not those of `unsought` names, whose calls count as unexplained without
    /// a search: a method named like the session's own API (`execute`, `add`) is called by
    /// that name all over a tree that uses a database (Langflow: 101 files for one
    /// `execute`), and never only where errors are rolled back.
    pub fn with_recorder(mut self, recorder: &'a Recorder<'a>, unsought: &'a [String]) -> Callers<'a> {
        self.recorder = Some(recorder);
        self.unsought = unsought;
        self
    }

    /// For each question, whether every call of its name in the tree carries its bit, or
    /// sits in a function (up to [`MAX_CALLER_DEPTH`] calls up) whose calls all do.
    pub fn answer(&mut self, questions: &[Question]) -> Vec<bool> {
        let mut wanted: HashSet<(Language, String)> = questions.iter().map(|question| (question.language, question.name.clone())).collect();
        let asked = questions.iter().fold(0, |bits, question| bits | question.bit);
        for _ in 0..MAX_CALLER_DEPTH {
            if wanted.is_empty() {
                break;
            }
            self.learn(&wanted);
            // The functions holding calls that lack a bit asked about: their own calls are
            // asked next.
            let mut next = HashSet::new();
            for (language, name) in &wanted {
                for (guarded, caller) in self.known.get(&(*language, name.clone())).into_iter().flatten().flatten() {
                    if guarded & asked != asked
                        && let Some(caller) = caller
                        && !self.known.contains_key(&(*language, caller.clone()))
                    {
                        next.insert((*language, caller.clone()));
                    }
                }
            }
            wanted = next;
        }
        let mut memo = HashMap::new();
        questions.iter().map(|question| self.guarded(question.language, &question.name, question.bit, 0, &mut memo)).collect()
    }

    /// Whether every call of `name` carries `bit` or sits in a function, `depth` calls up
    /// at most [`MAX_CALLER_DEPTH`], whose calls do.
    fn guarded(
        &self,
        language: Language,
        name: &str,
        bit: u8,
        depth: usize,
        memo: &mut HashMap<(Language, String, u8, usize), bool>,
    ) -> bool {
        if depth >= MAX_CALLER_DEPTH {
            return false;
        }
        let key = (language, name.to_string(), bit, depth);
        if let Some(known) = memo.get(&key) {
            return *known;
        }
        // Until answered, a cycle back to this name guards nothing.
        memo.insert(key.clone(), false);
        let answer = match self.known.get(&(language, name.to_string())) {
            Some(Some(calls)) if !calls.is_empty() => calls.iter().all(|(guarded, caller)| {
                guarded & bit != 0 || caller.as_deref().is_some_and(|caller| self.guarded(language, caller, bit, depth + 1, memo))
            }),
            _ => false,
        };
        memo.insert(key, answer);
        answer
    }

    /// Finds every mention of the `wanted` names in the files of their language, and keeps
    /// each name's calls when every mention is a recorded call, definition or import.
    fn learn(&mut self, wanted: &HashSet<(Language, String)>) {
        let mut by_language: HashMap<Language, Vec<String>> = HashMap::new();
        for (language, name) in wanted {
            by_language.entry(*language).or_default().push(name.clone());
        }
        for (language, mut names) in by_language {
            names.retain(|name| {
                let unsought = self.unsought.iter().any(|known| known == name);
                if unsought {
                    self.known.insert((language, name.clone()), None);
                }
                !unsought
            });
            names.sort();
            let mut calls: Vec<Option<Calls>> = names.iter().map(|_| Some(Vec::new())).collect();
            let mentions = self.mentions(language, &names);
            self.record_missing(mentions.iter().map(|(file, _)| *file));
            for (file, found) in mentions {
                let record = self.files.get(file).and_then(Option::as_ref);
                let mut counts: Vec<(usize, usize)> = Vec::new();
                for (name, at) in found {
                    if record.is_some_and(|record| record.in_docstring(at)) {
                        continue;
                    }
                    match counts.iter_mut().find(|(known, _)| *known == name) {
                        Some((_, count)) => *count += 1,
                        None => counts.push((name, 1)),
                    }
                }
                for (name, count) in counts {
                    let (Some(slot), Some(text)) = (calls.get_mut(name), names.get(name)) else { continue };
                    let Some(found) = slot else { continue };
                    match record.and_then(|record| explained_calls(record, text, count)) {
                        Some(here) => found.extend(here),
                        None => *slot = None,
                    }
                }
            }
            for (name, calls) in names.into_iter().zip(calls) {
                self.known.insert((language, name), calls);
            }
        }
    }

    /// Records, with the recorder if any, the `files` that hold no record yet, in parallel.
    fn record_missing(&mut self, files: impl Iterator<Item = usize>) {
        let Some(recorder) = self.recorder else { return };
        let missing: Vec<usize> = files
            .filter(|file| self.files.get(*file).is_some_and(Option::is_none) && !self.recorded.get(*file).copied().unwrap_or(true))
            .collect();
        let records: Vec<(usize, Option<FileCalls>)> = missing.par_iter().map(|file| (*file, recorder(*file))).collect();
        for (file, record) in records {
            if let (Some(slot), Some(recorded)) = (self.files.get_mut(file), self.recorded.get_mut(file)) {
                *slot = record;
                *recorded = true;
            }
        }
    }

    /// For each file of `language` mentioning any of `names` as a whole word outside a line
    /// comment: each mention, as the index of the name and the byte it starts at.
    fn mentions(&self, language: Language, names: &[String]) -> Vec<(usize, Vec<(usize, usize)>)> {
        // A DFA searches 3x faster than the default here; past its size limit, the default.
        let build = |kind| AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).kind(kind).build(names);
        let Ok(searcher) = build(Some(AhoCorasickKind::DFA)).or_else(|_| build(None)) else {
            // No searcher, no mention found: every name keeps its findings.
            return Vec::new();
        };
        let files: Vec<(usize, &[u8])> = (self.project.files.iter().enumerate())
            .filter(|(_, file)| file.language == language)
            .map(|(index, file)| (index, file.text.as_bytes()))
            .collect();
        let mut found: Vec<(usize, Vec<(usize, usize)>)> = files
            .par_iter()
            .filter_map(|&(index, text)| {
                let mut mentions: Vec<(usize, usize)> = Vec::new();
                // A match inside a longer name never starts at a word boundary, and a
                // whole-word one cannot start inside another match: names are words.
                for found in searcher.find_iter(text) {
                    let before = found.start().checked_sub(1).and_then(|at| text.get(at)).copied();
                    let after = text.get(found.end()).copied();
                    if before.is_some_and(is_name_byte) || after.is_some_and(is_name_byte) || in_line_comment(text, found.start(), language)
                    {
                        continue;
                    }
                    mentions.push((found.pattern().as_usize(), found.start()));
                }
                (!mentions.is_empty()).then_some((index, mentions))
            })
            .collect();
        found.sort_by_key(|(index, _)| *index);
        found
    }
}

/// Whether the byte at `at` is in a line comment (`# ...`, `// ...`): one that starts the
/// line or follows a space, which a `#` or `//` in a string (`"https://..."`) rarely does.
/// A name mentioned in a comment calls nothing.
fn in_line_comment(text: &[u8], at: usize, language: Language) -> bool {
    let marker: &[u8] = match language {
        Language::Python => b"#",
        Language::TypeScript | Language::Rust => b"//",
    };
    let line_start = memchr::memrchr(b'\n', text.get(..at).unwrap_or_default()).map_or(0, |newline| newline + 1);
    let line = text.get(line_start..at).unwrap_or_default();
    memchr::memmem::find_iter(line, marker).any(|position| position == 0 || line.get(position - 1).is_some_and(u8::is_ascii_whitespace))
}

/// The calls of `name` a file's record holds, when they, its definitions of `name` and its
/// imports of it are all of the file's `mentions` of it.
fn explained_calls(record: &FileCalls, name: &str, mentions: usize) -> Option<Calls> {
    let key = name_key(name);
    let defined = record.functions.iter().filter(|function| function.as_deref() == Some(name)).count()
        + record.imported.iter().filter(|imported| **imported == key).count();
    let calls: Vec<&CallRecord> = record.calls.iter().filter(|call| call.name == key).collect();
    let spelled: usize = calls.iter().filter(|call| call.mentioned).map(|call| usize::from(call.count)).sum();
    (spelled + defined == mentions)
        .then(|| calls.iter().map(|call| (call.guarded, record.functions.get(call.caller as usize).cloned().flatten())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    fn project(files: &[(&str, &str)]) -> Project {
        Project::new(
            files.iter().map(|(path, text)| SourceFile::new(path.to_string(), path.into(), Language::Python, text.to_string())).collect(),
        )
    }

    fn record(functions: &[&str], calls: &[(&str, u32, u8)]) -> Option<FileCalls> {
        Some(FileCalls {
            calls: calls
                .iter()
                .map(|(name, caller, guarded)| CallRecord {
                    name: name_key(name),
                    caller: *caller,
                    guarded: *guarded,
                    mentioned: true,
                    count: 1,
                })
                .collect(),
            functions: std::iter::once(None).chain(functions.iter().map(|name| Some(name.to_string()))).collect(),
            imported: Vec::new(),
            docstrings: Vec::new(),
        })
    }

    fn question(name: &str, bit: u8) -> Question {
        Question { language: Language::Python, name: name.into(), bit }
    }

    #[test]
    fn a_name_is_guarded_when_every_call_carries_the_bit_up_to_three_calls_up() {
        let tree = project(&[
            ("a.py", "def helper(r):\n    return r.json()\n"),
            (
                "b.py",
                "def route():\n    try:\n        mid(r)\n    except Exception:\n        raise Failed()\n\ndef mid(r):\n    return helper(r)  # helper\n",
            ),
        ]);
        let files = vec![record(&["helper"], &[]), record(&["route", "mid"], &[("mid", 1, 0b01), ("helper", 2, 0)])];
        let answers = Callers::new(&tree, files).answer(&[question("helper", 0b01), question("helper", 0b10), question("route", 0b01)]);
        assert_eq!(answers, vec![true, false, false], "guarded through `mid` for the first bit only; a name never called is not");
    }

    #[test]
    fn a_mention_that_is_no_recorded_call_keeps_the_name_unguarded() {
        let guarded = |files: &[(&str, &str)], records: Vec<Option<FileCalls>>| {
            Callers::new(&project(files), records).answer(&[question("helper", 1)])[0]
        };
        let definition = ("a.py", "def helper(r):\n    return r.json()\n");
        let call = ("b.py", "def route():\n    try:\n        helper(r)\n    except ValueError:\n        return None\n");
        assert!(guarded(&[definition, call], vec![record(&["helper"], &[]), record(&["route"], &[("helper", 1, 1)])]));
        let passed =
            ("b.py", "def route():\n    hooks = [helper]\n    try:\n        helper(r)\n    except ValueError:\n        return None\n");
        assert!(
            !guarded(&[definition, passed], vec![record(&["helper"], &[]), record(&["route"], &[("helper", 1, 1)])]),
            "handed over as a value"
        );
        assert!(!guarded(&[definition, call], vec![record(&["helper"], &[]), None]), "in a file without a record");
        let recursive = ("a.py", "def helper(r):\n    return helper(r.next) or r.json()\n");
        assert!(!guarded(&[recursive, call], vec![record(&["helper"], &[("helper", 1, 0)]), record(&["route"], &[("helper", 1, 1)])]));
    }

    #[test]
    fn a_mention_in_a_docstring_is_no_mention() {
        let definition = ("a.py", "def helper(r):\n    return r.json()\n");
        let text =
            "def route():\n    \"\"\"Calls helper once.\"\"\"\n    try:\n        helper(r)\n    except ValueError:\n        return None\n";
        let tree = project(&[definition, ("b.py", text)]);
        // The record as the pass makes it, docstrings read from the parse.
        let facts = crate::lang::python::extract(text, crate::lang::ExtractOptions::default()).expect("parses");
        let call = CallRecord { name: name_key("helper"), caller: 1, guarded: 1, mentioned: true, count: 1 };
        let caller = FileCalls::of(&tree, &facts, vec![call]);
        assert_eq!(caller.docstrings.len(), 1, "the docstring of `route`");
        let guarded =
            |caller: FileCalls| Callers::new(&tree, vec![record(&["helper"], &[]), Some(caller)]).answer(&[question("helper", 1)])[0];
        assert!(!guarded(FileCalls { docstrings: Vec::new(), ..caller.clone() }), "without the docstring's span, its mention counts");
        assert!(guarded(caller));
    }

    #[test]
    fn the_recorder_records_files_with_a_mention_but_not_for_unsought_names() {
        let tree = project(&[
            ("a.py", "class Command:\n    def execute(self):\n        raise Failed()\n\ndef helper(r):\n    raise Failed()\n"),
            ("b.py", "def route():\n    with session_scope():\n        helper(r)\n        Command().execute()\n"),
        ]);
        let asked = std::sync::Mutex::new(Vec::new());
        let recorder = |file: usize| {
            asked.lock().expect("lock").push(file);
            record(&["route"], &[("helper", 1, 1), ("execute", 1, 1)])
        };
        let unsought = vec!["execute".to_string()];
        let files = vec![record(&["Command.execute", "helper"], &[]), None];
        let answers =
            Callers::new(&tree, files).with_recorder(&recorder, &unsought).answer(&[question("helper", 1), question("execute", 1)]);
        assert_eq!(answers, vec![true, false], "`execute` is answered without a search, as unexplained");
        assert_eq!(*asked.lock().expect("lock"), vec![1], "b.py recorded once, for `helper`");
    }

    #[test]
    fn calls_alike_are_one_record_that_counts_them() {
        let call = |caller, guarded| CallRecord { name: name_key("helper"), caller, guarded, mentioned: true, count: 1 };
        let merged = merge_alike(vec![call(1, 1), call(2, 0), call(1, 1)]);
        assert_eq!(merged.iter().map(|record| (record.caller, record.count)).collect::<Vec<_>>(), vec![(1, 2), (2, 1)]);
        let record = FileCalls {
            calls: merged,
            functions: vec![None, Some("route".into()), Some("other".into())],
            imported: Vec::new(),
            docstrings: Vec::new(),
        };
        assert_eq!(explained_calls(&record, "helper", 3).map(|calls| calls.len()), Some(2), "three calls spelled, two records");
        assert_eq!(explained_calls(&record, "helper", 4), None, "a fourth mention is no call");
    }

    #[test]
    fn line_comments_are_no_mentions_but_hashes_and_slashes_in_strings_are_not_comments() {
        let at = |text: &str, language| in_line_comment(text.as_bytes(), text.rfind("helper").unwrap_or(0), language);
        assert!(at("x = 1  # see helper", Language::Python));
        assert!(at("    # helper", Language::Python));
        assert!(!at("url = \"a#b\"; helper()", Language::Python));
        assert!(at("  // calls helper", Language::TypeScript));
        assert!(!at("fetch(\"https://x\" + helper)", Language::TypeScript));
    }
}
