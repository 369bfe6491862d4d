//! The editors' catalogue: a small in-memory projection of the store for lists, link labels,
//! scope checks and re-projection — one summary per item (served and working copy), every
//! entity's class and labels, and the organisation tree.
//!
//! Like the other projections it remembers the change-log sequence number it applied and
//! catches up from the store; working copies (which are not in the change log) are updated by
//! the edit path, which holds the engine's write lock.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use store::{Entity, EntityClass, Item, ItemKind, OrgLevel, Record, Status, Store, StoredRecord};

use crate::Result;

/// What an editors' list shows of one item state.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ItemSummary {
    pub id: String,
    #[schema(value_type = String)]
    pub kind: ItemKind,
    pub title: String,
    #[schema(value_type = String)]
    pub status: Status,
    pub version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The owner's organisation id, when the owner names one of the organisation tree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_org: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Milliseconds since the Unix epoch of the last save.
    pub updated_at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// The version agents and bots are served, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_version: Option<u32>,
    #[serde(skip)]
    pub(crate) links: Vec<String>,
    #[serde(skip)]
    pub(crate) products: Vec<String>,
    #[serde(skip)]
    pub(crate) faults: Vec<String>,
}

/// An entity as lists and autocomplete show it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EntitySummary {
    pub id: String,
    #[schema(value_type = String)]
    pub class: EntityClass,
    pub label: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub version: u32,
}

/// One unit of the province / city / county organisation tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgUnit {
    pub id: String,
    pub label: String,
    pub level: Option<OrgLevel>,
    pub parent: Option<String>,
}

/// The organisation tree (Organisation entities linked by `parent`).
#[derive(Debug, Clone, Default)]
pub struct OrgTree {
    units: HashMap<String, OrgUnit>,
    by_label: HashMap<String, String>,
}

impl OrgTree {
    fn insert(&mut self, entity: &Entity) {
        let level = entity.attrs.get("level").and_then(|v| v.as_str()).and_then(OrgLevel::from_code);
        let parent = entity.links.get("parent").and_then(|p| p.first()).cloned();
        self.by_label.insert(entity.label.clone(), entity.id.clone());
        self.units
            .insert(entity.id.clone(), OrgUnit { id: entity.id.clone(), label: entity.label.clone(), level, parent });
    }

    fn remove(&mut self, id: &str) {
        if let Some(unit) = self.units.remove(id) {
            self.by_label.remove(&unit.label);
        }
    }

    pub fn get(&self, id: &str) -> Option<&OrgUnit> {
        self.units.get(id)
    }

    /// The organisation an item's `owner` names: its id, or its label.
    pub fn resolve(&self, owner: &str) -> Option<&OrgUnit> {
        self.units.get(owner).or_else(|| self.by_label.get(owner).and_then(|id| self.units.get(id)))
    }

    /// True when `unit` is `ancestor` or lies below it.
    pub fn within(&self, unit: &str, ancestor: &str) -> bool {
        let mut current = Some(unit);
        // The depth bound guards against a cycle in hand-edited data.
        for _ in 0..64 {
            let Some(id) = current else { return false };
            if id == ancestor {
                return true;
            }
            current = self.units.get(id).and_then(|u| u.parent.as_deref());
        }
        false
    }
}

/// The catalogue as a [`store::Projection`], gathering the entities a catch-up changed.
struct CatalogueProjection<'a> {
    catalogue: &'a mut Catalogue,
    changed_entities: BTreeSet<String>,
}

impl store::Projection for CatalogueProjection<'_> {
    type Error = crate::Error;

    fn applied_seq(&mut self) -> Result<u64> {
        Ok(self.catalogue.applied)
    }

    fn apply(&mut self, batch: store::ChangeBatch) -> Result<()> {
        let catalogue = &mut *self.catalogue;
        for (id, stored) in batch.records {
            if catalogue.entities.contains_key(&id) {
                self.changed_entities.insert(id.clone());
            }
            catalogue.remove_served(&id);
            if let Some(stored) = stored {
                if matches!(stored.record, Record::Entity(_)) {
                    self.changed_entities.insert(id.clone());
                }
                catalogue.put_served(stored);
                catalogue.resolve_owner(&id);
            }
        }
        catalogue.applied = batch.seq;
        Ok(())
    }

    /// Built on an empty store, or ahead of a store that was replaced: build it again.
    fn rebuild(&mut self, store: &Store, _seq: u64) -> Result<bool> {
        self.changed_entities.extend(self.catalogue.entities.keys().cloned());
        *self.catalogue = Catalogue::build(store)?;
        self.changed_entities.extend(self.catalogue.entities.keys().cloned());
        Ok(true)
    }
}

/// The catalogue; see the module documentation.
#[derive(Debug, Default)]
pub struct Catalogue {
    applied: u64,
    served: HashMap<String, ItemSummary>,
    working: HashMap<String, ItemSummary>,
    entities: HashMap<String, EntitySummary>,
    orgs: OrgTree,
}

impl Catalogue {
    /// Builds the catalogue from one pass over the store.
    pub(crate) fn build(store: &Store) -> Result<Catalogue> {
        let mut catalogue = Catalogue { applied: store.last_seq()?, ..Catalogue::default() };
        store.for_each(|stored| {
            catalogue.put_served(stored);
            Ok(())
        })?;
        store.for_each_working(|stored| {
            catalogue.put_working(&stored);
            Ok(())
        })?;
        for summary in catalogue.served.values_mut().chain(catalogue.working.values_mut()) {
            summary.owner_org = summary.owner.as_deref().and_then(|o| catalogue.orgs.resolve(o)).map(|u| u.id.clone());
        }
        Ok(catalogue)
    }

    /// Applies the change log after what was applied (through [`store::catch_up`]); returns the
    /// ids of the entities that changed.
    pub(crate) fn catch_up(&mut self, store: &Store, batch: usize) -> Result<BTreeSet<String>> {
        let mut projection = CatalogueProjection { catalogue: self, changed_entities: BTreeSet::new() };
        store::catch_up(store, &mut projection, batch, &mut |_, _| {})?;
        Ok(projection.changed_entities)
    }

    fn resolve_owner(&mut self, id: &str) {
        let orgs = &self.orgs;
        for summary in [self.served.get_mut(id), self.working.get_mut(id)].into_iter().flatten() {
            summary.owner_org = summary.owner.as_deref().and_then(|o| orgs.resolve(o)).map(|u| u.id.clone());
        }
    }

    fn remove_served(&mut self, id: &str) {
        self.served.remove(id);
        if self.entities.remove(id).is_some() {
            self.orgs.remove(id);
        }
    }

    fn put_served(&mut self, stored: StoredRecord) {
        match &stored.record {
            Record::Item(item) => {
                let summary = summary(item, &stored, None);
                if let Some(working) = self.working.get_mut(&item.id) {
                    working.published_version = published(item);
                }
                self.served.insert(item.id.clone(), summary);
            }
            Record::Entity(entity) => {
                if entity.class == EntityClass::Organisation {
                    self.orgs.insert(entity);
                }
                self.entities.insert(
                    entity.id.clone(),
                    EntitySummary {
                        id: entity.id.clone(),
                        class: entity.class,
                        label: entity.label.clone(),
                        aliases: entity.aliases.clone(),
                        version: entity.version,
                    },
                );
            }
        }
    }

    /// Records (or with `None`, drops) the working copy of `id`.
    pub(crate) fn set_working(&mut self, id: &str, stored: Option<&StoredRecord>) {
        self.working.remove(id);
        if let Some(stored) = stored {
            self.put_working(stored);
            self.resolve_owner(id);
        }
    }

    fn put_working(&mut self, stored: &StoredRecord) {
        if let Record::Item(item) = &stored.record {
            let published = self.served.get(&item.id).and_then(|s| s.published_version);
            self.working.insert(item.id.clone(), summary(item, stored, published));
        }
    }

    pub fn orgs(&self) -> &OrgTree {
        &self.orgs
    }

    /// The ids of every organisation unit.
    pub fn org_units(&self) -> impl Iterator<Item = &str> {
        self.orgs.units.keys().map(String::as_str)
    }

    pub fn entity(&self, id: &str) -> Option<&EntitySummary> {
        self.entities.get(id)
    }

    pub fn entities(&self) -> impl Iterator<Item = &EntitySummary> {
        self.entities.values()
    }

    /// The newest state of every item: its working copy when there is one, else the served one.
    pub fn heads(&self) -> impl Iterator<Item = &ItemSummary> {
        self.working.values().chain(self.served.values().filter(|s| !self.working.contains_key(&s.id)))
    }

    pub fn served(&self, id: &str) -> Option<&ItemSummary> {
        self.served.get(id)
    }

    /// Served items that link to any of `entities` (their indexed labels come from them).
    pub fn items_linking(&self, entities: &BTreeSet<String>) -> Vec<String> {
        if entities.is_empty() {
            return Vec::new();
        }
        let mut ids: Vec<String> = self
            .served
            .values()
            .filter(|s| s.links.iter().any(|l| entities.contains(l)))
            .map(|s| s.id.clone())
            .collect();
        ids.sort();
        ids
    }
}

fn published(item: &Item) -> Option<u32> {
    (item.status == Status::Published).then_some(item.version)
}

fn summary(item: &Item, stored: &StoredRecord, published_version: Option<u32>) -> ItemSummary {
    let published_version = if item.status == Status::Published { Some(item.version) } else { published_version };
    ItemSummary {
        id: item.id.clone(),
        kind: item.kind,
        title: item.title.clone(),
        status: item.status,
        version: item.version,
        owner: item.owner.clone(),
        owner_org: None,
        review_by: item.review_by.clone(),
        category: item.category.map(|c| c.code().to_string()),
        updated_at_ms: stored.saved_at_ms,
        updated_by: stored.saved_by.as_ref().map(|a| a.name.clone()),
        published_version,
        links: item
            .products
            .iter()
            .chain(&item.faults)
            .chain(&item.customers)
            .chain(&item.contracts)
            .chain(&item.cases)
            .cloned()
            .collect(),
        products: item.products.clone(),
        faults: item.faults.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn org(id: &str, parent: Option<&str>) -> Entity {
        let mut links = BTreeMap::new();
        if let Some(p) = parent {
            links.insert("parent".to_string(), vec![p.to_string()]);
        }
        Entity {
            id: id.into(),
            class: EntityClass::Organisation,
            label: format!("{id} 服务站"),
            aliases: vec![],
            links,
            attrs: BTreeMap::new(),
            version: 1,
        }
    }

    #[test]
    fn scope_follows_the_parent_chain_and_labels_resolve() {
        let mut tree = OrgTree::default();
        for (id, parent) in
            [("hq", None), ("p1", Some("hq")), ("c1", Some("p1")), ("x1", Some("c1")), ("p2", Some("hq"))]
        {
            tree.insert(&org(id, parent));
        }
        assert!(tree.within("x1", "p1"));
        assert!(tree.within("p1", "p1"));
        assert!(tree.within("x1", "hq"));
        assert!(!tree.within("p1", "x1"), "a unit is not within its own sub-unit");
        assert!(!tree.within("x1", "p2"));
        assert!(!tree.within("nowhere", "hq"));
        assert_eq!(tree.resolve("c1 服务站").map(|u| u.id.as_str()), Some("c1"));
        assert_eq!(tree.resolve("c1").map(|u| u.id.as_str()), Some("c1"));
        // A cycle in hand-edited data ends the walk instead of looping.
        tree.insert(&org("a", Some("b")));
        tree.insert(&org("b", Some("a")));
        assert!(!tree.within("a", "hq"));
    }
}
