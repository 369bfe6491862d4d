//! The graph as a running engine holds it: loaded at start — at once, or on a background thread
//! while the engine answers without it — with the entity linker built from its thesaurus, and
//! kept up to date from the record store's change log.
//!
//! # Consistency
//!
//! Catching up reads records from the store and then applies them; two catch-ups running at once
//! could apply an older read after a newer one. So every catch-up, the loader's final one
//! included, runs under one lock, and the graph becomes visible ([`LiveGraph::ready`]) inside
//! that lock, after the loader has applied every change the store logged since its snapshot. A
//! write that arrives while the graph loads is stored, finds no graph to update, and is applied
//! by the loader's catch-up; a write after that finds the graph ready and updates it itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;

use crate::error::{GraphError, Result};
use crate::graph::{Graph, LoadReport};
use crate::linker::SharedLinker;
use crate::thesaurus::Thesaurus;

/// Called with the thesaurus after the load and after every change of it, once the new linker
/// is in use: the place to rebuild what else comes from the thesaurus (synonyms, jieba words).
pub type ThesaurusHook = Box<dyn Fn(&Thesaurus) + Send + Sync>;

/// Where the load stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadState {
    Loading,
    Ready,
    /// The load failed (the message says why); searches go on without the graph until a
    /// restart.
    Failed(String),
}

/// Holds a background load back until opened: lets tests (or a caller that wants other work
/// done first) search while the graph is still loading.
#[derive(Debug, Clone, Default)]
pub struct LoadGate(Arc<(Mutex<bool>, Condvar)>);

impl LoadGate {
    pub fn new() -> LoadGate {
        LoadGate::default()
    }

    /// Lets the load start (idempotent).
    pub fn open(&self) {
        *lock(&self.0.0) = true;
        self.0.1.notify_all();
    }

    fn wait(&self) {
        let mut open = lock(&self.0.0);
        while !*open {
            open = self.0.1.wait(open).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// The knowledge graph and its linker, as loaded (see the module documentation).
pub struct LiveGraph {
    shared: Arc<Shared>,
    loader: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    ready: OnceLock<Loaded>,
    failed: OnceLock<String>,
    /// Held by every catch-up; see the module documentation.
    sync: Mutex<()>,
    /// Set (and signalled) when the load has ended, loaded or failed.
    ended: Mutex<bool>,
    ended_signal: Condvar,
    cancel: AtomicBool,
    /// Store changes applied per graph transaction while catching up.
    batch: usize,
    hook: Option<ThesaurusHook>,
    gate: Option<LoadGate>,
}

struct Loaded {
    graph: Graph,
    linker: SharedLinker,
}

impl std::fmt::Debug for LiveGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveGraph").field("state", &self.state()).finish_non_exhaustive()
    }
}

impl LiveGraph {
    /// Loads the graph now and returns it ready. `batch` is the number of store changes applied
    /// per graph transaction when catching up; `hook` sees every thesaurus.
    pub fn load(records: &store::Store, batch: usize, hook: Option<ThesaurusHook>) -> Result<LiveGraph> {
        let shared = Arc::new(Shared::new(batch, hook, None));
        let report = shared.load(records)?;
        tracing::info!(triples = report.triples, ms = report.millis, "knowledge graph loaded");
        Ok(LiveGraph { shared, loader: Mutex::new(None) })
    }

    /// Starts loading the graph on a background thread and returns at once; until the load
    /// ends, [`LiveGraph::ready`] is `None` and [`LiveGraph::catch_up`] leaves the work to the
    /// loader. With a `gate`, the load starts when the gate opens. Dropping the `LiveGraph`
    /// cancels the load and waits for the thread.
    pub fn spawn(
        records: Arc<store::Store>,
        batch: usize,
        hook: Option<ThesaurusHook>,
        gate: Option<LoadGate>,
    ) -> Result<LiveGraph> {
        let shared = Arc::new(Shared::new(batch, hook, gate));
        let worker = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("graph-loader".into())
            .spawn(move || match worker.load(&records) {
                Ok(report) => {
                    tracing::info!(
                        triples = report.triples,
                        ms = report.millis,
                        "knowledge graph loaded in the background"
                    );
                }
                Err(GraphError::Cancelled) => tracing::debug!("graph load cancelled"),
                Err(e) => tracing::error!(error = %e, "the knowledge graph did not load; searching without it"),
            })
            .map_err(|e| GraphError::Internal(format!("cannot start the graph loader: {e}")))?;
        Ok(LiveGraph { shared, loader: Mutex::new(Some(handle)) })
    }

    /// The graph and its linker, once loaded.
    pub fn ready(&self) -> Option<(&Graph, &SharedLinker)> {
        self.shared.ready.get().map(|l| (&l.graph, &l.linker))
    }

    /// The graph, once loaded.
    pub fn graph(&self) -> Option<&Graph> {
        self.ready().map(|(graph, _)| graph)
    }

    pub fn state(&self) -> LoadState {
        if self.shared.ready.get().is_some() {
            LoadState::Ready
        } else if let Some(reason) = self.shared.failed.get() {
            LoadState::Failed(reason.clone())
        } else {
            LoadState::Loading
        }
    }

    /// Blocks until the load has ended; the graph, or why there is none.
    pub fn wait(&self) -> Result<&Graph> {
        let mut ended = lock(&self.shared.ended);
        while !*ended {
            ended = self.shared.ended_signal.wait(ended).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        drop(ended);
        match (self.graph(), self.shared.failed.get()) {
            (Some(graph), _) => Ok(graph),
            (None, Some(reason)) => Err(GraphError::Internal(format!("the knowledge graph did not load: {reason}"))),
            (None, None) => Err(GraphError::Cancelled),
        }
    }

    /// Applies every store change the graph lacks, rebuilding the linker (and calling the hook)
    /// when an entity changed. While the graph loads this does nothing: the loader catches up
    /// before the graph is shown. After a failed load it does nothing either.
    pub fn catch_up(&self, records: &store::Store) -> Result<()> {
        let _sync = lock(&self.shared.sync);
        match self.shared.ready.get() {
            Some(loaded) => self.shared.catch_up(loaded, records),
            None => Ok(()),
        }
    }
}

impl Drop for LiveGraph {
    fn drop(&mut self) {
        self.shared.cancel.store(true, Ordering::Relaxed);
        if let Some(gate) = &self.shared.gate {
            gate.open();
        }
        if let Some(handle) = lock(&self.loader).take() {
            // The loader stops at its next record; it holds the record store until then.
            let _ = handle.join();
        }
    }
}

impl Shared {
    fn new(batch: usize, hook: Option<ThesaurusHook>, gate: Option<LoadGate>) -> Shared {
        Shared {
            ready: OnceLock::new(),
            failed: OnceLock::new(),
            sync: Mutex::new(()),
            ended: Mutex::new(false),
            ended_signal: Condvar::new(),
            cancel: AtomicBool::new(false),
            batch: batch.max(1),
            hook,
            gate,
        }
    }

    /// Loads, catches up and shows the graph; records why not on failure. Ends the load either way.
    fn load(&self, records: &store::Store) -> Result<LoadReport> {
        let result = self.load_inner(records);
        if let Err(e) = &result {
            let _ = self.failed.set(e.to_string());
        }
        *lock(&self.ended) = true;
        self.ended_signal.notify_all();
        result
    }

    fn load_inner(&self, records: &store::Store) -> Result<LoadReport> {
        if let Some(gate) = &self.gate {
            gate.wait();
        }
        if self.cancel.load(Ordering::Relaxed) {
            return Err(GraphError::Cancelled);
        }
        let (graph, report) = Graph::load_cancellable(records, &self.cancel)?;
        let _sync = lock(&self.sync);
        // Writes stored since the load's snapshot (their writers found no graph to update).
        graph.catch_up(records, self.batch)?;
        let thesaurus = Thesaurus::from_graph(&graph)?;
        let linker = SharedLinker::new(thesaurus.linker());
        if let Some(hook) = &self.hook {
            hook(&thesaurus);
        }
        if self.ready.set(Loaded { graph, linker }).is_err() {
            return Err(GraphError::Internal("the graph was loaded twice".into()));
        }
        Ok(report)
    }

    fn catch_up(&self, loaded: &Loaded, records: &store::Store) -> Result<()> {
        let caught = loaded.graph.catch_up(records, self.batch)?;
        if caught.thesaurus_changed {
            let thesaurus = loaded.linker.rebuild_from(&loaded.graph)?;
            if let Some(hook) = &self.hook {
                hook(&thesaurus);
            }
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(records: &[&str]) -> (tempfile::TempDir, Arc<store::Store>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store::Store::open(&dir.path().join("store.redb")).expect("store");
        let records: Vec<store::Record> = records.iter().map(|r| serde_json::from_str(r).expect("record")).collect();
        store.upsert(&records, "test").expect("upsert");
        (dir, Arc::new(store))
    }

    const FAULT: &str = r#"{"id":"f-ct-break","class":"Fault","label":"CT断线","aliases":["电流回路断线"]}"#;
    const CONCEPT: &str = r#"{"id":"c-ct","class":"Concept","label":"电流互感器","aliases":["CT"]}"#;

    #[test]
    fn a_background_load_catches_up_with_writes_made_while_it_ran() {
        let (_dir, records) = store_with(&[FAULT]);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let hook_seen = Arc::clone(&seen);
        let hook: ThesaurusHook = Box::new(move |t: &Thesaurus| lock(&hook_seen).push(t.len()));
        let gate = LoadGate::new();
        let live = LiveGraph::spawn(Arc::clone(&records), 16, Some(hook), Some(gate.clone())).expect("spawn");
        assert_eq!(live.state(), LoadState::Loading);
        assert!(live.ready().is_none());
        // A write while the graph loads: its catch-up finds no graph and leaves it to the loader.
        records.upsert(&[serde_json::from_str(CONCEPT).expect("record")], "test").expect("upsert");
        live.catch_up(&records).expect("catch up");
        gate.open();
        let graph = live.wait().expect("loaded");
        assert_eq!(live.state(), LoadState::Ready);
        assert_eq!(graph.applied_seq(), records.last_seq().expect("seq"));
        let (_, linker) = live.ready().expect("ready");
        assert_eq!(linker.current().link("CT和电流回路断线").len(), 2);
        assert_eq!(lock(&seen).last(), Some(&2), "the hook saw the final thesaurus");
    }

    #[test]
    fn dropping_a_loading_graph_cancels_it_and_releases_the_store() {
        let (dir, records) = store_with(&[FAULT, CONCEPT]);
        for gate in [None, Some(LoadGate::new())] {
            let live = LiveGraph::spawn(Arc::clone(&records), 16, None, gate).expect("spawn");
            drop(live);
        }
        drop(records);
        // The store file can be opened again: no thread holds it any more.
        store::Store::open(&dir.path().join("store.redb")).expect("reopen");
    }
}
