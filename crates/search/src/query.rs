//! The query path. A request's text is analysed once into an [`AnalysedQuery`]; each search of
//! the request (one for a search, several with different filters for a ticket) then runs three
//! stages over it:
//!
//! 1. **candidates** — BM25 (while the query embedding is computed), dense neighbours and graph
//!    expansion each propose ids; dense and graph candidates are held to the filters through the
//!    lexical index's in-memory filter table;
//! 2. **fusion** — the lists become one ranking, moved by agents' feedback within its bounds;
//! 3. **presentation** — only the hits shown are read back, by id, with snippets; hits that are
//!    counted but not shown (a ticket's votes) come from the filter table without a read.
//!
//! What a stage computes that does not depend on the filters (the query vector, the dense
//! neighbours, the entity links and the graph expansion, every term's document frequency) is
//! kept in the [`AnalysedQuery`] for the request's other searches.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use lexical::{LexicalHit, LexicalQuery, Snapshot};

use crate::dense::PendingVector;
use crate::engine::{Engine, UNPUBLISHED, checkpoint};
use crate::feedback::FeedbackEffect;
use crate::fusion::{FUSION_DEPTH, Fused, Fusion, Retriever, fuse};
use crate::request::{Explanation, Hit, LinkedEntity, SearchRequest, SearchResponse};
use crate::{Error, Invalid, Result, Stop};
use store::ItemKind;

/// How much a synonym of a thing the query names (another alias or the preferred label of a
/// linked fault, product or concept) counts next to the query's own words. Chosen on the ticket
/// dev split (`gridkb eval corpus/tickets --split dev --no-dense`, lexical nDCG@10): 0.30 gave
/// 0.4424, 0.15 gave 0.4446 (and a higher MRR@10); without synonyms 0.4279.
const SYNONYM_WEIGHT: f32 = 0.15;

/// A ranked candidate list: ids with their retriever's scores, best first.
type Scored = Vec<(String, f32)>;

/// A request's text, analysed once for all of the request's searches.
#[derive(Debug)]
pub(crate) struct AnalysedQuery<'e> {
    /// The request text this is the analysis of.
    pub(crate) text: String,
    /// Normalised, then masked, with homophone slips of the service's words read as those
    /// words ([`analysis::Speller`]): what is embedded, linked and echoed.
    pub(crate) masked: String,
    /// The lexical terms of `masked`.
    pub(crate) terms: Vec<String>,
    /// The lexical index as every search of this request sees it, with the term statistics
    /// they share.
    lexical: Snapshot<'e>,
    /// Entities the text names and the weighted synonym terms they add (once the graph is
    /// loaded; empty without terms).
    links: OnceLock<(Vec<graph::Link>, Scored)>,
    /// The query embedding, or why there is none.
    vector: OnceLock<std::result::Result<Vec<f32>, String>>,
    /// The query embedding asked for ahead of the first search ([`Engine::embed_ahead`]), not
    /// collected yet.
    pending: Mutex<Option<PendingVector>>,
    /// Dense neighbours before filtering, and how many were fetched.
    neighbours: Mutex<Option<(usize, Scored)>>,
    expansion: OnceLock<graph::Expansion>,
    /// BM25 rankings made ahead for searches filtered by kind ([`Engine::rank_ahead_by_kind`]).
    ranked_ahead: Mutex<Vec<RankedAhead>>,
}

/// A BM25 ranking made before the search that needs it: what it is the ranking of, and the
/// ranking.
#[derive(Debug)]
struct RankedAhead {
    /// Sorted kind codes: the search's only filter.
    kinds: Vec<String>,
    expansions: Scored,
    limit: usize,
    ranked: lexical::Ranked,
}

impl RankedAhead {
    /// This ranking, cut to the query's limit, when it is the one `query` asks for: the same
    /// words, synonyms, status rule and kind filter (and no other filter), from the start of the
    /// list, no deeper than what was ranked.
    fn serves(&self, query: &LexicalQuery, terms: &[String]) -> Option<lexical::Ranked> {
        let kinds = match (query.filters.len(), query.filters.get(&lexical::FilterField::Kind)) {
            (1, Some(kinds)) => sorted(kinds),
            _ => return None,
        };
        let same = kinds == self.kinds
            && query.terms == terms
            && query.expansions == self.expansions
            && query.exclude_status == unpublished()
            && query.offset == 0
            && query.limit <= self.limit;
        same.then(|| lexical::Ranked {
            total: self.ranked.total,
            partial: self.ranked.partial,
            scored: self.ranked.scored.iter().take(query.limit).cloned().collect(),
        })
    }
}

fn sorted(codes: &[String]) -> Vec<String> {
    let mut codes = codes.to_vec();
    codes.sort();
    codes.dedup();
    codes
}

/// The statuses a search never returns, as the lexical index's codes.
fn unpublished() -> Vec<String> {
    UNPUBLISHED.iter().map(|s| s.code().to_string()).collect()
}

impl AnalysedQuery<'_> {
    /// What is embedded: the text without its masked personal data. A masked phone number or
    /// card (`199-****-0471`, a run of letters, digits and separators holding the mask's `*`)
    /// means nothing to the model and is about a tenth of a ticket's tokens.
    fn embedding_text(&self) -> String {
        analysis::without_masked(&self.masked)
    }

    /// The lexical query of this text with `filters`, for candidate generation.
    fn lexical_query(&self, plan: &Plan<'_>, expansions: Vec<(String, f32)>) -> LexicalQuery {
        self.lexical_query_for(plan.request.filters.clone(), plan.depth, plan.deadline, expansions)
    }

    /// The lexical query of this text: the first `depth` published hits passing `filters`,
    /// without snippets, cut short at `deadline`.
    fn lexical_query_for(
        &self,
        filters: BTreeMap<lexical::FilterField, Vec<String>>,
        depth: usize,
        deadline: Instant,
        expansions: Vec<(String, f32)>,
    ) -> LexicalQuery {
        LexicalQuery {
            terms: self.terms.clone(),
            expansions,
            filters,
            exclude_status: unpublished(),
            limit: depth,
            offset: 0,
            deadline: Some(deadline),
            skip_snippets: true,
        }
    }
}

/// How many of a page's hits are shown (read back with snippets); the rest are counted only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shown {
    All,
    First(usize),
}

/// One search of an analysed query: what it asks for.
struct Plan<'r> {
    request: &'r SearchRequest,
    depth: usize,
    fusion: Fusion,
    deadline: Instant,
}

impl Plan<'_> {
    fn wants(&self, retriever: Retriever) -> bool {
        self.request.retrievers.as_ref().is_none_or(|list| list.contains(&retriever))
    }
}

/// What the retrievers proposed.
#[derive(Default)]
struct Candidates {
    lists: Vec<(Retriever, Vec<(String, f32)>)>,
    /// The first graph path to each graph candidate, for the explanation.
    paths: BTreeMap<String, Vec<String>>,
    linked: Vec<LinkedEntity>,
    total: usize,
    partial: bool,
    degraded: Vec<String>,
}

impl Engine {
    /// Normalises, then masks, then reads homophone slips, then analyses a text: a zero-width space, an NBSP or full-width
    /// digits inside a phone number must not survive into the query text, its terms, its
    /// embedding, the entity links or anything echoed. Every route (search, retrieve, Dify,
    /// tickets) comes through here.
    pub(crate) fn analyse(&self, q: &str) -> AnalysedQuery<'_> {
        let masked = analysis::mask(&analysis::normalize(q)).text;
        let read = self.speller.current().correct(&masked).text;
        self.analyse_read(q, read)
    }

    /// [`Engine::analyse`] of a request text `q` whose normalised, masked and read form is
    /// `read` already (a ticket's rules read it before its searches): those steps are not run
    /// twice.
    pub(crate) fn analyse_read(&self, q: &str, read: String) -> AnalysedQuery<'_> {
        let terms = self.query_terms(&read);
        AnalysedQuery {
            text: q.to_string(),
            masked: read,
            terms,
            lexical: self.lexical.snapshot(),
            links: OnceLock::new(),
            vector: OnceLock::new(),
            pending: Mutex::new(None),
            neighbours: Mutex::new(None),
            expansion: OnceLock::new(),
            ranked_ahead: Mutex::new(Vec::new()),
        }
    }

    /// Asks for the query embedding now, so that the embedding thread works while the caller
    /// does what needs no vector (a ticket's device, customer and guidance words, the entity
    /// links and graph expansion); the first search that wants the vector collects it.
    pub(crate) fn embed_ahead(&self, query: &AnalysedQuery<'_>) {
        if let Some(dense) = &self.dense
            && !query.terms.is_empty()
            && query.vector.get().is_none()
        {
            let mut pending = query.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if pending.is_none() {
                *pending = Some(dense.request_vector(&query.embedding_text()));
            }
        }
    }

    /// Ranks `query`'s words by BM25 once for several searches that differ only in their kind
    /// filter (a ticket match's solutions, similar cases and guidance), each group as deep as
    /// such a search ranks ([`FUSION_DEPTH`]); the searches then take their lexical lists from
    /// here. The lists, scores and counts are those each search would rank itself
    /// ([`lexical::Snapshot::ranked_by_kind`]); a ranking the deadline cut short is not kept.
    pub(crate) fn rank_ahead_by_kind(
        &self,
        query: &AnalysedQuery<'_>,
        groups: &[&[ItemKind]],
        stop: &Stop,
    ) -> Result<()> {
        if query.terms.is_empty() {
            return Ok(());
        }
        let expansions = &self.links_now(query).1;
        let kinds: Vec<Vec<String>> = groups
            .iter()
            .map(|group| sorted(&group.iter().map(|k| k.code().to_string()).collect::<Vec<_>>()))
            .collect();
        let deadline = stop.within(self.limits.search_deadline()).deadline();
        let lexical_query = query.lexical_query_for(BTreeMap::new(), FUSION_DEPTH, deadline, expansions.clone());
        let ranked = query.lexical.ranked_by_kind(&lexical_query, &kinds)?;
        let mut ahead = query.ranked_ahead.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (kinds, ranked) in kinds.into_iter().zip(ranked).filter(|(_, r)| !r.partial) {
            ahead.push(RankedAhead { kinds, expansions: expansions.clone(), limit: FUSION_DEPTH, ranked });
        }
        Ok(())
    }

    /// Computes the entity links and the graph expansion of `query` now (once the graph is
    /// loaded), for the request's searches to share.
    pub(crate) fn link_ahead(&self, query: &AnalysedQuery<'_>) -> Result<()> {
        if let Some((graph, linker)) = self.graph.as_ref().and_then(graph::LiveGraph::ready)
            && !query.terms.is_empty()
        {
            let (links, _) = self.links_of(query, linker);
            if !links.is_empty() {
                expansion_of(query, graph, links)?;
            }
        }
        Ok(())
    }

    /// The entities `query` names and the synonym terms they add, once the graph is loaded
    /// (none for a query without terms).
    fn links_now<'q>(&self, query: &'q AnalysedQuery<'_>) -> &'q (Vec<graph::Link>, Scored) {
        static NONE: (Vec<graph::Link>, Scored) = (Vec::new(), Vec::new());
        match self.graph.as_ref().and_then(graph::LiveGraph::ready) {
            Some((_, linker)) if !query.terms.is_empty() => self.links_of(query, linker),
            _ => &NONE,
        }
    }

    /// The entity links of `query` and the synonym terms they add, computed once.
    fn links_of<'q>(
        &self,
        query: &'q AnalysedQuery<'_>,
        linker: &graph::SharedLinker,
    ) -> &'q (Vec<graph::Link>, Scored) {
        query.links.get_or_init(|| {
            let linker = linker.current();
            let links = linker.link(&query.masked);
            let expansions = self.synonym_terms(&linker, &links, &query.terms);
            (links, expansions)
        })
    }

    /// Runs `request` (whose text `query` is the analysis of) through the three stages, reading
    /// back the hits `shown` asks for. Past the deadline (the earlier of `stop`'s and the search
    /// deadline) the stages not yet run are skipped and the answer is flagged partial; once the
    /// caller abandons it, the search ends at the next stage with [`Error::Abandoned`].
    pub(crate) fn search_analysed(
        &self,
        request: &SearchRequest,
        query: &AnalysedQuery<'_>,
        stop: &Stop,
        shown: Shown,
    ) -> Result<SearchResponse> {
        debug_assert_eq!(request.q, query.text, "the analysed query is the request's text");
        let started = Instant::now();
        let stop = stop.within(self.limits.search_deadline());
        checkpoint(&stop)?;
        let limit = request.validate(&self.limits)?;
        if query.terms.is_empty() && request.filters.is_empty() {
            return Err(Error::invalid(
                Invalid::EmptyQuery,
                "the query has no searchable words (only punctuation or masked personal data)",
            ));
        }
        let plan = Plan {
            request,
            depth: (request.offset + limit).max(FUSION_DEPTH),
            fusion: request.fusion.unwrap_or_else(|| self.fusion()),
            deadline: stop.deadline(),
        };
        let found = self.candidates(&plan, query, &stop)?;
        checkpoint(&stop)?;
        // An adaptive fusion chooses this query's weights; the response names them.
        let fusion = plan.fusion.resolve(query.masked.chars().count(), &found.lists);
        let (fused, mut effects) = self.fuse_with_feedback(&found.lists, fusion, &query.terms);
        let total = found.total.max(fused.len());
        let page: Vec<Fused> = fused.into_iter().skip(request.offset).take(limit).collect();
        let hits = self.present(page, &plan, query, shown, found.paths, &mut effects)?;
        Ok(SearchResponse {
            request_id: None,
            query: query.masked.clone(),
            terms: query.terms.clone(),
            total,
            offset: request.offset,
            hits,
            partial: found.partial || Instant::now() >= plan.deadline,
            retrievers: found.lists.iter().map(|(r, _)| r.name().to_string()).collect(),
            degraded: (!found.degraded.is_empty()).then(|| found.degraded.join("; ")),
            linked: found.linked,
            fusion,
            took_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// Stage 1: each retriever asked for and available proposes its candidates.
    fn candidates(&self, plan: &Plan<'_>, query: &AnalysedQuery<'_>, stop: &Stop) -> Result<Candidates> {
        let mut found = Candidates::default();
        let ready = self.graph.as_ref().and_then(graph::LiveGraph::ready);
        let has_terms = !query.terms.is_empty();
        // Entities the query names (once the graph is loaded): for the response, graph expansion
        // and the synonyms added to the lexical query.
        let (links, expansions) = self.links_now(query);
        let lexical_query = query.lexical_query(plan, expansions.clone());

        // The query embedding is asked for before BM25 runs (unless the caller asked for it
        // earlier) and collected after it: the embedding thread works while this one searches.
        let dense_wanted = plan.wants(Retriever::Dense) && has_terms;
        let pending = match (&self.dense, dense_wanted) {
            (Some(dense), true) if query.vector.get().is_none() => {
                let ahead = query.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
                Some(ahead.unwrap_or_else(|| dense.request_vector(&query.embedding_text())))
            }
            _ => None,
        };
        if plan.wants(Retriever::Lexical) || !has_terms {
            let ahead = query.ranked_ahead.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let ready = ahead.iter().find_map(|a| a.serves(&lexical_query, &query.terms));
            drop(ahead);
            let ranked = match ready {
                Some(ranked) => ranked,
                None => query.lexical.ranked(&lexical_query)?,
            };
            found.total = ranked.total;
            found.partial |= ranked.partial;
            found.lists.push((Retriever::Lexical, ranked.scored));
        }
        if let Some(pending) = pending {
            let _ = query.vector.set(pending.wait(self.limits.query_embed_budget()));
        }
        // Past the deadline the stages still to come (dense neighbours, graph expansion) are
        // skipped; an abandoned search ends here.
        let in_time = checkpoint(stop)?;
        found.partial |= !in_time;
        if dense_wanted && in_time {
            self.dense_candidates(plan, query, &lexical_query, &mut found)?;
        }

        if let Some(state) = self.graph_state().filter(|s| *s != graph::LoadState::Ready)
            && has_terms
        {
            found.degraded.push(match state {
                graph::LoadState::Failed(reason) => {
                    format!("the knowledge graph did not load ({reason}); no entity links or graph results")
                }
                _ => "the knowledge graph is loading; no entity links or graph results yet".to_string(),
            });
        }
        let in_time = in_time && checkpoint(stop)?;
        found.partial |= !in_time;
        if let Some((graph, _)) = ready
            && has_terms
        {
            found.linked = links
                .iter()
                .map(|l| LinkedEntity {
                    id: l.id.clone(),
                    class: l.class.code().to_string(),
                    label: l.label.clone(),
                    matched: l.matched.clone(),
                })
                .collect();
            if plan.wants(Retriever::Graph) && !links.is_empty() && in_time {
                let expansion = expansion_of(query, graph, links)?;
                let ids: Vec<String> = expansion.candidates.iter().map(|c| c.id.clone()).collect();
                let allowed = self.lexical.passing(&ids, &lexical_query);
                let mut list = Vec::new();
                for candidate in expansion.candidates.iter().filter(|c| allowed.contains(&c.id)).take(plan.depth) {
                    if let Some(path) = candidate.paths.first() {
                        let mut shown = vec![path.seed.clone()];
                        for step in &path.steps {
                            shown.push(step.predicate.clone());
                            shown.push(step.node.clone());
                        }
                        found.paths.insert(candidate.id.clone(), shown);
                    }
                    list.push((candidate.id.clone(), candidate.score));
                }
                found.total = found.total.max(list.len());
                found.lists.push((Retriever::Graph, list));
            }
        }
        Ok(found)
    }

    /// The dense neighbours of the query vector that pass the filters (over-fetched: filters
    /// and unpublished items are applied afterwards), or why there are none.
    fn dense_candidates(
        &self,
        plan: &Plan<'_>,
        query: &AnalysedQuery<'_>,
        lexical_query: &LexicalQuery,
        found: &mut Candidates,
    ) -> Result<()> {
        let Some(dense) = &self.dense else {
            found.degraded.extend(self.dense_missing.clone());
            return Ok(());
        };
        let vector = match query.vector.get() {
            Some(Ok(vector)) => vector,
            Some(Err(reason)) => {
                found.degraded.push(format!("dense retrieval skipped: {reason}"));
                return Ok(());
            }
            None => return Ok(()),
        };
        let status = dense.status();
        if status.applied_seq < self.store.last_seq()? {
            let why = if dense.repaired().is_some() {
                "the vector index was damaged and is being rebuilt from the store"
            } else {
                "embeddings are being computed"
            };
            found.degraded.push(format!("{why} ({} items so far); dense results may be incomplete", status.vectors));
        }
        let fetch = plan.depth * 2;
        let neighbours = {
            let mut memo = query.neighbours.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match &*memo {
                Some((fetched, neighbours)) if *fetched >= fetch => neighbours.clone(),
                _ => {
                    let neighbours = dense.search(vector, fetch)?;
                    *memo = Some((fetch, neighbours.clone()));
                    neighbours
                }
            }
        };
        let ids: Vec<String> = neighbours.iter().map(|(id, _)| id.clone()).collect();
        let allowed = self.lexical.passing(&ids, lexical_query);
        let kept: Vec<(String, f32)> =
            neighbours.into_iter().filter(|(id, _)| allowed.contains(id)).take(plan.depth).collect();
        found.total = found.total.max(kept.len());
        found.lists.push((Retriever::Dense, kept));
        Ok(())
    }

    /// Stage 2: the lists fused into one ranking; feedback moves items within its bounds (an
    /// item without verdicts is not moved).
    fn fuse_with_feedback(
        &self,
        lists: &[(Retriever, Vec<(String, f32)>)],
        fusion: Fusion,
        terms: &[String],
    ) -> (Vec<Fused>, HashMap<String, FeedbackEffect>) {
        let mut fused = fuse(lists, fusion);
        let (weights, prior) = self.feedback();
        let effects = prior.effects(weights, terms, fused.iter().map(|f| (f.id.as_str(), f.score)));
        if !effects.is_empty() {
            for f in &mut fused {
                f.score += effects.get(&f.id).map_or(0.0, |e| e.boost);
            }
            fused.sort_by(|a, b| b.score.total_cmp(&a.score));
        }
        (fused, effects)
    }

    /// Stage 3: the page's hits with what explains them; the shown ones read back by id with
    /// snippets, the others from the filter table.
    fn present(
        &self,
        page: Vec<Fused>,
        plan: &Plan<'_>,
        query: &AnalysedQuery<'_>,
        shown: Shown,
        mut paths: BTreeMap<String, Vec<String>>,
        effects: &mut HashMap<String, FeedbackEffect>,
    ) -> Result<Vec<Hit>> {
        let ids: Vec<String> = page.iter().map(|f| f.id.clone()).collect();
        let full = match shown {
            Shown::All => ids.len(),
            Shown::First(n) => n.min(ids.len()),
        };
        let expansions = query.links.get().map(|(_, e)| e.clone()).unwrap_or_default();
        let lexical_query = query.lexical_query(plan, expansions);
        let late = Instant::now() >= plan.deadline;
        let mut read: HashMap<String, LexicalHit> = query
            .lexical
            .show(&ids[..full], &lexical_query, !late)?
            .into_iter()
            .chain(self.lexical.briefs(&ids[full..]))
            .map(|h| (h.id.clone(), h))
            .collect();
        Ok(page
            .into_iter()
            .enumerate()
            .filter_map(|(i, fused)| {
                let hit = read.remove(&fused.id)?;
                Some(Hit {
                    rank: plan.request.offset + i + 1,
                    score: fused.score,
                    explanation: Explanation {
                        matched_terms: hit.matched_terms,
                        lexical: fused.lexical,
                        semantic: fused.dense,
                        graph: fused.graph,
                        graph_path: paths.remove(&fused.id).unwrap_or_default(),
                        feedback: effects.remove(&fused.id),
                        fused_score: fused.score,
                    },
                    id: hit.id,
                    title: hit.title,
                    kind: hit.kind,
                    category: hit.category,
                    status: hit.status,
                    products: hit.products,
                    faults: hit.faults,
                    tags: hit.tags,
                    snippet: hit.snippet,
                })
            })
            .collect())
    }

    /// Lexical terms for the synonyms of the linked things (their other aliases and preferred
    /// labels), analysed like the query, without the query's own terms, at most
    /// [`graph::limits::MAX_SYNONYM_TERMS`], each weighted [`SYNONYM_WEIGHT`].
    fn synonym_terms(&self, linker: &graph::Linker, links: &[graph::Link], terms: &[String]) -> Vec<(String, f32)> {
        let mut out: Vec<(String, f32)> = Vec::new();
        for link in links {
            for synonym in linker.synonyms(link) {
                for term in self.analyzer.query_terms(synonym) {
                    if out.len() == graph::limits::MAX_SYNONYM_TERMS {
                        return out;
                    }
                    if !terms.contains(&term) && !out.iter().any(|(t, _)| *t == term) {
                        out.push((term, SYNONYM_WEIGHT));
                    }
                }
            }
        }
        out
    }
}

/// The graph expansion of `query` from its (non-empty) `links`, computed once for all of the
/// request's searches.
fn expansion_of<'q>(
    query: &'q AnalysedQuery<'_>,
    graph: &graph::Graph,
    links: &[graph::Link],
) -> Result<&'q graph::Expansion> {
    if let Some(expansion) = query.expansion.get() {
        return Ok(expansion);
    }
    let seeds = graph::Seed::from_links_in(graph, links)?;
    let expansion = graph::expand(graph, &seeds)?;
    Ok(query.expansion.get_or_init(|| expansion))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ahead() -> RankedAhead {
        RankedAhead {
            kinds: vec!["answer_standard".into(), "response_strategy".into()],
            expansions: vec![("告警".into(), 0.15)],
            limit: 3,
            ranked: lexical::Ranked {
                total: 7,
                partial: false,
                scored: vec![("a".into(), 3.0), ("b".into(), 2.0), ("c".into(), 1.0)],
            },
        }
    }

    fn asking(kinds: &[&str], limit: usize) -> LexicalQuery {
        LexicalQuery {
            terms: vec!["断链".into()],
            expansions: vec![("告警".into(), 0.15)],
            filters: BTreeMap::from([(lexical::FilterField::Kind, kinds.iter().map(|k| k.to_string()).collect())]),
            exclude_status: unpublished(),
            limit,
            ..LexicalQuery::default()
        }
    }

    #[test]
    fn a_ranking_made_ahead_serves_only_the_search_it_is_the_ranking_of() {
        let terms = vec!["断链".to_string()];
        // The same kinds in any order, as deep or shallower: the list cut, the count kept.
        let served = ahead().serves(&asking(&["response_strategy", "answer_standard"], 2), &terms).expect("served");
        assert_eq!((served.total, served.scored.len(), served.scored[0].0.as_str()), (7, 2, "a"));
        assert!(ahead().serves(&asking(&["answer_standard", "response_strategy"], 3), &terms).is_some());
        // Anything else runs its own ranking.
        assert!(ahead().serves(&asking(&["answer_standard", "response_strategy"], 4), &terms).is_none(), "deeper");
        assert!(ahead().serves(&asking(&["answer_standard"], 2), &terms).is_none(), "other kinds");
        assert!(ahead().serves(&asking(&["answer_standard", "response_strategy"], 2), &["别的".into()]).is_none());
        let mut other = asking(&["answer_standard", "response_strategy"], 2);
        other.expansions.clear();
        assert!(ahead().serves(&other, &terms).is_none(), "other synonyms");
        let mut filtered = asking(&["answer_standard", "response_strategy"], 2);
        filtered.filters.insert(lexical::FilterField::Product, vec!["p".into()]);
        assert!(ahead().serves(&filtered, &terms).is_none(), "another filter");
        let mut paged = asking(&["answer_standard", "response_strategy"], 2);
        paged.offset = 1;
        assert!(ahead().serves(&paged, &terms).is_none(), "a later page");
        let mut any_status = asking(&["answer_standard", "response_strategy"], 2);
        any_status.exclude_status.clear();
        assert!(ahead().serves(&any_status, &terms).is_none(), "another status rule");
    }
}
