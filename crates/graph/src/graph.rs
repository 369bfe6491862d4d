//! The graph: oxigraph's in-memory store as a projection of the record store.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};
use std::time::Instant;

use oxigraph::io::RdfFormat;
use oxigraph::model::{GraphNameRef, NamedNode, NamedNodeRef, NamedOrBlankNodeRef, Quad, Term, TermRef};
use oxigraph::store::Store;
use store::Record;

use crate::error::{GraphError, Result};
use crate::mapping::record_triples;
use crate::vocab::{self, record_iri};

/// The knowledge graph, in memory, rebuilt from the record store at start and kept up to date
/// by the write path.
///
/// **Invariant:** the triples of a record (those with its IRI as subject) are replaced in one
/// oxigraph transaction, and multi-step readers ([`Graph::read`], used by expansion and the
/// domain queries) hold a read gate that the commit takes exclusively, so no reader ever sees a
/// record half replaced. SPARQL runs on oxigraph's own snapshot of the store.
///
/// oxigraph's in-memory store never frees the old versions of replaced triples; after many
/// updates ([`Graph::removed_since_load`]) call [`Graph::compact_from`] to rebuild it.
pub struct Graph {
    /// Swapped whole by [`Graph::compact_from`]; cloning a `Store` is cheap (it is shared).
    store: RwLock<Store>,
    /// Quads removed since the store was built: oxigraph's in-memory store keeps every old
    /// version (it has no garbage collection yet), so this is memory a compaction would free.
    removed: AtomicU64,
    /// One writer at a time (oxigraph's in-memory store also allows only one transaction).
    writer: Mutex<()>,
    /// Held shared by multi-step readers, exclusively by a commit.
    gate: RwLock<()>,
    applied_seq: AtomicU64,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph").field("applied_seq", &self.applied_seq()).finish_non_exhaustive()
    }
}

/// Triples per batch handed from the record reader to the inserting thread during a load.
const LOAD_BATCH: usize = 4096;
/// Batches in flight during a load.
const LOAD_QUEUE: usize = 8;

/// What [`Graph::update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Applied {
    /// An entity was added, replaced or removed: labels and aliases may have changed.
    pub thesaurus_changed: bool,
}

/// What [`Graph::catch_up`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    /// The store sequence number the graph has now applied.
    pub seq: u64,
    /// Some applied change touched an entity: rebuild the linker.
    pub thesaurus_changed: bool,
}

/// The graph as a [`store::Projection`]: one transaction per batch, stamped with its sequence
/// number.
struct GraphProjection<'a> {
    graph: &'a Graph,
    thesaurus_changed: bool,
}

impl store::Projection for GraphProjection<'_> {
    type Error = GraphError;

    fn applied_seq(&mut self) -> Result<u64> {
        Ok(self.graph.applied_seq())
    }

    fn apply(&mut self, batch: store::ChangeBatch) -> Result<()> {
        let mut upserts = Vec::new();
        let mut deleted = Vec::new();
        for (id, stored) in batch.records {
            match stored {
                Some(stored) => upserts.push(stored.record),
                None => deleted.push(id),
            }
        }
        let deletes: Vec<&str> = deleted.iter().map(String::as_str).collect();
        self.thesaurus_changed |= self.graph.update(&upserts, &deletes, batch.seq)?.thesaurus_changed;
        Ok(())
    }

    fn rebuild(&mut self, records: &store::Store, _seq: u64) -> Result<bool> {
        self.graph.compact_from(records)?;
        self.thesaurus_changed = true;
        Ok(true)
    }
}

/// What [`Graph::load_from`] did, for logs and the start-up report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadReport {
    pub records: u64,
    pub triples: usize,
    pub seq: u64,
    pub millis: u128,
}

impl Graph {
    /// An empty graph holding only the ontology.
    pub fn new() -> Result<Graph> {
        Ok(Graph {
            store: RwLock::new(ontology_store()?),
            removed: AtomicU64::new(0),
            writer: Mutex::new(()),
            gate: RwLock::new(()),
            applied_seq: AtomicU64::new(0),
        })
    }

    /// A graph holding every current record of `records`, with the store's sequence number as
    /// its applied sequence number.
    pub fn load_from(records: &store::Store) -> Result<Graph> {
        Self::load_from_with_report(records).map(|(graph, _)| graph)
    }

    /// As [`Graph::load_from`], also saying how long it took.
    pub fn load_from_with_report(records: &store::Store) -> Result<(Graph, LoadReport)> {
        Self::load_cancellable(records, &AtomicBool::new(false))
    }

    /// As [`Graph::load_from_with_report`], giving up with [`GraphError::Cancelled`] soon after
    /// `cancel` becomes true (a background load whose engine closes).
    pub fn load_cancellable(records: &store::Store, cancel: &AtomicBool) -> Result<(Graph, LoadReport)> {
        let started = Instant::now();
        let graph = Graph::new()?;
        // Read the sequence number first: a write landing between this and the snapshot below
        // is then in the graph but not claimed, and catching up re-applies it (idempotently).
        let seq = records.last_seq()?;
        let count;
        {
            let _writer = graph.lock_writer()?;
            let store = graph.current_store()?;
            let mut transaction = store.start_transaction()?;
            count = fill(&mut transaction, records, cancel)?;
            let _gate = graph.gate.write().map_err(|_| poisoned())?;
            transaction.commit()?;
            graph.applied_seq.store(seq, Ordering::Release);
        }
        let report =
            LoadReport { records: count, triples: graph.triple_count()?, seq, millis: started.elapsed().as_millis() };
        tracing::info!(records = report.records, triples = report.triples, seq, millis = report.millis, "graph loaded");
        Ok((graph, report))
    }

    /// Rebuilds the in-memory store from the record store and swaps it in, freeing the old
    /// versions oxigraph keeps of every replaced triple. Writers wait for it (it holds the write
    /// lock throughout, about as long as a start-up load); readers go on with the old store
    /// until the swap. Returns the number of triples.
    pub fn compact_from(&self, records: &store::Store) -> Result<usize> {
        let _writer = self.lock_writer()?;
        let seq = records.last_seq()?;
        let fresh = ontology_store()?;
        let mut transaction = fresh.start_transaction()?;
        fill(&mut transaction, records, &AtomicBool::new(false))?;
        transaction.commit()?;
        let _gate = self.gate.write().map_err(|_| poisoned())?;
        *self.store.write().map_err(|_| poisoned())? = fresh;
        self.removed.store(0, Ordering::Release);
        self.applied_seq.store(seq, Ordering::Release);
        drop(_gate);
        self.triple_count()
    }

    /// Quads removed or replaced since the last load or compaction (memory still held).
    pub fn removed_since_load(&self) -> u64 {
        self.removed.load(Ordering::Acquire)
    }

    /// Replaces the triples of `upserts`, removes those of `deletes`, in one transaction, and
    /// records `seq` as applied (never lowering it). Says whether an entity (and so possibly the
    /// thesaurus) changed: then rebuild the linker ([`crate::SharedLinker::rebuild_from`]).
    pub fn update(&self, upserts: &[Record], deletes: &[&str], seq: u64) -> Result<Applied> {
        let _writer = self.lock_writer()?;
        let store = self.current_store()?;
        let mut transaction = store.start_transaction()?;
        let mut removed = 0u64;
        let pref_label = vocab::skos("prefLabel");
        let mut thesaurus_changed = upserts.iter().any(|r| matches!(r, Record::Entity(_)));
        let subjects: BTreeSet<&str> = upserts.iter().map(Record::id).chain(deletes.iter().copied()).collect();
        for id in subjects {
            let subject = record_iri(id);
            let old: Vec<Quad> = transaction
                .quads_for_pattern(Some(subject.as_ref().into()), None, None, None)
                .collect::<Result<_, _>>()?;
            for quad in &old {
                transaction.remove(quad);
            }
            removed += old.len() as u64;
            thesaurus_changed |= old.iter().any(|q| q.predicate == pref_label);
        }
        for record in upserts {
            for triple in record_triples(record) {
                transaction.insert(triple.in_graph(GraphNameRef::DefaultGraph).as_ref());
            }
        }
        let _gate = self.gate.write().map_err(|_| poisoned())?;
        fail::fail_point!("graph.apply");
        transaction.commit()?;
        self.applied_seq.fetch_max(seq, Ordering::AcqRel);
        self.removed.fetch_add(removed, Ordering::AcqRel);
        Ok(Applied { thesaurus_changed })
    }

    /// Replaces (or adds) the triples of `records`; see [`Graph::update`].
    pub fn apply(&self, records: &[Record], seq: u64) -> Result<Applied> {
        self.update(records, &[], seq)
    }

    /// Removes the triples of the records `ids`; see [`Graph::update`].
    pub fn remove(&self, ids: &[&str], seq: u64) -> Result<Applied> {
        self.update(&[], ids, seq)
    }

    /// Applies every change of the record store after [`Graph::applied_seq`], `batch` changes
    /// per transaction (through [`store::catch_up`]); returns the sequence number reached and
    /// whether the thesaurus changed. A new graph, or one ahead of the store, is rebuilt from the
    /// store's records instead ([`Graph::compact_from`]).
    pub fn catch_up(&self, records: &store::Store, batch: usize) -> Result<CatchUp> {
        let mut projection = GraphProjection { graph: self, thesaurus_changed: false };
        store::catch_up(records, &mut projection, batch, &mut |_, _| {})?;
        Ok(CatchUp { seq: self.applied_seq(), thesaurus_changed: projection.thesaurus_changed })
    }

    /// The store sequence number of the newest change in the graph (0 for a new graph).
    pub fn applied_seq(&self) -> u64 {
        self.applied_seq.load(Ordering::Acquire)
    }

    /// Number of triples, the ontology's included.
    pub fn triple_count(&self) -> Result<usize> {
        Ok(self.current_store()?.len()?)
    }

    /// Every triple as an N-Triples line, sorted: a canonical form to compare two graphs.
    pub fn sorted_ntriples(&self) -> Result<Vec<String>> {
        let reader = self.read()?;
        let mut lines: Vec<String> =
            reader.store.iter().map(|quad| quad.map(|q| q.to_string())).collect::<Result<_, _>>()?;
        lines.sort_unstable();
        Ok(lines)
    }

    /// The triples of one record, as N-Triples lines, sorted.
    pub fn record_ntriples(&self, id: &str) -> Result<Vec<String>> {
        let subject = record_iri(id);
        let mut lines: Vec<String> = self
            .current_store()?
            .quads_for_pattern(Some(subject.as_ref().into()), None, None, None)
            .map(|quad| quad.map(|q| q.to_string()))
            .collect::<Result<_, _>>()?;
        lines.sort_unstable();
        Ok(lines)
    }

    /// A consistent view for several lookups in a row: no commit lands while it is held. Hold
    /// it for milliseconds, not seconds.
    pub fn read(&self) -> Result<GraphReader<'_>> {
        let gate = self.gate.read().map_err(|_| poisoned())?;
        Ok(GraphReader { store: self.current_store()?, _gate: gate })
    }

    /// The store in use now (a cheap shared handle; SPARQL evaluates on its snapshot).
    pub(crate) fn current_store(&self) -> Result<Store> {
        Ok(self.store.read().map_err(|_| poisoned())?.clone())
    }

    fn lock_writer(&self) -> Result<std::sync::MutexGuard<'_, ()>> {
        self.writer.lock().map_err(|_| poisoned())
    }
}

/// A new in-memory store holding only the ontology.
fn ontology_store() -> Result<Store> {
    let store = Store::new()?;
    store
        .load_from_slice(RdfFormat::Turtle, vocab::ONTOLOGY_TTL)
        .map_err(|e| GraphError::Internal(format!("ontology/gridkb.ttl does not load: {e}")))?;
    Ok(store)
}

/// Inserts the triples of every current record into `transaction`; returns the record count.
/// Reading and mapping records (a second thread) overlaps with inserting triples (this thread):
/// on two cores that takes about a fifth off the load. Once `cancel` is set the reader stops
/// and the fill ends with [`GraphError::Cancelled`].
fn fill(
    transaction: &mut oxigraph::store::Transaction<'_>,
    records: &store::Store,
    cancel: &AtomicBool,
) -> Result<u64> {
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<oxigraph::model::Triple>>(LOAD_QUEUE);
    let scanned = std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut batch = Vec::with_capacity(LOAD_BATCH);
            let mut records_seen = 0u64;
            let scanned = records.for_each(|stored| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(store::Error::Storage(CANCELLED.into()));
                }
                batch.extend(record_triples(&stored.record));
                records_seen += 1;
                if batch.len() >= LOAD_BATCH {
                    // A closed channel means the inserting side failed; it reports why.
                    let _ = sender.send(std::mem::replace(&mut batch, Vec::with_capacity(LOAD_BATCH)));
                }
                Ok(())
            });
            let _ = sender.send(batch);
            scanned.map(|()| records_seen)
        });
        for batch in receiver {
            for triple in &batch {
                transaction.insert(triple.as_ref().in_graph(GraphNameRef::DefaultGraph));
            }
        }
        reader.join()
    });
    let scanned = scanned.map_err(|_| GraphError::Internal("the record reader panicked".into()))?;
    if cancel.load(Ordering::Relaxed) {
        return Err(GraphError::Cancelled);
    }
    Ok(scanned?)
}

/// The reason a cancelled scan gives the record store (replaced by [`GraphError::Cancelled`]).
const CANCELLED: &str = "graph load cancelled";

fn poisoned() -> GraphError {
    GraphError::Internal("a graph writer panicked while holding its lock".into())
}

/// A consistent view of the graph for typed lookups (see [`Graph::read`]).
pub struct GraphReader<'a> {
    store: Store,
    _gate: RwLockReadGuard<'a, ()>,
}

impl std::fmt::Debug for GraphReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphReader").finish_non_exhaustive()
    }
}

impl GraphReader<'_> {
    /// Objects of `(subject, predicate, ?)`, at most `limit`; the flag says whether more exist.
    pub fn objects(
        &self,
        subject: NamedNodeRef<'_>,
        predicate: NamedNodeRef<'_>,
        limit: usize,
    ) -> Result<(Vec<Term>, bool)> {
        let mut out = Vec::new();
        for quad in self.store.quads_for_pattern(Some(subject.into()), Some(predicate), None, None) {
            if out.len() == limit {
                return Ok((out, true));
            }
            out.push(quad?.object);
        }
        Ok((out, false))
    }

    /// Subjects of `(?, predicate, object)` that are named nodes, at most `limit`; the flag says
    /// whether more exist.
    pub fn subjects(
        &self,
        predicate: NamedNodeRef<'_>,
        object: TermRef<'_>,
        limit: usize,
    ) -> Result<(Vec<NamedNode>, bool)> {
        let mut out = Vec::new();
        for quad in self.store.quads_for_pattern(None, Some(predicate), Some(object), None) {
            if let oxigraph::model::NamedOrBlankNode::NamedNode(node) = quad?.subject {
                if out.len() == limit {
                    return Ok((out, true));
                }
                out.push(node);
            }
        }
        Ok((out, false))
    }

    /// Every `(subject, object)` of a predicate whose subject is a named node.
    pub fn pairs(&self, predicate: NamedNodeRef<'_>) -> Result<Vec<(NamedNode, Term)>> {
        let mut out = Vec::new();
        for quad in self.store.quads_for_pattern(None, Some(predicate), None, None) {
            let quad = quad?;
            if let oxigraph::model::NamedOrBlankNode::NamedNode(node) = quad.subject {
                out.push((node, quad.object));
            }
        }
        Ok(out)
    }

    /// Whether the triple exists.
    pub fn contains(
        &self,
        subject: NamedNodeRef<'_>,
        predicate: NamedNodeRef<'_>,
        object: TermRef<'_>,
    ) -> Result<bool> {
        let subject: NamedOrBlankNodeRef<'_> = subject.into();
        Ok(self.store.contains(oxigraph::model::QuadRef::new(
            subject,
            predicate,
            object,
            GraphNameRef::DefaultGraph,
        ))?)
    }

    /// Whether an edge joins `a` and `b`, in either direction, whatever its predicate.
    pub fn adjacent(&self, a: NamedNodeRef<'_>, b: NamedNodeRef<'_>) -> Result<bool> {
        for (s, o) in [(a, b), (b, a)] {
            if let Some(quad) = self.store.quads_for_pattern(Some(s.into()), None, Some(o.into()), None).next() {
                quad?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The first literal value of `(subject, predicate, ?)`.
    pub fn literal(&self, subject: NamedNodeRef<'_>, predicate: NamedNodeRef<'_>) -> Result<Option<String>> {
        let (objects, _) = self.objects(subject, predicate, 8)?;
        Ok(objects.into_iter().find_map(|term| match term {
            Term::Literal(literal) => Some(literal.value().to_owned()),
            _ => None,
        }))
    }

    /// Every literal value of `(subject, predicate, ?)`, at most `limit`.
    pub fn literals(
        &self,
        subject: NamedNodeRef<'_>,
        predicate: NamedNodeRef<'_>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let (objects, _) = self.objects(subject, predicate, limit)?;
        Ok(objects
            .into_iter()
            .filter_map(|term| match term {
                Term::Literal(literal) => Some(literal.value().to_owned()),
                _ => None,
            })
            .collect())
    }

    /// The record ids among the objects of `(subject, predicate, ?)`, at most `limit`.
    pub fn linked_ids(
        &self,
        subject: NamedNodeRef<'_>,
        predicate: NamedNodeRef<'_>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let (objects, _) = self.objects(subject, predicate, limit)?;
        Ok(objects
            .into_iter()
            .filter_map(|term| match term {
                Term::NamedNode(node) => vocab::record_id(node.as_str()).map(str::to_owned),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ontology_parses_and_is_loaded() {
        let graph = Graph::new().expect("graph");
        let count = graph.triple_count().expect("count");
        assert!(count > 200, "ontology has only {count} triples");
        assert_eq!(graph.applied_seq(), 0);
    }
}
