//! `gridkb eval --match`: ticket matching end to end on the labelled ticket set.
//!
//! Each ticket goes through `Engine::match_ticket` as the agent's desk would send it (the text,
//! and, with `--with-customer`, the customer and device the ticket set records for it). Reported:
//! how often the predicted category is right (minor and major, and per gold category), how often
//! the chosen answer standard and response strategies are among the ticket's judged items, the
//! precision of the solutions and similar cases returned, and the time per match.
//!
//! Dispatch (`search::dispatch`) is measured where the corpus gives its gold: the speciality of
//! the ticket's gold product lines (`attrs.speciality`; a model counts by its line), and the
//! organisation unit whose region is the gold customer's region (walking up the region when no
//! unit has it, as dispatch does). Urgency has no gold in the ticket set: its levels and deciding
//! rules are counted, not scored.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use anyhow::bail;
use search::{Engine, TicketRequest};
use serde::Serialize;
use store::{Entity, EntityClass, ItemKind, Record};

use gridkb::eval::{Dataset, Query};
use gridkb::metrics::{
    DispatchOutcome, DispatchScores, DispatchTally, Dispatched, MatchScores, MatchTally, Matched, TicketOutcome,
};

use crate::latency::Latencies;

/// The tallies of [`gridkb::metrics::MatchTally`] and the time per match.
#[derive(Debug, Serialize)]
pub struct MatchReport {
    #[serde(flatten)]
    pub scores: MatchScores,
    pub dispatch: DispatchScores,
    pub ms_p50: f64,
    pub ms_p99: f64,
}

pub fn run(engine: &Engine, dataset: &Dataset, with_customer: bool) -> anyhow::Result<MatchReport> {
    let queries: Vec<&Query> = dataset.queries.iter().filter(|q| dataset.qrels.contains_key(&q.id)).collect();
    if queries.is_empty() {
        bail!("no ticket of this split has judgements");
    }
    let mut tally = MatchTally::default();
    let mut dispatch_tally = DispatchTally::default();
    let gold_dispatch = DispatchGold::read(engine)?;
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
        // A ticket the category model learned from does not vote for itself (leave-one-out).
        let matched = match engine.match_ticket_leaving_out(&request, &query.id) {
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
        let gold_specialities = gold_dispatch.specialities(&query.products);
        let gold_station = query.customer_id.as_deref().and_then(|c| gold_dispatch.station(c));
        let dispatched = matched.as_ref().and_then(|m| m.dispatch.as_ref()).map(|d| Dispatched {
            speciality: d.speciality.value.as_deref(),
            speciality_rule: d.speciality.rule.code(),
            station: d.station.unit.as_ref().map(|u| u.id.as_str()),
            station_rule: d.station.rule.code(),
            urgency: d.urgency.level.code(),
            urgency_rule: d.urgency.rule.code(),
        });
        dispatch_tally.add(&DispatchOutcome {
            gold_specialities: gold_specialities.iter().map(String::as_str).collect(),
            gold_station: gold_station.as_deref(),
            dispatched,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let times = Latencies::new(times);
    Ok(MatchReport {
        scores: tally.finish(),
        dispatch: dispatch_tally.finish(),
        ms_p50: times.ms(0.5),
        ms_p99: times.ms(0.99),
    })
}

/// The dispatch gold the corpus gives: each product line's speciality, each model's line, each
/// customer's region and each region's organisation unit, read once from the store.
struct DispatchGold {
    line_speciality: HashMap<String, String>,
    model_line: HashMap<String, String>,
    customer_region: HashMap<String, String>,
    region_unit: BTreeMap<String, String>,
}

impl DispatchGold {
    fn read(engine: &Engine) -> anyhow::Result<DispatchGold> {
        let mut gold = DispatchGold {
            line_speciality: HashMap::new(),
            model_line: HashMap::new(),
            customer_region: HashMap::new(),
            region_unit: BTreeMap::new(),
        };
        let text = |entity: &Entity, name: &str| entity.attrs.get(name).and_then(|v| v.as_str()).map(str::to_string);
        engine.store().for_each(|stored| {
            let Record::Entity(entity) = &stored.record else { return Ok(()) };
            match entity.class {
                EntityClass::ProductLine => {
                    if let Some(speciality) = text(entity, "speciality") {
                        gold.line_speciality.insert(entity.id.clone(), speciality);
                    }
                }
                EntityClass::ProductModel => {
                    if let Some(line) = entity.links.get("line").and_then(|l| l.first()) {
                        gold.model_line.insert(entity.id.clone(), line.clone());
                    }
                }
                EntityClass::Customer => {
                    if let Some(region) = text(entity, "region") {
                        gold.customer_region.insert(entity.id.clone(), region);
                    }
                }
                EntityClass::Organisation => {
                    if let Some(region) = text(entity, "region") {
                        // The first unit by id, as dispatch picks among units of one region.
                        gold.region_unit.entry(region).or_insert_with(|| entity.id.clone());
                    }
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(gold)
    }

    /// The specialities of the gold products' lines, each once; empty when none is known.
    fn specialities(&self, products: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for product in products {
            let line = self.model_line.get(product).unwrap_or(product);
            if let Some(speciality) = self.line_speciality.get(line)
                && !out.contains(speciality)
            {
                out.push(speciality.clone());
            }
        }
        out
    }

    /// The unit of the customer's region, or of the nearest region above it.
    fn station(&self, customer: &str) -> Option<String> {
        let region = self.customer_region.get(customer)?;
        search::dispatch::region_chain(region).iter().find_map(|r| self.region_unit.get(r).cloned())
    }
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
    let d = &report.dispatch;
    println!("dispatch");
    for (name, measure, rules) in
        [("speciality", &d.speciality, &d.speciality_by_rule), ("station", &d.station, &d.station_by_rule)]
    {
        let precision = measure.precision.map_or_else(|| "-".to_owned(), |p| format!("{p:.4}"));
        println!(
            "  {name:<10} accuracy {:.4}  coverage {:.4}  precision {precision}  ({} of {} tickets with gold)",
            measure.accuracy, measure.coverage, measure.right, measure.tickets
        );
        for (rule, row) in rules {
            println!("    by rule {rule:<18} {:>5} tickets  accuracy {:.4}", row.tickets, row.accuracy);
        }
    }
    let levels: Vec<String> = d.urgency_levels.iter().map(|(l, n)| format!("{l} {n}")).collect();
    let rules: Vec<String> = d.urgency_rules.iter().map(|(r, n)| format!("{r} {n}")).collect();
    println!("  urgency    not measured (no gold); levels: {}", levels.join(", "));
    println!("             deciding rules: {}", rules.join(", "));
    println!();
    println!("{:<20} {:>8} {:>8} {:>10}", "gold category", "tickets", "recall", "precision");
    for (category, row) in &s.per_category {
        // A category no ticket was predicted as has no precision.
        let precision = row.precision.map_or_else(|| "-".to_owned(), |p| format!("{p:.4}"));
        println!("{category:<20} {:>8} {:>8.4} {precision:>10}", row.tickets, row.recall);
    }
}
