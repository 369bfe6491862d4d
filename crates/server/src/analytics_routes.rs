//! The service managers' analytics: `GET /v1/analytics/...` — hot issues, knowledge gaps,
//! recurring faults, category mix, zero-result rate, feedback, warranty expiries, complaint risk. Each report is
//! limited to the key's organisation scope, deterministic, and paginated where it is a list.

use axum::Json;
use axum::extract::State;
use axum::{Extension, response::IntoResponse, response::Response};
use journal::analytics::Period;
use search::Limits;
use search::improvement::{Scope, Window};
use serde::Serialize;

use crate::auth::Principal;
use crate::extract::QueryPairs;
use crate::{ApiError, AppState, ErrorCode};

/// Days a report covers when `since` is not given (four weeks, `until` included; or
/// `max_report_days`, when that limit is lower).
const DEFAULT_DAYS: i64 = 28;
/// Periods of a hot-issue trend when `periods` is not given (or `max_report_periods`, when that
/// limit is lower).
const DEFAULT_PERIODS: usize = 8;
/// Occurrences from which a fault on one model is recurring, when `min_count` is not given.
const DEFAULT_MIN_COUNT: u64 = 3;
/// Window of the warranty report when `days` is not given.
const DEFAULT_WARRANTY_DAYS: i64 = 90;

/// The parameters every report shares.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub(crate) window: Window,
    pub(crate) offset: usize,
    pub(crate) limit: usize,
    period: Period,
    periods: usize,
    min_count: u64,
    days: i64,
}

fn bad(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidParameter, message.to_string())
}

fn day(name: &str, value: &str) -> Result<i64, ApiError> {
    calendar::Date::parse(value.trim())
        .map(calendar::Date::days)
        .map_err(|_| bad(&format!("`{name}` is a date YYYY-MM-DD")))
}

fn number<T>(name: &str, value: &str, min: T, max: T) -> Result<T, ApiError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    value
        .trim()
        .parse::<T>()
        .ok()
        .filter(|n| *n >= min && *n <= max)
        .ok_or_else(|| bad(&format!("`{name}` is a whole number from {min} to {max}")))
}

/// Reads `since`, `until`, `limit`, `offset` and the report's own parameters (`allowed`), within
/// `limits` (the window, the periods and the page).
pub(crate) fn params(pairs: &[(String, String)], allowed: &[&str], limits: &Limits) -> Result<Params, ApiError> {
    let max_days = i64::from(limits.max_report_days);
    let today = calendar::Date::today().days();
    let mut until = today;
    let mut since = None;
    let mut params = Params {
        window: Window { from_day: 0, to_day: 0 },
        offset: 0,
        limit: 0,
        period: Period::Week,
        periods: DEFAULT_PERIODS.min(limits.max_report_periods),
        min_count: DEFAULT_MIN_COUNT,
        days: DEFAULT_WARRANTY_DAYS.min(max_days),
    };
    for (name, value) in pairs {
        let name = name.as_str();
        if !["since", "until", "limit", "offset"].contains(&name) && !allowed.contains(&name) {
            let mut names = vec!["since", "until", "limit", "offset"];
            names.extend(allowed);
            return Err(ApiError::new(
                ErrorCode::UnknownParameter,
                format!("unknown parameter; this report takes {}", names.join(", ")),
            ));
        }
        match name {
            "since" => since = Some(day(name, value)?),
            "until" => until = day(name, value)?,
            "period" => {
                params.period = match value.trim() {
                    "day" => Period::Day,
                    "week" => Period::Week,
                    _ => return Err(bad("`period` is day or week")),
                }
            }
            "periods" => params.periods = number(name, value, 2, limits.max_report_periods)?,
            "min_count" => params.min_count = number(name, value, 1, 1_000_000)?,
            "days" => params.days = number(name, value, 0, max_days)?,
            _ => {}
        }
    }
    let since = since.unwrap_or(until - DEFAULT_DAYS.min(max_days) + 1);
    if since > until || until - since >= max_days {
        return Err(bad(&format!("`since` must not be after `until`, and the window at most {max_days} days")));
    }
    params.window = Window { from_day: since, to_day: until };
    let (offset, limit) = crate::items_routes::page(pairs, limits.max_page)?;
    params.offset = offset;
    params.limit = limit;
    Ok(params)
}

/// One page of a list report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportPage<T> {
    /// First and last day covered, `YYYY-MM-DD`.
    pub since: String,
    pub until: String,
    /// Entries on all pages.
    pub total: usize,
    pub offset: usize,
    pub items: Vec<T>,
}

pub(crate) fn page<T>(params: &Params, all: Vec<T>) -> ReportPage<T> {
    ReportPage {
        since: calendar::Date::from_days(params.window.from_day).to_string(),
        until: calendar::Date::from_days(params.window.to_day).to_string(),
        total: all.len(),
        offset: params.offset,
        items: all.into_iter().skip(params.offset).take(params.limit).collect(),
    }
}

/// Runs `report` with the engine, the journal's snapshot and the caller's scope.
pub(crate) async fn report<T: Serialize + Send + 'static>(
    state: &AppState,
    principal: &Principal,
    report: impl FnOnce(&search::Engine, &journal::Snapshot, &Scope) -> Result<T, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let journal = state.ready_journal()?;
    let org = principal.org.clone();
    let body = state
        .run_write(move |engine| {
            let scope = engine.scope(org.as_deref())?;
            report(engine, &journal.snapshot(), &scope)
        })
        .await?;
    Ok(Json(body).into_response())
}

/// `GET /v1/analytics/hot-issues?period=week&periods=8&until=`: the most asked-about topics of
/// the last period, with their trend and a spike flag against the period before.
#[utoipa::path(
    get,
    path = "/v1/analytics/hot-issues",
    operation_id = "hot_issues",
    tag = "analytics",
    params(
        ("period" = Option<String>, Query, description = "day or week (default week)"),
        ("periods" = Option<usize>, Query, description = "Periods in the trend: 2 to the `max_report_periods` \
            limit (104 unless configured); 8, or `max_report_periods` when lower, when absent"),
        ("until" = Option<String>, Query, description = "Last day, YYYY-MM-DD (default today, UTC)"),
        ("limit" = Option<usize>, Query, description = "Entries per page: 1 to the \
            `max_page` limit (500 unless configured); 50, or `max_page` when lower, when absent"),
        ("offset" = Option<usize>, Query, description = "Entries to skip"),
    ),
    responses(
        (status = 200, description = "Clusters of similar requests, by count in the last period",
            body = ReportPage<journal::analytics::HotIssue>),
        (status = 400, description = "`invalid_parameter`, `unknown_parameter`, `invalid_limit` or `invalid_offset`",
            body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`forbidden`: managers, editors, reviewers and admins", body = ApiError),
    ),
)]
pub(crate) async fn hot_issues(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let p = params(&pairs, &["period", "periods"], state.limits())?;
    report(&state, &principal, move |engine, snapshot, scope| {
        let mut p = p;
        let issues = engine.hot_issues(snapshot, scope, p.period, p.window.to_day, p.periods);
        p.window.from_day = p.window.to_day - p.period.days() * p.periods as i64 + 1;
        Ok(page(&p, issues))
    })
    .await
}

/// `GET /v1/analytics/gaps?since=&until=`: questions nothing answered, clustered.
#[utoipa::path(
    get,
    path = "/v1/analytics/gaps",
    operation_id = "knowledge_gaps",
    tag = "analytics",
    params(
        ("since" = Option<String>, Query, description = "First day, YYYY-MM-DD (default 27 days before `until`)"),
        ("until" = Option<String>, Query, description = "Last day, YYYY-MM-DD (default today, UTC)"),
        ("limit" = Option<usize>, Query, description = "Entries per page: 1 to the \
            `max_page` limit (500 unless configured); 50, or `max_page` when lower, when absent"),
        ("offset" = Option<usize>, Query, description = "Entries to skip"),
    ),
    responses(
        (status = 200, description = "Gaps, most frequent first", body = ReportPage<journal::analytics::Gap>),
        (status = 400, description = "`invalid_parameter`, `unknown_parameter`, `invalid_limit` or `invalid_offset`",
            body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`forbidden`: managers, editors, reviewers and admins", body = ApiError),
    ),
)]
pub(crate) async fn gaps(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let p = params(&pairs, &[], state.limits())?;
    report(&state, &principal, move |engine, snapshot, scope| {
        Ok(page(&p, engine.knowledge_gaps(snapshot, scope, p.window)))
    })
    .await
}

/// `GET /v1/analytics/recurring-faults?since=&until=&min_count=3`
#[utoipa::path(
    get,
    path = "/v1/analytics/recurring-faults",
    operation_id = "recurring_faults",
    tag = "analytics",
    params(
        ("since" = Option<String>, Query, description = "First day, YYYY-MM-DD (default 27 days before `until`)"),
        ("until" = Option<String>, Query, description = "Last day, YYYY-MM-DD (default today, UTC)"),
        ("min_count" = Option<u64>, Query, description = "Occurrences from which a fault recurs (default 3)"),
        ("limit" = Option<usize>, Query, description = "Entries per page: 1 to the \
            `max_page` limit (500 unless configured); 50, or `max_page` when lower, when absent"),
        ("offset" = Option<usize>, Query, description = "Entries to skip"),
    ),
    responses(
        (status = 200, description = "The same fault on the same product model at least `min_count` times, from \
            solved cases and matched tickets, with regions, organisations, devices and customers",
            body = ReportPage<search::service_history::RecurringFault>),
        (status = 400, description = "`invalid_parameter`, `unknown_parameter`, `invalid_limit` or `invalid_offset`",
            body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`forbidden`: managers, editors, reviewers and admins", body = ApiError),
    ),
)]
pub(crate) async fn recurring_faults(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let p = params(&pairs, &["min_count"], state.limits())?;
    report(&state, &principal, move |engine, snapshot, scope| {
        Ok(page(&p, engine.recurring_faults(snapshot, scope, p.window, p.min_count)?))
    })
    .await
}

/// A report of figures per day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DailyReport<T> {
    pub since: String,
    pub until: String,
    pub days: Vec<T>,
}

/// `GET /v1/analytics/categories?since=&until=`: matched tickets per category per day.
#[utoipa::path(
    get,
    path = "/v1/analytics/categories",
    operation_id = "category_mix",
    tag = "analytics",
    params(
        ("since" = Option<String>, Query, description = "First day, YYYY-MM-DD (default 27 days before `until`)"),
        ("until" = Option<String>, Query, description = "Last day, YYYY-MM-DD (default today, UTC)"),
    ),
    responses(
        (status = 200, description = "Per day (days since 1970-01-01), tickets per predicted minor category",
            body = DailyReport<journal::analytics::DayCategories>),
        (status = 400, description = "`invalid_parameter` or `unknown_parameter`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`forbidden`: managers, editors, reviewers and admins", body = ApiError),
    ),
)]
pub(crate) async fn categories(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let p = params(&pairs, &[], state.limits())?;
    report(&state, &principal, move |engine, snapshot, scope| {
        Ok(daily(&p, engine.category_mix(snapshot, scope, p.window)))
    })
    .await
}

fn daily<T>(p: &Params, days: Vec<T>) -> DailyReport<T> {
    DailyReport {
        since: calendar::Date::from_days(p.window.from_day).to_string(),
        until: calendar::Date::from_days(p.window.to_day).to_string(),
        days,
    }
}

/// `GET /v1/analytics/zero-results?since=&until=`: requests and those that showed nothing, per day.
#[utoipa::path(
    get,
    path = "/v1/analytics/zero-results",
    operation_id = "zero_results",
    tag = "analytics",
    params(
        ("since" = Option<String>, Query, description = "First day, YYYY-MM-DD (default 27 days before `until`)"),
        ("until" = Option<String>, Query, description = "Last day, YYYY-MM-DD (default today, UTC)"),
    ),
    responses(
        (status = 200, description = "Per day (days since 1970-01-01): requests, zero-result requests, rate",
            body = DailyReport<journal::analytics::DayRate>),
        (status = 400, description = "`invalid_parameter` or `unknown_parameter`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`forbidden`: managers, editors, reviewers and admins", body = ApiError),
    ),
)]
pub(crate) async fn zero_results(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let p = params(&pairs, &[], state.limits())?;
    report(&state, &principal, move |engine, snapshot, scope| {
        Ok(daily(&p, engine.zero_result_rate(snapshot, scope, p.window)))
    })
    .await
}

/// `GET /v1/analytics/feedback?since=&until=`: verdicts per item, item kind and organisation.
#[utoipa::path(
    get,
    path = "/v1/analytics/feedback",
    operation_id = "feedback_report",
    tag = "analytics",
    params(
        ("since" = Option<String>, Query, description = "First day, YYYY-MM-DD (default 27 days before `until`)"),
        ("until" = Option<String>, Query, description = "Last day, YYYY-MM-DD (default today, UTC)"),
        ("limit" = Option<usize>, Query, description = "Items per page: 1 to the \
            `max_page` limit (500 unless configured); 50, or `max_page` when lower, when absent"),
        ("offset" = Option<usize>, Query, description = "Items to skip"),
    ),
    responses(
        (status = 200, description = "Verdicts summed; `items` paginated, most verdicts first",
            body = search::improvement::FeedbackReport),
        (status = 400, description = "`invalid_parameter`, `unknown_parameter`, `invalid_limit` or `invalid_offset`",
            body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`forbidden`: managers, editors, reviewers and admins", body = ApiError),
    ),
)]
pub(crate) async fn feedback(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let p = params(&pairs, &[], state.limits())?;
    report(&state, &principal, move |engine, snapshot, scope| {
        let mut report = engine.feedback_report(snapshot, scope, p.window)?;
        report.items = report.items.into_iter().skip(p.offset).take(p.limit).collect();
        Ok(report)
    })
    .await
}

/// `GET /v1/analytics/warranties?days=90`: contracts whose warranty (and with it the service
/// contract's renewal) falls due, for customers in scope.
#[utoipa::path(
    get,
    path = "/v1/analytics/warranties",
    operation_id = "warranty_report",
    tag = "analytics",
    params(
        ("days" = Option<i64>, Query, description = "Window from today in days: 0 to the `max_report_days` \
            limit (3660 unless configured); 90, or `max_report_days` when lower, when absent"),
        ("limit" = Option<usize>, Query, description = "Contracts per page: 1 to the \
            `max_page` limit (500 unless configured); 50, or `max_page` when lower, when absent"),
        ("offset" = Option<usize>, Query, description = "Contracts to skip"),
    ),
    responses(
        (status = 200, description = "Contracts, soonest first", body = Object),
        (status = 400, description = "`invalid_parameter`, `unknown_parameter`, `invalid_limit` or `invalid_offset`",
            body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`forbidden`: managers, editors, reviewers and admins", body = ApiError),
        (status = 503, description = "`no_graph`: the graph is switched off", body = ApiError),
    ),
)]
pub(crate) async fn warranties(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let mut p = params(&pairs, &["days"], state.limits())?;
    let today = calendar::Date::today().days();
    p.window = Window { from_day: today, to_day: today + p.days };
    report(&state, &principal, move |engine, _snapshot, scope| {
        let graph = engine
            .graph()
            .ok_or_else(|| ApiError::new(ErrorCode::NoGraph, "the knowledge graph is switched off on this server"))?;
        let history = engine.service_history()?;
        let all = graph::warranties_expiring(graph, calendar::Date::today(), p.days, usize::MAX)?;
        let in_scope: Vec<graph::ExpiringWarranty> = all
            .into_iter()
            .filter(|w| {
                let org = w.customer.as_ref().and_then(|c| history.customers.get(&c.id)).and_then(|p| p.org.as_deref());
                scope.admits(org)
            })
            .collect();
        Ok(page(&p, in_scope))
    })
    .await
}

/// One page of the complaint-risk list, with the regions of every customer at risk.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ComplaintRiskPage {
    pub since: String,
    pub until: String,
    /// Customers at risk on all pages.
    pub total: usize,
    pub offset: usize,
    /// Customers at risk, highest score first, each with its reasons.
    pub items: Vec<search::portraits::CustomerRisk>,
    /// Every region with a customer at risk: the customers' scores summed, highest first.
    pub regions: Vec<search::portraits::RegionRisk>,
}

/// `GET /v1/analytics/complaint-risk?since=&until=`: customers (and their regions) whose recent
/// tickets look like those that preceded complaints.
#[utoipa::path(
    get,
    path = "/v1/analytics/complaint-risk",
    operation_id = "complaint_risk",
    tag = "analytics",
    params(
        ("since" = Option<String>, Query, description = "First day, YYYY-MM-DD (default 27 days before `until`)"),
        ("until" = Option<String>, Query, description = "Last day, YYYY-MM-DD (default today, UTC)"),
        ("limit" = Option<usize>, Query, description = "Customers per page: 1 to the \
            `max_page` limit (500 unless configured); 50, or `max_page` when lower, when absent"),
        ("offset" = Option<usize>, Query, description = "Customers to skip"),
    ),
    responses(
        (status = 200, description = "Customers whose tickets in the window score at least the rules' minimum \
            (repeated contact on one fault, emotional wording, escalation words, outages and long restorations, \
            complaint categories, no `solved` verdict), with the reasons; ticket snippets are masked",
            body = ComplaintRiskPage),
        (status = 400, description = "`invalid_parameter`, `unknown_parameter`, `invalid_limit` or `invalid_offset`",
            body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`forbidden`: managers, editors, reviewers and admins", body = ApiError),
    ),
)]
pub(crate) async fn complaint_risk(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let p = params(&pairs, &[], state.limits())?;
    report(&state, &principal, move |engine, snapshot, scope| {
        let risk = engine.complaint_risk(snapshot, scope, p.window)?;
        let page = page(&p, risk.customers);
        Ok(ComplaintRiskPage {
            since: page.since,
            until: page.until,
            total: page.total,
            offset: page.offset,
            items: page.items,
            regions: risk.regions,
        })
    })
    .await
}
