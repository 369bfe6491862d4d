//! The filterable codes of every indexed item, in memory. Dense and graph candidates must pass
//! the same filters and status rules as lexical hits; checking them here costs a hash lookup per
//! candidate instead of a tantivy query that reads stored documents. Kept equal to the index:
//! filled from the stored documents at open, changed with every commit.

use std::collections::HashMap;

use crate::{FilterField, IndexDoc, LexicalQuery};

/// One item's codes per filterable field (indexed by `FilterField as usize`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Codes([Vec<String>; FilterField::ALL.len()]);

impl Codes {
    pub(crate) fn of(doc: &IndexDoc) -> Codes {
        let one = |v: &Option<String>| v.iter().cloned().collect::<Vec<_>>();
        Codes([
            vec![doc.kind.clone()],
            one(&doc.category),
            one(&doc.major),
            vec![doc.status.clone()],
            one(&doc.owner),
            one(&doc.owner_level),
            doc.products.clone(),
            doc.faults.clone(),
            doc.tags.clone(),
        ])
    }

    pub(crate) fn set(&mut self, field: FilterField, values: Vec<String>) {
        self.0[field as usize] = values;
    }

    pub(crate) fn get(&self, field: FilterField) -> &[String] {
        &self.0[field as usize]
    }

    fn has_any(&self, field: FilterField, wanted: &[String]) -> bool {
        self.0[field as usize].iter().any(|v| wanted.contains(v))
    }

    /// The tantivy rule of `search.rs`'s `with_filters`: each filter's values OR-ed, filters
    /// AND-ed, and without a status filter the excluded statuses left out.
    fn passes(&self, query: &LexicalQuery) -> bool {
        query.filters.iter().all(|(field, values)| self.has_any(*field, values))
            && (query.filters.contains_key(&FilterField::Status)
                || !self.has_any(FilterField::Status, &query.exclude_status))
    }
}

#[derive(Debug, Default)]
pub(crate) struct FilterTable {
    rows: HashMap<String, Codes>,
    /// Moves with every change: what was derived from the table is stale once it has moved.
    generation: u64,
}

impl FilterTable {
    pub(crate) fn insert(&mut self, id: String, codes: Codes) {
        self.rows.insert(id, codes);
        self.generation += 1;
    }

    pub(crate) fn remove(&mut self, id: &str) {
        self.rows.remove(id);
        self.generation += 1;
    }

    pub(crate) fn clear(&mut self) {
        self.rows.clear();
        self.generation += 1;
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The ids of every row that passes the query's filters and status rules, sorted.
    pub(crate) fn matching(&self, query: &LexicalQuery) -> Vec<String> {
        let mut ids: Vec<String> =
            self.rows.iter().filter(|(_, codes)| codes.passes(query)).map(|(id, _)| id.clone()).collect();
        ids.sort_unstable();
        ids
    }

    /// Whether the item `id` is indexed and passes the query's filters and status rules.
    pub(crate) fn passes(&self, id: &str, query: &LexicalQuery) -> bool {
        self.rows.get(id).is_some_and(|codes| codes.passes(query))
    }

    pub(crate) fn codes(&self, id: &str) -> Option<&Codes> {
        self.rows.get(id)
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }
}
