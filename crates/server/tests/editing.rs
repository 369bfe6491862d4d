//! The editors' workspace on a real server over loopback: the whole lifecycle, optimistic
//! concurrency, four-eyes, organisation scope for each role and level, readers who never see a
//! draft, versions, diffs, the audit trail, and the same state after a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use search::{Engine, EngineOptions, Limits};
use serde_json::{Value, json};
use server::auth::Role;
use server::keys::{self, KeyStore};

struct Server {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server and waits until it has let go of the engine.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
    }
}

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    vec![root.join("mini.jsonl"), root.join("orgs.jsonl")]
}

async fn open_engine(data: &Path, ingest: bool) -> Arc<Engine> {
    let data = data.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let engine =
            Engine::open(EngineOptions { data_dir: data, ..EngineOptions::default() }, &|_| {}).expect("engine");
        if ingest {
            let batch = ingest::read_paths(&fixtures()).expect("fixture");
            let records: Vec<_> = batch.records.into_iter().map(|(_, r)| r).collect();
            engine.ingest(&records, "test", &|_| {}).expect("ingest");
        }
        Arc::new(engine)
    })
    .await
    .expect("loader")
}

async fn serve(data: &Path, engine: Arc<Engine>) -> Server {
    let store = KeyStore::open(data).expect("key store");
    let state = server::AppState::new(Limits::default()).with_keys(store, false);
    state.set_engine(engine);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = server::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
    });
    Server { base, stop: Some(stop), task: Some(task) }
}

struct Answer {
    status: StatusCode,
    etag: Option<String>,
    body: Value,
}

async fn call(method: Method, url: &str, key: &str, body: Option<Value>, if_match: Option<&str>) -> Answer {
    let mut request = reqwest::Client::new().request(method, url).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
    Answer { status, etag, body: response.json().await.unwrap_or(Value::Null) }
}

async fn get(url: &str, key: &str) -> Answer {
    call(Method::GET, url, key, None, None).await
}

fn hit_ids(search: &Value) -> Vec<String> {
    search["hits"].as_array().into_iter().flatten().filter_map(|h| h["id"].as_str().map(str::to_string)).collect()
}

struct Keys {
    editor: String,
    editor2: String,
    editor_county: String,
    editor_no_org: String,
    reviewer: String,
    reviewer_p02: String,
    admin: String,
    agent: String,
    bot: String,
}

fn create_keys(data: &Path) -> Keys {
    let key = |role, org: Option<&str>, note: &str| {
        keys::create(data, role, org, Some(note), &Limits::default()).expect("key").key
    };
    Keys {
        editor: key(Role::Editor, Some("org-p01-c01"), "city editor"),
        editor2: key(Role::Editor, Some("org-p01-c01"), "second city editor"),
        editor_county: key(Role::Editor, Some("org-p01-c01-x01"), "county editor"),
        editor_no_org: key(Role::Editor, None, "editor without org"),
        reviewer: key(Role::Reviewer, Some("org-p01"), "province reviewer"),
        reviewer_p02: key(Role::Reviewer, Some("org-p02"), "other province reviewer"),
        admin: key(Role::Admin, None, "admin"),
        agent: key(Role::Agent, None, "agent"),
        bot: key(Role::Bot, None, "bot"),
    }
}

fn draft(title: &str, body: &str) -> Value {
    json!({
        "id": "kb-new-channel",
        "kind": "technical_point",
        "title": title,
        "body": body,
        "products": ["pm-gkb-931a"],
        "faults": ["f-channel"],
        "review_by": "2020-01-01"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editors_workspace_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = create_keys(dir.path());
    let engine = open_engine(dir.path(), true).await;
    let server = serve(dir.path(), engine.clone()).await;
    let item_url = server.url("/v1/items/kb-new-channel");
    let search_for = |word: &str| server.url(&format!("/v1/search?q={word}&retrievers=lexical&limit=20"));

    // Who am I: the console reads the role and organisation from here.
    let me = get(&server.url("/v1/me"), &keys.editor).await;
    assert_eq!(
        (me.status, me.body["role"].as_str(), me.body["org"].as_str()),
        (StatusCode::OK, Some("editor"), Some("org-p01-c01"))
    );

    // Create: a draft owned by the editor's organisation by default, invisible to readers.
    let created = call(
        Method::POST,
        &server.url("/v1/items"),
        &keys.editor,
        Some(draft("光纤尾纤弯折导致的通道告警", "检查尾纤弯曲半径。")),
        None,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.etag.as_deref(), Some("\"1\""));
    assert_eq!(created.body["item"]["status"], "draft");
    assert_eq!(created.body["item"]["record"]["owner"], "测试琰宁服务站");
    assert_eq!(created.body["item"]["record"]["owner_level"], "city");
    assert_eq!(created.body["item"]["overdue"], true);
    assert_eq!(created.body["item"]["links"]["products"][0]["label"], "GKB-931A 超高压线路保护装置");
    assert_eq!(created.body["audit"]["action"], "create");
    let again = call(Method::POST, &server.url("/v1/items"), &keys.editor, Some(draft("x", "y")), None).await;
    assert_eq!((again.status, again.body["code"].as_str()), (StatusCode::CONFLICT, Some("already_exists")));
    for reader in [&keys.agent, &keys.bot] {
        assert_eq!(get(&item_url, reader).await.status, StatusCode::NOT_FOUND, "a reader never sees a draft");
        assert!(!hit_ids(&get(&search_for("尾纤弯曲半径"), reader).await.body).contains(&"kb-new-channel".to_string()));
        let drafts = get(&server.url("/v1/search?q=尾纤&status=draft"), reader).await;
        assert_eq!(drafts.status, StatusCode::FORBIDDEN, "a reader may not ask for drafts");
        let retrieve = call(
            Method::POST,
            &server.url("/v1/retrieve"),
            reader,
            Some(json!({"query": "尾纤", "filters": {"status": ["draft"]}})),
            None,
        )
        .await;
        assert_eq!(retrieve.status, StatusCode::FORBIDDEN);
        assert_eq!(get(&server.url("/v1/items"), reader).await.status, StatusCode::FORBIDDEN);
        let sparql = get(&server.url("/v1/sparql?query=SELECT%20*%20WHERE%20%7B%3Fs%20%3Fp%20%3Fo%7D"), reader).await;
        assert_eq!(sparql.status, StatusCode::FORBIDDEN, "SPARQL is for editors");
        let dify = call(
            Method::POST,
            &server.url("/retrieval"),
            reader,
            Some(json!({"knowledge_id": "default", "query": "尾纤弯曲半径", "retrieval_setting": {"top_k": 20, "score_threshold": 0.0}})),
            None,
        )
        .await;
        assert_eq!(dify.status, StatusCode::OK, "{}", dify.body);
        assert!(!dify.body.to_string().contains("kb-new-channel"), "Dify never sees a draft: {}", dify.body);
        let ticket = call(
            Method::POST,
            &server.url("/v1/tickets/match"),
            reader,
            Some(json!({"text": "保护装置通道告警，检查尾纤弯曲半径"})),
            None,
        )
        .await;
        assert_eq!(ticket.status, StatusCode::OK, "{}", ticket.body);
        assert!(!ticket.body.to_string().contains("kb-new-channel"), "ticket matching never offers a draft");
    }
    let listed = get(&server.url("/v1/items?status=draft&owner=org-p01&subunits=true"), &keys.editor).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let listed_ids: Vec<&str> =
        listed.body["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_str()).collect();
    assert!(listed_ids.contains(&"kb-new-channel"), "{listed_ids:?}");
    let overdue = get(&server.url("/v1/items?overdue=true"), &keys.editor).await;
    assert_eq!(overdue.body["total"], 1);
    assert_eq!(overdue.body["items"][0]["id"], "kb-new-channel");

    // Duplicate warnings while writing: for unsaved text, and with every save.
    let original = get(&server.url("/v1/items/kb-tp-channel"), &keys.editor).await.body["record"].clone();
    let unsaved = json!({"kind": "technical_point", "title": original["title"], "body": original["body"],
        "products": original["products"], "faults": original["faults"]});
    let check = call(Method::POST, &server.url("/v1/items/check"), &keys.editor, Some(unsaved), None).await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.body);
    assert_eq!(check.body["possible_duplicates"][0]["id"], "kb-tp-channel", "{}", check.body);
    assert!(check.body["possible_duplicates"][0]["why"].as_array().is_some_and(|why| !why.is_empty()));
    let copy = json!({"id": "kb-copy", "kind": "technical_point", "title": original["title"],
        "body": original["body"], "products": original["products"], "faults": original["faults"]});
    let saved_copy = call(Method::POST, &server.url("/v1/items"), &keys.editor, Some(copy), None).await;
    assert_eq!(saved_copy.status, StatusCode::CREATED, "{}", saved_copy.body);
    assert_eq!(saved_copy.body["possible_duplicates"][0]["id"], "kb-tp-channel");
    assert_eq!(created.body["possible_duplicates"].as_array().map(Vec::len), Some(0), "an original text has none");
    let reserved = call(
        Method::POST,
        &server.url("/v1/items"),
        &keys.editor,
        Some(json!({"id": "check",
        "kind": "technical_point", "title": "t", "body": "b"})),
        None,
    )
    .await;
    assert_eq!(reserved.body["field"], "id");

    // Validation names the field; nothing is written.
    let mut bad = draft("标题", "正文");
    bad["id"] = json!("kb-bad-links");
    bad["products"] = json!(["pm-gkb-931a", "no-such-model"]);
    let refused = call(Method::POST, &server.url("/v1/items"), &keys.editor, Some(bad), None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert_eq!(refused.body["field"], "products[1]");
    assert_eq!(get(&server.url("/v1/items/kb-bad-links"), &keys.admin).await.status, StatusCode::NOT_FOUND);

    // Scope: no organisation, another province, a county editor on a city item, a reader.
    let submit_url = server.url("/v1/items/kb-new-channel/submit");
    let approve_url = server.url("/v1/items/kb-new-channel/approve");
    for (key, code) in
        [(&keys.editor_no_org, "out_of_scope"), (&keys.editor_county, "out_of_scope"), (&keys.agent, "forbidden")]
    {
        let answer = call(Method::POST, &submit_url, key, None, None).await;
        assert_eq!(
            (answer.status, answer.body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some(code)),
            "{}",
            answer.body
        );
    }
    let mut foreign = draft("别省的条目", "正文");
    foreign["id"] = json!("kb-foreign");
    foreign["owner"] = json!("org-p02");
    let foreign = call(Method::POST, &server.url("/v1/items"), &keys.editor, Some(foreign), None).await;
    assert_eq!(foreign.body["code"], "out_of_scope");

    // Submit, then approve: an editor may not approve, the other province may not, the
    // province's reviewer may.
    let submitted = call(Method::POST, &submit_url, &keys.editor, None, Some("\"1\"")).await;
    assert_eq!((submitted.status, submitted.body["item"]["status"].as_str()), (StatusCode::OK, Some("review")));
    assert_eq!(call(Method::POST, &approve_url, &keys.editor, None, None).await.body["code"], "out_of_scope");
    assert_eq!(call(Method::POST, &approve_url, &keys.reviewer_p02, None, None).await.body["code"], "out_of_scope");
    let approved = call(Method::POST, &approve_url, &keys.reviewer, None, None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(
        (approved.body["item"]["status"].as_str(), approved.etag.as_deref()),
        (Some("published"), Some("\"3\""))
    );
    // Approved means searchable by agents and bots at once.
    assert!(hit_ids(&get(&search_for("尾纤弯曲半径"), &keys.agent).await.body).contains(&"kb-new-channel".to_string()));
    assert_eq!(get(&item_url, &keys.bot).await.body["record"]["title"], "光纤尾纤弯折导致的通道告警");
    // The same query that could not find the draft finds the published item through Dify:
    // the check above could fail.
    let dify = call(
        Method::POST,
        &server.url("/retrieval"),
        &keys.bot,
        Some(json!({"knowledge_id": "default", "query": "尾纤弯曲半径", "retrieval_setting": {"top_k": 20, "score_threshold": 0.0}})),
        None,
    )
    .await;
    assert!(dify.body.to_string().contains("kb-new-channel"), "{}", dify.body);

    // Editing a published item: a new draft; the published version keeps serving.
    let edited = call(
        Method::PUT,
        &item_url,
        &keys.editor,
        Some(draft("光纤尾纤弯折或污染导致的通道告警", "检查尾纤弯曲半径。\n用酒精棉清洁法兰端面。")),
        Some("\"3\""),
    )
    .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(
        (edited.body["item"]["status"].as_str(), edited.body["item"]["published_version"].as_u64()),
        (Some("draft"), Some(3))
    );
    let served = get(&item_url, &keys.agent).await;
    assert_eq!(
        (served.body["record"]["title"].as_str(), served.etag.as_deref()),
        (Some("光纤尾纤弯折导致的通道告警"), Some("\"3\""))
    );
    assert!(!hit_ids(&get(&search_for("法兰端面"), &keys.agent).await.body).contains(&"kb-new-channel".to_string()));

    // Two editors save the same version: one wins, the other is told who saved what.
    let no_if_match = call(Method::PUT, &item_url, &keys.editor, Some(draft("a", "b")), None).await;
    assert_eq!(
        (no_if_match.status, no_if_match.body["code"].as_str()),
        (StatusCode::PRECONDITION_REQUIRED, Some("precondition_required"))
    );
    let first = call(Method::PUT, &item_url, &keys.editor, Some(draft("版本甲", "甲的正文")), Some("\"4\"")).await;
    let second = call(Method::PUT, &item_url, &keys.editor2, Some(draft("版本乙", "乙的正文")), Some("\"4\"")).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!((second.status, second.body["code"].as_str()), (StatusCode::CONFLICT, Some("version_conflict")));
    assert_eq!(
        (second.body["current_version"].as_u64(), second.body["saved_by"].as_str()),
        (Some(5), Some("city editor"))
    );
    let head = get(&item_url, &keys.editor).await;
    assert_eq!((head.body["record"]["title"].as_str(), head.etag.as_deref()), (Some("版本甲"), Some("\"5\"")));

    // Four-eyes: the reviewer who wrote the last version may not approve it.
    let by_reviewer = call(
        Method::PUT,
        &item_url,
        &keys.reviewer,
        Some(draft("审核员改写的标题", "审核员改写的正文")),
        Some("\"5\""),
    )
    .await;
    assert_eq!(by_reviewer.status, StatusCode::OK, "{}", by_reviewer.body);
    assert_eq!(call(Method::POST, &submit_url, &keys.reviewer, None, None).await.status, StatusCode::OK);
    let own = call(Method::POST, &approve_url, &keys.reviewer, None, None).await;
    assert_eq!((own.status, own.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("four_eyes")));
    // A rejection needs a reason; with one the item goes back to draft.
    let reject_url = server.url("/v1/items/kb-new-channel/reject");
    let bare = call(Method::POST, &reject_url, &keys.admin, Some(json!({})), None).await;
    assert_eq!((bare.status, bare.body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")));
    let rejected =
        call(Method::POST, &reject_url, &keys.admin, Some(json!({"reason": "步骤缺少安全措施"})), None).await;
    assert_eq!(rejected.body["item"]["status"], "draft");
    assert_eq!(
        call(Method::POST, &server.url("/v1/items/kb-new-channel/publish"), &keys.admin, None, None).await.status,
        StatusCode::NOT_FOUND
    );

    // Versions and diffs.
    let versions = get(&server.url("/v1/items/kb-new-channel/versions"), &keys.editor).await;
    let actions: Vec<&str> =
        versions.body["versions"].as_array().expect("versions").iter().filter_map(|v| v["action"].as_str()).collect();
    assert_eq!(actions, ["create", "submit", "approve", "update", "update", "update", "submit", "reject"]);
    let diff = get(&server.url("/v1/items/kb-new-channel/diff?from=3&to=5"), &keys.editor).await;
    let fields: Vec<&str> =
        diff.body["fields"].as_array().expect("fields").iter().filter_map(|f| f["field"].as_str()).collect();
    assert_eq!(fields, ["status", "title"]);
    assert!(diff.body["body"].as_array().expect("body").iter().any(|l| l["op"] == "insert" && l["text"] == "甲的正文"));
    assert_eq!(get(&server.url("/v1/items/kb-new-channel/versions/3"), &keys.editor).await.body["status"], "published");
    assert_eq!(
        get(&server.url("/v1/items/kb-new-channel/versions/99"), &keys.editor).await.status,
        StatusCode::NOT_FOUND
    );

    // Retire and restore: agents lose and regain the published version.
    let retired = call(Method::POST, &server.url("/v1/items/kb-new-channel/retire"), &keys.reviewer, None, None).await;
    assert_eq!(retired.status, StatusCode::OK, "{}", retired.body);
    assert_eq!(get(&item_url, &keys.agent).await.status, StatusCode::NOT_FOUND);
    assert!(
        !hit_ids(&get(&search_for("尾纤弯曲半径"), &keys.agent).await.body).contains(&"kb-new-channel".to_string())
    );
    let restored =
        call(Method::POST, &server.url("/v1/items/kb-new-channel/restore"), &keys.reviewer, None, None).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.body);
    assert_eq!(get(&item_url, &keys.agent).await.body["record"]["status"], "published");

    // The audit trail: every action, with actor, role, organisation and versions.
    assert_eq!(get(&server.url("/v1/audit"), &keys.editor).await.status, StatusCode::FORBIDDEN);
    let audit = get(&server.url("/v1/audit?item=kb-new-channel&limit=100"), &keys.reviewer).await;
    let entries = audit.body["entries"].as_array().expect("entries");
    let audited: Vec<&str> = entries.iter().rev().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        audited,
        ["create", "submit", "approve", "update", "update", "update", "submit", "reject", "retire", "restore"]
    );
    let approve_entry = entries.iter().find(|e| e["action"] == "approve").expect("approve entry");
    assert_eq!(approve_entry["actor"]["name"], "province reviewer");
    assert_eq!(
        (approve_entry["actor"]["role"].as_str(), approve_entry["actor"]["org"].as_str()),
        (Some("reviewer"), Some("org-p01"))
    );
    assert_eq!((approve_entry["from_version"].as_u64(), approve_entry["to_version"].as_u64()), (Some(2), Some(3)));
    let reject_entry = entries.iter().find(|e| e["action"] == "reject").expect("reject entry");
    assert_eq!(reject_entry["reason"], "步骤缺少安全措施");
    let by_actor = get(&server.url("/v1/audit?actor=second%20city%20editor"), &keys.admin).await;
    assert_eq!(by_actor.body["entries"].as_array().map(Vec::len), Some(0), "the refused save left no trace");

    // Everything is the same after a restart.
    let before = get(&item_url, &keys.editor).await.body;
    let audit_before = audit.body.clone();
    server.stop().await;
    drop(engine);
    let engine = open_engine(dir.path(), false).await;
    let server = serve(dir.path(), engine.clone()).await;
    assert_eq!(get(&server.url("/v1/items/kb-new-channel"), &keys.editor).await.body, before);
    assert_eq!(get(&server.url("/v1/audit?item=kb-new-channel&limit=100"), &keys.reviewer).await.body, audit_before);
    assert!(
        hit_ids(&get(&server.url("/v1/search?q=尾纤弯曲半径&retrievers=lexical"), &keys.agent).await.body)
            .contains(&"kb-new-channel".to_string())
    );
    server.stop().await;
}

fn linked_ids(answer: &Value) -> Vec<String> {
    answer["linked"].as_array().into_iter().flatten().filter_map(|l| l["id"].as_str().map(str::to_string)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_edits_are_live_at_once_and_checked_against_the_ontology() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = create_keys(dir.path());
    let engine = open_engine(dir.path(), true).await;
    let server = serve(dir.path(), engine.clone()).await;
    let entity_url = server.url("/v1/entities/f-channel");

    // Autocomplete for links: labels that start with the words first.
    let found = get(&server.url("/v1/entities?class=Fault&q=纵联"), &keys.editor).await;
    assert_eq!(found.body["entities"][0]["id"], "f-channel", "{}", found.body);
    assert_eq!(get(&server.url("/v1/entities?q=纵联"), &keys.agent).await.status, StatusCode::FORBIDDEN);
    let read = get(&entity_url, &keys.editor).await;
    assert_eq!((read.status, read.etag.as_deref()), (StatusCode::OK, Some("\"1\"")));
    assert_eq!(read.body["links"]["product"][0]["label"], "GKB-931A 超高压线路保护装置");

    // A new alias is linked in the very next ticket.
    let ticket = json!({"text": "站里保护屏上的尾纤灯一直闪，怎么处理"});
    let before = call(Method::POST, &server.url("/v1/tickets/match"), &keys.agent, Some(ticket.clone()), None).await;
    assert!(!linked_ids(&before.body).contains(&"f-channel".to_string()), "{}", before.body);
    let mut entity = read.body["record"].clone();
    entity.as_object_mut().expect("object").remove("version");
    entity["aliases"].as_array_mut().expect("aliases").push(json!("尾纤灯一直闪"));
    let updated = call(Method::PUT, &entity_url, &keys.editor, Some(entity.clone()), Some("\"1\"")).await;
    assert_eq!((updated.status, updated.etag.as_deref()), (StatusCode::OK, Some("\"2\"")), "{}", updated.body);
    let after = call(Method::POST, &server.url("/v1/tickets/match"), &keys.agent, Some(ticket), None).await;
    assert!(linked_ids(&after.body).contains(&"f-channel".to_string()), "{}", after.body);
    let stale = call(Method::PUT, &entity_url, &keys.editor2, Some(entity.clone()), Some("\"1\"")).await;
    assert_eq!((stale.status, stale.body["current_version"].as_u64()), (StatusCode::CONFLICT, Some(2)));

    // The ontology decides the relations and what they may point at.
    let mut bad = entity.clone();
    bad["links"] = json!({"made_of": ["pm-gkb-931a"]});
    let refused = call(Method::PUT, &entity_url, &keys.editor, Some(bad), Some("\"2\"")).await;
    assert_eq!(
        (refused.status, refused.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("links.made_of"))
    );
    let model = json!({"id": "pm-new", "class": "ProductModel", "label": "GKB-999 测试型号", "links": {"line": ["f-ct-break"]}});
    let wrong_range = call(Method::POST, &server.url("/v1/entities"), &keys.editor, Some(model), None).await;
    assert_eq!(wrong_range.body["field"], "links.line[0]", "{}", wrong_range.body);
    let model = json!({"id": "pm-new", "class": "ProductModel", "label": "GKB-999 测试型号", "aliases": ["999保护"], "links": {"line": ["pl-line-prot"]}});
    let created = call(Method::POST, &server.url("/v1/entities"), &keys.editor, Some(model), None).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    // The organisation tree decides scopes: only an admin changes it.
    let org = json!({"id": "org-p03", "class": "Organisation", "label": "新省", "links": {"parent": ["org-hq"]}});
    let by_editor = call(Method::POST, &server.url("/v1/entities"), &keys.reviewer, Some(org.clone()), None).await;
    assert_eq!(by_editor.body["code"], "out_of_scope");
    assert_eq!(
        call(Method::POST, &server.url("/v1/entities"), &keys.admin, Some(org), None).await.status,
        StatusCode::CREATED
    );

    let audit = get(&server.url("/v1/audit?item=f-channel"), &keys.admin).await;
    assert_eq!(audit.body["entries"][0]["action"], "update");
    assert_eq!(audit.body["entries"][0]["actor"]["name"], "city editor");
    let versions = get(&server.url("/v1/entities/f-channel/versions"), &keys.editor).await;
    assert_eq!(versions.body["versions"].as_array().map(Vec::len), Some(2));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_import_lands_as_drafts_and_reports_every_rejection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = create_keys(dir.path());
    let engine = open_engine(dir.path(), true).await;
    let server = serve(dir.path(), engine.clone()).await;
    let upload = [
        r#"{"id":"kb-imp-1","kind":"technical_point","title":"导入的巡检要点","body":"核对误码计数。","products":["pm-gkb-931a"]}"#,
        r#"{"id":"kb-imp-2","kind":"technical_point","title":"字段拼错","body":"正文","titel":"x"}"#,
        r#"{"id":"kb-imp-3","kind":"technical_point","title":"链接错误","body":"正文","products":["no-such-model"]}"#,
        "not json",
    ]
    .join("\n");
    let send = |key: &str, query: &str| {
        reqwest::Client::new()
            .post(server.url(&format!("/v1/import?{query}")))
            .bearer_auth(key)
            .body(upload.clone())
            .send()
    };
    assert_eq!(send(&keys.agent, "name=a.jsonl").await.expect("send").status(), StatusCode::FORBIDDEN);
    assert_eq!(send(&keys.editor, "name=a.jsonl&publish=true").await.expect("send").status(), StatusCode::FORBIDDEN);
    assert_eq!(send(&keys.editor, "name=a.doc").await.expect("send").status(), StatusCode::BAD_REQUEST);
    let started = send(&keys.editor, "name=items.jsonl").await.expect("send");
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let started: Value = started.json().await.expect("json");
    let task_url = server.url(&format!("/v1/tasks/{}", started["task"]["id"].as_str().expect("id")));
    // Wait for the task to end (a guard of two minutes only a task that never ends reaches).
    let waiting = std::time::Instant::now();
    let mut task = get(&task_url, &keys.editor).await.body;
    while task["state"] == "running" {
        assert!(waiting.elapsed() < std::time::Duration::from_secs(120), "the import never ended: {task}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        task = get(&task_url, &keys.editor).await.body;
    }
    assert_eq!(task["state"], "done", "{task}");
    assert_eq!(task["report"]["created"], 1, "{task}");
    assert_eq!(task["rejected"], 2, "the misspelt field and the line that is not JSON: {task}");
    assert!(
        task["rejections"]
            .as_array()
            .expect("rejections")
            .iter()
            .all(|r| r["at"].as_str().is_some_and(|a| a.contains("items.jsonl")))
    );
    assert_eq!(task["report"]["refused"][0]["id"], "kb-imp-3");
    // Imported items are drafts: editors see them, agents do not.
    let imported = get(&server.url("/v1/items/kb-imp-1"), &keys.editor).await;
    assert_eq!(imported.body["status"], "draft");
    assert_eq!(get(&server.url("/v1/items/kb-imp-1"), &keys.agent).await.status, StatusCode::NOT_FOUND);
    let audit = get(&server.url("/v1/audit?item=kb-imp-1"), &keys.admin).await;
    assert_eq!(audit.body["entries"][0]["actor"]["name"], "city editor");
    assert_eq!(get(&server.url("/v1/tasks/t_0"), &keys.editor).await.status, StatusCode::NOT_FOUND);
    server.stop().await;
}
