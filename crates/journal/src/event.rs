//! What the journal records, one JSON object per line: a served request, a verdict on what it
//! showed, a task closed by an editor. Every text field holds masked text only; the journal never
//! sees raw input (the server masks before it records).

use serde::{Deserialize, Serialize};

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Request(Box<RequestEvent>),
    Feedback(FeedbackEvent),
    Task(TaskEvent),
}

impl Event {
    pub fn at_ms(&self) -> i64 {
        match self {
            Event::Request(e) => e.at_ms,
            Event::Feedback(e) => e.at_ms,
            Event::Task(e) => e.at_ms,
        }
    }
}

/// The routes whose requests are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// `/v1/search`
    Search,
    /// `/v1/tickets/match`
    Ticket,
    /// `/v1/retrieve`
    Retrieve,
    /// `/retrieval` (Dify)
    Dify,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Search => "search",
            Route::Ticket => "ticket",
            Route::Retrieve => "retrieve",
            Route::Dify => "dify",
        }
    }
}

/// A request served by a search route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RequestEvent {
    /// The id returned to the client (`X-Request-Id`), which feedback names.
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub route: Option<Route>,
    /// The API key's public id (`None` on a server without keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Where a ticket came from (masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The query or ticket text, personal data masked.
    pub text: String,
    /// The analysed terms of `text` (what clustering compares).
    #[serde(default)]
    pub terms: Vec<String>,
    /// Item ids shown, best first (rank = position + 1).
    #[serde(default)]
    pub shown: Vec<String>,
    /// Predicted minor service category and its confidence (ticket matching).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// Graph entities named by the text: products and models, faults.
    #[serde(default)]
    pub products: Vec<String>,
    #[serde(default)]
    pub faults: Vec<String>,
    /// The customer, device and its model, and the customer's region (ticket matching).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub latency_ms: f32,
    /// Retrievers that could not take part, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<String>,
    /// Nothing was shown.
    pub zero: bool,
    /// Share of the query's terms the best result matched (set for queries of three terms or
    /// more): a low share is an answer to some other question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f32>,
}

/// What an agent or a bot said about a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Helpful,
    NotHelpful,
    Solved,
    Wrong,
    Outdated,
}

impl Verdict {
    pub const ALL: [Verdict; 5] =
        [Verdict::Helpful, Verdict::NotHelpful, Verdict::Solved, Verdict::Wrong, Verdict::Outdated];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Helpful => "helpful",
            Verdict::NotHelpful => "not_helpful",
            Verdict::Solved => "solved",
            Verdict::Wrong => "wrong",
            Verdict::Outdated => "outdated",
        }
    }

    /// Whether the verdict says the item did its job.
    pub fn is_positive(self) -> bool {
        match self {
            Verdict::Helpful | Verdict::Solved => true,
            Verdict::NotHelpful | Verdict::Wrong | Verdict::Outdated => false,
        }
    }
}

/// A verdict on a request, or on one item it showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackEvent {
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    pub verdict: Verdict,
    /// Masked and length-limited by the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    pub at_ms: i64,
}

/// The state of an editor's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Open,
    Done,
    Dismissed,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Open => "open",
            TaskStatus::Done => "done",
            TaskStatus::Dismissed => "dismissed",
        }
    }
}

/// An editor closed (or reopened) a knowledge task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEvent {
    pub task_id: String,
    pub status: TaskStatus,
    /// Who changed it (the key's name).
    pub by: String,
    pub at_ms: i64,
}
