//! The battery of bad inputs: every row is one request sent byte for byte over loopback to the
//! real server (a real engine on a temporary data directory), answered with its 4xx and
//! `{code, message}` JSON; after the battery the data is unchanged and the server still answers.
//!
//! Requests are written by hand on a TCP socket, so that the battery can send what an HTTP client
//! library would refuse or repair: raw invalid UTF-8 in the query string, a body without a content
//! type, a method the server has never heard of.

mod common;

use std::time::Duration;

use common::start;
use search::Limits;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One case of the battery.
struct Case {
    name: &'static str,
    method: &'static str,
    /// The request target as sent: already percent-encoded (or deliberately not).
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    /// Send the body with `Transfer-Encoding: chunked` instead of a `Content-Length`.
    chunked: bool,
    /// The error code answered (`dify:N` for Dify's `error_code` on `/retrieval`), or `None` for
    /// a success (syntax-like queries that are just words).
    code: Option<&'static str>,
}

const JSON: Option<&str> = Some("application/json");
/// The expected code of a request so malformed that hyper's HTTP/1 parser answers `400` with an
/// empty body before any of our code runs (raw bytes outside ASCII in the request target): the
/// status is all there is to check, and hyper offers no hook to answer in JSON.
const HTTP_PARSER: &str = "(http parser)";
const SPARQL: Option<&str> = Some("application/sparql-query");
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn case(
    name: &'static str,
    method: &'static str,
    path: impl Into<String>,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
    status: u16,
    code: Option<&'static str>,
) -> Case {
    Case { name, method, path: path.into(), content_type, body: body.into(), status, chunked: false, code }
}

impl Case {
    fn chunked(self) -> Case {
        Case { chunked: true, ..self }
    }
}

/// Percent-encodes every byte that is not unreserved.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn search_q(q: &str) -> String {
    format!("/v1/search?q={}", enc(q))
}

/// `levels` nested arrays.
fn nested(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

#[rustfmt::skip] // One row per case: a table reads best unwrapped.
fn battery(limits: &Limits) -> Vec<Case> {
    let too_long = "断".repeat(limits.max_query_chars + 1);
    let huge = format!(r#"{{"q": "{}"}}"#, "x".repeat(limits.max_query_body_bytes + 1));
    let parens = format!("{}保护{}", "(".repeat(1000), ")".repeat(1000));
    let parens_within_limit = format!("{}保护{}", "(".repeat(250), ")".repeat(250));
    let deep_object = format!(r#"{{"q":"a","filters":{}{}}}"#, r#"{"kind":"#.repeat(33), "}".repeat(33));
    // 32 levels in all (the outer object is one): passes the depth check, then fails on its type.
    let deep_32 = format!(r#"{{"q":{}}}"#, nested(31));
    let sparql_nest = format!("SELECT * WHERE {}?s ?p ?o{}", "{ ".repeat(5000), " }".repeat(5000));
    let sparql_parens = format!("SELECT * WHERE {{ ?s ?p ?o FILTER({}?o{}) }}", "(".repeat(20_000), ")".repeat(20_000));
    let sparql_big = format!("SELECT * WHERE {{ ?s ?p ?o }} # {}", "x".repeat(70_000));
    let cross = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f }";
    let long_serial = "S".repeat(257);
    vec![
        // --- GET /v1/search: the query text -------------------------------------------------
        case("get: no q", "GET", "/v1/search", None, "", 400, Some("empty_query")),
        case("get: empty q", "GET", "/v1/search?q=", None, "", 400, Some("empty_query")),
        case("get: whitespace q", "GET", "/v1/search?q=%20%09%0A+", None, "", 400, Some("empty_query")),
        case("get: punctuation only", "GET", search_q("，。！？"), None, "", 400, Some("empty_query")),
        case("get: control characters only", "GET", "/v1/search?q=%00%01%07%1B%7F", None, "", 400, Some("empty_query")),
        case("get: q too long", "GET", search_q(&too_long), None, "", 400, Some("query_too_long")),
        case("get: percent-encoded invalid UTF-8", "GET", "/v1/search?q=%FF%FE", None, "", 400, Some("invalid_parameter")),
        case("get: truncated UTF-8 sequence", "GET", "/v1/search?q=%E4%BF", None, "", 400, Some("invalid_parameter")),
        case("get: malformed percent-escape", "GET", "/v1/search?q=%ZZ", None, "", 400, Some("invalid_parameter")),
        case("get: cut-off percent-escape", "GET", "/v1/search?q=a%4", None, "", 400, Some("invalid_parameter")),
        case("get: raw invalid UTF-8 in the query string", "GET", "/v1/search?q=\u{fffd}", None, "", 400, Some(HTTP_PARSER)),
        case("get: raw space in the request target", "GET", "/v1/search?q=a b", None, "", 400, Some(HTTP_PARSER)),
        case("get: 1 MB request target", "GET", format!("/v1/search?q={}", "a".repeat(1 << 20)), None, "", 431, Some(HTTP_PARSER)),
        // --- GET /v1/search: query syntax is never interpreted ---------------------------------
        case("get: tantivy field syntax", "GET", search_q("title:保护 AND ("), None, "", 200, None),
        case("get: unclosed phrase", "GET", search_q("\"unclosed 通道"), None, "", 200, None),
        case("get: lone wildcard", "GET", search_q("*"), None, "", 400, Some("empty_query")),
        case("get: match-all syntax", "GET", search_q("*:*"), None, "", 400, Some("empty_query")),
        case("get: fuzzy operator", "GET", search_q("通道~2"), None, "", 200, None),
        case("get: 1000 parentheses", "GET", search_q(&parens), None, "", 400, Some("query_too_long")),
        case("get: 250 parentheses", "GET", search_q(&parens_within_limit), None, "", 200, None),
        case("get: SPARQL in q", "GET", search_q("SELECT * WHERE { ?s ?p ?o } ; DROP ALL"), None, "", 200, None),
        case("get: control characters around words", "GET", "/v1/search?q=%00%E4%BF%9D%E6%8A%A4%1B", None, "", 200, None),
        // --- GET /v1/search: numbers and names -------------------------------------------------
        case("get: limit 0", "GET", "/v1/search?q=a&limit=0", None, "", 400, Some("invalid_limit")),
        case("get: limit over the maximum", "GET", "/v1/search?q=a&limit=101", None, "", 400, Some("invalid_limit")),
        case("get: negative limit", "GET", "/v1/search?q=a&limit=-1", None, "", 400, Some("invalid_limit")),
        case("get: non-numeric limit", "GET", "/v1/search?q=a&limit=ten", None, "", 400, Some("invalid_limit")),
        case("get: fractional limit", "GET", "/v1/search?q=a&limit=1.5", None, "", 400, Some("invalid_limit")),
        case("get: enormous limit", "GET", "/v1/search?q=a&limit=99999999999999999999999", None, "", 400, Some("invalid_limit")),
        case("get: negative offset", "GET", "/v1/search?q=a&offset=-5", None, "", 400, Some("invalid_offset")),
        case("get: offset past the window", "GET", "/v1/search?q=a&offset=995", None, "", 400, Some("invalid_offset")),
        case("get: offset usize::MAX", "GET", "/v1/search?q=a&offset=18446744073709551615", None, "", 400, Some("invalid_offset")),
        case("get: non-numeric offset", "GET", "/v1/search?q=a&offset=%E4%B8%80", None, "", 400, Some("invalid_offset")),
        case("get: unknown parameter", "GET", "/v1/search?q=a&colour=red", None, "", 400, Some("unknown_parameter")),
        case("get: unknown retriever", "GET", "/v1/search?q=a&retrievers=bm42", None, "", 400, Some("invalid_parameter")),
        case("get: empty filter", "GET", "/v1/search?q=a&kind=", None, "", 400, Some("invalid_filter")),
        case("get: filter value too long", "GET", format!("/v1/search?q=a&tag={}", "t".repeat(129)), None, "", 400, Some("invalid_filter")),
        // --- POST /v1/search: the body -----------------------------------------------------
        case("post: malformed JSON", "POST", "/v1/search", JSON, "{", 400, Some("invalid_json")),
        case("post: empty body", "POST", "/v1/search", JSON, "", 400, Some("invalid_json")),
        case("post: truncated string", "POST", "/v1/search", JSON, r#"{"q": "保护"#, 400, Some("invalid_json")),
        case("post: trailing garbage", "POST", "/v1/search", JSON, r#"{"q": "a"} x"#, 400, Some("invalid_json")),
        case("post: single quotes", "POST", "/v1/search", JSON, "{'q': 'a'}", 400, Some("invalid_json")),
        case("post: invalid UTF-8", "POST", "/v1/search", JSON, b"{\"q\": \"\xff\xfe\"}".to_vec(), 400, Some("invalid_json")),
        case("post: lone surrogate escape", "POST", "/v1/search", JSON, r#"{"q": "\ud800"}"#, 400, Some("invalid_json")),
        case("post: array instead of object", "POST", "/v1/search", JSON, "[1, 2]", 400, Some("invalid_parameter")),
        case("post: q is a number", "POST", "/v1/search", JSON, r#"{"q": 5}"#, 400, Some("invalid_parameter")),
        case("post: q is null", "POST", "/v1/search", JSON, r#"{"q": null}"#, 400, Some("invalid_parameter")),
        case("post: negative limit", "POST", "/v1/search", JSON, r#"{"q": "a", "limit": -3}"#, 400, Some("invalid_parameter")),
        case("post: fractional limit", "POST", "/v1/search", JSON, r#"{"q": "a", "limit": 1.5}"#, 400, Some("invalid_parameter")),
        case("post: limit as a string", "POST", "/v1/search", JSON, r#"{"q": "a", "limit": "10"}"#, 400, Some("invalid_parameter")),
        case("post: enormous limit", "POST", "/v1/search", JSON, r#"{"q": "a", "limit": 1e99}"#, 400, Some("invalid_parameter")),
        case("post: limit over the maximum", "POST", "/v1/search", JSON, r#"{"q": "a", "limit": 500}"#, 400, Some("invalid_limit")),
        case("post: offset usize::MAX", "POST", "/v1/search", JSON, r#"{"q": "a", "offset": 18446744073709551615}"#, 400, Some("invalid_offset")),
        case("post: empty q", "POST", "/v1/search", JSON, r#"{"q": ""}"#, 400, Some("empty_query")),
        case("post: control characters only", "POST", "/v1/search", JSON, r#"{"q": "\u0000\u0007\u001b"}"#, 400, Some("empty_query")),
        case("post: q too long", "POST", "/v1/search", JSON, json!({"q": too_long}).to_string(), 400, Some("query_too_long")),
        case("post: unknown field", "POST", "/v1/search", JSON, r#"{"q": "a", "bogus": 1}"#, 400, Some("invalid_parameter")),
        case("post: duplicate field", "POST", "/v1/search", JSON, r#"{"q": "a", "q": "b"}"#, 400, Some("invalid_parameter")),
        case("post: unknown filter", "POST", "/v1/search", JSON, r#"{"q": "a", "filters": {"colour": ["red"]}}"#, 400, Some("invalid_parameter")),
        case("post: filter not a list", "POST", "/v1/search", JSON, r#"{"q": "a", "filters": {"kind": "solved_case"}}"#, 400, Some("invalid_parameter")),
        case("post: empty filter list", "POST", "/v1/search", JSON, r#"{"q": "a", "filters": {"kind": []}}"#, 400, Some("invalid_filter")),
        case("post: too many filter values", "POST", "/v1/search", JSON, json!({"q": "a", "filters": {"tag": vec!["t"; 33]}}).to_string(), 400, Some("invalid_filter")),
        case("post: unknown fusion method", "POST", "/v1/search", JSON, r#"{"q": "a", "fusion": {"method": "magic"}}"#, 400, Some("invalid_parameter")),
        case("post: negative RRF k", "POST", "/v1/search", JSON, r#"{"q": "a", "fusion": {"method": "rrf", "k": -1}}"#, 400, Some("invalid_parameter")),
        case("post: infinite fusion weight", "POST", "/v1/search", JSON, r#"{"q": "a", "fusion": {"method": "weighted", "dense": 1e39}}"#, 400, Some("invalid_parameter")),
        case("post: no retrievers", "POST", "/v1/search", JSON, r#"{"q": "a", "retrievers": []}"#, 400, Some("invalid_parameter")),
        case("post: unknown retriever", "POST", "/v1/search", JSON, r#"{"q": "a", "retrievers": ["bm25"]}"#, 400, Some("invalid_parameter")),
        case("post: 40 nested arrays", "POST", "/v1/search", JSON, nested(40), 400, Some("nesting_too_deep")),
        case("post: 100000 nested arrays", "POST", "/v1/search", JSON, nested(100_000), 400, Some("nesting_too_deep")),
        case("post: 34 nested objects", "POST", "/v1/search", JSON, deep_object, 400, Some("nesting_too_deep")),
        case("post: 32 levels is allowed, then typed", "POST", "/v1/search", JSON, deep_32, 400, Some("invalid_parameter")),
        case("post: body over the limit", "POST", "/v1/search", JSON, huge.clone(), 413, Some("payload_too_large")),
        case("post: chunked body over the limit", "POST", "/v1/search", JSON, huge.clone(), 413, Some("payload_too_large")).chunked(),
        case("post: chunked small body", "POST", "/v1/search", JSON, r#"{"q": ""}"#, 400, Some("empty_query")).chunked(),
        case("post: byte-order mark", "POST", "/v1/search", JSON, "\u{feff}{\"q\": \"a\"}", 400, Some("invalid_json")),
        case("post: text/plain", "POST", "/v1/search", Some("text/plain"), r#"{"q": "a"}"#, 415, Some("unsupported_media_type")),
        case("post: form-encoded", "POST", "/v1/search", FORM, "q=a", 415, Some("unsupported_media_type")),
        case("post: no content type", "POST", "/v1/search", None, r#"{"q": "a"}"#, 415, Some("unsupported_media_type")),
        case("post: JSON-ish content type", "POST", "/v1/search", Some("application/jsonx"), r#"{"q": "a"}"#, 415, Some("unsupported_media_type")),
        case("post: tantivy syntax is words", "POST", "/v1/search", JSON, r#"{"q": "title:通道 AND ( \"x ~2 *"}"#, 200, None),
        // --- /v1/sparql ------------------------------------------------------------------
        case("sparql get: no query", "GET", "/v1/sparql", None, "", 400, Some("invalid_sparql")),
        case("sparql get: blank query", "GET", "/v1/sparql?query=%20", None, "", 400, Some("invalid_sparql")),
        case("sparql get: syntax error", "GET", format!("/v1/sparql?query={}", enc("SELEKT nonsense")), None, "", 400, Some("invalid_sparql")),
        case("sparql get: INSERT", "GET", format!("/v1/sparql?query={}", enc("INSERT DATA { <urn:a> <urn:b> <urn:c> }")), None, "", 400, Some("sparql_refused")),
        case("sparql get: invalid UTF-8", "GET", "/v1/sparql?query=%FF", None, "", 400, Some("invalid_parameter")),
        case("sparql post: UPDATE content type", "POST", "/v1/sparql", Some("application/sparql-update"), "INSERT DATA { <urn:a> <urn:b> <urn:c> }", 400, Some("sparql_refused")),
        case("sparql post: INSERT as a query", "POST", "/v1/sparql", SPARQL, "INSERT DATA { <urn:a> <urn:b> <urn:c> }", 400, Some("sparql_refused")),
        case("sparql post: DELETE WHERE", "POST", "/v1/sparql", SPARQL, "DELETE WHERE { ?s ?p ?o }", 400, Some("sparql_refused")),
        case("sparql post: DROP ALL in a form", "POST", "/v1/sparql", FORM, format!("query={}", enc("DROP ALL")), 400, Some("sparql_refused")),
        case("sparql post: LOAD", "POST", "/v1/sparql", SPARQL, "LOAD <http://127.0.0.1:1/x.ttl>", 400, Some("sparql_refused")),
        case("sparql post: SERVICE", "POST", "/v1/sparql", SPARQL, "SELECT * WHERE { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }", 400, Some("sparql_refused")),
        case("sparql post: syntax error", "POST", "/v1/sparql", SPARQL, "SELECT * WHERE { ?s ?p ", 400, Some("invalid_sparql")),
        case("sparql post: empty body", "POST", "/v1/sparql", SPARQL, "", 400, Some("invalid_sparql")),
        case("sparql post: invalid UTF-8", "POST", "/v1/sparql", SPARQL, b"ASK { ?s ?p \"\xff\" }".to_vec(), 400, Some("invalid_sparql")),
        case("sparql post: 5000 nested groups", "POST", "/v1/sparql", SPARQL, sparql_nest, 400, Some("nesting_too_deep")),
        case("sparql post: 20000 nested parentheses", "POST", "/v1/sparql", SPARQL, sparql_parens, 400, Some("nesting_too_deep")),
        case("sparql post: query over 64 KB", "POST", "/v1/sparql", SPARQL, sparql_big, 400, Some("invalid_sparql")),
        case("sparql post: too many results", "POST", "/v1/sparql", SPARQL, cross, 400, Some("too_many_results")),
        case("sparql post: form without query", "POST", "/v1/sparql", FORM, "q=ASK%20%7B%7D", 400, Some("invalid_sparql")),
        case("sparql post: form with bad escape", "POST", "/v1/sparql", FORM, "query=%ZZ", 400, Some("invalid_parameter")),
        case("sparql post: text/plain", "POST", "/v1/sparql", Some("text/plain"), "ASK { ?s ?p ?o }", 415, Some("unsupported_media_type")),
        case("sparql post: JSON", "POST", "/v1/sparql", JSON, r#"{"query": "ASK { ?s ?p ?o }"}"#, 415, Some("unsupported_media_type")),
        case("sparql post: no content type", "POST", "/v1/sparql", None, "ASK { ?s ?p ?o }", 415, Some("unsupported_media_type")),
        case("sparql post: body over the limit", "POST", "/v1/sparql", SPARQL, huge.clone(), 413, Some("payload_too_large")),
        case("sparql post: chunked body over the limit", "POST", "/v1/sparql", SPARQL, huge.clone(), 413, Some("payload_too_large")).chunked(),
        // --- /v1/devices/{serial} ----------------------------------------------------------
        case("device: unknown serial", "GET", "/v1/devices/NO-SUCH-SERIAL", None, "", 404, Some("not_found")),
        case("device: serial too long", "GET", format!("/v1/devices/{long_serial}"), None, "", 400, Some("invalid_parameter")),
        case("device: percent-encoded invalid UTF-8", "GET", "/v1/devices/%FF%FE", None, "", 400, Some("invalid_parameter")),
        case("device: SPARQL injection", "GET", format!("/v1/devices/{}", enc("x\" } ; DROP ALL ; #")), None, "", 404, Some("not_found")),
        case("device: control characters", "GET", "/v1/devices/%00%0A%1B", None, "", 404, Some("not_found")),
        case("device: no serial", "GET", "/v1/devices/", None, "", 404, Some("not_found")),
        // --- /v1/warranties/expiring -------------------------------------------------------
        case("expiring: negative days", "GET", "/v1/warranties/expiring?days=-1", None, "", 400, Some("invalid_parameter")),
        case("expiring: non-numeric days", "GET", "/v1/warranties/expiring?days=abc", None, "", 400, Some("invalid_parameter")),
        case("expiring: too many days", "GET", "/v1/warranties/expiring?days=99999", None, "", 400, Some("invalid_parameter")),
        case("expiring: exponent days", "GET", "/v1/warranties/expiring?days=1e3", None, "", 400, Some("invalid_parameter")),
        case("expiring: enormous days", "GET", "/v1/warranties/expiring?days=99999999999999999999999", None, "", 400, Some("invalid_parameter")),
        case("expiring: invalid UTF-8", "GET", "/v1/warranties/expiring?days=%FF", None, "", 400, Some("invalid_parameter")),
        case("expiring: limit 0", "GET", "/v1/warranties/expiring?limit=0", None, "", 400, Some("invalid_limit")),
        case("expiring: limit over the maximum", "GET", "/v1/warranties/expiring?limit=1001", None, "", 400, Some("invalid_limit")),
        case("expiring: negative limit", "GET", "/v1/warranties/expiring?limit=-1", None, "", 400, Some("invalid_limit")),
        // --- POST /v1/tickets/match --------------------------------------------------------
        case("ticket: malformed JSON", "POST", "/v1/tickets/match", JSON, r#"{"text": "#, 400, Some("invalid_json")),
        case("ticket: no text", "POST", "/v1/tickets/match", JSON, "{}", 400, Some("invalid_parameter")),
        case("ticket: empty text", "POST", "/v1/tickets/match", JSON, r#"{"text": ""}"#, 400, Some("empty_query")),
        case("ticket: punctuation only", "POST", "/v1/tickets/match", JSON, r#"{"text": "？？？！！"}"#, 400, Some("empty_query")),
        case("ticket: text is a number", "POST", "/v1/tickets/match", JSON, r#"{"text": 12}"#, 400, Some("invalid_parameter")),
        case("ticket: text too long", "POST", "/v1/tickets/match", JSON, json!({"text": "断".repeat(4001)}).to_string(), 400, Some("query_too_long")),
        case("ticket: unknown field", "POST", "/v1/tickets/match", JSON, r#"{"text": "通道告警", "priority": 1}"#, 400, Some("invalid_parameter")),
        case("ticket: customer id too long", "POST", "/v1/tickets/match", JSON, json!({"text": "通道告警", "customer_id": "c".repeat(129)}).to_string(), 400, Some("invalid_parameter")),
        case("ticket: empty device serial", "POST", "/v1/tickets/match", JSON, r#"{"text": "通道告警", "device_serial": ""}"#, 400, Some("invalid_parameter")),
        case("ticket: limit 0", "POST", "/v1/tickets/match", JSON, r#"{"text": "通道告警", "limit": 0}"#, 400, Some("invalid_limit")),
        case("ticket: negative limit", "POST", "/v1/tickets/match", JSON, r#"{"text": "通道告警", "limit": -1}"#, 400, Some("invalid_parameter")),
        case("ticket: 40 nested arrays", "POST", "/v1/tickets/match", JSON, nested(40), 400, Some("nesting_too_deep")),
        case("ticket: body over the limit", "POST", "/v1/tickets/match", JSON, huge.clone(), 413, Some("payload_too_large")),
        case("ticket: text/plain", "POST", "/v1/tickets/match", Some("text/plain"), "通道告警", 415, Some("unsupported_media_type")),
        case("ticket: GET", "GET", "/v1/tickets/match?text=a", None, "", 405, Some("method_not_allowed")),
        // --- POST /v1/retrieve -------------------------------------------------------------
        case("retrieve: malformed JSON", "POST", "/v1/retrieve", JSON, "{,}", 400, Some("invalid_json")),
        case("retrieve: empty query", "POST", "/v1/retrieve", JSON, r#"{"query": ""}"#, 400, Some("empty_query")),
        case("retrieve: query too long", "POST", "/v1/retrieve", JSON, json!({"query": too_long}).to_string(), 400, Some("query_too_long")),
        case("retrieve: token budget 0", "POST", "/v1/retrieve", JSON, r#"{"query": "通道", "token_budget": 0}"#, 400, Some("invalid_budget")),
        case("retrieve: token budget too big", "POST", "/v1/retrieve", JSON, r#"{"query": "通道", "token_budget": 8001}"#, 400, Some("invalid_budget")),
        case("retrieve: limit 0", "POST", "/v1/retrieve", JSON, r#"{"query": "通道", "limit": 0}"#, 400, Some("invalid_limit")),
        case("retrieve: unknown filter", "POST", "/v1/retrieve", JSON, r#"{"query": "通道", "filters": {"colour": ["red"]}}"#, 400, Some("invalid_parameter")),
        case("retrieve: unknown field", "POST", "/v1/retrieve", JSON, r#"{"query": "通道", "top_k": 3}"#, 400, Some("invalid_parameter")),
        case("retrieve: 40 nested arrays", "POST", "/v1/retrieve", JSON, nested(40), 400, Some("nesting_too_deep")),
        case("retrieve: form-encoded", "POST", "/v1/retrieve", FORM, "query=a", 415, Some("unsupported_media_type")),
        case("retrieve: body over the limit", "POST", "/v1/retrieve", JSON, huge.clone(), 413, Some("payload_too_large")),
        // --- POST /retrieval (Dify: `{error_code, error_msg}`) ------------------------------
        case("dify: malformed JSON", "POST", "/retrieval", JSON, "{", 400, Some("dify:3001")),
        case("dify: no query", "POST", "/retrieval", JSON, r#"{"knowledge_id": "default"}"#, 400, Some("dify:3001")),
        case("dify: query is a list", "POST", "/retrieval", JSON, r#"{"knowledge_id": "default", "query": ["a"]}"#, 400, Some("dify:3001")),
        case("dify: empty query", "POST", "/retrieval", JSON, r#"{"knowledge_id": "default", "query": ""}"#, 400, Some("dify:3004")),
        case("dify: top_k 0", "POST", "/retrieval", JSON, r#"{"knowledge_id": "default", "query": "通道", "retrieval_setting": {"top_k": 0}}"#, 400, Some("dify:3003")),
        case("dify: top_k not a number", "POST", "/retrieval", JSON, r#"{"knowledge_id": "default", "query": "通道", "retrieval_setting": {"top_k": "many"}}"#, 400, Some("dify:3003")),
        case("dify: score threshold over 1", "POST", "/retrieval", JSON, r#"{"knowledge_id": "default", "query": "通道", "retrieval_setting": {"score_threshold": 2}}"#, 400, Some("dify:3003")),
        case("dify: unknown operator", "POST", "/retrieval", JSON, r#"{"knowledge_id": "default", "query": "通道", "metadata_condition": {"conditions": [{"name": "kind", "comparison_operator": "sounds like", "value": "x"}]}}"#, 400, Some("dify:3002")),
        case("dify: unknown knowledge base", "POST", "/retrieval", JSON, r#"{"knowledge_id": "no-such-kb", "query": "通道"}"#, 404, Some("dify:2001")),
        case("dify: 40 nested arrays", "POST", "/retrieval", JSON, nested(40), 400, Some("dify:3001")),
        case("dify: text/plain", "POST", "/retrieval", Some("text/plain"), r#"{"knowledge_id": "default", "query": "通道"}"#, 415, Some("dify:3001")),
        case("dify: body over the limit", "POST", "/retrieval", JSON, huge.clone(), 413, Some("dify:3001")),
        // --- routes and methods ------------------------------------------------------------
        case("unknown route", "GET", "/v1/nothing", None, "", 404, Some("not_found")),
        case("route in the wrong case", "GET", "/V1/SEARCH?q=a", None, "", 404, Some("not_found")),
        case("path traversal", "GET", "/v1/../../etc/passwd", None, "", 404, Some("not_found")),
        case("trailing slash", "GET", "/v1/search/?q=a", None, "", 404, Some("not_found")),
        case("DELETE /v1/search", "DELETE", "/v1/search", None, "", 405, Some("method_not_allowed")),
        case("PUT /v1/sparql", "PUT", "/v1/sparql", SPARQL, "ASK {}", 405, Some("method_not_allowed")),
        case("POST /healthz", "POST", "/healthz", JSON, "{}", 405, Some("method_not_allowed")),
        case("POST /v1/devices/{serial}", "POST", "/v1/devices/SN-1", JSON, "{}", 405, Some("method_not_allowed")),
        case("PATCH /v1/warranties/expiring", "PATCH", "/v1/warranties/expiring", None, "", 405, Some("method_not_allowed")),
        case("an invented method", "BREW", "/v1/search?q=a", None, "", 405, Some("method_not_allowed")),
    ]
}

/// A response as read off the socket.
struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// Sends one request byte for byte (HTTP/1.1, `Connection: close`) and reads the answer. The body
/// is written while the answer is read, so that a server answering 413 before reading a large
/// body is heard.
async fn send(base: &str, case: &Case) -> Result<Answer, String> {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.map_err(|e| e.to_string())?;
    let mut head = format!("{} ", case.method).into_bytes();
    // `\u{fffd}` in a path stands for raw invalid UTF-8 bytes on the wire.
    head.extend(case.path.replace('\u{fffd}', "\u{1}").bytes().map(|b| if b == 1 { 0xFF } else { b }));
    head.extend_from_slice(format!(" HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n").as_bytes());
    if let Some(content_type) = case.content_type {
        head.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
    }
    let mut body = case.body.clone();
    if case.chunked {
        head.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        body = Vec::new();
        for chunk in case.body.chunks(64 * 1024) {
            body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            body.extend_from_slice(chunk);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
    } else if !case.body.is_empty() || case.method == "POST" || case.method == "PUT" {
        head.extend_from_slice(format!("Content-Length: {}\r\n", case.body.len()).as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let (mut reader, mut writer) = stream.split();
    let write = async {
        // The server may answer and close before the body is read; that is its right.
        let _ = writer.write_all(&head).await;
        let _ = writer.write_all(&body).await;
        let _ = writer.flush().await;
    };
    let read = async {
        let mut received = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) => break,
                Ok(n) => {
                    received.extend_from_slice(&buffer[..n]);
                    if complete(&received) {
                        break;
                    }
                }
                Err(e) if received.is_empty() => return Err(format!("no answer: {e}")),
                Err(_) => break,
            }
        }
        Ok(received)
    };
    let (_, received) = tokio::time::timeout(Duration::from_secs(30), async { tokio::join!(write, read) })
        .await
        .map_err(|_| "no answer within 30 s".to_string())?;
    parse(&received?)
}

fn header_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn content_length(head: &str) -> Option<usize> {
    head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
    })
}

/// Whether a whole answer with a `Content-Length` has arrived.
fn complete(bytes: &[u8]) -> bool {
    let Some(end) = header_end(bytes) else { return false };
    let head = String::from_utf8_lossy(&bytes[..end]);
    content_length(&head).is_some_and(|length| bytes.len() >= end + length)
}

fn parse(bytes: &[u8]) -> Result<Answer, String> {
    let end = header_end(bytes).ok_or_else(|| format!("no complete head in {:?}", String::from_utf8_lossy(bytes)))?;
    let head = String::from_utf8_lossy(&bytes[..end]).to_string();
    let status =
        head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| format!("no status in {head:?}"))?;
    let content_type = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(n, _)| n.trim().eq_ignore_ascii_case("content-type")))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let mut body = bytes[end..].to_vec();
    if let Some(length) = content_length(&head) {
        body.truncate(length);
    } else if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Ok(Answer { status, content_type, body })
}

fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = bytes.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&bytes[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&bytes[start..(start + size).min(bytes.len())]);
        bytes = &bytes[(start + size + 2).min(bytes.len())..];
    }
    out
}

/// The reference search whose answer must not change, minus its timing.
async fn reference(base: &str) -> Value {
    let answer = send(
        base,
        &case("reference", "POST", "/v1/search", JSON, r#"{"q": "保护装置通道异常", "limit": 20}"#, 200, None),
    )
    .await
    .expect("reference search");
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let mut value: Value = serde_json::from_slice(&answer.body).expect("json");
    let object = value.as_object_mut().expect("object");
    object.remove("took_ms");
    // Every answer has its own request id.
    assert!(object.remove("request_id").is_some_and(|id| id.as_str().is_some_and(|s| s.len() == 24)));
    value
}

#[tokio::test]
async fn every_bad_input_gets_its_4xx_and_changes_nothing() {
    let limits = Limits::default();
    let server = start(limits.clone()).await;
    let cases = battery(&limits);
    assert!(cases.len() >= 40, "the battery has {} cases", cases.len());

    let stats_before = server.engine.stats().expect("stats");
    let triples_before = server.engine.graph().expect("graph").triple_count().expect("triples");
    let reference_before = reference(&server.base).await;

    let mut failures = Vec::new();
    for case in &cases {
        let answer = match send(&server.base, case).await {
            Ok(answer) => answer,
            Err(e) => {
                failures.push(format!("{}: {e}", case.name));
                continue;
            }
        };
        let text = String::from_utf8_lossy(&answer.body);
        let json: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let got_code = json["code"].as_str();
        let mut problems = Vec::new();
        if answer.status != case.status {
            problems.push(format!("status {} (expected {})", answer.status, case.status));
        }
        if case.code == Some(HTTP_PARSER) {
            if answer.status != case.status || !answer.body.is_empty() {
                failures.push(format!("{}: {} {text}", case.name, answer.status));
            }
            continue;
        }
        if !answer.content_type.starts_with("application/json") {
            problems.push(format!("content type `{}`", answer.content_type));
        }
        match case.code {
            Some(code) if code.starts_with("dify:") => {
                // Dify's error shape: `{error_code, error_msg}`.
                let got = json["error_code"].as_u64().map(|c| format!("dify:{c}"));
                if got.as_deref() != Some(code) {
                    problems.push(format!("error_code {got:?} (expected {code:?})"));
                }
                let keys: Vec<&String> = json.as_object().map(|o| o.keys().collect()).unwrap_or_default();
                if keys.len() != 2 || json["error_msg"].as_str().is_none_or(|m| m.trim().is_empty()) {
                    problems.push("not exactly {error_code, error_msg} with a message".to_string());
                }
            }
            Some(code) => {
                if got_code != Some(code) {
                    problems.push(format!("code {got_code:?} (expected {code:?})"));
                }
                let keys: Vec<&String> = json.as_object().map(|o| o.keys().collect()).unwrap_or_default();
                if keys.len() != 2 || json["message"].as_str().is_none_or(|m| m.trim().is_empty()) {
                    problems.push("not exactly {code, message} with a message".to_string());
                }
            }
            None => {
                if got_code.is_some() {
                    problems.push(format!("an error {got_code:?} where a result was expected"));
                }
            }
        }
        if !problems.is_empty() {
            let shown: String = text.chars().take(300).collect();
            failures.push(format!(
                "{} ({} {:.80}): {}; body: {shown}",
                case.name,
                case.method,
                case.path,
                problems.join(", ")
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));

    let health = send(&server.base, &case("health", "GET", "/healthz", None, "", 200, None)).await.expect("alive");
    assert_eq!(health.status, 200, "the server still answers");
    assert_eq!(server.engine.stats().expect("stats"), stats_before, "the engine's stats are unchanged");
    assert_eq!(
        server.engine.graph().expect("graph").triple_count().expect("triples"),
        triples_before,
        "the graph is unchanged"
    );
    assert_eq!(reference(&server.base).await, reference_before, "the reference search answers the same");
}

/// Arbitrary bodies (JSON-like text, raw bytes, mutated valid requests) to every JSON route of
/// the search side: each is answered without a server error, a 4xx is `{code, message}` JSON,
/// and no message repeats a distinctive piece of what was sent.
#[test]
fn arbitrary_bodies_get_a_4xx_json_error_or_an_answer_never_a_5xx() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let server = runtime.block_on(start(Limits::default()));
    let routes = ["/v1/search", "/v1/retrieve", "/v1/tickets/match", "/retrieval", "/v1/items/check"];
    let seeds = search::fuzz::Target::SearchRequest.seeds();
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        proptest::string::string_regex("[\\PC\"{}\\[\\]:,0-9a-z_ ]{0,200}")
            .expect("regex")
            .prop_map(String::into_bytes),
        any::<u64>().prop_map(move |seed| {
            let mut rng = search::fuzz::Rng::new(seed);
            search::fuzz::mutate(&mut rng, &seeds[0], 2048)
        }),
    ];
    let mut runner = TestRunner::new(Config { cases: 64, failure_persistence: None, ..Config::default() });
    runner
        .run(&(0..routes.len(), body), |(route, body)| {
            let case = Case {
                name: "arbitrary",
                method: "POST",
                path: routes[route].to_string(),
                content_type: JSON,
                body: body.clone(),
                status: 0,
                chunked: false,
                code: None,
            };
            let answer = runtime.block_on(send(&server.base, &case)).map_err(TestCaseError::fail)?;
            let text = String::from_utf8_lossy(&answer.body).to_string();
            prop_assert!(answer.status < 500, "{} answered {}: {text}", routes[route], answer.status);
            if answer.status >= 400 {
                let json: Value =
                    serde_json::from_str(&text).map_err(|_| TestCaseError::fail(format!("not JSON: {text}")))?;
                let dify = routes[route] == "/retrieval";
                let field = if dify { "error_msg" } else { "message" };
                let message = json[field].as_str().unwrap_or_default().to_string();
                prop_assert!(!message.is_empty(), "{}: no {field} in {text}", routes[route]);
                // A distinctive run of what was sent (a digit string, Han text) is never echoed.
                let sent = String::from_utf8_lossy(&body);
                for piece in sent.split(|c: char| c.is_ascii_punctuation() || c.is_whitespace()) {
                    let distinctive = piece.chars().count() >= 10
                        && piece.chars().any(|c| c.is_ascii_digit() || !c.is_ascii())
                        && !piece.contains('\u{fffd}');
                    prop_assert!(
                        !(distinctive && message.contains(piece)),
                        "{} echoed `{piece}`: {message}",
                        routes[route]
                    );
                }
            }
            Ok(())
        })
        .expect("property");
}
