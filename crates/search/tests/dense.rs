//! Dense retrieval and fusion with the real default model (scripts/fetch-model.sh).

use std::path::{Path, PathBuf};

use embed::{EmbedConfig, LongText};
use search::{Engine, EngineOptions, FilterField, Fusion, Limits, ModelChoice, Retriever, SearchRequest};
use store::Record;

fn model_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/m3e-small");
    assert!(dir.join("config.json").is_file(), "the default model is missing: run scripts/fetch-model.sh first");
    dir
}

fn records() -> Vec<Record> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mini.jsonl");
    let batch = ingest::read_paths(&[fixture]).expect("fixture readable");
    batch.records.into_iter().map(|(_, r)| r).collect()
}

fn open(dir: &Path, model: Option<ModelChoice>) -> Engine {
    // These tests compare answers, not timings: a search waits for its query embedding however
    // loaded the machine is (under the default budget, a CI machine running eight of these tests
    // beside other work answered without dense results once).
    let limits = Limits { query_embed_budget_ms: 120_000, ..Limits::default() };
    Engine::open(EngineOptions { data_dir: dir.to_path_buf(), model, limits, ..EngineOptions::default() }, &|_| {})
        .expect("open engine")
}

fn search(engine: &Engine, q: &str, retrievers: Option<Vec<Retriever>>) -> search::SearchResponse {
    engine.search(&SearchRequest { q: q.into(), retrievers, ..Default::default() }).expect("search")
}

#[test]
fn dense_finds_by_meaning_and_fusion_explains_every_hit() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), Some(ModelChoice::Required(model_dir())));
    engine.ingest(&records(), "test", &|_| {}).unwrap();

    let behind = search(&engine, "充电桩扫码后一直充不上电", None);
    assert!(behind.degraded.as_deref().is_some_and(|d| d.contains("embeddings")), "{:?}", behind.degraded);

    let embedded = engine.catch_up_vectors(&|_| {}).unwrap();
    assert_eq!(embedded, 9, "every item is embedded, entities are not");
    assert_eq!(engine.catch_up_vectors(&|_| {}).unwrap(), 0, "nothing left to embed");

    let dense = search(&engine, "充电桩掉线了，扫码充不上电", Some(vec![Retriever::Dense]));
    assert_eq!(dense.retrievers, ["dense"]);
    assert_eq!(dense.hits[0].id, "kb-tp-ev-offline", "{:#?}", dense.hits);
    assert!(dense.hits[0].explanation.semantic.is_some_and(|s| s.rank == 1 && s.score > 0.5));
    assert!(dense.hits.iter().all(|h| h.status == "published"), "drafts stay hidden from dense retrieval too");

    let fused = search(&engine, "931保护通道告警怎么处理", None);
    assert_eq!(fused.retrievers, ["lexical", "dense", "graph"]);
    assert!(fused.linked.iter().any(|e| e.id == "pm-gkb-931a"), "{:?}", fused.linked);
    let via_graph = fused.hits.iter().find(|h| h.explanation.graph.is_some()).expect("a hit reached through the graph");
    assert_eq!(via_graph.explanation.graph_path.first().map(String::as_str), Some("pm-gkb-931a"), "{via_graph:#?}");
    assert!(fused.degraded.is_none(), "{:?}", fused.degraded);
    let top = &fused.hits[0];
    assert!(top.explanation.lexical.is_some() && top.explanation.semantic.is_some(), "{top:#?}");
    assert!(fused.hits.windows(2).all(|w| w[0].score >= w[1].score));

    let rrf = engine
        .search(&SearchRequest {
            q: "931保护通道告警".into(),
            fusion: Some(Fusion::Rrf { k: 60.0 }),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rrf.fusion, Fusion::Rrf { k: 60.0 });

    let mut filtered =
        SearchRequest {
            q: "设备坏了怎么修".into(), retrievers: Some(vec![Retriever::Dense]), ..Default::default()
        };
    filtered.filters.insert(FilterField::Kind, vec!["answer_standard".into()]);
    let answers = engine.search(&filtered).unwrap();
    assert!(!answers.hits.is_empty());
    assert!(answers.hits.iter().all(|h| h.kind == "answer_standard"), "{:#?}", answers.hits);
}

#[test]
fn vectors_survive_a_restart_and_follow_edits_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = open(dir.path(), Some(ModelChoice::Required(model_dir())));
        engine.ingest(&records(), "test", &|_| {}).unwrap();
        engine.catch_up_vectors(&|_| {}).unwrap();
    }
    let engine = open(dir.path(), Some(ModelChoice::Required(model_dir())));
    assert_eq!(engine.stats().unwrap().dense.map(|d| d.vectors), Some(9), "vectors reloaded, not recomputed");
    assert_eq!(engine.catch_up_vectors(&|_| {}).unwrap(), 0);

    engine.delete(&["kb-tp-ev-offline"], "test").unwrap();
    assert_eq!(engine.catch_up_vectors(&|_| {}).unwrap(), 0, "a delete embeds nothing");
    let dense = search(&engine, "充电桩掉线了，扫码充不上电", Some(vec![Retriever::Dense]));
    assert!(dense.hits.iter().all(|h| h.id != "kb-tp-ev-offline"));
    assert_eq!(engine.stats().unwrap().dense.map(|d| d.vectors), Some(8));
}

#[test]
fn without_a_model_search_is_lexical_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), Some(ModelChoice::IfPresent(dir.path().join("no-such-model"))));
    engine.ingest(&records(), "test", &|_| {}).unwrap();
    let response = search(&engine, "保护装置通道异常", None);
    assert_eq!(response.retrievers, ["lexical", "graph"]);
    assert!(response.degraded.as_deref().is_some_and(|d| d.contains("fetch-model")), "{:?}", response.degraded);
    assert_eq!(response.hits[0].id, "kb-tp-channel");

    let required = Engine::open(
        EngineOptions {
            data_dir: dir.path().join("other"),
            model: Some(ModelChoice::Required(dir.path().join("no-such-model"))),
            ..EngineOptions::default()
        },
        &|_| {},
    );
    let message = required.expect_err("an explicit model that is missing is an error").to_string();
    assert!(message.contains("fetch-model"), "{message}");
}

/// Two items longer than one window: the query's answer is the last paragraph of `late`, while
/// `early` starts with a paragraph on the same product (installation, not the fault).
fn long_items(engine: &Engine, dir: &Path) -> Vec<Record> {
    let embedder = engine.embedder().expect("a model");
    let filler = [
        "合同签订后十五个工作日内开具增值税专用发票，发票抬头须与合同甲方名称一致。",
        "年度框架协议的结算按季度进行，对账单由双方财务部门盖章确认后生效。",
        "供货范围以技术协议附件为准，备品备件清单随设备一同交付并签收。",
        "质保金为合同总价的百分之五，质保期满且无未决质量问题后一次性无息支付。",
        "变更合同金额须经双方授权代表书面确认，口头承诺不作为结算依据。",
    ];
    // Fill the first window exactly, so the last paragraph is a window of its own.
    let fill = |title: &str, first: &str| {
        let mut body = first.to_string();
        for sentence in filler.iter().cycle() {
            let next = format!("{body}{sentence}");
            if embedder.count_tokens(&format!("{title}\n{next}")).unwrap() > 510 {
                break;
            }
            body = next;
        }
        body
    };
    let answer = "充电桩扫码后充不上电、平台显示离线时，先看桩体屏幕的4G信号，再确认SIM卡流量和平台地址配置；同一站点多台桩同时离线，多为站内路由器或专线故障。";
    let late_title = "服务中心业务规范汇编（一）";
    let late_body = format!("{}\n\n{answer}", fill(late_title, ""));
    let early_title = "服务中心业务规范汇编（二）";
    let early_body = fill(early_title, "直流充电桩应安装在通风良好处，远离易燃物，基础高出地面二百毫米。\n\n");
    let early_body = format!("{early_body}\n\n{}", filler.concat());
    assert!(embedder.count_tokens(&format!("{late_title}\n{late_body}")).unwrap() > 512);
    assert!(embedder.count_tokens(&format!("{early_title}\n{early_body}")).unwrap() > 512);
    let lines = [("kb-long-late", late_title, late_body), ("kb-long-early", early_title, early_body)]
        .map(|(id, title, body)| {
            serde_json::json!({"id": id, "kind": "technical_point", "title": title, "body": body}).to_string()
        })
        .join("\n");
    let path = dir.join("long.jsonl");
    std::fs::write(&path, lines).unwrap();
    ingest::read_paths(&[path]).expect("long items readable").records.into_iter().map(|(_, r)| r).collect()
}

#[test]
fn in_windows_mode_a_long_item_scores_by_its_best_window() {
    let query = "充电桩掉线了，扫码充不上电";
    let ranks = |long_text: LongText| {
        let dir = tempfile::tempdir().unwrap();
        let options = EngineOptions {
            data_dir: dir.path().join("data"),
            model: Some(ModelChoice::Required(model_dir())),
            embed: EmbedConfig { long_text: Some(long_text), ..Default::default() },
            ..EngineOptions::default()
        };
        let engine = Engine::open(options.clone(), &|_| {}).expect("open engine");
        engine.ingest(&long_items(&engine, dir.path()), "test", &|_| {}).unwrap();
        assert_eq!(engine.catch_up_vectors(&|_| {}).unwrap(), 2);
        let ranked = engine.rank(query, Some(Retriever::Dense), None, 10).unwrap();
        drop(engine);
        // The vectors were made under this mode: another mode must not use them.
        let other = if long_text == LongText::Mean { LongText::Windows } else { LongText::Mean };
        let mismatch = Engine::open(
            EngineOptions { embed: EmbedConfig { long_text: Some(other), ..Default::default() }, ..options },
            &|_| {},
        )
        .expect_err("vectors of another long-text mode are refused")
        .to_string();
        assert!(mismatch.contains("gridkb reindex"), "{mismatch}");
        ranked
    };
    // Best window: the item whose last paragraph answers the query comes first.
    assert_eq!(ranks(LongText::Windows), ["kb-long-late", "kb-long-early"]);
    // Its first window alone is about invoices: truncated, the other item wins.
    assert_eq!(ranks(LongText::First), ["kb-long-early", "kb-long-late"]);
}

// ---- storage that heals: a damaged vector index is rebuilt from the store ----

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

/// Dense-only answers, ids with rounded scores.
fn dense_answers(engine: &Engine) -> Vec<Vec<(String, i64)>> {
    ["充电桩掉线了，扫码充不上电", "保护装置通道异常", "客户表扬服务好"]
        .iter()
        .map(|q| {
            search(engine, q, Some(vec![Retriever::Dense]))
                .hits
                .into_iter()
                .map(|h| (h.id, (h.score * 1e4).round() as i64))
                .collect()
        })
        .collect()
}

fn data_file(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir.join("vectors"))
        .expect("vectors dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "bin"))
        .expect("a vector data file")
}

#[test]
fn every_damage_to_the_vector_index_is_rebuilt_from_the_store_with_the_same_answers() {
    let base = tempfile::tempdir().unwrap();
    let before = {
        let engine = open(base.path(), Some(ModelChoice::Required(model_dir())));
        engine.ingest(&records(), "test", &|_| {}).unwrap();
        engine.catch_up_vectors(&|_| {}).unwrap();
        dense_answers(&engine)
    };
    assert!(before.iter().all(|hits| !hits.is_empty()));
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 5] = [
        ("deleted manifest", |d| std::fs::remove_file(d.join("vectors/manifest.json")).unwrap()),
        ("garbage manifest", |d| std::fs::write(d.join("vectors/manifest.json"), b"\x00\x01garbage").unwrap()),
        ("data file failing its checksum", |d| {
            let file = data_file(d);
            let mut bytes = std::fs::read(&file).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 0xFF;
            std::fs::write(&file, bytes).unwrap();
        }),
        ("truncated data file", |d| {
            let file = data_file(d);
            let len = std::fs::metadata(&file).unwrap().len();
            std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(len / 3).unwrap();
        }),
        ("deleted data file", |d| std::fs::remove_file(data_file(d)).unwrap()),
    ];
    for (name, damage) in damages {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.path(), dir.path());
        damage(dir.path());
        let engine = open(dir.path(), Some(ModelChoice::Required(model_dir())));
        assert!(engine.repairs().iter().any(|r| r.contains("vector index rebuilt")), "{name}: {:?}", engine.repairs());
        // Until the background catch-up has rebuilt it, dense results are flagged.
        let during = search(&engine, "充电桩掉线了", None);
        assert!(during.degraded.as_deref().is_some_and(|d| d.contains("damaged")), "{name}: {:?}", during.degraded);
        assert_eq!(engine.catch_up_vectors(&|_| {}).unwrap(), 9, "{name}: every item again (from the cache)");
        assert_eq!(dense_answers(&engine), before, "{name}");
        drop(engine);
        let engine = open(dir.path(), Some(ModelChoice::Required(model_dir())));
        assert!(engine.repairs().is_empty(), "{name}: healed for good: {:?}", engine.repairs());
        assert_eq!(engine.catch_up_vectors(&|_| {}).unwrap(), 0, "{name}");
    }
}

#[test]
fn vectors_of_another_model_are_an_error_not_a_silent_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = open(dir.path(), Some(ModelChoice::Required(model_dir())));
        engine.ingest(&records(), "test", &|_| {}).unwrap();
        engine.catch_up_vectors(&|_| {}).unwrap();
    }
    let other = EmbedConfig { long_text: Some(LongText::Windows), ..EmbedConfig::default() };
    let opened = Engine::open(
        EngineOptions {
            data_dir: dir.path().to_path_buf(),
            model: Some(ModelChoice::Required(model_dir())),
            embed: other,
            ..EngineOptions::default()
        },
        &|_| {},
    );
    // A model id that differs (another long-text mode) is a configuration mistake to report.
    let e = opened.expect_err("vectors of another model id");
    assert!(e.to_string().contains("reindex"), "{e}");
}

#[cfg(unix)]
#[test]
fn vector_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), Some(ModelChoice::Required(model_dir())));
    engine.ingest(&records(), "test", &|_| {}).unwrap();
    engine.catch_up_vectors(&|_| {}).unwrap();
    for file in [dir.path().join("vectors/manifest.json"), data_file(dir.path())] {
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "{}", file.display());
    }
}

#[test]
fn the_engine_embeds_in_the_background_until_its_handle_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let engine = std::sync::Arc::new(open(dir.path(), Some(ModelChoice::Required(model_dir()))));
    engine.ingest(&records(), "test", &|_| {}).unwrap();
    let background = engine.start_background().expect("start");
    assert!(background.has_vector_catch_up());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while engine.stats().unwrap().dense.is_none_or(|s| s.vectors < 9) {
        assert!(std::time::Instant::now() < deadline, "the background catch-up did not embed the items");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let stopped = std::time::Instant::now();
    drop(background);
    assert!(stopped.elapsed() < search::VECTOR_CATCH_UP_INTERVAL, "dropping the handle wakes the resting thread");
    assert_eq!(engine.catch_up_vectors(&|_| {}).unwrap(), 0, "nothing left to embed");

    let without_model = std::sync::Arc::new(open(tempfile::tempdir().unwrap().path(), None));
    assert!(!without_model.start_background().expect("start").has_vector_catch_up());
}
