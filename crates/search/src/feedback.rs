//! Feedback in ranking: what agents said about items moves them, within bounds.
//!
//! Two terms are added to an item's fused score, each a share of the best fused score of the
//! query (so they mean the same under weighted fusion, whose best score is 1, and under RRF):
//!
//! - **quality**: `(q − ½) × 2 × quality_weight`, where `q = (positive + ½·k) / (verdicts + k)` is
//!   the item's helpful-or-solved rate smoothed towards ½ by `k` pseudo-verdicts. An item with no
//!   verdict gets exactly 0: a new item is never pushed down for being new; the most any item
//!   can move is `quality_weight` either way.
//! - **solved here before**: `solved_weight × s`, where `s` is the largest Jaccard similarity
//!   (≥ [`SOLVED_SIMILARITY`]) between the query's terms and the terms of an earlier query for
//!   which an agent marked this item `solved` (`helpful` counts half).
//!
//! The prior is rebuilt from the request log whenever feedback is recorded; the weights come
//! from the simulation in `gridkb eval --feedback` (see `limits.rs`).

use std::collections::{BTreeSet, HashMap};

use journal::{Snapshot, Verdict};
use serde::{Deserialize, Serialize};

/// Pseudo-verdicts that pull a rate towards ½: one helpful vote moves an item a fifth of the way.
pub const PSEUDO_VERDICTS: f32 = 4.0;
/// An earlier query counts as the same question from this Jaccard similarity of terms.
pub const SOLVED_SIMILARITY: f32 = 0.5;

/// The weights in force unless configured, chosen by `gridkb eval corpus/tickets --feedback
/// --no-dense` (simulated agents, see `eval_feedback.rs`): the best nDCG@10 on dev-B (0.4418
/// against 0.4387 without feedback) of a 5 × 5 grid. On the test split, with the verdicts of the
/// whole dev split: nDCG@10 0.4246 → 0.4277, MRR@10 0.5659 → 0.5721, Recall@10 0.2156 → 0.2188;
/// of 3,073 gold items without verdicts in a top 10, 114 were pushed out of it.
pub const DEFAULT_WEIGHTS: FeedbackWeights = FeedbackWeights { quality: 0.1, solved: 0.5 };

/// How much feedback may move a result; both 0 switches feedback off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackWeights {
    /// Largest move from an item's helpful rate, as a share of the query's best fused score.
    pub quality: f32,
    /// Largest move from an earlier, similar query the item solved.
    pub solved: f32,
}

impl FeedbackWeights {
    pub const OFF: FeedbackWeights = FeedbackWeights { quality: 0.0, solved: 0.0 };

    pub fn is_off(&self) -> bool {
        self.quality <= 0.0 && self.solved <= 0.0
    }
}

/// What feedback did to one hit (in its explanation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FeedbackEffect {
    /// The smoothed helpful rate mapped to −1..1 (0 without verdicts).
    pub quality: f32,
    /// Verdicts on the item.
    pub verdicts: u32,
    /// Similarity of this query to an earlier one the item solved (0 if none).
    pub solved_similarity: f32,
    /// What was added to the fused score.
    pub boost: f32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Votes {
    positive: u32,
    negative: u32,
}

#[derive(Debug, Clone)]
struct Solved {
    terms: BTreeSet<String>,
    item: String,
    /// 1 for `solved`, ½ for `helpful`.
    strength: f32,
}

/// Verdicts gathered from the request log, ready to rank with.
#[derive(Debug, Clone, Default)]
pub struct FeedbackPrior {
    votes: HashMap<String, Votes>,
    solved: Vec<Solved>,
    /// term → indexes into `solved`.
    by_term: HashMap<String, Vec<usize>>,
}

impl FeedbackPrior {
    /// The prior of every verdict on an item in `snapshot`.
    pub fn from_snapshot(snapshot: &Snapshot) -> FeedbackPrior {
        let mut prior = FeedbackPrior::default();
        for feedback in snapshot.feedback() {
            let Some(item) = &feedback.item_id else { continue };
            let terms = snapshot.request_terms(&feedback.request_id);
            prior.add(item, feedback.verdict, terms);
        }
        prior
    }

    /// Adds one verdict on `item`, given for a query of `terms`.
    pub fn add(&mut self, item: &str, verdict: Verdict, terms: Option<&[String]>) {
        let votes = self.votes.entry(item.to_string()).or_default();
        if verdict.is_positive() {
            votes.positive += 1;
        } else {
            votes.negative += 1;
        }
        let strength = match verdict {
            Verdict::Solved => 1.0,
            Verdict::Helpful => 0.5,
            Verdict::NotHelpful | Verdict::Wrong | Verdict::Outdated => return,
        };
        let Some(terms) = terms.filter(|t| !t.is_empty()) else { return };
        let index = self.solved.len();
        let terms: BTreeSet<String> = terms.iter().cloned().collect();
        for term in &terms {
            self.by_term.entry(term.clone()).or_default().push(index);
        }
        self.solved.push(Solved { terms, item: item.to_string(), strength });
    }

    /// Verdicts on `item`.
    pub fn verdicts(&self, item: &str) -> u32 {
        self.votes.get(item).map_or(0, |v| v.positive + v.negative)
    }

    pub fn is_empty(&self) -> bool {
        self.votes.is_empty()
    }

    /// The item's smoothed helpful rate mapped to −1..1, and its verdicts.
    fn quality(&self, item: &str) -> (f32, u32) {
        let votes = self.votes.get(item).copied().unwrap_or_default();
        let all = (votes.positive + votes.negative) as f32;
        let rate = (votes.positive as f32 + 0.5 * PSEUDO_VERDICTS) / (all + PSEUDO_VERDICTS);
        ((rate - 0.5) * 2.0, votes.positive + votes.negative)
    }

    /// For each item solved for a query like `terms`: the best similarity × strength.
    fn solved_for(&self, terms: &[String]) -> HashMap<&str, f32> {
        let query: BTreeSet<&str> = terms.iter().map(String::as_str).collect();
        let candidates: BTreeSet<usize> = terms.iter().filter_map(|t| self.by_term.get(t)).flatten().copied().collect();
        let mut best: HashMap<&str, f32> = HashMap::new();
        for i in candidates {
            let solved = &self.solved[i];
            let shared = solved.terms.iter().filter(|t| query.contains(t.as_str())).count();
            let similarity = shared as f32 / (solved.terms.len() + query.len() - shared) as f32;
            if similarity >= SOLVED_SIMILARITY {
                let entry = best.entry(solved.item.as_str()).or_default();
                *entry = entry.max(similarity * solved.strength);
            }
        }
        best
    }

    /// What feedback adds to each of `scored` (id, fused score) for a query of `terms`; items
    /// it does not move are left out.
    pub fn effects<'a>(
        &self,
        weights: FeedbackWeights,
        terms: &[String],
        scored: impl IntoIterator<Item = (&'a str, f32)> + Clone,
    ) -> HashMap<String, FeedbackEffect> {
        let mut effects = HashMap::new();
        if weights.is_off() || self.is_empty() {
            return effects;
        }
        let top = scored.clone().into_iter().map(|(_, s)| s).fold(0.0f32, f32::max);
        let solved = self.solved_for(terms);
        for (id, _) in scored {
            let (quality, verdicts) = self.quality(id);
            let solved_similarity = solved.get(id).copied().unwrap_or(0.0);
            if verdicts == 0 && solved_similarity == 0.0 {
                continue;
            }
            let boost = top * (weights.quality * quality + weights.solved * solved_similarity);
            effects.insert(id.to_string(), FeedbackEffect { quality, verdicts, solved_similarity, boost });
        }
        effects
    }

    /// Adds the feedback terms to `scored` and re-sorts it (ties keep their order).
    pub fn apply(
        &self,
        weights: FeedbackWeights,
        terms: &[String],
        scored: &mut [(String, f32)],
    ) -> HashMap<String, FeedbackEffect> {
        let effects = self.effects(weights, terms, scored.iter().map(|(id, s)| (id.as_str(), *s)));
        for (id, score) in scored.iter_mut() {
            *score += effects.get(id.as_str()).map_or(0.0, |e| e.boost);
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const WEIGHTS: FeedbackWeights = FeedbackWeights { quality: 0.2, solved: 0.3 };

    #[test]
    fn an_item_without_verdicts_is_not_moved_and_moves_are_bounded() {
        let mut prior = FeedbackPrior::default();
        for _ in 0..1000 {
            prior.add("kb-good", Verdict::Helpful, None);
            prior.add("kb-bad", Verdict::Wrong, None);
        }
        let mut scored = vec![("kb-new".to_string(), 0.9), ("kb-good".to_string(), 0.5), ("kb-bad".to_string(), 1.0)];
        let effects = prior.apply(WEIGHTS, &terms(&["通道"]), &mut scored);
        assert!(!effects.contains_key("kb-new"));
        let score = |id: &str| scored.iter().find(|(i, _)| i == id).unwrap().1;
        assert_eq!(score("kb-new"), 0.9, "no verdict, no move");
        // A thousand votes move an item by less than the quality weight × the best score.
        assert!(score("kb-good") < 0.5 + 0.2 * 1.0 + 1e-6 && score("kb-good") > 0.69, "{scored:?}");
        assert!(score("kb-bad") > 1.0 - 0.2 - 1e-6 && score("kb-bad") < 0.81, "{scored:?}");
        assert_eq!(scored[0].0, "kb-new", "the unvoted item is now first: {scored:?}");
    }

    #[test]
    fn one_vote_moves_little_and_the_solved_boost_needs_a_similar_query() {
        let mut prior = FeedbackPrior::default();
        prior.add("kb-a", Verdict::Solved, Some(&terms(&["931", "通道", "告警"])));
        let (quality, verdicts) = prior.quality("kb-a");
        assert_eq!(verdicts, 1);
        assert!((quality - 0.2).abs() < 1e-6, "one of five: {quality}");
        let similar = prior.solved_for(&terms(&["931", "通道", "告警", "处理"]));
        assert!((similar["kb-a"] - 0.75).abs() < 1e-6);
        assert!(prior.solved_for(&terms(&["充电桩", "告警"])).is_empty(), "one shared word is another question");
        let mut scored = vec![("kb-b".to_string(), 1.0), ("kb-a".to_string(), 0.8)];
        prior.apply(WEIGHTS, &terms(&["931", "通道", "告警", "处理"]), &mut scored);
        assert_eq!(scored[0].0, "kb-a", "{scored:?}");
        let mut off = vec![("kb-b".to_string(), 1.0), ("kb-a".to_string(), 0.8)];
        assert!(prior.apply(FeedbackWeights::OFF, &terms(&["931", "通道", "告警"]), &mut off).is_empty());
        assert_eq!(off[0].0, "kb-b");
    }
}
