//! Duplicate and conflict warnings for an item being edited.
//!
//! An editor's draft (saved or not) is compared with the knowledge base in two ways:
//!
//! - **Possible duplicates**: items that say the same thing. Candidates come from BM25 on the
//!   draft's own title and body terms, and from the vector index when a model is loaded; each is
//!   then scored by how much of its text it shares with the draft (Jaccard of the analysed body
//!   terms, shared title terms) and, with a model, by cosine. An item on another product (both
//!   name products, none in common) is the same template for something else and is damped.
//!   The best [`limits::CHECK_TOP_K`] above [`limits::DUPLICATE_THRESHOLD`] are returned, each
//!   with typed reasons.
//! - **Conflicts**: published items of a normative kind (answer standards, response strategies,
//!   business rules: one situation should have one of each) of the draft's kind and category, on
//!   the same product and fault, whose text is *not* close enough to be a duplicate: "it says
//!   something else" is measured as a similarity below the duplicate threshold.
//!
//! Both read the current snapshot of the indexes and a handful of stored records (the candidates
//! that are scored), so a check is cheap enough to run on every debounced keystroke.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Instant;

use lexical::{FilterField, LexicalHit, LexicalQuery};
use serde::{Deserialize, Serialize};
use store::{Category, EntityClass, Item, ItemKind, Record, Status};
use utoipa::ToSchema;

use crate::improvement::Scope;
use crate::limits::{
    CHECK_CANDIDATES, CHECK_EMBED_CHARS, CHECK_QUERY_TERMS, CHECK_TOP_K, CONFLICT_CANDIDATES, DUPLICATE_THRESHOLD,
    PRODUCT_MISMATCH_FACTOR, TITLE_WEIGHT,
};
use crate::{Engine, Error, Invalid, Result};

/// Item kinds the editors' duplicate-pair scan leaves out: records about one contract or one
/// customer, written from one template, whose likeness is expected.
const PAIR_SCAN_SKIPS: [ItemKind; 3] = [ItemKind::ContractInfo, ItemKind::FulfilmentInfo, ItemKind::CustomerInfo];

/// The duplicate-pair scan's results per item: the version checked and what the check found
/// (id, similarity, reasons). Only items whose version changed, or whose found duplicates
/// changed, are checked again.
#[derive(Debug, Default)]
pub(crate) struct PairCache(Mutex<PairScan>);

#[derive(Debug, Default)]
struct PairScan {
    found: HashMap<String, (u32, Vec<DuplicateCandidate>)>,
    /// Items the last call had no time left to check.
    pending: usize,
}

/// The analysed title and body terms of items already scored, by (id, version).
type TermMemo = HashMap<(String, u32), (HashSet<String>, HashSet<String>)>;

/// One side of a duplicate pair.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PairSide {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub status: String,
}

/// Two items that say the same thing (the editors' task kind `duplicate`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DuplicatePair {
    /// The side with the smaller id first.
    pub a: PairSide,
    pub b: PairSide,
    pub similarity: f32,
    pub why: Vec<Reason>,
    /// When the later of the two was last saved (ms since the epoch).
    pub updated_at_ms: u64,
}

/// The text of an item being written: a saved item, or what the editor has typed so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftText {
    /// The item's own id when it exists: it is never reported as its own duplicate.
    #[serde(default)]
    pub id: Option<String>,
    #[schema(value_type = String, example = "answer_standard")]
    pub kind: ItemKind,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
    /// Linked product ids (models or lines).
    #[serde(default)]
    pub products: Vec<String>,
    /// Linked fault ids (faults, causes, solutions).
    #[serde(default)]
    pub faults: Vec<String>,
    /// The service category; conflicts are looked for within it when it is given.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "fault_repair")]
    pub category: Option<Category>,
}

impl From<&Item> for DraftText {
    fn from(item: &Item) -> Self {
        DraftText {
            id: Some(item.id.clone()),
            kind: item.kind,
            title: item.title.clone(),
            body: item.body.clone(),
            products: item.products.clone(),
            faults: item.faults.clone(),
            category: item.category,
        }
    }
}

/// What a check found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct ItemCheck {
    /// Items that may say the same thing, most similar first, at most 5.
    pub possible_duplicates: Vec<DuplicateCandidate>,
    /// Published items for the same situation that say something else.
    pub conflicts: Vec<Conflict>,
    /// Whether semantic similarity was used (a model is loaded and the draft was embedded).
    pub semantic: bool,
}

/// An item that may duplicate the draft.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DuplicateCandidate {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub status: String,
    /// 0..1: how much the two say the same thing (see the module documentation).
    pub similarity: f32,
    /// Why it was flagged, strongest signal first.
    pub why: Vec<Reason>,
}

/// One measured reason for a possible duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reason {
    /// Jaccard of the analysed terms of the two bodies (0..1).
    BodyOverlap { jaccard: f32 },
    /// Terms both titles contain, in the draft's order.
    SharedTitleTerms { terms: Vec<String> },
    /// Cosine of the two texts' embeddings.
    SemanticCosine { value: f32 },
    /// Both are linked to these products and faults.
    SameProductAndFault { products: Vec<String>, faults: Vec<String> },
}

/// A published item for the draft's situation that says something else.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Conflict {
    pub id: String,
    pub title: String,
    pub kind: String,
    /// Products and faults both are linked to: the shared situation.
    pub products: Vec<String>,
    pub faults: Vec<String>,
    /// Similarity to the draft (below the duplicate threshold, or it would be a duplicate).
    pub similarity: f32,
    /// For people: what is shared and how the texts differ.
    pub reason: String,
}

/// Kinds of which one situation (product + fault + category) should have one published item:
/// a second one that says something else is a conflict. Technical points, product documents
/// and cases legitimately come several to a situation (check and handle, phone guidance,
/// principle; one case per incident).
pub const NORMATIVE_KINDS: [ItemKind; 3] =
    [ItemKind::AnswerStandard, ItemKind::ResponseStrategy, ItemKind::BusinessRule];

/// How two items' products relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProductRelation {
    /// A model in common, or (when one side names no model) a product line in common.
    Same,
    /// Both name products and none is shared: the same text about another product.
    Different,
    /// One side names no products.
    Unknown,
}

/// A draft's analysed text and products, computed once per check.
struct Analysed {
    title: Vec<String>,
    body: HashSet<String>,
    models: BTreeSet<String>,
    lines: BTreeSet<String>,
}

/// The parts of one candidate's similarity to a draft (for evaluation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateScore {
    pub id: String,
    /// What a check compares with [`crate::limits::DUPLICATE_THRESHOLD`].
    pub similarity: f32,
    pub body_overlap: f32,
    pub title_overlap: f32,
    pub cosine: Option<f32>,
    /// Both name products and none is shared (the similarity was damped).
    pub other_product: bool,
}

/// What a check scanned: the scored candidates, which of them are of the draft's situation,
/// and whether semantic similarity was available.
#[derive(Default)]
struct Scan {
    scored: Vec<Scored>,
    situation: BTreeSet<String>,
    semantic: bool,
}

/// A scored candidate before it becomes a duplicate or a conflict.
struct Scored {
    hit: LexicalHit,
    similarity: f32,
    body_overlap: f32,
    title_overlap: f32,
    shared_title: Vec<String>,
    cosine: Option<f32>,
    relation: ProductRelation,
    shared_products: Vec<String>,
    shared_faults: Vec<String>,
}

impl Engine {
    /// Possible duplicates of a draft and the published items it conflicts with, on the current
    /// snapshot of the indexes. Drafts, items in review and retired items are candidates for
    /// duplicates too (an editor should know another is writing the same thing); conflicts are
    /// with published items only.
    pub fn check_item(&self, draft: &DraftText) -> Result<ItemCheck> {
        let Scan { scored, situation, semantic } = self.scan(draft, true, &mut TermMemo::default())?;
        let mut duplicates: Vec<&Scored> = scored.iter().filter(|s| s.similarity >= DUPLICATE_THRESHOLD).collect();
        duplicates.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then_with(|| a.hit.id.cmp(&b.hit.id)));
        duplicates.truncate(CHECK_TOP_K);
        let possible_duplicates = duplicates.iter().map(|s| duplicate(s)).collect();

        let mut conflicts: Vec<Conflict> = scored
            .iter()
            .filter(|s| {
                situation.contains(&s.hit.id)
                    && s.similarity < DUPLICATE_THRESHOLD
                    && s.relation == ProductRelation::Same
                    && !s.shared_faults.is_empty()
            })
            .map(|s| conflict(s, draft.kind))
            .collect();
        conflicts.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then_with(|| a.id.cmp(&b.id)));
        conflicts.truncate(CHECK_TOP_K);
        Ok(ItemCheck { possible_duplicates, conflicts, semantic })
    }

    /// Every candidate a check scores, with the parts of its similarity, unsorted and
    /// unthresholded: what `gridkb eval --duplicates` sweeps thresholds over.
    pub fn duplicate_scores(&self, draft: &DraftText) -> Result<Vec<CandidateScore>> {
        Ok(self
            .scan(draft, true, &mut TermMemo::default())?
            .scored
            .into_iter()
            .map(|s| CandidateScore {
                id: s.hit.id,
                similarity: s.similarity,
                body_overlap: s.body_overlap,
                title_overlap: s.title_overlap,
                cosine: s.cosine,
                other_product: s.relation == ProductRelation::Different,
            })
            .collect())
    }

    /// Finds and scores the candidates of a draft; with `semantic`, the vector index adds
    /// candidates when a model is loaded (the similarity itself is lexical either way).
    fn scan(&self, draft: &DraftText, semantic: bool, memo: &mut TermMemo) -> Result<Scan> {
        let started = Instant::now();
        if draft.title.chars().count() > store::record::MAX_TITLE_CHARS
            || draft.body.chars().count() > store::record::MAX_BODY_CHARS
        {
            return Err(Error::invalid(
                Invalid::DraftTooLong,
                format!(
                    "a draft's title may have at most {} characters and its body {}",
                    store::record::MAX_TITLE_CHARS,
                    store::record::MAX_BODY_CHARS
                ),
            ));
        }
        let title = analysis::mask(&draft.title).text;
        let body = analysis::mask(&draft.body).text;
        let title_terms = self.query_terms(&title);
        let body_terms = self.query_terms(&body);
        if title_terms.is_empty() && body_terms.is_empty() {
            return Ok(Scan::default());
        }
        let (models, lines) = self.product_scope(&draft.products)?;
        let analysed = Analysed { body: body_terms.iter().cloned().collect(), title: title_terms, models, lines };
        let mut terms: Vec<String> = Vec::new();
        for term in analysed.title.iter().chain(&body_terms) {
            if terms.len() == CHECK_QUERY_TERMS {
                break;
            }
            if !terms.contains(term) {
                terms.push(term.clone());
            }
        }
        let deadline = started + self.limits().search_deadline();
        let any_status = LexicalQuery {
            terms: terms.clone(),
            limit: CHECK_CANDIDATES,
            deadline: Some(deadline),
            skip_snippets: true,
            ..LexicalQuery::default()
        };

        // The draft is embedded on its own thread while BM25 runs here.
        let dense = self.dense_side().filter(|_| semantic);
        let text = format!("{title}\n{body}");
        let (vector, lexical) = std::thread::scope(|scope| {
            let embedding =
                dense.map(|dense| scope.spawn(move || dense.passage_vector(&truncate_chars(&text, CHECK_EMBED_CHARS))));
            let lexical = self.lexical_index().search(&any_status);
            (embedding.map(|e| e.join().unwrap_or_else(|_| Err("the draft embedder failed".into()))), lexical)
        });
        let vector = match vector {
            Some(Ok(vector)) => Some(vector),
            Some(Err(reason)) => {
                tracing::debug!(%reason, "duplicate check without semantic similarity");
                None
            }
            None => None,
        };
        let own = |id: &str| draft.id.as_deref() == Some(id);
        let mut hits: BTreeMap<String, LexicalHit> =
            lexical?.hits.into_iter().filter(|h| !own(&h.id)).map(|h| (h.id.clone(), h)).collect();

        // Semantic neighbours lexical did not find, read back through the lexical index.
        let mut cosines: BTreeMap<String, f32> = BTreeMap::new();
        if let (Some(dense), Some(vector)) = (dense, &vector) {
            let neighbours = dense.search(vector, CHECK_CANDIDATES + 1)?;
            let missing: Vec<String> =
                neighbours.iter().map(|(id, _)| id.clone()).filter(|id| !own(id) && !hits.contains_key(id)).collect();
            for hit in
                self.lexical_index().lookup(&missing, &LexicalQuery { skip_snippets: true, ..any_status.clone() })?
            {
                hits.insert(hit.id.clone(), hit);
            }
            let ids: Vec<String> = hits.keys().cloned().collect();
            let found = dense.similarity_to(vector, &ids);
            cosines.extend(ids.into_iter().zip(found).filter_map(|(id, cosine)| Some((id, cosine?))));
        }

        // Published items of the draft's kind (and category) on its products and faults.
        let normative = NORMATIVE_KINDS.contains(&draft.kind);
        let mut situation: BTreeSet<String> = BTreeSet::new();
        if normative && !draft.products.is_empty() && !draft.faults.is_empty() {
            let mut filters = BTreeMap::from([
                (FilterField::Kind, vec![draft.kind.code().to_string()]),
                (FilterField::Status, vec![Status::Published.code().to_string()]),
                (FilterField::Product, draft.products.clone()),
                (FilterField::Fault, draft.faults.clone()),
            ]);
            if let Some(category) = draft.category {
                filters.insert(FilterField::Category, vec![category.code().to_string()]);
            }
            let query = LexicalQuery { filters, limit: CONFLICT_CANDIDATES, ..any_status.clone() };
            for hit in self.lexical_index().search(&query)?.hits.into_iter().filter(|h| !own(&h.id)) {
                situation.insert(hit.id.clone());
                hits.entry(hit.id.clone()).or_insert(hit);
            }
        }

        let scored = self.score(&analysed, draft, hits, &cosines, memo)?;
        Ok(Scan { scored, situation, semantic: vector.is_some() })
    }

    /// Scores each candidate against the draft, reading its stored title and body once.
    fn score(
        &self,
        draft: &Analysed,
        text: &DraftText,
        hits: BTreeMap<String, LexicalHit>,
        cosines: &BTreeMap<String, f32>,
        memo: &mut TermMemo,
    ) -> Result<Vec<Scored>> {
        let stored = self.store().get_many(hits.keys().map(String::as_str))?;
        let draft_faults: BTreeSet<&String> = text.faults.iter().collect();
        let mut out = Vec::with_capacity(hits.len());
        for ((id, hit), stored) in hits.into_iter().zip(stored) {
            let Some(Record::Item(item)) = stored.map(|s| s.record) else { continue };
            let (title_terms, body_terms) = memo.entry((id.clone(), item.version)).or_insert_with(|| {
                (
                    self.query_terms(&item.title).into_iter().collect(),
                    self.query_terms(&item.body).into_iter().collect(),
                )
            });
            let (title_terms, body_terms) = (&*title_terms, &*body_terms);
            let shared_title: Vec<String> = draft.title.iter().filter(|t| title_terms.contains(*t)).cloned().collect();
            let title_overlap = jaccard_count(shared_title.len(), draft.title.len(), title_terms.len());
            let body_overlap = jaccard(&draft.body, body_terms);
            let (models, lines) = self.product_scope(&item.products)?;
            let relation = relate(draft, &models, &lines);
            // The shared models, or the shared lines when no model is shared.
            let mut shared_products: Vec<String> = draft.models.intersection(&models).cloned().collect();
            if shared_products.is_empty() {
                shared_products = draft.lines.intersection(&lines).cloned().collect();
            }
            let shared_faults: Vec<String> = item.faults.iter().filter(|f| draft_faults.contains(f)).cloned().collect();
            let cosine = cosines.get(&id).copied();
            let lexical = (1.0 - TITLE_WEIGHT) * body_overlap + TITLE_WEIGHT * title_overlap;
            let mut similarity = lexical;
            if relation == ProductRelation::Different {
                similarity *= PRODUCT_MISMATCH_FACTOR;
            }
            out.push(Scored {
                hit,
                similarity: similarity.clamp(0.0, 1.0),
                body_overlap,
                title_overlap,
                shared_title,
                cosine,
                relation,
                shared_products,
                shared_faults,
            });
        }
        Ok(out)
    }

    /// The product models among `products`, and the lines they and the rest belong to.
    fn product_scope(&self, products: &[String]) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
        let mut models = BTreeSet::new();
        let mut lines = BTreeSet::new();
        for (id, stored) in products.iter().zip(self.store().get_many(products.iter().map(String::as_str))?) {
            match stored.map(|s| s.record) {
                Some(Record::Entity(entity)) if entity.class == EntityClass::ProductModel => {
                    models.insert(id.clone());
                    lines.extend(entity.links.get("line").into_iter().flatten().cloned());
                }
                Some(Record::Entity(entity)) if entity.class == EntityClass::ProductLine => {
                    lines.insert(id.clone());
                }
                _ => {}
            }
        }
        Ok((models, lines))
    }
}

impl Engine {
    /// Likely duplicate pairs among the items in `scope` (either side in scope): each of at most
    /// `limits.duplicate_scan_items` items — drafts and items in review first, then the most
    /// recently saved — is checked as an editor's save checks it, lexically (the threshold does
    /// not depend on a model), and every possible duplicate found is a pair. Most similar first.
    /// One call checks for at most `limits.duplicate_scan_budget_ms`; items it did not reach are
    /// checked by the next calls (the results are kept per item version), so the pairs of a large
    /// knowledge base fill in over the first requests.
    pub fn duplicate_pairs(&self, scope: &Scope) -> Result<Vec<DuplicatePair>> {
        let mut heads: Vec<crate::ItemSummary> = self.catalogue_read(|c| {
            c.heads().filter(|s| !PAIR_SCAN_SKIPS.contains(&s.kind) && s.status != Status::Retired).cloned().collect()
        })?;
        heads.sort_by(|a, b| {
            let writing = |s: &crate::ItemSummary| s.status == Status::Published;
            writing(a).cmp(&writing(b)).then(b.updated_at_ms.cmp(&a.updated_at_ms)).then_with(|| a.id.cmp(&b.id))
        });
        heads.truncate(self.limits().duplicate_scan_items);
        let summaries: HashMap<&str, &crate::ItemSummary> = heads.iter().map(|s| (s.id.as_str(), s)).collect();
        let mut scan = self.pair_cache().0.lock().unwrap_or_else(|e| e.into_inner());
        let PairScan { found: cache, pending } = &mut *scan;
        cache.retain(|id, _| summaries.contains_key(id.as_str()));
        let changed: HashSet<&str> = heads
            .iter()
            .filter(|s| cache.get(&s.id).is_none_or(|(version, _)| *version != s.version))
            .map(|s| s.id.as_str())
            .collect();
        let stale: Vec<&str> = heads
            .iter()
            .map(|s| s.id.as_str())
            .filter(|id| {
                changed.contains(id)
                    || cache.get(*id).is_some_and(|(_, found)| found.iter().any(|d| changed.contains(d.id.as_str())))
            })
            .collect();
        let deadline = Instant::now() + std::time::Duration::from_millis(self.limits().duplicate_scan_budget_ms);
        // Candidates recur across the items of one scan: each is analysed once.
        let mut memo = TermMemo::default();
        *pending = stale.len();
        for id in stale {
            if Instant::now() >= deadline {
                // The rest is checked by the requests that follow.
                break;
            }
            let Some(summary) = summaries.get(id) else { continue };
            let found = match self.store().state(id)?.head().map(|s| &s.record) {
                Some(Record::Item(item)) => {
                    let draft = DraftText::from(item);
                    let Scan { scored, .. } = self.scan(&draft, false, &mut memo)?;
                    let mut found: Vec<DuplicateCandidate> =
                        scored.iter().filter(|s| s.similarity >= DUPLICATE_THRESHOLD).map(duplicate).collect();
                    found.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then_with(|| a.id.cmp(&b.id)));
                    found.truncate(CHECK_TOP_K);
                    found
                }
                _ => Vec::new(),
            };
            cache.insert(id.to_string(), (summary.version, found));
            *pending -= 1;
        }
        let mut pairs: BTreeMap<(String, String), DuplicatePair> = BTreeMap::new();
        let orgs: HashMap<String, Option<String>> = self.catalogue_read(|c| {
            cache
                .values()
                .flat_map(|(_, found)| found.iter().map(|d| d.id.clone()))
                .map(|id| {
                    let org = c.served(&id).and_then(|s| s.owner_org.clone());
                    (id, org)
                })
                .collect()
        })?;
        for summary in &heads {
            let Some((_, found)) = cache.get(&summary.id) else { continue };
            for other in found {
                let other_org = orgs.get(&other.id).cloned().flatten();
                if !scope.admits(summary.owner_org.as_deref()) && !scope.admits(other_org.as_deref()) {
                    continue;
                }
                let this = PairSide {
                    id: summary.id.clone(),
                    title: summary.title.clone(),
                    kind: summary.kind.code().to_string(),
                    status: summary.status.code().to_string(),
                };
                let that = PairSide {
                    id: other.id.clone(),
                    title: other.title.clone(),
                    kind: other.kind.clone(),
                    status: other.status.clone(),
                };
                let (a, b) = if this.id < that.id { (this, that) } else { (that, this) };
                let updated_at_ms =
                    summary.updated_at_ms.max(summaries.get(other.id.as_str()).map_or(0, |s| s.updated_at_ms));
                let key = (a.id.clone(), b.id.clone());
                let pair = DuplicatePair { a, b, similarity: other.similarity, why: other.why.clone(), updated_at_ms };
                match pairs.get(&key) {
                    Some(kept) if kept.similarity >= pair.similarity => {}
                    _ => {
                        pairs.insert(key, pair);
                    }
                }
            }
        }
        let mut out: Vec<DuplicatePair> = pairs.into_values().collect();
        out.sort_by(|x, y| {
            y.similarity.total_cmp(&x.similarity).then_with(|| x.a.id.cmp(&y.a.id)).then_with(|| x.b.id.cmp(&y.b.id))
        });
        Ok(out)
    }
}

impl Engine {
    /// Items the duplicate-pair scan has yet to check (0 once every item's current version is).
    pub fn duplicate_scan_pending(&self) -> usize {
        self.pair_cache().0.lock().unwrap_or_else(|e| e.into_inner()).pending
    }
}

fn relate(draft: &Analysed, models: &BTreeSet<String>, lines: &BTreeSet<String>) -> ProductRelation {
    let named = |m: &BTreeSet<String>, l: &BTreeSet<String>| !m.is_empty() || !l.is_empty();
    if !named(&draft.models, &draft.lines) || !named(models, lines) {
        return ProductRelation::Unknown;
    }
    let shared = if !draft.models.is_empty() && !models.is_empty() {
        !draft.models.is_disjoint(models)
    } else {
        !draft.lines.is_disjoint(lines)
    };
    if shared { ProductRelation::Same } else { ProductRelation::Different }
}

fn duplicate(scored: &Scored) -> DuplicateCandidate {
    let mut why = vec![Reason::BodyOverlap { jaccard: round3(scored.body_overlap) }];
    if let Some(cosine) = scored.cosine {
        why.push(Reason::SemanticCosine { value: round3(cosine) });
    }
    if !scored.shared_title.is_empty() {
        why.push(Reason::SharedTitleTerms { terms: scored.shared_title.clone() });
    }
    if scored.relation == ProductRelation::Same && !scored.shared_faults.is_empty() {
        why.push(Reason::SameProductAndFault {
            products: scored.shared_products.clone(),
            faults: scored.shared_faults.clone(),
        });
    }
    DuplicateCandidate {
        id: scored.hit.id.clone(),
        title: scored.hit.title.clone(),
        kind: scored.hit.kind.clone(),
        status: scored.hit.status.clone(),
        similarity: round3(scored.similarity),
        why,
    }
}

fn conflict(scored: &Scored, kind: ItemKind) -> Conflict {
    let reason = format!(
        "a published {} ({}) for the same product ({}) and fault ({}) says something else: similarity {:.2} to \
         the draft, below the duplicate threshold {:.2}, with {:.0}% of the body terms in common; one situation \
         should have one {} — merge the two or retire one",
        kind.code(),
        kind.label_zh(),
        scored.shared_products.join(", "),
        scored.shared_faults.join(", "),
        scored.similarity,
        DUPLICATE_THRESHOLD,
        scored.body_overlap * 100.0,
        kind.code(),
    );
    Conflict {
        id: scored.hit.id.clone(),
        title: scored.hit.title.clone(),
        kind: scored.hit.kind.clone(),
        products: scored.shared_products.clone(),
        faults: scored.shared_faults.clone(),
        similarity: round3(scored.similarity),
        reason,
    }
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f32 {
    let shared = a.iter().filter(|t| b.contains(*t)).count();
    jaccard_count(shared, a.len(), b.len())
}

fn jaccard_count(shared: usize, a: usize, b: usize) -> f32 {
    let union = a + b - shared;
    if union == 0 { 0.0 } else { shared as f32 / union as f32 }
}

fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}

fn truncate_chars(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}
