//! ## token-in-response (OA101)
//!
//! ### What it does
//! Finds OAuth callbacks that put the provider's access or refresh token into their HTTP
//! response: a token key in the returned JSON, the token response itself or spread into
//! the body (`{**token_data}`), or a token in the redirect URL.
//!
//! ### Why is this bad?
//! Tokens in a response end up in browser history, frontend state, proxy and analytics
//! logs. Whoever reads them can act as the user at the provider. The server stores the
//! tokens; the browser needs only to know that the connection worked.
//!
//! A callback that strips the tokens before returning (`tokens.pop("access_token")`,
//! `del row["refresh_token"]`) does not leak. Token keys are configurable
//! (`[callbacks] token_keys`).
//!
//! ### Example
//! ```python
//! return {"connected": True, **token_data}
//! ```
//!
//! ### Use instead
//! ```python
//! return {"connected": True, "workspace": token_data.get("workspace_name")}
//! ```
//!
//! ### How to suppress
//! `# oauth-audit: ignore[token-in-response] -- reason` on the line or the line above.
//!
//! ### Fix safety
//! No automatic fix: what the frontend needs instead is a product decision.

use crate::callbacks::CallbackAnalysis;
use crate::index::Project;
use crate::rules::{Confidence, Finding, RuleInfo, Severity};

pub static RULE: RuleInfo = RuleInfo {
    code: "OA101",
    slug: "token-in-response",
    step: None,
    severity: Severity::Error,
    fixable: false,
    title: "OAuth callback returns tokens in its HTTP response",
    source: include_str!("token_in_response.rs"),
};

pub fn check(_project: &Project, callback: &CallbackAnalysis) -> Option<Finding> {
    if !callback.kind.exchanges() {
        return None;
    }
    let leak = callback.leak.as_ref()?;
    Some(Finding::on_callback(
        &RULE,
        callback,
        Some(leak.span),
        format!(
            "OAuth callback `{}` {}: whoever sees the response (browser history, logs, the frontend) can act as the user at the provider",
            callback.function, leak.description
        ),
        Confidence::High,
        Vec::new(),
    ))
}
