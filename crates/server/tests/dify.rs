//! `POST /retrieval` (Dify's External Knowledge API) and `POST /v1/retrieve` on a real server over
//! loopback: the documented request shapes replayed (Dify's registration check, its "no filter"
//! shapes and its hit testing's escaped quotes included), every operator, error messages fit for
//! Dify's user, and the passage budget.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{TestServer, start, start_with_keys};
use reqwest::StatusCode;
use search::Limits;
use serde_json::{Value, json};
use server::auth::Role;

/// The mini fixture plus `dify.jsonl`: items with versions, dates, owners, sources and an answer
/// standard about the same fault.
async fn server() -> TestServer {
    let server = start(Limits::default()).await;
    let engine = server.engine.clone();
    tokio::task::spawn_blocking(move || {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/dify.jsonl");
        let batch = ingest::read_paths(&[fixture]).expect("fixture");
        let records: Vec<_> = batch.records.into_iter().map(|(_, r)| r).collect();
        assert_eq!(records.len(), 3);
        engine.ingest(&records, "test", &|_| {}).expect("ingest");
    })
    .await
    .expect("loader");
    server
}

async fn post(server: &TestServer, path: &str, body: &Value) -> (StatusCode, Value) {
    let response =
        reqwest::Client::new().post(format!("{}{path}", server.base)).json(body).send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post_raw(server: &TestServer, path: &str, content_type: &str, body: String) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Checks the contract of a 200 answer and returns its records.
fn records(status: StatusCode, body: &Value) -> Vec<Value> {
    assert_eq!(status, StatusCode::OK, "{body}");
    let object = body.as_object().expect("an object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["records"], "{body}");
    let records = body["records"].as_array().expect("records is an array").clone();
    let mut previous = f64::INFINITY;
    for record in &records {
        assert!(record["content"].as_str().is_some_and(|c| !c.is_empty()), "{record}");
        assert!(record["title"].as_str().is_some_and(|t| !t.is_empty()), "{record}");
        let score = record["score"].as_f64().expect("score is a number");
        assert!((0.0..=1.0).contains(&score), "{record}");
        assert!(score <= previous, "best first: {body}");
        previous = score;
        let metadata = record["metadata"].as_object().expect("metadata is always an object");
        assert!(metadata.values().all(|v| !v.is_null()), "no null inside metadata: {record}");
        for key in ["id", "doc_id", "kind", "status", "version", "products", "faults", "tags"] {
            assert!(metadata.contains_key(key), "{key} in {record}");
        }
        assert!(!record["content"].as_str().unwrap_or_default().contains("13812345678"), "masked: {record}");
    }
    records
}

fn ids(records: &[Value]) -> BTreeSet<String> {
    records.iter().map(|r| r["metadata"]["id"].as_str().unwrap_or_default().to_string()).collect()
}

fn dify_error(status: StatusCode, body: &Value) -> (u16, u64) {
    assert!(body["error_msg"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    (status.as_u16(), body["error_code"].as_u64().unwrap_or_default())
}

fn request(query: &str, top_k: Value, threshold: Value, condition: Option<Value>) -> Value {
    let mut body = json!({
        "knowledge_id": "default",
        "query": query,
        "retrieval_setting": {"top_k": top_k, "score_threshold": threshold}
    });
    if let Some(condition) = condition {
        body["metadata_condition"] = condition;
    }
    body
}

const QUERY: &str = "通道告警";

#[tokio::test]
async fn dify_contract() {
    let server = server().await;

    // The documented minimal request, and Dify's habitual top_k 4 / threshold 0.0.
    let (status, body) = post(&server, "/retrieval", &request(QUERY, json!(4), json!(0.0), None)).await;
    let four = records(status, &body);
    assert!(!four.is_empty() && four.len() <= 4, "{body}");
    assert!(four[0]["content"].as_str().is_some_and(|c| c.contains("通道")), "{body}");
    assert!(ids(&four).iter().all(|id| id != "kb-draft-note"), "drafts are not served: {body}");

    // Without retrieval_setting (not Dify, but harmless): our defaults.
    let (status, body) = post(&server, "/retrieval", &json!({"knowledge_id": "gridkb", "query": QUERY})).await;
    assert!(records(status, &body).len() <= search::rag::DIFY_DEFAULT_TOP_K);

    // top_k: exact, and capped at the server's limit.
    let (status, body) = post(&server, "/retrieval", &request(QUERY, json!(1), json!(0.0), None)).await;
    assert_eq!(records(status, &body).len(), 1);
    let (status, body) = post(&server, "/retrieval", &request(QUERY, json!(1e12), json!(0.0), None)).await;
    let all = records(status, &body);
    assert!(all.len() >= 5, "{body}");

    // score_threshold keeps exactly the records at or above it.
    let scores: Vec<f64> = all.iter().filter_map(|r| r["score"].as_f64()).collect();
    let threshold = (scores[0] + scores[scores.len() - 1]) / 2.0;
    let (status, body) = post(&server, "/retrieval", &request(QUERY, json!(100), json!(threshold), None)).await;
    let kept = records(status, &body);
    assert_eq!(kept.len(), scores.iter().filter(|s| **s >= threshold - 1e-6).count(), "{body}");
    assert!(kept.len() < all.len() && !kept.is_empty(), "the threshold must bite: {scores:?} at {threshold}");
    let (status, body) = post(&server, "/retrieval", &request(QUERY, json!(100), json!(1.0), None)).await;
    let top = records(status, &body);
    assert!(!top.is_empty() && top.iter().all(|r| r["score"].as_f64() == Some(1.0)), "{body}");

    // Kind-scoped knowledge ids.
    let mut scoped = request(QUERY, json!(10), json!(0.0), None);
    scoped["knowledge_id"] = json!("answer_standard");
    let (status, body) = post(&server, "/retrieval", &scoped).await;
    let standards = records(status, &body);
    assert!(!standards.is_empty());
    assert!(standards.iter().all(|r| r["metadata"]["kind"] == "answer_standard"), "{body}");

    // No match: exactly {"records": []}.
    for query in ["zzqqxxyy", "，。！"] {
        let (status, body) = post(&server, "/retrieval", &request(query, json!(4), json!(0.0), None)).await;
        assert_eq!((status, body.clone()), (StatusCode::OK, json!({"records": []})), "{query}");
    }

    // Unknown knowledge base.
    let mut unknown = request(QUERY, json!(4), json!(0.0), None);
    unknown["knowledge_id"] = json!("AAA-BBB-CCC");
    let (status, body) = post(&server, "/retrieval", &unknown).await;
    assert_eq!(dify_error(status, &body), (404, 2001));
}

#[tokio::test]
async fn dify_every_operator() {
    let server = server().await;
    let (status, body) = post(&server, "/retrieval", &request(QUERY, json!(100), json!(0.0), None)).await;
    let all = records(status, &body);
    assert!(all.len() >= 5, "{body}");

    let texts = |m: &Value, name: &str| -> Vec<String> {
        match &m[name] {
            Value::Array(values) => values.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            Value::String(s) => vec![s.clone()],
            Value::Number(n) => vec![n.to_string()],
            _ => vec![],
        }
    };
    let version = |m: &Value| m["version"].as_u64().unwrap_or_default();
    type Expect = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(Value, &str, Value, Expect)> = vec![
        (
            json!("tags"),
            "contains",
            json!("通"),
            Box::new(move |m: &Value| texts(m, "tags").iter().any(|t| t.contains('通'))),
        ),
        (
            json!("tags"),
            "not contains",
            json!("通"),
            Box::new(move |m: &Value| !texts(m, "tags").iter().any(|t| t.contains('通'))),
        ),
        (
            json!("products"),
            "start with",
            json!("pm-"),
            Box::new(move |m: &Value| texts(m, "products").iter().any(|t| t.starts_with("pm-"))),
        ),
        (
            json!("products"),
            "end with",
            json!("-prot"),
            Box::new(move |m: &Value| texts(m, "products").iter().any(|t| t.ends_with("-prot"))),
        ),
        (json!("kind"), "is", json!("solved_case"), Box::new(|m: &Value| m["kind"] == "solved_case")),
        (json!("kind"), "is not", json!("solved_case"), Box::new(|m: &Value| m["kind"] != "solved_case")),
        (
            json!("kind"),
            "in",
            json!(["answer_standard", "product_doc"]),
            Box::new(|m: &Value| m["kind"] == "answer_standard" || m["kind"] == "product_doc"),
        ),
        (
            json!("kind"),
            "not in",
            json!(["answer_standard", "product_doc"]),
            Box::new(|m: &Value| m["kind"] != "answer_standard" && m["kind"] != "product_doc"),
        ),
        (json!("tags"), "empty", Value::Null, Box::new(move |m: &Value| texts(m, "tags").is_empty())),
        (json!("tags"), "not empty", Value::Null, Box::new(move |m: &Value| !texts(m, "tags").is_empty())),
        (json!("version"), "=", json!(3), Box::new(move |m: &Value| version(m) == 3)),
        (json!("version"), "≠", json!(1), Box::new(move |m: &Value| version(m) != 1)),
        (json!("version"), "!=", json!("1"), Box::new(move |m: &Value| version(m) != 1)),
        (json!("version"), ">", json!(1), Box::new(move |m: &Value| version(m) > 1)),
        (json!("version"), "<", json!(3), Box::new(move |m: &Value| version(m) < 3)),
        (json!("version"), "≥", json!(2), Box::new(move |m: &Value| version(m) >= 2)),
        (json!("version"), ">=", json!(2), Box::new(move |m: &Value| version(m) >= 2)),
        (json!("version"), "≤", json!(2), Box::new(move |m: &Value| version(m) <= 2)),
        (json!("version"), "<=", json!(2), Box::new(move |m: &Value| version(m) <= 2)),
        (
            json!("valid_until"),
            "before",
            json!("2026-01-01"),
            Box::new(|m: &Value| m["valid_until"].as_str().is_some_and(|d| d < "2026-01-01")),
        ),
        (
            json!("valid_until"),
            "after",
            json!("2026-01-01"),
            Box::new(|m: &Value| m["valid_until"].as_str().is_some_and(|d| d > "2026-01-01")),
        ),
        // Older clients: `name` as an array pools the named fields' values.
        (
            json!(["tags", "products"]),
            "contains",
            json!("prot"),
            Box::new(move |m: &Value| texts(m, "tags").iter().chain(&texts(m, "products")).any(|t| t.contains("prot"))),
        ),
        (
            json!(["tags", "faults"]),
            "empty",
            Value::Null,
            Box::new(move |m: &Value| texts(m, "tags").is_empty() && texts(m, "faults").is_empty()),
        ),
        (
            json!(["document_name"]),
            "contains",
            json!("应答"),
            Box::new(|m: &Value| m["title"].as_str().is_some_and(|t| t.contains("应答"))),
        ),
    ];
    for (name, operator, value, expect) in cases {
        let condition = json!({"logical_operator": "and", "conditions": [
            {"name": name, "comparison_operator": operator, "value": value}
        ]});
        let (status, body) =
            post(&server, "/retrieval", &request(QUERY, json!(100), json!(0.0), Some(condition.clone()))).await;
        let got = ids(&records(status, &body));
        let want: BTreeSet<String> = all
            .iter()
            .filter(|r| expect(&r["metadata"]))
            .map(|r| r["metadata"]["id"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(got, want, "{condition}");
        let negated = matches!(operator, "not contains" | "is not" | "not in" | "≠" | "!=" | "empty");
        assert!(negated || !got.is_empty(), "{condition} should match something: {body}");
    }

    // and / or.
    let two = |op: &str| {
        json!({"logical_operator": op, "conditions": [
            {"name": "kind", "comparison_operator": "is", "value": "product_doc"},
            {"name": "version", "comparison_operator": "≥", "value": 2}
        ]})
    };
    let (status, body) = post(&server, "/retrieval", &request(QUERY, json!(100), json!(0.0), Some(two("and")))).await;
    assert_eq!(ids(&records(status, &body)), BTreeSet::from(["kb-pd-931a-manual".to_string()]));
    let (status, body) = post(&server, "/retrieval", &request(QUERY, json!(100), json!(0.0), Some(two("or")))).await;
    let either = ids(&records(status, &body));
    assert!(either.contains("kb-pd-931a-manual") && either.contains("kb-rg-channel"), "{body}");
    // What Dify sends for "no filter" — a null condition, conditions null or [] — and conditions
    // left out: the same records as no condition at all.
    for condition in [
        Value::Null,
        json!({"logical_operator": "and", "conditions": null}),
        json!({"logical_operator": "or", "conditions": []}),
        json!({"logical_operator": "or"}),
    ] {
        let (status, body) =
            post(&server, "/retrieval", &request(QUERY, json!(100), json!(0.0), Some(condition.clone()))).await;
        assert_eq!(records(status, &body), all, "{condition}");
    }
    // Conditions are applied after over-fetching: top_k still holds.
    let (status, body) = post(&server, "/retrieval", &request(QUERY, json!(1), json!(0.0), Some(two("or")))).await;
    assert_eq!(records(status, &body).len(), 1);
}

/// Dify's check of an endpoint when it is registered (dify#39410): `knowledge_id` and `query` both
/// empty, with the key. A valid key gets 200 `{"records": []}`; a missing or wrong one is refused
/// as on any request, so that Dify does not register an endpoint it cannot use.
#[tokio::test]
async fn dify_registration_probe() {
    let (server, keys) = start_with_keys(&[Role::Bot, Role::Manager]).await;
    let client = reqwest::Client::new();
    let send = |authorization: Option<String>, body: Value| {
        let mut request = client.post(format!("{}/retrieval", server.base)).json(&body);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        async move {
            let response = request.send().await.expect("request");
            let (status, logged) = (response.status(), response.headers().contains_key("x-request-id"));
            (status, logged, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let bot = Some(format!("Bearer {}", keys[0]));
    let probe = json!({"knowledge_id": "", "query": "", "retrieval_setting": {"top_k": 1, "score_threshold": 0.0}});
    let (status, logged, body) = send(bot.clone(), probe.clone()).await;
    assert_eq!((status, body.clone()), (StatusCode::OK, json!({"records": []})), "{body}");
    assert!(!logged, "the probe is no question: it is not logged");
    // Whitespace counts as empty; the other fields may be left out or null.
    for variant in [
        json!({"knowledge_id": " ", "query": "\t"}),
        json!({"knowledge_id": "", "query": "", "retrieval_setting": null, "metadata_condition": null}),
    ] {
        let (status, _, body) = send(bot.clone(), variant.clone()).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"records": []})), "{variant}");
    }

    // Not logged: an empty question would otherwise count as a knowledge gap (as a logged
    // request that finds nothing does, below).
    let gaps = || async {
        let response = client
            .get(format!("{}/v1/analytics/gaps", server.base))
            .bearer_auth(&keys[1])
            .send()
            .await
            .expect("request");
        let body: Value = response.json().await.expect("json");
        body["total"].as_u64().expect("total")
    };
    assert_eq!(gaps().await, 0);
    let (status, logged, body) = send(bot.clone(), request("zzqqxxyy", json!(4), json!(0.0), None)).await;
    assert_eq!((status, logged, body), (StatusCode::OK, true, json!({"records": []})));
    assert_eq!(gaps().await, 1);

    // The key is checked first, exactly as for a search.
    for (authorization, expected) in [
        (None, (401, 1001)),
        (Some("Token abc".to_string()), (401, 1001)),
        (Some("Bearer gkb_k_00000000_00".to_string()), (401, 1002)),
        (Some(format!("Bearer {}0", keys[0])), (401, 1002)),
    ] {
        let (status, _, body) = send(authorization.clone(), probe.clone()).await;
        assert_eq!(dify_error(status, &body), expected, "{authorization:?}: {body}");
        let message = body["error_msg"].as_str().unwrap_or_default();
        assert!(!message.contains(&keys[0]), "{body}");
        // Dify shows it to the person registering the endpoint: it says where the key is set.
        assert!(message.contains("API key") && message.contains("Dify"), "{body}");
    }

    // Only both empty is the probe: one empty field is refused as before.
    let (status, _, body) = send(bot.clone(), json!({"knowledge_id": "default", "query": ""})).await;
    assert_eq!(dify_error(status, &body), (400, 3004), "{body}");
    let (status, _, body) = send(bot.clone(), json!({"knowledge_id": "", "query": QUERY})).await;
    assert_eq!(dify_error(status, &body), (404, 2001), "{body}");
    // The probe's settings are checked as any request's.
    let (status, _, body) =
        send(bot.clone(), json!({"knowledge_id": "", "query": "", "retrieval_setting": {"top_k": 0}})).await;
    assert_eq!(dify_error(status, &body), (400, 3003), "{body}");
    let bad_condition =
        json!({"knowledge_id": "", "query": "", "metadata_condition": {"conditions": [{"name": "colour"}]}});
    let (status, _, body) = send(bot.clone(), bad_condition).await;
    assert_eq!(dify_error(status, &body), (400, 3002), "{body}");
    // And the same key retrieves: the 200 above is not an open door.
    let (status, logged, body) = send(bot, request("保护装置", json!(4), json!(0.0), None)).await;
    assert!(!records(status, &body).is_empty() && logged, "{body}");
}

/// Dify's hit testing escapes `"` as `\"` (and cuts the query at 250 characters): the escaped
/// query finds what the plain one does, and is logged as its user wrote it.
#[tokio::test]
async fn dify_hit_testing_quotes_are_unescaped() {
    let server = server().await;
    for (plain, escaped) in [
        (r#""通道告警""#, r#"\"通道告警\""#),
        (r#"931A"通道"告警"#, r#"931A\"通道\"告警"#),
        (r#"pm-gkb-931a"告警""#, r#"pm-gkb-931a\"告警\""#),
    ] {
        let (status, body) = post(&server, "/retrieval", &request(plain, json!(10), json!(0.0), None)).await;
        let want = records(status, &body);
        assert!(!want.is_empty(), "{plain}: {body}");
        let (status, body) = post(&server, "/retrieval", &request(escaped, json!(10), json!(0.0), None)).await;
        assert_eq!(records(status, &body), want, "{escaped}");
    }
    // As long as Dify sends them.
    let long = format!("{}\\\"", "通道告警".repeat(62));
    assert_eq!(long.chars().count(), 250);
    let (status, body) = post(&server, "/retrieval", &request(&long, json!(4), json!(0.0), None)).await;
    records(status, &body);

    // The analyser drops both characters, so the records cannot tell; the request log can. A
    // question the knowledge base cannot answer is a knowledge gap, listed with its text.
    let (status, body) =
        post(&server, "/retrieval", &request(r#"\"油色谱在线监测\"乙炔超标"#, json!(4), json!(0.0), None)).await;
    assert!(records(status, &body).is_empty(), "{body}");
    let (status, gaps) = common::get(&format!("{}/v1/analytics/gaps", server.base)).await;
    assert_eq!(status, StatusCode::OK, "{gaps}");
    let gap = gaps["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|gap| gap.to_string().contains("乙炔超标"))
        .unwrap_or_else(|| panic!("the question is a gap: {gaps}"));
    let texts: Vec<&str> = gap["examples"].as_array().expect("examples").iter().filter_map(Value::as_str).collect();
    assert_eq!(texts, [r#""油色谱在线监测"乙炔超标"#], "{gap}");
}

/// Dify shows `error_msg` to its user: a sentence about the request, never a parser's wording, a
/// Rust type or a position in serde's words, and never the value sent.
#[tokio::test]
async fn dify_error_messages_read_well() {
    let server = server().await;
    let with = |extra: &str| format!(r#"{{"knowledge_id": "default", "query": "通道告警"{extra}}}"#);
    let cases: Vec<(&str, String, u64)> = vec![
        ("application/json", String::new(), 3001),
        ("application/json", "{".into(), 3001),
        ("application/json", r#"{"knowledge_id": "default", "query": "通道告警"} 13812345678"#.into(), 3001),
        ("application/json", "[1, 2]".into(), 3001),
        ("application/json", r#""13812345678""#.into(), 3001),
        ("application/json", r#"{"knowledge_id": 13812345678, "query": "通道告警"}"#.into(), 3001),
        ("application/json", r#"{"knowledge_id": "default"}"#.into(), 3001),
        ("application/json", r#"{"knowledge_id": "default", "query": null}"#.into(), 3001),
        ("application/json", r#"{"query": ["通道告警"], "knowledge_id": "default"}"#.into(), 3001),
        ("application/json", with(r#", "retrieval_setting": "13812345678""#), 3001),
        ("application/json", with(r#", "retrieval_setting": {"top_k": 1e999}"#), 3001),
        ("application/json", with(r#", "retrieval_setting": {"top_k": "13812345678"}"#), 3003),
        ("application/json", with(r#", "retrieval_setting": {"score_threshold": true}"#), 3003),
        ("application/json", with(r#", "metadata_condition": {"conditions": [5]}"#), 3002),
        ("application/json", with(r#", "metadata_condition": {"conditions": "13812345678"}"#), 3002),
        ("application/json", with(r#", "metadata_condition": 13812345678"#), 3002),
        (
            "application/json",
            with(
                r#", "metadata_condition": {"conditions": [{"name": "version", "comparison_operator": ">", "value": "13812345678x"}]}"#,
            ),
            3002,
        ),
        ("application/json", r#"{"knowledge_id": "13812345678", "query": "通道告警"}"#.into(), 2001),
        ("application/json", r#"{"knowledge_id": "default", "query": " "}"#.into(), 3004),
        ("application/json", format!("{}{}", "[".repeat(64), "]".repeat(64)), 3001),
        ("text/plain", with(""), 3001),
    ];
    let internals = [
        "invalid type",
        "invalid value",
        "expected",
        "missing field",
        "unknown variant",
        "trailing characters",
        "EOF",
        "at line",
        "line 1 column",
        "struct",
        "DifyRe",
        "Option",
        "String",
        "Value",
        "usize",
        "u64",
        "f64",
        "::",
        "serde",
        "13812345678",
    ];
    for (content_type, body, code) in cases {
        let (status, answer) = post_raw(&server, "/retrieval", content_type, body.clone()).await;
        assert_eq!(answer["error_code"].as_u64(), Some(code), "{body:.80}: {status} {answer}");
        let message = answer["error_msg"].as_str().unwrap_or_default();
        assert!(message.len() > 20, "{body:.80}: {answer}");
        for internal in internals {
            assert!(!message.contains(internal), "{body:.80}: `{internal}` in {message}");
        }
        // It says what to do: each names what to send, set or use, or what a field must be.
        assert!(
            ["send", "set ", "use ", "must"].iter().any(|fix| message.contains(fix)),
            "{body:.80}: no fix in {message}"
        );
    }
}

#[tokio::test]
async fn dify_errors_are_dify_shaped() {
    let server = server().await;
    let condition = |c: Value| request(QUERY, json!(4), json!(0.0), Some(json!({"conditions": [c]})));
    let cases: Vec<(Value, (u16, u64))> = vec![
        (condition(json!({"name": "kind", "comparison_operator": "like", "value": "x"})), (400, 3002)),
        (condition(json!({"name": "colour", "comparison_operator": "is", "value": "x"})), (400, 3002)),
        (condition(json!({"name": 5, "comparison_operator": "is", "value": "x"})), (400, 3002)),
        (condition(json!({"name": [], "comparison_operator": "is", "value": "x"})), (400, 3002)),
        (condition(json!({"name": "kind", "comparison_operator": "is"})), (400, 3002)),
        (condition(json!({"name": "version", "comparison_operator": ">", "value": "many"})), (400, 3002)),
        (
            condition(json!({"name": "valid_until", "comparison_operator": "before", "value": "2026-13-01"})),
            (400, 3002),
        ),
        (condition(json!({"name": "kind", "comparison_operator": "in", "value": [[1]]})), (400, 3002)),
        (condition(json!("kind is x")), (400, 3002)),
        (request(QUERY, json!(4), json!(0.0), Some(json!({"logical_operator": "xor", "conditions": []}))), (400, 3002)),
        (request(QUERY, json!(4), json!(0.0), Some(json!("x"))), (400, 3002)),
        (request(QUERY, json!(0), json!(0.0), None), (400, 3003)),
        (request(QUERY, json!(-4), json!(0.0), None), (400, 3003)),
        (request(QUERY, json!(2.5), json!(0.0), None), (400, 3003)),
        (request(QUERY, json!("4"), json!(0.0), None), (400, 3003)),
        (request(QUERY, json!(4), json!(1.5), None), (400, 3003)),
        (request(QUERY, json!(4), json!(-1e300), None), (400, 3003)),
        (request("", json!(4), json!(0.0), None), (400, 3004)),
        (request(&"断".repeat(513), json!(4), json!(0.0), None), (400, 3004)),
        (json!({"knowledge_id": "default"}), (400, 3001)),
        (json!({"knowledge_id": 7, "query": QUERY}), (400, 3001)),
        (json!({"knowledge_id": "default", "query": QUERY, "retrieval_setting": "fast"}), (400, 3001)),
        (json!([1, 2]), (400, 3001)),
    ];
    for (body, expected) in cases {
        let (status, answer) = post(&server, "/retrieval", &body).await;
        assert_eq!(dify_error(status, &answer), expected, "{body}: {answer}");
    }
    let deep = format!("{}{}", "[".repeat(64), "]".repeat(64));
    for (content_type, body, expected) in [
        ("application/json", "{".to_string(), (400, 3001)),
        ("application/json", deep, (400, 3001)),
        (
            "application/json",
            r#"{"knowledge_id":"default","query":"a","retrieval_setting":{"top_k":1e999}}"#.into(),
            (400, 3001),
        ),
        ("text/plain", request(QUERY, json!(4), json!(0.0), None).to_string(), (415, 3001)),
    ] {
        let (status, answer) = post_raw(&server, "/retrieval", content_type, body.clone()).await;
        assert_eq!(dify_error(status, &answer), expected, "{body:.80}: {answer}");
    }
}

#[tokio::test]
async fn retrieve_packs_cited_passages_within_the_budget() {
    let server = server().await;
    let (status, body) = post(&server, "/v1/retrieve", &json!({"query": "通道告警 收信光功率"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_budget"], search::rag::DEFAULT_TOKEN_BUDGET);
    let passages = body["passages"].as_array().expect("passages");
    assert!(passages.len() >= 3, "{body}");
    let mut total = 0;
    for passage in passages {
        let text = passage["text"].as_str().expect("text");
        let tokens = passage["tokens"].as_u64().expect("tokens") as usize;
        assert_eq!(tokens, search::rag::estimate_tokens(text));
        total += tokens;
        let citation = &passage["citation"];
        for key in ["id", "title", "kind", "version", "passage_index", "passage_count", "rank"] {
            assert!(!citation[key].is_null(), "{key}: {passage}");
        }
        assert!(!text.contains("13812345678"), "masked: {passage}");
        assert_ne!(citation["id"], "kb-draft-note");
    }
    assert_eq!(body["tokens"].as_u64(), Some(total as u64));
    // The answer standard is quoted whole, word for word.
    let standard = passages.iter().find(|p| p["citation"]["kind"] == "answer_standard").expect("answer standard");
    assert_eq!(standard["citation"]["verbatim"], true);
    assert!(standard["text"].as_str().is_some_and(|t| t.starts_with("您好") && t.ends_with("保护压板。")));
    // The long manual is split: its passages are parts of it, cited by index.
    let manual: Vec<&Value> = passages.iter().filter(|p| p["citation"]["id"] == "kb-pd-931a-manual").collect();
    assert!(!manual.is_empty() && manual.iter().all(|p| p["citation"]["passage_count"].as_u64() > Some(1)), "{body}");

    // Small budgets: never exceeded; what does not fit is skipped, not cut.
    for budget in [1, 20, 60, 150] {
        let (status, body) = post(
            &server,
            "/v1/retrieve",
            &json!({"query": "通道告警 收信光功率", "token_budget": budget, "limit": 10}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let used: u64 =
            body["passages"].as_array().expect("passages").iter().filter_map(|p| p["tokens"].as_u64()).sum();
        assert!(used <= budget, "{budget}: {body}");
        assert_eq!(body["tokens"].as_u64(), Some(used));
        if budget == 1 {
            assert!(body["passages"].as_array().is_some_and(Vec::is_empty));
            assert!(body["skipped"].as_u64() > Some(0));
        }
    }

    // Filters as for /v1/search.
    let (status, body) =
        post(&server, "/v1/retrieve", &json!({"query": "通道告警", "filters": {"kind": ["regulation"]}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let passages = body["passages"].as_array().expect("passages");
    assert!(!passages.is_empty() && passages.iter().all(|p| p["citation"]["kind"] == "regulation"), "{body}");

    for (request, code) in [
        (json!({"query": "通道", "token_budget": 0}), "invalid_budget"),
        (json!({"query": "通道", "token_budget": 8001}), "invalid_budget"),
        (json!({"query": "通道", "token_budget": -5}), "invalid_parameter"),
        (json!({"query": "通道", "token_budget": 1e99}), "invalid_parameter"),
        (json!({"query": "通道", "limit": 0}), "invalid_limit"),
        (json!({"query": "通道", "limit": 101}), "invalid_limit"),
        (json!({"query": "通道", "top_k": 3}), "invalid_parameter"),
        (json!({"query": "通道", "filters": {"colour": ["red"]}}), "invalid_parameter"),
        (json!({"query": ""}), "empty_query"),
    ] {
        let (status, body) = post(&server, "/v1/retrieve", &request).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{request}: {body}");
    }
}
