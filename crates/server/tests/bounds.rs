//! Bounds that bound work, on the real server over loopback: a SPARQL query stops at its
//! deadline whatever its shape and runs in its own pool, so it cannot take the searches' slots;
//! a request whose client hung up keeps its slot until its work has stopped, and its work is
//! told to stop; slow clients are cut off (header-read and idle timeouts) and connections are
//! capped; without keys only loopback `Host` names are served (DNS rebinding).
//!
//! Nothing here asserts how long something took: each test waits for a condition (a metric, a
//! closed socket) with a generous guard that only a broken bound would reach.

mod common;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use search::Limits;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A four-way cross product of every triple (about 600⁴ ≈ 10¹¹ solutions on the test fixture)
/// counted into a single row: the result cap never trips, only the deadline can stop it.
const CROSS_PRODUCT: &str = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }";
/// Property paths with open ends: transitive closures that oxigraph's own cancellation token
/// does not stop.
const PROPERTY_PATHS: [&str; 3] = [
    "SELECT (COUNT(*) AS ?n) WHERE { ?a (<urn:x:p>|!<urn:x:p>)* ?b . ?c (!<urn:x:p>)* ?d }",
    "SELECT ?a ?b WHERE { ?a ((!<urn:x:p>)*/(^!<urn:x:p>)*)* ?b . ?b ?p ?o } ORDER BY ?a",
    "ASK { ?a (!<urn:x:p>|^!<urn:x:p>)* ?b . ?b (!<urn:x:p>|^!<urn:x:p>)* ?c . FILTER(?a = <urn:x:none>) }",
];
/// Longest any condition below is waited for: only a bound that does not hold gets near it.
const GUARD: Duration = Duration::from_secs(120);

const SEARCH: &str = "/v1/search?q=%E9%80%9A%E9%81%93%E5%91%8A%E8%AD%A6";

/// The value of one series of `/metrics` (`name{labels}` as written there), `None` when the
/// series is not there at all — which the callers treat as a failure, never as 0.
async fn metric(base: &str, series: &str) -> Option<f64> {
    let text = reqwest::get(format!("{base}/metrics")).await.expect("metrics").text().await.expect("text");
    text.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().expect("a number"))
    })
}

/// Waits until `series` reads `want`.
async fn wait_for_metric(base: &str, series: &str, want: f64) {
    let started = Instant::now();
    loop {
        let value = metric(base, series).await;
        if value == Some(want) {
            return;
        }
        assert!(started.elapsed() < GUARD, "{series} is {value:?}, not {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn post_sparql(base: &str, query: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/sparql"))
        .header("content-type", "application/sparql-query")
        .body(query.to_string())
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_runaway_sparql_shape_is_answered_sparql_timeout() {
    let limits = Limits { sparql_timeout_ms: 300, ..Limits::default() };
    let server = common::start(limits).await;
    for query in std::iter::once(CROSS_PRODUCT).chain(PROPERTY_PATHS) {
        let (status, body) = tokio::time::timeout(GUARD, post_sparql(&server.base, query)).await.expect("answered");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["code"], "sparql_timeout", "{query}: {body}");
    }
    // Every query's slot was given back, and the server still answers.
    wait_for_metric(&server.base, "gridkb_sparql_queue_depth", 0.0).await;
    let (status, body) = post_sparql(&server.base, "ASK { ?s ?p ?o }").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sparql_has_its_own_pool_and_an_abandoned_query_keeps_its_slot_until_it_stops() {
    // A deadline an hour away: only the client hanging up can stop the query within the test.
    let limits =
        Limits { sparql_timeout_ms: 3_600_000, max_concurrent_sparql: 1, sparql_queue: 0, ..Limits::default() };
    let server = common::start(limits).await;
    let base = server.base.clone();
    let runaway = tokio::spawn(async move { post_sparql(&base, PROPERTY_PATHS[0]).await });
    wait_for_metric(&server.base, "gridkb_sparql_queue_depth", 1.0).await;

    // The SPARQL pool is full: another query is refused at once, searches are not.
    let (status, body) = post_sparql(&server.base, "ASK { ?s ?p ?o }").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "overloaded", "{body}");
    for _ in 0..5 {
        let (status, body) = common::get(&format!("{}{SEARCH}", server.base)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(!body["hits"].as_array().expect("hits").is_empty(), "{body}");
    }
    assert_eq!(metric(&server.base, "gridkb_sparql_rejected_total").await, Some(1.0));
    assert_eq!(metric(&server.base, "gridkb_search_rejected_total").await, Some(0.0));
    assert!(!runaway.is_finished(), "the runaway query was answered");

    // The client hangs up: the query is told to stop, and its slot comes back once it has.
    runaway.abort();
    assert!(runaway.await.expect_err("aborted").is_cancelled());
    wait_for_metric(&server.base, "gridkb_abandoned_total{pool=\"sparql\"}", 1.0).await;
    wait_for_metric(&server.base, "gridkb_sparql_queue_depth", 0.0).await;
    let (status, body) = post_sparql(&server.base, "ASK { ?s ?p ?o }").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Reads until the server closes the connection; what it sent before.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(GUARD, stream.read(&mut buffer)).await.expect("the server closed the connection") {
            Ok(0) | Err(_) => return received,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

fn addr(base: &str) -> &str {
    base.trim_start_matches("http://")
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_cut_off() {
    let limits = Limits { header_read_timeout_ms: 200, ..Limits::default() };
    let server = common::start(limits).await;
    let mut stream = TcpStream::connect(addr(&server.base)).await.expect("connect");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.expect("write");
    let answer = read_to_close(&mut stream).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(!text.contains("200 OK"), "{text}");
    // A keep-alive connection that sends nothing more after an answer is closed too.
    let mut stream = TcpStream::connect(addr(&server.base)).await.expect("connect");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.expect("write");
    let answer = read_to_close(&mut stream).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test]
async fn a_client_that_stops_sending_its_body_is_cut_off() {
    let limits = Limits { header_read_timeout_ms: 600_000, idle_timeout_ms: 200, ..Limits::default() };
    let server = common::start(limits).await;
    let mut stream = TcpStream::connect(addr(&server.base)).await.expect("connect");
    stream
        .write_all(b"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"q\":")
        .await
        .expect("write");
    let answer = read_to_close(&mut stream).await;
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));
}

#[tokio::test]
async fn connections_over_the_cap_are_answered_503_and_closed() {
    let limits = Limits { max_connections: 2, header_read_timeout_ms: 600_000, ..Limits::default() };
    let server = common::start(limits).await;
    // Two idle connections take the two places (the server accepts in connection order).
    let first = TcpStream::connect(addr(&server.base)).await.expect("connect");
    let _second = TcpStream::connect(addr(&server.base)).await.expect("connect");
    let mut third = TcpStream::connect(addr(&server.base)).await.expect("connect");
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.expect("write");
    let answer = String::from_utf8(read_to_close(&mut third).await).expect("utf-8");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).expect("body")).expect("json");
    assert_eq!(body["code"], "overloaded");

    // One place comes free: the next connection is served.
    drop(first);
    let started = Instant::now();
    loop {
        let mut stream = TcpStream::connect(addr(&server.base)).await.expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let answer = String::from_utf8(read_to_close(&mut stream).await).expect("utf-8");
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(started.elapsed() < GUARD, "the freed place never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn without_keys_only_loopback_host_names_are_served() {
    let server = common::start(Limits::default()).await;
    let client = reqwest::Client::new();
    let port = addr(&server.base).rsplit_once(':').expect("port").1.to_string();
    for host in ["evil.example", "evil.example:80", "localhost.evil.example", "192.168.1.10", "127.0.0.1.nip.io"] {
        for path in [SEARCH, "/healthz", "/v1/items/k-1", "/metrics"] {
            let response =
                client.get(format!("{}{path}", server.base)).header("host", host).send().await.expect("request");
            assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST, "{host} {path}");
            let body: Value = response.json().await.expect("json");
            assert_eq!(body["code"], "host_not_allowed", "{host} {path}: {body}");
            assert!(!body["message"].as_str().expect("message").contains(host), "{body}");
        }
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), "[::1]".to_string(), "localhost".into()] {
        let response =
            client.get(format!("{}{SEARCH}", server.base)).header("host", &host).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
}
