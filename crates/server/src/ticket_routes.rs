//! `POST /v1/tickets/match`: a ticket in, what to say and what to do out.

use std::time::Instant;

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use search::{TicketMatch, TicketRequest};

use crate::auth::Principal;
use crate::extract::JsonBody;
use crate::request_log;
use crate::{ApiError, AppState};

/// Matches a ticket: masked text, predicted service category (major / minor, with confidence
/// and the evidence), linked entities, the customer's equipment and warranty, the answer
/// standard to read out, response strategies for the customer's tags, solutions and similar
/// solved cases, each with its explanation.
#[utoipa::path(
    post,
    path = "/v1/tickets/match",
    tag = "tickets",
    request_body = TicketRequest,
    responses(
        (status = 200, description = "The ticket matched to its category, guidance, solutions and cases",
            body = TicketMatch,
            headers(("x-request-id" = String, description = "The id of this answer in the request log"))),
        (status = 400, description = "`invalid_json`, `invalid_parameter` (wrong type, unknown field, \
            customer_id / device_serial not 1–128 bytes), `nesting_too_deep`, `empty_query` (no text or \
            nothing searchable), `query_too_long` (longer than the \
            `max_ticket_chars` limit, 4,000 characters unless configured) or `invalid_limit`",
            body = ApiError),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: the key's role may not match tickets", body = ApiError),
        (status = 413, description = "`payload_too_large`: the body exceeds the `max_query_body_bytes` limit \
            (2 MB unless configured)", body = ApiError),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`",
            body = ApiError),
        (status = 503, description = "`not_ready` or `overloaded` (search queue full), with `Retry-After`",
            body = ApiError),
    ),
)]
pub(crate) async fn match_ticket(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(request): JsonBody<TicketRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let mut matched: TicketMatch =
        state.run_search(move |engine, stop| engine.match_ticket_until(&request, stop).map_err(ApiError::from)).await?;
    let id = request_log::record(&state, &principal, journal::Route::Ticket, started, |event| {
        request_log::ticket(event, &matched)
    });
    matched.request_id = Some(id.clone());
    Ok(request_log::with_id(&id, matched))
}
