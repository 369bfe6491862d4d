//! The knowledge graph over HTTP: read-only SPARQL 1.1 Protocol and the typed domain queries
//! (a device by serial number or QR payload, warranties about to expire, stale items).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use search::Engine;

use crate::extract::{BodyBytes, QueryPairs, parse_pairs};
use crate::{ApiError, AppState, ErrorCode};

/// Window of `GET /v1/warranties/expiring` when `days` is not given (or `max_expiry_days`, when
/// that limit is lower).
pub const DEFAULT_EXPIRY_DAYS: i64 = 90;
/// Contracts `GET /v1/warranties/expiring` lists when `limit` is not given (or `max_listing`,
/// when that limit is lower).
pub const DEFAULT_LISTING: usize = 100;

fn graph_of(engine: &Engine) -> Result<&graph::Graph, ApiError> {
    engine
        .graph()
        .ok_or_else(|| ApiError::new(ErrorCode::NoGraph, "the knowledge graph is switched off on this server"))
}

fn one(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

async fn run_sparql(state: AppState, query: Option<String>) -> Result<Response, ApiError> {
    let query = query.filter(|q| !q.trim().is_empty()).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidSparql,
            "give the SPARQL query as `query` (or as an application/sparql-query body)",
        )
    })?;
    let (content_type, body) = state
        .run_sparql(move |engine, stop| {
            let cap = engine.limits().sparql_result_cap;
            graph::sparql_until(graph_of(engine)?, &query, stop, cap, graph::GraphSyntax::NTriples)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// `GET /v1/sparql?query=...`: read-only SPARQL 1.1 over the knowledge graph.
#[utoipa::path(
    get,
    path = "/v1/sparql",
    operation_id = "sparql",
    tag = "graph",
    params(("query" = String, Query, description = "A SPARQL 1.1 SELECT, ASK, CONSTRUCT or DESCRIBE query")),
    responses(
        (status = 200, description = "SPARQL results: JSON for SELECT / ASK, N-Triples for CONSTRUCT / DESCRIBE",
            content(
                (crate::openapi::SparqlResults = "application/sparql-results+json"),
                (String = "application/n-triples"),
            )),
        (status = 400, description = "`invalid_sparql` (syntax, empty), `sparql_refused` (UPDATE, LOAD, \
            SERVICE), `sparql_timeout` (past the `sparql_timeout_ms` limit, 5 s unless configured) or \
            `too_many_results` (more than the `sparql_result_cap` limit, 10 000 unless configured)", body = ApiError),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: the key's role may not call this route", body = ApiError),
        (status = 503, description = "`no_graph` (the graph is switched off), `not_ready` or `overloaded`, \
            with `Retry-After`", body = ApiError),
    ),
)]
pub(crate) async fn sparql_get(
    State(state): State<AppState>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    run_sparql(state, one(&pairs, "query")).await
}

/// `POST /v1/sparql` with `application/sparql-query` or a form with `query=`. Updates are
/// refused: editors change the graph through the record store, never with loose triples.
#[utoipa::path(
    post,
    path = "/v1/sparql",
    operation_id = "sparql_post",
    tag = "graph",
    request_body(
        description = "The query as the body, or as the `query` field of a form",
        content(
            (String = "application/sparql-query", example = "ASK { ?s ?p ?o }"),
            (crate::openapi::SparqlForm = "application/x-www-form-urlencoded"),
        ),
    ),
    responses(
        (status = 200, description = "SPARQL results: JSON for SELECT / ASK, N-Triples for CONSTRUCT / DESCRIBE",
            content(
                (crate::openapi::SparqlResults = "application/sparql-results+json"),
                (String = "application/n-triples"),
            )),
        (status = 400, description = "`invalid_sparql` (syntax, empty), `sparql_refused` (UPDATE, LOAD, \
            SERVICE), `sparql_timeout` (past the `sparql_timeout_ms` limit, 5 s unless configured) or \
            `too_many_results` (more than the `sparql_result_cap` limit, 10 000 unless configured)", body = ApiError),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: the key's role may not call this route", body = ApiError),
        (status = 413, description = "`payload_too_large`: the body exceeds the `max_query_body_bytes` limit \
            (2 MB unless configured)", body = ApiError),
        (status = 415, description = "`unsupported_media_type`: neither a SPARQL query nor a form", body = ApiError),
        (status = 503, description = "`no_graph` (the graph is switched off), `not_ready` or `overloaded`, \
            with `Retry-After`", body = ApiError),
    ),
)]
pub(crate) async fn sparql_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    BodyBytes(body): BodyBytes,
) -> Result<Response, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::new(ErrorCode::InvalidSparql, "the request body is not valid UTF-8"))?;
    let query = match media.as_str() {
        "application/sparql-query" => Some(text.to_string()),
        "application/x-www-form-urlencoded" => one(&parse_pairs(text)?, "query"),
        "application/sparql-update" => {
            return Err(ApiError::new(
                ErrorCode::SparqlRefused,
                "SPARQL UPDATE is not accepted; change knowledge through ingest, which keeps versions",
            ));
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send application/sparql-query or application/x-www-form-urlencoded",
            ));
        }
    };
    run_sparql(state, query).await
}

/// `GET /v1/devices/{serial}`: model, contract, customer, warranty state and service history.
#[utoipa::path(
    get,
    path = "/v1/devices/{serial}",
    operation_id = "device",
    tag = "graph",
    params(("serial" = String, Path, description = "A device's serial number or the payload of its QR code (1 to 256 bytes)")),
    responses(
        (status = 200, description = "Everything known about the device", body = crate::openapi::DeviceReport),
        (status = 400, description = "`invalid_parameter`: the serial is empty or too long", body = ApiError),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: the key's role may not call this route", body = ApiError),
        (status = 404, description = "`not_found`: no device with that serial number or QR payload", body = ApiError),
        (status = 503, description = "`no_graph` (the graph is switched off), `not_ready` or `overloaded`, \
            with `Retry-After`", body = ApiError),
    ),
)]
pub(crate) async fn device(
    State(state): State<AppState>,
    serial: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    // axum's own rejection (e.g. invalid UTF-8 after percent-decoding) would answer in plain text.
    let Path(serial) = serial.map_err(|rejection| ApiError::new(ErrorCode::InvalidParameter, rejection.body_text()))?;
    if serial.is_empty() || serial.len() > 256 {
        return Err(ApiError::new(ErrorCode::InvalidParameter, "a serial number is 1 to 256 bytes"));
    }
    let report = state
        .run_search(move |engine, _| {
            let graph = graph_of(engine)?;
            let today = calendar::Date::today();
            let found = graph::device_by_serial(graph, &serial, today)?;
            match found {
                Some(report) => Ok(Some(report)),
                None => Ok(graph::device_by_qr(graph, &serial, today)?),
            }
        })
        .await?;
    match report {
        Some(report) => Ok(Json(report).into_response()),
        None => Err(ApiError::new(ErrorCode::NotFound, "no device with that serial number or QR payload")),
    }
}

/// `GET /v1/warranties/expiring?days=90&limit=100`: contracts whose warranty ends soon.
#[utoipa::path(
    get,
    path = "/v1/warranties/expiring",
    operation_id = "expiring_warranties",
    tag = "graph",
    params(
        ("days" = Option<i64>, Query, description = "Window in days: 0 to the `max_expiry_days` limit (3650 \
            unless configured); 90, or `max_expiry_days` when lower, when absent"),
        ("limit" = Option<usize>, Query, description = "Most contracts to list: 1 to the `max_listing` limit \
            (1000 unless configured); 100, or `max_listing` when lower, when absent"),
    ),
    responses(
        (status = 200, description = "Contracts whose warranty ends within the window, soonest first",
            body = crate::openapi::ExpiringWarranties),
        (status = 400, description = "`invalid_parameter` (days) or `invalid_limit`", body = ApiError),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: the key's role may not call this route", body = ApiError),
        (status = 503, description = "`no_graph` (the graph is switched off), `not_ready` or `overloaded`, \
            with `Retry-After`", body = ApiError),
    ),
)]
pub(crate) async fn expiring(
    State(state): State<AppState>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let (max_days, max_listing) = (i64::from(state.limits().max_expiry_days), state.limits().max_listing);
    let days = match one(&pairs, "days") {
        None => DEFAULT_EXPIRY_DAYS.min(max_days),
        Some(v) => v.trim().parse::<i64>().ok().filter(|d| (0..=max_days).contains(d)).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidParameter, format!("`days` must be a whole number from 0 to {max_days}"))
        })?,
    };
    let limit = match one(&pairs, "limit") {
        None => DEFAULT_LISTING.min(max_listing),
        Some(v) => v.trim().parse::<usize>().ok().filter(|l| (1..=max_listing).contains(l)).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidLimit, format!("`limit` must be a whole number from 1 to {max_listing}"))
        })?,
    };
    let found = state
        .run_search(move |engine, _| {
            Ok(graph::warranties_expiring(graph_of(engine)?, calendar::Date::today(), days, limit)?)
        })
        .await?;
    Ok(Json(serde_json::json!({"days": days, "contracts": found})).into_response())
}

/// `GET /v1/items/stale`: items citing a regulation that a newer edition superseded.
#[utoipa::path(
    get,
    path = "/v1/items/stale",
    operation_id = "stale_items",
    tag = "graph",
    responses(
        (status = 200, description = "Items that cite a superseded regulation, at most the `max_listing` limit \
            (1000 unless configured)", body = crate::openapi::StaleItems),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: the key's role may not call this route", body = ApiError),
        (status = 503, description = "`no_graph` (the graph is switched off), `not_ready` or `overloaded`, \
            with `Retry-After`", body = ApiError),
    ),
)]
pub(crate) async fn stale(State(state): State<AppState>) -> Result<Response, ApiError> {
    let limit = state.limits().max_listing;
    let found = state.run_search(move |engine, _| Ok(graph::stale_items(graph_of(engine)?, limit)?)).await?;
    Ok(Json(serde_json::json!({"items": found})).into_response())
}
