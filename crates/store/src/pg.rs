//! PostgreSQL as the shared source of truth, with a local redb replica on each node.
//!
//! Tables (created on first use): `gridkb_records`, `gridkb_versions`, `gridkb_working`,
//! `gridkb_changes` (the change log), `gridkb_audit` — what an operator queries, backs up and
//! fails over — and `gridkb_journal`, one row per write transaction holding its [`ChangeSet`],
//! which every node replays in order into its replica.
//!
//! Ordering: every write takes `pg_advisory_xact_lock(WRITE_LOCK)` first, so writes are
//! serialised cluster-wide; under the lock a statement sees every earlier commit, the writer
//! replays what its replica lacks, plans against it, and numbers its journal entry, change-log
//! and audit entries max + 1. The lock is held until commit, so the commit order is the number
//! order: a reader that has seen entry n can never later find an entry below n (no gap to skip,
//! which a plain sequence would allow, since sequence values are taken before commit). The cost
//! is one writer at a time cluster-wide — which is what the engine already does per node, and
//! what editors' writes (a few per second) and bulk imports (batched) need.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ::postgres::{Client, Config, NoTls, Transaction};
use fallible_iterator::FallibleIterator;

use crate::change_set::{ChangeSet, Mutation};
use crate::db::{Commit, RedbStore};
use crate::{
    Actor, AuditEntry, AuditFilter, Backend, Change, ChangeListener, ChangeOp, EditDone, EditPlan, Error, Outcome,
    Record, RecordState, RecordStore, Result, StoredRecord, SyncReport,
};

/// The advisory lock key every writer takes ("gridkb" in ASCII).
const WRITE_LOCK: i64 = 0x6772_6964_6b62;
/// The NOTIFY channel a commit announces itself on.
const CHANNEL: &str = "gridkb_journal";
/// Bumped when the tables below change incompatibly.
const SCHEMA_VERSION: i64 = 1;
/// Journal entries fetched per round trip while catching up.
const SYNC_BATCH: i64 = 64;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS gridkb_meta (key text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE IF NOT EXISTS gridkb_journal (
    seq bigint PRIMARY KEY,
    committed_at timestamptz NOT NULL DEFAULT now(),
    body json NOT NULL
);
CREATE TABLE IF NOT EXISTS gridkb_records (id text PRIMARY KEY, seq bigint NOT NULL, body json NOT NULL);
CREATE TABLE IF NOT EXISTS gridkb_versions (
    id text NOT NULL, version bigint NOT NULL, body json NOT NULL, PRIMARY KEY (id, version)
);
CREATE TABLE IF NOT EXISTS gridkb_working (id text PRIMARY KEY, body json NOT NULL);
CREATE TABLE IF NOT EXISTS gridkb_changes (
    seq bigint PRIMARY KEY, id text NOT NULL, op text NOT NULL, version bigint,
    at_ms bigint NOT NULL, actor text NOT NULL, journal_seq bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS gridkb_audit (
    seq bigint PRIMARY KEY, record text NOT NULL, at_ms bigint NOT NULL, body json NOT NULL
);
CREATE INDEX IF NOT EXISTS gridkb_audit_record ON gridkb_audit (record, seq);
CREATE TABLE IF NOT EXISTS gridkb_files (
    name text PRIMARY KEY, version bigint NOT NULL, body text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
";

/// How to reach PostgreSQL. The password never travels in the URL (a URL ends up in process
/// lists, shell histories and logs): it comes from the environment or a file, read by the binary.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user@host:port/dbname` (or the key=value form), without a password.
    pub url: String,
    pub password: Option<String>,
    /// How long a connection attempt may take.
    pub connect_timeout: Duration,
}

impl fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl PgOptions {
    /// The driver's configuration, refusing a password in the URL.
    fn config(&self) -> Result<(Config, String)> {
        let mut config = Config::from_str(&self.url)
            .map_err(|e| Error::Config(format!("not a PostgreSQL URL ({e}); expected postgres://user@host:port/db")))?;
        if config.get_password().is_some() {
            return Err(Error::Config(
                "the PostgreSQL URL carries a password; remove it and set PGPASSWORD or a password file".into(),
            ));
        }
        if let Some(password) = &self.password {
            config.password(password.as_str());
        }
        config.connect_timeout(self.connect_timeout);
        // A dead peer (a pulled cable, not a restart) fails a query within seconds, not minutes.
        config.tcp_user_timeout(self.connect_timeout.max(Duration::from_secs(1)));
        config.keepalives_idle(Duration::from_secs(10));
        config.application_name("gridkb");
        Ok((config.clone(), describe(&config)))
    }
}

/// `user@host:port/db`, for messages: never the password.
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(::postgres::config::Host::Tcp(h)) => h.clone(),
        Some(::postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        config.get_user().unwrap_or("?"),
        config.get_dbname().or(config.get_user()).unwrap_or("?")
    )
}

/// Turns a driver error into ours: the connection's troubles (SQLSTATE classes 08, 53, 57 and
/// no SQLSTATE at all) are transient [`Error::Unavailable`]; anything else is a storage error.
fn pg_error(target: &str) -> impl Fn(::postgres::Error) -> Error + '_ {
    move |e| match e.code().map(|c| c.code().get(..2).unwrap_or("").to_string()) {
        Some(class) if !matches!(class.as_str(), "08" | "53" | "57") => {
            let message = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string());
            Error::Storage(format!("PostgreSQL at {target}: {message}"))
        }
        _ => Error::Unavailable(format!("PostgreSQL at {target}: {e}")),
    }
}

/// A small file every node mirrors into its data directory (the API key file), with a version
/// that grows with every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFile {
    pub version: u64,
    pub body: String,
}

/// Files shared through PostgreSQL (`gridkb_files`), for the command line: no replica needed.
pub struct SharedFiles {
    client: Client,
    target: String,
}

impl fmt::Debug for SharedFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedFiles").field("target", &self.target).finish_non_exhaustive()
    }
}

impl SharedFiles {
    /// Connects (creating gridkb's tables when missing).
    pub fn connect(options: &PgOptions) -> Result<SharedFiles> {
        let (config, target) = options.config()?;
        let mut client = config.connect(NoTls).map_err(pg_error(&target))?;
        create_schema(&mut client, &target)?;
        Ok(SharedFiles { client, target })
    }

    pub fn get(&mut self, name: &str) -> Result<Option<SharedFile>> {
        read_shared_file(&mut self.client, &self.target, name)
    }

    /// Stores `body` as the next version of `name` when the stored version is still `expected`
    /// (0: none yet); answers false, writing nothing, when someone else changed it meanwhile.
    pub fn put(&mut self, name: &str, body: &str, expected: u64) -> Result<bool> {
        let target = self.target.as_str();
        let changed = if expected == 0 {
            self.client
                .execute(
                    "INSERT INTO gridkb_files (name, version, body) VALUES ($1, 1, $2) ON CONFLICT (name) DO NOTHING",
                    &[&name, &body],
                )
                .map_err(pg_error(target))?
        } else {
            self.client
                .execute(
                    "UPDATE gridkb_files SET version = version + 1, body = $2, updated_at = now()
                     WHERE name = $1 AND version = $3",
                    &[&name, &body, &to_i64(expected)?],
                )
                .map_err(pg_error(target))?
        };
        if changed == 1 {
            self.client.execute("SELECT pg_notify($1, 'file')", &[&CHANNEL]).map_err(pg_error(target))?;
        }
        Ok(changed == 1)
    }
}

fn read_shared_file(client: &mut Client, target: &str, name: &str) -> Result<Option<SharedFile>> {
    let row = client
        .query_opt("SELECT version, body FROM gridkb_files WHERE name = $1", &[&name])
        .map_err(pg_error(target))?;
    let Some(row) = row else { return Ok(None) };
    let version: i64 = row.try_get(0).map_err(pg_error(target))?;
    let body: String = row.try_get(1).map_err(pg_error(target))?;
    Ok(Some(SharedFile { version: to_u64(version)?, body }))
}

/// The PostgreSQL backend: writes in PostgreSQL, reads from the local replica.
pub struct PgStore {
    local: RedbStore,
    config: Config,
    target: String,
    /// The connection writes and catch-ups use; `None` after it failed (reconnected on use).
    client: Mutex<Option<Client>>,
    /// The newest change-log number seen in PostgreSQL.
    source_seq: Mutex<u64>,
    /// Journal entries of other nodes replayed into the replica so far.
    replayed: AtomicU64,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore").field("target", &self.target).finish_non_exhaustive()
    }
}

impl PgStore {
    /// Opens the replica at `replica` and, when PostgreSQL answers, creates the tables it lacks
    /// and catches the replica up. PostgreSQL being away is not an error here: the node serves
    /// what its replica holds and [`RecordStore::sync`] keeps trying.
    pub fn open(replica: &Path, options: &PgOptions) -> Result<PgStore> {
        let (config, target) = options.config()?;
        let local = RedbStore::open(replica)?;
        if local.journal_applied()? == 0 && local.last_seq()? > 0 {
            return Err(Error::Diverged(format!(
                "{} holds records of its own (a single-machine store), not a replica of PostgreSQL; \
                 start the node on an empty data directory and load records into PostgreSQL with \
                 `gridkb ingest --store postgres://...`",
                replica.display()
            )));
        }
        let store = PgStore {
            local,
            config,
            target,
            client: Mutex::new(None),
            source_seq: Mutex::new(0),
            replayed: AtomicU64::new(0),
        };
        match store.with_client(create_schema) {
            Ok(()) => {}
            Err(Error::Unavailable(reason)) => {
                tracing::warn!(%reason, "PostgreSQL is unavailable; serving the local replica until it returns");
            }
            Err(e) => return Err(e),
        }
        Ok(store)
    }

    /// Runs `work` on the shared connection, connecting first when there is none, and drops the
    /// connection when it failed so the next call reconnects.
    fn with_client<T>(&self, work: impl FnOnce(&mut Client, &str) -> Result<T>) -> Result<T> {
        let mut guard =
            self.client.lock().map_err(|_| Error::Storage("the PostgreSQL connection lock is poisoned".into()))?;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(self.config.connect(NoTls).map_err(pg_error(&self.target))?);
        }
        let Some(client) = guard.as_mut() else {
            return Err(Error::Unavailable(format!("PostgreSQL at {}: no connection", self.target)));
        };
        let result = work(client, &self.target);
        if matches!(result, Err(Error::Unavailable(_))) {
            *guard = None;
        }
        result
    }

    /// Replays into the replica every journal entry it lacks, as `tx` sees them.
    fn pull(&self, tx: &mut Transaction<'_>, target: &str) -> Result<u64> {
        let mut applied = 0;
        loop {
            let after = self.local.journal_applied()?;
            let rows = tx
                .query(
                    "SELECT seq, body::text FROM gridkb_journal WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&to_i64(after)?, &SYNC_BATCH],
                )
                .map_err(pg_error(target))?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let seq: i64 = row.try_get(0).map_err(pg_error(target))?;
                let body: String = row.try_get(1).map_err(pg_error(target))?;
                let set: ChangeSet = serde_json::from_str(&body)?;
                if self.local.apply(to_u64(seq)?, &set)? {
                    applied += 1;
                    self.replayed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(applied)
    }

    /// One write: takes the cluster-wide write lock, catches the replica up, plans against it,
    /// commits the plan's change set in PostgreSQL, then replays it into the replica.
    fn write<T>(&self, plan: impl FnOnce(&RedbStore) -> Result<Option<(T, ChangeSet)>>) -> Result<Option<T>> {
        self.with_client(|client, target| {
            let mut tx = client.transaction().map_err(pg_error(target))?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK]).map_err(pg_error(target))?;
            self.pull(&mut tx, target)?;
            let journal = self.local.journal_applied()?;
            let newest: i64 = tx
                .query_one("SELECT coalesce(max(seq), 0) FROM gridkb_journal", &[])
                .and_then(|row| row.try_get(0))
                .map_err(pg_error(target))?;
            if to_u64(newest)? != journal {
                return Err(Error::Diverged(format!(
                    "the local replica has replayed journal entry {journal} but PostgreSQL at {target} ends at {newest}: \
                     this data directory follows another database; start the node on an empty data directory"
                )));
            }
            let Some((value, set)) = plan(&self.local)? else {
                return Ok(None);
            };
            if set.is_empty() {
                return Ok(Some(value));
            }
            let seq = journal + 1;
            write_set(&mut tx, target, seq, &set)?;
            tx.commit().map_err(pg_error(target))?;
            if let Some(change) = set.changes().last()
                && let Ok(mut source) = self.source_seq.lock()
            {
                *source = (*source).max(change.seq);
            }
            self.local.apply(seq, &set)?;
            Ok(Some(value))
        })
    }
}

fn to_i64(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::Storage(format!("{n} does not fit PostgreSQL's bigint")))
}

fn to_u64(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| Error::Storage(format!("PostgreSQL holds a negative sequence number {n}")))
}

/// Creates the tables (once, under the write lock so that two nodes starting together do not
/// race) and checks the schema version.
fn create_schema(client: &mut Client, target: &str) -> Result<()> {
    let mut tx = client.transaction().map_err(pg_error(target))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK]).map_err(pg_error(target))?;
    tx.batch_execute(SCHEMA).map_err(pg_error(target))?;
    let found: Option<i64> = tx
        .query_opt("SELECT value FROM gridkb_meta WHERE key = 'schema_version'", &[])
        .map_err(pg_error(target))?
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(pg_error(target))?;
    match found {
        None => {
            tx.execute("INSERT INTO gridkb_meta (key, value) VALUES ('schema_version', $1)", &[&SCHEMA_VERSION])
                .map_err(pg_error(target))?;
        }
        Some(SCHEMA_VERSION) => {}
        Some(other) => {
            return Err(Error::Format {
                path: target.to_string(),
                found: other as u64,
                expected: SCHEMA_VERSION as u64,
            });
        }
    }
    tx.commit().map_err(pg_error(target))
}

/// Writes one change set: its journal entry, the tables it changes, and the notification.
fn write_set(tx: &mut Transaction<'_>, target: &str, seq: u64, set: &ChangeSet) -> Result<()> {
    let err = pg_error(target);
    let seq = to_i64(seq)?;
    tx.execute(
        "INSERT INTO gridkb_journal (seq, body) VALUES ($1, $2::text::json)",
        &[&seq, &serde_json::to_string(set)?],
    )
    .map_err(&err)?;
    for mutation in &set.mutations {
        match mutation {
            Mutation::Served { id, stored } => tx.execute(
                "INSERT INTO gridkb_records (id, seq, body) VALUES ($1, $2, $3::text::json)
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, body = excluded.body",
                &[id, &to_i64(stored.seq)?, &serde_json::to_string(stored)?],
            ),
            Mutation::ServedRemoved { id } => tx.execute("DELETE FROM gridkb_records WHERE id = $1", &[id]),
            Mutation::Working { id, stored } => tx.execute(
                "INSERT INTO gridkb_working (id, body) VALUES ($1, $2::text::json)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                &[id, &serde_json::to_string(stored)?],
            ),
            Mutation::WorkingRemoved { id } => tx.execute("DELETE FROM gridkb_working WHERE id = $1", &[id]),
            Mutation::History { record } => tx.execute(
                "INSERT INTO gridkb_versions (id, version, body) VALUES ($1, $2, $3::text::json)
                 ON CONFLICT (id, version) DO UPDATE SET body = excluded.body",
                &[&record.id(), &i64::from(record.version()), &serde_json::to_string(record)?],
            ),
            Mutation::Log { change } => {
                let (op, version) = match change.op {
                    ChangeOp::Upsert { version } => ("upsert", Some(i64::from(version))),
                    ChangeOp::Delete => ("delete", None),
                };
                tx.execute(
                    "INSERT INTO gridkb_changes (seq, id, op, version, at_ms, actor, journal_seq)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[&to_i64(change.seq)?, &change.id, &op, &version, &to_i64(change.at_ms)?, &change.actor, &seq],
                )
            }
            Mutation::Audit { entry } => tx.execute(
                "INSERT INTO gridkb_audit (seq, record, at_ms, body) VALUES ($1, $2, $3, $4::text::json)",
                &[&to_i64(entry.seq)?, &entry.record, &to_i64(entry.at_ms)?, &serde_json::to_string(entry)?],
            ),
        }
        .map_err(&err)?;
    }
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &seq.to_string()]).map_err(&err)?;
    Ok(())
}

impl RecordStore for PgStore {
    fn upsert(&self, records: &[Record], actor: &str) -> Result<Vec<Outcome>> {
        let written = self.write(|local| local.upsert_with(Commit::RecordOnly, records, actor).map(Some))?;
        written.ok_or_else(|| Error::Storage("an upsert was refused as a whole".into()))
    }

    fn delete(&self, ids: &[&str], actor: &str) -> Result<Vec<Outcome>> {
        let written = self.write(|local| local.delete_with(Commit::RecordOnly, ids, actor).map(Some))?;
        written.ok_or_else(|| Error::Storage("a delete was refused as a whole".into()))
    }

    fn edit(
        &self,
        id: &str,
        actor: &Actor,
        decide: &mut dyn FnMut(&RecordState) -> Option<EditPlan>,
    ) -> Result<Option<EditDone>> {
        self.write(|local| local.edit_with(Commit::RecordOnly, id, actor, decide))
    }

    fn last_seq(&self) -> Result<u64> {
        self.local.last_seq()
    }

    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>> {
        self.local.changes_since(after, limit)
    }

    fn get(&self, id: &str) -> Result<Option<StoredRecord>> {
        self.local.get(id)
    }

    fn get_many(&self, ids: &[&str]) -> Result<Vec<Option<StoredRecord>>> {
        self.local.get_many(ids)
    }

    fn history(&self, id: &str) -> Result<Vec<Record>> {
        self.local.history(id)
    }

    fn len(&self) -> Result<u64> {
        RecordStore::len(&self.local)
    }

    fn for_each(&self, visit: &mut dyn FnMut(StoredRecord) -> Result<()>) -> Result<()> {
        self.local.for_each(visit)
    }

    fn state(&self, id: &str) -> Result<RecordState> {
        self.local.state(id)
    }

    fn version(&self, id: &str, version: u32) -> Result<Option<Record>> {
        self.local.version(id, version)
    }

    fn for_each_working(&self, visit: &mut dyn FnMut(StoredRecord) -> Result<()>) -> Result<()> {
        self.local.for_each_working(visit)
    }

    fn audit(&self, filter: &AuditFilter, offset: usize, limit: usize) -> Result<(Vec<AuditEntry>, bool)> {
        self.local.audit(filter, offset, limit)
    }

    fn sync(&self) -> Result<SyncReport> {
        let (applied, source_seq) = self.with_client(|client, target| {
            let mut tx = client.transaction().map_err(pg_error(target))?;
            let applied = self.pull(&mut tx, target)?;
            let newest: i64 = tx
                .query_one("SELECT coalesce(max(seq), 0) FROM gridkb_journal", &[])
                .and_then(|row| row.try_get(0))
                .map_err(pg_error(target))?;
            let journal = self.local.journal_applied()?;
            if journal > to_u64(newest)? {
                return Err(Error::Diverged(format!(
                    "the local replica has replayed journal entry {journal} but PostgreSQL at {target} ends at {newest}: \
                     this data directory follows another database; start the node on an empty data directory"
                )));
            }
            let source: i64 = tx
                .query_one("SELECT coalesce(max(seq), 0) FROM gridkb_changes", &[])
                .and_then(|row| row.try_get(0))
                .map_err(pg_error(target))?;
            tx.commit().map_err(pg_error(target))?;
            Ok((applied, to_u64(source)?))
        })?;
        if let Ok(mut seen) = self.source_seq.lock() {
            *seen = source_seq;
        }
        Ok(SyncReport {
            applied,
            local_seq: self.local.last_seq()?,
            source_seq,
            journal: self.local.journal_applied()?,
        })
    }

    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn replayed(&self) -> u64 {
        self.replayed.load(Ordering::Relaxed)
    }

    fn shared_file(&self, name: &str) -> Result<Option<SharedFile>> {
        self.with_client(|client, target| read_shared_file(client, target, name))
    }

    fn listener(&self) -> Option<Box<dyn ChangeListener>> {
        Some(Box::new(PgListener { config: self.config.clone(), target: self.target.clone(), client: None }))
    }
}

/// `LISTEN`s for other nodes' commits on a connection of its own.
pub struct PgListener {
    config: Config,
    target: String,
    client: Option<Client>,
}

impl fmt::Debug for PgListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgListener").field("target", &self.target).field("connected", &self.client.is_some()).finish()
    }
}

impl ChangeListener for PgListener {
    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let target = self.target.as_str();
        if self.client.as_ref().is_none_or(Client::is_closed) {
            let mut client = self.config.connect(NoTls).map_err(pg_error(target))?;
            client.batch_execute(&format!("LISTEN {CHANNEL}")).map_err(pg_error(target))?;
            self.client = Some(client);
        }
        let Some(mut client) = self.client.take() else {
            return Err(Error::Unavailable(format!("PostgreSQL at {target}: no connection")));
        };
        let woken = {
            let mut notifications = client.notifications();
            let woken = notifications.timeout_iter(timeout).next().map(|n| n.is_some());
            // Whatever else arrived meanwhile is covered by the same catch-up.
            let _ = notifications.iter().count();
            woken
        };
        let woken = woken.map_err(pg_error(target))?;
        if !client.is_closed() {
            self.client = Some(client);
        }
        Ok(woken)
    }
}
