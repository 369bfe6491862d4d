//! Fusing ranked lists from several retrievers into one ranking.
//!
//! Two methods, both well known: reciprocal rank fusion (each list contributes
//! `weight / (k + rank)`), and a weighted sum of scores normalised per list to 0..1 (min–max
//! over the candidates of that list). Which one is the default is decided by `gridkb eval` on
//! the dev split of the ticket set, not here.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// RRF's rank constant when a request does not say (Elasticsearch's default too).
pub const DEFAULT_RRF_K: f32 = 60.0;
/// Candidates taken from each retriever before fusion.
pub const FUSION_DEPTH: usize = 100;

/// How ranked lists become one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fusion {
    /// Reciprocal rank fusion: Σ weight / (k + rank).
    Rrf {
        #[serde(default = "default_k")]
        k: f32,
    },
    /// Σ weight × (score − min) / (max − min) over each list's candidates.
    Weighted {
        #[serde(default = "one")]
        lexical: f32,
        #[serde(default = "one")]
        dense: f32,
        #[serde(default = "one")]
        graph: f32,
    },
}

fn default_k() -> f32 {
    DEFAULT_RRF_K
}

fn one() -> f32 {
    1.0
}

impl Default for Fusion {
    /// Chosen on the ticket dev split with m3e-small (README, Evaluation): nDCG@10 0.4415 against
    /// 0.4265 for equal lexical/dense weights, 0.4203 for the best RRF (k 10) and 0.4185 for BM25.
    fn default() -> Self {
        Fusion::Weighted { lexical: 1.0, dense: 0.5, graph: 0.5 }
    }
}

impl Fusion {
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Fusion::Rrf { k } if !(k.is_finite() && (0.0..=10_000.0).contains(&k)) => {
                Err("fusion.k must be between 0 and 10000".into())
            }
            Fusion::Weighted { lexical, dense, graph }
                if [lexical, dense, graph].iter().any(|w| !(w.is_finite() && (0.0..=100.0).contains(w))) =>
            {
                Err("fusion weights must be between 0 and 100".into())
            }
            _ => Ok(()),
        }
    }
}

/// Which retriever a list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Retriever {
    Lexical,
    Dense,
    Graph,
}

impl Retriever {
    pub const ALL: [Retriever; 3] = [Retriever::Lexical, Retriever::Dense, Retriever::Graph];

    pub fn name(self) -> &'static str {
        match self {
            Retriever::Lexical => "lexical",
            Retriever::Dense => "dense",
            Retriever::Graph => "graph",
        }
    }
}

/// Where one candidate stood in one retriever's list.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Standing {
    /// 1-based.
    pub rank: usize,
    pub score: f32,
}

/// One fused candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    pub id: String,
    pub score: f32,
    pub lexical: Option<Standing>,
    pub dense: Option<Standing>,
    pub graph: Option<Standing>,
}

impl Fused {
    fn standing_mut(&mut self, retriever: Retriever) -> &mut Option<Standing> {
        match retriever {
            Retriever::Lexical => &mut self.lexical,
            Retriever::Dense => &mut self.dense,
            Retriever::Graph => &mut self.graph,
        }
    }
}

/// Fuses lists of `(id, score)`, each best first, into one list sorted by fused score (ties by
/// best single rank, then id, so the order is deterministic).
pub fn fuse(lists: &[(Retriever, Vec<(String, f32)>)], fusion: Fusion) -> Vec<Fused> {
    let mut by_id: HashMap<&str, Fused> = HashMap::new();
    for (retriever, list) in lists {
        let (min, max) =
            list.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), (_, s)| (lo.min(*s), hi.max(*s)));
        for (i, (id, score)) in list.iter().enumerate() {
            let rank = i + 1;
            let contribution = match fusion {
                Fusion::Rrf { k } => 1.0 / (k + rank as f32),
                Fusion::Weighted { lexical, dense, graph } => {
                    let weight = match retriever {
                        Retriever::Lexical => lexical,
                        Retriever::Dense => dense,
                        Retriever::Graph => graph,
                    };
                    // A list whose scores are all equal gives each candidate full credit.
                    let normalised = if max > min { (score - min) / (max - min) } else { 1.0 };
                    weight * normalised
                }
            };
            let entry = by_id.entry(id.as_str()).or_insert_with(|| Fused {
                id: id.clone(),
                score: 0.0,
                lexical: None,
                dense: None,
                graph: None,
            });
            let standing = entry.standing_mut(*retriever);
            if standing.is_none() {
                *standing = Some(Standing { rank, score: *score });
                entry.score += contribution;
            }
        }
    }
    let mut fused: Vec<Fused> = by_id.into_values().collect();
    let best_rank =
        |f: &Fused| [f.lexical, f.dense, f.graph].iter().flatten().map(|s| s.rank).min().unwrap_or(usize::MAX);
    fused.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then_with(|| best_rank(a).cmp(&best_rank(b))).then_with(|| a.id.cmp(&b.id))
    });
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[(&str, f32)]) -> Vec<(String, f32)> {
        ids.iter().map(|(id, s)| (id.to_string(), *s)).collect()
    }

    #[test]
    fn rrf_rewards_agreement_between_lists() {
        let lists = [
            (Retriever::Lexical, list(&[("a", 9.0), ("b", 5.0), ("c", 1.0)])),
            (Retriever::Dense, list(&[("d", 0.9), ("b", 0.8), ("c", 0.7)])),
        ];
        let fused = fuse(&lists, Fusion::Rrf { k: 60.0 });
        let ids: Vec<&str> = fused.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "a", "d"]);
        let b = &fused[0];
        assert_eq!(b.lexical.map(|s| s.rank), Some(2));
        assert_eq!(b.dense.map(|s| s.rank), Some(2));
        assert!((b.score - 2.0 / 62.0).abs() < 1e-6);
    }

    #[test]
    fn weighted_fusion_normalises_each_list_and_applies_weights() {
        let lists = [
            (Retriever::Lexical, list(&[("a", 30.0), ("b", 20.0), ("c", 10.0)])),
            (Retriever::Dense, list(&[("c", 0.9), ("a", 0.7), ("b", 0.5)])),
        ];
        let fused = fuse(&lists, Fusion::Weighted { lexical: 1.0, dense: 1.0, graph: 1.0 });
        let score = |id: &str| fused.iter().find(|f| f.id == id).unwrap().score;
        assert!((score("a") - 1.5).abs() < 1e-6);
        assert!((score("b") - 0.5).abs() < 1e-6);
        assert!((score("c") - 1.0).abs() < 1e-6);
        let dense_only = fuse(&lists, Fusion::Weighted { lexical: 0.0, dense: 1.0, graph: 1.0 });
        assert_eq!(dense_only[0].id, "c");
    }

    #[test]
    fn a_duplicate_id_in_one_list_counts_once_and_bad_settings_are_refused() {
        let lists = [(Retriever::Graph, list(&[("a", 1.0), ("a", 1.0), ("b", 0.5)]))];
        let fused = fuse(&lists, Fusion::Rrf { k: 0.0 });
        assert!((fused[0].score - 1.0).abs() < 1e-6);
        assert!(Fusion::Rrf { k: f32::NAN }.validate().is_err());
        assert!(Fusion::Weighted { lexical: -1.0, dense: 1.0, graph: 1.0 }.validate().is_err());
        assert!(Fusion::default().validate().is_ok());
    }
}
