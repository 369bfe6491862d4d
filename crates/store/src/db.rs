//! The redb-backed source of truth: current records, their version history and the change log.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::audit::{Action, Actor, AuditEntry, AuditFilter, EditDone, EditPlan, RecordState, WorkingPlan};
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
/// id → the working copy ([`StoredRecord`] as JSON) of an item being edited: a draft or one in
/// review. Never projected into the indexes; agents and bots never see it.
const WORKING: TableDefinition<&str, &[u8]> = TableDefinition::new("working");
/// audit seq → [`AuditEntry`] as JSON.
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// (record id, audit seq) → (): the audit entries of one record without a scan.
const AUDIT_BY_RECORD: TableDefinition<(&str, u64), ()> = TableDefinition::new("audit_by_record");

const META_FORMAT: &str = "format_version";
const META_LAST_SEQ: &str = "last_seq";
const META_LAST_AUDIT: &str = "last_audit";

/// A record as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// Sequence number of the write that produced this state.
    pub seq: u64,
    /// blake3 of the record's JSON, to tell a true re-ingest from a conflicting one.
    pub hash: String,
    pub record: Record,
    /// Milliseconds since the Unix epoch of the write (0 in stores written before it was kept).
    #[serde(default)]
    pub saved_at_ms: u64,
    /// Who wrote this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_by: Option<Actor>,
    /// [`Actor::identity`] of whoever last wrote this record's content (not a status change):
    /// the four-eyes rule keeps them from approving it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
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
            txn.open_table(WORKING)?;
            txn.open_table(AUDIT)?;
            txn.open_table(AUDIT_BY_RECORD)?;
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
            let mut audit = AuditWriter::open(&txn, &meta)?;
            let mut seq = meta.get(META_LAST_SEQ)?.map(|v| v.value()).unwrap_or(0);
            let at_ms = now_ms();
            let who = Actor::local(actor);
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
                    let stored = StoredRecord {
                        seq,
                        hash,
                        record: record.clone(),
                        saved_at_ms: at_ms,
                        saved_by: Some(who.clone()),
                        author: Some(who.identity().to_string()),
                    };
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
                    audit.append(AuditEntry {
                        seq: 0,
                        at_ms,
                        actor: who.clone(),
                        action: Action::Ingest,
                        record: id.to_string(),
                        from_version: existing.as_ref().map(|old| old.record.version()),
                        to_version: Some(version),
                        from_status: existing.as_ref().and_then(|old| item_status(&old.record)),
                        to_status: item_status(record),
                        reason: None,
                    })?;
                }
                outcomes.push(outcome);
            }
            meta.insert(META_LAST_SEQ, seq)?;
            audit.finish(&mut meta)?;
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
            let mut audit = AuditWriter::open(&txn, &meta)?;
            let mut seq = meta.get(META_LAST_SEQ)?.map(|v| v.value()).unwrap_or(0);
            let at_ms = now_ms();
            for id in ids {
                let Some(old) = current.remove(*id)? else {
                    outcomes.push(Outcome::NotFound);
                    continue;
                };
                let old: StoredRecord = serde_json::from_slice(old.value())?;
                seq += 1;
                let change = Change { seq, id: id.to_string(), op: ChangeOp::Delete, at_ms, actor: actor.to_string() };
                log.insert(seq, serde_json::to_vec(&change)?.as_slice())?;
                audit.append(AuditEntry {
                    seq: 0,
                    at_ms,
                    actor: Actor::local(actor),
                    action: Action::Delete,
                    record: id.to_string(),
                    from_version: Some(old.record.version()),
                    to_version: None,
                    from_status: item_status(&old.record),
                    to_status: None,
                    reason: None,
                })?;
                outcomes.push(Outcome::Deleted);
            }
            meta.insert(META_LAST_SEQ, seq)?;
            audit.finish(&mut meta)?;
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

    /// Everything stored under `id`: the served record and the working copy.
    pub fn state(&self, id: &str) -> Result<RecordState> {
        let txn = self.db.begin_read()?;
        let served = txn.open_table(RECORDS)?;
        let working = txn.open_table(WORKING)?;
        read_state(&served, &working, id)
    }

    /// One stored version of a record.
    pub fn version(&self, id: &str, version: u32) -> Result<Option<Record>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(HISTORY)?;
        match table.get((id, version))? {
            Some(bytes) => Ok(Some(serde_json::from_slice(bytes.value())?)),
            None => Ok(None),
        }
    }

    /// Visits every working copy (drafts and items in review), in id order.
    pub fn for_each_working(&self, mut visit: impl FnMut(StoredRecord) -> Result<()>) -> Result<()> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(WORKING)?;
        for entry in table.iter()? {
            let (_, bytes) = entry?;
            visit(serde_json::from_slice(bytes.value())?)?;
        }
        Ok(())
    }

    /// Changes one record in one durable transaction: reads its [`RecordState`], lets `decide`
    /// refuse (its error is returned, nothing is written) or plan the change, then writes the new
    /// version(s), the change-log entry (when the served record changes) and the audit entry
    /// together. The version check of optimistic concurrency belongs in `decide`: it sees the
    /// state no other writer can change before this commits.
    pub fn edit<E>(
        &self,
        id: &str,
        actor: &Actor,
        decide: impl FnOnce(&RecordState) -> std::result::Result<EditPlan, E>,
    ) -> Result<std::result::Result<EditDone, E>> {
        let txn = self.db.begin_write()?;
        let done = {
            let mut served = txn.open_table(RECORDS)?;
            let mut working = txn.open_table(WORKING)?;
            let before = read_state(&served, &working, id)?;
            let plan = match decide(&before) {
                Ok(plan) => plan,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let mut history = txn.open_table(HISTORY)?;
            let mut log = txn.open_table(LOG)?;
            let mut meta = txn.open_table(META)?;
            let mut audit = AuditWriter::open(&txn, &meta)?;
            let at_ms = now_ms();
            let author = |record: &Record, previous: Option<&StoredRecord>| {
                if plan.action.authors_content() {
                    Some(actor.identity().to_string())
                } else {
                    previous.filter(|p| p.record.version() <= record.version()).and_then(|p| p.author.clone())
                }
            };
            let mut after = before.clone();
            let mut seq = None;
            let mut to = (None, None);
            if let Some(record) = &plan.served {
                if record.id() != id {
                    return Err(Error::Storage(format!("an edit of `{id}` planned a record `{}`", record.id())));
                }
                let next = meta.get(META_LAST_SEQ)?.map(|v| v.value()).unwrap_or(0) + 1;
                put_history(&mut history, record)?;
                let stored = StoredRecord {
                    seq: next,
                    hash: content_hash(record)?,
                    record: record.clone(),
                    saved_at_ms: at_ms,
                    saved_by: Some(actor.clone()),
                    author: author(record, before.head()),
                };
                served.insert(id, serde_json::to_vec(&stored)?.as_slice())?;
                let change = Change {
                    seq: next,
                    id: id.to_string(),
                    op: ChangeOp::Upsert { version: record.version() },
                    at_ms,
                    actor: actor.name.clone(),
                };
                log.insert(next, serde_json::to_vec(&change)?.as_slice())?;
                meta.insert(META_LAST_SEQ, next)?;
                to = (Some(record.version()), item_status(record));
                after.served = Some(stored);
                seq = Some(next);
            }
            match &plan.working {
                WorkingPlan::Keep => {}
                WorkingPlan::Clear => {
                    working.remove(id)?;
                    after.working = None;
                }
                WorkingPlan::Set(record) => {
                    if record.id() != id {
                        return Err(Error::Storage(format!("an edit of `{id}` planned a record `{}`", record.id())));
                    }
                    put_history(&mut history, record)?;
                    let stored = StoredRecord {
                        seq: 0,
                        hash: content_hash(record)?,
                        record: record.clone(),
                        saved_at_ms: at_ms,
                        saved_by: Some(actor.clone()),
                        author: author(record, before.head()),
                    };
                    working.insert(id, serde_json::to_vec(&stored)?.as_slice())?;
                    if to.0.is_none_or(|v| v < record.version()) {
                        to = (Some(record.version()), item_status(record));
                    }
                    after.working = Some(stored);
                }
            }
            let entry = audit.append(AuditEntry {
                seq: 0,
                at_ms,
                actor: actor.clone(),
                action: plan.action,
                record: id.to_string(),
                from_version: plan.from_version,
                to_version: to.0,
                from_status: plan.from_status,
                to_status: to.1,
                reason: plan.reason.clone(),
            })?;
            audit.finish(&mut meta)?;
            EditDone { audit: entry, state: after, seq }
        };
        txn.commit()?;
        Ok(Ok(done))
    }

    /// Audit entries matching `filter`, newest first, skipping `offset`; at most `limit`, and
    /// whether more follow.
    pub fn audit(&self, filter: &AuditFilter, offset: usize, limit: usize) -> Result<(Vec<AuditEntry>, bool)> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(AUDIT)?;
        let mut found = Vec::new();
        let mut skipped = 0;
        let mut take = |entry: AuditEntry| -> bool {
            if !filter.accepts(&entry) {
                return true;
            }
            if skipped < offset {
                skipped += 1;
                return true;
            }
            found.push(entry);
            found.len() <= limit
        };
        if let Some(record) = &filter.record {
            let index = txn.open_table(AUDIT_BY_RECORD)?;
            for key in index.range((record.as_str(), 0)..=(record.as_str(), u64::MAX))?.rev() {
                let (key, _) = key?;
                let (_, seq) = key.value();
                let Some(bytes) = table.get(seq)? else { continue };
                if !take(serde_json::from_slice(bytes.value())?) {
                    break;
                }
            }
        } else {
            for entry in table.iter()?.rev() {
                let (_, bytes) = entry?;
                if !take(serde_json::from_slice(bytes.value())?) {
                    break;
                }
            }
        }
        let more = found.len() > limit;
        found.truncate(limit);
        Ok((found, more))
    }
}

fn item_status(record: &Record) -> Option<crate::record::Status> {
    match record {
        Record::Item(item) => Some(item.status),
        Record::Entity(_) => None,
    }
}

fn read_state(
    served: &impl ReadableTable<&'static str, &'static [u8]>,
    working: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<RecordState> {
    let served = match served.get(id)? {
        Some(bytes) => Some(serde_json::from_slice(bytes.value())?),
        None => None,
    };
    let working = match working.get(id)? {
        Some(bytes) => Some(serde_json::from_slice(bytes.value())?),
        None => None,
    };
    Ok(RecordState { served, working })
}

/// Writes one version into the history, refusing to overwrite one: versions are never reused.
fn put_history(history: &mut redb::Table<'_, (&'static str, u32), &'static [u8]>, record: &Record) -> Result<()> {
    let key = (record.id(), record.version());
    if history.get(key)?.is_some() {
        return Err(Error::Storage(format!(
            "version {} of `{}` is already in the history; an edit must take a new version",
            record.version(),
            record.id()
        )));
    }
    history.insert(key, serde_json::to_vec(record)?.as_slice())?;
    Ok(())
}

/// Appends audit entries inside a write transaction, numbering them from the stored counter.
struct AuditWriter<'txn> {
    entries: redb::Table<'txn, u64, &'static [u8]>,
    by_record: redb::Table<'txn, (&'static str, u64), ()>,
    last: u64,
}

impl<'txn> AuditWriter<'txn> {
    fn open(txn: &'txn redb::WriteTransaction, meta: &redb::Table<'_, &'static str, u64>) -> Result<Self> {
        Ok(AuditWriter {
            entries: txn.open_table(AUDIT)?,
            by_record: txn.open_table(AUDIT_BY_RECORD)?,
            last: meta.get(META_LAST_AUDIT)?.map(|v| v.value()).unwrap_or(0),
        })
    }

    fn append(&mut self, mut entry: AuditEntry) -> Result<AuditEntry> {
        self.last += 1;
        entry.seq = self.last;
        self.entries.insert(self.last, serde_json::to_vec(&entry)?.as_slice())?;
        self.by_record.insert((entry.record.as_str(), self.last), ())?;
        Ok(entry)
    }

    fn finish(self, meta: &mut redb::Table<'_, &'static str, u64>) -> Result<()> {
        meta.insert(META_LAST_AUDIT, self.last)?;
        Ok(())
    }
}
