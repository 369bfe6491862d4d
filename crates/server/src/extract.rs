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
        let bytes = json_bytes(request, state).await?;
        let refuse = |path: Option<&serde_path_to_error::Path>, error: &serde_json::Error| {
            let code = if error.is_data() { ErrorCode::InvalidParameter } else { ErrorCode::InvalidJson };
            ApiError::new(code, format!("invalid request body: {}", describe_json_error(path, error)))
        };
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|e| refuse(Some(e.path()), e.inner()))?;
        deserializer.end().map_err(|e| refuse(None, &e))?;
        Ok(JsonBody(value))
    }
}

/// The bytes of a JSON body before it is parsed: `application/json` (`unsupported_media_type`),
/// within the body limit (`payload_too_large`), readable (`invalid_json`), and nested at most
/// `max_json_depth` deep (`nesting_too_deep`).
pub(crate) async fn json_bytes(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
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
        return Err(ApiError::new(ErrorCode::NestingTooDeep, format!("JSON nested deeper than {max_depth} levels")));
    }
    Ok(bytes)
}

/// What is wrong with a JSON body, naming the field and never repeating the value sent: serde's
/// own messages quote the offending value (`invalid type: string "13812345678", expected usize`),
/// the unknown field's name or the unknown variant, any of which may be personal data.
pub(crate) fn describe_json_error(path: Option<&serde_path_to_error::Path>, inner: &serde_json::Error) -> String {
    let full = inner.to_string();
    // serde_json appends the position; the position is ours to keep, the message is rewritten.
    let message = match full.rfind(" at line ") {
        Some(at) if inner.line() > 0 => &full[..at],
        _ => full.as_str(),
    };
    // An unknown field's path ends in the name the client sent: name its parent instead.
    let unknown_field = message.starts_with("unknown field `");
    let field = path.and_then(|p| field_path(p, unknown_field));
    let what = if let Some(rest) =
        message.strip_prefix("invalid type: ").or_else(|| message.strip_prefix("invalid value: "))
    {
        let problem = if message.starts_with("invalid type") { "wrong type" } else { "invalid value" };
        match rest.rsplit_once(", expected ") {
            Some((got, expected)) => format!("{problem}: got {}, expected {expected}", kind_of(got)),
            None => problem.to_string(),
        }
    } else if message.starts_with("unknown field `") {
        match message.rsplit_once("`, expected ") {
            Some((_, expected)) => format!("unknown field; expected {expected}"),
            None => "unknown field; this object takes no fields".to_string(),
        }
    } else if message.starts_with("unknown variant `") {
        match message.rsplit_once("`, expected ") {
            Some((_, expected)) => format!("unknown value; expected {expected}"),
            None => "unknown value".to_string(),
        }
    } else {
        // Syntax errors and `missing field` / `invalid length` name no value sent; anything else
        // is masked as a last resort.
        analysis::mask(message).text
    };
    let position =
        if inner.line() > 0 { format!(" (line {}, column {})", inner.line(), inner.column()) } else { String::new() };
    match field {
        Some(field) => format!("`{field}`: {what}{position}"),
        None => format!("{what}{position}"),
    }
}

/// The path of the field at fault, with any segment that is not one of our identifiers (a map
/// key the client chose) replaced by `?`.
fn field_path(path: &serde_path_to_error::Path, drop_last: bool) -> Option<String> {
    use serde_path_to_error::Segment;
    let is_identifier = |s: &str| {
        s.len() <= 32
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    let segments: Vec<_> = path.iter().collect();
    let keep = if drop_last { segments.len().saturating_sub(1) } else { segments.len() };
    let mut out = String::new();
    for segment in &segments[..keep] {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(if is_identifier(key) { key } else { "?" });
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// What sort of value serde's `Unexpected` text describes, without the value itself.
fn kind_of(unexpected: &str) -> &'static str {
    match unexpected.split([' ', '`', '"']).next().unwrap_or_default() {
        "string" => "a string",
        "integer" => "an integer",
        "floating" => "a number",
        "boolean" => "a boolean",
        "character" => "a character",
        "null" | "unit" => "null",
        "sequence" => "an array",
        "map" => "an object",
        _ => "a value of another type",
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
                format!(
                    "request body too large: queries take at most {} bytes, imports {}",
                    state.limits().max_query_body_bytes,
                    state.limits().max_ingest_body_bytes
                ),
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
    fn json_errors_name_the_field_and_never_the_value() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code, reason = "only deserialised")]
        struct Request {
            #[serde(default)]
            limit: Option<usize>,
            #[serde(default)]
            retrievers: Vec<Kind>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Kind {
            Lexical,
        }
        let describe = |body: &str| {
            let mut de = serde_json::Deserializer::from_str(body);
            let error = serde_path_to_error::deserialize::<_, Request>(&mut de).expect_err("invalid");
            describe_json_error(Some(error.path()), error.inner())
        };
        let message = describe(r#"{"limit": "13812345678"}"#);
        assert!(message.starts_with("`limit`: wrong type: got a string, expected"), "{message}");
        for (body, secret) in [
            (r#"{"limit": "13812345678"}"#, "13812345678"),
            (r#"{"limit": 13812345678.5}"#, "13812345678"),
            (r#"{"13812345678": 1}"#, "13812345678"),
            (r#"{"retrievers": ["zhangsan@example.com"]}"#, "zhangsan"),
            (r#"{"limit": -11010519491231002}"#, "11010519491231002"),
        ] {
            let message = describe(body);
            assert!(!message.contains(secret), "{body}: {message}");
        }
        assert!(describe(r#"{"retrievers": ["x"]}"#).contains("`retrievers[0]`: unknown value; expected"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(decode("%E4%BF%9D%E6%8A%A4+a").expect("valid"), "保护 a");
        assert!(decode("%FF%FE").is_err());
        assert!(decode("%G1").is_err());
        assert!(decode("%4").is_err());
    }
}
