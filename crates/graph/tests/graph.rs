//! The graph on a real record store: load, replace, reload, link, expand, query.

use std::path::Path;
use std::time::Instant;

use graph::{Graph, Thesaurus};
use store::{Record, Store};
use tempfile::TempDir;

/// Every record of the authored demo corpus (entities and items).
fn corpus_records() -> Vec<Record> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/authored");
    let mut files = Vec::new();
    for dir in ["entities", "items"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("corpus dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "jsonl") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut records = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read");
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let record: Record =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1));
            records.push(record);
        }
    }
    records
}

fn store_with(records: &[Record]) -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("store.redb")).expect("store");
    for chunk in records.chunks(500) {
        store.upsert(chunk, "test").expect("upsert");
    }
    (dir, store)
}

fn record(json: &str) -> Record {
    let record: Record = serde_json::from_str(json).expect("record");
    record.validate().expect("valid record");
    record
}

/// Small customer / contract / device / case world next to a few corpus-like products.
fn fixture_records() -> Vec<Record> {
    [
        r#"{"id":"pl-line-protection","class":"ProductLine","label":"线路保护装置","aliases":["线路保护","线保"]}"#,
        r#"{"id":"pm-gkb-931a","class":"ProductModel","label":"GKB-931A 线路纵联电流差动保护装置","aliases":["931保护","gkb931a"],"links":{"line":["pl-line-protection"]},"attrs":{"code":"GKB-931A"}}"#,
        r#"{"id":"comp-gkb-psu","class":"Component","label":"GKB系列 电源插件","aliases":["电源插件","电源板"],"links":{"model":["pm-gkb-931a"]}}"#,
        r#"{"id":"f-ct-break","class":"Fault","label":"CT断线","aliases":["电流回路断线"],"links":{"product":["pm-gkb-931a"],"cause":["cause-ct-loose"],"solution":["sol-check-ct"]}}"#,
        r#"{"id":"cause-ct-loose","class":"Cause","label":"CT端子松动","links":{"fault":["f-ct-break"]}}"#,
        r#"{"id":"sol-check-ct","class":"Solution","label":"检查CT二次回路","links":{"fault":["f-ct-break"]}}"#,
        r#"{"id":"c-cat-fault-repair","class":"Concept","label":"故障报修","aliases":["报修","坏了"],"attrs":{"scheme":"service_category","major":"fault_repair","category":"fault_repair"}}"#,
        r#"{"id":"org-p01","class":"Organisation","label":"东江省电力公司","attrs":{"level":"province","region":"东江省"}}"#,
        r#"{"id":"cust-1","class":"Customer","label":"东江省电力公司霁州供电公司","aliases":["霁州供电公司"],"links":{"org":["org-p01"],"contract":["k-1","k-2"]},"attrs":{"level":"city","tags":["停电敏感","重要客户"]}}"#,
        r#"{"id":"k-1","class":"Contract","label":"HT-2023-001 霁州供电公司保护改造","aliases":["HT-2023-001"],"links":{"customer":["cust-1"],"model":["pm-gkb-931a"],"device":["dev-gkb2303a00001"]},"attrs":{"number":"HT-2023-001","warranty_start":"2023-06-01","warranty_end":"2026-02-15","serials":["GKB2303A00001"]}}"#,
        r#"{"id":"k-2","class":"Contract","label":"HT-2021-007 霁州供电公司备品","aliases":["HT-2021-007"],"links":{"customer":["cust-1"],"model":["pm-gkb-931a"],"device":["dev-gkb2103b00002"]},"attrs":{"number":"HT-2021-007","warranty_start":"2021-03-01","warranty_end":"2025-10-31","serials":["GKB2103B00002"]}}"#,
        r#"{"id":"k-3","class":"Contract","label":"HT-2025-010 霁州供电公司新站","links":{"customer":["cust-1"],"model":["pm-gkb-931a"]},"attrs":{"number":"HT-2025-010","warranty_start":"2025-09-01","warranty_end":"2028-08-31"}}"#,
        r#"{"id":"dev-gkb2303a00001","class":"Device","label":"GKB2303A00001 GKB-931A 220kV霁州变","aliases":["GKB2303A00001"],"links":{"model":["pm-gkb-931a"],"contract":["k-1"],"customer":["cust-1"]},"attrs":{"serial":"GKB2303A00001","warranty_end":"2026-02-15","commissioned":"2023-07-01"}}"#,
        r#"{"id":"dev-gkb2103b00002","class":"Device","label":"GKB2103B00002 GKB-931A 110kV东门变","aliases":["GKB2103B00002"],"links":{"model":["pm-gkb-931a"],"contract":["k-2"],"customer":["cust-1"]},"attrs":{"serial":"GKB2103B00002","warranty_end":"2025-10-31"}}"#,
        r#"{"id":"case-1","class":"Case","label":"霁州变931A CT断线","links":{"device":["dev-gkb2303a00001"],"product":["pm-gkb-931a"],"fault":["f-ct-break"],"solution":["sol-check-ct"]},"attrs":{"date":"2025-03-02"}}"#,
        r#"{"id":"kb-case-1","kind":"solved_case","title":"霁州变GKB-931A报CT断线，端子松动紧固后恢复","body":"现象、原因、处理。","products":["pm-gkb-931a"],"faults":["f-ct-break","cause-ct-loose","sol-check-ct"],"customers":["cust-1"],"contracts":["k-1"],"cases":["case-1"],"category":"fault_repair"}"#,
        r#"{"id":"kb-tp-ct-break-01","kind":"technical_point","title":"CT断线：现象、检查与处理","body":"检查二次回路。","products":["pl-line-protection"],"faults":["f-ct-break"],"cites":["kb-reg-old"],"category":"fault_repair"}"#,
        r#"{"id":"kb-as-fault-repair-01","kind":"answer_standard","title":"故障报修受理","body":"您好，请说一下装置型号。","category":"fault_repair"}"#,
        r#"{"id":"kb-pd-931a","kind":"product_doc","title":"GKB-931A 产品概述","body":"概述。","products":["pm-gkb-931a"],"cites":["kb-reg-new"]}"#,
        r#"{"id":"kb-reg-old","kind":"regulation","title":"GB/T 14285-2006 继电保护和安全自动装置技术规程","body":"旧版。","superseded_by":"kb-reg-new","products":["pl-line-protection"]}"#,
        r#"{"id":"kb-reg-new","kind":"regulation","title":"GB/T 14285-2023 继电保护和安全自动装置技术规程","body":"新版。","products":["pl-line-protection"]}"#,
        r#"{"id":"kb-retired","kind":"technical_point","title":"已退役的CT断线处理","body":"旧。","faults":["f-ct-break"],"status":"retired"}"#,
    ]
    .into_iter()
    .map(record)
    .collect()
}

#[test]
fn corpus_loads_and_reloads_to_the_same_graph() {
    let records = corpus_records();
    assert!(records.len() > 1800, "{} records", records.len());
    let (_dir, store) = store_with(&records);
    let started = Instant::now();
    let (graph, report) = Graph::load_from_with_report(&store).expect("load");
    let elapsed = started.elapsed();
    println!(
        "authored corpus: {} records, {} triples, loaded in {elapsed:?} (report {} ms)",
        report.records, report.triples, report.millis
    );
    assert_eq!(report.records, records.len() as u64);
    assert_eq!(graph.applied_seq(), store.last_seq().expect("seq"));
    assert!(report.triples > 15_000, "{} triples", report.triples);

    let again = Graph::load_from(&store).expect("reload");
    assert_eq!(again.triple_count().expect("count"), graph.triple_count().expect("count"));
    assert_eq!(again.sorted_ntriples().expect("dump"), graph.sorted_ntriples().expect("dump"));

    let started = Instant::now();
    let thesaurus = Thesaurus::from_graph(&graph).expect("thesaurus");
    let linker = thesaurus.linker();
    println!(
        "thesaurus: {} entries, {} user words, {} synonym groups, linker {} keys, built in {:?}",
        thesaurus.len(),
        thesaurus.user_words().len(),
        thesaurus.synonym_groups().len(),
        linker.key_count(),
        started.elapsed()
    );
    assert_eq!(thesaurus.len(), 1017);
}

#[test]
fn reingest_replaces_an_items_triples_and_catch_up_matches_a_reload() {
    let records = fixture_records();
    let (_dir, store) = store_with(&records);
    let graph = Graph::load_from(&store).expect("load");
    let before = graph.record_ntriples("kb-tp-ct-break-01").expect("triples");
    assert!(before.iter().any(|t| t.contains("ont#cites> <https://gridkb.invalid/id/kb-reg-old>")));

    // A new version drops the citation, changes the title and links a product model instead.
    let edited = record(
        r#"{"id":"kb-tp-ct-break-01","kind":"technical_point","title":"CT断线处理（修订）","body":"检查二次回路。","products":["pm-gkb-931a"],"faults":["f-ct-break"],"category":"fault_repair","version":2}"#,
    );
    store.upsert(std::slice::from_ref(&edited), "test").expect("upsert");
    store.delete(&["kb-retired"], "test").expect("delete");
    let caught_up = graph.catch_up(&store, 100).expect("catch up");
    let reached = caught_up.seq;
    assert_eq!(reached, store.last_seq().expect("seq"));
    assert!(!caught_up.thesaurus_changed, "only items changed");
    assert_eq!(graph.applied_seq(), reached);

    let after = graph.record_ntriples("kb-tp-ct-break-01").expect("triples");
    assert!(!after.iter().any(|t| t.contains("kb-reg-old")), "{after:#?}");
    assert!(!after.iter().any(|t| t.contains("现象、检查与处理")), "old title left: {after:#?}");
    assert_eq!(after.iter().filter(|t| t.contains("purl.org/dc/terms/title")).count(), 1);
    assert!(after.iter().any(|t| t.contains("\"2\"^^<http://www.w3.org/2001/XMLSchema#integer>")));
    assert!(graph.record_ntriples("kb-retired").expect("triples").is_empty());

    // The incrementally updated graph equals one rebuilt from the store.
    let reloaded = Graph::load_from(&store).expect("reload");
    assert_eq!(reloaded.sorted_ntriples().expect("dump"), graph.sorted_ntriples().expect("dump"));

    // Applying the same record again changes nothing.
    let count = graph.triple_count().expect("count");
    let applied = graph.apply(&[edited], reached).expect("apply");
    assert!(!applied.thesaurus_changed);
    assert_eq!(graph.triple_count().expect("count"), count);

    // Compaction drops the old versions oxigraph keeps and changes nothing visible.
    assert!(graph.removed_since_load() > 0);
    let before = graph.sorted_ntriples().expect("dump");
    assert_eq!(graph.compact_from(&store).expect("compact"), before.len());
    assert_eq!(graph.removed_since_load(), 0);
    assert_eq!(graph.sorted_ntriples().expect("dump"), before);
    assert_eq!(graph.applied_seq(), store.last_seq().expect("seq"));
}

#[test]
fn readers_never_see_half_a_record() {
    let records = fixture_records();
    let (_dir, store) = store_with(&records);
    let graph = std::sync::Arc::new(Graph::load_from(&store).expect("load"));
    let versions: Vec<Record> = (2..200u32)
        .map(|v| {
            record(&format!(
                r#"{{"id":"kb-pd-931a","kind":"product_doc","title":"GKB-931A 产品概述 v{v}","body":"概述。","products":["pm-gkb-931a"],"version":{v}}}"#
            ))
        })
        .collect();
    let writer = {
        let graph = std::sync::Arc::clone(&graph);
        std::thread::spawn(move || {
            for (i, version) in versions.into_iter().enumerate() {
                let _ = graph.apply(&[version], 1000 + i as u64).expect("apply");
            }
        })
    };
    let title = "<http://purl.org/dc/terms/title>";
    let mut observed = 0;
    while !writer.is_finished() || observed == 0 {
        let lines = graph.record_ntriples("kb-pd-931a").expect("triples");
        let titles = lines.iter().filter(|l| l.contains(title)).count();
        assert_eq!(titles, 1, "a reader saw {titles} titles: {lines:#?}");
        observed += 1;
    }
    writer.join().expect("writer");
    assert_eq!(graph.applied_seq(), 1000 + 197);
}

/// Ticket phrases as customers and field engineers type them: colloquial names, loose codes,
/// full-width and traditional characters, several entities in one sentence.
const TICKET_PHRASES: &[&str] = &[
    "我们站的gkb931a报CT断线了",
    "GKB 931A 通道告警，差动退出了",
    "931保护面板告警灯亮",
    "ＧＫＢ－９３１Ａ装置闭锁",
    "931A保护跳闸后重合闸没动作",
    "智能站931装置SV断链",
    "902保护测距不准，故障点找不到",
    "gkb-951 液晶坏了，按键失灵",
    "778主变保护差流大",
    "GKT778A 差流越限告警一直在报",
    "915母差复压闭锁开放",
    "110母差pt断了",
    "611综保跳闸了，用户说没电了",
    "10kV线路保护开入异常",
    "630测控遥控不成功",
    "gkc631a遥信抖动",
    "合智一体装置GOOSE断链",
    "811MU失步，采样不同步",
    "862智能终端控制回路断线",
    "3000后台告警没声音",
    "一体化监控数据库连不上",
    "851远动 104通道中断，主站收不到数据",
    "通讯管理机和保护通信中断",
    "地调主站遥测跳变",
    "配网主站 开关遥控不动",
    "DTU300 环网柜遥控失败",
    "柱上FTU离线了",
    "集中器掉线，台区抄不上表",
    "I型集中器HPLC模块坏了",
    "专变终端频繁重启",
    "单相表走得快，电费突然变高",
    "三相表开盖告警",
    "关口表ESAM模块异常",
    "120快充桩充电时报绝缘异常",
    "家用充电桩刷卡不好使",
    "群充 充电中突然停了，急停按下了",
    "7千瓦桩预约充电没充",
    "110K逆变器中午发电量掉，逆变器发烫",
    "gkn50k 组串电流为零",
    "集中式逆变器IGBT故障",
    "1725PCS 液冷故障",
    "工商业PCS绝缘告警",
    "油色谱在线监测载气瓶没气了",
    "特高频局放传感器掉线",
    "避雷器在线监测没数据",
    "2000录波频繁录波",
    "网分录波一体装置硬盘满了",
    "北斗主钟GPS模块收不到卫星",
    "9110扩展时钟B码对时异常",
    "II型网安告警频发，USB插拔告警",
    "百兆纵向加密装置丢包",
    "千兆纵向 隧道建不起来",
    "651备自投没动作",
    "220直流屏直流接地，绝缘监察报警",
    "直流系统充电模块故障",
    "裝置異常，CT斷線",
    "客户很生气，说又坏了，要投诉",
    "停电敏感客户，冷库不能停电",
    "请问质保期多长，过了保修期怎么收费",
    "select ct from table 不是工单",
    "ct变比不对，二次电流偏小",
    "35千伏线路保护通道告警",
    "母线合并单元SV断链",
    "軟壓板沒投，GOOSE出口软压板退出",
    "线保光差通道误码",
];

#[test]
fn entity_linking_on_ticket_phrases() {
    let records = corpus_records();
    let (_dir, store) = store_with(&records);
    let graph = Graph::load_from(&store).expect("load");
    let linker = graph::SharedLinker::new(Thesaurus::from_graph(&graph).expect("thesaurus").linker());
    let linker = linker.current();
    assert!(TICKET_PHRASES.len() >= 50);
    let mut report = String::new();
    let mut linked = 0;
    for phrase in TICKET_PHRASES {
        let links = linker.link(phrase);
        if !links.is_empty() {
            linked += 1;
        }
        report.push_str(phrase);
        report.push('\n');
        for link in &links {
            report.push_str(&format!(
                "    {}..{} {:?} -> {} ({}){}\n",
                link.start,
                link.end,
                link.matched,
                link.id,
                link.class,
                if link.candidates > 1 { format!(" [1 of {}]", link.candidates) } else { String::new() }
            ));
        }
    }
    insta::assert_snapshot!(report);
    assert!(linked >= TICKET_PHRASES.len() - 2, "only {linked} phrases linked");

    // Loose spellings of one model all land on it.
    for text in ["gkb931a", "GKB 931A", "931保护", "ＧＫＢ－９３１Ａ", "Gkb-931a", "931A"] {
        let links = linker.link(text);
        assert_eq!(links.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), vec!["pm-gkb-931a"], "{text}");
    }
}

/// Text that must link nothing: English words and code that happen to spell a short alias
/// (`ct`, `pt`, `it`, `fa`, `soc`, `goose`, `ems` are all in the thesaurus).
const UNLINKED: &[&str] = &[
    "select ct from table 不是工单",
    "select ct, pt from t where it = 1",
    "SELECT CT FROM T",
    "it is broken, please help",
    "let soc = read(pcs); // 注释",
    "the goose flew over the fa cup",
    "ems.send(cc, cp)",
    "var ta = tv + mu;",
];

/// Generic phrases: a kind of device, not one model (they may link the product line).
const GENERIC: &[&str] = &[
    "10kV线路保护开入异常",
    "35千伏线路保护",
    "110母差pt断了",
    "110主变保护",
    "智能站主变保护",
    "家用充电桩刷卡不好使",
    "直流快充桩",
    "集中式逆变器IGBT故障",
    "工商业PCS绝缘告警",
    "I型集中器HPLC模块坏了",
    "柱上FTU离线了",
    "环网柜DTU",
    "母线合并单元",
    "公用测控",
    "电动机综保",
    "10kV备自投",
];

#[test]
fn code_and_generic_phrases_stay_unlinked() {
    let records = corpus_records();
    let (_dir, store) = store_with(&records);
    let graph = Graph::load_from(&store).expect("load");
    let linker = Thesaurus::from_graph(&graph).expect("thesaurus").linker();
    for text in UNLINKED {
        let links: Vec<String> = linker.link(text).into_iter().map(|l| format!("{} {:?}", l.id, l.matched)).collect();
        assert!(links.is_empty(), "{text}: {links:?}");
    }
    for text in GENERIC {
        let links = linker.link(text);
        let models: Vec<&str> =
            links.iter().filter(|l| l.class == store::EntityClass::ProductModel).map(|l| l.id.as_str()).collect();
        assert!(models.is_empty(), "{text} names no model but links {models:?}");
    }
    let ids = |text: &str| linker.link(text).into_iter().map(|l| l.id).collect::<Vec<_>>();
    // The line inside a generic phrase still links.
    assert_eq!(ids("10kV线路保护"), vec!["pl-line-protection"]);
    assert_eq!(ids("家用充电桩"), vec!["pl-ev-charger"]);
    assert_eq!(ids("110母差"), vec!["pl-busbar-protection"]);
    // A qualifier that is the model's own number keeps the model.
    assert_eq!(ids("778主变保护"), vec!["pm-gkt-778a"]);
    assert_eq!(ids("220直流屏"), vec!["pm-gkq-220"]);
    assert_eq!(ids("1.725MW PCS"), vec!["pm-gkr-1725"]);
    // The same abbreviations link where they are meant.
    assert_eq!(ids("CT变比不对"), vec!["c-ct"]);
    assert_eq!(ids("ct变比不对"), vec!["c-ct"]);
    assert_eq!(ids("CT"), vec!["c-ct"]);
    assert!(ids("智能终端IT").contains(&"pl-smart-terminal".to_owned()));
    // A code, a comma, then the abbreviation in Chinese; and beside Chinese past a mark.
    assert_eq!(ids("gkb931a，ct变比不对"), vec!["pm-gkb-931a", "c-ct"]);
    assert_eq!(ids("站里的dtu!pt烧了"), vec!["pl-distribution-terminal", "f-dt-pt-power-fault"]);
}

fn render_expansion(expansion: &graph::Expansion) -> String {
    let mut out = String::new();
    for c in &expansion.candidates {
        out.push_str(&format!("{} {:.3} {:?} {}\n", c.id, c.score, c.kind.map(|k| k.code()), c.title));
        for p in &c.paths {
            let steps: Vec<String> = p.steps.iter().map(|s| format!("{} {}", s.predicate, s.node)).collect();
            out.push_str(&format!("    {:.3} {} -> {}\n", p.weight, p.seed, steps.join(" -> ")));
        }
    }
    out.push_str(&format!("truncated: {}\n", expansion.truncated));
    out
}

#[test]
fn expansion_follows_typed_paths_and_explains_them() {
    let (_dir, store) = store_with(&fixture_records());
    let graph = Graph::load_from(&store).expect("load");
    let linker = Thesaurus::from_graph(&graph).expect("thesaurus").linker();
    let links = linker.link("霁州供电公司的931保护坏了，报CT断线");
    let ids: Vec<&str> = links.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, vec!["cust-1", "pm-gkb-931a", "c-cat-fault-repair", "f-ct-break"]);
    let seeds = graph::Seed::from_links(&links);
    let expansion = graph::expand(&graph, &seeds).expect("expand");
    insta::assert_snapshot!(render_expansion(&expansion));

    let top = &expansion.candidates[0];
    assert_eq!(top.id, "kb-case-1", "the case tied to customer, model and fault comes first");
    let seeds_of_top: std::collections::BTreeSet<&str> = top.paths.iter().map(|p| p.seed.as_str()).collect();
    assert!(seeds_of_top.len() >= 2);
    assert!(expansion.candidates.iter().all(|c| c.id != "kb-retired"), "retired items are not served");
    let answer = expansion.candidates.iter().find(|c| c.id == "kb-as-fault-repair-01").expect("answer standard");
    assert_eq!(answer.paths[0].steps[0].predicate, "skos:exactMatch");
    assert_eq!(answer.paths[0].steps[0].node, "cat:fault_repair");
    // model → line → items about the line.
    let regulation = expansion.candidates.iter().find(|c| c.id == "kb-reg-new").expect("line item");
    assert_eq!(regulation.paths[0].steps[0].predicate, "gk:line");
}

#[test]
fn expansion_from_a_device_and_from_a_fault_chain() {
    let (_dir, store) = store_with(&fixture_records());
    let graph = Graph::load_from(&store).expect("load");
    let from_device =
        graph::expand(&graph, &[graph::Seed { id: "dev-gkb2303a00001".into(), weight: 1.0 }]).expect("expand");
    let case = from_device.candidates.iter().find(|c| c.id == "kb-case-1").expect("case of the device");
    assert!(case.paths.iter().any(|p| p.steps[0].predicate == "gk:model"));
    assert!(case.paths.iter().any(|p| p.steps[0].predicate == "gk:contract"));

    // A solution leads back to its fault and to the items about that fault.
    let from_solution =
        graph::expand(&graph, &[graph::Seed { id: "sol-check-ct".into(), weight: 1.0 }]).expect("expand");
    let point = from_solution.candidates.iter().find(|c| c.id == "kb-tp-ct-break-01").expect("fault item");
    assert_eq!(
        point.paths[0].steps,
        vec![
            graph::PathStep { predicate: "gk:fault".into(), node: "f-ct-break".into() },
            graph::PathStep { predicate: "^gk:fault".into(), node: "kb-tp-ct-break-01".into() },
        ]
    );
    // Hops are bounded: nothing is more than MAX_EXPANSION_HOPS edges away.
    for c in from_solution.candidates.iter().chain(&from_device.candidates) {
        assert!(c.paths.iter().all(|p| p.steps.len() <= graph::limits::MAX_EXPANSION_HOPS));
    }
}

fn day(text: &str) -> graph::Date {
    graph::Date::parse(text).expect("date")
}

#[test]
fn device_by_serial_and_qr_with_warranty_and_history() {
    let (_dir, store) = store_with(&fixture_records());
    let graph = Graph::load_from(&store).expect("load");
    let today = day("2025-12-01");

    let report = graph::device_by_serial(&graph, "gkb2303a00001", today).expect("query").expect("found");
    assert_eq!(report.device.id, "dev-gkb2303a00001");
    assert_eq!(report.serial, "GKB2303A00001");
    assert_eq!(report.model.as_ref().map(|m| m.id.as_str()), Some("pm-gkb-931a"));
    assert_eq!(report.model_code.as_deref(), Some("GKB-931A"));
    assert_eq!(report.line.as_ref().map(|l| l.id.as_str()), Some("pl-line-protection"));
    let contract = report.contract.as_ref().expect("contract");
    assert_eq!((contract.id.as_str(), contract.number.as_deref()), ("k-1", Some("HT-2023-001")));
    let customer = report.customer.as_ref().expect("customer");
    assert_eq!(customer.id, "cust-1");
    assert_eq!(customer.level.as_deref(), Some("city"));
    assert_eq!(customer.tags, vec!["停电敏感", "重要客户"], "sorted");
    assert_eq!(report.warranty, Some(graph::WarrantyState::Expiring { end: day("2026-02-15"), days_left: 76 }));
    let history: Vec<(&str, &str)> = report.history.iter().map(|h| (h.id.as_str(), h.via.as_str())).collect();
    assert_eq!(history, vec![("case-1", "gk:device"), ("kb-case-1", "gk:case")]);
    insta::assert_yaml_snapshot!(report);

    // The same device from QR payloads of several shapes.
    for payload in [
        "https://qr.example.invalid/d?sn=GKB2303A00001&v=2",
        r#"{"sn":"GKB2303A00001","model":"GKB-931A"}"#,
        "SN:GKB2303A00001;MODEL:GKB-931A",
        "型号 GKB-931A 序列号：GKB2303A00001",
    ] {
        let found = graph::device_by_qr(&graph, payload, today).expect("query").expect(payload);
        assert_eq!(found.device.id, "dev-gkb2303a00001", "{payload}");
    }
    assert!(graph::device_by_qr(&graph, "https://example.invalid/nothing", today).expect("query").is_none());
    assert!(graph::device_by_serial(&graph, "NOPE0000", today).expect("query").is_none());
    assert!(graph::device_by_serial(&graph, " ", today).is_err());

    // Warranty states on either side of the window.
    let other = graph::device_by_serial(&graph, "GKB2103B00002", today).expect("query").expect("found");
    assert_eq!(other.warranty, Some(graph::WarrantyState::Expired { end: day("2025-10-31"), days_since: 31 }));
    let early = graph::device_by_serial(&graph, "GKB2303A00001", day("2025-11-01")).expect("query").expect("found");
    assert_eq!(early.warranty, Some(graph::WarrantyState::InWarranty { end: day("2026-02-15"), days_left: 106 }));
    let last_day = graph::device_by_serial(&graph, "GKB2303A00001", day("2026-02-15")).expect("query").expect("found");
    assert_eq!(last_day.warranty, Some(graph::WarrantyState::Expiring { end: day("2026-02-15"), days_left: 0 }));
}

#[test]
fn warranties_expiring_within_n_days() {
    let (_dir, store) = store_with(&fixture_records());
    let graph = Graph::load_from(&store).expect("load");
    let expiring = graph::warranties_expiring(&graph, day("2025-12-01"), 90, 100).expect("query");
    let ids: Vec<(&str, i64)> = expiring.iter().map(|e| (e.contract.id.as_str(), e.days_left)).collect();
    assert_eq!(ids, vec![("k-1", 76)], "expired k-2 and far-off k-3 are not listed");
    assert_eq!(expiring[0].customer.as_ref().map(|c| c.id.as_str()), Some("cust-1"));
    assert_eq!(expiring[0].devices, 1);
    assert_eq!(expiring[0].number.as_deref(), Some("HT-2023-001"));

    let wide = graph::warranties_expiring(&graph, day("2025-10-01"), 3 * 365, 100).expect("query");
    let ids: Vec<&str> = wide.iter().map(|e| e.contract.id.as_str()).collect();
    assert_eq!(ids, vec!["k-2", "k-1", "k-3"], "soonest first");
    assert_eq!(graph::warranties_expiring(&graph, day("2025-10-01"), 3 * 365, 1).expect("query").len(), 1);
    assert!(graph::warranties_expiring(&graph, day("2025-10-01"), -1, 10).is_err());
}

#[test]
fn items_citing_a_superseded_regulation_are_stale() {
    let (_dir, store) = store_with(&fixture_records());
    let graph = Graph::load_from(&store).expect("load");
    let stale = graph::stale_items(&graph, graph::limits::MAX_LISTING).expect("query");
    let rows: Vec<(&str, &str, &str)> =
        stale.iter().map(|s| (s.item.id.as_str(), s.cites.id.as_str(), s.replaced_by.id.as_str())).collect();
    assert_eq!(rows, vec![("kb-tp-ct-break-01", "kb-reg-old", "kb-reg-new")]);

    // On the authored corpus: technical points cite regulations, some of them superseded.
    let (_dir2, corpus) = store_with(&corpus_records());
    let graph = Graph::load_from(&corpus).expect("load");
    let stale = graph::stale_items(&graph, graph::limits::MAX_LISTING).expect("query");
    println!("authored corpus: {} stale citations", stale.len());
    assert!(stale.iter().all(|s| s.cites.id != s.replaced_by.id));
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        .map_or(0, |kb| kb / 1024)
}

#[test]
fn sparql_answers_reads_and_refuses_writes() {
    use std::time::Duration;
    let (_dir, store) = store_with(&fixture_records());
    let graph = Graph::load_from(&store).expect("load");
    let second = Duration::from_secs(5);

    let (content_type, body) = graph::sparql(
        &graph,
        "PREFIX gk: <https://gridkb.invalid/ont#> PREFIX gka: <https://gridkb.invalid/attr#>
         SELECT ?contract ?end WHERE { ?contract a gk:Contract ; gka:warranty_end ?end } ORDER BY ?end",
        second,
        100,
    )
    .expect("select");
    assert_eq!(content_type, graph::SPARQL_JSON);
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let ends: Vec<&str> = json["results"]["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .map(|b| b["end"]["value"].as_str().expect("end"))
        .collect();
    assert_eq!(ends, vec!["2025-10-31", "2026-02-15", "2028-08-31"]);

    let (_, body) = graph::sparql(&graph, "ASK { <https://gridkb.invalid/id/k-1> ?p ?o }", second, 10).expect("ask");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).expect("json")["boolean"], true);

    let (content_type, body) = graph::sparql(
        &graph,
        "CONSTRUCT { ?m <https://gridkb.invalid/ont#line> ?l } WHERE { ?m <https://gridkb.invalid/ont#line> ?l }",
        second,
        10,
    )
    .expect("construct");
    assert_eq!(content_type, graph::N_TRIPLES);
    assert_eq!(
        String::from_utf8(body).expect("utf-8").trim(),
        "<https://gridkb.invalid/id/pm-gkb-931a> <https://gridkb.invalid/ont#line> <https://gridkb.invalid/id/pl-line-protection> ."
    );
    let (content_type, body) = graph::sparql_with_syntax(
        &graph,
        "DESCRIBE <https://gridkb.invalid/id/dev-gkb2303a00001>",
        second,
        100,
        graph::GraphSyntax::Turtle,
    )
    .expect("describe");
    assert_eq!(content_type, graph::TURTLE);
    let turtle = String::from_utf8(body).expect("utf-8");
    assert!(turtle.contains("gka:serial \"GKB2303A00001\""), "{turtle}");

    for (query, what) in [
        ("INSERT DATA { <http://a> <http://b> <http://c> }", "UPDATE"),
        ("LOAD <http://example.com/x.ttl>", "LOAD"),
        ("SELECT * { SERVICE <http://example.com/sparql> { ?s ?p ?o } }", "SERVICE"),
    ] {
        match graph::sparql(&graph, query, second, 10) {
            Err(graph::GraphError::Refused { what: refused }) => assert_eq!(refused, what),
            other => panic!("{query}: {other:?}"),
        }
    }
    assert!(matches!(graph::sparql(&graph, "SELECT WHERE", second, 10), Err(graph::GraphError::Syntax(_))));
    assert!(matches!(
        graph::sparql(&graph, "SELECT * { ?s ?p ?o }", second, 10),
        Err(graph::GraphError::ResultCapExceeded { cap: 10 })
    ));
    assert!(matches!(
        graph::sparql(&graph, "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", second, 10),
        Err(graph::GraphError::ResultCapExceeded { cap: 10 })
    ));
    // Nothing was changed by the refused requests.
    let reloaded = Graph::load_from(&store).expect("reload");
    assert_eq!(reloaded.sorted_ntriples().expect("dump"), graph.sorted_ntriples().expect("dump"));
}

/// Queries that would run for hours (or exhaust memory) on the authored corpus, one of each
/// shape that oxigraph's own cancellation does not stop: cross products of solutions already
/// read, and the transitive closures of property paths with open ends (which keep walking what
/// they found after oxigraph's token is cancelled — one ran 16 s against a 5 s deadline).
const RUNAWAYS: [&str; 7] = [
    "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }",
    "SELECT (COUNT(*) AS ?n) WHERE { ?a (<urn:x:p>|!<urn:x:p>)* ?b }",
    "SELECT (COUNT(*) AS ?n) WHERE { ?a (!<urn:x:p>|^!<urn:x:p>)+ ?b . ?b (!<urn:x:p>|^!<urn:x:p>)+ ?c }",
    "SELECT ?a ?b WHERE { ?a ((!<urn:x:p>)*/(^!<urn:x:p>)*)* ?b } ORDER BY ?a",
    "ASK { ?a (!<urn:x:p>|^!<urn:x:p>)* ?b . ?b (!<urn:x:p>|^!<urn:x:p>)* ?c . FILTER(?a = <urn:x:none>) }",
    "CONSTRUCT { ?a <urn:x:q> ?b } WHERE { ?a (!<urn:x:p>|^!<urn:x:p>)* ?b . ?c ?d ?e }",
    "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { { ?x ?p ?o } UNION { ?o ?p ?x } ?x (!<urn:x:p>)* ?y . ?y ?q ?z . ?z ?r ?w }",
];

#[test]
fn every_runaway_query_shape_stops_at_its_deadline() {
    use std::time::Duration;
    let (_dir, store) = store_with(&corpus_records());
    let graph = Graph::load_from(&store).expect("load");
    for query in RUNAWAYS {
        // The test ends only if the query stops: hours of work or an out-of-memory abort would
        // hang or kill it. No upper bound on the time is asserted (the machine may be loaded).
        let started = Instant::now();
        let result = graph::sparql(&graph, query, Duration::from_millis(300), 1_000_000);
        println!("{query}: {result:?} after {:?}, peak RSS {} MiB", started.elapsed(), peak_rss_mib());
        assert!(
            matches!(result, Err(graph::GraphError::Timeout { timeout }) if timeout == Duration::from_millis(300)),
            "{query}: {result:?}"
        );
    }
}

#[test]
fn an_abandoned_query_stops_while_other_reads_and_writes_go_on() {
    use std::time::Duration;
    let (_dir, store) = store_with(&corpus_records());
    let graph = std::sync::Arc::new(Graph::load_from(&store).expect("load"));
    // A deadline far away: only abandoning it can stop this query in the test's lifetime.
    let stop = graph::Stop::after(Duration::from_secs(3600));
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let slow = {
        let (graph, stop) = (std::sync::Arc::clone(&graph), stop.clone());
        std::thread::spawn(move || {
            started_tx.send(()).expect("signal");
            graph::sparql_until(&graph, RUNAWAYS[1], &stop, 10, graph::GraphSyntax::NTriples)
        })
    };
    started_rx.recv().expect("the slow query started");
    // Meanwhile, quick queries and a write go through.
    let (_, body) =
        graph::sparql(&graph, "ASK { ?s a <https://gridkb.invalid/ont#Fault> }", Duration::from_secs(60), 10)
            .expect("ask");
    assert!(String::from_utf8(body).expect("utf-8").contains("true"));
    let applied = graph.apply(&fixture_records()[..3], graph.applied_seq() + 1).expect("write during a long query");
    assert!(applied.thesaurus_changed);
    assert!(!slow.is_finished(), "the runaway query ended by itself");
    stop.abandon();
    let result = slow.join().expect("slow query thread");
    assert!(matches!(result, Err(graph::GraphError::Abandoned)), "{result:?}");
    // A query abandoned before it starts does not run.
    let gone = graph::Stop::after(Duration::from_secs(60));
    gone.abandon();
    let result = graph::sparql_until(&graph, "ASK { ?s ?p ?o }", &gone, 10, graph::GraphSyntax::NTriples);
    assert!(matches!(result, Err(graph::GraphError::Abandoned)), "{result:?}");
}

#[test]
fn a_thesaurus_edit_takes_effect_without_a_restart() {
    let (_dir, store) = store_with(&fixture_records());
    let graph = Graph::load_from(&store).expect("load");
    let shared = graph::SharedLinker::new(Thesaurus::from_graph(&graph).expect("thesaurus").linker());
    let text = "差动保护老是报流变断线";
    assert!(shared.current().link(text).iter().all(|l| l.id != "f-ct-break"));
    let in_flight = shared.current();

    // An editor adds the colloquial alias 流变断线 to the fault.
    let edited = record(
        r#"{"id":"f-ct-break","class":"Fault","label":"CT断线","aliases":["电流回路断线","流变断线"],"links":{"product":["pm-gkb-931a"],"cause":["cause-ct-loose"],"solution":["sol-check-ct"]},"version":2}"#,
    );
    store.upsert(&[edited], "editor").expect("upsert");
    assert!(graph.catch_up(&store, 100).expect("catch up").thesaurus_changed);
    let thesaurus = shared.rebuild_from(&graph).expect("rebuild");

    let links = shared.current().link(text);
    assert!(links.iter().any(|l| l.id == "f-ct-break" && l.matched == "流变断线"), "{links:?}");
    assert!(thesaurus.user_words().contains(&"流变断线".to_owned()), "the jieba dictionary learns it too");
    assert!(
        thesaurus.synonym_groups().iter().any(|g| g.id == "f-ct-break" && g.terms.contains(&"流变断线".to_owned()))
    );
    // A search that started before the swap keeps its linker.
    assert!(in_flight.link(text).iter().all(|l| l.id != "f-ct-break"));
}

#[test]
fn ambiguous_spans_are_narrowed_by_the_other_linked_entities() {
    let mut records = fixture_records();
    records.push(record(
        r#"{"id":"pm-gkr-100","class":"ProductModel","label":"GKR-100 工商业储能变流器","attrs":{"code":"GKR-100"}}"#,
    ));
    records.push(record(
        r#"{"id":"comp-gkr-psu","class":"Component","label":"GKR系列 电源插件","aliases":["电源插件"],"links":{"model":["pm-gkr-100"]}}"#,
    ));
    let (_dir, store) = store_with(&records);
    let graph = Graph::load_from(&store).expect("load");
    let linker = Thesaurus::from_graph(&graph).expect("thesaurus").linker();
    let links = linker.link("GKR-100的电源插件坏了");
    assert_eq!(links.iter().filter(|l| l.matched == "电源插件").count(), 2, "{links:?}");
    let seeds = graph::Seed::from_links_in(&graph, &links).expect("seeds");
    let ids: Vec<(&str, f32)> = seeds.iter().map(|s| (s.id.as_str(), s.weight)).collect();
    assert_eq!(ids, vec![("pm-gkr-100", 1.0), ("comp-gkr-psu", 1.0), ("c-cat-fault-repair", 1.0)]);
    // Without an anchor the ambiguity stays, shared.
    let alone = graph::Seed::from_links_in(&graph, &linker.link("电源插件")).expect("seeds");
    assert_eq!(alone.len(), 2);
    assert!(alone.iter().all(|s| (s.weight - 0.5).abs() < 1e-6));
}

#[test]
fn the_organisation_units_of_a_region_leave_its_customers_out() {
    let records: Vec<Record> = [
        r#"{"id":"org-p01","class":"Organisation","label":"岚东省服务分中心","attrs":{"level":"province","region":"岚东省"}}"#,
        r#"{"id":"org-p01-c01","class":"Organisation","label":"琰宁服务站","links":{"parent":["org-p01"]},"attrs":{"level":"city","region":"岚东省琰宁市"}}"#,
        r#"{"id":"cust-a","class":"Customer","label":"琰宁供电公司","attrs":{"level":"city","region":"岚东省琰宁市"}}"#,
        r#"{"id":"cust-b","class":"Customer","label":"琰宁某医院","attrs":{"level":"city","region":"岚东省琰宁市"}}"#,
    ]
    .into_iter()
    .map(record)
    .collect();
    let (_dir, store) = store_with(&records);
    let graph = Graph::load_from(&store).expect("load");
    let units = graph::organisations_in_region(&graph, "岚东省琰宁市").expect("query");
    let ids: Vec<&str> = units.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["org-p01-c01"], "the customers of the region are not its units");
    assert_eq!(units[0].label, "琰宁服务站");
    assert_eq!(graph::organisations_in_region(&graph, "岚东省").expect("query").len(), 1);
    // A region below every unit, or none at all: no unit (the caller walks up).
    assert!(graph::organisations_in_region(&graph, "岚东省琰宁市石湾区").expect("query").is_empty());
    assert!(graph::organisations_in_region(&graph, " ").expect("query").is_empty());
}
