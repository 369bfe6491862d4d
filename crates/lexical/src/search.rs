//! Building BM25 queries from analysed terms, and reading hits back with snippets.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::Serialize;
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery, Weight};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{SegmentOrdinal, SegmentReader, TantivyDocument, Term};

use crate::by_kind::{ByKind, GroupFruit};
pub use crate::schema::FilterField;
use crate::snapshot::Snapshot;
use crate::{LexicalIndex, Result};

/// Weight of a term found in the title, relative to the body.
pub const TITLE_BOOST: f32 = 2.0;
/// Weight of a term found only in linked entities' labels and aliases.
pub const RELATED_BOOST: f32 = 0.6;
/// Longest snippet, in characters.
pub const SNIPPET_CHARS: usize = 160;

/// A lexical search, already analysed: `terms` come from the analyser, never from raw user text.
#[derive(Debug, Clone, Default)]
pub struct LexicalQuery {
    pub terms: Vec<String>,
    /// Further terms with a weight (0..1] that scales their boost: synonyms of what the query
    /// names (the preferred label and aliases of a linked fault or product). They add to the
    /// score of a hit but never make an otherwise empty query match everything.
    pub expansions: Vec<(String, f32)>,
    /// Each field's values are OR-ed; different fields are AND-ed.
    pub filters: BTreeMap<FilterField, Vec<String>>,
    /// Statuses never returned (e.g. `retired`), unless a status filter asks for them.
    pub exclude_status: Vec<String>,
    pub limit: usize,
    pub offset: usize,
    /// Past this instant, hits are returned without snippets and flagged partial.
    pub deadline: Option<Instant>,
    /// Candidate generation for fusion: hits come back without snippets (they are made later,
    /// by [`LexicalIndex::lookup`], for the page actually shown).
    pub skip_snippets: bool,
}

/// A query's best documents (its page: `offset`, `limit`), how many match, and whether the
/// deadline cut the search short.
pub(crate) struct Top {
    pub(crate) docs: Vec<(f32, tantivy::DocAddress)>,
    pub(crate) total: usize,
    pub(crate) partial: bool,
}

/// One lexical hit and why it matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LexicalHit {
    pub id: String,
    pub score: f32,
    pub title: String,
    pub kind: String,
    pub category: Option<String>,
    pub status: String,
    pub products: Vec<String>,
    pub faults: Vec<String>,
    pub tags: Vec<String>,
    /// The best fragment of the body (or the title), HTML-escaped, matches in `<em>`.
    pub snippet: String,
    /// Query terms found in the title or body.
    pub matched_terms: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LexicalResults {
    /// Number of items matching the query and filters.
    pub total: usize,
    pub hits: Vec<LexicalHit>,
    /// The deadline passed before snippets were made.
    pub partial: bool,
}

impl LexicalIndex {
    /// Runs a query on the current snapshot.
    pub fn search(&self, query: &LexicalQuery) -> Result<LexicalResults> {
        self.snapshot().search(query)
    }

    /// [`LexicalIndex::search`] on `snapshot`, with its term statistics.
    pub(crate) fn search_in(&self, snapshot: &Snapshot<'_>, query: &LexicalQuery) -> Result<LexicalResults> {
        let top = self.top_docs(snapshot, query)?;
        let hits = self.read_hits(snapshot, top.docs, query, top.partial || query.skip_snippets)?;
        Ok(LexicalResults { total: top.total, hits, partial: top.partial })
    }

    /// The query's best documents, with BM25 statistics from `snapshot`.
    pub(crate) fn top_docs(&self, snapshot: &Snapshot<'_>, query: &LexicalQuery) -> Result<Top> {
        let full_query = self.with_filters(self.text_query(query), query);
        let collector = Deadline {
            inner: (TopDocs::with_limit(query.limit.max(1)).and_offset(query.offset).order_by_score(), Count),
            deadline: query.deadline,
            skipped: AtomicBool::new(false),
        };
        let (top, total) = snapshot.searcher.search_with_statistics_provider(&*full_query, &collector, snapshot)?;
        let top = if query.limit == 0 { Vec::new() } else { top };
        let partial = collector.skipped.load(Ordering::Relaxed) || query.deadline.is_some_and(|d| Instant::now() >= d);
        Ok(Top { docs: top, total, partial })
    }

    /// [`LexicalIndex::top_docs`] of `query` once for each group of kinds, as if its kind filter
    /// were that group (its own kind filter is ignored; its other filters and the status rule
    /// apply), from one ranking ([`crate::by_kind`]): each group's count of matches and its best
    /// `query.limit`, and whether the deadline cut the ranking short.
    pub(crate) fn top_docs_by_kind(
        &self,
        snapshot: &Snapshot<'_>,
        query: &LexicalQuery,
        groups: &[Vec<String>],
    ) -> Result<(Vec<GroupFruit>, bool)> {
        let mut any_kind = query.clone();
        any_kind.filters.remove(&FilterField::Kind);
        let full_query = self.with_filters(self.text_query(&any_kind), &any_kind);
        let collector = Deadline {
            inner: ByKind { kind: self.fields.kind, groups: groups.to_vec(), limit: query.limit },
            deadline: query.deadline,
            skipped: AtomicBool::new(false),
        };
        let found = snapshot.searcher.search_with_statistics_provider(&*full_query, &collector, snapshot)?;
        let partial = collector.skipped.load(Ordering::Relaxed) || query.deadline.is_some_and(|d| Instant::now() >= d);
        Ok((found, partial))
    }

    /// The documents among `ids` that pass the query's filters and status exclusions, scored by
    /// the query's terms (0 when none matches), best first, with snippets: hits found by other
    /// means, checked against the filters by tantivy itself. (A search's page is shown with
    /// [`Snapshot::show`], which reads the ids without a query.)
    pub fn lookup(&self, ids: &[String], query: &LexicalQuery) -> Result<Vec<LexicalHit>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let snapshot = self.snapshot();
        let text_query = self.text_query(query);
        let any_id: Vec<(Occur, Box<dyn Query>)> =
            ids.iter().map(|id| (Occur::Should, exact(self.fields.id, id))).collect();
        let scoped: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::new(any_id)), 0.0)) as Box<dyn Query>),
            (Occur::Should, text_query),
        ]));
        let full_query = self.with_filters(scoped, query);
        let top = snapshot.searcher.search_with_statistics_provider(
            &*full_query,
            &TopDocs::with_limit(ids.len()).order_by_score(),
            &snapshot,
        )?;
        let late = query.deadline.is_some_and(|d| Instant::now() >= d);
        self.read_hits(&snapshot, top, query, late || query.skip_snippets)
    }

    fn read_hits(
        &self,
        snapshot: &Snapshot<'_>,
        top: Vec<(f32, tantivy::DocAddress)>,
        query: &LexicalQuery,
        skip_snippets: bool,
    ) -> Result<Vec<LexicalHit>> {
        let snippets = if skip_snippets || query.terms.is_empty() {
            None
        } else {
            Some((
                snapshot.snippet_generator(query, self.fields.body)?,
                snapshot.snippet_generator(query, self.fields.title)?,
            ))
        };
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = snapshot.searcher.doc(address)?;
            hits.push(self.hit(&doc, score, query, snippets.as_ref()));
        }
        Ok(hits)
    }

    /// Every term may match in title, body or related labels; BM25 sums what matches.
    fn text_query(&self, query: &LexicalQuery) -> Box<dyn Query> {
        if query.terms.is_empty() {
            return Box::new(AllQuery);
        }
        let weighted = query.terms.iter().map(|t| (t, 1.0)).chain(query.expansions.iter().map(|(t, w)| (t, *w)));
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            Vec::with_capacity((query.terms.len() + query.expansions.len()) * 3);
        for (term, weight) in weighted {
            for (field, boost) in
                [(self.fields.title, TITLE_BOOST), (self.fields.body, 1.0), (self.fields.related, RELATED_BOOST)]
            {
                let term_query = TermQuery::new(Term::from_field_text(field, term), IndexRecordOption::WithFreqs);
                clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(term_query), boost * weight))));
            }
        }
        Box::new(BooleanQuery::new(clauses))
    }

    /// Filters restrict without scoring.
    fn with_filters(&self, text: Box<dyn Query>, query: &LexicalQuery) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text)];
        for (name, values) in &query.filters {
            let field = self.fields.filter_field(*name);
            let any_of: Vec<(Occur, Box<dyn Query>)> =
                values.iter().map(|v| (Occur::Should, exact(field, v))).collect();
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::new(any_of)), 0.0))));
        }
        if !query.filters.contains_key(&FilterField::Status) {
            for status in &query.exclude_status {
                clauses.push((Occur::MustNot, exact(self.fields.status, status)));
            }
        }
        Box::new(BooleanQuery::new(clauses))
    }

    pub(crate) fn hit(
        &self,
        doc: &TantivyDocument,
        score: f32,
        query: &LexicalQuery,
        snippets: Option<&(SnippetGenerator, SnippetGenerator)>,
    ) -> LexicalHit {
        let text = |field: Field| self.fields.text(doc, field);
        let all = |field: Field| doc.get_all(field).filter_map(|v| v.as_str().map(str::to_string)).collect();
        let (title, body) = (text(self.fields.title), text(self.fields.body));
        let snippet = match snippets {
            Some((body_snippets, title_snippets)) => {
                let mut snippet = body_snippets.snippet(&body);
                if snippet.highlighted().is_empty() {
                    snippet = title_snippets.snippet(&title);
                }
                highlight_html(snippet.fragment(), snippet.highlighted())
            }
            None => html_escape(&body.chars().take(SNIPPET_CHARS).collect::<String>()),
        };
        let expansions = query.expansions.iter().map(|(t, _)| t);
        let matched_terms = query
            .terms
            .iter()
            .chain(expansions)
            .filter(|t| title.contains(t.as_ref() as &str) || body.contains(t.as_ref() as &str))
            .cloned()
            .collect();
        let category = doc.get_first(self.fields.category).and_then(|v| v.as_str()).map(str::to_string);
        LexicalHit {
            id: text(self.fields.id),
            score,
            title: text(self.fields.display_title),
            kind: text(self.fields.kind),
            category,
            status: text(self.fields.status),
            products: all(self.fields.products),
            faults: all(self.fields.faults),
            tags: all(self.fields.tags),
            snippet,
            matched_terms,
        }
    }
}

/// Wraps a collector so that segments reached after the deadline are skipped (and the skip
/// recorded) instead of scored: a query over a large index answers late-but-bounded, flagged
/// partial, rather than whenever it finishes.
struct Deadline<C> {
    inner: C,
    deadline: Option<Instant>,
    skipped: AtomicBool,
}

impl<C: Collector> Collector for Deadline<C> {
    type Fruit = C::Fruit;
    type Child = Option<C::Child>;

    fn check_schema(&self, schema: &tantivy::schema::Schema) -> tantivy::Result<()> {
        self.inner.check_schema(schema)
    }

    fn for_segment(&self, ordinal: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<Self::Child> {
        self.inner.for_segment(ordinal, segment).map(Some)
    }

    fn requires_scoring(&self) -> bool {
        self.inner.requires_scoring()
    }

    fn merge_fruits(&self, fruits: Vec<Option<<C::Child as SegmentCollector>::Fruit>>) -> tantivy::Result<C::Fruit> {
        self.inner.merge_fruits(fruits.into_iter().flatten().collect())
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        ordinal: u32,
        segment: &SegmentReader,
    ) -> tantivy::Result<Option<<C::Child as SegmentCollector>::Fruit>> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.skipped.store(true, Ordering::Relaxed);
            return Ok(None);
        }
        self.inner.collect_segment(weight, ordinal, segment).map(Some)
    }
}

fn exact(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

/// Renders a fragment with its highlighted byte ranges in `<em>`, HTML-escaped. Search-mode
/// segmentation yields overlapping tokens (`对时异常` over `对时` and `异常`), so ranges are
/// sorted, merged and clamped to character boundaries here rather than trusted.
fn highlight_html(fragment: &str, ranges: &[std::ops::Range<usize>]) -> String {
    let mut ranges: Vec<std::ops::Range<usize>> = ranges
        .iter()
        .map(|r| floor_char_boundary(fragment, r.start)..floor_char_boundary(fragment, r.end))
        .filter(|r| r.start < r.end)
        .collect();
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    let mut out = String::with_capacity(fragment.len() + merged.len() * 9);
    let mut cursor = 0;
    for range in merged {
        out.push_str(&html_escape(&fragment[cursor..range.start]));
        out.push_str("<em>");
        out.push_str(&html_escape(&fragment[range.start..range.end]));
        out.push_str("</em>");
        cursor = range.end;
    }
    out.push_str(&html_escape(&fragment[cursor..]));
    out
}

fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::highlight_html;

    #[test]
    fn overlapping_and_out_of_range_highlights_render_without_panicking() {
        let fragment = "被授时装置“对时异常”<b>";
        let start = fragment.find("对时").unwrap();
        let ranges = [
            start..start + 12,
            start..start + 6,
            start + 6..start + 12,
            0..1,
            40..200,
            std::ops::Range { start: 9, end: 3 },
        ];
        assert_eq!(highlight_html(fragment, &ranges), "被授时装置“<em>对时异常</em>”&lt;b&gt;");
    }
}
