//! Ticket dispatch (工单准确派发): where a matched ticket goes — the speciality that should handle
//! it, its urgency, and the responsible service unit — each with the rule that decided it and the
//! reason in words.
//!
//! [`decide`] is pure: it reads [`DispatchFacts`], what the matcher already knows (the device and
//! its warranty, the product lines and faults the ticket names, the predicted category, the
//! customer record, the service units of the customer's region), and the word lists of
//! `dispatch_rules.json`. [`Engine::ticket_dispatch`] gathers the facts from the store and the
//! graph. Where the facts do not decide, the answer says "unknown" and why; it never guesses.
//!
//! * **Speciality** (专业): the device's product line (from its serial), else the product lines the
//!   ticket names (a model's line), else those of the parts it names, else the faults it names;
//!   each product line carries its
//!   speciality as data in the corpus (`attrs.speciality`, `gka:speciality`).
//! * **Urgency** (紧急 / 较急 / 一般): safety risk words in any ticket; in a ticket that reports a
//!   problem (a fault report or a complaint), also supply-loss words, the named fault's severity,
//!   an outage-sensitive customer and a warranty about to end; an important customer raises a
//!   problem ticket one level.
//! * **Station** (责任服务单位): the organisation unit whose region is the customer's (the
//!   request's customer, the device's owner, or a customer the ticket names); if no unit serves
//!   that region, the nearest one above it (county → city → province), said so in the reason.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use store::{Category, Entity, EntityClass, Record};
use utoipa::ToSchema;

use crate::ticket::CustomerView;
use crate::{Engine, LinkedEntity, Result};

const RULES_JSON: &str = include_str!("dispatch_rules.json");

/// Where a ticket goes: speciality, urgency and station, each with its rule and reason.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Dispatch {
    pub speciality: SpecialityDecision,
    pub urgency: UrgencyDecision,
    pub station: StationDecision,
}

/// The speciality (专业) that should handle the ticket.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SpecialityDecision {
    /// The speciality as the product lines name it (继电保护, 配电自动化, 新能源 ...); absent when
    /// unknown.
    pub value: Option<String>,
    pub rule: SpecialityRule,
    /// The product lines behind the value.
    pub lines: Vec<String>,
    /// Other specialities the ticket points to (a second product, a fault shared by several).
    pub alternatives: Vec<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpecialityRule {
    /// The product line of the device the ticket concerns (by its serial number).
    DeviceLine,
    /// The product lines of the models and lines the ticket names.
    NamedProduct,
    /// The product lines of the parts (boards, modules) the ticket names, when they share one
    /// speciality.
    Component,
    /// The faults the ticket names (a fault of one speciality).
    Fault,
    Unknown,
}

impl SpecialityRule {
    /// The code the API writes (as serde does).
    pub fn code(self) -> &'static str {
        match self {
            SpecialityRule::DeviceLine => "device_line",
            SpecialityRule::NamedProduct => "named_product",
            SpecialityRule::Component => "component",
            SpecialityRule::Fault => "fault",
            SpecialityRule::Unknown => "unknown",
        }
    }
}

/// How urgently the ticket must be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UrgencyLevel {
    /// 一般
    Normal,
    /// 较急
    High,
    /// 紧急
    Urgent,
}

impl UrgencyLevel {
    /// The code the API writes (as serde does).
    pub fn code(self) -> &'static str {
        match self {
            UrgencyLevel::Normal => "normal",
            UrgencyLevel::High => "high",
            UrgencyLevel::Urgent => "urgent",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            UrgencyLevel::Normal => "一般",
            UrgencyLevel::High => "较急",
            UrgencyLevel::Urgent => "紧急",
        }
    }

    fn raised(self) -> UrgencyLevel {
        match self {
            UrgencyLevel::Normal => UrgencyLevel::High,
            UrgencyLevel::High | UrgencyLevel::Urgent => UrgencyLevel::Urgent,
        }
    }
}

/// The ticket's urgency (紧急 / 较急 / 一般) and every factor that was weighed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UrgencyDecision {
    pub level: UrgencyLevel,
    /// 紧急, 较急 or 一般.
    pub label: String,
    /// The factor that set the level (`none` when no factor raised it).
    pub rule: UrgencyRule,
    pub reason: String,
    /// Every factor found, with the level it calls for (none: reported, not raising).
    pub factors: Vec<UrgencyFactor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UrgencyFactor {
    pub rule: UrgencyRule,
    pub level: Option<UrgencyLevel>,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UrgencyRule {
    /// Words of a safety risk: smoke, fire, discharge, electric shock, injury.
    Safety,
    /// Words of a supply loss: 停电了, 没电, 跳闸.
    Outage,
    /// The severity the named fault is rated (紧急, 严重).
    FaultSeverity,
    /// A customer who cannot lose supply (their words, or the tag 停电敏感).
    OutageSensitive,
    /// A key account (tag 重要客户, or a hospital, data centre, railway).
    ImportantCustomer,
    /// The device's warranty ends within the expiry window.
    WarrantyExpiring,
    /// The device is in warranty (reported, does not raise).
    InWarranty,
    /// The device's warranty has ended (reported, does not raise).
    OutOfWarranty,
    /// No factor raised the level.
    None,
}

impl UrgencyRule {
    /// The code the API writes (as serde does).
    pub fn code(self) -> &'static str {
        match self {
            UrgencyRule::Safety => "safety",
            UrgencyRule::Outage => "outage",
            UrgencyRule::FaultSeverity => "fault_severity",
            UrgencyRule::OutageSensitive => "outage_sensitive",
            UrgencyRule::ImportantCustomer => "important_customer",
            UrgencyRule::WarrantyExpiring => "warranty_expiring",
            UrgencyRule::InWarranty => "in_warranty",
            UrgencyRule::OutOfWarranty => "out_of_warranty",
            UrgencyRule::None => "none",
        }
    }
}

/// The service unit responsible for the ticket.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StationDecision {
    /// Absent when unknown.
    pub unit: Option<ServiceUnit>,
    pub rule: StationRule,
    /// The region looked up (the customer's).
    pub region: Option<String>,
    /// The customer whose region decided, and how the customer was found.
    pub customer: Option<String>,
    pub customer_source: Option<CustomerSource>,
    pub reason: String,
}

/// A unit of the organisation tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ServiceUnit {
    pub id: String,
    pub label: String,
    /// `hq`, `province`, `city` or `county`.
    pub level: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StationRule {
    /// The unit whose region is the customer's.
    Region,
    /// No unit serves the customer's region: the nearest unit above it.
    ParentRegion,
    /// No unit by region; the customer record names its servicing unit (`links.org`).
    CustomerOrg,
    Unknown,
}

impl StationRule {
    /// The code the API writes (as serde does).
    pub fn code(self) -> &'static str {
        match self {
            StationRule::Region => "region",
            StationRule::ParentRegion => "parent_region",
            StationRule::CustomerOrg => "customer_org",
            StationRule::Unknown => "unknown",
        }
    }
}

/// How the customer of a ticket was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerSource {
    /// The request's `customer_id`.
    Request,
    /// The owner of the device the ticket concerns.
    Device,
    /// A customer the ticket's text names.
    Text,
}

impl CustomerSource {
    fn describe(self) -> &'static str {
        match self {
            CustomerSource::Request => "the request's customer",
            CustomerSource::Device => "the device's owner",
            CustomerSource::Text => "the customer the ticket names",
        }
    }
}

/// The word lists and tags of `dispatch_rules.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct DispatchRules {
    /// Categories whose tickets report a problem: only these are raised by supply loss, fault
    /// severity, outage sensitivity, an expiring warranty or an important customer.
    pub problem_categories: Vec<String>,
    pub safety: CueList,
    pub outage: CueList,
    pub outage_sensitive: SensitiveCues,
    pub important: ImportantCustomers,
    /// Fault severity (`attrs.severity`) → the level it calls for.
    pub severity: std::collections::BTreeMap<String, UrgencyLevel>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CueList {
    pub words: Vec<String>,
    /// Phrases holding a cue word without meaning it, cut from the text first.
    #[serde(default)]
    pub exclusions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SensitiveCues {
    pub words: Vec<String>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImportantCustomers {
    pub tags: Vec<String>,
    /// Customer types (`attrs.type`) whose supply others depend on.
    pub kinds: Vec<String>,
}

impl DispatchRules {
    /// The bundled table (`dispatch_rules.json`).
    pub fn bundled() -> &'static DispatchRules {
        static RULES: OnceLock<DispatchRules> = OnceLock::new();
        RULES.get_or_init(|| match serde_json::from_str(RULES_JSON) {
            Ok(rules) => rules,
            // A unit test parses the bundled table: this is a build that skipped its tests.
            Err(e) => panic!("dispatch_rules.json does not parse: {e}"),
        })
    }
}

/// A product line as dispatch needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFacts {
    pub id: String,
    pub label: String,
    /// `attrs.speciality` of the product line.
    pub speciality: Option<String>,
    /// How the ticket named it: the words (`931保护`) or the device serial.
    pub via: String,
}

/// The warranty of the device, as far as dispatch weighs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warranty {
    In { end: calendar::Date, days_left: i64 },
    Expiring { end: calendar::Date, days_left: i64 },
    Expired { end: calendar::Date, days_since: i64 },
}

impl From<graph::WarrantyState> for Warranty {
    fn from(state: graph::WarrantyState) -> Self {
        match state {
            graph::WarrantyState::InWarranty { end, days_left } => Warranty::In { end, days_left },
            graph::WarrantyState::Expiring { end, days_left } => Warranty::Expiring { end, days_left },
            graph::WarrantyState::Expired { end, days_since } => Warranty::Expired { end, days_since },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFacts {
    pub serial: String,
    pub line: Option<LineFacts>,
    pub warranty: Option<Warranty>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultFacts {
    pub id: String,
    pub label: String,
    /// `attrs.speciality`: the specialities of the product lines the fault occurs on.
    pub specialities: Vec<String>,
    /// `attrs.severity`: 提示, 一般, 严重, 紧急.
    pub severity: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerFacts {
    pub id: String,
    pub label: String,
    pub source: CustomerSource,
    pub region: Option<String>,
    /// `attrs.type`: 供电企业, 医院, 光伏电站 ...
    pub kind: Option<String>,
    pub tags: Vec<String>,
    /// The servicing unit the record names (`links.org`).
    pub org: Option<ServiceUnit>,
}

/// One step of the walk up from the customer's region: the region and the unit serving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionLookup {
    pub region: String,
    pub unit: Option<ServiceUnit>,
}

/// Everything [`decide`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchFacts<'a> {
    /// The ticket, normalised and masked.
    pub text: &'a str,
    /// The predicted minor category.
    pub category: Category,
    pub device: Option<DeviceFacts>,
    /// The product lines the ticket names, in the order it names them, each once.
    pub named_lines: Vec<LineFacts>,
    /// The product lines of the parts (components) the ticket names, each once.
    pub component_lines: Vec<LineFacts>,
    pub faults: Vec<FaultFacts>,
    pub customer: Option<CustomerFacts>,
    /// The customer's region and the regions above it, up to the first one a unit serves.
    pub regions: Vec<RegionLookup>,
    /// False while the knowledge graph loads: nothing is linked and no region can be looked up.
    pub graph_ready: bool,
}

/// Decides where a ticket goes. Pure: the same facts give the same dispatch.
pub fn decide(facts: &DispatchFacts<'_>, rules: &DispatchRules) -> Dispatch {
    Dispatch { speciality: speciality(facts), urgency: urgency(facts, rules), station: station(facts) }
}

fn speciality(facts: &DispatchFacts<'_>) -> SpecialityDecision {
    let mut notes: Vec<String> = Vec::new();
    // The specialities the named lines point to, each with its lines, in the order first named.
    let mut named: Vec<(String, Vec<&LineFacts>)> = Vec::new();
    for line in &facts.named_lines {
        match &line.speciality {
            Some(s) => match named.iter_mut().find(|(n, _)| n == s) {
                Some((_, lines)) => lines.push(line),
                None => named.push((s.clone(), vec![line])),
            },
            None => notes.push(format!("product line {} has no speciality on record", line.label)),
        }
    }
    if let Some(line) = facts.device.as_ref().and_then(|d| d.line.as_ref()) {
        if let Some(value) = &line.speciality {
            let alternatives: Vec<String> = named.iter().map(|(s, _)| s.clone()).filter(|s| s != value).collect();
            let mut reason = format!("the device {} is a {}, handled by {value}", line.via, line.label);
            if !alternatives.is_empty() {
                reason.push_str(&format!("; the ticket also names products of {}", alternatives.join(", ")));
            }
            return SpecialityDecision {
                value: Some(value.clone()),
                rule: SpecialityRule::DeviceLine,
                lines: vec![line.id.clone()],
                alternatives,
                reason,
            };
        }
        notes.push(format!("the device's product line {} has no speciality on record", line.label));
    }
    // The speciality named most often, the first named on a tie.
    let best = named.iter().enumerate().max_by(|(i, a), (j, b)| a.1.len().cmp(&b.1.len()).then(j.cmp(i)));
    if let Some((_, (value, lines))) = best {
        let alternatives: Vec<String> = named.iter().map(|(s, _)| s.clone()).filter(|s| s != value).collect();
        let said: Vec<String> = lines.iter().map(|l| format!("{} ({})", l.via, l.label)).collect();
        let mut reason = format!("the ticket names {}, handled by {value}", said.join(", "));
        if !alternatives.is_empty() {
            reason.push_str(&format!(
                "; it also names products of {} (the speciality named most, or first, is chosen)",
                alternatives.join(", ")
            ));
        }
        return SpecialityDecision {
            value: Some(value.clone()),
            rule: SpecialityRule::NamedProduct,
            lines: lines.iter().map(|l| l.id.clone()).collect(),
            alternatives,
            reason,
        };
    }
    // The parts: their lines' speciality, when they share one.
    let part_specialities: Vec<&String> = facts
        .component_lines
        .iter()
        .filter_map(|l| l.speciality.as_ref())
        .collect::<BTreeSet<&String>>()
        .into_iter()
        .collect();
    if let [value] = part_specialities.as_slice() {
        let value: &String = value;
        let lines: Vec<&LineFacts> =
            facts.component_lines.iter().filter(|l| l.speciality.as_ref() == Some(value)).collect();
        let said: Vec<String> = lines.iter().map(|l| format!("{} (a part of {})", l.via, l.label)).collect();
        return SpecialityDecision {
            value: Some(value.clone()),
            rule: SpecialityRule::Component,
            lines: lines.iter().map(|l| l.id.clone()).collect(),
            alternatives: Vec::new(),
            reason: format!("no product named; the ticket names {}, handled by {value}", said.join(", ")),
        };
    }
    if part_specialities.len() > 1 {
        let all: Vec<&str> = part_specialities.iter().map(|s| s.as_str()).collect();
        notes.push(format!("the parts it names belong to several specialities ({})", all.join(", ")));
    }
    // The faults: a speciality every named fault shares, when there is exactly one.
    let with_speciality: Vec<&FaultFacts> = facts.faults.iter().filter(|f| !f.specialities.is_empty()).collect();
    if let Some(first) = with_speciality.first() {
        let shared: Vec<String> = first
            .specialities
            .iter()
            .filter(|s| with_speciality.iter().all(|f| f.specialities.contains(s)))
            .cloned()
            .collect();
        let labels: Vec<&str> = with_speciality.iter().map(|f| f.label.as_str()).collect();
        if let [value] = shared.as_slice() {
            return SpecialityDecision {
                value: Some(value.clone()),
                rule: SpecialityRule::Fault,
                lines: Vec::new(),
                alternatives: Vec::new(),
                reason: format!("no product named; the fault {} occurs only on {value} products", labels.join(", ")),
            };
        }
        let all: BTreeSet<&String> = with_speciality.iter().flat_map(|f| &f.specialities).collect();
        let alternatives: Vec<String> =
            if shared.is_empty() { all.into_iter().cloned().collect() } else { shared.clone() };
        return SpecialityDecision {
            value: None,
            rule: SpecialityRule::Unknown,
            lines: Vec::new(),
            alternatives: alternatives.clone(),
            reason: format!(
                "unknown: no product named, and the fault {} occurs on products of {}: ask which device it is",
                labels.join(", "),
                alternatives.join(", ")
            ),
        };
    }
    let mut reason = if facts.graph_ready {
        "unknown: the ticket names no product, device or fault".to_string()
    } else {
        "unknown: the knowledge graph is still loading, so nothing in the ticket could be linked".to_string()
    };
    for note in notes {
        reason.push_str("; ");
        reason.push_str(&note);
    }
    SpecialityDecision {
        value: None,
        rule: SpecialityRule::Unknown,
        lines: Vec::new(),
        alternatives: Vec::new(),
        reason,
    }
}

/// The cue words of `list` in `text`, after cutting out its exclusions; a word inside a longer
/// one already found is not repeated.
fn cues_in(text: &str, list: &CueList) -> Vec<String> {
    let mut rest = text.to_string();
    for phrase in &list.exclusions {
        if !phrase.is_empty() {
            rest = rest.replace(phrase.as_str(), "|");
        }
    }
    let mut found: Vec<String> = Vec::new();
    for word in &list.words {
        if !word.is_empty() && rest.contains(word.as_str()) && !found.iter().any(|f| f.contains(word.as_str())) {
            found.push(word.clone());
        }
    }
    found
}

fn urgency(facts: &DispatchFacts<'_>, rules: &DispatchRules) -> UrgencyDecision {
    let problem = rules.problem_categories.iter().any(|c| c == facts.category.code());
    let mut factors: Vec<UrgencyFactor> = Vec::new();
    let factor = |factors: &mut Vec<UrgencyFactor>, rule, level, reason: String| {
        factors.push(UrgencyFactor { rule, level, reason });
    };

    let safety = cues_in(facts.text, &rules.safety);
    if !safety.is_empty() {
        factor(
            &mut factors,
            UrgencyRule::Safety,
            Some(UrgencyLevel::Urgent),
            format!("safety risk: {}", safety.join(", ")),
        );
    }
    if problem {
        let outage = cues_in(facts.text, &rules.outage);
        if !outage.is_empty() {
            factor(
                &mut factors,
                UrgencyRule::Outage,
                Some(UrgencyLevel::Urgent),
                format!("supply lost: {}", outage.join(", ")),
            );
        }
        let rated = facts
            .faults
            .iter()
            .filter_map(|f| {
                let severity = f.severity.as_deref()?;
                rules.severity.get(severity).map(|level| (*level, f, severity))
            })
            .max_by_key(|(level, _, _)| *level);
        if let Some((level, fault, severity)) = rated {
            factor(
                &mut factors,
                UrgencyRule::FaultSeverity,
                Some(level),
                format!("the fault {} is rated {severity}", fault.label),
            );
        }
        let words: Vec<&String> =
            rules.outage_sensitive.words.iter().filter(|w| facts.text.contains(w.as_str())).collect();
        let tags: Vec<&String> =
            facts.customer.iter().flat_map(|c| &c.tags).filter(|t| rules.outage_sensitive.tags.contains(t)).collect();
        if !words.is_empty() || !tags.is_empty() {
            let said: Vec<String> = words
                .iter()
                .map(|w| format!("the ticket says {w}"))
                .chain(tags.iter().map(|t| format!("the customer is tagged {t}")))
                .collect();
            factor(
                &mut factors,
                UrgencyRule::OutageSensitive,
                Some(UrgencyLevel::High),
                format!("cannot lose supply: {}", said.join(", ")),
            );
        }
    }
    match facts.device.as_ref().and_then(|d| d.warranty) {
        Some(Warranty::Expiring { end, days_left }) => factor(
            &mut factors,
            UrgencyRule::WarrantyExpiring,
            problem.then_some(UrgencyLevel::High),
            format!("the warranty ends on {end} ({days_left} days left): record and repair it before then"),
        ),
        Some(Warranty::In { end, days_left }) => factor(
            &mut factors,
            UrgencyRule::InWarranty,
            None,
            format!("in warranty until {end} ({days_left} days left): repaired under warranty"),
        ),
        Some(Warranty::Expired { end, days_since }) => factor(
            &mut factors,
            UrgencyRule::OutOfWarranty,
            None,
            format!("out of warranty since {end} ({days_since} days): paid service, quote first"),
        ),
        None => {}
    }
    let base = factors.iter().filter_map(|f| f.level).max().unwrap_or(UrgencyLevel::Normal);
    let mut raised = false;
    if let Some(customer) = &facts.customer {
        let tag = customer.tags.iter().find(|t| rules.important.tags.contains(t));
        let kind = customer.kind.as_ref().filter(|k| rules.important.kinds.contains(k));
        let why = match (tag, kind) {
            (Some(tag), _) => Some(format!("{} is tagged {tag}", customer.label)),
            (None, Some(kind)) => Some(format!("{} is a {kind}", customer.label)),
            (None, None) => None,
        };
        if let Some(why) = why {
            if problem {
                raised = true;
                factor(
                    &mut factors,
                    UrgencyRule::ImportantCustomer,
                    Some(base.raised()),
                    format!("important customer: {why}, one level up"),
                );
            } else {
                factor(&mut factors, UrgencyRule::ImportantCustomer, None, format!("important customer: {why}"));
            }
        }
    }
    let level = if raised { base.raised() } else { base };
    let decisive = if raised {
        factors.iter().find(|f| f.rule == UrgencyRule::ImportantCustomer)
    } else {
        factors.iter().find(|f| f.level == Some(level))
    };
    let rule = decisive.map_or(UrgencyRule::None, |f| f.rule);
    let mut reason = match decisive {
        Some(_) => {
            let raising: Vec<&str> = factors.iter().filter(|f| f.level.is_some()).map(|f| f.reason.as_str()).collect();
            format!("{}: {}", level.label_zh(), raising.join("; "))
        }
        None => format!("{}: no safety, supply-loss, severity, outage-sensitivity or warranty cue", level.label_zh()),
    };
    if !problem {
        reason.push_str(&format!(
            "; a {} ticket reports no problem, so only a safety risk raises it",
            facts.category.label_zh()
        ));
    }
    if facts.customer.is_none() {
        reason.push_str("; customer unknown: importance not weighed");
    }
    if facts.device.as_ref().and_then(|d| d.warranty).is_none() {
        reason.push_str("; warranty unknown: no device with a warranty date identified");
    }
    UrgencyDecision { level, label: level.label_zh().to_string(), rule, reason, factors }
}

fn station(facts: &DispatchFacts<'_>) -> StationDecision {
    let unknown = |reason: String| StationDecision {
        unit: None,
        rule: StationRule::Unknown,
        region: None,
        customer: None,
        customer_source: None,
        reason,
    };
    let Some(customer) = &facts.customer else {
        let mut reason = "unknown: no customer identified (no customer_id, no known device serial, no customer \
                          named in the ticket), so no region to route by"
            .to_string();
        if !facts.graph_ready {
            reason.push_str("; the knowledge graph is still loading");
        }
        return unknown(reason);
    };
    let who = format!("{} {}", customer.source.describe(), customer.label);
    let decided = |unit: Option<ServiceUnit>, rule, reason| StationDecision {
        unit,
        rule,
        region: customer.region.clone(),
        customer: Some(customer.id.clone()),
        customer_source: Some(customer.source),
        reason,
    };
    let by_org = |why: String| match &customer.org {
        Some(org) => decided(
            Some(org.clone()),
            StationRule::CustomerOrg,
            format!("{why}; the customer record names {} as its servicing unit", org.label),
        ),
        None => decided(
            None,
            StationRule::Unknown,
            format!("unknown: {why}, and the customer record names no servicing unit"),
        ),
    };
    let Some(region) = &customer.region else {
        return by_org(format!("{who} has no region on record"));
    };
    if !facts.graph_ready {
        return by_org(format!("{who} is in {region}, but the knowledge graph is still loading"));
    }
    let found = facts.regions.iter().enumerate().find_map(|(i, step)| step.unit.as_ref().map(|u| (i, step, u)));
    match found {
        Some((0, _, unit)) => {
            decided(Some(unit.clone()), StationRule::Region, format!("{who} is in {region}, served by {}", unit.label))
        }
        Some((_, step, unit)) => decided(
            Some(unit.clone()),
            StationRule::ParentRegion,
            format!(
                "{who} is in {region}, which no service unit serves; the nearest unit up the tree is {} ({})",
                unit.label, step.region
            ),
        ),
        None => by_org(format!("{who} is in {region}, and no service unit serves it or any region above it")),
    }
}

/// The region and the regions above it, most specific first: `岚东省琰宁市石湾区` →
/// `岚东省琰宁市石湾区`, `岚东省琰宁市`, `岚东省`. Cut after each administrative suffix; a cut
/// inside a name (`市中区`) gives a region no unit has, which the walk passes over.
pub fn region_chain(region: &str) -> Vec<String> {
    const SUFFIXES: [char; 7] = ['省', '市', '区', '县', '州', '盟', '旗'];
    let region = region.trim();
    let mut chain: Vec<String> = region
        .char_indices()
        .filter(|(_, c)| SUFFIXES.contains(c))
        .map(|(i, c)| region[..i + c.len_utf8()].to_string())
        .filter(|prefix| prefix.len() < region.len())
        .collect();
    chain.reverse();
    if !region.is_empty() {
        chain.insert(0, region.to_string());
    }
    chain
}

fn attr_text(entity: &Entity, name: &str) -> Option<String> {
    entity.attrs.get(name).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A string attribute, or each string of a list attribute.
fn attr_texts(entity: &Entity, name: &str) -> Vec<String> {
    match entity.attrs.get(name) {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_string()],
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn first_link<'e>(entity: &'e Entity, relation: &str) -> Option<&'e str> {
    entity.links.get(relation).and_then(|l| l.first()).map(String::as_str)
}

impl Engine {
    /// The served entity of `class` with this id.
    fn entity_of(&self, id: &str, class: EntityClass) -> Result<Option<Entity>> {
        Ok(match self.store().get(id)?.map(|stored| stored.record) {
            Some(Record::Entity(entity)) if entity.class == class => Some(entity),
            _ => None,
        })
    }

    fn line_facts(&self, id: &str, via: &str) -> Result<Option<LineFacts>> {
        Ok(self.entity_of(id, EntityClass::ProductLine)?.map(|line| LineFacts {
            speciality: attr_text(&line, "speciality"),
            id: line.id,
            label: line.label,
            via: via.to_string(),
        }))
    }

    fn service_unit(&self, id: &str) -> Result<Option<ServiceUnit>> {
        Ok(self.entity_of(id, EntityClass::Organisation)?.map(|unit| ServiceUnit {
            level: attr_text(&unit, "level"),
            region: attr_text(&unit, "region"),
            id: unit.id,
            label: unit.label,
        }))
    }

    fn customer_facts(&self, id: &str, source: CustomerSource) -> Result<Option<CustomerFacts>> {
        let Some(customer) = self.entity_of(id, EntityClass::Customer)? else {
            return Ok(None);
        };
        let org = match first_link(&customer, "org") {
            Some(org) => self.service_unit(org)?,
            None => None,
        };
        Ok(Some(CustomerFacts {
            region: attr_text(&customer, "region"),
            kind: attr_text(&customer, "type"),
            tags: attr_texts(&customer, "tags"),
            org,
            id: customer.id,
            label: customer.label,
            source,
        }))
    }

    /// Where a matched ticket goes: gathers the [`DispatchFacts`] from what the match found (the
    /// entities linked in `masked`, the device, the customer, the predicted category) and the
    /// store and graph, then [`decide`]s.
    pub(crate) fn ticket_dispatch(
        &self,
        masked: &str,
        category: Category,
        linked: &[LinkedEntity],
        device: Option<&graph::DeviceReport>,
        customer: Option<&CustomerView>,
    ) -> Result<Dispatch> {
        let device_facts = match device {
            Some(report) => Some(DeviceFacts {
                serial: report.serial.clone(),
                line: match &report.line {
                    Some(line) => self.line_facts(&line.id, &report.serial)?,
                    None => None,
                },
                warranty: report.warranty.map(Warranty::from),
            }),
            None => None,
        };
        let mut named_lines: Vec<LineFacts> = Vec::new();
        let mut component_lines: Vec<LineFacts> = Vec::new();
        let mut faults: Vec<FaultFacts> = Vec::new();
        for link in linked {
            let line_id = match EntityClass::from_code(&link.class) {
                Some(EntityClass::ProductLine) => Some(link.id.clone()),
                Some(EntityClass::ProductModel) => self
                    .entity_of(&link.id, EntityClass::ProductModel)?
                    .and_then(|model| first_link(&model, "line").map(str::to_string)),
                Some(EntityClass::Component) => {
                    if let Some(part) = self.entity_of(&link.id, EntityClass::Component)? {
                        let line = match attr_text(&part, "line") {
                            Some(line) => Some(line),
                            None => match first_link(&part, "model") {
                                Some(model) => self
                                    .entity_of(model, EntityClass::ProductModel)?
                                    .and_then(|model| first_link(&model, "line").map(str::to_string)),
                                None => None,
                            },
                        };
                        if let Some(line) = line
                            && !component_lines.iter().any(|l: &LineFacts| l.id == line)
                            && let Some(facts) = self.line_facts(&line, &link.matched)?
                        {
                            component_lines.push(facts);
                        }
                    }
                    None
                }
                Some(EntityClass::Fault) => {
                    if let Some(fault) = self.entity_of(&link.id, EntityClass::Fault)?
                        && !faults.iter().any(|f| f.id == fault.id)
                    {
                        faults.push(FaultFacts {
                            specialities: attr_texts(&fault, "speciality"),
                            severity: attr_text(&fault, "severity"),
                            id: fault.id,
                            label: fault.label,
                        });
                    }
                    None
                }
                _ => None,
            };
            if let Some(line_id) = line_id
                && !named_lines.iter().any(|l| l.id == line_id)
                && let Some(line) = self.line_facts(&line_id, &link.matched)?
            {
                named_lines.push(line);
            }
        }
        let customer_facts = match customer {
            Some(view) => {
                let source = if view.source == "request" { CustomerSource::Request } else { CustomerSource::Device };
                self.customer_facts(&view.id, source)?
            }
            None => match linked.iter().find(|l| l.class == EntityClass::Customer.code()) {
                Some(named) => self.customer_facts(&named.id, CustomerSource::Text)?,
                None => None,
            },
        };
        let graph = self.graph();
        let mut regions = Vec::new();
        if let (Some(graph), Some(region)) = (graph, customer_facts.as_ref().and_then(|c| c.region.as_deref())) {
            for step in region_chain(region) {
                let unit = match graph::organisations_in_region(graph, &step)?.first() {
                    Some(named) => self.service_unit(&named.id)?,
                    None => None,
                };
                let found = unit.is_some();
                regions.push(RegionLookup { region: step, unit });
                if found {
                    break;
                }
            }
        }
        let facts = DispatchFacts {
            text: masked,
            category,
            device: device_facts,
            named_lines,
            component_lines,
            faults,
            customer: customer_facts,
            regions,
            graph_ready: graph.is_some(),
        };
        Ok(decide(&facts, DispatchRules::bundled()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> &'static DispatchRules {
        DispatchRules::bundled()
    }

    fn facts(text: &str) -> DispatchFacts<'_> {
        DispatchFacts {
            text,
            category: Category::FaultRepair,
            device: None,
            named_lines: Vec::new(),
            component_lines: Vec::new(),
            faults: Vec::new(),
            customer: None,
            regions: Vec::new(),
            graph_ready: true,
        }
    }

    fn line(id: &str, speciality: Option<&str>, via: &str) -> LineFacts {
        LineFacts {
            id: id.into(),
            label: format!("{id} label"),
            speciality: speciality.map(str::to_string),
            via: via.into(),
        }
    }

    fn fault(id: &str, specialities: &[&str], severity: Option<&str>) -> FaultFacts {
        FaultFacts {
            id: id.into(),
            label: id.into(),
            specialities: specialities.iter().map(|s| s.to_string()).collect(),
            severity: severity.map(str::to_string),
        }
    }

    fn unit(id: &str, region: &str) -> ServiceUnit {
        ServiceUnit { id: id.into(), label: format!("{id} 服务单位"), level: None, region: Some(region.into()) }
    }

    fn customer(region: Option<&str>, tags: &[&str], kind: Option<&str>) -> CustomerFacts {
        CustomerFacts {
            id: "cust-1".into(),
            label: "某客户".into(),
            source: CustomerSource::Request,
            region: region.map(str::to_string),
            kind: kind.map(str::to_string),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            org: None,
        }
    }

    fn day(text: &str) -> calendar::Date {
        calendar::Date::parse(text).expect("date")
    }

    #[test]
    fn codes_are_what_serde_writes() {
        let serde_code = |value: serde_json::Value| value.as_str().map(str::to_string);
        for rule in
            [SpecialityRule::DeviceLine, SpecialityRule::NamedProduct, SpecialityRule::Fault, SpecialityRule::Unknown]
        {
            assert_eq!(serde_code(serde_json::json!(rule)).as_deref(), Some(rule.code()));
        }
        for rule in [StationRule::Region, StationRule::ParentRegion, StationRule::CustomerOrg, StationRule::Unknown] {
            assert_eq!(serde_code(serde_json::json!(rule)).as_deref(), Some(rule.code()));
        }
        for rule in [
            UrgencyRule::Safety,
            UrgencyRule::Outage,
            UrgencyRule::FaultSeverity,
            UrgencyRule::OutageSensitive,
            UrgencyRule::ImportantCustomer,
            UrgencyRule::WarrantyExpiring,
            UrgencyRule::InWarranty,
            UrgencyRule::OutOfWarranty,
            UrgencyRule::None,
        ] {
            assert_eq!(serde_code(serde_json::json!(rule)).as_deref(), Some(rule.code()));
        }
        for level in [UrgencyLevel::Normal, UrgencyLevel::High, UrgencyLevel::Urgent] {
            assert_eq!(serde_code(serde_json::json!(level)).as_deref(), Some(level.code()));
        }
    }

    #[test]
    fn the_bundled_rules_parse_and_name_only_known_categories() {
        let rules = rules();
        assert!(!rules.safety.words.is_empty() && !rules.outage.words.is_empty());
        for code in &rules.problem_categories {
            assert!(Category::from_code(code).is_some(), "{code}");
        }
        assert_eq!(rules.severity.get("紧急"), Some(&UrgencyLevel::Urgent));
    }

    #[test]
    fn speciality_comes_from_the_device_line_first() {
        let mut f = facts("GKB2301A12345 通道告警，顺便问下电表");
        f.device = Some(DeviceFacts {
            serial: "GKB2301A12345".into(),
            line: Some(line("pl-line-protection", Some("继电保护"), "GKB2301A12345")),
            warranty: None,
        });
        f.named_lines = vec![line("pl-smart-meter", Some("计量"), "电表")];
        let s = speciality(&f);
        assert_eq!((s.value.as_deref(), s.rule), (Some("继电保护"), SpecialityRule::DeviceLine));
        assert_eq!(s.lines, ["pl-line-protection"]);
        assert_eq!(s.alternatives, ["计量"]);
        assert!(s.reason.contains("GKB2301A12345") && s.reason.contains("计量"), "{}", s.reason);
    }

    #[test]
    fn speciality_of_named_products_takes_the_one_named_most_then_first() {
        let mut f = facts("x");
        f.named_lines = vec![
            line("pl-smart-meter", Some("计量"), "电表"),
            line("pl-line-protection", Some("继电保护"), "931保护"),
            line("pl-busbar-protection", Some("继电保护"), "母差"),
        ];
        let s = speciality(&f);
        assert_eq!((s.value.as_deref(), s.rule), (Some("继电保护"), SpecialityRule::NamedProduct));
        assert_eq!(s.lines, ["pl-line-protection", "pl-busbar-protection"]);
        assert_eq!(s.alternatives, ["计量"]);
        // A tie: the first named.
        f.named_lines.truncate(2);
        assert_eq!(speciality(&f).value.as_deref(), Some("计量"));
        // A line without a speciality is passed over, and said so when nothing else decides.
        f.named_lines = vec![line("pl-new", None, "新产品")];
        let s = speciality(&f);
        assert_eq!((s.value, s.rule), (None, SpecialityRule::Unknown));
        assert!(s.reason.contains("no speciality on record"), "{}", s.reason);
    }

    #[test]
    fn a_device_line_without_speciality_falls_back_to_named_products() {
        let mut f = facts("x");
        f.device = Some(DeviceFacts { serial: "S1".into(), line: Some(line("pl-x", None, "S1")), warranty: None });
        f.named_lines = vec![line("pl-ev-charger", Some("新能源"), "充电桩")];
        let s = speciality(&f);
        assert_eq!((s.value.as_deref(), s.rule), (Some("新能源"), SpecialityRule::NamedProduct));
    }

    #[test]
    fn parts_decide_when_their_lines_share_one_speciality_before_faults() {
        let mut f = facts("浪涌保护器告警");
        f.component_lines = vec![line("pl-pv-inverter", Some("新能源"), "浪涌保护器")];
        f.faults = vec![fault("f-x", &["继电保护"], None)];
        let s = speciality(&f);
        assert_eq!((s.value.as_deref(), s.rule), (Some("新能源"), SpecialityRule::Component));
        assert!(s.reason.contains("a part of"), "{}", s.reason);
        // Parts of two specialities: the faults decide, else unknown saying so.
        f.component_lines.push(line("pl-line-protection", Some("继电保护"), "电源插件"));
        assert_eq!(speciality(&f).rule, SpecialityRule::Fault);
        f.faults.clear();
        let s = speciality(&f);
        assert_eq!(s.rule, SpecialityRule::Unknown);
        assert!(s.reason.contains("several specialities"), "{}", s.reason);
        // A named model outranks a part.
        f.named_lines = vec![line("pl-smart-meter", Some("计量"), "电表")];
        assert_eq!(speciality(&f).rule, SpecialityRule::NamedProduct);
    }

    #[test]
    fn faults_decide_only_when_they_share_exactly_one_speciality() {
        let mut f = facts("x");
        f.faults = vec![fault("f-ct-break", &["继电保护"], None)];
        let s = speciality(&f);
        assert_eq!((s.value.as_deref(), s.rule), (Some("继电保护"), SpecialityRule::Fault));
        // Two specialities: unknown, with both as alternatives and a question to ask.
        f.faults = vec![fault("f-goose", &["变电站自动化", "继电保护"], None)];
        let s = speciality(&f);
        assert_eq!((s.value.as_deref(), s.rule), (None, SpecialityRule::Unknown));
        assert_eq!(s.alternatives, ["变电站自动化", "继电保护"]);
        assert!(s.reason.starts_with("unknown"), "{}", s.reason);
        // Two faults that share one: that one.
        f.faults.push(fault("f-ct-break", &["继电保护"], None));
        assert_eq!(speciality(&f).value.as_deref(), Some("继电保护"));
    }

    #[test]
    fn nothing_named_is_an_unknown_speciality_that_says_why() {
        let s = speciality(&facts("你好"));
        assert_eq!((s.value, s.rule), (None, SpecialityRule::Unknown));
        assert!(s.reason.contains("names no product"), "{}", s.reason);
        let mut loading = facts("你好");
        loading.graph_ready = false;
        assert!(speciality(&loading).reason.contains("still loading"));
    }

    #[test]
    fn safety_words_make_any_ticket_urgent_but_not_their_technical_lookalikes() {
        let u = urgency(&facts("配电柜里冒烟了，有糊味"), rules());
        assert_eq!((u.level, u.rule), (UrgencyLevel::Urgent, UrgencyRule::Safety));
        assert!(u.reason.starts_with("紧急") && u.reason.contains("冒烟"), "{}", u.reason);
        assert_eq!(u.label, "紧急");
        // Even in a consultation.
        let mut question = facts("电池鼓包了还能用吗");
        question.category = Category::Consultation;
        assert_eq!(urgency(&question, rules()).level, UrgencyLevel::Urgent);
        // 充放电 and 局部放电 are no discharge fault.
        for text in ["调度下发的充放电指令，储能没反应", "局部放电监测数据偏大"] {
            let u = urgency(&facts(text), rules());
            assert_eq!(u.rule, UrgencyRule::None, "{text}: {u:?}");
        }
    }

    #[test]
    fn supply_loss_is_urgent_in_a_problem_ticket_only() {
        let u = urgency(&facts("昨晚主进线没电了，急死了"), rules());
        assert_eq!((u.level, u.rule), (UrgencyLevel::Urgent, UrgencyRule::Outage));
        // Planned outages and "cannot lose supply" are no supply loss.
        let u = urgency(&facts("计划停电总是安排在工作日"), rules());
        assert_ne!(u.rule, UrgencyRule::Outage, "{u:?}");
        // An opinion about outages is no outage.
        let mut opinion = facts("上次跳闸后你们的通知太慢");
        opinion.category = Category::Opinion;
        let u = urgency(&opinion, rules());
        assert_eq!(u.level, UrgencyLevel::Normal);
        assert!(u.reason.contains("reports no problem"), "{}", u.reason);
    }

    #[test]
    fn fault_severity_and_outage_sensitivity_set_their_levels() {
        let mut f = facts("保护装置闭锁了");
        f.faults = vec![fault("f-lockout", &["继电保护"], Some("紧急")), fault("f-x", &[], Some("一般"))];
        let u = urgency(&f, rules());
        assert_eq!((u.level, u.rule), (UrgencyLevel::Urgent, UrgencyRule::FaultSeverity));
        f.faults = vec![fault("f-ct-break", &["继电保护"], Some("严重"))];
        assert_eq!(urgency(&f, rules()).level, UrgencyLevel::High);
        f.faults = vec![fault("f-hint", &["继电保护"], Some("提示"))];
        assert_eq!(urgency(&f, rules()).level, UrgencyLevel::Normal);

        let u = urgency(&facts("充电桩离线，医院不能停电的"), rules());
        assert_eq!((u.level, u.rule), (UrgencyLevel::High, UrgencyRule::OutageSensitive));
        let mut tagged = facts("充电桩离线");
        tagged.customer = Some(customer(None, &["停电敏感"], None));
        let u = urgency(&tagged, rules());
        assert_eq!((u.level, u.rule), (UrgencyLevel::High, UrgencyRule::OutageSensitive));
        assert!(u.reason.contains("停电敏感"), "{}", u.reason);
    }

    #[test]
    fn an_important_customer_raises_a_problem_ticket_one_level() {
        let mut f = facts("通道告警");
        f.customer = Some(customer(None, &["重要客户"], None));
        let u = urgency(&f, rules());
        assert_eq!((u.level, u.rule), (UrgencyLevel::High, UrgencyRule::ImportantCustomer));
        f.faults = vec![fault("f-ct-break", &["继电保护"], Some("严重"))];
        assert_eq!(urgency(&f, rules()).level, UrgencyLevel::Urgent);
        // By kind, without the tag.
        let mut hospital = facts("通道告警");
        hospital.customer = Some(customer(None, &[], Some("医院")));
        assert_eq!(urgency(&hospital, rules()).rule, UrgencyRule::ImportantCustomer);
        // Praise from an important customer stays 一般, the customer reported.
        let mut praise = facts("师傅很专业，点赞");
        praise.category = Category::Praise;
        praise.customer = Some(customer(None, &["重要客户"], None));
        let u = urgency(&praise, rules());
        assert_eq!((u.level, u.rule), (UrgencyLevel::Normal, UrgencyRule::None));
        assert!(u.factors.iter().any(|f| f.rule == UrgencyRule::ImportantCustomer && f.level.is_none()));
    }

    #[test]
    fn warranty_expiring_raises_a_fault_while_in_and_out_of_warranty_are_reported() {
        let mut f = facts("通道告警");
        let device = |warranty| DeviceFacts { serial: "S1".into(), line: None, warranty: Some(warranty) };
        f.device = Some(device(Warranty::Expiring { end: day("2026-12-31"), days_left: 25 }));
        let u = urgency(&f, rules());
        assert_eq!((u.level, u.rule), (UrgencyLevel::High, UrgencyRule::WarrantyExpiring));
        assert!(u.reason.contains("2026-12-31"), "{}", u.reason);
        f.device = Some(device(Warranty::In { end: day("2028-01-01"), days_left: 400 }));
        let u = urgency(&f, rules());
        assert_eq!((u.level, u.rule), (UrgencyLevel::Normal, UrgencyRule::None));
        assert_eq!(u.factors.first().map(|x| (x.rule, x.level)), Some((UrgencyRule::InWarranty, None)));
        f.device = Some(device(Warranty::Expired { end: day("2024-01-01"), days_since: 1000 }));
        let u = urgency(&f, rules());
        assert_eq!(u.factors.first().map(|x| x.rule), Some(UrgencyRule::OutOfWarranty));
        assert!(u.factors[0].reason.contains("paid service"));
    }

    #[test]
    fn unknown_customer_and_warranty_are_said_not_assumed() {
        let u = urgency(&facts("通道告警"), rules());
        assert_eq!((u.level, u.rule), (UrgencyLevel::Normal, UrgencyRule::None));
        assert!(u.reason.contains("customer unknown") && u.reason.contains("warranty unknown"), "{}", u.reason);
    }

    #[test]
    fn the_station_serves_the_customers_region() {
        let mut f = facts("x");
        f.customer = Some(customer(Some("岚东省琰宁市石湾区"), &[], None));
        f.regions = vec![RegionLookup {
            region: "岚东省琰宁市石湾区".into(),
            unit: Some(unit("org-p01-c01-x01", "岚东省琰宁市石湾区")),
        }];
        let s = station(&f);
        assert_eq!((s.rule, s.unit.as_ref().map(|u| u.id.as_str())), (StationRule::Region, Some("org-p01-c01-x01")));
        assert_eq!(s.customer_source, Some(CustomerSource::Request));
        assert_eq!(s.region.as_deref(), Some("岚东省琰宁市石湾区"));
        assert!(s.reason.contains("served by"), "{}", s.reason);
    }

    #[test]
    fn a_region_no_unit_serves_falls_back_up_the_tree_and_says_so() {
        let mut f = facts("x");
        f.customer = Some(customer(Some("岚东省琰宁市新区"), &[], None));
        f.regions = vec![
            RegionLookup { region: "岚东省琰宁市新区".into(), unit: None },
            RegionLookup { region: "岚东省琰宁市".into(), unit: Some(unit("org-p01-c01", "岚东省琰宁市")) },
        ];
        let s = station(&f);
        assert_eq!((s.rule, s.unit.as_ref().map(|u| u.id.as_str())), (StationRule::ParentRegion, Some("org-p01-c01")));
        assert!(s.reason.contains("no service unit serves") && s.reason.contains("岚东省琰宁市"), "{}", s.reason);
    }

    #[test]
    fn without_a_unit_by_region_the_customer_records_unit_or_unknown() {
        let mut f = facts("x");
        let mut c = customer(Some("江苏省南京市"), &[], None);
        f.regions = vec![
            RegionLookup { region: "江苏省南京市".into(), unit: None },
            RegionLookup { region: "江苏省".into(), unit: None },
        ];
        f.customer = Some(c.clone());
        let s = station(&f);
        assert_eq!((s.rule, s.unit.is_none()), (StationRule::Unknown, true));
        assert!(s.reason.starts_with("unknown") && s.reason.contains("江苏省南京市"), "{}", s.reason);
        c.org = Some(unit("org-x", "江苏省"));
        f.customer = Some(c.clone());
        let s = station(&f);
        assert_eq!((s.rule, s.unit.as_ref().map(|u| u.id.as_str())), (StationRule::CustomerOrg, Some("org-x")));
        // No region at all.
        c.region = None;
        c.org = None;
        f.customer = Some(c);
        let s = station(&f);
        assert_eq!(s.rule, StationRule::Unknown);
        assert!(s.reason.contains("no region on record"), "{}", s.reason);
    }

    #[test]
    fn no_customer_is_an_unknown_station() {
        let s = station(&facts("x"));
        assert_eq!((s.rule, s.unit, s.customer), (StationRule::Unknown, None, None));
        assert!(s.reason.contains("no customer identified"), "{}", s.reason);
    }

    #[test]
    fn region_chains_walk_up_by_administrative_suffix() {
        assert_eq!(region_chain("岚东省琰宁市石湾区"), ["岚东省琰宁市石湾区", "岚东省琰宁市", "岚东省"]);
        assert_eq!(region_chain("岚东省"), ["岚东省"]);
        assert_eq!(region_chain(" 总部 "), ["总部"]);
        assert!(region_chain("  ").is_empty());
        // A suffix inside a name gives an extra step, which no unit has.
        assert_eq!(region_chain("济南市市中区"), ["济南市市中区", "济南市市", "济南市"]);
    }

    #[test]
    fn cue_exclusions_are_cut_before_the_words_are_looked_for() {
        let list =
            CueList { words: vec!["停电".into(), "停电了".into()], exclusions: vec!["计划停电".into()] };
        assert!(cues_in("计划停电安排", &list).is_empty());
        assert_eq!(cues_in("计划停电之外今天又停电了", &list), ["停电", "停电了"]);
        // The longer word found first keeps its shorter part from repeating.
        let list = CueList { words: vec!["停电了".into(), "停电".into()], exclusions: vec![] };
        assert_eq!(cues_in("突然停电了", &list), ["停电了"]);
    }
}
