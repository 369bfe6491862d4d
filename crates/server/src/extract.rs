//! Request extractors that turn every malformed input into an [`ApiError`].

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState, ErrorCode};

/// A JSON body: `application/json`, within the body limit, nested at most `max_json_depth`
/// deep (checked before parsing), and of the expected shape.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.to_ascii_lowercase().ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = read_body(request, state, ErrorCode::InvalidJson).await?;
        let max_depth = state.limits().max_json_depth;
        if json_depth_exceeds(&bytes, max_depth) {
            return Err(ApiError::new(
                ErrorCode::NestingTooDeep,
                format!("JSON nested deeper than {max_depth} levels"),
            ));
        }
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            let code = if e.is_data() { ErrorCode::InvalidParameter } else { ErrorCode::InvalidJson };
            ApiError::new(code, format!("invalid request body: {e}"))
        })?;
        Ok(JsonBody(value))
    }
}

/// A raw body within the body limit; an oversize or unreadable body is an [`ApiError`] (axum's own
/// `Bytes` extractor would answer in plain text).
#[derive(Debug)]
pub struct BodyBytes(pub Bytes);

impl FromRequest<AppState> for BodyBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        read_body(request, state, ErrorCode::InvalidParameter).await.map(BodyBytes)
    }
}

/// Reads the body; too large is `payload_too_large`, unreadable (a broken upload) is `unreadable`.
async fn read_body(request: Request, state: &AppState, unreadable: ErrorCode) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("request body exceeds {} bytes", state.limits().max_query_body_bytes),
            )
        } else {
            ApiError::new(unreadable, format!("cannot read the body: {rejection}"))
        }
    })
}

/// True when brackets outside strings nest deeper than `max`. Runs before any recursive parser.
pub(crate) fn json_depth_exceeds(bytes: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The raw query string as `(name, value)` pairs, percent-decoded; invalid UTF-8 is refused.
#[derive(Debug)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl FromRequestParts<AppState> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, ApiError> {
        parse_pairs(parts.uri.query().unwrap_or_default()).map(QueryPairs)
    }
}

/// `name=value&...` (a query string or a form body), percent-decoded.
pub(crate) fn parse_pairs(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = Vec::new();
    for piece in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        pairs.push((decode(name)?, decode(value)?));
    }
    Ok(pairs)
}

fn decode(text: &str) -> Result<String, ApiError> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(b) = input.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = [input.next(), input.next()];
                let value = match hex {
                    [Some(h), Some(l)] => hex_value(h).zip(hex_value(l)).map(|(h, l)| (h << 4) | l),
                    _ => None,
                };
                bytes.push(value.ok_or_else(|| {
                    ApiError::new(ErrorCode::InvalidParameter, "malformed percent-encoding in the query string")
                })?);
            }
            b => bytes.push(b),
        }
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::new(ErrorCode::InvalidParameter, "query string is not valid UTF-8 after decoding"))
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        assert!(!json_depth_exceeds(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(json_depth_exceeds(br#"{"a":[1,{"b":2}]}"#, 2));
        assert!(!json_depth_exceeds(br#"{"q":"[[[[[[[[[[\"[[["}"#, 1));
        assert!(json_depth_exceeds(&b"[".repeat(10_000), 32));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(decode("%E4%BF%9D%E6%8A%A4+a").expect("valid"), "保护 a");
        assert!(decode("%FF%FE").is_err());
        assert!(decode("%G1").is_err());
        assert!(decode("%4").is_err());
    }
}
