//! ## dead-delegation (OA103)
//!
//! ### What it does
//! Finds OAuth callbacks that forward the authorization code to another route of the
//! scanned tree (a Next.js route or an edge function calling the backend with
//! `fetch(`${BACKEND_URL}/api/notion/callback`, { method: 'POST', body })`) when no route
//! of the tree answers that method and path. The message names the closest routes that do
//! exist.
//!
//! ### Why is this bad?
//! The forwarding request gets a 404 or 405: the code is spent, the tokens are never
//! stored, and the user sees the integration as connected until the first sync fails.
//! Typical causes are a wrong method (`POST` to a `GET` route), swapped or renamed path
//! segments, and a router mounted under another prefix.
//!
//! A request is a delegation when its URL is a path of this service (`/api/...`) or a path
//! after an interpolated base (`${BACKEND_URL}/api/...`). Routes are matched by method
//! and path across languages (FastAPI, Flask, Express, NestJS, Next.js, axum, ...), mount
//! prefixes applied; path parameters (`{id}`, `:id`, `[id]`) match any segment. A
//! delegation that reaches a route persists and syncs when that route does. Paths that
//! count (`[callbacks] delegation_prefixes`, default `/api/` and `/functions/v1/`) are
//! configurable; a path no route of the tree comes close to belongs to a service outside
//! the scan and is not reported.
//!
//! ### Example
//! ```ts
//! // The backend declares `@router.get("/callback")` under `/api/asana`.
//! await fetch(`${BACKEND_URL}/api/asana/oauth/callback`, { method: 'POST', body });
//! ```
//!
//! ### Use instead
//! ```ts
//! await fetch(`${BACKEND_URL}/api/asana/callback?code=${code}&state=${state}`);
//! ```
//!
//! ### How to suppress
//! `// oauth-audit: ignore[dead-delegation] -- reason` on the line or the line above.
//!
//! ### Fix safety
//! No automatic fix: which side is wrong, the caller or the route, is for a person to say.

use crate::callbacks::CallbackAnalysis;
use crate::index::Project;
use crate::rules::{Confidence, Finding, RuleInfo, Severity};

pub static RULE: RuleInfo = RuleInfo {
    code: "OA103",
    slug: "dead-delegation",
    step: None,
    severity: Severity::Error,
    fixable: false,
    title: "OAuth callback forwards the code to a route that does not exist in the scanned tree",
    source: include_str!("dead_delegation.rs"),
};

pub fn check(_project: &Project, callback: &CallbackAnalysis) -> Option<Finding> {
    if !callback.kind.exchanges() {
        return None;
    }
    let delegation = callback.dead_delegation()?;
    let mut message = format!(
        "OAuth callback `{}` ({}) forwards the code to `{} {}`, which no route of the scanned tree answers",
        callback.function, callback.route, delegation.method, delegation.path
    );
    if !delegation.closest.is_empty() {
        message.push_str("; closest routes: ");
        message.push_str(&delegation.closest.join(", "));
    }
    Some(Finding {
        rule: &RULE,
        file_index: delegation.file_index,
        span: delegation.span,
        function: Some(callback.function.clone()),
        message,
        confidence: Some(Confidence::High),
        fixable: false,
        related: Vec::new(),
    })
}
