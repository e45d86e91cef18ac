//! ## state-not-validated (OA102)
//!
//! ### What it does
//! Finds OAuth callbacks that accept the authorization response without checking `state`
//! against a value the server stored when it started the flow.
//!
//! ### Why is this bad?
//! Without that check an attacker can make a victim's browser complete the attacker's own
//! authorization (login CSRF): the victim's account gets connected to the attacker's
//! provider account, and data flows to it. Checking only that `state` is present proves
//! nothing, and a raw user id as `state` is guessable.
//!
//! `state` is validated when it is passed to a configured validator
//! (`[callbacks] state_validators`, such as `state_store.consume_state(state, ...)` or
//! `secrets.compare_digest`) or compared with a value that is not a literal or the user's
//! id. Exchanges whose input does not come back through a redirect (Plaid's
//! `public_token`, `[callbacks] stateless_inputs`) carry no `state` and are not checked.
//! A callback forwarding its code to a route of the tree (a Next.js route calling the
//! backend's) is validated when that route validates `state`.
//!
//! ### Example
//! ```python
//! async def zoom_callback(code: str, state: str | None = None):
//!     if not state:
//!         raise HTTPException(400, "Missing state")
//! ```
//!
//! ### Use instead
//! ```python
//! async def zoom_callback(code: str, state: str, tenant: Tenant = Depends(get_current_tenant)):
//!     if not await state_store.consume_state(state, "zoom", tenant.id):
//!         raise HTTPException(400, "Invalid OAuth state")
//! ```
//!
//! ### How to suppress
//! `# oauth-audit: ignore[state-not-validated] -- reason` on the handler's `def` line or the
//! line above.
//!
//! ### Fix safety
//! No automatic fix: the state store belongs to the authorize route as well.

use crate::callbacks::{CallbackAnalysis, StateCheck};
use crate::index::Project;
use crate::rules::{Confidence, Finding, RuleInfo, Severity};

pub static RULE: RuleInfo = RuleInfo {
    code: "OA102",
    slug: "state-not-validated",
    step: None,
    severity: Severity::Warning,
    fixable: false,
    title: "OAuth callback does not check `state` against a stored value",
    source: include_str!("state_not_validated.rs"),
};

pub fn check(_project: &Project, callback: &CallbackAnalysis) -> Option<Finding> {
    if !callback.kind.exchanges() {
        return None;
    }
    let head = format!("OAuth callback `{}` ({})", callback.function, callback.route);
    let (message, confidence) = match callback.state {
        StateCheck::Validated | StateCheck::NotApplicable => return None,
        StateCheck::Absent => {
            (format!("{head} reads no `state`: nothing ties the authorization to the session that started it"), Confidence::High)
        }
        StateCheck::PresenceOnly(line) => (
            format!("{head} only checks that `state` is present (line {}), not that it matches a stored value", line + 1),
            Confidence::High,
        ),
        StateCheck::UserId(line) => (
            format!("{head} compares `state` with the user's id (line {}): a guessable value is not a CSRF check", line + 1),
            Confidence::High,
        ),
        StateCheck::Unchecked => (format!("{head} accepts `state` but never checks it against a stored value"), Confidence::Medium),
    };
    Some(Finding::on_callback(&RULE, callback, None, message, confidence, Vec::new()))
}
