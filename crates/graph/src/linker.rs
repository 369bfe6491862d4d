//! Entity linking: find the products, models, components, faults, concepts (and customers,
//! contracts, devices) a ticket mentions, by longest leftmost match of every thesaurus term over
//! normalised text.
//!
//! Normalisation folds what people type interchangeably: ASCII lower case, full width → half
//! width, traditional → simplified (via [`analysis::normalize`]), and drops whitespace, `-` and
//! `_`, so `GKB-931A`, `gkb931a`, `ＧＫＢ 931A` are one key. A term that begins (ends) with an
//! ASCII letter or digit only matches where the original text has no ASCII letter or digit just
//! before (after) it, so `ct` does not match inside `select` and `931a` not inside `9931a2`.
//!
//! **Short Latin aliases** (`ct`, `pt`, `it`, `fa`, `goose`: all letters, at most
//! [`MAX_BARE_LATIN_CHARS`]) are also English words and names in code. They link where they read
//! as the abbreviation in Chinese text: no Latin word right beside them, and Chinese beside them
//! on one side at least (`CT断线`, `报了 ct 告警`, `gku-811a，pt并列`), or nothing else in the
//! text (a search for `CT`) — not among Latin words or code (`select ct from table`, `it is
//! broken`, `x = ct;`). Case cannot decide it: the engine links normalised, lower-cased text.
//!
//! **A generic phrase names a kind, not a model.** An alias of a product model that is a product
//! line's term with a qualifier in front that does not carry the model's number (`10kV线路保护`,
//! `家用充电桩`, `I型集中器`: a voltage, a use, a type in front of 线路保护, 充电桩, 集中器) would pin
//! every mention of that kind on one model; it is neither a key of the model nor one of its
//! synonyms, so the text links the line term inside it instead. `778主变保护` and `110直流屏` keep
//! their model: the qualifier is the model's number. Likewise a bare nominal voltage (`110`,
//! `220`) is no model number on its own.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde::Serialize;
use store::EntityClass;

use crate::error::{GraphError, Result};
use crate::graph::Graph;
use crate::limits::{MAX_BARE_LATIN_CHARS, MAX_ENTITIES_PER_SPAN, MAX_LINK_TEXT_BYTES, MIN_ALIAS_CHARS};
use crate::thesaurus::{Thesaurus, is_vocabulary_class};

/// One entity found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// Entity id.
    pub id: String,
    pub class: EntityClass,
    /// The entity's preferred label.
    pub label: String,
    /// Byte span in the text given to [`Linker::link`].
    pub start: usize,
    pub end: usize,
    /// `text[start..end]`.
    pub matched: String,
    /// The thesaurus key that matched (normalised).
    pub key: String,
    /// How many entities share this key (1 = unambiguous).
    pub candidates: usize,
}

/// Where a key came from; an explicit term wins over a derived one for the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    Term,
    Derived,
}

#[derive(Debug)]
struct Key {
    key: String,
    /// Indices into `Linker::entities`.
    entities: Vec<u32>,
    ascii_start: bool,
    ascii_end: bool,
    /// A short all-letter key (`ct`): links only where it reads as the abbreviation.
    bare_latin: bool,
}

#[derive(Debug)]
struct EntityRef {
    id: String,
    class: EntityClass,
    label: String,
}

/// An immutable matcher built from a [`Thesaurus`]; rebuild and swap it ([`SharedLinker`]) when
/// the thesaurus changes.
#[derive(Debug)]
pub struct Linker {
    automaton: Option<AhoCorasick>,
    keys: Vec<Key>,
    entities: Vec<EntityRef>,
    /// The terms (label, aliases, codes) of every linkable entity that names a thing — product
    /// line, model, component, fault, concept — and has more than one: its synonyms.
    synonyms: HashMap<String, Vec<String>>,
}

/// The key form of a term: see the module documentation.
pub fn normalize_key(term: &str) -> String {
    let mut out = String::with_capacity(term.len());
    let mut buf = [0u8; 4];
    for c in term.chars() {
        fold_char(c, &mut buf, &mut out);
    }
    out
}

/// Appends the folded form of `c` to `out` (possibly nothing).
fn fold_char(c: char, buf: &mut [u8; 4], out: &mut String) {
    if c.is_ascii() {
        if !(c.is_ascii_whitespace() || c == '-' || c == '_') {
            out.push(c.to_ascii_lowercase());
        }
        return;
    }
    if c.is_whitespace() {
        return;
    }
    let folded = analysis::normalize(c.encode_utf8(buf));
    out.extend(folded.chars().filter(|f| !(f.is_whitespace() || *f == '-' || *f == '_')));
}

fn is_ascii_word(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// A letter or digit of Latin script as people type it: ASCII or full-width.
fn is_latin_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || (('\u{FF10}'..='\u{FF5A}').contains(&c) && c.is_alphanumeric())
}

/// A key of ASCII letters only, short enough to be a word or an identifier elsewhere.
fn is_bare_latin(key: &str) -> bool {
    key.len() <= MAX_BARE_LATIN_CHARS && !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase())
}

/// Whether the short Latin alias matched at `text[start..end]` reads as the abbreviation: no
/// Latin letter or digit stands right beside it (whitespace between does not separate), and
/// Chinese (or another non-Latin script) does on one side at least — right beside it, or past
/// one punctuation mark — unless the alias is all the text has. Case says nothing: the engine
/// links normalised, lower-cased text.
///
/// `报了 ct 告警`, `gku-811a，pt并列`, `（ct）二次`, `ct` alone link; `select ct from table`,
/// `x = ct;`, `read(pcs); // 注释` do not.
fn reads_as_abbreviation(text: &str, start: usize, end: usize) -> bool {
    // Up to two characters on each side, whitespace skipped, nearest first.
    let before: Vec<char> = text[..start].chars().rev().filter(|c| !c.is_whitespace()).take(2).collect();
    let after: Vec<char> = text[end..].chars().filter(|c| !c.is_whitespace()).take(2).collect();
    if [&before, &after].iter().any(|side| side.first().is_some_and(|c| is_latin_word(*c))) {
        return false;
    }
    // The character beside, or the one past it when that is punctuation.
    let near = |side: &[char]| match side {
        [c, ..] if c.is_alphanumeric() => Some(*c),
        [_, c] => Some(*c),
        _ => None,
    };
    let other_script = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() && !is_latin_word(c));
    let alone = || !text[..start].chars().chain(text[end..].chars()).any(char::is_alphanumeric);
    other_script(near(&before)) || other_script(near(&after)) || alone()
}

/// The marks of a product model's identity in its codes: the part after the series prefix
/// (`931a` of `GKB-931A`, `dtu300` of `GKP-DTU300`, `moa` of `GKO-MOA`) and its digit runs
/// (`931`, `300`).
fn model_marks(codes: &[String]) -> Vec<String> {
    let mut marks = Vec::new();
    for code in codes {
        let lower = code.to_lowercase();
        let part = match lower.split_once(['-', ' ', '_']) {
            Some((_, rest)) => normalize_key(rest),
            None => normalize_key(&lower).trim_start_matches(|c: char| c.is_ascii_alphabetic()).to_owned(),
        };
        for mark in part.split(|c: char| !c.is_ascii_digit()).chain([part.as_str()]) {
            if !mark.is_empty() && !marks.iter().any(|m| m == mark) {
                marks.push(mark.to_owned());
            }
        }
    }
    marks
}

/// Whether a model's alias (key form) is a generic phrase: a product line's term (key form)
/// with a qualifier in front that carries none of the model's marks (see the module docs).
fn names_a_kind(key: &str, line_keys: &[String], marks: &[String]) -> bool {
    line_keys.iter().any(|line| {
        let Some(qualifier) = key.strip_suffix(line.as_str()) else { return false };
        let digits: String = qualifier.chars().filter(char::is_ascii_digit).collect();
        !marks.iter().any(|mark| {
            let numeric = mark.bytes().all(|b| b.is_ascii_digit());
            if numeric { digits.contains(mark.as_str()) } else { qualifier.contains(mark.as_str()) }
        })
    })
}

/// Nominal voltages (kV: 110, 220, 330, 500, 750, 1000; V: 110, 220, 380; DC kV: 800, 1100). A
/// bare number among them names a voltage (`110母差`, `220千伏线路`) as often as the model whose
/// number it is (GKQ-110), so it is no key on its own; `GKQ-110` and `110直流屏` still link.
const VOLTAGE_NUMBERS: &[&str] = &["110", "220", "330", "380", "500", "750", "800", "1000", "1100"];

/// Whether a key is worth matching: long enough, not a bare one- or two-digit number, not a bare
/// nominal voltage.
fn usable_key(key: &str) -> bool {
    let chars = key.chars().count();
    let number = key.bytes().all(|b| b.is_ascii_digit());
    chars >= MIN_ALIAS_CHARS && !(number && (key.len() < 3 || VOLTAGE_NUMBERS.contains(&key)))
}

/// The model-number forms of a model code, `GKB-931A` → `931a`: the part after the letter
/// prefix, if it starts with a digit and is at least three characters long.
fn model_number_forms(code: &str) -> Option<String> {
    let key = normalize_key(code);
    let number = key.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    (number.len() >= 3 && number.len() < key.len() && number.starts_with(|c: char| c.is_ascii_digit()))
        .then(|| number.to_owned())
}

impl Linker {
    /// Builds the matcher. Every label, alias and code of every entry is a key; for product
    /// models the number part of the code (`931a` from `GKB-931A`) is added as a derived key
    /// when no other model derives the same one and no explicit term uses it. Keys shorter than
    /// [`MIN_ALIAS_CHARS`] and bare numbers under three digits are skipped.
    pub fn build(thesaurus: &Thesaurus) -> Linker {
        let mut entities = Vec::with_capacity(thesaurus.len());
        let mut by_key: BTreeMap<String, (Origin, Vec<u32>)> = BTreeMap::new();
        let mut derived: HashMap<String, Vec<u32>> = HashMap::new();
        let mut synonyms = HashMap::new();
        let line_keys: Vec<String> = thesaurus
            .entries()
            .iter()
            .filter(|e| e.class == EntityClass::ProductLine)
            .flat_map(|e| e.terms())
            .map(normalize_key)
            .filter(|k| usable_key(k))
            .collect();
        for entry in thesaurus.entries() {
            if matches!(entry.class, EntityClass::Case | EntityClass::Ticket) {
                continue;
            }
            // A model's generic phrases are neither its keys nor its synonyms.
            let marks = if entry.class == EntityClass::ProductModel { model_marks(&entry.codes) } else { Vec::new() };
            let terms: Vec<&str> = entry
                .terms()
                .into_iter()
                .filter(|t| {
                    entry.class != EntityClass::ProductModel || !names_a_kind(&normalize_key(t), &line_keys, &marks)
                })
                .collect();
            if is_vocabulary_class(entry.class) && terms.len() > 1 {
                synonyms.insert(entry.id.clone(), terms.iter().map(|t| (*t).to_owned()).collect());
            }
            let index = entities.len() as u32;
            entities.push(EntityRef { id: entry.id.clone(), class: entry.class, label: entry.label.clone() });
            for term in terms {
                let key = normalize_key(term);
                if !usable_key(&key) {
                    continue;
                }
                let slot = by_key.entry(key).or_insert((Origin::Term, Vec::new()));
                if !slot.1.contains(&index) {
                    slot.1.push(index);
                }
            }
            if entry.class == EntityClass::ProductModel {
                for code in &entry.codes {
                    if let Some(number) = model_number_forms(code) {
                        derived.entry(number).or_default().push(index);
                    }
                }
            }
        }
        for (key, owners) in derived {
            if owners.len() == 1 && usable_key(&key) && !by_key.contains_key(&key) {
                by_key.insert(key, (Origin::Derived, owners));
            }
        }
        let keys: Vec<Key> = by_key
            .into_iter()
            .map(|(key, (_, mut owners))| {
                owners.truncate(MAX_ENTITIES_PER_SPAN);
                let ascii_start = key.chars().next().is_some_and(is_ascii_word);
                let ascii_end = key.chars().next_back().is_some_and(is_ascii_word);
                let bare_latin = is_bare_latin(&key);
                Key { key, entities: owners, ascii_start, ascii_end, bare_latin }
            })
            .collect();
        let automaton = if keys.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(keys.iter().map(|k| k.key.as_str()))
                .map_err(|e| tracing::error!("entity linker automaton not built: {e}"))
                .ok()
        };
        Linker { automaton, keys, entities, synonyms }
    }

    /// The other terms of a linked entity, for query expansion: its label, aliases and codes
    /// except the one that matched (compared in key form). Empty for entities that do not name
    /// a thing (customers, contracts, devices, ...).
    pub fn synonyms(&self, link: &Link) -> Vec<&str> {
        self.synonyms.get(&link.id).map_or_else(Vec::new, |terms| {
            terms.iter().map(String::as_str).filter(|t| normalize_key(t) != link.key).collect()
        })
    }

    /// Number of distinct keys.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Number of entities that can be linked.
    pub fn entity_count(&self) -> usize {
        self.entities.len()
    }

    /// The entities mentioned in `text`: longest leftmost non-overlapping matches, in text
    /// order; a key shared by several entities gives one link per entity with the same span.
    /// Only the first [`MAX_LINK_TEXT_BYTES`] bytes are read.
    pub fn link(&self, text: &str) -> Vec<Link> {
        let Some(automaton) = &self.automaton else { return Vec::new() };
        let mut cut = text.len().min(MAX_LINK_TEXT_BYTES);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = &text[..cut];

        // Normalised text, and for each of its bytes the original char's byte range.
        let mut norm = String::with_capacity(text.len());
        let mut origin: Vec<(usize, usize)> = Vec::with_capacity(text.len());
        let mut buf = [0u8; 4];
        for (start, c) in text.char_indices() {
            fold_char(c, &mut buf, &mut norm);
            origin.resize(norm.len(), (start, start + c.len_utf8()));
        }

        let mut found: Vec<(usize, usize, usize)> = Vec::new(); // (orig start, orig end, key)
        for m in automaton.find_overlapping_iter(&norm) {
            let key = &self.keys[m.pattern().as_usize()];
            let start = origin[m.start()].0;
            let end = origin[m.end() - 1].1;
            if key.ascii_start && text[..start].chars().next_back().is_some_and(is_ascii_word) {
                continue;
            }
            if key.ascii_end && text[end..].chars().next().is_some_and(is_ascii_word) {
                continue;
            }
            if key.bare_latin && !reads_as_abbreviation(text, start, end) {
                continue;
            }
            found.push((start, end, m.pattern().as_usize()));
        }
        found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));

        let mut links = Vec::new();
        let mut covered = 0;
        for (start, end, key_index) in found {
            if start < covered {
                continue;
            }
            covered = end;
            let key = &self.keys[key_index];
            for &entity in &key.entities {
                let entity = &self.entities[entity as usize];
                links.push(Link {
                    id: entity.id.clone(),
                    class: entity.class,
                    label: entity.label.clone(),
                    start,
                    end,
                    matched: text[start..end].to_owned(),
                    key: key.key.clone(),
                    candidates: key.entities.len(),
                });
            }
        }
        links
    }
}

/// The linker in use, swappable at run time: readers take an `Arc` of the current one, a
/// thesaurus edit builds a new one and swaps it in without stopping readers.
#[derive(Debug)]
pub struct SharedLinker {
    current: RwLock<Arc<Linker>>,
}

impl SharedLinker {
    pub fn new(linker: Linker) -> SharedLinker {
        SharedLinker { current: RwLock::new(Arc::new(linker)) }
    }

    /// The linker in use now.
    pub fn current(&self) -> Arc<Linker> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Puts `linker` in use; returns the previous one.
    pub fn replace(&self, linker: Linker) -> Arc<Linker> {
        let new = Arc::new(linker);
        match self.current.write() {
            Ok(mut guard) => std::mem::replace(&mut *guard, new),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), new),
        }
    }

    /// Rebuilds the thesaurus and the linker from the graph and puts the linker in use; returns
    /// the thesaurus (for the jieba dictionary and synonyms).
    pub fn rebuild_from(&self, graph: &Graph) -> Result<Thesaurus, GraphError> {
        let thesaurus = Thesaurus::from_graph(graph)?;
        self.replace(thesaurus.linker());
        Ok(thesaurus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linker(entities: &[&str]) -> Linker {
        let entities: Vec<store::Entity> = entities.iter().map(|j| serde_json::from_str(j).expect("entity")).collect();
        Thesaurus::from_entities(&entities).linker()
    }

    fn ids(linker: &Linker, text: &str) -> Vec<(String, String)> {
        linker.link(text).into_iter().map(|l| (l.id, l.matched)).collect()
    }

    const MODEL: &str = r#"{"id":"pm-gkb-931a","class":"ProductModel","label":"GKB-931A 线路差动保护","aliases":["931保护"],"attrs":{"code":"GKB-931A"}}"#;
    const CT: &str = r#"{"id":"c-ct","class":"Concept","label":"电流互感器","aliases":["CT"]}"#;
    const FAULT: &str = r#"{"id":"f-ct-break","class":"Fault","label":"CT断线","aliases":["电流回路断线"]}"#;

    #[test]
    fn loose_codes_link_to_the_model() {
        let l = linker(&[MODEL, CT, FAULT]);
        for text in ["gkb931a报警", "GKB 931A", "ＧＫＢ－９３１Ａ装置", "我们的931保护坏了", "931A保护", "gkb-931a"]
        {
            let found = ids(&l, text);
            assert_eq!(found.len(), 1, "{text}: {found:?}");
            assert_eq!(found[0].0, "pm-gkb-931a", "{text}");
        }
        assert_eq!(ids(&l, "GKB 931A")[0].1, "GKB 931A");
    }

    #[test]
    fn longest_match_wins_and_ascii_boundaries_hold() {
        let l = linker(&[MODEL, CT, FAULT]);
        assert_eq!(ids(&l, "ct断线了"), vec![("f-ct-break".to_owned(), "ct断线".to_owned())]);
        assert!(ids(&l, "selectct").is_empty());
        assert!(ids(&l, "9931a2").is_empty());
        assert_eq!(ids(&l, "CT 和 电流回路断线").len(), 2);
    }

    #[test]
    fn short_latin_aliases_link_as_abbreviations_only() {
        let l = linker(&[MODEL, CT, FAULT]);
        let ct =
            |text: &str| ids(&l, text).into_iter().map(|(id, matched)| format!("{id}:{matched}")).collect::<Vec<_>>();
        // Beside Chinese (whitespace between, or one punctuation mark), in any case, or alone.
        for text in [
            "CT变比",
            "ct变比",
            "ＣＴ二次",
            "检查ct",
            "检查 ct 回路",
            "检查 C T 回路",
            "Ct二次",
            "ct：变比不对",
            "（ct）二次",
            "gku-811a，ct并列",
            "的ct！烧了",
            "ct",
            " CT? ",
        ] {
            assert_eq!(ct(text).len(), 1, "{text}: {:?}", ct(text));
        }
        // Among Latin words or code, in any case.
        for text in [
            "select ct from table 不是工单",
            "select CT from t",
            "the CT ratio",
            "x = ct;",
            "read(ct); // 注释",
            "ct/pt 二次",
            "ｓｅｌｅｃｔ ｃｔ ｆｒｏｍ",
            "var ct 定义",
        ] {
            assert!(ct(text).is_empty(), "{text}: {:?}", ct(text));
        }
        // Longer keys that begin with Latin letters are not bare: `ct断线` links in any case.
        assert_eq!(ct("select ct断线"), vec!["f-ct-break:ct断线"]);
    }

    const LINE: &str = r#"{"id":"pl-line","class":"ProductLine","label":"线路保护装置","aliases":["线路保护","线保"]}"#;
    const FEEDER: &str = r#"{"id":"pm-gkf-611","class":"ProductModel","label":"GKF-611 线路保护测控装置","aliases":["611综保","10kV线路保护","611线路保护","线路保护"],"attrs":{"code":"GKF-611"}}"#;

    #[test]
    fn a_generic_phrase_links_the_line_not_one_model() {
        let l = linker(&[LINE, FEEDER]);
        assert_eq!(ids(&l, "10kV线路保护开入异常"), vec![("pl-line".to_owned(), "线路保护".to_owned())]);
        assert_eq!(ids(&l, "线路保护"), vec![("pl-line".to_owned(), "线路保护".to_owned())]);
        // A qualifier that carries the model's number names the model.
        assert_eq!(ids(&l, "611线路保护"), vec![("pm-gkf-611".to_owned(), "611线路保护".to_owned())]);
        assert_eq!(ids(&l, "611综保坏了"), vec![("pm-gkf-611".to_owned(), "611综保".to_owned())]);
        // Nor is a generic phrase a synonym of the model.
        let link = l.link("611综保").remove(0);
        assert_eq!(l.synonyms(&link), vec!["GKF-611 线路保护测控装置", "611线路保护", "GKF-611"]);
    }

    #[test]
    fn model_marks_and_kinds() {
        let marks = |code: &str| model_marks(&[code.to_owned()]);
        assert_eq!(marks("GKB-931A"), vec!["931", "931a"]);
        assert_eq!(marks("GKP-DTU300"), vec!["300", "dtu300"]);
        assert_eq!(marks("GKO-MOA"), vec!["moa"]);
        assert_eq!(marks("GKN-3125"), vec!["3125"]);
        let lines = ["线路保护".to_owned(), "dtu".to_owned(), "逆变器".to_owned()];
        assert!(names_a_kind("10kv线路保护", &lines, &marks("GKF-611")));
        assert!(names_a_kind("35千伏线路保护", &lines, &marks("GKB-951")));
        assert!(names_a_kind("环网柜dtu", &lines, &marks("GKP-DTU300")));
        assert!(names_a_kind("线路保护", &lines, &marks("GKF-611")));
        assert!(!names_a_kind("300dtu", &lines, &marks("GKP-DTU300")));
        assert!(!names_a_kind("3.125mw逆变器", &lines, &marks("GKN-3125")));
        assert!(!names_a_kind("611综保", &lines, &marks("GKF-611")));
        assert!(!names_a_kind("线路保护测控", &lines, &marks("GKF-611")), "the line term is not its head");
    }

    #[test]
    fn nominal_voltages_are_no_model_numbers() {
        let dc = r#"{"id":"pm-gkq-110","class":"ProductModel","label":"GKQ-110 110V直流电源屏","aliases":["110直流屏"],"attrs":{"code":"GKQ-110"}}"#;
        let l = linker(&[dc, MODEL]);
        assert!(ids(&l, "110千伏线路").is_empty());
        assert!(ids(&l, "110母差").is_empty());
        assert_eq!(ids(&l, "110直流屏")[0].0, "pm-gkq-110");
        assert_eq!(ids(&l, "gkq110")[0].0, "pm-gkq-110");
        // Other model numbers still link alone.
        assert_eq!(ids(&l, "931A坏了")[0].0, "pm-gkb-931a");
    }

    #[test]
    fn derived_numbers_are_dropped_when_shared() {
        let a = r#"{"id":"pm-a","class":"ProductModel","label":"GKX-100A","attrs":{"code":"GKX-100A"}}"#;
        let b = r#"{"id":"pm-b","class":"ProductModel","label":"GKY-100A","attrs":{"code":"GKY-100A"}}"#;
        let l = linker(&[a, b]);
        assert!(ids(&l, "100A").is_empty());
        assert_eq!(ids(&l, "gkx100a")[0].0, "pm-a");
    }

    #[test]
    fn synonyms_are_the_other_terms_of_things() {
        let customer = r#"{"id":"cu-1","class":"Customer","label":"某某电厂","aliases":["某电厂"]}"#;
        let l = linker(&[MODEL, FAULT, customer]);
        let links = l.link("电流回路断线 某电厂");
        assert_eq!(links.len(), 2);
        assert_eq!(l.synonyms(&links[0]), vec!["CT断线"]);
        assert!(l.synonyms(&links[1]).is_empty(), "customers are not expanded");
        let model = l.link("931保护");
        assert_eq!(l.synonyms(&model[0]), vec!["GKB-931A 线路差动保护", "GKB-931A"]);
    }

    #[test]
    fn swapping_takes_effect_for_new_readers() {
        let shared = SharedLinker::new(linker(&[CT]));
        let before = shared.current();
        shared.replace(linker(&[CT, FAULT]));
        assert_eq!(before.link("电流回路断线").len(), 0);
        assert_eq!(shared.current().link("电流回路断线").len(), 1);
    }
}
