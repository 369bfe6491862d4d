//! Every bound gridkb enforces, as a named default that configuration may override.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 512;
/// Most hits one request may ask for.
pub const MAX_LIMIT: usize = 100;
/// Deepest page: `offset + limit` may not exceed this.
pub const MAX_WINDOW: usize = 1_000;
/// Longest ticket text, in characters (its head, `max_query_chars` of it, is what is searched).
pub const MAX_TICKET_CHARS: usize = 4_000;
/// Largest token budget a RAG request (`/v1/retrieve`) may ask for.
pub const MAX_TOKEN_BUDGET: usize = 8_000;
/// Hits returned when a request does not say.
pub const DEFAULT_LIMIT: usize = 10;
/// Most values one filter may list.
pub const MAX_FILTER_VALUES: usize = 32;
/// Past this, a search returns what it has, flagged partial.
pub const SEARCH_DEADLINE: Duration = Duration::from_millis(1_500);
/// Records written to the store in one transaction during bulk ingest.
pub const INGEST_BATCH: usize = 1_000;
/// Largest request body on query routes.
pub const MAX_QUERY_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Largest request body on ingest routes.
pub const MAX_INGEST_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Deepest JSON nesting accepted in a request body.
pub const MAX_JSON_DEPTH: usize = 32;
/// Searches running at once; more wait in the queue.
pub const MAX_CONCURRENT_SEARCHES: usize = 8;
/// Searches waiting for a slot; beyond this the server answers 503 with Retry-After.
pub const SEARCH_QUEUE: usize = 64;
/// A SPARQL query is stopped at this deadline (every query shape: property paths included).
pub const SPARQL_TIMEOUT: Duration = graph::limits::SPARQL_TIMEOUT;
/// Most solutions (or triples) a SPARQL answer may hold; past it the query is refused.
pub const SPARQL_RESULT_CAP: usize = graph::limits::SPARQL_RESULT_CAP;
/// SPARQL queries running at once, in their own pool beside the searches' (an editor's heavy
/// query holds one core at most, not the searches' slots).
pub const MAX_CONCURRENT_SPARQL: usize = 1;
/// SPARQL queries waiting for a slot; beyond this the server answers 503 with Retry-After.
pub const SPARQL_QUEUE: usize = 4;
/// A connection that has not sent a complete request head within this time is closed (this
/// also ends a keep-alive connection that sends nothing).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection on which nothing is read or written for this long is closed: a client that
/// sends its body, or reads its answer, a byte at a time cannot hold a connection for ever.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Open connections; one more is answered 503 and closed at once.
pub const MAX_CONNECTIONS: usize = 512;

// A node following PostgreSQL (`serve --store postgres://...`).

/// How long a follower waits for a NOTIFY before it polls the journal anyway: the bound on how
/// late a change is seen when notifications are lost (a reconnect, a proxy that drops them).
pub const FOLLOW_POLL: Duration = Duration::from_millis(1_000);
/// Without contact with PostgreSQL for this long, a node says its answers are stale (`/readyz`,
/// `/metrics`, and the `stale` flag of search responses); it keeps answering.
pub const STORE_STALE_AFTER: Duration = Duration::from_secs(10);
/// Change-log entries a node may be behind PostgreSQL and still say it is ready. A node whose
/// first catch-up has not finished is never ready.
pub const FOLLOW_READY_LAG: u64 = 1_000;

// Duplicate and conflict checks of a draft (`Engine::check_item`), measured with
// `gridkb eval --duplicates --data DIR --no-dense` on the full demo corpus (16,338 items): 128
// marked near-duplicate pairs checked both ways, 4,228 edited copies of 1,475 sampled items
// (sentences reordered, synonyms swapped, a number changed), the sampled items checked as
// themselves, 1,243 copies rewritten for another model, 26 conflict situations.

/// Possible duplicates (and conflicts) a check returns at most.
pub const CHECK_TOP_K: usize = 5;
/// Candidates taken from BM25 (and as many from the vector index) and scored against the
/// draft (each read from the store and analysed once).
pub const CHECK_CANDIDATES: usize = 20;
/// Published items of the draft's situation (kind, category, product, fault) examined for
/// conflicts.
pub const CONFLICT_CANDIDATES: usize = 20;
/// Distinct title and body terms of a draft put into its BM25 query, title terms first.
pub const CHECK_QUERY_TERMS: usize = 256;
/// Characters of a draft (title, newline, body) embedded for the semantic side: about one
/// window of the default model, so a long draft costs one forward pass. That pass is most of a
/// check with a model: p50 116 ms against 12 ms without (`gridkb eval --duplicates` on a
/// 1,704-item subset with m3e-small, 2 cores, other builds running), with the same precision and
/// recall from threshold 0.40 up.
pub const CHECK_EMBED_CHARS: usize = 1_000;
/// Weight of the title terms' Jaccard in the similarity; the body terms' Jaccard has the rest.
pub const TITLE_WEIGHT: f32 = 0.25;
/// Similarity from which an item is reported as a possible duplicate: the lowest threshold of
/// the sweep with no false alarm. Measured (lexical similarity, the same with or without a
/// model): positives score ≥ 0.791 (marked near-duplicates), ≥ 0.766 (synonyms swapped),
/// ≥ 0.886 (a number changed), 1.0 (sentences reordered); the most similar negative is 0.748
/// (two cases of one fault on one device, two years apart). At 0.75: recall 1.000 on every
/// positive set, precision 1.000 (0 false alarms in 7,202 checks); at 0.70 4 false alarms, at
/// 0.65 66, at 0.50 6,814 (cases written from one template); at 0.80 the marked recall falls
/// to 0.984.
pub const DUPLICATE_THRESHOLD: f32 = 0.75;
/// Similarity is multiplied by this when both items name products and none is shared: the
/// same template for another product. Copies of an item rewritten for another model then
/// score at most 0.488 (from about 0.98), 0 false alarms among 1,243.
pub const PRODUCT_MISMATCH_FACTOR: f32 = 0.5;

// Customer portraits and the complaint-risk list (`portraits.rs`).

/// Days of matched tickets a tag proposal looks back over.
pub const PORTRAIT_WINDOW_DAYS: u32 = 90;
/// Examples (dated, masked ticket snippets with request ids) a proposal or a risk entry shows.
pub const PORTRAIT_EVIDENCE: usize = 5;
/// Items the editors' duplicate-pair scan checks at most (`Engine::duplicate_pairs`), drafts and
/// items in review first, then the most recently saved. The results are kept per item version,
/// so only changed items (and those whose duplicates changed) are checked again.
pub const DUPLICATE_SCAN_ITEMS: usize = 2_000;
/// Time one task-queue request spends checking items for the duplicate-pair scan: a check costs
/// 15–30 ms on the full corpus (more while embeddings are computed), so the first scan of 2,000
/// items is spread over the requests that follow (each adds what it checked to the kept results)
/// instead of holding one request for a minute.
pub const DUPLICATE_SCAN_BUDGET: Duration = Duration::from_millis(2_000);
/// How long a search waits for its query embedding before it answers without dense results
/// (flagged `degraded`): a ticket of ~45 characters embeds in 5–15 ms, so only an overloaded
/// machine or a stuck embedder reaches it.
pub const QUERY_EMBED_BUDGET: Duration = Duration::from_millis(250);
/// How long `/metrics` keeps the figures that cost a pass over a whole collection (the graph's
/// triples, the clustering of the request log into knowledge-gap tasks) before computing them
/// again. One scrape computing them took 1.2 s of CPU on the demo corpus with ~40k logged
/// requests: a Prometheus polling every 15 s would have held 8 % of a core. 0 computes them at
/// every scrape.
pub const METRICS_SLOW_FIGURES: Duration = Duration::from_secs(60);

// Dify metadata conditions (`rag.rs`).

/// Most conditions in one `metadata_condition`.
pub const MAX_CONDITIONS: usize = 32;
/// Most names in one condition's `name` array, and values in one condition's `value` array.
pub const MAX_CONDITION_VALUES: usize = 100;
/// Longest condition value (or name), in characters.
pub const MAX_CONDITION_VALUE_CHARS: usize = 512;

/// Query embeddings waiting for the embedding thread (`dense.rs`); beyond this a search goes
/// without its dense side. 0 leaves no queue: a query is embedded only when the thread is idle.
pub const QUERY_EMBED_QUEUE: usize = 16;

// The server's lists, reports and inputs.

/// Most entries on one page of a paginated list: the editors' items and audit trail, the
/// knowledge-task queue, the analytics reports and the customer tag proposals (each `limit`).
/// A request that does not say gets 50, or this when it is smaller.
pub const MAX_PAGE: usize = 500;
/// Most entities one `GET /v1/entities` lists (20 when the request does not say, or this when
/// it is smaller).
pub const MAX_ENTITIES: usize = 200;
/// Most rows a graph domain listing returns: `GET /v1/warranties/expiring` (100 when the
/// request does not say, or this when it is smaller) and the stale items.
pub const MAX_LISTING: usize = graph::limits::MAX_LISTING;
/// Longest window of `GET /v1/warranties/expiring`, in days (90 when the request does not say,
/// or this when it is smaller).
pub const MAX_EXPIRY_DAYS: u32 = 3_650;
/// Longest window of one analytics report (`since` to `until`, and the warranty report's
/// `days`), in days. The default window, four weeks, is cut to this when it is shorter.
pub const MAX_REPORT_DAYS: u32 = 3_660;
/// Most periods in a hot-issue trend (`periods`: from 2; 8 when the request does not say, or
/// this when it is smaller).
pub const MAX_REPORT_PERIODS: usize = 104;
/// Most labelled questions one tuning run (`gridkb tune`, `POST /v1/admin/tune`) measures: each
/// is ranked once per candidate fusion (about 40), so 5,000 questions take a few minutes.
pub const MAX_TUNE_QUESTIONS: usize = 5_000;
/// Most past tickets the category model learns from at once (`gridkb learn-categories`, `POST
/// /v1/admin/categories`): a large centre's few years of tickets; learning 200,000 takes about
/// a second and keeps their masked texts in memory.
pub const MAX_LABELLED_TICKETS: usize = 200_000;
/// Import tasks the server keeps in memory for `GET /v1/tasks/{id}`; older ones are forgotten.
pub const MAX_IMPORT_TASKS: usize = 100;
/// Rejections an import task's report lists; past it only the count goes on.
pub const MAX_LISTED_REJECTIONS: usize = 1_000;
/// Longest `request_id` a verdict (`POST /v1/feedback`) may name, in bytes; ours are
/// [`journal::REQUEST_ID_LEN`].
pub const MAX_REQUEST_ID_BYTES: usize = 64;
/// Length of an API key as `gridkb keys create` makes it (`gkb_`, a 10-character id, `_`, 64 hex
/// digits); the server crate checks this against its key format when it compiles.
pub const API_KEY_LEN: usize = 79;
/// Longest string read as an API key, in bytes; longer ones are refused unread.
pub const MAX_API_KEY_BYTES: usize = 128;
/// Longest note kept with an API key (`gridkb keys create --note`), in characters.
pub const MAX_KEY_NOTE_CHARS: usize = 200;
/// Largest day window a limit may set (a century): longer ones are a mistake, and the dates they
/// reach are past what a report can name.
pub const MAX_DAYS_SETTING: u32 = 36_600;

// The request log's bounds (retention, size, flush interval, queue, comment length) are defined
// beside it, in `journal::limits`, and carried here with the others.
pub use journal::limits::{
    FLUSH_INTERVAL as JOURNAL_FLUSH_INTERVAL, MAX_BYTES as JOURNAL_MAX_BYTES,
    MAX_COMMENT_CHARS as FEEDBACK_MAX_COMMENT_CHARS, QUEUE as JOURNAL_QUEUE, RETENTION_DAYS as JOURNAL_RETENTION_DAYS,
    SEGMENT_BYTES as JOURNAL_SEGMENT_BYTES,
};

// The bounds on input files (file, line, record, zip entry, sheet and cell sizes) are defined
// beside their readers, in `ingest::limits`, and carried here with the others.
pub use ingest::limits::{
    MAX_CELL_CHARS, MAX_CSV_RECORD_BYTES, MAX_FILE_BYTES, MAX_JSONL_LINE_BYTES, MAX_MARKDOWN_BYTES, MAX_SHEET_CELLS,
    MAX_SHEET_COLUMNS, MAX_SHEET_ROWS, MAX_XLSX_BYTES, MAX_ZIP_ENTRIES, MAX_ZIP_ENTRY_BYTES, MAX_ZIP_TOTAL_BYTES,
};

/// The limits in force, defaults overridable by configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub max_query_chars: usize,
    pub max_ticket_chars: usize,
    pub max_token_budget: usize,
    pub max_limit: usize,
    pub max_window: usize,
    pub default_limit: usize,
    pub max_filter_values: usize,
    pub search_deadline_ms: u64,
    pub ingest_batch: usize,
    pub max_query_body_bytes: usize,
    pub max_ingest_body_bytes: usize,
    pub max_json_depth: usize,
    pub max_concurrent_searches: usize,
    pub search_queue: usize,
    pub sparql_timeout_ms: u64,
    pub sparql_result_cap: usize,
    pub max_concurrent_sparql: usize,
    pub sparql_queue: usize,
    pub header_read_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub max_connections: usize,
    pub max_file_bytes: u64,
    pub max_jsonl_line_bytes: usize,
    pub max_csv_record_bytes: usize,
    pub max_markdown_bytes: u64,
    pub max_xlsx_bytes: u64,
    pub max_zip_entries: usize,
    pub max_zip_entry_bytes: u64,
    pub max_zip_total_bytes: u64,
    pub max_sheet_rows: u64,
    pub max_sheet_columns: u64,
    pub max_sheet_cells: u64,
    pub max_cell_chars: usize,
    pub journal_retention_days: u32,
    pub journal_max_bytes: u64,
    pub journal_segment_bytes: u64,
    pub journal_flush_ms: u64,
    pub journal_queue: usize,
    pub feedback_max_comment_chars: usize,
    pub follow_poll_ms: u64,
    pub store_stale_after_ms: u64,
    pub follow_ready_lag: u64,
    pub portrait_window_days: u32,
    pub portrait_evidence: usize,
    pub duplicate_scan_items: usize,
    pub duplicate_scan_budget_ms: u64,
    /// How long a search waits for its query embedding ([`QUERY_EMBED_BUDGET`]).
    pub query_embed_budget_ms: u64,
    /// Most conditions in one Dify `metadata_condition` ([`MAX_CONDITIONS`]).
    pub max_conditions: usize,
    /// Most names or values in one condition ([`MAX_CONDITION_VALUES`]).
    pub max_condition_values: usize,
    /// Longest condition value or name, in characters ([`MAX_CONDITION_VALUE_CHARS`]).
    pub max_condition_value_chars: usize,
    /// Query embeddings waiting for the embedding thread ([`QUERY_EMBED_QUEUE`]).
    pub query_embed_queue: usize,
    /// Most entries on one page of a paginated list ([`MAX_PAGE`]).
    pub max_page: usize,
    /// Most entities one entity search lists ([`MAX_ENTITIES`]).
    pub max_entities: usize,
    /// Most rows of a graph domain listing ([`MAX_LISTING`]).
    pub max_listing: usize,
    /// Longest window of the expiring-warranty listing, in days ([`MAX_EXPIRY_DAYS`]).
    pub max_expiry_days: u32,
    /// Longest window of an analytics report, in days ([`MAX_REPORT_DAYS`]).
    pub max_report_days: u32,
    /// Most periods in a hot-issue trend ([`MAX_REPORT_PERIODS`]).
    pub max_report_periods: usize,
    /// Import tasks kept in memory ([`MAX_IMPORT_TASKS`]).
    pub max_import_tasks: usize,
    /// Labelled questions one tuning run measures ([`MAX_TUNE_QUESTIONS`]).
    pub max_tune_questions: usize,
    /// Past tickets the category model learns from at once ([`MAX_LABELLED_TICKETS`]).
    pub max_labelled_tickets: usize,
    /// Rejections an import task lists ([`MAX_LISTED_REJECTIONS`]).
    pub max_listed_rejections: usize,
    /// Longest `request_id` a verdict may name, in bytes ([`MAX_REQUEST_ID_BYTES`]).
    pub max_request_id_bytes: usize,
    /// Longest string read as an API key, in bytes ([`MAX_API_KEY_BYTES`]).
    pub max_api_key_bytes: usize,
    /// Longest note kept with an API key, in characters ([`MAX_KEY_NOTE_CHARS`]).
    pub max_key_note_chars: usize,
    /// How long `/metrics` keeps its slow figures, in ms ([`METRICS_SLOW_FIGURES`]; 0: never).
    pub metrics_slow_figures_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_query_chars: MAX_QUERY_CHARS,
            max_ticket_chars: MAX_TICKET_CHARS,
            max_token_budget: MAX_TOKEN_BUDGET,
            max_limit: MAX_LIMIT,
            max_window: MAX_WINDOW,
            default_limit: DEFAULT_LIMIT,
            max_filter_values: MAX_FILTER_VALUES,
            search_deadline_ms: SEARCH_DEADLINE.as_millis() as u64,
            ingest_batch: INGEST_BATCH,
            max_query_body_bytes: MAX_QUERY_BODY_BYTES,
            max_ingest_body_bytes: MAX_INGEST_BODY_BYTES,
            max_json_depth: MAX_JSON_DEPTH,
            max_concurrent_searches: MAX_CONCURRENT_SEARCHES,
            search_queue: SEARCH_QUEUE,
            sparql_timeout_ms: SPARQL_TIMEOUT.as_millis() as u64,
            sparql_result_cap: SPARQL_RESULT_CAP,
            max_concurrent_sparql: MAX_CONCURRENT_SPARQL,
            sparql_queue: SPARQL_QUEUE,
            header_read_timeout_ms: HEADER_READ_TIMEOUT.as_millis() as u64,
            idle_timeout_ms: IDLE_TIMEOUT.as_millis() as u64,
            max_connections: MAX_CONNECTIONS,
            max_file_bytes: MAX_FILE_BYTES,
            max_jsonl_line_bytes: MAX_JSONL_LINE_BYTES,
            max_csv_record_bytes: MAX_CSV_RECORD_BYTES,
            max_markdown_bytes: MAX_MARKDOWN_BYTES,
            max_xlsx_bytes: MAX_XLSX_BYTES,
            max_zip_entries: MAX_ZIP_ENTRIES,
            max_zip_entry_bytes: MAX_ZIP_ENTRY_BYTES,
            max_zip_total_bytes: MAX_ZIP_TOTAL_BYTES,
            max_sheet_rows: MAX_SHEET_ROWS,
            max_sheet_columns: MAX_SHEET_COLUMNS,
            max_sheet_cells: MAX_SHEET_CELLS,
            max_cell_chars: MAX_CELL_CHARS,
            journal_retention_days: JOURNAL_RETENTION_DAYS,
            journal_max_bytes: JOURNAL_MAX_BYTES,
            journal_segment_bytes: JOURNAL_SEGMENT_BYTES,
            journal_flush_ms: JOURNAL_FLUSH_INTERVAL.as_millis() as u64,
            journal_queue: JOURNAL_QUEUE,
            feedback_max_comment_chars: FEEDBACK_MAX_COMMENT_CHARS,
            follow_poll_ms: FOLLOW_POLL.as_millis() as u64,
            store_stale_after_ms: STORE_STALE_AFTER.as_millis() as u64,
            follow_ready_lag: FOLLOW_READY_LAG,
            portrait_window_days: PORTRAIT_WINDOW_DAYS,
            portrait_evidence: PORTRAIT_EVIDENCE,
            duplicate_scan_items: DUPLICATE_SCAN_ITEMS,
            duplicate_scan_budget_ms: DUPLICATE_SCAN_BUDGET.as_millis() as u64,
            query_embed_budget_ms: QUERY_EMBED_BUDGET.as_millis() as u64,
            max_conditions: MAX_CONDITIONS,
            max_condition_values: MAX_CONDITION_VALUES,
            max_condition_value_chars: MAX_CONDITION_VALUE_CHARS,
            query_embed_queue: QUERY_EMBED_QUEUE,
            max_page: MAX_PAGE,
            max_entities: MAX_ENTITIES,
            max_listing: MAX_LISTING,
            max_expiry_days: MAX_EXPIRY_DAYS,
            max_report_days: MAX_REPORT_DAYS,
            max_report_periods: MAX_REPORT_PERIODS,
            max_import_tasks: MAX_IMPORT_TASKS,
            max_tune_questions: MAX_TUNE_QUESTIONS,
            max_labelled_tickets: MAX_LABELLED_TICKETS,
            max_listed_rejections: MAX_LISTED_REJECTIONS,
            max_request_id_bytes: MAX_REQUEST_ID_BYTES,
            max_api_key_bytes: MAX_API_KEY_BYTES,
            max_key_note_chars: MAX_KEY_NOTE_CHARS,
            metrics_slow_figures_ms: METRICS_SLOW_FIGURES.as_millis() as u64,
        }
    }
}

impl Limits {
    /// Rejects settings that would make the service unusable (zero sizes, a default above the maximum).
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("max_query_chars", self.max_query_chars),
            ("max_ticket_chars", self.max_ticket_chars),
            ("max_token_budget", self.max_token_budget),
            ("max_limit", self.max_limit),
            ("max_window", self.max_window),
            ("default_limit", self.default_limit),
            ("max_filter_values", self.max_filter_values),
            ("ingest_batch", self.ingest_batch),
            ("max_query_body_bytes", self.max_query_body_bytes),
            ("max_ingest_body_bytes", self.max_ingest_body_bytes),
            ("max_json_depth", self.max_json_depth),
            ("max_concurrent_searches", self.max_concurrent_searches),
            ("sparql_result_cap", self.sparql_result_cap),
            ("max_concurrent_sparql", self.max_concurrent_sparql),
            ("max_connections", self.max_connections),
            ("portrait_window_days", self.portrait_window_days as usize),
            ("portrait_evidence", self.portrait_evidence),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("limits.{name} must be greater than 0"));
        }
        let journal = [
            ("journal_retention_days", u64::from(self.journal_retention_days)),
            ("journal_max_bytes", self.journal_max_bytes),
            ("journal_segment_bytes", self.journal_segment_bytes),
            ("journal_flush_ms", self.journal_flush_ms),
            ("journal_queue", self.journal_queue as u64),
            ("feedback_max_comment_chars", self.feedback_max_comment_chars as u64),
        ];
        if let Some((name, _)) = journal.iter().find(|(_, v)| *v == 0) {
            return Err(format!("limits.{name} must be greater than 0"));
        }
        if let Some((name, _)) = self.read_limits().named().iter().find(|(_, v)| *v == 0) {
            return Err(format!("limits.{name} must be greater than 0"));
        }
        let durations = [
            ("search_deadline_ms", self.search_deadline_ms),
            ("sparql_timeout_ms", self.sparql_timeout_ms),
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("duplicate_scan_budget_ms", self.duplicate_scan_budget_ms),
            ("query_embed_budget_ms", self.query_embed_budget_ms),
        ];
        if let Some((name, _)) = durations.iter().find(|(_, v)| *v == 0) {
            return Err(format!("limits.{name} must be greater than 0"));
        }
        if self.follow_poll_ms == 0 || self.store_stale_after_ms == 0 {
            return Err("limits.follow_poll_ms and limits.store_stale_after_ms must be greater than 0".into());
        }
        let listings = [
            ("max_conditions", self.max_conditions),
            ("max_condition_values", self.max_condition_values),
            ("max_condition_value_chars", self.max_condition_value_chars),
            ("max_page", self.max_page),
            ("max_entities", self.max_entities),
            ("max_listing", self.max_listing),
            ("max_import_tasks", self.max_import_tasks),
            ("max_tune_questions", self.max_tune_questions),
            ("max_labelled_tickets", self.max_labelled_tickets),
            ("max_listed_rejections", self.max_listed_rejections),
            ("max_key_note_chars", self.max_key_note_chars),
        ];
        if let Some((name, _)) = listings.iter().find(|(_, v)| *v == 0) {
            return Err(format!("limits.{name} must be greater than 0"));
        }
        for (name, days) in [("max_expiry_days", self.max_expiry_days), ("max_report_days", self.max_report_days)] {
            if !(1..=MAX_DAYS_SETTING).contains(&days) {
                return Err(format!("limits.{name} must be from 1 to {MAX_DAYS_SETTING} days"));
            }
        }
        if self.max_report_periods < 2 {
            return Err("limits.max_report_periods must be at least 2 (a trend compares periods)".into());
        }
        if self.max_request_id_bytes < journal::REQUEST_ID_LEN {
            return Err(format!(
                "limits.max_request_id_bytes must be at least {}, the length of the server's request ids",
                journal::REQUEST_ID_LEN
            ));
        }
        if self.max_api_key_bytes < API_KEY_LEN {
            return Err(format!(
                "limits.max_api_key_bytes must be at least {API_KEY_LEN}, the length of an API key; \
                 less refuses every key"
            ));
        }
        if self.default_limit > self.max_limit {
            return Err("limits.default_limit must not exceed limits.max_limit".into());
        }
        if self.max_limit > self.max_window {
            return Err("limits.max_limit must not exceed limits.max_window".into());
        }
        Ok(())
    }

    pub fn search_deadline(&self) -> Duration {
        Duration::from_millis(self.search_deadline_ms)
    }

    pub fn query_embed_budget(&self) -> Duration {
        Duration::from_millis(self.query_embed_budget_ms)
    }

    /// The request log's bounds.
    pub fn journal_limits(&self) -> journal::JournalLimits {
        journal::JournalLimits {
            retention_days: self.journal_retention_days,
            max_bytes: self.journal_max_bytes,
            segment_bytes: self.journal_segment_bytes,
            flush_interval: Duration::from_millis(self.journal_flush_ms),
            queue: self.journal_queue,
            max_comment_chars: self.feedback_max_comment_chars,
        }
    }

    pub fn sparql_timeout(&self) -> Duration {
        Duration::from_millis(self.sparql_timeout_ms)
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    pub fn follow_poll(&self) -> Duration {
        Duration::from_millis(self.follow_poll_ms)
    }

    pub fn store_stale_after(&self) -> Duration {
        Duration::from_millis(self.store_stale_after_ms)
    }

    /// The bounds the input-file readers work within.
    pub fn read_limits(&self) -> ingest::ReadLimits {
        ingest::ReadLimits {
            max_file_bytes: self.max_file_bytes,
            max_jsonl_line_bytes: self.max_jsonl_line_bytes,
            max_csv_record_bytes: self.max_csv_record_bytes,
            max_markdown_bytes: self.max_markdown_bytes,
            max_xlsx_bytes: self.max_xlsx_bytes,
            max_zip_entries: self.max_zip_entries,
            max_zip_entry_bytes: self.max_zip_entry_bytes,
            max_zip_total_bytes: self.max_zip_total_bytes,
            max_sheet_rows: self.max_sheet_rows,
            max_sheet_columns: self.max_sheet_columns,
            max_sheet_cells: self.max_sheet_cells,
            max_cell_chars: self.max_cell_chars,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_constants() {
        let limits = Limits::default();
        limits.validate().expect("defaults valid");
        assert_eq!(limits.max_query_chars, 512);
        assert_eq!(limits.search_deadline(), SEARCH_DEADLINE);
        assert_eq!(limits.sparql_timeout(), SPARQL_TIMEOUT);
        assert_eq!(limits.header_read_timeout(), HEADER_READ_TIMEOUT);
        assert_eq!(limits.idle_timeout(), IDLE_TIMEOUT);
        assert_eq!(limits.read_limits(), ingest::ReadLimits::default());
        assert_eq!(limits.journal_limits(), journal::JournalLimits::default());
    }

    #[test]
    fn input_file_bounds_are_overridable_and_must_be_positive() {
        let small: Limits =
            serde_json::from_str(r#"{"max_sheet_cells": 10, "max_jsonl_line_bytes": 64}"#).expect("override");
        assert_eq!(small.read_limits().max_sheet_cells, 10);
        assert_eq!(small.read_limits().max_jsonl_line_bytes, 64);
        assert_eq!(small.read_limits().max_zip_entry_bytes, MAX_ZIP_ENTRY_BYTES);
        let zero = Limits { max_zip_entry_bytes: 0, ..Limits::default() };
        assert!(zero.validate().unwrap_err().contains("max_zip_entry_bytes"));
    }

    #[test]
    fn nonsense_overrides_are_refused() {
        let zero = Limits { max_limit: 0, ..Limits::default() };
        assert!(zero.validate().unwrap_err().contains("max_limit"));
        for (zero, name) in [
            (Limits { idle_timeout_ms: 0, ..Limits::default() }, "idle_timeout_ms"),
            (Limits { header_read_timeout_ms: 0, ..Limits::default() }, "header_read_timeout_ms"),
            (Limits { sparql_timeout_ms: 0, ..Limits::default() }, "sparql_timeout_ms"),
            (Limits { max_connections: 0, ..Limits::default() }, "max_connections"),
            (Limits { max_concurrent_sparql: 0, ..Limits::default() }, "max_concurrent_sparql"),
            (Limits { portrait_window_days: 0, ..Limits::default() }, "portrait_window_days"),
            (Limits { portrait_evidence: 0, ..Limits::default() }, "portrait_evidence"),
        ] {
            assert!(zero.validate().unwrap_err().contains(name), "{name}");
        }
        let inverted = Limits { default_limit: 50, max_limit: 20, ..Limits::default() };
        assert!(inverted.validate().is_err());
        let partial: Limits = serde_json::from_str(r#"{"max_limit": 50}"#).expect("partial override");
        assert_eq!(partial.max_limit, 50);
        assert_eq!(partial.max_window, MAX_WINDOW);
        assert!(serde_json::from_str::<Limits>(r#"{"max_limt": 50}"#).is_err());
    }

    #[test]
    fn follower_bounds_are_overridable_and_must_be_positive() {
        let limits = Limits::default();
        assert_eq!(limits.follow_poll(), FOLLOW_POLL);
        assert_eq!(limits.store_stale_after(), STORE_STALE_AFTER);
        let quick: Limits =
            serde_json::from_str(r#"{"follow_poll_ms": 100, "store_stale_after_ms": 500, "follow_ready_lag": 0}"#)
                .expect("override");
        quick.validate().expect("valid");
        assert_eq!(quick.follow_poll(), Duration::from_millis(100));
        assert_eq!(quick.follow_ready_lag, 0);
        let zero = Limits { follow_poll_ms: 0, ..Limits::default() };
        assert!(zero.validate().unwrap_err().contains("follow_poll_ms"));
    }

    #[test]
    fn listing_report_and_input_bounds_are_overridable_and_checked() {
        let defaults = Limits::default();
        assert_eq!(
            (defaults.max_page, defaults.max_entities, defaults.max_listing, defaults.max_report_periods),
            (MAX_PAGE, MAX_ENTITIES, graph::limits::MAX_LISTING, MAX_REPORT_PERIODS)
        );
        assert_eq!((defaults.max_conditions, defaults.query_embed_queue), (MAX_CONDITIONS, QUERY_EMBED_QUEUE));
        let file = r#"{"max_page": 20, "max_entities": 7, "max_listing": 30, "max_expiry_days": 40,
            "max_report_days": 50, "max_report_periods": 5, "max_import_tasks": 3, "max_listed_rejections": 9,
            "max_request_id_bytes": 24, "max_api_key_bytes": 79, "max_key_note_chars": 10, "max_conditions": 4,
            "max_condition_values": 5, "max_condition_value_chars": 6, "query_embed_queue": 0}"#;
        let small: Limits = serde_json::from_str(file).expect("every new name is a limit");
        small.validate().expect("small but sensible");
        assert_eq!((small.max_page, small.max_report_days, small.query_embed_queue), (20, 50, 0));
        for (bad, name) in [
            (Limits { max_page: 0, ..Limits::default() }, "max_page"),
            (Limits { max_entities: 0, ..Limits::default() }, "max_entities"),
            (Limits { max_listing: 0, ..Limits::default() }, "max_listing"),
            (Limits { max_import_tasks: 0, ..Limits::default() }, "max_import_tasks"),
            (Limits { max_tune_questions: 0, ..Limits::default() }, "max_tune_questions"),
            (Limits { max_labelled_tickets: 0, ..Limits::default() }, "max_labelled_tickets"),
            (Limits { max_listed_rejections: 0, ..Limits::default() }, "max_listed_rejections"),
            (Limits { max_key_note_chars: 0, ..Limits::default() }, "max_key_note_chars"),
            (Limits { max_conditions: 0, ..Limits::default() }, "max_conditions"),
            (Limits { max_condition_values: 0, ..Limits::default() }, "max_condition_values"),
            (Limits { max_condition_value_chars: 0, ..Limits::default() }, "max_condition_value_chars"),
            (Limits { max_expiry_days: 0, ..Limits::default() }, "max_expiry_days"),
            (Limits { max_report_days: 0, ..Limits::default() }, "max_report_days"),
            (Limits { max_report_days: MAX_DAYS_SETTING + 1, ..Limits::default() }, "max_report_days"),
            (Limits { max_expiry_days: u32::MAX, ..Limits::default() }, "max_expiry_days"),
            (Limits { max_report_periods: 1, ..Limits::default() }, "max_report_periods"),
            (Limits { max_request_id_bytes: journal::REQUEST_ID_LEN - 1, ..Limits::default() }, "max_request_id_bytes"),
            (Limits { max_api_key_bytes: API_KEY_LEN - 1, ..Limits::default() }, "max_api_key_bytes"),
        ] {
            let message = bad.validate().expect_err(name);
            assert!(message.contains(&format!("limits.{name} ")), "{name}: {message}");
        }
    }
}
