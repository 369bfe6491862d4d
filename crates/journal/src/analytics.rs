//! Figures computed from recorded requests and verdicts: clusters of requests that ask the same
//! thing, knowledge gaps, hot issues with their trend and spikes, the zero-result rate and the
//! category mix per day, verdicts per item. Pure functions of their input: the same events give
//! the same figures in the same order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::event::{FeedbackEvent, RequestEvent, Route, Verdict};

pub use calendar::DAY_MS;

/// Two requests belong together from this Jaccard similarity of their features (terms of two or
/// more characters, and the graph entities they name).
pub const CLUSTER_THRESHOLD: f32 = 0.5;
/// A ticket matched with a category confidence below this counts as a knowledge gap.
pub const GAP_CONFIDENCE: f32 = 0.3;
/// A request whose best result matched less than this share of its terms counts as a gap.
pub const GAP_COVERAGE: f32 = 0.34;
/// Example texts kept per cluster.
pub const EXAMPLES: usize = 3;
/// A hot issue spikes when its count reaches this factor of the previous period's ...
pub const SPIKE_FACTOR: f64 = 2.0;
/// ... and at least this many requests.
pub const SPIKE_MIN: u64 = 5;

/// Day number (days since 1970-01-01, UTC) of a time in ms.
pub fn day_of(at_ms: i64) -> i64 {
    calendar::Date::of_unix_ms(at_ms).days()
}

/// What clustering compares: distinct terms of two or more characters, and `@`-prefixed ids of
/// the products and faults the request named.
pub fn features(request: &RequestEvent) -> BTreeSet<String> {
    let terms = request.terms.iter().filter(|t| t.chars().count() >= 2).cloned();
    let entities = request.products.iter().chain(&request.faults).map(|id| format!("@{id}"));
    terms.chain(entities).collect()
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f32 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let shared = a.intersection(b).count();
    shared as f32 / (a.len() + b.len() - shared) as f32
}

/// A stable id: FNV-1a over the leader's sorted features (or its text when it has none).
fn stable_id(prefix: &str, leader: &BTreeSet<String>, text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    if leader.is_empty() {
        eat(text.as_bytes());
    }
    for feature in leader {
        eat(feature.as_bytes());
        eat(&[0]);
    }
    format!("{prefix}-{hash:016x}")
}

/// Requests that ask the same thing.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Cluster {
    /// Stable while the cluster's first request is kept.
    pub id: String,
    /// The first request's (masked) text.
    pub label: String,
    /// The features most members share, most frequent first.
    pub terms: Vec<String>,
    /// Indexes of the members in the input, oldest first.
    #[serde(skip)]
    pub members: Vec<usize>,
}

/// Members of a cluster a new request is compared with (its first ones).
const REPRESENTATIVES: usize = 20;

/// Clustering in time order: each request joins the clusters whose representatives (each
/// cluster's first [`REPRESENTATIVES`] members) it resembles (Jaccard ≥ `threshold`), merging them
/// when it resembles several — a later phrasing that bridges two earlier ones makes them one — or
/// begins a new cluster. So the result does not depend on which phrasing came first. An inverted
/// index from feature to representative keeps each request's comparisons to those it shares a
/// feature with.
pub fn cluster(requests: &[&RequestEvent], threshold: f32) -> Vec<Cluster> {
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by(|&a, &b| requests[a].at_ms.cmp(&requests[b].at_ms).then_with(|| requests[a].id.cmp(&requests[b].id)));
    // Union-find over clusters: `parent[c]` leads to the cluster that absorbed `c`.
    let mut parent: Vec<usize> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut represented: Vec<usize> = Vec::new();
    // Representatives: (cluster when indexed, features); the index maps a feature to them.
    let mut representatives: Vec<(usize, BTreeSet<String>)> = Vec::new();
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    // Requests with no feature at all cluster by their exact text.
    let mut by_text: HashMap<&str, usize> = HashMap::new();
    fn root(parent: &mut [usize], mut c: usize) -> usize {
        while parent[c] != c {
            parent[c] = parent[parent[c]];
            c = parent[c];
        }
        c
    }
    for &i in &order {
        let feats = features(requests[i]);
        if feats.is_empty() {
            let text = requests[i].text.as_str();
            if let Some(&c) = by_text.get(text) {
                members[c].push(i);
            } else {
                by_text.insert(text, parent.len());
                parent.push(parent.len());
                members.push(vec![i]);
                represented.push(0);
            }
            continue;
        }
        let candidates: BTreeSet<usize> = feats.iter().filter_map(|f| index.get(f)).flatten().copied().collect();
        let mut similar: BTreeSet<usize> = BTreeSet::new();
        for r in candidates {
            if jaccard(&feats, &representatives[r].1) >= threshold {
                similar.insert(root(&mut parent, representatives[r].0));
            }
        }
        // The earliest cluster absorbs the others (cluster numbers grow with time).
        let c = match similar.first().copied() {
            Some(first) => {
                for &other in similar.iter().skip(1) {
                    parent[other] = first;
                    let moved = std::mem::take(&mut members[other]);
                    members[first].extend(moved);
                    represented[first] += represented[other];
                }
                members[first].push(i);
                first
            }
            None => {
                parent.push(parent.len());
                members.push(vec![i]);
                represented.push(0);
                parent.len() - 1
            }
        };
        if represented[c] < REPRESENTATIVES {
            represented[c] += 1;
            let r = representatives.len();
            for f in &feats {
                index.entry(f.clone()).or_default().push(r);
            }
            representatives.push((c, feats));
        }
    }
    let rank: HashMap<usize, usize> = order.iter().enumerate().map(|(position, &i)| (i, position)).collect();
    members
        .into_iter()
        .filter(|m| !m.is_empty())
        .map(|mut members| {
            members.sort_by_key(|m| rank[m]);
            let first = requests[members[0]];
            let leader = features(first);
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for &m in &members {
                for f in features(requests[m]) {
                    *counts.entry(f).or_default() += 1;
                }
            }
            let mut terms: Vec<(String, usize)> = counts.into_iter().collect();
            terms.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            Cluster {
                id: stable_id("c", &leader, &first.text),
                label: first.text.clone(),
                terms: terms.into_iter().take(5).map(|(t, _)| t).collect(),
                members,
            }
        })
        .collect()
}

/// Distinct texts of a cluster's members, newest first.
fn examples(requests: &[&RequestEvent], members: &[usize]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for &m in members.iter().rev() {
        if seen.insert(requests[m].text.as_str()) {
            out.push(requests[m].text.clone());
            if out.len() == EXAMPLES {
                break;
            }
        }
    }
    out
}

/// Whether a request found nothing useful: no result, a best result that matched only a small
/// part of the question (`coverage`), or a ticket whose category was a guess.
pub fn is_gap(request: &RequestEvent) -> bool {
    request.zero
        || request.coverage.is_some_and(|c| c < GAP_COVERAGE)
        || request.confidence.is_some_and(|c| c < GAP_CONFIDENCE)
}

/// Questions the knowledge base could not answer, as one entry per cluster.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Gap {
    pub id: String,
    pub label: String,
    pub terms: Vec<String>,
    pub count: u64,
    pub examples: Vec<String>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub routes: Vec<Route>,
}

/// The knowledge gaps among `requests`, most frequent first.
pub fn gaps(requests: &[&RequestEvent]) -> Vec<Gap> {
    let missing: Vec<&RequestEvent> = requests.iter().copied().filter(|r| is_gap(r)).collect();
    let mut gaps: Vec<Gap> = cluster(&missing, CLUSTER_THRESHOLD)
        .into_iter()
        .map(|c| {
            let times = c.members.iter().map(|&m| missing[m].at_ms);
            let routes: BTreeSet<Route> = c.members.iter().filter_map(|&m| missing[m].route).collect();
            Gap {
                id: c.id.replacen("c-", "gap-", 1),
                count: c.members.len() as u64,
                examples: examples(&missing, &c.members),
                first_seen_ms: times.clone().min().unwrap_or(0),
                last_seen_ms: times.max().unwrap_or(0),
                routes: routes.into_iter().collect(),
                label: c.label,
                terms: c.terms,
            }
        })
        .collect();
    gaps.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| b.last_seen_ms.cmp(&a.last_seen_ms)).then(a.id.cmp(&b.id)));
    gaps
}

/// The length of one period of a hot-issue report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
}

impl Period {
    pub fn days(self) -> i64 {
        match self {
            Period::Day => 1,
            Period::Week => 7,
        }
    }
}

/// A topic many requests asked about, with its count per period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HotIssue {
    pub id: String,
    pub label: String,
    pub terms: Vec<String>,
    /// Requests in the last period.
    pub count: u64,
    /// Requests in the period before it.
    pub previous: u64,
    /// Requests per period, oldest first; the last is `count`.
    pub trend: Vec<u64>,
    /// At least `SPIKE_MIN` requests and `SPIKE_FACTOR` times the previous period.
    pub spike: bool,
    pub examples: Vec<String>,
}

/// Hot issues of the `periods` periods that end with the day `last_day` (included), ranked by
/// their count in the last period, then the previous one.
pub fn hot_issues(requests: &[&RequestEvent], period: Period, last_day: i64, periods: usize) -> Vec<HotIssue> {
    let periods = periods.max(2);
    let span = period.days();
    let first_day = last_day - span * periods as i64 + 1;
    let window: Vec<&RequestEvent> =
        requests.iter().copied().filter(|r| (first_day..=last_day).contains(&day_of(r.at_ms))).collect();
    let mut issues: Vec<HotIssue> = cluster(&window, CLUSTER_THRESHOLD)
        .into_iter()
        .map(|c| {
            let mut trend = vec![0u64; periods];
            for &m in &c.members {
                let slot = ((day_of(window[m].at_ms) - first_day) / span) as usize;
                trend[slot.min(periods - 1)] += 1;
            }
            let count = trend[periods - 1];
            let previous = trend[periods - 2];
            HotIssue {
                id: c.id,
                examples: examples(&window, &c.members),
                label: c.label,
                terms: c.terms,
                count,
                previous,
                spike: count >= SPIKE_MIN && count as f64 >= SPIKE_FACTOR * previous as f64,
                trend,
            }
        })
        .filter(|h| h.count > 0)
        .collect();
    issues.sort_by(|a, b| b.count.cmp(&a.count).then(b.previous.cmp(&a.previous)).then_with(|| a.id.cmp(&b.id)));
    issues
}

/// Requests and those with no result on one day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DayRate {
    pub day: i64,
    pub requests: u64,
    pub zero: u64,
    /// `zero / requests`.
    pub rate: f64,
}

/// The zero-result rate per day, oldest first (days without requests are left out).
pub fn zero_results(requests: &[&RequestEvent]) -> Vec<DayRate> {
    let mut days: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for r in requests {
        let entry = days.entry(day_of(r.at_ms)).or_default();
        entry.0 += 1;
        entry.1 += u64::from(r.zero);
    }
    days.into_iter()
        .map(|(day, (requests, zero))| DayRate { day, requests, zero, rate: zero as f64 / requests as f64 })
        .collect()
}

/// Matched tickets per predicted category on one day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DayCategories {
    pub day: i64,
    pub categories: BTreeMap<String, u64>,
}

/// The category mix of matched tickets per day, oldest first.
pub fn category_mix(requests: &[&RequestEvent]) -> Vec<DayCategories> {
    let mut days: BTreeMap<i64, BTreeMap<String, u64>> = BTreeMap::new();
    for r in requests {
        if let Some(category) = &r.category {
            *days.entry(day_of(r.at_ms)).or_default().entry(category.clone()).or_default() += 1;
        }
    }
    days.into_iter().map(|(day, categories)| DayCategories { day, categories }).collect()
}

/// Verdicts on one item.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ItemFeedback {
    pub item: String,
    pub helpful: u64,
    pub not_helpful: u64,
    pub solved: u64,
    pub wrong: u64,
    pub outdated: u64,
    /// (helpful + solved) / all verdicts.
    pub helpful_rate: f64,
    pub last_ms: i64,
}

impl ItemFeedback {
    fn new(item: &str) -> ItemFeedback {
        ItemFeedback {
            item: item.to_string(),
            helpful: 0,
            not_helpful: 0,
            solved: 0,
            wrong: 0,
            outdated: 0,
            helpful_rate: 0.0,
            last_ms: 0,
        }
    }

    fn add(&mut self, verdict: Verdict, at_ms: i64) {
        *match verdict {
            Verdict::Helpful => &mut self.helpful,
            Verdict::NotHelpful => &mut self.not_helpful,
            Verdict::Solved => &mut self.solved,
            Verdict::Wrong => &mut self.wrong,
            Verdict::Outdated => &mut self.outdated,
        } += 1;
        self.last_ms = self.last_ms.max(at_ms);
        let positive = self.helpful + self.solved;
        self.helpful_rate = positive as f64 / self.total() as f64;
    }

    pub fn total(&self) -> u64 {
        self.helpful + self.not_helpful + self.solved + self.wrong + self.outdated
    }
}

/// Verdicts per item (feedback on a whole request names no item and is left out), most verdicts
/// first.
pub fn feedback_by_item<'a>(feedback: impl IntoIterator<Item = &'a FeedbackEvent>) -> Vec<ItemFeedback> {
    let mut items: BTreeMap<&str, ItemFeedback> = BTreeMap::new();
    for f in feedback {
        if let Some(item) = &f.item_id {
            items.entry(item).or_insert_with(|| ItemFeedback::new(item)).add(f.verdict, f.at_ms);
        }
    }
    let mut out: Vec<ItemFeedback> = items.into_values().collect();
    out.sort_by(|a, b| b.total().cmp(&a.total()).then_with(|| a.item.cmp(&b.item)));
    out
}

/// Verdicts counted by the organisation of the key that gave them (`(none)` without one).
pub fn feedback_by_org<'a>(
    feedback: impl IntoIterator<Item = &'a FeedbackEvent>,
) -> BTreeMap<String, BTreeMap<Verdict, u64>> {
    let mut out: BTreeMap<String, BTreeMap<Verdict, u64>> = BTreeMap::new();
    for f in feedback {
        let org = f.org.clone().unwrap_or_else(|| "(none)".to_string());
        *out.entry(org).or_default().entry(f.verdict).or_default() += 1;
    }
    out
}
