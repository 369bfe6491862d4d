//! The request log of the search routes: each answer of `/v1/search`, `/v1/tickets/match`,
//! `/v1/retrieve` and `/retrieval` gets an id (the `X-Request-Id` header, and `request_id` in the
//! body where the body shape allows) and one event in the journal — masked text and terms, the
//! ids shown in rank order, category and confidence, latency, degraded retrievers. The texts
//! recorded are the ones the engine already masked for the response; recording never waits for
//! the disk (see the `journal` crate).

use std::time::Instant;

use axum::Json;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use journal::{RequestEvent, Route};
use search::rag::{DifyResponse, RetrieveResponse};
use search::{SearchResponse, TicketMatch};
use serde::Serialize;

use crate::AppState;
use crate::auth::Principal;

/// The response header that carries the request id.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Records one answered request and returns its id.
pub fn record(
    state: &AppState,
    principal: &Principal,
    route: Route,
    started: Instant,
    describe: impl FnOnce(&mut RequestEvent),
) -> String {
    let id = journal::new_request_id();
    let mut event = RequestEvent {
        id: id.clone(),
        at_ms: journal::now_ms(),
        route: Some(route),
        key: principal.key_id.clone(),
        role: principal.role.as_str().to_string(),
        org: principal.org.clone(),
        latency_ms: started.elapsed().as_secs_f32() * 1e3,
        ..RequestEvent::default()
    };
    describe(&mut event);
    // A describer may set `zero` itself (a ticket shows guidance even when no solution answers).
    event.zero = event.zero || event.shown.is_empty();
    if event.zero {
        state.metrics().record_zero_result();
    }
    if let Some(journal) = state.journal() {
        journal.record_request(event);
    }
    id
}

/// A JSON answer with its request id in the header.
pub(crate) fn with_id<T: Serialize>(id: &str, body: T) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

fn entity_ids<'a>(linked: impl IntoIterator<Item = &'a search::LinkedEntity>, classes: &[&str]) -> Vec<String> {
    linked.into_iter().filter(|e| classes.contains(&e.class.as_str())).map(|e| e.id.clone()).collect()
}

const PRODUCT_CLASSES: [&str; 2] = ["ProductLine", "ProductModel"];
const FAULT_CLASSES: [&str; 1] = ["Fault"];

/// Share of `terms` the best hit matched, for queries of three terms or more.
fn coverage(terms: &[String], best: Option<&search::Hit>) -> Option<f32> {
    if terms.len() < 3 {
        return None;
    }
    let matched =
        best.map_or(0, |hit| terms.iter().filter(|t| hit.explanation.matched_terms.iter().any(|m| m == *t)).count());
    Some(matched as f32 / terms.len() as f32)
}

pub fn search(event: &mut RequestEvent, response: &SearchResponse) {
    event.text = response.query.clone();
    event.terms = response.terms.clone();
    event.coverage = coverage(&response.terms, response.hits.first());
    event.shown = response.hits.iter().map(|h| h.id.clone()).collect();
    event.products = entity_ids(&response.linked, &PRODUCT_CLASSES);
    event.faults = entity_ids(&response.linked, &FAULT_CLASSES);
    event.degraded = response.degraded.clone();
}

pub fn ticket(event: &mut RequestEvent, matched: &TicketMatch) {
    event.text = matched.ticket.clone();
    event.terms = matched.terms.clone();
    event.coverage = coverage(&matched.terms, matched.solutions.first());
    event.channel = matched.channel.clone();
    // Solutions first (their ranks), then everything else the agent sees and may give feedback
    // on: the answer standard, the response strategies and the similar solved cases. The ticket
    // is a zero result when no solution answers it, whatever guidance its category brings.
    event.zero = matched.solutions.is_empty();
    event.shown = matched.solutions.iter().map(|h| h.id.clone()).collect();
    let guidance = matched.answer_standard.iter().chain(&matched.response_strategies).map(|g| &g.id);
    for id in guidance.chain(matched.similar_cases.iter().map(|h| &h.id)) {
        if !event.shown.contains(id) {
            event.shown.push(id.clone());
        }
    }
    event.category = Some(matched.category.minor.clone());
    event.confidence = Some(matched.category.confidence);
    event.products = entity_ids(&matched.linked, &PRODUCT_CLASSES);
    event.faults = entity_ids(&matched.linked, &FAULT_CLASSES);
    if event.faults.is_empty() {
        // No fault named in the words: the best solution's fault stands for it.
        event.faults =
            matched.solutions.first().map(|h| h.faults.iter().take(1).cloned().collect()).unwrap_or_default();
    }
    event.customer = matched.customer.as_ref().map(|c| c.id.clone());
    if let Some(device) = &matched.device {
        event.device = Some(device.device.id.clone());
        event.model = device.model.as_ref().map(|m| m.id.clone());
    }
    event.degraded = matched.notes.iter().find(|n| n.contains("retriever")).cloned();
}

pub(crate) fn retrieve(event: &mut RequestEvent, response: &RetrieveResponse) {
    event.text = response.query.clone();
    event.terms = response.terms.clone();
    let mut shown: Vec<String> = Vec::new();
    for passage in &response.passages {
        if !shown.contains(&passage.citation.id) {
            shown.push(passage.citation.id.clone());
        }
    }
    event.shown = shown;
    event.degraded = response.degraded.clone();
}

/// Dify's answer carries no query: the caller passes the masked one and its terms.
pub(crate) fn dify(event: &mut RequestEvent, masked_query: String, terms: Vec<String>, response: &DifyResponse) {
    event.text = masked_query;
    event.terms = terms;
    event.shown = response
        .records
        .iter()
        .filter_map(|r| r.metadata.get("id").and_then(|v| v.as_str()).map(str::to_string))
        .collect();
}
