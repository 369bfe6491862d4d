//! The engine on a real data directory: ingest, search, re-ingest, restart and catch-up.

use std::path::{Path, PathBuf};

use search::{Engine, EngineOptions, FilterField, Limits, SearchRequest};
use store::{Record, Store};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mini.jsonl")
}

fn open(dir: &Path) -> Engine {
    Engine::open(
        EngineOptions { data_dir: dir.to_path_buf(), limits: Limits::default(), ..EngineOptions::default() },
        &|_| {},
    )
    .expect("open engine")
}

fn records(path: &Path) -> Vec<Record> {
    let batch = ingest::read_paths(&[path.to_path_buf()]).expect("fixture readable");
    assert!(batch.rejections.is_empty(), "{:?}", batch.rejections);
    batch.records.into_iter().map(|(_, r)| r).collect()
}

fn ids(engine: &Engine, q: &str) -> Vec<String> {
    let request = SearchRequest { q: q.into(), ..Default::default() };
    engine.search(&request).expect("search").hits.into_iter().map(|h| h.id).collect()
}

#[test]
fn finds_ranks_highlights_and_explains() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path());
    let report = engine.ingest(&records(&fixture()), "test", &|_| {}).expect("ingest");
    assert_eq!(report.inserted, 16);

    let response =
        engine.search(&SearchRequest { q: "保护装置通道异常".into(), ..Default::default() }).expect("search");
    assert_eq!(response.hits[0].id, "kb-tp-channel", "{:#?}", response.hits);
    assert!(response.hits[0].snippet.contains("<em>"), "{}", response.hits[0].snippet);
    assert!(response.hits[0].explanation.matched_terms.iter().any(|t| t == "通道"));
    assert_eq!(response.hits[0].rank, 1);

    // Entities' aliases make loose product names findable: "931保护" is an alias of GKB-931A.
    assert!(ids(&engine, "931保护 通道").contains(&"kb-case-931-channel".to_string()));
    // Drafts are hidden unless asked for.
    assert!(!ids(&engine, "通道告警 补充说明").contains(&"kb-draft-note".to_string()));
    let mut drafts = SearchRequest { q: "通道告警".into(), ..Default::default() };
    drafts.filters.insert(FilterField::Status, vec!["draft".into()]);
    assert_eq!(engine.search(&drafts).expect("search").hits.len(), 1);
    // Filters restrict without needing query words; models' lines are filterable.
    let mut by_line = SearchRequest::default();
    by_line.filters.insert(FilterField::Product, vec!["pl-ev".into()]);
    let mut line_hits = engine.search(&by_line).expect("search").hits.into_iter().map(|h| h.id).collect::<Vec<_>>();
    line_hits.sort();
    assert_eq!(line_hits, ["kb-br-warranty", "kb-tp-ev-offline"]);
    // Personal data in the query is masked in the response and not searched for.
    let masked =
        engine.search(&SearchRequest { q: "13812345678 充电桩离线".into(), ..Default::default() }).expect("search");
    assert!(!masked.query.contains("13812345678"), "{}", masked.query);
    assert_eq!(masked.hits[0].id, "kb-tp-ev-offline");
}

#[test]
fn new_version_replaces_and_same_version_is_noop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path());
    let all = records(&fixture());
    engine.ingest(&all, "test", &|_| {}).expect("ingest");
    let again = engine.ingest(&all, "test", &|_| {}).expect("re-ingest");
    assert_eq!((again.inserted, again.unchanged), (0, 16));

    let mut edited = all.iter().find(|r| r.id() == "kb-as-praise").cloned().expect("fixture has it");
    if let Record::Item(item) = &mut edited {
        item.version = 2;
        item.body = "感谢您对抢修班组的认可，我们会通报表扬。".into();
    }
    let report = engine.ingest(&[edited], "test", &|_| {}).expect("edit");
    assert_eq!(report.replaced, 1);
    assert_eq!(ids(&engine, "抢修班组 通报表扬"), ["kb-as-praise"]);
    // The old wording is gone from the index with the old version.
    assert!(!ids(&engine, "转达给相关人员").contains(&"kb-as-praise".to_string()));
}

#[test]
fn restart_reuses_indexes_and_catches_up_with_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = {
        let engine = open(dir.path());
        engine.ingest(&records(&fixture()), "test", &|_| {}).expect("ingest");
        ids(&engine, "充电桩离线")
    };
    // A write that reached the store but not the index (a crash between the two commits).
    {
        let store = Store::open(&dir.path().join("records.redb")).expect("store");
        let extra = ingest::record_from_value(serde_json::json!({
            "id": "kb-new", "kind": "technical_point", "title": "GOOSE断链的处理", "body": "检查交换机端口和光纤", "category": "fault_repair"
        }))
        .expect("valid")
        .0;
        store.upsert(&[extra], "crash-test").expect("write");
    }
    let engine = open(dir.path());
    let stats = engine.stats().expect("stats");
    assert_eq!(stats.store_seq, stats.lexical_seq);
    assert_eq!(ids(&engine, "充电桩离线"), before);
    assert_eq!(ids(&engine, "GOOSE断链"), ["kb-new"]);
    drop(engine);

    // A lost lexical index is rebuilt from the store.
    std::fs::remove_dir_all(dir.path().join("lexical")).expect("remove index");
    let engine = open(dir.path());
    assert_eq!(ids(&engine, "充电桩离线"), before);
    assert_eq!(engine.stats().expect("stats").indexed_items, 10);
}

#[test]
fn deletes_leave_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path());
    engine.ingest(&records(&fixture()), "test", &|_| {}).expect("ingest");
    assert_eq!(engine.delete(&["kb-tp-ev-offline", "missing"], "test").expect("delete"), 1);
    assert!(!ids(&engine, "充电桩离线").contains(&"kb-tp-ev-offline".to_string()));
}
