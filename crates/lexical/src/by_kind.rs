//! One BM25 ranking of a query, split by the kinds of the documents it finds.
//!
//! A ticket match ranks the same words for its solutions, its similar cases and its guidance,
//! each a search filtered by item kind. Each such search builds a scorer for every query term in
//! every field (most of a ranking's cost) and walks their union. Ranking once without the kind
//! filter and sorting each document into the groups its kind belongs to gives each group the
//! list, scores and count its own filtered search would give, for one build and one walk.

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{BitSet, DocAddress, DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TERMINATED, Term};

/// Per group of kinds: how many documents matched, and the best `limit` of them, best first.
pub(crate) type GroupFruit = (usize, Vec<(Score, DocAddress)>);

/// Splits a ranking into `groups` (each a set of kind codes) of at most `limit` documents.
#[derive(Debug)]
pub(crate) struct ByKind {
    pub(crate) kind: Field,
    pub(crate) groups: Vec<Vec<String>>,
    pub(crate) limit: usize,
}

/// One segment's documents of each group.
pub(crate) struct SegmentByKind {
    ordinal: SegmentOrdinal,
    limit: usize,
    members: Vec<BitSet>,
    found: Vec<(usize, Vec<(Score, DocId)>)>,
}

/// The documents of `reader` holding any of `values` in `field`, read off their postings.
fn holding(reader: &SegmentReader, field: Field, values: &[String]) -> tantivy::Result<BitSet> {
    let mut set = BitSet::with_max_value(reader.max_doc());
    let inverted = reader.inverted_index(field)?;
    for value in values {
        if let Some(mut postings) =
            inverted.read_postings(&Term::from_field_text(field, value), IndexRecordOption::Basic)?
        {
            let mut doc = postings.doc();
            while doc != TERMINATED {
                set.insert(doc);
                doc = postings.advance();
            }
        }
    }
    Ok(set)
}

/// Best first: the higher score, then the earlier document.
fn best_first<D: Ord + Copy>(a: &(Score, D), b: &(Score, D)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// `found` cut to its best `limit`, best first.
fn best<D: Ord + Copy>(mut found: Vec<(Score, D)>, limit: usize) -> Vec<(Score, D)> {
    if found.len() > limit && limit > 0 {
        found.select_nth_unstable_by(limit - 1, best_first);
    }
    found.truncate(limit);
    found.sort_by(best_first);
    found
}

impl SegmentCollector for SegmentByKind {
    type Fruit = Vec<GroupFruit>;

    fn collect(&mut self, doc: DocId, score: Score) {
        for (members, (count, found)) in self.members.iter().zip(&mut self.found) {
            if members.contains(doc) {
                *count += 1;
                found.push((score, doc));
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        let (ordinal, limit) = (self.ordinal, self.limit);
        self.found
            .into_iter()
            .map(|(count, found)| {
                let docs = best(found, limit).into_iter().map(|(s, doc)| (s, DocAddress::new(ordinal, doc))).collect();
                (count, docs)
            })
            .collect()
    }
}

impl Collector for ByKind {
    type Fruit = Vec<GroupFruit>;
    type Child = SegmentByKind;

    fn for_segment(&self, ordinal: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SegmentByKind> {
        let members =
            self.groups.iter().map(|kinds| holding(reader, self.kind, kinds)).collect::<tantivy::Result<Vec<_>>>()?;
        Ok(SegmentByKind { ordinal, limit: self.limit, found: vec![(0, Vec::new()); members.len()], members })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, segments: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut merged: Vec<(usize, Vec<(Score, DocAddress)>)> = vec![(0, Vec::new()); self.groups.len()];
        for segment in segments {
            for ((count, docs), (total, all)) in segment.into_iter().zip(&mut merged) {
                *total += count;
                all.extend(docs);
            }
        }
        Ok(merged.into_iter().map(|(total, all)| (total, best(all, self.limit))).collect())
    }
}
