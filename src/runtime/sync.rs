//! The sync queue: step 3 of the pattern.
//!
//! A new connection is useless until its history is there: after the tokens are committed,
//! the callback queues one historical sync (3 months back by default). The queue lives in
//! the token database; a replayed callback (the user connects again, the browser retries)
//! finds the job already queued and does not add a second.

use rusqlite::params;

use super::store::{Database, StoreError};

/// How far back the first sync of a connection goes, by default.
pub const DEFAULT_HISTORY_MONTHS: u32 = 3;

/// Kind of the job queued after a connection.
pub const HISTORICAL: &str = "historical";

/// A queued sync job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncJob {
    pub id: i64,
    pub tenant: String,
    pub provider: String,
    pub kind: String,
    pub months: u32,
    pub status: String,
    /// Unix seconds.
    pub queued_at: i64,
}

/// What [`Database::enqueue_historical_sync`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job was queued.
    New(SyncJob),
    /// The connection already had its historical sync; this is it.
    Existing(SyncJob),
}

impl Enqueued {
    pub fn job(&self) -> &SyncJob {
        match self {
            Enqueued::New(job) | Enqueued::Existing(job) => job,
        }
    }
}

impl Database {
    /// Queues the historical sync of (tenant, provider), once per connection.
    ///
    /// ```
    /// use oauth_audit::runtime::store::Database;
    /// use oauth_audit::runtime::sync::{Enqueued, DEFAULT_HISTORY_MONTHS};
    ///
    /// let mut database = Database::open_in_memory()?;
    /// let first = database.enqueue_historical_sync("acme", "notion", DEFAULT_HISTORY_MONTHS, 10)?;
    /// let replay = database.enqueue_historical_sync("acme", "notion", DEFAULT_HISTORY_MONTHS, 20)?;
    /// assert!(matches!(first, Enqueued::New(_)));
    /// assert_eq!(replay, Enqueued::Existing(first.job().clone()));
    /// assert_eq!(database.sync_jobs("acme", "notion")?.len(), 1);
    /// # Ok::<(), oauth_audit::runtime::store::StoreError>(())
    /// ```
    pub fn enqueue_historical_sync(&mut self, tenant: &str, provider: &str, months: u32, now: i64) -> Result<Enqueued, StoreError> {
        let transaction = self.connection_mut().transaction()?;
        let inserted = transaction.execute(
            "INSERT INTO sync_jobs (tenant, provider, kind, months, status, queued_at) VALUES (?1, ?2, ?3, ?4, 'queued', ?5)
             ON CONFLICT (tenant, provider, kind) DO NOTHING",
            params![tenant, provider, HISTORICAL, months, now],
        )?;
        let job = transaction.query_row(
            "SELECT id, tenant, provider, kind, months, status, queued_at FROM sync_jobs WHERE tenant = ?1 AND provider = ?2 AND kind = ?3",
            params![tenant, provider, HISTORICAL],
            job_from_row,
        )?;
        transaction.commit()?;
        Ok(if inserted == 1 { Enqueued::New(job) } else { Enqueued::Existing(job) })
    }

    /// The sync jobs of (tenant, provider), oldest first.
    pub fn sync_jobs(&self, tenant: &str, provider: &str) -> Result<Vec<SyncJob>, StoreError> {
        let mut statement = self.connection().prepare(
            "SELECT id, tenant, provider, kind, months, status, queued_at FROM sync_jobs WHERE tenant = ?1 AND provider = ?2 ORDER BY id",
        )?;
        let jobs = statement.query_map(params![tenant, provider], job_from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(jobs)
    }
}

fn job_from_row(row: &rusqlite::Row) -> rusqlite::Result<SyncJob> {
    Ok(SyncJob {
        id: row.get(0)?,
        tenant: row.get(1)?,
        provider: row.get(2)?,
        kind: row.get(3)?,
        months: row.get(4)?,
        status: row.get(5)?,
        queued_at: row.get(6)?,
    })
}
