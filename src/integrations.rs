//! Grouping files into integrations (providers).
//!
//! A file belongs to, in order of precedence: the provider the config's `[integrations]`
//! table assigns it; a known provider named in its file name (`notion_routes.py`,
//! `auth_handler_zoom.py`); a known provider in its router prefix
//! (`APIRouter(prefix="/api/slack")`); a known provider in its nearest folder
//! (`connectors/intercom/client.py`); the last meaningful segment of its router prefix
//! (an unknown provider); or none.

use crate::config::{Config, normalize_provider};
use crate::facts::{ExprKind, FileFacts, StmtKind};
use crate::index::Project;

/// Router prefix segments that name no provider.
const GENERIC_SEGMENTS: &[&str] = &[
    "api",
    "v1",
    "v2",
    "v3",
    "v4",
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
];

/// Router constructors and the keyword holding their prefix.
const ROUTERS: &[(&str, &str)] = &[("APIRouter", "prefix"), ("Blueprint", "url_prefix")];

pub struct ProviderMatcher {
    /// (provider, a spelling with the words joined), longest spellings first.
    spellings: Vec<(String, String)>,
}

impl ProviderMatcher {
    pub fn new(config: &Config) -> ProviderMatcher {
        let mut spellings = Vec::new();
        for provider in &config.known_providers {
            spellings.push((provider.clone(), provider.replace('_', "")));
            for alias in config.provider_aliases.get(provider).into_iter().flatten() {
                spellings.push((provider.clone(), alias.replace('_', "")));
            }
        }
        spellings.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
        ProviderMatcher { spellings }
    }

    /// The provider named in one path or prefix segment: a run of whole words whose
    /// concatenation is a spelling (`google_calendar`, `GoogleCalendar`, `hub-spot`).
    pub fn provider_in(&self, segment: &str) -> Option<String> {
        let words = words_of(segment);
        for (provider, spelling) in &self.spellings {
            for start in 0..words.len() {
                let mut joined = String::new();
                for word in &words[start..] {
                    joined.push_str(word);
                    if joined.len() >= spelling.len() {
                        break;
                    }
                }
                if joined == *spelling {
                    return Some(provider.clone());
                }
            }
        }
        None
    }
}

/// Lower-case words of a name: split on punctuation and camelCase boundaries.
pub fn words_of(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Router prefixes declared in a file (`router = APIRouter(prefix="/api/zoom")`).
pub fn router_prefixes(facts: &FileFacts) -> Vec<String> {
    let mut prefixes = Vec::new();
    for function in &facts.functions {
        for stmt in &function.body.statements {
            let (StmtKind::Assign { value, .. } | StmtKind::Expr(value)) = &stmt.kind else { continue };
            let ExprKind::Call(call) = &value.kind else { continue };
            let Some(callee) = call.callee.dotted() else { continue };
            let constructor = callee.rsplit('.').next().unwrap_or(&callee);
            let Some((_, keyword)) = ROUTERS.iter().find(|(name, _)| *name == constructor) else { continue };
            for (name, argument) in &call.keywords {
                if name == keyword
                    && let ExprKind::String(prefix) = &argument.kind
                {
                    prefixes.push(prefix.clone());
                }
            }
        }
    }
    prefixes
}

fn may_declare_router(text: &str) -> bool {
    ROUTERS.iter().any(|(name, _)| text.contains(name))
}

/// The integration of every file of the project, by file index.
pub fn assign(project: &Project, config: &Config) -> Vec<Option<String>> {
    let matcher = ProviderMatcher::new(config);
    (0..project.files.len()).map(|index| assign_file(project, config, &matcher, index)).collect()
}

fn assign_file(project: &Project, config: &Config, matcher: &ProviderMatcher, index: usize) -> Option<String> {
    let file = project.files.get(index)?;
    let path = file.relative_path.as_str();
    if let Some(explicit) = config.explicit_integrations.iter().find(|explicit| explicit.globs.is_match(path)) {
        return Some(explicit.name.clone());
    }
    let mut segments: Vec<&str> = path.split('/').collect();
    let file_name = segments.pop().unwrap_or(path);
    let stem = file_name.split('.').next().unwrap_or(file_name);
    if let Some(provider) = matcher.provider_in(stem) {
        return Some(provider);
    }
    let prefixes = if may_declare_router(&file.text) { project.facts(index).map(router_prefixes).unwrap_or_default() } else { Vec::new() };
    for prefix in &prefixes {
        if let Some(provider) = prefix.split('/').find_map(|segment| matcher.provider_in(segment)) {
            return Some(provider);
        }
    }
    for folder in segments.iter().rev() {
        if let Some(provider) = matcher.provider_in(folder) {
            return Some(provider);
        }
    }
    prefixes.iter().find_map(|prefix| {
        prefix
            .split('/')
            .rev()
            .map(|segment| segment.trim())
            .find(|segment| {
                !segment.is_empty() && !segment.starts_with('{') && !GENERIC_SEGMENTS.contains(&segment.to_lowercase().as_str())
            })
            .map(normalize_provider)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(words_of("HubSpotOAuthRouter"), vec!["hub", "spot", "oauth", "router"]);
        assert_eq!(words_of("google-calendar_service"), vec!["google", "calendar", "service"]);
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
