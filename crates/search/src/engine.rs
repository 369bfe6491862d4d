//! The engine of one data directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use analysis::Analyzer;
use lexical::{IndexDoc, LexicalIndex, LexicalQuery};
use serde::Serialize;
use store::{EntityClass, Item, Outcome, Record, Status, Store};

use crate::request::{Explanation, Hit, SearchRequest, SearchResponse};
use crate::{Error, Limits, Result};

/// Where each part of a data directory lives.
const STORE_FILE: &str = "records.redb";
const LEXICAL_DIR: &str = "lexical";

/// Statuses agents do not see unless they filter for them.
const UNPUBLISHED: [Status; 3] = [Status::Draft, Status::Review, Status::Retired];

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub data_dir: PathBuf,
    pub limits: Limits,
}

/// Long work reports its progress through this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Records written to the store.
    Stored { done: usize, total: usize },
    /// Store changes applied to the lexical index.
    Indexed { done: u64, total: u64 },
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
}

/// The store and its projections, with the single write path through them.
#[derive(Debug)]
pub struct Engine {
    store: Store,
    lexical: LexicalIndex,
    analyzer: Analyzer,
    limits: Limits,
    data_dir: PathBuf,
    /// One writer at a time: held across a store write and the catch-up that follows it.
    writer: Mutex<()>,
}

impl Engine {
    /// Opens (or creates) a data directory and brings every projection up to the store.
    pub fn open(options: EngineOptions, progress: &dyn Fn(Progress)) -> Result<Engine> {
        let dir = &options.data_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::DataDir { path: dir.display().to_string(), message: e.to_string() })?;
        let store = Store::open(&dir.join(STORE_FILE))?;
        let analyzer = Analyzer::new();
        let lexical = LexicalIndex::open(&dir.join(LEXICAL_DIR), analyzer.clone())?;
        let engine = Engine {
            store,
            lexical,
            analyzer,
            limits: options.limits,
            data_dir: options.data_dir,
            writer: Mutex::new(()),
        };
        let guard = engine.write_lock()?;
        engine.catch_up(&guard, progress)?;
        drop(guard);
        Ok(engine)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn write_lock(&self) -> Result<std::sync::MutexGuard<'_, ()>> {
        self.writer.lock().map_err(|_| Error::DataDir {
            path: self.data_dir.display().to_string(),
            message: "a previous write panicked; restart to recover from the store".into(),
        })
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
    fn catch_up(&self, _writer: &std::sync::MutexGuard<'_, ()>, progress: &dyn Fn(Progress)) -> Result<u64> {
        let last = self.store.last_seq()?;
        let mut applied = self.lexical.applied_seq()?;
        if applied > last {
            tracing::warn!(applied, last, "lexical index is ahead of the store; rebuilding it");
            self.lexical.clear()?;
            applied = 0;
        }
        if applied == last {
            return Ok(last);
        }
        if applied == 0 {
            self.rebuild_lexical(last, progress)?;
            return Ok(last);
        }
        while applied < last {
            let changes = self.store.changes_since(applied, self.limits.ingest_batch)?;
            let Some(newest) = changes.last().map(|c| c.seq) else { break };
            let ids: BTreeSet<&str> = changes.iter().map(|c| c.id.as_str()).collect();
            let current = self.store.get_many(ids.iter().copied())?;
            let mut items = Vec::new();
            let mut deletes = Vec::new();
            for (id, stored) in ids.iter().zip(current) {
                match stored.map(|s| s.record) {
                    Some(Record::Item(item)) => items.push(item),
                    // Entities are not searchable documents; an id that became one, or vanished, goes.
                    _ => deletes.push(*id),
                }
            }
            self.lexical.apply(&self.index_docs(items)?, &deletes, newest)?;
            applied = newest;
            progress(Progress::Indexed { done: applied, total: last });
        }
        Ok(last)
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

    /// Runs a search on the current snapshot of the indexes.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResponse> {
        let started = Instant::now();
        let limit = request.validate(&self.limits)?;
        let masked = analysis::mask(&request.q).text;
        let terms = self.analyzer.query_terms(&analysis::normalize(&masked));
        if terms.is_empty() && request.filters.is_empty() {
            return Err(Error::invalid(
                "empty_query",
                "the query has no searchable words (only punctuation or masked personal data)",
            ));
        }
        let query = LexicalQuery {
            terms: terms.clone(),
            filters: request.filters.clone(),
            exclude_status: UNPUBLISHED.iter().map(|s| s.code().to_string()).collect(),
            limit,
            offset: request.offset,
            deadline: Some(started + self.limits.search_deadline()),
        };
        let results = self.lexical.search(&query)?;
        let hits = results
            .hits
            .into_iter()
            .enumerate()
            .map(|(i, hit)| Hit {
                rank: request.offset + i + 1,
                score: hit.score,
                explanation: Explanation {
                    matched_terms: hit.matched_terms,
                    lexical_score: hit.score,
                    lexical_rank: request.offset + i + 1,
                },
                id: hit.id,
                title: hit.title,
                kind: hit.kind,
                category: hit.category,
                status: hit.status,
                products: hit.products,
                faults: hit.faults,
                tags: hit.tags,
                snippet: hit.snippet,
            })
            .collect();
        Ok(SearchResponse {
            query: masked,
            terms,
            total: results.total,
            offset: request.offset,
            hits,
            partial: results.partial,
            retrievers: vec!["lexical".to_string()],
            took_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    pub fn stats(&self) -> Result<Stats> {
        Ok(Stats {
            records: self.store.len()?,
            indexed_items: self.lexical.num_docs(),
            store_seq: self.store.last_seq()?,
            lexical_seq: self.lexical.applied_seq()?,
        })
    }
}
