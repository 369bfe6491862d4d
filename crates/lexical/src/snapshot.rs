//! One request's view of the index. A ticket runs several searches over the same words (its
//! solutions, similar cases, answer standards) and then shows a page of each; with a snapshot
//! they all see the same commit, each term's document frequency is read from the term
//! dictionaries once (for BM25 and for snippet scores alike), and the page is read back by id
//! without running the text query again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tantivy::query::Bm25StatisticsProvider;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, DocSet, Searcher, TantivyDocument, Term};

use crate::schema::ID_FIELD;
use crate::search::{LexicalHit, LexicalQuery, LexicalResults, SNIPPET_CHARS};
use crate::snippets::TermFinder;
use crate::{LexicalIndex, Result};

/// What [`Snapshot::ranked`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Items matching the query and filters.
    pub total: usize,
    /// The deadline passed and some segments were skipped.
    pub partial: bool,
    /// Ids with their BM25 scores, best first.
    pub scored: Vec<(String, f32)>,
}

/// The index at one commit, with the term statistics its searches have looked up.
pub struct Snapshot<'a> {
    pub(crate) index: &'a LexicalIndex,
    pub(crate) searcher: Searcher,
    doc_freqs: Mutex<HashMap<Term, u64>>,
    tokens: Mutex<HashMap<Field, u64>>,
}

impl std::fmt::Debug for Snapshot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").field("docs", &self.searcher.num_docs()).finish()
    }
}

impl LexicalIndex {
    /// Every document's id in `segment`, by document number, read once per segment from the id
    /// column (its dictionary streamed in order, then each document's ordinal) and kept while the
    /// segment is live: ranked ids then cost an index into a vector, where the column's own
    /// lookup decompresses a dictionary block per id.
    pub(crate) fn segment_ids(&self, segment: &tantivy::SegmentReader) -> Result<Arc<Vec<String>>> {
        let key = segment.segment_id();
        if let Some(ids) = self.ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return Ok(Arc::clone(ids));
        }
        let column = segment
            .fast_fields()
            .str(ID_FIELD)?
            .ok_or_else(|| crate::Error::Corrupt("the id column is missing".into()))?;
        let mut terms = Vec::with_capacity(column.num_terms());
        let mut stream = column.dictionary().stream().map_err(tantivy::TantivyError::from)?;
        while stream.advance() {
            terms.push(String::from_utf8_lossy(stream.key()).into_owned());
        }
        let mut ids = Vec::with_capacity(segment.max_doc() as usize);
        for doc in 0..segment.max_doc() {
            let ord = column.term_ords(doc).next().and_then(|o| usize::try_from(o).ok());
            ids.push(ord.and_then(|o| terms.get(o)).cloned().unwrap_or_default());
        }
        let ids = Arc::new(ids);
        let mut cache = self.ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Segments merged away are dropped here: the cache holds the live ones and this one.
        let live: std::collections::HashSet<tantivy::index::SegmentId> =
            self.reader.searcher().segment_readers().iter().map(tantivy::SegmentReader::segment_id).collect();
        cache.retain(|id, _| live.contains(id));
        cache.insert(key, Arc::clone(&ids));
        Ok(ids)
    }

    /// The index as it is now, for the searches of one request.
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            index: self,
            searcher: self.reader.searcher(),
            doc_freqs: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        }
    }
}

impl Snapshot<'_> {
    /// Runs a BM25 query (see [`LexicalIndex::search`]).
    pub fn search(&self, query: &LexicalQuery) -> Result<LexicalResults> {
        self.index.search_in(self, query)
    }

    /// A BM25 query's ids and scores, best first, read from the id column without touching
    /// the stored documents: candidate generation for fusion, whose page is shown afterwards
    /// with [`Snapshot::show`].
    pub fn ranked(&self, query: &LexicalQuery) -> Result<Ranked> {
        let top = self.index.top_docs(self, query)?;
        Ok(Ranked { total: top.total, partial: top.partial, scored: self.scored_ids(top.docs)? })
    }

    /// [`Snapshot::ranked`] of `query` for each group of item kinds (a kind filter of that
    /// group in place of `query`'s own), from one BM25 ranking: the same ids, scores and counts
    /// as one search per group, for the cost of one.
    pub fn ranked_by_kind(&self, query: &LexicalQuery, groups: &[Vec<String>]) -> Result<Vec<Ranked>> {
        let (found, partial) = self.index.top_docs_by_kind(self, query, groups)?;
        found
            .into_iter()
            .map(|(total, docs)| {
                let scored = if query.limit == 0 { Vec::new() } else { self.scored_ids(docs)? };
                Ok(Ranked { total, partial, scored })
            })
            .collect()
    }

    /// Ranked documents as ids with their scores, read from the id column.
    fn scored_ids(&self, docs: Vec<(f32, DocAddress)>) -> Result<Vec<(String, f32)>> {
        let mut columns: Vec<Option<Arc<Vec<String>>>> = vec![None; self.searcher.segment_readers().len()];
        let mut scored = Vec::with_capacity(docs.len());
        for (score, address) in docs {
            let ids = match &mut columns[address.segment_ord as usize] {
                Some(ids) => ids,
                slot @ None => slot.insert(self.index.segment_ids(self.searcher.segment_reader(address.segment_ord))?),
            };
            let Some(id) = ids.get(address.doc_id as usize) else {
                return Err(crate::Error::Corrupt(format!("document {address:?} has no id")));
            };
            scored.push((id.clone(), score));
        }
        Ok(scored)
    }

    /// The stored fields of `ids`, in that order, shown as hits: with snippets for the query's
    /// terms when `snippets` is set, else the head of the body. Ids not in this snapshot are left
    /// out. Filters are not checked (the ids come from retrievers that applied them) and no score
    /// is computed (`score` is 0: the caller ranked them).
    pub fn show(&self, ids: &[String], query: &LexicalQuery, snippets: bool) -> Result<Vec<LexicalHit>> {
        let generators = if snippets && !query.terms.is_empty() {
            Some((
                self.snippet_generator(query, self.index.fields.body)?,
                self.snippet_generator(query, self.index.fields.title)?,
            ))
        } else {
            None
        };
        let mut hits = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(address) = self.address(id)? {
                let doc: TantivyDocument = self.searcher.doc(address)?;
                hits.push(self.index.hit(&doc, 0.0, query, generators.as_ref()));
            }
        }
        Ok(hits)
    }

    /// Where the live document with `id` is: one term lookup per segment.
    fn address(&self, id: &str) -> Result<Option<DocAddress>> {
        let term = Term::from_field_text(self.index.fields.id, id);
        for (ordinal, segment) in self.searcher.segment_readers().iter().enumerate() {
            let inverted = segment.inverted_index(self.index.fields.id)?;
            let Some(mut postings) =
                inverted.read_postings(&term, IndexRecordOption::Basic).map_err(tantivy::TantivyError::from)?
            else {
                continue;
            };
            let alive = segment.alive_bitset();
            let mut doc = postings.doc();
            while doc != tantivy::TERMINATED {
                if !alive.is_some_and(|a| a.is_deleted(doc)) {
                    return Ok(Some(DocAddress::new(ordinal as u32, doc)));
                }
                doc = postings.advance();
            }
        }
        Ok(None)
    }

    /// A snippet generator for `field` that scores the query's terms (expansions included) as
    /// tantivy's own does, by 1 / (1 + document frequency), with frequencies from this snapshot,
    /// and finds them in the text without segmenting it (`snippets.rs`).
    pub(crate) fn snippet_generator(&self, query: &LexicalQuery, field: Field) -> Result<SnippetGenerator> {
        let mut terms_text = BTreeMap::new();
        for term in query.terms.iter().chain(query.expansions.iter().map(|(t, _)| t)) {
            let doc_freq = self.doc_freq(&Term::from_field_text(field, term))?;
            if doc_freq > 0 {
                terms_text.insert(term.clone(), 1.0 / (1.0 + doc_freq as f32));
            }
        }
        let finder = TermFinder::new(terms_text.keys());
        Ok(SnippetGenerator::new(terms_text, finder.into(), field, SNIPPET_CHARS))
    }
}

impl Bm25StatisticsProvider for Snapshot<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        let mut memo = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(total) = memo.get(&field) {
            return Ok(*total);
        }
        let total = self.searcher.total_num_tokens(field)?;
        memo.insert(field, total);
        Ok(total)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        self.searcher.total_num_docs()
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        if let Some(found) = self.doc_freqs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(term) {
            return Ok(*found);
        }
        let found = self.searcher.doc_freq(term)?;
        self.doc_freqs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(term.clone(), found);
        Ok(found)
    }
}
