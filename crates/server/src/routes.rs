//! Routes, and the request log that never records query text.

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use search::{FilterField, SearchRequest, SearchResponse};
use serde_json::json;

use crate::auth::Principal;
use crate::extract::{JsonBody, QueryPairs};
use crate::graph_routes;
use crate::request_log;
use crate::{ApiError, AppState, ErrorCode};

pub(crate) fn router(state: AppState) -> Router {
    let body_limit = state.limits().max_query_body_bytes;
    // The web console's pages and files (open; not API, so not in the OpenAPI document).
    crate::console::add_routes(Router::new())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/search", get(search_get).post(search_post))
        .route("/v1/tickets/match", axum::routing::post(crate::ticket_routes::match_ticket))
        .route("/v1/sparql", get(graph_routes::sparql_get).post(graph_routes::sparql_post))
        .route("/v1/devices/{serial}", get(graph_routes::device))
        .route("/v1/warranties/expiring", get(graph_routes::expiring))
        .route("/v1/items/stale", get(graph_routes::stale))
        .route("/v1/items", get(crate::items_routes::list_items).post(crate::items_routes::create_item))
        .route("/v1/items/check", axum::routing::post(crate::items_routes::check_item))
        .route("/v1/items/{id}", get(crate::items_routes::get_item).put(crate::items_routes::update_item))
        .route("/v1/items/{id}/versions", get(crate::items_routes::item_versions))
        .route("/v1/items/{id}/versions/{version}", get(crate::items_routes::item_version))
        .route("/v1/items/{id}/diff", get(crate::items_routes::item_diff))
        .route("/v1/items/{id}/{action}", axum::routing::post(crate::items_routes::item_action))
        .route("/v1/audit", get(crate::items_routes::audit))
        .route(
            "/v1/import",
            axum::routing::post(crate::import_routes::import)
                .layer(DefaultBodyLimit::max(state.limits().max_ingest_body_bytes)),
        )
        .route(
            "/v1/admin/tune",
            axum::routing::post(crate::tune_routes::tune)
                .layer(DefaultBodyLimit::max(state.limits().max_ingest_body_bytes)),
        )
        .route(
            "/v1/admin/categories",
            axum::routing::post(crate::category_routes::learn)
                .layer(DefaultBodyLimit::max(state.limits().max_ingest_body_bytes)),
        )
        .route("/v1/tasks/{id}", get(crate::import_routes::task))
        .route("/v1/tasks/knowledge", get(crate::knowledge_task_routes::list))
        .route("/v1/tasks/knowledge/{id}", axum::routing::post(crate::knowledge_task_routes::update))
        .route("/v1/feedback", axum::routing::post(crate::feedback_routes::feedback))
        .route("/v1/analytics/hot-issues", get(crate::analytics_routes::hot_issues))
        .route("/v1/analytics/gaps", get(crate::analytics_routes::gaps))
        .route("/v1/analytics/recurring-faults", get(crate::analytics_routes::recurring_faults))
        .route("/v1/analytics/categories", get(crate::analytics_routes::categories))
        .route("/v1/analytics/zero-results", get(crate::analytics_routes::zero_results))
        .route("/v1/analytics/feedback", get(crate::analytics_routes::feedback))
        .route("/v1/analytics/warranties", get(crate::analytics_routes::warranties))
        .route("/v1/analytics/complaint-risk", get(crate::analytics_routes::complaint_risk))
        .route("/v1/customers/tag-proposals", get(crate::customer_routes::list))
        .route("/v1/customers/{id}/tags", axum::routing::post(crate::customer_routes::decide))
        .route("/v1/entities", get(crate::entity_routes::find_entities).post(crate::entity_routes::create_entity))
        .route("/v1/entities/{id}", get(crate::entity_routes::get_entity).put(crate::entity_routes::update_entity))
        .route("/v1/entities/{id}/versions", get(crate::entity_routes::entity_versions))
        .route("/v1/me", get(crate::items_routes::me))
        .route("/openapi.json", get(crate::openapi::serve))
        .route("/metrics", get(crate::metrics::scrape))
        .route("/v1/stats", get(crate::stats::stats))
        .route("/v1/backup", axum::routing::post(crate::backup_routes::backup))
        .route("/retrieval", axum::routing::post(crate::rag::dify_retrieval))
        .route("/v1/retrieve", axum::routing::post(crate::rag::retrieve))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Any error that escaped the error table (e.g. an axum extractor's plain text) as JSON.
        .layer(middleware::from_fn(crate::error::plain_errors_as_json))
        .layer(DefaultBodyLimit::max(body_limit))
        // Deny by default: every route above needs the key its row in `auth::required_role` names.
        .layer(middleware::from_fn_with_state(state.clone(), crate::auth::require))
        .layer(middleware::from_fn_with_state(state.clone(), crate::auth::loopback_host_when_open))
        .layer(middleware::from_fn_with_state(state.clone(), stale_header))
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .with_state(state)
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The process is alive", body = crate::openapi::Health)),
)]
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the indexes are open and searches can run.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Ready, with the sizes of the indexes", body = crate::openapi::Ready),
        (status = 503, description = "`not_ready`: the indexes are still being opened, or the node is catching \
            up with the shared record store (with `Retry-After`)",
            body = ApiError),
    ),
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let Some(engine) = state.engine().cloned() else {
        return ApiError::new(ErrorCode::NotReady, "the indexes are still being built").into_response();
    };
    match tokio::task::spawn_blocking(move || engine.stats().map(|stats| (stats, engine.store_status()))).await {
        Ok(Ok((stats, store))) if store.ready => {
            Json(json!({"status": "ready", "stats": stats, "store": store})).into_response()
        }
        Ok(Ok((_, store))) => ApiError::new(
            ErrorCode::NotReady,
            format!("catching up with the record store: {} change(s) behind", store.lag),
        )
        .into_response(),
        _ => ApiError::new(ErrorCode::NotReady, "the indexes cannot be read").into_response(),
    }
}

/// `GET /v1/search?q=...&limit=&offset=&kind=&category=&major=&status=&owner=&owner_level=&product=&fault=&tag=`;
/// filter parameters may repeat or hold comma-separated values.
#[utoipa::path(
    get,
    path = "/v1/search",
    operation_id = "search",
    tag = "search",
    params(
        ("q" = Option<String>, Query, description = "The words to search for (at most the `max_query_chars` \
            limit, 512 characters unless configured); \
            personal data is masked before use. Required unless a filter is given."),
        ("limit" = Option<usize>, Query, description = "Hits to return: 1 to the `max_limit` limit (100 unless \
            configured); the `default_limit` limit (10) when absent"),
        ("offset" = Option<usize>, Query, description = "Hits to skip; offset + limit may not exceed the \
            `max_window` limit (1000 unless configured)"),
        ("retrievers" = Option<String>, Query,
            description = "Comma-separated retrievers to use: lexical, dense, graph (default: all available)"),
        ("kind" = Option<String>, Query, description = "Filter: item kind(s), comma-separated or repeated"),
        ("category" = Option<String>, Query, description = "Filter: minor service category"),
        ("major" = Option<String>, Query, description = "Filter: major service category"),
        ("status" = Option<String>, Query, description = "Filter: item status (default: published only)"),
        ("owner" = Option<String>, Query, description = "Filter: owning unit"),
        ("owner_level" = Option<String>, Query, description = "Filter: level of the owning unit"),
        ("product" = Option<String>, Query, description = "Filter: product line / model id"),
        ("fault" = Option<String>, Query, description = "Filter: fault id"),
        ("tag" = Option<String>, Query, description = "Filter: tag"),
    ),
    responses(
        (status = 200, description = "Ranked, explained hits", body = SearchResponse,
            headers(("x-request-id" = String, description = "The id of this answer in the request log"))),
        (status = 400, description = "`empty_query`, `query_too_long`, `invalid_limit`, `invalid_offset`, \
            `invalid_filter`, `unknown_parameter` or `invalid_parameter` (bad percent-encoding, invalid UTF-8, \
            unknown retriever)", body = ApiError),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: the key's role may not search", body = ApiError),
        (status = 503, description = "`not_ready` or `overloaded` (search queue full), with `Retry-After`",
            body = ApiError),
    ),
)]
pub(crate) async fn search_get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let request = search_request_from_pairs(pairs)?;
    published_only_for_readers(&principal, &request.filters)?;
    run(state, principal, request).await
}

/// The same search as `GET /v1/search`, as a JSON body (with fusion settings).
#[utoipa::path(
    post,
    path = "/v1/search",
    operation_id = "search_post",
    tag = "search",
    request_body = SearchRequest,
    responses(
        (status = 200, description = "Ranked, explained hits", body = SearchResponse,
            headers(("x-request-id" = String, description = "The id of this answer in the request log"))),
        (status = 400, description = "`invalid_json` (malformed), `invalid_parameter` (wrong type, unknown \
            field or filter), `nesting_too_deep` (deeper than the \
            `max_json_depth` limit, 32 unless configured), `empty_query`, `query_too_long`, \
            `invalid_limit`, `invalid_offset` or `invalid_filter`", body = ApiError),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: the key's role may not search", body = ApiError),
        (status = 413, description = "`payload_too_large`: the body exceeds the `max_query_body_bytes` limit \
            (2 MB unless configured)", body = ApiError),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`",
            body = ApiError),
        (status = 503, description = "`not_ready` or `overloaded` (search queue full), with `Retry-After`",
            body = ApiError),
    ),
)]
pub(crate) async fn search_post(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(request): JsonBody<SearchRequest>,
) -> Result<Response, ApiError> {
    published_only_for_readers(&principal, &request.filters)?;
    run(state, principal, request).await
}

/// Agents and bots are served published items only: a `status` filter asking for anything else
/// is refused (without one, searches return published items for every role).
pub(crate) fn published_only_for_readers(
    principal: &Principal,
    filters: &std::collections::BTreeMap<FilterField, Vec<String>>,
) -> Result<(), ApiError> {
    let asks_unpublished =
        filters.get(&FilterField::Status).is_some_and(|values| values.iter().any(|v| v.trim() != "published"));
    if principal.role.is_reader() && asks_unpublished {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "agents and bots see published items only; drop the status filter or use an editor key",
        ));
    }
    Ok(())
}

async fn run(state: AppState, principal: Principal, request: SearchRequest) -> Result<Response, ApiError> {
    let started = Instant::now();
    let mut response: SearchResponse =
        state.run_search(move |engine, stop| engine.search_until(&request, stop).map_err(ApiError::from)).await?;
    let id = request_log::record(&state, &principal, journal::Route::Search, started, |event| {
        request_log::search(event, &response)
    });
    response.request_id = Some(id.clone());
    Ok(request_log::with_id(&id, response))
}

fn search_request_from_pairs(pairs: Vec<(String, String)>) -> Result<SearchRequest, ApiError> {
    let mut request = SearchRequest::default();
    let number = |name: &str, value: &str| {
        value.trim().parse::<usize>().map_err(|_| {
            let code = if name == "limit" { ErrorCode::InvalidLimit } else { ErrorCode::InvalidOffset };
            ApiError::new(code, format!("`{name}` must be a non-negative whole number"))
        })
    };
    for (name, value) in pairs {
        match name.as_str() {
            "q" => request.q = value,
            "limit" => request.limit = Some(number("limit", &value)?),
            "offset" => request.offset = number("offset", &value)?,
            "retrievers" => {
                let list = value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| {
                        serde_json::from_value::<search::Retriever>(serde_json::Value::String(v.to_string())).map_err(
                            |_| {
                                ApiError::new(
                                    ErrorCode::InvalidParameter,
                                    "`retrievers` names an unknown retriever; use lexical, dense or graph",
                                )
                            },
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                request.retrievers = Some(list);
            }
            other => {
                let field: FilterField =
                    serde_json::from_value(serde_json::Value::String(other.to_string())).map_err(|_| {
                        ApiError::new(
                            ErrorCode::UnknownParameter,
                            format!(
                                "unknown parameter{}; use q, limit, offset, retrievers, kind, category, major, \
                                 status, owner, owner_level, product, fault or tag",
                                parameter_name(other)
                            ),
                        )
                    })?;
                let values = request.filters.entry(field).or_default();
                values.extend(value.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_string));
            }
        }
    }
    Ok(request)
}

/// ` `name`` for a parameter name that is one of our kind of identifier, nothing otherwise: a
/// name the client made up is input like any value, and is not repeated.
fn parameter_name(name: &str) -> String {
    let is_identifier = !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if is_identifier { format!(" `{name}`") } else { String::new() }
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route; GET /openapi.json describes every route of the API")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this route does not accept that method")
}

/// One log line per request: method, route pattern, status, latency. Never the query string or
/// the body, which may hold personal data.
/// Also counts the request in the Prometheus metrics, by route pattern.
/// The header that flags an answer from a node that has lost contact with the shared store
/// (PostgreSQL) for longer than `limits.store_stale_after_ms`: its value is the seconds since the
/// last contact. The answer itself is the node's own (possibly out of date) view.
pub(crate) const STALE_HEADER: &str = "x-gridkb-stale";

async fn stale_header(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(stale) = state.engine().and_then(|engine| engine.stale_for()) {
        let seconds =
            if stale == std::time::Duration::MAX { "unknown".to_string() } else { stale.as_secs().to_string() };
        if let Ok(value) = axum::http::HeaderValue::from_str(&seconds) {
            response.headers_mut().insert(STALE_HEADER, value);
        }
    }
    response
}

async fn log_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method: Method = request.method().clone();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "(unmatched)".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    let status: StatusCode = response.status();
    let seconds = started.elapsed().as_secs_f64();
    state.metrics().record_request(&route, &method, status.as_u16(), seconds);
    tracing::info!(%method, route, status = status.as_u16(), ms = seconds * 1e3, "request");
    response
}
