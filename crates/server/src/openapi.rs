//! The OpenAPI 3.1 document of the API, generated from the handlers' `#[utoipa::path]`
//! annotations and the request / response types' `ToSchema` derives, served at
//! `GET /openapi.json` and committed as `docs/openapi.json`.
//!
//! Two tests keep it honest (`crates/server/tests/openapi.rs`): every `.route(` registered in this
//! crate must be documented here with the same methods and vice versa, and the committed
//! `docs/openapi.json` must equal the generated document (`GRIDKB_UPDATE_OPENAPI=1` rewrites it).
//!
//! Types of other crates that cannot derive `ToSchema` (the graph's domain reports, the engine's
//! stats) are described by the schema-only mirrors below; the same test checks real responses and
//! real values of those types against the mirrors, so a field added on one side fails there.

#![allow(dead_code, reason = "the mirror types exist only for their schemas")]

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use search::Limits;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::{ApiError, ErrorCode};

/// The document's source: every documented route and every named schema.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "gridkb",
        description = "Knowledge search for a power-equipment customer-service centre: hybrid search \
            (BM25, dense, knowledge graph) with explained hits, read-only SPARQL and the graph's domain \
            queries. Every error is `{code, message}` with the status of its code. Every route except \
            `/healthz`, `/readyz` and `/openapi.json` needs an API key when the server has a key store: \
            `Authorization: Bearer gkb_…` or `X-Api-Key: gkb_…`.",
    ),
    paths(
        crate::routes::healthz,
        crate::routes::readyz,
        crate::routes::search_get,
        crate::routes::search_post,
        crate::ticket_routes::match_ticket,
        crate::rag::dify_retrieval,
        crate::rag::retrieve,
        crate::graph_routes::sparql_get,
        crate::graph_routes::sparql_post,
        crate::graph_routes::device,
        crate::graph_routes::expiring,
        crate::graph_routes::stale,
        crate::items_routes::list_items,
        crate::items_routes::get_item,
        crate::items_routes::create_item,
        crate::items_routes::check_item,
        crate::items_routes::update_item,
        crate::items_routes::item_action,
        crate::items_routes::item_versions,
        crate::items_routes::item_version,
        crate::items_routes::item_diff,
        crate::items_routes::audit,
        crate::items_routes::me,
        crate::import_routes::import,
        crate::import_routes::task,
        crate::entity_routes::find_entities,
        crate::entity_routes::get_entity,
        crate::entity_routes::entity_versions,
        crate::entity_routes::create_entity,
        crate::entity_routes::update_entity,
        crate::feedback_routes::feedback,
        crate::knowledge_task_routes::list,
        crate::knowledge_task_routes::update,
        crate::analytics_routes::hot_issues,
        crate::analytics_routes::gaps,
        crate::analytics_routes::recurring_faults,
        crate::analytics_routes::categories,
        crate::analytics_routes::zero_results,
        crate::analytics_routes::feedback,
        crate::analytics_routes::warranties,
        crate::analytics_routes::complaint_risk,
        crate::customer_routes::list,
        crate::customer_routes::decide,
        crate::metrics::scrape,
        crate::stats::stats,
        crate::backup_routes::backup,
        crate::tune_routes::tune,
        crate::category_routes::learn,
        serve,
    ),
    components(schemas(ApiError, ErrorCode)),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("api_key" = [])),
    tags(
        (name = "search", description = "Search the knowledge base"),
        (name = "tickets", description = "Match a customer's ticket to what to say and do"),
        (name = "graph", description = "The knowledge graph: SPARQL and domain queries"),
        (name = "editing", description = "The editors' workspace: items with review, versions, diffs and audit"),
        (name = "feedback", description = "Agents' and bots' verdicts on answers (by the answer's X-Request-Id)"),
        (name = "improvement", description = "The editors' task queue: flagged and unhelpful items, knowledge gaps, \
            stale and overdue items, likely duplicate pairs"),
        (name = "analytics", description = "Service managers' reports from the request log, the cases and the graph"),
        (name = "customers", description = "Customer portraits (客户画像): proposed tags with their evidence, confirmed \
            or rejected by managers and editors"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    ),
)]
pub struct ApiDoc;

/// The two ways to send an API key.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("gkb_…")
                    .description(Some(
                        "An API key as a bearer token (what Dify sends). Roles: agent and bot search; editor \
                         adds SPARQL and stale items; admin adds /metrics.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Api-Key",
                "The same API key in a header of its own",
            ))),
        );
    }
}

/// The generated document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The generated document as pretty JSON with a final newline: the bytes of `docs/openapi.json`.
pub fn document_json() -> String {
    let mut text = document().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// The document as this server's limits make it: the bounds that `--limits` may change and that
/// the schemas state as numbers (`limit`'s and `token_budget`'s maximum, the longest query and
/// ticket) are written from `limits` rather than from the defaults the annotations carry. Every
/// other bound a limit sets is described in words, naming the limit and its default. With the
/// defaults it is `docs/openapi.json` exactly.
pub fn document_json_for(limits: &Limits) -> String {
    let defaults = Limits::default();
    if *limits == defaults {
        return document_json();
    }
    let mut value = serde_json::to_value(document()).unwrap_or_default();
    let bounds: [(&str, &str, usize, usize); 5] = [
        ("limit", "maximum", defaults.max_limit, limits.max_limit),
        ("token_budget", "maximum", defaults.max_token_budget, limits.max_token_budget),
        ("q", "maxLength", defaults.max_query_chars, limits.max_query_chars),
        ("query", "maxLength", defaults.max_query_chars, limits.max_query_chars),
        ("text", "maxLength", defaults.max_ticket_chars, limits.max_ticket_chars),
    ];
    set_bounds(&mut value, &bounds);
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// Rewrites, anywhere in the document, a named property's (or query parameter's) bound that
/// holds the default to the configured value.
fn set_bounds(value: &mut serde_json::Value, bounds: &[(&str, &str, usize, usize)]) {
    use serde_json::Value;
    let rewrite = |schema: &mut Value, keyword: &str, default: usize, configured: usize| {
        if let Some(bound) = schema.get_mut(keyword)
            && bound.as_u64() == Some(default as u64)
        {
            *bound = Value::from(configured);
        }
    };
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                for (name, keyword, default, configured) in bounds {
                    if let Some(schema) = properties.get_mut(*name) {
                        rewrite(schema, keyword, *default, *configured);
                    }
                }
            }
            let parameter = map.get("in").is_some_and(|i| i == "query");
            if parameter && let Some(name) = map.get("name").and_then(Value::as_str).map(str::to_string) {
                for (bounded, keyword, default, configured) in bounds {
                    if name == *bounded
                        && let Some(schema) = map.get_mut("schema")
                    {
                        rewrite(schema, keyword, *default, *configured);
                    }
                }
            }
            for child in map.values_mut() {
                set_bounds(child, bounds);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| set_bounds(item, bounds)),
        _ => {}
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The OpenAPI document of this API", body = serde_json::Value)),
)]
pub(crate) async fn serve(State(state): State<crate::AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], state.openapi_document()).into_response()
}

/// `GET /healthz`.
#[derive(ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    status: String,
}

/// `GET /readyz` when ready.
#[derive(ToSchema)]
pub(crate) struct Ready {
    /// Always `ready`.
    #[schema(example = "ready")]
    status: String,
    stats: Stats,
    /// Where this node stands against the source of truth (always caught up with redb).
    store: search::StoreStatus,
}

/// Sizes and positions of the store and its projections (`search::Stats`).
#[derive(ToSchema)]
pub(crate) struct Stats {
    /// Records in the store: knowledge items and graph entities.
    records: u64,
    /// Knowledge items in the lexical index.
    indexed_items: u64,
    /// Sequence number of the newest change in the store.
    store_seq: u64,
    /// Store sequence number the lexical index has applied.
    lexical_seq: u64,
    /// The dense side, when a model is loaded.
    dense: Option<DenseStatus>,
}

/// The dense index (`search::DenseStatus`).
#[derive(ToSchema)]
pub(crate) struct DenseStatus {
    model_id: String,
    dimension: usize,
    vectors: usize,
    applied_seq: u64,
}

/// SPARQL 1.1 Query Results JSON: `{head, results}` for SELECT, `{head, boolean}` for ASK.
#[derive(ToSchema)]
pub(crate) struct SparqlResults {
    head: serde_json::Value,
    results: Option<serde_json::Value>,
    boolean: Option<bool>,
}

/// `POST /v1/sparql` as a form.
#[derive(ToSchema)]
pub(crate) struct SparqlForm {
    /// The SPARQL query.
    query: String,
}

/// An entity or item, named (`graph::Named`).
#[derive(ToSchema)]
pub(crate) struct Named {
    id: String,
    label: String,
}

/// Warranty state on a given day (`graph::WarrantyState`).
#[derive(ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum WarrantyState {
    /// More than the expiring window left.
    InWarranty {
        #[schema(format = Date)]
        end: String,
        days_left: i64,
    },
    /// Ends within the window; `days_left` 0 means it ends today.
    Expiring {
        #[schema(format = Date)]
        end: String,
        days_left: i64,
    },
    Expired {
        #[schema(format = Date)]
        end: String,
        days_since: i64,
    },
}

/// `graph::ContractSummary`.
#[derive(ToSchema)]
pub(crate) struct ContractSummary {
    id: String,
    label: String,
    number: Option<String>,
    warranty_start: Option<String>,
    warranty_end: Option<String>,
}

/// `graph::CustomerSummary`.
#[derive(ToSchema)]
pub(crate) struct CustomerSummary {
    id: String,
    label: String,
    level: Option<String>,
    tags: Vec<String>,
}

/// One entry of a device's service history (`graph::HistoryEntry`).
#[derive(ToSchema)]
pub(crate) struct HistoryEntry {
    id: String,
    /// `Case`, `Ticket`, or the item kind code (`solved_case`).
    kind: String,
    title: String,
    date: Option<String>,
    /// How it is tied to the device: `gk:device`, `gk:case`, `gk:contract+gk:product`.
    via: String,
}

/// Everything known about one installed device (`graph::DeviceReport`).
#[derive(ToSchema)]
pub(crate) struct DeviceReport {
    device: Named,
    serial: String,
    model: Option<Named>,
    model_code: Option<String>,
    line: Option<Named>,
    contract: Option<ContractSummary>,
    customer: Option<CustomerSummary>,
    /// From the device's own warranty end, else its contract's; `null` when neither is known.
    warranty: Option<WarrantyState>,
    history: Vec<HistoryEntry>,
}

/// A contract whose warranty ends soon (`graph::ExpiringWarranty`).
#[derive(ToSchema)]
pub(crate) struct ExpiringWarranty {
    contract: Named,
    number: Option<String>,
    customer: Option<Named>,
    #[schema(format = Date)]
    warranty_end: String,
    days_left: i64,
    /// Devices under the contract.
    devices: usize,
}

/// `GET /v1/warranties/expiring`.
#[derive(ToSchema)]
pub(crate) struct ExpiringWarranties {
    /// The window used, in days.
    days: i64,
    contracts: Vec<ExpiringWarranty>,
}

/// An item that cites a regulation which has a newer edition (`graph::StaleItem`).
#[derive(ToSchema)]
pub(crate) struct StaleItem {
    item: Named,
    cites: Named,
    /// The newest edition.
    replaced_by: Named,
}

/// `GET /v1/items/stale`.
#[derive(ToSchema)]
pub(crate) struct StaleItems {
    items: Vec<StaleItem>,
}
