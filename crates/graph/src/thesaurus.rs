//! The thesaurus: every entity's SKOS labels (`skos:prefLabel`, `skos:altLabel`) and codes
//! (`gka:code`), read from the graph, and what text analysis builds from them — the jieba user
//! dictionary, synonym groups for query expansion, and the entity [`Linker`].

use std::collections::{BTreeMap, BTreeSet};

use oxigraph::model::{NamedNode, Term};
use serde::Serialize;
use store::{Entity, EntityClass};

use crate::error::Result;
use crate::graph::Graph;
use crate::limits::MAX_USER_WORD_CHARS;
use crate::linker::{Linker, normalize_key};
use crate::vocab::{GK, attr_iri, rdf_type, record_id, skos};

/// Frequency of thesaurus words in the jieba user dictionary: the same weight the built-in
/// domain dictionary gives its terms, so a term wins over the everyday words it is made of.
pub const USER_WORD_FREQ: usize = 3000;

/// The labels of one entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThesaurusEntry {
    pub id: String,
    pub class: EntityClass,
    /// `skos:prefLabel`.
    pub label: String,
    /// `skos:altLabel`: other names, codes, colloquial words, misspellings.
    pub aliases: Vec<String>,
    /// `gka:code` (model codes).
    pub codes: Vec<String>,
}

impl ThesaurusEntry {
    /// Label, aliases and codes, in that order, without repeats.
    pub fn terms(&self) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        std::iter::once(self.label.as_str())
            .chain(self.aliases.iter().map(String::as_str))
            .chain(self.codes.iter().map(String::as_str))
            .filter(|t| seen.insert(normalize_key(t)))
            .collect()
    }
}

/// All labels of a set of words that mean the same entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SynonymGroup {
    pub id: String,
    pub class: EntityClass,
    pub terms: Vec<String>,
}

/// The thesaurus, ordered by entity id.
#[derive(Debug, Clone, Default)]
pub struct Thesaurus {
    entries: Vec<ThesaurusEntry>,
}

/// Classes whose labels are words people use for things (not sentences or record numbers), and
/// so belong in the jieba dictionary.
pub(crate) fn is_vocabulary_class(class: EntityClass) -> bool {
    matches!(
        class,
        EntityClass::ProductLine
            | EntityClass::ProductModel
            | EntityClass::Component
            | EntityClass::Fault
            | EntityClass::Concept
    )
}

impl Thesaurus {
    /// Reads every entity's labels from the graph (one consistent view).
    pub fn from_graph(graph: &Graph) -> Result<Thesaurus> {
        let reader = graph.read()?;
        let mut labels: BTreeMap<String, (NamedNode, String)> = BTreeMap::new();
        for (subject, object) in reader.pairs(skos("prefLabel").as_ref())? {
            let (Some(id), Term::Literal(literal)) = (record_id(subject.as_str()), &object) else { continue };
            labels.insert(id.to_owned(), (subject.clone(), literal.value().to_owned()));
        }
        let code = attr_iri("code");
        let mut entries = Vec::with_capacity(labels.len());
        for (id, (subject, label)) in labels {
            let (types, _) = reader.objects(subject.as_ref(), rdf_type().as_ref(), 16)?;
            let Some(class) = types.iter().find_map(|t| match t {
                Term::NamedNode(n) => n.as_str().strip_prefix(GK).and_then(EntityClass::from_code),
                _ => None,
            }) else {
                continue;
            };
            let mut aliases = reader.literals(subject.as_ref(), skos("altLabel").as_ref(), usize::MAX)?;
            aliases.sort();
            let mut codes = reader.literals(subject.as_ref(), code.as_ref(), 16)?;
            codes.sort();
            entries.push(ThesaurusEntry { id, class, label, aliases, codes });
        }
        Ok(Thesaurus { entries })
    }

    /// The thesaurus of a set of entity records (for tools and tests that have no graph).
    pub fn from_entities<'a>(entities: impl IntoIterator<Item = &'a Entity>) -> Thesaurus {
        let mut entries: Vec<ThesaurusEntry> = entities
            .into_iter()
            .map(|e| {
                let mut aliases = e.aliases.clone();
                aliases.sort();
                let mut codes: Vec<String> = match e.attrs.get("code") {
                    Some(serde_json::Value::String(code)) => vec![code.clone()],
                    Some(serde_json::Value::Array(values)) => {
                        values.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
                    }
                    _ => Vec::new(),
                };
                codes.sort();
                ThesaurusEntry { id: e.id.clone(), class: e.class, label: e.label.clone(), aliases, codes }
            })
            .collect();
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        entries.dedup_by(|a, b| a.id == b.id);
        Thesaurus { entries }
    }

    pub fn entries(&self) -> &[ThesaurusEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Words for the jieba user dictionary: the labels and aliases of products, components,
    /// faults and concepts that jieba can see whole (runs of Chinese, 2 to
    /// [`MAX_USER_WORD_CHARS`] characters), normalised, sorted, without repeats. Codes and
    /// mixed words (`CT断线`) are left to the analyser's code rules.
    pub fn user_words(&self) -> Vec<String> {
        let mut words = BTreeSet::new();
        for entry in self.entries.iter().filter(|e| is_vocabulary_class(e.class)) {
            for term in entry.terms() {
                let word = analysis::normalize(term);
                let chars = word.chars().count();
                if (2..=MAX_USER_WORD_CHARS).contains(&chars)
                    && word.chars().all(|c| c.is_alphanumeric() && !c.is_ascii())
                {
                    words.insert(word);
                }
            }
        }
        words.into_iter().collect()
    }

    /// The user dictionary in jieba's format, `word freq tag` per line (tag `nz`).
    pub fn jieba_user_dict(&self) -> String {
        let mut dict = String::new();
        for word in self.user_words() {
            dict.push_str(&format!("{word} {USER_WORD_FREQ} nz\n"));
        }
        dict
    }

    /// An analyser knowing the built-in vocabulary plus [`Thesaurus::user_words`].
    pub fn analyzer(&self) -> analysis::Analyzer {
        analysis::Analyzer::with_user_words(self.user_words())
    }

    /// Groups of terms meaning the same entity, for query expansion: every entity with at least
    /// two distinct terms (after normalisation).
    pub fn synonym_groups(&self) -> Vec<SynonymGroup> {
        self.entries
            .iter()
            .filter_map(|entry| {
                let terms: Vec<String> = entry.terms().into_iter().map(str::to_owned).collect();
                (terms.len() >= 2).then(|| SynonymGroup { id: entry.id.clone(), class: entry.class, terms })
            })
            .collect()
    }

    /// The entity linker over every label, alias and code, plus the model-number aliases derived
    /// from model codes (see [`Linker::build`]).
    pub fn linker(&self) -> Linker {
        Linker::build(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(json: &str) -> Entity {
        serde_json::from_str(json).expect("entity")
    }

    #[test]
    fn user_words_are_chinese_runs_of_vocabulary_classes() {
        let entities = [
            entity(r#"{"id":"f-1","class":"Fault","label":"CT断线","aliases":["电流回路断线","ct断线了","TA断線"]}"#),
            entity(r#"{"id":"cause-1","class":"Cause","label":"端子松动"}"#),
            entity(r#"{"id":"c-1","class":"Concept","label":"软压板","aliases":["软件压板","GOOSE软压板"]}"#),
        ];
        let thesaurus = Thesaurus::from_entities(&entities);
        assert_eq!(thesaurus.user_words(), vec!["电流回路断线", "软件压板", "软压板"]);
        assert!(thesaurus.jieba_user_dict().contains("软压板 3000 nz\n"));
        analysis::Analyzer::with_user_dict(&thesaurus.jieba_user_dict()).expect("jieba reads it");
    }

    #[test]
    fn synonym_groups_skip_single_terms_and_normalised_repeats() {
        let entities = [
            entity(r#"{"id":"c-ct","class":"Concept","label":"电流互感器","aliases":["CT","ct","TA"]}"#),
            entity(r#"{"id":"cause-1","class":"Cause","label":"端子松动"}"#),
        ];
        let groups = Thesaurus::from_entities(&entities).synonym_groups();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].terms, vec!["电流互感器", "CT", "TA"]);
    }
}
