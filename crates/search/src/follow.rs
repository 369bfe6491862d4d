//! A node following the shared store: catching its local copy and projections up with the
//! writes of other nodes, and saying how far behind it is.
//!
//! With the redb backend there is nothing to follow: the node is its own source of truth and is
//! always caught up. With PostgreSQL, [`Engine::follow`] replays what the local replica lacks
//! and brings every projection up to it; [`spawn_follower`] runs it whenever another node's
//! commit is announced (`LISTEN`) and at least every `limits.follow_poll_ms` (the fallback when
//! notifications are lost). PostgreSQL being away stops nothing but writes: reads answer from
//! the replica and the projections, flagged stale after `limits.store_stale_after_ms`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use store::{Backend, SyncReport};

use crate::{Engine, Result};

/// Files of the data directory that every node takes from the shared store when it has them:
/// the API key file (`DataLayout::KEYS_FILE`; hashes only), so that a key created or revoked
/// once (`gridkb keys ... --store postgres://...`) holds on every node.
pub const MIRRORED_FILES: [&str; 1] = [crate::DataLayout::KEYS_FILE];

/// What a node knows of its position against the source of truth.
#[derive(Debug, Clone, Default)]
pub(crate) struct FollowState {
    /// The last successful catch-up.
    last_contact: Option<Instant>,
    report: SyncReport,
    /// Why the last attempt failed, when it did.
    error: Option<String>,
    /// The first catch-up after start has completed.
    caught_up_once: bool,
    /// [`store::Store::replayed`] when the catalogue last took other nodes' writes in.
    replayed_seen: u64,
    /// The version of each mirrored file last written into the data directory.
    mirrored: std::collections::BTreeMap<&'static str, u64>,
}

/// The node's position, as `/readyz` and `/metrics` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StoreStatus {
    /// `redb` (this machine is the truth) or `postgres` (a node following PostgreSQL).
    pub backend: String,
    /// Newest change-log sequence number applied locally: in the replica and the lexical index.
    pub local_seq: u64,
    /// Newest change-log sequence number of the source of truth, as last seen.
    pub source_seq: u64,
    /// Change-log entries the node lacks (`source_seq - local_seq`).
    pub lag: u64,
    /// Milliseconds since the source of truth last answered (absent for redb, and before the
    /// first contact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_contact_ms: Option<u64>,
    /// No contact for longer than `limits.store_stale_after_ms`: answers may miss recent writes.
    pub stale: bool,
    /// Caught up enough to take traffic: the first catch-up done and the lag within
    /// `limits.follow_ready_lag`.
    pub ready: bool,
    /// Why the last contact failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Engine {
    /// Replays what the local copy of the store lacks and brings every projection up to it,
    /// under the write lock; returns what the store reported. Nothing to do for redb.
    pub fn follow(&self) -> Result<SyncReport> {
        let guard = self.write_lock()?;
        let synced = self.store.sync();
        let mut state = self.follow.lock().map_err(|_| self.poisoned())?;
        let report = match synced {
            Ok(report) => report,
            Err(e) => {
                // `/readyz` answers without a key: say what kind of failure, not where the
                // database is (the log has the details).
                state.error = Some(match &e {
                    store::Error::Unavailable(_) => "the record store is unreachable".to_string(),
                    _ => "the record store failed; see the log".to_string(),
                });
                tracing::debug!(error = %e, "catch-up failed");
                return Err(e.into());
            }
        };
        let replayed = self.store.replayed();
        if replayed != state.replayed_seen {
            // Other nodes changed working copies too (they are not in the change log): the
            // editors' catalogue is rebuilt from the replica on its next use.
            *self.catalogue.write().map_err(|_| self.poisoned())? = None;
            state.replayed_seen = replayed;
        }
        for name in MIRRORED_FILES {
            let Some(file) = self.store.shared_file(name)? else { continue };
            if state.mirrored.get(name) != Some(&file.version) {
                write_atomically(&self.data_dir().join(name), file.body.as_bytes())
                    .map_err(|e| self.data_dir_error(format!("cannot write {name}: {e}")))?;
                tracing::info!(file = name, version = file.version, "took the shared file from the store");
                state.mirrored.insert(name, file.version);
            }
        }
        drop(state);
        self.catch_up_locked(&guard)?;
        let mut state = self.follow.lock().map_err(|_| self.poisoned())?;
        state.last_contact = Some(Instant::now());
        state.report = SyncReport { local_seq: self.store.last_seq()?, ..report };
        state.error = None;
        state.caught_up_once = true;
        Ok(state.report)
    }

    /// How long the shared store has been out of contact, once that is past
    /// `limits.store_stale_after_ms` (`None` when fresh, and always for redb). Cheap: no I/O.
    pub fn stale_for(&self) -> Option<Duration> {
        if self.store.backend() == Backend::Redb {
            return None;
        }
        let since = self.follow.lock().ok()?.last_contact.map(|t| t.elapsed());
        match since {
            Some(since) if since <= self.limits().store_stale_after() => None,
            Some(since) => Some(since),
            None => Some(Duration::MAX),
        }
    }

    /// Where this node stands against the source of truth.
    pub fn store_status(&self) -> StoreStatus {
        let backend = self.store.backend();
        // Applied means searchable: the replica and the lexical index both hold it.
        let local_seq = self.store.last_seq().unwrap_or(0).min(self.lexical_seq().unwrap_or(0));
        if backend == Backend::Redb {
            return StoreStatus {
                backend: backend.code().into(),
                local_seq,
                source_seq: local_seq,
                lag: 0,
                since_contact_ms: None,
                stale: false,
                ready: true,
                error: None,
            };
        }
        let state = self.follow.lock().map(|s| s.clone()).unwrap_or_default();
        let source_seq = state.report.source_seq.max(local_seq);
        let lag = source_seq - local_seq;
        let since = state.last_contact.map(|t| t.elapsed());
        StoreStatus {
            backend: backend.code().into(),
            local_seq,
            source_seq,
            lag,
            since_contact_ms: since.map(|d| d.as_millis() as u64),
            stale: since.is_none_or(|d| d > self.limits().store_stale_after()),
            ready: state.caught_up_once && lag <= self.limits().follow_ready_lag,
            error: state.error,
        }
    }
}

/// Takes the shared files ([`MIRRORED_FILES`]) PostgreSQL holds into `data_dir` (created when
/// missing), before a node opens anything: `serve` reads the key file first.
pub fn take_shared_files(data_dir: &std::path::Path, options: &store::PgOptions) -> Result<()> {
    let mut files = store::SharedFiles::connect(options)?;
    for name in MIRRORED_FILES {
        if let Some(file) = files.get(name)? {
            let failed = |e: std::io::Error| crate::Error::DataDir {
                path: data_dir.display().to_string(),
                message: format!("cannot write {name}: {e}"),
            };
            std::fs::create_dir_all(data_dir).map_err(failed)?;
            write_atomically(&data_dir.join(name), file.body.as_bytes()).map_err(failed)?;
        }
    }
    Ok(())
}

/// Writes a file under a temporary name, fsyncs it, renames it over `path` and fsyncs the
/// directory: readers see the old file or the new one, never a part.
pub(crate) fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{name}.incoming"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Follows the source of truth in the background for as long as the process runs: a catch-up
/// whenever another node's commit is announced, and at least every `limits.follow_poll_ms`.
/// Does nothing (and starts no thread) for redb.
pub(crate) fn spawn_follower(engine: Arc<Engine>) -> std::io::Result<()> {
    let Some(mut listener) = engine.store().listener() else {
        return Ok(());
    };
    std::thread::Builder::new().name("store-follower".into()).spawn(move || {
        let poll = engine.limits().follow_poll();
        let mut failing = false;
        loop {
            let started = Instant::now();
            let waited = listener.wait(poll);
            match engine.follow() {
                Ok(report) => {
                    if failing {
                        tracing::info!(seq = report.local_seq, "the record store is reachable again");
                    }
                    failing = false;
                    if report.applied > 0 {
                        tracing::debug!(
                            applied = report.applied,
                            seq = report.local_seq,
                            "followed other nodes' writes"
                        );
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot follow the record store; serving the local copy");
                    }
                    failing = true;
                }
            }
            // A listener that fails at once (the database is down) must not spin: wait out the
            // rest of the poll interval before the next attempt.
            if waited.is_err() {
                std::thread::sleep(poll.saturating_sub(started.elapsed()).max(Duration::from_millis(50)));
            }
        }
    })?;
    Ok(())
}
