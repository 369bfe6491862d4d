//! API keys on a real server over loopback: deny by default, roles per route, revocation and
//! new keys taking effect without a restart, and a key file that never holds a secret.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use search::{Engine, EngineOptions, Limits};
use serde_json::Value;
use server::auth::Role;
use server::keys::{self, KeyStore, RELOAD_INTERVAL};

struct Server {
    base: String,
    dir: tempfile::TempDir,
    _engine: Arc<Engine>,
}

impl Server {
    fn data(&self) -> &Path {
        self.dir.path()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The fixture engine behind the real router, with the key store of its data directory.
/// `roles` are created before the server starts; their keys are returned in that order.
async fn start(roles: &[Role], open_without_keys: bool) -> (Server, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let created: Vec<String> =
        roles.iter().map(|role| keys::create(dir.path(), *role, None, Some("test")).expect("create key").key).collect();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mini.jsonl");
    let data = dir.path().to_path_buf();
    let engine = tokio::task::spawn_blocking(move || {
        let engine =
            Engine::open(EngineOptions { data_dir: data, ..EngineOptions::default() }, &|_| {}).expect("engine");
        let batch = ingest::read_paths(&[fixture]).expect("fixture");
        let records: Vec<_> = batch.records.into_iter().map(|(_, r)| r).collect();
        engine.ingest(&records, "test", &|_| {}).expect("ingest");
        Arc::new(engine)
    })
    .await
    .expect("loader");
    let store = KeyStore::open(dir.path()).expect("key store");
    let state = server::AppState::new(Limits::default()).with_keys(store, open_without_keys);
    state.set_engine(engine.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(server::serve(listener, state));
    (Server { base, dir, _engine: engine }, created)
}

/// GET with an optional `Authorization: Bearer` key: status and JSON body (Null when not JSON).
async fn get(url: &str, key: Option<&str>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

const SEARCH: &str = "/v1/search?q=%E4%BF%9D%E6%8A%A4%E8%A3%85%E7%BD%AE";
const SPARQL: &str = "/v1/sparql?query=ASK%20%7B%20%3Fs%20%3Fp%20%3Fo%20%7D";

/// Polls `path` with `key` until it answers `want`; the time it took.
async fn wait_for(server: &Server, path: &str, key: &str, want: StatusCode) -> Duration {
    let started = Instant::now();
    loop {
        let (status, body) = get(&server.url(path), Some(key)).await;
        if status == want {
            return started.elapsed();
        }
        assert!(started.elapsed() < RELOAD_INTERVAL * 3, "still {status} {body} after {:?}", started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn no_or_bad_key_is_401_and_open_routes_stay_open() {
    let (server, keys) = start(&[Role::Agent], true).await;
    let response = reqwest::get(server.url(SEARCH)).await.expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"gridkb\"")
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], "unauthorized");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("Bearer")), "{body}");

    let mut wrong = keys[0].clone();
    wrong.replace_range(wrong.len() - 4.., "0000");
    for key in [wrong.as_str(), "gkb_k_00000000_00", "nonsense", &keys[0][..keys[0].len() - 1]] {
        let (status, body) = get(&server.url(SEARCH), Some(key)).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")), "{key:.20}");
    }
    let client = reqwest::Client::new();
    for header in ["Basic dXNlcjpwYXNz", "Bearer", keys[0].as_str()] {
        let response = client.get(server.url(SEARCH)).header("authorization", header).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header:.20}");
    }

    for open in ["/healthz", "/readyz", "/openapi.json"] {
        assert_eq!(get(&server.url(open), None).await.0, StatusCode::OK, "{open}");
    }
    // Unknown routes: a key first, then 404.
    assert_eq!(get(&server.url("/v1/nothing"), None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&server.url("/v1/nothing"), Some(&keys[0])).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_console_pages_are_open_and_other_unknown_paths_are_not() {
    let (server, keys) = start(&[Role::Agent], true).await;
    for page in ["/", "/agent", "/signin", "/editor", "/editor/items/kb-1", "/dashboard"] {
        let response = reqwest::get(server.url(page)).await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        let policy = response.headers().get("content-security-policy").and_then(|v| v.to_str().ok());
        assert!(policy.is_some_and(|p| p.contains("script-src 'self'")), "{page}: {policy:?}");
        let text = response.text().await.expect("text");
        assert!(text.contains("<html"), "{page}: {text:.200}");
    }
    // A missing asset is the API's JSON 404, without a key.
    let (status, body) = get(&server.url("/assets/no-such-file.js"), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    // Only the console's own paths are open: anything else still needs a key before its 404.
    for path in ["/favicon.ico", "/agentx", "/v1/agent", "/assets"] {
        assert_eq!(get(&server.url(path), None).await.0, StatusCode::UNAUTHORIZED, "{path}");
        let (status, body) = get(&server.url(path), Some(&keys[0])).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{path}");
    }
}

#[tokio::test]
async fn roles_map_to_routes() {
    let (server, keys) = start(&[Role::Agent, Role::Bot, Role::Editor, Role::Admin], false).await;
    let [agent, bot, editor, admin] = [&keys[0], &keys[1], &keys[2], &keys[3]];

    let (status, body) = get(&server.url(SEARCH), Some(agent)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["hits"].as_array().is_some_and(|h| !h.is_empty()), "{body}");
    assert_eq!(get(&server.url(SEARCH), Some(bot)).await.0, StatusCode::OK);
    assert_eq!(get(&server.url("/v1/warranties/expiring"), Some(agent)).await.0, StatusCode::OK);
    let (status, body) = get(&server.url("/v1/devices/SN-NONE"), Some(bot)).await;
    assert!(status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN, "{status} {body}");
    assert_eq!(get(&server.url("/v1/devices/SN-NONE"), None).await.0, StatusCode::UNAUTHORIZED);

    for reader in [agent, bot] {
        for path in [SPARQL, "/v1/items/stale", "/metrics"] {
            let (status, body) = get(&server.url(path), Some(reader)).await;
            assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{path}");
            assert!(body["message"].as_str().is_some_and(|m| m.contains("needs `")), "{body}");
        }
    }

    assert_eq!(get(&server.url(SPARQL), Some(editor)).await.0, StatusCode::OK);
    assert_eq!(get(&server.url("/v1/items/stale"), Some(editor)).await.0, StatusCode::OK);
    assert_eq!(get(&server.url(SEARCH), Some(editor)).await.0, StatusCode::OK);
    assert_eq!(get(&server.url("/metrics"), Some(editor)).await.0, StatusCode::FORBIDDEN);

    for path in [SEARCH, SPARQL, "/v1/items/stale", "/metrics"] {
        assert_eq!(get(&server.url(path), Some(admin)).await.0, StatusCode::OK, "{path}");
    }

    // `X-Api-Key` works as well as `Authorization: Bearer`.
    let response = reqwest::Client::new()
        .get(server.url(SEARCH))
        .header("x-api-key", agent.as_str())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoked_key_is_401_without_a_restart() {
    let (server, keys) = start(&[Role::Agent, Role::Agent], false).await;
    assert_eq!(get(&server.url(SEARCH), Some(&keys[0])).await.0, StatusCode::OK);
    let id = keys::list(server.data()).expect("list")[0].id.clone();
    assert_eq!(keys::revoke(server.data(), &id).expect("revoke"), keys::Revoked::Now);
    wait_for(&server, SEARCH, &keys[0], StatusCode::UNAUTHORIZED).await;
    let (status, body) = get(&server.url(SEARCH), Some(&keys[0])).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    assert_eq!(get(&server.url(SEARCH), Some(&keys[1])).await.0, StatusCode::OK, "the other key still works");
}

#[tokio::test]
async fn key_created_while_running_works_within_a_second() {
    let (server, _keys) = start(&[Role::Admin], false).await;
    let new = keys::create(server.data(), Role::Editor, None, None).expect("create").key;
    let took = wait_for(&server, SPARQL, &new, StatusCode::OK).await;
    assert!(took <= RELOAD_INTERVAL + Duration::from_millis(800), "took {took:?}");
}

#[tokio::test]
async fn without_keys_the_api_is_open_only_where_allowed_and_closes_with_the_first_key() {
    let (open, _) = start(&[], true).await;
    assert_eq!(get(&open.url(SEARCH), None).await.0, StatusCode::OK);
    assert_eq!(get(&open.url("/metrics"), None).await.0, StatusCode::OK);

    let (closed, _) = start(&[], false).await;
    assert_eq!(get(&closed.url(SEARCH), None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&closed.url("/healthz"), None).await.0, StatusCode::OK);

    // The first key closes the open server: from then on every protected route needs one.
    let key = keys::create(open.data(), Role::Agent, None, None).expect("create").key;
    let started = Instant::now();
    while get(&open.url(SEARCH), None).await.0 == StatusCode::OK {
        assert!(started.elapsed() < RELOAD_INTERVAL * 3, "still open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(&open.url(SEARCH), None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&open.url(SEARCH), Some(&key)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_corrupt_key_file_refuses_every_key() {
    let (server, keys) = start(&[Role::Admin], false).await;
    assert_eq!(get(&server.url(SEARCH), Some(&keys[0])).await.0, StatusCode::OK);
    std::fs::write(keys::keys_path(server.data()), b"{\"format\": ").expect("write");
    let started = Instant::now();
    loop {
        let (status, body) = get(&server.url(SEARCH), Some(&keys[0])).await;
        if status != StatusCode::OK {
            assert_eq!((status, body["code"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("internal")));
            break;
        }
        assert!(started.elapsed() < RELOAD_INTERVAL * 3, "a corrupt key file still accepted keys");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(&server.url("/healthz"), None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn dify_retrieval_answers_auth_failures_in_difys_shape() {
    let (server, keys) = start(&[Role::Bot], false).await;
    let client = reqwest::Client::new();
    let body = serde_json::json!({
        "knowledge_id": "gridkb",
        "query": "保护装置通道异常",
        "retrieval_setting": {"top_k": 3, "score_threshold": 0.0}
    });
    let send = |header: Option<&str>| {
        let mut request = client.post(server.url("/retrieval")).json(&body);
        if let Some(header) = header {
            request = request.header("authorization", header);
        }
        request.send()
    };
    for (header, code) in [(None, 1001), (Some("Token abc"), 1001), (Some("Bearer gkb_k_00000000_00"), 1002)] {
        let response = send(header).await.expect("request");
        assert_ne!(response.status(), StatusCode::OK, "{header:?}");
        let answer: Value = response.json().await.expect("json");
        assert_eq!(answer["error_code"], code, "{header:?}: {answer}");
        assert!(answer["error_msg"].is_string(), "{answer}");
    }
    let response = send(Some(&format!("Bearer {}", keys[0]))).await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}

#[test]
fn the_key_file_never_holds_a_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let created: Vec<String> =
        Role::ALL.iter().map(|role| keys::create(dir.path(), *role, None, None).expect("create").key).collect();
    let file = std::fs::read_to_string(keys::keys_path(dir.path())).expect("key file");
    for key in &created {
        let secret = key.rsplit_once('_').map(|(_, s)| s).expect("shape");
        assert_eq!(secret.len(), 2 * keys::SECRET_BYTES, "32 random bytes in hex");
        assert!(!file.contains(key.as_str()) && !file.contains(secret), "the key file holds a secret");
        assert!(!file.contains(&secret[..16]), "the key file holds part of a secret");
    }
    let parsed: Value = serde_json::from_str(&file).expect("json");
    assert_eq!(parsed["version"], keys::FORMAT_VERSION);
    for record in parsed["keys"].as_array().expect("keys") {
        let mut fields: Vec<&str> = record.as_object().expect("object").keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["created", "hash", "id", "revoked", "role"]);
        assert!(record["hash"].as_str().is_some_and(|h| h.starts_with("blake3:") && h.len() == 7 + 64));
    }
}

/// The hash comparison must not stop at the first differing byte.
#[test]
fn keys_are_compared_in_constant_time() {
    let source = include_str!("../src/keys.rs");
    let verify = source.split("pub fn verify(").nth(1).and_then(|rest| rest.split("\n    }\n").next()).expect("verify");
    assert!(verify.contains("constant_time_eq::constant_time_eq(&computed, &entry.hash)"), "{verify}");
    assert!(!verify.contains("== entry.hash") && !verify.contains("entry.hash =="), "{verify}");
}

#[tokio::test]
async fn stats_are_for_admins_and_count_the_fixture() {
    let (server, keys) = start(&[Role::Agent, Role::Editor, Role::Admin], false).await;
    let [agent, editor, admin] = [&keys[0], &keys[1], &keys[2]];
    for key in [Some(agent.as_str()), Some(editor.as_str())] {
        assert_eq!(get(&server.url("/v1/stats"), key).await.0, StatusCode::FORBIDDEN);
    }
    assert_eq!(get(&server.url("/v1/stats"), None).await.0, StatusCode::UNAUTHORIZED);
    let (status, stats) = get(&server.url("/v1/stats"), Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["items"]["total"], 9);
    assert_eq!(stats["items"]["by_status"]["published"], 8);
    assert_eq!(stats["items"]["by_product_line"]["pl-ev"], 2);
    assert_eq!(stats["entities"]["total"], 7);
    assert_eq!(stats["distinct_text_ratio"], 1.0);
    assert_eq!(stats["seq"]["store"], 16);
    assert!(stats["disk"]["entries"]["keys.json"].as_u64().is_some_and(|b| b > 0), "{stats}");
}
