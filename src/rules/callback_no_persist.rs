//! ## callback-no-persist (OA002)
//!
//! ### What it does
//! Finds OAuth callbacks that exchange the authorization code (or a token to exchange,
//! such as Plaid's `public_token`) for tokens and never store them server-side.
//!
//! ### Why is this bad?
//! Tokens that live only in the request, or in an attribute of a process-wide object
//! (`self.access_token = ...`, even under a `# store tokens` comment), are lost on the
//! next restart or deploy. The user has to reconnect, and every background job that needs
//! the token fails until they do.
//!
//! A callback is a route handler whose code input reaches a token exchange (an outgoing
//! request or a library exchange call), in the handler or in what it calls. Persistence
//! counts wherever the calls lead, in this file or another file of the scanned tree, up to
//! `--max-depth` calls deep (default 3): a configured sink (`token_storage.save_token`,
//! `[persistence] sinks`), or session writes (`db.add`, `db.merge`, ...) committed on the
//! same session or inside a committing context manager (`with get_db_session() as db`).
//! Calls are resolved through imports, module functions, `self` methods, methods of
//! classes the handler instantiates and module-level singletons. A route on a `callback`
//! path that exchanges nothing is a stub, reported in `callbacks[]` with `kind: "stub"`,
//! not here; so is a sign-in (`kind: "sign_in"`: a route path with a word of `[callbacks]
//! sign_in_words`, or a call of `sign_in_calls` or named with one of those words on the
//! way), which uses the tokens once to learn who the user is. Importing a token store and
//! never calling it is not persistence. A callback
//! forwarding the code to a route of the tree persists when that route does; one whose
//! forwarding request reaches no route is reported as `dead-delegation` (OA103) only.
//!
//! ### Example
//! ```python
//! @router.get("/callback")
//! async def zoom_callback(code: str, state: str):
//!     await zoom_auth_handler.exchange_code(code)   # sets self.access_token = ...
//!     return RedirectResponse("/integrations/zoom?connected=1")
//! ```
//!
//! ### Use instead
//! ```python
//! @router.get("/callback")
//! async def zoom_callback(code: str, state: str, current_user: User = Depends(get_current_user)):
//!     token_data = await zoom_auth_handler.exchange_code(code)
//!     token_storage.save_token(tenant_id=current_user.tenant_id, provider="zoom", token_data=token_data)
//!     ...
//! ```
//!
//! ### How to suppress
//! `# oauth-audit: ignore[callback-no-persist] -- reason` on the handler's `def` line or
//! the line above.
//!
//! ### Fix safety
//! `oauth-audit fix` inserts the persistence block (`rules/templates/python/persist.tmpl`)
//! and the sync trigger after the exchange, outside a `try` whose handlers all leave, and
//! adds the `db`, `current_tenant` and `current_user` dependencies the handler lacks.
//! Skipped: a sync handler, an exchange whose result is returned or nested, a handler that
//! already uses a name the block assigns, a handler that is not a FastAPI route.
//! TypeScript findings are `fixable: false`: where tokens belong (Prisma, Supabase, a
//! secrets store) differs per code base, so there is no template.

use crate::callbacks::{CallbackAnalysis, Kind};
use crate::index::Project;
use crate::rules::{Confidence, Finding, Related, RuleInfo, Severity, chain_locations, hop_location};

pub static RULE: RuleInfo = RuleInfo {
    code: "OA002",
    slug: "callback-no-persist",
    step: Some("token_persistence"),
    severity: Severity::Error,
    fixable: true,
    title: "OAuth callback exchanges the code but never stores the tokens server-side",
    source: include_str!("callback_no_persist.rs"),
};

pub fn check(project: &Project, callback: &CallbackAnalysis) -> Option<Finding> {
    // A dead delegation is OA103 only.
    if callback.kind != Kind::Callback || callback.persists() || callback.dead_delegation().is_some() {
        return None;
    }
    let exchange = callback.exchange.as_deref().unwrap_or_default();
    let mut message = format!("OAuth callback `{}` ({}) exchanges the code for tokens", callback.function, callback.route);
    if let Some(hop) = exchange.last()
        && exchange.len() > 1
    {
        message.push_str(&format!(" (in `{}`, {})", hop.function, hop_location(project, hop)));
    }
    message.push_str(" but never stores them server-side: they are lost on restart");
    let mut related = chain_locations(exchange, "the token exchange");
    if let Some(memory) = callback.memory_only.as_ref().and_then(|chain| chain.last()) {
        message.push_str(&format!(
            "; the assignment at {} keeps them in process memory only, which is not persistence",
            hop_location(project, memory)
        ));
        related.push(Related {
            file_index: memory.file_index,
            line: memory.line,
            message: format!("tokens kept in memory only in `{}`", memory.function),
        });
    }
    Some(Finding::on_callback(&RULE, callback, None, message, Confidence::High, related))
}
