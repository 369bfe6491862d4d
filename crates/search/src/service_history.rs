//! The service history managers watch: every solved case (a `Case` entity: date, product model,
//! fault, customer, device, organisation, region) as an occurrence of a fault, plus each
//! customer's region and organisation, so that matched tickets from the request log can be
//! placed beside the cases. Read from the store once and kept until the store changes.
//!
//! From these, [`recurring_faults`]: the same fault on the same product model at least N times in
//! a window, with where (region, organisation) and whom (devices, customers) it hit.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use store::{EntityClass, Record};

use crate::{Engine, Result};

/// Where an occurrence was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A solved case on record.
    Case,
    /// A ticket matched by `/v1/tickets/match` (from the request log).
    Ticket,
}

/// One fault on one product model on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    /// Days since 1970-01-01.
    pub day: i64,
    pub fault: String,
    pub model: String,
    pub region: Option<String>,
    pub org: Option<String>,
    pub customer: Option<String>,
    pub device: Option<String>,
    pub source: Source,
    /// The case's service category (`quality_complaint` is a complaint on record).
    pub category: Option<String>,
    /// Hours until supply or service was restored, as the case records it.
    pub hours_to_restore: Option<f64>,
}

/// A customer's place: region and organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub region: Option<String>,
    pub org: Option<String>,
}

/// What the store says about one customer, for the portraits (`portraits.rs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerFacts {
    pub label: String,
    /// The record's `type` attribute (医院, 数据中心, 供电企业, ...).
    pub kind: Option<String>,
    /// The tags on the customer record now (confirmed ones included).
    pub tags: Vec<String>,
    /// Devices on record that belong to the customer, and those of them at a substation
    /// (`变电站` in the device's site).
    pub devices: u64,
    pub substation_devices: u64,
}

/// Cases and customers as read at one store sequence number.
#[derive(Debug, Default)]
pub struct ServiceHistory {
    seq: u64,
    pub cases: Vec<Occurrence>,
    pub customers: HashMap<String, Place>,
    pub customer_facts: HashMap<String, CustomerFacts>,
    /// Labels of the entities cases name (faults, models, orgs, customers), for reports.
    pub labels: HashMap<String, String>,
}

/// The engine's cached history.
#[derive(Debug, Default)]
pub(crate) struct HistoryCache(Mutex<Option<Arc<ServiceHistory>>>);

fn first_link(entity: &store::Entity, relation: &str) -> Option<String> {
    entity.links.get(relation).and_then(|ids| ids.first()).cloned()
}

fn attr(entity: &store::Entity, name: &str) -> Option<String> {
    entity.attrs.get(name).and_then(|v| v.as_str()).map(str::to_string)
}

impl Engine {
    /// The service history at the store's current sequence number (read again after a change).
    pub fn service_history(&self) -> Result<Arc<ServiceHistory>> {
        let seq = self.store().last_seq()?;
        let mut cached = self.history_cache().0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(history) = cached.as_ref().filter(|h| h.seq == seq) {
            return Ok(Arc::clone(history));
        }
        let mut history = ServiceHistory { seq, ..ServiceHistory::default() };
        self.store().for_each(|stored| {
            let Record::Entity(entity) = stored.record else { return Ok(()) };
            match entity.class {
                EntityClass::Case => {
                    let day =
                        attr(&entity, "date").and_then(|d| calendar::Date::parse(&d).ok()).map(calendar::Date::days);
                    if let (Some(day), Some(fault), Some(model)) =
                        (day, first_link(&entity, "fault"), first_link(&entity, "model"))
                    {
                        history.cases.push(Occurrence {
                            day,
                            fault,
                            model,
                            region: attr(&entity, "region"),
                            org: first_link(&entity, "org"),
                            customer: first_link(&entity, "customer"),
                            device: first_link(&entity, "device"),
                            source: Source::Case,
                            category: attr(&entity, "category"),
                            hours_to_restore: entity.attrs.get("hours_to_restore").and_then(|v| v.as_f64()),
                        });
                    }
                }
                EntityClass::Customer => {
                    let place = Place { region: attr(&entity, "region"), org: first_link(&entity, "org") };
                    history.customers.insert(entity.id.clone(), place);
                    let facts = history.customer_facts.entry(entity.id.clone()).or_default();
                    facts.label = entity.label.clone();
                    facts.kind = attr(&entity, "type");
                    facts.tags = entity
                        .attrs
                        .get("tags")
                        .and_then(|v| v.as_array())
                        .map(|list| list.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    history.labels.insert(entity.id, entity.label);
                }
                EntityClass::Device => {
                    if let Some(customer) = first_link(&entity, "customer") {
                        let facts = history.customer_facts.entry(customer).or_default();
                        facts.devices += 1;
                        if attr(&entity, "site").is_some_and(|site| site.contains("变电站")) {
                            facts.substation_devices += 1;
                        }
                    }
                    history.labels.insert(entity.id, entity.label);
                }
                EntityClass::Fault
                | EntityClass::ProductModel
                | EntityClass::Organisation
                | EntityClass::ProductLine => {
                    history.labels.insert(entity.id, entity.label);
                }
                _ => {}
            }
            Ok(())
        })?;
        history.cases.sort_by_key(|o| o.day);
        let history = Arc::new(history);
        *cached = Some(Arc::clone(&history));
        Ok(history)
    }
}

/// An entity id with its label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
pub struct Labelled {
    pub id: String,
    pub label: String,
}

/// A fault that keeps coming back on one product model.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RecurringFault {
    pub fault: Labelled,
    pub model: Labelled,
    pub count: u64,
    pub cases: u64,
    pub tickets: u64,
    /// Occurrences per region and per organisation.
    pub by_region: BTreeMap<String, u64>,
    pub by_org: BTreeMap<String, u64>,
    /// The devices and customers involved (at most 20 each, most frequent first).
    pub devices: Vec<Labelled>,
    pub customers: Vec<Labelled>,
    /// First and last day seen, `YYYY-MM-DD`.
    pub first_seen: String,
    pub last_seen: String,
}

const INVOLVED: usize = 20;

/// Faults seen at least `min_count` times on one model between `from_day` and `to_day`
/// (inclusive), most occurrences first.
pub fn recurring_faults<'a>(
    occurrences: impl IntoIterator<Item = &'a Occurrence>,
    from_day: i64,
    to_day: i64,
    min_count: u64,
    labels: &HashMap<String, String>,
) -> Vec<RecurringFault> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Occurrence>> = BTreeMap::new();
    for o in occurrences {
        if (from_day..=to_day).contains(&o.day) {
            groups.entry((o.fault.as_str(), o.model.as_str())).or_default().push(o);
        }
    }
    let label =
        |id: &str| Labelled { id: id.to_string(), label: labels.get(id).cloned().unwrap_or_else(|| id.to_string()) };
    let top = |ids: Vec<&str>| -> Vec<Labelled> {
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for id in ids {
            *counts.entry(id).or_default() += 1;
        }
        let mut ranked: Vec<(&str, u64)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        ranked.into_iter().take(INVOLVED).map(|(id, _)| label(id)).collect()
    };
    let mut out: Vec<RecurringFault> = groups
        .into_iter()
        .filter(|(_, list)| list.len() as u64 >= min_count)
        .map(|((fault, model), list)| {
            let count = |f: &dyn Fn(&Occurrence) -> Option<&String>| {
                let mut map = BTreeMap::new();
                for o in &list {
                    *map.entry(f(o).cloned().unwrap_or_else(|| "(unknown)".into())).or_default() += 1;
                }
                map
            };
            let days: BTreeSet<i64> = list.iter().map(|o| o.day).collect();
            let first = days.first().copied().unwrap_or(from_day);
            let last = days.last().copied().unwrap_or(to_day);
            RecurringFault {
                fault: label(fault),
                model: label(model),
                count: list.len() as u64,
                cases: list.iter().filter(|o| o.source == Source::Case).count() as u64,
                tickets: list.iter().filter(|o| o.source == Source::Ticket).count() as u64,
                by_region: count(&|o| o.region.as_ref()),
                by_org: count(&|o| o.org.as_ref()),
                devices: top(list.iter().filter_map(|o| o.device.as_deref()).collect()),
                customers: top(list.iter().filter_map(|o| o.customer.as_deref()).collect()),
                first_seen: calendar::Date::from_days(first).to_string(),
                last_seen: calendar::Date::from_days(last).to_string(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.count.cmp(&a.count).then_with(|| a.fault.id.cmp(&b.fault.id)).then_with(|| a.model.id.cmp(&b.model.id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(day: i64, fault: &str, model: &str, region: &str, source: Source) -> Occurrence {
        Occurrence {
            day,
            fault: fault.into(),
            model: model.into(),
            region: Some(region.into()),
            org: Some("org-1".into()),
            customer: Some(format!("cust-{day}")),
            device: Some("dev-1".into()),
            source,
            category: None,
            hours_to_restore: None,
        }
    }

    #[test]
    fn a_fault_seen_n_times_on_one_model_in_the_window_recurs() {
        let list = vec![
            occ(10, "f-a", "pm-1", "东", Source::Case),
            occ(11, "f-a", "pm-1", "东", Source::Ticket),
            occ(12, "f-a", "pm-1", "西", Source::Case),
            occ(13, "f-a", "pm-2", "西", Source::Case), // another model
            occ(30, "f-a", "pm-1", "西", Source::Case), // outside the window
            occ(12, "f-b", "pm-1", "东", Source::Case),
            occ(12, "f-b", "pm-1", "东", Source::Case),
        ];
        let labels = HashMap::from([("f-a".to_string(), "测距不准".to_string())]);
        let found = recurring_faults(&list, 10, 20, 3, &labels);
        assert_eq!(found.len(), 1, "{found:#?}");
        let r = &found[0];
        assert_eq!((r.fault.label.as_str(), r.model.id.as_str()), ("测距不准", "pm-1"));
        assert_eq!((r.count, r.cases, r.tickets), (3, 2, 1));
        assert_eq!(r.by_region, BTreeMap::from([("东".to_string(), 2), ("西".to_string(), 1)]));
        assert_eq!(r.devices.len(), 1);
        assert_eq!(r.customers.len(), 3);
        assert_eq!((r.first_seen.as_str(), r.last_seen.as_str()), ("1970-01-11", "1970-01-13"));
        assert_eq!(recurring_faults(&list, 10, 20, 2, &labels).len(), 2);
    }
}
