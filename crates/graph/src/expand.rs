//! Graph expansion for retrieval: from the entities linked in a query, follow typed paths to
//! knowledge items and score them; every candidate carries the paths that reached it, for the
//! explanation shown with a hit.
//!
//! Paths followed (each edge has a weight; a path's weight is the product of its edges'):
//! - model → line, component → model, device → model / contract / customer,
//!   contract → model / customer, case → model / product / fault / solution / device;
//! - fault → solution, fault → cause (then the items citing that cause or solution); a linked
//!   cause or solution → its faults;
//! - concept → related entity; category word → its service category (`skos:exactMatch`), whose
//!   answer standards and response strategies are candidates ("answer standard ↔ category");
//!   customer tags (customer `gka:tags`, tag concepts) → items tagged with them;
//! - from every node reached: the items that concern it, through the item field of its class
//!   (`gk:product` for lines, models, components; `gk:fault` for faults, causes, solutions;
//!   `gk:contract`, `gk:customer`, `gk:case`);
//! - finally each strong candidate is checked for direct links to every linked entity, so a
//!   solved case naming both the linked model and the linked fault scores for both
//!   ("case ↔ product + fault") even when one side's scan was cut at the fan-out bound.
//!
//! A candidate's score is the sum over linked entities of the entity's weight times its best
//! path's weight. Hops, fan-out, frontier, seeds and candidates are bounded
//! ([`crate::limits`]); retired items are skipped.

use std::collections::{BTreeMap, HashMap, HashSet};

use oxigraph::model::{Literal, NamedNode, Term};
use serde::Serialize;
use store::{EntityClass, ItemKind};

use crate::error::Result;
use crate::graph::{Graph, GraphReader};
use crate::limits::{
    MAX_AMBIGUOUS_SEEDS, MAX_EXPANSION_CANDIDATES, MAX_EXPANSION_FANOUT, MAX_EXPANSION_FRONTIER, MAX_EXPANSION_HOPS,
    MAX_EXPANSION_SEEDS, MAX_PATHS_PER_CANDIDATE,
};
use crate::linker::Link;
use crate::vocab::{self, GK, attr_iri, compact, dcterms, gk, rdf_type, record_id, record_iri, skos};

/// One edge of a path: the predicate in compact form (`gk:line`; `^gk:product` when followed
/// backwards, from object to subject) and the node reached (a record id, or a compact IRI such
/// as `cat:fault_repair`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathStep {
    pub predicate: String,
    pub node: String,
}

/// How a candidate was reached from one linked entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphPath {
    /// The linked entity the path starts from.
    pub seed: String,
    pub steps: Vec<PathStep>,
    pub weight: f32,
}

/// A knowledge item reached by expansion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub id: String,
    pub kind: Option<ItemKind>,
    pub title: String,
    /// Sum over seeds of the seed's weight times its best path's weight.
    pub score: f32,
    /// The strongest paths, best first (at most [`MAX_PATHS_PER_CANDIDATE`]).
    pub paths: Vec<GraphPath>,
}

/// The result of an expansion.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Expansion {
    /// Best first.
    pub candidates: Vec<Candidate>,
    /// Whether a bound (seeds, fan-out, candidates) cut something off.
    pub truncated: bool,
}

/// A seed: an entity id and how sure we are of it (1.0 for an unambiguous link).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seed {
    pub id: String,
    pub weight: f32,
}

impl Seed {
    /// Seeds from linker output: one per entity, an ambiguous span's weight shared among its
    /// entities (spans naming more than [`MAX_AMBIGUOUS_SEEDS`] entities are skipped), repeated
    /// entities counted once (with their best weight).
    pub fn from_links(links: &[Link]) -> Vec<Seed> {
        let mut best: BTreeMap<&str, f32> = BTreeMap::new();
        let mut order = Vec::new();
        for link in links.iter().filter(|l| l.candidates <= MAX_AMBIGUOUS_SEEDS) {
            let weight = 1.0 / link.candidates.max(1) as f32;
            let slot = best.entry(&link.id).or_insert_with(|| {
                order.push(link.id.as_str());
                0.0
            });
            *slot = slot.max(weight);
        }
        order.into_iter().map(|id| Seed { id: id.to_owned(), weight: best[id] }).collect()
    }

    /// As [`Seed::from_links`], after narrowing ambiguous spans: where a span's key names
    /// several entities (`电源插件` is the power board of every product line), only those
    /// adjacent in the graph to an unambiguously linked entity are kept, if any are — the power
    /// board of the linked model, say.
    pub fn from_links_in(graph: &Graph, links: &[Link]) -> Result<Vec<Seed>> {
        let anchors: Vec<NamedNode> = links.iter().filter(|l| l.candidates <= 1).map(|l| record_iri(&l.id)).collect();
        if anchors.is_empty() || links.iter().all(|l| l.candidates <= 1) {
            return Ok(Seed::from_links(links));
        }
        let reader = graph.read()?;
        let mut narrowed: Vec<Link> = Vec::with_capacity(links.len());
        let mut index = 0;
        while index < links.len() {
            let span = (links[index].start, links[index].end);
            let group_end =
                links[index..].iter().position(|l| (l.start, l.end) != span).map_or(links.len(), |n| index + n);
            let group = &links[index..group_end];
            index = group_end;
            if group.len() <= 1 {
                narrowed.extend_from_slice(group);
                continue;
            }
            let mut kept = Vec::new();
            for link in group {
                let node = record_iri(&link.id);
                let mut tied = false;
                for anchor in &anchors {
                    if reader.adjacent(node.as_ref(), anchor.as_ref())? {
                        tied = true;
                        break;
                    }
                }
                if tied {
                    kept.push(link.clone());
                }
            }
            if kept.is_empty() {
                narrowed.extend_from_slice(group);
            } else {
                let candidates = kept.len();
                narrowed.extend(kept.into_iter().map(|l| Link { candidates, ..l }));
            }
        }
        Ok(Seed::from_links(&narrowed))
    }
}

/// How to leave a node.
#[derive(Debug, Clone, Copy)]
enum Edge {
    /// `node pred ?next`
    Forward(&'static str),
    /// `?next pred node`
    Backward(&'static str),
    /// `node pred "tag"`, then items with `gk:tag "tag"`.
    TagsVia(&'static str),
}

/// Predicates, written as `gk:x`, `gka:x`, `skos:x`.
fn predicate(name: &str) -> NamedNode {
    if let Some(local) = name.strip_prefix("gk:") {
        gk(local)
    } else if let Some(local) = name.strip_prefix("gka:") {
        attr_iri(local)
    } else if let Some(local) = name.strip_prefix("skos:") {
        skos(local)
    } else {
        NamedNode::new_unchecked(name)
    }
}

/// Edges from an entity of a class to other entities, with their weights.
fn entity_edges(class: Option<EntityClass>, scheme_node: bool) -> &'static [(Edge, f32)] {
    use Edge::{Backward, Forward, TagsVia};
    if scheme_node {
        // A major category reaches its minor categories.
        return &[(Backward("skos:broader"), 0.8)];
    }
    match class {
        Some(EntityClass::ProductModel) => &[(Forward("gk:line"), 0.5)],
        Some(EntityClass::Component) => &[(Forward("gk:model"), 0.6)],
        Some(EntityClass::Fault) => &[(Forward("gk:solution"), 0.6), (Forward("gk:cause"), 0.5)],
        Some(EntityClass::Cause | EntityClass::Solution) => &[(Forward("gk:fault"), 0.7)],
        Some(EntityClass::Concept) => {
            &[(Forward("gk:related"), 0.8), (Forward("skos:exactMatch"), 0.5), (TagsVia("skos:prefLabel"), 0.9)]
        }
        Some(EntityClass::Device) => {
            &[(Forward("gk:model"), 0.9), (Forward("gk:contract"), 0.7), (Forward("gk:customer"), 0.5)]
        }
        Some(EntityClass::Contract) => &[(Forward("gk:model"), 0.5), (Forward("gk:customer"), 0.5)],
        Some(EntityClass::Customer) => &[(TagsVia("gka:tags"), 0.6)],
        Some(EntityClass::Case | EntityClass::Ticket) => &[
            (Forward("gk:model"), 0.8),
            (Forward("gk:product"), 0.8),
            (Forward("gk:fault"), 0.8),
            (Forward("gk:solution"), 0.8),
            (Forward("gk:device"), 0.5),
        ],
        Some(EntityClass::ProductLine | EntityClass::Organisation) | None => &[],
    }
}

/// How many of the strongest reached items get the direct-link check before the final cut.
const JOIN_POOL: usize = 3 * MAX_EXPANSION_CANDIDATES;

/// Item kinds admitted when an item is reached through its category: the words to read out and
/// how to handle the customer, not every item that happens to carry the category.
const CATEGORY_KINDS: [ItemKind; 2] = [ItemKind::AnswerStandard, ItemKind::ResponseStrategy];

struct Frontier {
    node: NamedNode,
    steps: Vec<PathStep>,
    weight: f32,
}

struct Walk<'g, 'r> {
    reader: &'r GraphReader<'g>,
    item_class: NamedNode,
    kind_classes: Vec<(ItemKind, NamedNode)>,
    /// Answer standards and response strategies with their categories, read once when a
    /// category is reached.
    category_items: Option<Vec<(NamedNode, ItemKind, Vec<Term>)>>,
    class_cache: HashMap<NamedNode, Option<EntityClass>>,
    item_cache: HashMap<NamedNode, Option<(ItemKind, bool)>>,
    truncated: bool,
}

impl Walk<'_, '_> {
    fn class_of(&mut self, node: &NamedNode) -> Result<Option<EntityClass>> {
        if let Some(class) = self.class_cache.get(node) {
            return Ok(*class);
        }
        let (types, _) = self.reader.objects(node.as_ref(), rdf_type().as_ref(), 16)?;
        let class = types.iter().find_map(|t| match t {
            Term::NamedNode(n) => n.as_str().strip_prefix(GK).and_then(EntityClass::from_code),
            _ => None,
        });
        self.class_cache.insert(node.clone(), class);
        Ok(class)
    }

    /// The kind of an item and whether it is served (not retired); `None` for non-items.
    fn item(&mut self, node: &NamedNode) -> Result<Option<(ItemKind, bool)>> {
        if let Some(item) = self.item_cache.get(node) {
            return Ok(*item);
        }
        // Membership tests are hash lookups in oxigraph's quad set, unlike pattern scans.
        let mut kind = None;
        if self.reader.contains(node.as_ref(), rdf_type().as_ref(), self.item_class.as_ref().into())? {
            for (candidate, class) in &self.kind_classes {
                if self.reader.contains(node.as_ref(), rdf_type().as_ref(), class.as_ref().into())? {
                    kind = Some(*candidate);
                    break;
                }
            }
        }
        let item = match kind {
            Some(kind) => {
                let retired =
                    self.reader.contains(node.as_ref(), gk("status").as_ref(), gk("status-retired").as_ref().into())?;
                Some((kind, !retired))
            }
            None => None,
        };
        self.item_cache.insert(node.clone(), item);
        Ok(item)
    }

    /// Subjects of `(?, pred, object)`, capped; notes truncation.
    fn subjects(&mut self, pred: &NamedNode, object: &Term, limit: usize) -> Result<Vec<NamedNode>> {
        let (subjects, more) = self.reader.subjects(pred.as_ref(), object.as_ref(), limit)?;
        self.truncated |= more;
        Ok(subjects)
    }

    fn objects(&mut self, node: &NamedNode, pred: &NamedNode, limit: usize) -> Result<Vec<Term>> {
        let (objects, more) = self.reader.objects(node.as_ref(), pred.as_ref(), limit)?;
        self.truncated |= more;
        Ok(objects)
    }
}

fn node_name(node: &NamedNode) -> String {
    record_id(node.as_str()).map_or_else(|| compact(node.as_str()), str::to_owned)
}

fn step(predicate: &str, backward: bool, node: &NamedNode) -> PathStep {
    PathStep { predicate: if backward { format!("^{predicate}") } else { predicate.to_owned() }, node: node_name(node) }
}

struct Reached {
    kind: ItemKind,
    /// seed → best path weight from it (unweighted by the seed).
    best_per_seed: BTreeMap<String, f32>,
    paths: Vec<GraphPath>,
}

/// Expands from linked entities; see the module documentation.
pub fn expand(graph: &Graph, seeds: &[Seed]) -> Result<Expansion> {
    let reader = graph.read()?;
    let mut walk = Walk {
        reader: &reader,
        item_class: gk("KnowledgeItem"),
        kind_classes: ItemKind::ALL.iter().map(|k| (*k, gk(&vocab::class_local_name(k.code())))).collect(),
        category_items: None,
        class_cache: HashMap::new(),
        item_cache: HashMap::new(),
        truncated: false,
    };
    if seeds.len() > MAX_EXPANSION_SEEDS {
        walk.truncated = true;
    }
    let mut reached: HashMap<NamedNode, Reached> = HashMap::new();

    for seed in seeds.iter().take(MAX_EXPANSION_SEEDS) {
        let start = record_iri(&seed.id);
        let mut visited: HashSet<NamedNode> = HashSet::from([start.clone()]);
        let mut frontier = vec![Frontier { node: start, steps: Vec::new(), weight: 1.0 }];
        for hop in 0..MAX_EXPANSION_HOPS {
            let mut next = Vec::new();
            for current in &frontier {
                collect_items(&mut walk, seed, current, &mut reached)?;
                if hop + 1 < MAX_EXPANSION_HOPS {
                    follow_edges(&mut walk, seed, current, &mut visited, &mut next, &mut reached)?;
                }
            }
            if next.is_empty() {
                break;
            }
            if next.len() > MAX_EXPANSION_FRONTIER {
                next.sort_by(|a, b| b.weight.total_cmp(&a.weight));
                next.truncate(MAX_EXPANSION_FRONTIER);
                walk.truncated = true;
            }
            frontier = next;
        }
    }

    let seed_weight = |id: &str| seeds.iter().find(|s| s.id == id).map_or(1.0, |s| s.weight);
    let score_of = |r: &Reached| -> f32 { r.best_per_seed.iter().map(|(seed, w)| w * seed_weight(seed)).sum() };
    // Only the strongest few times the candidate bound are worth the direct-link check and
    // the title lookup.
    let mut ranked: Vec<(NamedNode, Reached)> = reached.into_iter().collect();
    ranked.sort_by(|a, b| score_of(&b.1).total_cmp(&score_of(&a.1)).then_with(|| a.0.as_str().cmp(b.0.as_str())));
    if ranked.len() > JOIN_POOL {
        ranked.truncate(JOIN_POOL);
        walk.truncated = true;
    }
    join_direct_links(&mut walk, seeds, &mut ranked)?;
    ranked.sort_by(|a, b| score_of(&b.1).total_cmp(&score_of(&a.1)).then_with(|| a.0.as_str().cmp(b.0.as_str())));
    if ranked.len() > MAX_EXPANSION_CANDIDATES {
        ranked.truncate(MAX_EXPANSION_CANDIDATES);
        walk.truncated = true;
    }
    let mut candidates: Vec<Candidate> = Vec::with_capacity(ranked.len());
    for (node, r) in ranked {
        let score = score_of(&r);
        let mut paths = r.paths;
        paths.sort_by(|a, b| b.weight.total_cmp(&a.weight).then_with(|| a.steps.len().cmp(&b.steps.len())));
        paths.truncate(MAX_PATHS_PER_CANDIDATE);
        let title = reader.literal(node.as_ref(), dcterms("title").as_ref())?.unwrap_or_default();
        candidates.push(Candidate { id: node_name(&node), kind: Some(r.kind), title, score, paths });
    }
    Ok(Expansion { candidates, truncated: walk.truncated })
}

/// The item field through which items point at an entity of this class (`ontology/gridkb.ttl`):
/// products (lines, models, components) through `gk:product`, faults, causes and solutions
/// through `gk:fault`, and so on. One predicate per class keeps the backward lookup to a single
/// scan of the node's incoming edges.
fn item_link(class: Option<EntityClass>) -> Option<&'static str> {
    match class? {
        EntityClass::ProductLine | EntityClass::ProductModel | EntityClass::Component => Some("gk:product"),
        EntityClass::Fault | EntityClass::Cause | EntityClass::Solution => Some("gk:fault"),
        EntityClass::Contract => Some("gk:contract"),
        EntityClass::Customer => Some("gk:customer"),
        EntityClass::Case => Some("gk:case"),
        EntityClass::Device | EntityClass::Organisation | EntityClass::Ticket | EntityClass::Concept => None,
    }
}

/// Items that concern `current`: backwards along its class's item field, or, for a service
/// category, the answer standards and response strategies filed under it.
fn collect_items(
    walk: &mut Walk<'_, '_>,
    seed: &Seed,
    current: &Frontier,
    reached: &mut HashMap<NamedNode, Reached>,
) -> Result<()> {
    if current.node.as_str().starts_with(vocab::CAT) {
        return collect_category_items(walk, seed, current, reached);
    }
    let Some(name) = item_link(walk.class_of(&current.node)?) else { return Ok(()) };
    let object = Term::NamedNode(current.node.clone());
    for subject in walk.subjects(&predicate(name), &object, MAX_EXPANSION_FANOUT)? {
        let Some((kind, true)) = walk.item(&subject)? else { continue };
        let mut steps = current.steps.clone();
        steps.push(step(name, true, &subject));
        record(reached, subject, kind, seed, steps, current.weight);
    }
    Ok(())
}

fn collect_category_items(
    walk: &mut Walk<'_, '_>,
    seed: &Seed,
    current: &Frontier,
    reached: &mut HashMap<NamedNode, Reached>,
) -> Result<()> {
    if walk.category_items.is_none() {
        let mut items = Vec::new();
        for kind in CATEGORY_KINDS {
            let class = Term::NamedNode(gk(&vocab::class_local_name(kind.code())));
            let (subjects, _) = walk.reader.subjects(rdf_type().as_ref(), class.as_ref(), usize::MAX)?;
            for subject in subjects {
                let (categories, _) = walk.reader.objects(subject.as_ref(), gk("category").as_ref(), 4)?;
                items.push((subject, kind, categories));
            }
        }
        walk.category_items = Some(items);
    }
    let target = Term::NamedNode(current.node.clone());
    let matching: Vec<(NamedNode, ItemKind)> = walk
        .category_items
        .iter()
        .flatten()
        .filter(|(_, _, categories)| categories.contains(&target))
        .map(|(subject, kind, _)| (subject.clone(), *kind))
        .collect();
    if matching.len() > MAX_EXPANSION_FANOUT {
        walk.truncated = true;
    }
    for (subject, kind) in matching.into_iter().take(MAX_EXPANSION_FANOUT) {
        if let Some((_, true)) = walk.item(&subject)? {
            let mut steps = current.steps.clone();
            steps.push(step("gk:category", true, &subject));
            record(reached, subject, kind, seed, steps, current.weight);
        }
    }
    Ok(())
}

/// Adds the direct paths a candidate has to seeds it was not reached from: an item found from
/// the fault that also names the linked model scores for both, even when the model's own
/// backward scan was cut at the fan-out bound.
fn join_direct_links(walk: &mut Walk<'_, '_>, seeds: &[Seed], reached: &mut [(NamedNode, Reached)]) -> Result<()> {
    let mut direct = Vec::new();
    for seed in seeds.iter().take(MAX_EXPANSION_SEEDS) {
        let node = record_iri(&seed.id);
        if let Some(name) = item_link(walk.class_of(&node)?) {
            direct.push((seed, node, name, predicate(name)));
        }
    }
    for (item, r) in reached.iter_mut() {
        for (seed, node, name, pred) in &direct {
            if r.best_per_seed.get(&seed.id).is_some_and(|w| *w >= 1.0) {
                continue;
            }
            if walk.reader.contains(item.as_ref(), pred.as_ref(), node.as_ref().into())? {
                r.best_per_seed.insert(seed.id.clone(), 1.0);
                r.paths.push(GraphPath {
                    seed: seed.id.clone(),
                    steps: vec![step(name, true, item)],
                    weight: seed.weight,
                });
            }
        }
    }
    Ok(())
}

fn record(
    reached: &mut HashMap<NamedNode, Reached>,
    item: NamedNode,
    kind: ItemKind,
    seed: &Seed,
    steps: Vec<PathStep>,
    weight: f32,
) {
    let entry =
        reached.entry(item).or_insert_with(|| Reached { kind, best_per_seed: BTreeMap::new(), paths: Vec::new() });
    let best = entry.best_per_seed.entry(seed.id.clone()).or_insert(0.0);
    *best = best.max(weight);
    entry.paths.push(GraphPath { seed: seed.id.clone(), steps, weight: weight * seed.weight });
}

/// Entities one edge away from `current`.
fn follow_edges(
    walk: &mut Walk<'_, '_>,
    seed: &Seed,
    current: &Frontier,
    visited: &mut HashSet<NamedNode>,
    next: &mut Vec<Frontier>,
    reached: &mut HashMap<NamedNode, Reached>,
) -> Result<()> {
    let scheme_node = current.node.as_str().starts_with(&format!("{}major-", vocab::CAT));
    let class = if scheme_node { None } else { walk.class_of(&current.node)? };
    // A cause or solution reached from a fault leads to the items citing it, not on to every
    // other fault that shares it.
    let from_seed = current.steps.is_empty();
    let edges = match class {
        Some(EntityClass::Cause | EntityClass::Solution) if !from_seed => &[],
        _ => entity_edges(class, scheme_node),
    };
    for &(edge, weight) in edges {
        let (name, neighbours, backward): (&str, Vec<NamedNode>, bool) = match edge {
            Edge::Forward(name) => {
                let objects = walk.objects(&current.node, &predicate(name), MAX_EXPANSION_FANOUT)?;
                let nodes = objects
                    .into_iter()
                    .filter_map(|t| match t {
                        Term::NamedNode(n) => Some(n),
                        _ => None,
                    })
                    .collect();
                (name, nodes, false)
            }
            Edge::Backward(name) => (
                name,
                walk.subjects(&predicate(name), &Term::NamedNode(current.node.clone()), MAX_EXPANSION_FANOUT)?,
                true,
            ),
            Edge::TagsVia(name) => {
                tagged_items(walk, seed, current, name, weight, reached)?;
                continue;
            }
        };
        for node in neighbours {
            if visited.insert(node.clone()) {
                let mut steps = current.steps.clone();
                steps.push(step(name, backward, &node));
                next.push(Frontier { node, steps, weight: current.weight * weight });
            }
        }
    }
    Ok(())
}

/// Items carrying a tag of `current` (customer tags, tag concepts' labels), recorded directly:
/// `node -name-> "tag" <-gk:tag- item`.
fn tagged_items(
    walk: &mut Walk<'_, '_>,
    seed: &Seed,
    current: &Frontier,
    name: &str,
    weight: f32,
    reached: &mut HashMap<NamedNode, Reached>,
) -> Result<()> {
    let tags = walk.objects(&current.node, &predicate(name), MAX_EXPANSION_FANOUT)?;
    for tag in tags {
        let Term::Literal(literal) = tag else { continue };
        let plain = Term::Literal(Literal::new_simple_literal(literal.value()));
        for subject in walk.subjects(&gk("tag"), &plain, MAX_EXPANSION_FANOUT)? {
            let Some((kind, true)) = walk.item(&subject)? else { continue };
            let mut steps = current.steps.clone();
            steps.push(PathStep { predicate: name.to_owned(), node: literal.value().to_owned() });
            steps.push(step("gk:tag", true, &subject));
            record(reached, subject, kind, seed, steps, current.weight * weight);
        }
    }
    Ok(())
}
