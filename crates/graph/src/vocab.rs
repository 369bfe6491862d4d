//! The IRIs of the ontology (`ontology/gridkb.ttl`) and of the vocabularies it reuses.

use oxigraph::model::NamedNode;

/// Classes, relations and individuals of gridkb.
pub const GK: &str = "https://gridkb.invalid/ont#";
/// Entity attributes (`attrs.*`).
pub const GKA: &str = "https://gridkb.invalid/attr#";
/// The service category scheme.
pub const CAT: &str = "https://gridkb.invalid/category/";
/// Records: `{RECORD}{id}`.
pub const RECORD: &str = "https://gridkb.invalid/id/";

pub const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
pub const RDFS_LABEL: &str = "http://www.w3.org/2000/01/rdf-schema#label";
pub const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";
pub const DCTERMS: &str = "http://purl.org/dc/terms/";
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema#";

/// The ontology itself, in Turtle; loaded into every graph.
pub const ONTOLOGY_TTL: &str = include_str!("../../../ontology/gridkb.ttl");

pub(crate) fn iri(namespace: &str, local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{namespace}{local}"))
}

pub(crate) fn gk(local: &str) -> NamedNode {
    iri(GK, local)
}

pub(crate) fn skos(local: &str) -> NamedNode {
    iri(SKOS, local)
}

pub(crate) fn dcterms(local: &str) -> NamedNode {
    iri(DCTERMS, local)
}

pub(crate) fn rdf_type() -> NamedNode {
    NamedNode::new_unchecked(RDF_TYPE)
}

pub(crate) fn rdfs_label() -> NamedNode {
    NamedNode::new_unchecked(RDFS_LABEL)
}

/// The IRI of a record. Record ids are `[A-Za-z0-9._:-]` (checked by the store), all legal in an
/// IRI path.
pub fn record_iri(id: &str) -> NamedNode {
    iri(RECORD, id)
}

/// The record id of an IRI in the record namespace.
pub fn record_id(iri: &str) -> Option<&str> {
    iri.strip_prefix(RECORD)
}

/// The IRI of an attribute; names outside `[A-Za-z0-9_-]` are percent-encoded byte by byte.
pub fn attr_iri(name: &str) -> NamedNode {
    let mut local = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            local.push(byte as char);
        } else {
            local.push_str(&format!("%{byte:02X}"));
        }
    }
    iri(GKA, &local)
}

/// The IRI of a relation (`links.{name}`, item link fields); names are `[A-Za-z0-9_]+`.
pub fn relation_iri(name: &str) -> NamedNode {
    gk(name)
}

/// The class of an item kind or entity class code: `technical_point` → `TechnicalPoint`,
/// `ProductModel` → `ProductModel`.
pub fn class_local_name(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut upper = true;
    for c in code.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Compact form of an IRI for explanations: `gk:line`, `skos:exactMatch`, or the IRI itself.
pub fn compact(iri: &str) -> String {
    for (prefix, namespace) in
        [("gk:", GK), ("gka:", GKA), ("cat:", CAT), ("skos:", SKOS), ("dcterms:", DCTERMS), ("rdf:", RDF_NS)]
    {
        if let Some(local) = iri.strip_prefix(namespace) {
            return format!("{prefix}{local}");
        }
    }
    iri.to_owned()
}

const RDF_NS: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_from_codes() {
        assert_eq!(class_local_name("technical_point"), "TechnicalPoint");
        assert_eq!(class_local_name("fulfilment_info"), "FulfilmentInfo");
        assert_eq!(class_local_name("ProductModel"), "ProductModel");
    }

    #[test]
    fn attribute_names_are_escaped() {
        assert_eq!(attr_iri("warranty_end").as_str(), "https://gridkb.invalid/attr#warranty_end");
        assert_eq!(attr_iri("a b").as_str(), "https://gridkb.invalid/attr#a%20b");
    }

    #[test]
    fn compact_forms() {
        assert_eq!(compact("https://gridkb.invalid/ont#line"), "gk:line");
        assert_eq!(compact("http://example.com/x"), "http://example.com/x");
    }
}
