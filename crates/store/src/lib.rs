//! The durable source of truth of gridkb.
//!
//! Records (knowledge items and graph entities) with their full version history, the editors'
//! working copies, the audit trail and a change log stamped with a strictly increasing sequence
//! number. Every index gridkb serves from — lexical, graph, vector — is a projection that
//! remembers the last sequence number it applied and catches up from the change log through [`catch_up`], the one replay loop.
//!
//! Two backends sit behind the [`RecordStore`] trait, chosen when the store is opened:
//! - [`RedbStore`] (the default): one embedded ACID file, the truth of one machine.
//! - [`PgStore`]: PostgreSQL is the truth shared by several nodes; each node keeps the same redb
//!   file as its local replica, which every read uses, so reads keep working while PostgreSQL is
//!   away. A write is planned against the replica under PostgreSQL's write lock, committed in
//!   PostgreSQL (tables and journal in one transaction), then replayed into the replica.
//!
//! Architecture invariant: this is the only crate that imports redb (for records) or a
//! PostgreSQL driver, and a write returns only after its transaction is durably committed in the
//! source of truth; a refused record changes nothing.

pub mod audit;
mod change_set;
mod db;
mod pg;
mod projection;
pub mod record;

use std::fmt;
use std::path::Path;
use std::time::Duration;

pub use audit::{Action, Actor, AuditEntry, AuditFilter, EditDone, EditPlan, RecordState, WorkingPlan};
pub use change_set::{ChangeSet, Mutation};
pub use db::{Change, ChangeOp, FORMAT_VERSION, Outcome, RedbStore, StoredRecord};
pub use pg::{PgListener, PgOptions, PgStore, SharedFile, SharedFiles};
pub use projection::{ChangeBatch, Projection, catch_up};
pub use record::{Category, Entity, EntityClass, FieldError, Item, ItemKind, MajorCategory, OrgLevel, Record, Status};

/// Why a store operation failed. None of these are the caller's mistake: records are validated
/// before they reach the store.
#[derive(Debug, thiserror::Error)]
// Not `#[non_exhaustive]`: the server maps every variant to its code by an exhaustive match
// (`server::error`), so a new variant does not compile until it is mapped.
pub enum Error {
    #[error("storage error: {0}")]
    Storage(String),
    #[error(
        "{path} has store format {found}, this gridkb reads format {expected}; re-ingest into a new data directory"
    )]
    Format { path: String, found: u64, expected: u64 },
    #[error("corrupt record in the store: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The shared source of truth cannot be reached (or is shutting down): transient, try again.
    /// Reads keep answering from the local replica meanwhile.
    #[error("the record store is unavailable: {0}")]
    Unavailable(String),
    /// The store's settings are wrong (a bad URL, a password where none belongs).
    #[error("store configuration: {0}")]
    Config(String),
    /// The local replica does not belong to the database it is pointed at.
    #[error("{0}")]
    Diverged(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! storage_errors {
    ($($ty:ty),+) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::Storage(e.to_string())
            }
        }
    )+};
}
storage_errors!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Which backend holds the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Redb,
    Postgres,
}

impl Backend {
    pub fn code(self) -> &'static str {
        match self {
            Backend::Redb => "redb",
            Backend::Postgres => "postgres",
        }
    }
}

/// What [`Store::sync`] found: how far the local copy is behind the source of truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Journal entries replayed by this call.
    pub applied: u64,
    /// The newest change-log sequence number of the local copy, after the call.
    pub local_seq: u64,
    /// The newest change-log sequence number of the source of truth, as last seen.
    pub source_seq: u64,
    /// Journal entries the local copy has replayed in all.
    pub journal: u64,
}

impl SyncReport {
    /// Change-log entries the local copy lacks.
    pub fn lag(&self) -> u64 {
        self.source_seq.saturating_sub(self.local_seq)
    }
}

/// Wakes a follower when another node commits a change.
pub trait ChangeListener: Send + fmt::Debug {
    /// Blocks until a change is announced (true) or `timeout` passes (false).
    fn wait(&mut self, timeout: Duration) -> Result<bool>;
}

/// The record store's seam: what every backend offers. Object-safe, so [`Store`] holds either.
/// The generic conveniences (`edit` with a typed refusal, iterators) live on [`Store`].
pub trait RecordStore: Send + Sync + fmt::Debug {
    /// Writes records in one durable transaction. Each record must already be valid.
    ///
    /// A higher version replaces the stored one, the same version with the same content is a
    /// no-op, and anything else is refused with a reason; refused records change nothing.
    fn upsert(&self, records: &[Record], actor: &str) -> Result<Vec<Outcome>>;
    /// Deletes records by id in one durable transaction; their history stays.
    fn delete(&self, ids: &[&str], actor: &str) -> Result<Vec<Outcome>>;
    /// Changes one record in one durable transaction; `decide` answering `None` writes nothing.
    fn edit(
        &self,
        id: &str,
        actor: &Actor,
        decide: &mut dyn FnMut(&RecordState) -> Option<EditPlan>,
    ) -> Result<Option<EditDone>>;
    /// Sequence number of the newest committed change (0 for an empty store).
    fn last_seq(&self) -> Result<u64>;
    /// Changes with `seq > after`, oldest first, at most `limit` of them.
    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>>;
    fn get(&self, id: &str) -> Result<Option<StoredRecord>>;
    /// Many records from one snapshot; missing ids give `None`.
    fn get_many(&self, ids: &[&str]) -> Result<Vec<Option<StoredRecord>>>;
    /// Every stored version of a record, oldest first.
    fn history(&self, id: &str) -> Result<Vec<Record>>;
    /// Number of current records.
    fn len(&self) -> Result<u64>;
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Visits every current record from one snapshot, in id order.
    fn for_each(&self, visit: &mut dyn FnMut(StoredRecord) -> Result<()>) -> Result<()>;
    /// Everything stored under `id`: the served record and the working copy.
    fn state(&self, id: &str) -> Result<RecordState>;
    /// One stored version of a record.
    fn version(&self, id: &str, version: u32) -> Result<Option<Record>>;
    /// Visits every working copy (drafts and items in review), in id order.
    fn for_each_working(&self, visit: &mut dyn FnMut(StoredRecord) -> Result<()>) -> Result<()>;
    /// Audit entries matching `filter`, newest first, skipping `offset`; at most `limit`, and
    /// whether more follow.
    fn audit(&self, filter: &AuditFilter, offset: usize, limit: usize) -> Result<(Vec<AuditEntry>, bool)>;
    /// Brings the local copy up to the source of truth (nothing to do for redb).
    fn sync(&self) -> Result<SyncReport>;
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// A listener for other nodes' commits, where the backend has them.
    fn listener(&self) -> Option<Box<dyn ChangeListener>> {
        None
    }
    /// How many of other nodes' write transactions this copy has replayed (0 for redb).
    fn replayed(&self) -> u64 {
        0
    }
    /// A file shared by every node through the store (none with redb: there is one node).
    fn shared_file(&self, name: &str) -> Result<Option<SharedFile>> {
        let _ = name;
        Ok(None)
    }
}

/// The durable store, whichever backend holds it. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Store {
    inner: Box<dyn RecordStore>,
}

impl Store {
    /// Opens (or creates) the embedded store file, checking its format version. A node's
    /// replica of PostgreSQL is refused: a write into it would fork it from the database.
    pub fn open(path: &Path) -> Result<Store> {
        let store = RedbStore::open(path)?;
        if store.journal_applied()? > 0 {
            return Err(Error::Config(format!(
                "{} is a replica of a PostgreSQL store; open it with --store postgres://... \
                 (or GRIDKB_STORE), as the node that owns it does",
                path.display()
            )));
        }
        Ok(Store { inner: Box::new(store) })
    }

    /// Opens the PostgreSQL store with its local replica at `replica` (see [`PgStore::open`]).
    pub fn open_postgres(replica: &Path, options: &PgOptions) -> Result<Store> {
        Ok(Store { inner: Box::new(PgStore::open(replica, options)?) })
    }

    /// See [`RecordStore::upsert`].
    pub fn upsert(&self, records: &[Record], actor: &str) -> Result<Vec<Outcome>> {
        self.inner.upsert(records, actor)
    }

    /// See [`RecordStore::delete`].
    pub fn delete(&self, ids: &[&str], actor: &str) -> Result<Vec<Outcome>> {
        self.inner.delete(ids, actor)
    }

    /// Sequence number of the newest committed change (0 for an empty store).
    pub fn last_seq(&self) -> Result<u64> {
        self.inner.last_seq()
    }

    /// Changes with `seq > after`, oldest first, at most `limit` of them.
    pub fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>> {
        self.inner.changes_since(after, limit)
    }

    /// The current state of one record.
    pub fn get(&self, id: &str) -> Result<Option<StoredRecord>> {
        self.inner.get(id)
    }

    /// The current state of many records, read from one snapshot; missing ids give `None`.
    pub fn get_many<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Result<Vec<Option<StoredRecord>>> {
        let ids: Vec<&str> = ids.into_iter().collect();
        self.inner.get_many(&ids)
    }

    /// Every stored version of a record, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<Record>> {
        self.inner.history(id)
    }

    /// Number of current records.
    pub fn len(&self) -> Result<u64> {
        self.inner.len()
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Visits every current record from one snapshot, in id order (for rebuilding projections).
    pub fn for_each(&self, mut visit: impl FnMut(StoredRecord) -> Result<()>) -> Result<()> {
        self.inner.for_each(&mut visit)
    }

    /// Everything stored under `id`: the served record and the working copy.
    pub fn state(&self, id: &str) -> Result<RecordState> {
        self.inner.state(id)
    }

    /// One stored version of a record.
    pub fn version(&self, id: &str, version: u32) -> Result<Option<Record>> {
        self.inner.version(id, version)
    }

    /// Visits every working copy (drafts and items in review), in id order.
    pub fn for_each_working(&self, mut visit: impl FnMut(StoredRecord) -> Result<()>) -> Result<()> {
        self.inner.for_each_working(&mut visit)
    }

    /// Changes one record in one durable transaction: reads its [`RecordState`], lets `decide`
    /// refuse (its error is returned, nothing is written) or plan the change, then writes the new
    /// version(s), the change-log entry (when the served record changes) and the audit entry
    /// together. The version check of optimistic concurrency belongs in `decide`: it sees the
    /// state no other writer can change before this commits (on PostgreSQL too: the state is
    /// read under the cluster-wide write lock).
    pub fn edit<E>(
        &self,
        id: &str,
        actor: &Actor,
        decide: impl FnOnce(&RecordState) -> std::result::Result<EditPlan, E>,
    ) -> Result<std::result::Result<EditDone, E>> {
        let mut decide = Some(decide);
        let mut refusal = None;
        let done = self.inner.edit(id, actor, &mut |state| {
            let decide = decide.take()?;
            match decide(state) {
                Ok(plan) => Some(plan),
                Err(e) => {
                    refusal = Some(e);
                    None
                }
            }
        })?;
        match (done, refusal) {
            (Some(done), _) => Ok(Ok(done)),
            (None, Some(refusal)) => Ok(Err(refusal)),
            (None, None) => Err(Error::Storage(format!("the edit of `{id}` was decided twice"))),
        }
    }

    /// Audit entries matching `filter`, newest first, skipping `offset`; at most `limit`, and
    /// whether more follow.
    pub fn audit(&self, filter: &AuditFilter, offset: usize, limit: usize) -> Result<(Vec<AuditEntry>, bool)> {
        self.inner.audit(filter, offset, limit)
    }

    /// Brings the local copy up to the source of truth.
    pub fn sync(&self) -> Result<SyncReport> {
        self.inner.sync()
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend()
    }

    /// A listener for other nodes' commits (PostgreSQL only).
    pub fn listener(&self) -> Option<Box<dyn ChangeListener>> {
        self.inner.listener()
    }

    /// How many of other nodes' write transactions this copy has replayed (0 for redb).
    pub fn replayed(&self) -> u64 {
        self.inner.replayed()
    }

    /// A file shared by every node through the store (see [`SharedFiles`]).
    pub fn shared_file(&self, name: &str) -> Result<Option<SharedFile>> {
        self.inner.shared_file(name)
    }
}
