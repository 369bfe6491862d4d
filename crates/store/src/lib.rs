//! The durable source of truth of gridkb.
//!
//! Records (knowledge items and graph entities) with their full version history and a change log
//! stamped with a strictly increasing sequence number, in one embedded ACID file (redb).
//! Every index gridkb serves from — lexical, graph, vector — is a projection that remembers the
//! last sequence number it applied and catches up from [`Store::changes_since`].
//!
//! Architecture invariant: this is the only crate that imports redb, and a write returns only
//! after its transaction is durably committed; a refused record changes nothing.

pub mod audit;
mod db;
pub mod record;

pub use audit::{Action, Actor, AuditEntry, AuditFilter, EditDone, EditPlan, RecordState, WorkingPlan};
pub use db::{Change, ChangeOp, FORMAT_VERSION, Outcome, Store, StoredRecord};
pub use record::{Category, Entity, EntityClass, FieldError, Item, ItemKind, MajorCategory, OrgLevel, Record, Status};

/// Why a store operation failed. None of these are the caller's mistake: records are validated
/// before they reach the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("storage error: {0}")]
    Storage(String),
    #[error(
        "{path} has store format {found}, this gridkb reads format {expected}; re-ingest into a new data directory"
    )]
    Format { path: String, found: u64, expected: u64 },
    #[error("corrupt record in the store: {0}")]
    Corrupt(#[from] serde_json::Error),
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
