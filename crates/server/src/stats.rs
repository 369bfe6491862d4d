//! `GET /v1/stats`: what the knowledge base holds, for admins (the same document as
//! `gridkb stats --json`).

use axum::Json;
use axum::extract::State;
use search::KnowledgeStats;

use crate::{ApiError, AppState};

/// `GET /v1/stats`: items by kind, status, category and product line; entities by class;
/// labelled tickets; triples; vectors; distinct-text ratio; sequence numbers; disk use.
#[utoipa::path(
    get,
    path = "/v1/stats",
    operation_id = "stats",
    tag = "operations",
    responses(
        (status = 200, description = "The counts of the knowledge base", body = KnowledgeStats),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: only admin keys may call this route", body = ApiError),
        (status = 503, description = "`not_ready` or `overloaded`, with `Retry-After`", body = ApiError),
    ),
)]
pub(crate) async fn stats(State(state): State<AppState>) -> Result<Json<KnowledgeStats>, ApiError> {
    let stats = state.run_search(|engine, _| Ok(engine.knowledge_stats()?)).await?;
    Ok(Json(stats))
}
