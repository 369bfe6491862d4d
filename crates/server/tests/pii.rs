//! Personal data put into any field of any search-side request never comes back: not in the
//! echoed query or terms, not in snippets or notes, not in an error message. Every form a person
//! may write a number in (groups, dashes of every width, NBSP, U+3000, zero-width spaces,
//! full-width and mathematical digits, Chinese numerals, +86 / 0086, a trunk 0) is tried, first
//! in every position with a fixed list, then as a property over generated values.

mod common;

use std::sync::OnceLock;

use common::{TestServer, start};
use proptest::prelude::*;
use reqwest::Method;
use search::Limits;
use serde_json::{Value, json};

/// One server for the whole binary, on its own runtime, shared by the tests and proptest cases.
fn server() -> &'static (tokio::runtime::Runtime, TestServer, reqwest::Client) {
    static SERVER: OnceLock<(tokio::runtime::Runtime, TestServer, reqwest::Client)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let server = runtime.block_on(start(Limits::default()));
        (runtime, server, reqwest::Client::new())
    })
}

/// A personal value as written, and the forms of it that must never come back.
#[derive(Debug, Clone)]
struct Pii {
    written: String,
    secrets: Vec<String>,
}

/// A request: method, path, query pairs, JSON body.
type Request = (Method, &'static str, Vec<(String, String)>, Option<Value>);

/// Every request field a value can be put into.
fn requests(pii: &str) -> Vec<Request> {
    let get = |pairs: Vec<(&str, &str)>| {
        (Method::GET, "/v1/search", pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), None)
    };
    let post = |path: &'static str, body: Value| (Method::POST, path, Vec::new(), Some(body));
    let number: Option<u64> = pii.parse().ok();
    let mut out = vec![
        get(vec![("q", pii)]),
        get(vec![("q", &format!("保护装置告警，联系人{pii}"))]),
        get(vec![("q", "保护"), ("limit", pii)]),
        get(vec![("q", "保护"), ("offset", pii)]),
        get(vec![("q", "保护"), ("retrievers", pii)]),
        get(vec![("q", "保护"), ("kind", pii)]),
        get(vec![("q", "保护"), (pii, "1")]),
        post("/v1/search", json!({"q": pii})),
        post("/v1/search", json!({"q": format!("通道告警 {pii}")})),
        post("/v1/search", json!({"q": "保护", "limit": pii})),
        post("/v1/search", json!({"q": "保护", "offset": pii})),
        post("/v1/search", json!({"q": "保护", "filters": {"kind": [pii]}})),
        post("/v1/search", json!({"q": "保护", "filters": {pii: ["x"]}})),
        post("/v1/search", json!({"q": "保护", "retrievers": [pii]})),
        post("/v1/search", json!({"q": "保护", "fusion": pii})),
        post("/v1/search", json!({"q": "保护", pii: 1})),
        post("/v1/tickets/match", json!({"text": format!("931保护通道告警，联系电话{pii}")})),
        post("/v1/tickets/match", json!({"text": pii})),
        post("/v1/tickets/match", json!({"text": "931保护通道告警", "customer_id": pii})),
        post("/v1/tickets/match", json!({"text": "931保护通道告警", "device_serial": pii})),
        post("/v1/tickets/match", json!({"text": "931保护通道告警", "channel": pii})),
        post("/v1/tickets/match", json!({"text": "931保护通道告警", "limit": pii})),
        post("/v1/tickets/match", json!({"text": "931保护通道告警", pii: 1})),
        post("/v1/retrieve", json!({"query": pii})),
        post("/v1/retrieve", json!({"query": format!("充电桩离线 {pii}")})),
        post("/v1/retrieve", json!({"query": "保护", "token_budget": pii})),
        post("/v1/retrieve", json!({"query": "保护", "filters": {"tag": [pii]}})),
        post("/v1/retrieve", json!({"query": "保护", pii: 1})),
        post("/retrieval", json!({"knowledge_id": pii, "query": "保护"})),
        post("/retrieval", json!({"knowledge_id": "default", "query": pii})),
        post("/retrieval", json!({"knowledge_id": "default", "query": "保护", "retrieval_setting": {"top_k": pii}})),
        post(
            "/retrieval",
            json!({"knowledge_id": "default", "query": "保护", "retrieval_setting": {"score_threshold": pii}}),
        ),
        post(
            "/retrieval",
            json!({"knowledge_id": "default", "query": "保护", "metadata_condition":
                {"conditions": [{"name": pii, "comparison_operator": "is", "value": "x"}]}}),
        ),
        post(
            "/retrieval",
            json!({"knowledge_id": "default", "query": "保护", "metadata_condition":
                {"conditions": [{"name": "tag", "comparison_operator": pii, "value": "x"}]}}),
        ),
        post(
            "/retrieval",
            json!({"knowledge_id": "default", "query": "保护", "metadata_condition":
                {"conditions": [{"name": "version", "comparison_operator": ">", "value": pii}]}}),
        ),
        post(
            "/retrieval",
            json!({"knowledge_id": "default", "query": "保护", "metadata_condition":
                {"logical_operator": pii, "conditions": [{"name": "tag", "comparison_operator": "empty"}]}}),
        ),
    ];
    if let Some(number) = number {
        out.push(post("/v1/search", json!({"q": "保护", "limit": number})));
        out.push(post("/v1/search", json!({"q": "保护", "offset": number})));
        out.push(post("/v1/tickets/match", json!({"text": "931保护通道告警", "limit": number})));
        out.push(post("/v1/retrieve", json!({"query": "保护", "token_budget": number})));
        out.push(post(
            "/retrieval",
            json!({"knowledge_id": "default", "query": "保护", "retrieval_setting": {"top_k": number}}),
        ));
    }
    out
}

/// Sends every request with `pii` in it; returns the ones whose response holds a secret form.
fn leaks(pii: &Pii) -> Vec<String> {
    let (runtime, server, client) = server();
    runtime.block_on(async {
        let mut found = Vec::new();
        for (method, path, pairs, body) in requests(&pii.written) {
            let mut request = client.request(method.clone(), format!("{}{path}", server.base)).query(&pairs);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.expect("request");
            let status = response.status();
            let text = response.text().await.expect("body");
            // JSON escapes nothing we look for, but a client reads the decoded text: check both.
            let decoded = serde_json::from_str::<Value>(&text).map(|v| v.to_string()).unwrap_or_default();
            if let Some(secret) = pii.secrets.iter().find(|s| text.contains(s.as_str()) || decoded.contains(s.as_str()))
            {
                found.push(format!("{method} {path} {pairs:?} {body:?} → {status} leaks {secret:?}: {text}"));
            }
        }
        found
    })
}

// --- personal values in the forms people write them ------------------------------------------

const SEPARATORS: &[&str] = &[
    " ", "-", ".", "\u{A0}", "\u{3000}", "\u{2010}", "\u{2011}", "\u{2012}", "\u{2013}", "\u{2014}", "\u{2212}",
    "\u{FE63}", "\u{FF0D}", "\u{200B}", " - ",
];

fn full_width(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 + 0xFEE0).unwrap_or(c) } else { c }).collect()
}

fn mathematical(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 - 0x30 + 0x1D7CE).unwrap_or(c) } else { c })
        .collect()
}

fn chinese(s: &str) -> String {
    const NUMERALS: [char; 10] = ['零', '幺', '二', '三', '四', '五', '六', '七', '八', '九'];
    s.chars().map(|c| c.to_digit(10).map_or(c, |d| NUMERALS[d as usize])).collect()
}

fn grouped(digits: &str, sizes: &[usize], separator: &str) -> String {
    let mut parts = Vec::new();
    let mut at = 0;
    for size in sizes {
        if at < digits.len() {
            parts.push(&digits[at..(at + size).min(digits.len())]);
            at += size;
        }
    }
    if at < digits.len() {
        parts.push(&digits[at..]);
    }
    parts.join(separator)
}

fn id_number(body17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = body17.chars().zip(WEIGHTS).map(|(c, w)| c.to_digit(10).unwrap_or(0) * w).sum();
    format!("{body17}{}", CHECK[(sum % 11) as usize] as char)
}

fn luhn(body: &str) -> String {
    let sum: u32 = body
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap_or(0);
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// A mobile number in one of the written forms: `(digits, form, separator)`.
fn mobile(digits: &str, form: usize, separator: &str) -> Pii {
    let written = match form % 8 {
        0 => digits.to_string(),
        1 => grouped(digits, &[3, 4, 4], separator),
        2 => format!("+86{separator}{}", grouped(digits, &[3, 4, 4], separator)),
        3 => format!("0086 {digits}"),
        4 => full_width(&grouped(digits, &[3, 4, 4], separator)),
        5 => mathematical(digits),
        6 => chinese(digits),
        _ => format!("0{digits}"),
    };
    Pii { written, secrets: vec![digits.to_string()] }
}

fn fixed_values() -> Vec<Pii> {
    let mut values: Vec<Pii> = SEPARATORS.iter().enumerate().map(|(i, s)| mobile("13912345678", i, s)).collect();
    let id = id_number("11010519900307123");
    values.push(Pii { written: grouped(&id, &[6, 8, 4], " "), secrets: vec![id.clone(), id[6..14].to_string()] });
    values.push(Pii { written: full_width(&id), secrets: vec![id.clone()] });
    let card = luhn("622202123456789012");
    values.push(Pii { written: grouped(&card, &[4, 4, 4, 4], "\u{A0}"), secrets: vec![card.clone()] });
    values.push(Pii { written: grouped(&card, &[6], " "), secrets: vec![card.clone()] });
    values.push(Pii { written: "zhangsan.li＠example.com".into(), secrets: vec!["zhangsan".into()] });
    values
        .push(Pii {
            written: "户号：3100 1234 56".into(), secrets: vec!["3100123456".into(), "3100 1234 56".into()]
        });
    values.push(Pii { written: "联系人沈超明".into(), secrets: vec!["沈超明".into()] });
    values.push(Pii { written: "13912345678".into(), secrets: vec!["13912345678".into()] });
    values
}

#[test]
fn personal_data_in_any_field_never_comes_back() {
    let mut all = Vec::new();
    for pii in fixed_values() {
        all.extend(leaks(&pii));
    }
    assert!(all.is_empty(), "{} leaks:\n{}", all.len(), all.join("\n"));
}

fn pii_strategy() -> impl Strategy<Value = Pii> {
    let mobile_digits = ("1[3-9][0-9]{9}", 0usize..8, 0..SEPARATORS.len())
        .prop_map(|(digits, form, sep)| mobile(&digits, form, SEPARATORS[sep]));
    let id = ("[1-6][0-9]{5}", 1950u32..2005, 1u32..13, 1u32..29, "[0-9]{3}", 0usize..3).prop_map(
        |(area, year, month, day, seq, form)| {
            let id = id_number(&format!("{area}{year}{month:02}{day:02}{seq}"));
            let written = match form {
                0 => id.clone(),
                1 => grouped(&id, &[6, 8, 4], "-"),
                _ => grouped(&id, &[6, 8, 4], "\u{3000}"),
            };
            Pii { written, secrets: vec![id] }
        },
    );
    let card = ("62[0-9]{14}", 0usize..3).prop_map(|(body, form)| {
        let card = luhn(&body);
        let written = match form {
            0 => card.clone(),
            1 => grouped(&card, &[4, 4, 4, 4], " "),
            _ => grouped(&card, &[6], " "),
        };
        Pii { written, secrets: vec![card] }
    });
    let email = "[a-z]{6,10}".prop_map(|local| Pii { written: format!("{local}@example.com"), secrets: vec![local] });
    prop_oneof![3 => mobile_digits, 1 => id, 1 => card, 1 => email]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_personal_data_never_comes_back(pii in pii_strategy()) {
        let found = leaks(&pii);
        prop_assert!(found.is_empty(), "{} leaks:\n{}", found.len(), found.join("\n"));
    }
}
