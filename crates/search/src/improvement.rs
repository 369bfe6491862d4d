//! The improvement loop's figures, joined with what the engine knows: the editors' knowledge
//! tasks (flagged and unhelpful items, knowledge gaps, stale and overdue items) and the managers'
//! analytics (hot issues, recurring faults, category mix, zero-result rate, feedback), each
//! limited to an organisation scope. The request log itself is the `journal` crate's; this module
//! only reads it.

use std::collections::{BTreeMap, HashSet};

use journal::analytics::{self, DAY_MS, DayCategories, DayRate, Gap, HotIssue, ItemFeedback, Period};
use journal::{RequestEvent, Route, Snapshot, TaskStatus, Verdict};
use serde::Serialize;
use store::{EntityClass, Status};

use crate::service_history::{Occurrence, RecurringFault, Source, recurring_faults};
use crate::{Engine, Result};

/// An item needs a look when at least this many verdicts on it ...
pub const LOW_HELPFUL_MIN_VERDICTS: u64 = 5;
/// ... found it helpful (or solving) less often than this.
pub const LOW_HELPFUL_RATE: f64 = 0.4;
/// Comments and examples shown as a task's evidence.
const EVIDENCE: usize = 5;

/// A range of days, both ends included (days since 1970-01-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_day: i64,
    pub to_day: i64,
}

impl Window {
    fn contains_ms(&self, at_ms: i64) -> bool {
        (self.from_day..=self.to_day).contains(&analytics::day_of(at_ms))
    }
}

/// What a caller may see: everything, or what belongs to one organisation and the units below it.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    units: Option<HashSet<String>>,
}

impl Scope {
    pub fn everything() -> Scope {
        Scope { units: None }
    }

    /// Whether something of organisation `org` is in scope (nothing without an organisation is,
    /// unless the scope is everything).
    pub fn admits(&self, org: Option<&str>) -> bool {
        match (&self.units, org) {
            (None, _) => true,
            (Some(units), Some(org)) => units.contains(org),
            (Some(_), None) => false,
        }
    }
}

/// The kinds of knowledge task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Agents marked the item `wrong` or `outdated`.
    Flagged,
    /// Many verdicts, few of them helpful.
    LowHelpful,
    /// Questions nothing answered (zero results or a low-confidence match), clustered.
    Gap,
    /// The item cites a regulation a newer edition replaced.
    Stale,
    /// The item's review date has passed.
    OverdueReview,
    /// Two items that say the same thing (`duplicates.rs`, as an editor's save checks it).
    Duplicate,
}

impl TaskKind {
    pub fn code(self) -> &'static str {
        match self {
            TaskKind::Flagged => "flagged",
            TaskKind::LowHelpful => "low_helpful",
            TaskKind::Gap => "gap",
            TaskKind::Stale => "stale",
            TaskKind::OverdueReview => "overdue_review",
            TaskKind::Duplicate => "duplicate",
        }
    }
}

/// What a task is about: an item, or (for a gap) a cluster of questions.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TaskSubject {
    /// The item id; `None` for a gap.
    pub id: Option<String>,
    pub label: String,
}

/// One entry of the editors' task queue.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KnowledgeTask {
    /// Stable: `<kind>:<item id>`, `duplicate:<id>+<id>` for a pair, or the gap cluster's id.
    pub id: String,
    pub kind: TaskKind,
    pub subject: TaskSubject,
    /// Why: comments, example questions (masked), the superseding regulation, the review date.
    pub evidence: Vec<String>,
    pub count: u64,
    /// Milliseconds since the epoch, where the task comes from recorded events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<i64>,
    pub status: TaskStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at_ms: Option<i64>,
}

/// Feedback, summed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FeedbackReport {
    /// Verdicts by kind of verdict.
    pub by_verdict: BTreeMap<String, u64>,
    /// Per item (with its title and kind), most verdicts first.
    pub items: Vec<ItemFeedbackRow>,
    /// Per item kind, then verdict.
    pub by_kind: BTreeMap<String, BTreeMap<String, u64>>,
    /// Per organisation of the key that gave the verdict, then verdict.
    pub by_org: BTreeMap<String, BTreeMap<String, u64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ItemFeedbackRow {
    pub title: String,
    pub kind: String,
    #[serde(flatten)]
    pub feedback: ItemFeedback,
}

fn verdict_map(map: &BTreeMap<Verdict, u64>) -> BTreeMap<String, u64> {
    map.iter().map(|(v, n)| (v.as_str().to_string(), *n)).collect()
}

impl Engine {
    /// The scope of a key of organisation `org` (everything without one).
    pub fn scope(&self, org: Option<&str>) -> Result<Scope> {
        let Some(org) = org else { return Ok(Scope::everything()) };
        self.catalogue_read(|c| {
            let units = c.org_units().filter(|u| c.orgs().within(u, org)).map(str::to_string).collect();
            Scope { units: Some(units) }
        })
    }

    /// The recorded requests in `scope` and `window`.
    pub fn scoped_requests<'s>(state: &'s Snapshot, scope: &Scope, window: Window) -> Vec<&'s RequestEvent> {
        state.requests().filter(|r| window.contains_ms(r.at_ms) && scope.admits(r.org.as_deref())).collect()
    }

    /// The editors' task queue in `scope` (every status), in a stable order: kind, then count
    /// (most first), then id.
    pub fn knowledge_tasks(
        &self,
        state: &Snapshot,
        scope: &Scope,
        today: calendar::Date,
    ) -> Result<Vec<KnowledgeTask>> {
        let mut tasks = Vec::new();
        // Items: what agents said about them.
        let feedback: Vec<&journal::FeedbackEvent> = state.feedback().collect();
        let per_item = analytics::feedback_by_item(feedback.iter().copied());
        let summaries = self.catalogue_read(|c| {
            per_item
                .iter()
                .filter_map(|f| c.served(&f.item).map(|s| (f.item.clone(), (s.title.clone(), s.owner_org.clone()))))
                .collect::<BTreeMap<_, _>>()
        })?;
        for item in &per_item {
            let Some((title, org)) = summaries.get(&item.item) else { continue };
            if !scope.admits(org.as_deref()) {
                continue;
            }
            let on_item: Vec<&&journal::FeedbackEvent> =
                feedback.iter().filter(|f| f.item_id.as_deref() == Some(item.item.as_str())).collect();
            let flags: Vec<&&journal::FeedbackEvent> =
                on_item.iter().copied().filter(|f| matches!(f.verdict, Verdict::Wrong | Verdict::Outdated)).collect();
            if !flags.is_empty() {
                let evidence = flags
                    .iter()
                    .rev()
                    .map(|f| match &f.comment {
                        Some(c) => format!("{}: {c}", f.verdict.as_str()),
                        None => f.verdict.as_str().to_string(),
                    })
                    .take(EVIDENCE)
                    .collect();
                tasks.push(task(
                    TaskKind::Flagged,
                    Some(&item.item),
                    title,
                    evidence,
                    flags.len() as u64,
                    flags.iter().map(|f| f.at_ms),
                ));
            }
            if item.total() >= LOW_HELPFUL_MIN_VERDICTS && item.helpful_rate < LOW_HELPFUL_RATE {
                let evidence = vec![format!(
                    "{} of {} verdicts helpful or solved ({:.0}%)",
                    item.helpful + item.solved,
                    item.total(),
                    item.helpful_rate * 100.0
                )];
                tasks.push(task(
                    TaskKind::LowHelpful,
                    Some(&item.item),
                    title,
                    evidence,
                    item.total(),
                    on_item.iter().map(|f| f.at_ms),
                ));
            }
        }
        // Questions nothing answered.
        tasks.extend(gap_tasks(state, scope));
        // Items: what the graph and the calendar say.
        if let Some(graph) = self.graph() {
            for stale in graph::stale_items(graph, self.limits.max_listing)? {
                let org = self.catalogue_read(|c| c.served(&stale.item.id).and_then(|s| s.owner_org.clone()))?;
                if scope.admits(org.as_deref()) {
                    let evidence = vec![format!(
                        "cites {} ({}), replaced by {} ({})",
                        stale.cites.label, stale.cites.id, stale.replaced_by.label, stale.replaced_by.id
                    )];
                    tasks.push(task(TaskKind::Stale, Some(&stale.item.id), &stale.item.label, evidence, 1, []));
                }
            }
        }
        let today_text = today.to_string();
        let overdue = self.catalogue_read(|c| {
            c.heads()
                .filter(|s| s.status == Status::Published)
                .filter(|s| s.review_by.as_deref().is_some_and(|d| d < today_text.as_str()))
                .filter(|s| scope.admits(s.owner_org.as_deref()))
                .map(|s| (s.id.clone(), s.title.clone(), s.review_by.clone().unwrap_or_default()))
                .collect::<Vec<_>>()
        })?;
        for (id, title, review_by) in overdue {
            tasks.push(task(
                TaskKind::OverdueReview,
                Some(&id),
                &title,
                vec![format!("review was due {review_by}")],
                1,
                [],
            ));
        }
        for pair in self.duplicate_pairs(scope)? {
            tasks.push(duplicate_task(pair));
        }
        for task in &mut tasks {
            apply_status(task, state);
        }
        tasks.sort_by(|a, b| a.kind.cmp(&b.kind).then(b.count.cmp(&a.count)).then_with(|| a.id.cmp(&b.id)));
        Ok(tasks)
    }

    /// Open knowledge-gap tasks over everything recorded (for `/metrics`): the gap part of
    /// [`Engine::knowledge_tasks`] alone, without the item, graph and catalogue work.
    pub fn open_gap_tasks(state: &Snapshot) -> usize {
        gap_tasks(state, &Scope::everything())
            .into_iter()
            .map(|mut task| {
                apply_status(&mut task, state);
                task
            })
            .filter(|task| task.status == TaskStatus::Open)
            .count()
    }

    /// Hot issues of `periods` periods ending on `last_day`.
    pub fn hot_issues(
        &self,
        state: &Snapshot,
        scope: &Scope,
        period: Period,
        last_day: i64,
        periods: usize,
    ) -> Vec<HotIssue> {
        let from_day = last_day - period.days() * periods.max(2) as i64 + 1;
        let window = Window { from_day, to_day: last_day };
        analytics::hot_issues(&Self::scoped_requests(state, scope, window), period, last_day, periods)
    }

    pub fn knowledge_gaps(&self, state: &Snapshot, scope: &Scope, window: Window) -> Vec<Gap> {
        analytics::gaps(&Self::scoped_requests(state, scope, window))
    }

    pub fn zero_result_rate(&self, state: &Snapshot, scope: &Scope, window: Window) -> Vec<DayRate> {
        analytics::zero_results(&Self::scoped_requests(state, scope, window))
    }

    pub fn category_mix(&self, state: &Snapshot, scope: &Scope, window: Window) -> Vec<DayCategories> {
        analytics::category_mix(&Self::scoped_requests(state, scope, window))
    }

    /// Recurring faults from the solved cases and the matched tickets in `window`.
    pub fn recurring_faults(
        &self,
        state: &Snapshot,
        scope: &Scope,
        window: Window,
        min_count: u64,
    ) -> Result<Vec<RecurringFault>> {
        let history = self.service_history()?;
        let models: HashSet<String> = self.catalogue_read(|c| {
            c.entities().filter(|e| e.class == EntityClass::ProductModel).map(|e| e.id.clone()).collect()
        })?;
        let tickets: Vec<Occurrence> = Self::scoped_requests(state, scope, window)
            .into_iter()
            .filter(|r| r.route == Some(Route::Ticket))
            .filter_map(|r| {
                let model = r.model.clone().or_else(|| r.products.iter().find(|p| models.contains(*p)).cloned())?;
                let fault = r.faults.first()?.clone();
                let place = r.customer.as_ref().and_then(|c| history.customers.get(c)).cloned().unwrap_or_default();
                Some(Occurrence {
                    day: analytics::day_of(r.at_ms),
                    fault,
                    model,
                    region: r.region.clone().or(place.region),
                    org: place.org.or_else(|| r.org.clone()),
                    customer: r.customer.clone(),
                    device: r.device.clone(),
                    source: Source::Ticket,
                    category: r.category.clone(),
                    hours_to_restore: None,
                })
            })
            .collect();
        let cases = history.cases.iter().filter(|o| scope.admits(o.org.as_deref()));
        Ok(recurring_faults(cases.chain(&tickets), window.from_day, window.to_day, min_count, &history.labels))
    }

    /// Verdicts in `scope` and `window`, summed per item, item kind and organisation.
    pub fn feedback_report(&self, state: &Snapshot, scope: &Scope, window: Window) -> Result<FeedbackReport> {
        let feedback: Vec<&journal::FeedbackEvent> =
            state.feedback().filter(|f| window.contains_ms(f.at_ms) && scope.admits(f.org.as_deref())).collect();
        let mut by_verdict: BTreeMap<Verdict, u64> = BTreeMap::new();
        for f in &feedback {
            *by_verdict.entry(f.verdict).or_default() += 1;
        }
        let per_item = analytics::feedback_by_item(feedback.iter().copied());
        let items: Vec<ItemFeedbackRow> = self.catalogue_read(|c| {
            per_item
                .into_iter()
                .map(|f| {
                    let (title, kind) = c.served(&f.item).map_or_else(
                        || (f.item.clone(), String::new()),
                        |s| (s.title.clone(), s.kind.code().to_string()),
                    );
                    ItemFeedbackRow { title, kind, feedback: f }
                })
                .collect()
        })?;
        let mut by_kind: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for row in &items {
            let entry = by_kind.entry(row.kind.clone()).or_default();
            for (verdict, n) in [
                (Verdict::Helpful, row.feedback.helpful),
                (Verdict::NotHelpful, row.feedback.not_helpful),
                (Verdict::Solved, row.feedback.solved),
                (Verdict::Wrong, row.feedback.wrong),
                (Verdict::Outdated, row.feedback.outdated),
            ] {
                if n > 0 {
                    *entry.entry(verdict.as_str().to_string()).or_default() += n;
                }
            }
        }
        let by_org = analytics::feedback_by_org(feedback.iter().copied())
            .into_iter()
            .map(|(org, verdicts)| (org, verdict_map(&verdicts)))
            .collect();
        Ok(FeedbackReport { by_verdict: verdict_map(&by_verdict), items, by_kind, by_org })
    }
}

fn task(
    kind: TaskKind,
    item: Option<&str>,
    label: &str,
    evidence: Vec<String>,
    count: u64,
    times: impl IntoIterator<Item = i64>,
) -> KnowledgeTask {
    let times: Vec<i64> = times.into_iter().collect();
    KnowledgeTask {
        id: format!("{}:{}", kind.code(), item.unwrap_or_default()),
        kind,
        subject: TaskSubject { id: item.map(str::to_string), label: label.to_string() },
        evidence,
        count,
        first_seen_ms: times.iter().min().copied(),
        last_seen_ms: times.iter().max().copied(),
        status: TaskStatus::Open,
        closed_by: None,
        closed_at_ms: None,
    }
}

/// One task per knowledge gap among every recorded request in `scope` (status not yet applied).
fn gap_tasks(state: &Snapshot, scope: &Scope) -> Vec<KnowledgeTask> {
    let all_days = Window { from_day: i64::MIN / DAY_MS, to_day: i64::MAX / DAY_MS };
    analytics::gaps(&Engine::scoped_requests(state, scope, all_days)).into_iter().map(gap_task).collect()
}

fn duplicate_task(pair: crate::duplicates::DuplicatePair) -> KnowledgeTask {
    use crate::duplicates::Reason;
    let mut evidence = vec![format!("similarity {:.3}", pair.similarity)];
    for why in &pair.why {
        evidence.push(match why {
            Reason::BodyOverlap { jaccard } => format!("body terms in common (Jaccard) {jaccard:.3}"),
            Reason::SharedTitleTerms { terms } => format!("shared title terms: {}", terms.join(" ")),
            Reason::SemanticCosine { value } => format!("semantic cosine {value:.3}"),
            Reason::SameProductAndFault { products, faults } => {
                format!("same product ({}) and fault ({})", products.join(", "), faults.join(", "))
            }
        });
    }
    for side in [&pair.a, &pair.b] {
        evidence.push(format!("{} ({}, {}): {}", side.id, side.kind, side.status, side.title));
    }
    let saved = i64::try_from(pair.updated_at_ms).ok();
    KnowledgeTask {
        id: format!("{}:{}+{}", TaskKind::Duplicate.code(), pair.a.id, pair.b.id),
        kind: TaskKind::Duplicate,
        subject: TaskSubject { id: Some(pair.a.id.clone()), label: format!("{} ↔ {}", pair.a.title, pair.b.title) },
        evidence,
        count: 1,
        first_seen_ms: saved,
        // A pair marked done opens again when either item is saved after it and still matches.
        last_seen_ms: saved,
        status: TaskStatus::Open,
        closed_by: None,
        closed_at_ms: None,
    }
}

fn gap_task(gap: Gap) -> KnowledgeTask {
    let mut evidence = gap.examples;
    if !gap.terms.is_empty() {
        evidence.push(format!("terms: {}", gap.terms.join(" ")));
    }
    KnowledgeTask {
        id: gap.id,
        kind: TaskKind::Gap,
        subject: TaskSubject { id: None, label: gap.label },
        evidence,
        count: gap.count,
        first_seen_ms: Some(gap.first_seen_ms),
        last_seen_ms: Some(gap.last_seen_ms),
        status: TaskStatus::Open,
        closed_by: None,
        closed_at_ms: None,
    }
}

/// The status an editor set; a task marked done opens again when new evidence arrives after it
/// (a dismissed one stays dismissed).
fn apply_status(task: &mut KnowledgeTask, state: &Snapshot) {
    let Some(set) = state.task(&task.id) else { return };
    let reopened = set.status == TaskStatus::Done && task.last_seen_ms.is_some_and(|last| last > set.at_ms);
    if !reopened {
        task.status = set.status;
    }
    if set.status != TaskStatus::Open {
        task.closed_by = Some(set.by.clone());
        task.closed_at_ms = Some(set.at_ms);
    }
}
