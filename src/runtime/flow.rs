//! The callback flow: exchange → guard → parse → persist → commit → enqueue sync.
//!
//! The order is the point. The provider's answer is checked for an error page before it is
//! parsed (step 1), so an HTML page becomes a typed error carrying the page's title instead
//! of a decode crash. The tokens are stored and committed (step 2) before anything else can
//! fail, and a failure before the commit leaves nothing behind. The historical sync is
//! queued only after the commit (step 3): if queueing fails, the connection is kept and the
//! failure is reported beside it, since a retry of the sync is cheap and a lost token is not.

use std::time::Duration;

use serde_json::Value;
use thiserror::Error;

use super::html::check_html_response;
use super::store::{Database, StoreError, StoredToken, TokenSet, unix_now};
use super::sync::{DEFAULT_HISTORY_MONTHS, Enqueued};

/// How long a token exchange may take, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to exchange a code for one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// The provider's name as stored (`slack`, `notion`).
    pub name: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
}

/// Why a callback did not connect. Every variant names the provider; none left a token.
#[derive(Debug, Error)]
pub enum CallbackError {
    /// The `state` was not issued for this provider, was used already, or expired.
    #[error("{provider}: the OAuth state is unknown, used or expired")]
    InvalidState { provider: String },
    #[error("{provider}: the token request timed out")]
    Timeout { provider: String },
    #[error("{provider}: the token request failed: {message}")]
    Transport { provider: String, message: String },
    /// The provider answered with an HTML (or empty) page; `message` is its title.
    #[error("{provider}: {message}")]
    ErrorPage { provider: String, status: u16, message: String },
    #[error("{provider}: the token response (HTTP {status}) is not valid JSON: {message}")]
    InvalidJson { provider: String, status: u16, message: String },
    /// The provider answered with an OAuth error (`{"error": "invalid_grant", ...}`).
    #[error("{provider}: the provider refused the code (HTTP {status}): {error}{}", description.as_deref().map(|text| format!(" ({text})")).unwrap_or_default())]
    Refused { provider: String, status: u16, error: String, description: Option<String> },
    #[error("{provider}: the token response (HTTP {status}) has no access_token")]
    MissingAccessToken { provider: String, status: u16 },
    #[error("{provider}: the tokens could not be stored: {source}")]
    Store { provider: String, source: StoreError },
}

/// What happened to the historical sync of a new connection.
#[derive(Debug)]
pub enum SyncOutcome {
    Queued(Enqueued),
    /// Queueing failed after the tokens were committed: the connection stands, the sync is
    /// to be retried.
    Failed(StoreError),
}

/// A completed callback: the stored connection and its sync.
#[derive(Debug)]
pub struct Connected {
    pub token: StoredToken,
    pub sync: SyncOutcome,
}

/// Runs OAuth callbacks against a database.
///
/// ```
/// use std::io::Read;
/// use oauth_audit::runtime::flow::{CallbackFlow, ProviderConfig, SyncOutcome};
/// use oauth_audit::runtime::store::Database;
///
/// // A provider on loopback that answers one token request.
/// let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
/// let port = server.server_addr().to_ip().unwrap().port();
/// std::thread::spawn(move || {
///     let mut request = server.recv().unwrap();
///     let mut form = String::new();
///     request.as_reader().read_to_string(&mut form).unwrap();
///     assert!(form.contains("code=abc"));
///     let json = tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
///     let body = r#"{"access_token":"xoxb-1","refresh_token":"r-1","expires_in":3600}"#;
///     request.respond(tiny_http::Response::from_string(body).with_header(json)).unwrap();
/// });
///
/// let provider = ProviderConfig {
///     name: "slack".into(),
///     token_url: format!("http://127.0.0.1:{port}/oauth/token"),
///     client_id: "id".into(),
///     client_secret: "secret".into(),
///     redirect_uri: "https://app.example/callback".into(),
/// };
/// let mut database = Database::open_in_memory()?;
/// // Issued when the user was sent to the provider, and echoed back to the callback.
/// let state = database.create_state("acme", "slack", oauth_audit::runtime::store::unix_now())?;
/// let connected = CallbackFlow::new(&mut database).complete(&provider, "abc", &state)?;
/// assert_eq!(connected.token.access_token, "xoxb-1");
/// assert!(matches!(connected.sync, SyncOutcome::Queued(_)));
/// assert_eq!(database.sync_jobs("acme", "slack")?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CallbackFlow<'a> {
    database: &'a mut Database,
    agent: ureq::Agent,
    history_months: u32,
}

impl<'a> CallbackFlow<'a> {
    /// A flow with the default timeout and a 3-month historical sync.
    pub fn new(database: &'a mut Database) -> CallbackFlow<'a> {
        CallbackFlow::with_options(database, DEFAULT_TIMEOUT, DEFAULT_HISTORY_MONTHS)
    }

    pub fn with_options(database: &'a mut Database, timeout: Duration, history_months: u32) -> CallbackFlow<'a> {
        let agent = ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
        CallbackFlow { database, agent, history_months }
    }

    /// Checks `state`, exchanges `code`, stores the tokens for the tenant the state was
    /// issued to, and queues the historical sync.
    pub fn complete(&mut self, provider: &ProviderConfig, code: &str, state: &str) -> Result<Connected, CallbackError> {
        let store_error = |source| CallbackError::Store { provider: provider.name.clone(), source };
        let pending = self.database.consume_state(state, unix_now()).map_err(store_error)?;
        let Some(pending) = pending.filter(|pending| pending.provider == provider.name) else {
            return Err(CallbackError::InvalidState { provider: provider.name.clone() });
        };
        let tenant = pending.tenant.as_str();
        let tokens = self.exchange(provider, code)?;
        let now = unix_now();
        let token = self
            .database
            .save_tokens(tenant, &provider.name, &tokens, now)
            .map_err(|source| CallbackError::Store { provider: provider.name.clone(), source })?;
        let sync = match self.database.enqueue_historical_sync(tenant, &provider.name, self.history_months, now) {
            Ok(enqueued) => SyncOutcome::Queued(enqueued),
            Err(error) => SyncOutcome::Failed(error),
        };
        Ok(Connected { token, sync })
    }

    /// Steps before anything is stored: the request, the error-page guard, the parse.
    fn exchange(&self, provider: &ProviderConfig, code: &str) -> Result<TokenSet, CallbackError> {
        let name = || provider.name.clone();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", provider.redirect_uri.as_str()),
            ("client_id", provider.client_id.as_str()),
            ("client_secret", provider.client_secret.as_str()),
        ];
        let transport = |error: ureq::Error| match error {
            ureq::Error::Timeout(_) => CallbackError::Timeout { provider: name() },
            other => CallbackError::Transport { provider: name(), message: other.to_string() },
        };
        let mut response = self.agent.post(&provider.token_url).header("Accept", "application/json").send_form(form).map_err(transport)?;
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").and_then(|value| value.to_str().ok()).map(str::to_string);
        let body = response.body_mut().read_to_vec().map_err(transport)?;

        let check = check_html_response(status, content_type.as_deref(), &body);
        if check.is_error_page {
            let message = check.message.unwrap_or_else(|| format!("Provider returned an error page (HTTP {status})"));
            return Err(CallbackError::ErrorPage { provider: name(), status, message });
        }
        let value: Value = serde_json::from_slice(&body).map_err(|error| CallbackError::InvalidJson {
            provider: name(),
            status,
            message: error.to_string(),
        })?;
        token_set(&value, &provider.name, status)
    }
}

/// The tokens in a token endpoint's JSON, or why there are none. Slack-style
/// `{"ok": false, "error": ...}` answers come with status 200, so the `error` field decides,
/// not the status.
fn token_set(value: &Value, provider: &str, status: u16) -> Result<TokenSet, CallbackError> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    let refused =
        |error: String, description: Option<String>| CallbackError::Refused { provider: provider.to_string(), status, error, description };
    if let Some(error) = text("error").or_else(|| value.get("error").filter(|error| !error.is_null()).map(Value::to_string)) {
        return Err(refused(error, text("error_description").or_else(|| text("message"))));
    }
    let Some(access_token) = text("access_token").filter(|token| !token.is_empty()) else {
        return Err(if status >= 400 {
            refused(format!("HTTP {status}"), text("message"))
        } else {
            CallbackError::MissingAccessToken { provider: provider.to_string(), status }
        });
    };
    // Some providers send `expires_in` as a string.
    let expires_in =
        value.get("expires_in").and_then(|expires| expires.as_u64().or_else(|| expires.as_str().and_then(|text| text.trim().parse().ok())));
    Ok(TokenSet { access_token, refresh_token: text("refresh_token"), token_type: text("token_type"), scope: text("scope"), expires_in })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn token_fields_are_read_with_string_expiry() {
        let Ok(tokens) = token_set(&json!({"access_token": "a", "expires_in": "3600", "scope": "read"}), "p", 200) else {
            panic!("no tokens")
        };
        assert_eq!((tokens.expires_in, tokens.scope.as_deref()), (Some(3600), Some("read")));
    }

    #[test]
    fn an_error_field_is_a_refusal_even_with_status_200() {
        let refused = token_set(&json!({"ok": false, "error": "invalid_code"}), "p", 200);
        assert!(matches!(refused, Err(CallbackError::Refused { ref error, .. }) if error == "invalid_code"));
    }

    #[test]
    fn no_access_token_is_an_error() {
        assert!(matches!(token_set(&json!({"token_type": "bearer"}), "p", 200), Err(CallbackError::MissingAccessToken { .. })));
        assert!(matches!(token_set(&json!({"message": "bad"}), "p", 401), Err(CallbackError::Refused { .. })));
    }
}
