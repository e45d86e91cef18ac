//! Grouping files into integrations (providers).
//!
//! A file belongs to, in order of precedence: the provider the config's `[integrations]`
//! table assigns it; a known provider named in its file name (`notion_routes.py`,
//! `auth_handler_zoom.py`); a known provider in its nearest folder
//! (`connectors/intercom/client.py`); a known provider in its router prefix
//! (`APIRouter(prefix="/api/slack")`); a meaningful segment of its router prefix that names
//! an unknown provider some callback of the tree names, or the segment before `/callback` in
//! one of its route paths (an unknown provider); or none. An unknown provider comes
//! into being only by a callback: `APIRouter(prefix="/api/v1/channels")` alone makes no
//! integration.
//! The path decides without parsing; a file is parsed for its routes only when its path
//! names no provider.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::{Config, normalize_provider};
use crate::facts::{FileFacts, Language, words_of};
use crate::routes;
use crate::source::SourceFile;

/// Router prefix segments that name no provider (nor does an API version, `v1`).
const GENERIC_SEGMENTS: &[&str] = &[
    "api",
    "integrations",
    "integration",
    "oauth",
    "oauth2",
    "auth",
    "connect",
    "connectors",
    "connector",
    "callback",
    "webhooks",
    "webhook",
    "providers",
    "provider",
    "apps",
    "internal",
    "public",
    "app",
    // Signing in is no provider (Supabase's `app/login/callback/route.ts`).
    "login",
    "signin",
    "sign_in",
    "oidc",
];

/// Route path segments that name an OAuth callback.
const CALLBACK_SEGMENTS: &[&str] = &["callback", "oauth2callback", "oauth_callback", "oauth-callback"];

/// Folders and prefix segments that say the code under them talks to providers, so a common
/// word there (`integrations/teams/`) names one without [`ProviderMatcher::evidenced`].
/// Not `providers`: React keeps its context providers there (`src/providers/TeamsProvider.tsx`).
const PROVIDER_CONTEXT_SEGMENTS: &[&str] = &["integrations", "integration", "connectors", "connector", "oauth", "oauth2", "connections"];

pub struct ProviderMatcher {
    /// (provider, a spelling with the words joined, whether the spelling is a common word
    /// that needs evidence), longest spellings first.
    spellings: Vec<(String, String, bool)>,
    /// Per provider whose name is a common word (`teams`): lower-case words a file about it
    /// mentions (`microsoft`, `botbuilder`).
    evidence: BTreeMap<String, Vec<String>>,
}

impl ProviderMatcher {
    pub fn new(config: &Config) -> ProviderMatcher {
        let mut spellings = Vec::new();
        for provider in &config.known_providers {
            let common_word = config.provider_evidence.contains_key(provider);
            spellings.push((provider.clone(), provider.replace('_', ""), common_word));
            for alias in config.provider_aliases.get(provider).into_iter().flatten() {
                spellings.push((provider.clone(), alias.replace('_', ""), false));
            }
        }
        spellings.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
        ProviderMatcher { spellings, evidence: config.provider_evidence.clone() }
    }

    /// The provider named in one path or prefix segment: a run of whole words whose
    /// concatenation is a spelling (`google_calendar`, `GoogleCalendar`, `hub-spot`).
    pub fn provider_in(&self, segment: &str) -> Option<String> {
        self.provider_in_backed(segment, |_| true)
    }

    /// [`Self::provider_in`] for a segment of a file's path or router prefix: a provider
    /// whose name is a common word (`[providers.evidence]`) is named by it only when
    /// `backed` says so (Airflow's `routes/ui/teams.py` is about teams of users).
    pub fn provider_in_backed(&self, segment: &str, backed: impl Fn(&str) -> bool) -> Option<String> {
        let words = words_of(segment);
        for (provider, spelling, common_word) in &self.spellings {
            let spelled = (0..words.len()).any(|start| {
                let mut joined = String::new();
                for word in &words[start..] {
                    joined.push_str(word);
                    if joined.len() >= spelling.len() {
                        break;
                    }
                }
                joined == *spelling
            });
            // The evidence reads the file's text: only for a segment that spells the word.
            if spelled && (!*common_word || backed(provider)) {
                return Some(provider.clone());
            }
        }
        None
    }

    /// True when `text` mentions, in any case, a word of the evidence for `provider`, or
    /// when the provider's name is no common word.
    pub fn evidenced(&self, provider: &str, text: &str) -> bool {
        let Some(words) = self.evidence.get(provider) else { return true };
        words.iter().any(|word| contains_ignoring_ascii_case(text.as_bytes(), word.as_bytes()))
    }

    /// Whether a file (its path's folders, its text) or a router prefix backs a provider
    /// whose name is a common word: a provider context among `segments`
    /// (`integrations/teams/`, `/api/connectors/teams`), or evidence in the text.
    fn backing<'a>(&'a self, segments: &[&str], text: &'a str) -> impl Fn(&str) -> bool + 'a {
        let context = segments.iter().any(|segment| PROVIDER_CONTEXT_SEGMENTS.contains(&normalize_provider(segment).as_str()));
        move |provider: &str| context || self.evidenced(provider, text)
    }
}

/// `needle` (lower-case ASCII) in `haystack` at the start of a word, ASCII case ignored
/// (`box.com` is not in `dropbox.com`).
fn contains_ignoring_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else { return true };
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), haystack).any(|at| {
        let starts_word = at == 0 || !haystack[at - 1].is_ascii_alphanumeric();
        starts_word && haystack.get(at..at + needle.len()).is_some_and(|window| window.eq_ignore_ascii_case(needle))
    })
}

/// Route path segments that name a step of connecting (`/acme/install/callback`): a
/// provider before one is the better name.
const STEP_SEGMENTS: &[&str] =
    &["install", "installation", "add", "setup", "set_up", "authorize", "authorization", "complete", "finish", "redirect", "return"];

/// Words of a route parameter that names the provider a request is for:
/// `/oauth/{provider}/callback` serves every provider its path can name.
const PROVIDER_PARAMETER_WORDS: &[&str] = &["provider", "integration", "connector", "idp", "platform", "vendor", "plugin", "strategy"];

/// Words of a route parameter that may name the provider, or an id within one provider
/// (`/api/slack/{connection_id}/callback`): the provider only as an item of the collection
/// the segment before names (`/oauth/clients/{client_id}/callback`) or with no segment
/// before that names something.
const ITEM_PARAMETER_WORDS: &[&str] = &["client", "connection", "service"];

/// The provider of an unknown integration that a callback's route path names: the segment
/// before `/callback`. A step of connecting names it only when no other segment before can
/// (`/acme/install/callback` is `acme`'s; `/install/callback` names `install`).
///
/// A parameter naming the provider there (`/oauth/{provider}/callback`, Express's
/// `/auth/:provider/callback`) makes a dynamic integration: one callback for every provider
/// the path can name. It is named by the parameter in braces, after the nearest segment
/// before it that names something (`connections/{provider}` for
/// `/connections/oauth/{provider}/callback`, `{provider}` for `/oauth/{provider}/callback`).
/// A parameter after a known provider (`is_known`), or an item id after a segment that is
/// not its collection (`/api/slack/{connection_id}/callback`), is the provider's: skipped,
/// like any other parameter (`/acme/{tenant}/callback`).
fn provider_before_callback(path: &str, is_known: &dyn Fn(&str) -> bool) -> Option<String> {
    enum Candidate<'a> {
        Word(&'a str),
        Parameter { name: String, words: Vec<String> },
    }
    let segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    let position = segments.iter().position(|segment| CALLBACK_SEGMENTS.contains(&segment.to_lowercase().as_str()))?;
    let candidates: Vec<Candidate> = segments
        .get(..position)?
        .iter()
        .rev()
        .filter_map(|segment| match routes::parameter_name(segment) {
            Some(name) => {
                let words = words_of(name);
                let names_provider = words
                    .iter()
                    .any(|word| PROVIDER_PARAMETER_WORDS.contains(&word.as_str()) || ITEM_PARAMETER_WORDS.contains(&word.as_str()));
                names_provider.then(|| Candidate::Parameter { name: words.join("_"), words })
            }
            None => names_provider(segment).then_some(Candidate::Word(segment)),
        })
        .collect();
    let is_step =
        |candidate: &Candidate| matches!(candidate, Candidate::Word(word) if STEP_SEGMENTS.contains(&normalize_provider(word).as_str()));
    let chosen = candidates.iter().position(|candidate| !is_step(candidate)).or((!candidates.is_empty()).then_some(0))?;
    match &candidates[chosen] {
        Candidate::Word(word) => Some(normalize_provider(word)),
        Candidate::Parameter { name, words } => {
            let named_before = candidates[chosen + 1..].iter().find_map(|candidate| match candidate {
                Candidate::Word(word) if !is_step(candidate) => Some(normalize_provider(word)),
                _ => None,
            });
            let Some(word) = named_before else { return Some(format!("{{{name}}}")) };
            let strong = words.iter().any(|word| PROVIDER_PARAMETER_WORDS.contains(&word.as_str()));
            // `clients` of `{client_id}`: the parameter picks one of a collection.
            let collection = |item: &str| {
                words_of(&word)
                    .last()
                    .is_some_and(|last| [last.as_str(), last.trim_end_matches('s'), last.trim_end_matches("es")].contains(&item))
            };
            let dynamic =
                !is_known(&word) && (strong || words.iter().any(|item| ITEM_PARAMETER_WORDS.contains(&item.as_str()) && collection(item)));
            Some(if dynamic { format!("{word}/{{{name}}}") } else { word })
        }
    }
}

/// True for the name of a dynamic integration ([`provider_before_callback`]): a callback
/// serving every provider its path names, whose provider is a value, not a name.
pub fn is_dynamic(integration: &str) -> bool {
    integration.starts_with('{') || integration.contains("/{")
}

/// Literals without which a file declares no callback route.
const CALLBACK_LITERALS: &[&str] = &["callback\"", "callback'", "callback/"];

/// A path segment that can name a provider: not empty, not a parameter (`{id}`,
/// `<tenant>`, `:id`, `[id]`), not a generic word (`api`, `v1`, `oauth`).
fn names_provider(segment: &str) -> bool {
    let lower = normalize_provider(segment);
    // An API version: `v1`, `v5`, `v1.0`.
    let version = lower.strip_prefix('v').is_some_and(|digits| {
        digits.starts_with(|c: char| c.is_ascii_digit()) && digits.bytes().all(|byte| byte.is_ascii_digit() || byte == b'_')
    });
    // A name: not a route group (`(auth)`), a pattern or a file name.
    let name = segment.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    !segment.is_empty() && name && routes::parameter_name(segment).is_none() && !version && !GENERIC_SEGMENTS.contains(&lower.as_str())
}

/// Cheap test on the raw text: a file can say something of its provider by its routes only
/// when it constructs a router with a prefix (`APIRouter(prefix=...)`, `Blueprint(..,
/// url_prefix=...)`) or exposes Flask-AppBuilder routes under a class's route base, when
/// another file mounts one of its routers (`mounted`) and it mentions a prefix, or when it
/// declares a callback route, in its text or by its path (Next.js's
/// `app/api/acme/callback/route.ts`).
pub fn may_declare_routes(relative_path: &str, text: &str, language: Language, mounted: bool) -> bool {
    let found = |literal: &str| memchr::memmem::find(text.as_bytes(), literal.as_bytes()).is_some();
    (found("prefix") && (mounted || found("APIRouter") || found("Blueprint")))
        // Flask-AppBuilder's classes serve their routes under a route base.
        || (language == Language::Python && found("@expose("))
        || (CALLBACK_LITERALS.iter().any(|literal| found(literal)) && routes::may_declare_handlers(text, language))
        || (routes::is_route_file(relative_path) && relative_path.to_lowercase().contains("callback"))
}

/// What a file's routes say about its provider: router prefixes and callback paths.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    pub prefixes: Vec<String>,
    /// The paths of its callbacks: routes named `callback` ([`routes::Route::is_named_callback`])
    /// and exchanging ones.
    pub route_paths: Vec<String>,
    /// The paths of the routes whose handlers exchange a code (OAuth callbacks).
    pub exchange_paths: Vec<String>,
}

impl Routing {
    /// What the routes of a file say (those its path declares too), its routers' prefixes
    /// as [`routes::mounted_prefixes`] gives them, and the paths of its exchanging callbacks.
    pub fn of(
        config: &Config,
        facts: &FileFacts,
        relative_path: &str,
        prefixes: BTreeMap<String, String>,
        exchange_paths: Vec<String>,
    ) -> Routing {
        let route_paths = routes::file_routes(facts, &prefixes, relative_path)
            .into_iter()
            .filter(|route| route.is_named_callback(config) || exchange_paths.contains(&route.path))
            .map(|route| route.path)
            .collect();
        let mut prefixes: Vec<String> = prefixes.into_values().filter(|prefix| !prefix.is_empty()).collect();
        prefixes.extend(routes::view_route_bases(facts).into_iter().filter(|base| !base.trim_matches('/').is_empty()));
        Routing { exchange_paths, route_paths, prefixes }
    }
}

/// The provider a file's path alone decides: the config's table, then a known provider in
/// the file name, then in the nearest folder. When it is `None`, the file's routes decide
/// (and it is parsed for them when [`may_declare_routes`]).
pub fn provider_from_path(config: &Config, matcher: &ProviderMatcher, root: &Path, file: &SourceFile) -> Option<String> {
    let path = file.relative_path.as_str();
    let glob_path = config.glob_path(root, path);
    if let Some(explicit) = config.explicit_integrations.iter().find(|explicit| explicit.globs.is_match(&glob_path)) {
        return Some(explicit.name.clone());
    }
    provider_in_path(matcher, path, &file.text, false)
}

/// True when a file's path names a provider whose name is a common word that the file
/// does not back ([`provider_from_path`] gives `None`): its routes decide, and a callback
/// among them backs the word (see [`assign`]).
pub fn names_unbacked_provider(matcher: &ProviderMatcher, path: &str) -> bool {
    provider_in_path(matcher, path, "", true).is_some()
}

/// A known provider in a file's name, then in its nearest folder; one whose name is a
/// common word only when the file backs it ([`ProviderMatcher::backing`]) or `backed`.
fn provider_in_path(matcher: &ProviderMatcher, path: &str, text: &str, backed: bool) -> Option<String> {
    let mut segments: Vec<&str> = path.split('/').collect();
    let file_name = segments.pop().unwrap_or(path);
    let stem = file_name.split('.').next().unwrap_or(file_name);
    let backing = matcher.backing(&segments, text);
    let backing = |provider: &str| backed || backing(provider);
    matcher
        .provider_in_backed(stem, backing)
        .or_else(|| segments.iter().rev().find_map(|folder| matcher.provider_in_backed(folder, backing)))
}

/// The unknown providers of a tree, from every file's routing: the segment before
/// `/callback` in a route path ([`Routing::route_paths`] carry their router's prefix), and
/// the router prefix an exchange endpoint without `/callback` sits under (`/api/acme` of
/// `/api/acme/connect/complete`).
pub fn unknown_providers<'r>(matcher: &ProviderMatcher, routings: impl IntoIterator<Item = &'r Routing>) -> BTreeSet<String> {
    let mut providers = BTreeSet::new();
    for routing in routings {
        providers.extend(routing.route_paths.iter().filter_map(|path| callback_provider(matcher, path)));
        for path in routing.exchange_paths.iter().filter(|path| callback_provider(matcher, path).is_none()) {
            let under = |prefix: &&String| {
                let prefix = prefix.trim_end_matches('/');
                path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            };
            let prefix = routing.prefixes.iter().filter(under).max_by_key(|prefix| prefix.len());
            providers.extend(prefix.and_then(|prefix| provider_in_prefix(prefix, |_| true)));
        }
    }
    providers
}

/// The last meaningful segment of a router prefix that `accept` takes, as a provider name.
fn provider_in_prefix(prefix: &str, accept: impl Fn(&str) -> bool) -> Option<String> {
    prefix
        .split('/')
        .rev()
        .map(str::trim)
        .filter(|segment| names_provider(segment))
        .map(normalize_provider)
        .find(|provider| accept(provider))
}

/// The integration of one file, from the provider its path names (see
/// [`provider_from_path`]) and, when that is none, its routes. `unknown` holds the
/// tree's [`unknown_providers`]; `path` and `text` are the file's.
pub fn assign(
    matcher: &ProviderMatcher,
    path_provider: Option<String>,
    routing: Option<&Routing>,
    unknown: &BTreeSet<String>,
    (path, text): (&str, &str),
) -> Option<String> {
    if path_provider.is_some() {
        return path_provider;
    }
    let empty = Routing::default();
    let routing = routing.unwrap_or(&empty);
    for prefix in &routing.prefixes {
        let segments: Vec<&str> = prefix.split('/').collect();
        let backed = matcher.backing(&segments, text);
        if let Some(provider) = segments.iter().find_map(|segment| matcher.provider_in_backed(segment, &backed)) {
            return Some(provider);
        }
    }
    // A file holding a callback backs the common word its path names (`monday_routes.py`),
    // unless the callback's route names another provider, or every provider, and not the
    // word (`/api/monday/admin/callback` is monday's).
    let names_word = |route: &String, provider: &str| {
        route.split('/').any(|segment| names_provider(segment) && matcher.provider_in(segment).as_deref() == Some(provider))
    };
    if let Some(provider) = provider_in_path(matcher, path, text, true)
        && routing.route_paths.iter().any(|route| callback_provider(matcher, route).is_none() || names_word(route, &provider))
    {
        return Some(provider);
    }
    // A router prefix joins the file to an unknown provider only when a callback names it:
    // most prefixes name a resource (`/api/v1/channels`), not a provider.
    let inferred_from_prefix = routing.prefixes.iter().find_map(|prefix| provider_in_prefix(prefix, |provider| unknown.contains(provider)));
    // `@router.get("/acme/callback")`: the segment before `/callback` names the provider.
    // A named provider before every provider (`/auth/:provider/callback` beside
    // `/auth/github/callback`): the file's other sites are the named one's.
    let by_callback = || {
        let providers: Vec<String> = routing.route_paths.iter().filter_map(|path| callback_provider(matcher, path)).collect();
        providers.iter().find(|provider| !is_dynamic(provider)).or(providers.first()).cloned()
    };
    inferred_from_prefix.or_else(by_callback)
}

/// The integration of one callback of a file whose integration is `file_integration`: the
/// file's, unless the file's path names no provider and the callback's own route names one
/// while the route's or the file's integration is dynamic ([`is_dynamic`]) or the file has
/// none. A file of routes may hold a callback
/// for every provider beside one for a named provider (Chainlit's `server.py` has
/// `/auth/oauth/{provider_id}/callback` and `/auth/oauth/azure-ad-hybrid/callback`). A
/// named route does not override its file's provider: the segment before `/callback` is
/// often a variant (`/api/acme/admin/callback` is `acme`'s).
pub fn of_callback(
    matcher: &ProviderMatcher,
    path_provider: Option<&String>,
    file_integration: &Option<String>,
    callback_path: &str,
) -> Option<String> {
    let own = callback_provider(matcher, callback_path).filter(|_| path_provider.is_none());
    match own {
        Some(own) if is_dynamic(&own) || file_integration.as_deref().is_none_or(is_dynamic) => Some(own),
        _ => file_integration.clone(),
    }
}

/// [`provider_before_callback`], a known provider by its name (`google_calendar` for
/// `/gcal/callback`).
fn callback_provider(matcher: &ProviderMatcher, path: &str) -> Option<String> {
    let provider = provider_before_callback(path, &|word| matcher.provider_in(word).is_some())?;
    Some(if is_dynamic(&provider) { provider } else { matcher.provider_in(&provider).unwrap_or(provider) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`provider_before_callback`] knowing no provider.
    fn before_callback(path: &str) -> Option<String> {
        provider_before_callback(path, &|_| false)
    }

    #[test]
    fn files_worth_parsing_for_their_routes() {
        let python = |text: &str, mounted: bool| may_declare_routes("routes.py", text, Language::Python, mounted);
        assert!(python("router = APIRouter(prefix=\"/api/zoom\")\n", false));
        assert!(python("bp = Blueprint(\"zoom\", __name__, url_prefix=\"/zoom\")\n", false));
        // A prefix only another file's mount gives.
        assert!(!python("# the prefix comes from main.py\nrouter = make_router()\n", false));
        assert!(python("# the prefix comes from main.py\nrouter = make_router()\n", true));
        assert!(python("@router.get(\"/zoom/callback\")\nasync def cb(code: str):\n    ...\n", false));
        // A client requesting a callback URL declares no route.
        assert!(!python("async def f(client):\n    await client.post(\"/zoom/callback\")\n", false));
    }

    #[test]
    fn callback_paths() {
        assert_eq!(before_callback("/acme/callback").as_deref(), Some("acme"));
        assert_eq!(before_callback("/api/v1/integrations/acme-crm/oauth/callback").as_deref(), Some("acme_crm"));
        assert_eq!(before_callback("/{provider}/callback").as_deref(), Some("{provider}"));
        assert_eq!(before_callback("/<tenant>/callback"), None);
        assert_eq!(before_callback("/api/acme/token"), None);
        // A step of connecting names the provider only when nothing else before it can.
        assert_eq!(before_callback("/acme/install/callback").as_deref(), Some("acme"));
        assert_eq!(before_callback("/api/hooli/set-up/callback").as_deref(), Some("hooli"));
        assert_eq!(before_callback("/install/callback").as_deref(), Some("install"));
        // Neither an API version, an app, nor signing in names one.
        assert_eq!(before_callback("/api/v5/setup/callback").as_deref(), Some("setup"));
        assert_eq!(before_callback("/app/install/callback").as_deref(), Some("install"));
        assert_eq!(before_callback("/app/login/callback"), None);
    }

    #[test]
    fn a_parameter_naming_the_provider_makes_a_dynamic_integration() {
        let name = |path: &str| before_callback(path);
        let known = |path: &str| provider_before_callback(path, &|word| word == "slack");
        assert_eq!(name("/oauth/{provider}/callback").as_deref(), Some("{provider}"));
        assert_eq!(name("/auth/oauth/{provider_id}/callback").as_deref(), Some("{provider_id}"));
        assert_eq!(name("/connections/oauth/{provider}/callback").as_deref(), Some("connections/{provider}"));
        assert_eq!(name("/oauth/clients/{client_id}/callback").as_deref(), Some("clients/{client_id}"));
        // Express, Next.js and Flask spellings, camelCase and converters.
        assert_eq!(name("/auth/:provider/callback").as_deref(), Some("{provider}"));
        assert_eq!(name("/api/[providerId]/callback").as_deref(), Some("{provider_id}"));
        assert_eq!(name("/login/<string:idp>/callback").as_deref(), Some("{idp}"));
        assert_eq!(name("/oauth/{provider:path}/install/callback").as_deref(), Some("{provider}"));
        assert!(is_dynamic("{provider}") && is_dynamic("clients/{client_id}") && !is_dynamic("acme"));
        // An id within one provider: after a segment that is not its collection, or after a
        // known provider.
        assert_eq!(name("/api/slack/{connection_id}/callback").as_deref(), Some("slack"));
        assert_eq!(name("/api/integrations/hubspot/{client_id}/callback").as_deref(), Some("hubspot"));
        assert_eq!(name("/auth/google/{service}/callback").as_deref(), Some("google"));
        assert_eq!(name("/api/slack/{workspace_id}/oauth/{client_id}/callback").as_deref(), Some("slack"));
        assert_eq!(name("/connections/{connection_id}/callback").as_deref(), Some("connections/{connection_id}"));
        assert_eq!(name("/acme/{provider}/callback").as_deref(), Some("acme/{provider}"));
        assert_eq!(known("/api/slack/{provider}/callback").as_deref(), Some("slack"));
        // Versions, route groups and Express patterns name nothing.
        assert_eq!(name("/api/v1.0/{provider}/callback").as_deref(), Some("{provider}"));
        assert_eq!(name("/api/(auth)/{provider}/callback").as_deref(), Some("{provider}"));
        assert_eq!(name("/auth/:provider(google|github)/callback").as_deref(), Some("{provider}"));
        assert_eq!(name("/oauth/${provider}/callback").as_deref(), Some("{provider}"));
        assert!(!is_dynamic("acme") && !is_dynamic("acme_{x"));
        // Any other parameter is skipped, as before.
        assert_eq!(name("/acme/{tenant}/callback").as_deref(), Some("acme"));
        assert_eq!(name("/auth/:tenant/callback"), None);
        assert_eq!(name("/team/{team_id}/callback").as_deref(), Some("team"));
    }

    #[test]
    fn a_dynamic_callback_leaves_its_files_integration() {
        let config = Config::defaults().expect("defaults");
        let matcher = ProviderMatcher::new(&config);
        let of = |path_provider: Option<&str>, file: Option<&str>, path: &str| {
            of_callback(&matcher, path_provider.map(str::to_string).as_ref(), &file.map(str::to_string), path)
        };
        // Chainlit's `server.py`: grouped by its first callback, `azure_ad_hybrid`.
        let file = Some("azure_ad_hybrid");
        assert_eq!(of(None, file, "/auth/oauth/{provider_id}/callback").as_deref(), Some("{provider_id}"));
        assert_eq!(of(None, file, "/auth/oauth/azure-ad-hybrid/callback").as_deref(), Some("azure_ad_hybrid"));
        // A named callback leaves a dynamic file integration, and no other.
        assert_eq!(of(None, Some("clients/{client_id}"), "/oauth/gcal/callback").as_deref(), Some("google_calendar"));
        assert_eq!(of(None, Some("acme"), "/api/acme/admin/callback").as_deref(), Some("acme"));
        // The file's path decides for all of its callbacks.
        assert_eq!(of(Some("zoom"), Some("zoom"), "/oauth/{provider}/callback").as_deref(), Some("zoom"));
        assert_eq!(of(None, file, "/auth/oauth/done").as_deref(), Some("azure_ad_hybrid"));
    }

    #[test]
    fn only_callbacks_make_unknown_providers_and_prefixes_join_them() {
        let config = Config::defaults().expect("defaults");
        let matcher = ProviderMatcher::new(&config);
        let routing = |prefixes: &[&str], paths: &[&str], exchanges: &[&str]| Routing {
            prefixes: prefixes.iter().map(|prefix| prefix.to_string()).collect(),
            route_paths: paths.iter().map(|path| path.to_string()).collect(),
            exchange_paths: exchanges.iter().map(|path| path.to_string()).collect(),
        };
        let names = |routings: &[&Routing]| unknown_providers(&matcher, routings.iter().copied()).into_iter().collect::<Vec<_>>();
        let callback = routing(&["/api/integrations"], &["/api/integrations/acme/callback"], &["/api/integrations/acme/callback"]);
        let exchange_path = "/api/globex/oauth/connect/complete";
        let exchange = routing(&["/api/globex/oauth"], &[exchange_path], &[exchange_path]);
        let resource = routing(&["/api/v1/channels"], &["/api/v1/channels/list"], &[]);
        assert_eq!(names(&[&callback, &exchange, &resource]), vec!["acme", "globex"]);
        // A file holding no callback names no provider by its prefix alone.
        assert!(names(&[&routing(&["/api/globex/oauth"], &[exchange_path], &[])]).is_empty());
        // The prefix the exchange endpoint sits under, not another router's of the file; a
        // callback path naming its provider adds no prefix (`/api/sso/acme/callback`).
        let initech = "/api/initech/connect/complete";
        assert_eq!(names(&[&routing(&["/api/users", "/api/initech"], &["/api/users/me", initech], &[initech])]), vec!["initech"]);
        let sso = "/api/sso/acme/callback";
        assert_eq!(names(&[&routing(&["/api/sso"], &[sso], &[sso])]), vec!["acme"]);
        let unknown: BTreeSet<String> = ["acme".to_string(), "globex".to_string()].into();
        let assign = |routing: &Routing| assign(&matcher, None, Some(routing), &unknown, ("routes.py", ""));
        assert_eq!(assign(&callback).as_deref(), Some("acme"));
        assert_eq!(assign(&routing(&["/api/globex/v2"], &["/api/globex/v2/items"], &[])).as_deref(), Some("globex"));
        assert_eq!(assign(&resource), None);
        // A named callback's provider before every provider's, whatever their order.
        let both = routing(&["/auth"], &["/auth/:provider/callback", "/auth/github/callback"], &[]);
        assert_eq!(assign(&both).as_deref(), Some("github"));
        // A known provider needs no callback.
        assert_eq!(assign(&routing(&["/api/slack"], &["/api/slack/events"], &[])).as_deref(), Some("slack"));
    }

    #[test]
    fn an_exchanging_callback_names_its_provider_whatever_its_handler_is_named() {
        let config = Config::defaults().expect("defaults");
        let text = "from fastapi import APIRouter\nrouter = APIRouter()\n\
                    @router.post(\"/acme/callback\")\nasync def create_acme_connection(code: str):\n    ...\n\n\
                    @router.post(\"/team/{team_id}/callback\")\ndef add_team_callbacks(data: dict):\n    ...\n";
        let facts = crate::lang::python::extract(text, crate::lang::ExtractOptions::default()).expect("parses");
        let paths = |exchange_paths: &[&str]| {
            let exchange_paths = exchange_paths.iter().map(|path| path.to_string()).collect();
            Routing::of(&config, &facts, "routes.py", BTreeMap::new(), exchange_paths).route_paths
        };
        // Managing callback settings off GET: named for none, unless it exchanges.
        assert!(paths(&[]).is_empty());
        assert_eq!(paths(&["/acme/callback"]), vec!["/acme/callback"]);
        assert_eq!(
            unknown_providers(
                &ProviderMatcher::new(&config),
                [&Routing::of(&config, &facts, "routes.py", BTreeMap::new(), vec!["/acme/callback".into()])]
            ),
            ["acme".to_string()].into()
        );
    }

    #[test]
    fn a_common_word_names_a_provider_only_when_the_file_backs_it() {
        let config = Config::defaults().expect("defaults");
        let matcher = ProviderMatcher::new(&config);
        let from_path = |path: &str, text: &str| {
            let file = SourceFile::new(path.into(), path.into(), Language::Python, text.into());
            provider_from_path(&config, &matcher, Path::new("."), &file)
        };
        // Teams of users (Airflow, LiteLLM, Langflow) are no provider.
        assert_eq!(
            from_path(
                "airflow/api_fastapi/core_api/routes/ui/teams.py",
                "from airflow.models import Team
"
            ),
            None
        );
        assert_eq!(
            from_path(
                "litellm/proxy/management/teams/access.py",
                "def can_edit(team): ...
"
            ),
            None
        );
        assert_eq!(from_path("langflow/api/v1/authz_teams.py", ""), None);
        // Evidence in the text, in any case; a provider folder on the way; an alias.
        assert_eq!(
            from_path(
                "chainlit/teams/app.py",
                "from botbuilder.core import TurnContext
"
            )
            .as_deref(),
            Some("teams")
        );
        assert_eq!(
            from_path(
                "bots/teams.py",
                "# Microsoft Graph
"
            )
            .as_deref(),
            Some("teams")
        );
        assert_eq!(from_path("backend/integrations/teams/routes.py", "").as_deref(), Some("teams"));
        assert_eq!(from_path("alerting/ms_teams.py", "").as_deref(), Some("teams"));
        // Other providers need nothing.
        assert_eq!(from_path("services/zoom_service.py", "").as_deref(), Some("zoom"));
        assert!(names_unbacked_provider(&matcher, "api/teams.py") && !names_unbacked_provider(&matcher, "api/users.py"));
        // A router prefix is backed the same way; a callback among the file's routes backs
        // the word its path names.
        let unknown = BTreeSet::new();
        let routing = |prefix: &str, paths: &[&str]| Routing {
            prefixes: vec![prefix.to_string()],
            route_paths: paths.iter().map(|path| path.to_string()).collect(),
            exchange_paths: Vec::new(),
        };
        let assign = |routing: &Routing, path: &str, text: &str| assign(&matcher, None, Some(routing), &unknown, (path, text));
        assert_eq!(assign(&routing("/api/teams", &[]), "routes/ui/teams.py", ""), None);
        assert_eq!(assign(&routing("/api/teams", &[]), "routes/bot.py", "MicrosoftAppId").as_deref(), Some("teams"));
        assert_eq!(assign(&routing("/api/connectors/teams", &[]), "routes/bot.py", "").as_deref(), Some("teams"));
        assert_eq!(assign(&routing("/api", &["/api/connect/complete"]), "api/teams.py", "").as_deref(), Some("teams"));
        assert!(contains_ignoring_ascii_case(b"uses Box.COM files", b"box.com"));
        assert!(contains_ignoring_ascii_case(b"https://api.box.com", b"box.com"));
        assert!(!contains_ignoring_ascii_case(b"boxcom", b"box.com"));
        assert!(!contains_ignoring_ascii_case(b"https://www.dropbox.com", b"box.com"));
        // React's context providers are no provider context.
        assert_eq!(from_path("web/src/providers/TeamsProvider.tsx", "export const TeamsProvider = () => null;\n"), None);
        // A callback for every provider, or for another one, backs no common word.
        assert_eq!(assign(&routing("/api", &["/oauth/{provider}/callback"]), "routes/teams.py", "").as_deref(), Some("{provider}"));
        assert_eq!(assign(&routing("/api", &["/api/acme/callback"]), "routes/teams.py", "").as_deref(), Some("acme"));
        assert_eq!(assign(&routing("/api", &["/api/teams/admin/callback"]), "routes/teams.py", "").as_deref(), Some("teams"));
    }

    #[test]
    fn providers_in_names() {
        let config = Config::defaults().expect("defaults");
        let matcher = ProviderMatcher::new(&config);
        assert_eq!(matcher.provider_in("auth_handler_zoom").as_deref(), Some("zoom"));
        assert_eq!(matcher.provider_in("google_calendar_service").as_deref(), Some("google_calendar"));
        assert_eq!(matcher.provider_in("googlecalendar").as_deref(), Some("google_calendar"));
        assert_eq!(matcher.provider_in("gcal_routes").as_deref(), Some("google_calendar"));
        assert_eq!(matcher.provider_in("intercom-oauth-router").as_deref(), Some("intercom"));
        assert_eq!(matcher.provider_in("integration_oauth_routes"), None);
        assert_eq!(matcher.provider_in("HubSpotOAuthRouter").as_deref(), Some("hubspot"));
        assert_eq!(matcher.provider_in("backend_services"), None);
    }
}
