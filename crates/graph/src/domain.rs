//! Typed domain queries: a device by serial number or QR payload with its model, contract,
//! customer, warranty state and service history; warranties about to expire; items citing a
//! superseded regulation; the organisation units of a region.
//!
//! They read the schema of `ontology/gridkb.ttl`: devices (`gk:Device`, `gka:serial`,
//! `gk:model`, `gk:contract`, `gk:customer`, `gka:warranty_end`), contracts (`gk:Contract`,
//! `gka:number`, `gka:warranty_start`, `gka:warranty_end`, `gk:customer`), customers
//! (`gka:level`, `gka:tags`), cases (`gk:Case` / `gk:Ticket` with `gk:device`, solved-case items
//! with `gk:case`, `gk:contract`, `gk:product`) and regulations (`dcterms:isReplacedBy`).

use std::collections::{BTreeMap, BTreeSet};

use oxigraph::model::{Literal, NamedNode, Term};
use serde::Serialize;
use store::{EntityClass, ItemKind};

use crate::error::{GraphError, Result};
use crate::graph::{Graph, GraphReader};
use crate::limits::{
    MAX_QR_PAYLOAD_BYTES, MAX_REGION_SUBJECTS, MAX_SERIAL_BYTES, MAX_SERVICE_HISTORY, WARRANTY_EXPIRING_DAYS,
};
use crate::vocab::{attr_iri, class_local_name, dcterms, gk, rdf_type, rdfs_label, record_id, record_iri, skos};
use calendar::Date;

/// An entity or item, named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    pub id: String,
    pub label: String,
}

/// Warranty state on a given day (质保状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WarrantyState {
    /// More than the expiring window left.
    InWarranty {
        end: Date,
        days_left: i64,
    },
    /// Ends within the window (质保到期预警); `days_left` 0 means it ends today.
    Expiring {
        end: Date,
        days_left: i64,
    },
    Expired {
        end: Date,
        days_since: i64,
    },
}

impl WarrantyState {
    /// The state of a warranty ending on `end` (inclusive), seen on `today`, with a window of
    /// `window_days` for "expiring".
    pub fn on(end: Date, today: Date, window_days: i64) -> WarrantyState {
        let days_left = today.days_until(end);
        if days_left < 0 {
            WarrantyState::Expired { end, days_since: -days_left }
        } else if days_left <= window_days {
            WarrantyState::Expiring { end, days_left }
        } else {
            WarrantyState::InWarranty { end, days_left }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractSummary {
    pub id: String,
    pub label: String,
    pub number: Option<String>,
    pub warranty_start: Option<String>,
    pub warranty_end: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerSummary {
    pub id: String,
    pub label: String,
    pub level: Option<String>,
    pub tags: Vec<String>,
}

/// One entry of a device's service history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub id: String,
    /// `Case`, `Ticket`, or the item kind code (`solved_case`).
    pub kind: String,
    pub title: String,
    pub date: Option<String>,
    /// How it is tied to the device: `gk:device`, `gk:case`, `gk:contract+gk:product`.
    pub via: String,
}

/// Everything known about one installed device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceReport {
    pub device: Named,
    pub serial: String,
    pub model: Option<Named>,
    pub model_code: Option<String>,
    pub line: Option<Named>,
    pub contract: Option<ContractSummary>,
    pub customer: Option<CustomerSummary>,
    /// From the device's own warranty end, else its contract's; `None` when neither is known.
    pub warranty: Option<WarrantyState>,
    pub history: Vec<HistoryEntry>,
}

/// A contract whose warranty ends soon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiringWarranty {
    pub contract: Named,
    pub number: Option<String>,
    pub customer: Option<Named>,
    pub warranty_end: Date,
    pub days_left: i64,
    pub devices: usize,
}

/// An item that cites a regulation which has a newer edition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleItem {
    pub item: Named,
    pub cites: Named,
    /// The newest edition, following `dcterms:isReplacedBy` to its end.
    pub replaced_by: Named,
}

fn label_of(reader: &GraphReader<'_>, node: &NamedNode) -> Result<String> {
    for predicate in [skos("prefLabel"), dcterms("title"), rdfs_label()] {
        if let Some(label) = reader.literal(node.as_ref(), predicate.as_ref())? {
            return Ok(label);
        }
    }
    Ok(String::new())
}

fn named(reader: &GraphReader<'_>, node: &NamedNode) -> Result<Named> {
    Ok(Named { id: record_id(node.as_str()).unwrap_or(node.as_str()).to_owned(), label: label_of(reader, node)? })
}

fn has_class(reader: &GraphReader<'_>, node: &NamedNode, class: &str) -> Result<bool> {
    reader.contains(node.as_ref(), rdf_type().as_ref(), gk(class).as_ref().into())
}

fn first_link(reader: &GraphReader<'_>, node: &NamedNode, relation: &str) -> Result<Option<NamedNode>> {
    Ok(reader.linked_ids(node.as_ref(), gk(relation).as_ref(), 1)?.first().map(|id| record_iri(id)))
}

fn attr(reader: &GraphReader<'_>, node: &NamedNode, name: &str) -> Result<Option<String>> {
    reader.literal(node.as_ref(), attr_iri(name).as_ref())
}

/// Subjects with `gka:{name}` equal to `value` as a plain string (or an `xsd:date`).
fn subjects_with_attr(reader: &GraphReader<'_>, name: &str, value: &str, limit: usize) -> Result<Vec<NamedNode>> {
    let literal = Term::Literal(Literal::new_simple_literal(value));
    Ok(reader.subjects(attr_iri(name).as_ref(), literal.as_ref(), limit)?.0)
}

/// The organisation units whose `gka:region` is exactly `region`, sorted by id: the service
/// units of a region, for ticket dispatch. Customers and sites share region strings with the
/// units, so at most [`MAX_REGION_SUBJECTS`] subjects of that region are read.
pub fn organisations_in_region(graph: &Graph, region: &str) -> Result<Vec<Named>> {
    let region = region.trim();
    if region.is_empty() {
        return Ok(Vec::new());
    }
    let reader = graph.read()?;
    let mut units = Vec::new();
    for subject in subjects_with_attr(&reader, "region", region, MAX_REGION_SUBJECTS)? {
        if has_class(&reader, &subject, EntityClass::Organisation.code())? {
            units.push(named(&reader, &subject)?);
        }
    }
    units.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(units)
}

/// The device with this serial number (exact, then upper and lower case), with its context.
pub fn device_by_serial(graph: &Graph, serial: &str, today: Date) -> Result<Option<DeviceReport>> {
    let serial = serial.trim();
    if serial.is_empty() || serial.len() > MAX_SERIAL_BYTES {
        return Err(GraphError::InvalidArgument(format!("a serial number is 1 to {MAX_SERIAL_BYTES} bytes")));
    }
    let reader = graph.read()?;
    match find_device(&reader, serial)? {
        Some(device) => device_report(&reader, &device, today).map(Some),
        None => Ok(None),
    }
}

fn find_device(reader: &GraphReader<'_>, serial: &str) -> Result<Option<NamedNode>> {
    let mut forms = vec![serial.to_owned(), serial.to_ascii_uppercase(), serial.to_ascii_lowercase()];
    forms.dedup();
    for form in forms {
        for subject in subjects_with_attr(reader, "serial", &form, 8)? {
            if has_class(reader, &subject, EntityClass::Device.code())? {
                return Ok(Some(subject));
            }
        }
    }
    Ok(None)
}

/// The serial number candidates in a QR payload or a ticket, most explicit first: a JSON
/// object's `sn`/`serial` field, a URL's `sn=`/`serial=` parameter, `SN:` / `SN=` labelled text,
/// then every run of ASCII letters and digits of 6 to [`MAX_SERIAL_BYTES`] characters, each
/// followed by the run without a leading `SN` when a serial was written straight after its label
/// (`SNGKE2304A20782`).
pub fn serial_candidates(payload: &str) -> Vec<String> {
    const KEYS: [&str; 6] = ["sn", "serial", "serial_no", "serialnumber", "s/n", "序列号"];
    let mut out: Vec<String> = Vec::new();
    let push = |value: &str, out: &mut Vec<String>| {
        let value = value.trim().trim_matches(|c: char| c == '"' || c == '\'');
        if !value.is_empty() && value.len() <= MAX_SERIAL_BYTES && !out.iter().any(|v| v == value) {
            out.push(value.to_owned());
        }
    };
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(payload) {
        for (key, value) in &map {
            if KEYS.contains(&key.to_lowercase().as_str())
                && let Some(text) = value.as_str()
            {
                push(text, &mut out);
            }
        }
    }
    for part in payload.split(['?', '&', ';', '|', ',', '\n', ' ', '，', '；']) {
        if let Some((key, value)) = part.split_once(['=', ':', '：'])
            && KEYS.contains(&key.trim().to_lowercase().as_str())
        {
            push(value, &mut out);
        }
    }
    let mut run = String::new();
    for c in payload.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() {
            run.push(c);
        } else {
            if (6..=MAX_SERIAL_BYTES).contains(&run.len()) {
                push(&run, &mut out);
                if let Some(bare) = run.strip_prefix("SN").or_else(|| run.strip_prefix("sn"))
                    && bare.len() >= 6
                {
                    push(bare, &mut out);
                }
            }
            run.clear();
        }
    }
    out
}

/// The device a QR code's payload names (see [`serial_candidates`]).
pub fn device_by_qr(graph: &Graph, payload: &str, today: Date) -> Result<Option<DeviceReport>> {
    if payload.len() > MAX_QR_PAYLOAD_BYTES {
        return Err(GraphError::InvalidArgument(format!("a QR payload is at most {MAX_QR_PAYLOAD_BYTES} bytes")));
    }
    device_in_text(graph, payload, today)
}

/// The first device whose serial number stands in `text` (a ticket, a QR payload), trying the
/// [`serial_candidates`] in order.
pub fn device_in_text(graph: &Graph, text: &str, today: Date) -> Result<Option<DeviceReport>> {
    let reader = graph.read()?;
    for candidate in serial_candidates(text) {
        if let Some(device) = find_device(&reader, &candidate)? {
            return device_report(&reader, &device, today).map(Some);
        }
    }
    Ok(None)
}

fn device_report(reader: &GraphReader<'_>, device: &NamedNode, today: Date) -> Result<DeviceReport> {
    let model = first_link(reader, device, "model")?;
    let line = match &model {
        Some(model) => first_link(reader, model, "line")?,
        None => None,
    };
    let contract = first_link(reader, device, "contract")?;
    let customer = match first_link(reader, device, "customer")? {
        Some(customer) => Some(customer),
        None => match &contract {
            Some(contract) => first_link(reader, contract, "customer")?,
            None => None,
        },
    };
    let contract_summary = match &contract {
        Some(node) => Some(ContractSummary {
            id: named(reader, node)?.id,
            label: label_of(reader, node)?,
            number: attr(reader, node, "number")?,
            warranty_start: attr(reader, node, "warranty_start")?,
            warranty_end: attr(reader, node, "warranty_end")?,
        }),
        None => None,
    };
    let customer_summary = match &customer {
        Some(node) => Some(CustomerSummary {
            id: named(reader, node)?.id,
            label: label_of(reader, node)?,
            level: attr(reader, node, "level")?,
            tags: {
                let mut tags = reader.literals(node.as_ref(), attr_iri("tags").as_ref(), 32)?;
                tags.sort();
                tags
            },
        }),
        None => None,
    };
    let warranty_end = match attr(reader, device, "warranty_end")? {
        Some(end) => Some(end),
        None => contract_summary.as_ref().and_then(|c| c.warranty_end.clone()),
    };
    let warranty = warranty_end
        .as_deref()
        .and_then(|end| Date::parse(end).ok())
        .map(|end| WarrantyState::on(end, today, WARRANTY_EXPIRING_DAYS));
    let model_code = match &model {
        Some(model) => attr(reader, model, "code")?,
        None => None,
    }
    .or(attr(reader, device, "model_code")?);
    Ok(DeviceReport {
        device: named(reader, device)?,
        serial: attr(reader, device, "serial")?.unwrap_or_default(),
        model: model.as_ref().map(|m| named(reader, m)).transpose()?,
        model_code,
        line: line.as_ref().map(|l| named(reader, l)).transpose()?,
        contract: contract_summary,
        customer: customer_summary,
        warranty,
        history: service_history(reader, device, model.as_ref(), contract.as_ref())?,
    })
}

/// Cases and tickets naming the device, solved-case items citing those cases, and solved-case
/// items about the device's contract and model; newest first where dated.
fn service_history(
    reader: &GraphReader<'_>,
    device: &NamedNode,
    model: Option<&NamedNode>,
    contract: Option<&NamedNode>,
) -> Result<Vec<HistoryEntry>> {
    let mut entries: BTreeMap<String, HistoryEntry> = BTreeMap::new();
    let (cases, _) =
        reader.subjects(gk("device").as_ref(), Term::NamedNode(device.clone()).as_ref(), MAX_SERVICE_HISTORY)?;
    let mut case_nodes = Vec::new();
    for case in cases {
        let kind = if has_class(reader, &case, "Case")? {
            "Case"
        } else if has_class(reader, &case, "Ticket")? {
            "Ticket"
        } else {
            continue;
        };
        case_nodes.push(case.clone());
        let entry = HistoryEntry {
            id: named(reader, &case)?.id,
            kind: kind.to_owned(),
            title: label_of(reader, &case)?,
            date: attr(reader, &case, "date")?,
            via: "gk:device".into(),
        };
        entries.insert(entry.id.clone(), entry);
    }
    let solved_case = gk(&class_local_name(ItemKind::SolvedCase.code()));
    let add_item = |node: &NamedNode, via: &str, entries: &mut BTreeMap<String, HistoryEntry>| -> Result<()> {
        if !reader.contains(node.as_ref(), rdf_type().as_ref(), solved_case.as_ref().into())? {
            return Ok(());
        }
        let id = named(reader, node)?.id;
        if !entries.contains_key(&id) {
            let date = reader.literal(node.as_ref(), gk("date").as_ref())?;
            let title = label_of(reader, node)?;
            entries.insert(
                id.clone(),
                HistoryEntry { id, kind: ItemKind::SolvedCase.code().into(), title, date, via: via.into() },
            );
        }
        Ok(())
    };
    for case in &case_nodes {
        let (items, _) =
            reader.subjects(gk("case").as_ref(), Term::NamedNode(case.clone()).as_ref(), MAX_SERVICE_HISTORY)?;
        for item in items {
            add_item(&item, "gk:case", &mut entries)?;
        }
    }
    if let (Some(contract), Some(model)) = (contract, model) {
        let (items, _) = reader.subjects(
            gk("contract").as_ref(),
            Term::NamedNode(contract.clone()).as_ref(),
            MAX_SERVICE_HISTORY * 4,
        )?;
        for item in items {
            if reader.contains(item.as_ref(), gk("product").as_ref(), Term::NamedNode(model.clone()).as_ref())? {
                add_item(&item, "gk:contract+gk:product", &mut entries)?;
            }
        }
    }
    let mut history: Vec<HistoryEntry> = entries.into_values().collect();
    history.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.id.cmp(&b.id)));
    history.truncate(MAX_SERVICE_HISTORY);
    Ok(history)
}

/// Contracts whose warranty ends within `within_days` of `today` (today included), soonest
/// first, at most `limit` (the caller's bound; [`crate::limits::MAX_LISTING`] is the default of
/// those with a configuration).
pub fn warranties_expiring(
    graph: &Graph,
    today: Date,
    within_days: i64,
    limit: usize,
) -> Result<Vec<ExpiringWarranty>> {
    if within_days < 0 {
        return Err(GraphError::InvalidArgument("`within_days` must not be negative".into()));
    }
    let reader = graph.read()?;
    let contract_class = gk(EntityClass::Contract.code());
    let mut found = Vec::new();
    for (subject, object) in reader.pairs(attr_iri("warranty_end").as_ref())? {
        let Term::Literal(literal) = object else { continue };
        let Ok(end) = Date::parse(literal.value()) else { continue };
        let days_left = today.days_until(end);
        if !(0..=within_days).contains(&days_left) {
            continue;
        }
        if !reader.contains(subject.as_ref(), rdf_type().as_ref(), contract_class.as_ref().into())? {
            continue;
        }
        found.push((end, subject));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.as_str().cmp(b.1.as_str())));
    found.truncate(limit);
    let mut out = Vec::with_capacity(found.len());
    for (end, contract) in found {
        let customer = first_link(&reader, &contract, "customer")?;
        out.push(ExpiringWarranty {
            contract: named(&reader, &contract)?,
            number: attr(&reader, &contract, "number")?,
            customer: customer.as_ref().map(|c| named(&reader, c)).transpose()?,
            warranty_end: end,
            days_left: today.days_until(end),
            devices: reader.linked_ids(contract.as_ref(), gk("device").as_ref(), usize::MAX)?.len(),
        });
    }
    Ok(out)
}

/// Served items citing a regulation that `dcterms:isReplacedBy` a newer edition, by item id; at
/// most `limit` (see [`warranties_expiring`]), and at most `limit` read per regulation.
pub fn stale_items(graph: &Graph, limit: usize) -> Result<Vec<StaleItem>> {
    let reader = graph.read()?;
    let replaced_by = dcterms("isReplacedBy");
    let mut newer: BTreeMap<NamedNode, NamedNode> = BTreeMap::new();
    for (old, object) in reader.pairs(replaced_by.as_ref())? {
        if let Term::NamedNode(new) = object {
            newer.insert(old, new);
        }
    }
    let retired = gk("status-retired");
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (old, first_new) in &newer {
        // Follow the chain of editions to the newest, bounded against cycles.
        let mut newest = first_new.clone();
        for _ in 0..16 {
            match newer.get(&newest) {
                Some(next) if next != old => newest = next.clone(),
                _ => break,
            }
        }
        let (citing, _) = reader.subjects(gk("cites").as_ref(), Term::NamedNode(old.clone()).as_ref(), limit)?;
        for item in citing {
            if reader.contains(item.as_ref(), gk("status").as_ref(), retired.as_ref().into())?
                || !seen.insert((item.clone(), old.clone()))
            {
                continue;
            }
            out.push(StaleItem {
                item: named(&reader, &item)?,
                cites: named(&reader, old)?,
                replaced_by: named(&reader, &newest)?,
            });
        }
    }
    out.sort_by(|a, b| a.item.id.cmp(&b.item.id).then_with(|| a.cites.id.cmp(&b.cites.id)));
    out.truncate(limit);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::serial_candidates;

    #[test]
    fn a_serial_glued_to_its_label_is_also_tried_without_it() {
        assert_eq!(serial_candidates("报警（SNGKE2304A20782）"), ["SNGKE2304A20782", "GKE2304A20782"]);
        assert_eq!(serial_candidates("sngke2304a20782"), ["sngke2304a20782", "gke2304a20782"]);
        // Too short once the label is gone: only the run itself.
        assert_eq!(serial_candidates("SNAB123"), ["SNAB123"]);
        assert_eq!(serial_candidates("GKE2304A20782"), ["GKE2304A20782"]);
    }
}
