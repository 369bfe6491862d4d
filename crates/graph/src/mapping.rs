//! Records → triples, as documented in `ontology/README.md`.
//!
//! Every triple made from a record has the record's IRI as its subject and no blank nodes are
//! used, so "the triples of record X" is exactly "the triples with subject X": replacing a record
//! removes those and inserts the new ones.

use oxigraph::model::{Literal, NamedNode, Term, Triple};
use serde_json::Value;
use store::{Entity, EntityClass, Item, Record};

use crate::vocab::{
    self, CAT, attr_iri, class_local_name, dcterms, gk, rdf_type, rdfs_label, record_iri, relation_iri, skos,
};

/// The triples of one record.
pub fn record_triples(record: &Record) -> Vec<Triple> {
    match record {
        Record::Item(item) => item_triples(item),
        Record::Entity(entity) => entity_triples(entity),
    }
}

struct Builder {
    subject: NamedNode,
    triples: Vec<Triple>,
}

impl Builder {
    fn new(id: &str) -> Builder {
        Builder { subject: record_iri(id), triples: Vec::new() }
    }

    fn add(&mut self, predicate: NamedNode, object: impl Into<Term>) {
        self.triples.push(Triple::new(self.subject.clone(), predicate, object));
    }

    fn links(&mut self, relation: &str, ids: &[String]) {
        let predicate = relation_iri(relation);
        for id in ids {
            self.add(predicate.clone(), record_iri(id));
        }
    }
}

fn item_triples(item: &Item) -> Vec<Triple> {
    let mut b = Builder::new(&item.id);
    b.add(rdf_type(), gk("KnowledgeItem"));
    b.add(rdf_type(), gk(&class_local_name(item.kind.code())));
    b.add(dcterms("title"), Literal::new_simple_literal(&item.title));
    b.add(rdfs_label(), Literal::new_simple_literal(&item.title));
    b.links("product", &item.products);
    b.links("fault", &item.faults);
    b.links("contract", &item.contracts);
    b.links("case", &item.cases);
    b.links("customer", &item.customers);
    b.links("cites", &item.cites);
    for tag in &item.tags {
        b.add(gk("tag"), Literal::new_simple_literal(tag));
    }
    if let Some(category) = item.category {
        b.add(gk("category"), vocab::iri(CAT, category.code()));
    }
    if let Some(owner) = &item.owner {
        b.add(gk("ownerName"), Literal::new_simple_literal(owner));
    }
    if let Some(level) = item.owner_level {
        b.add(gk("ownerLevel"), gk(&format!("level-{}", level.code())));
    }
    b.add(gk("status"), gk(&format!("status-{}", item.status.code())));
    b.add(gk("version"), Literal::from(i64::from(item.version)));
    if let Some(date) = &item.valid_until {
        b.add(gk("validUntil"), date_or_string(date));
    }
    if let Some(newer) = &item.superseded_by {
        b.add(dcterms("isReplacedBy"), record_iri(newer));
    }
    if let Some(source) = &item.source {
        b.add(dcterms("source"), Literal::new_simple_literal(source));
    }
    b.triples
}

fn entity_triples(entity: &Entity) -> Vec<Triple> {
    let mut b = Builder::new(&entity.id);
    b.add(rdf_type(), gk("Entity"));
    b.add(rdf_type(), gk(entity.class.code()));
    b.add(skos("prefLabel"), Literal::new_simple_literal(&entity.label));
    b.add(rdfs_label(), Literal::new_simple_literal(&entity.label));
    for alias in &entity.aliases {
        b.add(skos("altLabel"), Literal::new_simple_literal(alias));
    }
    for (relation, ids) in &entity.links {
        b.links(relation, ids);
    }
    for (name, value) in &entity.attrs {
        let predicate = attr_iri(name);
        for literal in attr_literals(value) {
            b.add(predicate.clone(), literal);
        }
    }
    if entity.class == EntityClass::Concept {
        concept_scheme(entity, &mut b);
    }
    b.add(gk("version"), Literal::from(i64::from(entity.version)));
    b.triples
}

/// Puts a thesaurus concept in its SKOS scheme: service-category words are tied to the category
/// they name, customer tags go to the tag scheme, everything else to the thesaurus.
fn concept_scheme(entity: &Entity, b: &mut Builder) {
    b.add(rdf_type(), skos("Concept"));
    let attr = |name: &str| entity.attrs.get(name).and_then(Value::as_str);
    match attr("scheme") {
        Some("service_category") => {
            b.add(skos("inScheme"), vocab::iri(CAT, "scheme"));
            let target = match (attr("category"), attr("major")) {
                (Some(minor), _) if store::Category::from_code(minor).is_some() => Some(minor.to_owned()),
                (_, Some(major)) if store::MajorCategory::from_code(major).is_some() => Some(format!("major-{major}")),
                _ => None,
            };
            if let Some(target) = target {
                b.add(skos("exactMatch"), vocab::iri(CAT, &target));
            }
        }
        Some("customer_tag") => b.add(skos("inScheme"), gk("customerTags")),
        _ => b.add(skos("inScheme"), gk("thesaurus")),
    }
}

/// The literals of one attribute value: lists give one literal per element, `YYYY-MM-DD`
/// strings are `xsd:date`, objects are kept as their JSON text, nulls are dropped.
fn attr_literals(value: &Value) -> Vec<Literal> {
    match value {
        Value::Null => Vec::new(),
        Value::Bool(b) => vec![Literal::from(*b)],
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => vec![Literal::from(i)],
            (None, Some(f)) => vec![Literal::from(f)],
            (None, None) => vec![Literal::new_simple_literal(n.to_string())],
        },
        Value::String(s) => vec![date_or_string(s)],
        Value::Array(values) => values.iter().flat_map(attr_literals).collect(),
        Value::Object(_) => vec![Literal::new_simple_literal(value.to_string())],
    }
}

fn date_or_string(text: &str) -> Literal {
    if calendar::Date::parse(text).is_ok() {
        Literal::new_typed_literal(text, vocab::iri(vocab::XSD, "date"))
    } else {
        Literal::new_simple_literal(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ntriples(record: &str) -> Vec<String> {
        let record: Record = serde_json::from_str(record).expect("record");
        let mut lines: Vec<String> = record_triples(&record).iter().map(ToString::to_string).collect();
        lines.sort();
        lines
    }

    #[test]
    fn every_triple_has_the_record_as_subject() {
        let lines = ntriples(
            r#"{"id":"dev-1","class":"Device","label":"SN1","aliases":["SN1"],
                "links":{"model":["pm-x"],"contract":["k-1"]},
                "attrs":{"serial":"SN1","warranty_end":"2026-03-01","n":3,"ok":true,"list":["a","b"],"o":{"x":1},"z":null}}"#,
        );
        assert!(lines.iter().all(|l| l.starts_with("<https://gridkb.invalid/id/dev-1> ")), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains(
            "<https://gridkb.invalid/attr#warranty_end> \"2026-03-01\"^^<http://www.w3.org/2001/XMLSchema#date>"
        )));
        assert!(
            lines.iter().any(|l| l.contains("<https://gridkb.invalid/ont#model> <https://gridkb.invalid/id/pm-x>"))
        );
        assert_eq!(lines.iter().filter(|l| l.contains("attr#list")).count(), 2);
        assert!(!lines.iter().any(|l| l.contains("attr#z")));
    }

    #[test]
    fn item_fields_map_to_ontology_terms() {
        let lines = ntriples(
            r#"{"id":"kb-1","kind":"technical_point","title":"CT断线","body":"b","faults":["f-ct"],
                "cites":["kb-reg-1"],"category":"fault_repair","owner_level":"province","tags":["t"]}"#,
        );
        let joined = lines.join("\n");
        for expected in [
            "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://gridkb.invalid/ont#TechnicalPoint>",
            "<https://gridkb.invalid/ont#fault> <https://gridkb.invalid/id/f-ct>",
            "<https://gridkb.invalid/ont#cites> <https://gridkb.invalid/id/kb-reg-1>",
            "<https://gridkb.invalid/ont#category> <https://gridkb.invalid/category/fault_repair>",
            "<https://gridkb.invalid/ont#ownerLevel> <https://gridkb.invalid/ont#level-province>",
            "<https://gridkb.invalid/ont#status> <https://gridkb.invalid/ont#status-published>",
        ] {
            assert!(joined.contains(expected), "missing {expected} in\n{joined}");
        }
    }

    #[test]
    fn category_concepts_match_their_category() {
        let lines = ntriples(
            r#"{"id":"c-cat-praise","class":"Concept","label":"表扬","aliases":["点赞"],
                "attrs":{"scheme":"service_category","major":"other","category":"praise"}}"#,
        );
        assert!(lines.iter().any(|l| {
            l.ends_with("<http://www.w3.org/2004/02/skos/core#exactMatch> <https://gridkb.invalid/category/praise>")
        }));
    }
}
