//! Tuning the fusion to one knowledge base (`gridkb tune`, `POST /v1/admin/tune`).
//!
//! An editor writes questions in the customers' words with the items that answer them (a labelled
//! set: question, expected item ids, optionally a category). Every candidate fusion — the one in
//! use, the default, the adaptive default with its knobs turned, fixed weights and RRF — ranks
//! every question (each question is analysed and embedded once, [`Engine::rank_each`]), and the
//! one with the best nDCG@10 is chosen, but only when it beats the one in use by at least
//! [`MIN_GAIN`]: on a few dozen questions a smaller difference is noise, and a knowledge base
//! should not flip its ranking on noise. The report gives every candidate's scores and the
//! per-category nDCG@10 before and after, so the editor sees what the change does and where.
//!
//! Measuring is exact and local: the expected ids are the judgements (grade 1 each), the metric
//! arithmetic is [`crate::metrics`]'s, the same as `gridkb eval`'s.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::metrics::{DEEP, Grades, Scores};
use crate::{Engine, Error, Fusion, Invalid, Result};

/// The least nDCG@10 gain over the fusion in use for which tuning changes it.
pub const MIN_GAIN: f64 = 0.005;

/// Expected ids not in the knowledge base that a report lists (it counts them all).
const LISTED_UNKNOWN: usize = 20;

/// One labelled question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelledQuestion {
    /// The question as a customer or agent would type it.
    pub question: String,
    /// Ids of the knowledge items that answer it, best first or in any order.
    pub expected: Vec<String>,
    /// A group to report it under (a service category, a product line, anything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// A fusion and what it scored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Measured {
    pub fusion: Fusion,
    pub scores: Scores,
}

/// nDCG@10 of one category with the fusion in use and with the chosen one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryChange {
    pub category: String,
    pub questions: usize,
    pub before: f64,
    pub after: f64,
}

/// What tuning found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TuneReport {
    /// Questions measured (those with at least one expected id in the knowledge base).
    pub questions: usize,
    /// The fusion in use and its scores.
    pub before: Measured,
    /// The fusion chosen: the one in use unless another beat it by `min_gain`.
    pub after: Measured,
    /// Whether the chosen fusion differs from the one in use.
    pub changed: bool,
    /// Whether the chosen fusion was saved and is now in use.
    pub applied: bool,
    pub min_gain: f64,
    /// Every candidate measured, best first.
    pub candidates: Vec<Measured>,
    /// Per category (questions without one are under `-`), in name order.
    pub per_category: Vec<CategoryChange>,
    /// Expected ids that name no item of the knowledge base (a typo, or a retired item), personal
    /// data in them masked, at most 20 listed; `unknown_count` counts them all.
    pub unknown_ids: Vec<String>,
    pub unknown_count: usize,
}

/// The fusions tuning measures besides the one in use: the default, the adaptive default with
/// one knob turned at a time, fixed weights and RRF.
pub fn candidates(current: Fusion) -> Vec<Fusion> {
    let mut out = vec![current, Fusion::default()];
    let [(_, lexical), (_, dense), (_, graph)] = Fusion::default().base_weights();
    let adaptive = |dense: f32, graph: f32, short_dense: f32, lexical_confidence: f32| Fusion::Adaptive {
        lexical,
        dense,
        graph,
        short_chars: 30.0,
        short_dense,
        lexical_confidence,
    };
    for dense_weight in [0.3, dense, 1.0] {
        for graph_weight in [graph, 0.5] {
            for (short_dense, lexical_confidence) in [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (1.5, 1.0), (1.0, 2.0)] {
                out.push(adaptive(dense_weight, graph_weight, short_dense, lexical_confidence));
            }
        }
    }
    for (lexical, dense, graph) in [(1.0, 1.0, 0.5), (0.5, 1.0, 0.5), (1.0, 0.0, 0.5), (1.0, 0.5, 0.0)] {
        out.push(Fusion::Weighted { lexical, dense, graph });
    }
    for k in [10.0, 60.0] {
        out.push(Fusion::Rrf { k });
    }
    let mut distinct: Vec<Fusion> = Vec::with_capacity(out.len());
    for fusion in out {
        if !distinct.contains(&fusion) {
            distinct.push(fusion);
        }
    }
    distinct
}

/// Checks a labelled set against the limits: 1 to `max_tune_questions` questions, each with
/// words and at most `max_query_chars` characters, and 1 to `max_limit` expected ids.
pub fn validate(questions: &[LabelledQuestion], limits: &crate::Limits) -> Result<()> {
    if questions.is_empty() {
        return Err(Error::invalid(Invalid::Parameter, "the labelled set has no questions"));
    }
    if questions.len() > limits.max_tune_questions {
        return Err(Error::invalid(
            Invalid::Parameter,
            format!(
                "the labelled set has {} questions; at most {} are measured at once (limit max_tune_questions)",
                questions.len(),
                limits.max_tune_questions
            ),
        ));
    }
    for (i, q) in questions.iter().enumerate() {
        let n = i + 1;
        if q.question.trim().is_empty() {
            return Err(Error::invalid(Invalid::EmptyQuery, format!("question {n} is empty")));
        }
        if q.question.chars().count() > limits.max_query_chars {
            return Err(Error::invalid(
                Invalid::QueryTooLong,
                format!("question {n} is longer than {} characters (limit max_query_chars)", limits.max_query_chars),
            ));
        }
        if q.expected.iter().all(|id| id.trim().is_empty()) {
            return Err(Error::invalid(Invalid::Parameter, format!("question {n} names no expected item id")));
        }
        if q.expected.len() > limits.max_limit {
            return Err(Error::invalid(
                Invalid::Parameter,
                format!("question {n} names more than {} expected ids (limit max_limit)", limits.max_limit),
            ));
        }
    }
    Ok(())
}

/// Measures every candidate on `questions` and chooses (see the module docs); with `apply`, a
/// changed choice is saved in the data directory and used from then on.
pub fn tune(engine: &Engine, questions: &[LabelledQuestion], apply: bool) -> Result<TuneReport> {
    validate(questions, engine.limits())?;
    let current = engine.fusion();
    let fusions = candidates(current);
    let settings: Vec<(Option<crate::Retriever>, Option<Fusion>)> = fusions.iter().map(|f| (None, Some(*f))).collect();

    // Judgements: the expected ids the knowledge base has.
    let mut unknown: Vec<String> = Vec::new();
    let mut judged: Vec<(&LabelledQuestion, Grades)> = Vec::new();
    for q in questions {
        let mut gold = Grades::new();
        for id in q.expected.iter().map(|id| id.trim()).filter(|id| !id.is_empty()) {
            if engine.has_item(id)? {
                gold.insert(id.to_owned(), 1.0);
            } else {
                // An editor types these: personal data in one is listed masked.
                let shown = analysis::mask(id).text;
                if !unknown.contains(&shown) {
                    unknown.push(shown);
                }
            }
        }
        if !gold.is_empty() {
            judged.push((q, gold));
        }
    }
    if judged.is_empty() {
        return Err(Error::invalid(
            Invalid::Parameter,
            "no expected id of the labelled set names an item of this knowledge base",
        ));
    }

    let mut totals: Vec<Scores> = vec![Scores::default(); fusions.len()];
    // Per candidate, per category.
    let mut by_category: Vec<BTreeMap<String, Scores>> = vec![BTreeMap::new(); fusions.len()];
    for (q, gold) in &judged {
        let category = q.category.clone().filter(|c| !c.trim().is_empty()).unwrap_or_else(|| "-".to_owned());
        for (i, ranked) in engine.rank_each(&q.question, &settings, DEEP).into_iter().enumerate() {
            let (hits, ms) = ranked?;
            let ids: Vec<String> = hits.into_iter().map(|h| h.id).collect();
            totals[i].add(&ids, gold, ms);
            by_category[i].entry(category.clone()).or_default().add(&ids, gold, ms);
        }
    }
    let measured: Vec<Measured> = fusions
        .iter()
        .zip(&totals)
        .map(|(fusion, scores)| Measured { fusion: *fusion, scores: scores.finish() })
        .collect();
    let before = measured[0].clone();
    let best = (0..measured.len())
        .max_by(|a, b| measured[*a].scores.ndcg10.total_cmp(&measured[*b].scores.ndcg10).then(b.cmp(a)))
        .unwrap_or(0);
    let chosen = if measured[best].scores.ndcg10 >= before.scores.ndcg10 + MIN_GAIN { best } else { 0 };
    let changed = chosen != 0;
    let applied = changed && apply;
    if applied {
        engine.set_fusion(fusions[chosen])?;
    }
    let categories: HashMap<&String, &Scores> = by_category[chosen].iter().collect();
    let per_category = by_category[0]
        .iter()
        .map(|(category, scores)| {
            let before = scores.finish();
            let after = categories.get(category).map_or(before, |s| s.finish());
            CategoryChange {
                category: category.clone(),
                questions: before.queries,
                before: before.ndcg10,
                after: after.ndcg10,
            }
        })
        .collect();
    let mut candidates = measured.clone();
    candidates.sort_by(|a, b| b.scores.ndcg10.total_cmp(&a.scores.ndcg10));
    let unknown_count = unknown.len();
    unknown.truncate(LISTED_UNKNOWN);
    Ok(TuneReport {
        questions: judged.len(),
        before,
        after: measured[chosen].clone(),
        changed,
        applied,
        min_gain: MIN_GAIN,
        candidates,
        per_category,
        unknown_ids: unknown,
        unknown_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(text: &str, expected: &[&str]) -> LabelledQuestion {
        LabelledQuestion {
            question: text.to_owned(),
            expected: expected.iter().map(|s| (*s).to_owned()).collect(),
            category: None,
        }
    }

    #[test]
    fn candidates_start_with_the_fusion_in_use_and_repeat_none() {
        let current = Fusion::Weighted { lexical: 1.0, dense: 0.2, graph: 0.7 };
        let list = candidates(current);
        assert_eq!(list[0], current);
        assert_eq!(list[1], Fusion::default());
        for (i, a) in list.iter().enumerate() {
            assert!(a.validate().is_ok(), "{a:?}");
            assert!(!list[i + 1..].contains(a), "{a:?} twice");
        }
        // The default in use is not measured twice.
        assert_eq!(candidates(Fusion::default()).iter().filter(|f| **f == Fusion::default()).count(), 1);
    }

    #[test]
    fn a_labelled_set_is_checked_against_the_limits() {
        let limits = crate::Limits { max_tune_questions: 2, max_query_chars: 10, max_limit: 2, ..Default::default() };
        assert!(validate(&[question("差动保护动作", &["a"])], &limits).is_ok());
        let refused = [
            (vec![], "no questions"),
            (vec![question("a", &["x"]); 3], "max_tune_questions"),
            (vec![question("  ", &["x"])], "question 1 is empty"),
            (vec![question("一二三四五六七八九十十一", &["x"])], "max_query_chars"),
            (vec![question("差动", &["a"]), question("差动", &[" "])], "question 2 names no expected"),
            (vec![question("差动", &["a", "b", "c"])], "max_limit"),
        ];
        for (set, wanted) in refused {
            let message = validate(&set, &limits).expect_err(wanted).to_string();
            assert!(message.contains(wanted), "{wanted}: {message}");
        }
    }
}
