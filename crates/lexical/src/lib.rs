//! The lexical index: jieba-segmented BM25 over knowledge items, in tantivy.
//!
//! A projection of the record store: every commit carries, in its payload, the store sequence
//! number it has applied, so after a crash the index is the old or the new commit and the caller
//! replays the store's change log from there.
//!
//! Architecture invariant: this is the only crate that imports tantivy. User text never reaches
//! tantivy's query parser; queries are built here from the analyser's terms.

mod schema;
mod search;

use std::path::Path;
use std::sync::Mutex;

use analysis::Analyzer;
use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

pub use schema::SCHEMA_VERSION;
use schema::{Fields, TOKENIZER};
pub use search::{FilterField, LexicalHit, LexicalQuery, LexicalResults};

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
        let mut index = if dir.join("meta.json").exists() {
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
        index.set_default_multithread_executor()?;
        index.tokenizers().register(TOKENIZER, analyzer.tokenizer());
        let writer = index.writer(WRITER_MEMORY_BYTES)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(LexicalIndex { index, reader, writer: Mutex::new(writer), fields, analyzer })
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
        self.commit(writer, seq)
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
        self.commit(writer, 0)
    }

    /// Every document visible to searches, as id → item version: what `gridkb check` compares
    /// with the store. Reads each stored document once (tens of milliseconds on the full corpus).
    pub fn documents(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        use tantivy::schema::Value;
        let searcher = self.reader.searcher();
        let mut out = std::collections::BTreeMap::new();
        for (ordinal, segment) in searcher.segment_readers().iter().enumerate() {
            let alive = segment.alive_bitset();
            for doc in 0..segment.max_doc() {
                if alive.is_some_and(|a| a.is_deleted(doc)) {
                    continue;
                }
                let address = tantivy::DocAddress::new(ordinal as u32, doc);
                let stored: TantivyDocument = searcher.doc(address)?;
                let id = stored.get_first(self.fields.id).and_then(|v| v.as_str()).unwrap_or_default().to_string();
                let version = stored.get_first(self.fields.version).and_then(|v| v.as_u64()).unwrap_or(0);
                out.insert(id, version);
            }
        }
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

fn read_payload(index: &Index) -> Result<Option<Payload>> {
    let metas = index.load_metas()?;
    match metas.payload {
        None => Ok(None),
        Some(text) => {
            serde_json::from_str(&text).map(Some).map_err(|e| Error::Corrupt(format!("commit payload {text:?}: {e}")))
        }
    }
}
