//! The redb store: current records, their version history, working copies, the audit trail and
//! the change log, in one embedded file.
//!
//! Alone it is the source of truth of one machine. Under [`crate::PgStore`] the same file is the
//! node's local replica of PostgreSQL: every write is planned here (in a transaction that is then
//! aborted), committed in PostgreSQL as a [`ChangeSet`], and replayed here by [`RedbStore::apply`]
//! in journal order, so that both backends share one implementation of the version rules.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::audit::{Action, Actor, AuditEntry, AuditFilter, EditDone, EditPlan, RecordState, WorkingPlan};
use crate::change_set::{ChangeSet, Mutation};
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
/// The last PostgreSQL journal entry replayed into this file (replicas only).
const META_JOURNAL: &str = "journal_applied";

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

/// The embedded store. Cheap to share behind an `Arc`; redb serialises writers itself.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn content_hash(record: &Record) -> Result<String> {
    let json = serde_json::to_vec(record)?;
    Ok(blake3::hash(&json).to_hex().to_string())
}

/// Whether a planned write is committed here (the redb backend) or only recorded (a replica,
/// which commits it in PostgreSQL first and replays it with [`RedbStore::apply`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Commit {
    Here,
    RecordOnly,
}

impl RedbStore {
    /// Opens (or creates) the store file, checking its format version.
    pub fn open(path: &Path) -> Result<RedbStore> {
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
        Ok(RedbStore { db })
    }

    /// Runs `plan` in one write transaction through a [`Writer`] that records every mutation.
    /// `plan` answering `None` (a refusal) writes nothing.
    pub(crate) fn write<T>(
        &self,
        commit: Commit,
        plan: impl FnOnce(&mut Writer<'_>) -> Result<Option<T>>,
    ) -> Result<Option<(T, ChangeSet)>> {
        let txn = self.db.begin_write()?;
        let planned = {
            let mut writer = Writer::open(&txn)?;
            match plan(&mut writer)? {
                Some(value) => Some((value, writer.finish()?)),
                None => None,
            }
        };
        match (&planned, commit) {
            (Some(_), Commit::Here) => {
                fail::fail_point!("store.commit");
                txn.commit()?;
                fail::fail_point!("store.committed");
            }
            (None, _) | (Some(_), Commit::RecordOnly) => txn.abort()?,
        }
        Ok(planned)
    }

    /// Replays journal entry `journal_seq` (a change set committed in PostgreSQL) in one durable
    /// transaction. Entries at or below the last one replayed are skipped, so replaying twice (the
    /// writer and the follower both see an entry) is harmless; returns whether it was applied.
    pub(crate) fn apply(&self, journal_seq: u64, set: &ChangeSet) -> Result<bool> {
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let applied = meta.get(META_JOURNAL)?.map(|v| v.value()).unwrap_or(0);
            if journal_seq <= applied {
                return Ok(false);
            }
            if journal_seq != applied + 1 {
                return Err(Error::Storage(format!(
                    "journal entry {journal_seq} arrived after {applied}: entries must be replayed in order"
                )));
            }
            meta.insert(META_JOURNAL, journal_seq)?;
        }
        {
            let mut writer = Writer::open(&txn)?;
            for mutation in &set.mutations {
                writer.replay(mutation)?;
            }
            writer.finish()?;
        }
        txn.commit()?;
        Ok(true)
    }

    /// The last PostgreSQL journal entry replayed into this file (0 for none).
    pub(crate) fn journal_applied(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get(META_JOURNAL)?.map(|v| v.value()).unwrap_or(0))
    }

    pub(crate) fn upsert_with(
        &self,
        commit: Commit,
        records: &[Record],
        actor: &str,
    ) -> Result<(Vec<Outcome>, ChangeSet)> {
        let planned = self.write(commit, |w| plan_upsert(w, records, actor).map(Some))?;
        planned.ok_or_else(|| Error::Storage("an upsert was refused as a whole".into()))
    }

    pub(crate) fn delete_with(&self, commit: Commit, ids: &[&str], actor: &str) -> Result<(Vec<Outcome>, ChangeSet)> {
        let planned = self.write(commit, |w| plan_delete(w, ids, actor).map(Some))?;
        planned.ok_or_else(|| Error::Storage("a delete was refused as a whole".into()))
    }

    pub(crate) fn edit_with(
        &self,
        commit: Commit,
        id: &str,
        actor: &Actor,
        decide: &mut dyn FnMut(&RecordState) -> Option<EditPlan>,
    ) -> Result<Option<(EditDone, ChangeSet)>> {
        self.write(commit, |w| plan_edit(w, id, actor, decide))
    }
}

impl crate::RecordStore for RedbStore {
    fn upsert(&self, records: &[Record], actor: &str) -> Result<Vec<Outcome>> {
        Ok(self.upsert_with(Commit::Here, records, actor)?.0)
    }

    fn delete(&self, ids: &[&str], actor: &str) -> Result<Vec<Outcome>> {
        Ok(self.delete_with(Commit::Here, ids, actor)?.0)
    }

    fn edit(
        &self,
        id: &str,
        actor: &Actor,
        decide: &mut dyn FnMut(&RecordState) -> Option<EditPlan>,
    ) -> Result<Option<EditDone>> {
        Ok(self.edit_with(Commit::Here, id, actor, decide)?.map(|(done, _)| done))
    }

    fn last_seq(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get(META_LAST_SEQ)?.map(|v| v.value()).unwrap_or(0))
    }

    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>> {
        let txn = self.db.begin_read()?;
        let log = txn.open_table(LOG)?;
        let mut changes = Vec::new();
        for entry in log.range(after.saturating_add(1)..)?.take(limit) {
            let (_, bytes) = entry?;
            changes.push(serde_json::from_slice(bytes.value())?);
        }
        Ok(changes)
    }

    fn get(&self, id: &str) -> Result<Option<StoredRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RECORDS)?;
        match table.get(id)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(bytes.value())?)),
            None => Ok(None),
        }
    }

    fn get_many(&self, ids: &[&str]) -> Result<Vec<Option<StoredRecord>>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RECORDS)?;
        ids.iter()
            .map(|id| match table.get(*id)? {
                Some(bytes) => Ok(Some(serde_json::from_slice(bytes.value())?)),
                None => Ok(None),
            })
            .collect()
    }

    fn history(&self, id: &str) -> Result<Vec<Record>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(HISTORY)?;
        let mut versions = Vec::new();
        for entry in table.range((id, 0)..=(id, u32::MAX))? {
            let (_, bytes) = entry?;
            versions.push(serde_json::from_slice(bytes.value())?);
        }
        Ok(versions)
    }

    fn len(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(RECORDS)?.len()?)
    }

    fn for_each(&self, visit: &mut dyn FnMut(StoredRecord) -> Result<()>) -> Result<()> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RECORDS)?;
        for entry in table.iter()? {
            let (_, bytes) = entry?;
            visit(serde_json::from_slice(bytes.value())?)?;
        }
        Ok(())
    }

    fn state(&self, id: &str) -> Result<RecordState> {
        let txn = self.db.begin_read()?;
        let served = txn.open_table(RECORDS)?;
        let working = txn.open_table(WORKING)?;
        read_state(&served, &working, id)
    }

    fn version(&self, id: &str, version: u32) -> Result<Option<Record>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(HISTORY)?;
        match table.get((id, version))? {
            Some(bytes) => Ok(Some(serde_json::from_slice(bytes.value())?)),
            None => Ok(None),
        }
    }

    fn for_each_working(&self, visit: &mut dyn FnMut(StoredRecord) -> Result<()>) -> Result<()> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(WORKING)?;
        for entry in table.iter()? {
            let (_, bytes) = entry?;
            visit(serde_json::from_slice(bytes.value())?)?;
        }
        Ok(())
    }

    fn audit(&self, filter: &AuditFilter, offset: usize, limit: usize) -> Result<(Vec<AuditEntry>, bool)> {
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

    fn sync(&self) -> Result<crate::SyncReport> {
        let seq = crate::RecordStore::last_seq(self)?;
        Ok(crate::SyncReport { applied: 0, local_seq: seq, source_seq: seq, journal: 0 })
    }

    fn backend(&self) -> crate::Backend {
        crate::Backend::Redb
    }
}

/// The version rules of a bulk write: a higher version replaces, the same version and content
/// is a no-op, anything else is refused with a reason.
fn plan_upsert(w: &mut Writer<'_>, records: &[Record], actor: &str) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::with_capacity(records.len());
    let at_ms = now_ms();
    let who = Actor::local(actor);
    for record in records {
        let id = record.id();
        let version = record.version();
        let hash = content_hash(record)?;
        let existing = w.served(id)?;
        let outcome = match &existing {
            None => Outcome::Inserted,
            Some(old) if old.record.version() < version => Outcome::Replaced { previous_version: old.record.version() },
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
            let seq = w.next_seq();
            let stored = StoredRecord {
                seq,
                hash,
                record: record.clone(),
                saved_at_ms: at_ms,
                saved_by: Some(who.clone()),
                author: Some(who.identity().to_string()),
            };
            w.put_served(id, stored)?;
            w.put_history(record, false)?;
            w.log(Change {
                seq,
                id: id.to_string(),
                op: ChangeOp::Upsert { version },
                at_ms,
                actor: actor.to_string(),
            })?;
            w.audit(AuditEntry {
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
    Ok(outcomes)
}

/// Deletes by id; the history stays.
fn plan_delete(w: &mut Writer<'_>, ids: &[&str], actor: &str) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::with_capacity(ids.len());
    let at_ms = now_ms();
    for id in ids {
        let Some(old) = w.remove_served(id)? else {
            outcomes.push(Outcome::NotFound);
            continue;
        };
        let seq = w.next_seq();
        w.log(Change { seq, id: id.to_string(), op: ChangeOp::Delete, at_ms, actor: actor.to_string() })?;
        w.audit(AuditEntry {
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
    Ok(outcomes)
}

/// One edit: reads the state, lets `decide` refuse (`None`) or plan, writes the plan.
fn plan_edit(
    w: &mut Writer<'_>,
    id: &str,
    actor: &Actor,
    decide: &mut dyn FnMut(&RecordState) -> Option<EditPlan>,
) -> Result<Option<EditDone>> {
    let before = w.state(id)?;
    let Some(plan) = decide(&before) else {
        return Ok(None);
    };
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
        let next = w.next_seq();
        w.put_history(record, true)?;
        let stored = StoredRecord {
            seq: next,
            hash: content_hash(record)?,
            record: record.clone(),
            saved_at_ms: at_ms,
            saved_by: Some(actor.clone()),
            author: author(record, before.head()),
        };
        w.put_served(id, stored.clone())?;
        w.log(Change {
            seq: next,
            id: id.to_string(),
            op: ChangeOp::Upsert { version: record.version() },
            at_ms,
            actor: actor.name.clone(),
        })?;
        to = (Some(record.version()), item_status(record));
        after.served = Some(stored);
        seq = Some(next);
    }
    match &plan.working {
        WorkingPlan::Keep => {}
        WorkingPlan::Clear => {
            w.remove_working(id)?;
            after.working = None;
        }
        WorkingPlan::Set(record) => {
            if record.id() != id {
                return Err(Error::Storage(format!("an edit of `{id}` planned a record `{}`", record.id())));
            }
            w.put_history(record, true)?;
            let stored = StoredRecord {
                seq: 0,
                hash: content_hash(record)?,
                record: record.clone(),
                saved_at_ms: at_ms,
                saved_by: Some(actor.clone()),
                author: author(record, before.head()),
            };
            w.put_working(id, stored.clone())?;
            if to.0.is_none_or(|v| v < record.version()) {
                to = (Some(record.version()), item_status(record));
            }
            after.working = Some(stored);
        }
    }
    let entry = w.audit(AuditEntry {
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
    Ok(Some(EditDone { audit: entry, state: after, seq }))
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

/// The tables of one write transaction, with every mutation recorded as it is made: the
/// [`ChangeSet`] a replica sends to PostgreSQL and replays.
pub(crate) struct Writer<'txn> {
    served: redb::Table<'txn, &'static str, &'static [u8]>,
    working: redb::Table<'txn, &'static str, &'static [u8]>,
    history: redb::Table<'txn, (&'static str, u32), &'static [u8]>,
    log: redb::Table<'txn, u64, &'static [u8]>,
    audit: redb::Table<'txn, u64, &'static [u8]>,
    audit_by_record: redb::Table<'txn, (&'static str, u64), ()>,
    meta: redb::Table<'txn, &'static str, u64>,
    last_seq: u64,
    last_audit: u64,
    recorded: Vec<Mutation>,
}

impl<'txn> Writer<'txn> {
    fn open(txn: &'txn redb::WriteTransaction) -> Result<Self> {
        let meta = txn.open_table(META)?;
        let last_seq = meta.get(META_LAST_SEQ)?.map(|v| v.value()).unwrap_or(0);
        let last_audit = meta.get(META_LAST_AUDIT)?.map(|v| v.value()).unwrap_or(0);
        Ok(Writer {
            served: txn.open_table(RECORDS)?,
            working: txn.open_table(WORKING)?,
            history: txn.open_table(HISTORY)?,
            log: txn.open_table(LOG)?,
            audit: txn.open_table(AUDIT)?,
            audit_by_record: txn.open_table(AUDIT_BY_RECORD)?,
            meta,
            last_seq,
            last_audit,
            recorded: Vec::new(),
        })
    }

    fn served(&self, id: &str) -> Result<Option<StoredRecord>> {
        match self.served.get(id)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(bytes.value())?)),
            None => Ok(None),
        }
    }

    fn state(&self, id: &str) -> Result<RecordState> {
        read_state(&self.served, &self.working, id)
    }

    /// The change-log sequence number the next logged change takes.
    fn next_seq(&self) -> u64 {
        self.last_seq + 1
    }

    fn put_served(&mut self, id: &str, stored: StoredRecord) -> Result<()> {
        self.served.insert(id, serde_json::to_vec(&stored)?.as_slice())?;
        self.recorded.push(Mutation::Served { id: id.to_string(), stored });
        Ok(())
    }

    fn remove_served(&mut self, id: &str) -> Result<Option<StoredRecord>> {
        let Some(old) = self.served.remove(id)? else { return Ok(None) };
        let old: StoredRecord = serde_json::from_slice(old.value())?;
        self.recorded.push(Mutation::ServedRemoved { id: id.to_string() });
        Ok(Some(old))
    }

    fn put_working(&mut self, id: &str, stored: StoredRecord) -> Result<()> {
        self.working.insert(id, serde_json::to_vec(&stored)?.as_slice())?;
        self.recorded.push(Mutation::Working { id: id.to_string(), stored });
        Ok(())
    }

    fn remove_working(&mut self, id: &str) -> Result<()> {
        self.working.remove(id)?;
        self.recorded.push(Mutation::WorkingRemoved { id: id.to_string() });
        Ok(())
    }

    /// Writes one version into the history. With `fresh`, refuses to overwrite one: an edit
    /// must take a new version (a re-ingest of a higher version may meet an old draft's).
    fn put_history(&mut self, record: &Record, fresh: bool) -> Result<()> {
        let key = (record.id(), record.version());
        if fresh && self.history.get(key)?.is_some() {
            return Err(Error::Storage(format!(
                "version {} of `{}` is already in the history; an edit must take a new version",
                record.version(),
                record.id()
            )));
        }
        self.history.insert(key, serde_json::to_vec(record)?.as_slice())?;
        self.recorded.push(Mutation::History { record: record.clone() });
        Ok(())
    }

    fn log(&mut self, change: Change) -> Result<()> {
        self.log.insert(change.seq, serde_json::to_vec(&change)?.as_slice())?;
        self.last_seq = self.last_seq.max(change.seq);
        self.recorded.push(Mutation::Log { change });
        Ok(())
    }

    /// Appends an audit entry, numbering it from the stored counter unless it has a number.
    fn audit(&mut self, mut entry: AuditEntry) -> Result<AuditEntry> {
        if entry.seq == 0 {
            entry.seq = self.last_audit + 1;
        }
        self.last_audit = self.last_audit.max(entry.seq);
        self.audit.insert(entry.seq, serde_json::to_vec(&entry)?.as_slice())?;
        self.audit_by_record.insert((entry.record.as_str(), entry.seq), ())?;
        self.recorded.push(Mutation::Audit { entry: entry.clone() });
        Ok(entry)
    }

    /// Makes one recorded mutation again, in a replica.
    fn replay(&mut self, mutation: &Mutation) -> Result<()> {
        match mutation {
            Mutation::Served { id, stored } => self.put_served(id, stored.clone()),
            Mutation::ServedRemoved { id } => self.remove_served(id).map(|_| ()),
            Mutation::Working { id, stored } => self.put_working(id, stored.clone()),
            Mutation::WorkingRemoved { id } => self.remove_working(id),
            Mutation::History { record } => self.put_history(record, false),
            Mutation::Log { change } => self.log(change.clone()),
            Mutation::Audit { entry } => self.audit(entry.clone()).map(|_| ()),
        }
    }

    fn finish(mut self) -> Result<ChangeSet> {
        self.meta.insert(META_LAST_SEQ, self.last_seq)?;
        self.meta.insert(META_LAST_AUDIT, self.last_audit)?;
        Ok(ChangeSet { mutations: self.recorded })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::RecordStore;
    use crate::record::{Entity, EntityClass};

    fn entity(id: &str, version: u32, label: &str) -> Record {
        Record::Entity(Entity {
            id: id.into(),
            class: EntityClass::Fault,
            label: label.into(),
            aliases: vec![],
            links: BTreeMap::new(),
            attrs: BTreeMap::new(),
            version,
        })
    }

    /// Every table of a store: served, working, change log, audit, history.
    type Everything = (Vec<StoredRecord>, Vec<StoredRecord>, Vec<Change>, Vec<AuditEntry>, Vec<Record>);

    fn everything(store: &RedbStore) -> Everything {
        let mut served = Vec::new();
        store
            .for_each(&mut |s| {
                served.push(s);
                Ok(())
            })
            .expect("served");
        let mut working = Vec::new();
        store
            .for_each_working(&mut |s| {
                working.push(s);
                Ok(())
            })
            .expect("working");
        let log = store.changes_since(0, usize::MAX).expect("log");
        let audit = store.audit(&AuditFilter::default(), 0, usize::MAX).expect("audit").0;
        let history = ["a", "b", "c"].iter().flat_map(|id| store.history(id).expect("history")).collect();
        (served, working, log, audit, history)
    }

    /// The change sets a store records, replayed in order into another file, give the same
    /// state: what a PostgreSQL node's replica relies on.
    #[test]
    fn replaying_the_recorded_change_sets_gives_the_same_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let origin = RedbStore::open(&dir.path().join("origin.redb")).expect("origin");
        let replica = RedbStore::open(&dir.path().join("replica.redb")).expect("replica");
        let mut sets = Vec::new();
        sets.push(origin.upsert_with(Commit::Here, &[entity("a", 1, "甲"), entity("b", 1, "乙")], "t").expect("w").1);
        sets.push(
            origin.upsert_with(Commit::Here, &[entity("a", 2, "甲二"), entity("a", 2, "甲二")], "t").expect("w").1,
        );
        sets.push(origin.delete_with(Commit::Here, &["b", "zz"], "t").expect("d").1);
        let actor = Actor::local("editor");
        let plan = |served: Option<Record>, working: WorkingPlan| EditPlan {
            served,
            working,
            action: Action::Update,
            reason: Some("why".into()),
            from_version: None,
            from_status: None,
        };
        let mut draft = Some(plan(None, WorkingPlan::Set(entity("c", 1, "丙"))));
        let (_, set) = origin.edit_with(Commit::Here, "c", &actor, &mut |_| draft.take()).expect("edit").expect("done");
        sets.push(set);
        let mut publish = Some(plan(Some(entity("c", 2, "丙二")), WorkingPlan::Clear));
        let (done, set) =
            origin.edit_with(Commit::Here, "c", &actor, &mut |_| publish.take()).expect("edit").expect("done");
        assert_eq!(done.seq, Some(5));
        sets.push(set);
        // A refusal records nothing; an only-unchanged write records an empty set.
        assert!(origin.edit_with(Commit::Here, "c", &actor, &mut |_| None).expect("refused").is_none());
        assert!(origin.upsert_with(Commit::Here, &[entity("a", 2, "甲二")], "t").expect("w").1.is_empty());
        for (n, set) in sets.iter().enumerate() {
            assert!(replica.apply(n as u64 + 1, set).expect("apply"));
        }
        assert!(!replica.apply(2, &sets[1]).expect("again"), "an entry replayed twice is skipped");
        assert!(replica.apply(9, &sets[0]).is_err(), "a gap is refused");
        assert_eq!(everything(&origin), everything(&replica));
        assert_eq!(replica.last_seq().expect("seq"), 5);
        assert_eq!(replica.journal_applied().expect("journal"), 5);
        // Planned but not committed here: the store is unchanged, the set is complete.
        let (_, set) = origin.upsert_with(Commit::RecordOnly, &[entity("d", 1, "丁")], "t").expect("w");
        assert_eq!(origin.get("d").expect("get"), None);
        assert_eq!(set.changes().map(|c| c.seq).collect::<Vec<_>>(), vec![6]);
    }
}
