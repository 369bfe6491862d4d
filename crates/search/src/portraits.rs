//! Customer portraits (客户画像): tags proposed for each customer from what the request log and
//! the store say about them, for an editor or a manager to confirm, and the complaint-risk list.
//!
//! The evidence of one customer is their matched tickets in a window (the request log records
//! the customer of a ticket: the request's `customer_id`, or the owner of the device named), the
//! verdicts and comments given on those tickets, the solved cases on record for them (category,
//! hours to restore) and their record (type, devices, tags). The rules are data
//! (`portrait_rules.json`): words that mark an outage, a bill or emotion, how many tickets on one
//! fault within how many days are a repeat, which customers others depend on. Every function here
//! is pure and deterministic: the same events and records give the same proposals in the same
//! order.
//!
//! A proposal is never made for a tag the record already carries. A confirmed tag is written to
//! the customer record (a new version, audited, in the graph at once), so ticket matching picks
//! the response strategies of that tag; a rejected proposal is remembered in the request log (as a
//! task status, id `tag:<customer>:<tag>`) and comes back only when a ticket newer than the
//! rejection adds to its evidence.
//!
//! Text shown as evidence is the masked ticket text of the request log, masked once more.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use journal::analytics::{self, DAY_MS};
use journal::{Route, Snapshot, TaskStatus, Verdict};
use serde::{Deserialize, Serialize};
use store::{Action, EditPlan, EntityClass, Record, WorkingPlan};

use crate::editing::{EditContext, EditError};
use crate::entity_editing::EntityOutcome;
use crate::improvement::{Scope, Window};
use crate::service_history::{CustomerFacts, Labelled, Occurrence, ServiceHistory};
use crate::{Engine, Error, Result};

const RULES_JSON: &str = include_str!("portrait_rules.json");
/// Characters of a ticket quoted as evidence.
const SNIPPET_CHARS: usize = 40;

/// How a tag rule reads the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Tickets (or comments on them) that contain one of the words, or a run of exclamation marks.
    Words,
    /// Tickets about the same fault within a few days.
    Repeat,
    /// The record: many devices, substation devices, a kind of customer others depend on.
    Importance,
}

/// One tag and how it is earned.
#[derive(Debug, Clone, Deserialize)]
pub struct TagRule {
    pub tag: String,
    pub signal: Signal,
    #[serde(default)]
    pub words: Vec<String>,
    /// This many `!` in a row mark emotion too.
    #[serde(default)]
    pub exclamation_run: Option<usize>,
    #[serde(default)]
    pub min_tickets: u64,
    /// Cases on record restored after at least this many hours add `case_weight` each.
    #[serde(default)]
    pub case_min_hours_to_restore: Option<f64>,
    #[serde(default)]
    pub case_weight: f64,
    #[serde(default)]
    pub within_days: i64,
    #[serde(default)]
    pub min_devices: u64,
    #[serde(default)]
    pub min_substation_devices: u64,
    #[serde(default)]
    pub kinds: Vec<String>,
    pub threshold: f64,
    pub reason: String,
}

/// The weights of the complaint-risk score.
#[derive(Debug, Clone, Deserialize)]
pub struct RiskRules {
    pub repeat_days: i64,
    pub repeat_weight: f64,
    pub emotional_weight: f64,
    pub escalation_words: Vec<String>,
    pub escalation_weight: f64,
    pub outage_weight: f64,
    pub long_outage_hours: f64,
    pub long_outage_weight: f64,
    pub complaint_categories: Vec<String>,
    pub complaint_category_weight: f64,
    pub unresolved_weight: f64,
    pub min_score: f64,
}

/// The rule table.
#[derive(Debug, Clone, Deserialize)]
pub struct PortraitRules {
    pub tags: Vec<TagRule>,
    pub risk: RiskRules,
}

impl PortraitRules {
    /// The bundled table (`portrait_rules.json`).
    pub fn bundled() -> &'static PortraitRules {
        static RULES: OnceLock<PortraitRules> = OnceLock::new();
        RULES.get_or_init(|| match serde_json::from_str(RULES_JSON) {
            Ok(rules) => rules,
            // A unit test parses the bundled table: this is a build that skipped its tests.
            Err(e) => panic!("portrait_rules.json does not parse: {e}"),
        })
    }

    /// The tags proposals may carry (what confirming accepts).
    pub fn vocabulary(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(|r| r.tag.as_str())
    }

    fn rule(&self, signal: Signal, tag: &str) -> Option<&TagRule> {
        self.tags.iter().find(|r| r.signal == signal && r.tag == tag)
    }
}

/// One matched ticket of a customer, as the request log has it.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketFact {
    pub request_id: String,
    pub at_ms: i64,
    /// Masked ticket text.
    pub text: String,
    pub category: Option<String>,
    pub fault: Option<String>,
    /// An agent marked the answer (or an item of it) `solved`.
    pub solved: bool,
    /// Masked feedback comments on this ticket's answer.
    pub comments: Vec<String>,
}

/// Everything known of one customer.
#[derive(Debug, Clone)]
pub struct CustomerEvidence<'a> {
    pub id: String,
    pub facts: CustomerFacts,
    pub region: Option<String>,
    pub org: Option<String>,
    /// Oldest first.
    pub tickets: Vec<TicketFact>,
    pub cases: Vec<&'a Occurrence>,
}

/// The state of a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Open,
    Confirmed,
    Rejected,
}

/// A tag proposed for a customer, with why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TagProposal {
    /// `tag:<customer id>:<tag>`.
    pub id: String,
    pub customer: Labelled,
    pub tag: String,
    pub score: f64,
    pub threshold: f64,
    /// The rule's reason and how the score met its threshold.
    pub reason: String,
    /// Dated examples: masked ticket snippets with their request ids, cases, record facts.
    pub evidence: Vec<String>,
    /// Request ids of the tickets that count (at most the evidence bound).
    pub request_ids: Vec<String>,
    pub tickets: u64,
    pub cases: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<i64>,
    pub status: ProposalStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at_ms: Option<i64>,
}

/// The id of a proposal (and of its status in the request log).
pub fn proposal_id(customer: &str, tag: &str) -> String {
    format!("tag:{customer}:{tag}")
}

fn snippet(text: &str) -> String {
    let masked = analysis::mask(text).text;
    let mut out: String = masked.chars().take(SNIPPET_CHARS).collect();
    if masked.chars().count() > SNIPPET_CHARS {
        out.push('…');
    }
    out
}

fn date_of(at_ms: i64) -> String {
    calendar::Date::from_days(analytics::day_of(at_ms)).to_string()
}

fn ticket_line(t: &TicketFact) -> String {
    format!("{} {}: {}", date_of(t.at_ms), t.request_id, snippet(&t.text))
}

/// Whether the text holds one of `words` or `run` exclamation marks in a row.
fn says(text: &str, words: &[String], run: Option<usize>) -> bool {
    if words.iter().any(|w| text.contains(w.as_str())) {
        return true;
    }
    let Some(run) = run.filter(|r| *r > 0) else { return false };
    let mut streak = 0;
    for c in text.chars() {
        if c == '!' || c == '！' {
            streak += 1;
            if streak >= run {
                return true;
            }
        } else {
            streak = 0;
        }
    }
    false
}

fn ticket_says(t: &TicketFact, words: &[String], run: Option<usize>) -> bool {
    says(&t.text, words, run) || t.comments.iter().any(|c| says(c, words, run))
}

/// The largest group of tickets on one subject (fault, else category) within `days` days: its
/// subject and tickets.
fn repeated(tickets: &[TicketFact], days: i64) -> Option<(String, Vec<&TicketFact>)> {
    let mut by_subject: BTreeMap<String, Vec<&TicketFact>> = BTreeMap::new();
    for t in tickets {
        let subject = match (&t.fault, &t.category) {
            (Some(fault), _) => fault.clone(),
            (None, Some(category)) => format!("category {category}"),
            (None, None) => continue,
        };
        by_subject.entry(subject).or_default().push(t);
    }
    let mut best: Option<(String, Vec<&TicketFact>)> = None;
    for (subject, mut list) in by_subject {
        list.sort_by(|a, b| a.at_ms.cmp(&b.at_ms).then_with(|| a.request_id.cmp(&b.request_id)));
        let mut start = 0;
        for end in 0..list.len() {
            while list[end].at_ms - list[start].at_ms >= days * DAY_MS {
                start += 1;
            }
            let run = &list[start..=end];
            if best.as_ref().is_none_or(|(_, b)| run.len() > b.len()) {
                best = Some((subject.clone(), run.to_vec()));
            }
        }
    }
    best
}

fn label(labels: &HashMap<String, String>, id: &str) -> String {
    labels.get(id).cloned().unwrap_or_else(|| id.to_string())
}

/// The tags `rules` propose for one customer (status open), strongest first. Tags the record
/// already carries are not proposed; nothing is proposed for a customer without a ticket.
pub fn propose_tags(
    customer: &CustomerEvidence,
    rules: &PortraitRules,
    labels: &HashMap<String, String>,
    evidence_cap: usize,
) -> Vec<TagProposal> {
    if customer.tickets.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for rule in &rules.tags {
        if customer.facts.tags.contains(&rule.tag) {
            continue;
        }
        let mut evidence: Vec<String> = Vec::new();
        let counted: Vec<&TicketFact>;
        let mut cases = 0u64;
        let (score, why) = match rule.signal {
            Signal::Words => {
                counted =
                    customer.tickets.iter().filter(|t| ticket_says(t, &rule.words, rule.exclamation_run)).collect();
                let long: Vec<&&Occurrence> = match rule.case_min_hours_to_restore {
                    Some(hours) if rule.case_weight > 0.0 => {
                        customer.cases.iter().filter(|c| c.hours_to_restore.is_some_and(|h| h >= hours)).collect()
                    }
                    _ => Vec::new(),
                };
                cases = long.len() as u64;
                if (counted.len() as u64) < rule.min_tickets.max(1) {
                    continue;
                }
                evidence.extend(counted.iter().rev().take(evidence_cap).map(|t| ticket_line(t)));
                for case in long.iter().rev().take(evidence_cap.saturating_sub(evidence.len()).max(1)) {
                    evidence.push(format!(
                        "{} case on {}: {} h to restore",
                        calendar::Date::from_days(case.day),
                        label(labels, &case.fault),
                        case.hours_to_restore.unwrap_or_default()
                    ));
                }
                let score = counted.len() as f64 + rule.case_weight * cases as f64;
                let why = if cases > 0 {
                    format!("{} tickets + {} × {cases} long restorations", counted.len(), rule.case_weight)
                } else {
                    format!("{} tickets", counted.len())
                };
                (score, why)
            }
            Signal::Repeat => {
                let Some((subject, run)) = repeated(&customer.tickets, rule.within_days) else { continue };
                if (run.len() as u64) < rule.min_tickets.max(2) {
                    continue;
                }
                let name = subject.strip_prefix("category ").map_or_else(|| label(labels, &subject), str::to_string);
                evidence.push(format!("{} tickets on {name} within {} days", run.len(), rule.within_days));
                evidence.extend(run.iter().rev().take(evidence_cap).map(|t| ticket_line(t)));
                counted = run;
                (
                    counted.len() as f64,
                    format!("{} tickets on one fault within {} days", counted.len(), rule.within_days),
                )
            }
            Signal::Importance => {
                let facts = &customer.facts;
                let mut met = Vec::new();
                if rule.min_devices > 0 && facts.devices >= rule.min_devices {
                    met.push(format!("{} devices on record (≥ {})", facts.devices, rule.min_devices));
                }
                if rule.min_substation_devices > 0 && facts.substation_devices >= rule.min_substation_devices {
                    met.push(format!(
                        "{} devices at substations (≥ {})",
                        facts.substation_devices, rule.min_substation_devices
                    ));
                }
                if let Some(kind) = facts.kind.as_ref().filter(|k| rule.kinds.contains(k)) {
                    met.push(format!("customer type {kind}"));
                }
                if met.is_empty() {
                    continue;
                }
                let score = met.len() as f64;
                let why = met.join("; ");
                evidence = met;
                counted = customer.tickets.iter().collect();
                (score, why)
            }
        };
        if score < rule.threshold {
            continue;
        }
        let times: Vec<i64> = counted.iter().map(|t| t.at_ms).collect();
        out.push(TagProposal {
            id: proposal_id(&customer.id, &rule.tag),
            customer: Labelled { id: customer.id.clone(), label: customer.facts.label.clone() },
            tag: rule.tag.clone(),
            score: (score * 100.0).round() / 100.0,
            threshold: rule.threshold,
            reason: format!("{}: {why}, score {score:.2} ≥ threshold {:.2}", rule.reason, rule.threshold),
            evidence,
            request_ids: counted.iter().rev().take(evidence_cap).map(|t| t.request_id.clone()).collect(),
            tickets: counted.len() as u64,
            cases,
            first_seen_ms: times.iter().min().copied(),
            last_seen_ms: times.iter().max().copied(),
            status: ProposalStatus::Open,
            decided_by: None,
            decided_at_ms: None,
        });
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.tag.cmp(&b.tag)));
    out
}

/// One reason a customer's tickets look like those that preceded complaints.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RiskReason {
    /// `repeat_contact`, `emotional`, `escalation`, `outage`, `long_outage`, `complaint_category`
    /// or `unresolved`.
    pub kind: String,
    pub count: u64,
    /// What the score added for it.
    pub points: f64,
    pub detail: String,
}

/// A customer at risk of complaining.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomerRisk {
    pub customer: Labelled,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    pub score: f64,
    /// Strongest first.
    pub reasons: Vec<RiskReason>,
    /// Tickets in the window.
    pub tickets: u64,
    pub last_ticket_ms: i64,
    /// The latest tickets: request ids with masked snippets.
    pub examples: Vec<String>,
}

/// A region's customers at risk, summed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RegionRisk {
    pub region: String,
    pub customers: u64,
    pub score: f64,
    /// Customers at risk per reason kind.
    pub reasons: BTreeMap<String, u64>,
}

/// The complaint-risk report: customers (paginated by the caller) and their regions.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ComplaintRisk {
    pub customers: Vec<CustomerRisk>,
    pub regions: Vec<RegionRisk>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The complaint-risk score of one customer's tickets (all in the report's window), or `None`
/// below the rules' minimum.
pub fn customer_risk(
    customer: &CustomerEvidence,
    rules: &PortraitRules,
    labels: &HashMap<String, String>,
    evidence_cap: usize,
) -> Option<CustomerRisk> {
    let last = customer.tickets.iter().map(|t| t.at_ms).max()?;
    let r = &rules.risk;
    let mut reasons: Vec<RiskReason> = Vec::new();
    let mut add = |kind: &str, count: u64, weight: f64, detail: String| {
        if count > 0 && weight > 0.0 {
            reasons.push(RiskReason { kind: kind.to_string(), count, points: round2(weight * count as f64), detail });
        }
    };
    if let Some((subject, run)) = repeated(&customer.tickets, r.repeat_days).filter(|(_, run)| run.len() >= 2) {
        let name = subject.strip_prefix("category ").map_or_else(|| label(labels, &subject), str::to_string);
        add(
            "repeat_contact",
            run.len() as u64 - 1,
            r.repeat_weight,
            format!("{} tickets on {name} within {} days", run.len(), r.repeat_days),
        );
    }
    let count = |words: &[String], run: Option<usize>| -> u64 {
        customer.tickets.iter().filter(|t| ticket_says(t, words, run)).count() as u64
    };
    if let Some(rule) = rules.tags.iter().find(|t| t.tag == "情绪化" && t.signal == Signal::Words) {
        let n = count(&rule.words, rule.exclamation_run);
        add("emotional", n, r.emotional_weight, format!("{n} tickets with emotional wording"));
    }
    let n = count(&r.escalation_words, None);
    add("escalation", n, r.escalation_weight, format!("{n} tickets threaten escalation (投诉, 12398, 媒体, ...)"));
    if let Some(rule) = rules.rule(Signal::Words, "停电敏感") {
        let n = count(&rule.words, None);
        add("outage", n, r.outage_weight, format!("{n} outage-related tickets"));
    }
    let long = customer.cases.iter().filter(|c| c.hours_to_restore.is_some_and(|h| h >= r.long_outage_hours)).count();
    add(
        "long_outage",
        long as u64,
        r.long_outage_weight,
        format!("{long} cases restored after {} h or more", r.long_outage_hours),
    );
    let n = customer
        .tickets
        .iter()
        .filter(|t| t.category.as_ref().is_some_and(|c| r.complaint_categories.contains(c)))
        .count() as u64;
    add("complaint_category", n, r.complaint_category_weight, format!("{n} tickets classified as complaints"));
    let n = customer.tickets.iter().filter(|t| !t.solved).count() as u64;
    add("unresolved", n, r.unresolved_weight, format!("{n} tickets without a `solved` verdict"));
    let score: f64 = reasons.iter().map(|r| r.points).sum();
    if score < r.min_score {
        return None;
    }
    reasons.sort_by(|a, b| b.points.total_cmp(&a.points).then_with(|| a.kind.cmp(&b.kind)));
    Some(CustomerRisk {
        customer: Labelled { id: customer.id.clone(), label: customer.facts.label.clone() },
        region: customer.region.clone(),
        org: customer.org.clone(),
        score: round2(score),
        reasons,
        tickets: customer.tickets.len() as u64,
        last_ticket_ms: last,
        examples: customer.tickets.iter().rev().take(evidence_cap).map(ticket_line).collect(),
    })
}

/// The risks of many customers, highest first, with their regions summed.
pub fn complaint_risk(
    customers: &[CustomerEvidence],
    rules: &PortraitRules,
    labels: &HashMap<String, String>,
    evidence_cap: usize,
) -> ComplaintRisk {
    let mut at_risk: Vec<CustomerRisk> =
        customers.iter().filter_map(|c| customer_risk(c, rules, labels, evidence_cap)).collect();
    at_risk.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.customer.id.cmp(&b.customer.id)));
    let mut regions: BTreeMap<String, RegionRisk> = BTreeMap::new();
    for risk in &at_risk {
        let name = risk.region.clone().unwrap_or_else(|| "(unknown)".into());
        let entry = regions.entry(name.clone()).or_insert_with(|| RegionRisk {
            region: name,
            customers: 0,
            score: 0.0,
            reasons: BTreeMap::new(),
        });
        entry.customers += 1;
        entry.score = round2(entry.score + risk.score);
        for reason in &risk.reasons {
            *entry.reasons.entry(reason.kind.clone()).or_default() += 1;
        }
    }
    let mut regions: Vec<RegionRisk> = regions.into_values().collect();
    regions.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.region.cmp(&b.region)));
    ComplaintRisk { customers: at_risk, regions }
}

/// The status an editor or manager set on a proposal. A rejected one opens again when a ticket
/// newer than the rejection counts towards it; one confirmed whose tag is no longer on the
/// record (an editor removed it) is open again.
pub fn apply_decision(proposal: &mut TagProposal, state: &Snapshot) {
    let Some(set) = state.task(&proposal.id) else { return };
    let status = match set.status {
        TaskStatus::Dismissed if proposal.last_seen_ms.is_some_and(|last| last > set.at_ms) => return,
        TaskStatus::Dismissed => ProposalStatus::Rejected,
        TaskStatus::Done | TaskStatus::Open => return,
    };
    proposal.status = status;
    proposal.decided_by = Some(set.by.clone());
    proposal.decided_at_ms = Some(set.at_ms);
}

impl Engine {
    /// The evidence of every customer with a matched ticket in `window` whose organisation (or,
    /// when the customer has none on record, the ticket's) is in `scope`, by customer id.
    pub fn customer_evidence<'h>(
        &self,
        history: &'h ServiceHistory,
        state: &Snapshot,
        scope: &Scope,
        window: Window,
    ) -> Vec<CustomerEvidence<'h>> {
        let mut verdicts: HashMap<&str, (bool, Vec<String>)> = HashMap::new();
        for f in state.feedback() {
            let entry = verdicts.entry(f.request_id.as_str()).or_default();
            entry.0 |= f.verdict == Verdict::Solved;
            if let Some(comment) = &f.comment {
                entry.1.push(comment.clone());
            }
        }
        let mut by_customer: BTreeMap<String, CustomerEvidence<'h>> = BTreeMap::new();
        for r in state.requests() {
            let Some(customer) = r.customer.as_ref().filter(|_| r.route == Some(Route::Ticket)) else { continue };
            let day = analytics::day_of(r.at_ms);
            if !(window.from_day..=window.to_day).contains(&day) {
                continue;
            }
            let place = history.customers.get(customer);
            let org = place.and_then(|p| p.org.clone()).or_else(|| r.org.clone());
            if !scope.admits(org.as_deref()) {
                continue;
            }
            let evidence = by_customer.entry(customer.clone()).or_insert_with(|| CustomerEvidence {
                id: customer.clone(),
                facts: history
                    .customer_facts
                    .get(customer)
                    .cloned()
                    .unwrap_or_else(|| CustomerFacts { label: customer.clone(), ..CustomerFacts::default() }),
                region: place.and_then(|p| p.region.clone()).or_else(|| r.region.clone()),
                org,
                tickets: Vec::new(),
                cases: Vec::new(),
            });
            let (solved, comments) = verdicts.get(r.id.as_str()).cloned().unwrap_or_default();
            evidence.tickets.push(TicketFact {
                request_id: r.id.clone(),
                at_ms: r.at_ms,
                text: r.text.clone(),
                category: r.category.clone(),
                fault: r.faults.first().cloned(),
                solved,
                comments,
            });
        }
        for case in &history.cases {
            if !(window.from_day..=window.to_day).contains(&case.day) {
                continue;
            }
            if let Some(evidence) = case.customer.as_ref().and_then(|c| by_customer.get_mut(c)) {
                evidence.cases.push(case);
            }
        }
        by_customer.into_values().collect()
    }

    /// Proposed customer tags in `scope` from the tickets of `window`, with the decisions taken
    /// so far: strongest first, then customer and tag.
    pub fn tag_proposals(&self, state: &Snapshot, scope: &Scope, window: Window) -> Result<Vec<TagProposal>> {
        let history = self.service_history()?;
        let rules = PortraitRules::bundled();
        let cap = self.limits().portrait_evidence;
        let mut out: Vec<TagProposal> = self
            .customer_evidence(&history, state, scope, window)
            .iter()
            .flat_map(|c| propose_tags(c, rules, &history.labels, cap))
            .collect();
        for proposal in &mut out {
            apply_decision(proposal, state);
        }
        out.sort_by(|a, b| {
            b.score.total_cmp(&a.score).then_with(|| a.customer.id.cmp(&b.customer.id)).then_with(|| a.tag.cmp(&b.tag))
        });
        Ok(out)
    }

    /// Customers (and regions) whose tickets in `window` look like those that preceded
    /// complaints.
    pub fn complaint_risk(&self, state: &Snapshot, scope: &Scope, window: Window) -> Result<ComplaintRisk> {
        let history = self.service_history()?;
        let customers = self.customer_evidence(&history, state, scope, window);
        Ok(complaint_risk(&customers, PortraitRules::bundled(), &history.labels, self.limits().portrait_evidence))
    }

    /// Adds a confirmed `tag` to the customer record `id`: a new version with its audit entry,
    /// live in the graph (and so in ticket matching) when this returns. The customer's
    /// organisation must be in the caller's scope.
    pub fn confirm_customer_tag(&self, ctx: &EditContext, id: &str, tag: &str) -> Result<EntityOutcome, EditError> {
        let in_scope = match (&ctx.role, &ctx.org) {
            (crate::EditRole::Admin, _) => true,
            (_, None) => false,
            (_, Some(org)) => {
                let history = self.service_history()?;
                let customer_org = history.customers.get(id).and_then(|p| p.org.clone());
                self.scope(Some(org))?.admits(customer_org.as_deref())
            }
        };
        if !in_scope {
            return Err(EditError::OutOfScope(
                "the customer belongs to an organisation outside your key's scope".to_string(),
            ));
        }
        let tag = tag.to_string();
        let missing = id.to_string();
        self.edit_entity(ctx, id, move |state| {
            let entity = match state.served.as_ref().map(|s| &s.record) {
                Some(Record::Entity(entity)) if entity.class == EntityClass::Customer => entity,
                _ => return Err(EditError::NotFound(missing)),
            };
            let mut updated = entity.clone();
            let tags = updated.attrs.entry("tags".to_string()).or_insert_with(|| serde_json::Value::Array(Vec::new()));
            let list = match tags {
                serde_json::Value::Array(list) => list,
                other => {
                    *other = serde_json::Value::Array(Vec::new());
                    match other {
                        serde_json::Value::Array(list) => list,
                        _ => return Err(EditError::Engine(Error::Internal("tags are not a list".into()))),
                    }
                }
            };
            if list.iter().any(|t| t.as_str() == Some(tag.as_str())) {
                return Err(EditError::InvalidState(format!("the customer carries the tag {tag} already")));
            }
            list.push(serde_json::Value::String(tag.clone()));
            let from = state.head_version();
            updated.version = from + 1;
            Ok(EditPlan {
                served: Some(Record::Entity(updated)),
                working: WorkingPlan::Keep,
                action: Action::Update,
                reason: Some(format!("confirmed the proposed customer tag {tag}")),
                from_version: Some(from),
                from_status: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = DAY_MS;
    const T0: i64 = 20_000 * DAY;

    fn ticket(id: &str, day: i64, text: &str, fault: Option<&str>, category: &str) -> TicketFact {
        TicketFact {
            request_id: id.into(),
            at_ms: T0 + day * DAY,
            text: text.into(),
            category: Some(category.into()),
            fault: fault.map(str::to_string),
            solved: false,
            comments: vec![],
        }
    }

    fn customer<'a>(id: &str, tickets: Vec<TicketFact>) -> CustomerEvidence<'a> {
        CustomerEvidence {
            id: id.into(),
            facts: CustomerFacts { label: format!("客户{id}"), ..CustomerFacts::default() },
            region: Some("岚东省".into()),
            org: None,
            tickets,
            cases: vec![],
        }
    }

    fn tags(proposals: &[TagProposal]) -> Vec<&str> {
        let mut tags: Vec<&str> = proposals.iter().map(|p| p.tag.as_str()).collect();
        tags.sort();
        tags
    }

    #[test]
    fn the_bundled_rules_parse_and_use_the_strategies_tags() {
        let rules = PortraitRules::bundled();
        let vocabulary: Vec<&str> = rules.vocabulary().collect();
        assert_eq!(vocabulary, ["停电敏感", "电费敏感", "情绪化", "重复来电", "重要客户"]);
        // Each is a tag of a response strategy in the corpus (corpus/authored/items/response_strategies.jsonl).
        let strategies = include_str!("../../../corpus/authored/items/response_strategies.jsonl");
        for tag in vocabulary {
            assert!(strategies.contains(&format!("\"{tag}\"")), "{tag} selects no strategy");
        }
    }

    #[test]
    fn known_customers_get_the_tags_their_tickets_earn() {
        let rules = PortraitRules::bundled();
        let labels = HashMap::new();
        // Outage twice, and angry with an exclamation run and a threat.
        let angry = customer(
            "c-angry",
            vec![
                ticket("r1", 0, "又停电了，生产线停了", Some("f-1"), "fault_repair"),
                ticket("r2", 3, "再不解决就打12398投诉！！", Some("f-1"), "service_complaint"),
                ticket("r3", 4, "昨天跳闸到现在没来电，太差了", Some("f-1"), "fault_repair"),
            ],
        );
        let proposals = propose_tags(&angry, rules, &labels, 5);
        assert_eq!(tags(&proposals), ["停电敏感", "情绪化", "重复来电"], "{proposals:#?}");
        let outage = proposals.iter().find(|p| p.tag == "停电敏感").unwrap();
        assert_eq!((outage.tickets, outage.score), (2, 2.0));
        assert_eq!(outage.request_ids, ["r3", "r1"]);
        assert!(outage.evidence[0].contains("r3") && outage.reason.contains("threshold"), "{outage:#?}");
        assert_eq!(outage.id, "tag:c-angry:停电敏感");
        // Billing, once: below the threshold; twice: proposed.
        let once = customer("c-bill", vec![ticket("b1", 0, "电费账单不对", None, "consultation")]);
        assert!(propose_tags(&once, rules, &labels, 5).is_empty());
        let twice = customer(
            "c-bill",
            vec![
                ticket("b1", 0, "电费账单不对", None, "consultation"),
                ticket("b2", 20, "这个月多扣费了", None, "consultation"),
            ],
        );
        assert_eq!(tags(&propose_tags(&twice, rules, &labels, 5)), ["电费敏感"]);
        // A tag on record is not proposed again.
        let mut tagged = angry.clone();
        tagged.facts.tags = vec!["情绪化".into()];
        assert_eq!(tags(&propose_tags(&tagged, rules, &labels, 5)), ["停电敏感", "重复来电"]);
    }

    #[test]
    fn repeats_need_one_fault_within_the_window_and_importance_needs_the_record() {
        let rules = PortraitRules::bundled();
        let labels = HashMap::from([("f-1".to_string(), "通道告警".to_string())]);
        let spread = customer(
            "c",
            vec![
                ticket("a", 0, "通道告警", Some("f-1"), "fault_repair"),
                ticket("b", 8, "通道告警", Some("f-1"), "fault_repair"),
                ticket("c", 16, "通道告警", Some("f-1"), "fault_repair"),
            ],
        );
        assert!(propose_tags(&spread, rules, &labels, 5).is_empty(), "a week apart each is no repeat");
        let close = customer(
            "c",
            vec![
                ticket("a", 0, "通道告警", Some("f-1"), "fault_repair"),
                ticket("b", 2, "通道告警", Some("f-2"), "fault_repair"),
                ticket("c", 3, "通道告警", Some("f-1"), "fault_repair"),
                ticket("d", 5, "通道告警", Some("f-1"), "fault_repair"),
            ],
        );
        let found = propose_tags(&close, rules, &labels, 5);
        assert_eq!(tags(&found), ["重复来电"]);
        assert!(found[0].evidence[0].starts_with("3 tickets on 通道告警 within 7 days"), "{found:#?}");
        let mut big = customer("big", vec![ticket("a", 0, "咨询", None, "consultation")]);
        big.facts.devices = 35;
        big.facts.kind = Some("医院".into());
        let found = propose_tags(&big, rules, &labels, 5);
        assert_eq!(tags(&found), ["重要客户"]);
        assert_eq!(found[0].score, 2.0);
        big.tickets.clear();
        assert!(propose_tags(&big, rules, &labels, 5).is_empty(), "no ticket, no proposal");
    }

    #[test]
    fn complaint_risk_orders_customers_and_regions_as_expected() {
        let rules = PortraitRules::bundled();
        let labels = HashMap::new();
        let mut calm = customer("c-calm", vec![ticket("q1", 0, "咨询质保期", None, "consultation")]);
        calm.tickets[0].solved = true;
        let angry = customer(
            "c-angry",
            vec![
                ticket("a1", 0, "又停电了", Some("f-1"), "fault_repair"),
                ticket("a2", 1, "还是停电，再不解决就找媒体曝光！！", Some("f-1"), "service_complaint"),
            ],
        );
        let mut repeat = customer(
            "c-repeat",
            vec![
                ticket("p1", 0, "通道告警", Some("f-2"), "fault_repair"),
                ticket("p2", 1, "通道告警", Some("f-2"), "fault_repair"),
                ticket("p3", 2, "通道告警", Some("f-2"), "fault_repair"),
            ],
        );
        repeat.region = Some("澜西省".into());
        let report = complaint_risk(&[calm, repeat, angry], rules, &labels, 5);
        let order: Vec<&str> = report.customers.iter().map(|c| c.customer.id.as_str()).collect();
        assert_eq!(order, ["c-angry", "c-repeat"], "{report:#?}");
        let angry = &report.customers[0];
        // repeat 2×1 + emotional 1.5 + escalation 3 + outage 2×1 + complaint 2 + unresolved 2×0.5
        assert_eq!(angry.score, 11.5);
        assert_eq!(angry.reasons[0].kind, "escalation");
        let kinds: Vec<&str> = angry.reasons.iter().map(|r| r.kind.as_str()).collect();
        assert!(kinds.contains(&"repeat_contact") && kinds.contains(&"emotional"), "{kinds:?}");
        // repeat 2×2 + unresolved 3×0.5
        assert_eq!(report.customers[1].score, 5.5);
        let regions: Vec<(&str, u64)> = report.regions.iter().map(|r| (r.region.as_str(), r.customers)).collect();
        assert_eq!(regions, [("岚东省", 1), ("澜西省", 1)]);
    }

    #[test]
    fn a_rejection_holds_until_newer_evidence_arrives() {
        // The journal's snapshot is built from events; this checks the rule on the proposal alone.
        let mut proposal = TagProposal {
            id: "tag:c:情绪化".into(),
            customer: Labelled { id: "c".into(), label: "c".into() },
            tag: "情绪化".into(),
            score: 2.0,
            threshold: 2.0,
            reason: String::new(),
            evidence: vec![],
            request_ids: vec![],
            tickets: 2,
            cases: 0,
            first_seen_ms: Some(10),
            last_seen_ms: Some(20),
            status: ProposalStatus::Open,
            decided_by: None,
            decided_at_ms: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = journal::Journal::open(dir.path(), journal::JournalLimits::default()).unwrap();
        let reject = |at_ms| journal::TaskEvent {
            task_id: proposal.id.clone(),
            status: TaskStatus::Dismissed,
            by: "经理".into(),
            at_ms,
        };
        journal.set_task(reject(30)).unwrap();
        apply_decision(&mut proposal, &journal.snapshot());
        assert_eq!((proposal.status, proposal.decided_by.as_deref()), (ProposalStatus::Rejected, Some("经理")));
        proposal.status = ProposalStatus::Open;
        proposal.last_seen_ms = Some(40);
        apply_decision(&mut proposal, &journal.snapshot());
        assert_eq!(proposal.status, ProposalStatus::Open, "a newer ticket opens it again");
    }
}
