//! `gridkb eval corpus/tickets --feedback`: does agents' feedback help ranking, and by how much
//! may it move results? A simulation on the ticket set.
//!
//! Simulated agents search each ticket of half the dev split (dev-A) and mark what they see:
//! a gold item shown is marked `helpful` with probability 0.7 (the first gold item shown is
//! `solved` instead with probability 0.5); noise marks a shown non-gold item `helpful` (5%) and a
//! shown gold item `not_helpful` (5%); 5% of agents are adversarial and mark a non-gold item
//! `solved` and the gold ones `wrong`. The weights are chosen on the other half (dev-B) with the
//! dev-A verdicts; the test split is then measured with the verdicts of the whole dev split,
//! against no feedback. Fused lists are computed once per query (feedback off, 50 deep) and the
//! feedback terms applied to them as the engine does, so a grid of weights costs no searches.
//!
//! A new item must not be buried: for each test query, every gold item that has no verdict and
//! is in the top 10 without feedback is followed — how many leave the top 10 with feedback.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use search::feedback::{FeedbackPrior, FeedbackWeights};
use search::{Engine, SearchRequest};
use serde::Serialize;

use gridkb::eval;
use gridkb::metrics::Scores;

/// Results kept per query (the engine fuses at least this deep).
const DEPTH: usize = 50;
const SEED: u64 = 0x6772_6964_6b62;

/// A small deterministic generator (xorshift64*): the same seed gives the same simulation.
struct Rng(u64);

impl Rng {
    fn chance(&mut self, p: f64) -> bool {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((x >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// One query's baseline: its terms and its fused list without feedback.
struct Baseline {
    id: String,
    terms: Vec<String>,
    ranked: Vec<(String, f32)>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub dev_a_queries: usize,
    pub dev_b_queries: usize,
    pub test_queries: usize,
    /// Verdicts the simulated agents gave on dev-A, and on the whole dev split.
    pub verdicts_dev_a: usize,
    pub verdicts_dev: usize,
    /// nDCG@10 on dev-B for each (quality, solved) weight pair.
    pub grid: Vec<(f32, f32, f64)>,
    pub chosen: FeedbackWeights,
    pub test_without: Scores,
    pub test_with: Scores,
    /// Gold items without verdicts in a test query's top 10 without feedback ...
    pub unvoted_gold_in_top10: usize,
    /// ... of which feedback pushed out of the top 10.
    pub unvoted_gold_pushed_out: usize,
}

fn baselines(engine: &Engine, queries: &[eval::Query]) -> anyhow::Result<Vec<Baseline>> {
    let mut out = Vec::with_capacity(queries.len());
    for query in queries {
        let request = SearchRequest { q: query.text.clone(), limit: Some(DEPTH), ..SearchRequest::default() };
        let Ok(response) = engine.search(&request) else { continue };
        out.push(Baseline {
            id: query.id.clone(),
            terms: response.terms,
            ranked: response.hits.into_iter().map(|h| (h.id, h.score)).collect(),
        });
    }
    Ok(out)
}

/// The simulated agents' verdicts on `queries`.
fn simulate(
    queries: &[&Baseline],
    qrels: &HashMap<String, HashMap<String, f64>>,
    rng: &mut Rng,
) -> (FeedbackPrior, usize) {
    use journal::Verdict;
    let mut prior = FeedbackPrior::default();
    let mut given = 0;
    for query in queries {
        let gold = qrels.get(&query.id);
        let is_gold = |id: &str| gold.and_then(|g| g.get(id)).is_some_and(|g| *g > 0.0);
        let shown: Vec<&str> = query.ranked.iter().take(10).map(|(id, _)| id.as_str()).collect();
        let mut give = |item: &str, verdict: Verdict| {
            prior.add(item, verdict, Some(&query.terms));
            given += 1;
        };
        if rng.chance(0.05) {
            // An adversarial agent.
            if let Some(wrong) = shown.iter().find(|id| !is_gold(id)) {
                give(wrong, Verdict::Solved);
            }
            for id in shown.iter().filter(|id| is_gold(id)) {
                give(id, Verdict::Wrong);
            }
            continue;
        }
        let mut first_gold = true;
        for id in &shown {
            if is_gold(id) {
                if first_gold && rng.chance(0.5) {
                    give(id, Verdict::Solved);
                } else if rng.chance(0.7) {
                    give(id, Verdict::Helpful);
                } else if rng.chance(0.05) {
                    give(id, Verdict::NotHelpful);
                }
                first_gold = false;
            } else if rng.chance(0.05) {
                give(id, Verdict::Helpful);
            }
        }
    }
    (prior, given)
}

fn score(
    queries: &[&Baseline],
    qrels: &HashMap<String, HashMap<String, f64>>,
    prior: &FeedbackPrior,
    weights: FeedbackWeights,
) -> Scores {
    let mut scores = Scores::default();
    for query in queries {
        let mut ranked = query.ranked.clone();
        prior.apply(weights, &query.terms, &mut ranked);
        let ids: Vec<String> = ranked.into_iter().map(|(id, _)| id).collect();
        scores.add(&ids, qrels.get(&query.id).unwrap_or(&HashMap::new()), 0.0);
    }
    scores.finish()
}

pub fn run(engine: &Engine, tickets: &Path) -> anyhow::Result<Report> {
    let dev = eval::load(tickets, "dev")?;
    let test = eval::load(tickets, "test")?;
    engine.set_feedback_weights(FeedbackWeights::OFF);
    eprintln!("searching {} dev and {} test tickets once each ...", dev.queries.len(), test.queries.len());
    let dev_lists = baselines(engine, &dev.queries)?;
    let test_lists = baselines(engine, &test.queries)?;
    let dev_a: Vec<&Baseline> = dev_lists.iter().step_by(2).collect();
    let dev_b: Vec<&Baseline> = dev_lists.iter().skip(1).step_by(2).collect();
    let (prior_a, verdicts_dev_a) = simulate(&dev_a, &dev.qrels, &mut Rng(SEED));
    let mut grid = Vec::new();
    let mut chosen = (FeedbackWeights::OFF, f64::MIN);
    for quality in [0.0, 0.05, 0.1, 0.2, 0.3] {
        for solved in [0.0, 0.1, 0.2, 0.3, 0.5] {
            let weights = FeedbackWeights { quality, solved };
            let ndcg = score(&dev_b, &dev.qrels, &prior_a, weights).ndcg10;
            grid.push((quality, solved, ndcg));
            // Ties go to the smaller weights (the grid runs from small to large).
            if ndcg > chosen.1 + 1e-9 {
                chosen = (weights, ndcg);
            }
        }
    }
    let all_dev: Vec<&Baseline> = dev_lists.iter().collect();
    let (prior_dev, verdicts_dev) = simulate(&all_dev, &dev.qrels, &mut Rng(SEED ^ 1));
    let test_refs: Vec<&Baseline> = test_lists.iter().collect();
    let test_without = score(&test_refs, &test.qrels, &prior_dev, FeedbackWeights::OFF);
    let test_with = score(&test_refs, &test.qrels, &prior_dev, chosen.0);
    let (mut in_top, mut pushed) = (0, 0);
    for query in &test_refs {
        let gold = test.qrels.get(&query.id);
        let unvoted: HashSet<&str> = query
            .ranked
            .iter()
            .take(10)
            .map(|(id, _)| id.as_str())
            .filter(|id| gold.and_then(|g| g.get(*id)).is_some_and(|g| *g > 0.0))
            .filter(|id| prior_dev.verdicts(id) == 0)
            .collect();
        if unvoted.is_empty() {
            continue;
        }
        let mut ranked = query.ranked.clone();
        prior_dev.apply(chosen.0, &query.terms, &mut ranked);
        let top: HashSet<&str> = ranked.iter().take(10).map(|(id, _)| id.as_str()).collect();
        in_top += unvoted.len();
        pushed += unvoted.iter().filter(|id| !top.contains(*id)).count();
    }
    Ok(Report {
        dev_a_queries: dev_a.len(),
        dev_b_queries: dev_b.len(),
        test_queries: test_refs.len(),
        verdicts_dev_a,
        verdicts_dev,
        grid,
        chosen: chosen.0,
        test_without,
        test_with,
        unvoted_gold_in_top10: in_top,
        unvoted_gold_pushed_out: pushed,
    })
}

pub fn print(report: &Report) {
    println!(
        "simulated feedback: {} verdicts on {} dev-A tickets; weights chosen on {} dev-B tickets",
        report.verdicts_dev_a, report.dev_a_queries, report.dev_b_queries
    );
    println!("{:>8} {:>8} {:>9}", "quality", "solved", "nDCG@10");
    for (quality, solved, ndcg) in &report.grid {
        println!("{quality:>8.2} {solved:>8.2} {ndcg:>9.4}");
    }
    println!("chosen: quality {:.2}, solved {:.2}", report.chosen.quality, report.chosen.solved);
    println!("test ({} tickets, {} verdicts from the whole dev split):", report.test_queries, report.verdicts_dev);
    for (name, s) in [("without feedback", &report.test_without), ("with feedback", &report.test_with)] {
        println!("  {name:<17} nDCG@10 {:.4}  MRR@10 {:.4}  Recall@10 {:.4}", s.ndcg10, s.mrr10, s.recall10);
    }
    println!(
        "gold items without verdicts in a top 10: {}; pushed out of it by feedback: {}",
        report.unvoted_gold_in_top10, report.unvoted_gold_pushed_out
    );
}
