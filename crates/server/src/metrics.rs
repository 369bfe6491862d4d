//! Prometheus metrics, served at `GET /metrics` in the text exposition format 0.0.4.
//!
//! Requests are counted by the request-log middleware with the matched route *template*
//! (`/v1/devices/{serial}`), never the raw URL, so no query text, serial number or other personal
//! data reaches a label; a request no route matched is labelled `(unmatched)` and a method outside
//! the standard ones `OTHER`, which keeps the label sets bounded whatever clients send. Index sizes
//! and the search queue are read when scraped.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `gridkb_http_requests_total` | counter | `route`, `method`, `status` |
//! | `gridkb_http_request_duration_seconds` | histogram | `route`, `method` |
//! | `gridkb_search_queue_depth` | gauge: searches running or waiting | |
//! | `gridkb_search_queue_capacity` | gauge: most searches running or waiting | |
//! | `gridkb_search_rejected_total` | counter: searches refused with 503 (queue full) | |
//! | `gridkb_sparql_queue_depth` | gauge: SPARQL queries running or waiting | |
//! | `gridkb_sparql_queue_capacity` | gauge: most SPARQL queries running or waiting | |
//! | `gridkb_sparql_rejected_total` | counter: SPARQL queries refused with 503 (queue full) | |
//! | `gridkb_abandoned_total` | counter: work stopped early because its client hung up | `pool` |
//! | `gridkb_http_connections` | gauge: open HTTP connections | |
//! | `gridkb_http_connections_refused_total` | counter: connections refused (cap reached) | |
//! | `gridkb_process_resident_memory_bytes` | gauge: the server's resident memory (Linux) | |
//! | `gridkb_ready` | gauge: 1 once the indexes are open | |
//! | `gridkb_index_items` | gauge: knowledge items in the lexical index | |
//! | `gridkb_index_entities` | gauge: records that are not items (graph entities) | |
//! | `gridkb_index_vectors` | gauge: vectors in the dense index (0 without a model) | |
//! | `gridkb_index_triples` | gauge: triples in the knowledge graph (0 when switched off; kept `metrics_slow_figures_ms`) | |
//! | `gridkb_feedback_total` | counter: verdicts recorded | `verdict` |
//! | `gridkb_zero_result_requests_total` | counter: logged requests that showed nothing | |
//! | `gridkb_knowledge_gap_tasks_open` | gauge: open knowledge-gap tasks (computed when scraped, kept `metrics_slow_figures_ms`) | |
//! | `gridkb_request_log_dropped_total` | counter: request events dropped (writer queue full) | |
//! | `gridkb_store_lag` | gauge: change-log entries the node lacks (0 with redb) | |
//! | `gridkb_store_local_seq` | gauge: newest change-log entry applied locally | |
//! | `gridkb_store_stale` | gauge: 1 when the shared store has not answered for `store_stale_after_ms` | |
//! | `gridkb_store_seconds_since_contact` | gauge: since the shared store last answered (0 with redb) | |
//! | `gridkb_build_info` | gauge, always 1 | `version` |

use std::fmt;
use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::{ApiError, AppState, ErrorCode, PoolKind};

/// The `Content-Type` of `GET /metrics`.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the latency histogram, in seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0, 10.0];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    verdict: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The registry and every metric in it; one per [`AppState`].
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    search_rejected: Counter,
    queue_depth: Gauge,
    queue_capacity: Gauge,
    sparql_rejected: Counter,
    sparql_depth: Gauge,
    sparql_capacity: Gauge,
    abandoned: Family<PoolLabels, Counter>,
    connections: Gauge,
    connections_refused: Counter,
    resident: Gauge<u64, AtomicU64>,
    ready: Gauge,
    items: Gauge<u64, AtomicU64>,
    entities: Gauge<u64, AtomicU64>,
    vectors: Gauge<u64, AtomicU64>,
    triples: Gauge<u64, AtomicU64>,
    feedback: Family<VerdictLabels, Counter>,
    zero_results: Counter,
    open_gaps: Gauge<u64, AtomicU64>,
    log_dropped: Counter<u64, AtomicU64>,
    store_lag: Gauge<u64, AtomicU64>,
    store_local_seq: Gauge<u64, AtomicU64>,
    store_stale: Gauge,
    store_since_contact: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// When the slow figures (triples, open gap tasks) were last computed.
    slow_figures_at: std::sync::Mutex<Option<std::time::Instant>>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "gridkb_http_requests",
            "HTTP requests by route template, method and status",
            requests.clone(),
        );
        let latency: Latency = Family::new_with_constructor(latency_histogram);
        registry.register(
            "gridkb_http_request_duration_seconds",
            "HTTP request latency by route template and method, in seconds",
            latency.clone(),
        );
        let search_rejected = Counter::default();
        registry.register(
            "gridkb_search_rejected",
            "Searches refused with 503 because the search queue was full",
            search_rejected.clone(),
        );
        let sparql_rejected = Counter::default();
        registry.register(
            "gridkb_sparql_rejected",
            "SPARQL queries refused with 503 because the SPARQL queue was full",
            sparql_rejected.clone(),
        );
        let abandoned = Family::<PoolLabels, Counter>::default();
        registry.register(
            "gridkb_abandoned",
            "Requests whose client hung up before the answer, and whose work was told to stop",
            abandoned.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "gridkb_http_connections_refused",
            "Connections answered 503 and closed because the connection cap was reached",
            connections_refused.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let queue_depth = gauge(&mut registry, "gridkb_search_queue_depth", "Searches running or waiting for a slot");
        let queue_capacity =
            gauge(&mut registry, "gridkb_search_queue_capacity", "Most searches running or waiting before 503");
        let sparql_depth =
            gauge(&mut registry, "gridkb_sparql_queue_depth", "SPARQL queries running or waiting for a slot");
        let sparql_capacity =
            gauge(&mut registry, "gridkb_sparql_queue_capacity", "Most SPARQL queries running or waiting before 503");
        let connections = gauge(&mut registry, "gridkb_http_connections", "Open HTTP connections");
        let ready = gauge(&mut registry, "gridkb_ready", "1 once the indexes are open, else 0");
        let size = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::<u64, AtomicU64>::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let items = size(&mut registry, "gridkb_index_items", "Knowledge items in the lexical index");
        let entities =
            size(&mut registry, "gridkb_index_entities", "Records in the store that are not knowledge items");
        let vectors = size(&mut registry, "gridkb_index_vectors", "Vectors in the dense index");
        let triples = size(&mut registry, "gridkb_index_triples", "Triples in the knowledge graph");
        let feedback = Family::<VerdictLabels, Counter>::default();
        registry.register("gridkb_feedback", "Verdicts recorded by POST /v1/feedback, by verdict", feedback.clone());
        let zero_results = Counter::default();
        registry.register(
            "gridkb_zero_result_requests",
            "Logged search requests that showed nothing",
            zero_results.clone(),
        );
        let open_gaps = size(&mut registry, "gridkb_knowledge_gap_tasks_open", "Open knowledge-gap tasks");
        let log_dropped = Counter::<u64, AtomicU64>::default();
        registry.register(
            "gridkb_request_log_dropped",
            "Request events dropped because the request log's writer queue was full",
            log_dropped.clone(),
        );
        let resident = size(
            &mut registry,
            "gridkb_process_resident_memory_bytes",
            "Resident memory of the server process (VmRSS), in bytes",
        );
        let store_lag =
            size(&mut registry, "gridkb_store_lag", "Change-log entries this node lacks from the shared store");
        let store_local_seq =
            size(&mut registry, "gridkb_store_local_seq", "Newest change-log entry applied by this node");
        let store_stale =
            gauge(&mut registry, "gridkb_store_stale", "1 when the shared store has not answered for too long");
        let store_since_contact = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "gridkb_store_seconds_since_contact",
            "Seconds since the shared store last answered (0 with the embedded store)",
            store_since_contact.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build.get_or_create(&BuildLabels { version: env!("CARGO_PKG_VERSION") }).set(1);
        registry.register("gridkb_build_info", "Build of this server; always 1", build);
        Metrics {
            registry,
            requests,
            latency,
            search_rejected,
            queue_depth,
            queue_capacity,
            sparql_rejected,
            sparql_depth,
            sparql_capacity,
            abandoned,
            connections,
            connections_refused,
            resident,
            ready,
            items,
            entities,
            vectors,
            triples,
            feedback,
            zero_results,
            open_gaps,
            log_dropped,
            store_lag,
            store_local_seq,
            store_stale,
            store_since_contact,
            slow_figures_at: std::sync::Mutex::new(None),
        }
    }

    /// Whether the slow figures are older than `keep` (or were never computed); marks them
    /// computed now when they are.
    fn slow_figures_due(&self, keep: std::time::Duration) -> bool {
        let mut at = self.slow_figures_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = at.is_none_or(|t| t.elapsed() >= keep);
        if due {
            *at = Some(std::time::Instant::now());
        }
        due
    }

    /// Counts one verdict recorded.
    pub(crate) fn record_feedback(&self, verdict: journal::Verdict) {
        self.feedback.get_or_create(&VerdictLabels { verdict: verdict.as_str() }).inc();
    }

    /// Counts one logged request that showed nothing.
    pub(crate) fn record_zero_result(&self) {
        self.zero_results.inc();
    }

    /// Counts one answered request. `route` is the matched route template (or `(unmatched)`).
    pub(crate) fn record_request(&self, route: &str, method: &Method, status: u16, seconds: f64) {
        let method = method_label(method);
        self.requests.get_or_create(&RequestLabels { route: route.to_string(), method, status }).inc();
        self.latency.get_or_create(&RouteLabels { route: route.to_string(), method }).observe(seconds);
    }

    /// Counts one request refused because its pool's queue was full.
    pub(crate) fn record_rejected(&self, pool: PoolKind) {
        match pool {
            PoolKind::Search => self.search_rejected.inc(),
            PoolKind::Sparql => self.sparql_rejected.inc(),
        };
    }

    /// Counts one request whose client hung up while its work ran (the work was told to stop).
    pub(crate) fn record_abandoned(&self, pool: PoolKind) {
        self.abandoned.get_or_create(&PoolLabels { pool: pool.as_str() }).inc();
    }

    /// The open connections gauge.
    pub(crate) fn connections(&self) -> &Gauge {
        &self.connections
    }

    /// Counts one connection refused at the cap.
    pub(crate) fn record_connection_refused(&self) {
        self.connections_refused.inc();
    }
}

/// This process's resident memory (`VmRSS` of `/proc/self/status`), where there is one.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// A method as a label: the standard ones by name, anything else `OTHER` (bounded cardinality).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// Index sizes read at scrape time.
struct Sizes {
    store: search::StoreStatus,
    items: u64,
    entities: u64,
    vectors: u64,
    /// Only when the slow figures are due.
    triples: Option<u64>,
}

/// Prometheus metrics in the text exposition format 0.0.4.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Every metric, in the Prometheus text format 0.0.4",
            content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: the key's role may not read metrics (admin only)", body = ApiError),
    ),
)]
pub(crate) async fn scrape(State(state): State<AppState>) -> Response {
    let metrics = state.metrics();
    let (depth, capacity) = state.admitted(PoolKind::Search);
    metrics.queue_depth.set(i64::try_from(depth).unwrap_or(i64::MAX));
    metrics.queue_capacity.set(i64::try_from(capacity).unwrap_or(i64::MAX));
    let (depth, capacity) = state.admitted(PoolKind::Sparql);
    metrics.sparql_depth.set(i64::try_from(depth).unwrap_or(i64::MAX));
    metrics.sparql_capacity.set(i64::try_from(capacity).unwrap_or(i64::MAX));
    if let Some(bytes) = resident_bytes() {
        metrics.resident.set(bytes);
    }
    metrics.ready.set(i64::from(state.engine().is_some()));
    // The figures that cost a pass over a whole collection are kept for `metrics_slow_figures_ms`.
    let slow = metrics.slow_figures_due(std::time::Duration::from_millis(state.limits().metrics_slow_figures_ms));
    if let Some(engine) = state.engine().cloned() {
        let sizes = tokio::task::spawn_blocking(move || {
            let stats = engine.stats().ok()?;
            let triples = slow.then(|| engine.graph().and_then(|g| g.triple_count().ok()).unwrap_or(0));
            let store = engine.store_status();
            Some(Sizes {
                store,
                items: stats.indexed_items,
                entities: stats.records.saturating_sub(stats.indexed_items),
                vectors: stats.dense.map_or(0, |d| d.vectors as u64),
                triples: triples.map(|t| t as u64),
            })
        })
        .await;
        if let Ok(Some(sizes)) = sizes {
            metrics.items.set(sizes.items);
            metrics.entities.set(sizes.entities);
            metrics.vectors.set(sizes.vectors);
            if let Some(triples) = sizes.triples {
                metrics.triples.set(triples);
            }
            metrics.store_lag.set(sizes.store.lag);
            metrics.store_local_seq.set(sizes.store.local_seq);
            metrics.store_stale.set(i64::from(sizes.store.stale));
            metrics.store_since_contact.set(sizes.store.since_contact_ms.map_or(0.0, |ms| ms as f64 / 1000.0));
        }
    }
    if let Some(journal) = state.journal().cloned() {
        let dropped = journal.counters().dropped;
        let seen = metrics.log_dropped.get();
        metrics.log_dropped.inc_by(dropped.saturating_sub(seen));
        if slow {
            let open =
                tokio::task::spawn_blocking(move || search::Engine::open_gap_tasks(&journal.snapshot()) as u64).await;
            if let Ok(open) = open {
                metrics.open_gaps.set(open);
            }
        }
    }
    let mut text = String::new();
    if prometheus_client::encoding::prometheus_text::encode(&mut text, &metrics.registry).is_err() {
        return ApiError::new(ErrorCode::Internal, "cannot encode the metrics").into_response();
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}
