//! `gridkb eval --match`: ticket matching end to end on the labelled ticket set.
//!
//! Each ticket goes through `Engine::match_ticket` as the agent's desk would send it (the text,
//! and, with `--with-customer`, the customer and device the ticket set records for it). Reported:
//! how often the predicted category is right (minor and major, and per gold category), how often
//! the chosen answer standard and response strategies are among the ticket's judged items, the
//! precision of the solutions and similar cases returned, and the time per match.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::bail;
use search::{Engine, TicketRequest};
use serde::Serialize;
use store::{ItemKind, Record};

use gridkb::eval::{Dataset, Query};
use gridkb::metrics::{MatchScores, MatchTally, Matched, TicketOutcome};

use crate::latency::Latencies;

/// The tallies of [`gridkb::metrics::MatchTally`] and the time per match.
#[derive(Debug, Serialize)]
pub struct MatchReport {
    #[serde(flatten)]
    pub scores: MatchScores,
    pub ms_p50: f64,
    pub ms_p99: f64,
}

pub fn run(engine: &Engine, dataset: &Dataset, with_customer: bool) -> anyhow::Result<MatchReport> {
    let queries: Vec<&Query> = dataset.queries.iter().filter(|q| dataset.qrels.contains_key(&q.id)).collect();
    if queries.is_empty() {
        bail!("no ticket of this split has judgements");
    }
    let mut tally = MatchTally::default();
    let mut times = Vec::with_capacity(queries.len());
    let mut kinds: HashMap<String, Option<ItemKind>> = HashMap::new();
    let bar = indicatif::ProgressBar::new(queries.len() as u64);
    for query in queries {
        let request = TicketRequest {
            text: query.text.clone(),
            customer_id: query.customer_id.clone().filter(|_| with_customer),
            device_serial: query.device_serial.clone().filter(|_| with_customer),
            ..TicketRequest::default()
        };
        let started = Instant::now();
        let matched = match engine.match_ticket(&request) {
            Ok(matched) => {
                times.push(started.elapsed());
                Some(matched)
            }
            // Nothing searchable in the ticket: a miss on every measure (`TicketOutcome::matched`).
            Err(search::Error::InvalidRequest { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let gold = &dataset.qrels[&query.id];
        let mut judged_kind = |kind: ItemKind| -> anyhow::Result<bool> {
            for (id, grade) in gold {
                if *grade > 0.0 && item_kind(engine, &mut kinds, id)? == Some(kind) {
                    return Ok(true);
                }
            }
            Ok(false)
        };
        let judged_answer_standard = judged_kind(ItemKind::AnswerStandard)?;
        let judged_strategy = judged_kind(ItemKind::ResponseStrategy)?;
        let answered = matched.as_ref().map(|m| Matched {
            minor: &m.category.minor,
            major: &m.category.major,
            answer_standard: m.answer_standard.as_ref().map(|a| a.id.as_str()),
            strategies: m.response_strategies.iter().map(|s| s.id.as_str()).collect(),
            solutions: m.solutions.iter().map(|h| h.id.as_str()).collect(),
            cases: m.similar_cases.iter().map(|h| h.id.as_str()).collect(),
        });
        let outcome = TicketOutcome {
            gold_minor: query.category.as_deref(),
            gold_major: query.major.as_deref(),
            judged_answer_standard,
            judged_strategy,
            matched: answered,
        };
        tally.add(&outcome, gold);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let times = Latencies::new(times);
    Ok(MatchReport { scores: tally.finish(), ms_p50: times.ms(0.5), ms_p99: times.ms(0.99) })
}

/// The kind of a judged item, looked up once.
fn item_kind(
    engine: &Engine,
    kinds: &mut HashMap<String, Option<ItemKind>>,
    id: &str,
) -> anyhow::Result<Option<ItemKind>> {
    if let Some(kind) = kinds.get(id) {
        return Ok(*kind);
    }
    let kind = match engine.store().get(id)?.map(|stored| stored.record) {
        Some(Record::Item(item)) => Some(item.kind),
        _ => None,
    };
    kinds.insert(id.to_string(), kind);
    Ok(kind)
}

pub fn print(report: &MatchReport) {
    let s = &report.scores;
    println!("ticket matching, {} tickets", s.tickets);
    println!("  category, minor (8-way) accuracy  {:.4}", s.minor_accuracy);
    println!("  category, major (4-way) accuracy  {:.4}", s.major_accuracy);
    println!(
        "  answer standard among judged      {:.4} (of {} tickets with one judged)",
        s.answer_standard_hit, s.tickets_with_answer_standard
    );
    println!(
        "  a response strategy among judged  {:.4} (of {} tickets with one judged)",
        s.strategy_hit, s.tickets_with_strategy
    );
    println!("  solutions precision               {:.4}", s.solutions_precision);
    println!("  similar cases precision           {:.4}", s.cases_precision);
    println!("  ms per match p50 / p99            {:.2} / {:.2}", report.ms_p50, report.ms_p99);
    println!();
    println!("{:<20} {:>8} {:>8} {:>10}", "gold category", "tickets", "recall", "precision");
    for (category, row) in &s.per_category {
        // A category no ticket was predicted as has no precision.
        let precision = row.precision.map_or_else(|| "-".to_owned(), |p| format!("{p:.4}"));
        println!("{category:<20} {:>8} {:>8.4} {precision:>10}", row.tickets, row.recall);
    }
}
