//! Token storage on an embedded SQLite database: step 2 of the pattern.
//!
//! Tokens live server-side, one row per (tenant, provider), so they survive a restart — the
//! defect OA002 reports is a callback that exchanges the code and then keeps the tokens only
//! in memory or hands them to the browser. Saving writes the token row and an audit event in
//! one transaction: either both are there after a failure, or neither.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use thiserror::Error;

/// Lifetime assumed for an access token when the provider does not say (`expires_in`).
pub const DEFAULT_EXPIRES_IN_SECONDS: u64 = 7200;

/// Status of a freshly stored connection.
pub const STATUS_ACTIVE: &str = "active";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS oauth_tokens (
    tenant        TEXT NOT NULL,
    provider      TEXT NOT NULL,
    access_token  TEXT NOT NULL,
    refresh_token TEXT,
    token_type    TEXT,
    scope         TEXT,
    expires_at    INTEGER NOT NULL,
    status        TEXT NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant, provider)
);
CREATE TABLE IF NOT EXISTS connection_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant    TEXT NOT NULL,
    provider  TEXT NOT NULL,
    event     TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_states (
    state      TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    provider   TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_jobs (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant    TEXT NOT NULL,
    provider  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    months    INTEGER NOT NULL,
    status    TEXT NOT NULL,
    queued_at INTEGER NOT NULL,
    UNIQUE (tenant, provider, kind)
);
";

/// How long an authorization may take, from [`Database::create_state`] to the callback.
pub const STATE_TTL_SECONDS: i64 = 600;

/// The authorization a `state` value was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    pub tenant: String,
    pub provider: String,
}

/// A failure of the database.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("could not open the token database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("token database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("no random source for the OAuth state: {0}")]
    Random(String),
}

/// Tokens as a provider's token endpoint returns them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub token_type: Option<String>,
    pub scope: Option<String>,
    /// Seconds until the access token expires; [`DEFAULT_EXPIRES_IN_SECONDS`] when absent.
    pub expires_in: Option<u64>,
}

/// A stored connection, as read back from the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub tenant: String,
    pub provider: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub token_type: Option<String>,
    pub scope: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
    pub status: String,
    /// Unix seconds of the last save.
    pub updated_at: i64,
}

/// The runtime's database: tokens, their audit events and the sync queue.
///
/// ```
/// use oauth_audit::runtime::store::{Database, TokenSet};
///
/// let mut database = Database::open_in_memory()?;
/// let tokens = TokenSet { access_token: "xoxb-1".into(), expires_in: Some(3600), ..TokenSet::default() };
/// let stored = database.save_tokens("acme", "slack", &tokens, 1_000)?;
/// assert_eq!(stored.expires_at, 4_600);
/// assert_eq!(stored.status, "active");
/// assert_eq!(database.tokens("acme", "slack")?.map(|token| token.access_token), Some("xoxb-1".to_string()));
/// # Ok::<(), oauth_audit::runtime::store::StoreError>(())
/// ```
pub struct Database {
    connection: Connection,
}

impl Database {
    /// Opens (creating if needed) the database file and its schema.
    pub fn open(path: &Path) -> Result<Database, StoreError> {
        let connection = Connection::open(path).map_err(|source| StoreError::Open { path: path.display().to_string(), source })?;
        Database::with_connection(connection)
    }

    /// A private in-memory database, for tests and examples.
    pub fn open_in_memory() -> Result<Database, StoreError> {
        Database::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(connection: Connection) -> Result<Database, StoreError> {
        connection.execute_batch(SCHEMA)?;
        Ok(Database { connection })
    }

    /// The underlying connection (to inspect the tables, or to inject failures in tests).
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    pub(super) fn connection_mut(&mut self) -> &mut Connection {
        &mut self.connection
    }

    /// Stores `tokens` for (tenant, provider), replacing an earlier connection, with
    /// `expires_at = now + expires_in` and status [`STATUS_ACTIVE`], and records a
    /// `connected` event — in one transaction. On any error nothing of it remains.
    pub fn save_tokens(&mut self, tenant: &str, provider: &str, tokens: &TokenSet, now: i64) -> Result<StoredToken, StoreError> {
        let transaction = self.connection.transaction()?;
        let stored = upsert_tokens(&transaction, tenant, provider, tokens, now)?;
        transaction.execute(
            "INSERT INTO connection_events (tenant, provider, event, at) VALUES (?1, ?2, 'connected', ?3)",
            params![tenant, provider, now],
        )?;
        transaction.commit()?;
        Ok(stored)
    }

    /// Issues the `state` for an authorization request of `tenant` to `provider`: 32 random
    /// bytes, hex-encoded, stored until the callback consumes it.
    pub fn create_state(&mut self, tenant: &str, provider: &str, now: i64) -> Result<String, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|error| StoreError::Random(error.to_string()))?;
        let state: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        self.connection.execute(
            "INSERT INTO oauth_states (state, tenant, provider, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![state, tenant, provider, now],
        )?;
        Ok(state)
    }

    /// The authorization `state` was issued for, once: the value is deleted as it is
    /// read, so a replayed callback finds nothing. `None` for an unknown or expired state.
    ///
    /// ```
    /// use oauth_audit::runtime::store::Database;
    ///
    /// let mut database = Database::open_in_memory()?;
    /// let state = database.create_state("acme", "notion", 100)?;
    /// let pending = database.consume_state(&state, 160)?.expect("issued");
    /// assert_eq!((pending.tenant.as_str(), pending.provider.as_str()), ("acme", "notion"));
    /// assert!(database.consume_state(&state, 170)?.is_none(), "single use");
    /// # Ok::<(), oauth_audit::runtime::store::StoreError>(())
    /// ```
    pub fn consume_state(&mut self, state: &str, now: i64) -> Result<Option<PendingAuthorization>, StoreError> {
        let row: Option<(String, String, i64)> = self
            .connection
            .query_row("DELETE FROM oauth_states WHERE state = ?1 RETURNING tenant, provider, created_at", params![state], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?;
        Ok(row
            .filter(|(_, _, created_at)| now.saturating_sub(*created_at) <= STATE_TTL_SECONDS)
            .map(|(tenant, provider, _)| PendingAuthorization { tenant, provider }))
    }

    /// The stored connection of (tenant, provider), if any.
    pub fn tokens(&self, tenant: &str, provider: &str) -> Result<Option<StoredToken>, StoreError> {
        let token = self
            .connection
            .query_row(
                "SELECT tenant, provider, access_token, refresh_token, token_type, scope, expires_at, status, updated_at
                 FROM oauth_tokens WHERE tenant = ?1 AND provider = ?2",
                params![tenant, provider],
                |row| {
                    Ok(StoredToken {
                        tenant: row.get(0)?,
                        provider: row.get(1)?,
                        access_token: row.get(2)?,
                        refresh_token: row.get(3)?,
                        token_type: row.get(4)?,
                        scope: row.get(5)?,
                        expires_at: row.get(6)?,
                        status: row.get(7)?,
                        updated_at: row.get(8)?,
                    })
                },
            )
            .optional()?;
        Ok(token)
    }
}

fn upsert_tokens(transaction: &Transaction, tenant: &str, provider: &str, tokens: &TokenSet, now: i64) -> Result<StoredToken, StoreError> {
    let expires_in = i64::try_from(tokens.expires_in.unwrap_or(DEFAULT_EXPIRES_IN_SECONDS)).unwrap_or(i64::MAX);
    let expires_at = now.saturating_add(expires_in);
    // `RETURNING` gives the refresh token kept by the upsert (the provider may not resend it).
    let refresh_token: Option<String> = transaction.query_row(
        "INSERT INTO oauth_tokens (tenant, provider, access_token, refresh_token, token_type, scope, expires_at, status, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (tenant, provider) DO UPDATE SET
             access_token = excluded.access_token,
             refresh_token = COALESCE(excluded.refresh_token, oauth_tokens.refresh_token),
             token_type = excluded.token_type,
             scope = excluded.scope,
             expires_at = excluded.expires_at,
             status = excluded.status,
             updated_at = excluded.updated_at
         RETURNING refresh_token",
        params![
            tenant,
            provider,
            tokens.access_token,
            tokens.refresh_token,
            tokens.token_type,
            tokens.scope,
            expires_at,
            STATUS_ACTIVE,
            now
        ],
        |row| row.get(0),
    )?;
    Ok(StoredToken {
        tenant: tenant.to_string(),
        provider: provider.to_string(),
        access_token: tokens.access_token.clone(),
        refresh_token,
        token_type: tokens.token_type.clone(),
        scope: tokens.scope.clone(),
        expires_at,
        status: STATUS_ACTIVE.to_string(),
        updated_at: now,
    })
}

/// The current time in Unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(access: &str, refresh: Option<&str>, expires_in: Option<u64>) -> TokenSet {
        TokenSet { access_token: access.into(), refresh_token: refresh.map(str::to_string), expires_in, ..TokenSet::default() }
    }

    #[test]
    fn expiry_defaults_to_two_hours() {
        let mut database = Database::open_in_memory().expect("opens");
        let stored = database.save_tokens("t", "notion", &tokens("a", None, None), 100).expect("saves");
        assert_eq!(stored.expires_at, 100 + 7200);
    }

    #[test]
    fn a_reconnect_replaces_the_row_and_keeps_a_refresh_token_the_provider_did_not_resend() {
        let mut database = Database::open_in_memory().expect("opens");
        database.save_tokens("t", "hubspot", &tokens("a1", Some("r1"), Some(60)), 100).expect("saves");
        let second = database.save_tokens("t", "hubspot", &tokens("a2", None, Some(60)), 200).expect("saves");
        assert_eq!(second.refresh_token.as_deref(), Some("r1"));
        let read = database.tokens("t", "hubspot").expect("reads").expect("present");
        assert_eq!((read.access_token.as_str(), read.expires_at, read.updated_at), ("a2", 260, 200));
        let rows: i64 = database.connection().query_row("SELECT COUNT(*) FROM oauth_tokens", [], |row| row.get(0)).expect("counts");
        assert_eq!(rows, 1);
    }

    #[test]
    fn tenants_and_providers_are_separate() {
        let mut database = Database::open_in_memory().expect("opens");
        database.save_tokens("t1", "zoom", &tokens("a", None, None), 0).expect("saves");
        assert!(database.tokens("t2", "zoom").expect("reads").is_none());
        assert!(database.tokens("t1", "slack").expect("reads").is_none());
    }

    #[test]
    fn a_failure_after_the_token_write_leaves_nothing() {
        let mut database = Database::open_in_memory().expect("opens");
        database
            .connection()
            .execute_batch("CREATE TRIGGER fail BEFORE INSERT ON connection_events BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
            .expect("trigger");
        let error = database.save_tokens("t", "slack", &tokens("a", None, None), 0).expect_err("fails");
        assert!(error.to_string().contains("disk full"), "{error}");
        assert!(database.tokens("t", "slack").expect("reads").is_none());
    }
}
