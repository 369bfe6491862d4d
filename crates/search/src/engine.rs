//! The engine of one data directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use analysis::Analyzer;
use embed::EmbedConfig;
use lexical::{IndexDoc, LexicalIndex};
use serde::Serialize;
use store::{EntityClass, Item, Outcome, Record, Status, Store};

use crate::category_model::{CategoryModel, LabelledTicket, LearnReport};
use crate::data_dir::{DataDirLock, DataLayout};
use crate::dense::{Dense, DenseStatus};
use crate::fusion::{Fusion, Retriever};
use crate::query::Shown;
use crate::request::Hit;
use crate::request::{SearchRequest, SearchResponse};
use crate::{Error, Limits, Result, Stop};

/// Statuses agents do not see unless they filter for them.
pub(crate) const UNPUBLISHED: [Status; 3] = [Status::Draft, Status::Review, Status::Retired];

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub data_dir: PathBuf,
    pub limits: Limits,
    /// The embedding model for dense retrieval; `None` runs lexical (+ graph) only.
    pub model: Option<ModelChoice>,
    pub embed: EmbedConfig,
    /// Where embeddings are cached (default: `embeddings.redb` in the data directory). Sharing
    /// one cache between data directories (as `gridkb eval` does) embeds each text once.
    pub embedding_cache: Option<PathBuf>,
    /// The fusion used when a request does not choose one.
    pub fusion: Fusion,
    /// Load the knowledge graph and use it for entity linking and expansion.
    pub graph: bool,
    /// Whether [`Engine::open`] waits for the graph or loads it in the background.
    pub graph_load: GraphLoad,
    /// A background graph load starts only when this gate opens (tests use it to search while
    /// the graph is loading).
    pub graph_gate: Option<graph::LoadGate>,
    /// The four-eyes rule: the last author of an item may not approve it.
    pub four_eyes: bool,
    /// How far agents' feedback may move results ([`crate::feedback`]); `OFF` ignores it.
    pub feedback: crate::feedback::FeedbackWeights,
    /// Where the records live: the data directory's redb file, or PostgreSQL with that file as
    /// this node's replica.
    pub store: StoreChoice,
}

/// Which backend holds the source of truth.
#[derive(Debug, Clone, Default)]
pub enum StoreChoice {
    /// `records.redb` in the data directory: one machine.
    #[default]
    Redb,
    /// PostgreSQL, shared by every node; `records.redb` is this node's replica.
    Postgres(store::PgOptions),
}

/// When the knowledge graph is loaded (it takes about 1.5 s on the full demo corpus).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GraphLoad {
    /// [`Engine::open`] returns with the graph loaded: every search has it.
    #[default]
    Blocking,
    /// [`Engine::open`] returns at once; searches answer with lexical (and dense) results,
    /// flagged `degraded`, until the graph is loaded. Writes meanwhile are not lost: the loader
    /// catches up from the store's change log before the graph is used. For `serve`.
    Background,
}

/// Where the embedding model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    /// Asked for explicitly: failing to load it is an error.
    Required(PathBuf),
    /// The default location: when it cannot be loaded, search runs without dense retrieval
    /// and says so in every response.
    IfPresent(PathBuf),
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            data_dir: PathBuf::from("data"),
            limits: Limits::default(),
            model: None,
            embed: EmbedConfig::default(),
            embedding_cache: None,
            fusion: Fusion::default(),
            graph: true,
            graph_load: GraphLoad::Blocking,
            graph_gate: None,
            four_eyes: true,
            feedback: crate::feedback::DEFAULT_WEIGHTS,
            store: StoreChoice::Redb,
        }
    }
}

/// Long work reports its progress through this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Records written to the store.
    Stored { done: usize, total: usize },
    /// Store changes applied to the lexical index.
    Indexed { done: u64, total: u64 },
    /// Items embedded into the vector index.
    Embedded { done: usize, total: usize },
}

/// What a bulk write did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    pub inserted: usize,
    pub replaced: usize,
    pub unchanged: usize,
    /// Records the store refused, with the reason (e.g. a stale version).
    pub refused: Vec<(String, String)>,
    /// Sequence number of the store after the write.
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub records: u64,
    pub indexed_items: u64,
    pub store_seq: u64,
    pub lexical_seq: u64,
    /// The dense side, when a model is loaded.
    pub dense: Option<DenseStatus>,
}

/// The store and its projections, with the single write path through them.
#[derive(Debug)]
pub struct Engine {
    /// Shared with the background graph loader.
    pub(crate) store: Arc<Store>,
    pub(crate) lexical: LexicalIndex,
    pub(crate) dense: Option<Dense>,
    /// Why there is no dense retrieval, when there is none.
    pub(crate) dense_missing: Option<String>,
    /// The knowledge graph (in memory, loaded from the store, possibly still loading) and the
    /// entity linker built from its thesaurus; `None` when switched off.
    pub(crate) graph: Option<graph::LiveGraph>,
    /// The fusion a request gets when it does not choose one: the saved tuning
    /// ([`DataLayout::FUSION_FILE`]) if there is one, else [`EngineOptions::fusion`].
    fusion: RwLock<Fusion>,
    /// The categories learned from past tickets ([`DataLayout::TICKET_HISTORY_FILE`]), if any.
    pub(crate) learned_categories: RwLock<Option<Arc<CategoryModel>>>,
    pub(crate) analyzer: Analyzer,
    /// Reads homophone slips of the service's words in query texts.
    pub(crate) speller: crate::spelling::SharedSpeller,
    pub(crate) limits: Limits,
    layout: DataLayout,
    /// One writer at a time: held across a store write and the catch-up that follows it.
    writer: Mutex<()>,
    /// The editors' catalogue, built on first use and kept caught up by every write.
    pub(crate) catalogue: RwLock<Option<crate::catalogue::Catalogue>>,
    /// See [`EngineOptions::four_eyes`].
    pub(crate) four_eyes: bool,
    /// Cases and customers for the managers' reports, read again when the store changes.
    history: crate::service_history::HistoryCache,
    /// The editors' duplicate-pair scan, per item version.
    pairs: crate::duplicates::PairCache,
    /// The guidance items' declarations, resolved once per state of the store and index.
    guidance: crate::guidance_table::GuidanceCache,
    /// Feedback in ranking: the weights, and the verdicts gathered from the request log.
    feedback: RwLock<(crate::feedback::FeedbackWeights, Arc<crate::feedback::FeedbackPrior>)>,
    /// What was found damaged at open and rebuilt from the store.
    repairs: Vec<String>,
    /// Where this node stands against a shared store (see `follow.rs`).
    pub(crate) follow: Mutex<crate::follow::FollowState>,
    /// This process's hold on the data directory, for the engine's lifetime.
    _lock: DataDirLock,
}

impl Engine {
    /// Opens (or creates) a data directory, taking its lock, and brings every projection up to
    /// the store. A projection that is missing or damaged is rebuilt from the store (with a
    /// warning; [`Engine::repairs`] says what was rebuilt).
    pub fn open(options: EngineOptions, progress: &dyn Fn(Progress)) -> Result<Engine> {
        let lock = DataDirLock::acquire(&options.data_dir)?;
        Engine::open_locked(lock, options, progress)
    }

    /// [`Engine::open`] with the data directory's lock already taken (by `reindex`, which
    /// deletes the projections under it first).
    pub fn open_locked(lock: DataDirLock, options: EngineOptions, progress: &dyn Fn(Progress)) -> Result<Engine> {
        let dir = &options.data_dir;
        if lock.dir() != dir.as_path() {
            return Err(Error::DataDir {
                path: dir.display().to_string(),
                message: format!("the lock held is for {}", lock.dir().display()),
            });
        }
        let layout = lock.layout();
        let store = Arc::new(match &options.store {
            StoreChoice::Redb => Store::open(&layout.store_file())?,
            StoreChoice::Postgres(pg) => Store::open_postgres(&layout.store_file(), pg)?,
        });
        let analyzer = Analyzer::new();
        let speller = crate::spelling::SharedSpeller::new();
        let mut repairs = Vec::new();
        // A store with records and no lexical index lost it, unless `reindex` removed it on purpose.
        let expect_index = store.last_seq()? > 0 && !lock.projections_removed();
        let lexical = open_lexical(&layout.lexical_dir(), &analyzer, expect_index, &mut repairs)?;
        let (dense, dense_missing) = match &options.model {
            // Switched off on purpose: nothing to report in responses.
            None => (None, None),
            Some(ModelChoice::Required(model)) => (
                Some(Dense::open(
                    &layout,
                    model,
                    &options.embed,
                    options.embedding_cache.as_deref(),
                    options.limits.query_embed_queue,
                )?),
                None,
            ),
            Some(ModelChoice::IfPresent(model)) => {
                match Dense::open(
                    &layout,
                    model,
                    &options.embed,
                    options.embedding_cache.as_deref(),
                    options.limits.query_embed_queue,
                ) {
                    Ok(dense) => (Some(dense), None),
                    Err(Error::Embed(e)) => {
                        tracing::warn!(error = %e, "dense retrieval is off");
                        (None, Some(format!("dense retrieval is off: {e}")))
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let graph = match (options.graph, options.graph_load) {
            (false, _) => None,
            (true, GraphLoad::Blocking) => Some(graph::LiveGraph::load(
                &store,
                options.limits.ingest_batch,
                Some(thesaurus_hook(&analyzer, &speller)),
            )?),
            (true, GraphLoad::Background) => Some(graph::LiveGraph::spawn(
                Arc::clone(&store),
                options.limits.ingest_batch,
                Some(thesaurus_hook(&analyzer, &speller)),
                options.graph_gate.clone(),
            )?),
        };
        let fusion = read_tuned_fusion(&layout)?.unwrap_or(options.fusion);
        let learned_categories = read_ticket_history(&layout)?;
        let engine = Engine {
            store,
            lexical,
            dense,
            dense_missing,
            graph,
            fusion: RwLock::new(fusion),
            learned_categories: RwLock::new(learned_categories),
            analyzer,
            speller,
            limits: options.limits,
            layout,
            writer: Mutex::new(()),
            catalogue: RwLock::new(None),
            four_eyes: options.four_eyes,
            history: Default::default(),
            pairs: Default::default(),
            guidance: Default::default(),
            feedback: RwLock::new((options.feedback, Arc::default())),
            repairs,
            follow: Mutex::new(Default::default()),
            _lock: lock,
        };
        let guard = engine.write_lock()?;
        engine.catch_up(&guard, progress)?;
        drop(guard);
        if engine.store.backend() == store::Backend::Postgres {
            // A node on an empty data directory builds its replica and every projection from
            // the journal here; PostgreSQL being away leaves it serving what it has (not ready
            // until a catch-up succeeds).
            match engine.follow() {
                Ok(report) => {
                    tracing::info!(seq = report.local_seq, replayed = report.applied, "caught up with PostgreSQL")
                }
                Err(Error::Store(store::Error::Unavailable(reason))) => {
                    tracing::warn!(%reason, "PostgreSQL is unavailable; serving the local replica until it returns");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(engine)
    }

    /// Ranks with these verdicts from now on.
    pub fn set_feedback_prior(&self, prior: crate::feedback::FeedbackPrior) {
        let mut slot = self.feedback.write().unwrap_or_else(|e| e.into_inner());
        slot.1 = Arc::new(prior);
    }

    /// Ranks with these feedback weights from now on (`OFF` ignores feedback).
    pub fn set_feedback_weights(&self, weights: crate::feedback::FeedbackWeights) {
        self.feedback.write().unwrap_or_else(|e| e.into_inner()).0 = weights;
    }

    pub(crate) fn feedback(&self) -> (crate::feedback::FeedbackWeights, Arc<crate::feedback::FeedbackPrior>) {
        let slot = self.feedback.read().unwrap_or_else(|e| e.into_inner());
        (slot.0, Arc::clone(&slot.1))
    }

    pub(crate) fn history_cache(&self) -> &crate::service_history::HistoryCache {
        &self.history
    }

    pub(crate) fn guidance_cache(&self) -> &crate::guidance_table::GuidanceCache {
        &self.guidance
    }

    pub(crate) fn pair_cache(&self) -> &crate::duplicates::PairCache {
        &self.pairs
    }

    pub fn data_dir(&self) -> &Path {
        self.layout.root()
    }

    /// Where each file of this engine's data directory lives.
    pub fn layout(&self) -> &DataLayout {
        &self.layout
    }

    /// The projections found missing or damaged at open and rebuilt (or, for the vectors, being
    /// rebuilt in the background) from the store, each with the reason.
    pub fn repairs(&self) -> Vec<String> {
        let mut repairs = self.repairs.clone();
        repairs.extend(
            self.dense.as_ref().and_then(Dense::repaired).map(|r| format!("vector index rebuilt from the store ({r})")),
        );
        repairs
    }

    /// The fusion a request gets when it does not choose one.
    pub fn fusion(&self) -> Fusion {
        *self.fusion.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes `fusion` the default of this knowledge base: saved in the data directory
    /// (`follow::write_atomically`: a crash leaves the old or the new file, created 0600), then
    /// used by every request that does not choose one.
    pub fn set_fusion(&self, fusion: Fusion) -> Result<()> {
        fusion.validate().map_err(|m| Error::invalid(crate::Invalid::Parameter, m))?;
        let path = self.layout.fusion_file();
        let json =
            serde_json::to_vec_pretty(&fusion).map_err(|e| Error::Internal(format!("a fusion serialises: {e}")))?;
        crate::follow::write_atomically(&path, &json)
            .map_err(|e| Error::DataDir { path: path.display().to_string(), message: e.to_string() })?;
        *self.fusion.write().unwrap_or_else(std::sync::PoisonError::into_inner) = fusion;
        tracing::info!(?fusion, "fusion tuned for this knowledge base");
        Ok(())
    }

    /// Learns the service categories from `tickets` (texts already [`prepare`]d) and uses the
    /// model for every ticket matched from now on. With [`KeepHistory::Save`] the tickets are
    /// also written to the data directory (atomically; the model is learned again at every
    /// open), replacing what was there. Refused, changing nothing: more than
    /// `max_labelled_tickets`, an empty text or one longer than `max_ticket_chars`, fewer than
    /// two categories.
    ///
    /// [`prepare`]: crate::category_model::prepare
    pub fn learn_categories(&self, tickets: &[LabelledTicket], keep: KeepHistory) -> Result<LearnReport> {
        let most = self.limits.max_labelled_tickets;
        if tickets.len() > most {
            return Err(Error::invalid(
                crate::Invalid::Parameter,
                format!(
                    "{} past tickets; at most {most} are learned at once (limit max_labelled_tickets)",
                    tickets.len()
                ),
            ));
        }
        let longest = self.limits.max_ticket_chars;
        for (i, ticket) in tickets.iter().enumerate() {
            let chars = ticket.text.chars().count();
            if ticket.text.trim().is_empty() || chars > longest {
                return Err(Error::invalid(
                    crate::Invalid::Parameter,
                    format!(
                        "past ticket {} (`{}`) must have 1 to {longest} characters of text, it has {chars}",
                        i + 1,
                        analysis::mask(&ticket.id).text
                    ),
                ));
            }
        }
        let model = CategoryModel::learn(tickets).ok_or_else(|| {
            Error::invalid(
                crate::Invalid::Parameter,
                "the past tickets name fewer than two categories: there is nothing to tell apart",
            )
        })?;
        if keep == KeepHistory::Save {
            let path = self.layout.ticket_history_file();
            crate::follow::write_atomically(&path, &crate::category_model::to_jsonl(tickets))
                .map_err(|e| Error::DataDir { path: path.display().to_string(), message: e.to_string() })?;
        }
        let report = model.report();
        *self.learned_categories.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(model));
        tracing::info!(tickets = report.learned, "service categories learned from past tickets");
        Ok(report)
    }

    /// The category model in use, if past tickets were learned.
    pub fn learned_categories(&self) -> Option<Arc<CategoryModel>> {
        self.learned_categories.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Whether the store holds an item with this id (any status).
    pub fn has_item(&self, id: &str) -> Result<bool> {
        Ok(matches!(self.store.get(id)?, Some(stored) if matches!(stored.record, Record::Item(_))))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn write_lock(&self) -> Result<std::sync::MutexGuard<'_, ()>> {
        self.writer.lock().map_err(|_| self.poisoned())
    }

    pub(crate) fn data_dir_error(&self, message: String) -> Error {
        Error::DataDir { path: self.layout.root().display().to_string(), message }
    }

    pub(crate) fn poisoned(&self) -> Error {
        Error::DataDir {
            path: self.layout.root().display().to_string(),
            message: "a previous write panicked; restart to recover from the store".into(),
        }
    }

    /// Writes validated records durably, then updates every projection before returning.
    pub fn ingest(&self, records: &[Record], actor: &str, progress: &dyn Fn(Progress)) -> Result<IngestReport> {
        let guard = self.write_lock()?;
        let mut report = IngestReport::default();
        let mut done = 0;
        for chunk in records.chunks(self.limits.ingest_batch) {
            for (record, outcome) in chunk.iter().zip(self.store.upsert(chunk, actor)?) {
                match outcome {
                    Outcome::Inserted => report.inserted += 1,
                    Outcome::Replaced { .. } => report.replaced += 1,
                    Outcome::Unchanged => report.unchanged += 1,
                    Outcome::Refused { reason } => report.refused.push((record.id().to_string(), reason)),
                    Outcome::Deleted | Outcome::NotFound => {}
                }
            }
            done += chunk.len();
            fail::fail_point!("ingest.batch");
            progress(Progress::Stored { done, total: records.len() });
        }
        report.seq = self.catch_up(&guard, progress)?;
        Ok(report)
    }

    /// Deletes records; returns how many existed.
    pub fn delete(&self, ids: &[&str], actor: &str) -> Result<usize> {
        let guard = self.write_lock()?;
        let outcomes = self.store.delete(ids, actor)?;
        self.catch_up(&guard, &|_| {})?;
        Ok(outcomes.iter().filter(|o| **o == Outcome::Deleted).count())
    }

    /// Applies every store change the lexical index has not seen; returns the store's sequence
    /// number. A new or reset index is rebuilt from a snapshot instead of replaying the log.
    fn catch_up(&self, writer: &std::sync::MutexGuard<'_, ()>, progress: &dyn Fn(Progress)) -> Result<u64> {
        if let Some(graph) = &self.graph {
            // While the graph loads in the background this leaves the change to the loader.
            graph.catch_up(&self.store)?;
        }
        let batch = self.limits.ingest_batch;
        self.catalogue_update(|c| c.catch_up(&self.store, batch).map(|_| ()))?;
        self.catch_up_lexical(writer, progress)
    }

    /// [`Engine::catch_up`] for a write path that holds the lock and reports no progress.
    pub(crate) fn catch_up_locked(&self, writer: &std::sync::MutexGuard<'_, ()>) -> Result<u64> {
        self.catch_up(writer, &|_| {})
    }

    fn catch_up_lexical(&self, _writer: &std::sync::MutexGuard<'_, ()>, progress: &dyn Fn(Progress)) -> Result<u64> {
        let mut projection = LexicalProjection { engine: self, progress };
        store::catch_up(&self.store, &mut projection, self.limits.ingest_batch, &mut |done, total| {
            progress(Progress::Indexed { done, total })
        })
    }

    fn rebuild_lexical(&self, last: u64, progress: &dyn Fn(Progress)) -> Result<()> {
        let mut items = Vec::new();
        self.store.for_each(|stored| {
            if let Record::Item(item) = stored.record {
                items.push(item);
            }
            Ok(())
        })?;
        self.lexical.clear()?;
        let total = items.len() as u64;
        let mut done = 0;
        let mut chunks = items.chunks(self.limits.ingest_batch).peekable();
        while let Some(chunk) = chunks.next() {
            // Only the final commit claims the store's sequence number: a crash mid-rebuild
            // leaves 0 and the next start rebuilds again.
            let seq = if chunks.peek().is_none() { last } else { 0 };
            self.lexical.apply(&self.index_docs(chunk.to_vec())?, &[], seq)?;
            done += chunk.len() as u64;
            progress(Progress::Indexed { done, total });
        }
        if total == 0 {
            self.lexical.apply(&[], &[], last)?;
        }
        Ok(())
    }

    /// Builds index documents, adding linked entities' labels and the lines of linked models.
    fn index_docs(&self, items: Vec<Item>) -> Result<Vec<IndexDoc>> {
        let linked: BTreeSet<String> = items
            .iter()
            .flat_map(|i| i.products.iter().chain(&i.faults).chain(&i.customers).chain(&i.contracts))
            .cloned()
            .collect();
        let found = self.store.get_many(linked.iter().map(String::as_str))?;
        let entities: BTreeMap<String, store::Entity> = linked
            .into_iter()
            .zip(found)
            .filter_map(|(id, stored)| match stored?.record {
                Record::Entity(entity) => Some((id, entity)),
                Record::Item(_) => None,
            })
            .collect();
        Ok(items
            .into_iter()
            .map(|item| {
                let mut related = String::new();
                let mut products = item.products.clone();
                let links = item.products.iter().chain(&item.faults).chain(&item.customers).chain(&item.contracts);
                for entity in links.filter_map(|id| entities.get(id.as_str())) {
                    related.push_str(&entity.label);
                    for alias in &entity.aliases {
                        related.push('\n');
                        related.push_str(alias);
                    }
                    related.push('\n');
                    if entity.class == EntityClass::ProductModel {
                        products.extend(entity.links.get("line").into_iter().flatten().cloned());
                    }
                }
                products.sort();
                products.dedup();
                IndexDoc {
                    id: item.id,
                    title: item.title,
                    body: item.body,
                    related,
                    kind: item.kind.code().to_string(),
                    category: item.category.map(|c| c.code().to_string()),
                    major: item.category.map(|c| c.major().code().to_string()),
                    status: item.status.code().to_string(),
                    owner: item.owner,
                    owner_level: item.owner_level.map(|l| l.code().to_string()),
                    products,
                    faults: item.faults,
                    tags: item.tags,
                    version: u64::from(item.version),
                }
            })
            .collect())
    }

    /// Brings the vector index up to the store (embedding what changed); returns how many items
    /// were embedded or replaced. Without a model, does nothing.
    pub fn catch_up_vectors(&self, progress: &dyn Fn(Progress)) -> Result<usize> {
        self.catch_up_vectors_until(progress, &|| false)
    }

    /// [`Engine::catch_up_vectors`] that gives up between two chunks of embeddings once `stop`
    /// says so, leaving the index's sequence number where it was (the background work's way out).
    pub(crate) fn catch_up_vectors_until(&self, progress: &dyn Fn(Progress), stop: &dyn Fn() -> bool) -> Result<usize> {
        match &self.dense {
            Some(dense) => dense.catch_up(&self.store, self.limits.ingest_batch, progress, stop),
            None => Ok(0),
        }
    }

    /// What the lexical index holds (id → version) and the sequence number it has applied.
    pub(crate) fn lexical_documents(&self) -> Result<BTreeMap<String, u64>> {
        Ok(self.lexical.documents()?)
    }

    /// The ids the vector index holds and its applied sequence number; `None` without a model.
    pub(crate) fn dense_ids(&self) -> Option<(BTreeSet<String>, u64)> {
        self.dense.as_ref().map(Dense::ids)
    }

    /// The knowledge graph, for domain queries and SPARQL; `None` when switched off or still
    /// loading ([`Engine::graph_state`] tells which).
    pub fn graph(&self) -> Option<&graph::Graph> {
        self.graph.as_ref().and_then(graph::LiveGraph::graph)
    }

    /// Whether the knowledge graph is switched on (it may still be loading).
    pub fn has_graph(&self) -> bool {
        self.graph.is_some()
    }

    /// Where the knowledge graph's load stands; `None` when the graph is switched off.
    pub fn graph_state(&self) -> Option<graph::LoadState> {
        self.graph.as_ref().map(graph::LiveGraph::state)
    }

    /// Blocks until a background graph load has ended (at once when the graph is loaded or
    /// switched off); an error says why the graph did not load.
    pub fn wait_for_graph(&self) -> Result<()> {
        if let Some(graph) = &self.graph {
            graph.wait()?;
        }
        Ok(())
    }

    /// Vectors in the vector index (more than its documents when long items are split).
    pub(crate) fn vector_count(&self) -> Option<usize> {
        self.dense.as_ref().map(Dense::vector_count)
    }

    /// Whether dense retrieval is available at all (a model is loaded).
    pub fn has_dense(&self) -> bool {
        self.dense.is_some()
    }

    /// The loaded embedder, for `gridkb embed` and benchmarks.
    pub fn embedder(&self) -> Option<&embed::Embedder> {
        self.dense.as_ref().map(Dense::embedder)
    }

    /// The lexical index, for the duplicate check.
    pub(crate) fn lexical_index(&self) -> &LexicalIndex {
        &self.lexical
    }

    /// The dense side, when a model is loaded.
    pub(crate) fn dense_side(&self) -> Option<&Dense> {
        self.dense.as_ref()
    }

    /// The terms a query text is analysed into (after masking and normalising).
    pub fn query_terms(&self, masked: &str) -> Vec<String> {
        self.analyzer.query_terms(&analysis::normalize(masked))
    }

    /// Runs a search on the current snapshot of the indexes: every retriever asked for and
    /// available proposes candidates, the lists are fused, and the page is explained.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResponse> {
        self.search_until(request, &self.default_stop())
    }

    /// [`Engine::search`] that stops early when `stop` says so: past the deadline (the earlier
    /// of `stop`'s and the search deadline) the stages not yet run are skipped and the answer is
    /// flagged partial; once the caller abandons it, the search ends at the next stage with
    /// [`Error::Abandoned`].
    pub fn search_until(&self, request: &SearchRequest, stop: &Stop) -> Result<SearchResponse> {
        self.search_analysed(request, &self.analyse(&request.q), stop, Shown::All)
    }

    /// A stop at the search deadline from now, which nobody abandons.
    pub(crate) fn default_stop(&self) -> Stop {
        Stop::after(self.limits.search_deadline())
    }

    /// The ids one retriever (or the fusion of all, with `None`) ranks for `text`, best first,
    /// at most `depth`: what `gridkb eval` measures.
    pub fn rank(
        &self,
        text: &str,
        retriever: Option<Retriever>,
        fusion: Option<Fusion>,
        depth: usize,
    ) -> Result<Vec<String>> {
        let mut ranked = self.rank_each(text, &[(retriever, fusion)], depth);
        ranked.pop().unwrap_or_else(|| Ok((Vec::new(), 0.0))).map(|(hits, _)| hits.into_iter().map(|h| h.id).collect())
    }

    /// [`Engine::rank`] for several settings of one text, analysed (and embedded) once: each
    /// setting's hits (without snippets; each with its standing in every retriever that found
    /// it) and the milliseconds its search took (the first one's include waiting for the query
    /// embedding). A text the search refuses (nothing searchable in it, too long) ranks nothing,
    /// as a labelled query that finds nothing.
    pub fn rank_each(
        &self,
        text: &str,
        settings: &[(Option<Retriever>, Option<Fusion>)],
        depth: usize,
    ) -> Vec<Result<(Vec<Hit>, f64)>> {
        let query = self.analyse(text);
        let stop = self.default_stop();
        settings
            .iter()
            .map(|(retriever, fusion)| {
                let request = SearchRequest {
                    q: text.to_string(),
                    limit: Some(depth.min(self.limits.max_limit)),
                    retrievers: retriever.map(|r| vec![r]),
                    fusion: *fusion,
                    ..SearchRequest::default()
                };
                match self.search_analysed(&request, &query, &stop, Shown::First(0)) {
                    Ok(response) => Ok((response.hits, response.took_ms)),
                    Err(Error::InvalidRequest { .. }) => Ok((Vec::new(), 0.0)),
                    Err(e) => Err(e),
                }
            })
            .collect()
    }

    /// The change-log sequence number the lexical index has applied.
    pub(crate) fn lexical_seq(&self) -> Result<u64> {
        Ok(self.lexical.applied_seq()?)
    }

    pub fn stats(&self) -> Result<Stats> {
        Ok(Stats {
            records: self.store.len()?,
            indexed_items: self.lexical.num_docs(),
            store_seq: self.store.last_seq()?,
            lexical_seq: self.lexical.applied_seq()?,
            dense: self.dense.as_ref().map(Dense::status),
        })
    }
}

/// The lexical index as a [`store::Projection`]. Items carry their linked entities' labels and
/// aliases, so a batch that changes an entity also re-projects the items linking to it.
struct LexicalProjection<'a> {
    engine: &'a Engine,
    progress: &'a dyn Fn(Progress),
}

impl store::Projection for LexicalProjection<'_> {
    type Error = Error;

    fn applied_seq(&mut self) -> Result<u64> {
        Ok(self.engine.lexical.applied_seq()?)
    }

    fn apply(&mut self, batch: store::ChangeBatch) -> Result<()> {
        let engine = self.engine;
        let entities: BTreeSet<String> = batch
            .records
            .iter()
            .filter(|(_, s)| s.as_ref().is_none_or(|s| matches!(s.record, Record::Entity(_))))
            .map(|(id, _)| id.clone())
            .collect();
        let relinked = if entities.is_empty() { Vec::new() } else { engine.items_linking(&entities)? };
        let records = if relinked.iter().all(|id| batch.records.iter().any(|(changed, _)| changed == id)) {
            batch.records
        } else {
            // One snapshot for the changed records and the items that link to them.
            let ids: BTreeSet<String> = batch.records.into_iter().map(|(id, _)| id).chain(relinked).collect();
            let current = engine.store.get_many(ids.iter().map(String::as_str))?;
            ids.into_iter().zip(current).collect()
        };
        let mut items = Vec::new();
        let mut deleted = Vec::new();
        for (id, stored) in records {
            match stored.map(|s| s.record) {
                Some(Record::Item(item)) => items.push(item),
                // Entities are not searchable documents; an id that became one, or vanished, goes.
                _ => deleted.push(id),
            }
        }
        let deletes: Vec<&str> = deleted.iter().map(String::as_str).collect();
        engine.lexical.apply(&engine.index_docs(items)?, &deletes, batch.seq)?;
        Ok(())
    }

    /// A new index is built from a snapshot rather than by replaying the log; one ahead of the
    /// store (a store restored from an older backup) cannot be trusted and is built again.
    fn rebuild(&mut self, _store: &Store, seq: u64) -> Result<bool> {
        let applied = self.engine.lexical.applied_seq()?;
        if applied > seq {
            tracing::warn!(applied, last = seq, "lexical index is ahead of the store; rebuilding it");
        }
        self.engine.rebuild_lexical(seq, self.progress)?;
        Ok(true)
    }
}

/// Opens the lexical index; when it cannot be opened, panics while opening, or fails its
/// checksums, deletes it and opens a new empty one, which the first catch-up rebuilds from the
/// store. A projection is disposable: a damaged one costs a rebuild, never the service.
fn open_lexical(
    dir: &Path,
    analyzer: &Analyzer,
    expect_index: bool,
    repairs: &mut Vec<String>,
) -> Result<LexicalIndex> {
    let existed = dir.join("meta.json").exists();
    let attempt = || -> std::result::Result<LexicalIndex, String> {
        let opened =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| LexicalIndex::open(dir, analyzer.clone())));
        let index = match opened {
            Ok(Ok(index)) => index,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("opening it panicked".into()),
        };
        match index.applied_seq().and_then(|_| index.damaged_files()) {
            Ok(damaged) if damaged.is_empty() => Ok(index),
            Ok(damaged) => Err(format!("checksum mismatch in {}", damaged.join(", "))),
            Err(e) => Err(e.to_string()),
        }
    };
    let reason = match attempt() {
        Ok(index) => {
            if !existed && expect_index {
                // The catch-up rebuilds it; a deleted projection is worth a line in the log.
                tracing::warn!(dir = %dir.display(), "the lexical index is missing; rebuilding it from the store");
                repairs.push("lexical index rebuilt from the store (it was missing)".into());
            }
            return Ok(index);
        }
        Err(reason) => reason,
    };
    tracing::warn!(dir = %dir.display(), %reason, "the lexical index is damaged; rebuilding it from the store");
    repairs.push(format!("lexical index rebuilt from the store ({reason})"));
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::DataDir { path: dir.display().to_string(), message: e.to_string() }),
    }
    Ok(LexicalIndex::open(dir, analyzer.clone())?)
}

/// Keeps the analyzer's jieba user words (index and query side: the tantivy tokenizer shares the
/// analyzer) and the speller's vocabulary (query side) equal to the thesaurus's words, on load
/// and after every thesaurus edit. Items indexed earlier keep their tokens until `gridkb
/// reindex`; they still match a new word through its dictionary sub-words.
fn thesaurus_hook(analyzer: &Analyzer, speller: &crate::spelling::SharedSpeller) -> graph::ThesaurusHook {
    let (analyzer, speller) = (analyzer.clone(), speller.clone());
    Box::new(move |thesaurus: &graph::Thesaurus| {
        let words = thesaurus.user_words();
        tracing::debug!(words = words.len(), "thesaurus words in the jieba dictionary and the speller");
        speller.set_thesaurus_words(&words);
        analyzer.set_user_words(words);
    })
}

/// Between two stages of a search: `Err(Abandoned)` when its caller gave up (the work is
/// wasted), `Ok(false)` past the deadline (skip what is optional), else `Ok(true)`.
pub(crate) fn checkpoint(stop: &Stop) -> Result<bool> {
    if stop.is_abandoned() {
        return Err(Error::Abandoned);
    }
    Ok(!stop.expired())
}

/// Whether [`Engine::learn_categories`] keeps the tickets in the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepHistory {
    /// Written to the data directory and learned again at every open.
    Save,
    /// For this process only (an evaluation learning from its own labelled split).
    InMemory,
}

/// The category model learned from the past tickets kept in the data directory, if any. A file
/// that cannot be read stops the start with an error naming the line (serving with a model
/// nobody checked would be worse).
fn read_ticket_history(layout: &DataLayout) -> Result<Option<Arc<CategoryModel>>> {
    let path = layout.ticket_history_file();
    if !path.exists() {
        return Ok(None);
    }
    let refuse = |message: String| Error::DataDir {
        path: path.display().to_string(),
        message: format!("{message}; fix the file, learn again with `gridkb learn-categories`, or delete it"),
    };
    let read = crate::category_model::read_labelled(&path, None).map_err(refuse)?;
    let model = CategoryModel::learn(&read.tickets)
        .ok_or_else(|| refuse("its tickets name fewer than two categories".into()))?;
    tracing::info!(tickets = model.len(), "service categories learned from past tickets");
    Ok(Some(Arc::new(model)))
}

/// The tuned fusion saved in the data directory, if any; a file that cannot be read as a valid
/// fusion stops the start with an error naming it (serving with settings nobody chose would be
/// worse).
fn read_tuned_fusion(layout: &DataLayout) -> Result<Option<Fusion>> {
    let path = layout.fusion_file();
    let refuse = |message: String| Error::DataDir {
        path: path.display().to_string(),
        message: format!("{message}; fix the file or delete it to use the default fusion"),
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(refuse(e.to_string())),
    };
    let fusion: Fusion = serde_json::from_slice(&bytes).map_err(|e| refuse(format!("not a fusion setting ({e})")))?;
    fusion.validate().map_err(refuse)?;
    Ok(Some(fusion))
}
