//! `gridkb eval --match`: ticket matching end to end on the labelled ticket set.
//!
//! Each ticket goes through `Engine::match_ticket` as the agent's desk would send it (the text,
//! and, with `--with-customer`, the customer and device the ticket set records for it). Reported:
//! how often the predicted category is right (minor and major, and per gold category), how often
//! the chosen answer standard and response strategies are among the ticket's judged items, the
//! precision of the solutions and similar cases returned, and the time per match.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use anyhow::bail;
use search::{Engine, TicketRequest};
use serde::Serialize;
use store::{ItemKind, Record};

use crate::eval::{Dataset, Query};
use crate::latency::Latencies;

#[derive(Debug, Default, Serialize)]
pub struct MatchReport {
    pub tickets: usize,
    /// Share of tickets whose minor (8-way) category was predicted right.
    pub minor_accuracy: f64,
    /// Share of tickets whose major (4-way) category was predicted right.
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
    /// Mean share of returned solutions that are judged relevant.
    pub solutions_precision: f64,
    /// Mean share of returned similar cases that are judged relevant.
    pub cases_precision: f64,
    pub ms_p50: f64,
    pub ms_p99: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct CategoryRow {
    pub tickets: usize,
    pub recall: f64,
    /// Tickets of other categories predicted as this one, over all predictions of it.
    pub precision: f64,
}

pub fn run(engine: &Engine, dataset: &Dataset, with_customer: bool) -> anyhow::Result<MatchReport> {
    let queries: Vec<&Query> = dataset.queries.iter().filter(|q| dataset.qrels.contains_key(&q.id)).collect();
    if queries.is_empty() {
        bail!("no ticket of this split has judgements");
    }
    let mut report = MatchReport::default();
    let mut times = Vec::with_capacity(queries.len());
    let mut predicted_as: HashMap<String, (usize, usize)> = HashMap::new();
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
            Ok(matched) => matched,
            // Nothing searchable in the ticket: counted as a miss everywhere.
            Err(search::Error::InvalidRequest { .. }) => {
                report.tickets += 1;
                bar.inc(1);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        times.push(started.elapsed());
        let gold = &dataset.qrels[&query.id];
        let relevant = |id: &str| gold.get(id).is_some_and(|g| *g > 0.0);
        report.tickets += 1;
        if let Some(minor) = &query.category {
            let right = *minor == matched.category.minor;
            report.minor_accuracy += f64::from(u8::from(right));
            let row = report.per_category.entry(minor.clone()).or_default();
            row.tickets += 1;
            row.recall += f64::from(u8::from(right));
            let entry = predicted_as.entry(matched.category.minor.clone()).or_default();
            entry.0 += 1;
            entry.1 += usize::from(right);
        }
        if query.major.as_deref() == Some(matched.category.major.as_str()) {
            report.major_accuracy += 1.0;
        }
        let mut judged_kind = |kind: ItemKind| -> anyhow::Result<bool> {
            for (id, grade) in gold {
                if *grade > 0.0 && item_kind(engine, &mut kinds, id)? == Some(kind) {
                    return Ok(true);
                }
            }
            Ok(false)
        };
        if judged_kind(ItemKind::AnswerStandard)? {
            report.tickets_with_answer_standard += 1;
            if matched.answer_standard.as_ref().is_some_and(|a| relevant(&a.id)) {
                report.answer_standard_hit += 1.0;
            }
        }
        if judged_kind(ItemKind::ResponseStrategy)? {
            report.tickets_with_strategy += 1;
            if matched.response_strategies.iter().any(|s| relevant(&s.id)) {
                report.strategy_hit += 1.0;
            }
        }
        let precision = |ids: Vec<&str>| {
            if ids.is_empty() { 0.0 } else { ids.iter().filter(|id| relevant(id)).count() as f64 / ids.len() as f64 }
        };
        report.solutions_precision += precision(matched.solutions.iter().map(|h| h.id.as_str()).collect());
        report.cases_precision += precision(matched.similar_cases.iter().map(|h| h.id.as_str()).collect());
        bar.inc(1);
    }
    bar.finish_and_clear();
    let n = report.tickets.max(1) as f64;
    report.answer_standard_hit /= report.tickets_with_answer_standard.max(1) as f64;
    report.strategy_hit /= report.tickets_with_strategy.max(1) as f64;
    for value in [
        &mut report.minor_accuracy,
        &mut report.major_accuracy,
        &mut report.solutions_precision,
        &mut report.cases_precision,
    ] {
        *value /= n;
    }
    for (category, row) in &mut report.per_category {
        row.recall /= row.tickets.max(1) as f64;
        row.precision = predicted_as.get(category).map_or(0.0, |(all, right)| *right as f64 / (*all).max(1) as f64);
    }
    let times = Latencies::new(times);
    report.ms_p50 = times.ms(0.5);
    report.ms_p99 = times.ms(0.99);
    Ok(report)
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
    println!("ticket matching, {} tickets", report.tickets);
    println!("  category, minor (8-way) accuracy  {:.4}", report.minor_accuracy);
    println!("  category, major (4-way) accuracy  {:.4}", report.major_accuracy);
    println!(
        "  answer standard among judged      {:.4} (of {} tickets with one judged)",
        report.answer_standard_hit, report.tickets_with_answer_standard
    );
    println!(
        "  a response strategy among judged  {:.4} (of {} tickets with one judged)",
        report.strategy_hit, report.tickets_with_strategy
    );
    println!("  solutions precision               {:.4}", report.solutions_precision);
    println!("  similar cases precision           {:.4}", report.cases_precision);
    println!("  ms per match p50 / p99            {:.2} / {:.2}", report.ms_p50, report.ms_p99);
    println!();
    println!("{:<20} {:>8} {:>8} {:>10}", "gold category", "tickets", "recall", "precision");
    for (category, row) in &report.per_category {
        println!("{category:<20} {:>8} {:>8.4} {:>10.4}", row.tickets, row.recall, row.precision);
    }
}
