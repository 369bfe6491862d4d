//! The one table from error code to HTTP status; every route answers errors through it.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Every error the API can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    InvalidSparql,
    SparqlRefused,
    SparqlTimeout,
    TooManyResults,
    NoGraph,
    NotFound,
    MethodNotAllowed,
    NotReady,
    Overloaded,
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
            | ErrorCode::InvalidSparql
            | ErrorCode::SparqlRefused
            | ErrorCode::SparqlTimeout
            | ErrorCode::TooManyResults => StatusCode::BAD_REQUEST,
            ErrorCode::NoGraph => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::NotReady | ErrorCode::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code named by the search crate's validation.
    fn from_search_code(code: &str) -> ErrorCode {
        match code {
            "empty_query" => ErrorCode::EmptyQuery,
            "query_too_long" => ErrorCode::QueryTooLong,
            "invalid_limit" => ErrorCode::InvalidLimit,
            "invalid_offset" => ErrorCode::InvalidOffset,
            "invalid_filter" => ErrorCode::InvalidFilter,
            _ => ErrorCode::InvalidParameter,
        }
    }
}

/// An error as the API answers it: `{code, message}` with the code's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }
}

impl From<search::Error> for ApiError {
    fn from(error: search::Error) -> Self {
        match error {
            search::Error::InvalidRequest { code, message } => {
                ApiError::new(ErrorCode::from_search_code(code), message)
            }
            other => {
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
            G::ResultCapExceeded { .. } => ErrorCode::TooManyResults,
            _ => {
                tracing::error!(error = %error, "graph query failed");
                return ApiError::new(ErrorCode::Internal, "internal error; the server log has the details");
            }
        };
        ApiError::new(code, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let mut response = (status, Json(&self)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
