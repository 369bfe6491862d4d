//! `gridkb report`: the managers' weekly figures as Markdown or JSON — what the analytics routes
//! answer, for one window, in one document a manager can forward.

use std::fmt::Write as _;

use journal::analytics::{Gap, HotIssue, Period};
use search::Engine;
use search::improvement::{KnowledgeTask, Scope, Window};
use search::service_history::RecurringFault;
use serde::Serialize;

/// Rows of each list in the report.
const TOP: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Json,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub since: String,
    pub until: String,
    pub requests: u64,
    pub zero_results: u64,
    /// `zero_results / requests` (0 without requests).
    pub zero_result_rate: f64,
    /// Matched tickets per predicted category.
    pub categories: std::collections::BTreeMap<String, u64>,
    pub hot_issues: Vec<HotIssue>,
    pub gaps: Vec<Gap>,
    pub recurring_faults: Vec<RecurringFault>,
    pub feedback: std::collections::BTreeMap<String, u64>,
    /// Open knowledge tasks by kind.
    pub open_tasks: std::collections::BTreeMap<String, u64>,
    /// Warranties ending within 90 days of `until`.
    pub warranties_due: usize,
    /// Customers whose tickets in the window look like those that preceded complaints (the
    /// first ten), and every region with one.
    pub complaint_risk: Vec<search::portraits::CustomerRisk>,
    pub risk_regions: Vec<search::portraits::RegionRisk>,
}

/// Computes the report of `since..=until` (days since 1970-01-01) over everything in the data
/// directory.
pub fn build(engine: &Engine, snapshot: &journal::Snapshot, since: i64, until: i64) -> anyhow::Result<Report> {
    let scope = Scope::everything();
    let window = Window { from_day: since, to_day: until };
    let requests = Engine::scoped_requests(snapshot, &scope, window);
    let zero = requests.iter().filter(|r| r.zero).count() as u64;
    let mut categories = std::collections::BTreeMap::new();
    for day in engine.category_mix(snapshot, &scope, window) {
        for (category, n) in day.categories {
            *categories.entry(category).or_default() += n;
        }
    }
    let weeks = ((until - since) / 7 + 1).max(2) as usize;
    let mut hot_issues = engine.hot_issues(snapshot, &scope, Period::Week, until, weeks);
    hot_issues.truncate(TOP);
    let mut gaps = engine.knowledge_gaps(snapshot, &scope, window);
    gaps.truncate(TOP);
    let mut recurring_faults = engine.recurring_faults(snapshot, &scope, window, 3)?;
    recurring_faults.truncate(TOP);
    let feedback = engine.feedback_report(snapshot, &scope, window)?.by_verdict;
    let tasks: Vec<KnowledgeTask> = engine.knowledge_tasks(snapshot, &scope, calendar::Date::from_days(until))?;
    let mut open_tasks = std::collections::BTreeMap::new();
    for task in tasks.iter().filter(|t| t.status == journal::TaskStatus::Open) {
        *open_tasks.entry(task.kind.code().to_string()).or_default() += 1;
    }
    let warranties_due = match engine.graph() {
        Some(graph) => graph::warranties_expiring(graph, calendar::Date::from_days(until), 90, usize::MAX)?.len(),
        None => 0,
    };
    let risk = engine.complaint_risk(snapshot, &scope, window)?;
    let mut complaint_risk = risk.customers;
    complaint_risk.truncate(TOP);
    Ok(Report {
        since: calendar::Date::from_days(since).to_string(),
        until: calendar::Date::from_days(until).to_string(),
        requests: requests.len() as u64,
        zero_results: zero,
        zero_result_rate: if requests.is_empty() { 0.0 } else { zero as f64 / requests.len() as f64 },
        categories,
        hot_issues,
        gaps,
        recurring_faults,
        feedback,
        open_tasks,
        warranties_due,
        complaint_risk,
        risk_regions: risk.regions,
    })
}

/// Table cells hold no line breaks or pipes.
fn cell(text: &str) -> String {
    text.replace(['\n', '\r'], " ").replace('|', "\\|")
}

/// The report as Markdown.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# 服务运营周报 Service report {} – {}\n", report.since, report.until);
    let _ = writeln!(
        out,
        "Requests: **{}** · zero results: **{}** ({:.1}%) · warranties due in 90 days: **{}**\n",
        report.requests,
        report.zero_results,
        report.zero_result_rate * 100.0,
        report.warranties_due
    );
    let _ = writeln!(
        out,
        "## Hot issues (by week)\n\n| topic | this week | last week | trend | spike |\n|---|---:|---:|---|---|"
    );
    for h in &report.hot_issues {
        let trend: Vec<String> = h.trend.iter().map(u64::to_string).collect();
        let spike = if h.spike { "yes" } else { "" };
        let _ = writeln!(out, "| {} | {} | {} | {} | {spike} |", cell(&h.label), h.count, h.previous, trend.join(" "));
    }
    let _ = writeln!(out, "\n## Knowledge gaps\n\n| question | asked | last seen |\n|---|---:|---|");
    for g in &report.gaps {
        let last = calendar::Date::from_days(journal::analytics::day_of(g.last_seen_ms));
        let _ = writeln!(out, "| {} | {} | {last} |", cell(&g.label), g.count);
    }
    let _ = writeln!(
        out,
        "\n## Recurring faults\n\n| fault | model | count | cases | tickets | regions |\n|---|---|---:|---:|---:|---|"
    );
    for r in &report.recurring_faults {
        let regions: Vec<String> = r.by_region.iter().map(|(name, n)| format!("{name} {n}")).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&r.fault.label),
            cell(&r.model.label),
            r.count,
            r.cases,
            r.tickets,
            cell(&regions.join(", "))
        );
    }
    let _ = writeln!(out, "\n## Complaint risk\n\n| customer | region | score | reasons |\n|---|---|---:|---|");
    for r in &report.complaint_risk {
        let reasons: Vec<&str> = r.reasons.iter().map(|x| x.detail.as_str()).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {} |",
            cell(&r.customer.label),
            cell(r.region.as_deref().unwrap_or("")),
            r.score,
            cell(&reasons.join("; "))
        );
    }
    if !report.risk_regions.is_empty() {
        let regions: Vec<String> = report
            .risk_regions
            .iter()
            .map(|r| format!("{} {:.1} ({} customers)", r.region, r.score, r.customers))
            .collect();
        let _ = writeln!(out, "\nBy region: {}", cell(&regions.join(", ")));
    }
    let counts = |title: &str, map: &std::collections::BTreeMap<String, u64>, out: &mut String| {
        let _ = writeln!(out, "\n## {title}\n\n| | count |\n|---|---:|");
        for (name, n) in map {
            let _ = writeln!(out, "| {} | {n} |", cell(name));
        }
    };
    counts("Tickets by category", &report.categories, &mut out);
    counts("Feedback", &report.feedback, &mut out);
    counts("Open knowledge tasks", &report.open_tasks, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_a_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
