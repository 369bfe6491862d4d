//! Do the projections agree with the store? `gridkb check` asks after a crash or a restore, and
//! the crash suite asks after every kill: the lexical index must hold exactly the store's items
//! at their stored versions, the graph exactly the triples a fresh load of the store gives, and
//! the vector index (when there is one) exactly the store's items.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use store::Record;

use crate::{Engine, Result};

/// Examples of disagreeing ids (or triples) kept per projection.
const EXAMPLES: usize = 10;

/// How one projection differs from the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProjectionDiff {
    /// The store sequence number the projection says it has applied.
    pub applied_seq: u64,
    /// In the store, not in the projection.
    pub missing: usize,
    /// In the projection, not in the store.
    pub extra: usize,
    /// In both, at another version.
    pub stale: usize,
    /// A few of the ids (or triples) above, to start looking from.
    pub examples: Vec<String>,
}

impl ProjectionDiff {
    fn of(applied_seq: u64, expected: &BTreeMap<String, u64>, found: &BTreeMap<String, u64>) -> ProjectionDiff {
        let mut diff = ProjectionDiff { applied_seq, ..ProjectionDiff::default() };
        for (id, version) in expected {
            match found.get(id) {
                None => diff.note_missing(id),
                Some(v) if v != version => {
                    diff.stale += 1;
                    diff.example(format!("{id}: version {v}, the store has {version}"));
                }
                Some(_) => {}
            }
        }
        for id in found.keys().filter(|id| !expected.contains_key(*id)) {
            diff.extra += 1;
            diff.example(format!("{id}: not in the store"));
        }
        diff
    }

    fn note_missing(&mut self, what: &str) {
        self.missing += 1;
        self.example(format!("{what}: missing"));
    }

    fn example(&mut self, text: String) {
        if self.examples.len() < EXAMPLES {
            self.examples.push(text);
        }
    }

    pub fn agrees(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.stale == 0
    }
}

/// The store against each projection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectionCheck {
    /// The store's last sequence number.
    pub store_seq: u64,
    /// Items (served records) in the store.
    pub items: usize,
    pub lexical: ProjectionDiff,
    /// `None` when the graph is switched off.
    pub graph: Option<ProjectionDiff>,
    /// `None` without a model.
    pub vectors: Option<ProjectionDiff>,
}

impl ProjectionCheck {
    /// Every projection holds what the store holds, at the store's sequence number.
    pub fn agrees(&self) -> bool {
        let caught_up = |d: &ProjectionDiff| d.agrees() && d.applied_seq == self.store_seq;
        caught_up(&self.lexical)
            && self.graph.as_ref().is_none_or(caught_up)
            && self.vectors.as_ref().is_none_or(caught_up)
    }
}

impl Engine {
    /// Compares every projection with the store. Waits for a graph still loading; the vector
    /// index is compared as it stands (call [`Engine::catch_up_vectors`] first to compare it
    /// caught up). Reads everything once: seconds on the full corpus, for operators and tests.
    pub fn check_projections(&self) -> Result<ProjectionCheck> {
        // One writer at a time: nothing lands between reading the store and the projections.
        let _writer = self.write_lock()?;
        self.wait_for_graph()?;
        let store_seq = self.store.last_seq()?;
        let mut items = BTreeMap::new();
        self.store.for_each(|stored| {
            if let Record::Item(item) = stored.record {
                items.insert(item.id, u64::from(item.version));
            }
            Ok(())
        })?;
        let lexical = ProjectionDiff::of(self.lexical_seq()?, &items, &self.lexical_documents()?);
        let graph = match self.graph() {
            None => None,
            Some(live) => {
                let fresh = graph::Graph::load_from(&self.store)?;
                let expected: BTreeSet<String> = fresh.sorted_ntriples()?.into_iter().collect();
                let found: BTreeSet<String> = live.sorted_ntriples()?.into_iter().collect();
                let mut diff = ProjectionDiff { applied_seq: live.applied_seq(), ..ProjectionDiff::default() };
                for triple in expected.difference(&found) {
                    diff.note_missing(triple);
                }
                for triple in found.difference(&expected) {
                    diff.extra += 1;
                    diff.example(format!("{triple}: not from the store"));
                }
                Some(diff)
            }
        };
        let vectors = self.dense_ids().map(|(ids, applied)| {
            // The vector index keeps no versions: presence is what it can be checked for.
            let expected: BTreeMap<String, u64> = items.keys().map(|id| (id.clone(), 0)).collect();
            let found: BTreeMap<String, u64> = ids.into_iter().map(|id| (id, 0)).collect();
            ProjectionDiff::of(applied, &expected, &found)
        });
        Ok(ProjectionCheck { store_seq, items: items.len(), lexical, graph, vectors })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, u64)]) -> BTreeMap<String, u64> {
        entries.iter().map(|(id, v)| (id.to_string(), *v)).collect()
    }

    #[test]
    fn a_diff_counts_missing_extra_and_stale_ids() {
        let expected = map(&[("a", 1), ("b", 2), ("c", 1)]);
        let found = map(&[("a", 1), ("b", 1), ("d", 3)]);
        let diff = ProjectionDiff::of(7, &expected, &found);
        assert_eq!((diff.missing, diff.extra, diff.stale, diff.applied_seq), (1, 1, 1, 7));
        assert!(!diff.agrees());
        assert_eq!(diff.examples, ["b: version 1, the store has 2", "c: missing", "d: not in the store"]);
        assert!(ProjectionDiff::of(7, &expected, &expected).agrees());
    }

    #[test]
    fn a_check_agrees_only_when_every_projection_is_caught_up() {
        let same = ProjectionDiff { applied_seq: 9, ..ProjectionDiff::default() };
        let check =
            ProjectionCheck { store_seq: 9, items: 3, lexical: same.clone(), graph: Some(same.clone()), vectors: None };
        assert!(check.agrees());
        let behind =
            ProjectionCheck { vectors: Some(ProjectionDiff { applied_seq: 8, ..same.clone() }), ..check.clone() };
        assert!(!behind.agrees(), "a projection behind the store does not agree");
        let lost = ProjectionCheck { graph: Some(ProjectionDiff { missing: 1, ..same }), ..check };
        assert!(!lost.agrees());
    }
}
