//! `POST /v1/tickets/match` on a real server over loopback: category, customer and device,
//! guidance for the customer's tags, solutions with explanations, masking, and bad input.

mod common;

use std::path::Path;

use common::{TestServer, start};
use reqwest::StatusCode;
use search::Limits;
use serde_json::{Value, json};

/// The mini fixture plus `tickets.jsonl`: a hospital that cannot lose power, its contract and
/// its GKB-931A device, and guidance for service complaints.
async fn server() -> TestServer {
    let server = start(Limits::default()).await;
    let engine = server.engine.clone();
    tokio::task::spawn_blocking(move || {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tickets.jsonl");
        let batch = ingest::read_paths(&[fixture]).expect("fixture");
        let records: Vec<_> = batch.records.into_iter().map(|(_, r)| r).collect();
        assert_eq!(records.len(), 5);
        engine.ingest(&records, "test", &|_| {}).expect("ingest");
    })
    .await
    .expect("loader");
    server
}

async fn post(server: &TestServer, body: Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/tickets/match", server.base))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array().into_iter().flatten().filter_map(|h| h["id"].as_str()).collect()
}

#[tokio::test]
async fn a_fault_ticket_finds_device_customer_guidance_and_solutions() {
    let server = server().await;
    let (status, body) = post(
        &server,
        json!({
            "text": "医院配电室的931保护报通道告警，出厂编号GKB2301A12345，联系电话13812345678，医院不能停电",
            "channel": "电话"
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Personal data is masked in what comes back.
    let ticket = body["ticket"].as_str().expect("ticket");
    assert!(!ticket.contains("13812345678") && ticket.contains("138****5678"), "{ticket}");
    assert_eq!(body["channel"], "电话");

    assert_eq!(body["category"]["minor"], "fault_repair", "{}", body["category"]);
    assert_eq!(body["category"]["major"], "fault_repair");
    let confidence = body["category"]["confidence"].as_f64().expect("confidence");
    assert!(confidence > 0.5 && confidence <= 1.0, "{confidence}");
    assert!(body["category"]["cues"].as_array().is_some_and(|c| !c.is_empty()));

    // The serial in the text finds the device, its warranty and, through it, the customer.
    assert_eq!(body["device"]["serial"], "GKB2301A12345", "{}", body["device"]);
    assert_eq!(body["device"]["warranty"]["state"], "in_warranty");
    assert_eq!(body["customer"]["id"], "cust-hosp");
    assert_eq!(body["customer"]["source"], "device");
    assert!(ids(&body["linked"]).contains(&"f-channel"), "{}", body["linked"]);

    // Guidance: the repair script, verbatim, and the strategy for a customer who cannot lose power.
    assert_eq!(body["answer_standard"]["id"], "kb-as-repair");
    let stored = server.engine.store().get("kb-as-repair").expect("store").expect("item");
    let store::Record::Item(item) = stored.record else { panic!("an item") };
    assert_eq!(body["answer_standard"]["body"], item.body.as_str());
    assert_eq!(ids(&body["response_strategies"]).first(), Some(&"kb-rs-outage"), "{}", body["response_strategies"]);
    assert!(body["response_strategies"][0]["reason"].as_str().is_some_and(|r| r.contains("停电敏感")));

    // Solutions and similar cases, each explained; the draft note is not served.
    let solutions = ids(&body["solutions"]);
    assert_eq!(solutions.first(), Some(&"kb-tp-channel"), "{solutions:?}");
    assert!(!solutions.contains(&"kb-draft-note"));
    assert!(!solutions.contains(&"kb-case-931-channel"), "cases are listed apart");
    assert_eq!(ids(&body["similar_cases"]), ["kb-case-931-channel"]);
    let explanation = &body["solutions"][0]["explanation"];
    assert!(explanation["matched_terms"].as_array().is_some_and(|t| !t.is_empty()), "{explanation}");
    assert!(explanation["fused_score"].as_f64().is_some());
}

#[tokio::test]
async fn praise_and_complaints_are_told_apart_by_their_words() {
    let server = server().await;
    let (status, body) = post(&server, json!({"text": "上次来修充电桩的师傅很专业，给你们点赞"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["category"]["minor"].as_str(), body["category"]["major"].as_str()),
        (Some("praise"), Some("other"))
    );
    assert_eq!(body["answer_standard"]["id"], "kb-as-praise");

    let (status, body) = post(&server, json!({"text": "说好今天上午来人，到现在人影都没有，搞什么"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["category"]["minor"], "service_complaint", "{}", body["category"]);
    assert_eq!(body["category"]["major"], "complaint");
    assert_eq!(body["answer_standard"]["id"], "kb-as-complaint");
    assert_eq!(ids(&body["response_strategies"]), ["kb-rs-complaint"]);
}

#[tokio::test]
async fn the_customer_of_the_request_and_unknown_ids_are_reported() {
    let server = server().await;
    let (status, body) = post(&server, json!({"text": "充电桩离线了", "customer_id": "cust-hosp", "limit": 1})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["customer"]["source"], "request");
    assert_eq!(body["customer"]["tags"], json!(["停电敏感", "重要客户"]));
    assert_eq!(ids(&body["solutions"]), ["kb-tp-ev-offline"]);
    assert!(body["device"].is_null());

    let (status, body) =
        post(&server, json!({"text": "充电桩离线了", "customer_id": "cust-nobody", "device_serial": "XX0000000"}))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let notes = body["notes"].to_string();
    // The notes name the fields, never the values sent (which may be personal data).
    assert!(notes.contains("customer_id") && notes.contains("device_serial"), "{notes}");
    assert!(!notes.contains("cust-nobody") && !notes.contains("XX0000000"), "{notes}");
    assert!(body["customer"].is_null() && body["device"].is_null());
}

#[tokio::test]
async fn bad_tickets_get_clear_errors() {
    let server = server().await;
    let before = server.engine.stats().expect("stats");
    let cases = [
        (json!({"text": ""}), "empty_query"),
        (json!({"text": "   "}), "empty_query"),
        (json!({"text": "，。！？"}), "empty_query"),
        (json!({"text": "断".repeat(4_001)}), "query_too_long"),
        (json!({"text": "通道告警", "limit": 0}), "invalid_limit"),
        (json!({"text": "通道告警", "limit": 101}), "invalid_limit"),
        (json!({"text": "通道告警", "limit": -1}), "invalid_parameter"),
        (json!({"text": "通道告警", "customer_id": ""}), "invalid_parameter"),
        (json!({"text": "通道告警", "device_serial": "x".repeat(129)}), "invalid_parameter"),
        (json!({"text": "通道告警", "priority": "high"}), "invalid_parameter"),
        (json!({"text": 42}), "invalid_parameter"),
        (json!({}), "invalid_parameter"),
    ];
    for (body, code) in cases {
        let (status, answer) = post(&server, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        assert_eq!(answer["code"], code, "{body} → {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(server.engine.stats().expect("stats"), before);
}

/// The test server plus the demo corpus's product lines and models, faults, organisation tree,
/// customers, and the devices and contracts of `serials`: what dispatch reads.
async fn server_with_corpus_world(serials: &'static [&'static str]) -> TestServer {
    let server = start(Limits::default()).await;
    let engine = server.engine.clone();
    tokio::task::spawn_blocking(move || {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus");
        let mut records: Vec<store::Record> = Vec::new();
        let mut contracts: Vec<String> = Vec::new();
        for file in [
            "authored/entities/product_lines.jsonl",
            "authored/entities/product_models.jsonl",
            "authored/entities/faults.jsonl",
            "generated/entities/organisations.jsonl",
            "generated/entities/customers.jsonl",
            "generated/entities/devices.jsonl",
            "generated/entities/contracts.jsonl",
        ] {
            let text = std::fs::read_to_string(corpus.join(file)).expect("corpus file");
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let record: store::Record = serde_json::from_str(line).expect("record");
                let store::Record::Entity(entity) = &record else { continue };
                let serial = entity.attrs.get("serial").and_then(|s| s.as_str());
                let keep = match entity.class {
                    store::EntityClass::Device => {
                        let wanted = serial.is_some_and(|s| serials.contains(&s));
                        if wanted {
                            contracts.extend(entity.links.get("contract").into_iter().flatten().cloned());
                        }
                        wanted
                    }
                    store::EntityClass::Contract => contracts.contains(&entity.id),
                    _ => true,
                };
                // The mini fixture's own versions of a few corpus ids stay.
                if keep && engine.store().get(&entity.id).expect("store").is_none() {
                    records.push(record);
                }
            }
        }
        let report = engine.ingest(&records, "test", &|_| {}).expect("ingest");
        assert!(report.refused.is_empty(), "{:?}", report.refused);
    })
    .await
    .expect("loader");
    server
}

#[tokio::test]
async fn corpus_tickets_are_dispatched_to_their_speciality_and_station() {
    let server = server_with_corpus_world(&["GKN2409G51488"]).await;
    // Ticket t-00002 of the ticket set: a PV inverter of 楸城启明新能源 和平光伏电站 (崇岭省楸城市),
    // quoted by its serial.
    let (status, body) = post(
        &server,
        json!({"text": "联系人邓师傅 199-8732-0471。你好，GKN 50K（出厂编号gkn2409g51488）直流电压低，在线等"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dispatch = &body["dispatch"];
    assert_eq!(dispatch["speciality"]["value"], "新能源", "{dispatch}");
    assert_eq!(dispatch["speciality"]["rule"], "device_line");
    assert_eq!(dispatch["speciality"]["lines"], json!(["pl-pv-inverter"]));
    assert_eq!(dispatch["station"]["unit"]["id"], "org-p03-c02", "{dispatch}");
    assert_eq!(dispatch["station"]["rule"], "region");
    assert_eq!(dispatch["station"]["region"], "崇岭省楸城市");
    assert_eq!(dispatch["station"]["customer"], "cust-plant-0016");
    assert_eq!(dispatch["station"]["customer_source"], "device");
    assert!(dispatch["station"]["reason"].as_str().is_some_and(|r| r.contains("崇岭省楸城市")), "{dispatch}");
    // The urgency depends on the day (the warranty ends on 2026-12-23): its shape, and the
    // warranty weighed.
    assert!(["normal", "high", "urgent"].contains(&dispatch["urgency"]["level"].as_str().unwrap_or("")), "{dispatch}");
    assert!(["一般", "较急", "紧急"].contains(&dispatch["urgency"]["label"].as_str().unwrap_or("")));
    let factors: Vec<&str> =
        dispatch["urgency"]["factors"].as_array().into_iter().flatten().filter_map(|f| f["rule"].as_str()).collect();
    assert!(factors.iter().any(|f| f.contains("warranty")), "{dispatch}");
    // No personal data in any reason.
    assert!(!dispatch.to_string().contains("8732"), "{dispatch}");

    // Ticket t-00003: the customer is named, not the device; a service request about a meter.
    let (status, body) = post(&server, json!({"text": "樾阳弘毅玻璃的，你好，我要申请校表，感觉表不准，要钱吗"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let station = &body["dispatch"]["station"];
    assert_eq!(station["customer"], "cust-ent-0035", "{station}");
    assert_eq!(station["customer_source"], "text");
    let region = station["region"].as_str().expect("region");
    let unit = station["unit"]["region"].as_str().expect("unit region");
    assert_eq!((station["rule"].as_str(), unit), (Some("region"), region), "{station}");
    assert_eq!(body["dispatch"]["urgency"]["level"], "normal", "a service request reports no problem");

    // Nothing to route by: unknowns that say why.
    let (status, body) = post(&server, json!({"text": "你好，想问一下发票怎么开"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dispatch = &body["dispatch"];
    assert!(dispatch["speciality"]["value"].is_null() && dispatch["station"]["unit"].is_null(), "{dispatch}");
    assert_eq!(
        (dispatch["speciality"]["rule"].as_str(), dispatch["station"]["rule"].as_str()),
        (Some("unknown"), Some("unknown"))
    );
    assert!(dispatch["station"]["reason"].as_str().is_some_and(|r| r.starts_with("unknown")), "{dispatch}");
}
