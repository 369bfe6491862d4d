//! The guidance items' declarations, resolved once per state of the knowledge base.
//!
//! Choosing an answer standard or a response strategy (`guidance.rs`) weighs every guidance item
//! of the ticket's category family by what it declares: its lines and models (resolved from its
//! products through the entities), its faults and its audience. None of that depends on the
//! ticket, so it is resolved here once, for every published guidance item, and kept until the
//! store or the lexical index moves; a match then reads the table instead of browsing the index
//! and reading entities from the store. The ticket adds only the order of its words.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use lexical::{FilterField, LexicalQuery};
use store::{Category, EntityClass, ItemKind, Record};

use crate::engine::UNPUBLISHED;
use crate::guidance::{Candidate, GuidanceRules};
use crate::{Engine, Result};

/// Every published answer standard and response strategy with its declarations resolved.
#[derive(Debug)]
pub(crate) struct GuidanceTable {
    /// The store's sequence number and the lexical table's generation it was built at.
    key: (u64, u64),
    /// By id; `text_rank` is left 0 (the ticket's words give it).
    items: BTreeMap<String, (ItemKind, Candidate)>,
    /// Labels of the lines, models and faults the items declare, for the reasons.
    labels: HashMap<String, String>,
}

impl GuidanceTable {
    /// The items of `kind` that may answer a ticket, in the order given: first the ids of
    /// `ranked` (the ticket's words' order, any category), then the other items for which
    /// `eligible` holds, by id. Each candidate's `text_rank` is its place in that order.
    pub(crate) fn candidates<'a>(
        &self,
        kind: ItemKind,
        ranked: impl IntoIterator<Item = &'a str>,
        eligible: impl Fn(&Candidate) -> bool,
    ) -> Vec<Candidate> {
        let mut seen = BTreeSet::new();
        let of_kind = |id: &str| self.items.get(id).filter(|(k, _)| *k == kind).map(|(_, c)| c);
        let by_words = ranked.into_iter().filter_map(of_kind);
        // Items the words do not rank: those that declare least first (a generic item is sure
        // to fit; one for a line or a customer the ticket does not mention may not).
        let mut rest: Vec<&Candidate> =
            self.items.values().filter(|(k, c)| *k == kind && eligible(c)).map(|(_, c)| c).collect();
        rest.sort_by_key(|c| c.lines.len() + c.models.len() + c.faults.len() + usize::from(c.audience.is_some()));
        let mut out = Vec::new();
        for candidate in by_words.chain(rest) {
            if seen.insert(candidate.id.as_str()) {
                out.push(Candidate { text_rank: out.len(), ..candidate.clone() });
            }
        }
        out
    }

    /// The label of a line, model or fault an item declares (the id when it has none).
    pub(crate) fn label(&self, id: &str) -> String {
        self.labels.get(id).cloned().unwrap_or_else(|| id.to_string())
    }
}

/// The engine's table, rebuilt on first use after a change.
#[derive(Debug, Default)]
pub(crate) struct GuidanceCache(Mutex<Option<Arc<GuidanceTable>>>);

impl Engine {
    /// The guidance table as of the store's and the lexical index's current state.
    pub(crate) fn guidance_table(&self) -> Result<Arc<GuidanceTable>> {
        let key = (self.store().last_seq()?, self.lexical.generation());
        let mut cached = self.guidance_cache().0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(table) = cached.as_ref().filter(|t| t.key == key) {
            return Ok(Arc::clone(table));
        }
        let table = Arc::new(self.build_guidance_table(key)?);
        *cached = Some(Arc::clone(&table));
        Ok(table)
    }

    fn build_guidance_table(&self, key: (u64, u64)) -> Result<GuidanceTable> {
        let rules = GuidanceRules::bundled();
        let kinds = [ItemKind::AnswerStandard, ItemKind::ResponseStrategy];
        let mut filters = BTreeMap::new();
        filters.insert(FilterField::Kind, kinds.iter().map(|k| k.code().to_string()).collect());
        let published = LexicalQuery {
            filters,
            exclude_status: UNPUBLISHED.iter().map(|s| s.code().to_string()).collect(),
            ..LexicalQuery::default()
        };
        let ids = self.lexical.matching(&published);
        let mut entities = Entities::default();
        let mut items = BTreeMap::new();
        let mut labels = HashMap::new();
        for brief in self.lexical.briefs(&ids) {
            let Some(kind) = kinds.into_iter().find(|k| k.code() == brief.kind) else { continue };
            let mut lines = BTreeSet::new();
            let mut models = BTreeSet::new();
            for product in &brief.products {
                let (l, m) = entities.lines_of(self, product)?;
                lines.extend(l);
                models.extend(m);
            }
            let mut faults = BTreeSet::new();
            for fault in &brief.faults {
                if entities.get(self, fault)?.is_some_and(|e| e.class == EntityClass::Fault) {
                    faults.insert(fault.clone());
                }
            }
            for id in lines.iter().chain(&models).chain(&faults) {
                if !labels.contains_key(id) {
                    let label = entities.get(self, id)?.map_or_else(|| id.clone(), |e| e.label.clone());
                    labels.insert(id.clone(), label);
                }
            }
            let candidate = Candidate {
                id: brief.id.clone(),
                category: brief.category.as_deref().and_then(Category::from_code),
                lines,
                models,
                faults,
                audience: rules.item_audience(&brief.tags),
                step: rules.item_step(&brief.tags),
                tags: brief.tags,
                text_rank: 0,
            };
            items.insert(brief.id, (kind, candidate));
        }
        Ok(GuidanceTable { key, items, labels })
    }
}

/// Entities read from the store during one build or one match, each once.
#[derive(Default)]
pub(crate) struct Entities {
    read: HashMap<String, Option<store::Entity>>,
}

impl Entities {
    pub(crate) fn get(&mut self, engine: &Engine, id: &str) -> Result<Option<&store::Entity>> {
        if !self.read.contains_key(id) {
            let entity = match engine.store().get(id)?.map(|stored| stored.record) {
                Some(Record::Entity(entity)) => Some(entity),
                _ => None,
            };
            self.read.insert(id.to_string(), entity);
        }
        Ok(self.read.get(id).and_then(Option::as_ref))
    }

    /// The product lines and models a product id stands for: a line itself, a model and its
    /// line, a component and the models (and lines) it belongs to.
    pub(crate) fn lines_of(&mut self, engine: &Engine, id: &str) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
        let mut lines = BTreeSet::new();
        let mut models = BTreeSet::new();
        let Some(entity) = self.get(engine, id)?.cloned() else { return Ok((lines, models)) };
        match entity.class {
            EntityClass::ProductLine => {
                lines.insert(entity.id);
            }
            EntityClass::ProductModel => {
                lines.extend(entity.links.get("line").into_iter().flatten().cloned());
                models.insert(entity.id);
            }
            EntityClass::Component => {
                for model in entity.links.get("model").into_iter().flatten() {
                    if let Some(m) = self.get(engine, model)? {
                        lines.extend(m.links.get("line").into_iter().flatten().cloned());
                    }
                    models.insert(model.clone());
                }
            }
            _ => {}
        }
        Ok((lines, models))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, category: Category, lines: &[&str]) -> Candidate {
        Candidate {
            id: id.into(),
            category: Some(category),
            lines: lines.iter().map(|l| (*l).to_string()).collect(),
            models: BTreeSet::new(),
            faults: BTreeSet::new(),
            audience: None,
            tags: vec![],
            step: None,
            text_rank: 0,
        }
    }

    #[test]
    fn candidates_come_in_the_words_order_then_least_declared_first() {
        let mut items = BTreeMap::new();
        for (kind, c) in [
            (ItemKind::AnswerStandard, item("a-line", Category::Praise, &["pl-ev"])),
            (ItemKind::AnswerStandard, item("b-generic", Category::Praise, &[])),
            (ItemKind::AnswerStandard, item("c-generic", Category::Praise, &[])),
            (ItemKind::AnswerStandard, item("d-other", Category::Opinion, &[])),
            (ItemKind::ResponseStrategy, item("e-strategy", Category::Praise, &[])),
        ] {
            items.insert(c.id.clone(), (kind, c));
        }
        let table = GuidanceTable { key: (0, 0), items, labels: HashMap::new() };
        let praise = |c: &Candidate| c.category == Some(Category::Praise);
        // The words name an item of another category and a strategy: the first stays (it is a
        // candidate as the words rank it), the strategy is not of this kind.
        let got = table.candidates(ItemKind::AnswerStandard, ["d-other", "e-strategy", "c-generic"], praise);
        let ids: Vec<(&str, usize)> = got.iter().map(|c| (c.id.as_str(), c.text_rank)).collect();
        assert_eq!(ids, [("d-other", 0), ("c-generic", 1), ("b-generic", 2), ("a-line", 3)]);
        assert_eq!(table.label("pl-ev"), "pl-ev");
    }
}
