//! What one write transaction changed, as a list of mutations: how a write planned against a
//! node's replica travels through PostgreSQL's journal to every node, which replays it.

use serde::{Deserialize, Serialize};

use crate::audit::AuditEntry;
use crate::db::{Change, StoredRecord};
use crate::record::Record;

/// One table change. Replaying the mutations of a set in order, in one transaction, gives the
/// state the planning transaction had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "m", rename_all = "snake_case")]
pub enum Mutation {
    /// The served record of `id` is now `stored`.
    Served {
        id: String,
        stored: StoredRecord,
    },
    ServedRemoved {
        id: String,
    },
    /// The working copy of `id` is now `stored`.
    Working {
        id: String,
        stored: StoredRecord,
    },
    WorkingRemoved {
        id: String,
    },
    /// A version entered the history.
    History {
        record: Record,
    },
    /// A change-log entry (its `seq` is the change-log sequence number).
    Log {
        change: Change,
    },
    /// An audit entry (its `seq` is the audit trail's number).
    Audit {
        entry: AuditEntry,
    },
}

/// The mutations of one write transaction, in the order they were made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeSet {
    pub mutations: Vec<Mutation>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.mutations.is_empty()
    }

    /// The change-log entries of this set.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.mutations.iter().filter_map(|m| match m {
            Mutation::Log { change } => Some(change),
            _ => None,
        })
    }
}
