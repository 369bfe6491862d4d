//! A SPARQL query that would run for hours is stopped at the deadline with `sparql_timeout`,
//! while searches on the same server keep answering.

mod common;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use search::Limits;
use serde_json::Value;

/// The server's SPARQL deadline (`graph_routes::SPARQL_TIMEOUT`, the graph crate's default).
const SPARQL_TIMEOUT: Duration = graph::limits::SPARQL_TIMEOUT;

/// A four-way cross product of every triple (about 600⁴ ≈ 10¹¹ solutions on the test fixture)
/// counted into a single row: the result cap never trips, only the deadline can stop it.
const RUNAWAY: &str = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_runaway_sparql_query_times_out_while_searches_keep_answering() {
    let server = common::start(Limits::default()).await;
    let url = format!("{}/v1/sparql", server.base);
    let started = Instant::now();
    let sparql = tokio::spawn(async move {
        let response = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/sparql-query")
            .body(RUNAWAY)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json::<Value>().await.unwrap_or(Value::Null), started.elapsed())
    });

    // Give the query time to reach the evaluator, then search while it runs.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for q in ["%E9%80%9A%E9%81%93%E5%91%8A%E8%AD%A6", "CT%E6%96%AD%E7%BA%BF", "%E5%85%85%E7%94%B5%E6%A1%A9"] {
        for _ in 0..3 {
            let (status, body) = common::get(&format!("{}/v1/search?q={q}", server.base)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(!body["hits"].as_array().expect("hits").is_empty(), "{body}");
        }
    }
    assert!(!sparql.is_finished(), "the searches were answered while the SPARQL query was still running");

    let (status, body, elapsed) = sparql.await.expect("sparql task");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "sparql_timeout", "{body}");
    // Answered at the deadline, not when the query could have finished (hours later); the
    // slack covers a loaded test machine.
    assert!(elapsed < SPARQL_TIMEOUT * 4, "answered after {elapsed:?}");

    // The server is still healthy afterwards.
    let (status, _) = common::get(&format!("{}/v1/search?q=CT%E6%96%AD%E7%BA%BF", server.base)).await;
    assert_eq!(status, StatusCode::OK);
}
