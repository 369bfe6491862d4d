//! `POST /retrieval` (Dify's External Knowledge API, in Dify's own error shape) and
//! `POST /v1/retrieve` (passages for RAG backends, in the API's `{code, message}` shape).
//!
//! Dify's check of an endpoint when it is registered — `knowledge_id` and `query` both empty or
//! only whitespace ([`DifyRequest::is_probe`]) — is answered 200 `{"records": []}` once the key
//! and the rest of the body pass the checks every request passes; nothing is searched or logged.
//!
//! Dify errors are `{"error_code": N, "error_msg": "..."}` with a non-200 status. Dify shows
//! `error_msg` to its user, so each is a sentence that names the field or header at fault and
//! says what to send: no parser's wording, no type names, and never the value sent.
//!
//! | error_code | status | when |
//! |---|---|---|
//! | 1001 | 401 | no `Authorization` header, or not `Bearer <key>` |
//! | 1002 | 401 / 403 / 500 | unknown or revoked key, a key whose role may not read, or the key file unreadable |
//! | 2001 | 404 | `knowledge_id` names no knowledge base (or is empty while `query` is not) |
//! | 3001 | 400 / 413 / 415 | the body is not a valid request (JSON, types, required fields, size, content type) |
//! | 3002 | 400 | `metadata_condition` is malformed (unknown operator or name, missing or wrong value) |
//! | 3003 | 400 | `retrieval_setting` out of range (`top_k` < 1 or not whole, `score_threshold` outside 0..1) |
//! | 3004 | 400 | `query` empty (while `knowledge_id` is not) or longer than the query limit |
//! | 5001 | 503 | not ready yet, or too many searches in flight (with `Retry-After`) |
//! | 5000 | 500 | internal error |

use std::time::Instant;

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use search::Limits;
use search::rag::{DifyRequest, DifyResponse, RetrieveRequest, RetrieveResponse};
use serde_json::{Value, json};

use crate::auth::{self, AuthFailure, Role};
use crate::extract::{self, JsonBody};
use crate::request_log;
use crate::{ApiError, AppState, ErrorCode};

/// An error in Dify's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DifyError {
    status: StatusCode,
    error_code: u32,
    error_msg: String,
}

impl DifyError {
    fn new(status: StatusCode, error_code: u32, error_msg: impl Into<String>) -> Self {
        DifyError { status, error_code, error_msg: error_msg.into() }
    }

    fn internal() -> Self {
        DifyError::new(StatusCode::INTERNAL_SERVER_ERROR, 5000, "internal error; the server log has the details")
    }
}

impl From<AuthFailure> for DifyError {
    fn from(failure: AuthFailure) -> Self {
        if failure == AuthFailure::Unavailable {
            tracing::error!("refusing a request: the API key file cannot be read");
        }
        // Worded for Dify's user, who sets the key in Dify's external knowledge API settings.
        let message = match &failure {
            AuthFailure::Missing => "the request carries no API key; set the API key of this external knowledge API \
                                     in Dify (it is sent as `Authorization: Bearer <key>`)"
                .to_string(),
            AuthFailure::Malformed => "the `Authorization` header is not `Bearer <key>`; set the API key of this \
                                       external knowledge API in Dify again"
                .to_string(),
            AuthFailure::InvalidKey => "the API key is unknown, wrong or revoked; ask the gridkb administrator for a \
                                        `bot` key and set it in Dify"
                .to_string(),
            AuthFailure::Forbidden { role, required } => format!(
                "a key with role `{role}` may not retrieve knowledge; use a key with role `{required}` or higher"
            ),
            AuthFailure::Unavailable => "gridkb cannot read its API keys; the administrator finds the details in \
                                         the server log"
                .to_string(),
        };
        // The statuses the rest of the API uses for the same failure; Dify's code in the body.
        DifyError::new(failure.status(), failure.dify_code(), message)
    }
}

/// The API's errors in Dify's shape: every code placed (no catch-all), the engine's refusals
/// by the code `error.rs` gives them.
impl From<ApiError> for DifyError {
    fn from(error: ApiError) -> Self {
        use ErrorCode as C;
        let (status, error_code) = match error.code {
            C::NotReady | C::Overloaded | C::StoreUnavailable | C::NoGraph => (StatusCode::SERVICE_UNAVAILABLE, 5001),
            C::Internal => return DifyError::internal(),
            C::Unauthorized | C::Forbidden | C::OutOfScope | C::HostNotAllowed => (error.code.status(), 1002),
            C::UnknownKnowledge => (StatusCode::NOT_FOUND, 2001),
            C::UnsupportedMediaType | C::PayloadTooLarge => (error.code.status(), 3001),
            C::InvalidCondition => (StatusCode::BAD_REQUEST, 3002),
            C::InvalidRetrievalSetting | C::InvalidLimit => (StatusCode::BAD_REQUEST, 3003),
            C::EmptyQuery | C::QueryTooLong => (StatusCode::BAD_REQUEST, 3004),
            C::InvalidJson
            | C::InvalidParameter
            | C::UnknownParameter
            | C::NestingTooDeep
            | C::InvalidOffset
            | C::InvalidFilter
            | C::InvalidBudget
            | C::DraftTooLong
            | C::ValidationFailed => (StatusCode::BAD_REQUEST, 3001),
            // Never answered by `/retrieval` (SPARQL, editing, routing): a bad request, as before.
            C::InvalidSparql
            | C::SparqlRefused
            | C::SparqlTimeout
            | C::TooManyResults
            | C::FourEyes
            | C::VersionConflict
            | C::AlreadyExists
            | C::InvalidState
            | C::PreconditionRequired
            | C::NotFound
            | C::MethodNotAllowed => (StatusCode::BAD_REQUEST, 3001),
        };
        DifyError::new(status, error_code, error.message)
    }
}

/// The engine's errors take the API's code first (the one table, `error.rs`), then Dify's for it.
impl From<search::Error> for DifyError {
    fn from(error: search::Error) -> Self {
        DifyError::from(ApiError::from(error))
    }
}

impl IntoResponse for DifyError {
    fn into_response(self) -> Response {
        // As for ApiError: messages name fields, not values; anything that slips through is masked.
        let message = analysis::mask(&self.error_msg).text;
        let body = Json(json!({"error_code": self.error_code, "error_msg": message}));
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The body of `/retrieval`: the checks every JSON body passes (content type, size, depth), then
/// read field by field ([`DifyRequest::from_json`]) rather than by a derived deserialiser, whose
/// messages name Rust types and quote values.
#[derive(Debug)]
pub(crate) struct DifyBody(DifyRequest);

impl FromRequest<AppState> for DifyBody {
    type Rejection = DifyError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, DifyError> {
        let limits = state.limits();
        let bytes = extract::json_bytes(request, state).await.map_err(|e| body_refused(e, limits))?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| DifyError::new(StatusCode::BAD_REQUEST, 3001, not_json(&bytes, &e)))?;
        Ok(DifyBody(DifyRequest::from_json(value)?))
    }
}

/// The body checks' refusals worded for a Dify request.
fn body_refused(error: ApiError, limits: &Limits) -> DifyError {
    let message = match error.code {
        ErrorCode::UnsupportedMediaType => {
            "the request body must be JSON sent with `Content-Type: application/json`".to_string()
        }
        ErrorCode::PayloadTooLarge => format!(
            "the request body is larger than the {} bytes this route accepts; send a shorter `query` and fewer \
             `metadata_condition` values",
            limits.max_query_body_bytes
        ),
        ErrorCode::NestingTooDeep => {
            format!("the request body nests JSON more than {} levels deep; {DIFY_SHAPE}", limits.max_json_depth)
        }
        ErrorCode::InvalidJson => "the request body could not be read to its end; send the request again".to_string(),
        _ => return DifyError::from(error),
    };
    DifyError { error_msg: message, ..DifyError::from(error) }
}

const DIFY_SHAPE: &str = "send a JSON object with `knowledge_id` and `query`, and optionally `retrieval_setting` \
                          and `metadata_condition`";

/// Why a body is not JSON, with where, in words rather than the parser's.
fn not_json(bytes: &[u8], error: &serde_json::Error) -> String {
    let at = format!("near line {}, column {}", error.line(), error.column());
    if bytes.iter().all(u8::is_ascii_whitespace) {
        format!("the request body is empty; {DIFY_SHAPE}")
    } else if error.is_eof() {
        format!("the request body is cut short ({at}); {DIFY_SHAPE}")
    } else if error.to_string().starts_with("number out of range") {
        // serde_json's only syntax error about a number that is well-formed.
        format!(
            "a number in the request body is too large ({at}); send `top_k` and `score_threshold` as ordinary numbers"
        )
    } else {
        format!("the request body is not valid JSON ({at}); {DIFY_SHAPE}")
    }
}

/// The one auth check of `/retrieval` (the middleware leaves this route to its handler so that
/// failures answer in Dify's shape): a reader key (`bot` or higher).
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<auth::Principal, DifyError> {
    auth::check(state, headers, Role::Bot).map_err(DifyError::from)
}

/// The error body of `/retrieval`, in Dify's shape.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema for the OpenAPI document only; errors are built by DifyError")]
pub(crate) struct DifyErrorBody {
    /// 1001, 1002, 2001, 3001 to 3004, 5000 or 5001 (see the module documentation).
    error_code: u32,
    error_msg: String,
}

/// `POST /retrieval`: Dify's External Knowledge API.
///
/// Dify's check of the endpoint when it is registered — `knowledge_id` and `query` both empty or
/// only whitespace — is answered 200 `{"records": []}` when the key is valid (a missing or refused
/// key gets 1001 or 1002 as any request) and `retrieval_setting` and `metadata_condition`, if
/// sent, are valid; nothing is searched or logged, so it is answered while the indexes are still
/// opening too. An empty `query` with a `knowledge_id` is 3004, an empty `knowledge_id` with a
/// `query` 2001. `metadata_condition` `null`, and `conditions` absent, `null` or `[]`, mean no
/// filter. A `\"` in `query` (Dify's hit testing escapes `"` so) is read as `"`. `error_msg` is a
/// sentence for Dify's user that names what to fix and never repeats a value sent.
#[utoipa::path(
    post,
    path = "/retrieval",
    tag = "search",
    request_body = DifyRequest,
    responses(
        (status = 200, description = "Records, best first; `{\"records\": []}` when nothing matches, and to \
            Dify's registration check (`knowledge_id` and `query` both empty; no `x-request-id` then)",
            body = DifyResponse,
            headers(("x-request-id" = String, description = "The id of this answer in the request log"))),
        (status = 400, description = "3001 invalid body, 3002 malformed `metadata_condition`, 3003 \
            `retrieval_setting` out of range, 3004 `query` empty (with a `knowledge_id`) or too long", body = DifyErrorBody),
        (status = 401, description = "1001 missing or malformed `Authorization`, 1002 unknown key",
            body = DifyErrorBody),
        (status = 403, description = "1002 the key's role may not read", body = DifyErrorBody),
        (status = 404, description = "2001 unknown `knowledge_id`, or an empty one with a `query`",
            body = DifyErrorBody),
        (status = 413, description = "3001 the body exceeds the `max_query_body_bytes` limit (2 MB unless \
            configured)", body = DifyErrorBody),
        (status = 415, description = "3001 the body is not `application/json`", body = DifyErrorBody),
        (status = 503, description = "5001 not ready or overloaded, with `Retry-After`", body = DifyErrorBody),
    ),
)]
pub(crate) async fn dify_retrieval(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<DifyBody, DifyError>,
) -> Result<Response, DifyError> {
    let principal = authorize(&state, &headers)?;
    let DifyBody(request) = body?;
    if request.is_probe() {
        // Dify registering the endpoint: nobody asked anything, so no engine and no log entry.
        return Ok(Json(request.probe_answer(state.limits())?).into_response());
    }
    let started = Instant::now();
    let (answer, masked, terms) = state
        .run_search(move |engine, stop| {
            let answer = engine.dify_retrieve_until(&request, stop);
            let masked = analysis::mask(&analysis::normalize(&request.query_text())).text;
            let terms = if answer.is_ok() { engine.query_terms(&masked) } else { Vec::new() };
            Ok((answer, masked, terms))
        })
        .await?;
    let answer: DifyResponse = answer?;
    let id = request_log::record(&state, &principal, journal::Route::Dify, started, |event| {
        request_log::dify(event, masked, terms, &answer)
    });
    // Dify's response shape is fixed: the id travels in the header only.
    Ok(request_log::with_id(&id, answer))
}

/// `POST /v1/retrieve`: passages with citations, packed into a token budget.
#[utoipa::path(
    post,
    path = "/v1/retrieve",
    tag = "search",
    request_body = RetrieveRequest,
    responses(
        (status = 200, description = "Passages, best first, within the token budget", body = RetrieveResponse,
            headers(("x-request-id" = String, description = "The id of this answer in the request log"))),
        (status = 400, description = "`invalid_json`, `invalid_parameter` (wrong type, unknown field or filter, \
            `token_budget` outside 1 to the `max_token_budget` \
            limit, 8000 unless configured), `nesting_too_deep`, `empty_query`, `query_too_long`, \
            `invalid_limit` or `invalid_filter`", body = ApiError),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: the key's role may not search", body = ApiError),
        (status = 413, description = "`payload_too_large`: the body exceeds the `max_query_body_bytes` limit \
            (2 MB unless configured)", body = ApiError),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`",
            body = ApiError),
        (status = 503, description = "`not_ready` or `overloaded`, with `Retry-After`", body = ApiError),
    ),
)]
pub(crate) async fn retrieve(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<crate::auth::Principal>,
    JsonBody(request): JsonBody<RetrieveRequest>,
) -> Result<Response, ApiError> {
    crate::routes::published_only_for_readers(&principal, &request.filters)?;
    let started = Instant::now();
    let mut response: RetrieveResponse =
        state.run_search(move |engine, stop| engine.retrieve_until(&request, stop).map_err(ApiError::from)).await?;
    let id = request_log::record(&state, &principal, journal::Route::Retrieve, started, |event| {
        request_log::retrieve(event, &response)
    });
    response.request_id = Some(id.clone());
    Ok(request_log::with_id(&id, response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_codes_map_to_dify_codes() {
        let dify = |code: search::Invalid| DifyError::from(search::Error::InvalidRequest { code, message: "m".into() });
        use search::Invalid as I;
        assert_eq!(dify(I::UnknownKnowledge).error_code, 2001);
        assert_eq!(dify(I::UnknownKnowledge).status, StatusCode::NOT_FOUND);
        assert_eq!(dify(I::Condition).error_code, 3002);
        assert_eq!(dify(I::RetrievalSetting).error_code, 3003);
        assert_eq!(dify(I::QueryTooLong).error_code, 3004);
        assert_eq!(dify(I::Budget).error_code, 3001);
        assert_eq!(DifyError::from(AuthFailure::Malformed).error_code, 1001);
        assert_eq!(DifyError::from(AuthFailure::InvalidKey).error_code, 1002);
        let busy = DifyError::from(ApiError::new(ErrorCode::Overloaded, "busy"));
        assert_eq!((busy.status, busy.error_code), (StatusCode::SERVICE_UNAVAILABLE, 5001));
    }

    /// An API code answers in Dify's shape as the engine's refusal of the same kind does, and the
    /// auth codes as Dify's auth failures do.
    #[test]
    fn api_codes_map_to_the_same_dify_codes_as_search_refusals() {
        use search::Invalid as I;
        for invalid in [
            I::EmptyQuery,
            I::QueryTooLong,
            I::Limit,
            I::Offset,
            I::Filter,
            I::Parameter,
            I::Condition,
            I::RetrievalSetting,
            I::Budget,
            I::UnknownKnowledge,
            I::DraftTooLong,
        ] {
            let refusal = || search::Error::InvalidRequest { code: invalid, message: "m".into() };
            let by_api = DifyError::from(ApiError::from(refusal()));
            let expected = match invalid {
                I::UnknownKnowledge => (StatusCode::NOT_FOUND, 2001),
                I::Condition => (StatusCode::BAD_REQUEST, 3002),
                I::RetrievalSetting | I::Limit => (StatusCode::BAD_REQUEST, 3003),
                I::EmptyQuery | I::QueryTooLong => (StatusCode::BAD_REQUEST, 3004),
                I::Offset | I::Filter | I::Parameter | I::Budget | I::DraftTooLong => (StatusCode::BAD_REQUEST, 3001),
            };
            assert_eq!((by_api.status, by_api.error_code), expected, "{invalid:?}");
            assert_eq!(DifyError::from(refusal()), by_api, "{invalid:?}");
        }
        let dify = |code: ErrorCode| {
            let error = DifyError::from(ApiError::new(code, "m"));
            (error.status, error.error_code)
        };
        assert_eq!(dify(ErrorCode::Unauthorized), (StatusCode::UNAUTHORIZED, 1002));
        assert_eq!(dify(ErrorCode::Forbidden), (StatusCode::FORBIDDEN, 1002));
        assert_eq!(dify(ErrorCode::PayloadTooLarge), (StatusCode::PAYLOAD_TOO_LARGE, 3001));
        assert_eq!(dify(ErrorCode::InvalidJson), (StatusCode::BAD_REQUEST, 3001));
        assert_eq!(dify(ErrorCode::NotReady), (StatusCode::SERVICE_UNAVAILABLE, 5001));
        let internal = DifyError::from(search::Error::Internal("a broken rule".into()));
        assert_eq!((internal.status, internal.error_code), (StatusCode::INTERNAL_SERVER_ERROR, 5000));
        assert!(!internal.error_msg.contains("rule"), "{}", internal.error_msg);
    }

    /// The two routes' OpenAPI descriptions build (crate::openapi lists them in `paths(...)`).
    #[test]
    fn openapi_descriptions_build() {
        use utoipa::OpenApi;
        #[derive(OpenApi)]
        #[openapi(paths(dify_retrieval, retrieve))]
        struct Doc;
        let document = serde_json::to_value(Doc::openapi()).expect("json");
        assert!(document["paths"]["/retrieval"]["post"].is_object(), "{document}");
        assert!(document["paths"]["/v1/retrieve"]["post"].is_object(), "{document}");
    }
}
