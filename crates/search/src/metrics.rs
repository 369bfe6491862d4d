//! The arithmetic of `gridkb eval` and `gridkb tune`: ranking metrics of one query (nDCG@k, reciprocal rank,
//! Recall@k), their means over a query set ([`Scores`]), and the tallies of ticket matching
//! ([`MatchTally`]) and of ticket dispatch ([`DispatchTally`]). Pure functions of rankings and judgements, no I/O, so that every number
//! the README reports can be checked against a hand computation (the tests below).
//!
//! Conventions — those of trec_eval and of BEIR's pytrec_eval, unless said otherwise:
//!
//! - **Grades.** A judgement is a number from the qrels (`query<TAB>doc<TAB>grade`): in the
//!   bundled ticket set 2 = solves it, 1 = relevant; any grade works (3, 2.5). A document is
//!   relevant when its grade is above 0; a grade of 0 or below, or no judgement, gains nothing.
//! - **nDCG@k.** The gain of a document is its grade (linear, as trec_eval's `ndcg_cut`), its
//!   discount `1 / log2(rank + 1)` with ranks from 1. The ideal ranking orders every judged grade
//!   best first and is cut at k too, so with more relevant documents than k only the k best
//!   count, and a ranking of k relevant documents in grade order scores 1.
//! - **Reciprocal rank@k.** `1 / rank` of the first relevant document within the first k, else 0.
//! - **Recall@k.** Relevant documents within the first k over all relevant documents, so a
//!   query with more relevant documents than k cannot reach 1.
//! - **Ties.** A ranking reaches the metrics as an ordered list of ids, without scores, so the
//!   metrics see no ties: the engine orders equal scores itself (by best rank, then id, in
//!   `search/src/fusion.rs`), which makes a ranking — and so a metric — reproducible.
//! - **Repeated ids.** A document counts once, at its first rank; a later copy takes up its rank
//!   and gains nothing. The engine returns no repeats; this keeps every metric within 0..=1
//!   whatever a ranking holds.
//! - **A query without a relevant document** has no nDCG or recall (both are 0/0). It is left
//!   out of the means and counted in [`Scores::no_relevant`], instead of being averaged in as 0
//!   (which would punish every method for the judgements' gap) or as 1.
//! - **Dispatch.** A ticket counts for the speciality when its gold products name a product
//!   line with a speciality, and for the station when its gold customer's region leads to a
//!   unit; it is right when the dispatched value is one of the gold ones. An unknown answer
//!   counts as wrong in the accuracy (right / gold tickets) and is left out of the precision
//!   (right / answered); the coverage is answered / gold tickets. Urgency has no gold.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use utoipa::ToSchema;

/// One query's judgements: document id → grade.
pub type Grades = HashMap<String, f64>;

/// Cut-off of MRR, nDCG and the first recall that `gridkb eval` reports.
pub const TOP: usize = 10;
/// Cut-off of the deep recall.
pub const DEEP: usize = 100;

/// The grade of `id`: its judgement, 0 without one, never below 0.
pub fn grade(gold: &Grades, id: &str) -> f64 {
    gold.get(id).copied().unwrap_or(0.0).max(0.0)
}

pub fn is_relevant(gold: &Grades, id: &str) -> bool {
    grade(gold, id) > 0.0
}

/// How many judged documents are relevant.
pub fn relevant_count(gold: &Grades) -> usize {
    gold.values().filter(|g| **g > 0.0).count()
}

/// The first `k` ranks of `ranked` (1-based) with the grade each earns: a repeated id earns 0.
fn earned<'a>(ranked: &'a [String], gold: &'a Grades, k: usize) -> impl Iterator<Item = (usize, f64)> + 'a {
    let mut seen = HashSet::new();
    ranked.iter().take(k).enumerate().map(move |(i, id)| {
        let first = seen.insert(id.as_str());
        (i + 1, if first { grade(gold, id) } else { 0.0 })
    })
}

/// The discount of a rank (1-based): `1 / log2(rank + 1)`.
fn discount(rank: usize) -> f64 {
    1.0 / (rank as f64 + 1.0).log2()
}

/// DCG of the first `k` ranks.
pub fn dcg_at(ranked: &[String], gold: &Grades, k: usize) -> f64 {
    earned(ranked, gold, k).map(|(rank, gain)| gain * discount(rank)).sum()
}

/// DCG of the best possible ranking, cut at `k`.
pub fn ideal_dcg_at(gold: &Grades, k: usize) -> f64 {
    let mut grades: Vec<f64> = gold.values().copied().filter(|g| *g > 0.0).collect();
    grades.sort_by(|a, b| b.total_cmp(a));
    grades.iter().take(k).enumerate().map(|(i, g)| g * discount(i + 1)).sum()
}

/// nDCG@k; `None` for a query without a relevant document.
pub fn ndcg_at(ranked: &[String], gold: &Grades, k: usize) -> Option<f64> {
    let ideal = ideal_dcg_at(gold, k);
    (ideal > 0.0).then(|| dcg_at(ranked, gold, k) / ideal)
}

/// `1 / rank` of the first relevant document within the first `k`, else 0; `None` for a query
/// without a relevant document.
pub fn reciprocal_rank_at(ranked: &[String], gold: &Grades, k: usize) -> Option<f64> {
    (relevant_count(gold) > 0)
        .then(|| earned(ranked, gold, k).find(|(_, gain)| *gain > 0.0).map_or(0.0, |(rank, _)| 1.0 / rank as f64))
}

/// Share of the relevant documents found within the first `k`; `None` for a query without a
/// relevant document.
pub fn recall_at(ranked: &[String], gold: &Grades, k: usize) -> Option<f64> {
    let relevant = relevant_count(gold);
    (relevant > 0).then(|| earned(ranked, gold, k).filter(|(_, gain)| *gain > 0.0).count() as f64 / relevant as f64)
}

/// Share of `shown` that is relevant, each id counted once; 0 when nothing is shown (returning
/// nothing is not rewarded).
pub fn precision(shown: &[&str], gold: &Grades) -> f64 {
    let distinct: HashSet<&str> = shown.iter().copied().collect();
    if distinct.is_empty() {
        return 0.0;
    }
    distinct.iter().filter(|id| is_relevant(gold, id)).count() as f64 / distinct.len() as f64
}

/// The four means reported per method: add every query, then [`Scores::finish`].
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct Scores {
    #[serde(rename = "mrr@10")]
    pub mrr10: f64,
    #[serde(rename = "ndcg@10")]
    pub ndcg10: f64,
    #[serde(rename = "recall@10")]
    pub recall10: f64,
    #[serde(rename = "recall@100")]
    pub recall100: f64,
    /// Queries measured.
    pub queries: usize,
    /// Queries left out because no judged document is relevant to them (see the module docs).
    #[serde(skip_serializing_if = "is_zero")]
    pub no_relevant: usize,
    /// Mean time per measured query, milliseconds.
    pub ms_per_query: f64,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Scores {
    /// Adds one query: its ranking (best first), its judgements and the time its search took.
    pub fn add(&mut self, ranked: &[String], gold: &Grades, ms: f64) {
        let (Some(mrr), Some(ndcg), Some(recall10), Some(recall100)) = (
            reciprocal_rank_at(ranked, gold, TOP),
            ndcg_at(ranked, gold, TOP),
            recall_at(ranked, gold, TOP),
            recall_at(ranked, gold, DEEP),
        ) else {
            self.no_relevant += 1;
            return;
        };
        self.mrr10 += mrr;
        self.ndcg10 += ndcg;
        self.recall10 += recall10;
        self.recall100 += recall100;
        self.queries += 1;
        self.ms_per_query += ms;
    }

    /// The means (0 when no query was measured).
    pub fn finish(mut self) -> Scores {
        let n = self.queries.max(1) as f64;
        self.mrr10 /= n;
        self.ndcg10 /= n;
        self.recall10 /= n;
        self.recall100 /= n;
        self.ms_per_query /= n;
        self
    }
}

/// What ticket matching answered for one ticket, as far as the tallies need it.
#[derive(Debug, Clone)]
pub struct Matched<'a> {
    /// The predicted categories.
    pub minor: &'a str,
    pub major: &'a str,
    /// The chosen answer standard, if any.
    pub answer_standard: Option<&'a str>,
    pub strategies: Vec<&'a str>,
    pub solutions: Vec<&'a str>,
    pub cases: Vec<&'a str>,
}

/// One labelled ticket and what matching it gave.
#[derive(Debug, Clone)]
pub struct TicketOutcome<'a> {
    /// The gold categories, when labelled.
    pub gold_minor: Option<&'a str>,
    pub gold_major: Option<&'a str>,
    /// Whether a judged-relevant item is an answer standard / a response strategy: only those
    /// tickets count in the answer-standard and strategy hit rates.
    pub judged_answer_standard: bool,
    pub judged_strategy: bool,
    /// `None` when the ticket was refused (nothing searchable in it): a miss on every measure
    /// it counts in.
    pub matched: Option<Matched<'a>>,
}

/// Ticket-matching figures: add every ticket, then [`MatchTally::finish`].
#[derive(Debug, Default)]
pub struct MatchTally {
    tickets: usize,
    with_minor: usize,
    minor_right: usize,
    with_major: usize,
    major_right: usize,
    /// Per gold minor category: (tickets, predicted right).
    gold: BTreeMap<String, (usize, usize)>,
    /// Per predicted minor category, over tickets with a gold one: (predictions, right).
    predicted: HashMap<String, (usize, usize)>,
    with_answer_standard: usize,
    answer_standard_hits: usize,
    with_strategy: usize,
    strategy_hits: usize,
    solutions_precision: f64,
    cases_precision: f64,
}

/// The figures of `gridkb eval --match`.
#[derive(Debug, Default, Serialize)]
pub struct MatchScores {
    pub tickets: usize,
    /// Share of the tickets with a gold minor (8-way) category that were predicted right.
    pub minor_accuracy: f64,
    /// Share of the tickets with a gold major (4-way) category that were predicted right.
    pub major_accuracy: f64,
    /// Per gold minor category: tickets, and the share predicted right (recall).
    pub per_category: BTreeMap<String, CategoryRow>,
    /// Of the tickets with a judged answer standard, the share whose chosen one is judged.
    pub answer_standard_hit: f64,
    pub tickets_with_answer_standard: usize,
    /// Of the tickets with a judged response strategy, the share with at least one returned
    /// strategy judged.
    pub strategy_hit: f64,
    pub tickets_with_strategy: usize,
    /// Mean over tickets of the share of returned solutions judged relevant ([`precision`]).
    pub solutions_precision: f64,
    /// Mean over tickets of the share of returned similar cases judged relevant.
    pub cases_precision: f64,
}

#[derive(Debug, Default, PartialEq, Serialize)]
pub struct CategoryRow {
    pub tickets: usize,
    pub recall: f64,
    /// Of the tickets predicted as this category, the share that belong to it; `None` when no
    /// ticket was.
    pub precision: Option<f64>,
}

/// `part / whole`, 0 for an empty whole.
fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

impl MatchTally {
    pub fn add(&mut self, outcome: &TicketOutcome<'_>, gold: &Grades) {
        self.tickets += 1;
        let matched = outcome.matched.as_ref();
        if let Some(minor) = outcome.gold_minor {
            let right = matched.is_some_and(|m| m.minor == minor);
            self.with_minor += 1;
            self.minor_right += usize::from(right);
            let row = self.gold.entry(minor.to_owned()).or_default();
            row.0 += 1;
            row.1 += usize::from(right);
            if let Some(m) = matched {
                let predicted = self.predicted.entry(m.minor.to_owned()).or_default();
                predicted.0 += 1;
                predicted.1 += usize::from(right);
            }
        }
        if let Some(major) = outcome.gold_major {
            self.with_major += 1;
            self.major_right += usize::from(matched.is_some_and(|m| m.major == major));
        }
        if outcome.judged_answer_standard {
            self.with_answer_standard += 1;
            let hit = matched.and_then(|m| m.answer_standard).is_some_and(|id| is_relevant(gold, id));
            self.answer_standard_hits += usize::from(hit);
        }
        if outcome.judged_strategy {
            self.with_strategy += 1;
            let hit = matched.is_some_and(|m| m.strategies.iter().any(|id| is_relevant(gold, id)));
            self.strategy_hits += usize::from(hit);
        }
        if let Some(m) = matched {
            self.solutions_precision += precision(&m.solutions, gold);
            self.cases_precision += precision(&m.cases, gold);
        }
    }

    pub fn finish(self) -> MatchScores {
        let per_category = self
            .gold
            .iter()
            .map(|(category, (tickets, right))| {
                let precision = self.predicted.get(category).map(|(all, right)| share(*right, *all));
                (category.clone(), CategoryRow { tickets: *tickets, recall: share(*right, *tickets), precision })
            })
            .collect();
        let mean = |sum: f64| if self.tickets == 0 { 0.0 } else { sum / self.tickets as f64 };
        MatchScores {
            tickets: self.tickets,
            minor_accuracy: share(self.minor_right, self.with_minor),
            major_accuracy: share(self.major_right, self.with_major),
            per_category,
            answer_standard_hit: share(self.answer_standard_hits, self.with_answer_standard),
            tickets_with_answer_standard: self.with_answer_standard,
            strategy_hit: share(self.strategy_hits, self.with_strategy),
            tickets_with_strategy: self.with_strategy,
            solutions_precision: mean(self.solutions_precision),
            cases_precision: mean(self.cases_precision),
        }
    }
}

/// What dispatch answered for one ticket, as far as the tallies need it.
#[derive(Debug, Clone)]
pub struct Dispatched<'a> {
    /// The speciality, `None` when unknown, and the rule that decided it.
    pub speciality: Option<&'a str>,
    pub speciality_rule: &'a str,
    /// The station's unit id, `None` when unknown, and its rule.
    pub station: Option<&'a str>,
    pub station_rule: &'a str,
    pub urgency: &'a str,
    pub urgency_rule: &'a str,
}

/// One labelled ticket's dispatch gold and what dispatch gave.
#[derive(Debug, Clone)]
pub struct DispatchOutcome<'a> {
    /// The specialities of the ticket's gold product lines; empty: not measured.
    pub gold_specialities: Vec<&'a str>,
    /// The unit serving the gold customer's region; `None`: not measured.
    pub gold_station: Option<&'a str>,
    /// `None` when the ticket was refused: wrong wherever it is measured.
    pub dispatched: Option<Dispatched<'a>>,
}

/// Dispatch figures: add every ticket, then [`DispatchTally::finish`].
#[derive(Debug, Default)]
pub struct DispatchTally {
    tickets: usize,
    speciality: Counts,
    station: Counts,
    /// Per rule: (tickets measured, right).
    speciality_rules: BTreeMap<String, (usize, usize)>,
    station_rules: BTreeMap<String, (usize, usize)>,
    urgency_levels: BTreeMap<String, usize>,
    urgency_rules: BTreeMap<String, usize>,
}

#[derive(Debug, Default)]
struct Counts {
    gold: usize,
    answered: usize,
    right: usize,
}

impl Counts {
    fn add(&mut self, answered: bool, right: bool) {
        self.gold += 1;
        self.answered += usize::from(answered);
        self.right += usize::from(right);
    }

    fn finish(&self) -> DispatchMeasure {
        DispatchMeasure {
            tickets: self.gold,
            answered: self.answered,
            right: self.right,
            accuracy: share(self.right, self.gold),
            coverage: share(self.answered, self.gold),
            precision: (self.answered > 0).then(|| share(self.right, self.answered)),
        }
    }
}

/// The figures of dispatch in `gridkb eval --match`.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct DispatchScores {
    pub tickets: usize,
    pub speciality: DispatchMeasure,
    pub station: DispatchMeasure,
    /// Per deciding rule: tickets measured and the share right.
    pub speciality_by_rule: BTreeMap<String, RuleRow>,
    pub station_by_rule: BTreeMap<String, RuleRow>,
    /// Not measured (no gold): how many tickets got each level, and each deciding rule.
    pub urgency_levels: BTreeMap<String, usize>,
    pub urgency_rules: BTreeMap<String, usize>,
}

#[derive(Debug, Default, PartialEq, Serialize)]
pub struct DispatchMeasure {
    /// Tickets with gold.
    pub tickets: usize,
    /// Of those, answered (not unknown) and right.
    pub answered: usize,
    pub right: usize,
    /// right / tickets: an unknown counts as wrong.
    pub accuracy: f64,
    /// answered / tickets.
    pub coverage: f64,
    /// right / answered; `None` when nothing was answered.
    pub precision: Option<f64>,
}

#[derive(Debug, Default, PartialEq, Serialize)]
pub struct RuleRow {
    pub tickets: usize,
    pub accuracy: f64,
}

impl DispatchTally {
    pub fn add(&mut self, outcome: &DispatchOutcome<'_>) {
        self.tickets += 1;
        let dispatched = outcome.dispatched.as_ref();
        if !outcome.gold_specialities.is_empty() {
            let value = dispatched.and_then(|d| d.speciality);
            let right = value.is_some_and(|v| outcome.gold_specialities.contains(&v));
            self.speciality.add(value.is_some(), right);
            if let Some(d) = dispatched {
                let row = self.speciality_rules.entry(d.speciality_rule.to_owned()).or_default();
                row.0 += 1;
                row.1 += usize::from(right);
            }
        }
        if let Some(gold) = outcome.gold_station {
            let value = dispatched.and_then(|d| d.station);
            let right = value == Some(gold);
            self.station.add(value.is_some(), right);
            if let Some(d) = dispatched {
                let row = self.station_rules.entry(d.station_rule.to_owned()).or_default();
                row.0 += 1;
                row.1 += usize::from(right);
            }
        }
        if let Some(d) = dispatched {
            *self.urgency_levels.entry(d.urgency.to_owned()).or_default() += 1;
            *self.urgency_rules.entry(d.urgency_rule.to_owned()).or_default() += 1;
        }
    }

    pub fn finish(self) -> DispatchScores {
        let rows = |rules: &BTreeMap<String, (usize, usize)>| {
            rules
                .iter()
                .map(|(rule, (tickets, right))| {
                    (rule.clone(), RuleRow { tickets: *tickets, accuracy: share(*right, *tickets) })
                })
                .collect()
        };
        DispatchScores {
            tickets: self.tickets,
            speciality: self.speciality.finish(),
            station: self.station.finish(),
            speciality_by_rule: rows(&self.speciality_rules),
            station_by_rule: rows(&self.station_rules),
            urgency_levels: self.urgency_levels,
            urgency_rules: self.urgency_rules,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranking(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    fn grades(pairs: &[(&str, f64)]) -> Grades {
        pairs.iter().map(|(id, g)| ((*id).to_owned(), *g)).collect()
    }

    fn close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
    }

    /// `1 / log2(rank + 1)` written out for the ranks the tests use.
    const D1: f64 = 1.0;
    const D2: f64 = 0.630_929_753_571_457_4; // 1 / log2(3)
    const D3: f64 = 0.5; // 1 / log2(4)
    const D4: f64 = 0.430_676_558_073_393; // 1 / log2(5)

    #[test]
    fn discounts_are_one_over_log2_of_rank_plus_one() {
        close(discount(1), D1);
        close(discount(2), D2);
        close(discount(3), D3);
        close(discount(4), D4);
    }

    #[test]
    fn graded_ndcg_uses_the_grade_as_gain() {
        // Grades 1, 2 and 3; the ranking puts the 1 first, a judged-nothing second, then the 2
        // and the 3. DCG = 1·D1 + 2·D3 + 3·D4; ideal = 3·D1 + 2·D2 + 1·D3.
        let gold = grades(&[("a", 2.0), ("b", 1.0), ("c", 3.0)]);
        let ranked = ranking(&["b", "x", "a", "c"]);
        close(dcg_at(&ranked, &gold, 10), 1.0 + 2.0 * 0.5 + 3.0 * D4);
        close(ideal_dcg_at(&gold, 10), 3.0 + 2.0 * D2 + 0.5);
        close(ndcg_at(&ranked, &gold, 10).unwrap(), 3.292_029_674_220_179 / 4.761_859_507_142_916);
        close(ndcg_at(&ranked, &gold, 10).unwrap(), 0.691_332_801_667_509_8);
        // The ideal order scores 1; grade order matters, not just relevance.
        close(ndcg_at(&ranking(&["c", "a", "b"]), &gold, 10).unwrap(), 1.0);
        assert!(ndcg_at(&ranking(&["b", "a", "c"]), &gold, 10).unwrap() < 1.0);
        // Relevance is any grade above 0: the first relevant document is at rank 1.
        close(reciprocal_rank_at(&ranked, &gold, 10).unwrap(), 1.0);
        close(recall_at(&ranked, &gold, 10).unwrap(), 1.0);
    }

    #[test]
    fn a_grade_of_zero_or_below_is_judged_not_relevant() {
        let gold = grades(&[("a", 0.0), ("b", 1.0), ("c", -1.0)]);
        let ranked = ranking(&["a", "c", "b"]);
        close(dcg_at(&ranked, &gold, 10), 1.0 * D3);
        close(ideal_dcg_at(&gold, 10), 1.0);
        close(ndcg_at(&ranked, &gold, 10).unwrap(), 0.5);
        close(reciprocal_rank_at(&ranked, &gold, 10).unwrap(), 1.0 / 3.0);
        close(recall_at(&ranked, &gold, 2).unwrap(), 0.0);
        assert_eq!(relevant_count(&gold), 1);
    }

    #[test]
    fn cut_offs_count_the_first_k_ranks_only() {
        let gold = grades(&[("r", 2.0)]);
        // The relevant document at rank 11.
        let mut ids: Vec<String> = (1..=10).map(|i| format!("n{i}")).collect();
        ids.push("r".into());
        assert_eq!(ndcg_at(&ids, &gold, 10), Some(0.0));
        assert_eq!(reciprocal_rank_at(&ids, &gold, 10), Some(0.0));
        assert_eq!(recall_at(&ids, &gold, 10), Some(0.0));
        assert_eq!(recall_at(&ids, &gold, 100), Some(1.0));
        close(ndcg_at(&ids, &gold, 11).unwrap(), 1.0 / 12f64.log2());
        close(reciprocal_rank_at(&ids, &gold, 11).unwrap(), 1.0 / 11.0);
        // A ranking shorter than k is just shorter.
        close(ndcg_at(&ranking(&["x", "r"]), &gold, 10).unwrap(), D2);
        assert_eq!(ndcg_at(&[], &gold, 10), Some(0.0));
    }

    #[test]
    fn mrr_is_one_over_the_rank_of_the_first_relevant_document() {
        let gold = grades(&[("a", 1.0), ("b", 2.0)]);
        close(reciprocal_rank_at(&ranking(&["x", "y", "b", "a"]), &gold, 10).unwrap(), 1.0 / 3.0);
        close(reciprocal_rank_at(&ranking(&["x", "y", "b", "a"]), &gold, 2).unwrap(), 0.0);
    }

    #[test]
    fn the_ideal_ranking_is_cut_at_k_when_more_documents_are_relevant() {
        // Twelve relevant documents of grade 1: the ideal DCG@10 counts ten of them, so ten of
        // them in any order score 1, and Recall@10 is 10/12.
        let gold: Grades = (1..=12).map(|i| (format!("r{i}"), 1.0)).collect();
        let ten: Vec<String> = (1..=10).map(|i| format!("r{i}")).collect();
        close(ideal_dcg_at(&gold, 10), 4.543_559_338_088_346);
        close(ndcg_at(&ten, &gold, 10).unwrap(), 1.0);
        close(recall_at(&ten, &gold, 10).unwrap(), 10.0 / 12.0);
        // Five of grade 2 and seven of grade 1: the ideal is the five 2s then five 1s; a ranking
        // of seven 1s then three 2s gets 5.4491… of 7.4920….
        let mut gold: Grades = (1..=5).map(|i| (format!("two{i}"), 2.0)).collect();
        gold.extend((1..=7).map(|i| (format!("one{i}"), 1.0)));
        let ranked: Vec<String> =
            (1..=7).map(|i| format!("one{i}")).chain((1..=3).map(|i| format!("two{i}"))).collect();
        close(ideal_dcg_at(&gold, 10), 7.492_018_456_967_738);
        close(dcg_at(&ranked, &gold, 10), 5.449_119_036_855_944);
        close(ndcg_at(&ranked, &gold, 10).unwrap(), 0.727_323_226_464_844_8);
    }

    #[test]
    fn a_repeated_id_counts_once_at_its_first_rank() {
        let gold = grades(&[("a", 1.0), ("b", 1.0)]);
        let ranked = ranking(&["a", "a", "a"]);
        // Counting every copy would give DCG 1 + D2 + D3 over an ideal 1 + D2: nDCG 1.31, and
        // Recall 3/2.
        close(dcg_at(&ranked, &gold, 10), 1.0);
        close(ndcg_at(&ranked, &gold, 10).unwrap(), 1.0 / (1.0 + D2));
        close(ndcg_at(&ranked, &gold, 10).unwrap(), 0.613_147_192_765_458_4);
        close(recall_at(&ranked, &gold, 10).unwrap(), 0.5);
        // The copies take up ranks: b after two copies of a is at rank 3.
        close(dcg_at(&ranking(&["a", "a", "b"]), &gold, 10), 1.0 + D3);
        close(reciprocal_rank_at(&ranking(&["x", "x", "a"]), &gold, 10).unwrap(), 1.0 / 3.0);
        close(precision(&["a", "a", "x"], &gold), 0.5);
    }

    #[test]
    fn a_query_without_a_relevant_document_is_left_out_and_counted() {
        for gold in [Grades::new(), grades(&[("a", 0.0)])] {
            let ranked = ranking(&["a", "b"]);
            assert_eq!(ndcg_at(&ranked, &gold, 10), None);
            assert_eq!(reciprocal_rank_at(&ranked, &gold, 10), None);
            assert_eq!(recall_at(&ranked, &gold, 10), None);
        }
        let mut scores = Scores::default();
        scores.add(&ranking(&["a"]), &grades(&[("a", 1.0)]), 4.0);
        scores.add(&ranking(&["a"]), &grades(&[("a", 0.0)]), 100.0);
        scores.add(&ranking(&["b"]), &Grades::new(), 100.0);
        let scores = scores.finish();
        assert_eq!((scores.queries, scores.no_relevant), (1, 2));
        close(scores.ndcg10, 1.0);
        close(scores.ms_per_query, 4.0);
        let json = serde_json::to_value(scores).unwrap();
        assert_eq!(json["no_relevant"], 2);
        assert!(serde_json::to_value(Scores::default()).unwrap().get("no_relevant").is_none());
    }

    #[test]
    fn scores_are_means_over_the_measured_queries() {
        let mut scores = Scores::default();
        // Query 1: relevant at ranks 1 and 3 of two relevant documents.
        let one = grades(&[("a", 1.0), ("b", 1.0)]);
        scores.add(&ranking(&["a", "x", "b"]), &one, 2.0);
        // Query 2: its one relevant document at rank 2 of 10, and nothing relevant in the top 10
        // of a second one judged at rank 50.
        let two = grades(&[("c", 2.0), ("d", 2.0)]);
        let mut ranked: Vec<String> = (1..=60).map(|i| format!("n{i}")).collect();
        ranked[1] = "c".into();
        ranked[49] = "d".into();
        scores.add(&ranked, &two, 6.0);
        let s = scores.finish();
        assert_eq!(s.queries, 2);
        close(s.mrr10, (1.0 + 0.5) / 2.0);
        close(s.ndcg10, ((1.0 + D3) / (1.0 + D2) + (2.0 * D2) / (2.0 + 2.0 * D2)) / 2.0);
        close(s.recall10, (1.0 + 0.5) / 2.0);
        close(s.recall100, 1.0);
        close(s.ms_per_query, 4.0);
        let json = serde_json::to_value(s).unwrap();
        for key in ["mrr@10", "ndcg@10", "recall@10", "recall@100", "queries", "ms_per_query"] {
            assert!(json.get(key).is_some(), "{key} missing from {json}");
        }
        // Nothing measured: zeros, not NaN.
        let empty = Scores::default().finish();
        assert_eq!((empty.ndcg10, empty.queries), (0.0, 0));
    }

    #[test]
    fn precision_of_nothing_shown_is_zero() {
        let gold = grades(&[("a", 1.0), ("b", 0.0)]);
        assert_eq!(precision(&[], &gold), 0.0);
        close(precision(&["a", "b", "c", "d"], &gold), 0.25);
    }

    fn answered<'a>(minor: &'a str, major: &'a str) -> Matched<'a> {
        Matched {
            minor,
            major,
            answer_standard: None,
            strategies: Vec::new(),
            solutions: Vec::new(),
            cases: Vec::new(),
        }
    }

    #[test]
    fn ticket_tallies_by_hand() {
        let gold = grades(&[("as-1", 2.0), ("rs-1", 1.0), ("sol-1", 2.0), ("case-1", 2.0), ("as-0", 0.0)]);
        let mut tally = MatchTally::default();
        // 1: right category, the judged answer standard, a judged strategy, 1 of 2 solutions,
        //    1 of 4 cases.
        tally.add(
            &TicketOutcome {
                gold_minor: Some("fault_repair"),
                gold_major: Some("fault_repair"),
                judged_answer_standard: true,
                judged_strategy: true,
                matched: Some(Matched {
                    answer_standard: Some("as-1"),
                    strategies: vec!["rs-9", "rs-1"],
                    solutions: vec!["sol-1", "sol-9"],
                    cases: vec!["case-1", "c2", "c3", "c4"],
                    ..answered("fault_repair", "fault_repair")
                }),
            },
            &gold,
        );
        // 2: a praise ticket predicted as a suggestion (same major), an answer standard judged 0.
        tally.add(
            &TicketOutcome {
                gold_minor: Some("praise"),
                gold_major: Some("feedback"),
                judged_answer_standard: true,
                judged_strategy: false,
                matched: Some(Matched { answer_standard: Some("as-0"), ..answered("suggestion", "feedback") }),
            },
            &gold,
        );
        // 3: a suggestion predicted right, nothing judged of guidance, nothing returned.
        tally.add(
            &TicketOutcome {
                gold_minor: Some("suggestion"),
                gold_major: Some("feedback"),
                judged_answer_standard: false,
                judged_strategy: false,
                matched: Some(answered("suggestion", "feedback")),
            },
            &gold,
        );
        // 4: a fault report refused (nothing searchable): a miss everywhere it counts.
        tally.add(
            &TicketOutcome {
                gold_minor: Some("fault_repair"),
                gold_major: Some("fault_repair"),
                judged_answer_standard: true,
                judged_strategy: true,
                matched: None,
            },
            &gold,
        );
        let s = tally.finish();
        assert_eq!(s.tickets, 4);
        close(s.minor_accuracy, 2.0 / 4.0);
        close(s.major_accuracy, 3.0 / 4.0);
        assert_eq!(s.tickets_with_answer_standard, 3);
        close(s.answer_standard_hit, 1.0 / 3.0);
        assert_eq!(s.tickets_with_strategy, 2);
        close(s.strategy_hit, 1.0 / 2.0);
        close(s.solutions_precision, 0.5 / 4.0);
        close(s.cases_precision, 0.25 / 4.0);
        assert_eq!(s.per_category["fault_repair"], CategoryRow { tickets: 2, recall: 0.5, precision: Some(1.0) });
        assert_eq!(s.per_category["suggestion"], CategoryRow { tickets: 1, recall: 1.0, precision: Some(0.5) });
        // Praise was never predicted: its precision is undefined, not 0.
        assert_eq!(s.per_category["praise"], CategoryRow { tickets: 1, recall: 0.0, precision: None });
    }

    #[test]
    fn accuracies_count_only_labelled_tickets() {
        let mut tally = MatchTally::default();
        let unlabelled = TicketOutcome {
            gold_minor: None,
            gold_major: None,
            judged_answer_standard: false,
            judged_strategy: false,
            matched: Some(answered("opinion", "feedback")),
        };
        tally.add(&unlabelled, &Grades::new());
        tally.add(
            &TicketOutcome { gold_minor: Some("opinion"), gold_major: Some("feedback"), ..unlabelled.clone() },
            &Grades::new(),
        );
        let s = tally.finish();
        assert_eq!(s.tickets, 2);
        close(s.minor_accuracy, 1.0);
        close(s.major_accuracy, 1.0);
        // Nothing at all: zeros, not NaN.
        let empty = MatchTally::default().finish();
        assert_eq!((empty.minor_accuracy, empty.answer_standard_hit, empty.cases_precision), (0.0, 0.0, 0.0));
    }

    fn dispatched<'a>(speciality: Option<&'a str>, station: Option<&'a str>) -> Dispatched<'a> {
        Dispatched {
            speciality,
            speciality_rule: if speciality.is_some() { "named_product" } else { "unknown" },
            station,
            station_rule: if station.is_some() { "region" } else { "unknown" },
            urgency: "normal",
            urgency_rule: "none",
        }
    }

    #[test]
    fn dispatch_tallies_by_hand() {
        let mut tally = DispatchTally::default();
        // 1: both right (the speciality is one of two gold ones).
        tally.add(&DispatchOutcome {
            gold_specialities: vec!["继电保护", "变电站自动化"],
            gold_station: Some("org-a"),
            dispatched: Some(dispatched(Some("变电站自动化"), Some("org-a"))),
        });
        // 2: a wrong speciality, an unknown station.
        tally.add(&DispatchOutcome {
            gold_specialities: vec!["计量"],
            gold_station: Some("org-b"),
            dispatched: Some(Dispatched {
                urgency: "urgent",
                urgency_rule: "safety",
                ..dispatched(Some("新能源"), None)
            }),
        });
        // 3: an unknown speciality, a wrong station.
        tally.add(&DispatchOutcome {
            gold_specialities: vec!["计量"],
            gold_station: Some("org-c"),
            dispatched: Some(dispatched(None, Some("org-a"))),
        });
        // 4: no gold speciality (not measured there), station right.
        tally.add(&DispatchOutcome {
            gold_specialities: vec![],
            gold_station: Some("org-d"),
            dispatched: Some(dispatched(Some("计量"), Some("org-d"))),
        });
        // 5: refused: wrong on both, no urgency.
        tally
            .add(&DispatchOutcome { gold_specialities: vec!["计量"], gold_station: Some("org-e"), dispatched: None });
        let s = tally.finish();
        assert_eq!(s.tickets, 5);
        // Speciality: gold on 1, 2, 3, 5; answered 1, 2; right 1.
        assert_eq!((s.speciality.tickets, s.speciality.answered, s.speciality.right), (4, 2, 1));
        close(s.speciality.accuracy, 1.0 / 4.0);
        close(s.speciality.coverage, 2.0 / 4.0);
        close(s.speciality.precision.expect("answered"), 1.0 / 2.0);
        // Station: gold on all 5; answered 1, 3, 4; right 1, 4.
        assert_eq!((s.station.tickets, s.station.answered, s.station.right), (5, 3, 2));
        close(s.station.accuracy, 2.0 / 5.0);
        close(s.station.coverage, 3.0 / 5.0);
        close(s.station.precision.expect("answered"), 2.0 / 3.0);
        // Per rule, over the measured tickets that were answered at all.
        assert_eq!(s.speciality_by_rule["named_product"], RuleRow { tickets: 2, accuracy: 0.5 });
        assert_eq!(s.speciality_by_rule["unknown"], RuleRow { tickets: 1, accuracy: 0.0 });
        assert_eq!(s.station_by_rule["region"], RuleRow { tickets: 3, accuracy: 2.0 / 3.0 });
        assert_eq!(s.urgency_levels["normal"], 3);
        assert_eq!(s.urgency_levels["urgent"], 1);
        assert_eq!(s.urgency_rules["safety"], 1);
        // Nothing answered: no precision, zeros elsewhere.
        let empty = DispatchTally::default().finish();
        assert_eq!((empty.speciality.precision, empty.station.accuracy), (None, 0.0));
    }
}
