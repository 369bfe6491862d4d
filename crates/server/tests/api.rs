//! The API on a real server over loopback, with a real engine on a temporary data directory.

mod common;

use common::{get, start};

use reqwest::StatusCode;
use search::Limits;
use serde_json::{Value, json};

#[tokio::test]
async fn health_readiness_and_search() {
    let server = start(Limits::default()).await;
    let (status, body) = get(&format!("{}/healthz", server.base)).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, body) = get(&format!("{}/readyz", server.base)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["stats"]["indexed_items"], 9);

    let (status, body) = get(&format!("{}/v1/search?q=保护装置通道异常", server.base)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["hits"][0]["id"], "kb-tp-channel");
    assert!(body["hits"][0]["snippet"].as_str().is_some_and(|s| s.contains("<em>")));
    assert_eq!(body["retrievers"], json!(["lexical", "graph"]));

    let (status, body) = get(&format!(
        "{}/v1/search?q=%E5%85%85%E7%94%B5%E6%A1%A9&kind=technical_point,solved_case&limit=1",
        server.base
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["hits"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["hits"][0]["id"], "kb-tp-ev-offline");

    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/v1/search", server.base))
        .json(&json!({"q": "停电 客户", "filters": {"tag": ["停电敏感"]}}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["hits"][0]["id"], "kb-rs-outage");
}

/// The served configuration: the real model behind the real router. A paraphrase that shares
/// few words with the item is found by meaning, and every route that embeds answers without
/// `degraded`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_real_model_search_tickets_and_retrieval_use_dense_retrieval() {
    let server = common::start_with_model().await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/v1/search", server.base))
        .json(&json!({"q": "充电桩掉线了，扫码充不上电", "retrievers": ["dense"]}))
        .send()
        .await
        .expect("search");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["retrievers"], json!(["dense"]), "{body}");
    assert_eq!(body["hits"][0]["id"], "kb-tp-ev-offline", "{body}");
    assert!(body["hits"][0]["explanation"]["semantic"]["score"].as_f64().is_some_and(|s| s > 0.5), "{body}");

    let (status, body) =
        get(&format!("{}/v1/search?q=931%E4%BF%9D%E6%8A%A4%E9%80%9A%E9%81%93%E5%91%8A%E8%AD%A6", server.base)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["retrievers"], json!(["lexical", "dense", "graph"]), "{body}");
    assert!(body["degraded"].is_null(), "{body}");

    let response = client
        .post(format!("{}/v1/tickets/match", server.base))
        .json(&json!({"text": "客户说充电桩扫码以后一直充不上电，显示离线"}))
        .send()
        .await
        .expect("ticket");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    let solutions: Vec<&str> =
        body["solutions"].as_array().expect("solutions").iter().filter_map(|s| s["id"].as_str()).collect();
    assert!(solutions.contains(&"kb-tp-ev-offline"), "{body}");
}

#[tokio::test]
async fn not_ready_until_the_engine_is_set() {
    let state = server::AppState::new(Limits::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(server::serve(listener, state));
    let response = reqwest::get(format!("{base}/readyz")).await.expect("request");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let (status, body) = get(&format!("{base}/v1/search?q=通道")).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("not_ready")));
    assert_eq!(get(&format!("{base}/healthz")).await.0, StatusCode::OK);
}

/// Every bad input gets its 4xx and `{code, message}`, and nothing stored changes.
#[tokio::test]
async fn bad_inputs_get_clear_errors_and_change_nothing() {
    let limits = Limits { max_query_body_bytes: 4096, ..Limits::default() };
    let server = start(limits).await;
    let before = server.engine.stats().expect("stats");
    let client = reqwest::Client::new();
    let url = format!("{}/v1/search", server.base);
    let long_query = "断".repeat(513);
    let gets: Vec<(String, u16, &str)> = vec![
        (url.clone(), 400, "empty_query"),
        (format!("{url}?q="), 400, "empty_query"),
        (format!("{url}?q=%20%20"), 400, "empty_query"),
        (format!("{url}?q=，。！"), 400, "empty_query"),
        // Query syntax is not interpreted: with no words left, there is nothing to search for.
        (format!("{url}?q=*:*"), 400, "empty_query"),
        (format!("{url}?q={long_query}"), 400, "query_too_long"),
        (format!("{url}?q=a&limit=0"), 400, "invalid_limit"),
        (format!("{url}?q=a&limit=101"), 400, "invalid_limit"),
        (format!("{url}?q=a&limit=-1"), 400, "invalid_limit"),
        (format!("{url}?q=a&limit=abc"), 400, "invalid_limit"),
        (format!("{url}?q=a&limit=99999999999999999999999"), 400, "invalid_limit"),
        (format!("{url}?q=a&offset=995"), 400, "invalid_offset"),
        (format!("{url}?q=a&offset=-5"), 400, "invalid_offset"),
        (format!("{url}?q=a&colour=red"), 400, "unknown_parameter"),
        (format!("{url}?q=%FF%FE"), 400, "invalid_parameter"),
        (format!("{url}?q=%E4%BF"), 400, "invalid_parameter"),
        (format!("{url}?q=%ZZ"), 400, "invalid_parameter"),
        (format!("{url}?q=a&kind="), 400, "invalid_filter"),
        (format!("{}/v1/nothing", server.base), 404, "not_found"),
    ];
    for (url, status, code) in &gets {
        let (got_status, body) = get(url).await;
        assert_eq!((got_status.as_u16(), body["code"].as_str()), (*status, Some(*code)), "GET {url}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "GET {url}: {body}");
    }
    // Query-syntax strings are words, not syntax: they must not error.
    for q in ["title:通道 AND (", "\"unbalanced", "SELECT * WHERE { ?s ?p ?o }", "a OR b -c +d ~e^2"] {
        let response = client.get(&url).query(&[("q", q)]).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "q={q}");
    }

    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    let big = json!({"q": "x".repeat(5000)}).to_string();
    let posts: Vec<(&str, String, u16, &str)> = vec![
        ("application/json", "{".into(), 400, "invalid_json"),
        ("application/json", "".into(), 400, "invalid_json"),
        ("application/json", "[1,2]".into(), 400, "invalid_parameter"),
        ("application/json", r#"{"q": 5}"#.into(), 400, "invalid_parameter"),
        ("application/json", r#"{"q": "a", "limit": -3}"#.into(), 400, "invalid_parameter"),
        ("application/json", r#"{"q": "a", "limit": 1e99}"#.into(), 400, "invalid_parameter"),
        ("application/json", r#"{"q": "a", "bogus": 1}"#.into(), 400, "invalid_parameter"),
        ("application/json", r#"{"q": "a", "filters": {"colour": ["red"]}}"#.into(), 400, "invalid_parameter"),
        ("application/json", r#"{"q": "a", "filters": {"kind": []}}"#.into(), 400, "invalid_filter"),
        ("application/json", r#"{"q": ""}"#.into(), 400, "empty_query"),
        ("application/json", r#"{"q": "a", "limit": 500}"#.into(), 400, "invalid_limit"),
        ("application/json", deep.clone(), 400, "nesting_too_deep"),
        ("application/json", big, 413, "payload_too_large"),
        ("text/plain", r#"{"q": "a"}"#.into(), 415, "unsupported_media_type"),
        ("application/x-www-form-urlencoded", "q=a".into(), 415, "unsupported_media_type"),
    ];
    for (content_type, body, status, code) in posts {
        let response =
            client.post(&url).header("content-type", content_type).body(body.clone()).send().await.expect("post");
        let got_status = response.status().as_u16();
        let json: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!((got_status, json["code"].as_str()), (status, Some(code)), "POST {content_type} {body:.60}: {json}");
    }
    let invalid_utf8 = client
        .post(&url)
        .header("content-type", "application/json")
        .body(b"{\"q\": \"\xff\xfe\"}".to_vec())
        .send()
        .await
        .expect("post");
    assert_eq!(invalid_utf8.status(), StatusCode::BAD_REQUEST);
    let no_content_type = client.post(&url).body(r#"{"q":"a"}"#).send().await.expect("post");
    assert_eq!(no_content_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let wrong_method = client.delete(&url).send().await.expect("delete");
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);

    assert_eq!(server.engine.stats().expect("stats"), before);
}

#[tokio::test]
async fn sparql_is_read_only_and_domain_queries_validate_their_input() {
    let server = start(Limits::default()).await;
    let client = reqwest::Client::new();
    let sparql = |body: &'static str, content_type: &'static str| {
        client.post(format!("{}/v1/sparql", server.base)).header("content-type", content_type).body(body).send()
    };

    let response = sparql("ASK { ?s ?p ?o }", "application/sparql-query").await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["boolean"], true);

    let (status, body) = get(&format!(
        "{}/v1/sparql?query=SELECT%20%3Fs%20WHERE%20%7B%20%3Fs%20%3Fp%20%3Fo%20%7D%20LIMIT%203",
        server.base
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"]["bindings"].as_array().map(Vec::len), Some(3));

    let form = sparql("query=ASK%20%7B%20%3Fs%20%3Fp%20%3Fo%20%7D", "application/x-www-form-urlencoded")
        .await
        .expect("request");
    assert_eq!(form.status(), StatusCode::OK);

    let before = server.engine.graph().expect("graph").triple_count().expect("count");
    for (body, content_type, code) in [
        ("INSERT DATA { <urn:a> <urn:b> <urn:c> }", "application/sparql-query", "sparql_refused"),
        ("INSERT DATA { <urn:a> <urn:b> <urn:c> }", "application/sparql-update", "sparql_refused"),
        ("SELECT * WHERE { SERVICE <http://example.org/> { ?s ?p ?o } }", "application/sparql-query", "sparql_refused"),
        ("SELEKT nonsense", "application/sparql-query", "invalid_sparql"),
        ("", "application/sparql-query", "invalid_sparql"),
        ("ASK { ?s ?p ?o }", "text/plain", "unsupported_media_type"),
    ] {
        let response = sparql(body, content_type).await.expect("request");
        assert!(response.status().is_client_error(), "{body}: {}", response.status());
        let error: Value = response.json().await.expect("json error");
        assert_eq!(error["code"], code, "{body}: {error}");
    }
    assert_eq!(server.engine.graph().expect("graph").triple_count().expect("count"), before, "the graph is unchanged");

    let (status, body) = get(&format!("{}/v1/devices/NO-SUCH-SERIAL", server.base)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    for query in ["days=-1", "days=abc", "days=99999", "limit=0"] {
        let (status, body) = get(&format!("{}/v1/warranties/expiring?{query}", server.base)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }

    // A contract whose warranty ends in 30 days, one in 400 days, and an item citing a
    // regulation that a newer edition replaced: the listings must find exactly what they should.
    let today = calendar::Date::today();
    let world: Vec<store::Record> = [
        r#"{"id":"cust-w","class":"Customer","label":"霁州供电公司","links":{"contract":["k-soon","k-late"]}}"#.to_string(),
        format!(
            r#"{{"id":"k-soon","class":"Contract","label":"HT-2024-001 霁州保护改造","links":{{"customer":["cust-w"]}},"attrs":{{"number":"HT-2024-001","warranty_start":"2024-01-01","warranty_end":"{}"}}}}"#,
            today.plus_days(30)
        ),
        format!(
            r#"{{"id":"k-late","class":"Contract","label":"HT-2025-002 霁州新站","links":{{"customer":["cust-w"]}},"attrs":{{"number":"HT-2025-002","warranty_start":"2025-01-01","warranty_end":"{}"}}}}"#,
            today.plus_days(400)
        ),
        r#"{"id":"kb-reg-old","kind":"regulation","title":"GB/T 14285-2006 技术规程","body":"旧版。","superseded_by":"kb-reg-new"}"#.to_string(),
        r#"{"id":"kb-reg-new","kind":"regulation","title":"GB/T 14285-2023 技术规程","body":"新版。"}"#.to_string(),
        r#"{"id":"kb-tp-cites-old","kind":"technical_point","title":"CT断线的检查","body":"检查二次回路。","cites":["kb-reg-old"]}"#.to_string(),
        r#"{"id":"kb-tp-cites-new","kind":"technical_point","title":"CT断线的处理","body":"紧固端子。","cites":["kb-reg-new"]}"#.to_string(),
    ]
    .iter()
    .map(|json| serde_json::from_str(json).expect("record"))
    .collect();
    let engine = server.engine.clone();
    tokio::task::spawn_blocking(move || engine.ingest(&world, "test", &|_| {}).expect("ingest"))
        .await
        .expect("ingest task");
    let numbers = |body: &Value| -> Vec<String> {
        body["contracts"].as_array().expect("contracts").iter().map(|c| c.to_string()).collect()
    };
    let (status, body) = get(&format!("{}/v1/warranties/expiring", server.base)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["days"], 90);
    let listed = numbers(&body);
    assert_eq!(listed.len(), 1, "{body}");
    assert!(listed[0].contains("HT-2024-001"), "{body}");
    let (status, body) = get(&format!("{}/v1/warranties/expiring?days=500", server.base)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = numbers(&body);
    assert_eq!(listed.len(), 2, "{body}");
    assert!(listed[0].contains("HT-2024-001") && listed[1].contains("HT-2025-002"), "soonest first: {body}");
    let (status, body) = get(&format!("{}/v1/items/stale", server.base)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stale: Vec<&str> =
        body["items"].as_array().expect("items").iter().filter_map(|s| s["item"]["id"].as_str()).collect();
    assert_eq!(stale, ["kb-tp-cites-old"], "{body}");
}

/// The bounds of the listings, reports and inputs are the configured limits: with lower ones, a
/// request at each bound is served and one just past it is answered `{code, message}` naming the
/// configured bound, while a server with the defaults serves what the lower limits refuse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_report_and_input_bounds_are_the_configured_limits() {
    let lower = Limits {
        max_page: 5,
        max_entities: 7,
        max_listing: 30,
        max_expiry_days: 40,
        max_report_days: 50,
        max_report_periods: 5,
        max_request_id_bytes: 30,
        ..Limits::default()
    };
    let (small, roomy) = (start(lower).await, start(Limits::default()).await);
    // (served at the bound, refused just past it, the code, what the message says)
    let cases = [
        ("/v1/items?limit=5", "/v1/items?limit=6", "invalid_limit", "from 0 to 5"),
        ("/v1/audit?limit=5", "/v1/audit?limit=6", "invalid_limit", "from 0 to 5"),
        ("/v1/tasks/knowledge?limit=5", "/v1/tasks/knowledge?limit=6", "invalid_limit", "from 0 to 5"),
        ("/v1/analytics/gaps?limit=5", "/v1/analytics/gaps?limit=6", "invalid_limit", "from 0 to 5"),
        ("/v1/customers/tag-proposals?limit=5", "/v1/customers/tag-proposals?limit=6", "invalid_limit", "to 5"),
        ("/v1/entities?limit=7", "/v1/entities?limit=8", "invalid_limit", "from 1 to 7"),
        ("/v1/warranties/expiring?limit=30", "/v1/warranties/expiring?limit=31", "invalid_limit", "from 1 to 30"),
        ("/v1/warranties/expiring?days=40", "/v1/warranties/expiring?days=41", "invalid_parameter", "from 0 to 40"),
        (
            "/v1/analytics/gaps?since=2026-01-01&until=2026-02-19",
            "/v1/analytics/gaps?since=2026-01-01&until=2026-02-20",
            "invalid_parameter",
            "at most 50 days",
        ),
        ("/v1/analytics/warranties?days=50", "/v1/analytics/warranties?days=51", "invalid_parameter", "from 0 to 50"),
        (
            "/v1/analytics/hot-issues?periods=5",
            "/v1/analytics/hot-issues?periods=6",
            "invalid_parameter",
            "from 2 to 5",
        ),
    ];
    for (within, past, code, says) in cases {
        let (status, body) = get(&format!("{}{within}", small.base)).await;
        assert_eq!(status, StatusCode::OK, "{within}: {body}");
        let (status, body) = get(&format!("{}{past}", small.base)).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{past}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{past}: the message names the configured bound: {message}");
        let (status, body) = get(&format!("{}{past}", roomy.base)).await;
        assert_eq!(status, StatusCode::OK, "{past} is within the defaults: {body}");
    }
    // Without `limit`, a page is 50 entries, or the limit when it is lower.
    let (_, page) = get(&format!("{}/v1/items", small.base)).await;
    let (_, all) = get(&format!("{}/v1/items", roomy.base)).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(5), "{page}");
    assert_eq!(all["items"].as_array().map(Vec::len), Some(9), "the fixture's nine items on one page: {all}");

    // A verdict names a request id of at most `max_request_id_bytes`: past it the id is refused
    // as malformed; within it (and with the defaults) it is looked up (and not found).
    let client = reqwest::Client::new();
    for (base, id, status) in [
        (&small.base, "a".repeat(30), StatusCode::NOT_FOUND),
        (&small.base, "a".repeat(31), StatusCode::UNPROCESSABLE_ENTITY),
        (&roomy.base, "a".repeat(31), StatusCode::NOT_FOUND),
    ] {
        let response = client
            .post(format!("{base}/v1/feedback"))
            .json(&json!({"request_id": id, "verdict": "helpful"}))
            .send()
            .await
            .expect("feedback");
        assert_eq!(response.status(), status, "{} bytes at {base}", id.len());
        let body: Value = response.json().await.expect("json");
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            assert_eq!(body["field"], "request_id", "{body}");
            assert!(body["message"].as_str().is_some_and(|m| m.contains("at most 30 bytes")), "{body}");
        }
    }
}

/// Import tasks: the server keeps the most recent `max_import_tasks` of them and lists at most
/// `max_listed_rejections` rejections of each (counting them all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_tasks_are_kept_and_listed_within_the_configured_limits() {
    let server = start(Limits { max_import_tasks: 2, max_listed_rejections: 2, ..Limits::default() }).await;
    let client = reqwest::Client::new();
    let upload = ["not json", "nor this", "nor that"].join("\n");
    let mut ids = Vec::new();
    for name in ["first.jsonl", "second.jsonl", "third.jsonl"] {
        let response = client
            .post(format!("{}/v1/import?name={name}", server.base))
            .body(upload.clone())
            .send()
            .await
            .expect("import");
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let started: Value = response.json().await.expect("json");
        let id = started["task"]["id"].as_str().expect("task id").to_string();
        // Wait for the task to end (a guard only a task that never ends reaches).
        let waiting = std::time::Instant::now();
        let task = loop {
            let (status, task) = get(&format!("{}/v1/tasks/{id}", server.base)).await;
            assert_eq!(status, StatusCode::OK, "{task}");
            if task["state"] != "running" {
                break task;
            }
            assert!(waiting.elapsed() < std::time::Duration::from_secs(120), "the import never ended: {task}");
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        };
        assert_eq!(task["rejected"], 3, "{task}");
        assert_eq!(task["rejections"].as_array().map(Vec::len), Some(2), "two listed of three: {task}");
        ids.push(id);
    }
    let (status, _) = get(&format!("{}/v1/tasks/{}", server.base, ids[0])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the oldest of three tasks is forgotten when two are kept");
    for id in &ids[1..] {
        assert_eq!(get(&format!("{}/v1/tasks/{id}", server.base)).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn admin_tune_measures_chooses_and_saves_for_the_next_search() {
    let server = start(Limits::default()).await;
    let url = format!("{}/v1/admin/tune", server.base);
    let client = reqwest::Client::new();
    // Start from a fusion nobody would choose: every list weighs nothing.
    let zero = json!({"method": "weighted", "lexical": 0.0, "dense": 0.0, "graph": 0.0});
    server.engine.set_fusion(serde_json::from_value(zero.clone()).expect("fusion")).expect("set");
    let questions = json!([
        {"question": "纵联通道告警怎么处理", "expected": ["kb-tp-channel"], "category": "故障"},
        {"question": "CT断线告警怎么检查电流回路", "expected": ["kb-tp-ct"], "category": "故障"},
        {"question": "充电桩离线，扫码充不上电", "expected": ["kb-tp-ev-offline"]},
        {"question": "保修期内插件坏了收费吗", "expected": ["kb-br-warranty", "kb-missing"], "category": "咨询"},
        {"question": "CT断线告警", "expected": ["kb-tp-ct", "13812345678"]}
    ]);
    let response =
        client.post(&url).json(&json!({"questions": questions, "dry_run": true})).send().await.expect("tune");
    assert_eq!(response.status(), StatusCode::OK);
    let dry: Value = response.json().await.expect("report");
    assert_eq!((dry["applied"].as_bool(), dry["before"]["fusion"].clone()), (Some(false), zero.clone()));
    assert_eq!(dry["unknown_count"], 2);
    assert_eq!(dry["unknown_ids"][0], "kb-missing");
    assert!(!dry.to_string().contains("13812345678"), "an unknown id is listed masked: {}", dry["unknown_ids"]);
    assert_eq!(dry["questions"], 5);
    let after = dry["after"]["scores"]["ndcg@10"].as_f64().expect("after");
    let before = dry["before"]["scores"]["ndcg@10"].as_f64().expect("before");
    assert!(after > before, "{before} -> {after}: a zero fusion ranks by ties only");
    assert_eq!(serde_json::to_value(server.engine.fusion()).expect("json"), zero, "a dry run changes nothing");

    let report: Value = client
        .post(&url)
        .json(&json!({"questions": questions}))
        .send()
        .await
        .expect("tune")
        .json()
        .await
        .expect("report");
    assert_eq!((report["changed"].as_bool(), report["applied"].as_bool()), (Some(true), Some(true)));
    assert_eq!(serde_json::to_value(server.engine.fusion()).expect("json"), report["after"]["fusion"]);
    let saved = std::fs::read_to_string(server.engine.layout().fusion_file()).expect("saved");
    assert_eq!(serde_json::from_str::<Value>(&saved).expect("json"), report["after"]["fusion"]);
    // A search that chooses no fusion now gets the tuned one (resolved for its query).
    let (status, body) = get(&format!("{}/v1/search?q=纵联通道告警", server.base)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(body["fusion"], zero);

    // Bad sets: a clear 400 that names the question, nothing echoed, nothing changed.
    for (body, code, wanted) in [
        (json!({"questions": []}), "invalid_parameter", "no questions"),
        (json!({"questions": [{"question": "  ", "expected": ["kb-tp-ct"]}]}), "empty_query", "question 1 is empty"),
        (
            json!({"questions": [{"question": "手机13812345678坏了", "expected": ["nowhere"]}]}),
            "invalid_parameter",
            "no expected id",
        ),
        (json!({"questions": [{"question": "x", "expected": ["kb-tp-ct"], "answer": 1}]}), "", "unknown field"),
    ] {
        let response = client.post(&url).json(&body).send().await.expect("tune");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.expect("error");
        if !code.is_empty() {
            assert_eq!(error["code"], code, "{error}");
        }
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(wanted), "{message}");
        assert!(!message.contains("13812345678"), "{message}");
    }
    assert_eq!(serde_json::to_value(server.engine.fusion()).expect("json"), report["after"]["fusion"]);
}

#[tokio::test]
async fn admin_categories_learns_past_tickets_masks_them_and_refuses_bad_sets_unchanged() {
    let server = start(Limits::default()).await;
    let url = format!("{}/v1/admin/categories", server.base);
    let client = reqwest::Client::new();
    let ticket = json!({"text": "保护装置的屏幕字体能不能再大一点"});
    let matched = || async {
        let response =
            client.post(format!("{}/v1/tickets/match", server.base)).json(&ticket).send().await.expect("match");
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.expect("match json")["category"].clone()
    };
    let before = matched().await;
    assert_eq!(before["minor"], "fault_repair", "{before}");
    assert!(before.get("learned").is_none(), "{before}");

    let mut tickets = Vec::new();
    for i in 0..4 {
        tickets
            .push(json!({"id": format!("s-{i}"), "text": "屏幕字体能不能再大一点，看不清", "category": "suggestion"}));
        tickets.push(json!({"text": "张工13812345678：保护装置黑屏，运行灯不亮", "category": "fault_repair"}));
    }
    let response = client.post(&url).json(&json!({"tickets": tickets})).send().await.expect("learn");
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.expect("report");
    assert_eq!(report["learned"], 8);
    assert_eq!(report["per_category"], json!({"fault_repair": 4, "suggestion": 4}));
    let after = matched().await;
    assert_eq!(after["minor"], "suggestion", "{after}");
    assert_eq!(after["learned"][0]["category"], "suggestion", "{after}");
    let kept_path = server.engine.layout().ticket_history_file();
    let kept = std::fs::read_to_string(&kept_path).expect("kept");
    assert_eq!(kept.lines().count(), 8);
    assert!(!kept.contains("13812345678") && kept.contains("row-2") && kept.contains("s-0"), "{kept}");

    // Bad sets: a clear 400, nothing echoed, the kept tickets and the model as they were.
    for (body, wanted) in [
        (json!({"tickets": [{"text": "黑屏", "category": "13812345678"}]}), "category"),
        (json!({"tickets": [{"text": "黑屏", "category": "fault_repair"}]}), "fewer than two categories"),
        (
            json!({"tickets": [{"text": " ", "category": "fault_repair"}, {"text": "请问", "category": "consultation"}]}),
            "past ticket 1",
        ),
        (json!({"tickets": [{"text": "黑屏", "category": "fault_repair", "phone": "13812345678"}]}), "unknown field"),
    ] {
        let response = client.post(&url).json(&body).send().await.expect("learn");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.expect("error");
        assert_eq!(error["code"], "invalid_parameter", "{error}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(wanted), "{wanted}: {message}");
        assert!(!message.contains("13812345678"), "{message}");
    }
    assert_eq!(std::fs::read_to_string(&kept_path).expect("kept"), kept);
    assert_eq!(matched().await["minor"], "suggestion");
}
