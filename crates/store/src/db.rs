//! The redb-backed source of truth: current records, their version history and the change log.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::{Error, Result};

/// Bumped whenever the layout of the tables below changes incompatibly.
pub const FORMAT_VERSION: u64 = 1;

/// id → current [`StoredRecord`] as JSON.
const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");
/// (id, version) → that version of the record as JSON; never pruned.
const HISTORY: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("history");
/// seq → [`Change`] as JSON; the audit trail and the feed every projection catches up from.
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
/// Small named counters.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

const META_FORMAT: &str = "format_version";
const META_LAST_SEQ: &str = "last_seq";

/// A record as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// Sequence number of the write that produced this state.
    pub seq: u64,
    /// blake3 of the record's JSON, to tell a true re-ingest from a conflicting one.
    pub hash: String,
    pub record: Record,
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub seq: u64,
    pub id: String,
    pub op: ChangeOp,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Who made the change: `ingest`, an API key's name, ...
    pub actor: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Upsert { version: u32 },
    Delete,
}

/// What a write did with one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Inserted,
    Replaced {
        previous_version: u32,
    },
    /// Same id, version and content: nothing to do.
    Unchanged,
    /// Not written; the message says why and what to do.
    Refused {
        reason: String,
    },
    Deleted,
    NotFound,
}

/// The durable store. Cheap to share behind an `Arc`; redb serialises writers itself.
#[derive(Debug)]
pub struct Store {
    db: Database,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn content_hash(record: &Record) -> Result<String> {
    let json = serde_json::to_vec(record)?;
    Ok(blake3::hash(&json).to_hex().to_string())
}

impl Store {
    /// Opens (or creates) the store file, checking its format version.
    pub fn open(path: &Path) -> Result<Store> {
        let db = Database::create(path).map_err(|e| Error::Storage(format!("{}: {e}", path.display())))?;
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let found = meta.get(META_FORMAT)?.map(|v| v.value());
            match found {
                None => {
                    meta.insert(META_FORMAT, FORMAT_VERSION)?;
                }
                Some(FORMAT_VERSION) => {}
                Some(other) => {
                    return Err(Error::Format {
                        path: path.display().to_string(),
                        found: other,
                        expected: FORMAT_VERSION,
                    });
                }
            }
            txn.open_table(RECORDS)?;
            txn.open_table(HISTORY)?;
            txn.open_table(LOG)?;
        }
        txn.commit()?;
        Ok(Store { db })
    }

    /// Writes records in one durable transaction. Each record must already be valid.
    ///
    /// A higher version replaces the stored one, the same version with the same content is a
    /// no-op, and anything else is refused with a reason; refused records change nothing.
    pub fn upsert(&self, records: &[Record], actor: &str) -> Result<Vec<Outcome>> {
        let txn = self.db.begin_write()?;
        let mut outcomes = Vec::with_capacity(records.len());
        {
            let mut current = txn.open_table(RECORDS)?;
            let mut history = txn.open_table(HISTORY)?;
            let mut log = txn.open_table(LOG)?;
            let mut meta = txn.open_table(META)?;
            let mut seq = meta.get(META_LAST_SEQ)?.map(|v| v.value()).unwrap_or(0);
            let at_ms = now_ms();
            for record in records {
                let id = record.id();
                let version = record.version();
                let hash = content_hash(record)?;
                let existing = match current.get(id)? {
                    Some(bytes) => Some(serde_json::from_slice::<StoredRecord>(bytes.value())?),
                    None => None,
                };
                let outcome = match &existing {
                    None => Outcome::Inserted,
                    Some(old) if old.record.version() < version => {
                        Outcome::Replaced { previous_version: old.record.version() }
                    }
                    Some(old) if old.record.version() == version && old.hash == hash => Outcome::Unchanged,
                    Some(old) if old.record.version() == version => Outcome::Refused {
                        reason: format!(
                            "version {version} of `{id}` is already stored with different content; \
                             raise `version` to replace it"
                        ),
                    },
                    Some(old) => Outcome::Refused {
                        reason: format!(
                            "version {version} of `{id}` is older than the stored version {}",
                            old.record.version()
                        ),
                    },
                };
                if matches!(outcome, Outcome::Inserted | Outcome::Replaced { .. }) {
                    seq += 1;
                    let stored = StoredRecord { seq, hash, record: record.clone() };
                    current.insert(id, serde_json::to_vec(&stored)?.as_slice())?;
                    history.insert((id, version), serde_json::to_vec(record)?.as_slice())?;
                    let change = Change {
                        seq,
                        id: id.to_string(),
                        op: ChangeOp::Upsert { version },
                        at_ms,
                        actor: actor.to_string(),
                    };
                    log.insert(seq, serde_json::to_vec(&change)?.as_slice())?;
                }
                outcomes.push(outcome);
            }
            meta.insert(META_LAST_SEQ, seq)?;
        }
        txn.commit()?;
        Ok(outcomes)
    }

    /// Deletes records by id in one durable transaction; their history stays.
    pub fn delete(&self, ids: &[&str], actor: &str) -> Result<Vec<Outcome>> {
        let txn = self.db.begin_write()?;
        let mut outcomes = Vec::with_capacity(ids.len());
        {
            let mut current = txn.open_table(RECORDS)?;
            let mut log = txn.open_table(LOG)?;
            let mut meta = txn.open_table(META)?;
            let mut seq = meta.get(META_LAST_SEQ)?.map(|v| v.value()).unwrap_or(0);
            let at_ms = now_ms();
            for id in ids {
                if current.remove(*id)?.is_none() {
                    outcomes.push(Outcome::NotFound);
                    continue;
                }
                seq += 1;
                let change = Change { seq, id: id.to_string(), op: ChangeOp::Delete, at_ms, actor: actor.to_string() };
                log.insert(seq, serde_json::to_vec(&change)?.as_slice())?;
                outcomes.push(Outcome::Deleted);
            }
            meta.insert(META_LAST_SEQ, seq)?;
        }
        txn.commit()?;
        Ok(outcomes)
    }

    /// Sequence number of the newest committed change (0 for an empty store).
    pub fn last_seq(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get(META_LAST_SEQ)?.map(|v| v.value()).unwrap_or(0))
    }

    /// Changes with `seq > after`, oldest first, at most `limit` of them.
    pub fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>> {
        let txn = self.db.begin_read()?;
        let log = txn.open_table(LOG)?;
        let mut changes = Vec::new();
        for entry in log.range(after.saturating_add(1)..)?.take(limit) {
            let (_, bytes) = entry?;
            changes.push(serde_json::from_slice(bytes.value())?);
        }
        Ok(changes)
    }

    /// The current state of one record.
    pub fn get(&self, id: &str) -> Result<Option<StoredRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RECORDS)?;
        match table.get(id)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(bytes.value())?)),
            None => Ok(None),
        }
    }

    /// The current state of many records, read from one snapshot; missing ids give `None`.
    pub fn get_many<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Result<Vec<Option<StoredRecord>>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RECORDS)?;
        ids.into_iter()
            .map(|id| match table.get(id)? {
                Some(bytes) => Ok(Some(serde_json::from_slice(bytes.value())?)),
                None => Ok(None),
            })
            .collect()
    }

    /// Every stored version of a record, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<Record>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(HISTORY)?;
        let mut versions = Vec::new();
        for entry in table.range((id, 0)..=(id, u32::MAX))? {
            let (_, bytes) = entry?;
            versions.push(serde_json::from_slice(bytes.value())?);
        }
        Ok(versions)
    }

    /// Number of current records.
    pub fn len(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(RECORDS)?.len()?)
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Visits every current record from one snapshot, in id order (for rebuilding projections).
    pub fn for_each(&self, mut visit: impl FnMut(StoredRecord) -> Result<()>) -> Result<()> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RECORDS)?;
        for entry in table.iter()? {
            let (_, bytes) = entry?;
            visit(serde_json::from_slice(bytes.value())?)?;
        }
        Ok(())
    }
}
