//! What the ontology (`ontology/gridkb.ttl`) allows an entity to link to: the object properties
//! of the `gk:` namespace with the class their range names. Editors' entity writes are checked
//! against it, so the graph only gains edges the schema describes.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use oxigraph::io::RdfFormat;
use oxigraph::model::{NamedNodeRef, Term};
use oxigraph::store::Store;
use store::EntityClass;

use crate::vocab::{self, GK, RDF_TYPE};

const OWL_OBJECT_PROPERTY: &str = "http://www.w3.org/2002/07/owl#ObjectProperty";
const RDFS_RANGE: &str = "http://www.w3.org/2000/01/rdf-schema#range";
const RDFS_DOMAIN: &str = "http://www.w3.org/2000/01/rdf-schema#domain";

/// Object properties that belong to items (their fields), not to entity links.
const ITEM_ONLY: [&str; 4] = ["category", "status", "ownerLevel", "cites"];

/// An entity relation the ontology declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub name: String,
    /// The class a linked entity must have, when the ontology names one.
    pub range: Option<EntityClass>,
    /// The class the linking entity must have, when the ontology names one.
    pub domain: Option<EntityClass>,
}

static RELATIONS: LazyLock<BTreeMap<String, Relation>> = LazyLock::new(read_relations);

/// Every entity relation of the ontology, by name.
pub fn relations() -> &'static BTreeMap<String, Relation> {
    &RELATIONS
}

fn class_of(term: Option<Term>) -> Option<EntityClass> {
    match term? {
        Term::NamedNode(node) => node.as_str().strip_prefix(GK).and_then(EntityClass::from_code),
        _ => None,
    }
}

fn read_relations() -> BTreeMap<String, Relation> {
    let store = match Store::new() {
        Ok(store) => store,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the ontology's relations");
            return BTreeMap::new();
        }
    };
    if let Err(e) = store.load_from_slice(RdfFormat::Turtle, vocab::ONTOLOGY_TTL) {
        tracing::error!(error = %e, "ontology/gridkb.ttl does not load");
        return BTreeMap::new();
    }
    let object = |subject: NamedNodeRef<'_>, predicate: &str| -> Option<Term> {
        store
            .quads_for_pattern(Some(subject.into()), Some(NamedNodeRef::new_unchecked(predicate)), None, None)
            .filter_map(Result::ok)
            .map(|q| q.object)
            .next()
    };
    let mut relations = BTreeMap::new();
    let kind = Term::from(NamedNodeRef::new_unchecked(OWL_OBJECT_PROPERTY));
    for quad in
        store.quads_for_pattern(None, Some(NamedNodeRef::new_unchecked(RDF_TYPE)), Some(kind.as_ref()), None).flatten()
    {
        let oxigraph::model::NamedOrBlankNode::NamedNode(property) = quad.subject else { continue };
        let Some(name) = property.as_str().strip_prefix(GK) else { continue };
        if ITEM_ONLY.contains(&name) {
            continue;
        }
        relations.insert(
            name.to_string(),
            Relation {
                name: name.to_string(),
                range: class_of(object(property.as_ref(), RDFS_RANGE)),
                domain: class_of(object(property.as_ref(), RDFS_DOMAIN)),
            },
        );
    }
    relations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relations_come_from_the_ontology_with_their_ranges() {
        let relations = relations();
        assert_eq!(relations["line"].range, Some(EntityClass::ProductLine));
        assert_eq!(relations["line"].domain, Some(EntityClass::ProductModel));
        assert_eq!(relations["cause"].range, Some(EntityClass::Cause));
        assert_eq!(relations["parent"].range, None, "parent links organisations and customers alike");
        assert!(relations.contains_key("repeat_of"));
        assert!(!relations.contains_key("status"), "item fields are not entity relations");
        assert!(!relations.contains_key("made_up"));
    }
}
