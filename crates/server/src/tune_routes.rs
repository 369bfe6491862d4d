//! `POST /v1/admin/tune`: `gridkb tune` on a running server (see `search::tuning`).

use axum::Json;
use axum::extract::State;
use search::tuning::{LabelledQuestion, TuneReport};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::extract::JsonBody;
use crate::{ApiError, AppState};

/// An editor's labelled questions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TuneBody {
    /// 1 to `max_tune_questions` (5,000 unless configured) questions with their expected item ids.
    pub questions: Vec<LabelledQuestion>,
    /// Measure and report, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /v1/admin/tune`: measures every candidate fusion on the labelled questions and, unless
/// `dry_run`, makes the best the knowledge base's default (saved in the data directory) when it
/// beats the fusion in use by `min_gain`. Runs on the editing pool, beside searches; with
/// thousands of questions it takes minutes.
#[utoipa::path(
    post,
    path = "/v1/admin/tune",
    operation_id = "tune",
    tag = "operations",
    request_body = TuneBody,
    responses(
        (status = 200, description = "Every candidate's scores, the fusion in use and the one chosen, per category", body = TuneReport),
        (status = 400, description = "`invalid_parameter`, `empty_query`, `query_too_long`: the message names the question and the limit", body = ApiError),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: only admin keys may call this route", body = ApiError),
        (status = 413, description = "`payload_too_large`: past `max_ingest_body_bytes`", body = ApiError),
        (status = 503, description = "`not_ready`, with `Retry-After`", body = ApiError),
    ),
)]
pub(crate) async fn tune(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<TuneBody>,
) -> Result<Json<TuneReport>, ApiError> {
    let report =
        state.run_write(move |engine| Ok(search::tuning::tune(engine, &body.questions, !body.dry_run)?)).await?;
    Ok(Json(report))
}
