//! `POST /v1/admin/categories`: `gridkb learn-categories` on a running server (see
//! `search::category_model`).

use axum::Json;
use axum::extract::State;
use search::category_model::{LearnReport, PastTicket};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::extract::JsonBody;
use crate::{ApiError, AppState};

/// The centre's past tickets, each with the category it was filed under.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LearnCategoriesBody {
    /// 1 to `max_labelled_tickets` (200,000 unless configured) tickets naming at least two
    /// categories; they replace the ones learned before.
    pub tickets: Vec<PastTicket>,
}

/// `POST /v1/admin/categories`: learns the service categories from the centre's past tickets and
/// uses them for every ticket matched from now on. The texts are masked and kept in the data
/// directory (replacing what was there), and learned again at every start.
#[utoipa::path(
    post,
    path = "/v1/admin/categories",
    operation_id = "learn_categories",
    tag = "operations",
    request_body = LearnCategoriesBody,
    responses(
        (status = 200, description = "The tickets learned from, per category", body = LearnReport),
        (status = 400, description = "`invalid_parameter`: an unknown category code, too many tickets, an empty or too long text, fewer than two categories; the message names the ticket and the limit", body = ApiError),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: only admin keys may call this route", body = ApiError),
        (status = 413, description = "`payload_too_large`: past `max_ingest_body_bytes`", body = ApiError),
        (status = 503, description = "`not_ready`, with `Retry-After`", body = ApiError),
    ),
)]
pub(crate) async fn learn(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<LearnCategoriesBody>,
) -> Result<Json<LearnReport>, ApiError> {
    let tickets: Vec<_> = body.tickets.into_iter().enumerate().map(|(i, t)| t.labelled(i + 1)).collect();
    let report =
        state.run_write(move |engine| Ok(engine.learn_categories(&tickets, search::KeepHistory::Save)?)).await?;
    Ok(Json(report))
}
