//! The engine on a real data directory: ingest, search, re-ingest, restart and catch-up.

use std::path::{Path, PathBuf};

use search::{Engine, EngineOptions, FilterField, GraphLoad, Limits, SearchRequest};
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

fn record(value: serde_json::Value) -> Record {
    ingest::record_from_value(value).expect("valid").0
}

#[test]
fn a_background_graph_load_answers_lexically_first_and_loses_no_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    open(dir.path()).ingest(&records(&fixture()), "test", &|_| {}).expect("ingest");

    // The gate holds the load back, so these searches run while the graph is loading.
    let gate = graph::LoadGate::new();
    let engine = Engine::open(
        EngineOptions {
            data_dir: dir.path().to_path_buf(),
            graph_load: GraphLoad::Background,
            graph_gate: Some(gate.clone()),
            ..EngineOptions::default()
        },
        &|_| {},
    )
    .expect("open engine");
    assert_eq!(engine.graph_state(), Some(graph::LoadState::Loading));
    assert!(engine.graph().is_none());
    let loading = engine.search(&SearchRequest { q: "931保护 通道异常".into(), ..Default::default() }).expect("search");
    assert_eq!(loading.retrievers, ["lexical"]);
    assert!(!loading.hits.is_empty(), "lexical results while the graph loads");
    assert!(loading.linked.is_empty());
    assert!(loading.degraded.as_deref().is_some_and(|d| d.contains("graph is loading")), "{:?}", loading.degraded);

    // A write while the graph loads: a new fault (with an alias) and an item about it.
    engine
        .ingest(
            &[
                record(serde_json::json!({"id": "f-sv-break", "class": "Fault", "label": "SV断链", "aliases": ["采样值中断"],
                    "links": {"product": ["pm-gkb-931a"]}})),
                record(serde_json::json!({"id": "kb-tp-sv", "kind": "technical_point", "title": "采样值中断的处理",
                    "body": "检查合并单元光口", "faults": ["f-sv-break"], "category": "fault_repair"})),
            ],
            "test",
            &|_| {},
        )
        .expect("ingest while loading");

    gate.open();
    engine.wait_for_graph().expect("graph loads");
    assert_eq!(engine.graph_state(), Some(graph::LoadState::Ready));
    let ready = engine.search(&SearchRequest { q: "931保护 通道异常".into(), ..Default::default() }).expect("search");
    assert!(ready.retrievers.iter().any(|r| r == "graph"), "{:?}", ready.retrievers);
    assert_eq!(ready.degraded, None);
    assert!(ready.linked.iter().any(|l| l.id == "f-channel"), "{:?}", ready.linked);
    // The write made during the load is in the graph and its alias links.
    let sv = engine.search(&SearchRequest { q: "采样值中断".into(), ..Default::default() }).expect("search");
    assert!(sv.linked.iter().any(|l| l.id == "f-sv-break"), "{:?}", sv.linked);
    let graph = engine.graph().expect("graph");
    assert_eq!(graph.applied_seq(), engine.stats().expect("stats").store_seq);
    let triples = graph.sorted_ntriples().expect("triples");
    assert!(triples.iter().any(|t| t.contains("/id/kb-tp-sv>") && t.contains("/id/f-sv-break>")));
    drop(engine);

    // A restart (blocking or in the background) reloads the same graph.
    assert_eq!(open(dir.path()).graph().expect("graph").sorted_ntriples().expect("triples"), triples);
    let engine = Engine::open(
        EngineOptions {
            data_dir: dir.path().to_path_buf(),
            graph_load: GraphLoad::Background,
            ..EngineOptions::default()
        },
        &|_| {},
    )
    .expect("open engine");
    engine.wait_for_graph().expect("graph loads");
    assert_eq!(engine.graph().expect("graph").sorted_ntriples().expect("triples"), triples);
}

#[test]
fn closing_an_engine_while_its_graph_loads_releases_the_data_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    open(dir.path()).ingest(&records(&fixture()), "test", &|_| {}).expect("ingest");
    let options = EngineOptions {
        data_dir: dir.path().to_path_buf(),
        graph_load: GraphLoad::Background,
        graph_gate: Some(graph::LoadGate::new()),
        ..EngineOptions::default()
    };
    drop(Engine::open(options, &|_| {}).expect("open engine"));
    assert!(open(dir.path()).graph().is_some());
}

#[test]
fn a_thesaurus_edit_changes_segmentation_and_synonyms_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path());
    engine.ingest(&records(&fixture()), "test", &|_| {}).expect("ingest");
    let search = |q: &str| engine.search(&SearchRequest { q: q.into(), ..Default::default() }).expect("search");

    // Thesaurus words segment whole: 通道告警 is an alias of 纵联通道中断.
    assert!(search("保护装置通道告警").terms.contains(&"通道告警".to_string()));
    // A colloquial word nobody has curated yet: split by jieba, linked to nothing.
    let before = search("通道闪断");
    assert!(!before.terms.contains(&"通道闪断".to_string()), "{:?}", before.terms);
    assert!(before.linked.is_empty());

    // The editor adds it as an alias of the fault.
    let edited = record(serde_json::json!({"id": "f-channel", "class": "Fault", "version": 2, "label": "纵联通道中断",
        "aliases": ["通道异常", "通道告警", "光纤通道中断", "通道闪断"], "links": {"product": ["pm-gkb-931a"]}}));
    assert_eq!(engine.ingest(&[edited], "editor", &|_| {}).expect("ingest").replaced, 1);

    let after = search("通道闪断");
    assert!(after.terms.contains(&"通道闪断".to_string()), "segmented whole now: {:?}", after.terms);
    assert!(after.linked.iter().any(|l| l.id == "f-channel"), "{:?}", after.linked);
    // The synonyms (the preferred label and the other aliases) find the curated item, whose
    // words the alias shares only in part; the match is explained.
    let hit = after.hits.iter().find(|h| h.id == "kb-tp-channel").expect("the channel item is found");
    assert!(
        hit.explanation.matched_terms.iter().any(|t| t == "纵联通道中断" || t == "通道告警"),
        "{:?}",
        hit.explanation
    );
}

#[test]
fn an_entity_edit_reprojects_the_items_that_link_to_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Without the graph there is no entity linking nor synonym expansion: an item can match the
    // new alias only through its own indexed copy of its linked entities' words.
    let engine = Engine::open(
        EngineOptions { data_dir: dir.path().to_path_buf(), graph: false, ..EngineOptions::default() },
        &|_| {},
    )
    .expect("open engine");
    engine.ingest(&records(&fixture()), "test", &|_| {}).expect("ingest");
    let lexical = |q: &str| {
        let request =
            SearchRequest { q: q.into(), retrievers: Some(vec![search::Retriever::Lexical]), ..Default::default() };
        engine.search(&request).expect("search").hits.into_iter().map(|h| h.id).collect::<Vec<_>>()
    };
    assert!(!lexical("鸣镝失锁").contains(&"kb-tp-channel".to_string()));

    let admin = search::EditContext {
        actor: store::Actor { key_id: None, name: "test".into(), role: "admin".into(), org: None },
        role: search::EditRole::Admin,
        org: None,
    };
    let input: search::EntityInput = serde_json::from_value(serde_json::json!({
        "class": "Fault", "label": "纵联通道中断",
        "aliases": ["通道异常", "通道告警", "光纤通道中断", "鸣镝失锁"],
        "links": {"product": ["pm-gkb-931a"]}
    }))
    .expect("input");
    let outcome = engine.update_entity(&admin, "f-channel", 1, input.clone()).expect("update");
    assert_eq!(outcome.entity.version, 2);
    // The items linking to f-channel now carry its new alias.
    assert!(lexical("鸣镝失锁").contains(&"kb-tp-channel".to_string()));
    // A stale version is refused and changes nothing.
    assert!(matches!(
        engine.update_entity(&admin, "f-channel", 1, input.clone()),
        Err(search::EditError::VersionConflict { current: 2, .. })
    ));
    // Relations come from the ontology.
    let mut bad = input;
    bad.links.insert("made_of".into(), vec!["pm-gkb-931a".into()]);
    let Err(search::EditError::Invalid(field)) = engine.update_entity(&admin, "f-channel", 2, bad) else {
        panic!("an unknown relation is refused");
    };
    assert_eq!(field.field, "links.made_of");
}

/// A small knowledge base for the duplicate check: a case recorded twice, an answer standard
/// for one situation, and unrelated items.
fn duplicate_fixture() -> Vec<Record> {
    let case_body = "2024年3月5日，某供电公司110kV变电站一台GKB-931A报“纵联通道告警”。现场检查发现光纤尾纤在屏后弯折，\
                     收信光功率比投运记录低了8dB。更换尾纤并清洁法兰盘后，通道恢复正常，差动保护重新投入。\
                     从报修到恢复历时约6小时，回访客户满意。";
    let recorded_again = format!("{}\n（本条由县服务网点根据同一工单补录。）", case_body.replacen("现场", "到站", 1));
    [
        serde_json::json!({"class":"ProductLine","id":"pl-line-prot","label":"线路保护装置"}),
        serde_json::json!({"class":"ProductModel","id":"pm-gkb-931a","label":"GKB-931A 线路保护装置","links":{"line":["pl-line-prot"]},"attrs":{"code":"GKB-931A"}}),
        serde_json::json!({"class":"ProductModel","id":"pm-gkb-931b","label":"GKB-931B 线路保护装置","links":{"line":["pl-line-prot"]},"attrs":{"code":"GKB-931B"}}),
        serde_json::json!({"class":"Fault","id":"f-channel","label":"纵联通道中断"}),
        serde_json::json!({"class":"Fault","id":"f-ct-break","label":"CT断线"}),
        serde_json::json!({"id":"kb-sc-1","kind":"solved_case","title":"2024年GKB-931A纵联通道告警故障处理","body":case_body,
            "products":["pm-gkb-931a"],"faults":["f-channel"],"category":"fault_repair","status":"published"}),
        serde_json::json!({"id":"kb-sc-2","kind":"solved_case","title":"2024年GKB-931A纵联通道告警故障处理（补录）","body":recorded_again,
            "products":["pm-gkb-931a"],"faults":["f-channel"],"category":"fault_repair","status":"published",
            "tags":["near-duplicate-of:kb-sc-1"]}),
        serde_json::json!({"id":"kb-as-channel","kind":"answer_standard","title":"用户反映保护通道告警时的应答",
            "body":"「请您先不要复归告警，告诉我装置面板上亮的是哪几个灯。通道告警期间差动保护可能退出，请按调度要求处理，我们的工程师会在两小时内联系您。」",
            "products":["pm-gkb-931a"],"faults":["f-channel"],"category":"fault_repair","status":"published"}),
        serde_json::json!({"id":"kb-br-invoice","kind":"business_rule","title":"发票重开的办理规则",
            "body":"发票抬头或税号有误的，客户在开票后三十日内提出，凭原发票和更正后的开票信息申请重开，财务部门五个工作日内办结。",
            "category":"service_request","status":"published"}),
    ]
    .into_iter()
    .map(record)
    .collect()
}

#[test]
fn duplicate_check_finds_the_copy_with_reasons_and_reports_a_second_answer_standard() {
    use search::{DraftText, Reason};
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path());
    let records = duplicate_fixture();
    engine.ingest(&records, "test", &|_| {}).expect("ingest");
    let item = |id: &str| match records.iter().find(|r| r.id() == id) {
        Some(Record::Item(item)) => item.clone(),
        _ => panic!("{id} is an item of the fixture"),
    };

    // The copy finds its original, with its reasons, and never itself or an unrelated item.
    let check = engine.check_item(&DraftText::from(&item("kb-sc-2"))).expect("check");
    let ids: Vec<&str> = check.possible_duplicates.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["kb-sc-1"], "{check:#?}");
    let found = &check.possible_duplicates[0];
    assert!(found.similarity >= search::limits::DUPLICATE_THRESHOLD && found.similarity <= 1.0, "{found:?}");
    assert_eq!((found.kind.as_str(), found.status.as_str()), ("solved_case", "published"));
    assert!(found.why.iter().any(|r| matches!(r, Reason::BodyOverlap { jaccard } if *jaccard > 0.8)), "{found:?}");
    assert!(
        found.why.iter().any(|r| matches!(r, Reason::SharedTitleTerms { terms } if terms.iter().any(|t| t == "通道"))),
        "{found:?}"
    );
    assert!(found.why.contains(&Reason::SameProductAndFault {
        products: vec!["pm-gkb-931a".into()],
        faults: vec!["f-channel".into()]
    }));
    // A case is not a standard: no conflicts for it.
    assert!(check.conflicts.is_empty(), "{check:#?}");
    // And the original finds the copy.
    let back = engine.check_item(&DraftText::from(&item("kb-sc-1"))).expect("check");
    assert_eq!(back.possible_duplicates.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["kb-sc-2"]);

    // The same text about another model is not a duplicate (the same template, another product).
    let other_model = DraftText {
        id: None,
        title: item("kb-sc-1").title.replace("GKB-931A", "GKB-931B"),
        body: item("kb-sc-1").body.replace("GKB-931A", "GKB-931B"),
        products: vec!["pm-gkb-931b".into()],
        ..DraftText::from(&item("kb-sc-1"))
    };
    assert!(engine.check_item(&other_model).expect("check").possible_duplicates.is_empty());

    // An unrelated draft flags nothing.
    let invoice = DraftText {
        id: None,
        title: "充电桩扫码后无法启动充电".into(),
        body: "用户扫码后显示订单创建失败，检查4G信号和平台连接状态。".into(),
        ..DraftText::from(&item("kb-br-invoice"))
    };
    let unrelated = engine.check_item(&invoice).expect("check");
    assert!(unrelated.possible_duplicates.is_empty() && unrelated.conflicts.is_empty(), "{unrelated:#?}");

    // A second answer standard for the same product, fault and category that says something
    // else is a conflict, with the shared situation named; in another category it is not.
    let second = DraftText {
        id: None,
        title: "保护装置通道异常来电的应答口径".into(),
        body: "「通道告警一般是通信设备的问题，请您联系通信专业自行处理，处理完毕后复归装置即可。」".into(),
        ..DraftText::from(&item("kb-as-channel"))
    };
    let check = engine.check_item(&second).expect("check");
    assert!(check.possible_duplicates.iter().all(|d| d.id != "kb-as-channel"), "{check:#?}");
    assert_eq!(check.conflicts.len(), 1, "{check:#?}");
    let conflict = &check.conflicts[0];
    assert_eq!((conflict.id.as_str(), conflict.kind.as_str()), ("kb-as-channel", "answer_standard"));
    assert_eq!(
        (conflict.products.clone(), conflict.faults.clone()),
        (vec!["pm-gkb-931a".to_string()], vec!["f-channel".to_string()])
    );
    assert!(conflict.reason.contains("says something else"), "{}", conflict.reason);
    let consultation = DraftText { category: Some(store::Category::Consultation), ..second.clone() };
    assert!(engine.check_item(&consultation).expect("check").conflicts.is_empty());
    // The standard checked as itself conflicts with nothing.
    assert!(engine.check_item(&DraftText::from(&item("kb-as-channel"))).expect("check").conflicts.is_empty());

    // Nothing to compare: an empty draft is not an error.
    let empty = DraftText { title: String::new(), body: "。".into(), ..second };
    assert_eq!(engine.check_item(&empty).expect("check"), search::ItemCheck::default());
}

// ---- storage that heals: a damaged projection is rebuilt from the store at open ----

/// Hit ids with scores rounded to 1e-4, and the retrievers used.
type Answer = (Vec<(String, i64)>, Vec<String>);

/// What a search answers, reduced to what must not change.
fn answers(engine: &Engine) -> Vec<Answer> {
    ["保护装置通道异常", "充电桩离线", "931保护 通道", "CT断线 告警", "保修期 插件"]
        .iter()
        .map(|q| {
            let response = engine.search(&SearchRequest { q: (*q).into(), ..Default::default() }).expect("search");
            let hits = response.hits.into_iter().map(|h| (h.id, (h.score * 1e4).round() as i64)).collect();
            (hits, response.retrievers)
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The largest file of a segment the index's meta.json names (a file of an older, merged-away
/// segment may still lie in the directory; damaging it would change nothing).
fn largest_segment_file(dir: &Path) -> PathBuf {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("lexical/meta.json")).expect("meta.json")).expect("json");
    let live: Vec<String> = meta["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .map(|s| s["segment_id"].as_str().expect("segment id").replace('-', ""))
        .collect();
    std::fs::read_dir(dir.join("lexical"))
        .expect("lexical dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_stem().is_some_and(|stem| live.iter().any(|id| stem.to_string_lossy() == *id)))
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a segment file")
}

#[test]
fn every_damage_to_the_lexical_index_is_rebuilt_from_the_store_with_the_same_answers() {
    let base = tempfile::tempdir().expect("tempdir");
    let before = {
        let engine = open(base.path());
        engine.ingest(&records(&fixture()), "test", &|_| {}).expect("ingest");
        assert!(engine.repairs().is_empty(), "{:?}", engine.repairs());
        answers(&engine)
    };
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 5] = [
        ("deleted directory", |d| std::fs::remove_dir_all(d.join("lexical")).expect("remove")),
        ("garbage meta.json", |d| std::fs::write(d.join("lexical/meta.json"), b"{not json at all").expect("write")),
        ("empty meta.json", |d| std::fs::write(d.join("lexical/meta.json"), b"").expect("write")),
        ("truncated segment file", |d| {
            let file = largest_segment_file(d);
            let len = std::fs::metadata(&file).expect("metadata").len();
            std::fs::OpenOptions::new().write(true).open(&file).expect("open").set_len(len / 2).expect("truncate");
        }),
        ("flipped bytes inside a segment file", |d| {
            let file = largest_segment_file(d);
            let mut bytes = std::fs::read(&file).expect("read");
            let middle = bytes.len() / 2;
            for b in &mut bytes[middle..middle + 8] {
                *b ^= 0xA5;
            }
            std::fs::write(&file, bytes).expect("write");
        }),
    ];
    for (name, damage) in damages {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(base.path(), dir.path());
        damage(dir.path());
        let engine = open(dir.path());
        let repairs = engine.repairs();
        assert!(repairs.iter().any(|r| r.contains("lexical index rebuilt")), "{name}: {repairs:?}");
        assert_eq!(answers(&engine), before, "{name}: the rebuilt index answers as before");
        let stats = engine.stats().expect("stats");
        assert_eq!((stats.indexed_items, stats.lexical_seq), (9, stats.store_seq), "{name}");
        drop(engine);
        // The rebuilt index is sound: the next start has nothing to repair.
        assert!(open(dir.path()).repairs().is_empty(), "{name}: healed for good");
    }
}

#[test]
fn one_process_at_a_time_opens_a_data_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path());
    engine.ingest(&records(&fixture()), "test", &|_| {}).expect("ingest");
    let second =
        Engine::open(EngineOptions { data_dir: dir.path().to_path_buf(), ..EngineOptions::default() }, &|_| {})
            .expect_err("the data directory is in use");
    assert!(second.to_string().contains("another gridkb process"), "{second}");
    drop(engine);
    let mut lock = search::DataDirLock::acquire(dir.path()).expect("free after the engine closed");
    lock.remove_projections().expect("remove projections under the lock");
    assert!(!dir.path().join("lexical").exists());
    let engine = Engine::open_locked(
        lock,
        EngineOptions { data_dir: dir.path().to_path_buf(), ..EngineOptions::default() },
        &|_| {},
    )
    .expect("open with the lock held");
    assert!(dir.path().join("lexical/meta.json").exists());
    assert!(engine.repairs().is_empty(), "a rebuild asked for is no repair: {:?}", engine.repairs());
    drop(engine);
}

#[test]
fn knowledge_stats_count_a_small_fixture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path());
    let mut all = records(&fixture());
    all.push(record(serde_json::json!({"id": "t-1", "class": "Ticket", "label": "931保护通道告警来电"})));
    // Same body as kb-as-praise: 10 items, 9 distinct bodies.
    let praise = all.iter().find_map(|r| match r {
        Record::Item(item) if item.id == "kb-as-praise" => Some(item.body.clone()),
        _ => None,
    });
    all.push(record(serde_json::json!({
        "id": "kb-as-praise-2", "kind": "answer_standard", "title": "表扬受理（副本）",
        "body": praise.expect("fixture item"), "category": "praise"
    })));
    engine.ingest(&all, "test", &|_| {}).expect("ingest");
    let stats = engine.knowledge_stats().expect("stats");
    assert_eq!(stats.items.total, 10);
    assert_eq!(stats.items.by_kind["technical_point"], 4);
    assert_eq!(stats.items.by_kind["answer_standard"], 3);
    assert_eq!(stats.items.by_status["published"], 9);
    assert_eq!(stats.items.by_status["draft"], 1);
    assert_eq!(stats.items.by_category["fault_repair"], 6);
    assert_eq!(stats.items.by_category["praise"], 2);
    assert_eq!(stats.items.by_product_line["pl-line-prot"], 5);
    assert_eq!(stats.items.by_product_line["pl-ev"], 2);
    assert_eq!(stats.items.by_product_line[search::knowledge_stats::NO_PRODUCT_LINE], 4);
    assert_eq!(stats.entities.total, 8);
    assert_eq!(stats.entities.by_class["Fault"], 3);
    assert_eq!(stats.entities.by_class["Ticket"], 1);
    assert_eq!(stats.tickets, 1);
    assert!((stats.distinct_text_ratio - 0.9).abs() < 1e-9, "{}", stats.distinct_text_ratio);
    assert_eq!(stats.seq.store, 18);
    assert_eq!(stats.seq.lexical, 18);
    assert!(stats.triples.is_some_and(|t| t > 18), "{:?}", stats.triples);
    assert_eq!(stats.vectors, None, "no model, no saved vector index");
    assert!(stats.disk.entries["records.redb"] > 0);
    assert!(stats.disk.entries["lexical"] > 0);
    assert_eq!(stats.disk.total_bytes, stats.disk.entries.values().sum::<u64>());
}

#[cfg(unix)]
#[test]
fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    open(&data).ingest(&records(&fixture()), "test", &|_| {}).expect("ingest");
    assert_eq!(std::fs::metadata(&data).expect("metadata").permissions().mode() & 0o777, 0o700);
}

#[test]
fn a_search_abandoned_by_its_caller_stops_and_one_past_its_deadline_is_partial() {
    use search::rag::{DifyRequest, RetrieveRequest};
    use search::{Error, Stop, TicketRequest};
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path());
    engine.ingest(&records(&fixture()), "test", &|_| {}).expect("ingest");
    let query = "通道告警";
    let far = || Stop::after(Duration::from_secs(3600));

    // In time: the same answers as the plain calls.
    let request = SearchRequest { q: query.into(), ..Default::default() };
    let full = engine.search_until(&request, &far()).expect("search");
    assert!(!full.hits.is_empty() && !full.partial, "{full:?}");
    assert_eq!(
        full.hits.iter().map(|h| &h.id).collect::<Vec<_>>(),
        engine.search(&request).expect("search").hits.iter().map(|h| &h.id).collect::<Vec<_>>()
    );

    // Abandoned: every search-side call ends with `Abandoned` and no answer.
    let gone = far();
    gone.abandon();
    assert!(matches!(engine.search_until(&request, &gone), Err(Error::Abandoned)));
    let ticket = TicketRequest { text: format!("客户反映{query}，请处理"), ..Default::default() };
    assert!(engine.match_ticket_until(&ticket, &far()).is_ok());
    assert!(matches!(engine.match_ticket_until(&ticket, &gone), Err(Error::Abandoned)));
    let retrieve = RetrieveRequest { query: query.into(), ..Default::default() };
    assert!(engine.retrieve_until(&retrieve, &far()).is_ok());
    assert!(matches!(engine.retrieve_until(&retrieve, &gone), Err(Error::Abandoned)));
    let dify = DifyRequest { knowledge_id: "default".into(), query: query.into(), ..Default::default() };
    assert!(!engine.dify_retrieve_until(&dify, &far()).expect("dify").records.is_empty());
    assert!(matches!(engine.dify_retrieve_until(&dify, &gone), Err(Error::Abandoned)));

    // Past the deadline before it starts: the stages after BM25 are skipped and the answer is
    // flagged partial (hits without snippets rather than no answer).
    let late = engine.search_until(&request, &Stop::after(Duration::ZERO)).expect("late search");
    assert!(late.partial, "{late:?}");
    assert!(late.hits.iter().all(|h| h.explanation.graph.is_none()), "graph expansion ran: {late:?}");
}

/// The guidance items' declarations are resolved once and kept (`guidance_table.rs`): every
/// change to an item or to an entity it declares must reach the next match.
#[test]
fn the_answer_standard_chosen_follows_every_change_to_items_and_entities() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path());
    let mut records = duplicate_fixture();
    records.push(record(serde_json::json!({"class":"ProductLine","id":"pl-ev","label":"充电桩"})));
    records.push(record(serde_json::json!({"id":"kb-as-generic","kind":"answer_standard",
        "title":"故障报修受理标准用语","body":"「您好，请您说一下设备型号和故障现象，我们马上为您处理。」",
        "category":"fault_repair","status":"published"})));
    engine.ingest(&records, "test", &|_| {}).expect("ingest");
    let chosen = |engine: &Engine| {
        let ticket = search::TicketRequest {
            text: "GKB-931A 纵联通道中断，差动保护退出了".into(),
            ..Default::default()
        };
        let matched = engine.match_ticket(&ticket).expect("match");
        assert_eq!(matched.category.minor, "fault_repair", "{:?}", matched.category);
        matched.answer_standard.map(|a| (a.id, a.reason)).expect("an answer standard")
    };
    let (id, reason) = chosen(&engine);
    assert_eq!(id, "kb-as-channel", "{reason}");
    assert!(reason.contains("纵联通道中断"), "{reason}");

    // The script now declares another fault: it no longer applies.
    let mut changed = serde_json::json!({"id":"kb-as-channel","kind":"answer_standard","version":2,
        "title":"用户反映保护通道告警时的应答","body":"「请您先不要复归告警。」",
        "products":["pm-gkb-931a"],"faults":["f-ct-break"],"category":"fault_repair","status":"published"});
    engine.ingest(&[record(changed.clone())], "test", &|_| {}).expect("ingest");
    assert_eq!(chosen(&engine).0, "kb-as-generic");

    // Back to the channel fault, but the model it names now belongs to the charger line: an item
    // for another line is refused, so the entity's change must be seen too.
    changed["version"] = 3.into();
    changed["faults"] = serde_json::json!(["f-channel"]);
    changed["products"] = serde_json::json!(["pm-gkb-931b"]);
    engine.ingest(&[record(changed)], "test", &|_| {}).expect("ingest");
    assert_eq!(chosen(&engine).0, "kb-as-channel");
    let moved = serde_json::json!({"class":"ProductModel","id":"pm-gkb-931b","version":2,"label":"GKB-931B 线路保护装置",
        "links":{"line":["pl-ev"]},"attrs":{"code":"GKB-931B"}});
    engine.ingest(&[record(moved)], "test", &|_| {}).expect("ingest");
    assert_eq!(chosen(&engine).0, "kb-as-generic");
}

/// Past tickets teach the category (`category_model.rs`): a ticket without cue words is filed as
/// the tickets it is written like were, the model is kept in the data directory and learned again
/// at the next open, and a set naming one category is refused without touching what was kept.
#[test]
fn past_tickets_teach_the_category_and_are_kept_across_a_restart() {
    use search::KeepHistory;
    use search::category_model::LabelledTicket;
    use store::Category;

    let dir = tempfile::tempdir().expect("tempdir");
    let ticket =
        search::TicketRequest { text: "保护装置的屏幕字体能不能再大一点".into(), ..Default::default() };
    fn past(text: &str, category: Category, n: usize) -> impl Iterator<Item = LabelledTicket> + '_ {
        (0..n).map(move |i| LabelledTicket { id: format!("{}-{i}", category.code()), text: text.to_string(), category })
    }
    let tickets: Vec<LabelledTicket> = past("屏幕字体能不能再大一点，看不清", Category::Suggestion, 4)
        .chain(past("保护装置黑屏，运行灯不亮", Category::FaultRepair, 4))
        .collect();
    {
        let engine = open(dir.path());
        engine.ingest(&records(&fixture()), "test", &|_| {}).expect("ingest");
        let before = engine.match_ticket(&ticket).expect("match");
        assert_eq!(before.category.minor, "fault_repair", "{:?}", before.category);
        assert!(before.category.learned.is_empty());

        let report = engine.learn_categories(&tickets, KeepHistory::Save).expect("learn");
        assert_eq!(report.learned, 8);
        assert_eq!(report.per_category.get("suggestion"), Some(&4));
        let after = engine.match_ticket(&ticket).expect("match");
        assert_eq!(after.category.minor, "suggestion", "{:?}", after.category);
        assert_eq!(after.category.learned.first().map(|s| s.category.as_str()), Some("suggestion"));

        let one = past("黑屏", Category::FaultRepair, 3).collect::<Vec<_>>();
        assert!(matches!(engine.learn_categories(&one, KeepHistory::Save), Err(search::Error::InvalidRequest { .. })));
        let mut long = tickets.clone();
        long[0].text = "长".repeat(engine.limits().max_ticket_chars + 1);
        assert!(matches!(engine.learn_categories(&long, KeepHistory::Save), Err(search::Error::InvalidRequest { .. })));
    }
    let engine = open(dir.path());
    assert_eq!(engine.learned_categories().map(|m| m.len()), Some(8));
    assert_eq!(engine.match_ticket(&ticket).expect("match").category.minor, "suggestion");
    drop(engine);

    // A damaged file stops the open with its name and the line, rather than serving without it.
    let layout = search::DataLayout::new(dir.path());
    std::fs::write(layout.ticket_history_file(), "{\"text\":\"x\",\"category\":\"nonsense\"}\n").expect("write");
    let e = Engine::open(EngineOptions { data_dir: dir.path().to_path_buf(), ..EngineOptions::default() }, &|_| {})
        .expect_err("a damaged history is refused");
    assert!(e.to_string().contains("line 1") && e.to_string().contains("ticket_history.jsonl"), "{e}");
}
