//! The OpenAPI document against the code: every route the server registers is documented with the
//! same methods and every documented operation is served; the committed `docs/openapi.json` is the
//! generated document; the schema-only mirrors of other crates' types match real values.
//!
//! Regenerate the committed document with
//! `GRIDKB_UPDATE_OPENAPI=1 cargo test --release -p server --test openapi`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::start;
use reqwest::{Method, StatusCode};
use search::Limits;
use serde_json::{Value, json};

const UPDATE_VAR: &str = "GRIDKB_UPDATE_OPENAPI";
const HTTP_METHODS: [&str; 8] = ["get", "post", "put", "delete", "patch", "head", "options", "trace"];

fn server_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `(METHOD, path)` of every `.route(path, method(handler).method(handler)...)` call in the
/// server's source, read from the files themselves so that no hand-kept list can drift.
fn registered_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(server_src())
        .expect("src dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for file in files {
        // The web console's pages and files are not API: `server::console` registers them from its
        // own list, which the route test below checks is served and kept out of the document.
        if file.file_name().is_some_and(|n| n == "console.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read source");
        // Unit-test modules (at the end of a file, by this codebase's convention) build routers of
        // their own; they are not the server's.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        // Line comments (and doc comments) are not code.
        let code: String =
            text.lines().map(|l| if l.trim_start().starts_with("//") { "" } else { l }).collect::<Vec<_>>().join("\n");
        for construct in [".nest(", ".nest_service(", ".route_service(", ".merge("] {
            assert!(
                !code.contains(construct),
                "{}: `{construct}` registers routes this test cannot read; teach registered_routes() about it",
                file.display()
            );
        }
        let mut rest = code.as_str();
        while let Some(at) = rest.find(".route(") {
            let args_start = at + ".route(".len();
            let args =
                balanced(&rest[args_start..]).unwrap_or_else(|| panic!("{}: unbalanced .route(", file.display()));
            let path =
                first_string_literal(args).unwrap_or_else(|| panic!("{}: .route( without a path", file.display()));
            let after_path = &args[args.find(&format!("\"{path}\"")).expect("path literal") + path.len() + 2..];
            let methods = called_methods(after_path);
            assert!(
                !methods.is_empty(),
                "{}: cannot tell the methods of route {path} from `{after_path}`",
                file.display()
            );
            for method in methods {
                routes.insert((method.to_ascii_uppercase(), path.clone()));
            }
            rest = &rest[args_start + args.len()..];
        }
    }
    routes
}

/// The text up to (not including) the parenthesis closing the one just opened.
fn balanced(text: &str) -> Option<&str> {
    let (mut depth, mut in_string, mut escaped) = (1usize, false, false);
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[..i]);
                }
            }
            _ => {}
        }
    }
    None
}

fn first_string_literal(text: &str) -> Option<String> {
    let start = text.find('"')? + 1;
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_string())
}

/// Identifiers called as functions or methods in `text` that are routing methods (`get(`,
/// `.post(`, `axum::routing::delete(`); `any(` and `on(` are refused as unreadable.
fn called_methods(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphabetic() || bytes[i] == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let ident = &text[start..i];
            let called = text[i..].trim_start().starts_with('(');
            if called && HTTP_METHODS.contains(&ident) {
                found.push(ident.to_string());
            }
            assert!(!(called && (ident == "any" || ident == "on")), "route with `{ident}(`: list its methods instead");
        } else {
            i += 1;
        }
    }
    found
}

fn documented_operations(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in HTTP_METHODS {
            if item.get(method).is_some() {
                operations.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    operations
}

#[tokio::test]
async fn every_registered_route_is_documented_and_every_documented_route_is_served() {
    let registered = registered_routes();
    assert!(registered.contains(&("GET".into(), "/v1/search".into())), "the parser found {registered:?}");
    let server = start(Limits::default()).await;
    let document: Value =
        reqwest::get(format!("{}/openapi.json", server.base)).await.expect("get").json().await.expect("json");
    let documented = documented_operations(&document);
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let unregistered: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty() && unregistered.is_empty(),
        "routes registered but not in /openapi.json (add the handler to `paths(...)` in \
         crates/server/src/openapi.rs, with a #[utoipa::path]): {undocumented:?}\n\
         documented but not registered: {unregistered:?}"
    );

    // Client generators name methods after operation ids: they must be unique.
    let mut ids = BTreeSet::new();
    for (method, path) in &documented {
        let id = document["paths"][path][method.to_ascii_lowercase()]["operationId"].as_str().unwrap_or_default();
        assert!(ids.insert(id.to_string()), "operationId `{id}` of {method} {path} is not unique");
    }

    // The parse is checked against the running router: each documented operation must reach a
    // handler (not the 404 / 405 fallbacks), and the fallback must be what the probe detects.
    let client = reqwest::Client::new();
    let reaches_a_route = |method: Method, path: String| {
        let client = client.clone();
        let url = format!("{}{path}", server.base);
        async move {
            let response = client.request(method, &url).send().await.expect("probe");
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let fallback = status == StatusCode::METHOD_NOT_ALLOWED
                || (status == StatusCode::NOT_FOUND
                    && body["message"].as_str().is_some_and(|m| m.starts_with("no such route")));
            (!fallback, status, body)
        }
    };
    for (method, path) in &documented {
        let concrete = path.replace('{', "probe-").replace('}', "");
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let (routed, status, body) = reaches_a_route(method.clone(), concrete).await;
        assert!(routed, "{method} {path} is documented but the router answers {status} {body}");
    }
    for route in server::console::PAGES.into_iter().chain([server::console::ASSETS]) {
        assert!(
            document["paths"].get(route).is_none(),
            "the console's {route} is not API; keep it out of the document"
        );
        let concrete = route.replace("{*rest}", "items").replace("{*file}", "probe.js");
        let (routed, status, body) = reaches_a_route(Method::GET, concrete).await;
        assert!(routed, "the console's {route} is not served: {status} {body}");
    }
    let (routed, _, _) = reaches_a_route(Method::GET, "/v1/no-such-route".into()).await;
    assert!(!routed, "the probe must recognise the fallback");
    let (routed, _, _) = reaches_a_route(Method::DELETE, "/v1/search".into()).await;
    assert!(!routed, "the probe must recognise a method the route does not have");
}

#[tokio::test]
async fn the_committed_document_is_the_generated_one() {
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let generated = server::openapi::document_json();
    if std::env::var_os(UPDATE_VAR).is_some_and(|v| v == "1") {
        std::fs::write(&committed_path, &generated).expect("write docs/openapi.json");
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    if committed != generated {
        let first_difference =
            committed.lines().zip(generated.lines()).enumerate().find(|(_, (a, b))| a != b).map_or_else(
                || "one is a prefix of the other".to_string(),
                |(n, (a, b))| format!("line {}: committed `{a}`, generated `{b}`", n + 1),
            );
        panic!(
            "docs/openapi.json differs from the document the code generates ({first_difference}).\n\
             If the API change is intended, regenerate it with\n    \
             {UPDATE_VAR}=1 cargo test --release -p server --test openapi\nand commit docs/openapi.json."
        );
    }
    let server = start(Limits::default()).await;
    let response = reqwest::get(format!("{}/openapi.json", server.base)).await.expect("get");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
    assert_eq!(response.text().await.expect("text"), generated, "the served document is the generated one");
    let document: Value = serde_json::from_str(&generated).expect("valid JSON");
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(document["components"]["securitySchemes"]["api_key"]["name"], "X-Api-Key");
}

/// Checks `value` against `schema` (resolving `$ref`s in `document`): types, enums, properties.
/// With `complete`, every property of an object schema must be present in the value too (use it
/// on values with every optional field filled in).
fn check(document: &Value, schema: &Value, value: &Value, complete: bool, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().expect("ref name");
        let target = &document["components"]["schemas"][name];
        assert!(!target.is_null(), "{at}: dangling {reference}");
        return check(document, target, value, complete, at);
    }
    if let Some(options) = schema["oneOf"].as_array().or_else(|| schema["anyOf"].as_array()) {
        let errors: Vec<String> =
            options.iter().filter_map(|option| check(document, option, value, complete, at).err()).collect();
        return if errors.len() < options.len() { Ok(()) } else { Err(errors.join("; ")) };
    }
    if let Some(parts) = schema["allOf"].as_array() {
        for part in parts {
            check(document, part, value, false, at)?;
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let actual = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let integer_as_number = actual == "integer" && types.contains(&"number");
    if !types.is_empty() && !types.contains(&actual) && !integer_as_number {
        return Err(format!("{at}: a {actual} where the schema says {types:?}"));
    }
    match value {
        Value::Object(fields) => {
            let properties = schema["properties"].as_object();
            if let Some(properties) = properties {
                for (name, field) in fields {
                    let Some(property) = properties.get(name) else {
                        return Err(format!("{at}: field `{name}` is not in the schema"));
                    };
                    check(document, property, field, complete, &format!("{at}.{name}"))?;
                }
                if complete && let Some(missing) = properties.keys().find(|k| !fields.contains_key(*k)) {
                    return Err(format!("{at}: the schema has `{missing}`, the value does not"));
                }
            }
            for required in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !fields.contains_key(required) {
                    return Err(format!("{at}: required `{required}` is missing"));
                }
            }
        }
        Value::Array(items) if !schema["items"].is_null() => {
            for (i, item) in items.iter().enumerate() {
                check(document, &schema["items"], item, complete, &format!("{at}[{i}]"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn assert_matches(document: &Value, schema_name: &str, value: &Value, complete: bool) {
    let schema = json!({"$ref": format!("#/components/schemas/{schema_name}")});
    if let Err(e) = check(document, &schema, value, complete, schema_name) {
        panic!("{schema_name} does not describe {value}:\n{e}");
    }
}

/// The schema of the 200 answer of an operation.
fn ok_schema<'a>(document: &'a Value, method: &str, path: &str) -> &'a Value {
    let content = &document["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(!content.is_null(), "{method} {path} documents no JSON 200 answer");
    content
}

#[tokio::test]
async fn schemas_describe_real_answers_and_values() {
    let document: Value = serde_json::to_value(server::openapi::document()).expect("document");
    let server = start(Limits::default()).await;
    let client = reqwest::Client::new();
    let live = |method: &'static str, path: &'static str| {
        let client = client.clone();
        let base = server.base.clone();
        async move {
            let request = match method {
                "post" => client.post(format!("{base}{path}")).json(&json!({"q": "保护装置通道异常"})),
                _ => client.get(format!("{base}{path}?q=%E4%BF%9D%E6%8A%A4%E8%A3%85%E7%BD%AE%E9%80%9A%E9%81%93")),
            };
            let response = request.send().await.expect("request");
            assert_eq!(response.status(), StatusCode::OK, "{method} {path}");
            response.json::<Value>().await.expect("json")
        }
    };
    for (method, path) in [
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/v1/search"),
        ("post", "/v1/search"),
        ("get", "/v1/warranties/expiring"),
        ("get", "/v1/items/stale"),
    ] {
        let answer = live(method, path).await;
        let schema = ok_schema(&document, method, path);
        if let Err(e) = check(&document, schema, &answer, false, path) {
            panic!("{method} {path}: the documented 200 schema does not describe the answer:\n{e}\n{answer}");
        }
    }
    let (_, error) = common::get(&format!("{}/v1/search?q=", server.base)).await;
    // `field`, `current_version` and `saved_by` appear only on editing errors (tests/editing.rs).
    assert_matches(&document, "ApiError", &error, false);

    // Values of other crates' types with every optional field filled, against their mirrors.
    let date = calendar::Date::parse("2027-03-31").expect("date");
    let named = |id: &str| graph::Named { id: id.into(), label: format!("{id} label") };
    for state in [
        graph::WarrantyState::InWarranty { end: date, days_left: 200 },
        graph::WarrantyState::Expiring { end: date, days_left: 3 },
        graph::WarrantyState::Expired { end: date, days_since: 9 },
    ] {
        let report = graph::DeviceReport {
            device: named("dev-1"),
            serial: "SN-1".into(),
            model: Some(named("pm-1")),
            model_code: Some("GKB-931A".into()),
            line: Some(named("pl-1")),
            contract: Some(graph::ContractSummary {
                id: "ct-1".into(),
                label: "contract".into(),
                number: Some("HT-1".into()),
                warranty_start: Some("2024-01-01".into()),
                warranty_end: Some("2027-03-31".into()),
            }),
            customer: Some(graph::CustomerSummary {
                id: "cu-1".into(),
                label: "customer".into(),
                level: Some("vip".into()),
                tags: vec!["停电敏感".into()],
            }),
            warranty: Some(state),
            history: vec![graph::HistoryEntry {
                id: "case-1".into(),
                kind: "Case".into(),
                title: "title".into(),
                date: Some("2025-05-01".into()),
                via: "gk:device".into(),
            }],
        };
        assert_matches(&document, "DeviceReport", &serde_json::to_value(&report).expect("json"), true);
    }
    let expiring = graph::ExpiringWarranty {
        contract: named("ct-1"),
        number: Some("HT-1".into()),
        customer: Some(named("cu-1")),
        warranty_end: date,
        days_left: 12,
        devices: 3,
    };
    assert_matches(
        &document,
        "ExpiringWarranties",
        &json!({"days": 90, "contracts": [serde_json::to_value(&expiring).expect("json")]}),
        true,
    );
    let stale = graph::StaleItem { item: named("kb-1"), cites: named("reg-1"), replaced_by: named("reg-2") };
    // The checker itself: an extra field, a missing one and a wrong type are each caught.
    let stale_schema = json!({"$ref": "#/components/schemas/StaleItem"});
    let stale_value = serde_json::to_value(&stale).expect("json");
    let mut extra = stale_value.clone();
    extra["superseded_on"] = json!("2026-01-01");
    let mut missing = stale_value.clone();
    missing.as_object_mut().expect("object").remove("cites");
    let mut wrong = stale_value.clone();
    wrong["item"]["id"] = json!(7);
    for bad in [extra, missing, wrong] {
        assert!(check(&document, &stale_schema, &bad, true, "StaleItem").is_err(), "the checker accepts {bad}");
    }
    assert_matches(&document, "StaleItems", &json!({"items": [serde_json::to_value(&stale).expect("json")]}), true);
    let mut stats = server.engine.stats().expect("stats");
    stats.dense =
        Some(search::DenseStatus { model_id: "m3e-small".into(), dimension: 512, vectors: 9, applied_seq: 16 });
    assert_matches(
        &document,
        "Ready",
        &json!({"status": "ready", "stats": serde_json::to_value(&stats).expect("json"),
            "store": serde_json::to_value(search::StoreStatus {
                // Every field, as a node following PostgreSQL shows them.
                since_contact_ms: Some(120),
                error: Some("the record store is unavailable".into()),
                ..server.engine.store_status()
            }).expect("json")}),
        true,
    );

    // The documented filter names are exactly the engine's (serde lists them when refusing one).
    let refusal =
        serde_json::from_value::<search::FilterField>(json!("no-such-filter")).expect_err("unknown").to_string();
    let listed = refusal.split("expected one of").nth(1).expect("serde lists the variants");
    let engine_filters: BTreeSet<String> =
        listed.split(',').map(|s| s.trim().trim_matches(|c| c == '`' || c == ' ').to_string()).collect();
    let documented_filters: BTreeSet<String> = document["components"]["schemas"]["Filters"]["properties"]
        .as_object()
        .expect("Filters")
        .keys()
        .cloned()
        .collect();
    assert_eq!(documented_filters, engine_filters, "the Filters schema (crates/search/src/request.rs) is out of date");
}

/// The served document states the bounds this server enforces: `--limits` that lower the most
/// hits, the token budget and the longest query are what `/openapi.json` says, and the defaults
/// give `docs/openapi.json` byte for byte.
#[test]
fn the_document_states_the_configured_limits() {
    assert_eq!(server::openapi::document_json_for(&Limits::default()), server::openapi::document_json());
    let limits = Limits { max_limit: 50, max_token_budget: 4_000, max_query_chars: 200, ..Limits::default() };
    let document: Value = serde_json::from_str(&server::openapi::document_json_for(&limits)).expect("json");
    let schemas = &document["components"]["schemas"];
    assert_eq!(schemas["SearchRequest"]["properties"]["limit"]["maximum"], 50);
    assert_eq!(schemas["SearchRequest"]["properties"]["q"]["maxLength"], 200);
    assert_eq!(schemas["RetrieveRequest"]["properties"]["limit"]["maximum"], 50);
    assert_eq!(schemas["RetrieveRequest"]["properties"]["token_budget"]["maximum"], 4_000);
    assert_eq!(schemas["RetrieveRequest"]["properties"]["query"]["maxLength"], 200);
    assert_eq!(schemas["DifyRequest"]["properties"]["query"]["maxLength"], 200);
    // Nothing else moved: the minimum beside the rewritten maximum, other schemas untouched.
    assert_eq!(schemas["SearchRequest"]["properties"]["limit"]["minimum"], 1);
    let default: Value = serde_json::from_str(&server::openapi::document_json()).expect("json");
    assert_eq!(document["paths"], default["paths"]);
}

/// Every bound a limit sets that the document states in words names the limit as the limits
/// file spells it ("the `max_page` limit"), so that an operator can find it: each name so written
/// is a field of `Limits`, and the document names them throughout.
#[test]
fn bounds_described_in_words_name_real_limits() {
    let document: Value = serde_json::from_str(&server::openapi::document_json()).expect("json");
    let Value::Object(fields) = serde_json::to_value(Limits::default()).expect("limits") else {
        panic!("Limits is a JSON object");
    };
    let mut descriptions = Vec::new();
    let mut stack = vec![&document];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(text)) = map.get("description") {
                    descriptions.push(text.clone());
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    let mut named = BTreeSet::new();
    for text in &descriptions {
        let mut rest = text.as_str();
        while let Some(at) = rest.find("` limit") {
            let name = rest[..at].rsplit('`').next().unwrap_or_default();
            assert!(fields.contains_key(name), "`{name}` is not a limit (in \"{text}\")");
            named.insert(name.to_string());
            rest = &rest[at + 1..];
        }
    }
    for expected in ["max_page", "max_entities", "max_listing", "max_expiry_days", "max_report_days", "max_limit"] {
        assert!(named.contains(expected), "no description names `{expected}`: {named:?}");
    }
}
