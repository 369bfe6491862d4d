//! Fusing ranked lists from several retrievers into one ranking.
//!
//! Three methods: reciprocal rank fusion (each list contributes `weight / (k + rank)`), a
//! weighted sum of scores normalised per list to 0..1 (min–max over the candidates of that
//! list), and the default, an adaptive weighted sum whose dense weight is chosen per query from
//! what the query and the lexical list say ([`Fusion::Adaptive`]). Which one is the default is
//! decided by `gridkb eval` on the dev splits of the ticket set and of the real-language
//! questions (README, Evaluation), not here.

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
    /// Weighted, with the dense weight chosen per query: a short query (few words, little for
    /// BM25 to go on) raises it, a confident lexical list (its first score far above its tenth)
    /// lowers it:
    ///
    /// `dense' = (dense + short_dense × max(0, short_chars − chars) / short_chars)
    ///           / (1 + lexical_confidence × (s₁ − s₁₀) / s₁)`
    ///
    /// with `chars` the masked query's length and `s₁`, `s₁₀` the first and tenth (or last)
    /// BM25 scores. A response names the weights a query got as `weighted`.
    Adaptive {
        #[serde(default = "one")]
        lexical: f32,
        #[serde(default = "default_adaptive_dense")]
        dense: f32,
        #[serde(default = "default_adaptive_graph")]
        graph: f32,
        /// Queries shorter than this many characters get more dense weight.
        #[serde(default = "default_short_chars")]
        short_chars: f32,
        /// Dense weight added at length 0, falling linearly to nothing at `short_chars`.
        #[serde(default = "one")]
        short_dense: f32,
        /// How much a confident lexical list lowers the dense weight.
        #[serde(default = "one")]
        lexical_confidence: f32,
    },
}

fn default_adaptive_dense() -> f32 {
    0.5
}

fn default_adaptive_graph() -> f32 {
    0.25
}

fn default_short_chars() -> f32 {
    30.0
}

fn default_k() -> f32 {
    DEFAULT_RRF_K
}

fn one() -> f32 {
    1.0
}

impl Default for Fusion {
    /// Chosen on the dev splits of the ticket set and of the real-language questions with
    /// m3e-small (README, Evaluation): nDCG@10 0.4607 / 0.3265 against 0.4532 / 0.3142 for the
    /// fixed weights 1 / 0.5 / 0.5 that were the default before.
    fn default() -> Self {
        Fusion::Adaptive {
            lexical: 1.0,
            dense: default_adaptive_dense(),
            graph: default_adaptive_graph(),
            short_chars: default_short_chars(),
            short_dense: 1.0,
            lexical_confidence: 1.0,
        }
    }
}

/// The depth at which the lexical list's confidence is read ([`Fusion::Adaptive`]).
const CONFIDENCE_RANK: usize = 10;

impl Fusion {
    pub fn validate(&self) -> Result<(), String> {
        let weight = |w: f32| w.is_finite() && (0.0..=100.0).contains(&w);
        match *self {
            Fusion::Rrf { k } if !(k.is_finite() && (0.0..=10_000.0).contains(&k)) => {
                Err("fusion.k must be between 0 and 10000".into())
            }
            Fusion::Rrf { .. } => Ok(()),
            Fusion::Weighted { lexical, dense, graph } if ![lexical, dense, graph].into_iter().all(weight) => {
                Err("fusion weights must be between 0 and 100".into())
            }
            Fusion::Weighted { .. } => Ok(()),
            Fusion::Adaptive { lexical, dense, graph, short_chars, short_dense, lexical_confidence } => {
                if ![lexical, dense, graph, short_dense, lexical_confidence].into_iter().all(weight) {
                    Err("fusion weights (lexical, dense, graph, short_dense, lexical_confidence) must be between 0 and 100"
                        .into())
                } else if !(short_chars.is_finite() && (0.0..=10_000.0).contains(&short_chars)) {
                    Err("fusion.short_chars must be between 0 and 10000".into())
                } else {
                    Ok(())
                }
            }
        }
    }

    /// The fusion one query is ranked with: an adaptive fusion becomes the weighted sum with
    /// this query's weights (`query_chars`: the masked query's length; `lists`: the candidates,
    /// raw scores, best first); the others stay as they are.
    pub fn resolve(self, query_chars: usize, lists: &[(Retriever, Vec<(String, f32)>)]) -> Fusion {
        let Fusion::Adaptive { lexical, dense, graph, short_chars, short_dense, lexical_confidence } = self else {
            return self;
        };
        let short = if short_chars > 0.0 { ((short_chars - query_chars as f32) / short_chars).max(0.0) } else { 0.0 };
        let spread = lists
            .iter()
            .find(|(r, _)| *r == Retriever::Lexical)
            .and_then(|(_, list)| {
                let first = list.first()?.1;
                let tenth = list.get(CONFIDENCE_RANK - 1).or(list.last())?.1;
                (first > 0.0 && first.is_finite() && tenth.is_finite())
                    .then(|| ((first - tenth) / first).clamp(0.0, 1.0))
            })
            .unwrap_or(0.0);
        Fusion::Weighted { lexical, dense: (dense + short_dense * short) / (1.0 + lexical_confidence * spread), graph }
    }

    /// The weight of each retriever's list before any per-query choice (an adaptive fusion's
    /// base weights; RRF weighs every list 1).
    pub fn base_weights(self) -> [(Retriever, f32); 3] {
        let (lexical, dense, graph) = match self {
            Fusion::Rrf { .. } => (1.0, 1.0, 1.0),
            Fusion::Weighted { lexical, dense, graph } | Fusion::Adaptive { lexical, dense, graph, .. } => {
                (lexical, dense, graph)
            }
        };
        [(Retriever::Lexical, lexical), (Retriever::Dense, dense), (Retriever::Graph, graph)]
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
/// best single rank, then id, so the order is deterministic). An adaptive fusion is resolved for
/// a query of unknown length first (call [`Fusion::resolve`] with the query to choose).
pub fn fuse(lists: &[(Retriever, Vec<(String, f32)>)], fusion: Fusion) -> Vec<Fused> {
    let fusion = fusion.resolve(usize::MAX, lists);
    let mut by_id: HashMap<&str, Fused> = HashMap::new();
    for (retriever, list) in lists {
        let weight = fusion.base_weights().into_iter().find(|(r, _)| r == retriever).map_or(0.0, |(_, w)| w);
        let (min, max) =
            list.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), (_, s)| (lo.min(*s), hi.max(*s)));
        for (i, (id, score)) in list.iter().enumerate() {
            let rank = i + 1;
            let contribution = match fusion {
                Fusion::Rrf { k } => 1.0 / (k + rank as f32),
                Fusion::Weighted { .. } | Fusion::Adaptive { .. } => {
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

    fn adaptive() -> Fusion {
        Fusion::Adaptive {
            lexical: 1.0,
            dense: 0.5,
            graph: 0.25,
            short_chars: 30.0,
            short_dense: 1.0,
            lexical_confidence: 1.0,
        }
    }

    fn dense_weight(fusion: Fusion) -> f32 {
        match fusion {
            Fusion::Weighted { dense, .. } => dense,
            other => panic!("not resolved: {other:?}"),
        }
    }

    #[test]
    fn adaptive_fusion_weighs_dense_by_query_length_and_lexical_confidence() {
        // A flat lexical list (s1 = s10) says nothing: only the length counts.
        let flat: Vec<(String, f32)> = (0..10).map(|i| (format!("d{i}"), 5.0)).collect();
        let lists = [(Retriever::Lexical, flat)];
        // 30 characters or more: the base weight; 0 characters: base + short_dense.
        assert!((dense_weight(adaptive().resolve(30, &lists)) - 0.5).abs() < 1e-6);
        assert!((dense_weight(adaptive().resolve(300, &lists)) - 0.5).abs() < 1e-6);
        assert!((dense_weight(adaptive().resolve(0, &lists)) - 1.5).abs() < 1e-6);
        // 12 characters: 0.5 + 1 × 18/30 = 1.1.
        assert!((dense_weight(adaptive().resolve(12, &lists)) - 1.1).abs() < 1e-6);
        // s1 = 10, s10 = 4: spread 0.6, so the weight is divided by 1.6.
        let steep: Vec<(String, f32)> = (0..12)
            .map(|i| {
                (
                    format!("d{i}"),
                    if i == 0 {
                        10.0
                    } else if i < 9 {
                        6.0
                    } else {
                        4.0
                    },
                )
            })
            .collect();
        let lists = [(Retriever::Lexical, steep)];
        assert!((dense_weight(adaptive().resolve(12, &lists)) - 1.1 / 1.6).abs() < 1e-6);
        // Fewer than ten candidates: the last one stands in for the tenth.
        let short_list = [(Retriever::Lexical, list(&[("a", 8.0), ("b", 2.0)]))];
        assert!((dense_weight(adaptive().resolve(30, &short_list)) - 0.5 / 1.75).abs() < 1e-6);
        // No lexical list: no confidence to read.
        assert!((dense_weight(adaptive().resolve(30, &[])) - 0.5).abs() < 1e-6);
        // The other weights and the other methods are left alone.
        let Fusion::Weighted { lexical, graph, .. } = adaptive().resolve(12, &lists) else { unreachable!() };
        assert_eq!((lexical, graph), (1.0, 0.25));
        assert_eq!(Fusion::Rrf { k: 10.0 }.resolve(3, &lists), Fusion::Rrf { k: 10.0 });
    }

    #[test]
    fn a_short_query_lets_dense_decide_where_a_long_one_does_not() {
        // Lexical prefers a, dense prefers b strongly.
        let lists = [
            (Retriever::Lexical, list(&[("a", 10.0), ("b", 6.0), ("c", 0.0)])),
            (Retriever::Dense, list(&[("b", 0.9), ("c", 0.5), ("a", 0.2)])),
        ];
        let ids = |chars| fuse(&lists, adaptive().resolve(chars, &lists)).into_iter().map(|f| f.id).collect::<Vec<_>>();
        assert_eq!(ids(60)[0], "a");
        assert_eq!(ids(4)[0], "b");
    }

    #[test]
    fn adaptive_settings_are_checked_and_read_with_defaults() {
        let with = |short_chars: f32, short_dense: f32, lexical_confidence: f32| Fusion::Adaptive {
            lexical: 1.0,
            dense: 0.5,
            graph: 0.25,
            short_chars,
            short_dense,
            lexical_confidence,
        };
        assert!(with(30.0, 1.0, 1.0).validate().is_ok());
        for fusion in [with(-1.0, 1.0, 1.0), with(30.0, f32::INFINITY, 1.0), with(30.0, 1.0, 101.0)] {
            assert!(fusion.validate().is_err(), "{fusion:?}");
        }
        let read: Fusion = serde_json::from_str(r#"{"method": "adaptive"}"#).expect("defaults");
        assert_eq!(read, Fusion::default());
        let read: Fusion = serde_json::from_str(r#"{"method": "adaptive", "short_chars": 0}"#).expect("zero");
        assert!(read.validate().is_ok());
        assert!(serde_json::from_str::<Fusion>(r#"{"method": "adaptive", "k": 3}"#).is_err(), "unknown field");
    }
}
