//! Routes, and the request log that never records query text.

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use search::{FilterField, SearchRequest, SearchResponse};
use serde_json::json;

use crate::extract::{JsonBody, QueryPairs};
use crate::graph_routes;
use crate::{ApiError, AppState, ErrorCode};

pub(crate) fn router(state: AppState) -> Router {
    let body_limit = state.limits().max_query_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/search", get(search_get).post(search_post))
        .route("/v1/sparql", get(graph_routes::sparql_get).post(graph_routes::sparql_post))
        .route("/v1/devices/{serial}", get(graph_routes::device))
        .route("/v1/warranties/expiring", get(graph_routes::expiring))
        .route("/v1/items/stale", get(graph_routes::stale))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let Some(engine) = state.engine().cloned() else {
        return ApiError::new(ErrorCode::NotReady, "the indexes are still being built").into_response();
    };
    match tokio::task::spawn_blocking(move || engine.stats()).await {
        Ok(Ok(stats)) => Json(json!({"status": "ready", "stats": stats})).into_response(),
        _ => ApiError::new(ErrorCode::NotReady, "the indexes cannot be read").into_response(),
    }
}

/// `GET /v1/search?q=...&limit=&offset=&kind=&category=&major=&status=&owner=&owner_level=&product=&fault=&tag=`;
/// filter parameters may repeat or hold comma-separated values.
async fn search_get(
    State(state): State<AppState>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<SearchResponse>, ApiError> {
    let request = search_request_from_pairs(pairs)?;
    run(state, request).await
}

async fn search_post(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<SearchRequest>,
) -> Result<Json<SearchResponse>, ApiError> {
    run(state, request).await
}

async fn run(state: AppState, request: SearchRequest) -> Result<Json<SearchResponse>, ApiError> {
    let response = state.run_search(move |engine| engine.search(&request).map_err(ApiError::from)).await?;
    Ok(Json(response))
}

fn search_request_from_pairs(pairs: Vec<(String, String)>) -> Result<SearchRequest, ApiError> {
    let mut request = SearchRequest::default();
    let number = |name: &str, value: &str| {
        value.trim().parse::<usize>().map_err(|_| {
            let code = if name == "limit" { ErrorCode::InvalidLimit } else { ErrorCode::InvalidOffset };
            ApiError::new(code, format!("`{name}` must be a non-negative whole number, got {value:?}"))
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
                                    format!("unknown retriever `{v}`; use lexical, dense or graph"),
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
                                "unknown parameter `{other}`; use q, limit, offset, retrievers, kind, category, major, \
                                 status, owner, owner_level, product, fault or tag"
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

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "no such route; the API has /v1/search, /v1/sparql, /v1/devices/{serial}, /v1/warranties/expiring, /v1/items/stale, /healthz and /readyz",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this route does not accept that method")
}

/// One log line per request: method, route pattern, status, latency. Never the query string or
/// the body, which may hold personal data.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method: Method = request.method().clone();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "(unmatched)".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    let status: StatusCode = response.status();
    tracing::info!(%method, route, status = status.as_u16(), ms = started.elapsed().as_secs_f64() * 1e3, "request");
    response
}
