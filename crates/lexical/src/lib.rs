//! The lexical index: jieba-segmented BM25 over knowledge items, in tantivy.
//!
//! A projection of the record store: every commit carries, in its payload, the store sequence
//! number it has applied, so after a crash the index is the old or the new commit and the caller
//! replays the store's change log from there.
//!
//! Architecture invariant: this is the only crate that imports tantivy. User text never reaches
//! tantivy's query parser; queries are built here from the analyser's terms.

mod by_kind;
mod filters;
mod schema;
mod search;
mod snapshot;
mod snippets;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Mutex, RwLock};

use analysis::Analyzer;
use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::schema::Value;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use filters::{Codes, FilterTable};

pub use schema::SCHEMA_VERSION;
use schema::{Fields, TOKENIZER};
pub use search::{FilterField, LexicalHit, LexicalQuery, LexicalResults};
pub use snapshot::{Ranked, Snapshot};

/// Memory the indexing threads may use before flushing a segment.
pub const WRITER_MEMORY_BYTES: usize = 96 * 1024 * 1024;

/// A knowledge item as the lexical index sees it: display text plus filterable codes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IndexDoc {
    pub id: String,
    pub title: String,
    pub body: String,
    /// Labels and aliases of linked entities, searchable with a low weight.
    pub related: String,
    pub kind: String,
    pub category: Option<String>,
    pub major: Option<String>,
    pub status: String,
    pub owner: Option<String>,
    pub owner_level: Option<String>,
    /// Linked product ids, with the product lines of linked models.
    pub products: Vec<String>,
    pub faults: Vec<String>,
    pub tags: Vec<String>,
    pub version: u64,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("lexical index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("lexical index directory {path}: {message}")]
    Directory { path: String, message: String },
    #[error("lexical index is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the index records in each commit payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Payload {
    schema: u32,
    seq: u64,
}

/// The lexical index of one data directory.
pub struct LexicalIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter<TantivyDocument>>,
    fields: Fields,
    analyzer: Analyzer,
    /// The filterable codes of every visible document (see `filters.rs`).
    filters: RwLock<FilterTable>,
    /// Each live segment's ids by document number (see `Snapshot::ranked`).
    ids: Mutex<std::collections::HashMap<tantivy::index::SegmentId, std::sync::Arc<Vec<String>>>>,
}

impl std::fmt::Debug for LexicalIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LexicalIndex").field("applied_seq", &self.applied_seq().ok()).finish()
    }
}

impl LexicalIndex {
    /// Opens the index in `dir`, creating it when absent. An index written with another schema
    /// version is discarded and recreated empty (its applied sequence number is then 0, so the
    /// caller rebuilds it from the store).
    pub fn open(dir: &Path, analyzer: Analyzer) -> Result<LexicalIndex> {
        let dir_error = |message: String| Error::Directory { path: dir.display().to_string(), message };
        std::fs::create_dir_all(dir).map_err(|e| dir_error(e.to_string()))?;
        let (schema, fields) = schema::build();
        let index = if dir.join("meta.json").exists() {
            let directory = MmapDirectory::open(dir).map_err(|e| dir_error(e.to_string()))?;
            let index = Index::open(directory)?;
            if read_payload(&index)?.is_some_and(|p| p.schema == SCHEMA_VERSION) && index.schema() == schema {
                index
            } else {
                tracing::warn!(dir = %dir.display(), "lexical index has another schema version; rebuilding");
                drop(index);
                std::fs::remove_dir_all(dir).map_err(|e| dir_error(e.to_string()))?;
                std::fs::create_dir_all(dir).map_err(|e| dir_error(e.to_string()))?;
                Index::create_in_dir(dir, schema)?
            }
        } else {
            Index::create_in_dir(dir, schema)?
        };
        index.tokenizers().register(TOKENIZER, analyzer.tokenizer());
        let writer = index.writer(WRITER_MEMORY_BYTES)?;
        let reader: IndexReader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let mut table = FilterTable::default();
        for_each_stored(&reader.searcher(), |doc| {
            table.insert(fields.text(doc, fields.id), fields.codes(doc));
        })?;
        Ok(LexicalIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            analyzer,
            filters: RwLock::new(table),
            ids: Mutex::default(),
        })
    }

    /// The store sequence number of the last committed batch (0 for a new index).
    pub fn applied_seq(&self) -> Result<u64> {
        Ok(read_payload(&self.index)?.map_or(0, |p| p.seq))
    }

    /// Replaces or adds `upserts`, removes `deletes`, and commits durably with `seq` as the
    /// applied sequence number. Searchers opened before the call keep their snapshot.
    pub fn apply(&self, upserts: &[IndexDoc], deletes: &[&str], seq: u64) -> Result<()> {
        let writer = self.writer.lock().map_err(|_| Error::Corrupt("index writer poisoned".into()))?;
        for id in deletes.iter().copied().chain(upserts.iter().map(|d| d.id.as_str())) {
            writer.delete_term(Term::from_field_text(self.fields.id, id));
        }
        for doc in upserts {
            writer.add_document(self.fields.document(doc))?;
        }
        // The table changes right after the commit becomes visible (the engine's single writer
        // orders commits), so a new document lacks its codes for microseconds at most.
        self.commit(writer, seq)?;
        let mut table = self.filters.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for id in deletes {
            table.remove(id);
        }
        for doc in upserts {
            table.insert(doc.id.clone(), Codes::of(doc));
        }
        Ok(())
    }

    /// The ids among `ids` that are indexed and pass `query`'s filters and status rules (its
    /// terms are not looked at): what dense and graph candidates are held to. In memory.
    pub fn passing(&self, ids: &[String], query: &LexicalQuery) -> BTreeSet<String> {
        let table = self.filters.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.iter().filter(|id| table.passes(id, query)).cloned().collect()
    }

    /// Hits for `ids` from the in-memory filter table alone, in that order (ids not indexed are
    /// left out): id, kind, category, status, products, faults and tags, with an empty title and
    /// snippet and a score of 0. For hits that are counted (votes, choices by kind or tag) but
    /// not shown: no stored document is read.
    pub fn briefs(&self, ids: &[String]) -> Vec<LexicalHit> {
        let table = self.filters.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.iter()
            .filter_map(|id| {
                let codes = table.codes(id)?;
                let first = |field| codes.get(field).first().cloned();
                Some(LexicalHit {
                    id: id.clone(),
                    score: 0.0,
                    title: String::new(),
                    kind: first(FilterField::Kind).unwrap_or_default(),
                    category: first(FilterField::Category),
                    status: first(FilterField::Status).unwrap_or_default(),
                    products: codes.get(FilterField::Product).to_vec(),
                    faults: codes.get(FilterField::Fault).to_vec(),
                    tags: codes.get(FilterField::Tag).to_vec(),
                    snippet: String::new(),
                    matched_terms: Vec::new(),
                })
            })
            .collect()
    }

    /// Every indexed id that passes `query`'s filters and status rules (its terms are not looked
    /// at), sorted: a filter-only browse from memory, for small sets such as the guidance items.
    pub fn matching(&self, query: &LexicalQuery) -> Vec<String> {
        self.filters.read().unwrap_or_else(std::sync::PoisonError::into_inner).matching(query)
    }

    /// A number that changes whenever the filter table does (any document added, replaced or
    /// removed): a cache of what the table holds is current while it stays the same.
    pub fn generation(&self) -> u64 {
        self.filters.read().unwrap_or_else(std::sync::PoisonError::into_inner).generation()
    }

    /// Items in the in-memory filter table (equal to the visible documents).
    pub fn filter_rows(&self) -> usize {
        self.filters.read().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// Commits durably with `seq` in the payload, then makes the commit visible to searches.
    fn commit(&self, mut writer: std::sync::MutexGuard<'_, IndexWriter<TantivyDocument>>, seq: u64) -> Result<()> {
        let payload = serde_json::to_string(&Payload { schema: SCHEMA_VERSION, seq })
            .map_err(|e| Error::Corrupt(e.to_string()))?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&payload);
        fail::fail_point!("lexical.commit");
        prepared.commit()?;
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// The files of the committed index whose content does not match their checksum (empty when
    /// the index is sound). Reads every file once: tens of milliseconds on the full corpus.
    pub fn damaged_files(&self) -> Result<Vec<String>> {
        let mut files: Vec<String> =
            self.index.validate_checksum()?.into_iter().map(|p| p.display().to_string()).collect();
        files.sort();
        Ok(files)
    }

    /// Removes every document (before a rebuild from the store).
    pub fn clear(&self) -> Result<()> {
        let writer = self.writer.lock().map_err(|_| Error::Corrupt("index writer poisoned".into()))?;
        writer.delete_all_documents()?;
        self.commit(writer, 0)?;
        self.filters.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        Ok(())
    }

    /// Every document visible to searches, as id → item version: what `gridkb check` compares
    /// with the store. Reads each stored document once (tens of milliseconds on the full corpus).
    pub fn documents(&self) -> Result<BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        for_each_stored(&self.reader.searcher(), |doc| {
            let version = doc.get_first(self.fields.version).and_then(|v| v.as_u64()).unwrap_or(0);
            out.insert(self.fields.text(doc, self.fields.id), version);
        })?;
        Ok(out)
    }

    /// Number of documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }
}

/// Calls `visit` with every visible document's stored fields.
fn for_each_stored(searcher: &Searcher, mut visit: impl FnMut(&TantivyDocument)) -> Result<()> {
    for (ordinal, segment) in searcher.segment_readers().iter().enumerate() {
        let alive = segment.alive_bitset();
        for doc in 0..segment.max_doc() {
            if alive.is_some_and(|a| a.is_deleted(doc)) {
                continue;
            }
            let stored: TantivyDocument = searcher.doc(tantivy::DocAddress::new(ordinal as u32, doc))?;
            visit(&stored);
        }
    }
    Ok(())
}

fn read_payload(index: &Index) -> Result<Option<Payload>> {
    let metas = index.load_metas()?;
    match metas.payload {
        None => Ok(None),
        Some(text) => {
            serde_json::from_str(&text).map(Some).map_err(|e| Error::Corrupt(format!("commit payload {text:?}: {e}")))
        }
    }
}
