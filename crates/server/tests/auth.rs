//! API keys on a real server over loopback: deny by default, roles per route, revocation and
//! new keys taking effect without a restart, and a key file that never holds a secret.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use search::{Engine, EngineOptions, Limits};
use serde_json::Value;
use server::auth::Role;
use server::keys::{self, KeyStore};

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
    let created: Vec<String> = roles
        .iter()
        .map(|role| keys::create(dir.path(), *role, None, Some("test"), &Limits::default()).expect("create key").key)
        .collect();
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

/// Longest a key-file change is waited for: the server re-reads the file every
/// `RELOAD_INTERVAL`; only a server that never does gets near this.
const GUARD: Duration = Duration::from_secs(60);

/// Polls `path` with `key` until it answers `want`; the time it took.
async fn wait_for(server: &Server, path: &str, key: &str, want: StatusCode) -> Duration {
    let started = Instant::now();
    loop {
        let (status, body) = get(&server.url(path), Some(key)).await;
        if status == want {
            return started.elapsed();
        }
        assert!(started.elapsed() < GUARD, "still {status} {body} after {:?}", started.elapsed());
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
async fn key_created_while_running_works_without_a_restart() {
    let (server, _keys) = start(&[Role::Admin], false).await;
    let new = keys::create(server.data(), Role::Editor, None, None, &Limits::default()).expect("create").key;
    wait_for(&server, SPARQL, &new, StatusCode::OK).await;
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
    let key = keys::create(open.data(), Role::Agent, None, None, &Limits::default()).expect("create").key;
    let started = Instant::now();
    while get(&open.url(SEARCH), None).await.0 == StatusCode::OK {
        assert!(started.elapsed() < GUARD, "still open");
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
        assert!(started.elapsed() < GUARD, "a corrupt key file still accepted keys");
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
    let created: Vec<String> = Role::ALL
        .iter()
        .map(|role| keys::create(dir.path(), *role, None, None, &Limits::default()).expect("create").key)
        .collect();
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

/// Who calls, in the role matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Key(Role),
    Revoked,
    NoKey,
    /// Any key, while the key file is corrupt.
    CorruptFile,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Needs {
    Anyone,
    /// This role or a higher one.
    AtLeast(Role),
}

/// One row of the matrix: a route template and method of the API, a concrete request to it,
/// and who may call it. Dify's `/retrieval` is marked by its path (its own error shape).
struct Row {
    method: &'static str,
    template: &'static str,
    path: &'static str,
    body: Option<(&'static str, &'static str)>,
    needs: Needs,
}

const JSON_TYPE: &str = "application/json";

fn row(method: &'static str, template: &'static str, path: &'static str, needs: Needs) -> Row {
    Row { method, template, path, body: None, needs }
}

fn with_body(
    method: &'static str,
    template: &'static str,
    path: &'static str,
    body: &'static str,
    needs: Needs,
) -> Row {
    Row { method, template, path, body: Some((JSON_TYPE, body)), needs }
}

/// Every route of the API and who may call it. A route added without a row here fails
/// `every_route_answers_every_role_as_the_table_says`.
fn matrix() -> Vec<Row> {
    use Needs::{Anyone, AtLeast};
    let reader = AtLeast(Role::Bot);
    let editor = AtLeast(Role::Editor);
    let reviewer = AtLeast(Role::Reviewer);
    let admin = AtLeast(Role::Admin);
    let manager = AtLeast(Role::Manager);
    let draft = r#"{"kind":"technical_point","title":"矩阵测试","body":"正文。","category":"fault_repair"}"#;
    vec![
        row("GET", "/healthz", "/healthz", Anyone),
        row("GET", "/readyz", "/readyz", Anyone),
        row("GET", "/openapi.json", "/openapi.json", Anyone),
        row("GET", "/metrics", "/metrics", admin),
        row("GET", "/v1/stats", "/v1/stats", admin),
        row("POST", "/v1/backup", "/v1/backup", admin),
        row("POST", "/v1/admin/tune", "/v1/admin/tune", admin),
        row("POST", "/v1/admin/categories", "/v1/admin/categories", admin),
        with_body(
            "POST",
            "/retrieval",
            "/retrieval",
            r#"{"knowledge_id":"gridkb","query":"通道告警","retrieval_setting":{"top_k":3,"score_threshold":0.0}}"#,
            reader,
        ),
        row("GET", "/v1/search", SEARCH, reader),
        with_body("POST", "/v1/search", "/v1/search", r#"{"q":"通道告警"}"#, reader),
        with_body("POST", "/v1/retrieve", "/v1/retrieve", r#"{"query":"通道告警"}"#, reader),
        with_body("POST", "/v1/tickets/match", "/v1/tickets/match", r#"{"text":"保护装置通道告警"}"#, reader),
        row("GET", "/v1/devices/{serial}", "/v1/devices/GKB2303A00001", reader),
        row("GET", "/v1/warranties/expiring", "/v1/warranties/expiring", reader),
        row("GET", "/v1/me", "/v1/me", reader),
        row("GET", "/v1/items/{id}", "/v1/items/kb-tp-ev-offline", reader),
        row("GET", "/v1/sparql", SPARQL, editor),
        Row {
            method: "POST",
            template: "/v1/sparql",
            path: "/v1/sparql",
            body: Some(("application/sparql-query", "ASK { ?s ?p ?o }")),
            needs: editor,
        },
        row("GET", "/v1/items/stale", "/v1/items/stale", editor),
        row("GET", "/v1/items", "/v1/items", editor),
        with_body("POST", "/v1/items", "/v1/items", draft, editor),
        with_body("POST", "/v1/items/check", "/v1/items/check", draft, editor),
        with_body("PUT", "/v1/items/{id}", "/v1/items/kb-tp-ev-offline", draft, editor),
        row("GET", "/v1/items/{id}/diff", "/v1/items/kb-tp-ev-offline/diff?from=1&to=1", editor),
        row("GET", "/v1/items/{id}/versions", "/v1/items/kb-tp-ev-offline/versions", editor),
        row("GET", "/v1/items/{id}/versions/{version}", "/v1/items/kb-tp-ev-offline/versions/1", editor),
        row("POST", "/v1/items/{id}/{action}", "/v1/items/kb-no-such-item/submit", editor),
        row("POST", "/v1/items/{id}/{action}", "/v1/items/kb-no-such-item/approve", reviewer),
        row("POST", "/v1/items/{id}/{action}", "/v1/items/kb-no-such-item/retire", reviewer),
        row("GET", "/v1/audit", "/v1/audit", reviewer),
        with_body("POST", "/v1/import", "/v1/import", "{}", editor),
        row("GET", "/v1/tasks/{id}", "/v1/tasks/no-such-task", editor),
        row("GET", "/v1/entities", "/v1/entities", editor),
        with_body("POST", "/v1/entities", "/v1/entities", "{}", editor),
        row("GET", "/v1/entities/{id}", "/v1/entities/f-no-such", editor),
        with_body("PUT", "/v1/entities/{id}", "/v1/entities/f-no-such", "{}", editor),
        row("GET", "/v1/entities/{id}/versions", "/v1/entities/f-no-such/versions", editor),
        with_body(
            "POST",
            "/v1/feedback",
            "/v1/feedback",
            r#"{"request_id":"0123456789abcdef01234567","verdict":"helpful"}"#,
            reader,
        ),
        row("GET", "/v1/tasks/knowledge", "/v1/tasks/knowledge", editor),
        with_body("POST", "/v1/tasks/knowledge/{id}", "/v1/tasks/knowledge/gap-nope", r#"{"status":"done"}"#, editor),
        row("GET", "/v1/analytics/hot-issues", "/v1/analytics/hot-issues", manager),
        row("GET", "/v1/analytics/gaps", "/v1/analytics/gaps", manager),
        row("GET", "/v1/analytics/recurring-faults", "/v1/analytics/recurring-faults", manager),
        row("GET", "/v1/analytics/categories", "/v1/analytics/categories", manager),
        row("GET", "/v1/analytics/zero-results", "/v1/analytics/zero-results", manager),
        row("GET", "/v1/analytics/feedback", "/v1/analytics/feedback", manager),
        row("GET", "/v1/analytics/warranties", "/v1/analytics/warranties", manager),
        row("GET", "/v1/analytics/complaint-risk", "/v1/analytics/complaint-risk", manager),
        row("GET", "/v1/customers/tag-proposals", "/v1/customers/tag-proposals", manager),
        with_body(
            "POST",
            "/v1/customers/{id}/tags",
            "/v1/customers/cust-no-such/tags",
            r#"{"tag":"情绪化","decision":"reject"}"#,
            manager,
        ),
    ]
}

async fn call(server: &Server, row: &Row, key: Option<&str>) -> (StatusCode, Value) {
    let method = reqwest::Method::from_bytes(row.method.as_bytes()).expect("method");
    let mut request = reqwest::Client::new().request(method, server.url(row.path));
    if let Some((content_type, body)) = row.body {
        request = request.header("content-type", content_type).body(body);
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// What `caller` must get from `row`: `Ok(())` when let through (any answer but a refusal of the
/// key), else the status and code (or Dify error code) of the refusal.
fn check(row: &Row, caller: Caller, status: StatusCode, body: &Value) -> Result<(), String> {
    let dify = row.path == "/retrieval";
    let allowed = match (row.needs, caller) {
        (Needs::Anyone, _) => true,
        (Needs::AtLeast(needed), Caller::Key(role)) => role.allows(needed),
        (Needs::AtLeast(_), Caller::Revoked | Caller::NoKey | Caller::CorruptFile) => false,
    };
    let refused_key = matches!(body["code"].as_str(), Some("unauthorized" | "forbidden" | "out_of_scope"))
        || body["error_code"].is_number()
        || status == StatusCode::INTERNAL_SERVER_ERROR;
    if allowed {
        return if refused_key { Err(format!("let through expected, got {status} {body}")) } else { Ok(()) };
    }
    let (want_status, want_code): (StatusCode, Value) = match caller {
        Caller::Key(_) if dify => (StatusCode::FORBIDDEN, 1002.into()),
        Caller::Key(_) => (StatusCode::FORBIDDEN, "forbidden".into()),
        Caller::Revoked if dify => (StatusCode::UNAUTHORIZED, 1002.into()),
        Caller::NoKey if dify => (StatusCode::UNAUTHORIZED, 1001.into()),
        Caller::Revoked | Caller::NoKey => (StatusCode::UNAUTHORIZED, "unauthorized".into()),
        Caller::CorruptFile if dify => (StatusCode::INTERNAL_SERVER_ERROR, 1002.into()),
        Caller::CorruptFile => (StatusCode::INTERNAL_SERVER_ERROR, "internal".into()),
    };
    let code = if dify { &body["error_code"] } else { &body["code"] };
    // An editor's key on a reviewer's action is refused by the lifecycle, also with 403.
    let lifecycle = matches!(caller, Caller::Key(_)) && code == "out_of_scope";
    if status == want_status && (*code == want_code || lifecycle) {
        Ok(())
    } else {
        Err(format!("{want_status} {want_code} expected, got {status} {body}"))
    }
}

#[tokio::test]
async fn every_route_answers_every_role_as_the_table_says() {
    let roles = [Role::Agent, Role::Bot, Role::Manager, Role::Editor, Role::Reviewer, Role::Admin, Role::Agent];
    let (server, keys) = start(&roles, false).await;
    let revoked_key = keys[6].clone();
    let revoked_id = keys::list(server.data()).expect("list")[6].id.clone();
    keys::revoke(server.data(), &revoked_id).expect("revoke");
    wait_for(&server, SEARCH, &revoked_key, StatusCode::UNAUTHORIZED).await;

    // The table covers every operation of the API (and only those).
    let (status, document) = get(&server.url("/openapi.json"), None).await;
    assert_eq!(status, StatusCode::OK);
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, operations) in document["paths"].as_object().expect("paths") {
        for method in operations.as_object().expect("operations").keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    documented.sort();
    let rows = matrix();
    let mut tabled: Vec<(String, String)> =
        rows.iter().map(|r| (r.method.to_string(), r.template.to_string())).collect();
    tabled.sort();
    tabled.dedup();
    assert_eq!(tabled, documented, "every documented route needs a row in the role matrix");

    let mut callers: Vec<(Caller, Option<&str>)> =
        roles[..6].iter().zip(&keys).map(|(role, key)| (Caller::Key(*role), Some(key.as_str()))).collect();
    callers.push((Caller::Revoked, Some(&revoked_key)));
    callers.push((Caller::NoKey, None));
    let mut failures = Vec::new();
    for row in &rows {
        for (caller, key) in &callers {
            let (status, body) = call(&server, row, *key).await;
            if let Err(why) = check(row, *caller, status, &body) {
                failures.push(format!("{} {} as {caller:?}: {why}", row.method, row.path));
            }
        }
    }

    // A corrupt key file: every key is refused (500, fail closed) on every protected route.
    std::fs::write(keys::keys_path(server.data()), b"{\"format\": ").expect("corrupt");
    wait_for(&server, SEARCH, &keys[4], StatusCode::INTERNAL_SERVER_ERROR).await;
    for row in &rows {
        for key in &keys[..5] {
            let (status, body) = call(&server, row, Some(key)).await;
            if let Err(why) = check(row, Caller::CorruptFile, status, &body) {
                failures.push(format!("{} {} with a corrupt key file: {why}", row.method, row.path));
            }
        }
    }
    assert!(failures.is_empty(), "{} cells differ from the table:\n{}", failures.len(), failures.join("\n"));
}

/// With keys, the API answers whatever `Host` it is reached by (the keys protect it); the
/// loopback-only rule is for the open API.
#[tokio::test]
async fn with_keys_any_host_name_is_served() {
    let (server, keys) = start(&[Role::Agent], false).await;
    let response = reqwest::Client::new()
        .get(server.url(SEARCH))
        .header("host", "gridkb.example.internal")
        .bearer_auth(&keys[0])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let (open, _) = start(&[], true).await;
    let response = reqwest::Client::new()
        .get(open.url(SEARCH))
        .header("host", "gridkb.example.internal")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST);
}

/// A customer's tag proposals are seen and decided only within the customer's organisation: a
/// manager of another unit neither lists nor confirms them; an admin does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_tag_proposals_stay_within_the_keys_organisation() {
    let (server, keys) = start(&[Role::Admin], false).await;
    let elsewhere = keys::create(server.data(), Role::Manager, Some("org-elsewhere"), Some("test"), &Limits::default())
        .expect("key")
        .key;
    wait_for(&server, "/v1/customers/tag-proposals", &elsewhere, StatusCode::OK).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("customer.jsonl");
    std::fs::write(
        &path,
        r#"{"class":"Customer","id":"cust-scope","label":"范围测试公司","attrs":{"type":"工业企业"}}"#,
    )
    .expect("write");
    let engine = server._engine.clone();
    tokio::task::spawn_blocking(move || {
        let batch = ingest::read_paths(&[path]).expect("records");
        let records: Vec<_> = batch.records.into_iter().map(|(_, r)| r).collect();
        engine.ingest(&records, "test", &|_| {}).expect("ingest");
    })
    .await
    .expect("ingest");
    let send = |path: &str, key: &str, body: Value| {
        reqwest::Client::new().post(server.url(path)).bearer_auth(key).json(&body).send()
    };
    for text in ["通道告警又来了，再不解决就投诉！！", "还是通道告警，太差了"] {
        let response =
            send("/v1/tickets/match", &keys[0], serde_json::json!({"text": text, "customer_id": "cust-scope"}))
                .await
                .expect("ticket");
        assert_eq!(response.status(), StatusCode::OK);
    }
    let (status, all) = get(&server.url("/v1/customers/tag-proposals?customer=cust-scope"), Some(&keys[0])).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert!(all["items"].as_array().unwrap().iter().any(|p| p["tag"] == "情绪化"), "the admin sees it: {all}");
    let (status, none) = get(&server.url("/v1/customers/tag-proposals"), Some(&elsewhere)).await;
    assert_eq!((status, none["total"].as_u64()), (StatusCode::OK, Some(0)), "{none}");
    let decision = serde_json::json!({"tag": "情绪化", "decision": "confirm"});
    let refused = send("/v1/customers/cust-scope/tags", &elsewhere, decision.clone()).await.expect("decide");
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let (status, risk) = get(&server.url("/v1/analytics/complaint-risk"), Some(&elsewhere)).await;
    assert_eq!((status, risk["total"].as_u64()), (StatusCode::OK, Some(0)), "{risk}");
    let confirmed = send("/v1/customers/cust-scope/tags", &keys[0], decision).await.expect("decide");
    assert_eq!(confirmed.status(), StatusCode::OK);
}
