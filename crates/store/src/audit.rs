//! The audit trail and the shapes of an edit: who changed which record, how, from which version
//! to which, and why. Entries are written in the same transaction as the change they describe.

use serde::{Deserialize, Serialize};

use crate::db::StoredRecord;
use crate::record::{Record, Status};

/// Who made a change, as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The API key's public id; `None` for the command line and for a server without keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// A name people recognise: the key's note, or `ingest`, `cli`, ...
    pub name: String,
    /// `editor`, `reviewer`, `admin`, `cli`, ...
    pub role: String,
    /// The organisation the key belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

impl Actor {
    /// The command line (or another local process) acting under `name`.
    pub fn local(name: &str) -> Actor {
        Actor { key_id: None, name: name.to_string(), role: "cli".to_string(), org: None }
    }

    /// What identifies this actor for the four-eyes rule: the key id, else the name.
    pub fn identity(&self) -> &str {
        self.key_id.as_deref().unwrap_or(&self.name)
    }
}

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A record arrived through `gridkb ingest` (or the first start's demo ingest).
    Ingest,
    /// A record removed by id (its history stays).
    Delete,
    Create,
    Update,
    Submit,
    Approve,
    Reject,
    Retire,
    Restore,
    /// A record arrived through `POST /v1/import`.
    Import,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Action::Ingest,
        Action::Delete,
        Action::Create,
        Action::Update,
        Action::Submit,
        Action::Approve,
        Action::Reject,
        Action::Retire,
        Action::Restore,
        Action::Import,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Action::Ingest => "ingest",
            Action::Delete => "delete",
            Action::Create => "create",
            Action::Update => "update",
            Action::Submit => "submit",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Retire => "retire",
            Action::Restore => "restore",
            Action::Import => "import",
        }
    }

    pub fn from_code(code: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.code() == code)
    }

    /// Whether the action writes new content (its actor becomes the record's last author).
    pub fn authors_content(self) -> bool {
        match self {
            Action::Ingest | Action::Create | Action::Update | Action::Import => true,
            Action::Delete | Action::Submit | Action::Approve | Action::Reject | Action::Retire | Action::Restore => {
                false
            }
        }
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the audit trail (its own counter, strictly increasing).
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub actor: Actor,
    pub action: Action,
    /// The record's id.
    pub record: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub record: Option<String>,
    /// A key id or an actor name.
    pub actor: Option<String>,
    pub action: Option<Action>,
    /// Milliseconds since the epoch, inclusive.
    pub since_ms: Option<u64>,
    /// Milliseconds since the epoch, exclusive.
    pub until_ms: Option<u64>,
}

impl AuditFilter {
    pub(crate) fn accepts(&self, entry: &AuditEntry) -> bool {
        self.record.as_ref().is_none_or(|r| *r == entry.record)
            && self
                .actor
                .as_ref()
                .is_none_or(|a| entry.actor.key_id.as_deref() == Some(a.as_str()) || entry.actor.name == *a)
            && self.action.is_none_or(|a| a == entry.action)
            && self.since_ms.is_none_or(|s| entry.at_ms >= s)
            && self.until_ms.is_none_or(|u| entry.at_ms < u)
    }
}

/// Everything the store holds about one id: the record agents and bots are served (the one the
/// indexes project) and the working copy editors are changing (a draft or one in review).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordState {
    pub served: Option<StoredRecord>,
    pub working: Option<StoredRecord>,
}

impl RecordState {
    /// The newest state: the working copy when there is one, else the served record.
    pub fn head(&self) -> Option<&StoredRecord> {
        self.working.as_ref().or(self.served.as_ref())
    }

    /// The highest version stored for this id (0 when there is none); a new version is this + 1.
    /// Usually the working copy's; a retire or restore while a draft is open writes a served
    /// version above it.
    pub fn head_version(&self) -> u32 {
        let version = |s: &Option<StoredRecord>| s.as_ref().map(|s| s.record.version()).unwrap_or(0);
        version(&self.served).max(version(&self.working))
    }

    pub fn exists(&self) -> bool {
        self.served.is_some() || self.working.is_some()
    }
}

/// What an edit writes, decided from the [`RecordState`] read in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct EditPlan {
    /// A new served record (projected into the indexes, logged in the change log).
    pub served: Option<Record>,
    pub working: WorkingPlan,
    pub action: Action,
    pub reason: Option<String>,
    /// The state before, for the audit entry.
    pub from_version: Option<u32>,
    pub from_status: Option<Status>,
}

/// What happens to the working copy.
#[derive(Debug, Clone, PartialEq)]
#[expect(clippy::large_enum_variant, reason = "one plan per edit; boxing the record buys nothing")]
pub enum WorkingPlan {
    Keep,
    Set(Record),
    Clear,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq)]
pub struct EditDone {
    pub audit: AuditEntry,
    pub state: RecordState,
    /// The change-log sequence number when the served record changed.
    pub seq: Option<u64>,
}
