//! The test server: a real engine on a temporary data directory behind the real router on
//! loopback. Shared by the API test binaries.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::path::Path;
use std::sync::Arc;

use reqwest::StatusCode;
use search::{Engine, EngineOptions, Limits};
use serde_json::Value;

pub struct TestServer {
    pub base: String,
    pub engine: Arc<Engine>,
    pub _dir: tempfile::TempDir,
}

pub async fn start(limits: Limits) -> TestServer {
    start_with(limits.clone(), limits).await
}

/// As [`start`], the engine with `engine_limits` and the server with `limits` (which may be
/// ones the engine would refuse, such as no search slot at all).
pub async fn start_with(engine_limits: Limits, limits: Limits) -> TestServer {
    launch(tempfile::tempdir().expect("tempdir"), engine_limits, limits, |state| state).await
}

/// As [`start`], with API keys: one key for each of `roles` is created first (returned in that
/// order), and every route but the open ones needs one.
pub async fn start_with_keys(roles: &[server::auth::Role]) -> (TestServer, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys: Vec<String> = roles
        .iter()
        .map(|role| {
            server::keys::create(dir.path(), *role, None, Some("test"), &Limits::default()).expect("create key").key
        })
        .collect();
    let store = server::keys::KeyStore::open(dir.path()).expect("key store");
    let server = launch(dir, Limits::default(), Limits::default(), |state| state.with_keys(store, false)).await;
    (server, keys)
}

async fn launch(
    dir: tempfile::TempDir,
    engine_limits: Limits,
    limits: Limits,
    configure: impl FnOnce(server::AppState) -> server::AppState,
) -> TestServer {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mini.jsonl");
    let data = dir.path().to_path_buf();
    let engine = tokio::task::spawn_blocking(move || {
        let engine =
            Engine::open(EngineOptions { data_dir: data, limits: engine_limits, ..EngineOptions::default() }, &|_| {})
                .expect("engine");
        let batch = ingest::read_paths(&[fixture]).expect("fixture");
        let records: Vec<_> = batch.records.into_iter().map(|(_, r)| r).collect();
        engine.ingest(&records, "test", &|_| {}).expect("ingest");
        Arc::new(engine)
    })
    .await
    .expect("loader");
    let state = configure(server::AppState::new(limits));
    state.set_engine(engine.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(server::serve(listener, state));
    TestServer { base, engine, _dir: dir }
}

/// The test server as `gridkb serve` runs by default: with the real model (`models/m3e-small`,
/// scripts/fetch-model.sh; fails, does not skip, when it is missing), every item embedded.
pub async fn start_with_model() -> TestServer {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/m3e-small");
    assert!(model.join("config.json").is_file(), "the default model is missing: run scripts/fetch-model.sh first");
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mini.jsonl");
    let data = dir.path().to_path_buf();
    let engine = tokio::task::spawn_blocking(move || {
        let options = EngineOptions {
            data_dir: data,
            model: Some(search::ModelChoice::Required(model)),
            ..EngineOptions::default()
        };
        let engine = Engine::open(options, &|_| {}).expect("engine");
        let batch = ingest::read_paths(&[fixture]).expect("fixture");
        let records: Vec<_> = batch.records.into_iter().map(|(_, r)| r).collect();
        engine.ingest(&records, "test", &|_| {}).expect("ingest");
        engine.catch_up_vectors(&|_| {}).expect("embed");
        Arc::new(engine)
    })
    .await
    .expect("loader");
    let state = server::AppState::new(Limits::default());
    state.set_engine(engine.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(server::serve(listener, state));
    TestServer { base, engine, _dir: dir }
}

pub async fn get(url: &str) -> (StatusCode, Value) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}
