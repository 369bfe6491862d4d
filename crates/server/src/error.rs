//! The one table from error code to HTTP status; every route answers errors through it.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Every error the API can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    InvalidParameter,
    UnknownParameter,
    UnsupportedMediaType,
    PayloadTooLarge,
    NestingTooDeep,
    EmptyQuery,
    QueryTooLong,
    InvalidLimit,
    InvalidOffset,
    InvalidFilter,
    /// A RAG request's token budget is outside its bounds.
    InvalidBudget,
    /// A Dify metadata condition that cannot be read.
    InvalidCondition,
    /// A Dify retrieval setting out of range.
    InvalidRetrievalSetting,
    /// A Dify `knowledge_id` that names no knowledge.
    UnknownKnowledge,
    /// An editor's draft past what the duplicate check reads.
    DraftTooLong,
    InvalidSparql,
    SparqlRefused,
    SparqlTimeout,
    TooManyResults,
    NoGraph,
    Unauthorized,
    Forbidden,
    /// The key's organisation does not cover the item (分级负责).
    OutOfScope,
    /// The four-eyes rule: the last author may not approve.
    FourEyes,
    /// A field breaks the schema; `field` names it.
    ValidationFailed,
    /// `If-Match` names a version that is no longer the current one.
    VersionConflict,
    /// Create with an id that exists.
    AlreadyExists,
    /// The lifecycle does not allow the action from the item's status.
    InvalidState,
    /// A write without `If-Match`.
    PreconditionRequired,
    NotFound,
    MethodNotAllowed,
    /// The API is open (no keys) and the request's `Host` is not a loopback name.
    HostNotAllowed,
    NotReady,
    Overloaded,
    /// The shared record store (PostgreSQL) cannot be reached: writes wait for it to return,
    /// reads keep answering from the node's own copy.
    StoreUnavailable,
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidJson
            | ErrorCode::InvalidParameter
            | ErrorCode::UnknownParameter
            | ErrorCode::NestingTooDeep
            | ErrorCode::EmptyQuery
            | ErrorCode::QueryTooLong
            | ErrorCode::InvalidLimit
            | ErrorCode::InvalidOffset
            | ErrorCode::InvalidFilter
            | ErrorCode::InvalidBudget
            | ErrorCode::InvalidCondition
            | ErrorCode::InvalidRetrievalSetting
            | ErrorCode::DraftTooLong
            | ErrorCode::InvalidSparql
            | ErrorCode::SparqlRefused
            | ErrorCode::SparqlTimeout
            | ErrorCode::TooManyResults => StatusCode::BAD_REQUEST,
            ErrorCode::NoGraph => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden | ErrorCode::OutOfScope | ErrorCode::FourEyes => StatusCode::FORBIDDEN,
            ErrorCode::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::VersionConflict | ErrorCode::AlreadyExists | ErrorCode::InvalidState => StatusCode::CONFLICT,
            ErrorCode::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ErrorCode::NotFound | ErrorCode::UnknownKnowledge => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::HostNotAllowed => StatusCode::MISDIRECTED_REQUEST,
            ErrorCode::NotReady | ErrorCode::Overloaded | ErrorCode::StoreUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code of the search crate's refusal: one each, no catch-all.
    fn from_invalid(code: search::Invalid) -> ErrorCode {
        use search::Invalid as I;
        match code {
            I::EmptyQuery => ErrorCode::EmptyQuery,
            I::QueryTooLong => ErrorCode::QueryTooLong,
            I::Limit => ErrorCode::InvalidLimit,
            I::Offset => ErrorCode::InvalidOffset,
            I::Filter => ErrorCode::InvalidFilter,
            I::Parameter => ErrorCode::InvalidParameter,
            I::Condition => ErrorCode::InvalidCondition,
            I::RetrievalSetting => ErrorCode::InvalidRetrievalSetting,
            I::Budget => ErrorCode::InvalidBudget,
            I::UnknownKnowledge => ErrorCode::UnknownKnowledge,
            I::DraftTooLong => ErrorCode::DraftTooLong,
        }
    }
}

/// An error as the API answers it: `{code, message}` with the code's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// The field at fault (`validation_failed`), as a path such as `products[2]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The current version (`version_conflict`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u32>,
    /// Who saved the current version (`version_conflict`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved_by: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), field: None, current_version: None, saved_by: None }
    }
}

impl From<search::EditError> for ApiError {
    fn from(error: search::EditError) -> Self {
        use search::EditError as E;
        let message = error.to_string();
        match error {
            E::NotFound(_) => ApiError::new(ErrorCode::NotFound, message),
            E::AlreadyExists(_) => ApiError::new(ErrorCode::AlreadyExists, message),
            E::VersionConflict { current, saved_by, .. } => ApiError {
                current_version: Some(current),
                saved_by: Some(saved_by),
                ..ApiError::new(ErrorCode::VersionConflict, message)
            },
            E::Invalid(field) => {
                ApiError { field: Some(field.field.clone()), ..ApiError::new(ErrorCode::ValidationFailed, message) }
            }
            E::OutOfScope(_) => ApiError::new(ErrorCode::OutOfScope, message),
            E::InvalidState(_) => ApiError::new(ErrorCode::InvalidState, message),
            E::FourEyes => ApiError::new(ErrorCode::FourEyes, message),
            E::Engine(e) => ApiError::from(e),
        }
    }
}

/// The engine's errors: the caller's to fix, the environment's to wait out, or ours. Exhaustive,
/// over the store's errors too, so that a new kind of failure does not compile until it has its
/// code here (Dify's table, `rag.rs`, follows from this one).
impl From<search::Error> for ApiError {
    fn from(error: search::Error) -> Self {
        use search::Error as E;
        match error {
            E::InvalidRequest { code, message } => ApiError::new(ErrorCode::from_invalid(code), message),
            // Nobody reads it: the client is gone.
            E::Abandoned => ApiError::new(ErrorCode::Overloaded, "the request was abandoned"),
            E::Store(store::Error::Unavailable(reason)) => {
                // The reason names the database's host; it goes to the log, not to the caller.
                tracing::warn!(%reason, "a write waits for the record store");
                ApiError::new(
                    ErrorCode::StoreUnavailable,
                    "the record store is unavailable; nothing was written, retry shortly (searches keep working)",
                )
            }
            other @ (E::Store(
                store::Error::Storage(_)
                | store::Error::Format { .. }
                | store::Error::Corrupt(_)
                | store::Error::Config(_)
                | store::Error::Diverged(_),
            )
            | E::Internal(_)
            | E::Lexical(_)
            | E::Embed(_)
            | E::Vectors(_)
            | E::Graph(_)
            | E::DataDir { .. }) => {
                tracing::error!(error = %other, "search failed");
                ApiError::new(ErrorCode::Internal, "internal error; the server log has the details")
            }
        }
    }
}

impl From<graph::GraphError> for ApiError {
    fn from(error: graph::GraphError) -> Self {
        use graph::GraphError as G;
        let code = match &error {
            G::Syntax(_) | G::InvalidArgument(_) => ErrorCode::InvalidSparql,
            G::Refused { .. } => ErrorCode::SparqlRefused,
            G::Timeout { .. } => ErrorCode::SparqlTimeout,
            // Nobody reads it: the client is gone.
            G::Abandoned => ErrorCode::Overloaded,
            G::ResultCapExceeded { .. } => ErrorCode::TooManyResults,
            G::TooDeep { .. } => ErrorCode::NestingTooDeep,
            G::Evaluation(_) | G::Store(_) | G::Cancelled | G::Internal(_) => {
                tracing::error!(error = %error, "graph query failed");
                return ApiError::new(ErrorCode::Internal, "internal error; the server log has the details");
            }
        };
        ApiError::new(code, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        // The last guard of "never echo a raw input value": messages are written not to repeat
        // input, and whatever slips through is masked like any text we show.
        self.message = analysis::mask(&self.message).text;
        let status = self.code.status();
        let mut response = (status, Json(&self)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"gridkb\""));
        }
        response
    }
}

/// The last line of defence (a layer around every route): an error answered outside this table —
/// a plain-text rejection of one of axum's own extractors, a handler that forgot — becomes
/// `{code, message}` with the status of the code its status maps to, and is logged so that the
/// route can be fixed. Errors already in JSON (ours, and Dify's shape on `/retrieval`) pass as
/// they are.
pub(crate) async fn plain_errors_as_json(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::NotReady,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::InvalidParameter,
    };
    tracing::warn!(status = status.as_u16(), code = ?code, "an error was answered outside the error table");
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 1024).await.map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let message = match text {
        Ok(text) if !text.is_empty() && code != ErrorCode::Internal => text,
        _ => status.canonical_reason().unwrap_or("error").to_string(),
    };
    let mut answer = ApiError::new(code, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().entry(name).or_insert_with(|| value.clone());
        }
    }
    answer
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_search_refusal_keeps_its_own_code() {
        use search::Invalid as I;
        for (invalid, expected) in [
            (I::Budget, "invalid_budget"),
            (I::Condition, "invalid_condition"),
            (I::RetrievalSetting, "invalid_retrieval_setting"),
            (I::UnknownKnowledge, "unknown_knowledge"),
            (I::DraftTooLong, "draft_too_long"),
            (I::Limit, "invalid_limit"),
            (I::EmptyQuery, "empty_query"),
        ] {
            let error = ApiError::from(search::Error::InvalidRequest { code: invalid, message: "m".into() });
            let code = serde_json::to_value(error.code).expect("json");
            assert_eq!(code, expected, "{invalid:?}");
            assert_eq!(invalid.code(), expected, "the search crate's name for it is the API's");
            let status = if invalid == I::UnknownKnowledge { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
            assert_eq!(error.code.status(), status, "{invalid:?}");
        }
    }

    #[test]
    fn engine_and_graph_failures_keep_their_codes() {
        let code = |error: ApiError| serde_json::to_value(error.code).expect("json");
        let unavailable = search::Error::Store(store::Error::Unavailable("db.internal:5432".into()));
        let answer = ApiError::from(unavailable);
        assert_eq!(code(answer.clone()), "store_unavailable");
        assert!(!answer.message.contains("db.internal"), "the database's host stays in the log: {}", answer.message);
        assert_eq!(code(ApiError::from(search::Error::Abandoned)), "overloaded");
        for ours in [
            search::Error::Store(store::Error::Diverged("replica of another database".into())),
            search::Error::Internal("a broken rule".into()),
            search::Error::Graph(graph::GraphError::Timeout { timeout: std::time::Duration::from_secs(1) }),
            search::Error::DataDir { path: "/data".into(), message: "gone".into() },
        ] {
            let answer = ApiError::from(ours);
            assert_eq!(code(answer.clone()), "internal");
            assert!(!answer.message.contains("/data") && !answer.message.contains("rule"), "{}", answer.message);
        }
        use graph::GraphError as G;
        for (error, expected) in [
            (G::Syntax("x".into()), "invalid_sparql"),
            (G::Refused { what: "LOAD" }, "sparql_refused"),
            (G::Timeout { timeout: std::time::Duration::from_secs(5) }, "sparql_timeout"),
            (G::Abandoned, "overloaded"),
            (G::ResultCapExceeded { cap: 10 }, "too_many_results"),
            (G::TooDeep { max: 32 }, "nesting_too_deep"),
            (G::Evaluation("type error".into()), "internal"),
            (G::Cancelled, "internal"),
            (G::Internal("bug".into()), "internal"),
        ] {
            assert_eq!(code(ApiError::from(error)), expected, "{expected}");
        }
    }

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn plain_text_errors_become_the_table_s_json() {
        let app = Router::new()
            .route("/plain", get(|| async { (StatusCode::UNPROCESSABLE_ENTITY, "Failed to deserialize") }))
            .route("/ours", get(|| async { ApiError::new(ErrorCode::EmptyQuery, "give a query") }))
            .layer(axum::middleware::from_fn(plain_errors_as_json));
        let call = |uri: &'static str| {
            let app = app.clone();
            async move {
                let response = app.oneshot(axum::http::Request::get(uri).body(Body::empty()).expect("request")).await;
                let response = response.expect("infallible");
                let status = response.status();
                let bytes = axum::body::to_bytes(response.into_body(), 4096).await.expect("body");
                (status, serde_json::from_slice::<serde_json::Value>(&bytes).expect("json"))
            }
        };
        let (status, body) = call("/plain").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, serde_json::json!({"code": "invalid_parameter", "message": "Failed to deserialize"}));
        let (status, body) = call("/ours").await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("empty_query")));
    }
}
