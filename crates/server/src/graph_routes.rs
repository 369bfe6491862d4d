//! The knowledge graph over HTTP: read-only SPARQL 1.1 Protocol and the typed domain queries
//! (a device by serial number or QR payload, warranties about to expire, stale items).

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use search::Engine;

use crate::extract::{QueryPairs, parse_pairs};
use crate::{ApiError, AppState, ErrorCode};

/// A SPARQL query is stopped after this long.
pub const SPARQL_TIMEOUT: Duration = Duration::from_secs(5);
/// Most solutions (or triples) a SPARQL answer may hold; past it the query is refused.
pub const SPARQL_RESULT_CAP: usize = 10_000;
/// Window of `GET /v1/warranties/expiring` when `days` is not given.
pub const DEFAULT_EXPIRY_DAYS: i64 = 90;
/// Longest window and longest listing of the domain queries.
pub const MAX_EXPIRY_DAYS: i64 = 3_650;
pub const MAX_LISTING: usize = 1_000;

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
        .run_search(move |engine| {
            graph::sparql(graph_of(engine)?, &query, SPARQL_TIMEOUT, SPARQL_RESULT_CAP).map_err(ApiError::from)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// `GET /v1/sparql?query=...`
pub(crate) async fn sparql_get(
    State(state): State<AppState>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    run_sparql(state, one(&pairs, "query")).await
}

/// `POST /v1/sparql` with `application/sparql-query` or a form with `query=`. Updates are
/// refused: editors change the graph through the record store, never with loose triples.
pub(crate) async fn sparql_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
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
pub(crate) async fn device(State(state): State<AppState>, Path(serial): Path<String>) -> Result<Response, ApiError> {
    if serial.is_empty() || serial.len() > 256 {
        return Err(ApiError::new(ErrorCode::InvalidParameter, "a serial number is 1 to 256 bytes"));
    }
    let report = state
        .run_search(move |engine| {
            let graph = graph_of(engine)?;
            let today = graph::Date::today();
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

/// `GET /v1/warranties/expiring?days=90&limit=100`
pub(crate) async fn expiring(
    State(state): State<AppState>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let days = match one(&pairs, "days") {
        None => DEFAULT_EXPIRY_DAYS,
        Some(v) => v.trim().parse::<i64>().ok().filter(|d| (0..=MAX_EXPIRY_DAYS).contains(d)).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidParameter,
                format!("`days` must be a whole number from 0 to {MAX_EXPIRY_DAYS}"),
            )
        })?,
    };
    let limit = match one(&pairs, "limit") {
        None => 100,
        Some(v) => v.trim().parse::<usize>().ok().filter(|l| (1..=MAX_LISTING).contains(l)).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidLimit, format!("`limit` must be a whole number from 1 to {MAX_LISTING}"))
        })?,
    };
    let found = state
        .run_search(move |engine| Ok(graph::warranties_expiring(graph_of(engine)?, graph::Date::today(), days, limit)?))
        .await?;
    Ok(Json(serde_json::json!({"days": days, "contracts": found})).into_response())
}

/// `GET /v1/items/stale`: items citing a regulation that a newer edition superseded.
pub(crate) async fn stale(State(state): State<AppState>) -> Result<Response, ApiError> {
    let found = state.run_search(move |engine| Ok(graph::stale_items(graph_of(engine)?)?)).await?;
    Ok(Json(serde_json::json!({"items": found})).into_response())
}
