//! `POST /v1/feedback`: an agent's or a bot's verdict on an answer, or on one item of it.

use axum::extract::State;
use axum::{Extension, Json};
use journal::{FeedbackEvent, JournalError, Recorded, Verdict};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::extract::JsonBody;
use crate::{ApiError, AppState, ErrorCode};

/// A verdict on the answer named by `request_id` (the `X-Request-Id` of a search, ticket match,
/// retrieve or Dify retrieval), or on one item it showed.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// The `X-Request-Id` of the answer: letters, digits and `-`, at most the
    /// `max_request_id_bytes` limit (64 unless configured).
    pub request_id: String,
    /// An item the answer showed; absent for a verdict on the answer as a whole.
    #[serde(default)]
    pub item_id: Option<String>,
    pub verdict: Verdict,
    /// Free text (masked before it is stored; at most the `feedback_max_comment_chars` limit, 500
    /// characters unless configured).
    #[serde(default)]
    pub comment: Option<String>,
}

/// What was recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedbackAnswer {
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    pub verdict: Verdict,
    /// `created`, `replaced` (this key's earlier verdict on the same request and item) or
    /// `unchanged` (the same verdict again: feedback is idempotent).
    pub outcome: String,
}

impl From<JournalError> for ApiError {
    fn from(error: JournalError) -> Self {
        match error {
            JournalError::UnknownRequest => ApiError::new(ErrorCode::NotFound, error.to_string()),
            JournalError::ItemNotShown => ApiError {
                field: Some("item_id".into()),
                ..ApiError::new(ErrorCode::ValidationFailed, error.to_string())
            },
            JournalError::Open { .. } | JournalError::Write(_) => {
                tracing::error!(error = %error, "the request log cannot be written");
                ApiError::new(ErrorCode::Internal, "the request log cannot be written; the server log has the details")
            }
        }
    }
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError { field: Some(field.to_string()), ..ApiError::new(ErrorCode::ValidationFailed, message.to_string()) }
}

/// `POST /v1/feedback`
#[utoipa::path(
    post,
    path = "/v1/feedback",
    tag = "feedback",
    request_body = FeedbackRequest,
    responses(
        (status = 200, description = "Recorded (on disk before this answer)", body = FeedbackAnswer),
        (status = 400, description = "`invalid_json` or `invalid_parameter` (unknown verdict or field)", body = ApiError),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 404, description = "`not_found`: no logged request has this id (unknown, or past retention)",
            body = ApiError),
        (status = 422, description = "`validation_failed`: `request_id` or `item_id` malformed, `item_id` not \
            among the answer's results, or `comment` too long (`field` names which)", body = ApiError),
    ),
)]
pub(crate) async fn feedback(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(request): JsonBody<FeedbackRequest>,
) -> Result<Json<FeedbackAnswer>, ApiError> {
    let request_id = request.request_id.trim().to_string();
    let max_bytes = state.limits().max_request_id_bytes;
    if request_id.is_empty()
        || request_id.len() > max_bytes
        || !request_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(invalid(
            "request_id",
            &format!(
                "`request_id` must be the X-Request-Id of an answer: letters, digits and `-`, at most {max_bytes} bytes"
            ),
        ));
    }
    let item_id = request.item_id.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if item_id.as_ref().is_some_and(|id| id.len() > store::record::MAX_ID_LEN) {
        return Err(invalid("item_id", "`item_id` is longer than an item id can be"));
    }
    let max_chars = state.limits().feedback_max_comment_chars;
    let comment = match request.comment.map(|c| c.trim().to_string()).filter(|c| !c.is_empty()) {
        Some(c) if c.chars().count() > max_chars => {
            return Err(invalid("comment", &format!("`comment` is longer than {max_chars} characters")));
        }
        Some(c) => Some(analysis::mask(&analysis::normalize(&c)).text),
        None => None,
    };
    let journal = state.ready_journal()?;
    let event = FeedbackEvent {
        request_id: request_id.clone(),
        item_id: item_id.clone(),
        verdict: request.verdict,
        comment,
        key: principal.key_id.clone(),
        org: principal.org.clone(),
        at_ms: journal::now_ms(),
    };
    let engine = state.ready_engine()?;
    let outcome = tokio::task::spawn_blocking(move || {
        let outcome = journal.record_feedback(event)?;
        if outcome != Recorded::Unchanged {
            // Ranking follows the verdicts from the next search on.
            engine.set_feedback_prior(search::feedback::FeedbackPrior::from_snapshot(&journal.snapshot()));
        }
        Ok::<_, JournalError>(outcome)
    })
    .await
    .map_err(|_| ApiError::new(ErrorCode::Internal, "internal error; the server log has the details"))??;
    if outcome != Recorded::Unchanged {
        state.metrics().record_feedback(request.verdict);
    }
    let outcome = match outcome {
        Recorded::Created => "created",
        Recorded::Replaced => "replaced",
        Recorded::Unchanged => "unchanged",
    };
    Ok(Json(FeedbackAnswer { request_id, item_id, verdict: request.verdict, outcome: outcome.to_string() }))
}
