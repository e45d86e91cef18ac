//! ## callback-no-sync (OA003)
//!
//! ### What it does
//! Finds OAuth callbacks that store the tokens but start no historical (backfill) sync
//! after storing them on the success path.
//!
//! ### Why is this bad?
//! Without a backfill the new connection shows no past data: the user connects, sees an
//! empty dashboard, and only new activity appears, after the next scheduled sync if any.
//!
//! Sync is a call to a configured trigger (`[sync] triggers`, default
//! `trigger_historical_sync_on_connection`), found with the same resolution as
//! persistence (see `callback-no-persist`). Names are matched exactly, because names lie:
//! `sync_slack_installation` registers a bot and `refresh_token_workflow` refreshes a token.
//! The trigger must run after the tokens are stored and not only in an `except` handler.
//! A trigger that runs only on one branch (`if scope_ok: trigger(...)`) is reported with
//! `medium` confidence, naming the condition; one that runs before the tokens are stored
//! is reported too, since the job cannot read tokens that are not there yet. A sign-in
//! (`kind: "sign_in"`, see `callback-no-persist`) connects nothing to sync and is not
//! reported.
//!
//! ### Example
//! ```python
//! token_storage.save_token(tenant_id=tenant.id, provider="hubspot", token_data=token_data)
//! return {"success": True}
//! ```
//!
//! ### Use instead
//! ```python
//! token_storage.save_token(tenant_id=tenant.id, provider="hubspot", token_data=token_data)
//! await trigger_historical_sync_on_connection(
//!     integration_id="hubspot", user_id=user.id, tenant_id=tenant.id, db=db, sync_months=3
//! )
//! return {"success": True}
//! ```
//!
//! ### How to suppress
//! `# oauth-audit: ignore[callback-no-sync] -- reason` on the handler's `def` line or the
//! line above.
//!
//! ### Fix safety
//! `oauth-audit fix` inserts the trigger (`rules/templates/python/sync.tmpl`) after the
//! commit that follows the write, in an `async` handler only (the trigger is awaited). In
//! TypeScript it calls the code base's own sync function (an exported function named in
//! `[sync] triggers`), its arguments filled by parameter name (the provider, the tenant or
//! user the handler has); skipped with the reason when the tree has no such function or the
//! handler no such value.

use crate::callbacks::{CallbackAnalysis, Kind};
use crate::index::Project;
use crate::rules::{Confidence, Finding, RuleInfo, Severity, chain_locations, hop_location};

pub static RULE: RuleInfo = RuleInfo {
    code: "OA003",
    slug: "callback-no-sync",
    step: Some("historical_sync"),
    severity: Severity::Warning,
    fixable: true,
    title: "OAuth callback stores the tokens but starts no historical sync afterwards",
    source: include_str!("callback_no_sync.rs"),
};

pub fn check(project: &Project, callback: &CallbackAnalysis) -> Option<Finding> {
    if callback.kind != Kind::Callback || callback.syncs() {
        return None;
    }
    let persistence = callback.persistence.as_deref()?;
    let stored_at = persistence.last().map(|hop| hop_location(project, hop)).unwrap_or_default();
    let mut related = chain_locations(persistence, "the tokens are stored");
    let head = format!("OAuth callback `{}` ({}) stores the tokens ({stored_at})", callback.function, callback.route);
    let (message, confidence) = if let Some(partial) = &callback.partial_sync {
        related.extend(chain_locations(&partial.chain, "the historical sync starts"));
        (
            format!(
                "{head} but starts the historical sync only on one branch (the condition at {}): other connections get no backfill",
                hop_location(project, &partial.condition)
            ),
            Confidence::Medium,
        )
    } else if let Some(early) = &callback.early_sync {
        related.extend(chain_locations(early, "the historical sync starts"));
        let at = early.last().map(|hop| hop_location(project, hop)).unwrap_or_default();
        (
            format!("{head} but starts the historical sync before that ({at}): the sync job cannot read tokens that are not stored yet"),
            Confidence::High,
        )
    } else {
        (format!("{head} but starts no historical sync afterwards: the new connection shows no past data"), Confidence::High)
    };
    let mut finding = Finding::on_callback(&RULE, callback, None, message, confidence, related);
    // A trigger can be inserted after the write only when the write is in the handler.
    finding.fixable = persistence.len() == 1;
    Some(finding)
}
