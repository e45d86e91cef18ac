//! Configuration: the defaults in `rules/defaults.toml`, extended by `oauth-audit.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use thiserror::Error;

/// The defaults, compiled into the binary so it runs from anywhere.
pub const DEFAULTS: &str = include_str!("../rules/defaults.toml");
pub const DEFAULTS_NAME: &str = "rules/defaults.toml";
pub const CONFIG_FILE_NAME: &str = "oauth-audit.toml";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the configuration: {message}")]
    Read { path: String, message: String },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid { path: String, line: usize, column: usize, message: String },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    guards: GuardsSection,
    #[serde(default)]
    http: HttpSection,
    #[serde(default)]
    providers: ProvidersSection,
    #[serde(default)]
    integrations: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    scan: ScanSection,
    #[serde(default)]
    callbacks: CallbacksSection,
    #[serde(default)]
    persistence: PersistenceSection,
    #[serde(default)]
    sync: SyncSection,
    #[serde(default)]
    rollback: RollbackSection,
    #[serde(default)]
    fix: FixSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixSection {
    python_helper_module: Option<String>,
    python_helper_file: Option<String>,
    python_sync_module: Option<String>,
    typescript_helper_file: Option<String>,
    #[serde(default)]
    templates: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbacksSection {
    #[serde(default)]
    code_inputs: Vec<String>,
    #[serde(default)]
    stateless_inputs: Vec<String>,
    #[serde(default)]
    token_request_inputs: Vec<String>,
    #[serde(default)]
    exchange_calls: Vec<String>,
    #[serde(default)]
    request_exchange_calls: Vec<String>,
    #[serde(default)]
    request_exchange_keywords: Vec<String>,
    #[serde(default)]
    request_url_fields: Vec<String>,
    #[serde(default)]
    global_request_modules: Vec<String>,
    #[serde(default)]
    settings_verbs: Vec<String>,
    #[serde(default)]
    other_protocol_words: Vec<String>,
    #[serde(default)]
    sign_in_words: Vec<String>,
    #[serde(default)]
    sign_in_calls: Vec<String>,
    #[serde(default)]
    call_through: Vec<String>,
    #[serde(default)]
    state_inputs: Vec<String>,
    #[serde(default)]
    state_validators: Vec<String>,
    #[serde(default)]
    token_keys: Vec<String>,
    #[serde(default)]
    response_constructors: Vec<String>,
    #[serde(default)]
    value_wrappers: Vec<String>,
    #[serde(default)]
    app_state_types: Vec<String>,
    #[serde(default)]
    handlers: Vec<String>,
    #[serde(default)]
    delegation_prefixes: Vec<String>,
    max_depth: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersistenceSection {
    #[serde(default)]
    sinks: Vec<String>,
    #[serde(default)]
    sink_verbs: Vec<String>,
    #[serde(default)]
    sink_nouns: Vec<String>,
    #[serde(default)]
    writes: Vec<String>,
    #[serde(default)]
    commits: Vec<String>,
    #[serde(default)]
    session_names: Vec<String>,
    #[serde(default)]
    session_types: Vec<String>,
    #[serde(default)]
    session_factories: Vec<String>,
    #[serde(default)]
    autocommit_types: Vec<String>,
    #[serde(default)]
    clients: Vec<String>,
    #[serde(default)]
    client_writes: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncSection {
    #[serde(default)]
    triggers: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackSection {
    #[serde(default)]
    writes: Vec<String>,
    #[serde(default)]
    managers: Vec<String>,
    #[serde(default)]
    scoped: Vec<String>,
    #[serde(default)]
    early_errors: Vec<String>,
    #[serde(default)]
    statement_methods: Vec<String>,
    #[serde(default)]
    read_statements: Vec<String>,
    #[serde(default)]
    unflushed_writes: Vec<String>,
    #[serde(default)]
    savepoints: Vec<String>,
    #[serde(default)]
    transaction_writes: Vec<String>,
    #[serde(default)]
    sql_methods: Vec<String>,
    #[serde(default)]
    transaction_methods: BTreeMap<String, String>,
    #[serde(default)]
    transaction_factories: BTreeMap<String, String>,
    #[serde(default)]
    transaction_statements: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuardsSection {
    #[serde(default)]
    returning: Vec<String>,
    #[serde(default)]
    raising: Vec<String>,
    #[serde(default)]
    no_return: Vec<String>,
    #[serde(default)]
    catching: Vec<String>,
    #[serde(default)]
    running: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSection {
    #[serde(default)]
    modules: Vec<String>,
    #[serde(default)]
    client_constructors: Vec<String>,
    #[serde(default)]
    client_names: Vec<String>,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    response_names: Vec<String>,
    #[serde(default)]
    response_suffixes: Vec<String>,
    #[serde(default)]
    send_methods: Vec<String>,
    #[serde(default)]
    passthrough: Vec<String>,
    #[serde(default)]
    json_methods: Vec<String>,
    #[serde(default)]
    json_parsers: Vec<String>,
    #[serde(default)]
    body_readers: Vec<String>,
    #[serde(default)]
    functions: Vec<String>,
    #[serde(default)]
    body_fields: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvidersSection {
    #[serde(default)]
    known: Vec<String>,
    #[serde(default)]
    aliases: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    evidence: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanSection {
    max_file_size: Option<u64>,
    #[serde(default)]
    exclude: Vec<String>,
}

/// Guard helpers recognised by OA001.
#[derive(Debug, Clone, Default)]
pub struct Guards {
    pub returning: Vec<String>,
    pub raising: Vec<String>,
    /// Calls that never return (`abort(400)`): a branch ending in one leaves.
    pub no_return: Vec<String>,
    /// Methods called on a parse's result that handle its failure (`.json().catch(..)`).
    pub catching: Vec<String>,
    /// Functions that call the function they are given: `to_thread` or
    /// `run_in_executor:1` (its position among the arguments, 0 by default).
    pub running: Vec<String>,
}

impl Guards {
    /// The position of the function that `running` entry `name` calls among its arguments.
    pub fn running_position(&self, name: &str) -> Option<usize> {
        self.running.iter().find_map(|entry| match entry.split_once(':') {
            Some((runner, position)) => (runner == name).then(|| position.trim().parse().ok()).flatten(),
            None => (entry == name).then_some(0),
        })
    }
}

/// What an HTTP client and a response look like in code.
#[derive(Debug, Clone, Default)]
pub struct Http {
    pub modules: Vec<String>,
    pub client_constructors: Vec<String>,
    pub client_names: Vec<String>,
    pub methods: Vec<String>,
    pub response_names: Vec<String>,
    pub response_suffixes: Vec<String>,
    /// Methods that send a request built by a chain of builder calls on a client's verb
    /// (`client.post(url).form(..).send()`, ureq's `send_form`).
    pub send_methods: Vec<String>,
    /// Methods of a response that return the response (or its body reader) itself:
    /// `error_for_status()`, `body_mut()`.
    pub passthrough: Vec<String>,
    /// Zero-argument methods that parse a response's body as JSON (`json`, `read_json`).
    pub json_methods: Vec<String>,
    /// Functions that parse a body given as their first argument (`serde_json::from_slice`).
    pub json_parsers: Vec<String>,
    /// Methods that read a response's body (`bytes`, `text`), for `json_parsers`.
    pub body_readers: Vec<String>,
    /// Functions that send a request and return a response (`fetch`, `got`); an entry
    /// `module.name` is the function `name` imported from `module` (`undici.request`).
    pub functions: Vec<String>,
    /// Fields of a response that hold its body, itself parsed with `.json()` (undici's
    /// `response.body.json()`).
    pub body_fields: Vec<String>,
}

impl Http {
    /// `callee` constructs an HTTP client: one of `client_constructors` as written
    /// (`httpx.AsyncClient`), a bare one as the callee's last segment (`ClientSession`,
    /// however imported), or a dotted one at the callee's end. Not any `Session`: SQLAlchemy's
    /// `db.Session(bind=...)` is a database session.
    pub fn is_client_constructor(&self, callee: &str) -> bool {
        let last = callee.rsplit('.').next().unwrap_or(callee);
        self.client_constructors.iter().any(|known| {
            known == callee
                || (!known.contains('.') && known == last)
                || callee.strip_suffix(known.as_str()).is_some_and(|head| head.ends_with('.'))
        })
    }
}

/// What an OAuth callback looks like: what it receives, how it exchanges it, how it checks
/// `state`, and what a token is.
#[derive(Debug, Clone, Default)]
pub struct Callbacks {
    /// Parameters or request fields carrying what a callback exchanges (`code`, `public_token`).
    pub code_inputs: Vec<String>,
    /// Inputs that do not come back through a browser redirect, so carry no `state`.
    pub stateless_inputs: Vec<String>,
    /// Inputs of a token request (`grant_type`): a handler receiving one is the token
    /// endpoint of an OAuth server, answering its clients with tokens, not a callback.
    pub token_request_inputs: Vec<String>,
    /// Library calls that exchange a code given to them, when they are not in the tree
    /// (besides any call whose name holds `token` or `exchange`).
    pub exchange_calls: Vec<String>,
    /// Library calls that read the code from the incoming request they are given: authlib's
    /// `authorize_access_token(request)`. Those also in `state_validators` check `state` too.
    pub request_exchange_calls: Vec<String>,
    /// Keywords through which an exchange call parses the code out of the URL the browser
    /// came back to: requests-oauthlib's `fetch_token(url, authorization_response=request.url)`.
    pub request_exchange_keywords: Vec<String>,
    /// Fields and methods of the incoming request giving the URL the browser came back to
    /// (`request.url`, Django's `request.build_absolute_uri()`).
    pub request_url_fields: Vec<String>,
    /// Modules whose incoming request is a global (`from flask import request`).
    pub global_request_modules: Vec<String>,
    /// Verbs of a handler that manages callback settings rather than being a callback
    /// (`add_team_callbacks`, `delete_callback` on `POST /config/callback/delete`).
    pub settings_verbs: Vec<String>,
    /// Words of a route answering another protocol's callback (`saml`, a webhook's `status`
    /// callback): no OAuth redirect comes back to it, so it is not a stub.
    pub other_protocol_words: Vec<String>,
    /// Words of a route path, or of a call a callback makes, that sign the user in to the
    /// application (`/sso/callback`, `create_signin_response(...)`): such a callback is a
    /// sign-in, which stores no tokens and syncs nothing by design.
    pub sign_in_words: Vec<String>,
    /// Calls that issue the application's own session or token to the user
    /// (`create_jwt(user)`): a callback making one is a sign-in.
    pub sign_in_calls: Vec<String>,
    /// Calls that run their first argument with the others: `run_in_threadpool(f, code)`.
    pub call_through: Vec<String>,
    pub state_inputs: Vec<String>,
    /// Calls that check `state` against a stored value.
    pub state_validators: Vec<String>,
    /// Keys and names of token values (`access_token`).
    pub token_keys: Vec<String>,
    /// Calls that build an HTTP response from their arguments (`JSONResponse`, `redirect`).
    pub response_constructors: Vec<String>,
    /// Calls that wrap a value without changing what it holds (`Ok(..)`, `json!(..)`).
    pub value_wrappers: Vec<String>,
    /// Types of parameters holding the application's state, whatever their name
    /// (axum's `State(state): State<AppState>`): never the OAuth `state`.
    pub app_state_types: Vec<String>,
    /// Functions analysed as callbacks though no route declares them (`Class.method` or
    /// `function`): custom routers, library callback flows.
    pub handlers: Vec<String>,
    /// How many calls deep the analysis follows a callback (`--max-depth`).
    pub max_depth: usize,
    /// Paths that a request from a callback forwarding the code to another service of the
    /// tree starts with (`${BACKEND}/api/...`): such a request that reaches no route is a
    /// dead delegation.
    pub delegation_prefixes: Vec<String>,
}

/// Where tokens are stored: configured sinks, ORM writes and commits, database sessions.
#[derive(Debug, Clone, Default)]
pub struct Persistence {
    pub sinks: Vec<String>,
    /// A call outside the tree whose method starts with one of these verbs and names one
    /// of `sink_nouns` stores what it is given (`create_credential`, `save_installation`).
    pub sink_verbs: Vec<String>,
    pub sink_nouns: Vec<String>,
    pub writes: Vec<String>,
    pub commits: Vec<String>,
    pub session_names: Vec<String>,
    pub session_types: Vec<String>,
    pub session_factories: Vec<String>,
    /// Types of connection pools whose writes commit by themselves (`PgPool`).
    pub autocommit_types: Vec<String>,
    /// Database and store clients whose writes commit by themselves (`prisma`,
    /// `supabase`, `redis`): matched against the name a call chain starts from.
    pub clients: Vec<String>,
    /// Methods of those clients that write (`upsert`, `insert`, `set`): with a token in
    /// the call, a write of the token.
    pub client_writes: Vec<String>,
}

impl Persistence {
    /// True when the last segment of `dotted` (`db`, `self.session`) is a session name.
    pub fn is_session_name(&self, dotted: &str) -> bool {
        let last = dotted.rsplit('.').next().unwrap_or(dotted);
        self.session_names.iter().any(|name| name == last)
    }
}

/// What needs a rollback, and what provides one.
#[derive(Debug, Clone, Default)]
pub struct Rollback {
    /// Session methods that leave the session dirty when a later step fails.
    pub writes: Vec<String>,
    /// Context managers that commit on success and roll back on error.
    pub managers: Vec<String>,
    /// Calls returning a transaction that rolls back when dropped uncommitted (sqlx's
    /// `pool.begin()`): leaving the function after an error rolls it back.
    pub scoped: Vec<String>,
    /// Exceptions an application raises itself for bad requests: a handler catching only
    /// these runs after a write only when one is raised after it.
    pub early_errors: Vec<String>,
    /// Write methods given the statement to run (`session.execute(stmt)`): a read statement
    /// is no write.
    pub statement_methods: Vec<String>,
    /// What a read statement starts with: a query builder (`select(...)`, however chained)
    /// or, case aside, the SQL of `text("SELECT ...")` or a string.
    pub read_statements: Vec<String>,
    /// Writes that only stage a row in the session and send no SQL (`db.add(row)`): a `try`
    /// that sends nothing after them, outside any loop, cannot leave a failed transaction.
    pub unflushed_writes: Vec<String>,
    /// Managers that open a savepoint (`with db.begin_nested():`): left normally, they keep
    /// their writes in the session's transaction.
    pub savepoints: Vec<String>,
    /// TypeScript: methods of an explicit transaction (or of a chain starting from it)
    /// that run inside it (`save`, `insert`, `query`).
    pub transaction_writes: Vec<String>,
    /// TypeScript: methods that send SQL text (`client.query('BEGIN')`).
    pub sql_methods: Vec<String>,
    /// TypeScript: methods that open a transaction on their receiver, with the method
    /// that rolls it back (`startTransaction` -> `rollbackTransaction`).
    pub transaction_methods: BTreeMap<String, String>,
    /// TypeScript: methods that return a transaction when given no callback, with the
    /// method that rolls it back (`transaction` -> `rollback`).
    pub transaction_factories: BTreeMap<String, String>,
    /// SQL that opens a transaction, upper case, with the SQL that rolls it back
    /// (`BEGIN` -> `ROLLBACK`).
    pub transaction_statements: BTreeMap<String, String>,
}

impl Rollback {
    /// Whether the call `dotted` (`get_db_session`, `db.begin`, `transaction`) is one of
    /// the managers, by its last segment.
    pub fn is_manager(&self, dotted: &str) -> bool {
        let name = dotted.rsplit('.').next().unwrap_or(dotted);
        self.managers.iter().any(|manager| manager == name)
    }
}

/// What `fix` inserts, and where the guard helper it imports lives.
#[derive(Debug, Clone, Default)]
pub struct Fix {
    /// The module Python code imports `check_html_response` from (`core.oauth_utils`).
    pub python_helper_module: String,
    /// Where `fix --write` creates that module when the tree has none, relative to the
    /// folder absolute imports start from.
    pub python_helper_file: String,
    /// The module Python code imports `trigger_historical_sync_on_connection` from.
    pub python_sync_module: String,
    /// Where the TypeScript guard helper is created when missing, relative to the scan root.
    pub typescript_helper_file: String,
    /// Templates replacing the shipped ones, by name (`python/guard`), as paths resolved
    /// against the configuration file's folder.
    pub templates: BTreeMap<String, PathBuf>,
}

/// A provider assigned explicitly to the files matching some globs. When globs of two
/// providers match one file, the provider whose name sorts first wins.
#[derive(Debug, Clone)]
pub struct ExplicitIntegration {
    pub name: String,
    pub globs: GlobSet,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub guards: Guards,
    pub http: Http,
    pub known_providers: Vec<String>,
    pub provider_aliases: BTreeMap<String, Vec<String>>,
    /// Providers whose names are common words (`teams`), with the lower-case words a file
    /// about one mentions: see [`crate::integrations::ProviderMatcher::evidenced`].
    pub provider_evidence: BTreeMap<String, Vec<String>>,
    pub explicit_integrations: Vec<ExplicitIntegration>,
    pub callbacks: Callbacks,
    pub persistence: Persistence,
    /// Calls that start the historical sync after a connection.
    pub sync_triggers: Vec<String>,
    pub rollback: Rollback,
    pub fix: Fix,
    pub max_file_size: u64,
    pub exclude: GlobSet,
    /// The folder of an `oauth-audit.toml` found from the scan root upward: its globs are
    /// relative to it. `None` for the defaults and `--config` (globs relative to the root).
    pub glob_base: Option<PathBuf>,
}

impl Config {
    /// The shipped defaults alone.
    pub fn defaults() -> Result<Config, ConfigError> {
        Config::build(&[(DEFAULTS_NAME.to_string(), DEFAULTS.to_string())])
    }

    /// The defaults extended by the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| ConfigError::Read { path: path.display().to_string(), message: error.to_string() })?;
        Config::build(&[(DEFAULTS_NAME.to_string(), DEFAULTS.to_string()), (path.display().to_string(), text)])
    }

    /// `--config` when given, else the first `oauth-audit.toml` from `root` upward, else the defaults.
    pub fn resolve(explicit: Option<&Path>, root: &Path) -> Result<Config, ConfigError> {
        if let Some(path) = explicit {
            return Config::load(path);
        }
        match find_config_file(root) {
            Some(path) => {
                let mut config = Config::load(&path)?;
                config.glob_base = path.parent().map(Path::to_path_buf);
                Ok(config)
            }
            None => Config::defaults(),
        }
    }

    /// The path config globs match for a file at `relative` under the scan `root`.
    pub fn glob_path(&self, root: &Path, relative: &str) -> String {
        let Some(base) = &self.glob_base else {
            return relative.to_string();
        };
        match root.strip_prefix(base) {
            Ok(prefix) if !prefix.as_os_str().is_empty() => {
                let prefix: Vec<String> =
                    prefix.components().map(|component| component.as_os_str().to_string_lossy().to_string()).collect();
                format!("{}/{relative}", prefix.join("/"))
            }
            _ => relative.to_string(),
        }
    }

    fn build(files: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut guards = Guards::default();
        let mut http = Http::default();
        let mut known_providers = Vec::new();
        let mut provider_aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut provider_evidence: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut integrations: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut max_file_size = 2_000_000;
        let mut exclude = Vec::new();
        let mut callbacks = Callbacks { max_depth: 3, ..Callbacks::default() };
        let mut persistence = Persistence::default();
        let mut sync_triggers = Vec::new();
        let mut rollback = Rollback::default();
        let mut fix = Fix::default();
        for (path, text) in files {
            let file: ConfigFile = toml::from_str(text).map_err(|error| invalid(path, text, error.span(), error.message()))?;
            let folder = Path::new(path).parent().map(Path::to_path_buf).unwrap_or_default();
            let section = file.fix;
            for (value, slot) in [
                (section.python_helper_module, &mut fix.python_helper_module),
                (section.python_helper_file, &mut fix.python_helper_file),
                (section.python_sync_module, &mut fix.python_sync_module),
                (section.typescript_helper_file, &mut fix.typescript_helper_file),
            ] {
                if let Some(value) = value {
                    *slot = value;
                }
            }
            for (name, template) in section.templates {
                fix.templates.insert(name, folder.join(template));
            }
            extend(&mut guards.returning, file.guards.returning);
            extend(&mut guards.raising, file.guards.raising);
            extend(&mut guards.no_return, file.guards.no_return);
            extend(&mut guards.catching, file.guards.catching);
            for entry in &file.guards.running {
                if let Some((_, position)) = entry.split_once(':')
                    && position.trim().parse::<usize>().is_err()
                {
                    let message = format!("invalid running entry {entry:?}: the position after `:` must be a number (`run_in_executor:1`)");
                    return Err(invalid(path, text, find_span(text, entry), &message));
                }
            }
            extend(&mut guards.running, file.guards.running);
            extend(&mut http.modules, file.http.modules);
            extend(&mut http.client_constructors, file.http.client_constructors);
            extend(&mut http.client_names, file.http.client_names);
            extend(&mut http.methods, file.http.methods);
            extend(&mut http.response_names, file.http.response_names);
            extend(&mut http.response_suffixes, file.http.response_suffixes);
            extend(&mut http.send_methods, file.http.send_methods);
            extend(&mut http.passthrough, file.http.passthrough);
            extend(&mut http.json_methods, file.http.json_methods);
            extend(&mut http.json_parsers, file.http.json_parsers);
            extend(&mut http.body_readers, file.http.body_readers);
            extend(&mut http.functions, file.http.functions);
            extend(&mut http.body_fields, file.http.body_fields);
            let known: Vec<String> = file.providers.known.iter().map(|name| normalize_provider(name)).collect();
            extend(&mut known_providers, known);
            for (provider, aliases) in file.providers.aliases {
                let provider = normalize_provider(&provider);
                extend(
                    provider_aliases.entry(provider.clone()).or_default(),
                    aliases.iter().map(|alias| normalize_provider(alias)).collect(),
                );
                extend(&mut known_providers, vec![provider]);
            }
            for (provider, words) in file.providers.evidence {
                let provider = normalize_provider(&provider);
                let words = words.iter().map(|word| word.trim().to_ascii_lowercase()).filter(|word| !word.is_empty()).collect();
                extend(provider_evidence.entry(provider.clone()).or_default(), words);
                extend(&mut known_providers, vec![provider]);
            }
            for (provider, globs) in file.integrations {
                let provider = normalize_provider(&provider);
                for glob in &globs {
                    if let Err(error) = Glob::new(glob) {
                        return Err(invalid(
                            path,
                            text,
                            find_span(text, glob),
                            &format!("invalid glob {glob:?} for integration {provider:?}: {error}"),
                        ));
                    }
                }
                extend(integrations.entry(provider.clone()).or_default(), globs);
                extend(&mut known_providers, vec![provider]);
            }
            if let Some(size) = file.scan.max_file_size {
                max_file_size = size;
            }
            for glob in &file.scan.exclude {
                if let Err(error) = Glob::new(glob) {
                    return Err(invalid(path, text, find_span(text, glob), &format!("invalid exclude glob {glob:?}: {error}")));
                }
            }
            extend(&mut exclude, file.scan.exclude);
            let section = file.callbacks;
            extend(&mut callbacks.code_inputs, section.code_inputs);
            extend(&mut callbacks.stateless_inputs, section.stateless_inputs);
            extend(&mut callbacks.token_request_inputs, section.token_request_inputs);
            extend(&mut callbacks.exchange_calls, section.exchange_calls);
            extend(&mut callbacks.request_exchange_calls, section.request_exchange_calls);
            extend(&mut callbacks.request_exchange_keywords, section.request_exchange_keywords);
            extend(&mut callbacks.request_url_fields, section.request_url_fields);
            extend(&mut callbacks.global_request_modules, section.global_request_modules);
            extend(&mut callbacks.settings_verbs, section.settings_verbs);
            extend(&mut callbacks.other_protocol_words, section.other_protocol_words);
            extend(&mut callbacks.sign_in_words, section.sign_in_words);
            extend(&mut callbacks.sign_in_calls, section.sign_in_calls);
            extend(&mut callbacks.call_through, section.call_through);
            extend(&mut callbacks.state_inputs, section.state_inputs);
            extend(&mut callbacks.state_validators, section.state_validators);
            extend(&mut callbacks.token_keys, section.token_keys);
            extend(&mut callbacks.response_constructors, section.response_constructors);
            extend(&mut callbacks.value_wrappers, section.value_wrappers);
            extend(&mut callbacks.app_state_types, section.app_state_types);
            extend(&mut callbacks.handlers, section.handlers);
            extend(&mut callbacks.delegation_prefixes, section.delegation_prefixes);
            if let Some(depth) = section.max_depth {
                callbacks.max_depth = depth;
            }
            let section = file.persistence;
            extend(&mut persistence.sinks, section.sinks);
            extend(&mut persistence.sink_verbs, section.sink_verbs);
            extend(&mut persistence.sink_nouns, section.sink_nouns);
            extend(&mut persistence.writes, section.writes);
            extend(&mut persistence.commits, section.commits);
            extend(&mut persistence.clients, section.clients);
            extend(&mut persistence.client_writes, section.client_writes);
            extend(&mut persistence.session_names, section.session_names);
            extend(&mut persistence.session_types, section.session_types);
            extend(&mut persistence.session_factories, section.session_factories);
            extend(&mut persistence.autocommit_types, section.autocommit_types);
            extend(&mut sync_triggers, file.sync.triggers);
            extend(&mut rollback.writes, file.rollback.writes);
            extend(&mut rollback.managers, file.rollback.managers);
            extend(&mut rollback.scoped, file.rollback.scoped);
            extend(&mut rollback.early_errors, file.rollback.early_errors);
            extend(&mut rollback.statement_methods, file.rollback.statement_methods);
            extend(&mut rollback.read_statements, file.rollback.read_statements);
            extend(&mut rollback.unflushed_writes, file.rollback.unflushed_writes);
            extend(&mut rollback.savepoints, file.rollback.savepoints);
            extend(&mut rollback.transaction_writes, file.rollback.transaction_writes);
            extend(&mut rollback.sql_methods, file.rollback.sql_methods);
            rollback.transaction_methods.extend(file.rollback.transaction_methods);
            rollback.transaction_factories.extend(file.rollback.transaction_factories);
            rollback
                .transaction_statements
                .extend(file.rollback.transaction_statements.into_iter().map(|(sql, rollback)| (sql.to_uppercase(), rollback)));
        }
        let mut explicit_integrations = Vec::new();
        for (name, globs) in integrations {
            explicit_integrations.push(ExplicitIntegration { name, globs: glob_set(&globs) });
        }
        Ok(Config {
            guards,
            http,
            known_providers,
            provider_aliases,
            provider_evidence,
            explicit_integrations,
            callbacks,
            persistence,
            sync_triggers,
            rollback,
            fix,
            max_file_size,
            exclude: glob_set(&exclude),
            glob_base: None,
        })
    }
}

/// Provider names are compared lower-case with `_` between words.
pub fn normalize_provider(name: &str) -> String {
    name.trim().to_lowercase().replace(['-', ' ', '.'], "_")
}

/// Adds a file's list to what earlier files gave (the defaults first). An entry starting
/// with `!` removes that entry instead (`writes = ["!execute"]`).
fn extend(target: &mut Vec<String>, values: Vec<String>) {
    for value in values {
        if let Some(removed) = value.strip_prefix('!') {
            target.retain(|entry| entry != removed);
        } else if !target.contains(&value) {
            target.push(value);
        }
    }
}

fn glob_set(globs: &[String]) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        // Validated while reading the file.
        if let Ok(glob) = Glob::new(glob) {
            builder.add(glob);
        }
    }
    builder.build().unwrap_or_else(|_| GlobSet::empty())
}

fn find_span(text: &str, needle: &str) -> Option<std::ops::Range<usize>> {
    text.find(needle).map(|start| start..start + needle.len())
}

fn invalid(path: &str, text: &str, span: Option<std::ops::Range<usize>>, message: &str) -> ConfigError {
    let offset = span.map(|span| span.start).unwrap_or(0).min(text.len());
    let before = text.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|tail| tail.chars().count()).unwrap_or(0) + 1;
    ConfigError::Invalid { path: path.to_string(), line, column, message: message.trim().replace('\n', " ") }
}

/// The first `oauth-audit.toml` in `root` or one of its ancestors.
pub fn find_config_file(root: &Path) -> Option<PathBuf> {
    let start = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    start.ancestors().map(|folder| folder.join(CONFIG_FILE_NAME)).find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let config = Config::defaults().expect("defaults parse");
        assert!(config.guards.returning.contains(&"check_html_response".to_string()));
        assert!(config.known_providers.contains(&"notion".to_string()));
        assert_eq!(config.max_file_size, 2_000_000);
    }

    #[test]
    fn user_file_extends_defaults() {
        let user = "[guards]\nraising = [\"ensure_json\"]\n[integrations]\nacme-crm = [\"legacy/*.py\"]\n\
                    [providers.evidence]\nteams = [\" Teams.Microsoft.com\"]\nsquare = [\"squareup\"]\n";
        let config = Config::build(&[(DEFAULTS_NAME.into(), DEFAULTS.into()), ("oauth-audit.toml".into(), user.into())]).expect("valid");
        // Evidence words add to the defaults, lower-case; their provider becomes known.
        assert!(config.provider_evidence["teams"].contains(&"botbuilder".to_string()));
        assert!(config.provider_evidence["teams"].contains(&"teams.microsoft.com".to_string()));
        assert!(config.known_providers.contains(&"square".to_string()));
        assert!(config.guards.returning.contains(&"check_html_response".to_string()));
        assert_eq!(config.guards.raising, vec!["ensure_json".to_string()]);
        assert!(config.known_providers.contains(&"acme_crm".to_string()));
        assert!(config.explicit_integrations[0].globs.is_match("legacy/a.py"));
        // `!` removes a default entry.
        let user = "[rollback]\nwrites = [\"!execute\", \"save\"]\n[providers]\nknown = [\"!teams\"]\n";
        let trimmed = Config::build(&[(DEFAULTS_NAME.into(), DEFAULTS.into()), ("oauth-audit.toml".into(), user.into())]).expect("valid");
        assert!(!trimmed.rollback.writes.contains(&"execute".to_string()) && trimmed.rollback.writes.contains(&"save".to_string()));
        assert!(trimmed.rollback.writes.contains(&"add".to_string()));
        assert!(!trimmed.known_providers.contains(&"teams".to_string()) && trimmed.known_providers.contains(&"slack".to_string()));
    }

    #[test]
    fn running_entries_give_the_position_of_the_function_they_call() {
        let user = "[guards]\nrunning = [\"submit_job:1\", \"!run_sync\"]\n";
        let config = Config::build(&[(DEFAULTS_NAME.into(), DEFAULTS.into()), ("oauth-audit.toml".into(), user.into())]).expect("valid");
        assert_eq!(config.guards.running_position("to_thread"), Some(0));
        assert_eq!(config.guards.running_position("run_in_executor"), Some(1));
        assert_eq!(config.guards.running_position("submit_job"), Some(1));
        assert_eq!(config.guards.running_position("run_sync"), None, "removed");
        assert_eq!(config.guards.running_position("submit"), None);
        let user = "[guards]\nrunning = [\"submit_job:first\"]\n";
        let error = Config::build(&[("x/oauth-audit.toml".into(), user.into())]).expect_err("invalid");
        assert_eq!(
            error.to_string(),
            "x/oauth-audit.toml:2:13: invalid running entry \"submit_job:first\": the position after `:` must be a number (`run_in_executor:1`)"
        );
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let user = "[guards]\nreturning = [\"a\"]\nunknown_key = 1\n";
        let error = Config::build(&[("x/oauth-audit.toml".into(), user.into())]).expect_err("invalid");
        let text = error.to_string();
        assert!(text.starts_with("x/oauth-audit.toml:3:1: "), "{text}");
        assert!(text.contains("unknown_key"), "{text}");
    }
}
