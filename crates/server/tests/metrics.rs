//! `GET /metrics` over loopback: requests are counted by route template, never by raw URL, and
//! the index sizes, queue and build info are there in the Prometheus text format 0.0.4.

mod common;

use std::collections::BTreeMap;

use common::start;
use reqwest::StatusCode;
use search::Limits;
use serde_json::json;

/// Every sample of a scrape: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("malformed sample line `{l}`"));
            (series.to_string(), value.parse::<f64>().unwrap_or_else(|_| panic!("bad value in `{l}`")))
        })
        .collect()
}

async fn scrape(base: &str) -> (String, BTreeMap<String, f64>) {
    let response = reqwest::get(format!("{base}/metrics")).await.expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = response.text().await.expect("text");
    let parsed = samples(&text);
    (text, parsed)
}

/// The value of a series that must be in the scrape: a missing series fails the test (it is not
/// read as 0).
fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or_else(|| panic!("`{series}` is not in the scrape: {samples:#?}"))
}

/// The value of a series in a scrape taken before the counted requests, where a counter not
/// yet touched is absent: 0 then.
fn before_value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn requests_are_counted_by_route_template_and_sizes_are_reported() {
    let server = start(Limits::default()).await;
    let base = &server.base;
    let (_, before) = scrape(base).await;

    let client = reqwest::Client::new();
    for _ in 0..3 {
        let ok = client.get(format!("{base}/v1/search")).query(&[("q", "保护装置通道异常 13812345678")]).send();
        assert_eq!(ok.await.expect("search").status(), StatusCode::OK);
    }
    let bad = client.post(format!("{base}/v1/search")).json(&json!({"q": ""})).send().await.expect("post");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let device = client.get(format!("{base}/v1/devices/SN-PRIVATE-0042")).send().await.expect("device");
    assert_eq!(device.status(), StatusCode::NOT_FOUND);
    let unknown = client.get(format!("{base}/v1/customers/张三")).send().await.expect("unknown");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(client.get(format!("{base}/healthz")).send().await.expect("health").status(), StatusCode::OK);

    let (text, after) = scrape(base).await;
    let delta = |series: &str| value(&after, series) - before_value(&before, series);
    assert_eq!(delta(r#"gridkb_http_requests_total{route="/v1/search",method="GET",status="200"}"#), 3.0, "{text}");
    assert_eq!(delta(r#"gridkb_http_requests_total{route="/v1/search",method="POST",status="400"}"#), 1.0, "{text}");
    assert_eq!(
        delta(r#"gridkb_http_requests_total{route="/v1/devices/{serial}",method="GET",status="404"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(delta(r#"gridkb_http_requests_total{route="(unmatched)",method="GET",status="404"}"#), 1.0, "{text}");
    assert_eq!(delta(r#"gridkb_http_requests_total{route="/healthz",method="GET",status="200"}"#), 1.0, "{text}");
    assert_eq!(delta(r#"gridkb_http_request_duration_seconds_count{route="/v1/search",method="GET"}"#), 3.0, "{text}");
    assert!(delta(r#"gridkb_http_request_duration_seconds_sum{route="/v1/search",method="GET"}"#) > 0.0, "{text}");
    // The buckets of /v1/search: cumulative, ending at +Inf with the count.
    let prefix = r#"gridkb_http_request_duration_seconds_bucket{route="/v1/search",method="GET",le=""#;
    let buckets: Vec<(String, f64)> = after
        .iter()
        .filter_map(|(series, v)| Some((series.strip_prefix(prefix)?.trim_end_matches("\"}").to_string(), *v)))
        .collect();
    assert!(buckets.iter().any(|(le, _)| le == "+Inf"), "an +Inf bucket:\n{text}");
    assert!(buckets.len() >= 2, "finite buckets too:\n{text}");
    let mut ordered: Vec<(f64, f64)> = buckets
        .iter()
        .map(|(le, v)| (if le == "+Inf" { f64::INFINITY } else { le.parse().expect("le") }, *v))
        .collect();
    ordered.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(ordered.windows(2).all(|w| w[0].1 <= w[1].1), "buckets are cumulative:\n{text}");
    assert_eq!(
        ordered.last().map(|b| b.1),
        Some(value(&after, r#"gridkb_http_request_duration_seconds_count{route="/v1/search",method="GET"}"#)),
        "{text}"
    );
    // The previous scrape is counted too, under its own template.
    assert!(delta(r#"gridkb_http_requests_total{route="/metrics",method="GET",status="200"}"#) >= 1.0, "{text}");

    // No raw URL, query text or personal data in any label.
    for private in ["SN-PRIVATE", "13812345678", "张三", "customers", "保护"] {
        assert!(!text.contains(private), "`{private}` leaked into /metrics:\n{text}");
    }

    let stats = server.engine.stats().expect("stats");
    assert_eq!(value(&after, "gridkb_index_items"), stats.indexed_items as f64, "{text}");
    assert_eq!(value(&after, "gridkb_index_entities"), (stats.records - stats.indexed_items) as f64, "{text}");
    assert_eq!(value(&after, "gridkb_index_vectors"), 0.0, "{text}");
    let triples = server.engine.graph().expect("graph").triple_count().expect("triples");
    assert_eq!(value(&after, "gridkb_index_triples"), triples as f64, "{text}");
    assert_eq!(value(&after, "gridkb_ready"), 1.0, "{text}");
    assert_eq!(value(&after, "gridkb_search_queue_depth"), 0.0, "{text}");
    assert_eq!(
        value(&after, "gridkb_search_queue_capacity"),
        (Limits::default().max_concurrent_searches + Limits::default().search_queue) as f64
    );
    assert_eq!(value(&after, "gridkb_search_rejected_total"), 0.0, "{text}");
    assert_eq!(value(&after, "gridkb_sparql_queue_depth"), 0.0, "{text}");
    assert_eq!(
        value(&after, "gridkb_sparql_queue_capacity"),
        (Limits::default().max_concurrent_sparql + Limits::default().sparql_queue) as f64
    );
    assert_eq!(value(&after, "gridkb_sparql_rejected_total"), 0.0, "{text}");
    assert_eq!(value(&after, "gridkb_http_connections_refused_total"), 0.0, "{text}");
    // The scrape's own connection is open.
    assert!(value(&after, "gridkb_http_connections") >= 1.0, "{text}");
    let resident = value(&after, "gridkb_process_resident_memory_bytes");
    assert!(resident > 1e6 && resident < 64e9, "{text}");
    assert_eq!(
        value(&after, &format!(r#"gridkb_build_info{{version="{}"}}"#, env!("CARGO_PKG_VERSION"))),
        1.0,
        "{text}"
    );
    for help in ["# TYPE gridkb_http_requests_total counter", "# TYPE gridkb_http_request_duration_seconds histogram"] {
        assert!(text.contains(help), "{help} missing:\n{text}");
    }
}

/// A full queue answers 503 with `Retry-After` and counts each refusal.
#[tokio::test]
async fn refused_searches_are_counted() {
    // No search slot and no queue: every search is refused, deterministically.
    let refusing = Limits { max_concurrent_searches: 0, search_queue: 0, ..Limits::default() };
    let server = common::start_with(Limits::default(), refusing).await;
    let client = reqwest::Client::new();
    let requests: Vec<_> = (0..5)
        .map(|_| client.get(format!("{}/v1/search", server.base)).query(&[("q", "保护装置通道异常")]).send())
        .collect();
    for response in futures_join(requests).await {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["code"], "overloaded", "{body}");
    }
    let (text, after) = scrape(&server.base).await;
    assert_eq!(value(&after, "gridkb_search_rejected_total"), 5.0, "{text}");
    assert_eq!(value(&after, "gridkb_search_queue_depth"), 0.0, "{text}");
    assert_eq!(
        value(&after, r#"gridkb_http_requests_total{route="/v1/search",method="GET",status="503"}"#),
        5.0,
        "{text}"
    );
}

/// Runs the requests at once (tokio tasks; no extra dependency).
async fn futures_join<F>(requests: Vec<F>) -> Vec<reqwest::Response>
where
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
{
    let handles: Vec<_> = requests.into_iter().map(tokio::spawn).collect();
    let mut responses = Vec::new();
    for handle in handles {
        responses.push(handle.await.expect("task").expect("response"));
    }
    responses
}

/// The figures that cost a pass over a whole collection (the graph's triples, the open gap
/// tasks) are kept between scrapes for `metrics_slow_figures_ms`; 0 computes them every time.
#[tokio::test]
async fn slow_figures_are_kept_for_the_configured_time() {
    for (keep_ms, refreshed) in [(60_000, false), (0, true)] {
        let server = start(Limits { metrics_slow_figures_ms: keep_ms, ..Limits::default() }).await;
        let (_, first) = scrape(&server.base).await;
        let before = value(&first, "gridkb_index_triples");
        let engine = server.engine.clone();
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("more.jsonl");
        std::fs::write(
            &file,
            r#"{"class":"ProductLine","id":"pl-metrics-test","label":"计量测试产品线","aliases":["计量测试线"]}"#,
        )
        .expect("write");
        let grown = tokio::task::spawn_blocking(move || {
            let batch = ingest::read_paths(&[file]).expect("read");
            let records: Vec<_> = batch.records.into_iter().map(|(_, r)| r).collect();
            engine.ingest(&records, "test", &|_| {}).expect("ingest");
            // The graph follows the store in the background: wait until it holds the new record.
            let graph = engine.graph().expect("graph");
            for _ in 0..200 {
                let now = graph.triple_count().expect("triples");
                if now as f64 > before {
                    return now;
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            panic!("the graph did not take the new product line");
        })
        .await
        .expect("ingest task");
        let (text, second) = scrape(&server.base).await;
        let shown = value(&second, "gridkb_index_triples");
        if refreshed {
            assert_eq!(shown, grown as f64, "computed again at once with 0:\n{text}");
        } else {
            assert_eq!(shown, before, "kept for a minute by default:\n{text}");
        }
    }
}
